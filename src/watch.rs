//! `cutover watch`: mirror lag over time until the mirrors are drained, the I/O shell around
//! `lag.rs`.
//!
//! Every poll it reads the link's mirrors (their state) and both clusters' log ends for the
//! watched mirrors, feeds the [`Tracker`], shows the lag, drain rate and ETA on stderr (and as
//! JSON lines on stdout with `--format json`), and stops when every watched partition is at
//! or under `until_lag` (drained), at the deadline, or when a watched mirror fails.
//!
//! `--prioritise` pauses every other active mirror of the link so the prioritised ones get the
//! link's bandwidth, and resumes them once the prioritised ones are drained (or the watch ends
//! any other way than by an interrupt). The pause and the resume are journaled
//! (`<journal-dir>/watch/<link>.jsonl`, intent before the call, outcome after it), so a watch
//! killed in between is found out by the next one: it refuses until `--resume` resumes what
//! was left paused.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::duration;
use crate::error::{Error, Result};
use crate::estate::Estate;
use crate::journal::{self, Journal, Record, Subject};
use crate::lag::{PartitionEnds, Sample, TopicLag, Tracker};
use crate::link::MirrorAction;
use crate::progress::Progress;
use crate::report::watch::{LagPoint, WatchFinding, WatchLine, WatchReport};
use crate::report::SCHEMA_VERSION;
use crate::verify::{MirrorOffsets, Mirrors};

/// What to watch, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// Mirror or source topic names; empty: every mirror of the link.
    pub topics: Vec<String>,
    /// Drained when no watched partition lags more than this.
    pub until_lag: i64,
    /// Give up (exit 1) after this long.
    pub deadline: Option<Duration>,
    /// Pause every other active mirror until these are drained.
    pub prioritise: Vec<String>,
    /// Resume what an earlier watch left paused before watching.
    pub resume: bool,
    /// A lagging partition whose mirror end does not move this long is a finding.
    pub stall_after: Duration,
}

/// What a watch runs against.
pub struct WatchEnv<'a> {
    pub estate: Estate<'a>,
    /// Told every sample, finding, pause and resume as it happens (`--format json`: a line).
    pub lines: &'a (dyn Fn(&WatchLine) + Sync),
}

/// How often the lag is shown on stderr (every look goes to the JSON lines).
const STATUS_EVERY_MS: i64 = 5_000;

/// Runs a watch to its end.
pub async fn watch(env: &WatchEnv<'_>, spec: &WatchSpec) -> Result<WatchReport> {
    let all = Mirrors::read(env.estate.link).await?;
    let watched = all.select(&spec.topics, "")?;
    let prioritised = all.select(&spec.prioritise, "--prioritise ")?;
    let mut pauses = Pauses::open(env, spec)?;
    if !spec.prioritise.is_empty() {
        let others: Vec<String> = all
            .by_source
            .values()
            .filter(|m| m.state.is_active() && !prioritised.contains(&m.mirror_topic))
            .map(|m| m.mirror_topic.clone())
            .collect();
        pauses.pause(env, &others).await?;
    }
    let started = env.estate.clock.now_ms();
    let deadline = spec.deadline.map(|d| started + d.as_millis() as i64);
    let mut tracker = Tracker::new(spec.stall_after.as_millis() as i64);
    let mut findings: Vec<WatchFinding> = Vec::new();
    let mut timeline = Vec::new();
    let progress = Progress::start(env.estate.progress, "watching mirror lag");
    let mut last_status = i64::MIN / 2;
    let ended = loop {
        let now = env.estate.clock.now_ms();
        let sample = look(env, &watched).await?;
        tracker.push(sample);
        let topics = tracker.topics();
        let elapsed_ms = now - started;
        timeline.push(LagPoint {
            elapsed_ms,
            lag: topics.iter().map(|t| t.lag).sum(),
        });
        (env.lines)(&WatchLine::Sample {
            elapsed_ms,
            topics: topics.clone(),
        });
        for finding in new_findings(&topics, &findings) {
            progress.update(&format!("{}: {}", finding.kind, finding.detail));
            (env.lines)(&WatchLine::Finding(finding.clone()));
            findings.push(finding);
        }
        if pauses.holding() && prioritised_drained(&topics, &prioritised, spec.until_lag) {
            pauses.resume_all(env).await?;
        }
        if topics.iter().all(|t| t.drained(spec.until_lag)) {
            break "drained";
        }
        if topics.iter().any(|t| t.state == "FAILED") {
            break "mirror failed";
        }
        if deadline.is_some_and(|d| now >= d) {
            break "deadline";
        }
        if now - last_status >= STATUS_EVERY_MS {
            progress.update(&status_line(&topics, deadline.map(|d| d - now)));
            last_status = now;
        }
        tokio::time::sleep(env.estate.poll).await;
    };
    progress.finish();
    pauses.resume_all(env).await?;
    let topics = tracker.topics();
    Ok(WatchReport {
        schema_version: SCHEMA_VERSION,
        kind: "result",
        link: env.estate.link.name().to_string(),
        until_lag: spec.until_lag,
        drained: ended == "drained",
        ended: ended.to_string(),
        elapsed_ms: env.estate.clock.now_ms() - started,
        topics,
        findings,
        prioritised: prioritised.into_iter().collect(),
        paused: pauses.paused.clone(),
        resumed: pauses.resumed.clone(),
        timeline,
    })
}

/// The lag of the named mirrors (every mirror when none is named) at one look.
pub async fn lag_now(env: &WatchEnv<'_>, topics: &[String]) -> Result<Vec<TopicLag>> {
    let watched = Mirrors::read(env.estate.link).await?.select(topics, "")?;
    let mut tracker = Tracker::new(i64::MAX);
    tracker.push(look(env, &watched).await?);
    Ok(tracker.topics())
}

/// One look: the mirrors' states, then both clusters' ends for the watched ones.
async fn look(env: &WatchEnv<'_>, watched: &BTreeSet<String>) -> Result<Sample> {
    let at_ms = env.estate.clock.now_ms();
    let mirrors = Mirrors::read(env.estate.link).await?.only(watched);
    let offsets = MirrorOffsets::read(env.estate.origin, env.estate.destination, &mirrors).await?;
    let states = mirrors
        .by_source
        .values()
        .map(|m| (m.mirror_topic.clone(), m.state.clone()))
        .collect();
    let partitions = mirrors
        .partitions()
        .into_iter()
        .map(|(source, mirror)| {
            let ends = PartitionEnds {
                origin_end: offsets
                    .origin_end
                    .get(&source)
                    .and_then(|r| r.as_ref().ok())
                    .map(|o| o.get()),
                mirror_end: offsets
                    .mirror_end
                    .get(&mirror)
                    .and_then(|r| r.as_ref().ok())
                    .map(|o| o.get()),
            };
            (mirror, ends)
        })
        .collect();
    Ok(Sample {
        at_ms,
        states,
        partitions,
    })
}

fn prioritised_drained(topics: &[TopicLag], prioritised: &BTreeSet<String>, until: i64) -> bool {
    topics
        .iter()
        .filter(|t| prioritised.contains(&t.mirror_topic))
        .all(|t| t.drained(until))
}

/// Findings not yet reported: a stalled, inactive, failed or unreadable mirror (each once).
fn new_findings(topics: &[TopicLag], seen: &[WatchFinding]) -> Vec<WatchFinding> {
    let mut out = Vec::new();
    for t in topics {
        let lagging = t.lag != Some(0);
        let finding = |kind: &'static str, detail: String| WatchFinding {
            kind,
            mirror_topic: t.mirror_topic.clone(),
            detail,
        };
        let candidate = match t.state.as_str() {
            "FAILED" => Some(finding(
                "MIRROR_FAILED",
                format!("mirror {} failed: it will not drain", t.mirror_topic),
            )),
            "ACTIVE" | "STOPPED" | "UNKNOWN" => None,
            other if lagging => Some(finding(
                "MIRROR_NOT_ACTIVE",
                format!(
                    "mirror {} is {other} with lag {}: it does not copy until it is resumed",
                    t.mirror_topic,
                    show(t.lag)
                ),
            )),
            _ => None,
        }
        .or_else(|| {
            (!t.stalled_partitions.is_empty()).then(|| {
                finding(
                    "MIRROR_STALLED",
                    format!(
                        "mirror {} copied nothing for {} on partition(s) {:?} with lag {}: check the link's health",
                        t.mirror_topic,
                        duration::format(Duration::from_millis(t.still_for_ms as u64)),
                        t.stalled_partitions,
                        show(t.lag)
                    ),
                )
            })
        })
        .or_else(|| {
            t.lag.is_none().then(|| {
                finding(
                    "MIRROR_UNREADABLE",
                    format!("the ends of mirror {} could not all be read", t.mirror_topic),
                )
            })
        });
        if let Some(f) = candidate {
            if !seen
                .iter()
                .any(|s| s.kind == f.kind && s.mirror_topic == f.mirror_topic)
            {
                out.push(f);
            }
        }
    }
    out
}

fn show(lag: Option<i64>) -> String {
    lag.map_or_else(|| "unknown".into(), |l| l.to_string())
}

/// "lag 1200 over 3 mirror(s), draining 40/s, done in about 30s (4m left)".
fn status_line(topics: &[TopicLag], left_ms: Option<i64>) -> String {
    let lag: Option<i64> = topics.iter().map(|t| t.lag).sum();
    let rate: f64 = topics.iter().filter_map(|t| t.drain_rate).sum();
    let eta = topics
        .iter()
        .map(|t| t.eta_s)
        .collect::<Option<Vec<u64>>>()
        .and_then(|e| e.into_iter().max());
    let mut line = format!(
        "lag {} over {} mirror(s), draining {rate:.0}/s",
        show(lag),
        topics.iter().filter(|t| t.lag != Some(0)).count()
    );
    if let Some(eta) = eta {
        line.push_str(&format!(
            ", done in about {}",
            duration::format(Duration::from_secs(eta))
        ));
    }
    if let Some(left) = left_ms {
        line.push_str(&format!(
            " ({} left)",
            duration::format(Duration::from_millis(left.max(0) as u64))
        ));
    }
    line
}

/// The mirrors this watch paused, journaled.
struct Pauses {
    journal: Option<Journal>,
    path: PathBuf,
    paused: Vec<String>,
    resumed: Vec<String>,
}

impl Pauses {
    /// Finds what an earlier watch left paused: refused without `--resume`, resumed with it.
    /// The journal (and its lock) is taken only when this watch may pause or resume.
    fn open(env: &WatchEnv<'_>, spec: &WatchSpec) -> Result<Pauses> {
        let subject = Subject::Watch {
            link: env.estate.link.name().to_string(),
        };
        let path = subject.path(env.estate.journal_dir);
        let left = if path.exists() {
            left_paused(&journal::read(&path)?.entries)
        } else {
            Vec::new()
        };
        if !left.is_empty() && !spec.resume {
            return Err(Error::Unfinished {
                message: format!(
                    "an earlier `cutover watch --prioritise` paused mirror(s) {} and did not resume them",
                    left.join(", ")
                ),
                journal: path,
                hint: "`cutover watch --resume` resumes them and goes on watching (or resume them on the link yourself)".into(),
            });
        }
        let journal = if spec.prioritise.is_empty() && left.is_empty() {
            None
        } else {
            let run_id = format!("watch-{}", env.estate.clock.now_ms());
            let (mut journal, _) =
                Journal::open_subject(env.estate.journal_dir, &subject, &run_id)?;
            journal.append(
                Record::Started {
                    command: Vec::new(),
                    agent: crate::version::agent(),
                    resumed: spec.resume,
                    settings: json!({ "prioritise": spec.prioritise, "until_lag": spec.until_lag }),
                },
                env.estate.clock.now_ms(),
            )?;
            journal::set_active_at(&path, &subject, &run_id, Some("watching"));
            Some(journal)
        };
        Ok(Pauses {
            journal,
            path,
            // What was left paused is this watch's to resume now.
            paused: left,
            resumed: Vec::new(),
        })
    }

    fn holding(&self) -> bool {
        self.paused.len() > self.resumed.len()
    }

    async fn pause(&mut self, env: &WatchEnv<'_>, topics: &[String]) -> Result<()> {
        // What an earlier watch left paused and this one pauses again stays paused.
        self.resume_all(env).await?;
        if topics.is_empty() {
            return Ok(());
        }
        self.act(env, MirrorAction::Pause, topics).await?;
        self.paused = topics.to_vec();
        self.resumed.clear();
        if env.estate.progress {
            eprintln!(
                "cutover: paused {} mirror(s) so the prioritised ones drain first: {} (if this watch is interrupted, `cutover watch --resume` resumes them)",
                topics.len(),
                topics.join(", ")
            );
        }
        (env.lines)(&WatchLine::Paused {
            topics: topics.to_vec(),
        });
        Ok(())
    }

    async fn resume_all(&mut self, env: &WatchEnv<'_>) -> Result<()> {
        if !self.holding() {
            return Ok(());
        }
        let topics = self.paused.clone();
        self.act(env, MirrorAction::Resume, &topics).await?;
        self.resumed = topics.clone();
        if env.estate.progress {
            eprintln!("cutover: resumed mirror(s) {}", topics.join(", "));
        }
        (env.lines)(&WatchLine::Resumed { topics });
        Ok(())
    }

    /// Intent, the link call, outcome. A topic the link refuses fails the watch, journaled.
    async fn act(
        &mut self,
        env: &WatchEnv<'_>,
        action: MirrorAction,
        topics: &[String],
    ) -> Result<()> {
        let effect = match action {
            MirrorAction::Pause => "pause",
            _ => "resume",
        };
        let journal = self.journal.as_mut().ok_or_else(|| {
            Error::Internal(format!("a watch would {effect} mirrors without a journal"))
        })?;
        journal.append(
            Record::Intent {
                effect: effect.into(),
                detail: json!({ "topics": topics }),
            },
            env.estate.clock.now_ms(),
        )?;
        let results = env.estate.link.alter_mirrors(action, topics).await;
        let refused: Vec<String> = match &results {
            Ok(r) => r
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.mirror_topic)))
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        journal.append(
            Record::Outcome {
                effect: effect.into(),
                ok: refused.is_empty(),
                detail: json!({ "topics": topics, "refused": refused }),
            },
            env.estate.clock.now_ms(),
        )?;
        results?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::State {
                message: format!("the link refused to {effect} mirror(s): {}", refused.join("; ")),
                hint: format!(
                    "see the journal {} for what was done; `cutover watch --resume` resumes what this watch paused",
                    self.path.display()
                ),
            })
        }
    }
}

impl Drop for Pauses {
    /// Nothing paused is left to note on an interrupt; while mirrors stay paused, the journal
    /// stays registered, so an interrupt notes it there.
    fn drop(&mut self) {
        if self.journal.is_some() && !self.holding() {
            let subject = Subject::Watch {
                link: String::new(),
            };
            journal::set_active_at(&self.path, &subject, "", None);
        }
    }
}

/// Mirrors an earlier watch paused (or may have: an intent without its outcome) and did not
/// resume, from its journal.
fn left_paused(entries: &[journal::Entry]) -> Vec<String> {
    let mut paused: BTreeSet<String> = BTreeSet::new();
    for e in entries {
        let topics = |detail: &serde_json::Value| -> Vec<String> {
            detail["topics"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        match &e.record {
            Record::Intent { effect, detail } if effect == "pause" => paused.extend(topics(detail)),
            Record::Outcome {
                effect,
                ok: true,
                detail,
            } if effect == "resume" => {
                for t in topics(detail) {
                    paused.remove(&t);
                }
            }
            _ => {}
        }
    }
    paused.into_iter().collect()
}
