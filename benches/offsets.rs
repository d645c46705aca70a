//! Log end offsets of many partitions: cutover's batched adapter against the per-partition
//! `fetch_watermarks` loop most tools use, and rdkafka's safe batched `offsets_for_times`, on
//! the lab's real broker, in one run. Prints the medians and the ratios.
//!
//! Run: `cargo build --release -p cutover-lab && cargo bench --bench offsets` (starts the lab if
//! it is not up, with the release build of the lab's emulator). Set `CUTOVER_BENCH_PARTITIONS`
//! to change the partition count (default 1000).

use std::time::{Duration, Instant};

use cutover::kafka::{Cluster, OffsetSpec, RdKafkaCluster};
use cutover::model::{Role, TopicPartition};
use cutover_lab::testkit as common;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset as RdOffset, TopicPartitionList};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let partitions: i32 = std::env::var("CUTOVER_BENCH_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let bootstrap = common::lab().origin.clone();
    let topic = common::unique("bench-offsets");
    eprintln!("bench: creating {topic} with {partitions} partitions");
    common::create_topic(&bootstrap, &topic, partitions).await;
    let counts: Vec<(i32, usize)> = (0..partitions)
        .step_by(10)
        .map(|p| (p, 1 + p as usize % 5))
        .collect();
    common::produce(&bootstrap, &topic, &counts).await;
    let all: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(&topic, p))
        .collect();

    let cluster = RdKafkaCluster::connect(
        Role::Origin,
        &common::props(&bootstrap),
        Duration::from_secs(30),
    )
    .expect("client");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");

    // Warm up metadata and connections on both clients, and cross-check the answers.
    let ours = cluster
        .list_offsets(&all, OffsetSpec::Latest)
        .await
        .expect("adapter");
    for tp in &all {
        let (_, high) = consumer
            .fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(10))
            .expect("watermarks");
        assert_eq!(ours[tp].as_ref().expect("offset").get(), high, "{tp}");
    }

    let reps = 5;
    let mut adapter = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let r = cluster
            .list_offsets(&all, OffsetSpec::Latest)
            .await
            .expect("adapter");
        adapter.push(t.elapsed());
        assert_eq!(r.len(), all.len());
    }
    let mut watermarks = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        for tp in &all {
            consumer
                .fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(10))
                .expect("watermarks");
        }
        watermarks.push(t.elapsed());
    }
    let mut for_times = Vec::new();
    for _ in 0..reps {
        let mut tpl = TopicPartitionList::with_capacity(all.len());
        for tp in &all {
            tpl.add_partition(&tp.topic, tp.partition)
                .set_offset(RdOffset::End)
                .expect("offset");
        }
        let t = Instant::now();
        consumer
            .offsets_for_times(tpl, Duration::from_secs(30))
            .expect("offsets_for_times");
        for_times.push(t.elapsed());
    }

    let (a, w, f) = (median(adapter), median(watermarks), median(for_times));
    println!(
        "log end offsets of {partitions} partitions, one broker on loopback, median of {reps}:"
    );
    println!(
        "  cutover adapter (ListOffsets, 500/request, 8 in flight)  {:>9.1} ms",
        a.as_secs_f64() * 1e3
    );
    println!(
        "  fetch_watermarks per partition                         {:>9.1} ms  ({:.1}x slower)",
        w.as_secs_f64() * 1e3,
        w.as_secs_f64() / a.as_secs_f64()
    );
    println!(
        "  offsets_for_times, one call (safe API)                 {:>9.1} ms  ({:.1}x slower)",
        f.as_secs_f64() * 1e3,
        f.as_secs_f64() / a.as_secs_f64()
    );

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin");
    let _ = admin.delete_topics(&[&topic], &AdminOptions::new()).await;
}
