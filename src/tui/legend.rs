//! What the help overlay (`?`) says: every key, then every glyph and mark
//! the panes draw, pane by pane.
//!
//! The glyph tables are the contract with the drawing code: a test
//! (`every_drawn_glyph_is_explained` below) reads the drawing files and
//! fails when they can put a glyph on screen that [`LEGEND`] does not
//! explain. A token `eN` explains a mark `e` followed by a number.

/// The keys, as the help overlay and the README show them.
pub const KEYS: [(&str, &str); 24] = [
    ("space", "play / pause"),
    ("← → (↑ ↓)", "previous / next event (of the filter)"),
    ("shift+← →", "jump back / forward by 1% of the run"),
    ("PgUp PgDn", "20 events back / forward"),
    ("[ ]", "slower / faster playback"),
    ("n N", "next / previous event of the selected kind;"),
    ("", "after a / search: next / previous match (esc ends)"),
    ("v V", "next / previous violation"),
    (
        "o",
        "linearizable violation: the operations it cannot order",
    ),
    ("f", "filter by process and kind"),
    ("/", "search the event text (enter repeats)"),
    (":", "jump to a time (12.5s, 250ms) or an event (#2548)"),
    ("g G", "start / end"),
    ("b", "bookmark the event (toggle)"),
    ("'", "jump to the next bookmark"),
    ("c", "walk back to the event's cause"),
    ("C  backspace", "return along the causal walk"),
    ("m", "lanes: message arrows / glyph columns / client ops"),
    ("tab", "small screens: event log / lanes"),
    ("mouse", "wheel steps, click log or timeline"),
    ("?", "this help (↑ ↓ PgUp PgDn scroll)"),
    ("q  ctrl+c", "quit"),
    ("", ""),
    ("", "Glyphs and marks, pane by pane:"),
];

/// One pane's glyphs: (space-separated glyph tokens, meaning).
pub type Glyphs = &'static [(&'static str, &'static str)];

/// Every glyph and mark the panes draw, by pane.
pub const LEGEND: [(&str, Glyphs); 9] = [
    (
        "title",
        &[
            ("▶ ■", "playing / paused, then the speed"),
            ("#N (i/n)", "the event's seq, its position, events in all"),
            ("/text", "n and N repeat this search"),
        ],
    ),
    (
        "timeline",
        &[
            ("━", "faults: a fault window (colour: its kind)"),
            ("╿", "faults: a one-off fault action (restart, heal, …)"),
            ("━", "leader: a term, in the leader's colour, its name"),
            ("▲", "marks: a violation (red: nothing else is)"),
            ("◆", "marks: a bookmark"),
            ("┃", "marks: the cursor"),
            ("·", "nothing at that time"),
        ],
    ),
    (
        "nodes",
        &[
            ("up down pause —", "running, crashed, paused, not started"),
            (
                "LEADER follow candid precan",
                "Raft role; term; known leader",
            ),
            ("alive suspect dead", "health, as the leader sees the node"),
            ("rep pri", "replicas hosted, of which primaries"),
            ("A B", "net: the side of a partition the process is on"),
            ("≋", "a fault active at the cursor"),
            ("…", "more rows than fit"),
        ],
    ),
    (
        "grid (a tile per partition, coloured by its primary)",
        &[
            ("pN", "the partition"),
            ("N", "in-sync replicas on live nodes"),
            ("+N", "replicas still catching up"),
            ("!", "fewer in-sync replicas than the replication factor"),
            ("*", "a move in flight"),
            ("eN", "the partition's epoch"),
            ("wN", "writes its primaries acknowledged so far"),
            ("⊘", "unavailable: no live in-sync copy (leader's report)"),
            ("·", "not placed yet"),
            ("■", "legend: a node's colour"),
        ],
    ),
    (
        "event log",
        &[
            ("▶", "the selected event (dim: hidden by the filter)"),
            ("◆", "a bookmarked event"),
        ],
    ),
    (
        "detail",
        &[
            ("←", "caused by (the trace's cause link)"),
            (
                "⇠",
                "follows (derived: a restart its crash, a resume its pause)",
            ),
        ],
    ),
    (
        "lanes: message arrows",
        &[
            ("│", "a running process's lane"),
            ("┆", "paused"),
            ("╳", "crashed"),
            ("● ╌ › ‹", "a send: from ●, dashed towards the receiver"),
            ("○ ─ ▶ ◀", "a delivery: from the sender ○ to the receiver"),
            ("✕", "a drop, at the receiver (dashed line)"),
            ("! ~", "a violation / a fault across every lane"),
        ],
    ),
    (
        "lanes: glyph columns (m), status then the event",
        &[
            ("L F C p", "leader, follower, candidate, pre-candidate"),
            (". ? d", "up (no role); suspect; declared dead"),
            ("X z", "crashed; paused"),
            ("> < x", "send, deliver, drop"),
            ("t", "timer"),
            ("^ r", "start or restart; resume"),
            ("+ # m h", "commit, replica change, map applied, health"),
            ("R", "a role event with an unknown role"),
            ("! ~", "violation; fault"),
            ("*", "any other event"),
        ],
    ),
    (
        "lanes: client operations (m), a lane per client",
        &[
            ("w r c", "invocation: write, read, compare-and-set"),
            (
                "│",
                "in flight; colour: green ok, light red fail, yellow info",
            ),
            ("✓", "completed ok"),
            ("✗", "failed: certainly not applied"),
            ("?", "info: outcome unknown (timed out)"),
            ("┆", "pending: no completion in the trace"),
            ("!", "on red: cannot be ordered (linearizable, o)"),
        ],
    ),
];

/// The help overlay's lines: (key or glyphs, meaning).
pub fn help_lines() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = KEYS
        .iter()
        .map(|(k, d)| (k.to_string(), d.to_string()))
        .collect();
    for (pane, glyphs) in LEGEND {
        out.push((String::new(), String::new()));
        out.push((String::new(), format!("── {pane}")));
        for (g, d) in glyphs {
            out.push((g.to_string(), d.to_string()));
        }
    }
    out
}

/// True when the legend explains `c`: a token that is `c`, or `c` before
/// or after a number (`eN`, `+N`).
pub fn explains(c: char) -> bool {
    let one = c.to_string();
    LEGEND
        .iter()
        .flat_map(|(_, g)| g.iter())
        .any(|(tokens, _)| {
            tokens
                .split_whitespace()
                .any(|t| t == one || t == format!("{c}N") || t == format!("N{c}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters in the drawing files that are not drawn as glyphs, with why.
    const NOT_GLYPHS: [(char, &str); 2] = [
        ('0', "fmt_speed trims trailing zeros"),
        (' ', "blank cells"),
    ];

    /// Every character literal (`'x'`) and one-character string literal
    /// (`"x"`) in a source text, outside comments.
    fn literals(src: &str) -> Vec<char> {
        let mut out = Vec::new();
        for line in src.lines() {
            let code = match line.find("//") {
                Some(k) if !line[..k].contains('"') => &line[..k],
                _ => line,
            };
            let chars: Vec<char> = code.chars().collect();
            for k in 0..chars.len() {
                let q = chars[k];
                if (q == '\'' || q == '"') && k + 2 < chars.len() && chars[k + 2] == q {
                    let before = k.checked_sub(1).map(|b| chars[b]);
                    let c = chars[k + 1];
                    // Not a byte literal (b'A'), not a lifetime, not an escape,
                    // not the end of a longer string.
                    let opens = before.is_none_or(|b| !b.is_alphanumeric() && b != '\\' && b != q);
                    if opens && c != '\\' && c != q {
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_drawn_glyph_is_explained() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tui/");
        let mut missing = Vec::new();
        let mut seen = 0;
        for file in ["view.rs", "lanes.rs"] {
            let src = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            // The drawing code ends where its tests begin.
            let src = src.split("#[cfg(test)]").next().unwrap_or("");
            for c in literals(src) {
                seen += 1;
                if !explains(c) && !NOT_GLYPHS.iter().any(|(n, _)| *n == c) {
                    missing.push(format!("{file}: {c:?}"));
                }
            }
        }
        assert!(seen > 40, "the scan found only {seen} literals");
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "drawn but not explained in the help legend: {missing:?}"
        );
    }

    #[test]
    fn the_issue_glyphs_and_marks_are_explained() {
        for c in ['F', 'L', 't', '<', '>', '+', 'X', '!', '^', '*', 'e', '~'] {
            assert!(explains(c), "{c:?}");
        }
        assert!(!explains('Q'), "a glyph nobody draws");
        let text: String = help_lines()
            .iter()
            .map(|(k, d)| format!("{k} {d}\n"))
            .collect();
        for key in [":", "o", "/", "?"] {
            assert!(text.contains(key), "{key}");
        }
    }
}
