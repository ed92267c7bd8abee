//! HealthMonitor: failure detection on the leader. It tracks when each
//! member last sent an (authenticated) heartbeat and proposes — never
//! applies — `MarkDead` for a member silent for `dead_after`, `MarkAlive`
//! for a dead member heard again. The transitions of its own view (alive →
//! suspect → dead, and back) are traced by the manager. Its decisions only
//! take effect once committed: the map, not this view, is the truth.
//!
//! **Grace.** A new leader knows nothing of when nodes last spoke; it
//! starts every member's clock at its own election, so a failover never
//! declares everyone dead at once.
//!
//! **Local health** (after Lifeguard, Dadgar et al. 2018). Silence is only
//! evidence if the monitor was there to hear it. A monitor that has itself
//! been away — a gap in its own ticks longer than `AWAY_TICKS` heartbeat
//! intervals (its process was paused, or its clock jumped ahead), its clock
//! set back (a tick or a heartbeat stamped before its last tick), or no
//! heartbeat from anyone for longer than `suspect_after` — gives every
//! member that is not already committed dead a fresh grace of a full
//! `dead_after`, counted on its clock as it reads now, before judging it
//! again.
//! A paused leader thus never declares the nodes it could not hear dead the
//! instant it resumes.
//!
//! **Flap damping.** Every committed death of a member raises its flap
//! count (halved for every `FLAP_DECAY` without one). A dead member is
//! re-admitted only after it has been heard without a gap for its hold time:
//! `max(heartbeat_interval, suspect_after) × 2^(flaps − 1)`, capped at
//! `MAX_HOLD` (one heartbeat interval if it never died under this leader).
//! A node that keeps coming and going stays out instead of dragging its
//! replicas back and forth. Except a node that may hold a partition's last
//! copy (the partition names it and has no in-sync replica on a usable
//! member): holding it out only keeps that partition unavailable, so its
//! hold is not raised by its flaps — it waits what a member that died once
//! waits (no-bug hunt seed 15, run 6,901: n4, the only replica of p0 and
//! p1, was held out 7.9 s after its fourth death in 13 s). Not less: nodes
//! back from one outage are still re-admitted together, not the first ones
//! at once and the rest, whose partitions those now serve, later.
//!
//! ```text
//!   alive ──(silent > suspect_after)──► suspect ──(silent > dead_after)──► dead  (propose MarkDead)
//!     ▲                                    │                                 │
//!     └──────────── heartbeat ─────────────┘        heard steadily for the hold time
//!     └──────────────────────────────────────────── (propose MarkAlive) ─────┘
//! ```

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::grid::{ClusterMap, MapCommand, MemberState, PartitionConfig};
use super::members::{Members, cmp_same_packed, packed};
use crate::sim::{SimDuration, SimTime};

/// A flap count halves after this long without a new death.
pub const FLAP_DECAY: SimDuration = SimDuration::from_secs(30);
/// The longest a dead member that keeps flapping is held out.
pub const MAX_HOLD: SimDuration = SimDuration::from_secs(10);
/// A gap between two of its own ticks longer than this many heartbeat
/// intervals means the monitor itself was away.
pub const AWAY_TICKS: u64 = 2;

/// The leader's view of one node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Heard recently.
    Alive,
    /// Silent for `suspect_after`.
    Suspect,
    /// Silent for `dead_after` (or committed dead).
    Dead,
}

/// A change of the leader's view, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The node.
    pub node: String,
    /// Its new health.
    pub health: Health,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Flaps {
    count: u32,
    last: SimTime,
}

impl Flaps {
    /// At most one death, as of `now`: the hold of a member that died
    /// once, not raised by its flapping.
    fn once(self, now: SimTime) -> Flaps {
        Flaps {
            count: decayed(self, now).min(1),
            last: now,
        }
    }
}

/// What the monitor knows of one node.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Tracked {
    last_heard: Option<SimTime>,
    /// Start of the current run of heartbeats without a gap longer than
    /// `suspect_after`.
    heard_since: Option<SimTime>,
    view: Option<Health>,
    /// Heard since this monitor last gave everyone a grace period (on
    /// taking over, or back from being away): a grace is not evidence.
    confirmed: bool,
    /// Committed state as last seen (to count deaths).
    committed: Option<MemberState>,
    flaps: Flaps,
}

/// Failure detection for the members of the map.
///
/// Why one sorted vector and not a map per field: a tick visits every
/// member, a heartbeat one. Kept in the members' order (the map's), a tick
/// walks the vector beside the members with no lookup, no key compared
/// beyond checking the two still line up, and no key copied; a heartbeat
/// is one binary search, over the names' packed prefixes ([`packed`](super::members::packed): a
/// vector of integers beside the entries, so the search compares integers
/// in one contiguous block instead of following a pointer to each name).
#[derive(Clone, Debug)]
pub struct HealthMonitor {
    suspect_after: SimDuration,
    dead_after: SimDuration,
    heartbeat_interval: SimDuration,
    /// By node id, sorted; after a tick exactly the map's members.
    nodes: Vec<(String, Tracked)>,
    /// `packed` of each entry's name, in the same order.
    keys: Vec<u128>,
    /// The member table the entries were last lined up with: while the map
    /// holds that same table, they still are.
    aligned_with: Option<Members>,
    /// Proposed and not yet seen committed: not proposed again meanwhile.
    proposed: BTreeSet<(String, bool)>,
    /// The monitor's own last tick.
    last_tick: Option<SimTime>,
    /// The last heartbeat from anyone.
    last_heard_any: Option<SimTime>,
    /// Heartbeats resumed after a silence of everyone: grace at the next tick.
    regrace: bool,
    /// The `paused-leader-judges` planted bug: no grace after being away.
    judge_after_pauses: bool,
    /// The current grace's token: the leader's term in the high half, a
    /// count of its graces in the low. Acks carry it and nodes echo it.
    grace: u64,
}

impl HealthMonitor {
    /// A monitor with the scenario's timeouts.
    pub fn new(
        suspect_after: SimDuration,
        dead_after: SimDuration,
        heartbeat_interval: SimDuration,
    ) -> Self {
        HealthMonitor {
            suspect_after,
            dead_after,
            heartbeat_interval,
            nodes: Vec::new(),
            keys: Vec::new(),
            aligned_with: None,
            proposed: BTreeSet::new(),
            last_tick: None,
            last_heard_any: None,
            regrace: false,
            judge_after_pauses: false,
            grace: 0,
        }
    }

    /// With `bug`, the monitor judges by silence it was not there to hear
    /// (the `paused-leader-judges` planted bug).
    pub fn judging_after_pauses(mut self, bug: bool) -> Self {
        self.judge_after_pauses = bug;
        self
    }

    /// The token of the current grace, for heartbeat acks: a heartbeat
    /// that echoes it was sent after its node heard from this monitor
    /// since the grace began.
    pub fn grace(&self) -> u64 {
        self.grace
    }

    /// This manager became leader of `term` at `now`: every member starts
    /// with a full grace period.
    pub fn on_leadership(&mut self, now: SimTime, map: &ClusterMap, term: u64) {
        self.grace = term << 32;
        // Flap counts outlive leadership; everything else starts afresh.
        for (_, t) in &mut self.nodes {
            *t = Tracked {
                flaps: t.flaps,
                ..Tracked::default()
            };
        }
        self.proposed.clear();
        self.last_tick = Some(now);
        self.last_heard_any = None;
        self.regrace = false;
        for (node, m) in &map.members {
            // The grace period counts as silence broken, not as a heartbeat:
            // a dead member is re-admitted only once really heard.
            let t = self.tracked(node);
            t.last_heard = Some(now);
            t.committed = Some(m.state);
            t.view = Some(if m.state == MemberState::Dead {
                Health::Dead
            } else {
                Health::Alive
            });
        }
    }

    /// Where `node` is among the entries (`Err`: where it would go), in
    /// the names' order: packed prefixes first, the whole names only when
    /// two prefixes are equal.
    fn position(&self, node: &str) -> Result<usize, usize> {
        let key = packed(node);
        let (mut lo, mut hi) = (0, self.keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let order = self.keys[mid]
                .cmp(&key)
                .then_with(|| cmp_same_packed(&self.nodes[mid].0, node));
            match order {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// [`position`](Self::position), trying `hint` first and leaving there
    /// where `node` is. The hinted entry is checked to be `node`'s (names
    /// are unique among the entries), so the answer is `position`'s
    /// whatever the hint.
    fn position_hinted(&self, node: &str, hint: &mut usize) -> Result<usize, usize> {
        let i = *hint;
        if self.keys.get(i) == Some(&packed(node))
            && cmp_same_packed(&self.nodes[i].0, node).is_eq()
        {
            return Ok(i);
        }
        let found = self.position(node);
        if let Ok(i) = found {
            *hint = i;
        }
        found
    }

    /// The entry of `node`, added (in order) if missing.
    fn tracked(&mut self, node: &str) -> &mut Tracked {
        let mut hint = usize::MAX;
        self.tracked_hinted(node, &mut hint)
    }

    /// [`tracked`](Self::tracked), trying `hint` first (see
    /// [`position_hinted`](Self::position_hinted)).
    fn tracked_hinted(&mut self, node: &str, hint: &mut usize) -> &mut Tracked {
        let i = match self.position_hinted(node, hint) {
            Ok(i) => i,
            Err(i) => {
                self.nodes.insert(i, (node.to_string(), Tracked::default()));
                self.keys.insert(i, packed(node));
                self.aligned_with = None;
                *hint = i;
                i
            }
        };
        &mut self.nodes[i].1
    }

    /// The entry of `node`, if tracked.
    fn get(&self, node: &str) -> Option<&Tracked> {
        self.position(node).ok().map(|i| &self.nodes[i].1)
    }

    /// Lines the entries up with the map's members: one each, in order,
    /// a non-member's dropped (what it knew of a member kept).
    fn align(&mut self, map: &ClusterMap) {
        if self
            .aligned_with
            .as_ref()
            .is_some_and(|m| m.same(&map.members))
        {
            return;
        }
        self.aligned_with = Some(map.members.clone());
        let aligned = self.nodes.len() == map.members.len()
            && self
                .nodes
                .iter()
                .zip(map.members.keys())
                .all(|((n, _), k)| n == k);
        if aligned {
            return;
        }
        let mut old = std::mem::take(&mut self.nodes).into_iter().peekable();
        for k in map.members.keys() {
            while old.next_if(|(n, _)| n.as_str() < k.as_str()).is_some() {}
            let t = old
                .next_if(|(n, _)| n == k)
                .map_or_else(Tracked::default, |(_, t)| t);
            self.nodes.push((k.clone(), t));
        }
        self.keys.clear();
        self.keys.extend(self.nodes.iter().map(|(n, _)| packed(n)));
    }

    /// A heartbeat from `node` arrived at `now`, echoing the grace token
    /// of the last ack its node received.
    ///
    /// Only a heartbeat that echoes the current grace confirms its node.
    /// Arriving after the grace began is not enough: a leader back from a
    /// pause reads the heartbeats queued while it was away, among them
    /// those of a node that has died since (no-bug hunt seed 1, run
    /// 10,861: n1's heartbeats from before its disk was lost arrived with
    /// the resume, confirmed n1, and the leader completed a move by
    /// removing a live in-sync copy, counting n1's lost one).
    pub fn heard(&mut self, node: &str, now: SimTime, echo: u64) {
        let mut hint = usize::MAX;
        self.heard_hinted(node, now, echo, &mut hint);
    }

    /// [`heard`](Self::heard), for a caller that keeps a hint per node of
    /// where its entry is (the leader, per heartbeat): one probe instead
    /// of a binary search when the hint is right, the same outcome either way.
    pub fn heard_hinted(&mut self, node: &str, now: SimTime, echo: u64, hint: &mut usize) {
        // Everyone silent for a while, or the clock set back (a heartbeat
        // stamped before the monitor's own last tick): grace at the next tick.
        if self
            .last_heard_any
            .is_some_and(|t| now.saturating_since(t) > self.suspect_after)
            || self.last_tick.is_some_and(|t| now < t)
        {
            self.regrace = true;
        }
        self.last_heard_any = Some(self.last_heard_any.map_or(now, |t| t.max(now)));
        let suspect_after = self.suspect_after;
        let grace = self.grace;
        let t = self.tracked_hinted(node, hint);
        let last = t.last_heard;
        let gap =
            t.heard_since.is_none() || last.is_none_or(|t| now.saturating_since(t) > suspect_after);
        if gap {
            t.heard_since = Some(now);
        }
        t.last_heard = Some(last.map_or(now, |t| t.max(now)));
        t.confirmed |= echo == grace;
    }

    /// The manager took an input at local time `now`: a clock set back
    /// behind the monitor's last tick (or its grace's start) is noticed
    /// here, not only at the next tick or heartbeat. Heartbeats are not
    /// the only inputs: with no node heard, a set back went unnoticed
    /// until the next tick, and by then the clock could have caught up
    /// again (no-bug hunt seed 14, run 6,854: m3 took over at local 2.54
    /// s, its clock went back 1.02 s, the delayed tick came only at 2.81
    /// s, after a 657 ms pause: n1, never heard, was proposed dead 823 ms
    /// after the pause, its grace counted through the pause).
    pub fn notice_time(&mut self, now: SimTime) {
        if self.last_tick.is_some_and(|t| now < t) {
            self.regrace = true;
        }
    }

    /// The view of `node`, if it is tracked.
    pub fn health(&self, node: &str) -> Option<Health> {
        self.get(node).and_then(|t| t.view)
    }

    /// Members this view suspects or holds dead.
    pub fn unhealthy(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, t)| t.view.is_some_and(|h| h != Health::Alive))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Members not heard since this monitor's last grace period: alive in
    /// its view only because the grace has not run out. A node that
    /// crashed just before a new leader took over looks exactly like this.
    pub fn unconfirmed(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(_, t)| !t.confirmed)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Members this view holds dead.
    pub fn dead_in_view(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, t)| t.view == Some(Health::Dead))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// How long a dead `node` must be heard steadily before it is
    /// re-admitted, damped (a node that may hold a partition's last copy
    /// waits at most the hold of one death: see [`tick`](Self::tick)).
    pub fn hold(&self, node: &str, now: SimTime) -> SimDuration {
        let flaps = self.get(node).map_or_else(Flaps::default, |t| t.flaps);
        hold_of(self.heartbeat_interval, self.suspect_after, flaps, now)
    }

    /// Re-evaluates every member; returns the view's transitions and the
    /// commands to propose.
    pub fn tick(&mut self, now: SimTime, map: &ClusterMap) -> (Vec<Transition>, Vec<MapCommand>) {
        let mut transitions = Vec::new();
        let mut proposals = Vec::new();
        let away_after = SimDuration(
            self.heartbeat_interval
                .as_micros()
                .saturating_mul(AWAY_TICKS),
        );
        // Away: a gap in its own ticks (paused, or its clock jumped ahead),
        // or its clock set back behind its last tick.
        let away = self
            .last_tick
            .is_some_and(|t| now < t || now.saturating_since(t) > away_after);
        // The monitor was not there to hear: fresh grace for everyone not
        // committed dead (a dead member still has to be heard).
        let regrace = (away || self.regrace) && !self.judge_after_pauses;
        self.regrace = false;
        if regrace {
            self.grace += 1;
            self.last_heard_any = self.last_heard_any.map(|t| t.min(now));
        }
        self.last_tick = Some(now);
        self.proposed.retain(|(node, dead)| {
            let committed = map.members.get(node).map(|m| m.state == MemberState::Dead);
            committed != Some(*dead) && committed.is_some()
        });
        // Entries of nodes that are no longer members go; each member's is
        // at its index among the members.
        self.align(map);
        let (suspect_after, dead_after) = (self.suspect_after, self.dead_after);
        let interval = self.heartbeat_interval;
        for ((node, t), member) in self.nodes.iter_mut().zip(map.members.values()) {
            if regrace {
                // A full `dead_after` from now, on the clock as it reads now:
                // instants stamped before a jump back are brought back too.
                // A member committed dead that this view holds alive (heard
                // again: its re-admission on the way) gets it as well: once
                // the re-admission commits, its silence is judged like any
                // other's (no-bug hunt seed 9, run 15,129: n4's MarkAlive
                // committed as m5 came back from a 198 ms pause, and m5
                // proposed n4 dead 132 ms later, counting its own absence).
                // One silent again stays dead until heard.
                if member.state != MemberState::Dead || t.view == Some(Health::Alive) {
                    t.last_heard = Some(now);
                }
                t.confirmed = false;
                t.heard_since = t.heard_since.map(|s| s.min(now));
            }
            // Count committed deaths (damping).
            let before = t.committed.replace(member.state);
            if member.state == MemberState::Dead && before.is_some_and(|s| s != MemberState::Dead) {
                t.flaps.count = decayed(t.flaps, now) + 1;
                t.flaps.last = now;
            }
            let last = *t.last_heard.get_or_insert(now);
            let since = t.heard_since;
            let silent = now.saturating_since(last);
            // A dead member stays dead in the view until really heard.
            let unheard_dead = member.state == MemberState::Dead && since.is_none();
            let health = if unheard_dead || silent > dead_after {
                Health::Dead
            } else if silent > suspect_after {
                Health::Suspect
            } else {
                Health::Alive
            };
            let before = t.view.replace(health);
            if before != Some(health) {
                transitions.push(Transition {
                    node: node.clone(),
                    health,
                });
            }
            let committed_dead = member.state == MemberState::Dead;
            if health == Health::Dead
                && member.state != MemberState::Dead
                && self.proposed.insert((node.clone(), true))
            {
                proposals.push(MapCommand::MarkDead { node: node.clone() });
            }
            // The last copy is looked for only while the damped hold runs.
            if health == Health::Alive
                && committed_dead
                && since.is_some_and(|s| {
                    let heard_for = now.saturating_since(s);
                    heard_for >= hold_of(interval, suspect_after, t.flaps, now)
                        || (heard_for >= hold_of(interval, suspect_after, t.flaps.once(now), now)
                            && holds_a_last_copy(map, node))
                })
                && self.proposed.insert((node.clone(), false))
            {
                proposals.push(MapCommand::MarkAlive { node: node.clone() });
            }
        }
        (transitions, proposals)
    }
}

/// True when some partition that names `node` — as a replica, or as a
/// copy dropped while its node was dead — has no in-sync replica on a
/// usable member: `node` may hold the only copy there is, so holding it
/// out keeps that partition unavailable and protects nothing (its
/// replicas have nowhere to be dragged from). Such a member's hold is not
/// raised by its flaps.
fn holds_a_last_copy(map: &ClusterMap, node: &str) -> bool {
    let unserved = |c: &PartitionConfig| {
        !c.replicas
            .iter()
            .any(|r| r.in_sync && map.is_usable(&r.node))
    };
    map.partitions
        .naming(node)
        .iter()
        .filter_map(|&p| map.partitions.get(p as usize))
        .any(unserved)
        || map
            .partitions
            .iter()
            .any(|c| c.dropped.iter().any(|(n, _)| n == node) && unserved(c))
}

/// How long a dead member with `flaps` must be heard steadily before it is
/// re-admitted (see [`HealthMonitor::hold`]).
fn hold_of(
    heartbeat_interval: SimDuration,
    suspect_after: SimDuration,
    flaps: Flaps,
    now: SimTime,
) -> SimDuration {
    let count = decayed(flaps, now);
    if count == 0 {
        return heartbeat_interval;
    }
    let base = heartbeat_interval.max(suspect_after).as_micros();
    let factor = 1u64 << (count - 1).min(16);
    SimDuration(base.saturating_mul(factor).min(MAX_HOLD.as_micros()))
}

/// A flap count after halving once per `FLAP_DECAY` since its last flap.
fn decayed(f: Flaps, now: SimTime) -> u32 {
    let periods = now.saturating_since(f.last).as_micros() / FLAP_DECAY.as_micros().max(1);
    f.count.checked_shr(periods.min(31) as u32).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::consensus::StateMachine;
    use crate::stack::grid::{Geometry, Replica};

    fn map() -> ClusterMap {
        let mut m = ClusterMap::new(
            Geometry {
                width: 4,
                height: 4,
                tile_w: 2,
                tile_h: 2,
            },
            1,
        );
        m.apply(
            1,
            &MapCommand::AddNode {
                node: "n1".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 0,
            },
        );
        m
    }

    /// Suspect after 500 ms, dead after 1 s, heartbeats every 100 ms.
    fn monitor() -> HealthMonitor {
        HealthMonitor::new(
            SimDuration::from_millis(500),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        )
    }

    #[test]
    fn silence_leads_to_suspect_then_dead_then_one_proposal() {
        let mut h = monitor();
        let m = map();
        h.on_leadership(SimTime(0), &m, 1);
        // Ticks every 50 ms, as the manager's timer runs them, up to `to`.
        let mut now = 0;
        let mut run = |h: &mut HealthMonitor, to: u64| {
            let (mut ts, mut ps) = (Vec::new(), Vec::new());
            while now < to {
                now += 50_000;
                let (t, p) = h.tick(SimTime(now), &m);
                ts.extend(t);
                ps.extend(p);
            }
            (ts, ps)
        };
        assert_eq!(run(&mut h, 400_000), (vec![], vec![]));
        let (t, p) = run(&mut h, 600_000);
        assert_eq!(
            t,
            vec![Transition {
                node: "n1".into(),
                health: Health::Suspect
            }]
        );
        assert!(p.is_empty());
        let (_, p) = run(&mut h, 1_100_000);
        assert_eq!(p, vec![MapCommand::MarkDead { node: "n1".into() }]);
        let (_, p) = run(&mut h, 1_200_000);
        assert!(p.is_empty(), "not proposed twice while in flight");
    }

    #[test]
    fn a_grace_period_is_not_evidence_until_the_node_is_heard() {
        let mut h = monitor();
        let m = map();
        h.on_leadership(SimTime(0), &m, 1);
        h.tick(SimTime(50_000), &m);
        // Alive in the view (the grace), yet never heard by this leader.
        assert_eq!(h.health("n1"), Some(Health::Alive));
        assert!(h.unhealthy().is_empty());
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
        // A heartbeat sent before its node heard of this grace (it echoes
        // no token, or an older one) is not evidence either.
        h.heard("n1", SimTime(55_000), 0);
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
        h.heard("n1", SimTime(60_000), h.grace());
        assert!(h.unconfirmed().is_empty());
        // Away 1.7 s: a fresh grace, and n1 is unconfirmed again.
        let before = h.grace();
        h.tick(SimTime(1_760_000), &m);
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
        // The heartbeats queued while the monitor was away arrive now,
        // echoing the grace before: n1 may have died since it sent them.
        h.heard("n1", SimTime(1_760_000), before);
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
        h.heard("n1", SimTime(1_765_000), h.grace());
        assert!(h.unconfirmed().is_empty());
        // A new leadership starts the same way.
        h.on_leadership(SimTime(1_800_000), &m, 2);
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
        // The token of another term's grace confirms nothing.
        h.heard("n1", SimTime(1_810_000), before + 1);
        assert_eq!(h.unconfirmed(), BTreeSet::from(["n1".to_string()]));
    }

    #[test]
    fn a_monitor_back_from_a_pause_gives_everyone_a_fresh_grace_period() {
        let monitor = |bug| {
            HealthMonitor::new(
                SimDuration::from_millis(500),
                SimDuration::from_secs(1),
                SimDuration::from_millis(100),
            )
            .judging_after_pauses(bug)
        };
        let m = map();
        for bug in [false, true] {
            let mut h = monitor(bug);
            h.on_leadership(SimTime(0), &m, 1);
            h.heard("n1", SimTime(40_000), h.grace());
            assert_eq!(h.tick(SimTime(50_000), &m).1, vec![]);
            // The leader's process pauses for 1.7 s: no tick, nothing heard.
            let (_, p) = h.tick(SimTime(1_750_000), &m);
            if bug {
                assert_eq!(p, vec![MapCommand::MarkDead { node: "n1".into() }]);
            } else {
                assert!(p.is_empty(), "judged by silence it did not hear");
                assert_eq!(h.health("n1"), Some(Health::Alive));
                // Still silent a full dead_after later: dead.
                let mut t = 1_750_000;
                let mut dead = false;
                while t < 2_800_000 {
                    t += 50_000;
                    dead |= !h.tick(SimTime(t), &m).1.is_empty();
                }
                assert!(dead, "a node really silent is still found dead");
            }
        }
    }

    #[test]
    fn a_clock_set_back_gives_a_fresh_grace_of_dead_after_from_the_new_reading() {
        let mut h = HealthMonitor::new(
            SimDuration::from_millis(500),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        );
        let m = map();
        h.on_leadership(SimTime(5_000_000), &m, 1);
        h.heard("n1", SimTime(5_900_000), h.grace());
        assert!(h.tick(SimTime(5_950_000), &m).1.is_empty());
        // The clock is set back 2 s; n1's last heartbeat arrives stamped
        // before the monitor's last tick, then n1 falls silent.
        h.heard("n1", SimTime(3_960_000), h.grace());
        let mut t = 4_000_000;
        let mut dead_at = None;
        while t < 6_000_000 && dead_at.is_none() {
            if !h.tick(SimTime(t), &m).1.is_empty() {
                dead_at = Some(t);
            }
            t += 50_000;
        }
        // Judged a full dead_after after the jump: neither sooner nor on
        // the instants stamped before it.
        assert_eq!(dead_at, Some(5_050_000));
    }

    #[test]
    fn a_clock_set_back_is_noticed_at_any_input_not_only_at_the_next_tick() {
        let mut h = HealthMonitor::new(
            SimDuration::from_millis(500),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        );
        let m = map();
        // Leader at local 5.0 s; n1 is never heard. The clock goes back to
        // 4.0 s; the next tick comes only once local time has passed 5.0 s
        // again (a timer armed on the clock before the jump), at 5.05 s.
        let run = |h: &mut HealthMonitor, notice: bool| {
            h.on_leadership(SimTime(5_000_000), &m, 1);
            if notice {
                h.notice_time(SimTime(4_000_000)); // a message from a peer
            }
            let mut t = 5_050_000;
            loop {
                if !h.tick(SimTime(t), &m).1.is_empty() {
                    return t;
                }
                t += 50_000;
            }
        };
        // Unnoticed, n1's grace counts from 5.0 s on the clock (it spans
        // the second the clock went back): dead at 6.05 s.
        assert_eq!(run(&mut h.clone(), false), 6_050_000);
        // Noticed, the next tick gives a fresh grace: a full dead_after
        // after it.
        assert_eq!(run(&mut h, true), 6_100_000);
    }

    #[test]
    fn a_dead_node_heard_again_is_proposed_alive() {
        let mut h = HealthMonitor::new(
            SimDuration::from_millis(500),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        );
        let mut m = map();
        m.apply(2, &MapCommand::MarkDead { node: "n1".into() });
        h.on_leadership(SimTime(0), &m, 1);
        let (_, p) = h.tick(SimTime(150_000), &m);
        assert!(p.is_empty(), "the grace period is not a heartbeat");
        h.heard("n1", SimTime(160_000), h.grace());
        let (_, p) = h.tick(SimTime(200_000), &m);
        assert!(p.is_empty(), "held for one heartbeat interval first");
        h.heard("n1", SimTime(260_000), h.grace());
        let (_, p) = h.tick(SimTime(270_000), &m);
        assert_eq!(p, vec![MapCommand::MarkAlive { node: "n1".into() }]);
    }

    #[test]
    fn a_node_re_admitted_across_a_pause_gets_the_fresh_grace_too() {
        // n1 is committed dead, heard again (re-admission proposed), and
        // the leader pauses 1.7 s; the MarkAlive commits as it resumes,
        // n1 silent meanwhile (cut off). Judged from the resume, not from
        // its last heartbeat before the pause.
        let mut h = monitor();
        let mut m = map();
        m.apply(2, &MapCommand::MarkDead { node: "n1".into() });
        h.on_leadership(SimTime(0), &m, 1);
        h.heard("n1", SimTime(160_000), h.grace());
        h.tick(SimTime(200_000), &m);
        h.heard("n1", SimTime(260_000), h.grace());
        let (_, p) = h.tick(SimTime(270_000), &m);
        assert_eq!(p, vec![MapCommand::MarkAlive { node: "n1".into() }]);
        let resumed = 1_970_000;
        assert!(h.tick(SimTime(resumed), &m).1.is_empty());
        m.apply(3, &MapCommand::MarkAlive { node: "n1".into() });
        let mut t = resumed;
        let mut dead_at = None;
        while t < 3_500_000 && dead_at.is_none() {
            t += 50_000;
            if !h.tick(SimTime(t), &m).1.is_empty() {
                dead_at = Some(t);
            }
        }
        // Dead a full dead_after (1 s) after the resume, not at once.
        assert_eq!(dead_at, Some(resumed + 1_050_000));
    }

    #[test]
    fn a_flapping_node_is_held_out_longer_each_time() {
        let mut h = HealthMonitor::new(
            SimDuration::from_millis(500),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        );
        let mut m = map();
        h.on_leadership(SimTime(0), &m, 1);
        assert_eq!(h.hold("n1", SimTime(0)), SimDuration::from_millis(100));
        let mut idx = 2;
        for round in 1..=3u32 {
            idx += 1;
            m.apply(idx, &MapCommand::MarkDead { node: "n1".into() });
            h.tick(SimTime(u64::from(round) * 1_000_000), &m);
            idx += 1;
            m.apply(idx, &MapCommand::MarkAlive { node: "n1".into() });
            h.tick(SimTime(u64::from(round) * 1_000_000 + 1), &m);
        }
        let now = SimTime(3_000_002);
        assert_eq!(h.hold("n1", now), SimDuration::from_secs(2));
        // Thirty quiet seconds halve the count.
        assert_eq!(
            h.hold("n1", SimTime(33_000_002)),
            SimDuration::from_millis(500)
        );
    }

    #[test]
    fn a_flapping_node_that_may_hold_a_last_copy_is_held_as_if_it_died_once() {
        let mut h = monitor();
        let mut m = map();
        let mut idx = 1;
        let mut apply = |m: &mut ClusterMap, cmd: MapCommand| {
            idx += 1;
            m.apply(idx, &cmd);
        };
        for node in ["n2", "n3", "n4"] {
            apply(
                &mut m,
                MapCommand::AddNode {
                    node: node.into(),
                    zone: "a".into(),
                    capacity: 1,
                    boot: 0,
                },
            );
        }
        // p0 only on n1; p1 on n2 and n3 (which stays alive); p2 only on n4.
        let placed = [(0, vec!["n1"]), (1, vec!["n2", "n3"]), (2, vec!["n4"])];
        for (p, nodes) in placed {
            let epoch = m.partitions.get(p as usize).map_or(0, |c| c.epoch);
            apply(
                &mut m,
                MapCommand::SetReplicas {
                    partition: p,
                    epoch,
                    generation: None,
                    replicas: nodes
                        .iter()
                        .map(|n| Replica {
                            node: (*n).into(),
                            in_sync: true,
                        })
                        .collect(),
                    primary: Some(nodes[0].into()),
                    empty: false,
                    unheard: Vec::new(),
                },
            );
        }
        h.on_leadership(SimTime(0), &m, 1);
        let flapping = ["n1", "n2", "n4"];
        // Three deaths and returns, then a fourth death.
        for round in 1..=4u64 {
            for node in flapping {
                apply(&mut m, MapCommand::MarkDead { node: node.into() });
            }
            h.tick(SimTime(round * 1_000_000), &m);
            if round < 4 {
                for node in flapping {
                    apply(&mut m, MapCommand::MarkAlive { node: node.into() });
                }
                h.tick(SimTime(round * 1_000_000 + 1), &m);
            }
        }
        // n4 comes back restarted: its copy of p2 no longer counts in sync,
        // and p2 has no in-sync copy anywhere.
        apply(
            &mut m,
            MapCommand::AddNode {
                node: "n4".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 1,
            },
        );
        assert_eq!(m.in_sync_usable(2), 0);
        // Damped, every one of them would wait 4 s (500 ms x 2^3).
        let back = 4_050_000;
        for node in flapping {
            assert_eq!(h.hold(node, SimTime(back)), SimDuration::from_secs(4));
        }
        // All heard steadily from 4.05 s, ticks every 50 ms.
        let mut admitted = std::collections::BTreeMap::new();
        let mut t = back;
        while t <= 9_000_000 {
            for node in ["n1", "n2", "n3", "n4"] {
                h.heard(node, SimTime(t), h.grace());
            }
            for cmd in h.tick(SimTime(t), &m).1 {
                if let MapCommand::MarkAlive { node } = cmd {
                    admitted.entry(node).or_insert(t);
                }
            }
            t += 50_000;
        }
        // n1 (the only in-sync copy of p0) and n4 (the only copy of p2,
        // none in sync) after the hold of a single death (500 ms); n2,
        // whose p1 n3 serves, only after its damped hold.
        assert_eq!(admitted.get("n1"), Some(&(back + 500_000)));
        assert_eq!(admitted.get("n4"), Some(&(back + 500_000)));
        assert_eq!(admitted.get("n2"), Some(&(back + 4_000_000)));
    }

    /// A hint that is stale, someone else's or past the end never changes
    /// where a node is found: `position_hinted` is `position`.
    #[test]
    fn hinted_positions_are_plain_ones_whatever_the_hint() {
        let mut h = HealthMonitor::new(
            SimDuration::from_millis(300),
            SimDuration::from_secs(1),
            SimDuration::from_millis(100),
        );
        let mut hints = vec![usize::MAX; 64];
        for k in [5usize, 1, 40, 3, 22, 9, 63, 0, 17] {
            h.tracked(&format!("n{k}"));
            for probe in 0..64 {
                let node = format!("n{probe}");
                let want = h.position(&node);
                assert_eq!(h.position_hinted(&node, &mut hints[probe]), want);
                let mut other = hints[(probe * 7) % 64];
                assert_eq!(h.position_hinted(&node, &mut other), want);
            }
        }
    }
}
