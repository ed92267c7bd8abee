//! The planted membership bugs are caught (issue 11): each bug's scenario
//! runs seed after seed with the bug planted until the checker the catalog
//! names fires.
//!
//! CI runs it in release: `cargo test --release --locked --features planted-bugs --test membership_planted`.

#![cfg(feature = "planted-bugs")]

mod common;

use std::ops::Range;

use partsim::stack::planted::Bug;

/// Each bug must be caught within these seeds.
const SEEDS: Range<u64> = 0..50;

#[test]
fn two_changes_at_once_is_caught_by_election_safety() {
    // The leader removes the lost m2 and, without waiting for that change
    // to commit, adds its new incarnation as a learner.
    common::first_catching_seed(
        Bug::TwoChangesAtOnce,
        "manager-replacement",
        "election_safety",
        SEEDS,
    );
}

#[test]
fn learner_votes_is_caught_by_election_safety() {
    // m2 comes back on an empty disk as the leader crashes; its new
    // incarnation votes and the survivor's stale configuration counts it
    // as m2's vote.
    common::first_catching_seed(
        Bug::LearnerVotes,
        "manager-rejoin-leader-crash",
        "election_safety",
        SEEDS,
    );
}

#[test]
fn cleanup_below_floor_is_caught_by_leader_elected() {
    // Cleanup removes m4, down at the floor of three voters; m5 goes down
    // too, and when m4 returns with its disk the group {m1, m5} has no
    // quorum until m5 is back, well after the deadline. Kept at the floor,
    // m4 and m1 elect a leader at once.
    common::first_catching_seed(
        Bug::CleanupBelowFloor,
        "manager-cleanup-floor",
        "leader_elected",
        SEEDS,
    );
}

#[test]
fn the_planted_bugs_are_in_the_catalog() {
    for bug in [Bug::TwoChangesAtOnce, Bug::LearnerVotes] {
        assert!(Bug::ALL.contains(&bug), "{bug}");
        assert_eq!(partsim::catalog::entry(bug).checker, "election_safety");
    }
    assert!(Bug::ALL.contains(&Bug::CleanupBelowFloor));
    assert_eq!(
        partsim::catalog::entry(Bug::CleanupBelowFloor).checker,
        "leader_elected"
    );
}
