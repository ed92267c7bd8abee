//! Every planted bug is caught by `hunt` over the whole configuration
//! space, no scenario given (issue 15): the swarm runs with the bug
//! planted, stops at the first violation of the checker the catalog names
//! for it, and the shrunk scenario still fails with that checker.
//!
//! Budgets are counted in runs, not time (no timing assertions): each bug's
//! is the run of hunt seed 0 that first catches it (the README's detection
//! table), so the test fails if a change makes a bug harder to find.
//! Because the reported run is the lowest-numbered failing one, the result
//! does not depend on the number of worker threads.
//!
//! CI runs it in release: `cargo test --release --locked --features planted-bugs --test hunt_planted`.

mod common;

use std::time::Duration;

use partsim::hunt::{HuntOptions, hunt};
use partsim::shrink::{ShrinkReport, failure_signature, run_quiet, shrink};
use partsim::stack::planted::{Bug, Planted};

/// Runs of hunt seed 0 each bug's hunt may take: about the run that
/// first catches it in the detection table, with a margin.
fn runs_for(bug: Bug) -> u64 {
    match bug {
        Bug::VoteWithoutLogCheck => 20,
        Bug::CommitOldTermByCounting => 120,
        Bug::VoteBeforeFsync => 420,
        Bug::IgnoreHigherTerm => 110,
        Bug::RemoveBeforeInSync => 17,
        Bug::ApplyOlderMap => 29,
        Bug::HealthSkipsConsensus => 1,
        Bug::AcceptBadMac => 12,
        Bug::AckBeforeBackups => 17,
        Bug::FinishMoveBeforeCatchUp => 60,
        Bug::StaleInstallWindsBack => 60,
        Bug::ReadWithoutConfirm => 450,
        Bug::SkipPrimaryFsync => 90,
        Bug::InSyncWithoutTransfer => 120,
        Bug::PlanAgainstStaleLiveness => 250,
        Bug::PausedLeaderJudges => 14,
        Bug::SeedFromEmptySource => 19,
        Bug::PreVotesCountAsVotes => 15,
        Bug::VoteTwiceInTerm => 15,
        Bug::RestartCommitsLog => 18,
        Bug::ClientCachedRead => 12,
        Bug::RetryCasNewId => 110,
        Bug::ServeCorrupt => 200,
        Bug::TwoChangesAtOnce => 10,
        Bug::LearnerVotes => 55,
        Bug::AbandonUnconfirmedCopy => 10, // on its base scenario, below
        Bug::CaughtUpSentOnce => 10,       // on its base scenario, below
        Bug::CleanupBelowFloor => 10,      // on its base scenario, below
        Bug::ReseedFromBehindCopy => 300,  // on its base scenario, below
        Bug::AbandonReturningCopy => 10,   // on its base scenario, below
        Bug::ConfirmLatestRoundOnly => 55,
        Bug::AcceptLowerEpoch => 10,
    }
}

/// The base scenario a bug's hunt varies, when the swarm over the whole
/// space does not reach it within a test's budget.
fn base_for(bug: Bug) -> Option<&'static str> {
    match bug {
        // Only a read-only workload leaves no write to carry the
        // declaration; the swarm rarely draws one with message loss.
        Bug::CaughtUpSentOnce => Some("caught-up-lost"),
        // A leave fixed since (a left node now learns its removal) took the
        // swarm's first catch past a test's budget; its shrunk run is the base.
        Bug::AbandonUnconfirmedCopy => Some("abandoned-last-copy"),
        // Cleanup runs only with remove_down_after set, and the floor
        // matters only when a floor voter returns while another is down.
        Bug::CleanupBelowFloor => Some("manager-cleanup-floor"),
        // Needs every in-sync copy lost while a behind copy reports first.
        Bug::ReseedFromBehindCopy => Some("reseed-behind-copy-alternating-restarts"),
        // Needs two nodes back from the dead just before the third loses its disk.
        Bug::AbandonReturningCopy => Some("abandoned-returning-copy"),
        _ => None,
    }
}

fn caught_by_hunt(bug: Bug) -> ShrinkReport {
    let checker = partsim::catalog::entry(bug).checker;
    let planted = Planted::NONE.with(bug);
    let opts = HuntOptions {
        seed: 0,
        budget: Duration::from_secs(3600),
        max_runs: runs_for(bug),
        jobs: 2,
        planted,
        bases: base_for(bug)
            .map(|name| vec![common::load_named(name).1])
            .unwrap_or_default(),
        checker: Some(checker.to_string()),
        progress: None,
    };
    let r = hunt(&opts);
    let f = r
        .found
        .unwrap_or_else(|| panic!("{bug}: {checker} never fired in {} hunt runs", r.runs));
    assert_eq!(f.check, checker);
    let s = shrink(&f.scenario, f.seed, planted, None).expect("the found run shrinks");
    eprintln!(
        "{bug}: run {} caught by {checker}; shrunk {} -> {} events, {} -> {}",
        f.index, s.events_before, s.events_after, s.duration_before, s.duration_after
    );
    assert_eq!(s.check, checker);
    assert!(s.events_after <= s.events_before);
    assert!(s.duration_after <= s.duration_before);
    // A failure judged over the whole history at the end of the run has
    // its duration cut too (a binary search down to the last fault).
    if matches!(checker, "durability" | "linearizable") {
        assert!(
            s.duration_after < s.duration_before,
            "{bug}: the duration stayed at {}",
            s.duration_before
        );
    }
    // The minimal scenario, read back from its file, fails the same way.
    let text = partsim::shrink::minimal_file(&s, "test", f.seed);
    let minimal = common::scenario(&text);
    let again = run_quiet(&minimal, minimal.seed, planted).expect("the run completes");
    assert_eq!(failure_signature(&again).as_deref(), Some(checker));
    // ... and only with the bug: the same file without it does not fail
    // that way (no reduction may make a correct cluster fail).
    let correct = run_quiet(&minimal, minimal.seed, Planted::NONE).expect("the run completes");
    assert_ne!(
        failure_signature(&correct).as_deref(),
        Some(checker),
        "{bug}: the minimal scenario fails without the bug"
    );
    s
}

#[test]
fn every_planted_bug_is_caught_by_hunt() {
    // Every bug, none skipped: with no scenario the swarm first catches
    // ignore-higher-term at run 83 (it shrinks to one event),
    // stale-install-winds-back at run 594 and accept-lower-epoch at run 3
    // (hunt seed 0, the README's detection table).
    //
    // Each run caught with no scenario shrinks to at most 5 explicit
    // events and a quarter of its duration (issue 15). (A catch on a base
    // scenario, kept for CI's time, is a different run from the detection
    // table's; it is not held to this.) Figure 8 (commit-old-term-by-
    // counting, caught in five managers) gets there with its cuts placed
    // again at the messages they followed as the slow links go and the
    // group drops to three managers.
    let mut unmet = Vec::new();
    for bug in Bug::ALL {
        let s = caught_by_hunt(bug);
        let small = s.events_after <= 5
            && s.duration_after.as_micros() * 4 <= s.duration_before.as_micros();
        if !small && base_for(bug).is_none() {
            unmet.push(format!(
                "{bug}: {} -> {} events, {} -> {}",
                s.events_before, s.events_after, s.duration_before, s.duration_after
            ));
        }
    }
    assert!(
        unmet.is_empty(),
        "not shrunk to 5 events and 25 % of the duration: {unmet:?}"
    );
}

/// A failure judged at a liveness deadline shrinks with its deadline
/// (kept relative to the last fault, quiet gaps closed): at most 5 events
/// and a quarter of the duration.
#[test]
fn liveness_failures_shrink_with_their_deadline() {
    for bug in [
        Bug::IgnoreHigherTerm,
        Bug::PausedLeaderJudges,
        Bug::ConfirmLatestRoundOnly,
    ] {
        let s = caught_by_hunt(bug);
        assert!(s.events_after <= 5, "{bug}: {} events", s.events_after);
        assert!(
            s.duration_after.as_micros() * 4 <= s.duration_before.as_micros(),
            "{bug}: {} -> {}",
            s.duration_before,
            s.duration_after
        );
    }
}

#[test]
fn the_catalog_lists_every_bug_once() {
    let all = partsim::catalog::all();
    assert_eq!(all.len(), Bug::ALL.len());
    assert!(all.len() >= 20);
    for e in &all {
        assert!(partsim::check::KNOWN.contains(&e.checker), "{}", e.name);
    }
}

/// A failure the run shows with no bug planted is not the planted bug's:
/// the shrinker says so and shrinks it as a failure of the stack (every
/// reduction checked against the bug would be refused), and the minimal
/// file does not ask for the bug. Here the failure is an expectation no
/// run of `raft-elect` meets (a violation that never fires), and the bug
/// a client's, in a scenario with no client.
#[test]
fn a_failure_without_the_bug_is_shrunk_as_the_stacks() {
    let (_, mut s) = common::load_named("raft-elect");
    s.expect.violations = vec!["election_safety".into()];
    let planted = Planted::NONE.with(Bug::ClientCachedRead);
    let r = shrink(&s, s.seed, planted, None).expect("the run fails");
    assert!(r.check.starts_with("expect"), "{}", r.check);
    assert!(r.planted.is_empty());
    assert!(
        r.steps
            .iter()
            .any(|st| st.what.contains("with no bug planted too")),
        "{:?}",
        r.steps
    );
    let text = partsim::shrink::minimal_file(&r, "test", s.seed);
    assert!(!text.contains("--plant"), "{text}");
}
