//! ReplicationManager, follower side: replicates and installs taken from
//! the partition's primary (in the epoch of the install it follows only),
//! epoch confirmations answered, and the scrub that checks the stored
//! records in the background.

use crate::sim::{Cx, ProcessId};

use super::super::events::StackEvent;
use super::super::grid::ClusterMap;
use super::super::planted::Bug;
use super::{Ack, AckStatus, DataHost, DataMsg, Replica, Replicate, ReplicationManager, send};

impl ReplicationManager {
    pub(super) fn on_replicate<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        rep: Replicate,
        map: &ClusterMap,
    ) {
        let p = rep.partition;
        let map_epoch = map.partitions.get(p as usize).map_or(0, |c| c.epoch);
        let Some(r) = self.parts.get_mut(&p) else {
            return; // not (yet) a replica here: the primary resends
        };
        let mine = r.store.epoch.max(map_epoch);
        let ack = |r: &Replica, status| Ack {
            partition: p,
            epoch: if status == AckStatus::StaleEpoch {
                mine
            } else {
                rep.epoch
            },
            index: r.store.index(),
            status,
            caught_up: matches!(status, AckStatus::Ok | AckStatus::Gap)
                && r.caught_up == Some(rep.epoch),
        };
        if rep.epoch < mine && !self.planted.has(Bug::AcceptLowerEpoch) {
            cx.reached("replica: replicate of a lower epoch refused");
            let a = ack(r, AckStatus::StaleEpoch);
            send(cx, from, DataMsg::Ack(a));
            return;
        }
        if r.primary.as_ref().is_some_and(|pr| pr.epoch < rep.epoch) {
            Self::step_down(cx, r, map, p);
        }
        let mut gap = false;
        if let Some(state) = rep.install {
            // Within one epoch the primary's log only grows, and a follower
            // synced to it holds a prefix of it: an install of that epoch
            // older than what it holds was overtaken in flight by entries
            // it already acknowledged. Taking it would drop acknowledged
            // writes while the primary counts them held. One at what it
            // holds is a resend of what it has: rewriting it would only
            // queue another snapshot behind a slow disk.
            let synced = !r.damaged && r.synced == Some(rep.epoch);
            let stale = synced
                && state.index < r.store.index()
                && !self.planted.has(Bug::StaleInstallWindsBack);
            let held = synced && state.index == r.store.index();
            if stale {
                cx.reached("replica: stale install overtaken by entries ignored");
            } else if !held {
                cx.reached("replica: state transfer installed");
                r.store.install(cx.disk(), *state, rep.epoch);
            }
            if r.damaged {
                // The install rewrote the copy: a fresh snapshot, the
                // damaged records dropped with the old generation.
                cx.reached("replica: damaged copy rebuilt by an install");
                cx.trace(StackEvent::Repaired {
                    partition: p,
                    source: cx.name(from).to_string(),
                });
            }
            r.damaged = false;
            r.synced = Some(rep.epoch);
            r.installed_from = Some(cx.name(from).to_string());
        } else if r.synced != Some(rep.epoch) {
            cx.reached("replica: entries without a sync, install asked");
            let a = ack(r, AckStatus::NeedInstall);
            send(cx, from, DataMsg::Ack(a));
            return;
        } else {
            for e in rep.entries {
                if e.index == r.store.index() + 1 {
                    r.store.append(cx.disk(), e);
                } else if e.index > r.store.index() {
                    // A gap: an earlier message was lost or is overtaken.
                    // The ack says so, and the primary sends again from
                    // what this copy holds.
                    gap = true;
                    break;
                }
            }
        }
        cx.disk().fsync();
        // A declaration addressed to an earlier incarnation of this node
        // was withdrawn when the primary saw it restart: not taken.
        let addressed = rep.to_boot.is_none_or(|b| Some(b) == self.boot);
        if rep.caught_up && !addressed {
            cx.reached("replica: declaration to an earlier incarnation ignored");
        }
        if rep.caught_up && addressed && r.caught_up != Some(rep.epoch) {
            r.caught_up = Some(rep.epoch);
            self.newly_synced.push((p, rep.epoch));
            // The copy itself records it, so that a node whose list of
            // held copies is lost still knows this one whole.
            r.store.mark_whole(cx.disk(), rep.epoch);
            cx.disk().fsync();
            cx.trace(StackEvent::CaughtUp {
                partition: p,
                epoch: rep.epoch,
                index: r.store.index(),
            });
        }
        // Fault point: the fsync's completion comes late; the ack is held
        // back, and the primary's resend asks for it again.
        if cx.buggify("replica/hold-ack") {
            return;
        }
        let a = ack(r, if gap { AckStatus::Gap } else { AckStatus::Ok });
        send(cx, from, DataMsg::Ack(a));
    }

    /// A primary asks whether `epoch` is still current: no, when this
    /// replica knows a higher one (from its map or from a message).
    pub(super) fn on_confirm<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        partition: u32,
        epoch: u64,
        id: u64,
        map: &ClusterMap,
    ) {
        let map_epoch = map
            .partitions
            .get(partition as usize)
            .map_or(0, |c| c.epoch);
        let mine = self
            .parts
            .get(&partition)
            .map_or(0, |r| r.store.epoch)
            .max(map_epoch);
        send(
            cx,
            from,
            DataMsg::Confirmed {
                partition,
                epoch: mine.max(epoch),
                id,
                ok: epoch >= mine,
            },
        );
    }
}
