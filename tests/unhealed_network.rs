//! A liveness promise without an `[expect]` deadline is made for after the
//! last fault heals. When the network never heals — a cut that never ends,
//! or a `[network]` that delivers nothing — that moment never comes: the
//! liveness checkers are not judged (never a failure, never "ok"), online
//! and offline alike. An `[expect]` deadline is judged whatever the network
//! does, and a node down for good is a failure the cluster must route
//! around: liveness is still judged.

mod common;

use std::io::BufReader;

use partsim::check::offline::check_reader;
use partsim::run::RunReport;
use partsim::stack::planted::Planted;

const HEAD: &str = r#"
name = "unhealed"
duration = "20s"
[cluster]
managers = 3
nodes = 4
clients = 0
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
"#;

/// No manager has a majority: the three are cut apart.
const SPLIT: &str = r#"
[[events]]
at = "4s"
partition = [["m1"], ["m2"], ["*"]]
"#;

fn run(text: &str) -> (RunReport, Vec<u8>) {
    let s = common::scenario(&format!("{HEAD}{text}"));
    common::run_bytes(&s, None, Planted::default())
}

fn check<'a>(r: &'a RunReport, name: &str) -> &'a partsim::run::CheckResult {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", r.checks))
}

fn not_judged_unhealed(r: &RunReport, name: &str) {
    let c = check(r, name);
    assert!(!c.judged, "{name} judged: {c:?}");
    assert_eq!(c.violations, 0, "{name}: {c:?}");
    let note = c.note.as_deref().unwrap_or_default();
    assert!(note.contains("never healed"), "{name}: {note}");
}

#[test]
fn a_network_that_delivers_nothing_is_not_judged() {
    let (r, _) = run("[network]\ndrop = 1.0\n");
    assert!(r.passed, "{:?}", r.expectations);
    for name in ["leader_elected", "converged", "available"] {
        not_judged_unhealed(&r, name);
    }
}

#[test]
fn a_cut_that_never_ends_is_not_judged_online_or_offline() {
    let (r, bytes) = run(SPLIT);
    assert!(r.passed, "{:?}", r.violations);
    not_judged_unhealed(&r, "leader_elected");
    not_judged_unhealed(&r, "converged");
    let offline = check_reader(BufReader::new(&bytes[..]), "unhealed").expect("the trace reads");
    assert!(offline.violations.is_empty(), "{:?}", offline.violations);
    assert!(
        offline
            .not_judged
            .iter()
            .any(|n| n.contains("leader_elected") && n.contains("never healed")),
        "{:?}",
        offline.not_judged
    );
}

#[test]
fn an_expect_deadline_is_judged_under_a_cut_that_never_ends() {
    let (r, _) = run(&format!("{SPLIT}[expect]\nleader_elected_by = \"15s\"\n"));
    assert!(!r.passed);
    assert!(check(&r, "leader_elected").violations > 0, "{:?}", r.checks);
}

#[test]
fn a_cut_that_ends_is_judged() {
    let (r, _) = run(&format!("{SPLIT}until = \"8s\"\n"));
    let c = check(&r, "leader_elected");
    assert!(c.judged, "{c:?}");
    assert_eq!(c.violations, 0, "{c:?}");
}

#[test]
fn a_manager_down_for_good_is_still_judged() {
    let (r, _) = run("[[events]]\nat = \"4s\"\ncrash = \"m1\"\n");
    let c = check(&r, "leader_elected");
    assert!(c.judged, "{c:?}");
}
