//! Replay on a trace of zero events (a header only; a header and a footer):
//! every key, every mouse action and playback work, and every frame draws.
//! `b` on such a trace used to panic in the index (exit 3).

use std::panic::{AssertUnwindSafe, catch_unwind};

use partsim::tui::app::{App, Msg, update};
use partsim::tui::view::render;
use partsim::tui::{open_bytes, write_synthetic_trace};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// The header and footer of a real trace, with no event between them.
fn header_and_footer() -> (String, String) {
    let mut bytes = Vec::new();
    write_synthetic_trace(&mut bytes, 10).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let footer = lines
        .iter()
        .rev()
        .find(|l| l.contains("\"footer\":true"))
        .expect("a footer");
    (lines[0].to_string(), footer.to_string())
}

fn draw(app: &App, w: u16, h: u16) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
}

/// Every key a user can press: printable characters and the named keys,
/// plain, with shift and with control.
fn every_key() -> Vec<KeyEvent> {
    let mut codes: Vec<KeyCode> = (' '..='~').map(KeyCode::Char).collect();
    codes.extend([
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Enter,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::Insert,
        KeyCode::F(1),
    ]);
    let mut keys = Vec::new();
    for m in [
        KeyModifiers::NONE,
        KeyModifiers::SHIFT,
        KeyModifiers::CONTROL,
    ] {
        for &c in &codes {
            keys.push(KeyEvent::new(c, m));
        }
    }
    keys
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

/// Presses `key` in a fresh app (and again after Esc, in case it opened an
/// overlay), drawing after each, plus playback and mouse input.
fn exercise(name: &str, bytes: &[u8]) {
    for key in every_key() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut app = App::new(open_bytes(name, bytes.to_vec()).expect("opens"));
            update(&mut app, Msg::Resize(100, 30));
            for _ in 0..2 {
                update(&mut app, Msg::Key(key));
                draw(&app, 100, 30);
                draw(&app, 40, 10);
                update(
                    &mut app,
                    Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
                );
            }
            update(&mut app, Msg::char(' '));
            update(&mut app, Msg::Tick(partsim::sim::SimDuration::from_secs(1)));
            for (x, y) in [(0, 0), (10, 2), (50, 10), (99, 29)] {
                update(
                    &mut app,
                    mouse(MouseEventKind::Down(MouseButton::Left), x, y),
                );
                update(&mut app, mouse(MouseEventKind::ScrollDown, x, y));
                update(&mut app, mouse(MouseEventKind::ScrollUp, x, y));
            }
            draw(&app, 160, 48);
        }));
        assert!(outcome.is_ok(), "{name}: {key:?} panicked");
    }
}

#[test]
fn every_key_works_on_a_header_only_trace() {
    let (header, _) = header_and_footer();
    exercise("header-only.jsonl", format!("{header}\n").as_bytes());
}

#[test]
fn every_key_works_on_a_header_and_footer_trace() {
    let (header, footer) = header_and_footer();
    exercise(
        "header-footer.jsonl",
        format!("{header}\n{footer}\n").as_bytes(),
    );
}

#[test]
fn every_key_in_sequence_works_on_a_header_only_trace() {
    // One app through every key in turn: overlays opened by one key take
    // the next ones, as at a real keyboard.
    let (header, _) = header_and_footer();
    let mut app = App::new(open_bytes("h.jsonl", format!("{header}\n").into_bytes()).unwrap());
    for key in every_key() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            update(&mut app, Msg::Key(key));
            draw(&app, 100, 30);
        }));
        assert!(outcome.is_ok(), "{key:?} panicked");
    }
}

/// The keys with prompts and modes — `:` jumps (good and bad input), `/`
/// then `n`/`N` (search both ways), `o` (a linearizable violation's
/// operations), `m` through every lanes mode, the scrolling help — on both
/// empty traces: nothing panics, the jump says why it cannot move.
#[test]
fn prompts_and_modes_work_on_empty_traces() {
    let (header, footer) = header_and_footer();
    for bytes in [format!("{header}\n"), format!("{header}\n{footer}\n")] {
        let mut app = App::new(open_bytes("empty.jsonl", bytes.into_bytes()).unwrap());
        let press = |app: &mut App, code: KeyCode| {
            update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            draw(app, 100, 30);
            draw(app, 40, 12);
        };
        let typed = |app: &mut App, text: &str| {
            for c in text.chars() {
                press(app, KeyCode::Char(c));
            }
        };
        for jump in ["#5", "1s", "12.5", "x", "", "-1s", "#"] {
            typed(&mut app, ":");
            typed(&mut app, jump);
            press(&mut app, KeyCode::Enter);
            let (msg, warn) = app.status().expect("the jump explains itself");
            assert!(warn, "{jump}: {msg}");
            assert_eq!(app.cursor(), 0);
        }
        typed(&mut app, "/start");
        press(&mut app, KeyCode::Enter);
        typed(&mut app, "nNnN");
        press(&mut app, KeyCode::Esc);
        typed(&mut app, "oomomom");
        typed(&mut app, "?");
        for code in [
            KeyCode::PageDown,
            KeyCode::Down,
            KeyCode::Up,
            KeyCode::PageUp,
        ] {
            press(&mut app, code);
        }
        typed(&mut app, "x");
        assert_eq!(app.matching(), 0);
        assert!(!app.should_quit());
    }
}
