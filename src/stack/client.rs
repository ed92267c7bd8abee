//! Workload clients: the client process that carries out its [`Plan`]
//! (see [`workload`](super::workload) for what each client intends, and when).
//!
//! A client issues one operation at a time, routes it to the partition's
//! primary, resends it with the same request id, and traces every invoke
//! and completion. It is generic over the process type that hosts it
//! ([`DataHost`]): it names only the data plane's messages and timers.

use std::collections::BTreeMap;

use crate::sim::{Cx, ProcessId, SimDuration, SimTime, TimerId};

use super::events::{OpF, OpType, StackEvent};
use super::grid::Geometry;
use super::planted::{Bug, Planted};
use super::replication::{ClientOp, DataHost, DataMsg, DataTimer, Outcome, Request};
use super::workload::{Op, Plan, WorkloadSpec};

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
/// answers, and emptied of a primary that left a request unanswered),
/// resends with the same request id until an answer or the timeout, and
/// traces every invoke and completion.
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
    /// Client number `index` (`c3` → 3) of `clients`, carrying out its plan
    /// of `spec` drawn from the run's root `seed`; it finds primaries among
    /// the data nodes `nodes` of a grid of `geometry`, with the bugs
    /// `planted` switched on.
    pub fn new(
        index: u32,
        clients: u32,
        spec: WorkloadSpec,
        seed: u64,
        geometry: Geometry,
        nodes: Vec<ProcessId>,
        planted: Planted,
    ) -> Self {
        Client {
            index,
            clients,
            plan: None,
            spec: Some(spec),
            seed,
            geometry,
            nodes,
            primaries: BTreeMap::new(),
            seen: BTreeMap::new(),
            next: None,
            current: None,
            infos: 0,
            issue_timer: None,
            planted,
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
    pub fn on_start<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
        let Some(spec) = self.spec.as_ref() else {
            return;
        };
        self.plan = Some(Plan::new(self.seed, self.index, spec));
        self.pull(cx);
    }

    /// Takes the next operation from the plan and sets the issue timer.
    fn pull<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
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
            self.issue_timer = Some(cx.set_timer(after, P::Timer::from(DataTimer::Issue)));
        }
    }

    /// A timer fired.
    pub fn on_timer<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, t: DataTimer) {
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
                    // A cached primary that did not answer is not known to
                    // be one any more (it may have crashed for good, and a
                    // dead node sends no redirect): forget it, so that the
                    // retry rotates through the nodes and follows their
                    // redirects. Otherwise ask the cached primary again.
                    if c.target.is_some() && self.primaries.get(&c.partition) == c.target.as_ref() {
                        self.primaries.remove(&c.partition);
                        cx.reached("client: unanswered primary forgotten");
                    }
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

    fn issue<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
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
                error: None,
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
            error: None,
        });
        let deadline = cx.set_timer(self.timeout(), P::Timer::from(DataTimer::Deadline(seq)));
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

    fn send<P: DataHost>(&mut self, cx: &mut Cx<'_, P>) {
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
                P::Msg::from(DataMsg::Request(Request {
                    client: self.index,
                    seq: c.wire,
                    partition: c.partition,
                    op: c.op.clone(),
                })),
            );
        }
        if let Some(t) = c.retry.take() {
            cx.cancel_timer(t);
        }
        c.retry = Some(cx.set_timer(retry_after, P::Timer::from(DataTimer::Retry(c.seq))));
    }

    /// A message arrived (answers from data nodes).
    pub fn on_message<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, from: ProcessId, msg: DataMsg) {
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
            Outcome::Lost => {
                self.primaries.insert(r.partition, from);
                self.complete_with(cx, OpType::Fail, None, Some("data-lost"));
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

    fn complete<P: DataHost>(&mut self, cx: &mut Cx<'_, P>, kind: OpType, read: Option<u64>) {
        self.complete_with(cx, kind, read, None);
    }

    /// Completes the operation in flight as `kind`, with the reason a
    /// failure gave (`error`).
    fn complete_with<P: DataHost>(
        &mut self,
        cx: &mut Cx<'_, P>,
        kind: OpType,
        read: Option<u64>,
        error: Option<&str>,
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
            error: error.map(str::to_string),
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
