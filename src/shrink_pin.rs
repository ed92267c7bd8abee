//! Pinning a run's selectors to the processes they resolved to, for the
//! shrinker: single targets (`crash = "leader"`), partition members
//! (`partition = [["any-manager", "n1"], ["*"]]`, `"*"` included), link
//! ends and one-way cuts' sides. The run is the same — the selectors' draws come from a stream
//! nothing else uses, and `"*"` stands for the very processes it is pinned
//! to — but removing one event no longer moves the draws of every later
//! `any-*` event to other processes, and lowering the node count removes
//! one member of a partition instead of re-reading `"*"`.

use crate::run::RunReport;
use crate::scenario::{Action, Scenario, Target};

/// A selector written in a partition group (`"leader"`, `"any-node"`, …).
fn group_selector(name: &str) -> Option<Target> {
    let t = match name {
        "leader" => Target::Leader,
        "any-node" => Target::AnyNode,
        "any-manager" => Target::AnyManager,
        _ => match name.strip_prefix("primary:").map(str::parse) {
            Some(Ok(p)) => Target::Primary(p),
            _ => return None,
        },
    };
    Some(t)
}

/// The selector slots of an action, in the order the timeline resolves
/// them: the single target; each selector member of a partition, group by
/// group; a link's or a one-way cut's `from`, then its `to`.
fn slots(a: &Action) -> Vec<Target> {
    if let Some(t) = a.single_target() {
        return if t.is_selector() {
            vec![t.clone()]
        } else {
            Vec::new()
        };
    }
    match a {
        Action::Partition(groups) => groups
            .iter()
            .flatten()
            .filter_map(|n| group_selector(n))
            .collect(),
        Action::Link { from, to, .. } | Action::OneWay { from, to } => [from, to]
            .into_iter()
            .filter(|t| t.is_selector())
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// The event with its slots replaced by what they resolved to (`None`:
/// matched nothing); `None` when the event does nothing at all then.
fn apply(a: &Action, resolved: &[Option<String>]) -> Option<Action> {
    let mut a = a.clone();
    let mut it = resolved.iter();
    if let Some(t) = a.single_target_mut() {
        if t.is_selector() {
            *t = Target::Id(it.next()?.clone()?);
        }
        return Some(a);
    }
    match &mut a {
        Action::Partition(groups) => {
            // A process met twice stays in its first group, as the
            // timeline does.
            let mut taken: Vec<String> = Vec::new();
            for group in groups.iter_mut() {
                let mut out = Vec::with_capacity(group.len());
                for name in group.iter() {
                    let concrete = if group_selector(name).is_some() {
                        it.next().cloned().flatten()
                    } else {
                        Some(name.clone())
                    };
                    if let Some(n) = concrete
                        && (n == "*" || !taken.contains(&n))
                    {
                        taken.push(n.clone());
                        out.push(n);
                    }
                }
                *group = out;
            }
            (groups.iter().filter(|g| !g.is_empty()).count() >= 2).then_some(a)
        }
        // An end that resolved to nothing made the event do nothing.
        Action::Link { from, to, .. } | Action::OneWay { from, to } => {
            for t in [&mut *from, &mut *to] {
                if t.is_selector() {
                    *t = Target::Id(it.next()?.clone()?);
                }
            }
            (from != to).then_some(a)
        }
        _ => Some(a),
    }
}

/// `s` with every selector the run of `s` (`report`, same seed) resolved
/// replaced by the process it resolved to, and the events that resolved to
/// nothing removed (they did nothing). `None` when nothing is pinned.
pub(crate) fn pin_selectors(s: &Scenario, report: &RunReport) -> Option<Scenario> {
    let mut out = s.clone();
    let wanted: Vec<Vec<Target>> = out.events.iter().map(|e| slots(&e.action)).collect();
    let mut got: Vec<Vec<Option<String>>> = wanted.iter().map(|_| Vec::new()).collect();
    // Resolutions come in the order the timeline applied them: by time,
    // and by file order at equal times; each goes to the first event at
    // that time with the next slot of that kind and selector still open.
    for line in &report.selectors {
        let Some((what, rest)) = line.split_once(" → ") else {
            continue;
        };
        let Some((to, at)) = rest.rsplit_once(" at ") else {
            continue;
        };
        let found = out.events.iter().enumerate().position(|(i, e)| {
            e.at.to_string() == at
                && wanted[i]
                    .get(got[i].len())
                    .is_some_and(|t| format!("{} {t}", e.action.kind()) == what)
        });
        let Some(i) = found else { continue };
        got[i].push((!to.starts_with("nothing")).then(|| to.to_string()));
    }
    let mut changed = false;
    let mut keep = vec![true; out.events.len()];
    for (i, e) in out.events.iter_mut().enumerate() {
        // Only an event whose every slot was reported is rewritten.
        if wanted[i].is_empty() || got[i].len() != wanted[i].len() {
            continue;
        }
        changed = true;
        match apply(&e.action, &got[i]) {
            Some(a) => e.action = a,
            None => keep[i] = false,
        }
    }
    let mut i = 0;
    out.events.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    changed.then_some(out)
}

/// `s` with every `"*"` of a partition written out as the processes it
/// stands for: everyone the scenario has (founders and later arrivals)
/// not named in another group. `None` when no partition uses `"*"`.
pub(crate) fn pin_stars(s: &Scenario) -> Option<Scenario> {
    let mut everyone = s.initial_processes();
    everyone.extend(s.later_processes());
    let mut out = s.clone();
    let mut changed = false;
    for e in &mut out.events {
        let Action::Partition(groups) = &mut e.action else {
            continue;
        };
        if !groups.iter().flatten().any(|n| n == "*") {
            continue;
        }
        let named: Vec<String> = groups.iter().flatten().cloned().collect();
        let rest: Vec<String> = everyone
            .iter()
            .filter(|p| !named.contains(p))
            .cloned()
            .collect();
        for group in groups.iter_mut() {
            if group.iter().any(|n| n == "*") {
                group.retain(|n| n != "*");
                group.extend(rest.iter().cloned());
            }
        }
        groups.retain(|g| !g.is_empty());
        changed = true;
    }
    changed.then_some(out)
}
