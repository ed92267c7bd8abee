//! PartitionNode, control side: a data node registers with the managers and
//! heartbeats the leader.
//!
//! **Inputs.** Its start (or restart), replies from managers (`Registered`,
//! `Redirect`, `HeartbeatAck`), and its timers. **Outputs.** `Register`
//! until a manager confirms the node is in the committed map, then a
//! `Heartbeat` every `heartbeat_interval` to the leader it knows. Redirects
//! are followed; a manager that stops answering is replaced by the next one.
//! Retries back off exponentially with jitter from the node's own stream,
//! capped, so a cluster without a leader is not flooded.
//!
//! ```text
//!   start ──► Register ──(Redirect: try the leader named, or the next manager)──► Register …
//!                 │ Registered (AddNode committed)
//!                 ▼
//!            Heartbeat every interval ──(no ack for 3 intervals: next manager)──► …
//! ```

use crate::sim::rng::uniform_u64;
use crate::sim::{Cx, Process, ProcessId, SimDuration, SimTime};

use super::cluster::{ClusterConfig, Control, Kind, Msg, Timer};
use super::events::StackEvent;

/// The longest wait between two registration attempts.
const MAX_BACKOFF: SimDuration = SimDuration::from_secs(2);
/// Heartbeats without an answer after which the node tries another manager.
const UNANSWERED_LIMIT: u32 = 3;

/// A data node.
pub struct DataNode {
    zone: String,
    capacity: u32,
    managers: Vec<ProcessId>,
    interval: SimDuration,
    /// Where to send next.
    target: usize,
    registered: bool,
    req: u64,
    backoff: SimDuration,
    heartbeat_seq: u64,
    unanswered: u32,
    /// The newest map version a manager reported.
    pub map_version: u64,
    last_ack: SimTime,
}

impl DataNode {
    /// Node `p` of the cluster.
    pub fn new(config: &ClusterConfig, p: ProcessId) -> Self {
        DataNode {
            zone: config.zones.get(p.index()).cloned().unwrap_or_default(),
            capacity: config.capacities.get(p.index()).copied().unwrap_or(1),
            managers: config.of_kind(Kind::Manager),
            interval: config.timing.heartbeat_interval,
            target: 0,
            registered: false,
            req: 0,
            backoff: config.timing.heartbeat_interval,
            heartbeat_seq: 0,
            unanswered: 0,
            map_version: 0,
            last_ack: SimTime::ZERO,
        }
    }

    /// True once a manager confirmed the node is a member.
    pub fn registered(&self) -> bool {
        self.registered
    }

    fn manager(&self) -> Option<ProcessId> {
        self.managers
            .get(self.target % self.managers.len().max(1))
            .copied()
    }

    fn aim_at(&mut self, leader: Option<ProcessId>) {
        match leader.and_then(|l| self.managers.iter().position(|m| *m == l)) {
            Some(i) => self.target = i,
            None => self.target = (self.target + 1) % self.managers.len().max(1),
        }
    }

    fn send_register<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        self.req += 1;
        if let Some(m) = self.manager() {
            let msg = Control::Register {
                req: self.req,
                zone: self.zone.clone(),
                capacity: self.capacity,
            };
            cx.send(m, Msg::Control(msg));
        }
        let jitter = uniform_u64(cx.rng(), 0, self.backoff.as_micros() / 2);
        cx.set_timer(self.backoff + SimDuration(jitter), Timer::Register);
        self.backoff = SimDuration((self.backoff.as_micros() * 2).min(MAX_BACKOFF.as_micros()));
    }

    /// Starts (or restarts): register from scratch.
    pub fn on_start<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        self.send_register(cx);
    }

    /// A reply from a manager.
    pub fn on_control<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: Control,
    ) {
        match msg {
            Control::Registered { req, version } if req == self.req && !self.registered => {
                self.registered = true;
                self.map_version = self.map_version.max(version);
                self.aim_at(Some(from));
                self.last_ack = cx.now();
                cx.set_timer(self.interval, Timer::Heartbeat);
            }
            Control::Redirect { leader } => {
                self.aim_at(leader);
                if !self.registered {
                    // Retry at once towards the leader named; the backoff
                    // timer still bounds a storm of redirects.
                    self.req += 1;
                    if let Some(m) = self.manager() {
                        let msg = Control::Register {
                            req: self.req,
                            zone: self.zone.clone(),
                            capacity: self.capacity,
                        };
                        cx.send(m, Msg::Control(msg));
                    }
                } else {
                    self.unanswered = 0;
                }
            }
            Control::HeartbeatAck { version, .. } => {
                self.unanswered = 0;
                self.map_version = self.map_version.max(version);
                self.last_ack = cx.now();
                if let Some(i) = self.managers.iter().position(|m| *m == from) {
                    self.target = i;
                }
            }
            _ => {}
        }
    }

    /// One of its timers fired.
    pub fn on_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        timer: Timer,
    ) {
        match timer {
            Timer::Register if !self.registered => {
                self.aim_at(None);
                self.send_register(cx);
            }
            Timer::Heartbeat => {
                if self.unanswered >= UNANSWERED_LIMIT {
                    self.aim_at(None);
                    self.unanswered = 0;
                }
                self.heartbeat_seq += 1;
                self.unanswered += 1;
                if let Some(m) = self.manager() {
                    let hb = Control::Heartbeat {
                        seq: self.heartbeat_seq,
                        version: self.map_version,
                    };
                    cx.send(m, Msg::Control(hb));
                }
                cx.set_timer(self.interval, Timer::Heartbeat);
            }
            _ => {}
        }
    }
}
