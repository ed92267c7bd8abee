//! `partsim bench mesh`: the kernel's speed on this machine.
//!
//! The "heartbeat mesh": 8 processes, each sending a 64-byte message to every
//! other process every 10 ms of virtual time for 60 s, latency uniform in
//! [1 ms, 5 ms] — 336,000 messages. It runs through the same [`World`],
//! network model and [`Process`] trait that scenarios use: no special path.
//! The same workload on a bare event loop is in `../shared/bench/mesh-floor`;
//! compare the two as a ratio taken in one sitting.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use serde::Serialize;

use crate::sim::{
    Cx, Event, Message, NetConfig, NoEvent, Observer, Process, ProcessId, SimDuration, SimTime,
    TimerKind, Violation, World,
};
use crate::trace::{TraceLevel, TraceWriter};

/// Processes in the mesh.
pub const HOSTS: usize = 8;
/// Payload size, bytes.
pub const PAYLOAD_LEN: usize = 64;
const PERIOD: SimDuration = SimDuration::from_millis(10);
const START: SimDuration = SimDuration::from_millis(10);
const DRAIN: SimDuration = SimDuration::from_millis(10);
const SEED: u64 = 42;
/// Shortest mesh: one round.
pub const MIN_MESH_DURATION: SimDuration = PERIOD;
/// Longest mesh: 30 minutes of virtual time, about 10 million messages and a
/// trace of about 2 GB with `--trace` (the size `bench replay` stops at);
/// enough to see whether memory grows with the duration.
pub const MAX_MESH_DURATION: SimDuration = SimDuration::from_secs(1_800);

/// Why `duration` is not a mesh duration, or `None` if it is one.
pub fn mesh_duration_refusal(duration: SimDuration) -> Option<String> {
    (!(MIN_MESH_DURATION..=MAX_MESH_DURATION).contains(&duration)).then(|| {
        format!(
            "{duration} is not in {MIN_MESH_DURATION}..={MAX_MESH_DURATION} \
             (MIN_MESH_DURATION..=MAX_MESH_DURATION)"
        )
    })
}

/// One heartbeat: round, virtual send time, sender, padding.
#[derive(Clone)]
pub struct MeshMsg(pub [u8; PAYLOAD_LEN]);

impl Message for MeshMsg {
    fn name(&self) -> &'static str {
        "Heartbeat"
    }
}

/// The mesh's one timer.
#[derive(Copy, Clone)]
pub struct Round;

impl TimerKind for Round {
    fn name(&self) -> &'static str {
        "Round"
    }
}

/// A mesh host.
pub struct MeshHost {
    rounds: u64,
    round: u64,
    delivered: u64,
    latency_sum_us: u64,
    hash: u64,
}

impl Process for MeshHost {
    type Msg = MeshMsg;
    type Timer = Round;
    type Event = NoEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        cx.set_timer(START, Round);
    }

    #[inline]
    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: MeshMsg) {
        let p = &msg.0;
        let round = u64::from_le_bytes(p[0..8].try_into().unwrap_or_default());
        let sent = u64::from_le_bytes(p[8..16].try_into().unwrap_or_default());
        let now = cx.now().0;
        self.delivered += 1;
        self.latency_sum_us += now.saturating_sub(sent);
        let x = now ^ round.rotate_left(24) ^ (u64::from(from.0) << 56);
        self.hash = (self.hash ^ x).wrapping_mul(0x0000_0100_0000_01b3);
    }

    #[inline]
    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, _: Round) {
        let me = cx.me();
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0..8].copy_from_slice(&self.round.to_le_bytes());
        payload[8..16].copy_from_slice(&cx.now().0.to_le_bytes());
        payload[16] = me.0 as u8;
        for to in 0..HOSTS as u32 {
            if to != me.0 {
                cx.send(ProcessId(to), MeshMsg(payload));
            }
        }
        self.round += 1;
        if self.round < self.rounds {
            cx.set_timer(PERIOD, Round);
        }
    }
}

struct TraceOnly(TraceWriter<BufWriter<File>>);

impl Observer<NoEvent> for TraceOnly {
    #[inline]
    fn on_event(&mut self, ev: &Event<'_, NoEvent>, names: &[String], _: &mut Vec<Violation>) {
        self.0.write_event(ev, names);
    }
}

/// What `bench mesh` measured.
#[derive(Clone, Debug, Serialize)]
pub struct MeshReport {
    /// Messages delivered.
    pub messages: u64,
    /// Wall-clock seconds for the run.
    pub wall_s: f64,
    /// Delivered messages per wall-clock second.
    pub messages_per_s: f64,
    /// Peak resident memory of this process, bytes (VmHWM).
    pub peak_rss_bytes: u64,
    /// Virtual duration simulated.
    pub virtual_s: f64,
    /// Trace lines written (0 without `--trace`).
    pub trace_events: u64,
    /// Mean one-way latency, ms (a sanity check: about 3).
    pub mean_latency_ms: f64,
    /// A hash over every delivery's time and content: equal runs, equal prints.
    pub fingerprint: String,
}

/// Runs the mesh for `duration` of virtual time, writing a trace to `trace` if given.
/// A duration outside [`MIN_MESH_DURATION`]`..=`[`MAX_MESH_DURATION`] is an
/// `InvalidInput` error, before anything runs or is written.
#[allow(clippy::disallowed_methods)] // Measuring wall time is the point of a benchmark.
pub fn mesh(duration: SimDuration, trace: Option<&Path>) -> std::io::Result<MeshReport> {
    if let Some(why) = mesh_duration_refusal(duration) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
    }
    let rounds = duration.as_micros() / PERIOD.as_micros();
    let names: Vec<String> = (1..=HOSTS).map(|i| format!("h{i}")).collect();
    let net = NetConfig {
        latency_us_min: 1_000,
        latency_us_max: 5_000,
        ..NetConfig::default()
    };
    let mut world: World<MeshHost> = World::new(
        SEED,
        names.clone(),
        net,
        Box::new(move |_, _| MeshHost {
            rounds,
            round: 0,
            delivered: 0,
            latency_sum_us: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }),
    );
    let mut observer = None;
    if let Some(path) = trace {
        // A BTreeMap-backed object: keys sorted, so "config" precedes "format";
        // readers look the format up by key, not by position.
        let header = serde_json::json!({
            "format": crate::trace::FORMAT,
            "version": crate::trace::VERSION,
            "partsim": env!("CARGO_PKG_VERSION"),
            "scenario": "bench-mesh",
            "seed": SEED,
            "processes": names,
            "config": { "duration": duration.to_string() },
        });
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        observer =
            Some(world.add_observer(TraceOnly(TraceWriter::new(file, TraceLevel::All, &header)?)));
    }
    let wall = std::time::Instant::now();
    for i in 0..HOSTS as u32 {
        world.start(ProcessId(i));
    }
    let end = SimTime::ZERO + START + SimDuration(PERIOD.as_micros() * rounds) + DRAIN;
    world.run_until(end);
    let mut trace_events = 0;
    if let Some(t) = observer.and_then(|id| world.take_observer(id)) {
        trace_events = t.0.written();
        t.0.finish(&serde_json::json!({ "bench": "mesh" }))?;
    }
    let wall_s = wall.elapsed().as_secs_f64();
    let (mut delivered, mut lat, mut fp) = (0u64, 0u64, 0u64);
    for i in 0..HOSTS as u32 {
        if let Some(h) = world.process(ProcessId(i)) {
            delivered += h.delivered;
            lat += h.latency_sum_us;
            fp = fp.rotate_left(7) ^ h.hash;
        }
    }
    Ok(MeshReport {
        messages: delivered,
        wall_s,
        messages_per_s: delivered as f64 / wall_s.max(1e-9),
        peak_rss_bytes: peak_rss_bytes(),
        virtual_s: (end.0 as f64) / 1e6,
        trace_events,
        mean_latency_ms: if delivered > 0 {
            lat as f64 / delivered as f64 / 1e3
        } else {
            0.0
        },
        fingerprint: format!("{fp:016x}"),
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

// ----- bench stack -----

/// The workloads of `bench stack` run by default, in order.
pub const STACK_WORKLOADS: &[&str] = &["large-grid", "grid-500", "chaos"];

/// Every workload `bench stack --workload` accepts: the defaults, and the
/// 5,000-node cluster (minutes, not seconds, so asked for by name).
pub const STACK_WORKLOADS_ALL: &[&str] = &["large-grid", "grid-500", "chaos", "grid-5000"];

const LARGE_GRID: &str = include_str!("../scenarios/large-grid.toml");
/// The data plane under faults: clients, replication, random crashes,
/// pauses and partitions (the scenario file as it is, workload included).
const CHAOS: &str = include_str!("../scenarios/chaos.toml");

/// `large-grid` resized: `nodes` data nodes on a `width` × 256 grid of 8 × 8
/// tiles (`width / 8 * 32` partitions), the same faults and timeline.
fn resized_grid(nodes: u32, width: u32) -> Result<String, String> {
    let mut text = LARGE_GRID.to_string();
    for (from, to) in [
        ("name = \"large-grid\"", format!("name = \"grid-{nodes}\"")),
        ("\nnodes = 50\n", format!("\nnodes = {nodes}\n")),
        ("\nwidth = 256\n", format!("\nwidth = {width}\n")),
        ("join = \"n51\"", format!("join = \"n{}\"", nodes + 1)),
    ] {
        if !text.contains(from) {
            return Err(format!(
                "scenarios/large-grid.toml no longer has `{}`: update the bench workloads",
                from.trim()
            ));
        }
        text = text.replace(from, &to);
    }
    Ok(text)
}

/// The scenario of a `bench stack` workload, parsed and validated like a
/// scenario file.
pub fn stack_scenario(workload: &str) -> Result<crate::scenario::Scenario, String> {
    let text = match workload {
        "large-grid" => LARGE_GRID.to_string(),
        // 500 nodes, 2,048 partitions.
        "grid-500" => resized_grid(500, 512)?,
        "chaos" => CHAOS.to_string(),
        // 5,000 nodes, 20,000 partitions.
        "grid-5000" => resized_grid(5_000, 5_000)?,
        other => {
            return Err(format!(
                "unknown workload `{other}` (expected one of {})",
                STACK_WORKLOADS_ALL.join(", ")
            ));
        }
    };
    crate::scenario::parse(&text, &format!("{workload}.toml")).map_err(|e| e.to_string())
}

/// What one `bench stack` workload measured.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct StackReport {
    /// Workload name.
    pub workload: String,
    /// Data nodes at start.
    pub nodes: u32,
    /// Partitions.
    pub partitions: u64,
    /// Events (the trace's event lines; the same count `partsim run` prints).
    pub events: u64,
    /// Virtual seconds simulated.
    pub virtual_s: f64,
    /// Wall-clock seconds of the run (building the world included).
    pub wall_s: f64,
    /// Events per wall-clock second.
    pub events_per_s: f64,
    /// Virtual seconds per wall-clock second.
    pub speedup: f64,
    /// Peak resident memory of the process that ran only this workload, bytes.
    pub peak_rss_bytes: u64,
    /// The run's trace digest: equal digests, equal runs.
    pub trace_digest: String,
    /// True when the scenario's expectations held.
    pub passed: bool,
}

/// Runs one workload in this process through [`crate::run::run`], the
/// runner of `partsim run`, without a trace file. Peak RSS is this
/// process's: run one workload per process to measure it alone.
#[allow(clippy::disallowed_methods)] // Measuring wall time is the point of a benchmark.
pub fn stack_one(workload: &str) -> Result<StackReport, String> {
    let s = stack_scenario(workload)?;
    let wall = std::time::Instant::now();
    let report =
        crate::run::run(&s, crate::run::RunOptions::default()).map_err(|e| e.to_string())?;
    let wall_s = wall.elapsed().as_secs_f64().max(1e-9);
    let virtual_s = report.ended_at.0 as f64 / 1e6;
    Ok(StackReport {
        workload: workload.to_string(),
        nodes: s.cluster.nodes,
        partitions: s.grid.partition_count(),
        events: report.trace_events,
        virtual_s,
        wall_s,
        events_per_s: report.trace_events as f64 / wall_s,
        speedup: virtual_s / wall_s,
        peak_rss_bytes: peak_rss_bytes(),
        trace_digest: report.trace_digest,
        passed: report.passed,
    })
}

/// What `bench stack` measured: each workload in a child process of its
/// own, then `bench mesh` in this one.
#[derive(Clone, Debug, Serialize)]
pub struct StackSuite {
    /// One per workload, in order.
    pub workloads: Vec<StackReport>,
    /// `bench mesh`, measured in the same sitting.
    pub mesh: MeshReport,
    /// Per workload, its events per second ÷ the mesh's messages per second.
    pub stack_over_kernel: Vec<(String, f64)>,
}

/// Runs each workload as `exe bench stack --child NAME --json` (so each
/// peak RSS is that workload's alone), then the mesh here.
pub fn stack_suite(exe: &Path, workloads: &[String]) -> Result<StackSuite, String> {
    let mut reports = Vec::new();
    for w in workloads {
        stack_scenario(w)?;
        let out = std::process::Command::new(exe)
            .args(["bench", "stack", "--json", "--child", w])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("{}: cannot start: {e}", exe.display()))?;
        if !out.status.success() {
            return Err(format!(
                "workload {w}: the child run failed ({})",
                out.status
            ));
        }
        let r: StackReport = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("workload {w}: unreadable child report: {e}"))?;
        reports.push(r);
    }
    let mesh = mesh(SimDuration::from_secs(60), None).map_err(|e| e.to_string())?;
    let stack_over_kernel = reports
        .iter()
        .map(|r| {
            (
                r.workload.clone(),
                r.events_per_s / mesh.messages_per_s.max(1e-9),
            )
        })
        .collect();
    Ok(StackSuite {
        workloads: reports,
        mesh,
        stack_over_kernel,
    })
}

impl std::fmt::Display for StackSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<11} {:>6} {:>6} {:>10} {:>8} {:>12} {:>9} {:>9} {:>8}",
            "workload",
            "nodes",
            "parts",
            "events",
            "wall s",
            "events/s",
            "× real",
            "peak MiB",
            "÷ mesh"
        )?;
        for (r, (_, ratio)) in self.workloads.iter().zip(&self.stack_over_kernel) {
            writeln!(
                f,
                "{:<11} {:>6} {:>6} {:>10} {:>8.3} {:>12.0} {:>9.1} {:>9.1} {:>8.3}{}",
                r.workload,
                r.nodes,
                r.partitions,
                r.events,
                r.wall_s,
                r.events_per_s,
                r.speedup,
                r.peak_rss_bytes as f64 / (1024.0 * 1024.0),
                ratio,
                if r.passed {
                    ""
                } else {
                    "  (expectations FAILED)"
                }
            )?;
        }
        write!(
            f,
            "bench mesh: {} messages in {:.3} s = {:.0} messages/s",
            self.mesh.messages, self.mesh.wall_s, self.mesh.messages_per_s
        )
    }
}

#[cfg(test)]
mod stack_tests {
    use super::*;

    #[test]
    fn every_workload_is_a_valid_scenario_of_the_announced_size() {
        let sizes: Vec<(u32, u64)> = STACK_WORKLOADS_ALL
            .iter()
            .map(|w| {
                let s = stack_scenario(w).unwrap_or_else(|e| panic!("{w}: {e}"));
                (s.cluster.nodes, s.grid.partition_count())
            })
            .collect();
        assert_eq!(sizes, [(50, 1024), (500, 2048), (8, 16), (5_000, 20_000)]);
        assert!(stack_scenario("chaos").is_ok_and(|s| s.workload.is_some()));
        assert!(stack_scenario("nope").is_err());
    }
}
