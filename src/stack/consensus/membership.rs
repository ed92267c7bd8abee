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
//!      │                               1. remove the lost voter (old incarnation)
//!      ▼                               2. add the new incarnation as a learner
//!  learner: replicated to,             3. promote it once caught up
//!  never votes or campaigns  ───────► voter
//! ```
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
            learners: BTreeMap::new(),
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

    /// True when `p` (any incarnation) votes.
    pub fn is_voter(&self, p: ProcessId) -> bool {
        self.voters.contains_key(&p.0)
    }

    /// True when `p` (any incarnation) is replicated to.
    pub fn contains(&self, p: ProcessId) -> bool {
        self.voters.contains_key(&p.0) || self.learners.contains_key(&p.0)
    }

    /// Votes (or replicas) that make a majority of the voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// This membership without `p`.
    pub fn without(&self, p: ProcessId) -> Membership {
        let mut m = self.clone();
        m.voters.remove(&p.0);
        m.learners.remove(&p.0);
        m
    }

    /// This membership with `p` of `incarnation` as a learner.
    pub fn with_learner(&self, p: ProcessId, incarnation: u64) -> Membership {
        let mut m = self.without(p);
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

    /// How many voters differ between two memberships (a single-server
    /// change differs by at most one).
    pub fn voters_changed(&self, other: &Membership) -> usize {
        let a = &self.voters;
        let b = &other.voters;
        a.iter().filter(|(p, i)| b.get(p) != Some(i)).count()
            + b.iter().filter(|(p, i)| a.get(p) != Some(i)).count()
    }

    /// The members as traced: names, with `#incarnation` (hex) after
    /// incarnations other than 0.
    pub fn named(ids: &BTreeMap<u32, u64>, name: impl Fn(ProcessId) -> String) -> Vec<String> {
        ids.iter()
            .map(|(&p, &i)| member_name(&name(ProcessId(p)), i))
            .collect()
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
            self.voters.len(),
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
        let c1 = c0.without(ProcessId(1));
        assert_eq!(c0.voters_changed(&c1), 1);
        let c2 = c1.with_learner(ProcessId(1), 7);
        assert_eq!(c1.voters_changed(&c2), 0);
        assert_eq!(c2.standing(ProcessId(1)), Standing::Learner(7));
        let c3 = c2.promoted(ProcessId(1));
        assert_eq!(c3.standing(ProcessId(1)), Standing::Voter(7));
        // Same process, new incarnation: two voters differ from c0.
        assert_eq!(c0.voters_changed(&c3), 2);
        assert_eq!(c3.quorum(), 2);
        assert_eq!(member_name("m2", 7), "m2#00000007");
        assert_eq!(member_name("m2", 0), "m2");
    }
}
