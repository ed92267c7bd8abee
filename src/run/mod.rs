//! One run of a scenario: build the world from the scenario, apply the
//! resolved fault timeline at its times, check as it goes, judge the
//! expectations at the end, and report.
//!
//! ```text
//!   Scenario ──► ClusterConfig ──► World<stack::host::Host> + Pipeline(checkers, trace writer)   build.rs
//!      │                                   ▲
//!      └──► resolve_schedule(seed) ──► run_until(step.at); apply(step) … run_until(end)   schedule.rs
//!                                          │
//!                                 finish_checks ──► expectations ──► RunReport          judge.rs
//! ```
//!
//! `check-determinism`'s line-by-line comparison lives in determinism.rs.

mod build;
mod determinism;
mod judge;
mod schedule;

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::check::verdict;
use crate::scenario::Scenario;
use crate::sim::{DropReason, ProcessId, SimDuration, SimTime};
use crate::stack::cluster::Kind;
use crate::stack::host::Host;
use crate::stack::planted::Planted;
use crate::trace::{self, TraceLevel};

/// How a protocol answers the timeline's selectors (`leader`, `any-node`,
/// …); defined beside the stack's process type, which implements it.
pub use crate::stack::host::Selectors;
pub use build::{TraceHeader, cluster_config, net_config, trace_header};
pub use determinism::{
    DeterminismReport, LineHashes, SharedSink, check_determinism, first_divergence,
};
pub use schedule::Timeline;

/// How to run.
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where the trace goes (`None`: nowhere, but the digest is still computed).
    pub trace_out: Option<Box<dyn Write>>,
    /// Which events are written.
    pub trace_level: TraceLevel,
    /// Keep running after a violation.
    pub keep_going: bool,
    /// Planted bugs (builds with the `planted-bugs` feature only).
    pub planted: Planted,
    /// The scenario file, for the reproduce line.
    pub scenario_path: Option<String>,
    /// Overrides the scenario's duration (`--duration`). Shorter: the run
    /// stops there, steps of the timeline past it never fire, and the run is
    /// a prefix of the full one. Longer: the scenario runs as if its
    /// `duration` said so (a soak; `[random]` keeps drawing faults).
    pub duration: Option<SimDuration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            trace_out: None,
            trace_level: TraceLevel::All,
            keep_going: false,
            planted: Planted::NONE,
            scenario_path: None,
            duration: None,
        }
    }
}

/// An expectation of `[expect]` and whether it held.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExpectResult {
    /// What was expected.
    pub what: String,
    /// Whether it held (false when not judged).
    pub held: bool,
    /// False when the run could not test it (its deadline lay past the end
    /// of the run, or a violation stopped the run first): not held, and not
    /// failed either.
    pub judged: bool,
    /// Why not, or what was seen.
    pub detail: String,
}

/// A checker and how it fared.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckResult {
    /// Its stable name.
    pub name: String,
    /// `safety` or `liveness`.
    pub kind: &'static str,
    /// Violations it reported.
    pub violations: u64,
    /// False when it judged nothing (a liveness checker whose deadline lay
    /// past the end, a checker of client operations in a run without any,
    /// an end-of-run check in a run a violation stopped): "ok" is never
    /// said of it.
    pub judged: bool,
    /// Why it was not judged, or what it left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CheckResult {
    /// Its standing in words: `ok`, `ok (note)`, `N violations` or
    /// `not judged (why)`.
    pub fn status(&self) -> String {
        match (self.violations, self.judged, &self.note) {
            (0, false, Some(why)) => format!("not judged ({why})"),
            (0, false, None) => "not judged".to_string(),
            (0, true, Some(note)) => format!("ok ({note})"),
            (0, true, None) => "ok".to_string(),
            (n, ..) => format!("{n} violations"),
        }
    }
}

/// The workload's rate as configured and as the clients reached it: a
/// client runs one operation at a time and skips operations overdue by
/// more than `timeout`, so a rate its round trips cannot carry is not
/// reached — the summary says so rather than pass it over.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkloadRate {
    /// `[workload] rate`: operations per second over all clients.
    pub configured: f64,
    /// Operations invoked per second over `window`.
    pub achieved: f64,
    /// Operations invoked.
    pub invoked: u64,
    /// From `[workload] start` to its `stop` or the end of the run.
    pub window: SimDuration,
    /// Set when the clients reached less than [`RATE_SHORTFALL`] of the
    /// configured rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Below this share of the configured rate the summary warns.
pub const RATE_SHORTFALL: f64 = 0.8;

/// The rate report of a run that ended at `now`, from the operations
/// invoked (every `op` event but the completions the `available`
/// checker counted).
fn workload_rate(
    s: &Scenario,
    now: SimTime,
    events_by_kind: &BTreeMap<String, u64>,
    metrics: &BTreeMap<String, serde_json::Value>,
) -> Option<WorkloadRate> {
    let w = s.workload.as_ref()?;
    let completed: u64 = ["ops_ok", "ops_fail", "ops_info"]
        .iter()
        .filter_map(|k| metrics.get(*k).and_then(|v| v.as_u64()))
        .sum();
    let invoked = events_by_kind
        .get("op")
        .copied()
        .unwrap_or(0)
        .saturating_sub(completed);
    let window = w.stop.min(now).saturating_since(w.start);
    let secs = window.as_micros() as f64 / 1e6;
    let achieved = if secs > 0.0 {
        (invoked as f64 / secs * 10.0).round() / 10.0
    } else {
        0.0
    };
    // Too short a window to tell a shortfall from the dice: no warning.
    let expected = w.rate * secs;
    let warning = (expected >= 20.0 && (invoked as f64) < RATE_SHORTFALL * expected).then(|| {
        format!(
            "the clients reached {achieved} of the configured {} operations/s ({invoked} invoked in {window}): each client runs one operation at a time and skips those overdue by more than the timeout",
            w.rate
        )
    });
    Some(WorkloadRate {
        configured: w.rate,
        achieved,
        invoked,
        window,
        warning,
    })
}

/// A violation, for reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ViolationReport {
    /// Virtual time, µs.
    pub t: SimTime,
    /// Checker.
    pub check: String,
    /// What was seen.
    pub detail: String,
}

/// Message counters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MessageCounts {
    /// Sent.
    pub sent: u64,
    /// Delivered (duplicates count twice).
    pub delivered: u64,
    /// Extra copies made by the network.
    pub duplicated: u64,
    /// Lost, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Timers fired.
    pub timers_fired: u64,
}

/// Everything a run found out.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Root seed used.
    pub seed: u64,
    /// Duration of the run (the scenario's, or `--duration`'s).
    pub duration: String,
    /// The scenario's own duration, when `--duration` changed it.
    pub scenario_duration: Option<String>,
    /// Steps of the fault timeline that never fired because the run ended
    /// before them (`--duration` shorter than the scenario).
    pub steps_cut: usize,
    /// Virtual time at which the run ended (earlier than `duration` if a violation halted it).
    pub ended_at: SimTime,
    /// True when every judged expectation held (exit code 0).
    pub passed: bool,
    /// Expectations not judged (never counted as held; see `judge.rs`).
    pub unjudged: usize,
    /// True when a violation stopped the run early.
    pub halted: bool,
    /// Digest of the resolved configuration.
    pub config_digest: String,
    /// Digest of the trace's event lines.
    pub trace_digest: String,
    /// Event lines written to the trace.
    pub trace_events: u64,
    /// Message and timer counters.
    pub messages: MessageCounts,
    /// Events by kind (every event, whatever the trace level).
    pub events_by_kind: BTreeMap<String, u64>,
    /// Faults begun, by kind.
    pub faults_by_kind: BTreeMap<String, u64>,
    /// Every checker and its count.
    pub checks: Vec<CheckResult>,
    /// The violations found (at most 100).
    pub violations: Vec<ViolationReport>,
    /// Violations found beyond those listed in `violations` (counted, not kept).
    pub unlisted_violations: u64,
    /// Each expectation and whether it held.
    pub expectations: Vec<ExpectResult>,
    /// The workload's rate, configured and achieved (runs with a workload).
    pub workload: Option<WorkloadRate>,
    /// Figures from the checkers (failover times, …).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// What each selector (`leader`, `any-node`, …) resolved to, in order.
    pub selectors: Vec<String>,
    /// Planted bugs active in the run.
    pub planted: Vec<&'static str>,
    /// Coverage probes reached (`cx.reached`), with how often: kept beside
    /// the trace, not in it.
    pub probes: BTreeMap<String, u64>,
    /// Fault points that fired (`cx.buggify`, when `[random] buggify` is on).
    pub buggified: BTreeMap<String, u64>,
    /// The command that reproduces this run.
    pub reproduce: String,
}

/// Why a run could not happen (bad input the validator could not see, or
/// an I/O failure writing the trace).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing the trace failed.
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}

/// Runs a scenario.
pub fn run(s: &Scenario, opts: RunOptions) -> Result<RunReport, RunError> {
    let seed = opts.seed.unwrap_or(s.seed);
    // A longer `--duration` is a longer scenario; a shorter one cuts the
    // same run short (same schedule, same dice), so it is a prefix of it.
    let scenario_duration = s.duration;
    let longer;
    let s = match opts.duration {
        Some(d) if d > s.duration => {
            let mut l = s.clone();
            l.duration = d;
            longer = l;
            &longer
        }
        _ => s,
    };
    let end = opts.duration.map_or_else(|| s.end(), |d| SimTime::ZERO + d);
    let build::Built {
        mut world,
        config,
        pipeline,
    } = build::build_world(
        s,
        seed,
        &opts.planted,
        opts.keep_going,
        opts.trace_level,
        opts.trace_out,
    )?;

    let deadline = s.expect.converged_by;
    let leader_deadline = s.expect.leader_elected_by.or(s.expect.converged_by);
    let mut timeline = schedule::Timeline::new(s, seed, pipeline);
    // `[expect]` deadlines are judged as they pass: a missed one is traced
    // there (and stops the run unless `--keep-going`).
    while let Some(d) = world
        .observer(pipeline)
        .and_then(|p| p.next_deadline(deadline, leader_deadline))
        .filter(|d| *d <= end)
    {
        timeline.run_before(&mut world, &*config, d);
        if world.now() < d {
            break; // a violation stopped the run before the deadline
        }
        let missed = world
            .observer_mut(pipeline)
            .map(|p| p.judge_deadlines(d, deadline, leader_deadline))
            .unwrap_or_default();
        for v in missed {
            world.report_violation(ProcessId::SIM, v);
        }
    }
    timeline.run_until(&mut world, &*config, end);
    let steps_cut = timeline.steps_cut();
    // What every data node holds at the end, in its own words (the
    // durability checker's facts).
    if !world.halted() && config.workload.is_some() {
        for p in config.of_kind(Kind::Node) {
            world.probe(p, |n, cx| {
                if let Host::Data(d) = n {
                    d.audit(cx);
                }
            });
        }
    }

    let now = world.now();
    // Whether a violation stopped the run, before the end-of-run judgement
    // adds its own (which stop nothing: the run is over).
    let halted = world.halted();
    let (found, liveness) = world
        .observer_mut(pipeline)
        .map(|p| {
            p.expect_voters(s.expect.voters);
            p.end_run(now, deadline, leader_deadline, halted)
        })
        .unwrap_or_default();
    for v in found {
        world.report_violation(ProcessId::SIM, v);
    }

    let stats = world.stats().clone();
    let probes: BTreeMap<String, u64> = world
        .probes()
        .reached_counts()
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let buggified: BTreeMap<String, u64> = world
        .probes()
        .fired_counts()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let violations: Vec<ViolationReport> = world
        .violations()
        .iter()
        .map(|(t, v)| ViolationReport {
            t: *t,
            check: v.check.to_string(),
            detail: v.detail.clone(),
        })
        .collect();
    let Some(mut pipeline) = world.take_observer(pipeline) else {
        unreachable!("the pipeline was installed above and is taken once")
    };
    let summary = pipeline.summary();
    let metrics = pipeline.metrics();
    let mut checks: Vec<CheckResult> = pipeline
        .checkers()
        .iter()
        .map(|c| CheckResult {
            name: c.name().to_string(),
            kind: if c.is_liveness() {
                "liveness"
            } else {
                "safety"
            },
            violations: summary
                .violations_by_check
                .get(c.name())
                .copied()
                .unwrap_or(0),
            judged: true,
            note: None,
        })
        .collect();
    let run_end = verdict::RunEnd {
        now,
        stopped: halted,
        liveness: &liveness,
        events_by_kind: &summary.events_by_kind,
        metrics: &metrics,
        converged_failed: summary.violations_by_check.contains_key("converged"),
    };
    for c in checks.iter_mut().filter(|c| c.violations == 0) {
        match verdict::standing(&c.name, c.kind == "liveness", &run_end) {
            verdict::Standing::Judged(note) => c.note = note,
            verdict::Standing::NotJudged(why) => {
                c.judged = false;
                c.note = Some(why);
            }
        }
    }
    let writer = pipeline.take_writer();
    let (trace_digest, trace_events) = writer
        .as_ref()
        .map(|w| (trace::digest_hex(w.digest()), w.written()))
        .unwrap_or_default();

    let ending = judge::Ending {
        now,
        stopped: halted,
        liveness: &liveness,
    };
    let expectations = judge::judge(s, &checks, &violations, &ending, &metrics);
    let passed = expectations.iter().all(|e| e.held || !e.judged);
    let unjudged = expectations.iter().filter(|e| !e.judged).count();
    let mut dropped = BTreeMap::new();
    for r in DropReason::ALL {
        let n = stats.dropped[r as usize];
        if n > 0 {
            dropped.insert(r.as_str().to_string(), n);
        }
    }
    let path = opts
        .scenario_path
        .clone()
        .unwrap_or_else(|| format!("scenarios/{}.toml", s.name));
    let mut reproduce = format!("partsim run {path} --seed {seed}");
    if let Some(d) = opts.duration {
        reproduce.push_str(&format!(" --duration {d}"));
    }
    for bug in opts.planted.names() {
        reproduce.push_str(&format!(" --plant {bug}"));
    }
    let report = RunReport {
        scenario: s.name.clone(),
        seed,
        duration: (end - SimTime::ZERO).to_string(),
        scenario_duration: opts
            .duration
            .filter(|d| *d != scenario_duration)
            .map(|_| scenario_duration.to_string()),
        steps_cut,
        ended_at: now,
        passed,
        unjudged,
        halted,
        config_digest: format!("{:016x}", s.config_digest()),
        trace_digest,
        trace_events,
        messages: MessageCounts {
            sent: stats.sent,
            delivered: stats.delivered,
            duplicated: stats.duplicated,
            dropped,
            timers_fired: stats.timers_fired,
        },
        events_by_kind: summary.events_by_kind.clone(),
        faults_by_kind: summary.faults_by_kind.clone(),
        checks,
        unlisted_violations: stats.violations.saturating_sub(violations.len() as u64),
        violations,
        expectations,
        workload: workload_rate(s, now, &summary.events_by_kind, &metrics),
        metrics,
        selectors: timeline.into_resolutions(),
        planted: opts.planted.names(),
        probes,
        buggified,
        reproduce,
    };
    if let Some(w) = writer {
        let footer_summary = serde_json::json!({
            "passed": report.passed,
            "ended_at": report.ended_at,
            "halted": report.halted,
            "violations": report.violations.len(),
            "messages": report.messages,
            "metrics": report.metrics,
        });
        w.finish(&footer_summary)?;
    }
    Ok(report)
}
