//! Moves survive a leader failover: every move step is a committed,
//! epoch-conditional entry, so the new leader finds the moves half-done in
//! the map and carries them on. In `manager-failover-during-moves` the
//! leader crashes while replicas are moving onto the node that just joined.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use partsim::stack::consensus::{RaftEvent, Role};
use partsim::stack::events::{MovePhase, StackEvent};
use partsim::trace::Body;

#[test]
fn the_next_leader_finishes_the_moves_the_last_one_started() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/manager-failover-during-moves.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    // Who led when, and which leader emitted each move's phases.
    let mut leaders = BTreeSet::new();
    let mut phases_by: BTreeMap<u32, BTreeSet<(u32, MovePhase)>> = BTreeMap::new();
    let mut first_crash = None;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::Raft(RaftEvent::Role {
                role: Role::Leader, ..
            })) => {
                leaders.insert(r.p);
            }
            Body::Crash { .. } if first_crash.is_none() => first_crash = Some(r.t),
            Body::App(StackEvent::Move {
                partition, phase, ..
            }) => {
                phases_by
                    .entry(*partition)
                    .or_default()
                    .insert((r.p.0, *phase));
            }
            _ => {}
        }
    }
    assert!(leaders.len() >= 3, "two failovers: {leaders:?}");
    // Some partition's move was planned or started by one leader and
    // finished by another.
    let handed_over = phases_by.values().any(|set| {
        let started: BTreeSet<u32> = set
            .iter()
            .filter(|(_, ph)| matches!(ph, MovePhase::Planned | MovePhase::Added))
            .map(|(p, _)| *p)
            .collect();
        let done: BTreeSet<u32> = set
            .iter()
            .filter(|(_, ph)| *ph == MovePhase::Done)
            .map(|(p, _)| *p)
            .collect();
        !done.is_empty() && started.iter().any(|p| !done.contains(p))
    });
    assert!(handed_over, "no move crossed a failover: {phases_by:?}");
    assert!(first_crash.is_some());
}
