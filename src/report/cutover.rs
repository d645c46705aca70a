//! The audit report of a cutover, read back from its journal.
//!
//! A [`CutoverReport`] says what one cutover of one group did and proves it from the
//! journal alone: how it ended (or where it was interrupted, with the commands that resume or
//! roll it back), the phase timeline, every hook with its captured output, the link's group
//! filters before and after the exclusion, where the time went (downtime, sync wait), and the
//! offsets the agent observed at each poll. [`summary`] aggregates several reports.
//!
//! This module reads journals and nothing else: it never contacts a cluster or the link, and
//! it states only what the journal records. Where an interrupted run did not record a time,
//! the time is estimated from the journal's phase checkpoints and the report says so.
//! The renderers ([`markdown`], [`html`], [`table`]) lay the report out and decide nothing.

mod chart;
pub(crate) mod format;
mod html;
mod moves;
mod text;

pub use moves::PartitionMove;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_by_time;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::hooks::HookReport;
use crate::journal::{self, Entry, PartitionSample, ReadBack, Record};
use crate::model::Timings;

pub(crate) use chart::{lag_chart, PhaseMark};
pub use html::html;
pub(crate) use html::{esc, table as html_table, STYLE};
pub use text::{markdown, table};

/// The version of the report's JSON form; changed only with its documentation.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one cutover's journal says, ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct CutoverReport {
    pub schema_version: u32,
    /// The journal the report was read from.
    pub journal: String,
    pub group: String,
    pub run_id: String,
    pub outcome: Outcome,
    /// The last phase checkpoint of the run (where an unfinished run was interrupted).
    pub last_phase: Option<String>,
    /// Why the run ended as it did, as the agent recorded it.
    pub reason: Option<String>,
    /// Commands that take an unfinished or stuck cutover further (resume, roll back).
    pub next_steps: Vec<String>,
    /// Each agent that worked on the run: the first, then one per `--resume`.
    pub sessions: Vec<Session>,
    pub timings: ReportTimings,
    /// Phase transitions, effects and notes, in journal order (observations are in
    /// `observations`).
    pub timeline: Vec<TimelineRow>,
    /// Every hook that ran, with what it reported.
    pub hooks: Vec<HookRun>,
    /// The link's consumer group filters, when the built-in link action excluded the group.
    pub link_filters: Option<LinkFilters>,
    /// Effects announced (intent) whose outcome the journal does not hold: a resume
    /// re-verifies them by observing the clusters.
    pub unfinished_effects: Vec<UnfinishedEffect>,
    /// Per partition: where the group stopped on the origin and restarted on the destination.
    pub moves: Vec<PartitionMove>,
    /// `--offsets-by-time`: where the group started on the copy, per partition, and the
    /// records it read again or skipped, as the agent wrote them (`offsets:write`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets_by_time: Option<crate::report::OffsetsByTime>,
    /// The last observation: the offsets the run last saw.
    pub final_offsets: Option<ObservationPoint>,
    /// Every observation, for the chart.
    pub observations: Vec<ObservationPoint>,
    /// The torn last line of the journal (an agent killed mid-write), ignored.
    pub torn_tail: Option<String>,
    /// Other runs recorded in the same journal (earlier cutovers of the group), not reported
    /// here.
    pub other_runs: Vec<String>,
    /// Records the report could not read as the journal conventions say.
    pub problems: Vec<String>,
}

/// How a cutover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The group consumes on the destination.
    Done,
    /// A step failed before the restart; the group was put back on the origin.
    RolledBack,
    /// A check failed before anything was changed.
    Refused,
    /// The run stopped in a state only an operator can judge.
    NeedsOperator,
    /// The journal has no `finished` record: the run is still going or its agent died.
    InProgress,
    /// A `finished` record with an outcome this version does not know (see `problems`).
    Unknown,
}

impl Outcome {
    fn from_journal(outcome: &str) -> Outcome {
        match outcome {
            "done" => Outcome::Done,
            "rolled_back" => Outcome::RolledBack,
            "refused" => Outcome::Refused,
            "needs_operator" => Outcome::NeedsOperator,
            _ => Outcome::Unknown,
        }
    }

    /// The stable name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::RolledBack => "rolled_back",
            Outcome::Refused => "refused",
            Outcome::NeedsOperator => "needs_operator",
            Outcome::InProgress => "in_progress",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One agent's part of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub seq: u64,
    pub ts_ms: i64,
    /// `host:pid` of the agent.
    pub agent: String,
    pub resumed: bool,
    pub command: Vec<String>,
    /// What the agent journaled about itself and the clusters: tool and librdkafka versions,
    /// operator, configuration digest, link, cluster ids.
    pub evidence: BTreeMap<String, String>,
}

/// The run's timings: the journal's [`Timings`], with what the run did not record estimated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportTimings {
    #[serde(flatten)]
    pub times: Timings,
    /// Started → finished.
    pub total_ms: Option<i64>,
    /// True when a time the run did not record was estimated from the journal's phase
    /// checkpoints (stop done when `awaiting_sync` began, synced when `awaiting_mirror`
    /// began, restart begun at the `hook:restart` intent).
    pub estimated: bool,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub seq: u64,
    pub ts_ms: i64,
    /// Milliseconds since the run started.
    pub since_start_ms: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened at a point of the timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An agent started (or resumed) the run.
    Started { agent: String, resumed: bool },
    /// The phase machine entered `phase`.
    Phase {
        phase: String,
        /// How long the run stayed in the phase; `None` while it still is (or was when
        /// interrupted).
        duration_ms: Option<i64>,
        /// The phase machine's checkpoint, as journaled.
        state: serde_json::Value,
    },
    /// A side effect was about to happen.
    Intent {
        effect: String,
        description: Option<String>,
    },
    /// What a side effect did.
    Outcome {
        effect: String,
        ok: bool,
        /// A one-line account (exit code, attempts, duration, error).
        summary: Option<String>,
    },
    /// A note the agent left for the operator.
    Note { message: String },
    /// The run ended.
    Finished {
        outcome: Outcome,
        reason: Option<String>,
    },
}

/// A hook that ran.
#[derive(Debug, Clone, Serialize)]
pub struct HookRun {
    pub seq: u64,
    pub ts_ms: i64,
    /// `hook:stop`, `hook:exclude`, `hook:restart` or `hook:rollback`.
    pub effect: String,
    pub ok: bool,
    /// What the hook reported; `None` when the outcome did not carry a readable report.
    pub report: Option<HookReport>,
}

/// The link's consumer group filters around the built-in exclusion, as JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkFilters {
    /// Before the first exclusion.
    pub before: Option<String>,
    /// After the last exclusion.
    pub after: Option<String>,
    /// Written back when a rollback undid the exclusion.
    pub restored: Option<String>,
}

/// An effect announced without a recorded outcome.
#[derive(Debug, Clone, Serialize)]
pub struct UnfinishedEffect {
    pub seq: u64,
    pub ts_ms: i64,
    pub effect: String,
    pub description: Option<String>,
}

/// The offsets observed at one poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationPoint {
    pub ts_ms: i64,
    pub since_start_ms: i64,
    pub phase: String,
    pub origin_active: bool,
    pub destination_active: bool,
    pub partitions: Vec<PartitionSample>,
}

/// Reads a journal and reports its latest run.
pub fn load(path: &Path) -> Result<CutoverReport> {
    Ok(from_entries(path, journal::read(path)?))
}

/// Reports the latest run of a journal already read back. Entries of other runs are only
/// named (`other_runs`).
pub fn from_entries(path: &Path, back: ReadBack) -> CutoverReport {
    let run_id = back.run_id().unwrap_or_default().to_string();
    let entries: Vec<&Entry> = back.entries.iter().filter(|e| e.run_id == run_id).collect();
    let mut other_runs: Vec<String> = Vec::new();
    for e in &back.entries {
        if e.run_id != run_id && !other_runs.contains(&e.run_id) {
            other_runs.push(e.run_id.clone());
        }
    }
    let group = entries
        .first()
        .map_or_else(|| group_from_file_name(path), |e| e.group.clone());
    let mut builder = Builder::new(&entries);
    for e in &entries {
        builder.add(e);
    }
    let finished = entries.last().and_then(|e| match &e.record {
        Record::Finished {
            outcome,
            reason,
            timings,
        } => Some((e.ts_ms, outcome.as_str(), reason, timings)),
        _ => None,
    });
    let (outcome, reason) = match finished {
        Some((_, name, reason, _)) => {
            let outcome = Outcome::from_journal(name);
            if outcome == Outcome::Unknown {
                builder
                    .problems
                    .push(format!("the run finished with an unknown outcome `{name}`"));
            }
            (outcome, reason.clone())
        }
        None => (Outcome::InProgress, None),
    };
    if entries.is_empty() {
        builder.problems.push("the journal has no records".into());
    }
    let restart_on = if builder
        .sessions
        .iter()
        .any(|s| s.evidence.get("restart_on").map(String::as_str) == Some("origin"))
    {
        crate::model::Role::Origin
    } else {
        crate::model::Role::Destination
    };
    let next_steps = if entries.is_empty() {
        Vec::new()
    } else {
        next_steps(outcome, &group, restart_on)
    };
    let timings = builder.timings(finished.map(|(ts, _, _, t)| (ts, t)));
    let mut unfinished: Vec<UnfinishedEffect> = builder.pending.into_values().collect();
    unfinished.sort_by_key(|u| u.seq);
    CutoverReport {
        schema_version: SCHEMA_VERSION,
        journal: path.display().to_string(),
        group,
        run_id,
        outcome,
        last_phase: builder.last_phase,
        reason,
        next_steps,
        sessions: builder.sessions,
        timings,
        timeline: builder.timeline,
        hooks: builder.hooks,
        link_filters: builder.filters,
        unfinished_effects: unfinished,
        moves: moves::moves(&entries, &builder.observations),
        offsets_by_time: builder.by_time,
        final_offsets: builder.observations.last().cloned(),
        observations: builder.observations,
        torn_tail: back.torn_tail,
        other_runs,
        problems: builder.problems,
    }
}

/// The commands that take a cutover on from where it stands: for a run that is unfinished or
/// waits for an operator, resume it or roll it back.
fn next_steps(outcome: Outcome, group: &str, restart_on: crate::model::Role) -> Vec<String> {
    match outcome {
        Outcome::InProgress | Outcome::NeedsOperator => {
            let command = crate::cutover::group_command(&shell_word(group), restart_on);
            vec![
                format!("{command} --resume"),
                format!("{command} --rollback"),
            ]
        }
        _ => Vec::new(),
    }
}

/// The group of a journal with no records, from its file name (`journal::file_stem` undone).
fn group_from_file_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let mut bytes = Vec::with_capacity(stem.len());
    let mut rest = stem.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let escaped = tail
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (b, escaped) {
            (b'%', Some(decoded)) => {
                bytes.push(decoded);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Walks one run's entries in order and collects what the report shows.
struct Builder {
    /// When the run started (its first record); `None` for a journal with no records.
    start_ms: Option<i64>,
    sessions: Vec<Session>,
    timeline: Vec<TimelineRow>,
    /// The timeline index of the phase the run is in, to close it at the next transition.
    open_phase: Option<usize>,
    last_phase: Option<String>,
    /// First entry into each phase, for estimated timings.
    phase_entered: BTreeMap<String, i64>,
    restart_intent_ms: Option<i64>,
    stop_intent_ms: Option<i64>,
    /// Intents without an outcome yet, by effect.
    pending: BTreeMap<String, UnfinishedEffect>,
    hooks: Vec<HookRun>,
    filters: Option<LinkFilters>,
    observations: Vec<ObservationPoint>,
    by_time: Option<crate::report::OffsetsByTime>,
    problems: Vec<String>,
}

impl Builder {
    fn new(entries: &[&Entry]) -> Builder {
        let start_ms = entries
            .iter()
            .find(|e| matches!(e.record, Record::Started { .. }))
            .or(entries.first())
            .map(|e| e.ts_ms);
        Builder {
            start_ms,
            sessions: Vec::new(),
            timeline: Vec::new(),
            open_phase: None,
            last_phase: None,
            phase_entered: BTreeMap::new(),
            restart_intent_ms: None,
            stop_intent_ms: None,
            pending: BTreeMap::new(),
            hooks: Vec::new(),
            filters: None,
            observations: Vec::new(),
            by_time: None,
            problems: Vec::new(),
        }
    }

    fn since_start(&self, ts_ms: i64) -> i64 {
        ts_ms - self.start_ms.unwrap_or(ts_ms)
    }

    fn push(&mut self, e: &Entry, event: Event) {
        self.timeline.push(TimelineRow {
            seq: e.seq,
            ts_ms: e.ts_ms,
            since_start_ms: self.since_start(e.ts_ms),
            event,
        });
    }

    /// Ends the phase the run was in at `ts_ms`.
    fn close_phase(&mut self, ts_ms: i64) {
        if let Some(i) = self.open_phase.take() {
            let row = &mut self.timeline[i];
            if let Event::Phase { duration_ms, .. } = &mut row.event {
                *duration_ms = Some(ts_ms - row.ts_ms);
            }
        }
    }

    fn add(&mut self, e: &Entry) {
        match &e.record {
            Record::Started {
                command,
                agent,
                resumed,
                settings,
            } => {
                let evidence = settings
                    .get("evidence")
                    .and_then(|v| v.as_object())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                self.sessions.push(Session {
                    seq: e.seq,
                    ts_ms: e.ts_ms,
                    agent: agent.clone(),
                    resumed: *resumed,
                    command: command.clone(),
                    evidence,
                });
                let event = Event::Started {
                    agent: agent.clone(),
                    resumed: *resumed,
                };
                self.push(e, event);
            }
            Record::Phase { phase, state } => {
                self.close_phase(e.ts_ms);
                self.open_phase = Some(self.timeline.len());
                self.last_phase = Some(phase.clone());
                self.phase_entered.entry(phase.clone()).or_insert(e.ts_ms);
                let event = Event::Phase {
                    phase: phase.clone(),
                    duration_ms: None,
                    state: state.clone(),
                };
                self.push(e, event);
            }
            Record::Intent { effect, detail } => {
                let description = detail
                    .get("description")
                    .and_then(|d| d.as_str())
                    .map(str::to_string);
                if effect == "hook:restart" && self.restart_intent_ms.is_none() {
                    self.restart_intent_ms = Some(e.ts_ms);
                }
                if effect == "hook:stop" && self.stop_intent_ms.is_none() {
                    self.stop_intent_ms = Some(e.ts_ms);
                }
                self.pending.insert(
                    effect.clone(),
                    UnfinishedEffect {
                        seq: e.seq,
                        ts_ms: e.ts_ms,
                        effect: effect.clone(),
                        description: description.clone(),
                    },
                );
                let event = Event::Intent {
                    effect: effect.clone(),
                    description,
                };
                self.push(e, event);
            }
            Record::Outcome { effect, ok, detail } => {
                self.pending.remove(effect);
                let summary = self.outcome_detail(e, effect, *ok, detail);
                let event = Event::Outcome {
                    effect: effect.clone(),
                    ok: *ok,
                    summary,
                };
                self.push(e, event);
            }
            Record::Observation {
                phase,
                origin_active,
                destination_active,
                partitions,
            } => self.observations.push(ObservationPoint {
                ts_ms: e.ts_ms,
                since_start_ms: self.since_start(e.ts_ms),
                phase: phase.clone(),
                origin_active: *origin_active,
                destination_active: *destination_active,
                partitions: partitions.clone(),
            }),
            Record::Note { message } => {
                let event = Event::Note {
                    message: message.clone(),
                };
                self.push(e, event);
            }
            Record::Finished {
                outcome, reason, ..
            } => {
                self.close_phase(e.ts_ms);
                let event = Event::Finished {
                    outcome: Outcome::from_journal(outcome),
                    reason: reason.clone(),
                };
                self.push(e, event);
            }
        }
    }

    /// Reads an outcome's detail by the writer's conventions (a hook report, link filters)
    /// and returns its one-line summary: the hook's facts, or the detail as written when the
    /// effect failed or is not one this version knows.
    fn outcome_detail(
        &mut self,
        e: &Entry,
        effect: &str,
        ok: bool,
        detail: &serde_json::Value,
    ) -> Option<String> {
        let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let as_written = || match detail {
            serde_json::Value::Null => None,
            serde_json::Value::Object(o) if o.is_empty() => None,
            other => Some(other.to_string()),
        };
        match effect {
            _ if effect.starts_with("hook:") => {
                let report = hook_report(detail);
                if report.is_none() {
                    self.problems.push(format!(
                        "the {effect} outcome (seq {}) carries no readable hook report",
                        e.seq
                    ));
                }
                let summary = report.as_ref().map(hook_summary);
                self.hooks.push(HookRun {
                    seq: e.seq,
                    ts_ms: e.ts_ms,
                    effect: effect.to_string(),
                    ok,
                    report,
                });
                summary
            }
            "exclude:link" => {
                let filters = self.filters.get_or_insert_with(LinkFilters::default);
                if filters.before.is_none() {
                    filters.before = text("filters_before");
                }
                if ok {
                    filters.after = text("filters_after").or(filters.after.take());
                    None
                } else {
                    as_written()
                }
            }
            "offsets:write" if detail.get("offsets_by_time").is_some() => {
                match serde_json::from_value::<crate::report::OffsetsByTime>(
                    detail["offsets_by_time"].clone(),
                ) {
                    Ok(by) => {
                        let written: Vec<String> = detail
                            .get("written")
                            .and_then(|w| w.as_array())
                            .map(|w| {
                                w.iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let (twice, skipped) = by.partitions.iter().fold((0, 0), |(t, s), p| {
                            (t + p.translation.read_twice, s + p.translation.skipped)
                        });
                        let cost = match by.mode {
                            crate::translation::Mode::Rewind => {
                                format!("rewind: {twice} record(s) read again")
                            }
                            crate::translation::Mode::Skip => {
                                format!("skip: {skipped} record(s) skipped")
                            }
                        };
                        self.by_time = Some(by);
                        Some(format!(
                            "written {} (in the origin's offsets); by time, {cost}",
                            written.join(", ")
                        ))
                    }
                    Err(err) => {
                        self.problems.push(format!(
                            "the offsets:write outcome (seq {}) carries an unreadable offsets_by_time: {err}",
                            e.seq
                        ));
                        as_written()
                    }
                }
            }
            "unexclude:link" => {
                let filters = self.filters.get_or_insert_with(LinkFilters::default);
                filters.restored = text("filters_restored").or(filters.restored.take());
                if ok {
                    None
                } else {
                    as_written()
                }
            }
            _ => as_written(),
        }
    }

    /// The run's timings: as the `finished` record states them, with what it left out
    /// estimated from the journal.
    fn timings(&self, finished: Option<(i64, &Timings)>) -> ReportTimings {
        let recorded = finished.map(|(_, t)| t.clone()).unwrap_or_default();
        let mut estimated = false;
        let mut or_estimate = |recorded: Option<i64>, from_journal: Option<i64>| {
            if recorded.is_none() && from_journal.is_some() {
                estimated = true;
            }
            recorded.or(from_journal)
        };
        let started_ms = recorded.started_ms.or(self.start_ms);
        let stop_begun_ms = or_estimate(recorded.stop_begun_ms, self.stop_intent_ms);
        let stop_done_ms = or_estimate(
            recorded.stop_done_ms,
            self.phase_entered.get("awaiting_sync").copied(),
        );
        let synced_ms = or_estimate(
            recorded.synced_ms,
            self.phase_entered.get("awaiting_mirror").copied(),
        );
        let restart_begun_ms = or_estimate(recorded.restart_begun_ms, self.restart_intent_ms);
        let finished_ms = recorded.finished_ms.or(finished.map(|(ts, _)| ts));
        let between = |a: Option<i64>, b: Option<i64>| Some(b? - a?);
        ReportTimings {
            times: Timings {
                started_ms,
                stop_begun_ms,
                stop_done_ms,
                synced_ms,
                restart_begun_ms,
                finished_ms,
                downtime_ms: recorded
                    .downtime_ms
                    .or(between(stop_begun_ms.or(stop_done_ms), restart_begun_ms)),
                sync_wait_ms: recorded.sync_wait_ms.or(between(stop_done_ms, synced_ms)),
                ..recorded
            },
            total_ms: between(started_ms, finished_ms),
            estimated,
        }
    }
}

/// A hook report as the writer journals it: an object, or that object as JSON text.
fn hook_report(detail: &serde_json::Value) -> Option<HookReport> {
    match detail {
        serde_json::Value::String(s) => serde_json::from_str(s).ok(),
        other => serde_json::from_value(other.clone()).ok(),
    }
}

fn hook_summary(r: &HookReport) -> String {
    let mut parts = Vec::new();
    if let Some(code) = r.exit_code {
        parts.push(format!("exit {code}"));
    }
    if let Some(status) = r.http_status {
        parts.push(format!("HTTP {status}"));
    }
    parts.push(format!(
        "{} attempt{}",
        r.attempts,
        if r.attempts == 1 { "" } else { "s" }
    ));
    parts.push(format!("{} ms", r.duration_ms));
    if let Some(error) = &r.error {
        parts.push(error.clone());
    }
    parts.join(", ")
}

/// A group id as one shell word, so a printed command can be pasted as is.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/=@+".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Percentiles of a duration across cutovers, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// How many cutovers the figures cover.
    pub count: u64,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    /// The exact maximum.
    pub max: i64,
}

/// What several cutovers add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub cutovers: usize,
    /// How many cutovers ended (or stand) in each outcome.
    pub outcomes: BTreeMap<Outcome, usize>,
    /// Downtime across the finished cutovers that had one (the group was restarted).
    pub downtime_ms: Option<Percentiles>,
    /// Sync wait across the finished cutovers that had one.
    pub sync_wait_ms: Option<Percentiles>,
}

/// Counts per outcome and the percentiles of downtime and sync wait across finished
/// cutovers. Percentiles come from an HDR histogram with three significant digits (within
/// 0.1 %), never above the exact maximum.
pub fn summary(reports: &[CutoverReport]) -> Summary {
    let mut outcomes = BTreeMap::new();
    for r in reports {
        *outcomes.entry(r.outcome).or_insert(0) += 1;
    }
    let finished: Vec<&CutoverReport> = reports
        .iter()
        .filter(|r| r.outcome != Outcome::InProgress)
        .collect();
    Summary {
        cutovers: reports.len(),
        outcomes,
        downtime_ms: percentiles(finished.iter().filter_map(|r| r.timings.times.downtime_ms)),
        sync_wait_ms: percentiles(finished.iter().filter_map(|r| r.timings.times.sync_wait_ms)),
    }
}

pub(crate) fn percentiles(values: impl Iterator<Item = i64>) -> Option<Percentiles> {
    // Auto-resizing: it grows to hold any value recorded (`saturating_record` would not).
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3)
        .expect("three significant digits is a valid histogram precision");
    let mut max = None::<i64>;
    for v in values {
        // A negative duration (a clock stepped back) counts as zero.
        let v = v.max(0);
        histogram
            .record(v.unsigned_abs())
            .expect("an auto-resizing histogram holds any value up to i64::MAX");
        max = max.max(Some(v));
    }
    let max = max?;
    let at = |q: f64| (histogram.value_at_quantile(q) as i64).min(max);
    Some(Percentiles {
        count: histogram.len(),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max,
    })
}

/// The JSON document of `cutover report --format json`:
/// `{"schema_version":1,"cutovers":[…],"summary":{…}}`.
pub fn json_document(reports: &[CutoverReport]) -> serde_json::Value {
    serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "cutovers": reports,
        "summary": summary(reports),
    })
}

/// The distinct partitions observed, in topic and partition order.
fn observed_partitions(observations: &[ObservationPoint]) -> BTreeSet<(String, i32)> {
    observations
        .iter()
        .flat_map(|o| o.partitions.iter())
        .map(|p| (p.topic.clone(), p.partition))
        .collect()
}
