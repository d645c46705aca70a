//! `cutover-testapp`: a **test fixture**, not part of cutover. It is a real Kafka consumer
//! application that the end-to-end tests stop on the origin and restart on the destination
//! through cutover's hooks, so that they can check that every record was processed exactly
//! once across both clusters.
//!
//! ```text
//! cutover-testapp run   --bootstrap HOST:PORT --group G --topic T [--topic T2] --out FILE
//!                       [--protocol classic|consumer] [--auto-offset-reset earliest|latest]
//!                       [--client-id ID] [--instance-id ID] [--assign] [--pidfile P]
//! cutover-testapp start <the same as run> --pidfile P [--log L] [--ready-timeout 30s]
//!                       (--out, --pidfile, --instance-id and --log once per instance)
//! cutover-testapp stop  --pidfile P [--pidfile P2 …] [--timeout 30s]
//! cutover-testapp step  --bootstrap HOST:PORT --group G --topic T --out FILE [--timeout 30s]
//! ```
//!
//! **`step`** is one step of a consumer for a group with no process of its own: at most one
//! record of each partition processed from the group's committed offsets, committed past it
//! without joining the group (see `step.rs`).
//!
//! **`run`** consumes in the foreground. "Processing" a record means appending the line
//! `TOPIC PARTITION OFFSET\n` to FILE. Records are handled in batches (what one poll and the
//! records already fetched behind it return): the batch's lines are appended, flushed and
//! fsynced, and only *then* are the batch's offsets committed, synchronously
//! (`enable.auto.commit=false`). So a crash can only make records be processed again (a
//! duplicate line), never skipped; and a clean stop leaves nothing processed but uncommitted.
//! The same happens before partitions are revoked in a rebalance, while this member still
//! owns them. On SIGTERM or SIGINT it stops polling, writes and commits what it has, leaves
//! the group, closes the consumer and exits 0. Without a committed offset a partition starts
//! at `--auto-offset-reset` (default `earliest`, so a group restarted on a destination whose
//! offsets were not synced processes everything again, and the tests see the duplicates).
//! It logs to stderr (`CUTOVER_LOG` sets the filter).
//!
//! How it belongs to its group:
//!
//! - By default it subscribes to its topics as a member of the group, with `--protocol`
//!   (`classic`, or `consumer` for KIP-848). After its first partition assignment it creates
//!   `P.ready` (listing the assigned partitions) when `--pidfile P` is given.
//! - `--instance-id ID` makes it a static member (`group.instance.id`, KIP-345). On a stop
//!   it leaves the group explicitly (unsubscribe, then close): librdkafka's close alone sends
//!   no LeaveGroup for a static classic member, which would then stay in the group until its
//!   `session.timeout.ms`. A static member of a KIP-848 group leaves with member epoch -2,
//!   which the coordinator answers by keeping the member, assignment and all, until the
//!   broker's `group.consumer.session.timeout.ms` (10 s in the lab, 45 s by default): no
//!   client setting makes it go sooner.
//! - `--assign` makes it a member of nothing, as a stream processor that tracks its own
//!   partitions: it assigns itself every partition of its topics, starts each at the group's
//!   committed offset (or `--auto-offset-reset` where none), and commits for the group
//!   without joining it (the coordinator accepts commits from outside a group that has no
//!   members). The group then never has members; it is `P.ready` as soon as it is assigned.
//!
//! **`start`** runs `run` as a detached child (its own process group, stdin from /dev/null,
//! stdout and stderr appended to L or sent to /dev/null), writes the child's pid to P, and
//! waits for `P.ready`. It prints the pid on stdout and exits 0, leaving the child running.
//! Given `--pidfile` and `--out` N times (and `--instance-id` N times or not at all, `--log`
//! once or N times), it starts N instances of the app at once, as an orchestrator scales a
//! deployment, and waits until every one is ready; it prints one pid per line. It exits 1,
//! with the end of the log, if a child exits first or is not ready in time: it then stops
//! every child as `stop` does (one still joining leaves the group rather than being killed,
//! which would leave its member holding the group's rebalances until its session timeout),
//! and removes their pidfiles. It refuses, exit 1, while a pidfile
//! names a live `cutover-testapp run` for that pidfile.
//!
//! **`stop`** sends SIGTERM to the pid in each pidfile (all at once) and waits for every
//! process to exit (exit 0): it returns only after each app has committed what it processed,
//! left its group and exited. A process that has not exited by `--timeout` gets SIGKILL, and
//! `stop` exits 1. A missing pidfile or a process that is already gone is reported and counts
//! as stopped, so `stop` can be repeated. It removes each P and `P.ready`. A pid is only
//! signalled while `/proc/PID/cmdline` shows the `run` started for its pidfile, so a recycled
//! pid is never killed. Linux only.
//!
//! Exit codes: 0 done; 1 failed (run: could not consume, write, or make its last commit;
//! start: not ready, or already running; stop: had to SIGKILL); 2 bad usage.
//!
//! The hooks of an end-to-end test call it as: stop hook `cutover-testapp stop --pidfile P`,
//! restart hook `cutover-testapp start --bootstrap <destination> … --pidfile P`.

mod consume;
mod control;
mod step;

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cutover::duration::parse as parse_duration;

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
        /// Append one `TOPIC PARTITION OFFSET` line per processed record to this file.
        #[arg(long)]
        out: PathBuf,
        /// Join as a static member with this group.instance.id.
        #[arg(long)]
        instance_id: Option<String>,
        /// Create PIDFILE.ready once the app owns partitions.
        #[arg(long)]
        pidfile: Option<PathBuf>,
    },
    /// Start `run` in the background (one or more instances) and wait until each owns
    /// partitions.
    Start {
        #[command(flatten)]
        app: AppArgs,
        /// Each instance's output file (once per instance).
        #[arg(long = "out", required = true)]
        outs: Vec<PathBuf>,
        /// Each instance's pidfile (once per instance).
        #[arg(long = "pidfile", required = true)]
        pidfiles: Vec<PathBuf>,
        /// Each instance's group.instance.id (once per instance, or never).
        #[arg(long = "instance-id")]
        instance_ids: Vec<String>,
        /// Append the children's stdout and stderr here (once for all, or once per instance;
        /// default: /dev/null).
        #[arg(long = "log")]
        logs: Vec<PathBuf>,
        /// How long to wait for every instance's first partitions.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        ready_timeout: Duration,
    },
    /// Process at most one record of each partition from the group's committed offsets,
    /// commit past it without joining the group, and exit.
    Step {
        #[command(flatten)]
        app: AppArgs,
        /// Append one `TOPIC PARTITION OFFSET` line per processed record to this file.
        #[arg(long)]
        out: PathBuf,
        /// How long to wait for the records.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Stop the processes pidfiles name: SIGTERM, then SIGKILL after the timeout.
    Stop {
        #[arg(long = "pidfile", required = true)]
        pidfiles: Vec<PathBuf>,
        /// How long to wait for a clean exit after SIGTERM.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// What every instance of the app shares: `run` takes it, `start` passes it to each child.
#[derive(Debug, Clone, Args)]
struct AppArgs {
    /// bootstrap.servers of the cluster to consume from.
    #[arg(long)]
    bootstrap: String,
    /// The consumer group.
    #[arg(long)]
    group: String,
    /// A topic to consume (repeatable, or several separated by commas: a hook's `{topics}`).
    #[arg(long = "topic", required = true, value_delimiter = ',')]
    topics: Vec<String>,
    /// The consumer group protocol.
    #[arg(long, value_enum, default_value_t = GroupProtocol::Classic)]
    protocol: GroupProtocol,
    /// Where a partition without a committed offset starts.
    #[arg(long, value_enum, default_value_t = OffsetReset::Earliest)]
    auto_offset_reset: OffsetReset,
    /// The client.id the group's members show.
    #[arg(long, default_value = "cutover-testapp")]
    client_id: String,
    /// Assign every partition of the topics and commit for the group without joining it.
    #[arg(long)]
    assign: bool,
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

/// One instance of the app: what differs between the instances `start` starts.
#[derive(Debug, Clone)]
struct Instance {
    out: PathBuf,
    pidfile: PathBuf,
    instance_id: Option<String>,
    log: Option<PathBuf>,
}

impl AppArgs {
    /// The arguments that give `run` this configuration.
    fn to_argv(&self) -> Vec<OsString> {
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
        argv.push("--protocol".into());
        argv.push(self.protocol_name().into());
        argv.push("--auto-offset-reset".into());
        argv.push(self.offset_reset_name().into());
        argv.push("--client-id".into());
        argv.push(self.client_id.clone().into());
        if self.assign {
            argv.push("--assign".into());
        }
        argv
    }

    fn protocol_name(&self) -> &'static str {
        match self.protocol {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }

    fn offset_reset_name(&self) -> &'static str {
        match self.auto_offset_reset {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

impl Instance {
    /// The arguments that make `run` this instance, with paths made absolute so the
    /// detached child does not depend on the working directory.
    fn to_argv(&self) -> io::Result<Vec<OsString>> {
        let mut argv: Vec<OsString> = vec!["--out".into(), std::path::absolute(&self.out)?.into()];
        if let Some(id) = &self.instance_id {
            argv.push("--instance-id".into());
            argv.push(id.into());
        }
        argv.push("--pidfile".into());
        argv.push(self.pidfile.clone().into());
        Ok(argv)
    }
}

/// Pairs `start`'s repeated options into instances: `--out` and `--pidfile` once per
/// instance, `--instance-id` once per instance or never, `--log` once for all or once per
/// instance.
fn instances(
    outs: Vec<PathBuf>,
    pidfiles: Vec<PathBuf>,
    instance_ids: Vec<String>,
    logs: Vec<PathBuf>,
) -> Result<Vec<Instance>, String> {
    let n = pidfiles.len();
    if outs.len() != n {
        return Err(format!(
            "{} --out for {n} --pidfile: give one output file per instance",
            outs.len()
        ));
    }
    if !instance_ids.is_empty() && instance_ids.len() != n {
        return Err(format!(
            "{} --instance-id for {n} --pidfile: give one per instance, or none",
            instance_ids.len()
        ));
    }
    if logs.len() > 1 && logs.len() != n {
        return Err(format!(
            "{} --log for {n} --pidfile: give one for all instances, or one per instance",
            logs.len()
        ));
    }
    let mut ids = instance_ids.into_iter();
    Ok(outs
        .into_iter()
        .zip(pidfiles)
        .enumerate()
        .map(|(i, (out, pidfile))| Instance {
            out,
            pidfile,
            instance_id: ids.next(),
            log: logs.get(i).or(logs.first()).cloned(),
        })
        .collect())
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
        Cmd::Run {
            app,
            out,
            instance_id,
            pidfile,
        } => consume::run(&app, &out, instance_id.as_deref(), pidfile.as_deref()),
        Cmd::Start {
            app,
            outs,
            pidfiles,
            instance_ids,
            logs,
            ready_timeout,
        } => match instances(outs, pidfiles, instance_ids, logs) {
            Ok(instances) => control::start(&app, &instances, ready_timeout),
            Err(e) => {
                eprintln!("cutover-testapp: error: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Stop { pidfiles, timeout } => control::stop(&pidfiles, timeout),
        Cmd::Step { app, out, timeout } => step::step(&app, &out, timeout),
    }
}
