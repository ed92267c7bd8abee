//! Persistence: term, vote, log and snapshot on the host's disk, loading
//! them at start, and compacting the log into snapshots.

use std::rc::Rc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::RaftBug;
use super::membership::Membership;
use super::{
    ConsensusManager, Entry, LOG_KEY, LogEntry, RaftEvent, RaftHost, SNAPSHOT_KEY, SnapshotData,
    StateMachine, StoredEntry, TERM_KEY, VOTE_KEY, trace,
};
use crate::sim::{Cx, ProcessId};

/// A snapshot's bytes: what `serde_json` writes for a [`SnapshotRef`],
/// with the state written by [`StateMachine::write_json`] (which may keep
/// parts of its text from the last snapshot). `len_hint`: the last
/// snapshot's length.
pub(super) fn snapshot_json<S: StateMachine>(
    index: u64,
    term: u64,
    state: &S,
    members: &Membership,
    len_hint: usize,
) -> Vec<u8> {
    // Room for the state to have grown by an eighth since: growing the
    // vector while writing copies what is written so far.
    let mut out = Vec::with_capacity(len_hint + len_hint / 8 + 64);
    out.extend_from_slice(b"{\"index\":");
    out.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    out.extend_from_slice(b",\"term\":");
    out.extend_from_slice(itoa::Buffer::new().format(term).as_bytes());
    out.extend_from_slice(b",\"state\":");
    state.write_json(&mut out);
    out.extend_from_slice(b",\"members\":");
    serde_json::to_writer(&mut out, members).expect("a membership serializes to JSON");
    out.push(b'}');
    out
}

/// The snapshot of `state` at `index`: its bytes ([`snapshot_json`]) and,
/// beside them, the value they were made from (see [`SnapshotData`]),
/// which is what decoding them gives — a `Some` membership included, since
/// the bytes always hold one.
pub(super) fn snapshot_of<S: StateMachine>(
    index: u64,
    term: u64,
    state: &S,
    members: &Membership,
    len_hint: usize,
) -> SnapshotData {
    let bytes = snapshot_json(index, term, state, members, len_hint);
    let decoded = SnapshotOwned {
        index,
        term,
        state: state.clone(),
        members: Some(members.clone()),
    };
    SnapshotData::new(bytes, decoded)
}

/// A snapshot as `serde_json` would write it whole (what
/// [`snapshot_json`] must equal).
#[cfg(test)]
#[derive(serde::Serialize)]
pub(super) struct SnapshotRef<'a, S> {
    pub(super) index: u64,
    pub(super) term: u64,
    pub(super) state: &'a S,
    pub(super) members: &'a Membership,
}

/// What a snapshot's bytes decode to.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(bound = "S: DeserializeOwned")]
pub(super) struct SnapshotOwned<S> {
    pub(super) index: u64,
    pub(super) term: u64,
    pub(super) state: S,
    /// Absent in snapshots written before membership changes existed:
    /// the bootstrap group then.
    #[serde(default)]
    pub(super) members: Option<Membership>,
}

impl<S: StateMachine> ConsensusManager<S> {
    // ----- persistence -----

    pub(super) fn load<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let who = cx.name(self.me).to_string();
        let disk = cx.disk();
        self.term = match disk.get(TERM_KEY) {
            Ok(None) => 0,
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {TERM_KEY} holds no term ({e}); it is fsynced whenever written")
            }),
            Err(e) => {
                panic!("{who}: {e}: {TERM_KEY} is fsynced whenever written and cannot be torn")
            }
        };
        let vote: Option<u32> = match disk.get(VOTE_KEY) {
            Ok(None) => None,
            Ok(Some(b)) => serde_json::from_slice(b).unwrap_or_else(|e| {
                panic!("{who}: {VOTE_KEY} holds no vote ({e}); it is fsynced whenever written")
            }),
            Err(e) => {
                panic!("{who}: {e}: {VOTE_KEY} is fsynced whenever written and cannot be torn")
            }
        };
        self.voted_for = vote.map(ProcessId);
        match disk.get(SNAPSHOT_KEY) {
            Ok(None) => {}
            Ok(Some(b)) => {
                let snap: SnapshotOwned<S> = serde_json::from_slice(b).unwrap_or_else(|e| {
                    panic!("{who}: {SNAPSHOT_KEY} does not decode ({e}); it is fsynced whenever written")
                });
                self.snapshot_index = snap.index;
                self.snapshot_term = snap.term;
                self.state = snap.state.clone();
                self.snapshot_members = snap
                    .members
                    .clone()
                    .unwrap_or_else(|| self.bootstrap.clone());
                self.snapshot_data = Some(SnapshotData::new(b.to_vec(), snap));
            }
            Err(e) => {
                panic!("{who}: {e}: {SNAPSHOT_KEY} is fsynced whenever written and cannot be torn")
            }
        }
        let (start, end) = (disk.log_start(LOG_KEY), disk.log_end(LOG_KEY));
        // Disk record `i` is Raft index `i + 1`; compaction up to the
        // snapshot and the snapshot itself are fsynced together.
        assert!(
            start <= self.snapshot_index,
            "{who}: the log starts after index {start} but the snapshot covers only up to {}",
            self.snapshot_index
        );
        self.log.clear();
        let mut torn = false;
        for i in self.snapshot_index..end {
            match disk.entry(LOG_KEY, i) {
                Ok(Some(b)) => {
                    let e: LogEntry<S::Command> = serde_json::from_slice(b).unwrap_or_else(|e| {
                        panic!("{who}: {LOG_KEY}[{i}] passed its checksum but does not decode: {e}")
                    });
                    // Encoded and hashed now, as `digest` would (not the
                    // disk's bytes): the traced digests stay what they were.
                    self.log.push_back(StoredEntry::new(e));
                }
                Ok(None) => break,
                Err(_) => {
                    // A torn tail: never fsynced, so never acknowledged.
                    torn = true;
                    disk.truncate(LOG_KEY, i);
                    disk.fsync();
                    break;
                }
            }
        }
        if torn {
            cx.reached("raft: torn log tail truncated at restart");
        }
        self.commit_index = self.snapshot_index;
        self.last_applied = self.snapshot_index;
        let disk_empty = self.term == 0 && self.snapshot_index == 0 && self.log.is_empty();
        self.load_incarnation(cx, disk_empty);
        // The membership in force: traced by `on_start` whatever it is.
        let found = self
            .log
            .iter()
            .enumerate()
            .rev()
            .find_map(|(k, e)| match &e.entry {
                Entry::Config(m) => Some((self.snapshot_index + 1 + k as u64, m.clone())),
                _ => None,
            });
        (self.members_index, self.members) = found.unwrap_or((0, self.snapshot_members.clone()));
    }

    /// Makes every buffered write durable (and, under the planted
    /// `VoteBeforeFsync`, writes the vote that was held back).
    pub(super) fn sync<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        if self.vote_unsynced {
            self.vote_unsynced = false;
            let vote = serde_json::to_vec(&self.voted_for.map(|p| p.0)).expect("a vote serializes");
            cx.disk().put(VOTE_KEY, vote);
        }
        cx.disk().fsync();
    }

    /// Writes term and vote and fsyncs them.
    pub(super) fn persist_hard_state<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let term = serde_json::to_vec(&self.term).expect("a term serializes");
        let vote = serde_json::to_vec(&self.voted_for.map(|p| p.0)).expect("a vote serializes");
        self.vote_unsynced = false;
        let disk = cx.disk();
        disk.put(TERM_KEY, term);
        disk.put(VOTE_KEY, vote);
        self.sync(cx);
    }

    // ----- log helpers -----

    pub(super) fn last_term(&self) -> u64 {
        self.log.back().map_or(self.snapshot_term, |e| e.term)
    }

    /// Term of the entry at `index`: `None` if compacted away (below the
    /// snapshot) or past the end.
    pub(super) fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            Some(self.snapshot_term)
        } else {
            self.entry_at(index).map(|e| e.term)
        }
    }

    pub(super) fn entry_at(&self, index: u64) -> Option<&Rc<StoredEntry<S::Command>>> {
        if index <= self.snapshot_index {
            return None;
        }
        self.log.get((index - self.snapshot_index - 1) as usize)
    }

    /// Is a candidate's log (`last_index`, `last_term`) at least as up to date as ours?
    pub(super) fn log_ok(&self, last_index: u64, last_term: u64) -> bool {
        if self.config.planted.has(RaftBug::VoteWithoutLogCheck) {
            return true;
        }
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Drops entries at `index` and after, in memory and on disk (unsynced).
    pub(super) fn truncate_from<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        index: u64,
    ) {
        let keep = index.saturating_sub(self.snapshot_index + 1) as usize;
        self.log.truncate(keep);
        cx.disk().truncate(LOG_KEY, index - 1);
    }

    /// Appends one entry in memory and on disk (unsynced).
    pub(super) fn push_entry<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        e: Rc<StoredEntry<S::Command>>,
    ) {
        cx.disk().append(LOG_KEY, e.encoded().to_vec());
        self.log.push_back(e);
    }

    /// A leader appends a new entry, fsyncs it and traces `Append`.
    pub(super) fn append_as_leader<P: RaftHost<S::Command>>(
        &mut self,
        cx: &mut Cx<'_, P>,
        entry: Entry<S::Command>,
    ) -> u64 {
        let config = match &entry {
            Entry::Config(m) => Some(m.clone()),
            _ => None,
        };
        let e = StoredEntry::new(LogEntry {
            term: self.term,
            entry,
        });
        let traced = cx.tracing().then(|| e.describe().to_string());
        self.push_entry(cx, e);
        self.sync(cx);
        let index = self.last_index();
        self.progress[self.me_pos].match_index = index;
        self.progress[self.me_pos].next_index = index + 1;
        if let Some(entry) = traced {
            trace(
                cx,
                RaftEvent::Append {
                    index,
                    term: self.term,
                    entry,
                },
            );
        }
        if let Some(m) = config {
            self.config_appended(cx, index, m);
        }
        index
    }

    /// Snapshots the state machine after `snapshot_every` applied entries and
    /// compacts the log up to it, in memory and on disk.
    pub(super) fn maybe_snapshot<P: RaftHost<S::Command>>(&mut self, cx: &mut Cx<'_, P>) {
        let since = self.last_applied - self.snapshot_index;
        // Fault point: compaction at any applied index is legal; early
        // snapshots send lagging followers `InstallSnapshot` more often.
        if since < self.config.snapshot_every && !(since > 0 && cx.buggify("raft/compact-early")) {
            return;
        }
        let index = self.last_applied;
        // Only a planted bug (a committed entry truncated away) leaves the
        // applied index past the log; the checkers report that, not a panic.
        let Some(term) = self.term_at(index) else {
            return;
        };
        let members = self.members_at(index);
        let data = snapshot_of(
            index,
            term,
            &self.state,
            &members,
            self.snapshot_data.as_ref().map_or(0, |d| d.bytes().len()),
        );
        let len = data.bytes().len() as u64;
        let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(data.bytes()));
        let disk = cx.disk();
        disk.put(SNAPSHOT_KEY, data.bytes().to_vec());
        disk.compact(LOG_KEY, index);
        self.sync(cx);
        let drop = (index - self.snapshot_index) as usize;
        self.log.drain(..drop);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_members = members;
        self.snapshot_data = Some(data);
        trace(
            cx,
            RaftEvent::Snapshot {
                index,
                term,
                bytes: len,
                installed: false,
                digest,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::grid::{ClusterMap, Geometry, MapCommand, Replica};

    #[test]
    fn a_snapshot_is_what_serde_json_writes() {
        let geometry = Geometry {
            width: 100,
            height: 1,
            tile_w: 1,
            tile_h: 1,
        };
        let mut map = ClusterMap::new(geometry, 1);
        let members =
            Membership::bootstrap(&[ProcessId(0), ProcessId(2)]).with_learner(ProcessId(5), 3);
        let whole = |map: &ClusterMap, index, term| {
            serde_json::to_vec(&SnapshotRef {
                index,
                term,
                state: map,
                members: &members,
            })
            .unwrap()
        };
        assert_eq!(snapshot_json(0, 0, &map, &members, 0), whole(&map, 0, 0));
        map.apply(
            7,
            &MapCommand::AddNode {
                node: "n1".into(),
                zone: "z1".into(),
                capacity: 2,
                boot: 1,
            },
        );
        map.partitions[70].primary = Some("n1".into());
        let bytes = snapshot_json(u64::MAX, 12, &map, &members, 10);
        assert_eq!(bytes, whole(&map, u64::MAX, 12));
        let back: SnapshotOwned<ClusterMap> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.state, map);
    }

    /// `data` carries what decoding its bytes gives.
    fn assert_value_is_the_decoding(data: &SnapshotData) {
        let decoded: SnapshotOwned<ClusterMap> = serde_json::from_slice(data.bytes()).unwrap();
        assert_eq!(data.decode::<ClusterMap>().unwrap(), decoded);
    }

    /// A map with every kind of content: members alive, dead and draining
    /// (more than one chunk of them, ids that JSON escapes), partitions
    /// with and without a primary, replicas in sync and not, and the
    /// records `lost_at`, `left`, `primary_at` and `dropped`.
    fn full_map() -> ClusterMap {
        let geometry = Geometry {
            width: 150,
            height: 1,
            tile_w: 1,
            tile_h: 1,
        };
        let mut map = ClusterMap::new(geometry, 3);
        let mut index = 0;
        let mut apply = |map: &mut ClusterMap, cmd: MapCommand| {
            index += 1;
            map.apply(index, &cmd);
        };
        let names: Vec<String> = (0..150)
            .map(|i| format!("n{i:03}"))
            .chain(["q\"\\\u{1}é".to_string()])
            .collect();
        for (i, n) in names.iter().enumerate() {
            let cmd = MapCommand::AddNode {
                node: n.clone(),
                zone: format!("z{}", i % 3),
                capacity: 1 + i as u32 % 4,
                boot: i as u32 * 7919,
            };
            apply(&mut map, cmd);
        }
        apply(
            &mut map,
            MapCommand::MarkDead {
                node: names[1].clone(),
            },
        );
        apply(
            &mut map,
            MapCommand::Drain {
                node: names[2].clone(),
            },
        );
        let replica = |n: usize, in_sync| Replica {
            node: names[n].clone().into(),
            in_sync,
        };
        let set = |partition: u32, replicas: Vec<Replica>, primary: Option<usize>, empty| {
            MapCommand::SetReplicas {
                partition,
                epoch: 0,
                generation: None,
                replicas,
                primary: primary.map(|n| names[n].clone().into()),
                empty,
                unheard: vec![],
            }
        };
        let cmd = set(
            0,
            vec![replica(150, true), replica(1, true)],
            Some(150),
            false,
        );
        apply(&mut map, cmd);
        let cmd = set(70, vec![replica(3, false)], None, true);
        apply(&mut map, cmd);
        // Partition 0 drops the dead node (recorded as `dropped`) and
        // takes a replica out of sync (recorded as `left`).
        let cmd = MapCommand::SetReplicas {
            partition: 0,
            epoch: 1,
            generation: None,
            replicas: vec![replica(150, false), replica(4, true)],
            primary: Some(names[4].clone().into()),
            empty: false,
            unheard: vec![],
        };
        apply(&mut map, cmd);
        let p = &map.partitions[0];
        assert!(!p.dropped.is_empty() && !p.left.is_empty() && !p.primary_at.is_empty());
        assert!(map.partitions[70].lost_at.is_some());
        map
    }

    #[test]
    fn a_snapshot_carries_what_its_bytes_decode_to() {
        let geometry = Geometry {
            width: 3,
            height: 1,
            tile_w: 1,
            tile_h: 1,
        };
        let bootstrap = Membership::bootstrap(&[ProcessId(0), ProcessId(1), ProcessId(2)]);
        // A learner, and a voter replaced by a new incarnation (retiring).
        let learner = bootstrap.with_learner(ProcessId(5), 3);
        let retiring = learner.with_learner(ProcessId(1), 4);
        assert!(!retiring.retiring.is_empty());
        for members in [Membership::default(), bootstrap, learner, retiring] {
            let empty = ClusterMap::new(geometry, 1);
            assert_value_is_the_decoding(&snapshot_of(0, 0, &empty, &members, 0));
            let full = full_map();
            assert_value_is_the_decoding(&snapshot_of(9, 4, &full, &members, 0));
        }
    }

    /// A state machine whose JSON is a `TestSm`'s.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
    struct Twin {
        count: u64,
        chain: u64,
        last: u64,
    }

    impl StateMachine for Twin {
        type Command = u64;
        fn apply(&mut self, _: u64, _: &u64) {}
    }

    #[test]
    fn a_snapshot_of_another_state_machine_is_decoded_from_its_bytes() {
        let mut sm = super::super::tests::TestSm::default();
        sm.apply(1, &42);
        let members = Membership::bootstrap(&[ProcessId(0)]);
        let data = snapshot_of(1, 1, &sm, &members, 0);
        let twin = data.decode::<Twin>().unwrap();
        assert_eq!((twin.index, twin.term, twin.members), (1, 1, Some(members)));
        assert_eq!((twin.state.count, twin.state.last), (1, 42));
        assert!(data.decode::<ClusterMap>().is_err());
    }
}
