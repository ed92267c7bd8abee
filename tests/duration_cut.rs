//! `--duration` shorter than the scenario stops the run there: no event past
//! it, the timeline's later steps never fire (and are counted), and the run
//! is a prefix of the full one. (Issue: `--duration 0s`, `1ms` or `8s` ran
//! quickstart to 14 s and printed PASS.)

mod common;

use partsim::run::RunOptions;
use partsim::sim::{SimDuration, SimTime};

#[test]
fn a_shorter_duration_stops_the_run_and_cuts_the_timeline() {
    let (_, s) = common::load_named("quickstart");
    let cut = SimDuration::from_secs(8);
    let (short, short_bytes) = common::run_with(
        &s,
        RunOptions {
            duration: Some(cut),
            ..RunOptions::default()
        },
    );
    let (full, full_bytes) = common::run_with(&s, RunOptions::default());
    assert_eq!(short.ended_at, SimTime::ZERO + cut);
    assert_eq!(short.duration, "8s");
    assert_eq!(short.scenario_duration.as_deref(), Some("20s"));
    assert!(short.steps_cut > 0, "quickstart's partition is at 10 s");
    assert!(!short.faults_by_kind.contains_key("partition"));
    assert!(short.trace_events < full.trace_events);
    assert!(!short.halted);

    // Every event line of the cut run is the full run's, in order.
    let lines = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| l.starts_with("{\"t\":"))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (lines(&short_bytes), lines(&full_bytes));
    assert!(!a.is_empty() && a.len() < b.len());
    assert_eq!(
        a[..],
        b[..a.len()],
        "the cut run is a prefix of the full one"
    );
    let trace = common::run_trace(&s, None).1;
    assert!(trace.events.iter().any(|r| r.t > SimTime::ZERO + cut));
}

#[test]
fn the_cli_stops_at_the_duration_and_says_what_was_cut() {
    let o = common::partsim(&["run", "scenarios/quickstart.toml", "--duration", "8s"]);
    let (out, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 0, "{out}{err}");
    assert!(out.contains("8s virtual of the scenario's 20s"), "{out}");
    assert!(out.contains("never fired"), "{out}");
    assert!(!out.contains("faults     crash ×1, partition"), "{out}");
}
