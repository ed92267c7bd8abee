//! What a data node reads instead of looking again: `Partitions::seen` /
//! `unchanged_since` tell a partition unchanged exactly when its
//! configuration is equal, across versions that share or copy its chunk;
//! `MapUpdate::naming` lists exactly the commands of a delta that name a
//! node, as a scan of the commands finds them.

use std::rc::Rc;

use partsim::stack::cluster::MapUpdate;
use partsim::stack::grid::{ClusterMap, Geometry, MapCommand, Partitions, Replica};

fn replica(node: &str, in_sync: bool) -> Replica {
    Replica {
        node: node.into(),
        in_sync,
    }
}

#[test]
fn unchanged_since_agrees_with_comparing_the_configuration() {
    let mut parts = Partitions::new(200);
    let nodes = ["n1", "n2", "n3", "n10"];
    // What a reader saw of every partition, and the configuration then.
    let mut seen: Vec<_> = (0..200).map(|p| parts.seen(p).expect("in range")).collect();
    let mut was: Vec<_> = (0..200).map(|p| parts[p].clone()).collect();
    for step in 0..400usize {
        // A version shared with the reader (a clone), then changed: the
        // changed partition's chunk is copied.
        let before = parts.clone();
        let p = (step * 37) % 200;
        match step % 5 {
            0 => parts[p].replicas = vec![replica(nodes[step % 4], true)],
            1 => parts[p].epoch += 1,
            // The same value written again: a copied chunk, equal content.
            2 => parts[p] = parts[p].clone(),
            3 => parts.update_where(
                |c| c.replicas.iter().any(|r| r.node == "n2"),
                |c| c.primary = Some("n2".into()),
            ),
            _ => {}
        }
        drop(before);
        for q in 0..200 {
            let equal = parts[q] == was[q];
            assert_eq!(
                parts.unchanged_since(q, &mut seen[q]),
                equal,
                "step {step}, partition {q}"
            );
            if !equal {
                seen[q] = parts.seen(q).expect("in range");
                was[q] = parts[q].clone();
            }
            // Moved on to this version's chunk: unchanged again.
            assert!(parts.unchanged_since(q, &mut seen[q]));
        }
    }
    assert!(Partitions::new(3).seen(3).is_none());
}

fn scan(commands: &[(u64, MapCommand)], node: &str) -> Vec<(u64, Option<u32>)> {
    let mut out = Vec::new();
    for (i, c) in commands {
        match c {
            MapCommand::SetReplicas {
                partition,
                replicas,
                primary,
                ..
            } => {
                for r in replicas {
                    if r.node == node {
                        out.push((*i, Some(*partition)));
                    }
                }
                if primary.as_deref() == Some(node) {
                    out.push((*i, Some(*partition)));
                }
            }
            MapCommand::PromotePrimary {
                partition, node: n, ..
            } => {
                if n == node {
                    out.push((*i, Some(*partition)));
                }
            }
            MapCommand::AddNode { node: n, .. }
            | MapCommand::RemoveNode { node: n }
            | MapCommand::MarkDead { node: n }
            | MapCommand::MarkAlive { node: n }
            | MapCommand::Drain { node: n } => {
                if n == node {
                    out.push((*i, None));
                }
            }
        }
    }
    out
}

#[test]
fn delta_naming_lists_what_a_scan_of_the_commands_finds() {
    let nodes = ["n1", "n2", "n3", "n10", "n11"];
    let mut commands = Vec::new();
    for i in 0..300u64 {
        let a = nodes[(i % 5) as usize];
        let b = nodes[((i / 5) % 5) as usize];
        let c = match i % 9 {
            0 => MapCommand::AddNode {
                node: a.into(),
                zone: "z".into(),
                capacity: 1,
                boot: 1,
            },
            1 => MapCommand::MarkDead { node: a.into() },
            2 => MapCommand::PromotePrimary {
                partition: (i % 17) as u32,
                epoch: 0,
                generation: None,
                node: b.into(),
            },
            3 => MapCommand::RemoveNode { node: b.into() },
            // A node listed twice, and as primary.
            _ => MapCommand::SetReplicas {
                partition: (i % 23) as u32,
                epoch: 0,
                generation: None,
                replicas: vec![replica(a, true), replica(b, false), replica(a, false)],
                primary: (i % 2 == 0).then(|| b.into()),
                empty: false,
                unheard: Vec::new(),
            },
        };
        commands.push((i + 1, c));
    }
    let geometry = Geometry {
        width: 64,
        height: 32,
        tile_w: 16,
        tile_h: 16,
    };
    let update = MapUpdate::Delta {
        base: 0,
        commands: commands.clone(),
        result: Rc::new(ClusterMap::new(geometry, 2)),
        naming: Default::default(),
    };
    for node in nodes.iter().chain(&["n4", "n"]) {
        assert_eq!(
            update.naming(node),
            scan(&commands, node).as_slice(),
            "{node}"
        );
    }
    assert!(
        MapUpdate::Full(Rc::new(ClusterMap::new(geometry, 2)))
            .naming("n1")
            .is_empty()
    );
}
