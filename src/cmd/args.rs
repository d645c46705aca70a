//! Argument checking: a parsed [`Command`] becomes a [`Prepared`] command of typed values.
//!
//! Pure: no I/O, no environment, no clock. The command line a cutover records in its journal
//! is passed in by the caller (the binary passes its own arguments, the simulator the
//! scenario's), never read from the process here.

use std::time::Duration;

use crate::cli::{Cli, Command, Format};
use crate::cutover::driver::Mode;
use crate::error::{Error, Result};
use crate::model::{FinalOffsets, GroupId, Role};
use crate::verify::Selection;

/// A command whose arguments have been checked, ready to run against a
/// [`Context`](super::Context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Verify {
        selection: Selection,
        /// `Some(None)`: wait for the configured default.
        wait: Option<Option<Duration>>,
        /// `--wide`: every column and every group's table.
        wide: bool,
        /// `--to`: where the groups go on reading.
        to: Role,
    },
    Audit {
        window: Duration,
        /// `--stay`: groups declared to stay on the origin.
        stay: Vec<GroupId>,
    },
    Watch(crate::watch::WatchSpec),
    Run {
        runbook: std::path::PathBuf,
        mode: crate::runbook::RunMode,
        /// The command line, as the journals record it.
        command: Vec<String>,
    },
    Promote {
        spec: crate::promote::PromoteSpec,
        /// The command line, as the journal records it.
        command: Vec<String>,
    },
    Group {
        group: GroupId,
        dry_run: bool,
        mode: Mode,
        /// The command line, as the journal records it.
        command: Vec<String>,
        /// `--final-offsets`, overriding the configuration.
        final_offsets: Option<FinalOffsets>,
        /// `--to`: where the group restarts.
        to: Role,
        /// `--offsets-by-time`: the destination is a copy that does not keep offsets.
        offsets_by_time: Option<crate::translation::Mode>,
    },
}

impl Prepared {
    /// Whether a forward `verify` or `group` pairs the reverse link's mirrors back to their
    /// sources (bidirectional links with prefixes, `link/paired.rs`).
    pub fn pairs_reverse_mirrors(&self) -> bool {
        matches!(self, Prepared::Verify { .. } | Prepared::Group { .. })
            && self.restart_on() == Role::Destination
    }

    /// Whether the command journals group cutovers (a group's or a runbook's, not a dry run):
    /// only those open a shared journal store.
    pub fn journals_cutovers(&self) -> super::context::Sharing {
        use super::context::Sharing;
        match self {
            Prepared::Group { dry_run: false, .. } => Sharing::Journals,
            Prepared::Run { mode, .. } if *mode != crate::runbook::RunMode::DryRun => {
                Sharing::JournalsAndWork
            }
            _ => Sharing::Nothing,
        }
    }

    /// Where the command's groups restart: `--to origin` reads through the reverse link.
    pub fn restart_on(&self) -> Role {
        match self {
            Prepared::Verify { to, .. } | Prepared::Group { to, .. } => *to,
            _ => Role::Destination,
        }
    }
}

/// `--to`'s value (clap admits only `origin` and `destination`).
fn to_arg(to: &str) -> Role {
    if to == "origin" {
        Role::Origin
    } else {
        Role::Destination
    }
}

/// Checks a command line's arguments; `argv` is the whole command line, recorded by a
/// cutover's journal. `report` and `scenario` read files rather than clusters and are run by
/// [`dispatch`](super::dispatch), so they are refused here (the simulator reaches this for the
/// commands inside a scenario).
pub fn prepare(cli: &Cli, argv: &[String]) -> Result<Prepared> {
    let command = &cli.command;
    if cli.format == Format::Html && !matches!(command, Command::Report { .. }) {
        return Err(html_only_for_report(command));
    }
    match command {
        Command::Verify {
            groups,
            all_groups,
            wait,
            wide,
            to,
        } => {
            let wait = match wait.as_deref() {
                None => None,
                Some("") => Some(None),
                Some(text) => Some(Some(duration_arg("verify", "--wait", text)?)),
            };
            let selection = if *all_groups {
                Selection::AllGroups
            } else {
                Selection::Groups(groups.iter().map(GroupId::new).collect())
            };
            Ok(Prepared::Verify {
                selection,
                wait,
                wide: *wide,
                to: to_arg(to),
            })
        }
        Command::Audit { window, stay } => Ok(Prepared::Audit {
            window: duration_arg("audit", "--window", window)?,
            stay: stay.iter().map(GroupId::new).collect(),
        }),
        Command::Group {
            group,
            dry_run,
            resume,
            rollback,
            final_offsets,
            to,
            offsets_by_time,
        } => Ok(Prepared::Group {
            to: to_arg(to),
            offsets_by_time: match offsets_by_time.as_deref() {
                None => None,
                Some("skip") => Some(crate::translation::Mode::Skip),
                // clap admits only `rewind` and `skip`.
                Some(_) => Some(crate::translation::Mode::Rewind),
            },
            group: GroupId::new(group),
            dry_run: *dry_run,
            mode: if *resume {
                Mode::Resume
            } else if *rollback {
                Mode::Rollback
            } else {
                Mode::Start
            },
            command: argv.to_vec(),
            final_offsets: final_offsets.as_deref().map(|w| match w {
                "link" => FinalOffsets::Link,
                // clap admits only `agent` and `link`.
                _ => FinalOffsets::Agent,
            }),
        }),
        Command::Watch {
            topics,
            until_lag,
            deadline,
            prioritise,
            resume,
            stall_after,
        } => Ok(Prepared::Watch(crate::watch::WatchSpec {
            topics: topics.clone(),
            until_lag: i64::try_from(*until_lag).unwrap_or(i64::MAX),
            deadline: deadline
                .as_deref()
                .map(|d| duration_arg("watch", "--deadline", d))
                .transpose()?,
            prioritise: prioritise.clone(),
            resume: *resume,
            stall_after: duration_arg("watch", "--stall-after", stall_after)?,
        })),
        Command::Promote {
            topics,
            all,
            window,
            dry_run,
            timeout,
        } => Ok(Prepared::Promote {
            spec: crate::promote::PromoteSpec {
                topics: topics.clone(),
                all: *all,
                window: duration_arg("promote", "--window", window)?,
                dry_run: *dry_run,
                timeout: duration_arg("promote", "--timeout", timeout)?,
                // Set from the configuration when the command runs.
                agent_moves_groups: false,
            },
            command: argv.to_vec(),
        }),
        Command::Run {
            runbook,
            dry_run,
            resume,
            worker,
        } => Ok(Prepared::Run {
            runbook: runbook.clone(),
            mode: if *dry_run {
                crate::runbook::RunMode::DryRun
            } else if *resume {
                crate::runbook::RunMode::Resume
            } else if *worker {
                crate::runbook::RunMode::Worker
            } else {
                crate::runbook::RunMode::Start
            },
            command: argv.to_vec(),
        }),
        other => Err(Error::NotInScenario {
            command: name(other),
            hint: "reports, scenarios, completions and the man page run from the command line (`cutover report`, `cutover scenario`, …), not as a scenario's command",
        }),
    }
}

/// `--format html` is a cutover's evidence page, rendered from its journal.
pub fn html_only_for_report(command: &Command) -> Error {
    Error::Usage {
        message: format!("--format html is only for `cutover report`, not `cutover {}`", name(command)),
        hint: "use --format table, json or markdown here; `cutover report JOURNAL --format html` renders a cutover's evidence page".into(),
    }
}

/// The command's name, as typed after `cutover`.
pub fn name(command: &Command) -> &'static str {
    match command {
        Command::Verify { .. } => "verify",
        Command::Group { .. } => "group",
        Command::Audit { .. } => "audit",
        Command::Promote { .. } => "promote",
        Command::Watch { .. } => "watch",
        Command::Run { .. } => "run",
        Command::Report { .. } => "report",
        Command::Scenario { .. } => "scenario",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

/// A duration argument (`90s`, `5m`, `1500ms`), or a usage error naming the option.
fn duration_arg(command: &str, option: &str, text: &str) -> Result<Duration> {
    crate::duration::parse(text).map_err(|e| Error::Usage {
        message: format!("{option} {text:?} is not a duration: {e}"),
        hint: format!(
            "write a duration such as 90s, 5m or 1500ms (see `cutover {command} --help`)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::error::exit;

    fn prepared(args: &[&str]) -> Result<Prepared> {
        let argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let cli = Cli::try_parse_from(&argv).expect("the grammar accepts the test's command");
        prepare(&cli, &argv)
    }

    #[test]
    fn a_cutover_records_the_command_line_it_was_given_not_the_process_arguments() {
        let Prepared::Group { command, mode, .. } =
            prepared(&["cutover", "group", "orders", "--resume"]).expect("valid")
        else {
            panic!("group prepares a group cutover")
        };
        assert_eq!(command, ["cutover", "group", "orders", "--resume"]);
        assert_eq!(mode, Mode::Resume);
    }

    #[test]
    fn a_bad_duration_is_a_usage_error_naming_the_option() {
        let err = prepared(&["cutover", "verify", "g", "--wait", "abc"]).expect_err("abc");
        assert_eq!(err.exit_code(), exit::USAGE);
        let text = err.render();
        assert!(text.contains("--wait \"abc\" is not a duration"), "{text}");
        assert!(text.contains("cutover verify --help"), "{text}");
        assert!(!text.contains("cutover.toml"), "{text}");
    }

    #[test]
    fn html_is_refused_before_anything_runs_except_for_report() {
        let err = prepared(&["cutover", "group", "g", "--format", "html"]).expect_err("html");
        assert_eq!(err.exit_code(), exit::USAGE);
        assert!(
            err.to_string().contains("only for `cutover report`"),
            "{err}"
        );
        assert!(!err.hint().contains("cutover.toml"));
    }

    #[test]
    fn verify_wait_alone_means_the_configured_default() {
        assert_eq!(
            prepared(&["cutover", "verify", "g", "--wait"]).expect("valid"),
            Prepared::Verify {
                selection: Selection::Groups(vec![GroupId::new("g")]),
                wait: Some(None),
                wide: false,
                to: Role::Destination,
            }
        );
    }

    #[test]
    fn to_origin_reads_through_the_reverse_link_for_verify_and_group_only() {
        let to = |args: &[&str]| prepared(args).expect("valid").restart_on();
        assert_eq!(
            to(&["cutover", "group", "g", "--to", "origin"]),
            Role::Origin
        );
        assert_eq!(
            to(&["cutover", "verify", "g", "--to", "origin"]),
            Role::Origin
        );
        assert_eq!(to(&["cutover", "group", "g"]), Role::Destination);
        assert_eq!(to(&["cutover", "audit"]), Role::Destination);
    }

    #[test]
    fn a_scenario_cannot_run_the_commands_that_read_files_or_print_help() {
        for args in [&["cutover", "report", "j.jsonl"][..], &["cutover", "man"]] {
            let err = prepared(args).expect_err("not inside a scenario");
            assert_eq!(err.exit_code(), exit::USAGE);
            assert!(
                err.to_string().contains("does not run inside a scenario"),
                "{err}"
            );
        }
    }
}
