//! The phase machine of one group's cutover (`DESIGN.md` §3): pure, no clock, no I/O.
//!
//! Inputs carry `now` (wall-clock milliseconds) and what the driver observed or what an
//! effect did; the machine answers with effects as data (observe at a time, run a side
//! effect, finish). Its whole state is serializable: the driver checkpoints it in the journal
//! after every step, and `--resume` starts from the last checkpoint.
//!
//! The machine never trusts a hook: after every side effect it asks for observations and
//! moves on only when the clusters show the effect. Before the restart, any failure rolls
//! back (undo the exclusion, start the group on the origin again, see it consume there); at
//! or after the restart, it stops and hands over to the operator with the exact state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Offsets, Timings, TopicPartition};
use crate::rule::Verdict;

/// JSON maps need string keys: partition maps are written as lists of
/// `{"topic", "partition", "value"}`, in partition order.
pub(crate) mod by_partition {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::model::TopicPartition;

    #[derive(Serialize, Deserialize)]
    struct Row<V> {
        topic: String,
        partition: i32,
        value: V,
    }

    pub fn serialize<V: Serialize + Clone, S: Serializer>(
        m: &BTreeMap<TopicPartition, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let rows: Vec<Row<V>> = m
            .iter()
            .map(|(tp, v)| Row {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                value: v.clone(),
            })
            .collect();
        rows.serialize(s)
    }

    pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<TopicPartition, V>, D::Error> {
        let rows: Vec<Row<V>> = Vec::deserialize(d)?;
        Ok(rows
            .into_iter()
            .map(|r| (TopicPartition::new(r.topic, r.partition), r.value))
            .collect())
    }

    /// The same for an optional map.
    pub mod option {
        use super::*;

        pub fn serialize<V: Serialize + Clone, S: Serializer>(
            m: &Option<BTreeMap<TopicPartition, V>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match m {
                Some(m) => super::serialize(m, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<BTreeMap<TopicPartition, V>>, D::Error> {
            let rows: Option<Vec<Row<V>>> = Option::deserialize(d)?;
            Ok(rows.map(|rows| {
                rows.into_iter()
                    .map(|r| (TopicPartition::new(r.topic, r.partition), r.value))
                    .collect()
            }))
        }
    }
}

/// The phases. The names are API: they appear in the journal, the report and `kill-at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Plan,
    Stopping,
    AwaitingStop,
    AwaitingSync,
    AwaitingMirror,
    Excluding,
    ConfirmingExclusion,
    Restarting,
    AwaitingRestart,
    Done,
    RollingBack,
    RolledBack,
    Refused,
    NeedsOperator,
}

impl Phase {
    pub const ALL: [Phase; 14] = [
        Phase::Plan,
        Phase::Stopping,
        Phase::AwaitingStop,
        Phase::AwaitingSync,
        Phase::AwaitingMirror,
        Phase::Excluding,
        Phase::ConfirmingExclusion,
        Phase::Restarting,
        Phase::AwaitingRestart,
        Phase::Done,
        Phase::RollingBack,
        Phase::RolledBack,
        Phase::Refused,
        Phase::NeedsOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Stopping => "stopping",
            Phase::AwaitingStop => "awaiting_stop",
            Phase::AwaitingSync => "awaiting_sync",
            Phase::AwaitingMirror => "awaiting_mirror",
            Phase::Excluding => "excluding",
            Phase::ConfirmingExclusion => "confirming_exclusion",
            Phase::Restarting => "restarting",
            Phase::AwaitingRestart => "awaiting_restart",
            Phase::Done => "done",
            Phase::RollingBack => "rolling_back",
            Phase::RolledBack => "rolled_back",
            Phase::Refused => "refused",
            Phase::NeedsOperator => "needs_operator",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Phase::Done | Phase::RolledBack | Phase::Refused | Phase::NeedsOperator
        )
    }
}

/// Side effects the driver performs for the machine. Each is journaled (intent, then
/// outcome) and verified afterwards by observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    StopHook,
    Exclude,
    Unexclude,
    RestartHook,
    RollbackHook,
}

impl Action {
    /// The journal's effect name.
    pub fn effect_name(self, builtin_exclude: bool) -> &'static str {
        match self {
            Action::StopHook => "hook:stop",
            Action::Exclude if builtin_exclude => "exclude:link",
            Action::Exclude => "hook:exclude",
            Action::Unexclude => "unexclude:link",
            Action::RestartHook => "hook:restart",
            Action::RollbackHook => "hook:rollback",
        }
    }
}

/// How a cutover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The group consumes on the destination from exactly where it stopped.
    Done,
    /// A check failed before the restart; the group consumes on the origin again.
    RolledBack,
    /// The pre-check failed; nothing was changed.
    Refused,
    /// The agent stopped at a point only an operator can decide; the reason says what state
    /// the group is in and which command continues.
    NeedsOperator,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::RolledBack => "rolled_back",
            Outcome::Refused => "refused",
            Outcome::NeedsOperator => "needs_operator",
        }
    }
}

/// What the machine asks the driver to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Observe the clusters and the link at this time (now or later) and report back.
    Observe { at_ms: i64 },
    /// Perform a side effect and report back whether it succeeded.
    Run(Action),
    /// The cutover is over.
    Finish { outcome: Outcome, reason: String },
}

/// What the driver observed about the group, all offsets keyed by the origin partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub origin_active: bool,
    pub destination_active: bool,
    #[serde(with = "by_partition")]
    pub origin_committed: Offsets,
    #[serde(with = "by_partition")]
    pub destination_committed: Offsets,
    #[serde(with = "by_partition")]
    pub mirror_end: Offsets,
    /// The rule's verdict per partition.
    #[serde(with = "by_partition")]
    pub verdicts: BTreeMap<TopicPartition, Verdict>,
    /// Whether the link's offset sync excludes the group (`None`: cannot be read).
    pub excluded: Option<bool>,
}

/// Deadlines and pacing, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub poll_ms: i64,
    /// The link's `consumer.offset.sync.ms` (or the configured fallback).
    pub sync_interval_ms: i64,
    pub sync_timeout_factor: u32,
    pub stop_timeout_ms: i64,
    pub mirror_timeout_ms: i64,
    pub restart_timeout_ms: i64,
    pub restart_window_ms: i64,
    pub stable_reads: u32,
}

impl Settings {
    fn sync_timeout_ms(&self) -> i64 {
        self.sync_interval_ms * i64::from(self.sync_timeout_factor) + self.poll_ms
    }
}

/// Input to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Observed {
        now: i64,
        observation: Observation,
    },
    Done {
        now: i64,
        action: Action,
        ok: bool,
        error: Option<String>,
    },
}

/// A rollback in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    pub reason: String,
    /// The exclusion was undone (or there was none to undo).
    pub unexcluded: bool,
    pub unexclude_error: Option<String>,
    pub hook_ran: bool,
}

/// The machine's whole state (checkpointed in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    pub phase_since_ms: i64,
    pub deadline_ms: Option<i64>,
    pub settings: Settings,
    /// The group's final committed offsets on the origin, once it was seen stopped.
    #[serde(with = "by_partition::option")]
    pub snapshot: Option<Offsets>,
    /// The last origin offsets seen while waiting for them to hold still, and for how many
    /// consecutive reads they did.
    #[serde(with = "by_partition::option")]
    pub last_committed: Option<Offsets>,
    pub stable_count: u32,
    /// An exclusion was attempted, so a rollback must undo it.
    pub exclusion_attempted: bool,
    /// When the wait for the sync tick after the exclusion ends.
    pub confirm_until_ms: Option<i64>,
    /// When the group was first seen active on the destination after the restart.
    pub active_since_ms: Option<i64>,
    /// A side effect whose intent may have been journaled without an outcome.
    pub pending: Option<Action>,
    /// Set on resume: the pending action's effect is to be verified before anything else.
    pub verifying: bool,
    /// Until when a resumed run waits to see the pending action's effect before running it
    /// again (a hook the killed agent started may still be finishing on its own).
    #[serde(default)]
    pub verify_until_ms: Option<i64>,
    pub rollback: Option<Rollback>,
    pub timings: Timings,
    pub reason: Option<String>,
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub state: State,
}

fn offsets_text(m: &Offsets) -> String {
    m.iter()
        .map(|(tp, o)| format!("{tp}={o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The snapshot's partitions whose final offset the destination does not have yet, each
/// described.
pub fn not_synced(snapshot: Option<&Offsets>, o: &Observation) -> Vec<String> {
    snapshot
        .into_iter()
        .flatten()
        .filter(|(tp, s)| o.destination_committed.get(*tp) != Some(*s))
        .map(|(tp, s)| {
            format!(
                "{tp}: destination {} ≠ {s}",
                o.destination_committed
                    .get(tp)
                    .map_or("none".into(), |c| c.to_string())
            )
        })
        .collect()
}

/// The snapshot's partitions whose final offset is beyond the mirror's end (the rule), each
/// described.
pub fn not_mirrored(snapshot: Option<&Offsets>, o: &Observation) -> Vec<String> {
    snapshot
        .into_iter()
        .flatten()
        .filter(|(tp, s)| o.mirror_end.get(*tp).is_none_or(|m| m < *s))
        .map(|(tp, s)| {
            format!(
                "{tp}: mirror end {} < {s}",
                o.mirror_end
                    .get(tp)
                    .map_or("unknown".into(), |m| m.to_string())
            )
        })
        .collect()
}

/// Verdicts that no wait can fix: the plan is refused before anything changes.
fn hopeless(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::NotMirrored
            | Verdict::BelowMirrorStart
            | Verdict::NoCommittedOffset
            | Verdict::MirrorNotActive
            | Verdict::OffsetsUnavailable
    )
}

impl Machine {
    /// A new cutover; the first effect observes the group for the plan.
    pub fn start(now: i64, settings: Settings) -> (Machine, Vec<Effect>) {
        let state = State {
            phase: Phase::Plan,
            phase_since_ms: now,
            deadline_ms: None,
            settings,
            snapshot: None,
            last_committed: None,
            stable_count: 0,
            exclusion_attempted: false,
            confirm_until_ms: None,
            active_since_ms: None,
            pending: None,
            verifying: false,
            verify_until_ms: None,
            rollback: None,
            timings: Timings {
                started_ms: Some(now),
                ..Timings::default()
            },
            reason: None,
        };
        (Machine { state }, vec![Effect::Observe { at_ms: now }])
    }

    /// Continues from a checkpoint: a pending side effect is verified by observation first,
    /// never re-run blindly; waits get a fresh deadline.
    pub fn resume(now: i64, mut state: State) -> (Machine, Vec<Effect>) {
        if state.phase.is_terminal() {
            let outcome = match state.phase {
                Phase::Done => Outcome::Done,
                Phase::RolledBack => Outcome::RolledBack,
                Phase::Refused => Outcome::Refused,
                _ => Outcome::NeedsOperator,
            };
            let reason = state.reason.clone().unwrap_or_default();
            return (Machine { state }, vec![Effect::Finish { outcome, reason }]);
        }
        state.verifying = state.pending.is_some();
        state.verify_until_ms = state
            .pending
            .map(|_| now + state.settings.restart_window_ms);
        if let Some(timeout) = Machine::phase_timeout(&state.settings, state.phase) {
            state.deadline_ms = Some(now + timeout);
        }
        state.last_committed = None;
        state.stable_count = 0;
        (Machine { state }, vec![Effect::Observe { at_ms: now }])
    }

    /// An operator-requested rollback of an interrupted cutover (only before the restart).
    pub fn rollback_from(now: i64, mut state: State, reason: String) -> (Machine, Vec<Effect>) {
        state.pending = None;
        state.verifying = false;
        let mut m = Machine { state };
        let effects = m.begin_rollback(now, reason);
        (m, effects)
    }

    fn phase_timeout(s: &Settings, phase: Phase) -> Option<i64> {
        match phase {
            Phase::AwaitingStop => Some(s.stop_timeout_ms),
            Phase::AwaitingSync => Some(s.sync_timeout_ms()),
            Phase::AwaitingMirror => Some(s.mirror_timeout_ms),
            Phase::ConfirmingExclusion => Some(s.sync_timeout_ms()),
            Phase::AwaitingRestart | Phase::RollingBack => Some(s.restart_timeout_ms),
            _ => None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    fn enter(&mut self, now: i64, phase: Phase) {
        self.state.phase = phase;
        self.state.phase_since_ms = now;
        self.state.deadline_ms =
            Machine::phase_timeout(&self.state.settings, phase).map(|t| now + t);
    }

    fn run(&mut self, action: Action) -> Vec<Effect> {
        self.state.pending = Some(action);
        vec![Effect::Run(action)]
    }

    fn observe_next(&self, now: i64) -> Vec<Effect> {
        let at = now + self.state.settings.poll_ms;
        let at = match self.state.deadline_ms {
            Some(d) => at.min(d.max(now)),
            None => at,
        };
        let at = match self.state.confirm_until_ms {
            Some(c) if self.state.phase == Phase::ConfirmingExclusion => at.min(c.max(now)),
            _ => at,
        };
        vec![Effect::Observe { at_ms: at }]
    }

    fn finish(&mut self, now: i64, phase: Phase, outcome: Outcome, reason: String) -> Vec<Effect> {
        self.enter(now, phase);
        self.state.pending = None;
        self.state.reason = Some(reason.clone());
        self.state.timings.finished_ms = Some(now);
        vec![Effect::Finish { outcome, reason }]
    }

    fn expired(&self, now: i64) -> bool {
        self.state.deadline_ms.is_some_and(|d| now >= d)
    }

    /// Starts rolling back (before the restart): undo the exclusion, then make sure the group
    /// consumes on the origin.
    fn begin_rollback(&mut self, now: i64, reason: String) -> Vec<Effect> {
        self.enter(now, Phase::RollingBack);
        self.state.rollback = Some(Rollback {
            reason,
            unexcluded: !self.state.exclusion_attempted,
            unexclude_error: None,
            hook_ran: false,
        });
        if self.state.exclusion_attempted {
            self.run(Action::Unexclude)
        } else {
            vec![Effect::Observe { at_ms: now }]
        }
    }

    /// Stops and hands over: the group is in a state only the operator can decide on.
    fn needs_operator(&mut self, now: i64, reason: String) -> Vec<Effect> {
        self.finish(now, Phase::NeedsOperator, Outcome::NeedsOperator, reason)
    }

    /// Feeds one input; returns what to do next.
    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Done {
                now,
                action,
                ok,
                error,
            } => self.on_done(now, action, ok, error),
            Input::Observed { now, observation } => {
                if self.state.verifying {
                    if let Some(action) = self.state.pending {
                        return self.verify_pending(now, action, &observation);
                    }
                    self.state.verifying = false;
                }
                self.on_observed(now, &observation)
            }
        }
    }

    /// After a resume: did the pending side effect happen? Continue if it did, run it again
    /// if it did not.
    fn verify_pending(&mut self, now: i64, action: Action, o: &Observation) -> Vec<Effect> {
        let happened = match action {
            Action::StopHook => !o.origin_active,
            Action::Exclude => o.excluded == Some(true),
            Action::Unexclude => o.excluded == Some(false),
            Action::RestartHook => o.destination_active,
            Action::RollbackHook => o.origin_active,
        };
        if happened {
            self.state.verifying = false;
            self.on_done(now, action, true, None)
        } else if self.state.verify_until_ms.is_some_and(|u| now < u) {
            let at =
                (now + self.state.settings.poll_ms).min(self.state.verify_until_ms.unwrap_or(now));
            vec![Effect::Observe { at_ms: at }]
        } else {
            self.state.verifying = false;
            self.run(action)
        }
    }

    fn on_done(
        &mut self,
        now: i64,
        action: Action,
        ok: bool,
        error: Option<String>,
    ) -> Vec<Effect> {
        self.state.pending = None;
        let error = error.unwrap_or_else(|| "failed".into());
        match action {
            Action::StopHook => {
                if ok {
                    self.enter(now, Phase::AwaitingStop);
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    self.begin_rollback(now, format!("the stop hook failed: {error}"))
                }
            }
            Action::Exclude => {
                self.state.exclusion_attempted = true;
                if ok {
                    self.enter(now, Phase::ConfirmingExclusion);
                    // Wait out one offset-sync tick: the destination must not change.
                    self.state.confirm_until_ms = Some(
                        now + self.state.settings.sync_interval_ms + self.state.settings.poll_ms,
                    );
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    self.begin_rollback(now, format!("excluding the group failed: {error}"))
                }
            }
            Action::Unexclude => {
                if let Some(r) = &mut self.state.rollback {
                    r.unexcluded = ok;
                    if !ok {
                        r.unexclude_error = Some(error);
                    }
                }
                vec![Effect::Observe { at_ms: now }]
            }
            Action::RestartHook => {
                if ok {
                    self.enter(now, Phase::AwaitingRestart);
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    let snapshot = self
                        .state
                        .snapshot
                        .as_ref()
                        .map(offsets_text)
                        .unwrap_or_default();
                    self.needs_operator(
                        now,
                        format!(
                            "the restart hook failed ({error}); the group is stopped on the origin, excluded from the link's offset sync, and the destination has its final offsets ({snapshot}). Start it on the destination by hand and check it with `cutover verify`, or roll it back to the origin with your rollback hook and restore the link's group filters"
                        ),
                    )
                }
            }
            Action::RollbackHook => {
                if let Some(r) = &mut self.state.rollback {
                    r.hook_ran = true;
                }
                if ok {
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    let reason = self.rollback_reason();
                    self.needs_operator(
                        now,
                        format!(
                            "{reason}; rolling back failed too: the rollback hook failed ({error}). The group is stopped: start it on the origin by hand"
                        ),
                    )
                }
            }
        }
    }

    fn rollback_reason(&self) -> String {
        self.state
            .rollback
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default()
    }

    /// Guards for the waits between the stop and the restart: the group must stay stopped on
    /// the origin with the snapshot's offsets, and nobody may start it on the destination.
    fn interference(&self, o: &Observation) -> Option<String> {
        if o.destination_active {
            return Some(
                "the group became active on the destination, started outside cutover".into(),
            );
        }
        if o.origin_active {
            return Some(
                "the group was restarted on the origin by someone else during the cutover".into(),
            );
        }
        let snapshot = self.state.snapshot.as_ref()?;
        let moved: Vec<String> = snapshot
            .iter()
            .filter(|(tp, o_snap)| o.origin_committed.get(*tp) != Some(*o_snap))
            .map(|(tp, s)| {
                format!(
                    "{tp}: {s} → {}",
                    o.origin_committed
                        .get(tp)
                        .map_or("none".into(), |c| c.to_string())
                )
            })
            .collect();
        (!moved.is_empty()).then(|| {
            format!(
                "the group's committed offsets on the origin changed after the stop ({})",
                moved.join(", ")
            )
        })
    }

    fn on_observed(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        match self.state.phase {
            Phase::Plan => self.plan(now, o),
            Phase::AwaitingStop => self.awaiting_stop(now, o),
            Phase::AwaitingSync => self.awaiting_sync(now, o),
            Phase::AwaitingMirror => self.awaiting_mirror(now, o),
            Phase::ConfirmingExclusion => self.confirming_exclusion(now, o),
            Phase::AwaitingRestart => self.awaiting_restart(now, o),
            Phase::RollingBack => self.rolling_back(now, o),
            // Waiting for an action's outcome; an observation changes nothing.
            Phase::Stopping | Phase::Excluding | Phase::Restarting => Vec::new(),
            Phase::Done | Phase::RolledBack | Phase::Refused | Phase::NeedsOperator => Vec::new(),
        }
    }

    fn plan(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if o.origin_committed.is_empty() {
            return self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                "the group has no committed offsets on the origin: nothing to cut over (check the group id)".into(),
            );
        }
        if o.destination_active {
            return self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                "the group is already active on the destination".into(),
            );
        }
        let blocking: Vec<String> = o
            .verdicts
            .iter()
            .filter(|(_, v)| hopeless(**v))
            .map(|(tp, v)| format!("{tp}: {}", v.as_str()))
            .collect();
        if !blocking.is_empty() {
            return self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                format!(
                    "partitions no wait can make safe: {}; nothing was changed",
                    blocking.join(", ")
                ),
            );
        }
        self.enter(now, Phase::Stopping);
        self.run(Action::StopHook)
    }

    fn awaiting_stop(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if o.destination_active {
            return self.begin_rollback(
                now,
                "the group became active on the destination, started outside cutover".into(),
            );
        }
        if !o.origin_active {
            if self.state.last_committed.as_ref() == Some(&o.origin_committed) {
                self.state.stable_count += 1;
            } else {
                self.state.last_committed = Some(o.origin_committed.clone());
                self.state.stable_count = 1;
            }
            if self.state.stable_count >= self.state.settings.stable_reads {
                self.state.snapshot = Some(o.origin_committed.clone());
                self.state.timings.stop_done_ms = Some(now);
                self.enter(now, Phase::AwaitingSync);
                return self.awaiting_sync(now, o);
            }
        }
        if self.expired(now) {
            let why = if o.origin_active {
                "the group still has members on the origin"
            } else {
                "the group's committed offsets on the origin kept changing"
            };
            return self.begin_rollback(
                now,
                format!(
                    "{why} {} ms after the stop hook",
                    self.state.settings.stop_timeout_ms
                ),
            );
        }
        self.observe_next(now)
    }

    fn awaiting_sync(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = self.interference(o) {
            return self.begin_rollback(now, why);
        }
        let behind = not_synced(self.state.snapshot.as_ref(), o);
        if behind.is_empty() {
            self.state.timings.synced_ms = Some(now);
            self.state.timings.sync_wait_ms = self.state.timings.stop_done_ms.map(|s| now - s);
            self.enter(now, Phase::AwaitingMirror);
            return self.awaiting_mirror(now, o);
        }
        if self.expired(now) {
            return self.begin_rollback(
                now,
                format!(
                    "the destination did not receive the group's final offsets within {} × the link's {} ms offset-sync interval ({})",
                    self.state.settings.sync_timeout_factor,
                    self.state.settings.sync_interval_ms,
                    behind.join(", ")
                ),
            );
        }
        self.observe_next(now)
    }

    fn awaiting_mirror(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = self.interference(o) {
            return self.begin_rollback(now, why);
        }
        let missing = not_mirrored(self.state.snapshot.as_ref(), o);
        if missing.is_empty() {
            self.enter(now, Phase::Excluding);
            return self.run(Action::Exclude);
        }
        if self.expired(now) {
            return self.begin_rollback(
                now,
                format!(
                    "the mirror did not reach the group's offsets within {} ms ({})",
                    self.state.settings.mirror_timeout_ms,
                    missing.join(", ")
                ),
            );
        }
        self.observe_next(now)
    }

    fn confirming_exclusion(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = self.interference(o) {
            return self.begin_rollback(now, why);
        }
        if o.excluded == Some(false) {
            return self.begin_rollback(
                now,
                "the link's consumer.offset.group.filters, read back, still include the group"
                    .into(),
            );
        }
        let snapshot = self.state.snapshot.clone().unwrap_or_default();
        if o.destination_committed != snapshot {
            return self.begin_rollback(
                now,
                format!(
                    "the destination's offsets changed after the exclusion ({}), expected {}",
                    offsets_text(&o.destination_committed),
                    offsets_text(&snapshot)
                ),
            );
        }
        if self.state.confirm_until_ms.is_some_and(|c| now >= c) {
            // The last check before the restart: every partition SAFE by the rule.
            let unsafe_: Vec<String> = o
                .verdicts
                .iter()
                .filter(|(_, v)| **v != Verdict::Safe)
                .map(|(tp, v)| format!("{tp}: {}", v.as_str()))
                .collect();
            if !unsafe_.is_empty() {
                return self.begin_rollback(
                    now,
                    format!(
                        "not every partition is SAFE before the restart: {}",
                        unsafe_.join(", ")
                    ),
                );
            }
            self.state.timings.restart_begun_ms = Some(now);
            self.state.timings.downtime_ms = self.state.timings.stop_done_ms.map(|s| now - s);
            self.enter(now, Phase::Restarting);
            return self.run(Action::RestartHook);
        }
        self.observe_next(now)
    }

    fn awaiting_restart(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        let snapshot = self.state.snapshot.clone().unwrap_or_default();
        let rewound: Vec<String> = snapshot
            .iter()
            .filter_map(|(tp, s)| {
                let c = o.destination_committed.get(tp)?;
                (c < s).then(|| format!("{tp}: {c} < {s}"))
            })
            .collect();
        if !rewound.is_empty() {
            return self.needs_operator(
                now,
                format!(
                    "the group restarted on the destination below its final offsets ({}): it was reset or rewound and will re-read records. It runs on the destination; stop it there and reset its offsets to the snapshot ({}) with kafka-consumer-groups --reset-offsets before starting it again",
                    rewound.join(", "),
                    offsets_text(&snapshot)
                ),
            );
        }
        if o.destination_active {
            let since = *self.state.active_since_ms.get_or_insert(now);
            let advanced = snapshot
                .iter()
                .any(|(tp, s)| o.destination_committed.get(tp).is_some_and(|c| c > s));
            if advanced || now >= since + self.state.settings.restart_window_ms {
                return self.finish(
                    now,
                    Phase::Done,
                    Outcome::Done,
                    if advanced {
                        "the group consumes on the destination from its final offsets".into()
                    } else {
                        "the group is active on the destination at its final offsets (no new records to show progress)".into()
                    },
                );
            }
        } else if self.expired(now) {
            return self.needs_operator(
                now,
                format!(
                    "the restart hook succeeded but the group has no members on the destination after {} ms. It is stopped on the origin and excluded from the link's offset sync, and the destination has its final offsets ({}): start it on the destination and run `cutover verify` on it",
                    self.state.settings.restart_timeout_ms,
                    offsets_text(&snapshot)
                ),
            );
        }
        self.observe_next(now)
    }

    fn rolling_back(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        let reason = self.rollback_reason();
        let unexclude_error = self
            .state
            .rollback
            .as_ref()
            .and_then(|r| r.unexclude_error.clone());
        if o.destination_active {
            return self.needs_operator(
                now,
                format!(
                    "{reason}; the group is active on the destination, so it was not started on the origin too (it would consume twice). Decide which side keeps it"
                ),
            );
        }
        if o.origin_active {
            return match unexclude_error {
                None => self.finish(
                    now,
                    Phase::RolledBack,
                    Outcome::RolledBack,
                    format!("{reason}; rolled back: the group consumes on the origin again"),
                ),
                Some(e) => self.needs_operator(
                    now,
                    format!(
                        "{reason}; the group consumes on the origin again, but restoring the link's group filters failed ({e}): the group is still excluded from offset sync"
                    ),
                ),
            };
        }
        let hook_ran = self.state.rollback.as_ref().is_some_and(|r| r.hook_ran);
        if !hook_ran {
            return self.run(Action::RollbackHook);
        }
        if self.expired(now) {
            return self.needs_operator(
                now,
                format!(
                    "{reason}; the rollback hook ran but the group has no members on the origin after {} ms: it is stopped. Start it on the origin by hand",
                    self.state.settings.restart_timeout_ms
                ),
            );
        }
        self.observe_next(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Offset;

    fn settings() -> Settings {
        Settings {
            poll_ms: 1000,
            sync_interval_ms: 30_000,
            sync_timeout_factor: 3,
            stop_timeout_ms: 60_000,
            mirror_timeout_ms: 60_000,
            restart_timeout_ms: 60_000,
            restart_window_ms: 10_000,
            stable_reads: 2,
        }
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("orders", p)
    }

    /// A group stopped at `c` on the origin; destination at `d`; mirror end `m`.
    fn obs(origin_active: bool, c: i64, d: Option<i64>, m: i64, dest_active: bool) -> Observation {
        let verdict = if c > m {
            Verdict::ConsumerAheadOfMirror
        } else if d != Some(c) {
            Verdict::NotSynced
        } else {
            Verdict::Safe
        };
        Observation {
            origin_active,
            destination_active: dest_active,
            origin_committed: [(tp(0), Offset(c))].into(),
            destination_committed: d.map(|d| [(tp(0), Offset(d))].into()).unwrap_or_default(),
            mirror_end: [(tp(0), Offset(m))].into(),
            verdicts: [(tp(0), verdict)].into(),
            excluded: Some(false),
        }
    }

    fn observed(m: &mut Machine, now: i64, o: Observation) -> Vec<Effect> {
        m.step(Input::Observed {
            now,
            observation: o,
        })
    }

    fn done(m: &mut Machine, now: i64, action: Action, ok: bool) -> Vec<Effect> {
        m.step(Input::Done {
            now,
            action,
            ok,
            error: (!ok).then(|| "exit code 1".to_string()),
        })
    }

    /// Drives a machine to the exclusion: stop, steady, synced, mirrored.
    fn to_exclusion(m: &mut Machine) {
        assert_eq!(
            observed(m, 0, obs(true, 90, Some(80), 100, false)),
            [Effect::Run(Action::StopHook)]
        );
        assert_eq!(
            done(m, 1000, Action::StopHook, true),
            [Effect::Observe { at_ms: 1000 }]
        );
        observed(m, 1000, obs(false, 95, Some(80), 100, false));
        assert_eq!(m.phase(), Phase::AwaitingStop);
        let e = observed(m, 2000, obs(false, 95, Some(80), 100, false));
        assert_eq!(m.phase(), Phase::AwaitingSync, "{e:?}");
        assert_eq!(m.state.snapshot, Some([(tp(0), Offset(95))].into()));
        let e = observed(m, 20_000, obs(false, 95, Some(95), 100, false));
        assert_eq!(e, [Effect::Run(Action::Exclude)]);
        assert_eq!(m.state.timings.sync_wait_ms, Some(18_000));
    }

    #[test]
    fn a_clean_cutover_goes_through_every_phase_to_done() {
        let (mut m, e) = Machine::start(0, settings());
        assert_eq!(e, [Effect::Observe { at_ms: 0 }]);
        to_exclusion(&mut m);
        assert_eq!(
            done(&mut m, 21_000, Action::Exclude, true),
            [Effect::Observe { at_ms: 21_000 }]
        );
        let mut safe = obs(false, 95, Some(95), 100, false);
        safe.excluded = Some(true);
        // The destination must hold still for one sync tick after the exclusion.
        assert_eq!(
            observed(&mut m, 21_000, safe.clone()),
            [Effect::Observe { at_ms: 22_000 }]
        );
        let e = observed(&mut m, 52_000, safe.clone());
        assert_eq!(e, [Effect::Run(Action::RestartHook)]);
        assert_eq!(m.state.timings.downtime_ms, Some(50_000));
        done(&mut m, 53_000, Action::RestartHook, true);
        assert_eq!(m.phase(), Phase::AwaitingRestart);
        let mut running = obs(false, 95, Some(97), 100, true);
        running.excluded = Some(true);
        let e = observed(&mut m, 55_000, running);
        assert!(
            matches!(
                &e[..],
                [Effect::Finish {
                    outcome: Outcome::Done,
                    ..
                }]
            ),
            "{e:?}"
        );
    }

    #[test]
    fn offsets_must_hold_still_across_consecutive_reads_before_the_snapshot() {
        let (mut m, _) = Machine::start(0, settings());
        observed(&mut m, 0, obs(true, 90, None, 100, false));
        done(&mut m, 0, Action::StopHook, true);
        observed(&mut m, 1000, obs(false, 93, None, 100, false));
        observed(&mut m, 2000, obs(false, 95, None, 100, false)); // still moving
        assert_eq!(m.phase(), Phase::AwaitingStop);
        observed(&mut m, 3000, obs(false, 95, None, 100, false));
        assert_eq!(m.phase(), Phase::AwaitingSync);
        assert_eq!(m.state.snapshot, Some([(tp(0), Offset(95))].into()));
    }

    #[test]
    fn sync_that_never_arrives_rolls_back_at_the_deadline_and_restarts_on_the_origin() {
        let (mut m, _) = Machine::start(0, settings());
        observed(&mut m, 0, obs(true, 90, Some(80), 100, false));
        done(&mut m, 0, Action::StopHook, true);
        observed(&mut m, 1000, obs(false, 95, Some(80), 100, false));
        observed(&mut m, 2000, obs(false, 95, Some(80), 100, false));
        let deadline = m.state.deadline_ms.unwrap();
        assert_eq!(deadline, 2000 + 3 * 30_000 + 1000);
        let e = observed(&mut m, deadline - 1, obs(false, 95, Some(80), 100, false));
        assert!(matches!(e[..], [Effect::Observe { .. }]));
        // Nothing was excluded: the rollback goes straight to starting the group on the origin.
        let e = observed(&mut m, deadline, obs(false, 95, Some(80), 100, false));
        assert_eq!(m.phase(), Phase::RollingBack);
        assert_eq!(e, [Effect::Observe { at_ms: deadline }]);
        let e = observed(&mut m, deadline, obs(false, 95, Some(80), 100, false));
        assert_eq!(e, [Effect::Run(Action::RollbackHook)]);
        done(&mut m, deadline + 1000, Action::RollbackHook, true);
        let e = observed(&mut m, deadline + 2000, obs(true, 96, Some(80), 100, false));
        match &e[..] {
            [Effect::Finish {
                outcome: Outcome::RolledBack,
                reason,
            }] => {
                assert!(
                    reason.contains("did not receive the group's final offsets"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rollback_after_the_exclusion_undoes_it_first() {
        let (mut m, _) = Machine::start(0, settings());
        to_exclusion(&mut m);
        done(&mut m, 21_000, Action::Exclude, true);
        // Someone restarts the group on the origin while the exclusion is confirmed.
        let e = observed(&mut m, 22_000, obs(true, 99, Some(95), 100, false));
        assert_eq!(e, [Effect::Run(Action::Unexclude)]);
        assert!(m
            .state
            .rollback
            .as_ref()
            .unwrap()
            .reason
            .contains("restarted on the origin"));
        done(&mut m, 22_500, Action::Unexclude, true);
        // Already consuming on the origin: no rollback hook runs.
        let e = observed(&mut m, 23_000, obs(true, 99, Some(95), 100, false));
        assert!(
            matches!(
                &e[..],
                [Effect::Finish {
                    outcome: Outcome::RolledBack,
                    ..
                }]
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_failing_stop_hook_changes_nothing_when_the_group_still_runs() {
        let (mut m, _) = Machine::start(0, settings());
        observed(&mut m, 0, obs(true, 90, Some(80), 100, false));
        let e = done(&mut m, 1000, Action::StopHook, false);
        assert_eq!(
            e,
            [Effect::Observe { at_ms: 1000 }],
            "no unexclude: nothing was excluded"
        );
        let e = observed(&mut m, 1000, obs(true, 91, Some(80), 100, false));
        match &e[..] {
            [Effect::Finish {
                outcome: Outcome::RolledBack,
                reason,
            }] => {
                assert!(
                    reason.contains("the stop hook failed: exit code 1"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_plan_refuses_what_no_wait_can_fix_and_a_group_already_on_the_destination() {
        let (mut m, _) = Machine::start(0, settings());
        let mut o = obs(true, 90, Some(80), 100, false);
        o.verdicts.insert(tp(1), Verdict::NotMirrored);
        let e = observed(&mut m, 0, o);
        assert!(
            matches!(&e[..], [Effect::Finish { outcome: Outcome::Refused, reason }] if reason.contains("orders-1: NOT_MIRRORED")),
            "{e:?}"
        );
        let (mut m, _) = Machine::start(0, settings());
        let e = observed(&mut m, 0, obs(false, 90, Some(90), 100, true));
        assert!(
            matches!(
                &e[..],
                [Effect::Finish {
                    outcome: Outcome::Refused,
                    ..
                }]
            ),
            "{e:?}"
        );
        let (mut m, _) = Machine::start(0, settings());
        let e = observed(&mut m, 0, Observation::default());
        assert!(
            matches!(&e[..], [Effect::Finish { outcome: Outcome::Refused, reason }] if reason.contains("no committed offsets")),
            "{e:?}"
        );
    }

    #[test]
    fn a_group_started_on_the_destination_before_the_restart_is_refused_not_doubled() {
        let (mut m, _) = Machine::start(0, settings());
        to_exclusion(&mut m);
        done(&mut m, 21_000, Action::Exclude, true);
        let e = observed(&mut m, 22_000, obs(false, 95, Some(95), 100, true));
        assert_eq!(e, [Effect::Run(Action::Unexclude)]);
        done(&mut m, 22_100, Action::Unexclude, true);
        let e = observed(&mut m, 22_200, obs(false, 95, Some(95), 100, true));
        assert!(
            matches!(&e[..], [Effect::Finish { outcome: Outcome::NeedsOperator, reason }] if reason.contains("not started on the origin too")),
            "{e:?}"
        );
    }

    #[test]
    fn a_rewind_after_the_restart_needs_the_operator() {
        let (mut m, _) = Machine::start(0, settings());
        to_exclusion(&mut m);
        done(&mut m, 21_000, Action::Exclude, true);
        let mut safe = obs(false, 95, Some(95), 100, false);
        safe.excluded = Some(true);
        observed(&mut m, 52_000, safe);
        done(&mut m, 53_000, Action::RestartHook, true);
        let e = observed(&mut m, 54_000, obs(false, 95, Some(3), 100, true));
        assert!(
            matches!(&e[..], [Effect::Finish { outcome: Outcome::NeedsOperator, reason }] if reason.contains("orders-0: 3 < 95")),
            "{e:?}"
        );
    }

    #[test]
    fn resume_verifies_a_pending_effect_before_running_it_again() {
        let (mut m, _) = Machine::start(0, settings());
        observed(&mut m, 0, obs(true, 90, Some(80), 100, false));
        assert_eq!(m.state.pending, Some(Action::StopHook));
        // Killed after the intent: the stop hook may or may not have run.
        let checkpoint = m.state.clone();
        let (mut resumed, e) = Machine::resume(5000, checkpoint.clone());
        assert_eq!(e, [Effect::Observe { at_ms: 5000 }]);
        // It did: the group is stopped. No second stop.
        let e = observed(&mut resumed, 5000, obs(false, 95, Some(80), 100, false));
        assert_eq!(resumed.phase(), Phase::AwaitingStop);
        assert!(matches!(e[..], [Effect::Observe { .. }]), "{e:?}");
        // It did not (yet): the group still runs. The hook may still be finishing, so wait out
        // the grace period, then stop it (again).
        let (mut resumed, _) = Machine::resume(5000, checkpoint);
        let e = observed(&mut resumed, 5000, obs(true, 92, Some(80), 100, false));
        assert_eq!(e, [Effect::Observe { at_ms: 6000 }]);
        let e = observed(&mut resumed, 15_000, obs(true, 92, Some(80), 100, false));
        assert_eq!(e, [Effect::Run(Action::StopHook)]);
    }

    #[test]
    fn the_state_round_trips_through_json_for_checkpoints() {
        let (mut m, _) = Machine::start(0, settings());
        to_exclusion(&mut m);
        let json = serde_json::to_value(&m.state).unwrap();
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back, m.state);
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
    }
}
