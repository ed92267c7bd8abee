//! The event queue: a 4-ary heap ordered by `(time, seq)`.
//!
//! `seq` is a global insertion counter, so entries at equal times pop in the
//! order they were pushed — the property that makes a run a pure function of
//! its inputs. Cancellation is lazy: a cancelled timer's entry stays in the
//! heap and is skipped when it pops (its generation no longer matches), so
//! cancelling never scans; once many are dead, the kernel drops them all
//! in one linear pass ([`EventQueue::retain`]).

use super::time::SimTime;

/// One queued item with its position in the total order.
#[derive(Debug)]
pub struct Entry<T> {
    /// When it happens.
    pub time: SimTime,
    /// Insertion order among entries of equal time.
    pub seq: u64,
    /// What happens.
    pub item: T,
}

/// The heap's part of an entry: its place in the order and where its item
/// waits. Items (a message can be a few hundred bytes) stay put in a slab
/// while the heap moves these 24 bytes up and down: a pop used to move a
/// whole item per level of the heap.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Key {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Key {
    /// Earlier in the order: by time, then insertion.
    #[inline(always)]
    fn before(&self, other: &Key) -> bool {
        (self.time.0, self.seq) < (other.time.0, other.seq)
    }
}

/// Children per node of the heap. Four: half the levels of a binary heap,
/// and a node's children (4 × 24 bytes) span one or two cache lines, so a
/// pop from a heap of thousands of timers and messages touches about half
/// the lines a binary heap's does.
const ARITY: usize = 4;

/// A min-heap of keys, `ARITY` children per node. Every key is distinct in
/// `(time, seq)`, so the pop order is the total order whatever the shape.
#[derive(Debug, Default)]
struct Heap {
    keys: Vec<Key>,
}

impl Heap {
    fn with_capacity(n: usize) -> Heap {
        Heap {
            keys: Vec::with_capacity(n),
        }
    }

    #[inline]
    fn push(&mut self, key: Key) {
        let mut i = self.keys.len();
        self.keys.push(key);
        // Sift up: move the hole up past every later parent.
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = self.keys[parent];
            if !key.before(&p) {
                break;
            }
            self.keys[i] = p;
            i = parent;
        }
        self.keys[i] = key;
    }

    #[inline]
    fn peek(&self) -> Option<&Key> {
        self.keys.first()
    }

    #[inline]
    fn pop(&mut self) -> Option<Key> {
        let last = self.keys.pop()?;
        if self.keys.is_empty() {
            return Some(last);
        }
        let top = self.keys[0];
        self.sift_down(0, last);
        Some(top)
    }

    /// Puts `key` in the hole at `i`, moving the hole down to the earliest
    /// child while that child is before `key`.
    #[inline(always)]
    fn sift_down(&mut self, mut i: usize, key: Key) {
        let n = self.keys.len();
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let best = if first + ARITY <= n {
                // All four children: a tournament of selects, no branch
                // to mispredict (which child is earliest is a coin toss).
                let k = &self.keys[first..first + ARITY];
                let a = usize::from(k[1].before(&k[0]));
                let b = 2 + usize::from(k[3].before(&k[2]));
                first + if k[b].before(&k[a]) { b } else { a }
            } else {
                let mut best = first;
                for c in first + 1..n {
                    if self.keys[c].before(&self.keys[best]) {
                        best = c;
                    }
                }
                best
            };
            if !self.keys[best].before(&key) {
                break;
            }
            self.keys[i] = self.keys[best];
            i = best;
        }
        self.keys[i] = key;
    }

    /// Keeps the keys `keep` says to, and makes a heap of them again
    /// (Floyd's bottom-up build: linear in their number).
    fn retain(&mut self, keep: impl FnMut(&Key) -> bool) {
        self.keys.retain(keep);
        for i in (0..self.keys.len().div_ceil(ARITY)).rev() {
            let key = self.keys[i];
            self.sift_down(i, key);
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A min-queue of items by `(time, insertion order)`.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: Heap,
    /// Items by slot; `None` in a free slot.
    items: Vec<Option<T>>,
    /// Slots free for reuse: the slab grows to the queue's peak length, not
    /// with the run's duration.
    free: Vec<u32>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Heap::with_capacity(1024),
            items: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            next_seq: 0,
        }
    }

    /// Queues `item` at `time`, after everything already queued at that time.
    #[inline]
    pub fn push(&mut self, time: SimTime, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.items[slot as usize] = Some(item);
                slot
            }
            None => {
                let slot =
                    u32::try_from(self.items.len()).expect("fewer than 2^32 events queued at once");
                self.items.push(Some(item));
                slot
            }
        };
        self.heap.push(Key { time, seq, slot });
    }

    /// The time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| k.time)
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<T>> {
        let Key { time, seq, slot } = self.heap.pop()?;
        let item = self.items[slot as usize]
            .take()
            .expect("a queued key's slot holds its item");
        self.free.push(slot);
        Some(Entry { time, seq, item })
    }

    /// Drops every entry whose item `keep` rejects, at once; the others
    /// pop in the same order as before. Lazy cancellation leaves dead
    /// entries in the heap until they pop: where many timers are cancelled
    /// (a retry timer per request that is answered), they were a large part
    /// of the heap, and each cost a whole pop. Linear in the queue's length.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let (items, free) = (&mut self.items, &mut self.free);
        self.heap.retain(|k| {
            let slot = &mut items[k.slot as usize];
            if slot.as_ref().is_some_and(&mut keep) {
                return true;
            }
            *slot = None;
            free.push(k.slot);
            false
        });
    }

    /// Entries queued (including cancelled timers not yet popped).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_order_holds_across_reuse() {
        let mut q = EventQueue::new();
        for round in 0..3u64 {
            for i in 0..100u64 {
                q.push(SimTime((i * 7919) % 13 + round * 100), (round, i));
            }
            let mut last = (SimTime(0), 0);
            while let Some(e) = q.pop() {
                assert!((e.time, e.seq) > last || last == (SimTime(0), 0));
                last = (e.time, e.seq);
            }
        }
        assert_eq!(q.items.len(), 100, "the slab stays at the peak length");
        assert!(q.is_empty());
    }

    #[test]
    fn interleaved_pushes_and_pops_come_out_in_order() {
        // Against a sorted list, with many equal times and a queue that
        // grows and shrinks through several heap levels.
        let mut q = EventQueue::new();
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut x: u64 = 12345;
        let mut next = 0u64;
        for step in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let push = !(x >> 33).is_multiple_of(3) || model.is_empty();
            if push && step < 15_000 {
                let t = (x >> 40) % 50 + step / 10;
                q.push(SimTime(t), next);
                model.push((t, next));
                next += 1;
            } else if let Some(e) = q.pop() {
                model.sort_unstable();
                let want = model.remove(0);
                assert_eq!((e.time.0, e.item), want);
                assert_eq!(q.peek_time(), model.iter().min().map(|m| SimTime(m.0)));
            }
        }
        while let Some(e) = q.pop() {
            model.sort_unstable();
            assert_eq!((e.time.0, e.item), model.remove(0));
        }
        assert!(model.is_empty());
    }

    #[test]
    fn retained_entries_pop_as_they_would_have() {
        // Against a sorted list: pushes, pops, and now and then a retain
        // that drops some of the queued items (a different few each time),
        // through heaps of every size up to thousands.
        let mut q = EventQueue::new();
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut x: u64 = 99;
        let mut next = 0u64;
        let mut retained = 0;
        for step in 0..40_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (x >> 33) % 16 {
                0..=8 if step < 30_000 => {
                    let t = (x >> 40) % 40 + step / 8;
                    q.push(SimTime(t), next);
                    model.push((t, next));
                    next += 1;
                }
                9 => {
                    let (k, r) = ((x >> 20) % 5 + 2, (x >> 30) % 2);
                    q.retain(|i| i % k != r);
                    model.retain(|m| m.1 % k != r);
                    retained += 1;
                }
                _ => {
                    model.sort_unstable();
                    let want = (!model.is_empty()).then(|| model.remove(0));
                    assert_eq!(q.pop().map(|e| (e.time.0, e.item)), want);
                    assert_eq!(q.len(), model.len());
                }
            }
        }
        model.sort_unstable();
        let rest: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| (e.time.0, e.item))).collect();
        assert_eq!(rest, model);
        assert!(retained > 1_000);
        assert_eq!(
            q.items.len(),
            q.free.len(),
            "dropped entries free their slots"
        );
    }

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(3), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(3), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|e| e.item)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }
}
