//! One map view and one record of copies for the checkers that judge the
//! committed map (`placement`, `converged`, `balanced`).
//!
//! Each of them rebuilt the same [`MapView`] and [`Copies`] from the same
//! events: three copies of every partition's configuration and of every
//! node's copies, each updated at every event. Now the checkers of one run
//! share one [`Model`]: the first of them shown an event applies it, and
//! the others read what it did. What a checker needs from before the event
//! (a member's entry and load, the copies a disk loss took, whether a
//! damaged copy was complete) is recorded with it in [`Applied`].
//!
//! The checkers still judge from the events alone: the model is built from
//! nothing else, and no checker changes it but by applying an event.
//! Placement and balanced are not shown message events and timers;
//! converged is. Neither the view nor the copies change at those, so every
//! sharer sees the same state at every event it is shown.

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
    /// event already; then the state and what the event did.
    pub(super) fn apply(&self, ev: &Event<'_, StackEvent>, names: &[String]) -> Ref<'_, State> {
        {
            let mut st = self.0.borrow_mut();
            let key = (ev.seq, ev.t, ev.p);
            let sharers = Rc::strong_count(&self.0);
            if sharers == 1 || st.last != Some(key) || st.pending == 0 {
                st.last = Some(key);
                st.pending = sharers - 1;
                let st = &mut *st;
                let who = ev.p.name_in(names);
                let a = &mut st.applied;
                a.held_before.clear();
                a.complete_before = false;
                a.member_before = None;
                a.load_before = 0;
                match ev.kind {
                    EventKind::DiskLoss => {
                        let c = &st.copies;
                        a.held_before = c
                            .held
                            .keys()
                            .chain(c.genesis.keys())
                            .copied()
                            .filter(|&p| c.complete(p, who))
                            .collect();
                    }
                    EventKind::App(StackEvent::Damaged { partition, .. }) => {
                        a.complete_before = st.copies.complete(*partition, who);
                    }
                    EventKind::App(StackEvent::Member { node, .. }) => {
                        let v = &st.view;
                        a.member_before = v.members.get(node).cloned();
                        a.load_before = v.named.get(node).map_or(0, |ps| {
                            ps.iter()
                                .filter(|p| v.parts[p].nodes().any(|n| n == node))
                                .count()
                        });
                    }
                    _ => {}
                }
                a.copies = st.copies.on_event(ev, names);
                a.change = match ev.kind {
                    EventKind::App(app) => st.view.on_event(app),
                    _ => None,
                };
            } else {
                st.pending -= 1;
            }
        }
        self.0.borrow()
    }
}
