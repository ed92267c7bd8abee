//! ReplicationManager, the scrub: a background check of the stored records'
//! checksums while the node is up, so that damage is found before a reload
//! needs the records (or a failover needs the copy).
//!
//! **Rate.** Every [`SCRUB_EVERY`] of the node's local time it checks at
//! most [`SCRUB_RECORDS`] records, walking the partitions in order from
//! where the last round stopped: a full pass over a node's data takes
//! (records / `SCRUB_RECORDS`) rounds, whatever the load.
//!
//! **Repair.** A damaged copy found by the scrub is its disk, not the
//! state the replica holds: the scrub only runs on copies that were whole
//! when loaded, and every entry and install applied since was checked as it
//! arrived. The replica rewrites that state as a fresh snapshot (a new
//! generation: the damaged records go with the old one), durably, at once,
//! primary or follower, and it keeps counting; the repair is traced
//! (`repaired`, with itself as the source). A copy a *reload* found
//! damaged is different: its state stops at the first damaged record, so
//! it is marked damaged and unsynced (it acknowledges nothing, its node
//! does not report it in sync, it can never lead) and asks the partition's
//! primary for an install — again every round until the install arrives.

use crate::sim::{Cx, SimDuration};

use super::super::events::StackEvent;
use super::super::grid::ClusterMap;
use super::super::planted::Bug;
use super::super::storage::Scrubbed;
use super::{Ack, AckStatus, DataHost, DataMsg, DataTimer, ReplicationManager, send};

/// How often the scrub runs, local time.
pub const SCRUB_EVERY: SimDuration = SimDuration::from_millis(250);
/// Records checked per round, at most.
pub const SCRUB_RECORDS: u64 = 64;

impl ReplicationManager {
    /// Arms the scrub's next round.
    pub(super) fn arm_scrub<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        self.scrub_timer = Some(cx.set_timer(SCRUB_EVERY, P::Timer::from(DataTimer::Scrub)));
    }

    /// One scrub round: checks up to [`SCRUB_RECORDS`] records, repairs
    /// what it finds damaged, and asks again for the installs that damaged
    /// followers still wait for.
    pub fn on_scrub<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, map: &ClusterMap) {
        self.arm_scrub(cx);
        // The `serve-corrupt` planted bug reads records without their
        // checksums: nothing is ever found damaged.
        if self.planted.has(Bug::ServeCorrupt) {
            return;
        }
        let parts: Vec<u32> = self.parts.keys().copied().collect();
        if parts.is_empty() {
            return;
        }
        let (mut p, mut at) = self.scrub_at;
        let mut budget = SCRUB_RECORDS;
        let mut visited = 0;
        while budget > 0 && visited <= parts.len() {
            // The next partition from the cursor on (wrapping round).
            let Some(next) = parts
                .iter()
                .copied()
                .find(|x| *x >= p)
                .or(parts.first().copied())
            else {
                break;
            };
            if next != p {
                at = 0;
            }
            p = next;
            let Some(r) = self.parts.get(&p) else {
                break;
            };
            let step = match r.damaged {
                true => Scrubbed::Clean {
                    checked: 0,
                    next: None,
                },
                false => r.store.scrub(cx.disk(), at, budget),
            };
            match step {
                Scrubbed::Clean {
                    checked,
                    next: Some(n),
                } => {
                    budget = budget.saturating_sub(checked.max(1));
                    at = n;
                    continue;
                }
                Scrubbed::Clean {
                    checked,
                    next: None,
                } => {
                    budget = budget.saturating_sub(checked);
                }
                Scrubbed::Damaged => self.found_damaged(cx, p),
            }
            visited += 1;
            p = p.wrapping_add(1);
            at = 0;
        }
        self.scrub_at = (p, at);
        // Damaged followers not rebuilt yet ask their primary again.
        let waiting: Vec<u32> = self
            .parts
            .iter()
            .filter(|(_, r)| r.damaged && r.primary.is_none())
            .map(|(p, _)| *p)
            .collect();
        for p in waiting {
            self.ask_install(cx, p, map);
        }
    }

    /// The scrub found a record of `p` damaged.
    fn found_damaged<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, p: u32) {
        let me = self.me.clone();
        let Some(r) = self.parts.get_mut(&p) else {
            return;
        };
        cx.trace(StackEvent::Damaged {
            partition: p,
            found: "scrub".into(),
        });
        match r.primary.is_some() {
            true => cx.reached("replica: scrub found the primary's copy damaged, rewritten"),
            false => cx.reached("replica: scrub found a follower's copy damaged"),
        }
        // The damage is on the disk, not in the state: the scrub runs only
        // on copies that were whole when loaded (a copy a reload found
        // damaged is skipped until an install rebuilds it), and every
        // entry applied since was checked as it arrived. Rewritten as a
        // fresh snapshot, durably, the copy is whole on the disk again and
        // keeps counting — on a follower as on a primary. Waiting for an
        // install instead left a partition dark when its other copies
        // were found damaged or lost in the meantime, though every copy's
        // state was whole in memory.
        r.store.rewrite(cx.disk());
        cx.disk().fsync();
        cx.trace(StackEvent::Repaired {
            partition: p,
            source: me.to_string(),
        });
    }

    /// Asks `p`'s primary (in this node's map) for an install, the way a
    /// follower that lacks one does.
    fn ask_install<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, p: u32, map: &ClusterMap) {
        let Some(c) = map.partitions.get(p as usize) else {
            return;
        };
        let Some(primary) = c.primary.as_deref().filter(|n| *n != self.me) else {
            return;
        };
        let (Some(to), Some(r)) = (cx.lookup(primary), self.parts.get(&p)) else {
            return;
        };
        let a = Ack {
            partition: p,
            epoch: c.epoch,
            index: r.store.index(),
            status: AckStatus::NeedInstall,
            caught_up: false,
        };
        send(cx, to, DataMsg::Ack(a));
    }
}
