//! The replay index: what `partsim replay` knows about a trace without
//! holding it.
//!
//! Opening a trace reads it once, front to back, in large chunks:
//!
//! ```text
//!   line ──fast scan of t/p/seq/cause/ev──> EventInfo (32 bytes: offset, t, seq, cause, p, kind)
//!        └─ kinds that change the cluster ──> full parse ──> fold into ClusterState
//!                                                            └─ every K events: checkpoint
//! ```
//!
//! Lines written by [`crate::trace::TraceWriter`] start with the common
//! fields in a fixed order, so the scan reads them by hand; any other line
//! falls back to `serde_json`. Only the events that change the cluster state
//! (roles, lifecycle, replicas, …) and faults are parsed in full while
//! indexing — messages and timers, the bulk of a trace, are not. Every other
//! field is read back from the file on demand, by offset.
//!
//! Seeking is a checkpoint plus at most K applications ([`Replay::state_at`]).
//! K starts at [`CHECKPOINT_EVERY`] and doubles whenever more than
//! [`MAX_CHECKPOINTS`] would be kept, so the checkpoints' memory is bounded
//! whatever the trace length.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;

use super::TuiError;
use super::event::FullEvent;
use super::ops::OpTable;
use super::scan::{Parsed, find_newline, scan_fast, slow_fields};
use super::state::{ActiveFault, ClusterState, affects_state, fault_groups};
use crate::sim::SimDuration;
use crate::trace::reader::parse_header;
use crate::trace::{Footer, Header};

/// Checkpoint interval to start with (events).
pub const CHECKPOINT_EVERY: usize = 1024;
/// At most this many checkpoints are kept (the interval doubles instead).
pub const MAX_CHECKPOINTS: usize = 4096;
/// Lines longer than this are refused (a bound on the read buffer).
pub const MAX_LINE_BYTES: usize = crate::trace::reader::MAX_LINE_BYTES;
/// Distinct process names beyond this are refused (indices are u16).
pub const MAX_PROCESSES: usize = u16::MAX as usize - 1;
/// Distinct event kinds beyond this are refused.
pub const MAX_KINDS: usize = 4096;

const CHUNK_BYTES: usize = 8 << 20;
const PROGRESS_EVERY_BYTES: u64 = 32 << 20;

/// The kinds every trace may hold, at fixed indices (others are appended).
pub const KNOWN_KINDS: [&str; 31] = [
    "send",
    "deliver",
    "drop",
    "timer",
    "start",
    "crash",
    "restart",
    "pause",
    "resume",
    "disk_loss",
    "clock",
    "fault",
    "note",
    "violation",
    "beat",
    "role",
    "vote",
    "append",
    "commit",
    "snapshot",
    "map",
    "replica",
    "health",
    "move",
    "member",
    "auth_reject",
    "invoke",
    "complete",
    "op",
    "served",
    "availability",
];
/// Kind index of `send`.
pub const K_SEND: u16 = 0;
/// Kind index of `deliver`.
pub const K_DELIVER: u16 = 1;
/// Kind index of `drop`.
pub const K_DROP: u16 = 2;
/// Kind index of `fault`.
pub const K_FAULT: u16 = 11;
/// Kind index of `violation`.
pub const K_VIOLATION: u16 = 13;
/// Kind index of `role`.
pub const K_ROLE: u16 = 15;
/// Kind index of `op` (a client operation's invocation or completion).
pub const K_OP: u16 = 28;

/// The top bit of `cause_back`: the link is derived by the index (a
/// restart follows its crash), not written in the trace.
const DERIVED: u32 = 1 << 31;

/// What the index holds per event: 32 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// Byte offset of the line in the file.
    pub offset: u64,
    /// Virtual time, µs.
    pub t: u64,
    /// Event number as written.
    pub seq: u64,
    /// Distance back to the cause's index (0: none, or not in this trace);
    /// the top bit marks a link the index derived (see [`Replay::cause_derived`]).
    cause_back: u32,
    /// Process index (see [`Replay::procs`]).
    pub p: u16,
    /// Kind index (see [`Replay::kinds`]).
    pub kind: u16,
}

/// What sort of process a name denotes (by the `m`/`n`/`c` naming of DESIGN §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcKind {
    /// `m1..mK`: the consensus group.
    Manager,
    /// `n1..nN`: data nodes.
    Node,
    /// `c1..cC`: clients.
    Client,
    /// `sim`: the kernel itself.
    Sim,
    /// Anything else (an impostor, a newer writer's process).
    Other,
}

/// A process of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its name.
    pub name: String,
    /// Manager, node, …
    pub kind: ProcKind,
    /// Position among processes of its kind (for colours).
    pub ordinal: usize,
}

/// Grid geometry from the header's `config.grid`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GridGeom {
    /// Cells across.
    pub width: u64,
    /// Cells down.
    pub height: u64,
    /// Tiles across.
    pub tiles_x: u64,
    /// Tiles down.
    pub tiles_y: u64,
    /// Target replicas per partition.
    pub replication_factor: u64,
}

impl GridGeom {
    /// Partitions (tiles).
    pub fn partitions(&self) -> u64 {
        self.tiles_x * self.tiles_y
    }
}

/// A fault's window, as the whole trace shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpan {
    /// Fault id.
    pub fault: u32,
    /// The action.
    pub kind: String,
    /// The trace's description.
    pub detail: String,
    /// Index of the begin event.
    pub begin_idx: usize,
    /// Its time.
    pub begin_t: u64,
    /// Index and time of the event that ended it; `None`: lasts to the end.
    pub end: Option<(usize, u64)>,
    /// A one-off action (restart, heal, join, …): a marker, not a window.
    pub instant: bool,
}

/// A process leading a term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderSpan {
    /// The leader.
    pub p: u16,
    /// Its term.
    pub term: u64,
    /// When it became leader.
    pub begin_t: u64,
    /// When it stopped (role change or crash); `None`: still at the end.
    pub end_t: Option<u64>,
}

/// Where the bytes of a trace live.
#[derive(Debug)]
enum Source {
    File(File),
    Memory(Vec<u8>),
}

impl Source {
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        match self {
            Source::File(f) => {
                let mut buf = vec![0u8; len];
                read_exact_at(f, &mut buf, offset)?;
                Ok(buf)
            }
            Source::Memory(v) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
                let end = start.saturating_add(len).min(v.len());
                Ok(v[start..end].to_vec())
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = f;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// An indexed trace: header, footer, the per-event index, checkpoints and
/// the span tables the timeline draws.
pub struct Replay {
    name: String,
    source: Source,
    /// Line 1.
    pub header: Header,
    /// The footer, when the run finished writing.
    pub footer: Option<Footer>,
    /// What was missing at the end, if anything (no footer, a cut line).
    pub notice: Option<String>,
    events: Vec<EventInfo>,
    end_offset: u64,
    procs: Vec<ProcInfo>,
    proc_ids: BTreeMap<Box<[u8]>, u16>,
    proc_counts: Vec<u64>,
    kinds: Vec<String>,
    kind_ids: BTreeMap<Box<[u8]>, u16>,
    kind_counts: Vec<u64>,
    kind_folds: Vec<bool>,
    checkpoints: Vec<ClusterState>,
    every: usize,
    violations: Vec<usize>,
    faults: Vec<FaultSpan>,
    leaders: Vec<LeaderSpan>,
    ops: OpTable,
    grid: Option<GridGeom>,
    t_end: u64,
    file_bytes: u64,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the index itself: a million records help nobody.
        f.debug_struct("Replay")
            .field("name", &self.name)
            .field("events", &self.events.len())
            .field("processes", &self.procs.len())
            .field("kinds", &self.kinds.len())
            .field("checkpoints", &self.checkpoints.len())
            .field("checkpoint_every", &self.every)
            .field("notice", &self.notice)
            .finish_non_exhaustive()
    }
}

/// Opens and indexes the trace at `path`.
pub fn open(path: &Path) -> Result<Replay, TuiError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| TuiError::Open {
        path: shown.clone(),
        source,
    })?;
    let len = file.metadata().map(|m| m.len()).ok();
    let reader = file.try_clone().map_err(|source| TuiError::Open {
        path: shown.clone(),
        source,
    })?;
    let progress = io::stderr().is_terminal();
    index(reader, len, shown, Source::File(file), progress)
}

/// Indexes a trace from a file already open for reading, positioned
/// anywhere (the benchmark's unnamed temporary file). `name` is used in
/// messages.
pub fn open_file(mut file: File, name: String) -> Result<Replay, TuiError> {
    use std::io::Seek;
    let open_err = |source| TuiError::Open {
        path: name.clone(),
        source,
    };
    file.rewind().map_err(open_err)?;
    let len = file.metadata().map(|m| m.len()).ok();
    let reader = file.try_clone().map_err(open_err)?;
    index(reader, len, name, Source::File(file), false)
}

/// Indexes a trace held in memory (tests, fixtures). `name` is used in messages.
pub fn open_bytes(name: &str, bytes: Vec<u8>) -> Result<Replay, TuiError> {
    let copy = bytes.clone();
    let len = bytes.len() as u64;
    index(
        io::Cursor::new(copy),
        Some(len),
        name.to_string(),
        Source::Memory(bytes),
        false,
    )
}

/// The state of one indexing pass.
struct Indexer {
    r: Replay,
    state: ClusterState,
    open_faults: BTreeMap<u32, usize>,
    open_leaders: Vec<Option<usize>>,
    /// Per process: its last crash or disk loss, pause, and fault event
    /// (what a restart, a resume and a crash without a written cause follow).
    last_down: Vec<Option<usize>>,
    last_pause: Vec<Option<usize>>,
    last_fault: Vec<Option<usize>>,
    line_no: u64,
    /// A line that failed to parse: an error unless it turns out to be the last one.
    pending_error: Option<(u64, String)>,
    truncated_line: Option<u64>,
    done: bool,
}

fn index<R: Read>(
    mut input: R,
    len: Option<u64>,
    name: String,
    source: Source,
    progress: bool,
) -> Result<Replay, TuiError> {
    let not_trace = |line: u64, message: String| TuiError::NotATrace {
        path: name.clone(),
        line,
        message,
    };
    let mut buf = vec![0u8; CHUNK_BYTES];
    let (mut start, mut end, mut base, mut eof) = (0usize, 0usize, 0u64, false);
    let mut ix: Option<Indexer> = None;
    let mut next_progress = PROGRESS_EVERY_BYTES;
    let io_err = |source: io::Error| TuiError::Open {
        path: name.clone(),
        source,
    };
    loop {
        let (line_start, line, complete) = match find_newline(&buf[start..end]) {
            Some(i) => {
                let s = start;
                start += i + 1;
                (s, &buf[s..s + i], true)
            }
            None if eof => {
                if start == end {
                    break;
                }
                let s = start;
                start = end;
                (s, &buf[s..end], false)
            }
            None => {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    base += start as u64;
                    end -= start;
                    start = 0;
                }
                if end == buf.len() {
                    if buf.len() >= MAX_LINE_BYTES {
                        let line = ix.as_ref().map_or(1, |x| x.line_no + 1);
                        return Err(not_trace(
                            line,
                            format!("a line longer than {} MiB", MAX_LINE_BYTES >> 20),
                        ));
                    }
                    buf.resize(buf.len() * 2, 0);
                }
                let n = input.read(&mut buf[end..]).map_err(io_err)?;
                if n == 0 {
                    eof = true;
                } else {
                    end += n;
                }
                continue;
            }
        };
        let offset = base + line_start as u64;
        match ix.as_mut() {
            None => {
                let text = String::from_utf8_lossy(trim(line));
                if text.is_empty() {
                    return Err(not_trace(
                        1,
                        "the file is empty: not a partsim trace".into(),
                    ));
                }
                let header = parse_header(&text).map_err(|m| not_trace(1, m))?;
                let estimate = len.map_or(0, |l| (l / 96).min(1 << 26) as usize);
                ix = Some(Indexer::new(name.clone(), header, estimate));
            }
            Some(x) => {
                x.line(
                    offset,
                    line,
                    complete,
                    offset + line.len() as u64 + u64::from(complete),
                )
                .map_err(|(line, m)| not_trace(line, m))?;
                if x.done {
                    break;
                }
            }
        }
        if progress && offset >= next_progress {
            next_progress = offset + PROGRESS_EVERY_BYTES;
            let events = ix.as_ref().map_or(0, |x| x.r.events.len());
            let pct = len.filter(|&l| l > 0).map_or(0, |l| offset * 100 / l);
            let _ = write!(io::stderr(), "\rindexing {name}: {pct}% ({events} events)");
        }
    }
    if progress && next_progress > PROGRESS_EVERY_BYTES {
        let _ = write!(io::stderr(), "\r\x1b[K");
    }
    let Some(ix) = ix else {
        return Err(not_trace(
            1,
            "the file is empty: not a partsim trace".into(),
        ));
    };
    Ok(ix.finish(source, len.unwrap_or(base + end as u64)))
}

fn trim(line: &[u8]) -> &[u8] {
    let mut s = line;
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

impl Indexer {
    fn new(name: String, header: Header, estimate: usize) -> Indexer {
        let grid = grid_geom(&header.config);
        let partitions = grid.map_or(0, |g| g.partitions() as usize);
        let mut r = Replay {
            name,
            source: Source::Memory(Vec::new()),
            header,
            footer: None,
            notice: None,
            events: Vec::with_capacity(estimate),
            end_offset: 0,
            procs: Vec::new(),
            proc_ids: BTreeMap::new(),
            proc_counts: Vec::new(),
            kinds: Vec::new(),
            kind_ids: BTreeMap::new(),
            kind_counts: Vec::new(),
            kind_folds: Vec::new(),
            checkpoints: Vec::new(),
            every: CHECKPOINT_EVERY,
            violations: Vec::new(),
            faults: Vec::new(),
            leaders: Vec::new(),
            ops: OpTable::default(),
            grid,
            t_end: 0,
            file_bytes: 0,
        };
        for k in KNOWN_KINDS {
            r.intern_kind(k.as_bytes());
        }
        for p in r.header.processes.clone() {
            r.intern_proc(p.as_bytes());
        }
        let state = ClusterState::initial(r.procs.len(), partitions);
        Indexer {
            r,
            state,
            open_faults: BTreeMap::new(),
            open_leaders: Vec::new(),
            last_down: Vec::new(),
            last_pause: Vec::new(),
            last_fault: Vec::new(),
            line_no: 1,
            pending_error: None,
            truncated_line: None,
            done: false,
        }
    }

    /// One line after the header. Errors carry the 1-based line number.
    fn line(
        &mut self,
        offset: u64,
        raw: &[u8],
        complete: bool,
        next: u64,
    ) -> Result<(), (u64, String)> {
        self.line_no += 1;
        let line = trim(raw);
        if line.is_empty() {
            return Ok(());
        }
        if let Some(err) = self.pending_error.take() {
            // Damage before the last line is not a cut-off run.
            return Err(err);
        }
        let fast = if complete { scan_fast(line) } else { None };
        let parsed = match fast {
            Some(f) => Parsed::Fast(f),
            None => match serde_json::from_slice::<serde_json::Value>(line) {
                Err(e) => {
                    if complete {
                        self.pending_error = Some((self.line_no, format!("not a JSON event: {e}")));
                    } else {
                        self.truncated_line = Some(self.line_no);
                    }
                    return Ok(());
                }
                Ok(v) if v.get("footer").and_then(|f| f.as_bool()) == Some(true) => {
                    let footer: Footer = serde_json::from_value(v)
                        .map_err(|e| (self.line_no, format!("bad footer: {e}")))?;
                    self.r.footer = Some(footer);
                    self.r.end_offset = offset;
                    self.done = true;
                    return Ok(());
                }
                Ok(v) => Parsed::Slow(slow_fields(&v).map_err(|m| (self.line_no, m))?),
            },
        };
        let (t, p, seq, cause, ev) = match &parsed {
            Parsed::Fast(f) => (f.t, f.p, f.seq, f.cause, f.ev),
            Parsed::Slow(s) => (s.t, s.p.as_bytes(), s.seq, s.cause, s.ev.as_bytes()),
        };
        let p = self
            .r
            .intern_proc(p)
            .ok_or((self.line_no, format!("more than {MAX_PROCESSES} processes")))?;
        let kind = self
            .r
            .intern_kind(ev)
            .ok_or((self.line_no, format!("more than {MAX_KINDS} event kinds")))?;
        let i = self.r.events.len();
        let written = cause.and_then(|c| self.r.index_of_seq(c, i));
        let derived = self.lifecycle_cause(p, kind, i, t);
        let back = |ci: usize| u32::try_from(i - ci).ok().filter(|&b| b < DERIVED);
        let cause_back = match (written, derived) {
            (Some(ci), _) => back(ci),
            (None, Some(ci)) => back(ci).map(|b| b | DERIVED),
            (None, None) => None,
        }
        .unwrap_or(0);
        if i.is_multiple_of(self.r.every) {
            self.checkpoint();
        }
        self.r.events.push(EventInfo {
            offset,
            t,
            seq,
            cause_back,
            p,
            kind,
        });
        self.r.end_offset = next;
        self.r.proc_counts[p as usize] += 1;
        self.r.kind_counts[kind as usize] += 1;
        self.r.t_end = self.r.t_end.max(t);
        let folds = self.r.kind_folds[kind as usize];
        if folds || kind == K_FAULT || kind == K_OP {
            let full = match FullEvent::parse(line) {
                Ok(full) => full,
                Err(m) => return Err((self.line_no, m)),
            };
            if kind == K_FAULT {
                self.fault(&full, i);
            }
            if kind == K_OP {
                self.r.ops.on_event(i, p, &full);
            }
            if folds {
                self.track_leaders(&full, p);
                let r = &mut self.r;
                self.state
                    .apply(&full, p, &mut |name| r.intern_proc(name.as_bytes()));
            } else {
                // Parsed for the fault or op tables, not for the state: it
                // still counts as applied, as in `Replay::fold`.
                self.state.skip(t);
            }
        } else {
            self.state.skip(t);
        }
        if kind == K_VIOLATION {
            self.r.violations.push(i);
        }
        Ok(())
    }

    /// A link the trace does not write but a reader needs: a process that
    /// restarts (or starts again) after a crash or a disk loss follows it —
    /// the crash is why it forgot its state; a resume follows its pause; a
    /// crash follows the fault event that caused it. Also records `kind` at
    /// `p` for the events after it.
    fn lifecycle_cause(&mut self, p: u16, kind: u16, i: usize, t: u64) -> Option<usize> {
        let pi = p as usize;
        for v in [
            &mut self.last_down,
            &mut self.last_pause,
            &mut self.last_fault,
        ] {
            if v.len() <= pi {
                v.resize(pi + 1, None);
            }
        }
        match self.r.kinds[kind as usize].as_str() {
            "restart" | "start" => self.last_down[pi].take(),
            "resume" => self.last_pause[pi].take(),
            "crash" | "disk_loss" => {
                // The fault that fired at this very moment; a disk loss
                // without one follows the crash it comes with.
                let at_t = |f: &usize| self.r.events[*f].t == t;
                let fault = self.last_fault[pi].take().filter(at_t);
                let crash = self.last_down[pi].filter(at_t);
                self.last_down[pi] = Some(i);
                fault.or(crash)
            }
            "pause" => {
                self.last_pause[pi] = Some(i);
                self.last_fault[pi]
                    .take()
                    .filter(|&f| self.r.events[f].t == t)
            }
            "fault" => {
                self.last_fault[pi] = Some(i);
                None
            }
            _ => None,
        }
    }

    fn checkpoint(&mut self) {
        self.r.checkpoints.push(self.state.clone());
        if self.r.checkpoints.len() > MAX_CHECKPOINTS {
            // Keep the ones at multiples of 2K: memory stays bounded, seeks
            // replay at most twice as many events.
            let mut n = 0;
            self.r.checkpoints.retain(|_| {
                n += 1;
                n % 2 == 1
            });
            self.r.every *= 2;
        }
    }

    fn fault(&mut self, ev: &FullEvent, i: usize) {
        let id = ev.u64("fault").unwrap_or(0) as u32;
        if ev.str("phase") == "end" {
            if let Some(span) = self.open_faults.remove(&id) {
                self.r.faults[span].end = Some((i, ev.t));
            }
            return;
        }
        self.open_faults.insert(id, self.r.faults.len());
        self.r.faults.push(FaultSpan {
            fault: id,
            kind: ev.str("kind").to_string(),
            detail: ev.str("detail").to_string(),
            begin_idx: i,
            begin_t: ev.t,
            end: None,
            instant: false,
        });
    }

    fn track_leaders(&mut self, ev: &FullEvent, p: u16) {
        let pi = p as usize;
        if pi >= self.open_leaders.len() {
            self.open_leaders.resize(pi + 1, None);
        }
        let ends = matches!(ev.ev.as_str(), "crash" | "role" | "restart" | "start");
        if ends && let Some(span) = self.open_leaders[pi].take() {
            self.r.leaders[span].end_t = Some(ev.t);
        }
        if ev.ev == "role" && ev.str("role") == "leader" {
            self.open_leaders[pi] = Some(self.r.leaders.len());
            self.r.leaders.push(LeaderSpan {
                p,
                term: ev.u64("term").unwrap_or(0),
                begin_t: ev.t,
                end_t: None,
            });
        }
    }

    fn finish(mut self, source: Source, file_bytes: u64) -> Replay {
        if self.r.checkpoints.is_empty() {
            self.checkpoint();
        }
        let mut r = self.r;
        r.source = source;
        r.file_bytes = file_bytes;
        r.events.shrink_to_fit();
        let count = r.events.len();
        r.notice = match (
            self.truncated_line.or(self.pending_error.map(|(l, _)| l)),
            &r.footer,
        ) {
            (Some(line), _) => Some(format!(
                "the trace ends mid-line at line {line}: showing the {count} whole events before it (the run was cut off)"
            )),
            (None, None) => Some(format!(
                "the trace has no footer: showing {count} events (the run did not finish writing)"
            )),
            (None, Some(f)) if f.events != count as u64 => Some(format!(
                "the footer counts {} events but the trace holds {count}",
                f.events
            )),
            _ => None,
        };
        if let Some(d) = r.header.config.get("duration").and_then(duration_us) {
            r.t_end = r.t_end.max(d);
        }
        r.close_fault_spans();
        r
    }
}

fn duration_us(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => SimDuration::parse(s).ok().map(|d| d.as_micros()),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn grid_geom(config: &serde_json::Value) -> Option<GridGeom> {
    let g = config.get("grid")?;
    let num = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_u64());
    let width = num(g.get("width"))?;
    let height = num(g.get("height"))?;
    let tile = g.get("tile");
    let tw = num(tile.and_then(|t| t.get(0)))
        .or(num(g.get("tile_width")))?
        .max(1);
    let th = num(tile.and_then(|t| t.get(1)))
        .or(num(g.get("tile_height")))?
        .max(1);
    let (tiles_x, tiles_y) = (width.div_ceil(tw), height.div_ceil(th));
    if tiles_x == 0 || tiles_y == 0 || tiles_x * tiles_y > super::state::MAX_PARTITIONS as u64 {
        return None;
    }
    let replication_factor = num(g.get("replication_factor")).unwrap_or(0);
    Some(GridGeom {
        width,
        height,
        tiles_x,
        tiles_y,
        replication_factor,
    })
}

fn proc_kind(name: &str) -> ProcKind {
    let numbered = |prefix: char| {
        name.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    if name == "sim" {
        ProcKind::Sim
    } else if numbered('m') {
        ProcKind::Manager
    } else if numbered('n') {
        ProcKind::Node
    } else if numbered('c') {
        ProcKind::Client
    } else {
        ProcKind::Other
    }
}

impl Replay {
    fn intern_proc(&mut self, name: &[u8]) -> Option<u16> {
        if let Some(&id) = self.proc_ids.get(name) {
            return Some(id);
        }
        if self.procs.len() >= MAX_PROCESSES {
            return None;
        }
        let id = self.procs.len() as u16;
        let text = String::from_utf8_lossy(name).into_owned();
        let kind = proc_kind(&text);
        let ordinal = self.procs.iter().filter(|p| p.kind == kind).count();
        self.procs.push(ProcInfo {
            name: text,
            kind,
            ordinal,
        });
        self.proc_ids.insert(name.into(), id);
        self.proc_counts.push(0);
        Some(id)
    }

    fn intern_kind(&mut self, name: &[u8]) -> Option<u16> {
        if let Some(&id) = self.kind_ids.get(name) {
            return Some(id);
        }
        if self.kinds.len() >= MAX_KINDS {
            return None;
        }
        let id = self.kinds.len() as u16;
        let text = String::from_utf8_lossy(name).into_owned();
        self.kind_folds.push(affects_state(&text));
        self.kinds.push(text);
        self.kind_ids.insert(name.into(), id);
        self.kind_counts.push(0);
        Some(id)
    }

    /// Index of the event numbered `seq`, among the first `before` events.
    fn index_of_seq(&self, seq: u64, before: usize) -> Option<usize> {
        let evs = &self.events[..before];
        let first = evs.first()?.seq;
        // Real traces number events densely from the first one: try that first.
        if let Some(guess) = seq.checked_sub(first).and_then(|d| usize::try_from(d).ok())
            && evs.get(guess).is_some_and(|e| e.seq == seq)
        {
            return Some(guess);
        }
        let i = evs.partition_point(|e| e.seq < seq);
        evs.get(i).filter(|e| e.seq == seq).map(|_| i)
    }

    fn close_fault_spans(&mut self) {
        let heals: Vec<(usize, u64)> = self
            .faults
            .iter()
            .filter(|f| f.kind == "heal")
            .map(|f| (f.begin_idx, f.begin_t))
            .collect();
        for i in 0..self.faults.len() {
            let f = &self.faults[i];
            if f.end.is_some() {
                continue;
            }
            let end = match f.kind.as_str() {
                "partition" | "one_way" | "isolate" | "link" => heals
                    .iter()
                    .find(|(idx, _)| *idx > f.begin_idx)
                    .copied()
                    .map(Some),
                "crash" => Some(self.find_at_target(f, &["restart", "start"])),
                "pause" => Some(self.find_at_target(f, &["resume"])),
                "clock" => Some(None),
                _ => None,
            };
            match end {
                Some(end) => self.faults[i].end = end,
                None => self.faults[i].instant = true,
            }
        }
    }

    /// The first event of one of `kinds` at the fault's target after it began.
    fn find_at_target(&self, f: &FaultSpan, kinds: &[&str]) -> Option<(usize, u64)> {
        let target = f
            .detail
            .split(|c: char| c.is_whitespace() || c == ',')
            .find_map(|w| self.proc_id(w.trim_matches('"')))?;
        let kinds: Vec<u16> = kinds.iter().filter_map(|k| self.kind_id(k)).collect();
        self.events[f.begin_idx..]
            .iter()
            .position(|e| e.p == target && kinds.contains(&e.kind))
            .map(|k| (f.begin_idx + k, self.events[f.begin_idx + k].t))
    }

    // ---- getters ----

    /// The name shown for this trace (its path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Events in the trace.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the trace holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The index record of event `i`.
    pub fn event(&self, i: usize) -> &EventInfo {
        &self.events[i]
    }

    /// Every index record (for scans).
    pub fn events(&self) -> &[EventInfo] {
        &self.events
    }

    /// Index of the event that caused event `i`, when it is in the trace.
    pub fn cause_of(&self, i: usize) -> Option<usize> {
        let back = self.events.get(i)?.cause_back & !DERIVED;
        (back > 0).then(|| i - back as usize)
    }

    /// True when event `i`'s cause link is not written in the trace but
    /// derived by the index: a restart (or a second start) follows the
    /// process's crash or disk loss, a resume its pause, a crash or pause
    /// the fault event that fired it at that moment.
    pub fn cause_derived(&self, i: usize) -> bool {
        self.events
            .get(i)
            .is_some_and(|e| e.cause_back & DERIVED != 0)
    }

    /// The client operations: invocation to completion, per client.
    pub fn ops(&self) -> &OpTable {
        &self.ops
    }

    /// Index of the event numbered `seq`, if the trace holds it.
    pub fn find_seq(&self, seq: u64) -> Option<usize> {
        self.index_of_seq(seq, self.events.len())
    }

    /// The processes: the header's list first, then names met in events.
    pub fn procs(&self) -> &[ProcInfo] {
        &self.procs
    }

    /// A process's index by name.
    pub fn proc_id(&self, name: &str) -> Option<u16> {
        self.proc_ids.get(name.as_bytes()).copied()
    }

    /// Events per process.
    pub fn proc_counts(&self) -> &[u64] {
        &self.proc_counts
    }

    /// Event kinds: [`KNOWN_KINDS`] first, then kinds met in the trace.
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    /// A kind's index by name.
    pub fn kind_id(&self, name: &str) -> Option<u16> {
        self.kind_ids.get(name.as_bytes()).copied()
    }

    /// Events per kind.
    pub fn kind_counts(&self) -> &[u64] {
        &self.kind_counts
    }

    /// Indices of the violation events.
    pub fn violations(&self) -> &[usize] {
        &self.violations
    }

    /// Fault windows and one-off fault markers, in order of beginning.
    pub fn faults(&self) -> &[FaultSpan] {
        &self.faults
    }

    /// Leadership spans, in order of beginning.
    pub fn leaders(&self) -> &[LeaderSpan] {
        &self.leaders
    }

    /// Grid geometry, when the header's configuration has one.
    pub fn grid(&self) -> Option<GridGeom> {
        self.grid
    }

    /// End of the time axis: the scenario's duration or the last event, µs.
    pub fn t_end(&self) -> u64 {
        self.t_end.max(1)
    }

    /// Size of the trace file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Bytes of memory held by the index and the checkpoints (an estimate).
    pub fn index_bytes(&self) -> usize {
        let cp: usize = self
            .checkpoints
            .iter()
            .map(|c| {
                std::mem::size_of::<ClusterState>()
                    + c.procs.len() * std::mem::size_of::<super::state::ProcState>()
                    + c.partitions
                        .iter()
                        .map(|p| std::mem::size_of_val(p) + p.replicas.len() * 4)
                        .sum::<usize>()
            })
            .sum();
        self.events.capacity() * std::mem::size_of::<EventInfo>() + cp
    }

    /// The checkpoint interval in effect (events).
    pub fn checkpoint_every(&self) -> usize {
        self.every
    }

    /// The raw line of event `i`, without its newline.
    pub fn line(&self, i: usize) -> io::Result<Vec<u8>> {
        let start = self.events[i].offset;
        let end = self.events.get(i + 1).map_or(self.end_offset, |e| e.offset);
        let len = usize::try_from(end.saturating_sub(start))
            .unwrap_or(usize::MAX)
            .min(MAX_LINE_BYTES);
        let bytes = self.source.read_at(start, len)?;
        Ok(trim(&bytes).to_vec())
    }

    /// Event `i` parsed in full; an error message when the line cannot be read.
    pub fn full(&self, i: usize) -> Result<FullEvent, String> {
        let line = self
            .line(i)
            .map_err(|e| format!("cannot read the trace: {e}"))?;
        FullEvent::parse(&line)
    }

    /// The first event at or after virtual time `t` (`len()` if none).
    pub fn index_at_or_after(&self, t: u64) -> usize {
        self.events.partition_point(|e| e.t < t)
    }

    /// The last event at or before virtual time `t` (0 if none).
    pub fn index_at_or_before(&self, t: u64) -> usize {
        self.events.partition_point(|e| e.t <= t).saturating_sub(1)
    }

    /// The cluster after event `i` (before any event when the trace is
    /// empty): the nearest checkpoint plus at most K applications.
    pub fn state_at(&self, i: usize) -> ClusterState {
        if self.events.is_empty() {
            let mut st = self.checkpoints[0].clone();
            st.faults.clear();
            return st;
        }
        let i = i.min(self.events.len() - 1);
        let j = ((i + 1) / self.every).min(self.checkpoints.len() - 1);
        let mut st = self.checkpoints[j].clone();
        self.fold(&mut st, j * self.every, i + 1);
        st.faults = self.active_faults(i);
        st
    }

    /// Applies events `from..to` to `st`.
    pub fn fold(&self, st: &mut ClusterState, from: usize, to: usize) {
        for k in from..to.min(self.events.len()) {
            let e = &self.events[k];
            if self.kind_folds[e.kind as usize] {
                match self.full(k) {
                    Ok(full) => st.apply(&full, e.p, &mut |name| self.proc_id(name)),
                    Err(_) => st.skip(e.t),
                }
            } else {
                st.skip(e.t);
            }
        }
    }

    /// The first event at or after `from` (wrapping to the start) whose
    /// line contains `needle`, ignoring ASCII case.
    pub fn search(&self, from: usize, needle: &str) -> Option<usize> {
        let n = self.events.len();
        if n == 0 || needle.is_empty() {
            return None;
        }
        let needle: Vec<u8> = needle.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let from = if from >= n { 0 } else { from };
        self.search_range(from, n, &needle, true)
            .or_else(|| self.search_range(0, from, &needle, true))
    }

    /// The last event before `before` (wrapping to the end) whose line
    /// contains `needle`, ignoring ASCII case: a search backwards.
    pub fn search_back(&self, before: usize, needle: &str) -> Option<usize> {
        let n = self.events.len();
        if n == 0 || needle.is_empty() {
            return None;
        }
        let needle: Vec<u8> = needle.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let before = before.min(n);
        self.search_range(0, before, &needle, false)
            .or_else(|| self.search_range(before, n, &needle, false))
    }

    /// The first (`forward`) or last match in events `a..b`, reading the
    /// file a block of lines at a time.
    fn search_range(&self, a: usize, b: usize, needle: &[u8], forward: bool) -> Option<usize> {
        const BLOCK: usize = 4096;
        let mut i = a;
        let mut j = b;
        while i < j {
            let (lo, hi) = if forward {
                (i, (i + BLOCK).min(j))
            } else {
                (j.saturating_sub(BLOCK).max(i), j)
            };
            if let Some(k) = self.search_block(lo, hi, needle, forward) {
                return Some(k);
            }
            if forward {
                i = hi;
            } else {
                j = lo;
            }
        }
        None
    }

    fn search_block(&self, i: usize, j: usize, needle: &[u8], first: bool) -> Option<usize> {
        let end_of = |k: usize| self.events.get(k).map_or(self.end_offset, |e| e.offset);
        let start = self.events[i].offset;
        let len = usize::try_from(end_of(j).saturating_sub(start)).ok()?;
        let bytes = self.source.read_at(start, len).ok()?;
        let hit = |k: usize| {
            let s = (self.events[k].offset - start) as usize;
            let e = ((end_of(k + 1) - start) as usize).min(bytes.len());
            let line = &bytes[s.min(e)..e];
            line.len() >= needle.len()
                && line.windows(needle.len()).any(|w| {
                    w.iter()
                        .zip(needle)
                        .all(|(x, y)| x.to_ascii_lowercase() == *y)
                })
        };
        if first {
            (i..j).find(|&k| hit(k))
        } else {
            (i..j).rev().find(|&k| hit(k))
        }
    }

    /// The fault windows open after event `i`.
    pub fn active_faults(&self, i: usize) -> Vec<ActiveFault> {
        self.faults
            .iter()
            .filter(|f| !f.instant && f.begin_idx <= i && f.end.is_none_or(|(end, _)| end > i))
            .map(|f| ActiveFault {
                fault: f.fault,
                kind: f.kind.clone(),
                detail: f.detail.clone(),
                groups: fault_groups(&f.kind, &f.detail),
                since_t: f.begin_t,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan::Fast;
    use super::*;

    const HEAD: &str = "{\"format\":\"partsim-trace\",\"version\":1,\"scenario\":\"x\",\"seed\":1,\"processes\":[\"m1\",\"n1\"],\"config\":{\"duration\":\"1s\",\"grid\":{\"width\":4,\"height\":4,\"tile\":[2,2],\"replication_factor\":1}}}\n";

    fn body() -> String {
        let mut s = String::from(HEAD);
        s.push_str("{\"t\":1,\"p\":\"m1\",\"seq\":0,\"ev\":\"start\"}\n");
        s.push_str("{\"t\":2,\"p\":\"m1\",\"seq\":1,\"ev\":\"send\",\"to\":\"n1\",\"msg\":\"Hb\",\"id\":0}\n");
        s.push_str("{\"p\":\"n1\",\"t\":3,\"seq\":2,\"cause\":1,\"ev\":\"deliver\",\"from\":\"m1\",\"msg\":\"Hb\",\"id\":0}\n");
        s.push_str(
            "{\"t\":4,\"p\":\"m1\",\"seq\":3,\"ev\":\"role\",\"role\":\"leader\",\"term\":2}\n",
        );
        s.push_str("{\"t\":5,\"p\":\"sim\",\"seq\":4,\"ev\":\"fault\",\"fault\":1,\"kind\":\"partition\",\"phase\":\"begin\",\"detail\":\"[m1] | [*]\"}\n");
        s.push_str("{\"t\":6,\"p\":\"n1\",\"seq\":5,\"ev\":\"replica\",\"partition\":2,\"state\":\"primary\",\"epoch\":1}\n");
        s.push_str("{\"t\":7,\"p\":\"sim\",\"seq\":6,\"ev\":\"fault\",\"fault\":1,\"kind\":\"partition\",\"phase\":\"end\",\"detail\":\"[m1] | [*]\"}\n");
        s.push_str("{\"t\":8,\"p\":\"n9\",\"seq\":7,\"ev\":\"brand_new_kind\",\"x\":1}\n");
        s
    }

    fn footer(events: u64) -> String {
        format!(
            "{{\"footer\":true,\"events\":{events},\"digest\":\"0000000000000000\",\"summary\":{{}}}}\n"
        )
    }

    #[test]
    fn the_index_keeps_32_bytes_per_event() {
        assert_eq!(std::mem::size_of::<EventInfo>(), 32);
    }

    #[test]
    fn fast_scan_reads_writer_lines_and_refuses_others() {
        let f = scan_fast(
            b"{\"t\":12,\"p\":\"m1\",\"seq\":4,\"cause\":2,\"ev\":\"send\",\"to\":\"n1\"}",
        )
        .unwrap();
        assert_eq!(
            f,
            Fast {
                t: 12,
                p: b"m1",
                seq: 4,
                cause: Some(2),
                ev: b"send"
            }
        );
        assert!(scan_fast(b"{\"p\":\"m1\",\"t\":12,\"seq\":4,\"ev\":\"send\"}").is_none());
        assert!(scan_fast(b"{\"t\":12,\"p\":\"m\\\"1\",\"seq\":4,\"ev\":\"send\"}").is_none());
        assert!(scan_fast(b"{\"t\":12,\"p\":\"m1\",\"seq\":4,\"ev\":\"send\",\"to\":").is_none());
    }

    #[test]
    fn find_newline_agrees_with_a_plain_search() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 37 == 36 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for start in 0..text.len() {
            assert_eq!(
                find_newline(&text[start..]),
                text[start..].iter().position(|&b| b == b'\n')
            );
        }
    }

    #[test]
    fn indexes_a_complete_trace() {
        let text = body() + &footer(8);
        let r = open_bytes("t", text.into_bytes()).unwrap();
        assert_eq!(r.len(), 8);
        assert!(r.notice.is_none(), "{:?}", r.notice);
        assert_eq!(r.cause_of(2), Some(1));
        assert_eq!(r.cause_of(1), None);
        assert_eq!(r.kinds()[r.event(7).kind as usize], "brand_new_kind");
        assert_eq!(r.procs()[r.event(7).p as usize].name, "n9");
        assert_eq!(r.t_end(), 1_000_000);
        assert_eq!(r.leaders().len(), 1);
        assert_eq!(r.faults()[0].end, Some((6, 7)));
        let st = r.state_at(5);
        assert_eq!(st.faults.len(), 1);
        assert_eq!(st.faults[0].groups, vec![vec!["m1"], vec!["*"]]);
        assert_eq!(st.partitions[2].primary, r.proc_id("n1"));
        assert_eq!(st.leader(), Some((0, 2)));
        assert!(r.state_at(6).faults.is_empty());
        assert!(r.full(7).unwrap().summary().contains("x=1"));
    }

    #[test]
    fn a_missing_footer_or_a_cut_line_opens_with_a_notice() {
        let r = open_bytes("t", body().into_bytes()).unwrap();
        assert_eq!(r.len(), 8);
        assert!(r.notice.as_deref().unwrap().contains("no footer"));
        let full = body();
        let cut = &full[..full.len() - 10];
        let r = open_bytes("t", cut.as_bytes().to_vec()).unwrap();
        assert_eq!(r.len(), 7);
        assert!(
            r.notice.as_deref().unwrap().contains("mid-line at line 9"),
            "{:?}",
            r.notice
        );
        // A damaged last line that still ends with a newline is a cut-off run too.
        let damaged = format!("{}{{\"t\":9,\"p\"\n", body());
        let r = open_bytes("t", damaged.into_bytes()).unwrap();
        assert_eq!(r.len(), 8);
        assert!(r.notice.is_some());
    }

    #[test]
    fn a_cut_trace_on_disk_reads_back_by_offset() {
        let dir = super::super::scratch_dir("index-test");
        let path = dir.join("cut.jsonl");
        let full = body();
        std::fs::write(&path, &full[..full.len() - 10]).unwrap();
        let r = open(&path).unwrap();
        assert_eq!(r.len(), 7);
        assert!(r.notice.as_deref().unwrap().contains("mid-line"));
        assert_eq!(r.full(6).unwrap().ev, "fault");
        assert_eq!(r.full(0).unwrap().ev, "start");
        assert_eq!(r.state_at(6).partitions[2].primary, r.proc_id("n1"));
        assert_eq!(r.search(0, "REPLICA"), Some(5));
        assert_eq!(r.search(6, "\"start\""), Some(0), "wraps around");
        assert_eq!(r.file_bytes(), (full.len() - 10) as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damage_in_the_middle_and_non_traces_are_errors() {
        let mut bad = String::from(HEAD);
        bad.push_str("{\"t\":1,\"p\":\"m1\",\"seq\":0,\"ev\":\"start\"}\n");
        bad.push_str("garbage\n");
        bad.push_str("{\"t\":2,\"p\":\"m1\",\"seq\":1,\"ev\":\"start\"}\n");
        let err = open_bytes("t", bad.into_bytes()).unwrap_err();
        assert!(err.to_string().contains("t:3"), "{err}");
        assert!(err.is_bad_input());
        for text in [
            "",
            "hello\n",
            "{\"format\":\"other\"}\n",
            "\u{0}\u{1}binary",
        ] {
            let err = open_bytes("t", text.as_bytes().to_vec()).unwrap_err();
            assert!(err.is_bad_input());
            assert!(
                err.to_string().contains("not a partsim trace")
                    || err.to_string().contains("empty"),
                "{err}"
            );
        }
        let missing = open(Path::new("/nonexistent/trace.jsonl")).unwrap_err();
        assert!(missing.is_bad_input());
    }

    #[test]
    fn seeks_agree_with_a_fold_from_the_start_across_checkpoints() {
        let mut s = String::from(HEAD);
        for i in 0..5000u64 {
            let line = match i % 5 {
                0 => format!(
                    "{{\"t\":{i},\"p\":\"n1\",\"seq\":{i},\"ev\":\"replica\",\"partition\":{},\"state\":\"primary\",\"epoch\":{i}}}\n",
                    i % 4
                ),
                1 => format!(
                    "{{\"t\":{i},\"p\":\"m1\",\"seq\":{i},\"ev\":\"role\",\"role\":\"leader\",\"term\":{i}}}\n"
                ),
                2 => format!(
                    "{{\"t\":{i},\"p\":\"n1\",\"seq\":{i},\"ev\":\"replica\",\"partition\":{},\"state\":\"removed\",\"epoch\":{i}}}\n",
                    (i + 1) % 4
                ),
                _ => format!(
                    "{{\"t\":{i},\"p\":\"m1\",\"seq\":{i},\"cause\":{},\"ev\":\"send\",\"to\":\"n1\",\"msg\":\"X\",\"id\":{i}}}\n",
                    i - 1
                ),
            };
            s.push_str(&line);
        }
        let r = open_bytes("t", s.into_bytes()).unwrap();
        let mut st = ClusterState::initial(r.procs().len(), 4);
        for i in [0usize, 1, 1023, 1024, 1025, 2047, 2048, 4999] {
            let mut fresh = st.clone();
            r.fold(&mut fresh, 0, i + 1);
            assert_eq!(r.state_at(i), fresh, "at {i}");
        }
        r.fold(&mut st, 0, 5000);
        assert_eq!(st.applied, 5000);
        assert_eq!(r.cause_of(4999), Some(4998));
    }
}
