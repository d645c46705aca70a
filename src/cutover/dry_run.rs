//! `cutover group --dry-run`: observes the group once and describes what the cutover would do
//! (every step with its hook and its check, for the mode configured) and whether the machine's
//! own plan check would refuse it now. Changes nothing, journals nothing.

use crate::cutover::machine::{Effect, Input, Machine, Phase};
use crate::error::Result;
use crate::hooks::HookKind;
use crate::link::filter_edit::GROUP_FILTERS;
use crate::model::{FinalOffsets, GroupId};
use crate::report::{Plan, PlanStep};

use super::driver::{hook_context, preflight, settings, sync_interval, Env};
use super::observe::{judgement_of, mirror_names, observe, restart_topics, topics_of};

/// `--dry-run`: observes once and describes what would happen; changes nothing.
pub async fn plan(env: &Env<'_>, group: &GroupId) -> Result<Plan> {
    crate::kafka::probe_both(env.origin, env.destination).await?;
    let (sync_ms, source) = sync_interval(env.link, env.options).await;
    let settings = settings(env.options, sync_ms);
    let (observation, report) = observe(env, group).await?;
    let topics: Vec<String> = topics_of(&observation);
    let mirror_of = mirror_names(judgement_of(&report, group)?);
    let mut ctx = hook_context(group, topics.clone(), "dry-run", env.link.name());
    ctx.restart_topics = restart_topics(&topics, &mirror_of);
    ctx.restart_on = env.options.restart_on;
    let describe = |kind: HookKind| {
        env.hooks.describe(kind, &ctx).unwrap_or_else(|| {
            format!(
                "no {} hook configured: set [hooks.{}]",
                kind.as_str(),
                kind.as_str()
            )
        })
    };
    let exclude = if env.hooks.exclude_is_builtin(group) {
        format!(
            "read-modify-write of the link's {GROUP_FILTERS}: add a LITERAL EXCLUDE for {group}, read it back"
        )
    } else {
        describe(HookKind::Exclude)
    };
    let s = &settings;
    // Where the group runs before and after, in the plan's words: on the way back both are
    // the origin, told apart by the topics (`cutover group --to origin`).
    let (from, to) = match env.options.restart_on {
        crate::model::Role::Destination => ("the origin", "the destination"),
        crate::model::Role::Origin => (
            "its topics on the origin",
            "the reverse link's mirror topics on the origin",
        ),
    };
    let stop = PlanStep {
        phase: Phase::Stopping,
        action: describe(HookKind::Stop),
        check: format!(
            "no members on {from} and committed offsets unchanged across {} reads, within {} ms; snapshot them",
            s.stable_reads, s.stop_timeout_ms
        ),
    };
    let mirror = PlanStep {
        phase: Phase::AwaitingMirror,
        action: "wait".into(),
        check: format!(
            "mirror end ≥ snapshot on every partition, within {} ms",
            s.mirror_timeout_ms
        ),
    };
    let restart = PlanStep {
        phase: Phase::Restarting,
        action: describe(HookKind::Restart),
        check: format!(
            "every partition SAFE before; then active on {to} within {} ms, committed never below the snapshot, until it advances or {} ms pass",
            s.restart_timeout_ms, s.restart_window_ms
        ),
    };
    let rollback = PlanStep {
        phase: Phase::RollingBack,
        action: describe(HookKind::Rollback),
        check: format!("on a failure before the restart: undo the exclusion, start the group on {from} if it was stopped, see it active there"),
    };
    let steps = match s.final_offsets {
        FinalOffsets::Agent => {
            let all_promoted = !observation.origin_committed.is_empty()
                && observation
                    .origin_committed
                    .keys()
                    .all(|tp| observation.promoted_topics.contains(tp.topic.as_str()));
            let exclusion = if all_promoted {
                PlanStep {
                    phase: Phase::Excluding,
                    action: "none: every topic of the group is promoted; the link syncs no offsets to them".into(),
                    check: "nothing writes the promoted topics on the origin until the restart".into(),
                }
            } else if observation.excluded == Some(true) {
                PlanStep {
                    phase: Phase::Excluding,
                    action: "none: the link's offset sync does not include the group".into(),
                    check: "the filters, read back, keep excluding it".into(),
                }
            } else {
                PlanStep {
                    phase: Phase::Excluding,
                    action: exclude,
                    check: format!(
                        "while the group still runs on the origin: a full sync interval ({} ms) passes with its destination offsets unchanged while it commits on the origin (an idle group: the filters read back and the interval), within {} × {} ms",
                        s.sync_interval_ms, s.sync_timeout_factor, s.sync_interval_ms
                    ),
                }
            };
            vec![
                exclusion,
                stop,
                mirror,
                PlanStep {
                    phase: Phase::WritingOffsets,
                    action: format!("commit the snapshot to the group on {to} (AlterConsumerGroupOffsets, one request)"),
                    check: format!("read back: committed on {to} = snapshot and every partition SAFE"),
                },
                restart,
                rollback,
            ]
        }
        FinalOffsets::Link => vec![
            stop,
            PlanStep {
                phase: Phase::AwaitingSync,
                action: "wait".into(),
                check: format!(
                    "committed on {to} = snapshot on every partition, within {} × {} ms",
                    s.sync_timeout_factor, s.sync_interval_ms
                ),
            },
            mirror,
            PlanStep {
                phase: Phase::Excluding,
                action: exclude,
                check: format!(
                    "the filters, read back, exclude the group and the destination holds the snapshot (unreadable filters: the offsets hold still for one sync tick, {} ms)",
                    s.sync_interval_ms
                ),
            },
            restart,
            rollback,
        ],
    };
    // The machine's own plan check, on a throwaway copy.
    let (mut m, _) = Machine::start(env.clock.now_ms(), settings.clone());
    let refusal = match preflight(env, group) {
        Err(e) => Some(e.to_string()),
        Ok(()) => m
            .step(Input::Observed {
                now: env.clock.now_ms(),
                observation,
            })
            .into_iter()
            .find_map(|e| match e {
                Effect::Finish { reason, .. } => Some(reason),
                _ => None,
            }),
    };
    Ok(Plan {
        schema_version: 1,
        group: group.clone(),
        steps,
        sync_interval_ms: sync_ms,
        sync_interval_source: source,
        settings,
        verify: report,
        refusal,
        offsets_by_time: None,
    })
}
