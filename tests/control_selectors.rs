//! The `primary:P` selector resolves, when its event fires, to the primary
//! of partition P in the current leader's committed map, and the trace
//! names the concrete node.

mod common;

use partsim::stack::events::StackEvent;
use partsim::trace::Body;

const PRIMARY_CRASH: &str = r#"
name = "primary-crash"
duration = "20s"
[cluster]
managers = 3
nodes = 5
zones = ["a", "b", "c"]
[grid]
width = 64
height = 64
tile = [16, 16]
replication_factor = 3
[network]
latency = ["1ms", "5ms"]
[[events]]
at = "5s"
until = "12s"
crash = "primary:3"
[expect]
safety = true
converged_by = "19s"
"#;

#[test]
fn primary_p_crashes_the_primary_of_p_and_a_backup_takes_over() {
    let s = common::scenario(PRIMARY_CRASH);
    let (report, trace) = common::run_trace(&s, Some(3));
    assert!(report.passed, "{:?}", report.expectations);
    let mut primary_before = None;
    let mut crashed = None;
    let mut primary_after = None;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::Partition {
                partition: 3,
                primary,
                ..
            }) => {
                if crashed.is_none() {
                    primary_before = primary.clone();
                } else if primary_after.is_none() && primary != &primary_before {
                    primary_after = primary.clone();
                }
            }
            Body::Fault { kind, detail, .. } if kind == "crash" && crashed.is_none() => {
                crashed = Some(detail.clone());
            }
            _ => {}
        }
    }
    let before = primary_before.expect("p3 was placed before 5s");
    assert_eq!(
        crashed.as_deref(),
        Some(before.as_str()),
        "the selector named p3's primary"
    );
    let after = primary_after.expect("another replica was promoted");
    assert_ne!(after, before);
}
