//! Table and Markdown layouts of the verify and audit reports.

use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::Style;

use crate::promotion::GroupClass;
use crate::rule::{FindingKind, GroupJudgement, GroupStatus, PartitionJudgement, Presence};

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

fn n<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
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
    for p in &g.partitions {
        for note in &p.notes {
            out.push(format!("{}-{}: {note}", p.topic, p.partition));
        }
    }
    out
}

fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The verify report as terminal tables, one per group.
pub fn verify_table(r: &VerifyReport) -> String {
    let mut out = String::new();
    for g in &r.groups {
        let _ = writeln!(out, "{}", group_headline(g));
        if !g.partitions.is_empty() {
            let mut b = Builder::default();
            b.push_record(PARTITION_HEADER);
            for p in &g.partitions {
                b.push_record(partition_row(p));
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
        "{} · link {} · mirror status from {} · {}",
        tally(r),
        r.link,
        r.mirror_status_source,
        r.offsets
    );
    out
}

fn md_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
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
    let mut b = Builder::default();
    b.push_record(MIRROR_HEADER);
    for row in mirrors {
        b.push_record(row);
    }
    let _ = writeln!(out, "{}\n", b.build().with(Style::sharp()));
    if !groups.is_empty() {
        let mut b = Builder::default();
        b.push_record(GROUP_HEADER);
        for row in groups {
            b.push_record(row);
        }
        let _ = writeln!(out, "{}\n", b.build().with(Style::sharp()));
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
