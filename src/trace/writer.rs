//! The streaming trace writer.
//!
//! Event lines are formatted by hand straight into a large block buffer: the
//! writer sits on the hot path of every traced run (two lines per message),
//! so it avoids `serde` for the kernel's own events, allocates nothing per
//! event, and hashes and writes whole blocks rather than lines. Process
//! events go through `serde_json` once and are spliced after the common
//! fields. Every written byte of the event lines feeds the digest.

use std::io::{self, Write};

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use super::step::StepEvent;
use crate::sim::{AppEvent, Event, EventKind, ProcessId, SimTime, Stamp};

/// Event lines are hashed and written in blocks of about this size.
const BLOCK_BYTES: usize = 64 * 1024;

/// Which events are written (`--trace-level`). Checkers see every event
/// whatever the level.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum TraceLevel {
    /// Everything but data-plane messages (client and replication traffic).
    Control,
    /// Every event.
    #[default]
    All,
}

/// Writes a trace to `W`: header, events, footer.
pub struct TraceWriter<W: Write> {
    out: W,
    level: TraceLevel,
    /// Formatted event lines not yet hashed and written.
    block: Vec<u8>,
    hasher: Xxh3,
    written: u64,
    error: Option<io::Error>,
    /// The common fields of the last line, kept to write the next one's.
    common: Common,
}

/// Decimal digits of a `u64`, at most.
const U64_DIGITS: usize = 20;

/// The decimal text of the last time and sequence number written, and the
/// quoted process names: consecutive lines mostly share their time, and
/// their sequence numbers count up by one, so a line's common fields are
/// copied (and a digit or two carried) rather than formatted again. The
/// bytes are exactly [`push_common`]'s.
#[derive(Default)]
struct Common {
    t: Option<u64>,
    t_text: Vec<u8>,
    seq: Option<u64>,
    /// `seq` in decimal, right-aligned in `U64_DIGITS` bytes.
    seq_digits: [u8; U64_DIGITS],
    seq_from: usize,
    /// Every process's name as a JSON string, made on first use, one after
    /// the other in one buffer (a few kilobytes for hundreds of processes,
    /// that stay in cache: with a buffer per name, or the name table's own
    /// strings, each line's names were a pointer chase each);
    /// `quoted_at[i]` is where process `i`'s is, `(0, 0)` if not yet made.
    /// `names_len` is the length of the name table they were made from.
    quoted: Vec<u8>,
    quoted_at: Vec<(u32, u32)>,
    names_len: usize,
    /// The line [`Common::traffic_line`] makes (`LINE_BYTES` long once
    /// used), kept between lines.
    line: Vec<u8>,
}

/// Room in [`Common::line`]: the longest line made there (seven pieces of
/// at most `SHORT` bytes and the literals between them) plus the `SHORT`
/// bytes a last short copy may write past its end.
const LINE_BYTES: usize = 384;

/// The longest piece [`put_short`] copies.
const SHORT: usize = 32;

/// Appends `s` (at most `SHORT` bytes) to `line` at `at`, as
/// [`push_bytes`] does to a vector: with copies of fixed sizes that may
/// write past the piece (the next piece overwrites it), and neither a
/// length to grow nor one to cut back.
#[inline(always)]
fn put_short(line: &mut [u8], at: &mut usize, s: &[u8]) {
    let n = s.len();
    debug_assert!(n <= SHORT);
    let dst = &mut line[*at..*at + SHORT];
    if n >= 16 {
        dst[..16].copy_from_slice(&s[..16]);
        dst[n - 16..n].copy_from_slice(&s[n - 16..n]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&s[..8]);
        dst[n - 8..n].copy_from_slice(&s[n - 8..n]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&s[..4]);
        dst[n - 4..n].copy_from_slice(&s[n - 4..n]);
    } else if n > 0 {
        dst[0] = s[0];
        dst[n / 2] = s[n / 2];
        dst[n - 1] = s[n - 1];
    }
    *at += n;
}

/// Appends the literal `s` to `line` at `at`.
#[inline(always)]
fn put_lit<const N: usize>(line: &mut [u8], at: &mut usize, s: &[u8; N]) {
    line[*at..*at + N].copy_from_slice(s);
    *at += N;
}

/// Appends `v` in decimal to `line` at `at`.
#[inline(always)]
fn put_u64(line: &mut [u8], at: &mut usize, v: u64) {
    put_short(line, at, itoa::Buffer::new().format(v).as_bytes());
}

impl Common {
    /// Appends what [`push_common`] appends.
    #[inline]
    fn push(
        &mut self,
        out: &mut Vec<u8>,
        t: SimTime,
        p: ProcessId,
        seq: u64,
        cause: Option<u64>,
        names: &[String],
    ) {
        out.extend_from_slice(b"{\"t\":");
        if self.t != Some(t.0) {
            self.t = Some(t.0);
            self.t_text.clear();
            push_u64(&mut self.t_text, t.0);
        }
        push_bytes(out, &self.t_text);
        out.extend_from_slice(b",\"p\":");
        self.push_name(out, p, names);
        out.extend_from_slice(b",\"seq\":");
        self.set_seq(seq);
        push_bytes(out, &self.seq_digits[self.seq_from..]);
        if let Some(c) = cause {
            out.extend_from_slice(b",\"cause\":");
            push_u64(out, c);
        }
    }

    /// Appends what `push_str(out, p.name_in(names))` appends.
    #[inline]
    fn push_name(&mut self, out: &mut Vec<u8>, p: ProcessId, names: &[String]) {
        match self.quote(p, names) {
            Some((start, len)) => {
                push_bytes(out, &self.quoted[start as usize..(start + len) as usize]);
            }
            None => push_str(out, p.name_in(names)),
        }
    }

    /// Where `p`'s quoted name is in `quoted` (made on first use); `None`
    /// for a process out of the table (the simulator's own included).
    #[inline(always)]
    fn quote(&mut self, p: ProcessId, names: &[String]) -> Option<(u32, u32)> {
        if names.len() != self.names_len {
            // New processes (or another table): make the names again.
            self.quoted.clear();
            self.quoted_at.clear();
            self.names_len = names.len();
        }
        let i = p.index();
        if p == ProcessId::SIM || i >= names.len() {
            return None;
        }
        if self.quoted_at.len() <= i {
            self.quoted_at.resize(names.len(), (0, 0));
        }
        let (mut start, mut len) = self.quoted_at[i];
        if len == 0 {
            // A quoted name has its two quotes at least: never empty.
            let at = self.quoted.len();
            push_str(&mut self.quoted, &names[i]);
            (start, len) = (
                u32::try_from(at).expect("process names fit in 4 GiB"),
                u32::try_from(self.quoted.len() - at).expect("a process name fits in 4 GiB"),
            );
            self.quoted_at[i] = (start, len);
        }
        Some((start, len))
    }

    /// Appends the line of a `send`, `deliver` or `timer` event (nearly
    /// every line of a run) if it is one and its names and kinds are
    /// short; returns whether it did. The same bytes as [`push_common`]
    /// and [`format_event_body`], but made in a fixed buffer and appended
    /// at once: growing the block piece by piece (a length and a capacity
    /// checked and kept for each of a dozen pieces) cost more than the
    /// pieces.
    #[inline]
    fn traffic_line<E: AppEvent>(
        &mut self,
        out: &mut Vec<u8>,
        ev: &Event<'_, E>,
        names: &[String],
    ) -> bool {
        let (send, other, text, id) = match ev.kind {
            EventKind::Send { to, msg, id, .. } => (true, Some(to), msg, id),
            EventKind::Deliver { from, msg, id, .. } => (false, Some(from), msg, id),
            EventKind::Timer { timer } => (false, None, timer, 0),
            _ => return false,
        };
        let Some((p_at, p_len)) = self.quote(ev.p, names) else {
            return false;
        };
        let other = match other {
            Some(q) => match self.quote(q, names) {
                Some(at) => Some(at),
                None => return false,
            },
            None => None,
        };
        let short = |len: u32| len as usize <= SHORT;
        if !short(p_len) || !other.is_none_or(|(_, len)| short(len)) || text.len() > SHORT {
            return false;
        }
        debug_assert!(text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
        if self.t != Some(ev.t.0) {
            self.t = Some(ev.t.0);
            self.t_text.clear();
            push_u64(&mut self.t_text, ev.t.0);
        }
        self.set_seq(ev.seq);
        if self.line.len() != LINE_BYTES {
            self.line = vec![0; LINE_BYTES];
        }
        let quoted = &self.quoted;
        let name = |(at, len): (u32, u32)| &quoted[at as usize..(at + len) as usize];
        let line = &mut self.line[..];
        let mut at = 0;
        put_lit(line, &mut at, b"{\"t\":");
        put_short(line, &mut at, &self.t_text);
        put_lit(line, &mut at, b",\"p\":");
        put_short(line, &mut at, name((p_at, p_len)));
        put_lit(line, &mut at, b",\"seq\":");
        put_short(line, &mut at, &self.seq_digits[self.seq_from..]);
        if let Some(c) = ev.cause {
            put_lit(line, &mut at, b",\"cause\":");
            put_u64(line, &mut at, c);
        }
        match other {
            Some(q) if send => {
                put_lit(line, &mut at, br#","ev":"send","to":"#);
                put_short(line, &mut at, name(q));
            }
            Some(q) => {
                put_lit(line, &mut at, br#","ev":"deliver","from":"#);
                put_short(line, &mut at, name(q));
            }
            None => {
                put_lit(line, &mut at, br#","ev":"timer","timer":""#);
                put_short(line, &mut at, text.as_bytes());
                put_lit(line, &mut at, b"\"}\n");
                out.extend_from_slice(&line[..at]);
                return true;
            }
        }
        put_lit(line, &mut at, br#","msg":""#);
        put_short(line, &mut at, text.as_bytes());
        put_lit(line, &mut at, br#"","id":"#);
        put_u64(line, &mut at, id);
        put_lit(line, &mut at, b"}\n");
        out.extend_from_slice(&line[..at]);
        true
    }

    /// Makes `seq_digits` hold `seq`: one more than the last is a carry
    /// through the digits, anything else is formatted afresh.
    #[inline(always)]
    fn set_seq(&mut self, seq: u64) {
        if self
            .seq
            .is_some_and(|last| last.checked_add(1) == Some(seq))
        {
            let mut i = U64_DIGITS;
            loop {
                i -= 1;
                if self.seq_digits[i] == b'9' {
                    self.seq_digits[i] = b'0';
                } else {
                    if i < self.seq_from {
                        self.seq_digits[i] = b'1';
                        self.seq_from = i;
                    } else {
                        self.seq_digits[i] += 1;
                    }
                    break;
                }
            }
        } else {
            let mut b = itoa::Buffer::new();
            let text = b.format(seq).as_bytes();
            self.seq_from = U64_DIGITS - text.len();
            self.seq_digits[..self.seq_from].fill(b'0');
            self.seq_digits[self.seq_from..].copy_from_slice(text);
        }
        self.seq = Some(seq);
    }
}

impl<W: Write> TraceWriter<W> {
    /// A writer that writes `header` (serialized as one JSON object) as line 1.
    pub fn new<H: Serialize>(mut out: W, level: TraceLevel, header: &H) -> io::Result<Self> {
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(TraceWriter {
            out,
            level,
            block: Vec::with_capacity(BLOCK_BYTES + 4096),
            hasher: Xxh3::new(),
            written: 0,
            error: None,
            common: Common::default(),
        })
    }

    /// Event lines written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of the event lines written so far.
    pub fn digest(&self) -> u64 {
        let mut h = self.hasher.clone();
        h.update(&self.block);
        h.digest()
    }

    fn flush_block(&mut self) {
        self.hasher.update(&self.block);
        if self.error.is_none()
            && let Err(e) = self.out.write_all(&self.block)
        {
            self.error = Some(e);
        }
        self.block.clear();
    }

    /// Formats and writes one event (unless the level filters it out).
    #[inline]
    pub fn write_event<E: AppEvent>(&mut self, ev: &Event<'_, E>, names: &[String]) {
        if self.level == TraceLevel::Control && ev.kind.is_bulk() {
            return;
        }
        if self.common.traffic_line(&mut self.block, ev, names) {
            self.wrote_line();
            return;
        }
        self.common
            .push(&mut self.block, ev.t, ev.p, ev.seq, ev.cause, names);
        let common = &mut self.common;
        format_event_body(&mut self.block, ev, |out, p| {
            common.push_name(out, p, names);
        });
        self.wrote_line();
    }

    /// Formats and writes one event of the run's driver (every level keeps it).
    pub fn write_step(&mut self, stamp: &Stamp, ev: &StepEvent<'_>, names: &[String]) {
        self.common.push(
            &mut self.block,
            stamp.t,
            stamp.p,
            stamp.seq,
            stamp.cause,
            names,
        );
        splice_object(&mut self.block, ev);
        self.wrote_line();
    }

    #[inline]
    fn wrote_line(&mut self) {
        self.written += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush_block();
        }
    }

    /// Writes the footer and flushes; returns the sink and the first write
    /// error, if any happened along the way.
    pub fn finish(mut self, summary: &serde_json::Value) -> io::Result<W> {
        self.flush_block();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        #[derive(Serialize)]
        struct Footer<'a> {
            footer: bool,
            events: u64,
            digest: String,
            summary: &'a serde_json::Value,
        }
        let footer = Footer {
            footer: true,
            events: self.written,
            digest: super::digest_hex(self.hasher.digest()),
            summary,
        };
        serde_json::to_writer(&mut self.out, &footer)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends the fields every event line starts with: `{"t":…,"p":…,"seq":…[,"cause":…]`.
#[inline]
fn push_common(
    out: &mut Vec<u8>,
    t: SimTime,
    p: ProcessId,
    seq: u64,
    cause: Option<u64>,
    names: &[String],
) {
    out.extend_from_slice(b"{\"t\":");
    push_u64(out, t.0);
    out.extend_from_slice(b",\"p\":");
    push_str(out, p.name_in(names));
    out.extend_from_slice(b",\"seq\":");
    push_u64(out, seq);
    if let Some(c) = cause {
        out.extend_from_slice(b",\"cause\":");
        push_u64(out, c);
    }
}

/// Appends `value`, serialized as a JSON object, after the common fields:
/// `{"ev":"role",...}` becomes `,"ev":"role",...}`; then the newline.
fn splice_object<S: Serialize + ?Sized>(out: &mut Vec<u8>, value: &S) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() || out.get(start) != Some(&b'{') {
        out.truncate(start);
        out.extend_from_slice(b",\"ev\":\"unserializable\"}");
    } else if out.len() - start == 2 {
        out.truncate(start);
        out.push(b'}');
    } else {
        out[start] = b',';
    }
    out.push(b'\n');
}

/// Appends the line of one event of the run's driver (with its newline).
pub fn format_step(out: &mut Vec<u8>, stamp: &Stamp, ev: &StepEvent<'_>, names: &[String]) {
    push_common(out, stamp.t, stamp.p, stamp.seq, stamp.cause, names);
    splice_object(out, ev);
}

/// Appends one event line (with its newline) to `out`.
pub fn format_event<E: AppEvent>(out: &mut Vec<u8>, ev: &Event<'_, E>, names: &[String]) {
    push_common(out, ev.t, ev.p, ev.seq, ev.cause, names);
    format_event_body(out, ev, |out, p| push_str(out, p.name_in(names)));
}

/// Appends what follows the common fields of an event's line; `push_name`
/// appends a process's name as a JSON string (`push_str` of `name_in`).
#[inline]
fn format_event_body<E: AppEvent>(
    out: &mut Vec<u8>,
    ev: &Event<'_, E>,
    mut push_name: impl FnMut(&mut Vec<u8>, ProcessId),
) {
    match &ev.kind {
        EventKind::App(app) => {
            if app.write_json_fields(out) {
                out.push(b'\n');
            } else {
                splice_object(out, *app);
            }
            return;
        }
        // The kinds of nearly every line: each literal run between two
        // values is one constant piece.
        EventKind::Send { to, msg, id, .. } => {
            out.extend_from_slice(br#","ev":"send","to":"#);
            push_name(out, *to);
            push_msg_id(out, msg, *id);
            return;
        }
        EventKind::Deliver { from, msg, id, .. } => {
            out.extend_from_slice(br#","ev":"deliver","from":"#);
            push_name(out, *from);
            push_msg_id(out, msg, *id);
            return;
        }
        EventKind::Timer { timer } => {
            out.extend_from_slice(br#","ev":"timer","timer":"#);
            push_plain(out, timer);
            out.extend_from_slice(b"}\n");
            return;
        }
        kind => {
            out.extend_from_slice(b",\"ev\":\"");
            push_bytes(out, kind.name().as_bytes());
            out.push(b'"');
        }
    }
    let mut field_name = |out: &mut Vec<u8>, key: &str, p: ProcessId| {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        push_name(out, p);
    };
    match ev.kind {
        EventKind::Drop {
            from,
            to,
            msg,
            id,
            reason,
            ..
        } => {
            field_name(out, "from", from);
            field_name(out, "to", to);
            field_plain(out, "msg", msg);
            field_u64(out, "id", id);
            field_plain(out, "reason", reason.as_str());
        }
        EventKind::Crash { lost_writes } => field_u64(out, "lost_writes", lost_writes),
        EventKind::Clock {
            offset_us,
            drift_ppm,
        } => {
            out.extend_from_slice(
                format!(",\"offset_us\":{offset_us},\"drift_ppm\":{drift_ppm}").as_bytes(),
            );
        }
        EventKind::Violation { check, detail } => {
            field_str(out, "check", check);
            field_str(out, "detail", detail);
        }
        EventKind::Send { .. }
        | EventKind::Deliver { .. }
        | EventKind::Timer { .. }
        | EventKind::Start
        | EventKind::Restart
        | EventKind::Pause
        | EventKind::Resume
        | EventKind::DiskLoss
        | EventKind::App(_) => {}
    }
    out.extend_from_slice(b"}\n");
}

/// Appends `,"msg":"…","id":…}` and the newline: the end of a `send` or
/// `deliver` line.
#[inline]
fn push_msg_id(out: &mut Vec<u8>, msg: &str, id: u64) {
    debug_assert!(msg.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
    out.extend_from_slice(br#","msg":""#);
    push_bytes(out, msg.as_bytes());
    out.extend_from_slice(br#"","id":"#);
    push_u64(out, id);
    out.extend_from_slice(b"}\n");
}

/// Appends `s` like `extend_from_slice`, but without a call to the C
/// library's `memcpy` for the short pieces a line is made of (numbers,
/// names, kinds: rarely more than 20 bytes). A copy of a length known only
/// at run time is a call; two copies of a fixed size that overlap in the
/// middle cover any length between that size and twice it, and compile to
/// a pair of loads and stores. The vector grows by a fixed 32 bytes first
/// (so the stores land inside it) and is cut back to the real length.
#[inline(always)]
fn push_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        out.extend_from_slice(s);
        return;
    }
    let mut at = out.len();
    out.extend_from_slice(&[0u8; SHORT]);
    put_short(out, &mut at, s);
    out.truncate(at);
}

#[inline]
fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_bytes(out, itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
fn push_str(out: &mut Vec<u8>, s: &str) {
    crate::sim::process::push_json_str(out, s);
}

/// Appends a string known to need no escaping (process ids, which the
/// scenario validator restricts, and the static names of kinds, messages
/// and timers); anything else goes through [`push_str`].
#[inline]
fn push_plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
    out.push(b'"');
    push_bytes(out, s.as_bytes());
    out.push(b'"');
}

#[inline]
fn field_plain(out: &mut Vec<u8>, key: &str, v: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_plain(out, v);
}

#[inline]
fn field_str(out: &mut Vec<u8>, key: &str, v: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_str(out, v);
}

#[inline]
fn field_u64(out: &mut Vec<u8>, key: &str, v: u64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_u64(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{NoEvent, SimTime};
    use crate::stack::consensus::{RaftEvent, Role};
    use crate::stack::events::StackEvent;

    fn names() -> Vec<String> {
        vec!["m1".into(), "n3".into()]
    }

    #[test]
    fn kernel_events_format_as_documented() {
        let mut out = Vec::new();
        let ev: Event<'_, NoEvent> = Event {
            t: SimTime(1500),
            p: ProcessId(1),
            seq: 4,
            cause: Some(2),
            kind: EventKind::Send {
                to: ProcessId(0),
                msg: "Heartbeat",
                id: 17,
                class: crate::sim::MsgClass::Normal,
            },
        };
        format_event(&mut out, &ev, &names());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"t\":1500,\"p\":\"n3\",\"seq\":4,\"cause\":2,\"ev\":\"send\",\"to\":\"m1\",\"msg\":\"Heartbeat\",\"id\":17}\n"
        );
    }

    #[test]
    fn app_events_are_spliced_after_common_fields() {
        let mut out = Vec::new();
        let app = StackEvent::Raft(RaftEvent::Role {
            role: Role::Leader,
            term: 3,
            leader: None,
        });
        let ev = Event {
            t: SimTime(9),
            p: ProcessId(0),
            seq: 0,
            cause: None,
            kind: EventKind::App(&app),
        };
        format_event(&mut out, &ev, &names());
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"t\":9,\"p\":\"m1\",\"seq\":0,\"ev\":\"role\",\"role\":\"leader\",\"term\":3}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["term"], 3);
    }

    #[test]
    fn kept_common_fields_are_formatted_ones() {
        let names: Vec<String> = vec!["m1".into(), "a\"b".into(), "n3".into()];
        let mut common = Common::default();
        let mut seqs: Vec<u64> = (0..2_100).collect();
        seqs.extend([
            9,
            99,
            999,
            1_000,
            5,
            10_000_000 - 1,
            10_000_000,
            u64::MAX - 1,
        ]);
        seqs.push(u64::MAX);
        seqs.extend([0, 1]);
        for (i, &seq) in seqs.iter().enumerate() {
            let t = SimTime(i as u64 / 3 * 1_000);
            let p = match i % 4 {
                3 => ProcessId::SIM,
                k => ProcessId(k as u32),
            };
            let cause = (i % 2 == 0).then_some(seq / 2);
            let (mut kept, mut fresh) = (Vec::new(), Vec::new());
            let short = &names[..if i > 1_000 { 3 } else { 2 }];
            common.push(&mut kept, t, p, seq, cause, short);
            push_common(&mut fresh, t, p, seq, cause, short);
            assert_eq!(
                String::from_utf8(kept).unwrap(),
                String::from_utf8(fresh).unwrap()
            );
        }
    }

    /// The writer's lines (names from its kept table) are `format_event`'s.
    #[test]
    fn written_lines_are_formatted_ones() {
        // A quoted name and one too long for the short copies of traffic
        // lines; a process out of the table and the simulator's own.
        let long = "a-process-name-of-forty-bytes-0123456789".to_string();
        let names: Vec<String> = vec!["m1".into(), "a\"b".into(), long, "n3".into()];
        let mut writer = TraceWriter::new(Vec::new(), TraceLevel::All, &"header").unwrap();
        let mut want = Vec::new();
        let ps = [
            ProcessId(0),
            ProcessId(1),
            ProcessId(2),
            ProcessId(3),
            ProcessId::SIM,
            ProcessId(7),
        ];
        for (i, (&p, &q)) in ps
            .iter()
            .zip(ps.iter().cycle().skip(2))
            .cycle()
            .take(80)
            .enumerate()
        {
            let kind: EventKind<'_, NoEvent> = match i % 5 {
                3 => EventKind::Timer { timer: "Heartbeat" },
                4 => EventKind::Timer {
                    timer: "a-timer-name-longer-than-32-bytes-each",
                },
                0 => EventKind::Send {
                    to: q,
                    msg: "Heartbeat",
                    id: i as u64,
                    class: crate::sim::MsgClass::Normal,
                },
                1 => EventKind::Deliver {
                    from: q,
                    msg: "Ack",
                    id: i as u64,
                    class: crate::sim::MsgClass::Normal,
                },
                _ => EventKind::Drop {
                    from: p,
                    to: q,
                    msg: "Ack",
                    id: i as u64,
                    reason: crate::sim::DropReason::Loss,
                    class: crate::sim::MsgClass::Normal,
                },
            };
            let names = &names[..if i < 40 { 2 } else { 4 }];
            let ev = Event {
                // Times and sequence numbers that repeat, carry and jump.
                t: SimTime(i as u64 / 2 * 999_999),
                p,
                seq: if i % 7 == 6 {
                    i as u64 * 1000
                } else {
                    i as u64 + 95
                },
                cause: (i % 2 == 1).then_some(i as u64 * 12_345),
                kind,
            };
            writer.write_event(&ev, names);
            format_event(&mut want, &ev, names);
        }
        let out = writer.finish(&serde_json::Value::Null).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let want = String::from_utf8(want).unwrap();
        assert_eq!(lines[1..lines.len() - 1].join("\n") + "\n", want);
    }

    #[test]
    fn short_copies_are_exact_at_every_length() {
        let src: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=src.len() {
            let mut out = b"xy".to_vec();
            push_bytes(&mut out, &src[..n]);
            let mut want = b"xy".to_vec();
            want.extend_from_slice(&src[..n]);
            assert_eq!(out, want, "length {n}");
        }
        for v in [0, 9, 10, 99, 100, 12_345_678, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\n");
        assert_eq!(out, b"\"a\\\"b\\n\"");
    }
}
