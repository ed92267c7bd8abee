//! A damaged list of the copies a data node holds (`node/replicas`) does
//! not make it forget them: restarted, it still reports each copy whose
//! own records reload intact, and that copy is a source.
//!
//! `tests/adversarial/sched-node-replicas-damaged.toml`: n1 is down from
//! 9 s to 14 s, its records are corrupted at 10 s, and n2 and n3 lose
//! their disks at 11 s, so n1 holds p0's only copy. At the seeds below the
//! corruption damaged n1's list and spared p0's records. Before the
//! rebuild n1 came back holding nothing, p0 was started again empty on n2
//! and n1's copy overwritten by it (`placement`: n2 reported a complete
//! copy without a transfer, at about 14.6 s). Now n1 reports its copy
//! `stored` as it restarts, p0 is re-seeded from it, and nothing
//! acknowledged is lost.

mod common;

use partsim::stack::events::{ReplicaState, StackEvent};
use partsim::trace::Body;

#[test]
fn a_damaged_list_of_held_copies_keeps_the_copies() {
    let rel = "tests/adversarial/sched-node-replicas-damaged.toml";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for seed in [5, 20, 25, 28, 33, 36] {
        let (report, trace) = common::run_trace(&s, Some(seed));
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.passed, "seed {seed}: {:?}", report.expectations);
        assert_eq!(report.metrics["lost_acked_writes"].as_u64(), Some(0));
        let n1 = common::pid(&trace, "n1");
        let restart = trace
            .events
            .iter()
            .position(|r| r.p == n1 && matches!(r.body, Body::Restart))
            .expect("n1 restarts");
        let at = trace.events[restart].t;
        // Traced in the restart's own step: the copy its disk kept.
        let stored = trace.events[restart..]
            .iter()
            .take_while(|r| r.t == at)
            .any(|r| {
                r.p == n1
                    && matches!(
                        r.body,
                        Body::App(StackEvent::Replica {
                            partition: 0,
                            state: ReplicaState::Stored,
                            ..
                        })
                    )
            });
        assert!(stored, "seed {seed}: n1 forgot its copy of p0");
        // Its copy was intact: not one the reload found damaged.
        assert!(
            !trace
                .events
                .iter()
                .any(|r| r.p == n1 && matches!(r.body, Body::App(StackEvent::Damaged { .. }))),
            "seed {seed}: n1's copy was damaged, not its list"
        );
    }
}
