//! The fault point `node/skip-heartbeat` misses one heartbeat round, never
//! two in a row: even when it fires at every chance, a data node is heard
//! every second interval, well within `suspect_after`, and no live node is
//! ever declared dead. (Rounds skipped back to back silenced a node for as
//! long as the point kept firing, and the health monitor rightly declared
//! it dead: a stall, not the one lost round the point stands for.)
//!
//! CI runs it in release: `cargo test --release --locked --test node_skip_heartbeat`.

mod common;

use partsim::stack::planted::Planted;

/// No fault, no workload, every fault point firing at every chance (each
/// is switched on for a run or not, with probability one half).
const QUIET: &str = r#"
name = "quiet-buggify"
duration = "15s"
[cluster]
managers = 3
nodes = 4
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[random]
buggify = 1.0
"#;

#[test]
fn a_skipped_node_heartbeat_is_never_followed_by_another() {
    let s = common::scenario(QUIET);
    let mut judged = 0;
    for seed in 0..12 {
        let (r, _) = common::run_bytes(&s, Some(seed), Planted::NONE);
        if !r.buggified.contains_key("node/skip-heartbeat") {
            continue; // the point is switched off in this run
        }
        judged += 1;
        assert_eq!(
            r.metrics["false_deaths"], 0,
            "seed {seed}: a live node declared dead; points fired {:?}",
            r.buggified
        );
        assert!(
            r.passed,
            "seed {seed}: {:?} {:?}",
            r.violations.first(),
            r.expectations.iter().find(|e| e.judged && !e.held)
        );
    }
    assert!(judged >= 3, "only {judged} runs switched the point on");
}
