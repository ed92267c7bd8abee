//! A replaced manager is caught up by a snapshot
//! (`manager-replacement-snapshot`): the leader compacted its log past
//! everything the empty new incarnation has, so the new incarnation
//! installs the leader's snapshot (the same digest as the snapshot the
//! leader itself took at that index), takes only the tail by appends, and
//! becomes a voter.

mod common;

use partsim::stack::consensus::RaftEvent;
use partsim::stack::events::StackEvent;
use partsim::trace::Body;

#[test]
fn the_new_incarnation_installs_a_snapshot_and_becomes_a_voter() {
    let (_, s) = common::load_named("manager-replacement-snapshot");
    for seed in 0..5 {
        let (report, trace) = common::run_trace(&s, Some(seed));
        assert!(report.passed, "seed {seed}: {:?}", report.expectations);
        let m2 = common::pid(&trace, "m2");
        // The new incarnation's name, from its own `config` events.
        let (born, me) = trace
            .events
            .iter()
            .find_map(|r| match &r.body {
                Body::App(StackEvent::Raft(RaftEvent::Config { me, .. }))
                    if r.p == m2 && me.starts_with("m2#") =>
                {
                    Some((r.seq, me.clone()))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("seed {seed}: m2 never came back as a new incarnation"));
        let after = |r: &&partsim::trace::Record<StackEvent>| r.p == m2 && r.seq > born;
        let (installed_at, index, digest) = trace
            .events
            .iter()
            .filter(after)
            .find_map(|r| match &r.body {
                Body::App(StackEvent::Raft(RaftEvent::Snapshot {
                    index,
                    installed: true,
                    digest,
                    ..
                })) => Some((r.seq, *index, digest.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("seed {seed}: {me} installed no snapshot"));
        assert!(index > 0);
        // Nothing at or below the snapshot came by `AppendEntries`.
        for r in trace.events.iter().filter(after) {
            if let Body::App(StackEvent::Raft(RaftEvent::Accept { index: first, .. })) = &r.body {
                assert!(
                    r.seq > installed_at && *first > index,
                    "seed {seed}: {me} accepted from {first} (snapshot at {index})"
                );
            }
        }
        // Some other manager took a snapshot at that index, with that digest.
        let same = trace.events.iter().any(|r| {
            r.p != m2
                && matches!(&r.body, Body::App(StackEvent::Raft(RaftEvent::Snapshot {
                    index: i, installed: false, digest: d, ..
                })) if *i == index && *d == digest)
        });
        assert!(
            same,
            "seed {seed}: no manager took a snapshot at {index} with digest {digest}"
        );
        // The leader's configuration ends with the new incarnation as a voter.
        let voter = trace.events.iter().any(|r| {
            r.p != m2
                && r.seq > installed_at
                && matches!(&r.body, Body::App(StackEvent::Raft(RaftEvent::Config { voters, .. }))
                    if voters.contains(&me))
        });
        assert!(voter, "seed {seed}: {me} never became a voter");
    }
}
