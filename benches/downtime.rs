//! A group's downtime, `final-offsets = "agent"` against `final-offsets = "link"`, side by side
//! in one run on the lab, at the link's default `consumer.offset.sync.ms` of 30 s. Run:
//! `cargo build --release -p cutover-lab && cargo bench --bench downtime`.
//!
//! Downtime is what the application sees: from the moment the stop hook begins to the moment
//! the restart hook begins, as cutover's summary reports it (`timings.downtime_ms`). Each round
//! cuts over two groups at once, one per mode, each a real consumer process (`cutover-testapp`)
//! reading a 2-partition topic that a producer keeps writing; the hooks stop it on the origin
//! and start it on the destination. Every cutover must end `done` with every record processed
//! exactly once: a bench that lost a message would measure nothing worth having.
//! `CUTOVER_BENCH_CUTOVERS` sets the rounds (default 5).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, tally, App, BackgroundProducer, Partition};
use cutover_lab::testkit::{self as common, Protocol, Sim};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

const SYNC_MS: &str = "30000";
const PARTITIONS: i32 = 2;

/// One group about to be cut over in one mode.
struct Move {
    mode: &'static str,
    topic: String,
    app: App,
    config: PathBuf,
    producer: BackgroundProducer,
}

fn toml_array(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| json!(a).to_string()).collect();
    format!("[{}]", items.join(", "))
}

async fn prepare(sim: &Sim, prefix: &str, mode: &'static str, round: usize) -> Move {
    let lab = common::lab();
    let topic = format!("{prefix}-{mode}-{round}");
    let group = format!("{prefix}-{mode}-{round}-group");
    common::create_topic(&lab.origin, &topic, PARTITIONS).await;
    sim.create_mirror(&topic).await;
    let app = App::new(&group, &[&topic], Protocol::Classic);
    app.start(&lab.origin, &app.out("origin"));
    let config = app.out("cutover.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[cutover]
final-offsets = "{mode}"
journal-dir = "{journal}"
restart-window = "2s"

[hooks.stop]
exec = {stop}

[hooks.restart]
exec = {restart}

[hooks.rollback]
exec = {rollback}
"#,
            journal = app.out("journal").display(),
            stop = toml_array(&app.stop_argv()),
            restart = toml_array(&app.start_argv(&lab.destination, &app.out("destination"))),
            rollback = toml_array(&app.start_argv(&lab.origin, &app.out("origin-again"))),
        ),
    )
    .expect("write the config");
    let producer =
        BackgroundProducer::start(&lab.origin, &topic, PARTITIONS, Duration::from_millis(20));
    Move {
        mode,
        topic,
        app,
        config,
        producer,
    }
}

/// Runs `cutover group` for the move; returns its summary (`--format json`).
fn cut_over(m: &Move, sim: &Sim) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&m.config)
        .args(["group", &m.app.group, "--format", "json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.cutover_env())
        .output()
        .expect("run cutover group");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} mode: stdout is not JSON ({e}); stderr: {}",
            m.mode,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(doc["outcome"], "done", "{} mode: {doc:#}", m.mode);
    doc
}

/// A summary's downtime in milliseconds.
fn downtime(doc: &Value) -> i64 {
    doc["timings"]["downtime_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("no downtime in {doc:#}"))
}

/// Where a cutover's time went: its parts, and the whole run from start to finish.
fn parts(doc: &Value) -> String {
    let part = |name: &str| {
        doc["parts"][name]
            .as_i64()
            .map_or("-".into(), |v| v.to_string())
    };
    let total = doc["timings"]["finished_ms"]
        .as_i64()
        .zip(doc["timings"]["started_ms"].as_i64());
    format!(
        "stop hook {} · stop observed {} · mirror wait {} · offsets {} · restart hook {} · first commit {} ms; whole run {} s",
        part("stop_hook_ms"),
        part("stop_observed_ms"),
        part("mirror_wait_ms"),
        part("offsets_ms"),
        part("restart_hook_ms"),
        part("first_commit_ms"),
        total.map_or("-".into(), |(f, s)| format!("{:.1}", (f - s) as f64 / 1000.0)),
    )
}

/// Stops the producer and the app, and checks every record was processed exactly once.
async fn finish(m: Move, sim: &Sim) {
    m.producer.stop();
    let ends = testapp::log_ends(&testapp::lab_cluster(Role::Origin), &m.topic, PARTITIONS).await;
    let expected: BTreeMap<Partition, i64> = ends;
    sim.wait_caught_up(&m.topic, PARTITIONS).await;
    let outputs: Vec<PathBuf> = ["origin", "destination"]
        .iter()
        .map(|n| m.app.out(n))
        .filter(|p| p.exists())
        .collect();
    testapp::wait_processed(&outputs, &expected, Duration::from_secs(60));
    m.app.stop();
    tally(&outputs).assert_exactly_once(&expected);
}

fn line(mode: &str, h: &Histogram<u64>) -> String {
    format!(
        "{mode:>5}: p50 {:>6} ms · p90 {:>6} ms · max {:>6} ms ({} cutovers)",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.max(),
        h.len()
    )
}

#[tokio::main]
async fn main() {
    // A lab of its own, left running for the next run.
    std::env::set_var(
        "CUTOVER_LAB_STATE",
        std::env::temp_dir().join("cutover-bench-lab"),
    );
    let rounds: usize = std::env::var("CUTOVER_BENCH_CUTOVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let prefix = common::unique("downtime");
    let filters = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", SYNC_MS),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    eprintln!(
        "bench: {rounds} rounds, each an agent-mode and a link-mode cutover at once, consumer.offset.sync.ms = {SYNC_MS}"
    );
    let mut agent = Histogram::<u64>::new(3).expect("a histogram");
    let mut link = Histogram::<u64>::new(3).expect("a histogram");
    let started = Instant::now();
    for round in 0..rounds {
        let a = prepare(&sim, &prefix, "agent", round).await;
        let l = prepare(&sim, &prefix, "link", round).await;
        // Let the apps commit and the link sync them once before they move.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (agent_doc, link_doc) = std::thread::scope(|s| {
            let agent = s.spawn(|| cut_over(&a, &sim));
            let link = s.spawn(|| cut_over(&l, &sim));
            (
                agent.join().expect("the agent-mode cutover ran"),
                link.join().expect("the link-mode cutover ran"),
            )
        });
        let (agent_ms, link_ms) = (downtime(&agent_doc), downtime(&link_doc));
        eprintln!(
            "bench: round {}: agent {agent_ms} ms ({}; proof: {}), link {link_ms} ms ({})",
            round + 1,
            parts(&agent_doc),
            agent_doc["exclusion_proof"]
                .as_str()
                .and_then(|p| p.split(" (").next())
                .unwrap_or("-"),
            parts(&link_doc),
        );
        agent
            .record(u64::try_from(agent_ms).unwrap_or(0))
            .expect("in range");
        link.record(u64::try_from(link_ms).unwrap_or(0))
            .expect("in range");
        finish(a, &sim).await;
        finish(l, &sim).await;
    }
    println!(
        "downtime (stop hook begun → restart hook begun), consumer.offset.sync.ms = {SYNC_MS}:"
    );
    println!("{}", line("agent", &agent));
    println!("{}", line("link", &link));
    let ratio = link.value_at_quantile(0.5) as f64 / agent.value_at_quantile(0.5).max(1) as f64;
    println!(
        "link p50 / agent p50 = {ratio:.1}× · {} s in all",
        started.elapsed().as_secs()
    );
}
