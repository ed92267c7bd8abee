//! Simulated durable storage: one disk per process, surviving its crashes.
//!
//! A disk holds named values (`put`/`get`) and named append-only logs
//! (`append`/`entry`/`truncate`/`compact`). Writes are buffered: reads see
//! them at once (the page cache), but only `fsync` makes them durable. On a
//! crash the unsynced writes are lost; with torn writes enabled, the last
//! unsynced write is instead left half-written. Every record carries a
//! checksum, so a torn or corrupted record is detected on read — never
//! silently returned. The checksum also covers the record's address (its
//! key, or its log and index), as a checksum kept apart from the record
//! would: a record found at the wrong place fails it too.
//!
//! **Faults** ([`DiskFaults`], drawn from the disk's own stream): a write
//! may store its record with flipped bits (`corruption`) or land on
//! another record (`misdirected`: that record is overwritten, and the
//! intended one is left unwritten); each write and fsync may take time
//! (`latency`: the process's messages wait behind its disk); and
//! [`Disk::corrupt`] flips bits in some stored records (a failing medium).
//!
//! ```text
//!   put/append ──► current (what reads see) ──fsync──► durable
//!                        ▲                              │
//!                        └────────── crash ─────────────┘  (+ torn last write)
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;

use super::rng::{chance, uniform_u64};
use super::time::SimTime;

/// Storage faults of one disk (a scenario's `[disk]` section).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct DiskFaults {
    /// Chance that a write stores its record with flipped bits.
    pub corruption: f64,
    /// Chance that a write lands on another record.
    pub misdirected: f64,
    /// How long each write and each fsync takes, microseconds, drawn
    /// uniformly from this range.
    pub latency_us: (u64, u64),
}

impl DiskFaults {
    /// True when no fault is configured (nothing is drawn).
    pub fn is_none(&self) -> bool {
        self.corruption <= 0.0 && self.misdirected <= 0.0 && self.latency_us.1 == 0
    }
}

/// The address of a record: a key, or a log and an index.
fn address(name: &str, index: Option<u64>) -> u64 {
    let h = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    match index {
        Some(i) => h ^ address_offset(i),
        None => h,
    }
}

/// What a log record's index adds to its log's address.
fn address_offset(index: u64) -> u64 {
    (index.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A stored record: the bytes and the checksum of the bytes that were meant
/// to be written, at the address they were meant for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    data: Vec<u8>,
    checksum: u64,
    /// xxh3 of `data`, kept from when the record was made: `data` never
    /// changes in place (a damaged record is a new one), so a check of the
    /// checksum need not hash the bytes again. Why: a scrub checks every
    /// stored record over and over, and hashing them was most of its cost.
    data_hash: u64,
}

impl Record {
    fn new(data: Vec<u8>, addr: u64) -> Record {
        let data_hash = xxhash_rust::xxh3::xxh3_64(&data);
        Record {
            data,
            checksum: data_hash ^ addr,
            data_hash,
        }
    }
    /// `data` with `checksum`, whatever `data` holds.
    fn with_checksum(data: Vec<u8>, checksum: u64) -> Record {
        let data_hash = xxhash_rust::xxh3::xxh3_64(&data);
        Record {
            data,
            checksum,
            data_hash,
        }
    }
    fn verify(&self, addr: u64) -> bool {
        debug_assert_eq!(self.data_hash, xxhash_rust::xxh3::xxh3_64(&self.data));
        self.data_hash ^ addr == self.checksum
    }
    /// The record with one bit flipped (its checksum unchanged).
    fn flipped(&self, rng: &mut ChaCha8Rng) -> Record {
        let mut data = self.data.clone();
        if data.is_empty() {
            data.push(0xFF);
        } else {
            let bit = uniform_u64(rng, 0, data.len() as u64 * 8 - 1);
            data[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
        Record::with_checksum(data, self.checksum)
    }
    /// What the intended place holds after a misdirected write: not the
    /// record (its checksum, kept apart, says what should be there).
    fn unwritten(&self) -> Record {
        Record::with_checksum(Vec::new(), self.checksum ^ 1)
    }
    /// The record as a crash mid-write leaves it: half the bytes, the full
    /// record's checksum.
    fn torn(&self) -> Record {
        let keep = self.data.len() / 2;
        let mut data = self.data[..keep].to_vec();
        if data == self.data {
            // An empty record cannot be half-written; mark it damaged anyway.
            data.push(0xFF);
        }
        Record::with_checksum(data, self.checksum)
    }
}

/// A record as the stores and the buffered writes hold it: shared, since
/// a record never changes in place (a damaged one is a new record). A
/// write lands in what reads see and in the buffer of writes to make
/// durable, and the fsync moves it on: one record, not three copies.
type Shared = Rc<Record>;

/// A key or a log's name, shared for the same reason.
type Name = Rc<str>;

/// An append-only log whose first `base` entries were compacted away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Log {
    base: u64,
    records: VecDeque<Shared>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Store {
    values: BTreeMap<Name, Shared>,
    logs: BTreeMap<Name, Log>,
}

#[derive(Clone, Debug)]
enum Op {
    Put(Name, Shared),
    Delete(Name),
    Append(Name, Shared),
    Truncate(Name, u64),
    Compact(Name, u64),
    /// A misdirected write landing on log record `index`.
    Overwrite(Name, u64, Shared),
}

impl Store {
    fn apply(&mut self, op: Op) {
        match op {
            Op::Put(k, r) => {
                self.values.insert(k, r);
            }
            Op::Delete(k) => {
                self.values.remove(&k);
            }
            Op::Append(l, r) => self.logs.entry(l).or_default().records.push_back(r),
            Op::Truncate(l, len) => {
                if let Some(log) = self.logs.get_mut(&l) {
                    let keep = len.saturating_sub(log.base) as usize;
                    log.records.truncate(keep);
                    if *log == Log::default() {
                        // Emptied from index 0: it reads exactly as a log
                        // never written. Kept, the names of logs emptied
                        // for good (a store's old generations) piled up,
                        // and every lookup of every log searched past them.
                        self.logs.remove(&l);
                    }
                }
            }
            Op::Overwrite(l, index, r) => {
                if let Some(log) = self.logs.get_mut(&l)
                    && index >= log.base
                    && let Some(slot) = log.records.get_mut((index - log.base) as usize)
                {
                    *slot = r;
                }
            }
            Op::Compact(l, upto) => {
                let log = self.logs.entry(l).or_default();
                while log.base < upto {
                    if log.records.pop_front().is_none() {
                        log.base = upto;
                        break;
                    }
                    log.base += 1;
                }
            }
        }
    }
}

/// A record another write may land on.
#[derive(Clone, Debug)]
enum Victim {
    Value(Name),
    Entry(Name, u64),
}

impl Victim {
    /// The write of `r` (meant elsewhere) landing here.
    fn landed(self, r: Shared) -> Op {
        match self {
            Victim::Value(k) => Op::Put(k, r),
            Victim::Entry(l, i) => Op::Overwrite(l, i, r),
        }
    }
    fn get_mut(self, store: &mut Store) -> Option<&mut Shared> {
        match self {
            Victim::Value(k) => store.values.get_mut(&k),
            Victim::Entry(l, i) => {
                let log = store.logs.get_mut(&l)?;
                let at = i.checked_sub(log.base)?;
                log.records.get_mut(at as usize)
            }
        }
    }
}

/// A record failed its checksum: torn by a crash or corrupted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt record {what}: checksum mismatch")]
pub struct Corrupt {
    /// The key, or `log[index]`.
    pub what: String,
}

/// Counters for reports and for bounding memory.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Bytes currently stored (values and log records).
    pub bytes: u64,
    /// fsync calls so far.
    pub fsyncs: u64,
    /// Writes lost to crashes so far.
    pub lost_writes: u64,
    /// Records damaged by faults so far (corrupted, misdirected, flipped).
    pub damaged_records: u64,
}

/// One process's disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    current: Store,
    durable: Store,
    pending: Vec<Op>,
    fsyncs: u64,
    lost_writes: u64,
    damaged_records: u64,
    faults: DiskFaults,
    /// The faults' stream (set with the faults).
    rng: Option<ChaCha8Rng>,
    /// The time of the process's current step (for latency).
    now: SimTime,
    /// The disk is busy with earlier writes and fsyncs until then.
    busy_until: SimTime,
}

impl Disk {
    /// An empty disk.
    pub fn new() -> Disk {
        Disk::default()
    }

    /// Gives the disk storage faults, drawn from `rng` (its own stream).
    pub fn set_faults(&mut self, faults: DiskFaults, rng: ChaCha8Rng) {
        self.faults = faults;
        self.rng = (!faults.is_none()).then_some(rng);
    }

    /// The time of the step now running (the kernel sets it before a
    /// process uses its disk).
    pub fn set_now(&mut self, now: SimTime) {
        self.now = now;
    }

    /// How long after `now` the disk is still busy: what a message sent
    /// now waits before it leaves.
    pub fn lag_us(&self, now: SimTime) -> u64 {
        self.busy_until.as_micros().saturating_sub(now.as_micros())
    }

    /// One write or fsync takes its time.
    fn busy(&mut self) {
        let (lo, hi) = self.faults.latency_us;
        if hi == 0 {
            return;
        }
        if let Some(rng) = self.rng.as_mut() {
            let d = uniform_u64(rng, lo, hi);
            let start = self.busy_until.max(self.now);
            self.busy_until = SimTime(start.as_micros() + d);
        }
    }

    fn write(&mut self, op: Op) {
        let op = match self.rng.is_some() {
            true => match self.faulty(op) {
                Some(op) => op,
                None => return,
            },
            false => op,
        };
        self.current.apply(op.clone());
        self.pending.push(op);
    }

    /// A write under the configured faults: corrupted (the record stored
    /// with flipped bits), misdirected (`None`: done here), or as asked.
    fn faulty(&mut self, op: Op) -> Option<Op> {
        self.busy();
        let faults = self.faults;
        let rng = self.rng.as_mut()?;
        let record = match &op {
            Op::Put(_, r) | Op::Append(_, r) => Rc::clone(r),
            _ => return Some(op),
        };
        if chance(rng, faults.misdirected) {
            self.damaged_records += 1;
            let victim = self.pick_record(&op);
            let intended = match op {
                Op::Put(k, r) => Op::Put(k, Rc::new(r.unwritten())),
                Op::Append(l, r) => Op::Append(l, Rc::new(r.unwritten())),
                other => other,
            };
            for o in [Some(intended), victim.map(|v| v.landed(record))]
                .into_iter()
                .flatten()
            {
                self.current.apply(o.clone());
                self.pending.push(o);
            }
            return None;
        }
        let rng = self.rng.as_mut()?;
        if chance(rng, faults.corruption) {
            let bad = Rc::new(record.flipped(rng));
            self.damaged_records += 1;
            return Some(match op {
                Op::Put(k, _) => Op::Put(k, bad),
                Op::Append(l, _) => Op::Append(l, bad),
                other => other,
            });
        }
        Some(op)
    }

    /// Another stored record than the one `op` writes, drawn at random.
    fn pick_record(&mut self, op: &Op) -> Option<Victim> {
        let mut all: Vec<Victim> = Vec::new();
        for k in self.current.values.keys() {
            if !matches!(op, Op::Put(t, _) if t == k) {
                all.push(Victim::Value(Rc::clone(k)));
            }
        }
        for (l, log) in &self.current.logs {
            for i in 0..log.records.len() as u64 {
                all.push(Victim::Entry(Rc::clone(l), log.base + i));
            }
        }
        let rng = self.rng.as_mut()?;
        if all.is_empty() {
            return None;
        }
        let i = uniform_u64(rng, 0, all.len() as u64 - 1) as usize;
        Some(all.swap_remove(i))
    }

    /// Flips bits in some of the stored records (each with chance `share`,
    /// at least one if any exists), durable or not: a failing medium.
    /// Returns how many records were damaged.
    pub fn corrupt(&mut self, rng: &mut ChaCha8Rng, share: f64) -> u64 {
        let mut damaged = 0;
        let mut first: Option<Victim> = None;
        let mut chosen: Vec<Victim> = Vec::new();
        for k in self.durable.values.keys() {
            let v = Victim::Value(Rc::clone(k));
            first.get_or_insert_with(|| v.clone());
            if chance(rng, share) {
                chosen.push(v);
            }
        }
        for (l, log) in &self.durable.logs {
            for i in 0..log.records.len() as u64 {
                let v = Victim::Entry(Rc::clone(l), log.base + i);
                first.get_or_insert_with(|| v.clone());
                if chance(rng, share) {
                    chosen.push(v);
                }
            }
        }
        if chosen.is_empty() {
            chosen.extend(first);
        }
        for v in chosen {
            let Some(r) = v.clone().get_mut(&mut self.durable) else {
                continue;
            };
            let before = Rc::clone(r);
            let bad = Rc::new(r.flipped(rng));
            *r = Rc::clone(&bad);
            // What reads see is the same record unless a newer write is buffered.
            if let Some(c) = v.get_mut(&mut self.current)
                && *c == before
            {
                *c = bad;
            }
            damaged += 1;
        }
        self.damaged_records += damaged;
        damaged
    }

    /// Buffers `key = value`.
    pub fn put(&mut self, key: &str, value: Vec<u8>) {
        let r = Record::new(value, address(key, None));
        self.write(Op::Put(Rc::from(key), Rc::new(r)));
    }

    /// Buffers the removal of `key`.
    pub fn delete(&mut self, key: &str) {
        self.write(Op::Delete(Rc::from(key)));
    }

    /// The value of `key` as reads see it (including unsynced writes).
    pub fn get(&self, key: &str) -> Result<Option<&[u8]>, Corrupt> {
        match self.current.values.get(key) {
            None => Ok(None),
            Some(r) if r.verify(address(key, None)) => Ok(Some(&r.data)),
            Some(_) => Err(Corrupt {
                what: key.to_string(),
            }),
        }
    }

    /// The keys of the values that start with `prefix`, in order, as reads
    /// see them (whether or not their records pass their checksums): the
    /// directory listing a store scans when its own list of what it holds
    /// is damaged.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.current
            .values
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| &**k)
            .take_while(move |k| k.starts_with(prefix))
    }

    /// Buffers a record at the end of `log`; returns its index.
    pub fn append(&mut self, log: &str, record: Vec<u8>) -> u64 {
        let index = self.log_end(log);
        let r = Record::new(record, address(log, Some(index)));
        self.write(Op::Append(Rc::from(log), Rc::new(r)));
        index
    }

    /// Buffers the removal of every record of `log` at index `len` and after.
    pub fn truncate(&mut self, log: &str, len: u64) {
        self.write(Op::Truncate(Rc::from(log), len));
    }

    /// Buffers the removal of every record of `log` before index `upto`
    /// (after a snapshot made them unnecessary).
    pub fn compact(&mut self, log: &str, upto: u64) {
        self.write(Op::Compact(Rc::from(log), upto));
    }

    /// The indexes `log` holds, `log_start(log)..log_end(log)`, with one
    /// lookup of the log.
    pub fn log_range(&self, log: &str) -> std::ops::Range<u64> {
        self.current
            .logs
            .get(log)
            .map_or(0..0, |l| l.base..l.base + l.records.len() as u64)
    }

    /// The index of the first record still held (after compaction).
    pub fn log_start(&self, log: &str) -> u64 {
        self.current.logs.get(log).map_or(0, |l| l.base)
    }

    /// One past the index of the last record.
    pub fn log_end(&self, log: &str) -> u64 {
        self.current
            .logs
            .get(log)
            .map_or(0, |l| l.base + l.records.len() as u64)
    }

    /// The record at `index`, `None` when outside the log.
    pub fn entry(&self, log: &str, index: u64) -> Result<Option<&[u8]>, Corrupt> {
        let Some(l) = self.current.logs.get(log) else {
            return Ok(None);
        };
        if index < l.base {
            return Ok(None);
        }
        match l.records.get((index - l.base) as usize) {
            None => Ok(None),
            Some(r) if r.verify(address(log, Some(index))) => Ok(Some(&r.data)),
            Some(_) => Err(Corrupt {
                what: format!("{log}[{index}]"),
            }),
        }
    }

    /// Whether every record of `log` at the indexes `range` passes its
    /// checksum: `entry(log, i).is_ok()` for each `i`, the log looked up
    /// and its name hashed once (a scrub checks hundreds of records in a
    /// row, and each `entry` paid both again).
    pub fn log_intact(&self, log: &str, range: std::ops::Range<u64>) -> bool {
        let Some(l) = self.current.logs.get(log) else {
            return true;
        };
        let name = address(log, None);
        range.filter(|&i| i >= l.base).all(|index| {
            l.records
                .get((index - l.base) as usize)
                .is_none_or(|r| r.verify(name ^ address_offset(index)))
        })
    }

    /// The bytes at log record `index` whether or not they pass their
    /// checksum: only for a planted bug (storage that trusts what it reads).
    pub fn entry_unchecked(&self, log: &str, index: u64) -> Option<&[u8]> {
        let l = self.current.logs.get(log)?;
        let i = index.checked_sub(l.base)?;
        l.records.get(i as usize).map(|r| &r.data[..])
    }

    /// The bytes of `key` whether or not they pass their checksum: only
    /// for a planted bug.
    pub fn get_unchecked(&self, key: &str) -> Option<&[u8]> {
        self.current.values.get(key).map(|r| &r.data[..])
    }

    /// Makes every buffered write durable. With nothing buffered it has
    /// nothing to flush and takes no time (a real fsync of clean files
    /// returns at once).
    pub fn fsync(&mut self) {
        self.fsyncs += 1;
        if self.rng.is_some() && !self.pending.is_empty() {
            self.busy();
        }
        for op in self.pending.drain(..) {
            self.durable.apply(op);
        }
    }

    /// True when there are writes not yet fsynced.
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What a crash leaves: the durable state, and with `torn` the last
    /// unsynced write half-applied. Returns the number of writes lost.
    pub fn crash(&mut self, torn: bool) -> u64 {
        let lost = self.pending.len() as u64;
        if torn && let Some(last) = self.pending.pop() {
            let torn_op = match last {
                Op::Put(k, r) => Some(Op::Put(k, Rc::new(r.torn()))),
                Op::Append(l, r) => Some(Op::Append(l, Rc::new(r.torn()))),
                _ => None,
            };
            if let Some(op) = torn_op {
                self.durable.apply(op);
            }
        }
        self.pending.clear();
        self.current = self.durable.clone();
        self.lost_writes += lost;
        self.busy_until = SimTime::ZERO;
        lost
    }

    /// Wipes everything, durable or not (a lost or replaced disk).
    pub fn wipe(&mut self) {
        self.lost_writes += self.pending.len() as u64;
        self.current = Store::default();
        self.durable = Store::default();
        self.pending.clear();
    }

    /// Counters: bytes stored, fsyncs, writes lost.
    pub fn stats(&self) -> DiskStats {
        let values: usize = self
            .current
            .values
            .iter()
            .map(|(k, r)| k.len() + r.data.len())
            .sum();
        let logs: usize = self
            .current
            .logs
            .values()
            .flat_map(|l| l.records.iter())
            .map(|r| r.data.len())
            .sum();
        DiskStats {
            bytes: (values + logs) as u64,
            fsyncs: self.fsyncs,
            lost_writes: self.lost_writes,
            damaged_records: self.damaged_records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_are_lost_on_crash_and_synced_ones_kept() {
        let mut d = Disk::new();
        d.put("term", b"3".to_vec());
        d.append("log", b"a".to_vec());
        d.fsync();
        d.put("term", b"4".to_vec());
        d.append("log", b"b".to_vec());
        assert_eq!(
            d.get("term").unwrap(),
            Some(&b"4"[..]),
            "reads see buffered writes"
        );
        assert_eq!(d.crash(false), 2);
        assert_eq!(d.get("term").unwrap(), Some(&b"3"[..]));
        assert_eq!(d.log_end("log"), 1);
        assert_eq!(d.entry("log", 0).unwrap(), Some(&b"a"[..]));
    }

    #[test]
    fn a_torn_write_is_detected_not_read() {
        let mut d = Disk::new();
        d.append("log", b"first".to_vec());
        d.fsync();
        d.append("log", b"second record".to_vec());
        d.crash(true);
        assert_eq!(d.log_end("log"), 2);
        assert_eq!(d.entry("log", 0).unwrap(), Some(&b"first"[..]));
        assert!(d.entry("log", 1).is_err());
    }

    #[test]
    fn a_range_is_intact_exactly_when_each_entry_reads() {
        let mut d = Disk::new();
        for i in 0..6u8 {
            d.append("log", vec![i; 3]);
        }
        d.fsync();
        d.compact("log", 1);
        d.append("log", b"torn".to_vec());
        d.crash(true);
        // Compacted at the start, torn at the end (index 6): the ranges
        // reach past both ends.
        assert!(d.entry("log", 6).is_err());
        for from in 0..9 {
            for to in from..9 {
                let each = (from..to).all(|i| d.entry("log", i).is_ok());
                assert_eq!(d.log_intact("log", from..to), each, "{from}..{to}");
            }
        }
        assert!(d.log_intact("no such log", 0..3));
    }

    #[test]
    fn compaction_and_truncation_keep_indices() {
        let mut d = Disk::new();
        for i in 0..10u8 {
            d.append("log", vec![i]);
        }
        d.compact("log", 4);
        d.truncate("log", 8);
        d.fsync();
        d.crash(false);
        assert_eq!((d.log_start("log"), d.log_end("log")), (4, 8));
        assert_eq!(d.log_range("log"), 4..8);
        assert_eq!(d.log_range("no such log"), 0..0);
        assert_eq!(d.entry("log", 5).unwrap(), Some(&[5u8][..]));
        assert_eq!(d.entry("log", 3).unwrap(), None);
    }

    #[test]
    fn a_log_emptied_from_its_start_reads_as_one_never_written() {
        let mut d = Disk::new();
        for i in 0..3u8 {
            d.append("old", vec![i]);
            d.append("kept", vec![i]);
        }
        d.compact("kept", 2);
        d.fsync();
        d.truncate("old", 0);
        d.truncate("kept", 0);
        d.fsync();
        d.crash(false);
        assert_eq!((d.log_start("old"), d.log_end("old")), (0, 0));
        assert_eq!(d.entry("old", 0).unwrap(), None);
        assert!(d.log_intact("old", 0..3));
        assert_eq!(d.append("old", b"again".to_vec()), 0);
        // A compacted log emptied keeps its place: the next index follows.
        assert_eq!((d.log_start("kept"), d.log_end("kept")), (2, 2));
        assert_eq!(d.append("kept", b"next".to_vec()), 2);
        assert_eq!(d.stats().bytes, 9);
    }

    #[test]
    fn wipe_loses_everything() {
        let mut d = Disk::new();
        d.put("k", vec![1]);
        d.fsync();
        d.wipe();
        assert_eq!(d.get("k").unwrap(), None);
    }

    fn faulty(faults: DiskFaults) -> Disk {
        let mut d = Disk::new();
        d.set_faults(faults, crate::sim::rng::stream(7, "disk/test"));
        d
    }

    #[test]
    fn a_corrupted_write_fails_its_checksum() {
        let mut d = faulty(DiskFaults {
            corruption: 1.0,
            ..DiskFaults::default()
        });
        d.append("log", b"record".to_vec());
        d.put("k", b"value".to_vec());
        assert!(d.entry("log", 0).is_err());
        assert!(d.get("k").is_err());
        assert_eq!(d.stats().damaged_records, 2);
    }

    #[test]
    fn a_misdirected_write_damages_two_records_and_is_never_read_as_good() {
        let mut d = Disk::new();
        d.put("a", b"first".to_vec());
        d.append("log", b"zero".to_vec());
        d.set_faults(
            DiskFaults {
                misdirected: 1.0,
                ..DiskFaults::default()
            },
            crate::sim::rng::stream(7, "disk/test"),
        );
        d.put("b", b"second".to_vec());
        assert!(d.get("b").is_err(), "the intended record was not written");
        let others = [d.get("a").is_err(), d.entry("log", 0).is_err()];
        assert_eq!(
            others.iter().filter(|x| **x).count(),
            1,
            "it landed on one other record"
        );
    }

    #[test]
    fn corrupt_flips_durable_records_and_reads_detect_them() {
        let mut d = Disk::new();
        for i in 0..20u8 {
            d.append("log", vec![i; 8]);
        }
        d.fsync();
        let mut rng = crate::sim::rng::stream(1, "faults/corrupt");
        let n = d.corrupt(&mut rng, 0.25);
        assert!(n >= 1);
        let bad = (0..20).filter(|i| d.entry("log", *i).is_err()).count() as u64;
        assert_eq!(bad, n);
        d.crash(false);
        let still = (0..20).filter(|i| d.entry("log", *i).is_err()).count() as u64;
        assert_eq!(still, n, "the damage is on the medium: a restart keeps it");
    }

    #[test]
    fn keys_with_a_prefix_are_listed_damaged_or_not() {
        let mut d = Disk::new();
        for k in [
            "data/p1/snap",
            "data/p10/snap",
            "data/parts",
            "datb",
            "node/x",
        ] {
            d.put(k, b"v".to_vec());
        }
        let mut rng = crate::sim::rng::stream(3, "faults/corrupt");
        d.fsync();
        d.corrupt(&mut rng, 1.0);
        let keys: Vec<&str> = d.keys_with_prefix("data/p").collect();
        assert_eq!(keys, ["data/p1/snap", "data/p10/snap", "data/parts"]);
        assert_eq!(d.keys_with_prefix("zz").count(), 0);
    }

    #[test]
    fn writes_and_fsyncs_keep_the_disk_busy() {
        let mut d = faulty(DiskFaults {
            latency_us: (100, 100),
            ..DiskFaults::default()
        });
        d.set_now(SimTime(1_000));
        d.append("log", vec![1]);
        d.fsync();
        assert_eq!(d.lag_us(SimTime(1_000)), 200);
        assert_eq!(d.lag_us(SimTime(1_150)), 50);
        assert_eq!(Disk::new().lag_us(SimTime(5)), 0, "no faults: no lag");
        d.fsync();
        assert_eq!(d.lag_us(SimTime(1_000)), 200, "a clean fsync takes no time");
    }
}
