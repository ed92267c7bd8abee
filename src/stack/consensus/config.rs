//! A [`ConsensusManager`](super::ConsensusManager)'s parameters (with the planted
//! bugs of the run, [`RaftBugs`], which the buggy branches test).

use super::RaftBugs;
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
    /// Dead-server cleanup: the leader removes a voter it has not heard
    /// from for this long (`None`: never; an operator's `remove_manager`
    /// does it).
    pub remove_down_after: Option<SimDuration>,
    /// Cleanup never leaves fewer voters than this (a majority of the
    /// group the cluster was configured with, so that the group keeps the
    /// fault tolerance it was sized for whenever the lost ones return).
    pub min_voters: usize,
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
            remove_down_after: None,
            min_voters: 1,
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
    /// Cleanup would remove voters that merely missed a few heartbeats.
    #[error(
        "remove_down_after ({grace_us}us) must be at least twice the maximum election timeout ({max_us}us)"
    )]
    RemoveDownAfter {
        /// The grace, µs.
        grace_us: u64,
        /// The election timeout max, µs.
        max_us: u64,
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
        if let Some(grace) = self.remove_down_after
            && grace.0 < max.0.saturating_mul(2)
        {
            return Err(RaftConfigError::RemoveDownAfter {
                grace_us: grace.0,
                max_us: max.0,
            });
        }
        if self.min_voters == 0 {
            return Err(RaftConfigError::Zero { what: "min_voters" });
        }
        if self.max_in_flight == 0 {
            return Err(RaftConfigError::Zero {
                what: "max_in_flight",
            });
        }
        Ok(())
    }
}
