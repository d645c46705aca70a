//! Background upkeep: mirror lag refresh, partition-count sync and auto-created mirrors.
//!
//! Lag is refreshed every half second from ListOffsets on both clusters, like a link's
//! fetch-relative figure: a stalled topic's lag is not refreshed, so it goes stale exactly as
//! a real link's does when fetching stops. Every `topic.config.sync.ms` the task also grows
//! mirrors whose source gained partitions, and creates mirrors for origin topics matching
//! `auto.create.mirror.topics.filters` when `auto.create.mirror.topics.enable` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::linksim::ops;
use crate::linksim::Shared;
use cutover::kafka::{Cluster, OffsetSpec};
use cutover::model::TopicPartition;
use cutover::sim::link_model::{
    MirrorStatus, PartitionLag, AUTO_CREATE_ENABLE, TOPIC_CONFIG_SYNC_MS,
};

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut last_topic_sync = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        refresh_lags(&shared).await;
        let every = Duration::from_millis(shared.lock().config_ms(TOPIC_CONFIG_SYNC_MS));
        if last_topic_sync.elapsed() >= every {
            last_topic_sync = Instant::now();
            sync_topics(&shared).await;
        }
    }
}

async fn refresh_lags(shared: &Arc<Shared>) {
    let targets: Vec<(String, String, i32)> = {
        let s = shared.lock();
        s.mirrors
            .values()
            .filter(|m| m.status != MirrorStatus::Stopped)
            .filter(|m| !s.faults.stalled_topics.contains(&m.mirror_topic))
            .map(|m| (m.source_topic.clone(), m.mirror_topic.clone(), m.partitions))
            .collect()
    };
    if targets.is_empty() {
        return;
    }
    let origin: Vec<TopicPartition> = targets
        .iter()
        .flat_map(|(s, _, n)| (0..*n).map(move |p| TopicPartition::new(s, p)))
        .collect();
    let mirror: Vec<TopicPartition> = targets
        .iter()
        .flat_map(|(_, m, n)| (0..*n).map(move |p| TopicPartition::new(m, p)))
        .collect();
    let (Ok(o), Ok(d)) = (
        shared
            .origin
            .list_offsets(&origin, OffsetSpec::Latest)
            .await,
        shared
            .destination
            .list_offsets(&mirror, OffsetSpec::Latest)
            .await,
    ) else {
        return; // keep the last figures, as a link that cannot fetch does
    };
    let mut s = shared.lock();
    for (source, mirror_topic, n) in &targets {
        let Some(m) = s.mirrors.get_mut(mirror_topic) else {
            continue;
        };
        for p in 0..*n {
            let oe = o
                .get(&TopicPartition::new(source, p))
                .and_then(|r| r.as_ref().ok());
            let me = d
                .get(&TopicPartition::new(mirror_topic, p))
                .and_then(|r| r.as_ref().ok());
            if let (Some(oe), Some(me)) = (oe, me) {
                m.lags.insert(
                    p,
                    PartitionLag {
                        origin_end: oe.get(),
                        // In source offsets, so that the lag is the records not yet copied.
                        mirror_end: me.get() + shared.shift,
                    },
                );
            }
        }
    }
}

async fn sync_topics(shared: &Arc<Shared>) {
    let Ok(origin_topics) = shared.origin.topics().await else {
        return;
    };
    // Partition growth: the mirror follows the source's partition count.
    let grow: Vec<(String, usize)> = {
        let s = shared.lock();
        s.mirrors
            .values()
            .filter(|m| matches!(m.status, MirrorStatus::Active | MirrorStatus::Paused))
            .filter_map(|m| {
                let now = origin_topics.get(&m.source_topic)?.partition_count();
                (now > m.partitions as usize).then(|| (m.mirror_topic.clone(), now))
            })
            .collect()
    };
    for (mirror, total) in grow {
        match shared.destination.create_partitions(&mirror, total).await {
            Ok(Ok(())) => {
                let mut s = shared.lock();
                if let Some(m) = s.mirrors.get_mut(&mirror) {
                    for p in m.partitions..total as i32 {
                        m.lags.insert(p, PartitionLag::default());
                    }
                    m.partitions = total as i32;
                }
                tracing::info!(%mirror, total, "mirror grew to the source's partition count");
            }
            Ok(Err(e)) | Err(cutover::error::Error::Unreachable { source: e, .. }) => {
                tracing::warn!(%mirror, error = %e, "cannot add partitions to the mirror")
            }
            Err(e) => tracing::warn!(%mirror, error = %e, "cannot add partitions to the mirror"),
        }
    }
    // Auto-created mirrors.
    let candidates: Vec<String> = {
        let s = shared.lock();
        if !s.config_bool(AUTO_CREATE_ENABLE) {
            return;
        }
        let Ok(filters) = s.topic_filters() else {
            return;
        };
        origin_topics
            .keys()
            .filter(|t| !t.starts_with("__") && filters.includes(t))
            .filter(|t| s.mirror_of_source(t).is_none())
            .cloned()
            .collect()
    };
    for topic in candidates {
        if let Err(r) = ops::create_mirror(shared, &topic, None, None, Vec::new(), false).await {
            tracing::warn!(%topic, reason = %r.message, "cannot auto-create a mirror");
        }
    }
}
