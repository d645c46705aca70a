//! `cutover run RUNBOOK.toml`: a whole migration as ordered stages (`watch`, `groups`, `hook`,
//! `audit`, `promote`), each one's success criterion checked before the next begins.
//!
//! One journal per runbook (`<journal-dir>/runbook/<name>.jsonl`, locked against a second
//! agent): the run's start, an intent before each stage and an outcome after it carrying what
//! the stage found (each group's outcome and downtime, each promoted topic, the lag over
//! time). Each group keeps its own cutover journal, as with `cutover group`. A run that ends
//! before its last stage is `partial` (exit 4) and its report says where everything is and
//! what to run next; `--resume` continues it: stages whose outcome the journal shows done are
//! not run again, and the stage that was under way starts over from a fresh look (a groups
//! stage resumes each group from its own journal and skips groups already moved; a promote
//! stage leaves STOPPED topics alone; a hook stage whose check already holds does not run its
//! hook again).
//!
//! | file | concept |
//! | --- | --- |
//! | `file.rs` | the runbook file: stages, checked before anything runs |
//! | `groups.rs` | a groups stage: many cutovers at once, their filter edits batched |
//! | `spread.rs` | a groups stage spread over several agents: work items, what an agent does with one |
//! | `stages.rs` | the other stages, and a hook stage's check |

mod file;
mod groups;
pub mod spread;
mod stages;

use std::collections::BTreeSet;

use serde_json::json;

pub use file::{load, matches, Action, GroupsStage, HookCheck, HookStage, Runbook, Stage};

use crate::cutover::driver::Options;
use crate::cutover::machine::Phase;
use crate::error::{Error, Result};
use crate::estate::Estate;
use crate::hooks::Hooks;
use crate::journal::{self, Journal, Record, Subject};
use crate::model::Timings;
use crate::report::runbook::{
    RunbookOutcome, RunbookReport, StageDetail, StageReport, StageStatus,
};

/// What a runbook runs against.
pub struct RunEnv<'a> {
    pub estate: Estate<'a>,
    pub hooks: &'a dyn Hooks,
    pub options: &'a Options,
    /// Told every phase a group's cutover enters (the simulator's `kill-at`).
    pub phase_watch: Option<&'a tokio::sync::watch::Sender<Phase>>,
    /// The command line, for the journals.
    pub command: Vec<String>,
    /// The way back to the origin, for `groups` stages with `to = "origin"` and `audit`
    /// stages with `stay` (`None`: none configured, or the simulator).
    pub reverse: Option<&'a crate::reverse::Reverse>,
    /// Where a groups stage's work items go to the runbook's agents (`[journal] store =
    /// "kafka"`); `None`: this agent cuts every group over itself.
    pub work: Option<&'a dyn spread::WorkQueue>,
}

impl RunEnv<'_> {
    fn note(&self, text: &str) {
        if self.estate.progress {
            eprintln!("cutover: {text}");
        }
    }
}

/// How `cutover run` was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Start,
    Resume,
    DryRun,
    /// `--worker`: takes work items of the runbook's groups stages, runs no stage.
    Worker,
}

/// Runs (or, dry, describes) a runbook; the report comes from its journal.
pub async fn run(env: &RunEnv<'_>, book: &Runbook, mode: RunMode) -> Result<RunbookReport> {
    if mode == RunMode::DryRun {
        return stages::plan(env, book).await;
    }
    crate::kafka::probe_both(env.estate.origin, env.estate.destination).await?;
    if mode == RunMode::Worker {
        return worker(env, book).await;
    }
    let subject = Subject::Runbook {
        name: book.name.clone(),
    };
    let run_id = format!("run-{}", env.estate.clock.now_ms());
    let (mut journal, back, raced) = match &env.options.shared_journal {
        None => Journal::open_subject(env.estate.journal_dir, &subject, &run_id)
            .map(|(journal, back)| (journal, back, false))?,
        // Shared: any host with the configuration continues the runbook (`--resume` takes
        // it, fencing the agent that ran it), and a second agent starting it is refused.
        Some(store) => {
            Journal::open_shared_async(
                env.estate.journal_dir.to_path_buf(),
                subject.clone(),
                run_id.clone(),
                store.replica.clone(),
                journal::SharedStore::runbook_key(&book.name),
                if mode == RunMode::Resume {
                    journal::Take::Always
                } else {
                    journal::Take::IfFree
                },
            )
            .await?
        }
    };
    let last_run = back.run_id().map(String::from);
    // A run that ended partly (a stage failed) is unfinished too: `--resume` continues it.
    let unfinished = last_run.is_some()
        && back.finished().is_none_or(
            |f| !matches!(&f.record, Record::Finished { outcome, .. } if outcome == "done"),
        );
    // Another agent started the runbook between this one's read and its taking it: that agent
    // is fenced now, and this one continues its run.
    let mode = if raced && unfinished && mode == RunMode::Start {
        RunMode::Resume
    } else {
        mode
    };
    let done: BTreeSet<usize> = match (unfinished, mode) {
        (true, RunMode::Start) => {
            return Err(Error::Unfinished {
                message: format!(
                    "the runbook {} did not finish its last run ({})",
                    book.name,
                    last_run.unwrap_or_default()
                ),
                journal: journal.path().to_path_buf(),
                hint: format!(
                    "continue it with `cutover run {} --resume` (stages done are not repeated), or see where it stopped with `cutover report {}`; to start over instead, give the runbook another name",
                    book.path.display(),
                    journal.path().display()
                ),
            })
        }
        (false, RunMode::Resume) => {
            return Err(Error::State {
                message: format!("the runbook {} has no unfinished run to resume", book.name),
                hint: format!("start it with `cutover run {}`", book.path.display()),
            })
        }
        (true, _) => {
            let previous = last_run.unwrap_or_default();
            journal.continue_run(&previous);
            stages_done(&back.entries, &previous, book)?
        }
        (false, _) => {
            if let Some(previous) = last_run {
                journal.archive(&previous)?;
            }
            BTreeSet::new()
        }
    };
    journal.append(
        Record::Started {
            command: env.command.clone(),
            agent: crate::version::agent(),
            resumed: mode == RunMode::Resume,
            settings: json!({
                "runbook": book.path,
                "digest": book.digest,
                "stages": book.stages.iter().map(|s| json!({ "name": s.name, "kind": s.action.kind() })).collect::<Vec<_>>(),
                "journal_dir": env.estate.journal_dir,
                "link": env.estate.link.name(),
            }),
        },
        env.estate.clock.now_ms(),
    )?;
    let outcome = run_stages(env, book, &mut journal, &done).await;
    journal::set_active_at(journal.path(), &subject, journal.run_id(), None);
    if let Some(queue) = env.work {
        // Workers stop once they read it.
        if let Err(e) = queue.publish_end(&book.name, journal.run_id()).await {
            tracing::warn!(error = %e, "could not tell the runbook's workers that it ended");
        }
    }
    let failed = outcome?;
    journal.append(
        Record::Finished {
            outcome: if failed.is_none() { "done" } else { "partial" }.into(),
            reason: failed,
            timings: Timings::default(),
        },
        env.estate.clock.now_ms(),
    )?;
    report_of(&journal)
}

/// `--worker`: takes a share of the runbook's groups stages until its run ends.
async fn worker(env: &RunEnv<'_>, book: &Runbook) -> Result<RunbookReport> {
    let (Some(queue), Some(store)) = (env.work, &env.options.shared_journal) else {
        return Err(Error::Usage {
            message: "`cutover run --worker` takes groups from a runbook's shared work items, and no shared journal store is configured".into(),
            hint: "set `[journal] store = \"kafka\"` (or CUTOVER_JOURNAL_STORE=kafka) in every agent's configuration: docs/journal-store.md".into(),
        });
    };
    let taker = queue.join(&book.name).await?;
    env.note(&format!(
        "working for runbook {} (consumer group {} on {}) until its run ends",
        book.name,
        crate::kafka::consumer_group(&book.name),
        queue.describe()
    ));
    let rows = spread::serve(
        env,
        env.options,
        book,
        taker.as_ref(),
        store,
        spread::Until::End,
    )
    .await?;
    Ok(RunbookReport::of_worker(
        &book.name,
        rows,
        &store.replica.describe(),
    ))
}

/// Runs every stage not done yet, in order, until one fails; `Some(why)` when one did.
async fn run_stages(
    env: &RunEnv<'_>,
    book: &Runbook,
    journal: &mut Journal,
    done: &BTreeSet<usize>,
) -> Result<Option<String>> {
    let subject = Subject::Runbook {
        name: book.name.clone(),
    };
    for (index, stage) in book.stages.iter().enumerate() {
        if done.contains(&index) {
            env.note(&format!(
                "stage {} ({}): done in an earlier attempt",
                index + 1,
                stage.name
            ));
            continue;
        }
        let resumed = journal_has_intent(journal, index)?;
        journal.append(
            Record::Intent {
                effect: "stage".into(),
                detail: json!({ "index": index, "name": stage.name, "kind": stage.action.kind(), "resumed": resumed }),
            },
            env.estate.clock.now_ms(),
        )?;
        let phase = format!("stage {} {}", index + 1, stage.name);
        journal::set_active_at(journal.path(), &subject, journal.run_id(), Some(&phase));
        env.note(&format!(
            "stage {} of {} ({}, {})",
            index + 1,
            book.stages.len(),
            stage.name,
            stage.action.kind()
        ));
        let result = stages::run_stage(env, book, index, journal.run_id(), resumed).await;
        let (ok, detail) = match result {
            Ok(r) => r,
            // A stage that could not be carried out (a cluster down) fails with the reason.
            Err(e) => (
                false,
                StageDetail {
                    summary: format!("{e} ({})", e.hint()),
                    ..StageDetail::default()
                },
            ),
        };
        let detail = StageDetail {
            index,
            name: stage.name.clone(),
            kind: stage.action.kind().into(),
            ..detail
        };
        env.note(&format!(
            "stage {} ({}): {}: {}",
            index + 1,
            stage.name,
            if ok { "done" } else { "FAILED" },
            detail.summary
        ));
        let summary = detail.summary.clone();
        journal.append(
            Record::Outcome {
                effect: "stage".into(),
                ok,
                detail: serde_json::to_value(&detail)
                    .map_err(|e| Error::Internal(format!("a stage record did not encode: {e}")))?,
            },
            env.estate.clock.now_ms(),
        )?;
        if !ok {
            return Ok(Some(format!(
                "stage {} ({}): {summary}",
                index + 1,
                stage.name
            )));
        }
    }
    Ok(None)
}

/// Whether this run's journal already announced the stage (a resume of a stage under way).
fn journal_has_intent(journal: &Journal, index: usize) -> Result<bool> {
    let back = journal::read(journal.path())?;
    Ok(back.entries.iter().any(|e| {
        e.run_id == journal.run_id()
            && matches!(&e.record, Record::Intent { effect, detail } if effect == "stage" && detail["index"] == json!(index))
    }))
}

/// The stages a run's journal shows done; refuses when the runbook's stages changed in a way
/// that makes the record wrong (a done stage renamed, moved or of another kind).
fn stages_done(
    entries: &[journal::Entry],
    run_id: &str,
    book: &Runbook,
) -> Result<BTreeSet<usize>> {
    let mut done = BTreeSet::new();
    for e in entries.iter().filter(|e| e.run_id == run_id) {
        if let Record::Outcome {
            effect,
            ok: true,
            detail,
        } = &e.record
        {
            if effect != "stage" {
                continue;
            }
            let index = detail["index"].as_u64().unwrap_or(u64::MAX) as usize;
            let same = book.stages.get(index).is_some_and(|s| {
                detail["name"] == json!(s.name) && detail["kind"] == json!(s.action.kind())
            });
            if !same {
                return Err(Error::State {
                    message: format!(
                        "the runbook's stage {} is not the one its journal shows done ({} {})",
                        index + 1,
                        detail["kind"],
                        detail["name"]
                    ),
                    hint: "keep the stages already done as they were (add or change only later stages), or start the runbook over under another name".into(),
                });
            }
            done.insert(index);
        }
    }
    Ok(done)
}

/// The report of the run in `journal`.
fn report_of(journal: &Journal) -> Result<RunbookReport> {
    let back = journal::read(journal.path())?;
    Ok(RunbookReport::from_journal(
        &back.entries,
        &journal.path().display().to_string(),
    ))
}

/// A report for stages planned (a dry run).
fn planned(book: &Runbook, summaries: Vec<String>) -> RunbookReport {
    RunbookReport {
        schema_version: crate::report::SCHEMA_VERSION,
        runbook: book.name.clone(),
        run_id: String::new(),
        outcome: RunbookOutcome::Planned,
        stages: book
            .stages
            .iter()
            .zip(summaries)
            .enumerate()
            .map(|(index, (s, summary))| StageReport {
                index,
                name: s.name.clone(),
                kind: s.action.kind().into(),
                status: StageStatus::Planned,
                summary,
                started_ms: None,
                finished_ms: None,
            })
            .collect(),
        groups: Vec::new(),
        topics: Vec::new(),
        evidence: Vec::new(),
        downtime_ms: None,
        lag: Vec::new(),
        next: None,
        journal: String::new(),
    }
}
