//! The `auth` checker.

use std::collections::BTreeMap;

use crate::check::{Checker, Traffic};
use crate::sim::{Event, EventKind, Violation};
use crate::stack::events::{MemberChange, StackEvent};

/// `auth`: no process without the cluster key ever becomes a member. The
/// cluster key is the one the managers hold (they trace `placement_config`);
/// every process traces the fingerprint of its key at start.
#[derive(Debug, Default)]
pub struct Auth {
    keys: BTreeMap<String, String>,
    cluster_key: Option<String>,
}

impl Checker for Auth {
    fn traffic(&self) -> Traffic {
        Traffic::NONE
    }

    fn name(&self) -> &'static str {
        "auth"
    }

    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], out: &mut Vec<Violation>) {
        let EventKind::App(app) = ev.kind else { return };
        match app {
            StackEvent::Credentials { key_id } => {
                self.keys
                    .insert(ev.p.name_in(names).to_string(), key_id.clone());
            }
            StackEvent::PlacementConfig { .. } if self.cluster_key.is_none() => {
                self.cluster_key = self.keys.get(ev.p.name_in(names)).cloned();
            }
            StackEvent::Member {
                node,
                state: MemberChange::Joined | MemberChange::Alive,
                ..
            } => {
                if let (Some(k), Some(cluster)) = (self.keys.get(node), &self.cluster_key)
                    && k != cluster
                {
                    out.push(Violation {
                        check: "auth",
                        detail: format!(
                            "{node} became a member holding key {k}, not the cluster key {cluster}"
                        ),
                    });
                }
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
    fn auth_flags_a_member_without_the_cluster_key() {
        let good = StackEvent::Credentials {
            key_id: "aaaa".into(),
        };
        let bad = StackEvent::Credentials {
            key_id: "bbbb".into(),
        };
        let c = config();
        let j1 = member("n1", MemberChange::Joined, "a", 1);
        let j9 = member("n9", MemberChange::Joined, "a", 2);
        let evs = [
            (0, EventKind::App(&good)),
            (0, EventKind::App(&c)),
            (1, EventKind::App(&good)),
            (5, EventKind::App(&bad)),
            (0, EventKind::App(&j1)),
        ];
        assert!(feed(&mut Auth::default(), &evs).is_empty());
        let mut evs = evs.to_vec();
        evs.push((0, EventKind::App(&j9)));
        let v = feed(&mut Auth::default(), &evs);
        assert_eq!(v.len(), 1);
        assert!(v[0].detail.starts_with("n9 became a member"));
    }
}
