//! Shrinking a failing run to a minimal scenario (`partsim shrink`).
//!
//! ```text
//!   scenario + seed ──► run: fails with checker C at t
//!        │
//!        ├─ materialise [random] into explicit [[events]] (same seed, same faults)
//!        ├─ cut the duration to just past t
//!        ├─ delta-debug the events (drop halves, quarters, … single events)
//!        ├─ shorten each `until` span (halving)
//!        ├─ lower workload rate and clients, data nodes, managers
//!        └─ cut the duration again ──► a standalone scenario that still fails with C
//! ```
//!
//! Every candidate is written as TOML and parsed back, so it passes the
//! validator and the output file means exactly what was tested. A candidate
//! is kept only when the *same* checker still fires first; a candidate that
//! fails with another checker is rejected and counted as a changed failure,
//! so the report says when a reduction shifted the failure. Stream
//! independence (DESIGN §2) is what keeps the failure stable: removing one
//! fault does not reshuffle the workload's dice or the other faults.

use crate::run::{self, RunOptions, RunReport};
use crate::scenario::{self, EventSpec, Scenario};
use crate::sim::SimDuration;
use crate::sim::time::SimTime;
use crate::stack::planted::Planted;
use crate::trace::TraceLevel;

/// What identifies a failure: the checker that fired first, or (when no
/// checker fired) the first expectation that failed.
pub fn failure_signature(r: &RunReport) -> Option<String> {
    if let Some(v) = r.violations.first() {
        return Some(v.check.clone());
    }
    if r.passed {
        return None;
    }
    r.expectations
        .iter()
        .find(|e| !e.held)
        .map(|e| format!("expect: {}", e.what))
}

/// The time of the first violation, if any.
fn violation_time(r: &RunReport) -> Option<SimTime> {
    r.violations.first().map(|v| v.t)
}

/// Runs `s` with `seed` and `planted`, with the trace going nowhere.
pub fn run_quiet(s: &Scenario, seed: u64, planted: Planted) -> Option<RunReport> {
    let opts = RunOptions {
        seed: Some(seed),
        trace_out: None,
        trace_level: TraceLevel::Control,
        keep_going: false,
        planted,
        scenario_path: None,
        duration: None,
    };
    run::run(s, opts).ok()
}

/// `[random]` turned into explicit `[[events]]`: each drawn fault becomes an
/// entry with `at` and `until`, after the scenario's own entries (the
/// resolved timeline orders events before random faults at equal times, and
/// file order within events, so the order of steps is unchanged).
pub fn materialise(s: &Scenario, seed: u64) -> Scenario {
    let mut out = s.clone();
    for drawn in s.random_faults(seed) {
        out.events.push(EventSpec {
            at: drawn.begin,
            until: Some(drawn.end),
            action: drawn.action,
            line: 0,
        });
    }
    out.random = None;
    out
}

/// The scenario through its own file format: `None` when the validator
/// rejects it (a candidate that removed a `join` another event needs, a
/// replication factor above the node count, …).
pub fn roundtrip(s: &Scenario) -> Option<Scenario> {
    scenario::parse(&s.to_toml(), "candidate.toml").ok()
}

/// Clamps everything that must fall within the duration.
fn clamp_to_duration(s: &mut Scenario) {
    let end = s.end();
    s.events.retain(|e| e.at <= end);
    for e in &mut s.events {
        if let Some(u) = e.until
            && u > end
        {
            e.until = Some(end);
        }
    }
    if let Some(w) = &mut s.workload {
        if w.stop > end {
            w.stop = end;
        }
        if w.start > w.stop {
            w.start = w.stop;
        }
    }
    if let Some(r) = &mut s.random
        && let Some(h) = r.heal_at
        && h > end
    {
        r.heal_at = Some(end);
    }
    for t in [&mut s.expect.converged_by, &mut s.expect.leader_elected_by]
        .into_iter()
        .flatten()
    {
        if *t > end {
            *t = end;
        }
    }
}

/// One step the shrinker took, for the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShrinkStep {
    /// What was tried.
    pub what: String,
    /// Whether the failure survived (the candidate was kept).
    pub kept: bool,
}

/// What shrinking found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShrinkReport {
    /// The checker (or expectation) that fails, before and after.
    pub check: String,
    /// Explicit events before shrinking (after materialising `[random]`).
    pub events_before: usize,
    /// Explicit events after shrinking.
    pub events_after: usize,
    /// The original duration.
    pub duration_before: SimDuration,
    /// The minimal scenario's duration.
    pub duration_after: SimDuration,
    /// Runs made.
    pub runs: u64,
    /// Candidates that failed with another checker (rejected).
    pub changed_failures: Vec<String>,
    /// Steps kept, in order.
    pub steps: Vec<ShrinkStep>,
    /// The minimal scenario.
    #[serde(skip)]
    pub minimal: Scenario,
}

/// Why shrinking could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The run does not fail on that seed.
    #[error("the run passes with seed {0}: nothing to shrink")]
    Passes(u64),
    /// Materialising `[random]` changed the failure (it should not: report it).
    #[error("materialising [random] changed the failure from {0} to {1}")]
    Materialise(String, String),
}

/// The shrinker's state: the current smallest failing scenario.
struct Shrinker<'a> {
    seed: u64,
    planted: Planted,
    check: String,
    best: Scenario,
    best_t: Option<SimTime>,
    runs: u64,
    changed: Vec<String>,
    steps: Vec<ShrinkStep>,
    progress: Option<&'a mut dyn FnMut(&str)>,
}

impl Shrinker<'_> {
    /// Tests a candidate; keeps it when it fails with the same checker.
    fn attempt(&mut self, what: String, candidate: Scenario) -> bool {
        let Some(candidate) = roundtrip(&candidate) else {
            return false;
        };
        self.runs += 1;
        if let Some(p) = self.progress.as_mut() {
            p(&format!(
                "run {:>4}  {} events, {}  trying: {what}",
                self.runs,
                self.best.events.len(),
                self.best.duration
            ));
        }
        let Some(report) = run_quiet(&candidate, self.seed, self.planted) else {
            return false;
        };
        match failure_signature(&report) {
            Some(sig) if sig == self.check => {
                self.best_t = violation_time(&report);
                self.best = candidate;
                self.steps.push(ShrinkStep { what, kept: true });
                true
            }
            Some(other) => {
                if self.changed.len() < 50 {
                    self.changed
                        .push(format!("{what}: failed with {other} instead"));
                }
                false
            }
            None => false,
        }
    }

    /// Cuts the duration to just past the violation (1 s margin, and never
    /// before a liveness deadline the failure may depend on).
    fn cut_duration(&mut self) {
        let Some(t) = self.best_t else { return };
        let margin = SimDuration::from_secs(1);
        let mut target = SimDuration::from_micros(t.as_micros() + margin.as_micros());
        // Whole milliseconds keep the file readable.
        target = SimDuration::from_micros(target.as_micros().div_ceil(1000) * 1000);
        if target >= self.best.duration {
            return;
        }
        let mut c = self.best.clone();
        c.duration = target;
        clamp_to_duration(&mut c);
        self.attempt(format!("cut the duration to {target}"), c);
    }

    /// Delta debugging over the events: remove chunks of decreasing size
    /// until no single event can go (one-minimal).
    fn drop_events(&mut self) {
        let mut chunk = self.best.events.len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < self.best.events.len() {
                let n = self.best.events.len();
                let end = (start + chunk).min(n);
                let mut c = self.best.clone();
                c.events.drain(start..end);
                let what = if end - start == 1 {
                    format!("drop event {} ({})", start, self.best.events[start].action)
                } else {
                    format!("drop events {start}..{end} of {n}")
                };
                if !self.attempt(what, c) {
                    start += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    /// Halves each `until` span while the failure survives.
    fn shorten_spans(&mut self) {
        for i in 0..self.best.events.len() {
            for _ in 0..6 {
                let Some(e) = self.best.events.get(i) else {
                    break;
                };
                let Some(until) = e.until else { break };
                let span = until.as_micros().saturating_sub(e.at.as_micros());
                if span < 20_000 {
                    break;
                }
                let half = SimTime(e.at.as_micros() + span / 2);
                let mut c = self.best.clone();
                c.events[i].until = Some(half);
                if !self.attempt(format!("shorten event {i} to end at {half}"), c) {
                    break;
                }
            }
        }
    }

    /// Lowers workload and cluster sizes where the scenario allows.
    fn lower_sizes(&mut self) {
        while let Some(w) = &self.best.workload {
            if w.rate < 2.0 {
                break;
            }
            let rate = (w.rate / 2.0).floor();
            let mut c = self.best.clone();
            if let Some(w) = &mut c.workload {
                w.rate = rate;
            }
            if !self.attempt(format!("workload rate {rate}/s"), c) {
                break;
            }
        }
        while self.best.cluster.clients > 1 {
            let mut c = self.best.clone();
            c.cluster.clients -= 1;
            let n = c.cluster.clients;
            if !self.attempt(format!("{n} clients"), c) {
                break;
            }
        }
        while self.best.cluster.nodes > 1 {
            let mut c = self.best.clone();
            c.cluster.nodes -= 1;
            let n = c.cluster.nodes;
            if !self.attempt(format!("{n} data nodes"), c) {
                break;
            }
        }
        while self.best.cluster.managers > 1 {
            let mut c = self.best.clone();
            c.cluster.managers -= 1;
            let n = c.cluster.managers;
            if !self.attempt(format!("{n} managers"), c) {
                break;
            }
        }
    }
}

/// Shrinks the run of `s` on `seed` with `planted` bugs to a minimal
/// scenario that still fails with the same checker. `progress` receives
/// one line per run.
pub fn shrink(
    s: &Scenario,
    seed: u64,
    planted: Planted,
    progress: Option<&mut dyn FnMut(&str)>,
) -> Result<ShrinkReport, ShrinkError> {
    let original = run_quiet(s, seed, planted).ok_or(ShrinkError::Passes(seed))?;
    let check = failure_signature(&original).ok_or(ShrinkError::Passes(seed))?;
    let mut base = materialise(s, seed);
    base.seed = seed;
    let base = roundtrip(&base).unwrap_or(base);
    let events_before = base.events.len();
    let mut sh = Shrinker {
        seed,
        planted,
        check: check.clone(),
        best: base.clone(),
        best_t: violation_time(&original),
        runs: 1,
        changed: Vec::new(),
        steps: Vec::new(),
        progress,
    };
    if s.random.is_some() {
        sh.runs += 1;
        let r = run_quiet(&base, seed, planted);
        let sig = r.as_ref().and_then(failure_signature);
        if sig.as_deref() != Some(check.as_str()) {
            return Err(ShrinkError::Materialise(
                check,
                sig.unwrap_or_else(|| "a pass".into()),
            ));
        }
        sh.steps.push(ShrinkStep {
            what: format!("materialised [random] into {events_before} explicit events"),
            kept: true,
        });
    }
    sh.cut_duration();
    // Two passes: a reduction of one kind often opens another.
    for _ in 0..2 {
        let before = (sh.best.events.len(), sh.best.duration, sh.steps.len());
        sh.drop_events();
        sh.cut_duration();
        sh.shorten_spans();
        sh.lower_sizes();
        sh.cut_duration();
        if (sh.best.events.len(), sh.best.duration, sh.steps.len()) == before {
            break;
        }
    }
    Ok(ShrinkReport {
        check,
        events_before,
        events_after: sh.best.events.len(),
        duration_before: s.duration,
        duration_after: sh.best.duration,
        runs: sh.runs,
        changed_failures: sh.changed,
        steps: sh.steps,
        minimal: sh.best,
    })
}

/// The minimal scenario as a standalone, commented file.
pub fn minimal_file(r: &ShrinkReport, source: &str, seed: u64, planted: Planted) -> String {
    let mut out = String::new();
    let plant: String = planted
        .names()
        .iter()
        .map(|b| format!(" --plant {b}"))
        .collect();
    out.push_str(&format!(
        "# Minimal scenario: shrunk from {source} (seed {seed}{plant}).\n\
         # It fails with `{}`: {} explicit events before, {} after; duration {} -> {}.\n\
         # Reproduce: partsim run FILE{plant}   (the seed below is the failing one)\n",
        r.check, r.events_before, r.events_after, r.duration_before, r.duration_after
    ));
    out.push_str("# Steps kept:\n");
    for s in r.steps.iter().filter(|s| s.kept) {
        out.push_str(&format!("#   - {}\n", s.what));
    }
    if !r.changed_failures.is_empty() {
        out.push_str(&format!(
            "# {} reductions changed the failure and were rejected.\n",
            r.changed_failures.len()
        ));
    }
    out.push('\n');
    let mut s = r.minimal.clone();
    s.seed = seed;
    s.description = format!(
        "Shrunk from {source} seed {seed}: fails with {} (planted: {}).",
        r.check,
        if planted.is_empty() {
            "none".to_string()
        } else {
            planted.names().join(", ")
        }
    );
    out.push_str(&s.to_toml());
    out
}
