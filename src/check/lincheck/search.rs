//! The search for one register's linearization: Wing & Gong's depth-first
//! search as improved by Lowe ("Testing for linearizability", 2017) and used
//! by Porcupine, with a memo of (set of linearized operations, register state).
//!
//! ```text
//!   entries: a doubly linked list of calls and returns in real-time order
//!   walk from the head: a call whose operation the register accepts is
//!     linearized (call and return lifted out of the list, state advanced,
//!     pushed) unless (set, state) is in the memo; the walk restarts at the head
//!   reach a return: its operation was never linearized in time — backtrack
//!     (pop, unlift, try the next call after the popped one)
//!   every operation with a known outcome is linearized: linearizable (the
//!     rest had unknown outcomes: they are left out); the stack empties at a
//!     return: not
//! ```
//!
//! What keeps it fast:
//! - the memo is keyed by a Zobrist hash (an XOR of one random word per
//!   linearized operation, updated in O(1)) mixed with the state; a stored set
//!   keeps only its *window* — the first unlinearized operation `L` and the
//!   words from `L` to the highest linearized operation — since every
//!   operation below `L` is linearized, so an entry is a few words however long
//!   the history;
//! - an operation that would move the register away from a value some
//!   unlinearized `ok` read or cas still needs, when nothing left can write
//!   that value back, is refused at once (with unique values, a wrong order
//!   of writes is found when it is made, not when the read that contradicts
//!   it finally returns);
//! - an operation with an unknown outcome that writes is placed only just
//!   before an operation that needs the value it writes (anywhere else,
//!   leaving it out is the same);
//! - an operation waits while an earlier-invoked one with the same effect and
//!   no later return is unplaced (swapping the two changes nothing);
//! - a read the register accepts is linearized at once with no alternative
//!   tried: a read does not change the state and every operation that must
//!   precede it already has, so if some linearization exists from here one
//!   exists that places the read first (partial-order reduction);
//! - an operation whose outcome is unknown (`info`, or never completed) gets
//!   its return at the end of time, so it may be linearized anywhere after its
//!   invocation, or never; an unknown cas is placed only where it matches;
//!   an unknown write or cas whose value no read and no cas ever
//!   expects cannot help any linearization and is dropped up front; reads
//!   that failed or whose result is unknown constrain nothing and are dropped.
//!
//! When the search fails it reports the deepest point it reached: the longest
//! partial linearization, the state after it, and the operations that could
//! have come next — by construction none of them can: the register holds
//! another value than it needs, or placing it would strand an operation
//! that needs the current value.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::history::{Call, History, Outcome, Value};

/// A register operation with interned values (`0` is `nil`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    Read(u32),
    Write(u32),
    /// An `ok` cas: it must have matched.
    Cas(u32, u32),
    /// A cas with an unknown outcome. Placed only where it matches: placing
    /// it as a no-op would be the same as leaving it out, which is always
    /// allowed for an operation with an unknown outcome, and leaving it
    /// pending keeps strictly more options.
    MaybeCas(u32, u32),
}

impl Step {
    /// Operations with equal classes have the same effect on every state.
    fn class(self) -> (u8, u32, u32) {
        match self {
            Step::Read(v) => (0, v, 0),
            Step::Write(v) => (1, v, 0),
            Step::Cas(e, n) => (2, e, n),
            Step::MaybeCas(e, n) => (3, e, n),
        }
    }

    /// The value this operation needs the register to hold to be placed.
    fn needs(self) -> Option<u32> {
        match self {
            Step::Read(v) | Step::Cas(v, _) | Step::MaybeCas(v, _) => Some(v),
            Step::Write(_) => None,
        }
    }

    /// The value this operation needs the register to hold, if it must be placed.
    fn observes(self) -> Option<u32> {
        match self {
            Step::Read(v) | Step::Cas(v, _) => Some(v),
            Step::Write(_) | Step::MaybeCas(..) => None,
        }
    }

    /// The value this operation may write.
    fn writes(self) -> Option<u32> {
        match self {
            Step::Write(v) | Step::Cas(_, v) | Step::MaybeCas(_, v) => Some(v),
            Step::Read(_) => None,
        }
    }

    fn apply(self, state: u32) -> Option<u32> {
        match self {
            Step::Read(v) => (state == v).then_some(state),
            Step::Write(v) => Some(v),
            Step::Cas(e, n) | Step::MaybeCas(e, n) => (state == e).then_some(n),
        }
    }
}

/// Limits on the search, shared by every key of one check.
#[derive(Debug)]
pub(super) struct Budget {
    deadline: Option<Instant>,
    max_steps: Option<u64>,
    /// Steps taken so far, over all keys.
    pub(super) steps: u64,
    expired: bool,
}

impl Budget {
    pub(super) fn new(timeout: Option<Duration>, max_steps: Option<u64>) -> Budget {
        // A timeout is wall-clock by nature, and asked for only by a person at
        // the command line; the online checker sets none, so runs stay
        // deterministic.
        #[allow(clippy::disallowed_methods)]
        let deadline = timeout.map(|t| Instant::now() + t);
        Budget {
            deadline,
            max_steps,
            steps: 0,
            expired: false,
        }
    }

    /// Count one step; true once the budget is spent.
    #[inline]
    fn spend(&mut self) -> bool {
        self.steps += 1;
        self.expired |= self.max_steps.is_some_and(|m| self.steps > m);
        if self.steps & 0xfff == 0 {
            #[allow(clippy::disallowed_methods)]
            let late = self.deadline.is_some_and(|d| Instant::now() >= d);
            self.expired |= late;
        }
        self.expired
    }

    /// True once the budget is spent (every later key is undecided);
    /// reads the clock, so a key never starts after the deadline.
    pub(super) fn expired(&mut self) -> bool {
        #[allow(clippy::disallowed_methods)]
        let late = self.deadline.is_some_and(|d| Instant::now() >= d);
        self.expired |= late;
        self.expired
    }
}

/// The deepest point a failed search reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Deepest {
    /// History ids, in linearization order.
    pub(super) prefix: Vec<usize>,
    /// The register after the prefix.
    pub(super) state: Value,
    /// History ids of the operations that could have come next (each refused).
    pub(super) stuck: Vec<usize>,
}

/// The verdict on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum KeyVerdict {
    Linearizable,
    NotLinearizable(Deepest),
    Unknown,
}

/// What the search on one key found, with its cost.
#[derive(Clone, Debug)]
pub(super) struct KeyResult {
    pub(super) verdict: KeyVerdict,
    /// Operations searched (after dropping those that constrain nothing).
    pub(super) searched: usize,
    /// Search steps on this key.
    pub(super) steps: u64,
    /// Memo entries at the end.
    pub(super) memo_entries: usize,
}

const HEAD: usize = 0;

/// Check one key: `ids` are the history ids of its operations, in invocation order.
pub(super) fn check_key(
    history: &History,
    ids: &[usize],
    budget: &mut Budget,
    plain: bool,
) -> KeyResult {
    let ops = history.operations();
    // Intern values: 0 is nil.
    let mut values = Interner::default();
    // (history id, step, completes: does it have a known return)
    let mut cand: Vec<(usize, Step, bool)> = Vec::with_capacity(ids.len());
    for &id in ids {
        let op = &ops[id];
        let known = op.outcome == Outcome::Ok;
        let step = match (&op.call, op.outcome) {
            (_, Outcome::Fail) => continue,
            (Call::Read, Outcome::Info) => continue,
            (Call::Read, Outcome::Ok) => {
                Step::Read(values.intern(op.read_value.as_ref().unwrap_or(&Value::Nil)))
            }
            (Call::Write { value }, _) => Step::Write(values.intern(value)),
            (Call::Cas { expected, new }, o) => {
                let (e, n) = (values.intern(expected), values.intern(new));
                if o == Outcome::Ok {
                    Step::Cas(e, n)
                } else {
                    Step::MaybeCas(e, n)
                }
            }
        };
        cand.push((id, step, known));
    }
    // Drop unknown writes and cases whose value nobody ever expects, to a fixpoint.
    let mut keep = vec![true; cand.len()];
    loop {
        let mut observed = vec![false; values.values.len()];
        for (k, &(_, step, _)) in cand.iter().enumerate() {
            match step {
                Step::Read(v) | Step::Cas(v, _) => observed[v as usize] = true,
                Step::MaybeCas(e, _) if keep[k] => observed[e as usize] = true,
                _ => {}
            }
        }
        let mut changed = false;
        for (k, &(_, step, known)) in cand.iter().enumerate() {
            if known || !keep[k] {
                continue;
            }
            if let Step::Write(n) | Step::MaybeCas(_, n) = step
                && !observed[n as usize]
            {
                keep[k] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let kept: Vec<(usize, Step, bool)> = cand
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect();
    let value_count = values.values.len();
    let ops = history.operations();
    // An `ok` read or cas needing a value that no operation of the key ever
    // writes (nor is the initial nil) can never be placed: the key is not
    // linearizable. Searching would only prove it by exhausting every order
    // of what precedes it; instead, show that what precedes it linearizes
    // and that it cannot follow.
    let mut writable = vec![false; value_count];
    writable[0] = true;
    for &(_, step, _) in &kept {
        if let Some(v) = step.writes() {
            writable[v as usize] = true;
        }
    }
    let orphans: Vec<usize> = (0..kept.len())
        .filter(|&i| kept[i].1.observes().is_some_and(|v| !writable[v as usize]))
        .collect();
    if plain {
        let mut search = Search::new(history, &kept, value_count);
        search.plain = true;
        let verdict = match search.run(budget) {
            Run::Linearizable => KeyVerdict::Linearizable,
            Run::Unknown => KeyVerdict::Unknown,
            Run::Not => KeyVerdict::NotLinearizable(Deepest {
                prefix: search.best.iter().map(|&i| kept[i].0).collect(),
                state: values.values[search.best_state as usize].clone(),
                stuck: search.best_stuck.iter().map(|&i| kept[i].0).collect(),
            }),
        };
        return KeyResult {
            verdict,
            searched: kept.len(),
            steps: search.steps,
            memo_entries: search.memo.len(),
        };
    }
    if let Some(&first) = orphans
        .iter()
        .min_by_key(|&&i| (ops[kept[i].0].complete_pos.unwrap_or(u64::MAX), i))
    {
        let until = ops[kept[first].0].complete_pos.unwrap_or(u64::MAX);
        // What precedes it: operations that completed before it must be
        // placed; those still running when it completed may be (or not).
        let before: Vec<(usize, Step, bool)> = kept
            .iter()
            .enumerate()
            .filter(|&(i, &(id, _, _))| ops[id].invoke_pos < until && !orphans.contains(&i))
            .filter_map(|(_, &(id, step, known))| {
                let known = known && ops[id].complete_pos.is_some_and(|c| c < until);
                match (step, known) {
                    (_, true) => Some((id, step, true)),
                    (Step::Read(_), false) => None,
                    (Step::Cas(e, n), false) => Some((id, Step::MaybeCas(e, n), false)),
                    (_, false) => Some((id, step, false)),
                }
            })
            .collect();
        let mut search = Search::new(history, &before, value_count);
        let run = search.run(budget);
        let deepest = |search: &Search, stuck: Vec<usize>| Deepest {
            prefix: search.best.iter().map(|&i| before[i].0).collect(),
            state: values.values[search.best_state as usize].clone(),
            stuck,
        };
        let verdict = match run {
            Run::Linearizable => KeyVerdict::NotLinearizable(deepest(&search, vec![kept[first].0])),
            Run::Not => {
                let stuck = search.best_stuck.iter().map(|&i| before[i].0).collect();
                KeyVerdict::NotLinearizable(deepest(&search, stuck))
            }
            Run::Unknown => KeyVerdict::NotLinearizable(Deepest {
                prefix: Vec::new(),
                state: Value::Nil,
                stuck: vec![kept[first].0],
            }),
        };
        return KeyResult {
            verdict,
            searched: kept.len(),
            steps: search.steps,
            memo_entries: search.memo.len(),
        };
    }
    let mut search = Search::new(history, &kept, value_count);
    let verdict = search.run(budget);
    let verdict = match verdict {
        Run::Linearizable => KeyVerdict::Linearizable,
        Run::Unknown => KeyVerdict::Unknown,
        Run::Not => {
            // The reductions cut dead ends early, which leaves the deepest
            // point short of where a person sees the contradiction. Explain
            // with the plain search (Porcupine's), within a step budget;
            // keep the reduced search's point if that runs out.
            let mut plain = Search::new(history, &kept, value_count);
            plain.plain = true;
            let mut explain = Budget::new(None, Some(search.steps + 100_000));
            let shown = match plain.run(&mut explain) {
                Run::Not => &plain,
                _ => &search,
            };
            KeyVerdict::NotLinearizable(Deepest {
                prefix: shown.best.iter().map(|&i| kept[i].0).collect(),
                state: values.values[shown.best_state as usize].clone(),
                stuck: shown.best_stuck.iter().map(|&i| kept[i].0).collect(),
            })
        }
    };
    KeyResult {
        verdict,
        searched: kept.len(),
        steps: search.steps,
        memo_entries: search.memo.len(),
    }
}

/// Register values of one key, numbered in order of appearance; `nil` is 0.
struct Interner<'h> {
    values: Vec<Value>,
    index: BTreeMap<&'h Value, u32>,
}

impl Default for Interner<'_> {
    fn default() -> Self {
        Interner {
            values: vec![Value::Nil],
            index: BTreeMap::from([(&Value::Nil, 0)]),
        }
    }
}

impl<'h> Interner<'h> {
    fn intern(&mut self, v: &'h Value) -> u32 {
        if let Some(&i) = self.index.get(v) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(v.clone());
        self.index.insert(v, i);
        i
    }
}

enum Run {
    Linearizable,
    Not,
    Unknown,
}

/// One stack frame: the call entry linearized, and what to restore.
#[derive(Copy, Clone)]
struct Frame {
    entry: usize,
    state: u32,
    max_op: usize,
    /// A read placed without alternatives: backtracking passes through it.
    forced: bool,
    /// The constraint before this placement (see `must_observe` in `run`).
    must_observe: bool,
}

struct Search {
    n: usize,
    steps_of: Vec<Step>,
    /// Per entry (0 head, 1..=2n, 2n+1 tail): the operation, and whether it is a call.
    op_of: Vec<usize>,
    is_call: Vec<bool>,
    /// Per operation: its return entry.
    ret_entry: Vec<usize>,
    /// Per operation: its outcome is known, so it must be linearized.
    required: Vec<bool>,
    /// Operations with a known outcome not yet linearized.
    open_required: usize,
    /// Per value: unlinearized operations that need the register to hold it
    /// (`ok` reads of it, `ok` cas expecting it).
    observers: Vec<u32>,
    /// Per value: unlinearized operations that may write it.
    writers: Vec<u32>,
    next: Vec<usize>,
    prev: Vec<usize>,
    zobrist: Vec<u64>,
    /// Without the reductions that refuse a placement for what comes later
    /// (stranding, waiting, placing unknown writes just in time).
    plain: bool,
    /// Per operation: an earlier-invoked operation with the same step whose
    /// return is no later. While it is unlinearized this one waits: placing
    /// it instead is never worse (swap the two in any linearization).
    dominated_by: Vec<Option<usize>>,
    bits: Vec<u64>,
    memo: Memo,
    best: Vec<usize>,
    best_state: u32,
    best_stuck: Vec<usize>,
    steps: u64,
}

impl Search {
    fn new(history: &History, kept: &[(usize, Step, bool)], value_count: usize) -> Search {
        let ops = history.operations();
        let n = kept.len();
        // (position, operation, is_call); unknown returns go after every event.
        let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(2 * n);
        for (i, &(id, _, known)) in kept.iter().enumerate() {
            let op = &ops[id];
            events.push((op.invoke_pos, i, true));
            let ret = if known {
                op.complete_pos.unwrap_or(u64::MAX)
            } else {
                u64::MAX
            };
            events.push((ret, i, false));
        }
        // Calls and returns never share a position except at the end of time,
        // where the order of unknown returns does not matter.
        events.sort_unstable();
        let tail = 2 * n + 1;
        let mut op_of = vec![usize::MAX; 2 * n + 2];
        let mut is_call = vec![false; 2 * n + 2];
        let mut ret_entry = vec![0; n];
        for (k, &(_, i, call)) in events.iter().enumerate() {
            let e = k + 1;
            op_of[e] = i;
            is_call[e] = call;
            if !call {
                ret_entry[i] = e;
            }
        }
        let ret_pos: Vec<u64> = kept
            .iter()
            .map(|&(id, _, known)| {
                if known {
                    ops[id].complete_pos.unwrap_or(u64::MAX)
                } else {
                    u64::MAX
                }
            })
            .collect();
        // The latest few earlier operations per step; a missed dominator only
        // costs time, never soundness.
        let mut recent: BTreeMap<(u8, u32, u32), Vec<usize>> = BTreeMap::new();
        let mut dominated_by = vec![None; n];
        for (i, &(_, step, _)) in kept.iter().enumerate() {
            let class = step.class();
            let earlier = recent.entry(class).or_default();
            dominated_by[i] = earlier
                .iter()
                .rev()
                .take(8)
                .copied()
                .find(|&j| ret_pos[j] <= ret_pos[i]);
            earlier.push(i);
        }
        let next: Vec<usize> = (0..=tail).map(|e| (e + 1).min(tail)).collect();
        let prev: Vec<usize> = (0..=tail).map(|e| e.saturating_sub(1)).collect();
        let zobrist = (0..n as u64)
            .map(|i| splitmix(i ^ 0x6c69_6e63_6865_636b))
            .collect();
        Search {
            n,
            steps_of: kept.iter().map(|&(_, s, _)| s).collect(),
            op_of,
            is_call,
            ret_entry,
            required: kept.iter().map(|&(_, _, known)| known).collect(),
            observers: {
                let mut o = vec![0u32; value_count];
                for &(_, step, _) in kept {
                    if let Some(v) = step.observes() {
                        o[v as usize] += 1;
                    }
                }
                o
            },
            writers: {
                let mut w = vec![0u32; value_count];
                for &(_, step, _) in kept {
                    if let Some(v) = step.writes() {
                        w[v as usize] += 1;
                    }
                }
                w
            },
            open_required: kept.iter().filter(|&&(_, _, known)| known).count(),
            next,
            prev,
            zobrist,
            plain: false,
            dominated_by,
            bits: vec![0; n.div_ceil(64) + 1],
            memo: Memo::new(),
            best: Vec::new(),
            best_state: 0,
            best_stuck: Vec::new(),
            steps: 0,
        }
    }

    fn tail(&self) -> usize {
        2 * self.n + 1
    }

    fn lift(&mut self, call: usize) {
        let ret = self.ret_entry[self.op_of[call]];
        let (p, nx) = (self.prev[call], self.next[call]);
        self.next[p] = nx;
        self.prev[nx] = p;
        let (p, nx) = (self.prev[ret], self.next[ret]);
        self.next[p] = nx;
        self.prev[nx] = p;
    }

    fn unlift(&mut self, call: usize) {
        let ret = self.ret_entry[self.op_of[call]];
        let (p, nx) = (self.prev[ret], self.next[ret]);
        self.next[p] = ret;
        self.prev[nx] = ret;
        let (p, nx) = (self.prev[call], self.next[call]);
        self.next[p] = call;
        self.prev[nx] = call;
    }

    /// Would placing `step` (moving the register from `state` to `new_state`)
    /// strand operations that need `state` — with nothing left that could
    /// write it back? Then no linearization continues this way.
    #[inline]
    fn strands(&self, step: Step, state: u32, new_state: u32) -> bool {
        if new_state == state {
            return false;
        }
        let own = u32::from(step.observes() == Some(state));
        self.observers[state as usize] > own && self.writers[state as usize] == 0
    }

    /// Add `delta` (1 or -1 as wrapping) to the counters of `step`.
    #[inline]
    fn account(&mut self, step: Step, delta: u32) {
        if let Some(v) = step.observes() {
            self.observers[v as usize] = self.observers[v as usize].wrapping_add(delta);
        }
        if let Some(v) = step.writes() {
            self.writers[v as usize] = self.writers[v as usize].wrapping_add(delta);
        }
    }

    /// The first unlinearized operation (in invocation order), or `n`.
    fn first_open(&self) -> usize {
        let e = self.next[HEAD];
        if e == self.tail() {
            self.n
        } else {
            self.op_of[e]
        }
    }

    fn record_best(&mut self, stack: &[Frame], state: u32) {
        self.best.clear();
        self.best.extend(stack.iter().map(|f| self.op_of[f.entry]));
        self.best_state = state;
        self.best_stuck.clear();
        let mut e = self.next[HEAD];
        while e != self.tail() && self.is_call[e] {
            self.best_stuck.push(self.op_of[e]);
            e = self.next[e];
        }
    }

    fn run(&mut self, budget: &mut Budget) -> Run {
        let mut stack: Vec<Frame> = Vec::with_capacity(self.n);
        let mut state = 0u32;
        let mut hash = 0u64;
        let mut max_op = 0usize;
        // Set right after an operation with an unknown outcome wrote: the next
        // operation must need the value it wrote. Otherwise leaving it out is
        // the same (the next operation writes without looking), so only
        // linearizations that place such operations just before a reader of
        // their value are searched. Part of the memo key.
        let mut must_observe = false;
        let mut entry = self.next[HEAD];
        self.record_best(&stack, state);
        // The deepest stack so far is recorded when the search leaves it
        // (backtracks, or runs out of budget), not at every step down: a
        // search that mostly goes deeper copied its whole stack at each.
        // Between a step down and leaving, the state and the list of
        // operations are as they were right after the step (every other
        // attempt is undone), so the record is the same.
        let mut deepest = 0;
        let mut unrecorded = false;
        let start = budget.steps;
        let result = loop {
            if self.open_required == 0 {
                // Keep the linearization found (a caller may show it).
                self.record_best(&stack, state);
                break Run::Linearizable;
            }
            if budget.spend() {
                if unrecorded {
                    self.record_best(&stack, state);
                }
                break Run::Unknown;
            }
            let mut backtrack = !self.is_call[entry];
            if !backtrack {
                let op = self.op_of[entry];
                let step = self.steps_of[op];
                let waits = !self.plain
                    && self.dominated_by[op]
                        .is_some_and(|d| self.bits[d / 64] & (1 << (d % 64)) == 0);
                if !waits
                    && (!must_observe || step.needs() == Some(state))
                    && let Some(new_state) = step.apply(state)
                    && (self.plain || !self.strands(step, state, new_state))
                {
                    let forced = matches!(step, Step::Read(_));
                    self.bits[op / 64] |= 1 << (op % 64);
                    self.lift(entry);
                    let new_max = max_op.max(op);
                    let new_hash = hash ^ self.zobrist[op];
                    let lo = self.first_open() / 64;
                    let hi = (new_max / 64).max(lo);
                    let new_must = !self.plain && !self.required[op] && step.writes().is_some();
                    let key_state = new_state << 1 | u32::from(new_must);
                    let fresh = self.memo.insert(
                        new_hash ^ splitmix(u64::from(key_state)),
                        key_state,
                        lo,
                        &self.bits[lo..=hi],
                    );
                    if fresh {
                        stack.push(Frame {
                            entry,
                            state,
                            max_op,
                            forced,
                            must_observe,
                        });
                        must_observe = new_must;
                        state = new_state;
                        hash = new_hash;
                        self.open_required -= usize::from(self.required[op]);
                        self.account(step, 0u32.wrapping_sub(1));
                        max_op = new_max;
                        if stack.len() > deepest {
                            deepest = stack.len();
                            unrecorded = true;
                        }
                        entry = self.next[HEAD];
                        continue;
                    }
                    self.bits[op / 64] &= !(1 << (op % 64));
                    self.unlift(entry);
                    // A read refused by the memo: this configuration was
                    // explored from the read's placement and failed.
                    backtrack = forced;
                }
                if !backtrack {
                    entry = self.next[entry];
                    continue;
                }
            }
            // Backtrack, passing through reads placed without alternatives.
            if unrecorded {
                self.record_best(&stack, state);
                unrecorded = false;
            }
            let mut resumed = None;
            while let Some(f) = stack.pop() {
                let op = self.op_of[f.entry];
                self.bits[op / 64] &= !(1 << (op % 64));
                hash ^= self.zobrist[op];
                self.open_required += usize::from(self.required[op]);
                self.account(self.steps_of[op], 1);
                state = f.state;
                max_op = f.max_op;
                must_observe = f.must_observe;
                self.unlift(f.entry);
                if !f.forced {
                    resumed = Some(self.next[f.entry]);
                    break;
                }
            }
            match resumed {
                Some(e) => entry = e,
                None => break Run::Not,
            }
        };
        self.steps = budget.steps - start;
        result
    }
}

#[inline]
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The memo: an open-addressing set of (window of linearized set, state).
struct Memo {
    /// 0 empty, else entry index + 1.
    slots: Vec<u32>,
    entries: Vec<MemoEntry>,
    words: Vec<u64>,
}

struct MemoEntry {
    hash: u64,
    state: u32,
    lo: u32,
    off: usize,
    len: u32,
}

impl Memo {
    fn new() -> Memo {
        Memo {
            slots: vec![0; 1024],
            entries: Vec::new(),
            words: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Insert; true if it was not there.
    fn insert(&mut self, hash: u64, state: u32, lo: usize, window: &[u64]) -> bool {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            let e = &self.entries[s as usize - 1];
            if e.hash == hash
                && e.state == state
                && e.lo as usize == lo
                && e.len as usize == window.len()
                && self.words[e.off..e.off + window.len()] == *window
            {
                return false;
            }
            i = (i + 1) & mask;
        }
        self.entries.push(MemoEntry {
            hash,
            state,
            lo: lo as u32,
            off: self.words.len(),
            len: window.len() as u32,
        });
        self.words.extend_from_slice(window);
        self.slots[i] = self.entries.len() as u32;
        true
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![0u32; size];
        for (k, e) in self.entries.iter().enumerate() {
            let mut i = (e.hash as usize) & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = k as u32 + 1;
        }
        self.slots = slots;
    }
}
