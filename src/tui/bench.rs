//! `partsim bench replay`: how fast the replay UI opens and seeks a large
//! trace on this machine, and a synthetic trace generator for it (and for
//! the UI's tests).
//!
//! The generator writes a trace in the writer's exact line format: a
//! 3-manager, 6-node, 2-client cluster on a 64×64 grid of 16 partitions,
//! with Raft heartbeats, node heartbeats and client writes filling the time,
//! and a fixed script at fractions of the run: an election (0%), a
//! partition that cuts the leader off with a new election (20–35%), a node
//! crash with failover and re-replication (45–60%), a clock jump (70–80%), a
//! paused leader (80–85%) and a `single_primary` violation (90%). It is
//! deterministic: the same `events` gives byte-identical files.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use super::TuiError;
use super::app::App;
use super::view::render;
use crate::sim::rng::{self, RngExt};

/// Figures of one benchmark run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Events in the generated trace.
    pub events: u64,
    /// Its size in bytes.
    pub file_bytes: u64,
    /// Time to generate and write it, ms.
    pub generate_ms: f64,
    /// Time to open (index) it, ms.
    pub open_ms: f64,
    /// Memory held by the index and checkpoints, bytes (estimate).
    pub index_bytes: u64,
    /// Checkpoint interval in effect, events.
    pub checkpoint_every: u64,
    /// Random seeks measured.
    pub seeks: u32,
    /// Median time to rebuild the cluster state at a random event, µs.
    pub seek_median_us: f64,
    /// Slowest of those, µs.
    pub seek_max_us: f64,
    /// Median time to seek and draw a 160×48 frame, µs.
    pub frame_median_us: f64,
    /// Slowest of those, µs.
    pub frame_max_us: f64,
    /// Peak resident memory of this process (VmHWM), KiB; Linux only.
    pub peak_rss_kib: Option<u64>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "replay benchmark: {} events, {:.1} MiB trace",
            self.events,
            self.file_bytes as f64 / 1048576.0
        )?;
        writeln!(f, "  generate  {:>9.1} ms", self.generate_ms)?;
        writeln!(
            f,
            "  open      {:>9.1} ms   (index {:.1} MiB, checkpoint every {} events)",
            self.open_ms,
            self.index_bytes as f64 / 1048576.0,
            self.checkpoint_every
        )?;
        writeln!(
            f,
            "  seek      {:>9.1} µs median, {:.1} µs max over {} random seeks",
            self.seek_median_us, self.seek_max_us, self.seeks
        )?;
        writeln!(
            f,
            "  frame     {:>9.1} µs median, {:.1} µs max (seek + draw 160×48)",
            self.frame_median_us, self.frame_max_us
        )?;
        match self.peak_rss_kib {
            Some(k) => write!(f, "  peak RSS  {:>9.1} MiB", k as f64 / 1024.0),
            None => write!(f, "  peak RSS  unknown (no /proc/self/status)"),
        }
    }
}

/// Most events `bench replay` generates: about 2 GB of trace (a million
/// events make 98.6 MiB).
pub const MAX_BENCH_EVENTS: u64 = 20_000_000;

/// Removes the benchmark's trace file when dropped: on success, on error,
/// and on a panic that unwinds.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Generates a synthetic trace of about `events` events (at most
/// [`MAX_BENCH_EVENTS`]) in `dir`, then measures opening it, 50 random
/// seeks, 50 seek-and-draw frames, and the process's peak RSS.
///
/// The trace never outlives the process: its name is removed as soon as
/// the file is created (on Unix an open file lives on without a name, so
/// even Ctrl-C or a kill leaves nothing behind), and a guard removes it on
/// every return where that early removal is not possible.
#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time; nothing it measures depends on the clock"
)]
pub fn bench_replay(events: u64, dir: &Path) -> Result<BenchReport, TuiError> {
    let path = dir.join(format!("partsim-replay-bench-{}.jsonl", std::process::id()));
    let shown = path.display().to_string();
    let werr = |source: io::Error| TuiError::Write {
        path: shown.clone(),
        source,
    };
    if events > MAX_BENCH_EVENTS {
        return Err(werr(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{events} events is above the limit of {MAX_BENCH_EVENTS} (MAX_BENCH_EVENTS)"),
        )));
    }
    std::fs::create_dir_all(dir).map_err(werr)?;
    let t0 = Instant::now();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(werr)?;
    let _guard = RemoveOnDrop(path.clone());
    let _ = std::fs::remove_file(&path);
    let mut out = BufWriter::with_capacity(1 << 20, file.try_clone().map_err(werr)?);
    let written = write_synthetic_trace(&mut out, events).map_err(werr)?;
    out.flush().map_err(werr)?;
    drop(out);
    let generate_ms = t0.elapsed().as_secs_f64() * 1e3;
    let file_bytes = file.metadata().map_err(werr)?.len();

    let t1 = Instant::now();
    let replay = super::index::open_file(file, shown.clone());
    let open_ms = t1.elapsed().as_secs_f64() * 1e3;
    let replay = replay?;
    let index_bytes = replay.index_bytes() as u64;
    let checkpoint_every = replay.checkpoint_every() as u64;
    let n = replay.len().max(1);

    let mut rng = rng::stream(7, "bench/replay-seeks");
    let targets: Vec<usize> = (0..50).map(|_| rng.random_range(0..n)).collect();
    let mut seeks = Vec::with_capacity(targets.len());
    for &i in &targets {
        let t = Instant::now();
        let st = replay.state_at(i);
        seeks.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(st);
    }

    let mut app = App::new(replay);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48))
        .map_err(|e| TuiError::Terminal(io::Error::other(e.to_string())))?;
    let mut frames = Vec::with_capacity(targets.len());
    for &i in targets.iter().rev() {
        let t = Instant::now();
        app.goto(i);
        let _ = terminal.draw(|f| render(&app, f));
        frames.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(app);
    let (seek_median_us, seek_max_us) = median_max(&mut seeks);
    let (frame_median_us, frame_max_us) = median_max(&mut frames);
    Ok(BenchReport {
        events: written,
        file_bytes,
        generate_ms,
        open_ms,
        index_bytes,
        checkpoint_every,
        seeks: targets.len() as u32,
        seek_median_us,
        seek_max_us,
        frame_median_us,
        frame_max_us,
        peak_rss_kib: peak_rss_kib(),
    })
}

fn median_max(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() - 1])
}

/// The process's peak resident set (VmHWM), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const MANAGERS: usize = 3;
const NODES: usize = 6;
const CLIENTS: usize = 2;
const PARTITIONS: usize = 16;
const RF: usize = 3;
const DURATION_US: u64 = 60_000_000;

/// Writes a synthetic trace of about `events` events (at least a few
/// hundred: the script always runs whole) to `out`; returns the number of
/// event lines written.
pub fn write_synthetic_trace<W: Write>(out: W, events: u64) -> io::Result<u64> {
    let mut g = Gen::new(out, events.max(1));
    g.header()?;
    g.run()?;
    g.footer()
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Up {
    Running,
    Down,
    Paused,
}

struct Gen<W: Write> {
    out: W,
    target: u64,
    seq: u64,
    t: u64,
    msg_id: u64,
    line: String,
    hasher: Xxh3,
    names: Vec<String>,
    status: Vec<Up>,
    /// Group of each process while a partition is on (None: no partition).
    groups: Option<Vec<u8>>,
    leader: usize,
    term: u64,
    log_index: u64,
    map_version: u64,
    /// Per partition: (primary node index, backups), node indices 0..NODES.
    placement: Vec<(usize, Vec<usize>)>,
    epochs: Vec<u64>,
    client_op: u64,
    /// Partitions a crashed node still believes it hosts (dropped at restart).
    stale_on_restart: Vec<usize>,
    rng: rng::ChaCha8Rng,
    step_us: u64,
}

fn m(i: usize) -> usize {
    i
}
fn n(i: usize) -> usize {
    MANAGERS + i
}
fn c(i: usize) -> usize {
    MANAGERS + NODES + i
}

impl<W: Write> Gen<W> {
    fn new(out: W, target: u64) -> Self {
        let mut names = Vec::new();
        names.extend((1..=MANAGERS).map(|i| format!("m{i}")));
        names.extend((1..=NODES).map(|i| format!("n{i}")));
        names.extend((1..=CLIENTS).map(|i| format!("c{i}")));
        let count = names.len();
        Gen {
            out,
            target,
            seq: 0,
            t: 0,
            msg_id: 0,
            line: String::with_capacity(256),
            hasher: Xxh3::new(),
            names,
            status: vec![Up::Down; count],
            groups: None,
            leader: 0,
            term: 0,
            log_index: 0,
            map_version: 0,
            placement: Vec::new(),
            epochs: vec![0; PARTITIONS],
            client_op: 0,
            stale_on_restart: Vec::new(),
            rng: rng::stream(42, "bench/synthetic-trace"),
            // A round of traffic is about 40 events; spread them over the run.
            step_us: (DURATION_US / target.max(1)).max(1),
        }
    }

    fn header(&mut self) -> io::Result<()> {
        let header = serde_json::json!({
            "format": crate::trace::FORMAT,
            "version": crate::trace::VERSION,
            "partsim": env!("CARGO_PKG_VERSION"),
            "scenario": "synthetic-replay",
            "seed": 42,
            "processes": self.names,
            "trace_level": "all",
            "config": {
                "duration": "60s",
                "grid": {"width": 64, "height": 64, "tile": [16, 16], "replication_factor": RF},
                "cluster": {"managers": MANAGERS, "nodes": NODES, "clients": CLIENTS, "zones": ["a", "b", "c"]},
            },
        });
        serde_json::to_writer(&mut self.out, &header)?;
        self.out.write_all(b"\n")
    }

    fn footer(mut self) -> io::Result<u64> {
        let footer = serde_json::json!({
            "footer": true,
            "events": self.seq,
            "digest": crate::trace::digest_hex(self.hasher.digest()),
            "summary": {"violations": 1, "synthetic": true},
        });
        serde_json::to_writer(&mut self.out, &footer)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.seq)
    }

    /// Writes one event; `fields` starts with a comma (or is empty).
    fn emit(&mut self, p: usize, cause: Option<u64>, ev: &str, fields: &str) -> io::Result<u64> {
        let name = if p == usize::MAX {
            "sim"
        } else {
            self.names[p].as_str()
        };
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"t\":{},\"p\":\"{name}\",\"seq\":{}",
            self.t, self.seq
        );
        if let Some(c) = cause {
            let _ = write!(self.line, ",\"cause\":{c}");
        }
        let _ = writeln!(self.line, ",\"ev\":\"{ev}\"{fields}}}");
        self.hasher.update(self.line.as_bytes());
        self.out.write_all(self.line.as_bytes())?;
        self.seq += 1;
        Ok(self.seq - 1)
    }

    fn tick(&mut self, us: u64) {
        self.t += us.max(1);
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.groups.as_ref().is_none_or(|g| g[a] == g[b])
    }

    /// A message from `a` to `b`: send, then deliver or drop. Returns the
    /// seq of the delivery, if it arrived.
    fn message(
        &mut self,
        a: usize,
        b: usize,
        msg: &str,
        cause: Option<u64>,
    ) -> io::Result<Option<u64>> {
        if self.status[a] != Up::Running {
            return Ok(None);
        }
        let id = self.msg_id;
        self.msg_id += 1;
        let to = self.names[b].clone();
        let from = self.names[a].clone();
        let s = self.emit(
            a,
            cause,
            "send",
            &format!(",\"to\":\"{to}\",\"msg\":\"{msg}\",\"id\":{id}"),
        )?;
        let latency = self.step_us.max(1) * (1 + self.rng.random_range(0..3u64));
        self.tick(latency);
        let reason = if !self.reachable(a, b) {
            Some("partition")
        } else if self.status[b] == Up::Down {
            Some("crashed")
        } else if self.status[b] == Up::Paused {
            Some("paused")
        } else if self.rng.random_range(0..1000u32) == 0 {
            Some("loss")
        } else {
            None
        };
        match reason {
            Some(r) => {
                self.emit(usize::MAX, Some(s), "drop", &format!(",\"from\":\"{from}\",\"to\":\"{to}\",\"msg\":\"{msg}\",\"id\":{id},\"reason\":\"{r}\""))?;
                Ok(None)
            }
            None => Ok(Some(self.emit(
                b,
                Some(s),
                "deliver",
                &format!(",\"from\":\"{from}\",\"msg\":\"{msg}\",\"id\":{id}"),
            )?)),
        }
    }

    fn role(
        &mut self,
        p: usize,
        role: &str,
        term: u64,
        leader: Option<usize>,
        cause: Option<u64>,
    ) -> io::Result<u64> {
        let leader = leader.map_or(String::new(), |l| {
            format!(",\"leader\":\"{}\"", self.names[l])
        });
        self.emit(
            p,
            cause,
            "role",
            &format!(",\"role\":\"{role}\",\"term\":{term}{leader}"),
        )
    }

    /// `p` runs an election for `term` and wins with the reachable managers.
    fn election(&mut self, p: usize) -> io::Result<()> {
        let timer = self.emit(p, None, "timer", ",\"timer\":\"Election\"")?;
        self.role(p, "pre_candidate", self.term, None, Some(timer))?;
        self.term += 1;
        let term = self.term;
        let cand = self.role(p, "candidate", term, None, Some(timer))?;
        for q in (0..MANAGERS).map(m).filter(|&q| q != p) {
            if let Some(d) = self.message(p, q, "RequestVote", Some(cand))? {
                let name = self.names[p].clone();
                let v = self.emit(
                    q,
                    Some(d),
                    "vote",
                    &format!(",\"term\":{term},\"candidate\":\"{name}\",\"granted\":true"),
                )?;
                self.role(q, "follower", term, None, Some(v))?;
                self.message(q, p, "Vote", Some(v))?;
            }
        }
        self.tick(self.step_us);
        self.leader = p;
        self.role(p, "leader", term, None, Some(cand))?;
        self.commit("Noop")
    }

    fn commit(&mut self, entry: &str) -> io::Result<()> {
        self.log_index += 1;
        let (index, term, leader) = (self.log_index, self.term, self.leader);
        let a = self.emit(
            leader,
            None,
            "append",
            &format!(",\"index\":{index},\"term\":{term},\"entry\":\"{entry}\""),
        )?;
        let digest = format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(format!("{index}/{term}/{entry}").as_bytes())
        );
        for q in 0..MANAGERS {
            if self.status[q] == Up::Running && self.reachable(leader, q) {
                self.emit(q, Some(a), "commit", &format!(",\"index\":{index},\"term\":{term},\"entry\":\"{entry}\",\"digest\":\"{digest}\""))?;
            }
        }
        Ok(())
    }

    fn apply_map(&mut self) -> io::Result<()> {
        self.map_version += 1;
        let v = self.map_version;
        for k in 0..NODES {
            if self.status[n(k)] == Up::Running {
                self.emit(n(k), None, "map", &format!(",\"version\":{v}"))?;
            }
        }
        Ok(())
    }

    fn replica(&mut self, node: usize, part: usize, state: &str) -> io::Result<u64> {
        let epoch = self.epochs[part];
        self.emit(
            n(node),
            None,
            "replica",
            &format!(",\"partition\":{part},\"state\":\"{state}\",\"epoch\":{epoch}"),
        )
    }

    fn fault(&mut self, id: u32, kind: &str, phase: &str, detail: &str) -> io::Result<u64> {
        self.emit(
            usize::MAX,
            None,
            "fault",
            &format!(
                ",\"fault\":{id},\"kind\":\"{kind}\",\"phase\":\"{phase}\",\"detail\":\"{detail}\""
            ),
        )
    }

    fn health(&mut self, node: usize, state: &str) -> io::Result<()> {
        let leader = self.leader;
        let name = self.names[n(node)].clone();
        self.emit(
            leader,
            None,
            "health",
            &format!(",\"node\":\"{name}\",\"state\":\"{state}\""),
        )?;
        Ok(())
    }

    /// One round of steady traffic.
    fn round(&mut self, r: u64) -> io::Result<()> {
        let leader = self.leader;
        if self.status[leader] == Up::Running {
            let timer = self.emit(leader, None, "timer", ",\"timer\":\"RaftHeartbeat\"")?;
            for q in (0..MANAGERS).map(m).filter(|&q| q != leader) {
                if let Some(d) = self.message(leader, q, "AppendEntries", Some(timer))? {
                    self.message(q, leader, "AppendEntriesResp", Some(d))?;
                }
            }
        }
        if r.is_multiple_of(2) {
            for k in 0..NODES {
                if self.status[n(k)] == Up::Running {
                    let timer = self.emit(n(k), None, "timer", ",\"timer\":\"Heartbeat\"")?;
                    self.message(n(k), leader, "Heartbeat", Some(timer))?;
                }
            }
        }
        // One client write: client -> primary -> backups -> acks -> client.
        let client = (r as usize) % CLIENTS;
        let part = self.rng.random_range(0..PARTITIONS);
        let (primary, backups) = self.placement.get(part).cloned().unwrap_or((0, Vec::new()));
        self.client_op += 1;
        let op = self.client_op;
        let cell = part * 256 + self.rng.random_range(0..256usize);
        let inv = self.emit(c(client), None, "invoke", &format!(",\"op\":{op},\"client_op\":\"c{}-{op}\",\"kind\":\"write\",\"cell\":{cell},\"value\":{op}", client + 1))?;
        if let Some(d) = self.message(c(client), n(primary), "Write", Some(inv))? {
            let mut acks = 0;
            for &b in &backups {
                if let Some(db) = self.message(n(primary), n(b), "Replicate", Some(d))?
                    && self
                        .message(n(b), n(primary), "ReplicateAck", Some(db))?
                        .is_some()
                {
                    acks += 1;
                }
            }
            let reply = self.message(n(primary), c(client), "WriteOk", Some(d))?;
            let ok = reply.is_some() && acks == backups.len();
            self.emit(
                c(client),
                reply.or(Some(inv)),
                "complete",
                &format!(",\"op\":{op},\"ok\":{ok}"),
            )?;
        } else {
            self.emit(
                c(client),
                Some(inv),
                "complete",
                &format!(",\"op\":{op},\"ok\":false"),
            )?;
        }
        if r % 16 == 15 && self.status[leader] == Up::Running {
            self.commit("Tick")?;
        }
        self.tick(self.step_us * 4);
        Ok(())
    }

    fn run(&mut self) -> io::Result<()> {
        // Start and elect.
        for p in 0..self.names.len() {
            self.status[p] = Up::Running;
            self.emit(p, None, "start", "")?;
        }
        self.tick(self.step_us * 10);
        self.election(m(0))?;
        let (term, leader) = (self.term, self.leader);
        for q in (0..MANAGERS).map(m).filter(|&q| q != leader) {
            self.role(q, "follower", term, Some(leader), None)?;
        }
        for k in 0..NODES {
            let name = self.names[n(k)].clone();
            self.emit(
                self.leader,
                None,
                "member",
                &format!(",\"node\":\"{name}\",\"state\":\"active\""),
            )?;
            self.health(k, "alive")?;
        }
        self.commit("SetReplicas")?;
        for part in 0..PARTITIONS {
            let nodes: Vec<usize> = (0..RF).map(|j| (part + j) % NODES).collect();
            self.epochs[part] = 1;
            self.placement.push((nodes[0], nodes[1..].to_vec()));
            self.replica(nodes[0], part, "primary")?;
            for &b in &nodes[1..] {
                self.replica(b, part, "backup")?;
            }
        }
        self.apply_map()?;

        let mut round = 0u64;
        let mut step = 0usize;
        while self.seq < self.target || step < 9 {
            let frac = self.seq as f64 / self.target as f64;
            let due = |at: f64| frac >= at;
            match step {
                0 if due(0.20) => {
                    // The leader m1 and two nodes are cut off from the rest.
                    let mut g = vec![1u8; self.names.len()];
                    g[m(0)] = 0;
                    g[n(0)] = 0;
                    g[n(1)] = 0;
                    self.groups = Some(g);
                    self.fault(1, "partition", "begin", "partition [m1 n1 n2] | [*]")?;
                    self.tick(self.step_us * 50);
                    self.election(m(1))?;
                    let (term, leader) = (self.term, self.leader);
                    self.role(m(2), "follower", term, Some(leader), None)?;
                    step += 1;
                }
                1 if due(0.35) => {
                    self.groups = None;
                    self.fault(1, "partition", "end", "partition [m1 n1 n2] | [*]")?;
                    let (term, leader) = (self.term, self.leader);
                    let d = self.message(leader, m(0), "AppendEntries", None)?;
                    self.role(m(0), "follower", term, Some(leader), d)?;
                    step += 1;
                }
                2 if due(0.45) => self.crash_n3(&mut step)?,
                3 if due(0.60) => {
                    self.fault(2, "crash", "end", "crash n3")?;
                    self.status[n(2)] = Up::Running;
                    self.emit(n(2), None, "restart", "")?;
                    for part in std::mem::take(&mut self.stale_on_restart) {
                        self.replica(2, part, "removed")?;
                    }
                    self.health(2, "alive")?;
                    self.commit("MarkAlive n3")?;
                    self.apply_map()?;
                    step += 1;
                }
                4 if due(0.70) => {
                    self.fault(3, "clock", "begin", "clock n1 offset=2s drift=0.001")?;
                    self.emit(
                        n(0),
                        None,
                        "clock",
                        ",\"offset_us\":2000000,\"drift_ppm\":1000",
                    )?;
                    step += 1;
                }
                5 if due(0.80) => {
                    self.fault(3, "clock", "end", "clock n1 offset=2s drift=0.001")?;
                    self.emit(n(0), None, "clock", ",\"offset_us\":0,\"drift_ppm\":0")?;
                    let old = self.leader;
                    self.fault(4, "pause", "begin", &format!("pause {}", self.names[old]))?;
                    self.status[old] = Up::Paused;
                    self.emit(old, None, "pause", "")?;
                    self.tick(self.step_us * 50);
                    self.election(m(2))?;
                    step += 1;
                }
                6 if due(0.85) => {
                    let old = m(1);
                    self.fault(4, "pause", "end", "pause m2")?;
                    self.status[old] = Up::Running;
                    self.emit(old, None, "resume", "")?;
                    let (term, leader) = (self.term, self.leader);
                    let d = self.message(leader, old, "AppendEntries", None)?;
                    self.role(old, "follower", term, Some(leader), d)?;
                    step += 1;
                }
                7 if due(0.90) => {
                    // A stale primary claims partition 5 in the current epoch.
                    let part = 5;
                    let (primary, backups) = self.placement[part].clone();
                    let stale = backups[0];
                    let r = self.replica(stale, part, "primary")?;
                    let detail = format!(
                        "partition {part} epoch {} has two primaries: {} and {}",
                        self.epochs[part],
                        self.names[n(primary)],
                        self.names[n(stale)]
                    );
                    self.emit(
                        n(stale),
                        Some(r),
                        "violation",
                        &format!(",\"check\":\"single_primary\",\"detail\":\"{detail}\""),
                    )?;
                    step += 1;
                }
                8 => step += 1,
                _ => {
                    self.round(round)?;
                    round += 1;
                }
            }
        }
        Ok(())
    }

    fn crash_n3(&mut self, step: &mut usize) -> io::Result<()> {
        let victim = 2usize; // n3
        self.fault(2, "crash", "begin", "crash n3")?;
        self.status[n(victim)] = Up::Down;
        self.emit(n(victim), None, "crash", ",\"lost_writes\":2")?;
        self.tick(self.step_us * 40);
        self.health(victim, "suspect")?;
        self.tick(self.step_us * 40);
        self.health(victim, "dead")?;
        self.commit("MarkDead n3")?;
        for part in 0..PARTITIONS {
            let (primary, backups) = self.placement[part].clone();
            if primary != victim && !backups.contains(&victim) {
                continue;
            }
            self.stale_on_restart.push(part);
            let mut remaining: Vec<usize> = std::iter::once(primary)
                .chain(backups)
                .filter(|&x| x != victim)
                .collect();
            if primary == victim {
                self.epochs[part] += 1;
                self.replica(remaining[0], part, "primary")?;
            }
            let spare = (0..NODES)
                .find(|k| *k != victim && !remaining.contains(k))
                .unwrap_or(0);
            let (from, to) = (self.names[n(victim)].clone(), self.names[n(spare)].clone());
            self.emit(
                self.leader,
                None,
                "move",
                &format!(
                    ",\"partition\":{part},\"from\":\"{from}\",\"to\":\"{to}\",\"phase\":\"add\""
                ),
            )?;
            self.replica(spare, part, "catching_up")?;
            self.tick(self.step_us * 5);
            self.replica(spare, part, "backup")?;
            self.emit(
                self.leader,
                None,
                "move",
                &format!(
                    ",\"partition\":{part},\"from\":\"{from}\",\"to\":\"{to}\",\"phase\":\"done\""
                ),
            )?;
            let p = remaining.remove(0);
            remaining.push(spare);
            self.placement[part] = (p, remaining);
        }
        self.commit("SetReplicas")?;
        self.apply_map()?;
        *step += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_trace_is_deterministic_and_reads_back() {
        let mut a = Vec::new();
        let n = write_synthetic_trace(&mut a, 3000).unwrap();
        let mut b = Vec::new();
        write_synthetic_trace(&mut b, 3000).unwrap();
        assert_eq!(a, b);
        assert!((3000..3200).contains(&n), "{n}");
        // The crate's own reader accepts it.
        let t: crate::trace::TraceFile<crate::stack::events::StackEvent> =
            crate::trace::reader::read_from(io::BufReader::new(&a[..]), "synthetic").unwrap();
        assert_eq!(t.events.len() as u64, n);
        assert!(t.footer.is_some());
        let r = super::super::open_bytes("synthetic", a).unwrap();
        assert_eq!(r.len() as u64, n);
        assert!(r.notice.is_none(), "{:?}", r.notice);
        assert_eq!(r.violations().len(), 1);
        assert!(r.leaders().len() >= 3);
        let last = r.state_at(r.len() - 1);
        assert_eq!(
            last.leader()
                .map(|(p, _)| r.procs()[p as usize].name.as_str()),
            Some("m3")
        );
        assert!(last.partitions.iter().all(|p| p.primary.is_some()));
    }
}

#[cfg(test)]
mod bench_tests {
    #[test]
    fn the_benchmark_runs_on_a_small_trace_and_cleans_up() {
        let dir = super::super::scratch_dir("bench-test");
        let report = super::bench_replay(20_000, &dir).unwrap();
        assert!(report.events >= 20_000);
        assert_eq!(report.seeks, 50);
        assert!(report.open_ms > 0.0 && report.seek_max_us >= report.seek_median_us);
        assert!(!dir.join("partsim-replay-bench.jsonl").exists());
        let text = report.to_string();
        assert!(text.contains("open") && text.contains("peak RSS"), "{text}");
        println!("{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod bench_million {
    /// The figures for the report: `cargo test --release --lib bench_one_million -- --ignored --nocapture`.
    #[test]
    #[ignore = "a benchmark: run it in a release build"]
    fn bench_one_million() {
        let dir = super::super::scratch_dir("bench-1m");
        let report = super::bench_replay(1_000_000, &dir).unwrap();
        println!("{report}");
        println!("{}", serde_json::to_string(&report).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
