//! The deterministic kernel. It knows nothing about partitions: it runs
//! processes (sans-IO state machines) on virtual time, delivers their messages
//! through a faulty simulated network, and gives each a simulated disk.

pub mod rng;
pub mod time;

pub use time::{SimDuration, SimTime};
