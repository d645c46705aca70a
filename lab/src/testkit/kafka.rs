//! Kafka as the tests drive it directly: topics, records, and real consumer-group members.
//!
//! Topic creation and a change of the origin's brokers exclude each other (see
//! [`change_origin_brokers`]): a package's tests all run in one binary, in parallel.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset as RdOffset, TopicPartitionList};
use tokio::sync::{RwLock, RwLockWriteGuard};

use super::support::{unique, wait_for};

/// Held for reading while a topic is created, for writing while a test adds or removes a broker
/// of the origin cluster. A topic created while an extra broker is up could get a partition on
/// it, and that partition would lose its leader when the broker stops.
static BROKER_CHANGE: RwLock<()> = RwLock::const_new(());

/// Waits until no test is changing the origin's brokers, and keeps them from changing until
/// the guard is dropped: for fixtures whose clients must not learn of a broker that is about
/// to be killed (a link emulator starting, a mirror being created).
pub async fn no_broker_change() -> tokio::sync::RwLockReadGuard<'static, ()> {
    BROKER_CHANGE.read().await
}

/// Proof that no other test creates a topic until it is dropped: see [`change_origin_brokers`].
pub struct BrokerChange {
    _exclusive: RwLockWriteGuard<'static, ()>,
}

/// Waits until no test is creating a topic, then keeps every other test from creating one
/// until the returned guard is dropped: for a test that starts or stops a broker of the origin
/// cluster (`tests/lab/lab extra-broker`).
///
/// Before it returns, the origin's `__consumer_offsets` topic exists: created while an extra
/// broker is up, some of its partitions (and with them the coordinators of other tests'
/// groups) would live on that broker and be lost when it stops.
pub async fn change_origin_brokers(origin: &str) -> BrokerChange {
    let exclusive = BROKER_CHANGE.write().await;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", origin)
        .set("group.id", unique("coordinator-probe"))
        .create()
        .expect("probe consumer");
    wait_for(
        "the origin's __consumer_offsets topic",
        Duration::from_secs(60),
        || {
            // Asking a group's coordinator for offsets makes the broker create the topic.
            let mut probe = TopicPartitionList::new();
            probe.add_partition("__consumer_offsets", 0);
            let _ = consumer.committed_offsets(probe, Duration::from_secs(5));
            let md = consumer
                .fetch_metadata(Some("__consumer_offsets"), Duration::from_secs(5))
                .ok()?;
            let t = md.topics().first()?;
            (t.error().is_none()
                && !t.partitions().is_empty()
                && t.partitions().iter().all(|p| p.leader() >= 0))
            .then_some(())
        },
    );
    BrokerChange {
        _exclusive: exclusive,
    }
}

pub fn props(bootstrap: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())])
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

/// Creates a topic and waits until every partition has a leader.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    create_topic_with(
        bootstrap,
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
    )
    .await;
    wait_for_leaders(bootstrap, topic, partitions as usize);
}

/// Creates a topic as given (its configs, its replicas); waits while a test changes the
/// origin's brokers.
pub async fn create_topic_with(bootstrap: &str, new_topic: NewTopic<'_>) {
    // The controller places the partitions when it creates the topic: from then on, a broker
    // joining or leaving cannot move them.
    let _no_broker_change = BROKER_CHANGE.read().await;
    create(bootstrap, new_topic).await;
}

impl BrokerChange {
    /// Creates a topic as given (e.g. with its replicas on chosen brokers) while this test
    /// changes the origin's brokers.
    pub async fn create_topic_with(&self, bootstrap: &str, new_topic: NewTopic<'_>) {
        create(bootstrap, new_topic).await;
    }
}

async fn create(bootstrap: &str, new_topic: NewTopic<'_>) {
    let results = admin(bootstrap)
        .create_topics([&new_topic], &AdminOptions::new())
        .await
        .expect("create_topics request");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
}

pub fn wait_for_leaders(bootstrap: &str, topic: &str, partitions: usize) {
    let client = admin(bootstrap);
    wait_for(
        &format!("leaders for {topic}"),
        Duration::from_secs(30),
        || {
            let md = client
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .ok()?;
            let t = md.topics().first()?;
            (t.error().is_none()
                && t.partitions().len() == partitions
                && t.partitions().iter().all(|p| p.leader() >= 0))
            .then_some(())
        },
    );
}

/// Produces `count` records to each listed partition and waits for every acknowledgement.
pub async fn produce(bootstrap: &str, topic: &str, counts: &[(i32, usize)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut pending = Vec::new();
    for &(partition, count) in counts {
        for i in 0..count {
            let key = format!("k{i}");
            let value = format!("v{partition}-{i}");
            let record = FutureRecord::to(topic)
                .partition(partition)
                .key(&key)
                .payload(&value);
            pending.push(producer.send_result(record).expect("queue record"));
        }
    }
    for delivery in pending {
        delivery
            .await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("produce to {topic} failed: {e}"));
    }
}

/// The consumer group protocol a test member uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Classic,
    Consumer,
}

fn member_config(
    bootstrap: &str,
    group: &str,
    protocol: Protocol,
    client_id: &str,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    match protocol {
        Protocol::Classic => {
            c.set("group.protocol", "classic")
                .set("session.timeout.ms", "6000");
        }
        Protocol::Consumer => {
            c.set("group.protocol", "consumer");
        }
    }
    c
}

/// A live member of a consumer group, polling on its own thread until stopped.
pub struct Member {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    /// Joins `group` with `protocol`, subscribed to `topic`; returns once the member owns
    /// `partitions` partitions. With `commit`, it then commits those offsets as a member.
    pub fn start(
        bootstrap: &str,
        group: &str,
        protocol: Protocol,
        client_id: &str,
        topic: &str,
        partitions: usize,
        commit: &[(i32, i64)],
    ) -> Member {
        let consumer: BaseConsumer = member_config(bootstrap, group, protocol, client_id)
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let _ = consumer.poll(Duration::from_millis(100));
            let owned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
            if owned >= partitions {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member of {group} got no assignment in 60s"
            );
        }
        if !commit.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for &(p, o) in commit {
                tpl.add_partition_offset(topic, p, RdOffset::Offset(o))
                    .expect("offset");
            }
            consumer
                .commit(&tpl, CommitMode::Sync)
                .expect("commit as member");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            consumer.unsubscribe();
            // Dropping the consumer closes it and leaves the group.
        });
        Member {
            stop,
            thread: Some(thread),
        }
    }

    /// Leaves the group and waits for the consumer to close.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("member thread");
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Commits offsets for `group` the way a real application does: join, commit as a member,
/// leave. The group then exists with exactly these offsets and no members.
pub fn commit_as_member(
    bootstrap: &str,
    group: &str,
    protocol: Protocol,
    topic: &str,
    partitions: usize,
    offsets: &[(i32, i64)],
) {
    Member::start(
        bootstrap,
        group,
        protocol,
        "cutover-test-committer",
        topic,
        partitions,
        offsets,
    )
    .stop();
}

/// One record as a consumer sees it, for exact comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

/// Reads every record of `partitions` partitions of `topic` up to each partition's log end.
pub fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> BTreeMap<i32, Vec<Rec>> {
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        // A topic created moments ago may not have its leader yet: ask until it answers.
        let (_, high) = wait_for(
            &format!("watermarks of {topic}-{p}"),
            Duration::from_secs(30),
            || {
                consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(5))
                    .ok()
            },
        );
        ends.insert(p, high);
        tpl.add_partition_offset(topic, p, RdOffset::Beginning)
            .expect("offset");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out: BTreeMap<i32, Vec<Rec>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    let done = |out: &BTreeMap<i32, Vec<Rec>>| {
        ends.iter()
            .all(|(p, end)| *end == 0 || out[p].last().is_some_and(|r| r.offset + 1 >= *end))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&out) {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.expect("consume");
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        out.get_mut(&m.partition()).expect("partition").push(Rec {
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: m.timestamp().to_millis(),
        });
    }
    out
}
