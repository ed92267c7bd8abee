//! `bench replay` caps its size and leaves no file behind.

use std::process::Command;

#[test]
fn an_event_count_above_the_cap_is_a_usage_error() {
    for n in ["18446744073709551615", "20000001", "0"] {
        let out = Command::new(env!("CARGO_BIN_EXE_partsim"))
            .args(["bench", "replay", "--events", n])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{n}: {stderr}");
        assert!(stderr.contains("is not in 1..=20000000"), "{n}: {stderr}");
    }
}

#[test]
fn the_library_refuses_above_the_cap_and_the_trace_never_outlives_the_run() {
    let dir = std::env::temp_dir().join(format!("partsim-bench-bounds-{}", std::process::id()));
    let over = partsim::tui::bench_replay(partsim::tui::bench::MAX_BENCH_EVENTS + 1, &dir);
    let err = over.expect_err("above the cap").to_string();
    assert!(err.contains("MAX_BENCH_EVENTS"), "{err}");
    partsim::tui::bench_replay(5_000, &dir).expect("a small benchmark runs");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir(&dir).ok();
}
