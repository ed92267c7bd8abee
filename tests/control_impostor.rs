//! Authentication (issue 4, "done when"): the impostor never appears in any
//! map, and its messages are traced as `auth_reject`. A message a real node
//! sends is never rejected.

mod common;

use std::path::Path;

use partsim::stack::events::StackEvent;
use partsim::trace::Body;

#[test]
fn the_impostor_is_rejected_and_never_a_member() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/impostor-join.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    let n9 = common::pid(&trace, "n9");
    let mut rejected = 0;
    let mut registers_sent = 0;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::AuthReject { from, reason }) => {
                assert_eq!(from, "n9", "only the impostor fails authentication");
                assert_eq!(reason, "bad_mac");
                rejected += 1;
            }
            Body::App(StackEvent::Member { node, .. }) => {
                assert_ne!(node, "n9", "the impostor appears in a map: {r:?}");
            }
            Body::App(StackEvent::Partition {
                in_sync,
                catching_up,
                ..
            }) => {
                assert!(!in_sync.iter().chain(catching_up).any(|n| n == "n9"));
            }
            Body::Send { msg, .. } if r.p == n9 && msg == "Register" => registers_sent += 1,
            Body::Deliver { msg, .. } if msg == "Registered" || msg == "HeartbeatAck" => {
                assert_ne!(r.p, n9, "a manager answered the impostor");
            }
            _ => {}
        }
    }
    assert!(
        registers_sent >= 3,
        "the impostor keeps trying ({registers_sent})"
    );
    assert!(rejected >= 1, "its registrations are traced as auth_reject");
    // The real node that joined at the same time made it.
    assert!(trace.events.iter().any(|r| matches!(
        &r.body,
        Body::App(StackEvent::Member { node, .. }) if node == "n5"
    )));
}

#[test]
fn the_impostor_holds_another_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/impostor-join.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (_, trace) = common::run_trace(&s, None);
    let key_of = |name: &str| {
        let p = common::pid(&trace, name);
        trace.events.iter().find_map(|r| match &r.body {
            Body::App(StackEvent::Credentials { key_id }) if r.p == p => Some(key_id.clone()),
            _ => None,
        })
    };
    let cluster = key_of("m1").expect("m1 traces its key id");
    assert_eq!(key_of("n1").as_ref(), Some(&cluster));
    assert_eq!(key_of("n5").as_ref(), Some(&cluster));
    assert_ne!(
        key_of("n9").expect("the impostor traces its key id"),
        cluster
    );
}
