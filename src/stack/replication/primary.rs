//! ReplicationManager, primary side: client requests ordered into the
//! log, entries and installs pushed to the followers, the commit index and
//! the answers it releases, the epoch confirmations that reads wait for,
//! and the tick that resends what followers did not acknowledge.

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::{Cx, ProcessId, SimDuration, SimTime};

use super::super::events::{OpF, StackEvent};
use super::super::grid::ClusterMap;
use super::super::node_id::NodeId;
use super::super::planted::{Bug, Planted};
use super::super::storage::{Command, Entry};
use super::{
    Ack, AckStatus, ClientOp, DataHost, DataMsg, MAX_BATCH, MAX_PENDING, Outcome, RESEND_AFTER,
    RESEND_AFTER_MAX, Replica, Replicate, ReplicationManager, Request, Response, send,
};

#[derive(Clone, Debug)]
pub(super) struct Follower {
    pub(super) id: Option<ProcessId>,
    /// Counts for acknowledgements (in sync in the map, or declared caught
    /// up): for the rest of the epoch, across restarts of its node.
    pub(super) required: bool,
    /// In sync in the map (its confirmation is needed for reads).
    pub(super) in_sync: bool,
    pub(super) acked: Option<u64>,
    pub(super) sent: Option<u64>,
    pub(super) last_send: Option<SimTime>,
    /// How long after `last_send` an unacknowledged follower is sent its
    /// due again (backs off while it does not answer).
    pub(super) resend_after: SimDuration,
    /// It acknowledged holding its caught-up declaration (or needs none:
    /// it is in sync in the map).
    pub(super) told: bool,
    /// The primary's last index when it became required: once it holds
    /// that, it holds every acknowledged write (later ones needed its ack).
    pub(super) from: u64,
    /// The index from which the entries were last sent again after the
    /// follower reported a gap, and when: every message behind the gap
    /// reports it too, and one resend answers them all (unless it is as
    /// old as a resend interval: then it was lost as well).
    pub(super) refilled: Option<(u64, SimTime)>,
    /// The incarnation of its node the map named when this record began:
    /// a node that restarts within the epoch forgets what it was told.
    pub(super) boot: Option<u32>,
}

impl Follower {
    /// Declared caught up: required, and holding every acknowledged write.
    pub(super) fn declared(&self) -> bool {
        self.required && self.acked.unwrap_or(0) >= self.from
    }
}

#[derive(Clone, Debug)]
pub(super) struct PendingWrite {
    pub(super) index: u64,
    pub(super) client: ProcessId,
    pub(super) seq: u64,
    pub(super) f: OpF,
    pub(super) cell: u64,
    pub(super) value: u64,
    pub(super) ok: bool,
    /// A compare-and-set of a cell lost with every copy (see
    /// [`Primary::lost`]): it did nothing, and its answer says why.
    pub(super) lost: bool,
}

#[derive(Clone, Debug)]
pub(super) struct PendingRead {
    pub(super) client: ProcessId,
    pub(super) seq: u64,
    pub(super) cell: u64,
    pub(super) value: Option<u64>,
    pub(super) need: u64,
    /// The first confirmation round asked for this read: any round from
    /// it on was sent after the read arrived, so its confirmation proves
    /// the epoch as well (a re-asked read takes the first answer).
    pub(super) first: u64,
    /// The in-sync followers whose confirmation it still waits for.
    pub(super) waiting: BTreeSet<NodeId>,
    pub(super) asked: SimTime,
}

#[derive(Clone, Debug)]
pub(super) struct Primary {
    pub(super) epoch: u64,
    pub(super) commit: u64,
    pub(super) followers: BTreeMap<NodeId, Follower>,
    pub(super) writes: Vec<PendingWrite>,
    pub(super) reads: Vec<PendingRead>,
    pub(super) next_id: u64,
    /// The `finish-move-before-catch-up` planted bug: every follower is
    /// declared caught up at once, with its first install.
    pub(super) declare_at_once: bool,
    /// The map says the partition was started again empty after every
    /// copy was lost (`lost_at`): a cell that no write defined since has
    /// no known value, so a read of it is not answered and a
    /// compare-and-set on it does nothing (both fail: `data-lost`).
    pub(super) lost: bool,
}

impl ReplicationManager {
    pub(super) fn in_sync_followers(r: &Replica) -> BTreeSet<NodeId> {
        r.primary
            .as_ref()
            .map(|pr| {
                pr.followers
                    .iter()
                    .filter(|(_, f)| f.in_sync)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends a confirmation round to the in-sync followers; returns its id.
    pub(super) fn confirm_round<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, p: u32) -> u64 {
        let Some(pr) = r.primary.as_mut() else {
            return 0;
        };
        pr.next_id += 1;
        let id = pr.next_id;
        let epoch = pr.epoch;
        let targets: Vec<ProcessId> = pr
            .followers
            .values()
            .filter(|f| f.in_sync)
            .filter_map(|f| f.id)
            .collect();
        for t in targets {
            send(
                cx,
                t,
                DataMsg::Confirm {
                    partition: p,
                    epoch,
                    id,
                },
            );
        }
        id
    }

    pub(super) fn step_down<P: DataHost>(
        cx: &mut Cx<'_, P>,
        r: &mut Replica,
        map: &ClusterMap,
        p: u32,
    ) {
        let Some(pr) = r.primary.take() else {
            return;
        };
        let primary = map
            .partitions
            .get(p as usize)
            .and_then(|c| c.primary.as_ref().map(|n| n.to_string()));
        // What is pending may or may not take effect under the next
        // primary: the client retries there with the same request id.
        for w in pr.writes {
            Self::respond(
                cx,
                w.client,
                w.seq,
                p,
                Outcome::NotPrimary {
                    primary: primary.clone(),
                },
            );
        }
        for rd in pr.reads {
            Self::respond(
                cx,
                rd.client,
                rd.seq,
                p,
                Outcome::NotPrimary {
                    primary: primary.clone(),
                },
            );
        }
    }

    pub(super) fn respond<P: DataHost>(
        cx: &mut Cx<'_, P>,
        to: ProcessId,
        seq: u64,
        partition: u32,
        outcome: Outcome,
    ) {
        send(
            cx,
            to,
            DataMsg::Response(Response {
                seq,
                partition,
                outcome,
            }),
        );
    }

    /// Sends every follower what it lacks (see [`push`](Self::push)).
    pub(super) fn push_all<P: DataHost>(cx: &mut Cx<'_, P>, r: &mut Replica, p: u32, resend: bool) {
        let names: Vec<NodeId> = r
            .primary
            .as_ref()
            .map(|pr| pr.followers.keys().cloned().collect())
            .unwrap_or_default();
        for f in names {
            Self::push(cx, r, p, &f, resend);
        }
    }

    /// A replica knows a newer configuration (`epoch`): this primary is
    /// deposed, remembers the epoch durably, and answers what it held.
    pub(super) fn deposed<P: DataHost>(
        cx: &mut Cx<'_, P>,
        r: &mut Replica,
        map: &ClusterMap,
        p: u32,
        epoch: u64,
    ) {
        r.store.raise_epoch(cx.disk(), epoch);
        cx.disk().fsync();
        Self::step_down(cx, r, map, p);
    }

    /// Sends follower `f` what it lacks: the install if it has none in this
    /// epoch (or is too far behind), else the entries after what it was
    /// sent (`resend`: after what it acknowledged).
    pub(super) fn push<P: DataHost>(
        cx: &mut Cx<'_, P>,
        r: &mut Replica,
        p: u32,
        f: &str,
        resend: bool,
    ) {
        let now = cx.now();
        let index = r.store.index();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        let epoch = pr.epoch;
        let at_once = pr.declare_at_once;
        let Some(fo) = pr.followers.get_mut(f) else {
            return;
        };
        let Some(to) = fo.id else {
            return;
        };
        let from = if resend { fo.acked } else { fo.sent };
        let entries = from.and_then(|a| r.store.entries_after(a, MAX_BATCH));
        let msg = match entries {
            Some(e) if !e.is_empty() || resend => Replicate {
                partition: p,
                epoch,
                install: None,
                entries: e.to_vec(),
                caught_up: fo.declared() || at_once,
                to_boot: fo.boot,
            },
            Some(_) => return,
            None => Replicate {
                partition: p,
                epoch,
                install: Some(Box::new(r.store.state().clone())),
                entries: Vec::new(),
                caught_up: fo.declared() || at_once,
                to_boot: fo.boot,
            },
        };
        let last = msg.entries.last().map_or(
            if msg.install.is_some() {
                index
            } else {
                from.unwrap_or(0)
            },
            |e| e.index,
        );
        fo.sent = Some(last);
        fo.last_send = Some(now);
        send(cx, to, DataMsg::Replicate(msg));
    }

    /// The replication tick: resend what followers have not acknowledged.
    pub fn on_tick<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        self.ticking = false;
        self.tick_timer = None;
        let now = cx.now();
        let planted = self.planted;
        // Whether a replica here leads (nothing in the loop changes that):
        // the tick goes on. Found on the way, not by another scan of every
        // partition.
        let mut leading = false;
        for (&p, r) in self.parts.iter_mut() {
            let index = r.store.index();
            let once = planted.has(Bug::CaughtUpSentOnce);
            let due: Vec<NodeId> = match r.primary.as_ref() {
                Some(pr) => pr
                    .followers
                    .iter()
                    // A declaration of caught up that may have been lost
                    // is sent again: it arrives with no entry to carry it.
                    .filter(|(_, f)| f.acked != Some(index) || (f.declared() && !f.told && !once))
                    .filter(|(_, f)| {
                        f.last_send
                            .is_none_or(|t| now.saturating_since(t) >= f.resend_after)
                    })
                    .map(|(n, _)| n.clone())
                    .collect(),
                None => continue,
            };
            leading = true;
            for f in due {
                Self::push(cx, r, p, &f, true);
                // Unanswered since the last resend: a lost message, or a
                // follower still writing what it was sent. Wait longer
                // before the next, so resends never outpace its disk.
                if let Some(fo) = r.primary.as_mut().and_then(|pr| pr.followers.get_mut(&f)) {
                    fo.resend_after = (fo.resend_after + fo.resend_after).min(RESEND_AFTER_MAX);
                }
            }
            // Reads whose confirmations were lost ask again.
            let waiting: Vec<usize> = r
                .primary
                .as_ref()
                .map(|pr| {
                    pr.reads
                        .iter()
                        .enumerate()
                        .filter(|(_, rd)| !rd.waiting.is_empty())
                        .filter(|(_, rd)| now.saturating_since(rd.asked) >= RESEND_AFTER)
                        .map(|(i, _)| i)
                        .collect()
                })
                .unwrap_or_default();
            // They keep what was confirmed (the in-sync set is fixed within
            // an epoch) and take an answer to any round from their first:
            // with a round trip above RESEND_AFTER, only older rounds are
            // ever answered.
            if !waiting.is_empty() {
                let round = Self::confirm_round(cx, r, p);
                let latest_only = planted.has(Bug::ConfirmLatestRoundOnly);
                if let Some(pr) = r.primary.as_mut() {
                    for i in waiting {
                        pr.reads[i].asked = now;
                        if latest_only {
                            // The planted bug: only the newest round counts.
                            pr.reads[i].first = round;
                        }
                    }
                }
            }
        }
        if leading {
            self.start_tick(cx);
        }
    }

    pub(super) fn on_request<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        req: Request,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let p = req.partition;
        let me = self.me.clone();
        let not_primary = || Outcome::NotPrimary {
            primary: map
                .partitions
                .get(p as usize)
                .and_then(|c| c.primary.as_ref())
                .filter(|n| **n != *me)
                .map(|n| n.to_string()),
        };
        let Some(r) = self.parts.get_mut(&p) else {
            Self::respond(cx, from, req.seq, p, not_primary());
            return;
        };
        let Some(pr) = r.primary.as_mut() else {
            Self::respond(cx, from, req.seq, p, not_primary());
            return;
        };
        let epoch = pr.epoch;
        if pr.writes.len() + pr.reads.len() >= MAX_PENDING {
            cx.reached("replica: primary busy, request refused");
            Self::respond(cx, from, req.seq, p, Outcome::Busy);
            return;
        }
        let cell = req.op.cell();
        if let ClientOp::Read { .. } = req.op {
            let value = r.store.state().value(cell);
            if self.planted.has(Bug::ReadWithoutConfirm) {
                if value.is_none() && pr.lost {
                    Self::respond(cx, from, req.seq, p, Outcome::Lost);
                    return;
                }
                // The planted bug: answer from local state, epoch unconfirmed.
                cx.trace(StackEvent::Served {
                    partition: p,
                    epoch,
                    f: OpF::Read,
                    key: cell,
                    value,
                    index: r.store.index(),
                    copies: Vec::new(),
                });
                Self::respond(cx, from, req.seq, p, Outcome::Read(value));
                return;
            }
            let need = r.store.index();
            let first = Self::confirm_round(cx, r, p);
            let waiting = Self::in_sync_followers(r);
            if let Some(pr) = r.primary.as_mut() {
                pr.reads.push(PendingRead {
                    client: from,
                    seq: req.seq,
                    cell,
                    value,
                    need,
                    first,
                    waiting,
                    asked: cx.now(),
                });
            }
            Self::advance(cx, planted, &me, r, p);
            return;
        }
        // A retry of a request already in the log: answer it, or wait for it.
        if let Some(a) = r.store.state().dedup.get(&req.client).copied() {
            if a.seq > req.seq {
                cx.reached("replica: request older than the client's latest ignored");
                return; // older than what the client does now: ignore
            }
            if a.seq == req.seq {
                if a.index <= pr.commit {
                    cx.reached("replica: retry answered from the dedup table");
                    let out = if a.ok {
                        Outcome::Done
                    } else {
                        Outcome::CasFailed
                    };
                    Self::respond(cx, from, req.seq, p, out);
                } else if let Some(w) = pr.writes.iter_mut().find(|w| w.index == a.index) {
                    w.client = from;
                } else {
                    // Appended by an earlier epoch of this node, not pending:
                    cx.reached("replica: retry of a write an earlier epoch appended");
                    // it commits with this epoch's install.
                    let (f, value) = Self::described(&req.op);
                    pr.writes.push(PendingWrite {
                        index: a.index,
                        client: from,
                        seq: req.seq,
                        f,
                        cell,
                        value,
                        ok: a.ok,
                        lost: false,
                    });
                    pr.writes.sort_by_key(|w| w.index);
                }
                return;
            }
        }
        let command = match req.op {
            ClientOp::Write { cell, value } => Command::Write { cell, value },
            ClientOp::Cas {
                cell,
                expected,
                new,
            } => Command::Cas {
                cell,
                expected,
                new,
            },
            ClientOp::Read { .. } => return,
        };
        let entry = Entry {
            index: r.store.index() + 1,
            epoch,
            client: req.client,
            seq: req.seq,
            command,
        };
        let index = entry.index;
        // Whether the cell is defined is known before the entry applies.
        let lost = pr.lost
            && matches!(entry.command, Command::Cas { .. })
            && r.store.state().value(cell).is_none();
        let ok = r.store.append(cx.disk(), entry);
        if !self.planted.has(Bug::SkipPrimaryFsync) {
            cx.disk().fsync();
        }
        let (f, value) = Self::described(&req.op);
        if let Some(pr) = r.primary.as_mut() {
            pr.writes.push(PendingWrite {
                index,
                client: from,
                seq: req.seq,
                f,
                cell,
                value,
                ok,
                lost,
            });
        }
        Self::push_all(cx, r, p, false);
        Self::advance(cx, planted, &me, r, p);
    }

    pub(super) fn described(op: &ClientOp) -> (OpF, u64) {
        match *op {
            ClientOp::Read { .. } => (OpF::Read, 0),
            ClientOp::Write { value, .. } => (OpF::Write, value),
            ClientOp::Cas { new, .. } => (OpF::Cas, new),
        }
    }

    /// Moves the commit index and answers what it covers.
    pub(super) fn advance<P: DataHost>(
        cx: &mut Cx<'_, P>,
        planted: Planted,
        me: &str,
        r: &mut Replica,
        p: u32,
    ) {
        let index = r.store.index();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        let mut commit = index;
        for f in pr.followers.values().filter(|f| f.required) {
            commit = commit.min(f.acked.unwrap_or(0));
        }
        if planted.has(Bug::AckBeforeBackups) {
            // The planted bug: the primary's own disk is enough.
            commit = index;
        }
        if commit > pr.commit {
            pr.commit = commit;
        }
        let commit = pr.commit;
        let epoch = pr.epoch;
        let lost = pr.lost;
        let done = pr.writes.partition_point(|w| w.index <= commit);
        let ready = |rd: &PendingRead| rd.waiting.is_empty() && rd.need <= commit;
        if done == 0 && !pr.reads.iter().any(ready) {
            // Nothing to answer (most acks of a pipeline of writes).
            return;
        }
        let copies: Vec<String> = if pr.writes[..done].iter().any(|w| w.ok) {
            std::iter::once(me.to_string())
                .chain(
                    pr.followers
                        .iter()
                        .filter(|(_, f)| f.required)
                        .map(|(n, _)| n.to_string()),
                )
                .collect()
        } else {
            Vec::new()
        };
        let answered: Vec<PendingWrite> = pr.writes.drain(..done).collect();
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) =
            std::mem::take(&mut pr.reads).into_iter().partition(ready);
        pr.reads = waiting;
        for w in answered {
            if w.ok {
                cx.trace(StackEvent::Served {
                    partition: p,
                    epoch,
                    f: w.f,
                    key: w.cell,
                    value: Some(w.value),
                    index: w.index,
                    copies: copies.clone(),
                });
            }
            let out = if w.ok {
                Outcome::Done
            } else if w.lost {
                Outcome::Lost
            } else {
                Outcome::CasFailed
            };
            Self::respond(cx, w.client, w.seq, p, out);
        }
        for rd in ready {
            if rd.value.is_none() && lost {
                // Its epoch confirmed, this primary still holds no write
                // of the cell since every copy was lost: no value to give.
                Self::respond(cx, rd.client, rd.seq, p, Outcome::Lost);
                continue;
            }
            cx.trace(StackEvent::Served {
                partition: p,
                epoch,
                f: OpF::Read,
                key: rd.cell,
                value: rd.value,
                index: rd.need,
                copies: Vec::new(),
            });
            Self::respond(cx, rd.client, rd.seq, p, Outcome::Read(rd.value));
        }
    }

    pub(super) fn on_ack<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        a: Ack,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let me = self.me.clone();
        let p = a.partition;
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        let index = r.store.index();
        let name = cx.name(from).to_string();
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        match a.status {
            AckStatus::StaleEpoch if a.epoch > pr.epoch => {
                cx.reached("replica: primary deposed by a newer epoch");
                Self::deposed(cx, r, map, p, a.epoch);
                return;
            }
            AckStatus::StaleEpoch => return,
            AckStatus::NeedInstall => {
                if a.epoch == pr.epoch
                    && let Some(f) = pr.followers.get_mut(name.as_str())
                {
                    f.acked = None;
                    f.sent = None;
                    Self::push(cx, r, p, &name, true);
                }
                return;
            }
            AckStatus::Ok | AckStatus::Gap => {}
        }
        if a.epoch != pr.epoch {
            return;
        }
        let Some(f) = pr.followers.get_mut(name.as_str()) else {
            return;
        };
        let was_declared = f.declared();
        if f.acked.is_none_or(|x| a.index > x) || (a.caught_up && !f.told) {
            // It moves on: resends go back to their first pace.
            f.resend_after = RESEND_AFTER;
        }
        f.acked = Some(f.acked.map_or(a.index, |x| x.max(a.index)));
        f.told |= a.caught_up;
        if a.status == AckStatus::Gap && f.sent > f.acked {
            // Entries sent after its ack never arrived in order. Pushes of
            // new writes keep the tick's resend away under a steady load
            // (each counts as a send), so without this the follower would
            // drop every later entry and the commit index stall.
            let held = f.acked.unwrap_or(0);
            let now = cx.now();
            let fresh = f
                .refilled
                .is_some_and(|(i, t)| i == held && now.saturating_since(t) < f.resend_after);
            if !fresh {
                cx.reached("replica: gap in a follower's log, entries sent again");
                f.refilled = Some((held, now));
                f.sent = f.acked;
            }
        }
        if !f.required && a.index + MAX_BATCH as u64 >= index {
            // Within a batch of the end: from now on every write needs its
            // ack. Waiting for it to reach the very end instead never ends
            // under steady writes.
            f.required = true;
            f.from = index;
        }
        if f.declared() && !was_declared {
            // It holds every acknowledged write: caught up, it may report
            // itself in sync.
            Self::push(cx, r, p, &name, true);
        } else if f.acked < Some(index) && f.sent <= f.acked {
            Self::push(cx, r, p, &name, false);
        }
        Self::advance(cx, planted, &me, r, p);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_confirmed<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        p: u32,
        epoch: u64,
        id: u64,
        ok: bool,
        map: &ClusterMap,
    ) {
        let planted = self.planted;
        let me = self.me.clone();
        let name = cx.name(from).to_string();
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        let Some(pr) = r.primary.as_mut() else {
            return;
        };
        if !ok {
            if epoch > pr.epoch {
                Self::deposed(cx, r, map, p, epoch);
            }
            return;
        }
        if epoch != pr.epoch {
            return;
        }
        // A round at or after the read's first was sent after it arrived.
        for rd in pr.reads.iter_mut().filter(|rd| id >= rd.first) {
            rd.waiting.remove(name.as_str());
        }
        Self::advance(cx, planted, &me, r, p);
    }
}
