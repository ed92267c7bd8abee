//! `primary:P` between a leader's crash and the next election: with no
//! leader, the selector reads the newest committed map a running manager
//! holds, so "crash the leader, then the primary" crashes the primary
//! instead of injecting nothing.

mod common;

use partsim::stack::events::StackEvent;
use partsim::trace::Body;

const LEADER_THEN_PRIMARY: &str = r#"
name = "leader-then-primary"
duration = "20s"
[cluster]
managers = 3
nodes = 4
clients = 2
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[workload]
rate = 100
start = "1s"
stop = "18s"
[[events]]
at = "5s"
until = "7s"
crash = "leader"
[[events]]
at = "5200ms"
until = "6s"
crash = "primary:0"
[expect]
safety = true
converged_by = "19s"
"#;

#[test]
fn primary_p_resolves_without_a_leader() {
    let s = common::scenario(LEADER_THEN_PRIMARY);
    let (report, trace) = common::run_trace(&s, None);
    let mut primary_before = None;
    let mut crashed = Vec::new();
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::Partition {
                partition: 0,
                primary,
                ..
            }) if crashed.len() < 2 => primary_before = primary.clone(),
            Body::Fault {
                kind,
                phase: partsim::trace::Phase::Begin,
                detail,
                ..
            } if kind == "crash" => crashed.push(detail.clone()),
            _ => {}
        }
    }
    assert!(
        crashed.first().is_some_and(|m| m.starts_with('m')),
        "the leader crashed first: {crashed:?}"
    );
    let before = primary_before.expect("p0 was placed before 5s");
    assert_eq!(
        crashed.get(1),
        Some(&before),
        "primary:0 named p0's primary with no leader: {crashed:?}"
    );
    assert!(report.passed, "{:?}", report.expectations);
}
