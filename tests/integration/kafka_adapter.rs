//! The Kafka adapter against a real Apache Kafka broker (the lab's origin cluster): every
//! number the adapter returns is compared with what the test itself produced and committed.

use std::collections::BTreeMap;
use std::time::Duration;

use cutover::kafka::{
    Cluster, GroupPresence, GroupProtocol, OffsetSpec, PartitionResult, RdKafkaCluster,
};
use cutover::model::{GroupId, Offset, Role, TopicPartition};
use cutover_lab::testkit::{
    self, commit_as_member, create_topic, lab, produce, props, unique, Member, Protocol,
};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::{Offset as RdOffset, TopicPartitionList};

fn origin() -> RdKafkaCluster {
    RdKafkaCluster::connect(Role::Origin, &props(&lab().origin), Duration::from_secs(15))
        .expect("client for the lab's origin")
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// Commits `offsets` for `group` (with no members) through the admin API, asserts that every
/// partition took its offset, and reads the group's committed offsets back.
async fn commit_as_admin_and_read_back(
    cluster: &RdKafkaCluster,
    group: &GroupId,
    offsets: &[(TopicPartition, Offset)],
) -> BTreeMap<TopicPartition, PartitionResult<Offset>> {
    let written = cluster
        .commit_offsets_as_admin(group, offsets)
        .await
        .unwrap()
        .expect("no group error");
    assert!(written.values().all(|r| r.is_ok()), "{written:?}");
    let mut read = cluster
        .committed_offsets(std::slice::from_ref(group))
        .await
        .unwrap();
    read.remove(group)
        .expect("the group is answered")
        .expect("no group error")
}

#[tokio::test]
async fn log_end_and_start_offsets_match_what_was_produced_and_deleted() {
    let topic = unique("offsets");
    create_topic(&lab().origin, &topic, 4).await;
    produce(&lab().origin, &topic, &[(1, 3), (2, 10), (3, 25)]).await;
    // Move partition 3's log start to 5, so "earliest" is not trivially zero.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .create()
        .unwrap();
    let mut cut = TopicPartitionList::new();
    cut.add_partition_offset(&topic, 3, RdOffset::Offset(5))
        .unwrap();
    admin
        .delete_records(&cut, &AdminOptions::new())
        .await
        .expect("delete records");

    let cluster = origin();
    let all: Vec<_> = (0..4).map(|p| tp(&topic, p)).collect();
    let latest = cluster
        .list_offsets(&all, OffsetSpec::Latest)
        .await
        .unwrap();
    let earliest = cluster
        .list_offsets(&all, OffsetSpec::Earliest)
        .await
        .unwrap();

    let latest: BTreeMap<_, _> = latest
        .into_iter()
        .map(|(k, v)| (k.partition, v.unwrap().get()))
        .collect();
    let earliest: BTreeMap<_, _> = earliest
        .into_iter()
        .map(|(k, v)| (k.partition, v.unwrap().get()))
        .collect();
    assert_eq!(latest, BTreeMap::from([(0, 0), (1, 3), (2, 10), (3, 25)]));
    assert_eq!(earliest, BTreeMap::from([(0, 0), (1, 0), (2, 0), (3, 5)]));
}

#[tokio::test]
async fn a_partition_that_does_not_exist_gets_its_own_error_and_the_others_still_answer() {
    let topic = unique("missing-partition");
    create_topic(&lab().origin, &topic, 2).await;
    produce(&lab().origin, &topic, &[(0, 7)]).await;
    let ghost_topic = unique("no-such-topic");

    let answers = origin()
        .list_offsets(
            &[
                tp(&topic, 0),
                tp(&topic, 1),
                tp(&topic, 9),
                tp(&ghost_topic, 0),
            ],
            OffsetSpec::Latest,
        )
        .await
        .expect("the request as a whole succeeds");

    assert_eq!(answers[&tp(&topic, 0)], Ok(Offset(7)));
    assert_eq!(answers[&tp(&topic, 1)], Ok(Offset(0)));
    let err = answers[&tp(&topic, 9)]
        .as_ref()
        .expect_err("partition 9 does not exist");
    assert!(
        err.name.contains("UNKNOWN"),
        "unexpected error for a missing partition: {err}"
    );
    let err = answers[&tp(&ghost_topic, 0)]
        .as_ref()
        .expect_err("topic does not exist");
    assert!(
        err.name.contains("UNKNOWN"),
        "unexpected error for a missing topic: {err}"
    );

    // A request naming only partitions that have no leader is still answered per partition.
    let only_ghosts = origin()
        .list_offsets(
            &[tp(&ghost_topic, 0), tp(&ghost_topic, 1)],
            OffsetSpec::Latest,
        )
        .await
        .expect("a missing topic is not an unreachable cluster");
    assert_eq!(only_ghosts.len(), 2);
    assert!(only_ghosts.values().all(|a| a.is_err()), "{only_ghosts:?}");
}

#[tokio::test]
async fn offsets_of_more_partitions_than_one_request_holds_are_all_returned() {
    let topic = unique("wide");
    let partitions = cutover::kafka::OFFSETS_PER_REQUEST as i32 + 37;
    create_topic(&lab().origin, &topic, partitions).await;
    let counts: Vec<(i32, usize)> = (0..partitions)
        .step_by(50)
        .map(|p| (p, (p as usize % 7) + 1))
        .collect();
    produce(&lab().origin, &topic, &counts).await;

    let all: Vec<_> = (0..partitions).map(|p| tp(&topic, p)).collect();
    // Not while another test adds or kills an origin broker: the shared client would learn of
    // a broker about to die (one failed run of the full suite had a partition answer an error
    // here; the partitions' own leaders never moved).
    let latest = {
        let _no_broker_change = cutover_lab::testkit::no_broker_change().await;
        origin()
            .list_offsets(&all, OffsetSpec::Latest)
            .await
            .unwrap()
    };

    assert_eq!(latest.len(), partitions as usize);
    let expected: BTreeMap<i32, i64> = (0..partitions)
        .map(|p| {
            (
                p,
                counts
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or(0, |(_, n)| *n as i64),
            )
        })
        .collect();
    let actual: BTreeMap<i32, i64> = latest
        .into_iter()
        .map(|(k, v)| {
            let offset = v.unwrap_or_else(|e| panic!("{k}: {e:?}"));
            (k.partition, offset.get())
        })
        .collect();
    assert_eq!(actual, expected);
}

#[tokio::test]
async fn committed_offsets_of_classic_and_consumer_protocol_groups_are_exact() {
    let topic = unique("committed");
    create_topic(&lab().origin, &topic, 3).await;
    produce(&lab().origin, &topic, &[(0, 20), (1, 20), (2, 20)]).await;
    let classic = unique("classic-group");
    let consumer = unique("consumer-group");
    commit_as_member(
        &lab().origin,
        &classic,
        Protocol::Classic,
        &topic,
        3,
        &[(0, 4), (1, 17), (2, 0)],
    );
    commit_as_member(
        &lab().origin,
        &consumer,
        Protocol::Consumer,
        &topic,
        3,
        &[(0, 9), (2, 20)],
    );
    let unknown = GroupId::new(unique("never-existed"));

    let groups = [
        GroupId::new(&classic),
        GroupId::new(&consumer),
        unknown.clone(),
    ];
    let offsets = origin().committed_offsets(&groups).await.unwrap();

    let plain = |g: &str| -> BTreeMap<i32, i64> {
        offsets[&GroupId::new(g)]
            .as_ref()
            .expect("no group-level error")
            .iter()
            .map(|(k, v)| {
                assert_eq!(k.topic, topic);
                (k.partition, v.as_ref().expect("no partition error").get())
            })
            .collect()
    };
    assert_eq!(plain(&classic), BTreeMap::from([(0, 4), (1, 17), (2, 0)]));
    assert_eq!(plain(&consumer), BTreeMap::from([(0, 9), (2, 20)]));
    assert!(
        offsets[&unknown].as_ref().unwrap().is_empty(),
        "an unknown group has no offsets"
    );
}

/// The vendored librdkafka patch (vendor/patches) appends each partition of an OffsetFetch
/// answer without searching the list: every partition of every topic must still come back
/// exactly once, with its own offset.
#[tokio::test]
async fn every_partition_of_a_group_on_several_wide_topics_is_read_once_with_its_offset() {
    let topics: Vec<String> = (0..3).map(|i| unique(&format!("wide{i}"))).collect();
    let counts: Vec<(i32, usize)> = (0..120).map(|p| (p, 10)).collect();
    let mut written = Vec::new();
    for (t, topic) in topics.iter().enumerate() {
        create_topic(&lab().origin, topic, 120).await;
        produce(&lab().origin, topic, &counts).await;
        // An offset of its own for each partition, within the 10 records it holds.
        written
            .extend((0..120).map(|p| (tp(topic, p), Offset((t as i64 * 3 + i64::from(p)) % 11))));
    }
    let group = GroupId::new(unique("wide-group"));
    let read = commit_as_admin_and_read_back(&origin(), &group, &written).await;
    let got: Vec<(TopicPartition, Offset)> = read
        .iter()
        .map(|(tp, r)| (tp.clone(), *r.as_ref().expect("no partition error")))
        .collect();
    let mut expected = written;
    expected.sort();
    assert_eq!(got.len(), 360, "one entry per partition, none missing");
    assert_eq!(got, expected);
}

#[tokio::test]
async fn many_groups_are_fetched_concurrently_on_one_client() {
    let topic = unique("fanout");
    create_topic(&lab().origin, &topic, 1).await;
    produce(&lab().origin, &topic, &[(0, 50)]).await;
    // Simple (non-member) commits are enough here: the test is about fan-out, not protocols.
    let groups: Vec<GroupId> = (0..40)
        .map(|i| GroupId::new(format!("{}-{i}", unique("fan"))))
        .collect();
    for (i, g) in groups.iter().enumerate() {
        let c: rdkafka::consumer::BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &lab().origin)
            .set("group.id", g.as_str())
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, RdOffset::Offset(i as i64))
            .unwrap();
        rdkafka::consumer::Consumer::commit(&c, &tpl, rdkafka::consumer::CommitMode::Sync).unwrap();
    }

    let offsets = origin().committed_offsets(&groups).await.unwrap();

    assert_eq!(offsets.len(), groups.len());
    for (i, g) in groups.iter().enumerate() {
        let got = offsets[g].as_ref().unwrap();
        assert_eq!(
            got.get(&tp(&topic, 0)),
            Some(&Ok(Offset(i as i64))),
            "group {g}"
        );
    }
}

async fn assert_active_then_empty(protocol: Protocol, expected: GroupProtocol) {
    let topic = unique("live");
    create_topic(&lab().origin, &topic, 2).await;
    let group = unique("live-group");
    let client_id = unique("app");
    let member = Member::start(
        &lab().origin,
        &group,
        protocol,
        &client_id,
        &topic,
        2,
        &[(0, 0), (1, 0)],
    );
    let cluster = origin();
    let id = GroupId::new(&group);

    let live = cluster
        .describe_groups(std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(&id)
        .unwrap();
    assert_eq!(live.presence(), GroupPresence::Active, "{live:?}");
    assert_eq!(live.protocol, expected, "{live:?}");
    assert_eq!(live.members.len(), 1);
    let m = &live.members[0];
    assert_eq!(m.client_id, client_id);
    assert!(!m.host.is_empty(), "the member's host is reported");
    let mut assigned = m.assignment.clone();
    assigned.sort();
    assert_eq!(assigned, vec![tp(&topic, 0), tp(&topic, 1)]);

    member.stop();
    let stopped = testkit::wait_for(
        "the group to have no members",
        Duration::from_secs(30),
        || {
            let d =
                block_on_adapter(cluster.describe_groups(std::slice::from_ref(&id))).remove(&id)?;
            (d.presence() != GroupPresence::Active).then_some(d)
        },
    );
    assert_eq!(stopped.presence(), GroupPresence::Empty, "{stopped:?}");
    assert!(stopped.members.is_empty());
}

/// Runs an adapter future to completion from inside a synchronous polling closure.
fn block_on_adapter<T>(f: impl std::future::Future<Output = cutover::error::Result<T>>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_with_a_live_member_is_active_and_empty_once_it_stops() {
    assert_active_then_empty(Protocol::Classic, GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_group_with_a_live_member_is_active_and_empty_once_it_stops() {
    assert_active_then_empty(Protocol::Consumer, GroupProtocol::Consumer).await;
}

#[tokio::test]
async fn an_unknown_group_reads_as_not_found() {
    let id = GroupId::new(unique("ghost"));
    let described = origin()
        .describe_groups(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(
        described[&id].presence(),
        GroupPresence::NotFound,
        "{:?}",
        described[&id]
    );
    assert!(described[&id].members.is_empty());
}

#[tokio::test]
async fn listing_groups_finds_groups_of_both_protocols() {
    let topic = unique("listed");
    create_topic(&lab().origin, &topic, 1).await;
    let classic = unique("listed-classic");
    let consumer = unique("listed-consumer");
    commit_as_member(
        &lab().origin,
        &classic,
        Protocol::Classic,
        &topic,
        1,
        &[(0, 0)],
    );
    commit_as_member(
        &lab().origin,
        &consumer,
        Protocol::Consumer,
        &topic,
        1,
        &[(0, 0)],
    );

    let list = origin().list_groups().await.unwrap();

    assert!(list.errors.is_empty(), "{:?}", list.errors);
    let find = |g: &str| list.groups.iter().find(|l| l.group.as_str() == g).cloned();
    assert_eq!(
        find(&classic).expect("classic group listed").protocol,
        GroupProtocol::Classic
    );
    assert_eq!(
        find(&consumer).expect("consumer group listed").protocol,
        GroupProtocol::Consumer
    );
}

#[tokio::test]
async fn topic_metadata_gives_partition_counts() {
    let a = unique("meta-a");
    let b = unique("meta-b");
    create_topic(&lab().origin, &a, 1).await;
    create_topic(&lab().origin, &b, 6).await;

    let topics = origin().topics().await.unwrap();

    assert_eq!(topics[&a].partition_count(), 1);
    assert_eq!(topics[&b].partition_count(), 6);
    assert!(topics[&b]
        .partitions
        .iter()
        .all(|p| p.leader.is_some() && p.error.is_none()));
}

#[tokio::test]
async fn an_unreachable_cluster_is_an_error_with_exit_code_3_naming_the_cluster() {
    // A loopback port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = RdKafkaCluster::connect(
        Role::Destination,
        &props(&format!("127.0.0.1:{port}")),
        Duration::from_secs(3),
    )
    .unwrap();

    let err = cluster.topics().await.expect_err("nothing listens there");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("destination"), "{err}");
    let err = cluster
        .list_offsets(&[tp("t", 0)], OffsetSpec::Latest)
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.exit_code(), 3, "{}", err.render());
}

#[test]
fn bad_client_properties_are_a_usage_error_naming_the_cluster() {
    let mut p = props("127.0.0.1:1");
    p.insert("no.such.property".into(), "x".into());
    let err = RdKafkaCluster::connect(Role::Origin, &p, Duration::from_secs(1))
        .err()
        .expect("librdkafka rejects unknown properties");
    assert_eq!(err.exit_code(), 2);
    assert!(err.render().contains("origin"), "{}", err.render());
    assert!(
        err.render().contains("no.such.property"),
        "{}",
        err.render()
    );
}

#[tokio::test]
async fn admin_offset_commits_land_on_an_empty_group_and_are_refused_for_an_active_one() {
    let topic = unique("admin-commit");
    create_topic(&lab().origin, &topic, 2).await;
    produce(&lab().origin, &topic, &[(0, 10), (1, 10)]).await;
    let cluster = origin();

    let empty = GroupId::new(unique("admin-empty"));
    let read = commit_as_admin_and_read_back(
        &cluster,
        &empty,
        &[(tp(&topic, 0), Offset(4)), (tp(&topic, 1), Offset(9))],
    )
    .await;
    assert_eq!(read[&tp(&topic, 0)], Ok(Offset(4)));
    assert_eq!(read[&tp(&topic, 1)], Ok(Offset(9)));

    let active = unique("admin-active");
    let member = Member::start(
        &lab().origin,
        &active,
        Protocol::Consumer,
        "app",
        &topic,
        2,
        &[(0, 1), (1, 1)],
    );
    let refused = cluster
        .commit_offsets_as_admin(&GroupId::new(&active), &[(tp(&topic, 0), Offset(7))])
        .await
        .unwrap();
    let refused_partition = match &refused {
        Ok(per_partition) => per_partition[&tp(&topic, 0)]
            .clone()
            .expect_err("an active group refuses"),
        Err(group_error) => group_error.clone(),
    };
    assert_eq!(refused_partition.name, "UNKNOWN_MEMBER_ID", "{refused:?}");
    member.stop();
    let after = cluster
        .committed_offsets(&[GroupId::new(&active)])
        .await
        .unwrap();
    assert_eq!(
        after[&GroupId::new(&active)].as_ref().unwrap()[&tp(&topic, 0)],
        Ok(Offset(1))
    );
}

#[tokio::test]
async fn a_partition_added_after_the_client_cached_the_topic_is_answered() {
    let topic = unique("grown");
    create_topic(&lab().origin, &topic, 1).await;
    let cluster = origin();
    assert_eq!(
        cluster
            .list_offsets(&[tp(&topic, 0)], OffsetSpec::Latest)
            .await
            .unwrap()[&tp(&topic, 0)],
        Ok(Offset(0))
    );
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .create()
        .unwrap();
    admin
        .create_partitions(
            [&rdkafka::admin::NewPartitions::new(&topic, 2)],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    testkit::wait_for_leaders(&lab().origin, &topic, 2);
    produce(&lab().origin, &topic, &[(1, 4)]).await;

    let answers = cluster
        .list_offsets(&[tp(&topic, 1)], OffsetSpec::Latest)
        .await
        .unwrap();
    assert_eq!(answers[&tp(&topic, 1)], Ok(Offset(4)));
}

/// ListOffsets by timestamp, batched, each partition at its own time: the first record at or
/// after it, `None` past the last record, and an error for a partition that does not exist,
/// compared with the timestamps the test wrote itself.
#[tokio::test]
async fn offsets_by_time_find_the_first_record_at_or_after_each_partitions_time() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let topic = unique("by-time");
    create_topic(&lab().origin, &topic, 2).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .create()
        .expect("producer");
    // Partition 0: times 1000, 2000, 2000, 3000 (offsets 0..4); partition 1: 5000 (offset 0).
    let base = 1_700_000_000_000_i64;
    for (partition, at) in [(0, 1000), (0, 2000), (0, 2000), (0, 3000), (1, 5000)] {
        let record = FutureRecord::to(&topic)
            .partition(partition)
            .key("k")
            .payload("v")
            .timestamp(base + at);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
    let asked = [
        (tp(&topic, 0), base + 2000),
        (tp(&topic, 1), base + 4000),
        (tp("no-such-topic-by-time", 0), base),
    ];
    let answers = origin().offsets_for_times(&asked).await.unwrap();
    assert_eq!(answers[&tp(&topic, 0)], Ok(Some(Offset(1))), "{answers:?}");
    assert_eq!(answers[&tp(&topic, 1)], Ok(Some(Offset(0))), "{answers:?}");
    assert!(
        answers[&tp("no-such-topic-by-time", 0)].is_err(),
        "{answers:?}"
    );
    let later = origin()
        .offsets_for_times(&[(tp(&topic, 0), base + 2001), (tp(&topic, 1), base + 5001)])
        .await
        .unwrap();
    assert_eq!(later[&tp(&topic, 0)], Ok(Some(Offset(3))), "{later:?}");
    assert_eq!(
        later[&tp(&topic, 1)],
        Ok(None),
        "past the last record: {later:?}"
    );

    // And back: the timestamp of the record at an offset (the last one a group processed).
    let times = origin()
        .record_times(&[
            (tp(&topic, 0), Offset(2)),
            (tp(&topic, 1), Offset(0)),
            (tp(&topic, 0), Offset(2)),
        ])
        .await
        .unwrap();
    let time = |p: i32| {
        times[&tp(&topic, p)]
            .clone()
            .map(|t| t.map(|t| (t.offset, t.timestamp)))
    };
    assert_eq!(time(0), Ok(Some((Offset(2), base + 2000))), "{times:?}");
    assert_eq!(time(1), Ok(Some((Offset(0), base + 5000))), "{times:?}");
    let at_end = origin()
        .record_times(&[(tp(&topic, 0), Offset(4))])
        .await
        .unwrap();
    assert_eq!(at_end[&tp(&topic, 0)], Ok(None), "no record at the end yet");
}

/// DescribeProducers (through vendor patch 0003): an idempotent producer that wrote N records
/// to a partition is listed there with its last sequence N − 1 and no open transaction; a
/// partition only a plain producer wrote lists none; a partition that does not exist gets its
/// own error while the others answer.
#[tokio::test]
async fn describe_producers_lists_the_idempotent_producer_of_each_partition_it_wrote() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let cluster = origin();
    let topic = unique("producers");
    create_topic(&lab().origin, &topic, 3).await;
    produce(&lab().origin, &topic, &[(2, 5)]).await; // a plain producer: no producer id
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .set("enable.idempotence", "true")
        .create()
        .expect("an idempotent producer");
    for (partition, count) in [(0, 7), (1, 3)] {
        for _ in 0..count {
            producer
                .send(
                    FutureRecord::<str, str>::to(&topic)
                        .partition(partition)
                        .payload("x"),
                    Duration::from_secs(10),
                )
                .await
                .expect("written");
        }
    }

    let asked = [tp(&topic, 0), tp(&topic, 1), tp(&topic, 2), tp(&topic, 9)];
    let read = cluster.describe_producers(&asked).await.unwrap();
    assert_eq!(read.len(), 4, "{read:?}");
    let on = |p: i32| read[&tp(&topic, p)].as_ref().unwrap().clone();
    let (p0, p1) = (on(0), on(1));
    assert_eq!(p0.len(), 1, "{p0:?}");
    assert_eq!(p1.len(), 1, "{p1:?}");
    assert_eq!(p0[0].producer_id, p1[0].producer_id, "one producer, one id");
    assert!(p0[0].producer_id >= 0);
    assert_eq!((p0[0].last_sequence, p1[0].last_sequence), (6, 2));
    assert_eq!(p0[0].open_transaction_from, None);
    assert!(p0[0].last_timestamp > 0);
    assert_eq!(on(2), vec![], "a plain producer has no state on the broker");
    let missing = read[&tp(&topic, 9)].as_ref().unwrap_err();
    assert_eq!(missing.name, "UNKNOWN_TOPIC_OR_PART", "{missing:?}");
}
