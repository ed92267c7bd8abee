//! The sections that describe the system: `[cluster]`, `[grid]`,
//! `[placement]`, `[timing]`, `[disk]` and `[network]`.

use std::collections::BTreeSet;
use std::ops::Range;

use super::{R, Validator, span_or};
use crate::scenario::limits::*;
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::sim::time::SimDuration;

/// The longest a single disk write or fsync may take.
const MAX_DISK_LATENCY: SimDuration = SimDuration::from_secs(1);

fn header<T>(section: Option<&Sp<T>>) -> Range<usize> {
    section.map_or(0..0, |s| s.span())
}

impl Validator<'_, '_> {
    pub(super) fn cluster(&self, raw: Option<&Sp<RawCluster>>) -> R<Cluster> {
        let mut cluster = Cluster::default();
        let Some(raw) = raw else { return Ok(cluster) };
        let c = raw.get_ref();
        if let Some(m) = &c.managers {
            let n = *m.get_ref();
            if !MANAGER_COUNTS.contains(&n) {
                return Err(self.err(
                    m.span(),
                    "cluster.managers",
                    format!("expected 1, 3 or 5 managers (an odd Raft group; add_manager and remove_manager change it during the run), got {n}"),
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

    pub(super) fn grid(
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

    pub(super) fn placement(&self, raw: Option<&Sp<RawPlacement>>) -> R<Placement> {
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

    pub(super) fn timing(&self, raw: Option<&Sp<RawTiming>>) -> R<Timing> {
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

    /// `[managers]`: snapshot interval and dead-server cleanup. Cleanup may
    /// never shrink the group below a majority of `[cluster] managers`,
    /// and waits at least two maximum election timeouts (a voter that
    /// missed one election is not dead).
    pub(super) fn managers(
        &self,
        raw: Option<&Sp<RawManagers>>,
        cluster: &Cluster,
        timing: &Timing,
    ) -> R<Managers> {
        let mut m = Managers::default();
        let Some(raw) = raw else { return Ok(m) };
        let r = raw.get_ref();
        if let Some(n) = &r.snapshot_every {
            let x = *n.get_ref();
            if !(1..=MAX_SNAPSHOT_EVERY).contains(&x) {
                return Err(self.err(
                    n.span(),
                    "managers.snapshot_every",
                    format!("expected 1 to {MAX_SNAPSHOT_EVERY} committed entries, got {x}"),
                ));
            }
            m.snapshot_every = x;
        }
        if let Some(g) = &r.remove_down_after {
            let grace = self.positive(g, "managers.remove_down_after")?;
            let floor = SimDuration(timing.election_timeout[1].as_micros().saturating_mul(2));
            if grace < floor {
                return Err(self.err(
                    g.span(),
                    "managers.remove_down_after",
                    format!("expected at least twice the maximum election timeout ({floor}), got {grace}: a voter that missed an election is not dead"),
                ));
            }
            m.remove_down_after = Some(grace);
        }
        if let Some(n) = &r.min_voters {
            let x = *n.get_ref();
            let k = cluster.managers;
            let majority = k / 2 + 1;
            if !(majority..=k).contains(&x) {
                return Err(self.err(
                    n.span(),
                    "managers.min_voters",
                    format!("expected {majority} to {k} (from a majority of the {k} managers to all of them), got {x}"),
                ));
            }
            m.min_voters = Some(x);
        }
        Ok(m)
    }

    pub(super) fn disk(&self, raw: Option<&Sp<RawDisk>>) -> R<DiskConfig> {
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

    pub(super) fn network(&self, raw: Option<&Sp<RawNetwork>>) -> R<Network> {
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
}
