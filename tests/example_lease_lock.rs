//! The lease-lock example (examples/lease_lock): its own protocol on the
//! kernel, run from its scenario file through crashes and partitions. Its
//! `mutual_exclusion` checker holds on clean runs and catches the planted
//! `ignore-lease` bug; its trace opens in the replay UI.

mod common;

#[path = "../examples/lease_lock/lock.rs"]
#[allow(dead_code)]
mod lock;

use lock::Bug;
use partsim::scenario::Scenario;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=6;

fn scenario() -> Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/lease_lock/scenario.toml"
    );
    partsim::scenario::load(std::path::Path::new(path)).expect("the example's scenario is valid")
}

#[test]
fn the_lock_holds_through_crashes_and_partitions() {
    let s = scenario();
    for seed in SEEDS {
        let out = lock::run(&s, seed, Bug::None, None).unwrap();
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
        assert!(
            out.entries >= 5,
            "seed {seed}: the clients got the lock only {} times",
            out.entries
        );
    }
}

#[test]
fn a_holder_that_ignores_its_lease_is_caught() {
    let s = scenario();
    let caught: Vec<u64> = SEEDS
        .filter(|&seed| {
            let out = lock::run(&s, seed, Bug::IgnoreLease, None).unwrap();
            out.violations
                .iter()
                .any(|(_, v)| v.check == "mutual_exclusion")
        })
        .collect();
    // Caught wherever a partition or isolation cuts the holder off from the
    // server for longer than its lease while another client reaches it.
    assert!(caught.len() >= 3, "caught on seeds {caught:?} only");
}

#[test]
fn same_seed_same_trace_and_the_replay_ui_opens_it() {
    let s = scenario();
    let sink = common::Buffer::default();
    let out = lock::run(&s, 1, Bug::IgnoreLease, Some(Box::new(sink.clone()))).unwrap();
    let again = lock::run(&s, 1, Bug::IgnoreLease, None).unwrap();
    assert_eq!(out.trace_digest, again.trace_digest);

    let bytes = sink.0.borrow().clone();
    let replay = partsim::tui::open_bytes("lease-lock.jsonl", bytes).expect("replay opens it");
    assert!(replay.kind_id("enter").is_some() && replay.kind_id("granted").is_some());
    assert!(!replay.faults().is_empty(), "fault spans from the scenario");
    assert_eq!(replay.violations().len(), out.violations.len());
    assert!(!out.violations.is_empty());
}
