//! The cluster as the stack sees it: the resolved configuration every
//! process is built from, and the process type that hosts the components.
//!
//! `scenario/` turns a scenario file into a [`ClusterConfig`]; `stack/`
//! never reads scenario files itself (the dependency points one way).

use std::rc::Rc;

use crate::sim::{Cx, Message, Process, ProcessId, SimDuration, TimerKind};

use super::demo::{Beat, BeatTimer, Demo};
use super::events::StackEvent;
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
    /// Timing knobs.
    pub timing: Timing,
    /// The cluster key (authentication).
    pub cluster_key: String,
    /// Planted bugs active in this run.
    pub planted: Planted,
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

/// Every message of the stack.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Demo heartbeat.
    Beat(Beat),
}

impl Message for Msg {
    fn name(&self) -> &'static str {
        match self {
            Msg::Beat(b) => b.name(),
        }
    }
}

/// Every timer of the stack.
#[derive(Copy, Clone, Debug)]
pub enum Timer {
    /// Demo heartbeat.
    Beat,
}

impl TimerKind for Timer {
    fn name(&self) -> &'static str {
        match self {
            Timer::Beat => BeatTimer.name(),
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
    /// The kernel's demo process (stands in where the stack has nothing yet).
    Demo(Demo),
}

impl Node {
    /// The term, if this process is a manager that believes it leads.
    pub fn leader_term(&self) -> Option<u64> {
        match self {
            Node::Demo(_) => None,
        }
    }

    /// Builds process `p` of the cluster (at start, join or restart).
    pub fn build(config: &Rc<ClusterConfig>, p: ProcessId) -> Node {
        let peers: Vec<ProcessId> =
            (0..config.processes.len() as u32).map(ProcessId).filter(|q| *q != p).collect();
        Node::Demo(Demo::new(config.timing.heartbeat_interval, peers))
    }
}

impl Process for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Event = StackEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        match self {
            Node::Demo(d) => d.on_start(cx),
        }
    }

    fn on_message(&mut self, _cx: &mut Cx<'_, Self>, from: ProcessId, msg: Msg) {
        match (self, msg) {
            (Node::Demo(d), Msg::Beat(b)) => d.on_message(from, b),
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: Timer) {
        match (self, timer) {
            (Node::Demo(d), Timer::Beat) => d.on_timer(cx),
        }
    }
}
