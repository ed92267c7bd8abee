//! Control-plane checkers (DESIGN §4): `map_monotonic`, `placement` and
//! `auth` (safety), `converged` and `balanced` (liveness), and the control
//! plane's figures: failure-detection time, false suspicions and deaths,
//! replica moves per membership change against the ideal, load spread.
//!
//! They read only events: `map` (every process), `replica` (each data node,
//! about itself: what it holds, whether in full, at which epoch, and after
//! a transfer where from), `member`, `partition` (what the leader
//! committed), `health`, `credentials` and `placement_config` (at every
//! start), and the kernel's crash / restart / pause / disk-loss events.
//!
//! What a manager committed is a fact (the configuration); whether a
//! replica holds the data is not the leader's to say: `placement` and
//! `converged` count a replica only where its node itself reported a
//! complete copy ([`Copies`]), and follow every copy's lineage — a node
//! calls a copy complete after a transfer from a node that held one, or
//! from nothing only where no copy exists anywhere (or at the partition's
//! first placement). The expectations of `balanced` and `converged` are
//! the design's (replication factor, zone spread, the load cap), written
//! here and not borrowed from the planner.
//!
//! The leader traces every committed member and partition change; a new
//! leader restates the whole map, so the checkers keep, per member, the
//! newest map version seen and, per partition, the highest epoch — older
//! news is ignored.

mod auth;
mod balanced;
mod converged;
mod copies;
mod map_monotonic;
mod model;
mod placement;
#[cfg(test)]
mod testkit;
mod view;

pub use auth::Auth;
pub use balanced::Balanced;
pub use converged::Converged;
pub use map_monotonic::MapMonotonic;
pub use placement::Placement;

use super::Checker;
use crate::sim::SimDuration;

/// How long after the last fault the map must have converged when the
/// scenario sets no `[expect] converged_by`.
pub const CONVERGE_GRACE: SimDuration = SimDuration::from_secs(30);

/// Every control-plane checker.
pub fn control_checkers() -> Vec<Box<dyn Checker>> {
    // One map view and record of copies for the three that judge the map.
    let model = model::Model::default();
    vec![
        Box::new(MapMonotonic::default()),
        Box::new(Placement::sharing(&model)),
        Box::new(Auth::default()),
        Box::new(Converged::sharing(&model)),
        Box::new(Balanced::sharing(&model)),
    ]
}
