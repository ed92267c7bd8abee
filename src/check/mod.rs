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
}

/// One invariant, with a stable name (used in `[expect] violations` and in
/// the trace's `violation` events).
pub trait Checker {
    /// The stable name, e.g. `"election_safety"`.
    fn name(&self) -> &'static str;
    /// True for liveness checkers (judged at the end of the run).
    fn is_liveness(&self) -> bool {
        false
    }
    /// One event; push a violation if the invariant broke here.
    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>);
    /// The run ended; liveness checkers judge here.
    fn finish(&mut self, _end: &EndOfRun, _out: &mut Vec<Violation>) {}
    /// Figures for the run's summary, e.g. `("leader_changes", 3)`.
    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        Vec::new()
    }
}

/// The names of every checker partsim knows (for validating `[expect]`).
pub use crate::scenario::KNOWN_CHECKERS as KNOWN;

/// The checkers that run for a cluster of the stack.
pub fn standard_checkers() -> Vec<Box<dyn Checker>> {
    let mut checkers = raft::raft_checkers();
    checkers.extend(control::control_checkers());
    checkers.extend(data::data_checkers());
    checkers
}
