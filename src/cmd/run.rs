//! `cutover run RUNBOOK.toml [--dry-run|--resume]`: a whole migration (see
//! [`crate::runbook`]). Exit 0 when every stage is done (or, dry, the plan), 4 when it
//! finished only partly.

use std::path::Path;

use crate::error::{exit, Result};
use crate::report::runbook::RunbookOutcome;
use crate::runbook::{self, RunEnv, RunMode};

use super::{Context, Outcome, Report};

pub(super) async fn run(
    ctx: &Context,
    path: &Path,
    mode: RunMode,
    command: &[String],
) -> Result<Outcome> {
    let book = runbook::load(path, &crate::config::process_env())?;
    let env = RunEnv {
        estate: ctx.estate(),
        hooks: ctx.hooks.as_ref(),
        options: &ctx.cutover,
        phase_watch: ctx.phase_watch.as_deref(),
        command: command.to_vec(),
        reverse: ctx.reverse.as_ref(),
        work: ctx.work.as_deref(),
    };
    let report = runbook::run(&env, &book, mode).await?;
    Ok(Outcome {
        exit: match report.outcome {
            RunbookOutcome::Done | RunbookOutcome::Planned => exit::OK,
            RunbookOutcome::Partial | RunbookOutcome::InProgress => exit::PARTIAL,
        },
        report: Report::Runbook(Box::new(report)),
    })
}
