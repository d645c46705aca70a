//! What `cutover group` prints: the plan of `--dry-run`, and the summary at the end of a run.
//! The full audit of a cutover is `cutover report JOURNAL` (see `report::cutover`).

use std::fmt::Write as _;

use crate::cutover::machine::Outcome;
use crate::model::{FinalOffsets, Offset, TimingParts};

use super::plan::Plan;
use super::summary::Summary;

use crate::report::cutover::format::opt_duration as ms;

fn headline(s: &Summary) -> &'static str {
    match s.outcome {
        Outcome::Done if s.offsets_by_time.is_some() => {
            "DONE: the group consumes on the copy from where the time of its last record puts it (by time, below: what it reads again or skips)"
        }
        Outcome::Done if s.restart_on == crate::model::Role::Origin => {
            "DONE: the group consumes on the origin's reverse mirrors from exactly where it stopped"
        }
        Outcome::Done => {
            "DONE: the group consumes on the destination from exactly where it stopped"
        }
        Outcome::RolledBack => "ROLLED BACK: the group consumes on the origin again",
        Outcome::Refused => "REFUSED: nothing was changed",
        Outcome::NeedsOperator => "NEEDS THE OPERATOR: the agent stopped where only you can decide",
    }
}

pub fn cutover_summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cutover of {}: {}", s.group, headline(s));
    let _ = writeln!(out, "  reason:    {}", s.reason);
    let _ = writeln!(out, "  phase:     {}", s.phase.as_str());
    let _ = writeln!(
        out,
        "  offsets:   written by the {}",
        match s.final_offsets {
            FinalOffsets::Agent => "agent (final-offsets = \"agent\")",
            FinalOffsets::Link => "link's offset sync (final-offsets = \"link\")",
        }
    );
    if let Some(proof) = &s.exclusion_proof {
        let _ = writeln!(out, "  exclusion: {proof}");
    }
    let _ = writeln!(
        out,
        "  downtime:  {} (stop hook begun → restart hook begun) · sync wait {}",
        ms(s.timings.downtime_ms),
        ms(s.timings.sync_wait_ms)
    );
    if let Some(parts) = parts_text(&s.parts) {
        let _ = writeln!(out, "  parts:     {parts}");
    }
    if !s.snapshot.is_empty() {
        let offsets: Vec<String> = s
            .snapshot
            .iter()
            .map(|p| {
                format!(
                    "{}-{}={}",
                    p.topic,
                    p.partition,
                    p.origin_committed.map_or(0, Offset::get)
                )
            })
            .collect();
        let _ = writeln!(out, "  stopped at: {}", offsets.join(", "));
    }
    if let Some(by) = &s.offsets_by_time {
        for line in by_time_lines(by) {
            let _ = writeln!(out, "  by time:   {line}");
        }
    }
    let _ = writeln!(out, "  journal:   {}", s.journal.display());
    if let Some(next) = &s.next {
        let _ = writeln!(out, "  next:      {next}");
    }
    out
}

pub fn cutover_summary_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# cutover of `{}`: {}\n", s.group, headline(s));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| outcome | `{}` |", s.outcome.as_str());
    let _ = writeln!(out, "| reason | {} |", s.reason.replace('|', "\\|"));
    let _ = writeln!(out, "| phase | `{}` |", s.phase.as_str());
    let _ = writeln!(out, "| downtime | {} |", ms(s.timings.downtime_ms));
    let _ = writeln!(out, "| sync wait | {} |", ms(s.timings.sync_wait_ms));
    if let Some(parts) = parts_text(&s.parts) {
        let _ = writeln!(out, "| parts | {parts} |");
    }
    let _ = writeln!(out, "| journal | `{}` |", s.journal.display());
    if let Some(next) = &s.next {
        let _ = writeln!(out, "\nNext: {next}");
    }
    out
}

pub fn plan_text(p: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for the cutover of {} (dry run: nothing was changed)",
        p.group
    );
    if let Some(by) = &p.offsets_by_time {
        for line in by_time_lines(by) {
            let _ = writeln!(out, "  by time now: {line}");
        }
    }
    let _ = writeln!(
        out,
        "  offset-sync interval: {} ms, from {}",
        p.sync_interval_ms, p.sync_interval_source
    );
    for (i, step) in p.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, step.phase.as_str());
        let _ = writeln!(out, "       do:    {}", step.action);
        let _ = writeln!(out, "       check: {}", step.check);
    }
    match &p.refusal {
        Some(r) => {
            let _ = writeln!(out, "  it would be REFUSED now: {r}");
        }
        None => {
            let _ = writeln!(
                out,
                "  the pre-check passes now: `cutover group {}` would start with step 1",
                p.group
            );
        }
    }
    let _ = writeln!(
        out,
        "\n  where the group stands now (the steps above are what makes it safe to start there):"
    );
    out.push_str(&crate::report::verify_table(&p.verify));
    out
}

pub fn plan_markdown(p: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Plan: cutover of `{}` (dry run)\n", p.group);
    let _ = writeln!(
        out,
        "Offset-sync interval: {} ms, from {}.\n",
        p.sync_interval_ms, p.sync_interval_source
    );
    let _ = writeln!(out, "| # | phase | action | check |\n|---|---|---|---|");
    for (i, s) in p.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            i + 1,
            s.phase.as_str(),
            s.action.replace('|', "\\|"),
            s.check.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        out,
        "\n{}\n",
        match &p.refusal {
            Some(r) => format!("**Would be refused now:** {r}"),
            None => format!(
                "The pre-check passes now: `cutover group {}` would start with step 1.",
                p.group
            ),
        }
    );
    out.push_str(
        "Where the group stands now (the steps above are what makes it safe to start there):\n\n",
    );
    out.push_str(&crate::report::verify_markdown(&p.verify));
    out
}

/// The parts of the time that were recorded, in order: `stop hook 410 ms · stop observed …`.
fn parts_text(p: &TimingParts) -> Option<String> {
    let parts: Vec<String> = p
        .recorded()
        .into_iter()
        .map(|(name, v)| format!("{name} {}", ms(Some(v))))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// One line per partition of a translation by time: where the group starts on the copy and
/// what that costs.
pub(crate) fn by_time_lines(by: &crate::report::OffsetsByTime) -> Vec<String> {
    by.partitions
        .iter()
        .map(|p| {
            let t = &p.translation;
            let cost = match by.mode {
                crate::translation::Mode::Rewind => {
                    format!("rewind: {} record(s) read again", t.read_twice)
                }
                crate::translation::Mode::Skip => format!("skip: {} record(s) skipped", t.skipped),
            };
            format!(
                "{}-{} at {} → {}-{} from {} ({cost}{})",
                p.topic,
                p.partition,
                p.committed,
                p.copy_topic,
                p.partition,
                t.start,
                if t.copy_differs {
                    "; the copy holds a different count at that time: the count is the origin's"
                } else {
                    ""
                }
            )
        })
        .collect()
}
