//! The snapshot harness: every scenario in `scenarios/` runs on its own seed
//! and its summary is pinned in `snapshots/scenarios__NAME.snap`. A change in
//! protocol behaviour shows up as a reviewable diff (`cargo insta review`).
//! A scenario without a snapshot, or a snapshot without a scenario, fails.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use partsim::run::RunReport;
use partsim::stack::planted::Planted;

fn render(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario       {} (seed {}, {})",
        r.scenario, r.seed, r.duration
    );
    let _ = writeln!(
        s,
        "verdict        {}",
        if r.passed { "pass" } else { "FAIL" }
    );
    let _ = writeln!(s, "config digest  {}", r.config_digest);
    let _ = writeln!(
        s,
        "trace digest   {} ({} events)",
        r.trace_digest, r.trace_events
    );
    let _ = writeln!(
        s,
        "ended at       {}{}",
        r.ended_at,
        if r.halted {
            " (halted by a violation)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "events by kind");
    for (k, n) in &r.events_by_kind {
        let _ = writeln!(s, "  {k:<14} {n}");
    }
    let _ = writeln!(
        s,
        "messages       sent {}, delivered {}, duplicated {}",
        r.messages.sent, r.messages.delivered, r.messages.duplicated
    );
    for (k, n) in &r.messages.dropped {
        let _ = writeln!(s, "  dropped {k:<6} {n}");
    }
    let _ = writeln!(s, "faults applied");
    if r.faults_by_kind.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for (k, n) in &r.faults_by_kind {
        let _ = writeln!(s, "  {k:<14} {n}");
    }
    let _ = writeln!(s, "checkers");
    for c in &r.checks {
        let _ = writeln!(s, "  {:<16} {:<9} {}", c.name, c.kind, c.status());
    }
    for v in &r.violations {
        let _ = writeln!(s, "  violation {} at {}: {}", v.check, v.t, v.detail);
    }
    for sel in &r.selectors {
        let _ = writeln!(s, "selector       {sel}");
    }
    let _ = writeln!(s, "expectations");
    for e in &r.expectations {
        let _ = writeln!(
            s,
            "  {} {}: {}",
            match (e.judged, e.held) {
                (false, _) => "–     ",
                (true, true) => "held  ",
                (true, false) => "FAILED",
            },
            e.what,
            e.detail
        );
    }
    if !r.metrics.is_empty() {
        let _ = writeln!(s, "metrics");
        for (k, v) in &r.metrics {
            let _ = writeln!(s, "  {k} = {v}");
        }
    }
    s
}

fn snapshot_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"))
}

#[test]
fn every_scenario_matches_its_snapshot_and_expectations() {
    let mut failed = Vec::new();
    for file in common::scenario_files() {
        let s = partsim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let stem = file
            .file_stem()
            .and_then(|x| x.to_str())
            .expect("utf-8 file name")
            .to_string();
        let (report, _) = common::run_bytes(&s, None, Planted::NONE);
        if !report.passed {
            failed.push(format!(
                "{stem}: {:?}",
                report
                    .expectations
                    .iter()
                    .filter(|e| !e.held)
                    .collect::<Vec<_>>()
            ));
        }
        let snap = snapshot_dir().join(format!("scenarios__{stem}.snap"));
        if !snap.exists()
            && std::env::var_os("INSTA_UPDATE").is_none()
            && std::env::var_os("CI").is_some()
        {
            panic!(
                "{stem}: no snapshot at {} (run `cargo insta test --accept` and review it)",
                snap.display()
            );
        }
        insta::with_settings!({ snapshot_path => snapshot_dir(), prepend_module_to_snapshot => true, omit_expression => true }, {
            insta::assert_snapshot!(stem.clone(), render(&report));
        });
    }
    assert!(
        failed.is_empty(),
        "scenarios whose [expect] failed on their own seed:\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_snapshot_has_a_scenario() {
    let scenarios: Vec<String> = common::scenario_files()
        .iter()
        .filter_map(|f| f.file_stem().and_then(|x| x.to_str()).map(str::to_string))
        .collect();
    let Ok(entries) = std::fs::read_dir(snapshot_dir()) else {
        return;
    };
    for entry in entries {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name
            .strip_prefix("scenarios__")
            .and_then(|n| n.strip_suffix(".snap"))
        {
            assert!(
                scenarios.iter().any(|s| s == stem),
                "snapshot {name} has no scenario: delete it or restore scenarios/{stem}.toml"
            );
        }
    }
}
