//! A data node's durable per-partition storage: the state of the cells, a
//! log of the entries applied since the last snapshot, and periodic
//! snapshots, all on the simulated disk and all checksummed (the disk keeps
//! a checksum on every record, so a torn or corrupted record is found when
//! read back, never served).
//!
//! **Layout.** Per partition `P`: the value `data/pP/snap` holds a
//! [`Snapshot`] (the state at some log index, and a generation number);
//! the log `data/pP/log/G` holds the entries after that index, one record
//! each, for generation `G`. A new snapshot (periodic, or a state installed
//! by a primary) starts a new generation with an empty log, so a log never
//! needs truncating in the middle. The list of partitions with data on the
//! disk is the value `data/parts`.
//!
//! **Invariant.** [`PartitionStore::append`] only buffers; the caller
//! fsyncs before it acknowledges anything (a replica acknowledges only what
//! its disk holds durably). Reloading replays the log after the snapshot and
//! stops at the first record that fails its checksum: the replica is then
//! marked damaged and must be rebuilt from a peer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sim::Disk;

/// Entries between two periodic snapshots.
pub const SNAPSHOT_EVERY: u64 = 64;
/// Disk key of the list of partitions with data.
const PARTS_KEY: &str = "data/parts";

/// What a client asked a partition's primary to do to one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Set the cell.
    Write {
        /// Cell index.
        cell: u64,
        /// The value (unique per client and sequence number).
        value: u64,
    },
    /// Set the cell to `new` if it holds `expected`.
    Cas {
        /// Cell index.
        cell: u64,
        /// The value it must hold.
        expected: u64,
        /// The value to set.
        new: u64,
    },
}

impl Command {
    /// The cell the command touches.
    pub fn cell(&self) -> u64 {
        match self {
            Command::Write { cell, .. } | Command::Cas { cell, .. } => *cell,
        }
    }
}

/// One entry of a partition's log, as ordered by the primary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the partition's history, from 1.
    pub index: u64,
    /// The epoch of the primary that ordered it.
    pub epoch: u64,
    /// The client that asked.
    pub client: u32,
    /// The client's sequence number (the request id).
    pub seq: u64,
    /// What to do.
    pub command: Command,
}

/// The last operation of one client applied to a partition: what a retry
/// of the same request gets back (exactly-once effect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The client's sequence number.
    pub seq: u64,
    /// The log index of its entry.
    pub index: u64,
    /// False for a compare-and-set whose expectation did not hold.
    pub ok: bool,
}

/// A partition's state: the cells and the per-client dedup table, as of
/// log index `index`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The last log index applied.
    pub index: u64,
    /// Cell → (value, index of the entry that wrote it).
    pub cells: BTreeMap<u64, (u64, u64)>,
    /// Client → its last applied operation.
    pub dedup: BTreeMap<u32, Applied>,
    /// Cells last written at or below this log index have no known value:
    /// the partition was re-seeded from this copy after writes acknowledged
    /// later were lost with every copy that held them (the map's
    /// `lost_at`), and any of them may have overwritten such a cell. A read
    /// of one, or a compare-and-set on it, fails (`data-lost`) until a
    /// write defines it again. 0 (nothing unknown) unless so re-seeded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_below: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PartitionState {
    /// Applies the next entry; returns whether it took effect (false only
    /// for a compare-and-set whose expectation did not hold).
    pub fn apply(&mut self, e: &Entry) -> bool {
        let ok = match e.command {
            Command::Write { cell, value } => {
                self.cells.insert(cell, (value, e.index));
                true
            }
            Command::Cas {
                cell,
                expected,
                new,
            } => {
                let holds = self.value(cell) == Some(expected);
                if holds {
                    self.cells.insert(cell, (new, e.index));
                }
                holds
            }
        };
        self.index = e.index;
        self.dedup.insert(
            e.client,
            Applied {
                seq: e.seq,
                index: e.index,
                ok,
            },
        );
        ok
    }

    /// The value of a cell.
    /// The value of a cell, if known (see [`PartitionState::lost_below`]).
    pub fn value(&self, cell: u64) -> Option<u64> {
        self.cells
            .get(&cell)
            .filter(|(_, at)| *at > self.lost_below)
            .map(|(v, _)| *v)
    }
}

/// The snapshot record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Generation: names the log that follows this snapshot.
    pub generation: u64,
    /// The highest epoch this replica had accepted.
    pub epoch: u64,
    /// The state.
    pub state: PartitionState,
    /// The copy holds the partition's data, even at index 0 (a partition
    /// never written): it was placed in sync from nothing, took an
    /// install, or led the partition. A store created empty for a copy
    /// that waits for its install does not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data: bool,
    /// The latest epoch in which the copy was whole: placed in sync from
    /// nothing, declared caught up by its primary, or leading. A copy that
    /// took an install and entries but was never declared caught up holds
    /// data yet may lack writes acknowledged without it: not whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole: Option<u64>,
}

/// Appends `v` in decimal.
fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `e` as `serde_json::to_vec(e)` writes it, byte for byte (a
/// store writes one per entry; serde's walk of the fields was most of
/// it). A test compares the two.
fn entry_json(out: &mut Vec<u8>, e: &Entry) {
    out.extend_from_slice(b"{\"index\":");
    push_u64(out, e.index);
    out.extend_from_slice(b",\"epoch\":");
    push_u64(out, e.epoch);
    out.extend_from_slice(b",\"client\":");
    push_u64(out, u64::from(e.client));
    out.extend_from_slice(b",\"seq\":");
    push_u64(out, e.seq);
    match e.command {
        Command::Write { cell, value } => {
            out.extend_from_slice(b",\"command\":{\"Write\":{\"cell\":");
            push_u64(out, cell);
            out.extend_from_slice(b",\"value\":");
            push_u64(out, value);
        }
        Command::Cas {
            cell,
            expected,
            new,
        } => {
            out.extend_from_slice(b",\"command\":{\"Cas\":{\"cell\":");
            push_u64(out, cell);
            out.extend_from_slice(b",\"expected\":");
            push_u64(out, expected);
            out.extend_from_slice(b",\"new\":");
            push_u64(out, new);
        }
    }
    out.extend_from_slice(b"}}}");
}

/// Appends `state` as `serde_json` writes a [`PartitionState`], byte for
/// byte (a test compares the two): serde's walk of the cells, keys turned
/// into strings, was most of a snapshot's cost.
fn state_json(out: &mut Vec<u8>, st: &PartitionState) {
    out.reserve(48 + 24 * st.cells.len() + 40 * st.dedup.len());
    out.extend_from_slice(b"{\"index\":");
    push_u64(out, st.index);
    out.extend_from_slice(b",\"cells\":{");
    for (i, (cell, (value, at))) in st.cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        push_u64(out, *cell);
        out.extend_from_slice(b"\":[");
        push_u64(out, *value);
        out.push(b',');
        push_u64(out, *at);
        out.push(b']');
    }
    out.extend_from_slice(b"},\"dedup\":{");
    for (i, (client, a)) in st.dedup.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        push_u64(out, u64::from(*client));
        out.extend_from_slice(b"\":{\"seq\":");
        push_u64(out, a.seq);
        out.extend_from_slice(b",\"index\":");
        push_u64(out, a.index);
        out.extend_from_slice(if a.ok {
            b",\"ok\":true}"
        } else {
            b",\"ok\":false}"
        });
    }
    out.push(b'}');
    if st.lost_below != 0 {
        out.extend_from_slice(b",\"lost_below\":");
        push_u64(out, st.lost_below);
    }
    out.push(b'}');
}

/// A [`Snapshot`] as a store writes it: the same fields, the state already
/// encoded (by [`state_json`]).
struct SnapshotOf<'a> {
    generation: u64,
    epoch: u64,
    state_json: &'a [u8],
    data: bool,
    whole: Option<u64>,
}

impl SnapshotOf<'_> {
    /// The snapshot as `serde_json::to_vec(&Snapshot)` writes it, byte for
    /// byte (a test compares the two).
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.state_json.len());
        out.extend_from_slice(b"{\"generation\":");
        push_u64(&mut out, self.generation);
        out.extend_from_slice(b",\"epoch\":");
        push_u64(&mut out, self.epoch);
        out.extend_from_slice(b",\"state\":");
        out.extend_from_slice(self.state_json);
        if self.data {
            out.extend_from_slice(b",\"data\":true");
        }
        if let Some(w) = self.whole {
            out.extend_from_slice(b",\"whole\":");
            push_u64(&mut out, w);
        }
        out.push(b'}');
        out
    }
}

/// What reloading a partition found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// The state rebuilt from snapshot and log.
    pub store: PartitionStore,
    /// A record failed its checksum: the replica must be rebuilt.
    pub damaged: bool,
}

/// What a scrub step found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scrubbed {
    /// Every record checked holds its checksum.
    Clean {
        /// Records checked.
        checked: u64,
        /// Where the next step starts; `None` when the partition is done.
        next: Option<u64>,
    },
    /// A record failed its checksum.
    Damaged,
}

/// One partition's storage on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionStore {
    partition: u32,
    generation: u64,
    /// The index the current generation's snapshot holds.
    snap_index: u64,
    /// The highest epoch accepted (persisted with the snapshot and entries).
    pub epoch: u64,
    /// The state after every entry appended.
    state: PartitionState,
    /// `state` encoded as a snapshot writes it, while `state` is unchanged
    /// since: most snapshots (an epoch raised, a copy marked whole, an
    /// install followed by its declaration) write the state the one before
    /// wrote, and encoding it again was most of their cost.
    state_json: StateJson,
    /// Entries after the snapshot (what a lagging follower is sent).
    tail: Vec<Entry>,
    /// Holds the partition's data (see [`Snapshot::data`]).
    data: bool,
    /// Whole as of this epoch (see [`Snapshot::whole`]).
    whole: Option<u64>,
    /// The disk keys of the snapshot and of the current generation's log,
    /// made once per generation (every entry appended and every scrub
    /// names them: formatting them each time was 3 % of `chaos`).
    snap_key: String,
    log_key: String,
}

/// The encoding of a store's state, if made since the state last changed:
/// a cache, so no part of the store's value (every two compare equal).
#[derive(Clone, Debug, Default)]
struct StateJson(Option<Vec<u8>>);

impl PartialEq for StateJson {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for StateJson {}

fn snap_key(p: u32) -> String {
    format!("data/p{p}/snap")
}

/// `data/p{p}/log/{generation}`, without `format!`'s machinery (a new one
/// at every snapshot).
fn log_key(p: u32, generation: u64) -> String {
    let mut key = String::with_capacity(32);
    key.push_str("data/p");
    key.push_str(itoa::Buffer::new().format(p));
    key.push_str("/log/");
    key.push_str(itoa::Buffer::new().format(generation));
    key
}

impl PartitionStore {
    /// An empty partition (nothing on the disk yet).
    pub fn empty(partition: u32) -> Self {
        PartitionStore {
            partition,
            generation: 0,
            snap_index: 0,
            epoch: 0,
            state: PartitionState::default(),
            state_json: StateJson::default(),
            tail: Vec::new(),
            data: false,
            whole: None,
            snap_key: snap_key(partition),
            log_key: log_key(partition, 0),
        }
    }

    /// The partitions the disk holds data of, and whether their list was
    /// found damaged. The list is one record: when it fails its checksum
    /// (or does not decode), the partitions are those whose snapshot the
    /// disk holds, as a scan of the disk finds them — one damaged record
    /// must not throw away every intact copy on the disk.
    pub fn on_disk(disk: &Disk) -> (Vec<u32>, bool) {
        let listed = match disk.get(PARTS_KEY) {
            Ok(Some(b)) => serde_json::from_slice(b).ok(),
            Ok(None) => Some(Vec::new()),
            Err(_) => None,
        };
        match listed {
            Some(parts) => (parts, false),
            None => {
                let parts = disk
                    .keys_with_prefix("data/p")
                    .filter_map(|k| {
                        k.strip_prefix("data/p")?
                            .strip_suffix("/snap")?
                            .parse()
                            .ok()
                    })
                    .collect::<std::collections::BTreeSet<u32>>()
                    .into_iter()
                    .collect();
                (parts, true)
            }
        }
    }

    /// The partitions of which the disk holds a whole copy (see
    /// [`Snapshot::whole`]) that reloads intact, with the epoch each was
    /// last whole in: what a node's list of held copies names, rebuilt
    /// when that list is lost. Blanks waiting for their install, and
    /// copies that took an install and entries but were never declared
    /// caught up, are not named (no-bug hunt seed 0, run 8,798: such a copy
    /// was reported whole after its node's list was damaged).
    pub fn whole_copies(disk: &Disk) -> Vec<(u32, u64)> {
        Self::on_disk(disk)
            .0
            .into_iter()
            .filter_map(|p| {
                let r = Self::reload(disk, p);
                (!r.damaged).then_some(())?;
                Some((p, r.store.whole?))
            })
            .collect()
    }

    /// Records which partitions the disk holds (buffered; fsync follows).
    pub fn write_parts(disk: &mut Disk, parts: &[u32]) {
        let bytes = serde_json::to_vec(parts).expect("a list of numbers serializes");
        disk.put(PARTS_KEY, bytes);
    }

    /// Reloads partition `p` from the disk: the snapshot, then the log
    /// until its end or its first damaged record.
    pub fn reload(disk: &Disk, p: u32) -> Reloaded {
        Self::reload_with(disk, p, false)
    }

    /// [`reload`](Self::reload), or with `trusting` (the `serve-corrupt`
    /// planted bug) records read without their checksums: what decodes is
    /// taken, what does not ends the log, and nothing is called damaged.
    pub fn reload_with(disk: &Disk, p: u32, trusting: bool) -> Reloaded {
        // `Err`: the record failed its checksum (never, when trusting).
        let value = |k: &str| match trusting {
            true => Ok(disk.get_unchecked(k)),
            false => disk.get(k).map_err(drop),
        };
        let entry = |l: &str, i: u64| match trusting {
            true => Ok(disk.entry_unchecked(l, i)),
            false => disk.entry(l, i).map_err(drop),
        };
        let lost = Reloaded {
            store: Self::empty(p),
            damaged: true,
        };
        let snap = match value(&snap_key(p)) {
            Ok(Some(b)) => match serde_json::from_slice::<Snapshot>(b) {
                Ok(s) => s,
                Err(_) if trusting => Snapshot::default(),
                Err(_) => return lost,
            },
            Ok(None) => Snapshot::default(),
            Err(()) => return lost,
        };
        let mut store = PartitionStore {
            partition: p,
            generation: snap.generation,
            snap_index: snap.state.index,
            epoch: snap.epoch,
            state: snap.state,
            state_json: StateJson::default(),
            tail: Vec::new(),
            data: snap.data,
            whole: snap.whole,
            snap_key: snap_key(p),
            log_key: log_key(p, snap.generation),
        };
        let log = store.log_key.clone();
        let end = disk.log_end(&log);
        let mut damaged = false;
        for i in disk.log_start(&log)..end {
            match entry(&log, i) {
                Ok(Some(b)) => match serde_json::from_slice::<Entry>(b) {
                    Ok(e) if e.index == store.state.index + 1 => {
                        store.epoch = store.epoch.max(e.epoch);
                        store.state.apply(&e);
                        store.tail.push(e);
                    }
                    _ => {
                        damaged = !trusting;
                        break;
                    }
                },
                Ok(None) => break,
                Err(()) => {
                    damaged = true;
                    break;
                }
            }
        }
        Reloaded { store, damaged }
    }

    /// The partition.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The state after every entry appended.
    pub fn state(&self) -> &PartitionState {
        &self.state
    }

    /// The last index held.
    pub fn index(&self) -> u64 {
        self.state.index
    }

    /// The entries after `after`, if this store still holds all of them.
    pub fn entries_after(&self, after: u64, max: usize) -> Option<&[Entry]> {
        if after < self.snap_index {
            return None;
        }
        let from = (after - self.snap_index) as usize;
        let to = (from + max).min(self.tail.len());
        self.tail.get(from..to)
    }

    /// Applies and buffers one entry (the caller fsyncs). Returns whether it
    /// took effect. Takes a periodic snapshot when the log has grown.
    pub fn append(&mut self, disk: &mut Disk, e: Entry) -> bool {
        let mut bytes = Vec::with_capacity(128);
        entry_json(&mut bytes, &e);
        disk.append(&self.log_key, bytes);
        self.epoch = self.epoch.max(e.epoch);
        self.state_json.0 = None;
        let ok = self.state.apply(&e);
        self.tail.push(e);
        if self.tail.len() as u64 >= SNAPSHOT_EVERY * 2 {
            // Keep the last SNAPSHOT_EVERY entries in memory for lagging
            // followers; the disk starts a new generation from the state.
            self.snapshot(disk);
        }
        ok
    }

    /// Replaces everything with `state` (installed from a primary) at `epoch`.
    pub fn install(&mut self, disk: &mut Disk, state: PartitionState, epoch: u64) {
        self.epoch = self.epoch.max(epoch);
        if state != self.state {
            // The same state installed again (a resend, or a re-seed that
            // changes nothing) keeps its encoding.
            self.state = state;
            self.state_json.0 = None;
        }
        self.data = true;
        self.tail.clear();
        self.snapshot(disk);
    }

    /// This copy is whole as of `epoch` (see [`Snapshot::whole`]):
    /// recorded now, unless a later epoch already was. Whole copies hold
    /// the data too.
    pub fn mark_whole(&mut self, disk: &mut Disk, epoch: u64) {
        if self.whole.is_none_or(|w| w < epoch) {
            self.whole = Some(epoch);
            self.data = true;
            self.snapshot(disk);
        }
    }

    /// The latest epoch this copy was whole in, if any.
    pub fn whole(&self) -> Option<u64> {
        self.whole
    }

    /// Raises the accepted epoch and records it.
    pub fn raise_epoch(&mut self, disk: &mut Disk, epoch: u64) {
        if epoch > self.epoch {
            self.epoch = epoch;
            self.snapshot(disk);
        }
    }

    /// Writes the state as a new generation's snapshot and drops the old log.
    fn snapshot(&mut self, disk: &mut Disk) {
        self.generation += 1;
        let old = std::mem::replace(&mut self.log_key, log_key(self.partition, self.generation));
        // A copy of this partition that this disk held before (dropped, and
        // given back since) may have left records in this generation's log:
        // a reload would replay them after this snapshot, as if they were
        // this copy's. The new generation starts with an empty log.
        let new = &self.log_key;
        if !disk.log_range(new).is_empty() {
            disk.truncate(new, 0);
        }
        let state = &self.state;
        let encoded = self.state_json.0.get_or_insert_with(|| {
            let mut out = Vec::new();
            state_json(&mut out, state);
            out
        });
        let snap = SnapshotOf {
            generation: self.generation,
            epoch: self.epoch,
            state_json: encoded,
            data: self.data,
            whole: self.whole,
        };
        disk.put(&self.snap_key, snap.to_json());
        disk.truncate(&old, 0);
        let keep = self.tail.len().min(SNAPSHOT_EVERY as usize);
        let drop = self.tail.len() - keep;
        // The in-memory tail may reach before the snapshot; the disk's does not.
        self.tail.drain(..drop);
        self.snap_index = self.state.index - self.tail.len() as u64;
    }

    /// The records this partition has on the disk now: its snapshot and
    /// the current generation's log.
    pub fn records(&self, disk: &Disk) -> u64 {
        Self::records_with(&disk.log_range(&self.log_key))
    }

    /// The records a partition has on the disk when its current log holds
    /// the indexes `log`: the snapshot, and the log's.
    fn records_with(log: &std::ops::Range<u64>) -> u64 {
        1 + log.end.saturating_sub(log.start)
    }

    /// Checks the checksums of at most `max` of this partition's stored
    /// records, from record `from` (0: the snapshot, then the log's
    /// records in order), without using what they hold: the scrub.
    pub fn scrub(&self, disk: &Disk, from: u64, max: u64) -> Scrubbed {
        let log = &self.log_key;
        // One lookup of the log, where its start and `records` took three.
        let held = disk.log_range(log);
        let start = held.start;
        let total = Self::records_with(&held);
        let to = total.min(from.saturating_add(max));
        // Record 0 is the snapshot; record `i > 0` the log's `start + i - 1`.
        let snapshot_ok = from > 0 || to == 0 || disk.get(&self.snap_key).is_ok();
        let first = from.max(1);
        let log_ok = first >= to || disk.log_intact(log, start + first - 1..start + to - 1);
        if !(snapshot_ok && log_ok) {
            return Scrubbed::Damaged;
        }
        Scrubbed::Clean {
            checked: to.saturating_sub(from),
            next: (to < total).then_some(to),
        }
    }

    /// Writes the state as a fresh snapshot (a new generation): what a
    /// primary whose stored copy is damaged does with the state it serves.
    pub fn rewrite(&mut self, disk: &mut Disk) {
        self.snapshot(disk);
    }

    /// Deletes the partition's data from the disk (buffered). Its current
    /// log is left behind (a store given the partition back starts from
    /// generation 0 and clears each generation's log before using it).
    pub fn erase(disk: &mut Disk, p: u32) {
        disk.delete(&snap_key(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_written_as_its_owned_form_serializes() {
        let mut full = PartitionState {
            index: 9,
            lost_below: 3,
            ..PartitionState::default()
        };
        full.cells.insert(4, (40, 7));
        full.cells.insert(u64::MAX, (u64::MAX, 9));
        full.dedup.insert(
            1,
            Applied {
                seq: 5,
                index: 9,
                ok: true,
            },
        );
        full.dedup.insert(
            u32::MAX,
            Applied {
                seq: 0,
                index: 2,
                ok: false,
            },
        );
        let mut one = PartitionState::default();
        one.cells.insert(0, (0, 0));
        for state in [PartitionState::default(), one, full] {
            for (data, whole) in [(false, None), (true, Some(5)), (false, Some(0))] {
                let owned = Snapshot {
                    generation: 2,
                    epoch: 6,
                    state: state.clone(),
                    data,
                    whole,
                };
                let mut encoded = Vec::new();
                state_json(&mut encoded, &state);
                let written = SnapshotOf {
                    generation: 2,
                    epoch: 6,
                    state_json: &encoded,
                    data,
                    whole,
                };
                let want = serde_json::to_vec(&owned).unwrap();
                assert_eq!(
                    String::from_utf8(written.to_json()).unwrap(),
                    String::from_utf8(want).unwrap()
                );
            }
        }
    }

    /// The snapshot on the disk is what `serde_json` writes of the store's
    /// fields, whether its state was encoded again or the kept encoding
    /// was reused (after an epoch raised, a copy marked whole, the same
    /// state installed again).
    #[test]
    fn a_snapshot_from_the_kept_encoding_is_the_one_serde_writes() {
        let mut d = Disk::new();
        let mut s = PartitionStore::empty(6);
        let mut other = PartitionState::default();
        other.apply(&w(1, 9, 90));
        let check = |d: &Disk, s: &PartitionStore| {
            let owned = Snapshot {
                generation: s.generation,
                epoch: s.epoch,
                state: s.state.clone(),
                data: s.data,
                whole: s.whole,
            };
            let want = serde_json::to_vec(&owned).unwrap();
            assert_eq!(d.get(&s.snap_key).unwrap(), Some(&want[..]));
        };
        s.raise_epoch(&mut d, 1);
        check(&d, &s);
        for i in 1..=3 {
            s.append(&mut d, w(i, i, i * 10));
        }
        s.raise_epoch(&mut d, 2);
        check(&d, &s);
        s.mark_whole(&mut d, 2);
        check(&d, &s);
        let same = s.state.clone();
        s.install(&mut d, same, 3);
        check(&d, &s);
        s.append(&mut d, w(4, 1, 7));
        s.rewrite(&mut d);
        check(&d, &s);
        s.install(&mut d, other, 4);
        check(&d, &s);
        s.raise_epoch(&mut d, 5);
        check(&d, &s);
    }

    #[test]
    fn an_entry_is_written_as_serde_writes_it() {
        let commands = [
            Command::Write { cell: 3, value: 0 },
            Command::Write {
                cell: u64::MAX,
                value: u64::MAX,
            },
            Command::Cas {
                cell: 7,
                expected: 10,
                new: 11,
            },
        ];
        for (i, command) in commands.into_iter().enumerate() {
            let e = Entry {
                index: i as u64 + 1,
                epoch: 4,
                client: u32::MAX - i as u32,
                seq: 1_000_000 + i as u64,
                command,
            };
            let mut out = Vec::new();
            entry_json(&mut out, &e);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&e).unwrap()
            );
        }
    }

    fn w(index: u64, cell: u64, value: u64) -> Entry {
        Entry {
            index,
            epoch: 1,
            client: 1,
            seq: index,
            command: Command::Write { cell, value },
        }
    }

    #[test]
    fn reload_replays_snapshot_and_log() {
        let mut d = Disk::new();
        let mut s = PartitionStore::empty(3);
        for i in 1..=300 {
            s.append(&mut d, w(i, i % 7, i * 10));
        }
        d.fsync();
        d.crash(false);
        let r = PartitionStore::reload(&d, 3);
        assert!(!r.damaged);
        assert_eq!(r.store.state, s.state);
        assert_eq!(r.store.index(), 300);
        assert!(
            r.store
                .entries_after(290, 100)
                .is_some_and(|e| e.len() == 10)
        );
    }

    #[test]
    fn unsynced_entries_are_lost_and_a_torn_one_is_detected() {
        let mut d = Disk::new();
        let mut s = PartitionStore::empty(0);
        s.append(&mut d, w(1, 1, 1));
        d.fsync();
        s.append(&mut d, w(2, 1, 2));
        d.crash(true);
        let r = PartitionStore::reload(&d, 0);
        assert!(r.damaged, "the torn record is found");
        assert_eq!(r.store.state.value(1), Some(1));
    }

    /// A store that advances `n` generations (an install, then raised
    /// epochs), appending one entry after each.
    fn generations(d: &mut Disk, s: &mut PartitionStore, n: u64, base: u64) {
        s.install(d, PartitionState::default(), 1);
        for g in 0..n {
            s.raise_epoch(d, 2 + g);
            let i = s.index() + 1;
            s.append(d, w(i, 1, base + i));
        }
        d.fsync();
    }

    #[test]
    fn a_partition_given_back_never_replays_its_earlier_copy_log() {
        let mut d = Disk::new();
        let mut first = PartitionStore::empty(4);
        generations(&mut d, &mut first, 3, 1000);
        // Dropped: its last generation's log (entry 3) stays behind.
        PartitionStore::erase(&mut d, 4);
        d.fsync();
        // Given back: a new store walks through the same generations, and
        // its first entry goes to the log the earlier copy left.
        let mut again = PartitionStore::empty(4);
        generations(&mut d, &mut again, 3, 0);
        d.crash(false);
        let r = PartitionStore::reload(&d, 4);
        assert!(!r.damaged, "the earlier copy's log read as damage");
        assert_eq!(r.store.state, again.state);
    }

    #[test]
    fn a_damaged_list_of_partitions_is_rebuilt_from_the_snapshots() {
        let mut d = Disk::new();
        let mut a = PartitionStore::empty(2);
        let mut b = PartitionStore::empty(11);
        generations(&mut d, &mut a, 1, 0);
        generations(&mut d, &mut b, 1, 0);
        PartitionStore::write_parts(&mut d, &[2, 11]);
        d.fsync();
        assert_eq!(PartitionStore::on_disk(&d), (vec![2, 11], false));
        d.put(PARTS_KEY, b"not a list".to_vec());
        assert_eq!(PartitionStore::on_disk(&d), (vec![2, 11], true));
        PartitionStore::erase(&mut d, 11);
        assert_eq!(PartitionStore::on_disk(&d), (vec![2], true));
    }

    #[test]
    fn whole_copies_leave_out_blanks_damaged_erased_and_undeclared_copies() {
        let mut d = Disk::new();
        assert!(PartitionStore::whole_copies(&d).is_empty());
        // p2 and p11 took an install and entries and were declared caught
        // up (epochs 4 and 6); p9 took an install and entries but was
        // never declared caught up; p5 was created empty for a copy that
        // waits for its install and had its epoch raised by a map (a
        // snapshot at index 0); p8 holds a snapshot that does not decode.
        let mut a = PartitionStore::empty(2);
        let mut b = PartitionStore::empty(11);
        let mut behind = PartitionStore::empty(9);
        let mut blank = PartitionStore::empty(5);
        generations(&mut d, &mut a, 2, 0);
        generations(&mut d, &mut b, 1, 0);
        generations(&mut d, &mut behind, 1, 0);
        a.mark_whole(&mut d, 4);
        b.mark_whole(&mut d, 6);
        // An earlier epoch does not lower the mark.
        b.mark_whole(&mut d, 5);
        blank.raise_epoch(&mut d, 3);
        d.put(&snap_key(8), b"not a snapshot".to_vec());
        PartitionStore::write_parts(&mut d, &[2, 5, 8, 9, 11]);
        d.fsync();
        d.crash(false);
        assert_eq!(PartitionStore::whole_copies(&d), vec![(2, 4), (11, 6)]);
        // With the list of partitions damaged too, the snapshots are
        // scanned: the same copies.
        d.put(PARTS_KEY, b"not a list".to_vec());
        assert_eq!(PartitionStore::whole_copies(&d), vec![(2, 4), (11, 6)]);
        // A copy dropped since is not found again.
        PartitionStore::erase(&mut d, 11);
        assert_eq!(PartitionStore::whole_copies(&d), vec![(2, 4)]);
    }

    #[test]
    fn copies_of_a_partition_never_written_are_kept_when_whole() {
        // p3 was placed in sync from nothing (epoch 1), p4 took an install
        // of an empty partition and was declared caught up (epoch 2), p7
        // took one and was not, p6 waits for its install: all at index 0.
        let mut d = Disk::new();
        let mut placed = PartitionStore::empty(3);
        let mut installed = PartitionStore::empty(4);
        let mut undeclared = PartitionStore::empty(7);
        let mut waiting = PartitionStore::empty(6);
        placed.mark_whole(&mut d, 1);
        installed.install(&mut d, PartitionState::default(), 2);
        installed.mark_whole(&mut d, 2);
        undeclared.install(&mut d, PartitionState::default(), 2);
        waiting.raise_epoch(&mut d, 2);
        PartitionStore::write_parts(&mut d, &[3, 4, 6, 7]);
        d.fsync();
        d.crash(false);
        assert_eq!(PartitionStore::whole_copies(&d), vec![(3, 1), (4, 2)]);
        let r = PartitionStore::reload(&d, 3);
        assert!(!r.damaged && r.store.index() == 0 && r.store.whole() == Some(1));
    }

    #[test]
    fn cas_takes_effect_only_when_expected_holds() {
        let mut st = PartitionState::default();
        st.apply(&w(1, 5, 7));
        let cas = |index, expected, new| Entry {
            index,
            epoch: 1,
            client: 2,
            seq: index,
            command: Command::Cas {
                cell: 5,
                expected,
                new,
            },
        };
        assert!(!st.apply(&cas(2, 8, 9)));
        assert_eq!(st.value(5), Some(7));
        assert!(st.apply(&cas(3, 7, 9)));
        assert_eq!(st.value(5), Some(9));
        assert_eq!(st.dedup[&2].seq, 3);
    }
}
