//! Mirror operations that need Kafka: creating a mirror topic, and promote, failover, pause
//! and resume. Shared by the REST layer and the auto-create task.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::linksim::Shared;
use cutover::kafka::{Cluster, OffsetSpec};
use cutover::model::{Offset, TopicPartition};
use cutover::sim::link_model::{next_status, Action, Mirror, PartitionLag, Refusal};

/// Topic configs a mirror takes from its source (when the source overrides them).
const COPIED_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
    "segment.bytes",
    "segment.ms",
];

/// Creates a mirror of `source` on the destination: a topic with the source's partition count
/// and cleanup/retention configs, copied from offset 0 so every record keeps its offset.
pub(crate) async fn create_mirror(
    shared: &Arc<Shared>,
    source: &str,
    mirror_name: Option<String>,
    replication_factor: Option<i32>,
    extra_configs: Vec<(String, String)>,
    validate_only: bool,
) -> Result<(), Refusal> {
    let mirror_topic = mirror_name.unwrap_or_else(|| shared.lock().mirror_name_for(source));
    if shared.lock().mirrors.contains_key(&mirror_topic) {
        return Err(Refusal::bad_request(format!(
            "Topic '{mirror_topic}' already exists."
        )));
    }
    let origin_topics = shared.origin.topics().await.map_err(unavailable)?;
    let Some(origin_topic) = origin_topics.get(source).filter(|t| t.error.is_none()) else {
        return Err(Refusal::not_found(format!(
            "Source topic '{source}' does not exist on the source cluster"
        )));
    };
    let partitions = origin_topic.partition_count() as i32;
    if shared
        .destination
        .topics()
        .await
        .map_err(unavailable)?
        .contains_key(&mirror_topic)
    {
        return Err(Refusal::bad_request(format!(
            "Topic '{mirror_topic}' already exists."
        )));
    }
    let mut configs: BTreeMap<String, String> = shared
        .origin
        .topic_overrides(source)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|(k, _)| COPIED_CONFIGS.contains(&k.as_str()))
        .collect();
    configs.extend(extra_configs);
    // Records keep the origin's timestamps, whatever the source's timestamp type.
    configs.insert("message.timestamp.type".into(), "CreateTime".into());
    // Where the source's log no longer starts at 0, the mirror must start at the same offset.
    let origin_tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(source, p))
        .collect();
    let starts = shared
        .origin
        .list_offsets(&origin_tps, OffsetSpec::Earliest)
        .await
        .map_err(unavailable)?;
    let mut log_starts = Vec::new();
    for tp in &origin_tps {
        match starts.get(tp) {
            Some(Ok(start)) if start.get() > MAX_FILLER => {
                return Err(Refusal::bad_request(format!(
                    "Source partition {tp} starts at offset {start}: cutover-linksim can align a mirror's log start only up to offset {MAX_FILLER}"
                )))
            }
            // A copy shifted by N records starts N records into its source.
            Some(Ok(start)) if start.get() > shared.shift => {
                log_starts.push((tp.partition, cutover::model::Offset(start.get() - shared.shift)))
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(Refusal::bad_request(format!("Cannot read the log start of {tp}: {e}"))),
            None => return Err(Refusal::bad_request(format!("Cannot read the log start of {tp}"))),
        }
    }
    if validate_only {
        return Ok(());
    }
    let configs: Vec<(String, String)> = configs.into_iter().collect();
    shared
        .destination
        .create_topic(
            &mirror_topic,
            partitions,
            replication_factor.unwrap_or(-1),
            &configs,
        )
        .await
        .map_err(unavailable)?
        .map_err(|e| {
            Refusal::bad_request(format!("Cannot create mirror topic '{mirror_topic}': {e}"))
        })?;
    for (partition, start) in log_starts {
        align_log_start(
            shared,
            &TopicPartition::new(&mirror_topic, partition),
            start,
        )
        .await?;
    }
    {
        let mut state = shared.lock();
        state.mirrors.insert(
            mirror_topic.clone(),
            Mirror::new(source.to_string(), mirror_topic.clone(), partitions),
        );
    }
    tracing::info!(source, mirror = %mirror_topic, partitions, "mirror created");
    shared.wake.notify_waiters();
    Ok(())
}

/// The highest source log start a new mirror can be aligned to (by writing that many filler
/// records and deleting them).
const MAX_FILLER: i64 = 5_000_000;

/// Makes an empty mirror partition start at `start`, the source's log start, so that offsets
/// stay identical: writes `start` filler records, then deletes them (DeleteRecords). Nobody
/// reads the mirror before it exists in the link's state, and afterwards the fillers are gone.
async fn align_log_start(
    shared: &Arc<Shared>,
    tp: &TopicPartition,
    start: Offset,
) -> Result<(), Refusal> {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let mut config = ClientConfig::new();
    for (k, v) in &shared.destination_properties {
        config.set(k, v);
    }
    let failed = |what: String| {
        Refusal::bad_request(format!(
            "Cannot align the log start of mirror partition {tp}: {what}"
        ))
    };
    let producer: FutureProducer = config
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| failed(e.to_string()))?;
    // In batches well below librdkafka's local queue limit, each awaited before the next.
    let mut written = 0;
    while written < start.get() {
        let batch = (start.get() - written).min(10_000);
        let mut pending = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let record = FutureRecord::<[u8], [u8]>::to(&tp.topic)
                .partition(tp.partition)
                .payload(&[]);
            pending.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| failed(e.to_string()))?,
            );
        }
        for f in pending {
            f.await
                .map_err(|_| failed("producer closed".into()))?
                .map_err(|(e, _)| failed(e.to_string()))?;
        }
        written += batch;
    }
    shared
        .destination
        .delete_records_before(tp, start)
        .await
        .map_err(unavailable)?
        .map_err(|e| failed(e.to_string()))?;
    tracing::info!(partition = %tp, start = start.get(), "mirror log start aligned with the source");
    Ok(())
}

/// Applies an action to each topic; every topic gets its own outcome (the REST call is a 200
/// either way, with per-topic `error_code` and `error_message`).
pub(crate) async fn alter_mirrors(
    shared: &Arc<Shared>,
    action: Action,
    topics: &[String],
    validate_only: bool,
) -> Vec<(String, Result<(), Refusal>)> {
    let mut out = Vec::with_capacity(topics.len());
    for topic in topics {
        let outcome = alter_one(shared, action, topic, validate_only).await;
        out.push((topic.clone(), outcome));
    }
    shared.wake.notify_waiters();
    out
}

async fn alter_one(
    shared: &Arc<Shared>,
    action: Action,
    topic: &str,
    validate_only: bool,
) -> Result<(), Refusal> {
    let (status, source, partitions, link) = {
        let state = shared.lock();
        let m = state
            .mirrors
            .get(topic)
            .ok_or_else(|| Refusal::not_a_mirror(topic, &state.link_name))?;
        (
            m.status,
            m.source_topic.clone(),
            m.partitions,
            state.link_name.clone(),
        )
    };
    // Promote measures the lag now (it must not trust a cached figure), and only when the
    // mirror's state lets it get that far.
    let lags =
        if action == Action::Promote && next_status(status, action, topic, &link, None).is_ok() {
            let lags = current_lags(shared, &source, topic, partitions).await?;
            if let Some(m) = shared.lock().mirrors.get_mut(topic) {
                m.lags = lags.clone();
            }
            Some(lags)
        } else {
            None
        };
    let next = next_status(status, action, topic, &link, lags.as_ref())?;
    if !validate_only {
        if let Some(m) = shared.lock().mirrors.get_mut(topic) {
            m.set_status(next);
        }
        tracing::info!(topic, ?action, status = next.as_str(), "mirror altered");
    }
    Ok(())
}

/// Lag measured now, from both clusters (promote must not trust a cached figure).
async fn current_lags(
    shared: &Arc<Shared>,
    source: &str,
    mirror: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, PartitionLag>, Refusal> {
    let origin_tps: Vec<_> = (0..partitions)
        .map(|p| TopicPartition::new(source, p))
        .collect();
    let mirror_tps: Vec<_> = (0..partitions)
        .map(|p| TopicPartition::new(mirror, p))
        .collect();
    let cannot = |what: &str| {
        Refusal::bad_request(format!(
            "Topic '{mirror}' cannot be promoted: the {what} end offsets could not be read; promote needs both clusters reachable"
        ))
    };
    let origin = shared
        .origin
        .list_offsets(&origin_tps, OffsetSpec::Latest)
        .await
        .map_err(|_| cannot("source"))?;
    let dest = shared
        .destination
        .list_offsets(&mirror_tps, OffsetSpec::Latest)
        .await
        .map_err(|_| cannot("mirror"))?;
    let mut lags = BTreeMap::new();
    for p in 0..partitions {
        let o = origin
            .get(&TopicPartition::new(source, p))
            .and_then(|r| r.as_ref().ok())
            .ok_or_else(|| cannot("source"))?;
        let d = dest
            .get(&TopicPartition::new(mirror, p))
            .and_then(|r| r.as_ref().ok())
            .ok_or_else(|| cannot("mirror"))?;
        lags.insert(
            p,
            PartitionLag {
                origin_end: o.get(),
                mirror_end: d.get() + shared.shift,
            },
        );
    }
    Ok(lags)
}

fn unavailable(e: cutover::error::Error) -> Refusal {
    Refusal {
        status: 503,
        error_code: 50003,
        message: format!("Kafka is not available: {e}"),
    }
}
