//! The scenario file as written: serde structs that mirror the TOML, with a
//! span on every value.
//!
//! Every field is optional here, even the required ones, so that the
//! validator — not serde — reports a missing key, with a position and a
//! message that says what to write. Serde still rejects what only it can:
//! unknown keys (`deny_unknown_fields` on every table), wrong types, and
//! malformed durations. Defaults are applied later, in `validate/`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use toml::Spanned;

use crate::sim::time::SimDuration;

/// A value with its byte span in the source.
pub(crate) type Sp<T> = Spanned<T>;

/// `partition = [["m1", "n1"], ["*"]]`: groups of ids, each spanned.
pub(crate) type RawGroups = Vec<Sp<Vec<Sp<String>>>>;

/// The whole document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Sp<String>>,
    pub description: Option<Sp<String>>,
    pub seed: Option<Sp<Seed>>,
    pub duration: Option<Sp<SimDuration>>,
    pub cluster: Option<Sp<RawCluster>>,
    pub grid: Option<Sp<RawGrid>>,
    pub placement: Option<Sp<RawPlacement>>,
    pub timing: Option<Sp<RawTiming>>,
    pub managers: Option<Sp<RawManagers>>,
    pub network: Option<Sp<RawNetwork>>,
    pub disk: Option<Sp<RawDisk>>,
    pub workload: Option<Sp<RawWorkload>>,
    pub events: Option<Vec<Sp<RawEvent>>>,
    pub random: Option<Sp<RawRandom>>,
    pub expect: Option<Sp<RawExpect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub managers: Option<Sp<u32>>,
    pub nodes: Option<Sp<u32>>,
    pub clients: Option<Sp<u32>>,
    pub zones: Option<Sp<Vec<Sp<String>>>>,
    pub cluster_key: Option<Sp<String>>,
    pub stack: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrid {
    pub width: Option<Sp<u32>>,
    pub height: Option<Sp<u32>>,
    pub tile: Option<Sp<Pair<u32>>>,
    pub replication_factor: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlacement {
    pub policy: Option<Sp<String>>,
    pub max_imbalance: Option<Sp<f64>>,
    pub max_concurrent_moves: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTiming {
    pub heartbeat_interval: Option<Sp<SimDuration>>,
    pub suspect_after: Option<Sp<SimDuration>>,
    pub dead_after: Option<Sp<SimDuration>>,
    pub election_timeout: Option<Sp<Pair<SimDuration>>>,
    pub raft_heartbeat: Option<Sp<SimDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManagers {
    pub snapshot_every: Option<Sp<u64>>,
    pub remove_down_after: Option<Sp<SimDuration>>,
    pub min_voters: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub latency: Option<Sp<Pair<SimDuration>>>,
    pub drop: Option<Sp<f64>>,
    pub duplicate: Option<Sp<f64>>,
    pub reorder: Option<Sp<f64>>,
    pub pause_messages: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDisk {
    pub torn_writes: Option<Sp<bool>>,
    pub corruption: Option<Sp<f64>>,
    pub misdirected: Option<Sp<f64>>,
    pub latency: Option<Sp<Pair<SimDuration>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub rate: Option<Sp<f64>>,
    pub read_ratio: Option<Sp<f64>>,
    pub keys: Option<Sp<String>>,
    pub start: Option<Sp<SimDuration>>,
    pub stop: Option<Sp<SimDuration>>,
    pub cas_ratio: Option<Sp<f64>>,
    pub timeout: Option<Sp<SimDuration>>,
}

/// One `[[events]]` entry: `at`, optional `until`, one action, and the
/// modifiers some actions take (`offset`/`drift` for clock, `zone`/`capacity`
/// for join).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvent {
    pub at: Option<Sp<SimDuration>>,
    pub until: Option<Sp<SimDuration>>,
    pub crash: Option<Sp<String>>,
    pub restart: Option<Sp<String>>,
    pub pause: Option<Sp<String>>,
    pub partition: Option<Sp<RawGroups>>,
    pub one_way: Option<Sp<RawOneWay>>,
    pub isolate: Option<Sp<String>>,
    pub link: Option<Sp<RawLink>>,
    pub clock: Option<Sp<String>>,
    pub offset: Option<Sp<SignedDuration>>,
    pub drift: Option<Sp<f64>>,
    pub disk_loss: Option<Sp<String>>,
    pub corrupt: Option<Sp<String>>,
    pub heal: Option<Sp<bool>>,
    pub join: Option<Sp<String>>,
    pub zone: Option<Sp<String>>,
    pub capacity: Option<Sp<u32>>,
    pub leave: Option<Sp<String>>,
    pub impostor: Option<Sp<String>>,
    pub add_manager: Option<Sp<String>>,
    pub remove_manager: Option<Sp<String>>,
    pub drain_manager: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOneWay {
    pub from: Option<Sp<String>>,
    pub to: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLink {
    pub from: Option<Sp<String>>,
    pub to: Option<Sp<String>>,
    pub latency: Option<Sp<Pair<SimDuration>>>,
    pub drop: Option<Sp<f64>>,
    pub duplicate: Option<Sp<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRandom {
    pub crash: Option<Sp<RawRandomFault>>,
    pub pause: Option<Sp<RawRandomFault>>,
    pub partition: Option<Sp<RawRandomFault>>,
    pub isolate: Option<Sp<RawRandomFault>>,
    pub clock: Option<Sp<RawRandomClock>>,
    pub heal_at: Option<Sp<SimDuration>>,
    pub buggify: Option<Sp<f64>>,
}

/// `{ every = "8s", down = ["1s", "5s"] }`. `down` and `lasts` are two
/// spellings of one field; both are kept so an error can name the one the
/// author wrote.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRandomFault {
    pub every: Option<Sp<SimDuration>>,
    pub down: Option<Sp<Pair<SimDuration>>>,
    pub lasts: Option<Sp<Pair<SimDuration>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRandomClock {
    pub every: Option<Sp<SimDuration>>,
    pub down: Option<Sp<Pair<SimDuration>>>,
    pub lasts: Option<Sp<Pair<SimDuration>>>,
    pub max_offset: Option<Sp<SimDuration>>,
    pub max_drift: Option<Sp<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub safety: Option<Sp<bool>>,
    pub converged_by: Option<Sp<SimDuration>>,
    pub lost_acked_writes: Option<Sp<RawLost>>,
    pub violations: Option<Sp<Vec<Sp<String>>>>,
    pub leader_elected_by: Option<Sp<SimDuration>>,
    pub voters: Option<Sp<u32>>,
}

/// `lost_acked_writes`: a count, or a bound as a string (`">0"`).
#[derive(Debug)]
pub(crate) enum RawLost {
    Count(u64),
    Bound(String),
}

impl<'de> Deserialize<'de> for RawLost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawLost;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count (0, 12) or a bound as a string (\">0\", \">=10\", \"<=5\")")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<RawLost, E> {
                Ok(RawLost::Count(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<RawLost, E> {
                u64::try_from(n)
                    .map(RawLost::Count)
                    .map_err(|_| E::custom(format!("a count cannot be negative, got {n}")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawLost, E> {
                Ok(RawLost::Bound(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Exactly two values `[min, max]`.
///
/// Serde's own `[T; 2]` would do, except that the TOML deserializer
/// silently ignores a third element; a range with three bounds is a mistake
/// to report, not to truncate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pair<T>(pub [T; 2]);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Pair<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for PairVisitor<T> {
            type Value = Pair<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of exactly two values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair<T>, A::Error> {
                let first: Option<T> = seq.next_element()?;
                let second: Option<T> = if first.is_some() {
                    seq.next_element()?
                } else {
                    None
                };
                let mut extra = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    extra += 1;
                }
                match (first, second) {
                    (Some(a), Some(b)) if extra == 0 => Ok(Pair([a, b])),
                    (first, second) => {
                        let len =
                            usize::from(first.is_some()) + usize::from(second.is_some()) + extra;
                        Err(de::Error::invalid_length(len, &self))
                    }
                }
            }
        }
        d.deserialize_seq(PairVisitor(PhantomData))
    }
}

/// A signed duration in microseconds: `"-2s"`, `"+150ms"`, `"1s"` or `0`
/// (a clock offset may go backwards).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SignedDuration(pub i64);

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SignedVisitor;
        impl Visitor<'_> for SignedVisitor {
            type Value = SignedDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signed duration such as \"-2s\" or \"150ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SignedDuration, E> {
                let t = v.trim();
                let (negative, magnitude) = match t.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, t.strip_prefix('+').unwrap_or(t)),
                };
                let d = SimDuration::parse(magnitude).map_err(E::custom)?;
                let us = i64::try_from(d.as_micros())
                    .map_err(|_| E::custom(format!("{v:?} is too large")))?;
                Ok(SignedDuration(if negative { -us } else { us }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SignedDuration, E> {
                if v == 0 {
                    Ok(SignedDuration(0))
                } else {
                    Err(E::custom(format!(
                        "{v} has no unit: write it as a string such as \"{v}ms\""
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SignedDuration, E> {
                match i64::try_from(v) {
                    Ok(i) => self.visit_i64(i),
                    Err(_) => Err(E::custom(format!("{v} has no unit"))),
                }
            }
        }
        d.deserialize_any(SignedVisitor)
    }
}

/// A root seed: a non-negative integer, or a decimal string for seeds above
/// `i64::MAX` (TOML integers are signed 64-bit; `--seed` takes any `u64`,
/// and a shrunk scenario must be able to record it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seed(pub u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SeedVisitor;
        impl Visitor<'_> for SeedVisitor {
            type Value = Seed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer (or a decimal string for seeds above 9223372036854775807)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seed, E> {
                u64::try_from(v)
                    .map(Seed)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seed, E> {
                Ok(Seed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seed, E> {
                v.trim()
                    .parse()
                    .map(Seed)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(SeedVisitor)
    }
}
