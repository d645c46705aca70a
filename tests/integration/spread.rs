//! A runbook's groups stage spread over agents through the shared journal store (issue 18,
//! point 3), on the lab: the agent running the runbook publishes the stage's groups as work
//! items, `--worker` agents on other "hosts" (journal folders of their own) take their share.
//! A worker SIGKILLed with cutovers under way: the agents that receive its partitions resume
//! them from the shared journal. The runbook's own agent SIGKILLed: another host continues the
//! runbook from its shared journal. Every group ends on the destination, cut over exactly
//! once: its restart hook (one step of a consumer) processed exactly one record of each
//! partition, the one at the offset the group had committed on the origin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover::journal::{self, Record};
use cutover::model::{GroupId, Role, TopicPartition};
use cutover_lab::testkit::testapp;
use cutover_lab::testkit::{create_topic, lab, produce, unique, Agent, Sim};
use serde_json::Value;

use super::world::{cutover_command, run_json, syncing_sim, toml_array};

const PARTITIONS: i32 = 2;
/// Records on each partition; every group has committed `AT` on each.
const RECORDS: usize = 20;
const AT: i64 = 10;

fn host_config(dir: &Path, host: &str, common: &str) -> (PathBuf, PathBuf) {
    let journal_dir = dir.join(host);
    let config = dir.join(format!("{host}.toml"));
    let text = common.replace("JOURNAL_DIR", &journal_dir.display().to_string());
    std::fs::write(&config, text).expect("write the config");
    (config, journal_dir)
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

/// A link, a topic and `groups` committed-offset groups, with the configuration every host
/// shares (each its own journal folder) and a runbook of one groups stage.
struct Estate {
    sim: Sim,
    /// The runbook's name.
    name: String,
    topic: String,
    groups: Vec<String>,
    dir: PathBuf,
    book: String,
    common: String,
}

impl Estate {
    async fn new(label: &str, groups: usize, concurrency: usize) -> Estate {
        let prefix = unique(label);
        let topic = format!("{prefix}-topic");
        let sim = syncing_sim(&prefix).await;
        create_topic(&lab().origin, &topic, PARTITIONS).await;
        let counts: Vec<(i32, usize)> = (0..PARTITIONS).map(|p| (p, RECORDS)).collect();
        produce(&lab().origin, &topic, &counts).await;
        sim.create_mirror(&topic).await;
        sim.wait_caught_up(&topic, PARTITIONS).await;

        // Committed-offset groups: no process of their own, AT committed on every partition.
        let origin = testapp::lab_cluster(Role::Origin);
        let names: Vec<String> = (0..groups).map(|n| format!("{prefix}-g{n:02}")).collect();
        let at: Vec<(TopicPartition, cutover::model::Offset)> = (0..PARTITIONS)
            .map(|p| {
                (
                    TopicPartition::new(topic.as_str(), p),
                    cutover::model::Offset(AT),
                )
            })
            .collect();
        for group in &names {
            let answer = origin
                .commit_offsets_as_admin(&GroupId::new(group), &at)
                .await
                .expect("commit the group's offsets")
                .unwrap_or_else(|e| panic!("{group}: {e:?}"));
            assert!(answer.values().all(|r| r.is_ok()), "{group}: {answer:?}");
        }

        let dir = testapp::scratch_dir(label);
        let restart = toml_array(&[
            testapp::bin().display().to_string(),
            "step".into(),
            "--bootstrap".into(),
            lab().destination.clone(),
            "--group".into(),
            "{group}".into(),
            "--topic".into(),
            topic.clone(),
            "--out".into(),
            dir.join("{group}.out").display().to_string(),
        ]);
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
"#
        );
        let book = dir.join("wave.toml");
        std::fs::write(
            &book,
            format!(
                "name = \"{prefix}\"\n\n[[stage]]\nkind = \"groups\"\nname = \"wave\"\npattern = \"{prefix}-*\"\nconcurrency = {concurrency}\n"
            ),
        )
        .expect("write the runbook");
        Estate {
            sim,
            name: prefix,
            topic,
            groups: names,
            book: book.display().to_string(),
            dir,
            common,
        }
    }

    /// A host: its configuration and journal folder.
    fn host(&self, name: &str) -> (PathBuf, PathBuf) {
        host_config(&self.dir, name, &self.common)
    }

    fn log(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{host}.stderr"))
    }

    /// `cutover run RUNBOOK EXTRA…` on a host, logging to `<log>.stderr`.
    fn run(&self, config: &Path, log: &str, extra: &[&str]) -> Agent {
        let mut args = vec!["run", self.book.as_str()];
        args.extend(extra);
        Agent::start(
            Path::new(env!("CARGO_BIN_EXE_cutover")),
            config,
            &self.sim,
            &args,
            &self.log(log),
        )
    }

    /// The rows of a runbook report: group → outcome.
    fn rows(report: &Value) -> BTreeMap<String, String> {
        report["groups"]
            .as_array()
            .unwrap_or_else(|| panic!("{report:#}"))
            .iter()
            .map(|r| {
                (
                    r["group"].as_str().unwrap().to_string(),
                    r["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Every group's restart hook ran once, from where it stood, and it runs on the
    /// destination now.
    fn assert_each_moved_once(&self, config: &Path) {
        for group in &self.groups {
            let out = self.dir.join(format!("{group}.out"));
            let lines = std::fs::read_to_string(&out).unwrap_or_default();
            let mut seen: Vec<&str> = lines.lines().collect();
            seen.sort();
            let expected: Vec<String> = (0..PARTITIONS)
                .map(|p| format!("{} {p} {AT}", self.topic))
                .collect();
            assert_eq!(
                seen, expected,
                "{group}: its restart hook ran once, where it stood"
            );
        }
        let (code, verify, stderr) = run_json(
            cutover_command(config, &self.sim, &["verify", "--format", "json"]).args(&self.groups),
        );
        assert_eq!(code, 0, "{verify:#}\n{stderr}");
        for g in verify["groups"].as_array().expect("groups") {
            assert_eq!(g["status"], "MOVED", "{g:#}");
        }
    }
}

/// Waits until a host has a cutover under way; the groups it has under way.
fn under_way(dir: &Path, agent: &Agent) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let left = unfinished(dir);
        if !left.is_empty() {
            return left.into_iter().collect();
        }
        assert!(
            Instant::now() < deadline,
            "the agent never had a cutover under way: {}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The cutovers `left` were finished by another host, each one run started by the dead agent
/// and resumed: their journals there hold two agents' starts.
fn assert_resumed_elsewhere(left: &BTreeSet<String>, others: &[&PathBuf]) {
    for group in left {
        let resumed = others
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_spread_over_three_agents_moves_every_group_once_when_one_agent_dies() {
    let e = Estate::new("spread-worker", 24, 4).await;
    let (lead, lead_dir) = e.host("host-a");
    let (second, second_dir) = e.host("host-b");
    let (third, third_dir) = e.host("host-c");
    // The workers first, then the runbook; the third agent dies with cutovers under way.
    let b = e.run(&second, "host-b", &["--worker"]);
    let mut c = e.run(&third, "host-c", &["--worker"]);
    std::thread::sleep(Duration::from_secs(2));
    let a = e.run(&lead, "host-a", &[]);
    let left = under_way(&third_dir, &c);
    c.kill();
    let left: BTreeSet<String> = unfinished(&third_dir).into_iter().chain(left).collect();
    eprintln!("the third agent died with {left:?} under way");

    let log = a.log();
    let (code, report) = a.finish_json(Duration::from_secs(240));
    assert_eq!(code, 0, "{report:#}\n{log}");
    let rows = Estate::rows(&report);
    assert_eq!(rows.len(), e.groups.len(), "{report:#}");
    assert!(rows.values().all(|o| o == "done"), "{rows:#?}");
    let (code, worker_report) = b.finish_json(Duration::from_secs(60));
    assert_eq!(
        code, 0,
        "the surviving worker stops at the runbook's end: {worker_report:#}"
    );
    e.assert_each_moved_once(&lead);
    assert_resumed_elsewhere(&left, &[&lead_dir, &second_dir]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_host_continues_a_runbook_whose_agent_died_from_its_shared_journal() {
    let e = Estate::new("spread-lead", 12, 3).await;
    let (lead, lead_dir) = e.host("host-a");
    let (second, second_dir) = e.host("host-b");
    let (third, third_dir) = e.host("host-c");
    let b = e.run(&second, "host-b", &["--worker"]);
    std::thread::sleep(Duration::from_secs(2));
    let mut a = e.run(&lead, "host-a", &[]);
    // The runbook's agent dies with cutovers of its own under way.
    let left = under_way(&lead_dir, &a);
    a.kill();
    let left: BTreeSet<String> = unfinished(&lead_dir).into_iter().chain(left).collect();
    eprintln!("the runbook's agent died with {left:?} under way");

    // Another host knows the runbook from the shared journal alone: starting it refuses
    // (exit 5) and says how to continue; --resume continues it.
    let refused = e.run(&third, "host-c-start", &[]);
    let (code, _) = refused.finish(Duration::from_secs(60));
    let said = std::fs::read_to_string(e.log("host-c-start")).unwrap_or_default();
    assert_eq!(code, 5, "{said}");
    assert!(said.contains("--resume"), "{said}");
    let c = e.run(&third, "host-c", &["--resume"]);
    let log = c.log();
    let (code, report) = c.finish_json(Duration::from_secs(240));
    assert_eq!(code, 0, "{report:#}\n{log}");
    // Groups moved before the agent died show as already moved in the continued stage (its
    // fresh look finds them on the destination); each group's hook output says it ran once.
    let rows = Estate::rows(&report);
    assert_eq!(rows.len(), e.groups.len(), "{report:#}");
    assert!(
        rows.values().all(|o| o == "done" || o == "already_moved"),
        "{rows:#?}"
    );
    let (code, _) = b.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "the worker stops at the runbook's end");
    e.assert_each_moved_once(&third);
    assert_resumed_elsewhere(&left, &[&second_dir, &third_dir]);
    // The runbook's journal on the host that continued it is one run, both agents' starts.
    let back = journal::read(&third_dir.join("runbook").join(format!("{}.jsonl", e.name)))
        .expect("the runbook's journal on the host that continued it");
    let starts = back
        .entries
        .iter()
        .filter(|x| matches!(x.record, Record::Started { .. }))
        .count();
    assert_eq!(starts, 2, "started, then resumed");
    // Any host reports the runbook from the store: here the worker's, which never ran it.
    let (code, report, stderr) = run_json(&mut cutover_command(
        &second,
        &e.sim,
        &["report", &format!("runbook:{}", e.name), "--format", "json"],
    ));
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["outcome"], "done", "{report:#}");
    assert_eq!(Estate::rows(&report).len(), e.groups.len(), "{report:#}");
}
