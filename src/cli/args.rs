//! The command line's grammar (clap derive): subcommands, their options
//! and the parsers of option values.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use partsim::scenario;
use partsim::sim::SimDuration;
use partsim::trace::TraceLevel;

/// A deterministic simulation testbed for a distributed partition manager.
///
/// Runs a whole cluster — Raft managers, data nodes, clients — in one thread
/// on virtual time, through the faults a scenario file describes, checking
/// safety and liveness as it goes. Same scenario + seed = the same run, byte
/// for byte.
#[derive(Parser)]
#[command(
    name = "partsim",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 ran and every expectation held; 1 an expectation failed (a violation, a missed deadline); 2 bad input or usage (nothing ran); 3 an internal error (a bug in partsim: report it).\nHuman output by default; one JSON document with --json where a command has it."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a scenario and judge its [expect] section (exit 0 held, 1 failed).
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Root seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the trace (JSON Lines) to this file.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Which events the trace file holds; checkers always see every event.
        #[arg(long, value_enum, default_value_t = TraceLevel::All)]
        trace_level: TraceLevel,
        /// Print one JSON document instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Keep running after a violation instead of stopping at it.
        #[arg(long)]
        keep_going: bool,
        /// Print the resolved fault timeline ([[events]] + expanded [random]) and exit without running.
        #[arg(long)]
        print_schedule: bool,
        /// Plant a deliberate bug by name (builds with `--features planted-bugs` only; repeatable).
        #[arg(long, value_name = "BUG")]
        plant: Vec<String>,
        /// Override the scenario's duration: shorter stops the run there (steps past it never
        /// fire, deadlines past it are not judged); longer is a soak ("10m"). Same limits as `duration`.
        #[arg(long, value_parser = parse_run_duration)]
        duration: Option<SimDuration>,
        /// Overwrite an existing --trace file even if partsim did not write it.
        #[arg(long)]
        force: bool,
    },
    /// Run a scenario over a range of seeds on worker threads (exit 0 all held, 1 some failed).
    Sweep {
        /// The scenario file.
        scenario: PathBuf,
        /// Seeds to run: A..B (B exclusive), A..=B, or one seed; e.g. 0..200. Never empty.
        #[arg(long, value_parser = partsim::sweep::parse_seeds)]
        seeds: partsim::sweep::SeedRange,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (1-based), e.g. 2/4, to split a sweep across machines.
        #[arg(long, value_parser = partsim::sweep::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// Plant a deliberate bug by name (repeatable).
        #[arg(long, value_name = "BUG")]
        plant: Vec<String>,
        /// Stop at the first failing seed (seeds already running finish).
        #[arg(long)]
        fail_fast: bool,
        /// Write the trace of every failing seed to DIR/NAME-seed-N.jsonl.
        #[arg(long, value_name = "DIR")]
        trace_dir: Option<PathBuf>,
        /// Override the scenario's duration for every seed (as `run --duration`).
        #[arg(long, value_parser = parse_run_duration)]
        duration: Option<SimDuration>,
    },
    /// Run a scenario twice in-process, then once more in a second process, and compare the
    /// traces (exit 0 identical, 1 not).
    CheckDeterminism {
        /// The scenario file.
        scenario: PathBuf,
        /// Root seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Plant a deliberate bug by name (repeatable).
        #[arg(long, value_name = "BUG")]
        plant: Vec<String>,
    },
    /// Show where two traces first differ, with the lines around it (exit 0 identical, 1 not).
    Diff {
        /// The first trace.
        a: PathBuf,
        /// The second trace.
        b: PathBuf,
    },
    /// Check scenario files without running them (exit 0 all valid, 2 otherwise).
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Run the offline checkers over a trace file (exit 0 clean, 1 violations).
    Check {
        /// A trace written by `partsim run --trace`.
        trace: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Open a trace in the interactive replay UI.
    Replay {
        /// A trace written by `partsim run --trace`.
        trace: PathBuf,
    },
    /// Convert a trace for other tools.
    Export {
        /// A trace written by `partsim run --trace`.
        trace: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "chrome")]
        format: ExportFormat,
        /// Output file (never the trace itself).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Overwrite an existing output file even if partsim did not write it.
        #[arg(long)]
        force: bool,
    },
    /// Shrink a failing run to a minimal scenario that fails with the same checker (exit 1 shrunk:
    /// the failure reproduces; 2 the run does not fail or bad input).
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Plant a deliberate bug by name (repeatable).
        #[arg(long, value_name = "BUG")]
        plant: Vec<String>,
        /// Write the minimal scenario here (default: print it).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Swarm search: random configurations until a violation or the budget; then shrink it (exit
    /// 0 no violation, 1 one found, 2 bad input or nothing ran).
    Hunt {
        /// Base scenarios to vary (none: the whole configuration space).
        scenarios: Vec<PathBuf>,
        /// Wall-clock budget, e.g. 90s, 10m.
        #[arg(long, default_value = "10m", value_parser = partsim::hunt::parse_budget)]
        budget: std::time::Duration,
        /// The hunt seed: the whole hunt is reproducible from it.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// At most this many runs.
        #[arg(long, default_value_t = u64::MAX, value_parser = clap::value_parser!(u64).range(1..))]
        max_runs: u64,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Plant a deliberate bug by name (repeatable).
        #[arg(long, value_name = "BUG")]
        plant: Vec<String>,
        /// Write the minimal scenario here (default: print it).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Report the failing run without shrinking it.
        #[arg(long)]
        no_shrink: bool,
        /// Stop only at a violation of this checker (others are counted and listed).
        #[arg(long, value_name = "NAME")]
        checker: Option<String>,
    },
    /// Merge the `sweep --shard I/N --json` outputs of one sweep into one report (exit 0 all held, 1 some failed).
    SweepMerge {
        /// Shard reports (JSON files).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// The planted-bug catalog: every planted bug, its component and the checker that catches it.
    Bugs {
        /// List the stack's fault points (`cx.buggify`) and coverage probes (`cx.reached`) instead.
        #[arg(long)]
        points: bool,
    },
    /// Check a client history for linearizability: Jepsen's history.edn shape or the same keys
    /// as JSON lines (exit 0 linearizable, 1 not or undecided, 2 malformed).
    Lincheck {
        /// The history file: one EDN map or JSON object per line.
        history: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// Give up after this much wall time (e.g. "10s"); undecided keys are reported unknown.
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<SimDuration>,
        /// Give up after this many search steps (deterministic; about a million a second);
        /// undecided keys are reported unknown. 0: no limit. The default is the budget of
        /// the online `linearizable` checker.
        #[arg(long, default_value_t = partsim::check::lincheck::DEFAULT_MAX_STEPS)]
        max_steps: u64,
    },
    /// Write the client history of a trace in Jepsen's shape (EDN or JSON lines).
    History {
        /// A trace written by `partsim run --trace`.
        trace: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "edn")]
        format: HistoryFormatArg,
    },
    /// Measure partsim on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub(crate) enum HistoryFormatArg {
    /// EDN maps, as Jepsen's history.edn.
    Edn,
    /// JSON objects with the same keys.
    Json,
}

#[derive(Copy, Clone, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// Chrome Trace Event format (opens in Perfetto and chrome://tracing).
    Chrome,
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// The kernel: 8 processes in a heartbeat mesh, 336,000 messages for 60 s of virtual time.
    Mesh {
        /// Print one JSON object: messages, wall_s, messages_per_s, peak_rss_bytes.
        #[arg(long)]
        json: bool,
        /// Measure with the full JSONL trace written to this file.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Virtual duration (e.g. "600s" to check that memory does not grow with it), at most
        /// "30m".
        #[arg(long, default_value = "60s", value_parser = parse_mesh_duration)]
        duration: SimDuration,
    },
    /// The linearizability checker: seeded hard single-register histories and a 30,000-operation run.
    Lincheck {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The stack: fixed seeded workloads through the runner of `partsim run`, each in a
    /// child process (for its own peak RSS), then `bench mesh` for the stack ÷ kernel ratio.
    Stack {
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// Run only these workloads (large-grid, grid-500, chaos, grid-5000; default:
        /// large-grid, grid-500 and chaos).
        #[arg(long, value_name = "NAME")]
        workload: Vec<String>,
        /// Run this one workload in this process and print its report (what the
        /// parent starts per workload).
        #[arg(long, value_name = "NAME", hide = true)]
        child: Option<String>,
    },
    /// The replay UI's loader: generates a trace, then measures open time, seek time and memory.
    Replay {
        /// Events in the generated trace (at most 20,000,000, about 2 GB).
        #[arg(long, default_value_t = 1_000_000,
              value_parser = clap::value_parser!(u64).range(1..=partsim::tui::bench::MAX_BENCH_EVENTS))]
        events: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!("{s:?}: a duration cannot be negative"));
    }
    SimDuration::parse(s).map_err(|e| e.to_string())
}

/// `bench mesh --duration`: within the mesh's own limits.
fn parse_mesh_duration(s: &str) -> Result<SimDuration, String> {
    let d = parse_duration(s)?;
    match partsim::bench::mesh_duration_refusal(d) {
        Some(why) => Err(why),
        None => Ok(d),
    }
}

/// `run --duration`: a duration within the limits a scenario's `duration` has.
fn parse_run_duration(s: &str) -> Result<SimDuration, String> {
    let d = parse_duration(s)?;
    match scenario::duration_refusal(d) {
        Some(why) => Err(format!("{s:?} {why}")),
        None => Ok(d),
    }
}
