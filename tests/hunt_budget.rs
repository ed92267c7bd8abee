//! `hunt --budget` holds inside a run, not only between runs: a base
//! scenario of a week of virtual time would take hours of wall time to
//! run, and the hunt must stop at its budget all the same, reporting the
//! run it abandoned as not judged (neither a pass nor a violation).
//!
//! CI runs it in release: `cargo test --release --locked --test hunt_budget`.

mod common;

use std::time::Duration;

use partsim::hunt::{HuntOptions, hunt};
use partsim::stack::planted::Planted;

const WEEK: &str = r#"
name = "week"
duration = "604800s"
[cluster]
managers = 3
nodes = 4
clients = 2
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[workload]
rate = 50
"#;

#[test]
fn a_run_longer_than_the_budget_is_cut_and_not_judged() {
    let opts = HuntOptions {
        seed: 0,
        budget: Duration::from_secs(2),
        max_runs: 4,
        jobs: 1,
        planted: Planted::NONE,
        bases: vec![common::scenario(WEEK)],
        checker: None,
        progress: None,
    };
    // Without the check inside the run, this call does not return for hours.
    let r = hunt(&opts);
    assert!(r.out_of_budget);
    assert_eq!(r.cut, vec![0], "the first run is the one cut");
    assert_eq!(r.runs, 0, "a cut run is not counted as run");
    assert!(r.found.is_none(), "a cut run is no violation");
}
