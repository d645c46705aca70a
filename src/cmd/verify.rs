//! `cutover verify GROUP…|--all-groups [--wait [DURATION]]`: the rule, partition by
//! partition, read-only.
//!
//! With `--wait`, verifies again every poll interval until every group is safe (or moved) or the time is
//! up, with progress on stderr. Never changes anything on either cluster or the link.

use std::time::Duration;

use crate::error::{exit, Result};
use crate::progress::Progress;
use crate::report::VerifyReport;
use crate::verify::{self, Selection};

use super::{Context, Outcome, Report};
use crate::duration;

/// Verifies `selection`; `wait` is `Some(None)` for the configured default wait.
pub(super) async fn run(
    ctx: &Context,
    selection: &Selection,
    wait: Option<Option<Duration>>,
    wide: bool,
) -> Result<Outcome> {
    let wait = wait.map(|w| w.unwrap_or(ctx.default_wait));
    ctx.probe().await?;
    let mut report = verify_until(ctx, selection, wait).await?;
    report.wide = wide;
    Ok(Outcome {
        exit: if report.ok { exit::OK } else { exit::UNSAFE },
        report: Report::Verify(report),
    })
}

/// Verifies, and with a deadline, verifies again until every group is safe or time is up.
async fn verify_until(
    ctx: &Context,
    selection: &Selection,
    wait: Option<Duration>,
) -> Result<VerifyReport> {
    // tokio's clock, so the simulator's paused time drives the waits.
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let progress = deadline.map(|_| Progress::start(ctx.progress, "verifying"));
    let outcome = async {
        loop {
            let report = verify::verify(
                ctx.origin.as_ref(),
                ctx.destination.as_ref(),
                ctx.link.as_ref(),
                selection,
            )
            .await?;
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            match (&progress, left) {
                (Some(p), Some(left)) if !report.ok && !left.is_zero() => {
                    let ok = report.groups.iter().filter(|g| g.status.is_ok()).count();
                    p.update(&format!(
                        "{ok}/{} group(s) safe or moved; checking again in {} ({} left)",
                        report.groups.len(),
                        duration::format(ctx.poll_interval),
                        duration::format(left)
                    ));
                    tokio::time::sleep(ctx.poll_interval.min(left)).await;
                }
                _ => return Ok(report),
            }
        }
    }
    .await;
    if let Some(p) = &progress {
        p.finish();
    }
    outcome
}
