//! A runbook's groups stage of 1,000 groups spread over 1, 2 and 3 agents through the shared
//! journal store (issue 18), side by side in one run on the lab: the wall time of each, and the
//! ratio to one agent. Run:
//! `cargo build --release -p cutover-lab && cargo bench --bench spread`.
//!
//! The groups have no process of their own (committed offsets only, as most of a large
//! estate's groups between two runs of their jobs): the stop hook is `true`, and the restart
//! hook is one step of a consumer (`cutover-testapp step`: one record of each partition
//! processed from the group's offsets on the destination, committed past it), which is what a
//! cutover's restart check must see. Every trial moves groups of its own, and checks that each
//! one ended `done` and that its restart hook ran exactly once, from the offsets it had on the
//! origin. `CUTOVER_BENCH_GROUPS` (default 1000), `CUTOVER_BENCH_AGENTS` (default `1,2,3`),
//! `CUTOVER_BENCH_CONCURRENCY` (each agent's groups at once, default 100) and
//! `CUTOVER_BENCH_SYNC_MS` (the link's `consumer.offset.sync.ms`, default its 30 s) change it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover::model::{GroupId, Offset, Role, TopicPartition};
use cutover_lab::testkit::testapp;
use cutover_lab::testkit::{self as common, Agent, Sim};
use futures::StreamExt;
use serde_json::json;

const PARTITIONS: i32 = 2;
const RECORDS: usize = 20;
/// Where every group stands on every partition.
const AT: i64 = 10;

fn env_value<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn toml_array(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| json!(a).to_string()).collect();
    format!("[{}]", items.join(", "))
}

fn start(config: &Path, sim: &Sim, args: &[&str], log: &Path) -> Agent {
    Agent::start(
        Path::new(env!("CARGO_BIN_EXE_cutover")),
        config,
        sim,
        args,
        log,
    )
}

/// One trial: `groups` groups of their own, moved by `agents` agents; its wall time.
async fn trial(
    sim: &Sim,
    prefix: &str,
    topic: &str,
    agents: usize,
    groups: usize,
    concurrency: usize,
) -> f64 {
    let name = format!("{prefix}-a{agents}");
    let origin = testapp::lab_cluster(Role::Origin);
    let at: Vec<(TopicPartition, Offset)> = (0..PARTITIONS)
        .map(|p| (TopicPartition::new(topic, p), Offset(AT)))
        .collect();
    let names: Vec<String> = (0..groups).map(|n| format!("{name}-g{n:04}")).collect();
    futures::stream::iter(&names)
        .for_each_concurrent(50, |g| {
            let (origin, at) = (&origin, &at);
            async move {
                let answer = origin
                    .commit_offsets_as_admin(&GroupId::new(g), at)
                    .await
                    .expect("commit")
                    .expect("commit");
                assert!(answer.values().all(|r| r.is_ok()), "{g}: {answer:?}");
            }
        })
        .await;
    let dir = testapp::scratch_dir(&format!("bench-spread-a{agents}"));
    let restart = toml_array(&[
        testapp::bin().display().to_string(),
        "step".into(),
        "--bootstrap".into(),
        common::lab().destination.clone(),
        "--group".into(),
        "{group}".into(),
        "--topic".into(),
        topic.to_string(),
        "--out".into(),
        dir.join("{group}.out").display().to_string(),
    ]);
    let book = dir.join("stage.toml");
    std::fs::write(
        &book,
        format!("name = \"{name}\"\n\n[[stage]]\nkind = \"groups\"\nname = \"all\"\npattern = \"{name}-*\"\nconcurrency = {concurrency}\n"),
    )
    .expect("write the runbook");
    let book = book.display().to_string();
    let configs: Vec<(PathBuf, PathBuf)> = (0..agents)
        .map(|i| {
            let config = dir.join(format!("agent-{i}.toml"));
            std::fs::write(
                &config,
                format!(
                    r#"[defaults]
poll-interval = "500ms"

[cutover]
final-offsets = "agent"
journal-dir = "{}"
restart-window = "2s"
restart-timeout = "2m"
stop-timeout = "2m"

[journal]
store = "kafka"
topic = "cutover-journal-{prefix}"

[hooks.stop]
exec = ["true"]

[hooks.restart]
exec = {restart}
timeout = "2m"

[hooks.rollback]
exec = ["true"]
"#,
                    dir.join(format!("journal-{i}")).display()
                ),
            )
            .expect("write the config");
            (config, dir.join(format!("agent-{i}.log")))
        })
        .collect();
    let workers: Vec<Agent> = configs[1..]
        .iter()
        .map(|(config, log)| start(config, sim, &["run", &book, "--worker"], log))
        .collect();
    if !workers.is_empty() {
        // The workers join the runbook's consumer group first.
        std::thread::sleep(Duration::from_secs(3));
    }
    eprintln!("bench: {groups} groups, {agents} agent(s), {concurrency} at once each");
    let began = Instant::now();
    let lead = start(&configs[0].0, sim, &["run", &book], &configs[0].1);
    let (code, report) = lead.finish_json(Duration::from_secs(3600));
    let took = began.elapsed().as_secs_f64();
    assert_eq!(
        (code, &report["outcome"]),
        (0, &json!("done")),
        "{report:#}"
    );
    let rows = report["groups"].as_array().expect("rows");
    assert_eq!(rows.len(), groups);
    assert!(rows.iter().all(|r| r["outcome"] == "done"), "{report:#}");
    for worker in workers {
        let log = worker.log();
        let (code, _) = worker.finish(Duration::from_secs(300));
        assert_eq!(code, 0, "a worker: {log}");
    }
    let expected: Vec<String> = (0..PARTITIONS)
        .map(|p| format!("{topic} {p} {AT}"))
        .collect();
    for g in &names {
        let text = std::fs::read_to_string(dir.join(format!("{g}.out"))).unwrap_or_default();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(
            lines, expected,
            "{g}: its restart hook ran once, from where it stood"
        );
    }
    eprintln!(
        "bench: {agents} agent(s): {took:.1} s; downtime p50 {} ms, max {} ms",
        report["downtime_ms"]["p50"], report["downtime_ms"]["max"]
    );
    took
}

#[tokio::main]
async fn main() {
    let groups: usize = env_value("CUTOVER_BENCH_GROUPS", 1000);
    let concurrency: usize = env_value("CUTOVER_BENCH_CONCURRENCY", 100);
    let sync_ms: u64 = env_value("CUTOVER_BENCH_SYNC_MS", 30_000);
    let agents: Vec<usize> = std::env::var("CUTOVER_BENCH_AGENTS")
        .unwrap_or_else(|_| "1,2,3".into())
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let lab = common::lab();
    let prefix = common::unique("spread");
    let filters = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", &sync_ms.to_string()),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    let topic = format!("{prefix}-topic");
    common::create_topic(&lab.origin, &topic, PARTITIONS).await;
    let counts: Vec<(i32, usize)> = (0..PARTITIONS).map(|p| (p, RECORDS)).collect();
    common::produce(&lab.origin, &topic, &counts).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, PARTITIONS).await;

    let mut results = Vec::new();
    for a in &agents {
        results.push((
            *a,
            trial(&sim, &prefix, &topic, *a, groups, concurrency).await,
        ));
    }
    println!(
        "a groups stage of {groups} committed-offset groups spread over agents (shared journal store, consumer.offset.sync.ms = {sync_ms}, {concurrency} groups at once per agent), each group cut over exactly once:"
    );
    let one = results.first().map(|(_, t)| *t).unwrap_or(1.0);
    for (a, t) in &results {
        println!(
            "  {a} agent(s): {t:.1} s ({:.1} groups/s); 1 agent / {a} = {:.2}x",
            groups as f64 / t,
            one / t
        );
    }
}
