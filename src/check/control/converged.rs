//! The `converged` checker, and the failure detector's figures.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::CONVERGE_GRACE;
use super::model::Model;
use super::view::{Change, Mem, Remaining, Unconverged};
use crate::check::{Checker, EndOfRun, Traffic};
use crate::sim::clock::Clock;
use crate::sim::{Event, EventKind, SimDuration, SimTime, Violation};
use crate::stack::consensus::RaftEvent;
use crate::stack::events::StackEvent;
use crate::stack::grid::MemberState;
use crate::stack::health::Health;

/// Failure-detection samples kept, at most.
const MAX_SAMPLES: usize = 10_000;

/// `converged`: every partition has `min(RF, remaining)` in-sync replicas
/// on alive members whose process is up — each confirmed by its node: a
/// complete copy, in sync, at the committed epoch — spanning the zones
/// they can, where `remaining` counts the members not decommissioned whose
/// process is up by its own events (a node the leader holds dead while it
/// runs still counts: the factor is owed whenever enough nodes remain),
/// an alive primary
/// that says it is one, nothing catching up or left on draining members,
/// continuously from the deadline (`[expect] converged_by`, else the last
/// fault plus [`CONVERGE_GRACE`]) to the end.
///
/// And the failure detector judges only silence it was there to hear: a
/// manager that was away — paused, or its clock jumped forward — for more
/// than half of `dead_after` must not propose `MarkDead` for a node whose
/// process is up and running, and sent a heartbeat within half of
/// `dead_after`, within `dead_after` of its return on its own clock (local
/// health awareness). Such a declaration fails the run.
///
/// Metrics: `failure_detection_ms` (per crash of an alive member, until it
/// is committed dead) and its max, `false_suspicions` and `false_deaths`
/// (the leader suspected, or committed dead, a node whose process was up
/// and not paused).
#[derive(Debug, Default)]
pub struct Converged {
    /// The map view and copies (shared with the other map checkers).
    model: Model,
    /// Partitions not converged, with why.
    bad: BTreeMap<u32, Unconverged>,
    since: Option<SimTime>,
    /// Process state by name: up (not crashed) and not paused.
    down: BTreeSet<String>,
    paused: BTreeSet<String>,
    crashed_at: BTreeMap<String, SimTime>,
    detection_us: Vec<u64>,
    false_suspicions: u64,
    false_deaths: u64,
    /// The health monitor's `dead_after`.
    dead_after: SimDuration,
    /// Managers paused, since when (on their own clocks).
    paused_at: BTreeMap<String, SimTime>,
    /// Per manager: when it last came back from being away, and for how long.
    back: BTreeMap<String, (SimTime, SimDuration)>,
    /// Clocks per process (to tell a forward jump of local time).
    clocks: BTreeMap<String, Clock>,
    /// The first death declared by a monitor just back from being away.
    hasty: Option<String>,
    /// Nodes whose copies changed (a start, restart or disk loss) with no
    /// recheck of their partitions since: rechecked at the next change of
    /// a member, as a recheck of every partition would.
    copies_changed: BTreeSet<String>,
    /// When each process last sent a heartbeat, by process id (a look-up
    /// by name per heartbeat sent was a string search per message).
    last_beat: Vec<Option<SimTime>>,
    /// The nodes that remain to host replicas ([`MapView::remaining`]),
    /// per zone: kept as members change and their processes crash or start.
    up_per_zone: BTreeMap<String, usize>,
    /// Since when some partition is off (unset while converged).
    off_since: Option<SimTime>,
    /// When every partition was first converged.
    first_converged: Option<SimTime>,
    /// The `[expect]` deadline, once judged met: from then on the first
    /// partition off is a violation traced where it happens.
    met_deadline: Option<SimTime>,
    /// A violation after a met deadline was traced: the end of the run
    /// does not report the same failure again.
    broke_after_deadline: bool,
}

impl Converged {
    /// A checker reading the map view and copies of `model`.
    pub(super) fn sharing(model: &Model) -> Converged {
        Converged {
            model: model.clone(),
            ..Converged::default()
        }
    }

    /// `node` sent a heartbeat within half of `dead_after` before `t`: its
    /// silence was not real (a node whose own clock went back, and so its
    /// timers with it, really is silent).
    fn sent_lately(&self, node: &str, t: SimTime, names: &[String]) -> bool {
        // The latest beat of any process of that name (times only grow).
        let last = names
            .iter()
            .zip(&self.last_beat)
            .filter(|(n, _)| *n == node)
            .filter_map(|(_, b)| *b)
            .max();
        last.is_some_and(|b| t.saturating_since(b).as_micros() * 2 < self.dead_after.as_micros())
    }

    /// Less than `dead_after` passed on `who`'s own clock between `at` and
    /// `t` (the grace it owes is counted on its clock: one running fast
    /// counts it out sooner in virtual time).
    fn within_grace(&self, who: &str, at: SimTime, t: SimTime) -> bool {
        self.local_time(who, t)
            .saturating_since(self.local_time(who, at))
            < self.dead_after
    }

    /// `who`'s local time at virtual time `t`, on its clock as it is now.
    fn local_time(&self, who: &str, t: SimTime) -> SimTime {
        self.clocks.get(who).copied().unwrap_or_default().local(t)
    }

    fn recheck(&mut self, t: SimTime, only: Option<u32>) {
        let Some(partitions) = self
            .model
            .get()
            .view
            .settings
            .as_ref()
            .map(|s| s.partitions)
        else {
            return;
        };
        // A range, not a collected list: the count comes from the trace.
        let all = match only {
            Some(p) => p..=p,
            None if partitions == 0 => return,
            None => {
                self.copies_changed.clear();
                0..=partitions - 1
            }
        };
        self.recheck_in(t, all);
    }

    /// [`MapView::remaining`], from the counts kept.
    fn remaining(&self) -> Remaining {
        Remaining {
            nodes: self.up_per_zone.values().sum(),
            zones: self.up_per_zone.len(),
        }
    }

    /// The zone `node` counts in among the remaining nodes, if it does.
    fn up_zone(&self, node: &str) -> Option<String> {
        self.up_zone_of(node, self.model.get().view.members.get(node))
    }

    /// The zone `node` counts in, were its member entry `member`.
    fn up_zone_of(&self, node: &str, member: Option<&Mem>) -> Option<String> {
        member
            .filter(|m| matches!(m.state, MemberState::Alive | MemberState::Dead))
            .filter(|_| !self.down.contains(node))
            .map(|m| m.zone.clone())
    }

    /// `node` counted in `before` (its zone), and counts as it is now.
    fn recount(&mut self, before: Option<String>, node: &str) {
        if let Some(z) = before
            && let Some(n) = self.up_per_zone.get_mut(&z)
        {
            *n -= 1;
            if *n == 0 {
                self.up_per_zone.remove(&z);
            }
        }
        if let Some(z) = self.up_zone(node) {
            *self.up_per_zone.entry(z).or_default() += 1;
        }
    }

    /// After a change of `node` (its member entry, or its process crashed
    /// or started), with `before` the remaining nodes before it. A
    /// partition's judgement reads the states, zones and processes of the
    /// nodes it names, their copies, and what the remaining nodes let it
    /// want: unless that moved, only the partitions naming `node` (or a
    /// node whose copies changed since the last recheck) can have changed.
    fn recheck_node(&mut self, t: SimTime, node: &str, before: Remaining) {
        let Some(rf) = self.model.get().view.settings.as_ref().map(|s| s.rf) else {
            return;
        };
        let want = |r: Remaining| {
            let want = rf.min(r.nodes);
            (want, want.min(r.zones))
        };
        if want(before) != want(self.remaining()) {
            self.recheck(t, None);
            return;
        }
        let changed = std::mem::take(&mut self.copies_changed);
        let named: BTreeSet<u32> = {
            let m = self.model.get();
            std::iter::once(node)
                .chain(changed.iter().map(String::as_str))
                .filter_map(|n| m.view.named.get(n))
                .flatten()
                .copied()
                .collect()
        };
        self.recheck_in(t, named);
    }

    fn recheck_in(&mut self, t: SimTime, partitions: impl IntoIterator<Item = u32>) {
        let m = self.model.get();
        let Some(s) = &m.view.settings else { return };
        let rf = s.rf;
        let remaining = self.remaining();
        debug_assert_eq!(remaining, m.view.remaining(&self.down));
        for p in partitions {
            match m.view.unconverged(p, rf, &m.copies, remaining, &self.down) {
                Some(why) => {
                    self.bad.insert(p, why);
                }
                None => {
                    self.bad.remove(&p);
                }
            }
        }
        if self.bad.is_empty() {
            self.since.get_or_insert(t);
            self.first_converged.get_or_insert(t);
            self.off_since = None;
        } else {
            self.since = None;
            self.off_since.get_or_insert(t);
        }
    }

    /// One event: the state it changes, and the partitions rechecked.
    fn observe(&mut self, ev: &Event<'_, StackEvent>, names: &[String]) {
        // Of the messages and timers, most events, this checker is shown
        // only the sends ([`Checker::traffic`]): a heartbeat's send is all
        // it takes from them.
        match ev.kind {
            EventKind::Send { msg, .. } => {
                if msg == "Heartbeat" {
                    // A process has a name (a sender out of the table is
                    // none a monitor could declare dead).
                    let i = ev.p.index();
                    if i < names.len() {
                        if self.last_beat.len() <= i {
                            self.last_beat.resize(i + 1, None);
                        }
                        self.last_beat[i] = Some(ev.t);
                    }
                }
                return;
            }
            EventKind::Deliver { .. } | EventKind::Drop { .. } | EventKind::Timer { .. } => {
                return; // not shown
            }
            _ => {}
        }
        let who = ev.p.name_in(names);
        // What the event changed in the map view, and (at a member change)
        // the zone the node counted in before it.
        let (change, counted) = match self.model.apply(ev, names) {
            None => (None, None),
            Some(m) => {
                let change = match &m.applied.change {
                    Some(Change::Partition { p, .. }) => Some(Ok(*p)),
                    Some(Change::Member { node, before, now }) => {
                        Some(Err((node.clone(), *before, *now)))
                    }
                    None => None,
                };
                let counted = match ev.kind {
                    EventKind::App(StackEvent::Member { node, .. }) => {
                        self.up_zone_of(node, m.applied.member_before.as_ref())
                    }
                    _ => None,
                };
                (change, counted)
            }
        };
        if let EventKind::App(StackEvent::Replica { partition, .. }) = ev.kind {
            self.recheck(ev.t, Some(*partition));
            return;
        }
        if matches!(
            ev.kind,
            EventKind::Start | EventKind::Restart | EventKind::DiskLoss
        ) && !self.copies_changed.contains(who)
        {
            self.copies_changed.insert(who.to_string());
        }
        match ev.kind {
            EventKind::Crash { .. } => {
                let (remaining, counted) = (self.remaining(), self.up_zone(who));
                self.down.insert(who.to_string());
                self.recount(counted, who);
                self.paused.remove(who);
                let (alive, state) = {
                    let m = self.model.get();
                    (m.view.alive(who), m.view.state(who))
                };
                if alive || state == Some(MemberState::Draining) {
                    self.crashed_at.entry(who.to_string()).or_insert(ev.t);
                }
                if state.is_some() {
                    self.recheck_node(ev.t, who, remaining);
                }
            }
            EventKind::Start | EventKind::Restart => {
                let (remaining, counted) = (self.remaining(), self.up_zone(who));
                self.down.remove(who);
                self.recount(counted, who);
                self.crashed_at.remove(who);
                if self.model.get().view.state(who).is_some() {
                    self.recheck_node(ev.t, who, remaining);
                }
            }
            EventKind::Pause => {
                // On its own clock, as the process can tell it was away.
                let local = self.local_time(who, ev.t);
                self.paused_at.insert(who.to_string(), local);
                self.paused.insert(who.to_string());
            }
            EventKind::Resume => {
                // How long it was away on its own clock: a clock set back
                // while it was paused hides part of the pause from it (no
                // process can tell), a jump ahead adds to it. Judged in
                // virtual time, a monitor was held to an absence its clock
                // never showed (no-bug hunt seed 14, run 6,854: m3's clock
                // jumped 1.04 s ahead as it paused and back while paused; on
                // its clock the 1,313 ms pause lasted 290 ms).
                if let Some(t0) = self.paused_at.remove(who) {
                    let local = self.local_time(who, ev.t);
                    self.back
                        .insert(who.to_string(), (ev.t, local.saturating_since(t0)));
                }
                self.paused.remove(who);
            }
            EventKind::Clock {
                offset_us,
                drift_ppm,
            } => {
                // The jump is what local time does at this instant: a new
                // drift moves the offset with it (a clock set to run slow
                // from now on gets a larger offset, not a jump ahead).
                let new = Clock {
                    offset_us,
                    drift_ppm,
                };
                let old = self.clocks.insert(who.to_string(), new).unwrap_or_default();
                let (before, after) = (old.local(ev.t), new.local(ev.t));
                if after > before {
                    self.back
                        .insert(who.to_string(), (ev.t, after.saturating_since(before)));
                }
            }
            EventKind::App(app) => {
                if let StackEvent::Health {
                    node,
                    state: Health::Suspect | Health::Dead,
                } = app
                    && !self.down.contains(node)
                    && !self.paused.contains(node)
                {
                    self.false_suspicions += 1;
                }
                // A monitor's decision is its proposal (its view of a member
                // its stale map still holds dead is no decision).
                if let StackEvent::Raft(RaftEvent::Append { entry, .. }) = app
                    && let Some(node) = entry.strip_prefix("MarkDead ")
                    && !self.down.contains(node)
                    && !self.paused.contains(node)
                    && self.hasty.is_none()
                    && let Some((at, away)) = self.back.get(who)
                    && away.as_micros() * 2 > self.dead_after.as_micros()
                    && self.sent_lately(node, ev.t, names)
                    && self.within_grace(who, *at, ev.t)
                {
                    self.hasty = Some(format!(
                        "{who} proposed {node} dead at {:.3}s, {} ms after coming back from {} ms away, though {node} was up and running: it judged silence it was not there to hear",
                        ev.t.0 as f64 / 1e6,
                        ev.t.saturating_since(*at).as_micros() / 1000,
                        away.as_micros() / 1000
                    ));
                }
                if let StackEvent::PlacementConfig { dead_after_us, .. } = app {
                    self.dead_after = SimDuration(*dead_after_us);
                }
                match change {
                    Some(Ok(p)) => self.recheck(ev.t, Some(p)),
                    Some(Err((node, before, now))) => {
                        let remaining = self.remaining();
                        self.recount(counted, &node);
                        if now == Some(MemberState::Dead) && before != Some(MemberState::Dead) {
                            if let Some(t0) = self.crashed_at.remove(&node) {
                                if self.detection_us.len() < MAX_SAMPLES {
                                    self.detection_us.push(ev.t.0.saturating_sub(t0.0));
                                }
                            } else if !self.down.contains(&node) && !self.paused.contains(&node) {
                                self.false_deaths += 1;
                            }
                        }
                        self.recheck_node(ev.t, &node, remaining);
                    }
                    None => {
                        if matches!(app, StackEvent::PlacementConfig { .. })
                            && self.bad.is_empty()
                            && self.since.is_none()
                        {
                            self.recheck(ev.t, None);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

impl Checker for Converged {
    fn name(&self) -> &'static str {
        "converged"
    }

    /// The heartbeats sent.
    fn traffic(&self) -> Traffic {
        Traffic {
            sends: true,
            ..Traffic::NONE
        }
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        self.observe(ev, names);
        // Past a deadline it met, the map must stay converged: the first
        // partition off is the failure, traced at the event that did it.
        if let (Some(deadline), Some((_, why)), false) = (
            self.met_deadline,
            self.bad.first_key_value(),
            self.broke_after_deadline,
        ) {
            self.broke_after_deadline = true;
            out.push(Violation {
                check: "converged",
                detail: format!(
                    "converged at the deadline {:.3}s, then not at {:.3}s ({} partitions off; first: {why})",
                    deadline.0 as f64 / 1e6,
                    ev.t.0 as f64 / 1e6,
                    self.bad.len()
                ),
            });
        }
    }

    fn judge_deadline(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        let before = out.len();
        self.finish(end, out);
        if out.len() == before && self.model.get().view.settings.is_some() {
            self.met_deadline = Some(end.now);
        }
    }

    fn finish(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        if self.model.get().view.settings.is_none() {
            return; // not a partition-manager run
        }
        if let Some(detail) = self.hasty.take() {
            out.push(Violation {
                check: "converged",
                detail,
            });
            return;
        }
        if self.broke_after_deadline {
            return; // traced where it broke
        }
        let deadline = match end.deadline {
            Some(d) => d,
            None => {
                let d = end.healed_at + CONVERGE_GRACE;
                if d > end.now {
                    return;
                }
                d
            }
        };
        let secs = |t: SimTime| t.0 as f64 / 1e6;
        let detail = match (self.since, self.bad.first_key_value()) {
            (_, Some((_, why))) => Some(format!(
                "not converged {} ({} partitions off; first: {why})",
                match self.off_since {
                    _ if end.now == deadline => format!("at the deadline {:.3}s", secs(deadline)),
                    // Off since after the deadline: say since when (the
                    // implicit deadline is known only now).
                    Some(t) if t > deadline => format!(
                        "from {:.3}s to the end (deadline {:.3}s)",
                        secs(t),
                        secs(deadline)
                    ),
                    _ => "at the end".to_string(),
                },
                self.bad.len()
            )),
            (Some(t), None) if t > deadline => Some(match self.first_converged {
                Some(first) if first <= deadline => format!(
                    "converged by the deadline {:.3}s, then off again, and converged again only at {:.3}s",
                    secs(deadline),
                    secs(t)
                ),
                _ => format!(
                    "converged only at {:.3}s, after the deadline {:.3}s",
                    secs(t),
                    secs(deadline)
                ),
            }),
            (None, None) => Some("never converged".to_string()),
            _ => None,
        };
        if let Some(detail) = detail {
            out.push(Violation {
                check: "converged",
                detail,
            });
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let ms: Vec<f64> = self
            .detection_us
            .iter()
            .map(|&us| us as f64 / 1000.0)
            .collect();
        let max = ms
            .iter()
            .copied()
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        vec![
            ("failure_detection_ms".into(), json!(ms)),
            ("failure_detection_ms_max".into(), json!(max)),
            ("false_suspicions".into(), json!(self.false_suspicions)),
            ("false_deaths".into(), json!(self.false_deaths)),
        ]
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::control::testkit::*;
    use crate::sim::ProcessId;
    use crate::stack::events::{MemberChange, ReplicaState};

    /// After every change of a member (its entry, or its process crashing
    /// or restarting), `converged` (which rechecks only the partitions a
    /// change can touch) holds exactly what judging every partition again
    /// gives — over a seeded walk of member changes, configurations,
    /// replica reports, crashes, restarts and disk losses. And after every
    /// event, each partition's judgement is the one its definition gives
    /// ([`unconverged_by_definition`]).
    #[test]
    fn converged_rechecks_after_a_member_change_equal_a_full_recheck() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let nodes = ["n1", "n2", "n3", "n4", "n9"];
        let zones = ["a", "b", "c"];
        let partitions = 6u32;
        let config = StackEvent::PlacementConfig {
            policy: "rendezvous-bounded".into(),
            replication_factor: 2,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
            partitions,
            dead_after_us: 1_000_000,
        };
        let names = names();
        let mut conv = Converged::default();
        let mut out = Vec::new();
        let (mut version, mut epoch) = (0u64, 0u64);
        for seq in 0..3_000u64 {
            let app;
            let who = 1 + next(5) as u32; // n1..n4, n9
            let kind = match (seq, next(10)) {
                (0, _) => {
                    app = config.clone();
                    EventKind::App(&app)
                }
                (_, 0..=2) => {
                    version += 1;
                    let state = [
                        MemberChange::Joined,
                        MemberChange::Alive,
                        MemberChange::Dead,
                        MemberChange::Draining,
                        MemberChange::Removed,
                    ][next(5) as usize];
                    let (node, zone) = (nodes[next(5) as usize], zones[next(3) as usize]);
                    app = member(node, state, zone, version);
                    EventKind::App(&app)
                }
                (_, 3..=4) => {
                    epoch += 1;
                    let pick = |k: u64| nodes[k as usize % nodes.len()].to_string();
                    let base = next(5);
                    let in_sync: Vec<String> = (0..next(3)).map(|i| pick(base + i)).collect();
                    let catching_up: Vec<String> =
                        (0..next(2)).map(|i| pick(base + 3 + i)).collect();
                    app = StackEvent::Partition {
                        partition: next(u64::from(partitions)) as u32,
                        epoch,
                        version: epoch,
                        primary: in_sync.first().cloned().filter(|_| next(4) > 0),
                        in_sync,
                        catching_up,
                    };
                    EventKind::App(&app)
                }
                (_, 5..=7) => {
                    app = StackEvent::Replica {
                        partition: next(u64::from(partitions)) as u32,
                        state: [
                            ReplicaState::Primary,
                            ReplicaState::Backup,
                            ReplicaState::CatchingUp,
                            ReplicaState::Stored,
                            ReplicaState::Removed,
                        ][next(5) as usize],
                        epoch: epoch.saturating_sub(next(2)),
                        complete: next(3) > 0,
                        source: None,
                    };
                    EventKind::App(&app)
                }
                (_, 8) => {
                    if next(2) == 0 {
                        EventKind::Restart
                    } else {
                        EventKind::DiskLoss
                    }
                }
                _ => EventKind::Crash { lost_writes: 0 },
            };
            let ev = Event {
                t: SimTime(seq * 1000),
                p: ProcessId(who),
                seq,
                cause: None,
                kind,
            };
            conv.on_event(&ev, &names, &mut out);
            let m = conv.model.get();
            // Every partition's judgement, whether due now or not, reads
            // as its definition.
            let remaining = m.view.remaining(&conv.down);
            for p in 0..partitions + 1 {
                assert_eq!(
                    m.view.unconverged(p, 2, &m.copies, remaining, &conv.down),
                    unconverged_by_definition(&m.view, p, 2, &m.copies, remaining, &conv.down),
                    "p{p} after event {seq}"
                );
            }
            let member = m.view.state(ev.p.name_in(&names)).is_some();
            if matches!(ev.kind, EventKind::App(StackEvent::Member { .. }))
                || (member && matches!(ev.kind, EventKind::Crash { .. } | EventKind::Restart))
            {
                let remaining = m.view.remaining(&conv.down);
                assert_eq!(conv.remaining(), remaining, "after event {seq}");
                let full: BTreeMap<u32, Unconverged> = (0..partitions)
                    .filter_map(|p| {
                        let why = m.view.unconverged(p, 2, &m.copies, remaining, &conv.down);
                        why.map(|w| (p, w))
                    })
                    .collect();
                assert_eq!(conv.bad, full, "after event {seq}");
            }
        }
    }

    #[test]
    fn converged_wants_the_target_by_the_deadline() {
        let c = config();
        let ms = [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
        ];
        let placed = part(1, &["n1", "n2"], &[]);
        let (r1, r2) = (
            replica(ReplicaState::Primary, 1, true, None),
            replica(ReplicaState::Backup, 1, true, None),
        );
        let mut evs = vec![(0, EventKind::App(&c))];
        evs.extend(ms.iter().map(|m| (0, EventKind::App(m))));
        evs.push((0, EventKind::App(&placed)));
        evs.push((1, EventKind::App(&r1)));
        evs.push((2, EventKind::App(&r2)));
        let mut conv = Converged::default();
        assert!(feed(&mut conv, &evs).is_empty());
        let end = |d: u64| EndOfRun {
            now: SimTime(10_000_000),
            healed_at: SimTime::ZERO,
            deadline: Some(SimTime(d)),
            leader_deadline: None,
            voters: None,
            unhealed: None,
        };
        let mut out = Vec::new();
        conv.finish(&end(5_000_000), &mut out);
        assert!(out.is_empty(), "{out:?}");
        conv.finish(&end(1_000), &mut out);
        assert_eq!(out.len(), 1, "converged at 5 ms, after a 1 ms deadline");
        // A partition still catching up at the end is not converged.
        let moving = part(2, &["n1"], &["n2"]);
        let mut conv = Converged::default();
        let mut evs2 = evs.clone();
        evs2.push((0, EventKind::App(&moving)));
        feed(&mut conv, &evs2);
        let mut out = Vec::new();
        conv.finish(&end(5_000_000), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].detail.contains("catching up"), "{}", out[0].detail);
    }

    /// A failure that begins after a met `[expect]` deadline is traced at
    /// the event that began it (and once), not at the end of the run.
    #[test]
    fn converged_breaking_after_a_met_deadline_is_traced_where_it_breaks() {
        let c = config();
        let ms = [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
        ];
        let placed = part(1, &["n1", "n2"], &[]);
        let (r1, r2) = (
            replica(ReplicaState::Primary, 1, true, None),
            replica(ReplicaState::Backup, 1, true, None),
        );
        let mut evs = vec![(0, EventKind::App(&c))];
        evs.extend(ms.iter().map(|m| (0, EventKind::App(m))));
        evs.push((0, EventKind::App(&placed)));
        evs.push((1, EventKind::App(&r1)));
        evs.push((2, EventKind::App(&r2)));
        let mut conv = Converged::default();
        assert!(feed(&mut conv, &evs).is_empty());
        let at = |now: u64| EndOfRun {
            now: SimTime(now),
            healed_at: SimTime::ZERO,
            deadline: Some(SimTime(5_000_000)),
            leader_deadline: None,
            voters: None,
            unhealed: None,
        };
        let mut out = Vec::new();
        conv.judge_deadline(&at(5_000_000), &mut out);
        assert!(out.is_empty(), "{out:?}");
        // The primary's process crashes after the deadline.
        let v = feed(&mut conv, &[(1, EventKind::Crash { lost_writes: 0 })]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("then not at"), "{}", v[0].detail);
        // Reported where it broke: the end of the run does not repeat it.
        assert!(feed(&mut conv, &[(1, EventKind::Restart)]).is_empty());
        let mut out = Vec::new();
        conv.finish(&at(10_000_000), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
