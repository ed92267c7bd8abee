//! Rendezvous ranking: the score of a node for a partition, and the best
//! few nodes of every partition kept from one membership to the next.
//!
//! **Responsibility.** [`rank_key`] orders the nodes of a partition (higher
//! wins; ties by node id). [`RankHeads`] holds, per partition, the best
//! [`HEAD`] nodes of the current candidate set, and brings them up to date
//! when the set changes: a node that joins is scored once per partition and
//! enters the heads it beats into; a node that leaves is dropped from the
//! heads that held it, and only those partitions are ranked again over all
//! nodes. While n nodes register one by one, ranking every partition over
//! every node at each change cost n² hashes per partition; this costs n.
//!
//! **Inputs.** The candidate nodes, sorted by id (as the map's members
//! are), and whether scores are weighted by capacity. **Outputs.** Per
//! partition, the head of the ranking as indices into those candidates.
//!
//! **Invariant.** After [`RankHeads::update`], every partition's head is
//! exactly the first `min(HEAD, nodes)` nodes of the whole ranking, in its
//! order — the same as ranking every node from scratch.

use std::cmp::Ordering;

/// A member that may receive replicas.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Node id.
    pub node: String,
    /// Zone.
    pub zone: String,
    /// Relative capacity (at least 1).
    pub capacity: u32,
}

/// Nodes kept per partition.
pub const HEAD: usize = 16;

/// The rendezvous hash of `node` for partition `p`.
fn hrw(p: u32, node: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(node.as_bytes(), 0x9e37_79b9_7f4a_7c15 ^ u64::from(p))
}

/// The rank key of `node` (capacity `capacity`) for partition `p`: higher
/// ranks first. Unweighted: the rendezvous hash. Weighted by capacity:
/// `-c / ln u` (the standard weighting), mapped to a `u64` that orders as
/// [`f64::total_cmp`] does.
pub fn rank_key(p: u32, node: &str, capacity: u32, weighted: bool) -> u64 {
    let h = hrw(p, node);
    if !weighted {
        return h;
    }
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let score = -f64::from(capacity.max(1)) / u.ln();
    let bits = score.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// True when `nodes` are strictly sorted by id: indices then order as ids do.
pub fn sorted_by_id(nodes: &[Candidate]) -> bool {
    nodes.windows(2).all(|w| w[0].node < w[1].node)
}

/// One entry of a head: the key and the node's slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Entry {
    key: u64,
    slot: u32,
}

/// Per partition, the best [`HEAD`] candidates (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct RankHeads {
    weighted: bool,
    /// The candidates ranked, in id order: id, capacity, slot.
    members: Vec<(String, u32, u32)>,
    /// Slot → id (empty when free): the tie-break of equal keys.
    slot_ids: Vec<String>,
    free: Vec<u32>,
    /// Slot → index into the candidates of the last update.
    slot_index: Vec<usize>,
    /// Per partition, best first.
    heads: Vec<Vec<Entry>>,
}

impl RankHeads {
    /// True when `a` ranks before `b`: higher key, then lower id.
    fn before(&self, a: Entry, b: Entry) -> bool {
        match a.key.cmp(&b.key) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.slot_ids[a.slot as usize] < self.slot_ids[b.slot as usize],
        }
    }

    /// The head of partition `p`, as indices into the candidates of the
    /// last [`update`](Self::update), best first.
    pub fn head(&self, p: usize, out: &mut Vec<usize>) {
        out.clear();
        out.extend(
            self.heads[p]
                .iter()
                .map(|e| self.slot_index[e.slot as usize]),
        );
    }

    fn new_slot(&mut self, id: &str) -> u32 {
        match self.free.pop() {
            Some(s) => {
                self.slot_ids[s as usize] = id.to_string();
                s
            }
            None => {
                self.slot_ids.push(id.to_string());
                (self.slot_ids.len() - 1) as u32
            }
        }
    }

    /// Ranks partition `p` over every member from scratch.
    fn rank_partition(&mut self, p: usize) {
        let weighted = self.weighted;
        let mut all: Vec<(u64, usize)> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, (id, cap, _))| (rank_key(p as u32, id, *cap, weighted), i))
            .collect();
        // Members are in id order, so index order is id order.
        let by = |a: &(u64, usize), b: &(u64, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if all.len() > HEAD {
            all.select_nth_unstable_by(HEAD - 1, by);
            all.truncate(HEAD);
        }
        all.sort_unstable_by(by);
        let head = &mut self.heads[p];
        head.clear();
        head.extend(all.iter().map(|&(key, i)| Entry {
            key,
            slot: self.members[i].2,
        }));
    }

    /// Starts again from `nodes` (sorted by id).
    fn rebuild(&mut self, nodes: &[Candidate], weighted: bool, partitions: usize) {
        *self = RankHeads {
            weighted,
            ..RankHeads::default()
        };
        for c in nodes {
            let slot = self.new_slot(&c.node);
            self.members.push((c.node.clone(), c.capacity, slot));
        }
        self.heads = vec![Vec::with_capacity(HEAD); partitions];
        for p in 0..partitions {
            self.rank_partition(p);
        }
    }

    /// Brings the heads up to date for `nodes` (sorted by id, see
    /// [`sorted_by_id`]) and `partitions` partitions.
    pub fn update(&mut self, nodes: &[Candidate], weighted: bool, partitions: usize) {
        debug_assert!(sorted_by_id(nodes));
        let same = self.members.len() == nodes.len()
            && self
                .members
                .iter()
                .zip(nodes)
                .all(|((id, cap, _), c)| *id == c.node && (!weighted || *cap == c.capacity));
        if same && weighted == self.weighted && partitions == self.heads.len() {
            self.index(nodes);
            return;
        }
        if weighted != self.weighted || partitions != self.heads.len() {
            self.rebuild(nodes, weighted, partitions);
            self.index(nodes);
            return;
        }
        // Merge the old members with the new, both in id order. A node
        // whose capacity changed (weighted) leaves and joins again.
        let mut gone: Vec<u32> = Vec::new();
        let mut joined: Vec<usize> = Vec::new();
        let mut members: Vec<(String, u32, u32)> = Vec::with_capacity(nodes.len());
        let old = std::mem::take(&mut self.members);
        let mut old = old.into_iter().peekable();
        for (i, c) in nodes.iter().enumerate() {
            while let Some((id, _, slot)) = old.next_if(|(id, _, _)| *id < c.node) {
                let _ = id;
                gone.push(slot);
            }
            match old.next_if(|(id, _, _)| *id == c.node) {
                Some((id, cap, slot)) if !weighted || cap == c.capacity => {
                    members.push((id, cap, slot));
                }
                Some((_, _, slot)) => {
                    gone.push(slot);
                    joined.push(i);
                    members.push((c.node.clone(), c.capacity, u32::MAX));
                }
                None => {
                    joined.push(i);
                    members.push((c.node.clone(), c.capacity, u32::MAX));
                }
            }
        }
        gone.extend(old.map(|(_, _, slot)| slot));
        // Scoring each joiner in every partition costs as much as ranking
        // every partition again once half the nodes are new.
        if joined.len() * 2 > nodes.len() {
            self.rebuild(nodes, weighted, partitions);
            self.index(nodes);
            return;
        }
        let mut is_gone = vec![false; self.slot_ids.len()];
        for &s in &gone {
            is_gone[s as usize] = true;
        }
        for &i in &joined {
            members[i].2 = self.new_slot(&nodes[i].node);
        }
        self.members = members;
        let full = HEAD.min(self.members.len());
        for p in 0..partitions {
            let before = self.heads[p].len();
            self.heads[p].retain(|e| !is_gone.get(e.slot as usize).copied().unwrap_or(false));
            if self.heads[p].len() < before {
                // A node of the head left: the next best is unknown.
                self.rank_partition(p);
                continue;
            }
            for &i in &joined {
                let (id, cap, slot) = &self.members[i];
                let e = Entry {
                    key: rank_key(p as u32, id, *cap, weighted),
                    slot: *slot,
                };
                let head = &self.heads[p];
                if head.len() >= full && head.last().is_some_and(|&l| !self.before(e, l)) {
                    continue;
                }
                let at = head.partition_point(|&x| self.before(x, e));
                let head = &mut self.heads[p];
                head.insert(at, e);
                head.truncate(full);
            }
        }
        for s in gone {
            self.slot_ids[s as usize].clear();
            self.free.push(s);
        }
        self.index(nodes);
    }

    /// Slot → index into `nodes` (the members, in the same order).
    fn index(&mut self, nodes: &[Candidate]) {
        debug_assert_eq!(nodes.len(), self.members.len());
        self.slot_index.clear();
        self.slot_index.resize(self.slot_ids.len(), usize::MAX);
        for (i, (_, _, slot)) in self.members.iter().enumerate() {
            self.slot_index[*slot as usize] = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head of `p` ranked from scratch: keys, then index.
    fn from_scratch(p: u32, nodes: &[Candidate], weighted: bool) -> Vec<usize> {
        let keys: Vec<u64> = nodes
            .iter()
            .map(|c| rank_key(p, &c.node, c.capacity, weighted))
            .collect();
        let mut idx: Vec<usize> = (0..nodes.len()).collect();
        idx.sort_by(|&a, &b| keys[b].cmp(&keys[a]).then(a.cmp(&b)));
        idx.truncate(HEAD);
        idx
    }

    fn cand(i: u64, cap: u32) -> Candidate {
        Candidate {
            node: format!("n{i}"),
            zone: format!("z{}", i % 3),
            capacity: cap,
        }
    }

    #[test]
    fn heads_kept_across_changes_equal_heads_ranked_from_scratch() {
        // A seeded walk of joins, leaves and capacity changes, weighted and not.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for weighted in [false, true] {
            let mut present: std::collections::BTreeMap<u64, u32> = Default::default();
            let mut heads = RankHeads::default();
            for step in 0..300 {
                let r = next();
                let id = r % 60;
                match (r >> 8) % 4 {
                    0 | 1 => {
                        present.insert(id, 1);
                    }
                    2 => {
                        present.remove(&id);
                    }
                    _ => {
                        present.insert(id, 1 + (r >> 12) as u32 % 3);
                    }
                }
                let mut nodes: Vec<Candidate> = present.iter().map(|(&i, &c)| cand(i, c)).collect();
                nodes.sort();
                let partitions = 40;
                heads.update(&nodes, weighted, partitions);
                let mut got = Vec::new();
                for p in 0..partitions {
                    heads.head(p, &mut got);
                    assert_eq!(
                        got,
                        from_scratch(p as u32, &nodes, weighted),
                        "step {step} partition {p} weighted {weighted}"
                    );
                }
            }
        }
    }

    #[test]
    fn weighted_keys_order_as_total_cmp() {
        for p in 0..50 {
            for a in 0..20u64 {
                for cap in 1..4 {
                    let b = a + 7;
                    let score = |n: u64, c: u32| {
                        let h = hrw(p, &format!("n{n}"));
                        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                        -f64::from(c) / u.ln()
                    };
                    let want = score(a, cap).total_cmp(&score(b, 1));
                    let got = rank_key(p, &format!("n{a}"), cap, true).cmp(&rank_key(
                        p,
                        &format!("n{b}"),
                        1,
                        true,
                    ));
                    assert_eq!(got, want);
                }
            }
        }
    }
}
