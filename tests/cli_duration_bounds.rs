//! `--duration` obeys the limits a scenario's `duration` has (exit 2, as
//! `validate` refuses them), negative durations say so, and the reproduce
//! line of a failed run keeps `--duration` so that it reproduces.

mod common;

#[test]
fn durations_validate_refuses_are_refused_on_the_command_line() {
    for bad in ["0s", "604801s"] {
        let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--duration", bad]);
        let (_, err) = common::out_err(&o);
        assert_eq!(common::code(&o), 2, "--duration {bad}: {err}");
        assert!(err.contains("above"), "--duration {bad}: {err}");
    }
    let o = common::partsim(&["run", "scenarios/raft-elect.toml", "--duration=-1s"]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2);
    assert!(err.contains("cannot be negative"), "{err}");
}

#[test]
fn the_reproduce_line_keeps_the_duration() {
    let dir = common::scratch("repro");
    let path = dir.join("must-fail.toml");
    // A violation that is expected but never fires: the run fails.
    std::fs::write(
        &path,
        "name = \"must-fail\"\nduration = \"10s\"\n[cluster]\nmanagers = 3\nnodes = 3\n[expect]\nviolations = [\"election_safety\"]\n",
    )
    .unwrap();
    let shown = path.to_str().unwrap();
    let o = common::partsim(&["run", shown, "--duration", "3s", "--seed", "4"]);
    let (out, _) = common::out_err(&o);
    assert_eq!(common::code(&o), 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("reproduce"))
        .unwrap_or_else(|| panic!("no reproduce line in {out}"));
    assert!(
        line.ends_with(&format!("partsim run {shown} --seed 4 --duration 3s")),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
