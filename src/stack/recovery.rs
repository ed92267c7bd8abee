//! RecoveryManager, assignment side: on the leader, keeps every partition
//! served after failures — a primary where the primary died, replicas
//! counted in sync once they caught up, and partitions whose every in-sync
//! copy is gone re-seeded rather than left stuck.
//!
//! **Responsibility.** For one partition at a time, the most urgent repair:
//!
//! 1. the primary is missing, dead, draining or not a member, and an
//!    in-sync replica on an alive member exists → `PromotePrimary` (epoch+1);
//! 2. replicas catching up whose node reports them complete (same boot as
//!    the map's member, at the partition's current epoch) → `SetReplicas`
//!    counting them in sync;
//! 3. no replica is in sync at all (every holder restarted or was lost)
//!    and some live replica exists → `SetReplicas` counting the live ones in
//!    sync (an unclean re-seed: writes only the lost copies had are gone;
//!    the data plane counts them).
//!
//! Restoring the replication factor after a `MarkDead` is the coordinator's
//! add step, which plans partitions short of in-sync replicas first; the
//! dead node's replicas stay listed (and do not count) until the
//! replacements are in sync, so a node that comes back quickly still has
//! its copies. A node that restarts registers with a new boot; the map then
//! demotes its replicas (see [`ClusterMap`]), and it catches up again or,
//! where it was replaced meanwhile, drops them.
//!
//! **Inputs.** The committed map, the data nodes' latest [`Reports`], the
//! partition's target. **Outputs.** At most one command per partition and
//! round. **Invariant.** Nothing is removed here: recovery only promotes
//! and counts replicas in, so it can never lower redundancy.

use std::collections::BTreeMap;

use super::coordinator::Step;
use super::grid::{ClusterMap, MapCommand, MemberState, Replica};

/// What a data node last said about itself, on the leader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// The reporting incarnation.
    pub boot: u32,
    /// The map version it had applied.
    pub version: u64,
    /// Per partition it hosts, sorted by partition: (partition, epoch in
    /// its map, holds the data in full).
    pub replicas: Vec<(u32, u64, bool)>,
}

impl NodeReport {
    /// What the node said of partition `p`: (epoch, complete).
    pub fn replica(&self, p: u32) -> Option<(u64, bool)> {
        self.replicas
            .binary_search_by_key(&p, |r| r.0)
            .ok()
            .map(|i| (self.replicas[i].1, self.replicas[i].2))
    }
}

/// Latest report per node.
pub type Reports = BTreeMap<String, NodeReport>;

/// The leader's recovery logic (stateless between rounds: everything it
/// needs is in the committed map and the reports, so a new leader picks up
/// where the old one stopped).
#[derive(Clone, Debug, Default)]
pub struct RecoveryManager;

impl RecoveryManager {
    /// True when `node`'s latest report, from the boot the map knows, says
    /// it holds partition `p` in full at `epoch`.
    pub fn reported_in_sync(
        map: &ClusterMap,
        reports: &Reports,
        node: &str,
        p: u32,
        epoch: u64,
    ) -> bool {
        let Some(m) = map.members.get(node) else {
            return false;
        };
        reports.get(node).is_some_and(|r| {
            r.boot == m.boot
                && r.replica(p)
                    .is_some_and(|(e, in_sync)| in_sync && e == epoch)
        })
    }

    /// The most urgent repair of partition `p`, if it needs one.
    pub fn repair(
        &self,
        p: u32,
        map: &ClusterMap,
        reports: &Reports,
        target: &[String],
    ) -> Option<(Step, MapCommand)> {
        let c = map.partitions.get(p as usize)?;
        if c.replicas.is_empty() {
            return None;
        }
        let alive_in_sync =
            |n: &str| c.replicas.iter().any(|r| r.node == n && r.in_sync) && map.is_alive(n);
        // 1. A primary that cannot serve is replaced by an alive in-sync replica,
        //    preferring the target's order.
        let primary_ok = c.primary.as_deref().is_some_and(|n| map.is_alive(n));
        if !primary_ok {
            let next = target
                .iter()
                .map(String::as_str)
                .find(|n| alive_in_sync(n))
                .or_else(|| {
                    c.replicas
                        .iter()
                        .map(|r| r.node.as_str())
                        .find(|n| alive_in_sync(n))
                });
            if let Some(node) = next {
                return Some((
                    Step::Promote,
                    MapCommand::PromotePrimary {
                        partition: p,
                        epoch: c.epoch,
                        node: node.to_string(),
                    },
                ));
            }
        }
        // 2. Replicas that finished catching up count in sync.
        let done: Vec<&str> = c
            .replicas
            .iter()
            .filter(|r| !r.in_sync && map.is_usable(&r.node))
            .filter(|r| Self::reported_in_sync(map, reports, &r.node, p, c.epoch))
            .map(|r| r.node.as_str())
            .collect();
        if !done.is_empty() {
            let replicas: Vec<Replica> = c
                .replicas
                .iter()
                .map(|r| Replica {
                    node: r.node.clone(),
                    in_sync: r.in_sync || done.contains(&r.node.as_str()),
                })
                .collect();
            let primary = c.primary.clone().filter(|n| map.is_usable(n)).or_else(|| {
                replicas
                    .iter()
                    .find(|r| r.in_sync && map.is_alive(&r.node))
                    .map(|r| r.node.clone())
            });
            return Some((
                Step::InSync,
                MapCommand::SetReplicas {
                    partition: p,
                    epoch: c.epoch,
                    replicas,
                    primary,
                },
            ));
        }
        // 3. Nothing in sync anywhere, not even on a dead member that may
        //    come back: re-seed from the live replicas.
        let any_in_sync = c.replicas.iter().any(|r| r.in_sync);
        let live: Vec<&Replica> = c
            .replicas
            .iter()
            .filter(|r| map.state_of(&r.node) == Some(MemberState::Alive))
            .collect();
        if !any_in_sync && !live.is_empty() {
            let replicas: Vec<Replica> = c
                .replicas
                .iter()
                .map(|r| Replica {
                    node: r.node.clone(),
                    in_sync: map.state_of(&r.node) == Some(MemberState::Alive),
                })
                .collect();
            return Some((
                Step::Repair,
                MapCommand::SetReplicas {
                    partition: p,
                    epoch: c.epoch,
                    replicas,
                    primary: Some(live[0].node.clone()),
                },
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::consensus::StateMachine;
    use crate::stack::grid::Geometry;

    fn map() -> ClusterMap {
        let mut m = ClusterMap::new(
            Geometry {
                width: 4,
                height: 2,
                tile_w: 2,
                tile_h: 2,
            },
            2,
        );
        for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
            m.apply(
                i as u64 + 1,
                &MapCommand::AddNode {
                    node: (*n).into(),
                    zone: "a".into(),
                    capacity: 1,
                    boot: 7,
                },
            );
        }
        m.apply(
            4,
            &MapCommand::SetReplicas {
                partition: 0,
                epoch: 0,
                replicas: vec![
                    Replica {
                        node: "n1".into(),
                        in_sync: true,
                    },
                    Replica {
                        node: "n2".into(),
                        in_sync: true,
                    },
                ],
                primary: Some("n1".into()),
            },
        );
        m
    }

    #[test]
    fn a_dead_primary_is_replaced_by_an_alive_in_sync_replica() {
        let mut m = map();
        let r = RecoveryManager;
        assert_eq!(r.repair(0, &m, &Reports::new(), &[]), None, "healthy");
        m.apply(5, &MapCommand::MarkDead { node: "n1".into() });
        let (step, cmd) = r.repair(0, &m, &Reports::new(), &[]).unwrap();
        assert_eq!(step, Step::Promote);
        assert_eq!(
            cmd,
            MapCommand::PromotePrimary {
                partition: 0,
                epoch: 1,
                node: "n2".into()
            }
        );
    }

    #[test]
    fn a_replica_counts_in_sync_only_on_a_report_of_its_boot_and_epoch() {
        let mut m = map();
        m.apply(
            5,
            &MapCommand::SetReplicas {
                partition: 0,
                epoch: 1,
                replicas: vec![
                    Replica {
                        node: "n1".into(),
                        in_sync: true,
                    },
                    Replica {
                        node: "n2".into(),
                        in_sync: true,
                    },
                    Replica {
                        node: "n3".into(),
                        in_sync: false,
                    },
                ],
                primary: Some("n1".into()),
            },
        );
        let r = RecoveryManager;
        let mut reports = Reports::new();
        let report = |boot, epoch| NodeReport {
            boot,
            version: 5,
            replicas: vec![(0, epoch, true)],
        };
        reports.insert("n3".into(), report(6, 2));
        assert_eq!(r.repair(0, &m, &reports, &[]), None, "another boot");
        reports.insert("n3".into(), report(7, 1));
        assert_eq!(r.repair(0, &m, &reports, &[]), None, "an older epoch");
        reports.insert("n3".into(), report(7, 2));
        let (step, _) = r.repair(0, &m, &reports, &[]).unwrap();
        assert_eq!(step, Step::InSync);
    }

    #[test]
    fn a_restarted_node_is_demoted_and_a_partition_with_nothing_in_sync_is_reseeded() {
        let mut m = map();
        // n1 restarts (new boot): it no longer counts, n2 becomes primary.
        m.apply(
            5,
            &MapCommand::AddNode {
                node: "n1".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 8,
            },
        );
        let c = &m.partitions[0];
        assert_eq!(c.primary.as_deref(), Some("n2"));
        assert!(!c.replicas[0].in_sync);
        m.apply(
            6,
            &MapCommand::AddNode {
                node: "n2".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 8,
            },
        );
        assert_eq!(m.partitions[0].primary, None);
        let (step, cmd) = RecoveryManager.repair(0, &m, &Reports::new(), &[]).unwrap();
        assert_eq!(step, Step::Repair);
        m.apply(7, &cmd);
        assert_eq!(m.in_sync_usable(0), 2);
    }
}
