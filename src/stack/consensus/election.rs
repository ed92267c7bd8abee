//! Roles and elections: PreVote, RequestVote, becoming follower, candidate
//! or leader, and the lease that keeps a live leader in place.

use super::RaftBug;
use super::{ConsensusManager, Progress, RaftHost, RaftMsg, RaftTimer, Role, StateMachine, trace};
use super::{Entry, RaftEvent};
use crate::sim::rng::uniform_u64;
use crate::sim::{Cx, ProcessId, SimDuration, SimTime};

impl<S: StateMachine> ConsensusManager<S> {
    // ----- roles -----

    pub(super) fn pos(&self, p: ProcessId) -> Option<usize> {
        self.peers.iter().position(|&q| q == p)
    }

    pub(super) fn quorum(&self) -> usize {
        self.members.quorum()
    }

    /// Positions of the voters other than this manager.
    pub(super) fn other_voters(&self) -> Vec<usize> {
        (0..self.peers.len())
            .filter(|&pos| pos != self.me_pos && self.members.is_voter(self.peers[pos]))
            .collect()
    }

    pub(super) fn send<P: RaftHost<S::Command>>(
        &self,
        cx: &mut Cx<'_, P>,
        to: ProcessId,
        msg: RaftMsg<S::Command>,
    ) {
        cx.send(to, msg.into());
    }

    pub(super) fn trace_role<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let now = (self.role, self.term, self.leader);
        if self.traced_role == Some(now) {
            return;
        }
        self.traced_role = Some(now);
        let leader = self.leader.map(|p| cx.name(p).to_string());
        trace(
            cx,
            RaftEvent::Role {
                role: self.role,
                term: self.term,
                leader,
            },
        );
    }

    /// Picks a new random election deadline and makes sure a timer fires by then.
    pub(super) fn reset_election_deadline<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let (min, max) = self.config.election_timeout;
        let mut wait = uniform_u64(cx.rng(), min.0, max.0);
        // Fault point: the shortest timeout the range allows.
        if cx.buggify("raft/shortest-election-timeout") {
            wait = min.0;
        }
        self.election_deadline = cx.now() + SimDuration(wait);
        match self.election_timer {
            // It fires early and re-arms for the rest: one timer per timeout,
            // not one per heartbeat.
            Some((_, at)) if at <= self.election_deadline => {}
            Some((id, _)) => {
                cx.cancel_timer(id);
                self.arm_election(cx, self.election_deadline);
            }
            None => self.arm_election(cx, self.election_deadline),
        }
    }

    pub(super) fn arm_election<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        at: SimTime,
    ) {
        let after = at.saturating_since(cx.now());
        let id = cx.set_timer(after, RaftTimer::Election.into());
        self.election_timer = Some((id, at));
    }

    /// Cancels the timers of a leader (heartbeat, CheckQuorum) and of a
    /// candidate (vote retry): called whenever the role changes.
    pub(super) fn stop_role_timers<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        for id in [
            self.heartbeat_timer.take(),
            self.quorum_timer.take(),
            self.vote_retry_timer.take(),
        ]
        .into_iter()
        .flatten()
        {
            cx.cancel_timer(id);
        }
    }

    /// Becomes a follower of `term` (persisting it if it is new) under `leader`.
    pub(super) fn become_follower<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        term: u64,
        leader: Option<ProcessId>,
    ) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state(cx);
        }
        self.stop_role_timers(cx);
        self.role = Role::Follower;
        self.leader = leader;
        self.transfer = None;
        self.transfer_campaign = false;
        if leader.is_some() {
            self.last_leader_contact = Some(cx.now());
        }
        self.reset_election_deadline(cx);
        self.trace_role(cx);
    }

    /// Election timeout: ask for pre-votes for `term + 1` without raising the term.
    pub(super) fn campaign_pre<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.stop_role_timers(cx);
        self.transfer_campaign = false;
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.iter_mut().for_each(|v| *v = None);
        self.votes[self.me_pos] = Some(true);
        self.reset_election_deadline(cx);
        self.trace_role(cx);
        let msg = RaftMsg::PreVote {
            term: self.term + 1,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
        };
        for pos in self.other_voters() {
            self.send(cx, self.peers[pos], msg.clone());
        }
        self.tally(cx);
    }

    /// A pre-vote majority: raise the term, vote for itself (fsynced), ask for votes.
    pub(super) fn become_candidate<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.stop_role_timers(cx);
        self.transfer = None;
        self.term += 1;
        self.voted_for = Some(self.me);
        self.persist_hard_state(cx);
        self.role = Role::Candidate;
        self.leader = None;
        if !self.config.planted.has(RaftBug::PreVotesCountAsVotes) {
            // (The planted bug keeps the pre-vote grants as votes.)
            self.votes.iter_mut().for_each(|v| *v = None);
        }
        self.votes[self.me_pos] = Some(true);
        self.reset_election_deadline(cx);
        self.trace_role(cx);
        self.request_votes(cx);
        self.vote_retry_timer =
            Some(cx.set_timer(self.config.heartbeat, RaftTimer::VoteRetry.into()));
        self.tally(cx);
    }

    /// Sends `RequestVote` for the current term to every peer that has not
    /// answered it yet (all of them, at the start of a campaign).
    pub(super) fn request_votes<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let msg = RaftMsg::RequestVote {
            term: self.term,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
            transfer: self.transfer_campaign,
        };
        for pos in self.other_voters() {
            if self.votes[pos].is_none() {
                self.send(cx, self.peers[pos], msg.clone());
            }
        }
    }

    /// Counts the current campaign's answers.
    pub(super) fn tally<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        // Only the voters of the configuration in force count.
        let count = |want: bool| {
            self.votes
                .iter()
                .enumerate()
                .filter(|(pos, v)| **v == Some(want) && self.members.is_voter(self.peers[*pos]))
                .count()
        };
        let (granted, refused) = (count(true), count(false));
        let q = self.quorum();
        match self.role {
            Role::PreCandidate if granted >= q => self.become_candidate(cx),
            Role::Candidate if granted >= q => self.become_leader(cx),
            // Lost this election: wait for the next timeout as a follower.
            Role::Candidate if refused >= q => {
                cx.reached("raft: candidate lost its election");
                self.become_follower(cx, self.term, None)
            }
            // A refused pre-candidate stays one (its term unchanged): the
            // voters hear a live leader, whose heartbeat will make it follow.
            _ => {}
        }
    }

    pub(super) fn become_leader<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let next = self.last_index() + 1;
        let now = cx.now();
        for p in &mut self.progress {
            // Silence is counted from the start of this term: a new leader
            // knows nothing of who was down before.
            *p = Progress {
                next_index: next,
                probing: true,
                last_heard: now,
                ..Progress::default()
            };
        }
        self.trace_role(cx);
        self.transfer = None;
        self.transfer_campaign = false;
        self.join_requests.clear();
        // The no-op: entries of earlier terms commit only when an entry of
        // this term does (Raft §5.4.2), so a leader commits one at once.
        self.term_start = self.append_as_leader(cx, Entry::Noop);
        self.stop_role_timers(cx);
        self.skipped_round = false;
        self.heartbeat_timer =
            Some(cx.set_timer(self.config.heartbeat, RaftTimer::Heartbeat.into()));
        self.quorum_timer = Some(cx.set_timer(
            self.config.election_timeout.0,
            RaftTimer::CheckQuorum.into(),
        ));
        for pos in self.targets() {
            self.send_append(cx, pos);
        }
        self.maybe_commit(cx);
    }

    /// Only a voter of its own incarnation votes: a learner's or a
    /// joiner's vote would be counted by candidates that still list the
    /// process (its lost incarnation) as a voter.
    ///
    /// A learner of its own incarnation votes too, as in etcd's raft: it
    /// may have been promoted by an entry it has not received yet, and
    /// with the promotion in the candidates' logs their quorum may need
    /// it (a group of three live voters and a retiring one needs three
    /// votes). Its vote is as durable as a voter's; a candidate counts it
    /// only for a voter slot of the same incarnation (the answer names
    /// it), so a learner it does not know as a voter counts for nothing.
    /// A manager outside the group (back on an empty disk, not yet
    /// admitted) votes for no one.
    pub(super) fn may_vote(&self) -> bool {
        self.is_member() || self.config.planted.has(RaftBug::LearnerVotes)
    }

    /// Whether an answer granted by the manager at `pos` of `incarnation`
    /// counts: it must be the voter of that incarnation in this
    /// configuration (under the planted `LearnerVotes`, any answer from
    /// the voter's process counts, a stale voter slot included).
    pub(super) fn counts_vote(&self, pos: usize, incarnation: u64) -> bool {
        self.config.planted.has(RaftBug::LearnerVotes)
            || self.members.voters.get(&self.peers[pos].0) == Some(&incarnation)
    }

    /// A voter's or a leader's lease: it heard from a live leader within the
    /// minimum election timeout (or leads), so it refuses to help elect another.
    pub(super) fn in_lease(&self, now: SimTime) -> bool {
        self.role == Role::Leader
            || (self.leader.is_some()
                && self
                    .last_leader_contact
                    .is_some_and(|t| now < t + self.config.election_timeout.0))
    }

    // ----- elections -----

    pub(super) fn handle_pre_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        lli: u64,
        llt: u64,
    ) {
        // No state changes here: a pre-vote binds nothing.
        if self.role == Role::Leader
            && self.members_index > self.commit_index
            && let Some(pos) = self.pos(from)
            && self.members.contains(from)
        {
            // A member of the configuration that waits for its
            // acknowledgements has not heard from this leader: what was
            // sent to it was lost. Send it what it lacks now rather than at
            // the next heartbeat.
            self.progress[pos].inflight = false;
            self.send_append(cx, pos);
        }
        let in_lease = self.in_lease(cx.now());
        if term > self.term && in_lease {
            cx.reached("raft: pre-vote refused under a leader lease");
        }
        let granted = self.may_vote() && term > self.term && !in_lease && self.log_ok(lli, llt);
        if cx.tracing() {
            let candidate = cx.name(from).to_string();
            trace(
                cx,
                RaftEvent::Vote {
                    term,
                    candidate,
                    granted,
                    pre: true,
                },
            );
        }
        let term = if granted { term } else { self.term };
        let incarnation = self.incarnation;
        self.send(
            cx,
            from,
            RaftMsg::PreVoteResponse {
                term,
                granted,
                incarnation,
            },
        );
    }

    pub(super) fn handle_pre_vote_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        granted: bool,
        incarnation: u64,
    ) {
        // A refusal of a higher term made us a follower of it (in
        // `step_term`): someone is further on, and the next pre-vote asks
        // for a term the voters can grant.
        if self.role != Role::PreCandidate || (granted && term != self.term + 1) {
            return;
        }
        if granted && !self.counts_vote(from_pos, incarnation) {
            return;
        }
        self.votes[from_pos] = Some(granted);
        self.tally(cx);
    }

    pub(super) fn handle_request_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        lli: u64,
        llt: u64,
    ) {
        let free = self.voted_for.is_none()
            || self.voted_for == Some(from)
            || self.config.planted.has(RaftBug::VoteTwiceInTerm);
        if term == self.term && !free {
            cx.reached("raft: vote refused, already voted in this term");
        }
        if term == self.term && free && !self.log_ok(lli, llt) {
            cx.reached("raft: vote refused, candidate's log behind");
        }
        let granted = self.may_vote() && term == self.term && free && self.log_ok(lli, llt);
        if granted {
            self.voted_for = Some(from);
            if self.config.planted.has(RaftBug::VoteBeforeFsync) {
                // The bug: the vote reaches the disk only with the next fsync.
                self.vote_unsynced = true;
            } else {
                self.persist_hard_state(cx);
            }
            self.reset_election_deadline(cx);
        }
        self.answer_vote(cx, from, granted);
    }

    pub(super) fn answer_vote<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        granted: bool,
    ) {
        if cx.tracing() {
            let candidate = cx.name(from).to_string();
            trace(
                cx,
                RaftEvent::Vote {
                    term: self.term,
                    candidate,
                    granted,
                    pre: false,
                },
            );
        }
        self.send(
            cx,
            from,
            RaftMsg::RequestVoteResponse {
                term: self.term,
                granted,
                incarnation: self.incarnation,
            },
        );
    }

    pub(super) fn handle_vote_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        granted: bool,
        incarnation: u64,
    ) {
        if self.role != Role::Candidate || term != self.term {
            return;
        }
        if granted && !self.counts_vote(from_pos, incarnation) {
            return;
        }
        self.votes[from_pos] = Some(granted);
        self.tally(cx);
    }
}
