//! `cutover audit`: is promotion safe now? A read-only look at every mirror of the link and
//! every group with offsets on a mirrored topic.
//!
//! Promotion is safe when every mirror is active with zero measured lag on every partition,
//! no producer is still writing to a mirrored topic on the origin (origin ends sampled twice,
//! a window apart), and every group has either moved to the destination or is stopped, synced
//! and safe to start there. Anything else is a finding with its reason.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::kafka::Cluster;
use crate::link::Link;
use crate::model::{GroupId, TopicPartition};
use crate::rule::{Presence, Verdict};
use crate::verify::{self, MirrorOffsets, Mirrors, SCHEMA_VERSION};

/// One mirror topic in the audit.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorAudit {
    pub mirror_topic: String,
    pub source_topic: String,
    pub status: String,
    pub partitions: Vec<MirrorPartitionAudit>,
    /// Largest measured lag (`None` when a partition could not be read).
    pub max_lag: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorPartitionAudit {
    pub partition: i32,
    pub origin_end: Option<i64>,
    pub mirror_end: Option<i64>,
    pub mirror_lag: Option<i64>,
    /// What the link itself reports (fetch-relative, informative only).
    pub reported_lag: Option<i64>,
    pub error: Option<String>,
}

/// An origin partition whose end moved during the window: someone still produces there.
#[derive(Debug, Clone, Serialize)]
pub struct OriginMovement {
    pub topic: String,
    pub partition: i32,
    pub before: i64,
    pub after: i64,
}

/// How a group stands before promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupClass {
    /// Running on the destination and not on the origin.
    Moved,
    /// Stopped on the origin, synced, and safe to start on the destination.
    SyncedAndSafe,
    AtRisk,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupAudit {
    pub group: GroupId,
    pub classification: GroupClass,
    pub origin_state: Presence,
    pub destination_state: Presence,
    /// Why the group is at risk (empty otherwise).
    pub reasons: Vec<String>,
}

/// Audit-level findings. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditFindingKind {
    MirrorLag,
    MirrorNotActive,
    MirrorUnreadable,
    MirrorStatusUnknown,
    OriginStillWritten,
    GroupAtRisk,
    NoMirrors,
}

impl AuditFindingKind {
    /// Every audit finding, in the order of the enum.
    pub const ALL: [AuditFindingKind; 7] = [
        AuditFindingKind::MirrorLag,
        AuditFindingKind::MirrorNotActive,
        AuditFindingKind::MirrorUnreadable,
        AuditFindingKind::MirrorStatusUnknown,
        AuditFindingKind::OriginStillWritten,
        AuditFindingKind::GroupAtRisk,
        AuditFindingKind::NoMirrors,
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditFinding {
    pub kind: AuditFindingKind,
    pub detail: String,
}

/// The report of `cutover audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub schema_version: u32,
    pub link: String,
    pub mirror_status_source: &'static str,
    pub offsets: &'static str,
    pub window_ms: u64,
    pub promotion_safe: bool,
    pub findings: Vec<AuditFinding>,
    pub mirrors: Vec<MirrorAudit>,
    pub origin_moving: Vec<OriginMovement>,
    #[serde(serialize_with = "verify::serialize_in_parallel")]
    pub groups: Vec<GroupAudit>,
}

/// Runs the audit; `window` is how long origin ends are watched for movement.
pub async fn audit(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    window: Duration,
) -> Result<AuditReport> {
    let mirrors = Mirrors::read(link).await?;
    let first = MirrorOffsets::read(origin, destination, &mirrors).await?;
    tokio::time::sleep(window).await;
    let offsets = MirrorOffsets::read(origin, destination, &mirrors).await?;

    let mut findings = Vec::new();
    if mirrors.by_source.is_empty() {
        findings.push(AuditFinding {
            kind: AuditFindingKind::NoMirrors,
            detail: format!("link {} has no mirror topics", link.name()),
        });
    }
    let mut mirror_audits = Vec::new();
    for m in mirrors.by_source.values() {
        let mut parts = Vec::new();
        for p in 0..m.partitions {
            let stp = TopicPartition::new(&m.source_topic, p);
            let mtp = TopicPartition::new(&m.mirror_topic, p);
            let oe = offsets.origin_end.get(&stp);
            let me = offsets.mirror_end.get(&mtp);
            let error = [oe, me].into_iter().find_map(|r| match r {
                Some(Err(e)) => Some(e.to_string()),
                None => Some("not read".to_string()),
                Some(Ok(_)) => None,
            });
            let origin_end = oe.and_then(|r| r.as_ref().ok()).map(|o| o.get());
            let mirror_end = me.and_then(|r| r.as_ref().ok()).map(|o| o.get());
            parts.push(MirrorPartitionAudit {
                partition: p,
                origin_end,
                mirror_end,
                mirror_lag: origin_end.zip(mirror_end).map(|(o, m)| o - m),
                reported_lag: m.lags.get(&p).map(|l| l.lag),
                error,
            });
        }
        let max_lag = if parts.iter().all(|p| p.mirror_lag.is_some()) {
            parts.iter().filter_map(|p| p.mirror_lag).max()
        } else {
            None
        };
        if let Some(e) = parts
            .iter()
            .find_map(|p| p.error.as_ref().map(|e| (p.partition, e)))
        {
            findings.push(AuditFinding {
                kind: AuditFindingKind::MirrorUnreadable,
                detail: format!("{} partition {}: {}", m.mirror_topic, e.0, e.1),
            });
        }
        if let Some(lag) = max_lag.filter(|l| *l != 0) {
            let lagging = parts
                .iter()
                .filter(|p| p.mirror_lag.is_some_and(|l| l != 0))
                .count();
            findings.push(AuditFinding {
                kind: AuditFindingKind::MirrorLag,
                detail: format!(
                    "{}: mirror lag up to {lag} on {lagging} partition(s)",
                    m.mirror_topic
                ),
            });
        }
        if link.reports_status() && !verify::is_active(&m.state) {
            findings.push(AuditFinding {
                kind: AuditFindingKind::MirrorNotActive,
                detail: format!("{} is {}", m.mirror_topic, m.state.as_str()),
            });
        }
        mirror_audits.push(MirrorAudit {
            mirror_topic: m.mirror_topic.clone(),
            source_topic: m.source_topic.clone(),
            status: m.state.as_str().to_string(),
            partitions: parts,
            max_lag,
        });
    }
    if !link.reports_status() && !mirrors.by_source.is_empty() {
        findings.push(AuditFinding {
            kind: AuditFindingKind::MirrorStatusUnknown,
            detail: "no REST access to the link: mirror status was not checked (offsets were)"
                .into(),
        });
    }

    let mut moving = Vec::new();
    for (tp, after) in &offsets.origin_end {
        if let (Some(Ok(before)), Ok(after)) = (first.origin_end.get(tp), after) {
            if after != before {
                moving.push(OriginMovement {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    before: before.get(),
                    after: after.get(),
                });
            }
        }
    }
    if !moving.is_empty() {
        let topics: std::collections::BTreeSet<&str> =
            moving.iter().map(|m| m.topic.as_str()).collect();
        findings.push(AuditFinding {
            kind: AuditFindingKind::OriginStillWritten,
            detail: format!(
                "origin ends moved within {} ms on {} partition(s) of {}: a producer still writes to the origin",
                window.as_millis(),
                moving.len(),
                topics.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }

    // Every group with offsets on a mirrored topic, on either side.
    let (o_list, d_list) = tokio::try_join!(origin.list_groups(), destination.list_groups())?;
    let candidates: Vec<GroupId> = o_list
        .groups
        .into_iter()
        .chain(d_list.groups)
        .map(|l| l.group)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let judged =
        verify::judge_groups(origin, destination, link, &mirrors, &offsets, &candidates).await?;
    let mut groups = Vec::new();
    for j in judged.iter().filter(|j| j.on_a_mirrored_topic()) {
        let classification =
            if j.destination_state == Presence::Active && j.origin_state != Presence::Active {
                GroupClass::Moved
            } else if j.safe {
                GroupClass::SyncedAndSafe
            } else {
                GroupClass::AtRisk
            };
        let mut reasons = Vec::new();
        if classification == GroupClass::AtRisk {
            reasons.extend(
                j.findings
                    .iter()
                    .filter(|f| f.blocking)
                    .map(|f| f.detail.clone()),
            );
            let mut by_verdict: BTreeMap<Verdict, Vec<String>> = BTreeMap::new();
            for p in j.partitions.iter().filter(|p| p.verdict != Verdict::Safe) {
                by_verdict
                    .entry(p.verdict)
                    .or_default()
                    .push(format!("{}-{}", p.topic, p.partition));
            }
            for (v, tps) in by_verdict {
                reasons.push(format!("{} on {}", v.as_str(), tps.join(", ")));
            }
            findings.push(AuditFinding {
                kind: AuditFindingKind::GroupAtRisk,
                detail: format!("{}: {}", j.group, reasons.join("; ")),
            });
        }
        groups.push(GroupAudit {
            group: j.group.clone(),
            classification,
            origin_state: j.origin_state,
            destination_state: j.destination_state,
            reasons,
        });
    }
    let promotion_safe = !mirrors.by_source.is_empty()
        && findings
            .iter()
            .all(|f| f.kind == AuditFindingKind::MirrorStatusUnknown);
    Ok(AuditReport {
        schema_version: SCHEMA_VERSION,
        link: link.name().to_string(),
        mirror_status_source: verify::status_source(link),
        offsets: verify::OFFSETS_NOTE,
        window_ms: window.as_millis() as u64,
        promotion_safe,
        findings,
        mirrors: mirror_audits,
        origin_moving: moving,
        groups,
    })
}
