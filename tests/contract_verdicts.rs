//! DESIGN.md's public formats, held against the binary: where the contract
//! says a thing (a scenario action's form, a history key that may be left
//! out, what a verdict may claim), the binary does it.

mod common;

use common::{cli, tmp_file};

/// Writes `text` to a file of this test group and returns its path.
fn write(name: &str, text: &str) -> String {
    let path = tmp_file("contract", name);
    std::fs::write(&path, text).expect("write a test input");
    path.display().to_string()
}

/// DESIGN §5: `disk_loss = "n2"` — "the process crashes and its disk is
/// wiped; it restarts empty at `until`, or stays down".
#[test]
fn disk_loss_restarts_empty_at_until() {
    let scenario = write(
        "disk-loss-until.toml",
        r#"
name = "disk-loss-until"
duration = "20s"
[cluster]
managers = 3
nodes = 4
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
[[events]]
at = "3s"
until = "6s"
disk_loss = "n1"
[expect]
converged_by = "18s"
"#,
    );
    let (code, out, err) = cli(&["validate", &scenario]);
    assert_eq!(code, 0, "{out}{err}");
    let trace = tmp_file("contract", "disk-loss-until.jsonl");
    let trace = trace.display().to_string();
    let (code, out, err) = cli(&["run", &scenario, "--trace", &trace, "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&trace).expect("the trace");
    let n1: Vec<(u64, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["p"] == "n1")
        .filter_map(|v| Some((v["t"].as_u64()?, v["ev"].as_str()?.to_string())))
        .filter(|(_, ev)| matches!(ev.as_str(), "crash" | "disk_loss" | "restart"))
        .collect();
    assert_eq!(
        n1,
        vec![
            (3_000_000, "crash".to_string()),
            (3_000_000, "disk_loss".to_string()),
            (6_000_000, "restart".to_string()),
        ],
        "n1 crashes and loses its disk at 3s, restarts at 6s"
    );
    // Without `until` it stays down.
    let forever = write(
        "disk-loss-forever.toml",
        &std::fs::read_to_string(&scenario)
            .expect("read back")
            .replace("until = \"6s\"\n", ""),
    );
    let (code, out, err) = cli(&["run", &forever, "--json"]);
    assert!(code == 0 || code == 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        v["events_by_kind"]["restart"],
        serde_json::Value::Null,
        "{out}"
    );
}

/// "A verdict never claims what was not judged": `available` over a run with
/// no client operation is reported as not judged, never as held.
#[test]
fn available_without_operations_is_not_judged() {
    let (code, out, err) = cli(&["run", "scenarios/quickstart.toml", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let available = v["expectations"]
        .as_array()
        .expect("expectations")
        .iter()
        .find(|e| {
            e["what"]
                .as_str()
                .is_some_and(|w| w.starts_with("available"))
        })
        .expect("an available line");
    assert_eq!(available["judged"], false, "{available}");
    assert_eq!(available["held"], false, "{available}");
    assert!(
        available["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no client operation")),
        "{available}"
    );
    // A run with a workload judges it.
    let (code, out, err) = cli(&["run", "scenarios/primary-crash-under-load.toml", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let available = v["expectations"]
        .as_array()
        .expect("expectations")
        .iter()
        .find(|e| {
            e["what"]
                .as_str()
                .is_some_and(|w| w.starts_with("available"))
        })
        .expect("an available line");
    assert_eq!(available["judged"], true, "{available}");
}

/// `partsim check` on a trace cut off mid-run judges safety and says the
/// liveness checkers were not judged, rather than listing them as clean.
#[test]
fn offline_check_of_a_cut_trace_does_not_claim_liveness() {
    let trace = tmp_file("contract", "quickstart.jsonl")
        .display()
        .to_string();
    let (code, _, err) = cli(&[
        "run",
        "scenarios/quickstart.toml",
        "--trace",
        &trace,
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&trace).expect("the trace");
    let cut: String = text.lines().take(2_000).map(|l| format!("{l}\n")).collect();
    let cut_path = write("quickstart-cut.jsonl", &cut);
    let (code, out, err) = cli(&["check", &cut_path, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let not_judged: Vec<&str> = v["not_judged"]
        .as_array()
        .expect("not_judged")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    for name in ["leader_elected", "converged", "balanced", "available"] {
        assert!(
            not_judged.iter().any(|n| n.starts_with(name)),
            "{name} must be listed as not judged: {not_judged:?}"
        );
    }
    let (_, human, _) = cli(&["check", &cut_path]);
    let clean = human
        .lines()
        .find(|l| l.contains("no violations"))
        .expect("a no-violations line");
    assert!(!clean.contains("converged"), "{human}");
    // The whole trace judges them (available has no operation to judge).
    let (code, out, err) = cli(&["check", &trace, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let not_judged: Vec<&str> = v["not_judged"]
        .as_array()
        .expect("not_judged")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert_eq!(not_judged.len(), 1, "{not_judged:?}");
    assert!(not_judged[0].starts_with("available"), "{not_judged:?}");
}

/// DESIGN §7's history shape: `:time` is not required (Knossos' histories
/// have none); the order of the lines orders the events.
#[test]
fn lincheck_accepts_histories_without_time() {
    let ok = write(
        "no-time-ok.edn",
        "{:process 0, :type :invoke, :f :write, :value 1}\n\
         {:process 0, :type :ok, :f :write, :value 1}\n\
         {:process 1, :type :invoke, :f :read, :value nil}\n\
         {:process 1, :type :ok, :f :read, :value 1}\n",
    );
    let (code, out, err) = cli(&["lincheck", &ok]);
    assert_eq!(code, 0, "{out}{err}");
    let stale = write(
        "no-time-stale.edn",
        "{:process 0, :type :invoke, :f :write, :value 1}\n\
         {:process 0, :type :ok, :f :write, :value 1}\n\
         {:process 1, :type :invoke, :f :read, :value nil}\n\
         {:process 1, :type :ok, :f :read, :value nil}\n",
    );
    let (code, out, err) = cli(&["lincheck", &stale]);
    assert_eq!(code, 1, "a stale read is not linearizable: {out}{err}");
    let json = write(
        "no-time.json",
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"cas\", \"value\": [null, 2]}\n\
         {\"process\": 0, \"type\": \"ok\", \"f\": \"cas\", \"value\": [null, 2]}\n",
    );
    let (code, out, err) = cli(&["lincheck", &json]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A hunt that could run nothing must not report "no violation": a zero
/// budget or run count is a usage error.
#[test]
fn hunt_that_can_run_nothing_is_refused() {
    for args in [
        vec!["hunt", "--budget", "0s"],
        vec!["hunt", "--max-runs", "0"],
    ] {
        let (code, out, err) = cli(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
    }
}

/// DESIGN §5: impossible configurations are refused before the run. A group
/// cannot end with more voters than it ever has managers.
#[test]
fn voters_above_the_managers_are_refused() {
    let scenario = write(
        "too-many-voters.toml",
        "name = \"too-many-voters\"\nduration = \"10s\"\n[cluster]\nmanagers = 3\n[expect]\nvoters = 4\n",
    );
    let (code, out, err) = cli(&["validate", &scenario]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(":6:10: expect.voters:"), "{err}");
    let with_add = write(
        "voters-after-add.toml",
        "name = \"voters-after-add\"\nduration = \"10s\"\n[cluster]\nmanagers = 3\n[[events]]\nat = \"1s\"\nadd_manager = \"m4\"\n[expect]\nvoters = 4\n",
    );
    let (code, out, err) = cli(&["validate", &with_add]);
    assert_eq!(code, 0, "{out}{err}");
}
