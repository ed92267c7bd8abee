//! GridPartitionManager: the grid's geometry and the cluster map.
//!
//! A `width × height` grid of cells is cut into `tile_w × tile_h` tiles; each
//! tile is a partition `p0..pP-1`, numbered row by row. The **cluster map**
//! is the state the managers agree on through Raft: its version, the members
//! (id, zone, capacity, state) and, per partition, the replica list, the
//! primary and the epoch.
//!
//! Pure data and pure functions: the map changes only by [`ClusterMap::apply`]
//! of a committed [`MapCommand`], so every manager that applies the same log
//! holds the same map. Commands that touch a partition name the epoch they
//! were planned against and are ignored — deterministically, everywhere — if
//! the partition moved on meanwhile; every change to a partition's replicas
//! or primary raises its epoch.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Index, IndexMut};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::consensus::{LogCommand, StateMachine};
pub use super::members::{Member, MemberState, Members};
use super::node_id::NodeId;
use crate::sim::process::push_json_str as json_str;

/// The grid and its tiles.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    /// Cells across.
    pub width: u32,
    /// Cells down.
    pub height: u32,
    /// Tile width in cells.
    pub tile_w: u32,
    /// Tile height in cells.
    pub tile_h: u32,
}

impl Geometry {
    /// Tiles across.
    pub fn tiles_x(&self) -> u32 {
        self.width / self.tile_w.max(1)
    }
    /// Tiles down.
    pub fn tiles_y(&self) -> u32 {
        self.height / self.tile_h.max(1)
    }
    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.tiles_x() * self.tiles_y()
    }
    /// Number of cells.
    pub fn cells(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
    /// The partition holding cell `(x, y)`.
    pub fn partition_of(&self, x: u32, y: u32) -> u32 {
        (y / self.tile_h) * self.tiles_x() + x / self.tile_w
    }
    /// The partition holding cell index `cell` (`y * width + x`).
    pub fn partition_of_cell(&self, cell: u64) -> u32 {
        let w = u64::from(self.width.max(1));
        self.partition_of((cell % w) as u32, (cell / w) as u32)
    }
    /// The cells of partition `p`: `(x0, y0, x1, y1)`, exclusive ends.
    pub fn tile(&self, p: u32) -> (u32, u32, u32, u32) {
        let (tx, ty) = (p % self.tiles_x(), p / self.tiles_x());
        (
            tx * self.tile_w,
            ty * self.tile_h,
            (tx + 1) * self.tile_w,
            (ty + 1) * self.tile_h,
        )
    }
}

/// A replica of a partition.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Replica {
    /// The node hosting it.
    pub node: NodeId,
    /// True once it has caught up and counts for acknowledgements.
    pub in_sync: bool,
}

/// One partition's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionConfig {
    /// Replicas, primary first when there is one.
    pub replicas: Vec<Replica>,
    /// The primary (one of the in-sync replicas).
    pub primary: Option<NodeId>,
    /// Raised by every change of replicas or primary.
    pub epoch: u64,
    /// The epoch at which the partition was started again empty after
    /// every copy of it was lost: the writes acknowledged before are gone,
    /// and its primaries serve no cell that no write defined since (see
    /// `MapCommand::SetReplicas::empty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_at: Option<u64>,
    /// Per listed replica that was in sync and no longer is, sorted by
    /// node: the last epoch in which the map counted it in sync. Its copy
    /// holds no write acknowledged in a later epoch (kept by `apply`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<(NodeId, u64)>,
    /// Per listed replica the map has named primary since it was listed,
    /// sorted by node: the last epoch in which it was. A write is
    /// acknowledged in an epoch only by that epoch's primary, which
    /// records the epoch on its disk first (kept by `apply`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_at: Vec<(NodeId, u64)>,
    /// Per node dropped from the list while it was in sync and dead,
    /// sorted by node: the last epoch in which the map counted it in sync.
    /// Its node kept its copy (a running node keeps a copy the map takes
    /// from it as a stray until the leader releases it, and so does a
    /// restarted one), and no leader has heard of it since: with every
    /// listed copy lost it may be the last one, and the partition is not
    /// started again empty before its node returns (forgotten when the
    /// node is alive again, listed again or removed; kept by `apply`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<(NodeId, u64)>,
}

/// Appends `[["node",epoch],...]`, as `serde_json` writes a list of pairs.
fn json_pairs(out: &mut Vec<u8>, pairs: &[(NodeId, u64)]) {
    out.push(b'[');
    for (i, (node, epoch)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        json_str(out, node);
        out.push(b',');
        json_u64(out, *epoch);
        out.push(b']');
    }
    out.push(b']');
}

/// Appends a number as `serde_json` writes it.
fn json_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a string, or `null`, as `serde_json` writes an `Option`.
fn json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends the members' JSON as `serde_json` writes them: a map in id
/// order (see [`Members`]), each member as its derived `Serialize` writes
/// it. By hand: a snapshot writes every member, and on a large cluster
/// serde's generic path was a large part of it.
fn json_members(out: &mut Vec<u8>, members: &Members) {
    out.push(b'{');
    for (i, (id, member)) in members.iter().enumerate() {
        // Every field, so that a new one is not forgotten here.
        let Member {
            zone,
            capacity,
            state,
            boot,
        } = member;
        if i > 0 {
            out.push(b',');
        }
        json_str(out, id);
        out.extend_from_slice(b":{\"zone\":");
        json_str(out, zone);
        out.extend_from_slice(b",\"capacity\":");
        json_u64(out, u64::from(*capacity));
        out.extend_from_slice(match state {
            MemberState::Alive => b",\"state\":\"alive\",\"boot\":",
            MemberState::Dead => b",\"state\":\"dead\",\"boot\":",
            MemberState::Draining => b",\"state\":\"draining\",\"boot\":",
        });
        json_u64(out, u64::from(*boot));
        out.push(b'}');
    }
    out.push(b'}');
}

/// Appends `[{"node":"n1","in_sync":true},...]`, as `serde_json` writes
/// a list of replicas (the derived `Serialize`).
fn json_replicas(out: &mut Vec<u8>, replicas: &[Replica]) {
    out.push(b'[');
    for (i, r) in replicas.iter().enumerate() {
        // Every field, so that a new one is not forgotten here.
        let Replica { node, in_sync } = r;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"node\":");
        json_str(out, node);
        out.extend_from_slice(if *in_sync {
            b",\"in_sync\":true}"
        } else {
            b",\"in_sync\":false}"
        });
    }
    out.push(b']');
}

impl PartitionConfig {
    /// Appends exactly what `serde_json` writes for this configuration
    /// (the derived `Serialize`), written by hand: a snapshot writes every
    /// changed partition's, and serde's generic path was most of it.
    fn write_json(&self, out: &mut Vec<u8>) {
        // Every field, so that a new one is not forgotten here.
        let PartitionConfig {
            replicas,
            primary,
            epoch,
            lost_at,
            left,
            primary_at,
            dropped,
        } = self;
        out.extend_from_slice(b"{\"replicas\":");
        json_replicas(out, replicas);
        out.extend_from_slice(b",\"primary\":");
        json_opt_str(out, primary.as_deref());
        out.extend_from_slice(b",\"epoch\":");
        json_u64(out, *epoch);
        if let Some(at) = lost_at {
            out.extend_from_slice(b",\"lost_at\":");
            json_u64(out, *at);
        }
        if !left.is_empty() {
            out.extend_from_slice(b",\"left\":");
            json_pairs(out, left);
        }
        if !primary_at.is_empty() {
            out.extend_from_slice(b",\"primary_at\":");
            json_pairs(out, primary_at);
        }
        if !dropped.is_empty() {
            out.extend_from_slice(b",\"dropped\":");
            json_pairs(out, dropped);
        }
        out.push(b'}');
    }

    /// The last epoch in which the map counted `node`'s replica in sync,
    /// if it is listed, was in sync once, and no longer is.
    pub fn left_at(&self, node: &str) -> Option<u64> {
        self.left
            .binary_search_by(|(n, _)| n.as_str().cmp(node))
            .ok()
            .map(|i| self.left[i].1)
    }

    /// The last epoch in which the map named `node` primary of this
    /// partition, if it is listed and was primary since it was.
    pub fn primary_at(&self, node: &str) -> Option<u64> {
        self.primary_at
            .binary_search_by(|(n, _)| n.as_str().cmp(node))
            .ok()
            .map(|i| self.primary_at[i].1)
    }

    /// Raises the epoch after a change of replicas or primary, and records
    /// the new epoch's primary (forgetting replicas no longer listed).
    fn raise_epoch(&mut self) {
        self.epoch += 1;
        if let Some(n) = &self.primary {
            match self.primary_at.binary_search_by(|(x, _)| x.cmp(n)) {
                Ok(i) => self.primary_at[i].1 = self.epoch,
                Err(i) => self.primary_at.insert(i, (n.clone(), self.epoch)),
            }
        }
        let replicas = &self.replicas;
        self.primary_at
            .retain(|(n, _)| replicas.iter().any(|x| &x.node == n));
    }

    /// After a change of `replicas` away from `before` (the replicas of
    /// epoch `epoch`): a replica that leaves the in-sync set records
    /// `epoch`; one in sync again, or no longer listed, forgets it.
    fn note_left(&mut self, before: &[Replica], epoch: u64) {
        for r in before.iter().filter(|r| r.in_sync) {
            if self.replicas.iter().any(|x| x.node == r.node && !x.in_sync) {
                match self.left.binary_search_by(|(n, _)| n.cmp(&r.node)) {
                    Ok(i) => self.left[i].1 = epoch,
                    Err(i) => self.left.insert(i, (r.node.clone(), epoch)),
                }
            }
        }
        let replicas = &self.replicas;
        self.left
            .retain(|(n, _)| replicas.iter().any(|x| &x.node == n && !x.in_sync));
    }
}

/// Partitions per copy-on-write chunk of [`Partitions`].
const CHUNK: usize = 64;

/// Every partition's configuration, indexed by partition number, held in
/// shared copy-on-write chunks of [`CHUNK`] partitions.
///
/// Why: every map version is a value of its own (the leader shares one per
/// version with the nodes it pushes to; a node holds the version it
/// applied). With a plain vector each version copied every partition's
/// replica list, so memory grew with versions in flight × partitions and
/// the copies were a large share of the run time. Here a copy shares every
/// chunk, and a command that changes a partition copies only that
/// partition's chunk: a version costs what it changed. Reads are a vector
/// index and a chunk index; serialization is the plain sequence, as before.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Partitions {
    chunks: Vec<Rc<Chunk>>,
    len: usize,
    /// Per node, the partitions whose replicas name it: computed on first
    /// use and shared by every process holding this version; forgotten by
    /// every change (only this module's methods change partitions).
    naming: NamingIndex,
}

/// One chunk of [`Partitions`]: its configurations, and their JSON text
/// once asked for.
///
/// Why the text: a Raft snapshot writes the whole map as JSON every few
/// hundred commands, and between two snapshots almost every chunk is the
/// very one the last snapshot wrote; its text is kept with it. The text is
/// derived data: a clone (made to be changed) starts without it, every
/// change through [`Chunk::parts_mut`] forgets it, and it takes no part in
/// equality.
#[derive(Default)]
struct Chunk {
    parts: Vec<PartitionConfig>,
    /// The configurations as `serde_json` writes them in a sequence,
    /// separated by commas, without the brackets.
    json: std::cell::OnceCell<Box<[u8]>>,
}

impl Chunk {
    fn new(parts: Vec<PartitionConfig>) -> Chunk {
        Chunk {
            parts,
            json: std::cell::OnceCell::new(),
        }
    }

    /// The configurations, to change: copies the chunk if another version
    /// shares it, and forgets its text.
    fn parts_mut(chunk: &mut Rc<Chunk>) -> &mut Vec<PartitionConfig> {
        let chunk = Rc::make_mut(chunk);
        chunk.json.take();
        &mut chunk.parts
    }

    /// The configurations' JSON text (see [`Chunk::json`]).
    fn json(&self) -> &[u8] {
        self.json.get_or_init(|| {
            let mut out = Vec::with_capacity(self.parts.len() * 96);
            for (i, p) in self.parts.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                p.write_json(&mut out);
            }
            out.into_boxed_slice()
        })
    }
}

impl Clone for Chunk {
    fn clone(&self) -> Chunk {
        Chunk::new(self.parts.clone())
    }
}

impl PartialEq for Chunk {
    fn eq(&self, other: &Chunk) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Chunk {}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts.fmt(f)
    }
}

impl std::ops::Deref for Chunk {
    type Target = [PartitionConfig];
    fn deref(&self) -> &[PartitionConfig] {
        &self.parts
    }
}

/// One partition's configuration as a version held it: the shared chunk
/// it was in, kept alive. A chunk is never changed while anything else
/// holds it (a change copies it first), so the same chunk in a later
/// version means the same configuration without comparing it; another
/// chunk (a copy made for any of its partitions) is compared by value.
#[derive(Clone, Debug)]
pub struct Seen {
    chunk: Rc<Chunk>,
    at: usize,
}

/// Node → the partitions whose replica list names it, sorted.
type Naming = BTreeMap<String, Vec<u32>>;

/// The lazily computed [`Partitions::naming`] index. Derived data: a clone
/// starts without it (a clone is made to be changed), and it takes no part
/// in equality.
#[derive(Default)]
struct NamingIndex(std::cell::OnceCell<Naming>);

impl Clone for NamingIndex {
    fn clone(&self) -> Self {
        NamingIndex::default()
    }
}

impl PartialEq for NamingIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for NamingIndex {}

impl Partitions {
    /// `n` partitions with the default (empty) configuration; the full
    /// chunks share one value.
    pub fn new(n: usize) -> Partitions {
        let full = Rc::new(Chunk::new(vec![PartitionConfig::default(); CHUNK]));
        let mut chunks = vec![full; n / CHUNK];
        if !n.is_multiple_of(CHUNK) {
            chunks.push(Rc::new(Chunk::new(vec![
                PartitionConfig::default();
                n % CHUNK
            ])));
        }
        Partitions {
            chunks,
            len: n,
            naming: NamingIndex::default(),
        }
    }

    /// Number of partitions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Partition `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&PartitionConfig> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// What this version holds for partition `i`, kept by a reader to tell
    /// later whether the partition changed (see [`Seen`]).
    pub fn seen(&self, i: usize) -> Option<Seen> {
        let chunk = self.chunks.get(i / CHUNK)?;
        chunk.get(i % CHUNK)?;
        Some(Seen {
            chunk: Rc::clone(chunk),
            at: i % CHUNK,
        })
    }

    /// True when partition `i` is in this version what `seen` holds (then
    /// `seen` moves on to this version's chunk, so that the older one is
    /// freed and the next test is a pointer comparison again).
    #[inline]
    pub fn unchanged_since(&self, i: usize, seen: &mut Seen) -> bool {
        let Some(chunk) = self.chunks.get(i / CHUNK) else {
            return false;
        };
        if Rc::ptr_eq(chunk, &seen.chunk) {
            return true;
        }
        if chunk.get(i % CHUNK) != seen.chunk.get(seen.at) {
            return false;
        }
        seen.chunk = Rc::clone(chunk);
        true
    }

    /// The ranges of partitions, in order, in chunks that `self` does not
    /// share with `other` (of the same length): outside them, each
    /// partition is the very configuration `other` holds.
    pub fn changed_ranges<'a>(
        &'a self,
        other: &'a Partitions,
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
        debug_assert_eq!(self.len, other.len);
        self.chunks
            .iter()
            .zip(&other.chunks)
            .enumerate()
            .filter(|(_, (a, b))| !Rc::ptr_eq(a, b))
            .map(|(c, _)| c * CHUNK..((c + 1) * CHUNK).min(self.len))
    }

    /// Partition `i`, to change (copies its chunk if another version
    /// shares it).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut PartitionConfig> {
        self.naming = NamingIndex::default();
        let chunk = self.chunks.get_mut(i / CHUNK)?;
        if i % CHUNK >= chunk.len() {
            return None;
        }
        Chunk::parts_mut(chunk).get_mut(i % CHUNK)
    }

    /// Applies `f` to every partition for which `touches` holds, copying
    /// only the chunks that hold one.
    pub fn update_where(
        &mut self,
        touches: impl Fn(&PartitionConfig) -> bool,
        mut f: impl FnMut(&mut PartitionConfig),
    ) {
        self.naming = NamingIndex::default();
        for chunk in &mut self.chunks {
            if chunk.iter().any(&touches) {
                for p in Chunk::parts_mut(chunk).iter_mut().filter(|p| touches(p)) {
                    f(p);
                }
            }
        }
    }

    /// The partitions whose replica list names `node`, in order: what a
    /// scan of every partition for `node` finds. The index behind it is
    /// built once per version, on first use, for every node at once, and
    /// shared by whoever holds this version (a data node that must look
    /// at every partition for itself — its first map, a full map — then
    /// reads its own few instead of the cluster's every partition).
    pub fn naming(&self, node: &str) -> &[u32] {
        let index = self.naming.0.get_or_init(|| {
            let mut index = Naming::new();
            for (p, c) in self.iter().enumerate() {
                for r in &c.replicas {
                    let list = match index.get_mut(r.node.as_str()) {
                        Some(list) => list,
                        None => index.entry(r.node.to_string()).or_default(),
                    };
                    if list.last() != Some(&(p as u32)) {
                        list.push(p as u32);
                    }
                }
            }
            index
        });
        index.get(node).map_or(&[], Vec::as_slice)
    }

    /// Appends the partitions' JSON: byte for byte what `serde_json`
    /// writes for them, each chunk's text written at most once (see
    /// [`Chunk`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, chunk) in self.chunks.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(chunk.json());
        }
        out.push(b']');
    }

    /// The partitions in order.
    pub fn iter(&self) -> PartitionsIter<'_> {
        PartitionsIter {
            chunks: self.chunks.iter(),
            cur: [].iter(),
            left: self.len,
        }
    }
}

/// A value per partition, computed from the partition's configuration and
/// recomputed only where that may have changed: for the chunks of
/// [`Partitions`] that are not the very chunks seen at the last update.
///
/// Why: the leader's planning round looks at every partition, and almost
/// every round almost every partition is what it was. Holding the last
/// partitions seen keeps each of their chunks shared, so a command that
/// changes a partition copies its chunk (copy-on-write) and the copy is a
/// different chunk: an unchanged chunk is exactly one still shared. What a
/// value depends on besides its partition (a target, the members) is the
/// caller's to watch: it calls [`PerPartition::clear`] when that changes.
#[derive(Clone, Debug, Default)]
pub struct PerPartition<T> {
    seen: Option<Partitions>,
    values: Vec<T>,
}

impl<T: Clone + Default> PerPartition<T> {
    /// Forgets every value: the next update computes them all.
    pub fn clear(&mut self) {
        self.seen = None;
    }

    /// The values for `parts`, computing `f(p, config)` where needed.
    pub fn update(
        &mut self,
        parts: &Partitions,
        mut f: impl FnMut(usize, &PartitionConfig) -> T,
    ) -> &[T] {
        if self.seen.as_ref().is_none_or(|q| q.len != parts.len) {
            self.seen = None;
            self.values.clear();
            self.values.resize(parts.len, T::default());
        }
        for (c, chunk) in parts.chunks.iter().enumerate() {
            if self
                .seen
                .as_ref()
                .is_some_and(|q| Rc::ptr_eq(&q.chunks[c], chunk))
            {
                continue;
            }
            for (j, config) in chunk.iter().enumerate() {
                let p = c * CHUNK + j;
                self.values[p] = f(p, config);
            }
        }
        self.seen = Some(parts.clone());
        &self.values
    }
}

/// Iterator over [`Partitions`], in partition order.
#[derive(Clone)]
pub struct PartitionsIter<'a> {
    chunks: std::slice::Iter<'a, Rc<Chunk>>,
    cur: std::slice::Iter<'a, PartitionConfig>,
    left: usize,
}

impl<'a> Iterator for PartitionsIter<'a> {
    type Item = &'a PartitionConfig;

    #[inline]
    fn next(&mut self) -> Option<&'a PartitionConfig> {
        loop {
            if let Some(p) = self.cur.next() {
                self.left -= 1;
                return Some(p);
            }
            self.cur = self.chunks.next()?.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for PartitionsIter<'_> {}

impl<'a> IntoIterator for &'a Partitions {
    type Item = &'a PartitionConfig;
    type IntoIter = PartitionsIter<'a>;
    fn into_iter(self) -> PartitionsIter<'a> {
        self.iter()
    }
}

impl Index<usize> for Partitions {
    type Output = PartitionConfig;
    #[inline]
    fn index(&self, i: usize) -> &PartitionConfig {
        match self.get(i) {
            Some(p) => p,
            None => panic!("partition {i} out of range (there are {})", self.len),
        }
    }
}

impl IndexMut<usize> for Partitions {
    /// Copies the partition's chunk if another version shares it.
    fn index_mut(&mut self, i: usize) -> &mut PartitionConfig {
        let len = self.len;
        match self.get_mut(i) {
            Some(p) => p,
            None => panic!("partition {i} out of range (there are {len})"),
        }
    }
}

impl FromIterator<PartitionConfig> for Partitions {
    fn from_iter<I: IntoIterator<Item = PartitionConfig>>(iter: I) -> Partitions {
        let mut chunks = Vec::new();
        let mut len = 0;
        let mut chunk = Vec::with_capacity(CHUNK);
        for p in iter {
            chunk.push(p);
            len += 1;
            if chunk.len() == CHUNK {
                chunks.push(Rc::new(Chunk::new(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(CHUNK),
                ))));
            }
        }
        if !chunk.is_empty() {
            chunks.push(Rc::new(Chunk::new(chunk)));
        }
        Partitions {
            chunks,
            len,
            naming: NamingIndex::default(),
        }
    }
}

impl From<Vec<PartitionConfig>> for Partitions {
    fn from(v: Vec<PartitionConfig>) -> Partitions {
        v.into_iter().collect()
    }
}

impl fmt::Debug for Partitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Partitions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exactly a vector's encoding: a sequence of known length.
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len))?;
        for p in self.iter() {
            seq.serialize_element(p)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Partitions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Partitions, D::Error> {
        Vec::<PartitionConfig>::deserialize(d).map(Partitions::from)
    }
}

/// A change to the map: the entries of the managers' Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapCommand {
    /// A node joins, or a member registers again after a restart (a new
    /// `boot`): then its replicas no longer count as in sync, and the
    /// primary moves off it where another in-sync replica can take over.
    AddNode {
        /// Node id.
        node: String,
        /// Zone.
        zone: String,
        /// Capacity.
        capacity: u32,
        /// The registering incarnation's boot id.
        #[serde(default)]
        boot: u32,
    },
    /// A node leaves the map (after draining).
    RemoveNode {
        /// Node id.
        node: String,
    },
    /// The health monitor declared a node dead.
    MarkDead {
        /// Node id.
        node: String,
    },
    /// A dead node is back.
    MarkAlive {
        /// Node id.
        node: String,
    },
    /// A node starts a graceful decommission.
    Drain {
        /// Node id.
        node: String,
    },
    /// Replaces a partition's replicas and primary, if its epoch is still `epoch`.
    SetReplicas {
        /// Partition.
        partition: u32,
        /// The epoch the change was planned against.
        epoch: u64,
        /// The member generation the change was planned against: ignored
        /// if a member changed since (none: no such condition).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation: Option<u64>,
        /// New replica list.
        replicas: Vec<Replica>,
        /// New primary.
        primary: Option<NodeId>,
        /// Every copy of the partition was lost (each listed node reports
        /// holding nothing): it starts again empty, and the map records the
        /// new epoch as its `lost_at`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        empty: bool,
        /// In-sync replicas this change drops whose nodes the leader has
        /// not heard from lately (cut off, perhaps not yet found dead):
        /// their copies may outlive the change, and the map records them
        /// (`PartitionConfig::dropped`), as it does for a dead node's.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unheard: Vec<NodeId>,
    },
    /// Makes `node` (an in-sync replica) the primary, if the epoch is still `epoch`.
    PromotePrimary {
        /// Partition.
        partition: u32,
        /// The epoch the change was planned against.
        epoch: u64,
        /// The member generation the change was planned against.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation: Option<u64>,
        /// The new primary.
        node: NodeId,
    },
}

impl fmt::Display for MapCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapCommand::AddNode {
                node,
                zone,
                capacity,
                boot,
            } => write!(
                f,
                "AddNode {node} zone={zone} cap={capacity} boot={boot:08x}"
            ),
            MapCommand::RemoveNode { node } => write!(f, "RemoveNode {node}"),
            MapCommand::MarkDead { node } => write!(f, "MarkDead {node}"),
            MapCommand::MarkAlive { node } => write!(f, "MarkAlive {node}"),
            MapCommand::Drain { node } => write!(f, "Drain {node}"),
            MapCommand::SetReplicas {
                partition,
                epoch,
                generation,
                replicas,
                primary,
                empty,
                unheard,
            } => {
                // Written piece by piece, with no string per replica and
                // numbers through `itoa`: the leader traces each command
                // it appends.
                write_planned(f, "SetReplicas", *partition, *epoch, *generation)?;
                f.write_str(" [")?;
                for (i, r) in replicas.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(&r.node)?;
                    if !r.in_sync {
                        f.write_str("~")?;
                    }
                }
                f.write_str("] primary=")?;
                f.write_str(primary.as_deref().unwrap_or("-"))?;
                if *empty {
                    f.write_str(" empty")?;
                }
                if !unheard.is_empty() {
                    f.write_str(" unheard=")?;
                    for (i, n) in unheard.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        f.write_str(n)?;
                    }
                }
                Ok(())
            }
            MapCommand::PromotePrimary {
                partition,
                epoch,
                generation,
                node,
            } => {
                write_planned(f, "PromotePrimary", *partition, *epoch, *generation)?;
                f.write_str(" ")?;
                f.write_str(node)
            }
        }
    }
}

/// What the derived `Serialize` gives to `serde_json`, written by hand: a
/// leader encodes every entry it appends, and serde's generic path was
/// most of that.
impl LogCommand for MapCommand {
    fn write_json(&self, out: &mut Vec<u8>) {
        /// `{"Variant":{"node":"n1"}}`.
        fn node_only(out: &mut Vec<u8>, variant: &[u8], node: &str) {
            out.extend_from_slice(variant);
            out.extend_from_slice(b"\":{\"node\":");
            json_str(out, node);
            out.extend_from_slice(b"}}");
        }
        /// `"partition":p,"epoch":e` and, when there is one, `,"generation":g`.
        fn planned(out: &mut Vec<u8>, partition: u32, epoch: u64, generation: Option<u64>) {
            out.extend_from_slice(b"\"partition\":");
            json_u64(out, u64::from(partition));
            out.extend_from_slice(b",\"epoch\":");
            json_u64(out, epoch);
            if let Some(g) = generation {
                out.extend_from_slice(b",\"generation\":");
                json_u64(out, g);
            }
        }
        match self {
            MapCommand::AddNode {
                node,
                zone,
                capacity,
                boot,
            } => {
                out.extend_from_slice(b"{\"AddNode\":{\"node\":");
                json_str(out, node);
                out.extend_from_slice(b",\"zone\":");
                json_str(out, zone);
                out.extend_from_slice(b",\"capacity\":");
                json_u64(out, u64::from(*capacity));
                out.extend_from_slice(b",\"boot\":");
                json_u64(out, u64::from(*boot));
                out.extend_from_slice(b"}}");
            }
            MapCommand::RemoveNode { node } => node_only(out, b"{\"RemoveNode", node),
            MapCommand::MarkDead { node } => node_only(out, b"{\"MarkDead", node),
            MapCommand::MarkAlive { node } => node_only(out, b"{\"MarkAlive", node),
            MapCommand::Drain { node } => node_only(out, b"{\"Drain", node),
            MapCommand::SetReplicas {
                partition,
                epoch,
                generation,
                replicas,
                primary,
                empty,
                unheard,
            } => {
                out.extend_from_slice(b"{\"SetReplicas\":{");
                planned(out, *partition, *epoch, *generation);
                out.extend_from_slice(b",\"replicas\":");
                json_replicas(out, replicas);
                out.extend_from_slice(b",\"primary\":");
                json_opt_str(out, primary.as_deref());
                if *empty {
                    out.extend_from_slice(b",\"empty\":true");
                }
                if !unheard.is_empty() {
                    out.extend_from_slice(b",\"unheard\":[");
                    for (i, n) in unheard.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        json_str(out, n);
                    }
                    out.push(b']');
                }
                out.extend_from_slice(b"}}");
            }
            MapCommand::PromotePrimary {
                partition,
                epoch,
                generation,
                node,
            } => {
                out.extend_from_slice(b"{\"PromotePrimary\":{");
                planned(out, *partition, *epoch, *generation);
                out.extend_from_slice(b",\"node\":");
                json_str(out, node);
                out.extend_from_slice(b"}}");
            }
        }
    }
}

/// Writes `SetReplicas p3@7` for a command on partition 3 planned
/// against epoch 7, and ` g5` after it if it is conditional on member
/// generation 5.
fn write_planned(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    partition: u32,
    epoch: u64,
    generation: Option<u64>,
) -> fmt::Result {
    f.write_str(name)?;
    f.write_str(" p")?;
    f.write_str(itoa::Buffer::new().format(partition))?;
    f.write_str("@")?;
    f.write_str(itoa::Buffer::new().format(epoch))?;
    if let Some(g) = generation {
        f.write_str(" g")?;
        f.write_str(itoa::Buffer::new().format(g))?;
    }
    Ok(())
}

/// The cluster map: what the managers agree on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMap {
    /// Index of the last applied command (0: nothing applied).
    pub version: u64,
    /// The grid.
    pub geometry: Geometry,
    /// Replicas each partition should have.
    pub replication_factor: u32,
    /// Raised by every change of a member (join, rejoin, removal, death,
    /// return, drain): placement commands computed against an older
    /// generation are ignored.
    #[serde(default)]
    pub generation: u64,
    /// Data nodes by id.
    pub members: Members,
    /// Per partition, indexed by partition number.
    pub partitions: Partitions,
}

impl ClusterMap {
    /// An empty map for a grid.
    pub fn new(geometry: Geometry, replication_factor: u32) -> ClusterMap {
        ClusterMap {
            version: 0,
            geometry,
            replication_factor,
            generation: 0,
            members: Members::default(),
            partitions: Partitions::new(geometry.partitions() as usize),
        }
    }

    /// True for a member that may host replicas.
    pub fn is_alive(&self, node: &str) -> bool {
        self.members
            .get(node)
            .is_some_and(|m| m.state == MemberState::Alive)
    }

    /// Replicas hosted per member (every member listed, even with none).
    pub fn load(&self) -> BTreeMap<&str, u32> {
        let mut load: BTreeMap<&str, u32> = self.members.keys().map(|k| (k.as_str(), 0)).collect();
        for p in &self.partitions {
            for r in &p.replicas {
                if let Some(n) = load.get_mut(r.node.as_str()) {
                    *n += 1;
                }
            }
        }
        load
    }

    /// The partitions a node hosts a replica of.
    pub fn partitions_of(&self, node: &str) -> Vec<u32> {
        self.partitions
            .iter()
            .enumerate()
            .filter(|(_, c)| c.replicas.iter().any(|r| r.node == node))
            .map(|(p, _)| p as u32)
            .collect()
    }

    /// Broken invariants of the map itself (empty when sound): a replica on
    /// a node twice, a primary that is not an in-sync replica, a replica on
    /// a node that is not a member.
    pub fn invariant_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, p) in self.partitions.iter().enumerate() {
            let mut nodes: Vec<&str> = p.replicas.iter().map(|r| r.node.as_str()).collect();
            nodes.sort_unstable();
            if nodes.windows(2).any(|w| w[0] == w[1]) {
                out.push(format!("p{i} has two replicas on one node: {nodes:?}"));
            }
            if let Some(primary) = &p.primary
                && !p.replicas.iter().any(|r| &r.node == primary && r.in_sync)
            {
                out.push(format!("p{i}: primary {primary} is not an in-sync replica"));
            }
            for r in &p.replicas {
                if !self.members.contains_key(&r.node) {
                    out.push(format!("p{i}: replica on {} which is not a member", r.node));
                }
            }
        }
        out
    }

    /// The committed state of a member.
    pub fn state_of(&self, node: &str) -> Option<MemberState> {
        self.members.get(node).map(|m| m.state)
    }

    /// True for a member whose replicas count: alive, or draining (it still
    /// serves until its replicas have moved away).
    pub fn is_usable(&self, node: &str) -> bool {
        self.members
            .get(node)
            .is_some_and(|m| m.state != MemberState::Dead)
    }

    /// In-sync replicas of partition `p` on usable members.
    pub fn in_sync_usable(&self, p: u32) -> usize {
        self.partitions.get(p as usize).map_or(0, |c| {
            c.replicas
                .iter()
                .filter(|r| r.in_sync && self.is_usable(&r.node))
                .count()
        })
    }

    /// Distinct zones of the members that are alive (where replicas may go).
    pub fn alive_zones(&self) -> usize {
        let mut zones: Vec<&str> = self
            .members
            .values()
            .filter(|m| m.state == MemberState::Alive)
            .map(|m| m.zone.as_str())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        zones.len()
    }

    /// The zone of a member (empty for a non-member).
    pub fn zone_of(&self, node: &str) -> &str {
        self.members.get(node).map_or("", |m| m.zone.as_str())
    }

    /// The primary a partition falls back on when its primary cannot serve:
    /// the first in-sync replica on an alive member, else on a draining one.
    pub fn fallback_primary(&self, p: u32, except: &str) -> Option<NodeId> {
        let c = self.partitions.get(p as usize)?;
        let pick = |want: MemberState| {
            c.replicas
                .iter()
                .find(|r| r.in_sync && r.node != except && self.state_of(&r.node) == Some(want))
                .map(|r| r.node.clone())
        };
        pick(MemberState::Alive).or_else(|| pick(MemberState::Draining))
    }

    /// A new incarnation of `node` registered: none of its replicas counts
    /// as in sync any more; where it was primary, another in-sync replica
    /// takes over (or none, until one catches up).
    fn demote(&mut self, node: &str) {
        for i in 0..self.partitions.len() {
            let holds = self.partitions[i]
                .replicas
                .iter()
                .any(|r| r.node == node && r.in_sync);
            if !holds {
                continue;
            }
            let was_primary = self.partitions[i].primary.as_deref() == Some(node);
            let fallback = if was_primary {
                self.fallback_primary(i as u32, node)
            } else {
                None
            };
            let Some(p) = self.partitions.get_mut(i) else {
                continue;
            };
            let before = p.replicas.clone();
            for r in &mut p.replicas {
                if r.node == node {
                    r.in_sync = false;
                }
            }
            if was_primary {
                p.primary = fallback;
            }
            p.note_left(&before, p.epoch);
            p.raise_epoch();
        }
    }

    /// Partition `partition`, if its epoch is still `epoch` and the member
    /// generation still `generation` (when the command names one).
    /// Forgets `node`'s dropped copies (see [`PartitionConfig::dropped`]).
    fn forget_dropped(&mut self, node: &str) {
        if self
            .partitions
            .iter()
            .any(|p| p.dropped.iter().any(|(n, _)| n.as_str() == node))
        {
            self.partitions.update_where(
                |p| p.dropped.iter().any(|(n, _)| n.as_str() == node),
                |p| p.dropped.retain(|(n, _)| n.as_str() != node),
            );
        }
    }

    fn partition_mut(
        &mut self,
        partition: u32,
        epoch: u64,
        generation: Option<u64>,
    ) -> Option<&mut PartitionConfig> {
        if generation.is_some_and(|g| g != self.generation) {
            return None;
        }
        // Checked before `get_mut`, which copies a shared chunk.
        if self.partitions.get(partition as usize)?.epoch != epoch {
            return None;
        }
        self.partitions.get_mut(partition as usize)
    }
}

impl StateMachine for ClusterMap {
    type Command = MapCommand;

    /// What the derived `Serialize` gives to `serde_json`, written field by
    /// field so that the partitions' unchanged chunks are not written again
    /// (a snapshot every few hundred commands wrote the whole map).
    fn write_json(&self, out: &mut Vec<u8>) {
        fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, key: &[u8], value: &T) {
            out.extend_from_slice(key);
            serde_json::to_writer(&mut *out, value).expect("a cluster map serializes to JSON");
        }
        // Every field, so that a new one is not forgotten here.
        let ClusterMap {
            version,
            geometry,
            replication_factor,
            generation,
            members,
            partitions,
        } = self;
        field(out, b"{\"version\":", version);
        field(out, b",\"geometry\":", geometry);
        field(out, b",\"replication_factor\":", replication_factor);
        field(out, b",\"generation\":", generation);
        out.extend_from_slice(b",\"members\":");
        json_members(out, members);
        out.extend_from_slice(b",\"partitions\":");
        partitions.write_json(out);
        out.push(b'}');
    }

    fn apply(&mut self, index: u64, cmd: &MapCommand) {
        self.version = index;
        if matches!(
            cmd,
            MapCommand::AddNode { .. }
                | MapCommand::RemoveNode { .. }
                | MapCommand::MarkDead { .. }
                | MapCommand::MarkAlive { .. }
                | MapCommand::Drain { .. }
        ) {
            self.generation += 1;
        }
        match cmd {
            MapCommand::AddNode {
                node,
                zone,
                capacity,
                boot,
            } => match self.members.get_mut(node) {
                None => {
                    self.members.insert(
                        node.clone(),
                        Member {
                            zone: zone.clone(),
                            capacity: *capacity,
                            state: MemberState::Alive,
                            boot: *boot,
                        },
                    );
                }
                Some(m) if m.boot == *boot => {}
                Some(m) => {
                    // A new incarnation: whatever it held may be stale. Its
                    // state stays (a dead member is re-admitted by
                    // `MarkAlive`, which the health monitor damps).
                    m.boot = *boot;
                    m.zone = zone.clone();
                    m.capacity = *capacity;
                    self.demote(node);
                }
            },
            MapCommand::RemoveNode { node } => {
                self.members.remove(node);
                self.forget_dropped(node);
                // Only partitions it held change (their epoch is raised).
                self.partitions.update_where(
                    |p| {
                        p.replicas.iter().any(|r| &r.node == node)
                            || p.primary.as_deref() == Some(node.as_str())
                    },
                    |p| {
                        p.replicas.retain(|r| &r.node != node);
                        p.left.retain(|(n, _)| n != node);
                        if p.primary.as_deref() == Some(node.as_str()) {
                            p.primary = None;
                        }
                        p.raise_epoch();
                    },
                );
            }
            MapCommand::MarkDead { node } => {
                if let Some(m) = self.members.get_mut(node) {
                    m.state = MemberState::Dead;
                }
            }
            MapCommand::MarkAlive { node } => {
                if let Some(m) = self.members.get_mut(node)
                    && m.state == MemberState::Dead
                {
                    m.state = MemberState::Alive;
                    // Alive, it reports what it holds: its word replaces
                    // the record.
                    self.forget_dropped(node);
                }
            }
            MapCommand::Drain { node } => {
                // Only a live member drains: a dead one is not made usable
                // by it (the leader drains it once it is alive again).
                if let Some(m) = self.members.get_mut(node)
                    && m.state == MemberState::Alive
                {
                    m.state = MemberState::Draining;
                }
            }
            MapCommand::SetReplicas {
                partition,
                epoch,
                generation,
                replicas,
                primary,
                empty,
                unheard,
            } => {
                let members = &self.members;
                let dead = |n: &NodeId| {
                    unheard.contains(n)
                        || members.get(n).is_some_and(|m| m.state == MemberState::Dead)
                };
                let dead_dropped: Vec<NodeId> = self
                    .partitions
                    .get(*partition as usize)
                    .map(|p| {
                        p.replicas
                            .iter()
                            // Dropped first: most replicas stay, and a
                            // list scan is cheaper than a member lookup.
                            .filter(|r| {
                                r.in_sync
                                    && !replicas.iter().any(|x| x.node == r.node)
                                    && dead(&r.node)
                            })
                            .map(|r| r.node.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(p) = self.partition_mut(*partition, *epoch, *generation) {
                    let before = std::mem::replace(&mut p.replicas, replicas.clone());
                    p.primary = primary.clone();
                    let at = p.epoch;
                    for n in dead_dropped {
                        match p.dropped.binary_search_by(|(x, _)| x.cmp(&n)) {
                            Ok(i) => p.dropped[i].1 = at,
                            Err(i) => p.dropped.insert(i, (n, at)),
                        }
                    }
                    let listed = &p.replicas;
                    p.dropped
                        .retain(|(n, _)| !listed.iter().any(|x| &x.node == n));
                    p.note_left(&before, p.epoch);
                    p.raise_epoch();
                    if *empty {
                        p.lost_at = Some(p.epoch);
                    }
                }
            }
            MapCommand::PromotePrimary {
                partition,
                epoch,
                generation,
                node,
            } => {
                if let Some(p) = self.partition_mut(*partition, *epoch, *generation)
                    && p.replicas.iter().any(|r| &r.node == node && r.in_sync)
                {
                    p.primary = Some(node.clone());
                    p.raise_epoch();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_written_by_chunks_is_serde_json() {
        // 3 full chunks and a short one; changes in place (a chunk held
        // once) and copied (a chunk another version shares), each after
        // the text was written.
        let geometry = Geometry {
            width: 200,
            height: 16,
            tile_w: 1,
            tile_h: 16,
        };
        let mut m = ClusterMap::new(geometry, 2);
        let json = |m: &ClusterMap| {
            let mut out = Vec::new();
            m.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(m).unwrap()
            );
        };
        json(&m);
        for (i, node) in ["n1", "n2", "n\"3"].into_iter().enumerate() {
            m.apply(
                i as u64 + 1,
                &MapCommand::AddNode {
                    node: node.into(),
                    zone: "z".into(),
                    capacity: 1,
                    boot: 0,
                },
            );
        }
        json(&m);
        // Members in every state, with numbers and a zone to escape.
        m.apply(
            4,
            &MapCommand::AddNode {
                node: "n4".into(),
                zone: "z\\\u{2}".into(),
                capacity: u32::MAX,
                boot: u32::MAX,
            },
        );
        m.apply(5, &MapCommand::MarkDead { node: "n2".into() });
        m.apply(
            6,
            &MapCommand::Drain {
                node: "n\"3".into(),
            },
        );
        json(&m);
        let held = m.clone();
        for p in [0usize, 63, 64, 150, 199] {
            m.partitions[p].replicas = vec![replica("n1", true), replica("n\"3", false)];
            m.partitions[p].primary = Some("n1".into());
            m.partitions[p].epoch = p as u64;
            json(&m);
            json(&held);
        }
        m.partitions[199].lost_at = Some(4);
        m.partitions[5].left = vec![("n2".into(), 3), ("n\u{1}\\".into(), u64::MAX)];
        m.partitions[5].primary_at = vec![("n1".into(), 0)];
        m.partitions[6].primary_at = vec![("n1".into(), 2), ("é\u{7f}".into(), 9)];
        m.partitions[6].replicas = vec![replica("n\u{1f}", true)];
        json(&m);
        m.apply(9, &MapCommand::RemoveNode { node: "n1".into() });
        json(&m);
        json(&held);
        json(&ClusterMap::new(geometry, 1));
    }

    fn geo() -> Geometry {
        Geometry {
            width: 64,
            height: 32,
            tile_w: 16,
            tile_h: 16,
        }
    }

    #[test]
    fn commands_written_by_hand_are_serde_json() {
        let odd = "q\"\\\u{1}é";
        let r = |node: &str, in_sync| Replica {
            node: node.into(),
            in_sync,
        };
        let mut cmds = vec![
            MapCommand::AddNode {
                node: "n1".into(),
                zone: odd.into(),
                capacity: u32::MAX,
                boot: 0xdead_beef,
            },
            MapCommand::RemoveNode { node: odd.into() },
            MapCommand::MarkDead { node: "n2".into() },
            MapCommand::MarkAlive { node: "n3".into() },
            MapCommand::Drain { node: "n4".into() },
        ];
        for generation in [None, Some(0), Some(u64::MAX)] {
            cmds.push(MapCommand::PromotePrimary {
                partition: u32::MAX,
                epoch: 9,
                generation,
                node: odd.into(),
            });
            for (replicas, primary, empty, unheard) in [
                (vec![], None, false, vec![]),
                (vec![r("n1", true)], Some("n1"), true, vec!["n2".into()]),
                (
                    vec![r(odd, false), r("n1", true), r("n2", false)],
                    Some(odd),
                    false,
                    vec![odd.into(), "n3".into()],
                ),
            ] {
                cmds.push(MapCommand::SetReplicas {
                    partition: 0,
                    epoch: u64::MAX,
                    generation,
                    replicas,
                    primary: primary.map(NodeId::from),
                    empty,
                    unheard,
                });
            }
        }
        for cmd in cmds {
            let mut out = Vec::new();
            cmd.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&cmd).unwrap()
            );
        }
    }

    #[test]
    fn planned_commands_describe_partition_epoch_and_generation() {
        for generation in [None, Some(0), Some(u64::MAX)] {
            let g = generation.map_or(String::new(), |g| format!(" g{g}"));
            let promote = MapCommand::PromotePrimary {
                partition: u32::MAX,
                epoch: 9,
                generation,
                node: "n1".into(),
            };
            let text = format!("PromotePrimary p{}@9{g} n1", u32::MAX);
            assert_eq!(promote.to_string(), text);
            let set = MapCommand::SetReplicas {
                partition: 0,
                epoch: u64::MAX,
                generation,
                replicas: vec![
                    Replica {
                        node: "n1".into(),
                        in_sync: true,
                    },
                    Replica {
                        node: "n2".into(),
                        in_sync: false,
                    },
                ],
                primary: None,
                empty: true,
                unheard: vec!["n3".into(), "n4".into()],
            };
            let text = format!(
                "SetReplicas p0@{}{g} [n1,n2~] primary=- empty unheard=n3,n4",
                u64::MAX
            );
            assert_eq!(set.to_string(), text);
        }
    }

    #[test]
    fn cells_map_to_tiles_row_by_row() {
        let g = geo();
        assert_eq!(g.partitions(), 8);
        assert_eq!(g.partition_of(0, 0), 0);
        assert_eq!(g.partition_of(63, 0), 3);
        assert_eq!(g.partition_of(0, 16), 4);
        assert_eq!(g.partition_of(63, 31), 7);
        assert_eq!(g.partition_of_cell(16 * 64 + 17), 5);
        assert_eq!(g.tile(5), (16, 16, 32, 32));
    }

    fn replica(node: &str, in_sync: bool) -> Replica {
        Replica {
            node: node.into(),
            in_sync,
        }
    }

    #[test]
    fn stale_epochs_are_ignored_everywhere() {
        let mut m = ClusterMap::new(geo(), 2);
        for n in ["n1", "n2", "n3"] {
            m.apply(
                1,
                &MapCommand::AddNode {
                    node: n.into(),
                    zone: "a".into(),
                    capacity: 1,
                    boot: 0,
                },
            );
        }
        let set = MapCommand::SetReplicas {
            partition: 0,
            epoch: 0,
            generation: None,
            replicas: vec![replica("n1", true), replica("n2", true)],
            primary: Some("n1".into()),
            empty: false,
            unheard: Vec::new(),
        };
        m.apply(4, &set);
        assert_eq!(m.partitions[0].epoch, 1);
        m.apply(5, &set); // planned against epoch 0: ignored
        assert_eq!(m.partitions[0].epoch, 1);
        m.apply(
            6,
            &MapCommand::PromotePrimary {
                partition: 0,
                epoch: 1,
                generation: None,
                node: "n2".into(),
            },
        );
        assert_eq!(m.partitions[0].primary.as_deref(), Some("n2"));
        assert_eq!(m.version, 6);
        assert!(m.invariant_violations().is_empty());
    }

    #[test]
    fn a_command_planned_before_a_member_changed_is_ignored() {
        let mut m = ClusterMap::new(geo(), 2);
        for (i, n) in ["n1", "n2", "n3"].iter().enumerate() {
            m.apply(
                i as u64 + 1,
                &MapCommand::AddNode {
                    node: (*n).into(),
                    zone: "a".into(),
                    capacity: 1,
                    boot: 0,
                },
            );
        }
        assert_eq!(m.generation, 3);
        let planned = MapCommand::SetReplicas {
            partition: 0,
            epoch: 0,
            generation: Some(m.generation),
            replicas: vec![replica("n1", true), replica("n2", true)],
            primary: Some("n1".into()),
            empty: false,
            unheard: Vec::new(),
        };
        // The liveness change commits first: the plan no longer applies.
        m.apply(4, &MapCommand::MarkDead { node: "n2".into() });
        m.apply(5, &planned);
        assert_eq!(m.partitions[0].epoch, 0, "ignored");
        assert_eq!(
            planned.to_string(),
            "SetReplicas p0@0 g3 [n1,n2] primary=n1"
        );
        // Planned again against the new generation, it applies.
        let again = MapCommand::SetReplicas {
            partition: 0,
            epoch: 0,
            generation: Some(m.generation),
            replicas: vec![replica("n1", true), replica("n3", true)],
            primary: Some("n1".into()),
            empty: false,
            unheard: Vec::new(),
        };
        m.apply(6, &again);
        assert_eq!(m.partitions[0].epoch, 1);
    }

    #[test]
    fn promoting_a_replica_that_is_not_in_sync_is_refused() {
        let mut m = ClusterMap::new(geo(), 2);
        m.apply(
            1,
            &MapCommand::AddNode {
                node: "n1".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 0,
            },
        );
        m.apply(
            2,
            &MapCommand::AddNode {
                node: "n2".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 0,
            },
        );
        m.apply(
            3,
            &MapCommand::SetReplicas {
                partition: 1,
                epoch: 0,
                generation: None,
                replicas: vec![replica("n1", true), replica("n2", false)],
                primary: Some("n1".into()),
                empty: false,
                unheard: Vec::new(),
            },
        );
        m.apply(
            4,
            &MapCommand::PromotePrimary {
                partition: 1,
                epoch: 1,
                generation: None,
                node: "n2".into(),
            },
        );
        assert_eq!(m.partitions[1].primary.as_deref(), Some("n1"));
    }

    #[test]
    fn removing_a_node_drops_its_replicas_and_raises_epochs() {
        let mut m = ClusterMap::new(geo(), 2);
        m.apply(
            1,
            &MapCommand::AddNode {
                node: "n1".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 0,
            },
        );
        m.apply(
            2,
            &MapCommand::AddNode {
                node: "n2".into(),
                zone: "a".into(),
                capacity: 1,
                boot: 0,
            },
        );
        m.apply(
            3,
            &MapCommand::SetReplicas {
                partition: 2,
                epoch: 0,
                generation: None,
                replicas: vec![replica("n1", true), replica("n2", true)],
                primary: Some("n1".into()),
                empty: false,
                unheard: Vec::new(),
            },
        );
        m.apply(4, &MapCommand::RemoveNode { node: "n1".into() });
        let p = &m.partitions[2];
        assert_eq!((p.replicas.len(), p.primary.clone(), p.epoch), (1, None, 2));
        assert_eq!(m.load().get("n2"), Some(&1));
    }

    #[test]
    fn invariants_catch_a_bad_map() {
        let mut m = ClusterMap::new(geo(), 2);
        m.partitions[0].replicas = vec![replica("n1", true), replica("n1", true)];
        m.partitions[0].primary = Some("n9".into());
        assert_eq!(m.invariant_violations().len(), 4);
    }
}
