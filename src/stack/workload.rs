//! The workload: its settings ([`WorkloadSpec`], from `[workload]`) and what
//! each client intends to do, and when ([`Plan`]). The client process that
//! carries a plan out (`client.rs`) builds on this file, never the reverse.
//!
//! A client's intended operations are a pure function of (root seed, client
//! id, workload settings): they are drawn from the client's own
//! `workload/cN` stream, never from the network's or the faults' dice. So
//! removing a fault from a scenario leaves every client's plan unchanged —
//! a failure stays reproducible while a shrinker removes faults. (When an
//! operation is actually issued, and what it returns, depends on the run.)
//!
//! Written values are unique per (client, sequence number), which is what
//! the linearizability checker needs to tell writes apart.

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::sim::rng::{self, RngExt};
use crate::sim::{SimDuration, SimTime};

/// How keys are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Keys {
    /// Every cell equally likely.
    Uniform,
    /// Zipf with this exponent: a few hot cells.
    Zipf(f64),
}

/// The workload settings a plan is drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSpec {
    /// Operations per second over all clients.
    pub rate: f64,
    /// Fraction of reads.
    pub read_ratio: f64,
    /// Fraction of compare-and-sets (the other non-reads are writes).
    pub cas_ratio: f64,
    /// An operation unanswered this long completes as `info`.
    pub timeout: SimDuration,
    /// Key distribution.
    pub keys: Keys,
    /// First operation no earlier than this.
    pub start: SimTime,
    /// No operation at or after this.
    pub stop: SimTime,
    /// Number of clients sharing the rate.
    pub clients: u32,
    /// Grid cells (`width × height`); a key is a cell index.
    pub cells: u64,
}

/// One intended operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// Read a cell.
    Read {
        /// Cell index (`y * width + x`).
        cell: u64,
    },
    /// Write a unique value to a cell.
    Write {
        /// Cell index.
        cell: u64,
        /// `client_index << 40 | sequence`: unique in the run.
        value: u64,
    },
    /// Compare-and-set a cell to a unique value (the expected value is the
    /// last one the client saw there, known only when it is issued).
    Cas {
        /// Cell index.
        cell: u64,
        /// `client_index << 40 | sequence`: unique in the run.
        new: u64,
    },
}

impl Op {
    /// The cell.
    pub fn cell(&self) -> u64 {
        match self {
            Op::Read { cell } | Op::Write { cell, .. } | Op::Cas { cell, .. } => *cell,
        }
    }
}

/// The stream of a client's intended operations, in time order.
pub struct Plan {
    rng: ChaCha8Rng,
    spec: WorkloadSpec,
    client_index: u64,
    next_at: SimTime,
    seq: u64,
    zipf_cdf: Option<Vec<f64>>,
}

/// A bound on the Zipf table: key spaces larger than this draw from their
/// first `MAX_ZIPF_KEYS` cells (the hot set is what matters for Zipf).
const MAX_ZIPF_KEYS: u64 = 1 << 20;

impl Plan {
    /// The plan of client `client_index` (1-based, as in `c1`).
    pub fn new(root_seed: u64, client_index: u32, spec: &WorkloadSpec) -> Plan {
        let mut rng = rng::stream(root_seed, &format!("workload/c{client_index}"));
        let zipf_cdf = match spec.keys {
            Keys::Zipf(s) => {
                let n = spec.cells.clamp(1, MAX_ZIPF_KEYS);
                let mut acc = 0.0;
                let mut cdf: Vec<f64> = (1..=n)
                    .map(|k| {
                        acc += 1.0 / (k as f64).powf(s);
                        acc
                    })
                    .collect();
                let total = acc;
                cdf.iter_mut().for_each(|c| *c /= total);
                Some(cdf)
            }
            Keys::Uniform => None,
        };
        let first = spec.start + Self::gap(&mut rng, spec);
        Plan {
            rng,
            spec: spec.clone(),
            client_index: u64::from(client_index),
            next_at: first,
            seq: 0,
            zipf_cdf,
        }
    }

    /// The sequence number of the operation last returned (the request id).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// A request id no operation uses (the planted `RetryCasNewId`).
    pub(super) fn fresh_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn gap(rng: &mut ChaCha8Rng, spec: &WorkloadSpec) -> SimDuration {
        if spec.rate <= 0.0 {
            return SimDuration(u64::MAX / 4);
        }
        let per_client = spec.rate / f64::from(spec.clients.max(1));
        let mean_us = (1e6 / per_client).max(1.0) as u64;
        SimDuration(rng::exponential_us(rng, mean_us))
    }

    fn key(&mut self) -> u64 {
        match &self.zipf_cdf {
            None => self.rng.random_range(0..self.spec.cells.max(1)),
            Some(cdf) => {
                let u: f64 = self.rng.random();
                cdf.partition_point(|c| *c < u).min(cdf.len() - 1) as u64
            }
        }
    }
}

impl Iterator for Plan {
    type Item = (SimTime, Op);

    fn next(&mut self) -> Option<(SimTime, Op)> {
        if self.next_at >= self.spec.stop {
            return None;
        }
        let at = self.next_at;
        let u: f64 = self.rng.random();
        let cell = self.key();
        self.seq += 1;
        let value = self.client_index << 40 | self.seq;
        let op = if u < self.spec.read_ratio {
            Op::Read { cell }
        } else if u < self.spec.read_ratio + self.spec.cas_ratio {
            Op::Cas { cell, new: value }
        } else {
            Op::Write { cell, value }
        };
        self.next_at = at + Self::gap(&mut self.rng, &self.spec);
        Some((at, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: Keys) -> WorkloadSpec {
        WorkloadSpec {
            rate: 200.0,
            read_ratio: 0.5,
            cas_ratio: 0.1,
            timeout: SimDuration::from_secs(1),
            keys,
            start: SimTime(1_000_000),
            stop: SimTime(11_000_000),
            clients: 2,
            cells: 64 * 64,
        }
    }

    #[test]
    fn plan_has_the_configured_rate_and_mix() {
        let ops: Vec<_> = Plan::new(1, 1, &spec(Keys::Uniform)).collect();
        // 100 ops/s per client for 10 s: about 1000.
        assert!((850..1150).contains(&ops.len()), "{}", ops.len());
        let reads = ops
            .iter()
            .filter(|(_, o)| matches!(o, Op::Read { .. }))
            .count();
        assert!((400..600).contains(&(reads * 1000 / ops.len())));
        assert!(ops.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(
            ops.iter()
                .all(|(t, _)| *t >= SimTime(1_000_000) && *t < SimTime(11_000_000))
        );
    }

    #[test]
    fn zipf_concentrates_on_few_keys() {
        let ops: Vec<_> = Plan::new(1, 1, &spec(Keys::Zipf(1.1))).collect();
        let hot = ops
            .iter()
            .filter(|(_, o)| matches!(o, Op::Read { cell } | Op::Write { cell, .. } if *cell < 10))
            .count();
        assert!(
            hot * 4 > ops.len(),
            "the 10 hottest keys draw over a quarter of the ops"
        );
    }

    #[test]
    fn values_are_unique_per_client_and_sequence() {
        let a: Vec<_> = Plan::new(1, 1, &spec(Keys::Uniform)).collect();
        let b: Vec<_> = Plan::new(1, 2, &spec(Keys::Uniform)).collect();
        let mut values: Vec<u64> = a
            .iter()
            .chain(&b)
            .filter_map(|(_, o)| {
                if let Op::Write { value, .. } = o {
                    Some(*value)
                } else {
                    None
                }
            })
            .collect();
        let n = values.len();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), n);
    }
}
