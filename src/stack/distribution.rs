//! DistributedPartitionManager: the manager process. It owns a
//! [`ConsensusManager`] over the [`ClusterMap`] and a [`HealthMonitor`], and
//! wires them to the data nodes' messages.
//!
//! **Inputs.** Raft messages from the other managers; `Register` and
//! `Heartbeat` from data nodes; its timers. **Outputs.** Raft traffic;
//! replies to nodes (`Registered`, `HeartbeatAck`, or `Redirect` to the
//! leader it knows); proposals (`AddNode` for a node that registers,
//! `MarkDead`/`MarkAlive` from the health monitor); `health` trace events.
//!
//! Only the leader acts on nodes' messages; a follower redirects. Nothing
//! changes the map but a committed entry, so a deposed leader's decisions
//! that never committed are simply lost.
//!
//! ```text
//!   node ──Register──► leader: member? ── yes ──► Registered
//!                                │ no
//!                                ▼
//!                      propose AddNode ── committed ──► Registered
//!   node ──Heartbeat─► leader: health.heard ──► HeartbeatAck
//!   tick ──► health.tick ──► propose MarkDead / MarkAlive
//! ```

use std::collections::BTreeMap;

use crate::sim::{Cx, Process, ProcessId, SimDuration};

use super::cluster::{ClusterConfig, Control, Kind, Msg, Timer};
use super::consensus::{ConsensusManager, RaftConfig, RaftMsg, RaftTimer};
use super::events::{Role, StackEvent};
use super::grid::{ClusterMap, MapCommand};
use super::health::HealthMonitor;

/// Registrations waiting for their `AddNode` to commit, at most (a bound on
/// what a flood of registrations can make the leader hold).
const MAX_PENDING_REGISTRATIONS: usize = 1024;

/// A manager: Raft over the cluster map, plus the leader's duties.
pub struct Manager {
    raft: ConsensusManager<ClusterMap>,
    health: HealthMonitor,
    health_interval: SimDuration,
    /// Nodes whose `AddNode` is proposed, with the request to answer.
    pending: BTreeMap<String, (ProcessId, u64)>,
    was_leader: bool,
}

impl Manager {
    /// Manager `p` of the cluster.
    pub fn new(config: &ClusterConfig, p: ProcessId) -> Self {
        let raft_config = RaftConfig {
            election_timeout: config.timing.election_timeout,
            heartbeat: config.timing.raft_heartbeat,
            planted: config.planted,
            ..RaftConfig::default()
        };
        let map = ClusterMap::new(config.geometry, config.replication_factor);
        Manager {
            raft: ConsensusManager::new(p, config.of_kind(Kind::Manager), raft_config, map),
            health: HealthMonitor::new(config.timing.suspect_after, config.timing.dead_after),
            health_interval: config.timing.heartbeat_interval,
            pending: BTreeMap::new(),
            was_leader: false,
        }
    }

    /// The Raft component.
    pub fn raft(&self) -> &ConsensusManager<ClusterMap> {
        &self.raft
    }

    /// The committed map as this manager has applied it.
    pub fn map(&self) -> &ClusterMap {
        self.raft.state()
    }

    /// Starts or restarts: Raft reloads its disk; the health tick is armed.
    pub fn on_start<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        self.raft.on_start(cx);
        cx.set_timer(self.health_interval, Timer::Health);
        self.after_input(cx);
    }

    /// A message from another manager or a node.
    pub fn on_message<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: Msg,
    ) {
        match msg {
            Msg::Raft(m) => self.raft.on_message(cx, from, m),
            Msg::Control(c) => self.on_control(cx, from, c),
            Msg::Beat(_) => {}
        }
        self.after_input(cx);
    }

    /// A timer fired.
    pub fn on_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        timer: Timer,
    ) {
        match timer {
            Timer::Raft(t) => self.raft.on_timer(cx, t),
            Timer::Health => {
                if self.raft.role() == Role::Leader {
                    let now = cx.now();
                    let (transitions, proposals) = self.health.tick(now, self.raft.state());
                    for t in transitions {
                        cx.trace(StackEvent::Health {
                            node: t.node,
                            state: t.health,
                        });
                    }
                    for cmd in proposals {
                        // A refused proposal (lost leadership, too many in
                        // flight) is proposed again at a later tick.
                        let _ = self.raft.propose(cx, cmd);
                    }
                }
                cx.set_timer(self.health_interval, Timer::Health);
            }
            _ => {}
        }
        self.after_input(cx);
    }

    fn on_control<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: Control,
    ) {
        if self.raft.role() != Role::Leader {
            if matches!(msg, Control::Register { .. } | Control::Heartbeat { .. }) {
                cx.send(
                    from,
                    Msg::Control(Control::Redirect {
                        leader: self.raft.leader(),
                    }),
                );
            }
            return;
        }
        let node = cx.name(from).to_string();
        match msg {
            Control::Register {
                req,
                zone,
                capacity,
            } => {
                let version = self.raft.state().version;
                if self.raft.state().members.contains_key(&node) {
                    cx.send(from, Msg::Control(Control::Registered { req, version }));
                    return;
                }
                if self.pending.len() >= MAX_PENDING_REGISTRATIONS
                    && !self.pending.contains_key(&node)
                {
                    return;
                }
                let already = self.pending.insert(node.clone(), (from, req)).is_some();
                if !already {
                    let cmd = MapCommand::AddNode {
                        node: node.clone(),
                        zone,
                        capacity,
                    };
                    if self.raft.propose(cx, cmd).is_err() {
                        self.pending.remove(&node);
                    }
                }
            }
            Control::Heartbeat { seq, .. } => {
                let now = cx.now();
                self.health.heard(&node, now);
                let version = self.raft.state().version;
                cx.send(from, Msg::Control(Control::HeartbeatAck { seq, version }));
            }
            _ => {}
        }
    }

    /// After every input: react to leadership changes and to applied entries.
    fn after_input<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let leader = self.raft.role() == Role::Leader;
        if leader && !self.was_leader {
            let now = cx.now();
            self.health.on_leadership(now, self.raft.state());
        }
        if !leader {
            self.pending.clear();
        }
        self.was_leader = leader;
        for (_, cmd) in self.raft.take_applied() {
            if let MapCommand::AddNode { node, .. } = &cmd
                && let Some((to, req)) = self.pending.remove(node)
            {
                let version = self.raft.state().version;
                cx.send(to, Msg::Control(Control::Registered { req, version }));
            }
        }
        let _ = self.raft.take_snapshot_installed();
    }
}

impl From<RaftMsg<MapCommand>> for Msg {
    fn from(m: RaftMsg<MapCommand>) -> Msg {
        Msg::Raft(m)
    }
}

impl From<RaftTimer> for Timer {
    fn from(t: RaftTimer) -> Timer {
        Timer::Raft(t)
    }
}
