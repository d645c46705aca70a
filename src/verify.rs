//! Observing both clusters and the link for a set of groups, and judging them with the rule.
//!
//! This is the I/O shell around `rule.rs`: it decides nothing itself. Reads are batched (one
//! ListOffsets sweep per cluster and spec, one offset fetch per group, many in flight) and
//! ordered so that a race can only make the answer more cautious: mirror ends are read
//! before committed offsets (a commit that lands between the two reads makes
//! `origin_committed` larger, never the mirror end), and group membership is read last (a
//! member that joins during the reads is seen).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::Result;
use crate::kafka::{Cluster, GroupPresence, OffsetSpec, PartitionResult};
use crate::link::filters::{FilterKind, Filters};
use crate::link::{Link, MirrorDescription, MirrorState};
use crate::model::{GroupId, Offset, TopicPartition};
use crate::rule::{
    self, GroupJudgement, GroupObservation, MirrorOf, PartitionObservation, Presence,
};

/// The JSON schema version of verify and audit reports.
pub const SCHEMA_VERSION: u32 = 1;

/// Which groups to verify.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These groups, as named.
    Groups(Vec<GroupId>),
    /// Every origin group with committed offsets on a mirrored topic.
    AllGroups,
}

/// The report of `cutover verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub link: String,
    /// Where mirror status comes from: the link's REST API, or nowhere (Kafka-only mode).
    pub mirror_status_source: &'static str,
    /// How log end offsets are read.
    pub offsets: &'static str,
    pub safe: bool,
    pub groups: Vec<GroupJudgement>,
}

pub(crate) const OFFSETS_NOTE: &str =
    "log end offsets are high watermarks (ListOffsets, read_uncommitted), as kafka-consumer-groups and the link report them";

/// The link's mirrors, keyed by source topic.
pub(crate) struct Mirrors {
    pub by_source: BTreeMap<String, MirrorDescription>,
}

impl Mirrors {
    pub(crate) async fn read(link: &dyn Link) -> Result<Mirrors> {
        let by_source = link
            .mirrors()
            .await?
            .into_iter()
            .map(|m| (m.source_topic.clone(), m))
            .collect();
        Ok(Mirrors { by_source })
    }

    fn source_of(&self, mirror_topic: &str) -> Option<&str> {
        self.by_source
            .values()
            .find(|m| m.mirror_topic == mirror_topic)
            .map(|m| m.source_topic.as_str())
    }

    fn of(&self, source: &str) -> Option<MirrorOf> {
        self.by_source.get(source).map(|m| MirrorOf {
            mirror_topic: m.mirror_topic.clone(),
            state: m.state.clone(),
            partitions: m.partitions,
        })
    }

    /// Every partition of every mirror, as (source partition, mirror partition).
    pub(crate) fn partitions(&self) -> Vec<(TopicPartition, TopicPartition)> {
        self.by_source
            .values()
            .flat_map(|m| {
                (0..m.partitions).map(move |p| {
                    (
                        TopicPartition::new(&m.source_topic, p),
                        TopicPartition::new(&m.mirror_topic, p),
                    )
                })
            })
            .collect()
    }
}

/// Offsets of the mirrors: ends and log starts on the destination, ends on the origin.
pub(crate) struct MirrorOffsets {
    pub mirror_end: BTreeMap<TopicPartition, PartitionResult<Offset>>,
    pub mirror_start: BTreeMap<TopicPartition, PartitionResult<Offset>>,
    pub origin_end: BTreeMap<TopicPartition, PartitionResult<Offset>>,
}

impl MirrorOffsets {
    /// Mirror ends first, then origin ends (see the module docs for why this order).
    pub(crate) async fn read(
        origin: &dyn Cluster,
        destination: &dyn Cluster,
        mirrors: &Mirrors,
    ) -> Result<MirrorOffsets> {
        let pairs = mirrors.partitions();
        let mirror_tps: Vec<TopicPartition> = pairs.iter().map(|(_, m)| m.clone()).collect();
        let source_tps: Vec<TopicPartition> = pairs.iter().map(|(s, _)| s.clone()).collect();
        let (mirror_end, mirror_start) = tokio::try_join!(
            destination.list_offsets(&mirror_tps, OffsetSpec::Latest),
            destination.list_offsets(&mirror_tps, OffsetSpec::Earliest),
        )?;
        let origin_end = origin.list_offsets(&source_tps, OffsetSpec::Latest).await?;
        Ok(MirrorOffsets {
            mirror_end,
            mirror_start,
            origin_end,
        })
    }
}

/// Observes and judges groups.
pub async fn verify(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    selection: &Selection,
) -> Result<VerifyReport> {
    let mirrors = Mirrors::read(link).await?;
    let offsets = MirrorOffsets::read(origin, destination, &mirrors).await?;
    let groups = match selection {
        Selection::Groups(g) => g.clone(),
        Selection::AllGroups => origin
            .list_groups()
            .await?
            .groups
            .into_iter()
            .map(|l| l.group)
            .collect(),
    };
    let observations =
        observe_groups(origin, destination, link, &mirrors, &offsets, &groups).await?;
    let judged: Vec<GroupJudgement> = observations
        .iter()
        .filter(|o| match selection {
            // Every named group is reported, even one without offsets (GROUP_NOT_FOUND).
            Selection::Groups(_) => true,
            Selection::AllGroups => o.partitions.iter().any(|p| p.mirror.is_some()),
        })
        .map(rule::judge_group)
        .collect();
    let safe = !judged.is_empty() && judged.iter().all(|g| g.safe);
    Ok(VerifyReport {
        schema_version: SCHEMA_VERSION,
        link: link.name().to_string(),
        mirror_status_source: status_source(link),
        offsets: OFFSETS_NOTE,
        safe,
        groups: judged,
    })
}

pub(crate) fn status_source(link: &dyn Link) -> &'static str {
    if link.reports_status() {
        "the link's REST API"
    } else {
        "unknown: no REST access to the link, mirror status was not checked"
    }
}

/// Reads committed offsets on both clusters and membership for `groups`, and assembles one
/// observation per group.
pub(crate) async fn observe_groups(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    mirrors: &Mirrors,
    offsets: &MirrorOffsets,
    groups: &[GroupId],
) -> Result<Vec<GroupObservation>> {
    let (origin_committed, destination_committed) = tokio::try_join!(
        origin.committed_offsets(groups),
        destination.committed_offsets(groups)
    )?;
    // Partitions of unmirrored topics still need their origin end, and partitions a group
    // never committed on (of topics it consumes) need to be listed.
    let origin_topics = origin.topics().await?;
    let mut wanted: BTreeMap<GroupId, BTreeSet<TopicPartition>> = BTreeMap::new();
    for g in groups {
        let mut set = BTreeSet::new();
        if let Some(Ok(map)) = origin_committed.get(g) {
            set.extend(map.keys().cloned());
        }
        if let Some(Ok(map)) = destination_committed.get(g) {
            for tp in map.keys() {
                let source = mirrors.source_of(&tp.topic).unwrap_or(&tp.topic);
                set.insert(TopicPartition::new(source, tp.partition));
            }
        }
        let topics: BTreeSet<String> = set.iter().map(|tp| tp.topic.clone()).collect();
        for t in topics {
            if let Some(meta) = origin_topics.get(&t) {
                set.extend(
                    meta.partitions
                        .iter()
                        .map(|p| TopicPartition::new(&t, p.partition)),
                );
            }
        }
        wanted.insert(g.clone(), set);
    }
    let missing_ends: Vec<TopicPartition> = wanted
        .values()
        .flatten()
        .filter(|tp| !offsets.origin_end.contains_key(*tp))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let extra_ends = origin
        .list_offsets(&missing_ends, OffsetSpec::Latest)
        .await?;
    let sync_filter = sync_filter(link).await;
    // Membership last: a member that joined during the reads is seen.
    let (origin_desc, destination_desc) = tokio::try_join!(
        origin.describe_groups(groups),
        destination.describe_groups(groups)
    )?;

    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let o_committed = origin_committed.get(g);
        let d_committed = destination_committed.get(g);
        let partitions = wanted[g]
            .iter()
            .map(|tp| {
                let mirror = mirrors.of(&tp.topic);
                let mirror_tp = mirror
                    .as_ref()
                    .map(|m| TopicPartition::new(&m.mirror_topic, tp.partition));
                let origin_end = offsets
                    .origin_end
                    .get(tp)
                    .or_else(|| extra_ends.get(tp))
                    .map(|r| r.clone().map_err(|e| e.to_string()))
                    .unwrap_or_else(|| Err("not read".into()));
                PartitionObservation {
                    tp: tp.clone(),
                    origin_committed: committed_at(o_committed, tp),
                    destination_committed: match &mirror_tp {
                        Some(mtp) => committed_at(d_committed, mtp),
                        None => Ok(None),
                    },
                    origin_end,
                    mirror_end: mirror_tp.as_ref().map(|m| read_at(&offsets.mirror_end, m)),
                    mirror_start: mirror_tp
                        .as_ref()
                        .map(|m| read_at(&offsets.mirror_start, m)),
                    mirror,
                }
            })
            .collect();
        let (origin_presence, origin_members) = presence(origin_desc.get(g));
        let (destination_presence, destination_members) = presence(destination_desc.get(g));
        out.push(GroupObservation {
            group: g.clone(),
            origin: origin_presence,
            destination: destination_presence,
            origin_members,
            destination_members,
            synced_by_link: sync_filter
                .as_ref()
                .map(|f| f.as_ref().is_some_and(|f| f.includes(g.as_str()))),
            partitions,
        });
    }
    Ok(out)
}

/// The link's sync filter: `Some(None)` when sync is off, `None` when it cannot be read.
async fn sync_filter(link: &dyn Link) -> Option<Option<Filters>> {
    let configs = link.configs().await.ok()?;
    let enabled = configs
        .get("consumer.offset.sync.enable")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !enabled {
        return Some(None);
    }
    let raw = configs
        .get("consumer.offset.group.filters")
        .cloned()
        .unwrap_or_default();
    Some(Filters::parse(FilterKind::Group, &raw).ok())
}

fn committed_at(
    offsets: Option<&crate::kafka::GroupOffsets>,
    tp: &TopicPartition,
) -> std::result::Result<Option<Offset>, String> {
    match offsets {
        None => Ok(None),
        Some(Err(e)) => Err(e.to_string()),
        Some(Ok(map)) => match map.get(tp) {
            None => Ok(None),
            Some(Ok(o)) => Ok(Some(*o)),
            Some(Err(e)) => Err(e.to_string()),
        },
    }
}

fn read_at(
    map: &BTreeMap<TopicPartition, PartitionResult<Offset>>,
    tp: &TopicPartition,
) -> std::result::Result<Offset, String> {
    match map.get(tp) {
        Some(Ok(o)) => Ok(*o),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("not read".into()),
    }
}

fn presence(desc: Option<&crate::kafka::GroupDescription>) -> (Presence, Vec<String>) {
    match desc {
        None => (Presence::NotFound, Vec::new()),
        Some(d) => {
            let members = d
                .members
                .iter()
                .map(|m| format!("{}@{}", m.client_id, m.host))
                .collect();
            let p = match d.presence() {
                GroupPresence::Active => Presence::Active,
                GroupPresence::Empty => Presence::Empty,
                GroupPresence::NotFound => Presence::NotFound,
            };
            (p, members)
        }
    }
}

/// Whether a mirror state counts as active for promotion and reports.
pub(crate) fn is_active(state: &MirrorState) -> bool {
    matches!(state, MirrorState::Active)
}
