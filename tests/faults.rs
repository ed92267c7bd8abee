//! Each fault kind shows its effect in the trace.

mod common;

use partsim::sim::net::DropReason;
use partsim::sim::{ProcessId, SimTime};
use partsim::trace::Body;

const BASE: &str = r#"
name = "faults"
duration = "4s"
[cluster]
managers = 1
nodes = 3
stack = "demo"
[network]
latency = ["1ms", "2ms"]
"#;

fn with_events(extra: &str) -> partsim::scenario::Scenario {
    common::scenario(&format!("{BASE}\n{extra}"))
}

fn between(t: SimTime, lo: u64, hi: u64) -> bool {
    t.0 >= lo && t.0 < hi
}

#[test]
fn a_partition_drops_cross_group_messages_and_nothing_else() {
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "2s"
partition = [["m1", "n1"], ["*"]]
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let (m1, n1, n2) = (
        common::pid(&trace, "m1"),
        common::pid(&trace, "n1"),
        common::pid(&trace, "n2"),
    );
    let side = |p: ProcessId| p == m1 || p == n1;
    let mut cross_dropped = 0;
    for r in &trace.events {
        match &r.body {
            Body::Drop {
                from, to, reason, ..
            } if between(r.t, 1_000_000, 2_000_000) => {
                assert_eq!(*reason, DropReason::Partition);
                assert_ne!(
                    side(*from),
                    side(*to),
                    "only cross-group messages are dropped"
                );
                cross_dropped += 1;
            }
            Body::Drop { .. } => panic!("a drop outside the partition: {r:?}"),
            Body::Deliver { from, .. } if between(r.t, 1_005_000, 2_000_000) => {
                assert_eq!(
                    side(*from),
                    side(r.p),
                    "a cross-group message got through: {r:?}"
                );
            }
            _ => {}
        }
    }
    assert!(cross_dropped > 0);
    // After the heal, n2 hears from n1 again.
    assert!(
        common::events(&trace, |r| r.t.0 > 2_010_000
            && r.p == n2
            && matches!(r.body, Body::Deliver { from, .. } if from == n1))
        .next()
        .is_some()
    );
}

#[test]
fn a_one_way_partition_cuts_one_direction_only() {
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "3s"
one_way = { from = "n1", to = "n2" }
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let (n1, n2) = (common::pid(&trace, "n1"), common::pid(&trace, "n2"));
    let window = |r: &&partsim::trace::Record<_>| between(r.t, 1_000_000, 2_990_000);
    let dropped = trace
        .events
        .iter()
        .filter(window)
        .filter(|r| matches!(r.body, Body::Drop { from, to, reason: DropReason::Partition, .. } if from == n1 && to == n2))
        .count();
    let back = trace
        .events
        .iter()
        .filter(window)
        .filter(|r| r.p == n1 && matches!(r.body, Body::Deliver { from, .. } if from == n2))
        .count();
    let forward = trace
        .events
        .iter()
        .filter(|r| between(r.t, 1_010_000, 2_990_000))
        .filter(|r| r.p == n2 && matches!(r.body, Body::Deliver { from, .. } if from == n1))
        .count();
    assert!(dropped > 0, "n1 -> n2 is cut");
    assert!(back > 0, "n2 -> n1 still flows");
    assert_eq!(forward, 0, "nothing from n1 reaches n2");
}

#[test]
fn a_paused_process_receives_nothing_until_it_resumes() {
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "2s"
pause = "n2"
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let n2 = common::pid(&trace, "n2");
    let during = trace
        .events
        .iter()
        .filter(|r| r.p == n2 && between(r.t, 1_000_001, 2_000_000))
        .filter(|r| matches!(r.body, Body::Deliver { .. } | Body::Timer { .. }))
        .count();
    assert_eq!(during, 0, "nothing is handled while paused");
    let at_resume = trace
        .events
        .iter()
        .filter(|r| r.p == n2 && r.t.0 == 2_000_000 && matches!(r.body, Body::Deliver { .. }))
        .count();
    assert!(
        at_resume > 0,
        "what arrived meanwhile is handled at the resume"
    );
}

#[test]
fn a_skewed_clock_fires_timers_early_or_late_by_the_drift() {
    // The demo process beats every heartbeat_interval (100ms) of local time.
    // n1 runs 25% fast from 1s: its timers fire every 80ms of virtual time.
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "3s"
clock = "n1"
drift = 0.25
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let (n1, n2) = (common::pid(&trace, "n1"), common::pid(&trace, "n2"));
    let gaps = |p: ProcessId, lo: u64, hi: u64| -> Vec<u64> {
        let times: Vec<u64> = trace
            .events
            .iter()
            .filter(|r| r.p == p && matches!(r.body, Body::Timer { .. }) && between(r.t, lo, hi))
            .map(|r| r.t.0)
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    };
    let fast = gaps(n1, 1_200_000, 2_900_000);
    assert!(
        !fast.is_empty() && fast.iter().all(|g| *g == 80_000),
        "n1 fires every 80ms: {fast:?}"
    );
    let normal = gaps(n2, 1_200_000, 2_900_000);
    assert!(
        normal.iter().all(|g| *g == 100_000),
        "n2 keeps 100ms: {normal:?}"
    );
    let after = gaps(n1, 3_200_000, 4_000_000);
    assert!(
        after.iter().all(|g| *g == 100_000),
        "restored at the end: {after:?}"
    );
}

#[test]
fn a_clock_offset_jump_delays_pending_timers() {
    // n1's clock jumps 250ms back at 1.05s: the beat due at local 1.1s now
    // fires at virtual 1.35s.
    let s = with_events(
        r#"
[[events]]
at = "1.05s"
clock = "n1"
offset = "-250ms"
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let n1 = common::pid(&trace, "n1");
    let fired: Vec<u64> = trace
        .events
        .iter()
        .filter(|r| {
            r.p == n1 && matches!(r.body, Body::Timer { .. }) && between(r.t, 1_000_000, 1_500_000)
        })
        .map(|r| r.t.0)
        .collect();
    assert_eq!(fired, vec![1_000_000, 1_350_000, 1_450_000]);
}

#[test]
fn duplicated_messages_are_delivered_twice() {
    let s = common::scenario(&BASE.replace(
        "latency = [\"1ms\", \"2ms\"]",
        "latency = [\"1ms\", \"2ms\"]\nduplicate = 1.0",
    ));
    let (report, trace) = common::run_trace(&s, Some(1));
    let mut deliveries = std::collections::BTreeMap::<u64, u32>::new();
    for r in &trace.events {
        if let Body::Deliver { id, .. } = r.body {
            *deliveries.entry(id).or_default() += 1;
        }
    }
    assert!(!deliveries.is_empty());
    // Messages still in flight at the end may have arrived once.
    let twice = deliveries.values().filter(|n| **n == 2).count();
    assert!(
        twice * 100 >= deliveries.len() * 98,
        "{twice} of {}",
        deliveries.len()
    );
    assert!(deliveries.values().all(|n| *n <= 2));
    assert_eq!(report.messages.duplicated, report.messages.sent);
}

#[test]
fn a_crash_drops_messages_to_the_crashed_process_until_restart() {
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "2s"
crash = "n3"
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let n3 = common::pid(&trace, "n3");
    let handled = trace
        .events
        .iter()
        .filter(|r| r.p == n3 && between(r.t, 1_000_001, 2_000_000))
        .filter(|r| {
            matches!(
                r.body,
                Body::Deliver { .. } | Body::Timer { .. } | Body::Send { .. }
            )
        })
        .count();
    assert_eq!(handled, 0, "a crashed process does nothing");
    assert!(
        trace.events.iter().any(
            |r| matches!(r.body, Body::Drop { to, reason: DropReason::Crashed, .. } if to == n3)
        )
    );
    assert!(
        trace
            .events
            .iter()
            .any(|r| r.p == n3 && r.t.0 == 2_000_000 && r.body == Body::Restart)
    );
}

/// DESIGN §5: `"*"` is every process not named; a group that holds it and
/// names others too holds both (`["n2", "*"]` is n2 plus the unnamed).
#[test]
fn a_star_group_keeps_its_own_names() {
    let s = with_events(
        r#"
[[events]]
at = "1s"
until = "2s"
partition = [["m1"], ["n1"], ["n2", "*"]]
"#,
    );
    let (_, trace) = common::run_trace(&s, Some(1));
    let (m1, n2, n3) = (
        common::pid(&trace, "m1"),
        common::pid(&trace, "n2"),
        common::pid(&trace, "n3"),
    );
    // n2 is cut off from m1 (its heartbeats are dropped) and not from n3's group.
    let dropped_n2_m1 = common::events(&trace, |r| {
        between(r.t, 1_000_000, 2_000_000)
            && matches!(r.body, Body::Drop { from, to, reason: DropReason::Partition, .. }
                if from == n2 && to == m1)
    })
    .count();
    assert!(dropped_n2_m1 > 0, "n2 was left out of its group");
    assert!(
        common::events(&trace, |r| between(r.t, 1_000_000, 2_000_000)
            && matches!(r.body, Body::Drop { from, to, .. }
                if (from == n2 && to == n3) || (from == n3 && to == n2)))
        .next()
        .is_none(),
        "n2 and n3 share a group"
    );
}
