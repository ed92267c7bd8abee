//! One run of a scenario: build the world from the scenario, apply the
//! resolved fault timeline at its times, check as it goes, judge the
//! expectations at the end, and report.
//!
//! ```text
//!   Scenario ──► ClusterConfig ──► World<stack::Node> + Pipeline(checkers, trace writer)
//!      │                                   ▲
//!      └──► resolve_schedule(seed) ──► run_until(step.at); apply(step) … run_until(end)
//!                                          │
//!                                 finish_checks ──► expectations ──► RunReport
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::rc::Rc;

use serde::Serialize;

use crate::check::{self, Pipeline};
use crate::scenario::{Action, PlacementPolicyName, Scenario, Scheduled, StackKind, Target};
use crate::sim::rng::{self, ChaCha8Rng, RngExt};
use crate::sim::{Clock, DropReason, NetConfig, Phase, ProcessId, SimTime, Status, World};
use crate::stack::client::{Keys, WorkloadSpec};
use crate::stack::cluster::{Admin, ClusterConfig, Kind, Node, PlacementSettings, Timing};
use crate::stack::coordinator::PolicyKind;
use crate::stack::grid::Geometry;
use crate::stack::planted::Planted;
use crate::trace::{self, TraceLevel, TraceWriter};

/// How to run.
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where the trace goes (`None`: nowhere, but the digest is still computed).
    pub trace_out: Option<Box<dyn Write>>,
    /// Which events are written.
    pub trace_level: TraceLevel,
    /// Keep running after a violation.
    pub keep_going: bool,
    /// Planted bugs (builds with the `planted-bugs` feature only).
    pub planted: Planted,
    /// The scenario file, for the reproduce line.
    pub scenario_path: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            trace_out: None,
            trace_level: TraceLevel::All,
            keep_going: false,
            planted: Planted::NONE,
            scenario_path: None,
        }
    }
}

/// An expectation of `[expect]` and whether it held.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExpectResult {
    /// What was expected.
    pub what: String,
    /// Whether it held.
    pub held: bool,
    /// Why not, or what was seen.
    pub detail: String,
}

/// A checker and how it fared.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckResult {
    /// Its stable name.
    pub name: String,
    /// `safety` or `liveness`.
    pub kind: &'static str,
    /// Violations it reported.
    pub violations: u64,
}

/// A violation, for reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ViolationReport {
    /// Virtual time, µs.
    pub t: SimTime,
    /// Checker.
    pub check: String,
    /// What was seen.
    pub detail: String,
}

/// Message counters.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MessageCounts {
    /// Sent.
    pub sent: u64,
    /// Delivered (duplicates count twice).
    pub delivered: u64,
    /// Extra copies made by the network.
    pub duplicated: u64,
    /// Lost, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Timers fired.
    pub timers_fired: u64,
}

/// Everything a run found out.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Root seed used.
    pub seed: u64,
    /// Scenario duration.
    pub duration: String,
    /// Virtual time at which the run ended (earlier than `duration` if a violation halted it).
    pub ended_at: SimTime,
    /// True when every expectation held (exit code 0).
    pub passed: bool,
    /// True when a violation stopped the run early.
    pub halted: bool,
    /// Digest of the resolved configuration.
    pub config_digest: String,
    /// Digest of the trace's event lines.
    pub trace_digest: String,
    /// Event lines written to the trace.
    pub trace_events: u64,
    /// Message and timer counters.
    pub messages: MessageCounts,
    /// Events by kind (every event, whatever the trace level).
    pub events_by_kind: BTreeMap<String, u64>,
    /// Faults begun, by kind.
    pub faults_by_kind: BTreeMap<String, u64>,
    /// Every checker and its count.
    pub checks: Vec<CheckResult>,
    /// The violations found (at most 100).
    pub violations: Vec<ViolationReport>,
    /// Each expectation and whether it held.
    pub expectations: Vec<ExpectResult>,
    /// Figures from the checkers (failover times, …).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Planted bugs active in the run.
    pub planted: Vec<&'static str>,
    /// The command that reproduces this run.
    pub reproduce: String,
}

/// Why a run could not happen (bad input the validator could not see, or
/// an I/O failure writing the trace).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing the trace failed.
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}

/// The cluster configuration a scenario describes.
pub fn cluster_config(s: &Scenario, planted: Planted) -> ClusterConfig {
    let mut processes = Vec::new();
    let mut zones = Vec::new();
    let mut capacities = Vec::new();
    for id in s.cluster.manager_ids() {
        processes.push((id, Kind::Manager));
        zones.push(String::new());
        capacities.push(1);
    }
    for (i, id) in s.cluster.node_ids().into_iter().enumerate() {
        processes.push((id, Kind::Node));
        zones.push(s.cluster.zone_of_node(i as u32 + 1).to_string());
        capacities.push(1);
    }
    for id in s.cluster.client_ids() {
        processes.push((id, Kind::Client));
        zones.push(String::new());
        capacities.push(1);
    }
    let mut joined = s.cluster.nodes;
    for e in &s.events {
        match &e.action {
            Action::Join { id, zone, capacity } => {
                joined += 1;
                let zone = zone
                    .clone()
                    .unwrap_or_else(|| s.cluster.zone_of_node(joined).to_string());
                processes.push((id.clone(), Kind::Node));
                zones.push(zone);
                capacities.push(capacity.unwrap_or(1));
            }
            Action::Impostor(id) => {
                processes.push((id.clone(), Kind::Impostor));
                zones.push(String::new());
                capacities.push(1);
            }
            _ => {}
        }
    }
    ClusterConfig {
        processes,
        zones,
        capacities,
        geometry: Geometry {
            width: s.grid.width,
            height: s.grid.height,
            tile_w: s.grid.tile[0],
            tile_h: s.grid.tile[1],
        },
        replication_factor: s.grid.replication_factor,
        demo: s.cluster.stack == StackKind::Demo,
        timing: Timing {
            heartbeat_interval: s.timing.heartbeat_interval,
            suspect_after: s.timing.suspect_after,
            dead_after: s.timing.dead_after,
            election_timeout: (s.timing.election_timeout[0], s.timing.election_timeout[1]),
            raft_heartbeat: s.timing.raft_heartbeat,
        },
        cluster_key: s.cluster.cluster_key.clone(),
        placement: PlacementSettings {
            policy: match s.placement.policy {
                PlacementPolicyName::RendezvousBounded => PolicyKind::RendezvousBounded,
                PlacementPolicyName::LeastLoaded => PolicyKind::LeastLoaded,
            },
            max_imbalance: s.placement.max_imbalance,
            max_concurrent_moves: s.placement.max_concurrent_moves,
        },
        planted,
        admin: Admin::default(),
        workload: s.workload.as_ref().map(|w| WorkloadSpec {
            rate: w.rate,
            read_ratio: w.read_ratio,
            cas_ratio: w.cas_ratio,
            timeout: w.timeout,
            keys: match w.keys {
                crate::scenario::KeyDist::Uniform => Keys::Uniform,
                crate::scenario::KeyDist::Zipf(e) => Keys::Zipf(e),
            },
            start: w.start,
            stop: w.stop,
            clients: s.cluster.clients,
            cells: u64::from(s.grid.width) * u64::from(s.grid.height),
        }),
        seed: s.seed,
    }
}

/// The trace header of a run: line 1, `format` first (field order is
/// kept), so a reader can tell a partsim trace from its first bytes.
#[derive(Serialize)]
pub struct TraceHeader<'a> {
    format: &'static str,
    version: u64,
    partsim: &'static str,
    scenario: &'a str,
    seed: u64,
    processes: &'a [String],
    trace_level: TraceLevel,
    config: &'a Scenario,
}

/// The trace header for a run of `s`.
pub fn trace_header<'a>(
    s: &'a Scenario,
    seed: u64,
    names: &'a [String],
    level: TraceLevel,
) -> TraceHeader<'a> {
    TraceHeader {
        format: trace::FORMAT,
        version: trace::VERSION,
        partsim: env!("CARGO_PKG_VERSION"),
        scenario: &s.name,
        seed,
        processes: names,
        trace_level: level,
        config: s,
    }
}

/// Runs a scenario.
pub fn run(s: &Scenario, opts: RunOptions) -> Result<RunReport, RunError> {
    let seed = opts.seed.unwrap_or(s.seed);
    let mut config = cluster_config(s, opts.planted);
    config.seed = seed;
    let config = Rc::new(config);
    let names: Vec<String> = config.processes.iter().map(|(n, _)| n.clone()).collect();
    let net = NetConfig {
        latency_us_min: s.network.latency[0].as_micros(),
        latency_us_max: s.network.latency[1].as_micros(),
        drop_probability: s.network.drop,
        duplicate_probability: s.network.duplicate,
        reorder_probability: s.network.reorder,
    };
    let factory_config = Rc::clone(&config);
    let mut world: World<Node> = World::new(
        seed,
        names.clone(),
        net,
        Box::new(move |p, _| Node::build(&factory_config, p)),
    );
    world.set_pause_mode(match s.network.pause_messages {
        crate::scenario::PauseMode::Delay => crate::sim::PauseMode::Delay,
        crate::scenario::PauseMode::Drop => crate::sim::PauseMode::Drop,
    });
    world.set_torn_writes(s.disk.torn_writes);
    world.set_halt_on_violation(!opts.keep_going);

    let header = trace_header(s, seed, &names, opts.trace_level);
    let out: Box<dyn Write> = opts.trace_out.unwrap_or_else(|| Box::new(std::io::sink()));
    let writer = TraceWriter::new(out, opts.trace_level, &header)?;
    world.set_observer(Box::new(Pipeline::new(
        check::standard_checkers(),
        Some(writer),
    )));

    // Initial processes start at time zero, in id order; joiners wait for their event.
    let initial = s.initial_processes().len();
    for i in 0..initial {
        world.start(ProcessId(i as u32));
    }

    let schedule = s.resolve_schedule(seed);
    let mut applier = Applier {
        select_rng: rng::stream(seed, "faults/select"),
        targets: BTreeMap::new(),
        clocks: BTreeMap::new(),
        one_way_details: BTreeMap::new(),
    };
    for step in &schedule {
        world.run_until(step.at);
        if world.halted() {
            break;
        }
        applier.apply(&mut world, &config, step);
    }
    let end = s.end();
    world.run_until(end);
    // What every data node holds at the end, in its own words (the
    // durability checker's facts).
    if !world.halted() && config.workload.is_some() {
        for p in config.of_kind(Kind::Node) {
            world.probe(p, |n, cx| {
                if let Node::Data(d) = n {
                    d.audit(cx);
                }
            });
        }
    }

    let deadline = s.expect.converged_by;
    let leader_deadline = s.expect.leader_elected_by.or(s.expect.converged_by);
    let now = world.now();
    if !world.halted() {
        let found = world
            .observer_mut::<Pipeline>()
            .map(|p| p.finish_checks(now, deadline, leader_deadline))
            .unwrap_or_default();
        for v in found {
            world.report_violation(ProcessId::SIM, v);
        }
    }

    let halted = world.halted();
    let stats = world.stats().clone();
    let violations: Vec<ViolationReport> = world
        .violations()
        .iter()
        .map(|(t, v)| ViolationReport {
            t: *t,
            check: v.check.to_string(),
            detail: v.detail.clone(),
        })
        .collect();
    let Some(mut observer) = world.take_observer() else {
        unreachable!("the pipeline was installed above")
    };
    let any: &mut dyn std::any::Any = &mut *observer;
    let Some(pipeline) = any.downcast_mut::<Pipeline>() else {
        unreachable!("the observer is a Pipeline")
    };
    let summary = pipeline.summary().clone();
    let metrics = pipeline.metrics();
    let checks: Vec<CheckResult> = pipeline
        .checkers()
        .iter()
        .map(|c| CheckResult {
            name: c.name().to_string(),
            kind: if c.is_liveness() {
                "liveness"
            } else {
                "safety"
            },
            violations: summary
                .violations_by_check
                .get(c.name())
                .copied()
                .unwrap_or(0),
        })
        .collect();
    let writer = pipeline.take_writer();
    let (trace_digest, trace_events) = writer
        .as_ref()
        .map(|w| (trace::digest_hex(w.digest()), w.written()))
        .unwrap_or_default();

    let expectations = judge(s, &checks, &violations, &metrics);
    let passed = expectations.iter().all(|e| e.held);
    let mut dropped = BTreeMap::new();
    for r in DropReason::ALL {
        let n = stats.dropped[r as usize];
        if n > 0 {
            dropped.insert(r.as_str().to_string(), n);
        }
    }
    let path = opts
        .scenario_path
        .clone()
        .unwrap_or_else(|| format!("scenarios/{}.toml", s.name));
    let mut reproduce = format!("partsim run {path} --seed {seed}");
    for bug in opts.planted.names() {
        reproduce.push_str(&format!(" --plant {bug}"));
    }
    let report = RunReport {
        scenario: s.name.clone(),
        seed,
        duration: s.duration.to_string(),
        ended_at: now,
        passed,
        halted,
        config_digest: format!("{:016x}", s.config_digest()),
        trace_digest,
        trace_events,
        messages: MessageCounts {
            sent: stats.sent,
            delivered: stats.delivered,
            duplicated: stats.duplicated,
            dropped,
            timers_fired: stats.timers_fired,
        },
        events_by_kind: summary.events_by_kind.clone(),
        faults_by_kind: summary.faults_by_kind.clone(),
        checks,
        violations,
        expectations,
        metrics,
        planted: opts.planted.names(),
        reproduce,
    };
    if let Some(w) = writer {
        let footer_summary = serde_json::json!({
            "passed": report.passed,
            "ended_at": report.ended_at,
            "violations": report.violations.len(),
            "messages": report.messages,
            "metrics": report.metrics,
        });
        w.finish(&footer_summary)?;
    }
    Ok(report)
}

/// Judges `[expect]` against what the checkers found.
fn judge(
    s: &Scenario,
    checks: &[CheckResult],
    violations: &[ViolationReport],
    metrics: &BTreeMap<String, serde_json::Value>,
) -> Vec<ExpectResult> {
    let mut out = Vec::new();
    if let Some(want) = s.expect.lost_acked_writes {
        // Judged from the durability checker's count (acknowledged writes
        // whose every copy lost its disk).
        let got = metrics
            .get("lost_acked_writes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        out.push(ExpectResult {
            what: format!("lost_acked_writes = {want}"),
            held: got == want,
            detail: format!("{got} acknowledged writes lost with every copy's disk"),
        });
    }
    let fired = |name: &str| violations.iter().any(|v| v.check == name);
    let expected_to_fire = &s.expect.violations;
    for name in expected_to_fire {
        out.push(ExpectResult {
            what: format!("violation {name}"),
            held: fired(name),
            detail: if fired(name) {
                "fired as expected".into()
            } else {
                "did not fire".into()
            },
        });
    }
    let unexpected: Vec<&ViolationReport> = violations
        .iter()
        .filter(|v| !expected_to_fire.contains(&v.check))
        .collect();
    let is_liveness = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && c.kind == "liveness")
    };
    let safety: Vec<&&ViolationReport> = unexpected
        .iter()
        .filter(|v| !is_liveness(&v.check))
        .collect();
    let liveness: Vec<&&ViolationReport> = unexpected
        .iter()
        .filter(|v| is_liveness(&v.check))
        .collect();
    if s.expect.safety {
        out.push(ExpectResult {
            what: "safety".into(),
            held: safety.is_empty(),
            detail: safety.first().map_or_else(
                || "every safety checker held".into(),
                |v| format!("{} at {}: {}", v.check, v.t, v.detail),
            ),
        });
    } else if !safety.is_empty() {
        out.push(ExpectResult {
            what: "safety (not required)".into(),
            held: true,
            detail: format!("{} safety violations tolerated", safety.len()),
        });
    }
    let deadline = s.expect.converged_by.or(s.expect.leader_elected_by);
    out.push(ExpectResult {
        what: match deadline {
            Some(d) => format!("liveness by {d}"),
            None => "liveness".into(),
        },
        held: liveness.is_empty(),
        detail: liveness.first().map_or_else(
            || "every liveness checker held".into(),
            |v| format!("{}: {}", v.check, v.detail),
        ),
    });
    out
}

/// Applies scheduled steps to the world.
struct Applier {
    /// Draws for `any-node` / `any-manager`: a sub-stream of `faults`, so
    /// the random schedule itself is never shifted by them.
    select_rng: ChaCha8Rng,
    /// The process each begun fault resolved to, so that its end acts on
    /// the same one (a `leader` crash restarts that manager, not the new leader).
    targets: BTreeMap<u32, ProcessId>,
    /// Clocks as they were before each clock fault, to restore at its end.
    clocks: BTreeMap<u32, Clock>,
    /// How each one-way cut was traced at its begin (its sides resolved),
    /// to trace its end the same way.
    one_way_details: BTreeMap<u32, String>,
}

impl Applier {
    fn resolve(
        &mut self,
        world: &World<Node>,
        config: &ClusterConfig,
        target: &Target,
        want: Want,
    ) -> Option<ProcessId> {
        let pick = |kind: Kind, rng: &mut ChaCha8Rng| -> Option<ProcessId> {
            let candidates: Vec<ProcessId> = config
                .of_kind(kind)
                .into_iter()
                .filter(|p| want.accepts(world.status(*p)))
                .collect();
            if candidates.is_empty() {
                None
            } else {
                Some(candidates[rng.random_range(0..candidates.len())])
            }
        };
        match target {
            Target::Id(id) => world.id(id),
            Target::AnyNode => pick(Kind::Node, &mut self.select_rng),
            Target::AnyManager => pick(Kind::Manager, &mut self.select_rng),
            Target::Leader => config
                .of_kind(Kind::Manager)
                .into_iter()
                .filter_map(|p| {
                    world
                        .process(p)
                        .and_then(|n| n.leader_term())
                        .map(|t| (t, p))
                })
                .max()
                .map(|(_, p)| p),
            Target::Primary(p) => {
                // The primary in the current leader's committed map.
                let leader = self.resolve(world, config, &Target::Leader, Want::Any)?;
                let map = world.process(leader)?.as_manager()?.map();
                let name = map.partitions.get(*p as usize)?.primary.clone()?;
                world.id(&name).filter(|q| want.accepts(world.status(*q)))
            }
        }
    }

    fn expand(&self, world: &World<Node>, names: &[String], named: &[String]) -> Vec<ProcessId> {
        if names.iter().any(|n| n == "*") {
            world
                .names()
                .iter()
                .enumerate()
                .filter(|(_, n)| !named.contains(n))
                .map(|(i, _)| ProcessId(i as u32))
                .collect()
        } else {
            names.iter().filter_map(|n| world.id(n)).collect()
        }
    }

    fn apply(&mut self, world: &mut World<Node>, config: &ClusterConfig, step: &Scheduled) {
        let action = step.step.action();
        let phase = if step.step.is_begin() {
            Phase::Begin
        } else {
            Phase::End
        };
        let fault = step.fault;
        let kind = action.kind();
        // Resolve the target first, so the trace names the concrete process.
        let single = match action {
            Action::Crash(t)
            | Action::Pause(t)
            | Action::Isolate(t)
            | Action::DiskLoss(t)
            | Action::Leave(t) => Some(t),
            Action::Restart(t) => Some(t),
            Action::Clock { target, .. } => Some(target),
            _ => None,
        };
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
                    Phase::Begin => self.resolve(world, config, t, want),
                };
                if let (Phase::Begin, Some(p)) = (phase, resolved) {
                    self.targets.insert(fault, p);
                }
                match resolved {
                    Some(p) => Some(p),
                    None => {
                        world.trace_note(
                            ProcessId::SIM,
                            &format!("{} {kind} {t}: no process matches the selector now; nothing happens", phase.as_str()),
                        );
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
                        t => Some(
                            self.resolve(world, config, t, Want::Any)
                                .into_iter()
                                .collect(),
                        ),
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
        let names_of = |ps: &[ProcessId]| -> String {
            ps.iter()
                .map(|p| world.name(*p))
                .collect::<Vec<_>>()
                .join(",")
        };
        let detail = match (action, target, &one_way) {
            (_, Some(p), _) => world.name(p).to_string(),
            (_, None, Some((f, t))) => format!("one_way {} -> {}", names_of(f), names_of(t)),
            (Action::OneWay { .. }, None, None) => self
                .one_way_details
                .remove(&fault)
                .unwrap_or_else(|| action.to_string()),
            (a, None, None) => a.to_string(),
        };
        if one_way.is_some() {
            self.one_way_details.insert(fault, detail.clone());
        }
        world.trace_fault(
            target.unwrap_or(ProcessId::SIM),
            fault,
            kind,
            phase,
            &detail,
        );
        match (action, phase) {
            (Action::Crash(_), Phase::Begin) => {
                if let Some(p) = target {
                    world.crash(p);
                }
            }
            (Action::Crash(_), Phase::End) | (Action::Restart(_), _) => {
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
            (Action::Partition(groups), Phase::Begin) => {
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
                    from,
                    to,
                    latency,
                    drop,
                    duplicate,
                },
                Phase::Begin,
            ) => {
                if let (Some(f), Some(t)) = (world.id(from), world.id(to)) {
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
            (Action::DiskLoss(_), _) => {
                if let Some(p) = target {
                    // DESIGN §5: the process crashes, then its disk is wiped.
                    world.crash(p);
                    world.disk_loss(p);
                }
            }
            (Action::Heal, _) => world.net_mut().heal(),
            (Action::Join { id, .. }, _) => {
                if let Some(p) = world.id(id) {
                    world.start(p);
                }
            }
            (Action::Impostor(id), _) => {
                if let Some(p) = world.id(id) {
                    world.start(p);
                }
            }
            (Action::Leave(_), _) => {
                // The operator asks the managers to decommission the node;
                // the leader drains it, then removes it.
                if let Some(p) = target {
                    config
                        .admin
                        .borrow_mut()
                        .leaving
                        .insert(world.name(p).to_string());
                }
            }
        }
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

/// Used by `check-determinism`: a writer that keeps a hash per line, so two
/// runs can be compared line by line and the first difference shown.
#[derive(Default)]
pub struct LineHashes {
    /// Hash of each complete line (line 0 is the header).
    pub hashes: Vec<u64>,
    /// Keep the text of this line (0-based) when it goes by.
    pub keep: Option<usize>,
    /// The kept line.
    pub kept: Option<String>,
    partial: Vec<u8>,
}

impl Write for LineHashes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                if self.keep == Some(self.hashes.len()) {
                    self.kept = Some(String::from_utf8_lossy(&line).into_owned());
                }
                self.hashes.push(xxhash_rust::xxh3::xxh3_64(&line));
            } else {
                self.partial.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Write` that shares its buffer, so the caller can read it after the run.
#[derive(Clone, Default)]
pub struct SharedSink(pub Rc<std::cell::RefCell<LineHashes>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The outcome of `check-determinism`.
#[derive(Clone, Debug, Serialize)]
pub struct DeterminismReport {
    /// Digest of the first run.
    pub first: String,
    /// Digest of the second run.
    pub second: String,
    /// Lines compared.
    pub lines: usize,
    /// The first differing line (0 = header), with both texts.
    pub divergence: Option<(usize, String, String)>,
}

/// The first line at which two traces (as per-line hashes) differ; a trace
/// that is a prefix of the other differs where the shorter one ends.
pub fn first_divergence(a: &[u64], b: &[u64]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())))
}

/// Runs a scenario twice in-process and compares the traces line by line.
pub fn check_determinism(
    s: &Scenario,
    seed: Option<u64>,
    planted: Planted,
) -> Result<DeterminismReport, RunError> {
    let once = |keep: Option<usize>| -> Result<(RunReport, LineHashes), RunError> {
        let sink = SharedSink::default();
        sink.0.borrow_mut().keep = keep;
        let opts = RunOptions {
            seed,
            trace_out: Some(Box::new(sink.clone())),
            keep_going: true,
            planted,
            ..RunOptions::default()
        };
        let report = run(s, opts)?;
        let hashes = std::mem::take(&mut *sink.0.borrow_mut());
        Ok((report, hashes))
    };
    let (a, ha) = once(None)?;
    let (b, hb) = once(None)?;
    let divergence = match first_divergence(&ha.hashes, &hb.hashes) {
        None => None,
        Some(i) => {
            let (_, ka) = once(Some(i))?;
            let (_, kb) = once(Some(i))?;
            Some((
                i,
                ka.kept.unwrap_or_else(|| "(no line)".into()),
                kb.kept.unwrap_or_else(|| "(no line)".into()),
            ))
        }
    };
    Ok(DeterminismReport {
        first: a.trace_digest,
        second: b.trace_digest,
        lines: ha.hashes.len(),
        divergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_is_the_first_differing_line() {
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 5, 3]), Some(1));
        assert_eq!(first_divergence(&[1, 2], &[1, 2, 3]), Some(2));
    }

    #[test]
    fn line_hashes_keep_the_asked_line() {
        let mut h = LineHashes {
            keep: Some(1),
            ..LineHashes::default()
        };
        h.write_all(
            b"one
tw",
        )
        .unwrap();
        h.write_all(
            b"o
three
",
        )
        .unwrap();
        assert_eq!(h.hashes.len(), 3);
        assert_eq!(h.kept.as_deref(), Some("two"));
    }
}
