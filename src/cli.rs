//! The command line: clap definitions and the dispatch from a command to its exit code.
//!
//! Raw arguments are validated into typed values here and nowhere else. Commands that are
//! planned but not built yet say so and exit 2: they never print made-up output.

use std::path::PathBuf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use crate::audit;
use crate::config::Config;
use crate::error::{exit, Error, Result};
use crate::kafka::{Cluster, RdKafkaCluster};
use crate::link::{ConfluentRestLink, KafkaOnlyLink, Link};
use crate::model::{GroupId, Role};
use crate::report;
use crate::verify::{self, Selection, VerifyReport};

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Move Kafka consumer groups across a cluster link without a duplicate or a skipped message, and prove it",
    long_about = None,
    after_help = "Exit codes: 0 safe/done · 1 unsafe, refused or rolled back · 2 bad usage or config · \
3 cluster or link unreachable · 4 runbook partly done · 5 resume needed or lock held · 130 interrupted"
)]
pub struct Cli {
    /// Configuration file (settings can also come from CUTOVER_* environment variables).
    #[arg(long, global = true, env = "CUTOVER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format for data written to stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// Versioned JSON (carries `schema_version`).
    Json,
    /// Markdown, for tickets and change records.
    Markdown,
    /// One self-contained HTML page (reports only).
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check, partition by partition, whether groups can start on the destination now (read-only).
    Verify {
        /// Groups to verify.
        #[arg(required_unless_present = "all_groups")]
        groups: Vec<String>,
        /// Verify every group with offsets on mirrored topics.
        #[arg(long, conflicts_with = "groups")]
        all_groups: bool,
        /// Re-evaluate until every group is safe or this much time has passed (e.g. 90s, 5m);
        /// `--wait` alone waits for [defaults] wait (5m unless configured).
        #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "")]
        wait: Option<String>,
    },
    /// Cut one group over: stop, prove sync, exclude from sync, restart on the destination.
    Group {
        group: String,
        /// Print the plan and the current verdicts; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Continue an interrupted cutover from its journal.
        #[arg(long, conflicts_with = "rollback")]
        resume: bool,
        /// Roll an interrupted cutover back to the origin.
        #[arg(long)]
        rollback: bool,
    },
    /// Pre-promotion audit of every mirror topic and group (read-only).
    Audit {
        /// How long to watch the origin's log ends for producers still writing.
        #[arg(long, value_name = "DURATION", default_value = "5s")]
        window: String,
    },
    /// Promote mirror topics once their mirror lag is zero.
    Promote {
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Watch mirror lag until it is near zero, with progress and an ETA.
    Watch,
    /// Run a runbook: ordered stages over many groups and topics.
    Run {
        runbook: PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        resume: bool,
    },
    /// Render the audit report of a cutover journal.
    Report { journal: PathBuf },
    /// Run scenario files on the built-in simulator (no clusters needed).
    Scenario {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Verify { .. } => "verify",
            Command::Group { .. } => "group",
            Command::Audit { .. } => "audit",
            Command::Promote { .. } => "promote",
            Command::Watch => "watch",
            Command::Run { .. } => "run",
            Command::Report { .. } => "report",
            Command::Scenario { .. } => "scenario",
        }
    }

    /// Where the command stands: every command is planned, none is built in this release.
    fn not_built_hint(&self) -> &'static str {
        match self {
            Command::Verify { .. } | Command::Audit { .. } => {
                "see `cutover verify --help` and `cutover audit --help`"
            }
            Command::Scenario { .. } => "the simulator is planned (issue #5)",
            Command::Group { .. } | Command::Report { .. } => {
                "per-group cutover and its reports are planned (issue #6)"
            }
            Command::Promote { .. } | Command::Watch | Command::Run { .. } => {
                "promotion, watching and runbooks are planned after per-group cutover (issue #6)"
            }
        }
    }
}

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Verify {
            groups,
            all_groups,
            wait,
        } => {
            // A bad duration is reported before any cluster is contacted.
            let wait = match wait.as_deref() {
                None => None,
                Some("") => Some(None),
                Some(text) => Some(Some(parse_duration_arg(text)?)),
            };
            let selection = if *all_groups {
                Selection::AllGroups
            } else {
                Selection::Groups(groups.iter().map(GroupId::new).collect())
            };
            let ctx = Context::open(&cli).await?.leak_at_exit();
            let wait = wait.map(|w| w.unwrap_or(ctx.default_wait));
            let report = verify_until(ctx, &selection, wait).await?;
            let printing = Instant::now();
            print(
                cli.format,
                &report,
                report::verify_table,
                report::verify_markdown,
            )?;
            tracing::debug!(elapsed = ?printing.elapsed(), "printed the report");
            Ok(if report.safe { exit::OK } else { exit::UNSAFE })
        }
        Command::Audit { window } => {
            let window = parse_duration_arg(window)?;
            let ctx = Context::open(&cli).await?.leak_at_exit();
            let progress = Progress::start(&format!(
                "watching the origin's log ends for {}",
                humantime(window)
            ));
            let report = audit::audit(
                ctx.origin.as_ref(),
                ctx.destination.as_ref(),
                ctx.link.as_ref(),
                window,
            )
            .await;
            progress.finish();
            let report = report?;
            print(
                cli.format,
                &report,
                report::audit_table,
                report::audit_markdown,
            )?;
            Ok(if report.promotion_safe {
                exit::OK
            } else {
                exit::UNSAFE
            })
        }
        other => Err(Error::NotBuilt {
            command: other.name(),
            hint: other.not_built_hint(),
        }),
    }
}

/// The clusters and the link, from the configuration.
struct Context {
    origin: Arc<dyn Cluster>,
    destination: Arc<dyn Cluster>,
    link: Box<dyn Link>,
    poll_interval: Duration,
    default_wait: Duration,
}

impl Context {
    async fn open(cli: &Cli) -> Result<Context> {
        let env = crate::config::process_env();
        let config = Config::load(cli.config.as_deref(), &env)?;
        tracing::debug!("configuration loaded");
        let timeout = config.link.timeout();
        let origin: Arc<dyn Cluster> = Arc::new(RdKafkaCluster::connect(
            Role::Origin,
            &config.origin.properties,
            timeout,
        )?);
        let destination: Arc<dyn Cluster> = Arc::new(RdKafkaCluster::connect(
            Role::Destination,
            &config.destination.properties,
            timeout,
        )?);
        let link: Box<dyn Link> = match config.link.rest_options() {
            Some(options) => Box::new(ConfluentRestLink::connect(options).await?),
            None => Box::new(KafkaOnlyLink::new(
                config.link.name.clone(),
                config.link.prefix.clone(),
                origin.clone(),
                destination.clone(),
            )),
        };
        Ok(Context {
            origin,
            destination,
            link,
            poll_interval: config.defaults.poll_interval,
            default_wait: config.defaults.wait,
        })
    }

    /// The process exits right after the command: closing the Kafka clients would only make
    /// the operator wait (librdkafka's shutdown takes a few hundred milliseconds), and nothing
    /// is left to flush (cutover never produces or commits). The OS reclaims everything.
    fn leak_at_exit(self) -> &'static Context {
        Box::leak(Box::new(self))
    }
}

/// Verifies, and with a deadline, verifies again until every group is safe or time is up.
async fn verify_until(
    ctx: &Context,
    selection: &Selection,
    wait: Option<Duration>,
) -> Result<VerifyReport> {
    let deadline = wait.map(|w| Instant::now() + w);
    let progress = deadline.map(|_| Progress::start("verifying"));
    let outcome = async {
        loop {
            let report = verify::verify(
                ctx.origin.as_ref(),
                ctx.destination.as_ref(),
                ctx.link.as_ref(),
                selection,
            )
            .await?;
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match (&progress, left) {
                (Some(p), Some(left)) if !report.safe && !left.is_zero() => {
                    let safe = report.groups.iter().filter(|g| g.safe).count();
                    p.update(&format!(
                        "{safe}/{} group(s) safe; checking again in {} ({} left)",
                        report.groups.len(),
                        humantime(ctx.poll_interval),
                        humantime(left)
                    ));
                    tokio::time::sleep(ctx.poll_interval.min(left)).await;
                }
                _ => return Ok(report),
            }
        }
    }
    .await;
    if let Some(p) = &progress {
        p.finish();
    }
    outcome
}

fn print<T: serde::Serialize>(
    format: Format,
    report: &T,
    table: fn(&T) -> String,
    markdown: fn(&T) -> String,
) -> Result<()> {
    let text = match format {
        Format::Table => table(report),
        Format::Json => {
            // Straight to stdout, compact: a cluster-wide report can hold 100,000 partitions.
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            serde_json::to_writer(&mut out, report)
                .map_err(|e| Error::Config(format!("cannot write the report: {e}")))?;
            std::io::Write::write_all(&mut out, b"\n")
                .and_then(|_| std::io::Write::flush(&mut out))
                .map_err(|e| Error::Config(format!("cannot write the report: {e}")))?;
            return Ok(());
        }
        Format::Markdown => markdown(report),
        Format::Html => {
            return Err(Error::Config(
                "--format html is for cutover reports; use table, json or markdown here".into(),
            ))
        }
    };
    println!("{}", text.trim_end());
    Ok(())
}

fn parse_duration_arg(s: &str) -> Result<Duration> {
    crate::config::parse_duration(s).map_err(|e| {
        Error::Config(format!(
            "invalid duration {s:?}: {e} (write e.g. 90s, 5m, 1500ms)"
        ))
    })
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s > 0 {
        format!("{s}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Progress on stderr: a spinner on a terminal, plain lines otherwise (logs, CI).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: String,
}

impl Progress {
    fn start(what: &str) -> Progress {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(what.to_string());
            bar
        });
        if bar.is_none() {
            eprintln!("cutover: {what}");
        }
        Progress {
            bar,
            what: what.to_string(),
        }
    }

    fn update(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{}: {message}", self.what)),
            None => eprintln!("cutover: {}: {message}", self.what),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
