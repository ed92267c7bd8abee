//! Traces: the JSON Lines record of a run (DESIGN §6).
//!
//! Line 1 is a header with the resolved configuration, then one event per
//! line, then a footer with the event count, the digest and the summary.
//! [`writer`] streams a trace out (and computes the digest whether or not a
//! file is written); [`reader`] reads one back, tolerating a missing footer
//! and a truncated last line.

pub mod chrome;
pub mod diff;
pub mod history;
pub mod reader;
pub mod step;
pub mod writer;

pub use reader::{Body, Footer, Header, ReadError, Record, TraceFile, read_trace};
pub use step::{Phase, StepEvent};
pub use writer::{TraceLevel, TraceWriter};

/// The `format` value of every trace header.
pub const FORMAT: &str = "partsim-trace";
/// The trace format version this build writes and reads.
pub const VERSION: u64 = 1;

/// The digest of a run's event lines: xxh3-64 over the bytes of every event
/// line written, newline included, printed as 16 hex digits.
pub fn digest_hex(d: u64) -> String {
    format!("{d:016x}")
}
