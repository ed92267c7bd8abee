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
        .filter(|v| v["role"] == "leader")
        .last()
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
