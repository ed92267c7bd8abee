//! The events the stack's processes trace about themselves: the vocabulary
//! that the checkers and the replay UI understand.
//!
//! Each variant is one trace line kind; its `"ev"` name is the variant name
//! in snake case. Checkers read only what is here, so whatever an invariant
//! needs must be carried by these events (DESIGN §4).

use serde::{Deserialize, Serialize};

use super::consensus::RaftEvent;
use crate::sim::AppEvent;
use crate::sim::process::push_json_str;

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
    /// The leader's health view of a data node changed.
    Health {
        /// The node.
        node: String,
        /// Its health in the leader's view.
        state: crate::stack::health::Health,
    },
    /// A process applied a newer cluster map (data nodes and managers).
    Map {
        /// The map version now applied (the index of its last command).
        version: u64,
    },
    /// A data node's replica of a partition changed state (`p` is the node).
    Replica {
        /// Partition number.
        partition: u32,
        /// Its state on this node.
        state: ReplicaState,
        /// The partition's epoch in the map the node applied.
        epoch: u64,
        /// The node holds a full copy of the partition's data (received in
        /// full, created empty at first placement, or kept on its disk from
        /// an earlier incarnation): what the placement checkers count.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        complete: bool,
        /// On the event where a transfer completed: the node it copied from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// The leader saw the committed map change a member.
    Member {
        /// The data node.
        node: String,
        /// What happened to it.
        state: MemberChange,
        /// Its zone.
        zone: String,
        /// Its capacity.
        capacity: u32,
        /// The committed map version that holds the change.
        version: u64,
    },
    /// The leader saw a partition's committed configuration change: what
    /// the placement checkers judge (a data node's `replica` events lag).
    Partition {
        /// Partition number.
        partition: u32,
        /// Its epoch (raised by every change of replicas or primary).
        epoch: u64,
        /// The committed map version that holds it.
        version: u64,
        /// In-sync replicas, in map order.
        in_sync: Vec<String>,
        /// Replicas still catching up.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        catching_up: Vec<String>,
        /// The primary, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary: Option<String>,
    },
    /// The leader found a partition with no in-sync replica on a live
    /// member (every copy is on dead members, or lost), or one again.
    Availability {
        /// Partition number.
        partition: u32,
        /// False: `unavailable` (no live copy); true: served again.
        available: bool,
    },
    /// The leader's coordinator moved a replica one step (make-before-break).
    Move {
        /// Partition number.
        partition: u32,
        /// The replica being replaced (`-` when only a replica is added).
        from: String,
        /// The node receiving the new replica (`-` when only one is removed).
        to: String,
        /// How far the move got.
        phase: MovePhase,
    },
    /// A node-manager message failed authentication and was dropped.
    AuthReject {
        /// The network-level sender.
        from: String,
        /// Why (`bad_mac`, `sender_mismatch`, `not_a_manager`).
        reason: String,
    },
    /// A message was dropped by a per-sender rate limit.
    RateLimited {
        /// The sender.
        from: String,
        /// Which limit (`register`, `heartbeat`).
        what: String,
    },
    /// The cluster key a process holds, as a fingerprint (at every start):
    /// what the `auth` checker tells members from impostors by.
    Credentials {
        /// First 16 hex digits of SHA-256 over a label and the key.
        key_id: String,
    },
    /// A manager's placement settings (at every start), for the placement
    /// checkers, which see nothing but events.
    PlacementConfig {
        /// Policy name (`rendezvous-bounded`, `least-loaded`).
        policy: String,
        /// Replicas per partition.
        replication_factor: u32,
        /// Allowed load above the mean, as a fraction.
        max_imbalance: f64,
        /// Moves in flight at once, at most.
        max_concurrent_moves: u32,
        /// Number of partitions.
        partitions: u32,
        /// The health monitor's `dead_after`, in microseconds (what the
        /// failure-detection judgement of `converged` measures against).
        #[serde(default)]
        dead_after_us: u64,
    },
    /// A client invoked or completed an operation (the client history).
    Op {
        /// The history process: client index − 1, plus the number of
        /// clients for each earlier `info` of this client.
        process: u64,
        /// `invoke`, `ok`, `fail` or `info`.
        #[serde(rename = "type")]
        kind: OpType,
        /// `read`, `write` or `cas`.
        f: OpF,
        /// The cell.
        key: u64,
        /// Written value, the compare-and-set's new value, or the value read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<u64>,
        /// A compare-and-set's expected value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected: Option<u64>,
        /// The client's request id (sequence number).
        req: u64,
        /// Why a `fail` failed, when the answer said: `data-lost` (the
        /// partition was started again empty after every copy was lost,
        /// and no write defined the cell since).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A primary answered a client: a write or compare-and-set took effect
    /// (`copies`: the replicas that persisted it), or a read was served.
    Served {
        /// Partition.
        partition: u32,
        /// The primary's epoch.
        epoch: u64,
        /// What was served.
        f: OpF,
        /// The cell.
        key: u64,
        /// Value written or read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<u64>,
        /// Log index of the write (for a read: the index it waited for).
        index: u64,
        /// Replicas that held the write durably when it was acknowledged.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        copies: Vec<String>,
    },
    /// At the end of a run, what a data node holds of a partition.
    Holding {
        /// Partition.
        partition: u32,
        /// The node counts its copy complete (listed in sync, not damaged).
        in_sync: bool,
        /// Last log index held.
        index: u64,
        /// `[cell, value, index of the write]` for every written cell.
        cells: Vec<[u64; 3]>,
    },
    /// A data node found a stored record of a partition damaged (checksum
    /// mismatch): its copy no longer counts, serves nothing, and is
    /// rebuilt.
    Damaged {
        /// Partition.
        partition: u32,
        /// How it was found: `scrub` (the background check, node up) or
        /// `reload` (reading the disk at start).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        found: String,
    },
    /// A damaged copy was rebuilt: durable and whole again.
    Repaired {
        /// Partition.
        partition: u32,
        /// Where the data came from: the primary whose install rebuilt it,
        /// or the node itself (a primary rewriting its disk from the state
        /// it serves).
        source: String,
    },
    /// A follower holds its primary's declaration that it is caught up in
    /// `epoch` (it holds every acknowledged write): from now on its node
    /// reports it in sync. Traced once per epoch, with the last index the
    /// follower holds then.
    CaughtUp {
        /// Partition.
        partition: u32,
        /// The epoch of the declaration.
        epoch: u64,
        /// The follower's last log index when it took the declaration.
        index: u64,
    },
    /// A manager's Raft member traced something (role, vote, append,
    /// commit, snapshot). Untagged: the trace line is the Raft event's own,
    /// `"ev"` included.
    #[serde(untagged)]
    Raft(RaftEvent),
}

/// A client operation's event type, as in Jepsen histories.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// Issued.
    Invoke,
    /// Took effect; this is its result.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Unknown: may take effect at any time after the invocation, or never.
    Info,
}

impl OpType {
    /// The name in histories.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// A client operation's function.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpF {
    /// Read a cell.
    Read,
    /// Write a cell.
    Write,
    /// Compare-and-set a cell.
    Cas,
}

impl OpF {
    /// The name in histories.
    pub fn as_str(self) -> &'static str {
        match self {
            OpF::Read => "read",
            OpF::Write => "write",
            OpF::Cas => "cas",
        }
    }
}

/// The state of a replica on its data node, as traced.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// In sync, and the partition's primary.
    Primary,
    /// In sync, not the primary.
    Backup,
    /// Receiving a state transfer (or waiting for the map to count it in sync).
    CatchingUp,
    /// Dropped by this node.
    Removed,
    /// Found on its disk at start, from an earlier incarnation: held, not
    /// yet serving (the node registers first).
    Stored,
}

/// A change of a member in the committed map.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberChange {
    /// Added (or re-added after a restart: a new boot).
    Joined,
    /// Declared alive again.
    Alive,
    /// Declared dead.
    Dead,
    /// Being decommissioned.
    Draining,
    /// Removed from the map.
    Removed,
}

/// A step of a replica move.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovePhase {
    /// The coordinator proposed adding the new replica.
    Planned,
    /// The new replica is in the committed map, catching up.
    Added,
    /// The map counts the new replica in sync.
    InSync,
    /// The primary moved off the replica being replaced.
    Promoted,
    /// The old replica left the committed map.
    Removed,
    /// The partition matches its target again.
    Done,
    /// The move was given up (its target changed, or its proposal was lost).
    Aborted,
}

impl ReplicaState {
    /// The name it is traced by (its serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::Primary => "primary",
            ReplicaState::Backup => "backup",
            ReplicaState::CatchingUp => "catching_up",
            ReplicaState::Removed => "removed",
            ReplicaState::Stored => "stored",
        }
    }
}

impl From<RaftEvent> for StackEvent {
    fn from(e: RaftEvent) -> Self {
        StackEvent::Raft(e)
    }
}

impl AppEvent for StackEvent {
    fn kind(&self) -> &'static str {
        match self {
            StackEvent::Beat { .. } => "beat",
            StackEvent::Health { .. } => "health",
            StackEvent::Map { .. } => "map",
            StackEvent::Replica { .. } => "replica",
            StackEvent::Member { .. } => "member",
            StackEvent::Partition { .. } => "partition",
            StackEvent::Availability { .. } => "availability",
            StackEvent::Move { .. } => "move",
            StackEvent::AuthReject { .. } => "auth_reject",
            StackEvent::RateLimited { .. } => "rate_limited",
            StackEvent::Credentials { .. } => "credentials",
            StackEvent::PlacementConfig { .. } => "placement_config",
            StackEvent::Op { .. } => "op",
            StackEvent::Served { .. } => "served",
            StackEvent::Holding { .. } => "holding",
            StackEvent::Damaged { .. } => "damaged",
            StackEvent::Repaired { .. } => "repaired",
            StackEvent::CaughtUp { .. } => "caught_up",
            StackEvent::Raft(e) => e.kind(),
        }
    }

    /// The events a data node or a manager traces at every map version
    /// (`map`, `replica`) and every Raft entry (`append`, `commit`).
    fn write_json_fields(&self, out: &mut Vec<u8>) -> bool {
        let num = |out: &mut Vec<u8>, key: &[u8], v: u64| {
            out.extend_from_slice(key);
            out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        };
        match self {
            StackEvent::Map { version } => {
                num(out, br#","ev":"map","version":"#, *version);
            }
            StackEvent::Replica {
                partition,
                state,
                epoch,
                complete,
                source,
            } => {
                num(
                    out,
                    br#","ev":"replica","partition":"#,
                    u64::from(*partition),
                );
                out.extend_from_slice(br#","state":""#);
                out.extend_from_slice(state.as_str().as_bytes());
                num(out, br#"","epoch":"#, *epoch);
                if *complete {
                    out.extend_from_slice(br#","complete":true"#);
                }
                if let Some(source) = source {
                    out.extend_from_slice(br#","source":"#);
                    push_json_str(out, source);
                }
            }
            StackEvent::Raft(RaftEvent::Append { index, term, entry }) => {
                num(out, br#","ev":"append","index":"#, *index);
                num(out, br#","term":"#, *term);
                out.extend_from_slice(br#","entry":"#);
                push_json_str(out, entry);
            }
            StackEvent::Raft(RaftEvent::Commit {
                index,
                term,
                entry,
                digest,
            }) => {
                num(out, br#","ev":"commit","index":"#, *index);
                num(out, br#","term":"#, *term);
                out.extend_from_slice(br#","entry":"#);
                push_json_str(out, entry);
                out.extend_from_slice(br#","digest":"#);
                push_json_str(out, digest);
            }
            // A client's every invoke and completion, and a primary's
            // every answer: the events of a workload.
            StackEvent::Op {
                process,
                kind,
                f,
                key,
                value,
                expected,
                req,
                error,
            } => {
                num(out, br#","ev":"op","process":"#, *process);
                out.extend_from_slice(br#","type":""#);
                out.extend_from_slice(kind.as_str().as_bytes());
                out.extend_from_slice(br#"","f":""#);
                out.extend_from_slice(f.as_str().as_bytes());
                num(out, br#"","key":"#, *key);
                if let Some(v) = value {
                    num(out, br#","value":"#, *v);
                }
                if let Some(v) = expected {
                    num(out, br#","expected":"#, *v);
                }
                num(out, br#","req":"#, *req);
                if let Some(e) = error {
                    out.extend_from_slice(br#","error":"#);
                    push_json_str(out, e);
                }
            }
            StackEvent::Served {
                partition,
                epoch,
                f,
                key,
                value,
                index,
                copies,
            } => {
                num(
                    out,
                    br#","ev":"served","partition":"#,
                    u64::from(*partition),
                );
                num(out, br#","epoch":"#, *epoch);
                out.extend_from_slice(br#","f":""#);
                out.extend_from_slice(f.as_str().as_bytes());
                num(out, br#"","key":"#, *key);
                if let Some(v) = value {
                    num(out, br#","value":"#, *v);
                }
                num(out, br#","index":"#, *index);
                if !copies.is_empty() {
                    out.extend_from_slice(br#","copies":["#);
                    for (i, c) in copies.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        push_json_str(out, c);
                    }
                    out.push(b']');
                }
            }
            _ => return false,
        }
        out.push(b'}');
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::consensus::Role;

    #[test]
    fn serializes_with_the_ev_tag() {
        let e = StackEvent::Raft(RaftEvent::Role {
            role: Role::Leader,
            term: 3,
            leader: None,
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"ev":"role","role":"leader","term":3}"#
        );
        let back: StackEvent =
            serde_json::from_str(r#"{"t":5,"ev":"role","role":"leader","term":3}"#).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.kind(), "role");
    }

    #[test]
    fn events_written_by_hand_are_serde_json() {
        let texts = ["noop", "AddNode n1 zone=\"a\\b\" cap=1", "tab\there", ""];
        let mut events = vec![
            StackEvent::Map { version: 0 },
            StackEvent::Map { version: u64::MAX },
            StackEvent::Health {
                node: "n1".into(),
                state: crate::stack::health::Health::Alive,
            },
        ];
        for state in [
            ReplicaState::Primary,
            ReplicaState::Backup,
            ReplicaState::CatchingUp,
            ReplicaState::Removed,
            ReplicaState::Stored,
        ] {
            for (complete, source) in [(false, None), (true, Some("n\"2")), (true, None)] {
                events.push(StackEvent::Replica {
                    partition: u32::MAX,
                    state,
                    epoch: 7,
                    complete,
                    source: source.map(String::from),
                });
            }
        }
        for (i, kind) in [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info]
            .into_iter()
            .enumerate()
        {
            for f in [OpF::Read, OpF::Write, OpF::Cas] {
                events.push(StackEvent::Op {
                    process: i as u64 * 1_000_003,
                    kind,
                    f,
                    key: u64::MAX - i as u64,
                    value: (i % 2 == 0).then_some(i as u64),
                    expected: (i < 2).then_some(u64::MAX),
                    req: 0,
                    error: texts.get(i).filter(|_| i != 1).map(|t| t.to_string()),
                });
                events.push(StackEvent::Served {
                    partition: i as u32,
                    epoch: u64::MAX,
                    f,
                    key: 0,
                    value: (i % 2 == 1).then_some(0),
                    index: i as u64,
                    copies: texts[..i].iter().map(|t| t.to_string()).collect(),
                });
            }
        }
        for entry in texts {
            events.push(StackEvent::Raft(RaftEvent::Append {
                index: 3,
                term: 1,
                entry: entry.into(),
            }));
            events.push(StackEvent::Raft(RaftEvent::Commit {
                index: 3,
                term: u64::MAX,
                entry: entry.into(),
                digest: "9dd738cb1ea75ef1".into(),
            }));
        }
        for e in &events {
            let mut out = b"{".to_vec();
            if e.write_json_fields(&mut out) {
                out.remove(1); // the comma after the common fields

                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(e).unwrap()
                );
            } else {
                assert!(matches!(e, StackEvent::Health { .. }), "{e:?}");
                assert_eq!(out, b"{");
            }
        }
    }
}
