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
//! trace events ([`RaftEvent::Role`], `Vote`, `Append`, `Commit`,
//! `Snapshot`), which the host turns into its own through `From`; and, for
//! the host, the commands applied since it last asked
//! ([`take_applied`](ConsensusManager::take_applied)).
//!
//! **Invariants.** At most one leader per term; a committed entry is in the log
//! of every later leader; every manager applies the same command at the same
//! index. Anything a message claims (a vote, an append ack) is on disk and
//! fsynced before the message is sent. Memory is bounded: the in-memory log
//! holds at most `snapshot_every` applied entries plus `max_in_flight`
//! uncommitted ones (on a leader; a follower holds what leaders sent it).
//! Membership changes one server at a time (`membership.rs`): a manager
//! that starts on an empty disk while the group exists is a new
//! *incarnation* that neither votes nor campaigns; the leader adds it as a
//! learner (its lost predecessor stays in the quorum, retiring), promotes
//! it once caught up, then removes the lost one.
//! Leadership transfer (thesis §3.10) hands the lead over before the
//! leader is removed, or when the operator drains it (a drained manager
//! votes but does not lead). With `remove_down_after` set, the leader also
//! removes a voter it has not heard from for that long, never leaving
//! fewer than `min_voters` (dead-server cleanup); a removed manager that
//! returns asks to be admitted again.
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
//!
//! **Layout.** This file holds the API (types, getters, inputs, the one
//! term check every message passes); `election.rs` the roles and votes;
//! `replication.rs` both sides of `AppendEntries`/`InstallSnapshot`, the
//! commit rule and applying; `storage.rs` the disk and snapshots;
//! `messages.rs`, `events.rs`, `config.rs` and `bugs.rs` (the planted Raft
//! bugs, which a host fills from its own) the types a host sees. The
//! folder depends on [`crate::sim`] alone.

mod bugs;
mod config;
mod election;
mod events;
mod members;
mod membership;
mod messages;
mod replication;
mod storage;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use bugs::{RaftBug, RaftBugs};
pub use config::{RaftConfig, RaftConfigError};
pub use events::{RaftEvent, Role};
pub use membership::{Membership, Standing, member_name};
pub use messages::{AppendOutcome, RaftMsg, RaftTimer, SnapshotData};

use crate::sim::{Cx, Process, ProcessId, SimTime, TimerId};

/// Disk key of the current term (JSON `u64`).
pub const TERM_KEY: &str = "raft/term";
/// Disk key of the vote in the current term (JSON `Option<u32>`, a process index).
pub const VOTE_KEY: &str = "raft/vote";
/// Disk log of entries: Raft index `i` is record `i - 1` (JSON [`LogEntry`]).
pub const LOG_KEY: &str = "raft/log";
/// Disk key of the latest snapshot (JSON `{index, term, state, members}`).
pub const SNAPSHOT_KEY: &str = "raft/snapshot";
/// Disk key of this manager's incarnation (JSON `u64`), drawn when it
/// starts on an empty disk (0 for a bootstrap voter's first start).
pub const INCARNATION_KEY: &str = "raft/incarnation";
/// Disk key of the operator's wishes about membership (JSON map of
/// process index → member or not), from `add_manager` / `remove_manager`.
pub const WANTED_KEY: &str = "raft/wanted";

/// Disk key of the managers the operator drained (JSON list of process
/// indices): voters that must not lead.
pub const DRAINED_KEY: &str = "raft/drained";

/// Commands applied but not yet taken by the host, at most. The host takes
/// them after every input, so this bound is only reached by a host that
/// never looks; the oldest are then dropped (and counted).
pub const MAX_APPLIED_QUEUE: usize = 4096;

/// The replicated state machine (the cluster map implements it; tests use a tiny one).
pub trait StateMachine: Clone + Serialize + DeserializeOwned + 'static {
    /// A command of the log.
    type Command: LogCommand;
    /// Applies a committed command. `index` is its log index.
    fn apply(&mut self, index: u64, cmd: &Self::Command);

    /// Appends the state's JSON (a snapshot's part): exactly what
    /// `serde_json` writes for it. A state may keep parts of its text
    /// written from one snapshot to the next.
    fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self)
            .expect("the state machine must serialize to JSON (map keys must be strings)");
    }
}

/// A command of a [`StateMachine`]'s log.
pub trait LogCommand:
    Clone + fmt::Debug + PartialEq + fmt::Display + Serialize + DeserializeOwned + 'static
{
    /// Appends the command's JSON (a log entry's part, see
    /// [`LogEntry::encode`]): exactly what `serde_json` writes for it.
    /// Commands that are many may be written by hand: a leader encodes
    /// every entry it appends.
    fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self)
            .expect("a log command must serialize to JSON (map keys must be strings)");
    }
}

/// A process that can host a [`ConsensusManager`] whose commands are `C`:
/// its event, message and timer types wrap Raft's.
pub trait RaftHost<C>:
    Process<Event: From<RaftEvent>, Msg: From<RaftMsg<C>>, Timer: From<RaftTimer>>
{
}

impl<C, P> RaftHost<C> for P where
    P: Process<Event: From<RaftEvent>, Msg: From<RaftMsg<C>>, Timer: From<RaftTimer>>
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
    /// A new membership, in force from the moment it is in a log.
    Config(Membership),
}

/// One log entry: the term it was created in and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry<C> {
    /// The leader's term when it appended the entry.
    pub term: u64,
    /// The payload.
    pub entry: Entry<C>,
}

impl<C: LogCommand> LogEntry<C> {
    /// The encoding stored on disk and hashed for the `Commit` digest:
    /// what `serde_json` writes for the entry, with the command written by
    /// [`LogCommand::write_json`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"term\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.term).as_bytes());
        out.extend_from_slice(b",\"entry\":");
        match &self.entry {
            Entry::Noop => out.extend_from_slice(b"\"Noop\""),
            Entry::Command(c) => {
                out.extend_from_slice(b"{\"Command\":");
                c.write_json(&mut out);
                out.push(b'}');
            }
            Entry::Config(m) => {
                out.extend_from_slice(b"{\"Config\":");
                serde_json::to_writer(&mut out, m).expect("a membership serializes to JSON");
                out.push(b'}');
            }
        }
        out.push(b'}');
        out
    }

    /// 16 hex digits of xxh3 over [`encode`](Self::encode): what `log_matching` compares.
    pub fn digest(&self) -> String {
        Self::digest_of(&self.encode())
    }

    /// [`digest`](Self::digest) of an entry whose [`encode`](Self::encode) is `encoded`.
    pub fn digest_of(encoded: &[u8]) -> String {
        Self::digest_text(xxhash_rust::xxh3::xxh3_64(encoded))
    }

    /// [`digest`](Self::digest) of an entry whose encoding's xxh3 is `hash`:
    /// what `format!("{hash:016x}")` writes, without the formatting
    /// machinery (every manager traces the digest of every entry).
    pub fn digest_text(hash: u64) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 16];
        for (i, digit) in text.iter_mut().enumerate() {
            *digit = HEX[(hash >> (60 - 4 * i)) as usize & 0xf];
        }
        String::from_utf8(text.to_vec()).expect("hex digits are ASCII")
    }

    /// The entry as traced: the command's `Display`, or `"noop"`.
    pub fn describe(&self) -> String {
        match &self.entry {
            Entry::Noop => "noop".to_string(),
            Entry::Command(c) => {
                // Room for most commands' text at once: `to_string`
                // starts empty and grows the string step by step.
                let mut text = String::with_capacity(96);
                fmt::Write::write_fmt(&mut text, format_args!("{c}"))
                    .expect("a command's Display does not fail");
                text
            }
            Entry::Config(m) => m.to_string(),
        }
    }
}

/// A log entry as the logs hold it: behind an `Rc` that every log and
/// message holding the same entry shares, with its encoding (what the disk
/// holds), the xxh3 of that (its traced digest) and its description, written
/// the first time it is traced.
///
/// Why: every manager appends and commits every entry, and each encoded it
/// for its disk and described it for its trace again, after the leader had
/// cloned it into a message per follower. Encoding and describing were most
/// of the cost of replicating an entry. The value never changes once made
/// (the description is derived from the entry, as the encoding is), so the
/// processes sharing it see what they would see with copies of their own.
#[derive(Debug)]
pub struct StoredEntry<C> {
    value: LogEntry<C>,
    encoded: Box<[u8]>,
    hash: u64,
    description: OnceCell<String>,
}

impl<C: LogCommand> StoredEntry<C> {
    /// `value`, encoded and hashed.
    pub fn new(value: LogEntry<C>) -> Rc<Self> {
        let encoded = value.encode().into_boxed_slice();
        Rc::new(StoredEntry {
            hash: xxhash_rust::xxh3::xxh3_64(&encoded),
            value,
            encoded,
            description: OnceCell::new(),
        })
    }

    /// [`LogEntry::encode`] of the entry.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// [`LogEntry::digest`] of the entry.
    pub fn digest(&self) -> String {
        LogEntry::<C>::digest_text(self.hash)
    }

    /// [`LogEntry::describe`] of the entry, written once.
    pub fn describe(&self) -> &str {
        self.description.get_or_init(|| self.value.describe())
    }
}

impl<C> std::ops::Deref for StoredEntry<C> {
    type Target = LogEntry<C>;
    fn deref(&self) -> &LogEntry<C> {
        &self.value
    }
}

/// Equal when the entries are: the rest is derived from them.
impl<C: PartialEq> PartialEq for StoredEntry<C> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
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
    /// Leadership is being handed over (thesis §3.10): proposals wait for
    /// the new leader.
    #[error("leadership is being transferred")]
    Transferring,
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
    /// Local time it last answered (or this leader took office, or it
    /// joined): dead-server cleanup counts its silence from here.
    last_heard: SimTime,
    /// Its match point is unknown (new leader, or its last answer was a
    /// conflict): `AppendEntries` carry at most one entry until one succeeds.
    probing: bool,
}

/// A leadership transfer in progress (thesis §3.10).
#[derive(Copy, Clone, Debug)]
struct Transfer {
    /// The voter taking over, by peer position.
    to: usize,
    /// Local time after which the transfer is abandoned.
    deadline: SimTime,
    /// `TimeoutNow` was sent.
    sent: bool,
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
    /// Every manager process that may ever be a member, including `me`, in
    /// a fixed order (vote and progress tables are indexed by position
    /// here). Who votes is [`members`](Self::members).
    peers: Vec<ProcessId>,
    me_pos: usize,
    config: RaftConfig,
    /// The group the cluster was bootstrapped with (incarnation 0).
    bootstrap: Membership,
    /// The cluster exists already: a start on an empty disk is a new
    /// incarnation that must be admitted, not a bootstrap voter.
    existing: bool,
    /// This manager's incarnation (persisted under [`INCARNATION_KEY`]).
    incarnation: u64,
    /// The membership in force: the latest in the log, else the snapshot's.
    members: Membership,
    /// Index of the entry that set `members` (0: bootstrap or snapshot).
    members_index: u64,
    /// The membership as of the snapshot.
    snapshot_members: Membership,
    /// The operator's wishes: process index → member or not (persisted).
    wanted: std::collections::BTreeMap<u32, bool>,
    /// Managers the operator drained: they vote, but do not lead (persisted).
    drained: std::collections::BTreeSet<u32>,

    // Persistent (mirrored on disk).
    term: u64,
    voted_for: Option<ProcessId>,
    /// Entries `snapshot_index + 1 ..= last_index()`.
    log: VecDeque<Rc<StoredEntry<S::Command>>>,
    snapshot_index: u64,
    snapshot_term: u64,
    snapshot_data: Option<SnapshotData>,
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
    /// Leader: the last heartbeat round was skipped by the fault point
    /// `raft/skip-heartbeat-round` (the next one is not).
    skipped_round: bool,
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
    /// Leader: index of its term's no-op (membership changes wait for it
    /// to commit, thesis §4.1's fix for single-server changes).
    term_start: u64,
    /// Leader: `Join` requests heard, by peer position → incarnation.
    join_requests: std::collections::BTreeMap<usize, u64>,
    /// Leader: a leadership transfer in progress.
    transfer: Option<Transfer>,
    /// Candidate: this campaign follows a `TimeoutNow` (voters in a
    /// leader's lease still answer it).
    transfer_campaign: bool,
    /// Joiner: when it last asked a leader it hears from to admit it.
    join_asked_at: Option<SimTime>,
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
        let bootstrap = Membership::bootstrap(&peers);
        ConsensusManager {
            me,
            peers,
            me_pos,
            config,
            members: bootstrap.clone(),
            snapshot_members: bootstrap.clone(),
            bootstrap,
            existing: false,
            incarnation: 0,
            members_index: 0,
            wanted: std::collections::BTreeMap::new(),
            drained: std::collections::BTreeSet::new(),
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
            skipped_round: false,
            quorum_timer: None,
            vote_retry_timer: None,
            votes: vec![None; n],
            progress: vec![Progress::default(); n],
            applied: VecDeque::new(),
            applied_dropped: 0,
            snapshot_installed: None,
            traced_role: None,
            term_start: 0,
            join_requests: std::collections::BTreeMap::new(),
            transfer: None,
            transfer_campaign: false,
            join_asked_at: None,
        }
    }

    /// Sets the group the cluster is bootstrapped with (default: every
    /// peer) and whether the cluster exists already (a restart, or a
    /// manager added later): then an empty disk makes this manager a new
    /// incarnation that waits to be admitted. Call before
    /// [`on_start`](Self::on_start).
    pub fn set_bootstrap(&mut self, voters: &[ProcessId], existing: bool) {
        self.bootstrap = Membership::bootstrap(voters);
        self.members = self.bootstrap.clone();
        self.snapshot_members = self.bootstrap.clone();
        self.existing = existing;
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
    /// Every manager process that may be a member.
    pub fn peers(&self) -> &[ProcessId] {
        &self.peers
    }
    /// The membership in force.
    pub fn members(&self) -> &Membership {
        &self.members
    }
    /// This manager's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
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
        if self.config.planted.has(RaftBug::RestartCommitsLog) {
            // The planted bug: whatever the log holds is taken as committed.
            self.commit_index = self.last_index();
            self.apply(cx);
        }
        self.role = Role::Follower;
        self.leader = None;
        self.trace_role(cx);
        self.trace_members(cx);
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
        if let RaftMsg::Join { incarnation, .. } = msg {
            // Asks about membership, claims no term.
            self.handle_join(cx, from_pos, incarnation);
            return;
        }
        if !self.step_term(cx, from, from_pos, &msg) {
            return;
        }
        match msg {
            RaftMsg::Join { .. } => {}
            RaftMsg::TimeoutNow { term } => self.handle_timeout_now(cx, from, term),
            RaftMsg::PreVote {
                term,
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(cx, from, term, last_log_index, last_log_term),
            RaftMsg::PreVoteResponse {
                term,
                granted,
                incarnation,
            } => self.handle_pre_vote_response(cx, from_pos, term, granted, incarnation),
            RaftMsg::RequestVote {
                term,
                last_log_index,
                last_log_term,
                ..
            } => self.handle_request_vote(cx, from, term, last_log_index, last_log_term),
            RaftMsg::RequestVoteResponse {
                term,
                granted,
                incarnation,
            } => self.handle_vote_response(cx, from_pos, term, granted, incarnation),
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

    /// The one place a message's term is compared with ours, before any
    /// handler runs (as raft-rs does in `step`): a message of a higher term
    /// makes this manager a follower of that term — under the sender when it
    /// is a leader's `AppendEntries` or `InstallSnapshot`. Returns false when
    /// the message is consumed here.
    ///
    /// Two kinds carry a higher term without claiming it: a `PreVote` asks
    /// about a term nobody holds yet, and a granted `PreVoteResponse` echoes
    /// that term. A `RequestVote` of a higher term that reaches a manager
    /// still in a live leader's lease is refused without adopting the term,
    /// so a candidate that the leader's followers do not know of cannot
    /// depose it — unless the leader itself sent it `TimeoutNow` (the
    /// request says so). Handlers then see only messages of our term or older.
    fn step_term<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        from_pos: usize,
        msg: &RaftMsg<S::Command>,
    ) -> bool {
        let term = msg.term();
        if term <= self.term {
            return true;
        }
        match msg {
            RaftMsg::PreVote { .. } | RaftMsg::PreVoteResponse { granted: true, .. } => {
                return true;
            }
            RaftMsg::RequestVote {
                transfer: false, ..
            } if self.in_lease(cx.now()) => {
                cx.reached("raft: vote refused under a leader lease");
                self.answer_vote(cx, from, false);
                return false;
            }
            _ => {}
        }
        if self.role == Role::Leader && self.config.planted.has(RaftBug::IgnoreHigherTerm) {
            // The planted bug: the leader keeps leading, counts the sender
            // as alive and drops the message.
            self.progress[from_pos].recent_active = true;
            return false;
        }
        if self.role == Role::Leader {
            cx.reached("raft: leader stepped down for a higher term");
        }
        let leader = matches!(
            msg,
            RaftMsg::AppendEntries { .. } | RaftMsg::InstallSnapshot { .. }
        )
        .then_some(from);
        self.become_follower(cx, term, leader);
        true
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
                } else if !self.is_voter() {
                    // A learner or a joiner never campaigns; a joiner asks
                    // to be admitted, every election timeout, until it is.
                    self.reset_election_deadline(cx);
                    self.ask_to_join(cx);
                } else {
                    if self.role == Role::PreCandidate && self.config.remove_down_after.is_some() {
                        // A whole election timeout without a pre-vote
                        // majority: perhaps the group removed this manager
                        // while it was down, and its log does not say so yet.
                        self.ask_to_rejoin(cx);
                    }
                    self.campaign_pre(cx);
                }
            }
            RaftTimer::Heartbeat => {
                self.heartbeat_timer = None;
                if self.role != Role::Leader {
                    return;
                }
                // Fault point: a heartbeat round skipped, as if every
                // message of it were lost. One round, never two in a row:
                // the heartbeat is below half the minimum election
                // timeout, so followers still hear the leader within it.
                // Rounds skipped back to back would be a stalled leader
                // that never heals (the point fires until the end of the
                // run), deposed by its followers' timeouts — a fault, not
                // the legal, rare behaviour a fault point explores.
                let skip = !self.skipped_round && cx.buggify("raft/skip-heartbeat-round");
                self.skipped_round = skip;
                for pos in self.targets() {
                    if !skip {
                        self.send_append(cx, pos);
                    }
                }
                self.heartbeat_timer =
                    Some(cx.set_timer(self.config.heartbeat, RaftTimer::Heartbeat.into()));
                self.tick_transfer(cx);
                self.drive_membership(cx);
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
                    .filter(|(i, p)| {
                        self.members.is_voter(self.peers[*i]) && (*i == me || p.recent_active)
                    })
                    .count();
                for p in &mut self.progress {
                    p.recent_active = false;
                }
                if active < self.quorum() {
                    // Cut off from a majority: a new leader may be elected on
                    // the other side. Stop taking proposals that cannot commit.
                    cx.reached("raft: leader lost its quorum and stepped down");
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
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        let in_flight = self.last_index() - self.commit_index;
        if in_flight >= self.config.max_in_flight {
            return Err(ProposeError::Busy {
                in_flight,
                limit: self.config.max_in_flight,
            });
        }
        let index = self.append_as_leader(cx, Entry::Command(cmd));
        for pos in self.targets() {
            if !self.progress[pos].inflight {
                self.send_append(cx, pos);
            }
        }
        self.maybe_commit(cx);
        Ok(index)
    }
}

/// Traces a Raft event as the host's own.
fn trace<P: Process<Event: From<RaftEvent>>>(cx: &mut Cx<'_, P>, ev: RaftEvent) {
    cx.trace(ev.into());
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
