//! For every planted bug's catching run (the scenario and first seed listed
//! in the README), `partsim check` on its trace reaches the run's verdicts,
//! checker by checker — including the liveness checkers a violation kept
//! from judging.

mod common;

use partsim::stack::planted::{Bug, Planted};

/// (bug, scenario, catching seed), as in the README's planted-bug table.
const CATCHES: &[(Bug, &str, u64)] = &[
    (Bug::VoteWithoutLogCheck, "raft-unreliable", 1),
    (Bug::CommitOldTermByCounting, "raft-figure8-scripted", 0),
    (Bug::VoteBeforeFsync, "raft-voter-crash", 0),
    (Bug::IgnoreHigherTerm, "raft-skewed-clocks", 2),
    (Bug::RemoveBeforeInSync, "join-scale-out", 0),
    (Bug::ApplyOlderMap, "join-scale-out", 0),
    (Bug::HealthSkipsConsensus, "node-crash-recover", 0),
    (Bug::AcceptBadMac, "impostor-join", 0),
];

#[test]
fn offline_verdicts_equal_online_ones_for_every_planted_bug() {
    let mut differ = Vec::new();
    for &(bug, name, seed) in CATCHES {
        let (rel, s) = common::load_named(name);
        let planted = Planted::NONE.with(bug);
        let (report, _) = common::run_bytes(&s, Some(seed), planted);
        assert!(
            !report.violations.is_empty(),
            "{bug} on {rel} seed {seed} no longer fails: update the table"
        );
        if let Err(e) = common::offline_agrees_with_online(
            &format!("{bug} on {rel} seed {seed}"),
            &s,
            Some(seed),
            planted,
        ) {
            differ.push(e);
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
