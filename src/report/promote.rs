//! The report of `cutover promote`: the gate (each mirror's measured lag, the origin's
//! movement over the window, open transactions, the groups with offsets on the topics), what
//! was asked of the link, and each topic's end state. Data only: `crate::promote` fills it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::promotion::{
    AuditFinding, GroupAudit, MirrorAudit, OpenTransaction, OriginMovement, Writer,
};

use super::tables::{md_table, n, serde_plain, sharp_table};

/// How a promotion ended. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromoteOutcome {
    /// Every topic is promoted (STOPPED) and writable on the destination.
    Promoted,
    /// Every named topic was promoted already: nothing to do.
    NothingToDo,
    /// `--dry-run`: the gate passed; nothing was changed.
    WouldPromote,
    /// The gate did not pass: nothing was changed.
    Refused,
    /// The link refused a topic, or a topic did not reach STOPPED in time.
    Failed,
}

/// One topic asked to be promoted, and where it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotedTopic {
    pub mirror_topic: String,
    /// The mirror state last read (`STOPPED` once promoted).
    pub state: String,
    /// What the link answered for it, if it refused.
    pub error: Option<String>,
    /// Partitions with a leader on the destination, of `partitions`.
    pub partitions_led: usize,
    pub partitions: usize,
    /// STOPPED, every partition led, its ends those the gate measured: an ordinary topic now.
    pub writable: bool,
}

/// The report of `cutover promote`.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    pub schema_version: u32,
    pub link: String,
    pub outcome: PromoteOutcome,
    pub dry_run: bool,
    pub window_ms: u64,
    /// The gate passed: lag zero everywhere, origin still, no open transaction, no group at
    /// risk.
    pub gate_passed: bool,
    pub findings: Vec<AuditFinding>,
    pub open_transactions: Vec<OpenTransaction>,
    pub origin_moving: Vec<OriginMovement>,
    /// Producers the origin's brokers saw writing during the window, or holding a transaction
    /// open (DescribeProducers): idempotent and transactional ones only.
    pub writers: Vec<Writer>,
    /// `topic-partition: why` where the brokers could not tell (e.g. no Read ACL on the topic).
    pub writers_untold: Vec<String>,
    pub mirrors: Vec<MirrorAudit>,
    pub groups: Vec<GroupAudit>,
    pub already_promoted: Vec<String>,
    /// How the promotion is asked for: the link's REST API, or the `[hooks.promote]` hook.
    pub via: String,
    pub topics: Vec<PromotedTopic>,
    /// Where the promotion's steps were journaled (not for a dry run or a refusal).
    pub journal: Option<String>,
    pub elapsed_ms: i64,
}

fn headline(r: &PromoteReport) -> String {
    let names = |t: &[PromotedTopic]| {
        t.iter()
            .map(|t| t.mirror_topic.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match r.outcome {
        PromoteOutcome::Promoted => format!("PROMOTED {}", names(&r.topics)),
        PromoteOutcome::NothingToDo => format!(
            "nothing to do: {} promoted already",
            r.already_promoted.join(", ")
        ),
        PromoteOutcome::WouldPromote => format!(
            "dry run: the gate passes; `cutover promote` would promote {}",
            r.mirrors
                .iter()
                .map(|m| m.mirror_topic.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PromoteOutcome::Refused => "REFUSED: the gate did not pass; nothing was changed".into(),
        PromoteOutcome::Failed => format!("FAILED: {}", failures(r).join("; ")),
    }
}

fn failures(r: &PromoteReport) -> Vec<String> {
    r.topics
        .iter()
        .filter(|t| !t.writable)
        .map(|t| match &t.error {
            Some(e) => format!("{}: the link refused: {e}", t.mirror_topic),
            None => format!(
                "{}: {} ({} of {} partition(s) led)",
                t.mirror_topic, t.state, t.partitions_led, t.partitions
            ),
        })
        .collect()
}

const GATE_HEADER: [&str; 5] = ["mirror topic", "state", "partitions", "max lag", "origin"];

fn gate_rows(r: &PromoteReport) -> Vec<Vec<String>> {
    r.mirrors
        .iter()
        .map(|m| {
            let moved = r
                .origin_moving
                .iter()
                .filter(|o| o.topic == m.source_topic)
                .count();
            vec![
                m.mirror_topic.clone(),
                m.status.clone(),
                m.partitions.len().to_string(),
                n(m.max_lag),
                if moved == 0 {
                    "still".into()
                } else {
                    format!("written on {moved} partition(s)")
                },
            ]
        })
        .collect()
}

fn notes(r: &PromoteReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{}: {}", serde_plain(&f.kind), f.detail))
        .collect();
    out.extend(r.open_transactions.iter().map(|t| {
        format!(
            "OPEN_TRANSACTION: {}-{}: {}",
            t.topic, t.partition, t.detail
        )
    }));
    if let Some(first) = r.writers_untold.first() {
        out.push(format!(
            "writers by producer id: the origin could not tell for {} partition(s) ({first}{}); the moving log ends still show any writer",
            r.writers_untold.len(),
            if r.writers_untold.len() > 1 { ", …" } else { "" }
        ));
    }
    if !r.already_promoted.is_empty() && r.outcome != PromoteOutcome::NothingToDo {
        out.push(format!(
            "promoted already: {}",
            r.already_promoted.join(", ")
        ));
    }
    for t in &r.topics {
        out.push(format!(
            "{}: {}{}",
            t.mirror_topic,
            t.state,
            if t.writable {
                ", every partition led: an ordinary writable topic now".to_string()
            } else {
                String::new()
            }
        ));
    }
    if !r.topics.is_empty() || r.outcome == PromoteOutcome::WouldPromote {
        out.push(format!("promoted through {}", r.via));
    }
    if let Some(j) = &r.journal {
        out.push(format!("journal: {j}"));
    }
    out
}

/// " · origin watched for 10000 ms", when the gate ran.
fn watched(r: &PromoteReport) -> String {
    if r.mirrors.is_empty() {
        String::new()
    } else {
        format!(" · origin watched for {} ms", r.window_ms)
    }
}

/// The promote report as a terminal table.
pub fn promote_table(r: &PromoteReport) -> String {
    let mut out = format!("{} · link {}{}\n\n", headline(r), r.link, watched(r));
    if !r.mirrors.is_empty() {
        let _ = writeln!(out, "{}", sharp_table(&GATE_HEADER, gate_rows(r)));
    }
    for note in notes(r) {
        let _ = writeln!(out, "  {note}");
    }
    out
}

/// The promote report as Markdown.
pub fn promote_markdown(r: &PromoteReport) -> String {
    let mut out = format!(
        "# cutover promote\n\n{} · link `{}`{}.\n\n",
        headline(r),
        r.link,
        watched(r)
    );
    if !r.mirrors.is_empty() {
        out.push_str(&md_table(&GATE_HEADER, gate_rows(r)));
    }
    for note in notes(r) {
        let _ = writeln!(out, "\n- {note}");
    }
    out
}
