//! Table and Markdown layouts of the verify and audit reports.

use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::Style;

use crate::promotion::GroupClass;
use crate::rule::{
    FindingKind, GroupJudgement, GroupStatus, PartitionJudgement, Presence, Verdict,
};

use super::audit::AuditReport;
use super::verify::VerifyReport;

const PARTITION_HEADER: [&str; 9] = [
    "topic",
    "partition",
    "origin_committed",
    "destination_committed",
    "origin_end",
    "mirror_end",
    "consumer_lag",
    "mirror_lag",
    "verdict",
];

pub(super) fn n<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The default terminal columns: what the rule decides on (`origin ≤ mirror end`, the
/// destination holding the origin's offset), within 100 columns for usual topic names.
const COMPACT_HEADER: [&str; 6] = [
    "partition",
    "committed\norigin",
    "committed\ndestination",
    "mirror\nend",
    "mirror\nlag",
    "verdict",
];

fn compact_row(p: &PartitionJudgement) -> Vec<String> {
    vec![
        format!("{}-{}", p.topic, p.partition),
        n(p.origin_committed),
        n(p.destination_committed),
        n(p.mirror_end),
        n(p.mirror_lag),
        p.verdict.as_str().to_string(),
    ]
}

fn partition_row(p: &PartitionJudgement) -> Vec<String> {
    vec![
        p.topic.to_string(),
        p.partition.to_string(),
        n(p.origin_committed),
        n(p.destination_committed),
        n(p.origin_end),
        n(p.mirror_end),
        n(p.consumer_lag),
        n(p.mirror_lag),
        p.verdict.as_str().to_string(),
    ]
}

fn presence(p: Presence) -> &'static str {
    match p {
        Presence::Active => "active",
        Presence::Empty => "stopped",
        Presence::NotFound => "not found",
    }
}

fn group_headline(g: &GroupJudgement) -> String {
    let still_synced = g
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::GroupNotExcluded);
    let standing = match g.status {
        GroupStatus::Moved => {
            let lag: i64 = g.partitions.iter().filter_map(|p| p.destination_lag).sum();
            format!("MOVED: it consumes on the destination (lag {lag})")
        }
        // Never SAFE alone while a precondition is unmet: say what is left, and how.
        GroupStatus::Safe if still_synced => format!(
            "SAFE to start on the destination once excluded from the link's offset sync (`cutover group {}` does both)",
            g.group
        ),
        GroupStatus::Safe => "SAFE to start on the destination".to_string(),
        GroupStatus::NotSafe => "NOT SAFE".to_string(),
    };
    format!(
        "group {}: {standing} (origin: {}, destination: {})",
        g.group,
        presence(g.origin_state),
        presence(g.destination_state)
    )
}

/// `2 of 3 group(s) safe, 1 moved`.
fn tally(r: &VerifyReport) -> String {
    let count = |s: GroupStatus| r.groups.iter().filter(|g| g.status == s).count();
    let moved = count(GroupStatus::Moved);
    format!(
        "{} of {} group(s) safe{}",
        count(GroupStatus::Safe),
        r.groups.len(),
        if moved > 0 {
            format!(", {moved} moved")
        } else {
            String::new()
        }
    )
}

fn notes(g: &GroupJudgement) -> Vec<String> {
    let mut out: Vec<String> = g
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}{}: {}",
                if f.blocking { "" } else { "note " },
                serde_plain(&f.kind),
                f.detail
            )
        })
        .collect();
    // Partition notes only where something needs attention.
    for p in g.partitions.iter().filter(|p| p.verdict != Verdict::Safe) {
        for note in &p.notes {
            out.push(format!("{}-{}: {note}", p.topic, p.partition));
        }
    }
    out
}

/// Why a group is not safe, in a few words: its blocking findings, else its verdicts.
fn why_not(g: &GroupJudgement) -> String {
    let blocking: Vec<String> = g
        .findings
        .iter()
        .filter(|f| f.blocking)
        .map(|f| serde_plain(&f.kind))
        .collect();
    if !blocking.is_empty() {
        return blocking.join(", ");
    }
    let mut verdicts: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in g.partitions.iter().filter(|p| p.verdict != Verdict::Safe) {
        *verdicts.entry(p.verdict.as_str()).or_default() += 1;
    }
    verdicts
        .iter()
        .map(|(v, n)| format!("{v} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A unit enum's serialized name (`MIRROR_LAG`, `done`): the names the JSON uses.
pub(super) fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A terminal table: the header, then the rows, in the reports' one style.
pub(super) fn sharp_table<R: IntoIterator<Item = String>>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> tabled::Table {
    let mut b = Builder::default();
    b.push_record(header.iter().copied());
    for row in rows {
        b.push_record(row);
    }
    let mut table = b.build();
    table.with(Style::sharp());
    table
}

/// The verify report as terminal tables. Several groups: one summary line each first, then
/// the tables of those that are not safe (`--wide`: of every group, with every column). The
/// default columns fit 100 terminal columns for usual topic names.
pub fn verify_table(r: &VerifyReport) -> String {
    let mut out = String::new();
    let several = r.groups.len() > 1;
    if several {
        let mut b = Builder::default();
        b.push_record(["group", "status", "partitions", "why not"]);
        for g in &r.groups {
            b.push_record([
                g.group.to_string(),
                g.status.as_str().to_string(),
                g.partitions.len().to_string(),
                if g.status.is_ok() {
                    String::new()
                } else {
                    why_not(g)
                },
            ]);
        }
        let _ = writeln!(out, "{}\n", b.build().with(Style::sharp()));
    }
    for g in &r.groups {
        if several && !r.wide && g.status.is_ok() {
            continue;
        }
        let _ = writeln!(out, "{}", group_headline(g));
        if !g.partitions.is_empty() {
            let mut b = Builder::default();
            if r.wide {
                b.push_record(PARTITION_HEADER);
                for p in &g.partitions {
                    b.push_record(partition_row(p));
                }
            } else {
                b.push_record(COMPACT_HEADER);
                for p in &g.partitions {
                    b.push_record(compact_row(p));
                }
            }
            let _ = writeln!(out, "{}", b.build().with(Style::sharp()));
        }
        for line in notes(g) {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} · link {} · mirror status from {}\n{}",
        tally(r),
        r.link,
        r.mirror_status_source,
        r.offsets
    );
    out
}

pub(super) fn md_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        let cells: Vec<String> = r.into_iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The verify report as Markdown.
pub fn verify_markdown(r: &VerifyReport) -> String {
    let mut out = format!(
        "# cutover verify: {}\n\n{} · link `{}` · mirror status from {} · {}.\n\n",
        match (r.safe, r.ok) {
            (true, _) => "SAFE",
            (false, true) => "SAFE OR MOVED",
            (false, false) => "NOT SAFE",
        },
        tally(r),
        r.link,
        r.mirror_status_source,
        r.offsets
    );
    for g in &r.groups {
        let _ = writeln!(out, "## {}\n", group_headline(g));
        if !g.partitions.is_empty() {
            out.push_str(&md_table(
                &PARTITION_HEADER,
                g.partitions.iter().map(partition_row),
            ));
            out.push('\n');
        }
        for line in notes(g) {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    out
}

fn class(c: GroupClass) -> &'static str {
    match c {
        GroupClass::Moved => "moved",
        GroupClass::SyncedAndSafe => "synced and safe",
        GroupClass::MovesAfterPromotion => "moves after promotion",
        GroupClass::StaysOnOrigin => "stays on the origin",
        GroupClass::AtRisk => "AT RISK",
    }
}

fn audit_sections(r: &AuditReport) -> (Vec<Vec<String>>, Vec<Vec<String>>, Vec<String>) {
    let mirrors = r
        .mirrors
        .iter()
        .flat_map(|m| {
            m.partitions.iter().map(move |p| {
                vec![
                    m.mirror_topic.clone(),
                    m.status.clone(),
                    p.partition.to_string(),
                    n(p.origin_end),
                    n(p.mirror_end),
                    n(p.mirror_lag),
                    p.error.clone().unwrap_or_default(),
                ]
            })
        })
        .collect();
    let groups = r
        .groups
        .iter()
        .map(|g| {
            vec![
                g.group.to_string(),
                class(g.classification).to_string(),
                presence(g.origin_state).to_string(),
                presence(g.destination_state).to_string(),
                g.reasons.join("; "),
            ]
        })
        .collect();
    let findings = r
        .findings
        .iter()
        .map(|f| format!("{}: {}", serde_plain(&f.kind), f.detail))
        .collect();
    (mirrors, groups, findings)
}

const MIRROR_HEADER: [&str; 7] = [
    "mirror_topic",
    "status",
    "partition",
    "origin_end",
    "mirror_end",
    "mirror_lag",
    "error",
];
const GROUP_HEADER: [&str; 5] = [
    "group",
    "classification",
    "origin",
    "destination",
    "reasons",
];

/// The audit report as terminal tables.
pub fn audit_table(r: &AuditReport) -> String {
    let (mirrors, groups, findings) = audit_sections(r);
    let mut out = format!(
        "promotion {} · link {} · origin watched for {} ms · mirror status from {}\n\n",
        if r.promotion_safe {
            "SAFE now"
        } else {
            "NOT SAFE"
        },
        r.link,
        r.window_ms,
        r.mirror_status_source
    );
    let _ = writeln!(out, "{}\n", sharp_table(&MIRROR_HEADER, mirrors));
    if !groups.is_empty() {
        let _ = writeln!(out, "{}\n", sharp_table(&GROUP_HEADER, groups));
    }
    for f in findings {
        let _ = writeln!(out, "  {f}");
    }
    out
}

/// The audit report as Markdown.
pub fn audit_markdown(r: &AuditReport) -> String {
    let (mirrors, groups, findings) = audit_sections(r);
    let mut out = format!(
        "# cutover audit: promotion {}\n\nLink `{}` · origin watched for {} ms · mirror status from {} · {}.\n\n## Mirrors\n\n",
        if r.promotion_safe { "SAFE now" } else { "NOT SAFE" },
        r.link,
        r.window_ms,
        r.mirror_status_source,
        r.offsets
    );
    out.push_str(&md_table(&MIRROR_HEADER, mirrors));
    out.push_str("\n## Groups\n\n");
    out.push_str(&md_table(&GROUP_HEADER, groups));
    if !findings.is_empty() {
        out.push_str("\n## Findings\n\n");
        for f in findings {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupId, Offset};
    use crate::rule::{Finding, FindingKind};

    fn partition(topic: &str, p: i32, verdict: Verdict) -> PartitionJudgement {
        PartitionJudgement {
            topic: topic.into(),
            partition: p,
            mirror_topic: Some(topic.into()),
            mirror_status: Some("ACTIVE".into()),
            origin_committed: Some(Offset(1_234_567_890)),
            destination_committed: Some(Offset(1_234_567_800)),
            origin_end: Some(Offset(1_234_567_999)),
            mirror_end: Some(Offset(1_234_567_990)),
            mirror_start: Some(Offset(0)),
            consumer_lag: Some(109),
            mirror_lag: Some(9),
            destination_lag: Some(190),
            verdict,
            notes: vec!["a note".into()],
        }
    }

    fn group(name: &str, status: GroupStatus, verdict: Verdict) -> GroupJudgement {
        GroupJudgement {
            group: GroupId::new(name),
            status,
            safe: status == GroupStatus::Safe,
            origin_state: Presence::Empty,
            destination_state: Presence::NotFound,
            origin_members: vec![],
            destination_members: vec![],
            findings: vec![Finding {
                kind: FindingKind::GroupNotExcluded,
                blocking: false,
                detail: "still synced".into(),
            }],
            partitions: (0..12)
                .map(|p| partition("payments.eu-west", p, verdict))
                .collect(),
        }
    }

    fn report(groups: Vec<GroupJudgement>, wide: bool) -> VerifyReport {
        VerifyReport {
            schema_version: 1,
            link: "migration".into(),
            mirror_status_source: "the link's REST API",
            offsets: "high watermarks",
            safe: false,
            ok: false,
            groups,
            wide,
        }
    }

    #[test]
    fn the_default_table_fits_100_columns_and_summarises_many_groups() {
        let r = report(
            vec![
                group("billing", GroupStatus::Safe, Verdict::Safe),
                group(
                    "ledger",
                    GroupStatus::NotSafe,
                    Verdict::ConsumerAheadOfMirror,
                ),
            ],
            false,
        );
        let text = verify_table(&r);
        let widest = text
            .lines()
            .filter(|l| !l.starts_with("  ") && !l.contains(" · link "))
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        assert!(widest <= 100, "{widest} columns:\n{text}");
        // One line per group first, then the table of the group that is not safe only.
        assert!(text.contains("│ billing │ SAFE"), "{text}");
        assert!(text.contains("CONSUMER_AHEAD_OF_MIRROR ×12"), "{text}");
        assert!(!text.contains("group billing:"), "{text}");
        assert!(text.contains("group ledger: NOT SAFE"), "{text}");
        // Notes only where a partition needs attention.
        assert_eq!(text.matches("a note").count(), 12, "{text}");
    }

    #[test]
    fn wide_shows_every_column_and_every_group() {
        let r = report(
            vec![
                group("billing", GroupStatus::Safe, Verdict::Safe),
                group("ledger", GroupStatus::NotSafe, Verdict::NotSynced),
            ],
            true,
        );
        let text = verify_table(&r);
        assert!(
            text.contains("group billing:") && text.contains("consumer_lag"),
            "{text}"
        );
    }
}
