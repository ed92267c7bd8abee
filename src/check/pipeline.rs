//! The observer a run installs in its world: it shows every event to the
//! checkers, counts events by kind, and streams the trace.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::verdict::{self, Deadlines, LivenessJudgement};
use super::{Checker, EndOfRun};
use crate::sim::{AppEvent, Event, EventKind, Observer, SimTime, Stamp, Violation};
use crate::stack::events::StackEvent;
use crate::trace::{Phase, StepEvent, TraceWriter};

/// Counters gathered from the event stream.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Events by `"ev"` kind.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Fault events (begin) by kind.
    pub faults_by_kind: BTreeMap<String, u64>,
    /// When the last fault ended (or the last crash/pause/clock change).
    pub healed_at: SimTime,
    /// Number of violations, by checker.
    pub violations_by_check: BTreeMap<String, u64>,
    /// The first violation, as a sentence.
    pub first_violation: Option<String>,
}

/// Checkers + trace writer + counters, as one observer of a world whose
/// processes trace events `E`.
pub struct Pipeline<E = StackEvent> {
    checkers: Vec<Box<dyn Checker<E>>>,
    writer: Option<TraceWriter<Box<dyn Write>>>,
    summary: Summary,
    /// Faults begun and not yet ended, by fault id (for `healed_at`).
    open_faults: BTreeMap<u32, ()>,
    /// `[expect] voters`, for the end-of-run judgement.
    expected_voters: Option<u32>,
    /// `[expect]` deadlines judged as they passed.
    deadlines: Deadlines,
}

impl<E: AppEvent> Pipeline<E> {
    /// A pipeline with these checkers, writing a trace if `writer` is set.
    pub fn new(
        checkers: Vec<Box<dyn Checker<E>>>,
        writer: Option<TraceWriter<Box<dyn Write>>>,
    ) -> Self {
        Pipeline {
            checkers,
            writer,
            summary: Summary::default(),
            open_faults: BTreeMap::new(),
            expected_voters: None,
            deadlines: Deadlines::default(),
        }
    }

    /// Sets `[expect] voters` (the Raft group's size at the end).
    pub fn expect_voters(&mut self, voters: Option<u32>) {
        self.expected_voters = voters;
    }

    /// Counters so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The checkers.
    pub fn checkers(&self) -> &[Box<dyn Checker<E>>] {
        &self.checkers
    }

    /// The digest of the trace lines written so far.
    pub fn digest(&self) -> Option<u64> {
        self.writer.as_ref().map(|w| w.digest())
    }

    /// Runs every checker's end-of-run judgement, whatever its deadline
    /// (kernel tests; a run uses [`Pipeline::end_run`]).
    pub fn finish_checks(
        &mut self,
        now: SimTime,
        deadline: Option<SimTime>,
        leader_deadline: Option<SimTime>,
    ) -> Vec<Violation> {
        let end = EndOfRun {
            now,
            healed_at: self.summary.healed_at,
            deadline,
            leader_deadline,
            voters: self.expected_voters,
        };
        let mut out = Vec::new();
        for c in &mut self.checkers {
            c.finish(&end, &mut out);
        }
        out
    }

    /// The earliest `[expect]` deadline (`deadline`: `converged_by`;
    /// `leader_deadline`: `leader_elected_by`, else `converged_by`) not
    /// judged yet: the run stops its world there and calls
    /// [`Pipeline::judge_deadlines`].
    pub fn next_deadline(
        &self,
        deadline: Option<SimTime>,
        leader_deadline: Option<SimTime>,
    ) -> Option<SimTime> {
        self.deadlines
            .next_due(&self.end_of_run(SimTime::ZERO, deadline, leader_deadline))
    }

    /// At `now` (every event before it seen, none after): the `[expect]`
    /// deadlines reached are judged; returns the missed ones, to be traced
    /// now (see [`verdict::Deadlines`]).
    pub fn judge_deadlines(
        &mut self,
        now: SimTime,
        deadline: Option<SimTime>,
        leader_deadline: Option<SimTime>,
    ) -> Vec<Violation> {
        let end = self.end_of_run(now, deadline, leader_deadline);
        self.deadlines.judge(&mut self.checkers, &end)
    }

    fn end_of_run(
        &self,
        now: SimTime,
        deadline: Option<SimTime>,
        leader_deadline: Option<SimTime>,
    ) -> EndOfRun {
        EndOfRun {
            now,
            healed_at: self.summary.healed_at,
            deadline,
            leader_deadline,
            voters: self.expected_voters,
        }
    }

    /// Ends the run: safety checkers finish, and each liveness checker
    /// judges if its deadline lies within the run (see [`super::verdict`]).
    /// With `stopped` (a violation halted the run) no liveness checker
    /// judges: the run gave the cluster no fair chance.
    pub fn end_run(
        &mut self,
        now: SimTime,
        deadline: Option<SimTime>,
        leader_deadline: Option<SimTime>,
        stopped: bool,
    ) -> (Vec<Violation>, Vec<LivenessJudgement>) {
        let end = self.end_of_run(now, deadline, leader_deadline);
        if stopped {
            return (Vec::new(), verdict::not_judged(&self.checkers, &end));
        }
        verdict::finish(&mut self.checkers, &end, &self.deadlines)
    }

    /// Every checker's figures, by the names the checkers give them.
    pub fn metrics(&self) -> BTreeMap<String, serde_json::Value> {
        let mut m = BTreeMap::new();
        for c in &self.checkers {
            for (k, v) in c.metrics() {
                m.insert(k, v);
            }
        }
        m
    }

    /// Takes the trace writer (to write the footer).
    pub fn take_writer(&mut self) -> Option<TraceWriter<Box<dyn Write>>> {
        self.writer.take()
    }

    /// Counts one event of kind `kind`.
    fn count(&mut self, kind: &'static str) {
        if let Some(n) = self.summary.events_by_kind.get_mut(kind) {
            *n += 1;
        } else {
            self.summary.events_by_kind.insert(kind.to_string(), 1);
        }
    }

    /// Sees one event of the run's driver (a fault step, a note): counts
    /// and writes it. Checkers judge the system's events, not the driver's;
    /// what they need of faults (when the last one healed) reaches them at
    /// the end of the run.
    pub fn observe_step(&mut self, stamp: &Stamp, ev: &StepEvent<'_>, names: &[String]) {
        self.count(ev.kind());
        if let StepEvent::Fault {
            fault, kind, phase, ..
        } = *ev
        {
            match phase {
                Phase::Begin => {
                    *self
                        .summary
                        .faults_by_kind
                        .entry(kind.to_string())
                        .or_default() += 1;
                    self.open_faults.insert(fault, ());
                }
                Phase::End => {
                    self.open_faults.remove(&fault);
                }
            }
            self.summary.healed_at = stamp.t;
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_step(stamp, ev, names);
        }
    }

    /// Sees one event: counts, checks, writes.
    pub fn observe(&mut self, ev: &Event<'_, E>, names: &[String], out: &mut Vec<Violation>) {
        self.count(ev.kind.name());
        match ev.kind {
            EventKind::Crash { .. }
            | EventKind::Restart
            | EventKind::Pause
            | EventKind::Resume
            | EventKind::DiskLoss
            | EventKind::Clock { .. } => self.summary.healed_at = ev.t,
            EventKind::Violation { check, detail } => {
                *self
                    .summary
                    .violations_by_check
                    .entry(check.to_string())
                    .or_default() += 1;
                if self.summary.first_violation.is_none() {
                    self.summary.first_violation = Some(format!(
                        "{check} at {} ({}): {detail}",
                        ev.t,
                        ev.p.name_in(names)
                    ));
                }
            }
            _ => {}
        }
        if !matches!(ev.kind, EventKind::Violation { .. }) {
            for c in &mut self.checkers {
                c.on_event(ev, names, out);
            }
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_event(ev, names);
        }
    }
}

impl<E: AppEvent + 'static> Observer<E> for Pipeline<E> {
    fn on_event(&mut self, ev: &Event<'_, E>, names: &[String], out: &mut Vec<Violation>) {
        self.observe(ev, names, out);
    }
}
