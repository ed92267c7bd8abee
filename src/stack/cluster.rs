//! The cluster as the stack sees it: the resolved configuration every
//! process is built from, and the wire types its processes exchange (the
//! process type that hosts the components is in [`host`](super::host)).
//!
//! `scenario/` turns a scenario file into a [`ClusterConfig`]; `stack/`
//! never reads scenario files itself (the dependency points one way).

use std::rc::Rc;

use serde::Serialize;

use crate::sim::{Message, MsgClass, ProcessId, SimDuration, TimerKind};

use super::consensus::{RaftMsg, RaftTimer};
use super::coordinator::PolicyKind;
use super::demo::{Beat, BeatTimer};
use super::grid::{ClusterMap, Geometry, MapCommand};
use super::network::{Envelope, Limit, NetTimer, Payload, Shared};
use super::planted::Planted;
use super::replication::{DataMsg, DataTimer};
use super::workload::WorkloadSpec;

/// What a process of the cluster is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A member of the consensus group.
    Manager,
    /// A data node.
    Node,
    /// A workload client.
    Client,
    /// A process with the wrong cluster key.
    Impostor,
}

/// Timing knobs (DESIGN §5 `[timing]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Data-node heartbeat period.
    pub heartbeat_interval: SimDuration,
    /// Silence after which a node is suspected.
    pub suspect_after: SimDuration,
    /// Silence after which a node is declared dead.
    pub dead_after: SimDuration,
    /// Raft election timeout range.
    pub election_timeout: (SimDuration, SimDuration),
    /// Raft leader heartbeat period.
    pub raft_heartbeat: SimDuration,
}

/// The consensus group's upkeep (DESIGN §5 `[managers]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ManagerSettings {
    /// Committed entries between two snapshots.
    pub snapshot_every: u64,
    /// Dead-server cleanup grace (`None`: never).
    pub remove_down_after: Option<SimDuration>,
    /// Cleanup leaves at least this many voters.
    pub min_voters: u32,
}

/// The resolved configuration shared by every process of a run.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Every process id in the world, in id order, with its kind.
    pub processes: Vec<(String, Kind)>,
    /// Zone of each process (empty for managers and clients).
    pub zones: Vec<String>,
    /// Capacity of each process (data nodes; 1 elsewhere).
    pub capacities: Vec<u32>,
    /// The grid.
    pub geometry: Geometry,
    /// Replicas per partition.
    pub replication_factor: u32,
    /// Timing knobs.
    pub timing: Timing,
    /// The consensus group's upkeep.
    pub managers: ManagerSettings,
    /// The cluster key (authentication).
    pub cluster_key: String,
    /// Placement settings (`[placement]`).
    pub placement: PlacementSettings,
    /// Planted bugs active in this run.
    pub planted: Planted,
    /// Run the kernel's demo process everywhere instead of the stack.
    pub demo: bool,
    /// The client workload (`[workload]`), if any: with one, data nodes
    /// replicate cells and clients drive operations.
    pub workload: Option<WorkloadSpec>,
    /// The run's root seed (clients draw their plans from it).
    pub seed: u64,
}

/// Placement settings (DESIGN §5 `[placement]`).
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementSettings {
    /// Which policy computes the target placement.
    pub policy: PolicyKind,
    /// The most loaded node may carry at most `(1 + max_imbalance) × mean`.
    pub max_imbalance: f64,
    /// Moves in flight at once, at most.
    pub max_concurrent_moves: u32,
}

impl Default for PlacementSettings {
    fn default() -> Self {
        PlacementSettings {
            policy: PolicyKind::RendezvousBounded,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
        }
    }
}

/// A request of the operator (the scenario), delivered by the kernel as a
/// message from outside the cluster ([`World::inject`](crate::sim::World::inject)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Decommission a data node: drain, then remove. Sent to every
    /// manager; each keeps it on its disk, so that whichever leads — now
    /// or after a failover or restart — drains the node and keeps it out.
    Leave {
        /// The data node.
        node: String,
    },
    /// `add_manager` (`member`) or `remove_manager`: the Raft group should
    /// (not) hold this manager. Sent to every manager, kept on disk.
    Manager {
        /// The manager.
        manager: String,
        /// Wanted in the group.
        member: bool,
    },
    /// `drain_manager` (`drained`) or its `until`: the manager may (not)
    /// lead. Sent to every manager, kept on disk.
    Drain {
        /// The manager.
        manager: String,
        /// Drained: it votes, but hands leadership over.
        drained: bool,
    },
}

impl Operator {
    fn name(&self) -> &'static str {
        match self {
            Operator::Leave { .. } => "Leave",
            Operator::Manager { member: true, .. } => "AddManager",
            Operator::Manager { member: false, .. } => "RemoveManager",
            Operator::Drain { drained: true, .. } => "DrainManager",
            Operator::Drain { drained: false, .. } => "UndrainManager",
        }
    }
}

impl ClusterConfig {
    /// The ids of processes of one kind.
    pub fn of_kind(&self, kind: Kind) -> Vec<ProcessId> {
        self.processes
            .iter()
            .enumerate()
            .filter(|(_, (_, k))| *k == kind)
            .map(|(i, _)| ProcessId(i as u32))
            .collect()
    }

    /// The kind of a process.
    pub fn kind(&self, p: ProcessId) -> Option<Kind> {
        self.processes.get(p.index()).map(|(_, k)| *k)
    }
}

/// Control-plane payloads between data nodes and managers, carried in an
/// authenticated [`Envelope`] (see [`network`](super::network)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Control {
    /// A node asks to be (or confirms it is) a member.
    Register {
        /// Its zone.
        zone: String,
        /// Its capacity.
        capacity: u32,
        /// Its boot id (new at every start).
        boot: u32,
    },
    /// The node is in the committed map with this boot.
    Registered {
        /// The map version the leader had applied.
        version: u64,
    },
    /// Not the leader: ask that one (or another manager, if unknown).
    Redirect {
        /// The leader this manager knows of.
        leader: Option<ProcessId>,
    },
    /// A node's periodic liveness report.
    Heartbeat {
        /// Sequence number.
        seq: u64,
        /// The sender's boot id.
        boot: u32,
        /// The newest map version the node applied.
        version: u64,
        /// The grace token of the last `HeartbeatAck` the node received
        /// (0 before any): proof the node heard the leader since then.
        echo: u64,
        /// The replicas it hosts and their state (shared from one
        /// heartbeat to the next while it does not change).
        replicas: Shared<Vec<ReplicaReport>>,
    },
    /// The leader heard the heartbeat.
    HeartbeatAck {
        /// The heartbeat answered.
        seq: u64,
        /// The leader's applied map version.
        version: u64,
        /// The leader's current grace token, for the node to echo.
        grace: u64,
        /// False when the node (this boot) is not a member.
        member: bool,
        /// Stray copies the heartbeat reported (kept on the node's disk,
        /// not given to it by the map) that the node may now drop: each
        /// partition has a replica in sync whose own node reports it whole
        /// in this epoch. Sorted; empty almost always.
        release: Vec<u32>,
    },
    /// Map dissemination from the leader (one-way). One push to many
    /// members shares one immutable update: no recipient can change what
    /// another holds, and each still authenticates the same bytes.
    MapUpdate(Shared<MapUpdate>),
}

/// Serializes a shared value as the value itself (what the wire carries).
fn serialize_shared<T: Serialize, S: serde::Serializer>(
    v: &Rc<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    T::serialize(v, s)
}

/// One replica as a data node reports it in its heartbeats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaReport {
    /// Partition.
    pub partition: u32,
    /// The partition's epoch in the node's map.
    pub epoch: u64,
    /// True when the node holds the partition's data in full.
    pub in_sync: bool,
    /// True when the node holds the partition's data whole, perhaps behind
    /// (kept on its disk from an earlier incarnation, or transferred and not
    /// yet declared caught up): a candidate to re-seed a partition that has
    /// no in-sync copy left.
    pub stored: bool,
    /// With a stored copy: the newest partition epoch at which the node
    /// held it in sync (so it holds every write acknowledged up to that
    /// epoch), kept on its disk across restarts. A re-seed takes only the
    /// copies with the newest.
    pub synced: Option<u64>,
    /// True when the node found its copy damaged (scrub or reload): it
    /// counts for nothing — never in sync, never a source, never promoted —
    /// until an install from an intact holder rebuilds it.
    pub damaged: bool,
    /// A stray: a copy the node's disk keeps that the map does not give
    /// it (say, it was removed from the partition while it was down). It
    /// is kept, and offered to a re-seed, until the leader releases it
    /// (`HeartbeatAck::release`): the map may still name a replica in sync
    /// whose copy is gone.
    pub stray: bool,
}

/// A map update pushed by the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum MapUpdate {
    /// The commands that lead from map version `base` on, with their indices.
    Delta {
        /// The version the first command applies to.
        base: u64,
        /// `(index, command)`, in log order.
        commands: Vec<(u64, MapCommand)>,
        /// The map these commands lead to, shared by every recipient: a
        /// node whose map is at `base` or later and older than `result`
        /// would compute exactly this by applying the rest of `commands`
        /// (the map is a deterministic state machine), so it adopts this
        /// immutable value instead of keeping a private copy of every
        /// partition's replicas. Not on the wire: the commands are.
        #[serde(skip)]
        result: Rc<ClusterMap>,
        /// Per node, what `commands` say of it: computed once, on first
        /// use, for every recipient of this shared update. Not on the wire.
        #[serde(skip)]
        naming: CommandsNaming,
    },
    /// The whole map (for a node too far behind for a delta), shared by
    /// its recipients.
    Full(#[serde(serialize_with = "serialize_shared")] Rc<ClusterMap>),
}

/// What a delta's commands say of one node: `(index, Some(partition))` for
/// a partition command naming it (in the replica list, as primary, or as
/// the node promoted), `(index, None)` for a command about the node itself
/// (join, rejoin, removal, death, return, drain), in log order.
pub type Naming = Vec<(u64, Option<u32>)>;

/// The per-node index of a [`MapUpdate::Delta`]'s commands, built once per
/// update on first use (every recipient of a shared update reads the same
/// one: a node looks up its own entry instead of comparing its name with
/// every replica of every command). Derived data: it takes no part in
/// equality.
#[derive(Clone, Default)]
pub struct CommandsNaming(std::cell::OnceCell<std::collections::BTreeMap<String, Naming>>);

impl PartialEq for CommandsNaming {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CommandsNaming {}

impl std::fmt::Debug for CommandsNaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommandsNaming")
    }
}

impl MapUpdate {
    /// What a delta's commands say of `node` (nothing for a full map).
    pub fn naming(&self, node: &str) -> &[(u64, Option<u32>)] {
        let MapUpdate::Delta {
            commands, naming, ..
        } = self
        else {
            return &[];
        };
        let index = naming.0.get_or_init(|| {
            let mut index: std::collections::BTreeMap<String, Naming> =
                std::collections::BTreeMap::new();
            let mut note = |node: &str, entry: (u64, Option<u32>)| match index.get_mut(node) {
                Some(list) => list.push(entry),
                None => {
                    index.insert(node.to_string(), vec![entry]);
                }
            };
            for (i, c) in commands {
                match c {
                    MapCommand::SetReplicas {
                        partition,
                        replicas,
                        primary,
                        ..
                    } => {
                        for r in replicas {
                            note(&r.node, (*i, Some(*partition)));
                        }
                        if let Some(pr) = primary {
                            note(pr, (*i, Some(*partition)));
                        }
                    }
                    MapCommand::PromotePrimary {
                        partition, node, ..
                    } => note(node, (*i, Some(*partition))),
                    MapCommand::AddNode { node, .. }
                    | MapCommand::RemoveNode { node }
                    | MapCommand::MarkDead { node }
                    | MapCommand::MarkAlive { node }
                    | MapCommand::Drain { node } => note(node, (*i, None)),
                }
            }
            index
        });
        index.get(node).map_or(&[], Vec::as_slice)
    }
}

impl Control {
    fn name(&self) -> &'static str {
        match self {
            Control::Register { .. } => "Register",
            Control::Registered { .. } => "Registered",
            Control::Redirect { .. } => "Redirect",
            Control::Heartbeat { .. } => "Heartbeat",
            Control::HeartbeatAck { .. } => "HeartbeatAck",
            Control::MapUpdate(u) => match **u {
                MapUpdate::Delta { .. } => "MapDelta",
                MapUpdate::Full(_) => "MapFull",
            },
        }
    }
}

impl Payload for Control {
    fn name(&self) -> &'static str {
        Control::name(self)
    }
    fn redirect(&self) -> Option<Option<ProcessId>> {
        match self {
            Control::Redirect { leader } => Some(*leader),
            _ => None,
        }
    }
    fn limit(&self) -> Option<Limit> {
        match self {
            Control::Register { .. } => Some(Limit::Register),
            Control::Heartbeat { .. } => Some(Limit::Heartbeat),
            _ => None,
        }
    }
}

/// State transfer between data nodes: a replica catching up pulls the
/// partition's data from an in-sync replica, chunk by chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Send me chunk `chunk` of `partition`.
    Fetch {
        /// Partition.
        partition: u32,
        /// Chunk number, from 0.
        chunk: u32,
    },
    /// A chunk of a partition's data.
    Chunk {
        /// Partition.
        partition: u32,
        /// Chunk number.
        chunk: u32,
        /// Chunks in all.
        chunks: u32,
        /// Bytes in this chunk.
        bytes: u32,
    },
    /// The asked node holds no in-sync copy of the partition.
    NotHeld {
        /// Partition.
        partition: u32,
    },
}

impl Transfer {
    fn name(&self) -> &'static str {
        match self {
            Transfer::Fetch { .. } => "Fetch",
            Transfer::Chunk { .. } => "Chunk",
            Transfer::NotHeld { .. } => "NotHeld",
        }
    }
}

/// Every message of the stack.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Demo heartbeat.
    Beat(Beat),
    /// Between managers.
    Raft(RaftMsg<MapCommand>),
    /// Between nodes and managers, authenticated.
    Control(Envelope<Control>),
    /// Between data nodes: state transfer (bulk data, so data plane).
    Transfer(Transfer),
    /// From the operator, outside the cluster.
    Operator(Operator),
    /// Client operations and replication (data plane).
    Data(Box<DataMsg>),
}

impl Message for Msg {
    fn name(&self) -> &'static str {
        match self {
            Msg::Beat(b) => b.name(),
            Msg::Raft(m) => m.name(),
            Msg::Control(c) => c.body.name(),
            Msg::Transfer(t) => t.name(),
            Msg::Operator(o) => o.name(),
            Msg::Data(d) => d.name(),
        }
    }
    /// The data plane (client and replication traffic, state transfer) is
    /// bulk: `--trace-level control` leaves it out.
    fn class(&self) -> MsgClass {
        match self {
            Msg::Transfer(_) | Msg::Data(_) => MsgClass::Bulk,
            _ => MsgClass::Normal,
        }
    }
}

impl From<Envelope<Control>> for Msg {
    fn from(e: Envelope<Control>) -> Msg {
        Msg::Control(e)
    }
}

/// Every timer of the stack.
#[derive(Copy, Clone, Debug)]
pub enum Timer {
    /// Demo heartbeat.
    Beat,
    /// Raft's timers.
    Raft(RaftTimer),
    /// A request's retry timer (network manager).
    Net(NetTimer),
    /// A node's heartbeat.
    Heartbeat,
    /// The leader's health check and placement round.
    Health,
    /// A state transfer of this partition: a chunk applied, or a fetch timed out.
    CatchUp(u32),
    /// The data plane's timers.
    Data(DataTimer),
}

impl TimerKind for Timer {
    fn name(&self) -> &'static str {
        match self {
            Timer::Beat => BeatTimer.name(),
            Timer::Raft(t) => t.name(),
            Timer::Net(_) => "Retry",
            Timer::Heartbeat => "Heartbeat",
            Timer::Health => "Health",
            Timer::CatchUp(_) => "CatchUp",
            Timer::Data(t) => t.name(),
        }
    }
}

impl From<NetTimer> for Timer {
    fn from(t: NetTimer) -> Timer {
        Timer::Net(t)
    }
}

impl From<Beat> for Msg {
    fn from(b: Beat) -> Msg {
        Msg::Beat(b)
    }
}

impl From<BeatTimer> for Timer {
    fn from(_: BeatTimer) -> Timer {
        Timer::Beat
    }
}

impl From<DataMsg> for Msg {
    fn from(m: DataMsg) -> Msg {
        Msg::Data(Box::new(m))
    }
}

impl From<DataTimer> for Timer {
    fn from(t: DataTimer) -> Timer {
        Timer::Data(t)
    }
}
