//! The planted-bug catalog (`partsim bugs`): every deliberate bug with the
//! component it lives in, the checker that must catch it, and the real
//! failure it models.

use crate::stack::planted::Bug;

/// One catalog line.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    /// The `--plant` name.
    pub name: &'static str,
    /// Where the bug lives.
    pub component: &'static str,
    /// The checker that catches it.
    pub checker: &'static str,
    /// What goes wrong, in one line.
    pub summary: &'static str,
}

/// The catalog entry of `bug`.
pub fn entry(bug: Bug) -> Entry {
    let (component, checker, summary) = match bug {
        Bug::VoteWithoutLogCheck => (
            "raft",
            "log_matching",
            "grants a vote without the up-to-date-log check (leader completeness lost)",
        ),
        Bug::CommitOldTermByCounting => (
            "raft",
            "log_matching",
            "commits an earlier term's entry by counting replicas (Raft paper, Figure 8)",
        ),
        Bug::VoteBeforeFsync => (
            "raft",
            "election_safety",
            "answers RequestVote before the vote is durable; a crash forgets it, two leaders",
        ),
        Bug::IgnoreHigherTerm => (
            "raft",
            "leader_elected",
            "a leader that hears of a higher term keeps leading",
        ),
        Bug::RemoveBeforeInSync => (
            "coordinator",
            "placement",
            "removes the old replica before the new one caught up (break-before-make)",
        ),
        Bug::ApplyOlderMap => (
            "node",
            "map_monotonic",
            "a data node applies partition-map updates out of order, older over newer",
        ),
        Bug::HealthSkipsConsensus => (
            "health",
            "placement",
            "the leader acts on its own view of a dead node instead of committing MarkDead",
        ),
        Bug::AcceptBadMac => (
            "network",
            "auth",
            "a manager accepts envelopes without checking their authentication tag",
        ),
        Bug::AckBeforeBackups => (
            "replication",
            "durability",
            "a primary acknowledges a write before its in-sync backups persisted it",
        ),
        Bug::ServeCorrupt => (
            "storage",
            "durability",
            "a record that fails its checksum is read anyway; the damaged copy re-seeds the partition",
        ),
        Bug::FinishMoveBeforeCatchUp => (
            "replication",
            "durability",
            "a new replica is declared caught up (the move completes) before it holds every acknowledged write",
        ),
        Bug::StaleInstallWindsBack => (
            "replication",
            "durability",
            "a follower takes a resent install older than what it holds and drops acknowledged writes",
        ),
        Bug::ReadWithoutConfirm => (
            "replication",
            "linearizable",
            "a primary serves a read from local state without confirming its epoch",
        ),
        Bug::SkipPrimaryFsync => (
            "replication",
            "durability",
            "a primary acknowledges writes it appended without fsync",
        ),
        Bug::InSyncWithoutTransfer => (
            "node",
            "durability",
            "a catching-up replica is reported in sync before its transfer completed",
        ),
        Bug::PlanAgainstStaleLiveness => (
            "coordinator",
            "placement",
            "a plan computed before a MarkDead/MarkAlive commits after it (no map precondition)",
        ),
        Bug::PausedLeaderJudges => (
            "health",
            "converged",
            "a leader back from a pause marks nodes dead for the silence it was not there to hear",
        ),
        Bug::SeedFromEmptySource => (
            "recovery",
            "placement",
            "an empty newcomer is marked in sync and the copy that held the data is dropped",
        ),
        Bug::TwoChangesAtOnce => (
            "raft",
            "election_safety",
            "starts a membership change before the previous one committed (two at once)",
        ),
        Bug::LearnerVotes => (
            "raft",
            "election_safety",
            "a learner or a manager back on an empty disk votes; a stale voter slot counts it",
        ),
        Bug::PreVotesCountAsVotes => (
            "raft",
            "election_safety",
            "a candidate counts its pre-vote grants as votes (pre-votes bind no one: two leaders)",
        ),
        Bug::VoteTwiceInTerm => (
            "raft",
            "election_safety",
            "a voter grants a second candidate its vote in the same term (two leaders)",
        ),
        Bug::RestartCommitsLog => (
            "raft",
            "log_matching",
            "a restarted member takes its whole log as committed, uncommitted tail included",
        ),
        Bug::ClientCachedRead => (
            "client",
            "linearizable",
            "a client answers reads from its cache of the last value it saw (stale read)",
        ),
        Bug::RetryCasNewId => (
            "client",
            "linearizable",
            "a compare-and-set retried under a new request id applies and then reports failure",
        ),
        Bug::AbandonUnconfirmedCopy => (
            "coordinator",
            "placement",
            "a returning node's intact copy is removed as an abandoned move on the map's word alone",
        ),
        Bug::CaughtUpSentOnce => (
            "replication",
            "converged",
            "a lost caught-up declaration is never resent; the replica catches up for ever",
        ),
        Bug::CleanupBelowFloor => (
            "raft",
            "leader_elected",
            "dead-server cleanup shrinks the group below min_voters; one more failure stalls it",
        ),
        Bug::ReseedFromBehindCopy => (
            "recovery",
            "durability",
            "a partition with no in-sync copy is re-seeded from a copy that fell behind",
        ),
        Bug::AbandonReturningCopy => (
            "coordinator",
            "durability",
            "a returning node's intact copy is removed as an abandoned move while the partition is short",
        ),
        Bug::ConfirmLatestRoundOnly => (
            "replication",
            "available",
            "a re-asked read takes only its newest confirmation round: over slow links no read completes",
        ),
        Bug::AcceptLowerEpoch => (
            "replication",
            "durability",
            "a follower takes a replicate of a lower epoch: a deposed primary still acknowledges writes",
        ),
    };
    Entry {
        name: bug.name(),
        component,
        checker,
        summary,
    }
}

/// Every entry, in catalog order.
pub fn all() -> Vec<Entry> {
    Bug::ALL.into_iter().map(entry).collect()
}

/// The catalog as a text table.
pub fn render() -> String {
    let entries = all();
    let w = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out = format!(
        "{:<w$}  {:<12} {:<16} {}\n",
        "bug", "component", "caught by", "what goes wrong"
    );
    for e in &entries {
        out.push_str(&format!(
            "{:<w$}  {:<12} {:<16} {}\n",
            e.name, e.component, e.checker, e.summary
        ));
    }
    out.push_str(&format!(
        "{} planted bugs; plant one with `--plant NAME` in a build with `--features planted-bugs`\n",
        entries.len()
    ));
    out
}
