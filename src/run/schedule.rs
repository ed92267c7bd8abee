//! Applying the resolved fault timeline to the world: each scheduled step's
//! target is resolved when it fires (selectors included), traced under its
//! concrete name, then acted on; a fault's end acts on what its begin resolved.
//!
//! [`Timeline`] is the public face: it drives a world of any protocol
//! through a scenario's timeline, as `partsim run` drives the stack's.

use std::collections::BTreeMap;

use crate::check::Pipeline;
use crate::scenario::{Action, Scenario, Scheduled, Target};
use crate::sim::rng::{self, ChaCha8Rng, RngExt};
use crate::sim::{AppEvent, Clock, ObserverId, Process, ProcessId, SimTime, Status, World};
use crate::stack::host::Selectors;
use crate::trace::{Phase, StepEvent};

/// A scenario's fault timeline (`[[events]]` and `[random]`, resolved for
/// one seed), applied to a world as its virtual time reaches each step.
///
/// Any protocol can be driven by it: the world's processes are the
/// scenario's (`m1..`, `n1..`, `c1..`, in [`Scenario::initial_processes`]
/// order), `sut` answers the selectors (`leader`, `any-node`, …) in the
/// protocol's terms, and every step is traced through `pipeline` as a
/// `fault` event (DESIGN §6) caused-linked to what it does.
pub struct Timeline<E> {
    applier: Applier<E>,
    schedule: Vec<Scheduled>,
    next: usize,
    cut: usize,
}

impl<E: AppEvent + 'static> Timeline<E> {
    /// The timeline of `s` for root seed `seed`, traced into `pipeline`.
    pub fn new(s: &Scenario, seed: u64, pipeline: ObserverId<Pipeline<E>>) -> Self {
        Timeline {
            applier: Applier::new(seed, pipeline),
            schedule: s.resolve_schedule(seed),
            next: 0,
            cut: 0,
        }
    }

    /// Runs `world` up to `end`, applying every step due before it; stops
    /// early if a violation halts the world.
    pub fn run_until<P: Process<Event = E>, S: Selectors<P>>(
        &mut self,
        world: &mut World<P>,
        sut: &S,
        end: SimTime,
    ) {
        self.advance(world, sut, end, true);
    }

    /// Runs `world` up to `t`, applying the steps due strictly before it:
    /// the world as it stands at `t`, before anything happens at `t` (where
    /// a deadline is judged). [`run_until`](Self::run_until) goes on from there.
    pub fn run_before<P: Process<Event = E>, S: Selectors<P>>(
        &mut self,
        world: &mut World<P>,
        sut: &S,
        t: SimTime,
    ) {
        self.advance(world, sut, t, false);
    }

    fn advance<P: Process<Event = E>, S: Selectors<P>>(
        &mut self,
        world: &mut World<P>,
        sut: &S,
        end: SimTime,
        steps_at_end: bool,
    ) {
        self.cut = 0;
        while let Some(step) = self.schedule.get(self.next) {
            if step.at > end || (step.at == end && !steps_at_end) {
                self.cut = self.schedule.len() - self.next;
                break;
            }
            world.run_until(step.at);
            if world.halted() {
                return;
            }
            self.applier.apply(world, sut, step);
            self.next += 1;
        }
        world.run_until(end);
    }

    /// Steps that lay past the `end` of the last [`run_until`](Self::run_until).
    pub fn steps_cut(&self) -> usize {
        self.cut
    }

    /// What each selector resolved to, as `crash any-node → n5 at 8s`.
    pub fn into_resolutions(self) -> Vec<String> {
        self.applier.into_resolutions()
    }
}

/// Applies scheduled steps to the world, tracing each through the run's
/// pipeline (of a world whose processes trace events `E`).
pub(super) struct Applier<E> {
    /// Where the steps are traced.
    pipeline: ObserverId<Pipeline<E>>,
    /// Draws for `any-node` / `any-manager`: a sub-stream of `faults`, so
    /// the random schedule itself is never shifted by them.
    select_rng: ChaCha8Rng,
    /// Which records a `corrupt` event damages: a stream of its own.
    corrupt_rng: ChaCha8Rng,
    /// The process each begun fault resolved to, so that its end acts on
    /// the same one (a `leader` crash restarts that manager, not the new leader).
    targets: BTreeMap<u32, ProcessId>,
    /// Clocks as they were before each clock fault, to restore at its end.
    clocks: BTreeMap<u32, Clock>,
    /// How each one-way cut and partition was traced at its begin (its
    /// sides resolved), to trace its end the same way.
    one_way_details: BTreeMap<u32, String>,
    /// What each selector resolved to, for the summary (at most
    /// [`MAX_RESOLUTIONS`]).
    resolutions: Vec<String>,
}

/// The share of a disk's records a `corrupt` event damages (at least one).
const CORRUPT_SHARE: f64 = 0.25;

/// Selector resolutions kept for the summary, at most.
const MAX_RESOLUTIONS: usize = 1000;

impl<E: AppEvent + 'static> Applier<E> {
    /// An applier for a run with root seed `seed`, tracing into `pipeline`.
    pub(super) fn new(seed: u64, pipeline: ObserverId<Pipeline<E>>) -> Self {
        Applier {
            pipeline,
            select_rng: rng::stream(seed, "faults/select"),
            corrupt_rng: rng::stream(seed, "faults/corrupt"),
            targets: BTreeMap::new(),
            clocks: BTreeMap::new(),
            one_way_details: BTreeMap::new(),
            resolutions: Vec::new(),
        }
    }

    /// What each selector resolved to, as `crash any-node → n5 at 8s`.
    pub(super) fn into_resolutions(self) -> Vec<String> {
        self.resolutions
    }

    /// Traces one event of the schedule; returns its `seq`.
    fn trace<P: Process<Event = E>>(
        &self,
        world: &mut World<P>,
        p: ProcessId,
        ev: StepEvent<'_>,
    ) -> Option<u64> {
        world.emit_outside(self.pipeline, p, None, |pipeline, stamp, names, _| {
            pipeline.observe_step(stamp, &ev, names)
        })
    }

    fn resolve<P: Process, S: Selectors<P>>(
        &mut self,
        world: &World<P>,
        sut: &S,
        target: &Target,
        want: Want,
    ) -> Option<ProcessId> {
        let accepts = |p: &ProcessId| want.accepts(world.status(*p));
        let mut pick = |candidates: Vec<ProcessId>| -> Option<ProcessId> {
            let candidates: Vec<ProcessId> = candidates.into_iter().filter(accepts).collect();
            if candidates.is_empty() {
                None
            } else {
                Some(candidates[self.select_rng.random_range(0..candidates.len())])
            }
        };
        match target {
            Target::Id(id) => world.id(id),
            Target::AnyNode => pick(sut.nodes()),
            Target::AnyManager => pick(sut.managers()),
            Target::Leader => sut.leader(world),
            Target::Primary(p) => sut.primary(world, *p).filter(accepts),
        }
    }

    /// Keeps, for the summary, what a selector resolved to (nothing for
    /// a concrete process id).
    fn note_resolution<P: Process>(
        &mut self,
        world: &World<P>,
        kind: &str,
        t: &Target,
        p: Option<ProcessId>,
        at: SimTime,
    ) {
        if t.is_selector() && self.resolutions.len() < MAX_RESOLUTIONS {
            let to = p.map_or("nothing (no process matched)", |p| world.name(p));
            self.resolutions.push(format!("{kind} {t} → {to} at {at}"));
        }
    }

    fn expand<P: Process>(
        &self,
        world: &World<P>,
        names: &[String],
        named: &[String],
    ) -> Vec<ProcessId> {
        if names.iter().any(|n| n == "*") {
            // The group's own names, then every process named in no group.
            let mut ids: Vec<ProcessId> = names
                .iter()
                .filter(|n| *n != "*")
                .filter_map(|n| world.id(n))
                .collect();
            ids.extend(
                world
                    .names()
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| !named.contains(n))
                    .map(|(i, _)| ProcessId(i as u32)),
            );
            ids
        } else {
            names.iter().filter_map(|n| world.id(n)).collect()
        }
    }

    pub(super) fn apply<P: Process<Event = E>, S: Selectors<P>>(
        &mut self,
        world: &mut World<P>,
        sut: &S,
        step: &Scheduled,
    ) {
        let action = step.step.action();
        let phase = if step.step.is_begin() {
            Phase::Begin
        } else {
            Phase::End
        };
        let fault = step.fault;
        let kind = action.kind();
        // Resolve the target first, so the trace names the concrete process.
        let single = action.single_target();
        let target = match single {
            Some(t) => {
                let want = match (action, phase) {
                    (Action::Restart(_), _) => Want::Down,
                    (Action::Crash(_), Phase::Begin) | (Action::Pause(_), Phase::Begin) => Want::Up,
                    _ => Want::Any,
                };
                // The end of a fault acts on what its begin resolved.
                let resolved = match phase {
                    Phase::End => self.targets.remove(&fault),
                    Phase::Begin => self.resolve(world, sut, t, want),
                };
                if let (Phase::Begin, Some(p)) = (phase, resolved) {
                    self.targets.insert(fault, p);
                }
                if phase == Phase::Begin {
                    self.note_resolution(world, kind, t, resolved, step.at);
                }
                match resolved {
                    Some(p) => Some(p),
                    None => {
                        let text = format!(
                            "{} {kind} {t}: no process matches the selector now; nothing happens",
                            phase.as_str()
                        );
                        self.trace(world, ProcessId::SIM, StepEvent::Note { text: &text });
                        return;
                    }
                }
            }
            None => None,
        };
        // A one-way cut's sides may be selectors or "*": resolve them now,
        // so the trace names the concrete processes.
        let one_way = match (action, phase) {
            (Action::OneWay { from, to }, Phase::Begin) => {
                let mut side = |t: &Target| -> Option<Vec<ProcessId>> {
                    match t {
                        Target::Id(s) if s == "*" => None,
                        t => {
                            let p = self.resolve(world, sut, t, Want::Any);
                            self.note_resolution(world, kind, t, p, step.at);
                            Some(p.into_iter().collect())
                        }
                    }
                };
                let (f, t) = (side(from), side(to));
                let everyone_but = |named: &Option<Vec<ProcessId>>| -> Vec<ProcessId> {
                    let named = named.clone().unwrap_or_default();
                    (0..world.names().len() as u32)
                        .map(ProcessId)
                        .filter(|p| !named.contains(p))
                        .collect()
                };
                let from_side = f.clone().unwrap_or_else(|| everyone_but(&t));
                let to_side = t.unwrap_or_else(|| everyone_but(&f));
                Some((from_side, to_side))
            }
            _ => None,
        };
        // Partition groups may hold selectors: resolve them now, so the
        // trace names the concrete processes. A process met twice (a
        // selector resolving to one named elsewhere) stays in its first group.
        let groups = match (action, phase) {
            (Action::Partition(groups), Phase::Begin) => {
                let mut taken: Vec<ProcessId> = Vec::new();
                let mut resolved = Vec::with_capacity(groups.len());
                for group in groups {
                    let mut names = Vec::with_capacity(group.len());
                    for name in group {
                        if name == "*" {
                            names.push(name.clone());
                            continue;
                        }
                        let t = selector(name);
                        let p = self.resolve(world, sut, &t, Want::Any);
                        self.note_resolution(world, kind, &t, p, step.at);
                        if let Some(p) = p.filter(|p| !taken.contains(p)) {
                            taken.push(p);
                            names.push(world.name(p).to_string());
                        }
                    }
                    resolved.push(names);
                }
                Some(resolved)
            }
            _ => None,
        };
        // A link's ends may be selectors: resolve them now, so the trace
        // names the concrete processes; its end acts on what the begin did.
        let link = match (action, phase) {
            (Action::Link { from, to, .. }, Phase::Begin) => {
                let f = self.resolve(world, sut, from, Want::Any);
                let t = self.resolve(world, sut, to, Want::Any);
                for (sel, p) in [(from, f), (to, t)] {
                    self.note_resolution(world, kind, sel, p, step.at);
                }
                match (f, t) {
                    (Some(f), Some(t)) if f != t => Some((f, t)),
                    _ => {
                        let text = format!(
                            "begin {action}: its ends do not resolve to two processes now; nothing happens"
                        );
                        self.trace(world, ProcessId::SIM, StepEvent::Note { text: &text });
                        return;
                    }
                }
            }
            (Action::Link { .. }, Phase::End) if !self.one_way_details.contains_key(&fault) => {
                let text = format!("end {action}: its begin did nothing; nothing happens");
                self.trace(world, ProcessId::SIM, StepEvent::Note { text: &text });
                return;
            }
            _ => None,
        };
        let names_of = |ps: &[ProcessId]| -> String {
            ps.iter()
                .map(|p| world.name(*p))
                .collect::<Vec<_>>()
                .join(",")
        };
        let detail = match (action, target, &one_way) {
            (_, Some(p), _) => world.name(p).to_string(),
            (Action::Partition(_), None, None) => match &groups {
                Some(g) => Action::Partition(g.clone()).to_string(),
                None => self
                    .one_way_details
                    .remove(&fault)
                    .unwrap_or_else(|| action.to_string()),
            },
            (_, None, Some((f, t))) => format!("one_way {} -> {}", names_of(f), names_of(t)),
            (
                Action::Link {
                    latency,
                    drop,
                    duplicate,
                    ..
                },
                None,
                None,
            ) => match link {
                Some((f, t)) => Action::Link {
                    from: Target::Id(world.name(f).to_string()),
                    to: Target::Id(world.name(t).to_string()),
                    latency: *latency,
                    drop: *drop,
                    duplicate: *duplicate,
                }
                .to_string(),
                None => self
                    .one_way_details
                    .remove(&fault)
                    .unwrap_or_else(|| action.to_string()),
            },
            (Action::OneWay { .. }, None, None) => self
                .one_way_details
                .remove(&fault)
                .unwrap_or_else(|| action.to_string()),
            (a, None, None) => a.to_string(),
        };
        if one_way.is_some() || groups.is_some() || link.is_some() {
            self.one_way_details.insert(fault, detail.clone());
        }
        let cause = self.trace(
            world,
            target.unwrap_or(ProcessId::SIM),
            StepEvent::Fault {
                fault,
                kind,
                phase,
                detail: &detail,
            },
        );
        match (action, phase) {
            (Action::Crash(_), Phase::Begin) => {
                if let Some(p) = target {
                    world.crash(p);
                }
            }
            (Action::Crash(_) | Action::DiskLoss(_), Phase::End) | (Action::Restart(_), _) => {
                if let Some(p) = target {
                    world.restart(p);
                }
            }
            (Action::Pause(_), Phase::Begin) => {
                if let Some(p) = target {
                    world.pause(p);
                }
            }
            (Action::Pause(_), Phase::End) => {
                if let Some(p) = target {
                    world.resume(p);
                }
            }
            (Action::Partition(_), Phase::Begin) => {
                let groups = groups.unwrap_or_default();
                let named: Vec<String> = groups
                    .iter()
                    .flatten()
                    .filter(|n| *n != "*")
                    .cloned()
                    .collect();
                let resolved: Vec<Vec<ProcessId>> = groups
                    .iter()
                    .map(|g| self.expand(world, g, &named))
                    .collect();
                world.net_mut().partition(fault, &resolved);
            }
            (Action::OneWay { .. }, Phase::Begin) => {
                if let Some((f, t)) = &one_way {
                    world.net_mut().one_way(fault, f, t);
                }
            }
            (Action::Isolate(_), Phase::Begin) => {
                if let Some(p) = target {
                    world.net_mut().isolate(fault, p);
                }
            }
            (
                Action::Link {
                    latency,
                    drop,
                    duplicate,
                    ..
                },
                Phase::Begin,
            ) => {
                if let Some((f, t)) = link {
                    let rule = crate::sim::net::LinkRule {
                        latency_us: latency.map(|[a, b]| (a.as_micros(), b.as_micros())),
                        drop_probability: *drop,
                        duplicate_probability: *duplicate,
                    };
                    world.net_mut().set_link(fault, f, t, rule);
                }
            }
            (
                Action::Partition(_)
                | Action::OneWay { .. }
                | Action::Isolate(_)
                | Action::Link { .. },
                Phase::End,
            ) => {
                world.net_mut().end_rule(fault);
            }
            (
                Action::Clock {
                    offset_us, drift, ..
                },
                Phase::Begin,
            ) => {
                if let Some(p) = target {
                    self.clocks.insert(fault, world.clock(p));
                    let drift_ppm = (drift * 1_000_000.0).round() as i64;
                    let now = world.now();
                    world.set_clock(p, world.clock(p).adjusted(now, *offset_us, drift_ppm));
                }
            }
            (Action::Clock { .. }, Phase::End) => {
                if let (Some(p), Some(old)) = (target, self.clocks.remove(&fault)) {
                    world.set_clock(p, old);
                }
            }
            (Action::DiskLoss(_), Phase::Begin) => {
                if let Some(p) = target {
                    // DESIGN §5: the process crashes, then its disk is wiped
                    // (a disk pulled from under a running process is outside
                    // every protocol's model); it restarts empty at `until`
                    // (the end phase, above), or stays down.
                    world.crash(p);
                    world.disk_loss(p);
                }
            }
            (Action::Corrupt(_), _) => {
                if let Some(p) = target
                    && let Some(disk) = world.disk_mut(p)
                {
                    let n = disk.corrupt(&mut self.corrupt_rng, CORRUPT_SHARE);
                    let text = format!("corrupt: {n} stored records damaged");
                    self.trace(world, p, StepEvent::Note { text: &text });
                }
            }
            (Action::Heal, _) => world.net_mut().heal(),
            (Action::Join { id, .. } | Action::Impostor(id), _) => {
                // The operator boots the process; its start is caused by the step.
                if let Some(p) = world.id(id) {
                    world.start_by(p, cause);
                }
            }
            (Action::AddManager(id), _) => {
                // The operator boots the new manager (empty disk: it asks
                // to be admitted) and tells every manager that it belongs
                // in the group; the leader adds it as a learner, then
                // promotes it once caught up.
                if let Some(p) = world.id(id) {
                    world.start_by(p, cause);
                    let now = world.now();
                    for (m, msg) in sut.manager(id, true) {
                        world.inject(now, m, msg, cause);
                    }
                }
            }
            (Action::RemoveManager(_), _) => {
                // Every manager is told; the leader removes it (handing
                // leadership over first if it is the one removed).
                if let Some(p) = target {
                    let manager = world.name(p).to_string();
                    let now = world.now();
                    for (m, msg) in sut.manager(&manager, false) {
                        world.inject(now, m, msg, cause);
                    }
                }
            }
            (Action::DrainManager(_), _) => {
                // Every manager is told; a drained leader hands over to an
                // up-to-date voter that is not drained. The end undrains
                // whom the begin resolved.
                if let Some(p) = target {
                    let manager = world.name(p).to_string();
                    let now = world.now();
                    for (m, msg) in sut.drain_manager(&manager, phase == Phase::Begin) {
                        world.inject(now, m, msg, cause);
                    }
                }
            }
            (Action::Leave(_), _) => {
                // The operator asks every manager to decommission the node
                // (a message from outside, delivered now); the leader drains
                // it, then removes it.
                if let Some(p) = target {
                    let node = world.name(p).to_string();
                    let now = world.now();
                    for (m, msg) in sut.leave(&node) {
                        world.inject(now, m, msg, cause);
                    }
                }
            }
        }
    }
}

/// A partition group's member as a target: a selector, or a plain id.
fn selector(name: &str) -> Target {
    match name {
        "leader" => Target::Leader,
        "any-node" => Target::AnyNode,
        "any-manager" => Target::AnyManager,
        _ => match name.strip_prefix("primary:").map(str::parse) {
            Some(Ok(p)) => Target::Primary(p),
            _ => Target::Id(name.to_string()),
        },
    }
}

/// Which processes a selector may pick for an action.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Want {
    Any,
    Up,
    Down,
}

impl Want {
    fn accepts(self, s: Status) -> bool {
        match self {
            Want::Any => s != Status::NotStarted,
            Want::Up => s == Status::Up,
            Want::Down => s == Status::Down,
        }
    }
}
