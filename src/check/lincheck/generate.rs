//! Seeded generators of register histories, for the benchmark and the
//! property tests.
//!
//! A history is made by running real registers: every operation gets an
//! invocation time, a linearization point strictly inside its window and a
//! completion time; the registers apply the operations in the order of their
//! points, which decides what reads return and whether a cas matches. So a
//! generated history is linearizable by construction. An operation may end
//! `info` (it applied or not, by a coin) — its process then retires and a
//! new process takes its place, as in Jepsen — or never complete.
//!
//! [`corrupt_read`] then breaks one read, for the histories that must fail.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::sim::rng::RngExt;

use super::history::{Call, History, HistoryBuilder, Operation, Outcome, Value};

/// The shape of a generated history.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Keys (registers).
    pub keys: usize,
    /// Client slots running at once (each slot is one process at a time).
    pub concurrency: usize,
    /// Operations in all.
    pub operations: usize,
    /// Share of reads.
    pub read_ratio: f64,
    /// Share of cas operations (the rest are writes).
    pub cas_ratio: f64,
    /// Share of operations whose outcome is unknown (`info`).
    pub info_ratio: f64,
    /// Mean time between a slot's operations, and mean operation latency
    /// (time units; the latency is uniform in [1, 2 × mean]).
    pub think_mean: u64,
    /// Mean operation latency.
    pub latency_mean: u64,
    /// Values written are drawn from `0..value_domain`, and cas operations
    /// expect a value drawn from it too, as in Jepsen's etcd test (values
    /// repeat, which makes the search harder); 0: every written value is
    /// unique and a cas mostly expects the current value.
    pub value_domain: u64,
}

struct Planned {
    slot: usize,
    key: usize,
    kind: u8, // 0 read, 1 write, 2 cas
    invoke: u64,
    point: u64,
    complete: u64,
    info: bool,
    applies_if_info: bool,
    pick: f64,
}

/// Generate a linearizable history of `shape` from `seed`.
pub fn generate(shape: &Shape, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slots = shape.concurrency.max(1);
    let mut free_at = vec![0u64; slots];
    let mut planned: Vec<Planned> = Vec::with_capacity(shape.operations);
    // Times are in units of 4 so that points sit strictly between events.
    for _ in 0..shape.operations {
        let slot = (0..slots).min_by_key(|&s| (free_at[s], s)).unwrap_or(0);
        let think = rng.random_range(0..=2 * shape.think_mean);
        let latency = rng.random_range(1..=2 * shape.latency_mean.max(1));
        let invoke = (free_at[slot] + think) * 4 + 1;
        let complete = (free_at[slot] + think + latency) * 4 + 3;
        let point = rng.random_range(invoke + 1..complete);
        let r: f64 = rng.random();
        let kind = if r < shape.read_ratio {
            0
        } else if r < shape.read_ratio + shape.cas_ratio {
            2
        } else {
            1
        };
        planned.push(Planned {
            slot,
            key: rng.random_range(0..shape.keys.max(1)),
            kind,
            invoke,
            point,
            complete,
            info: rng.random_bool(shape.info_ratio.clamp(0.0, 1.0)),
            applies_if_info: rng.random_bool(0.5),
            pick: rng.random(),
        });
        free_at[slot] = free_at[slot] + think + latency + 1;
    }
    // Apply in point order: decide the values.
    let mut by_point: Vec<usize> = (0..planned.len()).collect();
    by_point.sort_by_key(|&i| (planned[i].point, i));
    let mut registers: Vec<Value> = vec![Value::Nil; shape.keys.max(1)];
    let mut recent: Vec<Vec<Value>> = vec![Vec::new(); shape.keys.max(1)];
    let mut next_value = 1i64;
    let domain = shape.value_domain;
    let fresh = |next: &mut i64, rng: &mut ChaCha8Rng| {
        if domain > 0 {
            Value::Int(rng.random_range(0..domain) as i64)
        } else {
            *next += 1;
            Value::Int(*next - 1)
        }
    };
    let mut calls: Vec<(Call, Outcome, Option<Value>)> =
        vec![(Call::Read, Outcome::Ok, None); planned.len()];
    for &i in &by_point {
        let p = &planned[i];
        let reg = &mut registers[p.key];
        let applies = !p.info || p.applies_if_info;
        calls[i] = match p.kind {
            0 => (Call::Read, Outcome::Ok, Some(reg.clone())),
            1 => {
                let value = fresh(&mut next_value, &mut rng);
                if applies {
                    *reg = value.clone();
                    recent[p.key].push(value.clone());
                }
                (Call::Write { value }, Outcome::Ok, None)
            }
            _ => {
                let new = fresh(&mut next_value, &mut rng);
                // Mostly the current value, so that many cas operations match.
                let expected = if shape.value_domain > 0 {
                    Value::Int(rng.random_range(0..shape.value_domain) as i64)
                } else if p.pick < 0.6 {
                    reg.clone()
                } else {
                    let r = &recent[p.key];
                    let tail = &r[r.len().saturating_sub(4)..];
                    if tail.is_empty() {
                        Value::Nil
                    } else {
                        tail[rng.random_range(0..tail.len())].clone()
                    }
                };
                let matched = *reg == expected;
                let outcome = if matched { Outcome::Ok } else { Outcome::Fail };
                if matched && applies {
                    *reg = new.clone();
                    recent[p.key].push(new.clone());
                }
                (Call::Cas { expected, new }, outcome, None)
            }
        };
        if p.info {
            calls[i].1 = Outcome::Info;
        }
    }
    // Events in time order: completions before invocations at equal times.
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * planned.len());
    for (i, p) in planned.iter().enumerate() {
        events.push((p.invoke, 1, i));
        // An unknown outcome is reported, or never heard of (a third of them).
        if !(p.info && p.pick > 0.66) {
            events.push((p.complete, 0, i));
        }
    }
    events.sort_unstable();
    // Each slot's process number; it moves on (+ slots) after an `info`.
    let mut process: Vec<u64> = (0..slots as u64).collect();
    let mut builder = HistoryBuilder::new();
    let key_of = |k: usize| (shape.keys > 1).then(|| Value::Str(format!("k{k}")));
    for (time, is_invoke, i) in events {
        let p = &planned[i];
        let (call, outcome, read) = &calls[i];
        if is_invoke == 1 {
            builder
                .invoke(process[p.slot], key_of(p.key), call.clone(), time)
                .expect("generated invocations follow the history rules");
            if p.info && p.pick > 0.66 {
                // Never completes: the slot's next operation is a new process.
                process[p.slot] += slots as u64;
            }
        } else {
            let read = if *outcome == Outcome::Ok {
                read.clone()
            } else {
                None
            };
            builder
                .complete(process[p.slot], *outcome, read, time)
                .expect("generated completions follow the history rules");
            if *outcome == Outcome::Info {
                process[p.slot] += slots as u64;
            }
        }
    }
    builder.finish()
}

/// A history shaped like the Jepsen etcd logs Porcupine is benchmarked on:
/// one register, five clients, about 300 operations, values 0–4, reads,
/// writes and cas a third each, cas arguments drawn at random, timeouts
/// (`info`) renumbering the process.
pub fn generate_etcd_like(seed: u64) -> History {
    let shape = Shape {
        keys: 1,
        concurrency: 5,
        operations: 300,
        read_ratio: 0.34,
        cas_ratio: 0.33,
        info_ratio: 0.05,
        think_mean: 2,
        latency_mean: 10,
        value_domain: 5,
    };
    generate(&shape, seed)
}

/// How [`corrupt_read`] breaks a read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The read returns a value no operation ever writes.
    NeverWritten,
    /// The read returns the value of a write invoked only after the read
    /// completed (a read from the future).
    FromTheFuture,
}

/// Corrupt one `ok` read, chosen by `seed`, so that the history cannot be
/// linearizable. Returns the corrupted history and the read's id, or `None`
/// if there is no read to corrupt that way.
pub fn corrupt_read(history: &History, how: Corruption, seed: u64) -> Option<(History, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = history.operations();
    let mut choices: Vec<(usize, Value)> = Vec::new();
    for (id, op) in ops.iter().enumerate() {
        if op.call != Call::Read || op.outcome != Outcome::Ok {
            continue;
        }
        match how {
            Corruption::NeverWritten => choices.push((id, Value::Str("never written".into()))),
            Corruption::FromTheFuture => {
                let done = op.complete_pos.unwrap_or(u64::MAX);
                let writes = |w: &Operation| match &w.call {
                    Call::Write { value } | Call::Cas { new: value, .. } => Some(value.clone()),
                    Call::Read => None,
                };
                // Ids are in invocation order: the first later write of the
                // key whose value nothing invoked before the read's completion
                // writes (values may repeat).
                let later = ops[id + 1..].iter().find(|w| {
                    w.key == op.key
                        && w.invoke_pos > done
                        && matches!(w.call, Call::Write { .. })
                        && w.outcome == Outcome::Ok
                        && !ops.iter().any(|e| {
                            e.key == op.key && e.invoke_pos < done && writes(e) == writes(w)
                        })
                });
                if let Some(Operation {
                    call: Call::Write { value },
                    ..
                }) = later
                {
                    choices.push((id, value.clone()));
                }
            }
        }
    }
    if choices.is_empty() {
        return None;
    }
    let (id, value) = choices.swap_remove(rng.random_range(0..choices.len()));
    let mut ops = ops.to_vec();
    ops[id].read_value = Some(value);
    Some((History::from_operations(ops), id))
}
