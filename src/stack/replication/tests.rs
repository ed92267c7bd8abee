//! The data-plane harness: data nodes that host only a
//! [`ReplicationManager`], maps handed to them from outside (no managers),
//! and a client process that forwards requests and keeps the answers; and
//! the unit tests that drive it.

use std::collections::BTreeMap;

use super::*;
use crate::sim::{Message, NetConfig, SimTime, TimerKind, World};
use crate::stack::consensus::StateMachine;
use crate::stack::grid::{Geometry, MapCommand};

#[derive(Clone, Debug)]
enum TMsg {
    Data(DataMsg),
    /// From outside: apply this map.
    Map(Box<ClusterMap>),
    /// From outside, to the client: send this request to that node.
    Ask(ProcessId, Request),
}

impl Message for TMsg {
    fn name(&self) -> &'static str {
        match self {
            TMsg::Data(d) => d.name(),
            TMsg::Map(_) => "Map",
            TMsg::Ask(..) => "Ask",
        }
    }
}

impl From<DataMsg> for TMsg {
    fn from(m: DataMsg) -> Self {
        TMsg::Data(m)
    }
}

#[derive(Copy, Clone, Debug)]
struct TTimer(DataTimer);

impl TimerKind for TTimer {
    fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl From<DataTimer> for TTimer {
    fn from(t: DataTimer) -> Self {
        TTimer(t)
    }
}

/// A data node's data plane, or (hosting nothing) a client.
struct Host {
    repl: ReplicationManager,
    map: ClusterMap,
    boot: u32,
    /// The answers this process got, in order.
    answers: Vec<Response>,
}

impl Process for Host {
    type Msg = TMsg;
    type Timer = TTimer;
    type Event = StackEvent;

    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        self.repl.on_start(cx, self.boot);
    }

    fn on_message(&mut self, cx: &mut Cx<'_, Self>, from: ProcessId, msg: TMsg) {
        match msg {
            TMsg::Map(m) => {
                self.map = *m;
                self.repl.on_map(cx, &self.map, &|_| false);
            }
            TMsg::Ask(to, req) => cx.send(to, TMsg::Data(DataMsg::Request(req))),
            TMsg::Data(DataMsg::Response(r)) => self.answers.push(r),
            TMsg::Data(d) => self.repl.on_message(cx, from, d, &self.map),
        }
        // A data node records these on its disk; nothing here reads them.
        self.repl.take_synced();
    }

    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, t: TTimer) {
        match t.0 {
            DataTimer::Tick => self.repl.on_tick(cx),
            DataTimer::Scrub => self.repl.on_scrub(cx, &self.map),
            _ => {}
        }
    }
}

const N1: ProcessId = ProcessId(0);
const N2: ProcessId = ProcessId(1);
const C1: ProcessId = ProcessId(2);

/// n1, n2 and the client c1; a node's boot is 7, then one more at each
/// restart (what the maps below name).
fn world() -> World<Host> {
    let mut starts: BTreeMap<String, u32> = BTreeMap::new();
    World::new(
        1,
        vec!["n1".into(), "n2".into(), "c1".into()],
        NetConfig::default(),
        Box::new(move |_, name| {
            let n = starts.entry(name.to_string()).or_insert(0);
            *n += 1;
            Host {
                repl: ReplicationManager::new(name, Planted::NONE),
                map: ClusterMap::new(geometry(), 2),
                boot: 6 + *n,
                answers: Vec::new(),
            }
        }),
    )
}

fn add_node(m: &mut ClusterMap, index: u64, node: &str, boot: u32) {
    m.apply(
        index,
        &MapCommand::AddNode {
            node: node.into(),
            zone: "a".into(),
            capacity: 1,
            boot,
        },
    );
}

/// One partition, p0.
fn geometry() -> Geometry {
    Geometry {
        width: 2,
        height: 2,
        tile_w: 2,
        tile_h: 2,
    }
}

/// p0 with n1 its primary, in sync, and n2 catching up.
fn n2_catching_up() -> ClusterMap {
    let mut m = ClusterMap::new(geometry(), 2);
    add_node(&mut m, 1, "n1", 7);
    add_node(&mut m, 2, "n2", 7);
    m.apply(
        3,
        &MapCommand::SetReplicas {
            partition: 0,
            epoch: 0,
            generation: None,
            replicas: vec![
                crate::stack::grid::Replica {
                    node: "n1".into(),
                    in_sync: true,
                },
                crate::stack::grid::Replica {
                    node: "n2".into(),
                    in_sync: false,
                },
            ],
            primary: Some("n1".into()),
            empty: false,
            unheard: Vec::new(),
        },
    );
    m
}

fn write(seq: u64, cell: u64, value: u64) -> Request {
    Request {
        client: 1,
        seq,
        partition: 0,
        op: ClientOp::Write { cell, value },
    }
}

fn ms(t: u64) -> SimTime {
    SimTime(t * 1000)
}

/// A follower declared caught up records the epoch as synced on its disk
/// (a re-seed takes such a copy to hold every write acknowledged in that
/// epoch). Its node restarting within the epoch does not let the primary
/// acknowledge a write without it: the write waits until the new
/// incarnation caught up again (no-bug hunt seed 17, run 10,563: n4
/// acknowledged a write of epoch 4 alone after n2 restarted, and the
/// re-seed from n2's copy, synced in epoch 4, dropped it).
#[test]
fn a_follower_declared_caught_up_counts_for_every_ack_of_the_epoch_across_its_restart() {
    let mut w = world();
    for p in [N1, N2, C1] {
        w.start(p);
    }
    let m = n2_catching_up();
    let epoch = m.partitions[0].epoch;
    w.inject(ms(1), N1, TMsg::Map(Box::new(m.clone())), None);
    w.inject(ms(1), N2, TMsg::Map(Box::new(m.clone())), None);
    w.run_until(ms(200));
    assert!(
        w.process(N2).unwrap().repl.caught_up(0, epoch),
        "n1 declared n2 caught up"
    );
    // A first write needs n2's ack, and gets it.
    w.inject(ms(200), C1, TMsg::Ask(N1, write(1, 0, 10)), None);
    w.run_until(ms(400));
    assert_eq!(w.process(C1).unwrap().answers.len(), 1);
    assert_eq!(w.process(C1).unwrap().answers[0].outcome, Outcome::Done);

    // n2 crashes, and registers again with a new boot (the map raises no
    // epoch: it counted n2 catching up), but is not back yet.
    assert!(w.crash(N2));
    let mut m2 = m.clone();
    add_node(&mut m2, 4, "n2", 8);
    assert_eq!(m2.partitions[0].epoch, epoch, "no new epoch");
    w.inject(ms(410), N1, TMsg::Map(Box::new(m2.clone())), None);
    w.inject(ms(420), C1, TMsg::Ask(N1, write(2, 1, 11)), None);
    w.run_until(ms(1_000));
    assert_eq!(
        w.process(C1).unwrap().answers.len(),
        1,
        "not acknowledged without n2, whose disk says it holds epoch {epoch}'s writes"
    );

    // Back, n2 takes the partition again and the write is acknowledged.
    assert!(w.restart(N2));
    w.inject(ms(1_001), N2, TMsg::Map(Box::new(m2)), None);
    w.run_until(ms(2_000));
    let answers = &w.process(C1).unwrap().answers;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!((answers[1].seq, &answers[1].outcome), (2, &Outcome::Done));
    let n2 = w.process(N2).unwrap();
    assert!(
        n2.repl.caught_up(0, epoch),
        "declared to the new incarnation"
    );
    assert_eq!(n2.repl.parts[&0].store.index(), 2, "it holds both writes");
}
