//! A partition whose leader is unreachable must come back as a per-partition error while the
//! other partitions in the same request still answer.
//!
//! It adds a second broker to the lab's origin cluster for a moment: no other test may create
//! topics while that broker is up, or their partitions could land on it and lose their leader
//! when it stops. The tests run in parallel in one binary, so it holds the fixtures'
//! [`change_origin_brokers`] guard from before the broker starts until it is stopped; every
//! topic the fixtures create waits for it.

use std::time::Duration;

use cutover::kafka::{Cluster, OffsetSpec, RdKafkaCluster};
use cutover::model::{GroupId, Offset, Role, TopicPartition};
use cutover_lab::testkit::{
    self, change_origin_brokers, lab, parse_exports, produce, props, run_lab, unique, wait_for,
};
use rdkafka::admin::{NewTopic, TopicReplication};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_without_a_reachable_leader_is_a_per_partition_error_not_a_failure() {
    let origin = lab().origin.clone();
    let brokers = change_origin_brokers(&origin).await;
    let extra = parse_exports(&run_lab(&["extra-broker", "start", "origin"]));
    let extra_id: i32 = extra["CUTOVER_LAB_EXTRA_BROKER_ID"]
        .parse()
        .expect("broker id");

    // Partition 0 on the lab's broker, partition 1 on the extra broker only.
    let topic = unique("leaderless");
    let assignment: [&[i32]; 2] = [&[1], &[extra_id]];
    brokers
        .create_topic_with(
            &origin,
            NewTopic::new(&topic, 2, TopicReplication::Variable(&assignment)),
        )
        .await;
    testkit::wait_for_leaders(&origin, &topic, 2);
    produce(&origin, &topic, &[(0, 3), (1, 5)]).await;

    run_lab(&["extra-broker", "stop", "origin"]);
    drop(brokers);
    let cluster = RdKafkaCluster::connect(Role::Origin, &props(&origin), Duration::from_secs(10))
        .expect("client");
    wait_for(
        "partition 1 to lose its leader",
        Duration::from_secs(60),
        || {
            let topics = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(cluster.topics())
            })
            .ok()?;
            let p1 = topics
                .get(&topic)?
                .partitions
                .iter()
                .find(|p| p.partition == 1)?
                .clone();
            p1.leader.is_none().then_some(())
        },
    );

    let answers = cluster
        .list_offsets(
            &[
                TopicPartition::new(&topic, 0),
                TopicPartition::new(&topic, 1),
            ],
            OffsetSpec::Latest,
        )
        .await
        .expect("one leaderless partition does not fail the request");

    assert_eq!(answers[&TopicPartition::new(&topic, 0)], Ok(Offset(3)));
    let err = answers[&TopicPartition::new(&topic, 1)]
        .as_ref()
        .expect_err("partition 1 has no reachable leader");
    assert!(
        err.name.contains("LEADER")
            || err.name.contains("TIMED_OUT")
            || err.name.contains("NOT_AVAILABLE"),
        "unexpected error for a leaderless partition: {err}"
    );

    // The group APIs still answer for the same cluster.
    let g = GroupId::new(unique("after-leader-loss"));
    let offsets = cluster
        .committed_offsets(std::slice::from_ref(&g))
        .await
        .expect("offset fetch works");
    assert!(offsets[&g].as_ref().unwrap().is_empty());
}
