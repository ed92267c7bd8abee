//! Graceful decommission (`leave`): the node is drained — every replica it
//! held is replaced before its copy goes — then removed from the map, and
//! it stops. The `placement` checker (make-before-break) holds throughout.

mod common;

use std::path::Path;

use partsim::stack::events::{MemberChange, MovePhase, ReplicaState, StackEvent};
use partsim::trace::Body;

#[test]
fn leave_drains_then_removes_the_node() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/leave-drain.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    let n4 = common::pid(&trace, "n4");
    let mut draining_at = None;
    let mut removed_at = None;
    let mut moves_off = 0;
    let mut held = std::collections::BTreeSet::new();
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::Member { node, state, .. }) if node == "n4" => match state {
                MemberChange::Draining => draining_at = draining_at.or(Some(r.t)),
                MemberChange::Removed => removed_at = Some(r.t),
                _ => {}
            },
            Body::App(StackEvent::Move {
                from,
                phase: MovePhase::Done,
                ..
            }) if from == "n4" => moves_off += 1,
            Body::App(StackEvent::Replica {
                partition, state, ..
            }) if r.p == n4 => {
                if *state == ReplicaState::Removed {
                    held.remove(partition);
                } else {
                    held.insert(*partition);
                }
            }
            _ => {}
        }
    }
    let (Some(d), Some(rm)) = (draining_at, removed_at) else {
        panic!("n4 drained at {draining_at:?}, removed at {removed_at:?}");
    };
    assert!(d.0 >= 6_000_000 && rm > d, "drain at {d}, removal at {rm}");
    assert!(moves_off >= 1, "its replicas moved off");
    assert!(held.is_empty(), "n4 still hosts {held:?}");
    assert_eq!(
        report
            .checks
            .iter()
            .find(|c| c.name == "placement")
            .map(|c| c.violations),
        Some(0)
    );
}
