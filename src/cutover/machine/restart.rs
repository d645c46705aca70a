//! The restart on the destination and the watch after it: the restart hook runs, then the
//! group must consume on the destination from its final offsets (never below them, never
//! re-included in the link's offset sync). Part of the pure machine.

use super::{advanced, offsets_text, Action, Effect, Machine, Observation, Outcome, Phase};

impl Machine {
    /// Runs the restart hook: the outage ends here.
    pub(super) fn restart(&mut self, now: i64) -> Vec<Effect> {
        self.state.timings.restart_begun_ms = Some(now);
        let timings = &mut self.state.timings;
        timings.downtime_ms = timings
            .stop_begun_ms
            .or(timings.stop_done_ms)
            .map(|s| now - s);
        self.enter(now, Phase::Restarting);
        self.run(Action::RestartHook)
    }

    /// The restart hook failed. Its exit code is not trusted either way: a hook that started
    /// the group and then failed (a rollout status it waited on timed out, a retry that found
    /// the app running) leaves the group consuming on the destination. So the group is watched
    /// as after a hook that succeeded, for the restart window: seen consuming there, the
    /// cutover ends done (saying the hook failed); not seen, the operator is told the group is
    /// stopped and what to run.
    pub(super) fn restart_hook_failed(&mut self, now: i64, error: String) -> Vec<Effect> {
        self.state.restart_hook_error = Some(error);
        self.enter(now, Phase::AwaitingRestart);
        let settings = &self.state.settings;
        self.state.deadline_ms =
            Some(now + settings.restart_window_ms.min(settings.restart_timeout_ms));
        vec![Effect::Observe { at_ms: now }]
    }

    pub(super) fn awaiting_restart(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
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
        // Someone may re-include the group in the link's offset sync while it runs here: the
        // next time it stops, the link would overwrite its offsets with the origin's (unless
        // every topic it reads is promoted: the link syncs none of them).
        if o.excluded == Some(false) && !self.all_promoted() {
            return self.needs_operator(
                now,
                "the link's consumer.offset.group.filters include the group again (someone changed them after the exclusion): it consumes on the destination, but if it stops there the link will overwrite its offsets with the origin's. Add a LITERAL EXCLUDE for the group to the link's consumer.offset.group.filters, then check it with `cutover verify`".into(),
            );
        }
        // Consuming on the destination shows as members, or as committed offsets moving past
        // the snapshot (a group that commits without membership never has members). The watch
        // ends when every partition has moved past the snapshot, or the window has passed
        // (partitions without new records have nothing to show).
        let any_advanced = advanced(Some(&snapshot), &o.destination_committed);
        if any_advanced {
            self.state.timings.first_commit_ms.get_or_insert(now);
        }
        let all_advanced = !snapshot.is_empty()
            && snapshot
                .iter()
                .all(|(tp, s)| o.destination_committed.get(tp).is_some_and(|c| c > s));
        if o.destination_active || any_advanced {
            let since = *self.state.active_since_ms.get_or_insert(now);
            if all_advanced || now >= since + self.state.settings.restart_window_ms {
                let consumes = if all_advanced {
                    "the group consumes on the destination from its final offsets on every partition".into()
                } else if any_advanced {
                    "the group consumes on the destination from its final offsets (partitions without new records stayed at them)".into()
                } else {
                    "the group is active on the destination at its final offsets (no new records to show progress)".into()
                };
                let reason = match &self.state.restart_hook_error {
                    None => consumes,
                    Some(error) => format!(
                        "{consumes}, although the restart hook failed ({error}): check the tool it runs"
                    ),
                };
                return self.finish(now, Phase::Done, Outcome::Done, reason);
            }
        } else if self.expired(now) {
            if let Some(error) = &self.state.restart_hook_error {
                let settings = &self.state.settings;
                return self.needs_operator(
                    now,
                    format!(
                        "the restart hook failed ({error}) and the group did not show on the destination within {} ms; it is stopped on the origin, excluded from the link's offset sync, and the destination has its final offsets ({}). Start it on the destination by hand and check it with `cutover verify`, or roll it back to the origin with your rollback hook and restore the link's group filters",
                        settings.restart_window_ms.min(settings.restart_timeout_ms),
                        offsets_text(&snapshot)
                    ),
                );
            }
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
}
