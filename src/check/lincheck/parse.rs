//! Reading history files: Jepsen's `history.edn` shape, one operation event
//! a line, as an EDN map or a JSON object with the same keys (DESIGN §7):
//!
//! ```text
//! {:process 0, :type :invoke, :f :cas, :key "c17", :value [1 2], :time 1200}
//! {"process": 0, "type": "ok", "f": "cas", "key": "c17", "value": [1, 2], "time": 1450}
//! ```
//!
//! `:process` is an integer (events of other processes, such as Jepsen's
//! `:nemesis`, are skipped); `:type` is `invoke`, `ok`, `fail` or `info`;
//! `:f` is `read`, `write` or `cas`; `:value` is the written value, the read
//! result (on the `ok` completion) or `[expected new]`; `:key` is optional;
//! `:time`, when present, is a non-negative integer (absent: the previous
//! event's time — the order of the lines is what orders events). Other keys (`:index`, `:error`, …) are
//! ignored. Blank lines and `;` comments are skipped. Lines are events in
//! the order they happened.
//!
//! Every error names the line and column, the key and what was expected.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::history::{Call, History, HistoryBuilder, Outcome, Value};

/// Longest line accepted (a history line is a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Deepest nesting of EDN/JSON collections accepted in one line.
const MAX_DEPTH: usize = 32;

/// A malformed line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (of the offending key or value; 1 when unknown).
    pub col: usize,
    /// What was expected, and what was found.
    pub message: String,
}

/// A history file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{error}")]
    Parse {
        /// The file.
        path: String,
        /// Where and what.
        error: ParseError,
    },
}

/// Read and parse a history file, a line at a time: a line longer than
/// [`MAX_LINE_BYTES`] (or a file without newlines, such as `/dev/zero`) is
/// an error once that many bytes are read, not an allocation without end.
pub fn load_history(path: &Path) -> Result<History, LoadError> {
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let parse = |error| LoadError::Parse {
        path: path.display().to_string(),
        error,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut builder = HistoryBuilder::new();
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        if read == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = std::str::from_utf8(&buf).map_err(|e| {
            parse(ParseError {
                line: n,
                col: e.valid_up_to() + 1,
                message: "not UTF-8 text".into(),
            })
        })?;
        parse_line(&mut builder, n, line).map_err(parse)?;
    }
    Ok(builder.finish())
}

/// Parse a history from text (EDN and JSON lines may be mixed).
pub fn parse_history(text: &str) -> Result<History, ParseError> {
    let mut builder = HistoryBuilder::new();
    for (i, line) in text.lines().enumerate() {
        parse_line(&mut builder, i + 1, line)?;
    }
    Ok(builder.finish())
}

/// One line `n` (without its newline) into `builder`.
fn parse_line(builder: &mut HistoryBuilder, n: usize, line: &str) -> Result<(), ParseError> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with(';') {
        return Ok(());
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(ParseError {
            line: n,
            col: 1,
            message: format!("line longer than {MAX_LINE_BYTES} bytes"),
        });
    }
    // JSON if the first key is a string (`{"process"`); a line may start
    // with any character, so skip it by `char`, not by byte.
    let mut after_brace = trimmed.chars();
    after_brace.next();
    let fields = if after_brace.as_str().trim_start().starts_with('"') {
        json_fields(line)
    } else {
        edn_fields(line)
    }
    .map_err(|(col, message)| ParseError {
        line: n,
        col,
        message,
    })?;
    apply(builder, n, &fields)
}

/// A parsed datum, EDN or JSON.
#[derive(Clone, Debug, PartialEq)]
enum Datum {
    Nil,
    Bool(bool),
    Int(i64),
    Float,
    Str(String),
    /// An EDN keyword (without the colon) or symbol.
    Word(String),
    List(Vec<Datum>),
    Map,
}

impl Datum {
    fn show(&self) -> String {
        match self {
            Datum::Nil => "nil".into(),
            Datum::Bool(b) => b.to_string(),
            Datum::Int(i) => i.to_string(),
            Datum::Float => "a float".into(),
            Datum::Str(s) => format!("{s:?}"),
            Datum::Word(w) => format!(":{w}"),
            Datum::List(items) => {
                let inner: Vec<String> = items.iter().map(Datum::show).collect();
                format!("[{}]", inner.join(" "))
            }
            Datum::Map => "a map".into(),
        }
    }

    /// The name of a keyword, or of a string (JSON spells keywords as strings,
    /// with or without the colon).
    fn word(&self) -> Option<&str> {
        match self {
            Datum::Word(w) => Some(w),
            Datum::Str(s) => Some(s.strip_prefix(':').unwrap_or(s)),
            _ => None,
        }
    }

    fn value(&self) -> Option<Value> {
        match self {
            Datum::Nil => Some(Value::Nil),
            Datum::Int(i) => Some(Value::Int(*i)),
            Datum::Str(s) => Some(Value::Str(s.clone())),
            _ => None,
        }
    }
}

/// The top-level keys of one line: (key, value, 1-based column of the key).
type Fields = Vec<(String, Datum, usize)>;

fn field<'a>(fields: &'a Fields, key: &str) -> Option<(&'a Datum, usize)> {
    fields
        .iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, d, c)| (d, *c))
}

fn apply(builder: &mut HistoryBuilder, line: usize, fields: &Fields) -> Result<(), ParseError> {
    let err = |col: usize, message: String| ParseError { line, col, message };
    let need = |key: &str| {
        field(fields, key).ok_or_else(|| err(1, format!(":{key}: missing (every event needs it)")))
    };
    let (process, pcol) = need("process")?;
    let process = match process {
        Datum::Int(p) if *p >= 0 => *p as u64,
        // Jepsen's nemesis and other non-client processes do not touch registers.
        Datum::Word(_) | Datum::Str(_) => return Ok(()),
        other => {
            return Err(err(
                pcol,
                format!(
                    ":process: expected a non-negative integer, found {}",
                    other.show()
                ),
            ));
        }
    };
    let (kind, tcol) = need("type")?;
    let outcome = match kind.word() {
        Some("invoke") => None,
        Some("ok") => Some(Outcome::Ok),
        Some("fail") => Some(Outcome::Fail),
        Some("info") => Some(Outcome::Info),
        _ => {
            return Err(err(
                tcol,
                format!(
                    ":type: expected :invoke, :ok, :fail or :info, found {}",
                    kind.show()
                ),
            ));
        }
    };
    let (f, fcol) = need("f")?;
    let f = match f.word() {
        Some(name @ ("read" | "write" | "cas")) => name,
        _ => {
            return Err(err(
                fcol,
                format!(":f: expected :read, :write or :cas, found {}", f.show()),
            ));
        }
    };
    // `:time` is optional, as in Knossos' histories: the order of the lines
    // is the real-time order, and times only label reports. An event
    // without one shares the previous event's time.
    let tmcol = field(fields, "time").map_or(pcol, |(_, c)| c);
    let time = match field(fields, "time") {
        None => builder.last_time(),
        Some((Datum::Int(t), _)) if *t >= 0 => *t as u64,
        Some((other, _)) => {
            return Err(err(
                tmcol,
                format!(
                    ":time: expected a non-negative integer, found {}",
                    other.show()
                ),
            ));
        }
    };
    let key = match field(fields, "key") {
        None => None,
        Some((d, col)) => Some(d.value().ok_or_else(|| {
            err(
                col,
                format!(
                    ":key: expected an integer, a string or nil, found {}",
                    d.show()
                ),
            )
        })?),
    };
    let value = field(fields, "value");
    builder.at_line(line);
    match outcome {
        None => {
            let call = match f {
                "read" => Call::Read,
                "write" => {
                    let (d, col) = value.ok_or_else(|| {
                        err(
                            1,
                            ":value: missing (a :write invokes with the value it writes)".into(),
                        )
                    })?;
                    Call::Write {
                        value: d.value().ok_or_else(|| {
                            err(
                                col,
                                format!(
                                    ":value: expected the written value (an integer, a string or nil), found {}",
                                    d.show()
                                ),
                            )
                        })?,
                    }
                }
                _ => {
                    let (d, col) = value.ok_or_else(|| {
                        err(
                            1,
                            ":value: missing (a :cas invokes with [expected new])".into(),
                        )
                    })?;
                    let pair = match d {
                        Datum::List(items) if items.len() == 2 => {
                            items[0].value().zip(items[1].value())
                        }
                        _ => None,
                    };
                    let (expected, new) = pair.ok_or_else(|| {
                        err(
                            col,
                            format!(
                                ":value: expected [expected new] for a :cas, found {}",
                                d.show()
                            ),
                        )
                    })?;
                    Call::Cas { expected, new }
                }
            };
            builder
                .invoke(process, key, call, time)
                .map_err(|e| err(pcol, e.to_string()))?;
        }
        Some(outcome) => {
            let pending = builder.in_flight(process).ok_or_else(|| {
                err(
                    pcol,
                    format!(
                        "process {process} completes an operation it never invoked \
                         (expected an :invoke first)"
                    ),
                )
            })?;
            if pending.call.name() != f {
                return Err(err(
                    fcol,
                    format!(
                        ":f: expected :{} (the operation process {process} invoked), found :{f}",
                        pending.call.name()
                    ),
                ));
            }
            if let Some(k) = &key
                && pending.key.as_ref() != Some(k)
            {
                return Err(err(
                    field(fields, "key").map_or(1, |(_, c)| c),
                    format!(
                        ":key: expected {} (the key process {process} invoked on), found {k}",
                        pending
                            .key
                            .as_ref()
                            .map_or("none".into(), |k| k.to_string())
                    ),
                ));
            }
            let mut read_value = None;
            if outcome == Outcome::Ok && f == "read" {
                read_value = match value {
                    None => Some(Value::Nil),
                    Some((d, col)) => Some(d.value().ok_or_else(|| {
                        err(
                            col,
                            format!(
                                ":value: expected the value read (an integer, a string or nil), found {}",
                                d.show()
                            ),
                        )
                    })?),
                };
            }
            builder
                .complete(process, outcome, read_value, time)
                .map_err(|e| err(tmcol, e.to_string()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- JSON

fn json_fields(line: &str) -> Result<Fields, (usize, String)> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| (e.column().max(1), format!("expected a JSON object: {e}")))?;
    let serde_json::Value::Object(map) = v else {
        return Err((1, "expected a JSON object".into()));
    };
    let mut fields = Vec::with_capacity(map.len());
    for (k, v) in map {
        let col = line.find(&format!("\"{k}\"")).map_or(1, |c| c + 1);
        let d = json_datum(&v, 0).ok_or((col, format!("{k}: nested deeper than {MAX_DEPTH}")))?;
        fields.push((k.strip_prefix(':').unwrap_or(&k).to_string(), d, col));
    }
    Ok(fields)
}

/// An integer as EDN writes it: an optional sign, then digits only.
fn is_integer_literal(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn json_datum(v: &serde_json::Value, depth: usize) -> Option<Datum> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match v {
        serde_json::Value::Null => Datum::Nil,
        serde_json::Value::Bool(b) => Datum::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Datum::Int(i),
            None => Datum::Float,
        },
        serde_json::Value::String(s) => Datum::Str(s.clone()),
        serde_json::Value::Array(items) => Datum::List(
            items
                .iter()
                .map(|d| json_datum(d, depth + 1))
                .collect::<Option<_>>()?,
        ),
        serde_json::Value::Object(_) => Datum::Map,
    })
}

// ---------------------------------------------------------------- EDN

/// A cursor over one line of EDN.
struct Edn<'a> {
    s: &'a [u8],
    pos: usize,
}

type EdnResult<T> = Result<T, (usize, String)>;

impl Edn<'_> {
    fn col(&self) -> usize {
        self.pos + 1
    }

    fn fail<T>(&self, what: impl fmt::Display) -> EdnResult<T> {
        Err((self.col(), what.to_string()))
    }

    /// Skip whitespace, commas and `;` comments.
    fn skip(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c == b';' {
                self.pos = self.s.len();
            } else if c.is_ascii_whitespace() || c == b',' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.s.get(self.pos).copied()
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while let Some(&c) = self.s.get(self.pos) {
            if c.is_ascii_whitespace() || b",()[]{}\"".contains(&c) {
                break;
            }
            self.pos += 1;
        }
        // The line is a &str and tokens stop at ASCII delimiters: valid UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn datum(&mut self, depth: usize) -> EdnResult<Datum> {
        if depth > MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH}"));
        }
        let Some(c) = self.peek() else {
            return self.fail("expected a value, found the end of the line");
        };
        match c {
            b'{' => {
                self.pos += 1;
                loop {
                    match self.peek() {
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Datum::Map);
                        }
                        None => return self.fail("expected `}`, found the end of the line"),
                        _ => {
                            self.datum(depth + 1)?;
                            self.datum(depth + 1)?;
                        }
                    }
                }
            }
            b'[' | b'(' => {
                let close = if c == b'[' { b']' } else { b')' };
                self.pos += 1;
                self.items(close, depth).map(Datum::List)
            }
            b'#' => {
                // A set `#{…}` or a tagged literal `#tag value`: read and keep the value.
                self.pos += 1;
                if self.s.get(self.pos) == Some(&b'{') {
                    self.pos += 1;
                    self.items(b'}', depth)?;
                    return Ok(Datum::Map);
                }
                let tag = self.token().to_string();
                if tag.is_empty() {
                    return self.fail("expected a tag after `#`");
                }
                self.datum(depth + 1)
            }
            b'"' => self.string().map(Datum::Str),
            b':' => {
                self.pos += 1;
                let w = self.token();
                if w.is_empty() {
                    return self.fail("expected a keyword name after `:`");
                }
                Ok(Datum::Word(w.to_string()))
            }
            b'}' | b']' | b')' => self.fail(format!("unexpected `{}`", c as char)),
            _ => {
                let col = self.col();
                let t = self.token();
                match t {
                    "nil" => Ok(Datum::Nil),
                    "true" => Ok(Datum::Bool(true)),
                    "false" => Ok(Datum::Bool(false)),
                    _ => {
                        let digits = t.strip_suffix('N').unwrap_or(t);
                        if let Ok(i) = digits.parse::<i64>() {
                            Ok(Datum::Int(i))
                        } else if is_integer_literal(digits) {
                            Err((
                                col,
                                format!("expected an integer that fits 64 bits, found {t}"),
                            ))
                        } else if t.parse::<f64>().is_ok() {
                            Ok(Datum::Float)
                        } else if looks_numeric(t) {
                            Err((
                                col,
                                format!("expected a number that fits 64 bits, found {t}"),
                            ))
                        } else {
                            Ok(Datum::Word(t.to_string()))
                        }
                    }
                }
            }
        }
    }

    /// The items of a collection up to `close` (the opening is consumed).
    fn items(&mut self, close: u8, depth: usize) -> EdnResult<Vec<Datum>> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Some(x) if x == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                None => {
                    return self.fail(format!(
                        "expected `{}`, found the end of the line",
                        close as char
                    ));
                }
                _ => items.push(self.datum(depth + 1)?),
            }
        }
    }

    fn string(&mut self) -> EdnResult<String> {
        let start = self.col();
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err((start, "expected a closing `\"` for this string".into()));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err((start, "expected a closing `\"` for this string".into()));
                    };
                    self.pos += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                other => out.push(other),
            }
        }
        String::from_utf8(out).map_err(|_| (start, "string is not valid UTF-8".into()))
    }
}

/// A token that starts like a number (`7…`, `-7…`, `+7…`) but did not parse as one.
fn looks_numeric(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    digits.starts_with(|c: char| c.is_ascii_digit())
}

fn edn_fields(line: &str) -> Result<Fields, (usize, String)> {
    let mut p = Edn {
        s: line.as_bytes(),
        pos: 0,
    };
    if p.peek() != Some(b'{') {
        return p.fail("expected an EDN map `{:process …}` or a JSON object");
    }
    p.pos += 1;
    let mut fields = Vec::new();
    loop {
        match p.peek() {
            Some(b'}') => {
                p.pos += 1;
                break;
            }
            None => return p.fail("expected `}`, found the end of the line"),
            Some(_) => {
                let col = p.col();
                let key = match p.datum(1)? {
                    Datum::Word(w) => w,
                    other => {
                        return Err((
                            col,
                            format!("expected a keyword key, found {}", other.show()),
                        ));
                    }
                };
                let d = p.datum(1)?;
                fields.push((key, d, col));
            }
        }
    }
    if p.peek().is_some() {
        return p.fail("expected the end of the line after the map");
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ParseError {
        parse_history(text).unwrap_err()
    }

    #[test]
    fn edn_and_json_lines_give_the_same_history() {
        let edn = "{:process 0, :type :invoke, :f :cas, :key \"c17\", :value [1 2], :time 1200}\n\
                   {:process 0, :type :ok, :f :cas, :key \"c17\", :value [1 2], :time 1450, :index 1}\n";
        let json = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"cas\", \"key\": \"c17\", \"value\": [1, 2], \"time\": 1200}\n\
                    {\"process\": 0, \"type\": \"ok\", \"f\": \"cas\", \"key\": \"c17\", \"value\": [1, 2], \"time\": 1450}\n";
        let a = parse_history(edn).unwrap();
        let b = parse_history(json).unwrap();
        assert_eq!(a.len(), 1);
        let (x, y) = (&a.operations()[0], &b.operations()[0]);
        assert_eq!(x.call, y.call);
        assert_eq!(x.key, Some(Value::Str("c17".into())));
        assert_eq!((x.outcome, x.complete_time), (Outcome::Ok, Some(1450)));
        assert_eq!(
            x.call,
            Call::Cas {
                expected: 1.into(),
                new: 2.into()
            }
        );
    }

    #[test]
    fn nemesis_lines_comments_and_unknown_keys_are_skipped() {
        let text = "; a comment\n\n\
            {:type :info, :f :start, :process :nemesis, :time 5, :value nil}\n\
            {:type :invoke, :f :read, :process 1, :time 6, :value nil, :index 0}\n\
            {:type :ok, :f :read, :process 1, :time 7, :value nil, :error {:a [1 #{2}]}}\n";
        let h = parse_history(text).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h.operations()[0].read_value, Some(Value::Nil));
        assert_eq!(h.operations()[0].invoke_line, Some(4));
    }

    #[test]
    fn errors_name_line_column_key_and_what_was_expected() {
        let e = err("{:process 0, :type :invoke, :f :cas, :value 3, :time 1}");
        assert_eq!((e.line, e.col), (1, 38));
        assert!(e.message.contains("expected [expected new]"), "{e}");

        let e = err(
            "{:process 0, :type :invoke, :f :read, :time 1}\n{:process 0, :type :invoke, :f :read, :time 2}",
        );
        assert_eq!(e.line, 2);
        assert!(e.message.contains("invokes again"), "{e}");

        let e = err("{:process 0, :type :ok, :f :read, :time 1}");
        assert!(e.message.contains("never invoked"), "{e}");

        let e = err("{:process 0, :type :invoke, :f :incr, :time 1}");
        assert!(
            e.message.contains(":f: expected :read, :write or :cas"),
            "{e}"
        );

        // `:time` is optional (Knossos' histories have none).
        let h = parse_history(
            "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}",
        )
        .expect("a history without :time parses");
        assert_eq!(h.len(), 1);

        let e = err("{:process 0, :type :invoke, :f :read, :time 1\n");
        assert!(e.message.contains("expected `}`"), "{e}");

        let e = err("{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"time\": 1}");
        assert!(e.message.contains(":value: missing"), "{e}");

        let e = err(
            "{:process 0, :type :invoke, :f :read, :time 1}\n{:process 0, :type :ok, :f :write, :time 2}",
        );
        assert!(e.message.contains("expected :read"), "{e}");
    }

    #[test]
    fn a_line_starting_with_a_multibyte_character_is_an_error_not_a_panic() {
        for text in ["é", "€{:process 0}", "  ☃", "{é", "\u{10FFFF}\"process\""] {
            let e = err(text);
            assert_eq!(e.line, 1, "{text:?}: {e}");
        }
    }

    #[test]
    fn info_then_invoke_is_malformed_in_files_too() {
        let e = err(
            "{:process 0, :type :invoke, :f :write, :value 1, :time 1}\n\
                     {:process 0, :type :info, :f :write, :value 1, :time 2}\n\
                     {:process 0, :type :invoke, :f :read, :time 3}",
        );
        assert_eq!(e.line, 3);
        assert!(e.message.contains("ended :info"), "{e}");
    }
}
