//! Scenario errors with positions: `FILE:LINE:COL: KEY: MESSAGE`.
//!
//! Every rejection — a TOML syntax error, a serde type error, a failed
//! semantic check — becomes one [`ScenarioError`] naming the 1-based line
//! and column of the offending text and the dotted key path
//! (`events[2].until`, `grid.tile`). Positions come from byte spans; this
//! module turns spans into lines and columns ([`SourceMap`]) and, for errors
//! raised by the TOML deserializer, recovers the key path by finding the
//! key or value that holds the span in the parsed document tree.
//!
//! Where to point is a convention the test files in `tests/malformed/`
//! pin: a bad value points at the value, an unknown key at the key, and a
//! missing key at the start of the table that should hold it (line 1,
//! column 1 for the top level).

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A scenario that cannot be used, and where and why.
///
/// Shown as `FILE:LINE:COL: KEY: MESSAGE`, or `FILE: MESSAGE` when there is
/// no position (`line` 0: the file itself could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file name as given to [`super::load`] or [`super::parse`].
    pub file: String,
    /// 1-based line (0: no position, the file itself is the problem).
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Dotted key path, e.g. `events[2].until`; `toml` for a syntax error
    /// outside any key; `file` when the file cannot be read.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, self.line, self.col, self.key, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A byte-offset → line/column converter for one source text.
pub(crate) struct SourceMap<'a> {
    file: &'a str,
    text: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap {
            file,
            text,
            line_starts,
        }
    }

    /// The 1-based (line, column) of a byte offset; the column counts
    /// characters, so a tab or a multi-byte character is one column.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1, // line_starts[0] == 0, so i >= 1 here
        };
        let start = self.line_starts[line_index];
        let col = self.text[start..offset].chars().count() + 1;
        (line_index + 1, col)
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// An error at the start of `span`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = self.position(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            key: key.into(),
            message: message.into(),
        }
    }

    /// A deserialization error (unknown key, wrong type, bad duration),
    /// positioned by its span and keyed by the deepest key of `root` whose
    /// key or value holds it.
    pub(crate) fn toml_error(&self, err: &toml::de::Error, root: &DeTable<'_>) -> ScenarioError {
        let span = err.span().unwrap_or(0..0);
        let key = key_path_at(root, span.start, true).unwrap_or_else(|| "toml".to_string());
        self.error(span, key, polish(err.message()))
    }

    /// A TOML syntax error. `root` is the parser's best-effort recovery,
    /// whose table and array spans may swallow the broken text, so only
    /// keys and plain values name the error; otherwise the key is `toml`.
    pub(crate) fn syntax_error(&self, err: &toml::de::Error, root: &DeTable<'_>) -> ScenarioError {
        let span = err.span().unwrap_or(0..0);
        // A syntax error often sits just past the text it concerns (an
        // unterminated string, an unclosed array): look one byte back too.
        let key = key_path_at(root, span.start, false)
            .or_else(|| key_path_at(root, span.start.checked_sub(1)?, false))
            .or_else(|| self.redefined_key(root, err, span.clone()))
            .unwrap_or_else(|| "toml".to_string());
        let mut message = polish(err.message());
        // `crash = n3` reads to the TOML parser as a malformed number.
        if message.starts_with("invalid")
            && self
                .text
                .get(span.start..)
                .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            message.push_str(" (strings must be quoted, e.g. \"n3\")");
        }
        self.error(span, key, message)
    }

    /// For "duplicate key": the path of the earlier definition of the key
    /// written at `span`.
    fn redefined_key(
        &self,
        root: &DeTable<'_>,
        err: &toml::de::Error,
        span: Range<usize>,
    ) -> Option<String> {
        if !err.message().contains("duplicate key") {
            return None;
        }
        let name = self
            .text
            .get(span.clone())?
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        let mut best: Option<(usize, String)> = None;
        find_key_named(root, name, span.start, "", &mut best);
        best.map(|(_, path)| path)
    }
}

/// Replaces serde's Rust-flavoured type names with what a scenario author
/// writes, so "expected u32" reads "expected a non-negative integer".
fn polish(message: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        (
            "expected u32",
            "expected a non-negative integer (at most 4294967295)",
        ),
        ("expected u64", "expected a non-negative integer"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a boolean", "expected true or false"),
        ("expected a map", "expected a table"),
    ];
    let mut out = message.trim().to_string();
    if out == "duplicate key" {
        return "this key is already set above: each key appears once per table".to_string();
    }
    // TOML says "key", serde says "field".
    out = out
        .replace("unknown field", "unknown key")
        .replace("duplicate field", "duplicate key");
    for (from, to) in WORDS {
        out = out.replace(from, to);
    }
    if let Some(i) = out.find("expected struct ") {
        out.replace_range(i.., "expected a table");
    }
    out
}

/// The dotted path of the deepest key whose key text or value span holds
/// `offset`, e.g. `events[1].partition[0][2]`. Tables and arrays count as
/// holders only if `containers` is set.
pub(crate) fn key_path_at(root: &DeTable<'_>, offset: usize, containers: bool) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let walk = Walk { offset, containers };
    walk.table(root, "", 0, &mut best);
    best.map(|(_, path)| path)
}

fn holds(span: Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn consider(best: &mut Option<(usize, String)>, depth: usize, path: &str) {
    if best.as_ref().is_none_or(|(d, _)| depth > *d) {
        *best = Some((depth, path.to_string()));
    }
}

/// The latest key called `name` defined before `offset`, anywhere in the tree.
fn find_key_named(
    table: &DeTable<'_>,
    name: &str,
    offset: usize,
    prefix: &str,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            quote_key(key.get_ref())
        } else {
            format!("{prefix}.{}", quote_key(key.get_ref()))
        };
        let start = key.span().start;
        if key.get_ref() == name && start < offset && best.as_ref().is_none_or(|(s, _)| start > *s)
        {
            *best = Some((start, path.clone()));
        }
        match value.get_ref() {
            DeValue::Table(t) => find_key_named(t, name, offset, &path, best),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        find_key_named(t, name, offset, &format!("{path}[{i}]"), best);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What [`key_path_at`] looks for.
struct Walk {
    offset: usize,
    containers: bool,
}

impl Walk {
    fn holds(&self, value: &Spanned<DeValue<'_>>) -> bool {
        let container = matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_));
        (self.containers || !container) && holds(value.span(), self.offset)
    }

    fn table(
        &self,
        table: &DeTable<'_>,
        prefix: &str,
        depth: usize,
        best: &mut Option<(usize, String)>,
    ) {
        for (key, value) in table.iter() {
            if key.get_ref().is_empty() {
                // Only a syntax error leaves an empty key; it names nothing.
                continue;
            }
            let name = quote_key(key.get_ref());
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            if holds(key.span(), self.offset) || self.holds(value) {
                consider(best, depth + 1, &path);
            }
            // Recurse regardless: the keys of a `[table]` or `[[array]]` entry
            // lie outside the span of its header.
            self.value(value, &path, depth + 1, best);
        }
    }

    fn value(
        &self,
        value: &Spanned<DeValue<'_>>,
        path: &str,
        depth: usize,
        best: &mut Option<(usize, String)>,
    ) {
        match value.get_ref() {
            DeValue::Table(t) => self.table(t, path, depth, best),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    if self.holds(item) {
                        consider(best, depth + 1, &item_path);
                    }
                    self.value(item, &item_path, depth + 1, best);
                }
            }
            _ => {}
        }
    }
}

/// A key as it would be written in a dotted path: bare if it can be.
fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let map = SourceMap::new("f.toml", "ab\ncdé\n\nx");
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(1), (1, 2));
        assert_eq!(map.position(3), (2, 1));
        assert_eq!(map.position(7), (2, 4)); // after the two-byte 'é'
        assert_eq!(map.position(9), (4, 1));
        assert_eq!(map.position(100), (4, 2)); // clamped to the end
    }

    #[test]
    fn error_displays_file_line_col_key_message() {
        let map = SourceMap::new("s.toml", "a = 1\nbad = 2\n");
        let e = map.error(6..9, "bad", "unknown key");
        assert_eq!(e.to_string(), "s.toml:2:1: bad: unknown key");
    }

    #[test]
    fn key_paths_follow_tables_and_arrays() {
        let text = "x = 1\n[grid]\ntile = [4, 5]\n[[events]]\nat = \"1s\"\n[[events]]\nat = \"2s\"\npartition = [[\"m1\"], [\"*\"]]\n";
        let root = DeTable::parse(text).unwrap();
        let at = |needle: &str, nth: usize| text.match_indices(needle).nth(nth).unwrap().0;
        assert_eq!(
            key_path_at(root.get_ref(), at("5]", 0), true).as_deref(),
            Some("grid.tile[1]")
        );
        assert_eq!(
            key_path_at(root.get_ref(), at("at", 1), true).as_deref(),
            Some("events[1].at")
        );
        assert_eq!(
            key_path_at(root.get_ref(), at("\"*\"", 0), true).as_deref(),
            Some("events[1].partition[1][0]")
        );
        assert_eq!(
            key_path_at(root.get_ref(), at("x", 0), true).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn polish_rewrites_rust_type_names() {
        assert_eq!(
            polish("invalid type: string \"3\", expected u32"),
            "invalid type: string \"3\", expected a non-negative integer (at most 4294967295)"
        );
        assert_eq!(
            polish("invalid type: integer `3`, expected struct RawGrid"),
            "invalid type: integer `3`, expected a table"
        );
    }
}
