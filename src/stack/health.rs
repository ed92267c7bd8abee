//! HealthMonitor: failure detection on the leader.
//!
//! **Inputs.** Heartbeats from data nodes ([`HealthMonitor::heard`]), the
//! committed map, and periodic [`HealthMonitor::tick`]s with the leader's
//! local time. **Outputs.** Proposals — `MarkDead` for a member silent for
//! `dead_after`, `MarkAlive` for a dead member heard again — and the
//! transitions of its own view (alive → suspect → dead, and back), which the
//! manager traces. Its decisions only take effect once committed: the map,
//! not this view, is the truth.
//!
//! A new leader knows nothing of when nodes last spoke; it starts every
//! member's clock at its own election (a grace period), so a failover never
//! declares everyone dead at once.
//!
//! ```text
//!   alive ──(silent > suspect_after)──► suspect ──(silent > dead_after)──► dead  (propose MarkDead)
//!     ▲                                    │                                 │
//!     └──────────── heartbeat ─────────────┴────── heartbeat (propose MarkAlive)┘
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::grid::{ClusterMap, MapCommand, MemberState};
use crate::sim::{SimDuration, SimTime};

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

/// Failure detection for the members of the map.
#[derive(Clone, Debug)]
pub struct HealthMonitor {
    suspect_after: SimDuration,
    dead_after: SimDuration,
    last_heard: BTreeMap<String, SimTime>,
    view: BTreeMap<String, Health>,
    /// Proposed and not yet seen committed: not proposed again meanwhile.
    proposed: BTreeSet<(String, bool)>,
}

impl HealthMonitor {
    /// A monitor with the scenario's timeouts.
    pub fn new(suspect_after: SimDuration, dead_after: SimDuration) -> Self {
        HealthMonitor {
            suspect_after,
            dead_after,
            last_heard: BTreeMap::new(),
            view: BTreeMap::new(),
            proposed: BTreeSet::new(),
        }
    }

    /// This manager became leader at `now`: every member starts with a full
    /// grace period.
    pub fn on_leadership(&mut self, now: SimTime, map: &ClusterMap) {
        self.last_heard.clear();
        self.proposed.clear();
        self.view.clear();
        for (node, m) in &map.members {
            self.last_heard.insert(node.clone(), now);
            let h = if m.state == MemberState::Dead {
                Health::Dead
            } else {
                Health::Alive
            };
            self.view.insert(node.clone(), h);
        }
    }

    /// A heartbeat from `node` arrived at `now`.
    pub fn heard(&mut self, node: &str, now: SimTime) {
        match self.last_heard.get_mut(node) {
            Some(t) => *t = (*t).max(now),
            None => {
                self.last_heard.insert(node.to_string(), now);
            }
        }
    }

    /// The view of `node`, if it is tracked.
    pub fn health(&self, node: &str) -> Option<Health> {
        self.view.get(node).copied()
    }

    /// Re-evaluates every member; returns the view's transitions and the
    /// commands to propose.
    pub fn tick(&mut self, now: SimTime, map: &ClusterMap) -> (Vec<Transition>, Vec<MapCommand>) {
        let mut transitions = Vec::new();
        let mut proposals = Vec::new();
        self.proposed.retain(|(node, dead)| {
            let committed = map.members.get(node).map(|m| m.state == MemberState::Dead);
            committed != Some(*dead) && committed.is_some()
        });
        for (node, member) in &map.members {
            let last = *self.last_heard.entry(node.clone()).or_insert(now);
            let silent = now.saturating_since(last);
            let health = if silent > self.dead_after {
                Health::Dead
            } else if silent > self.suspect_after {
                Health::Suspect
            } else {
                Health::Alive
            };
            let before = self.view.insert(node.clone(), health);
            if before != Some(health) {
                transitions.push(Transition {
                    node: node.clone(),
                    health,
                });
            }
            let committed_dead = member.state == MemberState::Dead;
            if health == Health::Dead
                && member.state == MemberState::Alive
                && self.proposed.insert((node.clone(), true))
            {
                proposals.push(MapCommand::MarkDead { node: node.clone() });
            }
            if health == Health::Alive
                && committed_dead
                && self.proposed.insert((node.clone(), false))
            {
                proposals.push(MapCommand::MarkAlive { node: node.clone() });
            }
        }
        self.last_heard.retain(|n, _| map.members.contains_key(n));
        self.view.retain(|n, _| map.members.contains_key(n));
        (transitions, proposals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::consensus::StateMachine;
    use crate::stack::grid::Geometry;

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
            },
        );
        m
    }

    #[test]
    fn silence_leads_to_suspect_then_dead_then_one_proposal() {
        let mut h = HealthMonitor::new(SimDuration::from_millis(500), SimDuration::from_secs(1));
        let m = map();
        h.on_leadership(SimTime(0), &m);
        assert_eq!(h.tick(SimTime(400_000), &m), (vec![], vec![]));
        let (t, p) = h.tick(SimTime(600_000), &m);
        assert_eq!(
            t,
            vec![Transition {
                node: "n1".into(),
                health: Health::Suspect
            }]
        );
        assert!(p.is_empty());
        let (_, p) = h.tick(SimTime(1_100_000), &m);
        assert_eq!(p, vec![MapCommand::MarkDead { node: "n1".into() }]);
        let (_, p) = h.tick(SimTime(1_200_000), &m);
        assert!(p.is_empty(), "not proposed twice while in flight");
    }

    #[test]
    fn a_dead_node_heard_again_is_proposed_alive() {
        let mut h = HealthMonitor::new(SimDuration::from_millis(500), SimDuration::from_secs(1));
        let mut m = map();
        m.apply(2, &MapCommand::MarkDead { node: "n1".into() });
        h.on_leadership(SimTime(0), &m);
        h.heard("n1", SimTime(100_000));
        let (_, p) = h.tick(SimTime(150_000), &m);
        assert_eq!(p, vec![MapCommand::MarkAlive { node: "n1".into() }]);
    }
}
