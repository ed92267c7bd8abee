//! The event loop: processes, timers, the network, disks, clocks and faults,
//! and the hooks that report every event to an observer.
//!
//! A [`World`] owns one process object per live process and a [`Kernel`]
//! with everything else. Handling an event borrows one process and the kernel
//! at once; the process acts on the kernel only through [`Cx`]. Queue items
//! carry the incarnation of their target, so a crash discards a process's
//! pending timers and the messages in flight to it without a scan.
//!
//! ```text
//!   pop (time, seq) ──► Deliver ──► process.on_message(cx, from, msg) ──► cx.send / set_timer / disk / trace
//!                  └──► Timer   ──► process.on_timer(cx, timer)
//! ```

use std::marker::PhantomData;

use rand_chacha::ChaCha8Rng;

use super::clock::Clock;
use super::disk::Disk;
use super::net::{DropReason, Fate, LinkStreams, NetConfig, Network};
use super::observer::{ObserverId, Slot};
use super::probe::Probes;
use super::process::{
    AppEvent, Event, EventKind, Message, Observer, ProcessId, Stamp, TimerKind, Violation,
};
use super::queue::EventQueue;
use super::rng;
use super::time::{SimDuration, SimTime};

/// Where a process is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Declared (a later `join`) but not started yet.
    NotStarted,
    /// Running.
    Up,
    /// Alive but processing nothing until resumed.
    Paused,
    /// Crashed; its disk waits for a restart.
    Down,
}

/// What happens to messages that reach a paused process.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PauseMode {
    /// Held and delivered when it resumes (like a socket buffer).
    #[default]
    Delay,
    /// Lost.
    Drop,
}

/// A handle to a timer, for cancelling it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

struct TimerSlot<T> {
    /// Bumped when the slot is freed: stale `TimerId`s no longer match.
    generation: u32,
    /// Bumped whenever the queued entry is superseded (cancel, reschedule).
    version: u32,
    local_deadline: SimTime,
    timer: Option<T>,
    cause: Option<u64>,
}

enum Item<M> {
    Deliver {
        from: ProcessId,
        to: ProcessId,
        to_incarnation: u32,
        id: u64,
        send_seq: Option<u64>,
        /// Descends from a duplicate: never duplicated again (see `Network::fate`).
        echo: bool,
        msg: M,
    },
    Timer {
        proc: ProcessId,
        incarnation: u32,
        slot: u32,
        version: u32,
    },
}

/// The kernel's state of one process.
///
/// Laid out in declaration order (`repr(C)`), what every dispatched item
/// reads first: a delivery or timer checks the status and incarnation, a
/// timer then its slot through `timers`, so those share the first cache
/// line. With Rust's own layout they sat at the end, after the random
/// stream and the disk (about 900 bytes per process), a line apart from
/// `timers`: on `grid-500` (500 processes, a timer or message each time
/// anywhere among them) those loads were a fifth of the event loop's own
/// time, in cache misses. Aligned to a line so that the fields read
/// first never straddle two.
#[repr(C, align(64))]
struct Meta<P: Process> {
    status: Status,
    /// Bumped by each crash: what was queued for an earlier incarnation is void.
    incarnation: u32,
    timers: Vec<TimerSlot<P::Timer>>,
    free_slots: Vec<u32>,
    /// Held while paused, re-queued on resume.
    deferred: Vec<Item<P::Msg>>,
    clock: Clock,
    rng: ChaCha8Rng,
    disk: Disk,
}

/// Counters the kernel keeps whether or not anything observes the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages delivered (a duplicate counts twice).
    pub delivered: u64,
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Messages lost, per [`DropReason::ALL`] position.
    pub dropped: [u64; 6],
    /// Timers fired.
    pub timers_fired: u64,
    /// Events reported to the observer.
    pub events: u64,
    /// Violations found.
    pub violations: u64,
}

/// Everything but the process objects: queue, network, per-process state,
/// the observer. Processes reach it through [`Cx`].
pub struct Kernel<P: Process> {
    now: SimTime,
    queue: EventQueue<Item<P::Msg>>,
    net: Network,
    /// The network's dice, one stream per directed link.
    net_streams: LinkStreams,
    meta: Vec<Meta<P>>,
    names: Vec<String>,
    /// Installed observers; a taken one leaves its place empty, so the
    /// other handles stay valid.
    observers: Vec<Option<Box<dyn Slot<P::Event>>>>,
    /// Observers installed and not taken: zero means no event is built.
    observing: usize,
    next_event_seq: u64,
    next_msg_id: u64,
    scratch: Vec<Violation>,
    pause_mode: PauseMode,
    torn_writes: bool,
    halt_on_violation: bool,
    halted: bool,
    stats: KernelStats,
    /// The first violations, kept for reports (bounded).
    violations: Vec<(SimTime, Violation)>,
    probes: Probes,
    /// Timers cancelled since the queue last dropped its dead entries.
    cancelled: usize,
}

/// The queue drops its dead timers once the timers cancelled since it last
/// did are half its length and at least this many.
const COMPACT_AFTER: usize = 256;

const MAX_KEPT_VIOLATIONS: usize = 100;

impl<P: Process> Kernel<P> {
    /// Reports one event to the observers; returns its `seq`.
    #[inline]
    fn emit(
        &mut self,
        p: ProcessId,
        cause: Option<u64>,
        kind: EventKind<'_, P::Event>,
    ) -> Option<u64> {
        if self.observing == 0 {
            return None;
        }
        let Stamp { t, seq, .. } = self.stamp(p, cause);
        let ev = Event {
            t,
            p,
            seq,
            cause,
            kind,
        };
        for obs in self.observers.iter_mut().flatten() {
            obs.on_event(&ev, &self.names, &mut self.scratch);
        }
        if !self.scratch.is_empty() {
            self.raise(p, seq);
        }
        Some(seq)
    }

    /// Numbers the next event (observed: the caller reports it).
    #[inline]
    fn stamp(&mut self, p: ProcessId, cause: Option<u64>) -> Stamp {
        let seq = self.next_event_seq;
        self.next_event_seq += 1;
        self.stats.events += 1;
        Stamp {
            t: self.now,
            p,
            seq,
            cause,
        }
    }

    fn raise(&mut self, p: ProcessId, cause: u64) {
        let found = std::mem::take(&mut self.scratch);
        for v in found {
            self.record_violation(p, Some(cause), v);
        }
    }

    fn record_violation(&mut self, p: ProcessId, cause: Option<u64>, v: Violation) {
        self.stats.violations += 1;
        if self.halt_on_violation {
            self.halted = true;
        }
        if self.observing > 0 {
            let Stamp { t, seq, .. } = self.stamp(p, cause);
            let kind = EventKind::Violation {
                check: v.check,
                detail: &v.detail,
            };
            let ev = Event {
                t,
                p,
                seq,
                cause,
                kind,
            };
            // A checker does not answer a violation with another one.
            let mut ignored = Vec::new();
            for obs in self.observers.iter_mut().flatten() {
                obs.on_event(&ev, &self.names, &mut ignored);
            }
        }
        if self.violations.len() < MAX_KEPT_VIOLATIONS {
            self.violations.push((self.now, v));
        }
    }

    /// Numbers a message and traces its send. Returns its id, the send
    /// event's `seq`, and the receiver's incarnation — `None` (the message
    /// traced as dropped) when `to` is no process of this world.
    fn open_send(
        &mut self,
        from: ProcessId,
        to: ProcessId,
        msg: &P::Msg,
        cause: Option<u64>,
    ) -> (u64, Option<u64>, Option<u32>) {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        self.stats.sent += 1;
        let class = msg.class();
        let send_seq = self.emit(
            from,
            cause,
            EventKind::Send {
                to,
                msg: msg.name(),
                id,
                class,
            },
        );
        let incarnation = self.meta.get(to.index()).map(|m| m.incarnation);
        if incarnation.is_none() {
            self.drop_msg(from, from, to, msg, id, send_seq, DropReason::Unknown);
        }
        (id, send_seq, incarnation)
    }

    /// A process's send: numbered and traced, then through the network.
    /// `echo` marks a message sent while handling a duplicate's descendant
    /// (see `Network::fate`).
    fn send(
        &mut self,
        from: ProcessId,
        to: ProcessId,
        msg: P::Msg,
        cause: Option<u64>,
        echo: bool,
    ) {
        let (id, send_seq, Some(to_incarnation)) = self.open_send(from, to, &msg, cause) else {
            return;
        };
        // A message waits for what its sender's disk is still writing.
        let lag = self
            .meta
            .get(from.index())
            .map_or(0, |m| m.disk.lag_us(self.now));
        let rng = self.net_streams.get(&self.names, from, to);
        match self.net.fate(rng, from, to, echo) {
            Fate::Dropped(reason) => self.drop_msg(from, from, to, &msg, id, send_seq, reason),
            Fate::Once(d) => {
                let d = d + lag;
                let at = self.now + SimDuration(d);
                self.queue.push(
                    at,
                    Item::Deliver {
                        from,
                        to,
                        to_incarnation,
                        id,
                        send_seq,
                        echo,
                        msg,
                    },
                );
            }
            Fate::Twice(d1, d2) => {
                self.stats.duplicated += 1;
                let copy = msg.clone();
                let at1 = self.now + SimDuration(d1 + lag);
                let at2 = self.now + SimDuration(d2 + lag);
                self.queue.push(
                    at1,
                    Item::Deliver {
                        from,
                        to,
                        to_incarnation,
                        id,
                        send_seq,
                        echo: false,
                        msg: copy,
                    },
                );
                self.queue.push(
                    at2,
                    Item::Deliver {
                        from,
                        to,
                        to_incarnation,
                        id,
                        send_seq,
                        echo: true,
                        msg,
                    },
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn drop_msg(
        &mut self,
        at: ProcessId,
        from: ProcessId,
        to: ProcessId,
        msg: &P::Msg,
        id: u64,
        cause: Option<u64>,
        reason: DropReason,
    ) {
        self.stats.dropped[reason as usize] += 1;
        let class = msg.class();
        self.emit(
            at,
            cause,
            EventKind::Drop {
                from,
                to,
                msg: msg.name(),
                id,
                class,
                reason,
            },
        );
    }

    fn set_timer(
        &mut self,
        p: ProcessId,
        after: SimDuration,
        timer: P::Timer,
        cause: Option<u64>,
    ) -> TimerId {
        let now = self.now;
        let m = &mut self.meta[p.index()];
        let local_deadline = m.clock.local(now) + after;
        let slot = match m.free_slots.pop() {
            Some(s) => s,
            None => {
                m.timers.push(TimerSlot {
                    generation: 0,
                    version: 0,
                    local_deadline,
                    timer: None,
                    cause: None,
                });
                (m.timers.len() - 1) as u32
            }
        };
        let s = &mut m.timers[slot as usize];
        s.local_deadline = local_deadline;
        s.timer = Some(timer);
        s.cause = cause;
        let (generation, version, incarnation) = (s.generation, s.version, m.incarnation);
        let at = m.clock.virtual_at(local_deadline).max(now);
        self.queue.push(
            at,
            Item::Timer {
                proc: p,
                incarnation,
                slot,
                version,
            },
        );
        TimerId { slot, generation }
    }

    fn cancel_timer(&mut self, p: ProcessId, id: TimerId) {
        let m = &mut self.meta[p.index()];
        if let Some(s) = m.timers.get_mut(id.slot as usize)
            && s.generation == id.generation
            && s.timer.is_some()
        {
            s.timer = None;
            s.generation = s.generation.wrapping_add(1);
            s.version = s.version.wrapping_add(1);
            m.free_slots.push(id.slot);
            self.cancelled += 1;
            if self.cancelled >= COMPACT_AFTER && self.cancelled * 2 >= self.queue.len() {
                self.drop_dead_timers();
            }
        }
    }

    /// Drops the queued timers that would pop to nothing: cancelled or
    /// rescheduled (their slot's version moved on), or set by an earlier
    /// incarnation of their process. Exactly the timers [`World::dispatch`]
    /// skips, and a dead timer never comes back to life (its slot's
    /// version and its process's incarnation only move on), so every other
    /// entry pops as before.
    fn drop_dead_timers(&mut self) {
        self.cancelled = 0;
        let meta = &self.meta;
        self.queue.retain(|item| match *item {
            Item::Deliver { .. } => true,
            Item::Timer {
                proc,
                incarnation,
                slot,
                version,
            } => {
                let m = &meta[proc.index()];
                m.incarnation == incarnation
                    && m.timers
                        .get(slot as usize)
                        .is_some_and(|s| s.version == version && s.timer.is_some())
            }
        });
    }
}

/// A simulated process: a sans-IO state machine driven by the kernel.
pub trait Process: Sized + 'static {
    /// The messages processes of this type exchange.
    type Msg: Message;
    /// Its timers.
    type Timer: TimerKind;
    /// The events it traces about itself.
    type Event: AppEvent + 'static;

    /// Called when the process starts or restarts (after a crash it reads
    /// what survived from `cx.disk()`).
    fn on_start(&mut self, cx: &mut Cx<'_, Self>);
    /// A message arrived.
    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: Self::Msg);
    /// A timer set with `cx.set_timer` fired.
    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, timer: Self::Timer);
}

/// What a process sees of the world while it handles one input.
pub struct Cx<'a, P: Process> {
    k: &'a mut Kernel<P>,
    me: ProcessId,
    cause: Option<u64>,
    /// Handling a message that descends from a duplicate.
    echo: bool,
}

impl<P: Process> Cx<'_, P> {
    /// This process.
    pub fn me(&self) -> ProcessId {
        self.me
    }

    /// The local clock (skewed if the scenario says so).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.k.meta[self.me.index()].clock.local(self.k.now)
    }

    /// This process's own random stream.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.k.meta[self.me.index()].rng
    }

    /// Sends `msg` to `to` through the simulated network.
    #[inline]
    pub fn send(&mut self, to: ProcessId, msg: P::Msg) {
        self.k.send(self.me, to, msg, self.cause, self.echo);
    }

    /// Sets a timer to fire after `after` of local time.
    pub fn set_timer(&mut self, after: SimDuration, timer: P::Timer) -> TimerId {
        self.k.set_timer(self.me, after, timer, self.cause)
    }

    /// Cancels a timer; cancelling one that fired or was cancelled is a no-op.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.k.cancel_timer(self.me, id);
    }

    /// This process's disk.
    pub fn disk(&mut self) -> &mut Disk {
        let now = self.k.now;
        let disk = &mut self.k.meta[self.me.index()].disk;
        disk.set_now(now);
        disk
    }

    /// Records an event of this process in the trace (and shows it to the checkers).
    pub fn trace(&mut self, ev: P::Event) {
        self.k.emit(self.me, self.cause, EventKind::App(&ev));
    }

    /// True when something observes the run (building costly trace
    /// details can be skipped otherwise).
    pub fn tracing(&self) -> bool {
        self.k.observing > 0
    }

    /// The name of a process (`"m1"`).
    pub fn name(&self, p: ProcessId) -> &str {
        p.name_in(&self.k.names)
    }

    /// The id of a named process.
    pub fn lookup(&self, name: &str) -> Option<ProcessId> {
        lookup(&self.k.names, name)
    }

    /// All process ids, including ones not started yet.
    pub fn processes(&self) -> impl Iterator<Item = ProcessId> + '_ {
        (0..self.k.names.len() as u32).map(ProcessId)
    }

    /// Whether fault point `name` fires now (see [`Probes::buggify`]).
    #[inline]
    pub fn buggify(&mut self, name: &'static str) -> bool {
        let k = &mut *self.k;
        k.probes.buggify(name, self.me, self.me.name_in(&k.names))
    }

    /// Counts that the rare path `name` ran (see [`Probes::reached`]).
    pub fn reached(&mut self, name: &'static str) {
        self.k.probes.reached(name);
    }
}

fn lookup(names: &[String], name: &str) -> Option<ProcessId> {
    if name == "sim" {
        return Some(ProcessId::SIM);
    }
    names
        .iter()
        .position(|n| n == name)
        .map(|i| ProcessId(i as u32))
}

/// Builds a process from its id and name: at start, join and restart (the
/// process reads its disk in `on_start`).
pub type Factory<P> = Box<dyn FnMut(ProcessId, &str) -> P>;

/// The simulation: processes plus the kernel.
///
/// Its methods, by what they are for:
///
/// - **Setup:** [`new`](Self::new), [`add_observer`](Self::add_observer),
///   [`set_pause_mode`](Self::set_pause_mode),
///   [`set_torn_writes`](Self::set_torn_writes),
///   [`set_halt_on_violation`](Self::set_halt_on_violation).
/// - **Getters:** [`now`](Self::now), [`names`](Self::names),
///   [`name`](Self::name), [`id`](Self::id), [`status`](Self::status),
///   [`process`](Self::process), [`disk`](Self::disk), [`clock`](Self::clock),
///   [`net`](Self::net), [`stats`](Self::stats),
///   [`violations`](Self::violations), [`halted`](Self::halted),
///   [`queue_len`](Self::queue_len).
/// - **Lifecycle commands:** [`start`](Self::start), [`start_by`](Self::start_by),
///   [`crash`](Self::crash), [`restart`](Self::restart), [`pause`](Self::pause),
///   [`resume`](Self::resume), [`disk_loss`](Self::disk_loss),
///   [`set_clock`](Self::set_clock).
/// - **Network faults:** [`net_mut`](Self::net_mut) (partitions, one-way
///   cuts, isolation, link rules, heal).
/// - **Input from outside:** [`inject`](Self::inject) (an operator's message).
/// - **Running:** [`run_until`](Self::run_until).
/// - **Observation:** [`emit_outside`](Self::emit_outside) (the driver's
///   own events), [`report_violation`](Self::report_violation),
///   [`observer`](Self::observer), [`observer_mut`](Self::observer_mut),
///   [`take_observer`](Self::take_observer).
pub struct World<P: Process> {
    k: Kernel<P>,
    procs: Vec<Option<P>>,
    factory: Factory<P>,
}

impl<P: Process> World<P> {
    /// A world of the named processes (none started), the root seed and the
    /// network's parameters.
    pub fn new(seed: u64, names: Vec<String>, net: NetConfig, factory: Factory<P>) -> Self {
        let n = names.len();
        let meta = names
            .iter()
            .map(|name| Meta {
                status: Status::NotStarted,
                incarnation: 0,
                rng: rng::stream(seed, &format!("proc/{name}")),
                clock: Clock::default(),
                timers: Vec::new(),
                free_slots: Vec::new(),
                deferred: Vec::new(),
                disk: Disk::new(),
            })
            .collect();
        World {
            k: Kernel {
                now: SimTime::ZERO,
                queue: EventQueue::new(),
                net: Network::new(n, net),
                net_streams: LinkStreams::new(seed, n),
                meta,
                names,
                observers: Vec::new(),
                observing: 0,
                next_event_seq: 0,
                next_msg_id: 0,
                scratch: Vec::new(),
                pause_mode: PauseMode::Delay,
                torn_writes: false,
                halt_on_violation: true,
                halted: false,
                stats: KernelStats::default(),
                violations: Vec::new(),
                probes: Probes::new(seed),
                cancelled: 0,
            },
            procs: (0..n).map(|_| None).collect(),
            factory,
        }
    }

    /// Switches the fault points on, each firing with `probability` (see
    /// [`Probes`]); 0 switches them off.
    pub fn set_buggify(&mut self, probability: f64) {
        self.k.probes.set_buggify(probability);
    }

    /// The run's fault points and coverage probes.
    pub fn probes(&self) -> &Probes {
        &self.k.probes
    }

    /// Installs an observer that sees every event from now on (a trace
    /// writer, checkers); several see each event in the order installed.
    /// The handle gives it back, typed.
    pub fn add_observer<O: Observer<P::Event> + 'static>(&mut self, observer: O) -> ObserverId<O> {
        self.k.observers.push(Some(Box::new(observer)));
        self.k.observing += 1;
        ObserverId {
            index: self.k.observers.len() - 1,
            _observer: PhantomData,
        }
    }

    /// The observer `id` names (`None` once taken).
    pub fn observer<O: 'static>(&self, id: ObserverId<O>) -> Option<&O> {
        let slot = self.k.observers.get(id.index)?.as_deref()?;
        slot.as_any().downcast_ref()
    }

    /// The observer `id` names, to change (`None` once taken).
    pub fn observer_mut<O: 'static>(&mut self, id: ObserverId<O>) -> Option<&mut O> {
        let slot = self.k.observers.get_mut(id.index)?.as_deref_mut()?;
        slot.as_any_mut().downcast_mut()
    }

    /// Removes the observer `id` names and gives it back: it sees no more
    /// events (`None` if already taken).
    pub fn take_observer<O: 'static>(&mut self, id: ObserverId<O>) -> Option<O> {
        let place = self.k.observers.get_mut(id.index)?;
        if !place.as_deref()?.as_any().is::<O>() {
            return None;
        }
        let slot = place.take()?;
        self.k.observing -= 1;
        slot.into_any().downcast().ok().map(|b| *b)
    }

    /// What messages to a paused process do.
    pub fn set_pause_mode(&mut self, mode: PauseMode) {
        self.k.pause_mode = mode;
    }

    /// Whether a crash tears the last unsynced write.
    pub fn set_torn_writes(&mut self, torn: bool) {
        self.k.torn_writes = torn;
    }

    /// Whether a violation halts the run (the default) or it keeps going.
    pub fn set_halt_on_violation(&mut self, halt: bool) {
        self.k.halt_on_violation = halt;
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.k.now
    }

    /// Process names, indexed by id.
    pub fn names(&self) -> &[String] {
        &self.k.names
    }

    /// The name of `p`.
    pub fn name(&self, p: ProcessId) -> &str {
        p.name_in(&self.k.names)
    }

    /// The id of a named process.
    pub fn id(&self, name: &str) -> Option<ProcessId> {
        lookup(&self.k.names, name)
    }

    /// Where `p` is in its life.
    pub fn status(&self, p: ProcessId) -> Status {
        self.k
            .meta
            .get(p.index())
            .map_or(Status::NotStarted, |m| m.status)
    }

    /// The live process object of `p` (none while down).
    pub fn process(&self, p: ProcessId) -> Option<&P> {
        self.procs.get(p.index())?.as_ref()
    }

    /// The disk of `p`.
    pub fn disk(&self, p: ProcessId) -> Option<&Disk> {
        self.k.meta.get(p.index()).map(|m| &m.disk)
    }

    /// The disk of `p`, to give it faults or damage it.
    pub fn disk_mut(&mut self, p: ProcessId) -> Option<&mut Disk> {
        self.k.meta.get_mut(p.index()).map(|m| &mut m.disk)
    }

    /// The clock of `p`.
    pub fn clock(&self, p: ProcessId) -> Clock {
        self.k
            .meta
            .get(p.index())
            .map_or_else(Clock::default, |m| m.clock)
    }

    /// The network, to add or end faults.
    pub fn net_mut(&mut self) -> &mut Network {
        &mut self.k.net
    }

    /// The network.
    pub fn net(&self) -> &Network {
        &self.k.net
    }

    /// Counters so far.
    pub fn stats(&self) -> &KernelStats {
        &self.k.stats
    }

    /// The first violations found (at most 100), with their times.
    pub fn violations(&self) -> &[(SimTime, Violation)] {
        &self.k.violations
    }

    /// True once a violation stopped the run.
    pub fn halted(&self) -> bool {
        self.k.halted
    }

    /// Entries in the event queue (a bound on memory held by the kernel).
    pub fn queue_len(&self) -> usize {
        self.k.queue.len()
    }

    /// Reports an event that is neither the kernel's nor a process's but
    /// one of whoever drives the world (a scenario runner's step, a note),
    /// in the driver's own terms: the kernel numbers it like any event and
    /// hands its [`Stamp`] to the observer `id` through `report` — that
    /// observer alone sees it. Violations `report` finds are raised as any,
    /// caused by this event. Returns its `seq` (the cause of what the driver
    /// then does), or `None` if that observer is not installed.
    pub fn emit_outside<O: 'static>(
        &mut self,
        id: ObserverId<O>,
        p: ProcessId,
        cause: Option<u64>,
        report: impl FnOnce(&mut O, &Stamp, &[String], &mut Vec<Violation>),
    ) -> Option<u64> {
        let k = &mut self.k;
        let installed = k.observers.get(id.index)?.as_deref()?;
        if !installed.as_any().is::<O>() {
            return None;
        }
        let stamp = k.stamp(p, cause);
        let obs = k.observers[id.index]
            .as_deref_mut()
            .and_then(|o| o.as_any_mut().downcast_mut::<O>())?;
        report(obs, &stamp, &k.names, &mut k.scratch);
        if !k.scratch.is_empty() {
            k.raise(p, stamp.seq);
        }
        Some(stamp.seq)
    }

    /// Delivers `msg` to `to` at `at` (or now, if `at` is past) from outside
    /// the world — an operator, a scenario step — and returns its message id.
    ///
    /// It is traced like any message: a `send` by `sim` now, caused by
    /// `cause` (say, the fault event that asked for it), then a `deliver` at
    /// `to` at `at` — or a `drop` if `to` is not up then (a paused process
    /// gets it on resume, as the pause mode says). It does not cross the
    /// simulated network: no network fault applies and no network dice are
    /// drawn, so injecting a message shifts no other draw of the run. The
    /// receiver sees it from [`ProcessId::SIM`].
    pub fn inject(&mut self, at: SimTime, to: ProcessId, msg: P::Msg, cause: Option<u64>) -> u64 {
        let k = &mut self.k;
        let (id, send_seq, incarnation) = k.open_send(ProcessId::SIM, to, &msg, cause);
        let Some(to_incarnation) = incarnation else {
            return id;
        };
        let item = Item::Deliver {
            from: ProcessId::SIM,
            to,
            to_incarnation,
            id,
            send_seq,
            msg,
            // An operator's message is never a duplicate's descendant.
            echo: false,
        };
        k.queue.push(at.max(k.now), item);
        id
    }

    /// Lets the runner ask an up process to act now, with its context (an
    /// operator's probe, e.g. "report what you hold" at the end of a run).
    /// False, and nothing done, if `p` is not up.
    pub fn probe(&mut self, p: ProcessId, f: impl FnOnce(&mut P, &mut Cx<'_, P>)) -> bool {
        if self.k.meta.get(p.index()).map(|m| m.status) != Some(Status::Up) {
            return false;
        }
        let Some(proc) = self.procs[p.index()].as_mut() else {
            return false;
        };
        let mut cx = Cx {
            k: &mut self.k,
            me: p,
            cause: None,
            echo: false,
        };
        f(proc, &mut cx);
        true
    }

    /// Reports a violation found outside the event stream (a liveness check
    /// at the end of a run).
    pub fn report_violation(&mut self, p: ProcessId, v: Violation) {
        self.k.record_violation(p, None, v);
    }

    /// Starts a process that has not started yet (at time zero or by a join).
    /// Returns false if it was already started.
    pub fn start(&mut self, p: ProcessId) -> bool {
        self.start_by(p, None)
    }

    /// [`start`](Self::start), traced as caused by event `cause` (the
    /// scenario step that booted it: a join).
    pub fn start_by(&mut self, p: ProcessId, cause: Option<u64>) -> bool {
        if !self.transition(p, Status::NotStarted, Status::Up) {
            return false;
        }
        let seq = self.k.emit(p, cause, EventKind::Start);
        self.boot(p, seq);
        true
    }

    /// Moves `p` from status `from` to `to`; false (and no change) if `p`
    /// does not exist or is not in `from`.
    fn transition(&mut self, p: ProcessId, from: Status, to: Status) -> bool {
        match self.k.meta.get_mut(p.index()) {
            Some(m) if m.status == from => {
                m.status = to;
                true
            }
            _ => false,
        }
    }

    fn boot(&mut self, p: ProcessId, cause: Option<u64>) {
        let name = self.k.names[p.index()].clone();
        let mut proc = (self.factory)(p, &name);
        let mut cx = Cx {
            k: &mut self.k,
            me: p,
            cause,
            echo: false,
        };
        proc.on_start(&mut cx);
        self.procs[p.index()] = Some(proc);
    }

    /// Crashes `p`: its volatile state, timers and the messages in flight to
    /// it are gone; its disk keeps what was fsynced. False if it was not up.
    pub fn crash(&mut self, p: ProcessId) -> bool {
        let torn = self.k.torn_writes;
        let Some(m) = self.k.meta.get_mut(p.index()) else {
            return false;
        };
        if !matches!(m.status, Status::Up | Status::Paused) {
            return false;
        }
        m.status = Status::Down;
        m.incarnation += 1;
        m.timers.clear();
        m.free_slots.clear();
        let deferred = std::mem::take(&mut m.deferred);
        let lost_writes = m.disk.crash(torn);
        self.procs[p.index()] = None;
        let seq = self.k.emit(p, None, EventKind::Crash { lost_writes });
        for item in deferred {
            if let Item::Deliver {
                from, to, id, msg, ..
            } = item
            {
                self.k
                    .drop_msg(p, from, to, &msg, id, seq, DropReason::Crashed);
            }
        }
        true
    }

    /// Restarts a crashed process from its disk. False if it was not down.
    pub fn restart(&mut self, p: ProcessId) -> bool {
        if !self.transition(p, Status::Down, Status::Up) {
            return false;
        }
        let seq = self.k.emit(p, None, EventKind::Restart);
        self.boot(p, seq);
        true
    }

    /// Pauses `p`: it processes nothing until resumed. False if not up.
    pub fn pause(&mut self, p: ProcessId) -> bool {
        if !self.transition(p, Status::Up, Status::Paused) {
            return false;
        }
        self.k.emit(p, None, EventKind::Pause);
        true
    }

    /// Resumes a paused process; what arrived meanwhile is handled now, in
    /// arrival order. False if it was not paused.
    pub fn resume(&mut self, p: ProcessId) -> bool {
        let now = self.k.now;
        if !self.transition(p, Status::Paused, Status::Up) {
            return false;
        }
        let deferred = std::mem::take(&mut self.k.meta[p.index()].deferred);
        for item in deferred {
            self.k.queue.push(now, item);
        }
        self.k.emit(p, None, EventKind::Resume);
        true
    }

    /// Wipes the disk of `p` (it is usually down at the time).
    pub fn disk_loss(&mut self, p: ProcessId) -> bool {
        let Some(m) = self.k.meta.get_mut(p.index()) else {
            return false;
        };
        m.disk.wipe();
        self.k.emit(p, None, EventKind::DiskLoss);
        true
    }

    /// Sets the clock of `p`; pending timers are re-aimed at the virtual time
    /// at which the new local clock reaches their deadlines.
    pub fn set_clock(&mut self, p: ProcessId, clock: Clock) -> bool {
        let now = self.k.now;
        let Some(m) = self.k.meta.get_mut(p.index()) else {
            return false;
        };
        m.clock = clock;
        let incarnation = m.incarnation;
        for (slot, s) in m.timers.iter_mut().enumerate() {
            if s.timer.is_some() {
                s.version = s.version.wrapping_add(1);
                let at = clock.virtual_at(s.local_deadline).max(now);
                let item = Item::Timer {
                    proc: p,
                    incarnation,
                    slot: slot as u32,
                    version: s.version,
                };
                self.k.queue.push(at, item);
            }
        }
        self.k.emit(
            p,
            None,
            EventKind::Clock {
                offset_us: clock.offset_us,
                drift_ppm: clock.drift_ppm,
            },
        );
        true
    }

    /// Runs every event before `limit` (unless a violation halts the run),
    /// then sets the clock to `limit`.
    pub fn run_until(&mut self, limit: SimTime) {
        while let Some(t) = self.k.queue.peek_time() {
            if t >= limit || self.k.halted {
                break;
            }
            let Some(entry) = self.k.queue.pop() else {
                break;
            };
            self.k.now = entry.time;
            self.dispatch(entry.item);
        }
        if !self.k.halted && self.k.now < limit {
            self.k.now = limit;
        }
    }

    /// Handles one queued item.
    #[inline]
    fn dispatch(&mut self, item: Item<P::Msg>) {
        match item {
            Item::Deliver {
                from,
                to,
                to_incarnation,
                id,
                send_seq,
                echo,
                msg,
            } => {
                let m = &mut self.k.meta[to.index()];
                let reason = match m.status {
                    Status::Up if m.incarnation == to_incarnation => None,
                    Status::Up => Some(DropReason::Stale),
                    Status::Paused if m.incarnation != to_incarnation => Some(DropReason::Stale),
                    Status::Paused if self.k.pause_mode == PauseMode::Delay => {
                        m.deferred.push(Item::Deliver {
                            from,
                            to,
                            to_incarnation,
                            id,
                            send_seq,
                            echo,
                            msg,
                        });
                        return;
                    }
                    Status::Paused => Some(DropReason::Paused),
                    Status::Down if m.incarnation == to_incarnation => Some(DropReason::Crashed),
                    Status::Down => Some(DropReason::Stale),
                    Status::NotStarted => Some(DropReason::Unknown),
                };
                if let Some(reason) = reason {
                    self.k.drop_msg(to, from, to, &msg, id, send_seq, reason);
                    return;
                }
                self.k.stats.delivered += 1;
                let class = msg.class();
                let seq = self.k.emit(
                    to,
                    send_seq,
                    EventKind::Deliver {
                        from,
                        msg: msg.name(),
                        id,
                        class,
                    },
                );
                let Some(proc) = self.procs[to.index()].as_mut() else {
                    return;
                };
                let mut cx = Cx {
                    k: &mut self.k,
                    me: to,
                    cause: seq,
                    echo,
                };
                proc.on_message(&mut cx, from, msg);
            }
            Item::Timer {
                proc: p,
                incarnation,
                slot,
                version,
            } => {
                let m = &mut self.k.meta[p.index()];
                if m.incarnation != incarnation {
                    return;
                }
                let Some(s) = m.timers.get_mut(slot as usize) else {
                    return;
                };
                if s.version != version || s.timer.is_none() {
                    return;
                }
                if m.status == Status::Paused {
                    m.deferred.push(Item::Timer {
                        proc: p,
                        incarnation,
                        slot,
                        version,
                    });
                    return;
                }
                let Some(timer) = s.timer.take() else { return };
                let cause = s.cause;
                s.generation = s.generation.wrapping_add(1);
                s.version = s.version.wrapping_add(1);
                m.free_slots.push(slot);
                self.k.stats.timers_fired += 1;
                let seq = self.k.emit(
                    p,
                    cause,
                    EventKind::Timer {
                        timer: timer.name(),
                    },
                );
                let Some(proc) = self.procs[p.index()].as_mut() else {
                    return;
                };
                let mut cx = Cx {
                    k: &mut self.k,
                    me: p,
                    cause: seq,
                    echo: false,
                };
                proc.on_timer(&mut cx, timer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::process::NoEvent;

    #[derive(Clone)]
    struct Ping;
    impl Message for Ping {
        fn name(&self) -> &'static str {
            "Ping"
        }
    }
    #[derive(Clone, Copy)]
    struct Tick;
    impl TimerKind for Tick {
        fn name(&self) -> &'static str {
            "Tick"
        }
    }
    #[derive(Default)]
    struct Counter {
        got: u32,
        ticks: u32,
        cancel_next: bool,
    }
    impl Process for Counter {
        type Msg = Ping;
        type Timer = Tick;
        type Event = NoEvent;
        fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
            let id = cx.set_timer(SimDuration::from_millis(10), Tick);
            if self.cancel_next {
                cx.cancel_timer(id);
            }
        }
        fn on_message(&mut self, _: &mut Cx<'_, Self>, _: ProcessId, _: Ping) {
            self.got += 1;
        }
        fn on_timer(&mut self, cx: &mut Cx<'_, Self>, _: Tick) {
            self.ticks += 1;
            let other = ProcessId(1 - cx.me().0);
            cx.send(other, Ping);
            cx.set_timer(SimDuration::from_millis(10), Tick);
        }
    }

    fn world() -> World<Counter> {
        World::new(
            1,
            vec!["a".into(), "b".into()],
            NetConfig::default(),
            Box::new(|_, _| Counter::default()),
        )
    }

    #[test]
    fn timers_fire_and_messages_arrive() {
        let mut w = world();
        w.start(ProcessId(0));
        w.start(ProcessId(1));
        w.run_until(SimTime(100_500));
        let a = w.process(ProcessId(0)).unwrap();
        assert_eq!(a.ticks, 10);
        assert!(a.got >= 9);
        assert_eq!(w.stats().sent, 20);
    }

    /// Every millisecond, arms a one-second retry timer and cancels the
    /// one it armed before (a request answered in time, over and over).
    #[derive(Default)]
    struct Retrier {
        ticks: u32,
        retries: u32,
        retry: Option<TimerId>,
    }
    #[derive(Clone, Copy)]
    enum RetryTimer {
        Tick,
        Retry,
    }
    impl TimerKind for RetryTimer {
        fn name(&self) -> &'static str {
            match self {
                RetryTimer::Tick => "Tick",
                RetryTimer::Retry => "Retry",
            }
        }
    }
    impl Process for Retrier {
        type Msg = Ping;
        type Timer = RetryTimer;
        type Event = NoEvent;
        fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
            cx.set_timer(SimDuration::from_millis(1), RetryTimer::Tick);
        }
        fn on_message(&mut self, _: &mut Cx<'_, Self>, _: ProcessId, _: Ping) {}
        fn on_timer(&mut self, cx: &mut Cx<'_, Self>, t: RetryTimer) {
            match t {
                RetryTimer::Tick => self.ticks += 1,
                RetryTimer::Retry => {
                    self.retries += 1;
                    return;
                }
            }
            if self.ticks <= 5_000 {
                if let Some(old) = self.retry.take() {
                    cx.cancel_timer(old);
                }
                self.retry = Some(cx.set_timer(SimDuration::from_secs(1), RetryTimer::Retry));
                cx.set_timer(SimDuration::from_millis(1), RetryTimer::Tick);
            }
        }
    }

    #[test]
    fn cancelled_timers_leave_the_queue_and_the_rest_fire() {
        let mut w: World<Retrier> = World::new(
            1,
            vec!["a".into()],
            NetConfig::default(),
            Box::new(|_, _| Retrier::default()),
        );
        w.start(ProcessId(0));
        let mut most = 0;
        for ms in 1..=7_000 {
            w.run_until(SimTime(ms * 1_000));
            most = most.max(w.queue_len());
        }
        let r = w.process(ProcessId(0)).unwrap();
        assert_eq!(
            (r.ticks, r.retries),
            (5_001, 1),
            "only the last retry fires"
        );
        // A thousand cancelled retries would wait in a lazy queue; they
        // are dropped once they are half of it.
        assert!(most < 2 * COMPACT_AFTER + 2, "queue peaked at {most}");
        assert_eq!(w.queue_len(), 0);
    }

    /// Records `(p, kind, cause)` of every event.
    struct Recorder(Vec<(ProcessId, &'static str, Option<u64>)>);
    impl Observer<NoEvent> for Recorder {
        fn on_event(&mut self, ev: &Event<'_, NoEvent>, _: &[String], _: &mut Vec<Violation>) {
            self.0.push((ev.p, ev.kind.name(), ev.cause));
        }
    }

    #[test]
    fn injected_messages_are_traced_from_outside_and_follow_the_receiver_s_life() {
        let mut w = world();
        let rec = w.add_observer(Recorder(Vec::new()));
        w.start(ProcessId(0));
        // Caused by the start event (seq 0), at 5ms: before any tick.
        let id = w.inject(SimTime(5_000), ProcessId(0), Ping, Some(0));
        w.run_until(SimTime(6_000));
        assert_eq!(w.process(ProcessId(0)).unwrap().got, 1);
        // To a process that is not up when it arrives: dropped, traced.
        w.inject(SimTime(7_000), ProcessId(1), Ping, None);
        w.run_until(SimTime(8_000));
        let rec = w.observer(rec).unwrap();
        let send = rec.0.iter().position(|e| e.1 == "send").unwrap();
        assert_eq!(rec.0[send], (ProcessId::SIM, "send", Some(0)));
        assert_eq!(
            rec.0[send + 1],
            (ProcessId(0), "deliver", Some(send as u64))
        );
        assert_eq!(rec.0.last().unwrap().1, "drop");
        assert_eq!(w.stats().dropped[DropReason::Unknown as usize], 1);
        assert_eq!(id, 0, "message ids are shared with the processes' own");
    }

    /// Counts events of the kernel and of the driver.
    #[derive(Default)]
    struct Count(u32, Vec<u64>);
    impl Observer<NoEvent> for Count {
        fn on_event(&mut self, _: &Event<'_, NoEvent>, _: &[String], _: &mut Vec<Violation>) {
            self.0 += 1;
        }
    }

    #[test]
    fn observers_come_back_typed_and_the_driver_s_events_are_numbered_with_the_rest() {
        let mut w = world();
        let rec = w.add_observer(Recorder(Vec::new()));
        let count = w.add_observer(Count::default());
        w.start(ProcessId(0));
        let seq = w.emit_outside(count, ProcessId::SIM, Some(0), |c, stamp, _, _| {
            c.1.push(stamp.seq);
            assert_eq!(stamp.cause, Some(0));
        });
        assert_eq!(seq, Some(1), "after the start event");
        assert_eq!(w.observer(rec).unwrap().0.len(), 1, "only `count` saw it");
        let taken = w.take_observer(count).unwrap();
        assert_eq!((taken.0, taken.1), (1, vec![1]));
        w.run_until(SimTime(10_500));
        let kinds: Vec<&str> = w.observer(rec).unwrap().0.iter().map(|e| e.1).collect();
        assert_eq!(kinds, ["start", "timer", "send"]);
        assert_eq!(w.observer(rec).unwrap().0[1].0, ProcessId(0));
        assert!(w.take_observer(count).is_none(), "taken once");
    }

    #[test]
    fn crash_discards_timers_and_restart_rebuilds() {
        let mut w = world();
        w.start(ProcessId(0));
        w.start(ProcessId(1));
        w.run_until(SimTime(25_000));
        assert!(w.crash(ProcessId(1)));
        assert!(w.process(ProcessId(1)).is_none());
        w.run_until(SimTime(60_000));
        assert!(w.stats().dropped[DropReason::Crashed as usize] >= 3);
        assert!(w.restart(ProcessId(1)));
        w.run_until(SimTime(75_000));
        assert_eq!(
            w.process(ProcessId(1)).unwrap().ticks,
            1,
            "fresh process, fresh timers"
        );
    }

    #[test]
    fn skewed_clock_moves_timers() {
        let mut w = world();
        w.set_clock(
            ProcessId(0),
            Clock {
                offset_us: 0,
                drift_ppm: 1_000_000,
            },
        ); // runs 2x fast
        w.start(ProcessId(0));
        w.run_until(SimTime(50_001));
        assert_eq!(
            w.process(ProcessId(0)).unwrap().ticks,
            10,
            "10ms local timers every 5ms virtual"
        );
    }
}
