//! Raft's messages and timers: what a host wraps in its own enums.

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use super::storage::SnapshotOwned;
use super::{StateMachine, StoredEntry};
use crate::sim::{Message, TimerKind};

/// The outcome of an `AppendEntries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The follower's log matches the leader's up to `match_index`.
    Success {
        /// Highest index known to match the leader's log.
        match_index: u64,
    },
    /// The entry at `prev_log_index` did not match (or was missing). The hint
    /// lets the leader skip a whole term per round trip (fast backtracking).
    Conflict {
        /// The `prev_log_index` of the rejected request (stale answers are ignored).
        rejected_prev: u64,
        /// Term of the follower's entry at `prev_log_index`; `None` if its log is shorter.
        conflict_term: Option<u64>,
        /// First index of `conflict_term` in the follower's log, or its last index + 1.
        conflict_index: u64,
    },
}

/// Raft's messages. Every message carries the sender's term.
#[derive(Clone, Debug, PartialEq)]
pub enum RaftMsg<C> {
    /// "Would you vote for me in `term`?" — sent without raising the
    /// sender's term, so a node that cannot win disturbs nobody.
    PreVote {
        /// The term the pre-candidate would campaign in (its term + 1).
        term: u64,
        /// Index of its last log entry.
        last_log_index: u64,
        /// Term of its last log entry.
        last_log_term: u64,
    },
    /// Answer to [`RaftMsg::PreVote`].
    PreVoteResponse {
        /// The requested term if granted; the voter's term otherwise.
        term: u64,
        /// Whether the voter would vote.
        granted: bool,
        /// The voter's incarnation: the pre-candidate counts the answer
        /// only for the voter of that incarnation.
        incarnation: u64,
    },
    /// A candidate asks for a vote in `term`.
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Index of its last log entry.
        last_log_index: u64,
        /// Term of its last log entry.
        last_log_term: u64,
        /// The leader handed over to this candidate (`TimeoutNow`): voters
        /// still in that leader's lease answer anyway.
        transfer: bool,
    },
    /// Answer to [`RaftMsg::RequestVote`], sent after the vote is fsynced.
    RequestVoteResponse {
        /// The voter's term.
        term: u64,
        /// Whether the vote was given.
        granted: bool,
        /// The voter's incarnation: the candidate counts the vote only for
        /// the voter of that incarnation.
        incarnation: u64,
    },
    /// Replicates entries (none: a heartbeat) and carries the commit index.
    AppendEntries {
        /// The leader's term.
        term: u64,
        /// Index of the entry before `entries`.
        prev_log_index: u64,
        /// Its term.
        prev_log_term: u64,
        /// At most `max_entries_per_msg` entries (shared with the
        /// leader's log: see [`StoredEntry`]).
        entries: Vec<Rc<StoredEntry<C>>>,
        /// The leader's commit index.
        leader_commit: u64,
    },
    /// Answer to [`RaftMsg::AppendEntries`], sent after the entries are fsynced.
    AppendEntriesResponse {
        /// The follower's term.
        term: u64,
        /// Success or conflict hint.
        outcome: AppendOutcome,
    },
    /// The leader's snapshot, for a follower that needs compacted entries.
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// Last index the snapshot covers.
        last_index: u64,
        /// Term of that entry.
        last_term: u64,
        /// The snapshot (shared: the network may duplicate the message).
        data: SnapshotData,
    },
    /// Answer to [`RaftMsg::InstallSnapshot`].
    InstallSnapshotResponse {
        /// The follower's term.
        term: u64,
        /// Highest index known to match the leader's log.
        match_index: u64,
    },
    /// A manager that started on an empty disk while the group exists asks
    /// to be admitted (as a learner) under its new incarnation.
    Join {
        /// The sender's term (claims nothing).
        term: u64,
        /// Its incarnation.
        incarnation: u64,
    },
    /// The leader hands over: the receiver, caught up, campaigns at once
    /// (thesis §3.10).
    TimeoutNow {
        /// The leader's term.
        term: u64,
    },
}

/// A snapshot as a manager keeps and sends it: its encoding, and the
/// value the encoding was made from (or, after a restart, decoded into).
///
/// Why the value: installing a leader's snapshot meant decoding the whole
/// cluster map's JSON, most of the cost of the install, while the sender
/// held the decoded value already. A simulation may share an immutable
/// value between processes as long as none can change what another holds:
/// this one is behind an `Rc` and only ever cloned out of it (the cluster
/// map's own parts are copy-on-write). The bytes stay what is persisted,
/// traced and digested, and a restart decodes them from disk; the value is
/// what decoding them gives (`storage.rs` tests it).
#[derive(Clone)]
pub struct SnapshotData {
    /// A vector behind the `Rc`, not a slice: made from the one written,
    /// without copying it (a snapshot is large).
    bytes: Rc<Vec<u8>>,
    /// A [`SnapshotOwned`] of the sender's state machine. Erased because
    /// the message type knows only the command type.
    decoded: Rc<dyn Any>,
}

impl SnapshotData {
    /// A snapshot encoded as `bytes`, which decode to `decoded`.
    pub(super) fn new<S: StateMachine>(bytes: Vec<u8>, decoded: SnapshotOwned<S>) -> Self {
        SnapshotData {
            bytes: Rc::new(bytes),
            decoded: Rc::new(decoded),
        }
    }

    /// The encoded snapshot.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What the bytes decode to: the sender's value when it is of the
    /// state machine `S` (always, within one group), else decoded here.
    pub(super) fn decode<S: StateMachine>(&self) -> serde_json::Result<SnapshotOwned<S>> {
        match self.decoded.downcast_ref::<SnapshotOwned<S>>() {
            Some(snap) => Ok(snap.clone()),
            None => serde_json::from_slice(&self.bytes),
        }
    }
}

/// Equal when the bytes are: the value is what they decode to.
impl PartialEq for SnapshotData {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotData")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl<C> RaftMsg<C> {
    /// The sender's term (for a granted pre-vote: the term asked about).
    pub fn term(&self) -> u64 {
        match self {
            RaftMsg::PreVote { term, .. }
            | RaftMsg::PreVoteResponse { term, .. }
            | RaftMsg::RequestVote { term, .. }
            | RaftMsg::RequestVoteResponse { term, .. }
            | RaftMsg::AppendEntries { term, .. }
            | RaftMsg::AppendEntriesResponse { term, .. }
            | RaftMsg::InstallSnapshot { term, .. }
            | RaftMsg::InstallSnapshotResponse { term, .. }
            | RaftMsg::Join { term, .. }
            | RaftMsg::TimeoutNow { term } => *term,
        }
    }
}

impl<C: Clone> Message for RaftMsg<C> {
    fn name(&self) -> &'static str {
        match self {
            RaftMsg::PreVote { .. } => "PreVote",
            RaftMsg::PreVoteResponse { .. } => "PreVoteResponse",
            RaftMsg::RequestVote { .. } => "RequestVote",
            RaftMsg::RequestVoteResponse { .. } => "RequestVoteResponse",
            RaftMsg::AppendEntries { .. } => "AppendEntries",
            RaftMsg::AppendEntriesResponse { .. } => "AppendEntriesResponse",
            RaftMsg::InstallSnapshot { .. } => "InstallSnapshot",
            RaftMsg::InstallSnapshotResponse { .. } => "InstallSnapshotResponse",
            RaftMsg::Join { .. } => "Join",
            RaftMsg::TimeoutNow { .. } => "TimeoutNow",
        }
    }
}

/// Raft's timers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RaftTimer {
    /// A follower or (pre-)candidate heard no leader for a randomized timeout.
    Election,
    /// A leader's periodic `AppendEntries`.
    Heartbeat,
    /// A leader checks that it heard from a majority during the last election timeout.
    CheckQuorum,
    /// A candidate sends `RequestVote` again to the peers that have not
    /// answered (Raft §5.1: RPCs are retried when no answer comes in time).
    VoteRetry,
}

impl TimerKind for RaftTimer {
    fn name(&self) -> &'static str {
        match self {
            RaftTimer::Election => "Election",
            RaftTimer::Heartbeat => "Heartbeat",
            RaftTimer::CheckQuorum => "CheckQuorum",
            RaftTimer::VoteRetry => "VoteRetry",
        }
    }
}
