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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.sim.cutover_env())
            .current_dir(std::env::temp_dir());
        cmd
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
    producer
        .send(
            FutureRecord::<str, str>::to(in_tx)
                .partition(0)
                .payload("open"),
            Duration::from_secs(10),
        )
        .await
        .expect("produced inside the transaction");

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
