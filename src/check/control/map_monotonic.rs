//! The `map_monotonic` checker.

use std::collections::BTreeMap;

use crate::check::{Checker, Traffic};
use crate::sim::{Event, EventKind, ProcessId, Violation};
use crate::stack::events::StackEvent;

/// `map_monotonic`: no process ever applies an older map version than it
/// had. Judged per incarnation: a restarted process rebuilds its map (a
/// manager from its snapshot, a data node from the leader).
#[derive(Debug, Default)]
pub struct MapMonotonic {
    last: BTreeMap<ProcessId, u64>,
}

impl Checker for MapMonotonic {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "map_monotonic"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        match ev.kind {
            EventKind::Start | EventKind::Restart | EventKind::Crash { .. } => {
                self.last.remove(&ev.p);
            }
            EventKind::App(StackEvent::Map { version }) => {
                let last = self.last.entry(ev.p).or_insert(0);
                if *version < *last {
                    out.push(Violation {
                        check: "map_monotonic",
                        detail: format!(
                            "{} applied map version {version} after version {last}",
                            ev.p.name_in(names)
                        ),
                    });
                }
                *last = (*last).max(*version);
            }
            _ => {}
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::control::testkit::*;

    #[test]
    fn map_monotonic_flags_an_older_version_within_an_incarnation() {
        let (v5, v3) = (
            StackEvent::Map { version: 5 },
            StackEvent::Map { version: 3 },
        );
        let ok = [
            (1, EventKind::App(&v5)),
            (1, EventKind::Restart),
            (1, EventKind::App(&v3)),
        ];
        assert!(feed(&mut MapMonotonic::default(), &ok).is_empty());
        let bad = [(1, EventKind::App(&v5)), (1, EventKind::App(&v3))];
        let v = feed(&mut MapMonotonic::default(), &bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].detail, "n1 applied map version 3 after version 5");
    }
}
