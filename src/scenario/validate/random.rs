//! `[random]`: faults drawn from the seed, kind by kind.

use std::ops::Range;

use super::{R, Validator, in_ppm, span_or};
use crate::scenario::limits::{MAX_DURATION, MAX_RANDOM_FAULTS};
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::scenario::schedule::RANDOM_WARMUP;
use crate::sim::time::{SimDuration, SimTime};

impl Validator<'_, '_> {
    pub(super) fn random(&self, raw: &Sp<RawRandom>, end: SimTime) -> R<RandomSpec> {
        let r = raw.get_ref();
        let heal_at = match &r.heal_at {
            Some(h) => Some(self.time(h, "random.heal_at", end)?),
            None => None,
        };
        let horizon = heal_at.unwrap_or(end);
        let window = horizon.saturating_since(SimTime::ZERO + RANDOM_WARMUP);
        let buggify = match &r.buggify {
            Some(p) => Some(self.probability(p, "random.buggify")?),
            None => None,
        };
        let mut spec = RandomSpec {
            heal_at,
            buggify,
            ..RandomSpec::default()
        };
        for (value, kind, slot) in [
            (&r.crash, "crash", &mut spec.crash),
            (&r.pause, "pause", &mut spec.pause),
            (&r.partition, "partition", &mut spec.partition),
            (&r.isolate, "isolate", &mut spec.isolate),
        ] {
            if let Some(f) = value {
                let g = f.get_ref();
                let (every, lasts) =
                    self.random_common(f.span(), kind, &g.every, &g.down, &g.lasts, window)?;
                *slot = Some(RandomFault { every, lasts });
            }
        }
        if let Some(c) = &r.clock {
            let g = c.get_ref();
            let (every, lasts) =
                self.random_common(c.span(), "clock", &g.every, &g.down, &g.lasts, window)?;
            let max_offset = g
                .max_offset
                .as_ref()
                .map_or(SimDuration::ZERO, |o| *o.get_ref());
            if max_offset > MAX_DURATION {
                return Err(self.err(
                    span_or(&g.max_offset, c.span()),
                    "random.clock.max_offset",
                    format!("{max_offset} is above the limit of {MAX_DURATION}"),
                ));
            }
            let max_drift = match &g.max_drift {
                Some(d) => {
                    let x = *d.get_ref();
                    // A draw of -max_drift must not round to a stopped clock.
                    if !(x.is_finite() && x >= 0.0 && in_ppm(x) < 1e6) {
                        return Err(self.err(
                            d.span(),
                            "random.clock.max_drift",
                            format!("expected a rate error from 0 to below 1 (at 1 ppm resolution: at most 0.999999), got {x}"),
                        ));
                    }
                    x
                }
                None => 0.0,
            };
            if max_offset == SimDuration::ZERO && max_drift == 0.0 {
                return Err(self.err(
                    c.span(),
                    "random.clock.max_offset",
                    "a random clock fault needs `max_offset` (e.g. \"2s\") and/or `max_drift` (e.g. 0.05) above zero",
                ));
            }
            spec.clock = Some(RandomClock {
                every,
                lasts,
                max_offset,
                max_drift,
            });
        }
        Ok(spec)
    }

    /// `every` and `down`/`lasts` of one `[random]` kind.
    fn random_common(
        &self,
        table: Range<usize>,
        kind: &str,
        every: &Option<Sp<SimDuration>>,
        down: &Option<Sp<Pair<SimDuration>>>,
        lasts: &Option<Sp<Pair<SimDuration>>>,
        window: SimDuration,
    ) -> R<(SimDuration, [SimDuration; 2])> {
        let every = match every {
            Some(e) => {
                let d = self.positive(e, &format!("random.{kind}.every"))?;
                let expected = window.as_micros() / d.as_micros();
                if expected > MAX_RANDOM_FAULTS {
                    return Err(self.err(
                        e.span(),
                        format!("random.{kind}.every"),
                        format!("{d} would give about {expected} faults, above the limit of {MAX_RANDOM_FAULTS}"),
                    ));
                }
                d
            }
            None => {
                return Err(self.err(
                    table,
                    format!("random.{kind}.every"),
                    "missing required key `every`: the mean interval between faults (e.g. every = \"10s\")",
                ));
            }
        };
        let preferred = if matches!(kind, "crash" | "pause") {
            "down"
        } else {
            "lasts"
        };
        let lasts = match (down, lasts) {
            (Some(_), Some(l)) => {
                return Err(self.err(
                    l.span(),
                    format!("random.{kind}.lasts"),
                    "`down` and `lasts` are two names for one setting: give only one",
                ));
            }
            (Some(d), None) => self.range(d, &format!("random.{kind}.down"))?,
            (None, Some(l)) => self.range(l, &format!("random.{kind}.lasts"))?,
            (None, None) => {
                return Err(self.err(
                    table,
                    format!("random.{kind}.{preferred}"),
                    format!("missing required key `{preferred}`: how long each fault lasts (e.g. {preferred} = [\"1s\", \"5s\"])"),
                ));
            }
        };
        Ok((every, lasts))
    }
}
