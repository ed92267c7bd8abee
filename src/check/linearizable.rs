//! `linearizable`: the client history — the clients' own `op` events — is
//! linearizable per cell, judged by the same search `partsim lincheck`
//! runs on a history file ([`lincheck`](super::lincheck)): one code path,
//! online here and offline there.
//!
//! Each cell is a register (read / write / compare-and-set, starting
//! empty); `info` operations may take effect at any time after their
//! invocation, or never. The search has a deterministic step budget: a
//! history it cannot decide within it is reported as undecided (a
//! violation: never passed as linearizable).

use super::lincheck::{Call, HistoryBuilder, Options, Outcome, Value, Verdict, check_history};
use super::{Checker, EndOfRun, Traffic};
use crate::sim::{Event, EventKind, Violation};
use crate::stack::events::{OpF, OpType, StackEvent};

/// Search steps allowed over a whole run (deterministic, unlike a timeout):
/// the budget `partsim lincheck` has by default, so both judge alike.
pub const MAX_STEPS: u64 = super::lincheck::DEFAULT_MAX_STEPS;
/// Lines of the search's report kept in a violation's detail.
const DETAIL_LINES: usize = 16;

/// The history key of a cell: `"c17"`, as in `partsim history`. Written
/// with `itoa`, not `format!`: one per operation invoked, and the
/// formatting machinery cost ten times the rest of the key.
pub fn cell_key(cell: u64) -> Value {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(cell);
    let mut key = String::with_capacity(1 + digits.len());
    key.push('c');
    key.push_str(digits);
    Value::Str(key)
}

/// A register value: partsim's values are below 2^63.
pub fn value(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Whether a `linearizable` violation's detail is an undecided search:
/// the history was not found non-linearizable, and not found linearizable
/// within the step budget either (a hunt counts such a run apart: it is
/// not a bug found, and not a pass).
pub fn undecided(detail: &str) -> bool {
    detail.starts_with(Verdict::Unknown.label())
}

/// The `linearizable` checker.
#[derive(Default)]
pub struct Linearizable {
    history: HistoryBuilder,
    malformed: Option<String>,
    steps: u64,
    operations: usize,
}

impl Checker for Linearizable {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "linearizable"
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        _names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        let EventKind::App(StackEvent::Op {
            process,
            kind,
            f,
            key,
            value: v,
            expected,
            ..
        }) = ev.kind
        else {
            return;
        };
        let t = ev.t.as_micros();
        let r = match kind {
            OpType::Invoke => {
                let call = match f {
                    OpF::Read => Call::Read,
                    OpF::Write => Call::Write {
                        value: value(v.unwrap_or(0)),
                    },
                    OpF::Cas => Call::Cas {
                        expected: value(expected.unwrap_or(0)),
                        new: value(v.unwrap_or(0)),
                    },
                };
                self.history
                    .invoke(*process, Some(cell_key(*key)), call, t)
                    .map(|_| ())
            }
            done => {
                let outcome = match done {
                    OpType::Ok => Outcome::Ok,
                    OpType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
                let read = if *f == OpF::Read { v.map(value) } else { None };
                self.history
                    .complete(*process, outcome, read, t)
                    .map(|_| ())
            }
        };
        if let Err(e) = r
            && self.malformed.is_none()
        {
            self.malformed = Some(e.to_string());
        }
    }

    fn finish(&mut self, _end: &EndOfRun, out: &mut Vec<Violation>) {
        if let Some(e) = self.malformed.take() {
            out.push(Violation {
                check: "linearizable",
                detail: format!("the client history is malformed: {e}"),
            });
            return;
        }
        let history = std::mem::take(&mut self.history).finish();
        self.operations = history.len();
        if history.is_empty() {
            return;
        }
        let report = check_history(
            &history,
            &Options {
                timeout: None,
                max_steps: Some(MAX_STEPS),
                ..Options::default()
            },
        );
        self.steps = report.steps;
        if report.verdict != Verdict::Linearizable {
            let text = report.render();
            let detail: Vec<&str> = text.lines().take(DETAIL_LINES).collect();
            out.push(Violation {
                check: "linearizable",
                detail: detail.join("\n"),
            });
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        vec![
            ("history_operations".into(), self.operations.into()),
            ("lincheck_steps".into(), self.steps.into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::{Value, cell_key};

    #[test]
    fn a_cell_key_reads_as_formatted() {
        for cell in [0, 7, 17, 1_000, u64::MAX] {
            assert_eq!(cell_key(cell), Value::Str(format!("c{cell}")));
        }
    }
}
