//! Simulated durable storage: one disk per process, surviving its crashes.
//!
//! A disk holds named values (`put`/`get`) and named append-only logs
//! (`append`/`entry`/`truncate`/`compact`). Writes are buffered: reads see
//! them at once (the page cache), but only `fsync` makes them durable. On a
//! crash the unsynced writes are lost; with torn writes enabled, the last
//! unsynced write is instead left half-written. Every record carries a
//! checksum, so a torn or corrupted record is detected on read — never
//! silently returned.
//!
//! ```text
//!   put/append ──► current (what reads see) ──fsync──► durable
//!                        ▲                              │
//!                        └────────── crash ─────────────┘  (+ torn last write)
//! ```

use std::collections::{BTreeMap, VecDeque};

/// A stored record: the bytes and the checksum of the bytes that were meant
/// to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    data: Vec<u8>,
    checksum: u64,
}

impl Record {
    fn new(data: Vec<u8>) -> Record {
        let checksum = xxhash_rust::xxh3::xxh3_64(&data);
        Record { data, checksum }
    }
    fn verify(&self) -> bool {
        xxhash_rust::xxh3::xxh3_64(&self.data) == self.checksum
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
        Record {
            data,
            checksum: self.checksum,
        }
    }
}

/// An append-only log whose first `base` entries were compacted away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Log {
    base: u64,
    records: VecDeque<Record>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Store {
    values: BTreeMap<String, Record>,
    logs: BTreeMap<String, Log>,
}

#[derive(Clone, Debug)]
enum Op {
    Put(String, Record),
    Delete(String),
    Append(String, Record),
    Truncate(String, u64),
    Compact(String, u64),
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
}

/// One process's disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    current: Store,
    durable: Store,
    pending: Vec<Op>,
    fsyncs: u64,
    lost_writes: u64,
}

impl Disk {
    /// An empty disk.
    pub fn new() -> Disk {
        Disk::default()
    }

    fn write(&mut self, op: Op) {
        self.current.apply(op.clone());
        self.pending.push(op);
    }

    /// Buffers `key = value`.
    pub fn put(&mut self, key: &str, value: Vec<u8>) {
        self.write(Op::Put(key.to_string(), Record::new(value)));
    }

    /// Buffers the removal of `key`.
    pub fn delete(&mut self, key: &str) {
        self.write(Op::Delete(key.to_string()));
    }

    /// The value of `key` as reads see it (including unsynced writes).
    pub fn get(&self, key: &str) -> Result<Option<&[u8]>, Corrupt> {
        match self.current.values.get(key) {
            None => Ok(None),
            Some(r) if r.verify() => Ok(Some(&r.data)),
            Some(_) => Err(Corrupt {
                what: key.to_string(),
            }),
        }
    }

    /// Buffers a record at the end of `log`; returns its index.
    pub fn append(&mut self, log: &str, record: Vec<u8>) -> u64 {
        let index = self.log_end(log);
        self.write(Op::Append(log.to_string(), Record::new(record)));
        index
    }

    /// Buffers the removal of every record of `log` at index `len` and after.
    pub fn truncate(&mut self, log: &str, len: u64) {
        self.write(Op::Truncate(log.to_string(), len));
    }

    /// Buffers the removal of every record of `log` before index `upto`
    /// (after a snapshot made them unnecessary).
    pub fn compact(&mut self, log: &str, upto: u64) {
        self.write(Op::Compact(log.to_string(), upto));
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
            Some(r) if r.verify() => Ok(Some(&r.data)),
            Some(_) => Err(Corrupt {
                what: format!("{log}[{index}]"),
            }),
        }
    }

    /// Makes every buffered write durable.
    pub fn fsync(&mut self) {
        self.fsyncs += 1;
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
                Op::Put(k, r) => Some(Op::Put(k, r.torn())),
                Op::Append(l, r) => Some(Op::Append(l, r.torn())),
                _ => None,
            };
            if let Some(op) = torn_op {
                self.durable.apply(op);
            }
        }
        self.pending.clear();
        self.current = self.durable.clone();
        self.lost_writes += lost;
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
        assert_eq!(d.entry("log", 5).unwrap(), Some(&[5u8][..]));
        assert_eq!(d.entry("log", 3).unwrap(), None);
    }

    #[test]
    fn wipe_loses_everything() {
        let mut d = Disk::new();
        d.put("k", vec![1]);
        d.fsync();
        d.wipe();
        assert_eq!(d.get("k").unwrap(), None);
    }
}
