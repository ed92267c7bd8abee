//! `partsim bench lincheck`: the checker's speed on this machine.
//!
//! Seeded suites of hard single-register histories — many concurrent
//! processes, cas-heavy, many `info` operations, hundreds to thousands of
//! operations per key — each history checked as generated (linearizable) and
//! with one read corrupted to return a value written only after it
//! completed (not linearizable; the search must rule out every order of
//! what precedes it); an etcd-shaped suite after the
//! Jepsen etcd logs Porcupine benchmarks on (five clients, values 0–4 so that
//! values repeat, timeouts renumbering the process); and one 30,000-operation
//! many-key history shaped like a 60 s run at 500 operations/s. Only the
//! check is timed (not the generation). Every verdict is verified: a
//! generated history must be linearizable and a corrupted one must not.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::generate::{Corruption, Shape, corrupt_read, generate, generate_etcd_like};
use super::{History, Options, Verdict, check_history};

/// One suite's figures.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteResult {
    /// Suite name.
    pub name: String,
    /// What its histories look like.
    pub shape: String,
    /// Histories checked (generated + corrupted).
    pub histories: usize,
    /// Operations over all histories.
    pub operations: usize,
    /// Wall time of the checks.
    pub wall_s: f64,
    /// Operations checked per wall second.
    pub ops_per_s: f64,
    /// Search steps over all histories.
    pub steps: u64,
    /// The slowest history: its seed, whether corrupted, ops, wall ms.
    pub slowest: Slowest,
}

/// The slowest history of a suite.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Slowest {
    /// Generator seed.
    pub seed: u64,
    /// True if one read was corrupted.
    pub corrupted: bool,
    /// Operations.
    pub operations: usize,
    /// Wall milliseconds.
    pub wall_ms: f64,
    /// Search steps.
    pub steps: u64,
}

/// Every suite, and the run-shaped history.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The single-register and etcd-shaped suites.
    pub suites: Vec<SuiteResult>,
    /// The 30,000-operation many-key history.
    pub run_like: SuiteResult,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lincheck: every verdict verified (generated = linearizable, corrupted = not)"
        )?;
        for s in self.suites.iter().chain(std::iter::once(&self.run_like)) {
            writeln!(f, "  {:<12} {}", s.name, s.shape)?;
            writeln!(
                f,
                "  {:<12} {} histories, {} ops in {:.3} s = {:.0} ops/s, {} steps; slowest: seed {}{} ({} ops) {:.1} ms",
                "",
                s.histories,
                s.operations,
                s.wall_s,
                s.ops_per_s,
                s.steps,
                s.slowest.seed,
                if s.slowest.corrupted {
                    " corrupted"
                } else {
                    ""
                },
                s.slowest.operations,
                s.slowest.wall_ms
            )?;
        }
        Ok(())
    }
}

/// Check one history, verify its verdict, return (wall, steps).
fn timed(history: &History, expect: Verdict, what: &str) -> Result<(Duration, u64), String> {
    #[allow(clippy::disallowed_methods)] // the benchmark measures wall time
    let start = Instant::now();
    // A bound, so that a pathological history shows as a failure rather than a hang.
    let options = Options {
        timeout: Some(Duration::from_secs(60)),
        max_steps: None,
    };
    let report = check_history(history, &options);
    let wall = start.elapsed();
    if report.verdict != expect {
        return Err(format!(
            "{what}: expected {}, got {}\n{}",
            expect.label(),
            report.verdict.label(),
            report.render()
        ));
    }
    Ok((wall, report.steps))
}

fn suite(
    name: &str,
    shape_text: String,
    seeds: std::ops::Range<u64>,
    make: impl Fn(u64) -> History,
    corrupt: bool,
) -> Result<SuiteResult, String> {
    let mut r = SuiteResult {
        name: name.to_string(),
        shape: shape_text,
        histories: 0,
        operations: 0,
        wall_s: 0.0,
        ops_per_s: 0.0,
        steps: 0,
        slowest: Slowest::default(),
    };
    for seed in seeds {
        let good = make(seed);
        let mut cases = vec![(good.clone(), false)];
        // A read of a value written only later (the search must exhaust what
        // precedes it), else of a value never written.
        let bad = corrupt_read(&good, Corruption::FromTheFuture, seed)
            .or_else(|| corrupt_read(&good, Corruption::NeverWritten, seed));
        if corrupt && let Some((bad, _)) = bad {
            cases.push((bad, true));
        }
        for (history, corrupted) in cases {
            let expect = if corrupted {
                Verdict::NotLinearizable
            } else {
                Verdict::Linearizable
            };
            let (wall, steps) = timed(&history, expect, &format!("{name} seed {seed}"))?;
            r.histories += 1;
            r.operations += history.len();
            r.wall_s += wall.as_secs_f64();
            r.steps += steps;
            let ms = wall.as_secs_f64() * 1e3;
            if ms >= r.slowest.wall_ms {
                r.slowest = Slowest {
                    seed,
                    corrupted,
                    operations: history.len(),
                    wall_ms: ms,
                    steps,
                };
            }
        }
    }
    r.ops_per_s = r.operations as f64 / r.wall_s.max(1e-9);
    Ok(r)
}

fn describe(s: &Shape) -> String {
    format!(
        "{} ops, {} key{}, {} concurrent, read {:.0}% cas {:.0}% info {:.0}%",
        s.operations,
        s.keys,
        if s.keys == 1 { "" } else { "s" },
        s.concurrency,
        s.read_ratio * 100.0,
        s.cas_ratio * 100.0,
        s.info_ratio * 100.0
    )
}

/// The single-register suites.
pub fn hard_shapes() -> Vec<(&'static str, Shape, u64)> {
    let base = Shape {
        keys: 1,
        concurrency: 16,
        operations: 1000,
        read_ratio: 0.3,
        cas_ratio: 0.5,
        info_ratio: 0.1,
        think_mean: 2,
        latency_mean: 20,
        value_domain: 0,
    };
    vec![
        ("cas-heavy", base.clone(), 20),
        (
            "info-heavy",
            Shape {
                info_ratio: 0.3,
                cas_ratio: 0.3,
                read_ratio: 0.4,
                ..base.clone()
            },
            20,
        ),
        (
            "wide",
            Shape {
                concurrency: 48,
                operations: 2000,
                ..base.clone()
            },
            10,
        ),
        (
            "long",
            Shape {
                concurrency: 8,
                operations: 5000,
                info_ratio: 0.05,
                ..base
            },
            5,
        ),
    ]
}

/// The 60 s × 500 ops/s run: 30,000 operations over 1,024 cells, 20 clients,
/// 2–3 ms latency, 1 % timeouts; times in µs.
pub fn run_like_shape() -> Shape {
    Shape {
        keys: 1024,
        concurrency: 20,
        operations: 30_000,
        read_ratio: 0.5,
        cas_ratio: 0.1,
        info_ratio: 0.01,
        think_mean: 37_500,
        latency_mean: 2_500,
        value_domain: 0,
    }
}

/// Run every suite. An `Err` is a wrong verdict (a bug in the checker).
pub fn run() -> Result<BenchReport, String> {
    let mut suites = Vec::new();
    for (name, shape, seeds) in hard_shapes() {
        suites.push(suite(
            name,
            describe(&shape),
            0..seeds,
            |s| generate(&shape, s),
            true,
        )?);
    }
    suites.push(suite(
        "etcd-like",
        "Porcupine's Jepsen etcd inputs: ~300 ops, 5 clients, values 0-4, read/write/cas 1/3 each, timeouts".into(),
        0..100,
        generate_etcd_like,
        true,
    )?);
    let shape = run_like_shape();
    let run_like = suite(
        "run-like",
        describe(&shape),
        0..1,
        |s| generate(&shape, s),
        true,
    )?;
    Ok(BenchReport { suites, run_like })
}
