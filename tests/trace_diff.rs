//! `partsim diff A B` shows the first diverging line of two traces with the
//! lines around it; `check-determinism` also runs a second process.

mod common;

#[test]
fn diff_finds_the_first_diverging_line() {
    let dir = common::scratch("diff");
    let (a, b, c) = (
        dir.join("a.jsonl"),
        dir.join("b.jsonl"),
        dir.join("c.jsonl"),
    );
    for (path, seed) in [(&a, "1"), (&b, "1"), (&c, "2")] {
        let o = common::partsim(&[
            "run",
            "scenarios/raft-elect.toml",
            "--seed",
            seed,
            "--trace",
            path.to_str().unwrap(),
        ]);
        assert_eq!(common::code(&o), 0);
    }
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    let o = common::partsim(&["diff", a, b]);
    assert_eq!(common::code(&o), 0, "{:?}", common::out_err(&o));
    assert!(common::out_err(&o).0.starts_with("identical"));

    let o = common::partsim(&["diff", a, c]);
    let (out, _) = common::out_err(&o);
    assert_eq!(common::code(&o), 1, "{out}");
    // The headers differ in the seed: line 1.
    assert!(out.starts_with("traces differ from line 1 "), "{out}");
    assert!(
        out.contains("\"seed\":1") && out.contains("\"seed\":2"),
        "{out}"
    );

    let o = common::partsim(&["diff", a, "scenarios/raft-elect.toml"]);
    assert_eq!(common::code(&o), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn diff_shows_context_before_a_divergence_inside_the_events() {
    let dir = common::scratch("diff-ctx");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    let o = common::partsim(&[
        "run",
        "scenarios/raft-elect.toml",
        "--trace",
        a.to_str().unwrap(),
    ]);
    assert_eq!(common::code(&o), 0);
    let text = std::fs::read_to_string(&a).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[10] = lines[10].replace("\"t\":", "\"t\":1");
    std::fs::write(&b, lines.join("\n") + "\n").unwrap();
    let o = common::partsim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let (out, _) = common::out_err(&o);
    assert_eq!(common::code(&o), 1);
    assert!(out.starts_with("traces differ from line 11 "), "{out}");
    assert!(
        out.contains("        10   "),
        "three lines of context: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_determinism_also_compares_a_second_process() {
    let o = common::partsim(&["check-determinism", "scenarios/raft-elect.toml"]);
    let (out, _) = common::out_err(&o);
    assert_eq!(common::code(&o), 0, "{out}");
    assert!(out.contains("in a second process"), "{out}");
}
