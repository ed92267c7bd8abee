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
//!
//! A deadline the scenario sets (`[expect] leader_elected_by`,
//! `converged_by`) is judged when it passes, not at the end: [`Deadlines`]
//! asks `leader_elected` and `converged` at that instant (the state of
//! every event before it) whether they made it, so that a missed deadline
//! is traced at the deadline (DESIGN §4: a violation is traced where it
//! happens, and stops the run unless `--keep-going`). A deadline met is
//! judged again at the end for its other half ("and stays"). The implicit
//! deadline — the last fault's healing plus a grace — is known only at the
//! end (a later fault moves it), and is judged there.

use std::collections::BTreeMap;

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

/// The liveness checkers whose `[expect]` deadline is judged when it
/// passes: properties of the form "by the deadline". (`balanced` judges
/// the end state of a converged run; `available`, the operations after
/// the deadline: both at the end.)
const AT_DEADLINE: &[&str] = &["leader_elected", "converged"];

/// The `[expect]` deadlines judged as they pass, and how each went.
#[derive(Clone, Debug, Default)]
pub struct Deadlines {
    /// Per checker judged at its deadline: true when it missed it.
    judged: BTreeMap<&'static str, bool>,
}

impl Deadlines {
    /// The earliest `[expect]` deadline not yet judged (from `end`'s
    /// `deadline` and `leader_deadline`; its `now` is ignored).
    pub fn next_due(&self, end: &EndOfRun) -> Option<SimTime> {
        AT_DEADLINE
            .iter()
            .filter(|name| !self.judged.contains_key(*name))
            .filter_map(|name| deadline_of(name, end))
            .filter(|(_, explicit)| *explicit)
            .map(|(d, _)| d)
            .min()
    }

    /// At `end.now`, judges every checker whose `[expect]` deadline is at
    /// or before it and was not judged yet; returns the deadlines missed,
    /// to be traced now. The checker sees the state of the events before
    /// `end.now`; `[expect] voters` (an end-of-run property) is left to
    /// the end.
    pub fn judge<E>(
        &mut self,
        checkers: &mut [Box<dyn Checker<E>>],
        end: &EndOfRun,
    ) -> Vec<Violation> {
        let at = EndOfRun {
            voters: None,
            ..end.clone()
        };
        // Every deadline reached is marked judged, with a checker or
        // without (a protocol of its own may lack one): `next_due` moves on.
        let due: Vec<&'static str> = AT_DEADLINE
            .iter()
            .copied()
            .filter(|name| !self.judged.contains_key(name))
            .filter(|name| matches!(deadline_of(name, end), Some((d, true)) if d <= end.now))
            .collect();
        let mut out = Vec::new();
        for name in due {
            self.judged.insert(name, false);
            for c in checkers
                .iter_mut()
                .filter(|c| c.is_liveness() && c.name() == name)
            {
                let before = out.len();
                c.judge_deadline(&at, &mut out);
                if out.len() > before {
                    self.judged.insert(name, true);
                }
            }
        }
        out
    }

    /// True when `check` missed its deadline (already reported).
    pub fn missed(&self, check: &str) -> bool {
        self.judged.get(check).copied().unwrap_or(false)
    }
}

/// Ends the run for `checkers`: each liveness checker whose deadline is
/// within the run judges; the others are reported as not judged. A checker
/// that `deadlines` found past its deadline is not asked again (its
/// violation was traced at the deadline).
pub fn finish<E>(
    checkers: &mut [Box<dyn Checker<E>>],
    end: &EndOfRun,
    deadlines: &Deadlines,
) -> (Vec<Violation>, Vec<LivenessJudgement>) {
    let mut out = Vec::new();
    let mut judgements = Vec::new();
    for c in checkers.iter_mut() {
        let (deadline, explicit) = deadline_of(c.name(), end).unwrap_or((end.now, false));
        let missed = deadlines.missed(c.name());
        let judged = deadline <= end.now || missed;
        if (judged || !c.is_liveness()) && !missed {
            c.finish(end, &mut out);
        }
        if c.is_liveness() {
            judgements.push(LivenessJudgement {
                check: c.name().to_string(),
                deadline,
                explicit,
                judged,
                nothing_judged: if judged && !missed {
                    c.nothing_judged()
                } else {
                    None
                },
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
