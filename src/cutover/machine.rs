//! The phase machine of one group's cutover (`DESIGN.md` §3): pure, no clock, no I/O.
//!
//! Inputs carry `now` (wall-clock milliseconds) and what the driver observed or what an
//! effect did; the machine answers with effects as data (observe at a time, run a side
//! effect, finish). Its whole state is serializable: the driver checkpoints it in the journal
//! after every step, and `--resume` starts from the last checkpoint. The state is private:
//! the driver and the simulator feed [`Input`]s to [`Machine::step`], perform the
//! [`Effect`]s it returns, and read what they show through accessors. This module must not
//! import an I/O module (kafka, link, journal, hooks, config, report, sim), not even for a
//! type: it speaks `model` and `rule`.
//!
//! The machine never trusts a hook: after every side effect it asks for observations and
//! moves on only when the clusters show the effect. Before the restart, any failure rolls
//! back (undo the exclusion, start the group on the origin again, see it consume there); at
//! or after the restart, it stops and hands over to the operator with the exact state.
//!
//! # Phases
//!
//! Two protocols share the machine, chosen by `final-offsets` ([`Settings`]). With `link`,
//! the link's offset sync copies the final offsets and the exclusion comes after the stop:
//!
//! ```text
//!  start ─▶ plan ───────── no committed offsets, active on the destination, or a ──▶ refused
//!            │             verdict no wait can fix (NOT_MIRRORED, …): nothing changed
//!            │ run the stop hook
//!            ▼
//!        stopping ──────── stop hook failed ─────────────────────────┐
//!            │ ok                                                    │
//!            ▼                                                       │
//!      awaiting_stop ───── active on the destination; timeout ───────┤
//!            │ no members, offsets unchanged over `stable_reads`     │
//!            │ reads (sub-second polls once stopped): snapshot them  │
//!            ▼                                                       │
//!      awaiting_sync ───── interference*; timeout ───────────────────┤
//!            │ destination_committed = snapshot everywhere           │
//!            ▼                                                       │
//!     awaiting_mirror ──── interference*; timeout ───────────────────┤
//!            │ mirror_end ≥ snapshot everywhere: exclude             │
//!            ▼                                                       │
//!        excluding ─────── the exclusion failed ─────────────────────┤
//!            │ ok                                                    │
//!            ▼                                                       │
//!  confirming_exclusion ── interference*; the filters still include  │
//!            │             the group; the destination's offsets      │
//!            │             ≠ snapshot; a partition not SAFE ─────────┤
//!            │ the filters, read back, exclude the group (unreadable ▼
//!            │ filters: one sync interval + a poll passes)      rolling_back ──▶ rolled_back
//!            │ and every partition is SAFE: run the restart hook     │   consumes on the origin
//!            ▼                                                       │   again, exclusion undone
//!       restarting                                                   │
//!            │ the hook's outcome (a failed one: the watch below     │ active on the destination;
//!            ▼ lasts only the restart window)                        │ filters not restored;
//!    awaiting_restart ──── committed below the                       │ the rollback hook failed;
//!            │             snapshot (a reset or                      │ no members on the origin
//!            │             rewind); no members by the                │ by the timeout
//!            │             timeout (window) ──────────┐              │
//!            │ active on the destination, and         ▼              │
//!            │ advanced past the snapshot or      needs_operator ◀───┘
//!            │ the restart window passed
//!            ▼
//!          done
//! ```
//!
//! With `agent`, the exclusion is written and proven while the group still runs, and the
//! agent writes the final offsets itself (`agent.rs` has the diagram): plan → excluding →
//! proving_exclusion → stopping → awaiting_stop → awaiting_mirror → writing_offsets →
//! checking_offsets → restarting → awaiting_restart → done, with the same rollback and
//! needs-operator edges; a failure before the stop only undoes the exclusion.
//!
//! `*` interference: the group became active on the destination, or on the origin again, or
//! its committed offsets on the origin moved away from the snapshot.
//!
//! - `awaiting_stop` → `awaiting_sync` → `awaiting_mirror` → `excluding` can pass in one
//!   step when one observation already satisfies the next check.
//! - A failed restart hook is not trusted either (`restart.rs`): the group may consume on the
//!   destination anyway (a hook that started it, then timed out waiting on a rollout); seen
//!   there within the restart window, the cutover ends done, saying the hook failed.
//! - `stopping`, `excluding` and `restarting` wait for their side effect's outcome
//!   ([`Input::Done`]); an observation changes nothing there.
//! - `rolling_back` first undoes the exclusion if one was attempted (its failure is kept and
//!   turns the end into `needs_operator`), then runs the rollback hook unless the group
//!   already consumes on the origin, then waits until it does.
//! - [`Machine::resume`] from a checkpoint: a terminal phase finishes at once; otherwise a
//!   pending side effect is first verified by observation (waiting up to the restart window
//!   for it to show) and run again only if it did not happen; every wait gets a fresh
//!   deadline and the stable-read count starts over.
//! - [`Machine::rollback_from`] (`cutover group --rollback`) enters `rolling_back` from the
//!   checkpoint's phase; the driver refuses it from `restarting` and `awaiting_restart`.

use serde::{Deserialize, Serialize};

use crate::model::{FinalOffsets, Offsets, Timings};
use crate::rule::Verdict;

mod agent;
mod by_partition;
mod checks;
mod drain;
mod interface;
mod promoted;
mod restart;
mod rollback;

use checks::{
    advanced, hopeless, mirror_left_active, offsets_text, outside_change, still_included,
};
pub use checks::{not_mirrored, not_synced};

pub use interface::{Action, Effect, Input, Observation, Outcome, Phase, Settings};

/// A rollback in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rollback {
    reason: String,
    /// The exclusion was undone (or there was none to undo).
    unexcluded: bool,
    unexclude_error: Option<String>,
    hook_ran: bool,
}

/// The machine's whole state, checkpointed in the journal. Only the machine changes it; the
/// driver serializes it (`Machine::checkpoint`), reads it back, and hands it to
/// `Machine::resume` or `Machine::rollback_from`. The field names are the journal's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    phase: Phase,
    phase_since_ms: i64,
    deadline_ms: Option<i64>,
    settings: Settings,
    /// The group's final committed offsets on the origin, once it was seen stopped.
    #[serde(with = "by_partition::option")]
    snapshot: Option<Offsets>,
    /// The last origin offsets seen while waiting for them to hold still, and for how many
    /// consecutive reads they did.
    #[serde(with = "by_partition::option")]
    last_committed: Option<Offsets>,
    stable_count: u32,
    /// The group was seen without members on the origin after the stop hook: members seen
    /// later joined again (`rollback.rs`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    seen_without_members: bool,
    /// An exclusion was attempted, so a rollback must undo it.
    exclusion_attempted: bool,
    /// When the wait for the sync tick after the exclusion ends.
    confirm_until_ms: Option<i64>,
    /// When the group was first seen active on the destination after the restart.
    active_since_ms: Option<i64>,
    /// A side effect whose intent may have been journaled without an outcome.
    pending: Option<Action>,
    /// Set on resume: the pending action's effect is to be verified before anything else.
    verifying: bool,
    /// Until when a resumed run waits to see the pending action's effect before running it
    /// again (a hook the killed agent started may still be finishing on its own).
    #[serde(default)]
    verify_until_ms: Option<i64>,
    rollback: Option<Rollback>,
    timings: Timings,
    reason: Option<String>,
    /// The restart hook failed with this error: the group is watched for on the destination
    /// over the restart window before the operator is told to start it (`restart.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart_hook_error: Option<String>,
    /// `final-offsets = "agent"`: the window in which the exclusion is being proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proof_window: Option<agent::ProofWindow>,
    /// How the exclusion was proven, for the report (agent mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exclusion_proof: Option<String>,
    /// The destination's offsets for the group once the exclusion was proven: nothing may
    /// change them until the agent writes the snapshot.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "by_partition::option"
    )]
    proven_destination: Option<Offsets>,
    /// The plan's first look at a lagging mirror (`drain.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drain_sample: Option<drain::DrainSample>,
    /// Promoted topics at the plan, and their origin ends then (`promoted.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    promoted: Option<promoted::Promoted>,
}

/// Polls while something imminent is awaited (a stop seen, offsets holding still, the mirror
/// reaching the snapshot, a read-back) are at most this far apart.
const FAST_POLL_MS: i64 = 250;
/// How long the read-back of the agent's own offset write may take to show.
const CHECK_TIMEOUT_MS: i64 = 10_000;

impl State {
    /// The phase the checkpoint was taken in.
    pub fn phase(&self) -> Phase {
        self.phase
    }
}

/// What makes a checkpoint worth journaling: the phase, the pending side effect, the
/// rollback, and whether an exclusion was attempted. Steps that only count stable reads or
/// move a wait along change none of these and are not journaled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointKey {
    phase: Phase,
    pending: Option<Action>,
    rollback: Option<Rollback>,
    exclusion_attempted: bool,
}

impl CheckpointKey {
    pub fn phase(&self) -> Phase {
        self.phase
    }
}

/// The machine: its state is private; inputs go in through [`Machine::step`], effects come
/// out as data, and the driver reads what it shows the operator through the accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    state: State,
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
            seen_without_members: false,
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
            restart_hook_error: None,
            proof_window: None,
            exclusion_proof: None,
            proven_destination: None,
            drain_sample: None,
            promoted: None,
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
        // A hook the killed agent started may still be finishing on its own; the agent's own
        // offset write died with it, so there is nothing to wait for.
        state.verify_until_ms = state
            .pending
            .filter(|a| *a != Action::WriteOffsets)
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
            Phase::ConfirmingExclusion | Phase::ProvingExclusion => Some(s.sync_timeout_ms()),
            Phase::CheckingOffsets => Some(CHECK_TIMEOUT_MS),
            Phase::AwaitingRestart | Phase::RollingBack => Some(s.restart_timeout_ms),
            _ => None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// The deadlines and pacing the machine runs with.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// When the current phase was entered.
    pub fn phase_since_ms(&self) -> i64 {
        self.state.phase_since_ms
    }

    /// When the current phase's wait gives up, if it waits.
    pub fn deadline_ms(&self) -> Option<i64> {
        self.state.deadline_ms
    }

    /// The group's final committed offsets on the origin, once it was seen stopped.
    pub fn snapshot(&self) -> Option<&Offsets> {
        self.state.snapshot.as_ref()
    }

    /// How the exclusion was proven (agent mode), once it was.
    pub fn exclusion_proof(&self) -> Option<&str> {
        self.state.exclusion_proof.as_deref()
    }

    /// Where the time went so far.
    pub fn timings(&self) -> &Timings {
        &self.state.timings
    }

    /// The whole state, to journal as a checkpoint that `resume` can start from.
    pub fn checkpoint(&self) -> &State {
        &self.state
    }

    /// What distinguishes this checkpoint from the last one journaled.
    pub fn checkpoint_key(&self) -> CheckpointKey {
        CheckpointKey {
            phase: self.state.phase,
            pending: self.state.pending,
            rollback: self.state.rollback.clone(),
            exclusion_attempted: self.state.exclusion_attempted,
        }
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

    /// The next observation soon: something imminent is awaited.
    fn observe_soon(&self, now: i64) -> Vec<Effect> {
        let at = now + self.state.settings.poll_ms.min(FAST_POLL_MS);
        let at = match self.state.deadline_ms {
            Some(d) => at.min(d.max(now)),
            None => at,
        };
        vec![Effect::Observe { at_ms: at }]
    }

    fn agent_writes(&self) -> bool {
        self.state.settings.final_offsets == FinalOffsets::Agent
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
            Action::RestartHook => {
                o.destination_active
                    || advanced(self.state.snapshot.as_ref(), &o.destination_committed)
            }
            Action::RollbackHook => {
                o.origin_active || advanced(self.state.snapshot.as_ref(), &o.origin_committed)
            }
            Action::WriteOffsets => self
                .state
                .snapshot
                .as_ref()
                .is_some_and(|snap| not_synced(Some(snap), o).is_empty()),
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
                    self.state.timings.stop_hook_done_ms = Some(now);
                    self.enter(now, Phase::AwaitingStop);
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    self.begin_rollback(now, format!("the stop hook failed: {error}"))
                }
            }
            Action::Exclude => {
                self.state.exclusion_attempted = true;
                if ok && self.agent_writes() {
                    // The group still runs on the origin: prove the exclusion before the stop.
                    self.enter(now, Phase::ProvingExclusion);
                    self.state.proof_window = None;
                    vec![Effect::Observe { at_ms: now }]
                } else if ok {
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
                    self.state.timings.restart_hook_done_ms = Some(now);
                    self.enter(now, Phase::AwaitingRestart);
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    self.restart_hook_failed(now, error)
                }
            }
            Action::WriteOffsets => {
                if ok {
                    self.state.timings.offsets_written_ms = Some(now);
                    self.enter(now, Phase::CheckingOffsets);
                    vec![Effect::Observe { at_ms: now }]
                } else {
                    self.begin_rollback(
                        now,
                        format!("writing the final offsets on the destination failed: {error}"),
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
        if let Some(why) = mirror_left_active(o).or_else(|| self.promotion_changed(o)) {
            return Some(why);
        }
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
            Phase::ProvingExclusion => self.proving_exclusion(now, o),
            Phase::AwaitingStop => self.awaiting_stop(now, o),
            Phase::AwaitingSync => self.awaiting_sync(now, o),
            Phase::AwaitingMirror => self.awaiting_mirror(now, o),
            Phase::ConfirmingExclusion => self.confirming_exclusion(now, o),
            Phase::CheckingOffsets => self.checking_offsets(now, o),
            Phase::AwaitingRestart => self.awaiting_restart(now, o),
            Phase::RollingBack => self.rolling_back(now, o),
            // Waiting for an action's outcome; an observation changes nothing.
            Phase::Stopping | Phase::Excluding | Phase::WritingOffsets | Phase::Restarting => {
                Vec::new()
            }
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
        if o.verdicts.values().any(|v| *v == Verdict::Moved) {
            return self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                "the group was already moved: it is excluded from the link's offset sync and runs on the destination at or past its origin offsets; nothing was changed (see `cutover verify` on it)".into(),
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
        let mut blocking: Vec<String> = o
            .verdicts
            .iter()
            .filter(|(_, v)| hopeless(**v))
            .map(|(tp, v)| format!("{tp}: {}", v.as_str()))
            .collect();
        // A paused or failed mirror cannot catch up, even for a group that is ahead of it
        // now: refused before anything changes, not at a deadline.
        blocking.extend(
            o.mirrors_not_active
                .iter()
                .map(|(mirror, status)| format!("mirror {mirror} is {status}")),
        );
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
        if let Some(effects) = self.plan_drain(now, o) {
            return effects;
        }
        if let Some(effects) = self.plan_promoted(now, o) {
            return effects;
        }
        if self.agent_writes() {
            if o.excluded == Some(true) {
                // Offset sync is off for the link, or its filters never included the group.
                self.state.exclusion_proof =
                    Some("not needed: the link's offset sync does not include the group".into());
                return self.stop(now);
            }
            self.enter(now, Phase::Excluding);
            return self.run(Action::Exclude);
        }
        if o.excluded == Some(true) {
            // The link would never copy the final offsets: refused now, not at the deadline.
            return self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                "final-offsets = \"link\" waits for the link's offset sync, which is off or does not include the group (consumer.offset.sync.enable, consumer.offset.group.filters); nothing was changed. Include the group in the link's filters, or let cutover write the final offsets (final-offsets = \"agent\")".into(),
            );
        }
        self.stop(now)
    }

    /// Runs the stop hook: the application's outage begins here.
    fn stop(&mut self, now: i64) -> Vec<Effect> {
        self.enter(now, Phase::Stopping);
        // A resumed run keeps the first start.
        self.state.timings.stop_begun_ms.get_or_insert(now);
        self.run(Action::StopHook)
    }

    fn awaiting_stop(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = outside_change(o)
            .or_else(|| self.promotion_changed(o))
            .or_else(|| self.reincluded(o))
        {
            return self.begin_rollback(now, why);
        }
        if !o.origin_active {
            self.state.seen_without_members = true;
            if self.state.last_committed.as_ref() == Some(&o.origin_committed) {
                self.state.stable_count += 1;
            } else {
                self.state.last_committed = Some(o.origin_committed.clone());
                self.state.stable_count = 1;
            }
            if self.state.stable_count >= self.state.settings.stable_reads {
                self.state.snapshot = Some(o.origin_committed.clone());
                self.state.timings.stop_done_ms = Some(now);
                if self.agent_writes() {
                    self.enter(now, Phase::AwaitingMirror);
                    return self.awaiting_mirror(now, o);
                }
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
        if o.origin_active {
            self.observe_next(now)
        } else {
            // Stopped: only the stable reads are left to make.
            self.observe_soon(now)
        }
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
        if let Some(why) = self.destination_moved(o) {
            return self.begin_rollback(now, why);
        }
        let missing = not_mirrored(self.state.snapshot.as_ref(), o);
        if missing.is_empty() {
            self.state.timings.mirror_reached_ms.get_or_insert(now);
            if self.agent_writes() {
                self.enter(now, Phase::WritingOffsets);
                return self.run(Action::WriteOffsets);
            }
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
        self.observe_soon(now)
    }

    fn confirming_exclusion(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = self.interference(o) {
            return self.begin_rollback(now, why);
        }
        if let Some(why) = still_included(o) {
            return self.begin_rollback(now, why);
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
        // Read back, the filters exclude the group and the destination holds the snapshot:
        // nothing is left to wait for (the origin is frozen, so any later tick would write the
        // same offsets). Only when the filters cannot be read does a tick have to pass.
        let read_back = o.excluded == Some(true);
        if read_back || self.state.confirm_until_ms.is_some_and(|c| now >= c) {
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
            return self.restart(now);
        }
        self.observe_next(now)
    }
}

#[cfg(test)]
mod tests;
