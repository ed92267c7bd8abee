//! Event builders shared by the control checkers' unit tests.

use crate::check::Checker;
use crate::sim::{Event, EventKind, ProcessId, SimTime, Violation};
use crate::stack::events::{MemberChange, ReplicaState, StackEvent};

pub(super) fn names() -> Vec<String> {
    ["m1", "n1", "n2", "n3", "n4", "n9"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

pub(super) fn feed(
    c: &mut dyn Checker,
    evs: &[(u32, EventKind<'_, StackEvent>)],
) -> Vec<Violation> {
    let timed: Vec<_> = evs
        .iter()
        .enumerate()
        .map(|(seq, (p, kind))| (seq as u64 * 1000, *p, kind.clone()))
        .collect();
    feed_at(c, &timed)
}

/// Feeds `evs` to `c`, each event at its own time (µs).
pub(super) fn feed_at(
    c: &mut dyn Checker,
    evs: &[(u64, u32, EventKind<'_, StackEvent>)],
) -> Vec<Violation> {
    let names = names();
    let mut out = Vec::new();
    for (seq, (t, p, kind)) in evs.iter().enumerate() {
        let ev = Event {
            t: SimTime(*t),
            p: ProcessId(*p),
            seq: seq as u64,
            cause: None,
            kind: kind.clone(),
        };
        c.on_event(&ev, &names, &mut out);
    }
    out
}

pub(super) fn config() -> StackEvent {
    StackEvent::PlacementConfig {
        policy: "rendezvous-bounded".into(),
        replication_factor: 2,
        max_imbalance: 0.25,
        max_concurrent_moves: 4,
        partitions: 1,
        dead_after_us: 1_000_000,
    }
}

pub(super) fn member(node: &str, state: MemberChange, zone: &str, version: u64) -> StackEvent {
    StackEvent::Member {
        node: node.into(),
        state,
        zone: zone.into(),
        capacity: 1,
        version,
    }
}

pub(super) fn replica(
    state: ReplicaState,
    epoch: u64,
    complete: bool,
    source: Option<&str>,
) -> StackEvent {
    StackEvent::Replica {
        partition: 0,
        state,
        epoch,
        complete,
        source: source.map(String::from),
    }
}

pub(super) fn part(epoch: u64, in_sync: &[&str], catching_up: &[&str]) -> StackEvent {
    StackEvent::Partition {
        partition: 0,
        epoch,
        version: epoch + 10,
        in_sync: in_sync.iter().map(|s| s.to_string()).collect(),
        catching_up: catching_up.iter().map(|s| s.to_string()).collect(),
        primary: in_sync.first().map(|s| s.to_string()),
    }
}
