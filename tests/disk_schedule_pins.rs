//! Seeds of the disk schedules under `tests/adversarial/` that once failed
//! and hold now, run again so that they stay fixed.

mod common;

use common::cli;

/// `sched-data-moves-disk-skew`: seeds 2, 17, 30, 53 and 81 failed
/// `converged` ("listed in sync, not confirmed by the node"). In 2, 17
/// and 81 a primary's copy was found damaged by the scrub and rewritten
/// from the state it serves (`damaged`, then `repaired`), and the checker
/// never counted it as serving again; 30 and 53 moved with the stack.
#[test]
fn data_moves_disk_skew_seeds_that_once_failed_converged_hold() {
    let file = "tests/adversarial/sched-data-moves-disk-skew.toml";
    for seed in [2, 17, 30, 53, 81] {
        let (code, out, err) = cli(&["run", file, "--seed", &seed.to_string()]);
        assert_eq!(code, 0, "seed {seed}: {out}{err}");
    }
}
