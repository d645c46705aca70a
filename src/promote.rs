//! `cutover promote`: promote mirror topics once it is safe, and prove they became ordinary
//! topics. The I/O shell around `promotion.rs`.
//!
//! The gate reads what `cutover audit` reads (every mirror's ends at both edges of a window,
//! every group's offsets) plus each origin partition's last stable offset, and passes only
//! when, for the topics named: every partition's measured lag is zero, the origin's ends did
//! not move over the window, no producer the origin's brokers know wrote during it (read with
//! DescribeProducers at both edges of the window, which names it by producer id; a producer
//! without idempotence has none, and shows only by topic and partition in the moving ends), no
//! transaction is open (last stable offset = high watermark), and no group with offsets on them
//! is at risk.
//!
//! Then, journaled (`<journal-dir>/promote/<link>.jsonl`, intent before the call, outcome
//! after it): one batched `mirrors:promote` call for every topic, a poll until each mirror
//! is `STOPPED`, and a check that each is an ordinary topic on the destination (every
//! partition led). No record is written to prove it writable: consumers would read it.
//! Topics already `STOPPED` are reported and left alone, so running the same promotion again
//! after an interruption finishes it without repeating what was done.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::audit;
use crate::error::{Error, Result};
use crate::estate::Estate;
use crate::hooks::{HookContext, HookKind, Hooks};
use crate::journal::{self, Journal, Record, Subject};
use crate::kafka::{Cluster, OffsetSpec};
use crate::link::MirrorAction;
use crate::model::GroupId;
use crate::model::{MirrorState, Timings, TopicPartition};
use crate::progress::Progress;
use crate::promotion::{
    self, AuditFinding, AuditFindingKind, ProducerReading, PromotionObservation, StableObservation,
    Writer,
};
use crate::report::promote::{PromoteOutcome, PromoteReport, PromotedTopic};
use crate::report::SCHEMA_VERSION;
use crate::verify::Mirrors;

/// What to promote, and how carefully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteSpec {
    /// Mirror or source topic names; empty with `all`.
    pub topics: Vec<String>,
    pub all: bool,
    /// How long the origin's ends must stay still.
    pub window: Duration,
    pub dry_run: bool,
    /// How long the mirrors get to reach `STOPPED`.
    pub timeout: Duration,
    /// Cutover writes moved groups' final offsets itself: a group still on the origin can
    /// follow after promotion (see `promotion::GroupClass::MovesAfterPromotion`).
    pub agent_moves_groups: bool,
}

/// What a promotion runs against.
pub struct PromoteEnv<'a> {
    pub estate: Estate<'a>,
    /// A configured `[hooks.promote]` promotes instead of the link's REST API.
    pub hooks: &'a dyn Hooks,
    /// The command line, as the journal records it.
    pub command: Vec<String>,
}

/// Runs the gate, and unless it refuses or this is a dry run, the promotion.
pub async fn promote(env: &PromoteEnv<'_>, spec: &PromoteSpec) -> Result<PromoteReport> {
    if !env.estate.link.reports_status() {
        return Err(Error::State {
            message: format!(
                "promotion needs the link's REST API: link {} is read through Kafka only",
                env.estate.link.name()
            ),
            hint: "set [link] rest-url (and its credentials) so cutover can promote and see each mirror reach STOPPED".into(),
        });
    }
    let started = env.estate.clock.now_ms();
    let all = Mirrors::read(env.estate.link).await?;
    let named = if spec.all {
        all.select(&[], "")?
    } else {
        all.select(&spec.topics, "")?
    };
    let state = |t: &String| {
        all.by_source
            .values()
            .find(|m| &m.mirror_topic == t)
            .map(|m| m.state.clone())
    };
    let (done, rest): (BTreeSet<String>, BTreeSet<String>) = named
        .into_iter()
        .partition(|t| state(t) == Some(MirrorState::Stopped));
    // Asked earlier (an interrupted promotion): waited for and confirmed, not asked again.
    let (under_way, todo): (BTreeSet<String>, BTreeSet<String>) = rest
        .into_iter()
        .partition(|t| state(t) == Some(MirrorState::PendingStopped));
    let mut report = PromoteReport {
        schema_version: SCHEMA_VERSION,
        link: env.estate.link.name().to_string(),
        outcome: PromoteOutcome::NothingToDo,
        dry_run: spec.dry_run,
        window_ms: spec.window.as_millis() as u64,
        gate_passed: false,
        findings: Vec::new(),
        open_transactions: Vec::new(),
        origin_moving: Vec::new(),
        writers: Vec::new(),
        writers_untold: Vec::new(),
        mirrors: Vec::new(),
        groups: Vec::new(),
        already_promoted: done.into_iter().collect(),
        via: env
            .hooks
            .describe(
                HookKind::Promote,
                &promote_context(env, &todo.iter().cloned().collect::<Vec<_>>(), "<run id>"),
            )
            .map_or_else(|| VIA_REST.to_string(), |hook| format!("hook: {hook}")),
        topics: Vec::new(),
        journal: None,
        elapsed_ms: 0,
    };
    if todo.is_empty() && under_way.is_empty() {
        report.gate_passed = true;
        return Ok(report);
    }
    if todo.is_empty() {
        report.gate_passed = true;
    } else {
        gate(env, spec, &all, &todo, &mut report).await?;
    }
    report.outcome = match (report.gate_passed, spec.dry_run) {
        (false, _) => PromoteOutcome::Refused,
        (true, true) => PromoteOutcome::WouldPromote,
        (true, false) => act(env, spec, &todo, &under_way, &mut report).await?,
    };
    report.elapsed_ms = env.estate.clock.now_ms() - started;
    Ok(report)
}

/// Reads and judges: fills the report's gate and `gate_passed`.
async fn gate(
    env: &PromoteEnv<'_>,
    spec: &PromoteSpec,
    all: &Mirrors,
    todo: &BTreeSet<String>,
    report: &mut PromoteReport,
) -> Result<()> {
    // The origin partitions of the topics to promote, whose producers are read at both edges
    // of the window.
    let origin_partitions: Vec<TopicPartition> = all
        .by_source
        .values()
        .filter(|m| todo.contains(&m.mirror_topic))
        .flat_map(|m| {
            (0..m.partitions).map(move |p| TopicPartition::new(m.source_topic.as_str(), p))
        })
        .collect();
    let producers_before = producers(env.estate.origin, &origin_partitions).await;
    let progress = Progress::start(
        env.estate.progress,
        &format!(
            "promotion gate: watching the origin's log ends for {}",
            crate::duration::format(spec.window)
        ),
    );
    let observed = audit::observe(
        env.estate.origin,
        env.estate.destination,
        env.estate.link,
        spec.window,
    )
    .await;
    let producers_after = producers(env.estate.origin, &origin_partitions).await;
    progress.finish();
    let o = observed?;
    let selected = o.mirrors_only(todo);
    let sources: BTreeSet<&str> = selected.iter().map(|m| m.source_topic.as_str()).collect();
    // The groups with an offset on one of these topics (judged against every mirror).
    let groups: Vec<_> = o
        .judged
        .iter()
        .filter(|g| {
            g.partitions
                .iter()
                .any(|p| sources.contains(p.topic.as_str()))
        })
        .cloned()
        .collect();
    let judgement = promotion::judge(&PromotionObservation {
        link: env.estate.link.name(),
        reports_status: true,
        window_ms: report.window_ms,
        mirrors: selected.clone(),
        groups: &groups,
        agent_moves_groups: spec.agent_moves_groups,
        staying: &std::collections::BTreeSet::new(),
        reverse: &crate::promotion::ReversePath::NotConfigured,
    });
    let tps: Vec<TopicPartition> = selected
        .iter()
        .flat_map(|m| {
            (0..m.partitions.len() as i32).map(|p| TopicPartition::new(m.source_topic.as_str(), p))
        })
        .collect();
    let (ends, stable) = tokio::try_join!(
        env.estate.origin.list_offsets(&tps, OffsetSpec::Latest),
        env.estate.origin.list_offsets(&tps, OffsetSpec::LastStable),
    )?;
    let open = promotion::open_transactions(
        &tps.iter()
            .map(|tp| StableObservation {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                end: audit::read(ends.get(tp)),
                last_stable: audit::read(stable.get(tp)),
            })
            .collect::<Vec<_>>(),
    );
    let seen = promotion::writers(&producers_before, &producers_after);
    report.gate_passed = judgement.safe && open.is_empty() && seen.writers.is_empty();
    report.findings = judgement.findings;
    if !seen.writers.is_empty() {
        report.findings.push(writers_finding(&seen.writers));
    }
    report.writers = seen.writers;
    report.writers_untold = seen.untold;
    report.open_transactions = open;
    report.origin_moving = judgement.origin_moving;
    report.mirrors = judgement.mirrors;
    report.groups = judgement.groups;
    Ok(())
}

/// One reading of the producers of `partitions` on the origin; a request that fails as a
/// whole leaves every partition untold, with why.
async fn producers(origin: &dyn Cluster, partitions: &[TopicPartition]) -> ProducerReading {
    match origin.describe_producers(partitions).await {
        Ok(read) => read
            .into_iter()
            .map(|(tp, r)| (tp, r.map_err(|e| e.to_string())))
            .collect(),
        Err(e) => partitions
            .iter()
            .map(|tp| (tp.clone(), Err(e.to_string())))
            .collect(),
    }
}

/// The finding that names the producers the brokers saw writing or holding a transaction open
/// (the first five partitions' entries).
fn writers_finding(writers: &[Writer]) -> AuditFinding {
    const SHOWN: usize = 5;
    let mut named: Vec<String> = writers.iter().take(SHOWN).map(Writer::describe).collect();
    if writers.len() > SHOWN {
        named.push(format!("and {} more", writers.len() - SHOWN));
    }
    let producers: BTreeSet<i64> = writers.iter().map(|w| w.producer_id).collect();
    AuditFinding {
        kind: AuditFindingKind::OriginStillWritten,
        detail: format!(
            "the origin's brokers name {} producer(s) on {} partition(s): {}: stop them before promoting",
            producers.len(),
            writers.len(),
            named.join("; ")
        ),
    }
}

/// Promotes `todo` in one call, journaled, and waits for every mirror to stop.
async fn act(
    env: &PromoteEnv<'_>,
    spec: &PromoteSpec,
    todo: &BTreeSet<String>,
    under_way: &BTreeSet<String>,
    report: &mut PromoteReport,
) -> Result<PromoteOutcome> {
    let topics: Vec<String> = todo.iter().cloned().collect();
    let under_way: Vec<String> = under_way.iter().cloned().collect();
    let subject = Subject::Promote {
        link: env.estate.link.name().to_string(),
    };
    let run_id = format!("promote-{}", env.estate.clock.now_ms());
    let (mut journal, _) = Journal::open_subject(env.estate.journal_dir, &subject, &run_id)?;
    report.journal = Some(journal.path().display().to_string());
    journal::set_active_at(journal.path(), &subject, &run_id, Some("promoting"));
    let result = promote_and_wait(env, spec, &mut journal, &topics, &under_way, report).await;
    journal::set_active_at(journal.path(), &subject, &run_id, None);
    let outcome = result?;
    journal.append(
        Record::Finished {
            outcome: if outcome == PromoteOutcome::Promoted {
                "done".into()
            } else {
                "failed".into()
            },
            reason: (outcome != PromoteOutcome::Promoted).then(|| {
                report
                    .topics
                    .iter()
                    .filter(|t| !t.writable)
                    .map(|t| {
                        format!(
                            "{}: {}",
                            t.mirror_topic,
                            t.error.as_deref().unwrap_or(&t.state)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            timings: Timings::default(),
        },
        env.estate.clock.now_ms(),
    )?;
    Ok(outcome)
}

async fn promote_and_wait(
    env: &PromoteEnv<'_>,
    spec: &PromoteSpec,
    journal: &mut Journal,
    topics: &[String],
    under_way: &[String],
    report: &mut PromoteReport,
) -> Result<PromoteOutcome> {
    journal.append(
        Record::Started {
            command: env.command.clone(),
            agent: crate::version::agent(),
            resumed: false,
            settings: json!({ "topics": topics, "under_way": under_way, "window_ms": report.window_ms }),
        },
        env.estate.clock.now_ms(),
    )?;
    if !under_way.is_empty() {
        journal.append(
            Record::Note {
                message: format!(
                    "promotion of {} was asked earlier and is under way (PENDING_STOPPED): waited for, not asked again",
                    under_way.join(", ")
                ),
            },
            env.estate.clock.now_ms(),
        )?;
    }
    let answered = if topics.is_empty() {
        Ok(Vec::new())
    } else {
        journal.append(
            Record::Intent {
                effect: "promote".into(),
                detail: json!({ "topics": topics, "via": report.via, "gate": { "mirrors": report.mirrors, "groups": report.groups } }),
            },
            env.estate.clock.now_ms(),
        )?;
        promote_call(env, journal, topics, report).await
    };
    let refused: Vec<(String, String)> = match &answered {
        Ok(r) => r
            .iter()
            .filter_map(|r| r.error.clone().map(|e| (r.mirror_topic.clone(), e)))
            .collect(),
        Err(e) => topics.iter().map(|t| (t.clone(), e.to_string())).collect(),
    };
    if !topics.is_empty() {
        journal.append(
            Record::Outcome {
                effect: "promote".into(),
                ok: refused.is_empty(),
                detail: json!({ "topics": topics, "refused": refused }),
            },
            env.estate.clock.now_ms(),
        )?;
    }
    answered?;
    let accepted: Vec<String> = topics
        .iter()
        .chain(under_way)
        .filter(|t| !refused.iter().any(|(r, _)| r == *t))
        .cloned()
        .collect();
    let states = wait_stopped(env, &accepted, spec.timeout).await?;
    let metadata = env.estate.destination.topics().await?;
    report.topics = topics
        .iter()
        .chain(under_way)
        .map(|t| {
            let state = states
                .iter()
                .find(|(name, _)| name == t)
                .map_or_else(|| "UNKNOWN".to_string(), |(_, s)| s.as_str().to_string());
            // The gate's count, or (a promotion under way, not gated again) the metadata's.
            let partitions = report
                .mirrors
                .iter()
                .find(|m| &m.mirror_topic == t)
                .map(|m| m.partitions.len())
                .or_else(|| metadata.get(t).map(|m| m.partition_count()))
                .unwrap_or(0);
            let partitions_led = metadata.get(t).map_or(0, |m| {
                m.partitions
                    .iter()
                    .filter(|p| p.leader.is_some() && p.error.is_none())
                    .count()
            });
            let error = refused.iter().find(|(r, _)| r == t).map(|(_, e)| e.clone());
            PromotedTopic {
                mirror_topic: t.clone(),
                writable: error.is_none()
                    && state == "STOPPED"
                    && partitions > 0
                    && partitions_led == partitions,
                state,
                error,
                partitions_led,
                partitions,
            }
        })
        .collect();
    journal.append(
        Record::Outcome {
            effect: "confirm".into(),
            ok: report.topics.iter().all(|t| t.writable),
            detail: json!({ "topics": report.topics }),
        },
        env.estate.clock.now_ms(),
    )?;
    Ok(if report.topics.iter().all(|t| t.writable) {
        PromoteOutcome::Promoted
    } else {
        PromoteOutcome::Failed
    })
}

/// The promotion itself: one `mirrors:promote` call, or the `[hooks.promote]` hook (its
/// failure refuses every topic, with the hook's error). One answer per topic.
async fn promote_call(
    env: &PromoteEnv<'_>,
    journal: &Journal,
    topics: &[String],
    report: &PromoteReport,
) -> Result<Vec<crate::link::MirrorActionResult>> {
    if report.via == VIA_REST {
        return env
            .estate
            .link
            .alter_mirrors(MirrorAction::Promote, topics)
            .await;
    }
    let ctx = promote_context(env, topics, journal.run_id());
    let ran = env.hooks.run(HookKind::Promote, &ctx).await;
    let error = (!ran.ok).then(|| {
        format!(
            "the promote hook failed: {}",
            ran.error.as_deref().unwrap_or("no reason given")
        )
    });
    Ok(topics
        .iter()
        .map(|t| crate::link::MirrorActionResult {
            mirror_topic: t.clone(),
            error: error.clone(),
        })
        .collect())
}

fn promote_context(env: &PromoteEnv<'_>, topics: &[String], run_id: &str) -> HookContext {
    HookContext {
        group: GroupId::new(""),
        topics: topics.to_vec(),
        run_id: run_id.to_string(),
        link: env.estate.link.name().to_string(),
        restart_topics: Vec::new(),
        restart_on: crate::model::Role::Destination,
    }
}

/// How a promotion is asked for when no hook is configured.
const VIA_REST: &str = "the link's REST API (mirrors:promote)";

/// Polls the link until every topic is `STOPPED` (or failed, or the time is up); the last
/// state read of each.
async fn wait_stopped(
    env: &PromoteEnv<'_>,
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<(String, MirrorState)>> {
    let progress = Progress::start(
        env.estate.progress,
        "waiting for the promoted mirrors to stop",
    );
    let deadline = tokio::time::Instant::now() + timeout;
    let result = loop {
        let mirrors = Mirrors::read(env.estate.link).await?;
        let states: Vec<(String, MirrorState)> = topics
            .iter()
            .map(|t| {
                let state = mirrors
                    .by_source
                    .values()
                    .find(|m| &m.mirror_topic == t)
                    .map_or(MirrorState::Unknown, |m| m.state.clone());
                (t.clone(), state)
            })
            .collect();
        let pending = states
            .iter()
            .filter(|(_, s)| !matches!(s, MirrorState::Stopped | MirrorState::Failed))
            .count();
        if pending == 0 || tokio::time::Instant::now() >= deadline {
            break states;
        }
        progress.update(&format!("{pending} of {} not STOPPED yet", topics.len()));
        tokio::time::sleep(env.estate.poll).await;
    };
    progress.finish();
    Ok(result)
}
