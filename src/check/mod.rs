//! Invariant checkers (DESIGN §4).
//!
//! A checker consumes the event stream — the very events the trace holds —
//! so checking online while the simulation runs and offline on a trace
//! (`partsim check TRACE`) is one code path. Safety checkers judge each event
//! as it comes; liveness checkers judge at the end of the run, knowing when
//! the last fault healed.

pub mod control;
pub mod data;
pub mod lincheck;
pub mod linearizable;
pub mod offline;
pub mod pipeline;
pub mod raft;
pub mod verdict;

pub use pipeline::{Pipeline, Summary};

use crate::sim::{Event, SimTime, Violation};
use crate::stack::events::StackEvent;

/// What a liveness checker knows when the run ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndOfRun {
    /// Virtual time at the end.
    pub now: SimTime,
    /// When the last fault ended (zero if there was none).
    pub healed_at: SimTime,
    /// The liveness deadline: `[expect] converged_by`, if the scenario set one.
    pub deadline: Option<SimTime>,
    /// The deadline for a stable leader: `[expect] leader_elected_by`, else
    /// `converged_by`.
    pub leader_deadline: Option<SimTime>,
    /// `[expect] voters`: the Raft group must end with this many voters.
    pub voters: Option<u32>,
    /// Set when a network fault was still in effect at the end (a
    /// partition, isolation, one-way cut or link fault never ended, or a
    /// `[network]` that delivers nothing): what it was. The implicit
    /// deadline ("after the last fault heals") never came, so the liveness
    /// checkers without an `[expect]` deadline are not judged.
    pub unhealed: Option<String>,
}

/// Which message events and timers a checker is shown ([`Checker::traffic`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traffic {
    /// `send` events.
    pub sends: bool,
    /// `deliver` events.
    pub delivers: bool,
    /// `drop` events.
    pub drops: bool,
    /// Timers fired.
    pub timers: bool,
}

impl Traffic {
    /// Every message event and timer.
    pub const ALL: Traffic = Traffic {
        sends: true,
        delivers: true,
        drops: true,
        timers: true,
    };
    /// None of them.
    pub const NONE: Traffic = Traffic {
        sends: false,
        delivers: false,
        drops: false,
        timers: false,
    };
}

/// One invariant, with a stable name (used in `[expect] violations` and in
/// the trace's `violation` events), over the events `E` of some protocol's
/// processes: the stack's [`StackEvent`] by default, or a user's own.
pub trait Checker<E = StackEvent> {
    /// The stable name, e.g. `"election_safety"`.
    fn name(&self) -> &'static str;
    /// True for liveness checkers (judged at the end of the run).
    fn is_liveness(&self) -> bool {
        false
    }
    /// The message events (`send`, `deliver`, `drop`) and timers the
    /// checker reads: the pipeline shows it no others of those, most of a
    /// run's events. All of them by default.
    fn traffic(&self) -> Traffic {
        Traffic::ALL
    }
    /// One event; push a violation if the invariant broke here.
    fn on_event(&mut self, ev: &Event<'_, E>, names: &[String], out: &mut Vec<Violation>);
    /// The run ended; liveness checkers judge here.
    fn finish(&mut self, _end: &EndOfRun, _out: &mut Vec<Violation>) {}
    /// `end.now` is the liveness checker's `[expect]` deadline: push a
    /// violation if it missed it (it is traced now). What must hold from
    /// the deadline to the end is judged again by [`Checker::finish`] at
    /// the end. By default the same judgement as `finish`.
    fn judge_deadline(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        self.finish(end, out);
    }
    /// After [`Checker::finish`]: why a liveness checker found nothing to
    /// judge (e.g. no client operation after the faults healed), or `None`
    /// when its silence means the property held. A property tested on
    /// nothing is reported as not judged, never as held.
    fn nothing_judged(&self) -> Option<String> {
        None
    }
    /// Figures for the run's summary, e.g. `("leader_changes", 3)`.
    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        Vec::new()
    }
}

/// The name of every checker partsim has, safety then liveness: what a
/// scenario's `[expect] violations` may list. A name is added here with its
/// checker, never before (a name without a checker would check nothing).
/// A test keeps this list equal to [`standard_checkers`]' names.
pub const KNOWN: &[&str] = &[
    "election_safety",
    "log_matching",
    "map_monotonic",
    "single_primary",
    "placement",
    "durability",
    "linearizable",
    "auth",
    "leader_elected",
    "converged",
    "balanced",
    "available",
];

/// The checkers that run for a cluster of the stack.
pub fn standard_checkers() -> Vec<Box<dyn Checker>> {
    let mut checkers = raft::raft_checkers();
    checkers.extend(control::control_checkers());
    checkers.extend(data::data_checkers());
    checkers
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_known_name_has_a_checker_and_every_checker_is_known() {
        let mut have: Vec<&str> = super::standard_checkers()
            .iter()
            .map(|c| c.name())
            .collect();
        let mut known = super::KNOWN.to_vec();
        have.sort_unstable();
        known.sort_unstable();
        assert_eq!(have, known);
    }
}
