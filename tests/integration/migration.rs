//! The migration-wide commands on the lab, as an operator runs them: `cutover watch` (with
//! `--prioritise`, killed and `--resume`d) and `cutover promote`, against real brokers and the
//! link emulator.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover_lab::testkit::testapp::scratch_dir;
use cutover_lab::testkit::{create_topic, lab, produce, unique, Sim};
use serde_json::{json, Value};

/// Mirrored topics on a link of their own, and a config with a journal folder.
struct Estate {
    sim: Sim,
    topics: Vec<String>,
    config: PathBuf,
}

impl Estate {
    /// `count` topics of `partitions` partitions, 100 records each, mirrored and caught up.
    async fn new(label: &str, count: usize, partitions: i32) -> Estate {
        let prefix = unique(label);
        let sim = Sim::start(&[]).await;
        let topics: Vec<String> = (0..count).map(|i| format!("{prefix}-t{i}")).collect();
        for topic in &topics {
            create_topic(&lab().origin, topic, partitions).await;
            let counts: Vec<(i32, usize)> = (0..partitions).map(|p| (p, 100)).collect();
            produce(&lab().origin, topic, &counts).await;
            sim.create_mirror(topic).await;
        }
        for topic in &topics {
            sim.wait_caught_up(topic, partitions).await;
        }
        let dir = scratch_dir("migration");
        let config = dir.join("cutover.toml");
        std::fs::write(
            &config,
            format!(
                "[defaults]\npoll-interval = \"250ms\"\n\n[cutover]\njournal-dir = \"{}\"\n",
                dir.join("journal").display()
            ),
        )
        .expect("write the config");
        Estate {
            sim,
            topics,
            config,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        super::world::cutover_command(&self.config, &self.sim, args)
    }

    /// Runs a command to its end: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().expect("run cutover");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn state(&self, topic: &str) -> String {
        self.sim.mirror(topic).await["mirror_status"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }
}

/// Every stdout line of a `--format json` watch is a JSON object with a `type`.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .inspect(|v| assert!(v["type"].is_string(), "{v}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prioritising_watch_killed_leaves_its_pauses_to_resume_and_the_resume_finishes_the_drain()
{
    let e = Estate::new("watch-prio", 2, 2).await;
    let (hot, other) = (&e.topics[0], &e.topics[1]);
    // The prioritised mirror falls behind and cannot catch up while stalled.
    e.sim.faults(json!({ "stalled_topics": [hot] })).await;
    produce(&lab().origin, hot, &[(0, 40), (1, 10)]).await;

    let mut child = e
        .command(&["watch", hot, "--prioritise", hot, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cutover watch");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until the watch has paused the other mirror and measured the prioritised one's lag.
    loop {
        assert!(
            Instant::now() < deadline,
            "no sample after the pause: {seen:?}"
        );
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).expect("read") > 0, "{seen:?}");
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        let sampled_lag = v["type"] == "sample" && v["topics"][0]["lag"] == json!(50);
        seen.push(v);
        if sampled_lag && seen.iter().any(|l| l["type"] == "paused") {
            break;
        }
    }
    assert_eq!(
        seen.iter().find(|l| l["type"] == "paused").expect("paused")["topics"],
        json!([other])
    );
    assert_eq!(e.state(other).await, "PAUSED");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // The next watch refuses and names what was left paused.
    let (code, _, stderr) = e.run(&["watch", hot]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains(other.as_str()) && stderr.contains("--resume"),
        "{stderr}"
    );
    assert_eq!(e.state(other).await, "PAUSED", "a refusal changes nothing");

    // --resume resumes it, then watches until the (unstalled) mirror drained.
    e.sim.faults(json!({ "stalled_topics": [] })).await;
    let (code, stdout, stderr) = e.run(&["watch", hot, "--resume", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let lines = json_lines(&stdout);
    let result = lines.last().expect("a result line");
    assert_eq!(result["type"], "result", "{result}");
    assert_eq!(result["drained"], true, "{result}");
    assert_eq!(result["resumed"], json!([other]), "{result}");
    assert_eq!(result["topics"][0]["lag"], 0, "{result}");
    assert_eq!(e.state(other).await, "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_reports_a_stalled_mirror_and_gives_up_at_its_deadline() {
    let e = Estate::new("watch-stall", 1, 1).await;
    let topic = &e.topics[0];
    e.sim.faults(json!({ "stalled_topics": [topic] })).await;
    produce(&lab().origin, topic, &[(0, 25)]).await;
    let started = Instant::now();
    let (code, stdout, stderr) = e.run(&[
        "watch",
        "--deadline",
        "4s",
        "--stall-after",
        "1s",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(4));
    let lines = json_lines(&stdout);
    let finding = lines
        .iter()
        .find(|l| l["type"] == "finding")
        .expect("a finding line");
    assert_eq!(finding["kind"], "MIRROR_STALLED", "{finding}");
    let result = lines.last().expect("result");
    assert_eq!(result["ended"], "deadline", "{result}");
    assert_eq!(result["topics"][0]["lag"], 25, "{result}");
    e.sim.faults(json!({ "stalled_topics": [] })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_an_open_transaction_then_promotes_the_other_mirrors_in_one_journaled_call()
{
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let e = Estate::new("promote", 3, 2).await;
    let (in_tx, rest) = (&e.topics[0], &e.topics[1..]);
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .set("transactional.id", unique("promote-tx"))
        .create()
        .expect("a transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("init transactions");
    producer.begin_transaction().expect("begin");
    let open_at = producer
        .send(
            FutureRecord::<str, str>::to(in_tx)
                .partition(0)
                .payload("open"),
            Duration::from_secs(10),
        )
        .await
        .expect("produced inside the transaction")
        .offset;

    // The gate refuses: a transaction is still open on one of the topics (its last stable
    // offset is below its end), whatever the mirror shows.
    let (code, stdout, stderr) = e.run(&["promote", "--all", "--window", "1s", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["outcome"], "refused", "{report}");
    let open = &report["open_transactions"];
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(
        (&open[0]["topic"], &open[0]["partition"]),
        (&json!(in_tx), &json!(0))
    );
    // The origin's brokers name the producer that holds it open (DescribeProducers), where
    // the agent may read the topic; the secure lab grants no Read on the origin's topics
    // (docs/security.md), and there the report says the brokers could not tell.
    let writers = report["writers"].as_array().expect("writers");
    if cutover_lab::testkit::secure_mode() {
        assert!(writers.is_empty(), "{report}");
        let untold = report["writers_untold"].to_string();
        assert!(untold.contains("TOPIC_AUTHORIZATION_FAILED"), "{report}");
    } else {
        assert_eq!(writers.len(), 1, "{report}");
        let w = &writers[0];
        assert_eq!((&w["topic"], &w["partition"]), (&json!(in_tx), &json!(0)));
        assert_eq!(w["open_transaction_from"], json!(open_at), "{w}");
        assert_eq!(w["wrote"], false, "it wrote before the window: {w}");
        assert_eq!(report["writers_untold"], json!([]), "{report}");
    }
    for t in &e.topics {
        assert_eq!(e.state(t).await, "ACTIVE", "a refusal changes nothing");
    }
    // (The emulator cannot copy the transaction's marker, which leaves a gap in the origin's
    // offsets: that topic stays behind, and the others are promoted.)
    producer
        .abort_transaction(Duration::from_secs(30))
        .expect("abort");

    let mut args = vec!["promote"];
    args.extend(rest.iter().map(String::as_str));
    args.extend(["--window", "1s", "--format", "json"]);
    let (code, stdout, stderr) = e.run(&args);
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["outcome"], "promoted", "{report}");
    for (t, row) in rest
        .iter()
        .zip(report["topics"].as_array().expect("topics"))
    {
        assert_eq!(row["mirror_topic"], json!(t));
        assert_eq!(row["writable"], true, "{row}");
        assert_eq!(e.state(t).await, "STOPPED");
    }
    assert_eq!(e.state(in_tx).await, "ACTIVE", "not named, not promoted");
    // One call for both topics, announced before it was made.
    let journal = cutover::journal::read(std::path::Path::new(
        report["journal"].as_str().expect("journal"),
    ))
    .expect("the promotion journal");
    let effects: Vec<String> = journal
        .entries
        .iter()
        .filter_map(|e| match &e.record {
            cutover::journal::Record::Intent { effect, detail } => {
                Some(format!("intent {effect} {}", detail["topics"]))
            }
            cutover::journal::Record::Outcome { effect, ok, .. } => {
                Some(format!("outcome {effect} {ok}"))
            }
            cutover::journal::Record::Finished { outcome, .. } => {
                Some(format!("finished {outcome}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        effects,
        [
            format!("intent promote {}", json!(rest)),
            "outcome promote true".into(),
            "outcome confirm true".into(),
            "finished done".into(),
        ]
    );
    // Again: nothing to do, nothing asked of the link.
    let mut args = vec!["promote"];
    args.extend(rest.iter().map(String::as_str));
    args.extend(["--format", "json"]);
    let (code, stdout, _) = e.run(&args);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["outcome"], "nothing_to_do", "{report}");
}

/// A producer still writing to the origin is named by its producer id (DescribeProducers read
/// at both edges of the gate's window) and the promotion is refused; once it has stopped, the
/// brokers still keep its state, and no writer is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_names_an_idempotent_producer_still_writing_to_the_origin() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let e = Estate::new("writers", 1, 2).await;
    let topic = e.topics[0].clone();
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &lab().origin)
        .set("enable.idempotence", "true")
        .create()
        .expect("an idempotent producer");
    let stop = Arc::new(AtomicBool::new(false));
    let writing = {
        let (producer, stop, topic) = (producer.clone(), stop.clone(), topic.clone());
        tokio::spawn(async move {
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let record = FutureRecord::<str, str>::to(&topic)
                    .partition(1)
                    .payload("still here");
                producer
                    .send(record, Duration::from_secs(10))
                    .await
                    .expect("written");
                sent += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (code, stdout, stderr) = e.run(&[
        "promote",
        "--all",
        "--dry-run",
        "--window",
        "2s",
        "--format",
        "json",
    ]);
    // The operator's view says the same.
    let (_, shown, _) = e.run(&["promote", "--all", "--dry-run", "--window", "1s"]);
    stop.store(true, Ordering::SeqCst);
    let sent = writing.await.expect("the writer ran");
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["outcome"], "refused", "{report}");
    let writers = report["writers"].as_array().expect("writers");
    if cutover_lab::testkit::secure_mode() {
        assert!(writers.is_empty(), "{report}");
        assert!(
            report["writers_untold"]
                .to_string()
                .contains("TOPIC_AUTHORIZATION_FAILED"),
            "{report}"
        );
        return;
    }
    assert_eq!(writers.len(), 1, "{report}");
    let w = &writers[0];
    assert_eq!((&w["topic"], &w["partition"]), (&json!(topic), &json!(1)));
    assert_eq!(w["wrote"], true, "{w}");
    assert!(w["producer_id"].as_i64() >= Some(0), "{w}");
    let (before, after) = (
        w["last_sequence_before"].as_i64(),
        w["last_sequence"].as_i64(),
    );
    assert!(
        before < after && after < Some(sent as i64),
        "{w} (sent {sent})"
    );
    let finding = report["findings"].to_string();
    assert!(
        finding.contains(&format!("producer {}", w["producer_id"])),
        "the finding names it: {report}"
    );
    assert!(
        shown.contains(&format!("producer {} (epoch", w["producer_id"]))
            && shown.contains("wrote during the window"),
        "{shown}"
    );

    // Stopped: its state stays on the brokers, unchanged over the window.
    let (_, stdout, stderr) = e.run(&[
        "promote",
        "--all",
        "--dry-run",
        "--window",
        "1s",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    assert_eq!(report["writers"], json!([]), "{report}");
    assert_eq!(report["writers_untold"], json!([]), "{report}");
}

/// One group of the estate: its apps (one or two instances) and its topics' partitions.
struct EstateGroup {
    name: String,
    apps: cutover_lab::testkit::testapp::Instances,
    partitions: Vec<(String, i32)>,
}

impl Drop for EstateGroup {
    /// A test that fails half-way leaves no app running.
    fn drop(&mut self) {
        let _ = self.apps.try_stop();
    }
}

/// The outputs of every instance of a group, on both clusters.
fn outputs(g: &EstateGroup) -> Vec<PathBuf> {
    let mut files = g.apps.outs("origin");
    files.extend(g.apps.outs("destination"));
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_moves_a_small_estate_with_real_consumers_exactly_once() {
    use cutover::model::Role;
    use cutover_lab::testkit::testapp::{self, tally, BackgroundProducer, Instances};
    use cutover_lab::testkit::Protocol;
    use std::collections::BTreeMap;

    let prefix = unique("estate");
    let sim = super::world::syncing_sim(&prefix).await;
    // Six topics; twenty groups, every fifth of two instances, every fourth on two topics.
    let topics: Vec<(String, i32)> = [2, 2, 1, 3, 1, 2]
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("{prefix}-t{i}"), *p))
        .collect();
    for (topic, partitions) in &topics {
        create_topic(&lab().origin, topic, *partitions).await;
        let counts: Vec<(i32, usize)> = (0..*partitions).map(|p| (p, 50)).collect();
        produce(&lab().origin, topic, &counts).await;
        sim.create_mirror(topic).await;
    }
    let groups: Vec<EstateGroup> = (0..20)
        .map(|i| {
            let mut mine = vec![topics[i % 6].clone()];
            if i % 4 == 0 {
                mine.push(topics[(i + 1) % 6].clone());
            }
            let names: Vec<&str> = mine.iter().map(|(t, _)| t.as_str()).collect();
            let wave = if i < 10 { 1 } else { 2 };
            let name = format!("{prefix}-w{wave}-g{i:02}");
            EstateGroup {
                apps: Instances::new(
                    &name,
                    &names,
                    Protocol::Classic,
                    1 + usize::from(i % 5 == 0),
                ),
                name,
                partitions: mine,
            }
        })
        .collect();
    // Every group consumes on the origin (started a few at a time: each waits to be ready).
    std::thread::scope(|s| {
        for chunk in groups.chunks(5) {
            s.spawn(move || {
                for g in chunk {
                    g.apps.start(&lab().origin, "origin");
                }
            });
        }
    });
    let mut origin_producers: Vec<BackgroundProducer> = topics
        .iter()
        .map(|(t, p)| BackgroundProducer::start(&lab().origin, t, *p, Duration::from_millis(40)))
        .collect();

    let dir = scratch_dir("estate");
    let config = dir.join("cutover.toml");
    let mut text = format!(
        "[defaults]\npoll-interval = \"250ms\"\n\n[cutover]\njournal-dir = \"{}\"\nstop-timeout = \"30s\"\nmirror-timeout = \"30s\"\nrestart-timeout = \"60s\"\nrestart-window = \"2s\"\nsync-timeout-factor = 4\n",
        dir.join("journal").display()
    );
    for g in &groups {
        let key = format!("[groups.\"{}\".hooks", g.name);
        text.push_str(&format!(
            "\n{key}.stop]\nexec = {}\ntimeout = \"40s\"\n\n{key}.restart]\nexec = {}\ntimeout = \"60s\"\n\n{key}.rollback]\nexec = {}\ntimeout = \"60s\"\n",
            super::world::toml_array(&g.apps.stop_argv()),
            super::world::toml_array(&g.apps.start_argv(&lab().destination, "destination")),
            super::world::toml_array(&g.apps.start_argv(&lab().origin, "origin-again")),
        ));
    }
    std::fs::write(&config, text).expect("write the config");
    // The producers are the operator's: the runbook's hooks only signal them (a file each).
    let (stop_signal, start_signal) = (dir.join("producers.stop"), dir.join("producers.start"));
    let all_topics =
        super::world::toml_array(&topics.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>());
    let book = dir.join("estate.toml");
    std::fs::write(
        &book,
        format!(
            r#"name = "estate"

[[stage]]
kind = "watch"
name = "mirrors caught up"
until-lag = 200
deadline = "2m"

[[stage]]
kind = "groups"
name = "wave 1"
pattern = "{prefix}-w1-*"
concurrency = 10

[[stage]]
kind = "hook"
name = "stop producers"
hook = {{ exec = ["touch", "{stop}"] }}
topics = {all_topics}
then = "origin-still"
window = "3s"
check-timeout = "1m"

[[stage]]
kind = "watch"
name = "last records mirrored"
deadline = "2m"

[[stage]]
kind = "audit"
window = "3s"

[[stage]]
kind = "promote"
all = true
window = "3s"

[[stage]]
kind = "hook"
name = "producers on the destination"
hook = {{ exec = ["touch", "{start}"] }}
topics = {all_topics}
then = "destination-written"
check-timeout = "1m"

[[stage]]
kind = "groups"
name = "wave 2"
pattern = "{prefix}-w2-*"
concurrency = 10
"#,
            stop = stop_signal.display(),
            start = start_signal.display(),
        ),
    )
    .expect("write the runbook");

    let mut run = super::world::cutover_command(
        &config,
        &sim,
        &["run", book.to_str().expect("utf-8"), "--format", "json"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn cutover run");
    // Act as the producers' operator while the runbook runs.
    let mut sent = 0;
    let mut destination_producers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while run.try_wait().expect("poll").is_none() {
        assert!(
            Instant::now() < deadline,
            "the runbook did not end in 10 minutes"
        );
        if stop_signal.exists() && !origin_producers.is_empty() {
            sent += origin_producers
                .drain(..)
                .map(BackgroundProducer::stop)
                .sum::<u64>();
        }
        if start_signal.exists() && destination_producers.is_empty() {
            destination_producers = topics
                .iter()
                .map(|(t, p)| {
                    BackgroundProducer::start(&lab().destination, t, *p, Duration::from_millis(40))
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = run.wait_with_output().expect("cutover run's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the runbook's JSON report");
    assert_eq!(report["outcome"], "done", "{report}");
    assert!(
        sent > 0,
        "the origin's producers wrote while the runbook ran"
    );
    let rows = report["groups"].as_array().expect("groups");
    assert_eq!(rows.len(), 20, "{report}");
    assert!(rows.iter().all(|g| g["outcome"] == "done"), "{report}");
    for (topic, _) in &topics {
        assert_eq!(
            sim.mirror(topic).await["mirror_status"],
            "STOPPED",
            "{topic} promoted"
        );
    }
    // The migration's report, from the runbook's journal alone: every group with its downtime,
    // the percentiles, the promotion evidence, the lag over time.
    let journal = report["journal"].as_str().expect("the runbook's journal");
    let reported = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["report", journal, "--format", "json"])
        .output()
        .expect("cutover report");
    let again: Value = serde_json::from_slice(&reported.stdout).expect("JSON");
    assert_eq!(again["groups"], report["groups"]);
    assert_eq!(again["downtime_ms"]["count"], 20, "{again}");
    assert_eq!(
        again["evidence"].as_array().map(Vec::len),
        Some(6),
        "{again}"
    );
    let page = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["report", journal, "--format", "html"])
        .output()
        .expect("cutover report --format html");
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.contains("<svg") && page.contains("Promotion evidence"),
        "{page}"
    );
    assert!(groups.iter().all(|g| page.contains(&g.name)));
    // Every group runs on the destination, and processed every record exactly once.
    let destination = testapp::lab_cluster(Role::Destination);
    for g in &groups {
        assert!(
            !testapp::members(&destination, &g.name).await.is_empty(),
            "{} has members on the destination",
            g.name
        );
    }
    let written: u64 = destination_producers
        .into_iter()
        .map(BackgroundProducer::stop)
        .sum();
    assert!(written > 0, "the producers wrote to the promoted topics");
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for (topic, partitions) in &topics {
        ends.extend(testapp::log_ends(&destination, topic, *partitions).await);
    }
    for g in &groups {
        let expected: BTreeMap<(String, i32), i64> = ends
            .iter()
            .filter(|((t, _), _)| g.partitions.iter().any(|(mine, _)| mine == t))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        testapp::wait_processed(&outputs(g), &expected, Duration::from_secs(60));
        g.apps.stop();
        tally(&outputs(g)).assert_exactly_once(&expected);
    }
}
