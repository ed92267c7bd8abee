//! The command line as a user meets it: help, exit codes, output forms.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn partsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("partsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["check-determinism", "--help"],
        vec!["sweep", "--help"],
        vec!["validate", "--help"],
        vec!["check", "--help"],
        vec!["replay", "--help"],
        vec!["export", "--help"],
        vec!["bench", "--help"],
        vec!["bench", "mesh", "--help"],
    ] {
        let o = partsim(&sub);
        assert_eq!(code(&o), 0, "{sub:?}");
        assert!(text(&o.stdout).contains("Usage"), "{sub:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&partsim(&[])), 2);
    assert_eq!(code(&partsim(&["run"])), 2);
    assert_eq!(code(&partsim(&["frobnicate"])), 2);
    let o = partsim(&["run", "no/such/file.toml"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("no/such/file.toml"));
    let o = partsim(&["run", "scenarios/quickstart.toml", "--plant", "no-such-bug"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn run_prints_a_summary_and_writes_the_trace() {
    let trace = tmp("q.jsonl");
    let o = partsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--trace",
        trace.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("PASS  quickstart (seed 7"), "{out}");
    assert!(out.contains("digest"));
    let body = std::fs::read_to_string(&trace).expect("trace written");
    assert!(body.starts_with("{\"format\":\"partsim-trace\",\"version\":1,"));
    assert!(
        body.trim_end().ends_with('}')
            && body
                .lines()
                .last()
                .expect("lines")
                .contains("\"footer\":true")
    );
}

#[test]
fn run_json_is_one_document() {
    let o = partsim(&["run", "scenarios/quickstart.toml", "--json", "--seed", "3"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["seed"], 3);
    assert_eq!(v["passed"], true);
    assert!(v["trace_digest"].as_str().is_some_and(|d| d.len() == 16));
}

#[test]
fn print_schedule_shows_the_timeline_without_running() {
    let o = partsim(&["run", "scenarios/quickstart.toml", "--print-schedule"]);
    assert_eq!(code(&o), 0);
    let out = text(&o.stdout);
    assert!(out.contains("crash") && out.contains("partition"), "{out}");
}

#[test]
fn validate_reports_each_file() {
    let o = partsim(&["validate", "scenarios/quickstart.toml"]);
    assert_eq!(code(&o), 0);
    let bad = tmp("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nduration = \"10s\"\nbogus = 1\n").expect("write");
    let o = partsim(&[
        "validate",
        "scenarios/quickstart.toml",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains(":3:1: bogus:"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn check_determinism_passes() {
    let o = partsim(&["check-determinism", "scenarios/quickstart.toml"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    assert!(text(&o.stdout).starts_with("deterministic"));
}

#[test]
fn check_reads_a_truncated_trace_up_to_its_last_whole_event() {
    let trace = tmp("t.jsonl");
    let o = partsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--trace",
        trace.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0);
    let body = std::fs::read(&trace).expect("trace");
    // Cut in the middle of an event line (20 bytes into the line after the
    // halfway point, every event line being longer), well before the footer.
    let half = body.len() / 2;
    let cut = half
        + body[half..]
            .iter()
            .position(|b| *b == b'\n')
            .expect("a line ends after the halfway point")
        + 20;
    let whole = body[..cut].iter().filter(|b| **b == b'\n').count() - 1;
    let truncated = tmp("t-cut.jsonl");
    std::fs::write(&truncated, &body[..cut]).expect("write");
    let o = partsim(&["check", truncated.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["events"].as_u64(), Some(whole as u64));
    assert!(
        v["notice"].as_str().is_some_and(|n| n.contains("mid-line")),
        "{v}"
    );
}

#[test]
fn check_rejects_what_is_not_a_trace() {
    let not = tmp("not.jsonl");
    std::fs::write(&not, "hello\n").expect("write");
    let o = partsim(&["check", not.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("not a partsim trace"));
    assert_eq!(code(&partsim(&["check", "no/such.jsonl"])), 2);
}

#[test]
fn bench_mesh_json_has_the_documented_keys() {
    let o = partsim(&["bench", "mesh", "--json", "--duration", "2s"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    for key in ["messages", "wall_s", "messages_per_s", "peak_rss_bytes"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["messages"], 8 * 7 * 200);
}

#[test]
fn the_scenarios_folder_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut args = vec!["validate".to_string()];
    for e in std::fs::read_dir(dir).expect("scenarios/") {
        args.push(e.expect("entry").path().display().to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = partsim(&refs);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

#[test]
fn sweep_runs_a_seed_range_and_reports_in_json() {
    let o = partsim(&[
        "sweep",
        "scenarios/raft-elect.toml",
        "--seeds",
        "0..6",
        "--jobs",
        "2",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["seeds"], 6);
    assert_eq!(v["passed"], 6);
    assert!(
        v["metrics"]["leader_elections"]["count"]
            .as_u64()
            .is_some_and(|n| n == 6),
        "{v}"
    );
    let o = partsim(&["sweep", "scenarios/raft-elect.toml", "--seeds", "5..2"]);
    assert_eq!(code(&o), 2);
    let o = partsim(&[
        "sweep",
        "scenarios/raft-elect.toml",
        "--seeds",
        "0..6",
        "--shard",
        "2/3",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["seeds"], 2, "seeds 1 and 4");
}

#[test]
fn replay_and_export_reject_what_is_not_a_trace() {
    let not = tmp("not-a-trace.jsonl");
    std::fs::write(&not, "hello\n").expect("write");
    let path = not.to_str().expect("utf-8");
    let o = partsim(&["replay", path]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("not a partsim trace"),
        "{}",
        text(&o.stderr)
    );
    let out = tmp("out.json");
    let o = partsim(&["export", path, "-o", out.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
}

#[test]
fn export_writes_a_chrome_trace() {
    let trace = tmp("for-export.jsonl");
    let o = partsim(&[
        "run",
        "scenarios/raft-elect.toml",
        "--trace",
        trace.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0);
    let out = tmp("chrome.json");
    let o = partsim(&[
        "export",
        trace.to_str().expect("utf-8"),
        "--format",
        "chrome",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("json");
    let events = v["traceEvents"].as_array().expect("traceEvents");
    assert!(
        events.iter().any(|e| e["ph"] == "s") && events.iter().any(|e| e["ph"] == "f"),
        "flow arrows"
    );
}
