//! Re-aiming one-way cuts at the protocol moment they hit, for the
//! shrinker.
//!
//! A cut that makes a failure often has to fall inside a window one round
//! trip wide: after a candidate's vote requests left and before its first
//! entries do, or after a leader's probe left and before the entries after
//! it. Other faults of the run (a slow link, a slowed clock) widen or move
//! those windows, so dropping one of them moves every election after it,
//! and the cut — at the same virtual time as before — now misses: delta
//! debugging then keeps the slow link, though the failure never needed it
//! (Figure 8 in three managers needs three cuts and nothing else, yet a
//! race drawn with slow links to the voter kept them and the voter's
//! clock: 7 events).
//!
//! So a cut is also described by what it followed: the last message its
//! process sent before it began that the receiver acted on (else the last
//! one) — its kind, the sender's Raft term then, what the receiver did
//! with it (or what made it leave), and its ordinal among those ("m1's
//! first AppendEntries of term 3 that m3 stored term-1 entries from").
//! With an event or a pair dropped, or with fewer managers, the cuts are
//! placed again, earliest first, each just after the same message in a
//! run with the cuts already placed (and none of the later ones); their
//! ends as they were, or the last to heal lasting to the end, or their
//! lengths kept ([`Ends`]). The shrinker keeps the result only if the same
//! checker still fails, like any other candidate.

use crate::run::{self, RunOptions};
use crate::scenario::{Action, Scenario, Target};
use crate::sim::SimDuration;
use crate::sim::time::SimTime;
use crate::stack::planted::Planted;
use crate::trace::TraceLevel;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::rc::Rc;

/// A message a process sent: the process, its term then, the message's
/// kind, what it made its receiver do (store entries — the trace's
/// `accept` event — or grant a vote) or else what made the process send
/// it (a delivered message's kind or a timer's name), and its ordinal among
/// that process's sends of that kind and label in that term. The label is
/// what tells a leader's probe that carried an old entry from its
/// heartbeats: how many heartbeats went before the probe, and whether
/// the probe left on a rejection or on the next heartbeat, and whether a
/// vote request was granted the first time or on a retry, depend on the
/// latency of the link that was dropped.
#[derive(Clone, Debug)]
pub struct Anchor {
    process: String,
    term: u64,
    kind: String,
    cause: String,
    ordinal: u32,
    /// What the receiver did (stored entries or granted a vote), without
    /// naming it; `None` when it did neither. Not part of what identifies
    /// the message.
    effect: Option<String>,
}

impl Anchor {
    /// Whether the receiver stored entries or voted on it.
    fn acted_on(&self) -> bool {
        self.effect.is_some()
    }
}

impl PartialEq for Anchor {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.process,
            self.term,
            &self.kind,
            &self.cause,
            self.ordinal,
        ) == (&o.process, o.term, &o.kind, &o.cause, o.ordinal)
    }
}

/// The sends of a run, per process, in order: (time, anchor).
#[derive(Default)]
pub struct Sends(BTreeMap<String, Vec<(SimTime, Anchor)>>);

impl Sends {
    /// What a cut of `process` beginning at `at` followed: the last
    /// message it sent before `at` that its receiver acted on (stored
    /// entries or cast a vote), in the term of its last message before
    /// `at`; else that last message. A heartbeat that only went out
    /// between the probe and the cut is not what the cut was aimed after.
    pub fn last_before(&self, process: &str, at: SimTime) -> Option<&Anchor> {
        let before: Vec<&(SimTime, Anchor)> = (self.0.get(process)?.iter())
            .take_while(|(t, _)| *t < at)
            .collect();
        let last = &before.last()?.1;
        let acted_on = (before.iter().rev())
            .take_while(|(_, a)| a.term == last.term)
            .find(|(_, a)| a.acted_on())
            .map(|(_, a)| a);
        Some(acted_on.unwrap_or(last))
    }

    /// When `anchor` was sent, and when its process sent its next message
    /// after that (if it did). A message its receiver acted on that went
    /// fewer times (a vote request granted at once, where the failing run
    /// needed a retry over the slow link that is gone) is found as the
    /// last of those.
    pub fn find(&self, anchor: &Anchor) -> Option<(SimTime, Option<SimTime>)> {
        let sends = self.0.get(&anchor.process)?;
        let same =
            |a: &Anchor| (a.term, &a.kind, &a.cause) == (anchor.term, &anchor.kind, &anchor.cause);
        // With fewer processes (a smaller group), the receiver that acted
        // may be another: the first message that had the same effect.
        let i = (sends.iter().position(|(_, a)| a == anchor))
            .or_else(|| {
                (sends.iter())
                    .rposition(|(_, a)| anchor.acted_on() && same(a) && a.ordinal < anchor.ordinal)
            })
            .or_else(|| {
                sends.iter().position(|(_, a)| {
                    (a.term, &a.kind) == (anchor.term, &anchor.kind)
                        && anchor.effect.is_some()
                        && a.effect == anchor.effect
                })
            })?;
        let t = sends[i].0;
        let next = sends[i + 1..].iter().map(|(u, _)| *u).find(|u| *u > t);
        Some((t, next))
    }
}

/// A trace sink shared with the caller (the run takes a `'static` writer).
#[derive(Clone, Default)]
struct Captured(Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `s` and reads its sends from the trace (control level: the
/// protocol messages, not the data plane's).
pub fn sends_of(s: &Scenario, seed: u64, planted: Planted) -> Option<Sends> {
    let sink = Captured::default();
    let opts = RunOptions {
        seed: Some(seed),
        trace_out: Some(Box::new(sink.clone())),
        trace_level: TraceLevel::Control,
        keep_going: false,
        planted,
        scenario_path: None,
        duration: None,
    };
    run::run(s, opts).ok()?;
    let bytes = sink.0.borrow();
    Some(parse_sends(&bytes))
}

/// The sends of a trace, with each sender's term taken from its `role`
/// events (a line that does not parse is skipped).
fn parse_sends(trace: &[u8]) -> Sends {
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        t: u64,
        p: &'a str,
        seq: Option<u64>,
        cause: Option<u64>,
        ev: &'a str,
        msg: Option<&'a str>,
        timer: Option<&'a str>,
        term: Option<u64>,
        index: Option<u64>,
        terms: Option<Vec<u64>>,
        granted: Option<bool>,
    }
    // What each delivery and timer was (a send's cause), and what each
    // delivery made its receiver accept (a send's effect).
    let mut causes: BTreeMap<u64, String> = BTreeMap::new();
    let mut delivered: BTreeMap<u64, u64> = BTreeMap::new();
    let mut accepted: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut voted: BTreeMap<u64, (String, String)> = BTreeMap::new();
    // The sends in order: (time, sender, sender's term, kind, cause, seq).
    let mut sends: Vec<(u64, String, u64, String, Option<u64>, u64)> = Vec::new();
    let mut terms: BTreeMap<String, u64> = BTreeMap::new();
    for line in trace.split(|&b| b == b'\n') {
        // Only the kinds of line read here are parsed.
        let wanted = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
        if !["send", "role", "deliver", "timer", "accept", "vote"]
            .iter()
            .any(|ev| wanted(format!("\"ev\":\"{ev}\"").as_bytes()))
        {
            continue;
        }
        let Ok(l) = serde_json::from_slice::<Line>(line) else {
            continue;
        };
        let Some(seq) = l.seq else { continue };
        match (l.ev, l.msg) {
            ("role", _) => {
                if let Some(term) = l.term {
                    terms.insert(l.p.to_string(), term);
                }
            }
            ("deliver", Some(kind)) => {
                causes.insert(seq, kind.to_string());
                if let Some(sent) = l.cause {
                    delivered.insert(sent, seq);
                }
            }
            ("timer", _) => {
                causes.insert(seq, format!("timer {}", l.timer.unwrap_or("?")));
            }
            ("accept", _) => {
                if let Some(delivery) = l.cause {
                    let what = format!(
                        "accepted {:?} from index {}",
                        l.terms.unwrap_or_default(),
                        l.index.unwrap_or(0)
                    );
                    accepted.entry(delivery).or_insert((l.p.to_string(), what));
                }
            }
            ("vote", _) => {
                if let (Some(delivery), Some(true)) = (l.cause, l.granted) {
                    voted.insert(delivery, (l.p.to_string(), "voted for it".to_string()));
                }
            }
            ("send", Some(kind)) => {
                let term = terms.get(l.p).copied().unwrap_or(0);
                sends.push((l.t, l.p.to_string(), term, kind.to_string(), l.cause, seq));
            }
            _ => {}
        }
    }
    let mut counts: BTreeMap<(String, u64, String, String), u32> = BTreeMap::new();
    let mut out = Sends::default();
    for (t, p, term, kind, cause, seq) in sends {
        // What the message made its receiver store says which it was
        // better than what made it leave.
        let delivery = delivered.get(&seq);
        let acted = (delivery.and_then(|d| accepted.get(d).or_else(|| voted.get(d)))).cloned();
        let effect = acted.as_ref().map(|(_, what)| what.clone());
        let label = (acted.map(|(who, what)| format!("{who} {what}")))
            .or_else(|| cause.and_then(|c| causes.get(&c)).cloned())
            .unwrap_or_else(|| "start".into());
        let n = counts
            .entry((p.clone(), term, kind.clone(), label.clone()))
            .or_insert(0);
        *n += 1;
        let anchor = Anchor {
            process: p.clone(),
            term,
            kind,
            cause: label,
            ordinal: *n,
            effect,
        };
        out.0.entry(p).or_default().push((SimTime(t), anchor));
    }
    out
}

/// The process a re-aimable event cuts off: a one-way cut from one named
/// process.
pub fn cut_process(a: &Action) -> Option<&str> {
    match a {
        Action::OneWay {
            from: Target::Id(p),
            ..
        } if p != "*" => Some(p),
        _ => None,
    }
}

/// The first whole millisecond after `t`, if it comes before `next` (the
/// file reads better); else one microsecond after `t`.
pub fn just_after(t: SimTime, next: Option<SimTime>) -> SimTime {
    let ms = (t.0 / 1000 + 1) * 1000;
    if next.is_none_or(|n| ms < n.0) {
        SimTime(ms)
    } else {
        SimTime(t.0 + 1)
    }
}

/// How the re-aimed cuts end.
#[derive(Clone, Copy, Debug)]
pub enum Ends {
    /// When they did (the order in which cuts heal often decides who wins
    /// the next election), unless that is now before the begin: then
    /// with their length.
    Kept,
    /// Their length kept.
    Shifted,
    /// As `Kept`, but the cut that healed last lasts to the end of the
    /// run: what followed its healing (another candidate's timeout
    /// firing in time) depended on the moments that moved.
    LastToTheEnd,
}

impl Ends {
    /// Each way, in the order they are tried.
    pub const ALL: [Ends; 3] = [Ends::Kept, Ends::LastToTheEnd, Ends::Shifted];

    /// For the shrinker's report.
    pub fn describe(self) -> &'static str {
        match self {
            Ends::Kept => "ending when they did",
            Ends::Shifted => "as long as they were",
            Ends::LastToTheEnd => "the last to heal lasting to the end",
        }
    }
}

/// How much longer a re-aimed run may be: the violation can come later
/// once the moments it needed moved.
const ROOM: SimDuration = SimDuration(2_000_000);

/// `s` with each cut listed in `anchors` (event index → anchor) placed
/// again just after its anchor, earliest first, each in a run with only
/// the cuts before it placed; `None` when an anchor is never sent. The
/// run is given 2 s more (the shrinker cuts it again).
pub fn reaimed(
    s: &Scenario,
    anchors: &BTreeMap<usize, Anchor>,
    ends: Ends,
    seed: u64,
    planted: Planted,
    runs: &mut u64,
) -> Option<Scenario> {
    let mut order: Vec<usize> = anchors.keys().copied().collect();
    order.sort_by_key(|&i| (s.events[i].at, i));
    let mut placed = s.clone();
    placed.duration = SimDuration(s.duration.0 + ROOM.0);
    let last_to_heal = (anchors.keys())
        .max_by_key(|&&i| (s.events[i].until, std::cmp::Reverse(i)))
        .copied();
    for (k, &i) in order.iter().enumerate() {
        // The run without this cut and the ones after it.
        let later = &order[k..];
        let mut probe = placed.clone();
        probe.events = (placed.events.iter().enumerate())
            .filter(|(j, _)| !later.contains(j))
            .map(|(_, e)| e.clone())
            .collect();
        *runs += 1;
        let sends = sends_of(&probe, seed, planted)?;
        let (t, next) = sends.find(&anchors[&i])?;
        let e = &mut placed.events[i];
        let at = just_after(t, next);
        let len = e.until.map(|u| SimDuration(u.0.saturating_sub(e.at.0)));
        let to_the_end = matches!(ends, Ends::LastToTheEnd) && last_to_heal == Some(i);
        e.until = match e.until {
            Some(_) if to_the_end => Some(SimTime(placed.duration.0)),
            Some(u) if !matches!(ends, Ends::Shifted) && u > at => Some(u),
            _ => len.map(|d| SimTime(at.0 + d.0)),
        };
        e.at = at;
    }
    Some(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_numbered_per_kind_within_the_sender_s_term() {
        let trace = br#"{"t":0,"p":"m1","seq":1,"ev":"role","role":"follower","term":0}
{"t":5,"p":"m1","seq":2,"ev":"send","to":"m2","msg":"RequestVote","id":1}
{"t":9,"p":"m1","seq":3,"ev":"timer","timer":"Election"}
{"t":9,"p":"m1","seq":4,"cause":3,"ev":"role","role":"candidate","term":1}
{"t":9,"p":"m1","seq":5,"cause":3,"ev":"send","to":"m2","msg":"RequestVote","id":2}
{"t":9,"p":"m1","seq":6,"cause":3,"ev":"send","to":"m3","msg":"RequestVote","id":3}
{"t":12,"p":"m1","seq":7,"ev":"timer","timer":"Heartbeat"}
{"t":12,"p":"m1","seq":8,"cause":7,"ev":"send","to":"m2","msg":"AppendEntries","id":4}
{"t":13,"p":"m2","seq":9,"ev":"send","to":"m1","msg":"AppendEntriesResponse","id":5}
{"t":14,"p":"m1","seq":10,"cause":9,"ev":"deliver","from":"m2","msg":"AppendEntriesResponse","id":5}
{"t":14,"p":"m1","seq":11,"cause":10,"ev":"send","to":"m2","msg":"AppendEntries","id":6}
{"t":15,"p":"m2","seq":12,"cause":11,"ev":"deliver","from":"m1","msg":"AppendEntries","id":6}
{"t":15,"p":"m2","seq":13,"cause":12,"ev":"accept","index":1,"terms":[1],"digests":["9dd738cb1ea75ef1"]}
{"t":16,"p":"m1","seq":14,"ev":"timer","timer":"Heartbeat"}
{"t":16,"p":"m1","seq":15,"cause":14,"ev":"send","to":"m2","msg":"AppendEntries","id":7}
{"t":17,"p":"m1","seq":16,"ev":"send","to":"m2","msg":"Append
"#;
        let s = parse_sends(trace);
        let a = s.last_before("m1", SimTime(12)).expect("an anchor");
        assert_eq!(
            (a.term, a.kind.as_str(), a.cause.as_str(), a.ordinal),
            (1, "RequestVote", "timer Election", 2),
            "{a:?}"
        );
        assert_eq!(s.find(a), Some((SimTime(9), Some(SimTime(12)))));
        // The probe that made m2 store the old entry is told from the
        // heartbeats around it.
        let b = s.last_before("m1", SimTime(15)).expect("an anchor");
        assert_eq!(
            (b.kind.as_str(), b.cause.as_str(), b.ordinal),
            ("AppendEntries", "m2 accepted [1] from index 1", 1)
        );
        assert_eq!(s.find(b), Some((SimTime(14), Some(SimTime(16)))));
        // A cut after the heartbeat that followed is still aimed after the
        // probe: the heartbeat only went out between the two.
        let c = s.last_before("m1", SimTime(17)).expect("an anchor");
        assert_eq!(c, b);
        // A heartbeat is found by its ordinal; the torn last line is not a
        // send.
        let mut beat = b.clone();
        (beat.cause, beat.ordinal, beat.effect) = ("timer Heartbeat".into(), 2, None);
        assert_eq!(s.find(&beat), Some((SimTime(16), None)));
        // In a smaller group another receiver stores the entry: found by
        // what the message did.
        let mut other = b.clone();
        other.cause = "m5 accepted [1] from index 1".into();
        assert_eq!(s.find(&other), Some((SimTime(14), Some(SimTime(16)))));
        // A vote request granted on a retry is found as the one granted
        // at once when the retry is not needed.
        let votes = br#"{"t":9,"p":"m1","seq":3,"ev":"role","role":"candidate","term":1}
{"t":9,"p":"m1","seq":4,"cause":3,"ev":"send","to":"m3","msg":"RequestVote","id":2}
{"t":10,"p":"m3","seq":5,"cause":4,"ev":"deliver","from":"m1","msg":"RequestVote","id":2}
{"t":10,"p":"m3","seq":6,"cause":5,"ev":"vote","term":1,"candidate":"m1","granted":true}
"#;
        let v = parse_sends(votes);
        let mut retried = v.last_before("m1", SimTime(12)).expect("an anchor").clone();
        assert_eq!(retried.cause, "m3 voted for it");
        retried.ordinal = 2;
        assert_eq!(v.find(&retried), Some((SimTime(9), None)));
        assert!(s.last_before("m1", SimTime(5)).is_none());
        assert!(s.last_before("m3", SimTime(100)).is_none());
    }

    #[test]
    fn a_cut_lands_on_the_next_millisecond_when_nothing_is_sent_before_it() {
        assert_eq!(
            just_after(SimTime(433_398), Some(SimTime(523_000))),
            SimTime(434_000)
        );
        assert_eq!(
            just_after(SimTime(433_398), Some(SimTime(433_900))),
            SimTime(433_399)
        );
        assert_eq!(just_after(SimTime(2_000), None), SimTime(3_000));
    }
}
