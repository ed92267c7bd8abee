//! The control-plane checkers judge a trace read back from disk exactly as
//! they judged the live run (DESIGN §4: one code path): a clean run is
//! clean offline, with the same figures.

mod common;

use std::path::Path;

use partsim::run::{self, RunOptions};

#[test]
fn a_trace_checks_clean_offline() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/zone-outage.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("control-offline-zone-outage.jsonl");
    let file = std::fs::File::create(&out).expect("the temp dir is writable");
    let opts = RunOptions {
        trace_out: Some(Box::new(std::io::BufWriter::new(file))),
        ..RunOptions::default()
    };
    let report = run::run(&s, opts).expect("the run completes");
    assert!(report.passed, "{:?}", report.expectations);
    let offline = partsim::check::offline::check_file(&out).expect("the trace reads back");
    for name in [
        "map_monotonic",
        "placement",
        "auth",
        "converged",
        "balanced",
    ] {
        assert!(
            offline.checkers.iter().any(|c| c == name),
            "{name} ran offline"
        );
    }
    assert!(
        offline.violations.is_empty(),
        "offline found {:?}",
        offline.violations
    );
}
