//! `partsim check TRACE`: the checkers run over a trace file — the same
//! checkers, fed the same events, as during the run.

use std::io::{BufReader, Read};
use std::path::Path;

use serde::Serialize;

use super::verdict::{self, Deadlines, Unhealed};
use super::{EndOfRun, standard_checkers};
use crate::scenario::{MAX_NODES, MAX_PARTITIONS};
use crate::sim::{EventKind, SimTime, Violation};
use crate::stack::events::StackEvent;
use crate::trace::ReadError;
use crate::trace::reader::{Body, Record, TraceStream};

/// Most violations a report lists; more are counted, not kept (a damaged
/// trace can break an invariant at every event).
pub const MAX_LISTED_VIOLATIONS: usize = 10_000;

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
    /// What they found (the first [`MAX_LISTED_VIOLATIONS`]).
    pub violations: Vec<OfflineViolation>,
    /// Violations found beyond those listed (counted, not kept).
    pub unlisted_violations: usize,
    /// Violations the run itself recorded in the trace.
    pub recorded_violations: usize,
    /// A missing footer or a truncated last line.
    pub notice: Option<String>,
    /// Liveness checkers that judged nothing, each as `name: why` (a trace
    /// cut off or stopped by a violation, a deadline past its end, nothing
    /// to judge): their silence is not a pass.
    pub not_judged: Vec<String>,
}

/// Runs every checker over the trace at `path`.
pub fn check_file(path: &Path) -> Result<OfflineReport, ReadError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    check_reader(BufReader::new(file), &shown)
}

/// Runs every checker over a trace read from `input` (`name` is used in
/// messages).
pub fn check_reader<R: Read>(input: BufReader<R>, name: &str) -> Result<OfflineReport, ReadError> {
    let mut trace = TraceStream::new(input, name)?;
    let names = trace.header.processes.clone();
    let mut checkers = standard_checkers();
    let mut violations = Vec::new();
    let mut unlisted = 0;
    let mut recorded = 0;
    let mut events = 0;
    let mut healed_at = SimTime::ZERO;
    let mut last_t = SimTime::ZERO;
    let mut found: Vec<Violation> = Vec::new();
    // `[expect]` deadlines are judged as the run judged them: at the
    // deadline, on every event before it (see `verdict::Deadlines`).
    let (deadline, leader_deadline) = deadlines_from_config(&trace.header.config);
    let mut deadlines = Deadlines::default();
    // The network faults still in effect, as the run followed them.
    let mut unhealed = Unhealed::network(
        trace
            .header
            .config
            .get("network")
            .and_then(|n| n.get("drop"))
            .and_then(|d| d.as_f64())
            .unwrap_or(0.0),
    );
    let judge_deadlines = |deadlines: &mut Deadlines,
                           checkers: &mut Vec<Box<dyn super::Checker>>,
                           healed_at: SimTime,
                           upto: SimTime,
                           violations: &mut Vec<OfflineViolation>,
                           unlisted: &mut usize| {
        let at = |now| EndOfRun {
            now,
            healed_at,
            deadline,
            leader_deadline,
            voters: None,
            unhealed: None,
        };
        while let Some(d) = deadlines.next_due(&at(upto)).filter(|d| *d <= upto) {
            for v in deadlines.judge(checkers, &at(d)) {
                if violations.len() == MAX_LISTED_VIOLATIONS {
                    *unlisted += 1;
                    continue;
                }
                violations.push(OfflineViolation {
                    check: v.check.to_string(),
                    t: d,
                    seq: None,
                    detail: v.detail,
                });
            }
        }
    };
    while let Some((line, record)) = trace.next_record::<StackEvent>()? {
        events += 1;
        within_bounds(&record).map_err(|m| trace.format_err(line, m))?;
        judge_deadlines(
            &mut deadlines,
            &mut checkers,
            healed_at,
            record.t,
            &mut violations,
            &mut unlisted,
        );
        match record.body {
            Body::Fault {
                fault,
                ref kind,
                phase,
                ..
            } => {
                unhealed.on_fault(record.t, fault, kind, phase);
                (last_t, healed_at) = (record.t, record.t);
            }
            Body::Unknown { .. } => {}
            _ => last_t = record.t,
        }
        let Some(ev) = record.as_event() else {
            continue;
        };
        match ev.kind {
            EventKind::Violation { .. } => {
                recorded += 1;
                continue;
            }
            EventKind::Crash { .. }
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
                if violations.len() == MAX_LISTED_VIOLATIONS {
                    unlisted += 1;
                    continue;
                }
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
    let mut not_judged = Vec::new();
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
        judge_deadlines(
            &mut deadlines,
            &mut checkers,
            healed_at,
            end_t,
            &mut violations,
            &mut unlisted,
        );
        let end = EndOfRun {
            now: end_t,
            healed_at,
            deadline,
            leader_deadline,
            unhealed: unhealed.why(),
            voters: trace
                .header
                .config
                .get("expect")
                .and_then(|x| x.get("voters"))
                .and_then(|v| v.as_u64())
                .map(|v| v as u32),
        };
        let (found, judgements) = verdict::finish(&mut checkers, &end, &deadlines);
        for j in judgements {
            if !j.judged {
                not_judged.push(format!(
                    "{}: its deadline {} lies past the end of the trace ({end_t})",
                    j.check, j.deadline
                ));
            } else if let Some(why) = j.nothing_judged {
                not_judged.push(format!("{}: {why}", j.check));
            }
        }
        for v in found {
            if violations.len() == MAX_LISTED_VIOLATIONS {
                unlisted += 1;
                continue;
            }
            violations.push(OfflineViolation {
                check: v.check.to_string(),
                t: end_t,
                seq: None,
                detail: v.detail,
            });
        }
    } else {
        let why = if stopped {
            "a violation stopped the run"
        } else {
            "the trace has no footer (the run was cut off)"
        };
        not_judged.extend(
            checkers
                .iter()
                .filter(|c| c.is_liveness() && !deadlines.missed(c.name()))
                .map(|c| format!("{}: {why}", c.name())),
        );
    }
    Ok(OfflineReport {
        scenario: trace.header.scenario.clone(),
        seed: trace.header.seed,
        events,
        checkers: checkers.iter().map(|c| c.name().to_string()).collect(),
        violations,
        unlisted_violations: unlisted,
        recorded_violations: recorded,
        notice: notice(&trace, events),
        not_judged,
    })
}

/// `[expect] converged_by` and the leader deadline (`leader_elected_by`,
/// else `converged_by`) from the header's resolved configuration.
fn deadlines_from_config(config: &serde_json::Value) -> (Option<SimTime>, Option<SimTime>) {
    let at = |key: &str| config.get("expect")?.get(key)?.as_u64().map(SimTime);
    let converged = at("converged_by");
    (converged, at("leader_elected_by").or(converged))
}

/// What was missing from the trace, as [`crate::trace::TraceFile::notice`] says it.
fn notice<R: Read>(trace: &TraceStream<R>, events: usize) -> Option<String> {
    if let Some(m) = trace.footer_mismatch() {
        return Some(m);
    }
    match (trace.truncated_line, &trace.footer) {
        (Some(line), _) => Some(format!(
            "the trace ends mid-line at line {line}: read {events} whole events before it (the run was cut off)"
        )),
        (None, None) => Some(format!(
            "the trace has no footer: read {events} events (the run did not finish writing)"
        )),
        _ => None,
    }
}

/// Every number read from a trace that sizes something in a checker is
/// bounded first, by the limits a scenario has: a `placement_config` with
/// 4,294,967,295 partitions must be refused, not allocated.
fn within_bounds(record: &Record<StackEvent>) -> Result<(), String> {
    use crate::trace::Body;
    if let Body::App(StackEvent::PlacementConfig {
        partitions,
        replication_factor,
        ..
    }) = &record.body
    {
        if u64::from(*partitions) > MAX_PARTITIONS {
            return Err(format!(
                "placement_config: {partitions} partitions is above the limit of {MAX_PARTITIONS} (MAX_PARTITIONS)"
            ));
        }
        if *replication_factor > MAX_NODES {
            return Err(format!(
                "placement_config: replication factor {replication_factor} is above the limit of {MAX_NODES} (MAX_NODES)"
            ));
        }
    }
    Ok(())
}
