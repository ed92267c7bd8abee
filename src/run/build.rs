//! Building the world a scenario describes: the cluster configuration, the
//! kernel's network, the processes started at time zero, and the checker
//! pipeline with its trace writer.

use std::io::Write;
use std::rc::Rc;

use serde::Serialize;

use super::RunError;
use crate::check::{self, Pipeline};
use crate::scenario::{Action, PlacementPolicyName, Scenario, StackKind};
use crate::sim::{NetConfig, ObserverId, ProcessId, World};
use crate::stack::cluster::{ClusterConfig, Kind, ManagerSettings, PlacementSettings, Timing};
use crate::stack::coordinator::PolicyKind;
use crate::stack::grid::Geometry;
use crate::stack::host::Host;
use crate::stack::planted::Planted;
use crate::stack::workload::{Keys, WorkloadSpec};
use crate::trace::{self, TraceLevel, TraceWriter};

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
            Action::AddManager(id) => {
                processes.push((id.clone(), Kind::Manager));
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
        managers: ManagerSettings {
            snapshot_every: s.managers.snapshot_every,
            remove_down_after: s.managers.remove_down_after,
            min_voters: s.managers.min_voters_for(s.cluster.managers),
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

/// The kernel's network as `[network]` describes it.
pub fn net_config(s: &Scenario) -> NetConfig {
    NetConfig {
        latency_us_min: s.network.latency[0].as_micros(),
        latency_us_max: s.network.latency[1].as_micros(),
        drop_probability: s.network.drop,
        duplicate_probability: s.network.duplicate,
        reorder_probability: s.network.reorder,
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

/// What [`build_world`] builds.
pub(super) struct Built {
    pub(super) world: World<Host>,
    pub(super) config: Rc<ClusterConfig>,
    /// The checker pipeline and trace writer, installed in `world`.
    pub(super) pipeline: ObserverId<Pipeline>,
}

/// The world of a run of `s` with `seed`: processes built, the initial ones
/// started, the checker pipeline and trace writer installed (its handle
/// returned beside the world).
pub(super) fn build_world(
    s: &Scenario,
    seed: u64,
    planted: &Planted,
    keep_going: bool,
    trace_level: TraceLevel,
    trace_out: Option<Box<dyn Write>>,
) -> Result<Built, RunError> {
    let mut config = cluster_config(s, *planted);
    config.seed = seed;
    let config = Rc::new(config);
    let names: Vec<String> = config.processes.iter().map(|(n, _)| n.clone()).collect();
    let net = net_config(s);
    let factory_config = Rc::clone(&config);
    let mut world: World<Host> = World::new(
        seed,
        names.clone(),
        net,
        Box::new(Host::factory(factory_config)),
    );
    world.set_pause_mode(match s.network.pause_messages {
        crate::scenario::PauseMode::Delay => crate::sim::PauseMode::Delay,
        crate::scenario::PauseMode::Drop => crate::sim::PauseMode::Drop,
    });
    world.set_torn_writes(s.disk.torn_writes);
    // Storage faults hit the data nodes' disks (the managers' Raft storage
    // is outside `[disk]`); each disk draws from a stream of its own.
    let faults = crate::sim::DiskFaults {
        corruption: s.disk.corruption,
        misdirected: s.disk.misdirected,
        latency_us: (s.disk.latency[0].as_micros(), s.disk.latency[1].as_micros()),
    };
    if !faults.is_none() {
        for p in config.of_kind(Kind::Node) {
            let stream = crate::sim::rng::stream(seed, &format!("disk/{}", names[p.index()]));
            if let Some(d) = world.disk_mut(p) {
                d.set_faults(faults, stream);
            }
        }
    }
    world.set_buggify(s.random.as_ref().and_then(|r| r.buggify).unwrap_or(0.0));
    world.set_halt_on_violation(!keep_going);

    let header = trace_header(s, seed, &names, trace_level);
    let out: Box<dyn Write> = trace_out.unwrap_or_else(|| Box::new(std::io::sink()));
    let writer = TraceWriter::new(out, trace_level, &header)?;
    let mut checks = Pipeline::new(check::standard_checkers(), Some(writer));
    checks.set_network_drop(s.network.drop);
    let pipeline = world.add_observer(checks);

    // Initial processes start at time zero, in id order; joiners wait for their event.
    let initial = s.initial_processes().len();
    for i in 0..initial {
        world.start(ProcessId(i as u32));
    }

    Ok(Built {
        world,
        config,
        pipeline,
    })
}
