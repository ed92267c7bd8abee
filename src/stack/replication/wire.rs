//! The data plane's wire types: clients' requests and the answers they
//! get, the replication messages between a partition's primary and its
//! followers, and the data plane's timers.

use super::super::events::OpF;
use super::super::storage::{Entry, PartitionState};

/// A client's operation on one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// Read the cell.
    Read {
        /// Cell.
        cell: u64,
    },
    /// Write the cell.
    Write {
        /// Cell.
        cell: u64,
        /// Value.
        value: u64,
    },
    /// Compare-and-set the cell.
    Cas {
        /// Cell.
        cell: u64,
        /// The value it must hold.
        expected: u64,
        /// The value to set.
        new: u64,
    },
}

impl ClientOp {
    /// The cell.
    pub fn cell(&self) -> u64 {
        match self {
            ClientOp::Read { cell } | ClientOp::Write { cell, .. } | ClientOp::Cas { cell, .. } => {
                *cell
            }
        }
    }
    /// The operation's function name.
    pub fn f(&self) -> OpF {
        match self {
            ClientOp::Read { .. } => OpF::Read,
            ClientOp::Write { .. } => OpF::Write,
            ClientOp::Cas { .. } => OpF::Cas,
        }
    }
}

/// A client's request to a partition's primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Client number (`c3` → 3).
    pub client: u32,
    /// The client's sequence number: the request id, equal on retries.
    pub seq: u64,
    /// The partition the cell belongs to.
    pub partition: u32,
    /// What to do.
    pub op: ClientOp,
}

/// What a request got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A read's value (`None`: the cell was never written).
    Read(Option<u64>),
    /// The write or compare-and-set took effect.
    Done,
    /// The compare-and-set's expectation did not hold: nothing changed.
    CasFailed,
    /// This node is not the primary; try that one (if known).
    NotPrimary {
        /// The primary in this node's map.
        primary: Option<String>,
    },
    /// The primary is overloaded: nothing was done.
    Busy,
    /// The partition was started again empty after every copy of it was
    /// lost, and no write defined the cell since: its value is not known,
    /// so a read is not answered and a compare-and-set did nothing.
    Lost,
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's sequence number.
    pub seq: u64,
    /// The partition asked.
    pub partition: u32,
    /// The outcome.
    pub outcome: Outcome,
}

/// Primary → follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicate {
    /// Partition.
    pub partition: u32,
    /// The primary's epoch.
    pub epoch: u64,
    /// The whole state, at the start of an epoch or for a follower too far behind.
    pub install: Option<Box<PartitionState>>,
    /// Entries following the follower's last acknowledged index.
    pub entries: Vec<Entry>,
    /// The primary counts this follower among the replicas every ack needs.
    pub caught_up: bool,
    /// The follower's boot as the primary's map knows it: a declaration
    /// of caught up is about that incarnation only. (Messages may arrive
    /// out of order: one sent before the primary saw the follower restart
    /// can land after the start-over that withdrew it.)
    pub to_boot: Option<u32>,
}

/// Why a follower did not take a replicate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AckStatus {
    /// Persisted up to `index`.
    Ok,
    /// The follower knows a higher epoch (in the ack).
    StaleEpoch,
    /// The follower needs this epoch's install first.
    NeedInstall,
    /// Persisted up to `index`, and entries after a gap arrived: what lies
    /// between was lost or overtaken in flight, and is to be sent again.
    Gap,
}

/// Follower → primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Partition.
    pub partition: u32,
    /// The epoch acknowledged (or the follower's higher one).
    pub epoch: u64,
    /// Last index persisted.
    pub index: u64,
    /// Outcome.
    pub status: AckStatus,
    /// The follower holds the primary's declaration that it is caught up
    /// in this epoch (the primary resends it until this says so).
    pub caught_up: bool,
}

/// The data plane's messages (bulk: `MsgClass::Bulk`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataMsg {
    /// Client → node.
    Request(Request),
    /// Node → client.
    Response(Response),
    /// Primary → follower.
    Replicate(Replicate),
    /// Follower → primary.
    Ack(Ack),
    /// Primary → in-sync follower: is `epoch` still current?
    Confirm {
        /// Partition.
        partition: u32,
        /// The primary's epoch.
        epoch: u64,
        /// Round number.
        id: u64,
    },
    /// Follower → primary.
    Confirmed {
        /// Partition.
        partition: u32,
        /// The epoch asked about.
        epoch: u64,
        /// Round number.
        id: u64,
        /// True when the follower knows no higher epoch.
        ok: bool,
    },
}

impl DataMsg {
    /// The message's name in traces.
    pub fn name(&self) -> &'static str {
        match self {
            DataMsg::Request(_) => "Request",
            DataMsg::Response(_) => "Response",
            DataMsg::Replicate(r) if r.install.is_some() => "Install",
            DataMsg::Replicate(_) => "Replicate",
            DataMsg::Ack(_) => "ReplicaAck",
            DataMsg::Confirm { .. } => "Confirm",
            DataMsg::Confirmed { .. } => "Confirmed",
        }
    }
}

/// The data plane's timers (replication on nodes, operations on clients).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DataTimer {
    /// A node's replication tick (resends).
    Tick,
    /// A node's scrub round (stored checksums checked in the background).
    Scrub,
    /// A client's next operation is due.
    Issue,
    /// A client resends request `seq`.
    Retry(u64),
    /// Request `seq` timed out.
    Deadline(u64),
}

impl DataTimer {
    /// The timer's name in traces.
    pub fn name(&self) -> &'static str {
        match self {
            DataTimer::Tick => "ReplTick",
            DataTimer::Scrub => "Scrub",
            DataTimer::Issue => "Issue",
            DataTimer::Retry(_) => "OpRetry",
            DataTimer::Deadline(_) => "OpDeadline",
        }
    }
}
