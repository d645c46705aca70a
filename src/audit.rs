//! `cutover audit`: is promotion safe now? A read-only look at every mirror of the link and
//! every group with offsets on a mirrored topic.
//!
//! This is the I/O shell around `promotion.rs`, which decides: here the link's mirrors and
//! both clusters' offsets are read (the origin's ends twice, a window apart), the groups are
//! judged by the rule through `verify`, and the verdict is wrapped in an [`AuditReport`]
//! (whose type lives in `report`).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::error::Result;
use crate::kafka::{Cluster, PartitionResult};
use crate::link::Link;
use crate::model::{GroupId, Offset, TopicPartition};
use crate::promotion::{
    self, MirrorObservation, MirrorPartitionObservation, PromotionObservation, ReversePath,
};
use crate::report::{AuditReport, SCHEMA_VERSION};
use crate::rule::GroupJudgement;
use crate::verify::{self, MirrorOffsets, Mirrors};

/// What an audit (and `promote`'s gate) reads: every mirror, its offsets at both edges of
/// the window, and the rule's judgement of every group with offsets on a mirrored topic.
pub(crate) struct Observed {
    pub mirrors: Mirrors,
    pub first: MirrorOffsets,
    pub offsets: MirrorOffsets,
    pub judged: Vec<GroupJudgement>,
}

impl Observed {
    /// What was observed of the mirrors named (by mirror topic).
    pub(crate) fn mirrors_only(
        &self,
        mirror_topics: &std::collections::BTreeSet<String>,
    ) -> Vec<MirrorObservation> {
        observed_mirrors(&self.mirrors, &self.first, &self.offsets)
            .into_iter()
            .filter(|m| mirror_topics.contains(&m.mirror_topic))
            .collect()
    }
}

/// Reads every mirror's offsets, watches the origin's ends for `window`, reads them again,
/// and judges every group on either cluster.
pub(crate) async fn observe(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    window: Duration,
) -> Result<Observed> {
    let mirrors = Mirrors::read(link).await?;
    let first = MirrorOffsets::read(origin, destination, &mirrors).await?;
    tokio::time::sleep(window).await;
    let offsets = MirrorOffsets::read(origin, destination, &mirrors).await?;

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
    Ok(Observed {
        mirrors,
        first,
        offsets,
        judged,
    })
}

/// The groups declared to stay on the origin, and the way back for them.
pub struct Staying {
    pub groups: BTreeSet<GroupId>,
    pub reverse: ReversePath,
}

impl Staying {
    /// No group stays.
    pub fn none() -> Staying {
        Staying {
            groups: BTreeSet::new(),
            reverse: ReversePath::NotConfigured,
        }
    }
}

/// Runs the audit; `window` is how long origin ends are watched for movement;
/// `agent_moves_groups` when cutover writes moved groups' final offsets itself; `staying`:
/// the groups declared to stay on the origin, judged by the way back instead.
pub async fn audit(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    window: Duration,
    agent_moves_groups: bool,
    staying: &Staying,
) -> Result<AuditReport> {
    let o = observe(origin, destination, link, window).await?;
    let window_ms = window.as_millis() as u64;
    let verdict = promotion::judge(&PromotionObservation {
        link: link.name(),
        reports_status: link.reports_status(),
        window_ms,
        mirrors: observed_mirrors(&o.mirrors, &o.first, &o.offsets),
        groups: &o.judged,
        agent_moves_groups,
        staying: &staying.groups,
        reverse: &staying.reverse,
    });
    Ok(AuditReport {
        schema_version: SCHEMA_VERSION,
        link: link.name().to_string(),
        mirror_status_source: verify::status_source(link),
        offsets: verify::OFFSETS_NOTE,
        window_ms,
        promotion_safe: verdict.safe,
        findings: verdict.findings,
        mirrors: verdict.mirrors,
        origin_moving: verdict.origin_moving,
        groups: verdict.groups,
    })
}

/// What was read of each mirror: its partitions' ends on both sides after the window, and the
/// origin's ends before it.
pub(crate) fn observed_mirrors(
    mirrors: &Mirrors,
    first: &MirrorOffsets,
    offsets: &MirrorOffsets,
) -> Vec<MirrorObservation> {
    mirrors
        .by_source
        .values()
        .map(|m| MirrorObservation {
            mirror_topic: m.mirror_topic.clone(),
            source_topic: m.source_topic.clone(),
            state: m.state.clone(),
            partitions: (0..m.partitions)
                .map(|p| {
                    let stp = TopicPartition::new(&m.source_topic, p);
                    let mtp = TopicPartition::new(&m.mirror_topic, p);
                    MirrorPartitionObservation {
                        partition: p,
                        origin_end_before: read(first.origin_end.get(&stp)),
                        origin_end: read(offsets.origin_end.get(&stp)),
                        mirror_end: read(offsets.mirror_end.get(&mtp)),
                        reported_lag: m.lags.get(&p).map(|l| l.lag),
                    }
                })
                .collect(),
        })
        .collect()
}

/// An end offset that was asked for: its absence is an error ("not read").
pub(crate) fn read(r: Option<&PartitionResult<Offset>>) -> std::result::Result<Offset, String> {
    match r {
        Some(Ok(o)) => Ok(*o),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("not read".to_string()),
    }
}
