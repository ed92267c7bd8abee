//! Output files that never destroy an input.
//!
//! `partsim run s.toml --trace s.toml` once overwrote its scenario, and
//! `partsim export x.jsonl -o x.jsonl` truncated the trace before reading
//! it. Before a command creates an output file it asks [`check_output`]:
//! an output that is one of the command's inputs is refused, and an
//! existing file is overwritten only if partsim wrote it (a trace, or a
//! Chrome export) or is empty — anything else needs `--force`.

use std::io::Read;
use std::path::{Path, PathBuf};

/// How a partsim trace begins (its header's first key, DESIGN §6).
const TRACE_PREFIX: &[u8] = b"{\"format\":\"partsim-trace\"";
/// How a partsim Chrome export begins.
const CHROME_PREFIX: &[u8] = b"{\"displayTimeUnit\":\"ms\",\"otherData\":";

/// Why an output file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutputError {
    /// The output is one of the inputs.
    #[error(
        "{output}: is also the input {input}; writing it would destroy the input (choose another output file)"
    )]
    IsInput {
        /// The output as given.
        output: String,
        /// The input as given.
        input: String,
    },
    /// The output exists and partsim did not write it.
    #[error(
        "{0}: exists and is not a file partsim wrote (a trace or an export); refusing to overwrite it without --force"
    )]
    NotOurs(String),
    /// The output is a directory or otherwise not a regular file.
    #[error("{0}: is not a regular file")]
    NotAFile(String),
}

/// The file a path names, with links and `..` resolved when it exists.
fn identity(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// True when `path` names an existing file whose first bytes are a partsim
/// trace or export header, or an empty file.
pub fn written_by_partsim(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return false,
        }
    }
    let head = &head[..n];
    n == 0
        || head.starts_with(TRACE_PREFIX)
        || head.starts_with(CHROME_PREFIX)
        || TRACE_PREFIX.starts_with(head)
}

/// May a command with these `inputs` create (or truncate) `output`?
pub fn check_output(output: &Path, inputs: &[&Path], force: bool) -> Result<(), OutputError> {
    let shown = output.display().to_string();
    let Some(out_id) = identity(output) else {
        return Ok(()); // does not exist yet: nothing to destroy
    };
    for input in inputs {
        if identity(input).is_some_and(|i| i == out_id) {
            return Err(OutputError::IsInput {
                output: shown,
                input: input.display().to_string(),
            });
        }
    }
    let meta = std::fs::metadata(output).map_err(|_| OutputError::NotAFile(shown.clone()))?;
    if !meta.is_file() {
        // Devices such as /dev/null are fine to write to; directories are not.
        if meta.is_dir() {
            return Err(OutputError::NotAFile(shown));
        }
        return Ok(());
    }
    if force || written_by_partsim(output) {
        Ok(())
    } else {
        Err(OutputError::NotOurs(shown))
    }
}
