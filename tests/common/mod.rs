//! Shared fixtures for the real-Kafka tests: the lab, unique names, producing records and
//! driving real consumer-group members.
//!
//! Every test binary calls [`lab()`], which runs `tests/lab/lab up` once (a no-op when the lab
//! is already running, so binaries share one lab) and reads its addresses from `lab env`. If
//! the lab cannot start, the test fails with the lab's output: it never skips.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

/// Addresses of the running lab.
#[derive(Debug, Clone)]
pub struct Lab {
    pub origin: String,
    pub destination: String,
    pub env: BTreeMap<String, String>,
}

pub fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab")
}

/// Starts the lab (or reuses the running one) once per test binary.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        run_lab(&["up"]);
        let env = parse_exports(&run_lab(&["env"]));
        let get = |k: &str| {
            env.get(k)
                .unwrap_or_else(|| panic!("`tests/lab/lab env` did not print {k}"))
                .clone()
        };
        Lab {
            origin: get("CUTOVER_ORIGIN_BOOTSTRAP"),
            destination: get("CUTOVER_DESTINATION_BOOTSTRAP"),
            env,
        }
    })
}

/// Runs the lab launcher; panics with its output when it fails.
pub fn run_lab(args: &[&str]) -> String {
    let out = Command::new(lab_script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/lab/lab: {e}"));
    if !out.status.success() {
        panic!(
            "`tests/lab/lab {}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses `export KEY=VALUE` lines (values may be single-quoted).
pub fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// A name no other test, run or binary uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
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

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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

pub async fn create_topic_with(bootstrap: &str, new_topic: NewTopic<'_>) {
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
