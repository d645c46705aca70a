//! Consumer-offset sync, with the link's semantics.
//!
//! Every `consumer.offset.sync.ms` (read again at each tick, so a change applies from the next
//! one) the task lists the origin's groups, keeps those `consumer.offset.group.filters`
//! includes, fetches their committed offsets, keeps the partitions of ACTIVE mirrors, and
//! commits them raw (never clamped to the mirror's end) on the destination through the admin
//! API. Groups with members on the destination are skipped (and the coordinator would refuse
//! them anyway). An excluded group is simply no longer written, so it keeps its last synced
//! offsets.
//!
//! Where the reference leaves the behaviour open, the emulator picks what makes the agent's
//! job hardest: every tick writes every included group's offsets, changed or not, so a group
//! that stopped on the destination while still included is rewound to the origin's offsets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::linksim::Shared;
use cutover::kafka::{Cluster, GroupPresence};
use cutover::model::{GroupId, Offset, TopicPartition};
use cutover::sim::link_model::{now_ms, MirrorStatus, SYNC_ENABLE, SYNC_MS};

/// What the last offset-sync ticks did, for the admin status endpoint and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub ticks: u64,
    pub last_tick_ms: Option<i64>,
    /// Per group: the tick that last wrote its offsets, and the last error.
    pub groups: BTreeMap<String, GroupSyncReport>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupSyncReport {
    pub last_synced_tick: Option<u64>,
    pub last_synced_ms: Option<i64>,
    pub last_error: Option<String>,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut last_tick = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (enabled, interval, stopped, delay) = {
            let s = shared.lock();
            (
                s.config_bool(SYNC_ENABLE),
                Duration::from_millis(s.config_ms(SYNC_MS)),
                s.faults.offset_sync_stopped,
                Duration::from_millis(s.faults.offset_sync_delay_ms),
            )
        };
        if last_tick.elapsed() < interval {
            continue;
        }
        last_tick = Instant::now();
        if !enabled || stopped {
            continue;
        }
        if let Err(e) = tick(&shared, delay).await {
            let mut report = shared.sync_report();
            if report.last_error.as_deref() != Some(e.as_str()) {
                tracing::warn!(error = %e, "offset sync tick did not sync");
            }
            report.last_error = Some(e);
        }
    }
}

/// One tick; its writes land `delay` after its reads (a slow link, the fault knob).
async fn tick(shared: &Arc<Shared>, delay: Duration) -> Result<(), String> {
    let tick = {
        let mut report = shared.sync_report();
        report.ticks += 1;
        report.last_tick_ms = Some(now_ms());
        report.ticks
    };
    if shared.shift != 0 {
        // A replicator's stand-in: its copies do not keep offsets, so there is nothing a raw
        // offset sync could copy that would mean the same records.
        return Err(
            "this copy does not keep offsets (--copy-offset-shift): it syncs no consumer offsets"
                .into(),
        );
    }
    let (filters, mirrors) = {
        let s = shared.lock();
        let filters = s.group_filters()?;
        // source topic → mirror topic, for ACTIVE mirrors only.
        let mirrors: BTreeMap<String, String> = s
            .mirrors
            .values()
            .filter(|m| m.status == MirrorStatus::Active)
            .map(|m| (m.source_topic.clone(), m.mirror_topic.clone()))
            .collect();
        (filters, mirrors)
    };
    if filters.is_empty() {
        // A real link only logs a warning here; the status endpoint says it too.
        return Err(
            "offset sync is enabled but consumer.offset.group.filters is empty: nothing is synced"
                .into(),
        );
    }
    let listed = shared
        .origin
        .list_groups()
        .await
        .map_err(|e| e.to_string())?;
    let groups: Vec<GroupId> = listed
        .groups
        .into_iter()
        .map(|l| l.group)
        .filter(|g| filters.includes(g.as_str()))
        .collect();
    if groups.is_empty() || mirrors.is_empty() {
        return Ok(());
    }
    let committed = shared
        .origin
        .committed_offsets(&groups)
        .await
        .map_err(|e| e.to_string())?;
    let mut writes: BTreeMap<GroupId, Vec<(TopicPartition, Offset)>> = BTreeMap::new();
    for (group, offsets) in committed {
        let Ok(offsets) = offsets else { continue };
        let mapped: Vec<(TopicPartition, Offset)> = offsets
            .into_iter()
            .filter_map(|(tp, o)| {
                let mirror = mirrors.get(tp.topic.as_str())?;
                Some((TopicPartition::new(mirror, tp.partition), o.ok()?))
            })
            .collect();
        if !mapped.is_empty() {
            writes.insert(group, mapped);
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let names: Vec<GroupId> = writes.keys().cloned().collect();
    let described = shared
        .destination
        .describe_groups(&names)
        .await
        .map_err(|e| e.to_string())?;
    let results: Vec<(GroupId, Result<(), String>)> = stream::iter(writes)
        .map(|(group, offsets)| {
            let active = described
                .get(&group)
                .is_some_and(|d| d.presence() == GroupPresence::Active);
            async move {
                if active {
                    return (
                        group,
                        Err(
                            "CONSUMER_GROUP_IN_USE: the group has members on the destination"
                                .to_string(),
                        ),
                    );
                }
                let outcome = match shared
                    .destination
                    .commit_offsets_as_admin(&group, &offsets)
                    .await
                {
                    Ok(Ok(per_partition)) => {
                        match per_partition.values().find_map(|r| r.as_ref().err()) {
                            None => Ok(()),
                            Some(e) => Err(e.to_string()),
                        }
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                (group, outcome)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut report = shared.sync_report();
    let now = now_ms();
    for (group, outcome) in results {
        let group_report = report.groups.entry(group.0).or_default();
        match outcome {
            Ok(()) => {
                group_report.last_synced_tick = Some(tick);
                group_report.last_synced_ms = Some(now);
                group_report.last_error = None;
            }
            Err(e) => group_report.last_error = Some(e),
        }
    }
    report.last_error = None;
    Ok(())
}
