//! `partsim sweep`: one scenario over a range of seeds, on worker threads.
//!
//! Every run is the same deterministic simulation `partsim run` does (each
//! on one thread, sharing nothing), so the sweep's verdict for a seed is
//! exactly what `partsim run --seed N` says; the threads only change how
//! long the sweep takes. Results are reported in seed order, failures with
//! the command that reproduces them, and numeric metrics are aggregated
//! across seeds (e.g. the median and maximum leader failover time).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::run::{self, RunOptions};
use crate::scenario::Scenario;
use crate::stack::planted::Planted;

/// One seed's outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Every expectation held.
    pub passed: bool,
    /// The first failed expectation or violation, for a person.
    pub failure: Option<String>,
    /// Violations by checker.
    pub violations: BTreeMap<String, u64>,
}

/// A metric across seeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Aggregate {
    /// Values seen (a per-seed list contributes each of its values).
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// What a sweep found.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SweepReport {
    /// Scenario name.
    pub scenario: String,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds whose expectations held.
    pub passed: u64,
    /// The seeds that failed, in order.
    pub failures: Vec<SeedResult>,
    /// Violations by checker, over all seeds.
    pub violations_by_check: BTreeMap<String, u64>,
    /// Numeric metrics over all seeds.
    pub metrics: BTreeMap<String, Aggregate>,
    /// How to reproduce the first failure.
    pub reproduce: Option<String>,
}

/// A seed range `A..B` (B exclusive) or a single seed `A`.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let bad = || format!("{text:?} is not a seed range: write A..B (B exclusive), e.g. 0..200");
    match text.split_once("..") {
        Some((a, b)) => {
            let a: u64 = a.trim().parse().map_err(|_| bad())?;
            let b: u64 = b.trim().parse().map_err(|_| bad())?;
            if b <= a {
                return Err(format!("{text:?}: the range is empty (B must be above A)"));
            }
            Ok(a..b)
        }
        None => {
            let a: u64 = text.trim().parse().map_err(|_| bad())?;
            Ok(a..a.saturating_add(1))
        }
    }
}

/// A shard `I/N` (1-based): this process runs every N-th seed starting at the I-th.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{text:?} is not a shard: write I/N with 1 <= I <= N, e.g. 2/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let i: u64 = i.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Called after each finished seed with (seeds done, seeds in all, failed so far).
pub type Progress = Box<dyn Fn(u64, u64, u64) + Sync>;

/// Options of a sweep.
pub struct SweepOptions {
    /// Seeds to run.
    pub seeds: Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// `(I, N)`: run only seeds whose position in the range is `I-1 mod N`.
    pub shard: Option<(u64, u64)>,
    /// Planted bugs.
    pub planted: Planted,
    /// The scenario file, for reproduce lines.
    pub scenario_path: String,
    /// Reports progress (on a terminal).
    pub progress: Option<Progress>,
}

/// Runs the sweep.
#[allow(clippy::disallowed_methods)] // The sweep runner is where worker threads are allowed (DESIGN §2).
pub fn sweep(s: &Scenario, opts: &SweepOptions) -> SweepReport {
    let seeds: Vec<u64> = opts
        .seeds
        .clone()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|(k, n)| (*i as u64) % n == k - 1))
        .map(|(_, s)| s)
        .collect();
    let total = seeds.len() as u64;
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let results: Mutex<Vec<(SeedResult, BTreeMap<String, serde_json::Value>)>> =
        Mutex::new(Vec::new());
    let jobs = opts.jobs.clamp(1, 64).min(seeds.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let outcome = run_one(s, seed, opts);
                    if !outcome.0.passed {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(p) = &opts.progress {
                        p(d, total, failed.load(Ordering::Relaxed));
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(outcome);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(r, _)| r.seed);
    let mut violations_by_check = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (r, metrics) in &results {
        for (k, n) in &r.violations {
            *violations_by_check.entry(k.clone()).or_insert(0) += n;
        }
        for (k, v) in metrics {
            // Per-run aggregates (…_median, …_max) are recomputed from the raw values.
            if k.ends_with("_median") || k.ends_with("_max") {
                continue;
            }
            let list = values.entry(k.clone()).or_default();
            match v {
                serde_json::Value::Number(n) => list.extend(n.as_f64()),
                serde_json::Value::Array(a) => list.extend(a.iter().filter_map(|x| x.as_f64())),
                _ => {}
            }
        }
    }
    let metrics = values
        .into_iter()
        .filter_map(|(k, v)| aggregate(v).map(|a| (k, a)))
        .collect();
    let failures: Vec<SeedResult> = results
        .iter()
        .filter(|(r, _)| !r.passed)
        .map(|(r, _)| r.clone())
        .collect();
    let reproduce = failures.first().map(|f| {
        let mut cmd = format!("partsim run {} --seed {}", opts.scenario_path, f.seed);
        for bug in opts.planted.names() {
            cmd.push_str(&format!(" --plant {bug}"));
        }
        cmd
    });
    SweepReport {
        scenario: s.name.clone(),
        seeds: results.len() as u64,
        passed: results.iter().filter(|(r, _)| r.passed).count() as u64,
        failures,
        violations_by_check,
        metrics,
        reproduce,
    }
}

fn run_one(
    s: &Scenario,
    seed: u64,
    opts: &SweepOptions,
) -> (SeedResult, BTreeMap<String, serde_json::Value>) {
    let run_opts = RunOptions {
        seed: Some(seed),
        planted: opts.planted,
        scenario_path: Some(opts.scenario_path.clone()),
        ..RunOptions::default()
    };
    match run::run(s, run_opts) {
        Ok(r) => {
            let failure = r
                .expectations
                .iter()
                .find(|e| !e.held)
                .map(|e| format!("{}: {}", e.what, e.detail));
            let mut violations = BTreeMap::new();
            for v in &r.violations {
                *violations.entry(v.check.clone()).or_insert(0) += 1;
            }
            (
                SeedResult {
                    seed,
                    passed: r.passed,
                    failure,
                    violations,
                },
                r.metrics,
            )
        }
        Err(e) => (
            SeedResult {
                seed,
                passed: false,
                failure: Some(format!("the run failed: {e}")),
                violations: BTreeMap::new(),
            },
            BTreeMap::new(),
        ),
    }
}

fn aggregate(mut v: Vec<f64>) -> Option<Aggregate> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Aggregate {
        count: n,
        min: v[0],
        median,
        max: v[n - 1],
        mean: v.iter().sum::<f64>() / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_and_shards_parse() {
        assert_eq!(parse_seeds("0..200"), Ok(0..200));
        assert_eq!(parse_seeds("7"), Ok(7..8));
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(
            parse_shard("0/4").is_err() && parse_shard("5/4").is_err() && parse_shard("x").is_err()
        );
    }

    #[test]
    fn aggregates_are_order_statistics() {
        let a = aggregate(vec![5.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            (a.count, a.min, a.median, a.max, a.mean),
            (4, 1.0, 2.5, 5.0, 2.75)
        );
        assert!(aggregate(vec![]).is_none());
    }
}
