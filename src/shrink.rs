//! Shrinking a failing run to a minimal scenario (`partsim shrink`).
//!
//! ```text
//!   scenario + seed ──► run: fails with checker C at t
//!        │
//!        ├─ materialise [random] into explicit [[events]] (same seed, same faults)
//!        ├─ pin selectors (any-manager, leader, partition members, link ends, one-way sides, "*") to what they resolved to
//!        ├─ cut the duration to just past t
//!        ├─ drop whole groups (every event of a kind, every event naming a process)
//!        ├─ delta-debug the events (keep one chunk alone, drop halves, quarters, … single events)
//!        ├─ merge spans of the same action; absorb one event into another (one window over both)
//!        ├─ drop an event with the one-way cuts re-aimed after the messages they followed
//!        ├─ pin one-way cut selectors left unresolved by trial
//!        ├─ close quiet gaps in the timeline (no fault begins or ends; the events, deadlines, duration after move earlier)
//!        ├─ shorten each `until` span (halving, from either end)
//!        ├─ no workload; lower workload rate and clients, data nodes, managers (1, 3 or 5)
//!        ├─ network loss, duplication and reordering off; timing knobs back to their defaults
//!        └─ cut the duration again (binary search for end-judged checkers)
//!             ──► a standalone scenario that still fails with C
//! ```
//!
//! Every candidate is written as TOML and parsed back, so it passes the
//! validator and the output file means exactly what was tested; a
//! candidate already run and rejected is not run again. A candidate
//! is kept only when the *same* checker still fires first; a candidate that
//! fails with another checker is rejected and counted as a changed failure,
//! so the report says when a reduction shifted the failure. With a planted
//! bug, a candidate is kept only if the run without the bug passes (or
//! fails otherwise): the minimal file fails because of the bug, not
//! because a smaller cluster or shorter run cannot make it. Stream
//! independence (DESIGN §2) is what keeps the failure stable: removing one
//! fault does not reshuffle the workload's dice or the other faults.

use crate::run::{self, RunOptions, RunReport};
use std::collections::BTreeSet;

#[path = "shrink_pin.rs"]
mod pin;
use pin::{pin_selectors, pin_stars};

#[path = "shrink_reaim.rs"]
mod reaim;

use crate::scenario::{self, Action, EventSpec, KeyDist, Scenario, Target};
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
    merge_overlapping_windows(&mut out.events);
    // The fault points stay on: they are not faults of the timeline.
    out.random = s
        .random
        .as_ref()
        .and_then(|r| r.buggify)
        .map(|p| crate::scenario::RandomSpec {
            buggify: Some(p),
            ..Default::default()
        });
    out
}

/// A drawn crash or pause may overlap an explicit one of the same process
/// (the draw does not see the explicit timeline), which a scenario file may
/// not say. The run executed them as one: the second begin found the
/// process already down (or paused) and did nothing, the first end brought
/// it back, and the later end found it up and did nothing. So overlapping
/// windows of one such fault on one process become the one window the run
/// had: from the first begin to the first end. (Other kinds are left as
/// they are: the validator refuses them and the shrink says so.)
fn merge_overlapping_windows(events: &mut Vec<EventSpec>) {
    let key = |e: &EventSpec| -> Option<(&'static str, String)> {
        e.until?;
        match &e.action {
            Action::Crash(t) => Some(("crash", t.as_id()?.to_string())),
            Action::Pause(t) => Some(("pause", t.as_id()?.to_string())),
            _ => None,
        }
    };
    let mut order: Vec<usize> = (0..events.len())
        .filter(|&i| key(&events[i]).is_some())
        .collect();
    order.sort_by_key(|&i| (key(&events[i]), events[i].at, i));
    let mut gone = vec![false; events.len()];
    let mut open: Option<usize> = None;
    for i in order {
        if let Some(o) = open
            && key(&events[o]) == key(&events[i])
            && events[i].at < events[o].until.unwrap_or(events[o].at)
        {
            let end = events[o].until.min(events[i].until);
            events[o].until = end;
            gone[i] = true;
            continue;
        }
        open = Some(i);
    }
    let mut k = 0;
    events.retain(|_| {
        k += 1;
        !gone[k - 1]
    });
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
    // A manager added later is in the world from the start (not yet
    // started), and the stack sees it before it joins (data nodes and the
    // other managers list every manager of the configuration): dropping its
    // `add_manager` would change the run before the cut. It moves to the end
    // instead, where it does nothing; delta debugging removes it when the
    // failure allows. A joining data node or an impostor is seen by nobody
    // before it starts (clients rotate through the founding nodes only, and
    // each link draws from its own stream), so its event goes with the cut.
    for e in &mut s.events {
        if e.at > end && matches!(e.action, Action::AddManager(_)) {
            e.at = end;
            e.until = None;
        }
    }
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

/// The checkers judged at a deadline.
const LIVENESS: &[&str] = &["leader_elected", "converged", "balanced", "available"];

/// When the last fault of the timeline ends (its `until`, or its `at`).
fn last_fault_end(s: &Scenario) -> SimTime {
    s.events
        .iter()
        .map(|e| e.until.unwrap_or(e.at))
        .max()
        .unwrap_or(SimTime::ZERO)
}

/// Whether a partition member is a selector rather than a process.
fn is_selector_name(n: &str) -> bool {
    matches!(n, "leader" | "any-node" | "any-manager") || n.starts_with("primary:")
}

/// The processes an event names (selectors and `"*"` name none).
fn named(a: &Action) -> Vec<String> {
    let id = |t: &Target| match t {
        Target::Id(id) if id != "*" => vec![id.clone()],
        _ => Vec::new(),
    };
    if let Some(t) = a.single_target() {
        return id(t);
    }
    match a {
        Action::Partition(groups) => groups
            .iter()
            .flatten()
            .filter(|n| *n != "*" && !is_selector_name(n))
            .cloned()
            .collect(),
        Action::OneWay { from, to } | Action::Link { from, to, .. } => [id(from), id(to)].concat(),
        Action::Join { id, .. } | Action::Impostor(id) | Action::AddManager(id) => {
            vec![id.clone()]
        }
        _ => Vec::new(),
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
    /// The bugs planted in the minimal run: the ones asked for, or none
    /// when the run failed the same way without them.
    #[serde(skip)]
    pub planted: Planted,
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
    /// Candidates already run and rejected, as the xxh3-128 hashes of
    /// their files: a run is a function of (file, seed, bugs), so a later
    /// pass that builds the same candidate again (a gap swept again, a
    /// span halved again, a pair that still cannot merge) gets the same
    /// answer without a run. That is what lets the finer sweeps below run
    /// in every pass. (A hash, not the file: 16 bytes a candidate however
    /// many events it has; a collision at 128 bits is not a concern.)
    rejected: BTreeSet<u128>,
    /// Re-aimed reductions already tried: (hash of the scenario they were
    /// tried on, the events dropped — or `[usize::MAX, managers]` for a
    /// smaller group).
    reaim_tried: BTreeSet<(u128, Vec<usize>)>,
}

impl Shrinker<'_> {
    /// Tests a candidate; keeps it when it fails with the same checker.
    fn attempt(&mut self, what: String, candidate: Scenario) -> bool {
        let Some(candidate) = roundtrip(&candidate) else {
            return false;
        };
        let key = xxhash_rust::xxh3::xxh3_128(candidate.to_toml().as_bytes());
        if self.rejected.contains(&key) {
            return false;
        }
        if self.accept(what, candidate) {
            return true;
        }
        // Bounded: a shrink makes a few thousand runs at most.
        if self.rejected.len() < 100_000 {
            self.rejected.insert(key);
        }
        false
    }

    /// Runs a candidate (valid, not run before); keeps it when it fails
    /// with the same checker.
    fn accept(&mut self, what: String, candidate: Scenario) -> bool {
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
            Some(sig) if sig == self.check && !self.fair(&candidate) => {
                if self.changed.len() < 50 {
                    self.changed.push(format!(
                        "{what}: fails the same way without the planted bug"
                    ));
                }
                false
            }
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

    /// Cuts the duration to 1 s past the violation (never before a
    /// liveness deadline the failure may depend on). The passes keep that
    /// margin: a reduction that moves the violation a little later still
    /// fails inside it.
    fn cut_duration(&mut self) {
        self.cut_duration_to(SimDuration::from_secs(1));
    }

    /// The last cut, when nothing else changes: 10 ms past the violation.
    fn cut_duration_tight(&mut self) {
        self.cut_duration_to(SimDuration::from_millis(10));
    }

    fn cut_duration_to(&mut self, margin: SimDuration) {
        let Some(t) = self.best_t else { return };
        let target = SimDuration::from_micros(t.as_micros() + margin.as_micros());
        // Whole milliseconds keep the file readable.
        let target = SimDuration::from_micros(target.as_micros().div_ceil(1000) * 1000);
        if target >= self.best.duration {
            return;
        }
        let mut c = self.best.clone();
        c.duration = target;
        clamp_to_duration(&mut c);
        self.attempt(format!("cut the duration to {target}"), c);
    }

    /// Failure detection sped up, once the passes are done:
    /// `heartbeat_interval`, `suspect_after` and `dead_after` halved
    /// together while the failure survives — alone, or with the whole
    /// timeline at twice the speed (every event's `at` and `until` halved:
    /// a crash that had to outlast `dead_after` still does) — then the
    /// duration cut again. A failure that needs a node declared dead comes
    /// sooner; the result is kept only if the run is shorter for it.
    fn faster_detection(&mut self) {
        let (best, best_t, steps) = (self.best.clone(), self.best_t, self.steps.len());
        let mut faster = false;
        for _ in 0..3 {
            let half = |d: u64| d / 2000 * 1000;
            let mut c = self.best.clone();
            let t = &mut c.timing;
            t.heartbeat_interval = SimDuration::from_micros(half(t.heartbeat_interval.as_micros()));
            t.suspect_after = SimDuration::from_micros(half(t.suspect_after.as_micros()));
            t.dead_after = SimDuration::from_micros(half(t.dead_after.as_micros()));
            let what = format!(
                "failure detection twice as fast (heartbeat {}, suspect after {}, dead after {})",
                t.heartbeat_interval, t.suspect_after, t.dead_after
            );
            if self.attempt(what.clone(), c.clone()) {
                faster = true;
                continue;
            }
            for e in &mut c.events {
                e.at = SimTime(half(e.at.as_micros()));
                e.until = e.until.map(|u| SimTime(half(u.as_micros())));
            }
            if !self.attempt(format!("{what}, and the events at twice the speed"), c) {
                break;
            }
            faster = true;
        }
        if !faster {
            return;
        }
        if LIVENESS.contains(&self.check.as_str()) {
            self.cut_liveness();
        } else {
            self.cut_duration();
            self.search_duration();
        }
        if self.best.duration >= best.duration {
            self.best = best;
            self.best_t = best_t;
            self.steps.truncate(steps);
        }
    }

    /// A failure judged at a liveness deadline: the violation is reported
    /// at the deadline, so cutting the duration alone gains nothing. The
    /// deadline is kept relative to the end of the last fault and brought
    /// in with the duration: first at the same distance from the last heal
    /// (the dropped events' time is cut), then with that distance halved
    /// while the failure survives — and, when a bug is planted, while the
    /// same scenario without it still passes (a deadline too short for a
    /// correct cluster would make the failure the deadline's, not the bug's).
    fn cut_liveness(&mut self) {
        if !LIVENESS.contains(&self.check.as_str()) {
            return;
        }
        let x = &self.best.expect;
        let last = last_fault_end(&self.best);
        let mut explicit = x.converged_by.max(x.leader_elected_by);
        if explicit.is_none() && self.check == "leader_elected" {
            // The implicit deadline (the healing plus the checker's grace)
            // made explicit, so that it can come in like any other.
            let at = last + crate::check::raft::LEADER_GRACE;
            if at < SimTime::ZERO + self.best.duration {
                let mut c = self.best.clone();
                c.expect.leader_elected_by = Some(at);
                if self.attempt(
                    format!("the implicit leader deadline made explicit: {at}"),
                    c,
                ) {
                    explicit = Some(at);
                }
            }
        }
        let Some(deadline) = explicit else {
            return;
        };
        let floor = if self.planted.is_empty() {
            SimDuration::from_secs(5)
        } else {
            SimDuration::from_millis(500)
        };
        let mut slack = deadline.saturating_since(last).max(floor);
        // Halved while it holds; then bisected between the last slack that
        // held and the first that did not (a halving is a coarse step
        // when the failure needs, say, 1.4 s of a 1.8 s slack).
        let mut held = None;
        let mut short = None;
        loop {
            if self.try_deadline(last, slack) {
                held = Some(slack);
            } else {
                short = Some(slack);
                break;
            }
            slack = SimDuration::from_micros(slack.as_micros() / 2);
            if slack < floor {
                break;
            }
        }
        if let (Some(mut ok), Some(mut bad)) = (held, short) {
            for _ in 0..3 {
                let mid = SimDuration::from_micros((ok.as_micros() + bad.as_micros()) / 2);
                if mid < floor || ok.as_micros() - bad.as_micros() < 100_000 {
                    break;
                }
                if self.try_deadline(last, mid) {
                    ok = mid;
                } else {
                    bad = mid;
                }
            }
        }
        // The deadline is judged when it comes: the run can end there.
        let x = &self.best.expect;
        if let Some(at) = x.converged_by.max(x.leader_elected_by) {
            let d = at.saturating_since(SimTime::ZERO);
            if d < self.best.duration {
                let mut c = self.best.clone();
                c.duration = d;
                clamp_to_duration(&mut c);
                self.attempt(format!("end the run at its deadline, {at}"), c);
            }
        }
    }

    /// The liveness deadline `slack` after `last` (the end of the last
    /// fault), on 100 ms, and the run one second past it: kept if the
    /// failure survives. True also when that would not shorten the run.
    fn try_deadline(&mut self, last: SimTime, slack: SimDuration) -> bool {
        let d = SimDuration::from_micros((last + slack).as_micros().div_ceil(100_000) * 100_000);
        let at = SimTime::ZERO + d;
        let duration = d + SimDuration::from_secs(1);
        if duration >= self.best.duration {
            return true;
        }
        let mut c = self.best.clone();
        c.duration = duration;
        for t in [&mut c.expect.converged_by, &mut c.expect.leader_elected_by]
            .into_iter()
            .flatten()
        {
            *t = (*t).min(at);
        }
        clamp_to_duration(&mut c);
        let what =
            format!("deadline {at} ({slack} after the last fault ends), duration {duration}");
        self.attempt(what, c)
    }

    /// Closes quiet gaps in the timeline: the events after a gap (and the
    /// deadlines and the duration with them) move earlier by part of it,
    /// while the failure survives. A gap is a stretch in which no fault
    /// begins or ends; a fault on across it is shortened with it. Fewer
    /// events leave long gaps where the dropped ones were; this is what
    /// brings a failure judged at a deadline after its last fault down to
    /// a fraction of the run, and a safety violation that needs a fault
    /// at 12 s to one at 3 s.
    fn compress_gaps(&mut self) {
        /// At most this many events left: the gaps are swept finely.
        const FINE_SHIFT_EVENTS: usize = 8;
        /// At most this many: every 32nd of each gap is tried.
        const FINEST_SHIFT_EVENTS: usize = 4;
        let mut i = 0;
        while i < self.best.events.len() {
            let mut order: Vec<usize> = (0..self.best.events.len()).collect();
            order.sort_by_key(|&k| (self.best.events[k].at, k));
            let Some(&k) = order.get(i) else { break };
            let at = self.best.events[k].at;
            // The cluster needs its first second to start and elect.
            let earlier_end =
                last_change_before(&self.best.events, at).unwrap_or(SimTime(1_000_000));
            let gap = at.saturating_since(earlier_end).as_micros();
            let mut kept = false;
            // Shifts of 3/4 and 1/2 of the gap; with few events left, a
            // finer sweep from 7/8 down to 1/8: a failure that needs its
            // events at a particular phase of the workload or of the
            // heartbeats often survives one shift and not the next
            // (`stale-install-winds-back`'s join).
            //
            // With very few events left, every 32nd of the gap: the
            // phases that fail can be narrow (in a 2-event minimal file of
            // `plan-against-stale-liveness`, hunt seed 0 run 99, the pause
            // of n5 survived shifts of 4.9 s to 5.2 s of its 7.5 s gap,
            // and neither 4.7 s nor 5.6 s). The rejected-candidate memo
            // keeps a later pass from sweeping an unchanged gap again.
            let n = self.best.events.len();
            let thirty_seconds: Vec<u64> = if n <= FINEST_SHIFT_EVENTS {
                (1..32).rev().collect()
            } else if n <= FINE_SHIFT_EVENTS {
                vec![28, 24, 20, 16, 12, 8, 4]
            } else {
                vec![24, 16]
            };
            for k in thirty_seconds {
                let shift = gap * k / 32;
                // Whole milliseconds keep the file readable.
                let shift = SimDuration::from_micros(shift / 1000 * 1000);
                if shift < SimDuration::from_millis(200) {
                    break;
                }
                let mut c = self.best.clone();
                let back = |t: &mut SimTime| {
                    if *t >= at {
                        *t = SimTime(t.as_micros() - shift.as_micros());
                    }
                };
                for &j in &order[i..] {
                    let e = &mut c.events[j];
                    back(&mut e.at);
                    if let Some(u) = &mut e.until {
                        back(u);
                    }
                }
                for t in [&mut c.expect.converged_by, &mut c.expect.leader_elected_by]
                    .into_iter()
                    .flatten()
                {
                    back(t);
                }
                if let Some(w) = &mut c.workload {
                    back(&mut w.stop);
                }
                c.duration = SimDuration::from_micros(c.duration.as_micros() - shift.as_micros());
                clamp_to_duration(&mut c);
                if self.attempt(format!("move the events from {at} on {shift} earlier"), c) {
                    kept = true;
                    break;
                }
            }
            if !kept {
                i += 1;
            }
        }
    }

    /// The fault points off: a failure that does not need them is easier
    /// to read.
    fn drop_buggify(&mut self) {
        if self.best.random.as_ref().and_then(|r| r.buggify).is_none() {
            return;
        }
        let mut c = self.best.clone();
        c.random = None;
        self.attempt("fault points off (no buggify)".into(), c);
    }

    /// A safety failure found in a liveness-mode run does not need the
    /// liveness deadlines: try without them.
    fn drop_deadlines(&mut self) {
        let x = &self.best.expect;
        if LIVENESS.contains(&self.check.as_str())
            || self.check.starts_with("expect")
            || (x.converged_by.is_none() && x.leader_elected_by.is_none())
        {
            return;
        }
        let mut c = self.best.clone();
        c.expect.converged_by = None;
        c.expect.leader_elected_by = None;
        self.attempt("no liveness deadline".into(), c);
    }

    /// With a planted bug, whether the scenario passes without it: every
    /// kept reduction is checked (a smaller cluster, a shorter run or
    /// default timing must not make a correct cluster fail the same way,
    /// or the minimal file would reproduce a failure that is not the
    /// bug's).
    fn fair(&mut self, c: &Scenario) -> bool {
        if self.planted.is_empty() {
            return true;
        }
        let Some(c) = roundtrip(c) else { return false };
        self.runs += 1;
        let r = run_quiet(&c, self.seed, Planted::NONE);
        r.as_ref().and_then(failure_signature).as_deref() != Some(self.check.as_str())
    }

    /// Removes whole groups of events at once: every event of one kind
    /// (all the one-way cuts, all the crashes), then every event naming
    /// one process. A schedule drawn per process or per kind often needs
    /// none of a group, which delta debugging over positions finds only
    /// after many runs, if the group is scattered.
    fn drop_groups(&mut self) {
        let kinds: BTreeSet<&'static str> =
            self.best.events.iter().map(|e| e.action.kind()).collect();
        for kind in kinds {
            let mut c = self.best.clone();
            c.events.retain(|e| e.action.kind() != kind);
            if !c.events.is_empty() && c.events.len() < self.best.events.len() {
                self.attempt(format!("drop every {kind} event"), c);
            }
        }
        let names: BTreeSet<String> = self
            .best
            .events
            .iter()
            .flat_map(|e| named(&e.action))
            .collect();
        for name in names {
            let mut c = self.best.clone();
            c.events.retain(|e| !named(&e.action).contains(&name));
            if c.events.len() < self.best.events.len() {
                self.attempt(format!("drop every event naming {name}"), c);
            }
        }
    }

    /// Delta debugging over the events (Zeller's ddmin): at each
    /// granularity, first keep one chunk alone (its complement removed),
    /// then remove one chunk at a time; halve the chunks until no single
    /// event can go (one-minimal).
    fn drop_events(&mut self) {
        let mut chunk = self.best.events.len().div_ceil(2).max(1);
        loop {
            let n = self.best.events.len();
            if n == 0 {
                break;
            }
            chunk = chunk.min(n);
            // Complements: with three chunks or more, keeping one alone is
            // not the same as removing another.
            if n.div_ceil(chunk) > 2 {
                let mut kept = false;
                for start in (0..n).step_by(chunk) {
                    let end = (start + chunk).min(n);
                    let mut c = self.best.clone();
                    c.events = c.events[start..end].to_vec();
                    if self.attempt(format!("keep only events {start}..{end} of {n}"), c) {
                        kept = true;
                        break;
                    }
                }
                if kept {
                    chunk = self.best.events.len().div_ceil(2).max(1);
                    continue;
                }
            }
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

    /// Halves each `until` span while the failure survives, from its end
    /// and then from its start.
    fn shorten_spans(&mut self) {
        for i in 0..self.best.events.len() {
            for from_start in [false, true] {
                for _ in 0..6 {
                    let Some(e) = self.best.events.get(i) else {
                        break;
                    };
                    let Some(until) = e.until else { break };
                    let span = until.as_micros().saturating_sub(e.at.as_micros());
                    if span < 20_000 {
                        break;
                    }
                    // Whole milliseconds keep the file readable.
                    let half = SimTime((e.at.as_micros() + span / 2) / 1000 * 1000);
                    let mut c = self.best.clone();
                    let what = if from_start {
                        c.events[i].at = half;
                        format!("shorten event {i} to begin at {half}")
                    } else {
                        c.events[i].until = Some(half);
                        format!("shorten event {i} to end at {half}")
                    };
                    if !self.attempt(what, c) {
                        break;
                    }
                }
            }
        }
    }

    /// The network's random imperfections off (loss, duplication,
    /// reordering): all at once, then one at a time.
    fn zero_network(&mut self) {
        let n = &self.best.network;
        if n.drop == 0.0 && n.duplicate == 0.0 && n.reorder == 0.0 {
            return;
        }
        let mut c = self.best.clone();
        (c.network.drop, c.network.duplicate, c.network.reorder) = (0.0, 0.0, 0.0);
        if self.attempt("no random loss, duplication or reordering".into(), c) {
            return;
        }
        for (what, f) in [
            (
                "loss",
                (|c: &mut Scenario| c.network.drop = 0.0) as fn(&mut Scenario),
            ),
            ("duplication", |c| c.network.duplicate = 0.0),
            ("reordering", |c| c.network.reorder = 0.0),
        ] {
            let mut c = self.best.clone();
            f(&mut c);
            if c.network != self.best.network {
                self.attempt(format!("no random {what}"), c);
            }
        }
    }

    /// Timing knobs back to their defaults (all at once, then Raft's
    /// election window, its heartbeat, and the node heartbeat with its
    /// suspicion and death thresholds): a knob the failure does not need
    /// is noise in the minimal file, and a drawn election window narrower
    /// than the round trip can keep a correct cluster without a leader for
    /// seconds, which holds every later cut of the duration back.
    fn default_timing(&mut self) {
        let d = crate::scenario::Timing::default();
        if self.best.timing == d {
            return;
        }
        let mut c = self.best.clone();
        c.timing = d.clone();
        if self.attempt("timing knobs back to their defaults".into(), c) {
            return;
        }
        type Knob = (
            &'static str,
            fn(&mut crate::scenario::Timing, &crate::scenario::Timing),
        );
        let knobs: [Knob; 3] = [
            ("election_timeout", |t, d| {
                t.election_timeout = d.election_timeout
            }),
            ("raft_heartbeat", |t, d| t.raft_heartbeat = d.raft_heartbeat),
            (
                "heartbeat_interval, suspect_after and dead_after",
                |t, d| {
                    t.heartbeat_interval = d.heartbeat_interval;
                    t.suspect_after = d.suspect_after;
                    t.dead_after = d.dead_after;
                },
            ),
        ];
        for (what, set) in knobs {
            let mut c = self.best.clone();
            set(&mut c.timing, &d);
            if c.timing != self.best.timing {
                self.attempt(format!("{what} back to the default"), c);
            }
        }
    }

    /// A failure judged over the whole history at the end of the run
    /// (`durability`, `linearizable`, …) is reported at the end, so cutting
    /// to just past the violation gains nothing: search for the shortest
    /// duration (100 ms steps, never before the last fault ends) at which
    /// the same checker still fails — and, with a planted bug, at which the
    /// run without it still passes, so the cut does not make the failure
    /// the cut's own (a write acknowledged in the last milliseconds, a node
    /// crashed just before the end).
    ///
    /// A liveness checker with no deadline in the scenario judges at the
    /// end of the run too (a leader still acting beside a newer one when
    /// the run stops): its duration is searched the same way.
    fn search_duration(&mut self) {
        let base = self.best.clone();
        self.search_duration_of(base, "");
    }

    /// A lower workload rate can lengthen the run that a failure judged
    /// over a window needs (fewer operations fall past its deadline): a
    /// shrink of `--plant confirm-latest-round-only` ended at 6.5 s with
    /// 7 operations/s where 15/s failed in 6.2 s. With the rate the
    /// scenario had, a shorter run is searched; kept only if it fails.
    fn trade_rate_for_duration(&mut self, rate0: f64) {
        let Some(low) = self.best.workload.as_ref().map(|w| w.rate) else {
            return;
        };
        // Doublings of the rate kept, up to the scenario's own: which rate
        // a window's failure needs least time at is not monotone.
        let mut rates = Vec::new();
        let mut r = low * 2.0;
        while r < rate0 {
            rates.push(r);
            r *= 2.0;
        }
        if low < rate0 {
            rates.push(rate0);
        }
        for rate in rates {
            let mut base = self.best.clone();
            if let Some(w) = &mut base.workload {
                w.rate = rate;
            }
            self.search_duration_of(base, &format!("workload rate {rate}/s, "));
        }
    }

    /// Binary search for the shortest run, below `base`'s duration, that
    /// still fails: each candidate is `base` (then the last kept one) with
    /// a shorter duration; `what` prefixes each step's description.
    fn search_duration_of(&mut self, mut base: Scenario, what: &str) {
        let x = &base.expect;
        let at_end = x.converged_by.is_none() && x.leader_elected_by.is_none();
        if (LIVENESS.contains(&self.check.as_str()) && !at_end) || self.check.starts_with("expect")
        {
            return;
        }
        // In tenths of a second, then in hundredths within the last tenth.
        let floor = self.duration_floor().as_micros();
        for step in [100_000, 10_000] {
            let mut lo = floor.div_ceil(step);
            if step == 10_000 {
                lo = lo.max((base.duration.as_micros().saturating_sub(100_000)) / step);
            }
            let mut hi = base.duration.as_micros() / step;
            if !base.duration.as_micros().is_multiple_of(step) {
                hi += 1;
            }
            while lo + 1 < hi {
                let mid = (lo + hi) / 2;
                let d = SimDuration::from_micros(mid * step);
                if d >= base.duration {
                    hi = mid;
                    continue;
                }
                let mut c = base.clone();
                c.duration = d;
                clamp_to_duration(&mut c);
                if self.attempt(format!("{what}duration {d} (search)"), c) {
                    base = self.best.clone();
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
        }
    }

    /// The shortest a run may be cut to: the end of its last fault — and,
    /// with no bug planted, 5 s more, so that a cut does not make the
    /// failure the cut's own (a write acknowledged in the last
    /// milliseconds, a node crashed just before the end).
    fn duration_floor(&self) -> SimTime {
        let settle = if self.planted.is_empty() {
            SimDuration::from_secs(5)
        } else {
            SimDuration::ZERO
        };
        // A fault that lasts to the end of the run (an earlier cut ended
        // it there) still lasts to the end of a shorter one: only its
        // start bounds the search.
        let end = self.best.end();
        let last = self
            .best
            .events
            .iter()
            .map(|e| e.until.filter(|u| *u < end).unwrap_or(e.at))
            .max()
            .unwrap_or(SimTime::ZERO);
        last + settle
    }

    /// The shortest duration (100 ms steps, between `floor` and the
    /// current best's) at which `c` still fails with the same checker, by
    /// bisection, or `None`. Nothing is kept: the caller decides.
    fn shortest_failing(&mut self, c: &Scenario, floor: SimTime) -> Option<SimDuration> {
        let step = 100_000;
        let fails = |sh: &mut Self, d: SimDuration| {
            let mut t = c.clone();
            t.duration = d;
            clamp_to_duration(&mut t);
            let Some(t) = roundtrip(&t) else { return false };
            sh.runs += 1;
            run_quiet(&t, sh.seed, sh.planted)
                .as_ref()
                .and_then(failure_signature)
                .as_deref()
                == Some(sh.check.as_str())
        };
        let mut lo = floor.as_micros().div_ceil(step);
        let mut hi = self.best.duration.as_micros() / step;
        if hi <= lo || !fails(self, SimDuration::from_micros(hi * step)) {
            return None;
        }
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if fails(self, SimDuration::from_micros(mid * step)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(SimDuration::from_micros(hi * step)).filter(|d| *d < self.best.duration)
    }

    /// Hot keys: a failure of the data plane that needs two operations on
    /// one cell (a retried compare-and-set and a read that sees it twice)
    /// comes sooner when the workload's keys are skewed. Each skew is
    /// tried with the shortest duration at which it still fails, and kept
    /// only when that is shorter than the run it replaces
    /// (`retry-cas-new-id`: uniform keys fail at 8.6 s, `zipf:1.1` at 4 s).
    fn hot_keys(&mut self) {
        let Some(w) = &self.best.workload else { return };
        if LIVENESS.contains(&self.check.as_str()) || self.check.starts_with("expect") {
            return;
        }
        let current = w.keys;
        let floor = self.duration_floor();
        for keys in [KeyDist::Zipf(1.1), KeyDist::Zipf(1.3), KeyDist::Zipf(1.5)] {
            if keys == current {
                continue;
            }
            let mut c = self.best.clone();
            if let Some(w) = &mut c.workload {
                w.keys = keys;
            }
            let Some(d) = self.shortest_failing(&c, floor) else {
                continue;
            };
            c.duration = d;
            clamp_to_duration(&mut c);
            self.attempt(format!("keys \"{keys}\", duration {d}"), c);
        }
    }

    /// Merges two events of the same action (same kind, same targets)
    /// into one spanning both: a crash storm drawn per kind often leaves
    /// the same process crashed twice in a row, where one longer crash
    /// fails the same way.
    fn merge_spans(&mut self) {
        let mut i = 0;
        while i < self.best.events.len() {
            let e = &self.best.events[i];
            let (Some(until), action) = (e.until, e.action.clone()) else {
                i += 1;
                continue;
            };
            // The next event (in time) with the same action and a span.
            let next = self
                .best
                .events
                .iter()
                .enumerate()
                .filter(|(j, f)| *j != i && f.action == action && f.until.is_some())
                .filter(|(_, f)| f.at >= e.at)
                .min_by_key(|(j, f)| (f.at, *j))
                .map(|(j, _)| j);
            let Some(j) = next else {
                i += 1;
                continue;
            };
            let mut c = self.best.clone();
            let end = until.max(c.events[j].until.unwrap_or(until));
            c.events[i].until = Some(end);
            c.events.remove(j);
            let what = format!("merge events {i} and {j} ({action}) into one until {end}");
            if !self.attempt(what, c) {
                i += 1;
            }
        }
    }

    /// Absorbs one event into another: event `j` dropped and event `i`'s
    /// window stretched over both (from the earlier begin to the later
    /// end). Two faults that keep one process or one link quiet back to
    /// back (a manager isolated, then paused; a link slowed, then cut)
    /// often fail the same way as the one longer fault, which delta
    /// debugging cannot find: dropping either alone changes the failure.
    /// Pairs that name a common process are tried first. Only with few
    /// events left (the pairs grow with the square).
    fn absorb_events(&mut self) {
        /// At most this many events: at most 240 pairs a round (the
        /// memo of rejected candidates keeps later passes cheap). 16, not
        /// 8: `commit-old-term-by-counting`'s Figure 8 (hunt seed 0 run 88)
        /// goes from 14 to 10 events (m4's crash stretched from the start:
        /// its two slow links and its slow clock go).
        const ABSORB_EVENTS: usize = 16;
        'again: loop {
            let n = self.best.events.len();
            if !(2..=ABSORB_EVENTS).contains(&n) {
                return;
            }
            let mut pairs: Vec<(bool, usize, usize)> = Vec::new();
            for i in 0..n {
                if self.best.events[i].until.is_none() {
                    continue;
                }
                let ni = named(&self.best.events[i].action);
                for j in (0..n).filter(|&j| j != i) {
                    let common = named(&self.best.events[j].action)
                        .iter()
                        .any(|p| ni.contains(p));
                    pairs.push((!common, i, j));
                }
            }
            pairs.sort();
            for (_, i, j) in pairs {
                let mut c = self.best.clone();
                c.events = absorbed(&self.best.events, i, j);
                let e = &c.events[if j < i { i - 1 } else { i }];
                let what = format!(
                    "drop event {j} ({}), event {i} ({}) stretched over it: {} to {}",
                    self.best.events[j].action,
                    e.action,
                    e.at,
                    e.until.unwrap_or(e.at)
                );
                if self.attempt(what, c) {
                    continue 'again;
                }
            }
            return;
        }
    }

    /// What each one-way cut of the best run followed (event index →
    /// anchor; see `shrink_reaim.rs`).
    fn anchors(&mut self) -> std::collections::BTreeMap<usize, reaim::Anchor> {
        if !self
            .best
            .events
            .iter()
            .any(|e| reaim::cut_process(&e.action).is_some())
        {
            return Default::default();
        }
        self.runs += 1;
        let Some(sends) = reaim::sends_of(&self.best, self.seed, self.planted) else {
            return Default::default();
        };
        (self.best.events.iter().enumerate())
            .filter_map(|(i, e)| {
                let p = reaim::cut_process(&e.action)?;
                Some((i, sends.last_before(p, e.at)?.clone()))
            })
            .collect()
    }

    /// Drops each event delta debugging had to keep, with the one-way cuts
    /// placed again just after the messages they followed in the failing
    /// run (see `shrink_reaim.rs`): an event that only moved the moment a
    /// cut had to hit goes.
    fn drop_reaimed(&mut self) {
        'again: loop {
            let anchors = self.anchors();
            if anchors.is_empty() || anchors.len() > MAX_REAIMED_CUTS {
                return;
            }
            // Each event that is not a re-aimed cut, then each pair of them
            // (a slowed clock and a slow link often set one moment together).
            let others: Vec<usize> = (0..self.best.events.len())
                .filter(|j| !anchors.contains_key(j))
                .collect();
            let mut sets: Vec<Vec<usize>> = others.iter().map(|&j| vec![j]).collect();
            if others.len() <= 12 {
                for (a, &j) in others.iter().enumerate() {
                    sets.extend(others[a + 1..].iter().map(|&k| vec![j, k]));
                }
            }
            let best = xxhash_rust::xxh3::xxh3_128(self.best.to_toml().as_bytes());
            for gone in sets {
                // Placing the cuts takes runs of its own: a set already
                // tried on this very scenario (an earlier pass) is not
                // tried again.
                if !self.reaim_tried.insert((best, gone.clone())) {
                    continue;
                }
                let mut c = self.best.clone();
                c.events = (self.best.events.iter().enumerate())
                    .filter(|(j, _)| !gone.contains(j))
                    .map(|(_, e)| e.clone())
                    .collect();
                let shifted = (anchors.iter())
                    .map(|(&i, a)| (i - gone.iter().filter(|&&j| j < i).count(), a.clone()))
                    .collect();
                let names: Vec<String> = (gone.iter())
                    .map(|&j| format!("event {j} ({})", self.best.events[j].action))
                    .collect();
                if self.attempt_reaimed(&c, &shifted, &format!("drop {}", names.join(" and "))) {
                    continue 'again;
                }
            }
            return;
        }
    }

    /// A one-way cut whose side is still a selector (`leader`,
    /// `any-manager`, …; pinning leaves a selector the failing run never
    /// resolved, or one whose pinned run failed otherwise): try each
    /// process it may stand for, and keep the first with which the failure
    /// survives (the file then says who is cut).
    fn pin_one_way(&mut self) {
        let mut managers = self.best.cluster.manager_ids();
        let mut nodes = self.best.cluster.node_ids();
        for e in &self.best.events {
            match &e.action {
                Action::AddManager(id) => managers.push(id.clone()),
                Action::Join { id, .. } => nodes.push(id.clone()),
                _ => {}
            }
        }
        for i in 0..self.best.events.len() {
            for side in 0..2 {
                let Some(Action::OneWay { from, to }) = self.best.events.get(i).map(|e| &e.action)
                else {
                    break;
                };
                let t = if side == 0 { from } else { to };
                let candidates = match t {
                    Target::Leader | Target::AnyManager => managers.clone(),
                    Target::AnyNode | Target::Primary(_) => nodes.clone(),
                    Target::Id(_) => continue,
                };
                let t = t.clone();
                let other = if side == 0 { to } else { from }.clone();
                for id in candidates {
                    if other.as_id() == Some(id.as_str()) {
                        continue;
                    }
                    let mut c = self.best.clone();
                    if let Action::OneWay { from, to } = &mut c.events[i].action {
                        let t = if side == 0 { from } else { to };
                        *t = Target::Id(id.clone());
                    }
                    if self.attempt(format!("one-way cut {i}: {t} pinned to {id}"), c) {
                        break;
                    }
                }
            }
        }
    }

    /// Lowers workload and cluster sizes where the scenario allows; the
    /// events naming a process that no longer exists go with it.
    fn lower_sizes(&mut self) {
        // No workload at all (a control-plane failure rarely needs one).
        if self.best.workload.is_some() || self.best.cluster.clients > 0 {
            let mut c = self.best.clone();
            c.workload = None;
            for i in 1..=c.cluster.clients {
                without(&mut c, &format!("c{i}"));
            }
            c.cluster.clients = 0;
            self.attempt("no workload, no clients".into(), c);
        }
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
        // Half as many first, then a quarter fewer, then one fewer: a
        // drawn cluster may have hundreds of clients or nodes, and one at
        // a time took a shrink over a thousand runs (hunt seed 0 run 791
        // of `--plant reseed-from-behind-copy`: 897 clients).
        self.lower(
            "c",
            "clients",
            fewer,
            |s| s.cluster.clients,
            |s, n| {
                s.cluster.clients = n;
            },
        );
        self.lower(
            "n",
            "data nodes",
            fewer,
            |s| s.cluster.nodes,
            |s, n| {
                s.cluster.nodes = n;
                s.grid.replication_factor = s.grid.replication_factor.min(n);
            },
        );
        // Group sizes the validator accepts (1, 3 or 5), smallest first.
        let groups = |m: u32| [1, 3].into_iter().filter(|&to| to < m).collect();
        self.lower(
            "m",
            "managers",
            groups,
            |s| s.cluster.managers,
            |s, n| {
                s.cluster.managers = n;
            },
        );
    }

    /// Lowers the managers from `n` to `to` with the one-way cuts of the
    /// ones that stay placed again after the messages they followed.
    fn lower_reaimed(&mut self, to: u32, n: u32, what: &str, set: fn(&mut Scenario, u32)) -> bool {
        let best = xxhash_rust::xxh3::xxh3_128(self.best.to_toml().as_bytes());
        if !self
            .reaim_tried
            .insert((best, vec![usize::MAX, to as usize]))
        {
            return false;
        }
        let anchors = self.anchors();
        if anchors.is_empty() || anchors.len() > MAX_REAIMED_CUTS {
            return false;
        }
        // Which events survive the smaller group: each is marked with its
        // index (in `line`, which the file does not carry) and given its
        // own line back after.
        let mut c = self.best.clone();
        for (i, e) in c.events.iter_mut().enumerate() {
            e.line = i;
        }
        set(&mut c, to);
        for gone in to + 1..=n {
            without(&mut c, &format!("m{gone}"));
        }
        let kept: Vec<usize> = c.events.iter().map(|e| e.line).collect();
        for (e, &i) in c.events.iter_mut().zip(&kept) {
            e.line = self.best.events[i].line;
        }
        let moved: std::collections::BTreeMap<usize, reaim::Anchor> = (anchors.iter())
            .filter_map(|(i, a)| Some((kept.iter().position(|k| k == i)?, a.clone())))
            .collect();
        self.attempt_reaimed(&c, &moved, &format!("{to} {what}"))
    }

    /// Tries `c` with its cuts (`anchors`: event index → anchor) placed
    /// again, each way of ending them in turn; keeps the first that still
    /// fails the same way. `step` says what was reduced.
    fn attempt_reaimed(
        &mut self,
        c: &Scenario,
        anchors: &std::collections::BTreeMap<usize, reaim::Anchor>,
        step: &str,
    ) -> bool {
        for ends in reaim::Ends::ALL {
            let (seed, planted) = (self.seed, self.planted);
            let Some(r) = reaim::reaimed(c, anchors, ends, seed, planted, &mut self.runs) else {
                return false;
            };
            let what = format!(
                "{step}, the cuts placed again after the messages they followed, {}",
                ends.describe()
            );
            if self.attempt(what, r) {
                return true;
            }
        }
        false
    }

    /// Lowers a count of processes (ids `{prefix}1..`) through the sizes
    /// `sizes` offers, while the failure survives; the processes beyond
    /// the new count leave the timeline with it.
    fn lower(
        &mut self,
        prefix: &str,
        what: &str,
        sizes: fn(u32) -> Vec<u32>,
        get: fn(&Scenario) -> u32,
        set: fn(&mut Scenario, u32),
    ) {
        loop {
            let n = get(&self.best);
            let mut kept = false;
            for to in sizes(n) {
                let mut c = self.best.clone();
                set(&mut c, to);
                for gone in to + 1..=n {
                    without(&mut c, &format!("{prefix}{gone}"));
                }
                if self.attempt(format!("{to} {what}"), c) {
                    kept = true;
                    break;
                }
                // Fewer managers move every election: the cuts aimed at
                // their moments are placed again (see `shrink_reaim.rs`).
                if prefix == "m" && self.lower_reaimed(to, n, what, set) {
                    kept = true;
                    break;
                }
            }
            if !kept {
                break;
            }
        }
    }
}

/// The last time before `at` at which a fault begins or ends: the start
/// of the quiet gap that ends at `at`. A fault on across `at` (a crash
/// that lasts to the end of the run) does not close the gap: shifting
/// the events from `at` on earlier shortens it, and no begin or end
/// changes order.
fn last_change_before(events: &[EventSpec], at: SimTime) -> Option<SimTime> {
    events
        .iter()
        .flat_map(|e| [Some(e.at), e.until])
        .flatten()
        .filter(|t| *t < at)
        .max()
}

/// The events with `j` dropped and `i` (a fault with a span) stretched
/// over both windows: from the earlier begin to the later end (an instant
/// event's end is its `at`).
fn absorbed(events: &[EventSpec], i: usize, j: usize) -> Vec<EventSpec> {
    let (a, b) = (&events[i], &events[j]);
    let at = a.at.min(b.at);
    let until = a.until.max(b.until).map(|u| u.max(b.at));
    let mut out = events.to_vec();
    out[i].at = at;
    out[i].until = until;
    out.remove(j);
    out
}

/// Smaller counts to try in place of `n` (at least 1), largest cut first:
/// half, a quarter fewer, one fewer.
fn fewer(n: u32) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for to in [n / 2, n - n / 4, n.saturating_sub(1)] {
        if to >= 1 && to < n && !out.contains(&to) {
            out.push(to);
        }
    }
    out
}

/// Removes `id` (a process a smaller cluster lacks) from the timeline: a
/// partition loses it from its group (and goes when fewer than two groups
/// are left), any other event naming it goes.
fn without(s: &mut Scenario, id: &str) {
    for e in &mut s.events {
        if let Action::Partition(groups) = &mut e.action {
            for g in groups.iter_mut() {
                g.retain(|n| n != id);
            }
            groups.retain(|g| !g.is_empty());
        }
    }
    s.events.retain(|e| match &e.action {
        Action::Partition(groups) => groups.len() >= 2,
        a => !named(a).iter().any(|n| n == id),
    });
}

/// At most this many cuts are re-aimed (each takes a run per candidate,
/// and a candidate is tried per event or pair of the others): a run with
/// more is a storm that delta debugging thins first.
const MAX_REAIMED_CUTS: usize = 6;

/// Passes over every reduction, while a pass still changes something: a
/// reduction of one kind often opens another (a shorter span lets a gap
/// close that would not before).
const MAX_PASSES: usize = 6;

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
    // A failure the run without the planted bug shows too is not the
    // bug's: it is shrunk as a failure of the stack, with no bug, or every
    // reduction would be refused as unfair.
    let mut planted = planted;
    let mut not_the_bugs = false;
    if !planted.is_empty() {
        let correct = run_quiet(s, seed, Planted::NONE);
        if correct.as_ref().and_then(failure_signature).as_deref() == Some(check.as_str()) {
            planted = Planted::NONE;
            not_the_bugs = true;
        }
    }
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
        rejected: BTreeSet::new(),
        reaim_tried: BTreeSet::new(),
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
    if not_the_bugs {
        sh.runs += 1;
        sh.steps.push(ShrinkStep {
            what: format!(
                "fails with {check} with no bug planted too: shrunk as a failure of the stack, without the planted bug"
            ),
            kept: true,
        });
    }
    if let Some(pinned) = pin_selectors(&sh.best, &original) {
        sh.attempt(
            "selectors pinned to the processes they resolved to".into(),
            pinned,
        );
    }
    if let Some(pinned) = pin_stars(&sh.best) {
        sh.attempt(
            "\"*\" in partitions written out as the processes it stands for".into(),
            pinned,
        );
    }
    let rate0 = sh.best.workload.as_ref().map(|w| w.rate);
    sh.cut_duration();
    sh.drop_buggify();
    sh.drop_deadlines();
    sh.zero_network();
    sh.hot_keys();
    // Passes until one changes nothing: a reduction of one kind often
    // opens another.
    for _ in 0..MAX_PASSES {
        let before = (sh.best.events.len(), sh.best.duration, sh.steps.len());
        sh.drop_groups();
        sh.drop_events();
        sh.merge_spans();
        sh.absorb_events();
        sh.drop_reaimed();
        sh.pin_one_way();
        sh.cut_duration();
        sh.search_duration();
        sh.cut_liveness();
        // Quiet gaps close for every failure: a safety violation then
        // happens earlier, and the duration is cut to just past it.
        sh.compress_gaps();
        if LIVENESS.contains(&sh.check.as_str()) {
            sh.cut_liveness();
        } else {
            sh.cut_duration();
        }
        sh.shorten_spans();
        sh.lower_sizes();
        sh.hot_keys();
        sh.default_timing();
        sh.cut_duration();
        sh.search_duration();
        sh.cut_liveness();
        if (sh.best.events.len(), sh.best.duration, sh.steps.len()) == before {
            break;
        }
    }
    if let Some(rate0) = rate0 {
        sh.trade_rate_for_duration(rate0);
    }
    sh.faster_detection();
    sh.cut_duration_tight();
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
        planted,
    })
}

/// The minimal scenario as a standalone, commented file.
pub fn minimal_file(r: &ShrinkReport, source: &str, seed: u64) -> String {
    let planted = r.planted;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        scenario::parse(text, "test.toml").expect("a valid scenario")
    }

    /// A crash storm of selectors: three managers, `any-manager` and
    /// `leader` crashes, one `primary:` crash.
    const STORM: &str = r#"
name = "storm"
duration = "8s"
[cluster]
managers = 3
nodes = 3
clients = 1
[workload]
rate = 20
[[events]]
at = "2s"
until = "2.2s"
crash = "any-manager"
[[events]]
at = "2.5s"
until = "2.6s"
crash = "leader"
[[events]]
at = "3s"
until = "3.1s"
crash = "any-manager"
[[events]]
at = "3s"
until = "3.3s"
crash = "any-node"
[[events]]
at = "4s"
until = "4.5s"
crash = "primary:0"
"#;

    #[test]
    fn pinned_selectors_make_the_same_run() {
        let s = scenario(STORM);
        let a = run_quiet(&s, 5, Planted::NONE).expect("the run completes");
        let pinned = pin_selectors(&s, &a).expect("selectors to pin");
        assert!(pinned.events.len() <= s.events.len());
        for e in &pinned.events {
            let mut action = e.action.clone();
            let t = action.single_target_mut().expect("a single target");
            assert!(!t.is_selector(), "{} still a selector", e.action);
        }
        let b = run_quiet(&roundtrip(&pinned).expect("valid"), 5, Planted::NONE)
            .expect("the run completes");
        assert_eq!(a.metrics, b.metrics);
        assert_eq!(a.messages, b.messages);
        assert_eq!(a.passed, b.passed);
        assert!(b.selectors.is_empty());
    }

    #[test]
    fn multi_target_selectors_and_stars_are_pinned_to_the_same_run() {
        let text = format!(
            "{STORM}{}",
            r#"
[[events]]
at = "2s"
until = "3s"
partition = [["leader", "n1"], ["*"]]
[[events]]
at = "2.5s"
until = "4s"
link = { from = "any-manager", to = "n2", latency = ["30ms", "40ms"] }
[[events]]
at = "3.5s"
until = "4.5s"
one_way = { from = "any-node", to = "*" }
"#
        );
        let s = scenario(&text);
        let a = run_quiet(&s, 3, Planted::NONE).expect("the run completes");
        let pinned = pin_selectors(&s, &a).expect("selectors to pin");
        let pinned = pin_stars(&pinned).expect("a star to pin");
        for e in &pinned.events {
            match &e.action {
                Action::Partition(groups) => {
                    for n in groups.iter().flatten() {
                        assert!(n != "*" && !is_selector_name(n), "{}", e.action);
                    }
                }
                Action::Link { from, to, .. } | Action::OneWay { from, to } => {
                    assert!(!from.is_selector() && !to.is_selector(), "{}", e.action);
                }
                _ => {}
            }
        }
        let b = run_quiet(&roundtrip(&pinned).expect("valid"), 3, Planted::NONE)
            .expect("the run completes");
        assert_eq!(a.metrics, b.metrics);
        assert_eq!(a.messages, b.messages);
        assert!(b.selectors.is_empty());
        // A smaller cluster takes its member out of the written-out group.
        let mut smaller = pinned.clone();
        without(&mut smaller, "c1");
        assert_eq!(smaller.events.len(), pinned.events.len());
    }

    #[test]
    fn overlapping_crash_and_pause_windows_become_the_window_the_run_had() {
        let ev = |at: u64, until: u64, action: Action| EventSpec {
            at: SimTime(at * 1_000_000),
            until: Some(SimTime(until * 1_000_000)),
            action,
            line: 0,
        };
        let crash = || Action::Crash(Target::Id("n1".into()));
        let pause = || Action::Pause(Target::Id("n1".into()));
        let mut events = vec![
            ev(1, 10, crash()),
            ev(20, 22, crash()),
            ev(2, 5, crash()),
            ev(2, 3, pause()),
            ev(4, 8, crash()),
            ev(21, 30, crash()),
        ];
        merge_overlapping_windows(&mut events);
        let got: Vec<(u64, u64, &'static str)> = events
            .iter()
            .map(|e| {
                let secs = |t: SimTime| t.as_micros() / 1_000_000;
                (secs(e.at), secs(e.until.unwrap()), e.action.kind())
            })
            .collect();
        // From the first begin to the first end; a pause is another fault.
        assert_eq!(
            got,
            vec![(1, 5, "crash"), (20, 22, "crash"), (2, 3, "pause")]
        );
    }

    #[test]
    fn an_absorbed_event_leaves_one_window_over_both() {
        let ev = |at: u64, until: Option<u64>, action: Action| EventSpec {
            at: SimTime(at * 1_000),
            until: until.map(|u| SimTime(u * 1_000)),
            action,
            line: 0,
        };
        let link = Action::Link {
            from: Target::Id("m2".into()),
            to: Target::Id("m1".into()),
            latency: None,
            drop: None,
            duplicate: None,
        };
        let cut = Action::OneWay {
            from: Target::Id("m2".into()),
            to: Target::Id("m1".into()),
        };
        let crash = Action::Crash(Target::Id("m1".into()));
        let events = vec![
            ev(275, Some(550), link.clone()),
            ev(518, Some(522), crash.clone()),
            ev(572, Some(590), cut),
        ];
        // A later cut absorbed by an earlier link: the link lasts to its end.
        let got = absorbed(&events, 0, 2);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].at, got[0].until),
            (SimTime(275_000), Some(SimTime(590_000)))
        );
        assert_eq!(got[0].action, link);
        assert_eq!(got[1].action, crash);
        // An earlier event absorbed by a later one: it begins earlier.
        let got = absorbed(&events, 2, 0);
        assert_eq!(
            (got[1].at, got[1].until),
            (SimTime(275_000), Some(SimTime(590_000)))
        );
        // An instant event after the window stretches it to its time.
        let mut with_restart = events.clone();
        with_restart.push(ev(600, None, Action::Restart(Target::Id("m3".into()))));
        let got = absorbed(&with_restart, 1, 3);
        assert_eq!(
            (got[1].at, got[1].until),
            (SimTime(518_000), Some(SimTime(600_000)))
        );
    }

    #[test]
    fn a_quiet_gap_begins_at_the_last_begin_or_end_before_it() {
        let ev = |at: u64, until: Option<u64>| EventSpec {
            at: SimTime(at * 1_000),
            until: until.map(|u| SimTime(u * 1_000)),
            action: Action::Crash(Target::Id("n2".into())),
            line: 0,
        };
        // n2 down from 1 s to the end of the run (11.5 s), n5 paused at
        // 8.5 s: the gap before the pause is from 1 s, not closed by the
        // crash still on.
        let events = vec![ev(1_000, Some(11_500)), ev(8_500, Some(10_900))];
        let t = |ms: u64| SimTime(ms * 1_000);
        assert_eq!(last_change_before(&events, t(8_500)), Some(t(1_000)));
        // A fault that ended before counts by its end.
        let events = vec![ev(1_000, Some(3_000)), ev(8_500, Some(10_900))];
        assert_eq!(last_change_before(&events, t(8_500)), Some(t(3_000)));
        assert_eq!(last_change_before(&events, t(1_000)), None);
    }

    #[test]
    fn fewer_halves_first_then_a_quarter_then_one() {
        assert_eq!(fewer(897), vec![448, 673, 896]);
        assert_eq!(fewer(4), vec![2, 3]);
        assert_eq!(fewer(3), vec![1, 2]);
        assert_eq!(fewer(2), vec![1]);
        assert!(fewer(1).is_empty());
        assert!(fewer(0).is_empty());
    }

    #[test]
    fn a_smaller_cluster_drops_the_events_of_its_missing_processes() {
        let mut s = scenario(STORM);
        s.events[0].action = Action::Crash(Target::Id("m3".into()));
        s.events[3].action = Action::OneWay {
            from: Target::Id("n3".into()),
            to: Target::Id("*".into()),
        };
        without(&mut s, "m3");
        without(&mut s, "n3");
        assert_eq!(s.events.len(), 3);
        assert!(s.events.iter().all(|e| named(&e.action).is_empty()));
    }
}
