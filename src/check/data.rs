//! Data-plane checkers (DESIGN §4): `single_primary`, `durability` and the
//! liveness checker `available`.
//!
//! They judge from facts observed where they happen: a primary's own
//! `served` events (what it acknowledged, at which epoch, with which
//! replicas holding it), the clients' `op` events (what they saw), the
//! kernel's `disk_loss` events, and each data node's own `holding` report
//! at the end of the run. None of them reads the map or calls the
//! replication code.

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, EndOfRun, Traffic};
use crate::sim::{Event, EventKind, ProcessId, SimDuration, SimTime, Violation};
use crate::stack::events::{OpF, OpType, ReplicaState, StackEvent};

/// The data checkers.
pub fn data_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(SinglePrimary::default()),
        Box::new(Durability::default()),
        Box::new(Available::default()),
        Box::new(super::linearizable::Linearizable::default()),
    ]
}

// ---------------------------------------------------------------------------

/// `single_primary`: per partition and epoch, at most one replica answers
/// clients (acknowledges writes, serves reads).
#[derive(Default)]
pub struct SinglePrimary {
    serving: BTreeMap<(u32, u64), ProcessId>,
    reported: BTreeSet<(u32, u64)>,
}

impl Checker for SinglePrimary {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "single_primary"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        let EventKind::App(StackEvent::Served {
            partition, epoch, ..
        }) = ev.kind
        else {
            return;
        };
        let first = *self.serving.entry((*partition, *epoch)).or_insert(ev.p);
        if first != ev.p && self.reported.insert((*partition, *epoch)) {
            out.push(Violation {
                check: "single_primary",
                detail: format!(
                    "p{partition} epoch {epoch}: both {} and {} answered clients as primary",
                    first.name_in(names),
                    ev.p.name_in(names)
                ),
            });
        }
    }
}

// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Acked {
    partition: u32,
    cell: u64,
    value: u64,
    index: u64,
    epoch: u64,
    t: SimTime,
    copies: Vec<String>,
    /// Where the write stands in `facts`: the facts from here on happened
    /// after it was acknowledged.
    after: usize,
}

/// What a node itself said about its copy, or a disk it lost, in the order
/// it happened: how a write's copies change after its acknowledgement.
#[derive(Clone, Debug)]
enum Fact {
    /// The kernel wiped this node's disk.
    DiskLoss(String),
    /// The node found its copy of `partition` damaged (its own `damaged`
    /// event: records that fail their checksums).
    Damaged { partition: u32, node: String },
    /// The node rebuilt that copy (its own `repaired` event) from
    /// `source`: its primary's install, or itself (the state it serves).
    Repaired {
        partition: u32,
        node: String,
        source: String,
    },
    /// The node declared itself caught up on `partition` in `epoch`
    /// holding its log to `index` (its own `caught_up` event).
    CaughtUp {
        partition: u32,
        node: String,
        epoch: u64,
        index: u64,
    },
    /// The node dropped its copy of `partition` (its own `replica removed`)
    /// on applying `epoch`.
    Removed {
        partition: u32,
        node: String,
        epoch: u64,
    },
}

/// An acknowledged write at a log position: (epoch, cell, value).
type Slot = (u64, u64, u64);

#[derive(Clone, Debug, Default)]
struct Held {
    in_sync: bool,
    /// The newest epoch of the partition the node itself observed (its
    /// `replica` and `caught_up` events): its `in_sync` claim speaks for
    /// that epoch, not for later ones it never heard of.
    epoch: u64,
    cells: BTreeMap<u64, (u64, u64)>,
}

/// `durability`: a replica declared caught up (its own `caught_up` event)
/// holds every write acknowledged in that epoch before; and every
/// acknowledged write is present at the end on every
/// replica that its node reports holding in full, where that node observed
/// the write's epoch or a later one (a node cut off before it heard the
/// epoch, e.g. removed while isolated, still believes an older map: its
/// claim says nothing of the epoch's writes) — unless every copy that
/// held it later lost its disk (or was found damaged by its node and
/// never repaired: a storage fault destroyed it), in which case it is counted in
/// `lost_acked_writes` (and its partition, if nobody holds it, in
/// `unavailable_partitions`). The copies that held it are those that
/// persisted it when it was acknowledged, joined by every node that
/// declared itself caught up past it since; a copy whose node dropped it
/// (a finished move) stops holding it only while as many other copies as
/// the replication factor hold it (handed over, not abandoned). The write
/// is lost when its last holder loses its disk. Where no node holds the partition in
/// sync at the end, the write must be on some node's reported copy; if a
/// copy that held it did not report (its node was down at the end), the
/// write is counted as not judged (`durability_unjudged_writes`), never
/// called lost or kept. A write whose log position a later epoch's log
/// gives to another acknowledged write was dropped from the partition's
/// history: lost if every copy lost its disk, else a violation — even
/// where a later write to the cell hides it from the end's audit.
#[derive(Default)]
pub struct Durability {
    acked: Vec<Acked>,
    /// Disk losses and the nodes' own claims about their copies, in order.
    facts: Vec<(SimTime, Fact)>,
    holding: BTreeMap<u32, BTreeMap<String, Held>>,
    /// Per partition and node, the newest epoch the node observed.
    observed: BTreeMap<(u32, String), u64>,
    audited: bool,
    lost: u64,
    unavailable: BTreeSet<u32>,
    checked: u64,
    /// Writes whose every holder at the end was out of reach (down, its
    /// disk unread): neither kept nor lost is claimed.
    unjudged: u64,
    /// Per partition and epoch, the acknowledged write with the highest
    /// log index so far: (index, cell, value).
    top: BTreeMap<(u32, u64), (u64, u64, u64)>,
    /// Catch-up declarations judged short (reported up to a bound).
    short: u64,
    /// Replicas per partition, from the managers' `placement_config`.
    replication_factor: u32,
}

impl Durability {
    fn observe(&mut self, partition: u32, node: &str, epoch: u64) {
        let e = self
            .observed
            .entry((partition, node.to_string()))
            .or_default();
        *e = (*e).max(epoch);
    }

    /// Per acknowledged write (in `acked` order), the acknowledged write
    /// of a later epoch that holds its log position, if one does: a
    /// write's index is its position in the partition's log, every later
    /// primary's log holds every entry acknowledged before its epoch, and
    /// a position is never reused within one history. Another write at
    /// that position in a later epoch proves this one was dropped from the
    /// partition's history (its log started again without it) — unless the
    /// same write was served again from that epoch on (a client's retry
    /// applied it anew). The end's audit cannot see such a write once a
    /// later write to the cell hides it.
    fn dropped(&self) -> Vec<Option<Slot>> {
        let mut slots: BTreeMap<(u32, u64), Vec<Slot>> = BTreeMap::new();
        let mut last_served: BTreeMap<(u32, u64, u64), u64> = BTreeMap::new();
        for w in &self.acked {
            slots
                .entry((w.partition, w.index))
                .or_default()
                .push((w.epoch, w.cell, w.value));
            let e = last_served
                .entry((w.partition, w.cell, w.value))
                .or_default();
            *e = (*e).max(w.epoch);
        }
        self.acked
            .iter()
            .map(|w| {
                let again = last_served[&(w.partition, w.cell, w.value)];
                slots[&(w.partition, w.index)]
                    .iter()
                    .find(|(epoch, cell, value)| {
                        *epoch > w.epoch && (*cell, *value) != (w.cell, w.value) && again < *epoch
                    })
                    .copied()
            })
            .collect()
    }

    /// Whether every copy that held `w` lost its disk (or, at the end, was
    /// found damaged and not repaired since): follows its holders
    /// from its acknowledgement on (the copies that persisted it, and every
    /// node declaring itself caught up past it since) until the last of
    /// them loses its disk. A node that drops its copy leaves the holders
    /// only while as many others as the replication factor still hold the
    /// write: a copy handed over by a finished move, not one abandoned (a
    /// move finished before its catch-up leaves the write on fewer copies,
    /// and the copy dropped stays a holder, so the loss of the others does
    /// not excuse it). A disk lost in the same instant as the
    /// acknowledgement counts.
    fn lost_everywhere(&self, w: &Acked) -> bool {
        let mut holders: BTreeSet<&str> = w.copies.iter().map(String::as_str).collect();
        if holders.is_empty() {
            return false;
        }
        let enough = (self.replication_factor as usize).max(1);
        let from = self.facts[..w.after].partition_point(|(t, _)| *t < w.t);
        // A copy can leave just before the acknowledgement is traced: it
        // persisted the write, then applied the later epoch that removes
        // it, while the primary still counted it. A removal in an epoch
        // after the write's comes after the write on that copy (a copy
        // added again would need yet another epoch): handed over as if it
        // came after.
        let early = self.facts[..from].iter().filter(|(_, f)| {
            matches!(f, Fact::Removed { partition, node, epoch }
                if *partition == w.partition && *epoch > w.epoch && w.copies.contains(node))
        });
        // A copy found damaged holds nothing until it is repaired (at
        // once, by a primary rewriting it from the state it serves, or by
        // an install): lost when no holder is left at the end.
        let mut damaged = false;
        for (_, fact) in early.chain(&self.facts[from..]) {
            match fact {
                Fact::DiskLoss(node) if holders.remove(node.as_str()) && holders.is_empty() => {
                    return true;
                }
                Fact::DiskLoss(_) => {}
                Fact::Damaged { partition, node } if *partition == w.partition => {
                    damaged |= holders.remove(node.as_str());
                }
                // Rebuilt from the state it serves, or from a copy that
                // holds the write: a holder again (an install from a copy
                // started again empty brings nothing back).
                Fact::Repaired {
                    partition,
                    node,
                    source,
                } if *partition == w.partition
                    && (source == node || holders.contains(source.as_str())) =>
                {
                    holders.insert(node.as_str());
                }
                // Caught up past it from a primary: a holder too — while
                // some copy still holds it. With none left (each found
                // damaged), no transfer can bring it back: a catch-up
                // then follows a history re-seeded without it.
                Fact::CaughtUp {
                    partition,
                    node,
                    epoch,
                    index,
                } if *partition == w.partition
                    && *epoch >= w.epoch
                    && *index >= w.index
                    && !holders.is_empty() =>
                {
                    holders.insert(node.as_str());
                }
                Fact::Removed {
                    partition, node, ..
                } if *partition == w.partition => {
                    let others = holders.iter().filter(|n| **n != node.as_str()).count();
                    if others >= enough {
                        holders.remove(node.as_str());
                    }
                }
                _ => {}
            }
        }
        damaged && holders.is_empty()
    }
}

impl Checker for Durability {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "durability"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        match ev.kind {
            EventKind::App(StackEvent::PlacementConfig {
                replication_factor, ..
            }) => self.replication_factor = *replication_factor,
            EventKind::DiskLoss => self
                .facts
                .push((ev.t, Fact::DiskLoss(ev.p.name_in(names).to_string()))),
            EventKind::App(StackEvent::Damaged { partition, .. }) => self.facts.push((
                ev.t,
                Fact::Damaged {
                    partition: *partition,
                    node: ev.p.name_in(names).to_string(),
                },
            )),
            EventKind::App(StackEvent::Repaired { partition, source }) => self.facts.push((
                ev.t,
                Fact::Repaired {
                    partition: *partition,
                    node: ev.p.name_in(names).to_string(),
                    source: source.clone(),
                },
            )),
            EventKind::App(StackEvent::Served {
                partition,
                epoch,
                f: OpF::Write | OpF::Cas,
                key,
                value: Some(value),
                index,
                copies,
            }) => {
                let top = self.top.entry((*partition, *epoch)).or_default();
                if *index >= top.0 {
                    *top = (*index, *key, *value);
                }
                self.acked.push(Acked {
                    partition: *partition,
                    cell: *key,
                    value: *value,
                    index: *index,
                    epoch: *epoch,
                    t: ev.t,
                    copies: copies.clone(),
                    after: self.facts.len(),
                });
            }
            EventKind::App(StackEvent::Replica {
                partition,
                epoch,
                state,
                ..
            }) => {
                self.observe(*partition, ev.p.name_in(names), *epoch);
                if *state == ReplicaState::Removed {
                    self.facts.push((
                        ev.t,
                        Fact::Removed {
                            partition: *partition,
                            node: ev.p.name_in(names).to_string(),
                            epoch: *epoch,
                        },
                    ));
                }
            }
            EventKind::App(StackEvent::CaughtUp {
                partition,
                epoch,
                index,
            }) => {
                self.observe(*partition, ev.p.name_in(names), *epoch);
                self.facts.push((
                    ev.t,
                    Fact::CaughtUp {
                        partition: *partition,
                        node: ev.p.name_in(names).to_string(),
                        epoch: *epoch,
                        index: *index,
                    },
                ));
                // A replica declared caught up is counted in sync from now
                // on: it must hold every write acknowledged in the epoch
                // (the later ones need its ack anyway).
                let Some(&(top, cell, value)) = self.top.get(&(*partition, *epoch)) else {
                    return;
                };
                if top > *index {
                    self.short += 1;
                    if self.short <= 3 {
                        out.push(Violation {
                            check: "durability",
                            detail: format!(
                                "{} declared caught up on p{partition} in epoch {epoch} holding index {index}, \
                                 but write c{cell}={value} at index {top} was acknowledged in that epoch before",
                                ev.p.name_in(names)
                            ),
                        });
                    }
                }
            }
            EventKind::App(StackEvent::Holding {
                partition,
                in_sync,
                cells,
                ..
            }) => {
                self.audited = true;
                let node = ev.p.name_in(names).to_string();
                let epoch = self
                    .observed
                    .get(&(*partition, node.clone()))
                    .copied()
                    .unwrap_or(0);
                self.holding.entry(*partition).or_default().insert(
                    node,
                    Held {
                        in_sync: *in_sync,
                        epoch,
                        cells: cells.iter().map(|[c, v, i]| (*c, (*v, *i))).collect(),
                    },
                );
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: &EndOfRun, out: &mut Vec<Violation>) {
        // A write a later epoch's log proves dropped is lost: counted when
        // every copy that held it lost its disk, else a violation; the
        // audit below judges the others.
        let dropped = self.dropped();
        let mut reported = 0;
        let mut judged = vec![false; self.acked.len()];
        for ((w, by), done) in self.acked.iter().zip(&dropped).zip(&mut judged) {
            let Some((epoch, cell, value)) = by else {
                continue;
            };
            *done = true;
            self.checked += 1;
            if self.lost_everywhere(w) {
                self.lost += 1;
                continue;
            }
            if reported < 3 {
                reported += 1;
                out.push(Violation {
                    check: "durability",
                    detail: format!(
                        "acknowledged write c{}={} (p{} epoch {} index {}, copies {}) was dropped: \
                         index {} holds c{cell}={value}, acknowledged in epoch {epoch}",
                        w.cell,
                        w.value,
                        w.partition,
                        w.epoch,
                        w.index,
                        w.copies.join(","),
                        w.index,
                    ),
                });
            }
        }
        if !self.audited {
            // No node reported (every data node down at the end, a run
            // stopped by a violation, or a trace without the end-of-run
            // audit): a write whose every copy lost its disk is lost all
            // the same; of the others nothing is known.
            for w in self
                .acked
                .iter()
                .zip(&judged)
                .filter(|(_, j)| !**j)
                .map(|(w, _)| w)
            {
                self.checked += 1;
                if self.lost_everywhere(w) {
                    self.lost += 1;
                    self.unavailable.insert(w.partition);
                } else {
                    self.unjudged += 1;
                }
            }
            return;
        }
        let empty = BTreeMap::new();
        for w in self
            .acked
            .iter()
            .zip(&judged)
            .filter(|(_, j)| !**j)
            .map(|(w, _)| w)
        {
            self.checked += 1;
            let reports = self.holding.get(&w.partition).unwrap_or(&empty);
            let has = |h: &Held| {
                h.cells
                    .get(&w.cell)
                    .is_some_and(|(v, i)| *v == w.value || *i > w.index)
            };
            // A node's claim to be in sync counts for this write only if
            // the node observed the write's epoch: one that never heard of
            // it (cut off while the map moved on without it) holds a stale
            // belief, not a copy the write had to reach.
            let holders: Vec<(&String, &Held)> = reports
                .iter()
                .filter(|(_, h)| h.in_sync && h.epoch >= w.epoch)
                .collect();
            let missing: Vec<&String> = holders
                .iter()
                .filter(|(_, h)| !has(h))
                .map(|(n, _)| *n)
                .collect();
            if !holders.is_empty() && missing.is_empty() {
                continue;
            }
            if holders.is_empty() {
                // Nothing in sync at the end (its replicas restarted late,
                // or are down): the write is kept if a node still holds it
                // on its disk, and not judged if a copy that held it did not
                // report (a node down at the end: its disk was not read).
                if reports.values().any(has) {
                    continue;
                }
                if !self.lost_everywhere(w) && w.copies.iter().any(|c| !reports.contains_key(c)) {
                    self.unjudged += 1;
                    continue;
                }
            }
            if self.lost_everywhere(w) {
                self.lost += 1;
                if holders.is_empty() {
                    self.unavailable.insert(w.partition);
                }
                continue;
            }
            if reported < 3 {
                reported += 1;
                let where_ = if holders.is_empty() {
                    format!(
                        "no node holds it at the end, and every copy reported (copies {})",
                        w.copies.join(",")
                    )
                } else {
                    let ns: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    format!("missing on {}", ns.join(","))
                };
                out.push(Violation {
                    check: "durability",
                    detail: format!(
                        "acknowledged write c{}={} (p{} epoch {} index {}, copies {}) {where_}",
                        w.cell,
                        w.value,
                        w.partition,
                        w.epoch,
                        w.index,
                        w.copies.join(",")
                    ),
                });
            }
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let mut m = vec![
            ("acked_writes".into(), self.acked.len().into()),
            ("lost_acked_writes".into(), self.lost.into()),
            (
                "unavailable_partitions".into(),
                self.unavailable
                    .iter()
                    .copied()
                    .collect::<Vec<u32>>()
                    .into(),
            ),
        ];
        if self.unjudged > 0 {
            m.push(("durability_unjudged_writes".into(), self.unjudged.into()));
        }
        m
    }
}

// ---------------------------------------------------------------------------

/// The `error` of a client's `fail` when the cell was lost with every copy
/// of its partition.
pub const DATA_LOST: &str = "data-lost";

/// How long after the last fault healed operations may still time out.
pub const AVAILABLE_GRACE: SimDuration = SimDuration::from_secs(5);
/// The share of operations after the grace that may time out.
const MAX_INFO_SHARE: f64 = 0.1;

/// `available` (liveness, DESIGN §4: "client operations succeed again"):
/// of the operations invoked once the faults healed (and `[expect]
/// converged_by`, or a grace of 5 s, passed), at most a tenth may fail to
/// succeed, and at least one must succeed. Only `ok` is success: an `info`
/// (no answer), an operation still open after the grace, and a refused
/// read or write (`fail`: certainly not applied) are not. A compare-and-set
/// that ends `fail` counts for neither side: the history cannot tell a
/// comparison that did not hold (the primary answered) from a refusal.
/// Nor does a `fail` whose answer says `data-lost`: the partition answered,
/// truly, that the cell's acknowledged value went with every copy of it
/// (`durability` counts those writes) — no wait makes it succeed, and it
/// says nothing of whether the service is up.
#[derive(Default)]
pub struct Available {
    open: BTreeMap<u64, (SimTime, OpF)>,
    /// Invoked at, outcome, function, answered `data-lost`.
    done: Vec<(SimTime, OpType, OpF, bool)>,
    ok: u64,
    info: u64,
    fail: u64,
    /// Failures answered `data-lost`.
    data_lost: u64,
    /// Set by `finish` when no operation was there to judge: since when.
    nothing_after: Option<SimTime>,
    /// What followed the settle point was only failed compare-and-sets
    /// (and operations on lost cells).
    only_cas_failed: bool,
    /// What followed the settle point was only operations on lost cells.
    only_data_lost: bool,
}

impl Checker for Available {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "available"
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        _names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        let EventKind::App(StackEvent::Op {
            process,
            kind,
            f,
            error,
            ..
        }) = ev.kind
        else {
            return;
        };
        match kind {
            OpType::Invoke => {
                self.open.insert(*process, (ev.t, *f));
            }
            done => {
                let lost = *done == OpType::Fail && error.as_deref() == Some(DATA_LOST);
                match done {
                    OpType::Ok => self.ok += 1,
                    OpType::Fail => self.fail += 1,
                    _ => self.info += 1,
                }
                self.data_lost += u64::from(lost);
                if let Some((t, f)) = self.open.remove(process) {
                    self.done.push((t, *done, f, lost));
                }
            }
        }
    }

    fn finish(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        let settle = end
            .deadline
            .unwrap_or(end.healed_at + AVAILABLE_GRACE)
            .max(end.healed_at);
        let after: Vec<(OpType, OpF)> = self
            .done
            .iter()
            .filter(|(t, ..)| *t >= settle)
            // Answered `data-lost`: neither side (see the type's comment).
            .filter(|(.., lost)| !lost)
            .map(|(_, k, f, _)| (*k, *f))
            .collect();
        let lost_after = self
            .done
            .iter()
            .filter(|(t, .., lost)| *t >= settle && *lost)
            .count();
        // Operations still open at the end count as unanswered if they are
        // older than a few seconds (a hung cluster answers nothing).
        let hung = self
            .open
            .values()
            .filter(|(t, _)| *t >= settle && end.now.saturating_since(*t) > AVAILABLE_GRACE)
            .count();
        if after.is_empty() && hung == 0 {
            self.nothing_after = Some(settle);
            self.only_data_lost = lost_after > 0;
            return;
        }
        let count =
            |want: &dyn Fn(OpType, OpF) -> bool| after.iter().filter(|(k, f)| want(*k, *f)).count();
        let ok = count(&|k, _| k == OpType::Ok);
        let unanswered = count(&|k, _| k == OpType::Info) + hung;
        let refused = count(&|k, f| k == OpType::Fail && f != OpF::Cas);
        let cas_failed = count(&|k, f| k == OpType::Fail && f == OpF::Cas);
        let judged = ok + unanswered + refused;
        if judged == 0 {
            // Only compare-and-sets that failed: each may be a comparison
            // that lost or a refusal, and the history cannot tell which, so
            // there is nothing to judge either way.
            self.nothing_after = Some(settle);
            self.only_cas_failed = true;
            return;
        }
        let not_ok = unanswered + refused;
        let detail = if ok == 0 {
            Some(format!(
                "after {settle}, none of {} client operations succeeded ({unanswered} unanswered, {refused} refused, {cas_failed} compare-and-sets failed)",
                judged + cas_failed
            ))
        } else if not_ok as f64 > MAX_INFO_SHARE * judged as f64 {
            Some(format!(
                "after {settle}, {not_ok} of {judged} client operations did not succeed ({unanswered} unanswered, {refused} refused)"
            ))
        } else {
            None
        };
        if let Some(detail) = detail {
            out.push(Violation {
                check: "available",
                detail,
            });
        }
    }

    fn nothing_judged(&self) -> Option<String> {
        self.nothing_after.map(|t| match (self.only_cas_failed, self.only_data_lost) {
            (true, _) => format!(
                "after {t} only compare-and-sets that failed completed (a lost comparison or a refusal: not told apart)"
            ),
            (false, true) => format!(
                "after {t} only operations on cells lost with every copy completed (answered data-lost)"
            ),
            (false, false) => format!("no client operation was invoked after {t} to judge"),
        })
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let mut m: Vec<(String, serde_json::Value)> = vec![
            ("ops_ok".into(), self.ok.into()),
            ("ops_fail".into(), self.fail.into()),
            ("ops_info".into(), self.info.into()),
        ];
        if self.data_lost > 0 {
            m.push(("ops_data_lost".into(), self.data_lost.into()));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `evs` (process index, event) to a fresh `durability` and
    /// judges the end of the run.
    fn judge(evs: &[(u32, StackEvent)]) -> Vec<Violation> {
        let evs: Vec<(u32, Option<&StackEvent>)> = evs.iter().map(|(p, e)| (*p, Some(e))).collect();
        judge_with(&evs).0
    }

    /// As [`judge`]; `None` is a disk loss of that process. Also returns
    /// the count of lost acknowledged writes.
    fn judge_with(evs: &[(u32, Option<&StackEvent>)]) -> (Vec<Violation>, u64) {
        let names: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        let mut d = Durability::default();
        let mut out = Vec::new();
        for (seq, (p, e)) in evs.iter().enumerate() {
            let ev = Event {
                t: SimTime(seq as u64 * 1000),
                p: ProcessId(*p),
                seq: seq as u64,
                cause: None,
                kind: e.map_or(EventKind::DiskLoss, EventKind::App),
            };
            d.on_event(&ev, &names, &mut out);
        }
        let end = EndOfRun {
            now: SimTime(evs.len() as u64 * 1000),
            healed_at: SimTime(0),
            deadline: None,
            leader_deadline: None,
            voters: None,
            unhealed: None,
        };
        d.finish(&end, &mut out);
        (out, d.lost)
    }

    fn write(epoch: u64, key: u64, value: u64, index: u64, copies: &[&str]) -> StackEvent {
        StackEvent::Served {
            partition: 0,
            epoch,
            f: OpF::Write,
            key,
            value: Some(value),
            index,
            copies: copies.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// n1 acknowledges c5=77 at index 1 of epoch 1 as the only copy; its
    /// disk is lost (or not); in epoch 4 n2's log has another write at
    /// index 1, and later overwrites c5 (index 2), which is all the end's
    /// audit sees.
    fn dropped_then_overwritten(disk_lost: bool) -> (Vec<Violation>, u64) {
        let first = write(1, 5, 77, 1, &["n1"]);
        let other = write(4, 6, 88, 1, &["n2"]);
        let over = write(4, 5, 99, 2, &["n2"]);
        let r1 = replica(ReplicaState::Primary, 1);
        let r2 = replica(ReplicaState::Primary, 4);
        let end = holding(vec![[5, 99, 2], [6, 88, 1]]);
        let mut evs = vec![(0, Some(&r1)), (0, Some(&first))];
        if disk_lost {
            evs.push((0, None));
        }
        evs.extend([
            (1, Some(&r2)),
            (1, Some(&other)),
            (1, Some(&over)),
            (1, Some(&end)),
        ]);
        judge_with(&evs)
    }

    #[test]
    fn a_write_whose_log_position_a_later_epoch_reuses_was_dropped() {
        // Its only copy's disk was lost: counted lost, though the cell's
        // later value hides it from the audit.
        assert_eq!(dropped_then_overwritten(true), (Vec::new(), 1));
        // No disk was lost: the log dropped an acknowledged write.
        let (v, lost) = dropped_then_overwritten(false);
        assert_eq!(lost, 0);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("c5=77") && v[0].detail.contains("was dropped"),
            "{}",
            v[0].detail
        );
        // The same write served again in the later epoch (a retry applied
        // anew) was not dropped.
        let (first, other) = (write(1, 5, 77, 1, &["n1"]), write(4, 6, 88, 1, &["n2"]));
        let again = write(4, 5, 77, 3, &["n2"]);
        let end = holding(vec![[5, 77, 3], [6, 88, 1]]);
        let evs = [
            (0, Some(&first)),
            (1, Some(&other)),
            (1, Some(&again)),
            (1, Some(&end)),
        ];
        assert_eq!(judge_with(&evs), (Vec::new(), 0));
    }

    /// n1 acknowledges c5=77 (index 1, epoch 1) as its only copy, and
    /// finds that copy damaged; the partition is re-seeded from n3's older
    /// copy, n2 catches up in epoch 4 past index 1, and the new history
    /// puts another write at index 1. No copy held c5=77 when n2 caught
    /// up, so that catch-up did not bring it back: lost with its only
    /// copy, not dropped. With n3 still holding it (a caught-up copy), the
    /// same history drops it: a violation.
    #[test]
    fn a_catch_up_after_every_copy_was_damaged_does_not_hold_the_write() {
        let first = write(1, 5, 77, 1, &["n1"]);
        let damaged = StackEvent::Damaged {
            partition: 0,
            found: "scrub".into(),
        };
        let caught = StackEvent::CaughtUp {
            partition: 0,
            epoch: 4,
            index: 3,
        };
        let other = write(4, 6, 88, 1, &["n3", "n2"]);
        let end = holding(vec![[6, 88, 1]]);
        let (r1, r3) = (
            replica(ReplicaState::Primary, 1),
            replica(ReplicaState::Primary, 4),
        );
        let evs = [
            (0, Some(&r1)),
            (0, Some(&first)),
            (0, Some(&damaged)),
            (2, Some(&r3)),
            (1, Some(&caught)),
            (2, Some(&other)),
            (1, Some(&end)),
            (2, Some(&end)),
        ];
        let (v, lost) = judge_with(&evs);
        assert_eq!((v.len(), lost), (0, 1), "{v:?}");
        // n3 caught up past it in epoch 1, before the damage: a holder
        // left, so n2's catch-up counts, and the write was dropped.
        let early = StackEvent::CaughtUp {
            partition: 0,
            epoch: 1,
            index: 1,
        };
        let mut evs = evs.to_vec();
        evs.insert(2, (2, Some(&early)));
        let (v, lost) = judge_with(&evs);
        assert_eq!(lost, 0);
        assert!(!v.is_empty() && v[0].detail.contains("c5=77"), "{v:?}");
    }

    fn replica(state: ReplicaState, epoch: u64) -> StackEvent {
        StackEvent::Replica {
            partition: 0,
            state,
            epoch,
            complete: true,
            source: None,
        }
    }

    fn holding(cells: Vec<[u64; 3]>) -> StackEvent {
        StackEvent::Holding {
            partition: 0,
            in_sync: true,
            index: cells.len() as u64,
            cells,
        }
    }

    /// n1 is primary in epoch 2 and acknowledges a write held by itself
    /// alone; n2 last heard of epoch 1 (cut off since) and, at the end,
    /// still calls its copy in sync without the write.
    fn cut_off_claim(n2_epoch: u64) -> Vec<Violation> {
        judge(&[
            (0, replica(ReplicaState::Primary, 2)),
            (1, replica(ReplicaState::Backup, n2_epoch)),
            (
                0,
                StackEvent::Served {
                    partition: 0,
                    epoch: 2,
                    f: OpF::Write,
                    key: 5,
                    value: Some(77),
                    index: 1,
                    copies: vec!["n1".into()],
                },
            ),
            (0, holding(vec![[5, 77, 1]])),
            (1, holding(Vec::new())),
        ])
    }

    #[test]
    fn an_in_sync_claim_counts_only_for_epochs_its_node_observed() {
        // n2's claim speaks for epoch 1, not for the write of epoch 2: held.
        assert_eq!(cut_off_claim(1), Vec::new());
        // Had n2 observed epoch 2, its claim would have had to hold the write.
        let v = cut_off_claim(2);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].check, "durability");
        assert!(v[0].detail.contains("missing on n2"), "{}", v[0].detail);
    }

    /// One partition at replication factor 2, as the leader announces it.
    fn placement_config() -> StackEvent {
        StackEvent::PlacementConfig {
            policy: "rendezvous-bounded".into(),
            replication_factor: 2,
            max_imbalance: 0.25,
            max_concurrent_moves: 4,
            partitions: 1,
            dead_after_us: 1_000_000,
        }
    }

    /// Replication factor two: c5=77 is acknowledged on n1 and n2; a move
    /// hands n2's copy over to n3 (n3 declares itself caught up past it,
    /// or, if `handed_over` is false, never does: a move finished before
    /// its catch-up) and n2 drops its copy.
    /// Then n1 and n3 lose their disks, and the partition starts again in
    /// epoch 4 with another write at index 1.
    fn moved_then_lost(handed_over: bool) -> (Vec<Violation>, u64) {
        let r1 = replica(ReplicaState::Primary, 1);
        let first = write(1, 5, 77, 1, &["n1", "n2"]);
        let caught_up = StackEvent::CaughtUp {
            partition: 0,
            epoch: 2,
            index: 1,
        };
        let removed = StackEvent::Replica {
            partition: 0,
            state: ReplicaState::Removed,
            epoch: 2,
            complete: false,
            source: None,
        };
        let r4 = replica(ReplicaState::Primary, 4);
        let other = write(4, 6, 88, 1, &["n1"]);
        let end = holding(vec![[6, 88, 1]]);
        let config = placement_config();
        let mut evs = vec![(0, Some(&config)), (0, Some(&r1)), (0, Some(&first))];
        if handed_over {
            evs.push((2, Some(&caught_up)));
        }
        evs.extend([
            (1, Some(&removed)),
            (0, None),
            (2, None),
            (0, Some(&r4)),
            (0, Some(&other)),
            (0, Some(&end)),
        ]);
        judge_with(&evs)
    }

    /// n3 persists c5=77 (epoch 1, copies n1,n2,n3), then applies epoch
    /// 2, which removes it, a moment before the primary traces the
    /// acknowledgement: n3's removal comes first in the trace. n1 and n2
    /// (replication factor 2) then lose their disks and a later epoch
    /// gives index 1 to another write. Every copy that kept the write was
    /// wiped: counted lost (`sched-disk-loss-only-in-sync` seed 87 once
    /// called it a violation, n3 taken for a holder). A removal in the
    /// write's own epoch, before it, would have dropped an older copy.
    #[test]
    fn a_copy_removed_just_before_the_acknowledgement_was_traced_is_handed_over() {
        let config = placement_config();
        let r1 = replica(ReplicaState::Primary, 1);
        let removed = |epoch| StackEvent::Replica {
            partition: 0,
            state: ReplicaState::Removed,
            epoch,
            complete: false,
            source: None,
        };
        let first = write(1, 5, 77, 1, &["n1", "n2", "n3"]);
        let r4 = replica(ReplicaState::Primary, 4);
        let other = write(4, 6, 88, 1, &["n1"]);
        let end = holding(vec![[6, 88, 1]]);
        let run = |epoch| {
            let gone = removed(epoch);
            judge_with(&[
                (0, Some(&config)),
                (0, Some(&r1)),
                (2, Some(&gone)),
                (0, Some(&first)),
                (0, None),
                (1, None),
                (0, Some(&r4)),
                (0, Some(&other)),
                (0, Some(&end)),
            ])
        };
        assert_eq!(run(2), (Vec::new(), 1));
        let (v, lost) = run(1);
        assert_eq!((v.len(), lost), (1, 0), "{v:?}");
    }

    #[test]
    fn a_write_lost_with_every_disk_it_was_handed_over_to_is_counted() {
        // n2 handed its copy to n3 before dropping it: every copy that
        // held the write lost its disk, so it is lost, not violated.
        assert_eq!(moved_then_lost(true), (Vec::new(), 1));
        // n2 dropped its copy leaving the write on n1 alone: abandoned, so
        // its loss is no fault's doing.
        let (v, lost) = moved_then_lost(false);
        assert_eq!(lost, 0);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("c5=77"), "{}", v[0].detail);
    }
}
