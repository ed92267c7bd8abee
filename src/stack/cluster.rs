//! The cluster as the stack sees it: the resolved configuration every
//! process is built from, and the process type that hosts the components.
//!
//! `scenario/` turns a scenario file into a [`ClusterConfig`]; `stack/`
//! never reads scenario files itself (the dependency points one way).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use serde::Serialize;

use crate::sim::{Cx, Message, Process, ProcessId, SimDuration, TimerKind};

use super::client::{Client, WorkloadSpec};
use super::consensus::{RaftMsg, RaftTimer};
use super::coordinator::PolicyKind;
use super::demo::{Beat, BeatTimer, Demo};
use super::distribution::Manager;
use super::events::{Role, StackEvent};
use super::grid::{ClusterMap, Geometry, MapCommand};
use super::network::{Envelope, Limit, NetTimer, Payload};
use super::node::DataNode;
use super::planted::Planted;
use super::replication::{DataMsg, DataTimer};

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
    /// The cluster key (authentication).
    pub cluster_key: String,
    /// Placement settings (`[placement]`).
    pub placement: PlacementSettings,
    /// Planted bugs active in this run.
    pub planted: Planted,
    /// Run the kernel's demo process everywhere instead of the stack.
    pub demo: bool,
    /// The operator's requests (see [`AdminRequests`]).
    pub admin: Admin,
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

/// What the operator asked of the cluster: the stand-in for an admin call
/// to the managers (the kernel has no way to inject a message from
/// outside). The runner writes it when a `leave` event fires; every
/// manager reads it, and the leader acts on it. It is a declaration, not a
/// queue, so a failover loses nothing: the next leader reads it too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminRequests {
    /// Data nodes to decommission: drain, then remove.
    pub leaving: BTreeSet<String>,
}

/// The operator's requests, shared by the runner and the managers.
pub type Admin = Rc<RefCell<AdminRequests>>;

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
        /// The replicas it hosts and their state.
        replicas: Vec<ReplicaReport>,
    },
    /// The leader heard the heartbeat.
    HeartbeatAck {
        /// The heartbeat answered.
        seq: u64,
        /// The leader's applied map version.
        version: u64,
        /// False when the node (this boot) is not a member.
        member: bool,
    },
    /// Map dissemination from the leader (one-way).
    MapUpdate(MapUpdate),
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
    /// True when the node kept the partition's data on its disk from an
    /// earlier incarnation (whole, perhaps behind): a candidate to re-seed
    /// a partition that has no in-sync copy left.
    pub stored: bool,
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
    },
    /// The whole map (for a node too far behind for a delta).
    Full(Box<ClusterMap>),
}

impl Control {
    fn name(&self) -> &'static str {
        match self {
            Control::Register { .. } => "Register",
            Control::Registered { .. } => "Registered",
            Control::Redirect { .. } => "Redirect",
            Control::Heartbeat { .. } => "Heartbeat",
            Control::HeartbeatAck { .. } => "HeartbeatAck",
            Control::MapUpdate(MapUpdate::Delta { .. }) => "MapDelta",
            Control::MapUpdate(MapUpdate::Full(_)) => "MapFull",
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
            Msg::Data(d) => d.name(),
        }
    }
    fn is_data_plane(&self) -> bool {
        matches!(self, Msg::Transfer(_) | Msg::Data(_))
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

/// A process of the cluster.
pub enum Node {
    /// The kernel's demo process (`stack = "demo"` scenarios).
    Demo(Demo),
    /// A manager.
    Manager(Box<Manager>),
    /// A data node (or an impostor: a data node with the wrong key).
    Data(Box<DataNode>),
    /// A workload client.
    Client(Box<Client>),
    /// A process with nothing to do yet (clients and impostors until their
    /// components exist): it starts, crashes and restarts, and sends nothing.
    Idle,
}

impl Node {
    /// The term, if this process is a manager that believes it leads.
    pub fn leader_term(&self) -> Option<u64> {
        match self {
            Node::Manager(m) if m.raft().role() == Role::Leader => Some(m.raft().term()),
            _ => None,
        }
    }

    /// The manager, if this is one.
    pub fn as_manager(&self) -> Option<&Manager> {
        match self {
            Node::Manager(m) => Some(m),
            _ => None,
        }
    }

    /// The data node, if this is one.
    pub fn as_data(&self) -> Option<&DataNode> {
        match self {
            Node::Data(n) => Some(n),
            _ => None,
        }
    }

    /// Builds process `p` of the cluster (at start, join or restart).
    pub fn build(config: &Rc<ClusterConfig>, p: ProcessId) -> Node {
        if config.demo {
            let peers: Vec<ProcessId> = (0..config.processes.len() as u32)
                .map(ProcessId)
                .filter(|q| *q != p)
                .collect();
            return Node::Demo(Demo::new(config.timing.heartbeat_interval, peers));
        }
        match config.kind(p) {
            Some(Kind::Manager) => Node::Manager(Box::new(Manager::new(config, p))),
            Some(Kind::Node) => Node::Data(Box::new(DataNode::new(config, p))),
            Some(Kind::Impostor) => Node::Data(Box::new(DataNode::impostor(config, p))),
            Some(Kind::Client) if config.workload.is_some() => {
                Node::Client(Box::new(Client::new(config, p)))
            }
            _ => Node::Idle,
        }
    }
}

impl Process for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Event = StackEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        match self {
            Node::Demo(d) => d.on_start(cx),
            Node::Manager(m) => m.on_start(cx),
            Node::Data(n) => n.on_start(cx),
            Node::Client(c) => c.on_start(cx),
            Node::Idle => {}
        }
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: Msg) {
        match (self, msg) {
            (Node::Demo(d), Msg::Beat(b)) => d.on_message(from, b),
            (Node::Manager(m), msg) => m.on_message(cx, from, msg),
            (Node::Data(n), msg) => n.on_message(cx, from, msg),
            (Node::Client(c), Msg::Data(d)) => c.on_message(cx, from, *d),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: Timer) {
        match (self, timer) {
            (Node::Demo(d), Timer::Beat) => d.on_timer(cx),
            (Node::Manager(m), t) => m.on_timer(cx, t),
            (Node::Data(n), t) => n.on_timer(cx, t),
            (Node::Client(c), Timer::Data(t)) => c.on_timer(cx, t),
            _ => {}
        }
    }
}
