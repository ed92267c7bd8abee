//! `partsim sweep-merge`: one report from the `--json` outputs of a sweep
//! split with `--shard I/N` across machines.
//!
//! Shards of one sweep hold disjoint seeds of one scenario; the merge adds
//! the counts, concatenates the per-seed results in seed order, sums the
//! violations per checker and combines the metric aggregates. Counts,
//! minima, maxima and means combine exactly; a median does not (the shards
//! carry aggregates, not values), so the merged median is `null` and the
//! human report says so.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard is not a sweep report.
    #[error("{0}: not a `partsim sweep --json` report: {1}")]
    Shape(String, String),
    /// Shards of different scenarios.
    #[error("{0}: scenario {1:?} differs from {2:?} of the first shard")]
    Scenario(String, String, String),
    /// A seed appears in two shards.
    #[error("{0}: seed {1} is also in an earlier shard (overlapping shards)")]
    Overlap(String, u64),
    /// No shard given.
    #[error("no shard reports given")]
    Empty,
}

fn u(v: &Value, key: &str, file: &str) -> Result<u64, MergeError> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| MergeError::Shape(file.into(), format!("no integer `{key}`")))
}

fn seed_of(v: &Value) -> u64 {
    v.get("seed").and_then(Value::as_u64).unwrap_or(u64::MAX)
}

/// Merges shard reports (`(file name, parsed JSON)`) into one report of
/// the same shape.
pub fn merge(shards: &[(String, Value)]) -> Result<Value, MergeError> {
    let (first_file, first) = shards.first().ok_or(MergeError::Empty)?;
    let scenario = first
        .get("scenario")
        .and_then(Value::as_str)
        .ok_or_else(|| MergeError::Shape(first_file.clone(), "no `scenario`".into()))?
        .to_string();
    let (mut seeds, mut planned, mut passed) = (0u64, 0u64, 0u64);
    let mut stopped_early = false;
    let mut per_seed: Vec<Value> = Vec::new();
    let mut failures: Vec<Value> = Vec::new();
    let mut seen: BTreeMap<u64, ()> = BTreeMap::new();
    let mut violations: BTreeMap<String, u64> = BTreeMap::new();
    // metric -> (count, min, max, sum)
    let mut metrics: BTreeMap<String, (u64, f64, f64, f64)> = BTreeMap::new();
    let mut reproduce: Option<(u64, Value)> = None;
    let mut coverage = crate::coverage::Coverage::new();
    for (file, v) in shards {
        let name = v.get("scenario").and_then(Value::as_str).unwrap_or("");
        if name != scenario {
            return Err(MergeError::Scenario(file.clone(), name.into(), scenario));
        }
        seeds += u(v, "seeds", file)?;
        planned += v
            .get("seeds_planned")
            .and_then(Value::as_u64)
            .unwrap_or(u(v, "seeds", file)?);
        passed += u(v, "passed", file)?;
        stopped_early |= v
            .get("stopped_early")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let list = |key: &str| -> Result<Vec<Value>, MergeError> {
            match v.get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a.clone()),
                Some(_) => Err(MergeError::Shape(
                    file.clone(),
                    format!("`{key}` is not a list"),
                )),
            }
        };
        for r in list("per_seed")? {
            let seed = seed_of(&r);
            if seen.insert(seed, ()).is_some() {
                return Err(MergeError::Overlap(file.clone(), seed));
            }
            per_seed.push(r);
        }
        let shard_failures = list("failures")?;
        if let (Some(f), Some(cmd)) = (shard_failures.first(), v.get("reproduce"))
            && !cmd.is_null()
            && reproduce.as_ref().is_none_or(|(s, _)| seed_of(f) < *s)
        {
            reproduce = Some((seed_of(f), cmd.clone()));
        }
        failures.extend(shard_failures);
        if let Some(c) = v.get("coverage") {
            let reached: BTreeMap<String, u64> = c
                .get("reached")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default();
            let runs = c.get("runs").and_then(Value::as_u64).unwrap_or(0);
            coverage.merge(runs, &reached);
        }
        if let Some(Value::Object(m)) = v.get("violations_by_check") {
            for (k, n) in m {
                *violations.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        if let Some(Value::Object(m)) = v.get("metrics") {
            for (k, a) in m {
                let count = a.get("count").and_then(Value::as_u64).unwrap_or(0);
                if count == 0 {
                    continue;
                }
                let f = |key: &str| a.get(key).and_then(Value::as_f64).unwrap_or(0.0);
                let e =
                    metrics
                        .entry(k.clone())
                        .or_insert((0, f64::INFINITY, f64::NEG_INFINITY, 0.0));
                e.0 += count;
                e.1 = e.1.min(f("min"));
                e.2 = e.2.max(f("max"));
                e.3 += f("mean") * count as f64;
            }
        }
    }
    per_seed.sort_by_key(seed_of);
    failures.sort_by_key(seed_of);
    let metrics: Map<String, Value> = metrics
        .into_iter()
        .map(|(k, (count, min, max, sum))| {
            (
                k,
                json!({"count": count, "min": min, "median": null, "max": max, "mean": sum / count as f64}),
            )
        })
        .collect();
    Ok(json!({
        "scenario": scenario,
        "seeds": seeds,
        "seeds_planned": planned,
        "stopped_early": stopped_early,
        "passed": passed,
        "failures": failures,
        "per_seed": per_seed,
        "violations_by_check": violations,
        "metrics": metrics,
        "reproduce": reproduce.map_or(Value::Null, |(_, c)| c),
        "coverage": coverage,
        "shards": shards.len(),
    }))
}

/// The merged report for a person (what `sweep-merge` prints without `--json`).
pub fn render(m: &Value, shards: usize) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let failures = m["failures"].as_array().map_or(0, Vec::len);
    let _ = writeln!(
        o,
        "{}  {}: {}/{} seeds held their expectations ({shards} shards)",
        if failures == 0 { "PASS" } else { "FAIL" },
        m["scenario"].as_str().unwrap_or(""),
        m["passed"],
        m["seeds"],
    );
    if let Some(v) = m["violations_by_check"].as_object() {
        for (k, n) in v {
            let _ = writeln!(o, "  violations {k}: {n}");
        }
    }
    if let Some(v) = m["metrics"].as_object() {
        for (k, a) in v {
            let _ = writeln!(
                o,
                "  metric     {k}: n={} min={:.1} mean={:.1} max={:.1} (median: not mergeable from shard aggregates)",
                a["count"],
                a["min"].as_f64().unwrap_or(0.0),
                a["mean"].as_f64().unwrap_or(0.0),
                a["max"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(f) = m["failures"].as_array() {
        for f in f.iter().take(10) {
            let _ = writeln!(
                o,
                "  seed {:<6} {}",
                f["seed"],
                f["failure"].as_str().unwrap_or("failed")
            );
        }
    }
    if let Some(cmd) = m["reproduce"].as_str() {
        let _ = writeln!(o, "  reproduce  {cmd}");
    }
    if let Ok(c) = serde_json::from_value::<CoverageIn>(m["coverage"].clone()) {
        let mut cov = crate::coverage::Coverage::new();
        cov.merge(c.runs, &c.reached);
        o.push_str(&cov.render());
    }
    o
}

#[derive(serde::Deserialize)]
struct CoverageIn {
    runs: u64,
    reached: BTreeMap<String, u64>,
}
