//! Cost bounds: what a scenario that validates may make a run cost.
//!
//! Each section's own checks (in `validate/`) keep every value in range;
//! the bounds here look at values together, because that is where a run
//! becomes unaffordable: joins add data nodes beyond `cluster.nodes`, a
//! heartbeat interval is cheap for four nodes and ruinous for a thousand,
//! a map of many partitions is copied to every node. Every bound is a
//! `MAX_*`/`MIN_*` constant, named in the error that enforces it and listed
//! in the README ("Limits").
//!
//! With these bounds, the work a run does per second of virtual time is
//! capped independently of the duration, so the duration (itself capped)
//! is what decides how long a run takes.

use std::ops::Range;

use super::error::{ScenarioError, SourceMap};
use super::limits::MAX_NODES;
use super::model::*;
use super::raw::*;
use crate::sim::time::SimDuration;

/// Shortest period of a periodic timer (`timing.heartbeat_interval`,
/// `timing.raft_heartbeat`).
pub const MIN_PERIOD: SimDuration = SimDuration::from_millis(1);
/// Most periodic messages per second of virtual time: data-node heartbeats
/// (every data node, joins included, once per `heartbeat_interval`) plus
/// Raft heartbeats (every manager to every other, once per `raft_heartbeat`).
/// The defaults give 10,000 for a thousand data nodes, which costs about
/// 0.4 s of wall time per second of virtual time, and 50,000 for the
/// 5,000-node cluster of `bench stack` (its cost is in the README).
pub const MAX_PERIODIC_RATE: u64 = 1 << 16;
/// Most partitions times data nodes (joins included): every map change goes
/// to every node, and the more partitions the more changes. Data nodes share
/// the map of each version rather than copying it, so memory no longer
/// grows with this product; the limit leaves room for the 5,000-node,
/// 20,000-partition cluster of `bench stack` (10^8 entries, its cost in the
/// README).
pub const MAX_MAP_ENTRIES: u64 = 1 << 27;
/// Most `impostor` events: each is a process of its own.
pub const MAX_IMPOSTORS: usize = 100;

type R<T> = Result<T, ScenarioError>;

/// Everything the bounds look at, already validated section by section.
pub(crate) struct Parts<'a> {
    pub cluster: &'a Cluster,
    pub grid: &'a Grid,
    pub timing: &'a Timing,
    pub network: &'a Network,
    pub events: &'a [EventSpec],
}

/// Checks the cost bounds; the first one broken is the error.
pub(crate) fn check(raw: &RawScenario, src: &SourceMap<'_>, s: &Parts<'_>) -> R<()> {
    let raw_events = raw.events.as_deref().unwrap_or(&[]);
    let joins = join_order(s.events);
    check_nodes(raw_events, src, s, &joins)?;
    let data_nodes = u64::from(s.cluster.nodes) + joins.len() as u64;
    check_impostors(raw_events, src, s.events)?;
    check_periods(raw, src, s.timing)?;
    check_latency(raw, src, s.timing, s.network)?;
    check_periodic_rate(raw, src, s, data_nodes)?;
    check_map_entries(raw, src, s, data_nodes)
}

/// The indices of the `join` events in the order they fire.
fn join_order(events: &[EventSpec]) -> Vec<usize> {
    let mut joins: Vec<usize> = (0..events.len())
        .filter(|&i| matches!(events[i].action, Action::Join { .. }))
        .collect();
    joins.sort_by_key(|&i| (events[i].at, i));
    joins
}

fn section<T>(value: Option<&Sp<T>>) -> Range<usize> {
    value.map_or(0..0, |v| v.span())
}

/// `cluster.nodes` plus the joins stay within [`MAX_NODES`].
fn check_nodes(
    raw_events: &[Sp<RawEvent>],
    src: &SourceMap<'_>,
    s: &Parts<'_>,
    joins: &[usize],
) -> R<()> {
    let room = MAX_NODES.saturating_sub(s.cluster.nodes) as usize;
    let Some(&i) = joins.get(room) else {
        return Ok(());
    };
    let span = raw_events[i]
        .get_ref()
        .join
        .as_ref()
        .map_or(raw_events[i].span(), |j| j.span());
    Err(src.error(
        span,
        format!("events[{i}].join"),
        format!(
            "this join would make {} data nodes: cluster.nodes ({}) plus the joins may be at most {MAX_NODES} (MAX_NODES)",
            u64::from(s.cluster.nodes) + room as u64 + 1,
            s.cluster.nodes
        ),
    ))
}

fn check_impostors(
    raw_events: &[Sp<RawEvent>],
    src: &SourceMap<'_>,
    events: &[EventSpec],
) -> R<()> {
    let Some(i) = (0..events.len())
        .filter(|&i| matches!(events[i].action, Action::Impostor(_)))
        .nth(MAX_IMPOSTORS)
    else {
        return Ok(());
    };
    let span = raw_events[i]
        .get_ref()
        .impostor
        .as_ref()
        .map_or(raw_events[i].span(), |j| j.span());
    Err(src.error(
        span,
        format!("events[{i}].impostor"),
        format!(
            "more than {MAX_IMPOSTORS} impostors (MAX_IMPOSTORS): each is a process of its own"
        ),
    ))
}

/// Periodic timers fire no more often than [`MIN_PERIOD`].
fn check_periods(raw: &RawScenario, src: &SourceMap<'_>, timing: &Timing) -> R<()> {
    let t = raw.timing.as_ref().map(|t| t.get_ref());
    for (value, written, key, what) in [
        (
            timing.heartbeat_interval,
            t.and_then(|t| t.heartbeat_interval.as_ref()),
            "timing.heartbeat_interval",
            "every data node heartbeats the leader this often",
        ),
        (
            timing.raft_heartbeat,
            t.and_then(|t| t.raft_heartbeat.as_ref()),
            "timing.raft_heartbeat",
            "the Raft leader heartbeats every manager this often",
        ),
    ] {
        if value < MIN_PERIOD {
            return Err(src.error(
                section(written),
                key,
                format!(
                    "{value} is below the minimum of {MIN_PERIOD} (MIN_PERIOD): {what}, and the run would spend its time on heartbeats"
                ),
            ));
        }
    }
    Ok(())
}

/// Timeouts leave room for the messages they wait for.
fn check_latency(
    raw: &RawScenario,
    src: &SourceMap<'_>,
    timing: &Timing,
    network: &Network,
) -> R<()> {
    let t = raw.timing.as_ref().map(|t| t.get_ref());
    let latency_max = network.latency[1];
    let latency_written = raw
        .network
        .as_ref()
        .and_then(|n| n.get_ref().latency.as_ref());
    // Blame the timing key when it was written, else the latency.
    let blame = |written: Option<&Sp<_>>, key: &'static str| match (written, latency_written) {
        (Some(w), _) => (section(Some(w)), key),
        (None, Some(l)) => (l.span(), "network.latency"),
        (None, None) => (0..0, key),
    };
    let heartbeat_room = timing.heartbeat_interval.as_micros() + latency_max.as_micros();
    if timing.suspect_after.as_micros() <= heartbeat_room {
        let (span, key) = blame(
            t.and_then(|t| t.suspect_after.as_ref()),
            "timing.suspect_after",
        );
        return Err(src.error(
            span,
            key,
            format!(
                "suspect_after ({}) must be above heartbeat_interval ({}) plus the maximum latency ({}): otherwise live nodes are suspected between two heartbeats and the cluster churns",
                timing.suspect_after, timing.heartbeat_interval, latency_max
            ),
        ));
    }
    let election_min = timing.election_timeout[0];
    if election_min.as_micros() <= 2 * latency_max.as_micros() {
        let written = t.and_then(|t| t.election_timeout.as_ref());
        let (span, key) = match (written, latency_written) {
            (Some(w), _) => (w.span(), "timing.election_timeout"),
            (None, Some(l)) => (l.span(), "network.latency"),
            (None, None) => (0..0, "timing.election_timeout"),
        };
        return Err(src.error(
            span,
            key,
            format!(
                "the minimum election timeout ({election_min}) must be above twice the maximum latency ({latency_max}): a vote request and its answer must fit in it, or candidates time out forever"
            ),
        ));
    }
    Ok(())
}

/// Heartbeats per second of virtual time stay within [`MAX_PERIODIC_RATE`].
fn check_periodic_rate(
    raw: &RawScenario,
    src: &SourceMap<'_>,
    s: &Parts<'_>,
    data_nodes: u64,
) -> R<()> {
    const SECOND_US: u64 = 1_000_000;
    let managers = u64::from(s.cluster.managers);
    let node_rate = data_nodes * SECOND_US / s.timing.heartbeat_interval.as_micros().max(1);
    let raft_rate = managers * managers.saturating_sub(1) * SECOND_US
        / s.timing.raft_heartbeat.as_micros().max(1);
    let rate = node_rate + raft_rate;
    if rate <= MAX_PERIODIC_RATE {
        return Ok(());
    }
    let t = raw.timing.as_ref().map(|t| t.get_ref());
    let nodes_written = raw
        .cluster
        .as_ref()
        .and_then(|c| c.get_ref().nodes.as_ref());
    let (span, key) = match (
        t.and_then(|t| t.heartbeat_interval.as_ref()),
        t.and_then(|t| t.raft_heartbeat.as_ref()),
    ) {
        (Some(h), _) if node_rate >= raft_rate => (h.span(), "timing.heartbeat_interval"),
        (_, Some(h)) if raft_rate > node_rate => (h.span(), "timing.raft_heartbeat"),
        _ => (section(nodes_written), "cluster.nodes"),
    };
    Err(src.error(
        span,
        key,
        format!(
            "{data_nodes} data node(s) heartbeating every {} and {managers} manager(s) every {} make {rate} heartbeats per second of virtual time, above the limit of {MAX_PERIODIC_RATE} (MAX_PERIODIC_RATE): lengthen the intervals or use fewer nodes",
            s.timing.heartbeat_interval, s.timing.raft_heartbeat
        ),
    ))
}

/// Partitions times data nodes stays within [`MAX_MAP_ENTRIES`].
fn check_map_entries(
    raw: &RawScenario,
    src: &SourceMap<'_>,
    s: &Parts<'_>,
    data_nodes: u64,
) -> R<()> {
    let partitions = s.grid.partition_count();
    let entries = partitions.saturating_mul(data_nodes);
    if entries <= MAX_MAP_ENTRIES {
        return Ok(());
    }
    let grid = raw.grid.as_ref();
    let (span, key) = match grid.and_then(|g| g.get_ref().tile.as_ref()) {
        Some(t) => (t.span(), "grid.tile"),
        None => (section(grid), "grid"),
    };
    Err(src.error(
        span,
        key,
        format!(
            "{partitions} partitions on {data_nodes} data node(s) make {entries} cluster-map entries (every map change reaches every node), above the limit of {MAX_MAP_ENTRIES} (MAX_MAP_ENTRIES): use larger tiles or fewer nodes"
        ),
    ))
}
