//! partsim: a deterministic simulation testbed for a distributed partition manager.
//!
//! One process, one thread, virtual time. [`sim`] is the kernel (time, event
//! queue, seeded randomness, network, disk, the event loop); [`stack`] is the
//! system under test; [`scenario`] reads scenario files; [`trace`] writes and
//! reads JSON Lines traces; [`check`] holds the invariant checkers; [`run`]
//! ties them together for one run of a scenario.

pub mod bench;
pub mod catalog;
pub mod check;
pub mod hunt;
pub mod output;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod stack;
pub mod sweep;
pub mod sweep_merge;
pub mod trace;
pub mod tui;
