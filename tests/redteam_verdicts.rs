//! Expectations that cannot be met must fail or be refused, and a verdict
//! must not claim what it did not judge. Each case is a small scenario
//! written here; the ignored ones are open verdict bugs with their owner.

mod common;

use common::cli;

/// A small data cluster: 3 managers, 4 nodes, rf 2, 2 clients, 20 s.
const BASE: &str = r#"name = "verdict-probe"
description = "A small data cluster for verdict probes."
duration = "20s"
[cluster]
managers = 3
nodes = 4
clients = 2
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[workload]
rate = 50
start = "1s"
stop = "19s"
"#;

/// Runs `BASE` followed by `tail`; returns (exit code, stdout + stderr).
fn run(name: &str, tail: &str) -> (i32, String) {
    let path = common::tmp_file("redteam-verdicts", &format!("{name}.toml"));
    std::fs::write(&path, format!("{BASE}{tail}")).expect("write the scenario");
    let p = path.display().to_string();
    let (code, out, err) = cli(&["run", &p, "--seed", "0"]);
    (code, format!("{out}{err}"))
}

#[test]
fn an_exact_loss_count_that_did_not_happen_fails() {
    let (code, out) = run("lost5", "[expect]\nlost_acked_writes = 5\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ lost_acked_writes = 5"), "{out}");
}

#[test]
fn a_violation_that_must_fire_and_does_not_fails() {
    let (code, out) = run("must-fire", "[expect]\nviolations = [\"linearizable\"]\n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ violation linearizable: did not fire"),
        "{out}"
    );
}

#[test]
fn a_leader_deadline_with_no_quorum_left_fails() {
    let (code, out) = run(
        "no-quorum",
        "[[events]]\nat = \"5s\"\npartition = [[\"m1\"], [\"m2\"], [\"m3\", \"n1\", \"n2\", \"n3\", \"n4\", \"c1\", \"c2\"]]\n\
         [expect]\nleader_elected_by = \"19s\"\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ leader_elected by 19s"), "{out}");
}

#[test]
fn a_deadline_past_the_end_is_not_judged_never_held() {
    let (code, out) = run("past-end", "[[events]]\nat = \"15s\"\ncrash = \"n1\"\n");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("– converged by 45s (last fault + grace): not judged"),
        "{out}"
    );
    assert!(!out.contains("✓ converged"), "{out}");
}

#[test]
fn more_voters_than_managers_is_refused() {
    let (code, out) = run("voters", "[expect]\nvoters = 5\n");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("expect.voters"), "{out}");
}

/// A run stopped by a violation never ran durability's end-of-run audit,
/// so `lost_acked_writes = 0` was not judged. Open (audit: run/judge.rs
/// reads the metric with a default of 0).
#[test]
#[ignore = "open verdict bug reported to audit; run with --ignored"]
fn a_loss_count_is_not_held_when_a_violation_stopped_the_run() {
    let (code, out, err) = cli(&[
        "run",
        "tests/adversarial/sched-disk-faults-under-crashes.toml",
        "--seed",
        "20",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("stopped at"), "{out}");
    assert!(!out.contains("✓ lost_acked_writes"), "{out}");
}

/// Every data node loses its disk at 5 s and never returns: every copy of
/// every acknowledged write is gone, yet durability audits nothing (no node
/// reports at the end) and the loss count reads 0. Open (data2/audit).
#[test]
#[ignore = "open verdict bug reported to data2 and audit; run with --ignored"]
fn every_disk_lost_is_not_zero_writes_lost() {
    let mut tail = String::new();
    for n in 1..=4 {
        tail.push_str(&format!("[[events]]\nat = \"5s\"\ndisk_loss = \"n{n}\"\n"));
    }
    tail.push_str("[expect]\nlost_acked_writes = 0\n");
    let (code, out) = run("all-disks-lost", &tail);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("✓ lost_acked_writes = 0"), "{out}");
}
