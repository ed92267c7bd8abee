//! A run that finds more violations than its summary shows says how many
//! it left out: `partsim run` prints the first five and then "… and N more
//! violations not listed", and `--json` carries `unlisted_violations`, the
//! violations beyond the hundred it keeps. With `accept-bad-mac` planted,
//! each of a hundred impostors that becomes a member is an `auth` violation.
//!
//! `cargo test --release --locked --features planted-bugs --test unlisted_violations_planted`.

#![cfg(feature = "planted-bugs")]

use std::process::Command;

/// What `partsim run` shows of its violations in the human summary.
const SHOWN: u64 = 5;

fn partsim(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_run_counts_the_violations_it_does_not_list() {
    let mut text = String::from(
        "name = \"impostor-crowd\"\nduration = \"6s\"\n\n\
         [cluster]\nmanagers = 3\nnodes = 3\ncluster_key = \"the right key\"\n",
    );
    // As many impostors as a scenario may hold (MAX_IMPOSTORS).
    for i in 0..100 {
        text.push_str(&format!("\n[[events]]\nat = \"2s\"\nimpostor = \"x{i}\"\n"));
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-unlisted-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("impostor-crowd.toml");
    std::fs::write(&path, text).expect("write");
    let p = path.to_str().expect("utf-8");
    let args = ["run", p, "--plant", "accept-bad-mac", "--keep-going"];

    let (code, out, err) = partsim(&[&args[..], &["--json"]].concat());
    assert_eq!(code, Some(1), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let total: u64 = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["violations"].as_u64().expect("a count"))
        .sum();
    let listed = v["violations"].as_array().expect("violations").len() as u64;
    let unlisted = v["unlisted_violations"].as_u64().expect("always present");
    assert!(
        total > SHOWN,
        "{total} violations: too few to test the count"
    );
    assert_eq!(listed + unlisted, total, "{v}");

    let (code, out, _) = partsim(&args);
    assert_eq!(code, Some(1));
    let shown = out
        .lines()
        .filter(|l| l.starts_with("  violation  ") && !l.contains("not listed"))
        .count() as u64;
    assert_eq!(shown, SHOWN, "{out}");
    let more = format!(
        "  violation  … and {} more violations not listed",
        total - SHOWN
    );
    assert!(
        out.lines().any(|l| l == more),
        "{more:?} missing from\n{out}"
    );
}
