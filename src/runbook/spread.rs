//! A groups stage spread over several agents (`[journal] store = "kafka"`).
//!
//! The agent running the runbook publishes the stage's groups as work items in a topic, one
//! record a group, and takes its share like every other agent started with the same runbook
//! and `--worker`: they form one consumer group, and each takes the items of the partitions it
//! is assigned. An item is handled by the same driver and journal as `cutover group`, the
//! group's journal shared in the store; it is committed (in the consumer group) once its
//! cutover ended. The stage is over when every item it published is committed; its rows come
//! from the groups' shared journals.
//!
//! An agent that dies stops heartbeating; its partitions go to the others, which receive its
//! items again. For each, the group's shared journal says what to do ([`decide`]): a run this
//! item started and that finished is handled; an unfinished one is resumed, from the journal,
//! re-observing first, as `--resume` does, unless the agent that drives it is still in the
//! consumer group (after a rebalance that did not lose it): then it is waited for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::groups::{self, Back};
use super::{Action, GroupsStage, RunEnv, Runbook};
use crate::cutover::driver::{Mode, Options};
use crate::error::Result;
use crate::journal::replica::{current_file, off_thread};
use crate::journal::{Entry, Record, SharedStore};
use crate::model::GroupId;
use crate::progress::Progress;
use crate::report::runbook::GroupRow;
use crate::rule::GroupStatus;

/// How long an agent waits for work items before it looks again.
const TAKE_WAIT: Duration = Duration::from_millis(500);
/// How often an agent looks whether another agent's cutover of an item ended.
const WAIT_POLL: Duration = Duration::from_secs(2);
/// How many times an agent tries an item whose cutover ended in an error (not an outcome),
/// and the pause before the next try (times the tries so far).
const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_secs(3);
/// How many times in a row a read made before any effect (the stage's handled work, the
/// journals of a batch's groups, the runbook's agents) may fail, each after the journal's
/// timeout, before the agent stops (its runbook to be resumed).
const LOOKS_FAILED: u32 = 5;

/// The evidence key a cutover started for a work item carries the item's id under.
pub const WORK_ITEM: &str = "work_item";

/// One group of one stage of one runbook run, to be cut over by whichever agent takes it; or
/// (`end`) the runbook run's end, published to every partition so that workers stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub runbook: String,
    pub run: String,
    pub stage: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub end: bool,
}

impl WorkItem {
    /// Names the item in the journal of the cutover it starts.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.runbook, self.run, self.stage, self.group
        )
    }
}

/// An item as an agent received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub item: WorkItem,
    pub partition: i32,
    pub offset: i64,
    /// Published after this agent joined (at or past its partition's end then).
    pub fresh: bool,
}

/// Where work items are published.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Publishes `items`; returns each partition's last offset written.
    async fn publish(&self, items: &[WorkItem]) -> Result<BTreeMap<i32, i64>>;
    /// Publishes the end of a runbook run to every partition.
    async fn publish_end(&self, runbook: &str, run: &str) -> Result<()>;
    /// Joins the agents of `runbook` (one consumer group).
    async fn join(&self, runbook: &str) -> Result<Box<dyn WorkTaker>>;
    fn describe(&self) -> String;
}

/// One agent's membership of a runbook's agents.
#[async_trait]
pub trait WorkTaker: Send + Sync {
    /// The items waiting in this agent's partitions: at most `max`, waiting up to `wait` for
    /// the first.
    async fn take(&self, max: usize, wait: Duration) -> Result<Vec<Delivered>>;
    /// Marks `items` handled: no agent receives them again.
    async fn handled(&self, items: &[Delivered]) -> Result<()>;
    /// Whether every item up to `last` (each partition's last offset) is handled.
    async fn all_handled(&self, last: &BTreeMap<i32, i64>) -> Result<bool>;
    /// The agents (`host:pid`) in the consumer group now.
    async fn agents(&self) -> Result<BTreeSet<String>>;
}

/// What an agent does with an item, from the group's shared journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The item's cutover ran to its end: nothing to do; its row.
    Handled {
        outcome: String,
        reason: String,
        downtime_ms: Option<i64>,
    },
    /// The item's cutover is driven by another agent still among the runbook's agents.
    Wait { agent: String },
    /// Cut the group over (`Start`), or continue the item's unfinished cutover (`Resume`).
    Run(Mode),
}

/// What to do with item `item` given the current file of its group's shared journal, this
/// agent (`me`) and the agents alive now.
pub fn decide(entries: &[Entry], item: &str, me: &str, live: &BTreeSet<String>) -> Step {
    let Some(last) = entries.last() else {
        return Step::Run(Mode::Start);
    };
    let run: Vec<&Entry> = entries.iter().filter(|e| e.run_id == last.run_id).collect();
    let ours = run.iter().any(|e| match &e.record {
        Record::Started { settings, .. } => settings["evidence"][WORK_ITEM].as_str() == Some(item),
        _ => false,
    });
    if let Record::Finished {
        outcome,
        reason,
        timings,
    } = &last.record
    {
        return if ours {
            Step::Handled {
                outcome: outcome.clone(),
                reason: reason.clone().unwrap_or_default(),
                downtime_ms: timings.downtime_ms,
            }
        } else {
            Step::Run(Mode::Start)
        };
    }
    let holder = run.iter().rev().find_map(|e| match &e.record {
        Record::Started { agent, .. } => Some(agent.clone()),
        _ => None,
    });
    match holder {
        Some(agent) if agent != me && live.contains(&agent) => Step::Wait { agent },
        // Another's unfinished run (an operator's `cutover group`): starting refuses it.
        _ if !ours => Step::Run(Mode::Start),
        _ => Step::Run(Mode::Resume),
    }
}

/// A row for a group whose item's journal says `step` (handled), or why there is none.
pub fn row(group: &str, stage: &str, step: &Step, journal: String) -> GroupRow {
    match step {
        Step::Handled {
            outcome,
            reason,
            downtime_ms,
        } => GroupRow {
            group: group.to_string(),
            stage: stage.to_string(),
            outcome: outcome.clone(),
            downtime_ms: *downtime_ms,
            reason: reason.clone(),
            journal: Some(journal),
        },
        other => GroupRow {
            group: group.to_string(),
            stage: stage.to_string(),
            outcome: "error".into(),
            downtime_ms: None,
            reason: match other {
                Step::Wait { agent } => format!("still under way by agent {agent}"),
                _ => "its work item was handled without a finished cutover in its journal (the agent that took it failed before its first record): run the stage again".into(),
            },
            journal: Some(journal),
        },
    }
}

/// Parses a group's current journal file, as read from the shared store.
pub fn entries(lines: &[Vec<u8>]) -> Vec<Entry> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// Runs `each` over `items`, at most `concurrency` at once, in any order.
pub async fn all<T, F, Fut>(items: Vec<T>, concurrency: usize, each: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future,
{
    futures::stream::iter(items)
        .map(each)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// A groups stage of a runbook run, spread over its agents.
pub struct Stage<'a> {
    pub name: &'a str,
    pub spec: &'a GroupsStage,
    pub book: &'a Runbook,
    pub run_id: &'a str,
}

impl Stage<'_> {
    /// The agent running the runbook: publishes `todo` as work items, takes its share like the
    /// other agents, and returns once every item is handled, with each group's row from its
    /// shared journal.
    pub async fn coordinate(
        &self,
        env: &RunEnv<'_>,
        options: &Options,
        queue: &dyn WorkQueue,
        store: &SharedStore,
        todo: Vec<GroupId>,
    ) -> Result<Vec<GroupRow>> {
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<WorkItem> = todo
            .iter()
            .map(|g| WorkItem {
                runbook: self.book.name.clone(),
                run: self.run_id.to_string(),
                stage: self.name.to_string(),
                group: g.to_string(),
                end: false,
            })
            .collect();
        let taker = queue.join(&self.book.name).await?;
        let last = queue.publish(&items).await?;
        let progress = Progress::start(
            env.estate.progress,
            &format!(
                "{} group(s) published to {} for the runbook's agents",
                items.len(),
                queue.describe()
            ),
        );
        let over = AtomicBool::new(false);
        let worked = serve(
            env,
            options,
            self.book,
            taker.as_ref(),
            store,
            Until::Flag(&over),
        );
        let finished = async {
            loop {
                if patiently("the stage's handled work", || taker.all_handled(&last)).await? {
                    over.store(true, Ordering::Relaxed);
                    return Result::Ok(());
                }
                let agents = taker.agents().await.map(|a| a.len()).unwrap_or(0);
                progress.update(&format!("{agents} agent(s) at work"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        };
        // The agent's own share ends between two batches, once every item is handled.
        tokio::try_join!(worked, finished)?;
        progress.finish();
        drop(taker);
        let keys: BTreeMap<String, &WorkItem> =
            items.iter().map(|i| (key(env, &i.group), i)).collect();
        let all: BTreeSet<String> = keys.keys().cloned().collect();
        let journals = journals_patiently(store, "the stage's journals", &all).await?;
        let me = crate::version::agent();
        let nobody = BTreeSet::new();
        keys.iter()
            .map(|(key, item)| {
                let lines = journals.get(key).map(Vec::as_slice).unwrap_or_default();
                let step = decide(
                    &entries(&current_file(key, lines)?),
                    &item.id(),
                    &me,
                    &nobody,
                );
                Ok(row(&item.group, self.name, &step, journal_at(store, key)))
            })
            .collect()
    }
}

impl Runbook {
    /// The groups stage `name`, which an agent's work items may name.
    pub fn groups_stage(&self, name: &str) -> Option<&GroupsStage> {
        self.stages.iter().find_map(|s| match &s.action {
            Action::Groups(g) if s.name == name => Some(g),
            _ => None,
        })
    }
}

/// A group's key in the shared store, on the side `env` runs.
fn key(env: &RunEnv<'_>, group: &str) -> String {
    SharedStore::group_key(env.estate.link.name(), &GroupId::new(group))
}

/// Where a group's journal is, for its row.
fn journal_at(store: &SharedStore, key: &str) -> String {
    format!("{} key {key}", store.replica.describe())
}

/// [`decide`] again, from the group's journal and the agents alive now.
async fn redecide(
    store: &SharedStore,
    taker: &dyn WorkTaker,
    key: &str,
    item: &str,
    me: &str,
) -> Result<Step> {
    let k = key.to_string();
    let lines = patiently("the group's journal", || {
        let k = k.clone();
        off_thread(&store.replica, move |r| r.read(&k))
    })
    .await?;
    let live = patiently("the runbook's agents", || taker.agents()).await?;
    Ok(decide(
        &entries(&current_file(key, &lines)?),
        item,
        me,
        &live,
    ))
}

/// A read made before any effect, asked again after a pause when it fails (a store too busy to
/// answer it once), up to [`LOOKS_FAILED`] times in a row; each failure is logged.
async fn patiently<T, F, R>(what: &str, mut read: R) -> Result<T>
where
    R: FnMut() -> F,
    F: std::future::Future<Output = Result<T>>,
{
    let mut failed = 0;
    loop {
        match read().await {
            Ok(v) => return Ok(v),
            Err(e) if failed < LOOKS_FAILED => {
                failed += 1;
                tracing::warn!(error = %e, failed, "cannot read {what}; asking again");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The journals of `keys`, read in one pass of the store off the async threads,
/// [`patiently`].
async fn journals_patiently(
    store: &SharedStore,
    what: &str,
    keys: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<Vec<u8>>>> {
    patiently(what, || {
        let keys = keys.clone();
        off_thread(&store.replica, move |r| r.read_keys(&keys))
    })
    .await
}

/// When an agent stops taking work items.
pub enum Until<'a> {
    /// A runbook run's end arrived and nothing is left in this agent's partitions.
    End,
    /// The flag is up (checked between batches).
    Flag(&'a AtomicBool),
}

/// Takes work items and cuts their groups over, a batch at a time (at most the largest
/// concurrency of the runbook's groups stages), until `until`. Returns the rows of the groups
/// this agent handled.
pub async fn serve(
    env: &RunEnv<'_>,
    options: &Options,
    book: &Runbook,
    taker: &dyn WorkTaker,
    store: &SharedStore,
    until: Until<'_>,
) -> Result<Vec<GroupRow>> {
    let mut rows = Vec::new();
    let mut ended = false;
    let mut runs: BTreeSet<String> = BTreeSet::new();
    let most = book
        .stages
        .iter()
        .filter_map(|s| match &s.action {
            Action::Groups(g) => Some(g.concurrency),
            _ => None,
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let progress = Progress::start(env.estate.progress, "waiting for work items");
    loop {
        let stop = match until {
            Until::End => ended,
            Until::Flag(flag) => flag.load(Ordering::Relaxed),
        };
        // Items are taken only between batches: a rebalance waits until this agent's batch
        // is handled, so no other agent receives them meanwhile.
        let batch = taker.take(most, TAKE_WAIT).await?;
        if batch.is_empty() {
            if stop {
                progress.finish();
                return Ok(rows);
            }
            // Items handled whose marks a rebalance refused are marked now.
            taker.handled(&[]).await?;
            // Taking blocks this task: let the futures beside it (the coordinator's watch for
            // the stage's end) run between two looks.
            tokio::task::yield_now().await;
            continue;
        }
        // Another runbook's items (the topic is shared) are not this agent's business.
        let ours: Vec<&Delivered> = batch
            .iter()
            .filter(|d| d.item.runbook == book.name)
            .collect();
        runs.extend(
            ours.iter()
                .filter(|d| !d.item.end)
                .map(|d| d.item.run.clone()),
        );
        // A run's end stops a worker when it is the end of a run it worked for, or was
        // published after it joined (not an earlier run's, read again by a new agent).
        ended |= ours
            .iter()
            .any(|d| d.item.end && (d.fresh || runs.contains(&d.item.run)));
        let mut by_stage: BTreeMap<&str, Vec<&WorkItem>> = BTreeMap::new();
        for d in ours.iter().filter(|d| !d.item.end) {
            by_stage.entry(&d.item.stage).or_default().push(&d.item);
        }
        for (stage, items) in by_stage {
            progress.update(&format!(
                "stage {stage}: {} group(s) taken ({} handled so far)",
                items.len(),
                rows.len()
            ));
            let Some(spec) = book.groups_stage(stage) else {
                rows.extend(items.iter().map(|i| GroupRow {
                    group: i.group.clone(),
                    stage: stage.to_string(),
                    outcome: "error".into(),
                    downtime_ms: None,
                    reason: format!("this agent's runbook has no groups stage {stage}: start every agent with the same runbook"),
                    journal: None,
                }));
                continue;
            };
            rows.extend(work(env, options, stage, spec, taker, store, &items).await?);
        }
        taker.handled(&batch).await?;
    }
}

/// Handles one stage's items of a batch.
async fn work(
    env: &RunEnv<'_>,
    options: &Options,
    stage: &str,
    spec: &GroupsStage,
    taker: &dyn WorkTaker,
    store: &SharedStore,
    items: &[&WorkItem],
) -> Result<Vec<GroupRow>> {
    let back = Back::open(env, spec).await?;
    let side = back.as_ref().map(|b| b.env(env));
    let env = side.as_ref().unwrap_or(env);
    let options = back.as_ref().map(|b| b.options()).unwrap_or(options);
    let keys: BTreeSet<String> = items.iter().map(|i| key(env, &i.group)).collect();
    let journals = journals_patiently(store, "the batch's journals", &keys).await?;
    let live = patiently("the runbook's agents", || taker.agents()).await?;
    let me = crate::version::agent();
    let mut steps = Vec::new();
    for item in items {
        let key = key(env, &item.group);
        let lines = journals.get(&key).map(Vec::as_slice).unwrap_or_default();
        steps.push(decide(
            &entries(&current_file(&key, lines)?),
            &item.id(),
            &me,
            &live,
        ));
    }
    // Groups to start that already run on the destination are left alone, as a stage's
    // first look leaves them (an item published again, or by an earlier run).
    let starting: Vec<GroupId> = items
        .iter()
        .zip(&steps)
        .filter(|(_, s)| **s == Step::Run(Mode::Start))
        .map(|(i, _)| GroupId::new(&i.group))
        .collect();
    let moved: BTreeSet<String> = if starting.is_empty() {
        BTreeSet::new()
    } else {
        groups::look(env, &starting)
            .await?
            .groups
            .into_iter()
            .filter(|g| g.status == GroupStatus::Moved)
            .map(|g| g.group.to_string())
            .collect()
    };
    let shared = groups::Together::default();
    let jobs: Vec<(&WorkItem, Step)> = items.iter().copied().zip(steps).collect();
    let rows = all(jobs, spec.concurrency, |(item, step)| {
        let (shared, moved, me) = (&shared, &moved, &me);
        async move {
            let key = key(env, &item.group);
            let mut step = step;
            let mut failures = 0;
            loop {
                match step {
                    Step::Run(Mode::Start) if moved.contains(&item.group) => {
                        return Ok(GroupRow {
                            group: item.group.clone(),
                            stage: stage.to_string(),
                            outcome: "already_moved".into(),
                            downtime_ms: None,
                            reason:
                                "it already runs on the destination (verify: MOVED); left alone"
                                    .into(),
                            journal: None,
                        })
                    }
                    Step::Run(mode) => {
                        let mut options = options.clone();
                        options.evidence.insert(WORK_ITEM.into(), item.id());
                        let group = GroupId::new(&item.group);
                        let done = groups::one(env, &options, shared, stage, group, Some(mode));
                        let row = done.await;
                        if row.outcome != "error" {
                            return Ok(row);
                        }
                        tracing::warn!(group = %item.group, attempt = failures + 1, "{}", row.reason);
                        failures += 1;
                        if failures >= ATTEMPTS {
                            return Ok(row);
                        }
                        // An error is not an outcome (a store or a cluster that did not answer
                        // in time): again, from what the journal says now, after a pause.
                        tokio::time::sleep(RETRY_PAUSE * failures).await;
                        match redecide(store, taker, &key, &item.id(), me).await {
                            Ok(next) => step = next,
                            Err(_) => return Ok(row),
                        }
                    }
                    Step::Handled { .. } => {
                        return Ok(row(&item.group, stage, &step, journal_at(store, &key)))
                    }
                    Step::Wait { .. } => {
                        tokio::time::sleep(WAIT_POLL).await;
                        // A look that failed is tried again at the next poll.
                        match redecide(store, taker, &key, &item.id(), me).await {
                            Ok(next) => step = next,
                            Err(e) => tracing::warn!(group = %item.group, "{e}"),
                        }
                    }
                }
            }
        }
    })
    .await;
    rows.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timings;
    use serde_json::json;
    use std::sync::atomic::AtomicU32;

    /// A read that fails its first `fails` times.
    async fn flaky(tries: &AtomicU32, fails: u32) -> Result<u32> {
        let n = tries.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= fails {
            Err(crate::error::Error::SharedJournal {
                store: "topic j".into(),
                detail: format!("try {n} timed out"),
            })
        } else {
            Ok(n)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_before_any_effect_is_asked_again_a_bounded_number_of_times() {
        let tries = AtomicU32::new(0);
        let got = patiently("x", || flaky(&tries, LOOKS_FAILED)).await;
        assert_eq!(got.expect("the last try answers"), LOOKS_FAILED + 1);

        let tries = AtomicU32::new(0);
        let got = patiently("x", || flaky(&tries, LOOKS_FAILED + 1)).await;
        let e = got.expect_err("one failure too many");
        assert!(
            e.to_string().contains(&format!("try {}", LOOKS_FAILED + 1)),
            "{e}"
        );
        assert_eq!(tries.load(Ordering::SeqCst), LOOKS_FAILED + 1);
    }

    fn entry(run: &str, record: Record) -> Entry {
        Entry {
            v: 1,
            seq: 0,
            ts_ms: 0,
            run_id: run.into(),
            group: "g".into(),
            record,
        }
    }

    fn started(run: &str, agent: &str, item: Option<&str>) -> Entry {
        entry(
            run,
            Record::Started {
                command: vec![],
                agent: agent.into(),
                resumed: false,
                settings: json!({ "evidence": { WORK_ITEM: item } }),
            },
        )
    }

    fn finished(run: &str) -> Entry {
        entry(
            run,
            Record::Finished {
                outcome: "done".into(),
                reason: None,
                timings: Timings {
                    downtime_ms: Some(1200),
                    ..Timings::default()
                },
            },
        )
    }

    fn live(agents: &[&str]) -> BTreeSet<String> {
        agents.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_group_with_no_journal_is_started() {
        assert_eq!(decide(&[], "i", "me", &live(&[])), Step::Run(Mode::Start));
    }

    #[test]
    fn the_items_finished_run_is_handled_and_an_older_items_is_not() {
        let journal = [started("r1", "a:1", Some("i")), finished("r1")];
        assert_eq!(
            decide(&journal, "i", "me", &live(&[])),
            Step::Handled {
                outcome: "done".into(),
                reason: String::new(),
                downtime_ms: Some(1200)
            }
        );
        assert_eq!(
            decide(&journal, "another item", "me", &live(&[])),
            Step::Run(Mode::Start)
        );
    }

    #[test]
    fn a_dead_agents_unfinished_run_of_the_item_is_resumed_and_a_live_ones_waited_for() {
        let journal = [started("r1", "a:1", Some("i"))];
        assert_eq!(
            decide(&journal, "i", "me", &live(&["b:2"])),
            Step::Run(Mode::Resume)
        );
        assert_eq!(
            decide(&journal, "i", "me", &live(&["a:1"])),
            Step::Wait {
                agent: "a:1".into()
            }
        );
        // Resumed once already by an agent that died too: the last starter counts.
        let twice = [
            started("r1", "a:1", Some("i")),
            started("r1", "b:2", Some("i")),
        ];
        assert_eq!(
            decide(&twice, "i", "me", &live(&["a:1"])),
            Step::Run(Mode::Resume)
        );
    }

    #[test]
    fn an_unfinished_run_that_is_not_the_items_is_never_taken() {
        // An operator's `cutover group` on another host: starting is refused by the journal.
        let journal = [started("r0", "laptop:9", None)];
        assert_eq!(
            decide(&journal, "i", "me", &live(&[])),
            Step::Run(Mode::Start)
        );
    }
}
