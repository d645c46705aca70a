//! The lab world of the `cutover group` tests: mirrored topics written by background producers,
//! an app (one or more instances of `cutover-testapp`, which records every message it
//! processes) consuming them on the origin, and a config whose hooks stop it there and start it
//! on the destination. Afterwards every message produced before, during and after a cutover
//! must have been processed exactly once across both clusters.
//!
//! A [`World`] is built for a [`Shape`] of group: its topics and their partition counts, how
//! many instances of the app form it (one hook stops them all, one starts them all), and how
//! they belong to it (classic or KIP-848 members, static or not, or no membership at all:
//! assign and commit).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover::journal;
use cutover::model::{GroupId, Role};
use cutover_lab::testkit::testapp::{self, tally, BackgroundProducer, Instances, Partition};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::{json, Value};

/// A link that syncs the offsets of groups starting with `prefix` every second.
pub(crate) async fn syncing_sim(prefix: &str) -> Sim {
    let filters = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await
}

/// The shape of the group a [`World`] cuts over: its topics, how many instances of the app
/// form it, and how they belong to it.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// Each topic's name suffix and partition count.
    pub(crate) topics: Vec<(&'static str, i32)>,
    pub(crate) instances: usize,
    pub(crate) protocol: Protocol,
    /// Every instance is a static member (`group.instance.id`).
    pub(crate) static_members: bool,
    /// The instances assign themselves every partition and commit without joining the group.
    pub(crate) assign: bool,
}

impl Default for Shape {
    /// One member, classic protocol, on one topic of two partitions.
    fn default() -> Shape {
        Shape {
            topics: vec![("topic", 2)],
            instances: 1,
            protocol: Protocol::Classic,
            static_members: false,
            assign: false,
        }
    }
}

/// One cutover world: mirrored topics written by background producers, an app (one or more
/// instances) consuming them on the origin, and a config whose hooks drive the app.
pub(crate) struct World {
    pub(crate) sim: Sim,
    /// Each topic and its partition count.
    pub(crate) topics: Vec<(String, i32)>,
    pub(crate) group: String,
    pub(crate) apps: Instances,
    /// Holds the config, the journal and the hooks' scripts.
    pub(crate) dir: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) journal_dir: PathBuf,
    pub(crate) producers: Vec<BackgroundProducer>,
    /// When the producers started.
    pub(crate) producing_since: Instant,
}

/// The producers write for at least this long, so that the exactly-once check covers records
/// written before, during and after a cutover, which can take under a second.
pub(crate) const MIN_PRODUCING: Duration = Duration::from_millis(1500);

/// Records written to every partition before the app first starts.
pub(crate) const FIRST: usize = 100;

/// `cutover --config CONFIG ARGS…` pointed at the lab and `sim`, with nothing else from the
/// test's environment.
pub(crate) fn cutover_command(config: &Path, sim: &Sim, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.cutover_env())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Runs a `cutover … --format json` command to its end: (exit code, stdout as JSON, stderr).
pub(crate) fn run_json(cmd: &mut std::process::Command) -> (i32, Value, String) {
    let out = cmd.output().expect("run cutover");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// Writes `dir/cutover.toml` for a lab test: quick polls and timeouts, journals in
/// `dir/journal`, and these hooks (argv arrays). Returns its path.
pub(crate) fn write_config(
    dir: &Path,
    stop: &[String],
    restart: &[String],
    rollback: &[String],
) -> PathBuf {
    let config = dir.join("cutover.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[defaults]
poll-interval = "250ms"

[cutover]
journal-dir = "{journal}"
stop-timeout = "30s"
mirror-timeout = "20s"
restart-timeout = "40s"
restart-window = "2s"
sync-timeout-factor = 4

[hooks.stop]
exec = {stop}
retries = 1
timeout = "40s"

[hooks.restart]
exec = {restart}
timeout = "40s"

[hooks.rollback]
exec = {rollback}
timeout = "40s"
"#,
            journal = dir.join("journal").display(),
            stop = toml_array(stop),
            restart = toml_array(restart),
            rollback = toml_array(rollback),
        ),
    )
    .expect("write the config");
    config
}

pub(crate) fn toml_array(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| json!(a).to_string()).collect();
    format!("[{}]", items.join(", "))
}

impl World {
    /// The default shape: one classic member on one topic of two partitions.
    pub(crate) async fn new(label: &str, stop_hook: Option<Vec<String>>) -> World {
        World::with_shape(label, Shape::default(), stop_hook).await
    }

    pub(crate) async fn with_shape(
        label: &str,
        shape: Shape,
        stop_hook: Option<Vec<String>>,
    ) -> World {
        let prefix = unique(label);
        let group = format!("{prefix}-group");
        let topics: Vec<(String, i32)> = shape
            .topics
            .iter()
            .map(|(suffix, partitions)| (format!("{prefix}-{suffix}"), *partitions))
            .collect();
        let sim = syncing_sim(&prefix).await;
        for (topic, partitions) in &topics {
            create_topic(&lab().origin, topic, *partitions).await;
            let counts: Vec<(i32, usize)> = (0..*partitions).map(|p| (p, FIRST)).collect();
            produce(&lab().origin, topic, &counts).await;
            sim.create_mirror(topic).await;
        }
        for (topic, partitions) in &topics {
            sim.wait_caught_up(topic, *partitions).await;
        }
        let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
        let mut apps = Instances::new(&group, &names, shape.protocol, shape.instances);
        if shape.static_members {
            apps = apps.with_static_ids();
        }
        if shape.assign {
            apps = apps.with_assign();
        }
        apps.start(&lab().origin, "origin");
        // The group has committed the first records before anything else happens.
        let first: BTreeMap<Partition, i64> = topics
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| ((t.clone(), p), FIRST as i64)))
            .collect();
        testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(30));
        let origin = testapp::lab_cluster(Role::Origin);
        let mut committed = BTreeMap::new();
        for _ in 0..100 {
            committed = testapp::committed(&origin, &group).await;
            if committed == first {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(committed, first, "the app committed what it processed");
        let dir = testapp::scratch_dir("cutover");
        let journal_dir = dir.join("journal");
        let stop = stop_hook.unwrap_or_else(|| apps.stop_argv());
        let config = write_config(
            &dir,
            &stop,
            &apps.start_argv(&lab().destination, "destination"),
            &apps.start_argv(&lab().origin, "origin-again"),
        );
        let producers = topics
            .iter()
            .map(|(topic, partitions)| {
                BackgroundProducer::start(
                    &lab().origin,
                    topic,
                    *partitions,
                    Duration::from_millis(20),
                )
            })
            .collect();
        World {
            sim,
            topics,
            group,
            apps,
            dir,
            config,
            journal_dir,
            producers,
            producing_since: Instant::now(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> std::process::Command {
        cutover_command(&self.config, &self.sim, args)
    }

    /// Runs `cutover group … --format json` to its end: (exit code, summary, stderr).
    pub(crate) fn group(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec!["group", self.group.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().expect("run cutover group");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let doc = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
        (out.status.code().unwrap_or(-1), doc, stderr)
    }

    pub(crate) fn journal(&self) -> PathBuf {
        journal::path_for(&self.journal_dir, &GroupId::new(&self.group))
    }

    /// Every output file the app's instances wrote, on either cluster: the hooks' (`origin`,
    /// `destination`, `origin-again`) and any other start's (an operator's, someone else's).
    pub(crate) fn outputs(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .apps
            .apps
            .iter()
            .flat_map(|a| std::fs::read_dir(&a.dir).into_iter().flatten())
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "out"))
            .collect();
        files.sort();
        files
    }

    /// Stops the producers, waits until the app (wherever it runs) has processed everything,
    /// stops it, and asserts exactly once across both clusters.
    pub(crate) async fn assert_exactly_once(self) {
        // A cutover takes seconds: the producers (one record per 20 ms) wrote throughout it.
        self.assert_exactly_once_of_more_than(50).await
    }

    /// The same for a test that ends in under a second (a refusal), whose producers wrote
    /// fewer records.
    pub(crate) async fn assert_exactly_once_of_more_than(mut self, min_sent: u64) {
        let (t, expected) = self.settle(min_sent).await;
        t.assert_exactly_once(&expected);
    }

    /// Stops the producers (after [`MIN_PRODUCING`] unless `min_sent` is 0), waits until the
    /// app, wherever it runs, has processed every record written (up to a minute: records it
    /// never gets stay gaps), stops it, and returns the app's own tally with each partition's
    /// log end: what an exactly-once check or a count of duplicates and gaps reads.
    pub(crate) async fn settle(
        &mut self,
        min_sent: u64,
    ) -> (testapp::Tally, BTreeMap<Partition, i64>) {
        if min_sent > 0 {
            tokio::time::sleep_until((self.producing_since + MIN_PRODUCING).into()).await;
        }
        let sent: u64 = self.producers.drain(..).map(BackgroundProducer::stop).sum();
        assert!(
            sent > min_sent,
            "the producers kept writing during the test ({sent} records)"
        );
        let origin = testapp::lab_cluster(Role::Origin);
        let mut expected: BTreeMap<Partition, i64> = BTreeMap::new();
        for (topic, partitions) in &self.topics {
            expected.extend(testapp::log_ends(&origin, topic, *partitions).await);
            self.sim.wait_caught_up(topic, *partitions).await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !tally(&self.outputs()).gaps(&expected).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.apps.stop();
        (tally(&self.outputs()), expected)
    }
}

/// Sets `[cutover] final-offsets` in the world's configuration (the default is `agent`).
pub(crate) fn final_offsets(w: &World, mode: &str) {
    set_setting(w, "cutover", "final-offsets", &json!(mode).to_string());
}

/// Sets `key = value` (`value` in TOML, e.g. `"\"3s\""`) in `[section]` of the world's
/// configuration: replaces the key's line in that section, or adds it (and the section).
pub(crate) fn set_setting(w: &World, section: &str, key: &str, value: &str) {
    let config = std::fs::read_to_string(&w.config).expect("read the config");
    let header = format!("[{section}]");
    let line = format!("{key} = {value}");
    let mut lines: Vec<String> = config.lines().map(str::to_string).collect();
    match lines.iter().position(|l| l.trim() == header) {
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |n| start + 1 + n);
            let existing = (start + 1..end).find(|i| {
                lines[*i]
                    .split_once('=')
                    .is_some_and(|(k, _)| k.trim() == key)
            });
            match existing {
                Some(i) => lines[i] = line,
                None => lines.insert(start + 1, line),
            }
        }
        None => lines.extend([String::new(), header, line]),
    }
    std::fs::write(&w.config, lines.join("\n") + "\n").expect("write the config");
}

impl Drop for World {
    /// A test that fails half-way leaves no app running.
    fn drop(&mut self) {
        let _ = self.apps.try_stop();
    }
}

/// Watches the journal closely (every 10 ms) until it shows `phase` entered; false when
/// the cutover finished first or `limit` passed.
pub(crate) fn wait_for_phase(journal: &Path, phase: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(back) = journal::read(journal) {
            for e in &back.entries {
                match &e.record {
                    journal::Record::Phase { phase: p, .. } if p == phase => return true,
                    journal::Record::Finished { .. } => return false,
                    _ => {}
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// How many times a journal says the restart hook succeeded.
pub(crate) fn successful_restarts(back: &journal::ReadBack) -> usize {
    back.entries
        .iter()
        .filter(|e| {
            matches!(&e.record, journal::Record::Outcome { effect, ok: true, .. } if effect == "hook:restart")
        })
        .count()
}

pub(crate) fn outcome(doc: &Value) -> &str {
    doc["outcome"].as_str().unwrap_or("?")
}

/// What `file`'s timeline entry `entry` (1-based, a command) expects on the simulator: the lab
/// test of the same situation must end the same way.
pub(crate) fn scenario_expect(file: &str, entry: usize) -> cutover::sim::scenario::Expect {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let s =
        cutover::sim::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    match &s.timeline[entry - 1].what {
        cutover::sim::scenario::What::Command { expect, .. } => (**expect).clone(),
        other => panic!("{file} entry {entry} is not a command: {other:?}"),
    }
}

/// Asserts the lab's cutover ended as the twin scenario's does.
pub(crate) fn assert_same_as_scenario(code: i32, doc: &Value, file: &str, entry: usize) {
    let want = scenario_expect(file, entry);
    assert_eq!(
        Some(code),
        want.exit,
        "exit code differs from {file} entry {entry}"
    );
    assert_eq!(
        Some(outcome(doc)),
        want.outcome.as_deref(),
        "outcome differs from {file}"
    );
    if let Some(needle) = &want.reason_contains {
        // The scenario names its own sync interval; compare the part before the numbers.
        let stem = needle.split(" within").next().unwrap_or(needle);
        let reason = doc["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(stem), "{reason:?} lacks {stem:?} ({file})");
    }
}
