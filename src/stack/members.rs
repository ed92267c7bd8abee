//! The member table of the cluster map: data nodes by id, as a persistent
//! sorted map.
//!
//! Why: every map version is a value of its own — the leader shares one per
//! applied batch with the members it pushes to, and each data node holds the
//! version it applied — so a change to the members of a version that another
//! holds must not change theirs. With one shared `BTreeMap`, the first
//! `AddNode` after every publication copied the whole table: while n nodes
//! register, about n batches each copied up to n members, a cost quadratic in
//! the cluster's size. Here the table is cut into sorted chunks of at most
//! [`MAX_CHUNK`] members, each shared copy-on-write: a copy shares every
//! chunk, and a change copies the chunk list (one pointer per chunk) and the
//! one chunk it touches. Reads are two binary searches.
//!
//! Iteration is in id order, as a `BTreeMap`'s, and the table serializes
//! exactly as one (a map of known length, in key order): the canonical
//! encoding, the digests and the trace do not see the difference.
//!
//! **Invariant.** Chunks are non-empty, each sorted, and every id of a chunk
//! sorts before every id of the next.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

/// A member's state as committed in the map.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// Serving.
    Alive,
    /// Declared dead by the health monitor.
    Dead,
    /// Being decommissioned: its replicas move away, then it is removed.
    Draining,
}

/// A data node in the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Zone (failure domain).
    pub zone: String,
    /// Relative capacity (how many replicas it should carry, relative to others).
    pub capacity: u32,
    /// Committed state.
    pub state: MemberState,
    /// The boot id of the incarnation that registered last: a node that
    /// restarts registers with a new one, and its replicas stop counting
    /// as in sync until they caught up again.
    #[serde(default)]
    pub boot: u32,
}

/// Members per chunk, at most: a full chunk splits in two halves.
pub const MAX_CHUNK: usize = 64;

/// The first 16 bytes of `id` as a big-endian integer, zero-padded.
/// Integers that differ order as their ids do (at the first byte where they
/// differ, either both ids have a byte there, or the shorter one ended and
/// the longer has a non-zero byte); equal ones leave the order to the whole
/// ids. A search compares these integers, in one contiguous block, and
/// follows a pointer to an id only where they are equal.
pub(crate) fn packed(id: &str) -> u128 {
    let bytes = id.as_bytes();
    let mut buf = [0u8; 16];
    let n = bytes.len().min(16);
    buf[..n].copy_from_slice(&bytes[..n]);
    u128::from_be_bytes(buf)
}

/// The order of ids `a` and `b` whose [`packed`] prefixes are equal. Ids of
/// at most 16 bytes with equal prefixes agree up to the shorter one's
/// length, and the longer one's remaining bytes are zero (where the
/// shorter one's pad is): their lengths decide, and their bytes (a pointer
/// away from the table, a cache miss on a large cluster's every lookup)
/// are not read. Longer ids are compared in full.
#[inline]
pub(crate) fn cmp_same_packed(a: &str, b: &str) -> std::cmp::Ordering {
    if a.len() <= 16 && b.len() <= 16 {
        a.len().cmp(&b.len())
    } else {
        a.cmp(b)
    }
}

/// One chunk: entries sorted by id, with each id's [`packed`] beside it.
#[derive(Clone, Default)]
struct Chunk {
    keys: Vec<u128>,
    entries: Vec<(String, Member)>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `id` is (`Err`: where it would go).
    fn find(&self, key: u128, id: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.keys[mid]
                .cmp(&key)
                .then_with(|| cmp_same_packed(&self.entries[mid].0, id))
            {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// True when the chunk's first id sorts at or before `id`.
    fn starts_at_or_before(&self, key: u128, id: &str) -> bool {
        self.keys.first().is_some_and(|&k| {
            k < key || (k == key && cmp_same_packed(&self.entries[0].0, id).is_le())
        })
    }

    fn push(&mut self, id: String, member: Member) {
        self.keys.push(packed(&id));
        self.entries.push((id, member));
    }
}

/// Where [`Members::get_hinted`] last found an id: a chunk and a position
/// in it, good until the table changes shape (and checked before use).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Hint {
    chunk: u32,
    at: u32,
}

/// Data nodes by id (see the module docs).
#[derive(Clone, Default)]
pub struct Members {
    chunks: Rc<Vec<Rc<Chunk>>>,
    len: usize,
}

impl Members {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds `id` if any does: the last chunk whose first id
    /// sorts at or before `id` (the first chunk for an id before them all).
    fn chunk_of(&self, key: u128, id: &str) -> usize {
        let after = self
            .chunks
            .partition_point(|c| c.starts_at_or_before(key, id));
        after.saturating_sub(1)
    }

    /// The chunk and the position in it of member `id`, if it is one.
    fn locate(&self, id: &str) -> Option<(usize, usize)> {
        let key = packed(id);
        let i = self.chunk_of(key, id);
        let j = self.chunks.get(i)?.find(key, id).ok()?;
        Some((i, j))
    }

    /// The member `id`.
    pub fn get(&self, id: &str) -> Option<&Member> {
        let (i, j) = self.locate(id)?;
        Some(&self.chunks[i].entries[j].1)
    }

    /// [`get`](Self::get), trying `hint` first and leaving there where
    /// `id` was found. For a caller that looks the same ids up again and
    /// again (the leader: one per heartbeat of every node), a hint kept
    /// per id makes the lookup one probe, where the two binary searches
    /// were a chain of cache misses on a large cluster. The probed entry is
    /// checked to be `id`'s (ids are unique, so no other entry is), so the
    /// answer is `get`'s whatever the hint: a stale one costs the probe.
    pub fn get_hinted(&self, id: &str, hint: &mut Hint) -> Option<&Member> {
        let key = packed(id);
        let (i, j) = (hint.chunk as usize, hint.at as usize);
        if let Some(c) = self.chunks.get(i)
            && c.keys.get(j) == Some(&key)
            && cmp_same_packed(&c.entries[j].0, id).is_eq()
        {
            return Some(&c.entries[j].1);
        }
        let (i, j) = self.locate(id)?;
        *hint = Hint {
            chunk: u32::try_from(i).unwrap_or(u32::MAX),
            at: u32::try_from(j).unwrap_or(u32::MAX),
        };
        Some(&self.chunks[i].entries[j].1)
    }

    /// True when `id` is a member.
    pub fn contains_key(&self, id: &str) -> bool {
        self.locate(id).is_some()
    }

    /// The member `id`, to change: copies its chunk (and the chunk list) if
    /// another version shares them, and nothing if `id` is no member.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Member> {
        let (i, j) = self.locate(id)?;
        Some(&mut Rc::make_mut(&mut Rc::make_mut(&mut self.chunks)[i]).entries[j].1)
    }

    /// Adds or replaces member `id`; the member it replaced, if any.
    pub fn insert(&mut self, id: String, member: Member) -> Option<Member> {
        let key = packed(&id);
        let i = self.chunk_of(key, &id);
        let chunks = Rc::make_mut(&mut self.chunks);
        let Some(chunk) = chunks.get_mut(i) else {
            let mut chunk = Chunk::default();
            chunk.push(id, member);
            chunks.push(Rc::new(chunk));
            self.len += 1;
            return None;
        };
        let chunk = Rc::make_mut(chunk);
        match chunk.find(key, &id) {
            Ok(j) => Some(std::mem::replace(&mut chunk.entries[j].1, member)),
            Err(j) => {
                chunk.keys.insert(j, key);
                chunk.entries.insert(j, (id, member));
                self.len += 1;
                if chunk.len() > MAX_CHUNK {
                    let middle = chunk.len() / 2;
                    let upper = Chunk {
                        keys: chunk.keys.split_off(middle),
                        entries: chunk.entries.split_off(middle),
                    };
                    chunks.insert(i + 1, Rc::new(upper));
                }
                None
            }
        }
    }

    /// Removes member `id`; the member removed, if any.
    pub fn remove(&mut self, id: &str) -> Option<Member> {
        let (i, j) = self.locate(id)?;
        let chunks = Rc::make_mut(&mut self.chunks);
        let chunk = Rc::make_mut(&mut chunks[i]);
        chunk.keys.remove(j);
        let (_, removed) = chunk.entries.remove(j);
        if chunk.is_empty() {
            chunks.remove(i);
        }
        self.len -= 1;
        Some(removed)
    }

    /// The members in id order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            chunks: self.chunks.iter(),
            cur: None,
            left: self.len,
        }
    }

    /// The ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The members in id order.
    pub fn values(&self) -> impl Iterator<Item = &Member> + '_ {
        self.iter().map(|(_, m)| m)
    }

    /// True when both are one shared table. While a holder keeps a copy,
    /// a change to the other is copy-on-write: the same table is an
    /// unchanged one.
    pub fn same(&self, other: &Members) -> bool {
        Rc::ptr_eq(&self.chunks, &other.chunks)
    }

    /// Chunks this table shares with `other` (the same allocation): what a
    /// change to one did not copy. For tests of the sharing.
    pub fn shared_chunks(&self, other: &Members) -> usize {
        self.chunks
            .iter()
            .filter(|c| other.chunks.iter().any(|o| Rc::ptr_eq(c, o)))
            .count()
    }
}

/// Iterator over [`Members`], in id order.
#[derive(Clone)]
pub struct Iter<'a> {
    chunks: std::slice::Iter<'a, Rc<Chunk>>,
    cur: Option<std::slice::Iter<'a, (String, Member)>>,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Member);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, m)) = self.cur.as_mut().and_then(Iterator::next) {
                self.left -= 1;
                return Some((k, m));
            }
            self.cur = Some(self.chunks.next()?.entries.iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Members {
    type Item = (&'a String, &'a Member);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Members {
    fn eq(&self, other: &Members) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Members {}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Members {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exactly a `BTreeMap`'s encoding: a map of known length, in order.
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        BTreeMap::<String, Member>::deserialize(d).map(Members::from_iter)
    }
}

impl FromIterator<(String, Member)> for Members {
    /// Sorted by id; a repeated id keeps its last member.
    fn from_iter<I: IntoIterator<Item = (String, Member)>>(iter: I) -> Members {
        let all: BTreeMap<String, Member> = iter.into_iter().collect();
        let len = all.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(MAX_CHUNK));
        let mut chunk = Chunk::default();
        for (k, v) in all {
            chunk.push(k, v);
            if chunk.len() == MAX_CHUNK {
                chunks.push(Rc::new(std::mem::take(&mut chunk)));
            }
        }
        if !chunk.is_empty() {
            chunks.push(Rc::new(chunk));
        }
        Members {
            chunks: Rc::new(chunks),
            len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MemberState;
    use super::*;

    /// Prefixes, then `cmp_same_packed` where they are equal, order ids
    /// exactly as `str::cmp` does: ids with zero bytes where another's pad
    /// is, ids of 16 and 17 bytes, prefixes of each other.
    #[test]
    fn packed_order_is_the_ids_order() {
        let ids = [
            "",
            "\0",
            "\0\0",
            "a",
            "a\0",
            "a\0b",
            "ab",
            "n1",
            "n10",
            "n100",
            "n2",
            "n1\0\0",
            "0123456789abcdef",
            "0123456789abcdef\0",
            "0123456789abcdefg",
            "0123456789abcdeg",
            "0123456789abcde",
            "0123456789abcde\0",
            "zz",
            "\u{7f}",
            "\u{e9}t\u{e9}",
        ];
        for a in ids {
            for b in ids {
                let ours = packed(a)
                    .cmp(&packed(b))
                    .then_with(|| cmp_same_packed(a, b));
                assert_eq!(ours, a.cmp(b), "{a:?} against {b:?}");
            }
        }
    }

    fn member(capacity: u32) -> Member {
        Member {
            zone: "a".into(),
            capacity,
            state: MemberState::Alive,
            boot: 0,
        }
    }

    /// A hint kept per id across inserts and removals (chunks split and
    /// vanish, entries shift) never changes an answer: `get_hinted` is `get`.
    #[test]
    fn hinted_lookups_are_plain_ones_whatever_the_hint() {
        let mut m = Members::default();
        let mut hints = vec![Hint::default(); 400];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..4_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 400) as usize;
            let id = format!("n{k}");
            if x.is_multiple_of(3) {
                m.remove(&id);
            } else {
                m.insert(id.clone(), member(step));
            }
            let probe = format!("n{}", (x >> 20) % 400);
            let slot = &mut hints[((x >> 20) % 400) as usize];
            assert_eq!(m.get_hinted(&probe, slot), m.get(&probe), "{probe}");
            // Someone else's hint, or a hint past the end.
            let mut other = hints[k];
            assert_eq!(m.get_hinted(&probe, &mut other), m.get(&probe));
            let mut far = Hint {
                chunk: u32::MAX,
                at: u32::MAX,
            };
            assert_eq!(m.get_hinted(&probe, &mut far), m.get(&probe));
        }
    }

    /// The same operations on a `BTreeMap` and on `Members`, with a copy
    /// kept of every version: each version still reads as it was, and the
    /// tables agree on every read, in every order of ids.
    #[test]
    fn behaves_as_a_btree_map_and_keeps_every_version() {
        let mut model: BTreeMap<String, Member> = BTreeMap::new();
        let mut m = Members::default();
        let mut versions: Vec<(BTreeMap<String, Member>, Members)> = Vec::new();
        // A fixed pseudo-random sequence of ids, inserts and removals.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..3_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = format!("n{}", x % 700);
            match x % 5 {
                0 => assert_eq!(m.remove(&id), model.remove(&id)),
                1 => {
                    if let Some(a) = m.get_mut(&id) {
                        a.capacity = step;
                    }
                    if let Some(b) = model.get_mut(&id) {
                        b.capacity = step;
                    }
                }
                _ => assert_eq!(
                    m.insert(id.clone(), member(step)),
                    model.insert(id, member(step))
                ),
            }
            assert_eq!(m.len(), model.len());
            if step % 97 == 0 {
                versions.push((model.clone(), m.clone()));
            }
        }
        for (model, m) in &versions {
            assert!(m.iter().eq(model.iter()), "a kept version changed");
            assert_eq!(m.iter().len(), model.len());
            for i in 0..700 {
                let id = format!("n{i}");
                assert_eq!(m.get(&id), model.get(&id));
            }
            let round: Members = model.clone().into_iter().collect();
            assert_eq!(&round, m);
        }
        for c in m.chunks.iter() {
            assert!(!c.is_empty() && c.len() <= MAX_CHUNK);
        }
    }

    #[test]
    fn serializes_exactly_as_a_btree_map() {
        let m: Members = (0..200).map(|i| (format!("n{i}"), member(i))).collect();
        let model: BTreeMap<String, Member> =
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&model).unwrap()
        );
        assert_eq!(
            crate::stack::network::payload_digest(&m),
            crate::stack::network::payload_digest(&model)
        );
        let back: Members = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    /// A change to one version copies one chunk: the new table shares all
    /// the others with the old.
    #[test]
    fn a_change_copies_one_chunk() {
        let old: Members = (0..10_000).map(|i| (format!("n{i}"), member(1))).collect();
        let chunks = old.chunks.len();
        let mut new = old.clone();
        new.insert("n10000".into(), member(1));
        assert!(new.shared_chunks(&old) >= chunks - 1);
        let mut new = old.clone();
        new.get_mut("n5000").unwrap().capacity = 2;
        assert_eq!(new.shared_chunks(&old), chunks - 1);
        assert_eq!(old.get("n5000").unwrap().capacity, 1);
    }
}
