//! The data plane end to end: clients drive real operations through a
//! primary crash, every acknowledged write survives, the history the
//! clients saw is linearizable, and `partsim history` writes that history
//! in Jepsen's shape so that the offline checker reaches the same verdict.

mod common;

use std::collections::BTreeMap;

use partsim::check::lincheck::{Options, Verdict, check_history, parse_history};
use partsim::sim::{DropReason, SimTime};
use partsim::stack::events::{MovePhase, OpF, OpType, StackEvent};
use partsim::stack::planted::Planted;
use partsim::trace::history::{HistoryFormat, read_history, write_history};
use partsim::trace::{Body, TraceFile};

#[test]
fn a_primary_crash_under_load_loses_nothing_and_stays_linearizable() {
    let (_, s) = common::load_named("primary-crash-under-load");
    let (report, bytes) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.expectations);
    let metric = |k: &str| report.metrics.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(metric("acked_writes") > 500, "writes were acknowledged");
    assert!(metric("ops_ok") > 2000, "clients were answered");
    assert_eq!(metric("lost_acked_writes"), 0);
    assert!(
        report.events_by_kind.get("holding").copied().unwrap_or(0) > 0,
        "the nodes reported what they hold"
    );

    // The same history, offline, through the Jepsen-shaped file.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-data-plane-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("run.jsonl");
    std::fs::write(&trace, &bytes).unwrap();
    let (lines, notice) = read_history(&trace).unwrap();
    assert!(notice.is_none());
    for format in [HistoryFormat::Edn, HistoryFormat::Json] {
        let mut text = Vec::new();
        write_history(&mut text, &lines, format).unwrap();
        let history = parse_history(std::str::from_utf8(&text).unwrap()).unwrap();
        let invokes = lines.iter().filter(|l| l.kind == OpType::Invoke).count();
        assert_eq!(history.len(), invokes, "one operation per invocation");
        let verdict = check_history(&history, &Options::default()).verdict;
        assert_eq!(verdict, Verdict::Linearizable, "{format:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn losing_every_copy_is_counted_not_hidden() {
    let (_, s) = common::load_named("all-replicas-lost");
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    let lost = report.metrics["lost_acked_writes"].as_u64().unwrap();
    assert!(lost > 0, "writes acknowledged before the loss are counted");
    assert!(
        report.violations.is_empty(),
        "counted, not a violation; no read pretends: {:?}",
        report.violations
    );
    assert!(report.passed, "[expect] names the count");
}

/// After every copy of a partition is lost, the partition starts again
/// empty and the map records the loss: no read of a cell whose write was
/// acknowledged before the loss returns nil, nor a value written before
/// the loss, as if the cell held it still (before, the re-created
/// partition answered nil for every lost cell and compared
/// compare-and-sets against nil). Such reads fail `data-lost`, definitely;
/// a write defines the cell again, and later reads return it.
#[test]
fn after_every_copy_is_lost_no_read_returns_nil_or_a_lost_value() {
    let (_, s) = common::load_named("all-replicas-lost");
    let (report, trace) = common::run_trace(&s, None);
    let loss = SimTime(10_000_000);
    // Per cell: the values acknowledged (written or set) before the loss,
    // and the values of writes invoked after it.
    let mut before: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut after: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    // Invocations still open, per history process: (f, key, value, at).
    let mut open: BTreeMap<u64, (OpF, u64, Option<u64>, SimTime)> = BTreeMap::new();
    let mut reads_after = Vec::new();
    let mut data_lost = 0;
    for r in &trace.events {
        let Body::App(StackEvent::Op {
            process,
            kind,
            f,
            key,
            value,
            error,
            ..
        }) = &r.body
        else {
            continue;
        };
        if *kind == OpType::Invoke {
            open.insert(*process, (*f, *key, *value, r.t));
            if *f != OpF::Read && r.t >= loss {
                after.entry(*key).or_default().extend(*value);
            }
            continue;
        }
        let Some((f, key, written, at)) = open.remove(process) else {
            continue;
        };
        if *kind == OpType::Fail && error.as_deref() == Some("data-lost") {
            data_lost += 1;
            assert!(at >= loss, "a data-lost answer before the loss");
        }
        match (kind, f) {
            (OpType::Ok, OpF::Write | OpF::Cas) if r.t < loss => {
                before.entry(key).or_default().extend(written);
            }
            (OpType::Ok, OpF::Read) if at >= loss => reads_after.push((key, *value, r.t)),
            _ => {}
        }
    }
    let mut checked = 0;
    for (key, value, t) in reads_after {
        let Some(lost) = before.get(&key) else {
            continue;
        };
        checked += 1;
        let Some(v) = value else {
            panic!("c{key} read nil at {t}: its acknowledged writes {lost:?} were lost");
        };
        let rewritten = after.get(&key).is_some_and(|a| a.contains(&v));
        assert!(
            rewritten,
            "c{key} read {v} at {t}, a value of before the loss (no write since set it)"
        );
    }
    assert!(
        checked > 0,
        "cells written before the loss were read after it"
    );
    assert!(data_lost > 0, "reads of lost cells fail data-lost");
    assert!(report.metrics["lost_acked_writes"].as_u64().unwrap() > 0);
    assert!(
        report.violations.iter().all(|v| v.check != "linearizable"),
        "{:?}",
        report.violations
    );
}

#[test]
fn copies_restarted_just_before_the_end_still_hold_their_writes() {
    // Shrunk by `partsim hunt --seed 0` (run 9): both replicas of p0 crash
    // and restart, the second 7 ms before the end, so neither is in sync
    // again when the run ends. Both still hold every acknowledged write on
    // their disks: nothing was lost, and `durability` must not say so.
    let s = common::scenario(
        r#"
name = "restarted-at-the-end"
seed = "15854147076331909884"
duration = "25s"
[cluster]
managers = 1
nodes = 2
clients = 1
[grid]
width = 16
height = 16
tile = [16, 16]
replication_factor = 2
[timing]
heartbeat_interval = "76ms"
suspect_after = "532ms"
dead_after = "2128ms"
election_timeout = ["186ms", "436ms"]
raft_heartbeat = "37ms"
[network]
latency = ["1ms", "2ms"]
drop = 0.035
duplicate = 0.034
[workload]
rate = 1.0
read_ratio = 0.1
keys = "zipf:1.1"
start = "1s"
stop = "24s"
[[events]]
at = "21753465us"
until = "23357924us"
crash = "n1"
[[events]]
at = "22878191us"
until = "24992932us"
crash = "n2"
"#,
    );
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.metrics["acked_writes"].as_u64().unwrap() > 0);
    assert!(
        report.violations.iter().all(|v| v.check != "durability"),
        "{:?}",
        report.violations
    );
}

#[test]
fn an_install_overtaken_by_entries_does_not_drop_them() {
    // `chaos` seed 101: the primary of p0 resent its epoch-1 install to a
    // follower, then replicated an acknowledged write; the replicate
    // arrived first. Taking the older install afterwards dropped the write
    // on that follower, which later became primary and read c64 as nil.
    let (_, s) = common::load_named("chaos");
    let (report, _) = common::run_bytes(&s, Some(101), Planted::NONE);
    assert!(
        report.violations.is_empty(),
        "{:?}",
        report
            .violations
            .iter()
            .map(|v| &v.detail)
            .collect::<Vec<_>>()
    );
    assert!(report.passed, "{:?}", report.expectations);
    assert_eq!(report.metrics["lost_acked_writes"].as_u64(), Some(0));
}

/// The name of a trace's process.
fn name_of(trace: &TraceFile<StackEvent>, p: partsim::sim::ProcessId) -> &str {
    &trace.header.processes[p.0 as usize]
}

#[test]
fn a_move_completes_only_after_its_new_replica_caught_up() {
    // A node joins under 400 ops/s of mostly writes. The coordinator counts
    // a moved replica in sync only on its node's report, and the node
    // reports it only once it holds its primary's declaration: each move's
    // `in_sync` step comes after the new replica's own `caught_up` event
    // (traced by that node after its move was added), and no declaration
    // came before the replica held every write acknowledged in its epoch
    // (`durability` judges that at each `caught_up` event).
    let (_, s) = common::load_named("move-under-load");
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    let mut added: BTreeMap<(u32, String), SimTime> = BTreeMap::new();
    let mut caught: Vec<(u32, String, SimTime)> = Vec::new();
    let mut moves = 0;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::CaughtUp { partition, .. }) => {
                caught.push((*partition, name_of(&trace, r.p).to_string(), r.t));
            }
            Body::App(StackEvent::Move {
                partition,
                to,
                phase,
                ..
            }) if to != "-" => match phase {
                MovePhase::Added => {
                    added.insert((*partition, to.clone()), r.t);
                }
                MovePhase::InSync => {
                    moves += 1;
                    let since = added
                        .get(&(*partition, to.clone()))
                        .copied()
                        .unwrap_or_else(|| panic!("p{partition} -> {to}: in sync, never added"));
                    assert!(
                        caught
                            .iter()
                            .any(|(p, n, t)| p == partition && n == to && *t >= since),
                        "p{partition} -> {to}: in sync at {} without a catch-up at {to} since {since}",
                        r.t
                    );
                }
                _ => {}
            },
            _ => {}
        }
    }
    assert!(moves > 0, "the join moved replicas");
}

#[test]
fn the_scrub_finds_and_repairs_damage_while_nodes_stay_up() {
    // Records are corrupted as they are written; no node crashes, so no
    // reload ever reads them. Every damaged copy is found by the scrub and
    // rebuilt (a follower by an install from its primary, a primary from
    // the state it serves); a follower serves nothing in between.
    let (_, s) = common::load_named("scrub-repair");
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.metrics["lost_acked_writes"].as_u64(), Some(0));
    assert!(
        !trace
            .events
            .iter()
            .any(|r| matches!(r.body, Body::Crash { .. } | Body::Restart)),
        "every node stays up"
    );
    // (node, partition) -> when the scrub found it damaged, until repaired.
    let mut open: BTreeMap<(String, u32), SimTime> = BTreeMap::new();
    let (mut found, mut repaired) = (0, 0);
    for r in &trace.events {
        let node = name_of(&trace, r.p).to_string();
        match &r.body {
            Body::App(StackEvent::Damaged {
                partition,
                found: how,
            }) => {
                assert_eq!(how, "scrub", "found with the node up");
                found += 1;
                open.insert((node, *partition), r.t);
            }
            Body::App(StackEvent::Repaired { partition, .. })
                if open.remove(&(node.clone(), *partition)).is_some() =>
            {
                repaired += 1;
            }
            Body::App(StackEvent::Served { partition, .. }) => {
                assert!(
                    !open.contains_key(&(node.clone(), *partition)),
                    "{node} served p{partition} from a damaged copy at {}",
                    r.t
                );
            }
            _ => {}
        }
    }
    assert!(found > 0, "the scrub found damage");
    assert!(open.is_empty(), "never repaired: {open:?}");
    assert_eq!(found, repaired);
}

#[test]
fn a_replicate_sent_before_a_restart_never_reaches_the_new_incarnation() {
    // After a restart a follower does not know the epoch it was synced
    // in, so a pre-crash install of that epoch, delivered late, would be
    // taken and could wind its copy back. The schedule tries to make one
    // arrive: n1's messages to n2 take 20–120 ms and are duplicated a
    // third of the time, and n2 restarts under a heavy write load. Every
    // message carries its target's incarnation: those addressed to the
    // crashed one are dropped (`crashed` or `stale`), never delivered to
    // the restarted n2, and nothing acknowledged is lost.
    let s = common::scenario(
        r#"
name = "restart-under-late-replicates"
seed = 4
duration = "20s"
[cluster]
managers = 3
nodes = 3
clients = 2
[grid]
width = 32
height = 32
tile = [16, 16]
replication_factor = 3
[network]
latency = ["1ms", "5ms"]
duplicate = 0.3
[workload]
rate = 300
read_ratio = 0.2
keys = "zipf:1.1"
start = "1s"
stop = "18s"
[[events]]
at = "1s"
link = { from = "n1", to = "n2", latency = ["20ms", "120ms"] }
[[events]]
at = "1s"
link = { from = "n3", to = "n2", latency = ["20ms", "120ms"] }
[[events]]
at = "6s"
until = "6050ms"
crash = "n2"
[[events]]
at = "10s"
until = "10030ms"
crash = "n2"
[expect]
safety = true
converged_by = "19s"
lost_acked_writes = 0
"#,
    );
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    let n2 = common::pid(&trace, "n2");
    let mut sent_at: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut restarted: Option<SimTime> = None;
    let mut crashed: Option<SimTime> = None;
    let mut void = 0;
    for r in &trace.events {
        match &r.body {
            Body::Send { to, id, .. } if *to == n2 => {
                sent_at.entry(*id).or_insert(r.t);
            }
            Body::Crash { .. } if r.p == n2 => crashed = Some(r.t),
            Body::Restart if r.p == n2 => restarted = Some(r.t),
            Body::Deliver { msg, id, .. } if r.p == n2 => {
                // Up again after its last crash: whatever arrives was sent
                // to this incarnation.
                if let (Some(c), Some(sent)) = (crashed, sent_at.get(id)) {
                    assert!(
                        *sent >= c,
                        "{msg} sent at {sent}, before n2 crashed at {c}, delivered at {}",
                        r.t
                    );
                }
            }
            Body::Drop {
                to, msg, reason, ..
            } if *to == n2
                && matches!(msg.as_str(), "Install" | "Replicate")
                && matches!(reason, DropReason::Crashed | DropReason::Stale) =>
            {
                void += 1;
            }
            _ => {}
        }
    }
    assert!(restarted.is_some(), "n2 restarted");
    assert!(void > 0, "replicates were in flight to n2 when it crashed");
}

/// A write whose log position a later epoch gives to another write is
/// still audited. manager-replacement-node-crashes seed 36 once showed it:
/// c575, acknowledged with n1 its only copy, was lost with n1's disk and
/// its index 1 of p11 held another write in epoch 5 from 20 s on, which
/// hid the loss from the end's audit (`lost_acked_writes` said 0). Since
/// data nodes register only with managers that exist, that seed loses
/// nothing (it holds in contract_schedules). `all-replicas-lost` loses
/// every copy of partitions whose logs then start again: every write lost
/// is counted (287; 87 when hidden positions were not audited) and none is
/// a `durability` violation.
#[test]
fn a_write_lost_with_its_only_copy_counts_though_a_later_write_hides_it() {
    let (_, s) = common::load_named("all-replicas-lost");
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    let lost = report.metrics["lost_acked_writes"].as_u64().unwrap();
    // 287 writes acknowledged before the three disks went, at the
    // file's seed (its [expect] asks for any loss: `">0"`).
    assert_eq!(lost, 287, "every write lost with its last copy's disk");
    assert!(lost > 200, "{lost}");
    assert!(
        report.violations.iter().all(|v| v.check != "durability"),
        "every copy's disk was lost: counted, not a violation: {:?}",
        report.violations
    );
}

/// A copy is whole only once its primary's install arrived, not when the
/// last chunk of a bulk transfer did. n1, the only holder of its
/// partitions (replication factor 1), is cut off from every manager from
/// 4 s to 12 s while n3 joins at 4.5 s: the moves to n3 are committed,
/// n3 fetches every chunk from n1 (their link works), but n1 never
/// applies the maps that add n3, so it never installs anything there.
/// n3's copies hold no cells: they must not be traced (nor reported to
/// the managers) complete — a re-seed would then start the partition
/// again from an empty copy and call it the data (manager-replacement-
/// node-crashes seed 36: n4 promoted primary of an empty p11 at epoch 4).
/// Once the cut heals, n1 learns the moves, installs, and they finish.
#[test]
fn a_transfer_without_the_primarys_install_is_not_a_whole_copy() {
    let s = common::scenario(
        r#"
name = "transfer-without-install"
seed = 1
duration = "25s"
[cluster]
managers = 3
nodes = 2
clients = 1
zones = ["a", "b", "c"]
[grid]
width = 32
height = 32
tile = [8, 8]
replication_factor = 1
[network]
latency = ["1ms", "5ms"]
[workload]
rate = 50
read_ratio = 0.3
start = "1s"
stop = "23s"
[[events]]
at = "4s"
until = "12s"
one_way = { from = "m1", to = "n1" }
[[events]]
at = "4s"
until = "12s"
one_way = { from = "m2", to = "n1" }
[[events]]
at = "4s"
until = "12s"
one_way = { from = "m3", to = "n1" }
[[events]]
at = "4500ms"
join = "n3"
[expect]
safety = true
converged_by = "24s"
lost_acked_writes = 0
"#,
    );
    let (report, trace) = common::run_trace(&s, None);
    assert!(report.passed, "{:?}", report.expectations);
    let cut = SimTime(4_000_000);
    // When n1 applied a map again after the cut began: only from then on
    // can it know of n3's copies, and install them.
    let mut n1_learns: Option<SimTime> = None;
    let mut early = Vec::new();
    let mut after = 0;
    for r in &trace.events {
        match &r.body {
            Body::App(StackEvent::Map { .. })
                if name_of(&trace, r.p) == "n1" && r.t > cut && n1_learns.is_none() =>
            {
                n1_learns = Some(r.t);
            }
            Body::App(StackEvent::Replica {
                partition,
                complete: true,
                source: Some(from),
                ..
            }) if name_of(&trace, r.p) == "n3" && from == "n1" => match n1_learns {
                None => early.push((*partition, r.t)),
                Some(_) => after += 1,
            },
            _ => {}
        }
    }
    assert!(
        n1_learns.is_some_and(|t| t >= SimTime(12_000_000)),
        "n1 was cut off from the managers until 12 s: {n1_learns:?}"
    );
    assert!(
        early.is_empty(),
        "n3 called copies complete from chunks alone, before n1 could install them: {early:?}"
    );
    assert!(
        after > 0,
        "the moves from n1 to n3 finished once the cut healed"
    );
}
