//! `cutover promote TOPIC…|--all [--window D] [--dry-run] [--timeout D]`: the gate, then the
//! promotion (see [`crate::promote`]). Exit 0 promoted, already promoted, or (dry run) the
//! gate passes; 1 otherwise.

use crate::error::{exit, Result};
use crate::promote::{self, PromoteEnv, PromoteSpec};
use crate::report::promote::PromoteOutcome;

use super::{Context, Outcome, Report};

pub(super) async fn run(ctx: &Context, spec: &PromoteSpec, command: &[String]) -> Result<Outcome> {
    ctx.probe().await?;
    let env = PromoteEnv {
        estate: ctx.estate(),
        hooks: ctx.hooks.as_ref(),
        command: command.to_vec(),
    };
    let spec = PromoteSpec {
        agent_moves_groups: ctx.cutover.cutover.final_offsets == crate::model::FinalOffsets::Agent,
        ..spec.clone()
    };
    let report = promote::promote(&env, &spec).await?;
    Ok(Outcome {
        exit: match report.outcome {
            PromoteOutcome::Promoted
            | PromoteOutcome::NothingToDo
            | PromoteOutcome::WouldPromote => exit::OK,
            PromoteOutcome::Refused | PromoteOutcome::Failed => exit::UNSAFE,
        },
        report: Report::Promote(Box::new(report)),
    })
}
