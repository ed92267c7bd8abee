//! Rendering: `render(&App, &mut Frame)`, a function of (trace, cursor, filters).
//!
//! ```text
//!  wide (≥120×32)                           small (80×24 and up)
//!  ┌ title ─────────────────────────────┐   ┌ title ─────────────────────┐
//!  │ timeline: faults / leader / marks  │   │ timeline                   │
//!  ├ nodes ──────┬ event log ───────────┤   ├ nodes ───────┬ log|lanes ──┤
//!  │             │                      │   │              │  (Tab)      │
//!  ├ grid ───────┼ lanes ─────┬ detail ─┤   ├ grid ────────┼ detail ─────┤
//!  └ key hints ─────────────────────────┘   └ key hints ─────────────────┘
//! ```
//!
//! Panes read the few lines they show back from the trace; the cluster state
//! comes from the app (computed when the cursor moved). Colours carry
//! meaning: each data node has a colour, and a tile takes its primary's;
//! violations are red and nothing else is.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::app::{App, LanesMode, MainView, Overlay};
use super::event::{FullEvent, fmt_offset, fmt_span, fmt_t};
use super::index::{K_DELIVER, K_DROP, K_SEND, ProcInfo, ProcKind, Replay};
use super::state::{ClusterState, Health, RaftRole, ReplicaState, Status};

/// Smallest terminal the UI draws in.
pub const MIN_WIDTH: u16 = 40;
/// Smallest terminal the UI draws in.
pub const MIN_HEIGHT: u16 = 12;

/// The violation colour; used for nothing else.
pub const VIOLATION: Color = Color::Red;
const DOWN: Color = Color::LightRed;
const DIM: Color = Color::Indexed(244);
const FAINT: Color = Color::Indexed(239);
const CURSOR_BG: Color = Color::Indexed(237);
const UNASSIGNED_BG: Color = Color::Indexed(236);
const TITLE_BG: Color = Color::Indexed(24);

/// Node colours, in node order (a tile takes its primary's colour).
pub const PALETTE: [Color; 16] = [
    Color::Blue,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Cyan,
    Color::LightBlue,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightMagenta,
    Color::LightCyan,
    Color::Indexed(208),
    Color::Indexed(141),
    Color::Indexed(37),
    Color::Indexed(172),
    Color::Indexed(99),
    Color::Indexed(150),
];

/// The keys, as the help overlay and the README show them.
pub const KEYS: [(&str, &str); 22] = [
    ("space", "play / pause"),
    ("← → (↑ ↓)", "previous / next event (of the filter)"),
    ("shift+← →", "jump back / forward by 1% of the run"),
    ("PgUp PgDn", "20 events back / forward"),
    ("[ ]", "slower / faster playback"),
    ("n N", "next / previous event of the selected kind"),
    ("v V", "next / previous violation"),
    ("f", "filter by process and kind"),
    ("/", "search the event text (enter repeats)"),
    ("g G", "start / end"),
    ("b", "bookmark the event (toggle)"),
    ("'", "jump to the next bookmark"),
    ("c", "walk back to the event's cause"),
    ("C  backspace", "return along the causal walk"),
    ("m", "lanes: message arrows / glyph columns"),
    ("tab", "small screens: event log / lanes"),
    ("mouse", "wheel steps, click log or timeline"),
    ("?", "this help"),
    ("q  ctrl+c", "quit"),
    ("", ""),
    ("timeline", "━ fault windows, leader by colour,"),
    ("", "▲ violation (red), ◆ bookmark, ┃ cursor"),
];

/// The colour of a process.
pub fn proc_colour(info: &ProcInfo) -> Color {
    match info.kind {
        ProcKind::Node => PALETTE[info.ordinal % PALETTE.len()],
        ProcKind::Manager => PALETTE[(info.ordinal + 9) % PALETTE.len()],
        ProcKind::Client => Color::Gray,
        ProcKind::Sim => Color::White,
        ProcKind::Other => Color::Indexed(180),
    }
}

fn text_on(bg: Color) -> Color {
    match bg {
        Color::Blue
        | Color::Magenta
        | Color::Indexed(99)
        | Color::Indexed(37)
        | Color::Indexed(141) => Color::White,
        _ => Color::Black,
    }
}

/// `1x`, `0.25x`, `100x`.
pub fn fmt_speed(s: f64) -> String {
    let text = format!("{s:.4}");
    format!("{}x", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Where the panes are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Title bar.
    pub title: Rect,
    /// Timeline pane.
    pub timeline: Rect,
    /// Nodes pane.
    pub nodes: Rect,
    /// Grid pane.
    pub grid: Rect,
    /// Event log pane (absent when the lanes take its place).
    pub log: Option<Rect>,
    /// Message lanes pane (absent in small layouts showing the log).
    pub lanes: Option<Rect>,
    /// Detail pane.
    pub detail: Rect,
    /// Key-hint bar.
    pub hints: Rect,
}

/// The layout for a terminal of `area`; `None` when it is too small.
pub fn layout(area: Rect, app: &App) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let wide = area.width >= 120 && area.height >= 32;
    let (x, y, w, h) = (area.x, area.y, area.width, area.height);
    let title = Rect::new(x, y, w, 1);
    let hints = Rect::new(x, y + h - 1, w, 1);
    let tl_h: u16 = if wide { 5 } else { 4 };
    let timeline = Rect::new(x, y + 1, w, tl_h);
    let body_y = y + 1 + tl_h;
    let body_h = h - 2 - tl_h;
    let shown_procs = app
        .replay()
        .procs()
        .iter()
        .filter(|p| p.kind != ProcKind::Sim)
        .count() as u16;
    let left_w = if wide {
        (w * 36 / 100).clamp(46, 64)
    } else {
        (w / 2).min(44)
    };
    let right_w = w - left_w;
    let grid_min: u16 = if wide { 8 } else { 5 };
    let nodes_h = (shown_procs + 4)
        .min(body_h.saturating_sub(grid_min))
        .max(3.min(body_h));
    let nodes = Rect::new(x, body_y, left_w, nodes_h);
    let grid = Rect::new(x, body_y + nodes_h, left_w, body_h - nodes_h);
    let rx = x + left_w;
    if wide {
        let log_h = body_h * 11 / 20;
        let log = Rect::new(rx, body_y, right_w, log_h);
        let lanes_w = right_w * 11 / 20;
        let lanes = Rect::new(rx, body_y + log_h, lanes_w, body_h - log_h);
        let detail = Rect::new(
            rx + lanes_w,
            body_y + log_h,
            right_w - lanes_w,
            body_h - log_h,
        );
        Some(Areas {
            title,
            timeline,
            nodes,
            grid,
            log: Some(log),
            lanes: Some(lanes),
            detail,
            hints,
        })
    } else {
        let detail_h = (body_h / 3).clamp(5, 9).min(body_h);
        let main = Rect::new(rx, body_y, right_w, body_h - detail_h);
        let detail = Rect::new(rx, body_y + body_h - detail_h, right_w, detail_h);
        let (log, lanes) = match app.main_view() {
            MainView::Log => (Some(main), None),
            MainView::Lanes => (None, Some(main)),
        };
        Some(Areas {
            title,
            timeline,
            nodes,
            grid,
            log,
            lanes,
            detail,
            hints,
        })
    }
}

/// What a mouse click landed on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A point of the timeline: this virtual time.
    Time(u64),
    /// A row of the event log: this event.
    Event(usize),
}

/// What is under the terminal cell (`col`, `row`), for the app's last known size.
pub fn hit_test(app: &App, col: u16, row: u16) -> Option<Hit> {
    let (w, h) = app.size();
    let areas = layout(Rect::new(0, 0, w, h), app)?;
    let tl = pane_inner(areas.timeline, false);
    if tl.contains((col, row).into()) {
        let (x0, width) = timeline_axis(tl);
        if col >= x0 && width > 1 {
            let t = u128::from(col - x0) * u128::from(app.replay().t_end()) / u128::from(width - 1);
            return Some(Hit::Time(t as u64));
        }
        return None;
    }
    let log = pane_inner(areas.log?, true);
    if log.contains((col, row).into()) {
        let rows = window(app, log.height as usize);
        return rows.get(usize::from(row - log.y)).map(|&i| Hit::Event(i));
    }
    None
}

/// The events a list pane of `height` rows shows: those passing the filter
/// around the cursor, the cursor's own event always included.
pub fn window(app: &App, height: usize) -> Vec<usize> {
    let replay = app.replay();
    let n = replay.len();
    if n == 0 || height == 0 {
        return Vec::new();
    }
    let cur = app.cursor();
    let mut before = Vec::new();
    let mut i = cur;
    while before.len() < height && i > 0 {
        i -= 1;
        if app.passes(i) {
            before.push(i);
        }
    }
    let mut after = Vec::new();
    let mut i = cur + 1;
    while after.len() < height && i < n {
        if app.passes(i) {
            after.push(i);
        }
        i += 1;
    }
    let want_above = (height - 1) / 2;
    let above = before
        .len()
        .min(want_above.max((height - 1).saturating_sub(after.len())));
    let below = (height - 1 - above).min(after.len());
    let mut rows: Vec<usize> = before[..above].iter().rev().copied().collect();
    rows.push(cur);
    rows.extend_from_slice(&after[..below]);
    rows
}

/// Draws the whole UI.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    let Some(areas) = layout(area, app) else {
        let msg = format!("terminal too small: {MIN_WIDTH}×{MIN_HEIGHT} at least (q quits)");
        let y = area.y + area.height / 2;
        text(
            buf,
            area.x,
            y,
            area.width,
            &msg,
            Style::new().fg(Color::Yellow),
        );
        return;
    };
    draw_title(app, buf, areas.title);
    draw_timeline(app, buf, areas.timeline);
    draw_nodes(app, buf, areas.nodes);
    draw_grid(app, buf, areas.grid);
    if let Some(log) = areas.log {
        draw_log(app, buf, log);
    }
    if let Some(lanes) = areas.lanes {
        draw_lanes(app, buf, lanes);
    }
    draw_detail(app, buf, areas.detail);
    draw_hints(app, buf, areas.hints);
    match app.overlay() {
        Overlay::Help => draw_help(buf, area),
        Overlay::Filter(menu) => draw_filter(app, buf, area, menu.column, menu.row),
        Overlay::None | Overlay::Search(_) => {}
    }
}

// ---- small drawing helpers ----

fn text(buf: &mut Buffer, x: u16, y: u16, max: u16, s: &str, style: Style) -> u16 {
    if max == 0 {
        return x;
    }
    buf.set_stringn(x, y, s, usize::from(max), style).0
}

fn glyph(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

fn spans(buf: &mut Buffer, x: u16, y: u16, max: u16, parts: &[(String, Style)]) -> u16 {
    let mut cx = x;
    for (s, st) in parts {
        let left = (x + max).saturating_sub(cx);
        if left == 0 {
            break;
        }
        cx = text(buf, cx, y, left, s, *st);
    }
    cx
}

fn pane_block(left_sep: bool) -> Block<'static> {
    let borders = if left_sep {
        Borders::TOP | Borders::LEFT
    } else {
        Borders::TOP
    };
    Block::new()
        .borders(borders)
        .border_style(Style::new().fg(FAINT))
}

fn pane_inner(area: Rect, left_sep: bool) -> Rect {
    pane_block(left_sep).inner(area)
}

/// Draws a pane's frame with its title; returns the inner area.
fn pane(buf: &mut Buffer, area: Rect, title: Vec<Span<'static>>, left_sep: bool) -> Rect {
    let mut parts = vec![Span::raw(" ")];
    parts.extend(title);
    parts.push(Span::raw(" "));
    let block = pane_block(left_sep).title(Line::from(parts));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

fn bold(s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), Style::new().add_modifier(Modifier::BOLD))
}

fn dim(s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), Style::new().fg(DIM))
}

fn kind_style(kind: &str) -> Style {
    match kind {
        "violation" => Style::new().fg(VIOLATION).add_modifier(Modifier::BOLD),
        "fault" => Style::new().fg(Color::Yellow),
        "crash" | "disk_loss" | "auth_reject" => Style::new().fg(DOWN),
        "role" | "vote" => Style::new().fg(Color::LightCyan),
        "commit" | "append" | "snapshot" | "map" => Style::new().fg(Color::LightGreen),
        "replica" | "move" | "health" | "member" => Style::new().fg(Color::LightMagenta),
        "start" | "restart" | "resume" | "pause" | "clock" => Style::new().fg(Color::LightYellow),
        "send" | "deliver" | "timer" | "beat" => Style::new().fg(DIM),
        "drop" => Style::new().fg(Color::Indexed(174)),
        _ => Style::new().fg(Color::White),
    }
}

fn proc_name(replay: &Replay, p: u16) -> &str {
    replay
        .procs()
        .get(p as usize)
        .map_or("?", |i| i.name.as_str())
}

fn proc_style(replay: &Replay, p: u16) -> Style {
    replay
        .procs()
        .get(p as usize)
        .map_or(Style::new(), |i| Style::new().fg(proc_colour(i)))
}

// ---- panes ----

fn draw_title(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    buf.set_style(area, Style::new().bg(TITLE_BG).fg(Color::White));
    let base = Style::new().bg(TITLE_BG).fg(Color::White);
    let hi = base.add_modifier(Modifier::BOLD);
    let mut parts = vec![(" partsim replay ".to_string(), hi)];
    if r.is_empty() {
        parts.push(("│ no events ".into(), base));
    } else {
        let e = r.event(app.cursor());
        parts.push((format!("│ t={}s ", fmt_t(e.t)), hi));
        // `#N` is the event's `seq`, as in the trace and the event log.
        parts.push((
            format!("│ #{} ({}/{}) ", e.seq, app.cursor() + 1, r.len()),
            base,
        ));
    }
    let play = if app.playing() { "▶" } else { "■" };
    parts.push((format!("│ {play} {} ", fmt_speed(app.speed())), base));
    if app.filtering() {
        parts.push(("│ filtered ".into(), base.fg(Color::LightYellow)));
    }
    if r.notice.is_some() {
        parts.push(("│ incomplete trace ".into(), base.fg(Color::LightYellow)));
    }
    let scenario = if r.header.scenario.is_empty() {
        "?"
    } else {
        &r.header.scenario
    };
    parts.push((format!("│ {scenario} seed {} ", r.header.seed), base));
    spans(buf, area.x, area.y, area.width, &parts);
}

/// The x of the timeline's first column and its width, inside the pane.
fn timeline_axis(inner: Rect) -> (u16, u16) {
    let label = 7u16.min(inner.width / 4);
    (inner.x + label, inner.width - label)
}

fn tx(t: u64, t_end: u64, x0: u16, width: u16) -> u16 {
    let w = u128::from(width.saturating_sub(1));
    x0 + (u128::from(t.min(t_end)) * w / u128::from(t_end.max(1))) as u16
}

fn fault_colour(kind: &str) -> Color {
    match kind {
        "partition" | "isolate" | "one_way" => Color::Yellow,
        "link" => Color::Indexed(180),
        "crash" => DOWN,
        "pause" => Color::LightBlue,
        "clock" => Color::Cyan,
        _ => Color::White,
    }
}

fn draw_timeline(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let t_end = r.t_end();
    let cur_t = if r.is_empty() {
        0
    } else {
        r.event(app.cursor()).t
    };
    let title = vec![
        bold("timeline"),
        dim(format!(" 0s … {} ", fmt_span(t_end))),
        Span::raw(format!("cursor {}s", fmt_t(cur_t))),
        dim(format!(
            " · {} fault(s) · {} violation(s)",
            r.faults().iter().filter(|f| f.kind != "heal").count(),
            r.violations().len()
        )),
    ];
    let inner = pane(buf, area, title, false);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let (x0, width) = timeline_axis(inner);
    let rows = ["faults", "leader", "marks", "axis"];
    for (k, label) in rows.iter().enumerate().take(inner.height as usize) {
        text(
            buf,
            inner.x,
            inner.y + k as u16,
            x0 - inner.x,
            label,
            Style::new().fg(DIM),
        );
    }
    let y_f = inner.y;
    // Baselines.
    for k in 0..inner.height.min(3) {
        for x in x0..x0 + width {
            glyph(buf, x, inner.y + k, '·', Style::new().fg(FAINT));
        }
    }
    // Fault windows and markers.
    for f in r.faults() {
        let a = tx(f.begin_t, t_end, x0, width);
        let style = Style::new().fg(fault_colour(&f.kind));
        if f.instant {
            glyph(buf, a, y_f, '╿', style);
            continue;
        }
        let b = f
            .end
            .map_or(x0 + width - 1, |(_, t)| tx(t, t_end, x0, width));
        for x in a..=b.max(a) {
            glyph(buf, x, y_f, '━', style);
        }
    }
    // Leaders: a span per term in the leader's colour, its name at the start.
    if inner.height >= 2 {
        let y_l = inner.y + 1;
        for l in r.leaders() {
            let a = tx(l.begin_t, t_end, x0, width);
            let b = l.end_t.map_or(x0 + width - 1, |t| tx(t, t_end, x0, width));
            let style = proc_style(r, l.p);
            for x in a..=b.max(a) {
                glyph(buf, x, y_l, '━', style);
            }
            let name = proc_name(r, l.p);
            if b.saturating_sub(a) as usize > name.len() + 1 {
                text(buf, a, y_l, b - a, name, style.add_modifier(Modifier::BOLD));
            }
        }
    }
    // Marks: bookmarks, violations, cursor.
    if inner.height >= 3 {
        let y_m = inner.y + 2;
        for &b in app.bookmarks() {
            glyph(
                buf,
                tx(r.event(b).t, t_end, x0, width),
                y_m,
                '◆',
                Style::new().fg(Color::LightYellow),
            );
        }
        for &v in r.violations() {
            let style = Style::new().fg(VIOLATION).add_modifier(Modifier::BOLD);
            glyph(buf, tx(r.event(v).t, t_end, x0, width), y_m, '▲', style);
        }
    }
    if inner.height >= 4 {
        let y_a = inner.y + 3;
        let ticks = (width / 14).clamp(1, 10);
        for k in 0..=ticks {
            let t = t_end * u64::from(k) / u64::from(ticks);
            let label = fmt_span(t);
            let x = tx(t, t_end, x0, width);
            let x = x.min((x0 + width).saturating_sub(label.len() as u16));
            text(
                buf,
                x,
                y_a,
                (x0 + width).saturating_sub(x),
                &label,
                Style::new().fg(DIM),
            );
        }
    }
    if !r.is_empty() {
        let xc = tx(cur_t, t_end, x0, width);
        for k in 0..inner.height.min(3) {
            if let Some(cell) = buf.cell_mut((xc, inner.y + k)) {
                cell.set_bg(Color::Indexed(240));
            }
        }
        if inner.height >= 3 {
            let under_violation = buf
                .cell((xc, inner.y + 2))
                .is_some_and(|c| c.symbol() == "▲");
            if !under_violation {
                glyph(
                    buf,
                    xc,
                    inner.y + 2,
                    '┃',
                    Style::new().fg(Color::White).bg(Color::Indexed(240)),
                );
            }
        }
    }
}

/// Group letters per process name for the first active network fault with groups.
fn net_groups(state: &ClusterState, replay: &Replay) -> Vec<Option<char>> {
    let mut out = vec![None; replay.procs().len()];
    let Some(f) = state.faults.iter().find(|f| !f.groups.is_empty()) else {
        return out;
    };
    let star = f.groups.iter().position(|g| g.iter().any(|n| n == "*"));
    for (p, info) in replay.procs().iter().enumerate() {
        if info.kind == ProcKind::Sim {
            continue;
        }
        let g = f
            .groups
            .iter()
            .position(|g| g.contains(&info.name))
            .or(star);
        out[p] = g.map(|g| (b'A' + (g as u8).min(25)) as char);
    }
    out
}

fn draw_nodes(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let st = app.state();
    let mut title = vec![bold("nodes")];
    match st.leader() {
        Some((p, term)) => {
            title.push(dim(" · leader "));
            title.push(Span::styled(
                proc_name(r, p).to_string(),
                proc_style(r, p).add_modifier(Modifier::BOLD),
            ));
            title.push(dim(format!(" term {term}")));
        }
        None => title.push(dim(" · no leader")),
    }
    if let Some(v) = st.map_version {
        title.push(dim(format!(" · map v{v}")));
    }
    let inner = pane(buf, area, title, false);
    if inner.height == 0 {
        return;
    }
    let name_w = r
        .procs()
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(2)
        .clamp(4, 6) as u16;
    // (header, width); the first seven always, the rest while they fit.
    let mut cols: Vec<(&str, u16)> = vec![
        ("proc", name_w),
        ("state", 5),
        ("role", 6),
        ("term", 4),
        ("ldr", name_w.max(3)),
        ("health", 7),
        ("rep", 3),
    ];
    let extra: [(&str, u16); 5] = [
        ("pri", 3),
        ("map", 5),
        ("net", 3),
        ("clock", 7),
        ("commit", 6),
    ];
    let mut used: u16 = cols.iter().map(|c| c.1 + 1).sum();
    for c in extra {
        if used + c.1 < inner.width {
            cols.push(c);
            used += c.1 + 1;
        }
    }
    let header: Vec<(String, Style)> = cols
        .iter()
        .map(|(h, w)| {
            let w = usize::from(*w);
            let h: String = h.chars().take(w).collect();
            (
                format!("{h:<w$} "),
                Style::new().fg(DIM).add_modifier(Modifier::UNDERLINED),
            )
        })
        .collect();
    spans(buf, inner.x, inner.y, inner.width, &header);
    let groups = net_groups(st, r);
    let current_p = (!r.is_empty()).then(|| r.event(app.cursor()).p);
    let faults_lines = st.faults.len().min(2) as u16;
    let rows_avail = inner.height.saturating_sub(1 + faults_lines);
    let shown: Vec<usize> = (0..r.procs().len())
        .filter(|&p| r.procs()[p].kind != ProcKind::Sim)
        .collect();
    for (y, (k, &p)) in (inner.y + 1..).zip(shown.iter().enumerate()) {
        if y >= inner.y + 1 + rows_avail {
            break;
        }
        if k as u16 + 1 == rows_avail && shown.len() > rows_avail as usize {
            text(
                buf,
                inner.x + 1,
                y,
                inner.width,
                &format!("… {} more", shown.len() - k),
                Style::new().fg(DIM),
            );
            break;
        }
        let info = &r.procs()[p];
        let ps = st.procs.get(p).cloned().unwrap_or_default();
        let colour = proc_colour(info);
        let mut cells: Vec<(String, Style)> = Vec::new();
        // The selected event's process: its name on the cursor background.
        let name_style = if current_p == Some(p as u16) {
            Style::new()
                .fg(colour)
                .bg(CURSOR_BG)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::new().fg(colour).add_modifier(Modifier::BOLD)
        };
        cells.push((
            format!("{:<w$}", info.name, w = usize::from(name_w)),
            name_style,
        ));
        let (status, s_style) = match ps.status {
            Status::NotStarted => ("—", Style::new().fg(FAINT)),
            Status::Up => ("up", Style::new().fg(Color::Green)),
            Status::Down => ("down", Style::new().fg(DOWN).add_modifier(Modifier::BOLD)),
            Status::Paused => ("pause", Style::new().fg(Color::Yellow)),
        };
        cells.push((status.into(), s_style));
        let role_style = match ps.role {
            Some(RaftRole::Leader) => Style::new().fg(colour).add_modifier(Modifier::BOLD),
            Some(RaftRole::Candidate | RaftRole::PreCandidate) => Style::new().fg(Color::Yellow),
            _ => Style::new().fg(DIM),
        };
        cells.push((ps.role.map_or("", |r| r.short()).into(), role_style));
        let term = if ps.term > 0 || ps.role.is_some() {
            ps.term.to_string()
        } else {
            String::new()
        };
        cells.push((term, Style::new()));
        let leader = ps
            .leader
            .filter(|_| ps.role != Some(RaftRole::Leader))
            .map_or(String::new(), |l| proc_name(r, l).into());
        cells.push((leader, ps.leader.map_or(Style::new(), |l| proc_style(r, l))));
        let (health, h_style) = match ps.health {
            Some(Health::Alive) => ("alive", Style::new().fg(Color::Green)),
            Some(Health::Suspect) => ("suspect", Style::new().fg(Color::Yellow)),
            Some(Health::Dead) => ("dead", Style::new().fg(DOWN)),
            None => ("", Style::new()),
        };
        cells.push((health.into(), h_style));
        let node_like = info.kind == ProcKind::Node || ps.replicas > 0;
        cells.push((
            if node_like {
                ps.replicas.to_string()
            } else {
                String::new()
            },
            Style::new(),
        ));
        for (h, _) in &cols[7..] {
            let cell = match *h {
                "pri" => {
                    if node_like {
                        ps.primaries.to_string()
                    } else {
                        String::new()
                    }
                }
                "map" => ps.map_version.map_or(String::new(), |v| format!("v{v}")),
                "net" => groups[p].map_or(String::new(), |g| g.to_string()),
                "clock" => {
                    if ps.clock_offset_us != 0 || ps.clock_drift_ppm != 0 {
                        let mut s = fmt_offset(ps.clock_offset_us);
                        if ps.clock_drift_ppm != 0 {
                            s = format!("{s}{:+}p", ps.clock_drift_ppm);
                        }
                        s
                    } else {
                        String::new()
                    }
                }
                "commit" => ps.commit_index.map_or(String::new(), |c| c.to_string()),
                _ => String::new(),
            };
            let style = if *h == "net" {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            };
            cells.push((cell, style));
        }
        let mut x = inner.x;
        for ((s, style), (_, w)) in cells.iter().zip(&cols) {
            let end = inner.x + inner.width;
            let room = (*w).min(end.saturating_sub(x));
            text(buf, x, y, room, s, *style);
            x = (x + w + 1).min(end);
        }
    }
    // Active faults at the bottom.
    let first_fault_y = inner.y + inner.height - faults_lines;
    for (fy, f) in (first_fault_y..).zip(st.faults.iter().take(faults_lines as usize)) {
        let more = if st.faults.len() > 2 && fy == inner.y + inner.height - 1 {
            format!(" (+{} more)", st.faults.len() - 2)
        } else {
            String::new()
        };
        let line = format!(
            "≋ {} since {}{more}",
            f.detail_or_kind(),
            fmt_span(f.since_t)
        );
        text(
            buf,
            inner.x,
            fy,
            inner.width,
            &line,
            Style::new().fg(fault_colour(&f.kind)),
        );
    }
}

impl super::state::ActiveFault {
    fn detail_or_kind(&self) -> String {
        if self.detail.is_empty() {
            self.kind.clone()
        } else if self.detail.starts_with(&self.kind) {
            self.detail.clone()
        } else {
            format!("{} {}", self.kind, self.detail)
        }
    }
}

fn draw_grid(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let st = app.state();
    let Some(g) = r.grid() else {
        let inner = pane(buf, area, vec![bold("grid")], false);
        if inner.height > 0 {
            text(
                buf,
                inner.x,
                inner.y,
                inner.width,
                "no grid in the trace's config",
                Style::new().fg(DIM),
            );
        }
        return;
    };
    let assigned = (0..g.partitions() as usize)
        .filter(|&k| st.partitions.get(k).is_some_and(|p| !p.replicas.is_empty()))
        .count();
    let title = vec![
        bold("grid"),
        dim(format!(
            " {}×{} · {} tiles · rf {} · {assigned} placed",
            g.width,
            g.height,
            g.partitions(),
            g.replication_factor
        )),
    ];
    let inner = pane(buf, area, title, false);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let (tx_n, ty_n) = (g.tiles_x as u16, g.tiles_y as u16);
    let tw = (inner.width / tx_n.max(1)).min(8);
    let th = (inner.height / ty_n.max(1)).min(3);
    if tw == 0 || th == 0 {
        let msg = format!(
            "{}×{} tiles: enlarge the terminal to see them",
            g.tiles_x, g.tiles_y
        );
        text(
            buf,
            inner.x,
            inner.y,
            inner.width,
            &msg,
            Style::new().fg(DIM),
        );
        return;
    }
    let gap = u16::from(tw >= 4);
    let rf = g.replication_factor as usize;
    for ty in 0..ty_n {
        for txi in 0..tx_n {
            let k = usize::from(ty) * usize::from(tx_n) + usize::from(txi);
            let x = inner.x + txi * tw;
            let y = inner.y + ty * th;
            let part = st.partitions.get(k);
            let replicas = part.map_or(0, |p| p.replicas.len());
            let (bg, fg) = match part.and_then(|p| p.primary) {
                Some(n) => {
                    let c = r.procs().get(n as usize).map_or(Color::White, proc_colour);
                    (c, text_on(c))
                }
                None if replicas > 0 => (Color::Indexed(238), Color::White),
                None => (UNASSIGNED_BG, DIM),
            };
            let style = Style::new().bg(bg).fg(fg);
            let cw = tw - gap;
            for dy in 0..th {
                for dx in 0..cw {
                    glyph(buf, x + dx, y + dy, ' ', style);
                }
            }
            let label = match part {
                Some(p) if !p.replicas.is_empty() => {
                    // Replicas on crashed nodes do not count: the tile shows what serves.
                    let live = p
                        .replicas
                        .iter()
                        .filter(|(n, s)| {
                            *s != ReplicaState::CatchingUp
                                && st
                                    .procs
                                    .get(*n as usize)
                                    .is_none_or(|ps| ps.status != Status::Down)
                        })
                        .count();
                    let mut s = live.to_string();
                    if p.catching_up() > 0 {
                        s.push_str(&format!("+{}", p.catching_up()));
                    }
                    if rf > 0 && live < rf {
                        s.push('!');
                    }
                    if p.moving {
                        s.push('*');
                    }
                    s
                }
                _ => "·".to_string(),
            };
            if th >= 2 {
                text(
                    buf,
                    x,
                    y,
                    cw,
                    &format!("p{k}"),
                    style.add_modifier(Modifier::DIM),
                );
                text(
                    buf,
                    x,
                    y + 1,
                    cw,
                    &label,
                    style.add_modifier(Modifier::BOLD),
                );
                if let Some(p) = part.filter(|p| th >= 3 && p.epoch > 0) {
                    text(
                        buf,
                        x,
                        y + 2,
                        cw,
                        &format!("e{}", p.epoch),
                        style.add_modifier(Modifier::DIM),
                    );
                }
            } else if cw as usize >= label.len() + 3 && !label.starts_with('·') {
                text(buf, x, y, cw, &format!("p{k}:{label}"), style);
            } else {
                text(buf, x, y, cw, &label, style.add_modifier(Modifier::BOLD));
            }
        }
    }
    // A legend of node colours under the tiles, if there is room.
    let legend_y = inner.y + ty_n * th;
    if legend_y < inner.y + inner.height {
        let mut x = inner.x;
        for info in r.procs().iter().filter(|p| p.kind == ProcKind::Node) {
            let room = (inner.x + inner.width).saturating_sub(x);
            if room < info.name.len() as u16 + 2 {
                break;
            }
            glyph(buf, x, legend_y, '■', Style::new().fg(proc_colour(info)));
            x = text(
                buf,
                x + 1,
                legend_y,
                room - 1,
                &info.name,
                Style::new().fg(DIM),
            ) + 1;
        }
    }
}

fn draw_log(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let mut title = vec![bold("events")];
    if app.filtering() {
        title.push(Span::styled(
            " (filtered: f)",
            Style::new().fg(Color::LightYellow),
        ));
    }
    title.push(dim(format!(" · {} in all", r.len())));
    let inner = pane(buf, area, title, true);
    if inner.height == 0 {
        return;
    }
    let rows = window(app, inner.height as usize);
    let show_seq = inner.width >= 70;
    let p_w = r
        .procs()
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(2)
        .clamp(2, 6);
    for (k, &i) in rows.iter().enumerate() {
        let y = inner.y + k as u16;
        let e = r.event(i);
        let is_cursor = i == app.cursor();
        let kind = r.kinds()[e.kind as usize].as_str();
        let (summary, line_ok) = match r.full(i) {
            Ok(full) => (full.summary(), true),
            Err(m) => (m, false),
        };
        let gutter = if is_cursor {
            "▶"
        } else if app.bookmarks().binary_search(&i).is_ok() {
            "◆"
        } else {
            " "
        };
        let mut parts = vec![(gutter.to_string(), Style::new().fg(Color::LightYellow))];
        if show_seq {
            parts.push((format!("{:>7} ", e.seq), Style::new().fg(FAINT)));
        }
        parts.push((format!("{:>10} ", fmt_t(e.t)), Style::new().fg(DIM)));
        parts.push((format!("{:<p_w$} ", proc_name(r, e.p)), proc_style(r, e.p)));
        let ks = kind_style(kind);
        parts.push((format!("{kind:<9} "), ks));
        let summary_style = if kind == "violation" {
            ks
        } else if !line_ok {
            Style::new().fg(DOWN)
        } else {
            Style::new()
        };
        parts.push((summary, summary_style));
        spans(buf, inner.x, y, inner.width, &parts);
        if is_cursor {
            let row = Rect::new(inner.x, y, inner.width, 1);
            buf.set_style(row, Style::new().bg(CURSOR_BG).add_modifier(Modifier::BOLD));
            if !app.passes(i) {
                buf.set_style(row, Style::new().add_modifier(Modifier::DIM));
            }
        }
    }
}

fn lane_line(status: Status) -> (char, Style) {
    match status {
        Status::Up => ('│', Style::new().fg(FAINT)),
        Status::Paused => ('┆', Style::new().fg(Color::Yellow)),
        Status::Down => ('╳', Style::new().fg(Color::Indexed(52))),
        Status::NotStarted => (' ', Style::new()),
    }
}

fn status_glyph(replay: &Replay, st: &ClusterState, p: usize) -> (char, Style) {
    let ps = st.procs.get(p).cloned().unwrap_or_default();
    let colour = replay.procs().get(p).map_or(Color::White, proc_colour);
    match ps.status {
        Status::NotStarted => (' ', Style::new()),
        Status::Down => ('X', Style::new().fg(DOWN)),
        Status::Paused => ('z', Style::new().fg(Color::Yellow)),
        Status::Up => match ps.role {
            Some(RaftRole::Leader) => ('L', Style::new().fg(colour).add_modifier(Modifier::BOLD)),
            Some(role) => (role.glyph(), Style::new().fg(colour)),
            None => match ps.health {
                Some(Health::Suspect) => ('?', Style::new().fg(Color::Yellow)),
                Some(Health::Dead) => ('d', Style::new().fg(DOWN)),
                _ => ('.', Style::new().fg(colour)),
            },
        },
    }
}

fn event_glyph(kind: &str, full: Option<&FullEvent>) -> char {
    match kind {
        "send" => '>',
        "deliver" => '<',
        "drop" => 'x',
        "timer" => 't',
        "start" | "restart" => '^',
        "crash" => 'X',
        "pause" => 'z',
        "resume" => 'r',
        "violation" => '!',
        "fault" => '~',
        "role" => full
            .and_then(|f| f.fields.get("role"))
            .and_then(|v| v.as_str())
            .map_or('R', |r| match r {
                "leader" => 'L',
                "candidate" => 'C',
                "pre_candidate" => 'p',
                _ => 'F',
            }),
        "commit" => '+',
        "replica" => '#',
        "map" => 'm',
        "health" => 'h',
        _ => '*',
    }
}

fn draw_lanes(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let left_sep = true;
    let mode = app.lanes_mode();
    let title = vec![
        bold("lanes"),
        dim(match mode {
            LanesMode::Arrows => " messages in space-time (m: glyphs)",
            LanesMode::Glyphs => " per-process glyph columns (m: arrows)",
        }),
    ];
    let inner = pane(buf, area, title, left_sep);
    if inner.height < 2 || inner.width < 16 {
        return;
    }
    let label_w: u16 = 11;
    let lanes: Vec<usize> = (0..r.procs().len())
        .filter(|&p| r.procs()[p].kind != ProcKind::Sim && !app.proc_hidden(p))
        .collect();
    let avail = inner.width - label_w;
    let lane_w: u16 = match mode {
        LanesMode::Glyphs => 2,
        LanesMode::Arrows => (avail / (lanes.len().max(1) as u16)).clamp(2, 6),
    };
    let fit = usize::from(avail / lane_w).min(lanes.len());
    let lanes = &lanes[..fit];
    let lane_of = |p: u16| lanes.iter().position(|&l| l == p as usize);
    let lx = |k: usize| inner.x + label_w + k as u16 * lane_w + lane_w / 2;
    // Header: lane names.
    for (k, &p) in lanes.iter().enumerate() {
        let name = &r.procs()[p].name;
        let x = (lx(k) + 1)
            .saturating_sub((name.len() as u16).div_ceil(2).max(1))
            .max(inner.x + label_w + k as u16 * lane_w);
        text(
            buf,
            x,
            inner.y,
            lane_w.max(2),
            name,
            Style::new()
                .fg(proc_colour(&r.procs()[p]))
                .add_modifier(Modifier::BOLD),
        );
    }
    let rows = window(app, inner.height as usize - 1);
    if rows.is_empty() {
        return;
    }
    // The state after each row's event: from the state before the first
    // row, folded forward (or re-seeked across long filtered gaps).
    let mut st = r.state_at(rows[0]);
    let mut prev = rows[0];
    let text_x = inner.x + label_w + fit as u16 * lane_w + 1;
    for (k, &i) in rows.iter().enumerate() {
        if k > 0 {
            if i - prev > r.checkpoint_every() {
                st = r.state_at(i);
            } else {
                r.fold(&mut st, prev + 1, i + 1);
            }
            prev = i;
        }
        let y = inner.y + 1 + k as u16;
        let e = r.event(i);
        let kind = r.kinds()[e.kind as usize].as_str();
        let full = r.full(i).ok();
        text(
            buf,
            inner.x,
            y,
            label_w - 1,
            &fmt_t(e.t),
            Style::new().fg(DIM),
        );
        match mode {
            LanesMode::Glyphs => {
                for (lk, &p) in lanes.iter().enumerate() {
                    let (ch, style) = status_glyph(r, &st, p);
                    glyph(buf, lx(lk), y, ch, style);
                }
                if let Some(lk) = lane_of(e.p) {
                    let ch = event_glyph(kind, full.as_ref());
                    let style = if kind == "violation" {
                        Style::new().fg(Color::White).bg(VIOLATION)
                    } else {
                        proc_style(r, e.p).add_modifier(Modifier::REVERSED)
                    };
                    glyph(buf, lx(lk), y, ch, style);
                }
            }
            LanesMode::Arrows => {
                for (lk, &p) in lanes.iter().enumerate() {
                    let (ch, style) =
                        lane_line(st.procs.get(p).map_or(Status::NotStarted, |s| s.status));
                    glyph(buf, lx(lk), y, ch, style);
                }
                draw_arrow(buf, r, e.p, e.kind, kind, full.as_ref(), y, &lane_of, &lx);
            }
        }
        if text_x < inner.x + inner.width {
            let summary = full.as_ref().map_or_else(String::new, |f| {
                format!("{} {} {}", proc_name(r, e.p), kind, f.summary())
            });
            let style = if kind == "violation" {
                kind_style(kind)
            } else {
                Style::new().fg(DIM)
            };
            text(
                buf,
                text_x,
                y,
                inner.x + inner.width - text_x,
                &summary,
                style,
            );
        }
        if i == app.cursor() {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::new().bg(CURSOR_BG),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_arrow(
    buf: &mut Buffer,
    r: &Replay,
    p: u16,
    kind_id: u16,
    kind: &str,
    full: Option<&FullEvent>,
    y: u16,
    lane_of: &dyn Fn(u16) -> Option<usize>,
    lx: &dyn Fn(usize) -> u16,
) {
    let other = |key: &str| full.and_then(|f| r.proc_id(f.str(key)));
    let line = |buf: &mut Buffer, a: u16, b: u16, ch: char, style: Style| {
        let (lo, hi) = (a.min(b), a.max(b));
        for x in lo + 1..hi {
            glyph(buf, x, y, ch, style);
        }
    };
    match kind_id {
        K_SEND | K_DELIVER | K_DROP => {
            let (from, to) = match kind_id {
                K_SEND => (Some(p), other("to")),
                K_DELIVER => (other("from"), Some(p)),
                _ => (other("from"), other("to")),
            };
            let (fa, ta) = (from.and_then(lane_of), to.and_then(lane_of));
            let colour = from.map_or(Style::new(), |f| proc_style(r, f));
            match (fa, ta) {
                (Some(a), Some(b)) => {
                    let (xa, xb) = (lx(a), lx(b));
                    let right = xb >= xa;
                    match kind_id {
                        K_SEND => {
                            line(buf, xa, xb, '╌', colour.add_modifier(Modifier::DIM));
                            glyph(buf, xa, y, '●', colour);
                            glyph(
                                buf,
                                xb,
                                y,
                                if right { '›' } else { '‹' },
                                colour.add_modifier(Modifier::DIM),
                            );
                        }
                        K_DELIVER => {
                            line(buf, xa, xb, '─', colour);
                            glyph(buf, xa, y, '○', colour);
                            glyph(
                                buf,
                                xb,
                                y,
                                if right { '▶' } else { '◀' },
                                colour.add_modifier(Modifier::BOLD),
                            );
                        }
                        _ => {
                            line(buf, xa, xb, '╌', Style::new().fg(Color::Indexed(174)));
                            glyph(buf, xa, y, '○', colour);
                            glyph(
                                buf,
                                xb,
                                y,
                                '✕',
                                Style::new().fg(DOWN).add_modifier(Modifier::BOLD),
                            );
                        }
                    }
                }
                (Some(a), None) => glyph(buf, lx(a), y, '●', colour),
                (None, Some(b)) => glyph(buf, lx(b), y, '▶', colour),
                (None, None) => {}
            }
        }
        _ => {
            let ch = event_glyph(kind, full);
            let style = match kind {
                "violation" => Style::new()
                    .fg(Color::White)
                    .bg(VIOLATION)
                    .add_modifier(Modifier::BOLD),
                "crash" => Style::new().fg(DOWN).add_modifier(Modifier::BOLD),
                "fault" => Style::new().fg(Color::Yellow),
                _ => proc_style(r, p).add_modifier(Modifier::BOLD),
            };
            match lane_of(p) {
                Some(a) => glyph(buf, lx(a), y, ch, style),
                None => {
                    // World-level events (faults, end-of-run violations): across every lane.
                    if let (Some(first), Some(last)) =
                        (lane_of_first(lane_of, r), lane_of_last(lane_of, r))
                    {
                        line(
                            buf,
                            lx(first).saturating_sub(1),
                            lx(last) + 1,
                            if kind == "violation" { '!' } else { '~' },
                            style,
                        );
                    }
                }
            }
        }
    }
}

fn lane_of_first(lane_of: &dyn Fn(u16) -> Option<usize>, r: &Replay) -> Option<usize> {
    (0..r.procs().len() as u16).filter_map(lane_of).min()
}

fn lane_of_last(lane_of: &dyn Fn(u16) -> Option<usize>, r: &Replay) -> Option<usize> {
    (0..r.procs().len() as u16).filter_map(lane_of).max()
}

fn draw_detail(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let inner = pane(
        buf,
        area,
        vec![bold("detail"), dim(" · c: cause, C: back")],
        true,
    );
    if inner.height == 0 || r.is_empty() {
        return;
    }
    let i = app.cursor();
    let e = r.event(i);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let kind = r.kinds()[e.kind as usize].clone();
    lines.push(Line::from(vec![
        bold(format!("#{} ", e.seq)),
        Span::styled(
            proc_name(r, e.p).to_string(),
            proc_style(r, e.p).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(kind.clone(), kind_style(&kind).add_modifier(Modifier::BOLD)),
        dim(format!(" at {}s", fmt_t(e.t))),
    ]));
    match r.full(i) {
        Ok(full) => {
            let mut fields: Vec<Span<'static>> = Vec::new();
            for (k, v) in &full.fields {
                fields.push(dim(format!("{k}=")));
                let val = super::event::plain(v);
                let style = if kind == "violation" {
                    kind_style(&kind)
                } else {
                    Style::new()
                };
                fields.push(Span::styled(val, style));
                fields.push(Span::raw("  "));
            }
            if !fields.is_empty() {
                lines.push(Line::from(fields));
            }
            match (full.cause, r.cause_of(i)) {
                (Some(seq), None) => lines.push(Line::from(dim(format!(
                    "cause #{seq} is not in this trace"
                )))),
                (None, _) => lines.push(Line::from(dim("no recorded cause"))),
                _ => {}
            }
        }
        Err(m) => lines.push(Line::from(Span::styled(m, Style::new().fg(DOWN)))),
    }
    // The causal chain, walking back through `cause`.
    let mut c = r.cause_of(i);
    let mut depth = 0;
    if c.is_some() {
        lines.push(Line::from(dim("caused by:")));
    }
    while let Some(ci) = c {
        if depth >= 12 {
            lines.push(Line::from(dim("  …")));
            break;
        }
        let ce = r.event(ci);
        let ck = r.kinds()[ce.kind as usize].clone();
        let summary = r.full(ci).map(|f| f.summary()).unwrap_or_default();
        lines.push(Line::from(vec![
            dim(format!("{}← #{} ", " ".repeat(depth.min(6)), ce.seq)),
            Span::styled(proc_name(r, ce.p).to_string(), proc_style(r, ce.p)),
            Span::raw(" "),
            Span::styled(ck.clone(), kind_style(&ck)),
            Span::raw(format!(" {summary}")),
        ]));
        c = r.cause_of(ci);
        depth += 1;
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

fn draw_hints(app: &App, buf: &mut Buffer, area: Rect) {
    buf.set_style(area, Style::new().bg(Color::Indexed(235)));
    if let Overlay::Search(q) = app.overlay() {
        let parts = vec![
            (
                "/".to_string(),
                Style::new()
                    .fg(Color::LightYellow)
                    .add_modifier(Modifier::BOLD),
            ),
            (format!("{q}█"), Style::new().fg(Color::White)),
            (
                "  enter: search forward (empty repeats) · esc: cancel".to_string(),
                Style::new().fg(DIM),
            ),
        ];
        spans(buf, area.x, area.y, area.width, &parts);
        return;
    }
    if let Some((msg, warn)) = app.status() {
        let style = if warn {
            Style::new().fg(Color::Black).bg(Color::LightYellow)
        } else {
            Style::new().fg(Color::White)
        };
        text(buf, area.x, area.y, area.width, &format!(" {msg} "), style);
        return;
    }
    let hints: [(&str, &str); 12] = [
        ("space", "play"),
        ("←→", "step"),
        ("⇧←→", "jump"),
        ("v", "violation"),
        ("f", "filter"),
        ("/", "search"),
        ("c", "cause"),
        ("n/N", "kind"),
        ("[]", "speed"),
        ("g/G", "ends"),
        ("b '", "marks"),
        ("m", "lanes"),
    ];
    // `?` and `q` always show; the others while they fit, in this order.
    let essential = [("?", "help"), ("q", "quit")];
    let width = |k: &str, d: &str| (k.chars().count() + d.chars().count() + 2) as u16;
    let mut room = area
        .width
        .saturating_sub(essential.iter().map(|(k, d)| width(k, d)).sum());
    let mut chosen: Vec<(&str, &str)> = Vec::new();
    for (k, d) in hints {
        if width(k, d) > room {
            break;
        }
        room -= width(k, d);
        chosen.push((k, d));
    }
    chosen.extend(essential);
    let mut parts = Vec::new();
    for (k, d) in chosen {
        parts.push((
            format!(" {k}"),
            Style::new()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
        ));
        parts.push((format!(" {d}"), Style::new().fg(Color::Gray)));
    }
    spans(buf, area.x, area.y, area.width, &parts);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_help(buf: &mut Buffer, area: Rect) {
    let rect = centered(area, 64, KEYS.len() as u16 + 3);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .title(Line::from(vec![bold(" keys "), dim("(any key closes) ")]))
        .border_style(Style::new().fg(Color::LightCyan));
    let inner = block.inner(rect);
    block.render(rect, buf);
    for (k, (key, what)) in KEYS.iter().enumerate() {
        let y = inner.y + k as u16;
        if y >= inner.y + inner.height {
            break;
        }
        text(
            buf,
            inner.x + 1,
            y,
            14,
            key,
            Style::new()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
        );
        text(
            buf,
            inner.x + 16,
            y,
            inner.width.saturating_sub(16),
            what,
            Style::new(),
        );
    }
}

fn draw_filter(app: &App, buf: &mut Buffer, area: Rect, column: usize, row: [usize; 2]) {
    let r = app.replay();
    let items = [app.filter_items(0), app.filter_items(1)];
    let h = (items[0].len().max(items[1].len()) as u16 + 4).min(area.height);
    let rect = centered(area, 58, h);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .title(Line::from(vec![
            bold(" filter "),
            dim("space toggle · o only · a all · r reset · esc "),
        ]))
        .border_style(Style::new().fg(Color::LightYellow));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height < 2 {
        return;
    }
    let col_w = inner.width / 2;
    let heads = ["processes", "kinds"];
    for c in 0..2 {
        let x = inner.x + c as u16 * col_w;
        let head_style = if c == column {
            Style::new()
                .fg(Color::LightYellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(DIM)
        };
        text(buf, x + 1, inner.y, col_w - 1, heads[c], head_style);
        let visible = usize::from(inner.height - 1);
        let sel = row[c].min(items[c].len().saturating_sub(1));
        let first = sel.saturating_sub(visible.saturating_sub(1));
        for (k, &it) in items[c].iter().enumerate().skip(first).take(visible) {
            let y = inner.y + 1 + (k - first) as u16;
            let (name, count, hidden, style) = if c == 0 {
                (
                    r.procs()[it].name.as_str(),
                    r.proc_counts()[it],
                    app.proc_hidden(it),
                    Style::new().fg(proc_colour(&r.procs()[it])),
                )
            } else {
                let name = r.kinds()[it].as_str();
                (
                    name,
                    r.kind_counts()[it],
                    app.kind_hidden(it),
                    kind_style(name),
                )
            };
            let mark = if hidden { "[ ]" } else { "[x]" };
            let line = format!("{mark} {name:<12} {count:>8}");
            let mut st = if hidden { Style::new().fg(DIM) } else { style };
            if c == column && k == sel {
                st = st.add_modifier(Modifier::REVERSED);
            }
            text(buf, x + 1, y, col_w - 1, &line, st);
        }
    }
}
