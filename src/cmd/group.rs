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

/// How the command line asked for the cutover to be done.
pub(super) struct How {
    /// `--final-offsets`, overriding the configuration.
    pub final_offsets: Option<FinalOffsets>,
    /// `--offsets-by-time`: the destination is a copy that does not keep offsets.
    pub offsets_by_time: Option<crate::translation::Mode>,
}

pub(super) async fn run(
    ctx: &Context,
    group: &GroupId,
    dry_run: bool,
    mode: Mode,
    command: &[String],
    how: How,
) -> Result<Outcome> {
    let mut options = ctx.cutover.clone();
    if let Some(who) = how.final_offsets {
        options.cutover.final_offsets = who;
    }
    let mut translations = Vec::new();
    let by_time = match how.offsets_by_time {
        None => None,
        Some(_) if options.restart_on == crate::model::Role::Origin => {
            return Err(crate::error::Error::Usage {
                message: "`--offsets-by-time` and `--to origin` cannot go together: a reverse link keeps offsets".into(),
                hint: "move a group back to the origin with `--to origin` alone".into(),
            })
        }
        Some(by) => {
            // Only the agent can write offsets that differ from the origin's.
            options.cutover.final_offsets = FinalOffsets::Agent;
            let by_time = cutover::by_time::ByTime {
                mode: by,
                copy: std::sync::Arc::new(crate::kafka::ShiftedCopy::new(
                    ctx.destination.clone(),
                )),
            };
            // Found once before anything else: a group that cannot be translated is refused
            // with the reason, not after the stop.
            translations = by_time
                .refresh(ctx.origin.as_ref(), ctx.link.as_ref(), group)
                .await
                .map_err(|e| crate::error::Error::Usage {
                    message: format!(
                        "cannot find by time where group {group} would resume on the copy: {e}"
                    ),
                    hint: "check that the copy holds the records the group processed last (the replicator caught up) and that the group has committed offsets on the origin".into(),
                })?;
            Some(by_time)
        }
    };
    let destination: &dyn crate::kafka::Cluster = match &by_time {
        Some(b) => b.copy.as_ref(),
        None => ctx.destination.as_ref(),
    };
    let env = cutover::driver::Env {
        by_time: by_time.as_ref(),
        origin: ctx.origin.as_ref(),
        destination,
        link: ctx.link.as_ref(),
        hooks: ctx.hooks.as_ref(),
        options: &options,
        clock: ctx.clock,
        progress: ctx.progress,
        phase_watch: ctx.phase_watch.as_deref(),
        command: command.to_vec(),
        filter_edits: None,
        looks: None,
    };
    if dry_run {
        let mut plan = cutover::dry_run::plan(&env, group).await?;
        plan.offsets_by_time = by_time.as_ref().map(|b| crate::report::OffsetsByTime {
            mode: b.mode,
            partitions: translations,
        });
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
