//! Scenarios that validate must be affordable to run: validation bounds what
//! a run may cost (tests/malformed/cost-*.toml hold the single-key cases;
//! these are the inputs too large to keep as files, and the kernel's bound on
//! duplication, which no validation rule could express).

use std::path::PathBuf;
use std::process::{Command, Output};

fn partsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn refused(path: &std::path::Path, needles: &[&str]) {
    let p = path.to_str().expect("utf-8 path");
    for args in [vec!["validate", p], vec!["run", p]] {
        let out = partsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle:?} not in {stderr}"
            );
        }
    }
}

#[test]
fn ten_thousand_joins_are_refused_at_the_join_past_the_node_limit() {
    let mut text = String::from("name = \"joins\"\nduration = \"60s\"\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "\n[[events]]\nat = \"1s\"\njoin = \"n{}\"\n",
            i + 4
        ));
    }
    let path = write("joins.toml", &text);
    // Three data nodes at start: the 9,998th join (events[9997]) is node 10,001.
    refused(&path, &[":39994:8: events[9997].join:", "MAX_NODES"]);
}

#[test]
fn more_than_a_hundred_impostors_are_refused() {
    let mut text = String::from("name = \"impostors\"\nduration = \"60s\"\n");
    for i in 0..101 {
        text.push_str(&format!("\n[[events]]\nat = \"1s\"\nimpostor = \"x{i}\"\n"));
    }
    let path = write("impostors.toml", &text);
    refused(&path, &["events[100].impostor:", "MAX_IMPOSTORS"]);
}

#[test]
fn certain_duplication_with_long_latency_stays_bounded() {
    // Every message duplicated, 100 ms latency: before duplicates stopped
    // compounding, each AppendEntries round trip doubled the copies in flight
    // and this run wrote 53 MB of trace in 3 s of wall time, without end.
    let path = write(
        "duplicate.toml",
        "name = \"duplicate-all\"\nduration = \"20s\"\n\n[timing]\nelection_timeout = [\"300ms\", \"600ms\"]\nsuspect_after = \"1s\"\ndead_after = \"2s\"\n\n[network]\nlatency = [\"80ms\", \"120ms\"]\nduplicate = 1.0\n",
    );
    let trace = path.with_extension("jsonl");
    let out = partsim(&[
        "run",
        path.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "exit {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&trace)
        .expect("the trace")
        .lines()
        .count();
    // Three managers and three nodes over 20 s exchange a few thousand
    // heartbeats; doubling copies at most once per message keeps the whole
    // trace within a small multiple of that.
    assert!(lines < 100_000, "{lines} trace lines: duplicates compound");
}
