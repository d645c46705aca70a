//! The stages other than `groups`, each run by the same code as its command (`watch`,
//! `audit`, `promote`) or through the hooks (`hook`), with its success criterion; and the
//! plan of a dry run.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{groups, planned, Action, HookCheck, HookStage, RunEnv, Runbook};
use crate::error::{Error, Result};
use crate::hooks::HookContext;
use crate::kafka::{Cluster, OffsetSpec};
use crate::lag::TopicLag;
use crate::model::{GroupId, Offset, TopicPartition};
use crate::promote::{PromoteEnv, PromoteSpec};
use crate::report::promote::PromoteOutcome;
use crate::report::runbook::{LagMark, RunbookReport, StageDetail, TopicRow};
use crate::rule::GroupStatus;
use crate::watch::{self, WatchEnv, WatchSpec};

/// Runs one stage: (its criterion met, what it found).
pub(super) async fn run_stage(
    env: &RunEnv<'_>,
    book: &Runbook,
    index: usize,
    run_id: &str,
    resumed: bool,
) -> Result<(bool, StageDetail)> {
    let stage = &book.stages[index];
    let agent_moves_groups = agent_moves_later(env, book, index);
    match &stage.action {
        // A watch stage under way when the run was interrupted may have left mirrors paused:
        // resumed, it resumes them first (see `watch`).
        Action::Watch(spec) => {
            let spec = WatchSpec {
                resume: resumed,
                ..spec.clone()
            };
            watch_stage(env, &spec).await
        }
        Action::Groups(g) => groups::run(env, book, &stage.name, g, run_id).await,
        Action::Hook(h) => hook_stage(env, h, run_id, resumed).await,
        Action::Audit { window, stay } => audit_stage(env, *window, agent_moves_groups, stay).await,
        Action::Promote(spec) => {
            let spec = PromoteSpec {
                agent_moves_groups,
                ..spec.clone()
            };
            promote_stage(env, &stage.name, &spec).await
        }
    }
}

/// Whether the groups still on the origin after stage `index` will be moved by cutover
/// writing their final offsets itself: the configuration says so, or a later groups stage.
fn agent_moves_later(env: &RunEnv<'_>, book: &Runbook, index: usize) -> bool {
    use crate::model::FinalOffsets;
    env.options.cutover.final_offsets == FinalOffsets::Agent
        || book.stages[index..].iter().any(|s| {
            matches!(&s.action, Action::Groups(g) if g.final_offsets == Some(FinalOffsets::Agent))
        })
}

async fn watch_stage(env: &RunEnv<'_>, spec: &WatchSpec) -> Result<(bool, StageDetail)> {
    let started = env.estate.clock.now_ms();
    let quiet = |_: &crate::report::watch::WatchLine| {};
    let report = watch::watch(
        &WatchEnv {
            estate: env.estate,
            lines: &quiet,
        },
        spec,
    )
    .await?;
    let mut summary = if report.drained {
        format!(
            "{} mirror(s) drained to lag ≤ {} in {:.0} s",
            report.topics.len(),
            report.until_lag,
            report.elapsed_ms as f64 / 1000.0
        )
    } else {
        format!(
            "NOT drained ({}): lag {}",
            report.ended,
            lag_text(&report.topics)
        )
    };
    for f in &report.findings {
        summary.push_str(&format!("; {}: {}", f.kind, f.detail));
    }
    Ok((
        report.drained,
        StageDetail {
            summary,
            lag: report
                .timeline
                .iter()
                .map(|p| LagMark {
                    at_ms: started + p.elapsed_ms,
                    lag: p.lag,
                })
                .collect(),
            report: serde_json::to_value(&report).unwrap_or_default(),
            ..StageDetail::default()
        },
    ))
}

fn lag_text(topics: &[TopicLag]) -> String {
    topics
        .iter()
        .filter(|t| t.lag != Some(0))
        .map(|t| {
            format!(
                "{} {}",
                t.mirror_topic,
                t.lag.map_or_else(|| "unknown".into(), |l| l.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn audit_stage(
    env: &RunEnv<'_>,
    window: Duration,
    agent_moves_groups: bool,
    stay: &[GroupId],
) -> Result<(bool, StageDetail)> {
    let staying = crate::audit::Staying {
        groups: stay.iter().cloned().collect(),
        reverse: if stay.is_empty() {
            crate::promotion::ReversePath::NotConfigured
        } else {
            crate::reverse::Reverse::path(env.reverse).await
        },
    };
    let report = crate::audit::audit(
        env.estate.origin,
        env.estate.destination,
        env.estate.link,
        window,
        agent_moves_groups,
        &staying,
    )
    .await?;
    let summary = if report.promotion_safe {
        "promotion safe: every mirror drained, the origin still, every group moved or safe".into()
    } else {
        format!(
            "promotion NOT safe: {}",
            report
                .findings
                .iter()
                .map(|f| f.detail.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Ok((
        report.promotion_safe,
        StageDetail {
            summary,
            report: serde_json::to_value(&report).unwrap_or_default(),
            ..StageDetail::default()
        },
    ))
}

async fn promote_stage(
    env: &RunEnv<'_>,
    stage: &str,
    spec: &PromoteSpec,
) -> Result<(bool, StageDetail)> {
    let penv = PromoteEnv {
        estate: env.estate,
        hooks: env.hooks,
        command: env.command.clone(),
    };
    let report = crate::promote::promote(&penv, spec).await?;
    let ok = matches!(
        report.outcome,
        PromoteOutcome::Promoted | PromoteOutcome::NothingToDo
    );
    let mut topics: Vec<TopicRow> = report
        .already_promoted
        .iter()
        .map(|t| TopicRow {
            topic: t.clone(),
            stage: stage.to_string(),
            state: "STOPPED".into(),
            writable: true,
        })
        .collect();
    topics.extend(report.topics.iter().map(|t| TopicRow {
        topic: t.mirror_topic.clone(),
        stage: stage.to_string(),
        state: t.state.clone(),
        writable: t.writable,
    }));
    let summary = match report.outcome {
        PromoteOutcome::Promoted | PromoteOutcome::NothingToDo => format!(
            "{} topic(s) promoted: {}",
            topics.len(),
            topics
                .iter()
                .map(|t| t.topic.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PromoteOutcome::Refused => format!(
            "the promotion gate refused: {}",
            report
                .findings
                .iter()
                .map(|f| f.detail.clone())
                .chain(
                    report
                        .open_transactions
                        .iter()
                        .map(|t| format!("{}-{}: {}", t.topic, t.partition, t.detail))
                )
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => "the promotion failed: see its report".into(),
    };
    Ok((
        ok,
        StageDetail {
            summary,
            topics,
            report: serde_json::to_value(&report).unwrap_or_default(),
            ..StageDetail::default()
        },
    ))
}

/// Runs the hook, then checks its effect. On a resume, a check that already holds means the
/// hook did its work before the interruption: it is not run again.
async fn hook_stage(
    env: &RunEnv<'_>,
    h: &HookStage,
    run_id: &str,
    resumed: bool,
) -> Result<(bool, StageDetail)> {
    if let (true, Some(check)) = (resumed, h.check) {
        if let Ok(seen) = holds(env, h, check, None).await {
            return Ok((
                true,
                StageDetail {
                    summary: format!(
                        "{} already held ({seen}): the hook, begun before the interruption, was not run again",
                        check.as_str()
                    ),
                    ..StageDetail::default()
                },
            ));
        }
    }
    let before = match h.check {
        Some(HookCheck::DestinationWritten) => {
            Some(ends(env.estate.destination, &h.topics, OffsetSpec::Latest).await?)
        }
        _ => None,
    };
    let ctx = HookContext {
        group: GroupId::new(""),
        topics: h.topics.clone(),
        run_id: run_id.to_string(),
        link: env.estate.link.name().to_string(),
        restart_topics: Vec::new(),
        restart_on: crate::model::Role::Destination,
    };
    let report = env.hooks.run_stage(&h.hook, &ctx).await;
    let detail = |summary: String| StageDetail {
        summary,
        report: serde_json::to_value(&report).unwrap_or_default(),
        ..StageDetail::default()
    };
    if !report.ok {
        return Ok((
            false,
            detail(format!(
                "the hook failed: {}",
                report.error.as_deref().unwrap_or("no reason given")
            )),
        ));
    }
    let Some(check) = h.check else {
        return Ok((
            true,
            detail(format!("the hook ran: {}", report.description)),
        ));
    };
    match holds(env, h, check, before).await {
        Ok(seen) => Ok((
            true,
            detail(format!("the hook ran; {}: {seen}", check.as_str())),
        )),
        Err(why) => Ok((false, detail(format!("the hook ran, but {why}")))),
    }
}

/// Waits (up to the stage's check-timeout) for the check to hold; what was seen, or why not.
async fn holds(
    env: &RunEnv<'_>,
    h: &HookStage,
    check: HookCheck,
    before: Option<BTreeMap<TopicPartition, Offset>>,
) -> std::result::Result<String, String> {
    let deadline = tokio::time::Instant::now() + h.check_timeout;
    let cluster = match check {
        HookCheck::OriginStill => env.estate.origin,
        HookCheck::DestinationWritten => env.estate.destination,
    };
    let read = || async {
        ends(cluster, &h.topics, OffsetSpec::Latest)
            .await
            .map_err(|e| e.to_string())
    };
    let mut first = match before {
        Some(b) => b,
        None => read().await?,
    };
    loop {
        tokio::time::sleep(match check {
            HookCheck::OriginStill => h.window,
            HookCheck::DestinationWritten => env.estate.poll,
        })
        .await;
        let now = read().await?;
        let moved: Vec<String> = now
            .iter()
            .filter(|(tp, o)| first.get(*tp) != Some(*o))
            .map(|(tp, o)| {
                format!(
                    "{tp} {}→{}",
                    first.get(tp).map_or_else(|| "?".into(), |f| f.to_string()),
                    o
                )
            })
            .collect();
        match check {
            HookCheck::OriginStill if moved.is_empty() => {
                return Ok(format!(
                    "the origin's ends of {} did not move for {}",
                    h.topics.join(", "),
                    crate::duration::format(h.window)
                ))
            }
            HookCheck::DestinationWritten if !moved.is_empty() => {
                let shown: Vec<&str> = moved.iter().take(3).map(String::as_str).collect();
                return Ok(format!(
                    "the destination received writes on {} partition(s): {}{}",
                    moved.len(),
                    shown.join(", "),
                    if moved.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(match check {
                HookCheck::OriginStill => format!(
                    "the origin is still written after {} ({} partition(s) moved in the last {}: {})",
                    crate::duration::format(h.check_timeout),
                    moved.len(),
                    crate::duration::format(h.window),
                    moved.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                ),
                HookCheck::DestinationWritten => format!(
                    "the destination's {} received no write within {}",
                    h.topics.join(", "),
                    crate::duration::format(h.check_timeout)
                ),
            });
        }
        if check == HookCheck::OriginStill {
            first = now;
        }
    }
}

/// The ends of every partition of `topics` on one cluster.
async fn ends(
    cluster: &dyn Cluster,
    topics: &[String],
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, Offset>> {
    let metadata = cluster.topics().await?;
    let mut tps = Vec::new();
    for t in topics {
        let m = metadata.get(t).ok_or_else(|| Error::State {
            message: format!("topic {t} does not exist on the {} cluster", cluster.role()),
            hint: "name the topics of the hook stage as the clusters know them".into(),
        })?;
        tps.extend((0..m.partition_count() as i32).map(|p| TopicPartition::new(t.as_str(), p)));
    }
    let read = cluster.list_offsets(&tps, spec).await?;
    Ok(read
        .into_iter()
        .filter_map(|(tp, r)| r.ok().map(|o| (tp, o)))
        .collect())
}

/// A dry run: each stage described, with what a read-only look finds now.
pub(super) async fn plan(env: &RunEnv<'_>, book: &Runbook) -> Result<RunbookReport> {
    crate::kafka::probe_both(env.estate.origin, env.estate.destination).await?;
    let mut summaries = Vec::new();
    for stage in &book.stages {
        summaries.push(match &stage.action {
            Action::Watch(spec) => {
                let quiet = |_: &crate::report::watch::WatchLine| {};
                let wenv = WatchEnv {
                    estate: env.estate,
                    lines: &quiet,
                };
                let lag = watch::lag_now(&wenv, &spec.topics).await?;
                format!(
                    "wait until lag ≤ {} on {}; lag now: {}",
                    spec.until_lag,
                    if spec.topics.is_empty() {
                        "every mirror".to_string()
                    } else {
                        spec.topics.join(", ")
                    },
                    if lag_text(&lag).is_empty() {
                        "0".into()
                    } else {
                        lag_text(&lag)
                    }
                )
            }
            Action::Groups(g) if g.to == crate::model::Role::Origin => format!(
                "move {} back to the origin, onto the reverse link's mirrors there ({} at a time), as `cutover group --to origin`; judged when the stage runs, once those mirrors exist",
                if g.groups.is_empty() {
                    format!("the groups matching {}", g.pattern.as_deref().unwrap_or(""))
                } else {
                    g.groups.iter().map(GroupId::as_str).collect::<Vec<_>>().join(", ")
                },
                g.concurrency
            ),
            Action::Groups(g) => {
                let names = groups::resolve(env, g).await?;
                let look = groups::look(env, &names).await?;
                let count = |s: GroupStatus| look.groups.iter().filter(|g| g.status == s).count();
                format!(
                    "cut over {} group(s), {} at a time: {}; now {} safe, {} moved (left alone), {} not safe yet",
                    names.len(),
                    g.concurrency,
                    names
                        .iter()
                        .map(GroupId::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    count(GroupStatus::Safe),
                    count(GroupStatus::Moved),
                    count(GroupStatus::NotSafe)
                )
            }
            Action::Hook(h) => {
                let ctx = HookContext {
                    group: GroupId::new(""),
                    topics: h.topics.clone(),
                    run_id: "<run id>".into(),
                    link: env.estate.link.name().to_string(),
                    restart_topics: Vec::new(),
                    restart_on: crate::model::Role::Destination,
                };
                format!(
                    "run {}{}",
                    env.hooks.describe_stage(&h.hook, &ctx),
                    h.check.map_or_else(String::new, |c| format!(
                        ", then check {} on {}",
                        c.as_str(),
                        h.topics.join(", ")
                    ))
                )
            }
            Action::Audit { window, stay } => format!(
                "audit the link (origin watched for {}){}; it must find promotion safe",
                crate::duration::format(*window),
                if stay.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} judged by the way back to the origin",
                        stay.iter().map(GroupId::as_str).collect::<Vec<_>>().join(", ")
                    )
                }
            ),
            Action::Promote(spec) => format!(
                "promote {} once the gate passes (origin watched for {})",
                if spec.all {
                    "every mirror".to_string()
                } else {
                    spec.topics.join(", ")
                },
                crate::duration::format(spec.window)
            ),
        });
    }
    Ok(planned(book, summaries))
}
