//! A trace is judged only when it is one partsim could have written:
//! events in time order, by processes the header lists, ending at the
//! footer. A footer that does not describe the events read (a count, a
//! digest) is said, and the events are still judged (doctored traces are
//! how the checkers are tested). And a trace that cannot be written (a full
//! disk) is the environment's error, exit 2, not partsim's.

use std::path::PathBuf;
use std::process::{Command, Output};

fn partsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-trace-integrity-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The lines of a short quickstart trace.
fn trace_lines(name: &str) -> Vec<String> {
    let path = dir().join(name);
    let p = path.display().to_string();
    let o = partsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--duration",
        "3s",
        "--trace",
        &p,
        "--force",
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let text = std::fs::read_to_string(&path).expect("the trace");
    text.lines().map(str::to_string).collect()
}

fn check(name: &str, lines: &[String]) -> (Option<i32>, String, String) {
    let path = dir().join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let o = partsim(&["check", &path.display().to_string()]);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn an_untouched_trace_has_no_notice() {
    let lines = trace_lines("clean.jsonl");
    let (code, out, err) = check("clean-check.jsonl", &lines);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!err.contains("note"), "{err}");
}

#[test]
fn events_out_of_time_order_are_refused_naming_the_line() {
    let mut lines = trace_lines("backwards.jsonl");
    let last = lines.len() - 2;
    lines.swap(5, last);
    let (code, _, err) = check("backwards-check.jsonl", &lines);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(":7: t goes back from"), "{err}");
}

#[test]
fn a_process_the_header_does_not_list_is_refused() {
    let mut lines = trace_lines("unknown.jsonl");
    lines[3] = lines[3].replacen("\"p\":\"", "\"p\":\"zz", 1);
    let (code, _, err) = check("unknown-check.jsonl", &lines);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(":4: process \"zz"), "{err}");
    assert!(err.contains("is not in the header's process list"), "{err}");
}

#[test]
fn a_line_after_the_footer_is_refused() {
    let mut lines = trace_lines("after.jsonl");
    let event = lines[2].clone();
    lines.push(event);
    let n = lines.len();
    let (code, _, err) = check("after-check.jsonl", &lines);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(":{n}: a line after the footer")),
        "{err}"
    );
}

#[test]
fn a_footer_that_does_not_describe_the_events_is_said() {
    let lines = trace_lines("footer.jsonl");
    // Every event removed: the footer still counts them.
    let bare = vec![lines[0].clone(), lines[lines.len() - 1].clone()];
    let (_, _, err) = check("footer-bare.jsonl", &bare);
    assert!(err.contains("the footer counts"), "{err}");
    assert!(err.contains("but the trace holds 0"), "{err}");
    // One event changed in place: the count holds, the digest does not.
    let mut edited = lines.clone();
    edited[4] = edited[4].replacen("\"t\":", "\"t\": ", 1);
    let (_, _, err) = check("footer-edited.jsonl", &edited);
    assert!(err.contains("does not match the events' digest"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_under_the_trace_is_exit_2_not_an_internal_error() {
    let o = partsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--duration",
        "3s",
        "--trace",
        "/dev/full",
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("No space left"));
}
