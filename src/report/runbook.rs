//! The report of a runbook (`cutover run`, and `cutover report` on a runbook's journal): every
//! stage with its outcome, every group with its outcome and downtime, every promoted topic,
//! downtime percentiles across the groups, mirror lag over time, and what to run next. Built
//! from the runbook's journal alone, so the report of a run and of its journal read later are
//! the same.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tabled::builder::Builder;
use tabled::settings::Style;

use super::cutover::{percentiles, Percentiles};
use super::tables::md_table;
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
    /// Downtime across the groups restarted on the destination.
    pub downtime_ms: Option<Percentiles>,
    pub lag: Vec<LagMark>,
    pub next: Option<String>,
    pub journal: String,
}

impl RunbookReport {
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
            lag,
            next,
            journal: journal.to_string(),
        }
    }
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
        steps.push(format!(
            "group {} needs you: `cutover group {} --resume` or `--rollback` ({})",
            g.group, g.group, g.reason
        ));
    }
    steps.push(format!(
        "fix the cause, then `cutover run {file} --resume` continues from that stage (stages done are not repeated)"
    ));
    Some(steps.join("; "))
}

const STAGE_HEADER: [&str; 4] = ["stage", "kind", "status", "summary"];

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

fn serde_plain<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
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
        "runbook {}: {} · {done}/{} stage(s) done · {moved}/{} group(s) on the destination · {} topic(s) promoted",
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

/// The runbook report as terminal tables.
pub fn runbook_table(r: &RunbookReport) -> String {
    let mut out = format!("{}\n\n", headline(r));
    let mut b = Builder::default();
    b.push_record(STAGE_HEADER);
    for row in stage_rows(r) {
        b.push_record(row);
    }
    let _ = writeln!(out, "{}\n", b.build().with(Style::sharp()));
    if !r.groups.is_empty() {
        let mut b = Builder::default();
        b.push_record(GROUP_HEADER);
        for row in group_rows(r) {
            b.push_record(row);
        }
        let _ = writeln!(out, "{}\n", b.build().with(Style::sharp()));
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
