//! Control-plane checkers (DESIGN §4): `map_monotonic`, `placement` and
//! `auth` (safety), `converged` and `balanced` (liveness), and the control
//! plane's figures: failure-detection time, false suspicions and deaths,
//! replica moves per membership change against the ideal, load spread.
//!
//! They read only events: `map` (every process), `replica` (each data node,
//! about itself: what it holds, whether in full, at which epoch, and after
//! a transfer where from), `member`, `partition` (what the leader
//! committed), `health`, `credentials` and `placement_config` (at every
//! start), and the kernel's crash / restart / pause / disk-loss events.
//!
//! What a manager committed is a fact (the configuration); whether a
//! replica holds the data is not the leader's to say: `placement` and
//! `converged` count a replica only where its node itself reported a
//! complete copy ([`Copies`]), and follow every copy's lineage — a node
//! calls a copy complete after a transfer from a node that held one, or
//! from nothing only where no copy exists anywhere (or at the partition's
//! first placement). The expectations of `balanced` and `converged` are
//! the design's (replication factor, zone spread, the load cap), written
//! here and not borrowed from the planner.
//!
//! The leader traces every committed member and partition change; a new
//! leader restates the whole map, so the checkers keep, per member, the
//! newest map version seen and, per partition, the highest epoch — older
//! news is ignored.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{Checker, EndOfRun};
use crate::sim::clock::Clock;
use crate::sim::{Event, EventKind, ProcessId, SimDuration, SimTime, Violation};
use crate::stack::consensus::RaftEvent;
use crate::stack::events::{MemberChange, ReplicaState, StackEvent};
use crate::stack::grid::MemberState;
use crate::stack::health::Health;

/// How long after the last fault the map must have converged when the
/// scenario sets no `[expect] converged_by`.
pub const CONVERGE_GRACE: SimDuration = SimDuration::from_secs(30);
/// Per-change move records kept for the metrics, at most.
const MAX_CHANGES: usize = 1000;
/// Failure-detection samples kept, at most.
const MAX_SAMPLES: usize = 10_000;

/// Every control-plane checker.
pub fn control_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(MapMonotonic::default()),
        Box::new(Placement::default()),
        Box::new(Auth::default()),
        Box::new(Converged::default()),
        Box::new(Balanced::default()),
    ]
}

// ---------------------------------------------------------------------------

/// The placement settings, from `placement_config`.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    rf: usize,
    max_imbalance: f64,
    partitions: u32,
}

/// A partition as the leader traced it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Part {
    epoch: u64,
    in_sync: Vec<String>,
    catching_up: Vec<String>,
    primary: Option<String>,
}

impl Part {
    fn nodes(&self) -> impl Iterator<Item = &String> {
        self.in_sync.iter().chain(&self.catching_up)
    }

    /// Every node the configuration names: replicas and primary.
    fn named(&self) -> impl Iterator<Item = &String> {
        self.nodes().chain(&self.primary)
    }

    fn names(&self, node: &str) -> bool {
        self.named().any(|n| n == node)
    }
}

/// A member as the leader traced it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mem {
    state: MemberState,
    zone: String,
    capacity: u32,
    version: u64,
}

/// The data nodes that can host replicas: how many, over how many zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Remaining {
    nodes: usize,
    zones: usize,
}

/// What changed in the view.
enum Change {
    /// A member changed (`before` is its previous state, if it had one).
    Member {
        node: String,
        before: Option<MemberState>,
        now: Option<MemberState>,
    },
    /// A partition changed from `old`.
    Partition { p: u32, old: Part },
}

/// The committed map, rebuilt from the leader's events.
#[derive(Clone, Debug, Default)]
struct MapView {
    settings: Option<Settings>,
    members: BTreeMap<String, Mem>,
    parts: BTreeMap<u32, Part>,
    /// Alive members and their distinct zones, kept at every member
    /// change (asked once per partition a recheck visits).
    alive_count: usize,
    alive_zones: usize,
    /// Alive members per zone (zones with none left out).
    alive_per_zone: BTreeMap<String, usize>,
    /// Per node, the partitions whose configuration names it (a replica
    /// or the primary): the partitions a change of that member can touch.
    named: BTreeMap<String, BTreeSet<u32>>,
}

impl MapView {
    fn on_event(&mut self, ev: &StackEvent) -> Option<Change> {
        match ev {
            StackEvent::PlacementConfig {
                replication_factor,
                max_imbalance,
                partitions,
                ..
            } => {
                self.settings = Some(Settings {
                    rf: *replication_factor as usize,
                    max_imbalance: *max_imbalance,
                    partitions: *partitions,
                });
                None
            }
            StackEvent::Member {
                node,
                state,
                zone,
                capacity,
                version,
            } => {
                let before = self.members.get(node).cloned();
                if before.as_ref().is_some_and(|m| m.version >= *version) {
                    return None;
                }
                let now = match state {
                    MemberChange::Joined | MemberChange::Alive => Some(MemberState::Alive),
                    MemberChange::Dead => Some(MemberState::Dead),
                    MemberChange::Draining => Some(MemberState::Draining),
                    MemberChange::Removed => None,
                };
                // A rejoin keeps the committed state (a dead member stays dead
                // until `MarkAlive`).
                let now = match (state, &before) {
                    (MemberChange::Joined, Some(b)) => Some(b.state),
                    _ => now,
                };
                match now {
                    Some(s) => {
                        self.members.insert(
                            node.clone(),
                            Mem {
                                state: s,
                                zone: zone.clone(),
                                capacity: *capacity,
                                version: *version,
                            },
                        );
                    }
                    None => {
                        self.members.remove(node);
                    }
                }
                if let Some(b) = before.as_ref().filter(|b| b.state == MemberState::Alive)
                    && let Some(n) = self.alive_per_zone.get_mut(&b.zone)
                {
                    *n -= 1;
                    if *n == 0 {
                        self.alive_per_zone.remove(&b.zone);
                    }
                }
                if now == Some(MemberState::Alive) {
                    *self.alive_per_zone.entry(zone.clone()).or_default() += 1;
                }
                self.alive_count = self.alive_per_zone.values().sum();
                self.alive_zones = self.alive_per_zone.len();
                Some(Change::Member {
                    node: node.clone(),
                    before: before.map(|m| m.state),
                    now,
                })
            }
            StackEvent::Partition {
                partition,
                epoch,
                in_sync,
                catching_up,
                primary,
                ..
            } => {
                let old = self.parts.get(partition).cloned().unwrap_or_default();
                if self.parts.contains_key(partition) && old.epoch >= *epoch {
                    return None;
                }
                let new = Part {
                    epoch: *epoch,
                    in_sync: in_sync.clone(),
                    catching_up: catching_up.clone(),
                    primary: primary.clone(),
                };
                for n in old.named().filter(|n| !new.names(n)) {
                    if let Some(ps) = self.named.get_mut(n) {
                        ps.remove(partition);
                        if ps.is_empty() {
                            self.named.remove(n);
                        }
                    }
                }
                for n in new.named().filter(|n| !old.names(n)) {
                    self.named.entry(n.clone()).or_default().insert(*partition);
                }
                self.parts.insert(*partition, new);
                Some(Change::Partition { p: *partition, old })
            }
            _ => None,
        }
    }

    fn state(&self, node: &str) -> Option<MemberState> {
        self.members.get(node).map(|m| m.state)
    }

    fn usable(&self, node: &str) -> bool {
        matches!(
            self.state(node),
            Some(MemberState::Alive | MemberState::Draining)
        )
    }

    fn alive(&self, node: &str) -> bool {
        self.state(node) == Some(MemberState::Alive)
    }

    fn zone(&self, node: &str) -> &str {
        self.members.get(node).map_or("", |m| m.zone.as_str())
    }

    fn alive_count(&self) -> usize {
        self.alive_count
    }

    fn alive_zones(&self) -> usize {
        self.alive_zones
    }

    /// Replicas per alive member.
    fn loads(&self) -> BTreeMap<&str, u64> {
        let mut load: BTreeMap<&str, u64> = self
            .members
            .iter()
            .filter(|(_, m)| m.state == MemberState::Alive)
            .map(|(n, _)| (n.as_str(), 0))
            .collect();
        for part in self.parts.values() {
            for n in part.nodes() {
                if let Some(l) = load.get_mut(n.as_str()) {
                    *l += 1;
                }
            }
        }
        load
    }

    /// The data nodes that remain to host replicas, judged by the nodes
    /// themselves: members of the committed map that were not
    /// decommissioned (not draining, not removed) whose process is up by
    /// its own events (not in `down`) — whether or not the leader's health
    /// view holds them alive. Their number and their distinct zones.
    fn remaining(&self, down: &BTreeSet<String>) -> Remaining {
        let up = || {
            self.members.iter().filter(|(n, m)| {
                matches!(m.state, MemberState::Alive | MemberState::Dead) && !down.contains(*n)
            })
        };
        Remaining {
            nodes: up().count(),
            zones: up()
                .map(|(_, m)| m.zone.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
        }
    }

    /// The remaining nodes as the leader's map counts them (alive members).
    fn alive_remaining(&self) -> Remaining {
        Remaining {
            nodes: self.alive_count(),
            zones: self.alive_zones(),
        }
    }

    /// Why partition `p` is not converged, if it is not. A replica counts
    /// only where its node says it serves the data at the committed epoch
    /// and its process is up (not in `down`); the partition wants
    /// `min(rf, remaining nodes)` of them, over as many zones as those
    /// nodes span.
    fn unconverged(
        &self,
        p: u32,
        rf: usize,
        copies: &Copies,
        remaining: Remaining,
        down: &BTreeSet<String>,
    ) -> Option<String> {
        let Some(part) = self.parts.get(&p) else {
            return Some(format!("p{p} was never placed"));
        };
        let want = rf.min(remaining.nodes);
        if !part.catching_up.is_empty() {
            return Some(format!(
                "p{p}: {} still catching up",
                part.catching_up.join(",")
            ));
        }
        let serving =
            |n: &String| self.alive(n) && !down.contains(n) && copies.serves(p, n, part.epoch);
        let on_alive = part.in_sync.iter().filter(|n| serving(n)).count();
        if on_alive != want {
            let unconfirmed: Vec<&str> = part
                .in_sync
                .iter()
                .filter(|n| self.alive(n) && !serving(n))
                .map(String::as_str)
                .collect();
            return Some(format!(
                "p{p} has {on_alive} in-sync replicas on alive nodes serving the data at epoch {}, wants {want}{}",
                part.epoch,
                if unconfirmed.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (listed in sync, not confirmed by the node: {})",
                        unconfirmed.join(",")
                    )
                }
            ));
        }
        if let Some(n) = part
            .in_sync
            .iter()
            .find(|n| self.state(n) == Some(MemberState::Draining))
        {
            return Some(format!("p{p} still has a replica on draining {n}"));
        }
        if want >= rf
            && let Some(n) = part.in_sync.iter().find(|n| !self.alive(n))
        {
            return Some(format!("p{p} still lists {n}, which is not alive"));
        }
        let primary_serves = part.primary.as_ref().is_some_and(|n| {
            serving(n)
                && copies
                    .held
                    .get(&p)
                    .and_then(|m| m.get(n))
                    .is_some_and(|c| c.state == ReplicaState::Primary)
        });
        if !primary_serves {
            return Some(format!("p{p} has no alive primary that says it is one"));
        }
        let zones: BTreeSet<&str> = part
            .in_sync
            .iter()
            .filter(|n| serving(n))
            .map(|n| self.zone(n))
            .collect();
        let need = want.min(remaining.zones);
        if zones.len() < need {
            return Some(format!("p{p} spans {} zones, {need} possible", zones.len()));
        }
        None
    }
}

// ---------------------------------------------------------------------------

/// One node's copy of a partition, as the node itself last traced it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeCopy {
    state: ReplicaState,
    epoch: u64,
    complete: bool,
}

/// What the data nodes say they hold, and where each complete copy came
/// from. A crashed node's copies stay (its disk keeps them) until a disk
/// loss takes them.
#[derive(Clone, Debug, Default)]
struct Copies {
    /// Per partition, per node: its copy.
    held: BTreeMap<u32, BTreeMap<String, NodeCopy>>,
    /// Per partition: nodes that held a complete copy since the partition
    /// last had none (acceptable sources of a transfer).
    lineage: BTreeMap<u32, BTreeSet<String>>,
    /// Per partition: the in-sync replicas of its first committed
    /// configuration that have not yet created their copy (they start from
    /// nothing: a fresh partition holds no data).
    genesis: BTreeMap<u32, BTreeSet<String>>,
    /// Partitions ever placed (so a later configuration is not a genesis).
    placed: BTreeSet<u32>,
}

impl Copies {
    /// Nodes holding a complete copy of `p` (crashed ones included).
    fn holders(&self, p: u32) -> Vec<&str> {
        self.held.get(&p).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(_, c)| c.complete)
                .map(|(n, _)| n.as_str())
                .collect()
        })
    }

    /// True when `node` says it holds `p` in full, in sync, at `epoch`.
    fn serves(&self, p: u32, node: &str, epoch: u64) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(|c| {
                c.complete
                    && c.epoch == epoch
                    && matches!(c.state, ReplicaState::Primary | ReplicaState::Backup)
            })
    }

    /// True when `node` says it holds `p` in full — or it is one of the
    /// partition's first replicas and has not said anything of it yet: a
    /// fresh partition is empty, so it holds all there is even before its
    /// node instantiates it (say, when the node crashed as it was placed).
    fn complete(&self, p: u32, node: &str) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(|c| c.complete)
            || self.genesis.get(&p).is_some_and(|g| g.contains(node))
    }

    /// Partitions `node` hosts (any state but removed), by its own word.
    fn load(&self, node: &str) -> u64 {
        self.held
            .values()
            .filter(|m| m.get(node).is_some_and(|c| c.state != ReplicaState::Stored))
            .count() as u64
    }

    /// One event; returns a violation of copy safety (a copy made complete
    /// from nothing while the data exists elsewhere, or the last complete
    /// copy dropped), with the partition it concerns.
    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String]) -> Option<(u32, String)> {
        let who = ev.p.name_in(names);
        match ev.kind {
            EventKind::Start | EventKind::Restart => {
                // What was only in memory is gone; what the disk kept is
                // stated again by the node (`stored`).
                for m in self.held.values_mut() {
                    match m.get_mut(who) {
                        Some(c) if c.complete => c.state = ReplicaState::Stored,
                        Some(_) => {
                            m.remove(who);
                        }
                        None => {}
                    }
                }
                None
            }
            EventKind::DiskLoss => {
                // A fault, not the protocol's doing: the copies are gone.
                for m in self.held.values_mut() {
                    m.remove(who);
                }
                let emptied: Vec<u32> = self
                    .lineage
                    .keys()
                    .copied()
                    .filter(|p| self.holders(*p).is_empty())
                    .collect();
                for p in emptied {
                    self.lineage.remove(&p);
                }
                None
            }
            EventKind::App(StackEvent::Partition {
                partition, in_sync, ..
            }) => {
                if self.placed.insert(*partition) && !in_sync.is_empty() {
                    self.genesis
                        .insert(*partition, in_sync.iter().cloned().collect());
                }
                None
            }
            EventKind::App(StackEvent::Replica {
                partition,
                state,
                epoch,
                complete,
                source,
            }) => self.on_replica(
                who,
                *partition,
                *state,
                *epoch,
                *complete,
                source.as_deref(),
            ),
            _ => None,
        }
    }

    fn on_replica(
        &mut self,
        node: &str,
        p: u32,
        state: ReplicaState,
        epoch: u64,
        complete: bool,
        source: Option<&str>,
    ) -> Option<(u32, String)> {
        let before = self
            .held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(|c| c.complete);
        let mut violation = None;
        if complete && !before {
            let holders: Vec<String> = self.holders(p).into_iter().map(String::from).collect();
            let lineage = self.lineage.get(&p);
            let sourced = source.is_some_and(|s| {
                holders.iter().any(|h| h == s) || lineage.is_some_and(|l| l.contains(s))
            });
            let genesis = self.genesis.get_mut(&p).is_some_and(|g| g.remove(node));
            if !sourced && !genesis && !holders.is_empty() {
                violation = Some((
                    p,
                    format!(
                        "{node} reports a complete copy of p{p} (epoch {epoch}) {}, while {} hold the data",
                        match source {
                            Some(s) => format!("copied from {s}, which held none"),
                            None => "without any transfer".to_string(),
                        },
                        holders.join(",")
                    ),
                ));
            }
        }
        if let Some(g) = self.genesis.get_mut(&p) {
            g.remove(node);
        }
        let copies = self.held.entry(p).or_default();
        if state == ReplicaState::Removed {
            copies.remove(node);
        } else {
            copies.insert(
                node.to_string(),
                NodeCopy {
                    state,
                    epoch,
                    complete,
                },
            );
        }
        if complete {
            self.lineage.entry(p).or_default().insert(node.to_string());
        }
        if before && !complete && violation.is_none() && self.holders(p).is_empty() {
            violation = Some((
                p,
                format!(
                    "p{p} lost its last complete copy: {node} dropped it (epoch {epoch}) and no other node holds one"
                ),
            ));
        }
        if self.holders(p).is_empty() {
            self.lineage.remove(&p);
        }
        violation
    }
}

/// `map_monotonic`: no process ever applies an older map version than it
/// had. Judged per incarnation: a restarted process rebuilds its map (a
/// manager from its snapshot, a data node from the leader).
#[derive(Debug, Default)]
pub struct MapMonotonic {
    last: BTreeMap<ProcessId, u64>,
}

impl Checker for MapMonotonic {
    fn name(&self) -> &'static str {
        "map_monotonic"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        match ev.kind {
            EventKind::Start | EventKind::Restart | EventKind::Crash { .. } => {
                self.last.remove(&ev.p);
            }
            EventKind::App(StackEvent::Map { version }) => {
                let last = self.last.entry(ev.p).or_insert(0);
                if *version < *last {
                    out.push(Violation {
                        check: "map_monotonic",
                        detail: format!(
                            "{} applied map version {version} after version {last}",
                            ev.p.name_in(names)
                        ),
                    });
                }
                *last = (*last).max(*version);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------

/// `placement`: in every committed configuration, no two replicas of a
/// partition on one node; a change that takes an in-sync replica off a
/// live member (alive or draining) must leave `replication_factor` in-sync
/// replicas on live members whose nodes report a complete copy
/// (make-before-break) and must not narrow the partition's zone spread
/// below what the alive members allow. And from the nodes' own events:
/// no node calls a copy complete without a transfer from a node holding
/// one while the data exists elsewhere, and no partition loses its last
/// complete copy but by a disk loss.
///
/// A disk loss is a fact the leader learns only later: the node stops
/// heartbeating, and the map says so when it is committed dead or when the
/// node registers again. Until then — at most `dead_after` after the loss —
/// a change the leader planned on the copies that disk held is judged as
/// though they were still there (the planner could not have seen it).
#[derive(Debug, Default)]
pub struct Placement {
    view: MapView,
    copies: Copies,
    /// Nodes whose disk was lost and of which the map has said nothing
    /// since: when, and the partitions they held complete copies of.
    unseen_loss: BTreeMap<String, (SimTime, BTreeSet<u32>)>,
    /// The health monitor's `dead_after`.
    dead_after: SimDuration,
}

impl Placement {
    /// In-sync replicas of `part` on usable members whose node reports a
    /// complete copy, or whose copy a disk loss took that the leader could
    /// not know of yet at `t`; and their zones.
    fn in_sync_counted(&self, p: u32, part: &Part, t: SimTime) -> (usize, usize) {
        let unseen = |n: &str| {
            self.unseen_loss.get(n).is_some_and(|(at, held)| {
                held.contains(&p) && t.saturating_since(*at) <= self.dead_after
            })
        };
        let counted: Vec<&String> = part
            .in_sync
            .iter()
            .filter(|n| self.view.usable(n) && (self.copies.complete(p, n) || unseen(n)))
            .collect();
        let zones = counted
            .iter()
            .map(|n| self.view.zone(n))
            .collect::<BTreeSet<_>>()
            .len();
        (counted.len(), zones)
    }
}

impl Checker for Placement {
    fn name(&self) -> &'static str {
        "placement"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        if let EventKind::DiskLoss = ev.kind {
            let who = ev.p.name_in(names);
            let c = &self.copies;
            let held: BTreeSet<u32> = c
                .held
                .keys()
                .chain(c.genesis.keys())
                .copied()
                .filter(|&p| c.complete(p, who))
                .collect();
            self.unseen_loss.insert(who.to_string(), (ev.t, held));
        }
        if let Some((_, detail)) = self.copies.on_event(ev, names) {
            out.push(Violation {
                check: "placement",
                detail,
            });
            return;
        }
        let EventKind::App(app) = ev.kind else { return };
        if let StackEvent::PlacementConfig { dead_after_us, .. } = app {
            self.dead_after = SimDuration(*dead_after_us);
        }
        let p = match self.view.on_event(app) {
            Some(Change::Partition { p, old }) => (p, old),
            Some(Change::Member { node, .. }) => {
                // The map has news of the node: the leader has learnt of it.
                self.unseen_loss.remove(&node);
                return;
            }
            None => return,
        };
        let (p, old) = p;
        let v = &self.view;
        let new = &v.parts[&p];
        let mut seen = BTreeSet::new();
        if let Some(dup) = new.nodes().find(|n| !seen.insert(n.as_str())) {
            out.push(Violation {
                check: "placement",
                detail: format!("p{p} (epoch {}) has two replicas on {dup}", new.epoch),
            });
            return;
        }
        let Some(s) = &v.settings else { return };
        let removed_live: Vec<&String> = old
            .in_sync
            .iter()
            .filter(|n| !new.nodes().any(|m| m == *n) && v.usable(n))
            .collect();
        if removed_live.is_empty() {
            return;
        }
        let (left, after) = self.in_sync_counted(p, new, ev.t);
        if left < s.rf {
            out.push(Violation {
                check: "placement",
                detail: format!(
                    "p{p} (epoch {}): in-sync replica on live {} removed, leaving {left} in-sync replicas whose nodes report the data (replication factor {}); catching up: [{}]",
                    new.epoch,
                    removed_live.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(","),
                    s.rf,
                    new.catching_up.join(",")
                ),
            });
            return;
        }
        let need = s.rf.min(v.alive_zones());
        let before = self.in_sync_counted(p, &old, ev.t).1;
        if after < before.min(need) {
            out.push(Violation {
                check: "placement",
                detail: format!(
                    "p{p} (epoch {}): removing {} narrowed its zones from {before} to {after} ({need} possible)",
                    new.epoch,
                    removed_live.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(",")
                ),
            });
        }
    }
}

// ---------------------------------------------------------------------------

/// `auth`: no process without the cluster key ever becomes a member. The
/// cluster key is the one the managers hold (they trace `placement_config`);
/// every process traces the fingerprint of its key at start.
#[derive(Debug, Default)]
pub struct Auth {
    keys: BTreeMap<String, String>,
    cluster_key: Option<String>,
}

impl Checker for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        let EventKind::App(app) = ev.kind else { return };
        match app {
            StackEvent::Credentials { key_id } => {
                self.keys
                    .insert(ev.p.name_in(names).to_string(), key_id.clone());
            }
            StackEvent::PlacementConfig { .. } if self.cluster_key.is_none() => {
                self.cluster_key = self.keys.get(ev.p.name_in(names)).cloned();
            }
            StackEvent::Member {
                node,
                state: MemberChange::Joined | MemberChange::Alive,
                ..
            } => {
                if let (Some(k), Some(cluster)) = (self.keys.get(node), &self.cluster_key)
                    && k != cluster
                {
                    out.push(Violation {
                        check: "auth",
                        detail: format!(
                            "{node} became a member holding key {k}, not the cluster key {cluster}"
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------

/// `converged`: every partition has `min(RF, remaining)` in-sync replicas
/// on alive members whose process is up — each confirmed by its node: a
/// complete copy, in sync, at the committed epoch — spanning the zones
/// they can, where `remaining` counts the members not decommissioned whose
/// process is up by its own events (a node the leader holds dead while it
/// runs still counts: the factor is owed whenever enough nodes remain),
/// an alive primary
/// that says it is one, nothing catching up or left on draining members,
/// continuously from the deadline (`[expect] converged_by`, else the last
/// fault plus [`CONVERGE_GRACE`]) to the end.
///
/// And the failure detector judges only silence it was there to hear: a
/// manager that was away — paused, or its clock jumped forward — for more
/// than half of `dead_after` must not propose `MarkDead` for a node whose
/// process is up and running, and sent a heartbeat within half of
/// `dead_after`, within `dead_after` of its return on its own clock (local
/// health awareness). Such a declaration fails the run.
///
/// Metrics: `failure_detection_ms` (per crash of an alive member, until it
/// is committed dead) and its max, `false_suspicions` and `false_deaths`
/// (the leader suspected, or committed dead, a node whose process was up
/// and not paused).
#[derive(Debug, Default)]
pub struct Converged {
    view: MapView,
    copies: Copies,
    /// Partitions not converged, with why.
    bad: BTreeMap<u32, String>,
    since: Option<SimTime>,
    /// Process state by name: up (not crashed) and not paused.
    down: BTreeSet<String>,
    paused: BTreeSet<String>,
    crashed_at: BTreeMap<String, SimTime>,
    detection_us: Vec<u64>,
    false_suspicions: u64,
    false_deaths: u64,
    /// The health monitor's `dead_after`.
    dead_after: SimDuration,
    /// Managers paused, since when.
    paused_at: BTreeMap<String, SimTime>,
    /// Per manager: when it last came back from being away, and for how long.
    back: BTreeMap<String, (SimTime, SimDuration)>,
    /// Clocks per process (to tell a forward jump of local time).
    clocks: BTreeMap<String, Clock>,
    /// The first death declared by a monitor just back from being away.
    hasty: Option<String>,
    /// Nodes whose copies changed (a start, restart or disk loss) with no
    /// recheck of their partitions since: rechecked at the next change of
    /// a member, as a recheck of every partition would.
    copies_changed: BTreeSet<String>,
    /// When each process last sent a heartbeat.
    last_beat: BTreeMap<String, SimTime>,
    /// The nodes that remain to host replicas ([`MapView::remaining`]),
    /// per zone: kept as members change and their processes crash or start.
    up_per_zone: BTreeMap<String, usize>,
}

impl Converged {
    /// `node` sent a heartbeat within half of `dead_after` before `t`: its
    /// silence was not real (a node whose own clock went back, and so its
    /// timers with it, really is silent).
    fn sent_lately(&self, node: &str, t: SimTime) -> bool {
        self.last_beat
            .get(node)
            .is_some_and(|b| t.saturating_since(*b).as_micros() * 2 < self.dead_after.as_micros())
    }

    /// Less than `dead_after` passed on `who`'s own clock between `at` and
    /// `t` (the grace it owes is counted on its clock: one running fast
    /// counts it out sooner in virtual time).
    fn within_grace(&self, who: &str, at: SimTime, t: SimTime) -> bool {
        let clock = self.clocks.get(who).copied().unwrap_or_default();
        clock.local(t).saturating_since(clock.local(at)) < self.dead_after
    }

    fn recheck(&mut self, t: SimTime, only: Option<u32>) {
        let Some(s) = &self.view.settings else { return };
        // A range, not a collected list: the count comes from the trace.
        let all = match only {
            Some(p) => p..=p,
            None if s.partitions == 0 => return,
            None => {
                self.copies_changed.clear();
                0..=s.partitions - 1
            }
        };
        self.recheck_in(t, all);
    }

    /// [`MapView::remaining`], from the counts kept.
    fn remaining(&self) -> Remaining {
        Remaining {
            nodes: self.up_per_zone.values().sum(),
            zones: self.up_per_zone.len(),
        }
    }

    /// The zone `node` counts in among the remaining nodes, if it does.
    fn up_zone(&self, node: &str) -> Option<String> {
        self.view
            .members
            .get(node)
            .filter(|m| matches!(m.state, MemberState::Alive | MemberState::Dead))
            .filter(|_| !self.down.contains(node))
            .map(|m| m.zone.clone())
    }

    /// `node` counted in `before` (its zone), and counts as it is now.
    fn recount(&mut self, before: Option<String>, node: &str) {
        if let Some(z) = before
            && let Some(n) = self.up_per_zone.get_mut(&z)
        {
            *n -= 1;
            if *n == 0 {
                self.up_per_zone.remove(&z);
            }
        }
        if let Some(z) = self.up_zone(node) {
            *self.up_per_zone.entry(z).or_default() += 1;
        }
    }

    /// After a change of `node` (its member entry, or its process crashed
    /// or started), with `before` the remaining nodes before it. A
    /// partition's judgement reads the states, zones and processes of the
    /// nodes it names, their copies, and what the remaining nodes let it
    /// want: unless that moved, only the partitions naming `node` (or a
    /// node whose copies changed since the last recheck) can have changed.
    fn recheck_node(&mut self, t: SimTime, node: &str, before: Remaining) {
        let Some(s) = &self.view.settings else { return };
        let want = |r: Remaining| {
            let want = s.rf.min(r.nodes);
            (want, want.min(r.zones))
        };
        if want(before) != want(self.remaining()) {
            self.recheck(t, None);
            return;
        }
        let changed = std::mem::take(&mut self.copies_changed);
        let named: BTreeSet<u32> = std::iter::once(node)
            .chain(changed.iter().map(String::as_str))
            .filter_map(|n| self.view.named.get(n))
            .flatten()
            .copied()
            .collect();
        self.recheck_in(t, named);
    }

    fn recheck_in(&mut self, t: SimTime, partitions: impl IntoIterator<Item = u32>) {
        let Some(s) = &self.view.settings else { return };
        let rf = s.rf;
        let remaining = self.remaining();
        debug_assert_eq!(remaining, self.view.remaining(&self.down));
        for p in partitions {
            match self
                .view
                .unconverged(p, rf, &self.copies, remaining, &self.down)
            {
                Some(why) => {
                    self.bad.insert(p, why);
                }
                None => {
                    self.bad.remove(&p);
                }
            }
        }
        if self.bad.is_empty() {
            self.since.get_or_insert(t);
        } else {
            self.since = None;
        }
    }
}

impl Checker for Converged {
    fn name(&self) -> &'static str {
        "converged"
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        let who = ev.p.name_in(names);
        let _ = self.copies.on_event(ev, names);
        if let EventKind::App(StackEvent::Replica { partition, .. }) = ev.kind {
            self.recheck(ev.t, Some(*partition));
            return;
        }
        if matches!(
            ev.kind,
            EventKind::Start | EventKind::Restart | EventKind::DiskLoss
        ) && !self.copies_changed.contains(who)
        {
            self.copies_changed.insert(who.to_string());
        }
        match ev.kind {
            EventKind::Send {
                msg: "Heartbeat", ..
            } => {
                self.last_beat.insert(who.to_string(), ev.t);
            }
            EventKind::Crash { .. } => {
                let (remaining, counted) = (self.remaining(), self.up_zone(who));
                self.down.insert(who.to_string());
                self.recount(counted, who);
                self.paused.remove(who);
                if self.view.alive(who) || self.view.state(who) == Some(MemberState::Draining) {
                    self.crashed_at.entry(who.to_string()).or_insert(ev.t);
                }
                if self.view.state(who).is_some() {
                    self.recheck_node(ev.t, who, remaining);
                }
            }
            EventKind::Start | EventKind::Restart => {
                let (remaining, counted) = (self.remaining(), self.up_zone(who));
                self.down.remove(who);
                self.recount(counted, who);
                self.crashed_at.remove(who);
                if self.view.state(who).is_some() {
                    self.recheck_node(ev.t, who, remaining);
                }
            }
            EventKind::Pause => {
                self.paused_at.insert(who.to_string(), ev.t);
                self.paused.insert(who.to_string());
            }
            EventKind::Resume => {
                if let Some(t0) = self.paused_at.remove(who) {
                    self.back
                        .insert(who.to_string(), (ev.t, ev.t.saturating_since(t0)));
                }
                self.paused.remove(who);
            }
            EventKind::Clock {
                offset_us,
                drift_ppm,
            } => {
                // The jump is what local time does at this instant: a new
                // drift moves the offset with it (a clock set to run slow
                // from now on gets a larger offset, not a jump ahead).
                let new = Clock {
                    offset_us,
                    drift_ppm,
                };
                let old = self.clocks.insert(who.to_string(), new).unwrap_or_default();
                let (before, after) = (old.local(ev.t), new.local(ev.t));
                if after > before {
                    self.back
                        .insert(who.to_string(), (ev.t, after.saturating_since(before)));
                }
            }
            EventKind::App(app) => {
                if let StackEvent::Health {
                    node,
                    state: Health::Suspect | Health::Dead,
                } = app
                    && !self.down.contains(node)
                    && !self.paused.contains(node)
                {
                    self.false_suspicions += 1;
                }
                // A monitor's decision is its proposal (its view of a member
                // its stale map still holds dead is no decision).
                if let StackEvent::Raft(RaftEvent::Append { entry, .. }) = app
                    && let Some(node) = entry.strip_prefix("MarkDead ")
                    && !self.down.contains(node)
                    && !self.paused.contains(node)
                    && self.hasty.is_none()
                    && let Some((at, away)) = self.back.get(who)
                    && away.as_micros() * 2 > self.dead_after.as_micros()
                    && self.sent_lately(node, ev.t)
                    && self.within_grace(who, *at, ev.t)
                {
                    self.hasty = Some(format!(
                        "{who} proposed {node} dead at {:.3}s, {} ms after coming back from {} ms away, though {node} was up and running: it judged silence it was not there to hear",
                        ev.t.0 as f64 / 1e6,
                        ev.t.saturating_since(*at).as_micros() / 1000,
                        away.as_micros() / 1000
                    ));
                }
                if let StackEvent::PlacementConfig { dead_after_us, .. } = app {
                    self.dead_after = SimDuration(*dead_after_us);
                }
                let (remaining, counted) = match app {
                    StackEvent::Member { node, .. } => (self.remaining(), self.up_zone(node)),
                    _ => (self.remaining(), None),
                };
                match self.view.on_event(app) {
                    Some(Change::Partition { p, .. }) => self.recheck(ev.t, Some(p)),
                    Some(Change::Member { node, before, now }) => {
                        self.recount(counted, &node);
                        if now == Some(MemberState::Dead) && before != Some(MemberState::Dead) {
                            if let Some(t0) = self.crashed_at.remove(&node) {
                                if self.detection_us.len() < MAX_SAMPLES {
                                    self.detection_us.push(ev.t.0.saturating_sub(t0.0));
                                }
                            } else if !self.down.contains(&node) && !self.paused.contains(&node) {
                                self.false_deaths += 1;
                            }
                        }
                        self.recheck_node(ev.t, &node, remaining);
                    }
                    None => {
                        if matches!(app, StackEvent::PlacementConfig { .. })
                            && self.bad.is_empty()
                            && self.since.is_none()
                        {
                            self.recheck(ev.t, None);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        if self.view.settings.is_none() {
            return; // not a partition-manager run
        }
        if let Some(detail) = self.hasty.take() {
            out.push(Violation {
                check: "converged",
                detail,
            });
            return;
        }
        let deadline = match end.deadline {
            Some(d) => d,
            None => {
                let d = end.healed_at + CONVERGE_GRACE;
                if d > end.now {
                    return;
                }
                d
            }
        };
        let detail = match (self.since, self.bad.first_key_value()) {
            (_, Some((_, why))) => Some(format!(
                "not converged {} ({} partitions off; first: {why})",
                if end.now == deadline {
                    format!("at the deadline {:.3}s", deadline.0 as f64 / 1e6)
                } else {
                    "at the end".to_string()
                },
                self.bad.len()
            )),
            (Some(t), None) if t > deadline => Some(format!(
                "converged only at {:.3}s, after the deadline {:.3}s",
                t.0 as f64 / 1e6,
                deadline.0 as f64 / 1e6
            )),
            (None, None) => Some("never converged".to_string()),
            _ => None,
        };
        if let Some(detail) = detail {
            out.push(Violation {
                check: "converged",
                detail,
            });
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let ms: Vec<f64> = self
            .detection_us
            .iter()
            .map(|&us| us as f64 / 1000.0)
            .collect();
        let max = ms
            .iter()
            .copied()
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        vec![
            ("failure_detection_ms".into(), json!(ms)),
            ("failure_detection_ms_max".into(), json!(max)),
            ("false_suspicions".into(), json!(self.false_suspicions)),
            ("false_deaths".into(), json!(self.false_deaths)),
        ]
    }
}

// ---------------------------------------------------------------------------

/// One membership change and the replica moves that followed it.
#[derive(Clone, Debug, PartialEq)]
struct ChangeWindow {
    what: String,
    ideal: f64,
    moves: u64,
    join: bool,
}

/// `balanced`: at the end of a converged run, no alive member hosts (by
/// its own events) more than ⌈(1+ε)·share⌉ replicas, its share being its
/// part by capacity of all `P·min(RF, alive)` replicas — or, where zone
/// spread puts a replica of every partition in every zone, at least its
/// part by capacity of its zone's `P` (a zone with fewer nodes must carry
/// as much as the others). Written from the design, not from the planner.
///
/// Metrics: `load_max`, `load_mean`, `load_max_over_mean` at the end;
/// `replica_moves` (replicas added to partitions already placed);
/// `moves_per_change` — per membership change (a join, a death, a drain),
/// the moves until the next change against the ideal (RF·P/N for a join
/// to N nodes, or a dead node's return; the node's replicas for a death or
/// a drain) — and `join_moves_over_ideal_max`.
#[derive(Debug, Default)]
pub struct Balanced {
    view: MapView,
    copies: Copies,
    moves: u64,
    windows: Vec<ChangeWindow>,
}

impl Checker for Balanced {
    fn name(&self) -> &'static str {
        "balanced"
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        let _ = self.copies.on_event(ev, names);
        let EventKind::App(app) = ev.kind else { return };
        // The node's load before the change (for the ideal of a death or drain).
        let load_before = match app {
            StackEvent::Member { node, .. } => self.view.named.get(node).map_or(0, |ps| {
                ps.iter()
                    .filter(|p| self.view.parts[p].nodes().any(|n| n == node))
                    .count()
            }) as f64,
            _ => 0.0,
        };
        match self.view.on_event(app) {
            Some(Change::Partition { old, p }) => {
                if old.in_sync.is_empty() && old.catching_up.is_empty() {
                    return; // initial placement moves no data
                }
                let new = &self.view.parts[&p];
                let added = new
                    .nodes()
                    .filter(|n| !old.nodes().any(|m| m == *n))
                    .count() as u64;
                self.moves += added;
                if let Some(w) = self.windows.last_mut() {
                    w.moves += added;
                }
            }
            Some(Change::Member { node, before, now }) => {
                let placed = !self.view.parts.is_empty();
                let window = match (before, now) {
                    (None, Some(MemberState::Alive)) if placed => {
                        let (Some(s), n) = (&self.view.settings, self.view.alive_count()) else {
                            return;
                        };
                        let ideal =
                            (s.rf.min(n) as f64) * f64::from(s.partitions) / n.max(1) as f64;
                        Some(ChangeWindow {
                            what: format!("join {node}"),
                            ideal,
                            moves: 0,
                            join: true,
                        })
                    }
                    (Some(b), Some(MemberState::Dead)) if b != MemberState::Dead => {
                        Some(ChangeWindow {
                            what: format!("dead {node}"),
                            ideal: load_before,
                            moves: 0,
                            join: false,
                        })
                    }
                    (Some(MemberState::Dead), Some(MemberState::Alive)) => {
                        let (Some(s), n) = (&self.view.settings, self.view.alive_count()) else {
                            return;
                        };
                        let ideal =
                            (s.rf.min(n) as f64) * f64::from(s.partitions) / n.max(1) as f64;
                        Some(ChangeWindow {
                            what: format!("return {node}"),
                            ideal,
                            moves: 0,
                            join: false,
                        })
                    }
                    (Some(MemberState::Alive), Some(MemberState::Draining)) => Some(ChangeWindow {
                        what: format!("drain {node}"),
                        ideal: load_before,
                        moves: 0,
                        join: false,
                    }),
                    _ => None,
                };
                if let Some(w) = window
                    && self.windows.len() < MAX_CHANGES
                {
                    self.windows.push(w);
                }
            }
            None => {}
        }
    }

    fn finish(&mut self, _end: &EndOfRun, out: &mut Vec<Violation>) {
        let Some(s) = &self.view.settings else { return };
        // Judged on the leader's own count of alive members (a shortfall
        // against the nodes that remain is `converged`'s to report).
        let (remaining, nobody) = (self.view.alive_remaining(), BTreeSet::new());
        let converged = (0..s.partitions).all(|p| {
            self.view
                .unconverged(p, s.rf, &self.copies, remaining, &nobody)
                .is_none()
        });
        if !converged {
            return; // `converged` says why
        }
        let alive: Vec<(&str, &Mem)> = self
            .view
            .members
            .iter()
            .filter(|(_, m)| m.state == MemberState::Alive)
            .map(|(n, m)| (n.as_str(), m))
            .collect();
        let caps = load_caps(&alive, s);
        let loads: Vec<u64> = alive.iter().map(|(n, _)| self.copies.load(n)).collect();
        let total: u64 = loads.iter().sum();
        for (((node, _), cap), load) in alive.iter().zip(caps).zip(loads) {
            if load > cap {
                out.push(Violation {
                    check: "balanced",
                    detail: format!(
                        "{node} hosts {load} replicas, above its cap {cap} (mean {:.1}, max_imbalance {})",
                        total as f64 / alive.len().max(1) as f64,
                        s.max_imbalance
                    ),
                });
                return;
            }
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let loads = self.view.loads();
        let total: u64 = loads.values().sum();
        let mean = if loads.is_empty() {
            0.0
        } else {
            total as f64 / loads.len() as f64
        };
        let max = loads.values().copied().max().unwrap_or(0);
        let ratio = if mean > 0.0 {
            Some(round3(max as f64 / mean))
        } else {
            None
        };
        let changes: Vec<serde_json::Value> = self
            .windows
            .iter()
            .map(|w| {
                json!({
                    "change": w.what,
                    "moves": w.moves,
                    "ideal": round3(w.ideal),
                    "ratio": if w.ideal > 0.0 { Some(round3(w.moves as f64 / w.ideal)) } else { None },
                })
            })
            .collect();
        let join_max = self
            .windows
            .iter()
            .filter(|w| w.join && w.ideal > 0.0)
            .map(|w| round3(w.moves as f64 / w.ideal))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        vec![
            ("load_max".into(), json!(max)),
            ("load_mean".into(), json!(round3(mean))),
            ("load_max_over_mean".into(), json!(ratio)),
            ("replica_moves".into(), json!(self.moves)),
            ("moves_per_change".into(), json!(changes)),
            ("join_moves_over_ideal_max".into(), json!(join_max)),
        ]
    }
}

/// The most replicas each of `alive` may host (see [`Balanced`]).
fn load_caps(alive: &[(&str, &Mem)], s: &Settings) -> Vec<u64> {
    let partitions = f64::from(s.partitions);
    let rf = s.rf.min(alive.len());
    let capacity = |m: &Mem| f64::from(m.capacity.max(1));
    let all: f64 = alive.iter().map(|(_, m)| capacity(m)).sum();
    let mut by_zone: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, m) in alive {
        *by_zone.entry(m.zone.as_str()).or_default() += capacity(m);
    }
    // Zone spread wants min(RF, zones) zones per partition; when that is
    // every zone, each zone holds a replica of every partition.
    let every_zone = rf >= by_zone.len();
    alive
        .iter()
        .map(|(_, m)| {
            let mut share = partitions * rf as f64 * capacity(m) / all.max(1.0);
            if every_zone {
                let zone = by_zone.get(m.zone.as_str()).copied().unwrap_or(1.0);
                share = share.max(partitions * capacity(m) / zone.max(1.0));
            }
            ((1.0 + s.max_imbalance) * share).ceil().max(1.0) as u64
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["m1", "n1", "n2", "n3", "n4", "n9"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn feed(c: &mut dyn Checker, evs: &[(u32, EventKind<'_, StackEvent>)]) -> Vec<Violation> {
        let names = names();
        let mut out = Vec::new();
        for (seq, (p, kind)) in evs.iter().enumerate() {
            let ev = Event {
                t: SimTime(seq as u64 * 1000),
                p: ProcessId(*p),
                seq: seq as u64,
                cause: None,
                kind: kind.clone(),
            };
            c.on_event(&ev, &names, &mut out);
        }
        out
    }

    fn config() -> StackEvent {
        StackEvent::PlacementConfig {
            policy: "rendezvous-bounded".into(),
            replication_factor: 2,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
            partitions: 1,
            dead_after_us: 1_000_000,
        }
    }

    fn member(node: &str, state: MemberChange, zone: &str, version: u64) -> StackEvent {
        StackEvent::Member {
            node: node.into(),
            state,
            zone: zone.into(),
            capacity: 1,
            version,
        }
    }

    fn replica(
        state: ReplicaState,
        epoch: u64,
        complete: bool,
        source: Option<&str>,
    ) -> StackEvent {
        StackEvent::Replica {
            partition: 0,
            state,
            epoch,
            complete,
            source: source.map(String::from),
        }
    }

    fn part(epoch: u64, in_sync: &[&str], catching_up: &[&str]) -> StackEvent {
        StackEvent::Partition {
            partition: 0,
            epoch,
            version: epoch + 10,
            in_sync: in_sync.iter().map(|s| s.to_string()).collect(),
            catching_up: catching_up.iter().map(|s| s.to_string()).collect(),
            primary: in_sync.first().map(|s| s.to_string()),
        }
    }

    /// After every change of a member (its entry, or its process crashing
    /// or restarting), `converged` (which rechecks only the partitions a
    /// change can touch) holds exactly what judging every partition again
    /// gives — over a seeded walk of member changes, configurations,
    /// replica reports, crashes, restarts and disk losses.
    #[test]
    fn converged_rechecks_after_a_member_change_equal_a_full_recheck() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let nodes = ["n1", "n2", "n3", "n4", "n9"];
        let zones = ["a", "b", "c"];
        let partitions = 6u32;
        let config = StackEvent::PlacementConfig {
            policy: "rendezvous-bounded".into(),
            replication_factor: 2,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
            partitions,
            dead_after_us: 1_000_000,
        };
        let names = names();
        let mut conv = Converged::default();
        let mut out = Vec::new();
        let (mut version, mut epoch) = (0u64, 0u64);
        for seq in 0..3_000u64 {
            let app;
            let who = 1 + next(5) as u32; // n1..n4, n9
            let kind = match (seq, next(10)) {
                (0, _) => {
                    app = config.clone();
                    EventKind::App(&app)
                }
                (_, 0..=2) => {
                    version += 1;
                    let state = [
                        MemberChange::Joined,
                        MemberChange::Alive,
                        MemberChange::Dead,
                        MemberChange::Draining,
                        MemberChange::Removed,
                    ][next(5) as usize];
                    let (node, zone) = (nodes[next(5) as usize], zones[next(3) as usize]);
                    app = member(node, state, zone, version);
                    EventKind::App(&app)
                }
                (_, 3..=4) => {
                    epoch += 1;
                    let pick = |k: u64| nodes[k as usize % nodes.len()].to_string();
                    let base = next(5);
                    let in_sync: Vec<String> = (0..next(3)).map(|i| pick(base + i)).collect();
                    let catching_up: Vec<String> =
                        (0..next(2)).map(|i| pick(base + 3 + i)).collect();
                    app = StackEvent::Partition {
                        partition: next(u64::from(partitions)) as u32,
                        epoch,
                        version: epoch,
                        primary: in_sync.first().cloned().filter(|_| next(4) > 0),
                        in_sync,
                        catching_up,
                    };
                    EventKind::App(&app)
                }
                (_, 5..=7) => {
                    app = StackEvent::Replica {
                        partition: next(u64::from(partitions)) as u32,
                        state: [
                            ReplicaState::Primary,
                            ReplicaState::Backup,
                            ReplicaState::CatchingUp,
                            ReplicaState::Stored,
                            ReplicaState::Removed,
                        ][next(5) as usize],
                        epoch: epoch.saturating_sub(next(2)),
                        complete: next(3) > 0,
                        source: None,
                    };
                    EventKind::App(&app)
                }
                (_, 8) => {
                    if next(2) == 0 {
                        EventKind::Restart
                    } else {
                        EventKind::DiskLoss
                    }
                }
                _ => EventKind::Crash { lost_writes: 0 },
            };
            let ev = Event {
                t: SimTime(seq * 1000),
                p: ProcessId(who),
                seq,
                cause: None,
                kind,
            };
            conv.on_event(&ev, &names, &mut out);
            let member = conv.view.state(ev.p.name_in(&names)).is_some();
            if matches!(ev.kind, EventKind::App(StackEvent::Member { .. }))
                || (member && matches!(ev.kind, EventKind::Crash { .. } | EventKind::Restart))
            {
                let remaining = conv.view.remaining(&conv.down);
                assert_eq!(conv.remaining(), remaining, "after event {seq}");
                let full: BTreeMap<u32, String> = (0..partitions)
                    .filter_map(|p| {
                        let why = conv
                            .view
                            .unconverged(p, 2, &conv.copies, remaining, &conv.down);
                        why.map(|w| (p, w))
                    })
                    .collect();
                assert_eq!(conv.bad, full, "after event {seq}");
            }
        }
    }

    #[test]
    fn map_monotonic_flags_an_older_version_within_an_incarnation() {
        let (v5, v3) = (
            StackEvent::Map { version: 5 },
            StackEvent::Map { version: 3 },
        );
        let ok = [
            (1, EventKind::App(&v5)),
            (1, EventKind::Restart),
            (1, EventKind::App(&v3)),
        ];
        assert!(feed(&mut MapMonotonic::default(), &ok).is_empty());
        let bad = [(1, EventKind::App(&v5)), (1, EventKind::App(&v3))];
        let v = feed(&mut MapMonotonic::default(), &bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].detail, "n1 applied map version 3 after version 5");
    }

    #[test]
    fn placement_wants_make_before_break() {
        let c = config();
        let (a, b, cc) = (
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            member("n3", MemberChange::Joined, "a", 3),
        );
        let (p1, p2, p3_good, p3_bad) = (
            part(1, &["n1", "n2"], &[]),
            part(2, &["n1", "n2"], &["n3"]),
            part(3, &["n1", "n2", "n3"], &[]),
            part(3, &["n1"], &["n3"]),
        );
        let base = [
            (0, EventKind::App(&c)),
            (0, EventKind::App(&a)),
            (0, EventKind::App(&b)),
            (0, EventKind::App(&cc)),
            (0, EventKind::App(&p1)),
            (0, EventKind::App(&p2)),
        ];
        let mut good = base.to_vec();
        good.push((0, EventKind::App(&p3_good)));
        assert!(feed(&mut Placement::default(), &good).is_empty());
        let mut bad = base.to_vec();
        bad.push((0, EventKind::App(&p3_bad)));
        let v = feed(&mut Placement::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("in-sync replica on live n2 removed"),
            "{}",
            v[0].detail
        );
        // Removing a dead node's replica is fine.
        let dead = member("n2", MemberChange::Dead, "b", 5);
        let mut ok = base.to_vec();
        ok.push((0, EventKind::App(&dead)));
        ok.push((0, EventKind::App(&p3_bad)));
        assert!(feed(&mut Placement::default(), &ok).is_empty());
        // Two replicas on one node.
        let dup = part(4, &["n1", "n1"], &[]);
        let v = feed(
            &mut Placement::default(),
            &[(0, EventKind::App(&c)), (0, EventKind::App(&dup))],
        );
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn placement_keeps_the_zone_spread() {
        let c = config();
        let ms = [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            member("n3", MemberChange::Joined, "a", 3),
        ];
        let (p1, p2) = (
            part(1, &["n1", "n2", "n3"], &[]),
            part(2, &["n1", "n3"], &[]),
        );
        let held = replica(ReplicaState::Backup, 1, true, None);
        let mut evs = vec![(0, EventKind::App(&c))];
        evs.extend(ms.iter().map(|m| (0, EventKind::App(m))));
        evs.push((0, EventKind::App(&p1)));
        evs.extend((1..=3).map(|n| (n, EventKind::App(&held))));
        evs.push((0, EventKind::App(&p2)));
        let v = feed(&mut Placement::default(), &evs);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("narrowed its zones from 2 to 1"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn placement_follows_every_copy_back_to_a_transfer() {
        let c = config();
        let placed = part(1, &["n1", "n2"], &[]);
        let genesis = replica(ReplicaState::Backup, 1, true, None);
        let fetching = replica(ReplicaState::CatchingUp, 2, false, None);
        let copied = replica(ReplicaState::CatchingUp, 2, true, Some("n1"));
        let conjured = replica(ReplicaState::Backup, 3, true, None);
        let from_nobody = replica(ReplicaState::CatchingUp, 2, true, Some("n4"));
        let base = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&genesis)),
            (2, EventKind::App(&genesis)),
            (3, EventKind::App(&fetching)),
        ];
        let mut ok = base.clone();
        ok.push((3, EventKind::App(&copied)));
        assert!(feed(&mut Placement::default(), &ok).is_empty());
        for bad in [&conjured, &from_nobody] {
            let mut evs = base.clone();
            evs.push((3, EventKind::App(bad)));
            let v = feed(&mut Placement::default(), &evs);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(
                v[0].detail.starts_with("n3 reports a complete copy of p0"),
                "{}",
                v[0].detail
            );
        }
        // Every copy lost to disks: a new start from nothing is fine.
        let mut lost = base.clone();
        lost.push((1, EventKind::DiskLoss));
        lost.push((2, EventKind::DiskLoss));
        lost.push((3, EventKind::App(&conjured)));
        assert!(feed(&mut Placement::default(), &lost).is_empty());
    }

    #[test]
    fn placement_flags_the_last_copy_dropped() {
        let c = config();
        let placed = part(1, &["n1", "n2"], &[]);
        let held = replica(ReplicaState::Backup, 1, true, None);
        let removed = replica(ReplicaState::Removed, 2, false, None);
        let mut evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&held)),
            (2, EventKind::App(&held)),
            (1, EventKind::App(&removed)),
        ];
        assert!(feed(&mut Placement::default(), &evs).is_empty());
        // n2 crashed: its disk still holds the copy.
        evs.push((2, EventKind::Crash { lost_writes: 0 }));
        assert!(feed(&mut Placement::default(), &evs).is_empty());
        evs.push((2, EventKind::App(&removed)));
        let v = feed(&mut Placement::default(), &evs);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("lost its last complete copy"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn auth_flags_a_member_without_the_cluster_key() {
        let good = StackEvent::Credentials {
            key_id: "aaaa".into(),
        };
        let bad = StackEvent::Credentials {
            key_id: "bbbb".into(),
        };
        let c = config();
        let j1 = member("n1", MemberChange::Joined, "a", 1);
        let j9 = member("n9", MemberChange::Joined, "a", 2);
        let evs = [
            (0, EventKind::App(&good)),
            (0, EventKind::App(&c)),
            (1, EventKind::App(&good)),
            (5, EventKind::App(&bad)),
            (0, EventKind::App(&j1)),
        ];
        assert!(feed(&mut Auth::default(), &evs).is_empty());
        let mut evs = evs.to_vec();
        evs.push((0, EventKind::App(&j9)));
        let v = feed(&mut Auth::default(), &evs);
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.starts_with("n9 became a member"));
    }

    #[test]
    fn converged_wants_the_target_by_the_deadline() {
        let c = config();
        let ms = [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
        ];
        let placed = part(1, &["n1", "n2"], &[]);
        let (r1, r2) = (
            replica(ReplicaState::Primary, 1, true, None),
            replica(ReplicaState::Backup, 1, true, None),
        );
        let mut evs = vec![(0, EventKind::App(&c))];
        evs.extend(ms.iter().map(|m| (0, EventKind::App(m))));
        evs.push((0, EventKind::App(&placed)));
        evs.push((1, EventKind::App(&r1)));
        evs.push((2, EventKind::App(&r2)));
        let mut conv = Converged::default();
        assert!(feed(&mut conv, &evs).is_empty());
        let end = |d: u64| EndOfRun {
            now: SimTime(10_000_000),
            healed_at: SimTime::ZERO,
            deadline: Some(SimTime(d)),
            leader_deadline: None,
            voters: None,
        };
        let mut out = Vec::new();
        conv.finish(&end(5_000_000), &mut out);
        assert!(out.is_empty(), "{out:?}");
        conv.finish(&end(1_000), &mut out);
        assert_eq!(out.len(), 1, "converged at 5 ms, after a 1 ms deadline");
        // A partition still catching up at the end is not converged.
        let moving = part(2, &["n1"], &["n2"]);
        let mut conv = Converged::default();
        let mut evs2 = evs.clone();
        evs2.push((0, EventKind::App(&moving)));
        feed(&mut conv, &evs2);
        let mut out = Vec::new();
        conv.finish(&end(5_000_000), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].detail.contains("catching up"), "{}", out[0].detail);
    }
}
