//! Probe coverage across runs: for every coverage probe of the stack
//! (`cx.reached`, listed in [`crate::stack::points::PROBES`]), how many
//! runs reached it; the probes no run reached are the measure of what the
//! fault schedules never exercise.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stack::points::PROBES;

/// How many runs reached each probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Runs counted.
    pub runs: u64,
    /// Every listed probe (and any other a run reported), with the number
    /// of runs that reached it at least once.
    pub reached: BTreeMap<String, u64>,
    /// The listed probes no run reached.
    pub never_reached: Vec<String>,
}

impl Coverage {
    /// No run yet: every probe at 0.
    pub fn new() -> Coverage {
        let mut c = Coverage {
            runs: 0,
            reached: PROBES.iter().map(|(n, _)| (n.to_string(), 0)).collect(),
            never_reached: Vec::new(),
        };
        c.refresh();
        c
    }

    /// Counts one run that reached `probes` (names, each once or more).
    pub fn add<'a>(&mut self, probes: impl IntoIterator<Item = &'a String>) {
        self.runs += 1;
        for p in probes {
            *self.reached.entry(p.clone()).or_default() += 1;
        }
        self.refresh();
    }

    /// Adds another count (a shard's) to this one.
    pub fn merge(&mut self, runs: u64, reached: &BTreeMap<String, u64>) {
        self.runs += runs;
        for (k, n) in reached {
            *self.reached.entry(k.clone()).or_default() += n;
        }
        self.refresh();
    }

    fn refresh(&mut self) {
        self.never_reached = self
            .reached
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| k.clone())
            .collect();
    }

    /// A readable table: each probe with its count, then the unreached ones.
    pub fn render(&self) -> String {
        let w = self.reached.keys().map(|k| k.len()).max().unwrap_or(0);
        let mut out = format!(
            "coverage probes over {} runs (runs that reached each):\n",
            self.runs
        );
        for (k, n) in &self.reached {
            out.push_str(&format!("  {k:<w$}  {n}\n"));
        }
        if self.never_reached.is_empty() {
            out.push_str("every probe was reached\n");
        } else {
            out.push_str(&format!("never reached ({}):\n", self.never_reached.len()));
            for k in &self.never_reached {
                out.push_str(&format!("  {k}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_not_hits_and_lists_the_unreached() {
        let mut c = Coverage::new();
        assert_eq!(c.never_reached.len(), PROBES.len());
        let a = PROBES[0].0.to_string();
        c.add([&a]);
        c.add([&a]);
        assert_eq!(c.reached[&a], 2);
        assert_eq!(c.never_reached.len(), PROBES.len() - 1);
        let mut m = Coverage::new();
        m.merge(c.runs, &c.reached);
        m.merge(c.runs, &c.reached);
        assert_eq!((m.runs, m.reached[&a]), (4, 4));
    }
}
