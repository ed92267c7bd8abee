//! Reading a trace back: header, events, footer.
//!
//! The reader accepts a trace with no footer (a run that was killed) and a
//! truncated last line (killed mid-write): it returns every whole event and
//! says what was missing. Anything else that is not a partsim trace is an
//! error that names the line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use xxhash_rust::xxh3::Xxh3;

use super::step::Phase;
use crate::sim::net::DropReason;
use crate::sim::{AppEvent, Event, EventKind, MsgClass, ProcessId, SimTime};

/// Longest line any trace reader accepts (header, event or footer): longer
/// lines are refused before they are held in memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// Most process names a trace header may list. A run has at most a few
/// thousand processes (the scenario limits); this leaves ample room.
pub const MAX_PROCESSES: usize = 1 << 20;

/// Line 1 of a trace.
#[derive(Clone, Debug, Deserialize)]
pub struct Header {
    /// Always `"partsim-trace"`.
    pub format: String,
    /// Format version.
    pub version: u64,
    /// The partsim version that wrote it.
    #[serde(default)]
    pub partsim: String,
    /// Scenario name.
    #[serde(default)]
    pub scenario: String,
    /// Root seed.
    #[serde(default)]
    pub seed: u64,
    /// Process names, in id order.
    #[serde(default)]
    pub processes: Vec<String>,
    /// The resolved configuration.
    #[serde(default)]
    pub config: serde_json::Value,
}

/// The last line of a complete trace.
#[derive(Clone, Debug, Deserialize)]
pub struct Footer {
    /// Event lines in the trace.
    pub events: u64,
    /// Digest of the event lines (16 hex digits).
    pub digest: String,
    /// The run's summary.
    #[serde(default)]
    pub summary: serde_json::Value,
}

/// An event read from a trace, owning its strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<E> {
    /// Virtual time, µs.
    pub t: SimTime,
    /// The process, resolved against the header's process list.
    pub p: ProcessId,
    /// Event number.
    pub seq: u64,
    /// The event that led to this one.
    pub cause: Option<u64>,
    /// What happened.
    pub body: Body<E>,
}

/// What happened, owned.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Body<E> {
    Send {
        to: ProcessId,
        msg: String,
        id: u64,
    },
    Deliver {
        from: ProcessId,
        msg: String,
        id: u64,
    },
    Drop {
        from: ProcessId,
        to: ProcessId,
        msg: String,
        id: u64,
        reason: DropReason,
    },
    Timer {
        timer: String,
    },
    Start,
    Crash {
        lost_writes: u64,
    },
    Restart,
    Pause,
    Resume,
    DiskLoss,
    Clock {
        offset_us: i64,
        drift_ppm: i64,
    },
    Fault {
        fault: u32,
        kind: String,
        phase: Phase,
        detail: String,
    },
    Note {
        text: String,
    },
    Violation {
        check: String,
        detail: String,
    },
    App(E),
    /// An event kind this build does not know (a newer writer).
    Unknown {
        ev: String,
    },
}

impl<E: AppEvent> Record<E> {
    /// The event as checkers see it; `None` for the run driver's fault and
    /// note events (checkers see only the kernel's and the processes') and
    /// for unknown kinds.
    pub fn as_event(&self) -> Option<Event<'_, E>> {
        let kind = match &self.body {
            Body::Send { to, msg, id } => EventKind::Send {
                to: *to,
                msg,
                id: *id,
                class: MsgClass::Normal,
            },
            Body::Deliver { from, msg, id } => EventKind::Deliver {
                from: *from,
                msg,
                id: *id,
                class: MsgClass::Normal,
            },
            Body::Drop {
                from,
                to,
                msg,
                id,
                reason,
            } => EventKind::Drop {
                from: *from,
                to: *to,
                msg,
                id: *id,
                class: MsgClass::Normal,
                reason: *reason,
            },
            Body::Timer { timer } => EventKind::Timer { timer },
            Body::Start => EventKind::Start,
            Body::Crash { lost_writes } => EventKind::Crash {
                lost_writes: *lost_writes,
            },
            Body::Restart => EventKind::Restart,
            Body::Pause => EventKind::Pause,
            Body::Resume => EventKind::Resume,
            Body::DiskLoss => EventKind::DiskLoss,
            Body::Clock {
                offset_us,
                drift_ppm,
            } => EventKind::Clock {
                offset_us: *offset_us,
                drift_ppm: *drift_ppm,
            },
            Body::Violation { check, detail } => EventKind::Violation { check, detail },
            Body::App(e) => EventKind::App(e),
            // The driver's events are not the kernel's (see `super::step`);
            // a kind this build does not know is nobody's.
            Body::Fault { .. } | Body::Note { .. } | Body::Unknown { .. } => return None,
        };
        Some(Event {
            t: self.t,
            p: self.p,
            seq: self.seq,
            cause: self.cause,
            kind,
        })
    }
}

/// A trace as read: header, events, and what was missing at the end.
#[derive(Debug)]
pub struct TraceFile<E> {
    /// Line 1.
    pub header: Header,
    /// Every whole event, in order.
    pub events: Vec<Record<E>>,
    /// The footer, when the run finished writing.
    pub footer: Option<Footer>,
    /// Set when the last line was cut short (line number, 1-based).
    pub truncated_line: Option<u64>,
    /// Set when the footer disagrees with the events read (see
    /// [`TraceStream::footer_mismatch`]).
    pub mismatch: Option<String>,
}

impl<E> TraceFile<E> {
    /// A sentence about what was missing or does not match, if anything.
    pub fn notice(&self) -> Option<String> {
        if let Some(m) = &self.mismatch {
            return Some(m.clone());
        }
        match (self.truncated_line, &self.footer) {
            (Some(line), _) => Some(format!(
                "the trace ends mid-line at line {line}: read {} whole events before it (the run was cut off)",
                self.events.len()
            )),
            (None, None) => Some(format!(
                "the trace has no footer: read {} events (the run did not finish writing)",
                self.events.len()
            )),
            _ => None,
        }
    }
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a partsim trace, or is damaged before its end.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What was wrong.
        message: String,
    },
}

/// Reads a whole trace file into memory (for `partsim check` and tests; the
/// replay UI indexes instead).
pub fn read_trace<E: DeserializeOwned>(path: &Path) -> Result<TraceFile<E>, ReadError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    read_from(BufReader::new(file), &shown)
}

/// Reads a trace from any reader; `path` is used in messages.
pub fn read_from<E: DeserializeOwned, R: Read>(
    reader: BufReader<R>,
    path: &str,
) -> Result<TraceFile<E>, ReadError> {
    let mut stream = TraceStream::new(reader, path)?;
    let mut events = Vec::new();
    while let Some((_, record)) = stream.next_record()? {
        events.push(record);
    }
    let mismatch = stream.footer_mismatch();
    Ok(TraceFile {
        header: stream.header,
        events,
        footer: stream.footer,
        truncated_line: stream.truncated_line,
        mismatch,
    })
}

/// A trace read one event at a time, in constant memory (for `partsim
/// check` on traces of any size).
pub struct TraceStream<R: Read> {
    /// Line 1.
    pub header: Header,
    /// The footer, once reached.
    pub footer: Option<Footer>,
    /// Set when the last line was cut short (line number, 1-based).
    pub truncated_line: Option<u64>,
    names: NameIndex,
    lines: Lines<R>,
    line_no: u64,
    path: String,
    done: bool,
    /// Event lines read, and the digest of their bytes (as the writer
    /// hashes them: each line and its newline), to compare with the footer.
    events: u64,
    hasher: Xxh3,
    /// The time of the last event: a trace's events are in time order.
    last_t: SimTime,
}

impl<R: Read> TraceStream<R> {
    /// Reads and checks the header.
    pub fn new(reader: BufReader<R>, path: &str) -> Result<Self, ReadError> {
        let format_err = |line: u64, message: String| ReadError::Format {
            path: path.to_string(),
            line,
            message,
        };
        let mut lines = split_lines(reader);
        let header = match lines.next() {
            None => {
                return Err(format_err(
                    1,
                    "the file is empty: not a partsim trace".into(),
                ));
            }
            Some(Err(e)) => return Err(line_error(path, 1, e)),
            Some(Ok((text, _))) => parse_header(&text).map_err(|m| format_err(1, m))?,
        };
        let names = NameIndex::new(&header.processes);
        Ok(TraceStream {
            header,
            footer: None,
            truncated_line: None,
            names,
            lines,
            line_no: 1,
            path: path.to_string(),
            done: false,
            events: 0,
            hasher: Xxh3::new(),
            last_t: SimTime::ZERO,
        })
    }

    /// The next whole event and its 1-based line, or `None` at the footer,
    /// at a truncated last line, or at the end of the file.
    pub fn next_record<E: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<(u64, Record<E>)>, ReadError> {
        while !self.done {
            let Some(next) = self.lines.next() else {
                self.done = true;
                break;
            };
            self.line_no += 1;
            let line_no = self.line_no;
            let (text, complete) = next.map_err(|e| line_error(&self.path, line_no, e))?;
            if text.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    // A damaged last line is a cut-off run; damage in the middle is not.
                    if !complete || self.lines.peek_is_end() {
                        self.truncated_line = Some(line_no);
                        self.done = true;
                        break;
                    }
                    return Err(self.format_err(line_no, format!("not a JSON event: {e}")));
                }
            };
            if value.get("footer").and_then(|f| f.as_bool()) == Some(true) {
                let footer: Footer = serde_json::from_value(value)
                    .map_err(|e| self.format_err(line_no, format!("bad footer: {e}")))?;
                self.footer = Some(footer);
                self.done = true;
                self.nothing_after_footer()?;
                break;
            }
            if let Some(p) = value.get("p").and_then(|p| p.as_str())
                && !self.names.knows(p)
            {
                return Err(self.format_err(
                    line_no,
                    format!("process {p:?} is not in the header's process list"),
                ));
            }
            let record: Record<E> = parse_record_indexed(value, &self.names)
                .map_err(|m| self.format_err(line_no, m))?;
            if record.t < self.last_t {
                return Err(self.format_err(
                    line_no,
                    format!(
                        "t goes back from {} to {}: a trace's events are in time order",
                        self.last_t.as_micros(),
                        record.t.as_micros()
                    ),
                ));
            }
            self.last_t = record.t;
            self.events += 1;
            if complete {
                self.hasher.update(text.as_bytes());
                self.hasher.update(b"\n");
            }
            return Ok(Some((line_no, record)));
        }
        Ok(None)
    }

    /// A trace ends at its footer: a line after it is an error naming it.
    fn nothing_after_footer(&mut self) -> Result<(), ReadError> {
        while let Some(next) = self.lines.next() {
            self.line_no += 1;
            let line_no = self.line_no;
            let (text, _) = next.map_err(|e| line_error(&self.path, line_no, e))?;
            if !text.trim().is_empty() {
                return Err(self.format_err(
                    line_no,
                    "a line after the footer: a trace ends at its footer".into(),
                ));
            }
        }
        Ok(())
    }

    /// Once the footer is read: a sentence if it does not describe the
    /// events read — their number, or the digest of their bytes (the trace
    /// was changed after the run). The events are still read and judged.
    pub fn footer_mismatch(&self) -> Option<String> {
        let footer = self.footer.as_ref()?;
        if footer.events != self.events {
            return Some(format!(
                "the footer counts {} events but the trace holds {}: the trace was changed after the run",
                footer.events, self.events
            ));
        }
        let digest = super::digest_hex(self.hasher.digest());
        (footer.digest != digest).then(|| {
            format!(
                "the footer's digest {} does not match the events' digest {digest}: the trace was changed after the run",
                footer.digest
            )
        })
    }

    /// A format error at `line` of this trace.
    pub fn format_err(&self, line: u64, message: String) -> ReadError {
        ReadError::Format {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

/// An I/O error while reading `line`; a line over [`MAX_LINE_BYTES`] is a
/// format error naming the line.
fn line_error(path: &str, line: u64, e: std::io::Error) -> ReadError {
    if e.kind() == std::io::ErrorKind::InvalidData
        && e.get_ref().is_some_and(|x| x.is::<LineTooLong>())
    {
        return ReadError::Format {
            path: path.to_string(),
            line,
            message: LineTooLong.to_string(),
        };
    }
    ReadError::Io {
        path: path.to_string(),
        source: e,
    }
}

/// A line longer than [`MAX_LINE_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("a line longer than the limit of {} MiB (MAX_LINE_BYTES): not a partsim trace", MAX_LINE_BYTES >> 20)]
pub struct LineTooLong;

/// Reads one line into `buf` (newline included, if there was one), refusing
/// lines over `max` bytes with an `InvalidData` error holding [`LineTooLong`]
/// before they are held in memory. Returns the bytes read (0 at the end).
pub fn read_line_capped<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let start = buf.len();
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (take, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() - start + take > max + usize::from(found) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineTooLong,
            ));
        }
        buf.extend_from_slice(&available[..take]);
        input.consume(take);
        if found {
            return Ok(buf.len() - start);
        }
    }
}

/// Parses and checks line 1.
pub fn parse_header(text: &str) -> Result<Header, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "line 1 is not JSON: not a partsim trace".to_string())?;
    if value.get("format").and_then(|f| f.as_str()) != Some(super::FORMAT) {
        return Err(format!(
            "line 1 has no \"format\":\"{}\": not a partsim trace",
            super::FORMAT
        ));
    }
    if let Some(names) = value.get("processes").and_then(|p| p.as_array())
        && names.len() > MAX_PROCESSES
    {
        return Err(format!(
            "the header lists {} processes, above the limit of {MAX_PROCESSES} (MAX_PROCESSES)",
            names.len()
        ));
    }
    let header: Header = serde_json::from_value(value).map_err(|e| format!("bad header: {e}"))?;
    if header.version != super::VERSION {
        return Err(format!(
            "trace format version {} is not supported (this partsim reads version {})",
            header.version,
            super::VERSION
        ));
    }
    Ok(header)
}

/// Process names to ids, indexed: a lookup per event must not scan the
/// header's list (300,000 names made `check` take 38 s).
pub struct NameIndex {
    ids: BTreeMap<String, u32>,
}

impl NameIndex {
    /// Indexes `names` (the first of equal names wins, as a scan would find).
    pub fn new(names: &[String]) -> Self {
        let mut ids = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            ids.entry(n.clone()).or_insert(i as u32);
        }
        NameIndex { ids }
    }

    /// Whether `name` is `sim` or a process the header lists.
    pub fn knows(&self, name: &str) -> bool {
        name == "sim" || self.ids.contains_key(name)
    }

    /// The id of `name`; `sim` for the kernel; an id past every process for
    /// a name the header does not list.
    pub fn resolve(&self, name: &str) -> ProcessId {
        if name == "sim" {
            return ProcessId::SIM;
        }
        match self.ids.get(name) {
            Some(&i) => ProcessId(i),
            None => ProcessId(u32::MAX - 1),
        }
    }
}

/// Parses one event line's JSON into a record.
pub fn parse_record<E: DeserializeOwned>(
    value: serde_json::Value,
    names: &[String],
) -> Result<Record<E>, String> {
    parse_record_indexed(value, &NameIndex::new(names))
}

/// [`parse_record`] with the names already indexed.
pub fn parse_record_indexed<E: DeserializeOwned>(
    value: serde_json::Value,
    names: &NameIndex,
) -> Result<Record<E>, String> {
    let obj = value
        .as_object()
        .ok_or("an event line must be a JSON object")?;
    let num = |k: &str| obj.get(k).and_then(|v| v.as_u64());
    let int = |k: &str| obj.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    let text = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let pid = |k: &str| names.resolve(obj.get(k).and_then(|v| v.as_str()).unwrap_or(""));
    let t = SimTime(num("t").ok_or("event without \"t\"")?);
    let seq = num("seq").ok_or("event without \"seq\"")?;
    let cause = num("cause");
    let p = pid("p");
    let ev = obj
        .get("ev")
        .and_then(|v| v.as_str())
        .ok_or("event without \"ev\"")?
        .to_string();
    let body = match ev.as_str() {
        "send" => Body::Send {
            to: pid("to"),
            msg: text("msg"),
            id: num("id").unwrap_or(0),
        },
        "deliver" => Body::Deliver {
            from: pid("from"),
            msg: text("msg"),
            id: num("id").unwrap_or(0),
        },
        "drop" => Body::Drop {
            from: pid("from"),
            to: pid("to"),
            msg: text("msg"),
            id: num("id").unwrap_or(0),
            reason: DropReason::ALL
                .into_iter()
                .find(|r| r.as_str() == text("reason"))
                .unwrap_or(DropReason::Unknown),
        },
        "timer" => Body::Timer {
            timer: text("timer"),
        },
        "start" => Body::Start,
        "crash" => Body::Crash {
            lost_writes: num("lost_writes").unwrap_or(0),
        },
        "restart" => Body::Restart,
        "pause" => Body::Pause,
        "resume" => Body::Resume,
        "disk_loss" => Body::DiskLoss,
        "clock" => Body::Clock {
            offset_us: int("offset_us"),
            drift_ppm: int("drift_ppm"),
        },
        "fault" => Body::Fault {
            fault: num("fault").unwrap_or(0) as u32,
            kind: text("kind"),
            phase: if text("phase") == "end" {
                Phase::End
            } else {
                Phase::Begin
            },
            detail: text("detail"),
        },
        "note" => Body::Note { text: text("text") },
        "violation" => Body::Violation {
            check: text("check"),
            detail: text("detail"),
        },
        _ => match E::deserialize(&value) {
            Ok(e) => Body::App(e),
            Err(_) => Body::Unknown { ev },
        },
    };
    Ok(Record {
        t,
        p,
        seq,
        cause,
        body,
    })
}

/// Lines with a flag telling whether each ended with a newline.
struct Lines<R: Read> {
    inner: BufReader<R>,
    peeked: Option<std::io::Result<(String, bool)>>,
}

fn split_lines<R: Read>(inner: BufReader<R>) -> Lines<R> {
    Lines {
        inner,
        peeked: None,
    }
}

impl<R: Read> Lines<R> {
    fn read_one(&mut self) -> Option<std::io::Result<(String, bool)>> {
        let mut buf = Vec::new();
        match read_line_capped(&mut self.inner, &mut buf, MAX_LINE_BYTES) {
            Ok(0) => None,
            Ok(_) => {
                let complete = buf.last() == Some(&b'\n');
                if complete {
                    buf.pop();
                }
                Some(Ok((String::from_utf8_lossy(&buf).into_owned(), complete)))
            }
            Err(e) => Some(Err(e)),
        }
    }

    fn peek_is_end(&mut self) -> bool {
        if self.peeked.is_none() {
            self.peeked = self.read_one();
        }
        self.peeked.is_none()
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = std::io::Result<(String, bool)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.peeked.take().or_else(|| self.read_one())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::consensus::RaftEvent;
    use crate::stack::events::StackEvent;

    const TRACE: &str = concat!(
        "{\"format\":\"partsim-trace\",\"version\":1,\"scenario\":\"x\",\"seed\":1,\"processes\":[\"m1\",\"n1\"]}\n",
        "{\"t\":1,\"p\":\"m1\",\"seq\":0,\"ev\":\"send\",\"to\":\"n1\",\"msg\":\"Hb\",\"id\":0}\n",
        "{\"t\":3,\"p\":\"n1\",\"seq\":1,\"cause\":0,\"ev\":\"deliver\",\"from\":\"m1\",\"msg\":\"Hb\",\"id\":0}\n",
        "{\"t\":4,\"p\":\"m1\",\"seq\":2,\"ev\":\"role\",\"role\":\"leader\",\"term\":2}\n",
    );

    fn read(text: &str) -> Result<TraceFile<StackEvent>, ReadError> {
        read_from(BufReader::new(text.as_bytes()), "t.jsonl")
    }

    #[test]
    fn reads_events_and_notes_a_missing_footer() {
        let t = read(TRACE).unwrap();
        assert_eq!(t.events.len(), 3);
        assert_eq!(t.events[1].cause, Some(0));
        assert!(matches!(
            t.events[2].body,
            Body::App(StackEvent::Raft(RaftEvent::Role { term: 2, .. }))
        ));
        assert!(t.notice().unwrap().contains("no footer"));
    }

    #[test]
    fn a_truncated_last_line_keeps_the_whole_events() {
        let cut = &TRACE[..TRACE.len() - 20];
        let t = read(cut).unwrap();
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.truncated_line, Some(4));
    }

    #[test]
    fn not_a_trace_is_an_error() {
        assert!(read("hello\n").is_err());
        assert!(read("").is_err());
        assert!(read("{\"format\":\"other\"}\n").is_err());
    }
}
