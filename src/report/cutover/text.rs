//! The cutover report as Markdown and as terminal tables.
//!
//! Journal text is escaped for each medium: Markdown punctuation is backslash-escaped (so a
//! `<script>` in hook output stays text wherever the Markdown is rendered) and hook output
//! goes in fenced blocks longer than any backtick run inside; terminal output has its control
//! characters made visible, so hook output cannot move the cursor or recolour the screen.

use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::format::{self, outcome_label};
use super::{summary, CutoverReport};

/// Markdown text: punctuation that could start markup is backslash-escaped and line breaks
/// become spaces, so the text stays one paragraph or one table cell.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Inline code that holds any text, backticks included.
fn md_code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    // A space keeps a backtick at either end from joining the fence; one is stripped.
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A fenced block that holds any text.
fn md_block(lang: &str, s: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(s).max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}\n", s.trim_end_matches('\n'))
}

fn md_table<const N: usize>(
    out: &mut String,
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) {
    let _ = writeln!(
        out,
        "| {} |\n|{}",
        header.map(md).join(" | "),
        "---|".repeat(N)
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.map(|c| md(&c)).join(" | "));
    }
    out.push('\n');
}

/// The reports as Markdown; with several reports, a summary comes first.
pub fn markdown(reports: &[CutoverReport]) -> String {
    let mut out = match reports {
        [one] => format!("# cutover report: group {}\n\n", md(&one.group)),
        _ => format!("# cutover report: {} cutovers\n\n", reports.len()),
    };
    if reports.len() > 1 {
        let s = summary(reports);
        let _ = writeln!(
            out,
            "## Summary\n\n{} cutovers: {}.\n",
            s.cutovers,
            md(&format::outcome_counts(&s))
        );
        md_table(
            &mut out,
            format::PERCENTILES_HEADER,
            format::percentile_rows(&s),
        );
        md_table(
            &mut out,
            format::INDEX_HEADER,
            reports.iter().map(format::index_row),
        );
    }
    for r in reports {
        md_cutover(&mut out, r);
    }
    out
}

fn md_cutover(out: &mut String, r: &CutoverReport) {
    let _ = writeln!(
        out,
        "## group {} (run {})\n\n**{}**{}\n",
        md(&r.group),
        md(&r.run_id),
        md(&outcome_label(r.outcome).to_uppercase()),
        md(&format::headline_detail(r))
    );
    if !r.next_steps.is_empty() {
        out.push_str("Next, one of:\n\n");
        for step in &r.next_steps {
            let _ = writeln!(out, "- {}", md_code(step));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Journal {}\n", md_code(&r.journal));
    for s in &r.sessions {
        let _ = writeln!(out, "- {}", md(&format::session_line(s)));
    }
    for n in format::notices(r) {
        let _ = writeln!(out, "- **warning:** {}", md(&n));
    }
    if !r.unfinished_effects.is_empty() {
        let _ = writeln!(out, "- **warning:** {}:", md(format::unfinished_note(r)));
        for u in &r.unfinished_effects {
            let _ = writeln!(out, "  - {}", md(&format::unfinished_line(u)));
        }
    }

    let evidence = format::evidence_rows(r);
    if !evidence.is_empty() {
        out.push_str("\n### Evidence\n\n");
        md_table(
            out,
            ["fact", "value"],
            evidence.into_iter().map(|(k, v)| [k, v]),
        );
    }
    if !r.moves.is_empty() {
        out.push_str("\n### Offsets\n\n");
        md_table(
            out,
            format::MOVES_HEADER,
            r.moves.iter().map(format::move_row),
        );
    }
    if let Some(by) = &r.offsets_by_time {
        out.push_str("\n### Where it started on the copy (by time)\n\n");
        for line in crate::report::group::by_time_lines(by) {
            let _ = writeln!(out, "- {}", md(&line));
        }
    }
    out.push_str("\n### Timings\n\n");
    md_table(
        out,
        ["timing", "value"],
        format::timing_rows(&r.timings)
            .into_iter()
            .map(|(label, value)| [label.to_string(), value]),
    );
    if r.timings.estimated {
        let _ = writeln!(out, "{}.\n", md(format::ESTIMATED_NOTE));
    }

    out.push_str("### Timeline\n\n");
    md_table(
        out,
        format::TIMELINE_HEADER,
        r.timeline.iter().map(format::timeline_row),
    );

    if !r.hooks.is_empty() {
        out.push_str("### Hooks\n\n");
        for h in &r.hooks {
            let _ = writeln!(
                out,
                "#### {}\n\n{}\n",
                md(&format::hook_title(h)),
                md(&format::hook_facts(h))
            );
            if let Some(report) = &h.report {
                let _ = writeln!(out, "ran {}\n", md_code(&report.description));
                for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
                    if !text.is_empty() {
                        let _ = writeln!(out, "{name}:\n\n{}", md_block("text", text));
                    }
                }
            }
        }
    }

    if let Some(f) = &r.link_filters {
        out.push_str("### Link group filters\n\n");
        for (label, value) in [
            ("before", &f.before),
            ("after", &f.after),
            ("restored", &f.restored),
        ] {
            if let Some(value) = value {
                let _ = writeln!(out, "{label}:\n\n{}", md_block("json", value));
            }
        }
    }

    out.push_str("### Offsets\n\n");
    match &r.final_offsets {
        Some(last) => {
            let _ = writeln!(out, "{}\n", md(&format::snapshot_line(last)));
            md_table(
                out,
                format::OFFSETS_HEADER,
                last.partitions.iter().map(format::offsets_row),
            );
        }
        None => out.push_str("The run recorded no observation.\n\n"),
    }
}

/// Terminal text: control characters other than line breaks and tabs are shown escaped.
fn term(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn term_table<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut b = Builder::default();
    b.push_record(header);
    for row in rows {
        b.push_record(row.map(|c| term(&c)));
    }
    b.build().with(Style::sharp()).to_string()
}

fn indented(out: &mut String, indent: &str, text: &str) {
    for line in term(text).lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

/// The reports as terminal text and tables; with several reports, a summary comes last.
pub fn table(reports: &[CutoverReport]) -> String {
    let mut out = String::new();
    for r in reports {
        term_cutover(&mut out, r);
    }
    if reports.len() > 1 {
        let s = summary(reports);
        let _ = writeln!(
            out,
            "{} cutovers: {}",
            s.cutovers,
            term(&format::outcome_counts(&s))
        );
        let _ = writeln!(
            out,
            "{}\n{}",
            term_table(format::PERCENTILES_HEADER, format::percentile_rows(&s)),
            term_table(format::INDEX_HEADER, reports.iter().map(format::index_row))
        );
    }
    out
}

fn term_cutover(out: &mut String, r: &CutoverReport) {
    let _ = writeln!(
        out,
        "group {} · run {}: {}{}",
        term(&r.group),
        term(&r.run_id),
        outcome_label(r.outcome).to_uppercase(),
        term(&format::headline_detail(r))
    );
    for step in &r.next_steps {
        let _ = writeln!(out, "  next: {}", term(step));
    }
    let _ = writeln!(out, "journal {}", term(&r.journal));
    for s in &r.sessions {
        let _ = writeln!(out, "  {}", term(&format::session_line(s)));
    }
    for n in format::notices(r) {
        let _ = writeln!(out, "  warning: {}", term(&n));
    }
    if !r.unfinished_effects.is_empty() {
        let _ = writeln!(out, "  warning: {}:", format::unfinished_note(r));
        for u in &r.unfinished_effects {
            let _ = writeln!(out, "    {}", term(&format::unfinished_line(u)));
        }
    }
    for (fact, value) in format::evidence_rows(r) {
        let _ = writeln!(out, "  {fact}: {}", term(&value));
    }
    if !r.moves.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            term_table(format::MOVES_HEADER, r.moves.iter().map(format::move_row))
        );
    }
    if let Some(by) = &r.offsets_by_time {
        for line in crate::report::group::by_time_lines(by) {
            let _ = writeln!(out, "by time: {}", term(&line));
        }
    }
    // Durations on one line, the times they come from on the next.
    let rows: Vec<String> = format::timing_rows(&r.timings)
        .into_iter()
        .map(|(label, value)| format!("{label} {value}"))
        .collect();
    // The times begin with "started" (the durations before it vary with the parts recorded).
    let at = rows
        .iter()
        .position(|r| r.starts_with("started "))
        .unwrap_or(rows.len());
    let (durations, times) = rows.split_at(at);
    let _ = writeln!(out, "{}\n{}", durations.join(" · "), times.join(" · "));
    if r.timings.estimated {
        let _ = writeln!(out, "  note: {}", format::ESTIMATED_NOTE);
    }
    let _ = writeln!(
        out,
        "{}",
        term_table(
            format::TIMELINE_HEADER,
            r.timeline.iter().map(format::timeline_row)
        )
    );
    for h in &r.hooks {
        let _ = writeln!(
            out,
            "{} ({})",
            term(&format::hook_title(h)),
            term(&format::hook_facts(h))
        );
        if let Some(report) = &h.report {
            let _ = writeln!(out, "  ran {}", term(&report.description));
            for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
                if !text.is_empty() {
                    let _ = writeln!(out, "  {name}:");
                    indented(out, "    ", text);
                }
            }
        }
    }
    if let Some(f) = &r.link_filters {
        for (label, value) in [
            ("before", &f.before),
            ("after", &f.after),
            ("restored", &f.restored),
        ] {
            if let Some(value) = value {
                let _ = writeln!(out, "link group filters {label}: {}", term(value));
            }
        }
    }
    match &r.final_offsets {
        Some(last) => {
            let _ = writeln!(
                out,
                "{}\n{}",
                term(&format::snapshot_line(last)),
                term_table(
                    format::OFFSETS_HEADER,
                    last.partitions.iter().map(format::offsets_row)
                )
            );
        }
        None => out.push_str("the run recorded no observation\n"),
    }
    out.push('\n');
}
