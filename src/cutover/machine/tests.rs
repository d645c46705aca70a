//! The phase machine driven step by step, with the clock in the tests' hands.

use super::*;

use crate::model::{FinalOffsets, Offset, TopicPartition};

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
        final_offsets: FinalOffsets::Link,
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
        ..Observation::default()
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
    // Read back, the filters exclude the group and the destination holds the snapshot: the
    // origin is frozen, so no tick is left to wait for.
    let e = observed(&mut m, 21_000, safe.clone());
    assert_eq!(e, [Effect::Run(Action::RestartHook)]);
    // The outage the application sees: from the stop hook's start (at 0) to the restart's.
    assert_eq!(m.state.timings.stop_begun_ms, Some(0));
    assert_eq!(m.state.timings.downtime_ms, Some(21_000));
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
fn with_unreadable_filters_the_link_mode_still_waits_one_tick_after_the_exclusion() {
    let (mut m, _) = Machine::start(0, settings());
    to_exclusion(&mut m);
    done(&mut m, 21_000, Action::Exclude, true);
    let mut unknown = obs(false, 95, Some(95), 100, false);
    unknown.excluded = None;
    assert_eq!(
        observed(&mut m, 21_000, unknown.clone()),
        [Effect::Observe { at_ms: 22_000 }]
    );
    assert_eq!(
        observed(&mut m, 52_000, unknown),
        [Effect::Run(Action::RestartHook)]
    );
}

fn agent() -> Settings {
    Settings {
        final_offsets: FinalOffsets::Agent,
        ..settings()
    }
}

/// The group runs on the origin at `c`, its destination offsets at `d`, the filters read back.
fn running(c: i64, d: i64, excluded: Option<bool>) -> Observation {
    Observation {
        excluded,
        ..obs(true, c, Some(d), 200, false)
    }
}

#[test]
fn agent_mode_proves_the_exclusion_before_the_stop_and_writes_the_final_offsets_itself() {
    let (mut m, _) = Machine::start(0, agent());
    // The group still runs: the exclusion comes first.
    assert_eq!(
        observed(&mut m, 0, running(90, 80, Some(false))),
        [Effect::Run(Action::Exclude)]
    );
    assert_eq!(
        done(&mut m, 100, Action::Exclude, true),
        [Effect::Observe { at_ms: 100 }]
    );
    assert_eq!(m.phase(), Phase::ProvingExclusion);
    observed(&mut m, 100, running(90, 80, Some(true)));
    // The group commits on the origin; a full interval (30 s + a poll) leaves the destination
    // unchanged: proven, and only now is the group stopped.
    observed(&mut m, 20_000, running(120, 80, Some(true)));
    assert_eq!(m.phase(), Phase::ProvingExclusion);
    let e = observed(&mut m, 31_100, running(150, 80, Some(true)));
    assert_eq!(e, [Effect::Run(Action::StopHook)]);
    assert!(
        m.exclusion_proof()
            .is_some_and(|p| p.starts_with("observed")),
        "{:?}",
        m.exclusion_proof()
    );
    assert_eq!(m.state.timings.stop_begun_ms, Some(31_100));
    // Stopped: polls tighten to sub-second steps, and no sync is awaited.
    done(&mut m, 32_000, Action::StopHook, true);
    let stopped = Observation {
        excluded: Some(true),
        ..obs(false, 160, Some(80), 200, false)
    };
    assert_eq!(
        observed(&mut m, 32_000, stopped.clone()),
        [Effect::Observe { at_ms: 32_250 }]
    );
    let e = observed(&mut m, 32_250, stopped.clone());
    assert_eq!(m.phase(), Phase::WritingOffsets);
    assert_eq!(e, [Effect::Run(Action::WriteOffsets)]);
    done(&mut m, 32_300, Action::WriteOffsets, true);
    assert_eq!(m.phase(), Phase::CheckingOffsets);
    let written = Observation {
        excluded: Some(true),
        ..obs(false, 160, Some(160), 200, false)
    };
    assert_eq!(
        observed(&mut m, 32_350, written),
        [Effect::Run(Action::RestartHook)]
    );
    // The outage: stop hook begun → restart hook begun, whatever the 30 s interval.
    assert_eq!(m.state.timings.downtime_ms, Some(1250));
    done(&mut m, 32_900, Action::RestartHook, true);
    let committing = Observation {
        excluded: Some(true),
        ..obs(false, 160, Some(170), 200, true)
    };
    observed(&mut m, 33_350, committing);
    // And where it went, part by part.
    assert_eq!(
        m.timings().parts(),
        crate::model::TimingParts {
            stop_hook_ms: Some(900),
            stop_observed_ms: Some(250),
            mirror_wait_ms: Some(0),
            offsets_ms: Some(100),
            restart_hook_ms: Some(550),
            first_commit_ms: Some(1000),
        }
    );
}

#[test]
fn agent_mode_rolls_back_before_the_stop_when_the_link_ignores_the_exclusion() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, running(90, 80, None));
    // Every tick still copies the origin's offsets: the window starts over each time, until
    // the deadline (3 × 30 s + a poll).
    for (now, c) in [(30_000, 120), (60_000, 150), (90_000, 180)] {
        observed(&mut m, now, running(c, c, None));
        assert_eq!(m.phase(), Phase::ProvingExclusion);
    }
    let e = observed(&mut m, 91_200, running(200, 200, None));
    assert_eq!(
        e,
        [Effect::Run(Action::Unexclude)],
        "undo our own exclusion"
    );
    done(&mut m, 91_300, Action::Unexclude, true);
    let e = observed(&mut m, 91_300, running(200, 200, Some(false)));
    match &e[..] {
        [Effect::Finish {
            outcome: Outcome::RolledBack,
            reason,
        }] => assert!(reason.contains("the group was not stopped"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.state.timings.stop_begun_ms, None, "never stopped");
}

#[test]
fn agent_mode_gives_an_idle_group_the_weaker_proof_and_says_so() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 90, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, running(90, 90, Some(true)));
    let e = observed(&mut m, 31_100, running(90, 90, Some(true)));
    assert_eq!(e, [Effect::Run(Action::StopHook)]);
    assert!(
        m.exclusion_proof().is_some_and(|p| p.starts_with("weak")),
        "{:?}",
        m.exclusion_proof()
    );
}

#[test]
fn agent_mode_needs_no_exclusion_when_the_link_does_not_sync_the_group() {
    let (mut m, _) = Machine::start(0, agent());
    let e = observed(&mut m, 0, running(90, 80, Some(true)));
    assert_eq!(e, [Effect::Run(Action::StopHook)]);
    assert!(m
        .exclusion_proof()
        .is_some_and(|p| p.starts_with("not needed")));
}

#[test]
fn agent_mode_rolls_back_when_the_destination_changes_after_the_proof() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, running(90, 80, Some(true)));
    observed(&mut m, 31_100, running(120, 80, Some(true)));
    done(&mut m, 31_200, Action::StopHook, true);
    let stopped = |d: i64| Observation {
        excluded: Some(true),
        ..obs(false, 130, Some(d), 200, false)
    };
    observed(&mut m, 31_200, stopped(80));
    // Someone re-included the group and a tick copied its offsets.
    let e = observed(&mut m, 31_450, stopped(130));
    assert_eq!(m.phase(), Phase::RollingBack, "{e:?}");
}

#[test]
fn a_paused_mirror_is_refused_up_front_even_for_a_group_ahead_of_it() {
    let (mut m, _) = Machine::start(0, settings());
    let mut o = obs(true, 120, Some(80), 100, false);
    o.mirrors_not_active = [("orders".to_string(), "PAUSED".to_string())].into();
    match &observed(&mut m, 0, o)[..] {
        [Effect::Finish {
            outcome: Outcome::Refused,
            reason,
        }] => assert!(reason.contains("mirror orders is PAUSED"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_mirror_leaving_active_during_the_cutover_rolls_back_at_the_next_observation() {
    let (mut m, _) = Machine::start(0, settings());
    observed(&mut m, 0, obs(true, 90, Some(80), 100, false));
    done(&mut m, 1000, Action::StopHook, true);
    observed(&mut m, 1000, obs(false, 95, Some(80), 100, false));
    observed(&mut m, 2000, obs(false, 95, Some(80), 100, false));
    assert_eq!(m.phase(), Phase::AwaitingSync);
    let mut paused = obs(false, 95, Some(80), 100, false);
    paused.mirrors_not_active = [("orders".to_string(), "PAUSED".to_string())].into();
    // Long before the sync deadline (3 × 30 s).
    observed(&mut m, 3000, paused);
    assert_eq!(m.phase(), Phase::RollingBack);
}

#[test]
fn a_group_without_members_is_seen_restarted_by_its_offsets_moving_past_the_snapshot() {
    // Assign + commit, as stream processors do: never any member, on either cluster.
    let (mut m, _) = Machine::start(0, settings());
    to_exclusion(&mut m);
    done(&mut m, 21_000, Action::Exclude, true);
    let mut safe = obs(false, 95, Some(95), 100, false);
    safe.excluded = Some(true);
    observed(&mut m, 21_000, safe);
    done(&mut m, 22_000, Action::RestartHook, true);
    let mut consuming = obs(false, 95, Some(99), 120, false);
    consuming.excluded = Some(true);
    let e = observed(&mut m, 23_000, consuming);
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
fn a_rollback_before_the_stop_starts_nothing_on_the_origin() {
    // The group never stopped: the rollback undoes the exclusion and runs no rollback hook
    // (a group without members would otherwise be started a second time).
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, running(90, 80, Some(true)));
    let mut included = running(95, 80, Some(false));
    included.origin_active = false;
    assert_eq!(
        observed(&mut m, 1000, included.clone()),
        [Effect::Run(Action::Unexclude)]
    );
    done(&mut m, 1100, Action::Unexclude, true);
    let e = observed(&mut m, 1100, included);
    match &e[..] {
        [Effect::Finish {
            outcome: Outcome::RolledBack,
            reason,
        }] => assert!(reason.contains("never stopped"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// Two partitions: the origin at `c`, the destination at `d` (each per partition).
fn two(origin_active: bool, c: [i64; 2], d: [i64; 2], dest_active: bool) -> Observation {
    let tps = [tp(0), tp(1)];
    Observation {
        origin_active,
        destination_active: dest_active,
        origin_committed: tps.iter().cloned().zip(c.map(Offset)).collect(),
        destination_committed: tps.iter().cloned().zip(d.map(Offset)).collect(),
        mirror_end: tps.iter().cloned().map(|tp| (tp, Offset(500))).collect(),
        verdicts: tps
            .iter()
            .cloned()
            .zip(c.iter().zip(d.iter()).map(|(c, d)| {
                if c == d {
                    Verdict::Safe
                } else {
                    Verdict::NotSynced
                }
            }))
            .collect(),
        excluded: Some(true),
        ..Observation::default()
    }
}

/// An agent-mode machine restarted on the destination with the snapshot [100, 200].
fn restarted_two() -> Machine {
    restarted_two_hook(true)
}

/// The same, its restart hook succeeding or failing.
fn restarted_two_hook(ok: bool) -> Machine {
    let (mut m, _) = Machine::start(0, agent());
    assert_eq!(
        observed(&mut m, 0, two(true, [90, 190], [90, 190], false)),
        [Effect::Run(Action::StopHook)],
        "the link does not sync the group: no exclusion needed"
    );
    done(&mut m, 100, Action::StopHook, true);
    observed(&mut m, 100, two(false, [100, 200], [90, 190], false));
    observed(&mut m, 350, two(false, [100, 200], [90, 190], false));
    assert_eq!(m.phase(), Phase::WritingOffsets);
    done(&mut m, 400, Action::WriteOffsets, true);
    observed(&mut m, 450, two(false, [100, 200], [100, 200], false));
    done(&mut m, 500, Action::RestartHook, ok);
    assert_eq!(m.phase(), Phase::AwaitingRestart);
    m
}

#[test]
fn a_failed_restart_hook_is_checked_on_the_destination_before_the_operator_is_called() {
    // A hook that started the group, then failed (a rollout that never reported): done.
    let mut m = restarted_two_hook(false);
    let e = observed(&mut m, 1000, two(false, [100, 200], [120, 210], true));
    assert!(
        matches!(&e[..], [Effect::Finish { outcome: Outcome::Done, reason }]
            if reason.contains("although the restart hook failed (exit code 1)")),
        "{e:?}"
    );
    // A hook that started nothing: the operator, once the restart window has passed.
    let mut m = restarted_two_hook(false);
    observed(&mut m, 10_499, two(false, [100, 200], [100, 200], false));
    assert_eq!(m.phase(), Phase::AwaitingRestart);
    let e = observed(&mut m, 10_500, two(false, [100, 200], [100, 200], false));
    assert!(
        matches!(&e[..], [Effect::Finish { outcome: Outcome::NeedsOperator, reason }]
            if reason.contains("failed (exit code 1) and the group did not show on the destination within 10000 ms")
                && reason.contains("Start it on the destination by hand")),
        "{e:?}"
    );
}

#[test]
fn the_restart_watch_ends_when_every_partition_has_moved_past_the_snapshot() {
    let mut m = restarted_two();
    // One partition has moved on; the other has not yet: keep watching.
    observed(&mut m, 1000, two(false, [100, 200], [120, 200], true));
    assert_eq!(m.phase(), Phase::AwaitingRestart);
    let e = observed(&mut m, 2000, two(false, [100, 200], [130, 210], true));
    match &e[..] {
        [Effect::Finish {
            outcome: Outcome::Done,
            reason,
        }] => assert!(reason.contains("every partition"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_partition_without_new_records_ends_the_watch_at_the_window() {
    let mut m = restarted_two();
    observed(&mut m, 1000, two(false, [100, 200], [120, 200], true));
    observed(&mut m, 10_999, two(false, [100, 200], [150, 200], true));
    assert_eq!(m.phase(), Phase::AwaitingRestart);
    let e = observed(&mut m, 11_000, two(false, [100, 200], [160, 200], true));
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
fn a_re_inclusion_after_the_restart_needs_the_operator() {
    let mut m = restarted_two();
    let mut included = two(false, [100, 200], [120, 200], true);
    included.excluded = Some(false);
    match &observed(&mut m, 1000, included)[..] {
        [Effect::Finish {
            outcome: Outcome::NeedsOperator,
            reason,
        }] => assert!(reason.contains("include the group again"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn link_mode_refuses_up_front_a_group_the_links_sync_does_not_include() {
    let (mut m, _) = Machine::start(0, settings());
    let mut o = obs(true, 90, Some(80), 100, false);
    o.excluded = Some(true);
    match &observed(&mut m, 0, o)[..] {
        [Effect::Finish {
            outcome: Outcome::Refused,
            reason,
        }] => assert!(reason.contains("final-offsets = \"agent\""), "{reason}"),
        other => panic!("{other:?}"),
    }
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

/// `orders` promoted (its mirror STOPPED): the origin's end at `h`, the group at `c` on it.
fn promoted(origin_active: bool, c: i64, d: i64, h: i64) -> Observation {
    Observation {
        excluded: Some(false),
        promoted_topics: ["orders".to_string()].into(),
        origin_end: [(tp(0), Offset(h))].into(),
        ..obs(origin_active, c, Some(d), 300, false)
    }
}

#[test]
fn link_mode_refuses_a_promoted_topic_up_front() {
    let (mut m, _) = Machine::start(0, settings());
    match &observed(&mut m, 0, promoted(true, 90, 80, 100))[..] {
        [Effect::Finish {
            outcome: Outcome::Refused,
            reason,
        }] => assert!(
            reason.contains("promoted") && reason.contains("final-offsets = \"agent\""),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn agent_mode_moves_a_group_onto_promoted_topics_without_an_exclusion() {
    let (mut m, _) = Machine::start(0, agent());
    // The link syncs nothing to a promoted topic, even with the group in its filters.
    assert_eq!(
        observed(&mut m, 0, promoted(true, 90, 80, 100)),
        [Effect::Run(Action::StopHook)]
    );
    assert!(m
        .exclusion_proof()
        .is_some_and(|p| p.starts_with("not needed: every topic of the group is promoted")));
    done(&mut m, 100, Action::StopHook, true);
    observed(&mut m, 100, promoted(false, 100, 80, 100));
    observed(&mut m, 350, promoted(false, 100, 80, 100));
    assert_eq!(m.phase(), Phase::WritingOffsets);
    done(&mut m, 400, Action::WriteOffsets, true);
    let mut written = promoted(false, 100, 100, 100);
    written.verdicts = [(tp(0), Verdict::Safe)].into();
    assert_eq!(
        observed(&mut m, 450, written),
        [Effect::Run(Action::RestartHook)]
    );
    done(&mut m, 500, Action::RestartHook, true);
    // Still in the filters: harmless, the link syncs no promoted topic.
    let e = observed(&mut m, 600, promoted(false, 100, 105, 100));
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
fn a_promoted_topic_written_on_the_origin_during_the_cutover_rolls_back() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, promoted(true, 90, 80, 100));
    done(&mut m, 100, Action::StopHook, true);
    observed(&mut m, 100, promoted(false, 100, 80, 100));
    let e = observed(&mut m, 350, promoted(false, 100, 80, 103));
    assert_eq!(m.phase(), Phase::RollingBack, "{e:?}");
    assert!(
        m.state
            .rollback
            .as_ref()
            .is_some_and(|r| r.reason.contains("origin of a promoted topic was written")),
        "{:?}",
        m.state.rollback
    );
}

#[test]
fn a_mirror_promoted_during_the_cutover_rolls_back() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    let e = observed(&mut m, 100, promoted(true, 90, 80, 100));
    assert_eq!(e, [Effect::Run(Action::Unexclude)], "{e:?}");
    assert!(m
        .state
        .rollback
        .as_ref()
        .is_some_and(|r| r.reason.contains("was promoted during the cutover")));
}

/// The group at 90 on the origin; the origin's end `h`, the mirror's end `m`.
fn lagging(h: i64, m: i64) -> Observation {
    Observation {
        origin_end: [(tp(0), Offset(h))].into(),
        ..obs(true, 90, Some(80), m, false)
    }
}

#[test]
fn a_lagging_mirror_is_measured_at_the_plan_and_one_that_drains_in_time_goes_on() {
    let (mut m, _) = Machine::start(0, settings());
    // 1000 behind: look again after two seconds to see how fast it copies.
    assert_eq!(
        observed(&mut m, 0, lagging(1100, 100)),
        [Effect::Observe { at_ms: 2000 }]
    );
    assert_eq!(m.phase(), Phase::Plan);
    // 500 copied in 2 s: the 600 left take about 2.4 s, well within the 60 s mirror timeout.
    assert_eq!(
        observed(&mut m, 2000, lagging(1200, 600)),
        [Effect::Run(Action::StopHook)]
    );
}

#[test]
fn a_mirror_that_cannot_drain_within_the_mirror_timeout_is_refused_up_front() {
    for (copied_to, needle) in [
        (100, "nothing copied in 2000 ms"),
        (110, "about 198 s to catch up"),
    ] {
        let (mut m, _) = Machine::start(0, settings());
        observed(&mut m, 0, lagging(1100, 100));
        match &observed(&mut m, 2000, lagging(1100, copied_to))[..] {
            [Effect::Finish {
                outcome: Outcome::Refused,
                reason,
            }] => assert!(
                reason.contains("cannot catch up within mirror-timeout (60 s)")
                    && reason.contains(needle)
                    && reason.contains("nothing was changed"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(m.state.timings.stop_begun_ms, None, "never stopped");
    }
}

#[test]
fn agent_mode_rolls_back_a_re_inclusion_seen_before_the_restart() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, running(90, 80, Some(true)));
    observed(&mut m, 31_100, running(150, 80, Some(true)));
    done(&mut m, 32_000, Action::StopHook, true);
    // Someone puts the group back in the link's filters while it is stopped.
    let e = observed(
        &mut m,
        32_250,
        Observation {
            excluded: Some(false),
            ..obs(false, 160, Some(80), 200, false)
        },
    );
    assert_eq!(m.phase(), Phase::RollingBack, "{e:?}");
    assert_eq!(e, [Effect::Run(Action::Unexclude)]);
    assert!(m
        .state
        .rollback
        .as_ref()
        .is_some_and(|r| r.reason.contains("include the group again")));
}

/// [`running`], with a witness group whose destination offsets sum to `w`.
fn witnessed(c: i64, d: i64, w: i64) -> Observation {
    Observation {
        sync_witnesses: [("other".to_string(), w)].into(),
        ..running(c, d, Some(true))
    }
}

#[test]
fn a_sync_tick_seen_on_another_group_ends_the_proof_without_waiting_a_full_interval() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 80, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, witnessed(90, 80, 500));
    // The witness moves at 5 s: a tick passed, and our group (90 on the origin, 80 on the
    // destination) was not copied. The destination must still hold 2 s later.
    assert_eq!(
        observed(&mut m, 5_000, witnessed(95, 80, 520)),
        [Effect::Observe { at_ms: 6_000 }]
    );
    observed(&mut m, 6_000, witnessed(97, 80, 520));
    let e = observed(&mut m, 7_000, witnessed(99, 80, 520));
    assert_eq!(
        e,
        [Effect::Run(Action::StopHook)],
        "proven at 7 s, not 31 s"
    );
    let proof = m.exclusion_proof().unwrap_or_default();
    assert!(
        proof.starts_with("observed: a sync tick (seen on group other"),
        "{proof}"
    );
}

#[test]
fn a_tick_seen_while_the_group_had_nothing_to_copy_proves_nothing() {
    let (mut m, _) = Machine::start(0, agent());
    observed(&mut m, 0, running(90, 90, Some(false)));
    done(&mut m, 100, Action::Exclude, true);
    observed(&mut m, 100, witnessed(90, 90, 500));
    // The witness moves, but an including link would have written 90 over 90: no evidence.
    observed(&mut m, 5_000, witnessed(90, 90, 520));
    observed(&mut m, 8_000, witnessed(95, 90, 520));
    assert_eq!(m.phase(), Phase::ProvingExclusion);
    // The full interval decides.
    let e = observed(&mut m, 31_100, witnessed(99, 90, 540));
    assert_eq!(e, [Effect::Run(Action::StopHook)]);
    let proof = m.exclusion_proof().unwrap_or_default();
    assert!(proof.contains("full 30000 ms sync interval"), "{proof}");
}

#[test]
fn a_group_already_moved_is_refused_and_its_offsets_are_never_written_back() {
    let (mut m, _) = Machine::start(0, agent());
    let mut moved = running(90, 120, Some(true));
    moved.origin_active = false;
    moved.verdicts = [(tp(0), Verdict::Moved)].into();
    match &observed(&mut m, 0, moved)[..] {
        [Effect::Finish {
            outcome: Outcome::Refused,
            reason,
        }] => assert!(reason.contains("already moved"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
