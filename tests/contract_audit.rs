//! DESIGN.md held against the binary, item by item: selectors in every
//! event that names a process, the size of the Raft group, `--json` where
//! §7 lists it, and liveness verdicts judged when their deadline passes
//! from the facts the processes themselves report.

mod common;

use common::{cli, tmp_file};

/// Writes `text` to a file of this test group and returns its path.
fn write(name: &str, text: &str) -> String {
    let path = tmp_file("contract-audit", name);
    std::fs::write(&path, text).expect("write a test input");
    path.display().to_string()
}

/// The trace's lines after the header, as JSON.
fn events(path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the trace")
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("footer").is_none())
        .collect()
}

const LINK_SELECTORS: &str = r#"
name = "link-selectors"
duration = "8s"
[cluster]
managers = 3
nodes = 3
zones = ["a", "b", "c"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[[events]]
at = "3s"
until = "5s"
link = { from = "leader", to = "any-node", drop = 1.0 }
"#;

/// DESIGN §5: "Wherever an event names a process it may instead use a
/// selector, resolved when the event fires and written into the trace as
/// the concrete id" — `link`'s `from` and `to` included.
#[test]
fn link_takes_selectors_and_traces_the_concrete_ids() {
    let scenario = write("link-selectors.toml", LINK_SELECTORS);
    let (code, out, err) = cli(&["validate", &scenario]);
    assert_eq!(code, 0, "{out}{err}");
    let trace = tmp_file("contract-audit", "link-selectors.jsonl")
        .display()
        .to_string();
    let (code, out, err) = cli(&["run", &scenario, "--trace", &trace, "--force", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let evs = events(&trace);
    let links: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|v| v["ev"] == "fault" && v["kind"] == "link")
        .collect();
    assert_eq!(links.len(), 2, "a begin and an end: {links:?}");
    let detail = links[0]["detail"].as_str().expect("detail");
    assert_eq!(
        links[1]["detail"], links[0]["detail"],
        "the end names what began"
    );
    let (from, to) = detail
        .strip_prefix("link ")
        .and_then(|d| d.split_once(" -> "))
        .expect("link FROM -> TO");
    let to = to.split(' ').next().expect("the receiver");
    assert!(from.starts_with('m') && to.starts_with('n'), "{detail}");
    // The leader at 3 s is the one the trace says `from` is.
    let leader = evs
        .iter()
        .filter(|v| v["ev"] == "role" && v["t"].as_u64() < Some(3_000_000))
        .rfind(|v| v["role"] == "leader")
        .expect("a leader before 3s");
    assert_eq!(leader["p"], from, "{detail}");
    // The selectors resolved as the summary says.
    let selectors: Vec<&str> = report["selectors"]
        .as_array()
        .expect("selectors")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        selectors,
        vec![
            format!("link leader → {from} at 3s"),
            format!("link any-node → {to} at 3s")
        ],
        "{out}"
    );
    // And the rule acted: what `from` sent to `to` in the window was lost.
    let lost = evs
        .iter()
        .filter(|v| v["ev"] == "drop" && v["from"] == from && v["to"] == to)
        .filter(|v| (3_000_000..5_100_000).contains(&v["t"].as_u64().unwrap_or(0)))
        .count();
    assert!(
        lost > 0,
        "no message {from} -> {to} was dropped in the window"
    );

    // Selectors that cannot be a link's ends are refused with file:line:col:key.
    let same = write(
        "link-same.toml",
        &LINK_SELECTORS.replace("to = \"any-node\"", "to = \"leader\""),
    );
    let (code, _, err) = cli(&["validate", &same]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("events[0].link.to"), "{err}");
    let star = write(
        "link-star.toml",
        &LINK_SELECTORS.replace("to = \"any-node\"", "to = \"*\""),
    );
    let (code, _, err) = cli(&["validate", &star]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("events[0].link.to"), "{err}");
}

/// DESIGN §3: the consensus group is `m1..mK`, K = 1, 3 or 5. Any other
/// `[cluster] managers` is refused before the run with file:line:col and
/// the key, exit 2; `add_manager` may still grow the group in the run.
#[test]
fn managers_are_one_three_or_five() {
    let text = |k: u32| {
        format!(
            "name = \"k\"\nduration = \"2s\"\n[cluster]\nmanagers = {k}\nnodes = 2\n[grid]\nreplication_factor = 1\n"
        )
    };
    for k in [1, 3, 5] {
        let path = write(&format!("managers-{k}.toml"), &text(k));
        let (code, out, err) = cli(&["validate", &path]);
        assert_eq!(code, 0, "{k} managers: {out}{err}");
    }
    for k in [0, 2, 4, 6, 7] {
        let path = write(&format!("managers-{k}.toml"), &text(k));
        let (code, out, err) = cli(&["validate", &path]);
        assert_eq!(code, 2, "{k} managers: {out}{err}");
        assert!(
            err.contains(&format!("{path}:4:12")) && err.contains("cluster.managers"),
            "{k} managers: {err}"
        );
        assert!(err.contains("1, 3 or 5"), "{err}");
        let (code, _, _) = cli(&["run", &path]);
        assert_eq!(code, 2, "nothing runs with {k} managers");
    }
    // Three managers and an add_manager: four voters in the run.
    let grow = write(
        "managers-grow.toml",
        &format!("{}[[events]]\nat = \"1s\"\nadd_manager = \"m4\"\n", text(3)),
    );
    let (code, out, err) = cli(&["validate", &grow]);
    assert_eq!(code, 0, "{out}{err}");
}

const EARLY_LEADER: &str = r#"
name = "early-leader-deadline"
duration = "3s"
[cluster]
managers = 3
nodes = 2
[grid]
replication_factor = 1
[expect]
leader_elected_by = "100ms"
"#;

/// DESIGN §4: "A violation is traced at the event that caused it, and the
/// run stops there unless `--keep-going`": a missed `[expect]` deadline is
/// traced when the deadline passes (no leader can be elected within the
/// first election timeout), not when the run ends — online and offline.
#[test]
fn a_missed_deadline_is_traced_at_the_deadline() {
    let scenario = write("early-leader.toml", EARLY_LEADER);
    let trace = tmp_file("contract-audit", "early-leader.jsonl")
        .display()
        .to_string();
    let (code, out, err) = cli(&["run", &scenario, "--json", "--trace", &trace, "--force"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(v["violations"][0]["check"], "leader_elected", "{out}");
    assert_eq!(v["violations"][0]["t"], 100_000, "{out}");
    assert_eq!(v["halted"], true, "the violation stops the run: {out}");
    assert_eq!(v["ended_at"], 100_000, "{out}");
    let traced: Vec<serde_json::Value> = events(&trace)
        .into_iter()
        .filter(|e| e["ev"] == "violation")
        .collect();
    assert_eq!(traced.len(), 1, "{traced:?}");
    assert_eq!(traced[0]["t"], 100_000, "{traced:?}");

    // With --keep-going the run goes on to its end, and the deadline is
    // reported once, at the deadline (a leader elected later does not
    // make it held).
    let (code, out, err) = cli(&[
        "run",
        &scenario,
        "--json",
        "--keep-going",
        "--trace",
        &trace,
        "--force",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let found: Vec<(String, u64)> = v["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|x| {
            (
                x["check"].as_str().unwrap_or("").to_string(),
                x["t"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![("leader_elected".to_string(), 100_000)],
        "{out}"
    );
    assert_eq!(v["ended_at"], 3_000_000, "{out}");
    // Offline, the same checker on the same events finds it at the same time.
    let (code, out, err) = cli(&["check", &trace, "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let offline: Vec<(String, u64)> = v["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|x| {
            (
                x["check"].as_str().unwrap_or("").to_string(),
                x["t"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(offline, found, "{out}");
}

/// Runs `scenario` into a trace file and returns its lines.
fn trace_lines(scenario: &str, name: &str) -> (String, Vec<String>) {
    let trace = tmp_file("contract-audit", name).display().to_string();
    let (code, out, err) = cli(&["run", scenario, "--trace", &trace, "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&trace).expect("the trace");
    (trace, text.lines().map(str::to_string).collect())
}

/// The violations `partsim check` finds in `lines`, as (check, t).
fn check_lines(name: &str, lines: &[String]) -> Vec<(String, u64, String)> {
    let path = write(name, &(lines.join("\n") + "\n"));
    let (_, out, err) = cli(&["check", &path, "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    v["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|x| {
            (
                x["check"].as_str().unwrap_or("").to_string(),
                x["t"].as_u64().unwrap_or(0),
                x["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// DESIGN §4: `available` — "client operations succeed again". A trace
/// doctored so that every operation completing after the deadline ends
/// `fail` (certainly not applied) is caught: a refusal is not success.
#[test]
fn available_catches_every_operation_failing_after_the_heal() {
    let (_, lines) = trace_lines(
        "scenarios/primary-crash-under-load.toml",
        "available-fails.jsonl",
    );
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("json");
    assert!(
        !check_lines("available-honest.jsonl", &lines)
            .iter()
            .any(|(c, ..)| c == "available"),
        "the run itself is available"
    );
    let settle = 25_000_000; // [expect] converged_by
    let mut doctored = 0;
    let failed: Vec<String> = lines
        .iter()
        .map(|l| {
            if !l.contains("\"ev\":\"op\"") || !l.contains("\"type\":\"ok\"") {
                return l.clone();
            }
            let mut v = json(l);
            if v["t"].as_u64().unwrap_or(0) < settle {
                return l.clone();
            }
            v["type"] = serde_json::json!("fail");
            doctored += 1;
            v.to_string()
        })
        .collect();
    assert!(doctored > 50, "operations after the heal: {doctored}");
    let found = check_lines("available-fails.jsonl", &failed);
    let available = found
        .iter()
        .find(|(c, ..)| c == "available")
        .unwrap_or_else(|| panic!("available missed it: {found:?}"));
    assert!(available.2.contains("succeeded"), "{available:?}");
}

/// A compare-and-set that ends `fail` counts for neither side: after the
/// heal, a history of nothing but failed compare-and-sets is not judged,
/// never a violation (a lost comparison is the primary answering).
#[test]
fn available_does_not_fail_a_run_whose_only_answers_are_failed_cas() {
    let (_, lines) = trace_lines(
        "scenarios/primary-crash-under-load.toml",
        "available-cas.jsonl",
    );
    let settle = 25_000_000; // [expect] converged_by
    let mut doctored = 0;
    let cas: Vec<String> = lines
        .iter()
        .map(|l| {
            if !l.contains("\"ev\":\"op\"") {
                return l.clone();
            }
            let mut v = serde_json::from_str::<serde_json::Value>(l).expect("json");
            if v["t"].as_u64().unwrap_or(0) < settle {
                return l.clone();
            }
            v["f"] = serde_json::json!("cas");
            if v["type"] != "invoke" {
                v["type"] = serde_json::json!("fail");
                doctored += 1;
            }
            v.to_string()
        })
        .collect();
    assert!(doctored > 50, "operations after the heal: {doctored}");
    let found = check_lines("available-cas.jsonl", &cas);
    assert!(
        !found.iter().any(|(c, ..)| c == "available"),
        "failed compare-and-sets judged unavailable: {found:?}"
    );
}

const LEAVE_ONE_OF_FOUR: &str = r#"
name = "leave-one-of-four"
duration = "20s"
[cluster]
managers = 3
nodes = 4
zones = ["a", "b", "c"]
[grid]
width = 32
height = 32
tile = [16, 16]
replication_factor = 3
[network]
latency = ["1ms", "5ms"]
[[events]]
at = "3s"
leave = "n4"
[expect]
safety = true
converged_by = "15s"
"#;

/// DESIGN §4: `converged` — every partition has `replication_factor`
/// in-sync replicas. After n4 leaves, three nodes remain for a factor of
/// three. A trace doctored so that the leader holds n3 dead (while n3's
/// process runs, by its own events) and cuts a partition to two replicas
/// is caught: the factor is owed while enough nodes remain, whatever the
/// leader's health view says. (Judged from the leader's count of alive
/// members it wanted only two.)
#[test]
fn converged_wants_the_factor_while_enough_nodes_remain() {
    let scenario = write("leave-one-of-four.toml", LEAVE_ONE_OF_FOUR);
    let (_, mut lines) = trace_lines(&scenario, "leave-one-of-four.jsonl");
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).expect("json");
    assert!(
        !check_lines("leave-honest.jsonl", &lines)
            .iter()
            .any(|(c, ..)| c == "converged"),
        "the run itself converges"
    );
    let deadline = 15_000_000;
    let at = lines
        .iter()
        .skip(1)
        .position(|l| {
            json(l)
                .get("t")
                .and_then(|t| t.as_u64())
                .unwrap_or(u64::MAX)
                >= deadline
        })
        .map(|i| i + 1)
        .expect("events past the deadline");
    let prev = json(&lines[at - 1]);
    let (t, seq) = (prev["t"].clone(), prev["seq"].clone());
    let before = &lines[..at];
    let last = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        before
            .iter()
            .rev()
            .map(|l| json(l))
            .find(|v| pred(v))
            .expect("an event")
    };
    let member = last(&|v| v["ev"] == "member" && v["node"] == "n3");
    let version = last(&|v| v["ev"] == "member" || v["ev"] == "partition")["version"]
        .as_u64()
        .expect("version");
    // A partition n3 holds as a backup.
    let part = last(&|v| {
        v["ev"] == "partition"
            && v["primary"] != "n3"
            && v["in_sync"]
                .as_array()
                .is_some_and(|a| a.iter().any(|n| n == "n3"))
    });
    let p = part["partition"].as_u64().expect("partition");
    let epoch = part["epoch"].as_u64().expect("epoch") + 1;
    let kept: Vec<String> = part["in_sync"]
        .as_array()
        .expect("in_sync")
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| *n != "n3")
        .map(str::to_string)
        .collect();
    assert_eq!(kept.len(), 2, "{part}");
    let leader = part["p"].clone();
    let mut forged = Vec::new();
    let mut dead = member.clone();
    dead["state"] = serde_json::json!("dead");
    dead["version"] = serde_json::json!(version + 1);
    forged.push(dead);
    let mut cut = part.clone();
    cut["epoch"] = serde_json::json!(epoch);
    cut["version"] = serde_json::json!(version + 2);
    cut["in_sync"] = serde_json::json!(kept);
    forged.push(cut);
    for n in &kept {
        let state = if part["primary"] == n.as_str() {
            "primary"
        } else {
            "backup"
        };
        forged.push(serde_json::json!({"p": n, "ev": "replica", "partition": p,
            "state": state, "epoch": epoch, "complete": true}));
    }
    forged.push(
        serde_json::json!({"p": "n3", "ev": "replica", "partition": p,
        "state": "removed", "epoch": epoch, "complete": false}),
    );
    for (i, mut f) in forged.into_iter().enumerate() {
        f["t"] = t.clone();
        f["seq"] = seq.clone();
        if f["ev"] != "replica" {
            f["p"] = leader.clone();
        }
        lines.insert(at + i, f.to_string());
    }
    let found = check_lines("leave-doctored.jsonl", &lines);
    let converged = found
        .iter()
        .find(|(c, ..)| c == "converged")
        .unwrap_or_else(|| panic!("converged missed the cut: {found:?}"));
    assert_eq!(
        converged.1, deadline,
        "judged at the deadline: {converged:?}"
    );
    assert!(
        converged.2.contains("has 2 in-sync replicas") && converged.2.contains("wants 3"),
        "{converged:?}"
    );
}
