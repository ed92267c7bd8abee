//! Workload clients: what each client intends to do, and when ([`Plan`]),
//! and the client process that does it ([`Client`]).
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

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::sim::rng::{self, RngExt};
use crate::sim::{Cx, Process, ProcessId, SimDuration, SimTime, TimerId};

use super::cluster::{ClusterConfig, Kind, Msg, Timer};
use super::events::{OpF, OpType, StackEvent};
use super::grid::Geometry;
use super::planted::{Bug, Planted};
use super::replication::{ClientOp, DataMsg, DataTimer, Outcome, Request};

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
    fn fresh_id(&mut self) -> u64 {
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

/// How long a client waits for an answer before resending.
const RETRY_AFTER_MAX: SimDuration = SimDuration::from_millis(200);

#[derive(Clone, Debug)]
struct InFlight {
    seq: u64,
    /// The request id on the wire: `seq`, except under the planted
    /// `RetryCasNewId`.
    wire: u64,
    op: ClientOp,
    partition: u32,
    target: Option<ProcessId>,
    attempts: u32,
    retry: Option<TimerId>,
    deadline: Option<TimerId>,
}

/// A workload client: issues its plan's operations one at a time, routes
/// each to the partition's primary (from a cache refreshed by `NotPrimary`
/// answers), resends with the same request id until an answer or the
/// timeout, and traces every invoke and completion.
///
/// **Invariant.** One operation in flight at a time, as a Jepsen process:
/// after an `info` (outcome unknown) the client continues as a new history
/// process (`process` = client index − 1 + clients × infos so far), so that
/// an operation that may still take effect never overlaps its successor in
/// the same process.
pub struct Client {
    index: u32,
    clients: u32,
    plan: Option<Plan>,
    spec: Option<WorkloadSpec>,
    seed: u64,
    geometry: Geometry,
    nodes: Vec<ProcessId>,
    primaries: BTreeMap<u32, ProcessId>,
    seen: BTreeMap<u64, u64>,
    next: Option<(SimTime, u64, Op)>,
    current: Option<InFlight>,
    infos: u64,
    issue_timer: Option<TimerId>,
    planted: Planted,
}

impl Client {
    /// Client `p` of the cluster.
    pub fn new(config: &ClusterConfig, p: ProcessId) -> Self {
        let name = config
            .processes
            .get(p.index())
            .map_or("c0", |(n, _)| n.as_str());
        let index = name.trim_start_matches('c').parse().unwrap_or(0);
        Client {
            index,
            clients: config.of_kind(Kind::Client).len() as u32,
            plan: None,
            spec: config.workload.clone(),
            seed: config.seed,
            geometry: config.geometry,
            nodes: config.of_kind(Kind::Node),
            primaries: BTreeMap::new(),
            seen: BTreeMap::new(),
            next: None,
            current: None,
            infos: 0,
            issue_timer: None,
            planted: config.planted,
        }
    }

    fn process(&self) -> u64 {
        u64::from(self.index.saturating_sub(1)) + u64::from(self.clients.max(1)) * self.infos
    }

    fn timeout(&self) -> SimDuration {
        self.spec
            .as_ref()
            .map_or(SimDuration::from_secs(1), |s| s.timeout)
    }

    /// Starts (or restarts): operations whose time has passed are skipped.
    pub fn on_start<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let Some(spec) = self.spec.as_ref() else {
            return;
        };
        self.plan = Some(Plan::new(self.seed, self.index, spec));
        self.pull(cx);
    }

    /// Takes the next operation from the plan and sets the issue timer.
    fn pull<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let now = cx.now();
        let late = self.timeout();
        let Some(plan) = self.plan.as_mut() else {
            return;
        };
        self.next = None;
        for (at, op) in plan.by_ref() {
            // An operation due longer ago than the timeout is skipped: a
            // client stuck behind a slow one does not burst afterwards.
            if at + late < now {
                continue;
            }
            self.next = Some((at, plan.seq(), op));
            break;
        }
        if let Some((at, _, _)) = self.next {
            let after = SimDuration(at.as_micros().saturating_sub(now.as_micros()));
            self.issue_timer = Some(cx.set_timer(after, Timer::Data(DataTimer::Issue)));
        }
    }

    /// A timer fired.
    pub fn on_timer<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        t: DataTimer,
    ) {
        match t {
            DataTimer::Issue => {
                self.issue_timer = None;
                if self.current.is_none() {
                    self.issue(cx);
                }
            }
            DataTimer::Retry(seq) if self.current.as_ref().is_some_and(|c| c.seq == seq) => {
                let careless = self.planted.has(Bug::RetryCasNewId);
                let cas = self
                    .current
                    .as_ref()
                    .is_some_and(|c| matches!(c.op, ClientOp::Cas { .. }));
                let fresh = if careless && cas {
                    self.plan.as_mut().map(Plan::fresh_id)
                } else {
                    None
                };
                if let Some(c) = self.current.as_mut() {
                    c.retry = None;
                    c.attempts += 1;
                    if let (true, ClientOp::Cas { .. }, Some(id)) = (careless, &c.op, fresh) {
                        // The planted bug: the retry goes out as a new request.
                        c.wire = id;
                    }
                    // Ask the cached primary, else rotate through the nodes.
                    c.target = None;
                }
                self.send(cx);
            }
            DataTimer::Deadline(seq) if self.current.as_ref().is_some_and(|c| c.seq == seq) => {
                if let Some(c) = self.current.as_mut() {
                    c.deadline = None;
                }
                cx.reached("client: operation timed out, outcome unknown");
                self.complete(cx, OpType::Info, None);
            }
            _ => {}
        }
    }

    fn issue<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let Some((_, seq, op)) = self.next.take() else {
            return;
        };
        let cell = op.cell();
        if let (Op::Read { .. }, true, Some(&v)) = (
            &op,
            self.planted.has(Bug::ClientCachedRead),
            self.seen.get(&cell),
        ) {
            // The planted bug: a read answered from the client's cache of
            // what it last saw, without asking the primary.
            self.current = Some(InFlight {
                seq,
                wire: seq,
                partition: self.geometry.partition_of_cell(cell),
                op: ClientOp::Read { cell },
                target: None,
                attempts: 0,
                retry: None,
                deadline: None,
            });
            cx.trace(StackEvent::Op {
                process: self.process(),
                kind: OpType::Invoke,
                f: OpF::Read,
                key: cell,
                value: None,
                expected: None,
                req: seq,
            });
            self.complete(cx, OpType::Ok, Some(v));
            self.pull(cx);
            return;
        }
        let op = match op {
            Op::Read { cell } => ClientOp::Read { cell },
            Op::Write { cell, value } => ClientOp::Write { cell, value },
            Op::Cas { cell, new } => ClientOp::Cas {
                cell,
                expected: self.seen.get(&cell).copied().unwrap_or(0),
                new,
            },
        };
        let (value, expected) = match op {
            ClientOp::Read { .. } => (None, None),
            ClientOp::Write { value, .. } => (Some(value), None),
            ClientOp::Cas { expected, new, .. } => (Some(new), Some(expected)),
        };
        cx.trace(StackEvent::Op {
            process: self.process(),
            kind: OpType::Invoke,
            f: op.f(),
            key: cell,
            value,
            expected,
            req: seq,
        });
        let deadline = cx.set_timer(self.timeout(), Timer::Data(DataTimer::Deadline(seq)));
        self.current = Some(InFlight {
            seq,
            wire: seq,
            partition: self.geometry.partition_of_cell(cell),
            op,
            target: None,
            attempts: 0,
            retry: None,
            deadline: Some(deadline),
        });
        self.send(cx);
        self.pull(cx);
    }

    fn send<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
    ) {
        let retry_after = SimDuration(self.timeout().as_micros() / 4).min(RETRY_AFTER_MAX);
        let Some(c) = self.current.as_mut() else {
            return;
        };
        // Fault point: the cached primary forgotten; the client rotates
        // through the nodes and follows their redirects.
        if c.target.is_none() && cx.buggify("client/forget-primary") {
            self.primaries.remove(&c.partition);
        }
        let target = c
            .target
            .or_else(|| self.primaries.get(&c.partition).copied())
            .or_else(|| {
                if self.nodes.is_empty() {
                    None
                } else {
                    let i = (c.partition as usize + c.attempts as usize) % self.nodes.len();
                    Some(self.nodes[i])
                }
            });
        let Some(to) = target else {
            return;
        };
        c.target = Some(to);
        // Fault point: a retry lost before it left, as if dropped; the
        // retry timer below sends it again.
        if !(c.attempts > 0 && cx.buggify("client/drop-retry")) {
            cx.send(
                to,
                Msg::Data(Box::new(DataMsg::Request(Request {
                    client: self.index,
                    seq: c.wire,
                    partition: c.partition,
                    op: c.op.clone(),
                }))),
            );
        }
        if let Some(t) = c.retry.take() {
            cx.cancel_timer(t);
        }
        c.retry = Some(cx.set_timer(retry_after, Timer::Data(DataTimer::Retry(c.seq))));
    }

    /// A message arrived (answers from data nodes).
    pub fn on_message<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        msg: DataMsg,
    ) {
        let DataMsg::Response(r) = msg else {
            return;
        };
        let Some(c) = self.current.as_ref() else {
            return;
        };
        if c.seq != r.seq && c.wire != r.seq {
            cx.reached("client: answer to a finished operation ignored");
            return; // an answer to an earlier attempt of a finished operation
        }
        match r.outcome {
            Outcome::Read(v) => {
                if let Some(v) = v {
                    self.seen.insert(c.op.cell(), v);
                }
                self.primaries.insert(r.partition, from);
                self.complete(cx, OpType::Ok, v);
            }
            Outcome::Done => {
                let (cell, v) = match c.op {
                    ClientOp::Write { cell, value } => (cell, value),
                    ClientOp::Cas { cell, new, .. } => (cell, new),
                    ClientOp::Read { cell } => (cell, 0),
                };
                self.seen.insert(cell, v);
                self.primaries.insert(r.partition, from);
                self.complete(cx, OpType::Ok, None);
            }
            Outcome::CasFailed => {
                cx.reached("client: compare-and-set lost a race");
                self.primaries.insert(r.partition, from);
                self.complete(cx, OpType::Fail, None);
            }
            Outcome::NotPrimary { primary } => {
                let hint = primary.as_deref().and_then(|n| cx.lookup(n));
                match hint {
                    Some(h) => {
                        self.primaries.insert(r.partition, h);
                    }
                    None => {
                        self.primaries.remove(&r.partition);
                    }
                }
                // Follow a redirect at once; otherwise wait for the retry.
                if hint.is_some() && hint != Some(from) {
                    cx.reached("client: followed a redirect to the primary");
                    if let Some(c) = self.current.as_mut() {
                        c.target = hint;
                    }
                    self.send(cx);
                }
            }
            Outcome::Busy => cx.reached("client: primary busy, waits for the retry"),
        }
    }

    fn complete<P: Process<Msg = Msg, Timer = Timer, Event = StackEvent>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        kind: OpType,
        read: Option<u64>,
    ) {
        let Some(c) = self.current.take() else {
            return;
        };
        for t in [c.retry, c.deadline].into_iter().flatten() {
            cx.cancel_timer(t);
        }
        let (value, expected) = match c.op {
            ClientOp::Read { .. } => (read, None),
            ClientOp::Write { value, .. } => (Some(value), None),
            ClientOp::Cas { expected, new, .. } => (Some(new), Some(expected)),
        };
        cx.trace(StackEvent::Op {
            process: self.process(),
            kind,
            f: c.op.f(),
            key: c.op.cell(),
            value,
            expected,
            req: c.seq,
        });
        if kind == OpType::Info {
            self.infos += 1;
        }
        // The next operation, if it is already due.
        // (a pending issue timer means it is not due yet).
        if self.issue_timer.is_none() && self.next.is_some() {
            self.issue(cx);
        }
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
