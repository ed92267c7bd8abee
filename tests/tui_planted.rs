//! The replay UI at a real violation: `raft-voter-crash` run with the
//! planted `vote-before-fsync` bug, whose trace holds an `election_safety`
//! violation. The screen is pinned at 80×24 and 160×48, and the violation's
//! marker and log line are asserted red.

#![cfg(feature = "planted-bugs")]

mod common;

use partsim::stack::planted::Planted;
use partsim::tui::app::{App, Msg, update};
use partsim::tui::open_bytes;
use partsim::tui::view::{VIOLATION, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| render(app, f)).expect("draws");
    term.backend().buffer().clone()
}

fn screen(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn find(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
    let n = text.chars().count();
    for y in 0..buf.area.height {
        let symbols: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        for x in 0..symbols.len().saturating_sub(n - 1) {
            if symbols[x..x + n].concat() == text {
                return Some((x as u16, y));
            }
        }
    }
    None
}

#[test]
fn a_planted_bug_violation_is_shown_in_red() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/raft-voter-crash.toml");
    let s = partsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let bug = Planted::parse(&["vote-before-fsync"]).expect("a planted build");
    let (report, bytes) = common::run_bytes(&s, Some(0), bug);
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.check == "election_safety"),
        "seed 0 catches the bug"
    );
    let mut app = App::new(open_bytes("raft-voter-crash.jsonl", bytes).expect("the trace opens"));
    update(&mut app, Msg::char('v'));
    let small = draw(&app, 80, 24);
    let big = draw(&app, 160, 48);
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("replay_planted_violation_80x24", screen(&small));
        insta::assert_snapshot!("replay_planted_violation_160x48", screen(&big));
    });
    for buf in [&small, &big] {
        let (x, y) = find(buf, "violation election_safety")
            .or_else(|| find(buf, "violation election_saf"))
            .expect("the violation is in the log");
        assert_eq!(buf[(x, y)].fg, VIOLATION, "the violation's log line is red");
    }
}
