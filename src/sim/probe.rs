//! Fault points and coverage probes: what a process asks of the kernel to
//! explore rare behaviour (FoundationDB's `BUGGIFY`) and to say that a rare
//! state was reached (Antithesis's "sometimes" assertions).
//!
//! - [`Cx::buggify`](super::Cx::buggify)`(name)` is true with a small
//!   probability, and only in runs that switch it on
//!   ([`World::set_buggify`](super::World::set_buggify)); otherwise it is a
//!   constant `false` that draws nothing. Each point is switched on or off
//!   for the whole run (half the points, drawn), then fires with the run's
//!   probability each time it is asked: a run explores a few points hard
//!   rather than all of them a little. Every draw comes from a stream of
//!   its own: whether a point is on from `faults/buggify/<point>`, and its
//!   firing from `faults/buggify/<point>/<process>`, one per process that
//!   asks. So switching buggify on reshuffles no other purpose's dice, and
//!   a process asking more or less often (one fault removed by a shrinker)
//!   moves neither another process's firings nor which points are on.
//! - [`Cx::reached`](super::Cx::reached)`(name)` counts that a rare path ran.
//!   Counts are kept beside the run, never in the trace: adding a probe
//!   changes no trace.
//!
//! The kernel knows the points only by name; the system under test keeps
//! the list of its names and what each does.

use std::collections::BTreeMap;

use super::process::ProcessId;
use super::rng::{self, ChaCha8Rng};

/// The fault points and probes of one run.
pub struct Probes {
    /// Chance that a switched-on point fires; 0 switches buggify off.
    buggify_probability: f64,
    seed: u64,
    /// Per point: switched on for this run, how often it fired, and the
    /// stream of each process that asked it.
    points: BTreeMap<&'static str, Point>,
    reached: BTreeMap<&'static str, u64>,
}

struct Point {
    on: bool,
    fired: u64,
    streams: BTreeMap<ProcessId, ChaCha8Rng>,
}

impl Probes {
    /// No fault point fires; no probe reached yet.
    pub fn new(seed: u64) -> Probes {
        Probes {
            buggify_probability: 0.0,
            seed,
            points: BTreeMap::new(),
            reached: BTreeMap::new(),
        }
    }

    /// Switches buggify on with `probability` per question (0 switches it off).
    pub fn set_buggify(&mut self, probability: f64) {
        self.buggify_probability = probability.clamp(0.0, 1.0);
    }

    /// Whether fault point `name` fires now, asked by process `me` (named
    /// `me_name`: its stream is named after it, so it stays the same when
    /// a smaller cluster numbers the processes differently).
    #[inline]
    pub fn buggify(&mut self, name: &'static str, me: ProcessId, me_name: &str) -> bool {
        if self.buggify_probability <= 0.0 {
            return false;
        }
        let seed = self.seed;
        let point = self.points.entry(name).or_insert_with(|| Point {
            on: rng::chance(
                &mut rng::stream(seed, &format!("faults/buggify/{name}")),
                0.5,
            ),
            fired: 0,
            streams: BTreeMap::new(),
        });
        if !point.on {
            return false;
        }
        let stream = point
            .streams
            .entry(me)
            .or_insert_with(|| rng::stream(seed, &format!("faults/buggify/{name}/{me_name}")));
        if rng::chance(stream, self.buggify_probability) {
            point.fired += 1;
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
            .filter(|(_, p)| p.fired > 0)
            .map(|(k, p)| (*k, p.fired))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_deterministic_when_on() {
        let mut p = Probes::new(1);
        assert!((0..1000).all(|_| !p.buggify("x", ProcessId(0), "m1")));
        assert!(p.fired_counts().is_empty());
        let draw = |seed| {
            let mut p = Probes::new(seed);
            p.set_buggify(0.2);
            let v: Vec<bool> = (0..200)
                .map(|i| p.buggify(["a", "b", "c", "d"][i % 4], ProcessId(0), "m1"))
                .collect();
            (v, p.fired_counts())
        };
        assert_eq!(draw(3), draw(3));
        let (v, fired) = draw(3);
        assert!(v.iter().any(|b| *b));
        assert!(fired.values().sum::<u64>() == v.iter().filter(|b| **b).count() as u64);
    }

    #[test]
    fn a_process_fires_the_same_whatever_others_ask() {
        // Which points are on does not depend on the order they are first
        // asked in, and m1's firings not on how often n1 asks.
        let run = |others: usize, order: &[&'static str]| {
            let mut p = Probes::new(7);
            p.set_buggify(0.3);
            for name in order {
                p.buggify(name, ProcessId(1), "n1");
            }
            let mut mine = Vec::new();
            for i in 0..300 {
                for _ in 0..others {
                    p.buggify("a", ProcessId(1), "n1");
                }
                mine.push(p.buggify(["a", "b", "c", "d"][i % 4], ProcessId(0), "m1"));
            }
            mine
        };
        let base = run(0, &["a", "b", "c", "d"]);
        assert!(base.iter().any(|b| *b));
        assert_eq!(run(3, &["d", "c", "b", "a"]), base);
        assert_eq!(run(1, &[]), base);
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
