//! Every control-plane scenario holds its `[expect]` with zero violations
//! on seeds 0..200 (issue 4, "done when") — the same as
//! `partsim sweep scenarios/NAME.toml --seeds 0..200` for each file.
//!
//! `large-grid` (50 nodes, 1024 partitions, about a second per seed in
//! release) runs its first 12 seeds here; its full sweep is
//! `partsim sweep scenarios/large-grid.toml --seeds 0..200` (about three
//! minutes on two cores). A debug build runs a tenth of the seeds.

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use partsim::stack::planted::Planted;
use partsim::sweep::{SweepOptions, sweep};

/// Seeds for a scenario: all of them in release, a tenth in a debug build.
fn seeds(release: u64) -> Range<u64> {
    if cfg!(debug_assertions) {
        0..(release / 10).max(1)
    } else {
        0..release
    }
}

#[allow(clippy::disallowed_methods)] // Wall time of the sweep, for the log only.
fn holds(name: &str, seeds: Range<u64>) {
    let rel = format!("scenarios/{name}.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel);
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let opts = SweepOptions {
        seeds,
        jobs: 1,
        shard: None,
        planted: Planted::NONE,
        scenario_path: rel.clone(),
        progress: None,
    };
    let started = Instant::now();
    let report = sweep(&s, &opts);
    eprintln!(
        "{rel}: {}/{} seeds held, violations {:?} ({:.2?})",
        report.passed,
        report.seeds,
        report.violations_by_check,
        started.elapsed()
    );
    assert!(
        report.passed == report.seeds && report.violations_by_check.is_empty(),
        "{rel}: {}/{} seeds held, violations {:?}; first failures: {:?}; reproduce: {}",
        report.passed,
        report.seeds,
        report.violations_by_check,
        report
            .failures
            .iter()
            .take(3)
            .map(|f| (f.seed, f.failure.clone()))
            .collect::<Vec<_>>(),
        report.reproduce.unwrap_or_default()
    );
}

#[test]
fn join_scale_out_holds_on_200_seeds() {
    holds("join-scale-out", seeds(200));
}

#[test]
fn leave_drain_holds_on_200_seeds() {
    holds("leave-drain", seeds(200));
}

#[test]
fn node_crash_recover_holds_on_200_seeds() {
    holds("node-crash-recover", seeds(200));
}

#[test]
fn zone_outage_holds_on_200_seeds() {
    holds("zone-outage", seeds(200));
}

#[test]
fn flapping_node_holds_on_200_seeds() {
    holds("flapping-node", seeds(200));
}

#[test]
fn impostor_join_holds_on_200_seeds() {
    holds("impostor-join", seeds(200));
}

#[test]
fn manager_failover_during_moves_holds_on_200_seeds() {
    holds("manager-failover-during-moves", seeds(200));
}

#[test]
fn large_grid_holds_on_its_first_seeds() {
    holds("large-grid", seeds(12));
}
