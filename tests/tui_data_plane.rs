//! The replay UI on real data-plane runs: client operations as lanes
//! (invocation to completion, by outcome), each partition's tile with the
//! writes it acknowledged and whether it is available, a `linearizable`
//! violation leading to the operations it cannot order, and a crash in the
//! causal chain of what the restarted process did next.

mod common;

use partsim::stack::planted::{Bug, Planted};
use partsim::tui::app::{App, LanesMode, Msg, update};
use partsim::tui::ops::OpOutcome;
use partsim::tui::view::{VIOLATION, render};
use partsim::tui::{Replay, open_bytes};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn run(name: &str) -> Replay {
    run_planted(name, None, Planted::NONE)
}

fn run_planted(name: &str, seed: Option<u64>, planted: Planted) -> Replay {
    let path = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let s = common::scenario(&std::fs::read_to_string(path).unwrap());
    let (_, bytes) = common::run_bytes(&s, seed, planted);
    open_bytes(name, bytes).unwrap()
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

fn cells(buf: &Buffer) -> impl Iterator<Item = &ratatui::buffer::Cell> {
    (0..buf.area.height).flat_map(move |y| (0..buf.area.width).map(move |x| &buf[(x, y)]))
}

/// Counts `op` events by their `type`, straight from the lines.
fn op_types(r: &Replay) -> [usize; 4] {
    let mut n = [0; 4];
    let op = r.kind_id("op").unwrap();
    for i in 0..r.len() {
        if r.event(i).kind == op {
            let e = r.full(i).unwrap();
            let k = ["invoke", "ok", "fail", "info"]
                .iter()
                .position(|t| *t == e.str("type"))
                .unwrap();
            n[k] += 1;
        }
    }
    n
}

#[test]
fn client_operations_are_lanes_from_invocation_to_completion() {
    let r = run("primary-crash-under-load");
    let [invokes, ok, fail, info] = op_types(&r);
    let spans = r.ops().spans();
    assert_eq!(spans.len(), invokes);
    let count = |o| spans.iter().filter(|s| s.outcome == o).count();
    assert_eq!(count(OpOutcome::Ok), ok);
    assert_eq!(count(OpOutcome::Fail), fail);
    assert_eq!(count(OpOutcome::Info), info);
    assert!(ok > 1000 && fail > 0 && info > 0, "{ok} {fail} {info}");
    for s in spans {
        if let Some(end) = s.end {
            assert!(end > s.invoke);
            assert_eq!(r.event(end).p, s.client, "completed by its own client");
        }
    }
    // The cursor in the middle of the load, lanes on client operations.
    let mid = spans[spans.len() / 2].invoke;
    let mut a = App::new(r);
    a.goto(mid);
    for _ in 0..2 {
        update(&mut a, Msg::char('m'));
    }
    assert_eq!(a.lanes_mode(), LanesMode::Ops);
    let buf = draw(&a, 160, 48);
    let text = screen(&buf);
    assert!(text.contains("client operations"), "{text}");
    for c in ["c1", "c2", "c3", "c4"] {
        assert!(text.contains(c), "{c} has a lane");
    }
    let green_ok = cells(&buf)
        .filter(|c| c.symbol() == "✓" && c.fg == Color::Green)
        .count();
    // Lane segments in an outcome colour (pane borders are grey).
    let in_flight = cells(&buf)
        .filter(|c| {
            c.symbol() == "│" && [Color::Green, Color::LightRed, Color::Yellow].contains(&c.fg)
        })
        .count();
    assert!(green_ok > 0, "completions drawn ok in green\n{text}");
    assert!(in_flight > 0, "operations in flight drawn as lanes\n{text}");
    // The small layout shows the lanes on Tab.
    update(&mut a, Msg::key(ratatui::crossterm::event::KeyCode::Tab));
    assert!(screen(&draw(&a, 80, 24)).contains("client operations"));
}

#[test]
fn tiles_show_acknowledged_writes() {
    let r = run("primary-crash-under-load");
    let served = r.kind_id("served").unwrap();
    let writes = (0..r.len())
        .filter(|&i| r.event(i).kind == served && r.full(i).unwrap().str("f") != "read")
        .count() as u64;
    let mut a = App::new(r);
    a.goto(a.replay().len() - 1);
    let total: u64 = a.state().partitions.iter().map(|p| p.writes).sum();
    assert_eq!(total, writes);
    let text = screen(&draw(&a, 160, 48));
    let w0 = a.state().partitions[0].writes;
    assert!(
        text.contains(&format!("w{w0}")),
        "p0's tile shows w{w0}\n{text}"
    );
}

#[test]
fn unavailable_partitions_are_marked_and_a_linearizable_violation_leads_to_its_operations() {
    let r = run("all-replicas-lost");
    let avail = r.kind_id("availability").unwrap();
    let down = (0..r.len())
        .find(|&i| r.event(i).kind == avail && !r.full(i).unwrap().flag("available"))
        .expect("the scenario loses every copy of a partition");
    let part = r.full(down).unwrap().partition().unwrap() as usize;
    let mut a = App::new(r);
    a.goto(down);
    assert!(a.state().partitions[part].unavailable);
    let text = screen(&draw(&a, 160, 48));
    assert!(text.contains('⊘'), "an unavailable tile is marked\n{text}");
    // Available again later: the mark goes.
    let back = (down..a.replay().len()).find(|&i| {
        a.replay().event(i).kind == avail && a.replay().full(i).unwrap().flag("available")
    });
    if let Some(back) = back {
        a.goto(back);
        assert!(!a.state().partitions[part].unavailable);
    }
    // The violation, then the operations it cannot order: a read served
    // without confirming the epoch (planted; `tests/data_planted.rs`
    // finds it on chaos, first at seed 3). All-replicas-lost's history is
    // linearizable: its lost cells fail `data-lost`, never read nil. Only
    // a build with the planted bugs has that violation to show.
    if !cfg!(feature = "planted-bugs") {
        return;
    }
    let mut a = App::new(run_planted(
        "chaos",
        Some(3),
        Planted::NONE.with(Bug::ReadWithoutConfirm),
    ));
    update(&mut a, Msg::char('v'));
    let v = a.cursor();
    assert_eq!(a.replay().full(v).unwrap().str("check"), "linearizable");
    update(&mut a, Msg::char('o'));
    let culprits = a.culprits().to_vec();
    assert!(!culprits.is_empty());
    let detail = a.replay().full(v).unwrap().str("detail").to_string();
    for &i in &culprits {
        let e = a.replay().full(i).unwrap();
        assert_eq!(e.ev, "op");
        assert_eq!(e.str("type"), "invoke");
        // The detail names it: `pP … t INVOKE..`.
        let named = format!("p{} ", e.u64("process").unwrap());
        let at = format!(", t {}..", e.t);
        assert!(
            detail
                .lines()
                .any(|l| l.trim().starts_with(&named) && l.contains(&at)),
            "{named}{at} in\n{detail}"
        );
    }
    assert_eq!(a.cursor(), culprits[0]);
    let buf = draw(&a, 160, 48);
    let red: Vec<&str> = cells(&buf)
        .filter(|c| c.bg == VIOLATION)
        .map(|c| c.symbol())
        .collect();
    assert!(
        red.iter().any(|s| ["w", "r", "c"].contains(s)),
        "the invocation is drawn on red: {red:?}\n{}",
        screen(&buf)
    );
}

#[test]
fn a_restart_follows_its_crash_in_the_causal_chain() {
    for name in ["primary-crash-under-load", "all-replicas-lost"] {
        let r = run(name);
        let restart = r.kind_id("restart").unwrap();
        let restarts: Vec<usize> = (0..r.len())
            .filter(|&i| r.event(i).kind == restart)
            .collect();
        assert!(!restarts.is_empty(), "{name}");
        for &i in &restarts {
            let p = r.event(i).p;
            let c = r.cause_of(i).expect("a restart has a cause");
            assert!(r.cause_derived(i), "not written in the trace: derived");
            let kind = &r.kinds()[r.event(c).kind as usize];
            assert!(kind == "crash" || kind == "disk_loss", "{name}: {kind}");
            assert_eq!(r.event(c).p, p);
            // Walking back from what the restarted process did first reaches the crash.
            let first = (i + 1..r.len())
                .find(|&k| r.event(k).p == p && r.cause_of(k) == Some(i))
                .expect("the restarted process acts");
            let mut chain = vec![first];
            while let Some(c) = r.cause_of(*chain.last().unwrap()) {
                chain.push(c);
            }
            let kinds: Vec<&str> = chain
                .iter()
                .map(|&k| r.kinds()[r.event(k).kind as usize].as_str())
                .collect();
            assert!(
                kinds.contains(&"restart") && kinds.contains(&"crash"),
                "{kinds:?}"
            );
        }
        // The detail pane shows the derived link as ⇠.
        let first_after = restarts[0] + 1;
        let mut a = App::new(r);
        let p = a.replay().event(restarts[0]).p;
        let k = (first_after..a.replay().len())
            .find(|&k| a.replay().event(k).p == p)
            .unwrap();
        a.goto(k);
        let text = screen(&draw(&a, 160, 48));
        assert!(text.contains("⇠ #"), "{name}\n{text}");
        // `c` walks it.
        a.goto(restarts[0]);
        update(&mut a, Msg::char('c'));
        assert!(
            a.status().unwrap().0.contains("derived"),
            "{:?}",
            a.status()
        );
    }
}
