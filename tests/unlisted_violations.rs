//! Violations beyond the listed cap are counted, and the count is shown:
//! `partsim check` lists the first `MAX_LISTED_VIOLATIONS`, then prints
//! "… and N more violations not listed", and `--json` carries
//! `unlisted_violations` (0 when everything was listed).

use std::path::PathBuf;

mod common;

use partsim::check::offline::MAX_LISTED_VIOLATIONS;

/// Violations past the cap.
const EXTRA: usize = 7;

/// Each doctored claim is two `election_safety` violations: a second
/// leader in the term, and a leader without a majority of votes.
const PER_CLAIM: usize = 2;

fn tmp(name: &str) -> PathBuf {
    common::tmp_file("unlisted", name)
}

/// A clean raft-elect trace, then `n` events in which m1 and m3 in turn
/// claim the term m2 leads (the footer dropped: the trace ends there).
fn trace_with_rival_leaders(n: usize) -> PathBuf {
    // One clean trace per caller: the tests run at once.
    let clean = tmp(&format!("clean-{n}.jsonl"));
    let (code, out, err) = common::cli(&[
        "run",
        "scenarios/raft-elect.toml",
        "--duration",
        "2s",
        "--trace",
        clean.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&clean).expect("trace");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.pop().is_some_and(|f| f.contains("\"footer\"")));
    let leader: serde_json::Value = lines
        .iter()
        .find(|l| l.contains("\"role\":\"leader\""))
        .map(|l| serde_json::from_str(l).expect("json"))
        .expect("raft-elect elects a leader");
    let last: serde_json::Value = serde_json::from_str(lines.last().expect("events")).unwrap();
    let (t, seq) = (last["t"].as_u64().unwrap(), last["seq"].as_u64().unwrap());
    let winner = leader["p"].as_str().unwrap();
    let rivals: Vec<&str> = ["m1", "m2", "m3"]
        .into_iter()
        .filter(|m| *m != winner)
        .collect();
    for i in 0..n {
        let p = rivals[i % rivals.len()];
        lines.push(
            serde_json::json!({
                "t": t, "p": p, "seq": seq + 1 + i as u64, "cause": null, "ev": "role",
                "role": "leader", "term": leader["term"], "leader": p,
            })
            .to_string(),
        );
    }
    let path = tmp(&format!("rivals-{n}.jsonl"));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    path
}

#[test]
fn violations_beyond_the_cap_are_counted_and_shown() {
    // Claims whose violations overshoot the cap by EXTRA (the cap is even).
    let path = trace_with_rival_leaders((MAX_LISTED_VIOLATIONS + EXTRA + 1) / PER_CLAIM);
    let extra =
        ((MAX_LISTED_VIOLATIONS + EXTRA + 1) / PER_CLAIM) * PER_CLAIM - MAX_LISTED_VIOLATIONS;
    let p = path.to_str().expect("utf-8");

    let (code, out, err) = common::cli(&["check", p, "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        v["violations"].as_array().map(Vec::len),
        Some(MAX_LISTED_VIOLATIONS)
    );
    assert_eq!(v["unlisted_violations"], extra);

    let (code, out, _) = common::cli(&["check", p]);
    assert_eq!(code, 1);
    let listed = out
        .lines()
        .filter(|l| l.contains("election_safety"))
        .count();
    assert_eq!(listed, MAX_LISTED_VIOLATIONS);
    assert_eq!(
        out.lines().last(),
        Some(format!("  violation  … and {extra} more violations not listed").as_str()),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
}

#[test]
fn below_the_cap_nothing_is_unlisted_and_json_says_zero() {
    let path = trace_with_rival_leaders(3);
    let p = path.to_str().expect("utf-8");
    let (code, out, err) = common::cli(&["check", p, "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        v["violations"].as_array().map(Vec::len),
        Some(3 * PER_CLAIM)
    );
    assert_eq!(v["unlisted_violations"], 0);
    let (_, out, _) = common::cli(&["check", p]);
    assert!(!out.contains("not listed"), "{out}");
}
