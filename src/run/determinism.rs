//! `check-determinism`: run a scenario twice and compare the traces line by
//! line, so the first difference can be shown.

use std::io::Write;
use std::rc::Rc;

use serde::Serialize;

use super::{RunError, RunOptions, RunReport, run};
use crate::scenario::Scenario;
use crate::stack::planted::Planted;

/// Used by `check-determinism`: a writer that keeps a hash per line, so two
/// runs can be compared line by line and the first difference shown.
#[derive(Default)]
pub struct LineHashes {
    /// Hash of each complete line (line 0 is the header).
    pub hashes: Vec<u64>,
    /// Keep the text of this line (0-based) when it goes by.
    pub keep: Option<usize>,
    /// The kept line.
    pub kept: Option<String>,
    partial: Vec<u8>,
}

impl Write for LineHashes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                if self.keep == Some(self.hashes.len()) {
                    self.kept = Some(String::from_utf8_lossy(&line).into_owned());
                }
                self.hashes.push(xxhash_rust::xxh3::xxh3_64(&line));
            } else {
                self.partial.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Write` that shares its buffer, so the caller can read it after the run.
#[derive(Clone, Default)]
pub struct SharedSink(pub Rc<std::cell::RefCell<LineHashes>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The outcome of `check-determinism`.
#[derive(Clone, Debug, Serialize)]
pub struct DeterminismReport {
    /// Digest of the first run.
    pub first: String,
    /// Digest of the second run.
    pub second: String,
    /// Lines compared.
    pub lines: usize,
    /// The first differing line (0 = header), with both texts.
    pub divergence: Option<(usize, String, String)>,
}

/// The first line at which two traces (as per-line hashes) differ; a trace
/// that is a prefix of the other differs where the shorter one ends.
pub fn first_divergence(a: &[u64], b: &[u64]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())))
}

/// Runs a scenario twice in-process and compares the traces line by line.
pub fn check_determinism(
    s: &Scenario,
    seed: Option<u64>,
    planted: Planted,
) -> Result<DeterminismReport, RunError> {
    let once = |keep: Option<usize>| -> Result<(RunReport, LineHashes), RunError> {
        let sink = SharedSink::default();
        sink.0.borrow_mut().keep = keep;
        let opts = RunOptions {
            seed,
            trace_out: Some(Box::new(sink.clone())),
            keep_going: true,
            planted,
            ..RunOptions::default()
        };
        let report = run(s, opts)?;
        let hashes = std::mem::take(&mut *sink.0.borrow_mut());
        Ok((report, hashes))
    };
    let (a, ha) = once(None)?;
    let (b, hb) = once(None)?;
    let divergence = match first_divergence(&ha.hashes, &hb.hashes) {
        None => None,
        Some(i) => {
            let (_, ka) = once(Some(i))?;
            let (_, kb) = once(Some(i))?;
            Some((
                i,
                ka.kept.unwrap_or_else(|| "(no line)".into()),
                kb.kept.unwrap_or_else(|| "(no line)".into()),
            ))
        }
    };
    Ok(DeterminismReport {
        first: a.trace_digest,
        second: b.trace_digest,
        lines: ha.hashes.len(),
        divergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_is_the_first_differing_line() {
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(first_divergence(&[1, 2, 3], &[1, 5, 3]), Some(1));
        assert_eq!(first_divergence(&[1, 2], &[1, 2, 3]), Some(2));
    }

    #[test]
    fn line_hashes_keep_the_asked_line() {
        let mut h = LineHashes {
            keep: Some(1),
            ..LineHashes::default()
        };
        h.write_all(
            b"one
tw",
        )
        .unwrap();
        h.write_all(
            b"o
three
",
        )
        .unwrap();
        assert_eq!(h.hashes.len(), 3);
        assert_eq!(h.kept.as_deref(), Some("two"));
    }
}
