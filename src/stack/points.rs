//! The stack's fault points (`cx.buggify`) and coverage probes
//! (`cx.reached`), listed with where they are and what they do, for
//! `partsim bugs --points` and for the sweep and hunt reports (which list
//! the probes no run reached).
//!
//! A fault point explores legal but rare behaviour — a lost message, the
//! shortest timeout the configuration allows, an early compaction — so the
//! system must stay correct when it fires: a violation with buggify on is
//! a bug of the stack, not of the point. A test keeps these lists and the
//! calls in the source equal.

/// A fault point: its name, its file, what it does when it fires.
#[derive(Copy, Clone, Debug, serde::Serialize)]
pub struct Point {
    /// The name given to `cx.buggify`.
    pub name: &'static str,
    /// Where it is, under `src/`.
    pub file: &'static str,
    /// What happens when it fires, and why that is legal.
    pub what: &'static str,
}

/// Every fault point.
pub const BUGGIFY: &[Point] = &[
    Point {
        name: "raft/shortest-election-timeout",
        file: "stack/consensus/election.rs",
        what: "an election wait is the range's minimum: more pre-votes and split votes",
    },
    Point {
        name: "raft/skip-heartbeat-round",
        file: "stack/consensus/mod.rs",
        what: "a leader skips one heartbeat round, as if every message of it were lost",
    },
    Point {
        name: "raft/one-entry-batch",
        file: "stack/consensus/replication.rs",
        what: "an AppendEntries carries one entry: replication crawls, entries stay uncommitted longer",
    },
    Point {
        name: "raft/compact-early",
        file: "stack/consensus/storage.rs",
        what: "a snapshot of the applied state before snapshot_every entries: more InstallSnapshot",
    },
    Point {
        name: "client/drop-retry",
        file: "stack/client.rs",
        what: "a client's resend is lost before it leaves; the retry timer sends it again",
    },
    Point {
        name: "client/forget-primary",
        file: "stack/client.rs",
        what: "a client forgets the cached primary and follows the nodes' redirects",
    },
    Point {
        name: "replica/hold-ack",
        file: "stack/replication/follower.rs",
        what: "a backup's fsync completes late: its ack is held back until the primary resends",
    },
    Point {
        name: "node/skip-heartbeat",
        file: "stack/node.rs",
        what: "a data node misses one heartbeat; the health monitor's timeouts allow for it",
    },
];

/// Every coverage probe: its name (a rare state, in words) and its file.
pub const PROBES: &[(&str, &str)] = &[
    (
        "client: answer to a finished operation ignored",
        "stack/client.rs",
    ),
    ("client: compare-and-set lost a race", "stack/client.rs"),
    (
        "client: followed a redirect to the primary",
        "stack/client.rs",
    ),
    (
        "client: operation timed out, outcome unknown",
        "stack/client.rs",
    ),
    (
        "client: primary busy, waits for the retry",
        "stack/client.rs",
    ),
    ("client: unanswered primary forgotten", "stack/client.rs"),
    (
        "raft: candidate lost its election",
        "stack/consensus/election.rs",
    ),
    (
        "raft: pre-vote refused under a leader lease",
        "stack/consensus/election.rs",
    ),
    (
        "raft: vote refused, already voted in this term",
        "stack/consensus/election.rs",
    ),
    (
        "raft: vote refused, candidate's log behind",
        "stack/consensus/election.rs",
    ),
    (
        "raft: down voter removed after its grace",
        "stack/consensus/members.rs",
    ),
    (
        "raft: lost incarnation removed after its replacement",
        "stack/consensus/members.rs",
    ),
    (
        "raft: drained leader handed over",
        "stack/consensus/members.rs",
    ),
    (
        "raft: removed manager asked to rejoin",
        "stack/consensus/members.rs",
    ),
    (
        "raft: leader lost its quorum and stepped down",
        "stack/consensus/mod.rs",
    ),
    (
        "raft: leader stepped down for a higher term",
        "stack/consensus/mod.rs",
    ),
    (
        "raft: vote refused under a leader lease",
        "stack/consensus/mod.rs",
    ),
    (
        "raft: append from a deposed leader refused",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: append refused, previous entry missing",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: append refused, previous entry of another term",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: earlier-term entry waits for a current-term commit",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: follower truncated a conflicting suffix",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: installed snapshot kept the log tail",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: leader sent a snapshot to a lagging follower",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: snapshot installed from the leader",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: stale append answer ignored",
        "stack/consensus/replication.rs",
    ),
    (
        "raft: torn log tail truncated at restart",
        "stack/consensus/storage.rs",
    ),
    (
        "network: envelope rejected by authentication",
        "stack/network.rs",
    ),
    ("network: sender rate-limited", "stack/network.rs"),
    ("node: clock set back, timers armed again", "stack/node.rs"),
    (
        "node: list of held copies corrected at restart",
        "stack/node.rs",
    ),
    (
        "node: stale replica of an earlier incarnation dropped",
        "stack/node.rs",
    ),
    (
        "replica: damaged copy rebuilt by an install",
        "stack/replication/follower.rs",
    ),
    (
        "replica: damaged list of stored partitions rebuilt by a scan",
        "stack/replication/mod.rs",
    ),
    (
        "replica: declaration to an earlier incarnation ignored",
        "stack/replication/follower.rs",
    ),
    (
        "replica: gap in a follower's log, entries sent again",
        "stack/replication/primary.rs",
    ),
    (
        "replica: entries without a sync, install asked",
        "stack/replication/follower.rs",
    ),
    (
        "replica: epoch raised by a map update",
        "stack/replication/mod.rs",
    ),
    (
        "replica: re-seeded from a copy behind lost writes",
        "stack/replication/mod.rs",
    ),
    (
        "replica: primary busy, request refused",
        "stack/replication/primary.rs",
    ),
    (
        "replica: primary deposed by a newer epoch",
        "stack/replication/primary.rs",
    ),
    (
        "replica: replicate of a lower epoch refused",
        "stack/replication/follower.rs",
    ),
    (
        "replica: replication before a map since the restart refused",
        "stack/node.rs",
    ),
    (
        "replica: request older than the client's latest ignored",
        "stack/replication/primary.rs",
    ),
    (
        "replica: restarted follower caught up again",
        "stack/replication/mod.rs",
    ),
    (
        "replica: retry answered from the dedup table",
        "stack/replication/primary.rs",
    ),
    (
        "replica: retry of a write an earlier epoch appended",
        "stack/replication/primary.rs",
    ),
    (
        "replica: scrub found a follower's copy damaged",
        "stack/replication/scrub.rs",
    ),
    (
        "replica: scrub found the primary's copy damaged, rewritten",
        "stack/replication/scrub.rs",
    ),
    (
        "replica: stale install overtaken by entries ignored",
        "stack/replication/follower.rs",
    ),
    (
        "replica: state transfer installed",
        "stack/replication/follower.rs",
    ),
];

/// The fault points as a text table (`partsim bugs --points`).
pub fn render() -> String {
    let w = BUGGIFY.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let f = BUGGIFY.iter().map(|p| p.file.len()).max().unwrap_or(0);
    let mut out = format!("{:<w$}  {:<f$}  what it does\n", "fault point", "file");
    for p in BUGGIFY {
        out.push_str(&format!("{:<w$}  {:<f$}  {}\n", p.name, p.file, p.what));
    }
    out.push_str(&format!(
        "{} fault points; on in hunt runs, or with `[random] buggify = P` in a scenario\n\n",
        BUGGIFY.len()
    ));
    let w = PROBES.iter().map(|p| p.0.len()).max().unwrap_or(0);
    out.push_str(&format!("{:<w$}  file\n", "coverage probe"));
    for (name, file) in PROBES {
        out.push_str(&format!("{name:<w$}  {file}\n"));
    }
    out.push_str(&format!(
        "{} coverage probes; sweep and hunt report how many runs reached each\n",
        PROBES.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `"…"` names passed to `call(` in the stack's sources, with their files.
    fn calls(call: &str) -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![root.join("stack")];
        let mut found = Vec::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                let mut entries: Vec<_> = std::fs::read_dir(&p)
                    .expect("src/stack is readable")
                    .map(|e| e.expect("a directory entry").path())
                    .collect();
                entries.sort();
                files.extend(entries);
                continue;
            }
            if p.file_name().is_some_and(|n| n == "points.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("a source file");
            let file = p
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let needle = format!("{call}(\"");
            for (i, _) in text.match_indices(&needle) {
                let rest = &text[i + needle.len()..];
                let name = &rest[..rest.find('"').expect("a closing quote")];
                found.push((name.to_string(), file.clone()));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn the_lists_match_the_calls_in_the_source() {
        let mut listed: Vec<(String, String)> = BUGGIFY
            .iter()
            .map(|p| (p.name.to_string(), p.file.to_string()))
            .collect();
        listed.sort();
        assert_eq!(calls("buggify"), listed);
        let mut listed: Vec<(String, String)> = PROBES
            .iter()
            .map(|(n, f)| (n.to_string(), f.to_string()))
            .collect();
        listed.sort();
        assert_eq!(calls("reached"), listed);
        assert!(BUGGIFY.len() >= 6 && PROBES.len() >= 25);
    }
}
