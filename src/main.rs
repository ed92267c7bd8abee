//! The `partsim` command line: parses arguments, calls the library, maps
//! outcomes to exit codes (DESIGN §7): 0 every expectation held, 1 an
//! expectation failed, 2 bad input or usage (nothing ran), 3 internal error.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use partsim::run::{self, RunOptions, RunReport};
use partsim::scenario::{self, Scenario};
use partsim::sim::SimDuration;
use partsim::stack::planted::Planted;
use partsim::trace::TraceLevel;

/// A deterministic simulation testbed for a distributed partition manager.
///
/// Runs a whole cluster — Raft managers, data nodes, clients — in one thread
/// on virtual time, through the faults a scenario file describes, checking
/// safety and liveness as it goes. Same scenario + seed = the same run, byte
/// for byte.
#[derive(Parser)]
#[command(name = "partsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Shrink a failing run to a minimal scenario that fails with the same checker.
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
    /// Swarm search: random configurations until a violation or the budget; then shrink it.
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
enum HistoryFormatArg {
    /// EDN maps, as Jepsen's history.edn.
    Edn,
    /// JSON objects with the same keys.
    Json,
}

#[derive(Copy, Clone, clap::ValueEnum)]
enum ExportFormat {
    /// Chrome Trace Event format (opens in Perfetto and chrome://tracing).
    Chrome,
}

#[derive(Subcommand)]
enum BenchCommand {
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

/// "ETA 1m 20s" from the time spent on `done` of `total` seeds.
fn eta(spent: std::time::Duration, done: u64, total: u128) -> String {
    if done == 0 {
        return "ETA …".into();
    }
    let left = total.saturating_sub(u128::from(done));
    let secs = spent.as_secs_f64() / done as f64 * left as f64;
    if !secs.is_finite() || secs > 1e9 {
        return "ETA: longer than a lifetime".into();
    }
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("ETA {secs}s"),
        60..3600 => format!("ETA {}m {:02}s", secs / 60, secs % 60),
        _ => format!("ETA {}h {:02}m", secs / 3600, secs / 60 % 60),
    }
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

/// A failure, with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    fn internal(message: impl Into<String>) -> Failure {
        Failure {
            code: 3,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            // The reader of our output went away (`partsim … | head`): stop
            // quietly, with the status a SIGPIPE death gives.
            std::process::exit(141);
        }
        eprintln!("partsim: internal error (a bug in partsim, please report it): {info}");
    }));
    match std::panic::catch_unwind(|| dispatch(cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(f)) => {
            eprintln!("partsim: {}", f.message);
            ExitCode::from(f.code)
        }
        Err(_) => ExitCode::from(3),
    }
}

fn load(path: &Path) -> Result<Scenario, Failure> {
    scenario::load(path).map_err(|e| Failure::usage(e.to_string()))
}

fn planted(names: &[String]) -> Result<Planted, Failure> {
    Planted::parse(names).map_err(Failure::usage)
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Run {
            scenario,
            seed,
            trace,
            trace_level,
            json,
            keep_going,
            print_schedule,
            plant,
            duration,
            force,
        } => {
            let s = load(&scenario)?;
            let planted = planted(&plant)?;
            let seed_used = seed.unwrap_or(s.seed);
            if print_schedule {
                let schedule = s.resolve_schedule(seed_used);
                println!(
                    "schedule of {} (seed {seed_used}, {} steps):",
                    s.name,
                    schedule.len()
                );
                print!("{}", scenario::format_schedule(&schedule));
                return Ok(0);
            }
            let trace_out: Option<Box<dyn Write>> = match &trace {
                Some(path) => {
                    partsim::output::check_output(path, &[&scenario], force)
                        .map_err(|e| Failure::usage(e.to_string()))?;
                    let f = File::create(path).map_err(|e| {
                        Failure::usage(format!("{}: cannot create the trace: {e}", path.display()))
                    })?;
                    Some(Box::new(BufWriter::with_capacity(1 << 20, f)))
                }
                None => None,
            };
            let opts = RunOptions {
                seed,
                trace_out,
                trace_level,
                keep_going,
                planted,
                scenario_path: Some(scenario.display().to_string()),
                duration,
            };
            let report = run::run(&s, opts).map_err(|e| Failure::internal(e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Failure::internal(e.to_string()))?
                );
            } else {
                print_report(&report, trace.as_deref());
            }
            Ok(if report.passed { 0 } else { 1 })
        }
        Command::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
            plant,
            fail_fast,
            trace_dir,
            duration,
        } => {
            let s = load(&scenario)?;
            let planted = planted(&plant)?;
            if let Some(dir) = &trace_dir {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Failure::usage(format!(
                        "{}: cannot create the directory: {e}",
                        dir.display()
                    ))
                })?;
            }
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let show = std::io::stderr().is_terminal();
            #[allow(clippy::disallowed_methods)] // wall time for the ETA, shown on a terminal only
            let started = std::time::Instant::now();
            let opts = partsim::sweep::SweepOptions {
                seeds,
                jobs,
                shard,
                planted,
                scenario_path: scenario.display().to_string(),
                progress: if show {
                    Some(Box::new(move |done, total, failed| {
                        eprint!(
                            "\r  {done}/{total} seeds, {failed} failed, {}  ",
                            eta(started.elapsed(), done, total)
                        );
                        if u128::from(done) == total {
                            eprintln!();
                        }
                    }))
                } else {
                    None
                },
                fail_fast,
                trace_dir,
                duration,
            };
            let r = partsim::sweep::sweep(&s, &opts).map_err(|e| Failure::usage(e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r)
                        .map_err(|e| Failure::internal(e.to_string()))?
                );
            } else {
                let verdict = if r.failures.is_empty() {
                    "PASS"
                } else {
                    "FAIL"
                };
                println!(
                    "{verdict}  {}: {}/{} seeds held their expectations{}",
                    r.scenario,
                    r.passed,
                    r.seeds,
                    if r.stopped_early {
                        format!(
                            " (--fail-fast: stopped, {} seeds not run)",
                            r.seeds_planned - r.seeds
                        )
                    } else {
                        String::new()
                    }
                );
                for (k, n) in &r.violations_by_check {
                    println!("  violations {k}: {n}");
                }
                for (k, a) in &r.metrics {
                    println!(
                        "  metric     {k}: n={} min={:.1} median={:.1} mean={:.1} max={:.1}",
                        a.count, a.min, a.median, a.mean, a.max
                    );
                }
                for f in r.failures.iter().take(10) {
                    println!(
                        "  seed {:<6} {}",
                        f.seed,
                        f.failure.as_deref().unwrap_or("failed")
                    );
                    if let Some(t) = &f.trace {
                        println!("  trace       {t}");
                    }
                }
                if r.failures.len() > 10 {
                    println!("  … and {} more failing seeds", r.failures.len() - 10);
                }
                if let Some(cmd) = &r.reproduce {
                    println!("  reproduce  {cmd}");
                }
                print!("{}", r.coverage.render());
            }
            Ok(if r.failures.is_empty() { 0 } else { 1 })
        }
        Command::CheckDeterminism {
            scenario,
            seed,
            plant,
        } => {
            let s = load(&scenario)?;
            let planted = planted(&plant)?;
            let r = run::check_determinism(&s, seed, planted)
                .map_err(|e| Failure::internal(e.to_string()))?;
            let seed_used = seed.unwrap_or(s.seed);
            if let Some((line, a, b)) = r.divergence {
                println!(
                    "NOT deterministic: {} (seed {seed_used}) diverged at trace line {}",
                    s.name,
                    line + 1
                );
                println!("  first run:  {a}");
                println!("  second run: {b}");
                println!("  digests {} vs {}", r.first, r.second);
                return Ok(1);
            }
            // In-process runs share the process: statics, the allocator's
            // state, anything hashed by address. A second process shares none.
            let other = second_process_digest(&scenario, seed_used, &plant)?;
            if other != r.first {
                println!(
                    "NOT deterministic: {} (seed {seed_used}) gave {} in this process and {other} in a second one",
                    s.name, r.first
                );
                println!(
                    "  write both traces (`partsim run {} --seed {seed_used} --keep-going --trace A.jsonl`, twice) and `partsim diff A.jsonl B.jsonl` shows where",
                    scenario.display()
                );
                return Ok(1);
            }
            println!(
                "deterministic: {} (seed {seed_used}) gave identical traces twice in this process and once in a second process ({} lines, digest {})",
                s.name, r.lines, r.first
            );
            Ok(0)
        }
        Command::Diff { a, b } => {
            let r = partsim::trace::diff::diff_files(&a, &b)
                .map_err(|e| Failure::usage(e.to_string()))?;
            match r.divergence {
                None => {
                    println!(
                        "identical: {} and {} ({} lines)",
                        a.display(),
                        b.display(),
                        r.lines_compared
                    );
                    Ok(0)
                }
                Some(d) => {
                    println!(
                        "traces differ from line {} ({} identical lines before it)",
                        d.line, r.lines_compared
                    );
                    for (n, l) in &d.before {
                        println!("  {n:>8}   {l}");
                    }
                    for (label, path, lines) in [("A", &a, &d.a), ("B", &b, &d.b)] {
                        println!("{label} {}:", path.display());
                        if lines.is_empty() {
                            println!("  {:>8} {label} (end of trace)", d.line);
                        }
                        for (i, l) in lines.iter().enumerate() {
                            println!("  {:>8} {label} {l}", d.line + i as u64);
                        }
                    }
                    Ok(1)
                }
            }
        }
        Command::Validate { scenarios } => {
            let mut bad = 0;
            for path in &scenarios {
                match scenario::load(path) {
                    Ok(s) => println!(
                        "{}: ok ({}, {} events)",
                        path.display(),
                        s.name,
                        s.events.len()
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        bad += 1;
                    }
                }
            }
            Ok(if bad == 0 { 0 } else { 2 })
        }
        Command::Check { trace, json } => check_trace(&trace, json),
        Command::Shrink {
            scenario,
            seed,
            plant,
            output,
        } => {
            let s = load(&scenario)?;
            let planted = planted(&plant)?;
            let seed = seed.unwrap_or(s.seed);
            shrink_and_write(
                &s,
                &scenario.display().to_string(),
                seed,
                planted,
                output.as_deref(),
            )
        }
        Command::Hunt {
            scenarios,
            budget,
            seed,
            max_runs,
            jobs,
            plant,
            output,
            no_shrink,
            checker,
        } => {
            let bases = scenarios
                .iter()
                .map(|p| load(p))
                .collect::<Result<Vec<_>, _>>()?;
            let planted = planted(&plant)?;
            if let Some(c) = &checker
                && !partsim::check::KNOWN.contains(&c.as_str())
            {
                return Err(Failure::usage(format!(
                    "--checker: unknown checker {c:?} (known: {})",
                    partsim::check::KNOWN.join(", ")
                )));
            }
            let opts = partsim::hunt::HuntOptions {
                seed,
                budget,
                max_runs,
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                planted,
                bases,
                checker,
                progress: None,
            };
            hunt(opts, output.as_deref(), no_shrink)
        }
        Command::SweepMerge { shards, json } => sweep_merge(&shards, json),
        Command::Bugs { points } => {
            print!(
                "{}",
                if points {
                    partsim::stack::points::render()
                } else {
                    partsim::catalog::render()
                }
            );
            Ok(0)
        }
        Command::Replay { trace } => replay(&trace),
        Command::Export {
            trace,
            format: ExportFormat::Chrome,
            output,
            force,
        } => {
            partsim::output::check_output(&output, &[&trace], force)
                .map_err(|e| Failure::usage(e.to_string()))?;
            export(&trace, &output)
        }
        Command::Lincheck {
            history,
            json,
            timeout,
        } => {
            let timeout = timeout.map(|d| std::time::Duration::from_micros(d.as_micros()));
            let verdict = partsim::check::lincheck::check_file(&history, json, timeout)
                .map_err(|e| Failure::usage(e.to_string()))?;
            println!("{}", verdict.output.trim_end());
            Ok(verdict.exit_code)
        }
        Command::Bench(BenchCommand::Lincheck { json }) => {
            let r = partsim::check::lincheck::bench::run().map_err(Failure::internal)?;
            print_bench(&r, json, |r| print!("{r}"))
        }
        Command::History { trace, format } => history(&trace, format),
        Command::Bench(BenchCommand::Replay { events, json }) => {
            if std::io::stderr().is_terminal() {
                eprintln!("generating a {events}-event trace and indexing it…");
            }
            let r = partsim::tui::bench_replay(events, &std::env::temp_dir())
                .map_err(|e| Failure::usage(e.to_string()))?;
            print_bench(&r, json, |r| println!("{r}"))
        }
        Command::Bench(BenchCommand::Stack {
            json,
            workload,
            child,
        }) => {
            if let Some(w) = child {
                // The parent reads this one JSON line.
                let r = partsim::bench::stack_one(&w).map_err(Failure::usage)?;
                return print_bench(&r, true, |_| {});
            }
            let workloads: Vec<String> = if workload.is_empty() {
                partsim::bench::STACK_WORKLOADS
                    .iter()
                    .map(|w| w.to_string())
                    .collect()
            } else {
                workload
            };
            let exe = std::env::current_exe()
                .map_err(|e| Failure::internal(format!("cannot find this executable: {e}")))?;
            let r = partsim::bench::stack_suite(&exe, &workloads).map_err(Failure::usage)?;
            print_bench(&r, json, |r| println!("{r}"))
        }
        Command::Bench(BenchCommand::Mesh {
            json,
            trace,
            duration,
        }) => {
            if std::io::stderr().is_terminal() {
                eprintln!("running the heartbeat mesh for {duration} of virtual time…");
            }
            let r = partsim::bench::mesh(duration, trace.as_deref())
                .map_err(|e| Failure::usage(format!("writing the trace: {e}")))?;
            print_bench(&r, json, |r| {
                println!(
                    "heartbeat mesh: 8 processes, {:.0} s virtual, latency 1–5 ms",
                    r.virtual_s
                );
                println!(
                    "  delivered   {} messages (mean latency {:.3} ms)",
                    r.messages, r.mean_latency_ms
                );
                println!("  wall time   {:.4} s", r.wall_s);
                println!(
                    "  rate        {:.2} M messages / wall second",
                    r.messages_per_s / 1e6
                );
                println!(
                    "  peak RSS    {:.1} MiB",
                    r.peak_rss_bytes as f64 / (1024.0 * 1024.0)
                );
                if let Some(t) = &trace {
                    println!(
                        "  trace       {} ({} event lines)",
                        t.display(),
                        r.trace_events
                    );
                }
                println!("  fingerprint {}", r.fingerprint);
            })
        }
    }
}

/// Prints a benchmark's report: one JSON line with `--json`, else `text`.
fn print_bench<T: serde::Serialize>(
    r: &T,
    json: bool,
    text: impl FnOnce(&T),
) -> Result<u8, Failure> {
    if json {
        let line = serde_json::to_string(r).map_err(|e| Failure::internal(e.to_string()))?;
        println!("{line}");
    } else {
        text(r);
    }
    Ok(0)
}

/// The trace digest of `partsim run SCENARIO --seed N --keep-going --json`
/// run by this same binary in a new process.
fn second_process_digest(scenario: &Path, seed: u64, plant: &[String]) -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::internal(format!("cannot find this executable: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("run")
        .arg(scenario)
        .args(["--seed", &seed.to_string(), "--keep-going", "--json"]);
    for p in plant {
        cmd.args(["--plant", p]);
    }
    let out = cmd
        .output()
        .map_err(|e| Failure::internal(format!("cannot start a second process: {e}")))?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Failure::internal(format!(
            "the second process gave no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    report["trace_digest"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::internal("the second process's report has no trace_digest"))
}

fn print_report(r: &RunReport, trace: Option<&Path>) {
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    let mut ran = format!("{} virtual", r.duration);
    if let Some(full) = &r.scenario_duration {
        ran = format!(
            "{} virtual of the scenario's {full} (--duration)",
            r.duration
        );
    }
    if r.halted {
        ran.push_str(&format!(", stopped at {} by a violation", r.ended_at));
    }
    let unjudged = match r.unjudged {
        0 => String::new(),
        1 => "; 1 expectation not judged (not judged never counts as held, nor fails the run)"
            .to_string(),
        n => format!(
            "; {n} expectations not judged (not judged never counts as held, nor fails the run)"
        ),
    };
    println!(
        "{verdict}  {} (seed {}, {ran}){unjudged}; exit {}",
        r.scenario,
        r.seed,
        if r.passed { 0 } else { 1 }
    );
    if r.steps_cut > 0 {
        println!(
            "  cut        {} step(s) of the fault timeline past {} never fired",
            r.steps_cut, r.duration
        );
    }
    let kinds: Vec<String> = r
        .events_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("  events     {}", kinds.join(", "));
    let dropped: u64 = r.messages.dropped.values().sum();
    let reasons: Vec<String> = r
        .messages
        .dropped
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "  messages   sent {}, delivered {}, duplicated {}, dropped {}{}",
        r.messages.sent,
        r.messages.delivered,
        r.messages.duplicated,
        dropped,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    );
    if !r.faults_by_kind.is_empty() {
        let faults: Vec<String> = r
            .faults_by_kind
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        println!("  faults     {}", faults.join(", "));
    }
    if !r.checks.is_empty() {
        let checks: Vec<String> = r
            .checks
            .iter()
            .map(|c| {
                if c.violations == 0 {
                    format!("{} ok", c.name)
                } else {
                    format!("{} ✗{}", c.name, c.violations)
                }
            })
            .collect();
        println!("  checks     {}", checks.join(", "));
    }
    for (k, v) in &r.metrics {
        println!("  metric     {k} = {v}");
    }
    for e in &r.expectations {
        println!(
            "  expect     {} {}: {}",
            match (e.judged, e.held) {
                (false, _) => "–",
                (true, true) => "✓",
                (true, false) => "✗",
            },
            e.what,
            e.detail
        );
    }
    for sel in r.selectors.iter().take(20) {
        println!("  selector   {sel}");
    }
    if r.selectors.len() > 20 {
        println!("  selector   … and {} more", r.selectors.len() - 20);
    }
    const VIOLATIONS_SHOWN: usize = 5;
    for v in r.violations.iter().take(VIOLATIONS_SHOWN) {
        println!("  violation  {} at {}: {}", v.check, v.t, v.detail);
    }
    let not_shown =
        r.unlisted_violations + r.violations.len().saturating_sub(VIOLATIONS_SHOWN) as u64;
    if not_shown > 0 {
        println!("  violation  … and {not_shown} more violations not listed");
    }
    if !r.planted.is_empty() {
        println!("  planted    {}", r.planted.join(", "));
    }
    match trace {
        Some(p) => println!(
            "  trace      {} ({} events, digest {})",
            p.display(),
            r.trace_events,
            r.trace_digest
        ),
        None => println!(
            "  digest     {} ({} events)",
            r.trace_digest, r.trace_events
        ),
    }
    if !r.passed {
        println!("  reproduce  {}", r.reproduce);
    }
}

fn check_trace(path: &Path, json: bool) -> Result<u8, Failure> {
    let report =
        partsim::check::offline::check_file(path).map_err(|e| Failure::usage(e.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::internal(e.to_string()))?
        );
    } else {
        if let Some(n) = &report.notice {
            eprintln!("partsim: note: {n}");
        }
        println!(
            "checked {} events of {} (seed {})",
            report.events, report.scenario, report.seed
        );
        for v in &report.violations {
            println!(
                "  violation  {} at {} (event {}): {}",
                v.check,
                v.t,
                v.seq.map_or("-".into(), |s| s.to_string()),
                v.detail
            );
        }
        if report.unlisted_violations > 0 {
            println!(
                "  violation  … and {} more violations not listed",
                report.unlisted_violations
            );
        }
        if report.violations.is_empty() {
            let judged: Vec<&str> = report
                .checkers
                .iter()
                .map(String::as_str)
                .filter(|c| {
                    !report
                        .not_judged
                        .iter()
                        .any(|n| n.split(':').next() == Some(c))
                })
                .collect();
            println!("  no violations ({})", judged.join(", "));
        }
        for n in &report.not_judged {
            println!("  not judged {n}");
        }
    }
    Ok(if report.violations.is_empty() { 0 } else { 1 })
}

fn replay(path: &Path) -> Result<u8, Failure> {
    match partsim::tui::run_replay(path) {
        Ok(()) => Ok(0),
        Err(e) if e.is_bad_input() => Err(Failure::usage(e.to_string())),
        Err(e) => Err(Failure::internal(e.to_string())),
    }
}

fn history(trace: &Path, format: HistoryFormatArg) -> Result<u8, Failure> {
    use partsim::trace::history::{HistoryFormat, read_history, write_history};
    let (lines, notice) = read_history(trace).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(n) = notice {
        eprintln!("partsim: note: {n}");
    }
    let format = match format {
        HistoryFormatArg::Edn => HistoryFormat::Edn,
        HistoryFormatArg::Json => HistoryFormat::Json,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match write_history(&mut out, &lines, format).and_then(|()| std::io::Write::flush(&mut out)) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::internal(format!("writing the history: {e}"))),
        Ok(()) => Ok(0),
    }
}

fn export(trace: &Path, output: &Path) -> Result<u8, Failure> {
    let stats = partsim::trace::chrome::export_chrome(trace, output)
        .map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(n) = &stats.notice {
        eprintln!("partsim: note: {n}");
    }
    println!(
        "wrote {} (Chrome Trace Event format: open it in ui.perfetto.dev)",
        output.display()
    );
    Ok(0)
}

/// Shrinks a failing run and writes (or prints) the minimal scenario.
fn shrink_and_write(
    s: &Scenario,
    source: &str,
    seed: u64,
    planted: Planted,
    output: Option<&Path>,
) -> Result<u8, Failure> {
    let show = std::io::stderr().is_terminal();
    let mut line = |text: &str| eprint!("\r\x1b[2K  {text}");
    let progress: Option<&mut dyn FnMut(&str)> = if show { Some(&mut line) } else { None };
    let r = partsim::shrink::shrink(s, seed, planted, progress)
        .map_err(|e| Failure::usage(e.to_string()))?;
    if show {
        eprintln!();
    }
    println!(
        "shrunk {source} (seed {seed}): fails with {} — {} events -> {}, duration {} -> {}, {} runs",
        r.check, r.events_before, r.events_after, r.duration_before, r.duration_after, r.runs
    );
    for step in r.steps.iter().filter(|s| s.kept) {
        println!("  step     {}", step.what);
    }
    for c in &r.changed_failures {
        println!("  changed  {c} (rejected)");
    }
    let file = partsim::shrink::minimal_file(&r, source, seed, planted);
    match output {
        Some(path) => {
            std::fs::write(path, &file)
                .map_err(|e| Failure::usage(format!("{}: cannot write: {e}", path.display())))?;
            let mut cmd = format!("partsim run {}", path.display());
            for b in planted.names() {
                cmd.push_str(&format!(" --plant {b}"));
            }
            println!("  wrote    {}\n  reproduce  {cmd}", path.display());
        }
        None => print!("\n{file}"),
    }
    Ok(1)
}

fn hunt(
    mut opts: partsim::hunt::HuntOptions,
    output: Option<&Path>,
    no_shrink: bool,
) -> Result<u8, Failure> {
    let show = std::io::stderr().is_terminal();
    if show {
        opts.progress = Some(Box::new(|done, failed| {
            eprint!("\r  hunting: {done} runs, {failed} failing ");
        }));
    }
    let (seed, planted) = (opts.seed, opts.planted);
    let r = partsim::hunt::hunt(&opts);
    if show {
        eprintln!();
    }
    for (check, n) in &r.other_failures {
        println!("  other    {n} runs failed with {check} (not the checker hunted for)");
    }
    print!("{}", r.coverage.render());
    println!(
        "{} runs mutated a configuration that reached rare probes",
        r.pool_runs
    );
    let Some(f) = r.found else {
        if r.runs == 0 {
            eprintln!("partsim: the budget ended before the first run: nothing was tested");
            return Ok(2);
        }
        println!(
            "hunt seed {seed}: {} runs in {:.1}s, no violation{}",
            r.runs,
            r.wall.as_secs_f64(),
            if r.out_of_budget {
                " (budget spent)"
            } else {
                ""
            }
        );
        return Ok(0);
    };
    println!(
        "hunt seed {seed}: run {} (seed {}) failed with {} after {} runs in {:.1}s",
        f.index,
        f.seed,
        f.check,
        r.runs,
        r.wall.as_secs_f64()
    );
    println!("  config   {}", partsim::hunt::describe(&f.scenario));
    if let Some(v) = f.report.violations.first() {
        println!("  violation  {} at {}: {}", v.check, v.t, v.detail);
    }
    if no_shrink {
        print!("\n{}", f.scenario.to_toml());
        return Ok(1);
    }
    shrink_and_write(
        &f.scenario,
        &format!("hunt seed {seed} run {}", f.index),
        f.seed,
        planted,
        output,
    )
}

fn sweep_merge(paths: &[PathBuf], json: bool) -> Result<u8, Failure> {
    let mut shards = Vec::new();
    for p in paths {
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p)
            .map_err(|e| Failure::usage(format!("{name}: cannot read: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Failure::usage(format!("{name}:{}:{}: not JSON: {e}", e.line(), e.column()))
        })?;
        shards.push((name, v));
    }
    let m = partsim::sweep_merge::merge(&shards).map_err(|e| Failure::usage(e.to_string()))?;
    let failures = m["failures"].as_array().map_or(0, Vec::len);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&m).map_err(|e| Failure::internal(e.to_string()))?
        );
    } else {
        print!("{}", partsim::sweep_merge::render(&m, paths.len()));
    }
    Ok(if failures == 0 { 0 } else { 1 })
}
