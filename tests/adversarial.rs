//! Absurd but valid scenarios — every fault kind at its highest rate, empty
//! windows, events at time 0 and at the last instant, partitions of one
//! node, every manager paused at once, clocks at the edges of their range,
//! a join and a leave of one node in one instant, one node joining and
//! leaving many times, hundreds of joins in one instant, pauses as long as
//! the run, partitions naming every process, every clock at its bounds,
//! one client or a thousand at the workload's rate bound, disk faults at
//! 1.0, the workload and event counts at their limits — each gives a
//! bounded run or a clear refusal.
//!
//! Every file in `tests/adversarial/` names on its first line what it must
//! give: `# expect: run` (`partsim run` exits 0 or 1, its trace reads back
//! through `partsim check`) or `# expect: refused LINE:COL KEY` (exit 2,
//! `partsim: FILE:LINE:COL: KEY: …`, nothing run). One more case, the most events a
//! scenario may hold all in one instant, is generated here rather than kept
//! as a 300 kB file.

use std::path::{Path, PathBuf};
use std::process::Command;

use partsim::scenario::MAX_EVENTS;

/// At least this many cases (the files plus the generated one).
const MIN_CASES: usize = 10;

fn partsim(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn tmp_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-adversarial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `crash` and `restart` of one node, alternately, `MAX_EVENTS` times in
/// the same instant.
fn max_events_in_one_instant(dir: &Path) -> PathBuf {
    let mut text = String::from(
        "# expect: run\n\
         name = \"max-events-one-instant\"\n\
         description = \"The most events a scenario may hold, all in one instant on one node.\"\n\
         duration = \"2s\"\n\n[cluster]\nmanagers = 3\nnodes = 3\n",
    );
    for i in 0..MAX_EVENTS {
        let action = if i % 2 == 0 { "crash" } else { "restart" };
        text.push_str(&format!("\n[[events]]\nat = \"1s\"\n{action} = \"n1\"\n"));
    }
    let path = dir.join("max-events-one-instant.toml");
    std::fs::write(&path, text).expect("write");
    path
}

/// Checks one case; the reason it fails, if it does.
fn check_case(path: &Path, trace: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let expect = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .ok_or("first line must be `# expect: run` or `# expect: refused LINE:COL KEY`")?;
    let p = path.to_str().expect("utf-8 path");
    let t = trace.to_str().expect("utf-8 path");
    let (code, out, err) = partsim(&["run", p, "--trace", t]);
    if expect == "run" {
        if !matches!(code, Some(0 | 1)) {
            return Err(format!("run exited {code:?}: {out}{err}"));
        }
        let (code, out, err) = partsim(&["check", t]);
        if !matches!(code, Some(0 | 1)) {
            return Err(format!("check of its trace exited {code:?}: {out}{err}"));
        }
        return Ok(());
    }
    let spec = expect
        .strip_prefix("refused ")
        .ok_or(format!("unknown expectation {expect:?}"))?;
    let (position, key) = spec.split_once(' ').ok_or("expected LINE:COL KEY")?;
    let want = format!("{p}:{position}: {key}: ");
    if code != Some(2) || !err.trim_start_matches("partsim: ").starts_with(&want) {
        return Err(format!(
            "expected exit 2 and {want:?}…, got {code:?}: {err}"
        ));
    }
    if !out.is_empty() || trace.exists() {
        return Err(format!("refused, yet it ran: {out}"));
    }
    Ok(())
}

#[test]
fn absurd_scenarios_run_bounded_or_are_refused_clearly() {
    let dir = tmp_dir();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial"))
            .expect("tests/adversarial exists")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
    cases.sort();
    cases.push(max_events_in_one_instant(&dir));
    assert!(cases.len() >= MIN_CASES, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let trace = dir.join(format!("case-{i}.jsonl"));
        match check_case(case, &trace) {
            // A passing case's trace goes (together they are over a
            // gigabyte); a failing one's stays to be read.
            Ok(()) => {
                let _ = std::fs::remove_file(&trace);
            }
            Err(why) => failures.push(format!(
                "{}: {why} (trace: {})",
                case.display(),
                trace.display()
            )),
        }
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
