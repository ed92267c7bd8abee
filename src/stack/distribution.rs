//! DistributedPartitionManager: the manager process. It owns a
//! [`ConsensusManager`] over the [`ClusterMap`], a [`NetworkManager`] for
//! the data nodes' envelopes, and — used while it leads — a
//! [`HealthMonitor`], a [`PartitionCoordinator`] and a [`RecoveryManager`],
//! and wires them: [`register_node`](Manager::register_node),
//! [`deregister_node`](Manager::deregister_node) (drain, then removal),
//! [`distribute_partitions`](Manager::distribute_partitions).
//!
//! **Inputs.** Raft messages from the other managers; authenticated
//! `Register` and `Heartbeat` requests from data nodes; the operator's
//! requests ([`Operator`](super::cluster::Operator) messages); its timers.
//! **Outputs.** Raft traffic; replies to nodes (`Registered`,
//! `HeartbeatAck`, or `Redirect` to the leader it knows); map updates pushed
//! to the members (a delta per batch of applied commands, or the whole map
//! for a node far behind); proposals; and the trace events `map` (every
//! manager), `health`, `member`, `partition`, `availability` and `move`
//! (the leader),
//! `credentials` and `placement_config` (at start).
//!
//! Only the leader acts on nodes' messages; a follower redirects. Nothing
//! changes the map but a committed entry, so a deposed leader's decisions
//! that never committed are simply lost, and a new leader rebuilds
//! everything it needs from the map and fresh heartbeats.
//!
//! ```text
//!   node ──Register──► leader: member with this boot? ── yes ──► Registered
//!                                │ no
//!                                ▼
//!                      propose AddNode ── committed ──► Registered
//!   node ──Heartbeat─► leader: health.heard, report kept ──► HeartbeatAck (+ map catch-up)
//!   tick ──► health ──► MarkDead / MarkAlive
//!        ──► operator: Drain, then RemoveNode once empty
//!        ──► coordinator (+ recovery) ──► SetReplicas / PromotePrimary
//!   applied batch ──► push delta to members; trace member / partition changes
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use crate::sim::{Cx, Process, ProcessId, SimDuration, SimTime};

use super::cluster::{
    ClusterConfig, Control, Kind, MapUpdate, Msg, Operator, ReplicaReport, Timer,
};
use super::consensus::{
    ConsensusManager, ProposeError, RaftConfig, RaftMsg, RaftTimer, Role, StateMachine,
};
use super::coordinator::{CoordinatorConfig, PartitionCoordinator};
use super::events::{MemberChange, StackEvent};
use super::grid::{ClusterMap, MapCommand, MemberState, Members, PerPartition};
use super::health::HealthMonitor;
use super::members;
use super::network::{Incoming, Limits, NetworkManager, Shared, key_id};
use super::plan::without;
use super::planted::{Bug, Planted};
use super::recovery::{Held, RecoveryManager, Reports};

/// Registrations waiting for their `AddNode` to commit, at most (a bound on
/// what a flood of registrations can make the leader hold).
const MAX_PENDING_REGISTRATIONS: usize = 1024;
/// Applied commands kept for deltas to nodes that lag, at most.
const MAX_RECENT: usize = 1024;
/// A node further behind than this gets the whole map instead of a delta.
const MAX_DELTA_COMMANDS: usize = 256;
/// Map messages the leader pushes per health tick before a batch goes only
/// to the members it concerns (the first push to every member in a tick is
/// always made). Why: while n nodes register, about n batches commit, and
/// pushing each to every member cost n² messages; with the budget, a tick
/// pushes every member at most `1 + MAX_PUSHES_PER_TICK / members` times,
/// and what a member was not pushed reaches it with the next push to every
/// member (the next tick at the latest) or its heartbeat's catch-up. Far
/// above what clusters of a few hundred nodes push, which never see it.
pub const MAX_PUSHES_PER_TICK: usize = 8192;
/// Catch-up updates kept for the current map version, at most.
const MAX_CATCH_UPS: usize = 64;
/// A proposal not seen committed within this long is presumed lost.
const PROPOSAL_TIMEOUT: SimDuration = SimDuration::from_secs(2);

/// A registration waiting for its `AddNode` to commit.
#[derive(Clone, Debug)]
struct PendingRegistration {
    from: ProcessId,
    req: u64,
    boot: u32,
    proposed_at: SimTime,
}

/// A node's last heartbeat report, the map version it was read against,
/// and whether it named a replica that finished catching up.
type CatchingSeen = (Shared<Vec<ReplicaReport>>, u64, bool);

/// A manager: Raft over the cluster map, plus the leader's duties.
pub struct Manager {
    raft: ConsensusManager<ClusterMap>,
    net: NetworkManager<Control>,
    health: HealthMonitor,
    coordinator: PartitionCoordinator,
    recovery: RecoveryManager,
    reports: Reports,
    /// Per sender (by process id): its last heartbeat's report, the map
    /// version it was read against, and whether it named a replica that
    /// finished catching up. A pure function of the two: a node shares one
    /// report from one heartbeat to the next while nothing changes, and the
    /// answer is not worked out again (60 partitions per heartbeat).
    catching_seen: Vec<Option<CatchingSeen>>,
    /// Per sender (by process id): the boot and version its kept report
    /// was last written with, and how many times `reports` had been
    /// cleared then. With the same shared report again, nothing changes
    /// and the report is not looked up.
    report_kept: Vec<Option<(u64, u32, u64)>>,
    /// Times `reports` was cleared.
    reports_cleared: u64,
    /// Per sender (by process id): where its entries were last found in
    /// the map's members and in the health monitor. Hints only, checked
    /// at use: a heartbeat's two lookups by name are a probe each.
    lookup_hints: Vec<(members::Hint, usize)>,
    tick_interval: SimDuration,
    key_id: String,
    settings: super::cluster::PlacementSettings,
    dead_after: SimDuration,
    planted: Planted,
    /// Data nodes the operator asked to decommission (on disk under
    /// [`LEAVING_KEY`]: every manager keeps the request across restarts).
    leaving: BTreeSet<String>,
    pending: BTreeMap<String, PendingRegistration>,
    /// Partitions with a proposal in flight: the epoch and member
    /// generation it was planned at, and when.
    outstanding: BTreeMap<u32, (u64, u64, SimTime)>,
    /// Partitions last traced `unavailable` (no in-sync replica on a live member).
    unavailable: BTreeSet<u32>,
    /// Per partition, unavailable in the map (kept for the partitions that
    /// did not change), and the members it was computed with.
    down: PerPartition<bool>,
    down_members: Option<Members>,
    /// Node-level proposals of the leader (drain, removal) in flight.
    node_proposals: BTreeMap<(String, &'static str), SimTime>,
    was_leader: bool,
    /// The last log index when this manager became leader (its no-op): the
    /// coordinator waits until everything up to it is applied, so it never
    /// plans against a map that earlier terms' entries are about to change.
    term_start_index: u64,
    /// Applied commands for deltas: `recent` follows map version `recent_base`.
    recent: VecDeque<(u64, MapCommand)>,
    recent_base: u64,
    /// The applied map last shared with the members (see `shared_map`).
    published: Option<Rc<ClusterMap>>,
    /// The map version after the last batch handed to the host.
    applied_version: u64,
    /// The newest version traced in a `map` event (this incarnation).
    traced_version: u64,
    /// The leader's copy of the map, stepped command by command to trace
    /// every member and partition change at its exact version.
    mirror: Option<ClusterMap>,
    emitted_members: BTreeMap<String, (MemberState, u32)>,
    emitted_epochs: Vec<u64>,
    /// Map messages pushed since the last health tick (see [`MAX_PUSHES_PER_TICK`]).
    pushed_this_tick: usize,
    /// The oldest map version some member may hold because a batch went
    /// only to the members it concerned (`None`: every member was pushed
    /// every batch). The next push to every member starts from it.
    lagging: Option<u64>,
    /// Members that joined in a batch pushed only to the members it
    /// concerned: their whole map goes with the next push to everyone.
    unmapped: BTreeSet<String>,
    /// Catch-up updates of map version `.0`, by the version they start
    /// from (`None`: the whole map), shared by the nodes that need the same.
    catch_ups: (u64, BTreeMap<Option<u64>, Shared<MapUpdate>>),
    /// Process ids of members, by name (looked up once).
    ids: BTreeMap<String, ProcessId>,
    /// Something the coordinator plans from changed since its last round.
    dirty: bool,
    /// Ticks since the last coordinator round (one runs at least every
    /// `PLAN_EVERY_TICKS`, for what time alone changes: settling, expired
    /// proposals).
    idle_ticks: u32,
}

/// Disk key of the data nodes the operator asked to decommission (JSON list).
pub const LEAVING_KEY: &str = "operator/leaving";

/// The coordinator runs at least every this many health ticks.
const PLAN_EVERY_TICKS: u32 = 5;

impl Manager {
    /// Manager `p` of the cluster.
    pub fn new(config: &ClusterConfig, p: ProcessId) -> Self {
        let raft_config = RaftConfig {
            election_timeout: config.timing.election_timeout,
            heartbeat: config.timing.raft_heartbeat,
            snapshot_every: config.managers.snapshot_every,
            remove_down_after: config.managers.remove_down_after,
            min_voters: config.managers.min_voters as usize,
            planted: config.planted.raft(),
            ..RaftConfig::default()
        };
        let map = ClusterMap::new(config.geometry, config.replication_factor);
        let name = config
            .processes
            .get(p.index())
            .map_or("?", |(n, _)| n.as_str());
        let interval = config.timing.heartbeat_interval;
        let coordinator = PartitionCoordinator::new(CoordinatorConfig {
            policy: config.placement.policy,
            max_imbalance: config.placement.max_imbalance,
            max_concurrent_moves: config.placement.max_concurrent_moves,
            settle: SimDuration((interval.as_micros() * 10).max(1_000_000)),
            place_anyway_after: SimDuration::from_secs(5),
            max_proposals_per_round: 128,
            remove_before_in_sync: config.planted.has(Bug::RemoveBeforeInSync),
            stale_liveness: config.planted.has(Bug::PlanAgainstStaleLiveness),
            seed_from_empty: config.planted.has(Bug::SeedFromEmptySource),
            abandon_unconfirmed: config.planted.has(Bug::AbandonUnconfirmedCopy),
            abandon_while_short: config.planted.has(Bug::AbandonReturningCopy),
        });
        Manager {
            raft: ConsensusManager::new(p, config.of_kind(Kind::Manager), raft_config, map),
            net: NetworkManager::new(
                name,
                config.cluster_key.as_bytes(),
                Limits::for_heartbeat(interval),
            )
            .trusting_everyone(config.planted.has(Bug::AcceptBadMac)),
            health: HealthMonitor::new(
                config.timing.suspect_after,
                config.timing.dead_after,
                interval,
            )
            .judging_after_pauses(config.planted.has(Bug::PausedLeaderJudges)),
            coordinator,
            recovery: RecoveryManager {
                seed_from_empty: config.planted.has(Bug::SeedFromEmptySource),
                stale_liveness: config.planted.has(Bug::PlanAgainstStaleLiveness),
                reseed_from_behind: config.planted.has(Bug::ReseedFromBehindCopy),
            },
            reports: Reports::new(),
            catching_seen: Vec::new(),
            report_kept: Vec::new(),
            reports_cleared: 0,
            lookup_hints: Vec::new(),
            tick_interval: SimDuration((interval.as_micros() / 2).max(1)),
            key_id: key_id(&config.cluster_key),
            settings: config.placement.clone(),
            dead_after: config.timing.dead_after,
            planted: config.planted,
            leaving: BTreeSet::new(),
            pending: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            unavailable: BTreeSet::new(),
            down: PerPartition::default(),
            down_members: None,
            node_proposals: BTreeMap::new(),
            was_leader: false,
            term_start_index: 0,
            recent: VecDeque::new(),
            recent_base: 0,
            published: None,
            applied_version: 0,
            traced_version: 0,
            mirror: None,
            emitted_members: BTreeMap::new(),
            emitted_epochs: Vec::new(),
            pushed_this_tick: 0,
            lagging: None,
            unmapped: BTreeSet::new(),
            catch_ups: (0, BTreeMap::new()),
            ids: BTreeMap::new(),
            dirty: true,
            idle_ticks: 0,
        }
    }

    /// The Raft component.
    pub fn raft(&self) -> &ConsensusManager<ClusterMap> {
        &self.raft
    }

    /// The Raft component, to configure before [`on_start`](Self::on_start).
    pub fn raft_mut(&mut self) -> &mut ConsensusManager<ClusterMap> {
        &mut self.raft
    }

    /// The committed map as this manager has applied it.
    pub fn map(&self) -> &ClusterMap {
        self.raft.state()
    }

    fn is_leader(&self) -> bool {
        self.raft.role() == Role::Leader
    }

    /// Starts or restarts: Raft reloads its disk; the health tick is armed.
    pub fn on_start<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        self.raft.on_start(cx);
        self.leaving = match cx.disk().get(LEAVING_KEY) {
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{LEAVING_KEY} holds no node list ({e}); it is fsynced whenever written")
            }),
            Ok(None) => BTreeSet::new(),
            Err(e) => panic!("{e}: {LEAVING_KEY} is fsynced whenever written and cannot be torn"),
        };
        cx.trace(StackEvent::Credentials {
            key_id: self.key_id.clone(),
        });
        let map = self.raft.state();
        cx.trace(StackEvent::PlacementConfig {
            policy: self.settings.policy.as_str().to_string(),
            replication_factor: map.replication_factor,
            max_imbalance: self.settings.max_imbalance,
            max_concurrent_moves: self.settings.max_concurrent_moves,
            partitions: map.partitions.len() as u32,
            dead_after_us: self.dead_after.as_micros(),
        });
        self.recent.clear();
        self.recent_base = map.version;
        self.applied_version = map.version;
        cx.set_timer(self.tick_interval, Timer::Health);
        self.after_input(cx);
    }

    /// A message from another manager or a node.
    pub fn on_message<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: Msg,
    ) {
        self.health.notice_time(cx.now());
        match msg {
            Msg::Raft(m) => self.raft.on_message(cx, from, m),
            Msg::Control(env) => {
                if let Some(Incoming::Request { from, req, body }) = self.net.open(cx, from, env) {
                    self.on_request(cx, from, req, body);
                }
            }
            Msg::Operator(Operator::Leave { node }) => {
                if self.leaving.insert(node) {
                    let list = serde_json::to_vec(&self.leaving).expect("node names serialize");
                    cx.disk().put(LEAVING_KEY, list);
                    cx.disk().fsync();
                }
            }
            Msg::Operator(Operator::Manager { manager, member }) => {
                if let Some(p) = cx.lookup(&manager) {
                    self.raft.want_member(cx, p, member);
                }
            }
            Msg::Operator(Operator::Drain { manager, drained }) => {
                if let Some(p) = cx.lookup(&manager) {
                    self.raft.drain(cx, p, drained);
                }
            }
            Msg::Beat(_) | Msg::Transfer(_) | Msg::Data(_) => {}
        }
        self.after_input(cx);
    }

    /// A timer fired.
    pub fn on_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        timer: Timer,
    ) {
        self.health.notice_time(cx.now());
        match timer {
            Timer::Raft(t) => self.raft.on_timer(cx, t),
            Timer::Net(t) => {
                let _ = self.net.on_timer(cx, t);
            }
            Timer::Health => {
                self.pushed_this_tick = 0;
                if self.is_leader() {
                    self.lead(cx);
                }
                cx.set_timer(self.tick_interval, Timer::Health);
            }
            _ => {}
        }
        self.after_input(cx);
    }

    fn on_request<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        req: u64,
        body: Control,
    ) {
        if !self.is_leader() {
            if matches!(body, Control::Register { .. } | Control::Heartbeat { .. }) {
                let leader = self.raft.leader();
                self.net.reply(cx, from, req, Control::Redirect { leader });
            }
            return;
        }
        match body {
            Control::Register {
                zone,
                capacity,
                boot,
            } => {
                let node = cx.name(from).to_string();
                self.register_node(cx, from, req, node, zone, capacity, boot);
            }
            Control::Heartbeat {
                seq,
                boot,
                version,
                echo,
                replicas,
            } => {
                // Borrowed, not copied: every use is before the reply.
                let node = cx.name(from);
                let slot = from.index();
                if self.lookup_hints.len() <= slot {
                    self.lookup_hints.resize(slot + 1, Default::default());
                }
                let hints = &mut self.lookup_hints[slot];
                let map = self.raft.state();
                let member = map
                    .members
                    .get_hinted(node, &mut hints.0)
                    .is_some_and(|m| m.boot == boot);
                let leader_version = map.version;
                // A decommissioned node that missed the map removing it
                // still heartbeats, holding replicas it believes in sync:
                // the map tells it to let go.
                let decommissioned =
                    !member && !map.members.contains_key(node) && self.leaving.contains(node);
                if member {
                    let now = cx.now();
                    self.health.heard_hinted(node, now, echo, &mut hints.1);
                    // A replica that finished catching up is news for recovery.
                    let listed_catching = |p: u32| {
                        map.partitions.get(p as usize).is_some_and(|c| {
                            c.replicas.iter().any(|r| !r.in_sync)
                                && c.replicas.iter().any(|r| !r.in_sync && r.node == node)
                        })
                    };
                    if self.catching_seen.len() <= slot {
                        self.catching_seen.resize_with(slot + 1, || None);
                    }
                    // The report kept for this node was built from this
                    // very shared value: only its header is new.
                    let same_report = self.catching_seen[slot]
                        .as_ref()
                        .is_some_and(|(seen, _, _)| seen.same(&replicas));
                    let seen = match &self.catching_seen[slot] {
                        Some((seen, v, catching))
                            if *v == leader_version && seen.same(&replicas) =>
                        {
                            Some(*catching)
                        }
                        _ => None,
                    };
                    let catching = seen.unwrap_or_else(|| {
                        replicas
                            .iter()
                            .any(|r| r.in_sync && listed_catching(r.partition))
                    });
                    if seen.is_none() {
                        self.catching_seen[slot] =
                            Some((replicas.clone(), leader_version, catching));
                    }
                    if catching {
                        self.dirty = true;
                    }
                    // The node's previous report is overwritten in place
                    // (no allocation per heartbeat once it has one), its
                    // replicas only when the node sent another report.
                    if self.report_kept.len() <= slot {
                        self.report_kept.resize(slot + 1, None);
                    }
                    let kept = Some((self.reports_cleared, boot, version));
                    if same_report && self.report_kept[slot] == kept {
                        // Written with all of this already.
                    } else if same_report && let Some(report) = self.reports.get_mut(node) {
                        report.boot = boot;
                        report.version = version;
                    } else {
                        self.rebuild_report(node.to_string(), boot, version, &replicas);
                    }
                    self.report_kept[slot] = kept;
                }
                // The report just kept is this heartbeat's: a node that
                // flags no stray has nothing to release (no lookup).
                let release = match member && replicas.iter().any(|r| r.stray) {
                    true => RecoveryManager::releasable(
                        self.raft.state(),
                        &self.reports,
                        node,
                        self.planted.has(Bug::AbandonUnconfirmedCopy),
                    ),
                    false => Vec::new(),
                };
                self.net.reply(
                    cx,
                    from,
                    req,
                    Control::HeartbeatAck {
                        seq,
                        version: leader_version,
                        grace: self.health.grace(),
                        member,
                        release,
                    },
                );
                if (member || decommissioned) && version < leader_version {
                    self.send_catch_up(cx, from, version);
                }
            }
            _ => {}
        }
    }

    /// Overwrites `node`'s report with a heartbeat's.
    fn rebuild_report(
        &mut self,
        node: String,
        boot: u32,
        version: u64,
        replicas: &[ReplicaReport],
    ) {
        let report = self.reports.entry(node).or_default();
        report.boot = boot;
        report.version = version;
        report.replicas.clear();
        report.replicas.extend(replicas.iter().map(|r| Held {
            partition: r.partition,
            epoch: r.epoch,
            complete: r.in_sync,
            stored: r.stored,
            synced: r.synced,
            damaged: r.damaged,
            stray: r.stray,
        }));
        report.replicas.sort_unstable();
        report.strays = replicas.iter().any(|r| r.stray);
    }

    /// `register_node`: a node asks to join (or to rejoin with a new boot).
    /// A member with this boot is answered at once; otherwise `AddNode` is
    /// proposed and the node answered when it commits.
    #[allow(clippy::too_many_arguments)]
    pub fn register_node<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        req: u64,
        node: String,
        zone: String,
        capacity: u32,
        boot: u32,
    ) {
        let map = self.raft.state();
        let version = map.version;
        if map.members.get(&node).is_some_and(|m| m.boot == boot) {
            self.net
                .reply(cx, from, req, Control::Registered { version });
            return;
        }
        if !map.members.contains_key(&node) && self.leaving.contains(&node) {
            // Decommissioned: it does not come back.
            return;
        }
        let now = cx.now();
        let fresh = match self.pending.get(&node) {
            Some(p) => p.boot != boot || now.saturating_since(p.proposed_at) >= PROPOSAL_TIMEOUT,
            None => true,
        };
        if self.pending.len() >= MAX_PENDING_REGISTRATIONS && !self.pending.contains_key(&node) {
            return;
        }
        let proposed_at = if fresh {
            let cmd = MapCommand::AddNode {
                node: node.clone(),
                zone,
                capacity,
                boot,
            };
            if self.raft.propose(cx, cmd).is_err() {
                return;
            }
            now
        } else {
            self.pending.get(&node).map_or(now, |p| p.proposed_at)
        };
        self.pending.insert(
            node,
            PendingRegistration {
                from,
                req,
                boot,
                proposed_at,
            },
        );
    }

    /// `deregister_node`: the leader's step towards decommissioning `node`
    /// (the operator asked for it): drain it, and remove it once it hosts
    /// nothing. Returns the command proposed, if any.
    pub fn deregister_node<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        node: &str,
    ) -> Option<MapCommand> {
        let map = self.raft.state();
        let cmd = match map.state_of(node)? {
            MemberState::Alive => MapCommand::Drain {
                node: node.to_string(),
            },
            MemberState::Draining | MemberState::Dead if map.partitions_of(node).is_empty() => {
                MapCommand::RemoveNode {
                    node: node.to_string(),
                }
            }
            _ => return None,
        };
        let kind = match cmd {
            MapCommand::Drain { .. } => "drain",
            _ => "remove",
        };
        let now = cx.now();
        let key = (node.to_string(), kind);
        if self
            .node_proposals
            .get(&key)
            .is_some_and(|t| now.saturating_since(*t) < PROPOSAL_TIMEOUT)
        {
            return None;
        }
        self.raft.propose(cx, cmd.clone()).ok()?;
        self.node_proposals.insert(key, now);
        Some(cmd)
    }

    /// `distribute_partitions`: one round of the coordinator (initial
    /// placement, recovery, rebalancing); proposes what it plans.
    pub fn distribute_partitions<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let now = cx.now();
        let map = self.raft.state();
        // Forget proposals that will not commit (or did, as no-ops): the
        // partition moved on, a member changed since they were planned (they
        // are ignored when applied), or they timed out. Each is planned anew.
        let mut lost = Vec::new();
        self.outstanding.retain(|p, (epoch, generation, at)| {
            let keep = map
                .partitions
                .get(*p as usize)
                .is_some_and(|c| c.epoch == *epoch)
                && map.generation == *generation
                && now.saturating_since(*at) < PROPOSAL_TIMEOUT;
            if !keep {
                lost.push(*p);
            }
            keep
        });
        let mut events = Vec::new();
        for p in lost {
            self.coordinator.forget_planned(p, &mut events);
        }
        let busy: BTreeSet<u32> = self.outstanding.keys().copied().collect();
        // Replicas on members the monitor doubts, or whose rejoin (which
        // demotes their replicas) is in flight, cannot be counted on.
        let mut unhealthy = self.health.unhealthy();
        unhealthy.extend(self.pending.keys().cloned());
        self.coordinator.set_unhealthy(unhealthy);
        self.coordinator.set_unconfirmed(self.health.unconfirmed());
        let proposals =
            self.coordinator
                .plan(now, map, &self.reports, &self.recovery, &busy, &mut events);
        if !self
            .down_members
            .as_ref()
            .is_some_and(|m| m.same(&map.members))
        {
            self.down.clear();
            self.down_members = Some(map.members.clone());
        }
        let down = self.down.update(&map.partitions, |_, c| {
            (c.epoch > 0 || !c.replicas.is_empty())
                && !c
                    .replicas
                    .iter()
                    .any(|r| r.in_sync && map.is_usable(&r.node))
        });
        let unavailable: BTreeSet<u32> = (0..map.partitions.len() as u32)
            .filter(|&p| down[p as usize])
            .collect();
        for &p in unavailable.symmetric_difference(&self.unavailable) {
            events.push(StackEvent::Availability {
                partition: p,
                available: !unavailable.contains(&p),
            });
        }
        self.unavailable = unavailable;
        for prop in proposals {
            match self.raft.propose(cx, prop.cmd) {
                Ok(_) => {
                    self.outstanding
                        .insert(prop.partition, (prop.epoch, prop.generation, now));
                }
                Err(
                    ProposeError::Busy { .. }
                    | ProposeError::NotLeader { .. }
                    | ProposeError::Transferring,
                ) => {
                    self.coordinator.forget_planned(prop.partition, &mut events);
                }
            }
        }
        for e in events {
            cx.trace(e);
        }
    }

    /// The leader's periodic duties.
    fn lead<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let now = cx.now();
        let (transitions, proposals) = self.health.tick(now, self.raft.state());
        for t in transitions {
            cx.trace(StackEvent::Health {
                node: t.node,
                state: t.health,
            });
        }
        for cmd in proposals {
            if let MapCommand::MarkDead { node } = &cmd
                && self.planted.has(Bug::HealthSkipsConsensus)
            {
                self.strip_replicas(cx, node);
                continue;
            }
            // A refused proposal (lost leadership, too many in flight) is
            // proposed again at a later tick.
            let _ = self.raft.propose(cx, cmd);
        }
        let leaving: Vec<String> = self.leaving.iter().cloned().collect();
        for node in leaving {
            let _ = self.deregister_node(cx, &node);
        }
        self.idle_ticks += 1;
        let caught_up = self.raft.last_applied() >= self.term_start_index;
        if caught_up && (self.dirty || self.idle_ticks >= PLAN_EVERY_TICKS) {
            self.dirty = false;
            self.idle_ticks = 0;
            self.distribute_partitions(cx);
        }
    }

    /// The `health-skips-consensus` planted bug: the leader acts on its own
    /// view of a dead node, taking its replicas away at once instead of
    /// committing `MarkDead` and letting recovery replace them first.
    fn strip_replicas<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        node: &str,
    ) {
        let now = cx.now();
        let map = self.raft.state();
        let mut cmds = Vec::new();
        for p in map.partitions_of(node) {
            if self.outstanding.contains_key(&p) {
                continue;
            }
            let c = &map.partitions[p as usize];
            cmds.push((p, c.epoch, without(p, c, node, map, None)));
        }
        let generation = map.generation;
        for (p, epoch, cmd) in cmds {
            if self.raft.propose(cx, cmd).is_ok() {
                self.outstanding.insert(p, (epoch, generation, now));
            }
        }
    }

    /// The applied map as one immutable value that every update of this
    /// version shares (copied once per version, not per recipient).
    fn shared_map(&mut self) -> Rc<ClusterMap> {
        let map = self.raft.state();
        match &self.published {
            Some(m) if m.version == map.version => Rc::clone(m),
            _ => {
                let m = Rc::new(map.clone());
                self.published = Some(Rc::clone(&m));
                m
            }
        }
    }

    /// Sends `to` (at map version `have`) what it misses: a delta if the
    /// recent commands reach back that far, else the whole map.
    fn send_catch_up<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        to: ProcessId,
        have: u64,
    ) {
        let map = self.raft.state();
        let version = map.version;
        // `recent` is in index order: the commands after `have` are a suffix.
        let newer = self.recent.partition_point(|(i, _)| *i <= have);
        let delta = have >= self.recent_base
            && self.applied_version == version
            && self.recent.len() - newer <= MAX_DELTA_COMMANDS;
        if delta && newer == self.recent.len() {
            return;
        }
        // Nodes behind by the same versions get the same update: one value
        // (and one digest) per starting version and map version, not one
        // per node and heartbeat.
        if self.catch_ups.0 != version || self.catch_ups.1.len() >= MAX_CATCH_UPS {
            self.catch_ups = (version, BTreeMap::new());
        }
        let key = delta.then_some(have);
        let update = match self.catch_ups.1.get(&key) {
            Some(u) => u.clone(),
            None => {
                let update = if delta {
                    MapUpdate::Delta {
                        base: have,
                        commands: self.recent.range(newer..).cloned().collect(),
                        result: self.shared_map(),
                        naming: Default::default(),
                    }
                } else {
                    MapUpdate::Full(self.shared_map())
                };
                let u = Shared::new(update);
                self.catch_ups.1.insert(key, u.clone());
                u
            }
        };
        self.net.push(cx, &[to], Control::MapUpdate(update));
    }

    /// After every input: react to leadership changes and to applied entries.
    fn after_input<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let leader = self.is_leader();
        let now = cx.now();
        if leader && !self.was_leader {
            self.term_start_index = self.raft.last_index();
            self.dirty = true;
            self.health
                .on_leadership(now, self.raft.state(), self.raft.term());
            self.coordinator.on_leadership(now);
            self.reports.clear();
            self.reports_cleared += 1;
            self.outstanding.clear();
            self.unavailable.clear();
            self.node_proposals.clear();
            self.mirror = None;
        }
        if !leader {
            self.pending.clear();
            self.outstanding.clear();
            self.mirror = None;
            self.lagging = None;
            self.unmapped.clear();
        }
        self.was_leader = leader;

        let applied = self.raft.take_applied();
        let installed = self.raft.take_snapshot_installed().is_some();
        if !applied.is_empty() || installed {
            self.dirty = true;
        }
        let base = self.applied_version;
        if installed {
            // The state jumped: the recent history no longer leads to it.
            self.recent.clear();
            self.recent_base = self.raft.state().version;
            self.mirror = None;
            self.lagging = None;
            self.unmapped.clear();
        } else {
            for (i, cmd) in &applied {
                self.recent.push_back((*i, cmd.clone()));
            }
            while self.recent.len() > MAX_RECENT {
                if let Some((i, _)) = self.recent.pop_front() {
                    self.recent_base = i;
                }
            }
        }
        let version = self.raft.state().version;
        self.applied_version = version;
        if version > self.traced_version {
            self.traced_version = version;
            cx.trace(StackEvent::Map { version });
        }
        if !leader {
            return;
        }

        // Answer registrations that committed; clear partitions' proposals.
        for (_, cmd) in &applied {
            match cmd {
                MapCommand::AddNode { node, boot, .. } => {
                    if let Some(p) = self.pending.get(node)
                        && p.boot == *boot
                        && let Some(p) = self.pending.remove(node)
                    {
                        self.net
                            .reply(cx, p.from, p.req, Control::Registered { version });
                    }
                }
                MapCommand::SetReplicas { partition, .. }
                | MapCommand::PromotePrimary { partition, .. } => {
                    self.outstanding.remove(partition);
                }
                MapCommand::RemoveNode { node } | MapCommand::Drain { node } => {
                    self.node_proposals.retain(|(n, _), _| n != node);
                }
                _ => {}
            }
        }

        // Trace what changed, command by command, and note the members the
        // batch concerns (`None`: not known, every member).
        let mut concerned: Option<BTreeSet<String>> = None;
        match self.mirror.take() {
            Some(mut mirror) if !installed => {
                let mut nodes = BTreeSet::new();
                for (i, cmd) in &applied {
                    let (partitions, member) = step_scope(&mirror, cmd);
                    note_nodes(&mut nodes, &mirror, &partitions, member);
                    mirror.apply(*i, cmd);
                    note_nodes(&mut nodes, &mirror, &partitions, None);
                    self.emit_partitions(cx, &mirror, Some(&partitions));
                    if let Some(node) = member {
                        self.emit_member(cx, &mirror, node);
                    }
                }
                self.mirror = Some(mirror);
                concerned = Some(nodes);
            }
            _ => {
                // A whole-map catch-up (a new leader) states members first,
                // so that replicas are judged against the members of the
                // same map.
                self.emitted_members.clear();
                self.emitted_epochs = vec![0; self.raft.state().partitions.len()];
                let state = self.raft.state().clone();
                self.emit_members(cx, &state);
                self.emit_partitions(cx, &state, None);
                self.mirror = Some(state);
            }
        }

        if !installed {
            self.push_batch(cx, base, applied, concerned.as_ref());
        }
    }

    /// Pushes an applied batch (`base` → the current version) to the
    /// members: the whole map to a node that (re)joined in it (it has no
    /// map to apply a delta to); to the others, the commands since the
    /// oldest version one of them may hold — to every member while the
    /// tick's budget lasts, else only to those the batch concerns. With
    /// no batch, a push to every member of what some were not pushed.
    fn push_batch<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        base: u64,
        applied: Vec<(u64, MapCommand)>,
        concerned: Option<&BTreeSet<String>>,
    ) {
        let members = self.raft.state().members.len();
        let everyone = self.pushed_this_tick == 0
            || self.pushed_this_tick + members <= MAX_PUSHES_PER_TICK
            || concerned.is_none();
        if applied.is_empty()
            && !(everyone && (self.lagging.is_some() || !self.unmapped.is_empty()))
        {
            return;
        }
        let joined: BTreeSet<&String> = applied
            .iter()
            .filter_map(|(_, c)| match c {
                MapCommand::AddNode { node, .. } => Some(node),
                _ => None,
            })
            .collect();
        let shared = self.shared_map();
        let map = self.raft.state();
        // In id order, as the members are.
        let names: Vec<&String> = match concerned {
            Some(c) if !everyone => c
                .iter()
                .chain(joined.iter().copied())
                .collect::<BTreeSet<&String>>()
                .into_iter()
                .collect(),
            _ => map.members.keys().collect(),
        };
        let mut to = Vec::with_capacity(names.len());
        let mut fresh = Vec::new();
        for n in names {
            if !everyone {
                if !map.members.contains_key(n) || self.unmapped.contains(n) {
                    continue;
                }
                if joined.contains(n) {
                    // Its whole map waits for the next push to everyone:
                    // one map (and one digest) per tick, not per batch.
                    self.unmapped.insert(n.clone());
                    continue;
                }
            }
            let id = match self.ids.get(n) {
                Some(id) => *id,
                None => {
                    let Some(id) = cx.lookup(n) else { continue };
                    self.ids.insert(n.clone(), id);
                    id
                }
            };
            if joined.contains(n) || self.unmapped.contains(n) {
                fresh.push(id);
            } else {
                to.push(id);
            }
        }
        if everyone {
            self.unmapped.clear();
        }
        self.pushed_this_tick += to.len() + fresh.len();
        if !fresh.is_empty() {
            let full = MapUpdate::Full(Rc::clone(&shared));
            self.net
                .push(cx, &fresh, Control::MapUpdate(Shared::new(full)));
        }
        let from = self.lagging.map_or(base, |l| l.min(base));
        self.lagging = if everyone { None } else { Some(from) };
        let update = if from == base {
            MapUpdate::Delta {
                base,
                commands: applied,
                result: shared,
                naming: Default::default(),
            }
        } else {
            // Some member may be at `from`: the commands since then, if
            // they are still at hand and few, else the whole map.
            let newer = self.recent.partition_point(|(i, _)| *i <= from);
            if from >= self.recent_base && self.recent.len() - newer <= MAX_DELTA_COMMANDS {
                MapUpdate::Delta {
                    base: from,
                    commands: self.recent.range(newer..).cloned().collect(),
                    result: shared,
                    naming: Default::default(),
                }
            } else {
                MapUpdate::Full(shared)
            }
        };
        self.net
            .push(cx, &to, Control::MapUpdate(Shared::new(update)));
    }

    /// Traces the partitions of `map` whose epoch changed since last traced:
    /// those `only` lists (in order), or all.
    fn emit_partitions<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        map: &ClusterMap,
        only: Option<&[u32]>,
    ) {
        if self.emitted_epochs.len() != map.partitions.len() {
            self.emitted_epochs = vec![0; map.partitions.len()];
        }
        let range: Vec<usize> = match only {
            Some(list) => list.iter().map(|&p| p as usize).collect(),
            None => (0..map.partitions.len()).collect(),
        };
        for i in range {
            let Some(c) = map.partitions.get(i) else {
                continue;
            };
            if self.emitted_epochs[i] == c.epoch {
                continue;
            }
            self.emitted_epochs[i] = c.epoch;
            cx.trace(StackEvent::Partition {
                partition: i as u32,
                epoch: c.epoch,
                version: map.version,
                in_sync: c
                    .replicas
                    .iter()
                    .filter(|r| r.in_sync)
                    .map(|r| r.node.to_string())
                    .collect(),
                catching_up: c
                    .replicas
                    .iter()
                    .filter(|r| !r.in_sync)
                    .map(|r| r.node.to_string())
                    .collect(),
                primary: c.primary.as_ref().map(|n| n.to_string()),
            });
        }
    }

    /// A new leader's catch-up: every member not traced yet is named by
    /// its state (not as joined); members gone since are traced removed.
    fn emit_members<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        map: &ClusterMap,
    ) {
        for (node, m) in &map.members {
            let before = self.emitted_members.insert(node.clone(), (m.state, m.boot));
            if let Some(state) = member_change(before, m, true) {
                trace_member(cx, node, state, m, map.version);
            }
        }
        let gone: Vec<String> = self
            .emitted_members
            .keys()
            .filter(|n| !map.members.contains_key(n))
            .cloned()
            .collect();
        for node in gone {
            self.emitted_members.remove(&node);
            trace_removed(cx, node, map.version);
        }
    }

    /// The change of member `node` by one command, if any: only the member
    /// a command names can change, so one lookup, not a pass over every
    /// member (which made registering n nodes cost n² steps).
    fn emit_member<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        map: &ClusterMap,
        node: &str,
    ) {
        match map.members.get(node) {
            Some(m) => {
                let before = match self.emitted_members.get_mut(node) {
                    Some(e) => Some(std::mem::replace(e, (m.state, m.boot))),
                    None => {
                        self.emitted_members
                            .insert(node.to_string(), (m.state, m.boot));
                        None
                    }
                };
                if let Some(state) = member_change(before, m, false) {
                    trace_member(cx, node, state, m, map.version);
                }
            }
            None => {
                if self.emitted_members.remove(node).is_some() {
                    trace_removed(cx, node.to_string(), map.version);
                }
            }
        }
    }
}

/// What one command may change in the leader's traced view of the map,
/// judged on the map before it applies: the partitions whose epoch it may
/// raise (in order) and the member it names. A removal or a rejoin (a new
/// boot, which demotes) touches the partitions naming the node; a
/// placement command, its one partition; anything else, no partition.
fn step_scope<'c>(map: &ClusterMap, cmd: &'c MapCommand) -> (Vec<u32>, Option<&'c str>) {
    let naming = |node: &str| -> Vec<u32> {
        map.partitions
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.primary.as_deref() == Some(node) || c.replicas.iter().any(|r| r.node == node)
            })
            .map(|(p, _)| p as u32)
            .collect()
    };
    match cmd {
        MapCommand::SetReplicas { partition, .. }
        | MapCommand::PromotePrimary { partition, .. } => (vec![*partition], None),
        MapCommand::AddNode { node, boot, .. } => {
            let rejoin = map.members.get(node).is_some_and(|m| m.boot != *boot);
            (if rejoin { naming(node) } else { Vec::new() }, Some(node))
        }
        MapCommand::RemoveNode { node } => (naming(node), Some(node)),
        MapCommand::MarkDead { node }
        | MapCommand::MarkAlive { node }
        | MapCommand::Drain { node } => (Vec::new(), Some(node)),
    }
}

/// Adds to `nodes` the member `member` and the nodes that `partitions`
/// of `map` name (replicas and primary).
fn note_nodes(
    nodes: &mut BTreeSet<String>,
    map: &ClusterMap,
    partitions: &[u32],
    member: Option<&str>,
) {
    if let Some(m) = member {
        nodes.insert(m.to_string());
    }
    for &p in partitions {
        if let Some(c) = map.partitions.get(p as usize) {
            for r in &c.replicas {
                if !nodes.contains(r.node.as_str()) {
                    nodes.insert(r.node.to_string());
                }
            }
            if let Some(primary) = &c.primary
                && !nodes.contains(primary.as_str())
            {
                nodes.insert(primary.to_string());
            }
        }
    }
}

/// The `member` event for a member last traced as `before` (state, boot),
/// if it changed; `restating` names a member not traced yet by its state.
fn member_change(
    before: Option<(MemberState, u32)>,
    m: &super::grid::Member,
    restating: bool,
) -> Option<MemberChange> {
    match before {
        Some((s, b)) if s == m.state && b == m.boot => None,
        Some((_, b)) if b != m.boot => Some(MemberChange::Joined),
        Some(_) => Some(match m.state {
            MemberState::Alive => MemberChange::Alive,
            MemberState::Dead => MemberChange::Dead,
            MemberState::Draining => MemberChange::Draining,
        }),
        None => Some(match m.state {
            MemberState::Alive if restating => MemberChange::Alive,
            MemberState::Alive => MemberChange::Joined,
            MemberState::Dead => MemberChange::Dead,
            MemberState::Draining => MemberChange::Draining,
        }),
    }
}

fn trace_member<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
    cx: &mut Cx<'_, P>,
    node: &str,
    state: MemberChange,
    m: &super::grid::Member,
    version: u64,
) {
    cx.trace(StackEvent::Member {
        node: node.to_string(),
        state,
        zone: m.zone.clone(),
        capacity: m.capacity,
        version,
    });
}

fn trace_removed<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
    cx: &mut Cx<'_, P>,
    node: String,
    version: u64,
) {
    cx.trace(StackEvent::Member {
        node,
        state: MemberChange::Removed,
        zone: String::new(),
        capacity: 0,
        version,
    });
}

impl From<RaftMsg<MapCommand>> for Msg {
    fn from(m: RaftMsg<MapCommand>) -> Msg {
        Msg::Raft(m)
    }
}

impl From<RaftTimer> for Timer {
    fn from(t: RaftTimer) -> Timer {
        Timer::Raft(t)
    }
}
