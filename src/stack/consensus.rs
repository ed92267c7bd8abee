//! ConsensusManager: Raft over the cluster-map log (DESIGN §3), as a sans-IO
//! component hosted by a manager process.
//!
//! **Responsibility.** Agree, among the managers `m1..mK`, on one sequence of
//! commands and apply it to a [`StateMachine`] (the cluster map) in the same
//! order everywhere: leader election with PreVote and CheckQuorum (Ongaro's
//! thesis §9.6), log replication with fast conflict backtracking, the commit
//! rule, persistence with fsync before answering, restart from disk, and log
//! compaction with snapshots (`InstallSnapshot` for followers left behind).
//!
//! **Inputs.** [`ConsensusManager::on_start`], [`on_message`](ConsensusManager::on_message),
//! [`on_timer`](ConsensusManager::on_timer) and [`propose`](ConsensusManager::propose),
//! each given the host process's [`Cx`] (local time, its random stream, its disk).
//! The host wraps [`RaftMsg`] and [`RaftTimer`] in its own enums (see [`RaftHost`]).
//!
//! **Outputs.** Messages and timers through `Cx`; writes and fsyncs to
//! `cx.disk()` under `raft/term`, `raft/vote`, `raft/log`, `raft/snapshot`;
//! trace events ([`StackEvent::Role`], `Vote`, `Append`, `Commit`,
//! `Snapshot`); and, for the host, the commands applied since it last asked
//! ([`take_applied`](ConsensusManager::take_applied)).
//!
//! **Invariants.** At most one leader per term; a committed entry is in the log
//! of every later leader; every manager applies the same command at the same
//! index. Anything a message claims (a vote, an append ack) is on disk and
//! fsynced before the message is sent. Memory is bounded: the in-memory log
//! holds at most `snapshot_every` applied entries plus `max_in_flight`
//! uncommitted ones (on a leader; a follower holds what leaders sent it).
//! Membership is fixed at construction. A wiped disk (`disk_loss`) is outside
//! Raft's model: the manager forgets its vote and log and may vote twice in a
//! term; the checkers will say so if that breaks an invariant.
//!
//! **Retries.** Lost messages are sent again (Raft §5.1, §5.3): a candidate
//! re-sends `RequestVote` every `heartbeat` to the peers that have not
//! answered, until its election ends (so a voter that was down, or whose
//! answer was lost, is asked again within the term); a leader's heartbeats
//! carry whatever a follower still lacks. While a follower's match point is
//! unknown (after an election, or after it rejected an append) the leader
//! *probes*: each `AppendEntries` carries one entry (Figure 2 leaves the
//! batch size open: "may send more than one for efficiency"), so a rejected
//! probe wastes one entry, not a batch; fast backtracking still skips a whole
//! term per round trip. Once a probe succeeds the follower gets up to
//! `max_entries_per_msg` per message.
//!
//! ```text
//!             election timeout                 pre-vote majority
//!  Follower ─────────────────────► PreCandidate ─────────────────► Candidate (term+1, vote self, fsync)
//!     ▲  ▲  (no term change, other voters             │                 │ vote majority
//!     │  │   refuse while they hear a leader)         │ timeout: retry  ▼
//!     │  └──────────── AppendEntries / higher term ◄──┴────────────── Leader ── appends a no-op,
//!     │                                                                 │       replicates, commits
//!     └──────── higher term, or CheckQuorum: no majority heard ◄────────┘       entries of its term
//!
//!  A candidate re-asks its silent voters every heartbeat; a leader probes a
//!  follower of unknown match point one entry at a time.
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::events::{Role, StackEvent};
use super::planted::{Bug, Planted};
use crate::sim::rng::uniform_u64;
use crate::sim::{Cx, Message, Process, ProcessId, SimDuration, SimTime, TimerId, TimerKind};

/// Disk key of the current term (JSON `u64`).
pub const TERM_KEY: &str = "raft/term";
/// Disk key of the vote in the current term (JSON `Option<u32>`, a process index).
pub const VOTE_KEY: &str = "raft/vote";
/// Disk log of entries: Raft index `i` is record `i - 1` (JSON [`LogEntry`]).
pub const LOG_KEY: &str = "raft/log";
/// Disk key of the latest snapshot (JSON `{index, term, state}`).
pub const SNAPSHOT_KEY: &str = "raft/snapshot";

/// Commands applied but not yet taken by the host, at most. The host takes
/// them after every input, so this bound is only reached by a host that
/// never looks; the oldest are then dropped (and counted).
pub const MAX_APPLIED_QUEUE: usize = 4096;

/// The replicated state machine (the cluster map implements it; tests use a tiny one).
pub trait StateMachine: Clone + Serialize + DeserializeOwned + 'static {
    /// A command of the log.
    type Command: Clone
        + fmt::Debug
        + PartialEq
        + fmt::Display
        + Serialize
        + DeserializeOwned
        + 'static;
    /// Applies a committed command. `index` is its log index.
    fn apply(&mut self, index: u64, cmd: &Self::Command);
}

/// A process that can host a [`ConsensusManager`] whose commands are `C`:
/// it traces [`StackEvent`]s and its message and timer enums wrap Raft's.
pub trait RaftHost<C>:
    Process<Event = StackEvent, Msg: From<RaftMsg<C>>, Timer: From<RaftTimer>>
{
}

impl<C, P> RaftHost<C> for P where
    P: Process<Event = StackEvent, Msg: From<RaftMsg<C>>, Timer: From<RaftTimer>>
{
}

/// What a log slot holds: a command, or the no-op a new leader appends so
/// that it can commit (entries of earlier terms commit only indirectly).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry<C> {
    /// Appended by a new leader; applies nothing.
    Noop,
    /// A command for the state machine.
    Command(C),
}

/// One log entry: the term it was created in and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry<C> {
    /// The leader's term when it appended the entry.
    pub term: u64,
    /// The payload.
    pub entry: Entry<C>,
}

impl<C: Serialize + fmt::Display> LogEntry<C> {
    /// The encoding stored on disk and hashed for the `Commit` digest.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self)
            .expect("a Raft log entry must serialize to JSON (map keys must be strings)")
    }

    /// 16 hex digits of xxh3 over [`encode`](Self::encode): what `log_matching` compares.
    pub fn digest(&self) -> String {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&self.encode()))
    }

    /// The entry as traced: the command's `Display`, or `"noop"`.
    pub fn describe(&self) -> String {
        match &self.entry {
            Entry::Noop => "noop".to_string(),
            Entry::Command(c) => c.to_string(),
        }
    }
}

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
    },
    /// A candidate asks for a vote in `term`.
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Index of its last log entry.
        last_log_index: u64,
        /// Term of its last log entry.
        last_log_term: u64,
    },
    /// Answer to [`RaftMsg::RequestVote`], sent after the vote is fsynced.
    RequestVoteResponse {
        /// The voter's term.
        term: u64,
        /// Whether the vote was given.
        granted: bool,
    },
    /// Replicates entries (none: a heartbeat) and carries the commit index.
    AppendEntries {
        /// The leader's term.
        term: u64,
        /// Index of the entry before `entries`.
        prev_log_index: u64,
        /// Its term.
        prev_log_term: u64,
        /// At most `max_entries_per_msg` entries.
        entries: Vec<LogEntry<C>>,
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
        /// The encoded snapshot (shared: the network may duplicate the message).
        data: Arc<[u8]>,
    },
    /// Answer to [`RaftMsg::InstallSnapshot`].
    InstallSnapshotResponse {
        /// The follower's term.
        term: u64,
        /// Highest index known to match the leader's log.
        match_index: u64,
    },
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
            | RaftMsg::InstallSnapshotResponse { term, .. } => *term,
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
    pub planted: Planted,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout: (SimDuration::from_millis(300), SimDuration::from_millis(600)),
            heartbeat: SimDuration::from_millis(50),
            snapshot_every: 256,
            max_entries_per_msg: 64,
            max_in_flight: 256,
            planted: Planted::NONE,
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

/// Why a proposal was refused. Not a failure of the manager: the host
/// redirects or retries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader accepts proposals; `leader` is the one this manager knows of.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// Where to redirect, if known.
        leader: Option<ProcessId>,
    },
    /// Too many entries are uncommitted (`max_in_flight`): try again later.
    #[error("{in_flight} entries are uncommitted, the limit is {limit}")]
    Busy {
        /// Uncommitted entries now.
        in_flight: u64,
        /// The configured bound.
        limit: u64,
    },
}

/// The leader's view of one peer.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Next index to send.
    next_index: u64,
    /// Highest index known replicated there.
    match_index: u64,
    /// An `AppendEntries` with entries is outstanding: wait for its answer
    /// (or the next heartbeat) before sending more. One batch in flight per
    /// peer bounds the traffic to a peer that is down.
    inflight: bool,
    /// When the last `InstallSnapshot` went out (they are resent at most once
    /// per minimum election timeout: they are big).
    snapshot_sent_at: Option<SimTime>,
    /// Heard from it since the last CheckQuorum.
    recent_active: bool,
    /// Its match point is unknown (new leader, or its last answer was a
    /// conflict): `AppendEntries` carry at most one entry until one succeeds.
    probing: bool,
}

#[derive(Serialize)]
struct SnapshotRef<'a, S> {
    index: u64,
    term: u64,
    state: &'a S,
}

#[derive(Deserialize)]
#[serde(bound = "S: DeserializeOwned")]
struct SnapshotOwned<S> {
    index: u64,
    term: u64,
    state: S,
}

/// One manager's Raft: persistent state (term, vote, log, snapshot), the
/// state machine, and the volatile leader/follower state.
///
/// Methods: getters ([`role`](Self::role), [`term`](Self::term), …); inputs
/// ([`on_start`](Self::on_start), [`on_message`](Self::on_message),
/// [`on_timer`](Self::on_timer)); the command [`propose`](Self::propose); and
/// the outputs the host polls ([`take_applied`](Self::take_applied),
/// [`take_snapshot_installed`](Self::take_snapshot_installed)).
pub struct ConsensusManager<S: StateMachine> {
    me: ProcessId,
    /// Every manager, including `me`, in a fixed order (vote and progress
    /// tables are indexed by position here).
    peers: Vec<ProcessId>,
    me_pos: usize,
    config: RaftConfig,

    // Persistent (mirrored on disk).
    term: u64,
    voted_for: Option<ProcessId>,
    /// Entries `snapshot_index + 1 ..= last_index()`.
    log: VecDeque<LogEntry<S::Command>>,
    snapshot_index: u64,
    snapshot_term: u64,
    snapshot_data: Option<Arc<[u8]>>,
    /// Planted `VoteBeforeFsync`: the vote is not on disk yet.
    vote_unsynced: bool,

    // Volatile.
    state: S,
    role: Role,
    leader: Option<ProcessId>,
    commit_index: u64,
    last_applied: u64,
    /// Local time of the last message from the current leader (the lease).
    last_leader_contact: Option<SimTime>,
    election_deadline: SimTime,
    /// The armed election timer and the local time it fires at.
    election_timer: Option<(TimerId, SimTime)>,
    heartbeat_timer: Option<TimerId>,
    quorum_timer: Option<TimerId>,
    /// A candidate's `RequestVote` retry.
    vote_retry_timer: Option<TimerId>,
    /// Votes (or pre-votes) of the current campaign, by peer position.
    votes: Vec<Option<bool>>,
    progress: Vec<Progress>,
    applied: VecDeque<(u64, S::Command)>,
    applied_dropped: u64,
    snapshot_installed: Option<u64>,
    /// The (role, term, leader) last traced, so `Role` events mark changes only.
    traced_role: Option<(Role, u64, Option<ProcessId>)>,
}

impl<S: StateMachine> ConsensusManager<S> {
    /// A manager `me` of the group `peers` (all managers, including `me`),
    /// starting from `initial` unless its disk holds a snapshot. Nothing
    /// happens until [`on_start`](Self::on_start).
    pub fn new(me: ProcessId, peers: Vec<ProcessId>, config: RaftConfig, initial: S) -> Self {
        let mut peers = peers;
        if !peers.contains(&me) {
            peers.push(me);
        }
        peers.sort();
        peers.dedup();
        let me_pos = peers
            .iter()
            .position(|&p| p == me)
            .expect("me was just added to peers");
        let n = peers.len();
        ConsensusManager {
            me,
            peers,
            me_pos,
            config,
            term: 0,
            voted_for: None,
            log: VecDeque::new(),
            snapshot_index: 0,
            snapshot_term: 0,
            snapshot_data: None,
            vote_unsynced: false,
            state: initial,
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            last_leader_contact: None,
            election_deadline: SimTime::ZERO,
            election_timer: None,
            heartbeat_timer: None,
            quorum_timer: None,
            vote_retry_timer: None,
            votes: vec![None; n],
            progress: vec![Progress::default(); n],
            applied: VecDeque::new(),
            applied_dropped: 0,
            snapshot_installed: None,
            traced_role: None,
        }
    }

    // ----- getters -----

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }
    /// The leader this manager knows of (itself when leading).
    pub fn leader(&self) -> Option<ProcessId> {
        self.leader
    }
    /// Whom it voted for in the current term.
    pub fn voted_for(&self) -> Option<ProcessId> {
        self.voted_for
    }
    /// The state machine, with every committed entry applied.
    pub fn state(&self) -> &S {
        &self.state
    }
    /// Highest index known committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }
    /// Highest index applied to the state machine.
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }
    /// Index of the last log entry.
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.log.len() as u64
    }
    /// Last index covered by the latest snapshot (entries up to it are compacted).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }
    /// Entries held in memory (bounded by compaction).
    pub fn log_len_in_memory(&self) -> usize {
        self.log.len()
    }
    /// Applied commands dropped because the host did not take them in time.
    pub fn applied_dropped(&self) -> u64 {
        self.applied_dropped
    }
    /// The group.
    pub fn peers(&self) -> &[ProcessId] {
        &self.peers
    }
    /// The configuration.
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    // ----- outputs the host polls -----

    /// Commands applied since the last call, oldest first (at most
    /// [`MAX_APPLIED_QUEUE`]; see [`applied_dropped`](Self::applied_dropped)).
    /// After a restart the log is applied again from the snapshot on: the
    /// host sees those commands again (its own state starts from
    /// [`state`](Self::state) as loaded).
    pub fn take_applied(&mut self) -> Vec<(u64, S::Command)> {
        self.applied.drain(..).collect()
    }

    /// If a leader's snapshot replaced the state machine wholesale since the
    /// last call, the index it covers (the host re-reads [`state`](Self::state)).
    pub fn take_snapshot_installed(&mut self) -> Option<u64> {
        self.snapshot_installed.take()
    }

    // ----- inputs -----

    /// (Re)starts: loads term, vote, snapshot and log from `cx.disk()`, then
    /// waits as a follower with an election timer armed.
    ///
    /// A torn or corrupt record at the log's tail was never fsynced (every
    /// append is fsynced before it is acknowledged): the log is truncated
    /// there. A corrupt term, vote or snapshot is a panic, since those are
    /// fsynced whenever written and cannot be torn.
    pub fn on_start<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.load(cx);
        self.role = Role::Follower;
        self.leader = None;
        self.trace_role(cx);
        self.reset_election_deadline(cx);
    }

    /// A Raft message from `from`.
    pub fn on_message<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: RaftMsg<S::Command>,
    ) {
        let Some(from_pos) = self.pos(from) else {
            return;
        };
        if from_pos == self.me_pos {
            return;
        }
        match msg {
            RaftMsg::PreVote {
                term,
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(cx, from, term, last_log_index, last_log_term),
            RaftMsg::PreVoteResponse { term, granted } => {
                self.handle_pre_vote_response(cx, from_pos, term, granted)
            }
            RaftMsg::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.handle_request_vote(cx, from, term, last_log_index, last_log_term),
            RaftMsg::RequestVoteResponse { term, granted } => {
                self.handle_vote_response(cx, from_pos, term, granted)
            }
            RaftMsg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.handle_append(
                cx,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            ),
            RaftMsg::AppendEntriesResponse { term, outcome } => {
                self.handle_append_response(cx, from_pos, term, outcome)
            }
            RaftMsg::InstallSnapshot {
                term,
                last_index,
                last_term,
                data,
            } => self.handle_install_snapshot(cx, from, term, last_index, last_term, data),
            RaftMsg::InstallSnapshotResponse { term, match_index } => {
                self.handle_snapshot_response(cx, from_pos, term, match_index)
            }
        }
    }

    /// A Raft timer fired.
    pub fn on_timer<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, timer: RaftTimer) {
        match timer {
            RaftTimer::Election => {
                self.election_timer = None;
                if self.role == Role::Leader {
                    return;
                }
                let now = cx.now();
                if now < self.election_deadline {
                    // The deadline moved on since the timer was armed (a
                    // heartbeat arrived): wait for the rest.
                    self.arm_election(cx, self.election_deadline);
                } else {
                    self.campaign_pre(cx);
                }
            }
            RaftTimer::Heartbeat => {
                self.heartbeat_timer = None;
                if self.role != Role::Leader {
                    return;
                }
                for pos in 0..self.peers.len() {
                    if pos != self.me_pos {
                        self.send_append(cx, pos);
                    }
                }
                self.heartbeat_timer =
                    Some(cx.set_timer(self.config.heartbeat, RaftTimer::Heartbeat.into()));
            }
            RaftTimer::CheckQuorum => {
                self.quorum_timer = None;
                if self.role != Role::Leader {
                    return;
                }
                let me = self.me_pos;
                let active = self
                    .progress
                    .iter()
                    .enumerate()
                    .filter(|(i, p)| *i == me || p.recent_active)
                    .count();
                for p in &mut self.progress {
                    p.recent_active = false;
                }
                if active < self.quorum() {
                    // Cut off from a majority: a new leader may be elected on
                    // the other side. Stop taking proposals that cannot commit.
                    self.become_follower(cx, self.term, None);
                } else {
                    self.quorum_timer = Some(cx.set_timer(
                        self.config.election_timeout.0,
                        RaftTimer::CheckQuorum.into(),
                    ));
                }
            }
            RaftTimer::VoteRetry => {
                self.vote_retry_timer = None;
                if self.role != Role::Candidate {
                    return;
                }
                // A request or its answer may have been lost (dropped, or
                // addressed to a voter that crashed meanwhile): ask again,
                // in this term only — the election timeout bounds the retries.
                self.request_votes(cx);
                self.vote_retry_timer =
                    Some(cx.set_timer(self.config.heartbeat, RaftTimer::VoteRetry.into()));
            }
        }
    }

    /// Appends `cmd` to the log, if this manager leads; returns its index.
    /// The command is applied (and `take_applied` returns it) once committed —
    /// or never, if leadership is lost first.
    pub fn propose<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        cmd: S::Command,
    ) -> Result<u64, ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        let in_flight = self.last_index() - self.commit_index;
        if in_flight >= self.config.max_in_flight {
            return Err(ProposeError::Busy {
                in_flight,
                limit: self.config.max_in_flight,
            });
        }
        let index = self.append_as_leader(cx, Entry::Command(cmd));
        for pos in 0..self.peers.len() {
            if pos != self.me_pos && !self.progress[pos].inflight {
                self.send_append(cx, pos);
            }
        }
        self.maybe_commit(cx);
        Ok(index)
    }

    // ----- persistence -----

    fn load<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let who = cx.name(self.me).to_string();
        let disk = cx.disk();
        self.term = match disk.get(TERM_KEY) {
            Ok(None) => 0,
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {TERM_KEY} holds no term ({e}); it is fsynced whenever written")
            }),
            Err(e) => {
                panic!("{who}: {e}: {TERM_KEY} is fsynced whenever written and cannot be torn")
            }
        };
        let vote: Option<u32> = match disk.get(VOTE_KEY) {
            Ok(None) => None,
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {VOTE_KEY} holds no vote ({e}); it is fsynced whenever written")
            }),
            Err(e) => {
                panic!("{who}: {e}: {VOTE_KEY} is fsynced whenever written and cannot be torn")
            }
        };
        self.voted_for = vote.map(ProcessId);
        match disk.get(SNAPSHOT_KEY) {
            Ok(None) => {}
            Ok(Some(b)) => {
                let snap: SnapshotOwned<S> = serde_json::from_slice(b).unwrap_or_else(|e| {
                    panic!("{who}: {SNAPSHOT_KEY} does not decode ({e}); it is fsynced whenever written")
                });
                self.snapshot_data = Some(Arc::from(b));
                self.snapshot_index = snap.index;
                self.snapshot_term = snap.term;
                self.state = snap.state;
            }
            Err(e) => {
                panic!("{who}: {e}: {SNAPSHOT_KEY} is fsynced whenever written and cannot be torn")
            }
        }
        let (start, end) = (disk.log_start(LOG_KEY), disk.log_end(LOG_KEY));
        // Disk record `i` is Raft index `i + 1`; compaction up to the
        // snapshot and the snapshot itself are fsynced together.
        assert!(
            start <= self.snapshot_index,
            "{who}: the log starts after index {start} but the snapshot covers only up to {}",
            self.snapshot_index
        );
        self.log.clear();
        for i in self.snapshot_index..end {
            match disk.entry(LOG_KEY, i) {
                Ok(Some(b)) => {
                    let e: LogEntry<S::Command> = serde_json::from_slice(b).unwrap_or_else(|e| {
                        panic!("{who}: {LOG_KEY}[{i}] passed its checksum but does not decode: {e}")
                    });
                    self.log.push_back(e);
                }
                Ok(None) => break,
                Err(_) => {
                    // A torn tail: never fsynced, so never acknowledged.
                    disk.truncate(LOG_KEY, i);
                    disk.fsync();
                    break;
                }
            }
        }
        self.commit_index = self.snapshot_index;
        self.last_applied = self.snapshot_index;
    }

    /// Makes every buffered write durable (and, under the planted
    /// `VoteBeforeFsync`, writes the vote that was held back).
    fn sync<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.vote_unsynced {
            self.vote_unsynced = false;
            let vote = serde_json::to_vec(&self.voted_for.map(|p| p.0)).expect("a vote serializes");
            cx.disk().put(VOTE_KEY, vote);
        }
        cx.disk().fsync();
    }

    /// Writes term and vote and fsyncs them.
    fn persist_hard_state<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let term = serde_json::to_vec(&self.term).expect("a term serializes");
        let vote = serde_json::to_vec(&self.voted_for.map(|p| p.0)).expect("a vote serializes");
        self.vote_unsynced = false;
        let disk = cx.disk();
        disk.put(TERM_KEY, term);
        disk.put(VOTE_KEY, vote);
        self.sync(cx);
    }

    // ----- log helpers -----

    fn last_term(&self) -> u64 {
        self.log.back().map_or(self.snapshot_term, |e| e.term)
    }

    /// Term of the entry at `index`: `None` if compacted away (below the
    /// snapshot) or past the end.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            Some(self.snapshot_term)
        } else {
            self.entry_at(index).map(|e| e.term)
        }
    }

    fn entry_at(&self, index: u64) -> Option<&LogEntry<S::Command>> {
        if index <= self.snapshot_index {
            return None;
        }
        self.log.get((index - self.snapshot_index - 1) as usize)
    }

    /// Is a candidate's log (`last_index`, `last_term`) at least as up to date as ours?
    fn log_ok(&self, last_index: u64, last_term: u64) -> bool {
        if self.config.planted.has(Bug::VoteWithoutLogCheck) {
            return true;
        }
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Drops entries at `index` and after, in memory and on disk (unsynced).
    fn truncate_from<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, index: u64) {
        let keep = index.saturating_sub(self.snapshot_index + 1) as usize;
        self.log.truncate(keep);
        cx.disk().truncate(LOG_KEY, index - 1);
    }

    /// Appends one entry in memory and on disk (unsynced).
    fn push_entry<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, e: LogEntry<S::Command>) {
        cx.disk().append(LOG_KEY, e.encode());
        self.log.push_back(e);
    }

    /// A leader appends a new entry, fsyncs it and traces `Append`.
    fn append_as_leader<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        entry: Entry<S::Command>,
    ) -> u64 {
        let e = LogEntry {
            term: self.term,
            entry,
        };
        let traced = cx.tracing().then(|| e.describe());
        self.push_entry(cx, e);
        self.sync(cx);
        let index = self.last_index();
        self.progress[self.me_pos].match_index = index;
        self.progress[self.me_pos].next_index = index + 1;
        if let Some(entry) = traced {
            cx.trace(StackEvent::Append {
                index,
                term: self.term,
                entry,
            });
        }
        index
    }

    // ----- roles -----

    fn pos(&self, p: ProcessId) -> Option<usize> {
        self.peers.iter().position(|&q| q == p)
    }

    fn quorum(&self) -> usize {
        self.peers.len() / 2 + 1
    }

    fn send<P: RaftHost<S::Command>>(
        &self,
        cx: &mut Cx<'_, P>,
        to: ProcessId,
        msg: RaftMsg<S::Command>,
    ) {
        cx.send(to, msg.into());
    }

    fn trace_role<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let now = (self.role, self.term, self.leader);
        if self.traced_role == Some(now) {
            return;
        }
        self.traced_role = Some(now);
        let leader = self.leader.map(|p| cx.name(p).to_string());
        cx.trace(StackEvent::Role {
            role: self.role,
            term: self.term,
            leader,
        });
    }

    /// Picks a new random election deadline and makes sure a timer fires by then.
    fn reset_election_deadline<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let (min, max) = self.config.election_timeout;
        let wait = uniform_u64(cx.rng(), min.0, max.0);
        self.election_deadline = cx.now() + SimDuration(wait);
        match self.election_timer {
            // It fires early and re-arms for the rest: one timer per timeout,
            // not one per heartbeat.
            Some((_, at)) if at <= self.election_deadline => {}
            Some((id, _)) => {
                cx.cancel_timer(id);
                self.arm_election(cx, self.election_deadline);
            }
            None => self.arm_election(cx, self.election_deadline),
        }
    }

    fn arm_election<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, at: SimTime) {
        let after = at.saturating_since(cx.now());
        let id = cx.set_timer(after, RaftTimer::Election.into());
        self.election_timer = Some((id, at));
    }

    /// Cancels the timers of a leader (heartbeat, CheckQuorum) and of a
    /// candidate (vote retry): called whenever the role changes.
    fn stop_role_timers<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        for id in [
            self.heartbeat_timer.take(),
            self.quorum_timer.take(),
            self.vote_retry_timer.take(),
        ]
        .into_iter()
        .flatten()
        {
            cx.cancel_timer(id);
        }
    }

    /// Becomes a follower of `term` (persisting it if it is new) under `leader`.
    fn become_follower<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        term: u64,
        leader: Option<ProcessId>,
    ) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state(cx);
        }
        self.stop_role_timers(cx);
        self.role = Role::Follower;
        self.leader = leader;
        if leader.is_some() {
            self.last_leader_contact = Some(cx.now());
        }
        self.reset_election_deadline(cx);
        self.trace_role(cx);
    }

    /// Election timeout: ask for pre-votes for `term + 1` without raising the term.
    fn campaign_pre<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.stop_role_timers(cx);
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.iter_mut().for_each(|v| *v = None);
        self.votes[self.me_pos] = Some(true);
        self.reset_election_deadline(cx);
        self.trace_role(cx);
        let msg = RaftMsg::PreVote {
            term: self.term + 1,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
        };
        for pos in 0..self.peers.len() {
            if pos != self.me_pos {
                self.send(cx, self.peers[pos], msg.clone());
            }
        }
        self.tally(cx);
    }

    /// A pre-vote majority: raise the term, vote for itself (fsynced), ask for votes.
    fn become_candidate<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.stop_role_timers(cx);
        self.term += 1;
        self.voted_for = Some(self.me);
        self.persist_hard_state(cx);
        self.role = Role::Candidate;
        self.leader = None;
        self.votes.iter_mut().for_each(|v| *v = None);
        self.votes[self.me_pos] = Some(true);
        self.reset_election_deadline(cx);
        self.trace_role(cx);
        self.request_votes(cx);
        self.vote_retry_timer =
            Some(cx.set_timer(self.config.heartbeat, RaftTimer::VoteRetry.into()));
        self.tally(cx);
    }

    /// Sends `RequestVote` for the current term to every peer that has not
    /// answered it yet (all of them, at the start of a campaign).
    fn request_votes<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let msg = RaftMsg::RequestVote {
            term: self.term,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
        };
        for pos in 0..self.peers.len() {
            if pos != self.me_pos && self.votes[pos].is_none() {
                self.send(cx, self.peers[pos], msg.clone());
            }
        }
    }

    /// Counts the current campaign's answers.
    fn tally<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let granted = self.votes.iter().filter(|v| **v == Some(true)).count();
        let refused = self.votes.iter().filter(|v| **v == Some(false)).count();
        let q = self.quorum();
        match self.role {
            Role::PreCandidate if granted >= q => self.become_candidate(cx),
            Role::Candidate if granted >= q => self.become_leader(cx),
            // Lost this election: wait for the next timeout as a follower.
            Role::Candidate if refused >= q => self.become_follower(cx, self.term, None),
            // A refused pre-candidate stays one (its term unchanged): the
            // voters hear a live leader, whose heartbeat will make it follow.
            _ => {}
        }
    }

    fn become_leader<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let next = self.last_index() + 1;
        for p in &mut self.progress {
            *p = Progress {
                next_index: next,
                probing: true,
                ..Progress::default()
            };
        }
        self.trace_role(cx);
        // The no-op: entries of earlier terms commit only when an entry of
        // this term does (Raft §5.4.2), so a leader commits one at once.
        self.append_as_leader(cx, Entry::Noop);
        self.stop_role_timers(cx);
        self.heartbeat_timer =
            Some(cx.set_timer(self.config.heartbeat, RaftTimer::Heartbeat.into()));
        self.quorum_timer = Some(cx.set_timer(
            self.config.election_timeout.0,
            RaftTimer::CheckQuorum.into(),
        ));
        for pos in 0..self.peers.len() {
            if pos != self.me_pos {
                self.send_append(cx, pos);
            }
        }
        self.maybe_commit(cx);
    }

    /// A voter's or a leader's lease: it heard from a live leader within the
    /// minimum election timeout (or leads), so it refuses to help elect another.
    fn in_lease(&self, now: SimTime) -> bool {
        self.role == Role::Leader
            || (self.leader.is_some()
                && self
                    .last_leader_contact
                    .is_some_and(|t| now < t + self.config.election_timeout.0))
    }

    /// Planted `IgnoreHigherTerm`: a leader that hears of a higher term keeps
    /// leading — it counts the sender as alive and drops the message.
    fn ignores_higher_term(&mut self, from_pos: usize, term: u64) -> bool {
        if term > self.term
            && self.role == Role::Leader
            && self.config.planted.has(Bug::IgnoreHigherTerm)
        {
            self.progress[from_pos].recent_active = true;
            return true;
        }
        false
    }

    // ----- elections -----

    fn handle_pre_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        lli: u64,
        llt: u64,
    ) {
        // No state changes here: a pre-vote binds nothing.
        let granted = term > self.term && !self.in_lease(cx.now()) && self.log_ok(lli, llt);
        if cx.tracing() {
            let candidate = cx.name(from).to_string();
            cx.trace(StackEvent::Vote {
                term,
                candidate,
                granted,
                pre: true,
            });
        }
        let term = if granted { term } else { self.term };
        self.send(cx, from, RaftMsg::PreVoteResponse { term, granted });
    }

    fn handle_pre_vote_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        granted: bool,
    ) {
        if !granted && term > self.term {
            if self.ignores_higher_term(from_pos, term) {
                return;
            }
            // Someone is further on: catch up, so that the next pre-vote asks
            // for a term the voters can grant.
            self.become_follower(cx, term, None);
            return;
        }
        if self.role != Role::PreCandidate || (granted && term != self.term + 1) {
            return;
        }
        self.votes[from_pos] = Some(granted);
        self.tally(cx);
    }

    fn handle_request_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        lli: u64,
        llt: u64,
    ) {
        let from_pos = self.pos(from).expect("checked by on_message");
        if term > self.term {
            if self.in_lease(cx.now()) {
                // A live leader exists: a candidate it does not know of must
                // not depose it (and this voter keeps its term).
                self.answer_vote(cx, from, false);
                return;
            }
            if self.ignores_higher_term(from_pos, term) {
                return;
            }
            self.become_follower(cx, term, None);
        }
        let granted = term == self.term
            && (self.voted_for.is_none() || self.voted_for == Some(from))
            && self.log_ok(lli, llt);
        if granted {
            self.voted_for = Some(from);
            if self.config.planted.has(Bug::VoteBeforeFsync) {
                // The bug: the vote reaches the disk only with the next fsync.
                self.vote_unsynced = true;
            } else {
                self.persist_hard_state(cx);
            }
            self.reset_election_deadline(cx);
        }
        self.answer_vote(cx, from, granted);
    }

    fn answer_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        granted: bool,
    ) {
        if cx.tracing() {
            let candidate = cx.name(from).to_string();
            cx.trace(StackEvent::Vote {
                term: self.term,
                candidate,
                granted,
                pre: false,
            });
        }
        self.send(
            cx,
            from,
            RaftMsg::RequestVoteResponse {
                term: self.term,
                granted,
            },
        );
    }

    fn handle_vote_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        granted: bool,
    ) {
        if term > self.term {
            if self.ignores_higher_term(from_pos, term) {
                return;
            }
            self.become_follower(cx, term, None);
            return;
        }
        if self.role != Role::Candidate || term != self.term {
            return;
        }
        self.votes[from_pos] = Some(granted);
        self.tally(cx);
    }

    // ----- replication: follower side -----

    #[allow(clippy::too_many_arguments)]
    fn handle_append<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        mut entries: Vec<LogEntry<S::Command>>,
        leader_commit: u64,
    ) {
        let from_pos = self.pos(from).expect("checked by on_message");
        if term < self.term {
            // A deposed leader: our term tells it to step down.
            let outcome = AppendOutcome::Conflict {
                rejected_prev: prev_index,
                conflict_term: None,
                conflict_index: 0,
            };
            self.send(
                cx,
                from,
                RaftMsg::AppendEntriesResponse {
                    term: self.term,
                    outcome,
                },
            );
            return;
        }
        if self.ignores_higher_term(from_pos, term) {
            return;
        }
        if term == self.term && self.role == Role::Leader {
            // Two leaders in one term: only a planted bug gets here; the
            // checkers report it. Keep going as if nothing was heard.
            return;
        }
        if term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(cx, term, Some(from));
        }
        self.last_leader_contact = Some(cx.now());
        self.reset_election_deadline(cx);

        let rejected_prev = prev_index;
        let (mut prev_index, mut prev_term) = (prev_index, prev_term);
        if prev_index < self.snapshot_index {
            // Entries up to our snapshot are committed, hence match: skip them.
            let skip = (self.snapshot_index - prev_index) as usize;
            if skip >= entries.len() {
                let match_index = self.snapshot_index;
                let outcome = AppendOutcome::Success { match_index };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
                return;
            }
            entries.drain(..skip);
            prev_index = self.snapshot_index;
            prev_term = self.snapshot_term;
        }
        match self.term_at(prev_index) {
            None => {
                let outcome = AppendOutcome::Conflict {
                    rejected_prev,
                    conflict_term: None,
                    conflict_index: self.last_index() + 1,
                };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
            Some(t) if t != prev_term => {
                let mut first = prev_index;
                while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(t) {
                    first -= 1;
                }
                let outcome = AppendOutcome::Conflict {
                    rejected_prev,
                    conflict_term: Some(t),
                    conflict_index: first,
                };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
            Some(_) => {
                let count = entries.len() as u64;
                let mut written = false;
                for (k, e) in entries.into_iter().enumerate() {
                    let index = prev_index + 1 + k as u64;
                    if index <= self.last_index() {
                        if self.term_at(index) == Some(e.term) {
                            continue;
                        }
                        // Log Matching: everything from the first conflict on
                        // is replaced by the leader's entries.
                        self.truncate_from(cx, index);
                    }
                    self.push_entry(cx, e);
                    written = true;
                }
                if written {
                    self.sync(cx);
                }
                let match_index = prev_index + count;
                let commit = leader_commit.min(match_index);
                if commit > self.commit_index {
                    self.commit_index = commit;
                    self.apply(cx);
                }
                let outcome = AppendOutcome::Success { match_index };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
        }
    }

    fn handle_install_snapshot<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        last_index: u64,
        last_term: u64,
        data: Arc<[u8]>,
    ) {
        let from_pos = self.pos(from).expect("checked by on_message");
        if term < self.term {
            self.send(
                cx,
                from,
                RaftMsg::InstallSnapshotResponse {
                    term: self.term,
                    match_index: 0,
                },
            );
            return;
        }
        if self.ignores_higher_term(from_pos, term)
            || (term == self.term && self.role == Role::Leader)
        {
            return;
        }
        if term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(cx, term, Some(from));
        }
        self.last_leader_contact = Some(cx.now());
        self.reset_election_deadline(cx);
        if last_index <= self.commit_index {
            // Nothing new: our committed prefix already matches the leader's.
            let match_index = self.commit_index;
            self.send(
                cx,
                from,
                RaftMsg::InstallSnapshotResponse {
                    term: self.term,
                    match_index,
                },
            );
            return;
        }
        let who = cx.name(self.me).to_string();
        let snap: SnapshotOwned<S> = serde_json::from_slice(&data)
            .unwrap_or_else(|e| panic!("{who}: a leader's snapshot does not decode: {e}"));
        if self.term_at(last_index) == Some(last_term) {
            // Our log goes on past the snapshot and agrees with it: keep the rest.
            let drop = (last_index - self.snapshot_index) as usize;
            self.log.drain(..drop);
        } else {
            self.log.clear();
        }
        self.state = snap.state;
        self.snapshot_index = last_index;
        self.snapshot_term = last_term;
        self.commit_index = last_index;
        self.last_applied = last_index;
        let disk = cx.disk();
        disk.put(SNAPSHOT_KEY, data.to_vec());
        disk.compact(LOG_KEY, last_index);
        if self.log.is_empty() {
            disk.truncate(LOG_KEY, last_index);
        }
        self.sync(cx);
        self.snapshot_data = Some(data.clone());
        self.snapshot_installed = Some(last_index);
        cx.trace(StackEvent::Snapshot {
            index: last_index,
            term: last_term,
            bytes: data.len() as u64,
            installed: true,
        });
        self.send(
            cx,
            from,
            RaftMsg::InstallSnapshotResponse {
                term: self.term,
                match_index: last_index,
            },
        );
    }

    // ----- replication: leader side -----

    /// Sends the peer at `pos` what it lacks from its `next_index` on (none: a
    /// heartbeat), or the snapshot if those entries are compacted away.
    fn send_append<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, pos: usize) {
        let to = self.peers[pos];
        let next = self.progress[pos]
            .next_index
            .clamp(1, self.last_index() + 1);
        if next <= self.snapshot_index {
            let now = cx.now();
            let resend_after = self.config.election_timeout.0;
            let due = self.progress[pos]
                .snapshot_sent_at
                .is_none_or(|t| now >= t + resend_after);
            if let (true, Some(data)) = (due, self.snapshot_data.clone()) {
                self.progress[pos].snapshot_sent_at = Some(now);
                let msg = RaftMsg::InstallSnapshot {
                    term: self.term,
                    last_index: self.snapshot_index,
                    last_term: self.snapshot_term,
                    data,
                };
                self.send(cx, to, msg);
            }
            return;
        }
        let prev_log_index = next - 1;
        let Some(prev_log_term) = self.term_at(prev_log_index) else {
            unreachable!(
                "prev {prev_log_index} is clamped to [snapshot, last] = [{}, {}]",
                self.snapshot_index,
                self.last_index()
            )
        };
        // A probe carries one entry: if it is rejected, little was sent in
        // vain; once the follower's log is known to match, entries go in
        // full batches. (Batching is an optimisation the paper leaves open.)
        let batch = if self.progress[pos].probing {
            1
        } else {
            self.config.max_entries_per_msg as u64
        };
        let end = self.last_index().min(prev_log_index + batch);
        let entries: Vec<_> = (next..=end)
            .filter_map(|i| self.entry_at(i).cloned())
            .collect();
        self.progress[pos].inflight = !entries.is_empty();
        let msg = RaftMsg::AppendEntries {
            term: self.term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(cx, to, msg);
    }

    fn handle_append_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        outcome: AppendOutcome,
    ) {
        if term > self.term {
            if self.ignores_higher_term(from_pos, term) {
                return;
            }
            self.become_follower(cx, term, None);
            return;
        }
        if self.role != Role::Leader || term != self.term {
            return;
        }
        self.progress[from_pos].recent_active = true;
        match outcome {
            AppendOutcome::Success { match_index } => {
                let pr = &mut self.progress[from_pos];
                pr.inflight = false;
                pr.probing = false;
                pr.match_index = pr.match_index.max(match_index);
                pr.next_index = pr.next_index.max(pr.match_index + 1);
                self.maybe_commit(cx);
                if self.role == Role::Leader
                    && self.progress[from_pos].next_index <= self.last_index()
                {
                    self.send_append(cx, from_pos);
                }
            }
            AppendOutcome::Conflict {
                rejected_prev,
                conflict_term,
                conflict_index,
            } => {
                if rejected_prev + 1 != self.progress[from_pos].next_index {
                    return; // stale: answers a request sent before we moved on
                }
                let mut next = conflict_index;
                if let Some(ct) = conflict_term {
                    // Skip the follower's whole conflicting term at once, or
                    // jump just past our own last entry of that term.
                    if let Some(i) = self.last_index_of_term(ct) {
                        next = i + 1;
                    }
                }
                let pr = &mut self.progress[from_pos];
                pr.next_index = next.min(pr.next_index - 1).max(1);
                // Below what it acknowledged: it lost acknowledged entries
                // (its disk was wiped). Start over from what it has now.
                pr.match_index = pr.match_index.min(pr.next_index - 1);
                pr.inflight = false;
                pr.probing = true;
                self.send_append(cx, from_pos);
            }
        }
    }

    /// Index of our last entry of `term`, if we hold one.
    fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let mut i = self.last_index();
        while i > self.snapshot_index {
            let t = self.term_at(i)?;
            if t == term {
                return Some(i);
            }
            if t < term {
                return None; // terms only grow along the log
            }
            i -= 1;
        }
        None
    }

    fn handle_snapshot_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        match_index: u64,
    ) {
        if term > self.term {
            if self.ignores_higher_term(from_pos, term) {
                return;
            }
            self.become_follower(cx, term, None);
            return;
        }
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let pr = &mut self.progress[from_pos];
        pr.recent_active = true;
        pr.snapshot_sent_at = None;
        pr.inflight = false;
        pr.probing = false;
        pr.match_index = pr.match_index.max(match_index);
        pr.next_index = pr.match_index + 1;
        self.maybe_commit(cx);
        if self.role == Role::Leader && self.progress[from_pos].next_index <= self.last_index() {
            self.send_append(cx, from_pos);
        }
    }

    /// The commit rule: the highest index held by a majority, if its entry is
    /// of the current term (earlier terms' entries commit with it).
    fn maybe_commit<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.role != Role::Leader {
            return;
        }
        let mut matches: Vec<u64> = self.progress.iter().map(|p| p.match_index).collect();
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let n = matches[self.quorum() - 1];
        if n <= self.commit_index {
            return;
        }
        // The planted Figure 8 bug: commit by counting whatever the term.
        if self.term_at(n) == Some(self.term)
            || self.config.planted.has(Bug::CommitOldTermByCounting)
        {
            self.commit_index = n;
            self.apply(cx);
        }
    }

    // ----- applying and compaction -----

    fn apply<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let upto = self.commit_index.min(self.last_index());
        while self.last_applied < upto {
            let index = self.last_applied + 1;
            let e = self
                .entry_at(index)
                .expect("entries past the snapshot are in memory")
                .clone();
            if let Entry::Command(c) = &e.entry {
                self.state.apply(index, c);
                if self.applied.len() >= MAX_APPLIED_QUEUE {
                    self.applied.pop_front();
                    self.applied_dropped += 1;
                }
                self.applied.push_back((index, c.clone()));
            }
            self.last_applied = index;
            if cx.tracing() {
                let (entry, digest) = (e.describe(), e.digest());
                cx.trace(StackEvent::Commit {
                    index,
                    term: e.term,
                    entry,
                    digest,
                });
            }
        }
        self.maybe_snapshot(cx);
    }

    /// Snapshots the state machine after `snapshot_every` applied entries and
    /// compacts the log up to it, in memory and on disk.
    fn maybe_snapshot<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.last_applied - self.snapshot_index < self.config.snapshot_every {
            return;
        }
        let index = self.last_applied;
        // Only a planted bug (a committed entry truncated away) leaves the
        // applied index past the log; the checkers report that, not a panic.
        let Some(term) = self.term_at(index) else {
            return;
        };
        let bytes = serde_json::to_vec(&SnapshotRef {
            index,
            term,
            state: &self.state,
        })
        .expect("the state machine must serialize to JSON (map keys must be strings)");
        let len = bytes.len() as u64;
        let disk = cx.disk();
        disk.put(SNAPSHOT_KEY, bytes.clone());
        disk.compact(LOG_KEY, index);
        self.sync(cx);
        self.log.drain(..(index - self.snapshot_index) as usize);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_data = Some(Arc::from(bytes));
        cx.trace(StackEvent::Snapshot {
            index,
            term,
            bytes: len,
            installed: false,
        });
    }
}

impl<S: StateMachine + fmt::Debug> fmt::Debug for ConsensusManager<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsensusManager")
            .field("me", &self.me)
            .field("role", &self.role)
            .field("term", &self.term)
            .field("leader", &self.leader)
            .field("voted_for", &self.voted_for)
            .field("snapshot_index", &self.snapshot_index)
            .field("last_index", &self.last_index())
            .field("commit_index", &self.commit_index)
            .field("last_applied", &self.last_applied)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::check::Pipeline;
    use crate::check::raft::raft_checkers;
    use crate::sim::rng::{self, ChaCha8Rng, RngExt};
    use crate::sim::{Clock, NetConfig, Status, World};

    /// A tiny state machine: how many commands, a hash chain over them, the last one.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub(super) struct TestSm {
        count: u64,
        chain: u64,
        last: u64,
    }

    impl StateMachine for TestSm {
        type Command = u64;
        fn apply(&mut self, index: u64, cmd: &u64) {
            let mut bytes = self.chain.to_le_bytes().to_vec();
            bytes.extend_from_slice(&index.to_le_bytes());
            bytes.extend_from_slice(&cmd.to_le_bytes());
            self.chain = xxhash_rust::xxh3::xxh3_64(&bytes);
            self.count += 1;
            self.last = *cmd;
        }
    }

    #[derive(Copy, Clone, Debug)]
    pub(super) enum TTimer {
        Raft(RaftTimer),
        Propose,
        /// Writes an unsynced junk record (to be torn by a crash).
        Junk(&'static str),
    }
    impl From<RaftTimer> for TTimer {
        fn from(t: RaftTimer) -> Self {
            TTimer::Raft(t)
        }
    }
    impl TimerKind for TTimer {
        fn name(&self) -> &'static str {
            match self {
                TTimer::Raft(t) => t.name(),
                TTimer::Propose => "Propose",
                TTimer::Junk(_) => "Junk",
            }
        }
    }

    /// What every node of a test cluster does besides Raft.
    #[derive(Clone, Debug)]
    pub(super) struct Workload {
        /// The leader proposes a unique number this often…
        propose_every: Option<SimDuration>,
        /// …until then (local time).
        propose_until: SimTime,
        /// Followers propose too (and are refused).
        everywhere: bool,
        /// Writes an unsynced junk record under this key (`raft/log` appends) after this long.
        junk: Option<(SimDuration, &'static str)>,
    }

    pub(super) struct Node {
        raft: ConsensusManager<TestSm>,
        work: Workload,
        /// Snapshots installed from a leader since this incarnation started.
        installed: u64,
        /// The last refused proposal.
        refused: Option<ProposeError>,
    }

    impl Process for Node {
        type Msg = RaftMsg<u64>;
        type Timer = TTimer;
        type Event = StackEvent;

        fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
            self.raft.on_start(cx);
            if let Some(d) = self.work.propose_every {
                cx.set_timer(d, TTimer::Propose);
            }
            if let Some((d, key)) = self.work.junk {
                cx.set_timer(d, TTimer::Junk(key));
            }
        }

        fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: RaftMsg<u64>) {
            self.raft.on_message(cx, from, msg);
            self.poll();
        }

        fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: TTimer) {
            match timer {
                TTimer::Raft(t) => self.raft.on_timer(cx, t),
                TTimer::Propose => {
                    let now = cx.now();
                    if now < self.work.propose_until {
                        if self.work.everywhere || self.raft.role() == Role::Leader {
                            // Unique per (time, node): a replayed command is recognisable.
                            let v = now.0 * 8 + u64::from(cx.me().0);
                            if let Err(e) = self.raft.propose(cx, v) {
                                self.refused = Some(e);
                            }
                        }
                        let every = self
                            .work
                            .propose_every
                            .expect("armed only with an interval");
                        cx.set_timer(every, TTimer::Propose);
                    }
                }
                TTimer::Junk(key) => {
                    if key == LOG_KEY {
                        cx.disk()
                            .append(LOG_KEY, b"{\"term\":99,\"entry\":\"Noop\"}".to_vec());
                    } else {
                        cx.disk().put(key, b"12345678".to_vec());
                    }
                }
            }
            self.poll();
        }
    }

    impl Node {
        fn poll(&mut self) {
            self.raft.take_applied();
            if self.raft.take_snapshot_installed().is_some() {
                self.installed += 1;
            }
        }
    }

    pub(super) fn cfg() -> RaftConfig {
        RaftConfig {
            election_timeout: (SimDuration::from_millis(150), SimDuration::from_millis(300)),
            heartbeat: SimDuration::from_millis(30),
            snapshot_every: 64,
            max_entries_per_msg: 16,
            max_in_flight: 64,
            planted: Planted::NONE,
        }
    }

    pub(super) fn idle() -> Workload {
        Workload {
            propose_every: None,
            propose_until: SimTime::ZERO,
            everywhere: false,
            junk: None,
        }
    }

    pub(super) fn proposing(every_ms: u64, until_ms: u64) -> Workload {
        Workload {
            propose_every: Some(SimDuration::from_millis(every_ms)),
            propose_until: SimTime(until_ms * 1000),
            everywhere: false,
            junk: None,
        }
    }

    /// A cluster of `n` Raft nodes `m1..mn` in a world checked by the Raft checkers.
    pub(super) struct Harness {
        pub(super) world: World<Node>,
        pub(super) ids: Vec<ProcessId>,
    }

    impl Harness {
        pub(super) fn new(
            n: usize,
            seed: u64,
            config: RaftConfig,
            work: Workload,
            net: NetConfig,
        ) -> Self {
            let names: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
            let ids: Vec<ProcessId> = (0..n as u32).map(ProcessId).collect();
            let peers = ids.clone();
            let factory = Box::new(move |me: ProcessId, _: &str| Node {
                raft: ConsensusManager::new(me, peers.clone(), config.clone(), TestSm::default()),
                work: work.clone(),
                installed: 0,
                refused: None,
            });
            let mut world = World::new(seed, names, net, factory);
            world.set_observer(Box::new(Pipeline::new(raft_checkers(), None)));
            for &p in &ids {
                world.start(p);
            }
            Harness { world, ids }
        }

        pub(super) fn simple(n: usize, seed: u64, work: Workload) -> Self {
            Harness::new(n, seed, cfg(), work, NetConfig::default())
        }

        pub(super) fn run_ms(&mut self, ms: u64) {
            let until = self.world.now() + SimDuration::from_millis(ms);
            self.world.run_until(until);
        }

        pub(super) fn raft(&self, p: ProcessId) -> &ConsensusManager<TestSm> {
            &self.world.process(p).expect("the process is up").raft
        }

        pub(super) fn try_raft(&self, p: ProcessId) -> Option<&ConsensusManager<TestSm>> {
            self.world.process(p).map(|n| &n.raft)
        }

        /// Runs in 100 µs steps until `cond` holds (at most `max_ms`); false if it never did.
        pub(super) fn step_until(&mut self, max_ms: u64, cond: impl Fn(&Harness) -> bool) -> bool {
            for _ in 0..max_ms * 10 {
                if cond(self) {
                    return true;
                }
                let t = self.world.now() + SimDuration(100);
                self.world.run_until(t);
            }
            cond(self)
        }

        /// The other processes.
        pub(super) fn others(&self, not: &[ProcessId]) -> Vec<ProcessId> {
            self.ids
                .iter()
                .copied()
                .filter(|p| !not.contains(p))
                .collect()
        }

        pub(super) fn up(&self) -> Vec<ProcessId> {
            self.ids
                .iter()
                .copied()
                .filter(|&p| self.world.status(p) == Status::Up)
                .collect()
        }

        /// Live processes that consider themselves leader.
        pub(super) fn leaders(&self) -> Vec<ProcessId> {
            self.up()
                .into_iter()
                .filter(|&p| self.raft(p).role() == Role::Leader)
                .collect()
        }

        /// The single live leader, if exactly one.
        pub(super) fn leader(&self) -> Option<ProcessId> {
            match self.leaders()[..] {
                [p] => Some(p),
                _ => None,
            }
        }

        /// Runs in 10 ms steps until a single leader exists (at most `max_ms`).
        pub(super) fn until_leader(&mut self, max_ms: u64) -> ProcessId {
            for _ in 0..max_ms / 10 {
                if let Some(p) = self.leader() {
                    return p;
                }
                self.run_ms(10);
            }
            panic!(
                "no leader within {max_ms} ms: {:?}",
                self.world.violations()
            );
        }

        /// Safety violations so far, and liveness judged now with this deadline.
        pub(super) fn violations(&mut self, deadline: Option<SimTime>) -> Vec<String> {
            let mut v: Vec<String> = self
                .world
                .violations()
                .iter()
                .map(|(_, v)| format!("{}: {}", v.check, v.detail))
                .collect();
            let now = self.world.now();
            if let Some(d) = deadline {
                let pipe = self
                    .world
                    .observer_mut::<Pipeline>()
                    .expect("a pipeline observes");
                v.extend(
                    pipe.finish_checks(now, Some(d), Some(d))
                        .into_iter()
                        .map(|v| format!("{}: {}", v.check, v.detail)),
                );
            }
            v
        }

        pub(super) fn metrics(&mut self) -> std::collections::BTreeMap<String, serde_json::Value> {
            self.world
                .observer_mut::<Pipeline>()
                .expect("a pipeline observes")
                .metrics()
        }

        pub(super) fn events(&mut self, kind: &str) -> u64 {
            let pipe = self
                .world
                .observer_mut::<Pipeline>()
                .expect("a pipeline observes");
            pipe.summary()
                .events_by_kind
                .get(kind)
                .copied()
                .unwrap_or(0)
        }

        /// Every live node applied the same commands (proposals have stopped and settled).
        pub(super) fn assert_converged(&self) -> TestSm {
            let up = self.up();
            let first = self.raft(up[0]).state().clone();
            for &p in &up {
                let r = self.raft(p);
                assert_eq!(
                    r.state(),
                    &first,
                    "{} differs from {}",
                    self.world.name(p),
                    self.world.name(up[0])
                );
                assert_eq!(r.last_applied(), self.raft(up[0]).last_applied());
            }
            first
        }
    }

    fn no_violations(h: &mut Harness) {
        let deadline = Some(h.world.now());
        let v = h.violations(deadline);
        assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn three_managers_elect_one_leader_that_all_follow() {
        let mut h = Harness::simple(3, 1, idle());
        h.run_ms(2_000);
        let l = h.leader().expect("one leader");
        let term = h.raft(l).term();
        for &p in &h.ids {
            let r = h.raft(p);
            assert_eq!(
                (r.term(), r.leader()),
                (term, Some(l)),
                "{}",
                h.world.name(p)
            );
            assert_eq!(
                r.commit_index(),
                1,
                "the leader's no-op is committed everywhere"
            );
        }
        assert_eq!(h.metrics()["leader_elections"], serde_json::json!(1));
        no_violations(&mut h);
    }

    #[test]
    fn a_single_manager_leads_itself() {
        let mut h = Harness::simple(1, 3, proposing(10, 500));
        h.run_ms(1_000);
        let r = h.raft(ProcessId(0));
        assert_eq!(r.role(), Role::Leader);
        assert!(r.state().count > 20, "{:?}", r.state());
        no_violations(&mut h);
    }

    #[test]
    fn proposals_commit_and_apply_everywhere_in_five() {
        let mut h = Harness::simple(5, 2, proposing(10, 2_000));
        h.run_ms(2_500);
        let sm = h.assert_converged();
        assert!(sm.count > 100, "{sm:?}");
        no_violations(&mut h);
    }

    #[test]
    fn proposals_are_refused_off_the_leader_and_past_the_in_flight_bound() {
        let config = RaftConfig {
            max_in_flight: 4,
            ..cfg()
        };
        let work = Workload {
            everywhere: true,
            ..proposing(10, 60_000)
        };
        let mut h = Harness::new(3, 4, config, work, NetConfig::default());
        let l = h.until_leader(2_000);
        h.run_ms(200);
        for f in h.others(&[l]) {
            let refused = h.world.process(f).expect("up").refused.clone();
            assert_eq!(
                refused,
                Some(ProposeError::NotLeader { leader: Some(l) }),
                "a redirect to the leader"
            );
        }
        // Cut off, the leader cannot commit: past 4 uncommitted entries it refuses.
        h.world.net_mut().isolate(1, l);
        h.run_ms(80);
        assert_eq!(
            h.raft(l).role(),
            Role::Leader,
            "CheckQuorum has not fired yet"
        );
        let refused = h.world.process(l).expect("up").refused.clone();
        assert_eq!(
            refused,
            Some(ProposeError::Busy {
                in_flight: 4,
                limit: 4
            })
        );
    }

    #[test]
    fn leader_crash_elects_another_that_keeps_committing() {
        let mut h = Harness::simple(3, 5, proposing(10, 3_000));
        let old = h.until_leader(2_000);
        h.run_ms(500);
        let before = h.raft(old).commit_index();
        h.world.crash(old);
        let new = h.until_leader(2_000);
        assert_ne!(new, old);
        assert!(h.raft(new).term() > 1);
        h.run_ms(500);
        assert!(h.raft(new).commit_index() > before + 10);
        h.world.restart(old);
        h.run_ms(2_500);
        assert_eq!(h.leader(), Some(new), "the restarted manager follows");
        h.assert_converged();
        let m = h.metrics();
        assert_eq!(
            m["leader_failover_ms"].as_array().map(Vec::len),
            Some(1),
            "{m:?}"
        );
        let ms = m["leader_failover_ms_max"].as_f64().expect("one failover");
        assert!((150.0..1_000.0).contains(&ms), "failover took {ms} ms");
        no_violations(&mut h);
    }

    #[test]
    fn a_partitioned_minority_neither_elects_nor_deposes_on_return() {
        let mut h = Harness::simple(5, 6, proposing(20, 4_000));
        let l = h.until_leader(2_000);
        let term = h.raft(l).term();
        let minority: Vec<ProcessId> = h.ids.iter().copied().filter(|&p| p != l).take(2).collect();
        let rest: Vec<ProcessId> = h
            .ids
            .iter()
            .copied()
            .filter(|p| !minority.contains(p))
            .collect();
        h.world.net_mut().partition(1, &[minority.clone(), rest]);
        h.run_ms(2_000);
        for &p in &minority {
            let r = h.raft(p);
            assert_ne!(r.role(), Role::Leader);
            assert_eq!(
                r.term(),
                term,
                "PreVote: no term inflation behind a partition"
            );
        }
        h.world.net_mut().end_rule(1);
        h.run_ms(1_000);
        assert_eq!(h.leader(), Some(l), "the leader was not deposed");
        assert_eq!(h.raft(l).term(), term);
        h.run_ms(3_500);
        h.assert_converged();
        no_violations(&mut h);
    }

    #[test]
    fn an_isolated_follower_rejoins_without_disruption() {
        let mut h = Harness::simple(3, 7, proposing(20, 3_000));
        let l = h.until_leader(2_000);
        let term = h.raft(l).term();
        let f = *h.ids.iter().find(|&&p| p != l).expect("three");
        h.world.net_mut().isolate(1, f);
        h.run_ms(2_000);
        assert_eq!(h.raft(f).role(), Role::PreCandidate);
        h.world.net_mut().end_rule(1);
        h.run_ms(500);
        assert_eq!((h.leader(), h.raft(l).term()), (Some(l), term));
        h.run_ms(1_000);
        h.assert_converged();
        no_violations(&mut h);
    }

    #[test]
    fn an_isolated_leader_steps_down_by_check_quorum() {
        let mut h = Harness::simple(3, 8, proposing(20, 3_000));
        let old = h.until_leader(2_000);
        h.world.net_mut().isolate(1, old);
        // CheckQuorum runs every minimum election timeout (150 ms).
        h.run_ms(400);
        assert_ne!(h.raft(old).role(), Role::Leader, "stepped down");
        let new = h.until_leader(1_000);
        assert_ne!(new, old);
        h.world.net_mut().end_rule(1);
        h.run_ms(500);
        assert_eq!(h.leader(), Some(new));
        assert_eq!(h.raft(old).leader(), Some(new));
        h.run_ms(2_500);
        h.assert_converged();
        no_violations(&mut h);
    }

    #[test]
    fn crash_and_restart_of_all_keeps_committed_entries() {
        let mut h = Harness::simple(3, 9, proposing(10, 1_000));
        h.run_ms(1_300);
        let before = h.assert_converged();
        assert!(before.count > 50);
        for p in h.ids.clone() {
            h.world.crash(p);
        }
        h.run_ms(100);
        for p in h.ids.clone() {
            h.world.restart(p);
        }
        h.until_leader(2_000);
        h.run_ms(500);
        let after = h.assert_converged();
        assert_eq!(
            after, before,
            "replayed from disk, nothing lost, nothing added"
        );
        no_violations(&mut h);
    }

    #[test]
    fn snapshots_compact_and_bring_a_lagging_follower_up() {
        let mut h = Harness::simple(3, 10, proposing(5, 3_000));
        let l = h.until_leader(2_000);
        let f = *h.ids.iter().find(|&&p| p != l).expect("three");
        h.run_ms(300);
        h.world.crash(f);
        h.run_ms(1_500);
        assert!(
            h.raft(l).snapshot_index() > 200,
            "the leader compacted: {}",
            h.raft(l).snapshot_index()
        );
        h.world.restart(f);
        h.run_ms(1_800);
        let sm = h.assert_converged();
        assert!(sm.count > 400, "{sm:?}");
        assert!(
            h.world.process(f).expect("up").installed >= 1,
            "caught up by InstallSnapshot"
        );
        assert!(h.events("snapshot") >= 6);
        no_violations(&mut h);
    }

    #[test]
    fn memory_and_disk_stay_bounded_over_a_long_run() {
        let config = RaftConfig {
            snapshot_every: 32,
            ..cfg()
        };
        let mut h = Harness::new(
            3,
            11,
            config.clone(),
            proposing(2, 8_000),
            NetConfig::default(),
        );
        let mut max_mem = 0;
        let mut max_disk = 0;
        for _ in 0..80 {
            h.run_ms(100);
            for p in h.up() {
                let r = h.raft(p);
                max_mem = max_mem.max(r.log_len_in_memory());
                let d = h.world.disk(p).expect("a disk");
                max_disk = max_disk.max(d.log_end(LOG_KEY) - d.log_start(LOG_KEY));
            }
        }
        let applied = h.raft(h.leader().expect("leader")).last_applied();
        assert!(applied > 2_000, "{applied}");
        let bound = (config.snapshot_every + config.max_in_flight) as usize;
        assert!(max_mem <= bound, "in memory {max_mem} > {bound}");
        assert!(max_disk as usize <= bound, "on disk {max_disk} > {bound}");
        no_violations(&mut h);
    }

    #[test]
    fn a_torn_log_tail_is_truncated_on_restart() {
        let work = Workload {
            junk: Some((SimDuration::from_millis(700), LOG_KEY)),
            ..idle()
        };
        let mut h = Harness::simple(3, 12, work);
        h.run_ms(800);
        h.world.set_torn_writes(true);
        let p = ProcessId(0);
        let end = h.world.disk(p).expect("disk").log_end(LOG_KEY);
        h.world.crash(p);
        assert_eq!(
            h.world.disk(p).expect("disk").log_end(LOG_KEY),
            end,
            "the torn record is still there"
        );
        h.world.restart(p);
        assert_eq!(
            h.world.disk(p).expect("disk").log_end(LOG_KEY),
            end - 1,
            "and was cut off"
        );
        h.run_ms(1_000);
        assert!(h.leader().is_some());
        no_violations(&mut h);
    }

    #[test]
    #[should_panic(expected = "raft/term is fsynced whenever written and cannot be torn")]
    fn a_corrupt_term_is_a_panic() {
        let work = Workload {
            junk: Some((SimDuration::from_millis(700), TERM_KEY)),
            ..idle()
        };
        let mut h = Harness::simple(3, 13, work);
        h.run_ms(800);
        h.world.set_torn_writes(true);
        h.world.crash(ProcessId(0));
        h.world.restart(ProcessId(0));
    }

    #[test]
    fn a_candidate_asks_voters_again_when_its_requests_are_lost() {
        for seed in 0..4 {
            let mut h = Harness::simple(3, 20 + seed, idle());
            let candidate = |h: &Harness| {
                h.ids
                    .iter()
                    .copied()
                    .find(|&p| h.try_raft(p).is_some_and(|r| r.role() == Role::Candidate))
            };
            assert!(h.step_until(2_000, |h| candidate(h).is_some()));
            let c = candidate(&h).expect("a candidate");
            let term = h.raft(c).term();
            // Its RequestVotes are in flight (1–5 ms): restarting the voters
            // loses them, and the voters' fresh election timers (≥ 150 ms)
            // leave the candidate alone in its term.
            for p in h.others(&[c]) {
                h.world.crash(p);
                h.world.restart(p);
            }
            h.run_ms(100);
            assert_eq!(h.leader(), Some(c), "seed {seed}");
            assert_eq!(
                h.raft(c).term(),
                term,
                "seed {seed}: elected in the term it asked in, by the retried requests"
            );
            no_violations(&mut h);
        }
    }

    #[test]
    fn config_validation_explains_itself() {
        assert_eq!(RaftConfig::default().validate(), Ok(()));
        let bad = RaftConfig {
            heartbeat: SimDuration::from_millis(200),
            ..RaftConfig::default()
        };
        let e = bad.validate().expect_err("heartbeat too slow");
        assert!(
            e.to_string()
                .contains("below half the minimum election timeout"),
            "{e}"
        );
        let bad = RaftConfig {
            max_in_flight: 0,
            ..RaftConfig::default()
        };
        assert_eq!(
            bad.validate(),
            Err(RaftConfigError::Zero {
                what: "max_in_flight"
            })
        );
    }

    #[test]
    fn entries_digest_term_and_command() {
        let a = LogEntry {
            term: 1,
            entry: Entry::Command(7u64),
        };
        let b = LogEntry {
            term: 2,
            entry: Entry::Command(7u64),
        };
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 16);
        assert_eq!(
            LogEntry::<u64> {
                term: 1,
                entry: Entry::Noop
            }
            .describe(),
            "noop"
        );
        assert_eq!(a.describe(), "7");
    }

    // ----- randomized faults -----

    /// What a chaos run does: random crashes, restarts, partitions, isolations
    /// and heals every `fault_every_ms`, then everything heals and restarts
    /// and the cluster gets `settle_ms` to elect a stable leader.
    #[derive(Clone, Debug)]
    pub(super) struct Chaos {
        pub(super) n: usize,
        pub(super) config: RaftConfig,
        pub(super) net: NetConfig,
        pub(super) chaos_ms: u64,
        pub(super) fault_every_ms: u64,
        pub(super) settle_ms: u64,
        pub(super) pause: bool,
        /// Also skew clocks (offset up to ±1 s, drift up to ±20 %).
        pub(super) clocks: bool,
    }

    impl Chaos {
        pub(super) fn new(n: usize) -> Self {
            Chaos {
                n,
                config: cfg(),
                net: NetConfig {
                    latency_us_min: 1_000,
                    latency_us_max: 8_000,
                    drop_probability: 0.02,
                    ..NetConfig::default()
                },
                chaos_ms: 4_000,
                fault_every_ms: 120,
                settle_ms: 2_500,
                pause: false,
                clocks: false,
            }
        }

        /// Runs one seed; returns the violations (safety at once, liveness at the end).
        pub(super) fn run(&self, seed: u64) -> Vec<String> {
            self.run_harness(seed).1
        }

        /// Runs one seed; returns the harness at the end and the violations.
        pub(super) fn run_harness(&self, seed: u64) -> (Harness, Vec<String>) {
            let mut h = Harness::new(
                self.n,
                seed,
                self.config.clone(),
                proposing(15, self.chaos_ms),
                self.net,
            );
            let mut dice: ChaCha8Rng = rng::stream(seed, "test-chaos");
            let mut rule = 1;
            let mut paused: Vec<ProcessId> = Vec::new();
            for _ in 0..self.chaos_ms / self.fault_every_ms {
                h.run_ms(self.fault_every_ms);
                if h.world.halted() {
                    break;
                }
                let p = h.ids[dice.random_range(0..self.n)];
                match dice.random_range(0..10u32) {
                    0..=2 => {
                        h.world.crash(p);
                    }
                    3..=5 => {
                        h.world.restart(p);
                    }
                    6 => {
                        let mut a = Vec::new();
                        let mut b = Vec::new();
                        for &q in &h.ids {
                            if dice.random_range(0..2u32) == 0 {
                                a.push(q)
                            } else {
                                b.push(q)
                            }
                        }
                        h.world.net_mut().partition(rule, &[a, b]);
                        rule += 1;
                    }
                    7 => {
                        h.world.net_mut().isolate(rule, p);
                        rule += 1;
                    }
                    8 if self.pause => {
                        if h.world.pause(p) {
                            paused.push(p);
                        }
                    }
                    9 if self.clocks => {
                        let clock = Clock {
                            offset_us: dice.random_range(-1_000_000..=1_000_000),
                            drift_ppm: dice.random_range(-200_000..=200_000),
                        };
                        h.world.set_clock(p, clock);
                    }
                    _ => {
                        h.world.net_mut().heal();
                        for q in paused.drain(..) {
                            h.world.resume(q);
                        }
                    }
                }
            }
            h.world.net_mut().heal();
            for q in paused.drain(..) {
                h.world.resume(q);
            }
            for p in h.ids.clone() {
                h.world.restart(p);
            }
            h.run_ms(self.settle_ms);
            if h.world.halted() {
                let v = h.violations(None);
                return (h, v);
            }
            let deadline = h.world.now();
            let v = h.violations(Some(deadline));
            (h, v)
        }
    }

    #[test]
    fn randomized_faults_break_no_invariant() {
        for seed in 0..8 {
            let mut chaos = Chaos::new(if seed % 2 == 0 { 3 } else { 5 });
            chaos.pause = seed % 4 < 2;
            chaos.clocks = seed % 4 >= 2;
            chaos.net.duplicate_probability = 0.05;
            chaos.net.reorder_probability = 0.1;
            chaos.config.max_entries_per_msg = 1 + seed as usize;
            chaos.config.snapshot_every = 8 + seed * 5;
            let v = chaos.run(seed);
            assert!(v.is_empty(), "seed {seed}: {v:#?}");
        }
    }
}

/// Steered schedules that set up what random faults rarely hit: each returns
/// the violations found, or `None` when this seed's timing did not produce
/// the setup (the caller tries a few seeds). Without the planted bug each
/// must find nothing; with it, the checker the bug exists for must fire.
#[cfg(test)]
mod steered {
    use super::tests::*;
    use super::*;
    use crate::sim::NetConfig;
    use crate::sim::net::LinkRule;

    /// Figure 8 of the Raft paper. A (old leader) and B get entries at index
    /// k that nobody else has; E, elected on the other side, appends its
    /// no-op at k and crashes before anyone receives it. After the heal A or
    /// B leads and sends entries one per message: counting replicas of the
    /// old-term entry at k "commits" it (the bug) — then the leader and its
    /// partner crash, E returns with its newer-term entry at k, wins, and
    /// overwrites it.
    pub(super) fn figure8(seed: u64, planted: Planted) -> Option<Vec<String>> {
        let config = RaftConfig {
            max_entries_per_msg: 1,
            planted,
            ..cfg()
        };
        let work = proposing(20, 60_000);
        let mut h = Harness::new(5, seed, config, work, NetConfig::default());
        let a = h.until_leader(3_000);
        h.run_ms(300);
        let b = h.others(&[a])[0];
        let rest = h.others(&[a, b]);
        h.world.net_mut().partition(1, &[vec![a, b], rest.clone()]);
        let leads =
            |h: &Harness, p: ProcessId| h.try_raft(p).is_some_and(|r| r.role() == Role::Leader);
        if !h.step_until(3_000, |h| rest.iter().any(|&p| leads(h, p))) {
            return None;
        }
        let e = rest.iter().copied().find(|&p| leads(&h, p))?;
        let (k, te) = (h.raft(e).last_index(), h.raft(e).term());
        // E's voters crash before its no-op reaches them (messages to a
        // crashed process are lost); E too, its no-op safe on its disk.
        for &p in &rest {
            h.world.crash(p);
        }
        h.run_ms(300);
        if h.raft(a).term_at(k).is_none_or(|t| t >= te)
            || h.raft(b).term_at(k).is_none_or(|t| t >= te)
        {
            return None; // A proposed nothing after the partition
        }
        h.world.net_mut().end_rule(1);
        for &p in &rest {
            if p != e {
                h.world.restart(p);
            }
        }
        let committed_k = |h: &Harness, p: ProcessId| {
            h.try_raft(p)
                .is_some_and(|r| r.role() == Role::Leader && r.term() > te && r.commit_index() >= k)
        };
        if !h.step_until(3_000, |h| committed_k(h, a) || committed_k(h, b)) {
            return None;
        }
        h.world.crash(a);
        h.world.crash(b);
        h.world.restart(e);
        h.run_ms(2_000);
        Some(h.violations(None))
    }

    /// Two candidates of one term and a voter that forgets its vote. After a
    /// leader crash F1 and F2 time out together (they were paused); the
    /// restarted L pre-votes for both but its answer to F2 is slow (20 ms),
    /// and F1 cannot reach F2. L votes for F1, crashes and restarts at once;
    /// then F2 asks L for a vote in the same term.
    pub(super) fn forgotten_vote(seed: u64, planted: Planted) -> Option<Vec<String>> {
        let config = RaftConfig { planted, ..cfg() };
        let mut h = Harness::new(3, seed, config, proposing(20, 60_000), NetConfig::default());
        let l = h.until_leader(3_000);
        h.run_ms(200);
        let [f1, f2] = h.others(&[l])[..] else {
            unreachable!("three managers")
        };
        h.world.crash(l);
        h.run_ms(6); // what L sent has arrived
        h.world.pause(f1);
        h.world.pause(f2);
        h.run_ms(700); // both election timers expire during the pause
        h.world.restart(l);
        let term = h.raft(l).term() + 1;
        h.world.net_mut().one_way(1, &[f1], &[f2]);
        let slow = LinkRule {
            latency_us: Some((20_000, 20_000)),
            drop_probability: None,
            duplicate_probability: None,
        };
        h.world.net_mut().set_link(2, l, f2, slow);
        h.world.resume(f1);
        h.world.resume(f2);
        let voted = |h: &Harness| {
            h.try_raft(l)
                .is_some_and(|r| r.term() == term && r.voted_for() == Some(f1))
        };
        if !h.step_until(100, voted) {
            return None;
        }
        h.world.crash(l);
        h.world.restart(l);
        h.world.net_mut().one_way(3, &[f1], &[l]);
        h.run_ms(500);
        let f2_asked = h.try_raft(f2).is_some_and(|r| r.term() >= term);
        f2_asked.then(|| h.violations(None))
    }

    /// A leader paused for a second while the others elect a new one; on
    /// resume it hears the higher term and must step down.
    pub(super) fn paused_leader(seed: u64, planted: Planted) -> Vec<String> {
        let config = RaftConfig { planted, ..cfg() };
        let mut h = Harness::new(3, seed, config, proposing(20, 60_000), NetConfig::default());
        let l = h.until_leader(3_000);
        h.run_ms(200);
        h.world.pause(l);
        h.run_ms(1_000);
        h.world.resume(l);
        h.run_ms(2_000);
        let now = h.world.now();
        h.violations(Some(now))
    }

    #[test]
    fn figure8_is_safe() {
        let mut setups = 0;
        for seed in 0..6 {
            if let Some(v) = figure8(seed, Planted::NONE) {
                assert!(v.is_empty(), "seed {seed}: {v:#?}");
                setups += 1;
            }
        }
        assert!(setups >= 3, "only {setups} of 6 seeds set Figure 8 up");
    }

    #[test]
    fn a_vote_survives_a_crash() {
        let mut setups = 0;
        for seed in 0..6 {
            if let Some(v) = forgotten_vote(seed, Planted::NONE) {
                assert!(v.is_empty(), "seed {seed}: {v:#?}");
                setups += 1;
            }
        }
        assert!(
            setups >= 3,
            "only {setups} of 6 seeds set the split vote up"
        );
    }

    #[test]
    fn a_resumed_leader_steps_down() {
        for seed in 0..3 {
            let v = paused_leader(seed, Planted::NONE);
            assert!(v.is_empty(), "seed {seed}: {v:#?}");
        }
    }

    #[cfg(feature = "planted-bugs")]
    mod planted_bugs_are_caught {
        use super::*;

        fn assert_caught(check: &str, seed: u64, v: &[String]) {
            assert!(
                v.iter().any(|v| v.starts_with(&format!("{check}: "))),
                "seed {seed}: {check} expected, got {v:#?}"
            );
        }

        const SEEDS: std::ops::Range<u64> = 0..3;

        #[test]
        fn commit_old_term_by_counting() {
            for seed in SEEDS {
                let v = figure8(seed, Planted::NONE.with(Bug::CommitOldTermByCounting))
                    .expect("Figure 8 set up");
                assert_caught("log_matching", seed, &v);
            }
        }

        #[test]
        fn vote_before_fsync() {
            for seed in SEEDS {
                let v = forgotten_vote(seed, Planted::NONE.with(Bug::VoteBeforeFsync))
                    .expect("split vote set up");
                assert_caught("election_safety", seed, &v);
            }
        }

        #[test]
        fn ignore_higher_term() {
            for seed in SEEDS {
                let v = paused_leader(seed, Planted::NONE.with(Bug::IgnoreHigherTerm));
                assert_caught("leader_elected", seed, &v);
            }
        }

        #[test]
        fn vote_without_log_check() {
            // Random crashes and partitions find this one unaided.
            let mut chaos = Chaos::new(5);
            chaos.config.planted = Planted::NONE.with(Bug::VoteWithoutLogCheck);
            let (seed, v) = (0..20)
                .map(|seed| (seed, chaos.run(seed)))
                .find(|(_, v)| !v.is_empty())
                .expect("caught within 20 seeds");
            assert_caught("log_matching", seed, &v);
        }
    }
}
