//! Map dissemination: the leader pushes every batch of committed commands
//! to the members (the whole map to one that just joined, a delta to the
//! rest); data nodes apply them in version order only and end on the
//! leader's version. `map_monotonic` holds everywhere.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use partsim::stack::events::StackEvent;
use partsim::trace::Body;

#[test]
fn nodes_apply_maps_in_order_and_catch_up_with_the_leader() {
    for name in ["node-crash-recover", "join-scale-out"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (report, trace) = common::run_trace(&s, None);
        assert!(report.passed, "{name}: {:?}", report.expectations);
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        let mut newest = 0;
        for r in &trace.events {
            let Some(who) = trace.header.processes.get(r.p.index()) else {
                continue; // the kernel's own events
            };
            match &r.body {
                Body::Restart | Body::Start => {
                    last.remove(who);
                }
                Body::App(StackEvent::Map { version }) => {
                    let before = last.insert(who.clone(), *version).unwrap_or(0);
                    assert!(
                        *version > before,
                        "{name}: {who} went from {before} to {version}"
                    );
                    newest = newest.max(*version);
                }
                _ => {}
            }
        }
        for (who, v) in &last {
            if who.starts_with('n') {
                assert_eq!(
                    *v, newest,
                    "{name}: {who} ends on map {v}, the leader on {newest}"
                );
            }
        }
    }
}
