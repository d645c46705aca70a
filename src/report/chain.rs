//! `cutover report --verify`: whether each journal's hash chain holds, and where it broke, as a
//! terminal table, Markdown or JSON. The check itself is `journal::chain`; this only lays it
//! out.

use std::fmt::Write as _;

use serde::Serialize;
use tabled::settings::object::Columns;
use tabled::settings::{Modify, Width};

use super::tables::{md_table, sharp_table};
use crate::journal::chain::{ChainCheck, Verdict};

/// The JSON schema version of the chain report.
pub const CHAIN_SCHEMA_VERSION: u32 = 1;

/// The chain check of every journal given.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub schema_version: u32,
    /// Whether every journal's chain holds (exit 0); otherwise the exit code is 1.
    pub holds: bool,
    pub journals: Vec<ChainCheck>,
}

impl ChainReport {
    pub fn new(journals: Vec<ChainCheck>) -> ChainReport {
        ChainReport {
            schema_version: CHAIN_SCHEMA_VERSION,
            holds: journals.iter().all(|j| j.verdict.holds()),
            journals,
        }
    }

    fn tally(&self) -> String {
        let count = |f: fn(Verdict) -> bool| self.journals.iter().filter(|j| f(j.verdict)).count();
        let failing = count(|v| !v.holds());
        format!(
            "{} journal(s): {} intact, {} without a chain, {} empty, {failing} broken or cut",
            self.journals.len(),
            count(|v| v == Verdict::Intact),
            count(|v| v == Verdict::Unchained),
            count(|v| v == Verdict::Empty),
        )
    }
}

const HEADER: [&str; 3] = ["journal", "verdict", "chain"];
/// The terminal table's chain column wraps at this width.
const CHAIN_WIDTH: usize = 72;

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Intact => "INTACT",
        Verdict::Unchained => "NO CHAIN",
        Verdict::Empty => "EMPTY",
        Verdict::Broken => "BROKEN",
        Verdict::Cut => "CUT",
    }
}

/// Every problem past the headline of each journal that has some.
fn details(r: &ChainReport) -> Vec<(String, Vec<String>)> {
    r.journals
        .iter()
        .filter(|j| j.problems.len() > 1 || j.more_problems > 0)
        .map(|j| {
            let mut lines: Vec<String> = j
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "line {}{}: {}",
                        p.line,
                        p.seq.map(|s| format!(" (seq {s})")).unwrap_or_default(),
                        p.message
                    )
                })
                .collect();
            if j.more_problems > 0 {
                lines.push(format!("… and {} more", j.more_problems));
            }
            (j.journal.clone(), lines)
        })
        .collect()
}

/// The hash of each journal's last line: kept elsewhere, it vouches for that line too.
fn heads(r: &ChainReport) -> Vec<String> {
    r.journals
        .iter()
        .filter_map(|j| j.head.as_ref().map(|h| format!("{h}  {}", j.journal)))
        .collect()
}

/// The chain report as a terminal table, then every problem of a journal with several, and the
/// hash of each journal's last line.
pub fn chain_table(r: &ChainReport) -> String {
    let mut table = sharp_table(
        &HEADER,
        r.journals.iter().map(|j| {
            vec![
                j.journal.clone(),
                verdict(j.verdict).to_string(),
                j.summary(),
            ]
        }),
    );
    table.with(Modify::new(Columns::single(2)).with(Width::wrap(CHAIN_WIDTH).keep_words(true)));
    let mut out = format!("{table}\n\n");
    for (journal, lines) in details(r) {
        let _ = writeln!(out, "{journal}:");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    let heads = heads(r);
    if !heads.is_empty() {
        let _ = writeln!(
            out,
            "last line's SHA-256 (keep it elsewhere to vouch for that line too):"
        );
        for h in heads {
            let _ = writeln!(out, "  {h}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", r.tally());
    out
}

/// The chain report as Markdown.
pub fn chain_markdown(r: &ChainReport) -> String {
    let mut out = format!("# cutover report --verify\n\n{}.\n\n", r.tally());
    out.push_str(&md_table(
        &["journal", "verdict", "chain", "last line's SHA-256"],
        r.journals.iter().map(|j| {
            vec![
                format!("`{}`", j.journal),
                verdict(j.verdict).to_string(),
                j.summary(),
                j.head
                    .as_ref()
                    .map(|h| format!("`{h}`"))
                    .unwrap_or_default(),
            ]
        }),
    ));
    for (journal, lines) in details(r) {
        let _ = write!(out, "\n## `{journal}`\n\n");
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}
