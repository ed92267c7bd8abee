//! The replay UI's screen at key moments of a trace, at 80×24 and 160×48:
//! insta snapshots of the text, plus assertions on colour-bearing cells
//! (a tile in its primary's colour, a violation in red, a crashed node).
//!
//! The fixture is `tui::write_synthetic_trace` (deterministic, ~3000
//! events): an election, a partition with a new leader, a node crash with
//! failover, a clock jump, a paused leader and a `single_primary`
//! violation. When real scenario traces exist they can replace it.

use partsim::tui::app::{App, Msg, update};
use partsim::tui::state::Status;
use partsim::tui::view::{VIOLATION, layout, proc_colour, render};
use partsim::tui::{open_bytes, write_synthetic_trace};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::Color;

fn app() -> App {
    let mut bytes = Vec::new();
    write_synthetic_trace(&mut bytes, 3000).unwrap();
    App::new(open_bytes("synthetic.jsonl", bytes).unwrap())
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
    term.backend().buffer().clone()
}

/// The screen as plain text, one line per row, trailing blanks trimmed.
fn screen(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snap(name: &str, buf: &Buffer) {
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, screen(buf));
    });
}

/// The first cell where `text` starts on row `y` (or anywhere, if `y` is None).
fn find(buf: &Buffer, text: &str, y: Option<u16>) -> Option<(u16, u16)> {
    let rows: Vec<u16> = match y {
        Some(y) => vec![y],
        None => (0..buf.area.height).collect(),
    };
    for y in rows {
        let symbols: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        let n = text.chars().count();
        for x in 0..symbols.len().saturating_sub(n - 1) {
            if symbols[x..x + n].concat() == text {
                return Some((x as u16, y));
            }
        }
    }
    None
}

fn first_event(app: &App, pred: impl Fn(&App, usize) -> bool) -> usize {
    (0..app.replay().len())
        .find(|&i| pred(app, i))
        .expect("the fixture has this moment")
}

fn kind(app: &App, i: usize) -> &str {
    &app.replay().kinds()[app.replay().event(i).kind as usize]
}

/// Partition 0's tile: its first cell is the grid pane's first inner cell.
fn assert_tile_in_primary_colour(app: &App, buf: &Buffer) {
    let areas = layout(buf.area, app).unwrap();
    let primary = app.state().partitions[0].primary.expect("p0 has a primary");
    let colour = proc_colour(&app.replay().procs()[primary as usize]);
    let cell = &buf[(areas.grid.x, areas.grid.y + 1)];
    assert_eq!(cell.bg, colour, "tile p0 takes its primary's colour");
    // And an unassigned-looking tile would not: the colour is a node's.
    assert_ne!(colour, Color::Reset);
}

#[test]
fn at_the_start() {
    let a = app();
    let small = draw(&a, 80, 24);
    snap("replay_start_80x24", &small);
    // Nothing placed yet: p0's tile is the unassigned grey.
    let areas = layout(small.area, &a).unwrap();
    assert_eq!(
        small[(areas.grid.x, areas.grid.y + 1)].bg,
        Color::Indexed(236)
    );
    snap("replay_start_160x48", &draw(&a, 160, 48));
}

#[test]
fn during_a_partition() {
    let mut a = app();
    let begin = first_event(&a, |a, i| kind(a, i) == "fault");
    a.goto(begin + 40);
    assert!(!a.state().faults.is_empty(), "the partition is active");
    let small = draw(&a, 80, 24);
    snap("replay_partition_80x24", &small);
    assert_tile_in_primary_colour(&a, &small);
    // The fault window is drawn in the timeline in the partition colour.
    let (x, y) = find(&small, "faults", Some(2)).unwrap();
    let fault_cells = (x + 7..80)
        .filter(|&x| small[(x, y)].symbol() == "━" && small[(x, y)].fg == Color::Yellow)
        .count();
    assert!(fault_cells > 5);
    let big = draw(&a, 160, 48);
    snap("replay_partition_160x48", &big);
    // The wide nodes table shows which side of the partition each process is on.
    let row = find(&big, "m1 ", None).map(|(_, y)| y).unwrap();
    let header = find(&big, "net", None).unwrap();
    assert_eq!(big[(header.0, row)].symbol(), "A");
}

#[test]
fn at_a_leader_change() {
    let mut a = app();
    let second_leader = first_event(&a, |a, i| {
        kind(a, i) == "role"
            && a.replay()
                .full(i)
                .is_ok_and(|e| e.str("role") == "leader" && e.u64("term") == Some(2))
    });
    a.goto(second_leader);
    let small = draw(&a, 80, 24);
    snap("replay_leader_change_80x24", &small);
    // The nodes title names the new leader in its colour.
    let (x, y) = find(&small, "leader m2", Some(5)).unwrap();
    let m2 = a.replay().proc_id("m2").unwrap() as usize;
    assert_eq!(small[(x + 7, y)].fg, proc_colour(&a.replay().procs()[m2]));
    snap("replay_leader_change_160x48", &draw(&a, 160, 48));
}

#[test]
fn after_a_crash() {
    let mut a = app();
    let crash = first_event(&a, |a, i| kind(a, i) == "crash");
    a.goto(crash + 60);
    let n3 = a.replay().proc_id("n3").unwrap() as usize;
    assert_eq!(a.state().procs[n3].status, Status::Down);
    let small = draw(&a, 80, 24);
    snap("replay_crash_80x24", &small);
    let (_, y) = find(&small, "n3 ", None).unwrap();
    let (x, _) = find(&small, "down", Some(y)).unwrap();
    assert_eq!(small[(x, y)].fg, Color::LightRed);
}

#[test]
fn at_a_violation() {
    let mut a = app();
    update(&mut a, Msg::char('v'));
    let small = draw(&a, 80, 24);
    snap("replay_violation_80x24", &small);
    // The timeline's marker and the log line are red.
    let (x, y) = find(&small, "▲", Some(4)).unwrap();
    assert_eq!(small[(x, y)].fg, VIOLATION);
    let (x, y) = find(&small, "violation single_primar", None).unwrap();
    assert_eq!(small[(x, y)].fg, VIOLATION);
    assert_tile_in_primary_colour(&a, &small);
    let big = draw(&a, 160, 48);
    snap("replay_violation_160x48", &big);
    // The causal chain is in the detail pane.
    assert!(find(&big, "caused by:", None).is_some());
    update(&mut a, Msg::char('m'));
    snap("replay_violation_glyphs_160x48", &draw(&a, 160, 48));
}

#[test]
fn lanes_in_the_small_layout() {
    let mut a = app();
    let begin = first_event(&a, |a, i| kind(a, i) == "fault");
    a.goto(begin + 40);
    update(&mut a, Msg::key(KeyCode::Tab));
    let small = draw(&a, 80, 24);
    snap("replay_lanes_80x24", &small);
    // A message arrow is drawn in its sender's colour.
    let (x, y) = find(&small, "◀", None)
        .or_else(|| find(&small, "▶", None))
        .expect("a delivery arrow");
    assert_ne!(small[(x, y)].fg, Color::Reset);
    update(&mut a, Msg::char('m'));
    snap("replay_glyphs_80x24", &draw(&a, 80, 24));
}

#[test]
fn with_the_help_overlay() {
    let mut a = app();
    update(&mut a, Msg::char('?'));
    snap("replay_help_80x24", &draw(&a, 80, 24));
}

#[test]
fn with_a_filter() {
    let mut a = app();
    // Only role events: f, tab to the kinds, select `role`, o(nly), enter.
    update(&mut a, Msg::char('f'));
    update(&mut a, Msg::key(KeyCode::Tab));
    let kinds = a.filter_items(1);
    let row = kinds
        .iter()
        .position(|&k| a.replay().kinds()[k] == "role")
        .unwrap();
    for _ in 0..row {
        update(&mut a, Msg::key(KeyCode::Down));
    }
    snap("replay_filter_window_80x24", &draw(&a, 80, 24));
    update(&mut a, Msg::char('o'));
    update(&mut a, Msg::key(KeyCode::Enter));
    update(&mut a, Msg::key(KeyCode::Right));
    assert_eq!(kind(&a, a.cursor()), "role");
    let small = draw(&a, 80, 24);
    snap("replay_filtered_80x24", &small);
    assert!(find(&small, "filtered", Some(0)).is_some());
}

#[test]
fn in_small_and_odd_sizes() {
    let a = app();
    let tiny = draw(&a, 30, 8);
    assert!(screen(&tiny).contains("terminal too small"));
    // Every size from the minimum up renders without panicking.
    for (w, h) in [
        (40, 12),
        (41, 13),
        (79, 23),
        (100, 30),
        (119, 31),
        (120, 32),
        (200, 60),
    ] {
        let buf = draw(&a, w, h);
        assert!(find(&buf, "partsim replay", Some(0)).is_some(), "{w}x{h}");
        assert!(
            find(&buf, "quit", Some(h - 1)).is_some(),
            "{w}x{h}: the hint bar keeps q"
        );
        assert!(layout(Rect::new(0, 0, w, h), &a).is_some());
    }
}

#[test]
fn readme_capture_100x30() {
    let mut a = app();
    let begin = first_event(&a, |a, i| kind(a, i) == "fault");
    a.goto(begin + 40);
    snap("replay_readme_100x30", &draw(&a, 100, 30));
}
