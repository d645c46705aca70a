//! The Kafka journal store (`[journal] store = "kafka"`): journal lines kept in a topic of one
//! of the two clusters, one key per journal, every line committed by a transactional producer
//! whose `transactional.id` is derived from the link and the key.
//!
//! Taking a key is `InitProducerId` with that id: the coordinator bumps the producer epoch, so
//! an agent that wrote the key before has its next transaction refused (`PRODUCER_FENCED`) and
//! stops before announcing another side effect. Each line is one transaction, committed before
//! the agent acts on it. Reading is `read_committed` from the start of the key's partition to
//! its last stable offset, so a transaction still open or aborted (a fenced agent's last try)
//! is never read.
//!
//! Every call blocks (librdkafka's transactional API is synchronous) for at most the request
//! timeout; a journal line is written a few dozen times per cutover.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

use super::rdkafka_cluster::describe_client_error;
use super::RdKafkaCluster;
use crate::error::{Error, Result};
use crate::journal::Replica;
use crate::model::Role;

/// How long taking a key may wait for the transaction coordinator (longer than one request:
/// a cluster's first transactional producer waits for `__transaction_state` to be created).
const FIRST_TAKE: Duration = Duration::from_secs(60);

/// The transactional id of a key (`<link>/<group>`) is this and the key.
const TRANSACTIONAL_PREFIX: &str = "cutover.";

/// The most replicas the journal topic is created with (fewer when the cluster has fewer
/// brokers).
const MAX_REPLICATION: usize = 3;

/// Journals in a topic.
pub struct KafkaJournal {
    role: Role,
    topic: String,
    partitions: i32,
    base: ClientConfig,
    /// One transactional producer per key this agent took, each behind its own lock so that
    /// the groups of a runbook stage commit side by side.
    producers: Mutex<BTreeMap<String, Arc<Mutex<BaseProducer>>>>,
    /// The idempotent producer of lines every agent appends (a lease's queue), made at its
    /// first use.
    appender: Mutex<Option<BaseProducer>>,
    timeout: Duration,
}

impl KafkaJournal {
    /// Opens the store on `cluster`, creating `topic` (with `partitions`, replicated on up to
    /// three brokers, records kept until the operator deletes them) when it does not exist.
    pub async fn open(
        cluster: &RdKafkaCluster,
        topic: &str,
        partitions: i32,
        timeout: Duration,
    ) -> Result<KafkaJournal> {
        let role = crate::kafka::Cluster::role(cluster);
        let brokers = cluster.broker_count().await?;
        let replication = brokers.clamp(1, MAX_REPLICATION) as i32;
        let configs = [
            ("cleanup.policy".to_string(), "delete".to_string()),
            ("retention.ms".to_string(), "-1".to_string()),
            (
                "min.insync.replicas".to_string(),
                (replication - 1).max(1).to_string(),
            ),
        ];
        match cluster
            .create_topic(topic, partitions, replication, &configs)
            .await?
        {
            Ok(()) => tracing::info!(%topic, partitions, replication, "created the journal topic"),
            Err(e) if e.name == "TOPIC_ALREADY_EXISTS" || e.code == 36 => {}
            Err(e) => {
                return Err(Error::SharedJournal {
                    store: format!("topic {topic} on the {role}"),
                    detail: format!(
                        "cannot create it: {} {}; create it yourself (docs/journal-store.md) or grant the agent Create on it",
                        e.name, e.message
                    ),
                })
            }
        }
        // A topic just created reaches the metadata a moment later.
        let deadline = Instant::now() + timeout;
        let partitions = loop {
            let metadata = crate::kafka::Cluster::topics(cluster).await?;
            let led = metadata.get(topic).map(|t| {
                (
                    t.partitions.len() as i32,
                    t.partitions.iter().all(|p| p.leader.is_some()),
                )
            });
            match led {
                Some((n, true)) if n > 0 => break n,
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => {
                    return Err(Error::SharedJournal {
                        store: format!("topic {topic} on the {role}"),
                        detail: format!(
                            "the topic has no partition with a leader that the agent can see after {} s",
                            timeout.as_secs()
                        ),
                    })
                }
            }
        };
        Ok(KafkaJournal::new(cluster, topic, partitions, timeout))
    }

    /// Opens the store on `cluster` to read it only: the topic must exist (nothing is
    /// created).
    pub async fn existing(
        cluster: &RdKafkaCluster,
        topic: &str,
        timeout: Duration,
    ) -> Result<KafkaJournal> {
        let role = crate::kafka::Cluster::role(cluster);
        let metadata = crate::kafka::Cluster::topics(cluster).await?;
        let partitions = metadata
            .get(topic)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::SharedJournal {
                store: format!("topic {topic} on the {role}"),
                detail: "there is no such topic ([journal] topic): no cutover has shared its journal there yet".into(),
            })?;
        Ok(KafkaJournal::new(cluster, topic, partitions, timeout))
    }

    fn new(cluster: &RdKafkaCluster, topic: &str, partitions: i32, timeout: Duration) -> Self {
        KafkaJournal {
            role: crate::kafka::Cluster::role(cluster),
            topic: topic.to_string(),
            partitions,
            base: cluster.client_config().clone(),
            producers: Mutex::new(BTreeMap::new()),
            appender: Mutex::new(None),
            timeout,
        }
    }

    /// The partition of a key: FNV-1a of its bytes (stable across agents and versions).
    fn partition(&self, key: &str) -> i32 {
        let mut hash: u32 = 2_166_136_261;
        for b in key.bytes() {
            hash = (hash ^ u32::from(b)).wrapping_mul(16_777_619);
        }
        (hash % self.partitions as u32) as i32
    }

    /// The producer of a key this agent took.
    fn producer(&self, key: &str) -> Option<Arc<Mutex<BaseProducer>>> {
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn transactional_id(&self, key: &str) -> String {
        format!("{TRANSACTIONAL_PREFIX}{key}")
    }

    fn failure(&self, what: &str, key: &str, e: impl std::fmt::Display) -> Error {
        Error::SharedJournal {
            store: self.describe(),
            detail: format!("cannot {what} the journal of {key}: {e}"),
        }
    }

    /// [`Replica::read`], on this thread.
    fn read_now(&self, key: &str) -> Result<Vec<Vec<u8>>> {
        let partition = self.partition(key);
        let mut config = self.base.clone();
        config
            .set(
                "group.id",
                format!("cutover-journal-read-{}", std::process::id()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            // The end of the partition is what a read waits for: no long poll there.
            .set("fetch.wait.max.ms", "10");
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| self.failure("read", key, describe_client_error(&e)))?;
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, partition, RdOffset::Beginning)
            .map_err(|e| self.failure("read", key, e))?;
        consumer
            .assign(&list)
            .map_err(|e| self.failure("read", key, e))?;
        let deadline = Instant::now() + self.timeout;
        let mut lines = Vec::new();
        loop {
            if Instant::now() >= deadline {
                return Err(self.failure(
                    "read",
                    key,
                    format!(
                        "its partition {partition} was not read to its end within {} s",
                        self.timeout.as_secs()
                    ),
                ));
            }
            match consumer.poll(Duration::from_millis(100)) {
                None => continue,
                Some(Err(KafkaError::PartitionEOF(_))) => return Ok(lines),
                Some(Err(e)) => return Err(self.failure("read", key, e)),
                Some(Ok(m)) => {
                    if m.key() == Some(key.as_bytes()) {
                        if let Some(payload) = m.payload() {
                            lines.push(payload.to_vec());
                        }
                    }
                }
            }
        }
    }

    /// [`Replica::append`], on this thread.
    fn append_now(&self, key: &str, line: &[u8]) -> Result<()> {
        let mut appender = self.appender.lock().unwrap_or_else(|p| p.into_inner());
        if appender.is_none() {
            let mut config = self.base.clone();
            config
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("linger.ms", "0");
            *appender = Some(
                config
                    .create()
                    .map_err(|e| self.failure("append to", key, describe_client_error(&e)))?,
            );
        }
        let producer = appender
            .as_ref()
            .ok_or_else(|| Error::Internal("no appender".into()))?;
        producer
            .send(
                BaseRecord::<str, [u8]>::to(&self.topic)
                    .partition(self.partition(key))
                    .key(key)
                    .payload(line),
            )
            .map_err(|(e, _)| self.failure("append to", key, e))?;
        producer
            .flush(self.timeout)
            .map_err(|e| self.failure("append to", key, e))
    }

    /// Takes a key not taken yet ([`Replica::fence`]), on this thread.
    fn take(&self, key: &str) -> Result<()> {
        let mut config = self.base.clone();
        config
            .set("transactional.id", self.transactional_id(key))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            // A transaction begun right after the previous one's commit meets
            // CONCURRENT_TRANSACTIONS until the markers are written: retry it soon.
            .set("retry.backoff.ms", "10")
            .set(
                "transaction.timeout.ms",
                self.timeout.as_millis().clamp(1000, 900_000).to_string(),
            );
        let producer: BaseProducer = config
            .create()
            .map_err(|e| self.failure("take", key, describe_client_error(&e)))?;
        // A cluster's first transactional producer waits for the coordinator to create and
        // load `__transaction_state`: a timeout is retried, within a bound of its own.
        let deadline = Instant::now() + self.timeout.max(FIRST_TAKE);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match producer.init_transactions(left.min(self.timeout)) {
                Ok(()) => break,
                Err(KafkaError::Transaction(e)) if e.is_retriable() && !left.is_zero() => {
                    tracing::debug!(%key, error = %e, "taking the journal: retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(self.failure("take", key, e)),
            }
        }
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), Arc::new(Mutex::new(producer)));
        Ok(())
    }
}

/// Runs a blocking call, letting a multi-threaded runtime move its other tasks off this thread
/// meanwhile (the cutovers of a runbook stage go on while one commits).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Whether a transactional error means another producer with the same id took over.
fn fenced(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::Transaction(t) => {
            if t.is_fatal() {
                return true;
            }
            t.code()
        }
        other => match other.rdkafka_error_code() {
            Some(code) => code,
            None => return false,
        },
    };
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

impl Replica for KafkaJournal {
    fn read(&self, key: &str) -> Result<Vec<Vec<u8>>> {
        blocking(|| self.read_now(key))
    }

    fn fence(&self, key: &str) -> Result<()> {
        if self.producer(key).is_some() {
            return Ok(());
        }
        blocking(|| self.take(key))
    }

    fn commit(&self, key: &str, line: &[u8]) -> Result<()> {
        self.fence(key)?;
        let producer = self
            .producer(key)
            .ok_or_else(|| Error::Internal(format!("no producer for {key} after taking it")))?;
        let producer = producer.lock().unwrap_or_else(|p| p.into_inner());
        let attempt = blocking(|| {
            producer.begin_transaction()?;
            producer
                .send(
                    BaseRecord::to(&self.topic)
                        .partition(self.partition(key))
                        .key(key)
                        .payload(line),
                )
                .map_err(|(e, _)| e)?;
            producer.commit_transaction(self.timeout)
        });
        producer.poll(Duration::ZERO);
        match attempt {
            Ok(()) => Ok(()),
            Err(e) if fenced(&e) => {
                drop(producer);
                self.producers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(key);
                Err(Error::Fenced {
                    what: key.to_string(),
                    by: format!("transactional id {}", self.transactional_id(key)),
                    store: self.describe(),
                })
            }
            Err(e) => {
                let _ = producer.abort_transaction(self.timeout);
                Err(self.failure("write", key, e))
            }
        }
    }

    fn append(&self, key: &str, line: &[u8]) -> Result<()> {
        blocking(|| self.append_now(key, line))
    }

    fn describe(&self) -> String {
        format!("topic {} on the {}", self.topic, self.role)
    }
}
