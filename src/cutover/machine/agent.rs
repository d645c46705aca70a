//! The phases of `final-offsets = "agent"` that the link mode does not have: proving the
//! exclusion while the group still runs on the origin, and checking the offsets the agent
//! wrote on the destination. Part of the pure machine: no clock, no I/O, no import beyond
//! the model and the rule.
//!
//! ```text
//!  start ─▶ plan ───── (as in link mode) ─────────────────────────────────────▶ refused
//!            │ the link syncs the group: exclude it     (sync off, or the filters never
//!            ▼                                           included it: straight to stopping)
//!        excluding ─────── the exclusion failed ──────────────────────┐
//!            │ ok                                                     │
//!            ▼                                                        │
//!   proving_exclusion ──── active on the destination; the filters    │
//!            │             read back include the group; the          │
//!            │             destination still changes at the deadline ┤
//!            │ a full sync interval + a poll with the destination's   │   rolling_back: undo the
//!            │ offsets unchanged (proof: observed if the group        │   exclusion; the group
//!            │ committed meanwhile, weak if idle): run the stop hook  │   never stopped
//!            ▼                                                        ▼
//!        stopping ─▶ awaiting_stop ─────────────────────────────▶ rolling_back (as in link
//!            (as in link mode; the snapshot once stopped)             mode)
//!            ▼                                                        ▲
//!     awaiting_mirror ──── interference*; the destination changed ────┤
//!            │ mirror_end ≥ snapshot everywhere                       │
//!            ▼                                                        │
//!     writing_offsets ──── the destination refused the commit ────────┤
//!            │ ok (AlterConsumerGroupOffsets, one request)            │
//!            ▼                                                        │
//!    checking_offsets ──── interference*; not read back, or a         │
//!            │             partition not SAFE, in 10 s ───────────────┘
//!            │ destination_committed = snapshot and every partition SAFE
//!            ▼
//!       restarting ─▶ awaiting_restart ─▶ done (as in link mode)
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::by_partition;
use super::{
    not_synced, offsets_text, outside_change, still_included, Effect, Machine, Observation,
};
use crate::model::Offsets;
use crate::rule::Verdict;

/// The observation window of an exclusion's proof: from `start_ms` on, the destination's
/// offsets must hold still across one sync tick seen on other groups (plus a margin for the
/// rest of that tick's writes), or, with no tick seen, across one full sync interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ProofWindow {
    start_ms: i64,
    #[serde(with = "by_partition")]
    origin: Offsets,
    #[serde(with = "by_partition")]
    destination: Offsets,
    /// How often the destination changed and the window started over.
    restarts: u32,
    /// The previous observation in the window: the group's origin offsets and the witnesses'.
    #[serde(default, with = "by_partition")]
    last_origin: Offsets,
    #[serde(default)]
    last_witnesses: BTreeMap<String, i64>,
    /// When a sync tick was seen on the witnesses while the group had offsets to copy.
    #[serde(default)]
    tick_seen_ms: Option<i64>,
    #[serde(default)]
    tick_witness: Option<String>,
}

impl ProofWindow {
    fn new(now: i64, o: &Observation, restarts: u32) -> ProofWindow {
        ProofWindow {
            start_ms: now,
            origin: o.origin_committed.clone(),
            destination: o.destination_committed.clone(),
            restarts,
            last_origin: o.origin_committed.clone(),
            last_witnesses: o.sync_witnesses.clone(),
            tick_seen_ms: None,
            tick_witness: None,
        }
    }

    /// Takes in an observation with the destination unchanged: a witness whose destination
    /// offsets moved since the last one shows a tick in between; it counts when, before it,
    /// the group's origin offsets differed from its destination's (an including link would
    /// have copied them).
    fn look(&mut self, now: i64, o: &Observation) {
        if self.tick_seen_ms.is_none() {
            let moved = o
                .sync_witnesses
                .iter()
                .find(|(g, v)| self.last_witnesses.get(*g).is_some_and(|p| p != *v));
            let to_copy = self
                .last_origin
                .iter()
                .any(|(tp, c)| self.destination.get(tp) != Some(c));
            if let (Some((witness, _)), true) = (moved, to_copy) {
                self.tick_seen_ms = Some(now);
                self.tick_witness = Some(witness.clone());
            }
        }
        self.last_origin = o.origin_committed.clone();
        self.last_witnesses = o.sync_witnesses.clone();
    }
}

/// After a tick is seen on a witness, the destination must still hold this long: the rest of
/// that tick's writes (the group's, had the link still included it) land within it.
const TICK_MARGIN_MS: i64 = 2_000;

impl Machine {
    /// Agent mode, before the stop: the exclusion is proven when a sync tick passes with the
    /// group's offsets on the destination unchanged although it committed on the origin (the
    /// link would have copied them had it still included the group). The tick is seen on other
    /// groups the link syncs ([`crate::model`]-free witnesses the driver reads); failing any, a
    /// full sync interval must pass. An idle group gets the weaker proof (the filters read
    /// back, and the interval).
    pub(super) fn proving_exclusion(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = outside_change(o).or_else(|| self.promotion_changed(o)) {
            return self.begin_rollback(now, why);
        }
        if let Some(why) = still_included(o) {
            return self.begin_rollback(now, why);
        }
        let expired = self.expired(now);
        let window = match &mut self.state.proof_window {
            None => {
                self.state.proof_window = Some(ProofWindow::new(now, o, 0));
                return self.observe_next(now);
            }
            Some(w) => w,
        };
        if o.destination_committed != window.destination {
            // A tick already under way when the exclusion was written may still land; one
            // that lands after a whole interval means the link ignores the exclusion.
            if expired {
                return self.begin_rollback(
                    now,
                    format!(
                        "the link kept writing the group's offsets on the destination after the exclusion ({}): it does not take the exclusion; the group was not stopped",
                        offsets_text(&o.destination_committed)
                    ),
                );
            }
            *window = ProofWindow::new(now, o, window.restarts + 1);
            return self.observe_next(now);
        }
        window.look(now, o);
        let settings = &self.state.settings;
        let timed = window.start_ms + settings.sync_interval_ms + settings.poll_ms;
        let margin = settings.poll_ms.max(TICK_MARGIN_MS);
        let proven_at = window
            .tick_seen_ms
            .map_or(timed, |t| (t + margin).min(timed));
        if now < proven_at {
            let at = (now + settings.poll_ms).min(proven_at);
            return vec![Effect::Observe { at_ms: at }];
        }
        // Only a partition the link still syncs proves anything: a promoted one it never would.
        let promoted = self.state.promoted.as_ref();
        let advanced: Vec<String> = o
            .origin_committed
            .iter()
            .filter(|(tp, _)| promoted.is_none_or(|p| !p.covers(tp)))
            .filter(|(tp, c)| window.origin.get(*tp).is_none_or(|before| before < *c))
            .map(|(tp, c)| {
                format!(
                    "{tp}: {} → {c}",
                    window
                        .origin
                        .get(tp)
                        .map_or("none".into(), |b| b.to_string())
                )
            })
            .collect();
        let interval = settings.sync_interval_ms;
        let started_over = match window.restarts {
            0 => String::new(),
            n => format!(
                " (the window started over {n} time(s): a sync tick already under way when the exclusion was written landed in it)"
            ),
        };
        let by_tick = window.tick_seen_ms.is_some_and(|t| t + margin <= now) && now < timed;
        let to_copy: Vec<String> = o
            .origin_committed
            .iter()
            .filter_map(|(tp, c)| {
                let d = window.destination.get(tp);
                (d != Some(c))
                    .then(|| format!("{tp}: {c} ≠ {}", d.map_or("none".into(), |d| d.to_string())))
            })
            .collect();
        self.state.exclusion_proof = Some(match (&window.tick_witness, advanced.is_empty()) {
            (Some(witness), _) if by_tick => format!(
                "observed: a sync tick (seen on group {witness}'s destination offsets) and {margin} ms after it left the group's destination offsets unchanged while its origin offsets differed (origin ≠ destination: {}){started_over}",
                to_copy.join(", ")
            ),
            (_, false) => format!(
                "observed: the group committed on the origin ({}) while a full {interval} ms sync interval left its destination offsets unchanged{started_over}",
                advanced.join(", ")
            ),
            _ if o.excluded == Some(true) => format!(
                "weak (an idle group): the link's filters, read back, exclude the group, and its destination offsets held still for a full {interval} ms sync interval"
            ),
            _ => format!(
                "weak (an idle group, the filters unreadable): its destination offsets held still for a full {interval} ms sync interval"
            ),
        });
        self.state.proven_destination = Some(o.destination_committed.clone());
        self.stop(now)
    }

    /// Agent mode, from the proof to the restart: the link's filters, read back, must keep
    /// excluding the group (unless every topic is promoted: the link syncs none of them). A
    /// re-inclusion is caught here before the restart, not only by the watch after it.
    pub(super) fn reincluded(&self, o: &Observation) -> Option<String> {
        if !self.agent_writes() || self.all_promoted() {
            return None;
        }
        still_included(o)
            .map(|why| format!("{why} again (someone changed them after the exclusion was proven)"))
    }

    /// Agent mode: the destination's offsets must hold what they held when the exclusion was
    /// proven until the agent writes the snapshot; a change means the link syncs the group
    /// again (someone re-included it).
    pub(super) fn destination_moved(&self, o: &Observation) -> Option<String> {
        if let Some(why) = self.reincluded(o) {
            return Some(why);
        }
        let proven = self.state.proven_destination.as_ref()?;
        (o.destination_committed != *proven).then(|| {
            format!(
                "the group's offsets on the destination changed after its exclusion was proven ({} → {}): the link syncs it again",
                offsets_text(proven),
                offsets_text(&o.destination_committed)
            )
        })
    }

    /// Agent mode: the snapshot was written on the destination; read back, it must be there
    /// and every partition SAFE before the restart.
    pub(super) fn checking_offsets(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
        if let Some(why) = self.interference(o).or_else(|| self.reincluded(o)) {
            return self.begin_rollback(now, why);
        }
        let behind = not_synced(self.state.snapshot.as_ref(), o);
        let unsafe_: Vec<String> = o
            .verdicts
            .iter()
            .filter(|(_, v)| **v != Verdict::Safe)
            .map(|(tp, v)| format!("{tp}: {}", v.as_str()))
            .collect();
        if behind.is_empty() && unsafe_.is_empty() {
            self.state.timings.synced_ms = Some(now);
            self.state.timings.sync_wait_ms = self.state.timings.stop_done_ms.map(|s| now - s);
            return self.restart(now);
        }
        if self.expired(now) {
            let why = if behind.is_empty() {
                format!(
                    "not every partition is SAFE before the restart: {}",
                    unsafe_.join(", ")
                )
            } else {
                format!(
                    "the destination does not show the final offsets the agent wrote ({})",
                    behind.join(", ")
                )
            };
            return self.begin_rollback(now, why);
        }
        self.observe_soon(now)
    }
}
