//! The report of `cutover watch`: each mirror's lag, drain rate and ETA at the end, what was
//! found on the way, what was paused and resumed, and the lag over time. Data only:
//! `crate::watch` fills it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::lag::TopicLag;

use super::tables::{md_table, n, sharp_table};

/// One line of a watch's stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WatchLine {
    Sample {
        elapsed_ms: i64,
        topics: Vec<TopicLag>,
    },
    Finding(WatchFinding),
    Paused {
        topics: Vec<String>,
    },
    Resumed {
        topics: Vec<String>,
    },
}

/// What a watch found that the operator must know. The kinds are API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchFinding {
    /// `MIRROR_STALLED`, `MIRROR_NOT_ACTIVE`, `MIRROR_FAILED`, `MIRROR_UNREADABLE`.
    pub kind: &'static str,
    pub mirror_topic: String,
    pub detail: String,
}

/// A watched mirror's lag over time, for the report's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagPoint {
    pub elapsed_ms: i64,
    /// Total lag over the watched mirrors (`None` if a partition was unread).
    pub lag: Option<i64>,
}

/// The report of `cutover watch`.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub schema_version: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub link: String,
    pub until_lag: i64,
    /// Every watched partition ended at or under `until_lag`.
    pub drained: bool,
    /// Why the watch ended: `drained`, `deadline`, `mirror failed`.
    pub ended: String,
    pub elapsed_ms: i64,
    pub topics: Vec<TopicLag>,
    pub findings: Vec<WatchFinding>,
    pub prioritised: Vec<String>,
    /// Mirrors this watch paused, and those it resumed (all of them, unless interrupted).
    pub paused: Vec<String>,
    pub resumed: Vec<String>,
    pub timeline: Vec<LagPoint>,
}

const HEADER: [&str; 8] = [
    "mirror topic",
    "state",
    "partitions",
    "lag",
    "max lag",
    "drain/s",
    "eta",
    "stalled",
];

fn rows(r: &WatchReport) -> Vec<Vec<String>> {
    r.topics
        .iter()
        .map(|t| {
            vec![
                t.mirror_topic.clone(),
                t.state.clone(),
                t.partitions.to_string(),
                n(t.lag),
                n(t.max_partition_lag),
                t.drain_rate
                    .map_or_else(|| "-".into(), |r| format!("{r:.0}")),
                t.eta_s.map_or_else(|| "-".into(), |s| format!("{s}s")),
                if t.stalled_partitions.is_empty() {
                    "-".into()
                } else {
                    format!("{:?}", t.stalled_partitions)
                },
            ]
        })
        .collect()
}

fn headline(r: &WatchReport) -> String {
    let outcome = match r.ended.as_str() {
        "drained" => format!(
            "drained to lag ≤ {} on every watched partition",
            r.until_lag
        ),
        "deadline" => format!(
            "NOT drained: the deadline came with lag above {}",
            r.until_lag
        ),
        other => format!("NOT drained: {other}"),
    };
    format!(
        "{outcome} · link {} · watched {} mirror(s) for {:.1}s",
        r.link,
        r.topics.len(),
        r.elapsed_ms as f64 / 1000.0
    )
}

fn notes(r: &WatchReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.detail))
        .collect();
    if !r.prioritised.is_empty() {
        out.push(format!("prioritised: {}", r.prioritised.join(", ")));
    }
    if !r.paused.is_empty() {
        out.push(format!("paused meanwhile: {}", r.paused.join(", ")));
        let left: Vec<&String> = r.paused.iter().filter(|t| !r.resumed.contains(t)).collect();
        if left.is_empty() {
            out.push("resumed: every mirror this watch paused".into());
        } else {
            out.push(format!(
                "STILL PAUSED: {} (`cutover watch --resume` resumes them)",
                left.iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// The watch report as a terminal table.
pub fn watch_table(r: &WatchReport) -> String {
    let mut out = format!("{}\n\n", headline(r));
    let _ = writeln!(out, "{}", sharp_table(&HEADER, rows(r)));
    for note in notes(r) {
        let _ = writeln!(out, "  {note}");
    }
    out
}

/// The watch report as Markdown.
pub fn watch_markdown(r: &WatchReport) -> String {
    let mut out = format!("# cutover watch\n\n{}.\n\n", headline(r));
    out.push_str(&md_table(&HEADER, rows(r)));
    for note in notes(r) {
        let _ = writeln!(out, "\n- {note}");
    }
    out
}
