//! The `partsim` command line: parses arguments, calls the library, maps
//! outcomes to exit codes (DESIGN §7): 0 every expectation held, 1 an
//! expectation failed, 2 bad input or usage (nothing ran), 3 internal error.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// The stack allocates as it goes (map copies, trace events, checker
/// state): glibc's malloc and free were a tenth of `bench stack`'s
/// instructions. mimalloc's are cheaper: 7-12 % less wall time on the
/// `bench stack` workloads, traces byte-identical (nothing in a run
/// depends on where a value lives), a few MiB more peak RSS on small runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use partsim::run::{self, RunOptions};
use partsim::scenario::{self, Scenario};
use partsim::stack::planted::Planted;

mod cli;

use cli::args::{BenchCommand, Cli, Command, ExportFormat};
use cli::hunt::{hunt, shrink_and_write};
use cli::report::print_report;
use cli::trace::{check_trace, export, history, replay};

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
            // Writing the trace can fail for reasons outside partsim (a full
            // disk, a closed pipe): the environment's error, exit 2, as
            // `export -o` reports it — not an internal error.
            let report = run::run(&s, opts).map_err(|e| Failure::usage(e.to_string()))?;
            if let Some(warning) = report.workload.as_ref().and_then(|w| w.warning.as_ref()) {
                eprintln!("warning: {warning}");
            }
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
            max_steps,
        } => {
            let timeout = timeout.map(|d| std::time::Duration::from_micros(d.as_micros()));
            let max_steps = (max_steps > 0).then_some(max_steps);
            let verdict = partsim::check::lincheck::check_file(&history, json, timeout, max_steps)
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
