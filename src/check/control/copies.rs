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
    /// Nodes holding a complete copy of `p` (crashed ones included).
    pub(super) fn holders(&self, p: u32) -> Vec<&str> {
        self.held.get(&p).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(_, c)| c.intact())
                .map(|(n, _)| n.as_str())
                .collect()
        })
    }

    /// True when some node holds a complete copy of `p` (crashed ones
    /// included): [`Copies::holders`] is not empty.
    pub(super) fn has_holder(&self, p: u32) -> bool {
        self.held
            .get(&p)
            .is_some_and(|m| m.values().any(NodeCopy::intact))
    }

    /// True when `node` holds a complete copy of `p` by its own word.
    fn holds(&self, p: u32, node: &str) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(NodeCopy::intact)
    }

    /// True when `node` says it holds `p` in full, in sync, at `epoch`,
    /// and has not found it damaged since (or has repaired it).
    pub(super) fn serves(&self, p: u32, node: &str, epoch: u64) -> bool {
        self.held
            .get(&p)
            .and_then(|m| m.get(node))
            .is_some_and(|c| {
                c.complete
                    && c.intact()
                    && c.epoch == epoch
                    && matches!(c.state, ReplicaState::Primary | ReplicaState::Backup)
            })
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
        let before = self.holds(p, node);
        let mut violation = None;
        if state == ReplicaState::Primary {
            let by_epoch = self.primaries.entry(p).or_default();
            by_epoch.insert(epoch, node.to_string());
            while by_epoch.len() > PRIMARY_EPOCHS_KEPT {
                by_epoch.pop_first();
            }
        }
        if complete && !before {
            let lineage = self.lineage.get(&p);
            let sourced =
                source.is_some_and(|s| self.holds(p, s) || lineage.is_some_and(|l| l.contains(s)));
            let genesis = self.genesis.get_mut(&p).is_some_and(|g| g.remove(node));
            if !sourced && !genesis && self.has_holder(p) {
                violation = Some((
                    p,
                    format!(
                        "{node} reports a complete copy of p{p} (epoch {epoch}) {}, while {} hold the data",
                        match source {
                            Some(s) => format!("copied from {s}, which held none"),
                            None => "without any transfer".to_string(),
                        },
                        self.holders(p).join(",")
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
            // Not calling a copy complete is not dropping it: only a
            // removal (or a disk loss) ends a whole copy, and damage
            // suspends it until a repair (or the node's word).
            let (was_whole, was_damaged) = copies
                .get(node)
                .map_or((false, false), |c| (c.whole, c.damaged));
            let copy = NodeCopy {
                state,
                epoch,
                complete,
                whole: complete || was_whole,
                damaged: was_damaged && !complete,
            };
            match copies.get_mut(node) {
                Some(c) => *c = copy,
                None => {
                    copies.insert(node.to_string(), copy);
                }
            }
        }
        if complete {
            let l = self.lineage.entry(p).or_default();
            if !l.contains(node) {
                l.insert(node.to_string());
            }
        }
        let none_left = !self.has_holder(p);
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
