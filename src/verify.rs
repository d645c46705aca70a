//! Observing both clusters and the link for a set of groups, and judging them with the rule.
//!
//! This is the I/O shell around `rule.rs`: it decides nothing itself, and assembles the
//! [`VerifyReport`] (whose type lives in `report`). Reads are batched (one
//! ListOffsets sweep per cluster and spec, one offset fetch per group, many in flight) and
//! ordered so that a race can only make the answer more cautious: mirror ends are read
//! before committed offsets (a commit that lands between the two reads makes
//! `origin_committed` larger, never the mirror end), and group membership is read last (a
//! member that joins during the reads is seen).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::kafka::{Cluster, GroupPresence, GroupState, OffsetSpec, PartitionResult};
use crate::link::filters::{FilterKind, Filters};
use crate::link::{Link, MirrorDescription};
use crate::model::{GroupId, Offset, Topic, TopicPartition};
use crate::parallel::parallel_map;
use crate::report::{VerifyReport, SCHEMA_VERSION};
use crate::rule::{
    self, GroupJudgement, GroupObservation, MirrorOf, PartitionObservation, Presence,
};

/// Which groups to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These groups, as named.
    Groups(Vec<GroupId>),
    /// Every origin group with committed offsets on a mirrored topic.
    AllGroups,
}

pub(crate) const OFFSETS_NOTE: &str =
    "log end offsets are high watermarks (ListOffsets, read_uncommitted), as kafka-consumer-groups and the link report them";

/// The link's mirrors, keyed by source topic.
pub(crate) struct Mirrors {
    pub by_source: BTreeMap<String, MirrorDescription>,
    /// The source topic of each mirror topic.
    source_by_mirror: BTreeMap<String, Topic>,
    /// What the rule is told of each mirror, by source topic: built once, shared by every
    /// partition of every group.
    of: BTreeMap<String, MirrorOf>,
}

impl Mirrors {
    pub(crate) async fn read(link: &dyn Link) -> Result<Mirrors> {
        Ok(Mirrors::new(link.mirrors().await?))
    }

    fn new(described: Vec<MirrorDescription>) -> Mirrors {
        let by_source: BTreeMap<String, MirrorDescription> = described
            .into_iter()
            .map(|m| (m.source_topic.clone(), m))
            .collect();
        let source_by_mirror = by_source
            .values()
            .map(|m| (m.mirror_topic.clone(), Topic::from(&m.source_topic)))
            .collect();
        let of = by_source
            .values()
            .map(|m| {
                let of = MirrorOf {
                    mirror_topic: Topic::from(&m.mirror_topic),
                    state: m.state.clone(),
                    partitions: m.partitions,
                };
                (m.source_topic.clone(), of)
            })
            .collect();
        Mirrors {
            by_source,
            source_by_mirror,
            of,
        }
    }

    /// The mirror topics named (by mirror or source name), or every mirror when none is (none
    /// for an `option`'s empty list); an unknown name is an error naming the link's mirrors.
    pub(crate) fn select(&self, names: &[String], option: &str) -> Result<BTreeSet<String>> {
        if names.is_empty() {
            return Ok(if option.is_empty() {
                self.by_source
                    .values()
                    .map(|m| m.mirror_topic.clone())
                    .collect()
            } else {
                BTreeSet::new()
            });
        }
        let mut out = BTreeSet::new();
        for name in names {
            let found = self
                .by_source
                .values()
                .find(|m| &m.mirror_topic == name || &m.source_topic == name);
            match found {
                Some(m) => out.insert(m.mirror_topic.clone()),
                None => {
                    let known: Vec<&str> = self
                        .by_source
                        .values()
                        .map(|m| m.mirror_topic.as_str())
                        .take(20)
                        .collect();
                    return Err(Error::State {
                        message: format!("{option}{name} is not a mirror topic of the link"),
                        hint: if known.is_empty() {
                            "the link has no mirror topics (check [link] name)".into()
                        } else {
                            format!("name mirror topics of the link: {}", known.join(", "))
                        },
                    });
                }
            };
        }
        Ok(out)
    }

    /// Only the mirrors whose mirror topic is in `mirror_topics`.
    pub(crate) fn only(self, mirror_topics: &BTreeSet<String>) -> Mirrors {
        Mirrors::new(
            self.by_source
                .into_values()
                .filter(|m| mirror_topics.contains(&m.mirror_topic))
                .collect(),
        )
    }

    fn source_of(&self, mirror_topic: &str) -> Option<&Topic> {
        self.source_by_mirror.get(mirror_topic)
    }

    fn of(&self, source: &str) -> Option<&MirrorOf> {
        self.of.get(source)
    }

    /// Every partition of every mirror, as (source partition, mirror partition).
    pub(crate) fn partitions(&self) -> Vec<(TopicPartition, TopicPartition)> {
        self.of
            .iter()
            .flat_map(|(source, m)| {
                let source = Topic::from(source);
                (0..m.partitions).map(move |p| {
                    (
                        TopicPartition::new(&source, p),
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
        let t0 = std::time::Instant::now();
        let (mirror_end, mirror_start) = tokio::try_join!(
            destination.list_offsets(&mirror_tps, OffsetSpec::Latest),
            destination.list_offsets(&mirror_tps, OffsetSpec::Earliest),
        )?;
        tracing::debug!(elapsed = ?t0.elapsed(), "read the mirrors' ends and log starts");
        let origin_end = origin.list_offsets(&source_tps, OffsetSpec::Latest).await?;
        tracing::debug!(elapsed = ?t0.elapsed(), "read the origin's ends");
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
    let t0 = std::time::Instant::now();
    // The group list does not take part in the read order: fetch it while the mirrors are read.
    let listing = async {
        match selection {
            Selection::Groups(g) => Ok(g.clone()),
            Selection::AllGroups => Ok(origin
                .list_groups()
                .await?
                .groups
                .into_iter()
                .map(|l| l.group)
                .collect()),
        }
    };
    let mirrors_and_ends = async {
        let mirrors = Mirrors::read(link).await?;
        let offsets = MirrorOffsets::read(origin, destination, &mirrors).await?;
        Ok::<_, crate::error::Error>((mirrors, offsets))
    };
    let (groups, (mirrors, offsets)) = tokio::try_join!(listing, mirrors_and_ends)?;
    tracing::debug!(elapsed = ?t0.elapsed(), partitions = offsets.mirror_end.len(), groups = groups.len(), "read the mirrors, their ends and the group list");
    let judged: Vec<GroupJudgement> =
        judge_groups(origin, destination, link, &mirrors, &offsets, &groups)
            .await?
            .into_iter()
            .filter(|j| match selection {
                // Every named group is reported, even one without offsets (GROUP_NOT_FOUND).
                Selection::Groups(_) => true,
                Selection::AllGroups => j.on_a_mirrored_topic(),
            })
            .collect();
    let safe = !judged.is_empty() && judged.iter().all(|g| g.safe);
    let ok = !judged.is_empty() && judged.iter().all(|g| g.status.is_ok());
    Ok(VerifyReport {
        schema_version: SCHEMA_VERSION,
        link: link.name().to_string(),
        mirror_status_source: status_source(link),
        offsets: OFFSETS_NOTE,
        safe,
        ok,
        groups: judged,
        wide: false,
    })
}

pub(crate) fn status_source(link: &dyn Link) -> &'static str {
    if link.reports_status() {
        "the link's REST API"
    } else {
        "unknown: no REST access to the link, mirror status was not checked"
    }
}

/// Reads committed offsets on both clusters and membership for `groups`, and judges each
/// group. A group's observation is assembled, judged and dropped on one core: the
/// observations of a whole cluster never sit in memory together.
pub(crate) async fn judge_groups(
    origin: &dyn Cluster,
    destination: &dyn Cluster,
    link: &dyn Link,
    mirrors: &Mirrors,
    offsets: &MirrorOffsets,
    groups: &[GroupId],
) -> Result<Vec<GroupJudgement>> {
    let t0 = std::time::Instant::now();
    // Metadata and the link's sync filter do not take part in the read order: fetch them
    // alongside the committed offsets.
    let (origin_committed, destination_committed, origin_topics, sync_filter) = tokio::try_join!(
        origin.committed_offsets(groups),
        destination.committed_offsets(groups),
        origin.topics(),
        async { Ok(sync_filter(link).await) },
    )?;
    tracing::debug!(elapsed = ?t0.elapsed(), groups = groups.len(), "read committed offsets, metadata and the sync filter");
    let origin_ends = by_topic(&offsets.origin_end);
    let mirror_ends = by_topic(&offsets.mirror_end);
    let mirror_starts = by_topic(&offsets.mirror_start);

    // Per group: every partition of every topic it has an offset for, on either side (a
    // partition it never committed on would be reset on a restart).
    struct Wanted<'a> {
        origin: ByTopic<'a>,
        destination: ByTopic<'a>,
        partitions: BTreeMap<Topic, BTreeSet<i32>>,
    }
    /// A group's wanted partitions, or which side failed to list its offsets and why.
    type WantedOrError<'a> = Result<Wanted<'a>, (String, String)>;
    let mut wanted: Vec<WantedOrError<'_>> = Vec::with_capacity(groups.len());
    let mut unmirrored: BTreeSet<TopicPartition> = BTreeSet::new();
    for g in groups {
        let o = origin_committed.get(g);
        let d = destination_committed.get(g);
        let (o_map, d_map) = match (o, d) {
            (Some(Err(e)), _) => {
                wanted.push(Err(("origin".into(), e.to_string())));
                continue;
            }
            (_, Some(Err(e))) => {
                wanted.push(Err(("destination".into(), e.to_string())));
                continue;
            }
            (o, d) => (
                o.and_then(|r| r.as_ref().ok())
                    .map(by_topic)
                    .unwrap_or_default(),
                d.and_then(|r| r.as_ref().ok())
                    .map(by_topic)
                    .unwrap_or_default(),
            ),
        };
        let mut partitions: BTreeMap<Topic, BTreeSet<i32>> = BTreeMap::new();
        for (topic, parts) in &o_map {
            partitions
                .entry(topic.clone())
                .or_default()
                .extend(parts.keys());
        }
        for (topic, parts) in &d_map {
            let source = mirrors.source_of(topic).unwrap_or(topic);
            partitions
                .entry(source.clone())
                .or_default()
                .extend(parts.keys());
        }
        for (topic, set) in partitions.iter_mut() {
            if let Some(meta) = origin_topics.get(topic.as_str()) {
                set.extend(meta.partitions.iter().map(|p| p.partition));
            }
            if !mirrors.by_source.contains_key(topic.as_str()) {
                unmirrored.extend(set.iter().map(|p| TopicPartition::new(topic, *p)));
            }
        }
        wanted.push(Ok(Wanted {
            origin: o_map,
            destination: d_map,
            partitions,
        }));
    }
    // Topics without a mirror still get their origin end, for the report.
    let unmirrored: Vec<TopicPartition> = unmirrored.into_iter().collect();
    let extra = origin.list_offsets(&unmirrored, OffsetSpec::Latest).await?;
    let extra_ends = by_topic(&extra);
    // Membership last: a member that joined during the reads is seen.
    let (origin_presence, destination_presence) =
        tokio::try_join!(membership(origin, groups), membership(destination, groups))?;
    tracing::debug!(elapsed = ?t0.elapsed(), "read membership on both clusters");

    let pairs: Vec<(&GroupId, &WantedOrError<'_>)> = groups.iter().zip(&wanted).collect();
    let observe = |&(g, wanted): &(&GroupId, &WantedOrError<'_>)| {
        let offsets_error = wanted.as_ref().err().map(|(side, e)| {
            format!("the {side} cluster could not list the group's committed offsets: {e}")
        });
        let partitions = match wanted {
            // The group's offsets could not be read at all: a finding says so.
            Err(_) => Vec::new(),
            Ok(w) => {
                let mut list = Vec::with_capacity(w.partitions.values().map(BTreeSet::len).sum());
                for (topic, parts) in &w.partitions {
                    let mirror = mirrors.of(topic);
                    let mirror_topic = mirror.map(|m| m.mirror_topic.as_str());
                    // Each map is searched by topic once, then by partition number.
                    // A mirrored topic's ends were read with the mirrors, another's after.
                    let ends = origin_ends.get(topic).or_else(|| extra_ends.get(topic));
                    let origin = w.origin.get(topic);
                    let destination = of_topic(&w.destination, mirror_topic);
                    let mirror_end = of_topic(&mirror_ends, mirror_topic);
                    let mirror_start = of_topic(&mirror_starts, mirror_topic);
                    for &p in parts {
                        list.push(PartitionObservation {
                            tp: TopicPartition::new(topic, p),
                            origin_committed: committed(origin, p),
                            destination_committed: committed(destination, p),
                            origin_end: read(ends, p),
                            mirror_end: mirror.map(|_| read(mirror_end, p)),
                            mirror_start: mirror.map(|_| read(mirror_start, p)),
                            mirror: mirror.cloned(),
                        });
                    }
                }
                list
            }
        };
        let (origin_state, origin_members) = origin_presence
            .get(g)
            .cloned()
            .unwrap_or((Presence::NotFound, Vec::new()));
        let (destination_state, destination_members) = destination_presence
            .get(g)
            .cloned()
            .unwrap_or((Presence::NotFound, Vec::new()));
        GroupObservation {
            group: (*g).clone(),
            origin: origin_state,
            destination: destination_state,
            origin_members,
            destination_members,
            synced_by_link: sync_filter
                .as_ref()
                .map(|f| f.as_ref().is_some_and(|f| f.includes(g.as_str()))),
            offsets_error,
            partitions,
        }
    };
    // Assembling and judging 100,000 partitions is plain CPU work: spread it over the cores.
    let judged = parallel_map(&pairs, |pair| rule::judge_group(&observe(pair)));
    tracing::debug!(elapsed = ?t0.elapsed(), "assembled and judged the observations");
    Ok(judged)
}

type ByTopic<'a> = BTreeMap<Topic, OfTopic<'a>>;

/// A partition-keyed map regrouped by topic, borrowing the results: lookups by topic name
/// then need no allocation.
fn by_topic(map: &BTreeMap<TopicPartition, PartitionResult<Offset>>) -> ByTopic<'_> {
    let mut out: ByTopic<'_> = BTreeMap::new();
    for (tp, v) in map {
        match out.get_mut(tp.topic.as_str()) {
            Some(parts) => {
                parts.insert(tp.partition, v);
            }
            None => {
                out.insert(tp.topic.clone(), BTreeMap::from([(tp.partition, v)]));
            }
        }
    }
    out
}

/// One topic's partitions of a [`ByTopic`] map.
type OfTopic<'a> = BTreeMap<i32, &'a PartitionResult<Offset>>;

fn of_topic<'m, 'a>(map: &'m ByTopic<'a>, topic: Option<&str>) -> Option<&'m OfTopic<'a>> {
    topic.and_then(|t| map.get(t))
}

/// A committed offset: none when the partition has no entry (the group never committed there).
fn committed(
    map: Option<&OfTopic<'_>>,
    partition: i32,
) -> std::result::Result<Option<Offset>, String> {
    match map.and_then(|m| m.get(&partition)) {
        None => Ok(None),
        Some(Ok(o)) => Ok(Some(*o)),
        Some(Err(e)) => Err(e.to_string()),
    }
}

/// A log offset that was asked for: its absence is an error ("not read").
fn read(map: Option<&OfTopic<'_>>, partition: i32) -> std::result::Result<Offset, String> {
    match map.and_then(|m| m.get(&partition)) {
        Some(Ok(o)) => Ok(*o),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("not read".into()),
    }
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

/// Whether each group runs on `cluster`, and its members. One ListConsumerGroups answers
/// for every group whose state proves it has no member (`Empty`) or does not exist; only the
/// others are described (one request per group), so a cluster-wide check stays a handful of
/// requests. States librdkafka cannot name (`UNKNOWN`, such as KIP-848's `Assigning`) are
/// described, and activity is decided from the members found.
async fn membership(
    cluster: &dyn Cluster,
    groups: &[GroupId],
) -> Result<BTreeMap<GroupId, (Presence, Vec<String>)>> {
    let listed = cluster.list_groups().await?;
    // A listing that missed a broker cannot prove a group empty or absent.
    let complete = listed.errors.is_empty();
    let states: BTreeMap<&GroupId, GroupState> =
        listed.groups.iter().map(|l| (&l.group, l.state)).collect();
    let mut out = BTreeMap::new();
    let mut describe = Vec::new();
    for g in groups {
        match states.get(g) {
            Some(GroupState::Empty) if complete => {
                out.insert(g.clone(), (Presence::Empty, Vec::new()));
            }
            None | Some(GroupState::Dead) if complete => {
                out.insert(g.clone(), (Presence::NotFound, Vec::new()));
            }
            _ => describe.push(g.clone()),
        }
    }
    let described = cluster.describe_groups(&describe).await?;
    for g in describe {
        let p = presence(described.get(&g));
        out.insert(g, p);
    }
    Ok(out)
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
