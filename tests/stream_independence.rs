//! Removing one `[[events]]` entry changes neither the resolved `[random]`
//! schedule nor the operations the workload intends to issue: what keeps a
//! failure stable while a shrinker removes faults.

mod common;

use partsim::scenario::{Origin, Scenario};
use partsim::stack::workload::{Keys, Plan, WorkloadSpec};

const TEXT: &str = r#"
name = "independence"
duration = "60s"
[cluster]
managers = 3
nodes = 6
clients = 3
[workload]
rate = 300
read_ratio = 0.3
keys = "zipf:1.1"
start = "1s"
stop = "50s"
[[events]]
at = "5s"
crash = "n1"
[[events]]
at = "7s"
until = "9s"
partition = [["m1"], ["*"]]
[[events]]
at = "20s"
restart = "n1"
[random]
crash = { every = "5s", down = ["1s", "3s"] }
partition = { every = "8s", lasts = ["1s", "2s"] }
pause = { every = "10s", down = ["100ms", "1s"] }
heal_at = "45s"
"#;

fn random_steps(s: &Scenario, seed: u64) -> Vec<String> {
    s.resolve_schedule(seed)
        .into_iter()
        .filter(|x| x.origin == Origin::Random)
        .map(|x| format!("{} {:?}", x.at, x.step))
        .collect()
}

fn plans(s: &Scenario, seed: u64) -> Vec<Vec<String>> {
    let w = s.workload.as_ref().expect("workload");
    let spec = WorkloadSpec {
        rate: w.rate,
        read_ratio: w.read_ratio,
        cas_ratio: w.cas_ratio,
        timeout: w.timeout,
        keys: match w.keys {
            partsim::scenario::KeyDist::Uniform => Keys::Uniform,
            partsim::scenario::KeyDist::Zipf(x) => Keys::Zipf(x),
        },
        start: w.start,
        stop: w.stop,
        clients: s.cluster.clients,
        cells: u64::from(s.grid.width) * u64::from(s.grid.height),
    };
    (1..=s.cluster.clients)
        .map(|c| {
            Plan::new(seed, c, &spec)
                .map(|(t, op)| format!("{t} {op:?}"))
                .collect()
        })
        .collect()
}

#[test]
fn removing_an_event_changes_neither_random_faults_nor_workload() {
    let full = common::scenario(TEXT);
    for seed in [1, 7, 42] {
        let base_random = random_steps(&full, seed);
        let base_plans = plans(&full, seed);
        assert!(
            base_random.len() >= 6,
            "the test needs random faults to compare"
        );
        assert!(base_plans.iter().all(|p| p.len() > 1000));
        for removed in 0..full.events.len() {
            let mut smaller = full.clone();
            smaller.events.remove(removed);
            assert_eq!(
                random_steps(&smaller, seed),
                base_random,
                "seed {seed}, without event {removed}"
            );
            assert_eq!(
                plans(&smaller, seed),
                base_plans,
                "seed {seed}, without event {removed}"
            );
        }
    }
}

#[test]
fn another_seed_draws_another_schedule() {
    let s = common::scenario(TEXT);
    assert_ne!(random_steps(&s, 1), random_steps(&s, 2));
    assert_ne!(plans(&s, 1), plans(&s, 2));
}

const JOIN: &str = r#"
name = "late-join"
duration = "12s"
[cluster]
managers = 3
nodes = 4
clients = 2
[grid]
replication_factor = 2
[workload]
rate = 200
start = "500ms"
stop = "11s"
[[events]]
at = "8s"
join = "n5"
"#;

/// The trace's event lines before `before_us` (the header, which lists
/// the processes, left out).
fn lines_before(s: &Scenario, seed: u64, before_us: u64) -> Vec<String> {
    let (_, bytes) = common::run_bytes(s, Some(seed), partsim::stack::planted::Planted::NONE);
    String::from_utf8(bytes)
        .expect("utf-8 trace")
        .lines()
        .skip(1)
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["t"].as_u64())
                .is_some_and(|t| t < before_us)
        })
        .map(str::to_string)
        .collect()
}

/// A node that joins later is seen by no one before it starts: without its
/// `join` the run up to the join's time is the same, event for event (what
/// lets the shrinker drop a join past the cut). Clients used to rotate
/// through every node of the configuration, the later one included.
#[test]
fn removing_a_later_join_leaves_the_run_before_it_unchanged() {
    let with = common::scenario(JOIN);
    let mut without = with.clone();
    without.events.clear();
    for seed in [1, 2, 3] {
        let a = lines_before(&with, seed, 8_000_000);
        let b = lines_before(&without, seed, 8_000_000);
        assert!(a.len() > 10_000, "seed {seed}: {} events", a.len());
        assert!(a.iter().any(|l| l.contains("\"ev\":\"op\"")));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            first.is_none() && a.len() == b.len(),
            "seed {seed}: the runs part at event {first:?}: {:?} vs {:?}",
            first.map(|i| &a[i]),
            first.map(|i| &b[i])
        );
    }
}
