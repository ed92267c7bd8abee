//! The small driver the integration tests share: run a scenario (from a file
//! or from text) and get the report and the trace back, in memory.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use partsim::run::{self, RunOptions, RunReport};
use partsim::scenario::{self, Scenario};
use partsim::stack::events::StackEvent;
use partsim::stack::planted::Planted;
use partsim::trace::reader::read_from;
use partsim::trace::{Body, Record, TraceFile};

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct Buffer(pub Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every scenario file under `scenarios/`, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Parses scenario text (panics with the error: it is the test's own input).
pub fn scenario(text: &str) -> Scenario {
    scenario::parse(text, "test.toml").unwrap_or_else(|e| panic!("test scenario is invalid: {e}"))
}

/// Runs a scenario and returns the report and the trace bytes.
pub fn run_bytes(s: &Scenario, seed: Option<u64>, planted: Planted) -> (RunReport, Vec<u8>) {
    let buf = Buffer::default();
    let opts = RunOptions {
        seed,
        trace_out: Some(Box::new(buf.clone())),
        planted,
        ..RunOptions::default()
    };
    let report = run::run(s, opts).expect("the run completes");
    let bytes = buf.0.borrow().clone();
    (report, bytes)
}

/// Runs a scenario and returns the report and the parsed trace.
pub fn run_trace(s: &Scenario, seed: Option<u64>) -> (RunReport, TraceFile<StackEvent>) {
    let (report, bytes) = run_bytes(s, seed, Planted::NONE);
    let trace = read_from(BufReader::new(&bytes[..]), "memory").expect("the trace reads back");
    (report, trace)
}

/// The id of a process in a trace, by name.
pub fn pid(trace: &TraceFile<StackEvent>, name: &str) -> partsim::sim::ProcessId {
    let i = trace
        .header
        .processes
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no process {name}"));
    partsim::sim::ProcessId(i as u32)
}

/// Events of the trace matching a predicate.
pub fn events<'a>(
    trace: &'a TraceFile<StackEvent>,
    f: impl Fn(&Record<StackEvent>) -> bool + 'a,
) -> impl Iterator<Item = &'a Record<StackEvent>> + 'a {
    trace.events.iter().filter(move |r| f(r))
}

/// True for a message event (send, deliver or drop).
pub fn is_message(b: &Body<StackEvent>) -> bool {
    matches!(
        b,
        Body::Send { .. } | Body::Deliver { .. } | Body::Drop { .. }
    )
}

/// Loads `scenarios/NAME.toml`; returns its path as printed in reproduce
/// lines and the scenario.
pub fn load_named(name: &str) -> (String, Scenario) {
    let rel = format!("scenarios/{name}.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel);
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    (rel, s)
}

/// Sweeps `s` over `seeds` (as `partsim sweep` does) and logs the outcome;
/// `Err` describes the failing seeds when any seed failed or any checker fired.
#[allow(clippy::disallowed_methods)] // Wall time of the sweep, for the log only.
pub fn sweep_clean(
    rel: &str,
    s: &Scenario,
    seeds: std::ops::Range<u64>,
    jobs: usize,
) -> Result<(), String> {
    let opts = partsim::sweep::SweepOptions {
        seeds: seeds.into(),
        jobs,
        shard: None,
        planted: Planted::NONE,
        scenario_path: rel.to_string(),
        progress: None,
        fail_fast: false,
        trace_dir: None,
        duration: None,
    };
    let started = std::time::Instant::now();
    let report = partsim::sweep::sweep(s, &opts).map_err(|e| e.to_string())?;
    eprintln!(
        "{rel} ({}): {}/{} seeds held, violations {:?} ({:.2?})",
        s.duration,
        report.passed,
        report.seeds,
        report.violations_by_check,
        started.elapsed()
    );
    if report.passed == report.seeds && report.violations_by_check.is_empty() {
        return Ok(());
    }
    let first: Vec<_> = report
        .failures
        .iter()
        .take(3)
        .map(|f| (f.seed, f.failure.clone()))
        .collect();
    Err(format!(
        "{rel}: {}/{} seeds held, violations {:?}; first failures: {first:?}; reproduce: {}",
        report.passed,
        report.seeds,
        report.violations_by_check,
        report.reproduce.unwrap_or_default()
    ))
}

/// Runs `scenarios/NAME.toml` with `bug` planted, seed after seed over
/// `seeds`, until `check` reports a violation; prints where and returns the
/// catching seed, or panics if no seed catches it.
pub fn first_catching_seed(
    bug: partsim::stack::planted::Bug,
    name: &str,
    check: &str,
    seeds: std::ops::Range<u64>,
) -> u64 {
    let (rel, s) = load_named(name);
    for seed in seeds.clone() {
        let opts = RunOptions {
            seed: Some(seed),
            planted: Planted::NONE.with(bug),
            scenario_path: Some(rel.clone()),
            ..RunOptions::default()
        };
        let report = run::run(&s, opts).expect("the run completes");
        if let Some(v) = report.violations.iter().find(|v| v.check == check) {
            eprintln!(
                "{bug}: caught by {name} at seed {seed}: {check} at {}: {}\n  reproduce: {}",
                v.t, v.detail, report.reproduce
            );
            return seed;
        }
    }
    panic!(
        "{bug}: {check} never fired on {name} over seeds {}..{}",
        seeds.start, seeds.end
    );
}

/// Runs `s` (seed, planted bugs) and checks its trace offline; `Err` says
/// where the offline verdicts differ from the run's, checker by checker
/// (each violation as checker and virtual time).
pub fn offline_agrees_with_online(
    label: &str,
    s: &Scenario,
    seed: Option<u64>,
    planted: Planted,
) -> Result<(), String> {
    let (report, bytes) = run_bytes(s, seed, planted);
    let offline = partsim::check::offline::check_reader(BufReader::new(&bytes[..]), "memory")
        .expect("the trace reads back");
    let mut online: Vec<(String, u64)> = report
        .violations
        .iter()
        .map(|v| (v.check.clone(), v.t.0))
        .collect();
    let mut found: Vec<(String, u64)> = offline
        .violations
        .iter()
        .map(|v| (v.check.clone(), v.t.0))
        .collect();
    online.sort();
    found.sort();
    if online == found {
        Ok(())
    } else {
        Err(format!(
            "{label}: online {online:?} but offline {found:?} (reproduce: {})",
            report.reproduce
        ))
    }
}

/// A fresh scratch directory for one test, under Cargo's per-target temp
/// directory (never the system's): `target/tmp/partsim-TAG-PID`.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs the `partsim` binary in the crate's directory.
pub fn partsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// Exit code of a finished command.
pub fn code(o: &std::process::Output) -> i32 {
    o.status.code().expect("exited with a code")
}

/// Standard output and error, as text.
pub fn out_err(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `s` with `opts` (its trace kept in memory) and returns the report
/// and the trace bytes.
pub fn run_with(s: &Scenario, mut opts: RunOptions) -> (RunReport, Vec<u8>) {
    let buf = Buffer::default();
    opts.trace_out = Some(Box::new(buf.clone()));
    let report = run::run(s, opts).expect("the run completes");
    let bytes = buf.0.borrow().clone();
    (report, bytes)
}

/// Runs the `partsim` binary from the crate's root: exit code, stdout,
/// stderr.
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        o.status.code().expect("exited"),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A path for `name` in this test process's own directory `group` under
/// the target's temp dir (never the system's).
pub fn tmp_file(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-{group}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}
