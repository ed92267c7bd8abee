//! The events the stack's processes trace about themselves: the vocabulary
//! that the checkers and the replay UI understand.
//!
//! Each variant is one trace line kind; its `"ev"` name is the variant name
//! in snake case. Checkers read only what is here, so whatever an invariant
//! needs must be carried by these events (DESIGN §4).

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

/// An event of a stack process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum StackEvent {
    /// Demo process: a heartbeat round was sent (the kernel's stand-in
    /// workload until the manager stack runs scenarios).
    Beat {
        /// Round number.
        round: u64,
    },
    /// A manager's Raft role changed.
    Role {
        /// The new role.
        role: Role,
        /// Its term.
        term: u64,
        /// The leader it knows of, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<String>,
    },
    /// A manager answered a vote request (after persisting its vote).
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
    /// A manager learned that an entry is committed and applied it.
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
    /// A manager snapshotted its state machine and compacted its log.
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
    /// The leader's health view of a data node changed.
    Health {
        /// The node.
        node: String,
        /// Its health in the leader's view.
        state: crate::stack::health::Health,
    },
}

impl AppEvent for StackEvent {
    fn kind(&self) -> &'static str {
        match self {
            StackEvent::Beat { .. } => "beat",
            StackEvent::Role { .. } => "role",
            StackEvent::Vote { .. } => "vote",
            StackEvent::Append { .. } => "append",
            StackEvent::Commit { .. } => "commit",
            StackEvent::Snapshot { .. } => "snapshot",
            StackEvent::Health { .. } => "health",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_ev_tag() {
        let e = StackEvent::Role {
            role: Role::Leader,
            term: 3,
            leader: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"ev":"role","role":"leader","term":3}"#
        );
        let back: StackEvent =
            serde_json::from_str(r#"{"t":5,"ev":"role","role":"leader","term":3}"#).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.kind(), "role");
    }
}
