//! `placement` and `converged` do not take the leader's word for what a
//! data node holds: a trace doctored so that the leader's own `partition`
//! report claims a complete replica on a node that never reported one
//! (while dropping a real one) is caught by both, offline, on the very
//! events a run writes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use partsim::stack::planted::Planted;

#[test]
fn a_leader_claiming_a_replica_the_node_never_reported_is_caught() {
    let (_, s) = common::load_named("node-crash-recover");
    let (report, bytes) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.violations);
    let text = String::from_utf8(bytes).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("json");

    // The leader's last report of some partition.
    let i = lines
        .iter()
        .rposition(|l| l.contains("\"ev\":\"partition\""))
        .expect("a partition event");
    let last = json(&lines[i]);
    let p = last["partition"].as_u64().expect("partition");
    let in_sync: Vec<String> = last["in_sync"]
        .as_array()
        .expect("in_sync")
        .iter()
        .map(|v| v.as_str().expect("node").to_string())
        .collect();
    let primary = last["primary"].as_str().expect("primary").to_string();
    // A node that never said it held partition p.
    let hosted: BTreeSet<String> = lines
        .iter()
        .filter(|l| l.contains("\"ev\":\"replica\""))
        .map(|l| json(l))
        .filter(|v| v["partition"].as_u64() == Some(p))
        .map(|v| v["p"].as_str().expect("p").to_string())
        .collect();
    let stranger = (1..=6)
        .map(|n| format!("n{n}"))
        .find(|n| !hosted.contains(n))
        .expect("a node that never hosted the partition");
    // The claim: a live in-sync replica swapped for the stranger's.
    let dropped = in_sync
        .iter()
        .find(|n| **n != primary)
        .expect("a backup")
        .clone();
    let claimed: Vec<String> = in_sync
        .iter()
        .map(|n| {
            if *n == dropped {
                stranger.clone()
            } else {
                n.clone()
            }
        })
        .collect();
    let mut forged = last.clone();
    forged["epoch"] = serde_json::json!(last["epoch"].as_u64().expect("epoch") + 1);
    forged["in_sync"] = serde_json::json!(claimed);
    lines.insert(i + 1, forged.to_string());

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("control-doctored-claim.jsonl");
    std::fs::write(&out, lines.join("\n") + "\n").expect("the temp dir is writable");
    let offline = partsim::check::offline::check_file(&out).expect("the trace reads back");
    let found = |check: &str| {
        offline
            .violations
            .iter()
            .find(|v| v.check == check)
            .unwrap_or_else(|| panic!("{check} missed the claim: {:?}", offline.violations))
    };
    let placement = found("placement");
    assert!(
        placement
            .detail
            .contains(&format!("in-sync replica on live {dropped} removed")),
        "{}",
        placement.detail
    );
    let converged = found("converged");
    assert!(
        converged.detail.contains("not confirmed by the node")
            && converged.detail.contains(&stranger),
        "{}",
        converged.detail
    );
}
