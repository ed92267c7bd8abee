//! The data plane end to end: clients drive real operations through a
//! primary crash, every acknowledged write survives, the history the
//! clients saw is linearizable, and `partsim history` writes that history
//! in Jepsen's shape so that the offline checker reaches the same verdict.

mod common;

use partsim::check::lincheck::{Options, Verdict, check_history, parse_history};
use partsim::stack::events::OpType;
use partsim::stack::planted::Planted;
use partsim::trace::history::{HistoryFormat, read_history, write_history};

#[test]
fn a_primary_crash_under_load_loses_nothing_and_stays_linearizable() {
    let (_, s) = common::load_named("primary-crash-under-load");
    let (report, bytes) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.expectations);
    let metric = |k: &str| report.metrics.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(metric("acked_writes") > 500, "writes were acknowledged");
    assert!(metric("ops_ok") > 2000, "clients were answered");
    assert_eq!(metric("lost_acked_writes"), 0);
    assert!(
        report.events_by_kind.get("holding").copied().unwrap_or(0) > 0,
        "the nodes reported what they hold"
    );

    // The same history, offline, through the Jepsen-shaped file.
    let dir = std::env::temp_dir().join(format!("partsim-data-plane-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("run.jsonl");
    std::fs::write(&trace, &bytes).unwrap();
    let (lines, notice) = read_history(&trace).unwrap();
    assert!(notice.is_none());
    for format in [HistoryFormat::Edn, HistoryFormat::Json] {
        let mut text = Vec::new();
        write_history(&mut text, &lines, format).unwrap();
        let history = parse_history(std::str::from_utf8(&text).unwrap()).unwrap();
        let invokes = lines.iter().filter(|l| l.kind == OpType::Invoke).count();
        assert_eq!(history.len(), invokes, "one operation per invocation");
        let verdict = check_history(&history, &Options::default()).verdict;
        assert_eq!(verdict, Verdict::Linearizable, "{format:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn losing_every_copy_is_counted_not_hidden() {
    let (_, s) = common::load_named("all-replicas-lost");
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    let lost = report.metrics["lost_acked_writes"].as_u64().unwrap();
    assert!(lost > 0, "writes acknowledged before the loss are counted");
    assert!(report.violations.iter().any(|v| v.check == "linearizable"));
    assert!(
        report.violations.iter().all(|v| v.check != "durability"),
        "a write whose every copy lost its disk is counted, not a violation"
    );
    assert!(report.passed, "[expect] names the count and the violation");
}
