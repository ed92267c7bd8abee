//! A lease-based lock service on partsim's kernel: a protocol of our own,
//! written only against partsim's public library API.
//!
//! One server (`m1`) grants a single lock to clients (`n1..`) for a lease.
//! A holder renews its lease while it works and must stop using the lock
//! when the lease runs out on its own clock — measured from when it *asked*,
//! so it always runs out no later than the server's copy, which the server
//! starts when the request *arrives*. A server that restarts has forgotten
//! its grants, so it waits one lease out before granting again.
//!
//! ```text
//!   client                          server
//!   Acquire{req} ─────────────────► holder free (or its lease over)? Grant : Busy
//!   ◄──────────────────── Grant{req}   (server lease: arrival + LEASE)
//!   enter (client lease: sent + LEASE)
//!   Renew{req, sent} every RENEW ─► holder and lease running? Renewed : Lost
//!   lease over, or work done ──► exit; Release{req} when done
//! ```
//!
//! Safety (`mutual_exclusion`): no two clients are inside at once, judged
//! from the `enter`/`exit` events the clients trace themselves. The planted
//! bug [`Bug::IgnoreLease`] makes a holder work on past its lease: cut off
//! from the server by a partition, it keeps the lock while the server grants
//! it to someone else.

use std::collections::BTreeMap;
use std::io::Write;

use partsim::check::{Checker, Pipeline};
use partsim::run::{Selectors, Timeline, net_config, trace_header};
use partsim::scenario::Scenario;
use partsim::sim::rng::RngExt;
use partsim::sim::{
    AppEvent, Cx, Event, EventKind, Message, Process, ProcessId, SimDuration, SimTime, TimerKind,
    Violation, World,
};
use partsim::trace::{TraceLevel, TraceWriter, digest_hex};
use serde::Serialize;

/// How long a grant lasts.
pub const LEASE: SimDuration = SimDuration::from_millis(1_000);
/// How often a holder renews.
pub const RENEW_EVERY: SimDuration = SimDuration::from_millis(250);
/// How long a holder works before it releases (longer than a lease: it
/// must renew).
pub const HOLD: SimDuration = SimDuration::from_millis(2_000);
/// A request unanswered this long is asked again.
pub const RETRY_AFTER: SimDuration = SimDuration::from_millis(300);

/// The lock service's messages.
#[derive(Clone, Debug)]
pub enum LockMsg {
    /// A client asks for the lock.
    Acquire { req: u64 },
    /// The server grants it.
    Grant { req: u64 },
    /// Someone else holds it.
    Busy { req: u64 },
    /// The holder asks for more time (`sent` on its own clock, echoed back).
    Renew { req: u64, sent: SimTime },
    /// More time granted, counted from `sent`.
    Renewed { req: u64, sent: SimTime },
    /// The lease is over (or the server does not know it).
    Lost { req: u64 },
    /// The holder is done.
    Release { req: u64 },
}

impl Message for LockMsg {
    fn name(&self) -> &'static str {
        match self {
            LockMsg::Acquire { .. } => "Acquire",
            LockMsg::Grant { .. } => "Grant",
            LockMsg::Busy { .. } => "Busy",
            LockMsg::Renew { .. } => "Renew",
            LockMsg::Renewed { .. } => "Renewed",
            LockMsg::Lost { .. } => "Lost",
            LockMsg::Release { .. } => "Release",
        }
    }
}

/// Client timers; each names the request it belongs to, so a stale one is
/// recognised and ignored rather than cancelled.
#[derive(Copy, Clone, Debug)]
pub enum LockTimer {
    /// Time to ask for the lock.
    Want,
    /// No answer to request `req`.
    Retry(u64),
    /// Time to renew the lease of `req`.
    Renew(u64),
    /// The lease of `req` may be over.
    Expire(u64),
    /// The work under `req` is done.
    Done(u64),
}

impl TimerKind for LockTimer {
    fn name(&self) -> &'static str {
        match self {
            LockTimer::Want => "Want",
            LockTimer::Retry(_) => "Retry",
            LockTimer::Renew(_) => "Renew",
            LockTimer::Expire(_) => "Expire",
            LockTimer::Done(_) => "Done",
        }
    }
}

/// What the lock service traces.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum LockEvent {
    /// The server granted the lock (trace reading only; no checker uses it).
    Granted { to: String, req: u64 },
    /// A client starts using the lock.
    Enter { req: u64 },
    /// A client stops using it, and why.
    Exit { req: u64, why: &'static str },
}

impl AppEvent for LockEvent {
    fn kind(&self) -> &'static str {
        match self {
            LockEvent::Granted { .. } => "granted",
            LockEvent::Enter { .. } => "enter",
            LockEvent::Exit { .. } => "exit",
        }
    }
}

/// Deliberate protocol bugs, to show the checker catches them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bug {
    /// None: the protocol as designed.
    None,
    /// A holder does not wait out its lease: it works on until it is done.
    IgnoreLease,
}

/// The server's state: who holds the lock, until when (its own clock).
#[derive(Default)]
pub struct Server {
    holder: Option<(ProcessId, u64, SimTime)>,
    /// Grants wait until then after a (re)start: grants made before a crash
    /// are forgotten and may still run.
    quiet_until: SimTime,
}

enum State {
    Idle,
    Asking { req: u64, sent: SimTime },
    Holding { req: u64, valid_until: SimTime },
}

/// A client: asks, works under the lock, releases, waits, asks again.
pub struct Client {
    state: State,
    next_req: u64,
    bug: Bug,
}

/// A process of the lock service.
pub enum Lock {
    /// `m1`.
    Server(Server),
    /// `n1..`.
    Client(Client),
}

impl Process for Lock {
    type Msg = LockMsg;
    type Timer = LockTimer;
    type Event = LockEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        match self {
            Lock::Server(s) => s.quiet_until = cx.now() + LEASE,
            Lock::Client(c) => {
                // Request ids unique across restarts (a million per incarnation, the
                // incarnation counted on disk): a grant meant for an
                // earlier incarnation never matches a new request.
                let disk = cx.disk();
                let last = match disk.get("incarnation") {
                    Ok(Some(b)) => b.try_into().map_or(0, u64::from_le_bytes),
                    _ => 0,
                };
                disk.put("incarnation", (last + 1).to_le_bytes().to_vec());
                disk.fsync();
                c.next_req = (last + 1) * 1_000_000;
                c.want_later(cx);
            }
        }
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: LockMsg) {
        match self {
            Lock::Server(s) => s.on_message(cx, from, msg),
            Lock::Client(c) => c.on_message(cx, msg),
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: LockTimer) {
        if let Lock::Client(c) = self {
            c.on_timer(cx, timer);
        }
    }
}

impl Server {
    fn on_message(&mut self, cx: &mut Cx<'_, Lock>, from: ProcessId, msg: LockMsg) {
        let now = cx.now();
        let running = self.holder.filter(|&(_, _, until)| now < until);
        match msg {
            LockMsg::Acquire { req } => {
                let free = match running {
                    None => now >= self.quiet_until,
                    // The holder asks again (its grant was lost): re-grant.
                    Some((p, _, _)) => p == from,
                };
                if free {
                    self.holder = Some((from, req, now + LEASE));
                    let to = cx.name(from).to_string();
                    cx.trace(LockEvent::Granted { to, req });
                    cx.send(from, LockMsg::Grant { req });
                } else {
                    cx.send(from, LockMsg::Busy { req });
                }
            }
            LockMsg::Renew { req, sent } => match running {
                Some((p, r, _)) if p == from && r == req => {
                    self.holder = Some((from, req, now + LEASE));
                    cx.send(from, LockMsg::Renewed { req, sent });
                }
                _ => cx.send(from, LockMsg::Lost { req }),
            },
            LockMsg::Release { req } => {
                if matches!(self.holder, Some((p, r, _)) if p == from && r == req) {
                    self.holder = None;
                }
            }
            _ => {}
        }
    }
}

impl Client {
    /// A client that has not started.
    pub fn new(bug: Bug) -> Self {
        Client {
            state: State::Idle,
            next_req: 0,
            bug,
        }
    }

    fn want_later(&mut self, cx: &mut Cx<'_, Lock>) {
        self.state = State::Idle;
        let wait = cx.rng().random_range(100_000..400_000);
        cx.set_timer(SimDuration::from_micros(wait), LockTimer::Want);
    }

    fn ask(&mut self, cx: &mut Cx<'_, Lock>) {
        self.next_req += 1;
        let req = self.next_req;
        self.state = State::Asking {
            req,
            sent: cx.now(),
        };
        cx.send(ProcessId(0), LockMsg::Acquire { req });
        cx.set_timer(RETRY_AFTER, LockTimer::Retry(req));
    }

    fn exit(&mut self, cx: &mut Cx<'_, Lock>, req: u64, why: &'static str) {
        cx.trace(LockEvent::Exit { req, why });
        self.want_later(cx);
    }

    fn asking(&self, req: u64) -> bool {
        matches!(self.state, State::Asking { req: r, .. } if r == req)
    }

    fn holding(&self, req: u64) -> Option<SimTime> {
        match self.state {
            State::Holding {
                req: r,
                valid_until,
            } if r == req => Some(valid_until),
            _ => None,
        }
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Lock>, msg: LockMsg) {
        let now = cx.now();
        match msg {
            LockMsg::Grant { req } => {
                let State::Asking { req: r, sent } = self.state else {
                    return;
                };
                if r != req {
                    return;
                }
                let valid_until = sent + LEASE;
                if now >= valid_until {
                    return; // granted too late to use; the retry asks again
                }
                self.state = State::Holding { req, valid_until };
                cx.trace(LockEvent::Enter { req });
                cx.set_timer(valid_until.saturating_since(now), LockTimer::Expire(req));
                cx.set_timer(RENEW_EVERY, LockTimer::Renew(req));
                cx.set_timer(HOLD, LockTimer::Done(req));
            }
            LockMsg::Busy { req } if self.asking(req) => self.want_later(cx),
            LockMsg::Renewed { req, sent } => {
                if let Some(valid_until) = self.holding(req) {
                    let longer = sent + LEASE;
                    if longer > valid_until {
                        self.state = State::Holding {
                            req,
                            valid_until: longer,
                        };
                        cx.set_timer(longer.saturating_since(now), LockTimer::Expire(req));
                    }
                }
            }
            LockMsg::Lost { req } if self.holding(req).is_some() => self.exit(cx, req, "lost"),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Lock>, timer: LockTimer) {
        let now = cx.now();
        match timer {
            LockTimer::Want if matches!(self.state, State::Idle) => self.ask(cx),
            LockTimer::Retry(req) if self.asking(req) => self.ask(cx),
            LockTimer::Renew(req) if self.holding(req).is_some() => {
                cx.send(ProcessId(0), LockMsg::Renew { req, sent: now });
                cx.set_timer(RENEW_EVERY, LockTimer::Renew(req));
            }
            // Earlier Expire timers of a renewed lease find it still running.
            LockTimer::Expire(req)
                if self.holding(req).is_some_and(|until| now >= until)
                    && self.bug != Bug::IgnoreLease =>
            {
                self.exit(cx, req, "lease over");
            }
            LockTimer::Done(req) if self.holding(req).is_some() => {
                cx.send(ProcessId(0), LockMsg::Release { req });
                self.exit(cx, req, "done");
            }
            // Stale: the state it was set for has passed.
            _ => {}
        }
    }
}

/// `mutual_exclusion`: at most one client inside at any time, from the
/// clients' own `enter`/`exit` events (a crash ends a stay too).
#[derive(Default)]
pub struct MutualExclusion {
    inside: BTreeMap<ProcessId, SimTime>,
    entries: u64,
}

impl Checker<LockEvent> for MutualExclusion {
    fn name(&self) -> &'static str {
        "mutual_exclusion"
    }

    fn on_event(&mut self, ev: &Event<'_, LockEvent>, names: &[String], out: &mut Vec<Violation>) {
        match ev.kind {
            EventKind::App(LockEvent::Enter { req }) => {
                self.entries += 1;
                if let Some((q, since)) = self.inside.iter().find(|(q, _)| **q != ev.p) {
                    out.push(Violation {
                        check: "mutual_exclusion",
                        detail: format!(
                            "{} entered (request {req}) while {} has held the lock since {since}",
                            ev.p.name_in(names),
                            q.name_in(names)
                        ),
                    });
                }
                self.inside.insert(ev.p, ev.t);
            }
            EventKind::App(LockEvent::Exit { .. })
            | EventKind::Crash { .. }
            | EventKind::Restart
            | EventKind::Start => {
                self.inside.remove(&ev.p);
            }
            _ => {}
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        vec![("lock_entries".to_string(), self.entries.into())]
    }
}

/// How the scenario's selectors read in this protocol: `leader` and
/// `any-manager` are the server, `any-node` a client.
pub struct Roles {
    server: ProcessId,
    clients: Vec<ProcessId>,
}

impl Selectors<Lock> for Roles {
    fn nodes(&self) -> Vec<ProcessId> {
        self.clients.clone()
    }
    fn managers(&self) -> Vec<ProcessId> {
        vec![self.server]
    }
    fn leader(&self, _: &World<Lock>) -> Option<ProcessId> {
        Some(self.server)
    }
    fn primary(&self, _: &World<Lock>, _: u32) -> Option<ProcessId> {
        None
    }
    fn leave(&self, _: &str) -> Vec<(ProcessId, LockMsg)> {
        Vec::new()
    }
    fn manager(&self, _: &str, _: bool) -> Vec<(ProcessId, LockMsg)> {
        Vec::new()
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// Violations, with their times.
    pub violations: Vec<(SimTime, Violation)>,
    /// Times a client entered.
    pub entries: u64,
    /// Digest of the trace's event lines.
    pub trace_digest: String,
    /// When the run ended (early if a violation halted it).
    pub ended_at: SimTime,
}

/// Runs the lock service through scenario `s` (`[cluster] managers = 1`:
/// the server `m1`; `nodes`: the clients `n1..`; `[network]`,
/// `[[events]]` and `[random]` as for any scenario), writing its trace to
/// `trace_out` (the digest is computed either way).
pub fn run(
    s: &Scenario,
    seed: u64,
    bug: Bug,
    trace_out: Option<Box<dyn Write>>,
) -> std::io::Result<Outcome> {
    let names = s.initial_processes();
    let roles = Roles {
        server: ProcessId(0),
        clients: (1..names.len() as u32).map(ProcessId).collect(),
    };
    let mut world = World::new(
        seed,
        names.clone(),
        net_config(s),
        Box::new(move |p, _| match p {
            ProcessId(0) => Lock::Server(Server::default()),
            _ => Lock::Client(Client::new(bug)),
        }),
    );
    let header = trace_header(s, seed, &names, TraceLevel::All);
    let out = trace_out.unwrap_or_else(|| Box::new(std::io::sink()));
    let writer = TraceWriter::new(out, TraceLevel::All, &header)?;
    let checkers: Vec<Box<dyn Checker<LockEvent>>> = vec![Box::new(MutualExclusion::default())];
    let pipeline = world.add_observer(Pipeline::new(checkers, Some(writer)));
    for p in 0..names.len() as u32 {
        world.start(ProcessId(p));
    }
    let mut timeline = Timeline::new(s, seed, pipeline);
    timeline.run_until(&mut world, &roles, s.end());

    let ended_at = world.now();
    let violations = world.violations().to_vec();
    let mut pipeline = world
        .take_observer(pipeline)
        .expect("installed above, taken once");
    let entries = pipeline.metrics()["lock_entries"].as_u64().unwrap_or(0);
    let writer = pipeline.take_writer().expect("the pipeline writes");
    let trace_digest = digest_hex(writer.digest());
    writer.finish(&serde_json::json!({
        "passed": violations.is_empty(),
        "ended_at": ended_at,
        "halted": world.halted(),
        "violations": violations.len(),
        "metrics": { "lock_entries": entries },
    }))?;
    Ok(Outcome {
        violations,
        entries,
        trace_digest,
        ended_at,
    })
}
