//! Dead-server cleanup (`manager-down-cleanup`): a voter the leader has
//! not heard from for `[managers] remove_down_after` is removed, one change
//! at a time, never below `min_voters`; a removed manager that returns is
//! admitted again (learner, then voter) before the group shrinks further.
//! Without the knob, nobody is removed.

mod common;

use partsim::sim::{SimDuration, SimTime};
use partsim::stack::consensus::RaftEvent;
use partsim::stack::events::StackEvent;
use partsim::trace::{Body, TraceFile};

/// Every configuration a manager traced after appending or receiving it
/// (index > 0), in order: (time, voters, learners).
fn configs(trace: &TraceFile<StackEvent>) -> Vec<(SimTime, Vec<String>, Vec<String>)> {
    let mut seen = std::collections::BTreeSet::new();
    trace
        .events
        .iter()
        .filter_map(|r| match &r.body {
            Body::App(StackEvent::Raft(RaftEvent::Config {
                index,
                voters,
                learners,
                ..
            })) if *index > 0 && seen.insert(*index) => {
                Some((r.t, voters.clone(), learners.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn voters_that_stay_down_are_removed_down_to_the_floor_and_a_returning_one_rejoins() {
    let (_, s) = common::load_named("manager-down-cleanup");
    // Silence counts from a voter's last answer, which may come up to one
    // heartbeat round before it crashed.
    let slack = s.timing.raft_heartbeat.as_micros() + s.network.latency[1].as_micros();
    let grace = SimDuration(
        s.managers
            .remove_down_after
            .expect("the scenario sets a grace")
            .as_micros()
            - slack,
    );
    for seed in 0..5 {
        let (report, trace) = common::run_trace(&s, Some(seed));
        assert!(report.passed, "seed {seed}: {:?}", report.expectations);
        let cs = configs(&trace);
        let has = |c: &(SimTime, Vec<String>, Vec<String>), m: &str| c.1.iter().any(|v| v == m);
        // m2 crashed at 3s, m3 at 4s: each removed, not before its grace
        // (less one heartbeat round).
        let m2_out = cs.iter().find(|c| !has(c, "m2")).expect("m2 removed");
        assert!(
            m2_out.0 >= SimTime::ZERO + SimDuration::from_secs(3) + grace,
            "seed {seed}: grace {grace}: {cs:?}"
        );
        let m3_out = cs.iter().find(|c| !has(c, "m3")).expect("m3 removed");
        assert!(
            m3_out.0 >= SimTime::ZERO + SimDuration::from_secs(4) + grace,
            "seed {seed}"
        );
        // Never below the floor (a majority of five), one voter per change.
        let mut prev: Option<&Vec<String>> = None;
        for c in &cs {
            assert!(
                c.1.len() >= 3,
                "seed {seed}: {} voters at {}: {:?}",
                c.1.len(),
                c.0,
                c.1
            );
            if let Some(p) = prev {
                let changed = p.iter().filter(|v| !c.1.contains(v)).count()
                    + c.1.iter().filter(|v| !p.contains(v)).count();
                assert!(changed <= 1, "seed {seed}: {p:?} -> {:?}", c.1);
            }
            prev = Some(&c.1);
        }
        // m4 (down from 9s) stays while it would leave two voters; m2,
        // back at 12s with its disk, is a learner, then a voter, and only
        // then is m4 removed.
        let m2_learner = cs
            .iter()
            .position(|c| c.2.iter().any(|l| l == "m2"))
            .expect("m2 readmitted as a learner");
        assert!(cs[m2_learner].0 >= SimTime::ZERO + SimDuration::from_secs(12));
        let m4_out = cs.iter().position(|c| !has(c, "m4")).expect("m4 removed");
        assert!(m4_out > m2_learner, "seed {seed}: {cs:?}");
        assert!(
            has(&cs[m4_out - 1], "m2"),
            "seed {seed}: m2 promoted before m4 goes"
        );
        let last = cs.last().expect("configurations");
        assert_eq!(last.1, ["m1", "m2", "m5"], "seed {seed}");
    }
}

#[test]
fn without_a_grace_nobody_is_removed() {
    let (_, mut s) = common::load_named("manager-down-cleanup");
    s.managers.remove_down_after = None;
    s.expect.voters = None;
    let (report, trace) = common::run_trace(&s, Some(0));
    assert!(report.passed, "{:?}", report.expectations);
    for c in configs(&trace) {
        assert_eq!(c.1.len(), 5, "{c:?}");
    }
}
