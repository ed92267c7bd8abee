//! The replay UI's navigation keys beyond stepping: `:` (jump to a time or
//! an event's seq, bad input a warning), `n`/`N` after a `/` search
//! (forwards and backwards), the log header's count of events matching the
//! filter, the scrolling help, and `o` on a `linearizable` violation (to
//! the operations that cannot be ordered, drawn on red in the ops lanes).

use partsim::check::lincheck::{Call, HistoryBuilder, Options, Outcome, check_history};
use partsim::check::linearizable::{cell_key, value};
use partsim::tui::app::{App, JumpTarget, LanesMode, Msg, Overlay, parse_jump, update};
use partsim::tui::view::{VIOLATION, render};
use partsim::tui::{open_bytes, write_synthetic_trace};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;

fn synthetic() -> App {
    let mut bytes = Vec::new();
    write_synthetic_trace(&mut bytes, 3000).unwrap();
    App::new(open_bytes("synthetic.jsonl", bytes).unwrap())
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, Msg::char(c));
    }
}

fn enter(app: &mut App) {
    update(app, Msg::key(KeyCode::Enter));
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
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

fn status(app: &App) -> String {
    app.status().map(|(s, _)| s.to_string()).unwrap_or_default()
}

#[test]
fn jump_parses_times_and_seqs_and_refuses_the_rest() {
    assert_eq!(parse_jump("12.5s"), Ok(JumpTarget::Time(12_500_000)));
    assert_eq!(parse_jump(" 250ms "), Ok(JumpTarget::Time(250_000)));
    assert_eq!(parse_jump("12.5"), Ok(JumpTarget::Time(12_500_000)));
    assert_eq!(parse_jump("0"), Ok(JumpTarget::Time(0)));
    assert_eq!(parse_jump("#2548"), Ok(JumpTarget::Seq(2548)));
    for bad in [
        "",
        "#",
        "#x",
        "abc",
        "-1s",
        "12parsecs",
        "1.2.3",
        "#-4",
        "9999999999999999999s",
    ] {
        let err = parse_jump(bad).expect_err(bad);
        assert!(err.contains("12.5s"), "{bad}: {err}");
    }
}

#[test]
fn colon_jumps_to_a_time_or_a_seq_and_bad_input_only_warns() {
    let mut a = synthetic();
    update(&mut a, Msg::char(':'));
    assert_eq!(a.overlay(), &Overlay::Jump(String::new()));
    typed(&mut a, "1.5s");
    assert!(
        screen(&draw(&a, 100, 30)).contains(":1.5s█"),
        "the prompt shows"
    );
    enter(&mut a);
    let i = a.cursor();
    let t = a.replay().event(i).t;
    assert!(t >= 1_500_000 && (i == 0 || a.replay().event(i - 1).t < 1_500_000));
    // An event's seq.
    let seq = a.replay().event(1234).seq;
    update(&mut a, Msg::char(':'));
    typed(&mut a, &format!("#{seq}"));
    enter(&mut a);
    assert_eq!(a.cursor(), 1234);
    assert_eq!(a.state().applied, 1235, "the state follows");
    // Bad input: a warning on the status line, the cursor stays.
    for bad in ["nonsense", "#99999999", "99999s", "-3s", ""] {
        update(&mut a, Msg::char(':'));
        typed(&mut a, bad);
        update(&mut a, Msg::key(KeyCode::Backspace));
        typed(
            &mut a,
            &bad.chars().last().map(String::from).unwrap_or_default(),
        );
        enter(&mut a);
        assert_eq!(a.cursor(), 1234, "{bad}");
        let (msg, warn) = a.status().expect("a message");
        assert!(warn, "{bad}: {msg}");
        assert!(screen(&draw(&a, 100, 30)).contains(&msg[..20.min(msg.len())]));
    }
    // Esc cancels.
    update(&mut a, Msg::char(':'));
    typed(&mut a, "0s");
    update(&mut a, Msg::key(KeyCode::Esc));
    assert_eq!(a.overlay(), &Overlay::None);
    assert_eq!(a.cursor(), 1234);
}

#[test]
fn n_and_shift_n_repeat_a_search_both_ways_until_esc() {
    let mut a = synthetic();
    let matches: Vec<usize> = (0..a.replay().len())
        .filter(|&i| {
            let line = a.replay().line(i).unwrap();
            String::from_utf8_lossy(&line).contains("\"role\"")
        })
        .collect();
    assert!(matches.len() >= 4);
    update(&mut a, Msg::char('/'));
    typed(&mut a, "\"role\"");
    enter(&mut a);
    assert_eq!(a.cursor(), matches[0]);
    assert_eq!(a.active_search(), Some("\"role\""));
    assert!(
        screen(&draw(&a, 100, 30)).contains("/\"role\""),
        "the title shows the search"
    );
    update(&mut a, Msg::char('n'));
    update(&mut a, Msg::char('n'));
    assert_eq!(a.cursor(), matches[2]);
    update(&mut a, Msg::char('N'));
    assert_eq!(a.cursor(), matches[1]);
    update(&mut a, Msg::char('N'));
    assert_eq!(a.cursor(), matches[0]);
    // Backwards past the first match wraps to the last.
    update(&mut a, Msg::char('N'));
    assert_eq!(a.cursor(), *matches.last().unwrap());
    assert!(status(&a).contains("wrapped to the end"), "{}", status(&a));
    update(&mut a, Msg::char('n'));
    assert_eq!(a.cursor(), matches[0]);
    assert!(status(&a).contains("wrapped to the start"));
    // Esc: n/N find events of the selected kind again.
    update(&mut a, Msg::key(KeyCode::Esc));
    assert_eq!(a.active_search(), None);
    let kind = a.replay().event(a.cursor()).kind;
    update(&mut a, Msg::char('n'));
    assert_eq!(a.replay().event(a.cursor()).kind, kind);
    assert!(status(&a).starts_with("next "), "{}", status(&a));
    // A search that finds nothing does not hold n/N.
    update(&mut a, Msg::char('/'));
    typed(&mut a, "no such text anywhere");
    enter(&mut a);
    assert_eq!(a.active_search(), None);
}

#[test]
fn the_log_header_counts_the_events_that_match_the_filter() {
    let mut a = synthetic();
    let all = a.replay().len();
    assert!(screen(&draw(&a, 100, 30)).contains(&format!("{all} in all")));
    // Only `role` events.
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
    update(&mut a, Msg::char('o'));
    enter(&mut a);
    let roles = a.replay().kind_counts()[kinds[row]] as usize;
    assert_eq!(a.matching(), roles);
    let text = screen(&draw(&a, 100, 30));
    assert!(text.contains(&format!("{roles} of {all} match")), "{text}");
    // Reset: every event matches again.
    update(&mut a, Msg::char('f'));
    update(&mut a, Msg::char('r'));
    enter(&mut a);
    assert_eq!(a.matching(), all);
}

#[test]
fn the_help_scrolls_and_any_other_key_closes_it() {
    let mut a = synthetic();
    update(&mut a, Msg::char('?'));
    let first = screen(&draw(&a, 80, 24));
    assert!(
        first.contains("help") && first.contains("↓ more"),
        "{first}"
    );
    for _ in 0..200 {
        update(&mut a, Msg::key(KeyCode::PageDown));
    }
    let end = screen(&draw(&a, 80, 24));
    assert!(
        end.contains("cannot be ordered"),
        "the end of the legend: {end}"
    );
    assert!(!end.contains("↓ more"));
    update(&mut a, Msg::key(KeyCode::Up));
    assert!(matches!(a.overlay(), Overlay::Help(_)));
    update(&mut a, Msg::char('x'));
    assert_eq!(a.overlay(), &Overlay::None);
    // Tall enough, the whole help is on one screen.
    update(&mut a, Msg::char('?'));
    let tall = screen(&draw(&a, 100, 120));
    for glyph in ["▲", "⊘", "✓", "✗", "╳", "⇠", "eN", "wN", "+N"] {
        assert!(tall.contains(glyph), "{glyph} in the help");
    }
}

/// A trace with three client operations on cell 1 — write 1, a read that
/// returns 2 (never written), a write 3 that times out — and the
/// `linearizable` violation the checker reports on them.
fn not_linearizable_trace() -> Vec<u8> {
    let ops: [(u64, &str, u64, &str, &str); 6] = [
        (100, "c1", 0, "invoke", r#""f":"write","key":1,"value":1"#),
        (150, "c2", 1, "invoke", r#""f":"read","key":1"#),
        (200, "c1", 0, "ok", r#""f":"write","key":1,"value":1"#),
        (300, "c2", 1, "ok", r#""f":"read","key":1,"value":2"#),
        (500, "c1", 0, "invoke", r#""f":"write","key":1,"value":3"#),
        (600, "c1", 0, "info", r#""f":"write","key":1,"value":3"#),
    ];
    let mut h = HistoryBuilder::new();
    h.invoke(0, Some(cell_key(1)), Call::Write { value: value(1) }, 100)
        .unwrap();
    h.invoke(1, Some(cell_key(1)), Call::Read, 150).unwrap();
    h.complete(0, Outcome::Ok, None, 200).unwrap();
    h.complete(1, Outcome::Ok, Some(value(2)), 300).unwrap();
    h.invoke(0, Some(cell_key(1)), Call::Write { value: value(3) }, 500)
        .unwrap();
    h.complete(0, Outcome::Info, None, 600).unwrap();
    let report = check_history(&h.finish(), &Options::default());
    let detail = report.render();
    assert!(detail.contains("none of these can come next"), "{detail}");
    let mut s = String::from(
        "{\"format\":\"partsim-trace\",\"version\":1,\"scenario\":\"lin\",\"seed\":1,\"processes\":[\"m1\",\"n1\",\"c1\",\"c2\"],\"config\":{}}\n",
    );
    for (seq, (t, p, process, kind, rest)) in ops.iter().enumerate() {
        s.push_str(&format!(
            "{{\"t\":{t},\"p\":\"{p}\",\"seq\":{seq},\"ev\":\"op\",\"process\":{process},\"type\":\"{kind}\",{rest},\"req\":1}}\n"
        ));
    }
    let v = serde_json::json!({"t": 700, "p": "sim", "seq": 6, "ev": "violation", "check": "linearizable", "detail": detail});
    s.push_str(&format!("{v}\n"));
    s.into_bytes()
}

#[test]
fn o_goes_to_the_operations_a_linearizable_violation_cannot_order() {
    let mut a = App::new(open_bytes("lin.jsonl", not_linearizable_trace()).unwrap());
    assert_eq!(a.replay().ops().spans().len(), 3);
    update(&mut a, Msg::char('v'));
    assert!(status(&a).contains("o: the operations"), "{}", status(&a));
    update(&mut a, Msg::char('o'));
    assert_eq!(a.lanes_mode(), LanesMode::Ops);
    let culprits = a.culprits().to_vec();
    assert!(!culprits.is_empty());
    // The read that returned a value nobody wrote is one of them.
    assert!(culprits.contains(&1), "{culprits:?}");
    assert!(culprits.contains(&a.cursor()));
    assert!(status(&a).contains("cannot follow the linearizable prefix of c1"));
    // In the ops lanes, its invocation is drawn on red.
    let buf = draw(&a, 160, 48);
    let text = screen(&buf);
    assert!(text.contains("client operations"), "{text}");
    let red = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].bg == VIOLATION && buf[(x, y)].symbol() == "r")
        .count();
    assert_eq!(red, 1, "the read's invocation on red\n{text}");
    // `o` again cycles through them (one or more), staying on culprits.
    update(&mut a, Msg::char('o'));
    assert!(culprits.contains(&a.cursor()));
}

#[test]
fn o_without_a_linearizable_violation_says_so() {
    let mut a = synthetic();
    let before = a.cursor();
    update(&mut a, Msg::char('o'));
    assert_eq!(a.cursor(), before);
    assert!(
        status(&a).contains("no linearizable violation"),
        "{}",
        status(&a)
    );
}
