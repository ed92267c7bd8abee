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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use crate::coverage::Coverage;
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;
use crate::sim::{SimDuration, SimTime};
use crate::stack::planted::Planted;

/// One seed's outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Every judged expectation held.
    pub passed: bool,
    /// `"pass"` or `"fail"`, as `partsim run` prints it.
    pub verdict: &'static str,
    /// Digest of the run's trace (what `partsim run --seed N` reports).
    pub digest: String,
    /// Virtual time at which the run ended, µs.
    pub ended_at: SimTime,
    /// Expectations the run could not judge.
    pub unjudged: usize,
    /// The checker whose violation failed the seed, if one did.
    pub failing_check: Option<String>,
    /// Virtual time of that violation, µs.
    pub failing_at: Option<SimTime>,
    /// The first failed expectation or violation, for a person.
    pub failure: Option<String>,
    /// Violations by checker.
    pub violations: BTreeMap<String, u64>,
    /// Where its trace was written (`--trace-dir`, failing seeds only).
    pub trace: Option<String>,
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
    /// Seeds the range (and shard) held; more than `seeds` when
    /// `--fail-fast` stopped the sweep.
    pub seeds_planned: u64,
    /// True when `--fail-fast` stopped the sweep at a failure.
    pub stopped_early: bool,
    /// Seeds whose expectations held.
    pub passed: u64,
    /// The seeds that failed, in order.
    pub failures: Vec<SeedResult>,
    /// Every seed run, in order (digest, verdict, failing checker).
    pub per_seed: Vec<SeedResult>,
    /// Violations by checker, over all seeds.
    pub violations_by_check: BTreeMap<String, u64>,
    /// Numeric metrics over all seeds.
    pub metrics: BTreeMap<String, Aggregate>,
    /// How to reproduce the first failure.
    pub reproduce: Option<String>,
    /// Coverage probes: how many seeds reached each, and those none reached.
    pub coverage: Coverage,
}

/// Seeds to sweep: `first..=last`, never empty, iterated lazily (a range
/// of a hundred billion seeds costs nothing until its seeds run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// The first seed.
    pub first: u64,
    /// The last seed (inclusive, so that `u64::MAX` is a seed like any other).
    pub last: u64,
}

impl SeedRange {
    /// How many seeds (up to 2^64, hence `u128`).
    pub fn len(&self) -> u128 {
        u128::from(self.last - self.first) + 1
    }

    /// Never true: an empty range is refused when parsed.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Seeds of shard `(i, n)` (1-based): positions `i-1, i-1+n, …`.
    pub fn shard_len(&self, shard: Option<(u64, u64)>) -> u128 {
        match shard {
            None => self.len(),
            Some((i, n)) => {
                let offset = u128::from(i - 1);
                let len = self.len();
                if offset >= len {
                    0
                } else {
                    (len - offset).div_ceil(u128::from(n))
                }
            }
        }
    }

    /// The `j`-th seed of shard `shard` (no bounds check beyond `shard_len`).
    pub fn shard_seed(&self, shard: Option<(u64, u64)>, j: u128) -> u64 {
        let position = match shard {
            None => j,
            Some((i, n)) => u128::from(i - 1) + j * u128::from(n),
        };
        // position < len <= 2^64 and first + position <= last: it fits.
        (u128::from(self.first) + position) as u64
    }
}

impl From<Range<u64>> for SeedRange {
    /// `a..b` with `b > a` (an empty range panics: it is the caller's bug).
    fn from(r: Range<u64>) -> Self {
        assert!(r.end > r.start, "an empty seed range");
        SeedRange {
            first: r.start,
            last: r.end - 1,
        }
    }
}

/// A seed range `A..B` (B exclusive), `A..=B` (B inclusive) or a single seed
/// `A`. An empty range is refused: a sweep of zero seeds would pass having
/// run nothing.
pub fn parse_seeds(text: &str) -> Result<SeedRange, String> {
    let bad = || {
        format!(
            "{text:?} is not a seed range: write A..B (B exclusive), A..=B or one seed, e.g. 0..200"
        )
    };
    let num = |t: &str| -> Result<u64, String> {
        t.trim().parse::<u64>().map_err(|_| {
            if t.trim().parse::<u128>().is_ok() {
                format!("{text:?}: seeds are at most {}", u64::MAX)
            } else {
                bad()
            }
        })
    };
    if let Some((a, b)) = text.split_once("..=") {
        let (a, b) = (num(a)?, num(b)?);
        if b < a {
            return Err(format!(
                "{text:?}: the range is empty (B is below A): no seed to run"
            ));
        }
        return Ok(SeedRange { first: a, last: b });
    }
    match text.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b <= a {
                return Err(format!(
                    "{text:?}: the range is empty (B must be above A): no seed to run"
                ));
            }
            Ok(SeedRange {
                first: a,
                last: b - 1,
            })
        }
        None => {
            let a = num(text)?;
            Ok(SeedRange { first: a, last: a })
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
pub type Progress = Box<dyn Fn(u64, u128, u64) + Sync>;

/// Options of a sweep.
pub struct SweepOptions {
    /// Seeds to run.
    pub seeds: SeedRange,
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
    /// Stop handing out seeds after the first failure.
    pub fail_fast: bool,
    /// Write the trace of every failing seed into this directory.
    pub trace_dir: Option<std::path::PathBuf>,
    /// `--duration`, passed to every run.
    pub duration: Option<SimDuration>,
}

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The seed range (after sharding) holds no seed.
    #[error(
        "the sweep has no seed to run (shard {0} of the range is empty): a sweep of zero seeds would pass having checked nothing"
    )]
    NoSeeds(String),
}

/// Runs the sweep.
#[allow(clippy::disallowed_methods)] // The sweep runner is where worker threads are allowed (DESIGN §2).
pub fn sweep(s: &Scenario, opts: &SweepOptions) -> Result<SweepReport, SweepError> {
    let total = opts.seeds.shard_len(opts.shard);
    if total == 0 {
        let (i, n) = opts.shard.unwrap_or((1, 1));
        return Err(SweepError::NoSeeds(format!("{i}/{n}")));
    }
    // Seeds are handed out one at a time from a counter: nothing is
    // allocated per seed before it runs.
    let next = Mutex::new(0u128);
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let jobs = (opts.jobs.clamp(1, 64) as u128).min(total) as usize;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let j = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        if *n >= total {
                            break;
                        }
                        *n += 1;
                        *n - 1
                    };
                    let seed = opts.seeds.shard_seed(opts.shard, j);
                    let outcome = run_one(s, seed, opts);
                    if !outcome.0.passed {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if opts.fail_fast {
                            stop.store(true, Ordering::Relaxed);
                        }
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
    results.sort_by_key(|(r, _, _)| r.seed);
    let mut violations_by_check = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut coverage = Coverage::new();
    for (r, metrics, probes) in &results {
        coverage.add(probes);
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
        .filter(|(r, _, _)| !r.passed)
        .map(|(r, _, _)| r.clone())
        .collect();
    let reproduce = failures.first().map(|f| reproduce_line(opts, f.seed));
    let seeds = results.len() as u64;
    Ok(SweepReport {
        scenario: s.name.clone(),
        seeds,
        seeds_planned: u64::try_from(total).unwrap_or(u64::MAX),
        stopped_early: u128::from(seeds) < total,
        passed: results.iter().filter(|(r, _, _)| r.passed).count() as u64,
        failures,
        per_seed: results.into_iter().map(|(r, _, _)| r).collect(),
        violations_by_check,
        metrics,
        reproduce,
        coverage,
    })
}

/// The command that reproduces one seed of this sweep.
fn reproduce_line(opts: &SweepOptions, seed: u64) -> String {
    let mut cmd = format!("partsim run {} --seed {seed}", opts.scenario_path);
    if let Some(d) = opts.duration {
        cmd.push_str(&format!(" --duration {d}"));
    }
    for bug in opts.planted.names() {
        cmd.push_str(&format!(" --plant {bug}"));
    }
    cmd
}

/// One seed's result, its metrics and the probes it reached.
type Outcome = (SeedResult, BTreeMap<String, serde_json::Value>, Vec<String>);

fn run_one(s: &Scenario, seed: u64, opts: &SweepOptions) -> Outcome {
    let run_opts = RunOptions {
        seed: Some(seed),
        planted: opts.planted,
        scenario_path: Some(opts.scenario_path.clone()),
        duration: opts.duration,
        ..RunOptions::default()
    };
    match run::run(s, run_opts) {
        Ok(r) => {
            let failure = r
                .expectations
                .iter()
                .find(|e| e.judged && !e.held)
                .map(|e| format!("{}: {}", e.what, e.detail));
            let mut violations = BTreeMap::new();
            for v in &r.violations {
                *violations.entry(v.check.clone()).or_insert(0) += 1;
            }
            // The violation that failed the seed: the first one no
            // expectation asked for.
            let failing = (!r.passed)
                .then(|| {
                    r.violations
                        .iter()
                        .find(|v| !s.expect.violations.contains(&v.check))
                })
                .flatten();
            let trace = if r.passed {
                None
            } else {
                opts.trace_dir
                    .as_ref()
                    .map(|dir| write_trace(s, seed, opts, dir))
            };
            (
                SeedResult {
                    seed,
                    passed: r.passed,
                    verdict: if r.passed { "pass" } else { "fail" },
                    digest: r.trace_digest.clone(),
                    ended_at: r.ended_at,
                    unjudged: r.unjudged,
                    failing_check: failing.map(|v| v.check.clone()),
                    failing_at: failing.map(|v| v.t),
                    failure,
                    violations,
                    trace,
                },
                r.metrics,
                r.probes.into_keys().collect(),
            )
        }
        Err(e) => (
            SeedResult {
                seed,
                passed: false,
                verdict: "fail",
                digest: String::new(),
                ended_at: SimTime::ZERO,
                unjudged: 0,
                failing_check: None,
                failing_at: None,
                failure: Some(format!("the run failed: {e}")),
                violations: BTreeMap::new(),
                trace: None,
            },
            BTreeMap::new(),
            Vec::new(),
        ),
    }
}

/// Runs a failing seed again (it is deterministic) with its trace written
/// to `DIR/NAME-seed-N.jsonl`; returns the path, or why it could not.
fn write_trace(s: &Scenario, seed: u64, opts: &SweepOptions, dir: &std::path::Path) -> String {
    let path = dir.join(format!("{}-seed-{seed}.jsonl", s.name));
    let shown = path.display().to_string();
    let scenario_file = std::path::Path::new(&opts.scenario_path);
    if let Err(e) = crate::output::check_output(&path, &[scenario_file], false) {
        return format!("not written: {e}");
    }
    let file = match std::fs::File::create(&path) {
        Ok(f) => f,
        Err(e) => return format!("not written: {shown}: {e}"),
    };
    let run_opts = RunOptions {
        seed: Some(seed),
        planted: opts.planted,
        scenario_path: Some(opts.scenario_path.clone()),
        duration: opts.duration,
        trace_out: Some(Box::new(std::io::BufWriter::new(file))),
        ..RunOptions::default()
    };
    match run::run(s, run_opts) {
        Ok(_) => shown,
        Err(e) => format!("not written: {shown}: {e}"),
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
        assert_eq!(parse_seeds("0..200"), Ok(SeedRange::from(0..200)));
        assert_eq!(parse_seeds("7"), Ok(SeedRange { first: 7, last: 7 }));
        let max = parse_seeds("18446744073709551615").unwrap();
        assert_eq!((max.first, max.len()), (u64::MAX, 1));
        assert_eq!(
            parse_seeds("0..=18446744073709551615").unwrap().len(),
            1 << 64
        );
        assert!(
            parse_seeds("18446744073709551616")
                .unwrap_err()
                .contains("at most")
        );
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(
            parse_shard("0/4").is_err() && parse_shard("5/4").is_err() && parse_shard("x").is_err()
        );
    }

    #[test]
    fn shards_split_a_range_lazily() {
        let r = parse_seeds("0..99999999999").unwrap();
        assert_eq!(r.len(), 99_999_999_999);
        assert_eq!(r.shard_len(Some((2, 4))), 25_000_000_000);
        assert_eq!(r.shard_seed(Some((2, 4)), 3), 13);
        let small = parse_seeds("0..2").unwrap();
        assert_eq!(small.shard_len(Some((3, 4))), 0);
        let top = parse_seeds("18446744073709551614..=18446744073709551615").unwrap();
        assert_eq!(top.shard_seed(None, 1), u64::MAX);
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
