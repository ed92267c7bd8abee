//! The process type of a partsim world: one enum that hosts whichever
//! component a process id runs — a manager, a data node (or an impostor),
//! the kernel's demo process, or nothing yet — and routes the kernel's
//! inputs to it.
//!
//! **Inputs.** The kernel's `on_start`, `on_message`, `on_timer`.
//! **Outputs.** Whatever the hosted component sends, sets and traces.
//! Everything below it (components, configuration, wire types) knows
//! nothing of this file: every import here points down.

use std::rc::Rc;

use crate::sim::{Cx, Process, ProcessId, World};

use super::client::Client;
use super::cluster::{ClusterConfig, Kind, Msg, Operator, Timer};
use super::consensus::Role;
use super::demo::Demo;
use super::distribution::Manager;
use super::events::StackEvent;
use super::node::DataNode;

/// A process of the cluster.
pub enum Host {
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

/// What a scenario's selectors and operator steps ask of the system under
/// test, answered by the system itself: the runner picks among the
/// candidates and checks their status, but never reads a process's
/// internals.
pub trait Selectors<P: Process> {
    /// The data nodes (`any-node` draws among them), in id order.
    fn nodes(&self) -> Vec<ProcessId>;
    /// The managers (`any-manager` draws among them), in id order.
    fn managers(&self) -> Vec<ProcessId>;
    /// `leader`: the process that leads now, if any.
    fn leader(&self, world: &World<P>) -> Option<ProcessId>;
    /// `primary:P`: the primary of `partition` in the newest committed map
    /// (the leader's, or with no leader a running manager's).
    fn primary(&self, world: &World<P>, partition: u32) -> Option<ProcessId>;
    /// The messages that ask the system to decommission `node` (a `leave`
    /// step), each with its receiver.
    fn leave(&self, node: &str) -> Vec<(ProcessId, P::Msg)>;
    /// The messages that ask the managers to hold (`member`: an
    /// `add_manager` step) or drop (`remove_manager`) `manager` in their
    /// consensus group, each with its receiver.
    fn manager(&self, manager: &str, member: bool) -> Vec<(ProcessId, P::Msg)>;
    /// The messages that drain `manager` (`drained`: a `drain_manager`
    /// step) or end its drain (the step's `until`), each with its
    /// receiver. A system without managers ignores the step.
    fn drain_manager(&self, _manager: &str, _drained: bool) -> Vec<(ProcessId, P::Msg)> {
        Vec::new()
    }
}

impl Selectors<Host> for ClusterConfig {
    fn nodes(&self) -> Vec<ProcessId> {
        self.of_kind(Kind::Node)
    }

    fn managers(&self) -> Vec<ProcessId> {
        self.of_kind(Kind::Manager)
    }

    /// The manager that believes it leads the highest term (two may
    /// believe it for a while, in different terms).
    fn leader(&self, world: &World<Host>) -> Option<ProcessId> {
        self.managers()
            .into_iter()
            .filter_map(|p| world.process(p)?.leader_term().map(|t| (t, p)))
            .max()
            .map(|(_, p)| p)
    }

    /// The primary in the current leader's committed map; with no leader
    /// (between a leader's crash and the next election), in the newest
    /// committed map a running manager holds: any manager's committed map
    /// is a fact, and a selector that found nothing would inject nothing.
    fn primary(&self, world: &World<Host>, partition: u32) -> Option<ProcessId> {
        let map = match self.leader(world) {
            Some(leader) => world.process(leader)?.as_manager()?.map(),
            None => self
                .managers()
                .into_iter()
                .filter_map(|p| Some(world.process(p)?.as_manager()?.map()))
                .max_by_key(|map| map.version)?,
        };
        let name = map.partitions.get(partition as usize)?.primary.as_deref()?;
        world.id(name)
    }

    /// Every manager is told, so that whichever leads, now or later, acts.
    fn leave(&self, node: &str) -> Vec<(ProcessId, Msg)> {
        self.managers()
            .into_iter()
            .map(|m| {
                let node = node.to_string();
                (m, Msg::Operator(Operator::Leave { node }))
            })
            .collect()
    }

    /// Every manager is told (the added one too), so that whichever leads,
    /// now or later, carries the change out.
    fn manager(&self, manager: &str, member: bool) -> Vec<(ProcessId, Msg)> {
        self.managers()
            .into_iter()
            .map(|m| {
                let manager = manager.to_string();
                (m, Msg::Operator(Operator::Manager { manager, member }))
            })
            .collect()
    }

    /// Every manager is told, so that whichever leads, now or later, acts.
    fn drain_manager(&self, manager: &str, drained: bool) -> Vec<(ProcessId, Msg)> {
        self.managers()
            .into_iter()
            .map(|m| {
                let manager = manager.to_string();
                (m, Msg::Operator(Operator::Drain { manager, drained }))
            })
            .collect()
    }
}

/// The managers the Raft group is bootstrapped with: those of the
/// scenario's `[cluster] managers` (listed first); managers added by
/// `add_manager` come after the clients and join through the group.
pub fn bootstrap_managers(config: &ClusterConfig) -> Vec<ProcessId> {
    config
        .processes
        .iter()
        .take_while(|(_, k)| *k == Kind::Manager)
        .enumerate()
        .map(|(i, _)| ProcessId(i as u32))
        .collect()
}

impl Host {
    /// The term, if this process is a manager that believes it leads.
    fn leader_term(&self) -> Option<u64> {
        match self {
            Host::Manager(m) if m.raft().role() == Role::Leader => Some(m.raft().term()),
            _ => None,
        }
    }

    /// The manager, if this is one.
    fn as_manager(&self) -> Option<&Manager> {
        match self {
            Host::Manager(m) => Some(m),
            _ => None,
        }
    }

    /// The data node, if this is one.
    pub fn as_data(&self) -> Option<&DataNode> {
        match self {
            Host::Data(n) => Some(n),
            _ => None,
        }
    }

    /// A factory for the world: builds each process the first time it
    /// starts and again at each restart. A manager rebuilt after its first
    /// start knows that the cluster exists: on an empty disk it joins as a
    /// new incarnation instead of bootstrapping.
    pub fn factory(config: Rc<ClusterConfig>) -> impl FnMut(ProcessId, &str) -> Host {
        let mut built = std::collections::BTreeSet::new();
        move |p, _| {
            let restart = !built.insert(p);
            Host::build_started(&config, p, restart)
        }
    }

    /// Builds process `p` of the cluster at its first start (or at a join).
    pub fn build(config: &Rc<ClusterConfig>, p: ProcessId) -> Host {
        Host::build_started(config, p, false)
    }

    /// Builds process `p`; `restart`: it ran before in this world.
    pub fn build_started(config: &Rc<ClusterConfig>, p: ProcessId, restart: bool) -> Host {
        if config.demo {
            let peers: Vec<ProcessId> = (0..config.processes.len() as u32)
                .map(ProcessId)
                .filter(|q| *q != p)
                .collect();
            return Host::Demo(Demo::new(config.timing.heartbeat_interval, peers));
        }
        match config.kind(p) {
            Some(Kind::Manager) => {
                let mut m = Manager::new(config, p);
                m.raft_mut()
                    .set_bootstrap(&bootstrap_managers(config), restart);
                Host::Manager(Box::new(m))
            }
            Some(Kind::Node) => Host::Data(Box::new(DataNode::new(config, p))),
            Some(Kind::Impostor) => Host::Data(Box::new(DataNode::impostor(config, p))),
            Some(Kind::Client) => match &config.workload {
                Some(spec) => {
                    let name = config.processes.get(p.index()).map_or("c0", |(n, _)| n);
                    Host::Client(Box::new(Client::new(
                        name.trim_start_matches('c').parse().unwrap_or(0),
                        config.of_kind(Kind::Client).len() as u32,
                        spec.clone(),
                        config.seed,
                        config.geometry,
                        founding_nodes(config, p),
                        config.planted,
                    )))
                }
                None => Host::Idle,
            },
            _ => Host::Idle,
        }
    }
}

/// The data nodes a client rotates through when it knows no primary: those
/// of the cluster from the start. A node that joins later is listed after
/// every client (`run::build` appends the processes of `join` events), so
/// these are the nodes before client `c`. A client learns of a joined node
/// through redirects, as it would from an operator's node list of the day:
/// listing it from the start would let the client send to it before it
/// exists, so that removing the `join` (as a shrinker does) would change
/// the run from its first requests.
fn founding_nodes(config: &ClusterConfig, c: ProcessId) -> Vec<ProcessId> {
    config
        .of_kind(Kind::Node)
        .into_iter()
        .filter(|n| *n < c)
        .collect()
}

impl Process for Host {
    type Msg = Msg;
    type Timer = Timer;
    type Event = StackEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        match self {
            Host::Demo(d) => d.on_start(cx),
            Host::Manager(m) => m.on_start(cx),
            Host::Data(n) => n.on_start(cx),
            Host::Client(c) => c.on_start(cx),
            Host::Idle => {}
        }
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: Msg) {
        match (self, msg) {
            (Host::Demo(d), Msg::Beat(b)) => d.on_message(from, b),
            (Host::Manager(m), msg) => m.on_message(cx, from, msg),
            (Host::Data(n), msg) => n.on_message(cx, from, msg),
            (Host::Client(c), Msg::Data(d)) => c.on_message(cx, from, *d),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: Timer) {
        match (self, timer) {
            (Host::Demo(d), Timer::Beat) => d.on_timer(cx),
            (Host::Manager(m), t) => m.on_timer(cx, t),
            (Host::Data(n), t) => n.on_timer(cx, t),
            (Host::Client(c), Timer::Data(t)) => c.on_timer(cx, t),
            _ => {}
        }
    }
}
