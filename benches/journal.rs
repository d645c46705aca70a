//! A journal record's cost: the shared journal (`[journal] store = "kafka"`: one transaction
//! per record, committed before the local file) against the file store (one fsync per record),
//! in one run on the lab's destination broker. Prints the medians and the ratio, the cost of
//! opening (taking) a shared journal, and records per second with 20 groups journaling at once
//! (each group's records are one transaction each, groups side by side).
//!
//! Run: `cargo build --release -p cutover-lab && cargo bench --bench journal` (starts the lab if
//! it is not up). Set `CUTOVER_BENCH_RECORDS` to change the records per run (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover::journal::{Journal, Record, Replica, Subject, Take};
use cutover::kafka::{KafkaJournal, RdKafkaCluster};
use cutover::model::{GroupId, Role};
use cutover_lab::testkit as common;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn note(i: usize) -> Record {
    Record::Note {
        message: format!("bench record {i}: the size of a phase checkpoint's line, more or less"),
    }
}

/// Appends `n` records; each append's duration.
fn append(journal: &mut Journal, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            journal.append(note(i), 0).expect("append");
            t.elapsed()
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let records: usize = std::env::var("CUTOVER_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bootstrap = common::lab().destination.clone();
    let cluster = RdKafkaCluster::connect(
        Role::Destination,
        &common::props(&bootstrap),
        Duration::from_secs(30),
    )
    .expect("client");
    let topic = common::unique("bench-journal");
    let store: Arc<dyn Replica> = Arc::new(
        KafkaJournal::open(&cluster, &topic, 6, Duration::from_secs(30))
            .await
            .expect("the journal topic"),
    );
    let dir = std::env::temp_dir().join(common::unique("bench-journal"));

    // The file store.
    let group = GroupId::new(common::unique("file"));
    let (mut file, _) =
        Journal::open_subject(&dir.join("file"), &Subject::Group(group), "run").expect("open");
    let file_times = append(&mut file, records);

    // The shared store: opening (read, take, read again), then the same records.
    let mut opens = Vec::new();
    let mut shared_times = Vec::new();
    for round in 0..3 {
        let group = GroupId::new(common::unique("shared"));
        let t = Instant::now();
        let (mut journal, _, _) = tokio::task::block_in_place(|| {
            Journal::open_shared(
                &dir.join(format!("shared-{round}")),
                &Subject::Group(group.clone()),
                "run",
                store.clone(),
                &format!("bench/{group}"),
                Take::IfFree,
            )
        })
        .expect("open shared");
        opens.push(t.elapsed());
        if round == 0 {
            shared_times = tokio::task::block_in_place(|| append(&mut journal, records));
        }
    }

    // Twenty groups journaling at once.
    let groups = 20;
    let each = records / 4;
    let t = Instant::now();
    let tasks: Vec<_> = (0..groups)
        .map(|g| {
            let store = store.clone();
            let dir = dir.join(format!("many-{g}"));
            tokio::spawn(async move {
                let group = GroupId::new(common::unique("many"));
                let key = format!("bench/{group}");
                let (mut journal, _, _) = Journal::open_shared(
                    &dir,
                    &Subject::Group(group),
                    "run",
                    store,
                    &key,
                    Take::IfFree,
                )
                .expect("open shared");
                append(&mut journal, each);
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a journaling task");
    }
    let many = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);

    let file_median = median(file_times);
    let shared_median = median(shared_times);
    println!("journal records on the lab's destination ({records} records a run)");
    println!("  file store (fsync a record):               median {file_median:?}");
    println!("  shared store (a transaction a record):     median {shared_median:?}");
    println!(
        "  ratio shared / file: {:.1}x",
        shared_median.as_secs_f64() / file_median.as_secs_f64()
    );
    println!(
        "  opening a shared journal (read, take, read): median {:?}",
        median(opens)
    );
    println!(
        "  {groups} groups at once, {each} records each: {many:?} ({:.0} records/s)",
        (groups * each) as f64 / many.as_secs_f64()
    );
}
