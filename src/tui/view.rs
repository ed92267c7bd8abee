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
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::app::{App, MainView, Overlay};
use super::event::{fmt_offset, fmt_span, fmt_t};
use super::index::{ProcInfo, ProcKind, Replay};
use super::lanes::draw_lanes;
use super::overlay::{draw_filter, draw_help, draw_hints};
use super::state::{ClusterState, Health, RaftRole, ReplicaState, Status};

pub use super::legend::KEYS;

/// Smallest terminal the UI draws in.
pub const MIN_WIDTH: u16 = 40;
/// Smallest terminal the UI draws in.
pub const MIN_HEIGHT: u16 = 12;

/// The violation colour; used for nothing else.
pub const VIOLATION: Color = Color::Red;
pub(super) const DOWN: Color = Color::LightRed;
pub(super) const DIM: Color = Color::Indexed(244);
pub(super) const FAINT: Color = Color::Indexed(239);
pub(super) const CURSOR_BG: Color = Color::Indexed(237);
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
        Overlay::Help(scroll) => draw_help(buf, area, *scroll),
        Overlay::Filter(menu) => draw_filter(app, buf, area, menu.column, menu.row),
        Overlay::None | Overlay::Search(_) | Overlay::Jump(_) => {}
    }
}

// ---- small drawing helpers ----

pub(super) fn text(buf: &mut Buffer, x: u16, y: u16, max: u16, s: &str, style: Style) -> u16 {
    if max == 0 {
        return x;
    }
    buf.set_stringn(x, y, s, usize::from(max), style).0
}

pub(super) fn glyph(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

pub(super) fn spans(buf: &mut Buffer, x: u16, y: u16, max: u16, parts: &[(String, Style)]) -> u16 {
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
pub(super) fn pane(
    buf: &mut Buffer,
    area: Rect,
    title: Vec<Span<'static>>,
    left_sep: bool,
) -> Rect {
    let mut parts = vec![Span::raw(" ")];
    parts.extend(title);
    parts.push(Span::raw(" "));
    let block = pane_block(left_sep).title(Line::from(parts));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

pub(super) fn bold(s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), Style::new().add_modifier(Modifier::BOLD))
}

pub(super) fn dim(s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), Style::new().fg(DIM))
}

pub(super) fn kind_style(kind: &str) -> Style {
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

pub(super) fn proc_name(replay: &Replay, p: u16) -> &str {
    replay
        .procs()
        .get(p as usize)
        .map_or("?", |i| i.name.as_str())
}

pub(super) fn proc_style(replay: &Replay, p: u16) -> Style {
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
    if let Some(q) = app.active_search() {
        let q: String = q.chars().take(24).collect();
        parts.push((format!("│ /{q} "), base.fg(Color::LightYellow)));
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
                        s.push('+');
                        s.push_str(&p.catching_up().to_string());
                    }
                    if rf > 0 && live < rf {
                        s.push('!');
                    }
                    if p.moving {
                        s.push('*');
                    }
                    if p.unavailable {
                        s.push('⊘');
                    }
                    s
                }
                Some(p) if p.unavailable => '⊘'.to_string(),
                _ => '·'.to_string(),
            };
            // The epoch (row 3) and the writes acknowledged so far: after
            // the label (row 2) or the epoch, wherever they fit.
            let epoch = part.filter(|p| p.epoch > 0).map_or(String::new(), |p| {
                let mut s = String::from('e');
                s.push_str(&p.epoch.to_string());
                s
            });
            let writes = part.filter(|p| p.writes > 0).map_or(String::new(), |p| {
                let mut s = String::from('w');
                s.push_str(&compact(p.writes));
                s
            });
            let fits = |a: &str| a.chars().count() + 1 + writes.chars().count() <= usize::from(cw);
            let (label_row, epoch_row) = if writes.is_empty() {
                (label.clone(), epoch)
            } else if fits(&label) {
                (format!("{label} {writes}"), epoch)
            } else if th >= 3 && fits(&epoch) {
                (
                    label.clone(),
                    format!("{epoch} {writes}").trim_start().to_string(),
                )
            } else {
                (label.clone(), epoch)
            };
            let mut name = String::from('p');
            name.push_str(&k.to_string());
            if th >= 2 {
                text(buf, x, y, cw, &name, style.add_modifier(Modifier::DIM));
                text(
                    buf,
                    x,
                    y + 1,
                    cw,
                    &label_row,
                    style.add_modifier(Modifier::BOLD),
                );
                if th >= 3 {
                    text(
                        buf,
                        x,
                        y + 2,
                        cw,
                        &epoch_row,
                        style.add_modifier(Modifier::DIM),
                    );
                }
            } else if cw as usize >= label.len() + 3 && !label.starts_with('·') {
                text(buf, x, y, cw, &format!("{name}:{label}"), style);
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

/// `950`, `12k`, `3.4M`: a count in at most four characters.
fn compact(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
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
    if app.filtering() {
        title.push(dim(format!(" · {} of {} match", app.matching(), r.len())));
    } else {
        title.push(dim(format!(" · {} in all", r.len())));
    }
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
                (None, None) => lines.push(Line::from(dim("no recorded cause"))),
                (None, Some(_)) => lines.push(Line::from(dim(
                    "no cause written; ⇠ the process's crash, pause or fault it follows",
                ))),
                _ => {}
            }
        }
        Err(m) => lines.push(Line::from(Span::styled(m, Style::new().fg(DOWN)))),
    }
    // The causal chain, walking back through `cause`.
    let mut c = r.cause_of(i);
    let mut depth = 0;
    let mut chain_prev = i;
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
        // A link the index derived (a restart follows its crash) reads `⇠`.
        let arrow = if r.cause_derived(chain_prev) {
            '⇠'
        } else {
            '←'
        };
        chain_prev = ci;
        lines.push(Line::from(vec![
            dim(format!("{}{arrow} #{} ", " ".repeat(depth.min(6)), ce.seq)),
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
