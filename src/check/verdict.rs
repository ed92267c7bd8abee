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

use super::{Checker, EndOfRun, control, data, raft};
use crate::sim::{SimTime, Violation};
use crate::trace::Phase;

/// The fault kinds that act on the network: one still in effect at the end
/// means the network never healed.
const NETWORK_FAULTS: [&str; 4] = ["partition", "one_way", "isolate", "link"];

/// The network faults still in effect, followed through the fault timeline
/// (the run's and `partsim check`'s one code path): a liveness promise
/// without an `[expect]` deadline is made for after the last fault heals,
/// and a network that never heals never reaches it.
///
/// Only the network counts. A node crashed for good, paused for good or
/// with a skewed clock is a failure the cluster must route around, and
/// liveness is still judged; a network cut that never ends (or a
/// `[network]` that drops every message) leaves nothing to route through.
#[derive(Clone, Debug, Default)]
pub struct Unhealed {
    /// Network faults begun and not ended: fault id → (begin, kind).
    open: BTreeMap<u32, (SimTime, String)>,
    /// A condition of the whole run (`[network] drop = 1`).
    steady: Option<String>,
}

impl Unhealed {
    /// A condition that holds for the whole run, e.g. `[network] drop = 1`.
    pub fn steady(&mut self, why: String) {
        self.steady = Some(why);
    }

    /// A run whose `[network]` drops messages with probability `drop`:
    /// a steady condition if it delivers nothing.
    pub fn network(drop: f64) -> Self {
        let mut u = Self::default();
        if drop >= 1.0 {
            u.steady("`[network] drop = 1` delivers no message".to_string());
        }
        u
    }

    /// One step of the fault timeline. `heal` ends every network fault.
    pub fn on_fault(&mut self, t: SimTime, fault: u32, kind: &str, phase: Phase) {
        match (kind, phase) {
            ("heal", _) => self.open.clear(),
            (k, Phase::Begin) if NETWORK_FAULTS.contains(&k) => {
                self.open.insert(fault, (t, k.to_string()));
            }
            (_, Phase::End) => {
                self.open.remove(&fault);
            }
            _ => {}
        }
    }

    /// What never healed, if anything: for [`EndOfRun::unhealed`].
    pub fn why(&self) -> Option<String> {
        if let Some(s) = &self.steady {
            return Some(s.clone());
        }
        let (t, kind) = self.open.values().min()?;
        let more = self.open.len() - 1;
        Some(match more {
            0 => format!("the {kind} begun at {t} never ended"),
            n => format!("the {kind} begun at {t} (and {n} more network faults) never ended"),
        })
    }
}

/// One liveness checker's standing at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LivenessJudgement {
    /// The checker.
    pub check: String,
    /// Its deadline: `[expect]`'s, or the last fault's healing plus its grace.
    pub deadline: SimTime,
    /// True when the deadline came from `[expect]`, false for the implicit one.
    pub explicit: bool,
    /// What was judged, for the verdict line after the checker's name:
    /// `by 28s`, `by 35s (last fault + grace)`, `after 12s (last fault +
    /// 5s grace)` for `available` (which judges the operations invoked
    /// from its settle point on), `at the end of the run (20s)`.
    pub label: String,
    /// False when the run ended before the deadline: nothing was judged.
    pub judged: bool,
    /// Set when the deadline was reached but the checker had nothing to
    /// judge (its reason): the property was not tested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing_judged: Option<String>,
}

/// The deadline `check` is judged at, or `None` for a checker judged at
/// whatever time the run ends. For `available` it is the settle point:
/// the operations invoked from then on are judged (DESIGN §4: "client
/// operations succeed again" once the faults healed and `converged_by`,
/// or a grace, passed).
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
        // The settle point `Available::finish` judges from.
        "available" => Some(match end.deadline {
            Some(d) => (d.max(end.healed_at), true),
            None => (end.healed_at + data::AVAILABLE_GRACE, false),
        }),
        _ => None,
    }
}

/// What `check`, judged at `deadline`, was judged on: the words after its
/// name on the verdict line.
pub fn label_of(check: &str, end: &EndOfRun) -> String {
    match (check, deadline_of(check, end)) {
        ("available", Some((d, true))) if end.deadline == Some(d) => {
            format!("after {d} (converged_by)")
        }
        ("available", Some((d, true))) => format!("after {d} (the last fault healed)"),
        ("available", Some((d, false))) => {
            format!("after {d} (last fault + {} grace)", data::AVAILABLE_GRACE)
        }
        (_, Some((d, true))) => format!("by {d}"),
        (_, Some((d, false))) => format!("by {d} (last fault + grace)"),
        (_, None) => format!("at the end of the run ({})", end.now),
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
        // "After the last fault heals" never came: nothing to judge.
        let unhealed = match &end.unhealed {
            Some(why) if c.is_liveness() && !explicit => {
                Some(format!("the network never healed: {why}"))
            }
            _ => None,
        };
        if (judged || !c.is_liveness()) && !missed && unhealed.is_none() {
            c.finish(end, &mut out);
        }
        if let Some(why) = unhealed {
            judgements.push(LivenessJudgement {
                check: c.name().to_string(),
                deadline,
                explicit,
                label: label_of(c.name(), end),
                judged: true,
                nothing_judged: Some(why),
            });
        } else if c.is_liveness() {
            judgements.push(LivenessJudgement {
                check: c.name().to_string(),
                deadline,
                explicit,
                label: label_of(c.name(), end),
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
                label: label_of(c.name(), end),
                judged: false,
                nothing_judged: None,
            }
        })
        .collect()
}

/// How a run ended, as the summary's `checks` line needs it.
pub struct RunEnd<'a> {
    /// Virtual time at the end.
    pub now: SimTime,
    /// A violation stopped the run at `now`: nothing was judged at the end.
    pub stopped: bool,
    /// The liveness checkers' judgements ([`finish`] or [`not_judged`]).
    pub liveness: &'a [LivenessJudgement],
    /// Events by kind (a run that placed no partition has no
    /// `placement_config`).
    pub events_by_kind: &'a BTreeMap<String, u64>,
    /// The checkers' figures (`acked_writes`, `history_operations`, …).
    pub metrics: &'a BTreeMap<String, serde_json::Value>,
    /// `converged` reported a violation (`balanced` judges a converged map only).
    pub converged_failed: bool,
}

/// How a checker that reported no violation stands at the end of a run:
/// a verdict never claims what was not judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It judged what it exists for; the note says what it left out, if
    /// anything.
    Judged(Option<String>),
    /// It judged nothing: why.
    NotJudged(String),
}

/// The standing of `check` (a liveness checker if `liveness`) that
/// reported no violation in a run of the stack that ended as `end` says.
pub fn standing(check: &str, liveness: bool, end: &RunEnd<'_>) -> Standing {
    let placed = end.events_by_kind.contains_key("placement_config");
    let metric = |k: &str| end.metrics.get(k).and_then(|v| v.as_u64());
    let not = |why: &str| Standing::NotJudged(why.to_string());
    if liveness {
        let Some(j) = end.liveness.iter().find(|j| j.check == check) else {
            return not("it was not asked to judge");
        };
        return if end.stopped {
            Standing::NotJudged(format!("a violation stopped the run at {}", end.now))
        } else if !j.judged {
            Standing::NotJudged(format!("the run ended at {}", end.now))
        } else if let Some(why) = &j.nothing_judged {
            Standing::NotJudged(why.clone())
        } else if matches!(check, "converged" | "balanced") && !placed {
            not("no partitions were placed in this run")
        } else if check == "balanced" && end.converged_failed {
            not("the cluster did not converge")
        } else {
            Standing::Judged(None)
        };
    }
    match check {
        // Both judge at the end of the run, which a stopped run skips.
        "durability" | "linearizable" if end.stopped => Standing::NotJudged(format!(
            "a violation stopped the run at {}, before its end-of-run check",
            end.now
        )),
        "linearizable" if metric("history_operations") == Some(0) => {
            not("no client operation to check")
        }
        "durability" if metric("acked_writes") == Some(0) => not("no acknowledged write to check"),
        "durability" if metric("durability_unjudged_writes").is_some_and(|n| n > 0) => {
            Standing::Judged(Some(format!(
                "{} acknowledged writes not judged: no copy reported at the end",
                metric("durability_unjudged_writes").unwrap_or(0)
            )))
        }
        "placement" | "single_primary" if !placed => not("no partitions were placed in this run"),
        _ if end.stopped => Standing::Judged(Some(format!(
            "to {}, where a violation stopped the run",
            end.now
        ))),
        _ => Standing::Judged(None),
    }
}
