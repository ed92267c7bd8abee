//! The data plane under valid but unkind settings, with no fault at all:
//! links slower than the primary's re-ask interval, heartbeats faster than
//! the round trip, disks slower than the resend interval. Each once left
//! the cluster dark; each must now serve. And `lost_acked_writes` is judged
//! only from what was audited.

mod common;

use partsim::run::RunReport;
use partsim::stack::planted::Planted;

fn metric(r: &RunReport, k: &str) -> u64 {
    r.metrics.get(k).and_then(|v| v.as_u64()).unwrap_or(0)
}

fn expectation<'a>(r: &'a RunReport, prefix: &str) -> &'a partsim::run::ExpectResult {
    r.expectations
        .iter()
        .find(|e| e.what.starts_with(prefix))
        .unwrap_or_else(|| panic!("no expectation {prefix}: {:?}", r.expectations))
}

const CLUSTER: &str = r#"
[cluster]
managers = 3
nodes = 4
clients = 2
zones = ["a", "b"]
[grid]
width = 16
height = 16
tile = [8, 8]
replication_factor = 2
"#;

#[test]
fn reads_complete_when_the_backups_round_trip_exceeds_the_re_ask_interval() {
    // One way 40-70 ms: every confirmation answers a round the primary
    // already re-asked 30 ms later. A read takes the answer to any round
    // from its first one.
    let s = common::scenario(&format!(
        r#"name = "slow-links-reads"
duration = "12s"
{CLUSTER}
[network]
latency = ["40ms", "70ms"]
[workload]
rate = 50
read_ratio = 0.5
cas_ratio = 0.2
start = "1s"
stop = "11s"
[expect]
safety = true
converged_by = "8s"
lost_acked_writes = 0
"#
    ));
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.expectations);
    // Before, every read ended `info` (half the operations, never answered).
    assert!(metric(&report, "ops_ok") > 40, "{:?}", report.metrics);
    assert!(metric(&report, "ops_info") < 5, "{:?}", report.metrics);
}

#[test]
fn heartbeats_faster_than_the_round_trip_do_not_flap_live_nodes() {
    // Heartbeat 1 ms, round trip 2-10 ms: an ack timeout of one interval
    // counted every heartbeat as a leader miss, the node rotated managers
    // and the leader declared live nodes dead over and over.
    let s = common::scenario(&format!(
        r#"name = "tight-timings"
duration = "8s"
{CLUSTER}
[timing]
heartbeat_interval = "1ms"
suspect_after = "7ms"
dead_after = "8ms"
election_timeout = ["11ms", "12ms"]
raft_heartbeat = "5500us"
[network]
latency = ["1ms", "5ms"]
[workload]
rate = 50
start = "1s"
stop = "7s"
[expect]
safety = true
converged_by = "6s"
lost_acked_writes = 0
"#
    ));
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.expectations);
    assert!(metric(&report, "ops_ok") > 100, "{:?}", report.metrics);
}

#[test]
fn a_slow_disk_does_not_stop_the_data_plane() {
    // Every write and fsync 10-20 ms: resends every 30 ms, each one more
    // snapshot behind the follower's disk, grew its queue without end.
    let s = common::scenario(
        r#"name = "slow-disk"
duration = "15s"
[cluster]
managers = 3
nodes = 6
clients = 4
zones = ["a", "b", "c"]
[grid]
width = 32
height = 32
tile = [8, 8]
replication_factor = 3
[network]
latency = ["1ms", "5ms"]
[disk]
latency = ["10ms", "20ms"]
[workload]
rate = 20
read_ratio = 0.4
cas_ratio = 0.3
start = "1s"
stop = "14s"
[expect]
safety = true
converged_by = "10s"
lost_acked_writes = 0
"#,
    );
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    assert!(report.passed, "{:?}", report.expectations);
    assert!(metric(&report, "ops_ok") > 100, "{:?}", report.metrics);
}

#[test]
fn writes_on_disks_lost_for_good_count_lost_though_no_node_reports() {
    // Every data node loses its disk at 5 s and never returns: no node
    // reports at the end, yet every copy of the writes acknowledged
    // before is gone.
    let s = common::scenario(&format!(
        r#"name = "every-disk-lost"
duration = "8s"
{CLUSTER}
[workload]
rate = 50
start = "1s"
stop = "7s"
[[events]]
at = "5s"
disk_loss = "n1"
[[events]]
at = "5s"
disk_loss = "n2"
[[events]]
at = "5s"
disk_loss = "n3"
[[events]]
at = "5s"
disk_loss = "n4"
[expect]
lost_acked_writes = 0
"#
    ));
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    let lost = metric(&report, "lost_acked_writes");
    assert!(lost > 0, "{:?}", report.metrics);
    assert_eq!(
        lost,
        metric(&report, "acked_writes"),
        "every write was lost"
    );
    let e = expectation(&report, "lost_acked_writes");
    assert!(e.judged && !e.held, "{e:?}");
}

#[test]
fn writes_whose_holders_are_down_at_the_end_are_not_judged() {
    // Every data node is down at the end, disks intact: nothing was
    // audited, so `lost_acked_writes = 0` is neither held nor failed.
    let s = common::scenario(&format!(
        r#"name = "every-holder-down"
duration = "8s"
{CLUSTER}
[workload]
rate = 50
start = "1s"
stop = "7s"
[[events]]
at = "6s"
crash = "n1"
[[events]]
at = "6s"
crash = "n2"
[[events]]
at = "6s"
crash = "n3"
[[events]]
at = "6s"
crash = "n4"
[expect]
lost_acked_writes = 0
"#
    ));
    let (report, _) = common::run_bytes(&s, None, Planted::NONE);
    assert_eq!(metric(&report, "lost_acked_writes"), 0);
    assert!(metric(&report, "durability_unjudged_writes") > 0);
    let e = expectation(&report, "lost_acked_writes");
    assert!(!e.judged && !e.held, "{e:?}");
    assert!(e.detail.starts_with("not judged"), "{e:?}");
}
