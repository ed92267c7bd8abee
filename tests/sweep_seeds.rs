//! A sweep never passes having run nothing, iterates its seeds lazily, and
//! reports per seed what a user needs: digest, verdict, failing checker and
//! its virtual time; `--fail-fast` stops it, `--trace-dir` keeps the traces
//! of failing seeds.

mod common;

const MUST_FAIL: &str = "name = \"must-fail\"\nduration = \"3s\"\n[cluster]\nmanagers = 3\nnodes = 3\n[expect]\nviolations = [\"election_safety\"]\n";

#[test]
fn a_sweep_of_zero_seeds_is_a_usage_error() {
    for seeds in [
        &["--seeds", "5..5"][..],
        &["--seeds", "0..2", "--shard", "3/4"],
    ] {
        let mut args = vec!["sweep", "scenarios/raft-elect.toml"];
        args.extend_from_slice(seeds);
        let o = common::partsim(&args);
        let (out, err) = common::out_err(&o);
        assert_eq!(common::code(&o), 2, "{args:?}: {out}{err}");
        assert!(!out.contains("PASS"), "{out}");
    }
}

#[test]
fn the_largest_seed_is_one_seed() {
    let o = common::partsim(&[
        "sweep",
        "scenarios/raft-elect.toml",
        "--seeds",
        "18446744073709551615",
        "--json",
    ]);
    let (out, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["seeds"], 1);
    assert_eq!(v["per_seed"][0]["seed"], u64::MAX);
}

#[test]
fn a_huge_range_is_lazy_and_fail_fast_stops_it_with_the_failing_traces() {
    let dir = common::scratch("sweep");
    let path = dir.join("must-fail.toml");
    std::fs::write(&path, MUST_FAIL).unwrap();
    let traces = dir.join("traces");
    let o = common::partsim(&[
        "sweep",
        path.to_str().unwrap(),
        "--seeds",
        "0..99999999999",
        "--fail-fast",
        "--jobs",
        "1",
        "--json",
        "--trace-dir",
        traces.to_str().unwrap(),
    ]);
    let (out, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["seeds"], 1, "{out}");
    assert_eq!(v["seeds_planned"], 99_999_999_999u64);
    assert_eq!(v["stopped_early"], true);
    let seed = &v["per_seed"][0];
    assert_eq!(seed["verdict"], "fail");
    assert_eq!(seed["digest"].as_str().map(str::len), Some(16), "{seed}");
    let trace = traces.join("must-fail-seed-0.jsonl");
    assert_eq!(seed["trace"], trace.to_str().unwrap());
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.starts_with("{\"format\":\"partsim-trace\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_seed_names_its_checker_and_virtual_time() {
    let dir = common::scratch("sweep-check");
    let path = dir.join("no-quorum.toml");
    std::fs::write(
        &path,
        "name = \"no-quorum\"\nduration = \"6s\"\n[cluster]\nmanagers = 3\nnodes = 3\n\
         [[events]]\nat = \"0s\"\nuntil = \"6s\"\nisolate = \"m1\"\n\
         [[events]]\nat = \"0s\"\nuntil = \"6s\"\nisolate = \"m2\"\n\
         [expect]\nleader_elected_by = \"3s\"\n",
    )
    .unwrap();
    let o = common::partsim(&["sweep", path.to_str().unwrap(), "--seeds", "0..2", "--json"]);
    let (out, err) = common::out_err(&o);
    assert_eq!(common::code(&o), 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for seed in v["per_seed"].as_array().unwrap() {
        assert_eq!(seed["failing_check"], "leader_elected", "{seed}");
        // A missed deadline is judged when it passes (3 s), not at the end.
        assert_eq!(seed["failing_at"], 3_000_000, "{seed}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
