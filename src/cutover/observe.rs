//! One look at a group during its cutover: the same `verify` code as `cutover verify` over
//! both sides and the link, with the link's offset sync read alongside, turned into the phase
//! machine's [`Observation`] (keyed by origin partition) and the journal's samples; and the
//! names the group's topics take where it restarts (the link's mirror topics).

use std::collections::BTreeMap;

use crate::cutover::machine::Observation;
use crate::error::{Error, Result};
use crate::journal::PartitionSample;
use crate::link::filter_edit::GROUP_FILTERS;
use crate::link::filters::{FilterKind, Filters};
use crate::link::Link;
use crate::model::{GroupId, MirrorState, TopicPartition};
use crate::report::VerifyReport;
use crate::rule::{GroupJudgement, Presence};
use crate::verify::{self, Selection};

use super::driver::Env;

const SYNC_ENABLE: &str = "consumer.offset.sync.enable";

/// The link's offset sync as read now, in one call to the link: `None` when the link cannot be
/// asked (or its filters not parsed), `Some(None)` when sync is off, else its group filters.
pub(super) async fn offset_sync(link: &dyn Link) -> Option<Option<Filters>> {
    if !link.reports_status() {
        return None;
    }
    let configs = link.configs().await.ok()?;
    let enabled = configs
        .get(SYNC_ENABLE)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !enabled {
        return Some(None);
    }
    Filters::parse(
        FilterKind::Group,
        configs.get(GROUP_FILTERS).map_or("", String::as_str),
    )
    .ok()
    .map(Some)
}

/// Whether that sync excludes the group; `None` when it could not be read.
fn excluded_by(sync: Option<&Option<Filters>>, group: &GroupId) -> Option<bool> {
    sync.map(|filters| filters.as_ref().is_none_or(|f| !f.includes(group.as_str())))
}

/// The group's judgement in a report of it alone.
pub(super) fn judgement_of<'r>(
    report: &'r VerifyReport,
    group: &GroupId,
) -> Result<&'r GroupJudgement> {
    report
        .groups
        .first()
        .ok_or_else(|| Error::Internal(format!("verify returned no result for group {group}")))
}

/// `groups` read together through the same code as `cutover verify`, with the link's offset
/// sync read alongside (see [`offset_sync`]).
pub(super) async fn read(
    env: &Env<'_>,
    groups: &[GroupId],
) -> Result<(VerifyReport, Option<Option<Filters>>)> {
    let selection = Selection::Groups(groups.to_vec());
    let (report, sync) = tokio::join!(
        verify::verify(env.origin, env.destination, env.link, &selection),
        offset_sync(env.link)
    );
    Ok((report?, sync))
}

/// One observation of the group, through the same code as `cutover verify`, with the report
/// it was read from.
pub(super) async fn observe(env: &Env<'_>, group: &GroupId) -> Result<(Observation, VerifyReport)> {
    observe_with_sync(env, group)
        .await
        .map(|(o, report, _)| (o, report))
}

/// [`observe`], with the link's offset sync it read (see [`offset_sync`]).
pub(super) async fn observe_with_sync(
    env: &Env<'_>,
    group: &GroupId,
) -> Result<(Observation, VerifyReport, Option<Option<Filters>>)> {
    let (report, sync) = match env.looks {
        Some(looks) => looks.look(env, group).await?,
        None => read(env, std::slice::from_ref(group)).await?,
    };
    let paired = env.link.paired_topics();
    let judgement = judgement_of(&report, group)?;
    let mut o = Observation {
        origin_active: judgement.origin_state == Presence::Active,
        destination_active: judgement.destination_state == Presence::Active,
        excluded: excluded_by(sync.as_ref(), group),
        ..Observation::default()
    };
    for p in &judgement.partitions {
        let tp = TopicPartition::new(&p.topic, p.partition);
        if let Some(c) = p.origin_committed {
            o.origin_committed.insert(tp.clone(), c);
        }
        if let Some(c) = p.destination_committed {
            o.destination_committed.insert(tp.clone(), c);
        }
        if let Some(m) = p.mirror_end {
            o.mirror_end.insert(tp.clone(), m);
        }
        // A paired topic's origin side is a reverse mirror: it grows with what producers
        // write on the destination, which is no write to the origin (`link/paired.rs`).
        if let Some(e) = p.origin_end.filter(|_| !paired.contains(p.topic.as_str())) {
            o.origin_end.insert(tp.clone(), e);
        }
        if let (Some(mirror), Some(status)) = (&p.mirror_topic, &p.mirror_status) {
            match status.as_ref() {
                "ACTIVE" | "UNKNOWN" => {}
                // Promoted: an ordinary topic the agent can move the group onto.
                s if s == MirrorState::Stopped.as_str() => {
                    o.promoted_topics.insert(p.topic.to_string());
                }
                _ => {
                    o.mirrors_not_active
                        .insert(mirror.to_string(), status.to_string());
                }
            }
        }
        o.verdicts.insert(tp, p.verdict);
    }
    Ok((o, report, sync))
}

pub(super) fn samples(j: &GroupJudgement) -> Vec<PartitionSample> {
    j.partitions
        .iter()
        .map(|p| PartitionSample {
            topic: p.topic.to_string(),
            partition: p.partition,
            origin_committed: p.origin_committed,
            destination_committed: p.destination_committed,
            origin_end: p.origin_end,
            mirror_end: p.mirror_end,
        })
        .collect()
}

/// The link's mirror topic of each of the group's topics (the same name unless the link has a
/// prefix).
pub(super) fn mirror_names(j: &GroupJudgement) -> BTreeMap<String, String> {
    j.partitions
        .iter()
        .filter_map(|p| Some((p.topic.to_string(), p.mirror_topic.as_ref()?.to_string())))
        .collect()
}

/// The group's topics as named where it restarts: the restart hook's `{topics}`.
pub(super) fn restart_topics(
    topics: &[String],
    mirror_of: &BTreeMap<String, String>,
) -> Vec<String> {
    topics
        .iter()
        .map(|t| mirror_of.get(t).unwrap_or(t).clone())
        .collect()
}

pub(super) fn topics_of(o: &Observation) -> Vec<String> {
    let mut topics: Vec<String> = o
        .origin_committed
        .keys()
        .chain(o.verdicts.keys())
        .map(|tp| tp.topic.to_string())
        .collect();
    topics.sort();
    topics.dedup();
    topics
}
