//! The command line: clap definitions and the dispatch from a command to its exit code.
//!
//! Raw arguments are validated into typed values here and nowhere else. Commands that are
//! planned but not built yet say so and exit 2: they never print made-up output.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};

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
        /// Re-evaluate until every group is safe or this much time has passed (e.g. 90s, 5m).
        #[arg(long, value_name = "DURATION")]
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
    Audit,
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
            Command::Audit => "audit",
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
            Command::Verify { .. } | Command::Audit => {
                "offset verification is planned (issue #4); until then compare `kafka-consumer-groups --describe` on both clusters with the link's mirror lag by hand"
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
    Err(Error::NotBuilt {
        command: cli.command.name(),
        hint: cli.command.not_built_hint(),
    })
}
