//! The command line's grammar: clap definitions and nothing else.
//!
//! What the words mean lives in [`crate::cmd`]: `cmd::args` turns a parsed [`Command`] into
//! typed, checked values (pure), and one file per command runs it. This file must not grow
//! behaviour: no I/O, no validation beyond what clap itself declares.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Move Kafka consumer groups across a cluster link without a duplicate or a skipped message, and prove it",
    long_about = None,
    after_help = "Exit codes: 0 safe/done · 1 unsafe, refused or rolled back · 2 bad usage or config · \
3 cluster or link unreachable or refusing the agent · 4 runbook partly done · 5 resume needed or lock held · 6 cannot write output · 7 internal error · \
130 interrupted"
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
    #[command(after_long_help = "Examples:
  cutover verify orders-service                     one group: SAFE, MOVED or NOT SAFE, and why
  cutover verify orders-service billing --wait 2m   again every poll until both are safe or moved
  cutover verify --all-groups --format json         every group with offsets on mirrored topics

Exit 0 when every group is safe to start on the destination or already moved, 1 otherwise.")]
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
        /// Every column (origin end, consumer lag too) and every group's table; the default
        /// fits 100 columns and details only the groups that are not safe.
        #[arg(long)]
        wide: bool,
        /// Where the groups go on reading: `destination` (the link in [link]) or `origin`,
        /// for groups that stay on the origin after promotion: they move onto the mirrors the
        /// reverse link ([reverse-link], destination → origin) keeps there.
        #[arg(long, value_name = "CLUSTER", value_parser = ["destination", "origin"], default_value = "destination")]
        to: String,
    },
    /// Cut one group over: exclude it from sync and prove it, stop it, write its final offsets,
    /// restart it on the destination.
    #[command(after_long_help = "Examples:
  cutover group orders-service --dry-run      the plan: hooks with their arguments, checks, verdicts
  cutover group orders-service                the cutover; progress on stderr, a summary on stdout
  cutover group orders-service --resume       after the agent was killed: continue from the journal
  cutover group orders-service --rollback     undo an interrupted cutover (before its restart)
  cutover group orders-service --final-offsets link   let the link's sync write the final offsets
  cutover group billing --to origin           after promotion: a group that stays on the origin
                                              moves onto the reverse link's mirrors there

Exit 0 done · 1 refused or rolled back · 5 needs the operator (the summary says what to run).")]
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
        /// Who writes the final offsets on the destination, overriding [cutover]
        /// final-offsets: `agent` (cutover commits them: seconds of downtime) or `link` (the
        /// link's offset sync copies them). A resumed cutover keeps the mode it started with.
        #[arg(long, value_name = "WHO", value_parser = ["agent", "link"], conflicts_with_all = ["resume", "rollback"])]
        final_offsets: Option<String>,
        /// The destination is a copy that does not keep the origin's offsets (a replicator's):
        /// find where the group resumes there by the timestamp of the last record it processed.
        /// `rewind` reads no record less (the records of that timestamp it had processed are
        /// read again), `skip` reads no record twice (those it had not are skipped); the summary
        /// states the count per partition. The agent writes the final offsets.
        /// A `--resume` or `--rollback` repeats the mode the cutover began with.
        #[arg(long, value_name = "MODE", value_parser = ["rewind", "skip"], conflicts_with = "final_offsets")]
        offsets_by_time: Option<String>,
        /// Where the group restarts: `destination` (through the link in [link]) or `origin`,
        /// for a group that stays on the origin after promotion: it moves from the topics it
        /// read there onto the mirrors the reverse link ([reverse-link]) keeps of the promoted
        /// topics, with the same proof. Its journal is kept apart (`<journal-dir>/to-origin`).
        #[arg(long, value_name = "CLUSTER", value_parser = ["destination", "origin"], default_value = "destination")]
        to: String,
    },
    /// Pre-promotion audit of every mirror topic and group (read-only).
    #[command(after_long_help = "Examples:
  cutover audit                        may the mirrors be promoted now? (watches the origin 5s)
  cutover audit --window 30s --format markdown > audit.md   evidence for the change ticket

Exit 0 only if promotion is safe now.")]
    Audit {
        /// How long to watch the origin's log ends for producers still writing.
        #[arg(long, value_name = "DURATION", default_value = "5s")]
        window: String,
        /// Groups that stay on the origin after promotion: judged by the way back (a reverse
        /// link with a prefix in [reverse-link]) instead of being called at risk.
        #[arg(long, value_name = "GROUP", num_args = 1..)]
        stay: Vec<String>,
    },
    /// Promote mirror topics once it is safe (lag zero, origin still, no open transaction, no
    /// group at risk), in one call, and wait until each is an ordinary topic.
    #[command(after_long_help = "Examples:
  cutover promote orders payments --dry-run     the gate and what would be promoted
  cutover promote orders payments               promote both in one call, wait for STOPPED
  cutover promote --all --window 30s            every mirror, the origin watched for 30s

Exit 0 promoted (or already promoted; with --dry-run: the gate passes) · 1 the gate refused,
the link refused a topic, or a mirror did not stop in time.")]
    Promote {
        /// Mirror topics to promote (mirror or source names).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        topics: Vec<String>,
        /// Every mirror topic of the link.
        #[arg(long)]
        all: bool,
        /// How long the origin's log ends must stay still (no producer writing).
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        window: String,
        /// Show the gate and what would be promoted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// How long the promoted mirrors get to reach STOPPED.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        timeout: String,
    },
    /// Watch mirror lag until it drains: per mirror the lag, drain rate and ETA (read-only
    /// unless --prioritise pauses other mirrors).
    #[command(after_long_help = "Examples:
  cutover watch                                  every mirror of the link until its lag is 0
  cutover watch orders payments --deadline 2h    these two, giving up (exit 1) after 2 hours
  cutover watch --prioritise orders              pause every other mirror until orders drained
  cutover watch --resume                         resume what an interrupted watch left paused
  cutover watch --format json | jq -c .          one JSON line per look, then the result

Exit 0 once every watched partition's lag is at or under --until-lag · 1 at the deadline or
when a watched mirror fails · 5 when an earlier watch left mirrors paused (use --resume).")]
    Watch {
        /// Mirror topics to watch (mirror or source names); default: every mirror of the link.
        topics: Vec<String>,
        /// Done when no watched partition lags more than this many records.
        #[arg(long, value_name = "RECORDS", default_value_t = 0)]
        until_lag: u64,
        /// Give up after this long (e.g. 30m, 2h); default: watch until drained.
        #[arg(long, value_name = "DURATION")]
        deadline: Option<String>,
        /// Pause every other active mirror of the link until these are drained, then resume
        /// them (journaled: an interrupted watch leaves them to `--resume`).
        #[arg(long, value_name = "TOPIC", num_args = 1..)]
        prioritise: Vec<String>,
        /// Resume the mirrors an earlier, interrupted watch left paused, then watch.
        #[arg(long)]
        resume: bool,
        /// A lagging partition whose mirror copies nothing this long is reported as stalled.
        #[arg(long, value_name = "DURATION", default_value = "1m")]
        stall_after: String,
    },
    /// Run a runbook: a whole migration as ordered stages (watch, groups, hook, audit,
    /// promote), each one's success checked before the next.
    #[command(after_long_help = "Examples:
  cutover run night-1.toml --dry-run    every stage, with what a read-only look finds now
  cutover run night-1.toml              the migration; progress on stderr, the report on stdout
  cutover run night-1.toml --resume     after an interruption: stages done are not repeated
  cutover run night-1.toml --worker     on other hosts: take a share of its groups stages
                                        (needs [journal] store = \"kafka\"; docs/journal-store.md)
  cutover report cutover-journal/runbook/night-1.jsonl --format html > night-1.html

The format: docs/runbooks.md. Exit 0 every stage done · 4 partly done (the report says where
everything is and what to run next) · 5 an unfinished run needs --resume, or another agent
runs it.")]
    Run {
        /// The runbook file (TOML).
        runbook: PathBuf,
        /// Show every stage and what a read-only look finds now; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Continue the runbook's unfinished run from its journal.
        #[arg(long, conflicts_with = "dry_run")]
        resume: bool,
        /// Help the agent running this runbook: take a share of its groups stages' work items
        /// (a consumer group in the shared journal store) until its run ends. Runs no other
        /// stage.
        #[arg(long, conflicts_with_all = ["dry_run", "resume"])]
        worker: bool,
    },
    /// Render the audit report of cutover journals (several: with downtime percentiles), or
    /// check their hash chains (--verify).
    #[command(after_long_help = "Examples:
  cutover report orders-service --format html > orders-service.html   the group's latest run
  cutover report cutover-journal/orders-service.jsonl    a journal file
  cutover report cutover-journal                         every run kept there, with downtime percentiles
  cutover report --verify cutover-journal                every journal's chain: intact, or where it was altered or cut

With --verify: exit 0 when every journal's chain holds, 1 when one was altered or cut.")]
    Report {
        /// Journal files, journal folders (every run kept there), or group ids (the group's
        /// current journal in the configured journal folder).
        #[arg(required = true, value_name = "JOURNAL|FOLDER|GROUP")]
        journals: Vec<PathBuf>,
        /// Check each journal's hash chain instead: intact, or the line where it was altered,
        /// reordered or cut (a folder: its subfolders' journals too).
        #[arg(long)]
        verify: bool,
    },
    /// Run scenario files on the built-in simulator (no clusters needed).
    #[command(after_long_help = "Examples:
  cutover scenario scenarios/standard-migration.toml    a whole move, on a virtual clock
  cutover scenario scenarios/*.toml --format json       every scenario, with each step's report

Exit 0 when every expectation of every scenario held, 1 otherwise.")]
    Scenario {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a shell completion script: `cutover completions bash > /etc/bash_completion.d/cutover`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff): `cutover man > ~/.local/share/man/man1/cutover.1`.
    Man,
}
