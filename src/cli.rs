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
use crate::cutover;
use crate::cutover::driver::{Clock, Mode};
use crate::cutover::machine::{Outcome as CutoverOutcome, Phase};
use crate::error::{exit, Error, Result};
use crate::hooks::{ConfiguredHooks, Hooks};
use crate::kafka::{Cluster, RdKafkaCluster};
use crate::link::{ConfluentRestLink, KafkaOnlyLink, Link};
use crate::model::{GroupId, Role};
use crate::progress::Progress;
use crate::report::{self, AuditReport, Plan, Summary, VerifyReport};
use crate::verify::{self, Selection};

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
        #[arg(long, conflicts_with_all = ["rollback", "dry_run"])]
        resume: bool,
        /// Roll an interrupted cutover back to the origin.
        #[arg(long, conflicts_with = "dry_run")]
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
    /// Render the audit report of cutover journals (several: with downtime percentiles).
    Report {
        #[arg(required = true, value_name = "JOURNAL")]
        journals: Vec<PathBuf>,
    },
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

    /// Where a command that cannot run here stands, for its refusal.
    fn not_built_hint(&self) -> &'static str {
        match self {
            Command::Verify { .. } | Command::Audit { .. } => {
                "see `cutover verify --help` and `cutover audit --help`"
            }
            Command::Scenario { .. } => "scenarios run from the command line (`cutover scenario FILE`), not inside a scenario",
            Command::Group { .. } | Command::Report { .. } => {
                "cutovers and their reports run from the command line, not inside a scenario"
            }
            Command::Promote { .. } | Command::Watch | Command::Run { .. } => {
                "promotion, watching and runbooks are planned after per-group cutover"
            }
        }
    }
}

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    if let Command::Scenario { files } = &cli.command {
        return crate::sim::run_files_cli(files.clone(), cli.format).await;
    }
    if let Command::Report { journals } = &cli.command {
        return render_journals(journals, cli.format);
    }
    // Arguments are checked before any cluster is contacted.
    let prepared = prepare(&cli.command)?;
    let ctx = Context::open(&cli).await?.leak_at_exit();
    let Outcome { exit, report } = execute(&prepared, ctx).await?;
    let printing = Instant::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_report(cli.format, &report, &mut out)?;
    std::io::Write::flush(&mut out).map_err(cannot_write)?;
    tracing::debug!(elapsed = ?printing.elapsed(), "printed the report");
    // The process exits next: freeing a report of 100,000 partitions one allocation at a
    // time would only delay the exit (as for the clients, see `leak_at_exit`).
    std::mem::forget(report);
    Ok(exit)
}

/// A command whose arguments have been validated, ready to run against a [`Context`].
pub(crate) enum Prepared {
    Verify {
        selection: Selection,
        /// `Some(None)`: wait for the configured default.
        wait: Option<Option<Duration>>,
    },
    Audit {
        window: Duration,
    },
    Group {
        group: GroupId,
        dry_run: bool,
        mode: Mode,
        command: Vec<String>,
    },
}

/// What a command produced: its report and its exit code.
pub(crate) struct Outcome {
    pub exit: i32,
    pub report: Report,
}

pub(crate) enum Report {
    Verify(VerifyReport),
    Audit(AuditReport),
    Plan(Box<Plan>),
    Cutover(Summary),
}

/// Validates a command's arguments into typed values; commands not built yet say so.
pub(crate) fn prepare(command: &Command) -> Result<Prepared> {
    match command {
        Command::Verify {
            groups,
            all_groups,
            wait,
        } => {
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
            Ok(Prepared::Verify { selection, wait })
        }
        Command::Audit { window } => Ok(Prepared::Audit {
            window: parse_duration_arg(window)?,
        }),
        Command::Group {
            group,
            dry_run,
            resume,
            rollback,
        } => Ok(Prepared::Group {
            group: GroupId::new(group),
            dry_run: *dry_run,
            mode: if *resume {
                Mode::Resume
            } else if *rollback {
                Mode::Rollback
            } else {
                Mode::Start
            },
            command: std::env::args().collect(),
        }),
        other => Err(Error::NotBuilt {
            command: other.name(),
            hint: other.not_built_hint(),
        }),
    }
}

/// Runs a prepared command against the clusters and the link of `ctx` (real or simulated).
pub(crate) async fn execute(prepared: &Prepared, ctx: &Context) -> Result<Outcome> {
    match prepared {
        Prepared::Verify { selection, wait } => {
            let wait = wait.map(|w| w.unwrap_or(ctx.default_wait));
            let report = verify_until(ctx, selection, wait).await?;
            Ok(Outcome {
                exit: if report.safe { exit::OK } else { exit::UNSAFE },
                report: Report::Verify(report),
            })
        }
        Prepared::Group {
            group,
            dry_run,
            mode,
            command,
        } => {
            let env = cutover::driver::Env {
                origin: ctx.origin.as_ref(),
                destination: ctx.destination.as_ref(),
                link: ctx.link.as_ref(),
                hooks: ctx.hooks.as_ref(),
                options: &ctx.cutover,
                clock: ctx.clock,
                progress: ctx.progress,
                phase_watch: ctx.phase_watch.as_ref(),
                command: command.clone(),
            };
            if *dry_run {
                let plan = cutover::driver::plan(&env, group).await?;
                return Ok(Outcome {
                    exit: if plan.refusal.is_some() {
                        exit::UNSAFE
                    } else {
                        exit::OK
                    },
                    report: Report::Plan(Box::new(plan)),
                });
            }
            let summary = cutover::driver::run(&env, group, *mode).await?;
            Ok(Outcome {
                exit: match summary.outcome {
                    CutoverOutcome::Done => exit::OK,
                    CutoverOutcome::RolledBack | CutoverOutcome::Refused => exit::UNSAFE,
                    CutoverOutcome::NeedsOperator => exit::RESUME_NEEDED,
                },
                report: Report::Cutover(summary),
            })
        }
        Prepared::Audit { window } => {
            let progress = Progress::start(
                ctx.progress,
                &format!("watching the origin's log ends for {}", humantime(*window)),
            );
            let report = audit::audit(
                ctx.origin.as_ref(),
                ctx.destination.as_ref(),
                ctx.link.as_ref(),
                *window,
            )
            .await;
            progress.finish();
            let report = report?;
            Ok(Outcome {
                exit: if report.promotion_safe {
                    exit::OK
                } else {
                    exit::UNSAFE
                },
                report: Report::Audit(report),
            })
        }
    }
}

/// Writes a report in the chosen format.
pub(crate) fn write_report(
    format: Format,
    report: &Report,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    match report {
        Report::Verify(r) => write_one(
            format,
            r,
            report::verify_table,
            report::verify_markdown,
            out,
        ),
        Report::Audit(r) => write_one(format, r, report::audit_table, report::audit_markdown, out),
        Report::Plan(p) => write_one(
            format,
            p.as_ref(),
            report::plan_text,
            report::plan_markdown,
            out,
        ),
        Report::Cutover(s) => write_one(
            format,
            s,
            report::cutover_summary_text,
            report::cutover_summary_markdown,
            out,
        ),
    }
}

/// `cutover report JOURNAL…`: reads only the journals, never a cluster.
fn render_journals(journals: &[PathBuf], format: Format) -> Result<i32> {
    let reports = journals
        .iter()
        .map(|j| report::cutover::load(j))
        .collect::<Result<Vec<_>>>()?;
    let text = match format {
        Format::Table => report::cutover::table(&reports),
        Format::Markdown => report::cutover::markdown(&reports),
        Format::Html => report::cutover::html(&reports),
        Format::Json => report::cutover::json_document(&reports).to_string(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    std::io::Write::write_all(&mut out, format!("{}\n", text.trim_end()).as_bytes())
        .map_err(cannot_write)?;
    Ok(exit::OK)
}

fn cannot_write(e: std::io::Error) -> Error {
    Error::Config(format!("cannot write the report: {e}"))
}

/// The clusters and the link, from the configuration.
pub(crate) struct Context {
    pub origin: Arc<dyn Cluster>,
    pub destination: Arc<dyn Cluster>,
    pub link: Box<dyn Link>,
    pub poll_interval: Duration,
    pub default_wait: Duration,
    /// Whether waits show progress on stderr (the simulator keeps its own transcript).
    pub progress: bool,
    pub hooks: Arc<dyn Hooks>,
    pub cutover: cutover::driver::Options,
    pub clock: Clock,
    /// Told each phase a cutover enters (the simulator's `kill-at`).
    pub phase_watch: Option<tokio::sync::watch::Sender<Phase>>,
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
            progress: true,
            hooks: Arc::new(ConfiguredHooks::new(&config.hooks)),
            cutover: cutover::driver::Options {
                cutover: config.cutover.clone(),
                poll_interval: config.defaults.poll_interval,
            },
            clock: Clock::System,
            phase_watch: None,
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
    // tokio's clock, so the simulator's paused time drives the waits.
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let progress = deadline.map(|_| Progress::start(ctx.progress, "verifying"));
    let outcome = async {
        loop {
            let report = verify::verify(
                ctx.origin.as_ref(),
                ctx.destination.as_ref(),
                ctx.link.as_ref(),
                selection,
            )
            .await?;
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
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

fn write_one<T: serde::Serialize>(
    format: Format,
    report: &T,
    table: fn(&T) -> String,
    markdown: fn(&T) -> String,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let text = match format {
        Format::Table => table(report),
        Format::Json => {
            // Streamed, compact: a cluster-wide report can hold 100,000 partitions.
            serde_json::to_writer(&mut *out, report)
                .map_err(|e| Error::Config(format!("cannot write the report: {e}")))?;
            return out.write_all(b"\n").map_err(cannot_write);
        }
        Format::Markdown => markdown(report),
        Format::Html => {
            return Err(Error::Config(
                "--format html is for cutover reports; use table, json or markdown here".into(),
            ))
        }
    };
    writeln!(out, "{}", text.trim_end()).map_err(cannot_write)
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
