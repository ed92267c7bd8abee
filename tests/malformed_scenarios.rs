//! Every file in `tests/malformed/` holds one mistake and names, on its
//! first line, where the error must point: `# expect: LINE:COL KEY`.
//!
//! The library must reject each one with exactly that position and key
//! (and never panic), and `partsim validate FILE` must print
//! `FILE:LINE:COL: KEY: …` on stderr and exit with code 2 (bad input).

use std::path::{Path, PathBuf};
use std::process::Command;

/// At least this many malformed files: one per validation rule, and then some.
const MIN_FILES: usize = 30;

struct Expected {
    path: PathBuf,
    line: usize,
    col: usize,
    key: String,
}

fn malformed_files() -> Vec<Expected> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| parse_expectation(&path))
        .collect()
}

/// Reads `# expect: LINE:COL KEY` from the first line of `path`.
fn parse_expectation(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let first = text.lines().next().unwrap_or_default();
    let spec = first.strip_prefix("# expect: ").unwrap_or_else(|| {
        panic!(
            "{}: first line must be `# expect: LINE:COL KEY`, got {first:?}",
            path.display()
        )
    });
    let (position, key) = spec.split_once(' ').unwrap_or_else(|| {
        panic!(
            "{}: expected `LINE:COL KEY` after `# expect: `",
            path.display()
        )
    });
    let (line, col) = position.split_once(':').expect("LINE:COL");
    Expected {
        path: path.to_path_buf(),
        line: line.parse().expect("LINE is a number"),
        col: col.parse().expect("COL is a number"),
        key: key.trim().to_string(),
    }
}

#[test]
fn there_are_enough_malformed_files() {
    let n = malformed_files().len();
    assert!(
        n >= MIN_FILES,
        "only {n} malformed scenario files, expected at least {MIN_FILES}"
    );
}

#[test]
fn each_malformed_file_is_rejected_at_the_named_position_and_key() {
    let mut failures = Vec::new();
    for expected in malformed_files() {
        let path = expected.path.clone();
        let outcome = std::panic::catch_unwind(move || partsim::scenario::load(&path));
        let name = expected.path.display();
        match outcome {
            Err(_) => failures.push(format!("{name}: load panicked")),
            Ok(Ok(_)) => failures.push(format!(
                "{name}: accepted, expected an error at {}:{} {}",
                expected.line, expected.col, expected.key
            )),
            Ok(Err(e)) => {
                if (e.line, e.col, e.key.as_str())
                    != (expected.line, expected.col, expected.key.as_str())
                {
                    failures.push(format!(
                        "{name}: expected {}:{} {}, got {}:{} {} ({})",
                        expected.line, expected.col, expected.key, e.line, e.col, e.key, e.message
                    ));
                }
                if e.message.trim().is_empty() {
                    failures.push(format!("{name}: the error has no message"));
                }
                if e.file != expected.path.display().to_string() {
                    failures.push(format!("{name}: the error names file {:?}", e.file));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} malformed file(s) misreported:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn partsim_validate_exits_2_and_prints_the_position() {
    let mut failures = Vec::new();
    for expected in malformed_files() {
        let output = Command::new(env!("CARGO_BIN_EXE_partsim"))
            .arg("validate")
            .arg(&expected.path)
            .output()
            .expect("the partsim binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let needle = format!(
            "{}:{}:{}: {}:",
            expected.path.display(),
            expected.line,
            expected.col,
            expected.key
        );
        let name = expected.path.display();
        if output.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit code {:?}, expected 2; stderr: {stderr}",
                output.status.code()
            ));
        }
        if !stderr.contains(&needle) {
            failures.push(format!("{name}: stderr lacks {needle:?}; stderr: {stderr}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
