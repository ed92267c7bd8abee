//! Every control-plane scenario holds its `[expect]` with zero violations
//! on seeds 0..200 (issue 4, "done when") — the same as
//! `partsim sweep scenarios/NAME.toml --seeds 0..200` for each file.
//!
//! The schedules of issue 11 (`data-node-pauses`, `leader-pauses`,
//! `multi-node-outage`, `churn`) run their first 25 seeds here; their full
//! sweeps are `partsim sweep scenarios/NAME.toml --seeds 0..500 --jobs 2`
//! (README, "Control plane").
//!
//! `large-grid` (50 nodes, 1024 partitions, about a second per seed in
//! release) runs its first 12 seeds here; its full sweep is
//! `partsim sweep scenarios/large-grid.toml --seeds 0..200` (about three
//! minutes on two cores). A debug build runs a tenth of the seeds.

mod common;

use std::ops::Range;

/// Seeds for a scenario: all of them in release, a tenth in a debug build.
fn seeds(release: u64) -> Range<u64> {
    if cfg!(debug_assertions) {
        0..(release / 10).max(1)
    } else {
        0..release
    }
}

fn holds(name: &str, seeds: Range<u64>) {
    let (rel, s) = common::load_named(name);
    if let Err(e) = common::sweep_clean(&rel, &s, seeds, 1) {
        panic!("{e}");
    }
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

#[test]
fn data_node_pauses_hold_on_their_first_seeds() {
    holds("data-node-pauses", seeds(25));
}

#[test]
fn leader_pauses_hold_on_their_first_seeds() {
    holds("leader-pauses", seeds(25));
}

#[test]
fn multi_node_outage_holds_on_its_first_seeds() {
    holds("multi-node-outage", seeds(25));
}

#[test]
fn churn_holds_on_its_first_seeds() {
    holds("churn", seeds(25));
}
