//! The three control-plane bugs of issue 11 stay in the catalog as planted
//! bugs, and each is caught within 300 seeds by the checker that should
//! catch it, on the scenario that reproduces it:
//!
//! - `plan-against-stale-liveness` (plans without a member-generation
//!   condition) on `data-node-pauses`, by `placement`;
//! - `paused-leader-judges` (no fresh grace after the monitor was away) on
//!   `leader-pauses`, by `converged`;
//! - `seed-from-empty-source` (a re-seed that counts an empty copy in
//!   sync) on `multi-node-outage`, by `placement`, from the nodes' own
//!   events;
//! - `abandon-returning-copy` (a returning node's copy removed as an
//!   abandoned move while the partition is short) on
//!   `abandoned-returning-copy`, by `durability`: the one copy left goes
//!   with the next disk loss.
//!
//! `cargo test --release --locked --features planted-bugs --test control_bugs`.

mod common;

use partsim::stack::planted::Bug;

fn caught(bug: Bug, scenario: &str, check: &str) -> u64 {
    common::first_catching_seed(bug, scenario, check, 0..300)
}

#[test]
fn a_plan_against_stale_liveness_is_caught_by_placement() {
    caught(
        Bug::PlanAgainstStaleLiveness,
        "data-node-pauses",
        "placement",
    );
}

#[test]
fn a_paused_leader_that_judges_is_caught_by_converged() {
    caught(Bug::PausedLeaderJudges, "leader-pauses", "converged");
}

#[test]
fn seeding_from_an_empty_source_is_caught_by_placement() {
    caught(Bug::SeedFromEmptySource, "multi-node-outage", "placement");
}

#[test]
fn abandoning_a_returning_copy_is_caught_by_durability() {
    caught(
        Bug::AbandonReturningCopy,
        "abandoned-returning-copy",
        "durability",
    );
}

#[test]
fn without_the_bug_the_returning_copies_are_kept() {
    let (_, s) = common::load_named("abandoned-returning-copy");
    let report =
        partsim::run::run(&s, partsim::run::RunOptions::default()).expect("the run completes");
    assert!(report.passed, "{:?}", report.violations);
}
