//! `partsim lincheck` as a user meets it: exit 0 linearizable, 1 not (with
//! the counterexample) or undecided, 2 malformed with file:line.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lincheck(file: &PathBuf, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .arg("lincheck")
        .arg(file)
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-lincheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write history");
    path
}

const OK: &str = "{:process 0, :type :invoke, :f :write, :value 1, :time 10}\n\
                  {:process 0, :type :ok, :f :write, :value 1, :time 20}\n\
                  {\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"time\": 30}\n\
                  {\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": 1, \"time\": 40}\n";

#[test]
fn a_linearizable_history_exits_0() {
    let o = lincheck(&write("ok.edn", OK), &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("linearizable: 2 operations"));
}

#[test]
fn a_stale_read_exits_1_with_the_prefix_and_the_read_and_their_times() {
    let bad = OK.replace(
        "\"value\": 1, \"time\": 40",
        "\"value\": null, \"time\": 40",
    );
    let o = lincheck(&write("bad.edn", &bad), &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("p0 write 1 ok, t 10..20 (line 1)"), "{out}");
    assert!(out.contains("p1 read → nil ok, t 30..40 (line 3)"), "{out}");
    let o = lincheck(&write("bad.edn", &bad), &["--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["verdict"], "not_linearizable");
    assert_eq!(
        doc["failures"][0]["counterexample"]["cannot_follow"][0]["invoke_time"],
        30
    );
}

#[test]
fn a_malformed_history_exits_2_naming_file_line_and_what_was_expected() {
    let text = format!("{OK}{{:process 0, :type :invoke, :f :cas, :value 3, :time 50}}\n");
    let path = write("malformed.edn", &text);
    let o = lincheck(&path, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:5:", path.display())), "{err}");
    assert!(err.contains("expected [expected new]"), "{err}");
}

#[test]
fn an_undecided_key_is_unknown_and_exits_1() {
    // A zero timeout leaves every key undecided: unknown, never linearizable.
    let o = lincheck(&write("t.edn", OK), &["--timeout", "0s"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("unknown"));
}

#[test]
fn a_file_without_newlines_or_with_bad_bytes_is_refused_without_reading_it_whole() {
    // /dev/zero has no newline and no end: the line cap stops the read.
    let o = lincheck(&PathBuf::from("/dev/zero"), &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/dev/zero:1:1: line longer than"), "{err}");

    let mut bytes = OK.as_bytes().to_vec();
    bytes.extend_from_slice(b"{:process 2, :type :invoke, :f :read, :time \xff}\n");
    let path = write("latin1.edn", "");
    std::fs::write(&path, bytes).expect("write");
    let o = lincheck(&path, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:5:45: not UTF-8", path.display())),
        "{err}"
    );
}

/// 24 concurrent writes of distinct values, then reads 0, 1, 0: not
/// linearizable, but WGL's search needs about 2^24 × 24 steps to say so.
/// Without `--timeout` the check is still bounded by a step budget (the
/// online checker's), and reports `unknown`, exit 1, naming the flag.
#[test]
fn an_exponential_history_is_bounded_by_the_step_budget_without_a_timeout() {
    let mut text = String::new();
    for p in 0..24 {
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :write, :value {p}}}\n"
        ));
    }
    for p in 0..24 {
        text.push_str(&format!(
            "{{:process {p}, :type :ok, :f :write, :value {p}}}\n"
        ));
    }
    for v in [0, 1, 0] {
        text.push_str(&format!(
            "{{:process 99, :type :invoke, :f :read, :value nil}}\n\
             {{:process 99, :type :ok, :f :read, :value {v}}}\n"
        ));
    }
    let path = write("exponential.edn", &text);
    let o = lincheck(&path, &["--max-steps", "100000"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(&format!("{}: unknown", path.display())),
        "{out}"
    );
    assert!(out.contains("--max-steps"), "{out}");
    let help = Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(["lincheck", "--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains(&format!(
            "[default: {}]",
            partsim::check::lincheck::DEFAULT_MAX_STEPS
        )),
        "{help}"
    );
}

/// An integer too large for 64 bits is named as such, not as "a float".
#[test]
fn an_integer_beyond_64_bits_is_refused_as_too_large() {
    let path = write(
        "huge.edn",
        "{:process 99999999999999999999999, :type :invoke, :f :read}\n",
    );
    let o = lincheck(&path, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fits 64 bits"), "{err}");
    assert!(!err.contains("float"), "{err}");
}
