//! A deadline past the end of the run is not judged, and never counted as
//! held: its line says so, `--json` marks it `"judged": false`, and the
//! verdict line counts it. (Issue: `raft-unreliable --duration 1m` printed
//! "✓ liveness by 598s".) Policy: not judged does not fail the run (exit 0).

mod common;

use partsim::run::RunOptions;
use partsim::sim::SimDuration;

const SCENARIO: &str = r#"
name = "late-deadline"
duration = "30s"
[cluster]
managers = 3
nodes = 3
clients = 1
[workload]
rate = 20
[[events]]
at = "1s"
crash = "n1"
[expect]
leader_elected_by = "25s"
converged_by = "28s"
"#;

#[test]
fn a_deadline_past_the_end_is_not_judged() {
    let s = common::scenario(SCENARIO);
    let (r, _) = common::run_with(
        &s,
        RunOptions {
            duration: Some(SimDuration::from_secs(5)),
            ..RunOptions::default()
        },
    );
    let leader = r
        .expectations
        .iter()
        .find(|e| e.what.starts_with("leader_elected"))
        .expect("a leader_elected line");
    assert!(!leader.judged && !leader.held, "{leader:?}");
    assert_eq!(leader.what, "leader_elected by 25s");
    assert!(leader.detail.contains("not judged, the run ended at 5s"));
    assert!(r.passed, "not judged does not fail the run");
    // leader_elected, converged, balanced; and available (no operation
    // after the faults healed and converged_by passed).
    assert_eq!(r.unjudged, 4, "{:?}", r.expectations);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["expectations"][1]["judged"],
        serde_json::Value::Bool(false)
    );
}

#[test]
fn the_whole_run_judges_the_same_deadlines() {
    let s = common::scenario(SCENARIO);
    let (r, _) = common::run_with(&s, RunOptions::default());
    assert_eq!(r.unjudged, 0, "{:?}", r.expectations);
    assert!(r.expectations.iter().all(|e| e.judged));
}

#[test]
fn the_verdict_line_counts_what_was_not_judged() {
    let dir = common::scratch("unjudged");
    let path = dir.join("late.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    let o = common::partsim(&["run", path.to_str().unwrap(), "--duration", "5s"]);
    let (out, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 0, "{out}{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("PASS"), "{first}");
    assert!(first.contains("4 expectations not judged"), "{first}");
    assert!(first.contains("exit 0"), "{first}");
    assert!(
        out.contains("– leader_elected by 25s: not judged, the run ended at 5s"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
