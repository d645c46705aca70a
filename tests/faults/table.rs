//! The campaign's table, in Markdown: one row per run, as the README prints it.

use std::fmt::Write as _;
use std::time::Duration;

use crate::run::{Ended, Row};

/// When in a cutover a phase lies, for a reader who does not know the phases.
fn when(phase: &str) -> &'static str {
    match phase {
        "plan" => "from the start",
        "excluding" | "proving_exclusion" => "before the stop",
        "stopping" => "during the stop",
        "restarting" => "during the restart",
        "awaiting_restart" => "after the restart",
        _ => "between stop and restart",
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// An outcome as the table says it: `done`, `rolled back`, `needs operator: <hint>`.
fn said(e: &Ended) -> String {
    let hint = |reason: &str| {
        // The reason's last sentence is what to do.
        let last = reason
            .rsplit_once(". ")
            .map_or(reason, |(_, last)| last)
            .trim_end_matches('.');
        format!("“{last}”")
    };
    match e.outcome.as_str() {
        "done" => match e.reason.split_once(", although ") {
            // The restart hook failed, yet the group consumes on the destination.
            Some((_, hook)) => {
                format!("done, although {}", hook.split(" (").next().unwrap_or(hook))
            }
            None => "done".into(),
        },
        "rolled_back" => format!("rolled back ({})", rolled_back_why(&e.reason)),
        "needs_operator" => format!("needs operator: {}", hint(&e.reason)),
        "killed" => "killed".into(),
        other if other.starts_with("error") => {
            format!("{other}: hint “{}”", e.hint.as_deref().unwrap_or_default())
        }
        other => other.to_string(),
    }
}

/// The start of a rollback's reason: what made the agent roll back.
fn rolled_back_why(reason: &str) -> String {
    let why = reason.split(';').next().unwrap_or(reason);
    let why = why.split(" (").next().unwrap_or(why);
    why.trim().to_string()
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// The table, with a line saying what ran, where and how long it took.
pub(crate) fn markdown(rows: &[Row], total: Duration, header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "| # | fault | injected at (phase) | the agent's outcome | the operator's next step → end | group left stopped | app ends on | duplicates | gaps | took |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let case = &row.case;
        let mode = if case.link_mode { ", link mode" } else { "" };
        let outcome = row.first.as_ref().map_or("—".into(), said);
        let operator = if row.operator.is_empty() {
            "—".to_string()
        } else {
            row.operator
                .iter()
                .map(|(step, end)| format!("{step} → {}", said(end)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let stopped = row
            .left_stopped
            .as_deref()
            .map_or("no".to_string(), |why| format!("yes: {why}"));
        let problems = if row.problems.is_empty() {
            String::new()
        } else {
            format!(" **FAILED: {}**", row.problems.join("; "))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} (`{}`{mode}) | {}{problems} | {} | {} | {} | {} | {} | {} |",
            row.number,
            cell(&case.fault.describe()),
            when(case.phase),
            case.phase,
            cell(&outcome),
            cell(&operator),
            cell(&stopped),
            row.ends_on,
            row.duplicates,
            row.gaps,
            secs(row.took),
        );
    }
    let _ = writeln!(
        out,
        "\n{} runs in {}; duplicates and gaps are counted from the application's own tally of every record it processed, on both clusters.",
        rows.len(),
        secs(total)
    );
    out
}
