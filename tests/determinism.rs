//! Same scenario + seed ⇒ byte-identical trace; another seed ⇒ another
//! trace. Checked for every scenario in `scenarios/`, plus
//! `check-determinism`'s own verdict.

mod common;

use partsim::run;
use partsim::stack::planted::Planted;

#[test]
fn every_scenario_is_byte_identical_on_the_same_seed() {
    for file in common::scenario_files() {
        let s = partsim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let (_, a) = common::run_bytes(&s, Some(7), Planted::NONE);
        let (_, b) = common::run_bytes(&s, Some(7), Planted::NONE);
        assert!(a == b, "{}: two runs with seed 7 differ", file.display());
        let (_, c) = common::run_bytes(&s, Some(8), Planted::NONE);
        assert!(
            a != c,
            "{}: seeds 7 and 8 gave the same trace",
            file.display()
        );
    }
}

#[test]
fn check_determinism_passes_for_every_scenario() {
    for file in common::scenario_files() {
        let s = partsim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let r = run::check_determinism(&s, None, Planted::NONE).expect("runs");
        assert!(
            r.divergence.is_none(),
            "{}: {:?}",
            file.display(),
            r.divergence
        );
        assert_eq!(r.first, r.second);
    }
}
