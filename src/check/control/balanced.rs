//! The `balanced` checker, and the figures of load and replica moves.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::model::Model;
use super::view::{Change, Mem, Settings};
use crate::check::{Checker, EndOfRun, Traffic};
use crate::sim::{Event, EventKind, Violation};
use crate::stack::events::StackEvent;
use crate::stack::grid::MemberState;

/// Per-change move records kept for the metrics, at most.
const MAX_CHANGES: usize = 1000;

/// One membership change and the replica moves that followed it.
#[derive(Clone, Debug, PartialEq)]
struct ChangeWindow {
    what: String,
    ideal: f64,
    moves: u64,
    join: bool,
}

/// `balanced`: at the end of a converged run, no alive member hosts (by
/// its own events) more than ⌈(1+ε)·share⌉ replicas, its share being its
/// part by capacity of all `P·min(RF, alive)` replicas — or, where zone
/// spread puts a replica of every partition in every zone, at least its
/// part by capacity of its zone's `P` (a zone with fewer nodes must carry
/// as much as the others). Written from the design, not from the planner.
///
/// Metrics: `load_max`, `load_mean`, `load_max_over_mean` at the end;
/// `replica_moves` (replicas added to partitions already placed);
/// `moves_per_change` — per membership change (a join, a death, a drain),
/// the moves until the next change against the ideal (RF·P/N for a join
/// to N nodes, or a dead node's return; the node's replicas for a death or
/// a drain) — and `join_moves_over_ideal_max`.
#[derive(Debug, Default)]
pub struct Balanced {
    /// The map view and copies (shared with the other map checkers).
    model: Model,
    moves: u64,
    windows: Vec<ChangeWindow>,
}

impl Balanced {
    /// A checker reading the map view and copies of `model`.
    pub(super) fn sharing(model: &Model) -> Balanced {
        Balanced {
            model: model.clone(),
            ..Balanced::default()
        }
    }
}

impl Checker for Balanced {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "balanced"
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        let Some(m) = self.model.apply(ev, names) else {
            return;
        };
        let EventKind::App(_) = ev.kind else { return };
        // The node's load before the change (for the ideal of a death or drain).
        let load_before = m.applied.load_before as f64;
        match &m.applied.change {
            Some(Change::Partition { old, p }) => {
                if old.in_sync.is_empty() && old.catching_up.is_empty() {
                    return; // initial placement moves no data
                }
                let new = &m.view.parts[p];
                let added = new
                    .nodes()
                    .filter(|n| !old.nodes().any(|m| m == *n))
                    .count() as u64;
                self.moves += added;
                if let Some(w) = self.windows.last_mut() {
                    w.moves += added;
                }
            }
            Some(Change::Member { node, before, now }) => {
                let placed = !m.view.parts.is_empty();
                let window = match (*before, *now) {
                    (None, Some(MemberState::Alive)) if placed => {
                        let (Some(s), n) = (&m.view.settings, m.view.alive_count()) else {
                            return;
                        };
                        let ideal =
                            (s.rf.min(n) as f64) * f64::from(s.partitions) / n.max(1) as f64;
                        Some(ChangeWindow {
                            what: format!("join {node}"),
                            ideal,
                            moves: 0,
                            join: true,
                        })
                    }
                    (Some(b), Some(MemberState::Dead)) if b != MemberState::Dead => {
                        Some(ChangeWindow {
                            what: format!("dead {node}"),
                            ideal: load_before,
                            moves: 0,
                            join: false,
                        })
                    }
                    (Some(MemberState::Dead), Some(MemberState::Alive)) => {
                        let (Some(s), n) = (&m.view.settings, m.view.alive_count()) else {
                            return;
                        };
                        let ideal =
                            (s.rf.min(n) as f64) * f64::from(s.partitions) / n.max(1) as f64;
                        Some(ChangeWindow {
                            what: format!("return {node}"),
                            ideal,
                            moves: 0,
                            join: false,
                        })
                    }
                    (Some(MemberState::Alive), Some(MemberState::Draining)) => Some(ChangeWindow {
                        what: format!("drain {node}"),
                        ideal: load_before,
                        moves: 0,
                        join: false,
                    }),
                    _ => None,
                };
                if let Some(w) = window
                    && self.windows.len() < MAX_CHANGES
                {
                    self.windows.push(w);
                }
            }
            None => {}
        }
    }

    fn finish(&mut self, _end: &EndOfRun, out: &mut Vec<Violation>) {
        let m = self.model.get();
        let Some(s) = &m.view.settings else { return };
        // Judged on the leader's own count of alive members (a shortfall
        // against the nodes that remain is `converged`'s to report).
        let (remaining, nobody) = (m.view.alive_remaining(), BTreeSet::new());
        let converged = (0..s.partitions).all(|p| {
            m.view
                .unconverged(p, s.rf, &m.copies, remaining, &nobody)
                .is_none()
        });
        if !converged {
            return; // `converged` says why
        }
        let alive: Vec<(&str, &Mem)> = m
            .view
            .members
            .iter()
            .filter(|(_, m)| m.state == MemberState::Alive)
            .map(|(n, m)| (n.as_str(), m))
            .collect();
        let caps = load_caps(&alive, s);
        let hosted = m.copies.loads();
        let loads: Vec<u64> = alive
            .iter()
            .map(|(n, _)| hosted.get(n).copied().unwrap_or(0))
            .collect();
        let total: u64 = loads.iter().sum();
        for (((node, _), cap), load) in alive.iter().zip(caps).zip(loads) {
            if load > cap {
                out.push(Violation {
                    check: "balanced",
                    detail: format!(
                        "{node} hosts {load} replicas, above its cap {cap} (mean {:.1}, max_imbalance {})",
                        total as f64 / alive.len().max(1) as f64,
                        s.max_imbalance
                    ),
                });
                return;
            }
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let m = self.model.get();
        let loads = m.view.loads();
        let total: u64 = loads.values().sum();
        let mean = if loads.is_empty() {
            0.0
        } else {
            total as f64 / loads.len() as f64
        };
        let max = loads.values().copied().max().unwrap_or(0);
        let ratio = if mean > 0.0 {
            Some(round3(max as f64 / mean))
        } else {
            None
        };
        let changes: Vec<serde_json::Value> = self
            .windows
            .iter()
            .map(|w| {
                json!({
                    "change": w.what,
                    "moves": w.moves,
                    "ideal": round3(w.ideal),
                    "ratio": if w.ideal > 0.0 { Some(round3(w.moves as f64 / w.ideal)) } else { None },
                })
            })
            .collect();
        let join_max = self
            .windows
            .iter()
            .filter(|w| w.join && w.ideal > 0.0)
            .map(|w| round3(w.moves as f64 / w.ideal))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        vec![
            ("load_max".into(), json!(max)),
            ("load_mean".into(), json!(round3(mean))),
            ("load_max_over_mean".into(), json!(ratio)),
            ("replica_moves".into(), json!(self.moves)),
            ("moves_per_change".into(), json!(changes)),
            ("join_moves_over_ideal_max".into(), json!(join_max)),
        ]
    }
}

/// The most replicas each of `alive` may host (see [`Balanced`]).
fn load_caps(alive: &[(&str, &Mem)], s: &Settings) -> Vec<u64> {
    let partitions = f64::from(s.partitions);
    let rf = s.rf.min(alive.len());
    let capacity = |m: &Mem| f64::from(m.capacity.max(1));
    let all: f64 = alive.iter().map(|(_, m)| capacity(m)).sum();
    let mut by_zone: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, m) in alive {
        *by_zone.entry(m.zone.as_str()).or_default() += capacity(m);
    }
    // Zone spread wants min(RF, zones) zones per partition; when that is
    // every zone, each zone holds a replica of every partition.
    let every_zone = rf >= by_zone.len();
    alive
        .iter()
        .map(|(_, m)| {
            let mut share = partitions * rf as f64 * capacity(m) / all.max(1.0);
            if every_zone {
                let zone = by_zone.get(m.zone.as_str()).copied().unwrap_or(1.0);
                share = share.max(partitions * capacity(m) / zone.max(1.0));
            }
            ((1.0 + s.max_imbalance) * share).ceil().max(1.0) as u64
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
