//! The history model: operations on registers, as a client saw them.
//!
//! A history is a sequence of *events* in real-time order — invocations and
//! completions — which [`HistoryBuilder`] folds into [`Operation`]s. The
//! order in which events are fed to the builder *is* the real-time order the
//! checker uses (Jepsen's convention: a history file lists events in the order
//! they happened); times are carried for reports and must not go backwards.
//!
//! Rules the builder enforces (a history that breaks one is malformed):
//! - a process has at most one operation in flight: it completes one before
//!   it invokes the next;
//! - a process whose operation completed `info` is never heard from again
//!   (Jepsen's rule: the outcome is unknown, the operation may still take
//!   effect at any later time, so the client moves on as a new process);
//! - a completion names a process with an operation in flight;
//! - event times never decrease.
//!
//! An invocation that never completes counts as `info`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A register value (or a key). `Nil` is the empty register.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// The empty register (`nil`, JSON `null`).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

/// What a client asked a register to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "f")]
pub enum Call {
    /// Read the register.
    Read,
    /// Overwrite the register.
    Write {
        /// The value written.
        value: Value,
    },
    /// Compare-and-set: if the register holds `expected`, it becomes `new`.
    /// An `ok` cas applied; a `fail` cas certainly did not.
    Cas {
        /// The value the register must hold.
        expected: Value,
        /// The value it then holds.
        new: Value,
    },
}

impl Call {
    /// `read`, `write` or `cas`.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Read => "read",
            Call::Write { .. } => "write",
            Call::Cas { .. } => "cas",
        }
    }
}

/// How an operation completed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It took effect exactly once, between invocation and completion.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Unknown: it may have taken effect at any time after its invocation,
    /// or never. Also the outcome of an invocation that never completed.
    Info,
}

impl Outcome {
    /// `ok`, `fail` or `info`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One operation: an invocation and (perhaps) its completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// The client process that issued it.
    pub process: u64,
    /// The register it addressed (`None`: the history has a single register).
    pub key: Option<Value>,
    /// What was asked.
    pub call: Call,
    /// How it ended.
    pub outcome: Outcome,
    /// For an `ok` read: the value it returned.
    pub read_value: Option<Value>,
    /// Time of the invocation (the history's unit: µs for partsim, ns for Jepsen).
    pub invoke_time: u64,
    /// Time of the completion; `None` if it never completed.
    pub complete_time: Option<u64>,
    /// Position of the invocation in the event order.
    pub invoke_pos: u64,
    /// Position of the completion in the event order; `None` if it never completed.
    pub complete_pos: Option<u64>,
    /// Source line of the invocation, when read from a file.
    pub invoke_line: Option<usize>,
    /// Source line of the completion, when read from a file.
    pub complete_line: Option<usize>,
}

impl Operation {
    /// A one-line description: `p3 cas [1 2] ok, t 1200..1450 (line 7)`.
    pub fn describe(&self) -> String {
        let what = match (&self.call, &self.read_value) {
            (Call::Read, Some(v)) => format!("read → {v}"),
            (Call::Read, None) => "read".to_string(),
            (Call::Write { value }, _) => format!("write {value}"),
            (Call::Cas { expected, new }, _) => format!("cas [{expected} {new}]"),
        };
        let end = match self.complete_time {
            Some(t) => t.to_string(),
            None => "…".to_string(),
        };
        let outcome = if self.complete_time.is_none() {
            "pending"
        } else {
            self.outcome.name()
        };
        let line = match self.invoke_line {
            Some(l) => format!(" (line {l})"),
            None => String::new(),
        };
        format!(
            "p{} {what} {outcome}, t {}..{end}{line}",
            self.process, self.invoke_time
        )
    }
}

/// A complete history: every operation, in invocation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Operation>,
}

impl History {
    /// Every operation, in invocation order; an operation's index here is its id.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// The operation with id `id`.
    pub fn get(&self, id: usize) -> Option<&Operation> {
        self.ops.get(id)
    }

    /// A history of operations already checked against the rules (used to
    /// derive a variant of a built history, e.g. with one read corrupted).
    pub(super) fn from_operations(ops: Vec<Operation>) -> History {
        History { ops }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if there is no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Operation ids per key, in invocation order; keys in their natural order.
    pub fn by_key(&self) -> BTreeMap<Option<&Value>, Vec<usize>> {
        let mut keys: BTreeMap<Option<&Value>, Vec<usize>> = BTreeMap::new();
        for (id, op) in self.ops.iter().enumerate() {
            keys.entry(op.key.as_ref()).or_default().push(id);
        }
        keys
    }
}

/// Why a sequence of events is not a history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A process invoked while its previous operation was still in flight.
    #[error(
        "process {process} invokes again while its {f} invoked at time {since} has not completed \
         (expected a completion of that operation first)"
    )]
    InvokeWhilePending {
        /// The process.
        process: u64,
        /// The pending operation's function.
        f: &'static str,
        /// When it was invoked.
        since: u64,
    },
    /// A process invoked after one of its operations completed `info`.
    #[error(
        "process {process} invokes again after its {f} ended :info at time {since} \
         (an :info outcome is unknown forever: the client must continue as a new process)"
    )]
    InvokeAfterInfo {
        /// The process.
        process: u64,
        /// The function of the operation that ended `info`.
        f: &'static str,
        /// When it ended.
        since: u64,
    },
    /// A completion for a process with nothing in flight.
    #[error(
        "process {process} completes an operation it never invoked (expected an :invoke first)"
    )]
    CompletionWithoutInvoke {
        /// The process.
        process: u64,
    },
    /// Time went backwards.
    #[error(
        "time {time} is before the previous event's time {previous} \
         (expected events in the order they happened)"
    )]
    TimeWentBackwards {
        /// This event's time.
        time: u64,
        /// The previous event's time.
        previous: u64,
    },
}

/// Builds a [`History`] from events fed in real-time order.
///
/// ```
/// use partsim::check::lincheck::{Call, HistoryBuilder, Outcome, Value};
/// let mut b = HistoryBuilder::new();
/// b.invoke(0, None, Call::Write { value: Value::Int(1) }, 10).unwrap();
/// b.invoke(1, None, Call::Read, 11).unwrap();
/// b.complete(0, Outcome::Ok, None, 20).unwrap();
/// b.complete(1, Outcome::Ok, Some(Value::Int(1)), 21).unwrap();
/// let history = b.finish();
/// assert_eq!(history.len(), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct HistoryBuilder {
    ops: Vec<Operation>,
    in_flight: BTreeMap<u64, usize>,
    ended_info: BTreeMap<u64, usize>,
    events: u64,
    last_time: u64,
    line: Option<usize>,
}

impl HistoryBuilder {
    /// An empty history.
    pub fn new() -> HistoryBuilder {
        HistoryBuilder::default()
    }

    /// Record the source line of the next event (for reports on files).
    pub fn at_line(&mut self, line: usize) -> &mut HistoryBuilder {
        self.line = Some(line);
        self
    }

    /// The time of the latest event fed so far (0 before the first).
    pub fn last_time(&self) -> u64 {
        self.last_time
    }

    /// The operation `process` has in flight, if any.
    pub fn in_flight(&self, process: u64) -> Option<&Operation> {
        self.in_flight.get(&process).map(|&id| &self.ops[id])
    }

    fn advance(&mut self, time: u64) -> Result<(), HistoryError> {
        if time < self.last_time {
            return Err(HistoryError::TimeWentBackwards {
                time,
                previous: self.last_time,
            });
        }
        self.last_time = time;
        Ok(())
    }

    /// `process` invokes `call` on register `key` at `time`; returns the
    /// operation's id.
    pub fn invoke(
        &mut self,
        process: u64,
        key: Option<Value>,
        call: Call,
        time: u64,
    ) -> Result<usize, HistoryError> {
        if let Some(&id) = self.in_flight.get(&process) {
            let op = &self.ops[id];
            return Err(HistoryError::InvokeWhilePending {
                process,
                f: op.call.name(),
                since: op.invoke_time,
            });
        }
        if let Some(&id) = self.ended_info.get(&process) {
            let op = &self.ops[id];
            return Err(HistoryError::InvokeAfterInfo {
                process,
                f: op.call.name(),
                since: op.complete_time.unwrap_or(op.invoke_time),
            });
        }
        self.advance(time)?;
        let id = self.ops.len();
        self.ops.push(Operation {
            process,
            key,
            call,
            outcome: Outcome::Info,
            read_value: None,
            invoke_time: time,
            complete_time: None,
            invoke_pos: self.events,
            complete_pos: None,
            invoke_line: self.line.take(),
            complete_line: None,
        });
        self.events += 1;
        self.in_flight.insert(process, id);
        Ok(id)
    }

    /// The operation `process` has in flight completes at `time`; `read_value`
    /// is what an `ok` read returned (`None` reads as `nil`; ignored otherwise).
    /// Returns the operation's id.
    pub fn complete(
        &mut self,
        process: u64,
        outcome: Outcome,
        read_value: Option<Value>,
        time: u64,
    ) -> Result<usize, HistoryError> {
        let Some(&id) = self.in_flight.get(&process) else {
            return Err(HistoryError::CompletionWithoutInvoke { process });
        };
        self.advance(time)?;
        self.in_flight.remove(&process);
        let op = &mut self.ops[id];
        op.outcome = outcome;
        if outcome == Outcome::Ok && op.call == Call::Read {
            op.read_value = Some(read_value.unwrap_or(Value::Nil));
        }
        op.complete_time = Some(time);
        op.complete_pos = Some(self.events);
        op.complete_line = self.line.take();
        self.events += 1;
        if outcome == Outcome::Info {
            self.ended_info.insert(process, id);
        }
        Ok(id)
    }

    /// The history; operations still in flight count as `info`.
    pub fn finish(self) -> History {
        History { ops: self.ops }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoking_twice_without_completion_is_malformed() {
        let mut b = HistoryBuilder::new();
        b.invoke(0, None, Call::Read, 1).unwrap();
        let err = b.invoke(0, None, Call::Read, 2).unwrap_err();
        assert!(matches!(
            err,
            HistoryError::InvokeWhilePending { process: 0, .. }
        ));
    }

    #[test]
    fn invoking_after_info_is_malformed() {
        let mut b = HistoryBuilder::new();
        b.invoke(3, None, Call::Write { value: 1.into() }, 1)
            .unwrap();
        b.complete(3, Outcome::Info, None, 2).unwrap();
        let err = b.invoke(3, None, Call::Read, 3).unwrap_err();
        assert!(matches!(
            err,
            HistoryError::InvokeAfterInfo { process: 3, .. }
        ));
        assert!(err.to_string().contains("new process"), "{err}");
    }

    #[test]
    fn completion_without_invoke_and_time_backwards_are_malformed() {
        let mut b = HistoryBuilder::new();
        assert!(matches!(
            b.complete(1, Outcome::Ok, None, 0),
            Err(HistoryError::CompletionWithoutInvoke { process: 1 })
        ));
        b.invoke(1, None, Call::Read, 10).unwrap();
        assert!(matches!(
            b.complete(1, Outcome::Ok, None, 9),
            Err(HistoryError::TimeWentBackwards { .. })
        ));
    }

    #[test]
    fn pending_operations_count_as_info_and_ok_reads_default_to_nil() {
        let mut b = HistoryBuilder::new();
        b.invoke(0, None, Call::Read, 1).unwrap();
        b.invoke(1, None, Call::Write { value: 5.into() }, 1)
            .unwrap();
        b.complete(0, Outcome::Ok, None, 2).unwrap();
        let h = b.finish();
        assert_eq!(h.operations()[0].read_value, Some(Value::Nil));
        assert_eq!(h.operations()[1].outcome, Outcome::Info);
        assert_eq!(h.operations()[1].complete_pos, None);
    }
}
