//! A demo process: every process sends a `Beat` to every other process each
//! heartbeat interval. It is the stand-in that lets the kernel run scenarios
//! before the manager stack is wired in, and the workload of kernel tests.
//! It is not the system under test.

use serde::{Deserialize, Serialize};

use crate::sim::{Cx, Message, Process, ProcessId, SimDuration, TimerKind};

use super::events::StackEvent;

/// The demo's one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// Sender's round.
    pub round: u64,
}

impl Message for Beat {
    fn name(&self) -> &'static str {
        "Beat"
    }
}

/// The demo's one timer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BeatTimer;

impl TimerKind for BeatTimer {
    fn name(&self) -> &'static str {
        "Beat"
    }
}

/// A process that beats to every peer.
#[derive(Debug, Clone)]
pub struct Demo {
    interval: SimDuration,
    peers: Vec<ProcessId>,
    round: u64,
    /// Beats received, per sender index.
    pub received: Vec<u64>,
}

impl Demo {
    /// A demo process beating to `peers` every `interval`.
    pub fn new(interval: SimDuration, peers: Vec<ProcessId>) -> Self {
        let n = peers.iter().map(|p| p.index() + 1).max().unwrap_or(0);
        Demo { interval, peers, round: 0, received: vec![0; n] }
    }
}

impl Process for Demo {
    type Msg = Beat;
    type Timer = BeatTimer;
    type Event = StackEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        cx.set_timer(self.interval, BeatTimer);
    }

    fn on_message(&mut self, _cx: &mut Cx<'_, Self>, from: ProcessId, _msg: Beat) {
        if let Some(n) = self.received.get_mut(from.index()) {
            *n += 1;
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, _timer: BeatTimer) {
        self.round += 1;
        cx.trace(StackEvent::Beat { round: self.round });
        let me = cx.me();
        for &p in &self.peers {
            if p != me {
                cx.send(p, Beat { round: self.round });
            }
        }
        cx.set_timer(self.interval, BeatTimer);
    }
}
