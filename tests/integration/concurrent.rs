//! Ten `cutover group` processes started at once on ten groups of one link, on the lab. Each
//! excludes its own group by a read-modify-write of the one link-wide
//! `consumer.offset.group.filters`; the edits are serialized by a lock beside the journals and
//! each is a verified compare-and-set, so none erases another. At the end every exclusion must
//! be in the filters, and every group must have processed every message exactly once while a
//! producer kept writing.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, tally, BackgroundProducer, Instances, Partition};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::{json, Value};

const GROUPS: usize = 10;
const PARTITIONS: i32 = 2;
/// Records on every partition before the apps start.
const FIRST: usize = 50;

fn toml_array(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| json!(a).to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The link's group filters, parsed.
async fn group_filters(sim: &Sim) -> Vec<Value> {
    let (_, doc) = sim
        .get(&sim.link_url("/configs/consumer.offset.group.filters"))
        .await;
    let text = doc["value"].as_str().unwrap_or_default();
    let filters: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    filters["groupFilters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_cutovers_at_once_on_one_link_keep_every_exclusion_and_every_message_once() {
    let prefix = unique("co-ten");
    let topic = format!("{prefix}-topic");
    let include = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let sim = Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &include),
    ])
    .await;
    create_topic(&lab().origin, &topic, PARTITIONS).await;
    let counts: Vec<(i32, usize)> = (0..PARTITIONS).map(|p| (p, FIRST)).collect();
    produce(&lab().origin, &topic, &counts).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, PARTITIONS).await;

    // Ten groups, one app each, all reading the topic on the origin.
    let groups: Vec<(String, Instances)> = (0..GROUPS)
        .map(|n| {
            let group = format!("{prefix}-g{n}");
            let apps = Instances::new(&group, &[topic.as_str()], Protocol::Classic, 1);
            (group, apps)
        })
        .collect();
    let _stop_all = StopAll(groups.iter().map(|(_, a)| a.clone()).collect());
    for (_, apps) in &groups {
        apps.start(&lab().origin, "origin");
    }
    let first: BTreeMap<Partition, i64> = (0..PARTITIONS)
        .map(|p| ((topic.clone(), p), FIRST as i64))
        .collect();
    let origin = testapp::lab_cluster(Role::Origin);
    for (group, apps) in &groups {
        testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(60));
        let mut committed = BTreeMap::new();
        for _ in 0..100 {
            committed = testapp::committed(&origin, group).await;
            if committed == first {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(committed, first, "{group} committed what it processed");
    }

    // One configuration, one journal folder (where the filter lock lives), hooks per group.
    let dir = testapp::scratch_dir("cutover-ten");
    let mut config = format!(
        r#"
[defaults]
poll-interval = "250ms"

[cutover]
final-offsets = "agent"
journal-dir = "{}"
stop-timeout = "60s"
mirror-timeout = "30s"
restart-timeout = "60s"
restart-window = "2s"
sync-timeout-factor = 10
"#,
        dir.join("journal").display()
    );
    for (group, apps) in &groups {
        config.push_str(&format!(
            r#"
[groups."{group}".hooks.stop]
exec = {stop}
timeout = "60s"

[groups."{group}".hooks.restart]
exec = {restart}
timeout = "60s"

[groups."{group}".hooks.rollback]
exec = {rollback}
timeout = "60s"
"#,
            stop = toml_array(&apps.stop_argv()),
            restart = toml_array(&apps.start_argv(&lab().destination, "destination")),
            rollback = toml_array(&apps.start_argv(&lab().origin, "origin-again")),
        ));
    }
    let config_file = dir.join("cutover.toml");
    std::fs::write(&config_file, config).expect("write the config");

    let producer =
        BackgroundProducer::start(&lab().origin, &topic, PARTITIONS, Duration::from_millis(20));
    // All ten at once, each its own process, as ten operators (or a runbook) would start them.
    let children: Vec<(String, std::process::Child)> = groups
        .iter()
        .map(|(group, _)| {
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
                .arg("--config")
                .arg(&config_file)
                .args(["group", group, "--format", "json"])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .envs(sim.cutover_env())
                .current_dir(std::env::temp_dir())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start cutover group");
            (group.clone(), child)
        })
        .collect();
    for (group, child) in children {
        let out = child.wait_with_output().expect("cutover group ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{group}: stdout is not JSON ({e}): {stdout}\n{stderr}"));
        assert_eq!(
            (out.status.code(), doc["outcome"].as_str()),
            (Some(0), Some("done")),
            "{group}: {doc:#}\n{stderr}"
        );
    }

    // Every group's own LITERAL EXCLUDE survived the nine other writers, and the include
    // every one of them read is still there.
    let filters = group_filters(&sim).await;
    for (group, _) in &groups {
        let excluded = filters.iter().any(|f| {
            f["name"] == group.as_str()
                && f["patternType"] == "LITERAL"
                && f["filterType"] == "EXCLUDE"
        });
        assert!(excluded, "{group}'s exclusion is missing: {filters:#?}");
    }
    assert!(
        filters
            .iter()
            .any(|f| f["name"] == prefix.as_str() && f["filterType"] == "INCLUDE"),
        "{filters:#?}"
    );
    assert_eq!(filters.len(), GROUPS + 1, "{filters:#?}");

    // Every message once, for every group, across both clusters.
    let sent = producer.stop();
    assert!(sent > 50, "the producer kept writing ({sent} records)");
    let expected = testapp::log_ends(&origin, &topic, PARTITIONS).await;
    sim.wait_caught_up(&topic, PARTITIONS).await;
    for (group, apps) in &groups {
        let outs: Vec<_> = ["origin", "destination", "origin-again"]
            .iter()
            .flat_map(|n| apps.outs(n))
            .filter(|p| p.exists())
            .collect();
        testapp::wait_processed(&outs, &expected, Duration::from_secs(60));
        eprintln!("checking {group}: every message once");
        tally(&outs).assert_exactly_once(&expected);
    }
}

/// Stops every app at the end of the test, passed or failed.
struct StopAll(Vec<Instances>);

impl Drop for StopAll {
    fn drop(&mut self) {
        for apps in &self.0 {
            let _ = apps.try_stop();
        }
    }
}
