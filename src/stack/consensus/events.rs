//! What a [`ConsensusManager`](super::ConsensusManager) traces about itself:
//! role changes, votes, appends, commits and snapshots. The host turns them
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
        }
    }
}
