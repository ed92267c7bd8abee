//! Scenario files (TOML): the model, validation, and the random fault schedule.
//!
//! A scenario file (DESIGN §5) describes a cluster, its protocol knobs, a
//! workload, a timeline of faults (`[[events]]`), optional swarm faults
//! (`[random]`) and the expected verdict (`[expect]`).
//!
//! ```text
//!   text ──toml──> raw.rs (spanned serde structs) ──validate/────> model.rs (Scenario)
//!                                                                     │
//!                         schedule.rs: resolve_schedule(seed) <───────┘──> write.rs: to_toml()
//! ```
//!
//! - [`load`] / [`parse`] read and check a file. Everything is checked
//!   before anything runs, and the first mistake comes back as a
//!   [`ScenarioError`] that displays as `FILE:LINE:COL: KEY: MESSAGE`.
//!   No input makes them panic.
//! - [`Scenario`] is plain data with public fields (the runner reads it; the
//!   shrinker edits it) and serializes to readable JSON for trace headers.
//! - [`Scenario::resolve_schedule`] merges `[[events]]` with the seeded
//!   expansion of `[random]` into one sorted timeline of begin/end steps.
//! - [`Scenario::to_toml`] writes a scenario back as a file.

mod cost;
mod error;
mod limits;
mod model;
mod raw;
mod schedule;
mod validate;
mod write;

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use toml::de::DeTable;

pub use cost::{MAX_IMPOSTORS, MAX_MAP_ENTRIES, MAX_PERIODIC_RATE, MIN_PERIOD};
pub use error::ScenarioError;
pub use limits::{
    MANAGER_COUNTS, MAX_CLIENTS, MAX_DURATION, MAX_EVENTS, MAX_GRID_SIDE, MAX_ID_LEN, MAX_MANAGERS,
    MAX_NAME_BYTES, MAX_NODES, MAX_PARTITIONS, MAX_RANDOM_FAULTS, MAX_RATE, duration_refusal,
    name_refusal,
};
pub use model::{
    Action, Cluster, DiskConfig, EventSpec, Expect, Grid, KeyDist, LostBound, Managers, Network,
    PauseMode, Placement, PlacementPolicyName, RandomClock, RandomFault, RandomSpec, Scenario,
    StackKind, Target, Timing, Workload, format_offset,
};
pub use schedule::{DrawnFault, Origin, RANDOM_WARMUP, Scheduled, Step, format_schedule};

use error::SourceMap;
use raw::RawScenario;

/// Largest scenario file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Reads and validates the scenario file at `path`. A file that cannot be
/// read is a [`ScenarioError`] too (key `file`, no position: line 0).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let unreadable = |message: String| ScenarioError {
        file: file.clone(),
        line: 0,
        col: 0,
        key: "file".to_string(),
        message,
    };
    // Read at most one byte past the limit, so that neither a huge file nor
    // an endless one (a FIFO, /dev/zero) is read whole.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            unreadable(match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::IsADirectory => "is a directory, not a scenario file".into(),
                _ => format!("cannot read the scenario: {e}"),
            })
        })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(unreadable(format!(
            "the scenario is larger than the limit of {MAX_FILE_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(format!(
            "the scenario is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, &file)
}

/// Parses and validates scenario `text`; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let src = SourceMap::new(file, text);
    if text.len() > MAX_FILE_BYTES {
        return Err(src.error(
            0..0,
            "file",
            format!("the scenario is larger than the limit of {MAX_FILE_BYTES} bytes"),
        ));
    }
    let (root, errors) = DeTable::parse_recoverable(text);
    if let Some(first) = errors
        .iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start))
    {
        return Err(src.syntax_error(first, root.get_ref()));
    }
    let raw = RawScenario::deserialize(toml::de::Deserializer::from(root.clone()))
        .map_err(|e| src.toml_error(&e, root.get_ref()))?;
    validate::build(&raw, &src)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::time::{SimDuration, SimTime};

    /// The example of DESIGN §5, verbatim.
    const DESIGN_EXAMPLE: &str = r#"name = "node-crash"
description = "A data node crashes under load and comes back."
seed = 42                  # default seed; --seed overrides
duration = "60s"

[cluster]
managers = 3               # m1..m3
nodes = 6                  # n1..n6
clients = 2                # c1..c2
zones = ["a", "b", "c"]    # assigned round-robin to nodes
cluster_key = "secret"     # for authentication; a default is fine

[grid]
width = 64
height = 64
tile = [16, 16]            # -> 16 partitions
replication_factor = 3

[placement]
policy = "rendezvous-bounded"   # or "least-loaded"
max_imbalance = 0.25
max_concurrent_moves = 4

[timing]                   # all optional, with defaults
heartbeat_interval = "100ms"
suspect_after = "500ms"
dead_after = "1s"
election_timeout = ["300ms", "600ms"]
raft_heartbeat = "50ms"

[network]
latency = ["1ms", "5ms"]
drop = 0.0
duplicate = 0.0

[workload]
rate = 200                 # operations per second, over all clients
read_ratio = 0.5
keys = "uniform"           # or "zipf:1.1"
start = "1s"
stop = "50s"

[[events]]                 # the fault and admin timeline
at = "10s"
crash = "n3"

[[events]]
at = "20s"
restart = "n3"

[[events]]
at = "15s"
until = "25s"
partition = [["m1", "n1", "n2"], ["m2", "m3", "n3", "n4", "n5", "n6"]]

[random]                   # optional swarm faults, drawn from the `faults` stream
crash = { every = "8s", down = ["1s", "5s"] }
partition = { every = "12s", lasts = ["1s", "4s"] }
heal_at = "45s"            # no random fault after this

[expect]
safety = true              # every safety checker holds
converged_by = "55s"       # liveness deadline
lost_acked_writes = 0
# violations = ["linearizable"]  # for scenarios that must fail
"#;

    fn s(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000)
    }
    fn d(text: &str) -> SimDuration {
        SimDuration::parse(text).unwrap()
    }
    fn id(x: &str) -> Target {
        Target::Id(x.to_string())
    }
    /// A valid scenario prefix with 3 managers, 6 nodes, 2 clients, 16 partitions.
    const HEAD: &str = "name = \"t\"\nduration = \"60s\"\n[cluster]\nnodes = 6\nclients = 2\nzones = [\"a\", \"b\"]\n";

    fn parse_ok(text: &str) -> Scenario {
        parse(text, "t.toml").unwrap_or_else(|e| panic!("should parse: {e}\n{text}"))
    }
    fn parse_err(text: &str) -> ScenarioError {
        match parse(text, "t.toml") {
            Ok(_) => panic!("should be rejected:\n{text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn design_example_parses() {
        let sc = parse_ok(DESIGN_EXAMPLE);
        assert_eq!(sc.name, "node-crash");
        assert_eq!(sc.seed, 42);
        assert_eq!(sc.duration, d("60s"));
        assert_eq!(sc.cluster.managers, 3);
        assert_eq!(sc.cluster.nodes, 6);
        assert_eq!(sc.cluster.clients, 2);
        assert_eq!(sc.cluster.zones, ["a", "b", "c"]);
        assert_eq!(sc.cluster.cluster_key, "secret");
        assert_eq!(sc.grid.partition_count(), 16);
        assert_eq!(sc.placement.policy, PlacementPolicyName::RendezvousBounded);
        assert_eq!(sc.timing, Timing::default());
        assert_eq!(sc.network, Network::default());
        let w = sc.workload.as_ref().unwrap();
        assert_eq!(
            (w.rate, w.read_ratio, w.keys, w.start, w.stop),
            (200.0, 0.5, KeyDist::Uniform, s(1), s(50))
        );
        assert_eq!(sc.events.len(), 3);
        assert_eq!(
            sc.events[0],
            EventSpec {
                at: s(10),
                until: None,
                action: Action::Crash(id("n3")),
                line: 43
            }
        );
        assert_eq!(sc.events[1].action, Action::Restart(id("n3")));
        assert_eq!(sc.events[2].until, Some(s(25)));
        assert_eq!(sc.events[2].line, 51);
        let Action::Partition(groups) = &sc.events[2].action else {
            panic!()
        };
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].len(), 6);
        let r = sc.random.as_ref().unwrap();
        assert_eq!(
            r.crash,
            Some(RandomFault {
                every: d("8s"),
                lasts: [d("1s"), d("5s")]
            })
        );
        assert_eq!(
            r.partition,
            Some(RandomFault {
                every: d("12s"),
                lasts: [d("1s"), d("4s")]
            })
        );
        assert_eq!((r.pause.is_none(), r.heal_at), (true, Some(s(45))));
        assert_eq!(sc.expect.converged_by, Some(s(55)));
        assert_eq!(sc.expect.lost_acked_writes, Some(LostBound::Exact(0)));
        assert!(sc.expect.safety && sc.expect.violations.is_empty());
        assert_eq!(
            sc.initial_processes().join(" "),
            "m1 m2 m3 n1 n2 n3 n4 n5 n6 c1 c2"
        );
        assert!(sc.later_processes().is_empty());

        // The timeline: the three events, then random faults ending by heal_at.
        let sched = sc.resolve_schedule(sc.seed);
        let from_events: Vec<&Scheduled> = sched
            .iter()
            .filter(|x| x.origin != Origin::Random)
            .collect();
        assert_eq!(from_events.len(), 4);
        assert!(sched.iter().any(|x| x.origin == Origin::Random));
        assert!(
            sched
                .iter()
                .all(|x| x.at <= s(45) || x.origin != Origin::Random)
        );
        assert!(
            format_schedule(&sched)
                .contains("      10.000s  begin #1 crash n3   (events[0], line 43)\n")
        );
    }

    #[test]
    fn minimal_file_takes_every_default() {
        let sc = parse_ok("name = \"idle\"\nduration = \"5s\"\n");
        let mut expected = Scenario::new("idle", d("5s"));
        expected.seed = 0;
        assert_eq!(sc, expected);
        assert_eq!(sc.cluster.zones, ["a"]);
        assert_eq!(sc.cluster.cluster_key, "partsim-default-key");
        assert_eq!(
            (
                sc.grid.width,
                sc.grid.height,
                sc.grid.tile,
                sc.grid.replication_factor
            ),
            (16, 16, [4, 4], 3)
        );
        assert_eq!(sc.placement.max_imbalance, 0.25);
        assert_eq!(sc.timing.election_timeout, [d("300ms"), d("600ms")]);
        assert_eq!(sc.network.pause_messages, PauseMode::Delay);
        assert!(!sc.disk.torn_writes);
        assert!(sc.resolve_schedule(1).is_empty());
    }

    #[test]
    fn workload_defaults_and_extensions() {
        let sc = parse_ok(&format!(
            "{HEAD}[workload]\nrate = 50.5\nkeys = \"zipf:1.1\"\n[network]\nreorder = 0.1\npause_messages = \"drop\"\n[disk]\ntorn_writes = true\n[placement]\npolicy = \"least-loaded\"\n[expect]\nleader_elected_by = \"3s\"\nviolations = [\"placement\", \"auth\"]\nsafety = false\n"
        ));
        let w = sc.workload.unwrap();
        assert_eq!(
            (w.rate, w.read_ratio, w.keys, w.start, w.stop),
            (50.5, 0.5, KeyDist::Zipf(1.1), s(1), s(60))
        );
        assert_eq!(
            (sc.network.reorder, sc.network.pause_messages),
            (0.1, PauseMode::Drop)
        );
        assert!(sc.disk.torn_writes);
        assert_eq!(sc.placement.policy, PlacementPolicyName::LeastLoaded);
        assert_eq!(sc.expect.leader_elected_by, Some(s(3)));
        assert_eq!(sc.expect.violations, ["placement", "auth"]);
        assert!(!sc.expect.safety);
    }

    const EVERY_ACTION: &str = r#"
[[events]]
at = "1s"
until = "2s"
crash = "n1"
[[events]]
at = "3s"
restart = "leader"
[[events]]
at = "4s"
until = "5s"
pause = "primary:15"
[[events]]
at = "6s"
partition = [["m1", "n1"], ["*"]]
[[events]]
at = "7s"
until = "8s"
one_way = { from = "any-manager", to = "*" }
[[events]]
at = "9s"
isolate = "any-node"
[[events]]
at = "10s"
until = "11s"
link = { from = "n1", to = "n2", latency = ["50ms", "80ms"], drop = 0.3 }
[[events]]
at = "12s"
clock = "n1"
offset = "-2s"
[[events]]
at = "13s"
until = "14s"
clock = "m2"
drift = 0.1
offset = "+150ms"
[[events]]
at = "15s"
disk_loss = "n2"
[[events]]
at = "16s"
heal = true
[[events]]
at = "17s"
join = "n7"
zone = "b"
capacity = 2
[[events]]
at = "18s"
leave = "n7"
[[events]]
at = "19s"
impostor = "n9"
[[events]]
at = "20s"
one_way = { from = "*", to = "c1" }
[[events]]
at = "21s"
crash = "n9"
[[events]]
at = "22s"
join = "n8"
"#;

    #[test]
    fn every_action_and_selector_parses() {
        let sc = parse_ok(&format!("{HEAD}{EVERY_ACTION}"));
        let actions: Vec<&Action> = sc.events.iter().map(|e| &e.action).collect();
        let expected = vec![
            Action::Crash(id("n1")),
            Action::Restart(Target::Leader),
            Action::Pause(Target::Primary(15)),
            Action::Partition(vec![vec!["m1".into(), "n1".into()], vec!["*".into()]]),
            Action::OneWay {
                from: Target::AnyManager,
                to: id("*"),
            },
            Action::Isolate(Target::AnyNode),
            Action::Link {
                from: id("n1"),
                to: id("n2"),
                latency: Some([d("50ms"), d("80ms")]),
                drop: Some(0.3),
                duplicate: None,
            },
            Action::Clock {
                target: id("n1"),
                offset_us: -2_000_000,
                drift: 0.0,
            },
            Action::Clock {
                target: id("m2"),
                offset_us: 150_000,
                drift: 0.1,
            },
            Action::DiskLoss(id("n2")),
            Action::Heal,
            Action::Join {
                id: "n7".into(),
                zone: Some("b".into()),
                capacity: Some(2),
            },
            Action::Leave(id("n7")),
            Action::Impostor("n9".into()),
            Action::OneWay {
                from: id("*"),
                to: id("c1"),
            },
            Action::Crash(id("n9")),
            Action::Join {
                id: "n8".into(),
                zone: None,
                capacity: None,
            },
        ];
        assert_eq!(actions, expected.iter().collect::<Vec<_>>());
        assert_eq!(sc.later_processes(), ["n7", "n9", "n8"]);
        assert_eq!(sc.events[0].line, 8);

        // Begin/End pairing: one Begin per event, one End per `until`.
        let sched = sc.resolve_schedule(0);
        let ends = sc.events.iter().filter(|e| e.until.is_some()).count();
        assert_eq!(sched.len(), sc.events.len() + ends);
        let crash_end = sched.iter().find(|x| !x.step.is_begin()).unwrap();
        assert_eq!(
            (crash_end.at, crash_end.fault, crash_end.step.action()),
            (s(2), 1, &Action::Crash(id("n1")))
        );
    }

    #[test]
    fn serializes_to_readable_json() {
        let sc = parse_ok(&format!("{HEAD}{EVERY_ACTION}"));
        let json = serde_json::to_string(&sc).unwrap();
        for needle in [
            r#""action":{"crash":"n1"}"#,
            r#"{"pause":"primary:15"}"#,
            r#"{"one_way":{"from":"any-manager","to":"*"}}"#,
            r#""action":"heal""#,
            r#""latency":["1ms","5ms"]"#,
            r#""policy":"rendezvous-bounded""#,
            r#""pause_messages":"delay""#,
        ] {
            assert!(json.contains(needle), "{needle} not in {json}");
        }
    }

    #[test]
    fn to_toml_round_trips() {
        let with_lines_cleared = |mut sc: Scenario| {
            for e in &mut sc.events {
                e.line = 0;
            }
            sc
        };
        for text in [DESIGN_EXAMPLE.to_string(), format!("{HEAD}{EVERY_ACTION}")] {
            let sc = parse_ok(&text);
            let written = sc.to_toml();
            let again = parse_ok(&written);
            assert_eq!(
                with_lines_cleared(again.clone()),
                with_lines_cleared(sc.clone()),
                "{written}"
            );
            assert_eq!(again.config_digest(), sc.config_digest());
        }
        // Microsecond-precise times survive (Display would round them).
        let mut sc = parse_ok(HEAD);
        sc.events.push(EventSpec {
            at: SimTime(1_500_250),
            until: None,
            action: Action::Heal,
            line: 0,
        });
        sc.random = Some(RandomSpec {
            clock: Some(RandomClock {
                every: d("5s"),
                lasts: [d("1s"), d("2s")],
                max_offset: d("1.5s"),
                max_drift: 0.01,
            }),
            ..RandomSpec::default()
        });
        sc.seed = u64::MAX;
        assert_eq!(with_lines_cleared(parse_ok(&sc.to_toml())), sc);
        assert!(sc.to_toml().contains("seed = \"18446744073709551615\"\n"));
    }

    #[test]
    fn config_digest_is_stable_and_sensitive() {
        let a = parse_ok(DESIGN_EXAMPLE);
        let shifted = parse_ok(&format!(
            "# a comment that moves every line\n\n{DESIGN_EXAMPLE}"
        ));
        assert_eq!(a.config_digest(), shifted.config_digest());
        let mut b = a.clone();
        b.seed = 43;
        assert_ne!(a.config_digest(), b.config_digest());
        let mut c = a.clone();
        c.events.pop();
        assert_ne!(a.config_digest(), c.config_digest());
        assert_eq!(format!("{:016x}", a.config_digest()).len(), 16);
    }

    #[test]
    fn errors_name_position_and_key() {
        let cases: &[(&str, &str, usize, usize)] = &[
            (
                "name = \"x\"\nduration = \"1s\"\nbogus = 1\n",
                "bogus",
                3,
                1,
            ),
            ("duration = \"1s\"\n", "name", 1, 1),
            ("name = \"x\"\n", "duration", 1, 1),
            (
                "name = \"x\"\nduration = \"1 fortnight\"\n",
                "duration",
                2,
                12,
            ),
            ("name = \"x\"\nduration = 60\n", "duration", 2, 12),
            (
                "name = \"x\"\nduration = \"1s\"\n[grid]\ntile = [4, 4, 4]\n",
                "grid.tile",
                4,
                8,
            ),
            (
                "name = \"x\"\nduration = \"1s\"\n[cluster]\nmanagers = \"3\"\n",
                "cluster.managers",
                4,
                12,
            ),
            (
                "name = \"x\"\nduration = \"1s\"\n[cluster]\nmanagers = 9\n",
                "cluster.managers",
                4,
                12,
            ),
            (
                "name = \"x\"\nduration = \"1s\"\n[[events]]\nat = \"1s\"\nheal = true\nnope = 1\n",
                "events[0].nope",
                6,
                1,
            ),
            (
                "name = \"x\"\nduration = \"1s\"\n[[events]]\nat = \"1s\"\n",
                "events[0]",
                3,
                1,
            ),
            (
                "name = \"x\"\nduration = \"1s\"\n[[events]]\nheal = true\n",
                "events[0].at",
                3,
                1,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\ncrash = \"n1\"\nisolate = \"n2\"\n",
                "events[0].isolate",
                6,
                11,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\npause = \"n1\"\n",
                "events[0].until",
                3,
                1,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"5s\"\nuntil = \"5s\"\ncrash = \"n1\"\n",
                "events[0].until",
                5,
                9,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"10s\"\ncrash = \"n1\"\n",
                "events[0].at",
                4,
                6,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\ncrash = \"n4\"\n",
                "events[0].crash",
                5,
                9,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\ncrash = \"primary:16\"\n",
                "events[0].crash",
                5,
                9,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\npartition = [[\"n1\"], [\"n1\"]]\n",
                "events[0].partition[1][0]",
                5,
                23,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[[events]]\nat = \"1s\"\njoin = \"n5\"\n",
                "events[0].join",
                5,
                8,
            ),
            ("name = \"x = 1\n", "name", 1, 14),
            ("name = \"x\"\n[grid\nwidth = 3\n", "toml", 2, 6),
            (
                "name = \"x\"\nduration = \"9s\"\n[random]\ncrash = { every = \"0s\", down = [\"1s\", \"2s\"] }\n",
                "random.crash.every",
                4,
                19,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[expect]\nviolations = [\"bogus\"]\n",
                "expect.violations[0]",
                4,
                15,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[expect]\nlost_acked_writes = \"some\"\n",
                "expect.lost_acked_writes",
                4,
                21,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[expect]\nlost_acked_writes = \"<0\"\n",
                "expect.lost_acked_writes",
                4,
                21,
            ),
            (
                "name = \"x\"\nduration = \"9s\"\n[expect]\nlost_acked_writes = -1\n",
                "expect.lost_acked_writes",
                4,
                21,
            ),
        ];
        for (text, key, line, col) in cases {
            let e = parse_err(text);
            assert_eq!(
                (e.key.as_str(), e.line, e.col),
                (*key, *line, *col),
                "{e}\n---\n{text}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("t.toml:{line}:{col}: {key}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn lost_acked_writes_takes_a_count_or_a_bound() {
        let cases: &[(&str, LostBound)] = &[
            ("7", LostBound::Exact(7)),
            ("\"7\"", LostBound::Exact(7)),
            ("\">0\"", LostBound::AtLeast(1)),
            ("\" >= 10 \"", LostBound::AtLeast(10)),
            ("\"<5\"", LostBound::AtMost(4)),
            ("\"<=0\"", LostBound::AtMost(0)),
        ];
        for (value, want) in cases {
            let text = format!("{HEAD}[expect]\nlost_acked_writes = {value}\n");
            let sc = parse_ok(&text);
            assert_eq!(sc.expect.lost_acked_writes, Some(*want), "{value}");
            // Written back, it reads the same.
            let again = parse_ok(&sc.to_toml());
            assert_eq!(again.expect.lost_acked_writes, Some(*want), "{value}");
        }
        let b = LostBound::AtLeast(1);
        assert!(!b.allows(0) && b.allows(1) && b.allows(u64::MAX));
        let b = LostBound::AtMost(4);
        assert!(b.allows(0) && b.allows(4) && !b.allows(5));
        assert!(LostBound::Exact(3).allows(3) && !LostBound::Exact(3).allows(4));
    }

    #[test]
    fn load_reports_unreadable_files() {
        let e = load(Path::new("/nonexistent/partsim/scenario.toml")).unwrap_err();
        assert_eq!((e.line, e.col, e.key.as_str()), (0, 0, "file"));
        assert_eq!(
            e.to_string(),
            "/nonexistent/partsim/scenario.toml: no such file"
        );
    }

    #[test]
    fn never_panics_on_mangled_input() {
        // Every prefix, and every single-character substitution from a set of
        // troublemakers, of a file that exercises every section.
        let text = format!("{DESIGN_EXAMPLE}{EVERY_ACTION}");
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let _ = parse(&text[..end], "p.toml");
        }
        let bytes: Vec<char> = text.chars().collect();
        for i in (0..bytes.len()).step_by(3) {
            for c in ['"', '[', ']', '=', '0', '-', 'x', '\n', '{', 'é'] {
                let mut mangled = bytes.clone();
                mangled[i] = c;
                let mangled: String = mangled.into_iter().collect();
                if let Err(e) = parse(&mangled, "p.toml") {
                    assert!(
                        e.line >= 1 && e.col >= 1 && !e.key.is_empty() && !e.message.is_empty(),
                        "{e:?}"
                    );
                }
            }
        }
    }
}
