//! A write lost with every disk that held it is counted, not called a
//! violation, even where a finished move handed a copy over before the
//! disks went (DESIGN §4, `durability`).
//!
//! `tests/adversarial/sched-disk-loss-only-in-sync.toml`, seed 12: p1's
//! write at index 74 is acknowledged in epoch 13 on n4 and n3; a move
//! hands n3's copy to n1 (n1 declares itself caught up past it at 8.87 s,
//! n3 drops its copy at 8.92 s); n4 loses its disk at 12 s and n1 at
//! 13.05 s, before n4 (back empty at 13 s) could catch up. Every copy that
//! still held the write was wiped: it is lost to the faults. `durability`
//! once judged only the copies of the acknowledgement (n3's disk was never
//! lost) and called it a violation. Seed 36 is the same on p3.
//!
//! Nothing else is a violation either: a partition started again empty
//! after the loss answers reads and CASes of the cells it lost with a
//! definite `data-lost` failure, never an older value, so the client
//! history stays linearizable (as in `all-replicas-lost`).

mod common;

use partsim::run::{RunOptions, run};
use partsim::stack::planted::Planted;

#[test]
fn writes_lost_with_every_disk_they_were_handed_over_to_are_counted() {
    let rel = "tests/adversarial/sched-disk-loss-only-in-sync.toml";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for seed in [12, 36] {
        let opts = RunOptions {
            seed: Some(seed),
            planted: Planted::NONE,
            scenario_path: Some(rel.to_string()),
            ..RunOptions::default()
        };
        let report = run(&s, opts).expect("the run completes");
        let checks: Vec<&str> = report.violations.iter().map(|v| v.check.as_str()).collect();
        assert!(
            !checks.contains(&"durability"),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(checks.is_empty(), "seed {seed}: {checks:?}");
        let lost = report
            .metrics
            .get("lost_acked_writes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        assert!(lost > 0, "seed {seed}: the loss must be counted");
    }
}
