//! The one place that knows every command: checks the arguments, opens the clients, runs the
//! command, prints its report and returns the exit code.
//!
//! Arguments are checked before any cluster is contacted. SIGINT (Ctrl-C) or SIGTERM during a
//! command drops it where it waits: a running hook's whole process group gets SIGTERM, then
//! SIGKILL after a grace (at once on a second signal); the journal keeps every step already
//! synced, plus a note of the interruption (so `--resume` or `--rollback` continues), and the
//! command ends with [`Error::Interrupted`] (exit 130) saying what was left.

use std::time::Instant;

use crate::cli::{Cli, Command, Format};
use crate::error::{Error, Result};

use super::{args, execute, group, kit, output, report, scenario, Context, Prepared};

/// Runs a parsed command line and returns the process exit code. `argv` is the command line
/// as typed; a cutover's journal records it.
pub async fn run(cli: Cli, argv: Vec<String>) -> Result<i32> {
    match &cli.command {
        Command::Report { journals, verify } => {
            return report::run(journals, cli.config.as_deref(), cli.format, *verify).await
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
    // A runbook is checked before any client is made (the REST link connects when made);
    // `cutover run` reads it again when it runs, as it does inside a scenario.
    if let Prepared::Run { runbook, .. } = &prepared {
        crate::runbook::load(runbook, &crate::config::process_env())?;
    }
    let work = async {
        let mut ctx = Context::open(
            cli.config.as_deref(),
            prepared.restart_on(),
            prepared.pairs_reverse_mirrors(),
            prepared.journals_cutovers(),
        )
        .await?;
        ctx.json_lines = cli.format == Format::Json;
        let ctx = ctx.leak_at_exit();
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

/// How long hooks get to exit after SIGTERM once cutover is interrupted, before SIGKILL.
const HOOK_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The next SIGINT (Ctrl-C) or SIGTERM, by name; never resolves if neither can be listened to.
async fn signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => {
            // No handler could be installed: run to the end, as without one.
            tracing::warn!("cannot listen for SIGINT and SIGTERM");
            std::future::pending().await
        }
    }
}

/// Runs `work` until it ends or SIGINT/SIGTERM arrives. On a signal, `work` is dropped where
/// it waits (a running hook's process group gets SIGTERM), cutover says on stderr what it is
/// stopping, gives the hooks [`HOOK_GRACE`] to exit before SIGKILL (a second signal: at once),
/// journals the interruption in the cutover's journal, and ends with exit 130 and the exact
/// command that continues or undoes.
async fn interruptible<T>(
    command: &Command,
    hint: String,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let name = command_line(command);
    let signal_name = tokio::select! {
        outcome = work => return outcome,
        s = signal() => s,
    };
    // `work` is dropped here: its hooks, if any, were sent SIGTERM.
    eprintln!("interrupted ({signal_name}): stopping `cutover {name}`");
    let (groups, killed) = crate::hooks::terminate_interrupted(HOOK_GRACE, async {
        let again = signal().await;
        eprintln!("{again} again: killing the hooks now");
    })
    .await;
    if !groups.is_empty() {
        eprintln!(
            "terminated the running hook's process group{} {}: SIGTERM{}",
            if groups.len() > 1 { "s" } else { "" },
            groups
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if killed {
                ", then SIGKILL"
            } else {
                ", and it exited"
            }
        );
    }
    let hooks = if groups.is_empty() {
        "no hook was running".to_string()
    } else {
        format!("hook process group(s) {groups:?} terminated")
    };
    for (journal, phase) in
        crate::journal::record_interruption(&format!("interrupted by {signal_name}; {hooks}"))
    {
        eprintln!(
            "journaled the interruption (phase {phase}) in {}",
            journal.display()
        );
    }
    Err(Error::Interrupted {
        command: name,
        hint,
    })
}

/// What an interrupt leaves behind.
fn interrupted_hint(prepared: &Prepared) -> String {
    match prepared {
        Prepared::Verify { .. } | Prepared::Audit { .. } => {
            "nothing was changed: verify and audit only read".into()
        }
        Prepared::Watch(spec) if spec.prioritise.is_empty() && !spec.resume => {
            "nothing was changed: watch only reads".into()
        }
        Prepared::Run {
            mode: crate::runbook::RunMode::DryRun,
            ..
        } => "nothing was changed: a dry run only reads".into(),
        Prepared::Run { runbook, .. } => format!(
            "the runbook's journal and each group's keep every step taken (stderr names them): `cutover run {} --resume` continues; `cutover report` on its journal shows where it stopped",
            runbook.display()
        ),
        Prepared::Promote { spec, .. } if spec.dry_run => {
            "nothing was changed: a dry run only reads".into()
        }
        Prepared::Promote { .. } => {
            "the promotion journal (<journal-dir>/promote/<link>.jsonl) shows what was asked of the link; run the same `cutover promote` again: topics already STOPPED are left alone".into()
        }
        Prepared::Watch(_) => {
            "mirrors this watch paused stay paused (stderr and its journal name them): `cutover watch --resume` resumes them".into()
        }
        Prepared::Group {
            group,
            mode,
            dry_run,
            to,
            ..
        } => group::interrupted_hint(group.as_str(), *to, *mode, *dry_run),
    }
}

/// `group orders`, `verify`: enough to name what was interrupted.
fn command_line(command: &Command) -> String {
    match command {
        Command::Group { group, .. } => format!("group {group}"),
        other => args::name(other).to_string(),
    }
}
