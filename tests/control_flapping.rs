//! Flap damping: in `flapping-node`, n2 is cut off five times; each death
//! holds it out longer before it is re-admitted, so it dies fewer than five
//! times and comes back only once it stays reachable.

mod common;

use std::path::Path;

use partsim::stack::events::{MemberChange, StackEvent};
use partsim::trace::Body;

#[test]
fn a_flapping_node_is_held_out_until_it_is_stable() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/flapping-node.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for seed in [None, Some(1), Some(2), Some(3)] {
        let (report, trace) = common::run_trace(&s, seed);
        assert!(report.passed, "{seed:?}: {:?}", report.expectations);
        let changes: Vec<(u64, MemberChange)> = trace
            .events
            .iter()
            .filter_map(|r| match &r.body {
                Body::App(StackEvent::Member { node, state, .. }) if node == "n2" => {
                    Some((r.t.0, *state))
                }
                _ => None,
            })
            .collect();
        let deaths = changes
            .iter()
            .filter(|(_, s)| *s == MemberChange::Dead)
            .count();
        assert!(
            (1..5).contains(&deaths),
            "{seed:?}: five isolations, {deaths} deaths: {changes:?}"
        );
        let (last_t, last) = *changes.last().expect("n2 changed");
        assert_eq!(last, MemberChange::Alive, "{seed:?}: n2 ends re-admitted");
        assert!(
            last_t >= 18_500_000,
            "{seed:?}: re-admitted at {last_t} us, before its last isolation ended"
        );
    }
}
