//! A process's local clock: virtual time with a drift and an offset
//! (DESIGN §2, clock skew). Timers fire on local time; a scenario's clock
//! fault changes a clock from a given instant on.

use super::time::SimTime;

/// A process's local clock: `virtual * (1 + drift_ppm / 1e6) + offset_us`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// Constant offset, µs (may be negative).
    pub offset_us: i64,
    /// Rate error in parts per million (100_000 = runs 10 % fast).
    pub drift_ppm: i64,
}

impl Clock {
    /// Local time at virtual time `v`; never before zero.
    #[inline]
    pub fn local(&self, v: SimTime) -> SimTime {
        if self.offset_us == 0 && self.drift_ppm == 0 {
            return v;
        }
        let v = v.0 as i128;
        let local = v + v * self.drift_ppm as i128 / 1_000_000 + self.offset_us as i128;
        SimTime(local.clamp(0, u64::MAX as i128) as u64)
    }

    /// This clock changed at virtual time `now` the way a scenario's clock
    /// fault means it: local time jumps by `offset_jump_us` and from then on
    /// runs at rate `1 + drift_ppm / 1e6` — continuing from where it was, not
    /// re-deriving all of history at the new rate.
    pub fn adjusted(&self, now: SimTime, offset_jump_us: i64, drift_ppm: i64) -> Clock {
        let local_now = self.local(now).0 as i128 + offset_jump_us as i128;
        let v = now.0 as i128;
        let offset = local_now - (v + v * drift_ppm as i128 / 1_000_000);
        Clock {
            offset_us: offset.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            drift_ppm,
        }
    }

    /// The first virtual time at which local time reaches `local`.
    pub fn virtual_at(&self, local: SimTime) -> SimTime {
        if self.offset_us == 0 && self.drift_ppm == 0 {
            return local;
        }
        let rate = 1_000_000i128 + self.drift_ppm as i128;
        let num = (local.0 as i128 - self.offset_us as i128) * 1_000_000;
        let v = (num + rate - 1).div_euclid(rate);
        SimTime(v.clamp(0, u64::MAX as i128) as u64)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjusted_clock_continues_from_where_it_was() {
        let c = Clock::default().adjusted(SimTime(1_000_000), 0, 250_000);
        assert_eq!(c.local(SimTime(1_000_000)), SimTime(1_000_000));
        assert_eq!(c.local(SimTime(1_080_000)), SimTime(1_100_000));
        let d = c.adjusted(SimTime(2_000_000), -500_000, 250_000);
        assert_eq!(d.local(SimTime(2_000_000)), SimTime(1_750_000));
    }

    #[test]
    fn clock_maps_both_ways() {
        let c = Clock {
            offset_us: -2_000_000,
            drift_ppm: 100_000,
        };
        assert_eq!(c.local(SimTime(10_000_000)), SimTime(9_000_000));
        assert_eq!(c.virtual_at(SimTime(9_000_000)), SimTime(10_000_000));
        assert_eq!(c.local(SimTime(0)), SimTime(0), "clamped at zero");
    }
}
