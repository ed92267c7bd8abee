//! When a liveness checker may judge, shared by the online run and the
//! offline `partsim check`, so that both reach the same verdicts.
//!
//! A liveness property is a promise about a deadline: "a leader by 3.1 s",
//! "converged by 28 s". A run that ends before the deadline — cut short by
//! `--duration`, or stopped by a violation — has not tested the promise, and
//! must say so rather than count it as held. [`finish`] calls a liveness
//! checker's `finish` only when its deadline lies within the run, and
//! returns, for every liveness checker, its deadline and whether it was
//! judged.

use serde::Serialize;

use super::{Checker, EndOfRun, control, raft};
use crate::sim::{SimTime, Violation};

/// One liveness checker's standing at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LivenessJudgement {
    /// The checker.
    pub check: String,
    /// Its deadline: `[expect]`'s, or the last fault's healing plus its grace.
    pub deadline: SimTime,
    /// True when the deadline came from `[expect]`, false for the implicit one.
    pub explicit: bool,
    /// False when the run ended before the deadline: nothing was judged.
    pub judged: bool,
    /// Set when the deadline was reached but the checker had nothing to
    /// judge (its reason): the property was not tested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing_judged: Option<String>,
}

/// The deadline `check` is judged at, or `None` for a checker judged at
/// whatever time the run ends.
pub fn deadline_of(check: &str, end: &EndOfRun) -> Option<(SimTime, bool)> {
    match check {
        "leader_elected" => Some(match end.leader_deadline {
            Some(d) => (d, true),
            None => (end.healed_at + raft::LEADER_GRACE, false),
        }),
        // `balanced` judges the placement of a converged cluster: it shares
        // `converged`'s deadline.
        "converged" | "balanced" => Some(match end.deadline {
            Some(d) => (d, true),
            None => (end.healed_at + control::CONVERGE_GRACE, false),
        }),
        _ => None,
    }
}

/// Ends the run for `checkers`: each liveness checker whose deadline is
/// within the run judges; the others are reported as not judged.
pub fn finish<E>(
    checkers: &mut [Box<dyn Checker<E>>],
    end: &EndOfRun,
) -> (Vec<Violation>, Vec<LivenessJudgement>) {
    let mut out = Vec::new();
    let mut judgements = Vec::new();
    for c in checkers.iter_mut() {
        let (deadline, explicit) = deadline_of(c.name(), end).unwrap_or((end.now, false));
        let judged = deadline <= end.now;
        if judged || !c.is_liveness() {
            c.finish(end, &mut out);
        }
        if c.is_liveness() {
            judgements.push(LivenessJudgement {
                check: c.name().to_string(),
                deadline,
                explicit,
                judged,
                nothing_judged: if judged { c.nothing_judged() } else { None },
            });
        }
    }
    (out, judgements)
}

/// Every liveness checker as not judged: the run was stopped early (by a
/// violation) and no deadline was reached fairly.
pub fn not_judged<E>(checkers: &[Box<dyn Checker<E>>], end: &EndOfRun) -> Vec<LivenessJudgement> {
    checkers
        .iter()
        .filter(|c| c.is_liveness())
        .map(|c| {
            let (deadline, explicit) = deadline_of(c.name(), end).unwrap_or((end.now, false));
            LivenessJudgement {
                check: c.name().to_string(),
                deadline,
                explicit,
                judged: false,
                nothing_judged: None,
            }
        })
        .collect()
}
