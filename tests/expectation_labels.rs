//! Each expectation line names its own checker and its own deadline, and a
//! run that reached its end never says a violation stopped it. (Issue: with
//! `leader_elected_by = "3.1s"` and `converged_by = "28s"` a failed election
//! read "✗ liveness by 28s".) `safety = true` lists the checkers it ran.

mod common;

use partsim::run::RunOptions;

#[test]
fn each_liveness_line_has_its_own_deadline() {
    let s = common::scenario(
        r#"
name = "labels"
duration = "30s"
[cluster]
managers = 3
nodes = 3
[expect]
leader_elected_by = "3.1s"
converged_by = "28s"
"#,
    );
    let (r, _) = common::run_with(&s, RunOptions::default());
    let whats: Vec<&str> = r.expectations.iter().map(|e| e.what.as_str()).collect();
    assert!(whats.contains(&"leader_elected by 3.1s"), "{whats:?}");
    assert!(whats.contains(&"converged by 28s"), "{whats:?}");
    assert!(
        !whats.iter().any(|w| w.starts_with("liveness")),
        "{whats:?}"
    );
    let safety = whats.iter().find(|w| w.starts_with("safety")).unwrap();
    for c in r.checks.iter().filter(|c| c.kind == "safety") {
        assert!(safety.contains(&c.name), "{safety} lacks {}", c.name);
    }
}

/// A deadline set in `[expect]` is judged when it passes: a miss is a
/// violation traced at the deadline, and (DESIGN §4) the run stops there
/// unless `--keep-going`; the summary says where it stopped.
#[test]
fn a_failed_deadline_is_labelled_with_its_checker_and_stops_the_run_there() {
    // One manager of three: no quorum, no leader, ever.
    let s = common::scenario(
        r#"
name = "no-quorum"
duration = "10s"
[cluster]
managers = 3
nodes = 3
[[events]]
at = "0s"
until = "10s"
isolate = "m1"
[[events]]
at = "0s"
until = "10s"
isolate = "m2"
[expect]
leader_elected_by = "3.1s"
converged_by = "9s"
"#,
    );
    let (r, _) = common::run_with(&s, RunOptions::default());
    assert!(!r.passed);
    assert!(r.halted, "a missed deadline stops the run");
    let failed: Vec<&str> = r
        .expectations
        .iter()
        .filter(|e| e.judged && !e.held)
        .map(|e| e.what.as_str())
        .collect();
    assert!(failed.contains(&"leader_elected by 3.1s"), "{failed:?}");
    let dir = common::scratch("labels");
    let path = dir.join("no-quorum.toml");
    std::fs::write(&path, partsim::scenario::Scenario::to_toml(&s)).unwrap();
    let o = common::partsim(&["run", path.to_str().unwrap()]);
    let (out, _) = common::out_err(&o);
    assert_eq!(common::code(&o), 1, "{out}");
    assert!(out.contains("stopped at 3.1s by a violation"), "{out}");
    assert!(out.contains("✗ leader_elected by 3.1s"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
