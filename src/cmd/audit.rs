//! `cutover audit [--window DURATION]`: the pre-promotion audit, read-only.
//!
//! Watches the origin's log ends for `window` (producers still writing), then judges every
//! mirror topic and every group with offsets on them. Exit 0 only when promotion is safe.

use std::time::Duration;

use crate::audit;
use crate::error::{exit, Result};
use crate::progress::Progress;

use super::{Context, Outcome, Report};
use crate::duration;

pub(super) async fn run(
    ctx: &Context,
    window: Duration,
    stay: &[crate::model::GroupId],
) -> Result<Outcome> {
    ctx.probe().await?;
    let staying = audit::Staying {
        groups: stay.iter().cloned().collect(),
        reverse: if stay.is_empty() {
            crate::promotion::ReversePath::NotConfigured
        } else {
            crate::reverse::Reverse::path(ctx.reverse.as_ref()).await
        },
    };
    let progress = Progress::start(
        ctx.progress,
        &format!(
            "watching the origin's log ends for {}",
            duration::format(window)
        ),
    );
    let report = audit::audit(
        ctx.origin.as_ref(),
        ctx.destination.as_ref(),
        ctx.link.as_ref(),
        window,
        ctx.cutover.cutover.final_offsets == crate::model::FinalOffsets::Agent,
        &staying,
    )
    .await;
    progress.finish();
    let report = report?;
    Ok(Outcome {
        exit: if report.promotion_safe {
            exit::OK
        } else {
            exit::UNSAFE
        },
        report: Report::Audit(report),
    })
}
