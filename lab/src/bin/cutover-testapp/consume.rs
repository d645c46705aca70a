//! `run`: the consumer itself. It processes records in batches (append, fsync, then commit),
//! commits what it holds before a rebalance takes partitions away, and on SIGTERM or SIGINT
//! commits what it processed, leaves its group and exits. It belongs to its group as a
//! member (subscribe, optionally static) or not at all (`--assign`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{error, info, warn};

use crate::control::ready_marker;
use crate::{AppArgs, OffsetReset};

/// Set by SIGTERM and SIGINT; the poll loop checks it between polls.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Handles SIGTERM and SIGINT from now on (they no longer kill the process): a thread waits
/// for either and sets [`STOP_REQUESTED`].
fn handle_stop_signals() -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut term, mut int) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: stopping"),
                _ = int.recv() => info!("SIGINT: stopping"),
            }
        });
        STOP_REQUESTED.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// Most records handled in one batch (one write, one fsync, one commit).
const MAX_BATCH: usize = 1000;

/// Records fetched and not yet written, and the file they go to.
struct Batch {
    out: File,
    out_path: PathBuf,
    records: Vec<(String, i32, i64)>,
    processed: u64,
    /// Set by a failed write. What reached the file is then unknown, so nothing is committed
    /// or written after it: the records are left for the group's next member.
    broken: Option<String>,
    /// The last commit failed: records in the file are not covered by a committed offset.
    uncommitted: bool,
}

impl Batch {
    /// Appends the batch's lines, makes them durable, then commits the next offset of every
    /// partition in the batch. A write error is fatal: committing after it could skip records.
    /// A commit that still fails after retries is logged and left to the next batch's commit
    /// (it covers the same partitions' later offsets); until then those records would be
    /// processed again after a crash.
    fn flush(&mut self, consumer: &BaseConsumer<AppContext>, group: &str) -> Result<(), String> {
        if let Some(e) = &self.broken {
            self.records.clear();
            return Err(e.clone());
        }
        if self.records.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for (topic, partition, offset) in &self.records {
            writeln!(lines, "{topic} {partition} {offset}").expect("writing to a String");
            let entry = next.entry((topic.as_str(), *partition)).or_insert(0);
            *entry = (*entry).max(offset + 1);
        }
        if let Err(e) = self
            .out
            .write_all(lines.as_bytes())
            .and_then(|()| self.out.flush())
            .and_then(|()| self.out.sync_all())
        {
            let e = format!("cannot append to {}: {e}", self.out_path.display());
            self.broken = Some(e.clone());
            self.records.clear();
            return Err(e);
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &next {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .expect("a non-negative offset is valid");
        }
        let mut attempt = 1;
        loop {
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => {
                    self.uncommitted = false;
                    break;
                }
                Err(e) if attempt < 5 => {
                    warn!(group, attempt, "commit failed, retrying: {e}");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    error!(group, "commit failed after {attempt} attempts: {e}");
                    self.uncommitted = true;
                    break;
                }
            }
        }
        self.processed += self.records.len() as u64;
        self.records.clear();
        Ok(())
    }
}

/// The consumer's context: the batch is here so a revocation can flush it from inside the
/// rebalance callback, and the ready marker is written after the first assignment.
struct AppContext {
    group: String,
    batch: Mutex<Batch>,
    ready_marker: Option<PathBuf>,
    ready: AtomicBool,
    /// librdkafka repeats a connection error on every poll: each distinct one is logged once,
    /// then at most every [`REPEAT_LOG_INTERVAL`]. Per message: when it was last logged, and
    /// how often it came since.
    errors_logged: Mutex<BTreeMap<String, (Instant, u32)>>,
}

const REPEAT_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl AppContext {
    fn log_error(&self, message: String) {
        let mut logged = self.errors_logged.lock().expect("no panics while held");
        match logged.get_mut(&message) {
            Some((at, repeats)) if at.elapsed() < REPEAT_LOG_INTERVAL => *repeats += 1,
            Some((at, repeats)) => {
                warn!(group = %self.group, "{message} (and {repeats} times since)");
                (*at, *repeats) = (Instant::now(), 0);
            }
            None => {
                warn!(group = %self.group, "{message}");
                logged.insert(message, (Instant::now(), 0));
            }
        }
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch
            .lock()
            .expect("no code panics while holding the batch")
    }

    /// Creates the ready marker, once: the app owns `assigned` (its first assignment).
    fn mark_ready(&self, assigned: &TopicPartitionList) {
        if let Some(marker) = &self.ready_marker {
            if !self.ready.swap(true, Ordering::SeqCst) {
                match self.write_ready_marker(marker, assigned) {
                    Ok(()) => info!("ready: {}", marker.display()),
                    Err(e) => error!("cannot write {}: {e}", marker.display()),
                }
            }
        }
    }

    fn write_ready_marker(&self, marker: &Path, assigned: &TopicPartitionList) -> io::Result<()> {
        let mut text = String::new();
        for e in assigned.elements() {
            writeln!(text, "{} {}", e.topic(), e.partition()).expect("writing to a String");
        }
        // Written beside and renamed, so `start` never sees a half-written marker.
        let tmp = marker.with_extension("ready.tmp");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, marker)
    }
}

impl ClientContext for AppContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.log_error(format!("librdkafka: {error}: {reason}"));
    }
}

impl ConsumerContext for AppContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            info!(group = %self.group, partitions = %describe(revoked), "partitions revoked");
            // Whoever gets these partitions next starts at the committed offset: commit what
            // was fetched while this member still owns them.
            // A failure is logged here and seen again by the poll loop's next flush.
            if let Err(e) = self.batch().flush(consumer, &self.group) {
                error!(group = %self.group, "{e}");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                info!(group = %self.group, partitions = %describe(assigned), "partitions assigned");
                self.mark_ready(assigned);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => warn!(group = %self.group, "rebalance error: {e}"),
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| format!("{}-{}", e.topic(), e.partition()))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

pub(crate) fn run(
    app: &AppArgs,
    out_path: &Path,
    instance_id: Option<&str>,
    pidfile: Option<&Path>,
) -> ExitCode {
    if let Err(e) = handle_stop_signals() {
        error!("cannot handle SIGTERM and SIGINT: {e}");
        return ExitCode::from(1);
    }
    let out = match OpenOptions::new().create(true).append(true).open(out_path) {
        Ok(f) => f,
        Err(e) => {
            error!("cannot open {}: {e}", out_path.display());
            return ExitCode::from(1);
        }
    };
    let context = AppContext {
        group: app.group.clone(),
        batch: Mutex::new(Batch {
            out,
            out_path: out_path.to_path_buf(),
            records: Vec::new(),
            processed: 0,
            broken: None,
            uncommitted: false,
        }),
        ready_marker: pidfile.map(ready_marker),
        ready: AtomicBool::new(false),
        errors_logged: Mutex::new(BTreeMap::new()),
    };
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &app.bootstrap)
        .set("group.id", &app.group)
        .set("client.id", &app.client_id)
        .set("group.protocol", app.protocol_name())
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", app.offset_reset_name());
    if let Some(id) = instance_id {
        config.set("group.instance.id", id);
    }
    let consumer: BaseConsumer<AppContext> = match config.create_with_context(context) {
        Ok(c) => c,
        Err(e) => {
            error!("cannot create the consumer: {e}");
            return ExitCode::from(1);
        }
    };
    let topics: Vec<&str> = app.topics.iter().map(String::as_str).collect();
    let ctx = consumer.context();
    if app.assign {
        match assign_all(&consumer, app) {
            Ok(assigned) => ctx.mark_ready(&assigned),
            // Stopped before it could assign: nothing was processed.
            Err(None) => return ExitCode::SUCCESS,
            Err(Some(e)) => {
                error!(group = %app.group, "{e}");
                return ExitCode::from(1);
            }
        }
    } else if let Err(e) = consumer.subscribe(&topics) {
        error!("cannot subscribe to {}: {e}", topics.join(","));
        return ExitCode::from(1);
    }
    info!(
        group = %app.group,
        bootstrap = %app.bootstrap,
        protocol = app.protocol_name(),
        instance_id = instance_id.unwrap_or("-"),
        assign = app.assign,
        "consuming {} into {}",
        topics.join(","),
        out_path.display()
    );

    let mut failed = false;
    while !STOP_REQUESTED.load(Ordering::SeqCst) {
        // Wait for one record, then take what is already fetched behind it without waiting.
        let mut wait = Duration::from_millis(100);
        for _ in 0..MAX_BATCH {
            match consumer.poll(wait) {
                None => break,
                Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                    error!(group = %app.group, "fatal consumer error: {e}");
                    failed = true;
                    break;
                }
                Some(Err(e)) => ctx.log_error(format!("consumer error: {e}")),
                Some(Ok(m)) => {
                    ctx.batch()
                        .records
                        .push((m.topic().to_string(), m.partition(), m.offset()));
                }
            }
            wait = Duration::ZERO;
        }
        if let Err(e) = ctx.batch().flush(&consumer, &app.group) {
            error!(group = %app.group, "{e}; stopping without committing");
            failed = true;
        }
        if failed {
            break;
        }
    }
    if !failed {
        info!(group = %app.group, "stop requested: leaving the group");
    }
    // Everything polled so far is written and committed (or `failed` says why not). Records
    // delivered from here on are neither processed nor committed, so the group's next member
    // gets them.
    if !app.assign {
        leave(&consumer, &app.group);
    }
    let (processed, uncommitted) = {
        let batch = ctx.batch();
        (batch.processed, batch.uncommitted)
    };
    if uncommitted {
        error!(group = %app.group, "the last commit failed: the group will process the last batch again");
    }
    drop(consumer);
    info!(group = %app.group, processed, "closed");
    if failed || uncommitted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Leaves the group before the consumer is closed. Unsubscribing revokes the assignment
/// (the batch is empty by now, so nothing more is committed) and sends the leave: for a
/// static classic member only an unsubscribe does, since librdkafka's close sends no
/// LeaveGroup for it (KIP-345). The revocation runs in a poll; closing before it is served
/// would skip that leave. A KIP-848 static member leaves with epoch -2 either way, and its
/// coordinator keeps it until the session times out.
fn leave(consumer: &BaseConsumer<AppContext>, group: &str) {
    consumer.unsubscribe();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let owned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        if owned == 0 {
            break;
        }
        if Instant::now() >= deadline {
            warn!(
                group,
                owned, "still owns partitions 10s after unsubscribing; closing"
            );
            break;
        }
        // Not processed: see the caller.
        let _ = consumer.poll(Duration::from_millis(50));
    }
}

/// How long `--assign` retries reading its topics' partitions and the group's offsets.
const ASSIGN_RETRY: Duration = Duration::from_millis(500);

/// `--assign`: assigns every partition of the app's topics, each at the group's committed
/// offset or, where the group has none, at `--auto-offset-reset`. Retries until it can read
/// both (a mirror topic may be moments old); `Err(None)` when a stop came first.
fn assign_all(
    consumer: &BaseConsumer<AppContext>,
    app: &AppArgs,
) -> Result<TopicPartitionList, Option<String>> {
    let reset = match app.auto_offset_reset {
        OffsetReset::Earliest => Offset::Beginning,
        OffsetReset::Latest => Offset::End,
    };
    let positions = loop {
        if STOP_REQUESTED.load(Ordering::SeqCst) {
            return Err(None);
        }
        match starting_positions(consumer, app, reset) {
            Ok(p) => break p,
            Err(e) => consumer.context().log_error(e),
        }
        // Pacing the retries of an app that waits for its cluster, not a test's wait.
        std::thread::sleep(ASSIGN_RETRY);
    };
    consumer.assign(&positions).map_err(|e| {
        Some(format!(
            "cannot assign {}: {e}",
            describe_positions(&positions)
        ))
    })?;
    info!(group = %app.group, "assigned, resuming at {}", describe_positions(&positions));
    Ok(positions)
}

/// Every partition of the app's topics, at the group's committed offset or `reset`.
pub(crate) fn starting_positions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    app: &AppArgs,
    reset: Offset,
) -> Result<TopicPartitionList, String> {
    let timeout = Duration::from_secs(10);
    let mut all = TopicPartitionList::new();
    for topic in &app.topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| format!("cannot read the partitions of {topic}: {e}"))?;
        let t = metadata
            .topics()
            .first()
            .ok_or_else(|| format!("no metadata for {topic}"))?;
        if let Some(e) = t.error() {
            return Err(format!("cannot read the partitions of {topic}: {e:?}"));
        }
        if t.partitions().is_empty() {
            return Err(format!("{topic} has no partitions"));
        }
        for p in t.partitions() {
            all.add_partition(topic, p.id());
        }
    }
    let committed = consumer.committed_offsets(all, timeout).map_err(|e| {
        format!(
            "cannot read the committed offsets of group {}: {e}",
            app.group
        )
    })?;
    let mut positions = TopicPartitionList::new();
    for e in committed.elements() {
        if let Err(err) = e.error() {
            return Err(format!(
                "cannot read the committed offset of group {} on {}-{}: {err}",
                app.group,
                e.topic(),
                e.partition()
            ));
        }
        let start = match e.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            _ => reset,
        };
        positions
            .add_partition_offset(e.topic(), e.partition(), start)
            .expect("a committed offset or a logical start is valid");
    }
    Ok(positions)
}

fn describe_positions(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| format!("{}-{}@{:?}", e.topic(), e.partition(), e.offset()))
        .collect();
    parts.join(",")
}
