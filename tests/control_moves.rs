//! Placement quality (issue 4, "done when"): adding one node to N moves at
//! most 1.3 × the ideal number of replicas (RF·P/N, N counting the new
//! node), and after convergence the most loaded node stays within the
//! policy's cap ⌈(1 + max_imbalance) · mean⌉ — both measured from the
//! committed map by the `balanced` checker and reported in the summary.

mod common;

use std::path::Path;

use partsim::run::{self, RunOptions, RunReport};

fn run_file(name: &str, seed: Option<u64>) -> RunReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    run::run(&s, opts).expect("the run completes")
}

fn joins(r: &RunReport) -> Vec<(String, f64, f64)> {
    r.metrics["moves_per_change"]
        .as_array()
        .expect("a list of changes")
        .iter()
        .filter(|c| c["change"].as_str().is_some_and(|s| s.starts_with("join ")))
        .map(|c| {
            (
                c["change"].as_str().unwrap_or_default().to_string(),
                c["moves"].as_f64().unwrap_or(0.0),
                c["ideal"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
}

#[test]
fn every_join_of_join_scale_out_moves_at_most_1_3_times_the_ideal() {
    let seeds = if cfg!(debug_assertions) { 0..5 } else { 0..50 };
    for seed in seeds {
        let r = run_file("join-scale-out", Some(seed));
        assert!(r.passed, "seed {seed}: {:?}", r.expectations);
        let j = joins(&r);
        assert_eq!(j.len(), 4, "seed {seed}: four joins: {j:?}");
        for (what, moves, ideal) in j {
            assert!(
                moves <= 1.3 * ideal,
                "seed {seed}: {what} moved {moves} replicas, ideal {ideal}; reproduce: {}",
                r.reproduce
            );
        }
    }
}

#[test]
fn the_large_grid_join_moves_few_replicas_and_loads_stay_capped() {
    let r = run_file("large-grid", None);
    assert!(r.passed, "{:?}", r.expectations);
    let j = joins(&r);
    assert_eq!(j.len(), 1, "{j:?}");
    let (_, moves, ideal) = &j[0];
    assert!(*moves <= 1.3 * ideal, "moved {moves}, ideal {ideal}");
    // ⌈1.25 · 61.44⌉ = 77: the cap rounds up to whole replicas.
    let mean = r.metrics["load_mean"].as_f64().expect("mean");
    let max = r.metrics["load_max"].as_f64().expect("max");
    assert!(max <= (1.25 * mean).ceil(), "max {max}, mean {mean}");
}

#[test]
fn loads_are_balanced_after_every_scenario_converges() {
    for name in [
        "join-scale-out",
        "leave-drain",
        "node-crash-recover",
        "zone-outage",
        "manager-failover-during-moves",
    ] {
        let r = run_file(name, None);
        assert!(r.passed, "{name}: {:?}", r.expectations);
        let ratio = r.metrics["load_max_over_mean"].as_f64().expect("ratio");
        let mean = r.metrics["load_mean"].as_f64().expect("mean");
        assert!(
            ratio * mean <= (1.25 * mean).ceil(),
            "{name}: max/mean {ratio} (mean {mean})"
        );
    }
}
