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
        Demo {
            interval,
            peers,
            round: 0,
            received: vec![0; n],
        }
    }
}

impl Demo {
    /// Arms the first beat.
    pub fn on_start<P>(&mut self, cx: &mut Cx<'_, P>)
    where
        P: Process<Event = StackEvent>,
        P::Timer: From<BeatTimer>,
    {
        cx.set_timer(self.interval, BeatTimer.into());
    }

    /// Counts a beat.
    pub fn on_message(&mut self, from: ProcessId, _msg: Beat) {
        if let Some(n) = self.received.get_mut(from.index()) {
            *n += 1;
        }
    }

    /// Beats to every peer and re-arms.
    pub fn on_timer<P>(&mut self, cx: &mut Cx<'_, P>)
    where
        P: Process<Event = StackEvent>,
        P::Msg: From<Beat>,
        P::Timer: From<BeatTimer>,
    {
        self.round += 1;
        cx.trace(StackEvent::Beat { round: self.round });
        let me = cx.me();
        for &p in &self.peers {
            if p != me {
                cx.send(p, Beat { round: self.round }.into());
            }
        }
        cx.set_timer(self.interval, BeatTimer.into());
    }
}
