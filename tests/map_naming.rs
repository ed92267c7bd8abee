//! `Partitions::naming` — the per-version index a data node reads instead
//! of scanning every partition — finds exactly what a scan finds, after
//! every kind of change, on the changed value and on a clone of it.

use partsim::stack::grid::{Partitions, Replica};

fn replica(node: &str, in_sync: bool) -> Replica {
    Replica {
        node: node.into(),
        in_sync,
    }
}

fn scan(parts: &Partitions, node: &str) -> Vec<u32> {
    (0..parts.len())
        .filter(|&p| parts[p].replicas.iter().any(|r| r.node == node))
        .map(|p| p as u32)
        .collect()
}

#[test]
fn naming_finds_what_a_scan_finds_and_forgets_at_every_change() {
    let mut parts = Partitions::new(200);
    let nodes = ["n1", "n2", "n3", "n10"];
    for step in 0..300usize {
        let p = (step * 37) % 200;
        let a = nodes[step % 4];
        let b = nodes[(step / 4) % 4];
        // A node listed twice (a broken map) is named once.
        parts[p].replicas = vec![replica(a, true), replica(b, false)];
        if step % 7 == 0 {
            parts.update_where(
                |c| c.replicas.iter().any(|r| r.node == "n2"),
                |c| c.replicas.retain(|r| r.node != "n2"),
            );
        }
        if step % 11 == 0
            && let Some(c) = parts.get_mut(p)
        {
            c.replicas.clear();
        }
        let clone = parts.clone();
        for n in nodes.iter().chain(&["n4"]) {
            assert_eq!(
                parts.naming(n),
                scan(&parts, n).as_slice(),
                "{n} at step {step}"
            );
            assert_eq!(clone.naming(n), parts.naming(n), "{n} at step {step}");
        }
    }
}
