//! A seeded mutator over the repository's own inputs: structural mutations
//! of every scenario (scenarios/, tests/malformed/), of traces that partsim
//! writes and of the client histories `partsim history` makes of them, fed
//! to validation and a short run; to the trace reader, the offline
//! checkers, the Chrome export and the replay index; and to the lincheck
//! parser and checker.
//! Every input must give a result (0 / 1 / 2 at the command line), never a
//! panic; a sample also goes through the binary to check the exit codes.
//!
//! Time and memory per input are bounded by construction, not measured:
//! validation bounds a run's cost per virtual second and each run is cut to
//! [`RUN_FOR`]; the readers cap lines and bound every number they size
//! with. The whole test stays within a few seconds in release.
//!
//! Deterministic: the mutations come from `PARTSIM_MUTATE_SEED` (default
//! below) and the input's number, so a failure names the seed and the
//! number that reproduce it (`PARTSIM_MUTATE_ONLY=N` runs that one alone),
//! and writes the input to a file.

mod common;

use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Buffer;
use partsim::run::{RunOptions, run};
use partsim::sim::SimDuration;
use partsim::stack::events::StackEvent;

const DEFAULT_SEED: u64 = 0x5eed_0010;
/// Mutated scenarios per run of the test.
const SCENARIO_CASES: u64 = 1_500;
/// Mutated traces per run of the test.
const TRACE_CASES: u64 = 600;
/// Mutated histories per run of the test.
const HISTORY_CASES: u64 = 600;
/// Search steps a mutated history's check may take (each key beyond it is
/// `Unknown`): bounds the time per history deterministically.
const HISTORY_STEPS: u64 = 20_000;
/// Every Nth case also goes through the binary (exit code 0, 1 or 2).
const CLI_EVERY: u64 = 40;
/// Virtual time a mutated scenario runs for.
const RUN_FOR: SimDuration = SimDuration::from_millis(250);

/// SplitMix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, case: u64) -> Rng {
        let mut r = Rng(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn seed() -> u64 {
    std::env::var("PARTSIM_MUTATE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

fn only() -> Option<u64> {
    std::env::var("PARTSIM_MUTATE_ONLY")
        .ok()
        .and_then(|s| s.parse().ok())
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "1000",
    "1001",
    "4096",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "-1",
    "1.0",
    "0.5",
    "1e308",
    "-0.0",
    "nan",
    "inf",
];
const DURATIONS: &[&str] = &[
    "\"0s\"",
    "\"1us\"",
    "\"50us\"",
    "\"1ms\"",
    "\"100ms\"",
    "\"1s\"",
    "\"60s\"",
    "\"604800s\"",
    "\"604801s\"",
    "\"-1s\"",
    "\"1\"",
    "\"\"",
];
const IDS: &[&str] = &[
    "\"m1\"",
    "\"m9\"",
    "\"n1\"",
    "\"n999\"",
    "\"c1\"",
    "\"leader\"",
    "\"any-node\"",
    "\"primary:0\"",
    "\"primary:99999\"",
    "\"*\"",
    "\"\"",
];
const LINES: &[&str] = &[
    "[network]\nduplicate = 1.0\nlatency = [\"80ms\", \"120ms\"]",
    "[grid]\nwidth = 256\nheight = 256\ntile = [1, 1]",
    "[timing]\nheartbeat_interval = \"1us\"",
    "[[events]]\nat = \"1s\"\njoin = \"n4\"",
    "[[events]]\nat = \"0s\"\ncrash = \"leader\"",
    "[[events]]\nat = \"0s\"\nuntil = \"1s\"\npartition = [[\"m1\"], [\"*\"]]",
    "[random]\ncrash = { every = \"1ms\", down = [\"1ms\", \"2ms\"] }",
    "[workload]\nrate = 1000000\nstart = \"0s\"\nstop = \"1s\"",
    "[cluster]\nnodes = 1000\nclients = 1000",
    "[expect]\nviolations = [\"linearizable\"]",
    "[[events]]",
    "]]",
    "\"",
    "x = ",
];

/// Replaces the value after the first `=` of `line`.
fn set_value(line: &str, value: &str) -> String {
    match line.split_once('=') {
        Some((k, _)) => format!("{k}= {value}"),
        None => line.to_string(),
    }
}

fn mutate_scenario(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(4) {
        let n = lines.len().max(1);
        let i = rng.below(n);
        match rng.below(12) {
            0 if !lines.is_empty() => {
                lines.remove(i);
            }
            1 if !lines.is_empty() => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 if lines.len() > 1 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 | 4 if !lines.is_empty() => {
                let v = rng.pick(NUMBERS).to_string();
                lines[i] = set_value(&lines[i], &v);
            }
            5 | 6 if !lines.is_empty() => {
                let v = rng.pick(DURATIONS).to_string();
                lines[i] = set_value(&lines[i], &v);
            }
            7 if !lines.is_empty() => {
                let v = rng.pick(IDS).to_string();
                lines[i] = set_value(&lines[i], &v);
            }
            8 => {
                let l = rng.pick(LINES).to_string();
                lines.insert(i.min(lines.len()), l);
            }
            9 => {
                // Repeat an [[events]] block many times.
                if let Some(start) = lines.iter().position(|l| l.trim() == "[[events]]") {
                    let end = lines[start + 1..]
                        .iter()
                        .position(|l| l.trim_start().starts_with('['))
                        .map_or(lines.len(), |k| start + 1 + k);
                    let block = lines[start..end].to_vec();
                    for _ in 0..1 + rng.below(300) {
                        lines.extend(block.iter().cloned());
                    }
                }
            }
            10 if !lines.is_empty() => {
                // Cut a line short.
                let l = &lines[i];
                let cut = rng.below(l.len() + 1);
                lines[i] = l.chars().take(cut).collect();
            }
            _ => {
                let v = format!("[{}, {}]", rng.pick(NUMBERS), rng.pick(NUMBERS));
                if let Some(k) = lines.iter().position(|l| l.starts_with("tile")) {
                    lines[k] = set_value(&lines[k], &v);
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

const KINDS: &[&str] = &[
    "send",
    "deliver",
    "drop",
    "timer",
    "crash",
    "restart",
    "fault",
    "violation",
    "role",
    "commit",
    "append",
    "map",
    "member",
    "replica",
    "move",
    "placement_config",
    "partition",
    "health",
    "vote",
    "nonsense",
];

fn mutate_json_line(rng: &mut Rng, line: &str) -> String {
    let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_str(line) else {
        return line.to_string();
    };
    if obj.is_empty() {
        return line.to_string();
    }
    let keys: Vec<String> = obj.keys().cloned().collect();
    let key = rng.pick(&keys).clone();
    let value = match rng.below(6) {
        0 => serde_json::Value::String(rng.pick(KINDS).to_string()),
        1 => serde_json::json!(u64::MAX),
        2 => serde_json::json!(u32::MAX),
        3 => serde_json::json!(-1),
        4 => serde_json::Value::Null,
        _ => serde_json::json!(["m1", "n1", "m1"]),
    };
    if rng.below(4) == 0 {
        obj.remove(&key);
    } else {
        obj.insert(key, value);
    }
    serde_json::Value::Object(obj).to_string()
}

fn mutate_trace(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(6) {
        let i = rng.below(lines.len());
        match rng.below(9) {
            0 if lines.len() > 1 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3..=5 => lines[i] = mutate_json_line(rng, &lines[i]),
            6 => {
                let l = &lines[i];
                let cut = rng.below(l.len() + 1);
                lines[i] = l.chars().take(cut).collect();
            }
            7 => lines.truncate(i + 1),
            _ => {
                // Set a field of the placement config or header to an extreme.
                let k = lines
                    .iter()
                    .position(|l| l.contains("placement_config"))
                    .unwrap_or(0);
                lines[k] = mutate_json_line(rng, &lines[k]);
            }
        }
    }
    let mut out = lines.join("\n").into_bytes();
    if rng.below(3) > 0 {
        out.push(b'\n');
    }
    out
}

/// Validation, a short run, and the run's own trace read back: the exit
/// code the command line would give.
fn scenario_case(text: &str) -> i32 {
    let Ok(mut s) = partsim::scenario::parse(text, "mutated.toml") else {
        return 2;
    };
    s.duration = s.duration.min(RUN_FOR);
    let buf = Buffer::default();
    let opts = RunOptions {
        trace_out: Some(Box::new(buf.clone())),
        ..RunOptions::default()
    };
    let report = run(&s, opts).expect("a run into memory completes");
    let bytes = buf.0.borrow().clone();
    partsim::check::offline::check_reader(BufReader::new(&bytes[..]), "run.jsonl")
        .expect("partsim reads back what it wrote");
    if report.passed { 0 } else { 1 }
}

/// Every trace consumer over `bytes`.
fn trace_case(bytes: &[u8]) {
    let _ = partsim::trace::reader::read_from::<StackEvent, _>(BufReader::new(bytes), "m.jsonl");
    let _ = partsim::check::offline::check_reader(BufReader::new(bytes), "m.jsonl");
    let _ = partsim::trace::chrome::write_chrome(bytes, "m.jsonl", &mut std::io::sink(), "o.json");
    if let Ok(replay) = partsim::tui::open_bytes("m.jsonl", bytes.to_vec()) {
        let n = replay.len();
        if n > 0 {
            let _ = replay.state_at(n - 1);
        }
        let mut app = partsim::tui::App::new(replay);
        for c in ['G', 'b', 'c', 'v', 'n', 'g', '\''] {
            partsim::tui::update(&mut app, partsim::tui::Msg::char(c));
        }
    }
}

fn save(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-mutate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn cli(args: &[&str]) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .output()
        .expect("the binary runs")
        .status
        .code()
}

fn failure(what: &str, case: u64, input: &[u8], detail: &str) -> String {
    let path = save(&format!("{what}-{case}.input"), input);
    format!(
        "{what} case {case} (PARTSIM_MUTATE_SEED={} PARTSIM_MUTATE_ONLY={case}): {detail}; input in {}",
        seed(),
        path.display()
    )
}

#[test]
fn mutated_scenarios_validate_or_fail_cleanly_and_run_bounded() {
    let bases: Vec<String> = files("scenarios", "toml")
        .into_iter()
        .chain(files("tests/malformed", "toml"))
        .collect();
    let mut failures = Vec::new();
    let mut exits = [0u32; 3];
    for case in 0..SCENARIO_CASES {
        if only().is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng::new(seed(), case);
        let base = rng.pick(&bases).clone();
        let text = mutate_scenario(&mut rng, &base);
        if only().is_some() {
            save(&format!("scenario-{case}.toml"), text.as_bytes());
        }
        match catch_unwind(AssertUnwindSafe(|| scenario_case(&text))) {
            Ok(code) => exits[code as usize] += 1,
            Err(_) => failures.push(failure("scenario", case, text.as_bytes(), "panicked")),
        }
        if case % CLI_EVERY == 0 {
            let path = save(&format!("scenario-{case}.toml"), text.as_bytes());
            let p = path.to_str().unwrap();
            for args in [vec!["validate", p], vec!["run", p, "--duration", "250ms"]] {
                let code = cli(&args);
                if !matches!(code, Some(0..=2)) {
                    failures.push(failure(
                        "scenario",
                        case,
                        text.as_bytes(),
                        &format!("{args:?} exited {code:?}"),
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if only().is_none() {
        // The mutations reach every outcome: some still run, some are refused.
        assert!(exits[0] + exits[1] > 0 && exits[2] > 0, "{exits:?}");
    }
}

#[test]
fn mutated_traces_are_read_or_refused_cleanly() {
    let mut bases = Vec::new();
    for (name, ms) in [
        ("raft-elect", 1000),
        ("quickstart", 400),
        ("node-crash-recover", 400),
    ] {
        let text = std::fs::read_to_string(root().join(format!("scenarios/{name}.toml"))).unwrap();
        let mut s = partsim::scenario::parse(&text, "s.toml").unwrap();
        s.duration = s.duration.min(SimDuration::from_millis(ms));
        let buf = Buffer::default();
        let opts = RunOptions {
            trace_out: Some(Box::new(buf.clone())),
            ..RunOptions::default()
        };
        run(&s, opts).unwrap();
        bases.push(String::from_utf8(buf.0.borrow().clone()).unwrap());
    }
    let mut failures = Vec::new();
    for case in 0..TRACE_CASES {
        if only().is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng::new(seed(), case);
        let base = rng.pick(&bases).clone();
        let bytes = mutate_trace(&mut rng, &base);
        if only().is_some() {
            // Kept for a closer look at the one case asked for.
            save(&format!("trace-{case}.jsonl"), &bytes);
        }
        if catch_unwind(AssertUnwindSafe(|| trace_case(&bytes))).is_err() {
            failures.push(failure("trace", case, &bytes, "panicked"));
        }
        if case % CLI_EVERY == 0 {
            let path = save(&format!("trace-{case}.jsonl"), &bytes);
            let out = path.with_extension("json");
            let (p, o) = (path.to_str().unwrap(), out.to_str().unwrap());
            for args in [
                vec!["check", p],
                vec!["export", p, "--format", "chrome", "-o", o],
            ] {
                let code = cli(&args);
                if !matches!(code, Some(0..=2)) {
                    failures.push(failure(
                        "trace",
                        case,
                        &bytes,
                        &format!("{args:?} exited {code:?}"),
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const HISTORY_LINES: &[&str] = &[
    "é",
    "{é",
    "{",
    "}",
    "{:process 0, :type :invoke, :f :read, :time 1",
    "{:process -1, :type :invoke, :f :read, :time 1}",
    "{:process 18446744073709551615, :type :invoke, :f :write, :value 1, :time 0}",
    "{:process 0, :type :ok, :f :cas, :value [1 [2 [3 [4]]]], :time 9223372036854775807}",
    "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": 1e999, \"time\": 1}",
    "{:process :nemesis, :type :info, :f :start, :value nil, :time 1}",
    "{:process 7, :type :invoke, :f :write, :key nil, :value \"\", :time 0}",
    "{:process 7, :type :info, :f :write, :key nil, :value \"\", :time 0}",
    "{:a {:b {:c {:d {:e {:f {:g {:h {:i {:j {:k {:l {:m {:n {:o {:p {:q {:r}}}}}}}}}}}}}}}}}}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "; a comment",
    "",
];
const HISTORY_TOKENS: &[&str] = &[
    "0",
    "-1",
    "nil",
    "true",
    "1.5",
    ":ok",
    ":fail",
    ":info",
    ":invoke",
    ":read",
    ":write",
    ":cas",
    "[1 2]",
    "[nil nil]",
    "[]",
    "\"c1\"",
    "\"\"",
    "18446744073709551615",
    "9223372036854775808",
    "{}",
    "#{1}",
];

fn mutate_history(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(6) {
        let i = rng.below(lines.len().max(1));
        match rng.below(8) {
            0 if !lines.is_empty() => {
                lines.remove(i);
            }
            1 if !lines.is_empty() => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 if lines.len() > 1 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 | 4 if !lines.is_empty() => {
                // Replace one token (split at spaces and commas) by another.
                let mut tokens: Vec<String> = lines[i].split(' ').map(str::to_string).collect();
                let t = rng.below(tokens.len());
                let end = if tokens[t].ends_with(',') { "," } else { "" };
                tokens[t] = format!("{}{end}", rng.pick(HISTORY_TOKENS));
                lines[i] = tokens.join(" ");
            }
            5 if !lines.is_empty() => {
                let l = &lines[i];
                let cut = rng.below(l.chars().count() + 1);
                lines[i] = l.chars().take(cut).collect();
            }
            6 => {
                let l = rng.pick(HISTORY_LINES).to_string();
                lines.insert(i.min(lines.len()), l);
            }
            _ => {
                // Many processes at once: the same invocation for new ones.
                if let Some(l) = lines.iter().find(|l| l.contains("invoke")).cloned() {
                    for p in 0..1 + rng.below(40) {
                        let fresh = 100_000 + p;
                        lines.push(l.replacen(":process ", &format!(":process {fresh}"), 1));
                    }
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

/// The parser, and the checker under a step limit, with and without its
/// reductions: they must agree on every key both decide.
fn history_case(text: &str) -> i32 {
    use partsim::check::lincheck::{Options, Verdict, check_history, parse_history};
    let Ok(history) = parse_history(text) else {
        return 2;
    };
    let mut verdicts = Vec::new();
    for plain_search in [false, true] {
        let report = check_history(
            &history,
            &Options {
                max_steps: Some(HISTORY_STEPS),
                plain_search,
                ..Options::default()
            },
        );
        let _ = report.render();
        let mut per_key: std::collections::BTreeMap<_, _> = history
            .by_key()
            .into_keys()
            .map(|k| (k.cloned(), Verdict::Linearizable))
            .collect();
        for f in &report.failures {
            per_key.insert(f.key.clone(), f.verdict);
        }
        verdicts.push((report.verdict, per_key));
    }
    for (key, fast) in &verdicts[0].1 {
        let plain = verdicts[1].1[key];
        if *fast != Verdict::Unknown && plain != Verdict::Unknown {
            assert_eq!(*fast, plain, "the searches disagree on key {key:?}");
        }
    }
    i32::from(verdicts[0].0 != Verdict::Linearizable)
}

#[test]
fn mutated_histories_are_checked_or_refused_cleanly() {
    use partsim::trace::history::{HistoryFormat, read_history, write_history};
    let mut bases = Vec::new();
    for name in ["move-under-load", "primary-crash-under-load"] {
        let text = std::fs::read_to_string(root().join(format!("scenarios/{name}.toml"))).unwrap();
        let mut s = partsim::scenario::parse(&text, "s.toml").unwrap();
        s.duration = s.duration.min(SimDuration::from_secs(3));
        let buf = Buffer::default();
        let opts = RunOptions {
            trace_out: Some(Box::new(buf.clone())),
            ..RunOptions::default()
        };
        run(&s, opts).unwrap();
        let trace = save(&format!("history-base-{name}.jsonl"), &buf.0.borrow());
        let (lines, _) = read_history(&trace).unwrap();
        assert!(lines.len() > 20, "{name}: a workload in its first 3 s");
        // A few hundred operations: enough shape, fast to check.
        let lines = &lines[..lines.len().min(300)];
        for format in [HistoryFormat::Edn, HistoryFormat::Json] {
            let mut out = Vec::new();
            write_history(&mut out, lines, format).unwrap();
            bases.push(String::from_utf8(out).unwrap());
        }
    }
    let mut failures = Vec::new();
    let mut exits = [0u32; 3];
    for case in 0..HISTORY_CASES {
        if only().is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng::new(seed(), case);
        let base = rng.pick(&bases).clone();
        let text = mutate_history(&mut rng, &base);
        if only().is_some() {
            save(&format!("history-{case}.edn"), text.as_bytes());
        }
        match catch_unwind(AssertUnwindSafe(|| history_case(&text))) {
            Ok(code) => exits[code as usize] += 1,
            Err(_) => failures.push(failure("history", case, text.as_bytes(), "panicked")),
        }
        if case % CLI_EVERY == 0 {
            let path = save(&format!("history-{case}.edn"), text.as_bytes());
            let args = ["lincheck", path.to_str().unwrap(), "--timeout", "5s"];
            let code = cli(&args);
            if !matches!(code, Some(0..=2)) {
                failures.push(failure(
                    "history",
                    case,
                    text.as_bytes(),
                    &format!("{args:?} exited {code:?}"),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if only().is_none() {
        assert!(exits[0] + exits[1] > 0 && exits[2] > 0, "{exits:?}");
    }
}
