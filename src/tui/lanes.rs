//! The lanes pane: a space-time view of the events around the cursor, one
//! column per process (message arrows, or per-process glyph columns), or
//! one lane per client with each operation from invocation to completion.
//! Rows are events, oldest at the top, as in the event log.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::app::{App, LanesMode};
use super::event::{FullEvent, fmt_t};
use super::index::{K_DELIVER, K_DROP, K_SEND, ProcKind, Replay};
use super::ops::OpOutcome;
use super::state::{ClusterState, Health, RaftRole, Status};
use super::view::{
    CURSOR_BG, DIM, DOWN, FAINT, VIOLATION, bold, dim, glyph, kind_style, pane, proc_colour,
    proc_name, proc_style, text, window,
};

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

pub(super) fn draw_lanes(app: &App, buf: &mut Buffer, area: Rect) {
    let r = app.replay();
    let left_sep = true;
    let mode = app.lanes_mode();
    let title = vec![
        bold("lanes"),
        dim(match mode {
            LanesMode::Arrows => " messages in space-time (m: glyphs)",
            LanesMode::Glyphs => " per-process glyph columns (m: ops)",
            LanesMode::Ops => " client operations (m: arrows)",
        }),
    ];
    let inner = pane(buf, area, title, left_sep);
    if inner.height < 2 || inner.width < 16 {
        return;
    }
    if mode == LanesMode::Ops {
        return draw_ops(app, buf, inner);
    }
    let label_w: u16 = 11;
    let lanes: Vec<usize> = (0..r.procs().len())
        .filter(|&p| r.procs()[p].kind != ProcKind::Sim && !app.proc_hidden(p))
        .collect();
    let avail = inner.width - label_w;
    let lane_w: u16 = match mode {
        LanesMode::Glyphs | LanesMode::Ops => 2,
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
            LanesMode::Glyphs | LanesMode::Ops => {
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

/// The colour of an operation's outcome.
fn outcome_colour(o: OpOutcome) -> Color {
    match o {
        OpOutcome::Ok => Color::Green,
        OpOutcome::Fail => DOWN,
        OpOutcome::Info => Color::Yellow,
        OpOutcome::Pending => DIM,
    }
}

/// The `op` events a pane of `height` rows shows around the cursor (the
/// cursor's own event always included), clients hidden by the filter left out.
fn op_window(app: &App, height: usize) -> Vec<usize> {
    let r = app.replay();
    if r.is_empty() || height == 0 {
        return Vec::new();
    }
    let shown = |i: usize| !app.proc_hidden(r.event(i).p as usize);
    let evs = r.ops().events();
    let cur = app.cursor();
    let k = evs.partition_point(|e| e.0 < cur);
    let before: Vec<usize> = evs[..k]
        .iter()
        .rev()
        .map(|e| e.0)
        .filter(|&i| shown(i))
        .take(height)
        .collect();
    let after: Vec<usize> = evs[k..]
        .iter()
        .map(|e| e.0)
        .filter(|&i| i != cur && shown(i))
        .take(height)
        .collect();
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

/// One lane per client: each operation drawn from its invocation (`w`,
/// `r`, `c`) down to its completion (`✓`, `✗`, `?`) in its outcome's
/// colour; the operations a `linearizable` violation cannot order on red.
fn draw_ops(app: &App, buf: &mut Buffer, inner: Rect) {
    let r = app.replay();
    let ops = r.ops();
    if ops.is_empty() {
        text(
            buf,
            inner.x,
            inner.y,
            inner.width,
            "no client operations in this trace (m: arrows)",
            Style::new().fg(DIM),
        );
        return;
    }
    let label_w: u16 = 11;
    let clients: Vec<u16> = ops
        .clients()
        .into_iter()
        .filter(|&c| !app.proc_hidden(c as usize))
        .collect();
    let avail = inner.width - label_w;
    let lane_w = (avail / 2 / (clients.len().max(1) as u16)).clamp(2, 4);
    let fit = usize::from(avail / lane_w).min(clients.len());
    let clients = &clients[..fit];
    let lx = |k: usize| inner.x + label_w + k as u16 * lane_w + lane_w / 2;
    for (k, &c) in clients.iter().enumerate() {
        let name = proc_name(r, c);
        text(
            buf,
            lx(k).saturating_sub(name.len() as u16 / 2),
            inner.y,
            lane_w + 1,
            name,
            proc_style(r, c).add_modifier(Modifier::BOLD),
        );
    }
    let text_x = inner.x + label_w + fit as u16 * lane_w + 1;
    let culprits = app.culprits();
    for (row, &i) in op_window(app, usize::from(inner.height - 1))
        .iter()
        .enumerate()
    {
        let y = inner.y + 1 + row as u16;
        let e = r.event(i);
        if i == app.cursor() {
            buf.set_style(
                Rect::new(inner.x, y, inner.width, 1),
                Style::new().bg(CURSOR_BG),
            );
        }
        text(
            buf,
            inner.x,
            y,
            label_w - 1,
            &fmt_t(e.t),
            Style::new().fg(DIM),
        );
        for (k, &c) in clients.iter().enumerate() {
            let Some(span) = ops.at(c, i) else {
                continue;
            };
            let ch = if span.invoke == i {
                span.f
            } else if span.end == Some(i) {
                match span.outcome {
                    OpOutcome::Ok => '✓',
                    OpOutcome::Fail => '✗',
                    _ => '?',
                }
            } else if span.end.is_none() {
                '┆'
            } else {
                '│'
            };
            let mut style = Style::new().fg(outcome_colour(span.outcome));
            if span.invoke == i || span.end == Some(i) {
                style = style.add_modifier(Modifier::BOLD);
            }
            if culprits.contains(&span.invoke) {
                style = style.fg(Color::White).bg(VIOLATION);
            }
            glyph(buf, lx(k), y, ch, style);
        }
        if text_x < inner.x + inner.width {
            let summary = r.full(i).map_or_else(
                |_| String::new(),
                |f| format!("{} {}", proc_name(r, e.p), f.summary()),
            );
            text(
                buf,
                text_x,
                y,
                inner.x + inner.width - text_x,
                &summary,
                Style::new().fg(DIM),
            );
        }
    }
}
