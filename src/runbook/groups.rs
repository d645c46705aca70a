//! A groups stage: many cutovers at once, costing about one.
//!
//! The groups are named, or matched by a pattern against the groups of both clusters. One
//! batched look (`verify` over all of them: one ListOffsets sweep per cluster, the groups'
//! offsets fetched together) finds those already moved, which are left alone. The others are
//! cut over together, at most `concurrency` at a time, each by the same driver and with the
//! same journal as `cutover group` (resumed from it when a run was interrupted), so their
//! waits overlap: the proofs of their exclusions wait for the same sync tick, their stops run
//! in parallel, their final offsets are written in parallel. Their edits of the link's group
//! filters are gathered into one verified read-modify-write ([`SharedFilterEdits`]): a
//! hundred exclusions are one write.

use std::collections::BTreeSet;

use futures::StreamExt;

use super::{GroupsStage, RunEnv};
use crate::cutover::driver::{self, Env, Mode};
use crate::error::Result;
use crate::estate::Estate;
use crate::journal;
use crate::link::filter_edit::SharedFilterEdits;
use crate::model::{GroupId, Role};
use crate::progress::Progress;
use crate::report::runbook::{GroupRow, StageDetail};
use crate::report::VerifyReport;
use crate::rule::GroupStatus;
use crate::verify::{self, Selection};

/// Runs the stage; ok when every group is where it goes (moved now or before).
pub(super) async fn run(
    env: &RunEnv<'_>,
    stage: &str,
    s: &GroupsStage,
) -> Result<(bool, StageDetail)> {
    if s.to == Role::Destination {
        return run_on(env, stage, s).await;
    }
    // Back to the origin: the same stage over the origin's two sides and the reverse link,
    // opened now (its mirrors may have been created by an earlier stage).
    let sides = env
        .reverse
        .ok_or_else(crate::reverse::not_configured)?
        .open()
        .await?;
    let journal_dir = env.estate.journal_dir.join(crate::reverse::JOURNAL_SUBDIR);
    let mut options = env.options.clone();
    options.restart_on = Role::Origin;
    options.cutover.journal_dir = journal_dir.clone();
    let back = RunEnv {
        estate: Estate {
            origin: sides.origin.as_ref(),
            destination: sides.destination.as_ref(),
            link: sides.link.as_ref(),
            journal_dir: &journal_dir,
            ..env.estate
        },
        hooks: env.hooks,
        options: &options,
        phase_watch: env.phase_watch,
        command: env.command.clone(),
        reverse: env.reverse,
    };
    run_on(&back, stage, s).await
}

/// Runs the stage between the estate's two sides.
async fn run_on(env: &RunEnv<'_>, stage: &str, s: &GroupsStage) -> Result<(bool, StageDetail)> {
    let names = resolve(env, s).await?;
    if names.is_empty() {
        return Ok((
            false,
            StageDetail {
                summary: format!(
                    "no group matches {}",
                    s.pattern.as_deref().unwrap_or("the names given")
                ),
                ..StageDetail::default()
            },
        ));
    }
    let look = look(env, &names).await?;
    let moved: BTreeSet<&GroupId> = look
        .groups
        .iter()
        .filter(|g| g.status == GroupStatus::Moved)
        .map(|g| &g.group)
        .collect();
    let mut rows: Vec<GroupRow> = moved
        .iter()
        .map(|g| GroupRow {
            group: g.to_string(),
            stage: stage.to_string(),
            outcome: "already_moved".into(),
            downtime_ms: None,
            reason: "it already runs on the destination (verify: MOVED); left alone".into(),
            journal: None,
        })
        .collect();
    let todo: Vec<GroupId> = names.into_iter().filter(|g| !moved.contains(g)).collect();
    let mut options = env.options.clone();
    if let Some(who) = s.final_offsets {
        options.cutover.final_offsets = who;
    }
    let shared = SharedFilterEdits::new();
    let total = todo.len();
    let progress = Progress::start(
        env.estate.progress,
        &format!(
            "cutting over {total} group(s), at most {} at a time",
            s.concurrency
        ),
    );
    let mut results = futures::stream::iter(todo)
        .map(|group| {
            let (options, shared) = (&options, &shared);
            async move { one(env, options, shared, stage, group).await }
        })
        .buffer_unordered(s.concurrency.max(1));
    let mut finished = 0;
    while let Some(row) = results.next().await {
        finished += 1;
        let failed = rows
            .iter()
            .chain(std::iter::once(&row))
            .filter(|r| !on_destination(r))
            .count();
        progress.update(&format!(
            "{finished}/{total} finished ({failed} not moved); last: {} {}",
            row.group, row.outcome
        ));
        rows.push(row);
    }
    progress.finish();
    rows.sort_by(|a, b| a.group.cmp(&b.group));
    let not_moved: Vec<String> = rows
        .iter()
        .filter(|r| !on_destination(r))
        .map(|r| format!("{} {}", r.group, r.outcome))
        .collect();
    let done = rows.iter().filter(|r| r.outcome == "done").count();
    let place = match s.to {
        Role::Destination => "on the destination",
        Role::Origin => "on the origin's reverse mirrors",
    };
    let summary = if not_moved.is_empty() {
        format!(
            "{done} group(s) moved, {} already {place}",
            rows.len() - done
        )
    } else {
        format!(
            "{} of {} group(s) not {place}: {}",
            not_moved.len(),
            rows.len(),
            not_moved.join(", ")
        )
    };
    Ok((
        not_moved.is_empty(),
        StageDetail {
            summary,
            groups: rows,
            ..StageDetail::default()
        },
    ))
}

fn on_destination(row: &GroupRow) -> bool {
    matches!(row.outcome.as_str(), "done" | "already_moved")
}

/// One batched look at `names` (the rule's judgement of each), as `cutover verify` does.
pub(super) async fn look(env: &RunEnv<'_>, names: &[GroupId]) -> Result<VerifyReport> {
    verify::verify(
        env.estate.origin,
        env.estate.destination,
        env.estate.link,
        &Selection::Groups(names.to_vec()),
    )
    .await
}

/// The groups named, and those of either cluster matching the pattern, in name order.
pub(super) async fn resolve(env: &RunEnv<'_>, s: &GroupsStage) -> Result<Vec<GroupId>> {
    let mut names: BTreeSet<GroupId> = s.groups.iter().cloned().collect();
    if let Some(pattern) = &s.pattern {
        let (o, d) = tokio::try_join!(
            env.estate.origin.list_groups(),
            env.estate.destination.list_groups()
        )?;
        names.extend(
            o.groups
                .into_iter()
                .chain(d.groups)
                .map(|l| l.group)
                .filter(|g| super::matches(pattern, g.as_str())),
        );
    }
    Ok(names.into_iter().collect())
}

/// One group's cutover, resumed from its journal when an earlier run of it did not finish.
async fn one(
    env: &RunEnv<'_>,
    options: &driver::Options,
    shared: &SharedFilterEdits,
    stage: &str,
    group: GroupId,
) -> GroupRow {
    let path = journal::path_for(&options.cutover.journal_dir, &group);
    let unfinished = path.exists()
        && journal::read(&path)
            .is_ok_and(|back| !back.entries.is_empty() && back.finished().is_none());
    let genv = Env {
        by_time: None,
        origin: env.estate.origin,
        destination: env.estate.destination,
        link: env.estate.link,
        hooks: env.hooks,
        options,
        clock: *env.estate.clock,
        progress: false,
        phase_watch: env.phase_watch,
        command: env.command.clone(),
        filter_edits: Some(shared),
    };
    let mode = if unfinished {
        Mode::Resume
    } else {
        Mode::Start
    };
    match driver::run(&genv, &group, mode).await {
        Ok(summary) => GroupRow {
            group: group.to_string(),
            stage: stage.to_string(),
            outcome: summary.outcome.as_str().to_string(),
            downtime_ms: summary.timings.downtime_ms,
            reason: summary.reason,
            journal: Some(summary.journal.display().to_string()),
        },
        Err(e) => GroupRow {
            group: group.to_string(),
            stage: stage.to_string(),
            outcome: "error".into(),
            downtime_ms: None,
            reason: format!("{e} ({})", e.hint()),
            journal: path.exists().then(|| path.display().to_string()),
        },
    }
}
