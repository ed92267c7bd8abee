//! `[workload]`: the clients' operation mix, rate and window.

use super::{R, Validator, span_or};
use crate::scenario::limits::MAX_RATE;
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::sim::time::{SimDuration, SimTime};

impl Validator<'_, '_> {
    pub(super) fn workload(
        &self,
        raw: &Sp<RawWorkload>,
        cluster: &Cluster,
        end: SimTime,
    ) -> R<Workload> {
        let w = raw.get_ref();
        if cluster.clients == 0 {
            return Err(self.err(
                raw.span(),
                "workload",
                "a workload needs clients: set cluster.clients to at least 1, or remove [workload]",
            ));
        }
        let rate = match &w.rate {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && x > 0.0 && x <= MAX_RATE) {
                    return Err(self.err(
                        r.span(),
                        "workload.rate",
                        format!(
                            "expected operations per second above 0 and at most {MAX_RATE}, got {x}"
                        ),
                    ));
                }
                x
            }
            None => {
                return Err(self.err(
                    raw.span(),
                    "workload.rate",
                    "missing required key `rate` (operations per second over all clients, e.g. rate = 200)",
                ));
            }
        };
        let read_ratio = match &w.read_ratio {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                    return Err(self.err(
                        r.span(),
                        "workload.read_ratio",
                        format!("expected a fraction between 0 and 1, got {x}"),
                    ));
                }
                x
            }
            None => 0.5,
        };
        let keys = match &w.keys {
            Some(k) => parse_keys(k.get_ref()).ok_or_else(|| {
                self.err(
                    k.span(),
                    "workload.keys",
                    format!("expected \"uniform\" or \"zipf:S\" with S > 0 (e.g. \"zipf:1.1\"), got {:?}", k.get_ref()),
                )
            })?,
            None => KeyDist::Uniform,
        };
        let start = match &w.start {
            Some(s) => self.time(s, "workload.start", end)?,
            None => {
                let t = SimTime::ZERO + SimDuration::from_secs(1);
                if t > end {
                    return Err(self.err(
                        raw.span(),
                        "workload.start",
                        "the default start (1s) is past the scenario's duration: set `start`",
                    ));
                }
                t
            }
        };
        let stop = match &w.stop {
            Some(s) => self.time(s, "workload.stop", end)?,
            None => end,
        };
        if stop <= start {
            let span = span_or(&w.stop, raw.span());
            return Err(self.err(
                span,
                "workload.stop",
                format!("stop ({stop}) must be after start ({start})"),
            ));
        }
        let cas_ratio = match &w.cas_ratio {
            Some(r) => {
                let x = *r.get_ref();
                if !(x.is_finite() && (0.0..=1.0).contains(&x) && x + read_ratio <= 1.0 + 1e-9) {
                    return Err(self.err(
                        r.span(),
                        "workload.cas_ratio",
                        format!(
                            "expected a fraction between 0 and 1 that leaves read_ratio + cas_ratio at most 1, got {x} (read_ratio = {read_ratio})"
                        ),
                    ));
                }
                x
            }
            None => 0.0,
        };
        let timeout = match &w.timeout {
            Some(d) => {
                let x = *d.get_ref();
                if x.as_micros() == 0 || x > SimDuration::from_secs(3600) {
                    return Err(self.err(
                        d.span(),
                        "workload.timeout",
                        format!("expected a duration above 0 and at most 1h, got {x}"),
                    ));
                }
                x
            }
            None => SimDuration::from_secs(1),
        };
        Ok(Workload {
            rate,
            read_ratio,
            keys,
            start,
            stop,
            cas_ratio,
            timeout,
        })
    }
}

/// `"uniform"` or `"zipf:S"` with a finite `S > 0`.
fn parse_keys(text: &str) -> Option<KeyDist> {
    if text == "uniform" {
        return Some(KeyDist::Uniform);
    }
    let s: f64 = text.strip_prefix("zipf:")?.trim().parse().ok()?;
    (s.is_finite() && s > 0.0).then_some(KeyDist::Zipf(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(parse_keys("uniform"), Some(KeyDist::Uniform));
        assert_eq!(parse_keys("zipf:1.1"), Some(KeyDist::Zipf(1.1)));
        for bad in [
            "zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:nan", "zipf:inf", "Uniform", "zipf:x",
        ] {
            assert_eq!(parse_keys(bad), None, "{bad}");
        }
    }
}
