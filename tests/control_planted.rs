//! Every planted control-plane bug is caught within 200 seeds (issue 4,
//! "done when"): each runs its catching scenario seed after seed with the
//! bug planted until the checker it exists for fires, and prints where.
//!
//! `cargo test --release --locked --features planted-bugs --test control_planted`.

#![cfg(feature = "planted-bugs")]

use std::path::Path;

use partsim::run::{self, RunOptions};
use partsim::stack::planted::{Bug, Planted};

fn caught(bug: Bug, scenario: &str, check: &str) -> u64 {
    let rel = format!("scenarios/{scenario}.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel);
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..200 {
        let opts = RunOptions {
            seed: Some(seed),
            planted: Planted::NONE.with(bug),
            scenario_path: Some(rel.clone()),
            ..RunOptions::default()
        };
        let report = run::run(&s, opts).expect("the run completes");
        if let Some(v) = report.violations.iter().find(|v| v.check == check) {
            eprintln!(
                "{bug}: caught by {scenario} at seed {seed}: {check} at {}: {}\n  reproduce: {}",
                v.t, v.detail, report.reproduce
            );
            return seed;
        }
    }
    panic!("{bug}: {check} never fired on {scenario} over seeds 0..200");
}

#[test]
fn removing_the_old_replica_before_the_new_one_is_in_sync_is_caught_by_placement() {
    caught(Bug::RemoveBeforeInSync, "join-scale-out", "placement");
}

#[test]
fn a_node_that_applies_an_older_map_is_caught_by_map_monotonic() {
    caught(Bug::ApplyOlderMap, "join-scale-out", "map_monotonic");
}

#[test]
fn a_health_monitor_that_skips_consensus_is_caught_by_placement() {
    caught(Bug::HealthSkipsConsensus, "node-crash-recover", "placement");
}

#[test]
fn accepting_a_bad_mac_lets_the_impostor_in_and_auth_says_so() {
    caught(Bug::AcceptBadMac, "impostor-join", "auth");
}

#[test]
fn without_a_planted_bug_the_catching_scenarios_are_clean() {
    for scenario in ["join-scale-out", "node-crash-recover", "impostor-join"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{scenario}.toml"));
        let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let report = run::run(&s, RunOptions::default()).expect("the run completes");
        assert!(report.passed, "{scenario}: {:?}", report.violations);
    }
}
