//! The event queue: a binary heap ordered by `(time, seq)`.
//!
//! `seq` is a global insertion counter, so entries at equal times pop in the
//! order they were pushed — the property that makes a run a pure function of
//! its inputs. Cancellation is lazy: a cancelled timer's entry stays in the
//! heap and is skipped when it pops (its generation no longer matches), so
//! cancelling never scans.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

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

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A min-queue of items by `(time, insertion order)`.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
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
            heap: BinaryHeap::with_capacity(1024),
            next_seq: 0,
        }
    }

    /// Queues `item` at `time`, after everything already queued at that time.
    #[inline]
    pub fn push(&mut self, time: SimTime, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, item });
    }

    /// The time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<T>> {
        self.heap.pop()
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
