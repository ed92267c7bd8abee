//! The deliberate Raft bugs a member can carry, so that tests show each
//! Raft checker catching the bug it exists for.
//!
//! A host names its bugs its own way and fills a member's [`RaftBugs`] from
//! them (the partition manager's `--plant NAME` list maps onto these); the
//! member tests its set in the buggy branches. Without the `planted-bugs`
//! feature [`RaftBugs::has`] is a constant `false` and those branches
//! compile away.

/// A deliberate Raft bug.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RaftBug {
    /// A voter grants its vote without checking that the candidate's log is
    /// at least as up to date as its own (breaks leader completeness).
    VoteWithoutLogCheck,
    /// A leader commits an entry of an earlier term by counting replicas
    /// (the Figure 8 bug).
    CommitOldTermByCounting,
    /// A voter answers `RequestVote` before the vote is fsynced: a crash
    /// then forgets the vote, and the voter may vote twice in one term.
    VoteBeforeFsync,
    /// A leader that hears of a higher term keeps leading.
    IgnoreHigherTerm,
    /// A leader starts a membership change before the previous one is
    /// committed.
    TwoChangesAtOnce,
    /// A member that is not a voter of its own incarnation grants votes.
    LearnerVotes,
    /// A candidate counts its pre-votes as votes of its new term.
    PreVotesCountAsVotes,
    /// A voter grants a second candidate its vote in a term it already
    /// voted in.
    VoteTwiceInTerm,
    /// A restarted member counts every entry of its log committed.
    RestartCommitsLog,
    /// Dead-server cleanup removes a down voter even when that leaves
    /// fewer than `min_voters`.
    CleanupBelowFloor,
}

impl RaftBug {
    /// Every Raft bug, in declaration order.
    pub const ALL: [RaftBug; 10] = [
        RaftBug::VoteWithoutLogCheck,
        RaftBug::CommitOldTermByCounting,
        RaftBug::VoteBeforeFsync,
        RaftBug::IgnoreHigherTerm,
        RaftBug::TwoChangesAtOnce,
        RaftBug::LearnerVotes,
        RaftBug::PreVotesCountAsVotes,
        RaftBug::VoteTwiceInTerm,
        RaftBug::RestartCommitsLog,
        RaftBug::CleanupBelowFloor,
    ];
}

/// The set of [`RaftBug`]s planted in a member.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftBugs(u16);

impl RaftBugs {
    /// No bugs: the product.
    pub const NONE: RaftBugs = RaftBugs(0);

    /// The set with `bug` added.
    pub fn with(self, bug: RaftBug) -> RaftBugs {
        RaftBugs(self.0 | 1 << bug as u16)
    }

    /// True when `bug` is planted.
    #[inline]
    pub fn has(self, bug: RaftBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.0 & (1 << bug as u16) != 0
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_each_bug_once_in_order() {
        for (i, bug) in RaftBug::ALL.into_iter().enumerate() {
            assert_eq!(bug as usize, i, "{bug:?}");
        }
        assert_eq!(
            RaftBug::ALL.len(),
            RaftBug::CleanupBelowFloor as usize + 1,
            "the last variant closes ALL"
        );
    }

    #[test]
    fn a_set_holds_what_was_added() {
        let set = RaftBugs::NONE.with(RaftBug::LearnerVotes);
        assert_eq!(
            set.has(RaftBug::LearnerVotes),
            cfg!(feature = "planted-bugs")
        );
        assert!(!set.has(RaftBug::VoteTwiceInTerm));
        assert!(!RaftBugs::NONE.has(RaftBug::LearnerVotes));
    }
}
