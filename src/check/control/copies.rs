//! What the data nodes say they hold, by their own events, and the
//! lineage of every complete copy.
//!
//! A node's word about its copy (`complete` on its latest `replica` event)
//! and the copy itself are two things: a node that registers again after
//! a crash may list its replica as catching up — say, when the record of
//! what it stores was lost — while its disk still holds every byte, and
//! the map may later re-seed the partition from that very copy. So a
//! complete copy counts as held (`whole`) from the event where its node
//! calls it complete until the node removes it (`removed`), its disk is
//! lost, or the node finds it damaged; not when the node merely stops
//! calling it complete. A damaged copy counts for nothing until it is
//! `repaired`: then it is what it was before (a copy rebuilt from the
//! node's own state was whole only if it was before the damage), or whole
//! when the repair came from another node's install.

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::{Event, EventKind};
use crate::stack::events::{ReplicaState, StackEvent};

/// One node's copy of a partition, as the node itself last traced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NodeCopy {
    pub(super) state: ReplicaState,
    pub(super) epoch: u64,
    /// The node's word on its latest event: it holds the data in full.
    pub(super) complete: bool,
    /// The node holds a complete copy: it said so, and has not removed
    /// it or lost its disk since (see `damaged`).
    pub(super) whole: bool,
    /// The node found the copy damaged and has not repaired it: it holds
    /// nothing meanwhile, whole or not.
    pub(super) damaged: bool,
}

impl NodeCopy {
    /// A whole copy not found damaged since: one that holds the data.
    fn intact(&self) -> bool {
        self.whole && !self.damaged
    }

    /// Its node says it holds the partition in full, in sync, at `epoch`,
    /// and has not found it damaged since (or has repaired it).
    pub(super) fn serves(&self, epoch: u64) -> bool {
        self.complete
            && self.intact()
            && self.epoch == epoch
            && matches!(self.state, ReplicaState::Primary | ReplicaState::Backup)
    }
}

/// What the data nodes say they hold, and where each complete copy came
/// from. A crashed node's copies stay (its disk keeps them) until a disk
/// loss takes them, the node removes them or finds them damaged.
#[derive(Clone, Debug, Default)]
pub(super) struct Copies {
    /// Per partition, per node: its copy.
    pub(super) held: BTreeMap<u32, BTreeMap<String, NodeCopy>>,
    /// Per partition: nodes that held a complete copy since the partition
    /// last had none (acceptable sources of a transfer).
    pub(super) lineage: BTreeMap<u32, BTreeSet<String>>,
    /// Per partition: the in-sync replicas of its first committed
    /// configuration that have not yet created their copy (they start from
    /// nothing: a fresh partition holds no data).
    pub(super) genesis: BTreeMap<u32, BTreeSet<String>>,
    /// Partitions ever placed (so a later configuration is not a genesis).
    pub(super) placed: BTreeSet<u32>,
    /// Per partition and epoch: the node that traced itself its primary
    /// (kept when that node's disk is lost: a declaration it sent may
    /// arrive after). Per epoch, not only the last: a node back from a
    /// pause traces the primary role of an epoch long past, and a
    /// declaration of the current epoch must still find its sender
    /// (hunt run 3,311 of `--plant abandon-unconfirmed-copy`: n4's stale
    /// `primary` of epoch 28 hid n2, primary of epoch 36, and n3's copy
    /// caught up from n2 was then called one made without any transfer).
    /// The newest [`PRIMARY_EPOCHS_KEPT`] epochs are kept.
    pub(super) primaries: BTreeMap<u32, BTreeMap<u64, String>>,
}

/// Epochs per partition whose primary [`Copies`] remembers.
const PRIMARY_EPOCHS_KEPT: usize = 32;

impl Copies {
    /// True when some node holds a complete copy of `p` (crashed ones
    /// included).
    pub(super) fn has_holder(&self, p: u32) -> bool {
        self.held.get(&p).is_some_and(any_intact)
    }

    /// True when `node` holds a complete copy of `p` by its own word.
    fn holds(&self, p: u32, node: &str) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(NodeCopy::intact)
    }

    /// True when `node` holds `p` in full (it said so and has not
    /// removed, lost or found damaged that copy since) — or it is one of
    /// the partition's first replicas and has not said anything of it yet:
    /// a fresh partition is empty, so it holds all there is even before
    /// its node instantiates it (say, when the node crashed as it was
    /// placed).
    pub(super) fn complete(&self, p: u32, node: &str) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(NodeCopy::intact)
            || self.genesis.get(&p).is_some_and(|g| g.contains(node))
    }

    /// Per node that hosts something (any state but removed, by its own
    /// word), how many partitions: one pass over the partitions, not one
    /// per node.
    pub(super) fn loads(&self) -> BTreeMap<&str, u64> {
        let mut loads = BTreeMap::new();
        for m in self.held.values() {
            for (node, c) in m {
                if c.state != ReplicaState::Stored {
                    *loads.entry(node.as_str()).or_insert(0) += 1;
                }
            }
        }
        loads
    }

    /// One event; returns a violation of copy safety (a copy made complete
    /// from nothing while the data exists elsewhere, or the last complete
    /// copy dropped), with the partition it concerns.
    pub(super) fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
    ) -> Option<(u32, String)> {
        let who = ev.p.name_in(names);
        match ev.kind {
            EventKind::Start | EventKind::Restart => {
                // What was only in memory is gone; what the disk kept is
                // stated again by the node (`stored`).
                for m in self.held.values_mut() {
                    match m.get_mut(who) {
                        Some(c) if c.whole => {
                            c.state = ReplicaState::Stored;
                            c.complete = false;
                        }
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
                self.forget_emptied_lineages();
                None
            }
            EventKind::App(StackEvent::Damaged { partition, .. }) => {
                // A fault too: the copy no longer counts (it serves nothing
                // until rebuilt), and is no source of a transfer.
                // The node's word (`complete`) stands: a `repaired` copy
                // serves again without a new `replica` event.
                if let Some(c) = self.held.get_mut(partition).and_then(|m| m.get_mut(who)) {
                    c.damaged = true;
                }
                self.forget_emptied_lineages();
                None
            }
            EventKind::App(StackEvent::Repaired { partition, source }) => {
                // Rebuilt by an install from its primary: whole. Rebuilt
                // from the node's own state: what it was before the damage
                // (a copy still catching up stays one).
                if let Some(c) = self.held.get_mut(partition).and_then(|m| m.get_mut(who)) {
                    c.damaged = false;
                    c.whole |= source != who;
                    if c.whole {
                        self.lineage
                            .entry(*partition)
                            .or_default()
                            .insert(who.to_string());
                    }
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
            EventKind::App(StackEvent::CaughtUp {
                partition, epoch, ..
            }) => {
                // The data plane's own transfer: the follower took its
                // primary's declaration that it holds every write, after
                // the primary's install and entries. The source is the
                // node that traced itself primary of that epoch; where it
                // held a whole copy, so does the follower now (its node's
                // word, `complete`, follows on its next `replica` event).
                let primary = self
                    .primaries
                    .get(partition)
                    .and_then(|by_epoch| by_epoch.get(epoch))
                    .cloned();
                // As for a transfer's source: a holder now, or one since
                // the partition last had none (the declaration may arrive
                // after its sender lost its disk).
                let lineage = self.lineage.get(partition);
                let sourced = primary.is_some_and(|s| {
                    s != who
                        && (self.holds(*partition, &s) || lineage.is_some_and(|l| l.contains(&s)))
                });
                if sourced
                    && let Some(c) = self.held.get_mut(partition).and_then(|m| m.get_mut(who))
                    && !c.intact()
                {
                    c.whole = true;
                    c.damaged = false;
                    self.lineage
                        .entry(*partition)
                        .or_default()
                        .insert(who.to_string());
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

    /// Forgets the lineage of partitions no node holds a whole copy of
    /// any more: a later copy starts a new one. A first replica that has
    /// not created its copy yet holds all there is of a fresh partition
    /// (see [`Copies::complete`]): while one is left, the partition was
    /// never without the data, and the lineage stands (no-bug hunt seed 7,
    /// run 11,258: p0's primary n4 was cut off before it heard of p0; n2
    /// pulled the chunks from n5, in sync then; n5 lost its disk, which
    /// emptied the lineage; at the heal n4 created its copy and installed
    /// on n2, and n2's copy, whole, was called one made from a source that
    /// held none).
    fn forget_emptied_lineages(&mut self) {
        let emptied: Vec<u32> = self
            .lineage
            .keys()
            .copied()
            .filter(|p| !self.has_holder(*p) && self.unborn(*p).is_none())
            .collect();
        for p in emptied {
            self.lineage.remove(&p);
        }
    }

    /// One `replica` event of `node`; returns a violation of copy safety.
    pub(super) fn on_replica(
        &mut self,
        node: &str,
        p: u32,
        state: ReplicaState,
        epoch: u64,
        complete: bool,
        source: Option<&str>,
    ) -> Option<(u32, String)> {
        // The partition's copies, looked up once (the entry is made here
        // in any case).
        let copies = self.held.entry(p).or_default();
        let before = copies.get(node).is_some_and(NodeCopy::intact);
        let mut violation = None;
        if state == ReplicaState::Primary {
            let by_epoch = self.primaries.entry(p).or_default();
            // Mostly the same node restating its role in the same epoch.
            if by_epoch.get(&epoch).is_none_or(|n| n != node) {
                by_epoch.insert(epoch, node.to_string());
            }
            while by_epoch.len() > PRIMARY_EPOCHS_KEPT {
                by_epoch.pop_first();
            }
        }
        // A first replica creating its copy: no longer unborn.
        let genesis = self.genesis.get_mut(&p).is_some_and(|g| g.remove(node));
        if complete && !before {
            let lineage = self.lineage.get(&p);
            let sourced = source.is_some_and(|s| {
                copies.get(s).is_some_and(NodeCopy::intact)
                    || lineage.is_some_and(|l| l.contains(s))
            });
            if !sourced && !genesis && any_intact(copies) {
                let holders: Vec<&str> = copies
                    .iter()
                    .filter(|(_, c)| c.intact())
                    .map(|(n, _)| n.as_str())
                    .collect();
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
        if state == ReplicaState::Removed {
            copies.remove(node);
        } else {
            // Not calling a copy complete is not dropping it: only a
            // removal (or a disk loss) ends a whole copy, and damage
            // suspends it until a repair (or the node's word).
            let restated = |was: Option<&NodeCopy>| NodeCopy {
                state,
                epoch,
                complete,
                whole: complete || was.is_some_and(|c| c.whole),
                damaged: was.is_some_and(|c| c.damaged) && !complete,
            };
            match copies.get_mut(node) {
                Some(c) => *c = restated(Some(c)),
                None => {
                    copies.insert(node.to_string(), restated(None));
                }
            }
        }
        if complete {
            let l = self.lineage.entry(p).or_default();
            if !l.contains(node) {
                l.insert(node.to_string());
            }
        }
        let none_left = !any_intact(copies);
        if before && state == ReplicaState::Removed && violation.is_none() && none_left {
            violation = Some((
                p,
                format!(
                    "p{p} lost its last complete copy: {node} dropped it (epoch {epoch}) and no other node holds one"
                ),
            ));
        }
        if none_left && self.unborn(p).is_none() {
            self.lineage.remove(&p);
        }
        violation
    }

    /// A first replica of `p` that has not created its copy yet, if any.
    fn unborn(&self, p: u32) -> Option<&String> {
        self.genesis.get(&p).and_then(|g| g.first())
    }
}

/// True when one of a partition's `copies` holds the data.
fn any_intact(copies: &BTreeMap<String, NodeCopy>) -> bool {
    copies.values().any(NodeCopy::intact)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `on_replica` as it was written with one look-up per question: what
    /// the version that looks the partition up once must equal.
    fn on_replica_by_definition(
        c: &mut Copies,
        node: &str,
        p: u32,
        state: ReplicaState,
        epoch: u64,
        complete: bool,
        source: Option<&str>,
    ) -> Option<(u32, String)> {
        let holders = |c: &Copies| -> Vec<String> {
            c.held.get(&p).map_or_else(Vec::new, |m| {
                m.iter()
                    .filter(|(_, c)| c.intact())
                    .map(|(n, _)| n.clone())
                    .collect()
            })
        };
        let before = c.holds(p, node);
        let mut violation = None;
        if state == ReplicaState::Primary {
            let by_epoch = c.primaries.entry(p).or_default();
            by_epoch.insert(epoch, node.to_string());
            while by_epoch.len() > PRIMARY_EPOCHS_KEPT {
                by_epoch.pop_first();
            }
        }
        if complete && !before {
            let lineage = c.lineage.get(&p);
            let sourced =
                source.is_some_and(|s| c.holds(p, s) || lineage.is_some_and(|l| l.contains(s)));
            let genesis = c.genesis.get_mut(&p).is_some_and(|g| g.remove(node));
            if !sourced && !genesis && c.has_holder(p) {
                violation = Some((
                    p,
                    format!(
                        "{node} reports a complete copy of p{p} (epoch {epoch}) {}, while {} hold the data",
                        match source {
                            Some(s) => format!("copied from {s}, which held none"),
                            None => "without any transfer".to_string(),
                        },
                        holders(c).join(",")
                    ),
                ));
            }
        }
        if let Some(g) = c.genesis.get_mut(&p) {
            g.remove(node);
        }
        let copies = c.held.entry(p).or_default();
        if state == ReplicaState::Removed {
            copies.remove(node);
        } else {
            let (was_whole, was_damaged) = copies
                .get(node)
                .map_or((false, false), |c| (c.whole, c.damaged));
            copies.insert(
                node.to_string(),
                NodeCopy {
                    state,
                    epoch,
                    complete,
                    whole: complete || was_whole,
                    damaged: was_damaged && !complete,
                },
            );
        }
        if complete {
            c.lineage.entry(p).or_default().insert(node.to_string());
        }
        let none_left = !c.has_holder(p);
        if before && state == ReplicaState::Removed && violation.is_none() && none_left {
            violation = Some((
                p,
                format!(
                    "p{p} lost its last complete copy: {node} dropped it (epoch {epoch}) and no other node holds one"
                ),
            ));
        }
        if none_left && c.unborn(p).is_none() {
            c.lineage.remove(&p);
        }
        violation
    }

    /// Over a seeded walk of replica reports (every state, old and new
    /// epochs, sources held or not, two nodes primary of one epoch),
    /// first placements, damage and disk losses, `on_replica` leaves the
    /// copies and finds the violations its definition does.
    #[test]
    fn on_replica_reads_as_its_definition() {
        use crate::sim::{Event, ProcessId, SimTime};
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let names: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let (mut new, mut old) = (Copies::default(), Copies::default());
        let mut violations = 0;
        for seq in 0..20_000u64 {
            let who = next(5) as u32;
            let node = names[who as usize].as_str();
            let p = next(3) as u32;
            match next(20) {
                0..=1 => {
                    // A placement (the first of a partition is its genesis).
                    let in_sync: Vec<String> =
                        names.iter().filter(|_| next(2) == 0).cloned().collect();
                    let app = StackEvent::Partition {
                        partition: p,
                        epoch: seq,
                        version: seq,
                        in_sync,
                        catching_up: vec![],
                        primary: None,
                    };
                    for c in [&mut new, &mut old] {
                        let ev = Event {
                            t: SimTime(seq),
                            p: ProcessId(who),
                            seq,
                            cause: None,
                            kind: EventKind::App(&app),
                        };
                        c.on_event(&ev, &names);
                    }
                }
                2 => {
                    let damaged = StackEvent::Damaged {
                        partition: p,
                        found: String::new(),
                    };
                    let kind = if next(2) == 0 {
                        EventKind::App(&damaged)
                    } else {
                        EventKind::DiskLoss
                    };
                    for c in [&mut new, &mut old] {
                        let ev = Event {
                            t: SimTime(seq),
                            p: ProcessId(who),
                            seq,
                            cause: None,
                            kind: kind.clone(),
                        };
                        c.on_event(&ev, &names);
                    }
                }
                _ => {
                    let state = [
                        ReplicaState::Primary,
                        ReplicaState::Backup,
                        ReplicaState::CatchingUp,
                        ReplicaState::Stored,
                        ReplicaState::Removed,
                    ][next(5) as usize];
                    let epoch = next(4);
                    let complete = next(3) > 0;
                    let source = match next(3) {
                        0 => None,
                        _ => Some(names[next(5) as usize].as_str()),
                    };
                    let got = new.on_replica(node, p, state, epoch, complete, source);
                    let want =
                        on_replica_by_definition(&mut old, node, p, state, epoch, complete, source);
                    assert_eq!(got, want, "event {seq}");
                    violations += usize::from(got.is_some());
                }
            }
            assert_eq!(format!("{new:?}"), format!("{old:?}"), "after event {seq}");
        }
        assert!(violations > 100, "{violations}");
    }
}
