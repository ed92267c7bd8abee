//! Membership at work: who is replicated to, who may vote, admitting a
//! manager that starts on an empty disk, the leader's one-change-at-a-time
//! driver, and leadership transfer. The data types are in `membership.rs`.

use super::RaftBug;
use super::membership::{Membership, Standing, member_name};
use super::{
    ConsensusManager, DRAINED_KEY, Entry, INCARNATION_KEY, RaftEvent, RaftHost, RaftMsg, Role,
    StateMachine, Transfer, WANTED_KEY, trace,
};
use crate::sim::rng::uniform_u64;
use crate::sim::{Cx, ProcessId, SimTime};

impl<S: StateMachine> ConsensusManager<S> {
    /// A voter of its own incarnation in the membership in force.
    pub fn is_voter(&self) -> bool {
        self.members.standing(self.me) == Standing::Voter(self.incarnation)
    }

    /// A voter or learner of its own incarnation.
    pub fn is_member(&self) -> bool {
        matches!(self.members.standing(self.me),
            Standing::Voter(i) | Standing::Learner(i) if i == self.incarnation)
    }

    /// Positions a leader replicates to: every member but itself.
    pub(super) fn targets(&self) -> Vec<usize> {
        (0..self.peers.len())
            .filter(|&pos| pos != self.me_pos && self.members.contains(self.peers[pos]))
            .collect()
    }

    /// Loads (or, on an empty disk, draws and persists) the incarnation:
    /// 0 for a bootstrap voter's first start, a fresh number otherwise.
    pub(super) fn load_incarnation<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        disk_empty: bool,
    ) {
        let who = cx.name(self.me).to_string();
        let stored: Option<u64> = match cx.disk().get(INCARNATION_KEY) {
            Ok(None) => None,
            Ok(Some(b)) => Some(serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {INCARNATION_KEY} holds no number ({e}); it is fsynced when written")
            })),
            Err(e) => panic!("{who}: {e}: {INCARNATION_KEY} is fsynced when written"),
        };
        self.incarnation = match stored {
            Some(i) => i,
            // A disk written before incarnations existed: the bootstrap one.
            None if !disk_empty => 0,
            None if !self.existing && self.bootstrap.is_voter(self.me) => 0,
            None => uniform_u64(cx.rng(), 1, u64::from(u32::MAX)),
        };
        if stored.is_none() {
            let b = serde_json::to_vec(&self.incarnation).expect("a number serializes");
            cx.disk().put(INCARNATION_KEY, b);
            cx.disk().fsync();
        }
        self.wanted = match cx.disk().get(WANTED_KEY) {
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {WANTED_KEY} holds no wishes ({e}); it is fsynced when written")
            }),
            Ok(None) => Default::default(),
            Err(e) => panic!("{who}: {e}: {WANTED_KEY} is fsynced when written"),
        };
        self.drained = match cx.disk().get(DRAINED_KEY) {
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {DRAINED_KEY} holds no list ({e}); it is fsynced when written")
            }),
            Ok(None) => Default::default(),
            Err(e) => panic!("{who}: {e}: {DRAINED_KEY} is fsynced when written"),
        };
    }

    /// The membership in force after the log changed: the latest
    /// configuration entry, else the snapshot's. Traces it if it changed.
    pub(super) fn recompute_members<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let found = self
            .log
            .iter()
            .enumerate()
            .rev()
            .find_map(|(k, e)| match &e.entry {
                Entry::Config(m) => Some((self.snapshot_index + 1 + k as u64, m.clone())),
                _ => None,
            });
        let (index, m) = found.unwrap_or((0, self.snapshot_members.clone()));
        if (index, &m) != (self.members_index, &self.members) {
            self.members = m;
            self.members_index = index;
            self.trace_members(cx);
        }
    }

    /// The membership in force at `index` (at or after the snapshot), for
    /// a snapshot taken there.
    pub(super) fn members_at(&self, index: u64) -> Membership {
        let upto = (index - self.snapshot_index) as usize;
        self.log
            .iter()
            .take(upto)
            .rev()
            .find_map(|e| match &e.entry {
                Entry::Config(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.snapshot_members.clone())
    }

    /// A configuration entry entered the log at `index`: in force at once.
    pub(super) fn config_appended<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        index: u64,
        m: Membership,
    ) {
        let old = std::mem::replace(&mut self.members, m);
        self.members_index = index;
        self.trace_members(cx);
        if self.role == Role::Leader {
            // A new member, or a new incarnation, owes us nothing: what the
            // slot acknowledged before is forgotten, and it is probed from
            // the end of the log.
            let next = self.last_index() + 1;
            let now = cx.now();
            for pos in self.targets() {
                let p = self.peers[pos];
                let incarnation = |s: Standing| match s {
                    Standing::Voter(i) | Standing::Learner(i) => Some(i),
                    Standing::Outside => None,
                };
                if incarnation(old.standing(p)) != incarnation(self.members.standing(p)) {
                    self.progress[pos] = super::Progress {
                        next_index: next,
                        probing: true,
                        last_heard: now,
                        ..super::Progress::default()
                    };
                }
            }
        }
    }

    pub(super) fn trace_members<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if !cx.tracing() {
            return;
        }
        let name = |p: ProcessId| cx.name(p).to_string();
        let voters = self.members.named_voters(name);
        let learners = Membership::named(&self.members.learners, name);
        let me = member_name(cx.name(self.me), self.incarnation);
        trace(
            cx,
            RaftEvent::Config {
                index: self.members_index,
                voters,
                learners,
                me,
            },
        );
    }

    /// A joiner asks every peer to be admitted (only the leader acts).
    pub(super) fn ask_to_join<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.is_member() {
            return;
        }
        self.join_everyone(cx);
    }

    /// Sends `Join` (this incarnation) to every other manager.
    fn join_everyone<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let msg = RaftMsg::Join {
            term: self.term,
            incarnation: self.incarnation,
        };
        for pos in 0..self.peers.len() {
            if pos != self.me_pos {
                self.send(cx, self.peers[pos], msg.clone());
            }
        }
    }

    /// A joiner that hears from a leader (which may still replicate to its
    /// lost incarnation's slot, so no election timeout comes) asks it
    /// directly, at most once per minimum election timeout.
    pub(super) fn ask_leader_to_join<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        leader: ProcessId,
    ) {
        let now = cx.now();
        if self.is_member()
            || self
                .join_asked_at
                .is_some_and(|t| now < t + self.config.election_timeout.0)
        {
            return;
        }
        self.join_asked_at = Some(now);
        let msg = RaftMsg::Join {
            term: self.term,
            incarnation: self.incarnation,
        };
        self.send(cx, leader, msg);
    }

    /// A voter that cannot gather a pre-vote majority may have been
    /// removed while it was down (dead-server cleanup), which its own log
    /// does not show yet: it asks to be admitted under its incarnation. A
    /// leader that still counts it as a voter of that incarnation ignores
    /// the request.
    pub(super) fn ask_to_rejoin<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        cx.reached("raft: removed manager asked to rejoin");
        self.join_everyone(cx);
    }

    /// A `Join` reached the leader: it acts on it at once, not at its next
    /// heartbeat (a leader whose clock was set back hears joiners while its
    /// timers wait).
    pub(super) fn handle_join<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        incarnation: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let p = self.peers[from_pos];
        if matches!(self.members.standing(p),
            Standing::Voter(i) | Standing::Learner(i) if i == incarnation)
        {
            // Admitted, but it has not heard so: what was sent to it was
            // lost. Send it what it lacks now rather than at the next
            // heartbeat.
            self.progress[from_pos].inflight = false;
            self.send_append(cx, from_pos);
            return;
        }
        self.join_requests.insert(from_pos, incarnation);
        self.drive_membership(cx);
    }

    /// A replacement or an admission is under way: the leader drives it on
    /// every acknowledgement, so each step follows the commit of the one
    /// before (and a learner is promoted as soon as it has caught up).
    pub(super) fn membership_due(&self) -> bool {
        !self.join_requests.is_empty()
            || !self.members.learners.is_empty()
            || !self.members.retiring.is_empty()
    }

    /// The operator wants `p` in the group (`add_manager`) or out of it
    /// (`remove_manager`). Kept on disk: whichever manager leads, now or
    /// after a failover, carries the wish out.
    pub fn want_member<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: ProcessId,
        member: bool,
    ) {
        if self.wanted.insert(p.0, member) != Some(member) {
            let b = serde_json::to_vec(&self.wanted).expect("wishes serialize");
            cx.disk().put(WANTED_KEY, b);
            cx.disk().fsync();
        }
    }

    /// The operator drained `p` (`drain_manager`) or ended the drain: a
    /// drained manager still votes and replicates, but does not lead — a
    /// leader that is drained hands over to an up-to-date voter that is
    /// not. Kept on disk, like [`want_member`](Self::want_member).
    pub fn drain<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        p: ProcessId,
        drained: bool,
    ) {
        let changed = if drained {
            self.drained.insert(p.0)
        } else {
            self.drained.remove(&p.0)
        };
        if changed {
            let b = serde_json::to_vec(&self.drained).expect("indices serialize");
            cx.disk().put(DRAINED_KEY, b);
            cx.disk().fsync();
        }
    }

    /// True when the operator drained this manager.
    pub fn is_drained(&self) -> bool {
        self.drained.contains(&self.me.0)
    }

    /// May `p` be a member? The operator's latest wish, else whether it
    /// was in the bootstrap group.
    fn admissible(&self, p: ProcessId) -> bool {
        self.wanted
            .get(&p.0)
            .copied()
            .unwrap_or_else(|| self.bootstrap.is_voter(p))
    }

    /// The leader's membership driver, every heartbeat (and on the
    /// acknowledgements and joins that may make a change due): at most one
    /// change in flight (the previous one committed), and none before this
    /// term's no-op commits. In order: hand over if the operator removes
    /// this leader; remove a member the operator removes; finish a
    /// replacement whose new incarnation votes (remove the retiring one);
    /// add a new incarnation as a learner (its lost voter retiring);
    /// promote a learner that caught up; dead-server cleanup.
    pub(super) fn drive_membership<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let two_at_once = self.config.planted.has(RaftBug::TwoChangesAtOnce);
        // The planted bug goes on to the next change at once, without
        // waiting for the one it just appended to commit.
        let steps = if two_at_once { 3 } else { 1 };
        for _ in 0..steps {
            if self.role != Role::Leader
                || self.transfer.is_some()
                || self.commit_index < self.term_start
                || (self.members_index > self.commit_index && !two_at_once)
            {
                return;
            }
            let change = self.next_change(cx.now());
            if matches!(change, Some(Change::RemoveDown(_))) {
                cx.reached("raft: down voter removed after its grace");
            }
            if let Some(Change::Propose(next)) = &change
                && next.retiring.len() < self.members.retiring.len()
            {
                cx.reached("raft: lost incarnation removed after its replacement");
            }
            match change {
                Some(Change::Propose(m) | Change::RemoveDown(m)) => {
                    self.append_as_leader(cx, Entry::Config(m));
                    for pos in self.targets() {
                        if !self.progress[pos].inflight {
                            self.send_append(cx, pos);
                        }
                    }
                    self.maybe_commit(cx);
                }
                Some(Change::Transfer) => {
                    self.start_transfer(cx);
                    return;
                }
                Some(Change::Drained(to)) => {
                    cx.reached("raft: drained leader handed over");
                    self.transfer_to(cx, to);
                    return;
                }
                None => return,
            }
        }
    }

    fn next_change(&mut self, now: SimTime) -> Option<Change> {
        let m = self.members.clone();
        for (&p, &want) in &self.wanted {
            let p = ProcessId(p);
            if !want && m.retiring.contains_key(&p.0) {
                return Some(Change::Propose(m.without_retiring(p)));
            }
            if !want && m.contains(p) {
                if p == self.me {
                    return (m.voters.len() > 1).then_some(Change::Transfer);
                }
                return Some(Change::Propose(m.without(p)));
            }
        }
        if self.is_drained()
            && let Some(to) = self.drain_target()
        {
            // A drained leader makes no change itself: the next leader
            // carries on with whatever is left to do.
            return Some(Change::Drained(to));
        }
        // Admitted incarnations need nothing more.
        let done: Vec<usize> = self
            .join_requests
            .iter()
            .filter(|(pos, inc)| {
                matches!(m.standing(self.peers[**pos]),
                    Standing::Voter(i) | Standing::Learner(i) if i == **inc)
            })
            .map(|(pos, _)| *pos)
            .collect();
        for pos in done {
            self.join_requests.remove(&pos);
        }
        // A replacement is complete once the new incarnation votes: the
        // lost one goes.
        if let Some(&p) = m.retiring.keys().find(|p| m.voters.contains_key(p)) {
            return Some(Change::Propose(m.without_retiring(ProcessId(p))));
        }
        for (&pos, &inc) in &self.join_requests {
            let p = self.peers[pos];
            if !self.admissible(p) {
                continue;
            }
            // A voter of another incarnation lost its disk, and with it any
            // vote or append it acknowledged: it stays, retiring (counted
            // in the quorum, never in a majority), until the new
            // incarnation replaces it. A retiring incarnation of an older
            // loss goes first (one voter per change).
            return Some(Change::Propose(
                if matches!(m.standing(p), Standing::Voter(_)) && m.retiring.contains_key(&p.0) {
                    m.without_retiring(p)
                } else {
                    m.with_learner(p, inc)
                },
            ));
        }
        for &p in m.learners.keys() {
            let p = ProcessId(p);
            let Some(pos) = self.pos(p) else { continue };
            if self.admissible(p)
                && self.progress[pos].match_index >= self.commit_index
                && self.keeps_quorum(&m.promoted(p), pos, now)
            {
                return Some(Change::Propose(m.promoted(p)));
            }
        }
        self.down_voter(now).map(|p| {
            Change::RemoveDown(if m.retiring.contains_key(&p.0) {
                m.without_retiring(p)
            } else {
                m.without(p)
            })
        })
    }

    /// Would the voters heard from lately (this leader, `joining`, the
    /// learner about to be promoted, and those heard since the last
    /// CheckQuorum or within an election timeout) make a quorum of `m`? A
    /// configuration is in force once appended: one that they cannot
    /// commit would stall the group until they could.
    fn keeps_quorum(&self, m: &Membership, joining: usize, now: SimTime) -> bool {
        let recent = self.config.election_timeout.0;
        let live = (0..self.peers.len())
            .filter(|&pos| m.is_voter(self.peers[pos]))
            .filter(|&pos| {
                let pr = &self.progress[pos];
                pos == self.me_pos
                    || pos == joining
                    || pr.recent_active
                    || now < pr.last_heard + recent
            })
            .count();
        live >= m.quorum()
    }

    /// Dead-server cleanup (Consul autopilot's, with its minimum quorum):
    /// the voter silent the longest, if it has been silent for
    /// `remove_down_after` and removing it leaves at least `min_voters`
    /// voters. It runs after every other change, so a learner that caught
    /// up is promoted first: the group replaces before it shrinks. A
    /// removed manager that comes back asks to be admitted again and is
    /// added as a learner, then promoted.
    fn down_voter(&self, now: SimTime) -> Option<ProcessId> {
        let grace = self.config.remove_down_after?;
        // The planted bug removes down voters whatever is left.
        if self.members.voters.len() <= self.config.min_voters.max(1)
            && !self.config.planted.has(RaftBug::CleanupBelowFloor)
        {
            return None;
        }
        self.other_voters()
            .into_iter()
            .filter(|&pos| now >= self.progress[pos].last_heard + grace)
            .min_by_key(|&pos| (self.progress[pos].last_heard, pos))
            .map(|pos| self.peers[pos])
    }

    /// The voter a drained leader hands over to: admissible, not drained,
    /// heard from recently; the most up to date of them.
    fn drain_target(&self) -> Option<usize> {
        self.other_voters()
            .into_iter()
            .filter(|&pos| {
                let p = self.peers[pos];
                self.admissible(p)
                    && !self.drained.contains(&p.0)
                    && self.progress[pos].recent_active
            })
            .max_by_key(|&pos| (self.progress[pos].match_index, std::cmp::Reverse(pos)))
    }

    /// Hands leadership to the most up-to-date other voter (thesis §3.10):
    /// proposals stop, the target is brought up to date, then told to
    /// campaign at once.
    fn start_transfer<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let Some(to) = self
            .other_voters()
            .into_iter()
            .filter(|&pos| self.admissible(self.peers[pos]))
            .max_by_key(|&pos| {
                (
                    !self.drained.contains(&self.peers[pos].0),
                    self.progress[pos].recent_active,
                    self.progress[pos].match_index,
                )
            })
        else {
            return;
        };
        self.transfer_to(cx, to);
    }

    /// Starts handing leadership to the voter at `to`.
    fn transfer_to<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, to: usize) {
        self.transfer = Some(Transfer {
            to,
            deadline: cx.now() + self.config.election_timeout.0,
            sent: false,
        });
        self.trace_transfer(cx, to, "start");
        self.send_append(cx, to);
        self.tick_transfer(cx);
    }

    /// Sends `TimeoutNow` once the target holds the whole log; gives up
    /// after one minimum election timeout.
    pub(super) fn tick_transfer<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let Some(t) = self.transfer else { return };
        if self.role != Role::Leader {
            self.transfer = None;
            return;
        }
        if cx.now() >= t.deadline {
            self.transfer = None;
            self.trace_transfer(cx, t.to, "abandoned");
            return;
        }
        if self.progress[t.to].match_index >= self.last_index() && !t.sent {
            self.transfer = Some(Transfer { sent: true, ..t });
            self.trace_transfer(cx, t.to, "timeout_now");
            let to = self.peers[t.to];
            self.send(cx, to, RaftMsg::TimeoutNow { term: self.term });
        }
    }

    fn trace_transfer<P: RaftHost<S::Command>>(&self, cx: &mut Cx<'_, P>, to: usize, step: &str) {
        let to = cx.name(self.peers[to]).to_string();
        trace(
            cx,
            RaftEvent::Transfer {
                to,
                step: step.to_string(),
            },
        );
    }

    /// The leader handed over: campaign now, skipping the pre-vote.
    pub(super) fn handle_timeout_now<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
    ) {
        if term != self.term || self.leader != Some(from) || !self.is_voter() {
            return;
        }
        self.transfer_campaign = true;
        self.become_candidate(cx);
    }
}

/// The driver's next step.
enum Change {
    /// Append this membership.
    Propose(Membership),
    /// Append this membership: a voter that stayed down is removed.
    RemoveDown(Membership),
    /// Hand leadership over first (this leader is removed).
    Transfer,
    /// This leader is drained: hand over to the voter at this position.
    Drained(usize),
}
