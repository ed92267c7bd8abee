//! Every planted data-plane bug is caught by some scenario within 300 seeds
//! (issue 13, "planted bugs, each caught"). Each test names the scenario
//! and the checker that catches the bug, and runs seed after seed until it
//! fires.
//!
//! CI runs it in release: `cargo test --release --locked --features planted-bugs --test data_planted`.

#![cfg(feature = "planted-bugs")]

mod common;

use std::ops::Range;

use partsim::stack::planted::Bug;

/// The bound: each bug is caught within these seeds.
const SEEDS: Range<u64> = 0..300;

fn caught(bug: Bug, scenario: &str, check: &str) -> u64 {
    common::first_catching_seed(bug, scenario, check, SEEDS)
}

#[test]
fn ack_before_backups_is_caught_by_durability() {
    // The primary acknowledges writes its backups never got; it crashes,
    // a backup takes over without them.
    caught(
        Bug::AckBeforeBackups,
        "primary-crash-under-load",
        "durability",
    );
}

#[test]
fn read_without_confirm_is_caught_by_linearizable() {
    // A primary back from a pause, deposed meanwhile, answers reads from
    // its stale state: they miss writes the new primary acknowledged.
    caught(Bug::ReadWithoutConfirm, "primary-paused", "linearizable");
}

#[test]
fn skip_primary_fsync_is_caught_by_durability() {
    // Every replica of some partitions crashes at once; the primary's disk
    // lacks what it acknowledged, and the re-seed serves from it.
    caught(
        Bug::SkipPrimaryFsync,
        "multi-node-outage-under-load",
        "durability",
    );
}

#[test]
fn in_sync_without_transfer_is_caught_by_durability() {
    // A catching-up replica reports itself complete before its primary
    // installed the data; counted in sync, it later serves without the
    // writes it never received.
    caught(Bug::InSyncWithoutTransfer, "chaos", "durability");
}

#[test]
fn serve_corrupt_is_caught_by_durability() {
    // n1's stored records are damaged; every data node crashes and n1
    // returns first. Trusting its damaged copy, it re-seeds its partitions
    // from what happened to decode, and its peers are later installed from
    // it: writes acknowledged before the crash are gone.
    caught(Bug::ServeCorrupt, "corrupt-disk", "durability");
}
