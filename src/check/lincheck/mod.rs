//! Linearizability of register histories (Jepsen's shape), per key.
//!
//! A [`History`] is built from events in real-time order — by
//! [`HistoryBuilder`] from memory (the online `linearizable` checker) or by
//! [`parse_history`] / [`load_history`] from a file (`partsim lincheck`) —
//! and [`check_history`] judges it: each key is a register (`read`, `write`,
//! `cas [expected new]`, starting `nil`) checked on its own
//! (P-compositionality: a history is linearizable iff every key's is), by the
//! WGL/Lowe search in [`search`](self) with a memo of (linearized set, state).
//!
//! ```
//! use partsim::check::lincheck::{check_history, parse_history, Options, Verdict};
//! let history = parse_history(
//!     "{:process 0, :type :invoke, :f :write, :value 1, :time 10}\n\
//!      {:process 0, :type :ok, :f :write, :value 1, :time 20}\n\
//!      {:process 1, :type :invoke, :f :read, :time 30}\n\
//!      {:process 1, :type :ok, :f :read, :value 2, :time 40}\n",
//! )
//! .unwrap();
//! let report = check_history(&history, &Options::default());
//! assert_eq!(report.verdict, Verdict::NotLinearizable);
//! println!("{}", report.render());
//! ```
//!
//! Verdicts are exact: `Linearizable` only when a linearization was found,
//! `NotLinearizable` only when the search space was exhausted, `Unknown` when
//! the budget ([`Options`]) ran out first — never reported as linearizable.

pub mod bench;
pub mod generate;
mod history;
mod parse;
mod search;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

pub use history::{Call, History, HistoryBuilder, HistoryError, Operation, Outcome, Value};
pub use parse::{LoadError, MAX_LINE_BYTES, ParseError, load_history, parse_history};

use search::{Budget, KeyVerdict, check_key};

/// Search steps a check may take unless told otherwise: about 20 s and
/// 100 MB on a small machine. A register history whose writes are many and
/// all concurrent can need exponentially many steps (WGL's search is
/// exponential in the worst case); past this budget the verdict is
/// `unknown`, never `linearizable`. The online `linearizable` checker uses
/// the same budget, so a run and `partsim lincheck` of its history agree.
pub const DEFAULT_MAX_STEPS: u64 = 20_000_000;

/// Limits on a check. The default has none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Wall-clock limit for the whole check; keys not decided by then are
    /// `Unknown`. Leave `None` where the result must be deterministic.
    pub timeout: Option<Duration>,
    /// Limit on search steps over all keys (deterministic); keys not decided
    /// within it are `Unknown`.
    pub max_steps: Option<u64>,
    /// Search without partsim's reductions: the plain WGL search with a memo
    /// of (linearized set, state) that Porcupine runs, in the same order.
    /// For measuring what the reductions save; slower, same verdicts.
    pub plain_search: bool,
}

/// The verdict on a history or on one key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A linearization exists (for a history: for every key).
    Linearizable,
    /// No linearization exists (for a history: for some key).
    NotLinearizable,
    /// Not decided within the budget (and no key was found not linearizable).
    Unknown,
}

impl Verdict {
    /// `linearizable`, `not linearizable`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not linearizable",
            Verdict::Unknown => "unknown",
        }
    }
}

/// An operation as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpRef {
    /// Its id in the history (invocation order, from 0).
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// What it did and how it ended, e.g. `p3 cas [1 2] ok, t 1200..1450 (line 7)`.
    pub text: String,
    /// Invocation time.
    pub invoke_time: u64,
    /// Completion time (`None`: never completed).
    pub complete_time: Option<u64>,
    /// Source line of the invocation, for histories read from a file.
    pub line: Option<usize>,
}

impl OpRef {
    fn new(history: &History, id: usize) -> OpRef {
        let op = &history.operations()[id];
        OpRef {
            id,
            process: op.process,
            text: op.describe(),
            invoke_time: op.invoke_time,
            complete_time: op.complete_time,
            line: op.invoke_line,
        }
    }
}

/// Why a key is not linearizable: the deepest point the search reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    /// The longest partial linearization found, in linearization order.
    pub prefix: Vec<OpRef>,
    /// The register after it.
    pub state: Value,
    /// The operations that could come next, none of which can: the register
    /// holds another value than it needs (a read of another value, a cas
    /// expecting another value), or placing it would overwrite a value that
    /// a pending read or cas still needs and nothing left can write again.
    pub cannot_follow: Vec<OpRef>,
}

/// The verdict on one key, with what the search cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key (`None`: the history's single register).
    pub key: Option<Value>,
    /// The verdict.
    pub verdict: Verdict,
    /// Operations on the key.
    pub operations: usize,
    /// Operations the search had to place (failed operations and unknown
    /// reads constrain nothing; unknown writes nobody observes neither).
    pub searched: usize,
    /// Search steps.
    pub steps: u64,
    /// Memo entries.
    pub memo_entries: usize,
    /// For a key that is not linearizable.
    pub counterexample: Option<Counterexample>,
}

/// The verdict on a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `NotLinearizable` if some key is; else `Unknown` if some key is
    /// undecided; else `Linearizable`.
    pub verdict: Verdict,
    /// Operations in the history.
    pub operations: usize,
    /// Keys in the history.
    pub keys: usize,
    /// Keys found linearizable.
    pub keys_linearizable: usize,
    /// Search steps over all keys.
    pub steps: u64,
    /// The keys that are not linearizable or undecided, in key order.
    pub failures: Vec<KeyReport>,
}

impl Report {
    /// Human-readable text: the verdict, then per failing key the longest
    /// linearizable prefix (its last operations) and the operations that
    /// cannot follow it, with their times.
    pub fn render(&self) -> String {
        const PREFIX_SHOWN: usize = 8;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} operations on {} key{}, {} linearizable, {} search steps",
            self.verdict.label(),
            self.operations,
            self.keys,
            if self.keys == 1 { "" } else { "s" },
            self.keys_linearizable,
            self.steps
        );
        for k in &self.failures {
            let key = k
                .key
                .as_ref()
                .map_or("(single register)".into(), |k| format!("key {k}"));
            let _ = writeln!(
                out,
                "{key}: {} ({} operations, {} searched, {} steps)",
                k.verdict.label(),
                k.operations,
                k.searched,
                k.steps
            );
            let Some(c) = &k.counterexample else {
                if k.verdict == Verdict::Unknown {
                    let _ = writeln!(
                        out,
                        "  not decided within the step limit (--max-steps) or the time limit (--timeout)"
                    );
                }
                continue;
            };
            let _ = writeln!(
                out,
                "  longest linearizable prefix: {} operation{}{}",
                c.prefix.len(),
                if c.prefix.len() == 1 { "" } else { "s" },
                if c.prefix.len() > PREFIX_SHOWN {
                    format!(", the last {PREFIX_SHOWN}:")
                } else if c.prefix.is_empty() {
                    String::new()
                } else {
                    ":".into()
                }
            );
            for op in c
                .prefix
                .iter()
                .skip(c.prefix.len().saturating_sub(PREFIX_SHOWN))
            {
                let _ = writeln!(out, "    {}", op.text);
            }
            let _ = writeln!(
                out,
                "  after which the register holds {}, and none of these can come next:",
                c.state
            );
            for op in &c.cannot_follow {
                let _ = writeln!(out, "    {}", op.text);
            }
        }
        out
    }
}

/// Check a history: every key on its own, the keys with the fewest
/// operations first.
///
/// Once the budget in `options` is spent, the remaining keys are `Unknown`.
pub fn check_history(history: &History, options: &Options) -> Report {
    let mut budget = Budget::new(options.timeout, options.max_steps);
    let by_key = history.by_key();
    let mut report = Report {
        verdict: Verdict::Linearizable,
        operations: history.len(),
        keys: by_key.len(),
        keys_linearizable: 0,
        steps: 0,
        failures: Vec::new(),
    };
    // The keys with the fewest operations first: a key whose search
    // explodes (a hot key with thousands of operations left pending by
    // timeouts) then spends what the others leave, and cannot hide a
    // small key that is not linearizable behind an undecided verdict.
    // Failures are reported in key order all the same.
    let mut keys: Vec<(usize, Option<&Value>, Vec<usize>)> = by_key
        .into_iter()
        .enumerate()
        .map(|(order, (key, ids))| (order, key, ids))
        .collect();
    keys.sort_by_key(|(order, _, ids)| (ids.len(), *order));
    let mut failures: Vec<(usize, KeyReport)> = Vec::new();
    for (order, key, ids) in keys {
        let mut key_report = KeyReport {
            key: key.cloned(),
            verdict: Verdict::Unknown,
            operations: ids.len(),
            searched: 0,
            steps: 0,
            memo_entries: 0,
            counterexample: None,
        };
        if !budget.expired() {
            let r = check_key(history, &ids, &mut budget, options.plain_search);
            key_report.searched = r.searched;
            key_report.steps = r.steps;
            key_report.memo_entries = r.memo_entries;
            match r.verdict {
                KeyVerdict::Linearizable => key_report.verdict = Verdict::Linearizable,
                KeyVerdict::Unknown => {}
                KeyVerdict::NotLinearizable(d) => {
                    key_report.verdict = Verdict::NotLinearizable;
                    key_report.counterexample = Some(Counterexample {
                        prefix: d.prefix.iter().map(|&id| OpRef::new(history, id)).collect(),
                        state: d.state,
                        cannot_follow: d.stuck.iter().map(|&id| OpRef::new(history, id)).collect(),
                    });
                }
            }
        }
        match key_report.verdict {
            Verdict::Linearizable => report.keys_linearizable += 1,
            Verdict::NotLinearizable => {
                report.verdict = Verdict::NotLinearizable;
                failures.push((order, key_report));
            }
            Verdict::Unknown => {
                if report.verdict == Verdict::Linearizable {
                    report.verdict = Verdict::Unknown;
                }
                failures.push((order, key_report));
            }
        }
    }
    failures.sort_by_key(|(order, _)| *order);
    report.failures = failures.into_iter().map(|(_, k)| k).collect();
    report.steps = budget.steps;
    report
}

/// What `partsim lincheck` prints, and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVerdict {
    /// 0 linearizable; 1 not linearizable, or undecided within the timeout.
    pub exit_code: u8,
    /// The report: human text, or one JSON document.
    pub output: String,
}

/// `partsim lincheck HISTORY [--json] [--timeout D] [--max-steps N]`: load,
/// check, render. `max_steps` `None` means no step limit.
/// A malformed file is an `Err` naming `file:line:col` and what was expected.
pub fn check_file(
    path: &std::path::Path,
    json: bool,
    timeout: Option<Duration>,
    max_steps: Option<u64>,
) -> Result<FileVerdict, LoadError> {
    let history = load_history(path)?;
    let report = check_history(
        &history,
        &Options {
            timeout,
            max_steps,
            ..Options::default()
        },
    );
    let exit_code = u8::from(report.verdict != Verdict::Linearizable);
    let output = if json {
        #[derive(Serialize)]
        struct Doc<'a> {
            history: String,
            #[serde(flatten)]
            report: &'a Report,
        }
        let doc = Doc {
            history: path.display().to_string(),
            report: &report,
        };
        // A report holds strings, integers and values only: it always serializes.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    } else {
        format!("{}: {}", path.display(), report.render())
    };
    Ok(FileVerdict { exit_code, output })
}
