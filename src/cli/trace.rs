//! The commands that read a trace file: `check`, `replay`, `history` and
//! `export`.

use std::path::Path;

use super::args::HistoryFormatArg;
use crate::Failure;

pub(crate) fn check_trace(path: &Path, json: bool) -> Result<u8, Failure> {
    let report =
        partsim::check::offline::check_file(path).map_err(|e| Failure::usage(e.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::internal(e.to_string()))?
        );
    } else {
        if let Some(n) = &report.notice {
            eprintln!("partsim: note: {n}");
        }
        println!(
            "checked {} events of {} (seed {})",
            report.events, report.scenario, report.seed
        );
        for n in &report.not_judged {
            println!("  not judged {n}");
        }
        for v in &report.violations {
            println!(
                "  violation  {} at {} (event {}): {}",
                v.check,
                v.t,
                v.seq.map_or("-".into(), |s| s.to_string()),
                v.detail
            );
        }
        if report.unlisted_violations > 0 {
            println!(
                "  violation  … and {} more violations not listed",
                report.unlisted_violations
            );
        }
        if report.violations.is_empty() {
            let judged: Vec<&str> = report
                .checkers
                .iter()
                .map(String::as_str)
                .filter(|c| {
                    !report
                        .not_judged
                        .iter()
                        .any(|n| n.split(':').next() == Some(c))
                })
                .collect();
            println!("  no violations ({})", judged.join(", "));
        }
    }
    Ok(if report.violations.is_empty() { 0 } else { 1 })
}

pub(crate) fn replay(path: &Path) -> Result<u8, Failure> {
    match partsim::tui::run_replay(path) {
        Ok(()) => Ok(0),
        Err(e) if e.is_bad_input() => Err(Failure::usage(e.to_string())),
        Err(e) => Err(Failure::internal(e.to_string())),
    }
}

pub(crate) fn history(trace: &Path, format: HistoryFormatArg) -> Result<u8, Failure> {
    use partsim::trace::history::{HistoryFormat, read_history, write_history};
    let (lines, notice) = read_history(trace).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(n) = notice {
        eprintln!("partsim: note: {n}");
    }
    let format = match format {
        HistoryFormatArg::Edn => HistoryFormat::Edn,
        HistoryFormatArg::Json => HistoryFormat::Json,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match write_history(&mut out, &lines, format).and_then(|()| std::io::Write::flush(&mut out)) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::internal(format!("writing the history: {e}"))),
        Ok(()) => Ok(0),
    }
}

pub(crate) fn export(trace: &Path, output: &Path) -> Result<u8, Failure> {
    let stats = partsim::trace::chrome::export_chrome(trace, output)
        .map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(n) = &stats.notice {
        eprintln!("partsim: note: {n}");
    }
    println!(
        "wrote {} (Chrome Trace Event format: open it in ui.perfetto.dev)",
        output.display()
    );
    Ok(0)
}
