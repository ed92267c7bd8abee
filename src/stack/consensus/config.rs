//! A [`ConsensusManager`](super::ConsensusManager)'s parameters, and the
//! deliberate Raft bugs tests plant to show each checker catches its bug.

use crate::sim::SimDuration;

/// Parameters of a [`ConsensusManager`].
#[derive(Clone, Debug, PartialEq)]
pub struct RaftConfig {
    /// Election timeout range (min, max): each wait is drawn uniformly from it.
    /// The min is also the leader lease that makes voters refuse pre-votes and
    /// the CheckQuorum period.
    pub election_timeout: (SimDuration, SimDuration),
    /// Interval of a leader's heartbeats.
    pub heartbeat: SimDuration,
    /// Entries applied since the last snapshot that trigger one.
    pub snapshot_every: u64,
    /// Entries per `AppendEntries`, at most.
    pub max_entries_per_msg: usize,
    /// Entries a leader holds uncommitted, at most; proposals past it are refused.
    pub max_in_flight: u64,
    /// Deliberate bugs (tests only).
    pub planted: RaftBugs,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout: (SimDuration::from_millis(300), SimDuration::from_millis(600)),
            heartbeat: SimDuration::from_millis(50),
            snapshot_every: 256,
            max_entries_per_msg: 64,
            max_in_flight: 256,
            planted: RaftBugs::NONE,
        }
    }
}

/// A [`RaftConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RaftConfigError {
    /// The election timeout range is empty or zero.
    #[error(
        "election_timeout must be a range [min, max] with 0 < min <= max (got [{min_us}us, {max_us}us])"
    )]
    ElectionTimeout {
        /// The min, µs.
        min_us: u64,
        /// The max, µs.
        max_us: u64,
    },
    /// Heartbeats must come well within the election timeout.
    #[error(
        "raft_heartbeat ({heartbeat_us}us) must be positive and below half the minimum election timeout ({min_us}us)"
    )]
    Heartbeat {
        /// The heartbeat, µs.
        heartbeat_us: u64,
        /// The election timeout min, µs.
        min_us: u64,
    },
    /// A bound is zero.
    #[error("{what} must be at least 1")]
    Zero {
        /// Which field.
        what: &'static str,
    },
}

impl RaftConfig {
    /// Checks that the parameters can work (the scenario validator calls this).
    pub fn validate(&self) -> Result<(), RaftConfigError> {
        let (min, max) = self.election_timeout;
        if min.0 == 0 || min > max {
            return Err(RaftConfigError::ElectionTimeout {
                min_us: min.0,
                max_us: max.0,
            });
        }
        if self.heartbeat.0 == 0 || self.heartbeat.0 * 2 > min.0 {
            return Err(RaftConfigError::Heartbeat {
                heartbeat_us: self.heartbeat.0,
                min_us: min.0,
            });
        }
        if self.snapshot_every == 0 {
            return Err(RaftConfigError::Zero {
                what: "snapshot_every",
            });
        }
        if self.max_entries_per_msg == 0 {
            return Err(RaftConfigError::Zero {
                what: "max_entries_per_msg",
            });
        }
        if self.max_in_flight == 0 {
            return Err(RaftConfigError::Zero {
                what: "max_in_flight",
            });
        }
        Ok(())
    }
}

/// A deliberate Raft bug, for showing that a checker catches it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RaftBug {
    /// Grant a vote without checking that the candidate's log is at least
    /// as up to date as the voter's (breaks leader completeness).
    VoteWithoutLogCheck,
    /// A leader commits an entry of an earlier term by counting replicas
    /// (the Figure 8 bug).
    CommitOldTermByCounting,
    /// Answer `RequestVote` before the vote is fsynced; a crash then
    /// forgets the vote and the voter may vote twice in one term.
    VoteBeforeFsync,
    /// A leader that hears of a higher term keeps leading.
    IgnoreHigherTerm,
    /// A leader starts a membership change before the previous one is
    /// committed (breaks the single-server change rule, thesis §4.1).
    TwoChangesAtOnce,
    /// A manager that is not a voter of its own incarnation (a learner, or
    /// one that restarted on an empty disk) grants votes.
    LearnerVotes,
}

/// The set of planted [`RaftBug`]s of a manager. Without the
/// `planted-bugs` feature [`has`](Self::has) is a constant `false` and the
/// buggy branches compile away.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftBugs(u8);

impl RaftBugs {
    /// No bugs: the product.
    pub const NONE: RaftBugs = RaftBugs(0);

    /// The set with `bug` added.
    pub fn with(self, bug: RaftBug) -> RaftBugs {
        RaftBugs(self.0 | 1 << bug as u8)
    }

    /// True when `bug` is planted.
    #[inline]
    pub fn has(self, bug: RaftBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.0 & (1 << bug as u8) != 0
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }
}
