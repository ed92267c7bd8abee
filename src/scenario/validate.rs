//! Validation: from the file as written ([`RawScenario`]) to a [`Scenario`]
//! that can run, or the first mistake with its position.
//!
//! Sections are checked in document order (top-level keys, `[cluster]`,
//! `[grid]`, `[placement]`, `[timing]`, `[network]`, `[disk]`,
//! `[workload]`, `[[events]]`, `[random]`, `[expect]`), each after the ones
//! it depends on: targets need the process counts, `primary:P` needs the
//! partition count, every time needs the duration. Absent keys take the
//! defaults of DESIGN §5 (the `Default` impls in `model.rs`).
//!
//! Limits (TIGER_STYLE: a limit on everything) are the `MAX_*` constants
//! below; each rejection says which one was hit.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::cost;
use super::error::{ScenarioError, SourceMap};
use super::model::*;
use super::raw::*;
use super::schedule::RANDOM_WARMUP;
use crate::sim::time::{SimDuration, SimTime};

/// Longest run a scenario may ask for: one week of virtual time.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(7 * 24 * 3600);

/// Why `d` cannot be how long a run lasts, if it cannot: one rule for a
/// scenario's `duration` and for `partsim run --duration`.
pub fn duration_refusal(d: SimDuration) -> Option<String> {
    if d == SimDuration::ZERO {
        Some("must be above zero (e.g. duration = \"60s\")".into())
    } else if d > MAX_DURATION {
        Some(format!("{d} is above the limit of {MAX_DURATION}"))
    } else {
        None
    }
}

/// A clock rate error in parts per million, as the run applies it: clocks
/// have a resolution of 1 ppm.
fn in_ppm(drift: f64) -> f64 {
    (drift * 1e6).round()
}

/// Largest consensus group.
pub const MAX_MANAGERS: u32 = 7;
/// Most data nodes at start: room for the 5,000-node cluster of
/// `bench stack` (a user sizing a real cluster asks about thousands of
/// nodes), with a margin; memory per node is bounded by its own replicas.
pub const MAX_NODES: u32 = 10_000;
/// Most clients.
pub const MAX_CLIENTS: u32 = 1000;
/// Longest grid side, in cells.
pub const MAX_GRID_SIDE: u32 = 1 << 16;
/// Most partitions (tiles). A run's cost grows faster than linearly with
/// them: on three data nodes, 5 s of virtual time took 102 s with 65,536
/// partitions, 4.8 s with 16,384 and 1.1 s with 4,096. The limit leaves
/// room for the 20,000-partition cluster of `bench stack` (a user sizing a
/// real cluster asks about tens of thousands of partitions; its time and
/// memory are in the README).
pub const MAX_PARTITIONS: u64 = 1 << 15;
/// Most `[[events]]` entries.
pub const MAX_EVENTS: usize = 10_000;
/// Highest workload rate, operations per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Most random faults of one kind a `[random]` entry may expect
/// (`(heal_at - warm-up) / every`).
pub const MAX_RANDOM_FAULTS: u64 = 10_000;
/// Longest process id a `join` or `impostor` may introduce.
pub const MAX_ID_LEN: usize = 32;

type R<T> = Result<T, ScenarioError>;

/// The selectors an event may use instead of a process id.
/// The longest a single disk write or fsync may take.
const MAX_DISK_LATENCY: SimDuration = SimDuration::from_secs(1);
const SELECTORS: &str = "leader, primary:P, any-node, any-manager";

/// Builds a scenario from the raw document, applying defaults and every check.
pub(crate) fn build(raw: &RawScenario, src: &SourceMap<'_>) -> R<Scenario> {
    let v = Validator { src };

    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(v.err(n.span(), "name", "must not be empty"));
        }
        Some(n) => n.get_ref().clone(),
        None => {
            return Err(v.err(
                0..0,
                "name",
                "missing required key `name` (e.g. name = \"node-crash\")",
            ));
        }
    };
    let description = raw
        .description
        .as_ref()
        .map(|d| d.get_ref().clone())
        .unwrap_or_default();
    let seed = raw.seed.as_ref().map_or(0, |s| s.get_ref().0);
    let duration = match &raw.duration {
        Some(d) => {
            let value = *d.get_ref();
            if let Some(why) = duration_refusal(value) {
                return Err(v.err(d.span(), "duration", why));
            }
            value
        }
        None => {
            return Err(v.err(
                0..0,
                "duration",
                "missing required key `duration` (e.g. duration = \"60s\")",
            ));
        }
    };
    let end = SimTime::ZERO + duration;

    let cluster = v.cluster(raw.cluster.as_ref())?;
    let grid = v.grid(raw.grid.as_ref(), raw.cluster.as_ref(), &cluster)?;
    let placement = v.placement(raw.placement.as_ref())?;
    let timing = v.timing(raw.timing.as_ref())?;
    let network = v.network(raw.network.as_ref())?;
    let disk = v.disk(raw.disk.as_ref())?;
    let workload = match &raw.workload {
        Some(w) => Some(v.workload(w, &cluster, end)?),
        None => None,
    };
    let events = v.events(raw.events.as_deref().unwrap_or(&[]), &cluster, &grid, end)?;
    let random = match &raw.random {
        Some(r) => Some(v.random(r, end)?),
        None => None,
    };
    let expect = v.expect(raw.expect.as_ref(), end)?;
    let parts = cost::Parts {
        cluster: &cluster,
        grid: &grid,
        timing: &timing,
        network: &network,
        events: &events,
    };
    cost::check(raw, src, &parts)?;

    Ok(Scenario {
        name,
        description,
        seed,
        duration,
        cluster,
        grid,
        placement,
        timing,
        network,
        disk,
        workload,
        events,
        random,
        expect,
    })
}

/// The span of an optional value, or `fallback` when it is absent.
fn span_or<T>(value: &Option<Sp<T>>, fallback: Range<usize>) -> Range<usize> {
    value.as_ref().map_or(fallback, |v| v.span())
}

fn header<T>(section: Option<&Sp<T>>) -> Range<usize> {
    section.map_or(0..0, |s| s.span())
}

/// A plain process id a `join` or `impostor` may introduce.
fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(s, "leader" | "any-node" | "any-manager")
}

struct Validator<'s, 'a> {
    src: &'s SourceMap<'a>,
}

impl Validator<'_, '_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.src.error(span, key, message)
    }

    /// A probability in [0, 1].
    fn probability(&self, value: &Sp<f64>, key: &str) -> R<f64> {
        let p = *value.get_ref();
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(
                value.span(),
                key,
                format!("expected a probability between 0 and 1, got {p}"),
            ))
        }
    }

    /// A `[min, max]` duration range with min <= max.
    fn range(&self, value: &Sp<Pair<SimDuration>>, key: &str) -> R<[SimDuration; 2]> {
        let [lo, hi] = value.get_ref().0;
        if lo > hi {
            return Err(self.err(
                value.span(),
                key,
                format!("expected [min, max] with min <= max, got [{lo}, {hi}]"),
            ));
        }
        Ok([lo, hi])
    }

    /// A duration above zero.
    fn positive(&self, value: &Sp<SimDuration>, key: &str) -> R<SimDuration> {
        let d = *value.get_ref();
        if d == SimDuration::ZERO {
            return Err(self.err(value.span(), key, "must be above zero"));
        }
        Ok(d)
    }

    /// An instant no later than the end of the run.
    fn time(&self, value: &Sp<SimDuration>, key: &str, end: SimTime) -> R<SimTime> {
        let t = SimTime::ZERO + *value.get_ref();
        if t > end {
            return Err(self.err(
                value.span(),
                key,
                format!(
                    "{t} is past the scenario's duration ({})",
                    end.saturating_since(SimTime::ZERO)
                ),
            ));
        }
        Ok(t)
    }

    fn cluster(&self, raw: Option<&Sp<RawCluster>>) -> R<Cluster> {
        let mut cluster = Cluster::default();
        let Some(raw) = raw else { return Ok(cluster) };
        let c = raw.get_ref();
        if let Some(m) = &c.managers {
            let n = *m.get_ref();
            if n == 0 || n > MAX_MANAGERS {
                return Err(self.err(
                    m.span(),
                    "cluster.managers",
                    format!("expected 1 to {MAX_MANAGERS} managers (usually 1, 3 or 5), got {n}"),
                ));
            }
            cluster.managers = n;
        }
        if let Some(n) = &c.nodes {
            let count = *n.get_ref();
            if count == 0 || count > MAX_NODES {
                return Err(self.err(
                    n.span(),
                    "cluster.nodes",
                    format!("expected 1 to {MAX_NODES} data nodes, got {count}"),
                ));
            }
            cluster.nodes = count;
        }
        if let Some(n) = &c.clients {
            let count = *n.get_ref();
            if count > MAX_CLIENTS {
                return Err(self.err(
                    n.span(),
                    "cluster.clients",
                    format!("expected at most {MAX_CLIENTS} clients, got {count}"),
                ));
            }
            cluster.clients = count;
        }
        if let Some(zones) = &c.zones {
            if zones.get_ref().is_empty() {
                return Err(self.err(
                    zones.span(),
                    "cluster.zones",
                    "expected at least one zone, e.g. zones = [\"a\"]",
                ));
            }
            let mut seen = BTreeSet::new();
            let mut list = Vec::new();
            for (i, zone) in zones.get_ref().iter().enumerate() {
                let key = format!("cluster.zones[{i}]");
                let z = zone.get_ref();
                if z.trim().is_empty() {
                    return Err(self.err(zone.span(), key, "a zone name must not be empty"));
                }
                if !seen.insert(z.clone()) {
                    return Err(self.err(zone.span(), key, format!("zone {z:?} is listed twice")));
                }
                list.push(z.clone());
            }
            cluster.zones = list;
        }
        if let Some(k) = &c.cluster_key {
            if k.get_ref().is_empty() {
                return Err(self.err(k.span(), "cluster.cluster_key", "must not be empty"));
            }
            cluster.cluster_key = k.get_ref().clone();
        }
        if let Some(k) = &c.stack {
            cluster.stack = match k.get_ref().as_str() {
                "partsim" => StackKind::Partsim,
                "demo" => StackKind::Demo,
                other => {
                    return Err(self.err(
                        k.span(),
                        "cluster.stack",
                        format!("unknown stack {other:?}: expected \"partsim\" (the default) or \"demo\""),
                    ));
                }
            };
        }
        Ok(cluster)
    }

    fn grid(
        &self,
        raw: Option<&Sp<RawGrid>>,
        raw_cluster: Option<&Sp<RawCluster>>,
        cluster: &Cluster,
    ) -> R<Grid> {
        let mut grid = Grid::default();
        let section = header(raw);
        let empty = RawGrid {
            width: None,
            height: None,
            tile: None,
            replication_factor: None,
        };
        let g = raw.map_or(&empty, |r| r.get_ref());
        for (value, key, slot) in [
            (&g.width, "grid.width", &mut grid.width),
            (&g.height, "grid.height", &mut grid.height),
        ] {
            if let Some(v) = value {
                let n = *v.get_ref();
                if n == 0 || n > MAX_GRID_SIDE {
                    return Err(self.err(
                        v.span(),
                        key,
                        format!("expected 1 to {MAX_GRID_SIDE} cells, got {n}"),
                    ));
                }
                *slot = n;
            }
        }
        if let Some(t) = &g.tile {
            let [tw, th] = t.get_ref().0;
            if tw == 0 || th == 0 {
                return Err(self.err(
                    t.span(),
                    "grid.tile",
                    format!("tile sides must be at least 1, got [{tw}, {th}]"),
                ));
            }
            grid.tile = [tw, th];
        }
        let [tw, th] = grid.tile;
        let (w, h) = (grid.width, grid.height);
        if w % tw != 0 || h % th != 0 {
            // Blame the tile if it was written, else the side that does not fit.
            let (span, key) = match (&g.tile, w % tw != 0) {
                (Some(t), _) => (t.span(), "grid.tile"),
                (None, true) => (span_or(&g.width, section.clone()), "grid.width"),
                (None, false) => (span_or(&g.height, section.clone()), "grid.height"),
            };
            return Err(self.err(
                span,
                key,
                format!("tiles of {tw}x{th} do not divide the {w}x{h} grid (width and height must be multiples of the tile sides)"),
            ));
        }
        if grid.partition_count() > MAX_PARTITIONS {
            return Err(self.err(
                span_or(&g.tile, section.clone()),
                if g.tile.is_some() {
                    "grid.tile"
                } else {
                    "grid"
                },
                format!(
                    "{} partitions is above the limit of {MAX_PARTITIONS} (MAX_PARTITIONS): use larger tiles",
                    grid.partition_count()
                ),
            ));
        }
        let nodes_span = raw_cluster
            .and_then(|c| c.get_ref().nodes.as_ref())
            .map(|n| n.span());
        if let Some(rf) = &g.replication_factor {
            grid.replication_factor = *rf.get_ref();
            if grid.replication_factor == 0 {
                return Err(self.err(rf.span(), "grid.replication_factor", "must be at least 1"));
            }
        }
        if grid.replication_factor > cluster.nodes {
            let message = format!(
                "replication factor {} is above the node count {}: a partition cannot have two replicas on one node",
                grid.replication_factor, cluster.nodes
            );
            return Err(match (&g.replication_factor, nodes_span) {
                (Some(rf), _) => self.err(rf.span(), "grid.replication_factor", message),
                (None, Some(span)) => self.err(
                    span,
                    "cluster.nodes",
                    message + " (the default replication factor is 3)",
                ),
                (None, None) => self.err(section, "grid.replication_factor", message),
            });
        }
        Ok(grid)
    }

    fn placement(&self, raw: Option<&Sp<RawPlacement>>) -> R<Placement> {
        let mut placement = Placement::default();
        let Some(raw) = raw else { return Ok(placement) };
        let p = raw.get_ref();
        if let Some(policy) = &p.policy {
            placement.policy = match policy.get_ref().as_str() {
                "rendezvous-bounded" => PlacementPolicyName::RendezvousBounded,
                "least-loaded" => PlacementPolicyName::LeastLoaded,
                other => {
                    return Err(self.err(
                        policy.span(),
                        "placement.policy",
                        format!(
                            "unknown placement policy {other:?}: expected \"rendezvous-bounded\" or \"least-loaded\""
                        ),
                    ));
                }
            };
        }
        if let Some(m) = &p.max_imbalance {
            let x = *m.get_ref();
            if !(x.is_finite() && (0.0..=100.0).contains(&x)) {
                return Err(self.err(
                    m.span(),
                    "placement.max_imbalance",
                    format!("expected a number from 0 to 100, got {x}"),
                ));
            }
            placement.max_imbalance = x;
        }
        if let Some(m) = &p.max_concurrent_moves {
            let n = *m.get_ref();
            if n == 0 || n > 10_000 {
                return Err(self.err(
                    m.span(),
                    "placement.max_concurrent_moves",
                    format!("expected 1 to 10000, got {n}"),
                ));
            }
            placement.max_concurrent_moves = n;
        }
        Ok(placement)
    }

    fn timing(&self, raw: Option<&Sp<RawTiming>>) -> R<Timing> {
        let mut timing = Timing::default();
        let Some(raw) = raw else { return Ok(timing) };
        let t = raw.get_ref();
        for (value, key, slot) in [
            (
                &t.heartbeat_interval,
                "timing.heartbeat_interval",
                &mut timing.heartbeat_interval,
            ),
            (
                &t.suspect_after,
                "timing.suspect_after",
                &mut timing.suspect_after,
            ),
            (&t.dead_after, "timing.dead_after", &mut timing.dead_after),
            (
                &t.raft_heartbeat,
                "timing.raft_heartbeat",
                &mut timing.raft_heartbeat,
            ),
        ] {
            if let Some(v) = value {
                *slot = self.positive(v, key)?;
            }
        }
        if let Some(e) = &t.election_timeout {
            let [lo, hi] = self.range(e, "timing.election_timeout")?;
            if lo == SimDuration::ZERO {
                return Err(self.err(
                    e.span(),
                    "timing.election_timeout",
                    "the minimum must be above zero",
                ));
            }
            timing.election_timeout = [lo, hi];
        }
        if timing.raft_heartbeat.as_micros() * 2 > timing.election_timeout[0].as_micros() {
            let (span, key) = match (&t.raft_heartbeat, &t.election_timeout) {
                (Some(h), _) => (h.span(), "timing.raft_heartbeat"),
                (None, Some(e)) => (e.span(), "timing.election_timeout"),
                (None, None) => (raw.span(), "timing"),
            };
            return Err(self.err(
                span,
                key,
                format!(
                    "raft_heartbeat ({}) must be at most half the minimum election timeout ({}): followers would call elections between heartbeats",
                    timing.raft_heartbeat, timing.election_timeout[0]
                ),
            ));
        }
        if timing.dead_after < timing.suspect_after {
            let (span, key) = match (&t.dead_after, &t.suspect_after) {
                (Some(d), _) => (d.span(), "timing.dead_after"),
                (None, Some(s)) => (s.span(), "timing.suspect_after"),
                (None, None) => (raw.span(), "timing"),
            };
            return Err(self.err(
                span,
                key,
                format!(
                    "dead_after ({}) must be at least suspect_after ({}): a node is suspected before it is declared dead",
                    timing.dead_after, timing.suspect_after
                ),
            ));
        }
        Ok(timing)
    }

    fn disk(&self, raw: Option<&Sp<RawDisk>>) -> R<DiskConfig> {
        let mut disk = DiskConfig::default();
        let Some(raw) = raw else { return Ok(disk) };
        let d = raw.get_ref();
        disk.torn_writes = d.torn_writes.as_ref().is_some_and(|t| *t.get_ref());
        for (value, key, slot) in [
            (&d.corruption, "disk.corruption", &mut disk.corruption),
            (&d.misdirected, "disk.misdirected", &mut disk.misdirected),
        ] {
            if let Some(v) = value {
                *slot = self.probability(v, key)?;
            }
        }
        if let Some(l) = &d.latency {
            disk.latency = self.range(l, "disk.latency")?;
            if disk.latency[1] > MAX_DISK_LATENCY {
                return Err(self.err(
                    l.span(),
                    "disk.latency",
                    format!(
                        "expected a latency of at most {MAX_DISK_LATENCY} per write or fsync, got {}",
                        disk.latency[1]
                    ),
                ));
            }
        }
        Ok(disk)
    }

    fn network(&self, raw: Option<&Sp<RawNetwork>>) -> R<Network> {
        let mut network = Network::default();
        let Some(raw) = raw else { return Ok(network) };
        let n = raw.get_ref();
        if let Some(l) = &n.latency {
            network.latency = self.range(l, "network.latency")?;
        }
        for (value, key, slot) in [
            (&n.drop, "network.drop", &mut network.drop),
            (&n.duplicate, "network.duplicate", &mut network.duplicate),
            (&n.reorder, "network.reorder", &mut network.reorder),
        ] {
            if let Some(v) = value {
                *slot = self.probability(v, key)?;
            }
        }
        if let Some(p) = &n.pause_messages {
            network.pause_messages = match p.get_ref().as_str() {
                "delay" => PauseMode::Delay,
                "drop" => PauseMode::Drop,
                other => {
                    return Err(self.err(
                        p.span(),
                        "network.pause_messages",
                        format!("expected \"delay\" or \"drop\", got {other:?}"),
                    ));
                }
            };
        }
        Ok(network)
    }

    fn workload(&self, raw: &Sp<RawWorkload>, cluster: &Cluster, end: SimTime) -> R<Workload> {
        let w = raw.get_ref();
        if cluster.clients == 0 {
            return Err(self.err(
                raw.span(),
                "workload",
                "a workload needs clients: set cluster.clients to at least 1, or remove [workload]",
            ));
        }
        let rate = match &w.rate {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && x > 0.0 && x <= MAX_RATE) {
                    return Err(self.err(
                        r.span(),
                        "workload.rate",
                        format!(
                            "expected operations per second above 0 and at most {MAX_RATE}, got {x}"
                        ),
                    ));
                }
                x
            }
            None => {
                return Err(self.err(
                    raw.span(),
                    "workload.rate",
                    "missing required key `rate` (operations per second over all clients, e.g. rate = 200)",
                ));
            }
        };
        let read_ratio = match &w.read_ratio {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                    return Err(self.err(
                        r.span(),
                        "workload.read_ratio",
                        format!("expected a fraction between 0 and 1, got {x}"),
                    ));
                }
                x
            }
            None => 0.5,
        };
        let keys = match &w.keys {
            Some(k) => parse_keys(k.get_ref()).ok_or_else(|| {
                self.err(
                    k.span(),
                    "workload.keys",
                    format!("expected \"uniform\" or \"zipf:S\" with S > 0 (e.g. \"zipf:1.1\"), got {:?}", k.get_ref()),
                )
            })?,
            None => KeyDist::Uniform,
        };
        let start = match &w.start {
            Some(s) => self.time(s, "workload.start", end)?,
            None => {
                let t = SimTime::ZERO + SimDuration::from_secs(1);
                if t > end {
                    return Err(self.err(
                        raw.span(),
                        "workload.start",
                        "the default start (1s) is past the scenario's duration: set `start`",
                    ));
                }
                t
            }
        };
        let stop = match &w.stop {
            Some(s) => self.time(s, "workload.stop", end)?,
            None => end,
        };
        if stop <= start {
            let span = span_or(&w.stop, raw.span());
            return Err(self.err(
                span,
                "workload.stop",
                format!("stop ({stop}) must be after start ({start})"),
            ));
        }
        let cas_ratio = match &w.cas_ratio {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && (0.0..=1.0).contains(&x) && x + read_ratio <= 1.0 + 1e-9) {
                    return Err(self.err(
                        r.span(),
                        "workload.cas_ratio",
                        format!(
                            "expected a fraction between 0 and 1 that leaves read_ratio + cas_ratio at most 1, got {x} (read_ratio = {read_ratio})"
                        ),
                    ));
                }
                x
            }
            None => 0.0,
        };
        let timeout = match &w.timeout {
            Some(d) => {
                let x = *d.get_ref();
                if x.as_micros() == 0 || x > SimDuration::from_secs(3600) {
                    return Err(self.err(
                        d.span(),
                        "workload.timeout",
                        format!("expected a duration above 0 and at most 1h, got {x}"),
                    ));
                }
                x
            }
            None => SimDuration::from_secs(1),
        };
        Ok(Workload {
            rate,
            read_ratio,
            keys,
            start,
            stop,
            cas_ratio,
            timeout,
        })
    }

    fn events(
        &self,
        raw: &[Sp<RawEvent>],
        cluster: &Cluster,
        grid: &Grid,
        end: SimTime,
    ) -> R<Vec<EventSpec>> {
        if let Some(extra) = raw.get(MAX_EVENTS) {
            return Err(self.err(
                extra.span(),
                format!("events[{MAX_EVENTS}]"),
                format!("more than {MAX_EVENTS} events"),
            ));
        }
        // Ids that joins and impostors introduce may be named by any event.
        let mut known: BTreeSet<String> = BTreeSet::new();
        let mut data_nodes: BTreeSet<String> = cluster.node_ids().into_iter().collect();
        let mut managers: BTreeSet<String> = cluster.manager_ids().into_iter().collect();
        known.extend(cluster.manager_ids());
        known.extend(cluster.node_ids());
        known.extend(cluster.client_ids());
        let initial = known.clone();
        let mut later = Vec::new();
        for e in raw {
            for id in [
                &e.get_ref().join,
                &e.get_ref().impostor,
                &e.get_ref().add_manager,
            ]
            .into_iter()
            .flatten()
            {
                if is_plain_id(id.get_ref()) && !initial.contains(id.get_ref()) {
                    later.push(id.get_ref().clone());
                }
            }
            if let Some(id) = &e.get_ref().join {
                data_nodes.insert(id.get_ref().clone());
            }
            if let Some(id) = &e.get_ref().add_manager {
                managers.insert(id.get_ref().clone());
            }
        }
        let names = Names {
            initial: &initial,
            later: &later,
            data_nodes: &data_nodes,
            managers: &managers,
            cluster,
            partitions: grid.partition_count(),
        };
        let mut events = Vec::with_capacity(raw.len());
        for (i, e) in raw.iter().enumerate() {
            events.push(self.event(i, e, &names, end)?);
        }
        self.check_introductions(raw, &events, cluster)?;
        self.check_overlaps(raw, &events)?;
        Ok(events)
    }

    /// Two windows of one fault on one process must not overlap: the first
    /// one's end would end the second early (n1 crashed 2–3 s and 2.5–3.5 s
    /// would restart at 3 s). Selectors resolve at run time and are not
    /// compared here.
    fn check_overlaps(&self, raw: &[Sp<RawEvent>], events: &[EventSpec]) -> R<()> {
        let window = |e: &EventSpec| -> Option<(&'static str, String, SimTime, SimTime)> {
            let until = e.until?;
            let (kind, target) = match &e.action {
                Action::Crash(t) => ("crash", t),
                Action::Pause(t) => ("pause", t),
                Action::Isolate(t) => ("isolate", t),
                Action::DiskLoss(t) => ("disk_loss", t),
                Action::Clock { target, .. } => ("clock", target),
                _ => return None,
            };
            Some((kind, target.as_id()?.to_string(), e.at, until))
        };
        // Sorted by (kind, process, start): overlaps are neighbours.
        let mut windows: Vec<(&'static str, String, SimTime, SimTime, usize)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| window(e).map(|(k, p, a, u)| (k, p, a, u, i)))
            .collect();
        windows.sort();
        for pair in windows.windows(2) {
            let ((k1, p1, a1, u1, i1), (k2, p2, a2, _, i2)) = (&pair[0], &pair[1]);
            if k1 == k2 && p1 == p2 && a2 < u1 {
                let j = (*i1).max(*i2);
                let first = (*i1).min(*i2);
                let e = raw[j].get_ref();
                let span = match *k1 {
                    "crash" => e.crash.as_ref().map(Sp::span),
                    "pause" => e.pause.as_ref().map(Sp::span),
                    "isolate" => e.isolate.as_ref().map(Sp::span),
                    "disk_loss" => e.disk_loss.as_ref().map(Sp::span),
                    _ => e.clock.as_ref().map(Sp::span),
                };
                return Err(self.err(
                    span.unwrap_or_else(|| raw[j].span()),
                    format!("events[{j}].{k1}"),
                    format!(
                        "{k1} of {p1} overlaps events[{first}] ({k1} of {p1} from {} until {}): windows of one fault on one process may not overlap, since the first to end would end both; merge them or make them disjoint",
                        a1,
                        u1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Joins name the next data-node ids in time order; joins and impostors
    /// never reuse an id.
    fn check_introductions(
        &self,
        raw: &[Sp<RawEvent>],
        events: &[EventSpec],
        cluster: &Cluster,
    ) -> R<()> {
        let mut joins: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i].action, Action::Join { .. }))
            .collect();
        joins.sort_by_key(|&i| (events[i].at, i));
        let mut introduced: BTreeMap<String, usize> = BTreeMap::new();
        for (k, &i) in joins.iter().enumerate() {
            let Action::Join { id, .. } = &events[i].action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .join
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            let key = format!("events[{i}].join");
            let expected = format!("n{}", u64::from(cluster.nodes) + k as u64 + 1);
            if let Some(j) = introduced.get(id) {
                return Err(self.err(
                    span,
                    key,
                    format!("{id:?} already joins in events[{j}]; the next new data node is {expected:?}"),
                ));
            }
            if *id != expected {
                return Err(self.err(
                    span,
                    key,
                    format!(
                        "a join names the next data-node id: expected {expected:?} ({} nodes at start, {k} earlier join(s)), got {id:?}",
                        cluster.nodes
                    ),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        let mut adds: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i].action, Action::AddManager(_)))
            .collect();
        adds.sort_by_key(|&i| (events[i].at, i));
        for (k, &i) in adds.iter().enumerate() {
            let Action::AddManager(id) = &events[i].action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .add_manager
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            let expected = format!("m{}", u64::from(cluster.managers) + k as u64 + 1);
            if *id != expected {
                return Err(self.err(
                    span,
                    format!("events[{i}].add_manager"),
                    format!(
                        "add_manager names the next manager id: expected {expected:?} ({} managers at start, {k} earlier add_manager(s)), got {id:?}",
                        cluster.managers
                    ),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        for (i, event) in events.iter().enumerate() {
            let Action::Impostor(id) = &event.action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .impostor
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            if let Some(j) = introduced.get(id) {
                return Err(self.err(
                    span,
                    format!("events[{i}].impostor"),
                    format!("{id:?} is already introduced by events[{j}]: an impostor needs an id of its own"),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        Ok(())
    }

    fn event(&self, i: usize, raw: &Sp<RawEvent>, names: &Names<'_>, end: SimTime) -> R<EventSpec> {
        let e = raw.get_ref();
        let key = |k: &str| format!("events[{i}].{k}");
        let at = match &e.at {
            Some(a) => self.time(a, &key("at"), end)?,
            None => {
                return Err(self.err(
                    raw.span(),
                    key("at"),
                    "missing required key `at`: when the event fires (e.g. at = \"10s\")",
                ));
            }
        };

        let mut present: Vec<(&'static str, Range<usize>)> = Vec::new();
        let mut note = |name: &'static str, span: Option<Range<usize>>| {
            if let Some(s) = span {
                present.push((name, s));
            }
        };
        note("crash", e.crash.as_ref().map(Sp::span));
        note("restart", e.restart.as_ref().map(Sp::span));
        note("pause", e.pause.as_ref().map(Sp::span));
        note("partition", e.partition.as_ref().map(Sp::span));
        note("one_way", e.one_way.as_ref().map(Sp::span));
        note("isolate", e.isolate.as_ref().map(Sp::span));
        note("link", e.link.as_ref().map(Sp::span));
        note("clock", e.clock.as_ref().map(Sp::span));
        note("disk_loss", e.disk_loss.as_ref().map(Sp::span));
        note("corrupt", e.corrupt.as_ref().map(Sp::span));
        note("heal", e.heal.as_ref().map(Sp::span));
        note("join", e.join.as_ref().map(Sp::span));
        note("leave", e.leave.as_ref().map(Sp::span));
        note("impostor", e.impostor.as_ref().map(Sp::span));
        note("add_manager", e.add_manager.as_ref().map(Sp::span));
        note("remove_manager", e.remove_manager.as_ref().map(Sp::span));
        present.sort_by_key(|(_, span)| span.start);
        match present.as_slice() {
            [] => {
                return Err(self.err(
                    raw.span(),
                    format!("events[{i}]"),
                    "expected exactly one action: crash, restart, pause, partition, one_way, isolate, link, clock, disk_loss, corrupt, heal, join, leave, impostor, add_manager or remove_manager",
                ));
            }
            [_] => {}
            [(first, _), (second, span), ..] => {
                return Err(self.err(
                    span.clone(),
                    key(second),
                    format!("an event has exactly one action, and this one already has `{first}`: use another [[events]] entry"),
                ));
            }
        }
        let kind = present[0].0;

        // Modifiers that belong to one action only.
        for (value_span, name, owner) in [
            (e.offset.as_ref().map(Sp::span), "offset", "clock"),
            (e.drift.as_ref().map(Sp::span), "drift", "clock"),
            (e.zone.as_ref().map(Sp::span), "zone", "join"),
            (e.capacity.as_ref().map(Sp::span), "capacity", "join"),
        ] {
            if let Some(span) = value_span
                && kind != owner
            {
                return Err(self.err(
                    span,
                    key(name),
                    format!("`{name}` goes with a `{owner}` action, and this event is a `{kind}`"),
                ));
            }
        }

        let action = self.action(i, e, raw.span(), names)?;

        let until = match &e.until {
            Some(u) => {
                if !action.accepts_until() {
                    return Err(self.err(
                        u.span(),
                        key("until"),
                        format!("`{kind}` cannot have `until`: only crash, pause, disk_loss, partition, one_way, isolate, link and clock end"),
                    ));
                }
                let t = self.time(u, &key("until"), end)?;
                if t <= at {
                    return Err(self.err(
                        u.span(),
                        key("until"),
                        format!("until ({t}) must be after at ({at})"),
                    ));
                }
                Some(t)
            }
            None if kind == "pause" => {
                return Err(self.err(
                    raw.span(),
                    key("until"),
                    "a pause needs `until`: when the process resumes (e.g. until = \"12s\")",
                ));
            }
            None => None,
        };
        Ok(EventSpec {
            at,
            until,
            action,
            line: self.src.line(raw.span().start),
        })
    }

    fn action(&self, i: usize, e: &RawEvent, entry: Range<usize>, names: &Names<'_>) -> R<Action> {
        let key = |k: &str| format!("events[{i}].{k}");
        if let Some(t) = &e.crash {
            return Ok(Action::Crash(self.target(
                t,
                &key("crash"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.restart {
            return Ok(Action::Restart(self.target(
                t,
                &key("restart"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.pause {
            return Ok(Action::Pause(self.target(
                t,
                &key("pause"),
                names,
                false,
            )?));
        }
        if let Some(groups) = &e.partition {
            return self.partition(groups, &key("partition"), names);
        }
        if let Some(ow) = &e.one_way {
            let o = ow.get_ref();
            let k = key("one_way");
            let from = o.from.as_ref().ok_or_else(|| {
                self.err(
                    ow.span(),
                    format!("{k}.from"),
                    "missing `from`: the sending side",
                )
            })?;
            let to = o.to.as_ref().ok_or_else(|| {
                self.err(
                    ow.span(),
                    format!("{k}.to"),
                    "missing `to`: the receiving side",
                )
            })?;
            let from_t = self.target(from, &format!("{k}.from"), names, true)?;
            let to_t = self.target(to, &format!("{k}.to"), names, true)?;
            if from_t == to_t {
                return Err(self.err(
                    to.span(),
                    format!("{k}.to"),
                    format!("`from` and `to` are both {from_t}: expected two different sides"),
                ));
            }
            return Ok(Action::OneWay {
                from: from_t,
                to: to_t,
            });
        }
        if let Some(t) = &e.isolate {
            return Ok(Action::Isolate(self.target(
                t,
                &key("isolate"),
                names,
                false,
            )?));
        }
        if let Some(link) = &e.link {
            return self.link(link, &key("link"), names);
        }
        if let Some(t) = &e.clock {
            let target = self.target(t, &key("clock"), names, false)?;
            if e.offset.is_none() && e.drift.is_none() {
                return Err(self.err(
                    entry,
                    key("offset"),
                    "a clock event needs `offset` (e.g. \"-2s\") and/or `drift` (e.g. 0.1)",
                ));
            }
            let offset_us = e.offset.as_ref().map_or(0, |o| o.get_ref().0);
            let drift = match &e.drift {
                Some(d) => {
                    let x = *d.get_ref();
                    // At the clock's resolution of 1 ppm: a drift that rounds
                    // to -1 would stop the clock (local time never advances).
                    if !(x.is_finite() && in_ppm(x) > -1e6 && x <= 10.0) {
                        return Err(self.err(
                            d.span(),
                            key("drift"),
                            format!("expected a rate error above -1 (at 1 ppm resolution: at least -0.999999) and at most 10 (0.1 = 10% fast), got {x}"),
                        ));
                    }
                    x
                }
                None => 0.0,
            };
            return Ok(Action::Clock {
                target,
                offset_us,
                drift,
            });
        }
        if let Some(t) = &e.disk_loss {
            return Ok(Action::DiskLoss(self.target(
                t,
                &key("disk_loss"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.corrupt {
            let target = self.target(t, &key("corrupt"), names, false)?;
            let node = match &target {
                Target::Id(s) => s.starts_with('n'),
                Target::AnyNode | Target::Primary(_) => true,
                _ => false,
            };
            if !node {
                return Err(self.err(
                    t.span(),
                    key("corrupt"),
                    format!(
                        "corrupt damages a data node's disk: expected a data node (n1, …), \"any-node\" or \"primary:P\", got {:?}",
                        t.get_ref()
                    ),
                ));
            }
            return Ok(Action::Corrupt(target));
        }
        if let Some(h) = &e.heal {
            if !*h.get_ref() {
                return Err(self.err(
                    h.span(),
                    key("heal"),
                    "expected `heal = true` (every network fault ends)",
                ));
            }
            return Ok(Action::Heal);
        }
        if let Some(j) = &e.join {
            let id = j.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    j.span(),
                    key("join"),
                    format!("{id:?} already exists: a join names a new data node"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    j.span(),
                    key("join"),
                    format!("expected a new data-node id such as \"n7\", got {id:?}"),
                ));
            }
            let zone = match &e.zone {
                Some(z) => {
                    if !names.cluster.zones.contains(z.get_ref()) {
                        return Err(self.err(
                            z.span(),
                            key("zone"),
                            format!(
                                "unknown zone {:?}: cluster.zones is {:?}",
                                z.get_ref(),
                                names.cluster.zones
                            ),
                        ));
                    }
                    Some(z.get_ref().clone())
                }
                None => None,
            };
            let capacity = match &e.capacity {
                Some(c) if *c.get_ref() == 0 => {
                    return Err(self.err(c.span(), key("capacity"), "must be at least 1"));
                }
                Some(c) => Some(*c.get_ref()),
                None => None,
            };
            return Ok(Action::Join {
                id: id.clone(),
                zone,
                capacity,
            });
        }
        if let Some(t) = &e.leave {
            let target = self.target(t, &key("leave"), names, false)?;
            let is_node = match &target {
                Target::Id(id) => names.data_nodes.contains(id),
                Target::AnyNode | Target::Primary(_) => true,
                Target::Leader | Target::AnyManager => false,
            };
            if !is_node {
                return Err(self.err(
                    t.span(),
                    key("leave"),
                    format!(
                        "`leave` decommissions a data node: expected a node id, any-node or primary:P, got {target}"
                    ),
                ));
            }
            return Ok(Action::Leave(target));
        }
        if let Some(imp) = &e.impostor {
            let id = imp.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    imp.span(),
                    key("impostor"),
                    format!("{id:?} already exists: an impostor needs an id of its own"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    imp.span(),
                    key("impostor"),
                    format!("expected a new process id (letters, digits, '-' or '_', e.g. \"n9\"), got {id:?}"),
                ));
            }
            return Ok(Action::Impostor(id.clone()));
        }
        if let Some(m) = &e.add_manager {
            let id = m.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    m.span(),
                    key("add_manager"),
                    format!("{id:?} already exists: add_manager names a new manager"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    m.span(),
                    key("add_manager"),
                    format!("expected a new manager id such as \"m4\", got {id:?}"),
                ));
            }
            return Ok(Action::AddManager(id.clone()));
        }
        if let Some(t) = &e.remove_manager {
            let target = self.target(t, &key("remove_manager"), names, false)?;
            let is_manager = match &target {
                Target::Id(id) => names.managers.contains(id),
                Target::Leader | Target::AnyManager => true,
                Target::AnyNode | Target::Primary(_) => false,
            };
            if !is_manager {
                return Err(self.err(
                    t.span(),
                    key("remove_manager"),
                    format!(
                        "`remove_manager` drops a manager from the Raft group: expected a manager id, leader or any-manager, got {target}"
                    ),
                ));
            }
            return Ok(Action::RemoveManager(target));
        }
        // `event` counted exactly one action before calling here.
        Err(self.err(entry, format!("events[{i}]"), "expected exactly one action"))
    }

    /// A process or selector; `"*"` only where `star` allows it.
    fn target(&self, value: &Sp<String>, key: &str, names: &Names<'_>, star: bool) -> R<Target> {
        let s = value.get_ref().as_str();
        match s {
            "leader" => return Ok(Target::Leader),
            "any-node" => return Ok(Target::AnyNode),
            "any-manager" => return Ok(Target::AnyManager),
            "*" if star => return Ok(Target::Id("*".to_string())),
            "*" => {
                return Err(self.err(
                    value.span(),
                    key,
                    "\"*\" (everyone else) is only valid in partition groups and one_way",
                ));
            }
            _ => {}
        }
        if let Some(p) = s.strip_prefix("primary:") {
            let count = names.partitions;
            return match p.parse::<u32>() {
                Ok(n) if u64::from(n) < count => Ok(Target::Primary(n)),
                Ok(n) => Err(self.err(
                    value.span(),
                    key,
                    format!(
                        "partition {n} does not exist: the grid has {count} partitions (p0..p{})",
                        count.saturating_sub(1)
                    ),
                )),
                Err(_) => Err(self.err(
                    value.span(),
                    key,
                    format!("expected primary:P with P a partition number, got {s:?}"),
                )),
            };
        }
        self.known_id(value, key, names, true)?;
        Ok(Target::Id(s.to_string()))
    }

    /// A concrete id the scenario has (or will have), or `"*"` where allowed.
    fn plain_id(
        &self,
        value: &Sp<String>,
        key: &str,
        names: &Names<'_>,
        star: bool,
        what: &str,
    ) -> R<String> {
        let s = value.get_ref().as_str();
        if s == "*" && star {
            return Ok(s.to_string());
        }
        if matches!(s, "leader" | "any-node" | "any-manager" | "*") || s.starts_with("primary:") {
            return Err(self.err(
                value.span(),
                key,
                format!(
                    "{what} take{} plain process ids, not {s:?}",
                    if star { " \"*\" and" } else { "" }
                ),
            ));
        }
        // Where selectors are refused, the message must not offer them.
        self.known_id(value, key, names, false)?;
        Ok(s.to_string())
    }

    fn known_id(&self, value: &Sp<String>, key: &str, names: &Names<'_>, selectors: bool) -> R<()> {
        let s = value.get_ref().as_str();
        if names.initial.contains(s) || names.later.iter().any(|l| l == s) {
            return Ok(());
        }
        Err(self.err(
            value.span(),
            key,
            format!(
                "unknown process {s:?}: expected {}",
                names.describe(selectors)
            ),
        ))
    }

    fn partition(&self, groups: &Sp<RawGroups>, key: &str, names: &Names<'_>) -> R<Action> {
        if groups.get_ref().len() < 2 {
            return Err(self.err(
                groups.span(),
                key,
                "expected at least two groups, e.g. [[\"m1\", \"n1\"], [\"*\"]] (\"*\" = every process not named)",
            ));
        }
        let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut out = Vec::new();
        for (g, group) in groups.get_ref().iter().enumerate() {
            if group.get_ref().is_empty() {
                return Err(self.err(
                    group.span(),
                    format!("{key}[{g}]"),
                    "a partition group must name at least one process",
                ));
            }
            let mut ids = Vec::new();
            for (k, member) in group.get_ref().iter().enumerate() {
                let member_key = format!("{key}[{g}][{k}]");
                // DESIGN §5: a selector may stand wherever an event names a
                // process; it is resolved when the partition begins.
                let id = self.target(member, &member_key, names, true)?.to_string();
                if let Some((g0, k0)) = seen.get(member.get_ref().as_str()) {
                    return Err(self.err(
                        member.span(),
                        member_key,
                        format!(
                            "{id:?} is already in the partition at {key}[{g0}][{k0}]: each process belongs to one group"
                        ),
                    ));
                }
                seen.insert(member.get_ref(), (g, k));
                ids.push(id);
            }
            out.push(ids);
        }
        Ok(Action::Partition(out))
    }

    fn link(&self, link: &Sp<RawLink>, key: &str, names: &Names<'_>) -> R<Action> {
        let l = link.get_ref();
        let from = l.from.as_ref().ok_or_else(|| {
            self.err(
                link.span(),
                format!("{key}.from"),
                "missing `from`: the sender",
            )
        })?;
        let to = l.to.as_ref().ok_or_else(|| {
            self.err(
                link.span(),
                format!("{key}.to"),
                "missing `to`: the receiver",
            )
        })?;
        let from_id = self.plain_id(from, &format!("{key}.from"), names, false, "links")?;
        let to_id = self.plain_id(to, &format!("{key}.to"), names, false, "links")?;
        if from_id == to_id {
            return Err(self.err(
                to.span(),
                format!("{key}.to"),
                format!("a link joins two different processes, got {from_id:?} twice"),
            ));
        }
        let latency = match &l.latency {
            Some(r) => Some(self.range(r, &format!("{key}.latency"))?),
            None => None,
        };
        let drop = match &l.drop {
            Some(p) => Some(self.probability(p, &format!("{key}.drop"))?),
            None => None,
        };
        let duplicate = match &l.duplicate {
            Some(p) => Some(self.probability(p, &format!("{key}.duplicate"))?),
            None => None,
        };
        if latency.is_none() && drop.is_none() && duplicate.is_none() {
            return Err(self.err(
                link.span(),
                key,
                "a link overrides something: expected `latency`, `drop` and/or `duplicate`",
            ));
        }
        Ok(Action::Link {
            from: from_id,
            to: to_id,
            latency,
            drop,
            duplicate,
        })
    }

    fn random(&self, raw: &Sp<RawRandom>, end: SimTime) -> R<RandomSpec> {
        let r = raw.get_ref();
        let heal_at = match &r.heal_at {
            Some(h) => Some(self.time(h, "random.heal_at", end)?),
            None => None,
        };
        let horizon = heal_at.unwrap_or(end);
        let window = horizon.saturating_since(SimTime::ZERO + RANDOM_WARMUP);
        let buggify = match &r.buggify {
            Some(p) => Some(self.probability(p, "random.buggify")?),
            None => None,
        };
        let mut spec = RandomSpec {
            heal_at,
            buggify,
            ..RandomSpec::default()
        };
        for (value, kind, slot) in [
            (&r.crash, "crash", &mut spec.crash),
            (&r.pause, "pause", &mut spec.pause),
            (&r.partition, "partition", &mut spec.partition),
            (&r.isolate, "isolate", &mut spec.isolate),
        ] {
            if let Some(f) = value {
                let g = f.get_ref();
                let (every, lasts) =
                    self.random_common(f.span(), kind, &g.every, &g.down, &g.lasts, window)?;
                *slot = Some(RandomFault { every, lasts });
            }
        }
        if let Some(c) = &r.clock {
            let g = c.get_ref();
            let (every, lasts) =
                self.random_common(c.span(), "clock", &g.every, &g.down, &g.lasts, window)?;
            let max_offset = g
                .max_offset
                .as_ref()
                .map_or(SimDuration::ZERO, |o| *o.get_ref());
            if max_offset > MAX_DURATION {
                return Err(self.err(
                    span_or(&g.max_offset, c.span()),
                    "random.clock.max_offset",
                    format!("{max_offset} is above the limit of {MAX_DURATION}"),
                ));
            }
            let max_drift = match &g.max_drift {
                Some(d) => {
                    let x = *d.get_ref();
                    // A draw of -max_drift must not round to a stopped clock.
                    if !(x.is_finite() && x >= 0.0 && in_ppm(x) < 1e6) {
                        return Err(self.err(
                            d.span(),
                            "random.clock.max_drift",
                            format!("expected a rate error from 0 to below 1 (at 1 ppm resolution: at most 0.999999), got {x}"),
                        ));
                    }
                    x
                }
                None => 0.0,
            };
            if max_offset == SimDuration::ZERO && max_drift == 0.0 {
                return Err(self.err(
                    c.span(),
                    "random.clock.max_offset",
                    "a random clock fault needs `max_offset` (e.g. \"2s\") and/or `max_drift` (e.g. 0.05) above zero",
                ));
            }
            spec.clock = Some(RandomClock {
                every,
                lasts,
                max_offset,
                max_drift,
            });
        }
        Ok(spec)
    }

    /// `every` and `down`/`lasts` of one `[random]` kind.
    fn random_common(
        &self,
        table: Range<usize>,
        kind: &str,
        every: &Option<Sp<SimDuration>>,
        down: &Option<Sp<Pair<SimDuration>>>,
        lasts: &Option<Sp<Pair<SimDuration>>>,
        window: SimDuration,
    ) -> R<(SimDuration, [SimDuration; 2])> {
        let every = match every {
            Some(e) => {
                let d = self.positive(e, &format!("random.{kind}.every"))?;
                let expected = window.as_micros() / d.as_micros();
                if expected > MAX_RANDOM_FAULTS {
                    return Err(self.err(
                        e.span(),
                        format!("random.{kind}.every"),
                        format!("{d} would give about {expected} faults, above the limit of {MAX_RANDOM_FAULTS}"),
                    ));
                }
                d
            }
            None => {
                return Err(self.err(
                    table,
                    format!("random.{kind}.every"),
                    "missing required key `every`: the mean interval between faults (e.g. every = \"10s\")",
                ));
            }
        };
        let preferred = if matches!(kind, "crash" | "pause") {
            "down"
        } else {
            "lasts"
        };
        let lasts = match (down, lasts) {
            (Some(_), Some(l)) => {
                return Err(self.err(
                    l.span(),
                    format!("random.{kind}.lasts"),
                    "`down` and `lasts` are two names for one setting: give only one",
                ));
            }
            (Some(d), None) => self.range(d, &format!("random.{kind}.down"))?,
            (None, Some(l)) => self.range(l, &format!("random.{kind}.lasts"))?,
            (None, None) => {
                return Err(self.err(
                    table,
                    format!("random.{kind}.{preferred}"),
                    format!("missing required key `{preferred}`: how long each fault lasts (e.g. {preferred} = [\"1s\", \"5s\"])"),
                ));
            }
        };
        Ok((every, lasts))
    }

    fn expect(&self, raw: Option<&Sp<RawExpect>>, end: SimTime) -> R<Expect> {
        let mut expect = Expect::default();
        let Some(raw) = raw else { return Ok(expect) };
        let x = raw.get_ref();
        if let Some(s) = &x.safety {
            expect.safety = *s.get_ref();
        }
        if let Some(c) = &x.converged_by {
            expect.converged_by = Some(self.time(c, "expect.converged_by", end)?);
        }
        if let Some(l) = &x.leader_elected_by {
            expect.leader_elected_by = Some(self.time(l, "expect.leader_elected_by", end)?);
        }
        if let Some(v) = &x.voters {
            if *v.get_ref() == 0 {
                return Err(self.err(
                    v.span(),
                    "expect.voters",
                    "expected at least 1 voter at the end of the run",
                ));
            }
            expect.voters = Some(*v.get_ref());
        }
        expect.lost_acked_writes = x.lost_acked_writes.as_ref().map(|l| *l.get_ref());
        if let Some(list) = &x.violations {
            for (i, name) in list.get_ref().iter().enumerate() {
                let key = format!("expect.violations[{i}]");
                let n = name.get_ref();
                if !crate::check::KNOWN.contains(&n.as_str()) {
                    return Err(self.err(
                        name.span(),
                        key,
                        format!(
                            "no checker is named {n:?}: a name here must be one of partsim's checkers ({})",
                            crate::check::KNOWN.join(", ")
                        ),
                    ));
                }
                if expect.violations.contains(n) {
                    return Err(self.err(name.span(), key, format!("{n:?} is listed twice")));
                }
                expect.violations.push(n.clone());
            }
        }
        Ok(expect)
    }
}

/// The process ids an event may name.
struct Names<'n> {
    initial: &'n BTreeSet<String>,
    later: &'n [String],
    data_nodes: &'n BTreeSet<String>,
    /// Initial managers and those `add_manager` introduces.
    managers: &'n BTreeSet<String>,
    cluster: &'n Cluster,
    partitions: u64,
}

impl Names<'_> {
    /// "m1..m3, n1..n6, c1..c2, n7 (introduced by an event) or a selector
    /// (...)" — without the selectors where they are not accepted.
    fn describe(&self, selectors: bool) -> String {
        let range = |prefix: &str, n: u32| match n {
            0 => None,
            1 => Some(format!("{prefix}1")),
            n => Some(format!("{prefix}1..{prefix}{n}")),
        };
        let mut parts: Vec<String> = [
            range("m", self.cluster.managers),
            range("n", self.cluster.nodes),
            range("c", self.cluster.clients),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !self.later.is_empty() {
            let shown: Vec<&str> = self.later.iter().take(5).map(String::as_str).collect();
            let more = if self.later.len() > 5 { ", …" } else { "" };
            parts.push(format!("{}{more} (introduced by events)", shown.join(", ")));
        }
        if selectors {
            format!("{} or a selector ({SELECTORS})", parts.join(", "))
        } else {
            format!("one of {} (plain ids here)", parts.join(", "))
        }
    }
}

/// `"uniform"` or `"zipf:S"` with a finite `S > 0`.
fn parse_keys(text: &str) -> Option<KeyDist> {
    if text == "uniform" {
        return Some(KeyDist::Uniform);
    }
    let s: f64 = text.strip_prefix("zipf:")?.trim().parse().ok()?;
    (s.is_finite() && s > 0.0).then_some(KeyDist::Zipf(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(parse_keys("uniform"), Some(KeyDist::Uniform));
        assert_eq!(parse_keys("zipf:1.1"), Some(KeyDist::Zipf(1.1)));
        for bad in [
            "zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:nan", "zipf:inf", "Uniform", "zipf:x",
        ] {
            assert_eq!(parse_keys(bad), None, "{bad}");
        }
    }

    #[test]
    fn plain_ids() {
        assert!(is_plain_id("n9"));
        assert!(is_plain_id("evil-twin_2"));
        for bad in [
            "",
            "leader",
            "any-node",
            "a b",
            "*",
            "primary:1",
            &"x".repeat(33),
        ] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }
}
