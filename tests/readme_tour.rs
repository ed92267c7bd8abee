//! The README's trace tour and its replay capture come from real runs, not
//! from a paste that drifts: this test runs the scenarios the README uses,
//! renders the tour lines (selected by rule from the `quickstart` trace)
//! and the replay screen (`raft-leader-crash` at 3.4 s, 100×30, ratatui's
//! `TestBackend`), and compares them with the README's blocks between
//! `<!-- tour:begin -->` / `<!-- tour:end -->` and
//! `<!-- replay-capture:begin -->` / `<!-- replay-capture:end -->`.
//!
//! On drift it fails and says how to regenerate:
//! `UPDATE_README=1 cargo test --release --locked --test readme_tour`.

mod common;

use partsim::stack::planted::Planted;
use partsim::tui::app::App;
use partsim::tui::state::Status;
use partsim::tui::view::render;
use partsim::tui::{Replay, open_bytes};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const REGENERATE: &str = "UPDATE_README=1 cargo test --release --locked --test readme_tour";

/// The trace of a scenario under `scenarios/`, at its own seed.
fn trace(name: &str) -> Vec<u8> {
    let path = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let s = common::scenario(&std::fs::read_to_string(path).unwrap());
    common::run_bytes(&s, None, Planted::NONE).1
}

/// `"key":{…}` in place of the object that follows `"key":` in a JSON line.
fn elide(line: &str, key: &str) -> String {
    let pat = format!("\"{key}\":{{");
    let Some(start) = line.find(&pat) else {
        return line.to_string();
    };
    let open = start + pat.len() - 1;
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (k, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '{' if !in_str => depth += 1,
            '}' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    let end = open + k + 1;
                    return format!("{}{{…}}{}", &line[..open], &line[end..]);
                }
            }
            _ => {}
        }
    }
    line.to_string()
}

/// The tour: the header, the first leader's election as a causal chain
/// (the vote that won it: send → deliver → role), the leader's first
/// commit, the first fault and the crash it fires, the commit of the
/// `MarkDead` that follows, and the footer.
fn tour() -> String {
    let bytes = trace("quickstart");
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let events: Vec<Value> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line_of = |i: usize| lines[i + 1];
    let seq_index = |seq: u64| events.iter().position(|e| e["seq"] == seq).unwrap();
    let leader = events
        .iter()
        .position(|e| e["ev"] == "role" && e["role"] == "leader")
        .expect("quickstart elects a leader");
    let deliver = seq_index(events[leader]["cause"].as_u64().unwrap());
    let send = seq_index(events[deliver]["cause"].as_u64().unwrap());
    let p = events[leader]["p"].clone();
    let commit = (leader..events.len())
        .find(|&i| events[i]["ev"] == "commit" && events[i]["p"] == p)
        .expect("the leader commits");
    let fault = events
        .iter()
        .position(|e| e["ev"] == "fault")
        .expect("quickstart has faults");
    let fired = fault + 1;
    let mark_dead = (fault..events.len())
        .find(|&i| {
            events[i]["ev"] == "commit"
                && events[i]["p"] == p
                && events[i]["entry"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("MarkDead"))
        })
        .expect("the crashed node is marked dead");
    let mut out = vec![elide(lines[0], "config")];
    for i in [send, deliver, leader, commit, fault, fired, mark_dead] {
        out.push(line_of(i).to_string());
    }
    out.push(elide(lines[lines.len() - 1], "summary"));
    format!("```\n{}\n```\n", out.join("\n"))
}

/// The replay screen 3.4 s into `raft-leader-crash`, at 100×30.
fn capture() -> String {
    let r: Replay = open_bytes("lc.jsonl", trace("raft-leader-crash")).unwrap();
    let at = r.index_at_or_after(3_400_000);
    let mut app = App::new(r);
    app.goto(at);
    // What the README's prose says about this moment: the first leader
    // (term 1) has crashed and another manager leads term 2.
    let st = app.state();
    let first = app.replay().leaders()[0].clone();
    assert_eq!(first.term, 1);
    let (now, term) = st.leader().expect("a leader at 3.4s");
    assert!(
        term == 2 && now != first.p && st.procs[first.p as usize].status == Status::Down,
        "the README's prose no longer holds at 3.4s: update it, then run {REGENERATE}"
    );
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    term.draw(|f| render(&app, f)).unwrap();
    let buf = term.backend().buffer();
    let mut out = String::from("```\n");
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

/// The byte range between `<!-- NAME:begin -->\n` and `<!-- NAME:end -->`.
fn block(readme: &str, name: &str) -> std::ops::Range<usize> {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let a = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README.md has no `{}` marker", begin.trim()))
        + begin.len();
    let b = a + readme[a..]
        .find(&end)
        .unwrap_or_else(|| panic!("README.md has no `{end}` marker"));
    a..b
}

#[test]
fn the_readme_tour_and_replay_capture_match_a_real_run() {
    let mut readme = std::fs::read_to_string(README).unwrap();
    let update = std::env::var_os("UPDATE_README").is_some();
    let mut drift = Vec::new();
    for (name, generated) in [("tour", tour()), ("replay-capture", capture())] {
        let range = block(&readme, name);
        if readme[range.clone()] != generated {
            if update {
                readme.replace_range(range, &generated);
            } else {
                drift.push(format!(
                    "README.md's `{name}` block differs from a real run.\n--- README\n{}--- run\n{generated}",
                    &readme[range]
                ));
            }
        }
    }
    if update {
        std::fs::write(README, &readme).unwrap();
    }
    assert!(
        drift.is_empty(),
        "{}\nRegenerate the blocks with: {REGENERATE}",
        drift.join("\n")
    );
}

#[test]
fn elide_replaces_one_object() {
    assert_eq!(
        elide(r#"{"a":1,"config":{"b":{"c":"}"}},"d":2}"#, "config"),
        r#"{"a":1,"config":{…},"d":2}"#
    );
    assert_eq!(elide(r#"{"a":1}"#, "config"), r#"{"a":1}"#);
}
