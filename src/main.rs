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
        /// Override the scenario's duration (e.g. "10m" for a long soak); events past it never fire.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<SimDuration>,
    },
    /// Run a scenario over a range of seeds on worker threads (exit 0 all held, 1 some failed).
    Sweep {
        /// The scenario file.
        scenario: PathBuf,
        /// Seeds to run: A..B (B exclusive), e.g. 0..200.
        #[arg(long, value_parser = partsim::sweep::parse_seeds)]
        seeds: std::ops::Range<u64>,
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
    },
    /// Run a scenario twice in-process and compare the traces (exit 0 identical, 1 not).
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
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
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
        /// Virtual duration (e.g. "600s" to check that memory does not grow with it).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: SimDuration,
    },
    /// The replay UI's loader: generates a trace, then measures open time, seek time and memory.
    Replay {
        /// Events in the generated trace.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    SimDuration::parse(s).map_err(|e| e.to_string())
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
        } => {
            let mut s = load(&scenario)?;
            if let Some(d) = duration {
                s.duration = d;
            }
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
        } => {
            let s = load(&scenario)?;
            let planted = planted(&plant)?;
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let show = std::io::stderr().is_terminal();
            let opts = partsim::sweep::SweepOptions {
                seeds,
                jobs,
                shard,
                planted,
                scenario_path: scenario.display().to_string(),
                progress: if show {
                    Some(Box::new(|done, total, failed| {
                        eprint!("\r  {done}/{total} seeds, {failed} failed ");
                        if done == total {
                            eprintln!();
                        }
                    }))
                } else {
                    None
                },
            };
            let r = partsim::sweep::sweep(&s, &opts);
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
                    "{verdict}  {}: {}/{} seeds held their expectations",
                    r.scenario, r.passed, r.seeds
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
                }
                if r.failures.len() > 10 {
                    println!("  … and {} more failing seeds", r.failures.len() - 10);
                }
                if let Some(cmd) = &r.reproduce {
                    println!("  reproduce  {cmd}");
                }
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
            match r.divergence {
                None => {
                    println!(
                        "deterministic: {} (seed {seed_used}) gave identical traces twice ({} lines, digest {})",
                        s.name, r.lines, r.first
                    );
                    Ok(0)
                }
                Some((line, a, b)) => {
                    println!(
                        "NOT deterministic: {} (seed {seed_used}) diverged at trace line {}",
                        s.name,
                        line + 1
                    );
                    println!("  first run:  {a}");
                    println!("  second run: {b}");
                    println!("  digests {} vs {}", r.first, r.second);
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
        Command::Replay { trace } => replay(&trace),
        Command::Export {
            trace,
            format: ExportFormat::Chrome,
            output,
        } => export(&trace, &output),
        Command::History { trace, format } => history(&trace, format),
        Command::Bench(BenchCommand::Replay { events, json }) => {
            if std::io::stderr().is_terminal() {
                eprintln!("generating a {events}-event trace and indexing it…");
            }
            let r = partsim::tui::bench_replay(events, &std::env::temp_dir())
                .map_err(|e| Failure::usage(e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&r).map_err(|e| Failure::internal(e.to_string()))?
                );
            } else {
                println!("{r}");
            }
            Ok(0)
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
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&r).map_err(|e| Failure::internal(e.to_string()))?
                );
            } else {
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
            }
            Ok(0)
        }
    }
}

fn print_report(r: &RunReport, trace: Option<&Path>) {
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    println!(
        "{verdict}  {} (seed {}, {} virtual{})",
        r.scenario,
        r.seed,
        r.duration,
        if r.halted {
            format!(", stopped at {} by a violation", r.ended_at)
        } else {
            String::new()
        }
    );
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
            if e.held { "✓" } else { "✗" },
            e.what,
            e.detail
        );
    }
    for v in r.violations.iter().take(5) {
        println!("  violation  {} at {}: {}", v.check, v.t, v.detail);
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
        if report.violations.is_empty() {
            println!("  no violations ({})", report.checkers.join(", "));
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
