//! Every planted Raft bug is caught by some scenario within 200 seeds (issue
//! 3, "checkers must be shown to catch bugs"). For each bug, its catching
//! scenario runs seed after seed with the bug planted until the checker the
//! bug exists for fires; the test prints which scenario, seed and checker
//! caught it, and stops there.
//!
//! CI runs it in release: `cargo test --release --locked --features planted-bugs --test planted_bugs`.

#![cfg(feature = "planted-bugs")]

mod common;

use std::ops::Range;

use partsim::stack::planted::Bug;

/// The bound: each bug is caught within these seeds.
const SEEDS: Range<u64> = 0..200;

fn caught(bug: Bug, scenario: &str, check: &str) -> u64 {
    common::first_catching_seed(bug, scenario.trim_end_matches(".toml"), check, SEEDS)
}

#[test]
fn vote_without_log_check_is_caught_by_log_matching() {
    // A candidate with a stale log wins and overwrites committed entries;
    // random crashes on a lossy network find it unaided.
    caught(
        Bug::VoteWithoutLogCheck,
        "raft-unreliable.toml",
        "log_matching",
    );
}

#[test]
fn commit_old_term_by_counting_is_caught_by_log_matching() {
    // Figure 8, scripted: a term-1 entry on a majority is "committed" by the
    // term-3 leader, then overwritten by the term-4 leader's term-2 entry.
    caught(
        Bug::CommitOldTermByCounting,
        "raft-figure8-scripted.toml",
        "log_matching",
    );
}

#[test]
fn vote_before_fsync_is_caught_by_election_safety() {
    // The voter crashes between two candidates' requests, forgets its
    // unsynced vote and elects both.
    caught(
        Bug::VoteBeforeFsync,
        "raft-voter-crash.toml",
        "election_safety",
    );
}

#[test]
fn ignore_higher_term_is_caught_by_leader_elected() {
    // A leader deposed while its clock is skewed keeps acting as leader
    // beside the new one.
    caught(
        Bug::IgnoreHigherTerm,
        "raft-skewed-clocks.toml",
        "leader_elected",
    );
}
