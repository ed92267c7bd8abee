//! The overlays and the bottom line: the key-hint bar (or the status
//! message, or the `/` and `:` prompts), the help window and the filter
//! window.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Widget};

use super::app::{App, Overlay};
use super::legend::help_lines;
use super::view::{DIM, bold, dim, kind_style, proc_colour, spans, text};

pub(super) fn draw_hints(app: &App, buf: &mut Buffer, area: Rect) {
    buf.set_style(area, Style::new().bg(Color::Indexed(235)));
    let prompt = match app.overlay() {
        Overlay::Search(q) => Some((
            "/",
            q,
            "  enter: search forward (empty repeats; then n / N) · esc: cancel",
        )),
        Overlay::Jump(q) => Some((":", q, "  12.5s, 250ms or #2548, then enter · esc: cancel")),
        _ => None,
    };
    if let Some((lead, q, help)) = prompt {
        let parts = vec![
            (
                lead.to_string(),
                Style::new()
                    .fg(Color::LightYellow)
                    .add_modifier(Modifier::BOLD),
            ),
            (format!("{q}█"), Style::new().fg(Color::White)),
            (help.to_string(), Style::new().fg(DIM)),
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
    let n_does = if app.active_search().is_some() {
        "match"
    } else {
        "kind"
    };
    let hints: [(&str, &str); 13] = [
        ("space", "play"),
        ("←→", "step"),
        ("⇧←→", "jump"),
        ("v", "violation"),
        ("f", "filter"),
        ("/", "search"),
        ("c", "cause"),
        ("n/N", n_does),
        (":", "go to"),
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

pub(super) fn draw_help(buf: &mut Buffer, area: Rect, scroll: u16) {
    let lines = help_lines();
    let rect = centered(area, 76, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    let inner_h = rect.height.saturating_sub(2);
    let first = usize::from(scroll.min((lines.len() as u16).saturating_sub(inner_h)));
    let more = if first + usize::from(inner_h) < lines.len() {
        "↓ more · "
    } else {
        ""
    };
    let block = Block::bordered()
        .title(Line::from(vec![
            bold(" help "),
            dim(format!(
                "{more}↑ ↓ PgUp PgDn scroll · any other key closes "
            )),
        ]))
        .border_style(Style::new().fg(Color::LightCyan));
    let inner = block.inner(rect);
    block.render(rect, buf);
    for (y, (key, what)) in (inner.y..inner.y + inner.height).zip(lines.iter().skip(first)) {
        let key_w = 18.min(inner.width.saturating_sub(1));
        text(
            buf,
            inner.x + 1,
            y,
            key_w,
            key,
            Style::new()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
        );
        let style = if what.starts_with("── ") || (key.is_empty() && what.ends_with(':')) {
            Style::new().fg(Color::LightYellow)
        } else {
            Style::new()
        };
        text(
            buf,
            inner.x + 1 + key_w + 1,
            y,
            inner.width.saturating_sub(key_w + 2),
            what,
            style,
        );
    }
}

pub(super) fn draw_filter(app: &App, buf: &mut Buffer, area: Rect, column: usize, row: [usize; 2]) {
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
