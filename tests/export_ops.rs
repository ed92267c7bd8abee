//! `partsim export --format chrome` shows client operations as slices:
//! every `op` invocation of a real run becomes one async slice on its
//! client's `client` thread, from the invocation to its completion, named
//! and coloured by the outcome (ok / fail / info), so the data plane reads
//! in Perfetto the way the replay UI's ops lanes show it.

mod common;

use std::collections::BTreeMap;

use partsim::stack::planted::Planted;
use partsim::trace::chrome::write_chrome;
use serde_json::Value;

#[test]
fn client_operations_are_slices_from_invocation_to_completion() {
    let path = format!(
        "{}/scenarios/primary-crash-under-load.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let s = common::scenario(&std::fs::read_to_string(path).unwrap());
    let (_, trace) = common::run_bytes(&s, None, Planted::NONE);
    // What the trace says: invocations, and the outcome of each completion.
    let mut invokes = 0;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for line in String::from_utf8_lossy(&trace).lines().skip(1) {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["ev"] == "op" {
            match v["type"].as_str().unwrap() {
                "invoke" => invokes += 1,
                other => *outcomes.entry(other.to_string()).or_default() += 1,
            }
        }
    }
    let mut out = Vec::new();
    write_chrome(&trace[..], "memory", &mut out, "out.json").unwrap();
    let doc: Value = serde_json::from_slice(&out).expect("the export is one JSON document");
    let events = doc["traceEvents"].as_array().unwrap();
    let ops: Vec<&Value> = events.iter().filter(|e| e["cat"] == "op").collect();
    let begins: Vec<&&Value> = ops.iter().filter(|e| e["ph"] == "b").collect();
    let ends: BTreeMap<String, &Value> = ops
        .iter()
        .filter(|e| e["ph"] == "e")
        .map(|e| (e["id2"]["local"].as_str().unwrap().to_string(), *e))
        .collect();
    assert_eq!(begins.len(), invokes, "one slice per invocation");
    assert_eq!(ends.len(), invokes, "each closed once, ids unique");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for b in &begins {
        let id = b["id2"]["local"].as_str().unwrap();
        let e = ends[id];
        assert_eq!(e["name"], b["name"], "Perfetto pairs by name and id");
        assert_eq!(e["pid"], b["pid"]);
        assert!(e["ts"].as_u64() >= b["ts"].as_u64());
        let outcome = b["args"]["outcome"].as_str().unwrap();
        assert!(b["name"].as_str().unwrap().ends_with(outcome));
        let cname = match outcome {
            "ok" => "good",
            "fail" => "bad",
            "info" => "yellow",
            _ => "grey",
        };
        assert_eq!(b["cname"], cname);
        *seen.entry(outcome.to_string()).or_default() += 1;
    }
    assert_eq!(seen, outcomes, "every completion's outcome, as traced");
    assert!(seen["ok"] > 1000 && seen["fail"] > 0 && seen["info"] > 0);
    // They sit on the clients' `client` thread.
    let thread_names: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["args"]["name"] == "client")
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    assert_eq!(thread_names.len(), 4, "one client thread per client");
    for b in &begins {
        let at = (b["pid"].as_u64().unwrap(), b["tid"].as_u64().unwrap());
        assert!(thread_names.contains(&at));
    }
}
