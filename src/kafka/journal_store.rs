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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

use super::rdkafka_cluster::describe_client_error;
use super::{ClientLog, RdKafkaCluster};
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
        let partitions = ensure_topic(cluster, topic, partitions, "-1", timeout).await?;
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
        let keys = BTreeSet::from([key.to_string()]);
        Ok(self.read_keys_now(&keys)?.remove(key).unwrap_or_default())
    }

    /// [`Replica::read_keys`], on this thread: each partition holding one of `keys` read
    /// once, from its start to its last stable offset.
    fn read_keys_now(&self, keys: &BTreeSet<String>) -> Result<BTreeMap<String, Vec<Vec<u8>>>> {
        let what = match keys.len() {
            1 => keys.iter().next().cloned().unwrap_or_default(),
            n => format!("{n} keys"),
        };
        let partitions: BTreeSet<i32> = keys.iter().map(|k| self.partition(k)).collect();
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
        let consumer: BaseConsumer<ClientLog> = config
            .create_with_context(ClientLog::new(self.role))
            .map_err(|e| self.failure("read", &what, describe_client_error(&e)))?;
        let mut list = TopicPartitionList::new();
        for p in &partitions {
            list.add_partition_offset(&self.topic, *p, RdOffset::Beginning)
                .map_err(|e| self.failure("read", &what, e))?;
        }
        consumer
            .assign(&list)
            .map_err(|e| self.failure("read", &what, e))?;
        // A long read that goes on is not a store that does not answer: the timeout counts
        // from the last record or end read.
        let mut deadline = Instant::now() + self.timeout;
        let mut lines: BTreeMap<String, Vec<Vec<u8>>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let mut open = partitions.clone();
        while !open.is_empty() {
            if Instant::now() >= deadline {
                return Err(self.failure(
                    "read",
                    &what,
                    format!(
                        "partition(s) {open:?} gave nothing for {} s before their end",
                        self.timeout.as_secs()
                    ),
                ));
            }
            let polled = consumer.poll(Duration::from_millis(100));
            if polled.is_some() {
                deadline = Instant::now() + self.timeout;
            }
            match polled {
                None => continue,
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    open.remove(&p);
                }
                Some(Err(e)) => return Err(self.failure("read", &what, e)),
                Some(Ok(m)) => {
                    let key = m.key().and_then(|k| std::str::from_utf8(k).ok());
                    if let (Some(found), Some(payload)) =
                        (key.and_then(|k| lines.get_mut(k)), m.payload())
                    {
                        found.push(payload.to_vec());
                    }
                }
            }
        }
        Ok(lines)
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
        delivered(producer, self.timeout).map_err(|e| self.failure("append to", key, e))
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
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Waits until every record `producer` sent is delivered (or failed), serving its delivery
/// reports a millisecond at a time. rust-rdkafka's `flush` (which `commit_transaction` calls
/// first) serves them 100 ms at a time and waits out the 100 ms even when the last report came
/// at once: that was the 100 ms every journal record took (`cargo bench --bench journal`).
pub(super) fn delivered(producer: &BaseProducer, timeout: Duration) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut));
        }
        producer.poll(Duration::from_millis(1));
    }
    Ok(())
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

    fn read_keys(&self, keys: &BTreeSet<String>) -> Result<BTreeMap<String, Vec<Vec<u8>>>> {
        blocking(|| self.read_keys_now(keys))
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
            delivered(&producer, self.timeout)?;
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

/// Creates `topic` when it does not exist (with `partitions`, replicated on up to three
/// brokers, records kept `retention_ms`) and waits until the agent sees a leader for each of
/// its partitions; returns how many it has.
pub(super) async fn ensure_topic(
    cluster: &RdKafkaCluster,
    topic: &str,
    partitions: i32,
    retention_ms: &str,
    timeout: Duration,
) -> Result<i32> {
    let role = crate::kafka::Cluster::role(cluster);
    let brokers = cluster.broker_count().await?;
    let replication = brokers.clamp(1, MAX_REPLICATION) as i32;
    let configs = [
        ("cleanup.policy".to_string(), "delete".to_string()),
        ("retention.ms".to_string(), retention_ms.to_string()),
        (
            "min.insync.replicas".to_string(),
            (replication - 1).max(1).to_string(),
        ),
    ];
    match cluster
        .create_topic(topic, partitions, replication, &configs)
        .await?
    {
        Ok(()) => tracing::info!(%topic, partitions, replication, "created the topic"),
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
    loop {
        let metadata = crate::kafka::Cluster::topics(cluster).await?;
        let led = metadata.get(topic).map(|t| {
            (
                t.partitions.len() as i32,
                t.partitions.iter().all(|p| p.leader.is_some()),
            )
        });
        match led {
            Some((n, true)) if n > 0 => return Ok(n),
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
    }
}
