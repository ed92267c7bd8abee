//! The Raft group's membership: which managers vote, which only learn, and
//! how the leader changes it one server at a time (Ongaro's thesis §4.1).
//!
//! A member is a process *and an incarnation*: a number a manager draws
//! when it starts on an empty disk (etcd's member ID plays this part). A
//! manager that lost its disk comes back as a new incarnation of the same
//! process; it is a voter only if the configuration in force names that
//! incarnation, so it can never vote with a vote or acknowledgements it
//! has forgotten. The managers a group is bootstrapped with are incarnation
//! 0 and need no log entry to be voters.
//!
//! ```text
//!  empty disk, cluster exists       leader (one change at a time, each
//!  ──────────────────────────►      committed before the next; never
//!  joiner: sends Join{incarnation}  before its term's no-op commits)
//!      │                               1. add the new incarnation as a learner;
//!      ▼                                  the lost voter stays, *retiring*
//!  learner: replicated to,             2. promote it once caught up (when the
//!  never votes or campaigns  ───────►     live voters still make a quorum)
//!                                      3. remove the retiring voter
//! ```
//!
//! A retiring voter is a lost incarnation whose process now runs a newer
//! one: it counts in the quorum (the group's size does not drop while it
//! is replaced) but never votes or acknowledges — messages to its process
//! reach the new incarnation, which answers only for itself. Replacing
//! before removing keeps the group at its configured size throughout, and
//! each step changes one voter, so the majorities of consecutive
//! configurations overlap (§4.1).
//!
//! A configuration takes effect on a server as soon as its entry is in the
//! server's log (appended, not committed) and is undone if the entry is
//! truncated; the configuration covered by a snapshot travels with it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sim::ProcessId;

/// Voters and learners, each a process index with its incarnation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Voting members: process index → incarnation.
    pub voters: BTreeMap<u32, u64>,
    /// Non-voting members, replicated to: process index → incarnation.
    pub learners: BTreeMap<u32, u64>,
    /// Voters of a lost incarnation, kept until their process's new
    /// incarnation is a voter: they count in the quorum, never in a
    /// majority (process index → the lost incarnation).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retiring: BTreeMap<u32, u64>,
}

/// Where a process stands in a [`Membership`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A voter, of this incarnation.
    Voter(u64),
    /// A learner, of this incarnation.
    Learner(u64),
    /// Not a member.
    Outside,
}

impl Membership {
    /// The bootstrap configuration: `voters`, all incarnation 0.
    pub fn bootstrap(voters: &[ProcessId]) -> Membership {
        Membership {
            voters: voters.iter().map(|p| (p.0, 0)).collect(),
            ..Membership::default()
        }
    }

    /// Where `p` stands.
    pub fn standing(&self, p: ProcessId) -> Standing {
        if let Some(&i) = self.voters.get(&p.0) {
            Standing::Voter(i)
        } else if let Some(&i) = self.learners.get(&p.0) {
            Standing::Learner(i)
        } else {
            Standing::Outside
        }
    }

    /// True when `p` (any live incarnation) votes. A retiring voter does
    /// not: it is lost.
    pub fn is_voter(&self, p: ProcessId) -> bool {
        self.voters.contains_key(&p.0)
    }

    /// True when `p` (any incarnation) is replicated to.
    pub fn contains(&self, p: ProcessId) -> bool {
        self.voters.contains_key(&p.0) || self.learners.contains_key(&p.0)
    }

    /// Voters, retiring ones included: the size of the group.
    pub fn size(&self) -> usize {
        self.voters.len() + self.retiring.len()
    }

    /// Votes (or replicas) that make a majority of the voters, retiring
    /// ones included (they never answer, so the others must).
    pub fn quorum(&self) -> usize {
        self.size() / 2 + 1
    }

    /// This membership without `p` as a voter or learner (a retiring
    /// incarnation of it stays: see [`without_retiring`](Self::without_retiring)).
    pub fn without(&self, p: ProcessId) -> Membership {
        let mut m = self.clone();
        m.voters.remove(&p.0);
        m.learners.remove(&p.0);
        m
    }

    /// This membership without `p`'s retiring incarnation.
    pub fn without_retiring(&self, p: ProcessId) -> Membership {
        let mut m = self.clone();
        m.retiring.remove(&p.0);
        m
    }

    /// This membership with `p` of `incarnation` as a learner. If `p` is
    /// a voter of another incarnation, that voter is lost: it stays in the
    /// group as retiring (the voters, by incarnation, do not change). The
    /// caller first removes a retiring incarnation `p` already has.
    pub fn with_learner(&self, p: ProcessId, incarnation: u64) -> Membership {
        let mut m = self.clone();
        m.learners.remove(&p.0);
        if let Some(lost) = m.voters.remove(&p.0) {
            debug_assert!(!m.retiring.contains_key(&p.0), "one retiring incarnation");
            m.retiring.insert(p.0, lost);
        }
        m.learners.insert(p.0, incarnation);
        m
    }

    /// This membership with learner `p` promoted to voter.
    pub fn promoted(&self, p: ProcessId) -> Membership {
        let mut m = self.clone();
        if let Some(i) = m.learners.remove(&p.0) {
            m.voters.insert(p.0, i);
        }
        m
    }

    /// Every voter as (process index, incarnation), retiring ones included.
    pub fn all_voters(&self) -> std::collections::BTreeSet<(u32, u64)> {
        self.voters
            .iter()
            .chain(&self.retiring)
            .map(|(&p, &i)| (p, i))
            .collect()
    }

    /// How many voters (by incarnation, retiring ones included) differ
    /// between two memberships (a single-server change differs by at most one).
    pub fn voters_changed(&self, other: &Membership) -> usize {
        self.all_voters()
            .symmetric_difference(&other.all_voters())
            .count()
    }

    /// The members as traced: names, with `#incarnation` (hex) after
    /// incarnations other than 0.
    pub fn named<'a>(
        ids: impl IntoIterator<Item = (&'a u32, &'a u64)>,
        name: impl Fn(ProcessId) -> String,
    ) -> Vec<String> {
        ids.into_iter()
            .map(|(&p, &i)| member_name(&name(ProcessId(p)), i))
            .collect()
    }

    /// The voters as traced: the live ones and the retiring ones, by
    /// (process, incarnation).
    pub fn named_voters(&self, name: impl Fn(ProcessId) -> String) -> Vec<String> {
        let all = self.all_voters();
        Membership::named(all.iter().map(|(p, i)| (p, i)), name)
    }
}

/// A member's traced name: the process name, and `#hex` unless the
/// incarnation is the bootstrap one.
pub fn member_name(process: &str, incarnation: u64) -> String {
    if incarnation == 0 {
        process.to_string()
    } else {
        format!("{process}#{incarnation:08x}")
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config: {} voters, {} learners",
            self.size(),
            self.learners.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_server_steps_change_one_voter_at_a_time() {
        let c0 = Membership::bootstrap(&[ProcessId(0), ProcessId(1), ProcessId(2)]);
        // m2 comes back as incarnation 7: added as a learner, the lost
        // voter retiring (no voter changes), promoted (one: four voters,
        // a quorum of three), the lost one removed (one).
        let c1 = c0.with_learner(ProcessId(1), 7);
        assert_eq!(c0.voters_changed(&c1), 0);
        assert_eq!(c1.standing(ProcessId(1)), Standing::Learner(7));
        assert!(!c1.is_voter(ProcessId(1)), "the retiring voter never votes");
        assert_eq!((c1.size(), c1.quorum()), (3, 2));
        let c2 = c1.promoted(ProcessId(1));
        assert_eq!(c1.voters_changed(&c2), 1);
        assert_eq!(c2.standing(ProcessId(1)), Standing::Voter(7));
        assert_eq!((c2.size(), c2.quorum()), (4, 3));
        let c3 = c2.without_retiring(ProcessId(1));
        assert_eq!(c2.voters_changed(&c3), 1);
        // Same process, new incarnation: two voters differ from c0.
        assert_eq!(c0.voters_changed(&c3), 2);
        assert_eq!(c3.quorum(), 2);
        assert_eq!(
            c2.named_voters(|p| format!("m{}", p.0 + 1)),
            ["m1", "m2", "m2#00000007", "m3"]
        );
        // Removal by the operator or by cleanup: one voter.
        let c4 = c3.without(ProcessId(2));
        assert_eq!(c3.voters_changed(&c4), 1);
        assert_eq!(member_name("m2", 7), "m2#00000007");
        assert_eq!(member_name("m2", 0), "m2");
    }
}
