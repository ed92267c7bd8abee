//! No command writes over one of its inputs, and none truncates an existing
//! file partsim did not write unless told to (`--force`). (Issue: `export
//! x.jsonl -o x.jsonl` truncated the trace; `run s.toml --trace s.toml`
//! overwrote the scenario.)

mod common;

#[test]
fn run_refuses_to_write_its_trace_over_the_scenario() {
    let dir = common::scratch("out-run");
    let scenario = dir.join("s.toml");
    std::fs::copy("scenarios/raft-elect.toml", &scenario).unwrap();
    let before = std::fs::read(&scenario).unwrap();
    let s = scenario.to_str().unwrap();
    let o = common::partsim(&["run", s, "--trace", s, "--force"]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2, "{err}");
    assert!(err.contains("is also the input"), "{err}");
    assert_eq!(
        std::fs::read(&scenario).unwrap(),
        before,
        "the scenario is intact"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_refuses_to_write_over_its_trace() {
    let dir = common::scratch("out-export");
    let trace = dir.join("x.jsonl");
    let t = trace.to_str().unwrap();
    let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--trace", t]);
    assert_eq!(common::code(&o), 0);
    let before = std::fs::read(&trace).unwrap();
    let o = common::partsim(&["export", t, "--format", "chrome", "-o", t]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2, "{err}");
    assert_eq!(
        std::fs::read(&trace).unwrap(),
        before,
        "the trace is intact"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_partsim_did_not_write_needs_force() {
    let dir = common::scratch("out-force");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    let n = notes.to_str().unwrap();
    let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--trace", n]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    // A trace partsim wrote is overwritten freely; anything with --force.
    let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--trace", n, "--force"]);
    assert_eq!(common::code(&o), 0);
    let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--trace", n]);
    assert_eq!(common::code(&o), 0, "{}", common::out_err(&o).1);
    let _ = std::fs::remove_dir_all(&dir);
}
