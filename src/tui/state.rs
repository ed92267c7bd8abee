//! The cluster as it was at one point of a trace: a pure fold of events.
//!
//! ```text
//!   ClusterState::initial(..) ──apply(ev)──> ... ──apply(ev)──> state after event i
//! ```
//!
//! The replay index stores a copy every K events (a checkpoint), so the state
//! at any cursor is a checkpoint plus at most K applications. Only the kinds
//! for which [`affects_state`] is true change anything; the index skips the
//! others without reading their lines. Faults are not folded here: their
//! windows are known from the whole trace (a fault without an `end` lasts
//! until a heal or the end of the run), so the index fills
//! [`ClusterState::faults`] from its span table when it answers a seek.

use super::event::FullEvent;

/// Whether a process is running.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// No `start` event yet.
    #[default]
    NotStarted,
    /// Running.
    Up,
    /// Crashed, not restarted.
    Down,
    /// Paused (alive, processing nothing).
    Paused,
}

/// A manager's Raft role.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RaftRole {
    /// Follower.
    Follower,
    /// Pre-candidate (pre-vote).
    PreCandidate,
    /// Candidate.
    Candidate,
    /// Leader.
    Leader,
}

impl RaftRole {
    fn parse(s: &str) -> Option<RaftRole> {
        Some(match s {
            "follower" => RaftRole::Follower,
            "pre_candidate" => RaftRole::PreCandidate,
            "candidate" => RaftRole::Candidate,
            "leader" => RaftRole::Leader,
            _ => return None,
        })
    }

    /// Short name for tables.
    pub fn short(self) -> &'static str {
        match self {
            RaftRole::Follower => "follow",
            RaftRole::PreCandidate => "precan",
            RaftRole::Candidate => "candid",
            RaftRole::Leader => "LEADER",
        }
    }

    /// One-letter glyph for the compact column view.
    pub fn glyph(self) -> char {
        match self {
            RaftRole::Follower => 'F',
            RaftRole::PreCandidate => 'p',
            RaftRole::Candidate => 'C',
            RaftRole::Leader => 'L',
        }
    }
}

/// A data node's health, as the leader sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Heartbeats arrive.
    Alive,
    /// Heartbeats are late.
    Suspect,
    /// Declared dead.
    Dead,
}

impl Health {
    fn parse(s: &str) -> Option<Health> {
        Some(match s {
            "alive" => Health::Alive,
            "suspect" => Health::Suspect,
            "dead" => Health::Dead,
            _ => return None,
        })
    }

    /// The name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Alive => "alive",
            Health::Suspect => "suspect",
            Health::Dead => "dead",
        }
    }
}

/// A replica's state on its node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Orders writes.
    Primary,
    /// In-sync backup.
    Backup,
    /// Receiving a state transfer; not yet in sync.
    CatchingUp,
}

/// What one process looks like at the cursor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcState {
    /// Running or not.
    pub status: Status,
    /// Raft role (managers).
    pub role: Option<RaftRole>,
    /// Highest term seen in its role events.
    pub term: u64,
    /// The leader it knows of (process index).
    pub leader: Option<u16>,
    /// Health, as reported by a leader (data nodes).
    pub health: Option<Health>,
    /// Replicas it hosts (any state).
    pub replicas: u32,
    /// Of which primaries.
    pub primaries: u32,
    /// Clock offset, µs.
    pub clock_offset_us: i64,
    /// Clock drift, ppm.
    pub clock_drift_ppm: i64,
    /// Last cluster-map version applied.
    pub map_version: Option<u64>,
    /// Last committed log index.
    pub commit_index: Option<u64>,
    /// Last snapshot index.
    pub snapshot_index: Option<u64>,
    /// Membership state, as the cluster traced it (`joining`, `active`, …).
    pub member: Option<String>,
    /// The disk was wiped since it last started.
    pub disk_lost: bool,
}

/// One partition at the cursor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartState {
    /// The node that most recently claimed the primary role.
    pub primary: Option<u16>,
    /// Highest epoch seen.
    pub epoch: u64,
    /// Replicas by node, with their state, in order of arrival.
    pub replicas: Vec<(u16, ReplicaState)>,
    /// A move is in flight (between its first and last phase).
    pub moving: bool,
    /// Writes and compare-and-sets its primaries acknowledged (`served`).
    pub writes: u64,
    /// The leader reported it `unavailable` (no live in-sync copy) and has
    /// not reported it available again.
    pub unavailable: bool,
}

impl PartState {
    /// Replicas that count towards the replication factor (primary and backups).
    pub fn in_sync(&self) -> usize {
        self.replicas
            .iter()
            .filter(|(_, s)| *s != ReplicaState::CatchingUp)
            .count()
    }
    /// Replicas still catching up.
    pub fn catching_up(&self) -> usize {
        self.replicas.len() - self.in_sync()
    }
}

/// A fault active at the cursor (filled from the index's span table).
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveFault {
    /// Fault id (shared by its begin and end).
    pub fault: u32,
    /// The action (`partition`, `crash`, …).
    pub kind: String,
    /// The trace's description.
    pub detail: String,
    /// For partitions, isolations and one-way cuts: the groups (process
    /// names; `"*"` is everyone not named).
    pub groups: Vec<Vec<String>>,
    /// When it began, µs.
    pub since_t: u64,
}

/// The whole cluster at the cursor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterState {
    /// Virtual time of the last applied event.
    pub t: u64,
    /// Events applied (the cursor's index + 1).
    pub applied: u64,
    /// Per process, indexed like the replay's process table.
    pub procs: Vec<ProcState>,
    /// Per partition number.
    pub partitions: Vec<PartState>,
    /// Highest map version any process applied.
    pub map_version: Option<u64>,
    /// Highest committed index any manager applied.
    pub commit_index: Option<u64>,
    /// Violations so far.
    pub violations: u32,
    /// Faults active at the cursor (not folded; see the module docs).
    pub faults: Vec<ActiveFault>,
}

/// Upper bound on partitions tracked: replica events naming a larger
/// number are ignored (a bound on memory per checkpoint).
pub const MAX_PARTITIONS: usize = 1 << 16;

/// True for the event kinds that change a [`ClusterState`].
pub fn affects_state(kind: &str) -> bool {
    matches!(
        kind,
        "start"
            | "crash"
            | "restart"
            | "pause"
            | "resume"
            | "disk_loss"
            | "clock"
            | "role"
            | "commit"
            | "snapshot"
            | "map"
            | "replica"
            | "health"
            | "member"
            | "move"
            | "served"
            | "availability"
            | "violation"
    )
}

impl ClusterState {
    /// Nothing started: `procs` processes, `partitions` unassigned partitions.
    pub fn initial(procs: usize, partitions: usize) -> ClusterState {
        ClusterState {
            procs: vec![ProcState::default(); procs],
            partitions: vec![PartState::default(); partitions.min(MAX_PARTITIONS)],
            ..ClusterState::default()
        }
    }

    /// The process with the highest-term leader role among those running,
    /// with its term.
    pub fn leader(&self) -> Option<(u16, u64)> {
        self.procs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.role == Some(RaftRole::Leader) && p.status != Status::Down)
            .max_by_key(|(_, p)| p.term)
            .map(|(i, p)| (i as u16, p.term))
    }

    /// Marks one more event as applied without reading it (kinds that do not
    /// affect the state).
    pub fn skip(&mut self, t: u64) {
        self.t = t;
        self.applied += 1;
    }

    /// Applies one event that happened at process `p`. `id` resolves other
    /// process names found in fields (`leader`, `node`).
    pub fn apply(&mut self, ev: &FullEvent, p: u16, id: &mut dyn FnMut(&str) -> Option<u16>) {
        self.skip(ev.t);
        let pi = p as usize;
        if pi >= self.procs.len() && pi < usize::from(u16::MAX) {
            self.procs.resize(pi + 1, ProcState::default());
        }
        match ev.ev.as_str() {
            "start" | "restart" => {
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.status = Status::Up;
                    ps.role = None;
                    ps.leader = None;
                }
            }
            "crash" => {
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.status = Status::Down;
                    ps.role = None;
                    ps.leader = None;
                }
            }
            "pause" => self.set_status(pi, Status::Paused),
            "resume" => self.set_status(pi, Status::Up),
            "disk_loss" => {
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.disk_lost = true;
                }
            }
            "clock" => {
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.clock_offset_us = ev.i64("offset_us");
                    ps.clock_drift_ppm = ev.i64("drift_ppm");
                }
            }
            "role" => {
                let leader = match ev.str("leader") {
                    "" => None,
                    name => id(name),
                };
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.role = RaftRole::parse(ev.str("role"));
                    ps.term = ev.u64("term").unwrap_or(ps.term);
                    ps.leader = if ps.role == Some(RaftRole::Leader) {
                        Some(p)
                    } else {
                        leader
                    };
                }
            }
            "commit" => {
                let index = ev.u64("index");
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.commit_index = index.or(ps.commit_index);
                }
                self.commit_index = self.commit_index.max(index);
            }
            "snapshot" => {
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.snapshot_index = ev.u64("index").or(ps.snapshot_index);
                }
            }
            "map" => {
                let version = ev.u64("version");
                if let Some(ps) = self.procs.get_mut(pi) {
                    ps.map_version = version.or(ps.map_version);
                }
                self.map_version = self.map_version.max(version);
            }
            "replica" => self.apply_replica(ev, p),
            "health" => {
                if let (Some(node), Some(h)) = (id(ev.str("node")), Health::parse(ev.str("state")))
                {
                    self.ensure_proc(node);
                    self.procs[node as usize].health = Some(h);
                }
            }
            "member" => {
                if let Some(node) = id(ev.str("node")) {
                    self.ensure_proc(node);
                    self.procs[node as usize].member = Some(ev.str("state").to_string());
                }
            }
            "move" => {
                if let Some(part) = self.partition_mut(ev.partition()) {
                    part.moving = !matches!(
                        ev.str("phase"),
                        "done"
                            | "complete"
                            | "completed"
                            | "finished"
                            | "end"
                            | "aborted"
                            | "cancelled"
                            | "failed"
                    );
                }
            }
            "served" => {
                if ev.str("f") != "read"
                    && let Some(part) = self.partition_mut(ev.partition())
                {
                    part.writes += 1;
                }
            }
            "availability" => {
                if let Some(part) = self.partition_mut(ev.partition()) {
                    part.unavailable = !ev.flag("available");
                }
            }
            "violation" => self.violations += 1,
            _ => {}
        }
    }

    fn set_status(&mut self, pi: usize, status: Status) {
        if let Some(ps) = self.procs.get_mut(pi) {
            ps.status = status;
        }
    }

    fn ensure_proc(&mut self, p: u16) {
        if p as usize >= self.procs.len() {
            self.procs.resize(p as usize + 1, ProcState::default());
        }
    }

    fn partition_mut(&mut self, n: Option<u64>) -> Option<&mut PartState> {
        let n = usize::try_from(n?).ok().filter(|&n| n < MAX_PARTITIONS)?;
        if n >= self.partitions.len() {
            self.partitions.resize(n + 1, PartState::default());
        }
        self.partitions.get_mut(n)
    }

    fn apply_replica(&mut self, ev: &FullEvent, node: u16) {
        let new = match ev.str("state") {
            "primary" => Some(ReplicaState::Primary),
            "backup" => Some(ReplicaState::Backup),
            "catching_up" => Some(ReplicaState::CatchingUp),
            // "removed" and anything unknown take the replica away.
            _ => None,
        };
        let epoch = ev.u64("epoch");
        let Some(part) = self.partition_mut(ev.partition()) else {
            return;
        };
        let old = part.replicas.iter().position(|(n, _)| *n == node);
        let old_state = old.map(|i| part.replicas[i].1);
        match (old, new) {
            (Some(i), Some(s)) => part.replicas[i].1 = s,
            (None, Some(s)) => part.replicas.push((node, s)),
            (Some(i), None) => {
                part.replicas.remove(i);
            }
            (None, None) => {}
        }
        if new == Some(ReplicaState::Primary) {
            part.primary = Some(node);
        } else if part.primary == Some(node) {
            // The node gave up the primary role; another replica may still
            // claim it (then it is the primary) or nobody does yet.
            part.primary = part
                .replicas
                .iter()
                .rev()
                .find(|(_, s)| *s == ReplicaState::Primary)
                .map(|(n, _)| *n);
        }
        if let Some(e) = epoch {
            part.epoch = part.epoch.max(e);
        }
        let (added, primary_delta): (i64, i64) = (
            i64::from(new.is_some()) - i64::from(old_state.is_some()),
            i64::from(new == Some(ReplicaState::Primary))
                - i64::from(old_state == Some(ReplicaState::Primary)),
        );
        self.ensure_proc(node);
        let ps = &mut self.procs[node as usize];
        ps.replicas = (i64::from(ps.replicas) + added).max(0) as u32;
        ps.primaries = (i64::from(ps.primaries) + primary_delta).max(0) as u32;
    }
}

/// Parses the process groups out of a fault's detail: every innermost
/// bracketed list (`[m1 n1] | [*]`, `[["m1","n1"],["*"]]`). For `isolate X`
/// and `one_way A -> B` without brackets, the named sides become the groups.
pub fn fault_groups(kind: &str, detail: &str) -> Vec<Vec<String>> {
    let mut groups = Vec::new();
    let mut current: Option<String> = None;
    for c in detail.chars() {
        match c {
            '[' => current = Some(String::new()),
            ']' => {
                if let Some(text) = current.take() {
                    let names: Vec<String> = text
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .map(|s| s.trim_matches('"').trim())
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    if !names.is_empty() {
                        groups.push(names);
                    }
                }
            }
            c => {
                if let Some(text) = current.as_mut() {
                    text.push(c);
                }
            }
        }
    }
    if !groups.is_empty() {
        return groups;
    }
    let words: Vec<&str> = detail
        .split_whitespace()
        .filter(|w| *w != kind && *w != "->" && !w.contains('='))
        .collect();
    match kind {
        "isolate" => words
            .first()
            .map(|w| vec![vec![w.to_string()], vec!["*".to_string()]])
            .unwrap_or_default(),
        "one_way" if words.len() >= 2 => {
            vec![vec![words[0].to_string()], vec![words[1].to_string()]]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> FullEvent {
        FullEvent::parse(line.as_bytes()).unwrap()
    }

    fn names(s: &str) -> Option<u16> {
        ["m1", "m2", "n1", "n2"]
            .iter()
            .position(|n| *n == s)
            .map(|i| i as u16)
    }

    #[test]
    fn folds_lifecycle_roles_and_replicas() {
        let mut st = ClusterState::initial(4, 2);
        let mut id = names;
        st.apply(&ev(r#"{"t":1,"p":"m1","seq":0,"ev":"start"}"#), 0, &mut id);
        st.apply(
            &ev(r#"{"t":2,"p":"m1","seq":1,"ev":"role","role":"leader","term":2}"#),
            0,
            &mut id,
        );
        assert_eq!(st.leader(), Some((0, 2)));
        st.apply(&ev(r#"{"t":3,"p":"n1","seq":2,"ev":"replica","partition":1,"state":"primary","epoch":1}"#), 2, &mut id);
        st.apply(&ev(r#"{"t":3,"p":"n2","seq":3,"ev":"replica","partition":1,"state":"backup","epoch":1}"#), 3, &mut id);
        assert_eq!(st.partitions[1].primary, Some(2));
        assert_eq!(st.partitions[1].in_sync(), 2);
        assert_eq!(st.procs[2].primaries, 1);
        st.apply(&ev(r#"{"t":4,"p":"n2","seq":4,"ev":"replica","partition":1,"state":"primary","epoch":2}"#), 3, &mut id);
        st.apply(&ev(r#"{"t":4,"p":"n1","seq":5,"ev":"replica","partition":1,"state":"removed","epoch":2}"#), 2, &mut id);
        assert_eq!(st.partitions[1].primary, Some(3));
        assert_eq!(st.partitions[1].epoch, 2);
        assert_eq!((st.procs[2].replicas, st.procs[2].primaries), (0, 0));
        st.apply(&ev(r#"{"t":5,"p":"m1","seq":6,"ev":"crash"}"#), 0, &mut id);
        assert_eq!(st.leader(), None);
        st.apply(
            &ev(r#"{"t":6,"p":"m2","seq":7,"ev":"health","node":"n1","state":"dead"}"#),
            1,
            &mut id,
        );
        assert_eq!(st.procs[2].health, Some(Health::Dead));
        st.apply(
            &ev(r#"{"t":7,"p":"sim","seq":8,"ev":"violation","check":"x","detail":"y"}"#),
            1,
            &mut id,
        );
        assert_eq!((st.violations, st.applied, st.t), (1, 9, 7));
    }

    #[test]
    fn fault_groups_read_the_common_spellings() {
        assert_eq!(
            fault_groups("partition", "partition [m1 n1] | [*]"),
            vec![vec!["m1", "n1"], vec!["*"]]
        );
        assert_eq!(
            fault_groups("partition", r#"[["m1","n1"],["*"]]"#),
            vec![vec!["m1", "n1"], vec!["*"]]
        );
        assert_eq!(
            fault_groups("isolate", "isolate n3"),
            vec![vec!["n3"], vec!["*"]]
        );
        assert_eq!(
            fault_groups("one_way", "one_way m1 -> *"),
            vec![vec!["m1"], vec!["*"]]
        );
        assert!(fault_groups("crash", "crash n3").is_empty());
    }
}
