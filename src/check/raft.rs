//! Raft checkers (DESIGN §4): `election_safety`, `log_matching` (safety) and
//! `leader_elected` (liveness), fed by the managers' `role`, `commit` and
//! `snapshot` events and the kernel's crash/restart/pause events.
//!
//! They judge what the trace shows, never the processes' memory, so the same
//! code checks a live run and a trace read back from disk.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{Checker, EndOfRun, Traffic};
use crate::sim::{Event, EventKind, ProcessId, SimDuration, SimTime, Violation};
use crate::stack::consensus::{RaftEvent, Role};
use crate::stack::events::StackEvent;

/// How long after the last fault healed a leader must be in place, when the
/// scenario sets no `[expect] converged_by`: ten seconds is twenty maximum
/// election timeouts at the defaults (300–600 ms), enough for even unlucky
/// split votes, and short enough that a missing leader is not mistaken for
/// a slow one.
pub const LEADER_GRACE: SimDuration = SimDuration::from_secs(10);

/// Terms remembered by `election_safety`, at most (the oldest are forgotten:
/// a run elects far fewer leaders than this).
const MAX_TERMS: usize = 100_000;
/// Snapshot digests remembered by `log_matching`, at most.
const MAX_SNAPSHOT_DIGESTS: usize = 4096;
/// Failover durations kept for the metrics, at most.
const MAX_FAILOVERS: usize = 10_000;

/// Every Raft checker.
pub fn raft_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(ElectionSafety::default()),
        Box::new(LogMatching::default()),
        Box::new(LeaderElected::default()),
    ]
}

// ---------------------------------------------------------------------------

/// `election_safety`: at most one leader per term, each elected by a
/// majority of the configuration in force, and membership changed one
/// server at a time.
///
/// - Two `role` events of role leader for the same term at different
///   processes are a violation.
/// - A leader must hold granted votes (`vote` events of the voters
///   themselves, in that term, for it) from a majority of the voters of
///   its own configuration in force (its latest `config` event). A vote
///   counts under the voter's own current name (`m2#<hex>` after a disk
///   loss), so a vote from a learner or from a new incarnation that the
///   configuration does not name is not a voter's vote.
/// - A leader may append a configuration entry only when the previous
///   configuration in its log is committed (its own `commit` events), and
///   the new configuration may differ from the previous one by one voter
///   at most (thesis §4.1: then every two majorities overlap).
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, ProcessId>,
    /// Each manager's configuration in force, from its own `config` events.
    configs: BTreeMap<ProcessId, Seen>,
    /// Granted votes: (term, candidate) → the voters' own names.
    votes: BTreeMap<(u64, String), BTreeSet<String>>,
    /// Highest index each manager committed.
    committed: BTreeMap<ProcessId, u64>,
    /// A leader appended a configuration entry at this index; its `config`
    /// event follows.
    appended: Option<(ProcessId, u64)>,
}

/// A manager's configuration as it traced it.
#[derive(Debug, Clone)]
struct Seen {
    index: u64,
    voters: BTreeSet<String>,
    me: String,
}

impl ElectionSafety {
    fn member_name(&self, p: ProcessId, names: &[String]) -> String {
        self.configs
            .get(&p)
            .map_or_else(|| p.name_in(names).to_string(), |s| s.me.clone())
    }
}

impl Checker for ElectionSafety {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "election_safety"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        let p = ev.p;
        let raft = match ev.kind {
            EventKind::DiskLoss => {
                self.committed.remove(&p);
                self.configs.remove(&p);
                return;
            }
            EventKind::App(StackEvent::Raft(r)) => r,
            _ => return,
        };
        match raft {
            RaftEvent::Config {
                index, voters, me, ..
            } => {
                let voters: BTreeSet<String> = voters.iter().cloned().collect();
                if self.appended.take() == Some((p, *index))
                    && let Some(prev) = self.configs.get(&p)
                {
                    let changed = prev.voters.symmetric_difference(&voters).count();
                    if changed > 1 {
                        out.push(Violation {
                            check: "election_safety",
                            detail: format!(
                                "{} appended a configuration at index {index} that changes {changed} voters at once ({:?} -> {:?}): two majorities may not overlap",
                                p.name_in(names),
                                prev.voters,
                                voters
                            ),
                        });
                    }
                }
                let me = me.clone();
                self.configs.insert(
                    p,
                    Seen {
                        index: *index,
                        voters,
                        me,
                    },
                );
            }
            RaftEvent::Vote {
                term,
                candidate,
                granted: true,
                pre: false,
            } => {
                let voter = self.member_name(p, names);
                if self.votes.len() >= MAX_TERMS {
                    self.votes.pop_first();
                }
                self.votes
                    .entry((*term, candidate.clone()))
                    .or_default()
                    .insert(voter);
            }
            RaftEvent::Commit { index, .. } => {
                let c = self.committed.entry(p).or_default();
                *c = (*c).max(*index);
            }
            RaftEvent::Append { index, entry, .. } if entry.starts_with("config:") => {
                let committed = self.committed.get(&p).copied().unwrap_or(0);
                if let Some(prev) = self.configs.get(&p)
                    && prev.index > committed
                {
                    out.push(Violation {
                        check: "election_safety",
                        detail: format!(
                            "{} appended a membership change at index {index} while the one at index {} was not committed (it had committed up to {committed}): one change at a time",
                            p.name_in(names),
                            prev.index
                        ),
                    });
                }
                self.appended = Some((p, *index));
            }
            RaftEvent::Role {
                role: Role::Leader,
                term,
                ..
            } => {
                match self.leaders.get(term) {
                    Some(&first) if first != p => out.push(Violation {
                        check: "election_safety",
                        detail: format!(
                            "{} and {} both became leader of term {term}",
                            first.name_in(names),
                            p.name_in(names)
                        ),
                    }),
                    Some(_) => return,
                    None => {
                        if self.leaders.len() >= MAX_TERMS {
                            self.leaders.pop_first();
                        }
                        self.leaders.insert(*term, p);
                    }
                }
                let Some(seen) = self.configs.get(&p) else {
                    return;
                };
                let empty = BTreeSet::new();
                let granted = self
                    .votes
                    .get(&(*term, p.name_in(names).to_string()))
                    .unwrap_or(&empty);
                let mut counted: BTreeSet<&String> = granted.intersection(&seen.voters).collect();
                if seen.voters.contains(&seen.me) {
                    counted.insert(&seen.me);
                }
                let need = seen.voters.len() / 2 + 1;
                if counted.len() < need {
                    out.push(Violation {
                        check: "election_safety",
                        detail: format!(
                            "{} became leader of term {term} with the votes of {:?} (granted by {:?}): {} of the {} voters {:?} of its configuration, a majority is {need}",
                            p.name_in(names),
                            counted,
                            granted,
                            counted.len(),
                            seen.voters.len(),
                            seen.voters
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------

/// What the first commit of an index fixed.
#[derive(Debug, Clone)]
struct Fixed {
    term: u64,
    /// The lowest term any manager was in when it committed the entry (at
    /// least the entry's own term): the entry was committed by the leader
    /// of that term or an earlier one, so every leader of a later term
    /// holds it (leader completeness). A leader of an older term, deposed
    /// without knowing it, may still write another entry there: it can
    /// never commit it.
    commit_term: u64,
    digest: String,
    entry: String,
    by: ProcessId,
}

/// One manager's commit stream.
#[derive(Debug, Clone, Default)]
struct Stream {
    /// The index its next commit must have.
    next: u64,
    /// Its latest snapshot (what a restart replays from).
    snapshot: u64,
}

/// `log_matching` (with state machine safety): the first `commit` of an
/// index fixes its term and digest; a commit of that index with another
/// term or digest, by any manager at any time (restarts included), is a
/// violation. Each manager's commits must also go 1, 2, 3, … — restarting
/// after its latest snapshot, jumping only over what an installed snapshot
/// covers — so a skipped (lost) entry or an entry applied twice is one too.
///
/// And as entries are appended: a leader of a newer term that appends an
/// entry at an index already committed in an older term is overwriting a
/// committed entry (leader completeness broken) — caught at the append, when it happens,
/// not later when some manager applies the replacement.
///
/// And as followers write (`accept` and `truncate` events): a follower
/// that accepts, at a committed index, an entry of another term or digest
/// is overwriting a committed entry; one that truncates at or below what
/// it has itself committed is dropping one. Both are flagged when they
/// happen.
///
/// Snapshots: two snapshots of one index (taken locally, or installed from
/// a leader) must have the same digest — the state and membership a
/// follower installs must be those others reached by applying the same
/// committed prefix.
///
/// Memory: indices at or below every manager's latest snapshot are
/// forgotten, since no manager can commit them again.
#[derive(Debug, Default)]
pub struct LogMatching {
    fixed: BTreeMap<u64, Fixed>,
    streams: BTreeMap<ProcessId, Stream>,
    /// Indices up to here were forgotten.
    pruned: u64,
    /// The first snapshot digest seen at each index, and who took it.
    snapshots: BTreeMap<u64, (String, ProcessId)>,
    /// Each manager's current term, from its `role` events (traced at
    /// every change of term).
    terms: BTreeMap<ProcessId, u64>,
}

impl LogMatching {
    fn stream(&mut self, p: ProcessId) -> &mut Stream {
        self.streams.entry(p).or_insert(Stream {
            next: 1,
            snapshot: 0,
        })
    }

    fn prune(&mut self) {
        let floor = self.streams.values().map(|s| s.snapshot).min().unwrap_or(0);
        if floor > self.pruned {
            self.fixed = self.fixed.split_off(&(floor + 1));
            self.pruned = floor;
        }
        // Snapshot digests are kept a while longer: an installed snapshot
        // arrives after the leader took it. Bounded all the same.
        while self.snapshots.len() > MAX_SNAPSHOT_DIGESTS {
            self.snapshots.pop_first();
        }
    }
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Checker for LogMatching {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "log_matching"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        let p = ev.p;
        match ev.kind {
            EventKind::Restart => {
                let s = self.stream(p);
                s.next = s.snapshot + 1;
            }
            EventKind::DiskLoss => {
                self.stream(p).snapshot = 0;
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Role { term, .. })) => {
                // Registers the manager, so that nothing is forgotten before
                // it too has a snapshot.
                self.stream(p);
                self.terms.insert(p, *term);
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Append {
                index, term, entry, ..
            })) => {
                // A deposed leader of an older term may still append at an
                // index a newer term committed (it never commits it); a
                // leader of a newer term than the one that committed the
                // entry must already hold it. (A leader appends in its own
                // term: the entry's.)
                if let Some(f) = self.fixed.get(index)
                    && *term > f.commit_term
                {
                    out.push(Violation {
                        check: "log_matching",
                        detail: format!(
                            "index {index}: {} appended term {term} {:?} over the term {} entry {:?} that {} committed in term {}",
                            p.name_in(names),
                            excerpt(entry),
                            f.term,
                            f.entry,
                            f.by.name_in(names),
                            f.commit_term
                        ),
                    });
                }
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Snapshot {
                index,
                digest,
                installed,
                ..
            })) => {
                let s = self.stream(p);
                s.snapshot = *index;
                s.next = s.next.max(index + 1);
                if !digest.is_empty() {
                    match self.snapshots.get(index) {
                        Some((d, by)) if d != digest => out.push(Violation {
                            check: "log_matching",
                            detail: format!(
                                "{} {} a snapshot of index {index} with digest {digest}, but {}'s snapshot of index {index} has digest {d}: they did not reach the same state from the same committed prefix",
                                p.name_in(names),
                                if *installed { "installed" } else { "took" },
                                by.name_in(names)
                            ),
                        }),
                        Some(_) => {}
                        None => {
                            self.snapshots.insert(*index, (digest.clone(), p));
                        }
                    }
                }
                self.prune();
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Accept {
                index,
                terms,
                digests,
            })) => {
                // A follower still in an older term may accept, from the
                // deposed leader of that term, another entry at an index a
                // newer term committed: legal (it is uncommitted and is
                // truncated once the follower hears the new leader). From
                // a leader of a term after the committing one (the
                // follower's current term: it took the leader's), it must
                // be the committed entry itself (leader completeness); and
                // an entry of the committed entry's own term must be that
                // entry (log matching).
                let now = self.terms.get(&p).copied().unwrap_or(0);
                for (k, (term, digest)) in terms.iter().zip(digests).enumerate() {
                    let i = index + k as u64;
                    if let Some(f) = self.fixed.get(&i)
                        && (*term != f.term || f.digest != *digest)
                        && (now.max(*term) > f.commit_term || *term == f.term)
                    {
                        out.push(Violation {
                            check: "log_matching",
                            detail: format!(
                                "index {i}: {} accepted in term {now} a term {term} entry (digest {digest}) over the term {} entry {:?} (digest {}) that {} committed in term {}",
                                p.name_in(names),
                                f.term,
                                f.entry,
                                f.digest,
                                f.by.name_in(names),
                                f.commit_term
                            ),
                        });
                        break;
                    }
                }
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Truncate { index, last })) => {
                let committed = self.stream(p).next - 1;
                if *index <= committed {
                    out.push(Violation {
                        check: "log_matching",
                        detail: format!(
                            "{} truncated its log from index {index} (to {last}) though it had committed up to {committed}: a committed entry was dropped",
                            p.name_in(names)
                        ),
                    });
                }
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Commit {
                index,
                term,
                entry,
                digest,
            })) => {
                let index = *index;
                let s = self.stream(p);
                let expected = s.next;
                s.next = s.next.max(index + 1);
                if index > expected {
                    let missing = if index == expected + 1 {
                        format!("{expected}")
                    } else {
                        format!("{expected}..{}", index - 1)
                    };
                    out.push(Violation {
                        check: "log_matching",
                        detail: format!(
                            "{} committed index {index} without {missing}: no snapshot covers it, the entry is lost",
                            p.name_in(names)
                        ),
                    });
                } else if index < expected {
                    out.push(Violation {
                        check: "log_matching",
                        detail: format!(
                            "{} committed index {index} again (it had committed up to {} and did not restart)",
                            p.name_in(names),
                            expected - 1
                        ),
                    });
                }
                if index <= self.pruned {
                    return;
                }
                let commit_term = (*term).max(self.terms.get(&p).copied().unwrap_or(0));
                match self.fixed.get_mut(&index) {
                    None => {
                        let fixed = Fixed {
                            term: *term,
                            commit_term,
                            digest: digest.clone(),
                            entry: excerpt(entry),
                            by: p,
                        };
                        self.fixed.insert(index, fixed);
                    }
                    Some(f) if f.term != *term || f.digest != *digest => out.push(Violation {
                        check: "log_matching",
                        detail: format!(
                            "index {index}: {} committed term {term} {:?} (digest {digest}) but {} committed term {} {:?} (digest {}) first",
                            p.name_in(names),
                            excerpt(entry),
                            f.by.name_in(names),
                            f.term,
                            f.entry,
                            f.digest
                        ),
                    }),
                    Some(f) => f.commit_term = f.commit_term.min(commit_term),
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------

/// `leader_elected` (liveness): the run ends with exactly one acting leader,
/// elected no later than the deadline and unchanged since (no step-down, no
/// crash, no pause of it).
///
/// The deadline is `[expect] leader_elected_by` (else `converged_by`) if set, else the last fault's
/// healing plus [`LEADER_GRACE`] (10 s). A run that ends before that implicit
/// deadline is not judged: it gave the cluster no fair chance. Crashed and
/// paused managers do not count as leaders; a second live manager still
/// acting as leader of an older term at the end is a violation (it would
/// take proposals that cannot commit — CheckQuorum or a higher term must
/// have deposed it by then).
///
/// Metrics: `leader_elections`, `leader_changes` (elections after the
/// first), and for every crash of the current leader the time until the
/// next leader was elected *and* committed its first entry (its no-op):
/// `leader_failover_ms` (each), `leader_failover_ms_median`, `leader_failover_ms_max`.
#[derive(Debug, Default)]
pub struct LeaderElected {
    /// The latest role and term of each manager that is up.
    roles: BTreeMap<ProcessId, (Role, u64)>,
    paused: BTreeSet<ProcessId>,
    /// The latest elected leader still in office: (who, term, since).
    current: Option<(ProcessId, u64, SimTime)>,
    elections: u64,
    /// A leader crashed at this time and no successor has committed yet.
    failover_from: Option<SimTime>,
    failovers_us: Vec<u64>,
    /// Process names, kept for `finish` (which is not given them).
    names: Vec<String>,
    /// Each manager's latest configuration: (voters, its own member name).
    configs: BTreeMap<ProcessId, (Vec<String>, String)>,
    /// Managers crashed and not restarted.
    down: BTreeSet<ProcessId>,
    /// New incarnations (started on an empty disk) not yet voters, and
    /// when they started.
    joining: BTreeMap<String, SimTime>,
    /// How long each new incarnation took to become a voter.
    replaced_us: Vec<u64>,
}

impl LeaderElected {
    fn name(&self, p: ProcessId) -> &str {
        p.name_in(&self.names)
    }

    fn judge(&self, end: &EndOfRun) -> Option<String> {
        let deadline = match end.leader_deadline {
            Some(d) => d,
            None => {
                let d = end.healed_at + LEADER_GRACE;
                if d > end.now {
                    return None;
                }
                d
            }
        };
        let acting: Vec<(ProcessId, u64)> = self
            .roles
            .iter()
            .filter(|(p, (r, _))| *r == Role::Leader && !self.paused.contains(p))
            .map(|(p, (_, t))| (*p, *t))
            .collect();
        let Some((leader, term, since)) = self.current.filter(|(p, ..)| !self.paused.contains(p))
        else {
            return Some(format!(
                "no leader at the end of the run (deadline {})",
                secs(deadline)
            ));
        };
        if since > deadline {
            return Some(format!(
                "{} became leader of term {term} at {}, after the deadline {}",
                self.name(leader),
                secs(since),
                secs(deadline)
            ));
        }
        if let Some((other, t)) = acting.iter().find(|(p, _)| *p != leader) {
            return Some(format!(
                "{} (term {t}) still acts as leader beside {} (term {term}) at the end of the run",
                self.name(*other),
                self.name(leader)
            ));
        }
        if let (Some(n), Some((voters, _))) = (end.voters, self.configs.get(&leader)) {
            if voters.len() != n as usize {
                return Some(format!(
                    "the group ended with {} voters {voters:?} in {}'s configuration, expected {n}",
                    voters.len(),
                    self.name(leader)
                ));
            }
            let running: BTreeSet<&String> = self
                .configs
                .iter()
                .filter(|(p, _)| !self.down.contains(p))
                .map(|(_, (_, me))| me)
                .collect();
            if let Some(v) = voters.iter().find(|v| !running.contains(v)) {
                return Some(format!(
                    "voter {v} of {}'s final configuration {voters:?} is not a running manager's current incarnation",
                    self.name(leader)
                ));
            }
        }
        None
    }
}

fn secs(t: SimTime) -> String {
    format!("{:.3}s", t.0 as f64 / 1e6)
}

impl Checker for LeaderElected {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "leader_elected"
    }

    fn is_liveness(&self) -> bool {
        true
    }

    fn on_event(
        &mut self,
        ev: &Event<'_, StackEvent>,
        names: &[String],
        _out: &mut Vec<Violation>,
    ) {
        if self.names.len() != names.len() {
            self.names = names.to_vec();
        }
        let p = ev.p;
        match ev.kind {
            EventKind::Restart => {
                self.down.remove(&p);
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Config { voters, me, .. })) => {
                if me.contains('#') && !voters.contains(me) && !self.joining.contains_key(me) {
                    let was_voter = self.configs.get(&p).is_some_and(|(_, old)| old == me);
                    if !was_voter {
                        self.joining.insert(me.clone(), ev.t);
                    }
                }
                for v in voters {
                    if let Some(since) = self.joining.remove(v)
                        && self.replaced_us.len() < MAX_FAILOVERS
                    {
                        self.replaced_us.push(ev.t.0.saturating_sub(since.0));
                    }
                }
                self.configs.insert(p, (voters.clone(), me.clone()));
            }
            EventKind::Crash { .. } => {
                self.down.insert(p);
                self.roles.remove(&p);
                self.paused.remove(&p);
                if self.current.is_some_and(|(q, ..)| q == p) {
                    self.current = None;
                    self.failover_from.get_or_insert(ev.t);
                }
            }
            EventKind::Pause => {
                self.paused.insert(p);
            }
            EventKind::Resume => {
                self.paused.remove(&p);
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Role { role, term, .. })) => {
                self.roles.insert(p, (*role, *term));
                if *role == Role::Leader {
                    self.elections += 1;
                    if self.current.is_none_or(|(_, t, _)| *term >= t) {
                        self.current = Some((p, *term, ev.t));
                    }
                } else if self.current.is_some_and(|(q, ..)| q == p) {
                    self.current = None;
                }
            }
            EventKind::App(StackEvent::Raft(RaftEvent::Commit { term, .. })) => {
                if let (Some(from), Some((q, t, _))) = (self.failover_from, self.current)
                    && q == p
                    && *term == t
                {
                    if self.failovers_us.len() < MAX_FAILOVERS {
                        self.failovers_us.push(ev.t.0.saturating_sub(from.0));
                    }
                    self.failover_from = None;
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        if let Some(detail) = self.judge(end) {
            out.push(Violation {
                check: "leader_elected",
                detail,
            });
        }
    }

    /// At the deadline a leader must be in office; that it stays, alone,
    /// with the expected voters, is the end's to judge.
    fn judge_deadline(&mut self, end: &EndOfRun, out: &mut Vec<Violation>) {
        if self
            .current
            .filter(|(p, ..)| !self.paused.contains(p))
            .is_none()
        {
            out.push(Violation {
                check: "leader_elected",
                detail: format!("no leader at the deadline {}", secs(end.now)),
            });
        }
    }

    fn metrics(&self) -> Vec<(String, serde_json::Value)> {
        let ms: Vec<f64> = self
            .failovers_us
            .iter()
            .map(|&us| us as f64 / 1000.0)
            .collect();
        let mut sorted = ms.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match sorted.len() {
            0 => None,
            n if n % 2 == 1 => Some(sorted[n / 2]),
            n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        };
        vec![
            ("leader_elections".into(), json!(self.elections)),
            (
                "leader_changes".into(),
                json!(self.elections.saturating_sub(1)),
            ),
            ("leader_failover_ms".into(), json!(ms)),
            ("leader_failover_ms_median".into(), json!(median)),
            ("leader_failover_ms_max".into(), json!(sorted.last())),
            (
                "manager_replace_ms".into(),
                json!(
                    self.replaced_us
                        .iter()
                        .map(|&us| us as f64 / 1000.0)
                        .collect::<Vec<_>>()
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["m1", "m2", "m3", "m4", "m5"].map(String::from).to_vec()
    }

    /// Feeds `(time_ms, process, kind)` to a checker; returns the violations.
    fn feed(c: &mut dyn Checker, evs: &[(u64, u32, EventKind<'_, StackEvent>)]) -> Vec<Violation> {
        let names = names();
        let mut out = Vec::new();
        for (seq, (t, p, kind)) in evs.iter().enumerate() {
            let ev = Event {
                t: SimTime(t * 1000),
                p: ProcessId(*p),
                seq: seq as u64,
                cause: None,
                kind: kind.clone(),
            };
            c.on_event(&ev, &names, &mut out);
        }
        out
    }

    fn role(role: Role, term: u64) -> StackEvent {
        StackEvent::Raft(RaftEvent::Role {
            role,
            term,
            leader: None,
        })
    }
    fn commit(index: u64, term: u64, entry: &str) -> StackEvent {
        let digest = format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(format!("{term}/{entry}").as_bytes())
        );
        StackEvent::Raft(RaftEvent::Commit {
            index,
            term,
            entry: entry.into(),
            digest,
        })
    }
    fn snapshot(index: u64, installed: bool) -> StackEvent {
        StackEvent::Raft(RaftEvent::Snapshot {
            index,
            term: 1,
            bytes: 10,
            installed,
            digest: String::new(),
        })
    }

    #[test]
    fn election_safety_flags_two_leaders_of_one_term_only() {
        let (l2, l3, f3) = (
            role(Role::Leader, 2),
            role(Role::Leader, 3),
            role(Role::Follower, 3),
        );
        let ok = [
            (1, 0, EventKind::App(&l2)),
            (2, 0, EventKind::App(&f3)),
            (3, 1, EventKind::App(&l3)),
            (4, 1, EventKind::App(&l3)), // the same leader again: fine
        ];
        assert!(feed(&mut ElectionSafety::default(), &ok).is_empty());
        let bad = [(1, 0, EventKind::App(&l2)), (2, 2, EventKind::App(&l2))];
        let v = feed(&mut ElectionSafety::default(), &bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].check, "election_safety");
        assert_eq!(v[0].detail, "m1 and m3 both became leader of term 2");
    }

    #[test]
    fn log_matching_accepts_identical_commits_and_replays_after_restart() {
        let (c1, c2, c3) = (commit(1, 1, "noop"), commit(2, 1, "a"), commit(3, 1, "b"));
        let s2 = snapshot(2, false);
        let evs = [
            (1, 0, EventKind::App(&c1)),
            (1, 1, EventKind::App(&c1)),
            (2, 0, EventKind::App(&c2)),
            (2, 0, EventKind::App(&s2)),
            (3, 0, EventKind::Crash { lost_writes: 0 }),
            (4, 0, EventKind::Restart),
            (5, 0, EventKind::App(&c3)), // replay starts after its snapshot
            (5, 1, EventKind::App(&c2)),
            (6, 1, EventKind::Crash { lost_writes: 0 }),
            (7, 1, EventKind::Restart),
            (8, 1, EventKind::App(&c1)), // no snapshot: replays from 1, same entries
            (8, 1, EventKind::App(&c2)),
            (8, 1, EventKind::App(&c3)),
        ];
        assert!(feed(&mut LogMatching::default(), &evs).is_empty());
    }

    #[test]
    fn log_matching_flags_a_different_entry_at_a_committed_index() {
        let (a, b, c) = (commit(1, 1, "a"), commit(1, 2, "b"), commit(1, 1, "c"));
        let v = feed(
            &mut LogMatching::default(),
            &[(1, 0, EventKind::App(&a)), (2, 1, EventKind::App(&b))],
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail
                .starts_with("index 1: m2 committed term 2 \"b\""),
            "{}",
            v[0].detail
        );
        assert!(
            v[0].detail.contains("but m1 committed term 1 \"a\""),
            "{}",
            v[0].detail
        );
        // Same term, different entry (digest): also a violation.
        let v = feed(
            &mut LogMatching::default(),
            &[(1, 0, EventKind::App(&a)), (2, 1, EventKind::App(&c))],
        );
        assert_eq!(v.len(), 1);
        // After a restart, on the same manager.
        let evs = [
            (1, 0, EventKind::App(&a)),
            (2, 0, EventKind::Crash { lost_writes: 1 }),
            (3, 0, EventKind::Restart),
            (4, 0, EventKind::App(&b)),
        ];
        assert_eq!(feed(&mut LogMatching::default(), &evs).len(), 1);
    }

    #[test]
    fn log_matching_flags_skipped_and_repeated_indices_but_not_snapshot_jumps() {
        let (c1, c2, c3, c5) = (
            commit(1, 1, "a"),
            commit(2, 1, "b"),
            commit(3, 1, "c"),
            commit(5, 1, "e"),
        );
        let skip = [(1, 0, EventKind::App(&c1)), (2, 0, EventKind::App(&c3))];
        let v = feed(&mut LogMatching::default(), &skip);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].detail,
            "m1 committed index 3 without 2: no snapshot covers it, the entry is lost"
        );
        let again = [
            (1, 0, EventKind::App(&c1)),
            (2, 0, EventKind::App(&c2)),
            (3, 0, EventKind::App(&c2)),
        ];
        let v = feed(&mut LogMatching::default(), &again);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail.contains("committed index 2 again"),
            "{}",
            v[0].detail
        );
        let installed = snapshot(4, true);
        let jump = [
            (1, 0, EventKind::App(&c1)),
            (2, 0, EventKind::App(&installed)),
            (3, 0, EventKind::App(&c5)),
        ];
        assert!(feed(&mut LogMatching::default(), &jump).is_empty());
        // A wiped disk replays from 1 after the restart.
        let s2 = snapshot(2, false);
        let wiped = [
            (1, 0, EventKind::App(&c1)),
            (1, 0, EventKind::App(&c2)),
            (1, 0, EventKind::App(&s2)),
            (2, 0, EventKind::Crash { lost_writes: 0 }),
            (3, 0, EventKind::DiskLoss),
            (4, 0, EventKind::Restart),
            (5, 0, EventKind::App(&c1)),
        ];
        assert!(feed(&mut LogMatching::default(), &wiped).is_empty());
    }

    /// Hunt seed 0 run 441: m3, leader of term 1, is cut off with m5; m4
    /// commits index 24 in term 2, and m5 (still in term 1) then accepts
    /// m3's own entry at 24 (here at index 1). Legal — uncommitted, truncated later — while
    /// an entry of the committing term or a newer one must be the same.
    #[test]
    fn log_matching_lets_a_stale_follower_accept_an_older_term_at_a_committed_index() {
        let commit = StackEvent::Raft(RaftEvent::Commit {
            index: 1,
            term: 2,
            entry: "SetReplicas p0".into(),
            digest: "aa".into(),
        });
        let accept = |term: u64, digest: &str| {
            StackEvent::Raft(RaftEvent::Accept {
                index: 1,
                terms: vec![term],
                digests: vec![digest.into()],
            })
        };
        let (stale, same, other, newer) = (
            accept(1, "bb"),
            accept(2, "aa"),
            accept(2, "cc"),
            accept(3, "aa"),
        );
        for ok in [&stale, &same] {
            let evs = [(1, 0, EventKind::App(&commit)), (2, 2, EventKind::App(ok))];
            assert!(feed(&mut LogMatching::default(), &evs).is_empty());
        }
        for bad in [&other, &newer] {
            let evs = [(1, 0, EventKind::App(&commit)), (2, 2, EventKind::App(bad))];
            let v = feed(&mut LogMatching::default(), &evs);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(v[0].detail.contains("accepted in term"), "{}", v[0].detail);
        }
    }

    #[test]
    fn log_matching_flags_an_append_over_a_committed_entry_when_it_happens() {
        let commit = StackEvent::Raft(RaftEvent::Commit {
            index: 1,
            term: 1,
            entry: "AddNode n1".into(),
            digest: "aa".into(),
        });
        let same = StackEvent::Raft(RaftEvent::Append {
            index: 2,
            term: 2,
            entry: "MarkDead n1".into(),
        });
        let over = StackEvent::Raft(RaftEvent::Append {
            index: 1,
            term: 3,
            entry: "MarkDead n2".into(),
        });
        let ok = [
            (1, 0, EventKind::App(&commit)),
            (2, 1, EventKind::App(&same)),
        ];
        assert!(feed(&mut LogMatching::default(), &ok).is_empty());
        let bad = [
            (1, 0, EventKind::App(&commit)),
            (2, 1, EventKind::App(&over)),
        ];
        let v = feed(&mut LogMatching::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("appended term 3"), "{}", v[0].detail);
    }

    /// No-bug hunt run 3059: m1 won term 3 with a vote cast before it
    /// paused; meanwhile m2, leader of term 4, committed its term-2 entry
    /// at index 7. Back, m1 took office in term 3 and appended its no-op at
    /// 7: legal (a leader of term 3 need not hold what term 4 committed,
    /// and can never commit its own entry there), as is a follower of term
    /// 3 accepting it. A leader of term 5 must hold the entry (Figure 8).
    #[test]
    fn log_matching_judges_by_the_term_that_committed_not_the_entrys_term() {
        let (term4, term3, term5) = (
            role(Role::Leader, 4),
            role(Role::Follower, 3),
            role(Role::Follower, 5),
        );
        let commit = StackEvent::Raft(RaftEvent::Commit {
            index: 1,
            term: 2,
            entry: "AddNode n3".into(),
            digest: "aa".into(),
        });
        let noop = |term| {
            StackEvent::Raft(RaftEvent::Append {
                index: 1,
                term,
                entry: "noop".into(),
            })
        };
        let accept = StackEvent::Raft(RaftEvent::Accept {
            index: 1,
            terms: vec![3],
            digests: vec!["bb".into()],
        });
        let (stale, newer) = (noop(3), noop(5));
        // (Index 1 here: commits must start at 1.)
        let ok = [
            (1, 1, EventKind::App(&term4)),
            (2, 1, EventKind::App(&commit)),
            (3, 0, EventKind::App(&stale)),
            (4, 2, EventKind::App(&term3)),
            (5, 2, EventKind::App(&accept)),
        ];
        assert!(feed(&mut LogMatching::default(), &ok).is_empty());
        let bad = [
            (1, 1, EventKind::App(&term4)),
            (2, 1, EventKind::App(&commit)),
            (3, 0, EventKind::App(&newer)),
        ];
        let v = feed(&mut LogMatching::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("committed in term 4"),
            "{}",
            v[0].detail
        );
        // Figure 8: a follower of term 5 takes the leader's term-3 entry.
        let bad = [
            (1, 1, EventKind::App(&term4)),
            (2, 1, EventKind::App(&commit)),
            (4, 2, EventKind::App(&term5)),
            (5, 2, EventKind::App(&accept)),
        ];
        let v = feed(&mut LogMatching::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("accepted in term 5"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn log_matching_forgets_what_every_manager_snapshotted() {
        let mut c = LogMatching::default();
        let (r, c1, c2, s2) = (
            role(Role::Follower, 0),
            commit(1, 1, "a"),
            commit(2, 1, "b"),
            snapshot(2, false),
        );
        let evs = [
            (0, 0, EventKind::App(&r)),
            (0, 1, EventKind::App(&r)),
            (1, 0, EventKind::App(&c1)),
            (1, 0, EventKind::App(&c2)),
            (1, 0, EventKind::App(&s2)),
        ];
        assert!(feed(&mut c, &evs).is_empty());
        assert_eq!(
            c.fixed.len(),
            2,
            "m2 has not snapshotted: nothing forgotten"
        );
        let evs = [
            (2, 1, EventKind::App(&c1)),
            (2, 1, EventKind::App(&c2)),
            (2, 1, EventKind::App(&s2)),
        ];
        assert!(feed(&mut c, &evs).is_empty());
        assert!(c.fixed.is_empty());
        assert_eq!(c.pruned, 2);
    }

    // ----- membership rules -----

    fn config(index: u64, voters: &[&str], learners: &[&str], me: &str) -> StackEvent {
        StackEvent::Raft(RaftEvent::Config {
            index,
            voters: voters.iter().map(|v| v.to_string()).collect(),
            learners: learners.iter().map(|v| v.to_string()).collect(),
            me: me.into(),
        })
    }
    fn vote(term: u64, candidate: &str) -> StackEvent {
        StackEvent::Raft(RaftEvent::Vote {
            term,
            candidate: candidate.into(),
            granted: true,
            pre: false,
        })
    }
    fn append(index: u64, term: u64, entry: &str) -> StackEvent {
        StackEvent::Raft(RaftEvent::Append {
            index,
            term,
            entry: entry.into(),
        })
    }
    fn accept(index: u64, entries: &[(u64, &str)]) -> StackEvent {
        StackEvent::Raft(RaftEvent::Accept {
            index,
            terms: entries.iter().map(|e| e.0).collect(),
            digests: entries.iter().map(|e| e.1.to_string()).collect(),
        })
    }
    fn truncate(index: u64, last: u64) -> StackEvent {
        StackEvent::Raft(RaftEvent::Truncate { index, last })
    }
    fn digest_commit(index: u64, term: u64, digest: &str) -> StackEvent {
        StackEvent::Raft(RaftEvent::Commit {
            index,
            term,
            entry: format!("e{index}"),
            digest: digest.into(),
        })
    }
    fn snapshot_digest(index: u64, digest: &str, installed: bool) -> StackEvent {
        StackEvent::Raft(RaftEvent::Snapshot {
            index,
            term: 1,
            bytes: 10,
            installed,
            digest: digest.into(),
        })
    }

    #[test]
    fn election_safety_counts_votes_against_the_leaders_own_configuration() {
        let three = ["m1", "m2", "m3"];
        let (c1, c2, c3) = (
            config(0, &three, &[], "m1"),
            config(0, &three, &[], "m2"),
            config(0, &three, &[], "m3"),
        );
        let (v, lead) = (vote(2, "m1"), role(Role::Leader, 2));
        // Its own vote and m2's: a majority of three.
        let ok = [
            (1, 0, EventKind::App(&c1)),
            (1, 1, EventKind::App(&c2)),
            (1, 2, EventKind::App(&c3)),
            (2, 1, EventKind::App(&v)),
            (3, 0, EventKind::App(&lead)),
        ];
        assert!(feed(&mut ElectionSafety::default(), &ok).is_empty());
        // Its own vote alone: one of three.
        let alone = [(1, 0, EventKind::App(&c1)), (3, 0, EventKind::App(&lead))];
        let v1 = feed(&mut ElectionSafety::default(), &alone);
        assert_eq!(v1.len(), 1, "{v1:?}");
        assert!(
            v1[0].detail.contains("1 of the 3 voters"),
            "{}",
            v1[0].detail
        );

        // After m3 was removed, two voters: m1 and m2 make the majority,
        // and m3's vote (it is no voter of m1's configuration) adds nothing.
        let (c1r, c3old) = (
            config(7, &["m1", "m2"], &[], "m1"),
            config(0, &three, &[], "m3"),
        );
        let v3 = vote(2, "m1");
        let shrunk_ok = [
            (1, 0, EventKind::App(&c1r)),
            (1, 1, EventKind::App(&c2)),
            (2, 1, EventKind::App(&v3)),
            (3, 0, EventKind::App(&lead)),
        ];
        assert!(feed(&mut ElectionSafety::default(), &shrunk_ok).is_empty());
        let shrunk_bad = [
            (1, 0, EventKind::App(&c1r)),
            (1, 2, EventKind::App(&c3old)),
            (2, 2, EventKind::App(&v3)),
            (3, 0, EventKind::App(&lead)),
        ];
        assert_eq!(feed(&mut ElectionSafety::default(), &shrunk_bad).len(), 1);

        // A leader whose configuration grew to five voters needs three,
        // though two would be a majority of the three it started with.
        let five = ["m1", "m2", "m3", "m4", "m5"];
        let c1five = config(9, &five, &[], "m1");
        let grown = [
            (1, 0, EventKind::App(&c1five)),
            (1, 1, EventKind::App(&c2)),
            (2, 1, EventKind::App(&v3)),
            (3, 0, EventKind::App(&lead)),
        ];
        let v5 = feed(&mut ElectionSafety::default(), &grown);
        assert_eq!(v5.len(), 1, "{v5:?}");
        assert!(v5[0].detail.contains("a majority is 3"), "{}", v5[0].detail);
    }

    #[test]
    fn election_safety_does_not_count_a_new_incarnation_or_a_learner() {
        let three = ["m1", "m2", "m3"];
        let c1 = config(0, &three, &[], "m1");
        // m2 lost its disk: its new incarnation is not the voter m2.
        let c2new = config(0, &three, &[], "m2#000000ab");
        let (v, lead) = (vote(4, "m1"), role(Role::Leader, 4));
        let reborn = [
            (1, 0, EventKind::App(&c1)),
            (1, 1, EventKind::App(&c2new)),
            (2, 1, EventKind::App(&v)),
            (3, 0, EventKind::App(&lead)),
        ];
        let out = feed(&mut ElectionSafety::default(), &reborn);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].detail.contains("m2#000000ab"), "{}", out[0].detail);
        // A learner's vote: named in `learners`, not in `voters`.
        let c1l = config(5, &["m1", "m3"], &["m2#000000ab"], "m1");
        let learner = [
            (1, 0, EventKind::App(&c1l)),
            (1, 1, EventKind::App(&c2new)),
            (2, 1, EventKind::App(&v)),
            (3, 0, EventKind::App(&lead)),
        ];
        assert_eq!(feed(&mut ElectionSafety::default(), &learner).len(), 1);
        // Once promoted (the leader's configuration names the incarnation),
        // its vote counts.
        let c1p = config(6, &["m1", "m2#000000ab", "m3"], &[], "m1");
        let promoted = [
            (1, 0, EventKind::App(&c1p)),
            (1, 1, EventKind::App(&c2new)),
            (2, 1, EventKind::App(&v)),
            (3, 0, EventKind::App(&lead)),
        ];
        assert!(feed(&mut ElectionSafety::default(), &promoted).is_empty());
        // A disk loss forgets the old name: the vote after it is the new one's.
        let c2old = config(0, &three, &[], "m2");
        let lost = [
            (1, 0, EventKind::App(&c1)),
            (1, 1, EventKind::App(&c2old)),
            (2, 1, EventKind::Crash { lost_writes: 0 }),
            (2, 1, EventKind::DiskLoss),
            (2, 1, EventKind::Restart),
            (2, 1, EventKind::App(&c2new)),
            (3, 1, EventKind::App(&v)),
            (4, 0, EventKind::App(&lead)),
        ];
        assert_eq!(feed(&mut ElectionSafety::default(), &lost).len(), 1);
    }

    #[test]
    fn election_safety_wants_one_committed_change_at_a_time() {
        let three = ["m1", "m2", "m3"];
        let c0 = config(0, &three, &[], "m1");
        let (a5, cfg5) = (
            append(5, 2, "config: 2 voters, 0 learners"),
            config(5, &["m1", "m2"], &[], "m1"),
        );
        let (a6, cfg6) = (
            append(6, 2, "config: 2 voters, 1 learners"),
            config(6, &["m1", "m2"], &["m3#0000000c"], "m1"),
        );
        let commit5 = commit(5, 2, "config: 2 voters, 0 learners");
        // Remove m3, commit, add its new incarnation as a learner: fine.
        let ok = [
            (1, 0, EventKind::App(&c0)),
            (2, 0, EventKind::App(&a5)),
            (2, 0, EventKind::App(&cfg5)),
            (3, 0, EventKind::App(&commit5)),
            (4, 0, EventKind::App(&a6)),
            (4, 0, EventKind::App(&cfg6)),
        ];
        assert!(feed(&mut ElectionSafety::default(), &ok).is_empty());
        // The second change before the first committed.
        let early = [
            (1, 0, EventKind::App(&c0)),
            (2, 0, EventKind::App(&a5)),
            (2, 0, EventKind::App(&cfg5)),
            (4, 0, EventKind::App(&a6)),
            (4, 0, EventKind::App(&cfg6)),
        ];
        let v = feed(&mut ElectionSafety::default(), &early);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail.contains("one change at a time"),
            "{}",
            v[0].detail
        );
        // Two voters changed by one entry (m3 out, m4 in).
        let (a5b, swap) = (
            append(5, 2, "config: 3 voters, 0 learners"),
            config(5, &["m1", "m2", "m4"], &[], "m1"),
        );
        let two = [
            (1, 0, EventKind::App(&c0)),
            (2, 0, EventKind::App(&a5b)),
            (2, 0, EventKind::App(&swap)),
        ];
        let v = feed(&mut ElectionSafety::default(), &two);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].detail.contains("changes 2 voters"), "{}", v[0].detail);
        // The same configuration reached by a follower (no append of its
        // own) is not a change it made.
        let c1 = config(0, &three, &[], "m2");
        let followed = [(1, 1, EventKind::App(&c1)), (2, 1, EventKind::App(&swap))];
        assert!(feed(&mut ElectionSafety::default(), &followed).is_empty());
    }

    #[test]
    fn log_matching_flags_a_follower_accepting_another_entry_at_a_committed_index() {
        let (c1, c2) = (digest_commit(1, 1, "d1"), digest_commit(2, 1, "d2"));
        // The same entries, and new ones past the commit: fine.
        let same = accept(1, &[(1, "d1"), (1, "d2"), (2, "d3")]);
        // Past what was committed, a different entry is no violation.
        let past = accept(3, &[(3, "x3")]);
        let ok = [
            (1, 0, EventKind::App(&c1)),
            (1, 0, EventKind::App(&c2)),
            (2, 1, EventKind::App(&same)),
            (3, 2, EventKind::App(&past)),
        ];
        assert!(feed(&mut LogMatching::default(), &ok).is_empty());
        // Another digest at index 2 (same term), another term at index 1.
        for bad in [accept(1, &[(1, "d1"), (1, "zz")]), accept(1, &[(2, "d1")])] {
            let evs = [
                (1, 0, EventKind::App(&c1)),
                (1, 0, EventKind::App(&c2)),
                (2, 1, EventKind::App(&bad)),
            ];
            let v = feed(&mut LogMatching::default(), &evs);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(v[0].detail.contains("m2 accepted"), "{}", v[0].detail);
        }
    }

    #[test]
    fn log_matching_flags_a_truncation_at_or_below_the_followers_commit() {
        let (c1, c2) = (digest_commit(1, 1, "d1"), digest_commit(2, 1, "d2"));
        let (above, other) = (truncate(3, 5), truncate(2, 4));
        let ok = [
            (1, 1, EventKind::App(&c1)),
            (1, 1, EventKind::App(&c2)),
            (2, 1, EventKind::App(&above)),
            // Another manager committed 2, not m3: its truncation at 2 is
            // judged by the entries it then accepts, not here.
            (3, 2, EventKind::App(&other)),
        ];
        assert!(feed(&mut LogMatching::default(), &ok).is_empty());
        for index in [1, 2] {
            let t = truncate(index, 4);
            let evs = [
                (1, 1, EventKind::App(&c1)),
                (1, 1, EventKind::App(&c2)),
                (2, 1, EventKind::App(&t)),
            ];
            let v = feed(&mut LogMatching::default(), &evs);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(
                v[0].detail.contains("had committed up to 2"),
                "{}",
                v[0].detail
            );
        }
    }

    #[test]
    fn log_matching_flags_two_snapshot_digests_at_one_index() {
        let (a, a_again, b, other) = (
            snapshot_digest(8, "aaaa", false),
            snapshot_digest(8, "aaaa", true),
            snapshot_digest(8, "bbbb", true),
            snapshot_digest(9, "bbbb", false),
        );
        let ok = [
            (1, 0, EventKind::App(&a)),
            (2, 1, EventKind::App(&a_again)),
            (3, 2, EventKind::App(&other)),
        ];
        assert!(feed(&mut LogMatching::default(), &ok).is_empty());
        let bad = [(1, 0, EventKind::App(&a)), (2, 1, EventKind::App(&b))];
        let v = feed(&mut LogMatching::default(), &bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail
                .starts_with("m2 installed a snapshot of index 8 with digest bbbb"),
            "{}",
            v[0].detail
        );
        // Digest-less snapshots (older traces) are not compared.
        let (n1, n2) = (snapshot(8, false), snapshot(8, true));
        let old = [(1, 0, EventKind::App(&n1)), (2, 1, EventKind::App(&n2))];
        assert!(feed(&mut LogMatching::default(), &old).is_empty());
    }

    fn end(now_ms: u64, healed_ms: u64, deadline_ms: Option<u64>) -> EndOfRun {
        EndOfRun {
            now: SimTime(now_ms * 1000),
            healed_at: SimTime(healed_ms * 1000),
            deadline: deadline_ms.map(|d| SimTime(d * 1000)),
            leader_deadline: deadline_ms.map(|d| SimTime(d * 1000)),
            voters: None,
            unhealed: None,
        }
    }

    fn judge(evs: &[(u64, u32, EventKind<'_, StackEvent>)], end: EndOfRun) -> Vec<Violation> {
        let mut c = LeaderElected::default();
        assert!(
            feed(&mut c, evs).is_empty(),
            "liveness is judged at the end only"
        );
        let mut out = Vec::new();
        c.finish(&end, &mut out);
        out
    }

    #[test]
    fn leader_elected_wants_a_leader_in_office_by_the_deadline() {
        let (l1, l2, f2) = (
            role(Role::Leader, 1),
            role(Role::Leader, 2),
            role(Role::Follower, 2),
        );
        let steady = [(500, 0, EventKind::App(&l1))];
        assert!(judge(&steady, end(20_000, 0, None)).is_empty());
        assert!(judge(&steady, end(20_000, 0, Some(1_000))).is_empty());
        // Elected too late.
        let v = judge(
            &[(15_000, 0, EventKind::App(&l1))],
            end(20_000, 1_000, None),
        );
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail.contains("after the deadline 11.000s"),
            "{}",
            v[0].detail
        );
        // No leader at all.
        let v = judge(&[], end(20_000, 0, None));
        assert!(v[0].detail.starts_with("no leader"), "{}", v[0].detail);
        // The leader crashed.
        let crashed = [
            (500, 0, EventKind::App(&l1)),
            (900, 0, EventKind::Crash { lost_writes: 0 }),
        ];
        assert_eq!(judge(&crashed, end(20_000, 900, None)).len(), 1);
        // The leader stepped down and nobody took over.
        let stepped = [(500, 0, EventKind::App(&l1)), (900, 0, EventKind::App(&f2))];
        assert_eq!(judge(&stepped, end(20_000, 0, None)).len(), 1);
        // A paused leader does not lead.
        let paused = [(500, 0, EventKind::App(&l1)), (900, 0, EventKind::Pause)];
        assert_eq!(judge(&paused, end(20_000, 0, None)).len(), 1);
        // A stale leader still acting beside the new one.
        let two = [(500, 0, EventKind::App(&l1)), (900, 1, EventKind::App(&l2))];
        let v = judge(&two, end(20_000, 0, None));
        assert_eq!(v.len(), 1);
        assert!(
            v[0].detail
                .starts_with("m1 (term 1) still acts as leader beside m2 (term 2)"),
            "{}",
            v[0].detail
        );
        // A run shorter than the implicit deadline is not judged.
        assert!(judge(&[], end(5_000, 0, None)).is_empty());
    }

    #[test]
    fn leader_elected_measures_failover_until_the_new_leader_commits() {
        let (l1, l2, l3) = (
            role(Role::Leader, 1),
            role(Role::Leader, 2),
            role(Role::Leader, 3),
        );
        let (n2, n3) = (commit(5, 2, "noop"), commit(9, 3, "noop"));
        let old = commit(4, 1, "x");
        let mut c = LeaderElected::default();
        let evs = [
            (100, 0, EventKind::App(&l1)),
            (1_000, 0, EventKind::Crash { lost_writes: 0 }),
            (1_400, 1, EventKind::App(&l2)),
            (1_405, 1, EventKind::App(&old)), // an older term's entry: not yet
            (1_410, 1, EventKind::App(&n2)),
            (2_000, 1, EventKind::Crash { lost_writes: 0 }),
            (2_300, 2, EventKind::App(&l3)),
            (2_350, 2, EventKind::App(&n3)),
        ];
        assert!(feed(&mut c, &evs).is_empty());
        let m: BTreeMap<String, serde_json::Value> = c.metrics().into_iter().collect();
        assert_eq!(m["leader_elections"], json!(3));
        assert_eq!(m["leader_changes"], json!(2));
        assert_eq!(m["leader_failover_ms"], json!([410.0, 350.0]));
        assert_eq!(m["leader_failover_ms_median"], json!(380.0));
        assert_eq!(m["leader_failover_ms_max"], json!(410.0));
    }

    #[test]
    fn raft_checkers_have_their_stable_names() {
        let names: Vec<&str> = raft_checkers().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["election_safety", "log_matching", "leader_elected"]);
        assert!(names.iter().all(|n| crate::check::KNOWN.contains(n)));
    }
}
