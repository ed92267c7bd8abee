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
//! declared caught up — has persisted the entry (the commit index).
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

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::{Cx, Process, ProcessId, SimDuration, SimTime};

use super::events::{OpF, StackEvent};
use super::grid::ClusterMap;
use super::planted::{Bug, Planted};
use super::storage::{Command, Entry, PartitionState, PartitionStore};

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

/// How often a primary resends what a follower has not acknowledged.
pub const RESEND_AFTER: SimDuration = SimDuration::from_millis(30);
/// The replication tick.
const TICK: SimDuration = SimDuration::from_millis(10);
/// Entries per replicate message, at most.
const MAX_BATCH: usize = 64;
/// Pending client operations per partition, at most (more are refused).
const MAX_PENDING: usize = 1024;

/// A client's operation on one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// Read the cell.
    Read {
        /// Cell.
        cell: u64,
    },
    /// Write the cell.
    Write {
        /// Cell.
        cell: u64,
        /// Value.
        value: u64,
    },
    /// Compare-and-set the cell.
    Cas {
        /// Cell.
        cell: u64,
        /// The value it must hold.
        expected: u64,
        /// The value to set.
        new: u64,
    },
}

impl ClientOp {
    /// The cell.
    pub fn cell(&self) -> u64 {
        match self {
            ClientOp::Read { cell } | ClientOp::Write { cell, .. } | ClientOp::Cas { cell, .. } => {
                *cell
            }
        }
    }
    /// The operation's function name.
    pub fn f(&self) -> OpF {
        match self {
            ClientOp::Read { .. } => OpF::Read,
            ClientOp::Write { .. } => OpF::Write,
            ClientOp::Cas { .. } => OpF::Cas,
        }
    }
}

/// A client's request to a partition's primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Client number (`c3` → 3).
    pub client: u32,
    /// The client's sequence number: the request id, equal on retries.
    pub seq: u64,
    /// The partition the cell belongs to.
    pub partition: u32,
    /// What to do.
    pub op: ClientOp,
}

/// What a request got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A read's value (`None`: the cell was never written).
    Read(Option<u64>),
    /// The write or compare-and-set took effect.
    Done,
    /// The compare-and-set's expectation did not hold: nothing changed.
    CasFailed,
    /// This node is not the primary; try that one (if known).
    NotPrimary {
        /// The primary in this node's map.
        primary: Option<String>,
    },
    /// The primary is overloaded: nothing was done.
    Busy,
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's sequence number.
    pub seq: u64,
    /// The partition asked.
    pub partition: u32,
    /// The outcome.
    pub outcome: Outcome,
}

/// Primary → follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicate {
    /// Partition.
    pub partition: u32,
    /// The primary's epoch.
    pub epoch: u64,
    /// The whole state, at the start of an epoch or for a follower too far behind.
    pub install: Option<Box<PartitionState>>,
    /// Entries following the follower's last acknowledged index.
    pub entries: Vec<Entry>,
    /// The primary counts this follower among the replicas every ack needs.
    pub caught_up: bool,
}

/// Why a follower did not take a replicate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AckStatus {
    /// Persisted up to `index`.
    Ok,
    /// The follower knows a higher epoch (in the ack).
    StaleEpoch,
    /// The follower needs this epoch's install first.
    NeedInstall,
}

/// Follower → primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Partition.
    pub partition: u32,
    /// The epoch acknowledged (or the follower's higher one).
    pub epoch: u64,
    /// Last index persisted.
    pub index: u64,
    /// Outcome.
    pub status: AckStatus,
    /// The follower holds the primary's declaration that it is caught up
    /// in this epoch (the primary resends it until this says so).
    pub caught_up: bool,
}

/// The data plane's messages (bulk: `MsgClass::Bulk`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataMsg {
    /// Client → node.
    Request(Request),
    /// Node → client.
    Response(Response),
    /// Primary → follower.
    Replicate(Replicate),
    /// Follower → primary.
    Ack(Ack),
    /// Primary → in-sync follower: is `epoch` still current?
    Confirm {
        /// Partition.
        partition: u32,
        /// The primary's epoch.
        epoch: u64,
        /// Round number.
        id: u64,
    },
    /// Follower → primary.
    Confirmed {
        /// Partition.
        partition: u32,
        /// The epoch asked about.
        epoch: u64,
        /// Round number.
        id: u64,
        /// True when the follower knows no higher epoch.
        ok: bool,
    },
}

impl DataMsg {
    /// The message's name in traces.
    pub fn name(&self) -> &'static str {
        match self {
            DataMsg::Request(_) => "Request",
            DataMsg::Response(_) => "Response",
            DataMsg::Replicate(r) if r.install.is_some() => "Install",
            DataMsg::Replicate(_) => "Replicate",
            DataMsg::Ack(_) => "ReplicaAck",
            DataMsg::Confirm { .. } => "Confirm",
            DataMsg::Confirmed { .. } => "Confirmed",
        }
    }
}

/// The data plane's timers (replication on nodes, operations on clients).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DataTimer {
    /// A node's replication tick (resends).
    Tick,
    /// A client's next operation is due.
    Issue,
    /// A client resends request `seq`.
    Retry(u64),
    /// Request `seq` timed out.
    Deadline(u64),
}

impl DataTimer {
    /// The timer's name in traces.
    pub fn name(&self) -> &'static str {
        match self {
            DataTimer::Tick => "ReplTick",
            DataTimer::Issue => "Issue",
            DataTimer::Retry(_) => "OpRetry",
            DataTimer::Deadline(_) => "OpDeadline",
        }
    }
}

#[derive(Clone, Debug)]
struct Follower {
    id: Option<ProcessId>,
    /// Counts for acknowledgements (in sync in the map, or declared caught up).
    required: bool,
    /// In sync in the map (its confirmation is needed for reads).
    in_sync: bool,
    acked: Option<u64>,
    sent: Option<u64>,
    last_send: Option<SimTime>,
    /// It acknowledged holding its caught-up declaration (or needs none:
    /// it is in sync in the map).
    told: bool,
    /// The primary's last index when it became required: once it holds
    /// that, it holds every acknowledged write (later ones needed its ack).
    from: u64,
}

impl Follower {
    /// Declared caught up: required, and holding every acknowledged write.
    fn declared(&self) -> bool {
        self.required && self.acked.unwrap_or(0) >= self.from
    }
}

#[derive(Clone, Debug)]
struct PendingWrite {
    index: u64,
    client: ProcessId,
    seq: u64,
    f: OpF,
    cell: u64,
    value: u64,
    ok: bool,
}

#[derive(Clone, Debug)]
struct PendingRead {
    client: ProcessId,
    seq: u64,
    cell: u64,
    value: Option<u64>,
    need: u64,
    id: u64,
    waiting: BTreeSet<String>,
    asked: SimTime,
}

#[derive(Clone, Debug)]
struct Primary {
    epoch: u64,
    commit: u64,
    followers: BTreeMap<String, Follower>,
    writes: Vec<PendingWrite>,
    reads: Vec<PendingRead>,
    next_id: u64,
}

#[derive(Clone, Debug)]
struct Replica {
    store: PartitionStore,
    damaged: bool,
    /// The epoch of the install this follower follows.
    synced: Option<u64>,
    /// The epoch in which the primary declared this replica caught up.
    caught_up: Option<u64>,
    primary: Option<Primary>,
}

/// Sends a data message (a helper: every send here is one).
fn send<P: DataHost>(cx: &mut Cx<'_, P>, to: ProcessId, m: DataMsg) {
    cx.send(to, P::Msg::from(m));
}

/// The replicas of one data node.
pub struct ReplicationManager {
    me: String,
    planted: Planted,
    parts: BTreeMap<u32, Replica>,
    ticking: bool,
}

impl ReplicationManager {
    /// The data plane of node `me`.
    pub fn new(me: &str, planted: Planted) -> Self {
        ReplicationManager {
            me: me.to_string(),
            planted,
            parts: BTreeMap::new(),
            ticking: false,
        }
    }

    /// At start: reload every partition the disk holds.
    pub fn on_start<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        let trusting = self.planted.has(Bug::ServeCorrupt);
        let disk = cx.disk();
        for p in PartitionStore::on_disk(disk) {
            let r = PartitionStore::reload_with(disk, p, trusting);
            self.parts.insert(
                p,
                Replica {
                    store: r.store,
                    damaged: r.damaged,
                    synced: None,
                    caught_up: None,
                    primary: None,
                },
            );
        }
    }

    /// True when this node holds partition `p` caught up in `epoch`: what
    /// its heartbeat reports, so that the managers count it in sync.
    pub fn caught_up(&self, p: u32, epoch: u64) -> bool {
        self.parts
            .get(&p)
            .is_some_and(|r| !r.damaged && r.caught_up == Some(epoch) && r.synced == Some(epoch))
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
    pub fn on_map<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, map: &ClusterMap) {
        let me = self.me.clone();
        let mut listed_parts = BTreeSet::new();
        for (i, c) in map.partitions.iter().enumerate() {
            if c.replicas.iter().any(|r| r.node == me) {
                listed_parts.insert(i as u32);
            }
        }
        let mut changed = false;
        let gone: Vec<u32> = self
            .parts
            .keys()
            .copied()
            .filter(|p| !listed_parts.contains(p))
            .collect();
        for p in gone {
            if let Some(mut r) = self.parts.remove(&p) {
                Self::step_down(cx, &mut r, map, p);
            }
            PartitionStore::erase(cx.disk(), p);
            changed = true;
        }
        for p in listed_parts {
            if let std::collections::btree_map::Entry::Vacant(e) = self.parts.entry(p) {
                e.insert(Replica {
                    store: PartitionStore::empty(p),
                    damaged: false,
                    synced: None,
                    caught_up: None,
                    primary: None,
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
            self.ticking = true;
            cx.set_timer(TICK, P::Timer::from(DataTimer::Tick));
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
                    told: x.in_sync,
                    from: 0,
                },
            );
        }
        let (writes, reads, commit, next_id) = match r.primary.take() {
            Some(old) => (old.writes, old.reads, old.commit, old.next_id),
            None => (Vec::new(), Vec::new(), 0, 0),
        };
        r.synced = Some(c.epoch);
        let mut pr = Primary {
            epoch: c.epoch,
            commit,
            followers,
            writes,
            reads,
            next_id,
        };
        // Reads waiting from the previous epoch ask again in this one.
        let reads = std::mem::take(&mut pr.reads);
        r.primary = Some(pr);
        for mut rd in reads {
            rd.id = Self::confirm_round(cx, r, p);
            rd.waiting = Self::in_sync_followers(r);
            rd.asked = cx.now();
            if let Some(pr) = r.primary.as_mut() {
                pr.reads.push(rd);
            }
        }
        Self::push_all(cx, r, p, true);
        Self::advance(cx, planted, &me, r, p);
    }

    fn in_sync_followers(r: &Replica) -> BTreeSet<String> {
        r.primary
            .as_ref()
            .map(|pr| {
                pr.followers
                    .iter()
                    .filter(|(_, f)| f.in_sync)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends a confirmation round to the in-sync followers; returns its id.
    fn confirm_round<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, p: u32) -> u64 {
        let Some(pr) = r.primary.as_mut() else {
            return 0;
        };
        pr.next_id += 1;
        let id = pr.next_id;
        let epoch = pr.epoch;
        let targets: Vec<ProcessId> = pr
            .followers
            .values()
            .filter(|f| f.in_sync)
            .filter_map(|f| f.id)
            .collect();
        for t in targets {
            send(
                cx,
                t,
                DataMsg::Confirm {
                    partition: p,
                    epoch,
                    id,
                },
            );
        }
        id
    }

    fn step_down<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, map: &ClusterMap, p: u32) {
        let Some(pr) = r.primary.take() else {
            return;
        };
        let primary = map
            .partitions
            .get(p as usize)
            .and_then(|c| c.primary.clone());
        // What is pending may or may not take effect under the next
        // primary: the client retries there with the same request id.
        for w in pr.writes {
            Self::respond(
                cx,
                w.client,
                w.seq,
                p,
                Outcome::NotPrimary {
                    primary: primary.clone(),
                },
            );
        }
        for rd in pr.reads {
            Self::respond(
                cx,
                rd.client,
                rd.seq,
                p,
                Outcome::NotPrimary {
                    primary: primary.clone(),
                },
            );
        }
    }

    fn respond<P: DataHost>(
        cx: &mut Cx<'_, P>,
        to: ProcessId,
        seq: u64,
        partition: u32,
        outcome: Outcome,
    ) {
        send(
            cx,
            to,
            DataMsg::Response(Response {
                seq,
                partition,
                outcome,
            }),
        );
    }

    /// Sends every follower what it lacks (see [`push`](Self::push)).
    fn push_all<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, p: u32, resend: bool) {
        let names: Vec<String> = r
            .primary
            .as_ref()
            .map(|pr| pr.followers.keys().cloned().collect())
            .unwrap_or_default();
        for f in names {
            Self::push(cx, r, p, &f, resend);
        }
    }

    /// A replica knows a newer configuration (`epoch`): this primary is
    /// deposed, remembers the epoch durably, and answers what it held.
    fn deposed<P: DataHost>(
        cx: &mut Cx<'_, P>,
        r: &mut Replica,
        map: &ClusterMap,
        p: u32,
        epoch: u64,
    ) {
        r.store.raise_epoch(cx.disk(), epoch);
        cx.disk().fsync();
        Self::step_down(cx, r, map, p);
    }

    /// Sends follower `f` what it lacks: the install if it has none in this
    /// epoch (or is too far behind), else the entries after what it was
    /// sent (`resend`: after what it acknowledged).
    fn push<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, p: u32, f: &str, resend: bool) {
        let now = cx.now();
        let index = r.store.index();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        let epoch = pr.epoch;
        let Some(fo) = pr.followers.get_mut(f) else {
            return;
        };
        let Some(to) = fo.id else {
            return;
        };
        let from = if resend { fo.acked } else { fo.sent };
        let entries = from.and_then(|a| r.store.entries_after(a, MAX_BATCH));
        let msg = match entries {
            Some(e) if !e.is_empty() || resend => Replicate {
                partition: p,
                epoch,
                install: None,
                entries: e.to_vec(),
                caught_up: fo.declared(),
            },
            Some(_) => return,
            None => Replicate {
                partition: p,
                epoch,
                install: Some(Box::new(r.store.state.clone())),
                entries: Vec::new(),
                caught_up: fo.declared(),
            },
        };
        let last = msg.entries.last().map_or(
            if msg.install.is_some() {
                index
            } else {
                from.unwrap_or(0)
            },
            |e| e.index,
        );
        fo.sent = Some(last);
        fo.last_send = Some(now);
        send(cx, to, DataMsg::Replicate(msg));
    }

    /// The replication tick: resend what followers have not acknowledged.
    pub fn on_tick<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        self.ticking = false;
        let now = cx.now();
        let parts: Vec<u32> = self.parts.keys().copied().collect();
        for p in parts {
            let Some(r) = self.parts.get_mut(&p) else {
                continue;
            };
            let index = r.store.index();
            let once = self.planted.has(Bug::CaughtUpSentOnce);
            let due: Vec<String> = match r.primary.as_ref() {
                Some(pr) => pr
                    .followers
                    .iter()
                    // A declaration of caught up that may have been lost
                    // is sent again: it arrives with no entry to carry it.
                    .filter(|(_, f)| f.acked != Some(index) || (f.declared() && !f.told && !once))
                    .filter(|(_, f)| {
                        f.last_send
                            .is_none_or(|t| now.saturating_since(t) >= RESEND_AFTER)
                    })
                    .map(|(n, _)| n.clone())
                    .collect(),
                None => continue,
            };
            for f in due {
                Self::push(cx, r, p, &f, true);
            }
            // Reads whose confirmations were lost ask again.
            let waiting: Vec<usize> = r
                .primary
                .as_ref()
                .map(|pr| {
                    pr.reads
                        .iter()
                        .enumerate()
                        .filter(|(_, rd)| !rd.waiting.is_empty())
                        .filter(|(_, rd)| now.saturating_since(rd.asked) >= RESEND_AFTER)
                        .map(|(i, _)| i)
                        .collect()
                })
                .unwrap_or_default();
            if !waiting.is_empty() {
                let id = Self::confirm_round(cx, r, p);
                let fresh = Self::in_sync_followers(r);
                if let Some(pr) = r.primary.as_mut() {
                    for i in waiting {
                        pr.reads[i].id = id;
                        pr.reads[i].waiting = fresh.clone();
                        pr.reads[i].asked = now;
                    }
                }
            }
        }
        self.arm(cx);
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
            } => {
                let map_epoch = map
                    .partitions
                    .get(partition as usize)
                    .map_or(0, |c| c.epoch);
                let mine = self
                    .parts
                    .get(&partition)
                    .map_or(0, |r| r.store.epoch)
                    .max(map_epoch);
                send(
                    cx,
                    from,
                    DataMsg::Confirmed {
                        partition,
                        epoch: mine.max(epoch),
                        id,
                        ok: epoch >= mine,
                    },
                );
            }
            DataMsg::Confirmed {
                partition,
                epoch,
                id,
                ok,
            } => self.on_confirmed(cx, from, partition, epoch, id, ok, map),
            DataMsg::Response(_) => {}
        }
    }

    fn on_request<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        req: Request,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let p = req.partition;
        let me = self.me.clone();
        let not_primary = || Outcome::NotPrimary {
            primary: map
                .partitions
                .get(p as usize)
                .and_then(|c| c.primary.clone())
                .filter(|n| *n != me),
        };
        let Some(r) = self.parts.get_mut(&p) else {
            Self::respond(cx, from, req.seq, p, not_primary());
            return;
        };
        let Some(pr) = r.primary.as_mut() else {
            Self::respond(cx, from, req.seq, p, not_primary());
            return;
        };
        let epoch = pr.epoch;
        if pr.writes.len() + pr.reads.len() >= MAX_PENDING {
            cx.reached("replica: primary busy, request refused");
            Self::respond(cx, from, req.seq, p, Outcome::Busy);
            return;
        }
        let cell = req.op.cell();
        if let ClientOp::Read { .. } = req.op {
            let value = r.store.state.value(cell);
            if self.planted.has(Bug::ReadWithoutConfirm) {
                // The planted bug: answer from local state, epoch unconfirmed.
                cx.trace(StackEvent::Served {
                    partition: p,
                    epoch,
                    f: OpF::Read,
                    key: cell,
                    value,
                    index: r.store.index(),
                    copies: Vec::new(),
                });
                Self::respond(cx, from, req.seq, p, Outcome::Read(value));
                return;
            }
            let need = r.store.index();
            let id = Self::confirm_round(cx, r, p);
            let waiting = Self::in_sync_followers(r);
            if let Some(pr) = r.primary.as_mut() {
                pr.reads.push(PendingRead {
                    client: from,
                    seq: req.seq,
                    cell,
                    value,
                    need,
                    id,
                    waiting,
                    asked: cx.now(),
                });
            }
            Self::advance(cx, planted, &me, r, p);
            return;
        }
        // A retry of a request already in the log: answer it, or wait for it.
        if let Some(a) = r.store.state.dedup.get(&req.client).copied() {
            if a.seq > req.seq {
                cx.reached("replica: request older than the client's latest ignored");
                return; // older than what the client does now: ignore
            }
            if a.seq == req.seq {
                if a.index <= pr.commit {
                    cx.reached("replica: retry answered from the dedup table");
                    let out = if a.ok {
                        Outcome::Done
                    } else {
                        Outcome::CasFailed
                    };
                    Self::respond(cx, from, req.seq, p, out);
                } else if let Some(w) = pr.writes.iter_mut().find(|w| w.index == a.index) {
                    w.client = from;
                } else {
                    // Appended by an earlier epoch of this node, not pending:
                    cx.reached("replica: retry of a write an earlier epoch appended");
                    // it commits with this epoch's install.
                    let (f, value) = Self::described(&req.op);
                    pr.writes.push(PendingWrite {
                        index: a.index,
                        client: from,
                        seq: req.seq,
                        f,
                        cell,
                        value,
                        ok: a.ok,
                    });
                    pr.writes.sort_by_key(|w| w.index);
                }
                return;
            }
        }
        let command = match req.op {
            ClientOp::Write { cell, value } => Command::Write { cell, value },
            ClientOp::Cas {
                cell,
                expected,
                new,
            } => Command::Cas {
                cell,
                expected,
                new,
            },
            ClientOp::Read { .. } => return,
        };
        let entry = Entry {
            index: r.store.index() + 1,
            epoch,
            client: req.client,
            seq: req.seq,
            command,
        };
        let index = entry.index;
        let ok = r.store.append(cx.disk(), entry);
        if !self.planted.has(Bug::SkipPrimaryFsync) {
            cx.disk().fsync();
        }
        let (f, value) = Self::described(&req.op);
        if let Some(pr) = r.primary.as_mut() {
            pr.writes.push(PendingWrite {
                index,
                client: from,
                seq: req.seq,
                f,
                cell,
                value,
                ok,
            });
        }
        Self::push_all(cx, r, p, false);
        Self::advance(cx, planted, &me, r, p);
    }

    fn described(op: &ClientOp) -> (OpF, u64) {
        match *op {
            ClientOp::Read { .. } => (OpF::Read, 0),
            ClientOp::Write { value, .. } => (OpF::Write, value),
            ClientOp::Cas { new, .. } => (OpF::Cas, new),
        }
    }

    /// Moves the commit index and answers what it covers.
    fn advance<P: DataHost>(
        cx: &mut Cx<'_, P>,
        planted: Planted,
        me: &str,
        r: &mut Replica,
        p: u32,
    ) {
        let index = r.store.index();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        let mut commit = index;
        for f in pr.followers.values().filter(|f| f.required) {
            commit = commit.min(f.acked.unwrap_or(0));
        }
        if planted.has(Bug::AckBeforeBackups) {
            // The planted bug: the primary's own disk is enough.
            commit = index;
        }
        if commit > pr.commit {
            pr.commit = commit;
        }
        let commit = pr.commit;
        let epoch = pr.epoch;
        let copies: Vec<String> = std::iter::once(me.to_string())
            .chain(
                pr.followers
                    .iter()
                    .filter(|(_, f)| f.required)
                    .map(|(n, _)| n.clone()),
            )
            .collect();
        let done = pr.writes.partition_point(|w| w.index <= commit);
        let answered: Vec<PendingWrite> = pr.writes.drain(..done).collect();
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) = std::mem::take(&mut pr.reads)
            .into_iter()
            .partition(|rd| rd.waiting.is_empty() && rd.need <= commit);
        pr.reads = waiting;
        for w in answered {
            if w.ok {
                cx.trace(StackEvent::Served {
                    partition: p,
                    epoch,
                    f: w.f,
                    key: w.cell,
                    value: Some(w.value),
                    index: w.index,
                    copies: copies.clone(),
                });
            }
            let out = if w.ok {
                Outcome::Done
            } else {
                Outcome::CasFailed
            };
            Self::respond(cx, w.client, w.seq, p, out);
        }
        for rd in ready {
            cx.trace(StackEvent::Served {
                partition: p,
                epoch,
                f: OpF::Read,
                key: rd.cell,
                value: rd.value,
                index: rd.need,
                copies: Vec::new(),
            });
            Self::respond(cx, rd.client, rd.seq, p, Outcome::Read(rd.value));
        }
    }

    fn on_replicate<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        rep: Replicate,
        map: &ClusterMap,
    ) {
        let p = rep.partition;
        let map_epoch = map.partitions.get(p as usize).map_or(0, |c| c.epoch);
        let careless = self.planted.has(Bug::AcceptLowerEpoch);
        let Some(r) = self.parts.get_mut(&p) else {
            return; // not (yet) a replica here: the primary resends
        };
        let mine = r.store.epoch.max(map_epoch);
        let ack = |r: &Replica, status| Ack {
            partition: p,
            epoch: if status == AckStatus::StaleEpoch {
                mine
            } else {
                rep.epoch
            },
            index: r.store.index(),
            status,
            caught_up: status == AckStatus::Ok && r.caught_up == Some(rep.epoch),
        };
        if rep.epoch < mine && !careless {
            cx.reached("replica: replicate of a lower epoch refused");
            let a = ack(r, AckStatus::StaleEpoch);
            send(cx, from, DataMsg::Ack(a));
            return;
        }
        if r.primary.as_ref().is_some_and(|pr| pr.epoch < rep.epoch) {
            Self::step_down(cx, r, map, p);
        }
        if let Some(state) = rep.install {
            // Within one epoch the primary's log only grows, and a follower
            // synced to it holds a prefix of it: an install of that epoch
            // older than what it holds was overtaken in flight by entries
            // it already acknowledged. Taking it would drop acknowledged
            // writes while the primary counts them held.
            let stale = !r.damaged && r.synced == Some(rep.epoch) && state.index < r.store.index();
            if stale {
                cx.reached("replica: stale install overtaken by entries ignored");
            } else {
                cx.reached("replica: state transfer installed");
                r.store.install(cx.disk(), *state, rep.epoch);
            }
            r.damaged = false;
            r.synced = Some(rep.epoch);
        } else if r.synced != Some(rep.epoch) {
            cx.reached("replica: entries without a sync, install asked");
            let a = ack(r, AckStatus::NeedInstall);
            send(cx, from, DataMsg::Ack(a));
            return;
        } else {
            for e in rep.entries {
                if e.index == r.store.index() + 1 {
                    r.store.append(cx.disk(), e);
                } else if e.index > r.store.index() {
                    break; // a gap: the primary resends from the ack
                }
            }
        }
        cx.disk().fsync();
        if rep.caught_up {
            r.caught_up = Some(rep.epoch);
        }
        // Fault point: the fsync's completion comes late; the ack is held
        // back, and the primary's resend asks for it again.
        if cx.buggify("replica/hold-ack") {
            return;
        }
        let a = ack(r, AckStatus::Ok);
        send(cx, from, DataMsg::Ack(a));
    }

    fn on_ack<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        a: Ack,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let me = self.me.clone();
        let p = a.partition;
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        let index = r.store.index();
        let name = cx.name(from).to_string();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        match a.status {
            AckStatus::StaleEpoch if a.epoch > pr.epoch => {
                cx.reached("replica: primary deposed by a newer epoch");
                Self::deposed(cx, r, map, p, a.epoch);
                return;
            }
            AckStatus::StaleEpoch => return,
            AckStatus::NeedInstall => {
                if a.epoch == pr.epoch
                    && let Some(f) = pr.followers.get_mut(&name)
                {
                    f.acked = None;
                    f.sent = None;
                    Self::push(cx, r, p, &name, true);
                }
                return;
            }
            AckStatus::Ok => {}
        }
        if a.epoch != pr.epoch {
            return;
        }
        let Some(f) = pr.followers.get_mut(&name) else {
            return;
        };
        let was_declared = f.declared();
        f.acked = Some(f.acked.map_or(a.index, |x| x.max(a.index)));
        f.told |= a.caught_up;
        if !f.required && a.index + MAX_BATCH as u64 >= index {
            // Within a batch of the end: from now on every write needs its
            // ack. Waiting for it to reach the very end instead never ends
            // under steady writes.
            f.required = true;
            f.from = index;
        }
        if f.declared() && !was_declared {
            // It holds every acknowledged write: caught up, it may report
            // itself in sync.
            Self::push(cx, r, p, &name, true);
        } else if f.acked < Some(index) && f.sent <= f.acked {
            Self::push(cx, r, p, &name, false);
        }
        Self::advance(cx, planted, &me, r, p);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_confirmed<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        p: u32,
        epoch: u64,
        id: u64,
        ok: bool,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let me = self.me.clone();
        let name = cx.name(from).to_string();
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        if !ok {
            if epoch > pr.epoch {
                Self::deposed(cx, r, map, p, epoch);
            }
            return;
        }
        if epoch != pr.epoch {
            return;
        }
        for rd in pr.reads.iter_mut().filter(|rd| rd.id == id) {
            rd.waiting.remove(&name);
        }
        Self::advance(cx, planted, &me, r, p);
    }

    /// At the end of a run: what this node holds, as a `holding` event per
    /// partition (what the durability checker judges).
    pub fn audit<P: DataHost>(&self, cx: &mut Cx<'_, P>, map: &ClusterMap) {
        for (p, r) in &self.parts {
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
                    .state
                    .cells
                    .iter()
                    .map(|(c, (v, i))| [*c, *v, *i])
                    .collect(),
            });
        }
    }
}
