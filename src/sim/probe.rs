//! Fault points and coverage probes: what a process asks of the kernel to
//! explore rare behaviour (FoundationDB's `BUGGIFY`) and to say that a rare
//! state was reached (Antithesis's "sometimes" assertions).
//!
//! - [`Cx::buggify`](super::Cx::buggify)`(name)` is true with a small
//!   probability, and only in runs that switch it on
//!   ([`World::set_buggify`](super::World::set_buggify)); otherwise it is a
//!   constant `false` that draws nothing. Each point is switched on or off
//!   for the whole run when first asked (half the points, drawn), then fires
//!   with the run's probability each time it is asked: a run explores a few
//!   points hard rather than all of them a little. The draws come from their
//!   own stream (`faults/buggify`), so switching buggify on reshuffles no
//!   other purpose's dice.
//! - [`Cx::reached`](super::Cx::reached)`(name)` counts that a rare path ran.
//!   Counts are kept beside the run, never in the trace: adding a probe
//!   changes no trace.
//!
//! The kernel knows the points only by name; the system under test keeps
//! the list of its names and what each does.

use std::collections::BTreeMap;

use super::rng::{self, ChaCha8Rng};

/// The fault points and probes of one run.
pub struct Probes {
    /// Chance that a switched-on point fires; 0 switches buggify off.
    buggify_probability: f64,
    rng: ChaCha8Rng,
    /// Per point: switched on for this run, and how often it fired.
    points: BTreeMap<&'static str, (bool, u64)>,
    reached: BTreeMap<&'static str, u64>,
}

impl Probes {
    /// No fault point fires; no probe reached yet.
    pub fn new(seed: u64) -> Probes {
        Probes {
            buggify_probability: 0.0,
            rng: rng::stream(seed, "faults/buggify"),
            points: BTreeMap::new(),
            reached: BTreeMap::new(),
        }
    }

    /// Switches buggify on with `probability` per question (0 switches it off).
    pub fn set_buggify(&mut self, probability: f64) {
        self.buggify_probability = probability.clamp(0.0, 1.0);
    }

    /// Whether fault point `name` fires now.
    #[inline]
    pub fn buggify(&mut self, name: &'static str) -> bool {
        if self.buggify_probability <= 0.0 {
            return false;
        }
        let rng = &mut self.rng;
        let (on, fired) = self
            .points
            .entry(name)
            .or_insert_with(|| (rng::chance(rng, 0.5), 0));
        if *on && rng::chance(rng, self.buggify_probability) {
            *fired += 1;
            true
        } else {
            false
        }
    }

    /// Counts that probe `name` was reached.
    pub fn reached(&mut self, name: &'static str) {
        *self.reached.entry(name).or_default() += 1;
    }

    /// How often each probe was reached, by name.
    pub fn reached_counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.reached
    }

    /// How often each fault point fired, by name (points that never fired
    /// are left out).
    pub fn fired_counts(&self) -> BTreeMap<&'static str, u64> {
        self.points
            .iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(k, (_, n))| (*k, *n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_deterministic_when_on() {
        let mut p = Probes::new(1);
        assert!((0..1000).all(|_| !p.buggify("x")));
        assert!(p.fired_counts().is_empty());
        let draw = |seed| {
            let mut p = Probes::new(seed);
            p.set_buggify(0.2);
            let v: Vec<bool> = (0..200)
                .map(|i| p.buggify(["a", "b", "c", "d"][i % 4]))
                .collect();
            (v, p.fired_counts())
        };
        assert_eq!(draw(3), draw(3));
        let (v, fired) = draw(3);
        assert!(v.iter().any(|b| *b));
        assert!(fired.values().sum::<u64>() == v.iter().filter(|b| **b).count() as u64);
    }

    #[test]
    fn reached_counts() {
        let mut p = Probes::new(0);
        p.reached("b");
        p.reached("a");
        p.reached("b");
        let got: Vec<_> = p.reached_counts().iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, vec![("a", 1), ("b", 2)]);
    }
}
