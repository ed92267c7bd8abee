//! What a [`ConsensusManager`](super::ConsensusManager) traces about itself:
//! role changes, votes, appends, commits, snapshots, membership changes,
//! followers' accepted and truncated entries, and leadership transfers. The host turns them
//! into its own event type through `From` (as it does Raft's messages and
//! timers); the Raft checkers read them back from the trace.

use serde::{Deserialize, Serialize};

use crate::sim::AppEvent;

/// A Raft role.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking for pre-votes (PreVote phase), term not yet raised.
    PreCandidate,
    /// Asking for votes in a new term.
    Candidate,
    /// Leads its term.
    Leader,
}

impl Role {
    /// The name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// An event of a Raft member. Each variant is one trace line kind; its
/// `"ev"` name is the variant name in snake case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum RaftEvent {
    /// The member's role, term or known leader changed.
    Role {
        /// The new role.
        role: Role,
        /// Its term.
        term: u64,
        /// The leader it knows of, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<String>,
    },
    /// The member answered a vote request (after persisting its vote).
    Vote {
        /// The term voted in.
        term: u64,
        /// Who asked.
        candidate: String,
        /// Whether the vote was given.
        granted: bool,
        /// A pre-vote (no term change, nothing persisted).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pre: bool,
    },
    /// A leader appended a new entry to its log.
    Append {
        /// Log index.
        index: u64,
        /// Term of the entry.
        term: u64,
        /// The entry, readable.
        entry: String,
    },
    /// The member learned that an entry is committed and applied it.
    Commit {
        /// Log index.
        index: u64,
        /// Term of the entry.
        term: u64,
        /// The entry, readable.
        entry: String,
        /// Hex digest of the encoded entry (what `log_matching` compares).
        digest: String,
    },
    /// The member snapshotted its state machine and compacted its log.
    Snapshot {
        /// Last index covered.
        index: u64,
        /// Term at that index.
        term: u64,
        /// Encoded size.
        bytes: u64,
        /// True when installed from a leader's snapshot rather than taken locally.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        installed: bool,
        /// Hex digest of the snapshotted state and membership (what
        /// `log_matching` compares between managers at one index).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        digest: String,
    },
    /// The membership in force at this member changed: at start (from its
    /// disk), when a configuration entry was appended or truncated away, or
    /// with an installed snapshot. Members are named `m2`, or `m2#<hex>`
    /// for an incarnation that started on an empty disk.
    Config {
        /// Log index of the configuration entry (0: bootstrap or snapshot).
        index: u64,
        /// Voting members.
        voters: Vec<String>,
        /// Non-voting members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        learners: Vec<String>,
        /// This member's own name with its incarnation, as it would appear
        /// in `voters` or `learners`.
        me: String,
    },
    /// A follower wrote entries a leader sent, from `index` on (each
    /// entry's term and digest, in order).
    Accept {
        /// Index of the first entry written.
        index: u64,
        /// Their terms.
        terms: Vec<u64>,
        /// Their digests.
        digests: Vec<String>,
    },
    /// A follower dropped its entries from `index` on (they conflicted
    /// with the leader's).
    Truncate {
        /// First index dropped.
        index: u64,
        /// Its last index before.
        last: u64,
    },
    /// A leader started or ended a leadership transfer.
    Transfer {
        /// The voter taking over.
        to: String,
        /// `start`, `timeout_now` (sent), or `abandoned`.
        step: String,
    },
}

impl AppEvent for RaftEvent {
    fn kind(&self) -> &'static str {
        match self {
            RaftEvent::Role { .. } => "role",
            RaftEvent::Vote { .. } => "vote",
            RaftEvent::Append { .. } => "append",
            RaftEvent::Commit { .. } => "commit",
            RaftEvent::Snapshot { .. } => "snapshot",
            RaftEvent::Config { .. } => "config",
            RaftEvent::Accept { .. } => "accept",
            RaftEvent::Truncate { .. } => "truncate",
            RaftEvent::Transfer { .. } => "transfer",
        }
    }
}
