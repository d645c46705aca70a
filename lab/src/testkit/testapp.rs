//! The end-to-end tests' consumer application, `cutover-testapp` (a test fixture; its
//! module docs describe the commands), as a test drives it: the argv its hooks run, `start`
//! and `stop`, the tally of what it processed, and what the group looks like on a cluster.
//!
//! An [`App`] is one application identity: a group, its topics, and a pidfile, log and output
//! files in a scratch folder under cargo's `target/tmp` (kept after the test, for reading
//! after a failure). The same `App` is started on the origin, stopped, and started on the
//! destination; each start names its own output file, and [`tally`] reads them all.
//!
//! This module waits by polling with deadlines; it never decides a test's outcome by sleeping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cutover::kafka::{Cluster, GroupMember, OffsetSpec, RdKafkaCluster};
use cutover::model::{GroupId, Role, TopicPartition};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::kafka::{props, Protocol};
use super::lab::{lab, lab_bin, target_tmp_dir};
use super::support::{unique, wait_for};

/// A partition, as the tally and the offset helpers key it.
pub type Partition = (String, i32);

/// The fixture binary cargo built for this test run.
pub fn bin() -> PathBuf {
    lab_bin("cutover-testapp")
}

/// A fresh folder under cargo's `target/tmp`, named after `prefix`.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = target_tmp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// What one run of the fixture's CLI did.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs an argv (the first element is the program), as a hook would.
pub fn run_argv(argv: &[String]) -> Ran {
    let started = Instant::now();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// One consumer application: a group on some topics, and the files that identify it.
#[derive(Debug, Clone)]
pub struct App {
    pub group: String,
    pub topics: Vec<String>,
    pub protocol: Protocol,
    /// Holds the pidfile, the log and the output files.
    pub dir: PathBuf,
    pub pidfile: PathBuf,
    /// Every start appends the child's stderr here.
    pub log: PathBuf,
    pub ready_timeout: Duration,
    pub stop_timeout: Duration,
    /// Joins as a static member with this `group.instance.id`.
    pub instance_id: Option<String>,
    /// Assigns itself every partition and commits without joining the group (`--assign`).
    pub assign: bool,
}

impl App {
    /// An app for `group` on `topics`, with its files in a fresh scratch folder.
    pub fn new(group: &str, topics: &[&str], protocol: Protocol) -> App {
        let dir = scratch_dir("testapp");
        App {
            group: group.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            protocol,
            pidfile: dir.join("app.pid"),
            log: dir.join("app.log"),
            dir,
            ready_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(30),
            instance_id: None,
            assign: false,
        }
    }

    /// The output file named `name` (e.g. `origin`, `destination`) in the app's folder.
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.out"))
    }

    /// The argv that starts the app on `bootstrap`, writing to `out`: a restart hook.
    pub fn start_argv(&self, bootstrap: &str, out: &Path) -> Vec<String> {
        start_argv(&[(self, out.to_path_buf())], bootstrap)
    }

    /// The argv that stops the app: a stop hook.
    pub fn stop_argv(&self) -> Vec<String> {
        vec![
            bin().display().to_string(),
            "stop".into(),
            "--pidfile".into(),
            self.pidfile.display().to_string(),
            "--timeout".into(),
            format!("{}ms", self.stop_timeout.as_millis()),
        ]
    }

    /// Starts the app on `bootstrap`; returns once it owns partitions.
    pub fn try_start(&self, bootstrap: &str, out: &Path) -> Ran {
        run_argv(&self.start_argv(bootstrap, out))
    }

    /// Starts the app and returns its pid; panics with the fixture's output if it fails.
    pub fn start(&self, bootstrap: &str, out: &Path) -> u32 {
        let ran = self.try_start(bootstrap, out);
        assert_eq!(
            ran.code,
            Some(0),
            "cutover-testapp start failed: {ran:?}\n(log: {})",
            self.log.display()
        );
        ran.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("start printed no pid: {ran:?}"))
    }

    /// Stops the app: SIGTERM, and waits for it to exit.
    pub fn try_stop(&self) -> Ran {
        run_argv(&self.stop_argv())
    }

    /// Stops the app; panics with the fixture's output unless it exited cleanly in time.
    pub fn stop(&self) {
        let ran = self.try_stop();
        assert_eq!(
            ran.code,
            Some(0),
            "cutover-testapp stop failed: {ran:?}\n(log: {})",
            self.log.display()
        );
    }
}

/// One `cutover-testapp start` for several instances of one application: the options they
/// share from the first, then each one's output file, pidfile, log and instance id.
fn start_argv(instances: &[(&App, PathBuf)], bootstrap: &str) -> Vec<String> {
    let (first, _) = instances.first().expect("at least one instance");
    let mut argv = vec![
        bin().display().to_string(),
        "start".into(),
        "--bootstrap".into(),
        bootstrap.into(),
        "--group".into(),
        first.group.clone(),
    ];
    for topic in &first.topics {
        argv.extend(["--topic".into(), topic.clone()]);
    }
    argv.extend([
        "--protocol".into(),
        match first.protocol {
            Protocol::Classic => "classic",
            Protocol::Consumer => "consumer",
        }
        .into(),
        "--ready-timeout".into(),
        format!("{}ms", first.ready_timeout.as_millis()),
    ]);
    if first.assign {
        argv.push("--assign".into());
    }
    for (app, out) in instances {
        argv.extend([
            "--out".into(),
            out.display().to_string(),
            "--pidfile".into(),
            app.pidfile.display().to_string(),
            "--log".into(),
            app.log.display().to_string(),
        ]);
        if let Some(id) = &app.instance_id {
            argv.extend(["--instance-id".into(), id.clone()]);
        }
    }
    argv
}

/// Several instances of one application (one group, the same topics), each an [`App`] with
/// its own pidfile, log and output files, that one command starts together and one command
/// stops together, as an orchestrator scales a deployment up and down: the hooks of a test
/// whose group has several members.
#[derive(Debug, Clone)]
pub struct Instances {
    pub apps: Vec<App>,
}

impl Instances {
    /// `count` instances of an app for `group` on `topics`, each in its own scratch folder.
    pub fn new(group: &str, topics: &[&str], protocol: Protocol, count: usize) -> Instances {
        assert!(count > 0, "at least one instance");
        Instances {
            apps: (0..count)
                .map(|_| App::new(group, topics, protocol))
                .collect(),
        }
    }

    /// Makes every instance a static member: `{group}-{n}` is instance n's
    /// `group.instance.id`, the same on every cluster it is started on.
    pub fn with_static_ids(mut self) -> Instances {
        for (n, app) in self.apps.iter_mut().enumerate() {
            app.instance_id = Some(format!("{}-{n}", app.group));
        }
        self
    }

    /// Makes every instance assign itself its partitions and commit without joining the group.
    pub fn with_assign(mut self) -> Instances {
        for app in &mut self.apps {
            app.assign = true;
        }
        self
    }

    /// Each instance's output file named `name` (e.g. `origin`).
    pub fn outs(&self, name: &str) -> Vec<PathBuf> {
        self.apps.iter().map(|a| a.out(name)).collect()
    }

    /// The argv that starts every instance on `bootstrap`, each writing its output file
    /// `name`: a restart hook. It returns once every instance owns partitions.
    pub fn start_argv(&self, bootstrap: &str, name: &str) -> Vec<String> {
        let instances: Vec<(&App, PathBuf)> = self.apps.iter().map(|a| (a, a.out(name))).collect();
        start_argv(&instances, bootstrap)
    }

    /// The argv that stops every instance at once: a stop hook. It returns once every one
    /// has committed, left the group and exited.
    pub fn stop_argv(&self) -> Vec<String> {
        let first = &self.apps[0];
        let mut argv = vec![bin().display().to_string(), "stop".into()];
        for app in &self.apps {
            argv.extend(["--pidfile".into(), app.pidfile.display().to_string()]);
        }
        argv.extend([
            "--timeout".into(),
            format!("{}ms", first.stop_timeout.as_millis()),
        ]);
        argv
    }

    /// Starts every instance; panics with the fixture's output unless all became ready.
    pub fn start(&self, bootstrap: &str, name: &str) {
        let ran = run_argv(&self.start_argv(bootstrap, name));
        assert_eq!(
            ran.code,
            Some(0),
            "cutover-testapp start failed: {ran:?}\n(logs: {:?})",
            self.apps.iter().map(|a| &a.log).collect::<Vec<_>>()
        );
    }

    /// Stops every instance; whether each exited cleanly in time is in the result.
    pub fn try_stop(&self) -> Ran {
        run_argv(&self.stop_argv())
    }

    /// Stops every instance; panics with the fixture's output unless all exited cleanly.
    pub fn stop(&self) {
        let ran = self.try_stop();
        assert_eq!(ran.code, Some(0), "cutover-testapp stop failed: {ran:?}");
    }
}

/// Pids of live (not zombie) processes whose argv contains `arg`, e.g. an app's pidfile:
/// to check that a fixture left nothing running.
pub fn processes_with_arg(arg: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']));
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !zombie && cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes())
        })
        .collect()
}

/// How many times each offset of each partition was processed, read from output files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: BTreeMap<Partition, BTreeMap<i64, u32>>,
}

/// Reads the fixture's output files (`TOPIC PARTITION OFFSET` lines). A last line without
/// its newline is a write in progress and is left out; a missing file or a malformed line
/// panics.
pub fn tally(files: &[PathBuf]) -> Tally {
    let mut t = Tally::default();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        for (n, line) in complete.lines().enumerate() {
            let parsed = line.rsplitn(3, ' ').collect::<Vec<_>>();
            let [offset, partition, topic] = parsed[..] else {
                panic!(
                    "{}:{}: not `TOPIC PARTITION OFFSET`: {line:?}",
                    file.display(),
                    n + 1
                );
            };
            let (Ok(partition), Ok(offset)) = (partition.parse::<i32>(), offset.parse::<i64>())
            else {
                panic!(
                    "{}:{}: not `TOPIC PARTITION OFFSET`: {line:?}",
                    file.display(),
                    n + 1
                );
            };
            *t.counts
                .entry((topic.to_string(), partition))
                .or_default()
                .entry(offset)
                .or_default() += 1;
        }
    }
    t
}

impl Tally {
    /// Adds `other`'s counts, each record renamed by `same` to the partition and offset it is
    /// the copy of (a mirror read under a prefix, a copy whose offsets are shifted): the tally
    /// of records read on both sides of a move, each record once however it was named.
    pub fn add_as(&mut self, other: Tally, same: impl Fn(&Partition, i64) -> (Partition, i64)) {
        for (tp, offsets) in other.counts {
            for (o, n) in offsets {
                let (tp, o) = same(&tp, o);
                *self.counts.entry(tp).or_default().entry(o).or_default() += n;
            }
        }
    }

    /// Records processed, counting every repeat.
    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .flat_map(|offsets| offsets.values())
            .map(|n| u64::from(*n))
            .sum()
    }

    /// Offsets processed more than once, with how many times.
    pub fn duplicates(&self) -> BTreeMap<Partition, Vec<(i64, u32)>> {
        self.counts
            .iter()
            .map(|(tp, offsets)| {
                let repeated: Vec<_> = offsets
                    .iter()
                    .filter(|(_, n)| **n > 1)
                    .map(|(o, n)| (*o, *n))
                    .collect();
                (tp.clone(), repeated)
            })
            .filter(|(_, repeated)| !repeated.is_empty())
            .collect()
    }

    /// Offsets `0..end` of each expected partition that were never processed.
    pub fn gaps(&self, expected: &BTreeMap<Partition, i64>) -> BTreeMap<Partition, Vec<i64>> {
        let empty = BTreeMap::new();
        expected
            .iter()
            .map(|(tp, end)| {
                let seen = self.counts.get(tp).unwrap_or(&empty);
                let missing: Vec<i64> = (0..*end).filter(|o| !seen.contains_key(o)).collect();
                (tp.clone(), missing)
            })
            .filter(|(_, missing)| !missing.is_empty())
            .collect()
    }

    /// Processed offsets outside `0..end` of the expected partitions (other partitions
    /// count entirely).
    pub fn unexpected(&self, expected: &BTreeMap<Partition, i64>) -> BTreeMap<Partition, Vec<i64>> {
        self.counts
            .iter()
            .map(|(tp, offsets)| {
                let end = expected.get(tp).copied().unwrap_or(0);
                let outside: Vec<i64> = offsets
                    .keys()
                    .copied()
                    .filter(|o| *o < 0 || *o >= end)
                    .collect();
                (tp.clone(), outside)
            })
            .filter(|(_, outside)| !outside.is_empty())
            .collect()
    }

    /// Panics unless every offset `0..end` of every expected partition was processed exactly
    /// once and nothing else was.
    pub fn assert_exactly_once(&self, expected: &BTreeMap<Partition, i64>) {
        let duplicates = self.duplicates();
        let gaps = self.gaps(expected);
        let unexpected = self.unexpected(expected);
        assert!(
            duplicates.is_empty() && gaps.is_empty() && unexpected.is_empty(),
            "not exactly once up to {expected:?}:\n  duplicates {}\n  gaps {}\n  unexpected {}",
            summarize(
                &duplicates
                    .iter()
                    .map(|(tp, d)| (tp.clone(), d.iter().map(|x| x.0).collect()))
                    .collect()
            ),
            summarize(&gaps),
            summarize(&unexpected),
        );
    }
}

/// `topic-partition: a..=b, c` per partition, so a thousand missing offsets fit on a line.
fn summarize(offsets: &BTreeMap<Partition, Vec<i64>>) -> String {
    if offsets.is_empty() {
        return "none".to_string();
    }
    let parts: Vec<String> = offsets
        .iter()
        .map(|((topic, partition), list)| {
            let mut ranges: Vec<(i64, i64)> = Vec::new();
            for &o in list {
                match ranges.last_mut() {
                    Some((_, end)) if *end + 1 == o => *end = o,
                    _ => ranges.push((o, o)),
                }
            }
            let ranges: Vec<String> = ranges
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..={b}")
                    }
                })
                .collect();
            format!("{topic}-{partition}: {}", ranges.join(", "))
        })
        .collect();
    parts.join("; ")
}

/// Waits until the files show every offset `0..end` of `expected` processed (at least once).
pub fn wait_processed(files: &[PathBuf], expected: &BTreeMap<Partition, i64>, limit: Duration) {
    wait_for(
        &format!("the app to process everything up to {expected:?}"),
        limit,
        || tally(files).gaps(expected).is_empty().then_some(()),
    );
}

/// A client for the lab's origin or destination.
pub fn lab_cluster(role: Role) -> RdKafkaCluster {
    let bootstrap = match role {
        Role::Origin => &lab().origin,
        Role::Destination => &lab().destination,
    };
    RdKafkaCluster::connect(role, &props(bootstrap), Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("client for the lab's {role}: {e}"))
}

/// The log end offset of partitions `0..partitions` of `topic`.
pub async fn log_ends(
    cluster: &RdKafkaCluster,
    topic: &str,
    partitions: i32,
) -> BTreeMap<Partition, i64> {
    let tps: Vec<_> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    cluster
        .list_offsets(&tps, OffsetSpec::Latest)
        .await
        .unwrap_or_else(|e| panic!("log ends of {topic}: {e}"))
        .into_iter()
        .map(|(tp, end)| {
            let end = end.unwrap_or_else(|e| panic!("log end of {tp}: {e:?}"));
            ((tp.topic.to_string(), tp.partition), end.get())
        })
        .collect()
}

/// Every committed offset of `group`.
pub async fn committed(cluster: &RdKafkaCluster, group: &str) -> BTreeMap<Partition, i64> {
    let id = GroupId::new(group);
    let mut answers = cluster
        .committed_offsets(std::slice::from_ref(&id))
        .await
        .unwrap_or_else(|e| panic!("committed offsets of {group}: {e}"));
    answers
        .remove(&id)
        .expect("an answer for the group asked about")
        .unwrap_or_else(|e| panic!("committed offsets of {group}: {e:?}"))
        .into_iter()
        .map(|(tp, offset)| {
            let offset = offset.unwrap_or_else(|e| panic!("committed offset of {tp}: {e:?}"));
            ((tp.topic.to_string(), tp.partition), offset.get())
        })
        .collect()
}

/// The members `group` has now.
pub async fn members(cluster: &RdKafkaCluster, group: &str) -> Vec<GroupMember> {
    let id = GroupId::new(group);
    cluster
        .describe_groups(std::slice::from_ref(&id))
        .await
        .unwrap_or_else(|e| panic!("describe {group}: {e}"))
        .remove(&id)
        .expect("a description of the group asked about")
        .members
}

/// A producer writing to every partition of a topic, round robin, on its own thread, until
/// stopped: the traffic that keeps flowing while a group is cut over.
pub struct BackgroundProducer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl BackgroundProducer {
    /// Starts writing one record every `interval` to `topic`'s `partitions` partitions.
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        interval: Duration,
    ) -> BackgroundProducer {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        let topic = topic.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0u64;
            while !flag.load(Ordering::SeqCst) {
                let partition = (sent % partitions as u64) as i32;
                let payload = format!("bg-{sent}");
                let record = BaseRecord::<(), _>::to(&topic)
                    .partition(partition)
                    .payload(&payload);
                match producer.send(record) {
                    Ok(()) => sent += 1,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {}
                    Err((e, _)) => panic!("produce to {topic}: {e}"),
                }
                // Pacing, not waiting for a condition: the producer's rate.
                std::thread::sleep(interval);
            }
            producer
                .flush(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("flush to {topic}: {e}"));
            sent
        });
        BackgroundProducer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops writing, waits until every record is acknowledged, and returns how many were
    /// sent.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("stopped once")
            .join()
            .expect("producer thread")
    }
}

impl Drop for BackgroundProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
