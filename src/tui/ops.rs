//! Client operations as the replay UI sees them: each `op` invocation
//! paired with its completion, per client, built while the trace is indexed.
//!
//! ```text
//!   op type=invoke  (process 3, req 7) ──┐  an OpSpan: client, f, key,
//!   op type=ok|fail|info (process 3)  ───┘  invoke index, end index, outcome
//! ```
//!
//! A history process has at most one operation in flight (DESIGN §7), so
//! a completion closes the open invocation of its `process`. An invocation
//! that never completes stays `Pending` (the history counts it as `info`).
//! The table also reads the operations a `linearizable` violation names as
//! the ones that cannot follow the longest linearizable prefix.

use std::collections::BTreeMap;

use super::event::FullEvent;

/// How an operation ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// No completion in the trace (yet, or ever).
    Pending,
    /// Took effect; the result is known.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Unknown: may have taken effect.
    Info,
}

impl OpOutcome {
    fn parse(s: &str) -> Option<OpOutcome> {
        Some(match s {
            "ok" => OpOutcome::Ok,
            "fail" => OpOutcome::Fail,
            "info" => OpOutcome::Info,
            _ => return None,
        })
    }

    /// The name in histories (`pending` for no completion).
    pub fn as_str(self) -> &'static str {
        match self {
            OpOutcome::Pending => "pending",
            OpOutcome::Ok => "ok",
            OpOutcome::Fail => "fail",
            OpOutcome::Info => "info",
        }
    }
}

/// One client operation, invocation to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSpan {
    /// The client process (index in the replay's process table).
    pub client: u16,
    /// The history process (`process` field).
    pub process: u64,
    /// `read`, `write` or `cas`, as its first letter: `r`, `w`, `c`.
    pub f: char,
    /// The cell.
    pub key: u64,
    /// Index of the invocation event.
    pub invoke: usize,
    /// Its virtual time, µs.
    pub invoke_t: u64,
    /// Index of the completion event, if any.
    pub end: Option<usize>,
    /// How it ended.
    pub outcome: OpOutcome,
}

/// Every operation of a trace, with the indices to find them by event.
#[derive(Clone, Debug, Default)]
pub struct OpTable {
    spans: Vec<OpSpan>,
    /// Every `op` event: (event index, span), in event order.
    events: Vec<(usize, u32)>,
    /// The open invocation per history process.
    open: BTreeMap<u64, u32>,
    /// Per client process: its spans, in invocation order.
    by_client: BTreeMap<u16, Vec<u32>>,
}

impl OpTable {
    /// Takes in the `op` event at index `i` of process `p`. Lines that are
    /// not a well-formed operation are left out (the log still shows them).
    pub fn on_event(&mut self, i: usize, p: u16, ev: &FullEvent) {
        let Some(process) = ev.u64("process") else {
            return;
        };
        let kind = ev.str("type");
        if kind == "invoke" {
            let id = self.spans.len() as u32;
            self.spans.push(OpSpan {
                client: p,
                process,
                f: ev.str("f").chars().next().unwrap_or('?'),
                key: ev.u64("key").unwrap_or(0),
                invoke: i,
                invoke_t: ev.t,
                end: None,
                outcome: OpOutcome::Pending,
            });
            // A new invocation of a process with one in flight: the old one
            // stays pending (a malformed history; the checker says so).
            self.open.insert(process, id);
            self.by_client.entry(p).or_default().push(id);
            self.events.push((i, id));
        } else if let Some(outcome) = OpOutcome::parse(kind)
            && let Some(id) = self.open.remove(&process)
        {
            let span = &mut self.spans[id as usize];
            span.end = Some(i);
            span.outcome = outcome;
            self.events.push((i, id));
        }
    }

    /// Every operation, in invocation order.
    pub fn spans(&self) -> &[OpSpan] {
        &self.spans
    }

    /// True when the trace holds no client operation.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `op` events (event index, span id), in event order.
    pub fn events(&self) -> &[(usize, u32)] {
        &self.events
    }

    /// The clients that issued operations, in process order.
    pub fn clients(&self) -> Vec<u16> {
        self.by_client.keys().copied().collect()
    }

    /// The operation of `client` in flight at event `i` (invoked at or
    /// before it, completed at or after it).
    pub fn at(&self, client: u16, i: usize) -> Option<&OpSpan> {
        let ids = self.by_client.get(&client)?;
        let k = ids.partition_point(|&id| self.spans[id as usize].invoke <= i);
        let span = &self.spans[ids[k.checked_sub(1)?] as usize];
        span.end.is_none_or(|e| e >= i).then_some(span)
    }

    /// The span an `op` event belongs to.
    pub fn of_event(&self, i: usize) -> Option<&OpSpan> {
        let k = self.events.binary_search_by_key(&i, |e| e.0).ok()?;
        self.spans.get(self.events[k].1 as usize)
    }

    /// The operation of history `process` invoked at virtual time `t`.
    pub fn find(&self, process: u64, t: u64) -> Option<&OpSpan> {
        self.spans
            .iter()
            .find(|s| s.process == process && s.invoke_t == t)
    }

    /// The operations a `linearizable` violation's detail names as unable
    /// to come next after the longest linearizable prefix — the ones that
    /// cannot be ordered — as invocation event indices, each with its key.
    pub fn culprits(&self, detail: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut key = String::new();
        let mut listing = false;
        for line in detail.lines() {
            let trimmed = line.trim();
            if !line.starts_with(' ') {
                // `key "c17": not linearizable (…)` starts a key's section.
                listing = false;
                if let Some(rest) = trimmed.strip_prefix("key ") {
                    let name = rest.split(':').next().unwrap_or("");
                    key = name.trim_matches('"').to_string();
                }
            } else if trimmed.contains("none of these can come next") {
                listing = true;
            } else if listing && let Some((process, t)) = op_ref(trimmed) {
                if let Some(span) = self.find(process, t) {
                    out.push((span.invoke, key.clone()));
                }
            } else if !line.starts_with("    ") {
                listing = false;
            }
        }
        out
    }
}

/// Reads `p3 cas [1 2] ok, t 1200..1450` as (process 3, invoked at 1200).
fn op_ref(text: &str) -> Option<(u64, u64)> {
    let process = text.strip_prefix('p')?.split(' ').next()?.parse().ok()?;
    let (_, times) = text.rsplit_once(", t ")?;
    let t = times.split("..").next()?.trim().parse().ok()?;
    Some((process, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: u64, line: &str) -> FullEvent {
        FullEvent::parse(
            format!("{{\"t\":{t},\"p\":\"c1\",\"seq\":{t},\"ev\":\"op\",{line}}}").as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn pairs_invocations_with_completions_per_process() {
        let mut t = OpTable::default();
        t.on_event(
            0,
            5,
            &ev(
                10,
                r#""process":0,"type":"invoke","f":"write","key":3,"value":7,"req":1"#,
            ),
        );
        t.on_event(
            1,
            6,
            &ev(
                11,
                r#""process":1,"type":"invoke","f":"read","key":3,"req":1"#,
            ),
        );
        t.on_event(
            4,
            5,
            &ev(
                20,
                r#""process":0,"type":"ok","f":"write","key":3,"value":7,"req":1"#,
            ),
        );
        t.on_event(
            5,
            5,
            &ev(
                21,
                r#""process":0,"type":"invoke","f":"cas","key":4,"value":2,"expected":7,"req":2"#,
            ),
        );
        t.on_event(
            7,
            6,
            &ev(
                30,
                r#""process":1,"type":"info","f":"read","key":3,"req":1"#,
            ),
        );
        assert_eq!(t.spans().len(), 3);
        assert_eq!(t.spans()[0].end, Some(4));
        assert_eq!(t.spans()[0].outcome, OpOutcome::Ok);
        assert_eq!(t.spans()[1].outcome, OpOutcome::Info);
        assert_eq!(t.spans()[2].outcome, OpOutcome::Pending);
        assert_eq!(t.spans()[2].f, 'c');
        assert_eq!(t.at(5, 3).map(|s| s.invoke), Some(0));
        assert_eq!(t.at(5, 4).map(|s| s.invoke), Some(0));
        assert_eq!(t.at(5, 9).map(|s| s.invoke), Some(5), "pending runs on");
        assert!(t.at(6, 8).is_none());
        assert_eq!(t.of_event(7).map(|s| s.invoke), Some(1));
        assert_eq!(t.clients(), vec![5, 6]);
        let detail = "not linearizable: 3 operations on 1 key, 0 linearizable, 9 search steps\n\
                      key \"c3\": not linearizable (3 operations, 2 searched, 4 steps)\n  \
                      longest linearizable prefix: 1 operation:\n    p0 write 7 ok, t 10..20\n  \
                      after which the register holds 7, and none of these can come next:\n    \
                      p1 read → 9 info, t 11..30\n    p9 read ok, t 1..2\n";
        let culprits = t.culprits(detail);
        assert_eq!(
            culprits,
            vec![(1, "c3".to_string())],
            "p9 is not in the trace"
        );
    }
}
