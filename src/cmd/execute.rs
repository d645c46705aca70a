//! Runs a [`Prepared`] command against a [`Context`], real or simulated.
//!
//! The binary and the simulator both come through here, so a scenario exercises exactly the
//! code an operator runs.

use crate::error::Result;
use crate::report::promote::PromoteReport;
use crate::report::runbook::RunbookReport;
use crate::report::watch::WatchReport;
use crate::report::{AuditReport, Plan, Summary, VerifyReport};

use super::{audit, group, promote, run, verify, watch, Context, Prepared};

/// What a command produced: its report and its exit code.
pub struct Outcome {
    pub exit: i32,
    pub report: Report,
}

/// The report of any command that reads the clusters.
pub enum Report {
    Verify(VerifyReport),
    Audit(AuditReport),
    Plan(Box<Plan>),
    Cutover(Box<Summary>),
    Watch(Box<WatchReport>),
    Promote(Box<PromoteReport>),
    Runbook(Box<RunbookReport>),
}

/// Runs a prepared command against the clusters and the link of `ctx`.
pub async fn execute(prepared: &Prepared, ctx: &Context) -> Result<Outcome> {
    match prepared {
        Prepared::Verify {
            selection,
            wait,
            wide,
            ..
        } => verify::run(ctx, selection, *wait, *wide).await,
        Prepared::Audit { window, stay } => audit::run(ctx, *window, stay).await,
        Prepared::Watch(spec) => watch::run(ctx, spec).await,
        Prepared::Promote { spec, command } => promote::run(ctx, spec, command).await,
        Prepared::Run {
            runbook,
            mode,
            command,
        } => run::run(ctx, runbook, *mode, command).await,
        Prepared::Group {
            group,
            dry_run,
            mode,
            command,
            final_offsets,
            offsets_by_time,
            ..
        } => {
            let how = group::How {
                final_offsets: *final_offsets,
                offsets_by_time: *offsets_by_time,
            };
            group::run(ctx, group, *dry_run, *mode, command, how).await
        }
    }
}
