//! A runbook's groups stage spread over three agents through the shared journal store (issue
//! 18, point 3), on the lab: the agent running the runbook publishes the stage's groups as work
//! items, two `--worker` agents on other "hosts" (journal folders of their own) take their
//! share, and one of them is SIGKILLed while it has cutovers under way. The agents that
//! receive its partitions resume those cutovers from the shared journal. Every group ends on
//! the destination, cut over exactly once: its restart hook (one step of a consumer) processed
//! exactly one record of each partition, the one at the offset the group had committed on the
//! origin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutover::journal::{self, Record};
use cutover::model::{GroupId, Role, TopicPartition};
use cutover_lab::testkit::testapp;
use cutover_lab::testkit::{create_topic, lab, produce, unique, Sim};
use serde_json::{json, Value};

use super::world::{run_json, toml_array};

const GROUPS: usize = 24;
const PARTITIONS: i32 = 2;
/// Records on each partition; every group has committed `AT` on each.
const RECORDS: usize = 20;
const AT: i64 = 10;

/// One agent's process, killed when dropped (a failed test leaves none behind).
struct Agent(Option<Child>);

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn host_config(dir: &Path, host: &str, common: &str) -> (PathBuf, PathBuf) {
    let journal_dir = dir.join(host);
    let config = dir.join(format!("{host}.toml"));
    let text = common.replace("JOURNAL_DIR", &journal_dir.display().to_string());
    std::fs::write(&config, text).expect("write the config");
    (config, journal_dir)
}

fn agent(config: &Path, sim: &Sim, args: &[&str], log: &Path) -> Agent {
    let child = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(config)
        .args(args)
        .args(["--format", "json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.cutover_env())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("start cutover");
    Agent(Some(child))
}

/// Waits for an agent's exit: (code, stdout as JSON).
fn finish(mut agent: Agent, limit: Duration, log: &Path) -> (i32, Value) {
    let mut child = agent.0.take().expect("running");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .expect("stdout")
                .read_to_string(&mut out)
                .expect("read stdout");
            let doc = serde_json::from_str(&out).unwrap_or_else(|e| {
                panic!(
                    "stdout is not JSON ({e}): {out}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
            return (status.code().unwrap_or(-1), doc);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "an agent did not finish in {limit:?}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The group journals in a host's folder whose run has not finished.
fn unfinished(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| {
            let back = journal::read(&p).ok()?;
            (!back.entries.is_empty() && back.finished().is_none())
                .then(|| back.entries[0].group.clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_spread_over_three_agents_moves_every_group_once_when_one_agent_dies() {
    let prefix = unique("spread");
    let topic = format!("{prefix}-topic");
    let include = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "2000"),
        ("consumer.offset.group.filters", &include),
    ])
    .await;
    create_topic(&lab().origin, &topic, PARTITIONS).await;
    let counts: Vec<(i32, usize)> = (0..PARTITIONS).map(|p| (p, RECORDS)).collect();
    produce(&lab().origin, &topic, &counts).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, PARTITIONS).await;

    // Committed-offset groups: no process of their own, AT committed on every partition.
    let origin = testapp::lab_cluster(Role::Origin);
    let groups: Vec<String> = (0..GROUPS).map(|n| format!("{prefix}-g{n:02}")).collect();
    let at: Vec<(TopicPartition, cutover::model::Offset)> = (0..PARTITIONS)
        .map(|p| {
            (
                TopicPartition::new(topic.as_str(), p),
                cutover::model::Offset(AT),
            )
        })
        .collect();
    for group in &groups {
        let answer = origin
            .commit_offsets_as_admin(&GroupId::new(group), &at)
            .await
            .expect("commit the group's offsets")
            .unwrap_or_else(|e| panic!("{group}: {e:?}"));
        assert!(answer.values().all(|r| r.is_ok()), "{group}: {answer:?}");
    }

    let dir = testapp::scratch_dir("spread");
    let step = |out: &str| {
        toml_array(&[
            testapp::bin().display().to_string(),
            "step".into(),
            "--bootstrap".into(),
            lab().destination.clone(),
            "--group".into(),
            "{group}".into(),
            "--topic".into(),
            topic.clone(),
            "--out".into(),
            dir.join(out).display().to_string(),
        ])
    };
    let common = format!(
        r#"
[defaults]
poll-interval = "250ms"

[cutover]
final-offsets = "agent"
journal-dir = "JOURNAL_DIR"
stop-timeout = "60s"
mirror-timeout = "30s"
restart-timeout = "60s"
restart-window = "2s"
sync-timeout-factor = 10

[journal]
store = "kafka"
topic = "cutover-journal-{prefix}"
partitions = 6

[hooks.stop]
exec = ["true"]

[hooks.restart]
exec = {restart}

[hooks.rollback]
exec = ["true"]
"#,
        restart = step("{group}.out"),
    );
    let book = dir.join("wave.toml");
    std::fs::write(
        &book,
        format!(
            "name = \"{prefix}\"\n\n[[stage]]\nkind = \"groups\"\nname = \"wave\"\npattern = \"{prefix}-*\"\nconcurrency = 4\n"
        ),
    )
    .expect("write the runbook");
    let book = book.display().to_string();
    let (lead, lead_dir) = host_config(&dir, "host-a", &common);
    let (second, second_dir) = host_config(&dir, "host-b", &common);
    let (third, third_dir) = host_config(&dir, "host-c", &common);

    // The workers first, then the runbook; the third agent dies with cutovers under way.
    let logs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|h| dir.join(format!("host-{h}.stderr")))
        .collect();
    let b = agent(&second, &sim, &["run", &book, "--worker"], &logs[1]);
    let mut c = agent(&third, &sim, &["run", &book, "--worker"], &logs[2]);
    std::thread::sleep(Duration::from_secs(2));
    let a = agent(&lead, &sim, &["run", &book], &logs[0]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let left = loop {
        let left = unfinished(&third_dir);
        if !left.is_empty() {
            break left;
        }
        assert!(
            Instant::now() < deadline,
            "the third agent never had a cutover under way: {}",
            std::fs::read_to_string(&logs[2]).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    c.0.as_mut().unwrap().kill().expect("SIGKILL");
    c.0.as_mut().unwrap().wait().unwrap();
    let left: BTreeSet<String> = unfinished(&third_dir).into_iter().chain(left).collect();
    eprintln!("the third agent died with {left:?} under way");

    let (code, report) = finish(a, Duration::from_secs(240), &logs[0]);
    assert_eq!(
        code,
        0,
        "{report:#}\n{}",
        std::fs::read_to_string(&logs[0]).unwrap_or_default()
    );
    let rows: BTreeMap<String, String> = report["groups"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows.len(), GROUPS, "{report:#}");
    assert!(rows.values().all(|o| o == "done"), "{rows:#?}");
    let (code, worker_report) = finish(b, Duration::from_secs(60), &logs[1]);
    assert_eq!(
        code, 0,
        "the surviving worker stops at the runbook's end: {worker_report:#}"
    );

    // Exactly once: each group's restart hook ran once, from the group's committed offsets.
    for group in &groups {
        let out = dir.join(format!("{group}.out"));
        let lines = std::fs::read_to_string(&out).unwrap_or_default();
        let mut seen: Vec<&str> = lines.lines().collect();
        seen.sort();
        let expected: Vec<String> = (0..PARTITIONS)
            .map(|p| format!("{topic} {p} {AT}"))
            .collect();
        assert_eq!(
            seen, expected,
            "{group}: its restart hook ran once, where it stood"
        );
    }
    // The cutovers the dead agent left were finished by the others from the shared journal:
    // one run each, started by the dead agent and resumed by another.
    for group in &left {
        let resumed = [&lead_dir, &second_dir]
            .iter()
            .map(|d| journal::path_for(d, &GroupId::new(group)))
            .filter(|p| p.exists())
            .filter_map(|p| journal::read(&p).ok())
            .find(|back| back.finished().is_some())
            .unwrap_or_else(|| panic!("{group}: no other agent finished it"));
        let agents: BTreeSet<&str> = resumed
            .entries
            .iter()
            .filter_map(|e| match &e.record {
                Record::Started { agent, .. } => Some(agent.as_str()),
                _ => None,
            })
            .collect();
        assert!(agents.len() >= 2, "{group}: {agents:?}");
    }
    // Every group runs on the destination now.
    let (code, verify, stderr) = run_json(
        Command::new(env!("CARGO_BIN_EXE_cutover"))
            .arg("--config")
            .arg(&lead)
            .args(["verify", "--format", "json"])
            .args(&groups)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(sim.cutover_env()),
    );
    assert_eq!(code, 0, "{verify:#}\n{stderr}");
    for g in verify["groups"].as_array().expect("groups") {
        assert_eq!(g["status"], "MOVED", "{g:#}");
    }
}
