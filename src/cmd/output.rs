//! Writing a command's report to stdout in the chosen format.
//!
//! Renderers (`crate::report`) decide nothing; this file only picks one per format and writes
//! its text. A reader that closes the pipe early (`cutover verify … | head -2`) ends the output
//! quietly, as `grep` does: the command's exit code still tells its verdict. Any other write
//! failure is an [`Error::Output`] (exit 6), never "bad usage".

use std::io::Write;

use crate::cli::Format;
use crate::error::{Error, Result};
use crate::report;

use super::Report;

/// Writes `report` to stdout; a closed pipe is not an error.
pub fn print_report(format: Format, report: &Report) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    quiet_on_closed_pipe(
        write_report(format, report, &mut out).and_then(|()| out.flush().map_err(cannot_write)),
    )
}

/// Writes text (already rendered) and a final newline to stdout; a closed pipe is not an error.
pub fn print_text(text: &str) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    quiet_on_closed_pipe(
        writeln!(out, "{}", text.trim_end())
            .and_then(|()| out.flush())
            .map_err(cannot_write),
    )
}

/// Writes a report in the chosen format. `--format html` is for cutover journals only
/// (`cutover report`): [`args::prepare`](super::args::prepare) refuses it for the others
/// before anything runs.
pub fn write_report(format: Format, report: &Report, out: &mut dyn Write) -> Result<()> {
    match report {
        Report::Verify(r) => write_one(
            format,
            r,
            report::verify_table,
            report::verify_markdown,
            out,
        ),
        Report::Audit(r) => write_one(format, r, report::audit_table, report::audit_markdown, out),
        Report::Plan(p) => write_one(
            format,
            p.as_ref(),
            report::plan_text,
            report::plan_markdown,
            out,
        ),
        Report::Watch(w) => write_one(
            format,
            w.as_ref(),
            report::watch::watch_table,
            report::watch::watch_markdown,
            out,
        ),
        Report::Promote(p) => write_one(
            format,
            p.as_ref(),
            report::promote::promote_table,
            report::promote::promote_markdown,
            out,
        ),
        Report::Runbook(r) => write_one(
            format,
            r.as_ref(),
            report::runbook::runbook_table,
            report::runbook::runbook_markdown,
            out,
        ),
        Report::Cutover(s) => write_one(
            format,
            s.as_ref(),
            report::cutover_summary_text,
            report::cutover_summary_markdown,
            out,
        ),
    }
}

fn write_one<T: serde::Serialize>(
    format: Format,
    report: &T,
    table: fn(&T) -> String,
    markdown: fn(&T) -> String,
    out: &mut dyn Write,
) -> Result<()> {
    let text = match format {
        Format::Table => table(report),
        Format::Json => {
            // Streamed, compact: a cluster-wide report can hold 100,000 partitions.
            serde_json::to_writer(&mut *out, report).map_err(|e| match e.io_error_kind() {
                Some(kind) => cannot_write(std::io::Error::new(kind, e)),
                None => Error::Internal(format!("a report did not serialise: {e}")),
            })?;
            return out.write_all(b"\n").map_err(cannot_write);
        }
        Format::Markdown => markdown(report),
        Format::Html => {
            return Err(Error::Internal(
                "--format html reached a command other than `cutover report` (args refuses it up front)".into(),
            ))
        }
    };
    writeln!(out, "{}", text.trim_end()).map_err(cannot_write)
}

fn cannot_write(source: std::io::Error) -> Error {
    Error::Output {
        what: "the report to stdout".into(),
        source,
    }
}

/// A reader that went away (`| head`) is the reader's choice, not a failure.
fn quiet_on_closed_pipe(result: Result<()>) -> Result<()> {
    match result {
        Err(Error::Output { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    #[test]
    fn a_closed_pipe_ends_the_output_quietly() {
        let closed = Err(cannot_write(std::io::ErrorKind::BrokenPipe.into()));
        assert!(quiet_on_closed_pipe(closed).is_ok());
    }

    #[test]
    fn any_other_write_failure_is_an_output_error_not_bad_usage() {
        let full = Err(cannot_write(std::io::Error::other(
            "no space left on device",
        )));
        let err = quiet_on_closed_pipe(full).expect_err("a full disk is an error");
        assert_eq!(err.exit_code(), exit::OUTPUT);
    }
}
