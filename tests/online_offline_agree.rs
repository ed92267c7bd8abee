//! `partsim check TRACE` reaches the verdicts the run reached, checker by
//! checker, for every scenario in `scenarios/` on its own seed (issue: a
//! planted-bug trace once got a `leader_elected` violation offline that the
//! run, stopped by another violation, never judged).

mod common;

use partsim::stack::planted::Planted;

#[test]
fn offline_verdicts_equal_online_ones_for_every_scenario() {
    let mut differ = Vec::new();
    for file in common::scenario_files() {
        let s = partsim::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) =
            common::offline_agrees_with_online(&file.display().to_string(), &s, None, Planted::NONE)
        {
            differ.push(e);
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
