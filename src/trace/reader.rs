//! Reading a trace back: header, events, footer.
//!
//! The reader accepts a trace with no footer (a run that was killed) and a
//! truncated last line (killed mid-write): it returns every whole event and
//! says what was missing. Anything else that is not a partsim trace is an
//! error that names the line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::sim::net::DropReason;
use crate::sim::{AppEvent, Event, EventKind, Phase, ProcessId, SimTime};

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
    /// The event as checkers see it; `None` for unknown kinds.
    pub fn as_event(&self) -> Option<Event<'_, E>> {
        let kind = match &self.body {
            Body::Send { to, msg, id } => EventKind::Send {
                to: *to,
                msg,
                id: *id,
                data: false,
            },
            Body::Deliver { from, msg, id } => EventKind::Deliver {
                from: *from,
                msg,
                id: *id,
                data: false,
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
                data: false,
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
            Body::Fault {
                fault,
                kind,
                phase,
                detail,
            } => EventKind::Fault {
                fault: *fault,
                kind,
                phase: *phase,
                detail,
            },
            Body::Note { text } => EventKind::Note { text },
            Body::Violation { check, detail } => EventKind::Violation { check, detail },
            Body::App(e) => EventKind::App(e),
            Body::Unknown { .. } => return None,
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
}

impl<E> TraceFile<E> {
    /// A sentence about what was missing, if anything.
    pub fn notice(&self) -> Option<String> {
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
        Some(Err(e)) => {
            return Err(ReadError::Io {
                path: path.to_string(),
                source: e,
            });
        }
        Some(Ok((text, _))) => parse_header(&text).map_err(|m| format_err(1, m))?,
    };
    let names = header.processes.clone();
    let mut out = TraceFile {
        header,
        events: Vec::new(),
        footer: None,
        truncated_line: None,
    };
    let mut line_no = 1u64;
    while let Some(next) = lines.next() {
        line_no += 1;
        let (text, complete) = next.map_err(|e| ReadError::Io {
            path: path.to_string(),
            source: e,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                // A damaged last line is a cut-off run; damage in the middle is not.
                if !complete || lines.peek_is_end() {
                    out.truncated_line = Some(line_no);
                    break;
                }
                return Err(format_err(line_no, format!("not a JSON event: {e}")));
            }
        };
        if value.get("footer").and_then(|f| f.as_bool()) == Some(true) {
            let footer: Footer = serde_json::from_value(value)
                .map_err(|e| format_err(line_no, format!("bad footer: {e}")))?;
            out.footer = Some(footer);
            break;
        }
        let record = parse_record(value, &names).map_err(|m| format_err(line_no, m))?;
        out.events.push(record);
    }
    Ok(out)
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

fn resolve(names: &[String], name: &str) -> ProcessId {
    if name == "sim" {
        return ProcessId::SIM;
    }
    match names.iter().position(|n| n == name) {
        Some(i) => ProcessId(i as u32),
        None => ProcessId(u32::MAX - 1),
    }
}

/// Parses one event line's JSON into a record.
pub fn parse_record<E: DeserializeOwned>(
    value: serde_json::Value,
    names: &[String],
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
    let pid = |k: &str| resolve(names, obj.get(k).and_then(|v| v.as_str()).unwrap_or(""));
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
        match self.inner.read_until(b'\n', &mut buf) {
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
