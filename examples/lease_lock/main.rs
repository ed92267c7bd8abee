//! `cargo run --example lease_lock -- [SCENARIO] [--seed N] [--trace FILE] [--plant ignore-lease]`
//!
//! Runs the lease-based lock service of `lock.rs` through a partsim scenario
//! (by default `examples/lease_lock/scenario.toml`: crashes and partitions),
//! checks `mutual_exclusion` as it goes, and writes a trace that
//! `partsim replay FILE` opens. Exit code 0: the lock held; 1: two clients
//! were inside at once; 2: bad input.

mod lock;

use std::path::PathBuf;
use std::process::ExitCode;

use lock::Bug;

const DEFAULT_SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/lease_lock/scenario.toml"
);

struct Args {
    scenario: PathBuf,
    seed: Option<u64>,
    trace: Option<PathBuf>,
    bug: Bug,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        scenario: PathBuf::from(DEFAULT_SCENARIO),
        seed: None,
        trace: None,
        bug: Bug::None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seed" => {
                let v = value("--seed")?;
                args.seed = Some(v.parse().map_err(|_| format!("--seed {v}: not a number"))?);
            }
            "--trace" => args.trace = Some(PathBuf::from(value("--trace")?)),
            "--plant" => {
                args.bug = match value("--plant")?.as_str() {
                    "ignore-lease" => Bug::IgnoreLease,
                    other => return Err(format!("--plant {other}: the one bug is ignore-lease")),
                }
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            path => args.scenario = PathBuf::from(path),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match partsim::scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if scenario.cluster.managers != 1 || scenario.cluster.clients != 0 {
        eprintln!(
            "error: {}: the lock service runs one server (managers = 1) and its clients as nodes (clients = 0)",
            args.scenario.display()
        );
        return ExitCode::from(2);
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let out: Option<Box<dyn std::io::Write>> = match &args.trace {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let outcome = match lock::run(&scenario, seed, args.bug, out) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: writing the trace: {e}");
            return ExitCode::from(3);
        }
    };
    println!(
        "{} seed {seed}: {} entries, ended at {}, trace digest {}",
        scenario.name, outcome.entries, outcome.ended_at, outcome.trace_digest
    );
    if let Some(path) = &args.trace {
        println!(
            "trace: {} (partsim replay {})",
            path.display(),
            path.display()
        );
    }
    if outcome.violations.is_empty() {
        println!("mutual_exclusion held");
        ExitCode::SUCCESS
    } else {
        for (t, v) in &outcome.violations {
            println!("violation at {t}: {}: {}", v.check, v.detail);
        }
        let plant = match args.bug {
            Bug::IgnoreLease => " --plant ignore-lease",
            Bug::None => "",
        };
        println!(
            "reproduce: cargo run --example lease_lock -- {} --seed {seed}{plant}",
            args.scenario.display()
        );
        ExitCode::from(1)
    }
}
