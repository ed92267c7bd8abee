//! What the leader's planners (the [`PartitionCoordinator`] and the
//! [`RecoveryManager`]) hand to the manager: proposals for one partition,
//! each a step of a move or a repair, and the commands both build.
//!
//! Both planners depend on this module and not on each other's, so the
//! coordinator can ask recovery for the most urgent repair without the two
//! importing one another.
//!
//! Every command built here is conditional twice over: on the partition's
//! epoch (another change of the same partition overtook it) and on the
//! map's member generation (a member's liveness or membership changed since
//! the plan was computed). A command whose condition fails is ignored when
//! applied, everywhere alike, and the partition is planned again.
//!
//! [`PartitionCoordinator`]: super::coordinator::PartitionCoordinator
//! [`RecoveryManager`]: super::recovery::RecoveryManager

use super::grid::{ClusterMap, MapCommand, PartitionConfig, Replica};
use super::node_id::NodeId;

/// What a proposal of the coordinator is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// First placement of a partition never placed.
    Initial,
    /// A new replica added (catching up).
    Add,
    /// A replica removed (an extra, a dead one, or an abandoned move).
    Remove,
    /// The primary moved (off a replica about to go, or a dead one).
    Promote,
    /// Replicas the map now counts in sync (recovery).
    InSync,
    /// A partition without an in-sync replica re-seeded from the copies
    /// its nodes report holding.
    Repair,
}

/// A command the coordinator wants proposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Partition concerned.
    pub partition: u32,
    /// The epoch it was planned against.
    pub epoch: u64,
    /// The member generation it was planned against.
    pub generation: u64,
    /// What for.
    pub step: Step,
    /// The command.
    pub cmd: MapCommand,
}

/// The precondition a plan computed against `map` carries: its member
/// generation, or none at all when the `plan-against-stale-liveness` bug is
/// planted (`stale`).
pub fn precondition(map: &ClusterMap, stale: bool) -> Option<u64> {
    if stale { None } else { Some(map.generation) }
}

/// `SetReplicas` of partition `p` (configured as `c`) to `replicas` and
/// `primary`, conditional on `c`'s epoch and on `generation`.
pub fn set_replicas(
    p: u32,
    c: &PartitionConfig,
    generation: Option<u64>,
    replicas: Vec<Replica>,
    primary: Option<NodeId>,
) -> MapCommand {
    MapCommand::SetReplicas {
        partition: p,
        epoch: c.epoch,
        generation,
        replicas,
        primary,
        empty: false,
        unheard: Vec::new(),
    }
}

/// Partition `p` (configured as `c`) started again on `node` after a loss:
/// every copy of it lost (it starts empty), or every copy that held the
/// newest writes (it starts from `node`'s copy, behind them). `node` alone
/// in sync and primary (added if the map does not list it: a stray), the
/// other replicas catching up from it, and the map records the loss
/// (`lost_at`).
pub fn start_empty(p: u32, c: &PartitionConfig, generation: Option<u64>, node: &str) -> MapCommand {
    let mut replicas: Vec<Replica> = c
        .replicas
        .iter()
        .map(|r| Replica {
            node: r.node.clone(),
            in_sync: r.node == node,
        })
        .collect();
    if !replicas.iter().any(|r| r.node == node) {
        replicas.push(Replica {
            node: node.into(),
            in_sync: true,
        });
    }
    MapCommand::SetReplicas {
        partition: p,
        epoch: c.epoch,
        generation,
        replicas,
        primary: Some(node.into()),
        empty: true,
        unheard: Vec::new(),
    }
}

/// `PromotePrimary` of `node` for partition `p` (configured as `c`).
pub fn promote(p: u32, c: &PartitionConfig, generation: Option<u64>, node: &str) -> MapCommand {
    MapCommand::PromotePrimary {
        partition: p,
        epoch: c.epoch,
        generation,
        node: node.into(),
    }
}

/// Partition `p` (configured as `c`) without the replica on `node`; where
/// that replica was the primary, the first other in-sync replica on a
/// usable member takes over (or none, until one is in sync).
pub fn without(
    p: u32,
    c: &PartitionConfig,
    node: &str,
    map: &ClusterMap,
    generation: Option<u64>,
) -> MapCommand {
    let replicas: Vec<Replica> = c
        .replicas
        .iter()
        .filter(|r| r.node != node)
        .cloned()
        .collect();
    let primary = match &c.primary {
        Some(x) if x == node => replicas
            .iter()
            .find(|r| r.in_sync && map.is_usable(&r.node))
            .map(|r| r.node.clone()),
        other => other.clone(),
    };
    set_replicas(p, c, generation, replicas, primary)
}
