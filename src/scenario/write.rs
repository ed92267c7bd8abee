//! Writing a scenario back as a TOML scenario file.
//!
//! The shrinker edits a [`Scenario`] in code and must hand the user a file
//! that reproduces it (`partsim shrink -o minimal.toml`). [`Scenario::to_toml`]
//! writes every section with every value resolved (defaults spelled out), so
//! the file means the same thing even if a default changes later; parsing it
//! gives back an equal scenario, up to source line numbers.

use std::fmt::Write as _;

use super::model::{Action, RandomClock, RandomFault, Scenario};
use crate::sim::time::{SimDuration, SimTime};

/// A TOML string literal (quoted and escaped by the `toml` crate itself).
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Microseconds in the largest unit that keeps them exact (`Display` of
/// `SimDuration` rounds above a second, which a file must not do).
fn exact(us: u64) -> String {
    if us == 0 {
        "0s".to_string()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

/// A duration as the quoted string scenario files use.
fn d(x: SimDuration) -> String {
    q(&exact(x.as_micros()))
}

/// An instant, written as the duration since the start.
fn t(x: SimTime) -> String {
    q(&exact(x.as_micros()))
}

/// A signed offset such as `"-2s"`.
fn signed(us: i64) -> String {
    let magnitude = exact(us.unsigned_abs());
    q(&if us < 0 {
        format!("-{magnitude}")
    } else {
        magnitude
    })
}

/// A float that reads back as the same `f64` (Rust's shortest round-trip
/// form, which TOML accepts once it has a decimal point or an exponent).
fn f(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e', 'E']) || !x.is_finite() {
        s
    } else {
        format!("{s}.0")
    }
}

fn pair(p: [SimDuration; 2]) -> String {
    format!("[{}, {}]", d(p[0]), d(p[1]))
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

impl Scenario {
    /// This scenario as a scenario file that parses back to an equal
    /// scenario (line numbers aside), with every default written out.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        // Writing to a String cannot fail; the results are ignored below.
        let _ = self.write_toml(&mut o);
        o
    }

    fn write_toml(&self, o: &mut String) -> std::fmt::Result {
        writeln!(o, "name = {}", q(&self.name))?;
        if !self.description.is_empty() {
            writeln!(o, "description = {}", q(&self.description))?;
        }
        if i64::try_from(self.seed).is_ok() {
            writeln!(o, "seed = {}", self.seed)?;
        } else {
            // Above TOML's integer range: a decimal string (see `raw::Seed`).
            writeln!(o, "seed = \"{}\"", self.seed)?;
        }
        writeln!(o, "duration = {}", d(self.duration))?;

        let c = &self.cluster;
        writeln!(o, "\n[cluster]")?;
        writeln!(
            o,
            "managers = {}\nnodes = {}\nclients = {}",
            c.managers, c.nodes, c.clients
        )?;
        writeln!(
            o,
            "zones = {}\ncluster_key = {}",
            list(&c.zones),
            q(&c.cluster_key)
        )?;
        if c.stack == super::model::StackKind::Demo {
            writeln!(o, "stack = \"demo\"")?;
        }

        let g = &self.grid;
        writeln!(o, "\n[grid]")?;
        writeln!(
            o,
            "width = {}\nheight = {}\ntile = [{}, {}]",
            g.width, g.height, g.tile[0], g.tile[1]
        )?;
        writeln!(o, "replication_factor = {}", g.replication_factor)?;

        let p = &self.placement;
        writeln!(o, "\n[placement]")?;
        writeln!(
            o,
            "policy = {}\nmax_imbalance = {}",
            q(p.policy.as_str()),
            f(p.max_imbalance)
        )?;
        writeln!(o, "max_concurrent_moves = {}", p.max_concurrent_moves)?;

        let tm = &self.timing;
        writeln!(o, "\n[timing]")?;
        writeln!(o, "heartbeat_interval = {}", d(tm.heartbeat_interval))?;
        writeln!(
            o,
            "suspect_after = {}\ndead_after = {}",
            d(tm.suspect_after),
            d(tm.dead_after)
        )?;
        writeln!(
            o,
            "election_timeout = {}\nraft_heartbeat = {}",
            pair(tm.election_timeout),
            d(tm.raft_heartbeat)
        )?;

        let mg = &self.managers;
        if !mg.is_default() {
            writeln!(o, "\n[managers]")?;
            writeln!(o, "snapshot_every = {}", mg.snapshot_every)?;
            if let Some(g) = mg.remove_down_after {
                writeln!(o, "remove_down_after = {}", d(g))?;
            }
            if let Some(m) = mg.min_voters {
                writeln!(o, "min_voters = {m}")?;
            }
        }

        let n = &self.network;
        writeln!(o, "\n[network]")?;
        writeln!(
            o,
            "latency = {}\ndrop = {}\nduplicate = {}",
            pair(n.latency),
            f(n.drop),
            f(n.duplicate)
        )?;
        writeln!(
            o,
            "reorder = {}\npause_messages = {}",
            f(n.reorder),
            q(n.pause_messages.as_str())
        )?;

        writeln!(o, "\n[disk]\ntorn_writes = {}", self.disk.torn_writes)?;
        if self.disk.corruption > 0.0 {
            writeln!(o, "corruption = {}", f(self.disk.corruption))?;
        }
        if self.disk.misdirected > 0.0 {
            writeln!(o, "misdirected = {}", f(self.disk.misdirected))?;
        }
        if self.disk.latency[1] > SimDuration::ZERO {
            let [lo, hi] = self.disk.latency;
            writeln!(
                o,
                "latency = [{}, {}]",
                q(&lo.to_string()),
                q(&hi.to_string())
            )?;
        }

        if let Some(w) = &self.workload {
            writeln!(o, "\n[workload]")?;
            writeln!(
                o,
                "rate = {}\nread_ratio = {}\nkeys = {}",
                f(w.rate),
                f(w.read_ratio),
                q(&w.keys.to_string())
            )?;
            writeln!(o, "start = {}\nstop = {}", t(w.start), t(w.stop))?;
            writeln!(
                o,
                "cas_ratio = {}\ntimeout = {}",
                f(w.cas_ratio),
                q(&w.timeout.to_string())
            )?;
        }

        for e in &self.events {
            writeln!(o, "\n[[events]]\nat = {}", t(e.at))?;
            if let Some(u) = e.until {
                writeln!(o, "until = {}", t(u))?;
            }
            write_action(o, &e.action)?;
        }

        if let Some(r) = &self.random {
            writeln!(o, "\n[random]")?;
            for (kind, fault) in [
                ("crash", &r.crash),
                ("pause", &r.pause),
                ("partition", &r.partition),
                ("isolate", &r.isolate),
            ] {
                if let Some(RandomFault { every, lasts }) = fault {
                    writeln!(
                        o,
                        "{kind} = {{ every = {}, lasts = {} }}",
                        d(*every),
                        pair(*lasts)
                    )?;
                }
            }
            if let Some(RandomClock {
                every,
                lasts,
                max_offset,
                max_drift,
            }) = &r.clock
            {
                writeln!(
                    o,
                    "clock = {{ every = {}, lasts = {}, max_offset = {}, max_drift = {} }}",
                    d(*every),
                    pair(*lasts),
                    d(*max_offset),
                    f(*max_drift)
                )?;
            }
            if let Some(h) = r.heal_at {
                writeln!(o, "heal_at = {}", t(h))?;
            }
            if let Some(p) = r.buggify {
                writeln!(o, "buggify = {}", f(p))?;
            }
        }

        let x = &self.expect;
        writeln!(o, "\n[expect]\nsafety = {}", x.safety)?;
        if let Some(c) = x.converged_by {
            writeln!(o, "converged_by = {}", t(c))?;
        }
        if let Some(l) = x.leader_elected_by {
            writeln!(o, "leader_elected_by = {}", t(l))?;
        }
        if let Some(v) = x.voters {
            writeln!(o, "voters = {v}")?;
        }
        if let Some(l) = x.lost_acked_writes {
            writeln!(o, "lost_acked_writes = {l}")?;
        }
        if !x.violations.is_empty() {
            writeln!(o, "violations = {}", list(&x.violations))?;
        }
        Ok(())
    }
}

fn write_action(o: &mut String, action: &Action) -> std::fmt::Result {
    let kind = action.kind();
    match action {
        Action::Crash(target)
        | Action::Restart(target)
        | Action::Pause(target)
        | Action::Isolate(target)
        | Action::DiskLoss(target)
        | Action::Corrupt(target)
        | Action::Leave(target)
        | Action::RemoveManager(target)
        | Action::DrainManager(target) => writeln!(o, "{kind} = {}", q(&target.to_string())),
        Action::AddManager(id) => writeln!(o, "add_manager = {}", q(id)),
        Action::Partition(groups) => {
            let inner: Vec<String> = groups.iter().map(|g| list(g)).collect();
            writeln!(o, "partition = [{}]", inner.join(", "))
        }
        Action::OneWay { from, to } => {
            writeln!(
                o,
                "one_way = {{ from = {}, to = {} }}",
                q(&from.to_string()),
                q(&to.to_string())
            )
        }
        Action::Link {
            from,
            to,
            latency,
            drop,
            duplicate,
        } => {
            write!(
                o,
                "link = {{ from = {}, to = {}",
                q(&from.to_string()),
                q(&to.to_string())
            )?;
            if let Some(l) = latency {
                write!(o, ", latency = {}", pair(*l))?;
            }
            if let Some(p) = drop {
                write!(o, ", drop = {}", f(*p))?;
            }
            if let Some(p) = duplicate {
                write!(o, ", duplicate = {}", f(*p))?;
            }
            writeln!(o, " }}")
        }
        Action::Clock {
            target,
            offset_us,
            drift,
        } => {
            writeln!(o, "clock = {}", q(&target.to_string()))?;
            writeln!(o, "offset = {}\ndrift = {}", signed(*offset_us), f(*drift))
        }
        Action::Heal => writeln!(o, "heal = true"),
        Action::Join { id, zone, capacity } => {
            writeln!(o, "join = {}", q(id))?;
            if let Some(z) = zone {
                writeln!(o, "zone = {}", q(z))?;
            }
            if let Some(c) = capacity {
                writeln!(o, "capacity = {c}")?;
            }
            Ok(())
        }
        Action::Impostor(id) => writeln!(o, "impostor = {}", q(id)),
    }
}
