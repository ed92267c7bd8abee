//! `partsim check TRACE`: the checkers run over a trace file — the same
//! checkers, fed the same events, as during the run.

use std::path::Path;

use serde::Serialize;

use super::{EndOfRun, standard_checkers, verdict};
use crate::sim::{EventKind, SimTime, Violation};
use crate::stack::events::StackEvent;
use crate::trace::{ReadError, TraceFile, read_trace};

/// A violation found offline.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OfflineViolation {
    /// Checker name.
    pub check: String,
    /// Virtual time.
    pub t: SimTime,
    /// The event that broke the invariant (`None` for liveness, judged at the end).
    pub seq: Option<u64>,
    /// What was seen.
    pub detail: String,
}

/// What `partsim check` found.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OfflineReport {
    /// Scenario name from the header.
    pub scenario: String,
    /// Seed from the header.
    pub seed: u64,
    /// Events checked.
    pub events: usize,
    /// The checkers that ran.
    pub checkers: Vec<String>,
    /// What they found.
    pub violations: Vec<OfflineViolation>,
    /// Violations the run itself recorded in the trace.
    pub recorded_violations: usize,
    /// A missing footer or a truncated last line.
    pub notice: Option<String>,
}

/// Runs every checker over the trace at `path`.
pub fn check_file(path: &Path) -> Result<OfflineReport, ReadError> {
    Ok(check_trace(&read_trace::<StackEvent>(path)?))
}

/// Runs every checker over a trace already read.
pub fn check_trace(trace: &TraceFile<StackEvent>) -> OfflineReport {
    let names = trace.header.processes.clone();
    let mut checkers = standard_checkers();
    let mut violations = Vec::new();
    let mut recorded = 0;
    let mut healed_at = SimTime::ZERO;
    let mut last_t = SimTime::ZERO;
    let mut found: Vec<Violation> = Vec::new();
    for record in &trace.events {
        let Some(ev) = record.as_event() else {
            continue;
        };
        last_t = ev.t;
        match ev.kind {
            EventKind::Violation { .. } => {
                recorded += 1;
                continue;
            }
            EventKind::Fault { .. }
            | EventKind::Crash { .. }
            | EventKind::Restart
            | EventKind::Pause
            | EventKind::Resume
            | EventKind::DiskLoss
            | EventKind::Clock { .. } => healed_at = ev.t,
            _ => {}
        }
        for c in &mut checkers {
            c.on_event(&ev, &names, &mut found);
            for v in found.drain(..) {
                violations.push(OfflineViolation {
                    check: v.check.to_string(),
                    t: ev.t,
                    seq: Some(ev.seq),
                    detail: v.detail,
                });
            }
        }
    }
    // Liveness is judged only on a complete trace (a cut-off run proves
    // nothing), and, as in the run, only at deadlines within it and not
    // after a violation stopped it (the footer says so).
    let footer = trace.footer.as_ref().map(|f| &f.summary);
    let stopped = footer
        .and_then(|f| f.get("halted"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if let (Some(summary), false) = (footer, stopped) {
        let end_t = summary
            .get("ended_at")
            .and_then(|v| v.as_u64())
            .map_or(last_t, SimTime);
        let (deadline, leader_deadline) = deadlines_from_config(&trace.header.config);
        let end = EndOfRun {
            now: end_t,
            healed_at,
            deadline,
            leader_deadline,
        };
        let (found, _) = verdict::finish(&mut checkers, &end);
        for v in found {
            violations.push(OfflineViolation {
                check: v.check.to_string(),
                t: end_t,
                seq: None,
                detail: v.detail,
            });
        }
    }
    OfflineReport {
        scenario: trace.header.scenario.clone(),
        seed: trace.header.seed,
        events: trace.events.len(),
        checkers: checkers.iter().map(|c| c.name().to_string()).collect(),
        violations,
        recorded_violations: recorded,
        notice: trace.notice(),
    }
}

/// `[expect] converged_by` and the leader deadline (`leader_elected_by`,
/// else `converged_by`) from the header's resolved configuration.
fn deadlines_from_config(config: &serde_json::Value) -> (Option<SimTime>, Option<SimTime>) {
    let at = |key: &str| config.get("expect")?.get(key)?.as_u64().map(SimTime);
    let converged = at("converged_by");
    (converged, at("leader_elected_by").or(converged))
}
