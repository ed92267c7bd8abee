//! Planted bugs: deliberate protocol errors that tests switch on by name to
//! show that each checker catches the bug it exists for.
//!
//! They exist only in builds with the `planted-bugs` feature; in the product
//! build [`Planted::has`] is a constant `false` and the buggy branches compile
//! away. Select them at run time with `partsim run --plant NAME`.

use std::fmt;

use super::consensus::{RaftBug, RaftBugs};

/// A deliberate bug.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// Raft: grant a vote without checking that the candidate's log is at
    /// least as up to date as the voter's (breaks leader completeness).
    VoteWithoutLogCheck,
    /// Raft: a leader commits an entry of an earlier term by counting
    /// replicas (the Figure 8 bug).
    CommitOldTermByCounting,
    /// Raft: answer `RequestVote` before the vote is fsynced; a crash then
    /// forgets the vote and the voter may vote twice in one term.
    VoteBeforeFsync,
    /// Raft: a leader that hears of a higher term keeps leading.
    IgnoreHigherTerm,
    /// Coordinator: the old replica is removed as soon as the new one is
    /// added, before it caught up (breaks make-before-break).
    RemoveBeforeInSync,
    /// Data node: map updates are applied as they arrive, older or not.
    ApplyOlderMap,
    /// Health monitor: the leader acts on its own view of a dead node —
    /// takes its replicas away at once — instead of committing `MarkDead`.
    HealthSkipsConsensus,
    /// Manager: envelopes are accepted without checking their tag.
    AcceptBadMac,
    /// Primary: acknowledge a write once it is on its own disk, before the
    /// in-sync backups persisted it.
    AckBeforeBackups,
    /// Primary: serve a read from local state without confirming its epoch.
    ReadWithoutConfirm,
    /// Primary: append writes without fsync before acknowledging.
    SkipPrimaryFsync,
    /// Data node: report a catching-up replica in sync before its transfer completed.
    InSyncWithoutTransfer,
    /// Coordinator: plans carry no member-generation condition, so a plan
    /// computed before a `MarkDead` / `MarkAlive` commits after it.
    PlanAgainstStaleLiveness,
    /// Health monitor: a leader back from a pause (or a clock jump) judges
    /// every node by the silence it did not hear, with no fresh grace.
    PausedLeaderJudges,
    /// Recovery: a partition with nothing in sync is re-seeded by counting
    /// every live replica in sync, whether it holds data or not; replicas
    /// are added with no source to copy from, a returning node's intact
    /// replicas are removed as abandoned moves, and a node counted in sync
    /// calls its incomplete copy complete.
    SeedFromEmptySource,
    /// Storage: a record that fails its checksum is read anyway (what
    /// decodes is taken, the rest silently ends the log), so a damaged copy
    /// counts as whole and may serve.
    ServeCorrupt,
    /// Raft: the leader starts a membership change before the previous
    /// one is committed (thesis §4.1's one-at-a-time rule broken).
    TwoChangesAtOnce,
    /// Raft: a manager that is not a voter of its own incarnation (a
    /// learner, or one back on an empty disk) grants votes.
    LearnerVotes,
    /// Raft: a candidate counts the pre-votes it was granted as votes of
    /// its new term (a pre-vote binds no one).
    PreVotesCountAsVotes,
    /// Raft: a voter grants a second candidate its vote in a term it
    /// already voted in.
    VoteTwiceInTerm,
    /// Raft: a restarted member counts every entry of its log committed.
    RestartCommitsLog,
    /// Client: a read answered from the client's cache of the last value
    /// it saw, without asking the primary.
    ClientCachedRead,
    /// Client: a compare-and-set is retried under a new request id, so the
    /// primary's duplicate table cannot recognise it.
    RetryCasNewId,
    /// Primary: a new replica is declared caught up with the install that
    /// starts its catch-up, before it holds the writes acknowledged
    /// meanwhile without it; its node reports it in sync and the move that
    /// added it completes early.
    FinishMoveBeforeCatchUp,
    /// Follower: an install of its own epoch is taken even when it is older
    /// than what the follower holds (a resend overtaken in flight by
    /// entries it already acknowledged): the follower winds back.
    StaleInstallWindsBack,
    /// Coordinator: a catching-up replica the target no longer wants is
    /// removed whenever the map calls some replica in sync on a usable
    /// member, though no trusted node reported holding the data — the
    /// returning node's intact copy, perhaps the last one, is dropped; and
    /// its node, keeping it as a stray, is told to release it on the same
    /// trust in the map.
    AbandonUnconfirmedCopy,
    /// Primary: the declaration that a follower caught up goes out once;
    /// lost, it is not resent, and the follower stays catching up until
    /// the next write.
    CaughtUpSentOnce,
    /// Raft: dead-server cleanup removes voters that stay down whatever is
    /// left, below `min_voters` (the floor Consul's autopilot calls
    /// `min_quorum`): the group shrinks to voters that cannot outlive one
    /// more failure, and a floor voter returning with its disk is no
    /// longer counted.
    CleanupBelowFloor,
    /// Recovery: a partition with no replica in sync is re-seeded from
    /// every live stored copy, whatever the epoch at which it was last in
    /// sync, and without waiting for the listed nodes not heard from: a
    /// copy that fell behind becomes primary and acknowledged writes that
    /// only the newer copies held are lost.
    ReseedFromBehindCopy,
    /// Coordinator: a returning node's intact copy, demoted to catching up
    /// on its re-registration and not wanted by the target, is removed as
    /// an abandoned move while the partition is short of trusted in-sync
    /// copies: it is left with fewer copies than it could keep, and the
    /// next disk fault loses acknowledged writes.
    AbandonReturningCopy,
    /// Primary: a read re-asked for its epoch confirmation keeps only its
    /// newest round, so an answer to an earlier round is ignored; with a
    /// round trip above the re-ask interval no read ever completes.
    ConfirmLatestRoundOnly,
    /// Follower: a replicate from a lower epoch than its own is taken, so a
    /// deposed primary still gathers acknowledgements and acknowledges
    /// writes the new epoch never sees.
    AcceptLowerEpoch,
}

impl Bug {
    /// Every planted bug.
    pub const ALL: [Bug; 32] = [
        Bug::VoteWithoutLogCheck,
        Bug::CommitOldTermByCounting,
        Bug::VoteBeforeFsync,
        Bug::IgnoreHigherTerm,
        Bug::RemoveBeforeInSync,
        Bug::ApplyOlderMap,
        Bug::HealthSkipsConsensus,
        Bug::AcceptBadMac,
        Bug::AckBeforeBackups,
        Bug::ReadWithoutConfirm,
        Bug::SkipPrimaryFsync,
        Bug::InSyncWithoutTransfer,
        Bug::PlanAgainstStaleLiveness,
        Bug::PausedLeaderJudges,
        Bug::SeedFromEmptySource,
        Bug::ServeCorrupt,
        Bug::TwoChangesAtOnce,
        Bug::LearnerVotes,
        Bug::PreVotesCountAsVotes,
        Bug::VoteTwiceInTerm,
        Bug::RestartCommitsLog,
        Bug::ClientCachedRead,
        Bug::RetryCasNewId,
        Bug::FinishMoveBeforeCatchUp,
        Bug::StaleInstallWindsBack,
        Bug::AbandonUnconfirmedCopy,
        Bug::CaughtUpSentOnce,
        Bug::CleanupBelowFloor,
        Bug::ReseedFromBehindCopy,
        Bug::AbandonReturningCopy,
        Bug::ConfirmLatestRoundOnly,
        Bug::AcceptLowerEpoch,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::VoteWithoutLogCheck => "vote-without-log-check",
            Bug::CommitOldTermByCounting => "commit-old-term-by-counting",
            Bug::VoteBeforeFsync => "vote-before-fsync",
            Bug::IgnoreHigherTerm => "ignore-higher-term",
            Bug::RemoveBeforeInSync => "remove-before-in-sync",
            Bug::ApplyOlderMap => "apply-older-map",
            Bug::HealthSkipsConsensus => "health-skips-consensus",
            Bug::AcceptBadMac => "accept-bad-mac",
            Bug::AckBeforeBackups => "ack-before-backups",
            Bug::ReadWithoutConfirm => "read-without-confirm",
            Bug::SkipPrimaryFsync => "skip-primary-fsync",
            Bug::InSyncWithoutTransfer => "in-sync-without-transfer",
            Bug::PlanAgainstStaleLiveness => "plan-against-stale-liveness",
            Bug::PausedLeaderJudges => "paused-leader-judges",
            Bug::SeedFromEmptySource => "seed-from-empty-source",
            Bug::ServeCorrupt => "serve-corrupt",
            Bug::TwoChangesAtOnce => "two-changes-at-once",
            Bug::LearnerVotes => "learner-votes",
            Bug::PreVotesCountAsVotes => "pre-votes-count-as-votes",
            Bug::VoteTwiceInTerm => "vote-twice-in-term",
            Bug::RestartCommitsLog => "restart-commits-log",
            Bug::ClientCachedRead => "client-cached-read",
            Bug::RetryCasNewId => "retry-cas-new-id",
            Bug::FinishMoveBeforeCatchUp => "finish-move-before-catch-up",
            Bug::StaleInstallWindsBack => "stale-install-winds-back",
            Bug::AbandonUnconfirmedCopy => "abandon-unconfirmed-copy",
            Bug::CaughtUpSentOnce => "caught-up-sent-once",
            Bug::CleanupBelowFloor => "cleanup-below-floor",
            Bug::ReseedFromBehindCopy => "reseed-from-behind-copy",
            Bug::AbandonReturningCopy => "abandon-returning-copy",
            Bug::ConfirmLatestRoundOnly => "confirm-latest-round-only",
            Bug::AcceptLowerEpoch => "accept-lower-epoch",
        }
    }
}

/// Each Raft bug is one of the planted bugs, named here like the others.
impl From<RaftBug> for Bug {
    fn from(bug: RaftBug) -> Bug {
        match bug {
            RaftBug::VoteWithoutLogCheck => Bug::VoteWithoutLogCheck,
            RaftBug::CommitOldTermByCounting => Bug::CommitOldTermByCounting,
            RaftBug::VoteBeforeFsync => Bug::VoteBeforeFsync,
            RaftBug::IgnoreHigherTerm => Bug::IgnoreHigherTerm,
            RaftBug::TwoChangesAtOnce => Bug::TwoChangesAtOnce,
            RaftBug::LearnerVotes => Bug::LearnerVotes,
            RaftBug::PreVotesCountAsVotes => Bug::PreVotesCountAsVotes,
            RaftBug::VoteTwiceInTerm => Bug::VoteTwiceInTerm,
            RaftBug::RestartCommitsLog => Bug::RestartCommitsLog,
            RaftBug::CleanupBelowFloor => Bug::CleanupBelowFloor,
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of planted bugs active in a run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Planted(u64);

impl Planted {
    /// No bugs: the product.
    pub const NONE: Planted = Planted(0);

    /// True when `bug` is planted in this run.
    #[inline]
    pub fn has(self, bug: Bug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.0 & (1 << bug as u64) != 0
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }

    /// True when no bug is planted.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `bug` added.
    pub fn with(self, bug: Bug) -> Planted {
        Planted(self.0 | 1 << bug as u64)
    }

    /// Parses bug names; fails on an unknown name, or in a build without the
    /// `planted-bugs` feature.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Planted, String> {
        let mut set = Planted::NONE;
        for n in names {
            let n = n.as_ref();
            let bug = Bug::ALL
                .into_iter()
                .find(|b| b.name() == n)
                .ok_or_else(|| {
                    let known: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                    format!("unknown planted bug {n:?} (known: {})", known.join(", "))
                })?;
            set = set.with(bug);
        }
        if !set.is_empty() && !cfg!(feature = "planted-bugs") {
            return Err(
                "this build carries no planted bugs: rebuild with `--features planted-bugs`".into(),
            );
        }
        Ok(set)
    }

    /// The Raft bugs among them, for a manager's consensus member.
    pub fn raft(self) -> RaftBugs {
        RaftBug::ALL
            .into_iter()
            .filter(|&bug| self.has(bug.into()))
            .fold(RaftBugs::NONE, RaftBugs::with)
    }

    /// The planted bugs, by name.
    pub fn names(self) -> Vec<&'static str> {
        Bug::ALL
            .into_iter()
            .filter(|b| self.0 & (1 << *b as u64) != 0)
            .map(Bug::name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_raft_bug_is_a_selectable_bug_of_its_own() {
        let bugs: Vec<Bug> = RaftBug::ALL.into_iter().map(Bug::from).collect();
        for (raft, bug) in RaftBug::ALL.into_iter().zip(&bugs) {
            assert!(
                Bug::ALL.contains(bug),
                "{raft:?} maps to {bug}, not in Bug::ALL"
            );
        }
        let mut distinct = bugs.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), bugs.len(), "two Raft bugs share a name");
    }

    #[test]
    fn a_manager_gets_the_raft_bugs_planted() {
        let planted = Planted::NONE
            .with(Bug::LearnerVotes)
            .with(Bug::AckBeforeBackups);
        let raft = planted.raft();
        for bug in RaftBug::ALL {
            let expected = cfg!(feature = "planted-bugs") && bug == RaftBug::LearnerVotes;
            assert_eq!(raft.has(bug), expected, "{bug:?}");
        }
        assert_eq!(Planted::NONE.raft(), RaftBugs::NONE);
    }
}
