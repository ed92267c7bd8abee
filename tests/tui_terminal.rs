//! The replay UI in a real terminal: tmux runs it at 100×30, the test sends
//! keys (step, seek to the end, quit) and reads the screen back with
//! `capture-pane`, then checks the exit code is 0 and the terminal was
//! handed back.
//!
//! Two drivers share the script:
//! - `binary_replay_in_tmux` runs `partsim replay TRACE`, the real binary;
//! - `shell_replay_in_tmux` runs this test executable itself in "child
//!   mode" (`tui_child` below calls `tui::run_replay`), so the terminal
//!   shell is exercised even before the binary's `replay` subcommand exists.
//!
//! Both skip (pass with a note) when tmux is not installed.

// A real terminal runs on wall time: the driver polls the screen with
// timeouts. Nothing here is simulated.
#![allow(
    clippy::disallowed_methods,
    reason = "the test waits on a real terminal"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "PARTSIM_TUI_CHILD_TRACE";

/// Child mode: when the tmux driver starts this executable with
/// `PARTSIM_TUI_CHILD_TRACE` set, run the UI on that trace. A no-op otherwise.
#[test]
fn tui_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    if let Err(e) = partsim::tui::run_replay(Path::new(&path)) {
        eprintln!("{e}");
        std::process::exit(if e.is_bad_input() { 2 } else { 3 });
    }
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("partsim-test-{}-{name}", std::process::id());
        let t = Tmux {
            socket,
            session: name.to_string(),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "100",
                "-y",
                "30",
                command,
            ])
            .status()
            .expect("tmux runs")
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `pred`; panics with the screen after 20 s.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tui_terminal_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_trace(dir: &Path) -> PathBuf {
    let path = dir.join("trace.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    partsim::tui::write_synthetic_trace(&mut file, 3000).unwrap();
    path
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Opens a trace with the command `command(trace)` builds, steps, seeks
/// to the end, opens and closes the help, quits; checks the exit code.
fn drive(name: &str, command: impl Fn(&str) -> String) {
    let dir = workdir(name);
    let trace = write_trace(&dir);
    let status = dir.join("status");
    let cmd = format!(
        "{}; echo $? > {}; sleep 60",
        command(&sh_quote(&trace.display().to_string())),
        sh_quote(&status.display().to_string())
    );
    let t = Tmux::start(name, &format!("sh -c {}", sh_quote(&cmd)));
    let first = t.wait_for("the UI", |s| {
        s.contains("partsim replay") && s.contains("(1/")
    });
    assert!(first.contains("timeline"), "{first}");
    assert!(first.contains("nodes"), "{first}");
    t.keys(&["Right"]);
    t.wait_for("a step", |s| s.contains("(2/"));
    t.keys(&["G"]);
    let end = t.wait_for("the end", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("(3") && l.contains("/3"))
    });
    let title = end.lines().next().unwrap();
    // The title reads `#SEQ (POSITION/COUNT)`.
    let (at, of) = title
        .split_once('(')
        .unwrap()
        .1
        .split_once(')')
        .unwrap()
        .0
        .split_once('/')
        .unwrap();
    assert_eq!(at, of, "G goes to the last event: {title}");
    t.keys(&["?"]);
    t.wait_for("the help", |s| s.contains("any other key closes"));
    t.keys(&["Escape"]);
    t.wait_for("the help to close", |s| !s.contains("any other key closes"));
    // `:` jumps: to a time (0s: the first event), and bad input only warns.
    t.keys(&[":", "0", "s", "Enter"]);
    t.wait_for("the jump to 0s", |s| s.contains(" (1/"));
    t.keys(&[":", "x", "Enter"]);
    t.wait_for("the jump's warning", |s| s.contains("try 12.5s"));
    t.keys(&["q"]);
    let start = Instant::now();
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && !text.trim().is_empty()
        {
            break text.trim().to_string();
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("the UI did not exit after q; the screen:\n{}", t.screen());
        }
        sleep(Duration::from_millis(100));
    };
    assert_eq!(code, "0", "exit code; the screen:\n{}", t.screen());
    // The alternate screen was left: the UI's panes are gone.
    let after = t.wait_for("the normal screen", |s| !s.contains("timeline 0s"));
    assert!(!after.contains("lanes"), "{after}");
}

#[test]
fn shell_replay_in_tmux() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let exe = sh_quote(&std::env::current_exe().unwrap().display().to_string());
    drive("shell", |trace| {
        format!("{CHILD_ENV}={trace} {exe} --exact tui_child --nocapture --test-threads=1")
    });
}

#[test]
fn binary_replay_in_tmux() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let bin = sh_quote(env!("CARGO_BIN_EXE_partsim"));
    drive("binary", |trace| format!("{bin} replay {trace}"));
}
