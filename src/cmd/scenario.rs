//! `cutover scenario FILE…`: runs scenario files on the built-in simulator (no clusters).
//!
//! Every file is parsed before anything runs; then each runs on its own paused clock and its
//! transcript and verdict are printed (or, with `--format json`, one document at the end).
//! Exit 0 only if every scenario passed. This command sits above the simulator, which in turn
//! drives the other commands: nothing the simulator imports depends on this file.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::Format;
use crate::error::{exit, Error, Result};
use crate::sim::scenario::Scenario;
use crate::sim::{run_file, verdict_line};

pub(super) async fn run(files: Vec<PathBuf>, format: Format) -> Result<i32> {
    // Each scenario builds its own runtime, which cannot start inside this one.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_and_print(&files, format));
    });
    rx.await
        .map_err(|_| Error::Internal("the simulator's thread stopped without an answer".into()))?
}

fn run_and_print(files: &[PathBuf], format: Format) -> Result<i32> {
    // Every file is parsed before anything runs: a typo in the fifth file is found first.
    let mut problems = Vec::new();
    for f in files {
        if let Err(e) = Scenario::load(f) {
            match e {
                Error::Scenario(p) => problems.extend(p),
                other => problems.push(other.to_string()),
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Scenario(problems));
    }
    let mut out = Stdout::default();
    let mut results = Vec::new();
    for f in files {
        let result = run_file(f)?;
        if format != Format::Json {
            out.print(&format!(
                "{}{}\n\n",
                result.transcript,
                verdict_line(&result)
            ))?;
        }
        results.push(result);
    }
    let passed = results.iter().filter(|r| r.passed).count();
    if format == Format::Json {
        let doc = serde_json::json!({
            "schema_version": 1,
            "passed": passed == results.len(),
            "scenarios": results,
        });
        out.print(&format!("{doc}\n"))?;
    } else if results.len() > 1 {
        out.print(&format!(
            "{passed} of {} scenario(s) passed\n",
            results.len()
        ))?;
    }
    Ok(if passed == results.len() {
        exit::OK
    } else {
        exit::UNSAFE
    })
}

/// Stdout that goes quiet once its reader has gone (`| head`): the scenarios still run, so
/// the exit code still says whether they all passed.
#[derive(Default)]
struct Stdout {
    closed: bool,
}

impl Stdout {
    fn print(&mut self, text: &str) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(source) => Err(Error::Output {
                what: "the scenario transcript to stdout".into(),
                source,
            }),
        }
    }
}
