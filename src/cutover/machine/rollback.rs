//! Rolling back, before the restart: the exclusion undone first (if one was attempted), then
//! the group made to consume on the origin again (the rollback hook, unless it already does),
//! never while it runs on the destination. Part of the pure machine.

use super::{advanced, Action, Effect, Machine, Observation, Outcome, Phase};

impl Machine {
    pub(super) fn rolling_back(&mut self, now: i64, o: &Observation) -> Vec<Effect> {
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
        // Consuming on the origin shows as members, or, for a group that commits without
        // membership (assign + commit), as committed offsets moving past the snapshot.
        let never_stopped = self.state.timings.stop_begun_ms.is_none();
        if o.origin_active
            || never_stopped
            || advanced(self.state.snapshot.as_ref(), &o.origin_committed)
        {
            let reason = if never_stopped && !o.origin_active {
                format!("{reason}; rolled back: the group was never stopped")
            } else {
                format!("{reason}; rolled back: the group consumes on the origin again")
            };
            return match unexclude_error {
                None => self.finish(now, Phase::RolledBack, Outcome::RolledBack, reason),
                Some(e) => self.needs_operator(
                    now,
                    format!(
                        "{reason}, but restoring the link's group filters failed ({e}): the group is still excluded from offset sync"
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
