//! `partsim history TRACE`: the client history of a run in Jepsen's shape
//! (DESIGN §7) — one operation event a line, as an EDN map like Jepsen's
//! `history.edn` or as a JSON object with the same keys — so that
//! Jepsen-style tools (and `partsim lincheck`) can check partsim's runs.
//!
//! The history is the clients' own `op` events, in trace order: `:time` is
//! virtual microseconds, `:key` the cell (`"c17"`), `:value` the written
//! value, the value read (`nil` for an empty cell) or `[expected new]` for a
//! compare-and-set. An invocation with no completion is left open (it
//! counts as `info`).

use std::io::Write;
use std::path::Path;

use super::reader::{Body, ReadError, read_trace};
use crate::stack::events::{OpF, OpType, StackEvent};

/// How a history is written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    /// EDN maps, as Jepsen's `history.edn`.
    Edn,
    /// JSON objects with the same keys.
    Json,
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryLine {
    /// The client process.
    pub process: u64,
    /// invoke / ok / fail / info.
    pub kind: OpType,
    /// read / write / cas.
    pub f: OpF,
    /// The cell.
    pub key: u64,
    /// The value (see the module doc).
    pub value: Option<u64>,
    /// A compare-and-set's expected value.
    pub expected: Option<u64>,
    /// Virtual time, µs.
    pub time: u64,
}

impl HistoryLine {
    /// The line in `format` (no newline).
    pub fn render(&self, format: HistoryFormat) -> String {
        let key = format!("c{}", self.key);
        match format {
            HistoryFormat::Edn => {
                let value = match (self.f, self.kind) {
                    (OpF::Cas, _) => format!(
                        "[{} {}]",
                        self.expected.unwrap_or(0),
                        self.value.unwrap_or(0)
                    ),
                    (OpF::Read, OpType::Invoke) => "nil".to_string(),
                    _ => self.value.map_or("nil".to_string(), |v| v.to_string()),
                };
                format!(
                    "{{:process {}, :type :{}, :f :{}, :key \"{key}\", :value {value}, :time {}}}",
                    self.process,
                    self.kind.as_str(),
                    self.f.as_str(),
                    self.time
                )
            }
            HistoryFormat::Json => {
                let value = match (self.f, self.kind) {
                    (OpF::Cas, _) => {
                        serde_json::json!([self.expected.unwrap_or(0), self.value.unwrap_or(0)])
                    }
                    (OpF::Read, OpType::Invoke) => serde_json::Value::Null,
                    _ => self
                        .value
                        .map_or(serde_json::Value::Null, serde_json::Value::from),
                };
                serde_json::json!({
                    "process": self.process,
                    "type": self.kind.as_str(),
                    "f": self.f.as_str(),
                    "key": key,
                    "value": value,
                    "time": self.time,
                })
                .to_string()
            }
        }
    }
}

/// The client history of a trace file.
pub fn read_history(trace: &Path) -> Result<(Vec<HistoryLine>, Option<String>), ReadError> {
    let file = read_trace::<StackEvent>(trace)?;
    let notice = file.notice();
    let lines = file
        .events
        .iter()
        .filter_map(|r| match &r.body {
            Body::App(StackEvent::Op {
                process,
                kind,
                f,
                key,
                value,
                expected,
                ..
            }) => Some(HistoryLine {
                process: *process,
                kind: *kind,
                f: *f,
                key: *key,
                value: *value,
                expected: *expected,
                time: r.t.as_micros(),
            }),
            _ => None,
        })
        .collect();
    Ok((lines, notice))
}

/// Writes a history, one line per operation event.
pub fn write_history<W: Write>(
    out: &mut W,
    lines: &[HistoryLine],
    format: HistoryFormat,
) -> std::io::Result<()> {
    for l in lines {
        writeln!(out, "{}", l.render(format))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_jepsen_shape() {
        let cas = HistoryLine {
            process: 3,
            kind: OpType::Ok,
            f: OpF::Cas,
            key: 17,
            value: Some(2),
            expected: Some(1),
            time: 1200,
        };
        assert_eq!(
            cas.render(HistoryFormat::Edn),
            "{:process 3, :type :ok, :f :cas, :key \"c17\", :value [1 2], :time 1200}"
        );
        let read = HistoryLine {
            process: 0,
            kind: OpType::Ok,
            f: OpF::Read,
            key: 1,
            value: None,
            expected: None,
            time: 5,
        };
        assert_eq!(
            read.render(HistoryFormat::Json),
            r#"{"f":"read","key":"c1","process":0,"time":5,"type":"ok","value":null}"#
        );
    }
}
