//! Registering n data nodes costs the leader and the nodes O(n) map
//! messages, not O(n²): while n nodes register, about n batches of `AddNode`
//! commit, and a leader that pushed every batch to every member sent each
//! node a map message per batch — about 90 per node for 2,000 nodes, growing
//! with n. Counted, not timed: the number of map versions the processes
//! apply (`map` events) and of map messages sent, per process, stays under
//! a bound that does not grow with the cluster.

use partsim::run::{RunOptions, run};
use partsim::scenario::parse;

/// `nodes` data nodes registering at once; 2 s of virtual time.
fn registration(nodes: u32) -> partsim::run::RunReport {
    let text = format!(
        "name = \"register-{nodes}\"\n\
         description = \"{nodes} data nodes register at once.\"\n\
         seed = 7\nduration = \"2s\"\n\n\
         [cluster]\nmanagers = 3\nnodes = {nodes}\nzones = [\"a\", \"b\", \"c\"]\n\n\
         [grid]\nwidth = 64\nheight = 64\ntile = [16, 16]\nreplication_factor = 3\n\n\
         [timing]\nheartbeat_interval = \"200ms\"\nsuspect_after = \"1s\"\ndead_after = \"2s\"\n"
    );
    let s = parse(&text, "register.toml").expect("a valid scenario");
    run(&s, RunOptions::default()).expect("the run completes")
}

#[test]
fn map_messages_per_node_do_not_grow_with_the_cluster() {
    for nodes in [2_000u32, 3_000] {
        let r = registration(nodes);
        let processes = u64::from(nodes) + 3;
        let maps = r.events_by_kind.get("map").copied().unwrap_or(0);
        let members = r.events_by_kind.get("member").copied().unwrap_or(0);
        // Most nodes are members by the end (registration is not starved).
        assert!(
            members * 10 >= u64::from(nodes) * 9,
            "{nodes} nodes: only {members} joined"
        );
        // Every batch to every member would be ~90 per node at 2,000.
        assert!(
            maps <= 25 * processes,
            "{nodes} nodes: {maps} map versions applied, {} per process (at most 25)",
            maps / processes
        );
        assert!(
            r.messages.sent <= 60 * processes,
            "{nodes} nodes: {} messages sent, {} per process (at most 60)",
            r.messages.sent,
            r.messages.sent / processes
        );
    }
}
