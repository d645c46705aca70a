//! The link emulator between the lab's two real Kafka clusters: identical offsets, the
//! link's offset-sync semantics, promote, faults, and the REST API's exact shapes.
//!
//! Each test starts its own emulator (its own link name, REST port and fault knobs) and uses
//! unique topic and group names, so tests run in parallel without sharing link state.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cutover::kafka::{Cluster, RdKafkaCluster};
use cutover::model::{GroupId, Offset, Role, TopicPartition};
use cutover_lab::testkit::{
    self, commit_as_member, create_topic, lab, props, read_all, unique, Member, Protocol, Sim,
};
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};

fn cluster(role: Role) -> RdKafkaCluster {
    let bootstrap = match role {
        Role::Origin => &lab().origin,
        Role::Destination => &lab().destination,
    };
    RdKafkaCluster::connect(role, &props(bootstrap), Duration::from_secs(10)).unwrap()
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "2")
        .create()
        .unwrap()
}

/// Produces `n` varied records per partition: null and non-null keys, empty and null values,
/// headers (one with a null value) and explicit timestamps.
async fn produce_varied(bootstrap: &str, topic: &str, partitions: i32, n: usize, salt: &str) {
    let p = producer(bootstrap);
    let mut pending = Vec::new();
    for partition in 0..partitions {
        for i in 0..n {
            let key = format!("{salt}-k{i}");
            let value = format!("{salt}-v{partition}-{i}");
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "trace",
                    value: Some(format!("t{i}").as_bytes()),
                })
                .insert(Header {
                    key: "empty",
                    value: None::<&[u8]>,
                });
            let mut record = FutureRecord::<str, str>::to(topic)
                .partition(partition)
                .timestamp(1_700_000_000_000 + i as i64);
            if i % 3 != 0 {
                record = record.key(&key);
            }
            record = match i % 5 {
                0 => record.payload(""),
                1 => record,
                _ => record.payload(&value),
            };
            if i % 2 == 0 {
                record = record.headers(headers);
            }
            pending.push(p.send_result(record).expect("queue"));
        }
    }
    for d in pending {
        d.await.unwrap().unwrap();
    }
}

async fn committed(role: Role, group: &str) -> BTreeMap<TopicPartition, Offset> {
    let g = GroupId::new(group);
    let all = cluster(role)
        .committed_offsets(std::slice::from_ref(&g))
        .await
        .unwrap();
    all[&g]
        .as_ref()
        .unwrap()
        .iter()
        .map(|(tp, o)| (tp.clone(), *o.as_ref().unwrap()))
        .collect()
}

async fn wait_committed(
    role: Role,
    group: &str,
    want: &BTreeMap<TopicPartition, Offset>,
    limit: Duration,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = committed(role, group).await;
        if &got == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{group} on the {role}: wanted {want:?}, have {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn offsets(topic: &str, pairs: &[(i32, i64)]) -> BTreeMap<TopicPartition, Offset> {
    pairs
        .iter()
        .map(|&(p, o)| (TopicPartition::new(topic, p), Offset(o)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_records_keep_offsets_keys_values_headers_and_timestamps() {
    let topic = unique("mirror-exact");
    create_topic(&lab().origin, &topic, 3).await;
    produce_varied(&lab().origin, &topic, 3, 40, "before").await;
    let sim = Sim::start(&[]).await;

    sim.create_mirror(&topic).await;
    produce_varied(&lab().origin, &topic, 3, 25, "after").await;
    sim.wait_caught_up(&topic, 3).await;

    let origin = read_all(&lab().origin, &topic, 3);
    let mirror = read_all(&lab().destination, &topic, 3);
    for p in 0..3 {
        assert_eq!(origin[&p].len(), 65, "partition {p}");
        assert_eq!(origin[&p], mirror[&p], "partition {p} differs");
    }
    let m = sim.mirror(&topic).await;
    assert_eq!(m["mirror_status"], "ACTIVE");
    assert_eq!(m["num_partitions"], 3);
    assert!(m["mirror_lags"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["last_source_fetch_offset"] == 65));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_sync_copies_included_groups_raw_within_one_interval_and_never_excluded_ones() {
    let topic = unique("sync");
    let prefix = unique("sync-grp");
    create_topic(&lab().origin, &topic, 2).await;
    testkit::produce(&lab().origin, &topic, &[(0, 30), (1, 30)]).await;
    let filters = json!({ "groupFilters": [
        { "name": format!("{prefix}-"), "patternType": "PREFIXED", "filterType": "INCLUDE" },
        { "name": format!("{prefix}-excluded"), "patternType": "LITERAL", "filterType": "EXCLUDE" },
    ]})
    .to_string();
    let interval = Duration::from_millis(2000);
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "2000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 2).await;

    let included = format!("{prefix}-included");
    let excluded = format!("{prefix}-excluded");
    commit_as_member(
        &lab().origin,
        &excluded,
        Protocol::Classic,
        &topic,
        2,
        &[(0, 5), (1, 6)],
    );
    commit_as_member(
        &lab().origin,
        &included,
        Protocol::Consumer,
        &topic,
        2,
        &[(0, 11), (1, 12)],
    );
    let took = wait_committed(
        Role::Destination,
        &included,
        &offsets(&topic, &[(0, 11), (1, 12)]),
        interval * 3,
    )
    .await;
    assert!(
        took <= interval + Duration::from_millis(1500),
        "synced after {took:?}, interval {interval:?}"
    );

    // Offsets are copied raw: a commit beyond the mirror's end arrives as it is.
    sim.faults(json!({ "stalled_topics": [topic] })).await;
    testkit::produce(&lab().origin, &topic, &[(0, 10)]).await;
    commit_as_member(
        &lab().origin,
        &included,
        Protocol::Consumer,
        &topic,
        2,
        &[(0, 38), (1, 12)],
    );
    wait_committed(
        Role::Destination,
        &included,
        &offsets(&topic, &[(0, 38), (1, 12)]),
        interval * 3,
    )
    .await;
    let mirror_end = cluster(Role::Destination)
        .list_offsets(
            &[TopicPartition::new(&topic, 0)],
            cutover::kafka::OffsetSpec::Latest,
        )
        .await
        .unwrap();
    assert_eq!(
        mirror_end[&TopicPartition::new(&topic, 0)],
        Ok(Offset(30)),
        "the stalled mirror did not move"
    );

    // The excluded group never reached the destination.
    tokio::time::sleep(interval).await;
    assert!(committed(Role::Destination, &excluded).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_sync_never_overwrites_a_group_active_on_the_destination_but_rewinds_it_once_stopped(
) {
    let topic = unique("sync-active");
    let group = unique("sync-active-grp");
    create_topic(&lab().origin, &topic, 1).await;
    testkit::produce(&lab().origin, &topic, &[(0, 50)]).await;
    let filters = json!({ "groupFilters": [{ "name": group, "patternType": "LITERAL", "filterType": "INCLUDE" }] }).to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 1).await;
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &topic,
        1,
        &[(0, 10)],
    );
    wait_committed(
        Role::Destination,
        &group,
        &offsets(&topic, &[(0, 10)]),
        Duration::from_secs(10),
    )
    .await;

    // The group starts on the destination and commits further; the link must not rewind it.
    let member = Member::start(
        &lab().destination,
        &group,
        Protocol::Classic,
        "app",
        &topic,
        1,
        &[(0, 40)],
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        committed(Role::Destination, &group).await,
        offsets(&topic, &[(0, 40)])
    );

    // Stopped while still included: the next tick rewinds it to the origin's offset. This is
    // the hazard the agent's exclusion step exists for.
    member.stop();
    wait_committed(
        Role::Destination,
        &group,
        &offsets(&topic, &[(0, 10)]),
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_while_lagging_and_stops_the_mirror_at_zero_lag() {
    let topic = unique("promote");
    create_topic(&lab().origin, &topic, 2).await;
    testkit::produce(&lab().origin, &topic, &[(0, 20), (1, 20)]).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 2).await;

    sim.faults(json!({ "stalled_topics": [topic] })).await;
    testkit::produce(&lab().origin, &topic, &[(1, 7)]).await;
    let refused = sim.alter("promote", &topic).await;
    assert_eq!(refused["error_code"], 400, "{refused}");
    assert!(
        refused["error_message"]
            .as_str()
            .unwrap()
            .contains("mirror lag is 7 on partition 1"),
        "{refused}"
    );
    assert_eq!(sim.mirror(&topic).await["mirror_status"], "ACTIVE");

    sim.faults(json!({})).await;
    sim.wait_caught_up(&topic, 2).await;
    let promoted = sim.alter("promote", &topic).await;
    assert_eq!(promoted["error_code"], Value::Null, "{promoted}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = sim.mirror(&topic).await["mirror_status"].clone();
        if status == "STOPPED" {
            break;
        }
        assert!(
            status == "PENDING_STOPPED" || status == "ACTIVE",
            "{status}"
        );
        assert!(Instant::now() < deadline, "never STOPPED");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A stopped mirror is a normal topic: producing to it works and continues its offsets,
    // and the origin's new records are no longer copied.
    let p = producer(&lab().destination);
    let delivery = p
        .send(
            FutureRecord::<str, str>::to(&topic)
                .partition(1)
                .payload("written on the destination"),
            Duration::from_secs(10),
        )
        .await
        .expect("produce to the promoted topic");
    assert_eq!((delivery.partition, delivery.offset), (1, 27));
    testkit::produce(&lab().origin, &topic, &[(0, 5)]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(read_all(&lab().destination, &topic, 2)[&0].len(), 20);
    let again = sim.alter("promote", &topic).await;
    assert_eq!(again["error_code"], 400);
    assert!(
        again["error_message"]
            .as_str()
            .unwrap()
            .contains("already stopped"),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_write_to_a_mirror_topic_fails_the_mirror_with_the_reason() {
    let topic = unique("foreign");
    create_topic(&lab().origin, &topic, 1).await;
    testkit::produce(&lab().origin, &topic, &[(0, 5)]).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 1).await;

    // Apache Kafka cannot make the mirror read-only: someone writes to it.
    testkit::produce(&lab().destination, &topic, &[(0, 1)]).await;
    testkit::produce(&lab().origin, &topic, &[(0, 1)]).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let m = loop {
        let m = sim.mirror(&topic).await;
        if m["mirror_status"] == "FAILED" {
            break m;
        }
        assert!(Instant::now() < deadline, "never FAILED: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(m["mirror_topic_error"], "ILLEGAL_STATE");
    let message = m["mirror_state_transition_errors"][0]["error_message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("origin offset 5") && message.contains("mirror offset 6"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_are_reported_and_stop_copying() {
    let topic = unique("pause");
    create_topic(&lab().origin, &topic, 1).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    assert_eq!(sim.alter("pause", &topic).await["error_code"], Value::Null);
    assert_eq!(sim.mirror(&topic).await["mirror_status"], "PAUSED");
    testkit::produce(&lab().origin, &topic, &[(0, 9)]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = sim.mirror(&topic).await;
    assert_eq!(m["mirror_lags"][0]["lag"], 9, "{m}");
    let (status, paused) = sim
        .get(&format!(
            "{}?mirror_status=PAUSED",
            sim.link_url("/mirrors")
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(paused["data"].as_array().unwrap().len(), 1);

    assert_eq!(sim.alter("resume", &topic).await["error_code"], Value::Null);
    sim.wait_caught_up(&topic, 1).await;
    let missing = sim.alter("pause", "no-such-mirror").await;
    assert_eq!(missing["error_code"], 404, "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_configs_round_trip_and_disabling_sync_clears_the_group_filters() {
    let sim = Sim::start(&[]).await;
    let get = |name: &str| {
        let url = sim.link_url(&format!("/configs/{name}"));
        let sim = &sim;
        async move { sim.get(&url).await }
    };
    assert_eq!(get("consumer.offset.sync.ms").await.1["value"], "30000");
    assert_eq!(get("consumer.offset.sync.ms").await.1["default"], true);

    sim.set_config("consumer.offset.sync.ms", "5000").await;
    let (_, c) = get("consumer.offset.sync.ms").await;
    assert_eq!(
        (
            c["value"].clone(),
            c["default"].clone(),
            c["source"].clone()
        ),
        (
            json!("5000"),
            json!(false),
            json!("DYNAMIC_CLUSTER_LINK_CONFIG")
        )
    );

    let filters =
        r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
    let (status, body) = sim
        .send(
            reqwest::Method::PUT,
            &sim.link_url("/configs:alter"),
            json!({ "data": [
                { "name": "consumer.offset.sync.enable", "value": "true" },
                { "name": "consumer.offset.group.filters", "value": filters },
                { "name": "consumer.offset.sync.ms", "operation": "DELETE" },
            ]}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        get("consumer.offset.group.filters").await.1["value"],
        filters
    );
    assert_eq!(get("consumer.offset.sync.ms").await.1["value"], "30000");

    sim.set_config("consumer.offset.sync.enable", "false").await;
    assert_eq!(get("consumer.offset.group.filters").await.1["value"], "");

    let (status, body) = sim
        .send(
            reqwest::Method::PUT,
            &sim.link_url("/configs/consumer.offset.group.filters"),
            json!({ "value": "{oops" }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("consumer.offset.group.filters"),
        "{body}"
    );
    let (status, _) = get("no.such.config").await;
    assert_eq!(status, 404);
    let (status, _) = sim
        .send(
            reqwest::Method::DELETE,
            &sim.link_url("/configs/consumer.offset.sync.enable"),
            json!(null),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(get("consumer.offset.sync.enable").await.1["value"], "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_origin_topics_get_mirrors_automatically_and_grow_with_their_source() {
    let prefix = unique("auto");
    let filters = json!({ "topicFilters": [{ "name": format!("{prefix}-"), "patternType": "PREFIXED", "filterType": "INCLUDE" }] }).to_string();
    let sim = Sim::start(&[
        ("auto.create.mirror.topics.enable", "true"),
        ("auto.create.mirror.topics.filters", &filters),
        ("topic.config.sync.ms", "1000"),
    ])
    .await;
    let wanted = format!("{prefix}-orders");
    let other = unique("auto-other");
    create_topic(&lab().origin, &wanted, 2).await;
    create_topic(&lab().origin, &other, 1).await;
    testkit::produce(&lab().origin, &wanted, &[(0, 3), (1, 4)]).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    while sim
        .get(&sim.link_url(&format!("/mirrors/{wanted}")))
        .await
        .0
        != 200
    {
        assert!(Instant::now() < deadline, "no mirror was auto-created");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.wait_caught_up(&wanted, 2).await;
    assert_eq!(
        sim.get(&sim.link_url(&format!("/mirrors/{other}"))).await.0,
        404
    );

    // The source gains a partition: the mirror follows at the next topic sync.
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", &lab().origin)
            .create()
            .unwrap();
    admin
        .create_partitions(
            [&rdkafka::admin::NewPartitions::new(&wanted, 3)],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .unwrap();
    testkit::wait_for_leaders(&lab().origin, &wanted, 3);
    testkit::produce(&lab().origin, &wanted, &[(2, 6)]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.mirror(&wanted).await["num_partitions"] != 3 {
        assert!(Instant::now() < deadline, "the mirror never grew");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.wait_caught_up(&wanted, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_rest_failures_basic_auth_and_error_bodies() {
    let sim = Sim::start_with(&[], Some(("operator", "s3cret"))).await;
    let clusters = format!("{}/clusters", sim.sim.rest_url());

    // `sim.http` sends the emulator's credentials by default: this request must carry none.
    let unauthenticated = sim.anonymous_http().get(&clusters).send().await.unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let body: Value = unauthenticated.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error_code": 40101, "message": "Authentication failed" })
    );
    let authed = || {
        sim.http
            .get(&clusters)
            .basic_auth("operator", Some("s3cret"))
    };
    assert_eq!(authed().send().await.unwrap().status().as_u16(), 200);
    assert_eq!(
        sim.http
            .get(&clusters)
            .basic_auth("operator", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    let r = sim
        .http
        .put(format!("{}/faults/rest", sim.sim.admin_url()))
        .json(&json!({ "remaining": 2, "kind": "status", "status": 503 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    for _ in 0..2 {
        let r = authed().send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error_code"].is_i64() && body["message"].is_string(),
            "{body}"
        );
    }
    assert_eq!(authed().send().await.unwrap().status().as_u16(), 200);

    sim.http
        .put(format!("{}/faults/rest", sim.sim.admin_url()))
        .json(&json!({ "remaining": 1, "kind": "timeout", "timeout_ms": 5000 }))
        .send()
        .await
        .unwrap();
    let timed_out = authed().timeout(Duration::from_millis(500)).send().await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));

    let r = sim
        .http
        .get(format!(
            "{}/clusters/not-this-one/links",
            sim.sim.rest_url()
        ))
        .basic_auth("operator", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error_code"].is_i64() && body["message"].as_str().unwrap().contains("not-this-one")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_whose_log_no_longer_starts_at_zero_is_mirrored_with_the_same_log_start() {
    let topic = unique("log-start");
    create_topic(&lab().origin, &topic, 2).await;
    testkit::produce(&lab().origin, &topic, &[(0, 30), (1, 5)]).await;
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", &lab().origin)
            .create()
            .unwrap();
    let mut cut = rdkafka::TopicPartitionList::new();
    cut.add_partition_offset(&topic, 0, rdkafka::Offset::Offset(12))
        .unwrap();
    admin
        .delete_records(&cut, &rdkafka::admin::AdminOptions::new())
        .await
        .unwrap();
    let sim = Sim::start(&[]).await;

    sim.create_mirror(&topic).await;
    testkit::produce(&lab().origin, &topic, &[(0, 3)]).await;
    sim.wait_caught_up(&topic, 2).await;

    let starts = cluster(Role::Destination)
        .list_offsets(
            &[
                TopicPartition::new(&topic, 0),
                TopicPartition::new(&topic, 1),
            ],
            cutover::kafka::OffsetSpec::Earliest,
        )
        .await
        .unwrap();
    assert_eq!(starts[&TopicPartition::new(&topic, 0)], Ok(Offset(12)));
    assert_eq!(starts[&TopicPartition::new(&topic, 1)], Ok(Offset(0)));
    let origin = read_all(&lab().origin, &topic, 2);
    let mirror = read_all(&lab().destination, &topic, 2);
    assert_eq!(origin[&0].first().map(|r| r.offset), Some(12));
    assert_eq!(origin, mirror);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_and_a_stopped_offset_sync_hold_back_copying_and_syncing() {
    let topic = unique("knobs");
    let group = unique("knobs-grp");
    create_topic(&lab().origin, &topic, 1).await;
    let filters = json!({ "groupFilters": [{ "name": group, "patternType": "LITERAL", "filterType": "INCLUDE" }] }).to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    sim.create_mirror(&topic).await;
    sim.faults(json!({ "throttle_records_per_sec": 20, "offset_sync_stopped": true }))
        .await;

    testkit::produce(&lab().origin, &topic, &[(0, 80)]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let copied = read_all(&lab().destination, &topic, 1)[&0].len();
    assert!(
        copied < 80,
        "the throttle let {copied} records through in about a second"
    );
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &topic,
        1,
        &[(0, 7)],
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        committed(Role::Destination, &group).await.is_empty(),
        "the stopped sync wrote offsets"
    );

    sim.faults(json!({})).await;
    sim.wait_caught_up(&topic, 1).await;
    wait_committed(
        Role::Destination,
        &group,
        &offsets(&topic, &[(0, 7)]),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_takes_its_sources_cleanup_and_retention_settings() {
    let topic = unique("configs");
    testkit::create_topic_with(
        &lab().origin,
        rdkafka::admin::NewTopic::new(&topic, 2, rdkafka::admin::TopicReplication::Fixed(1))
            .set("retention.ms", "3600000")
            .set("cleanup.policy", "delete")
            .set("max.message.bytes", "2000000"),
    )
    .await;
    testkit::wait_for_leaders(&lab().origin, &topic, 2);
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;

    let overrides: BTreeMap<String, String> = cluster(Role::Destination)
        .topic_overrides(&topic)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        overrides.get("retention.ms").map(String::as_str),
        Some("3600000"),
        "{overrides:?}"
    );
    assert_eq!(
        overrides.get("max.message.bytes").map(String::as_str),
        Some("2000000"),
        "{overrides:?}"
    );
    assert_eq!(
        overrides.get("message.timestamp.type").map(String::as_str),
        Some("CreateTime"),
        "{overrides:?}"
    );
    let meta = cluster(Role::Destination).topics().await.unwrap();
    assert_eq!(meta[&topic].partition_count(), 2);
}

/// The replicator's stand-in: a copy that does not keep offsets. Each mirror partition starts
/// three records into its source, so every record sits three offsets lower on the copy with
/// its key, value, headers and timestamp, new records follow, the lag counts records not yet
/// copied, and no consumer offset is synced (it would name other records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_does_not_keep_offsets_shifts_every_record_and_syncs_no_offsets() {
    let topic = unique("replicated");
    create_topic(&lab().origin, &topic, 2).await;
    produce_varied(&lab().origin, &topic, 2, 10, "before").await;
    let sim = Sim::start_replicator(
        3,
        &[
            ("consumer.offset.sync.enable", "true"),
            ("consumer.offset.sync.ms", "500"),
            (
                "consumer.offset.group.filters",
                r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
            ),
        ],
    )
    .await;
    sim.create_mirror(&topic).await;
    produce_varied(&lab().origin, &topic, 2, 5, "after").await;
    sim.wait_caught_up(&topic, 2).await;

    let origin = read_all(&lab().origin, &topic, 2);
    let copy = read_all(&lab().destination, &topic, 2);
    for p in 0..2 {
        assert_eq!(origin[&p].len(), 15, "partition {p}");
        let expected: Vec<_> = origin[&p][3..]
            .iter()
            .map(|r| testkit::Rec {
                offset: r.offset - 3,
                ..r.clone()
            })
            .collect();
        assert_eq!(
            copy[&p], expected,
            "partition {p}: the copy is the source shifted by 3"
        );
    }
    let m = sim.mirror(&topic).await;
    assert!(
        m["mirror_lags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["lag"] == 0 && l["last_source_fetch_offset"] == 15),
        "{m}"
    );
    sim.wait_for_tick(Duration::from_secs(10)).await;
    let (status, doc) = sim.get(&format!("{}/status", sim.sim.admin_url())).await;
    assert_eq!(status, 200, "{doc}");
    assert!(
        doc["offset_sync"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("does not keep offsets")),
        "{doc}"
    );
}
