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
        // membership (assign + commit), as committed offsets moving past the snapshot. But
        // after a stop hook that succeeded, members never seen gone may be the stopped ones: a
        // consumer whose LeaveGroup did not reach the coordinator (a broker restarting) stays
        // listed until its session times out. Those prove nothing, and the rollback hook
        // (idempotent, as every hook) starts the group rather than leaving it stopped.
        let never_stopped = self.state.timings.stop_begun_ms.is_none();
        let hook_ran = self.state.rollback.as_ref().is_some_and(|r| r.hook_ran);
        let maybe_stale = self.state.timings.stop_hook_done_ms.is_some()
            && !self.state.seen_without_members
            && !hook_ran;
        if (o.origin_active && !maybe_stale)
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
    use super::super::{Action, Effect, Input, Machine, Observation, Outcome, Settings};
    use crate::model::{FinalOffsets, Offset, TopicPartition};
    use crate::rule::Verdict;

    /// The group on the origin at offset 90 of one partition, with members or not.
    fn origin(active: bool) -> Observation {
        let tp = TopicPartition::new("orders", 0);
        Observation {
            origin_active: active,
            origin_committed: [(tp.clone(), Offset(90))].into(),
            destination_committed: [(tp.clone(), Offset(80))].into(),
            mirror_end: [(tp.clone(), Offset(100))].into(),
            verdicts: [(tp, Verdict::NotSynced)].into(),
            excluded: Some(false),
            ..Observation::default()
        }
    }

    fn observed(m: &mut Machine, now: i64, active: bool) -> Vec<Effect> {
        m.step(Input::Observed {
            now,
            observation: origin(active),
        })
    }

    /// The stop hook succeeded, then the group is seen as `seen` until the stop timeout.
    fn stop_times_out(seen: &[bool]) -> (Machine, Vec<Effect>) {
        let settings = Settings {
            poll_ms: 1000,
            sync_interval_ms: 30_000,
            sync_timeout_factor: 3,
            stop_timeout_ms: 10_000,
            mirror_timeout_ms: 60_000,
            restart_timeout_ms: 60_000,
            restart_window_ms: 10_000,
            stable_reads: 2,
            final_offsets: FinalOffsets::Link,
        };
        let (mut m, _) = Machine::start(0, settings);
        observed(&mut m, 0, true);
        let ok = Input::Done {
            now: 100,
            action: Action::StopHook,
            ok: true,
            error: None,
        };
        m.step(ok);
        for (n, active) in seen.iter().enumerate() {
            observed(&mut m, 1000 + 1000 * n as i64, *active);
        }
        // The stop timeout: the rollback looks at the origin once more.
        observed(&mut m, 10_100, true);
        let e = observed(&mut m, 10_100, true);
        (m, e)
    }

    #[test]
    fn members_never_seen_gone_after_the_stop_hook_do_not_prove_the_group_consumes() {
        // Members that may be stale (they never left: a broker restarted under their
        // LeaveGroup): the rollback hook starts the group, then its members are believed.
        let (mut m, e) = stop_times_out(&[true, true, true]);
        assert_eq!(e, [Effect::Run(Action::RollbackHook)]);
        m.step(Input::Done {
            now: 11_000,
            action: Action::RollbackHook,
            ok: true,
            error: None,
        });
        let e = observed(&mut m, 11_000, true);
        assert!(
            matches!(&e[..], [Effect::Finish { outcome: Outcome::RolledBack, reason }]
                if reason.contains("consumes on the origin again")),
            "{e:?}"
        );
        // Members that came back after the group was seen without any: someone restarted it,
        // and it consumes there; nothing is started twice.
        let (_, e) = stop_times_out(&[false, true, true]);
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
}
