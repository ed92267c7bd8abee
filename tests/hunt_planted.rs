//! Every planted bug is caught by `hunt` (issue 15): the swarm runs with the
//! bug planted, stops at the first violation of the checker the catalog
//! names for it, and the shrunk scenario still fails with that checker.
//!
//! Most bugs are found over the whole configuration space (no scenario);
//! three need a base scenario to vary, named below with the reason. Budgets
//! are counted in runs, not time (no timing assertions).
//!
//! CI runs it in release: `cargo test --release --locked --features planted-bugs --test hunt_planted`.

mod common;

use std::time::Duration;

use partsim::hunt::{HuntOptions, hunt};
use partsim::shrink::{failure_signature, run_quiet, shrink};
use partsim::stack::planted::{Bug, Planted};

/// The base scenario a bug's hunt varies, when the unaided swarm does not
/// reach it within a test's budget.
fn base_for(bug: Bug) -> Option<&'static str> {
    match bug {
        // The voter must crash in the few milliseconds between answering
        // and fsyncing; random crashes rarely land there.
        Bug::VoteBeforeFsync => Some("raft-voter-crash"),
        // Figure 8 needs a precise leader-change sequence.
        Bug::CommitOldTermByCounting => Some("raft-figure8-scripted"),
        // Only damaged records show it; the swarm draws no storage faults.
        Bug::ServeCorrupt => Some("corrupt-disk"),
        // Membership changes happen only when a manager loses its disk
        // (or the operator adds or removes one).
        Bug::TwoChangesAtOnce => Some("manager-replacement"),
        // The new incarnation's vote counts only while the leader is down.
        Bug::LearnerVotes => Some("manager-rejoin-leader-crash"),
        _ => None,
    }
}

fn caught_by_hunt(bug: Bug) {
    let checker = partsim::catalog::entry(bug).checker;
    let bases = base_for(bug)
        .map(|name| vec![common::load_named(name).1])
        .unwrap_or_default();
    let planted = Planted::NONE.with(bug);
    let opts = HuntOptions {
        seed: 0,
        budget: Duration::from_secs(3600),
        max_runs: 2000,
        jobs: 2,
        planted,
        bases,
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
    // The minimal scenario, read back from its file, fails the same way.
    let text = partsim::shrink::minimal_file(&s, "test", f.seed, planted);
    let minimal = common::scenario(&text);
    let again = run_quiet(&minimal, minimal.seed, planted).expect("the run completes");
    assert_eq!(failure_signature(&again).as_deref(), Some(checker));
}

#[test]
fn every_planted_bug_is_caught_by_hunt() {
    for bug in Bug::ALL {
        caught_by_hunt(bug);
    }
}

#[test]
fn the_catalog_lists_every_bug_once() {
    let all = partsim::catalog::all();
    assert_eq!(all.len(), Bug::ALL.len());
    for e in &all {
        assert!(partsim::check::KNOWN.contains(&e.checker), "{}", e.name);
    }
}
