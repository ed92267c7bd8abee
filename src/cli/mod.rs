//! The parts of the command line that `main.rs` dispatches to.

pub(crate) mod args;
pub(crate) mod hunt;
pub(crate) mod report;
pub(crate) mod trace;
