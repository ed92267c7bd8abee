//! Judging a scenario's `[expect]` against what the checkers found.
//!
//! Every expectation line names its own checker and its own deadline. An
//! expectation the run could not test — its deadline lies past the end of
//! the run (cut short by `--duration`), a violation stopped the run first,
//! or the checker had nothing to judge — is reported as *not judged*, and
//! is never counted as held.
//!
//! Exit status: a run passes (exit 0) when every *judged* expectation held;
//! expectations not judged do not fail it, but the verdict line says how
//! many there were, and `--json` marks each with `"judged": false`. A run
//! stopped by a violation fails through that violation, not through the
//! expectations it left unjudged.

use std::collections::BTreeMap;

use super::{CheckResult, ExpectResult, ViolationReport};
use crate::check::verdict::LivenessJudgement;
use crate::scenario::{LostBound, Scenario};
use crate::sim::SimTime;

/// What the judge needs to know about how the run ended.
pub(super) struct Ending<'a> {
    /// Virtual time at the end.
    pub now: SimTime,
    /// A violation stopped the run at `now`.
    pub stopped: bool,
    /// Liveness checkers: deadline, and whether it lay within the run.
    pub liveness: &'a [LivenessJudgement],
}

fn held(what: String, detail: String) -> ExpectResult {
    ExpectResult {
        what,
        held: true,
        judged: true,
        detail,
    }
}

fn failed(what: String, detail: String) -> ExpectResult {
    ExpectResult {
        what,
        held: false,
        judged: true,
        detail,
    }
}

fn unjudged(what: String, detail: String) -> ExpectResult {
    ExpectResult {
        what,
        held: false,
        judged: false,
        detail,
    }
}

/// Judges `[expect]` against what the checkers found.
pub(super) fn judge(
    s: &Scenario,
    checks: &[CheckResult],
    violations: &[ViolationReport],
    ending: &Ending<'_>,
    metrics: &BTreeMap<String, serde_json::Value>,
) -> Vec<ExpectResult> {
    let mut out = Vec::new();
    if let Some(want) = s.expect.lost_acked_writes {
        // Judged from the durability checker's count (acknowledged writes
        // whose every copy lost its disk).
        let got = metrics
            .get("lost_acked_writes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let unknown = metrics
            .get("durability_unjudged_writes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let what = format!("lost_acked_writes = {want}");
        let detail = format!(
            "{got} acknowledged writes lost with every copy (disk lost or records damaged)"
        );
        // More lost than allowed fails whatever is unknown, and at least
        // as many as a lower bound asks holds (the count only grows);
        // otherwise a count that did not look at every write says nothing.
        let at_least = matches!(want, LostBound::AtLeast(_));
        out.push(if got > want.max() {
            failed(what, detail)
        } else if at_least && want.allows(got) {
            held(what, detail)
        } else if ending.stopped {
            let why = format!("a violation stopped the run at {}", ending.now);
            unjudged(what, format!("not judged, {why} (no end-of-run audit)"))
        } else if metrics.get("acked_writes").and_then(|v| v.as_u64()) == Some(0) {
            let why = "no write was acknowledged in this run";
            unjudged(what, format!("not judged, {why} ({got} counted lost)"))
        } else if unknown > 0 {
            let why = format!("{unknown} acknowledged writes had no copy reported at the end");
            unjudged(what, format!("not judged, {why} ({got} counted lost)"))
        } else if want.allows(got) {
            held(what, detail)
        } else {
            failed(what, detail)
        });
    }
    let first = |name: &str| violations.iter().find(|v| v.check == name);
    let expected_to_fire = &s.expect.violations;
    for name in expected_to_fire {
        out.push(match first(name) {
            Some(v) => held(
                format!("violation {name}"),
                format!("fired as expected at {}", v.t),
            ),
            None => failed(format!("violation {name}"), "did not fire".into()),
        });
    }
    let is_liveness = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && c.kind == "liveness")
    };
    let safety_names: Vec<&str> = checks
        .iter()
        .filter(|c| c.kind == "safety")
        .map(|c| c.name.as_str())
        .collect();
    let safety: Vec<&ViolationReport> = violations
        .iter()
        .filter(|v| !expected_to_fire.contains(&v.check) && !is_liveness(&v.check))
        .collect();
    if s.expect.safety {
        let what = format!("safety ({})", safety_names.join(", "));
        // A checker that judged nothing held nothing: said, not counted.
        let unjudged_safety: Vec<String> = checks
            .iter()
            .filter(|c| c.kind == "safety" && !c.judged)
            .map(|c| format!("{} ({})", c.name, c.note.as_deref().unwrap_or("")))
            .collect();
        out.push(match safety.first() {
            None if unjudged_safety.is_empty() => held(
                what,
                format!(
                    "{} safety checkers held over the whole run (to {})",
                    safety_names.len(),
                    ending.now
                ),
            ),
            None => held(
                what,
                format!(
                    "{} of {} safety checkers held over the whole run (to {}); not judged: {}",
                    safety_names.len() - unjudged_safety.len(),
                    safety_names.len(),
                    ending.now,
                    unjudged_safety.join(", ")
                ),
            ),
            Some(v) => failed(what, format!("{} at {}: {}", v.check, v.t, v.detail)),
        });
    } else if !safety.is_empty() {
        out.push(held(
            "safety (not required)".into(),
            format!("{} safety violations tolerated", safety.len()),
        ));
    }
    for j in ending.liveness {
        if expected_to_fire.contains(&j.check) {
            continue; // judged above, as a violation that must fire
        }
        let what = format!("{} {}", j.check, j.label);
        if let Some(v) = first(&j.check) {
            out.push(failed(what, format!("at {}: {}", v.t, v.detail)));
            continue;
        }
        match checks.iter().find(|c| c.name == j.check) {
            Some(c) if !c.judged => out.push(unjudged(
                what,
                format!("not judged, {}", c.note.as_deref().unwrap_or("")),
            )),
            _ => out.push(held(what, "held".into())),
        }
    }
    out
}
