//! Virtual time: `SimTime` (an instant) and `SimDuration` (a span), both whole
//! microseconds in a `u64`.
//!
//! Nothing in the simulation reads the wall clock; every time-dependent method
//! takes one of these. Durations parse from the forms scenario files use:
//! `"150ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"250us"`, `"0"`.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant of virtual time: microseconds since the simulation started.
#[derive(
    Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(pub u64);

/// A span of virtual time in microseconds.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every simulation.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event a run can reach.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Microseconds since the start.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us)
    }
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }
    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    /// Microseconds in this span.
    pub fn as_micros(self) -> u64 {
        self.0
    }
    /// Milliseconds in this span, as a float for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
    /// Seconds in this span, as a float for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// Parses `"150ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"250us"`, `"1h"` or `"0"`.
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let s = text.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.starts_with('-') {
            return Err(DurationError(format!(
                "{text:?}: durations cannot be negative (virtual time only moves forward)"
            )));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                DurationError(format!(
                    "{text:?} has no unit (use us, ms, s, m or h, e.g. \"150ms\")"
                ))
            })?;
        let (number, unit) = s.split_at(split);
        let scale: u64 = match unit.trim() {
            "us" | "µs" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" | "min" => 60_000_000,
            "h" => 3_600_000_000,
            other => {
                return Err(DurationError(format!(
                    "{text:?} has unknown unit {other:?} (use us, ms, s, m or h)"
                )));
            }
        };
        if number.is_empty() {
            return Err(DurationError(format!(
                "{text:?} has no number before the unit"
            )));
        }
        // Exact decimal arithmetic: "1.5s" must be 1_500_000 µs on every machine.
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
            return Err(DurationError(format!(
                "{text:?} is not a number followed by a unit"
            )));
        }
        let too_big = || DurationError(format!("{text:?} is too large"));
        let int: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| too_big())?
        };
        let mut micros = int.checked_mul(scale).ok_or_else(too_big)?;
        let mut place = scale;
        for digit in frac_part.bytes() {
            place /= 10;
            if place == 0 {
                if digit != b'0' {
                    return Err(DurationError(format!(
                        "{text:?} is finer than a microsecond"
                    )));
                }
                continue;
            }
            micros = micros
                .checked_add(u64::from(digit - b'0') * place)
                .ok_or_else(too_big)?;
        }
        Ok(SimDuration(micros))
    }
}

/// A duration string that could not be parsed; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(pub String);

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, other: SimTime) -> SimDuration {
        self.saturating_since(other)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

/// Exact and short: `0s`, `2s`, `1.5s`, `1.50025s`, `150ms`, `1.5ms`, `250us`.
fn fmt_micros(us: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fn decimal(
        f: &mut fmt::Formatter<'_>,
        whole: u64,
        frac: u64,
        digits: usize,
        unit: &str,
    ) -> fmt::Result {
        if frac == 0 {
            return write!(f, "{whole}{unit}");
        }
        let text = format!("{frac:0digits$}");
        write!(f, "{whole}.{}{unit}", text.trim_end_matches('0'))
    }
    if us == 0 {
        f.write_str("0s")
    } else if us >= 1_000_000 {
        decimal(f, us / 1_000_000, us % 1_000_000, 6, "s")
    } else if us >= 1_000 {
        decimal(f, us / 1_000, us % 1_000, 3, "ms")
    } else {
        write!(f, "{us}us")
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0, f)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0, f)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a duration such as \"150ms\", \"2s\" or \"1m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                SimDuration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SimDuration, E> {
                if v == 0 {
                    Ok(SimDuration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "{v} has no unit: write it as a string such as \"{v}ms\""
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SimDuration, E> {
                if v == 0 {
                    Ok(SimDuration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "{v} has no unit: write it as a string such as \"{v}ms\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scenario_forms() {
        assert_eq!(SimDuration::parse("150ms"), Ok(SimDuration(150_000)));
        assert_eq!(SimDuration::parse("2s"), Ok(SimDuration(2_000_000)));
        assert_eq!(SimDuration::parse("1.5s"), Ok(SimDuration(1_500_000)));
        assert_eq!(SimDuration::parse("1m"), Ok(SimDuration(60_000_000)));
        assert_eq!(SimDuration::parse("250us"), Ok(SimDuration(250)));
        assert_eq!(SimDuration::parse("0"), Ok(SimDuration(0)));
        assert_eq!(SimDuration::parse(".5ms"), Ok(SimDuration(500)));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "ms",
            "10",
            "10 parsecs",
            "1.2.3s",
            "0.0001ms",
            "99999999999999999999s",
            "-1s",
        ] {
            assert!(SimDuration::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["150ms", "2s", "1.5s", "1.50025s", "1.5ms", "250us", "0s"] {
            assert_eq!(SimDuration::parse(s).unwrap().to_string(), s);
            let d = SimDuration::parse(s).unwrap();
            assert_eq!(SimDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
