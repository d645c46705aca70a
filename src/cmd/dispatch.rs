//! The one place that knows every command: checks the arguments, opens the clients, runs the
//! command, prints its report and returns the exit code.
//!
//! Arguments are checked before any cluster is contacted. Ctrl-C (SIGINT) during a command
//! drops it where it waits: a running hook's whole process group is killed with it, the
//! journal keeps every step already synced (so `--resume` or `--rollback` continues), and the
//! command ends with [`Error::Interrupted`] (exit 130) saying what was left.

use std::time::Instant;

use crate::cli::{Cli, Command, Format};
use crate::error::{Error, Result};

use super::{args, execute, group, kit, output, report, scenario, Context, Prepared};

/// Runs a parsed command line and returns the process exit code. `argv` is the command line
/// as typed; a cutover's journal records it.
pub async fn run(cli: Cli, argv: Vec<String>) -> Result<i32> {
    match &cli.command {
        Command::Report { journals } => {
            return report::run(journals, cli.config.as_deref(), cli.format)
        }
        Command::Scenario { files } if cli.format != Format::Html => {
            return interruptible(
                &cli.command,
                "nothing was changed: scenarios run in memory".into(),
                scenario::run(files.clone(), cli.format),
            )
            .await
        }
        Command::Scenario { .. } => return Err(args::html_only_for_report(&cli.command)),
        Command::Completions { shell } => return kit::completions(*shell),
        Command::Man => return kit::man(),
        _ => {}
    }
    let prepared = args::prepare(&cli, &argv)?;
    let work = async {
        let ctx = Context::open(cli.config.as_deref()).await?.leak_at_exit();
        execute(&prepared, ctx).await
    };
    let outcome = interruptible(&cli.command, interrupted_hint(&prepared), work).await?;
    let printing = Instant::now();
    output::print_report(cli.format, &outcome.report)?;
    tracing::debug!(elapsed = ?printing.elapsed(), "printed the report");
    // The process exits next: freeing a report of 100,000 partitions one allocation at a
    // time would only delay the exit (as for the clients, see `Context::leak_at_exit`).
    let exit = outcome.exit;
    std::mem::forget(outcome);
    Ok(exit)
}

/// Runs `work` until it ends or Ctrl-C arrives; on Ctrl-C, `work` is dropped where it waits.
async fn interruptible<T>(
    command: &Command,
    hint: String,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            // No handler could be installed: run to the end, as without one.
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        outcome = work => outcome,
        () = interrupt => Err(Error::Interrupted {
            command: command_line(command),
            hint,
        }),
    }
}

/// What an interrupt leaves behind.
fn interrupted_hint(prepared: &Prepared) -> String {
    match prepared {
        Prepared::Verify { .. } | Prepared::Audit { .. } => {
            "nothing was changed: verify and audit only read".into()
        }
        Prepared::Group {
            group,
            mode,
            dry_run,
            ..
        } => group::interrupted_hint(group.as_str(), *mode, *dry_run),
    }
}

/// `group orders`, `verify`: enough to name what was interrupted.
fn command_line(command: &Command) -> String {
    match command {
        Command::Group { group, .. } => format!("group {group}"),
        other => args::name(other).to_string(),
    }
}
