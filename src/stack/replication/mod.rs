//! ReplicationManager: primary-backup replication of each partition's cells,
//! with the configuration (replicas, primary, epoch, in-sync set) held in
//! the committed cluster map — PacificA / Kafka-ISR style.
//!
//! **Roles.** A data node acts as a partition's primary only while the map
//! it applied names it primary, lists it in sync, and its epoch is not
//! lower than any epoch the node accepted from elsewhere. Every other
//! replica is a follower.
//!
//! **Writes.** The primary orders writes and compare-and-sets into the
//! partition's log, appends each durably (write + fsync), and sends it to
//! every other replica. It acknowledges the client only when every replica
//! the map lists in sync — and every catching-up replica it has itself
//! declared caught up, for the rest of the epoch, across restarts of the
//! replica's node — has persisted the entry (the commit index).
//!
//! **Epochs.** Every replica message carries the partition's epoch; a
//! replica rejects an epoch lower than the highest it knows (from its map
//! or from a message), so a deposed primary can never gather the acks it
//! needs. At each new epoch the primary first installs its whole state on
//! every follower (the state is a tile of cells: small), and a follower
//! accepts entries only in the epoch of the install it follows — so a
//! follower's log can never keep a suffix the new primary does not have.
//!
//! **Reads.** Linearizable: the primary notes the value and its last index
//! when the read arrives, asks every in-sync follower to confirm the epoch,
//! and answers once all confirmed and the noted index is committed.
//!
//! **Exactly once.** The log carries each client's request id; the state
//! keeps each client's last applied request, so a retry (same id) gets the
//! first answer instead of a second effect — on this primary or the next.
//!
//! ```text
//!   client ──Request──► primary: append+fsync ──Replicate──► followers: append+fsync
//!                                │ ◄────────────────Ack──────────────┘
//!                                └─ every in-sync replica acked ──► Served event ──► Response
//! ```
//!
//! **Files.** This one holds the replicas of a node and their roles (map
//! updates, start, audit); `primary.rs` the primary side (requests, commit,
//! pushes, confirmations, resends); `follower.rs` the follower side
//! (replicates, installs, confirmations answered); `scrub.rs` the
//! background check of stored checksums and the repair of damaged copies;
//! `wire.rs` the messages; `tests.rs` a harness of data nodes without
//! managers, and its tests.

mod follower;
mod primary;
mod scrub;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::BTreeMap;

use crate::sim::{Cx, Process, ProcessId, SimDuration, TimerId};

use super::events::StackEvent;
use super::grid::ClusterMap;
use super::node_id::NodeId;
use super::planted::{Bug, Planted};
use super::storage::{PartitionState, PartitionStore};

use primary::{Follower, Primary};
pub use wire::{
    Ack, AckStatus, ClientOp, DataMsg, DataTimer, Outcome, Replicate, Request, Response,
};

/// A process that can host the data plane (a data node's replicas, or a
/// workload client): its messages and timers wrap the data plane's, so this
/// file needs nothing of the process type that hosts it.
pub trait DataHost:
    Process<Event = StackEvent, Msg: From<DataMsg>, Timer: From<DataTimer>>
{
}

impl<P> DataHost for P where
    P: Process<Event = StackEvent, Msg: From<DataMsg>, Timer: From<DataTimer>>
{
}

/// How soon a primary resends what a follower has not acknowledged; each
/// resend that brings no progress doubles the wait, up to
/// [`RESEND_AFTER_MAX`], and an acknowledgement that moves on resets it.
pub const RESEND_AFTER: SimDuration = SimDuration::from_millis(30);
/// The longest wait between resends to one follower (a follower behind a
/// slow disk is not sent one more install per tick while it writes the
/// last).
pub const RESEND_AFTER_MAX: SimDuration = SimDuration::from_millis(480);
/// The replication tick.
const TICK: SimDuration = SimDuration::from_millis(10);
/// Entries per replicate message, at most.
const MAX_BATCH: usize = 64;
/// Pending client operations per partition, at most (more are refused).
const MAX_PENDING: usize = 1024;

#[derive(Clone, Debug)]
struct Replica {
    store: PartitionStore,
    damaged: bool,
    /// The epoch of the install this follower follows.
    synced: Option<u64>,
    /// The epoch in which the primary declared this replica caught up.
    caught_up: Option<u64>,
    primary: Option<Primary>,
    /// Who sent the install this follower follows (`synced`): the node
    /// its cells came from.
    installed_from: Option<String>,
}

impl Replica {
    /// What a heartbeat reports of this replica.
    fn standing(&self) -> Standing {
        Standing {
            damaged: self.damaged,
            caught_up: self
                .caught_up
                .filter(|e| !self.damaged && self.synced == Some(*e)),
            vouched: !self.damaged && (self.caught_up.is_some() || self.primary.is_some()),
        }
    }
}

/// What a data node's heartbeat reports of its replica of a partition
/// (see [`ReplicationManager::standings`]); a partition with no replica
/// here stands as the default.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// See [`ReplicationManager::damaged`].
    pub damaged: bool,
    /// The epoch in which [`ReplicationManager::caught_up`] holds, if any.
    pub caught_up: Option<u64>,
    /// See [`ReplicationManager::vouched`].
    pub vouched: bool,
}

/// Sends a data message (a helper: every send here is one).
fn send<P: DataHost>(cx: &mut Cx<'_, P>, to: ProcessId, m: DataMsg) {
    cx.send(to, P::Msg::from(m));
}

/// The replicas of one data node.
pub struct ReplicationManager {
    me: NodeId,
    planted: Planted,
    parts: BTreeMap<u32, Replica>,
    ticking: bool,
    /// The replication tick's pending timer, while `ticking`.
    tick_timer: Option<TimerId>,
    /// The scrub's pending timer.
    scrub_timer: Option<TimerId>,
    /// Where the scrub's next round starts: partition, record.
    scrub_at: (u32, u64),
    /// (partition, epoch) in which a replica here became one that every
    /// acknowledgement needs (primary, or follower told it is caught up),
    /// since the node last took them: it records them on its disk, in the
    /// same step, before any acknowledgement of that epoch leaves.
    newly_synced: Vec<(u32, u64)>,
    /// This incarnation's boot id (set at start).
    boot: Option<u32>,
}

impl ReplicationManager {
    /// The data plane of node `me`.
    pub fn new(me: &str, planted: Planted) -> Self {
        ReplicationManager {
            me: NodeId::from(me),
            planted,
            parts: BTreeMap::new(),
            ticking: false,
            tick_timer: None,
            scrub_timer: None,
            scrub_at: (0, 0),
            newly_synced: Vec::new(),
            boot: None,
        }
    }

    /// At start, as incarnation `boot`: reload every partition the disk holds.
    pub fn on_start<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, boot: u32) {
        self.boot = Some(boot);
        let trusting = self.planted.has(Bug::ServeCorrupt);
        let (parts, rebuilt) = PartitionStore::on_disk(cx.disk());
        if rebuilt {
            cx.reached("replica: damaged list of stored partitions rebuilt by a scan");
        }
        for p in parts {
            let r = PartitionStore::reload_with(cx.disk(), p, trusting);
            if r.damaged {
                cx.trace(StackEvent::Damaged {
                    partition: p,
                    found: "reload".into(),
                });
            }
            self.parts.insert(
                p,
                Replica {
                    store: r.store,
                    damaged: r.damaged,
                    synced: None,
                    caught_up: None,
                    primary: None,
                    installed_from: None,
                },
            );
        }
        self.arm_scrub(cx);
    }

    /// True when this node holds partition `p` caught up in `epoch`: what
    /// its heartbeat reports, so that the managers count it in sync.
    pub fn caught_up(&self, p: u32, epoch: u64) -> bool {
        self.parts
            .get(&p)
            .is_some_and(|r| r.standing().caught_up == Some(epoch))
    }

    /// The standing of each replica here, in partition order: what
    /// `damaged`, `caught_up` and `vouched` say of it, for a heartbeat
    /// that walks its own partitions beside this rather than searching
    /// each three times.
    pub fn standings(&self) -> impl Iterator<Item = (u32, Standing)> + '_ {
        self.parts.iter().map(|(&p, r)| (p, r.standing()))
    }

    /// True when the replica of `p` holds the partition's data: it took an
    /// install from a primary, or leads the partition (its store is the
    /// partition) — not a store created empty for a copy that waits for
    /// its first install, and not a damaged one. A bulk transfer of the
    /// partition's bytes alone does not make a copy whole: the cells come
    /// with the install.
    pub fn holds(&self, p: u32) -> bool {
        self.parts
            .get(&p)
            .is_some_and(|r| !r.damaged && r.synced.is_some())
    }

    /// The node whose install the replica of `p` holds (its cells came
    /// from there), when it holds one (see [`ReplicationManager::holds`])
    /// taken from another node.
    pub fn installed_from(&self, p: u32) -> Option<&str> {
        self.parts
            .get(&p)
            .filter(|r| !r.damaged && r.synced.is_some())
            .and_then(|r| r.installed_from.as_deref())
    }

    /// True when the replica of `p` holds a copy that a primary declared
    /// caught up, or that led the partition, in this incarnation (and is
    /// not damaged): it holds every write acknowledged up to its synced
    /// epoch, whether or not a bulk transfer of the partition finished.
    pub fn vouched(&self, p: u32) -> bool {
        self.parts.get(&p).is_some_and(|r| r.standing().vouched)
    }

    /// The epochs in which a replica here became one that every
    /// acknowledgement needs, since the last call (see `newly_synced`).
    pub fn take_synced(&mut self) -> Vec<(u32, u64)> {
        std::mem::take(&mut self.newly_synced)
    }

    /// True when this node hosts a replica of `p` known to be damaged
    /// (waiting to be rebuilt: it counts for nothing).
    pub fn damaged(&self, p: u32) -> bool {
        self.parts.get(&p).is_some_and(|r| r.damaged)
    }

    /// The partitions whose replica here is known to be damaged, in order.
    pub fn damaged_partitions(&self) -> Vec<u32> {
        self.parts
            .iter()
            .filter(|(_, r)| r.damaged)
            .map(|(&p, _)| p)
            .collect()
    }

    /// True when this node has a store of `p` (a replica, or a stray),
    /// whatever it holds.
    pub fn has_store(&self, p: u32) -> bool {
        self.parts.contains_key(&p)
    }

    /// True when the replica of `p` is not known to be damaged.
    pub fn intact(&self, p: u32) -> bool {
        self.parts.get(&p).is_some_and(|r| !r.damaged)
    }

    fn persist_parts<P: DataHost>(&self, cx: &mut Cx<'_, P>) {
        let list: Vec<u32> = self.parts.keys().copied().collect();
        PartitionStore::write_parts(cx.disk(), &list);
    }

    /// The node applied a newer map: take up or drop replicas and roles.
    /// A store the map no longer lists here is erased unless `keep` says
    /// the node keeps it as a stray (see
    /// [`ReplicaReport::stray`](crate::stack::cluster::ReplicaReport::stray)):
    /// then it stays, serving nothing, until [`Self::release`].
    pub fn on_map<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        map: &ClusterMap,
        keep: &dyn Fn(u32) -> bool,
    ) {
        let me = self.me.clone();
        // Sorted, from the map's index of who each partition lists (built
        // once per map version for every node), not from a scan of every
        // partition by every node.
        let listed_parts = map.partitions.naming(&me);
        let mut changed = false;
        let (strays, gone): (Vec<u32>, Vec<u32>) = self
            .parts
            .keys()
            .copied()
            .filter(|p| listed_parts.binary_search(p).is_err())
            .partition(|p| keep(*p));
        for p in strays {
            // Fenced at the map's epoch, and no role.
            self.reconcile(cx, map, p);
        }
        for p in gone {
            if let Some(mut r) = self.parts.remove(&p) {
                Self::step_down(cx, &mut r, map, p);
            }
            PartitionStore::erase(cx.disk(), p);
            changed = true;
        }
        for &p in listed_parts {
            if let std::collections::btree_map::Entry::Vacant(e) = self.parts.entry(p) {
                let mut store = PartitionStore::empty(p);
                // Listed in sync as it is created: placed in sync from
                // nothing (a new partition's first replicas; a node that
                // restarted or lost its disk is listed catching up again
                // before it acts on a map). Like the node's own report,
                // the store says it holds the data.
                let in_sync = map.partitions[p as usize]
                    .replicas
                    .iter()
                    .any(|r| r.node == me && r.in_sync);
                if in_sync {
                    store.mark_whole(cx.disk(), map.partitions[p as usize].epoch);
                }
                e.insert(Replica {
                    store,
                    damaged: false,
                    synced: None,
                    caught_up: None,
                    primary: None,
                    installed_from: None,
                });
                changed = true;
            }
            self.reconcile(cx, map, p);
        }
        if changed {
            self.persist_parts(cx);
        }
        cx.disk().fsync();
        self.arm(cx);
    }

    fn arm<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        if !self.ticking && self.parts.values().any(|r| r.primary.is_some()) {
            self.start_tick(cx);
        }
    }

    /// Sets the tick's timer (not armed now).
    fn start_tick<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        self.ticking = true;
        self.tick_timer = Some(cx.set_timer(TICK, P::Timer::from(DataTimer::Tick)));
    }

    /// The node's clock was set back (timers fire on local time, DESIGN
    /// §2: those armed before would fire that much later): the tick and
    /// the scrub are armed again from now, and the times kept of sends,
    /// resends and read rounds that now lie ahead of the clock are taken
    /// as now (else nothing would be resent until the clock caught up).
    pub fn clock_set_back<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        let now = cx.now();
        for r in self.parts.values_mut() {
            if let Some(pr) = r.primary.as_mut() {
                for f in pr.followers.values_mut() {
                    f.last_send = f.last_send.map(|t| t.min(now));
                    f.refilled = f.refilled.map(|(i, t)| (i, t.min(now)));
                }
                for rd in &mut pr.reads {
                    rd.asked = rd.asked.min(now);
                }
            }
        }
        if let Some(t) = self.tick_timer.take() {
            cx.cancel_timer(t);
            self.tick_timer = Some(cx.set_timer(TICK, P::Timer::from(DataTimer::Tick)));
        }
        if let Some(t) = self.scrub_timer.take() {
            cx.cancel_timer(t);
            self.arm_scrub(cx);
        }
    }

    fn reconcile<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, map: &ClusterMap, p: u32) {
        let planted = self.planted;
        let me = self.me.clone();
        let Some(c) = map.partitions.get(p as usize) else {
            return;
        };
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        let listed_in_sync = c.replicas.iter().any(|x| x.node == me && x.in_sync);
        // The map started the partition again here, as its primary, in an
        // epoch that records a loss (`lost_at`): re-seeded from this copy,
        // or from nothing.
        let restarted_here = c.primary.as_deref() == Some(me.as_str())
            && listed_in_sync
            && c.epoch > r.store.epoch
            && c.lost_at == Some(c.epoch);
        let vouched = r.caught_up.is_some() || r.primary.is_some();
        let whole = r.store.whole().is_some();
        if restarted_here && !r.damaged && (vouched || whole) {
            // Re-seeded from this whole copy, with writes acknowledged
            // after it lost with every copy that held them: any cell it
            // holds may be behind such a write. They stay (a copy is never
            // made smaller than it is), without a known value until written
            // again (`lost_below`). A copy whose every cell is already
            // unknown (re-seeded so before, and written nothing since) is
            // kept as it is: it used to be wiped below, dropping
            // acknowledged writes it held in full (no-bug hunt seed 2, run
            // 2,343).
            if r.store.state().index > r.store.state().lost_below {
                cx.reached("replica: re-seeded from a copy behind lost writes");
                let mut state = r.store.state().clone();
                state.lost_below = state.index;
                r.store.install(cx.disk(), state, c.epoch);
            }
        } else if restarted_here && (r.damaged || *r.store.state() != PartitionState::default()) {
            // Started again empty here (every copy was lost): a copy found
            // damaged (it can never lead, and nothing intact is left to
            // rebuild it from), or what this replica took while catching
            // up, never declared caught up (it may be behind any
            // acknowledged write), is not served as the partition, which
            // starts from nothing. (A copy declared caught up holds every
            // write acknowledged to its epoch, and is kept: `durability`
            // counts it a holder.)
            r.store
                .install(cx.disk(), PartitionState::default(), c.epoch);
            if std::mem::take(&mut r.damaged) {
                r.synced = None;
                r.installed_from = None;
            }
        }
        let lead = c.primary.as_deref() == Some(me.as_str())
            && listed_in_sync
            && !r.damaged
            && c.epoch >= r.store.epoch;
        if c.epoch > r.store.epoch {
            // Fencing: from now on this replica refuses the older epoch.
            cx.reached("replica: epoch raised by a map update");
            r.store.raise_epoch(cx.disk(), c.epoch);
        }
        if !lead {
            if r.primary.is_some() {
                Self::step_down(cx, r, map, p);
            }
            return;
        }
        let same = r.primary.as_ref().is_some_and(|pr| pr.epoch == c.epoch);
        if same {
            // A follower still catching up whose node restarted within the
            // epoch (a new boot in the map; one in sync would have been
            // demoted, raising the epoch) lost what it was sent and told:
            // it starts over, install and declaration included. Otherwise
            // a primary with no new write would count it declared for
            // ever and never tell it again.
            // One that counted for acknowledgements keeps counting for the
            // rest of the epoch: its disk may record the epoch as synced
            // (declared caught up), and a re-seed trusts that record to
            // mean it holds every write acknowledged in the epoch. Writes
            // wait for its ack again, as they did while it was down
            // (no-bug hunt seed 17, run 10,563: n2, declared caught up on
            // p1 in epoch 4, crashed and came back; n4 then acknowledged a
            // write of epoch 4 alone, and a re-seed from n2's copy, synced
            // in epoch 4, dropped it).
            let mut restarted = Vec::new();
            if let Some(pr) = r.primary.as_mut() {
                for (n, f) in pr.followers.iter_mut().filter(|(_, f)| !f.in_sync) {
                    let boot = map.members.get(n).map(|m| m.boot);
                    if boot != f.boot {
                        f.boot = boot;
                        f.told = false;
                        f.acked = None;
                        f.sent = None;
                        f.last_send = None;
                        f.resend_after = RESEND_AFTER;
                        f.refilled = None;
                        restarted.push(n.clone());
                    }
                }
            }
            for n in restarted {
                cx.reached("replica: restarted follower caught up again");
                Self::push(cx, r, p, &n, true);
            }
            return;
        }
        // A new epoch with this node as primary: every follower gets this
        // epoch's install before any entry.
        let mut followers = BTreeMap::new();
        for x in &c.replicas {
            if x.node == me {
                continue;
            }
            followers.insert(
                x.node.clone(),
                Follower {
                    id: cx.lookup(&x.node),
                    required: x.in_sync,
                    in_sync: x.in_sync,
                    acked: None,
                    sent: None,
                    last_send: None,
                    resend_after: RESEND_AFTER,
                    told: x.in_sync,
                    from: 0,
                    refilled: None,
                    boot: map.members.get(&x.node).map(|m| m.boot),
                },
            );
        }
        let (writes, reads, commit, next_id) = match r.primary.take() {
            Some(old) => (old.writes, old.reads, old.commit, old.next_id),
            None => (Vec::new(), Vec::new(), 0, 0),
        };
        r.synced = Some(c.epoch);
        r.installed_from = None;
        self.newly_synced.push((p, c.epoch));
        r.store.mark_whole(cx.disk(), c.epoch);
        let mut pr = Primary {
            epoch: c.epoch,
            commit,
            followers,
            writes,
            reads,
            next_id,
            declare_at_once: planted.has(Bug::FinishMoveBeforeCatchUp),
            lost: c.lost_at.is_some(),
        };
        // Reads waiting from the previous epoch ask again in this one.
        let reads = std::mem::take(&mut pr.reads);
        r.primary = Some(pr);
        for mut rd in reads {
            rd.first = Self::confirm_round(cx, r, p);
            rd.waiting = Self::in_sync_followers(r);
            rd.asked = cx.now();
            if let Some(pr) = r.primary.as_mut() {
                pr.reads.push(rd);
            }
        }
        Self::push_all(cx, r, p, true);
        Self::advance(cx, planted, &me, r, p);
    }

    /// A data message arrived.
    pub fn on_message<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: DataMsg,
        map: &ClusterMap,
    ) {
        match msg {
            DataMsg::Request(req) => self.on_request(cx, from, req, map),
            DataMsg::Replicate(rep) => self.on_replicate(cx, from, rep, map),
            DataMsg::Ack(a) => self.on_ack(cx, from, a, map),
            DataMsg::Confirm {
                partition,
                epoch,
                id,
            } => self.on_confirm(cx, from, partition, epoch, id, map),
            DataMsg::Confirmed {
                partition,
                epoch,
                id,
                ok,
            } => self.on_confirmed(cx, from, partition, epoch, id, ok, map),
            DataMsg::Response(_) => {}
        }
    }

    /// The node lets go of its stray copy of `p` (the leader released it):
    /// its store is erased.
    pub fn release<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, map: &ClusterMap, p: u32) {
        if let Some(mut r) = self.parts.remove(&p) {
            Self::step_down(cx, &mut r, map, p);
            PartitionStore::erase(cx.disk(), p);
            self.persist_parts(cx);
            cx.disk().fsync();
        }
    }

    /// At the end of a run: what this node holds, as a `holding` event per
    /// partition the map lists it in (what the durability checker judges;
    /// a stray is no replica).
    pub fn audit<P: DataHost>(&self, cx: &mut Cx<'_, P>, map: &ClusterMap) {
        let listed = |p: u32| {
            map.partitions
                .get(p as usize)
                .is_some_and(|c| c.replicas.iter().any(|x| x.node == self.me))
        };
        for (p, r) in self.parts.iter().filter(|(p, _)| listed(**p)) {
            let in_sync = !r.damaged
                && map
                    .partitions
                    .get(*p as usize)
                    .is_some_and(|c| c.replicas.iter().any(|x| x.node == self.me && x.in_sync));
            cx.trace(StackEvent::Holding {
                partition: *p,
                in_sync,
                index: r.store.index(),
                cells: r
                    .store
                    .state()
                    .cells
                    .iter()
                    .map(|(c, (v, i))| [*c, *v, *i])
                    .collect(),
            });
        }
    }
}
