//! One map view and one record of copies for the checkers that judge the
//! committed map (`placement`, `converged`, `balanced`).
//!
//! Each of them rebuilt the same [`MapView`] and [`Copies`] from the same
//! events: three copies of every partition's configuration and of every
//! node's copies, each updated at every event. Now the checkers of one run
//! share one [`Model`]: the first of them shown an event applies it, and
//! the others read what it did. What a checker needs from before the event
//! (a member's entry and load, the copies a disk loss took, whether a
//! damaged copy was complete) is recorded with it in [`Applied`]. An event
//! that concerns neither the view nor the copies is not applied at all:
//! each sharer is told so and passes it by.
//!
//! The checkers still judge from the events alone: the model is built from
//! nothing else, and no checker changes it but by applying an event.
//! The sharers are shown different message events (balanced none,
//! converged the sends, placement the sends and deliveries), and none of
//! them is applied: the view and the copies do not change at those, so
//! every sharer sees the same state at every event it is shown.

use std::cell::{Ref, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use super::copies::Copies;
use super::view::{Change, MapView, Mem};
use crate::sim::{Event, EventKind, ProcessId, SimTime};
use crate::stack::events::StackEvent;

/// What applying the latest event did, and what it replaced.
#[derive(Default)]
pub(super) struct Applied {
    /// A violation of copy safety ([`Copies::on_event`]).
    pub(super) copies: Option<(u32, String)>,
    /// What changed in the view ([`MapView::on_event`]).
    pub(super) change: Option<Change>,
    /// At a disk loss: the partitions its node held a complete copy of
    /// ([`Copies::complete`]) before.
    pub(super) held_before: BTreeSet<u32>,
    /// At a `damaged` event: the node's copy was complete before.
    pub(super) complete_before: bool,
    /// At a `member` event: the member's entry before.
    pub(super) member_before: Option<Mem>,
    /// At a `member` event: the partitions whose replicas (not primary)
    /// named the node before.
    pub(super) load_before: usize,
}

/// The shared state.
#[derive(Default)]
pub(super) struct State {
    pub(super) view: MapView,
    pub(super) copies: Copies,
    pub(super) applied: Applied,
    /// The latest event applied: (seq, time, process).
    last: Option<(u64, SimTime, ProcessId)>,
    /// Sharers yet to be shown the latest event applied: a further call
    /// with the same (seq, time, process) once every sharer was shown it
    /// is another event (a trace can hold two lines alike in these: a
    /// doctored one does), and is applied.
    pending: usize,
}

impl State {
    /// Applies `ev` to the view and the copies, recording in `applied`
    /// what it did and what it replaced.
    fn apply_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String]) {
        let who = ev.p.name_in(names);
        let a = &mut self.applied;
        a.held_before.clear();
        a.complete_before = false;
        a.member_before = None;
        a.load_before = 0;
        match ev.kind {
            EventKind::DiskLoss => {
                let c = &self.copies;
                a.held_before = c
                    .held
                    .keys()
                    .chain(c.genesis.keys())
                    .copied()
                    .filter(|&p| c.complete(p, who))
                    .collect();
            }
            EventKind::App(StackEvent::Damaged { partition, .. }) => {
                a.complete_before = self.copies.complete(*partition, who);
            }
            EventKind::App(StackEvent::Member { node, .. }) => {
                let v = &self.view;
                a.member_before = v.members.get(node).cloned();
                a.load_before = v.named.get(node).map_or(0, |ps| {
                    ps.iter()
                        .filter(|p| v.parts[p].nodes().any(|n| n == node))
                        .count()
                });
            }
            _ => {}
        }
        a.copies = self.copies.on_event(ev, names);
        a.change = match ev.kind {
            EventKind::App(app) => self.view.on_event(app),
            _ => None,
        };
    }
}

/// A handle on the state shared by the checkers of one run (a checker made
/// alone has its own).
#[derive(Clone, Default)]
pub(super) struct Model(Rc<RefCell<State>>);

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.borrow();
        f.debug_struct("Model")
            .field("view", &s.view)
            .field("copies", &s.copies)
            .finish()
    }
}

impl Model {
    /// The state as it is.
    pub(super) fn get(&self) -> Ref<'_, State> {
        self.0.borrow()
    }

    /// Applies `ev`, unless a checker sharing this model applied this very
    /// event already; then the state and what the event did. `None` for an
    /// event that neither changes the view or the copies nor is recorded in
    /// [`Applied`] ([`concerns`]): most of a run's events (map versions,
    /// Raft entries, client operations) are none of the model's business,
    /// and every sharer passes them by alike.
    pub(super) fn apply(
        &self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
    ) -> Option<Ref<'_, State>> {
        if !concerns(&ev.kind) {
            return None;
        }
        {
            let mut st = self.0.borrow_mut();
            let key = (ev.seq, ev.t, ev.p);
            let sharers = Rc::strong_count(&self.0);
            if sharers == 1 || st.last != Some(key) || st.pending == 0 {
                st.last = Some(key);
                st.pending = sharers - 1;
                st.apply_event(ev, names);
            } else {
                st.pending -= 1;
            }
        }
        Some(self.0.borrow())
    }
}

/// True for the events the model applies: those [`Copies::on_event`] or
/// [`MapView::on_event`] act on, and those whose [`Applied`] records hold
/// something of before. Any other event would leave the state as it is and
/// `applied` empty. Every variant is named, so that a new one is decided
/// here.
fn concerns(kind: &EventKind<'_, StackEvent>) -> bool {
    match kind {
        EventKind::Start | EventKind::Restart | EventKind::DiskLoss => true,
        EventKind::Send { .. }
        | EventKind::Deliver { .. }
        | EventKind::Drop { .. }
        | EventKind::Timer { .. }
        | EventKind::Crash { .. }
        | EventKind::Pause
        | EventKind::Resume
        | EventKind::Clock { .. }
        | EventKind::Violation { .. } => false,
        EventKind::App(app) => match app {
            StackEvent::Replica { .. }
            | StackEvent::Member { .. }
            | StackEvent::Partition { .. }
            | StackEvent::PlacementConfig { .. }
            | StackEvent::Damaged { .. }
            | StackEvent::Repaired { .. }
            | StackEvent::CaughtUp { .. } => true,
            StackEvent::Beat { .. }
            | StackEvent::Health { .. }
            | StackEvent::Map { .. }
            | StackEvent::Availability { .. }
            | StackEvent::Move { .. }
            | StackEvent::AuthReject { .. }
            | StackEvent::RateLimited { .. }
            | StackEvent::Credentials { .. }
            | StackEvent::Op { .. }
            | StackEvent::Served { .. }
            | StackEvent::Holding { .. }
            | StackEvent::Raft(_) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::control::testkit::{config, member, names, part, replica};
    use crate::sim::MsgClass;
    use crate::stack::consensus::RaftEvent;
    use crate::stack::events::{MemberChange, MovePhase, OpF, OpType, ReplicaState};
    use crate::stack::health::Health;

    fn event<'a>(p: u32, seq: u64, kind: EventKind<'a, StackEvent>) -> Event<'a, StackEvent> {
        Event {
            t: SimTime(seq * 1000),
            p: ProcessId(p),
            seq,
            cause: None,
            kind,
        }
    }

    /// What a state holds, to tell whether an event changed it.
    fn snapshot(st: &State) -> String {
        format!("{:?} {:?}", st.view, st.copies)
    }

    /// An event [`concerns`] passes by leaves the view and the copies as
    /// they are and records nothing in `applied`: skipping it is applying
    /// it. One event of every kind the model passes by, on a state
    /// with members, a partition and copies (n2's disk lost last, so that
    /// `applied` held something before).
    #[test]
    fn an_event_the_model_passes_by_would_change_nothing() {
        let names = names();
        let setup = [
            config(),
            member("n1", MemberChange::Joined, "a", 1),
            member("n2", MemberChange::Joined, "b", 2),
            part(1, &["n1", "n2"], &[]),
            replica(ReplicaState::Primary, 1, true, None),
        ];
        let mut st = State::default();
        for (seq, e) in setup.iter().enumerate() {
            st.apply_event(&event(1, seq as u64, EventKind::App(e)), &names);
        }
        st.apply_event(&event(2, 9, EventKind::DiskLoss), &names);
        let apps = [
            StackEvent::Beat { round: 1 },
            StackEvent::Health {
                node: "n1".into(),
                state: Health::Dead,
            },
            StackEvent::Map { version: 3 },
            StackEvent::Availability {
                partition: 0,
                available: false,
            },
            StackEvent::Move {
                partition: 0,
                from: "n1".into(),
                to: "n3".into(),
                phase: MovePhase::Planned,
            },
            StackEvent::AuthReject {
                from: "n1".into(),
                reason: "key".into(),
            },
            StackEvent::RateLimited {
                from: "n1".into(),
                what: "join".into(),
            },
            StackEvent::Credentials { key_id: "k".into() },
            StackEvent::Op {
                process: 1,
                kind: OpType::Invoke,
                f: OpF::Write,
                key: 1,
                value: Some(2),
                expected: None,
                req: 1,
                error: None,
            },
            StackEvent::Served {
                partition: 0,
                epoch: 1,
                f: OpF::Write,
                key: 1,
                value: Some(2),
                index: 1,
                copies: vec!["n1".into()],
            },
            StackEvent::Holding {
                partition: 0,
                in_sync: true,
                index: 1,
                cells: vec![[1, 2, 1]],
            },
            StackEvent::Raft(RaftEvent::Append {
                index: 1,
                term: 1,
                entry: "MarkDead n1".into(),
            }),
            StackEvent::Raft(RaftEvent::Commit {
                index: 1,
                term: 1,
                entry: "MarkDead n1".into(),
                digest: "d".into(),
            }),
        ];
        let (to, from) = (ProcessId(2), ProcessId(1));
        let class = MsgClass::Normal;
        let mut kinds: Vec<EventKind<'_, StackEvent>> = vec![
            EventKind::Send {
                to,
                msg: "Heartbeat",
                id: 1,
                class,
            },
            EventKind::Deliver {
                from,
                msg: "Heartbeat",
                id: 1,
                class,
            },
            EventKind::Drop {
                from,
                to,
                msg: "Heartbeat",
                id: 1,
                class,
                reason: crate::sim::DropReason::Loss,
            },
            EventKind::Timer { timer: "Tick" },
            EventKind::Crash { lost_writes: 0 },
            EventKind::Pause,
            EventKind::Resume,
            EventKind::Clock {
                offset_us: 5,
                drift_ppm: 0,
            },
            EventKind::Violation {
                check: "placement",
                detail: "x",
            },
        ];
        kinds.extend(apps.iter().map(EventKind::App));
        for (i, kind) in kinds.into_iter().enumerate() {
            assert!(!concerns(&kind), "{kind:?}");
            let before = snapshot(&st);
            st.apply_event(&event(1, 10 + i as u64, kind.clone()), &names);
            assert_eq!(snapshot(&st), before, "{kind:?}");
            let a = &st.applied;
            assert!(a.copies.is_none() && a.change.is_none(), "{kind:?}");
            assert!(a.held_before.is_empty() && !a.complete_before, "{kind:?}");
            assert!(a.member_before.is_none() && a.load_before == 0, "{kind:?}");
        }
    }
}
