//! The human summary of `partsim run`: verdict, what ran, checks,
//! expectations, violations, and the command that reproduces a failure.

use std::path::Path;

use partsim::run::RunReport;

pub(crate) fn print_report(r: &RunReport, trace: Option<&Path>) {
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
                    format!("{} {}", c.name, c.status())
                } else {
                    format!("{} ✗{}", c.name, c.violations)
                }
            })
            .collect();
        println!("  checks     {}", checks.join(", "));
    }
    if let Some(w) = &r.workload {
        println!(
            "  workload   {} operations/s configured, {} achieved ({} invoked in {})",
            w.configured, w.achieved, w.invoked, w.window
        );
        if let Some(warning) = &w.warning {
            println!("  warning    {warning}");
        }
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
