//! The cluster as the stack sees it: the resolved configuration every
//! process is built from, and the process type that hosts the components.
//!
//! `scenario/` turns a scenario file into a [`ClusterConfig`]; `stack/`
//! never reads scenario files itself (the dependency points one way).

use std::rc::Rc;

use crate::sim::{Cx, Message, Process, ProcessId, SimDuration, TimerKind};

use super::consensus::{RaftMsg, RaftTimer};
use super::demo::{Beat, BeatTimer, Demo};
use super::distribution::Manager;
use super::events::{Role, StackEvent};
use super::grid::{Geometry, MapCommand};
use super::node::DataNode;
use super::planted::Planted;

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
    /// Planted bugs active in this run.
    pub planted: Planted,
    /// Run the kernel's demo process everywhere instead of the stack.
    pub demo: bool,
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

/// Control-plane messages between data nodes and managers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// A node asks to be (or confirms it is) a member.
    Register {
        /// Request id (answers to older requests are ignored).
        req: u64,
        /// Its zone.
        zone: String,
        /// Its capacity.
        capacity: u32,
    },
    /// The node is in the committed map.
    Registered {
        /// The request answered.
        req: u64,
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
        /// The newest map version the node knows.
        version: u64,
    },
    /// The leader heard the heartbeat.
    HeartbeatAck {
        /// The heartbeat answered.
        seq: u64,
        /// The leader's applied map version.
        version: u64,
    },
}

impl Control {
    fn name(&self) -> &'static str {
        match self {
            Control::Register { .. } => "Register",
            Control::Registered { .. } => "Registered",
            Control::Redirect { .. } => "Redirect",
            Control::Heartbeat { .. } => "Heartbeat",
            Control::HeartbeatAck { .. } => "HeartbeatAck",
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
    /// Between nodes and managers.
    Control(Control),
}

impl Message for Msg {
    fn name(&self) -> &'static str {
        match self {
            Msg::Beat(b) => b.name(),
            Msg::Raft(m) => m.name(),
            Msg::Control(c) => c.name(),
        }
    }
}

/// Every timer of the stack.
#[derive(Copy, Clone, Debug)]
pub enum Timer {
    /// Demo heartbeat.
    Beat,
    /// Raft's timers.
    Raft(RaftTimer),
    /// A node retries its registration.
    Register,
    /// A node's heartbeat.
    Heartbeat,
    /// The leader's health check.
    Health,
}

impl TimerKind for Timer {
    fn name(&self) -> &'static str {
        match self {
            Timer::Beat => BeatTimer.name(),
            Timer::Raft(t) => t.name(),
            Timer::Register => "Register",
            Timer::Heartbeat => "Heartbeat",
            Timer::Health => "Health",
        }
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
    /// A data node.
    Data(DataNode),
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
            Some(Kind::Node) => Node::Data(DataNode::new(config, p)),
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
            Node::Idle => {}
        }
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: Msg) {
        match (self, msg) {
            (Node::Demo(d), Msg::Beat(b)) => d.on_message(from, b),
            (Node::Manager(m), msg) => m.on_message(cx, from, msg),
            (Node::Data(n), Msg::Control(c)) => n.on_control(cx, from, c),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: Timer) {
        match (self, timer) {
            (Node::Demo(d), Timer::Beat) => d.on_timer(cx),
            (Node::Manager(m), t) => m.on_timer(cx, t),
            (Node::Data(n), t) => n.on_timer(cx, t),
            _ => {}
        }
    }
}
