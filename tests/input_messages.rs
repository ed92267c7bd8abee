//! Messages about bad input say what is wrong in the user's terms.

mod common;

#[test]
fn a_negative_duration_says_durations_cannot_be_negative() {
    let o = common::partsim(&["validate", "tests/malformed/66-negative-at.toml"]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2);
    assert!(err.contains("durations cannot be negative"), "{err}");
    assert!(!err.contains("unknown unit"), "{err}");
}

#[test]
fn a_missing_file_is_no_such_file_without_a_position() {
    for cmd in ["validate", "run"] {
        let o = common::partsim(&[cmd, "no/such/scenario.toml"]);
        let (_, err) = common::out_err(&o);
        assert_eq!(common::code(&o), 2);
        assert!(
            err.trim_end()
                .ends_with("no/such/scenario.toml: no such file"),
            "{cmd}: {err}"
        );
        assert!(!err.contains(":1:1"), "{err}");
    }
}

#[test]
fn partition_groups_offer_the_selectors_they_accept() {
    // DESIGN §5: a selector may stand wherever an event names a process,
    // partition groups included; the message offers them.
    let s = "name = \"x\"\nduration = \"5s\"\n[cluster]\nmanagers = 3\nnodes = 3\n\
             [[events]]\nat = \"1s\"\nuntil = \"2s\"\npartition = [[\"m1\", \"n9\"], [\"*\"]]\n";
    let e = partsim::scenario::parse(s, "x.toml").unwrap_err();
    assert!(e.message.contains("unknown process \"n9\""), "{e}");
    assert!(e.message.contains("selector"), "{e}");
    // As for a crash.
    let s = s.replace("partition = [[\"m1\", \"n9\"], [\"*\"]]", "crash = \"n9\"");
    let e = partsim::scenario::parse(&s, "x.toml").unwrap_err();
    assert!(e.message.contains("selector"), "{e}");
}

#[test]
fn overlapping_windows_of_one_fault_on_one_process_are_refused() {
    let o = common::partsim(&["validate", "tests/malformed/67-overlapping-crashes.toml"]);
    let (_, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 2);
    assert!(err.contains("overlaps events[0]"), "{err}");
    // Disjoint windows, and windows on different processes, are fine.
    let ok = "name = \"x\"\nduration = \"10s\"\n[cluster]\nmanagers = 3\nnodes = 3\n\
              [[events]]\nat = \"2s\"\nuntil = \"3s\"\ncrash = \"n1\"\n\
              [[events]]\nat = \"3s\"\nuntil = \"4s\"\ncrash = \"n1\"\n\
              [[events]]\nat = \"2.5s\"\nuntil = \"3.5s\"\ncrash = \"n2\"\n";
    partsim::scenario::parse(ok, "ok.toml").unwrap();
}
