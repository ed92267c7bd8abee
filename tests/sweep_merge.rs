//! `sweep-merge` of shards 1/2 and 2/2 equals the unsharded sweep (issue
//! 15): same seeds, verdicts, digests, failures, violations, and metric
//! counts, minima, maxima and means (medians are not mergeable from
//! aggregates and come back `null`).

mod common;

use partsim::stack::planted::Planted;
use partsim::sweep::{SweepOptions, parse_seeds, sweep};
use serde_json::Value;

fn report(shard: Option<(u64, u64)>) -> Value {
    let (rel, s) = common::load_named("raft-leader-crash");
    let opts = SweepOptions {
        seeds: parse_seeds("0..8").expect("a valid range"),
        jobs: 2,
        shard,
        planted: Planted::NONE,
        scenario_path: rel,
        progress: None,
        fail_fast: false,
        trace_dir: None,
        duration: None,
    };
    serde_json::to_value(sweep(&s, &opts).expect("the sweep runs")).expect("serializes")
}

#[test]
fn two_shards_merge_into_the_whole() {
    let whole = report(None);
    let a = report(Some((1, 2)));
    let b = report(Some((2, 2)));
    let mut merged =
        partsim::sweep_merge::merge(&[("a".into(), a), ("b".into(), b)]).expect("merges");
    assert_eq!(merged["shards"], 2);
    merged.as_object_mut().expect("an object").remove("shards");
    let mut expected = whole.clone();
    if let Some(m) = expected["metrics"].as_object_mut() {
        for a in m.values_mut() {
            a["median"] = Value::Null;
        }
    }
    // Means are sums divided again: equal up to rounding.
    for v in [&mut merged, &mut expected] {
        if let Some(m) = v["metrics"].as_object_mut() {
            for a in m.values_mut() {
                let mean = a["mean"].as_f64().unwrap_or(0.0);
                a["mean"] = serde_json::json!((mean * 1e6).round() / 1e6);
            }
        }
    }
    assert_eq!(merged, expected);
}

#[test]
fn overlapping_shards_are_refused() {
    let a = report(Some((1, 2)));
    let r = partsim::sweep_merge::merge(&[("a".into(), a.clone()), ("a2".into(), a)]);
    assert!(r.is_err());
}
