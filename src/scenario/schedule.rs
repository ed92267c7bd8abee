//! The resolved fault timeline: `[[events]]` plus the expansion of
//! `[random]`, as a sorted list of begin and end steps.
//!
//! ```text
//!   [[events]] ──┐
//!                ├──> Vec<Scheduled>  sorted by (at, events before random, order, begin before end)
//!   [random] ────┘     (each kind drawn from its own stream: faults/crash, faults/pause, …)
//! ```
//!
//! An entry with an `until` (and every random fault) is one *fault* with two
//! steps sharing a fault id: `Begin` at `at`, `End` at `until`. The end
//! undoes exactly that fault: a crash restarts, a pause resumes, a
//! partition/one_way/isolate/link rule is removed, a clock is restored.
//!
//! Random faults start after [`RANDOM_WARMUP`] (so the cluster can elect and
//! place first) and follow a Poisson process per kind: exponential gaps with
//! mean `every`, until `heal_at` (or the end of the run), each lasting a
//! uniform draw from `lasts` and ending no later than `heal_at`. Their
//! targets are managers and data nodes of the initial cluster, never clients.
//! The expansion reads nothing but `[random]`, the process counts and the
//! duration: removing or adding an `[[events]]` entry, or enabling another
//! random kind, leaves it unchanged.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Action, Cluster, RandomClock, RandomFault, RandomSpec, Scenario, Target};
use crate::sim::rng::{self, ChaCha8Rng, RngExt};
use crate::sim::time::{SimDuration, SimTime};

/// Random faults never begin before this point of the run.
pub const RANDOM_WARMUP: SimDuration = SimDuration::from_secs(1);

/// A bound on random faults drawn per kind, whatever the configuration (the
/// validator already rejects configurations expecting more than
/// [`super::limits::MAX_RANDOM_FAULTS`]).
const MAX_DRAWN_PER_KIND: usize = 50_000;

/// One step of the resolved timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scheduled {
    /// When the step happens.
    pub at: SimTime,
    /// Fault id shared by the `Begin` and `End` of one fault: `[[events]]`
    /// entry `i` is fault `i + 1`; random faults follow, numbered in order
    /// of their begin time.
    pub fault: u32,
    /// Begin or end, and of what.
    pub step: Step,
    /// Where the fault comes from.
    pub origin: Origin,
    /// 1-based line of the `[[events]]` entry; 0 for random faults and
    /// events built in code.
    pub line: usize,
}

/// The begin or the end of a fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The action takes effect.
    Begin(Action),
    /// The action is undone (see the module docs for what that means per action).
    End(Action),
}

impl Step {
    /// The action begun or ended.
    pub fn action(&self) -> &Action {
        match self {
            Step::Begin(a) | Step::End(a) => a,
        }
    }
    /// True for a `Begin`.
    pub fn is_begin(&self) -> bool {
        matches!(self, Step::Begin(_))
    }
}

/// Where a scheduled fault comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The `[[events]]` entry at this index.
    Event(usize),
    /// The expansion of `[random]`.
    Random,
}

/// One random fault as drawn: an action and the window it lasts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawnFault {
    /// When it begins.
    pub begin: SimTime,
    /// When it ends (no later than `heal_at`, or the end of the run).
    pub end: SimTime,
    /// What it does.
    pub action: Action,
}

impl Scenario {
    /// The whole resolved timeline: `[[events]]` plus the expansion of `[random]`,
    /// sorted by (at, then events before random, then file order).
    ///
    /// Within one origin, steps keep their order: file order for events,
    /// begin-time order for random faults, and a fault's `Begin` before its
    /// `End` when both fall at the same time.
    pub fn resolve_schedule(&self, seed: u64) -> Vec<Scheduled> {
        let mut out: Vec<(u8, usize, u8, Scheduled)> = Vec::new();
        for (i, event) in self.events.iter().enumerate() {
            let fault = fault_id(i);
            let origin = Origin::Event(i);
            out.push((
                0,
                i,
                0,
                Scheduled {
                    at: event.at,
                    fault,
                    step: Step::Begin(event.action.clone()),
                    origin,
                    line: event.line,
                },
            ));
            if let Some(until) = event.until {
                out.push((
                    0,
                    i,
                    1,
                    Scheduled {
                        at: until,
                        fault,
                        step: Step::End(event.action.clone()),
                        origin,
                        line: event.line,
                    },
                ));
            }
        }
        let first_random = self.events.len();
        for (k, drawn) in self.random_faults(seed).into_iter().enumerate() {
            let fault = fault_id(first_random + k);
            let origin = Origin::Random;
            out.push((
                1,
                k,
                0,
                Scheduled {
                    at: drawn.begin,
                    fault,
                    step: Step::Begin(drawn.action.clone()),
                    origin,
                    line: 0,
                },
            ));
            out.push((
                1,
                k,
                1,
                Scheduled {
                    at: drawn.end,
                    fault,
                    step: Step::End(drawn.action),
                    origin,
                    line: 0,
                },
            ));
        }
        out.sort_by_key(|(class, index, phase, s)| (s.at, *class, *index, *phase));
        out.into_iter().map(|(_, _, _, s)| s).collect()
    }

    /// The expansion of `[random]` for `seed`, in begin-time order (empty
    /// without `[random]`). Depends only on `[random]`, the process counts
    /// and the duration — never on `[[events]]`.
    pub fn random_faults(&self, seed: u64) -> Vec<DrawnFault> {
        match &self.random {
            Some(spec) => expand_random(spec, &self.cluster, self.end(), seed),
            None => Vec::new(),
        }
    }
}

fn fault_id(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Draws every random fault. Its signature is the independence guarantee:
/// it cannot see `[[events]]`.
fn expand_random(spec: &RandomSpec, cluster: &Cluster, end: SimTime, seed: u64) -> Vec<DrawnFault> {
    let horizon = spec.heal_at.unwrap_or(end).min(end);
    let pool: Vec<String> = cluster
        .manager_ids()
        .into_iter()
        .chain(cluster.node_ids())
        .collect();
    let window = Window {
        start: SimTime::ZERO + RANDOM_WARMUP,
        horizon,
    };
    // (begin, kind order, index within kind) orders faults across kinds.
    let mut all: Vec<(SimTime, usize, usize, DrawnFault)> = Vec::new();
    let kinds: [(&str, Option<&RandomFault>); 4] = [
        ("crash", spec.crash.as_ref()),
        ("pause", spec.pause.as_ref()),
        ("partition", spec.partition.as_ref()),
        ("isolate", spec.isolate.as_ref()),
    ];
    for (order, (kind, fault)) in kinds.into_iter().enumerate() {
        let Some(fault) = fault else { continue };
        let mut rng = rng::stream(seed, &format!("faults/{kind}"));
        let drawn = match kind {
            "partition" => draw_partitions(&mut rng, fault, &pool, window),
            _ => draw_exclusive(
                &mut rng,
                fault.every,
                fault.lasts,
                &pool,
                window,
                |target, _| match kind {
                    "crash" => Action::Crash(target),
                    "pause" => Action::Pause(target),
                    _ => Action::Isolate(target),
                },
            ),
        };
        all.extend(
            drawn
                .into_iter()
                .enumerate()
                .map(|(i, f)| (f.begin, order, i, f)),
        );
    }
    if let Some(clock) = &spec.clock {
        let mut rng = rng::stream(seed, "faults/clock");
        let drawn = draw_clocks(&mut rng, clock, &pool, window);
        all.extend(
            drawn
                .into_iter()
                .enumerate()
                .map(|(i, f)| (f.begin, 4, i, f)),
        );
    }
    all.sort_by_key(|(begin, order, i, _)| (*begin, *order, *i));
    all.into_iter().map(|(_, _, _, f)| f).collect()
}

/// Where random faults may fall.
#[derive(Clone, Copy)]
struct Window {
    start: SimTime,
    horizon: SimTime,
}

impl Window {
    /// Begin times: a Poisson process with mean gap `every`, before `horizon`.
    fn arrivals(
        self,
        rng: &mut ChaCha8Rng,
        every: SimDuration,
    ) -> impl Iterator<Item = SimTime> + '_ {
        let mut t = self.start;
        std::iter::from_fn(move || {
            t += SimDuration::from_micros(rng::exponential_us(rng, every.as_micros()));
            (t < self.horizon).then_some(t)
        })
        .take(MAX_DRAWN_PER_KIND)
    }

    /// The end of a fault beginning at `begin` that lasts a draw from `lasts`.
    fn end(self, rng: &mut ChaCha8Rng, begin: SimTime, lasts: [SimDuration; 2]) -> SimTime {
        let length = rng::uniform_u64(rng, lasts[0].as_micros(), lasts[1].as_micros());
        (begin + SimDuration::from_micros(length)).min(self.horizon)
    }
}

/// Faults on one process at a time per process: a process already under a
/// fault of this kind (down from a random crash, paused, isolated, skewed)
/// is not picked again until that fault has ended.
fn draw_exclusive(
    rng: &mut ChaCha8Rng,
    every: SimDuration,
    lasts: [SimDuration; 2],
    pool: &[String],
    window: Window,
    mut make: impl FnMut(Target, &mut ChaCha8Rng) -> Action,
) -> Vec<DrawnFault> {
    let mut busy_until = vec![SimTime::ZERO; pool.len()];
    let begins: Vec<SimTime> = window.arrivals(rng, every).collect();
    let mut out = Vec::new();
    for begin in begins {
        // An end at `begin` sorts before this begin (lower index), so `<=`.
        let free: Vec<usize> = (0..pool.len())
            .filter(|&i| busy_until[i] <= begin)
            .collect();
        if free.is_empty() {
            continue;
        }
        let pick = free[rng::uniform_u64(rng, 0, free.len() as u64 - 1) as usize];
        let end = window.end(rng, begin, lasts);
        busy_until[pick] = end;
        let action = make(Target::Id(pool[pick].clone()), rng);
        out.push(DrawnFault { begin, end, action });
    }
    out
}

/// Partitions: a random non-empty proper subset of managers and nodes
/// against everyone else (`"*"`). Overlapping partitions are fine: each end
/// removes its own rule.
fn draw_partitions(
    rng: &mut ChaCha8Rng,
    fault: &RandomFault,
    pool: &[String],
    window: Window,
) -> Vec<DrawnFault> {
    if pool.len() < 2 {
        return Vec::new();
    }
    let begins: Vec<SimTime> = window.arrivals(rng, fault.every).collect();
    let mut out = Vec::with_capacity(begins.len());
    for begin in begins {
        let n = pool.len();
        let size = rng::uniform_u64(rng, 1, n as u64 - 1) as usize;
        // Partial Fisher-Yates: the first `size` indices are a uniform subset.
        let mut order: Vec<usize> = (0..n).collect();
        for j in 0..size {
            let r = rng::uniform_u64(rng, j as u64, n as u64 - 1) as usize;
            order.swap(j, r);
        }
        let mut chosen = order[..size].to_vec();
        chosen.sort_unstable();
        let group: Vec<String> = chosen.into_iter().map(|i| pool[i].clone()).collect();
        let end = window.end(rng, begin, fault.lasts);
        out.push(DrawnFault {
            begin,
            end,
            action: Action::Partition(vec![group, vec!["*".to_string()]]),
        });
    }
    out
}

/// Clock faults: an offset uniform in ±`max_offset` and a drift uniform in
/// ±`max_drift` (rounded to a millionth, for readable traces).
fn draw_clocks(
    rng: &mut ChaCha8Rng,
    clock: &RandomClock,
    pool: &[String],
    window: Window,
) -> Vec<DrawnFault> {
    // Validation caps max_offset far below this; the clamp keeps `2 * max`
    // and the subtraction below free of overflow for scenarios built in code.
    let max_offset = clock.max_offset.as_micros().min(u64::MAX / 4);
    let max_drift = clock.max_drift;
    draw_exclusive(
        rng,
        clock.every,
        clock.lasts,
        pool,
        window,
        |target, rng| {
            let offset_us = if max_offset > 0 {
                let draw = rng::uniform_u64(rng, 0, 2 * max_offset);
                i64::try_from(i128::from(draw) - i128::from(max_offset)).unwrap_or(0)
            } else {
                0
            };
            let drift = if max_drift > 0.0 {
                let unit: f64 = rng.random::<f64>() * 2.0 - 1.0;
                (unit * max_drift * 1e6).round() / 1e6
            } else {
                0.0
            };
            Action::Clock {
                target,
                offset_us,
                drift,
            }
        },
    )
}

/// `12.500s`, or `12.500250s` when the time is not a whole millisecond.
fn format_time(t: SimTime) -> String {
    let us = t.as_micros();
    let (secs, frac) = (us / 1_000_000, us % 1_000_000);
    if frac.is_multiple_of(1_000) {
        format!("{secs}.{:03}s", frac / 1_000)
    } else {
        format!("{secs}.{frac:06}s")
    }
}

/// A human-readable timeline for `partsim run --print-schedule`, one line
/// per step:
///
/// ```text
///      10.000s  begin #1 crash n3   (events[0], line 41)
///      12.734s  begin #4 partition [m2 n4] | [*]   (random)
/// ```
pub fn format_schedule(schedule: &[Scheduled]) -> String {
    let mut out = String::new();
    for s in schedule {
        let phase = if s.step.is_begin() { "begin" } else { "end  " };
        let origin = match s.origin {
            Origin::Event(i) if s.line > 0 => format!("events[{i}], line {}", s.line),
            Origin::Event(i) => format!("events[{i}]"),
            Origin::Random => "random".to_string(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{:>13}  {phase} #{} {}   ({origin})",
            format_time(s.at),
            s.fault,
            s.step.action()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::EventSpec;

    fn base() -> Scenario {
        let mut s = Scenario::new("t", SimDuration::from_secs(60));
        s.cluster.managers = 3;
        s.cluster.nodes = 6;
        s
    }

    fn ev(at_s: u64, until_s: Option<u64>, action: Action) -> EventSpec {
        EventSpec {
            at: SimTime(at_s * 1_000_000),
            until: until_s.map(|u| SimTime(u * 1_000_000)),
            action,
            line: 0,
        }
    }

    fn with_random() -> Scenario {
        let mut s = base();
        s.random = Some(RandomSpec {
            crash: Some(RandomFault {
                every: SimDuration::from_secs(5),
                lasts: [SimDuration::from_secs(1), SimDuration::from_secs(4)],
            }),
            pause: Some(RandomFault {
                every: SimDuration::from_secs(7),
                lasts: [SimDuration::from_millis(100), SimDuration::from_secs(1)],
            }),
            partition: Some(RandomFault {
                every: SimDuration::from_secs(9),
                lasts: [SimDuration::from_secs(1), SimDuration::from_secs(3)],
            }),
            isolate: Some(RandomFault {
                every: SimDuration::from_secs(11),
                lasts: [SimDuration::from_secs(1), SimDuration::from_secs(2)],
            }),
            clock: Some(RandomClock {
                every: SimDuration::from_secs(13),
                lasts: [SimDuration::from_secs(1), SimDuration::from_secs(5)],
                max_offset: SimDuration::from_secs(2),
                max_drift: 0.05,
            }),
            heal_at: Some(SimTime(45_000_000)),
            buggify: None,
        });
        s
    }

    #[test]
    fn events_sort_by_time_then_file_order_with_paired_ends() {
        let mut s = base();
        s.events = vec![
            ev(20, None, Action::Restart(Target::Id("n3".into()))),
            ev(10, Some(20), Action::Isolate(Target::Id("n1".into()))),
            ev(10, None, Action::Crash(Target::Id("n3".into()))),
            ev(5, Some(15), Action::Pause(Target::Leader)),
        ];
        let sched = s.resolve_schedule(1);
        let summary: Vec<(u64, u32, bool)> = sched
            .iter()
            .map(|x| (x.at.0 / 1_000_000, x.fault, x.step.is_begin()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (5, 4, true),
                (10, 2, true),
                (10, 3, true),
                (15, 4, false),
                (20, 1, true),
                (20, 2, false)
            ]
        );
        // Begin and End of one fault carry the same action and origin.
        let pause: Vec<&Scheduled> = sched.iter().filter(|x| x.fault == 4).collect();
        assert_eq!(pause.len(), 2);
        assert_eq!(pause[0].step, Step::Begin(Action::Pause(Target::Leader)));
        assert_eq!(pause[1].step, Step::End(Action::Pause(Target::Leader)));
        assert!(pause.iter().all(|x| x.origin == Origin::Event(3)));
    }

    #[test]
    fn events_come_before_random_faults_at_the_same_time() {
        let mut s = with_random();
        let first = s.random_faults(3)[0].begin;
        s.events = vec![ev(0, None, Action::Heal)];
        s.events[0].at = first;
        let sched = s.resolve_schedule(3);
        let at_first: Vec<&Origin> = sched
            .iter()
            .filter(|x| x.at == first)
            .map(|x| &x.origin)
            .collect();
        assert_eq!(at_first[0], &Origin::Event(0));
        assert!(at_first[1..].iter().all(|o| **o == Origin::Random));
    }

    #[test]
    fn random_faults_stay_in_the_window_and_pair_up() {
        let s = with_random();
        let drawn = s.random_faults(42);
        assert!(
            drawn.len() > 10,
            "expected a fair number of faults, got {}",
            drawn.len()
        );
        let heal = SimTime(45_000_000);
        for f in &drawn {
            assert!(
                f.begin > SimTime::ZERO + RANDOM_WARMUP && f.begin < heal,
                "{f:?}"
            );
            assert!(f.end >= f.begin && f.end <= heal, "{f:?}");
            match &f.action {
                Action::Crash(Target::Id(id))
                | Action::Pause(Target::Id(id))
                | Action::Isolate(Target::Id(id)) => {
                    assert!(id.starts_with('m') || id.starts_with('n'), "{id}")
                }
                Action::Clock {
                    target: Target::Id(id),
                    offset_us,
                    drift,
                } => {
                    assert!(!id.starts_with('c'));
                    assert!(offset_us.abs() <= 2_000_000 && drift.abs() <= 0.05);
                }
                Action::Partition(groups) => {
                    assert_eq!(groups.len(), 2);
                    assert!(!groups[0].is_empty() && groups[0].len() < 9);
                    assert_eq!(groups[1], vec!["*".to_string()]);
                }
                other => panic!("unexpected random action {other:?}"),
            }
        }
        let sched = s.resolve_schedule(42);
        assert_eq!(sched.len(), drawn.len() * 2);
        for window in sched.windows(2) {
            assert!(window[0].at <= window[1].at);
        }
        // Every fault id has exactly one Begin, then one End.
        for id in 1..=drawn.len() as u32 {
            let steps: Vec<bool> = sched
                .iter()
                .filter(|x| x.fault == id)
                .map(|x| x.step.is_begin())
                .collect();
            assert_eq!(steps, vec![true, false], "fault {id}");
        }
    }

    #[test]
    fn random_crashes_never_hit_a_process_that_is_down() {
        let mut s = base();
        s.cluster.managers = 1;
        s.cluster.nodes = 2;
        s.random = Some(RandomSpec {
            crash: Some(RandomFault {
                every: SimDuration::from_millis(300),
                lasts: [SimDuration::from_secs(1), SimDuration::from_secs(3)],
            }),
            ..RandomSpec::default()
        });
        let drawn = s.random_faults(7);
        assert!(drawn.len() > 20);
        for (i, a) in drawn.iter().enumerate() {
            for b in &drawn[i + 1..] {
                if a.action == b.action {
                    assert!(b.begin >= a.end, "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn random_expansion_ignores_events_and_other_kinds() {
        let mut s = with_random();
        s.events = vec![
            ev(10, None, Action::Crash(Target::Id("n3".into()))),
            ev(
                15,
                Some(25),
                Action::Partition(vec![vec!["m1".into()], vec!["*".into()]]),
            ),
            ev(20, None, Action::Restart(Target::Id("n3".into()))),
        ];
        let full = s.random_faults(9);
        let mut fewer = s.clone();
        fewer.events.remove(1);
        assert_eq!(fewer.random_faults(9), full);
        // The Random steps of the timeline are the same, modulo the fault-id offset.
        let random_steps = |sc: &Scenario| -> Vec<(SimTime, Step, u32)> {
            let offset = sc.events.len() as u32;
            sc.resolve_schedule(9)
                .into_iter()
                .filter(|x| x.origin == Origin::Random)
                .map(|x| (x.at, x.step, x.fault - offset))
                .collect()
        };
        assert_eq!(random_steps(&fewer), random_steps(&s));

        // Turning off one kind leaves every other kind's draws alone.
        let mut no_pause = s.clone();
        if let Some(r) = no_pause.random.as_mut() {
            r.pause = None;
        }
        let without: Vec<DrawnFault> = full
            .iter()
            .filter(|f| !matches!(f.action, Action::Pause(_)))
            .cloned()
            .collect();
        assert_eq!(no_pause.random_faults(9), without);

        // Another seed gives another expansion; the same seed the same one.
        assert_ne!(s.random_faults(10), full);
        assert_eq!(s.random_faults(9), full);
    }

    #[test]
    fn format_schedule_reads_as_a_timeline() {
        let mut s = base();
        s.events = vec![ev(10, Some(12), Action::Crash(Target::Id("n3".into())))];
        s.events[0].line = 41;
        s.events[0].until = Some(SimTime(12_000_250));
        let text = format_schedule(&s.resolve_schedule(0));
        assert_eq!(
            text,
            "      10.000s  begin #1 crash n3   (events[0], line 41)\n   12.000250s  end   #1 crash n3   (events[0], line 41)\n"
        );
    }
}
