//! The async driver: performs the phase machine's effects against the clusters, the link,
//! the hooks and the journal.
//!
//! Order of every side effect: checkpoint the machine, journal the intent (synced), act,
//! journal the outcome, feed the outcome back. A killed agent therefore always leaves a
//! journal that says what it was about to do, and `--resume` re-verifies that by observation
//! (see `Machine::resume`). Observations go through the same `verify` code as
//! `cutover verify`, so the cutover and the read-only check cannot judge differently.
//! The driver assembles the `--dry-run` [`Plan`] and the run's [`Summary`]; their types live
//! in `report`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::observe::{
    judgement_of, mirror_names, observe, observe_with_sync, restart_topics, samples, topics_of,
};
use crate::config::CutoverSettings;
use crate::cutover::machine::{
    not_mirrored, not_synced, Action, CheckpointKey, Effect, Input, Machine, Observation, Outcome,
    Phase, Settings, State,
};
use crate::cutover::witness;
use crate::error::{Error, Result};
use crate::hooks::{HookContext, HookKind, Hooks};
use crate::journal::{Journal, PartitionSample, ReadBack, Record};
use crate::kafka::Cluster;
use crate::link::filter_edit::{
    edit_group_filters, FilterChange, FilterEdit, Serial, SharedFilterEdits,
};
use crate::link::Link;
use crate::model::{GroupId, Role, TopicPartition};
use crate::progress::Progress;
use crate::report::Summary;
use crate::rule::FindingKind;

const SYNC_MS: &str = "consumer.offset.sync.ms";

/// Wall-clock time for the journal and the machine: the system clock, or the simulator's
/// virtual clock (a fixed epoch plus tokio's paused time).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Virtual {
        epoch_ms: i64,
        start: tokio::time::Instant,
    },
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Clock::Virtual { epoch_ms, start } => {
                epoch_ms + (tokio::time::Instant::now() - *start).as_millis() as i64
            }
        }
    }

    async fn sleep_until_ms(&self, at_ms: i64) {
        let wait = at_ms - self.now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }
}

/// A cutover's settings: `[cutover]`, and the pause between observations
/// (`[defaults] poll-interval`).
#[derive(Debug, Clone)]
pub struct Options {
    pub cutover: CutoverSettings,
    pub poll_interval: Duration,
    /// What a change ticket needs about this run, journaled with its start (tool and client
    /// versions, operator, configuration digest); never a secret.
    pub evidence: BTreeMap<String, String>,
    /// Where the group restarts: the destination, or the origin on the reverse path
    /// (`cutover group --to origin`, where both sides are views of the origin).
    pub restart_on: Role,
    /// Where group journals are shared with other agents (`[journal] store = "kafka"`);
    /// `None`: files only.
    pub shared_journal: Option<crate::journal::SharedStore>,
}

/// What a cutover runs against.
pub struct Env<'a> {
    pub origin: &'a dyn Cluster,
    pub destination: &'a dyn Cluster,
    pub link: &'a dyn Link,
    pub hooks: &'a dyn Hooks,
    pub options: &'a Options,
    pub clock: Clock,
    /// Show waits on stderr.
    pub progress: bool,
    /// Told every phase the machine enters (the simulator uses it to kill the agent mid-phase).
    pub phase_watch: Option<&'a tokio::sync::watch::Sender<Phase>>,
    /// The command line, for the journal.
    pub command: Vec<String>,
    /// Shared by the cutovers of a runbook's stage: their filter edits become one write.
    pub filter_edits: Option<&'a SharedFilterEdits>,
    /// Shared by the cutovers of a runbook's stage: their looks are read together.
    pub looks: Option<&'a super::looks::SharedLooks>,
    /// `--offsets-by-time`: the destination is a copy that does not keep offsets, seen
    /// through `by_time.copy` (which `destination` is).
    pub by_time: Option<&'a super::by_time::ByTime>,
}

/// How `cutover group` was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Start,
    Resume,
    Rollback,
}

pub(super) fn hook_context(
    group: &GroupId,
    topics: Vec<String>,
    run_id: &str,
    link: &str,
) -> HookContext {
    HookContext {
        group: group.clone(),
        topics,
        run_id: run_id.to_string(),
        link: link.to_string(),
        restart_topics: Vec::new(),
        restart_on: crate::model::Role::Destination,
    }
}

/// The link's offset-sync interval, and where it came from.
pub(super) async fn sync_interval(link: &dyn Link, options: &Options) -> (i64, String) {
    if link.reports_status() {
        if let Ok(configs) = link.configs().await {
            if let Some(ms) = configs.get(SYNC_MS).and_then(|v| link_sync_ms(v)) {
                return (ms, format!("the link's {SYNC_MS}"));
            }
        }
    }
    match options.cutover.sync_interval {
        Some(d) => (d.as_millis() as i64, "[cutover] sync-interval".into()),
        None => (
            30_000,
            format!("the link's default {SYNC_MS} (the link cannot be asked; set [cutover] sync-interval)"),
        ),
    }
}

/// The link's `consumer.offset.sync.ms` when it is one: the link keeps it in a Java int, so a
/// value outside 0 to 2³¹−1 is not a reading (9223372036854775807 overflowed the sync
/// deadline's arithmetic).
fn link_sync_ms(value: &str) -> Option<i64> {
    let ms = value.trim().parse::<i64>().ok()?;
    (0..=i64::from(i32::MAX)).contains(&ms).then_some(ms)
}

pub(super) fn settings(options: &Options, sync_interval_ms: i64) -> Settings {
    let ms = |d: Duration| d.as_millis() as i64;
    Settings {
        poll_ms: ms(options.poll_interval).max(1),
        sync_interval_ms,
        sync_timeout_factor: options.cutover.sync_timeout_factor,
        stop_timeout_ms: ms(options.cutover.stop_timeout),
        mirror_timeout_ms: ms(options.cutover.mirror_timeout),
        restart_timeout_ms: ms(options.cutover.restart_timeout),
        restart_window_ms: ms(options.cutover.restart_window),
        stable_reads: options.cutover.stable_reads,
        final_offsets: options.cutover.final_offsets,
    }
}

/// The run's evidence: the configured facts, the link, and both clusters' ids.
async fn evidence(env: &Env<'_>) -> BTreeMap<String, String> {
    let mut facts = env.options.evidence.clone();
    facts.insert("link".into(), env.link.name().to_string());
    if env.options.restart_on == Role::Origin {
        // Back to the origin, onto the reverse link's mirrors: the report's commands say so.
        facts.insert("restart_on".into(), "origin".into());
    }
    if let Some(b) = env.by_time {
        // A resume must see the copy the same way (`same_offsets_by_time`).
        facts.insert("offsets_by_time".into(), b.mode.as_str().into());
    }
    let (origin, destination) = tokio::join!(env.origin.cluster_id(), env.destination.cluster_id());
    for (key, id) in [
        ("origin_cluster_id", origin),
        ("destination_cluster_id", destination),
    ] {
        if let Ok(Some(id)) = id {
            facts.insert(key.into(), id);
        }
    }
    facts
}

/// A new cutover of a group the origin does not know (a typo'd id) is refused before any
/// journal or lock is created: no committed offsets there and no members.
async fn known_group(env: &Env<'_>, group: &GroupId) -> Result<()> {
    let (o, report) = observe(env, group).await?;
    let unknown = judgement_of(&report, group)?
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::GroupNotFound);
    if unknown && o.origin_committed.is_empty() {
        return Err(Error::State {
            message: format!(
                "group {group} is unknown on the origin: no committed offsets and no members; nothing was written"
            ),
            hint: "check the group id; `cutover verify --all-groups` lists the groups with offsets on mirrored topics".into(),
        });
    }
    Ok(())
}

/// What the configuration must provide before a cutover may touch anything: the stop,
/// restart and rollback hooks, and for the built-in exclusion, the link's REST API.
pub(super) fn preflight(env: &Env<'_>, group: &GroupId) -> Result<()> {
    let ctx = hook_context(group, Vec::new(), "preflight", env.link.name());
    let mut missing: Vec<String> = [HookKind::Stop, HookKind::Restart, HookKind::Rollback]
        .into_iter()
        .filter(|k| env.hooks.describe(*k, &ctx).is_none())
        .map(|k| {
            format!(
                "no {} hook is configured: set [hooks.{}] (or [groups.\"{group}\".hooks.{}])",
                k.as_str(),
                k.as_str(),
                k.as_str()
            )
        })
        .collect();
    if env.hooks.exclude_is_builtin(group) && !env.link.reports_status() {
        missing.push(
            "the built-in exclusion edits the link's consumer.offset.group.filters over its REST API, and no [link] rest-url is configured: configure it, or an exclude hook ([hooks.exclude])".into(),
        );
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::ConfigProblems(missing))
    }
}

/// The last checkpoint of a journal, and the run it belongs to.
fn last_checkpoint(back: &ReadBack) -> Option<(String, State)> {
    back.entries.iter().rev().find_map(|e| match &e.record {
        Record::Phase { state, .. } => serde_json::from_value::<State>(state.clone())
            .ok()
            .map(|s| (e.run_id.clone(), s)),
        _ => None,
    })
}

/// `--offsets-by-time`, as the run began: a resume or rollback of an interrupted cutover must
/// see the copy as it did, or it would read the group's offsets on the copy untranslated.
fn same_offsets_by_time(env: &Env<'_>, group: &GroupId, back: &ReadBack) -> Result<()> {
    let began = back.entries.iter().find_map(|e| match &e.record {
        Record::Started { settings, .. } => Some(
            settings["evidence"]["offsets_by_time"]
                .as_str()
                .map(str::to_string),
        ),
        _ => None,
    });
    let Some(began) = began else {
        return Ok(());
    };
    let now = env.by_time.map(|b| b.mode.as_str().to_string());
    if began == now {
        return Ok(());
    }
    let command = super::group_command(group.as_str(), env.options.restart_on);
    Err(Error::State {
        message: format!(
            "the interrupted cutover of group {group} began {}, and this run is asked {}",
            began
                .as_deref()
                .map_or("without --offsets-by-time".to_string(), |m| format!(
                    "with --offsets-by-time {m}"
                )),
            now.as_deref().map_or("without it".to_string(), |m| format!(
                "with --offsets-by-time {m}"
            )),
        ),
        hint: format!(
            "continue it as it began: `{command}{} --resume` (or `--rollback`)",
            began.map_or(String::new(), |m| format!(" --offsets-by-time {m}"))
        ),
    })
}

fn new_run_id(clock: &Clock, group: &GroupId) -> String {
    let now = clock.now_ms();
    let mut hash: u32 = 2166136261;
    for b in group
        .as_str()
        .bytes()
        .chain(std::process::id().to_le_bytes())
    {
        hash = (hash ^ u32::from(b)).wrapping_mul(16777619);
    }
    format!("{now}-{hash:08x}")
}

/// Runs (or resumes, or rolls back) one group's cutover to its end.
pub async fn run(env: &Env<'_>, group: &GroupId, mode: Mode) -> Result<Summary> {
    // Nothing is journaled or changed when the configuration cannot carry a cutover through.
    preflight(env, group)?;
    crate::kafka::probe_both(env.origin, env.destination).await?;
    if mode == Mode::Start {
        known_group(env, group).await?;
    }
    let run_id = new_run_id(&env.clock, group);
    let command = super::group_command(group.as_str(), env.options.restart_on);
    let opened = match &env.options.shared_journal {
        None => Journal::open(&env.options.cutover.journal_dir, group, &run_id)
            .map(|(journal, back)| (journal, back, false)),
        Some(store) => {
            Journal::open_shared_async(
                env.options.cutover.journal_dir.clone(),
                crate::journal::Subject::Group(group.clone()),
                run_id.clone(),
                store.replica.clone(),
                crate::journal::SharedStore::group_key(env.link.name(), group),
                if mode == Mode::Start {
                    crate::journal::Take::IfFree
                } else {
                    crate::journal::Take::Always
                },
            )
            .await
        }
    };
    let (mut journal, back, raced) = opened.map_err(|e| match e {
        // The journal names the forward command; this group's is `command`.
        Error::Locked { what, lock, .. } => Error::Locked {
            what,
            lock,
            resume: format!("{command} --resume"),
        },
        e => e,
    })?;
    let mut mode = mode;
    if raced && mode == Mode::Start && back.finished().is_none() && !back.entries.is_empty() {
        // Another agent started this group between this agent's read of the shared journal
        // and its taking it: that agent is fenced now (its next record is refused, before
        // its next effect), and its run is the one to finish.
        tracing::warn!(%group, "another agent started this group a moment before: it is fenced, and this agent continues its run");
        mode = Mode::Resume;
    }
    let checkpoint = last_checkpoint(&back);
    let finished = back.finished().is_some();
    if mode != Mode::Start && !finished {
        same_offsets_by_time(env, group, &back)?;
    }
    let unfinished_phase = (!back.entries.is_empty() && !finished).then(|| {
        checkpoint
            .as_ref()
            .map_or("plan".to_string(), |(_, s)| s.phase().as_str().to_string())
    });
    let now = env.clock.now_ms();
    // The previous run's journal, archived when this run starts: current again if this one
    // is refused at its plan.
    let mut previous: Option<PathBuf> = None;
    let (mut machine, mut effects) = match mode {
        Mode::Start => {
            if let Some(phase) = unfinished_phase {
                return Err(Error::InProgress {
                    group: group.to_string(),
                    command: command.clone(),
                    phase,
                    journal: journal.path().to_path_buf(),
                });
            }
            if finished {
                if let Some(old) = back.run_id() {
                    let archived = journal.archive(old)?;
                    tracing::info!(archived = %archived.display(), "archived the journal of the previous cutover");
                    previous = Some(archived);
                }
            }
            let (sync_ms, _) = sync_interval(env.link, env.options).await;
            Machine::start(now, settings(env.options, sync_ms))
        }
        Mode::Resume | Mode::Rollback => {
            if unfinished_phase.is_none() {
                return Err(Error::State {
                    hint: format!(
                        "`cutover report {}` shows the last cutover; `{command}` starts a new one",
                        journal.path().display()
                    ),
                    message: format!(
                        "no interrupted cutover of group {group} to {}: {} {}",
                        if mode == Mode::Resume {
                            "resume"
                        } else {
                            "roll back"
                        },
                        journal.path().display(),
                        if finished {
                            "records a finished cutover"
                        } else {
                            "is empty"
                        }
                    ),
                });
            }
            match checkpoint {
                // Killed before the first checkpoint: nothing was done yet.
                None => {
                    if mode == Mode::Rollback {
                        return Err(Error::State {
                            message: format!(
                                "the cutover of group {group} was interrupted before it changed anything: nothing to roll back"
                            ),
                            hint: format!("`{command} --resume` continues it, or leave it: nothing was changed"),
                        });
                    }
                    let (sync_ms, _) = sync_interval(env.link, env.options).await;
                    Machine::start(now, settings(env.options, sync_ms))
                }
                Some((old_run, state)) => {
                    journal.continue_run(&old_run);
                    if mode == Mode::Rollback {
                        if matches!(state.phase(), Phase::Restarting | Phase::AwaitingRestart) {
                            return Err(Error::State {
                                message: format!(
                                    "group {group} was interrupted in phase {}: the restart on the destination may have begun, and rolling back would need stopping it there",
                                    state.phase().as_str()
                                ),
                                hint: format!("resume with `{command} --resume`"),
                            });
                        }
                        Machine::rollback_from(
                            now,
                            state,
                            "rollback requested by the operator".into(),
                        )
                    } else {
                        Machine::resume(now, state)
                    }
                }
            }
        }
    };
    let builtin_exclude = env.hooks.exclude_is_builtin(group);
    journal
        .append_async(
            Record::Started {
                command: env.command.clone(),
                agent: crate::version::agent(),
                resumed: mode != Mode::Start,
                settings: json!({
                    "machine": machine.settings(),
                    "journal_dir": env.options.cutover.journal_dir,
                    "builtin_exclude": builtin_exclude,
                    "link": env.link.name(),
                    "evidence": evidence(env).await,
                }),
            },
            now,
        )
        .await?;
    let mut driver = Driver {
        env,
        group,
        journal,
        builtin_exclude,
        last_checkpoint: None,
        topics: Vec::new(),
        mirror_of: BTreeMap::new(),
        translations: Vec::new(),
        progress: Progress::start(env.progress, &format!("cutover of {group}")),
        observe_failures: 0,
        last: None,
        witnesses: None,
        previous,
    };
    driver.checkpoint(&machine).await?;
    let mut queue: VecDeque<Effect> = effects.drain(..).collect();
    while let Some(effect) = queue.pop_front() {
        let input = match effect {
            Effect::Observe { at_ms } => {
                driver.show_wait(&machine, at_ms);
                env.clock.sleep_until_ms(at_ms).await;
                match driver.observe(machine.phase()).await {
                    Ok(o) => Input::Observed {
                        now: env.clock.now_ms(),
                        observation: o,
                    },
                    Err(e) => {
                        driver.observation_failed(&machine, e).await?;
                        queue.push_back(Effect::Observe {
                            at_ms: env.clock.now_ms() + machine.settings().poll_ms,
                        });
                        continue;
                    }
                }
            }
            Effect::Run(action) => driver.act(&machine, action).await?,
            Effect::Finish { outcome, reason } => {
                driver.progress.finish();
                let summary = driver.finish(&machine, outcome, reason).await?;
                return Ok(summary);
            }
        };
        let next = machine.step(input);
        driver.checkpoint(&machine).await?;
        if env.phase_watch.is_some() {
            // Let whoever watches the phases act before the next effect (the simulator kills
            // the agent here, as a SIGKILL between two steps would).
            tokio::task::yield_now().await;
        }
        queue.extend(next);
    }
    Err(Error::State {
        message: "the cutover stopped without an outcome (a bug in cutover)".into(),
        hint: format!("the journal has the state: `{command} --resume` continues"),
    })
}

struct Driver<'e, 'a> {
    env: &'e Env<'a>,
    group: &'e GroupId,
    journal: Journal,
    builtin_exclude: bool,
    last_checkpoint: Option<CheckpointKey>,
    topics: Vec<String>,
    /// `--offsets-by-time`: the last translation of where the group stands onto the copy.
    translations: Vec<crate::translation::PartitionTranslation>,
    /// The link's mirror topic of each of the group's topics (the same name unless the link
    /// has a prefix): where the final offsets are written and what the restart hook reads.
    mirror_of: BTreeMap<String, String>,
    progress: Progress,
    observe_failures: u32,
    /// The last observation, for the progress display.
    last: Option<Observation>,
    /// Other groups watched for the link's sync ticks while the exclusion is proven, chosen
    /// at the first look (`witness.rs`).
    witnesses: Option<Vec<GroupId>>,
    /// Where the previous run's journal was archived when this run started.
    previous: Option<PathBuf>,
}

impl Driver<'_, '_> {
    fn now(&self) -> i64 {
        self.env.clock.now_ms()
    }

    /// Journals the machine's state when the phase, a pending action or the rollback changed.
    async fn checkpoint(&mut self, m: &Machine) -> Result<()> {
        let key = m.checkpoint_key();
        if self.last_checkpoint.as_ref() == Some(&key) {
            return Ok(());
        }
        // Where an interrupt of this process is journaled, and in which phase.
        crate::journal::set_active(
            &self.env.options.cutover.journal_dir,
            self.group,
            self.journal.run_id(),
            (!m.phase().is_terminal()).then(|| m.phase().as_str()),
        );
        let state = serde_json::to_value(m.checkpoint())
            .map_err(|e| Error::Journal(format!("cannot encode the cutover state: {e}")))?;
        self.journal
            .append_async(
                Record::Phase {
                    phase: m.phase().as_str().into(),
                    state,
                },
                self.now(),
            )
            .await?;
        let entered = self
            .last_checkpoint
            .as_ref()
            .is_none_or(|k| k.phase() != key.phase());
        self.last_checkpoint = Some(key);
        if entered {
            tracing::info!(group = %self.group, phase = m.phase().as_str(), "phase");
            if let Some(w) = self.env.phase_watch {
                let _ = w.send(m.phase());
            }
        }
        Ok(())
    }

    fn show_wait(&self, m: &Machine, at_ms: i64) {
        let now = self.now();
        let phase = m.phase().as_str();
        let left = m
            .deadline_ms()
            .map(|d| {
                format!(
                    ", {} s left before giving up",
                    ((d - now).max(0) + 999) / 1000
                )
            })
            .unwrap_or_default();
        let since = (now - m.phase_since_ms()) / 1000;
        let what = match m.phase() {
            Phase::AwaitingStop => "the group to leave the origin with steady offsets",
            Phase::AwaitingSync => "the link's offset sync to copy the final offsets",
            Phase::AwaitingMirror => "the mirror to reach the final offsets",
            Phase::ConfirmingExclusion => "one sync tick with the destination's offsets unchanged",
            Phase::ProvingExclusion => {
                "a full sync interval with the group's destination offsets unchanged"
            }
            Phase::CheckingOffsets => "the destination to show the final offsets written",
            Phase::AwaitingRestart => "the group to consume on the destination",
            Phase::RollingBack => "the group to consume on the origin again",
            _ => "",
        };
        if at_ms > now && !what.is_empty() {
            let far = self
                .how_far(m)
                .map(|f| format!("; {f}"))
                .unwrap_or_default();
            self.progress.update(&format!(
                "{phase}: waiting for {what} ({since} s so far{left}{far})"
            ));
        }
    }

    /// How far a wait has come, from the last observation: partitions done of all.
    fn how_far(&self, m: &Machine) -> Option<String> {
        let o = self.last.as_ref()?;
        let snapshot = m.snapshot()?;
        let (left, what) = match m.phase() {
            Phase::AwaitingSync => (not_synced(Some(snapshot), o).len(), "synced"),
            Phase::AwaitingMirror => (not_mirrored(Some(snapshot), o).len(), "on the mirror"),
            _ => return None,
        };
        Some(format!(
            "{}/{} partitions {what}",
            snapshot.len() - left,
            snapshot.len()
        ))
    }

    async fn observe(&mut self, phase: Phase) -> Result<Observation> {
        if let Some(b) = self.env.by_time {
            // The copy's shifts follow the group while it runs; once it is stopped they hold.
            match b.refresh(self.env.origin, self.env.link, self.group).await {
                Ok(t) => self.translations = t,
                Err(e) => tracing::warn!(error = %e, "offsets by time: kept the last translation"),
            }
        }
        let (mut o, report, sync) = observe_with_sync(self.env, self.group).await?;
        // Witnesses need the link's group filters; with sync off or unreadable there are none.
        if let (Phase::ProvingExclusion, Some(Some(filters))) = (phase, &sync) {
            if self.witnesses.is_none() {
                let chosen = witness::choose(self.env.origin, self.group, filters).await;
                self.witnesses = Some(chosen);
            }
            let witnesses = self.witnesses.as_deref().unwrap_or_default();
            o.sync_witnesses = witness::read(self.env.destination, witnesses, filters).await;
        }
        self.observe_failures = 0;
        self.last = Some(o.clone());
        if self.topics.is_empty() {
            self.topics = topics_of(&o);
        }
        self.mirror_of
            .extend(mirror_names(judgement_of(&report, self.group)?));
        self.journal
            .append_async(
                Record::Observation {
                    phase: phase.as_str().into(),
                    origin_active: o.origin_active,
                    destination_active: o.destination_active,
                    partitions: samples(judgement_of(&report, self.group)?),
                },
                self.now(),
            )
            .await?;
        Ok(o)
    }

    /// An observation failed (a cluster or the link did not answer): journal it and try again,
    /// up to a bound; past it, stop with the state journaled so `--resume` continues.
    async fn observation_failed(&mut self, m: &Machine, e: Error) -> Result<()> {
        self.observe_failures += 1;
        self.journal
            .append_async(
                Record::Note {
                    message: format!("observation failed in {}: {e}", m.phase().as_str()),
                },
                self.now(),
            )
            .await?;
        let budget = (m.settings().restart_timeout_ms / m.settings().poll_ms).max(5);
        if i64::from(self.observe_failures) >= budget {
            self.progress.finish();
            return Err(e);
        }
        self.progress.update(&format!(
            "{}: cannot observe ({e}); retrying",
            m.phase().as_str()
        ));
        Ok(())
    }

    async fn act(&mut self, m: &Machine, action: Action) -> Result<Input> {
        let effect = action.effect_name(self.builtin_exclude);
        let mut ctx = hook_context(
            self.group,
            self.topics.clone(),
            self.journal.run_id(),
            self.env.link.name(),
        );
        ctx.restart_topics = restart_topics(&self.topics, &self.mirror_of);
        ctx.restart_on = self.env.options.restart_on;
        let kind = match action {
            Action::StopHook => Some(HookKind::Stop),
            Action::RestartHook => Some(HookKind::Restart),
            Action::RollbackHook => Some(HookKind::Rollback),
            Action::Exclude if !self.builtin_exclude => Some(HookKind::Exclude),
            Action::Exclude | Action::Unexclude | Action::WriteOffsets => None,
        };
        let description = kind
            .and_then(|k| self.env.hooks.describe(k, &ctx))
            .unwrap_or_else(|| effect.to_string());
        self.journal
            .append_async(
                Record::Intent {
                    effect: effect.into(),
                    detail: json!({ "description": description, "phase": m.phase().as_str() }),
                },
                self.now(),
            )
            .await?;
        self.progress
            .update(&format!("{}: {description}", m.phase().as_str()));
        let (ok, error, detail) = match (action, kind) {
            (_, Some(kind)) => {
                let report = self.env.hooks.run(kind, &ctx).await;
                let detail = serde_json::to_value(&report).unwrap_or_default();
                (report.ok, report.error.clone(), detail)
            }
            (Action::Exclude, None) => match self.exclude().await {
                Ok(detail) => (true, None, detail),
                Err(e) => (false, Some(e.clone()), json!({ "error": e })),
            },
            (Action::WriteOffsets, None) => match self.write_offsets(m).await {
                Ok(detail) => (true, None, detail),
                Err(e) => (false, Some(e.clone()), json!({ "error": e })),
            },
            (_, None) => match self.unexclude().await {
                Ok(detail) => (true, None, detail),
                Err(e) => (false, Some(e.clone()), json!({ "error": e })),
            },
        };
        self.journal
            .append_async(
                Record::Outcome {
                    effect: effect.into(),
                    ok,
                    detail,
                },
                self.now(),
            )
            .await?;
        Ok(Input::Done {
            now: self.now(),
            action,
            ok,
            error,
        })
    }

    /// One change to the link's group filters: alone, or with the other cutovers of a stage.
    async fn edit_filters(
        &self,
        change: FilterChange<'_>,
    ) -> std::result::Result<FilterEdit, String> {
        let serial = Serial {
            host: Some(self.env.options.cutover.journal_dir.as_path()),
            hosts: self.env.options.shared_journal.as_ref(),
        };
        match self.env.filter_edits {
            Some(shared) => shared.edit(self.env.link, serial, change).await,
            None => edit_group_filters(self.env.link, serial, change).await,
        }
    }

    /// The built-in exclusion: a LITERAL EXCLUDE for the group in the link's group filters,
    /// added by a verified compare-and-set serialized with the other local agents of the link
    /// (see [`crate::link::filter_edit`]).
    async fn exclude(&mut self) -> std::result::Result<serde_json::Value, String> {
        let edit = self
            .edit_filters(FilterChange::Exclude(self.group.as_str()))
            .await?;
        Ok(
            json!({ "filters_before": edit.before, "filters_after": edit.after, "attempts": edit.attempts }),
        )
    }

    /// Agent mode: commits the snapshot to the group on the destination, every partition in
    /// one AlterConsumerGroupOffsets request. Safe because the origin is frozen (a late sync
    /// tick would write the same values) and the coordinator refuses an admin commit to a
    /// group with members. The machine then reads it back.
    async fn write_offsets(
        &mut self,
        m: &Machine,
    ) -> std::result::Result<serde_json::Value, String> {
        let snapshot = m
            .snapshot()
            .ok_or("there is no snapshot of the final offsets to write")?;
        // The snapshot is keyed by the origin's partitions; the group reads the mirrors.
        let snapshot: crate::model::Offsets = snapshot
            .iter()
            .map(|(tp, o)| {
                let topic = self
                    .mirror_of
                    .get(tp.topic.as_str())
                    .map_or(tp.topic.as_str(), |m| m);
                (TopicPartition::new(topic, tp.partition), *o)
            })
            .collect();
        let snapshot = &snapshot;
        let answers = self
            .env
            .destination
            .commit_offsets(self.group, snapshot)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the destination refused the offset commit: {e}"))?;
        let refused: Vec<String> = answers
            .iter()
            .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
            .collect();
        if !refused.is_empty() {
            return Err(format!(
                "the destination refused the final offsets of {} partition(s): {}",
                refused.len(),
                refused.join(", ")
            ));
        }
        let written: Vec<String> = snapshot.iter().map(|(tp, o)| format!("{tp}={o}")).collect();
        match self.env.by_time {
            // In origin offsets; on the copy each lands at its translation's start.
            Some(b) => Ok(json!({
                "written": written,
                "offsets_by_time": { "mode": b.mode, "partitions": self.translations },
            })),
            None => Ok(json!({ "written": written })),
        }
    }

    /// Undoes the built-in exclusion: removes the group's LITERAL EXCLUDE, keeping every other
    /// entry (changes made to the filters meanwhile included), the same way.
    async fn unexclude(&mut self) -> std::result::Result<serde_json::Value, String> {
        let edit = self
            .edit_filters(FilterChange::Unexclude(self.group.as_str()))
            .await?;
        Ok(json!({ "filters_restored": edit.after, "attempts": edit.attempts }))
    }

    async fn finish(&mut self, m: &Machine, outcome: Outcome, reason: String) -> Result<Summary> {
        let timings = m.timings().clone();
        self.journal
            .append_async(
                Record::Finished {
                    outcome: outcome.as_str().into(),
                    reason: Some(reason.clone()),
                    timings: timings.clone(),
                },
                self.now(),
            )
            .await?;
        // A refusal at the plan changed nothing: it does not displace the last cutover's
        // journal (one started from a checkpoint is a real run, kept as such).
        let journal = if outcome == Outcome::Refused && m.timings().stop_begun_ms.is_none() {
            self.journal.set_refusal_aside(self.previous.as_deref())?
        } else {
            self.journal.path().to_path_buf()
        };
        let group = self.group;
        let command = super::group_command(group.as_str(), self.env.options.restart_on);
        let next = match outcome {
            Outcome::Done => None,
            Outcome::Refused | Outcome::RolledBack => Some(format!(
                "fix the cause, then `{command}` again; the report: `cutover report {}`",
                journal.display()
            )),
            Outcome::NeedsOperator => Some(format!(
                "the group needs a decision (see the reason); the report: `cutover report {}`",
                journal.display()
            )),
        };
        let snapshot = m
            .snapshot()
            .map(|s| {
                s.iter()
                    .map(|(tp, o)| PartitionSample {
                        topic: tp.topic.to_string(),
                        partition: tp.partition,
                        origin_committed: Some(*o),
                        destination_committed: None,
                        origin_end: None,
                        mirror_end: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Summary {
            schema_version: 1,
            group: group.clone(),
            run_id: self.journal.run_id().to_string(),
            outcome,
            phase: m.phase(),
            reason,
            final_offsets: m.settings().final_offsets,
            exclusion_proof: m.exclusion_proof().map(str::to_string),
            parts: timings.parts(),
            timings,
            snapshot,
            journal,
            next,
            offsets_by_time: self.env.by_time.map(|b| crate::report::OffsetsByTime {
                mode: b.mode,
                partitions: self.translations.clone(),
            }),
            restart_on: self.env.options.restart_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::link_sync_ms;

    #[test]
    fn a_sync_interval_the_link_cannot_hold_is_not_a_reading() {
        assert_eq!(link_sync_ms("30000"), Some(30_000));
        assert_eq!(link_sync_ms(" 2147483647 "), Some(2_147_483_647));
        for value in ["9223372036854775807", "2147483648", "-1", "", "30s", "1e3"] {
            assert_eq!(link_sync_ms(value), None, "{value}");
        }
    }
}
