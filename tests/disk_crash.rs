//! A crash loses unsynced writes and keeps synced ones; a torn write is
//! detected by its checksum. Shown in the trace: the crash event counts the
//! lost writes, and the restarted process traces what its disk held.

use partsim::sim::{
    Cx, Event, Message, NetConfig, Observer, Process, ProcessId, SimDuration, SimTime, TimerKind,
    Violation, World,
};
use partsim::stack::events::StackEvent;
use partsim::trace::writer::format_event;

#[derive(Clone)]
struct Nothing;
impl Message for Nothing {
    fn name(&self) -> &'static str {
        "Nothing"
    }
}
#[derive(Clone, Copy)]
struct Write;
impl TimerKind for Write {
    fn name(&self) -> &'static str {
        "Write"
    }
}

/// Writes record k every 10ms, fsyncing only the even ones; on start it
/// traces (as a `beat` whose round is the count) how many records survived.
struct Writer {
    next: u64,
}

impl Process for Writer {
    type Msg = Nothing;
    type Timer = Write;
    type Event = StackEvent;
    fn on_start(&mut self, cx: &mut Cx<'_, Self>) {
        let mut whole = 0;
        let end = cx.disk().log_end("log");
        for i in 0..end {
            if let Ok(Some(_)) = cx.disk().entry("log", i) {
                whole += 1;
            }
        }
        self.next = end;
        cx.trace(StackEvent::Beat { round: whole });
        cx.set_timer(SimDuration::from_millis(10), Write);
    }
    fn on_message(&mut self, _: &mut Cx<'_, Self>, _: ProcessId, _: Nothing) {}
    fn on_timer(&mut self, cx: &mut Cx<'_, Self>, _: Write) {
        let k = self.next;
        self.next += 1;
        cx.disk().append("log", format!("record {k}").into_bytes());
        if k.is_multiple_of(2) {
            cx.disk().fsync();
        }
        cx.set_timer(SimDuration::from_millis(10), Write);
    }
}

#[derive(Default)]
struct Lines(Vec<String>);
impl Observer<StackEvent> for Lines {
    fn on_event(&mut self, ev: &Event<'_, StackEvent>, names: &[String], _: &mut Vec<Violation>) {
        let mut out = Vec::new();
        format_event(&mut out, ev, names);
        self.0.push(
            String::from_utf8(out)
                .expect("utf-8")
                .trim_end()
                .to_string(),
        );
    }
}

fn run(torn: bool, crash_at_ms: u64) -> (Vec<String>, World<Writer>) {
    let mut w: World<Writer> = World::new(
        1,
        vec!["n1".into()],
        NetConfig::default(),
        Box::new(|_, _| Writer { next: 0 }),
    );
    let lines = w.add_observer(Lines::default());
    w.set_torn_writes(torn);
    w.start(ProcessId(0));
    w.run_until(SimTime(crash_at_ms * 1000));
    w.crash(ProcessId(0));
    w.run_until(SimTime(crash_at_ms * 1000 + 50_000));
    w.restart(ProcessId(0));
    w.run_until(SimTime(crash_at_ms * 1000 + 50_001));
    let lines = std::mem::take(&mut w.observer_mut(lines).expect("observer").0);
    (lines, w)
}

#[test]
fn unsynced_writes_are_lost_and_synced_ones_kept() {
    // Records 0..=9 written by 105ms (timers at 10..100ms); record 9 (odd) unsynced.
    let (lines, _) = run(false, 105);
    let crash = lines
        .iter()
        .find(|l| l.contains("\"ev\":\"crash\""))
        .expect("a crash event");
    assert!(crash.contains("\"lost_writes\":1"), "{crash}");
    let after = lines
        .iter()
        .rev()
        .find(|l| l.contains("\"ev\":\"beat\""))
        .expect("restart report");
    assert!(
        after.contains("\"round\":9"),
        "records 0..=8 survive: {after}"
    );
}

#[test]
fn a_torn_write_is_detected_not_read() {
    let (lines, w) = run(true, 105);
    let after = lines
        .iter()
        .rev()
        .find(|l| l.contains("\"ev\":\"beat\""))
        .expect("restart report");
    assert!(
        after.contains("\"round\":9"),
        "the torn record is not counted: {after}"
    );
    let disk = w.disk(ProcessId(0)).expect("disk");
    assert_eq!(disk.log_end("log"), 10, "the torn record is there…");
    assert!(disk.entry("log", 9).is_err(), "…and fails its checksum");
}

#[test]
fn disk_loss_wipes_even_synced_data() {
    let mut w: World<Writer> = World::new(
        1,
        vec!["n1".into()],
        NetConfig::default(),
        Box::new(|_, _| Writer { next: 0 }),
    );
    w.start(ProcessId(0));
    w.run_until(SimTime(55_000));
    w.crash(ProcessId(0));
    w.disk_loss(ProcessId(0));
    assert_eq!(w.disk(ProcessId(0)).expect("disk").log_end("log"), 0);
}
