//! `cutover verify --all-groups` (both clusters, every partition judged) against Kafka's own
//! `kafka-consumer-groups --describe --all-groups` (origin only), side by side in one run on
//! the lab, with the ratio. Run: `cargo build --release -p cutover-lab && cargo bench --bench
//! verify` (the lab's emulator, which cutover's link client talks to, is built by the first).
//!
//! The world: `CUTOVER_BENCH_GROUPS` groups (default 200) each committed on every partition
//! of `CUTOVER_BENCH_TOPICS` topics × `CUTOVER_BENCH_PARTITIONS` partitions (default 5 × 100),
//! i.e. 100,000 group-partitions, all mirrored by a link emulator, with the destination's
//! committed offsets equal to the origin's (as after a completed sync). It starts a fresh lab
//! of its own ($TMPDIR/cutover-bench-lab, left running) so groups of other runs do not count.

use std::process::Command;
use std::time::{Duration, Instant};

use cutover::kafka::{Cluster, RdKafkaCluster};
use cutover::model::{GroupId, Offset, Role, TopicPartition};
use cutover_lab::testkit as common;
use futures::stream::{self, StreamExt};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The JVM options `bin/kafka-run-class.sh` uses when KAFKA_HEAP_OPTS and
/// KAFKA_JVM_PERFORMANCE_OPTS are unset.
const KAFKA_RUN_CLASS_OPTS: &[&str] = &[
    "-Xmx256M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    // A lab of its own, started afresh: groups left by earlier runs would count for both tools.
    std::env::set_var(
        "CUTOVER_LAB_STATE",
        std::env::temp_dir().join("cutover-bench-lab"),
    );
    common::run_lab(&["down"]);
    let groups_n = env_or("CUTOVER_BENCH_GROUPS", 200);
    let topics_n = env_or("CUTOVER_BENCH_TOPICS", 5);
    let parts_n = env_or("CUTOVER_BENCH_PARTITIONS", 100) as i32;
    let lab = common::lab();
    let prefix = common::unique("bench");
    eprintln!(
        "bench: {groups_n} groups × {topics_n} topics × {parts_n} partitions = {} group-partitions",
        groups_n * topics_n * parts_n as usize
    );

    let topics: Vec<String> = (0..topics_n).map(|i| format!("{prefix}-t{i}")).collect();
    for t in &topics {
        common::create_topic(&lab.origin, t, parts_n).await;
        let counts: Vec<(i32, usize)> = (0..parts_n).map(|p| (p, 3)).collect();
        common::produce(&lab.origin, t, &counts).await;
    }
    let sim = common::Sim::start(&[]).await;
    for t in &topics {
        sim.create_mirror(t).await;
    }
    for t in &topics {
        sim.wait_caught_up(t, parts_n).await;
    }
    let props = |b: &str| common::props(b);
    let origin =
        RdKafkaCluster::connect(Role::Origin, &props(&lab.origin), Duration::from_secs(30))
            .unwrap();
    let dest = RdKafkaCluster::connect(
        Role::Destination,
        &props(&lab.destination),
        Duration::from_secs(30),
    )
    .unwrap();
    let offsets: Vec<(TopicPartition, Offset)> = topics
        .iter()
        .flat_map(|t| {
            (0..parts_n).map(move |p| (TopicPartition::new(t, p), Offset(i64::from(p % 4))))
        })
        .collect();
    let groups: Vec<GroupId> = (0..groups_n)
        .map(|i| GroupId::new(format!("{prefix}-g{i}")))
        .collect();
    eprintln!("bench: committing offsets on both clusters");
    stream::iter(groups.iter())
        .for_each_concurrent(16, |g| {
            let (origin, dest, offsets) = (&origin, &dest, &offsets);
            async move {
                for cluster in [origin, dest] {
                    // A fresh cluster may answer COORDINATOR_LOAD_IN_PROGRESS per partition.
                    for attempt in 0.. {
                        let result = cluster
                            .commit_offsets_as_admin(g, offsets)
                            .await
                            .unwrap()
                            .unwrap();
                        if result.values().all(|r| r.is_ok()) {
                            break;
                        }
                        assert!(attempt < 20, "cannot commit {g}: {result:?}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        })
        .await;
    let check = dest.committed_offsets(&groups).await.unwrap();
    assert!(
        check
            .values()
            .all(|g| g.as_ref().unwrap().len() == offsets.len()),
        "every group is committed on the destination"
    );

    let run_cutover = || {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(["verify", "--all-groups", "--format", "json"])
            .envs(sim.cutover_env())
            .output()
            .expect("cutover runs");
        let elapsed = t.elapsed();
        assert_eq!(
            out.status.code(),
            Some(0),
            "every group is safe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let judged: usize = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["partitions"].as_array().unwrap().len())
            .sum();
        (elapsed, judged)
    };
    let lib = common::lab_script().parent().unwrap().join("target/lib/*");
    let run_peer = || {
        let t = Instant::now();
        // As `bin/kafka-consumer-groups.sh` runs it: kafka-run-class.sh's default heap and
        // JVM options (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS).
        let out = Command::new("java")
            .args(KAFKA_RUN_CLASS_OPTS)
            .arg("-cp")
            .arg(&lib)
            .args([
                "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                "--bootstrap-server",
                &lab.origin,
                "--describe",
                "--all-groups",
            ])
            .output()
            .expect("kafka-consumer-groups runs");
        let elapsed = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count();
        (elapsed, rows)
    };

    // One untimed round of each first: a fresh lab's brokers are still compiling their
    // request paths (JIT), which would count against whichever tool ran first.
    eprintln!("bench: warm-up round (not timed)");
    run_cutover();
    run_peer();
    let reps = 5;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut judged, mut rows) = (0, 0);
    for i in 0..reps {
        let (t, n) = run_cutover();
        ours.push(t);
        judged = n;
        let (u, n) = run_peer();
        theirs.push(u);
        rows = n;
        eprintln!(
            "bench: round {}/{reps}: cutover {:.2} s, kafka-consumer-groups {:.2} s",
            i + 1,
            t.as_secs_f64(),
            u.as_secs_f64()
        );
    }
    let (a, b) = (median(ours), median(theirs));
    println!("verify {groups_n} groups, {} group-partitions, on the lab (one broker per cluster, loopback), median of {reps} after a warm-up round:", judged);
    println!("  cutover verify --all-groups (origin + destination + link)   {:>8.2} s   {judged} partitions judged", a.as_secs_f64());
    println!(
        "  kafka-consumer-groups --describe --all-groups (origin only) {:>8.2} s   {rows} rows",
        b.as_secs_f64()
    );
    println!(
        "  ratio: cutover is {:.1}x faster",
        b.as_secs_f64() / a.as_secs_f64()
    );
}
