//! Validation: from the file as written ([`RawScenario`]) to a [`Scenario`]
//! that can run, or the first mistake with its position.
//!
//! Sections are checked in document order (top-level keys, `[cluster]`,
//! `[grid]`, `[placement]`, `[timing]`, `[network]`, `[disk]`,
//! `[workload]`, `[[events]]`, `[random]`, `[expect]`), each after the ones
//! it depends on: targets need the process counts, `primary:P` needs the
//! partition count, every time needs the duration. Absent keys take the
//! defaults of DESIGN §5 (the `Default` impls in `model.rs`).
//!
//! Limits (TIGER_STYLE: a limit on everything) are the `MAX_*` constants
//! of `limits.rs`; each rejection says which one was hit.
//!
//! One file per part of the document: `config.rs` for the sections that
//! describe the system, `workload.rs`, `events.rs` for `[[events]]` and the
//! processes they name, `random.rs` and `expect.rs`; this file holds the
//! order they are checked in and the checks they share.

mod config;
mod events;
mod expect;
mod random;
mod workload;

use std::ops::Range;

use super::cost;
use super::error::{ScenarioError, SourceMap};
use super::limits::{duration_refusal, name_refusal};
use super::model::*;
use super::raw::*;
use crate::sim::time::{SimDuration, SimTime};

/// A clock rate error in parts per million, as the run applies it: clocks
/// have a resolution of 1 ppm.
fn in_ppm(drift: f64) -> f64 {
    (drift * 1e6).round()
}

type R<T> = Result<T, ScenarioError>;

/// Builds a scenario from the raw document, applying defaults and every check.
pub(crate) fn build(raw: &RawScenario, src: &SourceMap<'_>) -> R<Scenario> {
    let v = Validator { src };

    let name = match &raw.name {
        Some(n) => match name_refusal(n.get_ref()) {
            Some(why) => return Err(v.err(n.span(), "name", why)),
            None => n.get_ref().clone(),
        },
        None => {
            return Err(v.err(
                0..0,
                "name",
                "missing required key `name` (e.g. name = \"node-crash\")",
            ));
        }
    };
    let description = raw
        .description
        .as_ref()
        .map(|d| d.get_ref().clone())
        .unwrap_or_default();
    let seed = raw.seed.as_ref().map_or(0, |s| s.get_ref().0);
    let duration = match &raw.duration {
        Some(d) => {
            let value = *d.get_ref();
            if let Some(why) = duration_refusal(value) {
                return Err(v.err(d.span(), "duration", why));
            }
            value
        }
        None => {
            return Err(v.err(
                0..0,
                "duration",
                "missing required key `duration` (e.g. duration = \"60s\")",
            ));
        }
    };
    let end = SimTime::ZERO + duration;

    let cluster = v.cluster(raw.cluster.as_ref())?;
    let grid = v.grid(raw.grid.as_ref(), raw.cluster.as_ref(), &cluster)?;
    let placement = v.placement(raw.placement.as_ref())?;
    let timing = v.timing(raw.timing.as_ref())?;
    let managers = v.managers(raw.managers.as_ref(), &cluster, &timing)?;
    let network = v.network(raw.network.as_ref())?;
    let disk = v.disk(raw.disk.as_ref())?;
    let workload = match &raw.workload {
        Some(w) => Some(v.workload(w, &cluster, end)?),
        None => None,
    };
    let events = v.events(raw.events.as_deref().unwrap_or(&[]), &cluster, &grid, end)?;
    let random = match &raw.random {
        Some(r) => Some(v.random(r, end)?),
        None => None,
    };
    // The most voters the Raft group can end with: the managers at start
    // and every one an `add_manager` brings.
    let added = events
        .iter()
        .filter(|e| matches!(e.action, Action::AddManager(_)))
        .count();
    let max_voters = u64::from(cluster.managers) + added as u64;
    let expect = v.expect(raw.expect.as_ref(), end, max_voters)?;
    let parts = cost::Parts {
        cluster: &cluster,
        grid: &grid,
        timing: &timing,
        network: &network,
        events: &events,
    };
    cost::check(raw, src, &parts)?;

    Ok(Scenario {
        name,
        description,
        seed,
        duration,
        cluster,
        grid,
        placement,
        timing,
        managers,
        network,
        disk,
        workload,
        events,
        random,
        expect,
    })
}

/// The span of an optional value, or `fallback` when it is absent.
fn span_or<T>(value: &Option<Sp<T>>, fallback: Range<usize>) -> Range<usize> {
    value.as_ref().map_or(fallback, |v| v.span())
}
struct Validator<'s, 'a> {
    src: &'s SourceMap<'a>,
}

impl Validator<'_, '_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.src.error(span, key, message)
    }

    /// A probability in [0, 1].
    fn probability(&self, value: &Sp<f64>, key: &str) -> R<f64> {
        let p = *value.get_ref();
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(
                value.span(),
                key,
                format!("expected a probability between 0 and 1, got {p}"),
            ))
        }
    }

    /// A `[min, max]` duration range with min <= max.
    fn range(&self, value: &Sp<Pair<SimDuration>>, key: &str) -> R<[SimDuration; 2]> {
        let [lo, hi] = value.get_ref().0;
        if lo > hi {
            return Err(self.err(
                value.span(),
                key,
                format!("expected [min, max] with min <= max, got [{lo}, {hi}]"),
            ));
        }
        Ok([lo, hi])
    }

    /// A duration above zero.
    fn positive(&self, value: &Sp<SimDuration>, key: &str) -> R<SimDuration> {
        let d = *value.get_ref();
        if d == SimDuration::ZERO {
            return Err(self.err(value.span(), key, "must be above zero"));
        }
        Ok(d)
    }

    /// An instant no later than the end of the run.
    fn time(&self, value: &Sp<SimDuration>, key: &str, end: SimTime) -> R<SimTime> {
        let t = SimTime::ZERO + *value.get_ref();
        if t > end {
            return Err(self.err(
                value.span(),
                key,
                format!(
                    "{t} is past the scenario's duration ({})",
                    end.saturating_since(SimTime::ZERO)
                ),
            ));
        }
        Ok(t)
    }
}
