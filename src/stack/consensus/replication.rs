//! Log replication, both sides: a follower's `AppendEntries` and
//! `InstallSnapshot`, a leader's probes, batches and backtracking, the
//! commit rule, and applying committed entries.

use std::rc::Rc;

use super::RaftBug;
use super::{
    AppendOutcome, ConsensusManager, Entry, LOG_KEY, MAX_APPLIED_QUEUE, RaftEvent, RaftHost,
    RaftMsg, Role, SNAPSHOT_KEY, SnapshotData, StateMachine, StoredEntry, trace,
};
use crate::sim::{Cx, ProcessId};

impl<S: StateMachine> ConsensusManager<S> {
    // ----- replication: follower side -----

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_append<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        mut entries: Vec<Rc<StoredEntry<S::Command>>>,
        leader_commit: u64,
    ) {
        if term < self.term {
            // A deposed leader: our term tells it to step down.
            cx.reached("raft: append from a deposed leader refused");
            let outcome = AppendOutcome::Conflict {
                rejected_prev: prev_index,
                conflict_term: None,
                conflict_index: 0,
            };
            self.send(
                cx,
                from,
                RaftMsg::AppendEntriesResponse {
                    term: self.term,
                    outcome,
                },
            );
            return;
        }
        if !self.follow_leader(cx, term, from) {
            return;
        }

        let rejected_prev = prev_index;
        let (mut prev_index, mut prev_term) = (prev_index, prev_term);
        if prev_index < self.snapshot_index {
            // Entries up to our snapshot are committed, hence match: skip them.
            let skip = (self.snapshot_index - prev_index) as usize;
            if skip >= entries.len() {
                let match_index = self.snapshot_index;
                let outcome = AppendOutcome::Success { match_index };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
                return;
            }
            entries.drain(..skip);
            prev_index = self.snapshot_index;
            prev_term = self.snapshot_term;
        }
        match self.term_at(prev_index) {
            None => {
                cx.reached("raft: append refused, previous entry missing");
                let outcome = AppendOutcome::Conflict {
                    rejected_prev,
                    conflict_term: None,
                    conflict_index: self.last_index() + 1,
                };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
            Some(t) if t != prev_term => {
                cx.reached("raft: append refused, previous entry of another term");
                let mut first = prev_index;
                while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(t) {
                    first -= 1;
                }
                let outcome = AppendOutcome::Conflict {
                    rejected_prev,
                    conflict_term: Some(t),
                    conflict_index: first,
                };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
            Some(_) => {
                let count = entries.len() as u64;
                let mut first_written = None;
                let (mut terms, mut digests) = (Vec::new(), Vec::new());
                for (k, e) in entries.into_iter().enumerate() {
                    let index = prev_index + 1 + k as u64;
                    if index <= self.last_index() {
                        if self.term_at(index) == Some(e.term) {
                            continue;
                        }
                        // Log Matching: everything from the first conflict on
                        // is replaced by the leader's entries.
                        cx.reached("raft: follower truncated a conflicting suffix");
                        let last = self.last_index();
                        self.truncate_from(cx, index);
                        trace(cx, RaftEvent::Truncate { index, last });
                        self.recompute_members(cx);
                    }
                    first_written.get_or_insert(index);
                    if cx.tracing() {
                        terms.push(e.term);
                        digests.push(e.digest());
                    }
                    let config = match &e.entry {
                        Entry::Config(m) => Some(m.clone()),
                        _ => None,
                    };
                    self.push_entry(cx, e);
                    if let Some(m) = config {
                        self.config_appended(cx, index, m);
                    }
                }
                if let Some(index) = first_written {
                    self.sync(cx);
                    if cx.tracing() {
                        trace(
                            cx,
                            RaftEvent::Accept {
                                index,
                                terms,
                                digests,
                            },
                        );
                    }
                }
                let match_index = prev_index + count;
                let commit = leader_commit.min(match_index);
                if commit > self.commit_index {
                    self.commit_index = commit;
                    self.apply(cx);
                }
                let outcome = AppendOutcome::Success { match_index };
                self.send(
                    cx,
                    from,
                    RaftMsg::AppendEntriesResponse {
                        term: self.term,
                        outcome,
                    },
                );
            }
        }
    }

    pub(super) fn handle_install_snapshot<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from: ProcessId,
        term: u64,
        last_index: u64,
        last_term: u64,
        data: SnapshotData,
    ) {
        if term < self.term {
            self.send(
                cx,
                from,
                RaftMsg::InstallSnapshotResponse {
                    term: self.term,
                    match_index: 0,
                },
            );
            return;
        }
        if !self.follow_leader(cx, term, from) {
            return;
        }
        if last_index <= self.commit_index {
            // Nothing new: our committed prefix already matches the leader's.
            let match_index = self.commit_index;
            self.send(
                cx,
                from,
                RaftMsg::InstallSnapshotResponse {
                    term: self.term,
                    match_index,
                },
            );
            return;
        }
        cx.reached("raft: snapshot installed from the leader");
        let snap = data.decode::<S>().unwrap_or_else(|e| {
            panic!(
                "{}: a leader's snapshot does not decode: {e}",
                cx.name(self.me)
            )
        });
        if self.term_at(last_index) == Some(last_term) {
            // Our log goes on past the snapshot and agrees with it: keep the rest.
            cx.reached("raft: installed snapshot kept the log tail");
            let drop = (last_index - self.snapshot_index) as usize;
            self.log.drain(..drop);
        } else {
            self.log.clear();
        }
        self.state = snap.state;
        self.snapshot_members = snap.members.unwrap_or_else(|| self.bootstrap.clone());
        self.snapshot_index = last_index;
        self.snapshot_term = last_term;
        self.commit_index = last_index;
        self.last_applied = last_index;
        let disk = cx.disk();
        disk.put(SNAPSHOT_KEY, data.bytes().to_vec());
        disk.compact(LOG_KEY, last_index);
        if self.log.is_empty() {
            disk.truncate(LOG_KEY, last_index);
        }
        self.sync(cx);
        let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(data.bytes()));
        let bytes = data.bytes().len() as u64;
        self.snapshot_data = Some(data);
        self.snapshot_installed = Some(last_index);
        trace(
            cx,
            RaftEvent::Snapshot {
                index: last_index,
                term: last_term,
                bytes,
                installed: true,
                digest,
            },
        );
        self.recompute_members(cx);
        self.send(
            cx,
            from,
            RaftMsg::InstallSnapshotResponse {
                term: self.term,
                match_index: last_index,
            },
        );
    }

    // ----- replication: leader side -----

    /// Sends the peer at `pos` what it lacks from its `next_index` on (none: a
    /// heartbeat), or the snapshot if those entries are compacted away.
    /// A message of the current term from leader `from`: follow it and
    /// restart the election clock. False when this member leads the same
    /// term (two leaders: only a planted bug gets here, and the checkers
    /// report it), and the message is then ignored.
    fn follow_leader<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        term: u64,
        from: ProcessId,
    ) -> bool {
        if self.role == Role::Leader {
            return false;
        }
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(cx, term, Some(from));
        }
        self.last_leader_contact = Some(cx.now());
        self.reset_election_deadline(cx);
        self.ask_leader_to_join(cx, from);
        true
    }

    pub(super) fn send_append<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>, pos: usize) {
        let to = self.peers[pos];
        let next = self.progress[pos]
            .next_index
            .clamp(1, self.last_index() + 1);
        if next <= self.snapshot_index {
            let now = cx.now();
            let resend_after = self.config.election_timeout.0;
            let due = self.progress[pos]
                .snapshot_sent_at
                .is_none_or(|t| now >= t + resend_after);
            if let (true, Some(data)) = (due, self.snapshot_data.clone()) {
                self.progress[pos].snapshot_sent_at = Some(now);
                cx.reached("raft: leader sent a snapshot to a lagging follower");
                let msg = RaftMsg::InstallSnapshot {
                    term: self.term,
                    last_index: self.snapshot_index,
                    last_term: self.snapshot_term,
                    data,
                };
                self.send(cx, to, msg);
            }
            return;
        }
        let prev_log_index = next - 1;
        let Some(prev_log_term) = self.term_at(prev_log_index) else {
            unreachable!(
                "prev {prev_log_index} is clamped to [snapshot, last] = [{}, {}]",
                self.snapshot_index,
                self.last_index()
            )
        };
        // A probe carries one entry: if it is rejected, little was sent in
        // vain; once the follower's log is known to match, entries go in
        // full batches. (Batching is an optimisation the paper leaves open.)
        // Fault point: one entry a message is legal, only slower.
        let batch = if self.progress[pos].probing || cx.buggify("raft/one-entry-batch") {
            1
        } else {
            self.config.max_entries_per_msg as u64
        };
        let end = self.last_index().min(prev_log_index + batch);
        let entries: Vec<_> = (next..=end)
            .filter_map(|i| self.entry_at(i).map(Rc::clone))
            .collect();
        self.progress[pos].inflight = !entries.is_empty();
        let msg = RaftMsg::AppendEntries {
            term: self.term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(cx, to, msg);
    }

    pub(super) fn handle_append_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        outcome: AppendOutcome,
    ) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        self.progress[from_pos].recent_active = true;
        self.progress[from_pos].last_heard = cx.now();
        match outcome {
            AppendOutcome::Success { match_index } => {
                let pr = &mut self.progress[from_pos];
                pr.inflight = false;
                pr.probing = false;
                pr.match_index = pr.match_index.max(match_index);
                pr.next_index = pr.next_index.max(pr.match_index + 1);
                self.maybe_commit(cx);
                self.tick_transfer(cx);
                if self.role == Role::Leader
                    && self.progress[from_pos].next_index <= self.last_index()
                {
                    self.send_append(cx, from_pos);
                }
                if self.membership_due() {
                    self.drive_membership(cx);
                }
            }
            AppendOutcome::Conflict {
                rejected_prev,
                conflict_term,
                conflict_index,
            } => {
                if rejected_prev + 1 != self.progress[from_pos].next_index {
                    cx.reached("raft: stale append answer ignored");
                    return; // stale: answers a request sent before we moved on
                }
                let mut next = conflict_index;
                if let Some(ct) = conflict_term {
                    // Skip the follower's whole conflicting term at once, or
                    // jump just past our own last entry of that term.
                    if let Some(i) = self.last_index_of_term(ct) {
                        next = i + 1;
                    }
                }
                let pr = &mut self.progress[from_pos];
                pr.next_index = next.min(pr.next_index - 1).max(1);
                // Below what it acknowledged: it lost acknowledged entries
                // (its disk was wiped). Start over from what it has now.
                pr.match_index = pr.match_index.min(pr.next_index - 1);
                pr.inflight = false;
                pr.probing = true;
                self.send_append(cx, from_pos);
            }
        }
    }

    /// Index of our last entry of `term`, if we hold one.
    pub(super) fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let mut i = self.last_index();
        while i > self.snapshot_index {
            let t = self.term_at(i)?;
            if t == term {
                return Some(i);
            }
            if t < term {
                return None; // terms only grow along the log
            }
            i -= 1;
        }
        None
    }

    pub(super) fn handle_snapshot_response<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        from_pos: usize,
        term: u64,
        match_index: u64,
    ) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let now = cx.now();
        let pr = &mut self.progress[from_pos];
        pr.recent_active = true;
        pr.last_heard = now;
        pr.snapshot_sent_at = None;
        pr.inflight = false;
        pr.probing = false;
        pr.match_index = pr.match_index.max(match_index);
        pr.next_index = pr.match_index + 1;
        self.maybe_commit(cx);
        if self.role == Role::Leader && self.progress[from_pos].next_index <= self.last_index() {
            self.send_append(cx, from_pos);
        }
        if self.membership_due() {
            self.drive_membership(cx);
        }
    }

    /// The commit rule: the highest index held by a majority, if its entry is
    /// of the current term (earlier terms' entries commit with it).
    pub(super) fn maybe_commit<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.role != Role::Leader {
            return;
        }
        // Only the voters of the configuration in force count (the
        // leader itself only if it is one); a retiring voter holds nothing.
        let mut matches: Vec<u64> = self
            .progress
            .iter()
            .enumerate()
            .filter(|(pos, _)| self.members.is_voter(self.peers[*pos]))
            .map(|(_, p)| p.match_index)
            .collect();
        matches.resize(self.members.size().max(matches.len()), 0);
        if matches.is_empty() {
            return;
        }
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let n = matches[(self.quorum() - 1).min(matches.len() - 1)];
        if n <= self.commit_index {
            return;
        }
        if self.term_at(n) != Some(self.term) {
            cx.reached("raft: earlier-term entry waits for a current-term commit");
        }
        // The planted Figure 8 bug: commit by counting whatever the term.
        if self.term_at(n) == Some(self.term)
            || self.config.planted.has(RaftBug::CommitOldTermByCounting)
        {
            self.commit_index = n;
            self.apply(cx);
        }
    }

    // ----- applying and compaction -----

    pub(super) fn apply<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let upto = self.commit_index.min(self.last_index());
        while self.last_applied < upto {
            let index = self.last_applied + 1;
            // `entry_at`, borrowing the log alone (not cloned: the state
            // machine and the applied queue are other fields).
            let at = index
                .checked_sub(self.snapshot_index + 1)
                .expect("entries past the snapshot are in memory") as usize;
            let e = self
                .log
                .get(at)
                .expect("entries past the snapshot are in memory");
            if let Entry::Command(c) = &e.entry {
                self.state.apply(index, c);
                if self.applied.len() >= MAX_APPLIED_QUEUE {
                    self.applied.pop_front();
                    self.applied_dropped += 1;
                }
                self.applied.push_back((index, c.clone()));
            }
            self.last_applied = index;
            if cx.tracing() {
                let digest = e.digest();
                debug_assert_eq!(digest, e.value.digest());
                let entry = e.describe().to_string();
                trace(
                    cx,
                    RaftEvent::Commit {
                        index,
                        term: e.term,
                        entry,
                        digest,
                    },
                );
            }
        }
        self.maybe_snapshot(cx);
    }
}
