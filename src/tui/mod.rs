//! The replay UI (`partsim replay TRACE`, DESIGN §8).
//!
//! ```text
//!   index.rs   open(path) ──> Replay: per-event index, checkpoints, fault/leader spans
//!   state.rs   ClusterState: the cluster at a cursor, a pure fold of events
//!   app.rs     App + update(&mut App, Msg): keys, ticks, mouse — pure
//!   view.rs    render(&App, &mut Frame): a function of (trace, cursor, filters)
//!   terminal.rs run_replay: the thin crossterm shell (the only wall-clock reads)
//!   bench.rs   bench_replay: a synthetic 1M-event trace, open/seek/RSS figures
//! ```
//!
//! Nothing here builds per-event widgets: the index keeps 32 bytes per event
//! and every pane reads the few lines it shows back from the file.

pub mod app;
pub mod bench;
pub mod event;
pub mod index;
mod lanes;
pub mod legend;
pub mod ops;
mod overlay;
mod scan;
pub mod state;
mod terminal;
pub mod view;

use std::path::Path;

pub use app::{App, Msg, update};
pub use bench::{BenchReport, bench_replay, write_synthetic_trace};
pub use index::{Replay, open_bytes};
pub use state::ClusterState;
pub use terminal::run_replay;
pub use view::render;

/// Opens and indexes a trace for replay.
pub fn open(path: &Path) -> Result<Replay, TuiError> {
    index::open(path)
}

/// Why the replay UI could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// The trace could not be opened or read.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a partsim trace, or is damaged before its end.
    #[error("{path}:{line}: {message}")]
    NotATrace {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// Standard output is not a terminal.
    #[error("partsim replay needs an interactive terminal ({0})")]
    NotATerminal(String),
    /// The terminal failed while the UI ran.
    #[error("terminal error: {0}")]
    Terminal(#[source] std::io::Error),
    /// Writing a file failed (the benchmark's synthetic trace).
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl TuiError {
    /// True for bad input or usage (a missing file, not a trace, no
    /// terminal): the CLI exits with code 2.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            TuiError::Open { .. } | TuiError::NotATrace { .. } | TuiError::NotATerminal(_)
        )
    }
}

/// A fresh scratch directory for a unit test, under the build's target
/// directory (`target/tmp/partsim-TAG-PID`), never the system's temp
/// directory: unit tests get no `CARGO_TARGET_TMPDIR`, so it is found from
/// the test binary's own path (`target/PROFILE/deps/NAME`).
#[cfg(test)]
pub(crate) fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in target/PROFILE/deps");
    let dir = target
        .join("tmp")
        .join(format!("partsim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
