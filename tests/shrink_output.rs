//! `shrink -o` and `hunt -o` never write over their input scenario, nor
//! over a file partsim did not write: the refusal comes before the search,
//! with exit 2.

mod common;

#[test]
fn shrink_refuses_to_write_over_its_scenario() {
    let dir = common::scratch("shrink-out-input");
    let scenario = dir.join("s.toml");
    std::fs::copy("scenarios/raft-elect.toml", &scenario).unwrap();
    let before = std::fs::read(&scenario).unwrap();
    let s = scenario.to_str().unwrap();
    let o = common::partsim(&["shrink", s, "-o", s]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2, "{err}");
    assert!(err.contains("is also the input"), "{err}");
    assert_eq!(std::fs::read(&scenario).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shrink_and_hunt_refuse_a_file_partsim_did_not_write() {
    let dir = common::scratch("shrink-out-notes");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    let n = notes.to_str().unwrap();
    for args in [
        &["shrink", "scenarios/raft-elect.toml", "-o", n][..],
        &["hunt", "--max-runs", "1", "-o", n][..],
    ] {
        let o = common::partsim(args);
        let (_, err) = common::out_err(&o);
        assert_eq!(common::code(&o), 2, "{args:?}: {err}");
        assert!(err.contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
