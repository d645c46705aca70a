//! The cutover report as one self-contained HTML page: the style is inline, the charts are
//! inline SVG, and nothing is fetched (no script, stylesheet, font or image from anywhere),
//! so the page can be mailed, archived and printed as it is.
//!
//! Every string that comes from a journal (group ids, hook output, reasons, filters) goes
//! through [`esc`]: a journal is written from hook output the agent does not control.

use std::fmt::Write as _;

use super::chart::{partition_chart, PhaseMark};
use super::format::{self, outcome_label};
use super::{observed_partitions, summary, CutoverReport, Event};
use crate::journal::PartitionSample;
use crate::model::Offset;

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are invalid in HTML text; show them as escapes.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {
                out.extend(c.escape_default())
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.35rem; margin-top: 2.5rem; border-bottom: 2px solid #333; } h3 { font-size: 1.1rem; margin-top: 1.6rem; } h4 { font-size: 1rem; margin: 0.4rem 0; }
.run { font-weight: normal; color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.banner { border: 2px solid; border-radius: 4px; padding: 0.6rem 0.9rem; font-size: 1.1rem; margin: 0.8rem 0; }
.banner .label { font-weight: bold; text-transform: uppercase; }
.b-done { background: #e8f6ec; border-color: #1e8449; }
.b-rolled_back, .b-refused { background: #fdf3e1; border-color: #b9770e; }
.b-needs_operator, .b-in_progress, .b-unknown, .b-partial { background: #fbe9e7; border-color: #c0392b; }
.b-planned { background: #eef2f8; border-color: #1f5fa8; }
.notice { color: #8a3b00; }
.hook { border-left: 4px solid #999; padding-left: 0.8rem; margin: 1rem 0; }
.hook.failed { border-left-color: #c0392b; }
figure { margin: 1rem 0; } figcaption { font-weight: bold; margin-bottom: 0.2rem; }
svg.chart { max-width: 100%; height: auto; }
@page { margin: 1.5cm; }
@media print {
  body { margin: 0; max-width: none; }
  section.cutover + section.cutover, section.summary + section.cutover { break-before: page; }
  figure, table, .hook, .banner { break-inside: avoid; }
  .banner, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The reports as one self-contained HTML page; with several reports, a summary comes first.
pub fn html(reports: &[CutoverReport]) -> String {
    let title = match reports {
        [one] => format!("cutover report: group {}", one.group),
        _ => format!("cutover report: {} cutovers", reports.len()),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if reports.len() > 1 {
        summary_section(&mut out, reports);
    }
    for (i, r) in reports.iter().enumerate() {
        cutover_section(&mut out, i, r);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// A table of text cells, every one escaped.
pub(crate) fn table<R: IntoIterator<Item = String>>(
    out: &mut String,
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) {
    out.push_str("<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn summary_section(out: &mut String, reports: &[CutoverReport]) {
    let s = summary(reports);
    let _ = writeln!(
        out,
        "<section class=\"summary\">\n<h2>Summary</h2>\n<p>{} cutovers: {}.</p>",
        s.cutovers,
        esc(&format::outcome_counts(&s))
    );
    table(
        out,
        &format::PERCENTILES_HEADER,
        format::percentile_rows(&s),
    );
    out.push_str("<table>\n<tr>");
    for h in format::INDEX_HEADER {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for (i, r) in reports.iter().enumerate() {
        let [group, rest @ ..] = format::index_row(r);
        let _ = write!(
            out,
            "<tr><td><a href=\"#cutover-{i}\">{}</a></td>",
            esc(&group)
        );
        for cell in rest {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</section>\n");
}

fn cutover_section(out: &mut String, i: usize, r: &CutoverReport) {
    let _ = writeln!(
        out,
        "<section class=\"cutover\" id=\"cutover-{i}\">\n<h2>group {} <span class=\"run\">run {}</span></h2>",
        esc(&r.group),
        esc(&r.run_id)
    );
    let _ = writeln!(
        out,
        "<div class=\"banner b-{}\"><span class=\"label\">{}</span>{}</div>",
        r.outcome.as_str(),
        esc(outcome_label(r.outcome)),
        esc(&format::headline_detail(r))
    );
    if !r.next_steps.is_empty() {
        out.push_str("<p>Next, one of:</p>\n<ul>\n");
        for step in &r.next_steps {
            let _ = writeln!(out, "<li><code>{}</code></li>", esc(step));
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(out, "<p>Journal <code>{}</code></p>", esc(&r.journal));
    list(out, "", r.sessions.iter().map(format::session_line));
    list(out, "notice", format::notices(r));
    if !r.unfinished_effects.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"notice\">{}:</p>",
            esc(format::unfinished_note(r))
        );
        list(
            out,
            "notice",
            r.unfinished_effects.iter().map(format::unfinished_line),
        );
    }

    let evidence = format::evidence_rows(r);
    if !evidence.is_empty() {
        out.push_str("<h3>Evidence</h3>\n<table>\n");
        for (fact, value) in evidence {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                esc(&fact),
                esc(&value)
            );
        }
        out.push_str("</table>\n");
    }
    if !r.moves.is_empty() {
        out.push_str("<h3>Offsets</h3>\n");
        table(
            out,
            &format::MOVES_HEADER,
            r.moves.iter().map(format::move_row),
        );
    }
    if let Some(by) = &r.offsets_by_time {
        out.push_str("<h3>Where it started on the copy (by time)</h3>\n<ul>\n");
        for line in crate::report::group::by_time_lines(by) {
            let _ = writeln!(out, "<li>{}</li>", esc(&line));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h3>Timings</h3>\n<table>\n");
    for (label, value) in format::timing_rows(&r.timings) {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            esc(label),
            esc(&value)
        );
    }
    out.push_str("</table>\n");
    if r.timings.estimated {
        let _ = writeln!(
            out,
            "<p class=\"notice\">{}.</p>",
            esc(format::ESTIMATED_NOTE)
        );
    }

    out.push_str("<h3>Timeline</h3>\n");
    table(
        out,
        &format::TIMELINE_HEADER,
        r.timeline.iter().map(format::timeline_row),
    );

    hooks(out, r);
    filters(out, r);
    offsets(out, r);
    out.push_str("</section>\n");
}

fn list(out: &mut String, class: &str, items: impl IntoIterator<Item = String>) {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        return;
    }
    if class.is_empty() {
        out.push_str("<ul>\n");
    } else {
        let _ = writeln!(out, "<ul class=\"{class}\">");
    }
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", esc(&item));
    }
    out.push_str("</ul>\n");
}

fn hooks(out: &mut String, r: &CutoverReport) {
    if r.hooks.is_empty() {
        return;
    }
    out.push_str("<h3>Hooks</h3>\n");
    for h in &r.hooks {
        let _ = writeln!(
            out,
            "<div class=\"hook{}\">\n<h4>{}</h4>\n<p>{}</p>",
            if h.ok { "" } else { " failed" },
            esc(&format::hook_title(h)),
            esc(&format::hook_facts(h))
        );
        if let Some(report) = &h.report {
            let _ = writeln!(out, "<p>ran <code>{}</code></p>", esc(&report.description));
            for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
                if !text.is_empty() {
                    let _ = writeln!(out, "<p>{name}</p>\n<pre>{}</pre>", esc(text));
                }
            }
            if report.stdout.is_empty() && report.stderr.is_empty() {
                out.push_str("<p>no output</p>\n");
            }
        }
        out.push_str("</div>\n");
    }
}

fn filters(out: &mut String, r: &CutoverReport) {
    let Some(f) = &r.link_filters else {
        return;
    };
    out.push_str("<h3>Link group filters</h3>\n<table>\n");
    for (label, value) in [
        ("before", &f.before),
        ("after", &f.after),
        ("restored", &f.restored),
    ] {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "<tr><th>{label}</th><td><pre>{}</pre></td></tr>",
                esc(value)
            );
        }
    }
    out.push_str("</table>\n");
}

fn offsets(out: &mut String, r: &CutoverReport) {
    out.push_str("<h3>Offsets</h3>\n");
    let Some(last) = &r.final_offsets else {
        out.push_str("<p>The run recorded no observation.</p>\n");
        return;
    };
    let _ = writeln!(out, "<p>{}</p>", esc(&format::snapshot_line(last)));
    table(
        out,
        &format::OFFSETS_HEADER,
        last.partitions.iter().map(format::offsets_row),
    );

    let phases: Vec<PhaseMark<'_>> = r
        .timeline
        .iter()
        .filter_map(|row| match &row.event {
            Event::Phase { phase, .. } => Some(PhaseMark {
                since_start_ms: row.since_start_ms,
                phase,
            }),
            _ => None,
        })
        .collect();
    let partitions = observed_partitions(&r.observations);
    if partitions.len() > MAX_PARTITION_CHARTS {
        // Many partitions: one chart of their sums first (the whole group at a glance), then
        // the first few partitions; every partition's figures are in the table above.
        let sums: Vec<(i64, PartitionSample)> = r
            .observations
            .iter()
            .map(|o| (o.since_start_ms, summed(&o.partitions)))
            .collect();
        let samples: Vec<(i64, &PartitionSample)> = sums.iter().map(|(t, p)| (*t, p)).collect();
        let name = format!("all {} partitions (sums)", partitions.len());
        let _ = writeln!(
            out,
            "<figure>\n<figcaption>{}</figcaption>\n{}</figure>",
            esc(&name),
            partition_chart(&name, &samples, &phases)
        );
        let _ = writeln!(
            out,
            "<p>Charts of the first {MAX_PARTITION_CHARTS} of {} partitions follow; the table above has every partition's offsets.</p>",
            partitions.len()
        );
    }
    for (topic, partition) in partitions.into_iter().take(MAX_PARTITION_CHARTS) {
        let samples: Vec<_> = r
            .observations
            .iter()
            .filter_map(|o| {
                o.partitions
                    .iter()
                    .find(|p| p.topic == topic && p.partition == partition)
                    .map(|p| (o.since_start_ms, p))
            })
            .collect();
        let name = format!("{topic}-{partition}");
        let _ = writeln!(
            out,
            "<figure>\n<figcaption>{}</figcaption>\n{}</figure>",
            esc(&name),
            partition_chart(&name, &samples, &phases)
        );
    }
}

/// Past this many partitions, the page charts their sums and the first this many.
const MAX_PARTITION_CHARTS: usize = 12;

#[cfg(test)]
pub(super) fn sums_for_test(partitions: &[PartitionSample]) -> PartitionSample {
    summed(partitions)
}

/// One observation's partitions added up, series by series (a series missing on a partition
/// is left out of that sum).
fn summed(partitions: &[PartitionSample]) -> PartitionSample {
    let sum = |f: fn(&PartitionSample) -> Option<Offset>| {
        let values: Vec<i64> = partitions
            .iter()
            .filter_map(|p| f(p).map(Offset::get))
            .collect();
        (!values.is_empty()).then(|| Offset(values.iter().sum()))
    };
    PartitionSample {
        topic: "all".into(),
        partition: -1,
        origin_committed: sum(|p| p.origin_committed),
        destination_committed: sum(|p| p.destination_committed),
        origin_end: sum(|p| p.origin_end),
        mirror_end: sum(|p| p.mirror_end),
    }
}
