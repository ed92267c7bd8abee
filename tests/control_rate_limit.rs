//! Per-sender rate limits: a data node whose clock runs four times fast
//! heartbeats at four times the nominal rate; the leader admits twice the
//! nominal rate (a token bucket on its own clock), traces the excess as
//! `rate_limited` and drops it — and the node, still heard often enough,
//! is never declared dead. (The clock stays fast to the end: setting it
//! back would jump the node's local time back by seconds, and its timers
//! with it — a real outage, not a rate.)

mod common;

use partsim::stack::events::{MemberChange, StackEvent};
use partsim::trace::Body;

const FAST_CLOCK: &str = r#"
name = "fast-clock"
duration = "12s"
[cluster]
managers = 3
nodes = 4
zones = ["a", "b"]
[grid]
width = 32
height = 32
tile = [8, 8]
replication_factor = 3
[network]
latency = ["1ms", "5ms"]
[[events]]
at = "3s"
clock = "n2"
drift = 3.0
[expect]
safety = true
converged_by = "11s"
"#;

#[test]
fn a_node_heartbeating_too_fast_is_limited_not_killed() {
    let s = common::scenario(FAST_CLOCK);
    let (report, trace) = common::run_trace(&s, Some(1));
    assert!(report.passed, "{:?}", report.expectations);
    let mut limited = 0;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::RateLimited { from, what }) => {
                assert_eq!(from, "n2");
                assert_eq!(what, "heartbeat");
                assert!(r.t.0 >= 3_000_000, "only while its clock runs fast");
                limited += 1;
            }
            Body::App(StackEvent::Member { node, state, .. }) => {
                assert!(
                    !(node == "n2" && *state == MemberChange::Dead),
                    "n2 was declared dead at {}",
                    r.t
                );
            }
            _ => {}
        }
    }
    assert!(
        limited > 50,
        "about half of n2's heartbeats are dropped ({limited})"
    );
}
