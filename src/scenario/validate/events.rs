//! `[[events]]`: each entry's time, its one action and the processes it
//! names, then the checks across entries (introduced ids, overlapping
//! windows).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::{R, Validator, in_ppm};
use crate::scenario::limits::*;
use crate::scenario::model::*;
use crate::scenario::raw::*;
use crate::sim::time::SimTime;

/// The selectors an event may use instead of a process id.
const SELECTORS: &str = "leader, primary:P, any-node, any-manager";

/// A plain process id a `join` or `impostor` may introduce.
fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(s, "leader" | "any-node" | "any-manager")
}

impl Validator<'_, '_> {
    pub(super) fn events(
        &self,
        raw: &[Sp<RawEvent>],
        cluster: &Cluster,
        grid: &Grid,
        end: SimTime,
    ) -> R<Vec<EventSpec>> {
        if let Some(extra) = raw.get(MAX_EVENTS) {
            return Err(self.err(
                extra.span(),
                format!("events[{MAX_EVENTS}]"),
                format!("more than {MAX_EVENTS} events"),
            ));
        }
        // Ids that joins and impostors introduce may be named by any event.
        let mut known: BTreeSet<String> = BTreeSet::new();
        let mut data_nodes: BTreeSet<String> = cluster.node_ids().into_iter().collect();
        let mut managers: BTreeSet<String> = cluster.manager_ids().into_iter().collect();
        known.extend(cluster.manager_ids());
        known.extend(cluster.node_ids());
        known.extend(cluster.client_ids());
        let initial = known.clone();
        let mut later = Vec::new();
        for e in raw {
            for id in [
                &e.get_ref().join,
                &e.get_ref().impostor,
                &e.get_ref().add_manager,
            ]
            .into_iter()
            .flatten()
            {
                if is_plain_id(id.get_ref()) && !initial.contains(id.get_ref()) {
                    later.push(id.get_ref().clone());
                }
            }
            if let Some(id) = &e.get_ref().join {
                data_nodes.insert(id.get_ref().clone());
            }
            if let Some(id) = &e.get_ref().add_manager {
                managers.insert(id.get_ref().clone());
            }
        }
        let names = Names {
            initial: &initial,
            later: &later,
            data_nodes: &data_nodes,
            managers: &managers,
            cluster,
            partitions: grid.partition_count(),
        };
        let mut events = Vec::with_capacity(raw.len());
        for (i, e) in raw.iter().enumerate() {
            events.push(self.event(i, e, &names, end)?);
        }
        self.check_introductions(raw, &events, cluster)?;
        self.check_leaves(raw, &events, cluster, grid)?;
        self.check_manager_removals(raw, &events, cluster)?;
        self.check_overlaps(raw, &events)?;
        Ok(events)
    }

    /// Two windows of one fault on one process must not overlap: the first
    /// one's end would end the second early (n1 crashed 2–3 s and 2.5–3.5 s
    /// would restart at 3 s). Selectors resolve at run time and are not
    /// compared here.
    fn check_overlaps(&self, raw: &[Sp<RawEvent>], events: &[EventSpec]) -> R<()> {
        let window = |e: &EventSpec| -> Option<(&'static str, String, SimTime, SimTime)> {
            let until = e.until?;
            let (kind, target) = match &e.action {
                Action::Crash(t) => ("crash", t),
                Action::Pause(t) => ("pause", t),
                Action::Isolate(t) => ("isolate", t),
                Action::DiskLoss(t) => ("disk_loss", t),
                Action::Clock { target, .. } => ("clock", target),
                _ => return None,
            };
            Some((kind, target.as_id()?.to_string(), e.at, until))
        };
        // Sorted by (kind, process, start): overlaps are neighbours.
        let mut windows: Vec<(&'static str, String, SimTime, SimTime, usize)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| window(e).map(|(k, p, a, u)| (k, p, a, u, i)))
            .collect();
        windows.sort();
        for pair in windows.windows(2) {
            let ((k1, p1, a1, u1, i1), (k2, p2, a2, _, i2)) = (&pair[0], &pair[1]);
            if k1 == k2 && p1 == p2 && a2 < u1 {
                let j = (*i1).max(*i2);
                let first = (*i1).min(*i2);
                let e = raw[j].get_ref();
                let span = match *k1 {
                    "crash" => e.crash.as_ref().map(Sp::span),
                    "pause" => e.pause.as_ref().map(Sp::span),
                    "isolate" => e.isolate.as_ref().map(Sp::span),
                    "disk_loss" => e.disk_loss.as_ref().map(Sp::span),
                    _ => e.clock.as_ref().map(Sp::span),
                };
                return Err(self.err(
                    span.unwrap_or_else(|| raw[j].span()),
                    format!("events[{j}].{k1}"),
                    format!(
                        "{k1} of {p1} overlaps events[{first}] ({k1} of {p1} from {} until {}): windows of one fault on one process may not overlap, since the first to end would end both; merge them or make them disjoint",
                        a1,
                        u1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A `leave` drains its node before removing it, and the drain moves
    /// each of its replicas to a node that remains: with fewer data nodes
    /// left than the replication factor the replicas have nowhere to go,
    /// the drain never ends and `converged` cannot hold. Known before the
    /// run (joins and leaves in time order; a node that leaves twice, or a
    /// selector, counts once per event), so refused here.
    fn check_leaves(
        &self,
        raw: &[Sp<RawEvent>],
        events: &[EventSpec],
        cluster: &Cluster,
        grid: &Grid,
    ) -> R<()> {
        let mut order: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i].action, Action::Join { .. } | Action::Leave(_)))
            .collect();
        order.sort_by_key(|&i| (events[i].at, i));
        let mut nodes = i64::from(cluster.nodes);
        let mut left: BTreeSet<&str> = BTreeSet::new();
        for i in order {
            match &events[i].action {
                Action::Join { .. } => nodes += 1,
                Action::Leave(Target::Id(id)) if !left.insert(id.as_str()) => {}
                Action::Leave(_) => nodes -= 1,
                _ => {}
            }
            if matches!(events[i].action, Action::Leave(_))
                && nodes < i64::from(grid.replication_factor)
            {
                let span = raw[i]
                    .get_ref()
                    .leave
                    .as_ref()
                    .map_or(raw[i].span(), |l| l.span());
                return Err(self.err(
                    span,
                    format!("events[{i}].leave"),
                    format!(
                        "after this leave {} data node(s) remain, fewer than grid.replication_factor = {}: the drain could never finish (its replicas would have nowhere to go); join a node before it, or lower the replication factor",
                        nodes.max(0),
                        grid.replication_factor
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A Raft group never removes its last voter: a `remove_manager` that
    /// would leave no manager could only be ignored by the run, so it is
    /// refused here (adds and removals in time order; a manager removed
    /// twice by id counts once).
    fn check_manager_removals(
        &self,
        raw: &[Sp<RawEvent>],
        events: &[EventSpec],
        cluster: &Cluster,
    ) -> R<()> {
        let mut order: Vec<usize> = (0..events.len())
            .filter(|&i| {
                matches!(
                    events[i].action,
                    Action::AddManager(_) | Action::RemoveManager(_)
                )
            })
            .collect();
        order.sort_by_key(|&i| (events[i].at, i));
        let mut managers = i64::from(cluster.managers);
        let mut removed: BTreeSet<&str> = BTreeSet::new();
        for i in order {
            match &events[i].action {
                Action::AddManager(_) => managers += 1,
                Action::RemoveManager(Target::Id(id)) if !removed.insert(id.as_str()) => {}
                Action::RemoveManager(_) => {
                    managers -= 1;
                    if managers < 1 {
                        let span = raw[i]
                            .get_ref()
                            .remove_manager
                            .as_ref()
                            .map_or(raw[i].span(), |m| m.span());
                        return Err(self.err(
                            span,
                            format!("events[{i}].remove_manager"),
                            "this removes the last manager: a Raft group never removes its last voter, so the run could only ignore it; add a manager before it, or drop the event",
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Joins name the next data-node ids in time order; joins and impostors
    /// never reuse an id.
    fn check_introductions(
        &self,
        raw: &[Sp<RawEvent>],
        events: &[EventSpec],
        cluster: &Cluster,
    ) -> R<()> {
        let mut joins: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i].action, Action::Join { .. }))
            .collect();
        joins.sort_by_key(|&i| (events[i].at, i));
        let mut introduced: BTreeMap<String, usize> = BTreeMap::new();
        for (k, &i) in joins.iter().enumerate() {
            let Action::Join { id, .. } = &events[i].action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .join
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            let key = format!("events[{i}].join");
            let expected = format!("n{}", u64::from(cluster.nodes) + k as u64 + 1);
            if let Some(j) = introduced.get(id) {
                return Err(self.err(
                    span,
                    key,
                    format!("{id:?} already joins in events[{j}]; the next new data node is {expected:?}"),
                ));
            }
            if *id != expected {
                return Err(self.err(
                    span,
                    key,
                    format!(
                        "a join names the next data-node id: expected {expected:?} ({} nodes at start, {k} earlier join(s)), got {id:?}",
                        cluster.nodes
                    ),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        let mut adds: Vec<usize> = (0..events.len())
            .filter(|&i| matches!(events[i].action, Action::AddManager(_)))
            .collect();
        adds.sort_by_key(|&i| (events[i].at, i));
        for (k, &i) in adds.iter().enumerate() {
            let Action::AddManager(id) = &events[i].action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .add_manager
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            let expected = format!("m{}", u64::from(cluster.managers) + k as u64 + 1);
            if *id != expected {
                return Err(self.err(
                    span,
                    format!("events[{i}].add_manager"),
                    format!(
                        "add_manager names the next manager id: expected {expected:?} ({} managers at start, {k} earlier add_manager(s)), got {id:?}",
                        cluster.managers
                    ),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        for (i, event) in events.iter().enumerate() {
            let Action::Impostor(id) = &event.action else {
                continue;
            };
            let span = raw[i]
                .get_ref()
                .impostor
                .as_ref()
                .map_or(raw[i].span(), |j| j.span());
            if let Some(j) = introduced.get(id) {
                return Err(self.err(
                    span,
                    format!("events[{i}].impostor"),
                    format!("{id:?} is already introduced by events[{j}]: an impostor needs an id of its own"),
                ));
            }
            introduced.insert(id.clone(), i);
        }
        Ok(())
    }

    fn event(&self, i: usize, raw: &Sp<RawEvent>, names: &Names<'_>, end: SimTime) -> R<EventSpec> {
        let e = raw.get_ref();
        let key = |k: &str| format!("events[{i}].{k}");
        let at = match &e.at {
            Some(a) => self.time(a, &key("at"), end)?,
            None => {
                return Err(self.err(
                    raw.span(),
                    key("at"),
                    "missing required key `at`: when the event fires (e.g. at = \"10s\")",
                ));
            }
        };

        let mut present: Vec<(&'static str, Range<usize>)> = Vec::new();
        let mut note = |name: &'static str, span: Option<Range<usize>>| {
            if let Some(s) = span {
                present.push((name, s));
            }
        };
        note("crash", e.crash.as_ref().map(Sp::span));
        note("restart", e.restart.as_ref().map(Sp::span));
        note("pause", e.pause.as_ref().map(Sp::span));
        note("partition", e.partition.as_ref().map(Sp::span));
        note("one_way", e.one_way.as_ref().map(Sp::span));
        note("isolate", e.isolate.as_ref().map(Sp::span));
        note("link", e.link.as_ref().map(Sp::span));
        note("clock", e.clock.as_ref().map(Sp::span));
        note("disk_loss", e.disk_loss.as_ref().map(Sp::span));
        note("corrupt", e.corrupt.as_ref().map(Sp::span));
        note("heal", e.heal.as_ref().map(Sp::span));
        note("join", e.join.as_ref().map(Sp::span));
        note("leave", e.leave.as_ref().map(Sp::span));
        note("impostor", e.impostor.as_ref().map(Sp::span));
        note("add_manager", e.add_manager.as_ref().map(Sp::span));
        note("remove_manager", e.remove_manager.as_ref().map(Sp::span));
        note("drain_manager", e.drain_manager.as_ref().map(Sp::span));
        present.sort_by_key(|(_, span)| span.start);
        match present.as_slice() {
            [] => {
                return Err(self.err(
                    raw.span(),
                    format!("events[{i}]"),
                    "expected exactly one action: crash, restart, pause, partition, one_way, isolate, link, clock, disk_loss, corrupt, heal, join, leave, impostor, add_manager, remove_manager or drain_manager",
                ));
            }
            [_] => {}
            [(first, _), (second, span), ..] => {
                return Err(self.err(
                    span.clone(),
                    key(second),
                    format!("an event has exactly one action, and this one already has `{first}`: use another [[events]] entry"),
                ));
            }
        }
        let kind = present[0].0;

        // Modifiers that belong to one action only.
        for (value_span, name, owner) in [
            (e.offset.as_ref().map(Sp::span), "offset", "clock"),
            (e.drift.as_ref().map(Sp::span), "drift", "clock"),
            (e.zone.as_ref().map(Sp::span), "zone", "join"),
            (e.capacity.as_ref().map(Sp::span), "capacity", "join"),
        ] {
            if let Some(span) = value_span
                && kind != owner
            {
                return Err(self.err(
                    span,
                    key(name),
                    format!("`{name}` goes with a `{owner}` action, and this event is a `{kind}`"),
                ));
            }
        }

        let action = self.action(i, e, raw.span(), names)?;

        let until = match &e.until {
            Some(u) => {
                if !action.accepts_until() {
                    return Err(self.err(
                        u.span(),
                        key("until"),
                        format!("`{kind}` cannot have `until`: only crash, pause, disk_loss, partition, one_way, isolate, link, clock and drain_manager end"),
                    ));
                }
                let t = self.time(u, &key("until"), end)?;
                if t <= at {
                    return Err(self.err(
                        u.span(),
                        key("until"),
                        format!("until ({t}) must be after at ({at})"),
                    ));
                }
                Some(t)
            }
            None if kind == "pause" => {
                return Err(self.err(
                    raw.span(),
                    key("until"),
                    "a pause needs `until`: when the process resumes (e.g. until = \"12s\")",
                ));
            }
            None => None,
        };
        Ok(EventSpec {
            at,
            until,
            action,
            line: self.src.line(raw.span().start),
        })
    }

    fn action(&self, i: usize, e: &RawEvent, entry: Range<usize>, names: &Names<'_>) -> R<Action> {
        let key = |k: &str| format!("events[{i}].{k}");
        if let Some(t) = &e.crash {
            return Ok(Action::Crash(self.target(
                t,
                &key("crash"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.restart {
            return Ok(Action::Restart(self.target(
                t,
                &key("restart"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.pause {
            return Ok(Action::Pause(self.target(
                t,
                &key("pause"),
                names,
                false,
            )?));
        }
        if let Some(groups) = &e.partition {
            return self.partition(groups, &key("partition"), names);
        }
        if let Some(ow) = &e.one_way {
            let o = ow.get_ref();
            let k = key("one_way");
            let from = o.from.as_ref().ok_or_else(|| {
                self.err(
                    ow.span(),
                    format!("{k}.from"),
                    "missing `from`: the sending side",
                )
            })?;
            let to = o.to.as_ref().ok_or_else(|| {
                self.err(
                    ow.span(),
                    format!("{k}.to"),
                    "missing `to`: the receiving side",
                )
            })?;
            let from_t = self.target(from, &format!("{k}.from"), names, true)?;
            let to_t = self.target(to, &format!("{k}.to"), names, true)?;
            if from_t == to_t {
                return Err(self.err(
                    to.span(),
                    format!("{k}.to"),
                    format!("`from` and `to` are both {from_t}: expected two different sides"),
                ));
            }
            return Ok(Action::OneWay {
                from: from_t,
                to: to_t,
            });
        }
        if let Some(t) = &e.isolate {
            return Ok(Action::Isolate(self.target(
                t,
                &key("isolate"),
                names,
                false,
            )?));
        }
        if let Some(link) = &e.link {
            return self.link(link, &key("link"), names);
        }
        if let Some(t) = &e.clock {
            let target = self.target(t, &key("clock"), names, false)?;
            if e.offset.is_none() && e.drift.is_none() {
                return Err(self.err(
                    entry,
                    key("offset"),
                    "a clock event needs `offset` (e.g. \"-2s\") and/or `drift` (e.g. 0.1)",
                ));
            }
            let offset_us = e.offset.as_ref().map_or(0, |o| o.get_ref().0);
            let drift = match &e.drift {
                Some(d) => {
                    let x = *d.get_ref();
                    // At the clock's resolution of 1 ppm: a drift that rounds
                    // to -1 would stop the clock (local time never advances).
                    if !(x.is_finite() && in_ppm(x) > -1e6 && x <= 10.0) {
                        return Err(self.err(
                            d.span(),
                            key("drift"),
                            format!("expected a rate error above -1 (at 1 ppm resolution: at least -0.999999) and at most 10 (0.1 = 10% fast), got {x}"),
                        ));
                    }
                    x
                }
                None => 0.0,
            };
            return Ok(Action::Clock {
                target,
                offset_us,
                drift,
            });
        }
        if let Some(t) = &e.disk_loss {
            return Ok(Action::DiskLoss(self.target(
                t,
                &key("disk_loss"),
                names,
                false,
            )?));
        }
        if let Some(t) = &e.corrupt {
            let target = self.target(t, &key("corrupt"), names, false)?;
            let node = match &target {
                Target::Id(s) => s.starts_with('n'),
                Target::AnyNode | Target::Primary(_) => true,
                _ => false,
            };
            if !node {
                return Err(self.err(
                    t.span(),
                    key("corrupt"),
                    format!(
                        "corrupt damages a data node's disk: expected a data node (n1, …), \"any-node\" or \"primary:P\", got {:?}",
                        t.get_ref()
                    ),
                ));
            }
            return Ok(Action::Corrupt(target));
        }
        if let Some(h) = &e.heal {
            if !*h.get_ref() {
                return Err(self.err(
                    h.span(),
                    key("heal"),
                    "expected `heal = true` (every network fault ends)",
                ));
            }
            return Ok(Action::Heal);
        }
        if let Some(j) = &e.join {
            let id = j.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    j.span(),
                    key("join"),
                    format!("{id:?} already exists: a join names a new data node"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    j.span(),
                    key("join"),
                    format!("expected a new data-node id such as \"n7\", got {id:?}"),
                ));
            }
            let zone = match &e.zone {
                Some(z) => {
                    if !names.cluster.zones.contains(z.get_ref()) {
                        return Err(self.err(
                            z.span(),
                            key("zone"),
                            format!(
                                "unknown zone {:?}: cluster.zones is {:?}",
                                z.get_ref(),
                                names.cluster.zones
                            ),
                        ));
                    }
                    Some(z.get_ref().clone())
                }
                None => None,
            };
            let capacity = match &e.capacity {
                Some(c) if *c.get_ref() == 0 => {
                    return Err(self.err(c.span(), key("capacity"), "must be at least 1"));
                }
                Some(c) => Some(*c.get_ref()),
                None => None,
            };
            return Ok(Action::Join {
                id: id.clone(),
                zone,
                capacity,
            });
        }
        if let Some(t) = &e.leave {
            let target = self.target(t, &key("leave"), names, false)?;
            let is_node = match &target {
                Target::Id(id) => names.data_nodes.contains(id),
                Target::AnyNode | Target::Primary(_) => true,
                Target::Leader | Target::AnyManager => false,
            };
            if !is_node {
                return Err(self.err(
                    t.span(),
                    key("leave"),
                    format!(
                        "`leave` decommissions a data node: expected a node id, any-node or primary:P, got {target}"
                    ),
                ));
            }
            return Ok(Action::Leave(target));
        }
        if let Some(imp) = &e.impostor {
            let id = imp.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    imp.span(),
                    key("impostor"),
                    format!("{id:?} already exists: an impostor needs an id of its own"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    imp.span(),
                    key("impostor"),
                    format!("expected a new process id (letters, digits, '-' or '_', e.g. \"n9\"), got {id:?}"),
                ));
            }
            return Ok(Action::Impostor(id.clone()));
        }
        if let Some(m) = &e.add_manager {
            let id = m.get_ref();
            if names.initial.contains(id) {
                return Err(self.err(
                    m.span(),
                    key("add_manager"),
                    format!("{id:?} already exists: add_manager names a new manager"),
                ));
            }
            if !is_plain_id(id) {
                return Err(self.err(
                    m.span(),
                    key("add_manager"),
                    format!("expected a new manager id such as \"m4\", got {id:?}"),
                ));
            }
            return Ok(Action::AddManager(id.clone()));
        }
        if let Some(t) = &e.remove_manager {
            let what = "drops a manager from the Raft group";
            let target = self.manager_target(t, &key("remove_manager"), names, what)?;
            return Ok(Action::RemoveManager(target));
        }
        if let Some(t) = &e.drain_manager {
            let what = "keeps a manager from leading";
            let target = self.manager_target(t, &key("drain_manager"), names, what)?;
            return Ok(Action::DrainManager(target));
        }
        // `event` counted exactly one action before calling here.
        Err(self.err(entry, format!("events[{i}]"), "expected exactly one action"))
    }

    /// A process or selector; `"*"` only where `star` allows it.
    /// A target that must be a manager (`remove_manager`, `drain_manager`):
    /// a manager id, `leader` or `any-manager`; `what` says what the action
    /// does, for the error.
    fn manager_target(
        &self,
        value: &Sp<String>,
        key: &str,
        names: &Names<'_>,
        what: &str,
    ) -> R<Target> {
        let target = self.target(value, key, names, false)?;
        let is_manager = match &target {
            Target::Id(id) => names.managers.contains(id),
            Target::Leader | Target::AnyManager => true,
            Target::AnyNode | Target::Primary(_) => false,
        };
        if !is_manager {
            let action = key.rsplit('.').next().unwrap_or(key);
            return Err(self.err(
                value.span(),
                key,
                format!(
                    "`{action}` {what}: expected a manager id, leader or any-manager, got {target}"
                ),
            ));
        }
        Ok(target)
    }

    fn target(&self, value: &Sp<String>, key: &str, names: &Names<'_>, star: bool) -> R<Target> {
        let s = value.get_ref().as_str();
        match s {
            "leader" => return Ok(Target::Leader),
            "any-node" => return Ok(Target::AnyNode),
            "any-manager" => return Ok(Target::AnyManager),
            "*" if star => return Ok(Target::Id("*".to_string())),
            "*" => {
                return Err(self.err(
                    value.span(),
                    key,
                    "\"*\" (everyone else) is only valid in partition groups and one_way",
                ));
            }
            _ => {}
        }
        if let Some(p) = s.strip_prefix("primary:") {
            let count = names.partitions;
            return match p.parse::<u32>() {
                Ok(n) if u64::from(n) < count => Ok(Target::Primary(n)),
                Ok(n) => Err(self.err(
                    value.span(),
                    key,
                    format!(
                        "partition {n} does not exist: the grid has {count} partitions (p0..p{})",
                        count.saturating_sub(1)
                    ),
                )),
                Err(_) => Err(self.err(
                    value.span(),
                    key,
                    format!("expected primary:P with P a partition number, got {s:?}"),
                )),
            };
        }
        self.known_id(value, key, names, true)?;
        Ok(Target::Id(s.to_string()))
    }

    fn known_id(&self, value: &Sp<String>, key: &str, names: &Names<'_>, selectors: bool) -> R<()> {
        let s = value.get_ref().as_str();
        if names.initial.contains(s) || names.later.iter().any(|l| l == s) {
            return Ok(());
        }
        Err(self.err(
            value.span(),
            key,
            format!(
                "unknown process {s:?}: expected {}",
                names.describe(selectors)
            ),
        ))
    }

    fn partition(&self, groups: &Sp<RawGroups>, key: &str, names: &Names<'_>) -> R<Action> {
        if groups.get_ref().len() < 2 {
            return Err(self.err(
                groups.span(),
                key,
                "expected at least two groups, e.g. [[\"m1\", \"n1\"], [\"*\"]] (\"*\" = every process not named)",
            ));
        }
        let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut out = Vec::new();
        for (g, group) in groups.get_ref().iter().enumerate() {
            if group.get_ref().is_empty() {
                return Err(self.err(
                    group.span(),
                    format!("{key}[{g}]"),
                    "a partition group must name at least one process",
                ));
            }
            let mut ids = Vec::new();
            for (k, member) in group.get_ref().iter().enumerate() {
                let member_key = format!("{key}[{g}][{k}]");
                // DESIGN §5: a selector may stand wherever an event names a
                // process; it is resolved when the partition begins.
                let id = self.target(member, &member_key, names, true)?.to_string();
                if let Some((g0, k0)) = seen.get(member.get_ref().as_str()) {
                    return Err(self.err(
                        member.span(),
                        member_key,
                        format!(
                            "{id:?} is already in the partition at {key}[{g0}][{k0}]: each process belongs to one group"
                        ),
                    ));
                }
                seen.insert(member.get_ref(), (g, k));
                ids.push(id);
            }
            out.push(ids);
        }
        Ok(Action::Partition(out))
    }

    fn link(&self, link: &Sp<RawLink>, key: &str, names: &Names<'_>) -> R<Action> {
        let l = link.get_ref();
        let from = l.from.as_ref().ok_or_else(|| {
            self.err(
                link.span(),
                format!("{key}.from"),
                "missing `from`: the sender",
            )
        })?;
        let to = l.to.as_ref().ok_or_else(|| {
            self.err(
                link.span(),
                format!("{key}.to"),
                "missing `to`: the receiver",
            )
        })?;
        // DESIGN §5: a selector may stand wherever an event names a
        // process; both ends are resolved when the link begins.
        let from_t = self.target(from, &format!("{key}.from"), names, false)?;
        let to_t = self.target(to, &format!("{key}.to"), names, false)?;
        if from_t == to_t {
            return Err(self.err(
                to.span(),
                format!("{key}.to"),
                format!("a link joins two different processes, got \"{from_t}\" twice"),
            ));
        }
        let latency = match &l.latency {
            Some(r) => Some(self.range(r, &format!("{key}.latency"))?),
            None => None,
        };
        let drop = match &l.drop {
            Some(p) => Some(self.probability(p, &format!("{key}.drop"))?),
            None => None,
        };
        let duplicate = match &l.duplicate {
            Some(p) => Some(self.probability(p, &format!("{key}.duplicate"))?),
            None => None,
        };
        if latency.is_none() && drop.is_none() && duplicate.is_none() {
            return Err(self.err(
                link.span(),
                key,
                "a link overrides something: expected `latency`, `drop` and/or `duplicate`",
            ));
        }
        Ok(Action::Link {
            from: from_t,
            to: to_t,
            latency,
            drop,
            duplicate,
        })
    }
}

/// The process ids an event may name.
struct Names<'n> {
    initial: &'n BTreeSet<String>,
    later: &'n [String],
    data_nodes: &'n BTreeSet<String>,
    /// Initial managers and those `add_manager` introduces.
    managers: &'n BTreeSet<String>,
    cluster: &'n Cluster,
    partitions: u64,
}

impl Names<'_> {
    /// "m1..m3, n1..n6, c1..c2, n7 (introduced by an event) or a selector
    /// (...)" — without the selectors where they are not accepted.
    fn describe(&self, selectors: bool) -> String {
        let range = |prefix: &str, n: u32| match n {
            0 => None,
            1 => Some(format!("{prefix}1")),
            n => Some(format!("{prefix}1..{prefix}{n}")),
        };
        let mut parts: Vec<String> = [
            range("m", self.cluster.managers),
            range("n", self.cluster.nodes),
            range("c", self.cluster.clients),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !self.later.is_empty() {
            let shown: Vec<&str> = self.later.iter().take(5).map(String::as_str).collect();
            let more = if self.later.len() > 5 { ", …" } else { "" };
            parts.push(format!("{}{more} (introduced by events)", shown.join(", ")));
        }
        if selectors {
            format!("{} or a selector ({SELECTORS})", parts.join(", "))
        } else {
            format!("one of {} (plain ids here)", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids() {
        assert!(is_plain_id("n9"));
        assert!(is_plain_id("evil-twin_2"));
        for bad in [
            "",
            "leader",
            "any-node",
            "a b",
            "*",
            "primary:1",
            &"x".repeat(33),
        ] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }
}
