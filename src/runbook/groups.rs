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
//! hundred exclusions are one write. Their looks are read together ([`SharedLooks`]): the
//! cutovers that ask for a look while one is read share the next read, so a hundred cutovers
//! polling cost the clusters and the link about what one does.

use std::collections::BTreeSet;

use futures::StreamExt;

use super::{GroupsStage, RunEnv};
use crate::cutover::driver::{self, Env, Mode};
use crate::cutover::looks::SharedLooks;
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
    book: &super::Runbook,
    stage: &str,
    s: &GroupsStage,
    run_id: &str,
) -> Result<(bool, StageDetail)> {
    let back = Back::open(env, s).await?;
    let side = back.as_ref().map(|b| b.env(env));
    let ran = super::spread::Stage {
        name: stage,
        spec: s,
        book,
        run_id,
    };
    run_on(side.as_ref().unwrap_or(env), &ran).await
}

/// A stage's other side when its groups go back to the origin (`to = "origin"`): the origin's
/// two sides and the reverse link, opened now (an earlier stage may have created its
/// mirrors), journals under `to-origin/`.
pub(super) struct Back {
    sides: crate::reverse::ReverseSides,
    journal_dir: std::path::PathBuf,
    options: driver::Options,
}

impl Back {
    /// `None` when the stage's groups go to the destination.
    pub(super) async fn open(env: &RunEnv<'_>, s: &GroupsStage) -> Result<Option<Back>> {
        if s.to == Role::Destination {
            return Ok(None);
        }
        let sides = env
            .reverse
            .ok_or_else(crate::reverse::not_configured)?
            .open()
            .await?;
        let journal_dir = env.estate.journal_dir.join(crate::reverse::JOURNAL_SUBDIR);
        let mut options = env.options.clone();
        options.restart_on = Role::Origin;
        options.cutover.journal_dir = journal_dir.clone();
        Ok(Some(Back {
            sides,
            journal_dir,
            options,
        }))
    }

    /// The cutovers' settings on this side.
    pub(super) fn options(&self) -> &driver::Options {
        &self.options
    }

    /// The runbook's environment on this side.
    pub(super) fn env<'a>(&'a self, env: &RunEnv<'a>) -> RunEnv<'a> {
        RunEnv {
            estate: Estate {
                origin: self.sides.origin.as_ref(),
                destination: self.sides.destination.as_ref(),
                link: self.sides.link.as_ref(),
                journal_dir: &self.journal_dir,
                ..env.estate
            },
            hooks: env.hooks,
            options: &self.options,
            phase_watch: env.phase_watch,
            command: env.command.clone(),
            reverse: env.reverse,
            work: env.work,
        }
    }
}

/// Runs the stage between the estate's two sides.
async fn run_on(env: &RunEnv<'_>, ran: &super::spread::Stage<'_>) -> Result<(bool, StageDetail)> {
    let (stage, s) = (ran.name, ran.spec);
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
    match (env.work, &options.shared_journal) {
        (Some(queue), Some(store)) => {
            rows.extend(ran.coordinate(env, &options, queue, store, todo).await?);
        }
        _ => rows.extend(here(env, &options, stage, s, todo).await),
    }
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

/// What the cutovers of one stage in this agent share: their edits of the link's filters
/// become one write, their looks one read.
#[derive(Default)]
pub(super) struct Together {
    edits: SharedFilterEdits,
    looks: SharedLooks,
}

/// Cuts `todo` over in this agent, at most `concurrency` at once, sharing their filter edits
/// and looks.
async fn here(
    env: &RunEnv<'_>,
    options: &driver::Options,
    stage: &str,
    s: &GroupsStage,
    todo: Vec<GroupId>,
) -> Vec<GroupRow> {
    let shared = Together::default();
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
            let shared = &shared;
            async move { one(env, options, shared, stage, group, None).await }
        })
        .buffer_unordered(s.concurrency.max(1));
    let mut rows = Vec::new();
    while let Some(row) = results.next().await {
        let failed = rows
            .iter()
            .chain(std::iter::once(&row))
            .filter(|r| !on_destination(r))
            .count();
        progress.update(&format!(
            "{}/{total} finished ({failed} not moved); last: {} {}",
            rows.len() + 1,
            row.group,
            row.outcome
        ));
        rows.push(row);
    }
    progress.finish();
    rows
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

/// One group's cutover: as `mode` says, or (`None`) resumed from its journal when an earlier
/// run of it did not finish.
pub(super) async fn one(
    env: &RunEnv<'_>,
    options: &driver::Options,
    shared: &Together,
    stage: &str,
    group: GroupId,
    mode: Option<Mode>,
) -> GroupRow {
    let path = journal::path_for(&options.cutover.journal_dir, &group);
    let unfinished = || {
        path.exists()
            && journal::read(&path)
                .is_ok_and(|back| !back.entries.is_empty() && back.finished().is_none())
    };
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
        filter_edits: Some(&shared.edits),
        looks: Some(&shared.looks),
    };
    let mode = mode.unwrap_or_else(|| {
        if unfinished() {
            Mode::Resume
        } else {
            Mode::Start
        }
    });
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
