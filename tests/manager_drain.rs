//! A drained manager hands leadership over (`manager-drain`): the leader
//! the operator drains transfers the lead to a voter that holds its whole
//! log, does not lead again while drained, and stays a voter.

mod common;

use partsim::sim::SimDuration;
use partsim::stack::consensus::{RaftEvent, Role};
use partsim::stack::events::StackEvent;
use partsim::trace::{Body, Phase};

#[test]
fn a_drained_leader_hands_over_to_an_up_to_date_voter_and_stays_a_voter() {
    let (_, s) = common::load_named("manager-drain");
    for seed in 0..5 {
        let (report, trace) = common::run_trace(&s, Some(seed));
        assert!(report.passed, "seed {seed}: {:?}", report.expectations);
        let fault = |phase: Phase| {
            trace.events.iter().find_map(|r| match &r.body {
                Body::Fault {
                    kind,
                    phase: p,
                    detail,
                    ..
                } if kind == "drain_manager" && *p == phase => Some((r.t, detail.clone())),
                _ => None,
            })
        };
        let (begin, drained) = fault(Phase::Begin).expect("the drain began");
        let (end, undrained) = fault(Phase::End).expect("the drain ended");
        assert_eq!(
            drained, undrained,
            "seed {seed}: the end undrains whom the begin drained"
        );
        let d = common::pid(&trace, &drained);

        // The drained leader's `TimeoutNow`, and the last index it had
        // appended by then.
        let mut last_appended = 0;
        let mut handed = None;
        for r in &trace.events {
            match &r.body {
                Body::App(StackEvent::Raft(RaftEvent::Append { index, .. })) if r.p == d => {
                    last_appended = last_appended.max(*index);
                }
                Body::App(StackEvent::Raft(RaftEvent::Transfer { to, step }))
                    if r.p == d && r.t >= begin && step == "timeout_now" =>
                {
                    handed = Some((r.t, r.seq, to.clone(), last_appended));
                    break;
                }
                _ => {}
            }
        }
        let (t, seq, to, last) =
            handed.unwrap_or_else(|| panic!("seed {seed}: {drained} never sent TimeoutNow"));
        assert_ne!(to, drained);
        assert!(
            t < begin + SimDuration::from_secs(1),
            "seed {seed}: handed over at {t}"
        );
        // The target had written every entry the leader held, by its own
        // `accept` events, before it was told to campaign.
        let target = common::pid(&trace, &to);
        let held = trace
            .events
            .iter()
            .filter(|r| r.p == target && r.seq < seq)
            .filter_map(|r| match &r.body {
                Body::App(StackEvent::Raft(RaftEvent::Accept { index, terms, .. })) => {
                    Some(index + terms.len() as u64 - 1)
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        assert!(
            held >= last,
            "seed {seed}: {to} held up to {held}, the leader {last}"
        );
        // The target leads next; the drained one does not lead while drained.
        let next_leader = trace.events.iter().find_map(|r| match &r.body {
            Body::App(StackEvent::Raft(RaftEvent::Role {
                role: Role::Leader, ..
            })) if r.seq > seq => Some(r.p),
            _ => None,
        });
        assert_eq!(next_leader, Some(target), "seed {seed}");
        let led_while_drained = trace.events.iter().any(|r| {
            r.p == d
                && r.seq > seq
                && r.t < end
                && matches!(
                    r.body,
                    Body::App(StackEvent::Raft(RaftEvent::Role {
                        role: Role::Leader,
                        ..
                    }))
                )
        });
        assert!(
            !led_while_drained,
            "seed {seed}: {drained} led while drained"
        );
        // Still a voter in every configuration anyone traced.
        for r in &trace.events {
            if let Body::App(StackEvent::Raft(RaftEvent::Config { voters, .. })) = &r.body {
                assert!(
                    voters.contains(&drained),
                    "seed {seed}: {drained} removed at {}",
                    r.t
                );
            }
        }
    }
}
