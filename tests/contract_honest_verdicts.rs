//! A verdict never claims what was not judged, and says what it judged:
//! `available`'s label names its settle point, a `converged` failure after a
//! met deadline is traced where it began, the `checks` line says "ok" only
//! of checkers that judged something, an unreachable workload rate is
//! reported, and a `leave` whose drain can never finish is refused.

mod common;

use common::{cli, tmp_file};
use partsim::run::{RunOptions, RunReport};
use partsim::sim::SimTime;

fn run(text: &str) -> RunReport {
    common::run_with(&common::scenario(text), RunOptions::default()).0
}

fn write(name: &str, text: &str) -> String {
    let path = tmp_file("honest", name);
    std::fs::write(&path, text).expect("write a test input");
    path.display().to_string()
}

fn expectation<'a>(r: &'a RunReport, check: &str) -> &'a partsim::run::ExpectResult {
    r.expectations
        .iter()
        .find(|e| e.what.starts_with(check))
        .unwrap_or_else(|| panic!("no {check} line in {:?}", r.expectations))
}

const LOAD: &str = r#"
name = "settle"
duration = "20s"
[cluster]
managers = 3
nodes = 3
clients = 1
[workload]
rate = 20
[[events]]
at = "2s"
until = "3s"
crash = "n1"
"#;

/// `available` judges the operations invoked from its settle point (the
/// faults healed plus a grace, or `converged_by`), not "by" the end of the
/// run: its label says which.
#[test]
fn available_is_labelled_with_its_settle_point() {
    let r = run(LOAD);
    let a = expectation(&r, "available");
    assert_eq!(
        a.what, "available after 8s (last fault + 5s grace)",
        "{a:?}"
    );
    let r = run(&format!("{LOAD}[expect]\nconverged_by = \"15s\"\n"));
    let a = expectation(&r, "available");
    assert_eq!(a.what, "available after 15s (converged_by)", "{a:?}");
}

/// A `converged` that met its deadline and then broke is traced at the
/// event that broke it (and stops the run there), not at the end.
#[test]
fn converged_breaking_after_its_deadline_is_traced_where_it_broke() {
    let r = run(r#"
name = "late-break"
duration = "40s"
[cluster]
managers = 3
nodes = 4
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 3
[[events]]
at = "15s"
crash = "n1"
[expect]
converged_by = "10s"
"#);
    let v = r
        .violations
        .iter()
        .find(|v| v.check == "converged")
        .expect("converged fails after n1 crashes");
    assert_eq!(v.t, SimTime(15_000_000), "{v:?}");
    assert!(v.detail.contains("then not at 15.000s"), "{v:?}");
    assert!(r.halted && r.ended_at == SimTime(15_000_000), "{r:?}");
}

/// The `checks` line: "ok" only for a checker that judged something.
#[test]
fn checks_never_say_ok_of_what_was_not_judged() {
    // No client operation: nothing for durability, linearizable, available.
    let r = run(r#"
name = "idle"
duration = "20s"
[cluster]
managers = 3
nodes = 3
[expect]
lost_acked_writes = 0
"#);
    for name in ["durability", "linearizable", "available"] {
        let c = r.checks.iter().find(|c| c.name == name).expect(name);
        assert!(!c.judged, "{c:?}");
        assert!(c.status().starts_with("not judged"), "{}", c.status());
    }
    let placement = r.checks.iter().find(|c| c.name == "placement").unwrap();
    assert!(
        placement.judged && placement.status() == "ok",
        "{placement:?}"
    );
    let lost = expectation(&r, "lost_acked_writes");
    assert!(
        !lost.judged,
        "zero writes lost of none acknowledged: {lost:?}"
    );
    let safety = expectation(&r, "safety");
    assert!(
        safety.detail.contains("not judged: durability"),
        "{safety:?}"
    );

    // A run stopped by a missed deadline: no liveness checker and no
    // end-of-run check judged.
    let r = run(r#"
name = "no-quorum"
duration = "10s"
[cluster]
managers = 3
nodes = 3
clients = 1
[workload]
rate = 10
[[events]]
at = "0s"
until = "10s"
isolate = "m1"
[[events]]
at = "0s"
until = "10s"
isolate = "m2"
[expect]
leader_elected_by = "3.1s"
"#);
    assert!(r.halted, "{r:?}");
    for c in &r.checks {
        let end_of_run = matches!(c.name.as_str(), "durability" | "linearizable");
        if c.violations == 0 && (c.kind == "liveness" || end_of_run) {
            assert!(!c.judged, "{c:?}");
        } else if c.violations == 0 {
            assert!(c.status().contains("stopped the run"), "{}", c.status());
        }
    }
}

/// A rate the clients cannot reach is reported, with a warning, not
/// silently accepted.
#[test]
fn an_unreachable_rate_is_reported_and_warned_of() {
    let text = r#"
name = "too-fast"
duration = "20s"
[cluster]
managers = 3
nodes = 3
clients = 2
[workload]
rate = 1500
stop = "15s"
"#;
    let r = run(text);
    let w = r.workload.as_ref().expect("a workload report");
    assert_eq!(w.configured, 1500.0);
    assert!(w.achieved < 0.8 * 1500.0, "{w:?}");
    assert!(w.warning.is_some(), "{w:?}");
    let (code, out, err) = cli(&["run", &write("too-fast.toml", text)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1500 operations/s configured"), "{out}");
    assert!(err.contains("warning: the clients reached"), "{err}");
    // A rate they reach draws no warning.
    let r = run(&text.replace("rate = 1500", "rate = 20"));
    let w = r.workload.as_ref().expect("a workload report");
    assert!(w.warning.is_none(), "{w:?}");
}

/// A `leave` that leaves fewer data nodes than the replication factor can
/// never finish its drain: refused before the run, naming the event.
#[test]
fn a_leave_below_the_replication_factor_is_refused() {
    let cluster = |nodes: u32, events: &str| {
        format!(
            "name = \"leave\"\nduration = \"20s\"\n[cluster]\nmanagers = 3\nnodes = {nodes}\n[grid]\nwidth = 16\nheight = 16\ntile = [8, 8]\nreplication_factor = 3\n{events}"
        )
    };
    let leave = "[[events]]\nat = \"2s\"\nleave = \"n1\"\n";
    let bad = write("leave-3.toml", &cluster(3, leave));
    let (code, out, err) = cli(&["validate", &bad]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("{bad}:13:9: events[0].leave")),
        "{err}"
    );
    assert!(
        err.contains("fewer than grid.replication_factor = 3"),
        "{err}"
    );
    // Four nodes, or a join before the leave: enough remain.
    let ok = write("leave-4.toml", &cluster(4, leave));
    let (code, out, err) = cli(&["validate", &ok]);
    assert_eq!(code, 0, "{out}{err}");
    let join = "[[events]]\nat = \"1s\"\njoin = \"n4\"\n";
    let ok = write("join-leave.toml", &cluster(3, &format!("{join}{leave}")));
    let (code, out, err) = cli(&["validate", &ok]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Removing the last manager can only be ignored by a Raft group (it never
/// removes its last voter): refused before the run, naming the event.
#[test]
fn removing_the_last_manager_is_refused() {
    let scenario = |events: &str| {
        format!("name = \"rm\"\nduration = \"20s\"\n[cluster]\nmanagers = 3\nnodes = 3\n{events}")
    };
    let rm = |at: u32, id: &str| format!("[[events]]\nat = \"{at}s\"\nremove_manager = \"{id}\"\n");
    let all = format!("{}{}{}", rm(1, "m1"), rm(2, "m2"), rm(3, "m3"));
    let bad = write("rm-all.toml", &scenario(&all));
    let (code, out, err) = cli(&["validate", &bad]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("{bad}:14:18: events[2].remove_manager")),
        "{err}"
    );
    assert!(err.contains("removes the last manager"), "{err}");
    // Two of three removed, or an add before the third: a manager remains.
    let two = format!("{}{}", rm(1, "m1"), rm(2, "m2"));
    let ok = write("rm-two.toml", &scenario(&two));
    let (code, out, err) = cli(&["validate", &ok]);
    assert_eq!(code, 0, "{out}{err}");
    let add = "[[events]]\nat = \"2500ms\"\nadd_manager = \"m4\"\n";
    let ok = write(
        "rm-add.toml",
        &scenario(&format!(
            "{}{}{add}{}",
            rm(1, "m1"),
            rm(2, "m2"),
            rm(3, "m3")
        )),
    );
    let (code, out, err) = cli(&["validate", &ok]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Absurd values get a refusal naming file:line:col and the key (exit 2),
/// never a panic, a hang or a run.
#[test]
fn absurd_values_are_refused_with_their_place() {
    let head = "name = \"x\"\nduration = \"10s\"\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "nodes-huge",
            "[cluster]\nnodes = 1000000000\n",
            "4:9: cluster.nodes",
        ),
        (
            "nodes-negative",
            "[cluster]\nnodes = -3\n",
            "4:9: cluster.nodes",
        ),
        (
            "managers-zero",
            "[cluster]\nmanagers = 0\n",
            "4:12: cluster.managers",
        ),
        (
            "clients-huge",
            "[cluster]\nclients = 4000000000\n",
            "4:11: cluster.clients",
        ),
        (
            "grid-empty",
            "[grid]\nwidth = 0\nheight = 0\ntile = [0, 0]\n",
            "4:9: grid.width",
        ),
        (
            "rf-above-nodes",
            "[cluster]\nnodes = 3\n[grid]\nreplication_factor = 4\n",
            "6:22: grid.replication_factor",
        ),
        (
            "rate-nan",
            "[cluster]\nclients = 2\n[workload]\nrate = nan\n",
            "6:8: workload.rate",
        ),
        (
            "rate-inf",
            "[cluster]\nclients = 2\n[workload]\nrate = inf\n",
            "6:8: workload.rate",
        ),
        (
            "rate-huge",
            "[cluster]\nclients = 2\n[workload]\nrate = 1e300\n",
            "6:8: workload.rate",
        ),
        (
            "timeout-zero",
            "[cluster]\nclients = 2\n[workload]\nrate = 10\ntimeout = \"0s\"\n",
            "7:11: workload.timeout",
        ),
        (
            "random-every-tiny",
            "[random]\ncrash = { every = \"1us\", down = [\"1s\", \"2s\"] }\n",
            "4:19: random.crash.every",
        ),
        (
            "latency-huge",
            "[network]\nlatency = [\"1000000h\", \"2000000h\"]\n",
            "4:11: network.latency",
        ),
        (
            "duplicate-above-one",
            "[network]\nduplicate = 2.0\n",
            "4:13: network.duplicate",
        ),
        (
            "drift-huge",
            "[[events]]\nat = \"1s\"\nclock = \"n1\"\ndrift = 1e9\n",
            "6:9: events[0].drift",
        ),
        (
            "unicode-id",
            "[[events]]\nat = \"1s\"\ncrash = \"n\u{ff11}\"\n",
            "5:9: events[0].crash",
        ),
        (
            "heartbeat-flood",
            "[cluster]\nnodes = 10000\n",
            "4:9: cluster.nodes",
        ),
    ];
    for (name, body, place) in cases {
        let path = write(&format!("{name}.toml"), &format!("{head}{body}"));
        let (code, out, err) = cli(&["validate", &path]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(&format!("{path}:{place}")), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, out, err) = cli(&[
        "validate",
        &write(
            "huge-duration.toml",
            "name = \"x\"\nduration = \"99999999999999h\"\n",
        ),
    ]);
    assert_eq!(code, 2, "{out}{err}");
}
