//! Judging a scenario's `[expect]` against what the checkers found.

use super::{CheckResult, ExpectResult, ViolationReport};
use crate::scenario::Scenario;

/// Judges `[expect]` against what the checkers found.
pub(super) fn judge(
    s: &Scenario,
    checks: &[CheckResult],
    violations: &[ViolationReport],
) -> Vec<ExpectResult> {
    let mut out = Vec::new();
    let fired = |name: &str| violations.iter().any(|v| v.check == name);
    let expected_to_fire = &s.expect.violations;
    for name in expected_to_fire {
        out.push(ExpectResult {
            what: format!("violation {name}"),
            held: fired(name),
            detail: if fired(name) {
                "fired as expected".into()
            } else {
                "did not fire".into()
            },
        });
    }
    let unexpected: Vec<&ViolationReport> = violations
        .iter()
        .filter(|v| !expected_to_fire.contains(&v.check))
        .collect();
    let is_liveness = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && c.kind == "liveness")
    };
    let safety: Vec<&&ViolationReport> = unexpected
        .iter()
        .filter(|v| !is_liveness(&v.check))
        .collect();
    let liveness: Vec<&&ViolationReport> = unexpected
        .iter()
        .filter(|v| is_liveness(&v.check))
        .collect();
    if s.expect.safety {
        out.push(ExpectResult {
            what: "safety".into(),
            held: safety.is_empty(),
            detail: safety.first().map_or_else(
                || "every safety checker held".into(),
                |v| format!("{} at {}: {}", v.check, v.t, v.detail),
            ),
        });
    } else if !safety.is_empty() {
        out.push(ExpectResult {
            what: "safety (not required)".into(),
            held: true,
            detail: format!("{} safety violations tolerated", safety.len()),
        });
    }
    let deadline = s.expect.converged_by.or(s.expect.leader_elected_by);
    out.push(ExpectResult {
        what: match deadline {
            Some(d) => format!("liveness by {d}"),
            None => "liveness".into(),
        },
        held: liveness.is_empty(),
        detail: liveness.first().map_or_else(
            || "every liveness checker held".into(),
            |v| format!("{}: {}", v.check, v.detail),
        ),
    });
    out
}
