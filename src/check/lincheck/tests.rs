//! Hand-written histories with known verdicts, and the property tests.

use super::generate::{Corruption, Shape, corrupt_read, generate};
use super::*;

/// A history from compact lines: `process type f value time` per line,
/// e.g. `0 invoke write 1 10`, `1 ok read nil 40`, `2 invoke cas 1,2 5`;
/// an optional sixth field is the key.
fn h(text: &str) -> History {
    let mut edn = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let value = match f[3] {
            "-" => String::new(),
            v if v.contains(',') => format!(", :value [{}]", v.replace(',', " ")),
            v => format!(", :value {v}"),
        };
        let key = f
            .get(5)
            .map_or(String::new(), |k| format!(", :key \"{k}\""));
        edn.push_str(&format!(
            "{{:process {}, :type :{}, :f :{}{value}{key}, :time {}}}\n",
            f[0], f[1], f[2], f[4]
        ));
    }
    parse_history(&edn).unwrap_or_else(|e| panic!("{e}\n{edn}"))
}

fn verdict(history: &History) -> Verdict {
    check_history(history, &Options::default()).verdict
}

fn counterexample(history: &History) -> Counterexample {
    let report = check_history(history, &Options::default());
    assert_eq!(
        report.verdict,
        Verdict::NotLinearizable,
        "{}",
        report.render()
    );
    report.failures[0]
        .counterexample
        .clone()
        .expect("a counterexample")
}

#[test]
fn sequential_write_then_read_is_linearizable_and_a_wrong_read_is_not() {
    let ok = h("0 invoke write 1 10\n0 ok write 1 20\n1 invoke read - 30\n1 ok read 1 40");
    assert_eq!(verdict(&ok), Verdict::Linearizable);
    let bad = h("0 invoke write 1 10\n0 ok write 1 20\n1 invoke read - 30\n1 ok read 2 40");
    let c = counterexample(&bad);
    assert_eq!(c.prefix.len(), 1);
    assert_eq!(c.state, Value::Int(1));
    assert_eq!(c.cannot_follow.len(), 1);
    assert_eq!(c.cannot_follow[0].id, 1);
    assert_eq!(
        (
            c.cannot_follow[0].invoke_time,
            c.cannot_follow[0].complete_time
        ),
        (30, Some(40))
    );
}

#[test]
fn concurrent_reads_force_the_order_of_concurrent_writes() {
    // Writes of 1 and 2 overlap; a read sees 1, a later read sees 2: the
    // writes are ordered 1 then 2, so a final read must see 2.
    let base = "0 invoke write 1 0\n1 invoke write 2 0\n\
                2 invoke read - 2\n2 ok read 1 5\n\
                3 invoke read - 6\n3 ok read 2 9\n\
                0 ok write 1 10\n1 ok write 2 10\n";
    assert_eq!(
        verdict(&h(&format!("{base}4 invoke read - 11\n4 ok read 2 12"))),
        Verdict::Linearizable
    );
    let c = counterexample(&h(&format!("{base}4 invoke read - 11\n4 ok read 1 12")));
    assert_eq!(c.state, Value::Int(2));
    assert_eq!(
        c.cannot_follow.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![4]
    );
    // Either order is fine while nothing pins it.
    let free = "0 invoke write 1 0\n1 invoke write 2 0\n0 ok write 1 10\n1 ok write 2 10\n\
                4 invoke read - 11\n4 ok read 1 12";
    assert_eq!(verdict(&h(free)), Verdict::Linearizable);
}

#[test]
fn an_info_write_that_a_later_read_sees_must_have_applied() {
    let text = "0 invoke write 1 0\n0 ok write 1 5\n\
                1 invoke write 2 6\n1 info write 2 8\n\
                2 invoke read - 20\n2 ok read 2 25\n\
                3 invoke read - 30\n3 ok read 2 35";
    assert_eq!(verdict(&h(text)), Verdict::Linearizable);
    // …and it applied only once: the register cannot go back to 1 then 2 again.
    let twice = "0 invoke write 1 0\n0 ok write 1 5\n\
                 1 invoke write 2 6\n1 info write 2 8\n\
                 2 invoke read - 20\n2 ok read 2 25\n\
                 3 invoke read - 30\n3 ok read 1 35\n\
                 4 invoke read - 40\n4 ok read 2 45";
    let c = counterexample(&h(twice));
    assert!(
        c.cannot_follow.iter().any(|o| o.id == 3 || o.id == 2),
        "{c:?}"
    );
}

#[test]
fn an_info_write_no_read_sees_may_never_have_applied() {
    let text = "0 invoke write 1 0\n0 ok write 1 5\n\
                1 invoke write 2 6\n1 info write 2 8\n\
                2 invoke read - 20\n2 ok read 1 25\n\
                3 invoke read - 30\n3 ok read 1 35";
    let history = h(text);
    let report = check_history(&history, &Options::default());
    assert_eq!(report.verdict, Verdict::Linearizable);
    // A pending write (never completed) is the same as an info one.
    let pending = "0 invoke write 1 0\n0 ok write 1 5\n1 invoke write 2 6\n\
                   2 invoke read - 20\n2 ok read 1 25";
    assert_eq!(verdict(&h(pending)), Verdict::Linearizable);
    // But an info write cannot take effect before it was invoked.
    let early = "2 invoke read - 0\n2 ok read 2 3\n1 invoke write 2 6\n1 info write 2 8";
    let c = counterexample(&h(early));
    assert_eq!(c.cannot_follow[0].id, 0);
}

#[test]
fn a_failed_cas_never_applies_and_an_ok_cas_must_have_matched() {
    let setup = "0 invoke write 1 0\n0 ok write 1 5\n1 invoke cas 2,3 6\n1 fail cas 2,3 8\n";
    assert_eq!(
        verdict(&h(&format!("{setup}2 invoke read - 10\n2 ok read 1 12"))),
        Verdict::Linearizable
    );
    let c = counterexample(&h(&format!("{setup}2 invoke read - 10\n2 ok read 3 12")));
    assert_eq!(c.state, Value::Int(1));
    let applied = "0 invoke write 1 0\n0 ok write 1 5\n1 invoke cas 1,3 6\n1 ok cas 1,3 8\n\
                   2 invoke read - 10\n2 ok read 3 12";
    assert_eq!(verdict(&h(applied)), Verdict::Linearizable);
    let mismatched = "0 invoke write 1 0\n0 ok write 1 5\n1 invoke cas 2,3 6\n1 ok cas 2,3 8";
    let c = counterexample(&h(mismatched));
    assert_eq!(c.cannot_follow[0].id, 1);
    assert!(c.cannot_follow[0].text.contains("cas [2 3]"), "{c:?}");
    // An info cas that matched may have applied.
    let maybe = "0 invoke write 1 0\n0 ok write 1 5\n1 invoke cas 1,3 6\n1 info cas 1,3 8\n\
                 2 invoke read - 10\n2 ok read 3 12";
    assert_eq!(verdict(&h(maybe)), Verdict::Linearizable);
}

#[test]
fn reads_of_nil_before_and_after_writes() {
    let before = "0 invoke read - 0\n0 ok read nil 2\n1 invoke write 1 3\n1 ok write 1 4\n\
                  0 invoke read - 5\n0 ok read 1 6";
    assert_eq!(verdict(&h(before)), Verdict::Linearizable);
    let concurrent = "1 invoke write 1 0\n0 invoke read - 1\n0 ok read nil 2\n1 ok write 1 4";
    assert_eq!(verdict(&h(concurrent)), Verdict::Linearizable);
    let after = "1 invoke write 1 0\n1 ok write 1 4\n0 invoke read - 5\n0 ok read nil 6";
    let c = counterexample(&h(after));
    assert_eq!((c.state.clone(), c.cannot_follow[0].id), (Value::Int(1), 1));
}

#[test]
fn a_read_of_a_value_from_the_future_is_not_linearizable() {
    let text = "0 invoke read - 0\n0 ok read 7 5\n1 invoke write 7 6\n1 ok write 7 9";
    let c = counterexample(&h(text));
    assert!(c.prefix.is_empty());
    assert_eq!(c.state, Value::Nil);
    assert_eq!(c.cannot_follow[0].text, "p0 read → 7 ok, t 0..5 (line 1)");
}

#[test]
fn keys_are_independent_and_reported_in_key_order() {
    let text = "0 invoke write 1 0 a\n0 ok write 1 1 a\n\
                1 invoke read - 2 b\n1 ok read 1 3 b\n\
                2 invoke read - 4 a\n2 ok read 1 5 a\n\
                3 invoke read - 6 c\n3 ok read 9 7 c";
    let report = check_history(&h(text), &Options::default());
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!((report.keys, report.keys_linearizable), (3, 1));
    let keys: Vec<_> = report.failures.iter().map(|k| k.key.clone()).collect();
    assert_eq!(keys, vec![Some(Value::from("b")), Some(Value::from("c"))]);
    let text = report.render();
    assert!(text.contains("key \"b\": not linearizable"), "{text}");
    assert!(text.contains("none of these can come next"), "{text}");
}

#[test]
fn one_process_invoking_twice_without_a_completion_is_malformed() {
    let e = parse_history(
        "{:process 0, :type :invoke, :f :write, :value 1, :time 1}\n\
         {:process 0, :type :invoke, :f :read, :time 2}",
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("has not completed"), "{e}");
}

#[test]
fn an_exhausted_budget_is_unknown_never_linearizable() {
    let shape = Shape {
        keys: 1,
        concurrency: 12,
        operations: 600,
        read_ratio: 0.2,
        cas_ratio: 0.5,
        info_ratio: 0.2,
        think_mean: 2,
        latency_mean: 20,
        value_domain: 0,
    };
    let history = generate(&shape, 7);
    let options = Options {
        max_steps: Some(10),
        ..Options::default()
    };
    let report = check_history(&history, &options);
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.failures[0].verdict, Verdict::Unknown);
    assert!(report.render().contains("not decided"));
    // With no budget the same history is decided.
    assert_eq!(verdict(&history), Verdict::Linearizable);
}

fn shapes() -> Vec<Shape> {
    let base = Shape {
        keys: 1,
        concurrency: 5,
        operations: 200,
        read_ratio: 0.5,
        cas_ratio: 0.2,
        info_ratio: 0.05,
        think_mean: 5,
        latency_mean: 10,
        value_domain: 0,
    };
    vec![
        base.clone(),
        Shape {
            concurrency: 10,
            cas_ratio: 0.6,
            read_ratio: 0.2,
            info_ratio: 0.2,
            ..base.clone()
        },
        Shape {
            keys: 4,
            operations: 400,
            concurrency: 8,
            ..base.clone()
        },
        Shape {
            concurrency: 5,
            operations: 150,
            cas_ratio: 0.33,
            read_ratio: 0.34,
            value_domain: 5,
            ..base.clone()
        },
        Shape {
            concurrency: 3,
            operations: 60,
            info_ratio: 0.4,
            latency_mean: 30,
            ..base
        },
    ]
}

#[test]
fn property_histories_of_a_real_register_are_linearizable() {
    for (s, shape) in shapes().iter().enumerate() {
        for seed in 0..25 {
            let history = generate(shape, seed);
            let report = check_history(&history, &Options::default());
            assert_eq!(
                report.verdict,
                Verdict::Linearizable,
                "shape {s} seed {seed}:\n{}",
                report.render()
            );
        }
    }
}

#[test]
fn property_a_corrupted_read_yields_a_counterexample_naming_it() {
    for how in [Corruption::NeverWritten, Corruption::FromTheFuture] {
        for (s, shape) in shapes().iter().enumerate() {
            for seed in 0..25 {
                let history = generate(shape, seed);
                let Some((bad, read)) = corrupt_read(&history, how, seed) else {
                    continue;
                };
                let report = check_history(&bad, &Options::default());
                assert_eq!(
                    report.verdict,
                    Verdict::NotLinearizable,
                    "{how:?} shape {s} seed {seed}"
                );
                let key = &bad.operations()[read].key;
                let failing: Vec<&KeyReport> = report.failures.iter().collect();
                assert_eq!(failing.len(), 1);
                assert_eq!(&failing[0].key, key);
                let c = failing[0].counterexample.as_ref().expect("counterexample");
                // The read, or the write of the value it returned.
                let value = bad.operations()[read].read_value.clone();
                let names = c.cannot_follow.iter().any(|o| {
                    o.id == read
                        || matches!(&bad.operations()[o.id].call,
                            Call::Write { value: v } if Some(v) == value.as_ref())
                });
                assert!(
                    names,
                    "{how:?} shape {s} seed {seed}: read {read}\n{}",
                    report.render()
                );
            }
        }
    }
}

#[test]
fn small_keys_are_searched_first_so_a_hot_key_cannot_hide_them() {
    // Key "a": eight concurrent writes and reads; key "z", after it in
    // key order, two operations and not linearizable. A budget too small
    // for "a" still decides "z": the verdict is a violation, not unknown.
    let mut text = String::new();
    for p in 0..8 {
        text.push_str(&format!("{p} invoke write {} {p} a\n", p + 1));
    }
    for p in 0..8 {
        text.push_str(&format!("{p} ok write {} {} a\n", p + 1, 20 + p));
    }
    for p in 0..4 {
        text.push_str(&format!("{p} invoke read - {} a\n", 30 + p));
    }
    for p in 0..4 {
        text.push_str(&format!("{p} ok read {} {} a\n", 8 - p, 40 + p));
    }
    let a_steps = check_history(&h(&text), &Options::default()).steps;
    let z = "9 invoke read - 50 z\n9 ok read 7 51 z\n";
    let z_steps = check_history(&h(z), &Options::default()).steps;
    assert!(a_steps > z_steps + 1, "a {a_steps}, z {z_steps}");
    text.push_str(z);
    let history = h(&text);
    let report = check_history(
        &history,
        &Options {
            max_steps: Some(z_steps + 1),
            ..Options::default()
        },
    );
    assert_eq!(
        report.verdict,
        Verdict::NotLinearizable,
        "{}",
        report.render()
    );
    // Reported in key order all the same: "a" undecided, then "z".
    let keys: Vec<_> = report
        .failures
        .iter()
        .map(|k| (k.key.clone(), k.verdict))
        .collect();
    assert_eq!(
        keys,
        vec![
            (Some(Value::from("a")), Verdict::Unknown),
            (Some(Value::from("z")), Verdict::NotLinearizable)
        ]
    );
}
