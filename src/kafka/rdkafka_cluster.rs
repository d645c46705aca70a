//! `RdKafkaCluster`: the `Cluster` trait over rdkafka, batched.
//!
//! One librdkafka handle per cluster serves every call. Offsets are read in chunks of
//! [`OFFSETS_PER_REQUEST`] partitions with several chunks in flight (librdkafka's list handling
//! is quadratic in the size of one call, see `docs/reference/rdkafka.md` §4), group offsets
//! one group per request with many requests in flight, and metadata in one request. This file
//! holds no unsafe code; the C calls live in `ffi.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};

type RequestResult =
    std::result::Result<Vec<(TopicPartition, PartitionResult<Offset>)>, BrokerError>;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication, TopicResult,
};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::{Error, Result};
use crate::kafka::client_log::ClientLog;
use crate::kafka::cluster::{
    Cluster, GroupDescription, GroupList, GroupOffsets, OffsetSpec, PartitionMetadata,
    PartitionResult, TopicMetadata,
};
use crate::kafka::ffi::{broker_error, RawAdmin};
use crate::kafka::producers;
use crate::kafka::RecordTime;
use crate::model::{ActiveProducer, BrokerError, GroupId, Offset, Offsets, Role, TopicPartition};

/// Partitions per ListOffsets request: small enough to keep librdkafka's per-call list
/// handling cheap, large enough that a sweep of 30,000 partitions is 60 requests.
pub const OFFSETS_PER_REQUEST: usize = 500;
/// ListOffsets requests in flight at once on one handle.
pub const OFFSET_REQUESTS_IN_FLIGHT: usize = 8;
/// Group offset fetches in flight at once (librdkafka takes one group per request).
pub const GROUP_FETCHES_IN_FLIGHT: usize = 32;
/// Groups per DescribeConsumerGroups call.
pub const GROUPS_PER_DESCRIBE: usize = 100;

/// Pauses before asking again after a retriable error (partitions, or a whole request).
const LIST_OFFSETS_BACKOFF: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
];

/// Default bound on one admin request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A real Kafka cluster reached through librdkafka.
pub struct RdKafkaCluster {
    role: Role,
    /// rdkafka's admin API: topic creation, partitions, configs, records.
    client: Arc<AdminClient<ClientLog>>,
    /// The handle the raw admin calls run on; metadata is read here too, so that the cache
    /// those calls use is the one refreshed.
    reader: Arc<BaseConsumer<ClientLog>>,
    admin: RawAdmin,
    /// What librdkafka said about its connections (both handles share it).
    log: ClientLog,
    request_timeout: Duration,
    /// The client properties, for the short-lived consumer that reads records' timestamps.
    config: ClientConfig,
}

impl RdKafkaCluster {
    /// Creates the client from librdkafka properties (`bootstrap.servers`, `security.protocol`,
    /// `sasl.*`, `ssl.*`, ...), passed through unchanged. No request is sent yet.
    pub fn connect(
        role: Role,
        properties: &BTreeMap<String, String>,
        request_timeout: Duration,
    ) -> Result<Self> {
        let mut config = ClientConfig::new();
        // librdkafka's log lines reach `ClientLog` (and `tracing`) up to notices: connection
        // failures are among them. rdkafka would take the level from the `log` crate, which
        // cutover does not use.
        config.set_log_level(RDKafkaLogLevel::Notice);
        config.set("client.id", format!("cutover-{role}"));
        for (key, value) in properties {
            config.set(key, value);
        }
        let log = ClientLog::new(role);
        let base = config.clone();
        let client: AdminClient<ClientLog> =
            config
                .create_with_context(log.clone())
                .map_err(|e| Error::ClientConfig {
                    role,
                    message: describe_client_error(&e),
                })?;
        let client = Arc::new(client);
        // The raw admin calls run on a consumer handle with a private group that is never
        // joined (no subscribe, assign or commit): see `RawAdmin::new` for the librdkafka bug
        // this avoids. The group only ever sees FindCoordinator requests, which create nothing.
        let group = format!("cutover-admin-{role}-{}", std::process::id());
        let consumer: BaseConsumer<ClientLog> = config
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create_with_context(log.clone())
            .map_err(|e| Error::ClientConfig {
                role,
                message: describe_client_error(&e),
            })?;
        let reader = Arc::new(consumer);
        serve_events(role, &reader);
        let admin = RawAdmin::new(reader.clone(), request_timeout);
        Ok(RdKafkaCluster {
            role,
            client,
            reader,
            admin,
            log,
            request_timeout,
            config: base,
        })
    }

    /// Writes a group's committed offsets through the admin API, the way a cluster link's
    /// offset sync does (the emulator's sync uses it). The coordinator accepts it only while
    /// the group has no members; otherwise every partition answers `UNKNOWN_MEMBER_ID`. The
    /// agent's own write is [`Cluster::commit_offsets`], which calls this.
    pub async fn commit_offsets_as_admin(
        &self,
        group: &GroupId,
        offsets: &[(TopicPartition, Offset)],
    ) -> Result<GroupOffsets> {
        self.admin
            .alter_committed_offsets(group, offsets)
            .await
            .map_err(|e| {
                self.failed(
                    "an AlterConsumerGroupOffsets request",
                    e,
                    Touched::Group(group.as_str()),
                )
            })
    }

    /// The cluster's id, from a metadata request.
    pub async fn cluster_id(&self) -> Result<String> {
        let reader = self.reader.clone();
        let timeout = self.request_timeout;
        tokio::task::spawn_blocking(move || reader.client().fetch_cluster_id(timeout))
            .await
            .expect("the metadata task does not panic")
            .ok_or_else(|| {
                self.unreachable(
                    "a metadata request for its cluster id",
                    broker_error(-185, "no cluster id returned".into()),
                )
            })
    }

    /// The client properties this cluster was connected with, for clients of other kinds
    /// (the journal store's producers and readers).
    pub(crate) fn client_config(&self) -> &ClientConfig {
        &self.config
    }

    /// How many brokers the cluster has, as its metadata says.
    pub async fn broker_count(&self) -> Result<usize> {
        Ok(self.metadata().await?.brokers().len())
    }

    /// The cluster's metadata: every topic and broker, one request.
    async fn metadata(&self) -> Result<rdkafka::metadata::Metadata> {
        let reader = self.reader.clone();
        let timeout = self.request_timeout;
        // `fetch_metadata` blocks; it is one request for every topic.
        tokio::task::spawn_blocking(move || reader.client().fetch_metadata(None, timeout))
            .await
            .expect("the metadata task does not panic")
            .map_err(|e| self.unreachable("a metadata request", kafka_error(&e)))
    }

    /// Creates a topic. The outer error means the cluster did not answer; the inner one is
    /// the broker's answer for this topic (for example `TOPIC_ALREADY_EXISTS`).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &[(String, String)],
    ) -> Result<std::result::Result<(), BrokerError>> {
        let mut topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(replication_factor),
        );
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let results = self
            .client
            .create_topics([&topic], &self.admin_options())
            .await
            .map_err(|e| self.unreachable("a CreateTopics request", kafka_error(&e)))?;
        Ok(first_topic_result(results))
    }

    /// Raises a topic's partition count to `total`.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: usize,
    ) -> Result<std::result::Result<(), BrokerError>> {
        let request = NewPartitions::new(name, total);
        let results = self
            .client
            .create_partitions([&request], &self.admin_options())
            .await
            .map_err(|e| self.unreachable("a CreatePartitions request", kafka_error(&e)))?;
        Ok(first_topic_result(results))
    }

    /// Moves a partition's log start up to `offset` (DeleteRecords).
    pub async fn delete_records_before(
        &self,
        tp: &TopicPartition,
        offset: Offset,
    ) -> Result<std::result::Result<(), BrokerError>> {
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition(&tp.topic, tp.partition)
            .set_offset(rdkafka::Offset::Offset(offset.get()))
            .expect("a concrete offset is always accepted");
        let result = self
            .client
            .delete_records(&tpl, &self.admin_options())
            .await
            .map_err(|e| self.unreachable("a DeleteRecords request", kafka_error(&e)))?;
        let answer = result
            .elements()
            .first()
            .map(|e| e.error())
            .unwrap_or(Ok(()));
        Ok(answer.map_err(|e| kafka_error(&e)))
    }

    /// A topic's configs that differ from the broker's defaults.
    pub async fn topic_overrides(&self, name: &str) -> Result<Vec<(String, String)>> {
        let results = self
            .client
            .describe_configs([&ResourceSpecifier::Topic(name)], &self.admin_options())
            .await
            .map_err(|e| self.unreachable("a DescribeConfigs request", kafka_error(&e)))?;
        let Some(Ok(resource)) = results.into_iter().next() else {
            return Ok(Vec::new());
        };
        Ok(resource
            .entries
            .into_iter()
            .filter(|e| !e.is_default && !e.is_read_only && !e.is_sensitive)
            .filter(|e| e.source == ConfigSource::DynamicTopic)
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect())
    }

    /// Refreshes librdkafka's metadata cache for the topics of `partitions`, so partitions
    /// created after the cache was filled (it refreshes on its own only every few minutes)
    /// become known.
    async fn refresh_metadata(&self, partitions: &[TopicPartition]) {
        let topics: BTreeSet<String> = partitions.iter().map(|tp| tp.topic.to_string()).collect();
        let reader = self.reader.clone();
        let timeout = self.request_timeout;
        let _ = tokio::task::spawn_blocking(move || {
            for topic in topics {
                let _ = reader.client().fetch_metadata(Some(&topic), timeout);
            }
        })
        .await;
    }

    fn admin_options(&self) -> AdminOptions {
        AdminOptions::new().request_timeout(Some(self.request_timeout))
    }

    /// The error for a failed request: [`Error::Denied`], naming the ACL to add, when the
    /// cluster's authorizer refused it; [`Error::Unreachable`] otherwise.
    fn failed(&self, what: &'static str, source: BrokerError, touched: Touched<'_>) -> Error {
        match refused_acl(what, &source.name, touched) {
            Some((operation, resource)) => Error::Denied {
                role: self.role,
                what,
                operation,
                resource,
                code: source.name,
            },
            None => self.unreachable(what, source),
        }
    }

    fn unreachable(&self, what: &'static str, source: BrokerError) -> Error {
        Error::Unreachable {
            role: self.role,
            what,
            source,
            client: self.log.last_error(),
        }
    }

    /// Checks that the cluster answers a metadata request, failing as soon as librdkafka
    /// finds no broker it can connect to (refused, unresolvable, TLS or authentication
    /// failing) rather than at the request's timeout. The error names librdkafka's reason.
    async fn probe_now(&self) -> Result<()> {
        tokio::select! {
            answered = self.cluster_id() => answered.map(|_| ()),
            reason = self.log.unreachable() => Err(Error::Unreachable {
                role: self.role,
                what: "a first metadata request",
                source: BrokerError {
                    code: RDKafkaErrorCode::AllBrokersDown as i32,
                    name: "_ALL_BROKERS_DOWN".into(),
                    message: "no broker could be reached".into(),
                },
                client: Some(reason),
            }),
        }
    }
}

#[async_trait]
impl Cluster for RdKafkaCluster {
    fn role(&self) -> Role {
        self.role
    }

    async fn probe(&self) -> Result<()> {
        self.probe_now().await
    }

    async fn cluster_id(&self) -> Result<Option<String>> {
        RdKafkaCluster::cluster_id(self).await.map(Some)
    }

    async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
        let metadata = self.metadata().await?;
        Ok(metadata
            .topics()
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions()
                    .iter()
                    .map(|p| PartitionMetadata {
                        partition: p.id(),
                        leader: (p.leader() >= 0).then_some(p.leader()),
                        error: p
                            .error()
                            .map(|code| broker_error(code as i32, String::new())),
                    })
                    .collect();
                let meta = TopicMetadata {
                    name: t.name().to_string(),
                    partitions,
                    error: t
                        .error()
                        .map(|code| broker_error(code as i32, String::new())),
                };
                (meta.name.clone(), meta)
            })
            .collect())
    }

    async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
        // ListOffsets rejects duplicates; the set also gives a stable chunking.
        let distinct: Vec<TopicPartition> = partitions
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut answers = BTreeMap::new();
        let mut pending = distinct.clone();
        // Partitions whose leader is moving or not yet known get a few more tries; whatever
        // is still failing after that is reported for that partition alone.
        for (attempt, backoff) in LIST_OFFSETS_BACKOFF
            .iter()
            .map(Some)
            .chain([None])
            .enumerate()
        {
            let chunks: Vec<(Vec<TopicPartition>, RequestResult)> =
                stream::iter(owned_chunks(&pending, OFFSETS_PER_REQUEST))
                    .map(|chunk| async move {
                        let result = self.admin.list_offsets(&chunk, spec).await;
                        (chunk, result)
                    })
                    .buffer_unordered(OFFSET_REQUESTS_IN_FLIGHT)
                    .collect()
                    .await;
            pending.clear();
            for (chunk, result) in chunks {
                match result {
                    Ok(partitions) => {
                        for (tp, answer) in partitions {
                            if backoff.is_some()
                                && answer.as_ref().is_err_and(BrokerError::is_retriable)
                            {
                                pending.push(tp.clone());
                            }
                            answers.insert(tp, answer);
                        }
                    }
                    // Nothing answered at all on the first try: the cluster is unreachable.
                    Err(e) if attempt == 0 && e.is_connectivity() => {
                        return Err(self.unreachable("a ListOffsets request", e));
                    }
                    // A request-level error that is not about reaching the cluster, such as
                    // librdkafka's "no leaders found" for a batch whose partitions all lack a
                    // known leader (or are newer than its metadata cache), belongs to each
                    // partition of the batch, and is asked again like a partition error.
                    Err(e) => {
                        if backoff.is_some() {
                            pending.extend(chunk.iter().cloned());
                        }
                        // An earlier, per-partition answer is more precise: keep it.
                        for tp in chunk {
                            answers.entry(tp).or_insert_with(|| Err(e.clone()));
                        }
                    }
                }
            }
            match backoff {
                Some(delay) if !pending.is_empty() => {
                    tokio::time::sleep(*delay).await;
                    self.refresh_metadata(&pending).await;
                }
                _ => break,
            }
        }
        // Every requested partition gets an answer, even one librdkafka left out.
        for tp in distinct {
            answers.entry(tp).or_insert_with_key(|tp| {
                Err(BrokerError {
                    code: -1,
                    name: "NO_ANSWER".into(),
                    message: format!("the cluster returned no offset for {tp}"),
                })
            });
        }
        Ok(answers)
    }

    async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<Offset>>>> {
        // ListOffsets rejects duplicates: the last time given for a partition wins.
        let distinct: Vec<(TopicPartition, i64)> = at
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let chunks: Vec<(Vec<(TopicPartition, i64)>, _)> =
            stream::iter(owned_chunks(&distinct, OFFSETS_PER_REQUEST))
                .map(|chunk| async move {
                    let result = self.admin.offsets_for_times(&chunk).await;
                    (chunk, result)
                })
                .buffer_unordered(OFFSET_REQUESTS_IN_FLIGHT)
                .collect()
                .await;
        let mut answers = BTreeMap::new();
        for (chunk, result) in chunks {
            match result {
                Ok(partitions) => answers.extend(partitions),
                Err(e) if e.is_connectivity() => {
                    return Err(self.unreachable("a ListOffsets request by time", e));
                }
                Err(e) => {
                    for (tp, _) in chunk {
                        answers.entry(tp).or_insert_with(|| Err(e.clone()));
                    }
                }
            }
        }
        for (tp, _) in distinct {
            answers.entry(tp).or_insert_with_key(|tp| {
                Err(BrokerError {
                    code: -1,
                    name: "NO_ANSWER".into(),
                    message: format!("the cluster returned no offset by time for {tp}"),
                })
            });
        }
        Ok(answers)
    }

    async fn record_times(
        &self,
        at: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>> {
        // A partition whose end is at or below the offset has no record there: no fetch.
        let tps: Vec<TopicPartition> = at.iter().map(|(tp, _)| tp.clone()).collect();
        let ends = self.list_offsets(&tps, OffsetSpec::Latest).await?;
        let mut answers = BTreeMap::new();
        let mut read = BTreeMap::new();
        for (tp, offset) in at {
            match ends.get(tp) {
                Some(Ok(end)) if end <= offset => {
                    answers.insert(tp.clone(), Ok(None));
                }
                Some(Err(e)) => {
                    answers.insert(tp.clone(), Err(e.clone()));
                }
                _ => {
                    read.insert(tp.clone(), *offset);
                }
            }
        }
        // A partition is assigned once: the last offset given for it wins.
        let read: Vec<(TopicPartition, Offset)> = read.into_iter().collect();
        if read.is_empty() {
            return Ok(answers);
        }
        let (config, bound) = (self.config.clone(), self.request_timeout);
        let role = self.role;
        let times = tokio::task::spawn_blocking(move || {
            crate::kafka::records::record_times(&config, &read, bound)
        })
        .await
        .map_err(|e| Error::Internal(format!("the record reader stopped: {e}")))?
        .map_err(|message| Error::ClientConfig { role, message })?;
        answers.extend(times);
        Ok(answers)
    }

    async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Vec<ActiveProducer>>>> {
        // One metadata request gives the leaders, and teaches the admin handle the brokers'
        // ids that the requests go to.
        let topics = self.topics().await?;
        let mut out = BTreeMap::new();
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let distinct: BTreeSet<&TopicPartition> = partitions.iter().collect();
        for tp in distinct {
            let meta = topics
                .get(tp.topic.as_str())
                .and_then(|t| t.partitions.iter().find(|p| p.partition == tp.partition));
            match meta {
                Some(PartitionMetadata {
                    leader: Some(leader),
                    ..
                }) => by_leader.entry(*leader).or_default().push(tp.clone()),
                Some(p) => {
                    let error = p.error.clone().unwrap_or_else(|| {
                        broker_error(
                            RDKafkaErrorCode::LeaderNotAvailable as i32,
                            "the partition has no leader".into(),
                        )
                    });
                    out.insert(tp.clone(), Err(error));
                }
                None => {
                    let error = broker_error(
                        RDKafkaErrorCode::UnknownTopicOrPartition as i32,
                        format!("{tp} is not in the cluster's metadata"),
                    );
                    out.insert(tp.clone(), Err(error));
                }
            }
        }
        let asks = by_leader.into_iter().map(|(leader, tps)| async move {
            let body = producers::request(&tps);
            let answer = self
                .admin
                .raw_request(leader, producers::API_KEY, producers::VERSION, body)
                .await;
            (tps, answer)
        });
        for (tps, answer) in futures::future::join_all(asks).await {
            let parsed = answer.and_then(|body| {
                producers::answer(&body).map_err(|e| {
                    broker_error(
                        RDKafkaErrorCode::BadMessage as i32,
                        format!("an unreadable DescribeProducers answer: {e}"),
                    )
                })
            });
            for tp in tps {
                let result = match &parsed {
                    Err(e) => Err(e.clone()),
                    Ok(by_partition) => match by_partition.get(&tp) {
                        Some(Ok(producers)) => Ok(producers.clone()),
                        Some(Err((code, message))) => Err(broker_error(
                            i32::from(*code),
                            message.clone().unwrap_or_default(),
                        )),
                        None => Err(broker_error(
                            RDKafkaErrorCode::BadMessage as i32,
                            "the leader's answer leaves the partition out".into(),
                        )),
                    },
                };
                out.insert(tp, result);
            }
        }
        Ok(out)
    }

    async fn committed_offsets(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
        let distinct: BTreeSet<GroupId> = groups.iter().cloned().collect();
        stream::iter(distinct)
            .map(|group| async move {
                // A coordinator still loading may fail the request or answer for the group.
                let offsets = retrying(
                    || self.admin.committed_offsets(&group),
                    |answer| match answer {
                        Err(e) | Ok(Err(e)) => passing(e),
                        Ok(Ok(_)) => false,
                    },
                )
                .await
                .map_err(|e| (group.clone(), e))?;
                Ok((group, offsets))
            })
            .buffer_unordered(GROUP_FETCHES_IN_FLIGHT)
            .try_collect()
            .await
            .map_err(|(group, e): (GroupId, BrokerError)| {
                self.failed(
                    "a ListConsumerGroupOffsets request",
                    e,
                    Touched::Group(group.as_str()),
                )
            })
    }

    async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupDescription>> {
        let distinct: Vec<GroupId> = groups
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let batches: Vec<Vec<GroupDescription>> =
            stream::iter(owned_chunks(&distinct, GROUPS_PER_DESCRIBE))
                .map(|chunk| async move {
                    retrying(|| self.admin.describe_groups(&chunk), failed_passing).await
                })
                .buffer_unordered(4)
                .try_collect()
                .await
                .map_err(|e| self.failed("a DescribeConsumerGroups request", e, Touched::Groups))?;
        Ok(batches
            .into_iter()
            .flatten()
            .map(|d| (d.group.clone(), d))
            .collect())
    }

    async fn list_groups(&self) -> Result<GroupList> {
        let mut list = retrying(|| self.admin.list_groups(), failed_passing)
            .await
            .map_err(|e| self.failed("a ListConsumerGroups request", e, Touched::Cluster))?;
        list.groups.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(list)
    }

    async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets> {
        let offsets: Vec<(TopicPartition, Offset)> =
            offsets.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        self.commit_offsets_as_admin(group, &offsets).await
    }
}

/// Runs a request again, after the same pauses as partition retries, while `again` says its
/// answer reports a passing state of the cluster; the last answer is returned either way.
async fn retrying<T, F, Fut>(
    mut request: F,
    again: impl Fn(&std::result::Result<T, BrokerError>) -> bool,
) -> std::result::Result<T, BrokerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, BrokerError>>,
{
    for delay in LIST_OFFSETS_BACKOFF {
        let answer = request().await;
        if !again(&answer) {
            return answer;
        }
        tokio::time::sleep(delay).await;
    }
    request().await
}

/// An error worth asking again for: retriable, but not "the cluster cannot be reached",
/// which retries would only delay reporting.
fn passing(e: &BrokerError) -> bool {
    e.is_retriable() && !e.is_connectivity()
}

fn failed_passing<T>(answer: &std::result::Result<T, BrokerError>) -> bool {
    answer.as_ref().is_err_and(passing)
}

/// Chunks as owned vectors: the futures that use them must not borrow from a local slice
/// (`async_trait` needs them to be `'static` in the chunk's lifetime).
fn owned_chunks<T: Clone>(items: &[T], size: usize) -> Vec<Vec<T>> {
    items.chunks(size).map(<[T]>::to_vec).collect()
}

fn first_topic_result(results: Vec<TopicResult>) -> std::result::Result<(), BrokerError> {
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err((_, code))) => Err(broker_error(code as i32, String::new())),
        None => Err(broker_error(-1, "no result for the topic".into())),
    }
}

/// What a request touched, to name the resource when the authorizer refuses it.
#[derive(Debug, Clone, Copy)]
enum Touched<'a> {
    Group(&'a str),
    /// Several groups, not told apart by the error.
    Groups,
    Cluster,
}

/// The ACL operation and resource a refusal (`*_AUTHORIZATION_FAILED`) asks for, or `None`
/// when the error is not the authorizer's.
fn refused_acl(what: &str, code: &str, touched: Touched<'_>) -> Option<(&'static str, String)> {
    let writes = what.contains("AlterConsumerGroupOffsets");
    let operation = if writes { "Read" } else { "Describe" };
    match code {
        "GROUP_AUTHORIZATION_FAILED" => Some((
            operation,
            match touched {
                Touched::Group(group) => format!("Group \"{group}\""),
                Touched::Groups | Touched::Cluster => "each Group it names".into(),
            },
        )),
        "TOPIC_AUTHORIZATION_FAILED" => Some((operation, "each Topic it names".into())),
        "CLUSTER_AUTHORIZATION_FAILED" => Some(("Describe", "the Cluster".into())),
        _ => None,
    }
}

fn kafka_error(e: &KafkaError) -> BrokerError {
    match e.rdkafka_error_code() {
        Some(code) => broker_error(code as i32, e.to_string()),
        None => BrokerError {
            code: -1,
            name: "CLIENT_ERROR".into(),
            message: e.to_string(),
        },
    }
}

/// librdkafka delivers its log lines and errors as events on the handle's queue, which only a
/// poll serves; cutover never consumes, so a thread polls it (until the cluster is dropped) and
/// hands errors to the [`ClientLog`], which logs lines itself.
fn serve_events(role: Role, reader: &Arc<BaseConsumer<ClientLog>>) {
    let weak = Arc::downgrade(reader);
    let spawned = std::thread::Builder::new()
        .name(format!("cutover-{role}-events"))
        .spawn(move || {
            while let Some(reader) = weak.upgrade() {
                if let Some(Err(e)) = reader.poll(Duration::from_millis(100)) {
                    reader.context().error(e, "");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the thread serving librdkafka's events for the {role}: {e}");
    }
}

pub(super) fn describe_client_error(e: &KafkaError) -> String {
    match e {
        KafkaError::ClientCreation(message) => message.clone(),
        // rdkafka's text appends the refused property's value, which can be a secret (a Java
        // JAAS line holding a password): name the property, never its value.
        KafkaError::ClientConfig(_, message, key, _) if message.contains(key.as_str()) => {
            message.clone()
        }
        KafkaError::ClientConfig(_, message, key, _) => format!("{key}: {message}"),
        other => other.to_string(),
    }
}
