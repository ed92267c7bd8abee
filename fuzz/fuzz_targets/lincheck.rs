//! History text -> the lincheck parser -> the checker, with partsim's
//! reductions and without, under a step limit -> the report rendered. Any
//! panic is a bug: a malformed line must be an error naming its line and
//! column. The two searches must agree on every key both decide.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use partsim::check::lincheck::{
    History, Options, Report, Value, Verdict, check_history, parse_history,
};

/// Search steps per check: bounds each input's time deterministically (an
/// undecided key is `Unknown`, which is an answer, not a failure).
const MAX_STEPS: u64 = 20_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(history) = parse_history(text) else {
        return;
    };
    let fast = check_history(
        &history,
        &Options {
            max_steps: Some(MAX_STEPS),
            ..Options::default()
        },
    );
    let _ = fast.render();
    let plain = check_history(
        &history,
        &Options {
            max_steps: Some(MAX_STEPS),
            plain_search: true,
            ..Options::default()
        },
    );
    let _ = plain.render();
    let (fast, plain) = (per_key(&history, &fast), per_key(&history, &plain));
    for (key, f) in &fast {
        let p = plain[key];
        if *f != Verdict::Unknown && p != Verdict::Unknown {
            assert_eq!(
                *f, p,
                "the reduced and the plain search disagree on key {key:?}"
            );
        }
    }
});

/// Every key's verdict (keys absent from the failures are linearizable).
fn per_key(history: &History, report: &Report) -> BTreeMap<Option<Value>, Verdict> {
    let mut out: BTreeMap<Option<Value>, Verdict> = history
        .by_key()
        .into_keys()
        .map(|k| (k.cloned(), Verdict::Linearizable))
        .collect();
    for f in &report.failures {
        out.insert(f.key.clone(), f.verdict);
    }
    out
}
