//! Traces that used to blow up the readers: every line is capped, every
//! number that sizes something is bounded, name lookups are indexed. Each
//! input gives exit 0, 1 or 2 with a message naming what was wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn partsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_partsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("partsim-trace-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// A real trace of the quickstart scenario, as lines.
fn quickstart_lines(tag: &str) -> Vec<String> {
    let path = tmp(&format!("quickstart-{tag}.jsonl"));
    {
        let out = partsim(&[
            "run",
            "scenarios/quickstart.toml",
            "--trace",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    std::fs::read_to_string(&path)
        .expect("the trace")
        .lines()
        .map(str::to_string)
        .collect()
}

fn check_and_export(path: &Path) -> [Output; 2] {
    let p = path.to_str().unwrap();
    let out = tmp(&format!(
        "{}.chrome.json",
        path.file_name().unwrap().to_string_lossy()
    ));
    [
        partsim(&["check", p]),
        partsim(&[
            "export",
            p,
            "--format",
            "chrome",
            "-o",
            out.to_str().unwrap(),
        ]),
    ]
}

fn assert_refused(outs: &[Output], needle: &str) {
    for o in outs {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

#[test]
fn an_endless_line_is_refused_by_check_and_export() {
    assert_refused(
        &check_and_export(Path::new("/dev/zero")),
        "/dev/zero:1: a line longer than the limit of 64 MiB",
    );
}

#[test]
fn a_line_over_the_limit_is_refused_at_its_line() {
    let lines = quickstart_lines("long");
    let path = tmp("long-line.jsonl");
    let mut text = format!("{}\n{}\n{{\"t\":1,\"x\":\"", lines[0], lines[1]);
    text.push_str(&"a".repeat(65 << 20));
    text.push_str("\"}\n");
    std::fs::write(&path, text).unwrap();
    assert_refused(
        &check_and_export(&path),
        "long-line.jsonl:3: a line longer than the limit of 64 MiB (MAX_LINE_BYTES)",
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_partition_count_from_the_trace_is_bounded_before_it_sizes_anything() {
    let lines = quickstart_lines("partitions");
    let mut changed = 0;
    let text: String = lines
        .iter()
        .map(|l| {
            if l.contains("\"ev\":\"placement_config\"") {
                changed += 1;
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["partitions"] = serde_json::json!(4_294_967_295u64);
                v.to_string() + "\n"
            } else {
                l.clone() + "\n"
            }
        })
        .collect();
    assert!(changed > 0, "the quickstart trace has a placement_config");
    let path = tmp("partitions.jsonl");
    std::fs::write(&path, text).unwrap();
    let out = partsim(&["check", path.to_str().unwrap()]);
    assert_refused(
        &[out],
        "placement_config: 4294967295 partitions is above the limit of 32768 (MAX_PARTITIONS)",
    );
}

#[test]
fn a_header_with_300000_names_is_read_with_indexed_lookups() {
    let lines = quickstart_lines("names");
    let mut header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let names = header["processes"].as_array_mut().unwrap();
    names.extend((0..300_000).map(|i| serde_json::json!(format!("x{i}"))));
    let mut text = header.to_string() + "\n";
    for l in &lines[1..] {
        text.push_str(l);
        text.push('\n');
    }
    let path = tmp("names.jsonl");
    std::fs::write(&path, text).unwrap();
    for o in check_and_export(&path) {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn a_header_above_the_process_limit_is_refused() {
    let lines = quickstart_lines("too-many");
    let mut header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let names = header["processes"].as_array_mut().unwrap();
    names.extend((0..(1 << 20)).map(|_| serde_json::json!("x")));
    let path = tmp("too-many-names.jsonl");
    std::fs::write(&path, header.to_string() + "\n").unwrap();
    assert_refused(
        &check_and_export(&path),
        "processes, above the limit of 1048576 (MAX_PROCESSES)",
    );
}
