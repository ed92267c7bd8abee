//! The simulated network: latency, loss, duplication, reordering, partitions
//! and per-link rules.
//!
//! The network decides the fate of each message at send time: dropped (with a
//! reason), or delivered after a latency, possibly twice. Reachability is a
//! table of counters — one per ordered pair that some rule cuts, counting
//! the active rules that cut it — so a partition, a one-way cut and an
//! isolation can overlap, and ending one rule removes exactly its own cuts.
//! The per-message check is a test of emptiness while nothing is cut, else
//! one lookup.
//!
//! Every draw comes from the stream of the message's directed link
//! ([`LinkStreams`]: `net/FROM->TO`, derived from the root seed and the two
//! process names), never from one stream shared by the whole network: a
//! message that one fault adds or removes on one link does not shift the
//! dice of every later message on the others, which is what keeps a failure
//! in place while the shrinker removes faults. A probability of zero draws
//! nothing, so a scenario without a fault consumes no dice for it.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::ProcessId;
use super::rng::{self, chance, uniform_u64};

/// One seeded stream per directed link, created on the link's first message.
///
/// The label is `net/FROM->TO` with the processes' names, not their indices:
/// a scenario with one node fewer (a shrinker's reduction) renumbers the
/// processes after it, and the links between the remaining ones keep their
/// dice.
#[derive(Debug)]
pub struct LinkStreams {
    seed: u64,
    /// `by_from[from]` holds the streams of the links out of `from`, sorted
    /// by `to`: a process talks to few others, so the list stays small even
    /// in a grid of thousands of processes, where an `n × n` table would
    /// not. Each stream is boxed: the list holds a pointer per link, not
    /// streams of 300 bytes each, and its targets sit in one block that a
    /// binary search reads.
    by_from: Vec<Links>,
}

/// The streams of the links out of one process, sorted by target.
#[derive(Debug, Default)]
struct Links {
    to: Vec<u32>,
    /// Boxed: a new link inserted in the middle moves pointers, not
    /// streams of 300 bytes, and a stream stays where it was drawn from.
    #[allow(clippy::vec_box)]
    streams: Vec<Box<ChaCha8Rng>>,
}

impl LinkStreams {
    /// No stream drawn yet, for `n` processes under `seed`.
    pub fn new(seed: u64, n: usize) -> Self {
        LinkStreams {
            seed,
            by_from: (0..n).map(|_| Links::default()).collect(),
        }
    }

    /// The stream of `from -> to`; `names` gives the processes' names.
    #[inline]
    pub fn get(&mut self, names: &[String], from: ProcessId, to: ProcessId) -> &mut ChaCha8Rng {
        let links = &mut self.by_from[from.index()];
        let at = match links.to.binary_search(&to.0) {
            Ok(at) => at,
            Err(at) => {
                let label = |i: u32| names.get(i as usize).map_or("?", String::as_str);
                let stream = rng::stream(
                    self.seed,
                    &format!("net/{}->{}", label(from.0), label(to.0)),
                );
                links.to.insert(at, to.0);
                links.streams.insert(at, Box::new(stream));
                at
            }
        };
        &mut links.streams[at]
    }
}

/// Why a message was not delivered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Random loss (`drop` probability, global or per link).
    Loss,
    /// A partition, one-way cut or isolation separates the two processes.
    Partition,
    /// The destination was down when the message arrived.
    Crashed,
    /// The destination restarted since the message was sent: it was
    /// addressed to a previous incarnation (a connection that no longer exists).
    Stale,
    /// The destination was paused and the scenario drops messages to paused
    /// processes (`pause_messages = "drop"`).
    Paused,
    /// The destination does not exist (yet).
    Unknown,
}

impl DropReason {
    /// The name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Crashed => "crashed",
            DropReason::Stale => "stale",
            DropReason::Paused => "paused",
            DropReason::Unknown => "unknown",
        }
    }

    /// Every reason, for reports.
    pub const ALL: [DropReason; 6] = [
        DropReason::Loss,
        DropReason::Partition,
        DropReason::Crashed,
        DropReason::Stale,
        DropReason::Paused,
        DropReason::Unknown,
    ];
}

/// Per-link overrides for one direction (`from -> to`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct LinkRule {
    /// Latency range in µs, replacing the global one.
    pub latency_us: Option<(u64, u64)>,
    /// Loss probability, replacing the global one.
    pub drop_probability: Option<f64>,
    /// Duplication probability, replacing the global one.
    pub duplicate_probability: Option<f64>,
}

/// Global network parameters.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Minimum one-way latency, µs.
    pub latency_us_min: u64,
    /// Maximum one-way latency, µs.
    pub latency_us_max: u64,
    /// Probability that a message is lost.
    pub drop_probability: f64,
    /// Probability that a message is delivered twice.
    pub duplicate_probability: f64,
    /// Probability that a message is held back by up to twice the maximum
    /// latency, overtaking the usual order.
    pub reorder_probability: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency_us_min: 1_000,
            latency_us_max: 5_000,
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            reorder_probability: 0.0,
        }
    }
}

/// What happens to one message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Never arrives.
    Dropped(DropReason),
    /// Arrives after this many µs.
    Once(u64),
    /// Arrives twice, after each of these delays.
    Twice(u64, u64),
}

/// Identifies one active network rule so that it can be ended alone.
pub type RuleId = u32;

#[derive(Debug, Clone)]
struct CutRule {
    pairs: Vec<(u32, u32)>,
}

/// The network's state: global parameters, cuts and per-link rules.
#[derive(Debug)]
pub struct Network {
    n: usize,
    config: NetConfig,
    /// The number of active rules that cut `from -> to`, by `(from, to)`,
    /// for the pairs some rule cuts: the pairs a rule names, not an `n × n`
    /// table (50 MB for a grid of 5,000 nodes, whether or not anything is
    /// ever cut). Without an active cut the per-message check is one test
    /// of emptiness.
    cut: BTreeMap<(u32, u32), u16>,
    cuts: BTreeMap<RuleId, CutRule>,
    /// Active link rules, per ordered pair; the newest applies.
    links: BTreeMap<(u32, u32), Vec<(RuleId, LinkRule)>>,
    link_index: BTreeMap<RuleId, (u32, u32)>,
}

impl Network {
    /// A network for `n` processes (ids `0..n`) with the given parameters.
    pub fn new(n: usize, config: NetConfig) -> Self {
        Network {
            n,
            config,
            cut: BTreeMap::new(),
            cuts: BTreeMap::new(),
            links: BTreeMap::new(),
            link_index: BTreeMap::new(),
        }
    }

    /// The global parameters.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// True when `from -> to` is cut by some active rule.
    #[inline]
    pub fn is_cut(&self, from: ProcessId, to: ProcessId) -> bool {
        !self.cut.is_empty() && self.cut.contains_key(&(from.0, to.0))
    }

    /// Draws the fate of a message `from -> to`.
    ///
    /// `echo` marks a message that descends from a duplicate: the duplicate
    /// copy itself, or anything sent while handling an echo. An echo is never
    /// duplicated again. Without that rule duplication compounds along every
    /// request/response chain (each hop doubles the copies in flight at
    /// `duplicate = 1.0`, so a ping-pong grows as 2^hops and a run exhausts
    /// memory in seconds); with it, one duplicate adds at most one extra
    /// chain, the way a stray retransmission does on a real network.
    #[inline]
    pub fn fate(&self, rng: &mut ChaCha8Rng, from: ProcessId, to: ProcessId, echo: bool) -> Fate {
        if self.is_cut(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        let c = &self.config;
        let (mut lo, mut hi, mut drop_p, mut dup_p) = (
            c.latency_us_min,
            c.latency_us_max,
            c.drop_probability,
            c.duplicate_probability,
        );
        if !self.links.is_empty()
            && let Some(rule) = self.links.get(&(from.0, to.0)).and_then(|v| v.last())
        {
            let r = rule.1;
            if let Some((a, b)) = r.latency_us {
                (lo, hi) = (a, b);
            }
            drop_p = r.drop_probability.unwrap_or(drop_p);
            dup_p = r.duplicate_probability.unwrap_or(dup_p);
        }
        if chance(rng, drop_p) {
            return Fate::Dropped(DropReason::Loss);
        }
        let first = self.delay(rng, lo, hi);
        if !echo && chance(rng, dup_p) {
            Fate::Twice(first, self.delay(rng, lo, hi))
        } else {
            Fate::Once(first)
        }
    }

    #[inline]
    fn delay(&self, rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
        let mut d = uniform_u64(rng, lo, hi);
        if chance(rng, self.config.reorder_probability) {
            d += uniform_u64(rng, 0, 2 * hi);
        }
        d
    }

    /// Cuts every ordered pair in `pairs` until [`Network::end_rule`]`(rule)`.
    pub fn cut_pairs(&mut self, rule: RuleId, pairs: Vec<(ProcessId, ProcessId)>) {
        let pairs: Vec<(u32, u32)> = pairs
            .into_iter()
            .filter(|(a, b)| a != b && (a.0 as usize) < self.n && (b.0 as usize) < self.n)
            .map(|(a, b)| (a.0, b.0))
            .collect();
        for &pair in &pairs {
            *self.cut.entry(pair).or_insert(0) += 1;
        }
        // A rule id used twice would leak cuts: end the old one first.
        self.end_rule(rule);
        self.cuts.insert(rule, CutRule { pairs });
    }

    /// Splits the processes into groups that cannot reach each other (both
    /// directions). Processes in no group are unaffected.
    pub fn partition(&mut self, rule: RuleId, groups: &[Vec<ProcessId>]) {
        let mut pairs = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            for (j, h) in groups.iter().enumerate() {
                if i != j {
                    for &a in g {
                        for &b in h {
                            pairs.push((a, b));
                        }
                    }
                }
            }
        }
        self.cut_pairs(rule, pairs);
    }

    /// Cuts messages from any of `from` to any of `to`, not the way back.
    pub fn one_way(&mut self, rule: RuleId, from: &[ProcessId], to: &[ProcessId]) {
        let pairs = from
            .iter()
            .flat_map(|&a| to.iter().map(move |&b| (a, b)))
            .collect();
        self.cut_pairs(rule, pairs);
    }

    /// Cuts `p` from every other process, both ways.
    pub fn isolate(&mut self, rule: RuleId, p: ProcessId) {
        let all: Vec<ProcessId> = (0..self.n as u32).map(ProcessId).collect();
        let pairs = all
            .iter()
            .flat_map(|&q| [(p, q), (q, p)])
            .filter(|(a, b)| a != b)
            .collect();
        self.cut_pairs(rule, pairs);
    }

    /// Overrides latency/loss/duplication on `from -> to`.
    pub fn set_link(&mut self, rule: RuleId, from: ProcessId, to: ProcessId, link: LinkRule) {
        self.end_rule(rule);
        self.links
            .entry((from.0, to.0))
            .or_default()
            .push((rule, link));
        self.link_index.insert(rule, (from.0, to.0));
    }

    /// Ends one rule (a cut or a link override); unknown ids are ignored.
    pub fn end_rule(&mut self, rule: RuleId) {
        if let Some(r) = self.cuts.remove(&rule) {
            for pair in r.pairs {
                if let Some(c) = self.cut.get_mut(&pair) {
                    *c -= 1;
                    if *c == 0 {
                        self.cut.remove(&pair);
                    }
                }
            }
        }
        if let Some(pair) = self.link_index.remove(&rule)
            && let Some(v) = self.links.get_mut(&pair)
        {
            v.retain(|(id, _)| *id != rule);
            if v.is_empty() {
                self.links.remove(&pair);
            }
        }
    }

    /// Ends every cut and link rule: the network is whole again.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.cuts.clear();
        self.links.clear();
        self.link_index.clear();
    }

    /// The ids of the active rules.
    pub fn active_rules(&self) -> Vec<RuleId> {
        let mut v: Vec<RuleId> = self
            .cuts
            .keys()
            .chain(self.link_index.keys())
            .copied()
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{RngExt, stream};

    fn p(i: u32) -> ProcessId {
        ProcessId(i)
    }

    #[test]
    fn partition_cuts_across_groups_only() {
        let mut net = Network::new(4, NetConfig::default());
        net.partition(1, &[vec![p(0), p(1)], vec![p(2), p(3)]]);
        assert!(net.is_cut(p(0), p(2)) && net.is_cut(p(3), p(1)));
        assert!(!net.is_cut(p(0), p(1)) && !net.is_cut(p(2), p(3)));
        net.end_rule(1);
        assert!(!net.is_cut(p(0), p(2)));
    }

    #[test]
    fn overlapping_rules_end_independently() {
        let mut net = Network::new(3, NetConfig::default());
        net.isolate(1, p(0));
        net.one_way(2, &[p(0)], &[p(1)]);
        net.end_rule(1);
        assert!(net.is_cut(p(0), p(1)), "one-way cut still active");
        assert!(!net.is_cut(p(1), p(0)), "isolation ended");
        assert!(!net.is_cut(p(0), p(2)));
    }

    #[test]
    fn link_rule_overrides_latency() {
        let mut net = Network::new(2, NetConfig::default());
        let link = LinkRule {
            latency_us: Some((50_000, 50_000)),
            drop_probability: None,
            duplicate_probability: None,
        };
        net.set_link(7, p(0), p(1), link);
        let mut rng = stream(1, "net");
        assert_eq!(net.fate(&mut rng, p(0), p(1), false), Fate::Once(50_000));
        assert!(matches!(net.fate(&mut rng, p(1), p(0), false), Fate::Once(d) if d <= 5_000));
        net.end_rule(7);
        assert!(matches!(net.fate(&mut rng, p(0), p(1), false), Fate::Once(d) if d <= 5_000));
    }

    #[test]
    fn a_link_keeps_its_dice_whatever_the_others_draw() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let net = Network::new(3, NetConfig::default());
        let fates = |others: usize| {
            let mut streams = LinkStreams::new(9, 3);
            let mut out = Vec::new();
            for _ in 0..20 {
                for _ in 0..others {
                    net.fate(streams.get(&names, p(1), p(2)), p(1), p(2), false);
                }
                out.push(net.fate(streams.get(&names, p(0), p(1)), p(0), p(1), false));
            }
            out
        };
        assert_eq!(fates(0), fates(3));
        // The link's label is its names, so another direction draws otherwise.
        let mut streams = LinkStreams::new(9, 3);
        let ab: u64 = streams.get(&names, p(0), p(1)).random();
        let ba: u64 = streams.get(&names, p(1), p(0)).random();
        assert_ne!(ab, ba);
    }

    #[test]
    fn an_echo_is_never_duplicated_again() {
        let config = NetConfig {
            duplicate_probability: 1.0,
            ..NetConfig::default()
        };
        let net = Network::new(2, config);
        let mut rng = stream(1, "net");
        for _ in 0..100 {
            assert!(matches!(
                net.fate(&mut rng, p(0), p(1), false),
                Fate::Twice(..)
            ));
            assert!(matches!(
                net.fate(&mut rng, p(0), p(1), true),
                Fate::Once(..)
            ));
        }
    }
}
