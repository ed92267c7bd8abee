//! `partsim check TRACE` runs the same checkers over a trace file as the run
//! did online: a clean trace stays clean, and a trace doctored to break an
//! invariant is caught at the doctored event.

use std::path::PathBuf;

mod common;

fn tmp(name: &str) -> PathBuf {
    common::tmp_file("offline", name)
}

fn trace_of(scenario: &str, name: &str) -> (PathBuf, String) {
    let path = tmp(name);
    let (code, out, err) =
        common::cli(&["run", scenario, "--trace", path.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&path).expect("trace");
    (path, text)
}

fn check_json(path: &std::path::Path) -> (i32, serde_json::Value) {
    let (code, out, err) = common::cli(&["check", path.to_str().expect("utf-8"), "--json"]);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}")),
    )
}

#[test]
fn a_clean_trace_checks_clean() {
    let (path, _) = trace_of("scenarios/raft-leader-crash.toml", "clean.jsonl");
    let (code, v) = check_json(&path);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["violations"].as_array().map(Vec::len), Some(0));
    let checkers: Vec<&str> = v["checkers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(checkers.contains(&"election_safety") && checkers.contains(&"log_matching"));
}

#[test]
fn a_changed_commit_is_caught_by_log_matching() {
    let (_, text) = trace_of("scenarios/raft-elect.toml", "elect.jsonl");
    // Change the digest of the last commit line: one manager now claims a
    // different entry at an index the others committed.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = lines
        .iter()
        .rposition(|l| l.contains("\"ev\":\"commit\""))
        .expect("a commit");
    let digest_at = lines[i].find("\"digest\":\"").expect("a digest") + 10;
    lines[i].replace_range(digest_at..digest_at + 16, "0000000000000bad");
    let seq: u64 = serde_json::from_str::<serde_json::Value>(&lines[i]).expect("json")["seq"]
        .as_u64()
        .expect("seq");
    let doctored = tmp("doctored-commit.jsonl");
    std::fs::write(&doctored, lines.join("\n") + "\n").expect("write");
    let (code, v) = check_json(&doctored);
    assert_eq!(code, 1);
    let first = &v["violations"][0];
    assert_eq!(first["check"], "log_matching");
    assert_eq!(
        first["seq"].as_u64(),
        Some(seq),
        "reported at the doctored event"
    );
}

#[test]
fn a_second_leader_in_a_term_is_caught_by_election_safety() {
    let (_, text) = trace_of("scenarios/raft-elect.toml", "elect2.jsonl");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = lines
        .iter()
        .position(|l| l.contains("\"role\":\"leader\""))
        .expect("a leader");
    let v: serde_json::Value = serde_json::from_str(&lines[i]).expect("json");
    let leader = v["p"].as_str().expect("p").to_string();
    let other = ["m1", "m2", "m3"]
        .into_iter()
        .find(|m| *m != leader)
        .expect("another manager");
    let forged = lines[i].replacen(
        &format!("\"p\":\"{leader}\""),
        &format!("\"p\":\"{other}\""),
        1,
    );
    lines.insert(i + 1, forged);
    let doctored = tmp("doctored-leader.jsonl");
    std::fs::write(&doctored, lines.join("\n") + "\n").expect("write");
    let (code, v) = check_json(&doctored);
    assert_eq!(code, 1);
    assert_eq!(v["violations"][0]["check"], "election_safety", "{v}");
}
