//! Chrome Trace Event export (`partsim export TRACE --format chrome -o out.json`),
//! so a trace opens in Perfetto (ui.perfetto.dev) or `chrome://tracing`.
//!
//! ```text
//!   partsim process  ──> pid (header order; `sim` — the world — sorts first)
//!   component        ──> tid: messages, timers, raft, lifecycle, placement, client, checks, other
//!   send → deliver   ──> 1µs slices joined by a flow arrow (ph s / f, id = message id)
//!   leader terms     ──> B/E spans on the raft thread ("leader term 3")
//!   crash → restart  ──> B/E "down" spans on the lifecycle thread (pause → resume: "paused")
//!   fault windows    ──> async spans (ph b / e, id = fault id) on the sim process
//!   client ops       ──> `op` invoke → ok/fail/info: an async slice on the client's
//!                        thread, named with the outcome ("write c3 ok"), coloured by it
//!   violations       ──> global instants (a line across every track)
//!   anything else    ──> instants with the event's fields as args
//! ```
//!
//! The export streams: one line in, a few JSON objects out; memory holds
//! only the open spans. A trace without a footer or with a cut last line is
//! exported up to its last whole event (the stats say so); open spans are
//! closed at the last event's time.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::reader::{LineTooLong, MAX_LINE_BYTES, ReadError, parse_header, read_line_capped};

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Events read from the trace.
    pub events: u64,
    /// Trace Event objects written (metadata included).
    pub trace_events: u64,
    /// Flow arrows (send → deliver or drop) started.
    pub flows: u64,
    /// What was missing at the end of the input, if anything.
    pub notice: Option<String>,
}

/// Why an export failed. Both kinds are the user's to fix (a file that is
/// not a trace, an output path that cannot be written): exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The input is not a readable partsim trace.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The output could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The output file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ExportError {
    /// True for bad input or usage (every export error is: see the type docs).
    pub fn is_bad_input(&self) -> bool {
        true
    }
}

/// Exports the trace at `trace` to `out` in the Chrome Trace Event format.
pub fn export_chrome(trace: &Path, out: &Path) -> Result<ExportStats, ExportError> {
    let shown = trace.display().to_string();
    let input = File::open(trace).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    let out_shown = out.display().to_string();
    let file = File::create(out).map_err(|source| ExportError::Write {
        path: out_shown.clone(),
        source,
    })?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let stats = write_chrome(
        BufReader::with_capacity(1 << 20, input),
        &shown,
        &mut w,
        &out_shown,
    )?;
    w.flush().map_err(|source| ExportError::Write {
        path: out_shown,
        source,
    })?;
    Ok(stats)
}

/// Thread ids of the components.
const TID_MSG: u32 = 1;
const TID_TIMER: u32 = 2;
const TID_RAFT: u32 = 3;
const TID_LIFE: u32 = 4;
const TID_PLACE: u32 = 5;
const TID_CLIENT: u32 = 6;
const TID_CHECK: u32 = 7;
const TID_OTHER: u32 = 8;
const THREAD_NAMES: [&str; 8] = [
    "messages",
    "timers",
    "raft",
    "lifecycle",
    "placement",
    "client",
    "checks",
    "other",
];

/// Fault kinds that last (a window), as opposed to one-off actions.
const WINDOWED: [&str; 7] = [
    "partition",
    "one_way",
    "isolate",
    "link",
    "clock",
    "pause",
    "crash",
];
const NETWORK: [&str; 4] = ["partition", "one_way", "isolate", "link"];

struct OpenFault {
    kind: String,
    name: String,
    target: Option<String>,
}

struct Exporter<'w, W: Write> {
    w: &'w mut W,
    out_path: String,
    first: bool,
    stats: ExportStats,
    pids: BTreeMap<String, u32>,
    threads: BTreeSet<(u32, u32)>,
    leaders: BTreeMap<u32, u64>,
    down: BTreeMap<u32, &'static str>,
    faults: BTreeMap<u64, OpenFault>,
    ops: BTreeMap<String, (u32, String)>,
    /// Open `op` invocations by (client, history process): pid, time, name, args.
    invokes: BTreeMap<(String, u64), OpenOp>,
    last_t: u64,
}

struct OpenOp {
    pid: u32,
    process: u64,
    t: u64,
    name: String,
    args: Map<String, Value>,
}

/// Streams a trace from `input` to `out` (`name` and `out_path` are used in messages).
pub fn write_chrome<R: BufRead, W: Write>(
    mut input: R,
    name: &str,
    out: &mut W,
    out_path: &str,
) -> Result<ExportStats, ExportError> {
    let format_err = |line: u64, message: String| ReadError::Format {
        path: name.to_string(),
        line,
        message,
    };
    let io_err = |source: std::io::Error| ReadError::Io {
        path: name.to_string(),
        source,
    };
    // Lines are capped before they are held: /dev/zero or one 300 MB line
    // is a clear error, not an abort.
    let read_line = |input: &mut R, buf: &mut Vec<u8>, line: u64| {
        read_line_capped(input, buf, MAX_LINE_BYTES).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                ExportError::from(format_err(line, LineTooLong.to_string()))
            } else {
                ExportError::from(io_err(e))
            }
        })
    };
    let mut buf = Vec::with_capacity(512);
    if read_line(&mut input, &mut buf, 1)? == 0 {
        return Err(format_err(1, "the file is empty: not a partsim trace".into()).into());
    }
    let header =
        parse_header(String::from_utf8_lossy(&buf).trim()).map_err(|m| format_err(1, m))?;
    let mut x = Exporter {
        w: out,
        out_path: out_path.to_string(),
        first: true,
        stats: ExportStats::default(),
        pids: BTreeMap::new(),
        threads: BTreeSet::new(),
        leaders: BTreeMap::new(),
        down: BTreeMap::new(),
        faults: BTreeMap::new(),
        ops: BTreeMap::new(),
        invokes: BTreeMap::new(),
        last_t: 0,
    };
    let other = json!({
        "partsim": header.partsim,
        "scenario": header.scenario,
        "seed": header.seed,
        "source": name,
    });
    x.raw(
        format!("{{\"displayTimeUnit\":\"ms\",\"otherData\":{other},\"traceEvents\":[\n")
            .as_bytes(),
    )?;
    for p in &header.processes {
        x.pid(p)?;
    }
    let mut line_no = 1u64;
    let mut pending: Option<(u64, String)> = None;
    let mut footer = false;
    let mut truncated = None;
    loop {
        buf.clear();
        if read_line(&mut input, &mut buf, line_no + 1)? == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if let Some((line, m)) = pending.take() {
            return Err(format_err(line, m).into());
        }
        let obj: Map<String, Value> = match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(e) => {
                if complete {
                    pending = Some((line_no, format!("not a JSON event: {e}")));
                } else {
                    truncated = Some(line_no);
                }
                continue;
            }
        };
        if obj.get("footer").and_then(Value::as_bool) == Some(true) {
            footer = true;
            break;
        }
        x.event(obj).map_err(|e| match e {
            Fail::Format(m) => ExportError::from(format_err(line_no, m)),
            Fail::Write(e) => e,
        })?;
    }
    let truncated = truncated.or(pending.map(|(l, _)| l));
    x.stats.notice = match (truncated, footer) {
        (Some(line), _) => Some(format!(
            "the trace ends mid-line at line {line}: exported the whole events before it"
        )),
        (None, false) => Some(
            "the trace has no footer: exported every event (the run did not finish writing)".into(),
        ),
        _ => None,
    };
    x.close_all()?;
    x.raw(b"\n]}\n")?;
    Ok(x.stats)
}

enum Fail {
    Format(String),
    Write(ExportError),
}

impl From<ExportError> for Fail {
    fn from(e: ExportError) -> Fail {
        Fail::Write(e)
    }
}

impl<W: Write> Exporter<'_, W> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.w
            .write_all(bytes)
            .map_err(|source| ExportError::Write {
                path: self.out_path.clone(),
                source,
            })
    }

    fn put(&mut self, v: Value) -> Result<(), ExportError> {
        if !self.first {
            self.raw(b",\n")?;
        }
        self.first = false;
        let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
        if bytes.is_empty() {
            bytes = b"{}".to_vec();
        }
        self.raw(&bytes)?;
        self.stats.trace_events += 1;
        Ok(())
    }

    /// The pid of a process, announcing it on first sight.
    fn pid(&mut self, name: &str) -> Result<u32, ExportError> {
        if let Some(&pid) = self.pids.get(name) {
            return Ok(pid);
        }
        let pid = self.pids.len() as u32 + 1;
        self.pids.insert(name.to_string(), pid);
        let (label, sort) = if name == "sim" {
            ("sim (world, faults)".to_string(), -1)
        } else {
            (name.to_string(), pid as i64)
        };
        self.put(json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": label}}))?;
        self.put(json!({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": sort}}))?;
        Ok(pid)
    }

    /// The pid/tid pair, naming the thread on first use.
    fn track(&mut self, name: &str, tid: u32) -> Result<u32, ExportError> {
        let pid = self.pid(name)?;
        if self.threads.insert((pid, tid)) {
            let tname = THREAD_NAMES[(tid - 1) as usize];
            self.put(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": tname}}))?;
            self.put(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}}))?;
        }
        Ok(pid)
    }

    fn instant(
        &mut self,
        p: &str,
        tid: u32,
        t: u64,
        name: String,
        cat: &str,
        args: Map<String, Value>,
    ) -> Result<(), ExportError> {
        let pid = self.track(p, tid)?;
        self.put(json!({"ph": "i", "s": "t", "name": name, "cat": cat, "ts": t, "pid": pid, "tid": tid, "args": args}))
    }

    fn event(&mut self, mut obj: Map<String, Value>) -> Result<(), Fail> {
        let t = obj
            .get("t")
            .and_then(Value::as_u64)
            .ok_or_else(|| Fail::Format("event without \"t\"".into()))?;
        let ev = obj
            .get("ev")
            .and_then(Value::as_str)
            .ok_or_else(|| Fail::Format("event without \"ev\"".into()))?
            .to_string();
        let p = obj
            .get("p")
            .and_then(Value::as_str)
            .unwrap_or("sim")
            .to_string();
        self.stats.events += 1;
        self.last_t = self.last_t.max(t);
        for k in ["t", "p", "ev"] {
            obj.remove(k);
        }
        let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| obj.get(k).and_then(Value::as_u64);
        match ev.as_str() {
            "send" | "deliver" | "drop" => {
                let msg = s("msg");
                let id = n("id").unwrap_or(0);
                // A drop is drawn where the message died: at its destination.
                let at = if ev == "drop" && !s("to").is_empty() {
                    s("to")
                } else {
                    p.clone()
                };
                let pid = self.track(&at, TID_MSG)?;
                let name = if ev == "drop" {
                    format!("drop {msg} ({})", s("reason"))
                } else {
                    msg.clone()
                };
                self.put(json!({"ph": "X", "name": name, "cat": ev, "ts": t, "dur": 1, "pid": pid, "tid": TID_MSG, "args": obj}))?;
                if ev == "send" {
                    self.stats.flows += 1;
                    self.put(json!({"ph": "s", "name": msg, "cat": "msg", "id": id, "ts": t, "pid": pid, "tid": TID_MSG}))?;
                } else {
                    self.put(json!({"ph": "f", "bp": "e", "name": msg, "cat": "msg", "id": id, "ts": t, "pid": pid, "tid": TID_MSG}))?;
                }
            }
            "timer" => self.instant(&p, TID_TIMER, t, s("timer"), "timer", obj)?,
            "role" => {
                let pid = self.track(&p, TID_RAFT)?;
                self.end_leader(pid, t)?;
                let term = n("term").unwrap_or(0);
                if s("role") == "leader" {
                    self.leaders.insert(pid, term);
                    self.put(json!({"ph": "B", "name": format!("leader term {term}"), "cat": "raft", "ts": t, "pid": pid, "tid": TID_RAFT, "args": obj}))?;
                } else {
                    self.instant(
                        &p,
                        TID_RAFT,
                        t,
                        format!("{} term {term}", s("role")),
                        "raft",
                        obj,
                    )?;
                }
            }
            "vote" | "append" | "commit" | "snapshot" | "beat" => {
                let name = match ev.as_str() {
                    "vote" => format!(
                        "vote {} {}",
                        if obj.get("granted").and_then(Value::as_bool) == Some(true) {
                            "for"
                        } else {
                            "against"
                        },
                        s("candidate")
                    ),
                    "append" | "commit" => {
                        format!("{ev} #{} {}", n("index").unwrap_or(0), s("entry"))
                    }
                    _ => ev.clone(),
                };
                self.instant(&p, TID_RAFT, t, name, "raft", obj)?;
            }
            "crash" | "restart" | "start" | "pause" | "resume" | "disk_loss" | "clock" => {
                let pid = self.track(&p, TID_LIFE)?;
                if matches!(ev.as_str(), "crash" | "restart" | "start" | "resume") {
                    if let Some(what) = self.down.remove(&pid) {
                        self.put(json!({"ph": "E", "name": what, "cat": "lifecycle", "ts": t, "pid": pid, "tid": TID_LIFE}))?;
                    }
                    match ev.as_str() {
                        "restart" | "start" => self.end_fault_at(&p, "crash", t)?,
                        "resume" => self.end_fault_at(&p, "pause", t)?,
                        _ => {}
                    }
                }
                if ev == "crash" {
                    self.end_leader(pid, t)?;
                }
                self.instant(&p, TID_LIFE, t, ev.clone(), "lifecycle", obj)?;
                if ev == "crash" || ev == "pause" {
                    let what = if ev == "crash" { "down" } else { "paused" };
                    self.down.insert(pid, what);
                    self.put(json!({"ph": "B", "name": what, "cat": "lifecycle", "ts": t, "pid": pid, "tid": TID_LIFE}))?;
                }
            }
            "fault" => {
                let id = n("fault").unwrap_or(0);
                let kind = s("kind");
                let detail = s("detail");
                let pid = self.track("sim", TID_CHECK)?;
                // The detail may be a full description ("partition [m1] | [*]") or just
                // the target ("n2"): name the span so that it reads either way.
                let name = if detail.is_empty() {
                    kind.clone()
                } else if detail.starts_with(&kind) {
                    detail.clone()
                } else {
                    format!("{kind} {detail}")
                };
                if s("phase") == "end" {
                    if let Some(f) = self.faults.remove(&id) {
                        self.put(json!({"ph": "e", "name": f.name, "cat": "fault", "id": id, "ts": t, "pid": pid, "tid": TID_CHECK}))?;
                    }
                } else if WINDOWED.contains(&kind.as_str()) {
                    let target = detail
                        .split_whitespace()
                        .find(|w| *w != kind)
                        .map(str::to_string);
                    self.faults.insert(
                        id,
                        OpenFault {
                            kind: kind.clone(),
                            name: name.clone(),
                            target,
                        },
                    );
                    self.put(json!({"ph": "b", "name": name, "cat": "fault", "id": id, "ts": t, "pid": pid, "tid": TID_CHECK, "args": obj}))?;
                } else {
                    if kind == "heal" {
                        let net: Vec<u64> = self
                            .faults
                            .iter()
                            .filter(|(_, f)| NETWORK.contains(&f.kind.as_str()))
                            .map(|(id, _)| *id)
                            .collect();
                        for id in net {
                            self.end_fault(id, t)?;
                        }
                    }
                    self.put(json!({"ph": "i", "s": "g", "name": name, "cat": "fault", "ts": t, "pid": pid, "tid": TID_CHECK, "args": obj}))?;
                }
            }
            "violation" => {
                let pid = self.track(&p, TID_CHECK)?;
                let name = format!("VIOLATION {}", s("check"));
                self.put(json!({"ph": "i", "s": "g", "name": name, "cat": "violation", "ts": t, "pid": pid, "tid": TID_CHECK, "args": obj}))?;
            }
            "note" => self.instant(&p, TID_CHECK, t, s("text"), "note", obj)?,
            "map" | "replica" | "health" | "move" | "member" | "auth_reject" => {
                let name = match ev.as_str() {
                    "map" => format!("map v{}", n("version").unwrap_or(0)),
                    "replica" => format!(
                        "p{} {}",
                        obj.get("partition").map(plain).unwrap_or_default(),
                        s("state")
                    ),
                    "health" => format!("{} {}", s("node"), s("state")),
                    "move" => format!(
                        "move p{} {}",
                        obj.get("partition").map(plain).unwrap_or_default(),
                        s("phase")
                    ),
                    "member" => format!("{} {}", s("node"), s("state")),
                    _ => format!("auth_reject {}", s("from")),
                };
                self.instant(&p, TID_PLACE, t, name, "placement", obj)?;
            }
            "op" => {
                let pid = self.track(&p, TID_CLIENT)?;
                let process = n("process").unwrap_or(0);
                let kind = s("type");
                let name = format!("{} c{}", s("f"), n("key").unwrap_or(0));
                if kind == "invoke" {
                    // Emitted when it completes, named with its outcome; a
                    // process has one operation in flight, so a second
                    // invocation closes the first as pending.
                    if let Some(open) = self.invokes.remove(&(p.clone(), process)) {
                        self.op_slice(open, t, "pending", obj.clone())?;
                    }
                    self.invokes.insert(
                        (p.clone(), process),
                        OpenOp {
                            pid,
                            process,
                            t,
                            name,
                            args: obj,
                        },
                    );
                } else if let Some(open) = self.invokes.remove(&(p.clone(), process)) {
                    self.op_slice(open, t, &kind, obj)?;
                } else {
                    self.instant(&p, TID_CLIENT, t, format!("{name} {kind}"), "op", obj)?;
                }
            }
            "invoke" | "complete" => {
                let pid = self.track(&p, TID_CLIENT)?;
                let op = obj.get("op").map(plain).unwrap_or_default();
                let key = format!("{p}/{op}");
                if ev == "invoke" {
                    let name = format!(
                        "{} cell {}",
                        s("kind"),
                        obj.get("cell").map(plain).unwrap_or_default()
                    );
                    self.ops.insert(key.clone(), (pid, name.clone()));
                    self.put(json!({"ph": "b", "name": name, "cat": "op", "id2": {"local": key}, "ts": t, "pid": pid, "tid": TID_CLIENT, "args": obj}))?;
                } else if let Some((_, name)) = self.ops.remove(&key) {
                    // Perfetto pairs async ends by (category, name, id).
                    self.put(json!({"ph": "e", "name": name, "cat": "op", "id2": {"local": key}, "ts": t, "pid": pid, "tid": TID_CLIENT, "args": obj}))?;
                } else {
                    self.instant(&p, TID_CLIENT, t, "complete".into(), "op", obj)?;
                }
            }
            _ => self.instant(&p, TID_OTHER, t, ev.clone(), "other", obj)?,
        }
        Ok(())
    }

    /// One client operation as an async slice from its invocation to `t`,
    /// named and coloured by its outcome (`ok`, `fail`, `info`, `pending`).
    fn op_slice(
        &mut self,
        open: OpenOp,
        t: u64,
        outcome: &str,
        completion: Map<String, Value>,
    ) -> Result<(), ExportError> {
        let name = format!("{} {outcome}", open.name);
        let cname = match outcome {
            "ok" => "good",
            "fail" => "bad",
            "info" => "yellow",
            _ => "grey",
        };
        let id = format!("op/{}/{}/{}", open.pid, open.process, open.t);
        let mut args = open.args;
        args.insert("outcome".into(), Value::from(outcome));
        if let Some(v) = completion.get("value") {
            args.insert("result".into(), v.clone());
        }
        self.put(json!({"ph": "b", "name": name, "cat": "op", "id2": {"local": id}, "ts": open.t, "pid": open.pid, "tid": TID_CLIENT, "cname": cname, "args": args}))?;
        self.put(json!({"ph": "e", "name": name, "cat": "op", "id2": {"local": id}, "ts": t.max(open.t), "pid": open.pid, "tid": TID_CLIENT}))
    }

    fn end_leader(&mut self, pid: u32, t: u64) -> Result<(), ExportError> {
        if let Some(term) = self.leaders.remove(&pid) {
            self.put(json!({"ph": "E", "name": format!("leader term {term}"), "cat": "raft", "ts": t, "pid": pid, "tid": TID_RAFT}))?;
        }
        Ok(())
    }

    fn end_fault(&mut self, id: u64, t: u64) -> Result<(), ExportError> {
        if let Some(f) = self.faults.remove(&id) {
            let pid = self.track("sim", TID_CHECK)?;
            self.put(json!({"ph": "e", "name": f.name, "cat": "fault", "id": id, "ts": t, "pid": pid, "tid": TID_CHECK}))?;
        }
        Ok(())
    }

    /// A crash fault without an `until` ends when its target restarts (a
    /// pause when it resumes).
    fn end_fault_at(&mut self, p: &str, kind: &str, t: u64) -> Result<(), ExportError> {
        let ids: Vec<u64> = self
            .faults
            .iter()
            .filter(|(_, f)| f.kind == kind && f.target.as_deref() == Some(p))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.end_fault(id, t)?;
        }
        Ok(())
    }

    /// Closes every open span at the last event's time.
    fn close_all(&mut self) -> Result<(), ExportError> {
        let t = self.last_t;
        for pid in self.leaders.keys().copied().collect::<Vec<_>>() {
            self.end_leader(pid, t)?;
        }
        for (pid, what) in std::mem::take(&mut self.down) {
            self.put(json!({"ph": "E", "name": what, "cat": "lifecycle", "ts": t, "pid": pid, "tid": TID_LIFE}))?;
        }
        for id in self.faults.keys().copied().collect::<Vec<_>>() {
            self.end_fault(id, t)?;
        }
        for (_, open) in std::mem::take(&mut self.invokes) {
            self.op_slice(open, t, "pending", Map::new())?;
        }
        for (key, (pid, name)) in std::mem::take(&mut self.ops) {
            self.put(json!({"ph": "e", "name": name, "cat": "op", "id2": {"local": key}, "ts": t, "pid": pid, "tid": TID_CLIENT}))?;
        }
        Ok(())
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = concat!(
        "{\"format\":\"partsim-trace\",\"version\":1,\"scenario\":\"x\",\"seed\":1,\"processes\":[\"m1\",\"n1\"]}\n",
        "{\"t\":1,\"p\":\"m1\",\"seq\":0,\"ev\":\"role\",\"role\":\"leader\",\"term\":2}\n",
        "{\"t\":2,\"p\":\"m1\",\"seq\":1,\"ev\":\"send\",\"to\":\"n1\",\"msg\":\"Hb\",\"id\":7}\n",
        "{\"t\":3,\"p\":\"n1\",\"seq\":2,\"cause\":1,\"ev\":\"deliver\",\"from\":\"m1\",\"msg\":\"Hb\",\"id\":7}\n",
        "{\"t\":4,\"p\":\"sim\",\"seq\":3,\"ev\":\"fault\",\"fault\":1,\"kind\":\"partition\",\"phase\":\"begin\",\"detail\":\"partition [m1] | [*]\"}\n",
        "{\"t\":5,\"p\":\"n1\",\"seq\":4,\"ev\":\"violation\",\"check\":\"single_primary\",\"detail\":\"two\"}\n",
        "{\"t\":6,\"p\":\"m1\",\"seq\":5,\"ev\":\"crash\"}\n",
        "{\"t\":7,\"p\":\"n1\",\"seq\":6,\"ev\":\"future_kind\",\"x\":1}\n",
    );

    fn export(text: &str) -> (Value, ExportStats) {
        let mut out = Vec::new();
        let stats = write_chrome(text.as_bytes(), "t.jsonl", &mut out, "out.json").unwrap();
        (
            serde_json::from_slice(&out).expect("the export is JSON"),
            stats,
        )
    }

    fn phases(v: &Value, ph: &str) -> Vec<Value> {
        v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == ph)
            .cloned()
            .collect()
    }

    #[test]
    fn a_crash_fault_without_until_ends_at_the_restart() {
        let text = concat!(
            "{\"format\":\"partsim-trace\",\"version\":1,\"processes\":[\"n2\"]}\n",
            "{\"t\":1,\"p\":\"n2\",\"seq\":0,\"ev\":\"fault\",\"fault\":1,\"kind\":\"crash\",\"phase\":\"begin\",\"detail\":\"n2\"}\n",
            "{\"t\":1,\"p\":\"n2\",\"seq\":1,\"ev\":\"crash\"}\n",
            "{\"t\":5,\"p\":\"n2\",\"seq\":2,\"ev\":\"restart\"}\n",
            "{\"t\":9,\"p\":\"n2\",\"seq\":3,\"ev\":\"start\"}\n",
        );
        let (v, _) = export(text);
        let b = phases(&v, "b");
        let e = phases(&v, "e");
        assert_eq!(b[0]["name"], "crash n2");
        assert_eq!((e.len(), &e[0]["ts"]), (1, &serde_json::json!(5)));
        assert!(
            phases(&v, "E")
                .iter()
                .any(|x| x["name"] == "down" && x["ts"] == 5)
        );
    }

    #[test]
    fn messages_become_flows_and_spans_close() {
        let (v, stats) = export(TRACE);
        assert_eq!(stats.events, 7);
        assert_eq!(stats.flows, 1);
        assert!(stats.notice.as_deref().unwrap().contains("no footer"));
        let s = phases(&v, "s");
        let f = phases(&v, "f");
        assert_eq!((s.len(), f.len()), (1, 1));
        assert_eq!(s[0]["id"], f[0]["id"]);
        assert_ne!(s[0]["pid"], f[0]["pid"]);
        // Leader span closed by the crash; the open fault closed at the end.
        let b = phases(&v, "B");
        let e = phases(&v, "E");
        assert!(b.iter().any(|x| x["name"] == "leader term 2"));
        assert!(
            e.iter()
                .any(|x| x["name"] == "leader term 2" && x["ts"] == 6)
        );
        assert_eq!(phases(&v, "b").len(), 1);
        assert_eq!(phases(&v, "e")[0]["ts"], 7);
        assert!(
            phases(&v, "i")
                .iter()
                .any(|x| x["cat"] == "violation" && x["s"] == "g")
        );
        assert!(phases(&v, "i").iter().any(|x| x["name"] == "future_kind"));
        assert!(
            phases(&v, "M")
                .iter()
                .any(|m| m["name"] == "process_name" && m["args"]["name"] == "m1")
        );
    }

    #[test]
    fn cut_traces_export_their_whole_events_and_non_traces_fail() {
        let cut = &TRACE[..TRACE.len() - 5];
        let (_, stats) = export(cut);
        assert_eq!(stats.events, 6);
        assert!(stats.notice.unwrap().contains("mid-line"));
        let mut out = Vec::new();
        assert!(write_chrome("hello\n".as_bytes(), "x", &mut out, "o").is_err());
        let mut out = Vec::new();
        let damaged = TRACE.replace("{\"t\":3,", "garbage\n{\"t\":3,");
        let err = write_chrome(damaged.as_bytes(), "x", &mut out, "o").unwrap_err();
        assert!(err.to_string().contains("x:4"), "{err}");
    }
}
