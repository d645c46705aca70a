//! `cutover group GROUP [--dry-run|--resume|--rollback] [--final-offsets agent|link]`: one
//! group's cutover.
//!
//! Builds the driver's environment from the [`Context`] and hands the group to
//! [`crate::cutover::driver`]; `--dry-run` prints the plan and changes nothing. The exit code
//! follows the outcome: done 0, rolled back or refused 1, needs an operator 5.

use crate::cutover;
use crate::cutover::driver::Mode;
use crate::cutover::machine::Outcome as CutoverOutcome;
use crate::error::{exit, Result};
use crate::model::{FinalOffsets, GroupId};

use super::{Context, Outcome, Report};

pub(super) async fn run(
    ctx: &Context,
    group: &GroupId,
    dry_run: bool,
    mode: Mode,
    command: &[String],
    final_offsets: Option<FinalOffsets>,
) -> Result<Outcome> {
    let mut options = ctx.cutover.clone();
    if let Some(who) = final_offsets {
        options.cutover.final_offsets = who;
    }
    let env = cutover::driver::Env {
        origin: ctx.origin.as_ref(),
        destination: ctx.destination.as_ref(),
        link: ctx.link.as_ref(),
        hooks: ctx.hooks.as_ref(),
        options: &options,
        clock: ctx.clock,
        progress: ctx.progress,
        phase_watch: ctx.phase_watch.as_ref(),
        command: command.to_vec(),
        filter_edits: None,
    };
    if dry_run {
        let plan = cutover::dry_run::plan(&env, group).await?;
        return Ok(Outcome {
            exit: if plan.refusal.is_some() {
                exit::UNSAFE
            } else {
                exit::OK
            },
            report: Report::Plan(Box::new(plan)),
        });
    }
    let summary = cutover::driver::run(&env, group, mode).await?;
    Ok(Outcome {
        exit: match summary.outcome {
            CutoverOutcome::Done => exit::OK,
            CutoverOutcome::RolledBack | CutoverOutcome::Refused => exit::UNSAFE,
            CutoverOutcome::NeedsOperator => exit::RESUME_NEEDED,
        },
        report: Report::Cutover(Box::new(summary)),
    })
}

/// What an interrupt leaves behind, for the operator.
pub(super) fn interrupted_hint(
    group: &str,
    restart_on: crate::model::Role,
    mode: Mode,
    dry_run: bool,
) -> String {
    if dry_run {
        return "nothing was changed: a dry run only reads".into();
    }
    let command = crate::cutover::group_command(group, restart_on);
    match mode {
        Mode::Start | Mode::Resume => format!(
            "the journal holds every step taken; see where it stopped with `cutover report` on it, then continue with `{command} --resume` or undo with `{command} --rollback`"
        ),
        Mode::Rollback => format!(
            "the rollback stopped part-way; run `{command} --rollback` again to finish it"
        ),
    }
}
