//! Trace bytes -> the reader -> the offline checkers -> the Chrome export ->
//! the replay index and UI. Any panic is a bug: a damaged trace must be an
//! error naming its line, or read as far as it is whole.
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use partsim::stack::events::StackEvent;
use partsim::tui::app::{App, Msg, update};

fuzz_target!(|data: &[u8]| {
    let _ = partsim::trace::reader::read_from::<StackEvent, _>(BufReader::new(data), "fuzz.jsonl");
    let _ = partsim::check::offline::check_reader(BufReader::new(data), "fuzz.jsonl");
    let mut out = std::io::sink();
    let _ = partsim::trace::chrome::write_chrome(data, "fuzz.jsonl", &mut out, "out.json");
    let Ok(replay) = partsim::tui::open_bytes("fuzz.jsonl", data.to_vec()) else {
        return;
    };
    let n = replay.len();
    if n > 0 {
        let _ = replay.state_at(n - 1);
    }
    let mut app = App::new(replay);
    for c in ['G', 'b', 'c', 'v', 'V', 'n', 'N', 'g', '\'', 'C'] {
        update(&mut app, Msg::char(c));
    }
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 32)).unwrap();
    term.draw(|f| partsim::tui::render(&app, f)).unwrap();
});
