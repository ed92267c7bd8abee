//! Event builders shared by the control checkers' unit tests.

use std::collections::BTreeSet;

use super::copies::Copies;
use super::view::{MapView, Remaining, Unconverged};
use crate::check::Checker;
use crate::sim::{Event, EventKind, ProcessId, SimTime, Violation};
use crate::stack::events::{MemberChange, ReplicaState, StackEvent};
use crate::stack::grid::MemberState;

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

/// [`MapView::unconverged`] as its definition reads, one look-up per
/// question: what the judgement, which looks each node up once, must
/// equal.
pub(super) fn unconverged_by_definition(
    view: &MapView,
    p: u32,
    rf: usize,
    copies: &Copies,
    remaining: Remaining,
    down: &BTreeSet<String>,
) -> Option<Unconverged> {
    let Some(part) = view.parts.get(&p) else {
        return Some(Unconverged::NeverPlaced { p });
    };
    let want = rf.min(remaining.nodes);
    if !part.catching_up.is_empty() {
        return Some(Unconverged::CatchingUp {
            p,
            nodes: part.catching_up.clone(),
        });
    }
    let copy = |n: &str| copies.held.get(&p).and_then(|m| m.get(n));
    let serving = |n: &str| {
        view.alive(n) && !down.contains(n) && copy(n).is_some_and(|c| c.serves(part.epoch))
    };
    let on_alive = part.in_sync.iter().filter(|n| serving(n)).count();
    if on_alive != want {
        return Some(Unconverged::InSync {
            p,
            on_alive,
            epoch: part.epoch,
            want,
            unconfirmed: part
                .in_sync
                .iter()
                .filter(|n| view.alive(n) && !serving(n))
                .cloned()
                .collect(),
        });
    }
    if let Some(n) = part
        .in_sync
        .iter()
        .find(|n| view.state(n) == Some(MemberState::Draining))
    {
        return Some(Unconverged::Draining { p, node: n.clone() });
    }
    if want >= rf
        && let Some(n) = part.in_sync.iter().find(|n| !view.alive(n))
    {
        return Some(Unconverged::NotAlive { p, node: n.clone() });
    }
    let primary = part
        .primary
        .as_deref()
        .filter(|n| serving(n) && copy(n).is_some_and(|c| c.state == ReplicaState::Primary));
    if primary.is_none() {
        return Some(Unconverged::NoPrimary { p });
    }
    let zones = part
        .in_sync
        .iter()
        .filter(|n| serving(n))
        .map(|n| view.zone(n))
        .collect::<BTreeSet<_>>()
        .len();
    let need = want.min(remaining.zones);
    (zones < need).then_some(Unconverged::Zones { p, zones, need })
}
