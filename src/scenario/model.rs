//! The resolved scenario: what a scenario file means once every default is
//! filled in and every check has passed.
//!
//! These are plain data with public fields, so a scenario can also be built
//! or edited in code (the shrinker removes events and re-runs). Every type
//! serializes to readable JSON for the trace header: durations as `"150ms"`,
//! instants as microseconds, targets as the strings a scenario file uses
//! (`"n3"`, `"leader"`, `"primary:4"`), actions as `{"crash": "n3"}`.
//!
//! The `Default` impls carry the documented defaults of DESIGN §5; the
//! validator (`validate/`) starts from them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::sim::time::{SimDuration, SimTime};

/// A whole scenario: cluster shape, protocol knobs, workload, faults and
/// expectations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Short name, used in reports and the trace header.
    pub name: String,
    /// What the scenario exercises (documentation only).
    pub description: String,
    /// The default root seed; `--seed` overrides it.
    pub seed: u64,
    /// How long the run lasts in virtual time.
    pub duration: SimDuration,
    /// Process counts, zones and the cluster key.
    pub cluster: Cluster,
    /// Grid geometry and replication factor.
    pub grid: Grid,
    /// Placement policy knobs.
    pub placement: Placement,
    /// Failure-detector and Raft timing.
    pub timing: Timing,
    /// The consensus group's upkeep (`[managers]`); left out of the
    /// resolved configuration when every value is the default.
    #[serde(skip_serializing_if = "Managers::is_default")]
    pub managers: Managers,
    /// Network defaults.
    pub network: Network,
    /// Disk fault options.
    pub disk: DiskConfig,
    /// The client workload, if any.
    pub workload: Option<Workload>,
    /// The scripted fault and admin timeline (`[[events]]`), in file order.
    pub events: Vec<EventSpec>,
    /// Swarm faults drawn from the `faults` streams, if any.
    pub random: Option<RandomSpec>,
    /// What must hold (or must fail) at the end of the run.
    pub expect: Expect,
}

/// `[cluster]`: how many processes of each kind, and their environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Managers `m1..mK` (the consensus group), 1..=7.
    pub managers: u32,
    /// Data nodes `n1..nN` at start.
    pub nodes: u32,
    /// Workload clients `c1..cC`.
    pub clients: u32,
    /// Zones, assigned round-robin to data nodes.
    pub zones: Vec<String>,
    /// The shared key for message authentication.
    pub cluster_key: String,
    /// What the processes run: the partition manager (`"partsim"`, the
    /// default) or the kernel's demo heartbeat mesh (`"demo"`, for testing
    /// the kernel's faults on a simple, regular workload).
    pub stack: StackKind,
}

/// What the processes of a scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// The partition manager: Raft managers, data nodes, clients.
    Partsim,
    /// Every process beats to every other each `heartbeat_interval`.
    Demo,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            managers: 3,
            nodes: 3,
            clients: 0,
            zones: vec!["a".to_string()],
            cluster_key: "partsim-default-key".to_string(),
            stack: StackKind::Partsim,
        }
    }
}

impl Cluster {
    /// Manager ids `m1..mK`.
    pub fn manager_ids(&self) -> Vec<String> {
        (1..=self.managers).map(|i| format!("m{i}")).collect()
    }
    /// Data-node ids at start, `n1..nN`.
    pub fn node_ids(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("n{i}")).collect()
    }
    /// Client ids `c1..cC`.
    pub fn client_ids(&self) -> Vec<String> {
        (1..=self.clients).map(|i| format!("c{i}")).collect()
    }
    /// The zone of the initial data node `n{index}` (1-based), round-robin.
    pub fn zone_of_node(&self, index: u32) -> &str {
        if self.zones.is_empty() || index == 0 {
            return "";
        }
        &self.zones[(index as usize - 1) % self.zones.len()]
    }
}

/// `[grid]`: a `width × height` grid of cells cut into `tile` partitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grid {
    /// Cells across.
    pub width: u32,
    /// Cells down.
    pub height: u32,
    /// Tile size `[tile_width, tile_height]`; each tile is a partition.
    pub tile: [u32; 2],
    /// Replicas per partition (at most the node count).
    pub replication_factor: u32,
}

impl Default for Grid {
    fn default() -> Self {
        Grid {
            width: 16,
            height: 16,
            tile: [4, 4],
            replication_factor: 3,
        }
    }
}

impl Grid {
    /// Tiles across.
    pub fn tiles_x(&self) -> u32 {
        self.width.checked_div(self.tile[0]).unwrap_or(0)
    }
    /// Tiles down.
    pub fn tiles_y(&self) -> u32 {
        self.height.checked_div(self.tile[1]).unwrap_or(0)
    }
    /// The number of partitions `p0..pP-1`.
    pub fn partition_count(&self) -> u64 {
        u64::from(self.tiles_x()) * u64::from(self.tiles_y())
    }
}

/// The placement policies that ship (`[placement] policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementPolicyName {
    /// `"rendezvous-bounded"`: rendezvous hashing with bounded loads (default).
    RendezvousBounded,
    /// `"least-loaded"`: each replica on the least loaded eligible node.
    LeastLoaded,
}

impl PlacementPolicyName {
    /// The spelling used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementPolicyName::RendezvousBounded => "rendezvous-bounded",
            PlacementPolicyName::LeastLoaded => "least-loaded",
        }
    }
}

impl fmt::Display for PlacementPolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[placement]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Which policy computes the target placement.
    pub policy: PlacementPolicyName,
    /// The most loaded node may carry at most `(1 + max_imbalance) × mean`.
    pub max_imbalance: f64,
    /// Moves in flight at once.
    pub max_concurrent_moves: u32,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            policy: PlacementPolicyName::RendezvousBounded,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
        }
    }
}

/// `[timing]`: failure detection and Raft timers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// How often a node heartbeats the leader.
    pub heartbeat_interval: SimDuration,
    /// Silence after which a node is suspected.
    pub suspect_after: SimDuration,
    /// Silence after which a node is declared dead.
    pub dead_after: SimDuration,
    /// Raft election timeout range `[min, max]`.
    pub election_timeout: [SimDuration; 2],
    /// Raft leader heartbeat interval.
    pub raft_heartbeat: SimDuration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_interval: SimDuration::from_millis(100),
            suspect_after: SimDuration::from_millis(500),
            dead_after: SimDuration::from_secs(1),
            election_timeout: [SimDuration::from_millis(300), SimDuration::from_millis(600)],
            raft_heartbeat: SimDuration::from_millis(50),
        }
    }
}

/// `[managers]`: how the consensus group keeps itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Managers {
    /// Committed entries between two snapshots of a manager's log.
    pub snapshot_every: u64,
    /// Dead-server cleanup: the leader removes a voter it has not heard
    /// from for this long (absent: never).
    pub remove_down_after: Option<SimDuration>,
    /// Cleanup leaves at least this many voters (absent: a majority of
    /// `[cluster] managers`).
    pub min_voters: Option<u32>,
}

impl Default for Managers {
    fn default() -> Self {
        Managers {
            snapshot_every: 256,
            remove_down_after: None,
            min_voters: None,
        }
    }
}

impl Managers {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == Managers::default()
    }

    /// The floor cleanup keeps, for a group bootstrapped with `managers`.
    pub fn min_voters_for(&self, managers: u32) -> u32 {
        self.min_voters.unwrap_or(managers / 2 + 1)
    }
}

/// What happens to messages addressed to a paused process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PauseMode {
    /// `"delay"`: held and delivered when the process resumes (default).
    Delay,
    /// `"drop"`: dropped.
    Drop,
}

impl PauseMode {
    /// The spelling used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseMode::Delay => "delay",
            PauseMode::Drop => "drop",
        }
    }
}

/// `[network]`: defaults for every link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// One-way latency range `[min, max]`, drawn uniformly per message.
    pub latency: [SimDuration; 2],
    /// Probability a message is dropped.
    pub drop: f64,
    /// Probability a message is delivered twice.
    pub duplicate: f64,
    /// Probability a message gets an extra delay of up to twice the maximum
    /// latency (so it overtakes, or is overtaken by, later messages).
    pub reorder: f64,
    /// Messages to a paused process: delayed until it resumes, or dropped.
    pub pause_messages: PauseMode,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: [SimDuration::from_millis(1), SimDuration::from_millis(5)],
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            pause_messages: PauseMode::Delay,
        }
    }
}

/// `[disk]`: simulated storage faults.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DiskConfig {
    /// A crash tears the last unsynced write (a partial record, which the
    /// checksum must catch) instead of dropping it cleanly.
    pub torn_writes: bool,
    /// Chance that a write on a data node stores its record with flipped bits.
    #[serde(skip_serializing_if = "is_zero")]
    pub corruption: f64,
    /// Chance that a write on a data node lands on another record.
    #[serde(skip_serializing_if = "is_zero")]
    pub misdirected: f64,
    /// How long each write and fsync on a data node takes (uniform range).
    #[serde(skip_serializing_if = "is_instant")]
    pub latency: [SimDuration; 2],
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_instant(r: &[SimDuration; 2]) -> bool {
    r[1] == SimDuration::ZERO
}

/// How clients choose the cells they read and write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDist {
    /// `"uniform"`: every cell equally likely.
    Uniform,
    /// `"zipf:S"`: Zipf-distributed with exponent `S > 0`.
    Zipf(f64),
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDist::Uniform => f.write_str("uniform"),
            KeyDist::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

impl Serialize for KeyDist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[workload]`: what the clients do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// Operations per second over all clients.
    pub rate: f64,
    /// Fraction of operations that are reads.
    pub read_ratio: f64,
    /// Key distribution.
    pub keys: KeyDist,
    /// When clients start issuing operations.
    pub start: SimTime,
    /// When clients stop issuing operations.
    pub stop: SimTime,
    /// Fraction of operations that are compare-and-sets (the rest of the
    /// non-reads are writes).
    pub cas_ratio: f64,
    /// An operation unanswered this long completes as `info` (outcome unknown).
    pub timeout: SimDuration,
}

/// A process named by an event: a concrete id or a selector resolved when
/// the event fires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A concrete process id (`"n3"`), or `"*"` (everyone else) where an
    /// action allows it (`one_way`).
    Id(String),
    /// `"leader"`: the current Raft leader.
    Leader,
    /// `"primary:P"`: the current primary of partition P.
    Primary(u32),
    /// `"any-node"`: a data node drawn from the `faults` stream.
    AnyNode,
    /// `"any-manager"`: a manager drawn from the `faults` stream.
    AnyManager,
}

impl Target {
    /// The concrete id, if this is not a selector.
    pub fn as_id(&self) -> Option<&str> {
        match self {
            Target::Id(id) => Some(id),
            _ => None,
        }
    }
    /// True for the selectors (resolved when the event fires).
    pub fn is_selector(&self) -> bool {
        !matches!(self, Target::Id(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(id) => f.write_str(id),
            Target::Leader => f.write_str("leader"),
            Target::Primary(p) => write!(f, "primary:{p}"),
            Target::AnyNode => f.write_str("any-node"),
            Target::AnyManager => f.write_str("any-manager"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One action of an `[[events]]` entry (exactly one per entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Volatile state lost; the disk keeps what was fsynced.
    Crash(Target),
    /// Rebuilt from config and disk.
    Restart(Target),
    /// Alive but processing nothing until the event's `until`.
    Pause(Target),
    /// Groups that cannot reach each other; `"*"` is everyone not named.
    Partition(Vec<Vec<String>>),
    /// Messages `from → to` dropped, not back; either side may be `"*"`
    /// (represented as `Target::Id("*")`).
    OneWay {
        /// Sender side.
        from: Target,
        /// Receiver side.
        to: Target,
    },
    /// Cut one process from everyone.
    Isolate(Target),
    /// Per-link overrides for one direction.
    Link {
        /// Sender (a process or a selector, resolved when the link begins).
        from: Target,
        /// Receiver (likewise).
        to: Target,
        /// Latency range override.
        latency: Option<[SimDuration; 2]>,
        /// Drop probability override.
        drop: Option<f64>,
        /// Duplicate probability override.
        duplicate: Option<f64>,
    },
    /// The target's local clock jumps by `offset_us` and runs at `1 + drift`.
    Clock {
        /// Whose clock.
        target: Target,
        /// Signed jump in microseconds.
        offset_us: i64,
        /// Rate error: local time runs at `1 + drift` × virtual time.
        drift: f64,
    },
    /// The disk is wiped.
    DiskLoss(Target),
    /// Bits flip in some of the data node's stored records.
    Corrupt(Target),
    /// Every network fault ends.
    Heal,
    /// A new data node starts and registers.
    Join {
        /// Its id, the next `nK`.
        id: String,
        /// Its zone (default: round-robin like the initial nodes).
        zone: Option<String>,
        /// Its capacity (default: the stack's default).
        capacity: Option<u32>,
    },
    /// Graceful decommission: drain, then removal.
    Leave(Target),
    /// A process with the wrong cluster key tries to join.
    Impostor(String),
    /// A new manager starts and the group admits it (learner, then voter).
    AddManager(String),
    /// The group drops a manager (leadership moves first if it leads).
    RemoveManager(Target),
    /// The manager stays a voter but must not lead (it hands leadership
    /// over if it leads), until `until`.
    DrainManager(Target),
}

impl Action {
    /// The single process the action targets, when it has one: the
    /// targets a selector can stand for, resolved when the action runs.
    pub fn single_target(&self) -> Option<&Target> {
        match self {
            Action::Crash(t)
            | Action::Restart(t)
            | Action::Pause(t)
            | Action::Isolate(t)
            | Action::DiskLoss(t)
            | Action::Corrupt(t)
            | Action::Leave(t)
            | Action::RemoveManager(t)
            | Action::DrainManager(t)
            | Action::Clock { target: t, .. } => Some(t),
            _ => None,
        }
    }

    /// [`Action::single_target`], to rewrite it.
    pub fn single_target_mut(&mut self) -> Option<&mut Target> {
        match self {
            Action::Crash(t)
            | Action::Restart(t)
            | Action::Pause(t)
            | Action::Isolate(t)
            | Action::DiskLoss(t)
            | Action::Corrupt(t)
            | Action::Leave(t)
            | Action::RemoveManager(t)
            | Action::DrainManager(t)
            | Action::Clock { target: t, .. } => Some(t),
            _ => None,
        }
    }

    /// The action's key in a scenario file (`"crash"`, `"one_way"`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Pause(_) => "pause",
            Action::Partition(_) => "partition",
            Action::OneWay { .. } => "one_way",
            Action::Isolate(_) => "isolate",
            Action::Link { .. } => "link",
            Action::Clock { .. } => "clock",
            Action::DiskLoss(_) => "disk_loss",
            Action::Corrupt(_) => "corrupt",
            Action::Heal => "heal",
            Action::Join { .. } => "join",
            Action::Leave(_) => "leave",
            Action::Impostor(_) => "impostor",
            Action::AddManager(_) => "add_manager",
            Action::RemoveManager(_) => "remove_manager",
            Action::DrainManager(_) => "drain_manager",
        }
    }

    /// Whether an `until` may end this action (crash, pause, partition,
    /// one_way, isolate, link, clock, drain_manager).
    pub fn accepts_until(&self) -> bool {
        matches!(
            self,
            Action::Crash(_)
                | Action::Pause(_)
                | Action::DiskLoss(_)
                | Action::Partition(_)
                | Action::OneWay { .. }
                | Action::Isolate(_)
                | Action::Link { .. }
                | Action::Clock { .. }
                | Action::DrainManager(_)
        )
    }
}

/// Formats a signed microsecond offset the way scenario files write it
/// (`"-2s"`, `"150ms"`).
pub fn format_offset(offset_us: i64) -> String {
    let magnitude = SimDuration(offset_us.unsigned_abs());
    if offset_us < 0 {
        format!("-{magnitude}")
    } else {
        magnitude.to_string()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Crash(t) | Action::Restart(t) | Action::Pause(t) | Action::Isolate(t) => {
                write!(f, "{} {t}", self.kind())
            }
            Action::DiskLoss(t)
            | Action::Corrupt(t)
            | Action::Leave(t)
            | Action::RemoveManager(t)
            | Action::DrainManager(t) => {
                write!(f, "{} {t}", self.kind())
            }
            Action::AddManager(id) => write!(f, "add_manager {id}"),
            Action::Partition(groups) => {
                f.write_str("partition ")?;
                for (i, group) in groups.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "[{}]", group.join(" "))?;
                }
                Ok(())
            }
            Action::OneWay { from, to } => write!(f, "one_way {from} -> {to}"),
            Action::Link {
                from,
                to,
                latency,
                drop,
                duplicate,
            } => {
                write!(f, "link {from} -> {to}")?;
                if let Some([lo, hi]) = latency {
                    write!(f, " latency={lo}..{hi}")?;
                }
                if let Some(p) = drop {
                    write!(f, " drop={p}")?;
                }
                if let Some(p) = duplicate {
                    write!(f, " duplicate={p}")?;
                }
                Ok(())
            }
            Action::Clock {
                target,
                offset_us,
                drift,
            } => {
                write!(
                    f,
                    "clock {target} offset={} drift={drift}",
                    format_offset(*offset_us)
                )
            }
            Action::Heal => f.write_str("heal"),
            Action::Join { id, zone, capacity } => {
                write!(f, "join {id}")?;
                if let Some(z) = zone {
                    write!(f, " zone={z}")?;
                }
                if let Some(c) = capacity {
                    write!(f, " capacity={c}")?;
                }
                Ok(())
            }
            Action::Impostor(id) => write!(f, "impostor {id}"),
        }
    }
}

/// One `[[events]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSpec {
    /// When the action begins.
    pub at: SimTime,
    /// When it ends, for actions that can end (see [`Action::accepts_until`]).
    pub until: Option<SimTime>,
    /// What happens.
    pub action: Action,
    /// 1-based line of the entry in its file (0 for events built in code).
    pub line: usize,
}

/// `[random]`: swarm faults, each kind drawn from its own `faults/KIND` stream.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RandomSpec {
    /// Random crashes (ended by a restart).
    pub crash: Option<RandomFault>,
    /// Random pauses.
    pub pause: Option<RandomFault>,
    /// Random partitions: a subset of managers and nodes against `"*"`.
    pub partition: Option<RandomFault>,
    /// Random isolations.
    pub isolate: Option<RandomFault>,
    /// Random clock jumps and drift.
    pub clock: Option<RandomClock>,
    /// No random fault begins at or after this, and every one has ended by
    /// it (default: the scenario's duration).
    pub heal_at: Option<SimTime>,
    /// The stack's fault points (`cx.buggify`) fire with this probability
    /// (off when absent). Left out of the serialized form when absent, so
    /// the configuration digest of a scenario without it is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buggify: Option<f64>,
}

/// One kind of random fault: how often and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomFault {
    /// Mean interval between faults (exponential).
    pub every: SimDuration,
    /// Uniform range of how long each lasts (`down` or `lasts` in files).
    pub lasts: [SimDuration; 2],
}

/// Random clock faults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomClock {
    /// Mean interval between faults (exponential).
    pub every: SimDuration,
    /// Uniform range of how long each lasts.
    pub lasts: [SimDuration; 2],
    /// Offsets are drawn uniformly in `[-max_offset, +max_offset]`.
    pub max_offset: SimDuration,
    /// Drifts are drawn uniformly in `[-max_drift, +max_drift]`.
    pub max_drift: f64,
}

/// `[expect]`: the verdict the run must reach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expect {
    /// Every safety checker holds (except those listed in `violations`).
    pub safety: bool,
    /// Liveness deadline: converged by then.
    pub converged_by: Option<SimTime>,
    /// How many acknowledged writes are lost: exactly `N`, or a bound
    /// (`">0"`, `">=N"`, `"<=N"`, ...).
    pub lost_acked_writes: Option<LostBound>,
    /// Checkers that must fire (for scenarios that must fail).
    pub violations: Vec<String>,
    /// A leader is elected by then (extension).
    pub leader_elected_by: Option<SimTime>,
    /// The Raft group ends with this many voters, each a running
    /// manager's current incarnation (judged by `leader_elected`).
    /// Left out of the serialized form when unset, so configurations
    /// written before it keep their digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voters: Option<u32>,
}

/// `[expect] lost_acked_writes`: an exact count (`= 12`) or a one-sided
/// bound (`= ">0"`, `= ">= 10"`, `= "<5"`, `= "<= 4"`), kept as the
/// inclusive range it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostBound {
    /// Exactly this many.
    Exact(u64),
    /// At least this many.
    AtLeast(u64),
    /// At most this many.
    AtMost(u64),
}

impl LostBound {
    /// Parses the string form: `>N`, `>=N`, `<N`, `<=N` (spaces allowed
    /// around the operator), or a plain count.
    pub fn parse(text: &str) -> Result<LostBound, String> {
        let t = text.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix(">=") {
            (">=", r)
        } else if let Some(r) = t.strip_prefix("<=") {
            ("<=", r)
        } else if let Some(r) = t.strip_prefix('>') {
            (">", r)
        } else if let Some(r) = t.strip_prefix('<') {
            ("<", r)
        } else if let Some(r) = t.strip_prefix("==") {
            ("==", r)
        } else {
            ("", t)
        };
        let n: u64 = rest.trim().parse().map_err(|_| {
            format!("expected a count or a bound such as \">0\", \">=10\" or \"<=5\", got {text:?}")
        })?;
        match op {
            ">=" => Ok(LostBound::AtLeast(n)),
            ">" => n
                .checked_add(1)
                .map(LostBound::AtLeast)
                .ok_or_else(|| format!("no count is greater than {n}")),
            "<=" => Ok(LostBound::AtMost(n)),
            "<" => n
                .checked_sub(1)
                .map(LostBound::AtMost)
                .ok_or_else(|| "no count is less than 0".to_string()),
            _ => Ok(LostBound::Exact(n)),
        }
    }

    /// Whether `got` is allowed.
    pub fn allows(self, got: u64) -> bool {
        match self {
            LostBound::Exact(n) => got == n,
            LostBound::AtLeast(n) => got >= n,
            LostBound::AtMost(n) => got <= n,
        }
    }

    /// The most it allows.
    pub fn max(self) -> u64 {
        match self {
            LostBound::Exact(n) | LostBound::AtMost(n) => n,
            LostBound::AtLeast(_) => u64::MAX,
        }
    }
}

impl fmt::Display for LostBound {
    /// The scenario-file form: a bare count, or a quoted bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostBound::Exact(n) => write!(f, "{}", (*n).min(i64::MAX as u64)),
            LostBound::AtLeast(n) => write!(f, "\">={n}\""),
            LostBound::AtMost(n) => write!(f, "\"<={n}\""),
        }
    }
}

/// An exact count serializes as the number, as before bounds existed, so
/// the configurations written then keep their digests.
impl Serialize for LostBound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LostBound::Exact(n) => s.serialize_u64(*n),
            LostBound::AtLeast(n) => s.serialize_str(&format!(">={n}")),
            LostBound::AtMost(n) => s.serialize_str(&format!("<={n}")),
        }
    }
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            safety: true,
            converged_by: None,
            lost_acked_writes: None,
            violations: Vec::new(),
            leader_elected_by: None,
            voters: None,
        }
    }
}

impl Scenario {
    /// A scenario with every default and no events, for building in code.
    pub fn new(name: impl Into<String>, duration: SimDuration) -> Scenario {
        Scenario {
            name: name.into(),
            description: String::new(),
            seed: 0,
            duration,
            cluster: Cluster::default(),
            grid: Grid::default(),
            placement: Placement::default(),
            timing: Timing::default(),
            managers: Managers::default(),
            network: Network::default(),
            disk: DiskConfig::default(),
            workload: None,
            events: Vec::new(),
            random: None,
            expect: Expect::default(),
        }
    }

    /// All process ids that exist at start, in order: m1..mK, n1..nN, c1..cC.
    pub fn initial_processes(&self) -> Vec<String> {
        let mut ids = self.cluster.manager_ids();
        ids.extend(self.cluster.node_ids());
        ids.extend(self.cluster.client_ids());
        ids
    }

    /// Ids introduced later by `join`, `impostor` and `add_manager`
    /// events, in event order.
    pub fn later_processes(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match &e.action {
                Action::Join { id, .. } | Action::Impostor(id) | Action::AddManager(id) => {
                    Some(id.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The end of the run as an instant.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }

    /// A stable digest of the resolved configuration, for snapshots: an xxh3
    /// hash of its JSON form. Source line numbers and the description are
    /// left out, since they do not change what runs.
    pub fn config_digest(&self) -> u64 {
        let mut canonical = self.clone();
        canonical.description.clear();
        for event in &mut canonical.events {
            event.line = 0;
        }
        // Serializing plain data to JSON cannot fail (no maps with non-string keys).
        let json = serde_json::to_vec(&canonical).expect("a scenario always serializes to JSON");
        xxhash_rust::xxh3::xxh3_64(&json)
    }
}
