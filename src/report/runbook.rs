//! The report of a runbook (`cutover run`, and `cutover report` on a runbook's journal): every
//! stage with its outcome, every group with its outcome and downtime, every promoted topic,
//! downtime percentiles across the groups, mirror lag over time, and what to run next. Built
//! from the runbook's journal alone, so the report of a run and of its journal read later are
//! the same.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tabled::settings::object::Columns;
use tabled::settings::{Modify, Width};

use super::cutover::{esc, html_table, lag_chart, percentiles, Percentiles, PhaseMark, STYLE};
use super::tables::{md_table, serde_plain, sharp_table};
use crate::journal::{Entry, Record};

/// The `group` field of a runbook journal's records starts with this (`journal::Subject`).
pub const RUNBOOK_PREFIX: &str = "runbook:";

/// How a runbook stands. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookOutcome {
    /// Every stage finished and met its criterion.
    Done,
    /// A stage failed (or the run was interrupted): the stages after it did not run.
    Partial,
    /// The run has not finished (its agent is running or was killed).
    InProgress,
    /// `--dry-run`: the plan; nothing was changed.
    Planned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Done,
    Failed,
    /// Started, not finished (interrupted).
    Started,
    NotRun,
    Planned,
}

/// One stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub status: StageStatus,
    pub summary: String,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

/// One group a groups stage took on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub group: String,
    pub stage: String,
    /// `done`, `already_moved`, `rolled_back`, `refused`, `needs_operator`, `error`,
    /// `interrupted`.
    pub outcome: String,
    pub downtime_ms: Option<i64>,
    pub reason: String,
    pub journal: Option<String>,
}

/// One topic a promote stage took on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRow {
    pub topic: String,
    pub stage: String,
    pub state: String,
    pub writable: bool,
}

/// What the promotion gate measured of one topic before it was promoted: the evidence that
/// nothing was left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotionEvidence {
    pub topic: String,
    pub stage: String,
    /// How long the origin's ends were watched, still.
    pub window_ms: u64,
    /// Per partition: (partition, origin end, mirror end) as the gate read them.
    pub partitions: Vec<(i64, Option<i64>, Option<i64>)>,
}

/// Mirror lag at one moment of a watch stage (every watched mirror together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagMark {
    pub at_ms: i64,
    pub lag: Option<i64>,
}

/// What a stage's outcome record carries (`detail` of the `stage` outcome).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageDetail {
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub summary: String,
    #[serde(default)]
    pub groups: Vec<GroupRow>,
    #[serde(default)]
    pub topics: Vec<TopicRow>,
    #[serde(default)]
    pub lag: Vec<LagMark>,
    /// The command's own report (watch, audit, promote, the hook's), for the record.
    #[serde(default)]
    pub report: serde_json::Value,
}

/// The report of a runbook.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookReport {
    pub schema_version: u32,
    pub runbook: String,
    pub run_id: String,
    pub outcome: RunbookOutcome,
    pub stages: Vec<StageReport>,
    pub groups: Vec<GroupRow>,
    pub topics: Vec<TopicRow>,
    pub evidence: Vec<PromotionEvidence>,
    /// Downtime across the groups restarted on the destination.
    pub downtime_ms: Option<Percentiles>,
    pub lag: Vec<LagMark>,
    pub next: Option<String>,
    pub journal: String,
}

impl RunbookReport {
    /// What a `--worker` did: the groups it handled, their journals in `store`.
    pub fn of_worker(runbook: &str, groups: Vec<GroupRow>, store: &str) -> RunbookReport {
        let all_moved = groups
            .iter()
            .all(|g| matches!(g.outcome.as_str(), "done" | "already_moved"));
        RunbookReport {
            schema_version: super::SCHEMA_VERSION,
            runbook: runbook.to_string(),
            run_id: format!("worker {}", crate::version::agent()),
            outcome: if all_moved {
                RunbookOutcome::Done
            } else {
                RunbookOutcome::Partial
            },
            stages: Vec::new(),
            downtime_ms: percentiles(groups.iter().filter_map(|g| g.downtime_ms)),
            groups,
            topics: Vec::new(),
            evidence: Vec::new(),
            lag: Vec::new(),
            next: (!all_moved).then(|| {
                "the groups not moved are named with their reason: see `cutover report GROUP` for each".to_string()
            }),
            journal: store.to_string(),
        }
    }

    /// Whether a journal's records are a runbook's.
    pub fn is_runbook_journal(entries: &[Entry]) -> bool {
        entries
            .first()
            .is_some_and(|e| e.group.starts_with(RUNBOOK_PREFIX))
    }

    /// The report of the last run in a runbook's journal: its stages (names and kinds) and
    /// its file come from the run's `started` record.
    pub fn from_journal(entries: &[Entry], journal: &str) -> RunbookReport {
        let run_id = entries.last().map(|e| e.run_id.clone()).unwrap_or_default();
        let runbook = entries
            .first()
            .map(|e| e.group.trim_start_matches(RUNBOOK_PREFIX).to_string())
            .unwrap_or_default();
        let run: Vec<&Entry> = entries.iter().filter(|e| e.run_id == run_id).collect();
        let settings = run.iter().rev().find_map(|e| match &e.record {
            Record::Started { settings, .. } => Some(settings),
            _ => None,
        });
        let stage_names: Vec<(String, String)> = settings
            .and_then(|s| s["stages"].as_array())
            .map(|stages| {
                stages
                    .iter()
                    .map(|s| {
                        (
                            s["name"].as_str().unwrap_or("?").to_string(),
                            s["kind"].as_str().unwrap_or("?").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let file = settings
            .and_then(|s| s["runbook"].as_str())
            .unwrap_or("RUNBOOK.toml")
            .to_string();
        let mut started: BTreeMap<usize, i64> = BTreeMap::new();
        let mut details: BTreeMap<usize, (bool, i64, StageDetail)> = BTreeMap::new();
        let mut finished = None;
        for e in &run {
            match &e.record {
                Record::Intent { effect, detail } if effect == "stage" => {
                    if let Some(i) = detail["index"].as_u64() {
                        started.entry(i as usize).or_insert(e.ts_ms);
                    }
                }
                Record::Outcome { effect, ok, detail } if effect == "stage" => {
                    if let Ok(d) = serde_json::from_value::<StageDetail>(detail.clone()) {
                        details.insert(d.index, (*ok, e.ts_ms, d));
                    }
                }
                Record::Finished { outcome, .. } => finished = Some(outcome.clone()),
                _ => {}
            }
        }
        let count = stage_names
            .len()
            .max(details.keys().max().map_or(0, |m| m + 1));
        let mut stages = Vec::new();
        let (mut groups, mut topics, mut lag) = (Vec::new(), Vec::new(), Vec::new());
        let mut evidence = Vec::new();
        for index in 0..count {
            let (name, kind) = stage_names
                .get(index)
                .cloned()
                .unwrap_or_else(|| (format!("stage {}", index + 1), "?".into()));
            let (status, summary, finished_ms) = match details.get(&index) {
                Some((ok, at, d)) => {
                    groups.extend(d.groups.iter().cloned());
                    topics.extend(d.topics.iter().cloned());
                    lag.extend(d.lag.iter().copied());
                    if d.kind == "promote" {
                        evidence.extend(promotion_evidence(d));
                    }
                    let status = if *ok {
                        StageStatus::Done
                    } else {
                        StageStatus::Failed
                    };
                    (status, d.summary.clone(), Some(*at))
                }
                None if started.contains_key(&index) => (
                    StageStatus::Started,
                    "started; did not finish (interrupted)".to_string(),
                    None,
                ),
                None => (StageStatus::NotRun, String::new(), None),
            };
            stages.push(StageReport {
                index,
                name,
                kind,
                status,
                summary,
                started_ms: started.get(&index).copied(),
                finished_ms,
            });
        }
        let outcome = match finished.as_deref() {
            Some("done") => RunbookOutcome::Done,
            Some(_) => RunbookOutcome::Partial,
            None => RunbookOutcome::InProgress,
        };
        let next = next_steps(outcome, &stages, &groups, &file);
        RunbookReport {
            schema_version: super::SCHEMA_VERSION,
            runbook,
            run_id,
            outcome,
            downtime_ms: percentiles(groups.iter().filter_map(|g| g.downtime_ms)),
            stages,
            groups,
            topics,
            evidence,
            lag,
            next,
            journal: journal.to_string(),
        }
    }
}

/// The gate's reading of each promoted mirror, from a promote stage's report.
fn promotion_evidence(d: &StageDetail) -> Vec<PromotionEvidence> {
    let promoted: Vec<&str> = d.topics.iter().map(|t| t.topic.as_str()).collect();
    d.report["mirrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| promoted.contains(&m["mirror_topic"].as_str().unwrap_or("")))
        .map(|m| PromotionEvidence {
            topic: m["mirror_topic"].as_str().unwrap_or("?").to_string(),
            stage: d.name.clone(),
            window_ms: d.report["window_ms"].as_u64().unwrap_or(0),
            partitions: m["partitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["partition"].as_i64().unwrap_or(-1),
                        p["origin_end"].as_i64(),
                        p["mirror_end"].as_i64(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// What to run next, when the runbook did not finish.
fn next_steps(
    outcome: RunbookOutcome,
    stages: &[StageReport],
    groups: &[GroupRow],
    file: &str,
) -> Option<String> {
    if matches!(outcome, RunbookOutcome::Done | RunbookOutcome::Planned) {
        return None;
    }
    let mut steps = Vec::new();
    if let Some(s) = stages
        .iter()
        .find(|s| matches!(s.status, StageStatus::Failed | StageStatus::Started))
    {
        steps.push(format!(
            "stage {} ({}) did not finish: {}",
            s.index + 1,
            s.name,
            if s.summary.is_empty() {
                "see the journal"
            } else {
                &s.summary
            }
        ));
    }
    for g in groups.iter().filter(|g| g.outcome == "needs_operator") {
        // A group moved back to the origin keeps its journal in `to-origin/`, and only
        // `--to origin` continues it.
        let back = g.journal.as_deref().is_some_and(|j| {
            std::path::Path::new(j)
                .parent()
                .and_then(|d| d.file_name())
                .is_some_and(|d| d == crate::reverse::JOURNAL_SUBDIR)
        });
        let restart_on = if back {
            crate::model::Role::Origin
        } else {
            crate::model::Role::Destination
        };
        steps.push(format!(
            "group {} needs you: `{} --resume` or `--rollback` ({})",
            g.group,
            crate::cutover::group_command(&g.group, restart_on),
            g.reason
        ));
    }
    steps.push(format!(
        "fix the cause, then `cutover run {file} --resume` continues from that stage (stages done are not repeated)"
    ));
    Some(steps.join("; "))
}

const STAGE_HEADER: [&str; 4] = ["stage", "kind", "status", "summary"];
/// The terminal table's summary column wraps at this width.
const SUMMARY_WIDTH: usize = 64;

fn stage_rows(r: &RunbookReport) -> Vec<Vec<String>> {
    r.stages
        .iter()
        .map(|s| {
            vec![
                format!("{}. {}", s.index + 1, s.name),
                s.kind.clone(),
                serde_plain(&s.status),
                s.summary.clone(),
            ]
        })
        .collect()
}

const GROUP_HEADER: [&str; 5] = ["group", "stage", "outcome", "downtime", "reason"];

fn group_rows(r: &RunbookReport) -> Vec<Vec<String>> {
    r.groups
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                g.stage.clone(),
                g.outcome.clone(),
                g.downtime_ms
                    .map_or_else(|| "-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
                if g.outcome == "done" {
                    String::new()
                } else {
                    g.reason.clone()
                },
            ]
        })
        .collect()
}

fn headline(r: &RunbookReport) -> String {
    if r.outcome == RunbookOutcome::Planned {
        return format!(
            "runbook {}: PLAN of {} stage(s) (dry run: nothing was changed)",
            r.runbook,
            r.stages.len()
        );
    }
    let done = r
        .stages
        .iter()
        .filter(|s| s.status == StageStatus::Done)
        .count();
    let moved = r
        .groups
        .iter()
        .filter(|g| matches!(g.outcome.as_str(), "done" | "already_moved"))
        .count();
    format!(
        "runbook {}: {} · {done}/{} stage(s) done · {moved}/{} group(s) moved · {} topic(s) promoted",
        r.runbook,
        match r.outcome {
            RunbookOutcome::Done => "DONE",
            RunbookOutcome::Partial => "PARTLY DONE",
            RunbookOutcome::InProgress => "IN PROGRESS (or its agent was killed)",
            RunbookOutcome::Planned => "PLAN (dry run: nothing was changed)",
        },
        r.stages.len(),
        r.groups.len(),
        r.topics.iter().filter(|t| t.writable).count()
    )
}

fn footer(r: &RunbookReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &r.downtime_ms {
        out.push(format!(
            "downtime across {} group(s): p50 {} ms · p90 {} ms · p99 {} ms · max {} ms",
            p.count, p.p50, p.p90, p.p99, p.max
        ));
    }
    for t in &r.topics {
        out.push(format!(
            "topic {}: {}{}",
            t.topic,
            t.state,
            if t.writable {
                " (an ordinary writable topic)"
            } else {
                ""
            }
        ));
    }
    if let Some(next) = &r.next {
        out.push(format!("next: {next}"));
    }
    if !r.journal.is_empty() {
        out.push(format!("journal: {}", r.journal));
    }
    out
}

/// The rows with the cells of `column`, which the table wraps, each made one paragraph:
/// tabled's word-keeping wrap panics (a subtraction overflows) on a line after the first that
/// begins with a word wider than the column, as a failed hook's captured output holds (a path,
/// a URL, a stack frame).
fn one_paragraph(mut rows: Vec<Vec<String>>, column: usize) -> Vec<Vec<String>> {
    for cell in rows.iter_mut().filter_map(|row| row.get_mut(column)) {
        if cell.contains(['\n', '\r']) {
            *cell = cell.lines().collect::<Vec<_>>().join(" ");
        }
    }
    rows
}

/// The runbook report as terminal tables.
pub fn runbook_table(r: &RunbookReport) -> String {
    let mut out = format!("{}\n\n", headline(r));
    // A stage's summary can name many topics: wrapped, the table stays readable.
    let mut stages = sharp_table(&STAGE_HEADER, one_paragraph(stage_rows(r), 3));
    stages.with(Modify::new(Columns::single(3)).with(Width::wrap(SUMMARY_WIDTH).keep_words(true)));
    let _ = writeln!(out, "{stages}\n");
    if !r.groups.is_empty() {
        let mut groups = sharp_table(&GROUP_HEADER, one_paragraph(group_rows(r), 4));
        groups.with(
            Modify::new(Columns::single(4)).with(Width::wrap(SUMMARY_WIDTH).keep_words(true)),
        );
        let _ = writeln!(out, "{groups}\n");
    }
    for line in footer(r) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The runbook report as Markdown.
pub fn runbook_markdown(r: &RunbookReport) -> String {
    let mut out = format!("# cutover run\n\n{}.\n\n## Stages\n\n", headline(r));
    out.push_str(&md_table(&STAGE_HEADER, stage_rows(r)));
    if !r.groups.is_empty() {
        out.push_str("\n## Groups\n\n");
        out.push_str(&md_table(&GROUP_HEADER, group_rows(r)));
    }
    out.push('\n');
    for line in footer(r) {
        let _ = writeln!(out, "- {line}");
    }
    out
}

/// The runbook report as one self-contained HTML page (inline style and SVG, nothing
/// fetched): stages, mirror lag over time with the stages marked, groups with their downtime
/// and percentiles, and the promotion gate's evidence per topic.
pub fn runbook_html(r: &RunbookReport) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cutover run</title><style>",
    );
    out.push_str(STYLE);
    let _ = write!(
        out,
        "</style></head><body>\n<h1>cutover run: {}</h1>\n<p class=\"banner b-{}\">{}</p>\n",
        esc(&r.runbook),
        serde_plain(&r.outcome),
        esc(&headline(r))
    );
    out.push_str("<h2>Stages</h2>\n");
    html_table(&mut out, &STAGE_HEADER, stage_rows(r));
    let start = r
        .stages
        .iter()
        .filter_map(|s| s.started_ms)
        .chain(r.lag.iter().map(|l| l.at_ms))
        .min();
    if let (Some(start), false) = (start, r.lag.is_empty()) {
        let names: Vec<String> = r
            .stages
            .iter()
            .map(|s| format!("{}. {}", s.index + 1, s.name))
            .collect();
        let marks: Vec<PhaseMark<'_>> = r
            .stages
            .iter()
            .zip(&names)
            .filter_map(|(s, name)| {
                s.started_ms.map(|at| PhaseMark {
                    since_start_ms: at - start,
                    phase: name,
                })
            })
            .collect();
        let points: Vec<(i64, Option<i64>)> =
            r.lag.iter().map(|l| (l.at_ms - start, l.lag)).collect();
        out.push_str("<h2>Mirror lag</h2>\n<figure><figcaption>records the watched mirrors were behind, over the run; dashed lines: stages begun</figcaption>\n");
        out.push_str(&lag_chart("mirror lag over the run", &points, &marks));
        out.push_str("</figure>\n");
    }
    if !r.groups.is_empty() {
        out.push_str("<h2>Groups</h2>\n");
        if let Some(p) = &r.downtime_ms {
            let _ = writeln!(
                out,
                "<p>downtime (stop hook begun → restart hook begun) across {} group(s): p50 {} ms · p90 {} ms · p99 {} ms · max {} ms</p>",
                p.count, p.p50, p.p90, p.p99, p.max
            );
        }
        html_table(&mut out, &GROUP_HEADER, group_rows(r));
    }
    if !r.evidence.is_empty() {
        out.push_str("<h2>Promotion evidence</h2>\n");
        for e in &r.evidence {
            let _ = writeln!(
                out,
                "<h3>{} <span class=\"run\">({}; origin watched still for {} ms)</span></h3>",
                esc(&e.topic),
                esc(&e.stage),
                e.window_ms
            );
            let rows = e.partitions.iter().map(|(p, o, m)| {
                vec![
                    p.to_string(),
                    o.map_or_else(|| "-".into(), |v| v.to_string()),
                    m.map_or_else(|| "-".into(), |v| v.to_string()),
                ]
            });
            html_table(&mut out, &["partition", "origin end", "mirror end"], rows);
        }
    }
    out.push_str("<h2>Notes</h2>\n<ul>\n");
    for line in footer(r) {
        let _ = writeln!(out, "<li>{}</li>", esc(&line));
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::journal::{Entry, Record};

    fn entry(seq: u64, record: Record) -> Entry {
        Entry {
            v: 1,
            seq,
            ts_ms: 1_000 * seq as i64,
            run_id: "run-1".into(),
            group: "runbook:night-1".into(),
            record,
        }
    }

    fn outcome(seq: u64, ok: bool, detail: StageDetail) -> Entry {
        entry(
            seq,
            Record::Outcome {
                effect: "stage".into(),
                ok,
                detail: serde_json::to_value(detail).unwrap(),
            },
        )
    }

    fn stage_intent(seq: u64, index: usize) -> Entry {
        entry(
            seq,
            Record::Intent {
                effect: "stage".into(),
                detail: json!({ "index": index }),
            },
        )
    }

    /// A run of night-1.toml's `stages` that has started and begun its first stage.
    fn started(stages: serde_json::Value) -> Vec<Entry> {
        vec![
            entry(
                1,
                Record::Started {
                    command: vec![],
                    agent: "h:1".into(),
                    resumed: false,
                    settings: json!({ "runbook": "night-1.toml", "stages": stages }),
                },
            ),
            stage_intent(2, 0),
        ]
    }

    fn row(group: &str, outcome: &str, downtime_ms: Option<i64>) -> GroupRow {
        GroupRow {
            group: group.into(),
            stage: "wave 1".into(),
            outcome: outcome.into(),
            downtime_ms,
            reason: "the stop hook timed out".into(),
            journal: None,
        }
    }

    #[test]
    fn a_partial_run_says_where_each_stage_and_group_stands_and_what_to_run_next() {
        let stages = json!([
            { "name": "drain", "kind": "watch" },
            { "name": "wave 1", "kind": "groups" },
            { "name": "promote", "kind": "promote" },
        ]);
        let mut entries = started(stages);
        entries.extend([
            outcome(
                3,
                true,
                StageDetail {
                    index: 0,
                    name: "drain".into(),
                    kind: "watch".into(),
                    summary: "drained".into(),
                    lag: vec![LagMark {
                        at_ms: 2_500,
                        lag: Some(40),
                    }],
                    ..StageDetail::default()
                },
            ),
            stage_intent(4, 1),
            outcome(
                5,
                false,
                StageDetail {
                    index: 1,
                    name: "wave 1".into(),
                    kind: "groups".into(),
                    summary: "1 of 2 group(s) not on the destination".into(),
                    groups: vec![
                        row("g1", "done", Some(800)),
                        row("g2", "needs_operator", None),
                        GroupRow {
                            journal: Some("cutover-journal/to-origin/g3.jsonl".into()),
                            ..row("g3", "needs_operator", None)
                        },
                    ],
                    ..StageDetail::default()
                },
            ),
            entry(
                6,
                Record::Finished {
                    outcome: "partial".into(),
                    reason: None,
                    timings: Default::default(),
                },
            ),
        ]);
        assert!(RunbookReport::is_runbook_journal(&entries));
        let r = RunbookReport::from_journal(&entries, "j.jsonl");
        assert_eq!(r.outcome, RunbookOutcome::Partial);
        let statuses: Vec<StageStatus> = r.stages.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [StageStatus::Done, StageStatus::Failed, StageStatus::NotRun]
        );
        assert_eq!(
            r.downtime_ms.as_ref().map(|p| (p.count, p.max)),
            Some((1, 800))
        );
        let next = r.next.as_deref().expect("what to run next");
        assert!(next.contains("stage 2 (wave 1) did not finish"), "{next}");
        assert!(next.contains("`cutover group g2 --resume`"), "{next}");
        // A group moved back to the origin is continued with --to origin.
        assert!(
            next.contains("`cutover group g3 --to origin --resume`"),
            "{next}"
        );
        assert!(
            next.contains("`cutover run night-1.toml --resume`"),
            "{next}"
        );
        let page = runbook_html(&r);
        assert!(page.contains("<svg") && page.contains("g2"), "{page}");
        assert!(runbook_table(&r).contains("PARTLY DONE"));
    }

    #[test]
    fn a_failed_hook_stage_whose_output_has_a_long_line_renders_as_a_table() {
        let path = format!("PATH={}", "/usr/local/bin:".repeat(10));
        let stages = json!([{ "name": "stop producers", "kind": "hook" }]);
        let mut entries = started(stages);
        entries.push(outcome(
            3,
            false,
            StageDetail {
                index: 0,
                name: "stop producers".into(),
                kind: "hook".into(),
                summary: format!("the hook failed: exit code 1; stdout: HOME=/root\n{path}\nX=1"),
                ..StageDetail::default()
            },
        ));
        let table = runbook_table(&RunbookReport::from_journal(&entries, "j.jsonl"));
        assert!(
            table.contains("/usr/local/bin:") && table.contains("X=1"),
            "{table}"
        );
    }
}
