//! A runbook's work items in a topic beside the journal topic (`<journal topic>-work`), taken
//! by the runbook's agents as one consumer group (`cutover.<runbook>`): see
//! [`crate::runbook::spread`].
//!
//! Items are keyed by group and produced idempotently; an agent commits an item's offset once
//! its cutover ended, so an agent that dies leaves its items to whoever receives its
//! partitions. Assignment is cooperative-sticky (a joining agent does not take partitions from
//! the others all at once), a dead agent is noticed within the session timeout, and an agent may
//! spend up to [`MAX_POLL_INTERVAL`] on one batch of cutovers before it counts as stuck.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

use super::journal_store::{blocking, ensure_topic};
use super::rdkafka_cluster::describe_client_error;
use super::{ClientLog, RdKafkaCluster};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::runbook::spread::{Delivered, WorkItem, WorkQueue, WorkTaker};

/// How long an agent may work on one batch before the group counts it as stuck.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How long a dead agent keeps its partitions.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long work items are kept.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Whether a metadata error goes away by itself (a partition's leader not known yet).
fn transient(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    matches!(
        e.rdkafka_error_code(),
        Some(
            Code::NotLeaderForPartition
                | Code::LeaderNotAvailable
                | Code::UnknownTopicOrPartition
                | Code::UnknownPartition
        )
    )
}

/// The consumer group of a runbook's agents.
pub fn consumer_group(runbook: &str) -> String {
    format!("cutover.{runbook}")
}

/// Work items in a topic.
pub struct KafkaWorkQueue {
    role: Role,
    topic: String,
    partitions: i32,
    base: ClientConfig,
    producer: ThreadedProducer<DefaultProducerContext>,
    timeout: Duration,
}

impl KafkaWorkQueue {
    /// Opens the queue `topic` on `cluster`, creating it (with `partitions`) when missing.
    pub async fn open(
        cluster: &RdKafkaCluster,
        topic: &str,
        partitions: i32,
        timeout: Duration,
    ) -> Result<KafkaWorkQueue> {
        let retention = RETENTION.as_millis().to_string();
        let partitions = ensure_topic(cluster, topic, partitions, &retention, timeout).await?;
        let role = crate::kafka::Cluster::role(cluster);
        let base = cluster.client_config().clone();
        let mut config = base.clone();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5");
        let producer = config.create().map_err(|e| Error::SharedJournal {
            store: format!("topic {topic} on the {role}"),
            detail: format!("cannot make a producer: {}", describe_client_error(&e)),
        })?;
        Ok(KafkaWorkQueue {
            role,
            topic: topic.to_string(),
            partitions,
            base,
            producer,
            timeout,
        })
    }

    fn failure(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::SharedJournal {
            store: self.describe(),
            detail: format!("cannot {what}: {e}"),
        }
    }

    /// Sends `records` (partition, key, value) and waits until all are written; the offsets
    /// each partition's last one got.
    fn send_all(&self, records: Vec<(Option<i32>, String, Vec<u8>)>) -> Result<BTreeMap<i32, i64>> {
        let mut pending = Vec::new();
        for (partition, key, value) in &records {
            let mut record = BaseRecord::<str, [u8]>::to(&self.topic)
                .key(key.as_str())
                .payload(value.as_slice());
            if let Some(p) = partition {
                record = record.partition(*p);
            }
            pending.push(record);
        }
        for record in pending {
            self.producer
                .send(record)
                .map_err(|(e, _)| self.failure("publish work items", e))?;
        }
        // Its own thread serves the delivery reports (`flush` would wait 100 ms at a time).
        let deadline = Instant::now() + self.timeout;
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(self.failure(
                    "publish work items",
                    format!(
                        "{} not delivered within {} s",
                        self.producer.in_flight_count(),
                        self.timeout.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The partitions' ends now: at or past the last item just written.
        let consumer = self.reader()?;
        let mut last = BTreeMap::new();
        for p in 0..self.partitions {
            let high = self.end_of(&consumer, p)?;
            if high > 0 {
                last.insert(p, high - 1);
            }
        }
        Ok(last)
    }

    /// A partition's end offset. A topic just created (by another agent, a moment ago) may
    /// answer that its leader is not known yet: asked again until the request timeout.
    fn end_of(&self, consumer: &BaseConsumer<ClientLog>, partition: i32) -> Result<i64> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match consumer.fetch_watermarks(&self.topic, partition, self.timeout) {
                Ok((_, high)) => return Ok(high),
                Err(e) if Instant::now() < deadline && transient(&e) => {
                    tracing::debug!(partition, error = %e, "the work topic's end: again");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(self.failure("read the work topic's ends", e)),
            }
        }
    }

    fn reader(&self) -> Result<BaseConsumer<ClientLog>> {
        let mut config = self.base.clone();
        config.set("group.id", "cutover-work-reader");
        config
            .create_with_context(ClientLog::new(self.role))
            .map_err(|e| self.failure("read the work topic", describe_client_error(&e)))
    }
}

#[async_trait]
impl WorkQueue for KafkaWorkQueue {
    async fn publish(&self, items: &[WorkItem]) -> Result<BTreeMap<i32, i64>> {
        let records = items
            .iter()
            .map(|i| {
                (
                    None,
                    i.group.clone(),
                    serde_json::to_vec(i).unwrap_or_default(),
                )
            })
            .collect();
        blocking(|| self.send_all(records))
    }

    async fn publish_end(&self, runbook: &str, run: &str) -> Result<()> {
        let end = WorkItem {
            runbook: runbook.to_string(),
            run: run.to_string(),
            stage: String::new(),
            group: String::new(),
            end: true,
        };
        let value = serde_json::to_vec(&end).unwrap_or_default();
        let records = (0..self.partitions)
            .map(|p| (Some(p), String::new(), value.clone()))
            .collect();
        blocking(|| self.send_all(records)).map(|_| ())
    }

    async fn join(&self, runbook: &str) -> Result<Box<dyn WorkTaker>> {
        let group = consumer_group(runbook);
        let mut config = self.base.clone();
        config
            .set("group.id", &group)
            .set("client.id", crate::version::agent())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set(
                "session.timeout.ms",
                SESSION_TIMEOUT.as_millis().to_string(),
            )
            .set("heartbeat.interval.ms", "1000")
            .set(
                "max.poll.interval.ms",
                MAX_POLL_INTERVAL.as_millis().to_string(),
            )
            .set("fetch.wait.max.ms", "100");
        let consumer: BaseConsumer<ClientLog> = config
            .create_with_context(ClientLog::new(self.role))
            .map_err(|e| self.failure("join the runbook's agents", describe_client_error(&e)))?;
        let reader = self.reader()?;
        let mut joined_at = BTreeMap::new();
        for p in 0..self.partitions {
            joined_at.insert(p, blocking(|| self.end_of(&reader, p))?);
        }
        consumer
            .subscribe(&[&self.topic])
            .map_err(|e| self.failure("join the runbook's agents", e))?;
        Ok(Box::new(KafkaWorkTaker {
            consumer,
            joined_at,
            pending: Default::default(),
            group,
            topic: self.topic.clone(),
            timeout: self.timeout,
            store: self.describe(),
        }))
    }

    fn describe(&self) -> String {
        format!("topic {} on the {}", self.topic, self.role)
    }
}

/// One agent in a runbook's consumer group.
struct KafkaWorkTaker {
    consumer: BaseConsumer<ClientLog>,
    /// Each partition's end when this agent joined.
    joined_at: BTreeMap<i32, i64>,
    /// Offsets to commit that a rebalance refused: committed with the next ones.
    pending: std::sync::Mutex<BTreeMap<i32, i64>>,
    group: String,
    topic: String,
    timeout: Duration,
    store: String,
}

impl KafkaWorkTaker {
    fn failure(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::SharedJournal {
            store: self.store.clone(),
            detail: format!("cannot {what}: {e}"),
        }
    }

    fn take_now(&self, max: usize, wait: Duration) -> Result<Vec<Delivered>> {
        let mut items = Vec::new();
        let deadline = Instant::now() + wait;
        loop {
            let left = if items.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                // Whatever else is there already joins the batch.
                Duration::from_millis(50)
            };
            let Some(message) = self.consumer.poll(left) else {
                return Ok(items);
            };
            let message = message.map_err(|e| self.failure("take work items", e))?;
            match message.payload().map(serde_json::from_slice::<WorkItem>) {
                Some(Ok(item)) => items.push(Delivered {
                    item,
                    partition: message.partition(),
                    offset: message.offset(),
                    fresh: self
                        .joined_at
                        .get(&message.partition())
                        .is_some_and(|end| message.offset() >= *end),
                }),
                other => tracing::warn!(
                    partition = message.partition(),
                    offset = message.offset(),
                    "not a work item, skipped: {other:?}"
                ),
            }
            if items.len() >= max || (items.is_empty() && Instant::now() >= deadline) {
                return Ok(items);
            }
        }
    }
}

#[async_trait]
impl WorkTaker for KafkaWorkTaker {
    async fn take(&self, max: usize, wait: Duration) -> Result<Vec<Delivered>> {
        blocking(|| self.take_now(max, wait))
    }

    async fn handled(&self, items: &[Delivered]) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for d in items {
            let at = pending.entry(d.partition).or_insert(d.offset + 1);
            *at = (*at).max(d.offset + 1);
        }
        // Only partitions still this agent's: another agent that received one receives its
        // items again and finds them handled in their journals.
        let assigned: BTreeSet<i32> = self
            .consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        pending.retain(|p, _| assigned.contains(p));
        let mut list = TopicPartitionList::new();
        for (p, offset) in pending.iter() {
            list.add_partition_offset(&self.topic, *p, RdOffset::Offset(*offset))
                .map_err(|e| self.failure("mark work items handled", e))?;
        }
        if list.count() == 0 {
            return Ok(());
        }
        match blocking(|| self.consumer.commit(&list, CommitMode::Sync)) {
            Ok(()) => pending.clear(),
            // A rebalance under way: marked again after the next batch (or an idle look).
            Err(e) => tracing::info!(error = %e, "work items handled, not marked yet"),
        }
        Ok(())
    }

    async fn all_handled(&self, last: &BTreeMap<i32, i64>) -> Result<bool> {
        let mut list = TopicPartitionList::new();
        for p in last.keys() {
            list.add_partition(&self.topic, *p);
        }
        let committed = blocking(|| self.consumer.committed_offsets(list, self.timeout))
            .map_err(|e| self.failure("read the runbook's handled work", e))?;
        Ok(last.iter().all(|(p, offset)| {
            matches!(
                committed.find_partition(&self.topic, *p).map(|e| e.offset()),
                Some(RdOffset::Offset(at)) if at > *offset
            )
        }))
    }

    async fn agents(&self) -> Result<BTreeSet<String>> {
        let list = blocking(|| {
            self.consumer
                .fetch_group_list(Some(&self.group), self.timeout)
        })
        .map_err(|e| self.failure("list the runbook's agents", e))?;
        Ok(list
            .groups()
            .iter()
            .filter(|g| g.name() == self.group)
            .flat_map(|g| g.members().iter().map(|m| m.client_id().to_string()))
            .collect())
    }
}
