//! `partsim diff A.jsonl B.jsonl`: where two traces part ways.
//!
//! Two runs of one scenario and seed must give byte-identical traces; when
//! they do not (a nondeterminism bug, or two builds that behave
//! differently), the first diverging line is where to look. The files are
//! streamed side by side, line by line, keeping only a few lines of
//! context, so traces of any size compare in constant memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Serialize;

/// Lines of shared context shown before the divergence.
pub const CONTEXT_BEFORE: usize = 3;
/// Lines of each trace shown from the divergence on.
pub const CONTEXT_AFTER: usize = 3;
/// The longest line compared, in bytes (a longer one is not a trace line).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Why two traces could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file is not a partsim trace.
    #[error("{0}: not a partsim trace (its first line is not a partsim-trace header)")]
    NotATrace(String),
    /// A line is too long to be a trace line.
    #[error("{path}:{line}: a line longer than {MAX_LINE_BYTES} bytes: not a trace line")]
    LineTooLong {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
    },
}

/// Where two traces first differ.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based line number of the first differing line (1 = header).
    pub line: u64,
    /// Up to [`CONTEXT_BEFORE`] identical lines before it, with their numbers.
    pub before: Vec<(u64, String)>,
    /// From the differing line on, up to [`CONTEXT_AFTER`] lines of A
    /// (empty when A ended there).
    pub a: Vec<String>,
    /// The same for B.
    pub b: Vec<String>,
}

/// What `diff` found.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DiffReport {
    /// Lines compared (the shorter trace's count when they differ in length only).
    pub lines_compared: u64,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
}

struct Lines {
    path: String,
    reader: BufReader<File>,
    line: u64,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, DiffError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| DiffError::Io {
            path: shown.clone(),
            source,
        })?;
        Ok(Lines {
            path: shown,
            reader: BufReader::with_capacity(1 << 20, file),
            line: 0,
        })
    }

    /// The next line without its newline, or `None` at the end.
    fn next(&mut self) -> Result<Option<String>, DiffError> {
        let mut buf = Vec::new();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| DiffError::Io {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE_BYTES {
            return Err(DiffError::LineTooLong {
                path: self.path.clone(),
                line: self.line,
            });
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// Compares the traces at `a` and `b`.
pub fn diff_files(a: &Path, b: &Path) -> Result<DiffReport, DiffError> {
    let mut la = Lines::open(a)?;
    let mut lb = Lines::open(b)?;
    let mut before: VecDeque<(u64, String)> = VecDeque::with_capacity(CONTEXT_BEFORE + 1);
    let mut compared = 0;
    loop {
        let (x, y) = (la.next()?, lb.next()?);
        if compared == 0 {
            for (line, lines) in [(&x, &la), (&y, &lb)] {
                if !line
                    .as_deref()
                    .is_some_and(|l| l.starts_with("{\"format\":\"partsim-trace\""))
                {
                    return Err(DiffError::NotATrace(lines.path.clone()));
                }
            }
        }
        match (x, y) {
            (None, None) => {
                return Ok(DiffReport {
                    lines_compared: compared,
                    divergence: None,
                });
            }
            (Some(x), Some(y)) if x == y => {
                compared += 1;
                if before.len() == CONTEXT_BEFORE {
                    before.pop_front();
                }
                before.push_back((compared, x));
            }
            (x, y) => {
                let line = compared + 1;
                let rest = |first: Option<String>, l: &mut Lines| -> Result<_, DiffError> {
                    let mut v: Vec<String> = first.into_iter().collect();
                    while !v.is_empty() && v.len() < CONTEXT_AFTER {
                        match l.next()? {
                            Some(s) => v.push(s),
                            None => break,
                        }
                    }
                    Ok(v)
                };
                let a = rest(x, &mut la)?;
                let b = rest(y, &mut lb)?;
                return Ok(DiffReport {
                    lines_compared: compared,
                    divergence: Some(Divergence {
                        line,
                        before: before.into_iter().collect(),
                        a,
                        b,
                    }),
                });
            }
        }
    }
}
