//! A runbook's groups stage of many groups against the same groups moved one `cutover group`
//! at a time, side by side in one run on the lab, at the link's default
//! `consumer.offset.sync.ms` of 30 s. Run:
//! `cargo build --release -p cutover-lab && cargo bench --bench stage`.
//!
//! Every group is a real consumer process (`cutover-testapp`) reading one of four topics of
//! four partitions that producers keep writing (4 records/s each: see `PRODUCE_EVERY`); hooks stop it on the origin and start it on
//! the destination. The stage (`cutover run` with one `groups` stage, every group at once)
//! should take about one sync interval (the exclusions' proof waits for one sync tick, shared
//! by all) plus the hooks: the bound is the interval plus 10 s. The peer is what an
//! operator scripts without a runbook: `cutover group` once per group, one after the other;
//! each takes about an interval, so it is measured on a few groups and its per-group time
//! multiplied out. Every cutover must end `done` with every record processed exactly once.
//! `CUTOVER_BENCH_GROUPS` sets the stage's groups (default 100), `CUTOVER_BENCH_PEER` the
//! groups moved one at a time (default 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, tally, App, BackgroundProducer, Partition};
use cutover_lab::testkit::{self as common, Protocol, Sim};
use serde_json::{json, Value};

const SYNC_MS: u64 = 30_000;
const TOPICS: usize = 4;
const PARTITIONS: i32 = 4;
/// Each topic gets a record this often. Every app commits after each batch it processes: with a
/// record every 20 ms on each topic, a hundred apps' commits kept the lab's one origin broker
/// (2 cores) so busy that a DescribeConsumerGroups of the stage's groups got no answer in 15 s.
const PRODUCE_EVERY: Duration = Duration::from_millis(250);

fn toml_array(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| json!(a).to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The bench's apps; stopped when dropped, so a failed run leaves no process behind.
struct Running(Vec<App>);

impl Drop for Running {
    fn drop(&mut self) {
        for app in &self.0 {
            let _ = app.try_stop();
        }
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cutover …` with the lab's settings; (exit code, stdout as JSON, seconds it took).
fn cutover(config: &Path, sim: &Sim, args: &[&str]) -> (i32, Value, f64) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .args(["--format", "json", "-v"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.cutover_env())
        .output()
        .expect("run cutover");
    let took = started.elapsed().as_secs_f64();
    // Its log (`-v`: librdkafka's errors and warnings too) beside the config, for a failure.
    let log = config.with_file_name(format!("{}.log", args[0]));
    let _ = std::fs::write(&log, &out.stderr);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc, took)
}

#[tokio::main]
async fn main() {
    // A lab of its own, left running for the next run.
    std::env::set_var(
        "CUTOVER_LAB_STATE",
        std::env::temp_dir().join("cutover-bench-lab"),
    );
    let groups = env_count("CUTOVER_BENCH_GROUPS", 100);
    let peers = env_count("CUTOVER_BENCH_PEER", 2);
    let lab = common::lab();
    let prefix = common::unique("stage");
    let filters = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", &SYNC_MS.to_string()),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    let topics: Vec<String> = (0..TOPICS).map(|i| format!("{prefix}-t{i}")).collect();
    for t in &topics {
        common::create_topic(&lab.origin, t, PARTITIONS).await;
        sim.create_mirror(t).await;
    }
    let producers: Vec<BackgroundProducer> = topics
        .iter()
        .map(|t| BackgroundProducer::start(&lab.origin, t, PARTITIONS, PRODUCE_EVERY))
        .collect();
    let apps = Running(
        (0..groups + peers)
            .map(|i| {
                let kind = if i < groups { "stage" } else { "one" };
                let group = format!("{prefix}-{kind}-{i:03}");
                App::new(&group, &[topics[i % TOPICS].as_str()], Protocol::Classic)
            })
            .collect(),
    );
    let apps = &apps.0;
    eprintln!(
        "bench: starting {} consumer processes on the origin",
        apps.len()
    );
    std::thread::scope(|s| {
        for chunk in apps.chunks(apps.len().div_ceil(8)) {
            s.spawn(move || {
                for app in chunk {
                    app.start(&lab.origin, &app.out("origin"));
                }
            });
        }
    });
    let dir = testapp::scratch_dir("bench-stage");
    let config = dir.join("cutover.toml");
    // Looks every 500 ms (the default is 2 s): each cutover's steps (the stop seen, the
    // restart verified) wait for a look, and the stage waits for its slowest group.
    let mut text = format!(
        "[defaults]\npoll-interval = \"500ms\"\n\n[cutover]\njournal-dir = \"{}\"\nrestart-window = \"2s\"\nrestart-timeout = \"2m\"\nstop-timeout = \"2m\"\n",
        dir.join("journal").display()
    );
    for app in apps {
        let key = format!("[groups.\"{}\".hooks", app.group);
        text.push_str(&format!(
            "\n{key}.stop]\nexec = {}\n\n{key}.restart]\nexec = {}\ntimeout = \"2m\"\n\n{key}.rollback]\nexec = {}\ntimeout = \"2m\"\n",
            toml_array(&app.stop_argv()),
            toml_array(&app.start_argv(&lab.destination, &app.out("destination"))),
            toml_array(&app.start_argv(&lab.origin, &app.out("origin-again"))),
        ));
    }
    std::fs::write(&config, text).expect("write the config");
    let book = dir.join("stage.toml");
    std::fs::write(
        &book,
        format!(
            "name = \"bench-stage\"\n\n[[stage]]\nkind = \"groups\"\npattern = \"{prefix}-stage-*\"\nconcurrency = {groups}\n"
        ),
    )
    .expect("write the runbook");
    // Let the apps commit and the link sync them once before they move.
    tokio::time::sleep(Duration::from_secs(3)).await;

    eprintln!("bench: the peer: {peers} group(s) moved one `cutover group` at a time");
    let mut one_at_a_time = Vec::new();
    for app in &apps[groups..] {
        let (code, doc, took) = cutover(&config, &sim, &["group", &app.group]);
        assert_eq!((code, &doc["outcome"]), (0, &json!("done")), "{doc:#}");
        eprintln!(
            "bench: cutover group {}: {took:.1} s (downtime {} ms)",
            app.group, doc["timings"]["downtime_ms"]
        );
        one_at_a_time.push(took);
    }
    eprintln!("bench: cutover run: one groups stage of {groups} group(s), all at once");
    let (code, report, stage_s) = cutover(&config, &sim, &["run", book.to_str().expect("utf-8")]);
    assert_eq!(
        (code, &report["outcome"]),
        (0, &json!("done")),
        "{report:#}"
    );
    let rows = report["groups"].as_array().expect("groups");
    assert_eq!(rows.len(), groups);
    assert!(rows.iter().all(|g| g["outcome"] == "done"), "{report:#}");

    for p in producers {
        p.stop();
    }
    let origin = testapp::lab_cluster(Role::Origin);
    let mut ends: BTreeMap<Partition, i64> = BTreeMap::new();
    for t in &topics {
        ends.extend(testapp::log_ends(&origin, t, PARTITIONS).await);
        sim.wait_caught_up(t, PARTITIONS).await;
    }
    for app in apps {
        let expected: BTreeMap<Partition, i64> = ends
            .iter()
            .filter(|((t, _), _)| app.topics.contains(t))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let outputs: Vec<PathBuf> = ["origin", "destination"]
            .iter()
            .map(|n| app.out(n))
            .filter(|p| p.exists())
            .collect();
        testapp::wait_processed(&outputs, &expected, Duration::from_secs(120));
        app.stop();
        tally(&outputs).assert_exactly_once(&expected);
    }

    let per_group = one_at_a_time.iter().sum::<f64>() / one_at_a_time.len().max(1) as f64;
    let sequential = per_group * groups as f64;
    let bound = SYNC_MS as f64 / 1000.0 + 10.0;
    println!("a groups stage at consumer.offset.sync.ms = {SYNC_MS}, every record processed exactly once:");
    println!(
        "  cutover run, {groups} groups at once: {stage_s:.1} s (bound: one interval + 10 s = {bound:.0} s: {})",
        if stage_s <= bound { "met" } else { "NOT MET" }
    );
    println!(
        "  downtime across the stage: p50 {} ms · p90 {} ms · max {} ms",
        report["downtime_ms"]["p50"], report["downtime_ms"]["p90"], report["downtime_ms"]["max"]
    );
    println!(
        "  cutover group, one at a time: {per_group:.1} s per group (mean of {}), {sequential:.0} s for {groups}",
        one_at_a_time.len()
    );
    println!(
        "  one at a time / the stage = {:.1}×",
        sequential / stage_s.max(0.001)
    );
    println!("  where the stage's time went (s after its first cutover began; from the journals):");
    for line in phase_split(&dir.join("journal"), &format!("{prefix}-stage-")) {
        println!("    {line}");
    }
}

/// For each phase the stage's cutovers went through, in order: when the first and the last of
/// them entered it (seconds after the first cutover began) and how long they stayed in it
/// (median and longest), from the `phase` records of their journals.
fn phase_split(journals: &Path, prefix: &str) -> Vec<String> {
    let mut runs: Vec<Vec<(i64, String)>> = Vec::new();
    for entry in std::fs::read_dir(journals).expect("the stage's journals") {
        let path = entry.expect("a journal").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with(prefix) && name.ends_with(".jsonl")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a journal");
        let records: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let mut phases: Vec<(i64, String)> = Vec::new();
        for r in &records {
            let (Some(ts), Some(phase)) = (r["ts_ms"].as_i64(), r["phase"].as_str()) else {
                continue;
            };
            if r["type"] == "phase" && phases.last().is_none_or(|(_, p)| p != phase) {
                phases.push((ts, phase.to_string()));
            }
        }
        if let Some(last) = records.iter().filter_map(|r| r["ts_ms"].as_i64()).max() {
            phases.push((last, String::new()));
        }
        runs.push(phases);
    }
    let Some(t0) = runs
        .iter()
        .filter_map(|r| r.first().map(|(ts, _)| *ts))
        .min()
    else {
        return vec!["no journal found".into()];
    };
    let mut order: Vec<String> = Vec::new();
    let mut entered: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut stayed: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for run in &runs {
        for pair in run.windows(2) {
            let ((at, phase), (next, _)) = (&pair[0], &pair[1]);
            if !order.contains(phase) {
                order.push(phase.clone());
            }
            entered.entry(phase.clone()).or_default().push(at - t0);
            stayed.entry(phase.clone()).or_default().push(next - at);
        }
    }
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let median = |v: &mut Vec<i64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    order
        .iter()
        .map(|phase| {
            let e = &entered[phase];
            let mut d = stayed[phase].clone();
            format!(
                "{phase:<18} {:>3} groups, entered {:>5.1} – {:>5.1}, stayed p50 {:>4.1} · max {:>4.1}",
                e.len(),
                seconds(*e.iter().min().unwrap_or(&0)),
                seconds(*e.iter().max().unwrap_or(&0)),
                seconds(median(&mut d)),
                seconds(*d.iter().max().unwrap_or(&0)),
            )
        })
        .collect()
}
