//! Shared fixtures for the real-Kafka tests: the lab, unique names, producing records and
//! driving real consumer-group members.
//!
//! Every test binary calls [`lab()`], which runs `tests/lab/lab up` once (a no-op when the lab
//! is already running, so binaries share one lab) and reads its addresses from `lab env`. If
//! the lab cannot start, the test fails with the lab's output: it never skips.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod testapp;

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
    // The emulator binary cargo built for this test run: the lab must not run cargo itself
    // while cargo is running the tests.
    let out = Command::new(lab_script())
        .args(args)
        .env("CUTOVER_LINKSIM_BIN", env!("CARGO_BIN_EXE_cutover-linksim"))
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

/// A link emulator started in-process for one test, with a REST client.
pub struct Sim {
    pub sim: cutover::linksim::LinkSim,
    pub http: reqwest::Client,
    pub link: String,
}

impl Sim {
    pub async fn start(configs: &[(&str, &str)]) -> Sim {
        Sim::start_with(configs, None).await
    }

    pub async fn start_with(configs: &[(&str, &str)], basic_auth: Option<(&str, &str)>) -> Sim {
        let link = unique("link");
        let options = cutover::linksim::LinkSimOptions {
            link_name: link.clone(),
            origin: props(&lab().origin),
            destination: props(&lab().destination),
            listen: "127.0.0.1:0".parse().expect("address"),
            basic_auth: basic_auth.map(|(u, p)| (u.to_string(), p.to_string())),
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let sim = cutover::linksim::LinkSim::start(options)
            .await
            .expect("emulator starts");
        Sim {
            sim,
            http: reqwest::Client::new(),
            link,
        }
    }

    /// `{rest}/clusters/{id}/links/{link}{path}`.
    pub fn link_url(&self, path: &str) -> String {
        format!(
            "{}/clusters/{}/links/{}{path}",
            self.sim.rest_url(),
            self.sim.cluster_id(),
            self.link
        )
    }

    pub async fn get(&self, url: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(url).send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn create_mirror(&self, topic: &str) {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                &self.link_url("/mirrors"),
                serde_json::json!({ "source_topic_name": topic }),
            )
            .await;
        assert_eq!(status, 204, "create mirror {topic}: {body}");
    }

    pub async fn mirror(&self, topic: &str) -> serde_json::Value {
        let (status, body) = self
            .get(&self.link_url(&format!(
                "/mirrors/{topic}?include_state_transition_errors=true"
            )))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn alter(&self, action: &str, topic: &str) -> serde_json::Value {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                &self.link_url(&format!("/mirrors:{action}")),
                serde_json::json!({ "mirror_topic_names": [topic] }),
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        body["data"][0].clone()
    }

    pub async fn faults(&self, faults: serde_json::Value) {
        let r = self
            .http
            .put(format!("{}/faults", self.sim.admin_url()))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert_eq!(r.status().as_u16(), 204);
    }

    pub async fn set_config(&self, name: &str, value: &str) {
        let (status, body) = self
            .send(
                reqwest::Method::PUT,
                &self.link_url(&format!("/configs/{name}")),
                serde_json::json!({ "value": value }),
            )
            .await;
        assert_eq!(status, 204, "{name}={value}: {body}");
    }

    /// Waits until the emulator reports the mirror caught up (lag 0 on every partition) and
    /// both clusters agree.
    pub async fn wait_caught_up(&self, topic: &str, partitions: i32) {
        use cutover::kafka::{Cluster, OffsetSpec, RdKafkaCluster};
        let origin = RdKafkaCluster::connect(
            cutover::model::Role::Origin,
            &props(&lab().origin),
            Duration::from_secs(10),
        )
        .unwrap();
        let dest = RdKafkaCluster::connect(
            cutover::model::Role::Destination,
            &props(&lab().destination),
            Duration::from_secs(10),
        )
        .unwrap();
        let tps: Vec<_> = (0..partitions)
            .map(|p| cutover::model::TopicPartition::new(topic, p))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = origin.list_offsets(&tps, OffsetSpec::Latest).await.unwrap();
            let d = dest.list_offsets(&tps, OffsetSpec::Latest).await.unwrap();
            let m = self.mirror(topic).await;
            let lags_zero = m["mirror_lags"]
                .as_array()
                .is_some_and(|l| l.iter().all(|x| x["lag"] == 0));
            if o == d && lags_zero {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{topic} never caught up: origin {o:?} mirror {d:?} rest {m}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
