//! The replay UI's state and its one input entry point, [`update`].
//!
//! [`App`] is pure data over an indexed trace: the cursor (an event index),
//! the cluster state at the cursor, filters, overlays, bookmarks. Keys,
//! mouse events and playback ticks come in as [`Msg`]s; nothing here reads a
//! clock or touches the terminal — playback is `Msg::Tick(virtual_delta)`,
//! and the terminal shell turns wall time into virtual time with
//! [`App::virtual_for_wall`]. That is what lets tests drive every key and
//! snapshot the screen.

use std::time::Duration;

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::index::Replay;
use super::state::ClusterState;
use super::view::{self, Hit};
use crate::sim::SimDuration;

/// Playback speeds (virtual seconds per wall second), slowest first.
pub const SPEEDS: [f64; 12] = [
    0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0,
];
const DEFAULT_SPEED: usize = 7;
/// Events a mouse wheel notch or a page key moves.
const WHEEL_STEP: usize = 3;
const PAGE_STEP: usize = 20;
/// Shift+arrow jumps by this fraction of the trace's time axis.
const JUMP_DIVISOR: u64 = 100;

/// An input to [`update`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// A mouse event (wheel, click).
    Mouse(MouseEvent),
    /// Playback: this much virtual time passed (only acts while playing).
    Tick(SimDuration),
    /// The terminal's new size (columns, rows), for mouse hit-testing.
    Resize(u16, u16),
}

impl Msg {
    /// A key press with no modifier (convenience for tests and scripts).
    pub fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }
    /// A character key.
    pub fn char(c: char) -> Msg {
        Msg::key(KeyCode::Char(c))
    }
}

/// A window drawn over the panes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// None: keys drive the cursor.
    None,
    /// The key and glyph table (`?`), scrolled by this many lines.
    Help(u16),
    /// The process/kind filter (`f`).
    Filter(FilterMenu),
    /// The search prompt (`/`), with what was typed.
    Search(String),
    /// The jump prompt (`:`): a virtual time (`12.5s`) or an event (`#2548`).
    Jump(String),
}

/// Where `:` goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JumpTarget {
    /// The first event at or after this virtual time, µs.
    Time(u64),
    /// The event with this `seq`.
    Seq(u64),
}

/// Reads what was typed after `:` — `#2548` (an event's seq), `12.5s`,
/// `250ms`, `2m` (a virtual time), or a bare number of seconds (`12.5`).
/// The error says what was wrong and what is accepted.
pub fn parse_jump(text: &str) -> Result<JumpTarget, String> {
    let s = text.trim();
    let accepted = "try 12.5s, 250ms, 12.5 (seconds) or #2548 (an event's seq)";
    if s.is_empty() {
        return Err(format!("nothing to jump to: {accepted}"));
    }
    if let Some(n) = s.strip_prefix('#') {
        return n
            .trim()
            .parse::<u64>()
            .map(JumpTarget::Seq)
            .map_err(|_| format!("{s:?} is not an event number: {accepted}"));
    }
    let with_unit = if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        format!("{s}s")
    } else {
        s.to_string()
    };
    SimDuration::parse(&with_unit)
        .map(|d| JumpTarget::Time(d.as_micros()))
        .map_err(|e| format!("{e}: {accepted}"))
}

/// Where the filter window's selection is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterMenu {
    /// 0: processes, 1: kinds.
    pub column: usize,
    /// Selected row per column.
    pub row: [usize; 2],
}

/// What the message-lanes pane draws.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LanesMode {
    /// Space-time arrows between process lanes.
    Arrows,
    /// One glyph column per process (role/status), TigerBeetle style.
    Glyphs,
    /// One lane per client: each operation from invocation to completion,
    /// coloured by its outcome.
    Ops,
}

/// What the main pane shows in layouts too small for both.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MainView {
    /// The event log.
    Log,
    /// The message lanes.
    Lanes,
}

/// The replay UI's whole state.
#[derive(Debug)]
pub struct App {
    replay: Replay,
    cursor: usize,
    state: ClusterState,
    playing: bool,
    play_t: u64,
    speed: usize,
    hidden_procs: Vec<bool>,
    hidden_kinds: Vec<bool>,
    overlay: Overlay,
    last_search: String,
    /// `n`/`N` repeat the last search (after `/`) instead of finding kinds.
    searching: bool,
    /// Events passing the filter.
    matching: usize,
    /// The operations a `linearizable` violation names (invocation
    /// indices), their keys, and which one `o` showed last.
    culprits: Vec<usize>,
    culprit_keys: Vec<String>,
    culprit_at: Option<usize>,
    bookmarks: Vec<usize>,
    walk: Vec<usize>,
    lanes: LanesMode,
    main_view: MainView,
    status: Option<(String, bool)>,
    size: (u16, u16),
    quit: bool,
}

impl App {
    /// The UI at the first event of `replay`. A notice about the trace (no
    /// footer, a cut line) starts as the status message.
    pub fn new(replay: Replay) -> App {
        let state = replay.state_at(0);
        let status = replay.notice.clone().map(|n| (n, true));
        App {
            matching: replay.len(),
            hidden_procs: vec![false; replay.procs().len()],
            hidden_kinds: vec![false; replay.kinds().len()],
            replay,
            cursor: 0,
            state,
            playing: false,
            play_t: 0,
            speed: DEFAULT_SPEED,
            overlay: Overlay::None,
            last_search: String::new(),
            searching: false,
            culprits: Vec::new(),
            culprit_keys: Vec::new(),
            culprit_at: None,
            bookmarks: Vec::new(),
            walk: Vec::new(),
            lanes: LanesMode::Arrows,
            main_view: MainView::Log,
            status,
            size: (80, 24),
            quit: false,
        }
    }

    // ---- getters (what the view reads) ----

    /// The indexed trace.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }
    /// The selected event's index.
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    /// The cluster after the selected event.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }
    /// Playing or paused.
    pub fn playing(&self) -> bool {
        self.playing
    }
    /// Playback speed, virtual seconds per wall second.
    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed]
    }
    /// The open overlay.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }
    /// Bookmarked event indices, ascending.
    pub fn bookmarks(&self) -> &[usize] {
        &self.bookmarks
    }
    /// Positions the causal walk (`c`) came from; `C` returns to the last.
    pub fn walk(&self) -> &[usize] {
        &self.walk
    }
    /// The lanes pane's mode.
    pub fn lanes_mode(&self) -> LanesMode {
        self.lanes
    }
    /// The main pane in small layouts.
    pub fn main_view(&self) -> MainView {
        self.main_view
    }
    /// The status line's message and whether it is a warning.
    pub fn status(&self) -> Option<(&str, bool)> {
        self.status.as_ref().map(|(s, w)| (s.as_str(), *w))
    }
    /// The last known terminal size.
    pub fn size(&self) -> (u16, u16) {
        self.size
    }
    /// True once the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    /// True when event `i` passes the process and kind filters.
    pub fn passes(&self, i: usize) -> bool {
        let e = self.replay.event(i);
        !self
            .hidden_procs
            .get(e.p as usize)
            .copied()
            .unwrap_or(false)
            && !self
                .hidden_kinds
                .get(e.kind as usize)
                .copied()
                .unwrap_or(false)
    }
    /// How many events pass the filter (all of them when nothing is hidden).
    pub fn matching(&self) -> usize {
        self.matching
    }
    /// The search `n`/`N` repeat, when they repeat one (after `/`; Esc
    /// returns them to finding events of the selected kind).
    pub fn active_search(&self) -> Option<&str> {
        self.searching.then_some(self.last_search.as_str())
    }
    /// The operations the `linearizable` violation that `o` last read names
    /// as unable to come next (their invocation event indices).
    pub fn culprits(&self) -> &[usize] {
        &self.culprits
    }
    /// True when a filter hides something.
    pub fn filtering(&self) -> bool {
        self.hidden_procs.iter().any(|h| *h) || self.hidden_kinds.iter().any(|h| *h)
    }
    /// Whether process `p` is hidden by the filter.
    pub fn proc_hidden(&self, p: usize) -> bool {
        self.hidden_procs.get(p).copied().unwrap_or(false)
    }
    /// Whether kind `k` is hidden by the filter.
    pub fn kind_hidden(&self, k: usize) -> bool {
        self.hidden_kinds.get(k).copied().unwrap_or(false)
    }
    /// The rows of the filter window: process indices (column 0) or kind
    /// indices (column 1) — kinds the trace holds, processes but `sim`.
    pub fn filter_items(&self, column: usize) -> Vec<usize> {
        if column == 0 {
            (0..self.replay.procs().len())
                .filter(|&p| self.replay.proc_counts()[p] > 0)
                .collect()
        } else {
            (0..self.replay.kinds().len())
                .filter(|&k| self.replay.kind_counts()[k] > 0)
                .collect()
        }
    }
    /// The kind `n`/`N` look for: the only kind the filter shows, or the
    /// selected event's kind.
    pub fn selected_kind(&self) -> Option<u16> {
        let visible: Vec<usize> = self
            .filter_items(1)
            .into_iter()
            .filter(|&k| !self.kind_hidden(k))
            .collect();
        if visible.len() == 1 {
            return Some(visible[0] as u16);
        }
        (!self.replay.is_empty()).then(|| self.replay.event(self.cursor).kind)
    }

    /// The virtual time that `wall` of playback covers at the current speed.
    pub fn virtual_for_wall(&self, wall: Duration) -> SimDuration {
        SimDuration((wall.as_secs_f64() * 1e6 * self.speed()).round() as u64)
    }

    // ---- commands ----

    /// Moves the cursor to event `i` and recomputes the cluster state.
    pub fn goto(&mut self, i: usize) {
        if self.replay.is_empty() {
            return;
        }
        let i = i.min(self.replay.len() - 1);
        if i != self.cursor || self.state.applied != i as u64 + 1 {
            self.cursor = i;
            self.state = self.replay.state_at(i);
        }
        self.play_t = self.replay.event(i).t;
    }

    fn say(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), false));
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), true));
    }

    /// The next (or previous) event after the cursor passing the filter and `pred`.
    fn find(&self, forward: bool, pred: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.replay.len();
        if forward {
            (self.cursor + 1..n).find(|&i| self.passes(i) && pred(i))
        } else {
            (0..self.cursor).rev().find(|&i| self.passes(i) && pred(i))
        }
    }

    fn step(&mut self, forward: bool, count: usize) {
        let mut moved = false;
        for _ in 0..count {
            match self.find(forward, |_| true) {
                Some(i) => {
                    self.goto(i);
                    moved = true;
                }
                None => break,
            }
        }
        if !moved {
            self.say(if forward {
                "at the last event"
            } else {
                "at the first event"
            });
        }
    }

    fn jump_time(&mut self, forward: bool) {
        if self.replay.is_empty() {
            return;
        }
        let step = (self.replay.t_end() / JUMP_DIVISOR).max(1);
        let t = self.replay.event(self.cursor).t;
        let target = if forward {
            let i = self.replay.index_at_or_after(t.saturating_add(step));
            i.min(self.replay.len() - 1)
        } else {
            let back = t.saturating_sub(step);
            if t == 0 {
                0
            } else {
                self.replay.index_at_or_before(back)
            }
        };
        self.goto(target);
    }

    fn next_of_kind(&mut self, forward: bool) {
        let Some(kind) = self.selected_kind() else {
            return;
        };
        let name = self.replay.kinds()[kind as usize].clone();
        match self.find(forward, |i| self.replay.event(i).kind == kind) {
            Some(i) => {
                self.goto(i);
                self.say(format!(
                    "{} {name}",
                    if forward { "next" } else { "previous" }
                ));
            }
            None => self.say(format!(
                "no {} {name} event",
                if forward { "later" } else { "earlier" }
            )),
        }
    }

    fn next_violation(&mut self, forward: bool) {
        let v = self.replay.violations().to_vec();
        let found = if forward {
            v.iter().copied().find(|&i| i > self.cursor)
        } else {
            v.iter().rev().copied().find(|&i| i < self.cursor)
        };
        match found {
            Some(i) => {
                let k = v.iter().position(|&x| x == i).unwrap_or(0) + 1;
                self.goto(i);
                let lin = self
                    .replay
                    .full(i)
                    .is_ok_and(|e| e.str("check") == "linearizable");
                self.warn(format!(
                    "violation {k} of {}{}",
                    v.len(),
                    if lin {
                        " · o: the operations that cannot be ordered"
                    } else {
                        ""
                    }
                ));
            }
            None if v.is_empty() => self.say("no violation in this trace"),
            None => self.say(format!(
                "no {} violation",
                if forward { "later" } else { "earlier" }
            )),
        }
    }

    fn toggle_bookmark(&mut self) {
        // On a trace of zero events the cursor names no event to mark.
        if self.replay.is_empty() {
            self.say("no event to bookmark: the trace holds none");
            return;
        }
        match self.bookmarks.binary_search(&self.cursor) {
            Ok(k) => {
                self.bookmarks.remove(k);
                self.say("bookmark removed");
            }
            Err(k) => {
                self.bookmarks.insert(k, self.cursor);
                self.say(format!(
                    "bookmarked ({} in all; ' jumps between them)",
                    self.bookmarks.len()
                ));
            }
        }
    }

    fn next_bookmark(&mut self) {
        if self.bookmarks.is_empty() {
            self.say("no bookmark yet (b sets one)");
            return;
        }
        let k = self
            .bookmarks
            .iter()
            .position(|&b| b > self.cursor)
            .unwrap_or(0);
        self.goto(self.bookmarks[k]);
        self.say(format!("bookmark {} of {}", k + 1, self.bookmarks.len()));
    }

    fn walk_cause(&mut self) {
        if self.replay.is_empty() {
            return;
        }
        match self.replay.cause_of(self.cursor) {
            Some(c) => {
                let derived = self.replay.cause_derived(self.cursor);
                self.walk.push(self.cursor);
                self.goto(c);
                self.say(format!(
                    "{}, {} step(s) back (C returns)",
                    if derived {
                        "what it follows (derived: no cause is written)"
                    } else {
                        "cause"
                    },
                    self.walk.len()
                ));
            }
            None => {
                let written = self.replay.full(self.cursor).ok().and_then(|e| e.cause);
                match written {
                    Some(seq) => self.say(format!("the cause #{seq} is not in this trace")),
                    None => self.say("this event has no recorded cause"),
                }
            }
        }
    }

    fn walk_back(&mut self) {
        match self.walk.pop() {
            Some(i) => {
                self.goto(i);
                self.say(format!("returned ({} step(s) left)", self.walk.len()));
            }
            None => self.say("not on a causal walk (c starts one)"),
        }
    }

    fn set_speed(&mut self, faster: bool) {
        self.speed = if faster {
            (self.speed + 1).min(SPEEDS.len() - 1)
        } else {
            self.speed.saturating_sub(1)
        };
        self.say(format!("speed {}", view::fmt_speed(self.speed())));
    }

    fn toggle_play(&mut self) {
        if self.replay.is_empty() {
            return;
        }
        if !self.playing && self.cursor + 1 >= self.replay.len() {
            self.say("at the end of the trace (g goes to the start)");
            return;
        }
        self.playing = !self.playing;
        self.play_t = self.replay.event(self.cursor).t;
        self.say(if self.playing { "playing" } else { "paused" });
    }

    fn tick(&mut self, delta: SimDuration) {
        if !self.playing || self.replay.is_empty() {
            return;
        }
        self.play_t = self.play_t.saturating_add(delta.as_micros());
        let target = self.replay.index_at_or_before(self.play_t);
        if target > self.cursor {
            let play_t = self.play_t;
            self.goto(target);
            self.play_t = play_t;
        }
        if self.cursor + 1 >= self.replay.len() {
            self.playing = false;
            self.say("end of the trace");
        }
    }

    fn search(&mut self, query: String) {
        let query = if query.is_empty() {
            self.last_search.clone()
        } else {
            query
        };
        if query.is_empty() {
            return;
        }
        self.last_search = query;
        self.searching = true;
        self.repeat_search(true);
    }

    /// The next (or previous) match of the last search, wrapping around.
    fn repeat_search(&mut self, forward: bool) {
        let query = self.last_search.clone();
        let found = if forward {
            self.replay.search(self.cursor + 1, &query)
        } else {
            self.replay.search_back(self.cursor, &query)
        };
        match found {
            Some(i) => {
                let wrapped = if forward {
                    i <= self.cursor
                } else {
                    i >= self.cursor
                };
                self.goto(i);
                self.say(format!(
                    "found \"{query}\"{} · n next, N previous, esc: n/N find kinds again",
                    match (wrapped, forward) {
                        (true, true) => " (wrapped to the start)",
                        (true, false) => " (wrapped to the end)",
                        _ => "",
                    }
                ));
            }
            None => {
                self.searching = false;
                self.warn(format!("\"{query}\" is not in the trace"));
            }
        }
    }

    /// `:` — to a virtual time or an event's seq; bad input is a warning.
    fn jump(&mut self, text: &str) {
        let target = match parse_jump(text) {
            Ok(t) => t,
            Err(e) => return self.warn(e),
        };
        if self.replay.is_empty() {
            return self.warn("the trace holds no event to jump to");
        }
        match target {
            JumpTarget::Seq(seq) => match self.replay.find_seq(seq) {
                Some(i) => {
                    self.goto(i);
                    self.say(format!("#{seq}"));
                }
                None => {
                    let (a, b) = (
                        self.replay.event(0).seq,
                        self.replay.event(self.replay.len() - 1).seq,
                    );
                    self.warn(format!("#{seq} is not in this trace (#{a} … #{b})"));
                }
            },
            JumpTarget::Time(t) => {
                let i = self.replay.index_at_or_after(t);
                if i >= self.replay.len() {
                    let last = self.replay.event(self.replay.len() - 1).t;
                    return self.warn(format!(
                        "{}s is past the last event (at {}s)",
                        super::event::fmt_t(t),
                        super::event::fmt_t(last)
                    ));
                }
                self.goto(i);
                self.say(format!(
                    "{}s: first event at or after it",
                    super::event::fmt_t(t)
                ));
            }
        }
    }

    /// `o` — the operations a `linearizable` violation cannot order: the
    /// violation under the cursor, else the ones already read, else the
    /// trace's first such violation; each press shows the next one.
    fn next_culprit(&mut self) {
        let at_cursor = (!self.replay.is_empty()
            && self.replay.event(self.cursor).kind == super::index::K_VIOLATION)
            .then(|| self.replay.full(self.cursor).ok())
            .flatten()
            .filter(|v| v.str("check") == "linearizable");
        let source = match at_cursor {
            Some(v) => Some(v),
            None if !self.culprits.is_empty() => None,
            None => self
                .replay
                .violations()
                .iter()
                .filter_map(|&i| self.replay.full(i).ok())
                .find(|v| v.str("check") == "linearizable"),
        };
        if let Some(v) = source {
            let ops = self.replay.ops().culprits(v.str("detail"));
            if ops.is_empty() {
                return self.say(
                    "this linearizable violation names no operation of the trace (see its detail)",
                );
            }
            (self.culprits, self.culprit_keys) = ops.into_iter().unzip();
            self.culprit_at = None;
        }
        if self.culprits.is_empty() {
            return self.say("no linearizable violation in this trace");
        }
        let k = self.culprit_at.map_or(0, |k| (k + 1) % self.culprits.len());
        self.culprit_at = Some(k);
        self.lanes = LanesMode::Ops;
        self.goto(self.culprits[k]);
        self.warn(format!(
            "operation {} of {} that cannot follow the linearizable prefix of {} (o: next)",
            k + 1,
            self.culprits.len(),
            match self.culprit_keys[k].as_str() {
                "" => "the register",
                key => key,
            }
        ));
    }

    fn count_matching(&mut self) {
        self.matching = if self.filtering() {
            (0..self.replay.len()).filter(|&i| self.passes(i)).count()
        } else {
            self.replay.len()
        };
    }

    fn filter_key(&mut self, key: KeyEvent, mut menu: FilterMenu) {
        let col = menu.column;
        let items = self.filter_items(col);
        let row = menu.row[col].min(items.len().saturating_sub(1));
        let hidden = if col == 0 {
            &mut self.hidden_procs
        } else {
            &mut self.hidden_kinds
        };
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('f' | 'q') => {
                self.overlay = Overlay::None;
                self.count_matching();
                if self.filtering() && self.matching == 0 {
                    self.warn("the filter hides every event");
                }
                return;
            }
            KeyCode::Up | KeyCode::Char('k') => menu.row[col] = row.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                menu.row[col] = (row + 1).min(items.len().saturating_sub(1))
            }
            KeyCode::Left
            | KeyCode::Right
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Char('h' | 'l') => menu.column = 1 - col,
            KeyCode::Char(' ') | KeyCode::Char('x') => {
                if let Some(&it) = items.get(row) {
                    hidden[it] = !hidden[it];
                }
            }
            KeyCode::Char('o') => {
                if let Some(&it) = items.get(row) {
                    for &other in &items {
                        hidden[other] = other != it;
                    }
                }
            }
            KeyCode::Char('a') => {
                for &it in &items {
                    hidden[it] = false;
                }
            }
            KeyCode::Char('r') => {
                self.hidden_procs.iter_mut().for_each(|h| *h = false);
                self.hidden_kinds.iter_mut().for_each(|h| *h = false);
            }
            _ => {}
        }
        self.overlay = Overlay::Filter(menu);
    }

    fn normal_key(&mut self, key: KeyEvent) {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        self.status = None;
        match key.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char(' ') => self.toggle_play(),
            KeyCode::Right if shift => self.jump_time(true),
            KeyCode::Left if shift => self.jump_time(false),
            KeyCode::Right | KeyCode::Down | KeyCode::Char('j') => self.step(true, 1),
            KeyCode::Left | KeyCode::Up | KeyCode::Char('k') => self.step(false, 1),
            KeyCode::PageDown => self.step(true, PAGE_STEP),
            KeyCode::PageUp => self.step(false, PAGE_STEP),
            KeyCode::Char('[') => self.set_speed(false),
            KeyCode::Char(']') => self.set_speed(true),
            KeyCode::Char('n') if self.searching => self.repeat_search(true),
            KeyCode::Char('N') if self.searching => self.repeat_search(false),
            KeyCode::Char('n') => self.next_of_kind(true),
            KeyCode::Char('N') => self.next_of_kind(false),
            KeyCode::Esc if self.searching => {
                self.searching = false;
                self.say("n/N find the selected kind again");
            }
            KeyCode::Char(':') => self.overlay = Overlay::Jump(String::new()),
            KeyCode::Char('o') => self.next_culprit(),
            KeyCode::Char('v') => self.next_violation(true),
            KeyCode::Char('V') => self.next_violation(false),
            KeyCode::Char('f') => self.overlay = Overlay::Filter(FilterMenu::default()),
            KeyCode::Char('/') => self.overlay = Overlay::Search(String::new()),
            KeyCode::Char('g') | KeyCode::Home => self.goto(0),
            KeyCode::Char('G') | KeyCode::End => self.goto(self.replay.len().saturating_sub(1)),
            KeyCode::Char('b') => self.toggle_bookmark(),
            KeyCode::Char('\'') => self.next_bookmark(),
            KeyCode::Char('c') => self.walk_cause(),
            KeyCode::Char('C') | KeyCode::Backspace => self.walk_back(),
            KeyCode::Char('?') => self.overlay = Overlay::Help(0),
            KeyCode::Char('m') => {
                self.lanes = match self.lanes {
                    LanesMode::Arrows => LanesMode::Glyphs,
                    LanesMode::Glyphs => LanesMode::Ops,
                    LanesMode::Ops => LanesMode::Arrows,
                };
                self.say(match self.lanes {
                    LanesMode::Arrows => "lanes: message arrows",
                    LanesMode::Glyphs => "lanes: per-process glyph columns",
                    LanesMode::Ops => "lanes: client operations, invocation to completion",
                });
            }
            KeyCode::Tab => {
                self.main_view = match self.main_view {
                    MainView::Log => MainView::Lanes,
                    MainView::Lanes => MainView::Log,
                };
            }
            _ => {}
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollDown => self.step(true, WHEEL_STEP),
            MouseEventKind::ScrollUp => self.step(false, WHEEL_STEP),
            MouseEventKind::Down(MouseButton::Left) => {
                match view::hit_test(self, m.column, m.row) {
                    Some(Hit::Time(t)) => {
                        let i = self.replay.index_at_or_before(t);
                        self.goto(i);
                    }
                    Some(Hit::Event(i)) => self.goto(i),
                    None => {}
                }
            }
            _ => {}
        }
    }
}

/// The one entry point: applies `msg` to `app`.
pub fn update(app: &mut App, msg: Msg) {
    match msg {
        Msg::Tick(delta) => app.tick(delta),
        Msg::Resize(w, h) => app.size = (w, h),
        Msg::Mouse(m) => {
            if app.overlay == Overlay::None {
                app.mouse(m);
            }
        }
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return;
            }
            let overlay = std::mem::replace(&mut app.overlay, Overlay::None);
            match overlay {
                Overlay::None => app.normal_key(key),
                Overlay::Help(scroll) => {
                    // Arrows and pages scroll; any other key closes the
                    // help (ctrl-c still quits).
                    let last = super::legend::help_lines().len() as u16;
                    match key.code {
                        KeyCode::Down | KeyCode::Char('j') => {
                            app.overlay = Overlay::Help((scroll + 1).min(last))
                        }
                        KeyCode::Up | KeyCode::Char('k') => {
                            app.overlay = Overlay::Help(scroll.saturating_sub(1))
                        }
                        KeyCode::PageDown | KeyCode::Char(' ') => {
                            app.overlay = Overlay::Help((scroll + 10).min(last))
                        }
                        KeyCode::PageUp => app.overlay = Overlay::Help(scroll.saturating_sub(10)),
                        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                            app.quit = true
                        }
                        _ => {}
                    }
                }
                Overlay::Filter(menu) => app.filter_key(key, menu),
                Overlay::Search(mut text) => match key.code {
                    KeyCode::Esc => {}
                    KeyCode::Enter => app.search(text),
                    KeyCode::Backspace => {
                        text.pop();
                        app.overlay = Overlay::Search(text);
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        if text.len() < 200 {
                            text.push(c);
                        }
                        app.overlay = Overlay::Search(text);
                    }
                    _ => app.overlay = Overlay::Search(text),
                },
                Overlay::Jump(mut text) => match key.code {
                    KeyCode::Esc => {}
                    KeyCode::Enter => app.jump(&text),
                    KeyCode::Backspace => {
                        text.pop();
                        app.overlay = Overlay::Jump(text);
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        if text.len() < 40 {
                            text.push(c);
                        }
                        app.overlay = Overlay::Jump(text);
                    }
                    _ => app.overlay = Overlay::Jump(text),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEventState, MouseEvent};

    fn app() -> App {
        let mut bytes = Vec::new();
        super::super::write_synthetic_trace(&mut bytes, 3000).unwrap();
        App::new(super::super::open_bytes("synthetic", bytes).unwrap())
    }

    fn press(app: &mut App, c: char) {
        update(app, Msg::char(c));
    }

    fn key(app: &mut App, code: KeyCode) {
        update(app, Msg::key(code));
    }

    fn shift(app: &mut App, code: KeyCode) {
        update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::SHIFT)));
    }

    fn kind_at(app: &App, i: usize) -> &str {
        &app.replay().kinds()[app.replay().event(i).kind as usize]
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut a = app();
        press(&mut a, 'q');
        assert!(a.should_quit());
        let mut a = app();
        update(
            &mut a,
            Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        );
        assert!(a.should_quit());
    }

    #[test]
    fn arrows_step_and_shift_arrows_jump_by_time() {
        let mut a = app();
        key(&mut a, KeyCode::Right);
        key(&mut a, KeyCode::Right);
        assert_eq!(a.cursor(), 2);
        key(&mut a, KeyCode::Left);
        assert_eq!(a.cursor(), 1);
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Up);
        assert_eq!(a.cursor(), 1);
        key(&mut a, KeyCode::PageDown);
        assert_eq!(a.cursor(), 21);
        key(&mut a, KeyCode::PageUp);
        assert_eq!(a.cursor(), 1);
        key(&mut a, KeyCode::Left);
        key(&mut a, KeyCode::Left);
        assert_eq!(a.cursor(), 0);
        assert_eq!(a.status().unwrap().0, "at the first event");
        let before = a.replay().event(a.cursor()).t;
        shift(&mut a, KeyCode::Right);
        let step = a.replay().t_end() / JUMP_DIVISOR;
        assert!(a.replay().event(a.cursor()).t >= before + step);
        shift(&mut a, KeyCode::Right);
        let far = a.replay().event(a.cursor()).t;
        shift(&mut a, KeyCode::Left);
        let t = a.replay().event(a.cursor()).t;
        assert!(t <= far - step && t > 0, "{t} vs {far} - {step}");
        // The state follows the cursor.
        assert_eq!(a.state().applied, a.cursor() as u64 + 1);
    }

    #[test]
    fn g_and_end_keys_go_to_the_ends() {
        let mut a = app();
        press(&mut a, 'G');
        assert_eq!(a.cursor(), a.replay().len() - 1);
        key(&mut a, KeyCode::Right);
        assert_eq!(a.status().unwrap().0, "at the last event");
        press(&mut a, 'g');
        assert_eq!(a.cursor(), 0);
        key(&mut a, KeyCode::End);
        assert_eq!(a.cursor(), a.replay().len() - 1);
        key(&mut a, KeyCode::Home);
        assert_eq!(a.cursor(), 0);
    }

    #[test]
    fn space_plays_ticks_advance_and_the_end_stops() {
        let mut a = app();
        update(&mut a, Msg::Tick(SimDuration::from_secs(1)));
        assert_eq!(a.cursor(), 0, "paused: ticks do nothing");
        press(&mut a, ' ');
        assert!(a.playing());
        update(&mut a, Msg::Tick(SimDuration::from_secs(1)));
        let t = a.replay().event(a.cursor()).t;
        assert!(t <= 1_000_000 && a.cursor() > 0);
        assert!(
            a.cursor() + 1 == a.replay().len() || a.replay().event(a.cursor() + 1).t > 1_000_000
        );
        press(&mut a, ' ');
        assert!(!a.playing());
        press(&mut a, ' ');
        update(&mut a, Msg::Tick(SimDuration::from_secs(3600)));
        assert_eq!(a.cursor(), a.replay().len() - 1);
        assert!(!a.playing());
        press(&mut a, ' ');
        assert!(!a.playing(), "at the end, space does not start");
    }

    #[test]
    fn brackets_change_speed() {
        let mut a = app();
        assert_eq!(a.speed(), 1.0);
        press(&mut a, ']');
        assert_eq!(a.speed(), 2.0);
        assert_eq!(
            a.virtual_for_wall(Duration::from_millis(500)),
            SimDuration::from_secs(1)
        );
        for _ in 0..20 {
            press(&mut a, '[');
        }
        assert_eq!(a.speed(), SPEEDS[0]);
        for _ in 0..20 {
            press(&mut a, ']');
        }
        assert_eq!(a.speed(), SPEEDS[SPEEDS.len() - 1]);
    }

    #[test]
    fn n_and_shift_n_find_the_selected_kind() {
        let mut a = app();
        let role = a.replay().kind_id("role").unwrap();
        let first_role = (0..a.replay().len())
            .find(|&i| a.replay().event(i).kind == role)
            .unwrap();
        a.goto(first_role);
        press(&mut a, 'n');
        assert!(a.cursor() > first_role);
        assert_eq!(kind_at(&a, a.cursor()), "role");
        let second = a.cursor();
        press(&mut a, 'N');
        assert_eq!(a.cursor(), first_role);
        press(&mut a, 'N');
        assert_eq!(a.cursor(), first_role);
        assert!(a.status().unwrap().0.contains("no earlier role"));
        assert!(second > first_role);
    }

    #[test]
    fn v_finds_violations() {
        let mut a = app();
        press(&mut a, 'v');
        let v = a.replay().violations()[0];
        assert_eq!(a.cursor(), v);
        assert_eq!(kind_at(&a, v), "violation");
        assert_eq!(a.state().violations, 1);
        assert!(a.status().unwrap().1, "a violation is a warning");
        press(&mut a, 'v');
        assert_eq!(a.cursor(), v);
        press(&mut a, 'g');
        press(&mut a, 'V');
        assert_eq!(a.cursor(), 0);
        press(&mut a, 'G');
        press(&mut a, 'V');
        assert_eq!(a.cursor(), v);
    }

    #[test]
    fn the_filter_window_hides_processes_and_kinds() {
        let mut a = app();
        press(&mut a, 'f');
        assert!(matches!(a.overlay(), Overlay::Filter(_)));
        // Column 0: processes. `o` keeps only the first (m1).
        press(&mut a, 'o');
        assert!(a.filtering());
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.overlay(), &Overlay::None);
        for _ in 0..5 {
            key(&mut a, KeyCode::Right);
            assert_eq!(
                a.replay().procs()[a.replay().event(a.cursor()).p as usize].name,
                "m1"
            );
        }
        // Kinds column: show only `role`.
        press(&mut a, 'f');
        press(&mut a, 'r');
        assert!(!a.filtering());
        key(&mut a, KeyCode::Tab);
        let kinds = a.filter_items(1);
        let role_row = kinds
            .iter()
            .position(|&k| a.replay().kinds()[k] == "role")
            .unwrap();
        for _ in 0..role_row {
            key(&mut a, KeyCode::Down);
        }
        press(&mut a, 'o');
        key(&mut a, KeyCode::Up);
        press(&mut a, ' ');
        key(&mut a, KeyCode::Enter);
        let shown: Vec<&str> = (0..a.replay().len())
            .filter(|&i| a.passes(i))
            .map(|i| kind_at(&a, i))
            .collect();
        assert!(shown.contains(&"role"));
        assert!(
            shown
                .iter()
                .all(|k| *k == "role" || *k == a.replay().kinds()[kinds[role_row - 1]])
        );
        // With one kind left visible n/N use it. `a` shows every kind again.
        press(&mut a, 'f');
        key(&mut a, KeyCode::Right);
        press(&mut a, 'a');
        press(&mut a, 'f');
        assert!(!a.filtering());
    }

    #[test]
    fn search_finds_text_and_wraps() {
        let mut a = app();
        press(&mut a, '/');
        for c in "SINGLE_primary".chars() {
            press(&mut a, c);
        }
        key(&mut a, KeyCode::Backspace);
        press(&mut a, 'y');
        assert_eq!(a.overlay(), &Overlay::Search("SINGLE_primary".into()));
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.cursor(), a.replay().violations()[0]);
        // Enter on an empty prompt repeats the last search, wrapping around.
        press(&mut a, '/');
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.cursor(), a.replay().violations()[0]);
        press(&mut a, '/');
        press(&mut a, 'z');
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.overlay(), &Overlay::None);
        press(&mut a, '/');
        for c in "no such text".chars() {
            press(&mut a, c);
        }
        key(&mut a, KeyCode::Enter);
        assert!(a.status().unwrap().0.contains("is not in the trace"));
    }

    #[test]
    fn bookmarks_toggle_and_cycle() {
        let mut a = app();
        press(&mut a, '\'');
        assert!(a.status().unwrap().0.contains("no bookmark"));
        a.goto(10);
        press(&mut a, 'b');
        a.goto(500);
        press(&mut a, 'b');
        assert_eq!(a.bookmarks(), &[10, 500]);
        press(&mut a, '\'');
        assert_eq!(a.cursor(), 10);
        press(&mut a, '\'');
        assert_eq!(a.cursor(), 500);
        press(&mut a, 'b');
        assert_eq!(a.bookmarks(), &[10]);
    }

    #[test]
    fn c_walks_back_the_causal_chain_and_shift_c_returns() {
        let mut a = app();
        let deliver = a.replay().kind_id("deliver").unwrap();
        let d = (0..a.replay().len())
            .find(|&i| a.replay().event(i).kind == deliver)
            .unwrap();
        a.goto(d);
        press(&mut a, 'c');
        assert_eq!(kind_at(&a, a.cursor()), "send");
        press(&mut a, 'c');
        assert_eq!(a.walk(), &[d, a.walk()[1]]);
        press(&mut a, 'C');
        press(&mut a, 'C');
        assert_eq!(a.cursor(), d);
        key(&mut a, KeyCode::Backspace);
        assert!(a.status().unwrap().0.contains("not on a causal walk"));
        a.goto(0);
        press(&mut a, 'c');
        assert!(a.status().unwrap().0.contains("no recorded cause"));
    }

    #[test]
    fn help_and_view_toggles() {
        let mut a = app();
        press(&mut a, '?');
        assert_eq!(a.overlay(), &Overlay::Help(0));
        press(&mut a, 'q');
        assert_eq!(a.overlay(), &Overlay::None);
        assert!(!a.should_quit(), "q closes the help first");
        press(&mut a, 'm');
        assert_eq!(a.lanes_mode(), LanesMode::Glyphs);
        press(&mut a, 'm');
        assert_eq!(a.lanes_mode(), LanesMode::Ops);
        press(&mut a, 'm');
        assert_eq!(a.lanes_mode(), LanesMode::Arrows);
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.main_view(), MainView::Lanes);
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.main_view(), MainView::Log);
        // Key releases (sent by some terminals) do nothing.
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        release.state = KeyEventState::NONE;
        update(&mut a, Msg::Key(release));
        assert!(!a.should_quit());
    }

    #[test]
    fn mouse_scrolls_and_clicks() {
        let mut a = app();
        update(&mut a, Msg::Resize(80, 24));
        assert_eq!(a.size(), (80, 24));
        let m = |kind, column, row| {
            Msg::Mouse(MouseEvent {
                kind,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            })
        };
        update(&mut a, m(MouseEventKind::ScrollDown, 60, 10));
        assert_eq!(a.cursor(), 3);
        update(&mut a, m(MouseEventKind::ScrollUp, 60, 10));
        assert_eq!(a.cursor(), 0);
        // Row 2 is the timeline's first row; the right end is the end of the run.
        update(&mut a, m(MouseEventKind::Down(MouseButton::Left), 79, 2));
        assert!(a.replay().event(a.cursor()).t > a.replay().t_end() * 9 / 10);
        // A click on the log's second row selects the event shown there.
        a.goto(100);
        let log = view::layout(ratatui::layout::Rect::new(0, 0, 80, 24), &a)
            .unwrap()
            .log
            .unwrap();
        let rows = view::window(&a, usize::from(log.height - 1));
        update(
            &mut a,
            m(
                MouseEventKind::Down(MouseButton::Left),
                log.x + 5,
                log.y + 2,
            ),
        );
        assert_eq!(a.cursor(), rows[1]);
    }
}
