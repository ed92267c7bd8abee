//! The observer a run installs in its world: it shows every event to the
//! checkers, counts events by kind, and streams the trace.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::verdict::{self, Deadlines, LivenessJudgement, Unhealed};
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
    /// The counters but `events_by_kind`, which [`Pipeline::summary`]
    /// fills from `kinds`.
    summary: Summary,
    /// Events by kind, counted per kind name's static address.
    kinds: KindCounts,
    /// The checkers shown each kind of message event and timer.
    traffic: Shown,
    /// Faults begun and not yet ended, by fault id (for `healed_at`).
    open_faults: BTreeMap<u32, ()>,
    /// `[expect] voters`, for the end-of-run judgement.
    expected_voters: Option<u32>,
    /// `[expect]` deadlines judged as they passed.
    deadlines: Deadlines,
    /// The network faults still in effect (for `EndOfRun::unhealed`).
    unhealed: Unhealed,
}

impl<E: AppEvent> Pipeline<E> {
    /// A pipeline with these checkers, writing a trace if `writer` is set.
    pub fn new(
        checkers: Vec<Box<dyn Checker<E>>>,
        writer: Option<TraceWriter<Box<dyn Write>>>,
    ) -> Self {
        let traffic = Shown::new(&checkers);
        Pipeline {
            checkers,
            traffic,
            writer,
            summary: Summary::default(),
            kinds: KindCounts::default(),
            open_faults: BTreeMap::new(),
            expected_voters: None,
            deadlines: Deadlines::default(),
            unhealed: Unhealed::default(),
        }
    }

    /// Sets the run's steady network condition (`[network] drop`).
    pub fn set_network_drop(&mut self, drop: f64) {
        self.unhealed = Unhealed::network(drop);
    }

    /// Sets `[expect] voters` (the Raft group's size at the end).
    pub fn expect_voters(&mut self, voters: Option<u32>) {
        self.expected_voters = voters;
    }

    /// Counters so far.
    pub fn summary(&self) -> Summary {
        let mut summary = self.summary.clone();
        summary.events_by_kind = self.kinds.by_name();
        summary
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
            unhealed: self.unhealed.why(),
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
            unhealed: self.unhealed.why(),
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
    #[inline]
    fn count(&mut self, kind: &'static str) {
        self.kinds.count(kind);
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
            self.unhealed.on_fault(stamp.t, fault, kind, phase);
            self.summary.healed_at = stamp.t;
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_step(stamp, ev, names);
        }
    }

    /// Sees one event: counts, checks, writes.
    pub fn observe(&mut self, ev: &Event<'_, E>, names: &[String], out: &mut Vec<Violation>) {
        match ev.kind {
            // Most events: counted without looking their name up.
            EventKind::Send { .. } => self.kinds.sends += 1,
            EventKind::Deliver { .. } => self.kinds.delivers += 1,
            _ => self.count(ev.kind.name()),
        }
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
        let checkers = &mut self.checkers;
        match ev.kind {
            EventKind::Violation { .. } => {}
            EventKind::Send { .. } => show(checkers, &self.traffic.sends, ev, names, out),
            EventKind::Deliver { .. } => show(checkers, &self.traffic.delivers, ev, names, out),
            EventKind::Drop { .. } => show(checkers, &self.traffic.drops, ev, names, out),
            EventKind::Timer { .. } => show(checkers, &self.traffic.timers, ev, names, out),
            _ => {
                for c in checkers {
                    c.on_event(ev, names, out);
                }
            }
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_event(ev, names);
        }
    }
}

/// The checkers (by index) shown each kind of message event and timer:
/// those whose [`Checker::traffic`] asks for it.
#[derive(Debug, Default)]
struct Shown {
    sends: Vec<usize>,
    delivers: Vec<usize>,
    drops: Vec<usize>,
    timers: Vec<usize>,
}

impl Shown {
    fn new<E>(checkers: &[Box<dyn Checker<E>>]) -> Shown {
        let mut shown = Shown::default();
        for (i, c) in checkers.iter().enumerate() {
            let t = c.traffic();
            for (wants, list) in [
                (t.sends, &mut shown.sends),
                (t.delivers, &mut shown.delivers),
                (t.drops, &mut shown.drops),
                (t.timers, &mut shown.timers),
            ] {
                if wants {
                    list.push(i);
                }
            }
        }
        shown
    }
}

/// Shows `ev` to the checkers `which` (indices into `checkers`).
fn show<E>(
    checkers: &mut [Box<dyn Checker<E>>],
    which: &[usize],
    ev: &Event<'_, E>,
    names: &[String],
    out: &mut Vec<Violation>,
) {
    for &i in which {
        checkers[i].on_event(ev, names, out);
    }
}

/// Slots of [`KindCounts`]' table (a power of two; kinds number a few dozen).
const KIND_SLOTS: usize = 128;

/// Event counts by kind name. Every kind is a `&'static str` (the kernel's
/// kinds, [`AppEvent::kind`], [`StepEvent::kind`]), so a kind is told by
/// its address and length in an open-addressed table: no string compared
/// or map searched per event. The same name at two addresses takes two
/// slots, summed by [`KindCounts::by_name`].
struct KindCounts {
    /// `send` and `deliver` events, counted apart (most of a run's events).
    sends: u64,
    delivers: u64,
    slots: Box<[(&'static str, u64); KIND_SLOTS]>,
    used: usize,
    /// Kinds beyond the table's load limit (never in practice), by name.
    overflow: BTreeMap<&'static str, u64>,
}

impl Default for KindCounts {
    fn default() -> Self {
        KindCounts {
            sends: 0,
            delivers: 0,
            slots: Box::new([("", 0); KIND_SLOTS]),
            used: 0,
            overflow: BTreeMap::new(),
        }
    }
}

impl KindCounts {
    #[inline]
    fn count(&mut self, kind: &'static str) {
        let addr = kind.as_ptr() as usize;
        let mut i = (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> 32) % KIND_SLOTS;
        loop {
            let (k, n) = &mut self.slots[i];
            if *n == 0 {
                if self.used >= KIND_SLOTS / 2 {
                    *self.overflow.entry(kind).or_default() += 1;
                    return;
                }
                *k = kind;
                *n = 1;
                self.used += 1;
                return;
            }
            if k.as_ptr() as usize == addr && k.len() == kind.len() {
                *n += 1;
                return;
            }
            i = (i + 1) % KIND_SLOTS;
        }
    }

    /// The counts by kind name.
    fn by_name(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        let apart = [("send", self.sends), ("deliver", self.delivers)];
        let counted = self
            .slots
            .iter()
            .chain(&apart)
            .filter(|(_, n)| *n > 0)
            .map(|&(k, n)| (k, n));
        for (k, n) in counted.chain(self.overflow.iter().map(|(&k, &n)| (k, n))) {
            *out.entry(k.to_string()).or_default() += n;
        }
        out
    }
}

impl<E: AppEvent + 'static> Observer<E> for Pipeline<E> {
    fn on_event(&mut self, ev: &Event<'_, E>, names: &[String], out: &mut Vec<Violation>) {
        self.observe(ev, names, out);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::check::Traffic;
    use crate::sim::{DropReason, MsgClass, ProcessId};

    #[test]
    fn kinds_are_counted_by_name() {
        let mut k = KindCounts::default();
        // The same name at another address counts as the same kind.
        let other: &'static str = Box::leak(String::from("send").into_boxed_str());
        for kind in ["send", "deliver", "send", other, "timer"] {
            k.count(kind);
        }
        // Sends and deliveries counted apart add to the same names.
        k.sends += 2;
        k.delivers += 1;
        let want: BTreeMap<String, u64> = [("deliver", 2), ("send", 5), ("timer", 1)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        assert_eq!(k.by_name(), want);
        // Far more kinds than slots: the rest are counted by name.
        let mut k = KindCounts::default();
        let many: Vec<&'static str> = (0..300)
            .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
            .collect();
        for kind in many.iter().chain(&many) {
            k.count(kind);
        }
        let by = k.by_name();
        assert_eq!(by.len(), 300);
        assert!(by.values().all(|&n| n == 2));
    }

    /// Records the kinds of the events it is shown.
    struct Seen {
        traffic: Traffic,
        kinds: Rc<RefCell<Vec<&'static str>>>,
    }

    impl Checker for Seen {
        fn name(&self) -> &'static str {
            "seen"
        }
        fn traffic(&self) -> Traffic {
            self.traffic
        }
        fn on_event(&mut self, ev: &Event<'_, StackEvent>, _: &[String], _: &mut Vec<Violation>) {
            self.kinds.borrow_mut().push(ev.kind.name());
        }
    }

    /// Each checker is shown the message events and timers it asks for,
    /// every other event but violations, and nothing twice.
    #[test]
    fn a_checker_is_shown_the_traffic_it_asks_for() {
        let (p, class) = (ProcessId(0), MsgClass::Normal);
        let kinds = [
            EventKind::Send {
                to: p,
                msg: "M",
                id: 1,
                class,
            },
            EventKind::Deliver {
                from: p,
                msg: "M",
                id: 1,
                class,
            },
            EventKind::Drop {
                from: p,
                to: p,
                msg: "M",
                id: 2,
                class,
                reason: DropReason::Loss,
            },
            EventKind::Timer { timer: "T" },
            EventKind::Violation {
                check: "seen",
                detail: "d",
            },
            EventKind::Pause,
        ];
        let wants = [
            (
                Traffic::ALL,
                vec!["send", "deliver", "drop", "timer", "pause"],
            ),
            (Traffic::NONE, vec!["pause"]),
            (
                Traffic {
                    sends: true,
                    timers: true,
                    ..Traffic::NONE
                },
                vec!["send", "timer", "pause"],
            ),
            (
                Traffic {
                    delivers: true,
                    drops: true,
                    ..Traffic::NONE
                },
                vec!["deliver", "drop", "pause"],
            ),
        ];
        let logs: Vec<_> = wants.iter().map(|_| Default::default()).collect();
        let checkers: Vec<Box<dyn Checker>> = wants
            .iter()
            .zip(&logs)
            .map(|((traffic, _), kinds)| {
                Box::new(Seen {
                    traffic: *traffic,
                    kinds: Rc::clone(kinds),
                }) as Box<dyn Checker>
            })
            .collect();
        let mut pipeline = Pipeline::new(checkers, None);
        let mut out = Vec::new();
        for (seq, kind) in kinds.into_iter().enumerate() {
            let ev = Event {
                t: SimTime(seq as u64),
                p,
                seq: seq as u64,
                cause: None,
                kind,
            };
            pipeline.observe(&ev, &[], &mut out);
        }
        for ((_, want), log) in wants.iter().zip(&logs) {
            assert_eq!(*log.borrow(), *want);
        }
    }
}
