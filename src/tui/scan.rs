//! The fast path of indexing: the common fields of a line the trace writer
//! produced, read by hand, and a newline search eight bytes at a time.
//! Any line this does not recognise goes to `serde_json` instead
//! ([`slow_fields`]).

/// The common fields of a writer-formatted line, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fast<'a> {
    pub(super) t: u64,
    pub(super) p: &'a [u8],
    pub(super) seq: u64,
    pub(super) cause: Option<u64>,
    pub(super) ev: &'a [u8],
}

/// Reads `{"t":N,"p":"..","seq":N[,"cause":N],"ev":".."` — the prefix the
/// trace writer always produces. `None` sends the line to `serde_json`.
pub(super) fn scan_fast(line: &[u8]) -> Option<Fast<'_>> {
    let mut s = Scan { b: line, i: 0 };
    if !s.eat(b"{\"t\":") {
        return None;
    }
    let t = s.num()?;
    if !s.eat(b",\"p\":\"") {
        return None;
    }
    let p = s.plain_str()?;
    if !s.eat(b",\"seq\":") {
        return None;
    }
    let seq = s.num()?;
    let cause = if s.eat(b",\"cause\":") {
        Some(s.num()?)
    } else {
        None
    };
    if !s.eat(b",\"ev\":\"") {
        return None;
    }
    let ev = s.plain_str()?;
    match line.get(s.i) {
        Some(b',' | b'}') if line.last() == Some(&b'}') => Some(Fast {
            t,
            p,
            seq,
            cause,
            ev,
        }),
        _ => None,
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn num(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        (self.i > start).then_some(v)
    }

    /// A string without escapes, up to its closing quote (consumed).
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                b'\\' => return None,
                _ => self.i += 1,
            }
        }
        None
    }
}

/// The position of the first `\n`, eight bytes at a time.
pub(super) fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(word) ^ NL;
        // The lowest flagged byte is exactly the first zero byte.
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

/// The common fields of a line read by `serde_json`.
pub(super) struct SlowFields {
    pub(super) t: u64,
    pub(super) p: String,
    pub(super) seq: u64,
    pub(super) cause: Option<u64>,
    pub(super) ev: String,
}

pub(super) fn slow_fields(v: &serde_json::Value) -> Result<SlowFields, String> {
    let obj = v.as_object().ok_or("an event line must be a JSON object")?;
    Ok(SlowFields {
        t: obj
            .get("t")
            .and_then(|v| v.as_u64())
            .ok_or("event without \"t\"")?,
        p: obj
            .get("p")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string(),
        seq: obj
            .get("seq")
            .and_then(|v| v.as_u64())
            .ok_or("event without \"seq\"")?,
        cause: obj.get("cause").and_then(|v| v.as_u64()),
        ev: obj
            .get("ev")
            .and_then(|v| v.as_str())
            .ok_or("event without \"ev\"")?
            .to_string(),
    })
}

pub(super) enum Parsed<'a> {
    Fast(Fast<'a>),
    Slow(SlowFields),
}
