//! Groups that stay on the origin (issue 17, point 1): after a topic is promoted and its
//! producers write on the destination, a group still reading the origin's copy sees nothing
//! new. A reverse link (destination → origin, here with the prefix `dst.`) mirrors the
//! promoted topic back onto the origin, and `cutover group --to origin` moves the group from
//! `T` onto `dst.T` on the same cluster with the forward path's proof: stopped, its final
//! offsets on the mirror (every partition SAFE), excluded from the reverse link's sync,
//! restarted through the restart hook with `{topics}` naming the mirrors, resumed where it
//! stopped. The application's own tally, with `dst.T` read as `T` (the same offsets by
//! construction), shows every record once: those written on the origin before promotion and
//! those written on the destination after.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, tally, Instances, Partition};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::{json, Value};

use crate::world::{run_json, syncing_sim, write_config};

const PREFIX: &str = "dst.";
const PARTITIONS: i32 = 2;

/// Waits until the reverse link's mirror of `topic` holds everything the destination has.
async fn wait_reverse_caught_up(reverse: &Sim, topic: &str) {
    let destination = testapp::lab_cluster(Role::Destination);
    let origin = testapp::lab_cluster(Role::Origin);
    let mirror = format!("{PREFIX}{topic}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = testapp::log_ends(&destination, topic, PARTITIONS).await;
        let o = testapp::log_ends(&origin, &mirror, PARTITIONS).await;
        let renamed: BTreeMap<Partition, i64> = o
            .into_iter()
            .map(|((_, p), e)| ((topic.to_string(), p), e))
            .collect();
        if d == renamed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the reverse mirror {mirror} never caught up: destination {d:?}, mirror {renamed:?} ({})",
            reverse.mirror(&mirror).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A group on the origin whose topic was promoted, with a reverse link mirroring it back as
/// `dst.<topic>`, and a config whose hooks stop the app and start it on `{topics}` there.
struct StayWorld {
    topic: String,
    group: String,
    apps: Instances,
    forward: Sim,
    reverse: Sim,
    dir: std::path::PathBuf,
    config: std::path::PathBuf,
    journal_dir: std::path::PathBuf,
}

impl StayWorld {
    async fn new() -> StayWorld {
        let name = unique("stay");
        let topic = format!("{name}-topic");
        let group = format!("{name}-group");
        let each = |n: usize| -> Vec<(i32, usize)> { (0..PARTITIONS).map(|p| (p, n)).collect() };

        // The forward link mirrors the topic; the group reads it on the origin.
        let forward = syncing_sim(&name).await;
        create_topic(&lab().origin, &topic, PARTITIONS).await;
        produce(&lab().origin, &topic, &each(100)).await;
        forward.create_mirror(&topic).await;
        let apps = Instances::new(&group, &[&topic], Protocol::Classic, 1);
        apps.start(&lab().origin, "origin");
        let first: BTreeMap<Partition, i64> =
            (0..PARTITIONS).map(|p| ((topic.clone(), p), 100)).collect();
        testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(30));

        // The producers stop on the origin, the mirror catches up and is promoted; from then on
        // they write on the destination only.
        produce(&lab().origin, &topic, &each(20)).await;
        forward.wait_caught_up(&topic, PARTITIONS).await;
        // The forward link's sync has copied where the group stands to the destination (what
        // the reverse link's sync brings back in link mode) before promotion ends it.
        let at_120: BTreeMap<Partition, i64> =
            (0..PARTITIONS).map(|p| ((topic.clone(), p), 120)).collect();
        let destination = testapp::lab_cluster(Role::Destination);
        let deadline = Instant::now() + Duration::from_secs(30);
        while testapp::committed(&destination, &group).await != at_120 {
            assert!(
                Instant::now() < deadline,
                "the forward sync never copied 120"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        forward.alter("promote", &topic).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while forward.mirror(&topic).await["mirror_status"] != "STOPPED" {
            assert!(Instant::now() < deadline, "the promotion never ended");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        produce(&lab().destination, &topic, &each(30)).await;

        // The reverse link mirrors the promoted topic back onto the origin as dst.<topic> and
        // would sync the group's offsets (from the destination) if nothing excluded it.
        let filters = json!({ "groupFilters": [
            { "name": name, "patternType": "PREFIXED", "filterType": "INCLUDE" }
        ] })
        .to_string();
        let reverse = Sim::start_reverse(&[
            ("cluster.link.prefix", PREFIX),
            ("consumer.offset.sync.enable", "true"),
            ("consumer.offset.sync.ms", "1000"),
            ("consumer.offset.group.filters", &filters),
        ])
        .await;
        reverse.create_mirror(&topic).await;
        wait_reverse_caught_up(&reverse, &topic).await;

        // The restart hook starts the same app on the origin, on the topics cutover names.
        let mut restart = apps.start_argv(&lab().origin, "reverse");
        let at = restart
            .iter()
            .position(|a| a == "--topic")
            .expect("--topic");
        restart.splice(at..at + 2, ["--topic".to_string(), "{topics}".to_string()]);
        let dir = testapp::scratch_dir("reverse");
        let journal_dir = dir.join("journal");
        let config = write_config(
            &dir,
            &apps.stop_argv(),
            &restart,
            &apps.start_argv(&lab().origin, "origin-again"),
        );

        StayWorld {
            topic,
            group,
            apps,
            forward,
            reverse,
            dir,
            config,
            journal_dir,
        }
    }

    /// Runs `cutover ARGS…` (with `--format json` in ARGS) against both links: (exit code,
    /// stdout as JSON, stderr).
    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        run_json(
            crate::world::cutover_command(&self.config, &self.forward, args)
                .envs(self.reverse.reverse_env()),
        )
    }

    /// The group runs on the origin on `dst.<topic>` only, excluded from the reverse link's
    /// sync, its journal kept apart from forward cutovers'.
    async fn assert_moved_back(&self) {
        let (topic, group) = (&self.topic, &self.group);
        let origin = testapp::lab_cluster(Role::Origin);
        let members = testapp::members(&origin, group).await;
        assert!(!members.is_empty(), "the group runs on the origin again");
        for m in &members {
            assert!(
                m.assignment
                    .iter()
                    .all(|tp| tp.topic.as_str() == format!("{PREFIX}{topic}")),
                "{m:?}"
            );
        }
        let (_, filters) = self
            .reverse
            .get(
                &self
                    .reverse
                    .link_url("/configs/consumer.offset.group.filters"),
            )
            .await;
        let entries: Value =
            serde_json::from_str(filters["value"].as_str().unwrap_or("{}")).expect("filter JSON");
        assert!(
            entries["groupFilters"]
                .as_array()
                .is_some_and(|f| f.contains(&json!(
                    { "name": group, "patternType": "LITERAL", "filterType": "EXCLUDE" }
                ))),
            "{filters}"
        );
        assert!(cutover::journal::path_for(
            &self.journal_dir.join("to-origin"),
            &cutover::model::GroupId::new(group)
        )
        .exists());
    }

    /// Every record once, whether written on the origin before promotion or on the
    /// destination after: 150 per partition.
    async fn assert_every_record_once(self) {
        let (topic, apps) = (&self.topic, &self.apps);
        let expected: BTreeMap<Partition, i64> =
            (0..PARTITIONS).map(|p| ((topic.clone(), p), 150)).collect();
        let outputs = || {
            let mut files = apps.outs("origin");
            files.extend(apps.outs("reverse"));
            files.extend(apps.outs("origin-again").into_iter().filter(|f| f.exists()));
            files
        };
        // dst.<topic> holds <topic>'s records at the same offsets.
        let as_source = |t: testapp::Tally| {
            let mut all = testapp::Tally::default();
            all.add_as(t, |(t, p), o| {
                ((t.strip_prefix(PREFIX).unwrap_or(t).to_string(), *p), o)
            });
            all
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !as_source(tally(&outputs())).gaps(&expected).is_empty() && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        apps.stop();
        as_source(tally(&outputs())).assert_exactly_once(&expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_stays_moves_onto_the_reverse_mirror_with_nothing_read_twice_or_skipped() {
    let w = StayWorld::new().await;
    let (topic, group) = (w.topic.clone(), w.group.clone());
    let run = |args: &[&str]| w.run(args);
    // Declared to stay, the group is judged by the way back, read from the reverse link's
    // REST API (its prefix); the forward link's promoted mirror still fails the audit.
    let (code, doc, stderr) = run(&[
        "audit", "--window", "1s", "--stay", &group, "--format", "json",
    ]);
    assert_eq!(code, 1, "{doc}\n{stderr}");
    let ours: Vec<&Value> = doc["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["group"] == json!(group))
        .collect();
    assert_eq!(ours.len(), 1, "{doc}");
    assert_eq!(ours[0]["classification"], "stays_on_origin", "{doc}");
    assert!(
        !doc["findings"]
            .to_string()
            .contains("STAY_WITHOUT_REVERSE_PATH"),
        "{doc}"
    );

    // Before the move, verify --to origin judges the group against the reverse mirror: its
    // offsets on the origin's topic are on the mirror (not synced there yet, still running),
    // with the 30 records written on the destination still to read.
    let (code, doc, stderr) = run(&["verify", &group, "--to", "origin", "--format", "json"]);
    assert_eq!(code, 1, "{doc}\n{stderr}");
    let partitions = doc["groups"][0]["partitions"]
        .as_array()
        .expect("partitions");
    assert_eq!(partitions.len(), PARTITIONS as usize, "{doc}");
    for p in partitions {
        assert_eq!(p["topic"], json!(topic), "{doc}");
        assert_eq!(
            p["mirror_topic"],
            json!(format!("{PREFIX}{topic}")),
            "{doc}"
        );
        assert_eq!(p["origin_committed"], json!(120), "{doc}");
        assert_eq!(p["mirror_end"], json!(150), "{doc}");
        assert_eq!(p["mirror_lag"], json!(0), "{doc}");
        assert_eq!(p["consumer_lag"], json!(30), "{doc}");
        assert_eq!(p["verdict"], "NOT_SYNCED", "{doc}");
    }
    let blocking: Vec<&str> = doc["groups"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["blocking"] == true)
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert_eq!(blocking, ["GROUP_ACTIVE_ON_ORIGIN"], "{doc}");

    // The plan shows the restart hook starting the app on the mirror, on the origin.
    let (_, plan, stderr) = run(&[
        "group",
        &group,
        "--to",
        "origin",
        "--dry-run",
        "--format",
        "json",
    ]);
    let restart = plan["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("steps: {plan}\n{stderr}"))
        .iter()
        .find(|s| s["phase"] == "restarting")
        .unwrap_or_else(|| panic!("a restart step: {plan}"));
    let action = restart["action"].as_str().unwrap_or_default();
    assert!(
        action.contains(&format!(r#""{PREFIX}{topic}""#)),
        "{restart}"
    );
    assert!(
        action.contains(&format!(r#""{}""#, lab().origin)),
        "{restart}"
    );
    assert!(
        restart["check"]
            .as_str()
            .is_some_and(|c| c.contains("active on the reverse link's mirror topics on the origin")),
        "{restart}"
    );

    let (code, doc, stderr) = run(&["group", &group, "--to", "origin", "--format", "json"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["outcome"], "done", "{doc}");

    w.assert_moved_back().await;

    // `cutover report GROUP` finds the journal of the move back, which says where it went.
    let (code, doc, stderr) = w.run(&["report", &group, "--format", "json"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    let text = doc.to_string();
    assert!(text.contains(r#""restart_on":"origin""#), "{text}");
    assert!(text.contains(r#""outcome":"done""#), "{text}");
    w.assert_every_record_once().await;
}

/// In link mode the reverse link's own sync writes the final offsets on the mirror topics:
/// the group's offsets on the destination, which the forward link synced before promotion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_link_mode_the_reverse_links_sync_brings_the_offsets_back() {
    let w = StayWorld::new().await;
    let group = w.group.clone();
    let (code, doc, stderr) = w.run(&[
        "group",
        &group,
        "--to",
        "origin",
        "--final-offsets",
        "link",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["outcome"], "done", "{doc}");
    w.assert_moved_back().await;
    w.assert_every_record_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_stage_moves_a_group_that_stays_back_onto_the_reverse_mirror() {
    let w = StayWorld::new().await;
    let runbook = w.dir.join("back.toml");
    std::fs::write(
        &runbook,
        format!(
            r#"
name = "stay-behind"

[[stage]]
kind = "groups"
name = "back to the origin"
groups = ["{group}"]
to = "origin"
"#,
            group = w.group
        ),
    )
    .expect("write the runbook");
    let runbook = runbook.display().to_string();
    let (code, doc, stderr) = w.run(&["run", &runbook, "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert!(
        doc.to_string()
            .contains("back to the origin, onto the reverse link's mirrors"),
        "{doc}"
    );
    let (code, doc, stderr) = w.run(&["run", &runbook, "--format", "json"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["outcome"], "done", "{doc}");
    w.assert_moved_back().await;
    w.assert_every_record_once().await;
}
