//! The phase machine's vocabulary: its phases, what the driver feeds it ([`Input`], carrying
//! an [`Observation`] or an [`Action`]'s result), what it asks for ([`Effect`]), how a
//! cutover ends ([`Outcome`]) and the [`Settings`] it runs with. Plain data, no decisions: the
//! transitions are in the parent module.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{FinalOffsets, Offsets, TopicPartition};
use crate::rule::Verdict;

use super::by_partition;

/// The phases. The names are API: they appear in the journal, the report and `kill-at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Plan,
    /// `final-offsets = "agent"`: the exclusion, written while the group still runs, is
    /// proven by observation before the stop.
    ProvingExclusion,
    Stopping,
    AwaitingStop,
    AwaitingSync,
    AwaitingMirror,
    Excluding,
    ConfirmingExclusion,
    /// `final-offsets = "agent"`: the agent commits the snapshot on the destination.
    WritingOffsets,
    /// … and reads it back: every partition SAFE before the restart.
    CheckingOffsets,
    Restarting,
    AwaitingRestart,
    Done,
    RollingBack,
    RolledBack,
    Refused,
    NeedsOperator,
}

impl Phase {
    pub const ALL: [Phase; 17] = [
        Phase::Plan,
        Phase::ProvingExclusion,
        Phase::Stopping,
        Phase::AwaitingStop,
        Phase::AwaitingSync,
        Phase::AwaitingMirror,
        Phase::Excluding,
        Phase::ConfirmingExclusion,
        Phase::WritingOffsets,
        Phase::CheckingOffsets,
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
            Phase::ProvingExclusion => "proving_exclusion",
            Phase::Stopping => "stopping",
            Phase::AwaitingStop => "awaiting_stop",
            Phase::AwaitingSync => "awaiting_sync",
            Phase::AwaitingMirror => "awaiting_mirror",
            Phase::Excluding => "excluding",
            Phase::ConfirmingExclusion => "confirming_exclusion",
            Phase::WritingOffsets => "writing_offsets",
            Phase::CheckingOffsets => "checking_offsets",
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
    /// Commit the snapshot to the group on the destination (`final-offsets = "agent"`).
    WriteOffsets,
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
            Action::WriteOffsets => "offsets:write",
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
    /// The group's mirror topics whose status is known and not `ACTIVE` (paused, failed,
    /// stopped…), with that status.
    #[serde(default)]
    pub mirrors_not_active: BTreeMap<String, String>,
    /// The group's origin topics whose mirror is promoted (`STOPPED`): ordinary topics on the
    /// destination that the link no longer syncs.
    #[serde(default)]
    pub promoted_topics: BTreeSet<String>,
    /// The origin's log end per partition (watched on promoted topics: nothing may write
    /// them any more).
    #[serde(default, with = "by_partition")]
    pub origin_end: Offsets,
    /// While the exclusion is proven: other groups the link syncs, each with the sum of its
    /// committed offsets on the destination. A change shows a sync tick passed. Empty when
    /// there is no witness.
    #[serde(default)]
    pub sync_witnesses: BTreeMap<String, i64>,
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
    /// Who writes the final offsets (checkpoints from before the setting resume as `link`).
    #[serde(default)]
    pub final_offsets: FinalOffsets,
}

impl Settings {
    pub(super) fn sync_timeout_ms(&self) -> i64 {
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
