//! Scenario text -> validation -> a bounded run -> the trace read back and
//! checked offline. Any panic is a bug: bad text must be an error, and a
//! scenario that validates must run.
#![no_main]

use std::cell::RefCell;
use std::io::{BufReader, Write};
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use partsim::run::{RunOptions, run};
use partsim::sim::SimDuration;

/// Virtual time each run gets: validation bounds the cost per virtual
/// second, this bounds the seconds.
const RUN_FOR: SimDuration = SimDuration::from_millis(500);

#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut scenario) = partsim::scenario::parse(text, "fuzz.toml") else {
        return;
    };
    scenario.duration = scenario.duration.min(RUN_FOR);
    let buf = Buffer::default();
    let opts = RunOptions {
        trace_out: Some(Box::new(buf.clone())),
        ..RunOptions::default()
    };
    if run(&scenario, opts).is_err() {
        return;
    }
    let bytes = buf.0.borrow().clone();
    partsim::check::offline::check_reader(BufReader::new(&bytes[..]), "fuzz.jsonl")
        .expect("a trace partsim wrote reads back");
});
