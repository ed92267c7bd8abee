//! `bench replay` caps its size and leaves no file behind; `bench mesh`
//! caps its virtual duration.

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
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-bench-bounds-{}", std::process::id()));
    let over = partsim::tui::bench_replay(partsim::tui::bench::MAX_BENCH_EVENTS + 1, &dir);
    let err = over.expect_err("above the cap").to_string();
    assert!(err.contains("MAX_BENCH_EVENTS"), "{err}");
    partsim::tui::bench_replay(5_000, &dir).expect("a small benchmark runs");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir(&dir).ok();
}

#[test]
fn a_mesh_duration_outside_its_bounds_is_a_usage_error() {
    for d in ["1801s", "604800s", "0s", "9ms"] {
        let out = Command::new(env!("CARGO_BIN_EXE_partsim"))
            .args(["bench", "mesh", "--duration", d])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{d}: {stderr}");
        assert!(stderr.contains("is not in 10ms..="), "{d}: {stderr}");
        assert!(out.stdout.is_empty(), "{d}: ran anyway");
    }
}

#[test]
fn the_library_refuses_a_mesh_above_the_cap_before_writing_anything() {
    use partsim::bench::{MAX_MESH_DURATION, mesh};
    use partsim::sim::SimDuration;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-mesh-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("mesh.jsonl");
    let over = SimDuration::from_micros(MAX_MESH_DURATION.as_micros() + 1);
    let err = mesh(over, Some(&trace)).expect_err("above the cap");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("MAX_MESH_DURATION"), "{err}");
    assert!(!trace.exists(), "a refused mesh created its trace");
    let r = mesh(SimDuration::from_millis(100), None).expect("a short mesh runs");
    assert!(r.messages > 0);
    std::fs::remove_dir_all(&dir).ok();
}
