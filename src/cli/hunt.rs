//! `hunt` and `shrink`: searching configurations for a failure, and
//! cutting a failing run down to a minimal scenario file.

use std::io::IsTerminal;
use std::path::Path;

use partsim::scenario::Scenario;
use partsim::stack::planted::Planted;

use crate::Failure;

/// How a minimal scenario file written by `shrink` or `hunt` begins.
const MINIMAL_PREFIX: &str = "# Minimal scenario:";

/// May the minimal scenario be written to `output`? Not over one of the
/// command's `inputs`, and over an existing file only if it is empty or a
/// minimal scenario written before (checked before the search, so a
/// refusal costs nothing).
fn check_minimal_output(output: Option<&Path>, inputs: &[&Path]) -> Result<(), Failure> {
    let Some(path) = output else { return Ok(()) };
    partsim::output::check_output(path, inputs, true).map_err(|e| Failure::usage(e.to_string()))?;
    if !path.is_file() {
        return Ok(());
    }
    let head = std::fs::read(path).unwrap_or_default();
    if head.is_empty() || head.starts_with(MINIMAL_PREFIX.as_bytes()) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{}: exists and is not a minimal scenario partsim wrote; refusing to overwrite it (choose another output file, or remove it)",
        path.display()
    )))
}

/// Shrinks a failing run and writes (or prints) the minimal scenario.
pub(crate) fn shrink_and_write(
    s: &Scenario,
    source: &str,
    seed: u64,
    planted: Planted,
    output: Option<&Path>,
) -> Result<u8, Failure> {
    // `source` is the scenario's path for `shrink` (a description for `hunt`).
    check_minimal_output(output, &[Path::new(source)])?;
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
    let file = partsim::shrink::minimal_file(&r, source, seed);
    match output {
        Some(path) => {
            std::fs::write(path, &file)
                .map_err(|e| Failure::usage(format!("{}: cannot write: {e}", path.display())))?;
            let mut cmd = format!("partsim run {}", path.display());
            for b in r.planted.names() {
                cmd.push_str(&format!(" --plant {b}"));
            }
            println!("  wrote    {}\n  reproduce  {cmd}", path.display());
        }
        None => print!("\n{file}"),
    }
    Ok(1)
}

pub(crate) fn hunt(
    mut opts: partsim::hunt::HuntOptions,
    output: Option<&Path>,
    no_shrink: bool,
) -> Result<u8, Failure> {
    check_minimal_output(output, &[])?;
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
    for i in &r.cut {
        println!("  cut      run {i}: the budget ran out inside it (not judged)");
    }
    for (i, seed) in &r.undecided {
        println!(
            "  undecided  run {i} (seed {seed}): the linearizability search ran out of its step budget (not judged; `partsim run` reports it as a failure)"
        );
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
            eprintln!(
                "partsim: the budget ended before the first run finished: nothing was tested"
            );
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
    // A catch with a bug planted is the bug's only if the same run without
    // it does not fail that way; otherwise it is a bug of the stack (or a
    // checker) that the planted one happened to meet: say so (the shrinker
    // then shrinks it as such).
    if !planted.is_empty() {
        let correct = partsim::shrink::run_quiet(&f.scenario, f.seed, Planted::NONE);
        let sig = correct
            .as_ref()
            .and_then(partsim::shrink::failure_signature);
        if sig.as_deref() == Some(f.check.as_str()) {
            println!(
                "  warning  the same run fails with {} with no bug planted: this failure is not the planted bug's (reproduce it with `partsim run` and no --plant)",
                f.check
            );
        }
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
