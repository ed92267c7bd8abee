//! Limits on single values of a scenario (TIGER_STYLE: a limit on
//! everything): each rejection in `validate/` says which one was hit. The
//! bounds on values taken together are in `cost.rs`.

use crate::sim::time::SimDuration;

/// Longest run a scenario may ask for: one week of virtual time.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(7 * 24 * 3600);

/// Why `d` cannot be how long a run lasts, if it cannot: one rule for a
/// scenario's `duration` and for `partsim run --duration`.
pub fn duration_refusal(d: SimDuration) -> Option<String> {
    if d == SimDuration::ZERO {
        Some("must be above zero (e.g. duration = \"60s\")".into())
    } else if d > MAX_DURATION {
        Some(format!("{d} is above the limit of {MAX_DURATION}"))
    } else {
        None
    }
}

/// Most committed entries between two snapshots of a manager's log
/// (`[managers] snapshot_every`): the in-memory log holds that many.
pub const MAX_SNAPSHOT_EVERY: u64 = 1_000_000;

/// The sizes `[cluster] managers` may take (DESIGN §3: `m1..mK`, K = 1,
/// 3 or 5 — an odd group; an even one tolerates no more failures than the
/// odd one below it). `add_manager` and `remove_manager` change the group
/// during a run, one server at a time, so it passes through other sizes.
pub const MANAGER_COUNTS: [u32; 3] = [1, 3, 5];
/// Largest consensus group at start.
pub const MAX_MANAGERS: u32 = 5;
/// Most data nodes at start: room for the 5,000-node cluster of
/// `bench stack` (a user sizing a real cluster asks about thousands of
/// nodes), with a margin; memory per node is bounded by its own replicas.
pub const MAX_NODES: u32 = 10_000;
/// Most clients.
pub const MAX_CLIENTS: u32 = 1000;
/// Longest grid side, in cells.
pub const MAX_GRID_SIDE: u32 = 1 << 16;
/// Most partitions (tiles). A run's cost grows faster than linearly with
/// them: on three data nodes, 5 s of virtual time took 102 s with 65,536
/// partitions, 4.8 s with 16,384 and 1.1 s with 4,096. The limit leaves
/// room for the 20,000-partition cluster of `bench stack` (a user sizing a
/// real cluster asks about tens of thousands of partitions; its time and
/// memory are in the README).
pub const MAX_PARTITIONS: u64 = 1 << 15;
/// Most `[[events]]` entries.
pub const MAX_EVENTS: usize = 10_000;
/// Highest workload rate, operations per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Most random faults of one kind a `[random]` entry may expect
/// (`(heal_at - warm-up) / every`).
pub const MAX_RANDOM_FAULTS: u64 = 10_000;
/// Longest process id a `join` or `impostor` may introduce.
pub const MAX_ID_LEN: usize = 32;

/// Longest scenario `name`, in bytes: it names files
/// (`sweep --trace-dir DIR` writes `DIR/NAME-seed-N.jsonl`, at most 255
/// bytes on common file systems).
pub const MAX_NAME_BYTES: usize = 200;

/// Why `name` cannot name a scenario, if it cannot. The name becomes part
/// of file names and is printed to terminals, so it may hold neither a
/// path separator (`sweep --trace-dir` once wrote
/// `DIR/../../x-seed-0.jsonl` outside DIR) nor a control character (a
/// newline, NUL or terminal escape).
pub fn name_refusal(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "{} bytes is above the limit of {MAX_NAME_BYTES} (MAX_NAME_BYTES): the name is part of trace file names",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Some(format!(
            "{c:?} is not allowed in a name: it becomes part of file names (`sweep --trace-dir`); use letters, digits, '-', '_' or '.'"
        ));
    }
    None
}
