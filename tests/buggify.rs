//! The stack's fault points keep it correct: scenarios that pass without
//! them pass with every point switched on often (`[random] buggify`), and
//! the points do fire. A fault point explores legal but rare behaviour; a
//! violation here is a bug of the stack (or a point that is not legal).
//!
//! CI runs it in release: `cargo test --release --locked --test buggify`.

mod common;

use partsim::scenario::RandomSpec;
use partsim::stack::planted::Planted;

#[test]
fn scenarios_pass_with_the_fault_points_on() {
    let mut fired = std::collections::BTreeSet::new();
    let mut reached = std::collections::BTreeSet::new();
    for name in [
        "quickstart",
        "raft-unreliable",
        "primary-crash-under-load",
        "node-crash-recover",
    ] {
        let (_, mut s) = common::load_named(name);
        s.random.get_or_insert_with(RandomSpec::default).buggify = Some(0.2);
        for seed in 0..3 {
            let (r, _) = common::run_bytes(&s, Some(seed), Planted::NONE);
            assert!(
                r.passed,
                "{name} seed {seed} with buggify: {:?} {:?}",
                r.violations.first(),
                r.expectations.iter().find(|e| e.judged && !e.held)
            );
            fired.extend(r.buggified.keys().cloned());
            reached.extend(r.probes.keys().cloned());
        }
    }
    // Most points fire somewhere in these runs (each is switched on for
    // half the runs, then fires with the probability).
    assert!(fired.len() >= 5, "fired: {fired:?}");
    assert!(reached.len() >= 10, "reached: {reached:?}");
}

#[test]
fn a_scenario_without_buggify_draws_nothing_and_changes_nothing() {
    let (_, s) = common::load_named("quickstart");
    let (a, bytes_a) = common::run_bytes(&s, None, Planted::NONE);
    assert!(a.buggified.is_empty());
    // Probes are counted beside the trace: the same run, the same bytes.
    let (b, bytes_b) = common::run_bytes(&s, None, Planted::NONE);
    assert_eq!(bytes_a, bytes_b);
    assert_eq!(a.probes, b.probes);
}
