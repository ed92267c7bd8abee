//! The sans-IO process model: what a simulated process is, and the events the
//! kernel reports to its observers (the trace writer and the checkers).
//!
//! A process ([`Process`](crate::sim::Process), defined beside the context
//! it acts through) is a state machine. Inputs are method calls —
//! `on_start`, `on_message`, `on_timer` — and every effect (send, timers,
//! disk, trace) goes out through [`Cx`](crate::sim::Cx). A process never
//! touches the queue or another process, so the same code could run on a
//! real network.

use serde::Serialize;

use super::net::DropReason;
use super::time::SimTime;

/// Identifies a process of a world: an index into its process table.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct ProcessId(pub u32);

impl ProcessId {
    /// The kernel itself, as the `p` of world-level events (network faults,
    /// violations found at the end of a run). Named `"sim"` in traces.
    pub const SIM: ProcessId = ProcessId(u32::MAX);

    /// The index into per-process tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Its name in a world whose processes are `names` (indexed by id):
    /// `"sim"` for [`ProcessId::SIM`], `"?"` for an id out of range.
    pub fn name_in(self, names: &[String]) -> &str {
        if self == ProcessId::SIM {
            "sim"
        } else {
            names.get(self.index()).map_or("?", |s| s.as_str())
        }
    }
}

/// A message type: cloneable (the network may duplicate it) and named for
/// the trace.
pub trait Message: Clone {
    /// The message kind as traced, e.g. `"AppendEntries"`.
    fn name(&self) -> &'static str;
    /// Its traffic class, which observers may treat differently (a trace
    /// writer may leave [`MsgClass::Bulk`] traffic out). The kernel itself
    /// treats every class alike.
    fn class(&self) -> MsgClass {
        MsgClass::Normal
    }
}

/// A message's traffic class, as its protocol declares it ([`Message::class`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum MsgClass {
    /// Traffic a reader of the trace follows message by message.
    #[default]
    Normal,
    /// High-volume traffic (payloads, bulk transfer) that a reduced trace
    /// may omit.
    Bulk,
}

/// A timer kind: small, copyable, named for the trace.
pub trait TimerKind: Copy {
    /// The timer as traced, e.g. `"Election"`.
    fn name(&self) -> &'static str;
}

/// An event a process reports about itself (a role change, a commit, …).
/// Serialized into the trace as an object whose `"ev"` field is [`kind`](AppEvent::kind).
pub trait AppEvent: Serialize {
    /// The event kind, e.g. `"role"`; equal to the serialized `"ev"` tag.
    fn kind(&self) -> &'static str;

    /// Appends the event's part of a trace line, `,"ev":"…",…}`: exactly
    /// what `serde_json` writes for it after the opening brace, and
    /// returns true; or appends nothing and returns false (the default),
    /// and the trace writer lets `serde_json` write it. Why: the commonest
    /// events of a run are written by hand, without serde's generic walk.
    fn write_json_fields(&self, _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// Appends `s` as `serde_json` writes a string: quoted, with `"`, `\` and
/// control characters escaped (names and most texts have none, and are
/// copied as they are).
#[inline]
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Rare: let serde_json do the escaping.
        serde_json::to_writer(&mut *out, s).expect("a string serializes to JSON");
    }
}

/// A process with no events of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NoEvent {}

impl AppEvent for NoEvent {
    fn kind(&self) -> &'static str {
        match *self {}
    }
}

/// One event as observers see it, online (from the world) or offline (read
/// back from a trace): the same type, so checkers have one code path.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a, E> {
    /// Virtual time.
    pub t: SimTime,
    /// The process it happened at ([`ProcessId::SIM`] for world-level events).
    pub p: ProcessId,
    /// Position in the run's event sequence, from 0.
    pub seq: u64,
    /// The `seq` of the event that led to this one.
    pub cause: Option<u64>,
    /// What happened.
    pub kind: EventKind<'a, E>,
}

/// What happened. Kernel events first; [`EventKind::App`] carries a process's own.
#[derive(Debug, Clone, Copy)]
pub enum EventKind<'a, E> {
    /// `p` sent message `id` to `to`.
    Send {
        /// The receiver.
        to: ProcessId,
        /// The message kind ([`Message::name`]).
        msg: &'a str,
        /// The message id, unique in the run (a duplicate keeps it).
        id: u64,
        /// Its traffic class ([`Message::class`]).
        class: MsgClass,
    },
    /// Message `id` from `from` arrived at `p`.
    Deliver {
        /// The sender.
        from: ProcessId,
        /// The message kind.
        msg: &'a str,
        /// The message id.
        id: u64,
        /// Its traffic class.
        class: MsgClass,
    },
    /// Message `id` from `from` to `to` was lost.
    Drop {
        /// The sender.
        from: ProcessId,
        /// The intended receiver.
        to: ProcessId,
        /// The message kind.
        msg: &'a str,
        /// The message id.
        id: u64,
        /// Its traffic class.
        class: MsgClass,
        /// Why it was lost.
        reason: DropReason,
    },
    /// A timer of `p` fired.
    Timer {
        /// The timer kind ([`TimerKind::name`]).
        timer: &'a str,
    },
    /// `p` started for the first time (at the start, or by a `join`).
    Start,
    /// `p` crashed, losing `lost_writes` unsynced disk writes.
    Crash {
        /// Unsynced writes lost.
        lost_writes: u64,
    },
    /// `p` restarted from its disk.
    Restart,
    /// `p` stopped processing (a GC pause).
    Pause,
    /// `p` resumed.
    Resume,
    /// `p`'s disk was wiped.
    DiskLoss,
    /// `p`'s clock now runs at `virtual * (1 + drift_ppm / 1e6) + offset_us`.
    Clock {
        /// Offset, µs.
        offset_us: i64,
        /// Drift, parts per million.
        drift_ppm: i64,
    },
    /// A checker found its invariant broken.
    Violation {
        /// The checker's name.
        check: &'a str,
        /// What was seen.
        detail: &'a str,
    },
    /// An event of the process itself.
    App(&'a E),
}

impl<E: AppEvent> EventKind<'_, E> {
    /// The `"ev"` name of this event in the trace.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Drop { .. } => "drop",
            EventKind::Timer { .. } => "timer",
            EventKind::Start => "start",
            EventKind::Crash { .. } => "crash",
            EventKind::Restart => "restart",
            EventKind::Pause => "pause",
            EventKind::Resume => "resume",
            EventKind::DiskLoss => "disk_loss",
            EventKind::Clock { .. } => "clock",
            EventKind::Violation { .. } => "violation",
            EventKind::App(e) => e.kind(),
        }
    }

    /// True for message events of [`MsgClass::Bulk`] traffic.
    pub fn is_bulk(&self) -> bool {
        matches!(
            self,
            EventKind::Send {
                class: MsgClass::Bulk,
                ..
            } | EventKind::Deliver {
                class: MsgClass::Bulk,
                ..
            } | EventKind::Drop {
                class: MsgClass::Bulk,
                ..
            }
        )
    }
}

/// A broken invariant, as a checker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The checker's stable name (`election_safety`, …).
    pub check: &'static str,
    /// What was seen, for a person.
    pub detail: String,
}

/// Where and when an event happened, and its place in the run: the fields
/// every event has. The kernel hands one to whoever drives the world for
/// the events it reports itself (see [`World::emit_outside`](super::World::emit_outside)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Virtual time.
    pub t: SimTime,
    /// The process it happened at ([`ProcessId::SIM`] for world-level events).
    pub p: ProcessId,
    /// Position in the run's event sequence, from 0.
    pub seq: u64,
    /// The `seq` of the event that led to this one.
    pub cause: Option<u64>,
}

/// Receives every event of a run, in order: a trace writer, checkers. A
/// world without an observer builds no events at all — the benchmark's
/// path without a trace. Installed with
/// [`World::add_observer`](super::World::add_observer), which returns a
/// typed handle to read it back.
pub trait Observer<E> {
    /// One event. `names` maps process ids to names. A checker that finds a
    /// violation pushes it to `violations`; the kernel traces it (caused by
    /// this event) and halts the run unless told to keep going.
    fn on_event(&mut self, ev: &Event<'_, E>, names: &[String], violations: &mut Vec<Violation>);
}
