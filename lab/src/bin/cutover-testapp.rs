//! `cutover-testapp`: a **test fixture**, not part of cutover. It is a real Kafka consumer
//! application that the end-to-end tests stop on the origin and restart on the destination
//! through cutover's hooks, so that they can check that every record was processed exactly
//! once across both clusters.
//!
//! ```text
//! cutover-testapp run   --bootstrap HOST:PORT --group G --topic T [--topic T2] --out FILE
//!                       [--protocol classic|consumer] [--auto-offset-reset earliest|latest]
//!                       [--client-id ID] [--pidfile P]
//! cutover-testapp start <the same as run> --pidfile P [--log L] [--ready-timeout 30s]
//! cutover-testapp stop  --pidfile P [--timeout 30s]
//! ```
//!
//! **`run`** consumes in the foreground. "Processing" a record means appending the line
//! `TOPIC PARTITION OFFSET\n` to FILE. Records are handled in batches (what one poll and the
//! records already fetched behind it return): the batch's lines are appended, flushed and
//! fsynced, and only *then* are the batch's offsets committed, synchronously
//! (`enable.auto.commit=false`). So a crash can only make records be processed again (a
//! duplicate line), never skipped; and a clean stop leaves nothing processed but uncommitted.
//! The same happens before partitions are revoked in a rebalance, while this member still
//! owns them. On SIGTERM or SIGINT it stops polling, writes and commits what it has, closes
//! the consumer (which leaves the group) and exits 0. After its first partition assignment it
//! creates `P.ready` (listing the assigned partitions) when `--pidfile P` is given. It logs to
//! stderr (`CUTOVER_LOG` sets the filter). Without a committed offset a partition starts at
//! `--auto-offset-reset` (default `earliest`, so a group restarted on a destination whose
//! offsets were not synced processes everything again, and the tests see the duplicates).
//!
//! **`start`** runs `run` as a detached child (its own process group, stdin from
//! /dev/null, stdout and stderr appended to L or sent to /dev/null), writes the child's pid to
//! P, and waits for `P.ready`. It prints the pid on stdout and exits 0, leaving the child
//! running. It exits 1, with the end of the log, if the child exits first or is not ready in
//! time (it then kills the child, which owns no partitions yet, and removes P). It refuses,
//! exit 1, while P names a live `cutover-testapp run` for that pidfile.
//!
//! **`stop`** sends SIGTERM to the pid in P and waits for the process to exit (exit 0). If it
//! has not exited by `--timeout`, it sends SIGKILL and exits 1. A missing pidfile or a process
//! that is already gone is reported and exits 0, so `stop` can be repeated. It removes P and
//! `P.ready`. A pid is only signalled while `/proc/PID/cmdline` shows the `run` started for
//! this pidfile, so a recycled pid is never killed. Linux only.
//!
//! Exit codes: 0 done; 1 failed (run: could not consume, write, or make its last commit;
//! start: not ready, or already running; stop: had to SIGKILL); 2 bad usage.
//!
//! The hooks of an end-to-end test call it as: stop hook `cutover-testapp stop --pidfile P`,
//! restart hook `cutover-testapp start --bootstrap <destination> … --pidfile P`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use cutover::duration::parse as parse_duration;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{error, info, warn};

#[derive(Debug, Parser)]
#[command(
    name = "cutover-testapp",
    version,
    about = "Test fixture: a Kafka consumer that records every record it processes, for cutover's end-to-end tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Consume in the foreground until SIGTERM or SIGINT.
    Run {
        #[command(flatten)]
        app: AppArgs,
        /// Create PIDFILE.ready after the first partition assignment.
        #[arg(long)]
        pidfile: Option<PathBuf>,
    },
    /// Start `run` in the background and wait until it has partitions.
    Start {
        #[command(flatten)]
        app: AppArgs,
        /// Where to write the child's pid.
        #[arg(long)]
        pidfile: PathBuf,
        /// Append the child's stdout and stderr here (default: /dev/null).
        #[arg(long)]
        log: Option<PathBuf>,
        /// How long to wait for the first partition assignment.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        ready_timeout: Duration,
    },
    /// Stop the process a pidfile names: SIGTERM, then SIGKILL after the timeout.
    Stop {
        #[arg(long)]
        pidfile: PathBuf,
        /// How long to wait for a clean exit after SIGTERM.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// What `run` consumes and where it writes; `start` passes the same to its child.
#[derive(Debug, Clone, Args)]
struct AppArgs {
    /// bootstrap.servers of the cluster to consume from.
    #[arg(long)]
    bootstrap: String,
    /// The consumer group.
    #[arg(long)]
    group: String,
    /// A topic to subscribe to (repeatable).
    #[arg(long = "topic", required = true)]
    topics: Vec<String>,
    /// Append one `TOPIC PARTITION OFFSET` line per processed record to this file.
    #[arg(long)]
    out: PathBuf,
    /// The consumer group protocol.
    #[arg(long, value_enum, default_value_t = GroupProtocol::Classic)]
    protocol: GroupProtocol,
    /// Where a partition without a committed offset starts.
    #[arg(long, value_enum, default_value_t = OffsetReset::Earliest)]
    auto_offset_reset: OffsetReset,
    /// The client.id the group's members show.
    #[arg(long, default_value = "cutover-testapp")]
    client_id: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GroupProtocol {
    Classic,
    Consumer,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OffsetReset {
    Earliest,
    Latest,
}

impl AppArgs {
    /// The arguments that give `run` this configuration, with `--out` made absolute so the
    /// detached child does not depend on the working directory.
    fn to_argv(&self) -> io::Result<Vec<OsString>> {
        let mut argv: Vec<OsString> = vec![
            "--bootstrap".into(),
            self.bootstrap.clone().into(),
            "--group".into(),
            self.group.clone().into(),
        ];
        for topic in &self.topics {
            argv.push("--topic".into());
            argv.push(topic.into());
        }
        argv.push("--out".into());
        argv.push(std::path::absolute(&self.out)?.into());
        argv.push("--protocol".into());
        argv.push(self.protocol_name().into());
        argv.push("--auto-offset-reset".into());
        argv.push(
            match self.auto_offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
            }
            .into(),
        );
        argv.push("--client-id".into());
        argv.push(self.client_id.clone().into());
        Ok(argv)
    }

    fn protocol_name(&self) -> &'static str {
        match self.protocol {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .init();
    match cli.command {
        Cmd::Run { app, pidfile } => run(&app, pidfile.as_deref()),
        Cmd::Start {
            app,
            pidfile,
            log,
            ready_timeout,
        } => start(&app, &pidfile, log.as_deref(), ready_timeout),
        Cmd::Stop { pidfile, timeout } => stop(&pidfile, timeout),
    }
}

// ---------------------------------------------------------------------------------------------
// run

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
                if let Some(marker) = &self.ready_marker {
                    if !self.ready.swap(true, Ordering::SeqCst) {
                        match self.write_ready_marker(marker, assigned) {
                            Ok(()) => info!("ready: {}", marker.display()),
                            Err(e) => error!("cannot write {}: {e}", marker.display()),
                        }
                    }
                }
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

fn run(app: &AppArgs, pidfile: Option<&Path>) -> ExitCode {
    if let Err(e) = handle_stop_signals() {
        error!("cannot handle SIGTERM and SIGINT: {e}");
        return ExitCode::from(1);
    }
    let out = match OpenOptions::new().create(true).append(true).open(&app.out) {
        Ok(f) => f,
        Err(e) => {
            error!("cannot open {}: {e}", app.out.display());
            return ExitCode::from(1);
        }
    };
    let context = AppContext {
        group: app.group.clone(),
        batch: Mutex::new(Batch {
            out,
            out_path: app.out.clone(),
            records: Vec::new(),
            processed: 0,
            broken: None,
            uncommitted: false,
        }),
        ready_marker: pidfile.map(ready_marker),
        ready: AtomicBool::new(false),
        errors_logged: Mutex::new(BTreeMap::new()),
    };
    let consumer: BaseConsumer<AppContext> = match ClientConfig::new()
        .set("bootstrap.servers", &app.bootstrap)
        .set("group.id", &app.group)
        .set("client.id", &app.client_id)
        .set("group.protocol", app.protocol_name())
        .set("enable.auto.commit", "false")
        .set(
            "auto.offset.reset",
            match app.auto_offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
            },
        )
        .create_with_context(context)
    {
        Ok(c) => c,
        Err(e) => {
            error!("cannot create the consumer: {e}");
            return ExitCode::from(1);
        }
    };
    let topics: Vec<&str> = app.topics.iter().map(String::as_str).collect();
    if let Err(e) = consumer.subscribe(&topics) {
        error!("cannot subscribe to {}: {e}", topics.join(","));
        return ExitCode::from(1);
    }
    info!(
        group = %app.group,
        bootstrap = %app.bootstrap,
        protocol = app.protocol_name(),
        "consuming {} into {}",
        topics.join(","),
        app.out.display()
    );

    let ctx = consumer.context();
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
        info!(group = %app.group, "stop requested: closing the consumer");
    }
    // Dropping the consumer closes it: that revokes the assignment (the batch is empty by
    // now, so nothing more is committed) and leaves the group. Records still delivered while
    // closing are neither processed nor committed, so the group's next member gets them.
    let (processed, uncommitted) = {
        let batch = ctx.batch();
        (batch.processed, batch.uncommitted)
    };
    if uncommitted {
        error!(group = %app.group, "the last commit failed: the group will process the last batch again");
    }
    drop(consumer);
    info!(group = %app.group, processed, "closed: left the group");
    if failed || uncommitted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

// ---------------------------------------------------------------------------------------------
// start

fn ready_marker(pidfile: &Path) -> PathBuf {
    let mut name = pidfile.as_os_str().to_owned();
    name.push(".ready");
    PathBuf::from(name)
}

fn start(app: &AppArgs, pidfile: &Path, log: Option<&Path>, ready_timeout: Duration) -> ExitCode {
    match try_start(app, pidfile, log, ready_timeout) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cutover-testapp: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn try_start(
    app: &AppArgs,
    pidfile: &Path,
    log: Option<&Path>,
    ready_timeout: Duration,
) -> io::Result<ExitCode> {
    let pidfile = std::path::absolute(pidfile)?;
    let marker = ready_marker(&pidfile);
    if let Ok(pid) = read_pidfile(&pidfile) {
        if let Liveness::Ours = liveness(pid, &pidfile) {
            eprintln!(
                "cutover-testapp: error: already running as pid {pid} (pidfile {}); stop it first",
                pidfile.display()
            );
            return Ok(ExitCode::from(1));
        }
    }
    // A marker left by an earlier run must not make this start look ready.
    remove_if_present(&marker)?;

    let (stdout, stderr) = match log {
        Some(path) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| with_path(e, "cannot open the log", path))?;
            (Stdio::from(f.try_clone()?), Stdio::from(f))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("run")
        .args(app.to_argv()?)
        .arg("--pidfile")
        .arg(&pidfile)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // Its own process group keeps the child out of the caller's: a ^C or a kill of the
    // group meant for the hook that started it does not reach it.
    command.process_group(0);
    let mut child = command.spawn()?;
    let pid = child.id();
    write_atomically(&pidfile, &format!("{pid}\n"))?;

    let started = Instant::now();
    let deadline = started + ready_timeout;
    loop {
        if marker.exists() {
            eprintln!(
                "cutover-testapp: started pid {pid} (group {} on {}), ready in {:.1}s",
                app.group,
                app.bootstrap,
                started.elapsed().as_secs_f64()
            );
            println!("{pid}");
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            eprintln!(
                "cutover-testapp: error: pid {pid} exited ({status}) before it got partitions of group {} on {}",
                app.group, app.bootstrap
            );
            break;
        }
        if Instant::now() >= deadline {
            // It has no partitions yet, so it has processed and committed nothing: killing
            // it loses no work.
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "cutover-testapp: error: pid {pid} got no partitions of group {} on {} within {:?}; killed it",
                app.group, app.bootstrap, ready_timeout
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    remove_if_present(&pidfile)?;
    remove_if_present(&marker)?;
    match log {
        Some(path) => eprintln!(
            "--- last lines of {}\n{}",
            path.display(),
            log_tail(path, 20)
        ),
        None => eprintln!("(no --log given: the child's output went to /dev/null)"),
    }
    Ok(ExitCode::from(1))
}

/// The last `lines` lines of a file (read from at most its last 16 KiB).
fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read it: {e})"),
    }
}

// ---------------------------------------------------------------------------------------------
// stop

fn stop(pidfile: &Path, timeout: Duration) -> ExitCode {
    let pidfile = match std::path::absolute(pidfile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cutover-testapp: error: {}: {e}", pidfile.display());
            return ExitCode::from(1);
        }
    };
    let code = match read_pidfile(&pidfile) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!(
                "cutover-testapp: no pidfile {}: nothing to stop",
                pidfile.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Not ours to guess: leave the file for a person to look at.
            eprintln!("cutover-testapp: error: {e}");
            return ExitCode::from(1);
        }
        Ok(pid) => match liveness(pid, &pidfile) {
            Liveness::Gone => {
                eprintln!("cutover-testapp: pid {pid} is not running: nothing to stop");
                ExitCode::SUCCESS
            }
            Liveness::Other => {
                eprintln!(
                    "cutover-testapp: pid {pid} is not the app of {} (the pid was reused): nothing to stop",
                    pidfile.display()
                );
                ExitCode::SUCCESS
            }
            Liveness::Ours => terminate(pid, &pidfile, timeout),
        },
    };
    for path in [ready_marker(&pidfile), pidfile] {
        if let Err(e) = remove_if_present(&path) {
            eprintln!(
                "cutover-testapp: error: cannot remove {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
    }
    code
}

fn terminate(pid: i32, pidfile: &Path, timeout: Duration) -> ExitCode {
    let started = Instant::now();
    send_signal(pid, libc::SIGTERM);
    if wait_gone(pid, pidfile, timeout) {
        eprintln!(
            "cutover-testapp: pid {pid} stopped in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        return ExitCode::SUCCESS;
    }
    send_signal(pid, libc::SIGKILL);
    let killed = wait_gone(pid, pidfile, Duration::from_secs(5));
    eprintln!(
        "cutover-testapp: error: pid {pid} did not exit within {timeout:?} of SIGTERM; {}",
        if killed {
            "killed it"
        } else {
            "it survives SIGKILL"
        }
    );
    ExitCode::from(1)
}

/// Sends `signal` to `pid`, which was just checked to be our app. A failure (the process
/// has exited meanwhile) shows in the wait that follows.
fn send_signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    unsafe { libc::kill(pid, signal) };
}

/// Polls until the process is gone; false if it is still there at the deadline.
fn wait_gone(pid: i32, pidfile: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !matches!(liveness(pid, pidfile), Liveness::Ours) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// pids

fn read_pidfile(pidfile: &Path) -> io::Result<i32> {
    let text = fs::read_to_string(pidfile)?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a pid: {:?}",
                    pidfile.display(),
                    text.trim()
                ),
            )
        })
}

enum Liveness {
    /// A `cutover-testapp run` for this pidfile.
    Ours,
    /// Another live process has that pid now.
    Other,
    /// No such process, or a zombie nobody has reaped yet (an orphan's parent may be an init
    /// that never reaps).
    Gone,
}

fn liveness(pid: i32, pidfile: &Path) -> Liveness {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return Liveness::Gone;
    };
    // `PID (COMM) STATE …`: COMM may hold spaces and parentheses, so read after the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X') | None) {
        return Liveness::Gone;
    }
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return Liveness::Gone;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let named = args
        .windows(2)
        .filter(|w| w[0] == b"--pidfile")
        .map(|w| PathBuf::from(String::from_utf8_lossy(w[1]).into_owned()))
        .map(|p| match fs::read_link(proc_dir.join("cwd")) {
            Ok(cwd) if p.is_relative() => cwd.join(p),
            _ => p,
        })
        .any(|p| p == pidfile);
    let is_run = args.iter().any(|a| *a == b"run");
    if named && is_run {
        Liveness::Ours
    } else {
        Liveness::Other
    }
}

// ---------------------------------------------------------------------------------------------
// files

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp).map_err(|e| with_path(e, "cannot create", &tmp))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path).map_err(|e| with_path(e, "cannot rename to", path))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, "cannot remove", path)),
        _ => Ok(()),
    }
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
