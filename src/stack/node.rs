//! PartitionNode, control side: a data node registers with the managers,
//! heartbeats the leader with its replica states, applies the cluster maps
//! the leader pushes — in version order only — and hosts the replicas the
//! map gives it, catching each one up by state transfer before it counts.
//!
//! **Inputs.** Its start (or restart, with what its disk kept), envelopes
//! from managers (`Registered`, `Redirect`, `HeartbeatAck`, `MapUpdate`),
//! state-transfer messages from other nodes, and its timers.
//! **Outputs.** `Register` (retried until committed), a `Heartbeat` every
//! `heartbeat_interval` (and one at once when a catch-up completes);
//! `Fetch` / `Chunk` state transfer; `map`, `replica` and `credentials`
//! trace events; the set of partitions it holds, fsynced to its disk.
//!
//! **Invariants.** The applied map version only grows within an
//! incarnation: a delta applies only on top of the version it was cut from
//! (early ones wait in a small buffer), a full map only if newer. The node
//! acts on its assignments only in a map that names its current boot, so
//! a restarted node never trusts what the map said of its previous life. A
//! replica the map lists as catching up becomes complete only after every
//! chunk of the partition arrived from an in-sync replica; one the map lists
//! in sync and the node does not hold is a fresh partition (initial
//! placement, or a re-seed of a partition whose every copy was lost), and
//! is created complete. A copy being fetched becomes complete only by the
//! transfer, or — where the map re-seeds from it — from what the node's own
//! disk kept: never because the map says so. Every change of what the node
//! holds is traced (`replica`, with `complete` and, after a transfer, its
//! `source`), and so is what it finds on its disk at start (`stored`).
//!
//! ```text
//!   start ──► Register (retried, backoff) ──Registered──► Heartbeat every interval
//!   MapUpdate ──in order──► apply ──► for each partition: listed? ──no──► drop (removed)
//!                                           │ yes, catching up
//!                                           ▼
//!                       Fetch chunk k ──► Chunk k ──(apply time)──► … ──► complete ──► Heartbeat (report)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::sim::{Cx, Process, ProcessId, SimDuration, SimTime, TimerId};

use super::cluster::{
    ClusterConfig, Control, Kind, MapUpdate, Msg, ReplicaReport, Timer, Transfer,
};
use super::consensus::StateMachine;
use super::events::{ReplicaState, StackEvent};
use super::grid::{ClusterMap, Geometry, MapCommand, Seen};
use super::members::Hint;
use super::network::{Incoming, Limits, NetworkManager, RetryPolicy, Shared, key_id};
use super::planted::{Bug, Planted};
use super::replication::{DataMsg, DataTimer, ReplicationManager, Standing};
use super::storage::PartitionStore;

/// Disk key of the partitions this node holds in full, each with its
/// synced epoch (JSON list of `[partition, epoch or null]`).
pub const REPLICAS_KEY: &str = "node/replicas";
/// Disk key of the manager addresses this node knows (JSON list of names).
pub const MANAGERS_KEY: &str = "node/managers";
/// Bytes of data per grid cell (the size a partition's state transfer moves).
pub const BYTES_PER_CELL: u64 = 4096;
/// Bytes per state-transfer chunk.
pub const CHUNK_BYTES: u64 = 64 * 1024;
/// How fast a node writes received chunks, bytes per second: the transfer
/// takes simulated time proportional to the partition's size.
pub const APPLY_BYTES_PER_SEC: u64 = 64 * 1024 * 1024;
/// Wait for a chunk before asking again (perhaps another replica): the
/// first wait; each ask without progress doubles it, up to
/// [`FETCH_TIMEOUT_MAX`], so that a link slower than the first wait still
/// carries the transfer.
pub const FETCH_TIMEOUT: SimDuration = SimDuration::from_millis(100);
/// The longest wait for a chunk.
pub const FETCH_TIMEOUT_MAX: SimDuration = SimDuration::from_millis(1600);

/// The wait for a chunk after `tries` asks without progress.
fn fetch_timeout(tries: u32) -> SimDuration {
    let us = FETCH_TIMEOUT.as_micros() << tries.min(8);
    SimDuration(us.min(FETCH_TIMEOUT_MAX.as_micros()))
}
/// Deltas held while an earlier one is missing, at most.
const MAX_EARLY_DELTAS: usize = 32;
/// The longest wait between two registration attempts.
const REGISTER_BACKOFF_CAP: SimDuration = SimDuration::from_secs(1);

/// Where a hosted replica's data stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Data {
    /// Held in full.
    Complete,
    /// Pulling chunk `next` of `chunks` from `source`.
    Fetching {
        next: u32,
        chunks: u32,
        source: Option<ProcessId>,
        /// The chunk arrived and is being written.
        applying: bool,
        /// Fetch attempts without progress (picks another source).
        tries: u32,
        timer: Option<TimerId>,
    },
}

/// A value whose mutable accesses are counted, so that what is derived
/// from it can tell it unchanged without comparing it. Conservative: a
/// mutable access that changes nothing still counts (and a change made
/// through `value` directly does not: only for what derived data ignores).
#[derive(Debug, Default)]
struct Tracked<T> {
    value: T,
    changes: u64,
}

impl<T> Tracked<T> {
    fn new(value: T) -> Self {
        Tracked { value, changes: 0 }
    }

    /// Mutable accesses so far (an associated function, so that it never
    /// shadows a method of `T`).
    fn changes(t: &Self) -> u64 {
        t.changes
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.changes += 1;
        &mut self.value
    }
}

#[derive(Clone, Debug)]
struct Hosted {
    data: Data,
    /// The state, epoch and completeness last traced.
    traced: Option<(ReplicaState, u64, bool)>,
    /// The partition's epoch in the applied map, and whether the map lists
    /// this node in sync: what a heartbeat reports. Always describes the
    /// applied map (`reconcile` renews it at every map change), so that a
    /// heartbeat does not look each hosted partition up in the map again;
    /// changed only through a counted access of `replicas` (see
    /// [`DataNode::report_counts`]).
    view: (u64, bool),
    /// What the last `reconcile_one` of this partition left it with, which
    /// decides everything it does: when all of it is the same at the next
    /// map change, it would do nothing, and is not called.
    settled: Option<Settled>,
}

/// Everything `reconcile_one` reads of a hosted partition, as it left it.
/// It does nothing when called again on the same (it is idempotent), and
/// it reads nothing else but constants.
#[derive(Clone, Debug)]
struct Settled {
    /// The partition's configuration in the map.
    config: Seen,
    /// `data` is `Data::Complete`.
    complete: bool,
    /// `Hosted::traced`.
    traced: Option<(ReplicaState, u64, bool)>,
    /// In `on_disk`.
    stored: bool,
    /// In `synced`.
    synced: Option<u64>,
    /// The data plane found the copy damaged.
    damaged: bool,
}

/// Partition `p`'s epoch in `map`, and whether `map` lists node `me` in sync.
fn view_of(map: &ClusterMap, me: &str, p: u32) -> (u64, bool) {
    map.partitions.get(p as usize).map_or((0, false), |c| {
        (
            c.epoch,
            c.replicas.iter().any(|r| r.in_sync && r.node == me),
        )
    })
}

/// Appends one persisted `(partition, synced epoch)` pair to `out`, a JSON
/// list begun with `[`: exactly what `serde_json` writes for an element of
/// a `Vec<(u32, Option<u64>)>`, the format [`REPLICAS_KEY`] is read back in.
/// The element is written backwards into a small buffer and copied once: a
/// node writes its whole list at every change of what it holds, and a copy
/// per number and per bracket was most of the cost.
fn push_held(out: &mut Vec<u8>, p: u32, synced: Option<u64>) {
    // `,[`, a u32, `,`, a u64 (or `null`), `]`.
    let mut buf = [0u8; 2 + 10 + 1 + 20 + 1];
    let mut at = buf.len() - 1;
    buf[at] = b']';
    at = match synced {
        Some(epoch) => digits_before(&mut buf, at, epoch),
        None => {
            buf[at - 4..at].copy_from_slice(b"null");
            at - 4
        }
    };
    at -= 1;
    buf[at] = b',';
    at = digits_before(&mut buf, at, u64::from(p));
    at -= 1;
    buf[at] = b'[';
    if out.len() > 1 {
        at -= 1;
        buf[at] = b',';
    }
    out.extend_from_slice(&buf[at..]);
}

/// The list of held copies as a node last wrote it ([`REPLICAS_KEY`]): its
/// pairs, its text, and where each pair's text starts. A node writes its
/// whole list at every change of what it holds, and a change is most
/// often one pair (an epoch raised, a copy gained or lost): the next text
/// copies the runs of pairs it shares with this one at the start and at
/// the end, and encodes only what lies between.
#[derive(Debug, Default)]
struct HeldText {
    pairs: Vec<(u32, Option<u64>)>,
    /// `[`, the pairs' elements separated by `,`, `]`.
    text: Vec<u8>,
    /// Where each pair's element starts in `text`.
    starts: Vec<usize>,
}

impl HeldText {
    /// Makes `new` (sorted, as persisted) the list; returns its text,
    /// byte for byte what `serde_json` writes for it.
    fn encode(&mut self, new: Vec<(u32, Option<u64>)>) -> Vec<u8> {
        let old = &self.pairs;
        let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let suffix = (old.iter().rev().zip(new.iter().rev()))
            .take(old.len().min(new.len()) - prefix)
            .take_while(|(a, b)| a == b)
            .count();
        let mut text = Vec::with_capacity(self.text.len() + 16 * (new.len() - prefix - suffix) + 2);
        let mut starts = Vec::with_capacity(new.len());
        text.push(b'[');
        if prefix > 0 {
            // The elements and the commas between them, up to the end of
            // the last shared one.
            let end = match self.starts.get(prefix) {
                Some(next) => next - 1,
                None => self.text.len() - 1,
            };
            text.extend_from_slice(&self.text[1..end]);
            starts.extend_from_slice(&self.starts[..prefix]);
        }
        for &(p, synced) in &new[prefix..new.len() - suffix] {
            starts.push(text.len() + usize::from(text.len() > 1));
            push_held(&mut text, p, synced);
        }
        if suffix > 0 {
            if text.len() > 1 {
                text.push(b',');
            }
            let from = self.starts[old.len() - suffix];
            let to = text.len();
            starts.extend(
                self.starts[old.len() - suffix..]
                    .iter()
                    .map(|s| s - from + to),
            );
            text.extend_from_slice(&self.text[from..self.text.len() - 1]);
        }
        text.push(b']');
        self.pairs = new;
        self.starts = starts;
        self.text.clone_from(&text);
        text
    }
}

/// Writes `v` in decimal into `buf` just before index `end`; returns where
/// its first digit is.
fn digits_before(buf: &mut [u8], mut end: usize, mut v: u64) -> usize {
    loop {
        end -= 1;
        buf[end] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return end;
        }
    }
}

/// What of a data node, besides its hosted partition, decides whether
/// that partition is still as its last reconcile left it.
struct Local<'a> {
    /// `on_disk` and `synced` unchanged since the last reconcile ended.
    same: bool,
    on_disk: &'a BTreeSet<u32>,
    synced: &'a BTreeMap<u32, u64>,
    repl: Option<&'a ReplicationManager>,
}

/// True when hosted partition `p` is as the last reconcile of it left it
/// (the same configuration, data, trace, disk record and damage): a
/// reconcile of it would do nothing. Moves `h`'s seen configuration on to
/// `map`'s chunk when the configuration is the same there.
fn still_settled(h: &mut Hosted, p: u32, local: &Local<'_>, map: &ClusterMap) -> bool {
    h.settled.as_mut().is_some_and(|s| {
        s.complete == (h.data == Data::Complete)
            && s.traced == h.traced
            && (local.same
                || (s.stored == local.on_disk.contains(&p)
                    && s.synced == local.synced.get(&p).copied()))
            && local.repl.is_none_or(|r| r.damaged(p) == s.damaged)
            && map.partitions.unchanged_since(p as usize, &mut s.config)
    })
}

/// The map of a node that has applied none: one value per grid and
/// replication factor, shared by the nodes of every run on this thread (it
/// is never changed: a node replaces it, and the planted bug that changes
/// its own map copies it first). Each node built its own chunks and chunk
/// table: about 7.5 KB per node on `grid-5000`, 38 MB of its early peak.
fn empty_map(geometry: Geometry, replication_factor: u32) -> Rc<ClusterMap> {
    thread_local! {
        static EMPTY: std::cell::RefCell<Option<Rc<ClusterMap>>> =
            const { std::cell::RefCell::new(None) };
    }
    EMPTY.with_borrow_mut(|empty| match empty {
        Some(m) if m.geometry == geometry && m.replication_factor == replication_factor => {
            Rc::clone(m)
        }
        _ => {
            let m = Rc::new(ClusterMap::new(geometry, replication_factor));
            *empty = Some(Rc::clone(&m));
            m
        }
    })
}

/// A data node (or an impostor: the same node holding the wrong key).
pub struct DataNode {
    me: Rc<str>,
    zone: String,
    capacity: u32,
    interval: SimDuration,
    key_id: String,
    net: NetworkManager<Control>,
    planted: Planted,
    partition_bytes: u64,
    boot: u32,
    registered: bool,
    register_req: Option<u64>,
    heartbeat_seq: u64,
    /// The grace token of the last `HeartbeatAck`, echoed in heartbeats.
    grace_echo: u64,
    last_heartbeat: Option<SimTime>,
    /// The last heartbeat round was skipped by `node/skip-heartbeat`.
    skipped_heartbeat: bool,
    /// The heartbeat's pending timer.
    heartbeat_timer: Option<TimerId>,
    /// The latest local time a handler saw: a clock set back shows as an
    /// earlier one.
    clock_seen: SimTime,
    /// The applied map, shared with every process at this version (see
    /// [`MapUpdate::Delta`]); a node copies it only to go astray (a planted
    /// bug), never to follow the leader.
    map: Rc<ClusterMap>,
    early: BTreeMap<u64, Shared<MapUpdate>>,
    /// The replica report of the last heartbeat: the next one shares it
    /// when nothing changed (no allocation, no hashing again).
    reports: Shared<Vec<ReplicaReport>>,
    /// Where the next report is built (reused).
    scratch: Vec<ReplicaReport>,
    /// The change counts of `replicas`, `on_disk` and `synced` when
    /// `reports` was built. Without a data plane the report is a function
    /// of these three alone (the map enters only through each hosted
    /// replica's `view`): the same counts give the same report, not built
    /// again.
    report_counts: Option<[u64; 3]>,
    /// The change counts of `on_disk` and `synced` when the last
    /// `reconcile` ended: unchanged, each hosted partition's
    /// `Settled::stored` and `synced` still hold without looking them up.
    settled_counts: Option<[u64; 2]>,
    /// What the last `reconcile` left settled: the map it reconciled with,
    /// the change count of `replicas` right after its visits, and the
    /// partitions then known damaged. While all three hold, every hosted
    /// partition whose chunk the map still shares is settled as it was.
    reconciled: Option<(Rc<ClusterMap>, u64, Vec<u32>)>,
    /// The partitions `reconcile` visits (reused).
    visit: Vec<u32>,
    /// Where the applied maps' members last listed this node.
    member_hint: Hint,
    /// The list of held copies last written.
    held_text: HeldText,
    replicas: Tracked<BTreeMap<u32, Hosted>>,
    /// Partitions whose data survived on disk from a previous incarnation:
    /// a catch-up only needs the tail.
    on_disk: Tracked<BTreeSet<u32>>,
    /// Per partition hosted, the newest epoch at which this node held it in
    /// sync: listed in sync in a map naming this incarnation while its copy
    /// was whole, primary in it, or told caught up in it by its primary.
    /// It then holds every write acknowledged up to that epoch. Kept on the
    /// disk with the partitions held (`REPLICAS_KEY`), written before any
    /// acknowledgement of that epoch leaves, and reported with stored
    /// copies: a re-seed takes only the copies with the newest.
    synced: Tracked<BTreeMap<u32, u64>>,
    /// Seen itself in a map with its boot (so a later map without it means
    /// it was removed).
    was_member: bool,
    /// Removed from the map (decommissioned): it stops.
    left: bool,
    /// The data plane (replicated cells), when the run has a workload.
    repl: Option<ReplicationManager>,
}

impl DataNode {
    /// Data node `p` of the cluster.
    pub fn new(config: &ClusterConfig, p: ProcessId) -> Self {
        Self::with_key(config, p, &config.cluster_key)
    }

    /// An impostor: a node that does not hold the cluster key.
    pub fn impostor(config: &ClusterConfig, p: ProcessId) -> Self {
        let name = config
            .processes
            .get(p.index())
            .map_or("?", |(n, _)| n.as_str());
        Self::with_key(config, p, &format!("not-the-key-of-{name}"))
    }

    fn with_key(config: &ClusterConfig, p: ProcessId, key: &str) -> Self {
        let name = config
            .processes
            .get(p.index())
            .map_or("?", |(n, _)| n.as_str());
        let managers = config.of_kind(Kind::Manager);
        let g = config.geometry;
        DataNode {
            me: Rc::from(name),
            zone: config.zones.get(p.index()).cloned().unwrap_or_default(),
            capacity: config.capacities.get(p.index()).copied().unwrap_or(1),
            interval: config.timing.heartbeat_interval,
            key_id: key_id(key),
            net: NetworkManager::new(
                name,
                key.as_bytes(),
                Limits::for_heartbeat(config.timing.heartbeat_interval),
            )
            .with_managers(managers.clone())
            .accepting_only(managers),
            planted: config.planted,
            partition_bytes: u64::from(g.tile_w) * u64::from(g.tile_h) * BYTES_PER_CELL,
            boot: 0,
            registered: false,
            register_req: None,
            heartbeat_seq: 0,
            grace_echo: 0,
            last_heartbeat: None,
            skipped_heartbeat: false,
            heartbeat_timer: None,
            clock_seen: SimTime(0),
            map: empty_map(g, config.replication_factor),
            early: BTreeMap::new(),
            reports: Shared::new(Vec::new()),
            scratch: Vec::new(),
            report_counts: None,
            settled_counts: None,
            reconciled: None,
            visit: Vec::new(),
            member_hint: Hint::default(),
            held_text: HeldText::default(),
            replicas: Tracked::new(BTreeMap::new()),
            on_disk: Tracked::new(BTreeSet::new()),
            synced: Tracked::new(BTreeMap::new()),
            was_member: false,
            left: false,
            repl: (config.workload.is_some() && key == config.cluster_key)
                .then(|| ReplicationManager::new(name, config.planted)),
        }
    }

    /// At the end of a run: traces what this node holds (`holding` events).
    pub fn audit<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &self,
        cx: &mut Cx<'_, P>,
    ) {
        if let Some(r) = &self.repl
            && self.map.members.get(&self.me).map(|m| m.boot) == Some(self.boot)
        {
            r.audit(cx, &self.map);
        }
    }

    /// True once a manager confirmed the node is a member.
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// The map version applied.
    pub fn map_version(&self) -> u64 {
        self.map.version
    }

    /// This incarnation's boot id.
    pub fn boot(&self) -> u32 {
        self.boot
    }

    /// Partitions hosted, and whether each is complete.
    pub fn hosted(&self) -> Vec<(u32, bool)> {
        self.replicas
            .iter()
            .map(|(p, h)| (*p, h.data == Data::Complete))
            .collect()
    }

    fn chunks(&self) -> u32 {
        self.partition_bytes.div_ceil(CHUNK_BYTES).max(1) as u32
    }

    fn register_policy(&self) -> RetryPolicy {
        RetryPolicy {
            timeout: self.interval.max(SimDuration::from_millis(50)),
            attempts: 0,
            backoff_cap: REGISTER_BACKOFF_CAP,
        }
    }

    fn register<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        if let Some(req) = self.register_req.take() {
            self.net.cancel(cx, req);
        }
        let body = Control::Register {
            zone: self.zone.clone(),
            capacity: self.capacity,
            boot: self.boot,
        };
        let policy = self.register_policy();
        self.register_req = self.net.request_leader(cx, body, policy);
    }

    /// Starts (or restarts): a new boot id, what the disk kept, register.
    pub fn on_start<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        use crate::sim::rng::RngExt;
        self.boot = cx.rng().random::<u32>() | 1;
        self.net.set_incarnation(self.boot);
        // The manager addresses this node was given: those of the cluster
        // the day it was set up (listed before it, like `founding_nodes`
        // for a client), and those it learned in an earlier life and kept
        // on its disk. A manager added later is learned when it speaks or
        // a redirect names it, never addressed before it exists.
        let me = cx.me();
        self.net.know_only(|m| m < me);
        if let Ok(Some(bytes)) = cx.disk().get(MANAGERS_KEY)
            && let Ok(names) = serde_json::from_slice::<Vec<String>>(bytes)
        {
            for n in names {
                if let Some(m) = cx.lookup(&n) {
                    self.net.learn_manager(m);
                }
            }
            let _ = self.net.take_learned();
        }
        cx.trace(StackEvent::Credentials {
            key_id: self.key_id.clone(),
        });
        // `None`: the record fails its checksum or does not decode.
        let listed = match cx.disk().get(REPLICAS_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice::<Vec<(u32, Option<u64>)>>(bytes).ok(),
            Ok(None) => Some(Vec::new()),
            Err(_) => None,
        };
        let damaged_list = listed.is_none();
        if let Some(list) = listed {
            *self.on_disk = list.iter().map(|(p, _)| *p).collect();
            *self.synced = list
                .into_iter()
                .filter_map(|(p, e)| Some((p, e?)))
                .collect();
        }
        if let Some(r) = self.repl.as_mut() {
            r.on_start(cx, self.boot);
            if damaged_list {
                // One damaged record must not make the node forget every
                // copy its disk still holds (they would be fetched in full,
                // and never offered to re-seed a partition whose other
                // copies are gone): the copies are those whose own records
                // reload intact and say they were whole, with the epoch
                // they last were. (Without a data plane a copy leaves
                // nothing else on the disk: it is fetched again in full,
                // and no data is lost.)
                let whole = PartitionStore::whole_copies(cx.disk());
                *self.on_disk = whole.iter().map(|(p, _)| *p).collect();
                *self.synced = whole.into_iter().collect();
            }
            // A copy with a record that fails its checksum is no source (it
            // is rebuilt from a peer that holds the data, like a blank one).
            // Its synced epoch goes with it: a blank store placed again
            // later would otherwise inherit it, and `persist` lists a copy
            // with a synced epoch and an intact store as whole (no-bug hunt
            // seed 5, run 1,095: n1 found p6 damaged at a restart, was
            // listed again catching up, and its next restart reported the
            // blank store as a whole stored copy).
            let before = self.on_disk.len();
            self.on_disk.retain(|p| r.intact(*p));
            let on_disk = &self.on_disk;
            self.synced.retain(|p, _| on_disk.contains(p));
            if damaged_list || self.on_disk.len() != before {
                // The list on the disk is corrected now: it must not outlive
                // the copies it names. A damaged copy's store is rebuilt
                // blank while it waits for a peer's data, and a list still
                // naming it would have the next restart report that blank
                // as a whole stored copy.
                cx.reached("node: list of held copies corrected at restart");
                self.persist(cx);
            }
        }
        for &p in self.on_disk.iter() {
            cx.trace(StackEvent::Replica {
                partition: p,
                state: ReplicaState::Stored,
                epoch: 0,
                complete: true,
                source: None,
            });
        }
        self.register(cx);
    }

    /// A message arrived.
    pub fn on_message<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: Msg,
    ) {
        self.notice_clock(cx);
        match msg {
            Msg::Control(env) => {
                let Some(incoming) = self.net.open(cx, from, env) else {
                    return;
                };
                match incoming {
                    Incoming::Reply { req, body, .. } => self.on_reply(cx, req, body),
                    Incoming::Push {
                        body: Control::MapUpdate(u),
                        ..
                    } => self.on_map_update(cx, u),
                    _ => {}
                }
            }
            Msg::Transfer(t) => self.on_transfer(cx, from, t),
            Msg::Data(d) => {
                // A node that holds a store from its disk and has had no
                // map since it started (back from a restart, no leader
                // heard yet) takes no replication for it and confirms no
                // epoch of it: what it knew of the partitions' epochs went
                // with its memory, and a damaged copy's store, rebuilt
                // blank, fences at none. (Its first map fences it: any
                // leader's map is at least as new as what it knew.) Else a
                // primary of an epoch long past, back from a partition,
                // rebuilt such a copy and had it acknowledge writes of that
                // epoch (no-bug hunt seed 5, run 4,671: n1, primary of p4
                // in epoch 6, restarted with p4 damaged while no manager
                // quorum could register it; n5, primary in epoch 4 and cut
                // off since, installed on it at the heal, and a write
                // acknowledged by both was missing from p4's epoch-6 copy).
                // An epoch confirmation is refused before a first map even
                // without a store: a node whose disk was lost knows no
                // epoch at all, and its `ok` would confirm a deposed
                // primary's reads.
                let unfenced = self.map.version == 0
                    && match &*d {
                        DataMsg::Replicate(r) => {
                            self.repl.as_ref().is_some_and(|m| m.has_store(r.partition))
                        }
                        DataMsg::Confirm { .. } => true,
                        _ => false,
                    };
                if !unfenced {
                    if let Some(r) = self.repl.as_mut() {
                        r.on_message(cx, from, *d, &self.map);
                    }
                } else {
                    cx.reached("replica: replication before a map since the restart refused");
                }
                self.note_data_synced(cx);
            }
            _ => {}
        }
    }

    fn on_reply<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        req: u64,
        body: Control,
    ) {
        if self.net.take_learned() {
            // A manager learned (added since this node was set up): kept,
            // so that a restart still finds the group when every manager
            // it was given has been replaced.
            let names: Vec<String> = self
                .net
                .known_managers()
                .iter()
                .map(|m| cx.name(*m).to_string())
                .collect();
            let bytes = serde_json::to_vec(&names).expect("a list of names serializes");
            let disk = cx.disk();
            disk.put(MANAGERS_KEY, bytes);
            disk.fsync();
        }
        if let Control::HeartbeatAck { grace, release, .. } = &body {
            self.grace_echo = *grace;
            if !release.is_empty() {
                self.release_strays(cx, release);
            }
        }
        match body {
            Control::Registered { .. } if Some(req) == self.register_req => {
                self.register_req = None;
                self.now_registered(cx);
            }
            Control::HeartbeatAck { member: false, .. }
                if self.registered && !self.left && self.register_req.is_none() =>
            {
                // The leader does not know this incarnation (a map that
                // lost it, or a registration it never committed): again.
                self.register(cx);
            }
            _ => {}
        }
    }

    /// Drops the strays the leader released (see
    /// [`RecoveryManager::releasable`](super::recovery::RecoveryManager::releasable)),
    /// those this node's map does not give it either.
    fn release_strays<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        release: &[u32],
    ) {
        if self.drop_strays(cx, release) {
            self.persist(cx);
        }
    }

    /// Drops the strays among `partitions` (on the disk, not given to
    /// this node by its map), with their stores; true if any (to persist).
    fn drop_strays<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        partitions: &[u32],
    ) -> bool {
        let me = self.me.clone();
        let mut changed = false;
        for &p in partitions {
            let listed = self
                .map
                .partitions
                .get(p as usize)
                .is_some_and(|c| c.replicas.iter().any(|r| *r.node == *me));
            if listed || self.replicas.contains_key(&p) || !self.on_disk.contains(&p) {
                continue;
            }
            cx.reached("node: stale replica of an earlier incarnation dropped");
            self.on_disk.remove(&p);
            self.synced.remove(&p);
            if let Some(r) = self.repl.as_mut() {
                r.release(cx, &self.map, p);
            }
            cx.trace(StackEvent::Replica {
                partition: p,
                state: ReplicaState::Removed,
                epoch: self.map.partitions.get(p as usize).map_or(0, |c| c.epoch),
                complete: false,
                source: None,
            });
            changed = true;
        }
        changed
    }

    /// The node is a member: heartbeats start.
    fn now_registered<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        if !self.registered {
            self.registered = true;
            self.send_heartbeat(cx);
            self.heartbeat_timer = Some(cx.set_timer(self.interval, Timer::Heartbeat));
        }
    }

    /// Timers fire on local time (DESIGN §2): when this node's clock was
    /// set back by more than a heartbeat interval, the timers it armed
    /// before would fire that much later — an hour's step back would keep
    /// it silent for the hour, and the managers would find it dead. It
    /// sees the step (a handler runs at an earlier local time than the
    /// last one did) and arms its periodic timers again from now: the
    /// heartbeat, the catch-up fetches, the data plane's tick and scrub.
    #[inline]
    fn notice_clock<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let now = cx.now();
        let seen = std::mem::replace(&mut self.clock_seen, now);
        if now.as_micros() + self.interval.as_micros() < seen.as_micros() {
            self.clock_set_back(cx, now);
        }
    }

    /// The clock was set back (see [`notice_clock`](Self::notice_clock)):
    /// kept apart, so that the check every handler makes is a compare, not
    /// a call that saves every register this needs.
    #[cold]
    fn clock_set_back<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        now: SimTime,
    ) {
        cx.reached("node: clock set back, timers armed again");
        self.last_heartbeat = self.last_heartbeat.map(|t| t.min(now));
        if let Some(t) = self.heartbeat_timer.take() {
            cx.cancel_timer(t);
            self.heartbeat_timer = Some(cx.set_timer(self.interval, Timer::Heartbeat));
        }
        let fetching: Vec<u32> = self
            .replicas
            .iter()
            .filter(|(_, h)| matches!(h.data, Data::Fetching { timer: Some(_), .. }))
            .map(|(p, _)| *p)
            .collect();
        for p in fetching {
            let fresh = cx.set_timer(FETCH_TIMEOUT, Timer::CatchUp(p));
            if let Some(Hosted {
                data: Data::Fetching { timer, .. },
                ..
            }) = self.replicas.get_mut(&p)
                && let Some(old) = timer.replace(fresh)
            {
                cx.cancel_timer(old);
            }
        }
        if let Some(r) = self.repl.as_mut() {
            r.clock_set_back(cx);
        }
    }

    /// Builds the replica report into `reports` (a new shared value only
    /// when it differs from the last one).
    fn build_report(&mut self) {
        self.scratch.clear();
        // `on_disk` and `synced` are sorted by partition like `replicas`:
        // walked beside it, not searched once per replica (a heartbeat per
        // node per interval, each over every replica it hosts).
        let mut on_disk = self.on_disk.iter().copied().peekable();
        let mut synced = self.synced.iter().peekable();
        // So are the data plane's replicas (`None`: no data plane).
        let mut standings = self.repl.as_ref().map(|r| r.standings().peekable());
        let mut kept_hosted = 0;
        self.scratch.extend(self.replicas.iter().map(|(p, h)| {
            while on_disk.next_if(|d| d < p).is_some() {}
            let kept = on_disk.next_if_eq(p).is_some();
            kept_hosted += usize::from(kept);
            while synced.next_if(|(q, _)| *q < p).is_some() {}
            let synced_epoch = synced.next_if(|(q, _)| *q == p).map(|(_, e)| *e);
            let standing = standings.as_mut().map(|all| {
                while all.next_if(|(q, _)| q < p).is_some() {}
                all.next_if(|(q, _)| q == p)
                    .map_or_else(Standing::default, |(_, s)| s)
            });
            let (epoch, listed) = h.view;
            let damaged = standing.is_some_and(|s| s.damaged);
            // With a data plane, a replica holds the data in full only
            // once its primary declared it caught up in this epoch.
            let data = standing.is_none_or(|s| {
                // A copy the scrub found damaged counts for nothing until
                // it is rebuilt.
                !s.damaged
                    && (listed
                        || s.caught_up == Some(epoch)
                        || self.planted.has(Bug::InSyncWithoutTransfer))
            });
            ReplicaReport {
                partition: *p,
                epoch,
                in_sync: h.data == Data::Complete && data,
                // A whole copy, perhaps behind: kept from an earlier
                // incarnation, or transferred and not yet declared
                // caught up (a re-seed must not pass it over), or declared
                // caught up by its primary before its bulk transfer ended.
                stored: (kept || h.data == Data::Complete || standing.is_some_and(|s| s.vouched))
                    && !damaged,
                synced: synced_epoch,
                damaged,
                stray: false,
            }
        }));
        // Strays: on the disk, not hosted (the map does not give them to
        // this node); whole unless damaged.
        if kept_hosted < self.on_disk.len() {
            let repl = self.repl.as_ref();
            for &p in self.on_disk.iter() {
                if self.replicas.contains_key(&p) {
                    continue;
                }
                let damaged = repl.is_some_and(|r| r.damaged(p));
                self.scratch.push(ReplicaReport {
                    partition: p,
                    epoch: 0,
                    in_sync: false,
                    stored: !damaged,
                    synced: self.synced.get(&p).copied(),
                    damaged,
                    stray: true,
                });
            }
            self.scratch.sort_unstable_by_key(|r| r.partition);
        }
        if *self.reports != self.scratch {
            self.reports = Shared::new(self.scratch.clone());
        }
    }

    fn send_heartbeat<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        self.heartbeat_seq += 1;
        self.last_heartbeat = Some(cx.now());
        let counts = [
            Tracked::changes(&self.replicas),
            Tracked::changes(&self.on_disk),
            Tracked::changes(&self.synced),
        ];
        // Without a data plane the report is a function of these three
        // alone (the data plane's state is not tracked here).
        if self.repl.is_some() || self.report_counts != Some(counts) {
            self.build_report();
            self.report_counts = Some(counts);
        }
        let replicas = self.reports.clone();
        let body = Control::Heartbeat {
            seq: self.heartbeat_seq,
            boot: self.boot,
            version: self.map.version,
            echo: self.grace_echo,
            replicas,
        };
        // Not retried: the next heartbeat says the same, newer. Its ack
        // may take a round trip longer than the interval: below a floor,
        // and below the round trips measured, every heartbeat would time
        // out and count as a leader miss — and with the acks late, two
        // lost in a row made three misses and sent the heartbeats to
        // managers that do not lead, until the leader declared the node
        // dead (no-bug hunt seed 0, run 8,152: round trips of 80-150 ms,
        // a 75 ms interval).
        let policy = RetryPolicy {
            timeout: self
                .interval
                .max(SimDuration::from_millis(50))
                .max(self.net.round_trip_timeout().unwrap_or(SimDuration(0))),
            attempts: 1,
            backoff_cap: self.interval,
        };
        let _ = self.net.request_leader(cx, body, policy);
    }

    /// One of its timers fired.
    pub fn on_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        timer: Timer,
    ) {
        self.notice_clock(cx);
        match timer {
            Timer::Net(t) => {
                let _ = self.net.on_timer(cx, t);
            }
            Timer::Heartbeat if self.registered && !self.left => {
                // Fault point: one heartbeat missed (a slow send), never
                // two in a row; the health monitor's timeouts allow for it.
                // Asked every round, so the points' draws stay as they were.
                let fired = cx.buggify("node/skip-heartbeat");
                self.skipped_heartbeat = fired && !self.skipped_heartbeat;
                if !self.skipped_heartbeat {
                    self.send_heartbeat(cx);
                }
                self.heartbeat_timer = Some(cx.set_timer(self.interval, Timer::Heartbeat));
            }
            Timer::CatchUp(p) => self.on_catch_up_timer(cx, p),
            Timer::Data(DataTimer::Tick) => {
                if let Some(r) = self.repl.as_mut() {
                    r.on_tick(cx);
                }
            }
            Timer::Data(DataTimer::Scrub) => {
                if let Some(r) = self.repl.as_mut() {
                    r.on_scrub(cx, &self.map);
                }
            }
            _ => {}
        }
    }

    // ----- maps -----

    fn on_map_update<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        u: Shared<MapUpdate>,
    ) {
        let before = self.map.version;
        let mut touched: BTreeSet<u32> = BTreeSet::new();
        let mut everything = false;
        let careless = self.planted.has(Bug::ApplyOlderMap);
        match &*u {
            MapUpdate::Full(m) => {
                if m.version > self.map.version || (careless && m.version != self.map.version) {
                    self.map = Rc::clone(m);
                    everything = true;
                }
            }
            MapUpdate::Delta { base, commands, .. } => {
                if careless {
                    // The planted bug: every update applies as it arrives
                    // (to a copy of its own: others keep the shared map).
                    for (i, c) in commands {
                        self.note_touched(c, &mut touched, &mut everything);
                        Rc::make_mut(&mut self.map).apply(*i, c);
                    }
                } else if *base > self.map.version {
                    if self.early.len() < MAX_EARLY_DELTAS {
                        self.early.insert(*base, u.clone());
                    }
                } else {
                    self.apply_delta(&u, &mut touched, &mut everything);
                }
            }
        }
        // Deltas that waited for this one.
        while let Some((&base, _)) = self.early.first_key_value() {
            if base > self.map.version {
                break;
            }
            let Some((_, update)) = self.early.pop_first() else {
                break;
            };
            self.apply_delta(&update, &mut touched, &mut everything);
        }
        if careless && self.map.version == before {
            // The planted bug may change partitions without changing the
            // version (older commands applied again): no reconcile then,
            // but the views describe the applied map all the same.
            self.renew_views();
        }
        if self.map.version != before {
            cx.trace(StackEvent::Map {
                version: self.map.version,
            });
            let mine = self.boot_in_map();
            self.reconcile(cx, mine, if everything { None } else { Some(&touched) });
            if mine == Some(self.boot)
                && let Some(r) = self.repl.as_mut()
            {
                let on_disk = &self.on_disk;
                r.on_map(cx, &self.map, &|p| on_disk.contains(&p));
            }
            self.note_data_synced(cx);
        }
    }

    /// Applies the commands of `update` newer than the map: the map they
    /// lead to is the update's shared `result` (see [`MapUpdate::Delta`]).
    fn apply_delta(
        &mut self,
        update: &MapUpdate,
        touched: &mut BTreeSet<u32>,
        everything: &mut bool,
    ) {
        let MapUpdate::Delta {
            commands, result, ..
        } = update
        else {
            return;
        };
        let version = self.map.version;
        if commands.iter().rev().any(|(i, _)| *i > version) {
            // What `note_touched` would note of each newer command, read
            // from the update's index of commands by node (built once for
            // all its recipients). Judged on the map before the delta: a
            // partition that gained the node within the delta is touched
            // by that very command, so nothing is missed.
            for &(i, partition) in update.naming(&self.me) {
                if i > version {
                    match partition {
                        Some(p) => {
                            touched.insert(p);
                        }
                        None => *everything = true,
                    }
                }
            }
            assert_eq!(
                commands.last().map(|(i, _)| *i),
                Some(result.version),
                "a map delta's result is the map after its last command"
            );
            self.map = Rc::clone(result);
        }
    }

    /// Notes which partitions a command may change for this node (a
    /// command about this node may change all of them).
    ///
    /// A partition command matters here only if it names this node: a
    /// partition that lists this incarnation is hosted (from the reconcile
    /// that saw it listed on), and `reconcile` visits every hosted
    /// partition anyway; one that neither lists nor is hosted by this node
    /// is left as it is by `reconcile_one`. Only a `SetReplicas` can list
    /// the node where it was not listed, and it then names it. Looking at
    /// every partition a delta touches made each of a large cluster's nodes
    /// reconcile every initial placement (20,000 × 5,000 on `grid-5000`).
    fn note_touched(&self, cmd: &MapCommand, touched: &mut BTreeSet<u32>, everything: &mut bool) {
        match cmd {
            MapCommand::SetReplicas {
                partition,
                replicas,
                primary,
                ..
            } => {
                if replicas.iter().any(|r| *r.node == *self.me)
                    || primary.as_deref() == Some(&*self.me)
                {
                    touched.insert(*partition);
                }
            }
            MapCommand::PromotePrimary {
                partition, node, ..
            } => {
                if **node == *self.me {
                    touched.insert(*partition);
                }
            }
            MapCommand::AddNode { node, .. }
            | MapCommand::RemoveNode { node }
            | MapCommand::MarkDead { node }
            | MapCommand::MarkAlive { node }
            | MapCommand::Drain { node } => {
                if **node == *self.me {
                    *everything = true;
                }
                // Another node's rejoin demotes, its removal drops, that
                // node's replicas: of the partitions it shares with this
                // one, whose primary may change. Those are all hosted here
                // (a partition that lists this incarnation is hosted from
                // the reconcile that saw it listed on), and `reconcile`
                // visits every hosted partition anyway; the others hold
                // nothing of this node's, and scanning every partition per
                // such command and node was most of a large cluster's start.
            }
        }
    }

    /// The boot the applied map gives this node, if it lists it: looked up
    /// from where it was found last time (one probe, where a search of the
    /// members was most of a small map update's cost).
    fn boot_in_map(&mut self) -> Option<u32> {
        let map = &self.map;
        map.members
            .get_hinted(&self.me, &mut self.member_hint)
            .map(|m| m.boot)
    }

    /// Brings the hosted replicas in line with the map (all partitions, or
    /// the ones `only` names); `mine` is the boot the map gives this node.
    fn reconcile<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        mine: Option<u32>,
        only: Option<&BTreeSet<u32>>,
    ) {
        let me = Rc::clone(&self.me);
        match mine {
            Some(b) if b == self.boot => {
                // The map names this incarnation: registered, whether or
                // not the answer to the request got through.
                self.was_member = true;
                if let Some(req) = self.register_req.take() {
                    self.net.cancel(cx, req);
                }
            }
            Some(_) => {
                // The map still describes an earlier incarnation.
                self.renew_views();
                return;
            }
            None => {
                if self.was_member && !self.left {
                    // Removed (decommissioned): let go of everything and stop
                    // (a registration still being retried included).
                    self.left = true;
                    if let Some(req) = self.register_req.take() {
                        self.net.cancel(cx, req);
                    }
                    let all: Vec<u32> = self.replicas.keys().copied().collect();
                    for p in all {
                        self.drop_replica(cx, p);
                    }
                    // Its strays go with it.
                    let strays: Vec<u32> = self.on_disk.iter().copied().collect();
                    self.drop_strays(cx, &strays);
                    self.persist(cx);
                    // The data plane lets go of its copies too: the map
                    // lists this node in no partition, and its stores are
                    // erased. Left on the disk, a copy removed with the
                    // node came back at a restart whose list of held copies
                    // was damaged, reported whole (no-bug hunt seed 1, run
                    // 9,963: n2, decommissioned, restarted reporting a
                    // complete copy of p0 it had been removed from).
                    if let Some(r) = self.repl.as_mut() {
                        r.on_map(cx, &self.map, &|_| false);
                    }
                }
                self.renew_views();
                return;
            }
        }
        // The partitions to look at, in order and without repeats: the
        // touched ones, or (for `everything`) those the map lists this node
        // in — a scan of every partition would find no others that
        // `reconcile_one` acts on — and every hosted one, except a hosted
        // one left as the last reconcile of it settled it (the same
        // configuration, data, trace, disk record and damage): there
        // `reconcile_one` would do nothing.
        let map = Rc::clone(&self.map);
        let mut visit = std::mem::take(&mut self.visit);
        visit.clear();
        let local = [
            Tracked::changes(&self.on_disk),
            Tracked::changes(&self.synced),
        ];
        let local_same = self.settled_counts == Some(local);
        let damaged: Vec<u32> = self
            .repl
            .as_ref()
            .map_or_else(Vec::new, ReplicationManager::damaged_partitions);
        // Nothing local changed since the last reconcile (no access to
        // `replicas` that could change a replica, the same disk records
        // and damage): only the hosted partitions in chunks the map no
        // longer shares with that reconcile's need the full check; each
        // of the others passed it then, or was settled by its visit, and
        // its configuration is the very one it was settled with. (A check
        // of every hosted partition at every map update was most of a
        // data node's cost on large clusters.)
        let quick = self.reconciled.as_ref().and_then(|(m, n, d)| {
            (local_same
                && *n == Tracked::changes(&self.replicas)
                && *d == damaged
                && m.partitions.len() == map.partitions.len())
            .then(|| Rc::clone(m))
        });
        if let Some(before) = quick {
            let extra: Vec<u32> = match only {
                Some(set) => set.iter().copied().collect(),
                None => map.partitions.naming(&me).to_vec(),
            };
            // Touched partitions not hosted here are visited; a hosted one
            // only if its check fails (as in the full pass below).
            visit.extend(extra.iter().filter(|p| !self.replicas.contains_key(p)));
            let local = Local {
                same: true,
                on_disk: &self.on_disk,
                synced: &self.synced,
                repl: self.repl.as_ref(),
            };
            for range in map.partitions.changed_ranges(&before.partitions) {
                let (lo, hi) = (range.start as u32, range.end as u32);
                for (&p, h) in self.replicas.value.range_mut(lo..hi) {
                    if !still_settled(h, p, &local, &map) {
                        visit.push(p);
                    }
                }
            }
            visit.sort_unstable();
        } else {
            let (mut touched, mut naming);
            let extra: &mut dyn Iterator<Item = u32> = match only {
                Some(set) => {
                    touched = set.iter().copied();
                    &mut touched
                }
                None => {
                    naming = map.partitions.naming(&me).iter().copied();
                    &mut naming
                }
            };
            let mut extra = extra.peekable();
            let local = Local {
                same: local_same,
                on_disk: &self.on_disk,
                synced: &self.synced,
                repl: self.repl.as_ref(),
            };
            // Not a counted access of `replicas`: only `settled` changes
            // (and `view` holds, since the configuration it derives from
            // does).
            for (&p, h) in self.replicas.value.iter_mut() {
                while let Some(q) = extra.next_if(|q| *q < p) {
                    visit.push(q);
                }
                extra.next_if_eq(&p);
                if !still_settled(h, p, &local, &map) {
                    visit.push(p);
                }
            }
            visit.extend(extra);
        }
        let mut changed = false;
        for &p in &visit {
            changed |= self.reconcile_one(cx, &me, p);
        }
        self.visit = visit;
        self.reconciled = Some((map, Tracked::changes(&self.replicas), damaged));
        // Data left on disk by an earlier incarnation that the map no
        // longer gives this node is a stray: kept, and reported, until the
        // leader releases it (`release_strays`) — it may be the last whole
        // copy.
        if changed {
            self.persist(cx);
        }
        self.settled_counts = Some([
            Tracked::changes(&self.on_disk),
            Tracked::changes(&self.synced),
        ]);
        // Only now: the first heartbeat reports the replicas the map gives
        // this incarnation, with what its disk kept of them.
        self.now_registered(cx);
    }

    /// Renews every hosted replica's `view` from the applied map, where
    /// `reconcile` does not visit them.
    fn renew_views(&mut self) {
        for (p, h) in self.replicas.iter_mut() {
            h.view = view_of(&self.map, &self.me, *p);
        }
    }

    /// Returns true if what is held in full changed (to persist).
    fn reconcile_one<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        me: &str,
        p: u32,
    ) -> bool {
        let map = Rc::clone(&self.map);
        let Some(c) = map.partitions.get(p as usize) else {
            return false;
        };
        // One pass over the replica list: the first entry naming this node
        // (whether it is in sync) and whether any entry naming it is.
        let mut listed = None;
        let mut listed_in_sync = false;
        for r in &c.replicas {
            if *r.node == *me {
                listed.get_or_insert(r.in_sync);
                listed_in_sync |= r.in_sync;
            }
        }
        let epoch = c.epoch;
        let primary = c.primary.as_deref() == Some(me);
        let mut changed = false;
        match (listed, self.replicas.contains_key(&p)) {
            (None, false) => return false,
            (None, true) => {
                if self.whole_here(p) {
                    self.keep_as_stray(cx, p);
                } else {
                    self.drop_replica(cx, p);
                }
                return true;
            }
            (Some(in_sync), false) => {
                let data = if in_sync {
                    changed = true;
                    Data::Complete
                } else {
                    Data::Fetching {
                        next: 0,
                        chunks: self.chunks(),
                        source: None,
                        applying: false,
                        tries: 0,
                        timer: None,
                    }
                };
                self.replicas.insert(
                    p,
                    Hosted {
                        data,
                        traced: None,
                        view: (0, false),
                        settled: None,
                    },
                );
                if !in_sync {
                    self.fetch(cx, p);
                }
            }
            (Some(in_sync), true) => {
                // The map counts it in sync: a re-seed from the copy this
                // node's disk kept, or from the one its primary declared
                // caught up (what its report called `stored`: the data
                // plane holds every write up to its synced epoch, though
                // the bulk transfer had not ended). Without such a copy the
                // map is wrong about this node, and it goes on fetching
                // (unless the `seed-from-empty-source` bug is planted: it
                // trusts the map).
                // A partition started again empty (every copy's disk lost)
                // is counted in sync on exactly one replica: that one is
                // complete by definition, and the others copy from it.
                if in_sync
                    && self
                        .replicas
                        .get(&p)
                        .is_some_and(|h| h.data != Data::Complete)
                    && (self.on_disk.contains(&p)
                        || self.repl.as_ref().is_some_and(|r| r.vouched(p))
                        || c.replicas.iter().filter(|r| r.in_sync).count() == 1
                        || self.planted.has(Bug::SeedFromEmptySource))
                    && let Some(h) = self.replicas.get_mut(&p)
                {
                    if let Data::Fetching { timer: Some(t), .. } = h.data {
                        cx.cancel_timer(t);
                    }
                    h.data = Data::Complete;
                    changed = true;
                }
            }
        }
        let in_sync = listed == Some(true);
        let damaged = self.repl.as_ref().is_some_and(|r| r.damaged(p));
        let whole = self
            .replicas
            .get(&p)
            .is_some_and(|h| h.data == Data::Complete)
            && !damaged;
        if in_sync && whole {
            // Every write acknowledged in this epoch needs this copy's ack.
            changed |= self.raise_synced(p, epoch);
        }
        let state = if !in_sync {
            ReplicaState::CatchingUp
        } else if primary {
            ReplicaState::Primary
        } else {
            ReplicaState::Backup
        };
        let stored = self.on_disk.contains(&p);
        let synced = self.synced.get(&p).copied();
        if let Some(h) = self.replicas.get_mut(&p) {
            h.view = (epoch, listed_in_sync);
            let complete = h.data == Data::Complete || stored;
            if h.traced != Some((state, epoch, complete)) {
                h.traced = Some((state, epoch, complete));
                cx.trace(StackEvent::Replica {
                    partition: p,
                    state,
                    epoch,
                    complete,
                    source: None,
                });
            }
            h.settled = map.partitions.seen(p as usize).map(|config| Settled {
                config,
                complete: h.data == Data::Complete,
                traced: h.traced,
                stored,
                synced,
                damaged,
            });
        }
        changed
    }

    /// Records that this node held `p` in sync in `epoch`; true when that
    /// is newer than what it had recorded (to persist).
    fn raise_synced(&mut self, p: u32, epoch: u64) -> bool {
        match self.synced.get(&p) {
            Some(&e) if e >= epoch => false,
            _ => {
                self.synced.insert(p, epoch);
                true
            }
        }
    }

    /// Takes the epochs in which the data plane made a replica here one
    /// that every acknowledgement needs, and persists them in this same
    /// step: before any acknowledgement of such an epoch can leave.
    fn note_data_synced<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let Some(r) = self.repl.as_mut() else {
            return;
        };
        let mut changed = false;
        for (p, epoch) in r.take_synced() {
            if self.replicas.contains_key(&p) {
                changed |= self.raise_synced(p, epoch);
            }
        }
        if changed {
            self.persist(cx);
        }
    }

    /// True when this node holds a whole, intact copy of hosted `p`: one
    /// that `persist` lists, so that a restart would keep it.
    fn whole_here(&self, p: u32) -> bool {
        let intact = self.repl.as_ref().is_none_or(|r| r.intact(p));
        intact
            && self.replicas.get(&p).is_some_and(|h| {
                h.data == Data::Complete
                    || (self.synced.contains_key(&p) && self.repl.is_some())
                    || self.on_disk.contains(&p)
            })
    }

    /// The map no longer gives this node `p`, whose whole copy it holds:
    /// the copy stops serving and stays on the disk as a stray, reported
    /// until the leader releases it (`release_strays`), as a copy found on
    /// the disk at a restart does. The map may have dropped this node
    /// while it was cut off, and every listed copy may since have lost its
    /// disk: then this copy is the last one, and a re-seed takes it
    /// (`sched-removed-copy-outlives-lost-disks`: n3, dropped from p0
    /// while isolated, discarded the only copy left at the first map
    /// without it, and p0 was started again empty).
    fn keep_as_stray<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: u32,
    ) {
        if let Some(h) = self.replicas.remove(&p) {
            if let Data::Fetching { timer: Some(t), .. } = h.data {
                cx.cancel_timer(t);
            }
            let epoch = self.map.partitions.get(p as usize).map_or(0, |c| c.epoch);
            cx.trace(StackEvent::Replica {
                partition: p,
                state: ReplicaState::Stored,
                epoch,
                complete: true,
                source: None,
            });
        }
        self.on_disk.insert(p);
    }

    fn drop_replica<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: u32,
    ) {
        if let Some(h) = self.replicas.remove(&p) {
            if let Data::Fetching { timer: Some(t), .. } = h.data {
                cx.cancel_timer(t);
            }
            let epoch = self.map.partitions.get(p as usize).map_or(0, |c| c.epoch);
            cx.trace(StackEvent::Replica {
                partition: p,
                state: ReplicaState::Removed,
                epoch,
                complete: false,
                source: None,
            });
        }
        self.on_disk.remove(&p);
        self.synced.remove(&p);
    }

    fn persist<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        // The complete replicas and what is on disk, both sorted: merged
        // without repeats. A replica still catching up in the map that its
        // primary declared caught up (a synced epoch recorded) holds every
        // acknowledged write of that epoch: listed too while its copy is
        // intact, or a restart would forget it and report holding nothing
        // of it (no-bug hunt run 3427). A copy found damaged is not: its
        // store is rebuilt blank (run 3604).
        let synced = &self.synced;
        let repl = self.repl.as_ref();
        let mut complete = self
            .replicas
            .iter()
            .filter(|(p, h)| {
                h.data == Data::Complete
                    || (synced.contains_key(p) && repl.is_some_and(|r| r.intact(**p)))
            })
            .map(|(p, _)| *p)
            .peekable();
        let mut stored = self.on_disk.iter().copied().peekable();
        // Sorted too: walked beside the merge, not searched per partition.
        let mut epochs = self.synced.iter().peekable();
        let mut held = Vec::with_capacity(self.on_disk.len().max(self.replicas.len()));
        loop {
            let p = match (complete.peek(), stored.peek()) {
                (Some(&a), Some(&b)) if a < b => complete.next(),
                (Some(&a), Some(&b)) if b < a => stored.next(),
                (Some(_), Some(_)) => {
                    stored.next();
                    complete.next()
                }
                (Some(_), None) => complete.next(),
                (None, _) => stored.next(),
            };
            let Some(p) = p else { break };
            while epochs.next_if(|(q, _)| **q < p).is_some() {}
            let epoch = epochs.next_if(|(q, _)| **q == p).map(|(_, e)| *e);
            held.push((p, epoch));
        }
        // Written as `serde_json::to_vec` writes a `Vec<(u32, Option<u64>)>`
        // (`[[3,null],[7,12]]`), byte for byte, without the serializer, and
        // mostly copied from the list written before (see `HeldText`).
        let bytes = self.held_text.encode(held);
        let disk = cx.disk();
        disk.put(REPLICAS_KEY, bytes);
        disk.fsync();
    }

    // ----- state transfer -----

    /// Where to fetch partition `p` from: its primary, else another
    /// in-sync replica on an alive member (rotating with the attempts).
    fn source<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &self,
        cx: &Cx<'_, P>,
        p: u32,
        tries: u32,
    ) -> Option<ProcessId> {
        let me = cx.name(cx.me());
        let c = self.map.partitions.get(p as usize)?;
        let mut candidates: Vec<&str> = Vec::new();
        if let Some(pr) = c.primary.as_deref()
            && pr != me
            && self.map.is_usable(pr)
        {
            candidates.push(pr);
        }
        for r in &c.replicas {
            if r.in_sync
                && r.node != me
                && self.map.is_usable(&r.node)
                && !candidates.contains(&r.node.as_str())
            {
                candidates.push(&r.node);
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let pick = candidates[tries as usize % candidates.len()];
        cx.lookup(pick)
    }

    fn fetch<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: u32,
    ) {
        let tail = self.on_disk.contains(&p);
        let Some(h) = self.replicas.get(&p) else {
            return;
        };
        let Data::Fetching {
            next,
            chunks,
            tries,
            ..
        } = h.data
        else {
            return;
        };
        // A copy left on disk by an earlier incarnation needs the tail only.
        let next = if tail && next == 0 {
            chunks.saturating_sub(1)
        } else {
            next
        };
        let source = self.source(cx, p, tries);
        if let Some(s) = source {
            cx.send(
                s,
                Msg::Transfer(Transfer::Fetch {
                    partition: p,
                    chunk: next,
                }),
            );
        }
        let timer = cx.set_timer(fetch_timeout(tries), Timer::CatchUp(p));
        if let Some(Hosted {
            data:
                Data::Fetching {
                    next: n,
                    source: src,
                    applying,
                    timer: t,
                    ..
                },
            ..
        }) = self.replicas.get_mut(&p)
        {
            *n = next;
            *src = source;
            *applying = false;
            *t = Some(timer);
        }
    }

    fn on_transfer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        t: Transfer,
    ) {
        match t {
            Transfer::Fetch { partition, chunk } => {
                let held = self
                    .replicas
                    .get(&partition)
                    .is_some_and(|h| h.data == Data::Complete);
                let reply = if held && !self.left {
                    let chunks = self.chunks();
                    let start = u64::from(chunk) * CHUNK_BYTES;
                    let bytes = self.partition_bytes.saturating_sub(start).min(CHUNK_BYTES) as u32;
                    Transfer::Chunk {
                        partition,
                        chunk,
                        chunks,
                        bytes,
                    }
                } else {
                    Transfer::NotHeld { partition }
                };
                cx.send(from, Msg::Transfer(reply));
            }
            Transfer::Chunk {
                partition,
                chunk,
                bytes,
                ..
            } => {
                let Some(Hosted {
                    data:
                        Data::Fetching {
                            next,
                            applying,
                            source,
                            timer,
                            ..
                        },
                    ..
                }) = self.replicas.get_mut(&partition)
                else {
                    return;
                };
                if *next != chunk || *applying {
                    return; // a duplicate, or an answer to an earlier ask
                }
                // The chunk asked for, from whichever replica answers: an
                // answer slower than the wait, from the source asked
                // before, is as good as the next one's (hunt seed 0 run
                // 1,285: round trips of 80-130 ms against a 100 ms wait,
                // and every late answer thrown away, so that a transfer of
                // 16 chunks ran for 6 s without finishing).
                *source = Some(from);
                if let Some(t) = timer.take() {
                    cx.cancel_timer(t);
                }
                *applying = true;
                let us = (u64::from(bytes) * 1_000_000)
                    .div_ceil(APPLY_BYTES_PER_SEC)
                    .max(1);
                *timer = Some(cx.set_timer(SimDuration(us), Timer::CatchUp(partition)));
            }
            Transfer::NotHeld { partition } => {
                if let Some(Hosted {
                    data:
                        Data::Fetching {
                            source,
                            tries,
                            applying,
                            ..
                        },
                    ..
                }) = self.replicas.get_mut(&partition)
                    && *source == Some(from)
                    && !*applying
                {
                    // Try another replica when the timer fires.
                    *tries += 1;
                    *source = None;
                }
            }
        }
    }

    fn on_catch_up_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: u32,
    ) {
        // With a data plane the cells come with the primary's install, not
        // with the chunks: a copy whose every chunk arrived but that took
        // no install holds nothing, and must not be called complete (then
        // `stored`, a candidate to re-seed the partition from) — unless it
        // is the tail of a copy this node's own disk kept.
        let holds = self.on_disk.contains(&p)
            || self.repl.as_ref().is_none_or(|r| r.holds(p))
            || self.planted.has(Bug::SeedFromEmptySource)
            || self.planted.has(Bug::InSyncWithoutTransfer);
        // The copy's cells came with that install: its sender is the
        // copy's source, not the node the chunks came from, which may
        // have lost its own since (no-bug hunt seed 7, run 11,258: n2's
        // chunks came from n5 in epoch 2; n5 lost its disk, p0 was started
        // again empty, and n2's copy, whole from the new primary's
        // install, was traced as copied from n5).
        let installer = (self.repl.as_ref())
            .and_then(|r| r.installed_from(p))
            .filter(|_| !self.on_disk.contains(&p))
            .map(str::to_string);
        let Some(h) = self.replicas.get_mut(&p) else {
            return;
        };
        let Data::Fetching {
            next,
            chunks,
            applying,
            tries,
            timer,
            source,
        } = &mut h.data
        else {
            return;
        };
        *timer = None;
        if *applying && *next + 1 >= *chunks && !holds {
            // The last chunk is written; the install is still to come
            // (the primary may not have applied this epoch yet, or be
            // gone): look again later, the chunks stay written.
            *timer = Some(cx.set_timer(FETCH_TIMEOUT, Timer::CatchUp(p)));
            return;
        }
        if *applying {
            *next += 1;
            *tries = 0;
            if *next >= *chunks {
                let from = installer.or_else(|| source.map(|s| cx.name(s).to_string()));
                h.data = Data::Complete;
                let epoch = self.map.partitions.get(p as usize).map_or(0, |c| c.epoch);
                let state = h.traced.map_or(ReplicaState::CatchingUp, |t| t.0);
                h.traced = Some((state, epoch, true));
                cx.trace(StackEvent::Replica {
                    partition: p,
                    state,
                    epoch,
                    complete: true,
                    source: from,
                });
                self.on_disk.remove(&p);
                self.persist(cx);
                // Tell the leader now rather than at the next heartbeat
                // (unless one just went: the rate limit has a small burst).
                let recent = self.last_heartbeat.is_some_and(|t| {
                    cx.now().saturating_since(t).as_micros() < self.interval.as_micros() / 4
                });
                if self.registered && !recent {
                    self.send_heartbeat(cx);
                }
                return;
            }
        } else {
            *tries += 1;
        }
        self.fetch(cx, p);
    }
}

#[cfg(test)]
mod tests {
    use super::{HeldText, push_held};

    /// Each list a `HeldText` encodes, whatever it shares with the one
    /// before (a prefix, a suffix, both, everything, nothing), is what
    /// `serde_json` writes.
    #[test]
    fn held_text_copies_what_it_shares_and_writes_serde_json_s() {
        let lists: [&[(u32, Option<u64>)]; 12] = [
            &[(1, Some(3)), (4, None), (9, Some(10))],
            &[(1, Some(3)), (4, None), (9, Some(10))],
            &[(1, Some(3)), (4, Some(7)), (9, Some(10))],
            &[(1, Some(3)), (4, Some(7)), (5, None), (9, Some(10))],
            &[
                (0, None),
                (1, Some(3)),
                (4, Some(7)),
                (5, None),
                (9, Some(10)),
            ],
            &[(0, None), (1, Some(3)), (4, Some(7)), (5, None)],
            &[(1, Some(3)), (4, Some(7))],
            &[],
            &[(2, Some(u64::MAX))],
            &[(2, Some(u64::MAX)), (u32::MAX, None)],
            &[(u32::MAX, None)],
            &[(7, Some(1)), (8, Some(1)), (9, Some(1))],
        ];
        let mut held = HeldText::default();
        for list in lists.iter().chain(lists.iter().rev()) {
            let text = held.encode(list.to_vec());
            assert_eq!(
                String::from_utf8(text).unwrap(),
                serde_json::to_string(list).unwrap(),
                "{list:?}"
            );
        }
    }

    /// The same over a long walk of random changes, one to three pairs at
    /// a time, as a node's list changes.
    #[test]
    fn held_text_follows_random_changes() {
        use crate::sim::rng::{stream, uniform_u64};
        let mut rng = stream(11, "node/held-text");
        let mut list = std::collections::BTreeMap::new();
        let mut held = HeldText::default();
        for _ in 0..2_000 {
            for _ in 0..uniform_u64(&mut rng, 1, 3) {
                let p = uniform_u64(&mut rng, 0, 40) as u32;
                match uniform_u64(&mut rng, 0, 2) {
                    0 => list.remove(&p),
                    1 => list.insert(p, None),
                    _ => list.insert(p, Some(uniform_u64(&mut rng, 0, 1_000))),
                };
            }
            let pairs: Vec<(u32, Option<u64>)> = list.iter().map(|(p, e)| (*p, *e)).collect();
            let want = serde_json::to_vec(&pairs).unwrap();
            assert_eq!(held.encode(pairs), want);
        }
    }

    /// The persisted list is byte for byte what `serde_json` writes.
    #[test]
    fn held_list_is_serde_json_s() {
        let lists: [&[(u32, Option<u64>)]; 4] = [
            &[],
            &[(0, None)],
            &[(3, Some(0)), (7, None), (u32::MAX, Some(u64::MAX))],
            &[(1, Some(12)), (2, Some(1)), (1000, None), (1001, Some(99))],
        ];
        for list in lists {
            let mut out = vec![b'['];
            for &(p, synced) in list {
                push_held(&mut out, p, synced);
            }
            out.push(b']');
            assert_eq!(out, serde_json::to_vec(list).unwrap(), "{list:?}");
        }
    }
}
