//! One trace event parsed in full, on demand, and how it reads on screen.
//!
//! The index keeps only a compact record per event; when a pane needs an
//! event's fields (the log, the detail pane, the state fold) the line is read
//! back and parsed here. Kinds this build does not know are kept as a field
//! map and shown generically: a newer writer never crashes the viewer.

use serde_json::{Map, Value};

/// The fields every event line carries; everything else goes to `fields`.
const COMMON: [&str; 5] = ["t", "p", "seq", "cause", "ev"];

/// An event line, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct FullEvent {
    /// Virtual time, µs.
    pub t: u64,
    /// The process name (`"sim"` for world-level events).
    pub p: String,
    /// Event number.
    pub seq: u64,
    /// The `seq` of the event that led to this one, as written.
    pub cause: Option<u64>,
    /// The kind (`"send"`, `"role"`, …).
    pub ev: String,
    /// Every other field, by name.
    pub fields: Map<String, Value>,
}

impl FullEvent {
    /// Parses one event line (without or with its newline).
    pub fn parse(line: &[u8]) -> Result<FullEvent, String> {
        let mut obj: Map<String, Value> =
            serde_json::from_slice(line).map_err(|e| format!("not a JSON event: {e}"))?;
        let t = obj
            .get("t")
            .and_then(Value::as_u64)
            .ok_or("event without \"t\"")?;
        let seq = obj
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or("event without \"seq\"")?;
        let ev = obj
            .get("ev")
            .and_then(Value::as_str)
            .ok_or("event without \"ev\"")?
            .to_string();
        let p = obj
            .get("p")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let cause = obj.get("cause").and_then(Value::as_u64);
        for k in COMMON {
            obj.remove(k);
        }
        Ok(FullEvent {
            t,
            p,
            seq,
            cause,
            ev,
            fields: obj,
        })
    }

    /// A string field ("" when absent or not a string).
    pub fn str(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// An unsigned field.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(Value::as_u64)
    }

    /// A signed field (0 when absent).
    pub fn i64(&self, key: &str) -> i64 {
        self.fields.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    /// A boolean field (false when absent).
    pub fn flag(&self, key: &str) -> bool {
        self.fields
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A partition number, written either as `7` or as `"p7"`.
    pub fn partition(&self) -> Option<u64> {
        match self.fields.get("partition")? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim_start_matches('p').parse().ok(),
            _ => None,
        }
    }

    /// One line for the event log: what happened, without time and process.
    pub fn summary(&self) -> String {
        let s = |k: &str| self.str(k);
        let n = |k: &str| {
            self.u64(k)
                .map_or_else(|| "?".to_string(), |v| v.to_string())
        };
        match self.ev.as_str() {
            "send" => format!("→{} {} #{}", s("to"), s("msg"), n("id")),
            "deliver" => format!("←{} {} #{}", s("from"), s("msg"), n("id")),
            "drop" => format!(
                "{}→{} {} #{} ({})",
                s("from"),
                s("to"),
                s("msg"),
                n("id"),
                s("reason")
            ),
            "timer" => s("timer").to_string(),
            "crash" => match self.u64("lost_writes") {
                Some(0) | None => "crashed".to_string(),
                Some(w) => format!("crashed, {w} unsynced writes lost"),
            },
            "start" => "started".into(),
            "restart" => "restarted from disk".into(),
            "pause" => "paused".into(),
            "resume" => "resumed".into(),
            "disk_loss" => "disk wiped".into(),
            "clock" => format!(
                "offset {} drift {}ppm",
                fmt_offset(self.i64("offset_us")),
                self.i64("drift_ppm")
            ),
            "fault" => format!(
                "{} #{} {}: {}",
                s("phase"),
                n("fault"),
                s("kind"),
                s("detail")
            ),
            "note" => s("text").to_string(),
            "violation" => format!("{}: {}", s("check"), s("detail")),
            "beat" => format!("round {}", n("round")),
            "role" => {
                let mut out = format!("{} term {}", s("role"), n("term"));
                if !s("leader").is_empty() {
                    out.push_str(&format!(" (leader {})", s("leader")));
                }
                out
            }
            "vote" => format!(
                "{} {} term {}{}",
                if self.flag("granted") {
                    "grant"
                } else {
                    "deny"
                },
                s("candidate"),
                n("term"),
                if self.flag("pre") { " (pre-vote)" } else { "" }
            ),
            "append" | "commit" => format!("#{} t{} {}", n("index"), n("term"), s("entry")),
            "snapshot" => format!(
                "@{} t{} {}B{}",
                n("index"),
                n("term"),
                n("bytes"),
                if self.flag("installed") {
                    " installed"
                } else {
                    ""
                }
            ),
            "map" => format!("applied map v{}", n("version")),
            "replica" => format!(
                "p{} {} epoch {}",
                self.partition()
                    .map_or_else(|| "?".into(), |p| p.to_string()),
                s("state"),
                n("epoch")
            ),
            "health" => format!("{} is {}", s("node"), s("state")),
            "move" => format!(
                "p{} {}→{} {}",
                self.partition()
                    .map_or_else(|| "?".into(), |p| p.to_string()),
                self.generic_value("from"),
                self.generic_value("to"),
                s("phase")
            ),
            "member" => format!("{} {}", s("node"), s("state")),
            "auth_reject" => format!("from {}: {}", s("from"), s("reason")),
            "invoke" => {
                let mut out = format!(
                    "{} {} {} cell {}",
                    self.generic_value("op"),
                    s("kind"),
                    self.generic_value("client_op"),
                    self.generic_value("cell")
                );
                if let Some(v) = self.fields.get("value") {
                    out.push_str(&format!(" = {}", plain(v)));
                }
                out
            }
            "op" => {
                let mut out = format!("{} {} c{}", s("type"), s("f"), n("key"));
                if let Some(e) = self.u64("expected") {
                    out.push_str(&format!(" {e}→"));
                } else if self.fields.contains_key("value") {
                    out.push_str(" = ");
                }
                if let Some(v) = self.fields.get("value") {
                    out.push_str(&plain(v));
                }
                out.push_str(&format!(" (p{} req {})", n("process"), n("req")));
                out
            }
            "served" => {
                let mut out = format!(
                    "p{} e{} {} c{}",
                    self.partition()
                        .map_or_else(|| "?".into(), |p| p.to_string()),
                    n("epoch"),
                    s("f"),
                    n("key")
                );
                if let Some(v) = self.fields.get("value") {
                    out.push_str(&format!(" = {}", plain(v)));
                }
                out.push_str(&format!(" @{}", n("index")));
                if let Some(c) = self.fields.get("copies").and_then(Value::as_array) {
                    out.push_str(&format!(" ({} copies)", c.len()));
                }
                out
            }
            "availability" => format!(
                "p{} {}",
                self.partition()
                    .map_or_else(|| "?".into(), |p| p.to_string()),
                if self.flag("available") {
                    "available again"
                } else {
                    "unavailable: no live in-sync copy"
                }
            ),
            "complete" => {
                let mut out = format!(
                    "{} {}",
                    self.generic_value("op"),
                    if self.flag("ok") { "ok" } else { "failed" }
                );
                if let Some(v) = self.fields.get("value") {
                    out.push_str(&format!(" = {}", plain(v)));
                }
                out
            }
            _ => self.generic(),
        }
    }

    fn generic_value(&self, key: &str) -> String {
        self.fields.get(key).map_or_else(|| "?".into(), plain)
    }

    /// `key=value` pairs of every field: the rendering of unknown kinds.
    pub fn generic(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(&plain(v));
        }
        out
    }
}

/// A JSON value as plain text: strings without quotes.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// `12.345678` — seconds of virtual time with microsecond precision.
pub fn fmt_t(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// A short duration: `250us`, `1.5ms`, `12s`, `2m30s`.
pub fn fmt_span(us: u64) -> String {
    if us == 0 {
        "0s".into()
    } else if us < 1_000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        trim_decimal(us as f64 / 1_000.0, "ms")
    } else if us < 600_000_000 {
        trim_decimal(us as f64 / 1_000_000.0, "s")
    } else {
        format!("{}m{}s", us / 60_000_000, (us / 1_000_000) % 60)
    }
}

fn trim_decimal(v: f64, unit: &str) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

/// A signed clock offset: `+2s`, `-150ms`, `0`.
pub fn fmt_offset(us: i64) -> String {
    if us == 0 {
        "0".into()
    } else if us < 0 {
        format!("-{}", fmt_span(us.unsigned_abs()))
    } else {
        format!("+{}", fmt_span(us as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_summarises_known_and_unknown_kinds() {
        let e = FullEvent::parse(
            br#"{"t":5,"p":"m1","seq":3,"cause":1,"ev":"role","role":"leader","term":4}"#,
        )
        .unwrap();
        assert_eq!((e.t, e.seq, e.cause, e.p.as_str()), (5, 3, Some(1), "m1"));
        assert_eq!(e.summary(), "leader term 4");
        let u = FullEvent::parse(br#"{"t":5,"p":"m1","seq":3,"ev":"brand_new","x":1,"y":"z"}"#)
            .unwrap();
        assert_eq!(u.summary(), "x=1 y=z");
        let r = FullEvent::parse(br#"{"t":5,"p":"n1","seq":3,"ev":"replica","partition":"p7","state":"primary","epoch":2}"#).unwrap();
        assert_eq!(r.partition(), Some(7));
        assert_eq!(r.summary(), "p7 primary epoch 2");
        assert!(FullEvent::parse(b"{\"t\":1}").is_err());
    }

    #[test]
    fn times_format_compactly() {
        assert_eq!(fmt_t(12_345_678), "12.345678");
        assert_eq!(fmt_span(1_500), "1.5ms");
        assert_eq!(fmt_span(60_000_000), "60s");
        assert_eq!(fmt_offset(-2_000_000), "-2s");
    }
}
