//! The `placement` checker.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Model;
use super::view::{Change, Part};
use crate::check::{Checker, Traffic};
use crate::sim::{Event, EventKind, SimDuration, SimTime, Violation};
use crate::stack::consensus::RaftEvent;
use crate::stack::events::{MemberChange, StackEvent};

/// `placement`: in every committed configuration, no two replicas of a
/// partition on one node; a change that takes an in-sync replica off a
/// live member (alive or draining) must leave `replication_factor` in-sync
/// replicas on live members whose nodes report a complete copy
/// (make-before-break) and must not narrow the partition's zone spread
/// below what the alive members allow. And from the nodes' own events:
/// no node calls a copy complete without a transfer from a node holding
/// one while the data exists elsewhere, and no partition loses its last
/// complete copy but by a disk loss or damage. A copy is dropped when its
/// node removes it, not when the node lists it as catching up while its
/// disk keeps it (see `copies`).
///
/// A disk loss is a fact the leader learns only later: the node stops
/// heartbeating, and the map says so when it is committed dead or when the
/// node registers again. Until then — at most `dead_after` after the loss —
/// a change the leader planned on the copies that disk held is judged as
/// though they were still there (the planner could not have seen it). So
/// is a change planned before a leader could know of the loss, however
/// late it commits — before a message the node sent after the loss reached
/// a manager, and before its silence reached `dead_after`: a leader
/// appended it (the `append` event of the committed entry, at the leader,
/// is when it was planned), lost office before a quorum held it, and a
/// later leader committed it with its own first entry, as Raft commits an
/// earlier term's entries (no-bug hunt seed 0, run 3,077: a removal
/// appended at 11.01 s, a disk lost at 11.13 s, no leader until 18.02 s).
/// A copy its node finds damaged is judged the same way: the leader hears
/// of it in a later report.
#[derive(Debug, Default)]
pub struct Placement {
    /// The map view and copies (shared with the other map checkers).
    model: Model,
    /// Nodes whose disk was lost and of which the map has said nothing
    /// since: when, the partitions they held complete copies of, and what
    /// the managers heard of it.
    unseen_loss: BTreeMap<String, Loss>,
    /// The health monitor's `dead_after`.
    dead_after: SimDuration,
    /// When each log entry not yet applied here was first appended by a
    /// leader, by (index, term).
    appended: BTreeMap<(u64, u64), SimTime>,
    /// The term of each committed entry not yet applied here, by index.
    committed: BTreeMap<u64, u64>,
}

/// A disk loss (or a damaged copy) the map has not spoken of yet.
#[derive(Debug, Default)]
struct Loss {
    /// When it happened.
    at: SimTime,
    /// The partitions whose complete copies it took.
    held: BTreeSet<u32>,
    /// Messages the node sent since (ids), until one reached a manager.
    sent: BTreeSet<u64>,
    /// When a message the node sent after it first reached a manager:
    /// the earliest a leader could know (no-bug hunt seed 7, run 16,643:
    /// n4's disk was lost at 12.016 s, its first message after reached the
    /// leader at 12.039 s, and a removal planned at 12.0345 s on n4's copy
    /// committed 1.07 s after the loss, past `dead_after`).
    heard: Option<SimTime>,
}

impl Placement {
    /// A checker reading the map view and copies of `model`.
    pub(super) fn sharing(model: &Model) -> Placement {
        Placement {
            model: model.clone(),
            ..Placement::default()
        }
    }

    /// The earliest a leader could know of `l`: when a message its node
    /// sent after it first reached a manager, or when its silence reached
    /// `dead_after`, whichever came first.
    fn known_at(&self, l: &Loss) -> SimTime {
        let silent = SimTime(l.at.0 + self.dead_after.0);
        l.heard.map_or(silent, |h| h.min(silent))
    }

    /// Records when each log entry was first appended and the term of each
    /// committed one: when the change an entry holds was planned.
    fn note_entry(&mut self, ev: &Event<'_, StackEvent>) {
        match ev.kind {
            EventKind::App(StackEvent::Raft(RaftEvent::Append { index, term, .. })) => {
                self.appended.entry((*index, *term)).or_insert(ev.t);
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Commit { index, term, .. })) => {
                self.committed.insert(*index, *term);
            }
            _ => {}
        }
    }

    /// In-sync replicas of `part` on usable members whose node reports a
    /// complete copy, or whose copy a disk loss took that the leader could
    /// not know of yet at `t` or that came after the change was `planned`;
    /// and their zones.
    fn in_sync_counted(
        &self,
        p: u32,
        part: &Part,
        t: SimTime,
        planned: Option<SimTime>,
    ) -> (usize, usize) {
        let unseen = |n: &str| {
            self.unseen_loss.get(n).is_some_and(|l| {
                l.held.contains(&p)
                    && (t.saturating_since(l.at) <= self.dead_after
                        || planned.is_some_and(|planned| planned < self.known_at(l)))
            })
        };
        let m = self.model.get();
        let counted: Vec<&String> = part
            .in_sync
            .iter()
            .filter(|n| m.view.usable(n) && (m.copies.complete(p, n) || unseen(n)))
            .collect();
        let zones = counted
            .iter()
            .map(|n| m.view.zone(n))
            .collect::<BTreeSet<_>>()
            .len();
        (counted.len(), zones)
    }
}

impl Checker for Placement {
    fn name(&self) -> &'static str {
        "placement"
    }

    /// What a node whose disk loss the map has not spoken of sent, and
    /// where it arrived.
    fn traffic(&self) -> Traffic {
        Traffic {
            sends: true,
            delivers: true,
            ..Traffic::NONE
        }
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        // Traffic: only what a node whose loss the map has not spoken of
        // sent since, and its first arrival at a manager.
        match ev.kind {
            EventKind::Send { id, .. } => {
                if !self.unseen_loss.is_empty()
                    && let Some(l) = self.unseen_loss.get_mut(ev.p.name_in(names))
                    && l.heard.is_none()
                {
                    l.sent.insert(id);
                }
                return;
            }
            EventKind::Deliver { from, id, .. } => {
                if !self.unseen_loss.is_empty()
                    && ev.p.name_in(names).starts_with('m')
                    && let Some(l) = self.unseen_loss.get_mut(from.name_in(names))
                    && l.sent.contains(&id)
                {
                    l.heard = Some(ev.t);
                    l.sent.clear();
                }
                return;
            }
            EventKind::Drop { .. } | EventKind::Timer { .. } => return, // not shown
            _ => {}
        }
        let Some(m) = self.model.apply(ev, names) else {
            // None of the model's business: a Raft entry is all this
            // checker takes from such an event.
            self.note_entry(ev);
            return;
        };
        let a = &m.applied;
        if let EventKind::DiskLoss = ev.kind {
            let who = ev.p.name_in(names);
            let loss = Loss {
                at: ev.t,
                held: a.held_before.clone(),
                ..Loss::default()
            };
            self.unseen_loss.insert(who.to_string(), loss);
        }
        if let EventKind::App(StackEvent::Damaged { partition, .. }) = ev.kind {
            let who = ev.p.name_in(names);
            if a.complete_before {
                self.unseen_loss
                    .entry(who.to_string())
                    .or_insert_with(|| Loss {
                        at: ev.t,
                        ..Loss::default()
                    })
                    .held
                    .insert(*partition);
            }
        }
        if let Some((_, detail)) = &a.copies {
            out.push(Violation {
                check: "placement",
                detail: detail.clone(),
            });
            return;
        }
        let EventKind::App(app) = ev.kind else { return };
        if let StackEvent::PlacementConfig { dead_after_us, .. } = app {
            self.dead_after = SimDuration(*dead_after_us);
        }
        let planned = match app {
            StackEvent::Partition { version, .. } => {
                let planned = self
                    .committed
                    .get(version)
                    .and_then(|term| self.appended.get(&(*version, *term)))
                    .copied();
                // Entries apply in order: nothing below this one is still to come.
                self.appended = self.appended.split_off(&(*version, 0));
                self.committed = self.committed.split_off(version);
                planned
            }
            _ => None,
        };
        let (p, old) = match &a.change {
            Some(Change::Partition { p, old }) => (*p, old),
            Some(Change::Member { node, .. }) => {
                // The map has news of the node: the leader has learnt of it
                // — unless the news is that it is alive. A member is marked
                // alive on heartbeats of the incarnation the map knows,
                // which may all predate the loss (the node restarts with a
                // new boot and joins again after one): so when a new
                // leader states its map again (hunt run 3,077 again, n2's
                // loss unseen by the leader that restated it), and when a
                // falsely dead node heard again is marked alive 150 ms
                // after its disk was lost, on heartbeats sent before
                // (no-bug hunt seed 0, run 1,487).
                let alive = matches!(
                    app,
                    StackEvent::Member {
                        state: MemberChange::Alive,
                        ..
                    }
                );
                if !alive {
                    self.unseen_loss.remove(node);
                }
                return;
            }
            None => return,
        };
        let v = &m.view;
        let new = &v.parts[&p];
        let mut seen = BTreeSet::new();
        if let Some(dup) = new.nodes().find(|n| !seen.insert(n.as_str())) {
            out.push(Violation {
                check: "placement",
                detail: format!("p{p} (epoch {}) has two replicas on {dup}", new.epoch),
            });
            return;
        }
        let Some(s) = &v.settings else { return };
        let removed_live: Vec<&String> = old
            .in_sync
            .iter()
            .filter(|n| !new.nodes().any(|m| m == *n) && v.usable(n))
            .collect();
        if removed_live.is_empty() {
            return;
        }
        let (left, after) = self.in_sync_counted(p, new, ev.t, planned);
        if left < s.rf {
            out.push(Violation {
                check: "placement",
                detail: format!(
                    "p{p} (epoch {}): in-sync replica on live {} removed, leaving {left} in-sync replicas whose nodes report the data (replication factor {}); catching up: [{}]",
                    new.epoch,
                    removed_live.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(","),
                    s.rf,
                    new.catching_up.join(",")
                ),
            });
            return;
        }
        let need = s.rf.min(v.alive_zones());
        let before = self.in_sync_counted(p, old, ev.t, planned).1;
        if after < before.min(need) {
            out.push(Violation {
                check: "placement",
                detail: format!(
                    "p{p} (epoch {}): removing {} narrowed its zones from {before} to {after} ({need} possible)",
                    new.epoch,
                    removed_live.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(",")
                ),
            });
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::control::testkit::*;
    use crate::stack::events::{MemberChange, ReplicaState};

    #[test]
    fn placement_wants_make_before_break() {
        let c = config();
        let (a, b, cc) = (
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            member("n3", MemberChange::Joined, "a", 3),
        );
        let (p1, p2, p3_good, p3_bad) = (
            part(1, &["n1", "n2"], &[]),
            part(2, &["n1", "n2"], &["n3"]),
            part(3, &["n1", "n2", "n3"], &[]),
            part(3, &["n1"], &["n3"]),
        );
        let base = [
            (0, EventKind::App(&c)),
            (0, EventKind::App(&a)),
            (0, EventKind::App(&b)),
            (0, EventKind::App(&cc)),
            (0, EventKind::App(&p1)),
            (0, EventKind::App(&p2)),
        ];
        let mut good = base.to_vec();
        good.push((0, EventKind::App(&p3_good)));
        assert!(feed(&mut Placement::default(), &good).is_empty());
        let mut bad = base.to_vec();
        bad.push((0, EventKind::App(&p3_bad)));
        let v = feed(&mut Placement::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("in-sync replica on live n2 removed"),
            "{}",
            v[0].detail
        );
        // Removing a dead node's replica is fine.
        let dead = member("n2", MemberChange::Dead, "b", 5);
        let mut ok = base.to_vec();
        ok.push((0, EventKind::App(&dead)));
        ok.push((0, EventKind::App(&p3_bad)));
        assert!(feed(&mut Placement::default(), &ok).is_empty());
        // Two replicas on one node.
        let dup = part(4, &["n1", "n1"], &[]);
        let v = feed(
            &mut Placement::default(),
            &[(0, EventKind::App(&c)), (0, EventKind::App(&dup))],
        );
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn placement_keeps_the_zone_spread() {
        let c = config();
        let ms = [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            member("n3", MemberChange::Joined, "a", 3),
        ];
        let (p1, p2) = (
            part(1, &["n1", "n2", "n3"], &[]),
            part(2, &["n1", "n3"], &[]),
        );
        let held = replica(ReplicaState::Backup, 1, true, None);
        let mut evs = vec![(0, EventKind::App(&c))];
        evs.extend(ms.iter().map(|m| (0, EventKind::App(m))));
        evs.push((0, EventKind::App(&p1)));
        evs.extend((1..=3).map(|n| (n, EventKind::App(&held))));
        evs.push((0, EventKind::App(&p2)));
        let v = feed(&mut Placement::default(), &evs);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("narrowed its zones from 2 to 1"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn placement_follows_every_copy_back_to_a_transfer() {
        let c = config();
        let placed = part(1, &["n1", "n2"], &[]);
        let genesis = replica(ReplicaState::Backup, 1, true, None);
        let fetching = replica(ReplicaState::CatchingUp, 2, false, None);
        let copied = replica(ReplicaState::CatchingUp, 2, true, Some("n1"));
        let conjured = replica(ReplicaState::Backup, 3, true, None);
        let from_nobody = replica(ReplicaState::CatchingUp, 2, true, Some("n4"));
        let base = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&genesis)),
            (2, EventKind::App(&genesis)),
            (3, EventKind::App(&fetching)),
        ];
        let mut ok = base.clone();
        ok.push((3, EventKind::App(&copied)));
        assert!(feed(&mut Placement::default(), &ok).is_empty());
        for bad in [&conjured, &from_nobody] {
            let mut evs = base.clone();
            evs.push((3, EventKind::App(bad)));
            let v = feed(&mut Placement::default(), &evs);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(
                v[0].detail.starts_with("n3 reports a complete copy of p0"),
                "{}",
                v[0].detail
            );
        }
        // Every copy lost to disks: a new start from nothing is fine.
        let mut lost = base.clone();
        lost.push((1, EventKind::DiskLoss));
        lost.push((2, EventKind::DiskLoss));
        lost.push((3, EventKind::App(&conjured)));
        assert!(feed(&mut Placement::default(), &lost).is_empty());
    }

    #[test]
    fn a_first_replica_not_yet_created_keeps_the_lineage() {
        // p0 placed on n1, n2, n3; n3 (the primary) never hears of it
        // while cut off. n1 holds its copy; n2 pulls the chunks from n1;
        // n1 loses its disk. The partition never lacked its data — n3's
        // unborn copy holds all there is of a fresh partition — so n2's
        // copy from n1 is one of its lineage (no-bug hunt seed 7, run
        // 11,258). Once n3 has said it holds nothing, the lineage is gone
        // with n1's copy, and a copy from n1 after a new start is judged.
        let c = config();
        let placed = part(1, &["n3", "n1", "n2"], &[]);
        let genesis = replica(ReplicaState::Backup, 1, true, None);
        let fetching = replica(ReplicaState::CatchingUp, 2, false, None);
        let emptied = replica(ReplicaState::CatchingUp, 3, false, None);
        let from_n1 = replica(ReplicaState::CatchingUp, 3, true, Some("n1"));
        let primary = replica(ReplicaState::Primary, 3, true, None);
        let base = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&genesis)),
            (2, EventKind::App(&fetching)),
            (1, EventKind::DiskLoss),
            (1, EventKind::App(&emptied)),
        ];
        let mut unborn = base.clone();
        unborn.push((3, EventKind::App(&primary)));
        unborn.push((2, EventKind::App(&from_n1)));
        let v = feed(&mut Placement::default(), &unborn);
        assert!(v.is_empty(), "{v:?}");
        let mut restarted = base.clone();
        restarted.push((3, EventKind::App(&emptied)));
        restarted.push((3, EventKind::App(&primary)));
        restarted.push((2, EventKind::App(&from_n1)));
        let v = feed(&mut Placement::default(), &restarted);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("copied from n1, which held none"),
            "{}",
            v[0].detail
        );
    }

    /// n1, n2 and n3 joined, one per zone a, b, c.
    fn three_zones() -> [StackEvent; 3] {
        [
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            member("n3", MemberChange::Joined, "c", 3),
        ]
    }

    #[test]
    fn a_change_planned_before_a_disk_loss_is_judged_on_the_copies_it_saw() {
        // rf 2, p0 in sync on n1, n2, n3. A leader appends the removal of
        // n2 at 1 s; n3's disk is lost at 1.5 s; the removal commits at 9 s
        // (a later leader's first entry committed it), long after
        // `dead_after` (1 s), the map still silent about n3.
        let c = config();
        let ms = three_zones();
        let placed = part(1, &["n1", "n2", "n3"], &[]);
        let held = replica(ReplicaState::Backup, 1, true, None);
        let removal = part(2, &["n1", "n3"], &[]);
        let entry = "SetReplicas p0@1 [n1,n3]".to_string();
        let append = StackEvent::Raft(RaftEvent::Append {
            index: 12,
            term: 3,
            entry: entry.clone(),
        });
        let commit = StackEvent::Raft(RaftEvent::Commit {
            index: 12,
            term: 3,
            entry,
            digest: "d".into(),
        });
        let restated = member("n3", MemberChange::Alive, "c", 11);
        // n3 sends `id` at `sent` (µs), and m1 has it at `sent + 10 ms`.
        let run_heard = |append_at: Option<u64>, heard: Option<(u64, u64)>| {
            let mut evs = vec![(0, 0, EventKind::App(&c))];
            evs.extend(ms.iter().map(|m| (0, 0, EventKind::App(m))));
            evs.push((0, 0, EventKind::App(&placed)));
            evs.extend((1..=3).map(|n| (10, n, EventKind::App(&held))));
            // A message n3 sent before the loss, arriving after it, is
            // no news of it.
            evs.push((1_400_000, 3, send(7)));
            if let Some(t) = append_at {
                evs.push((t, 0, EventKind::App(&append)));
            }
            evs.push((1_500_000, 3, EventKind::DiskLoss));
            evs.push((1_510_000, 0, deliver(3, 7)));
            if let Some((sent, id)) = heard {
                evs.push((sent, 3, send(id)));
                evs.push((sent + 10_000, 0, deliver(3, id)));
            }
            evs.sort_by_key(|e| e.0);
            // The committing leader, just elected, states its map again:
            // no news of n3.
            evs.push((8_900_000, 0, EventKind::App(&restated)));
            evs.push((9_000_000, 0, EventKind::App(&commit)));
            evs.push((9_000_000, 0, EventKind::App(&removal)));
            feed_at(&mut Placement::default(), &evs)
        };
        let run = |append_at: Option<u64>| run_heard(append_at, None);
        // Planned before the loss, or after it but before anything of it
        // could reach a leader (n3 silent for less than `dead_after`).
        for append_at in [1_000_000, 2_000_000] {
            let v = run(Some(append_at));
            assert!(v.is_empty(), "{append_at}: {v:?}");
        }
        // n3 back at 1.6 s: its first message reaches m1 at 1.61 s. Planned
        // before that, the change is judged on the copies it saw; after,
        // on the copies there are.
        let v = run_heard(Some(1_605_000), Some((1_600_000, 8)));
        assert!(v.is_empty(), "{v:?}");
        let v = run_heard(Some(1_700_000), Some((1_600_000, 8)));
        assert_eq!(v.len(), 1, "{v:?}");
        // Planned once n3's silence reached `dead_after`, or when no one
        // knows when: judged on the copies there are.
        for append_at in [Some(2_600_000), None] {
            let v = run(append_at);
            assert_eq!(v.len(), 1, "{append_at:?}: {v:?}");
            assert!(
                v[0].detail.contains("in-sync replica on live n2 removed"),
                "{}",
                v[0].detail
            );
        }
    }

    /// A message `id` to m1.
    fn send(id: u64) -> EventKind<'static, StackEvent> {
        EventKind::Send {
            to: crate::sim::ProcessId(0),
            msg: "Register",
            id,
            class: crate::sim::MsgClass::Normal,
        }
    }

    /// `from` (a process index) reaches the receiver with `id`.
    fn deliver(from: u32, id: u64) -> EventKind<'static, StackEvent> {
        EventKind::Deliver {
            from: crate::sim::ProcessId(from),
            msg: "Register",
            id,
            class: crate::sim::MsgClass::Normal,
        }
    }

    #[test]
    fn a_node_marked_alive_after_its_disk_loss_is_no_news_of_the_loss() {
        // rf 2, p0 in sync on n1, n2, n3. n3 is found dead (falsely), its
        // disk is lost at 1.5 s, and it is marked alive at 1.6 s on the
        // heartbeats it sent before; n2's replica is removed at 1.7 s,
        // within `dead_after` (1 s) of the loss: the leader could not know.
        // Had n3 joined again (a new incarnation, after the loss), the
        // leader would have known.
        let c = config();
        let ms = three_zones();
        let placed = part(1, &["n1", "n2", "n3"], &[]);
        let held = replica(ReplicaState::Backup, 1, true, None);
        let dead = member("n3", MemberChange::Dead, "c", 4);
        let removal = part(7, &["n1", "n3"], &[]);
        let run = |news: &StackEvent| {
            let mut evs = vec![(0, 0, EventKind::App(&c))];
            evs.extend(ms.iter().map(|m| (0, 0, EventKind::App(m))));
            evs.push((0, 0, EventKind::App(&placed)));
            evs.extend((1..=3).map(|n| (10, n, EventKind::App(&held))));
            evs.push((1_000_000, 0, EventKind::App(&dead)));
            evs.push((1_500_000, 3, EventKind::DiskLoss));
            evs.push((1_600_000, 0, EventKind::App(news)));
            evs.push((1_700_000, 0, EventKind::App(&removal)));
            feed_at(&mut Placement::default(), &evs)
        };
        let alive = member("n3", MemberChange::Alive, "c", 5);
        let v = run(&alive);
        assert!(v.is_empty(), "{v:?}");
        let rejoined = member("n3", MemberChange::Joined, "c", 5);
        let v = run(&rejoined);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("in-sync replica on live n2 removed"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn placement_flags_the_last_copy_dropped() {
        let c = config();
        let placed = part(1, &["n1", "n2"], &[]);
        let held = replica(ReplicaState::Backup, 1, true, None);
        let removed = replica(ReplicaState::Removed, 2, false, None);
        let mut evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&held)),
            (2, EventKind::App(&held)),
            (1, EventKind::App(&removed)),
        ];
        assert!(feed(&mut Placement::default(), &evs).is_empty());
        // n2 crashed: its disk still holds the copy.
        evs.push((2, EventKind::Crash { lost_writes: 0 }));
        assert!(feed(&mut Placement::default(), &evs).is_empty());
        evs.push((2, EventKind::App(&removed)));
        let v = feed(&mut Placement::default(), &evs);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("lost its last complete copy"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn placement_keeps_a_copy_listed_catching_up_on_its_disk() {
        // rf 1: n1 holds the only copy, crashes, registers again without
        // stating it (the record of what it stores was lost) and lists it
        // catching up; the map later re-seeds the partition from n1 itself.
        let c = config();
        let placed = part(1, &["n1"], &[]);
        let held = replica(ReplicaState::Primary, 1, true, None);
        let listed = replica(ReplicaState::CatchingUp, 2, false, None);
        let reseeded = replica(ReplicaState::Primary, 3, true, None);
        let removed = replica(ReplicaState::Removed, 4, false, None);
        let mut evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&held)),
            (1, EventKind::Crash { lost_writes: 0 }),
            (1, EventKind::Restart),
            (1, EventKind::App(&listed)),
            (1, EventKind::App(&reseeded)),
        ];
        assert!(feed(&mut Placement::default(), &evs).is_empty());
        // Removing it is dropping it.
        evs.push((1, EventKind::App(&removed)));
        n1_dropped_the_last_copy(&feed(&mut Placement::default(), &evs));
    }

    /// p0's copy found damaged (`found`: scrub, reload) by its node.
    fn damaged(found: &str) -> StackEvent {
        StackEvent::Damaged {
            partition: 0,
            found: found.into(),
        }
    }

    /// p0's copy rebuilt from `source`.
    fn repaired(source: &str) -> StackEvent {
        StackEvent::Repaired {
            partition: 0,
            source: source.into(),
        }
    }

    /// One violation: n1 dropped p0's last complete copy.
    fn n1_dropped_the_last_copy(v: &[Violation]) {
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail
                .starts_with("p0 lost its last complete copy: n1 dropped it"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn a_follower_declared_caught_up_by_its_primary_holds_a_copy() {
        // n2 catches up through the data plane (its primary's install and
        // entries, no node-level transfer event), then is re-seeded alone.
        let c = config();
        let placed = part(1, &["n1"], &[]);
        let primary = replica(ReplicaState::Primary, 1, true, None);
        let catching = replica(ReplicaState::CatchingUp, 1, false, None);
        let caught_up = StackEvent::CaughtUp {
            partition: 0,
            epoch: 1,
            index: 7,
        };
        let reseeded = replica(ReplicaState::Primary, 2, true, None);
        let mut evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&primary)),
            (2, EventKind::App(&catching)),
        ];
        let mut without = evs.clone();
        without.push((2, EventKind::App(&reseeded)));
        let v = feed(&mut Placement::default(), &without);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("without any transfer"),
            "{}",
            v[0].detail
        );
        evs.push((2, EventKind::App(&caught_up)));
        evs.push((2, EventKind::App(&reseeded)));
        assert!(feed(&mut Placement::default(), &evs).is_empty());
    }

    #[test]
    fn a_stale_primary_role_does_not_hide_the_current_primary() {
        // n1 leads epoch 2; n4, back from a pause, traces the primary role
        // of epoch 1 it held before; n2 then catches up in epoch 2 from n1
        // and is re-seeded alone. (Hunt run 3,311 of
        // `--plant abandon-unconfirmed-copy`: n4's epoch 28 hid n2's 36.)
        let c = config();
        let placed = part(1, &["n1", "n4"], &[]);
        let leads = replica(ReplicaState::Primary, 2, true, None);
        let backup = replica(ReplicaState::Backup, 1, true, None);
        let stale = replica(ReplicaState::Primary, 1, true, None);
        let catching = replica(ReplicaState::CatchingUp, 2, false, None);
        let caught_up = StackEvent::CaughtUp {
            partition: 0,
            epoch: 2,
            index: 7,
        };
        let reseeded = replica(ReplicaState::Primary, 3, true, None);
        let evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&leads)),
            (4, EventKind::App(&backup)),
            (4, EventKind::App(&stale)),
            (2, EventKind::App(&catching)),
            (2, EventKind::App(&caught_up)),
            (2, EventKind::App(&reseeded)),
        ];
        let v = feed(&mut Placement::default(), &evs);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_copy_repaired_from_its_own_state_is_only_what_it_was() {
        // n2 is catching up (never complete) when its scrub finds its copy
        // damaged and rewrites it from its own state: it is still no copy
        // of the data, so n1 dropping its own is dropping the last one.
        let c = config();
        let placed = part(1, &["n1"], &[]);
        let held = replica(ReplicaState::Primary, 1, true, None);
        let catching = replica(ReplicaState::CatchingUp, 2, false, None);
        let damaged = damaged("scrub");
        let own = repaired("n2");
        let removed = replica(ReplicaState::Removed, 3, false, None);
        let evs = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&held)),
            (2, EventKind::App(&catching)),
            (2, EventKind::App(&damaged)),
            (2, EventKind::App(&own)),
            (1, EventKind::App(&removed)),
        ];
        n1_dropped_the_last_copy(&feed(&mut Placement::default(), &evs));
    }

    #[test]
    fn placement_does_not_count_a_damaged_copy() {
        let c = config();
        let placed = part(1, &["n1", "n2"], &[]);
        let held = replica(ReplicaState::Backup, 1, true, None);
        let damaged = damaged("reload");
        let repaired = repaired("n2");
        let removed = replica(ReplicaState::Removed, 2, false, None);
        let listed = replica(ReplicaState::CatchingUp, 3, false, None);
        let base = vec![
            (0, EventKind::App(&c)),
            (0, EventKind::App(&placed)),
            (1, EventKind::App(&held)),
            (2, EventKind::App(&held)),
            (2, EventKind::App(&damaged)),
        ];
        // n1 drops the last whole copy: n1 is to blame, not n2.
        let mut evs = base.clone();
        evs.push((1, EventKind::App(&removed)));
        evs.push((2, EventKind::App(&listed)));
        n1_dropped_the_last_copy(&feed(&mut Placement::default(), &evs));
        // Repaired, n2's copy is whole again.
        let mut evs = base;
        evs.push((2, EventKind::App(&repaired)));
        evs.push((1, EventKind::App(&removed)));
        assert!(feed(&mut Placement::default(), &evs).is_empty());
    }
}
