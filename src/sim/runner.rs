//! Runs scenarios: builds the world, steps it on tokio's paused clock, plays the timeline,
//! runs the agent's commands through the CLI's own dispatch and checks the outcome.
//!
//! Each scenario gets a fresh single-threaded runtime with a paused clock, so virtual time
//! only moves when every task waits, and the same seed gives the same transcript, byte for
//! byte.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;
use tokio::time::Instant;

use crate::cli::Cli;
use crate::cmd::{self, output::write_report, Context, Report};
use crate::cutover::driver::Clock;
use crate::cutover::machine::Phase;
use crate::error::{exit, Error, Result};
use crate::kafka::Cluster;
use crate::link::{KafkaOnlyLink, Link};
use crate::model::{GroupId, Offset, Role, TopicPartition};
use crate::sim::link_model::{
    Effect, FilterConfig, LinkFilters, LinkState, MirrorStatus, Pattern, RestFaultKind, RestFaults,
    Rule, GROUP_FILTERS, LINK_PREFIX, SYNC_ENABLE, SYNC_MS,
};
use crate::sim::scenario::{AppExpect, Event, Expect, Scenario, What, When};
use crate::sim::{App, SharedWorld, SimCluster, SimHooks, SimLink, World};

/// How a scenario went.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    pub passed: bool,
    /// Every expectation that did not hold, and every event that could not be applied.
    pub failures: Vec<String>,
    /// Virtual time the scenario covered.
    pub virtual_ms: u64,
    pub steps: Vec<StepRecord>,
    /// Duplicates and gaps per app at the end.
    pub apps: BTreeMap<String, crate::sim::Consumption>,
    /// The human transcript: events, commands and their output, with virtual timestamps.
    #[serde(skip)]
    pub transcript: String,
}

/// One command the agent ran.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub at_ms: u64,
    pub command: Vec<String>,
    pub exit: i32,
    pub duration_ms: u64,
    /// The command's JSON report, or its error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Loads and runs one scenario file on its own paused runtime.
pub fn run_file(path: &Path) -> Result<ScenarioResult> {
    let scenario = Scenario::load(path)?;
    let mut result = run_scenario(&scenario)?;
    result.file = path.display().to_string();
    Ok(result)
}

/// Runs a parsed scenario on its own single-threaded runtime with a paused clock.
pub fn run_scenario(scenario: &Scenario) -> Result<ScenarioResult> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the simulator's runtime: {e}")))?;
    Ok(runtime.block_on(Runner::new(scenario).run()))
}

/// `PASS name` or `FAIL name` with every failure.
pub fn verdict_line(r: &ScenarioResult) -> String {
    let mut line = format!(
        "{} {} ({} of virtual time)",
        if r.passed { "PASS" } else { "FAIL" },
        r.name,
        clock(Duration::from_millis(r.virtual_ms))
    );
    for f in &r.failures {
        line.push_str(&format!("\n  - {f}"));
    }
    line
}

/// `mm:ss.mmm` of virtual time.
fn clock(d: Duration) -> String {
    let ms = d.as_millis();
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

struct Runner<'a> {
    s: &'a Scenario,
    transcript: String,
    failures: Vec<String>,
    steps: Vec<StepRecord>,
    start: Instant,
    events_shown: usize,
    /// The scenario's temporary journal directory, shown as `<journal-dir>` in the transcript
    /// so that the output does not depend on where it ran.
    journal_dir: String,
}

impl<'a> Runner<'a> {
    fn new(s: &'a Scenario) -> Runner<'a> {
        Runner {
            s,
            transcript: String::new(),
            failures: Vec::new(),
            steps: Vec::new(),
            start: Instant::now(),
            events_shown: 0,
            journal_dir: String::new(),
        }
    }

    fn now(&self) -> Duration {
        Instant::now() - self.start
    }

    fn line(&mut self, at: Duration, text: &str) {
        let _ = writeln!(self.transcript, "[{}] {text}", clock(at));
    }

    /// Copies what happened inside the world since the last look into the transcript.
    fn flush_events(&mut self, world: &SharedWorld) {
        let events: Vec<(Duration, String)> = {
            let w = world.lock();
            w.events[self.events_shown..].to_vec()
        };
        self.events_shown += events.len();
        for (at, e) in events {
            self.line(at, &format!("  · {e}"));
        }
    }

    async fn run(mut self) -> ScenarioResult {
        let s = self.s;
        let _ = writeln!(self.transcript, "== scenario {} (seed {})", s.name, s.seed);
        if !s.description.is_empty() {
            for l in s.description.trim().lines() {
                let _ = writeln!(self.transcript, "   {}", l.trim());
            }
        }
        self.start = Instant::now();
        let world = match build_world(s) {
            Ok(w) => Arc::new(SharedWorld::new(w, s.latency)),
            Err(e) => {
                self.failures.push(format!("cannot build the world: {e}"));
                return self.finish(None);
            }
        };
        let driver = {
            let world = world.clone();
            let (start, tick) = (self.start, s.tick);
            tokio::spawn(async move {
                let mut next = start;
                loop {
                    next += tick;
                    tokio::time::sleep_until(next).await;
                    world.lock().step(tick);
                }
            })
        };
        let origin: Arc<dyn Cluster> = Arc::new(SimCluster::new(Role::Origin, world.clone()));
        let destination: Arc<dyn Cluster> =
            Arc::new(SimCluster::new(Role::Destination, world.clone()));
        let link: Box<dyn Link> = if s.link.rest {
            Box::new(SimLink::new(
                world.clone(),
                s.link.retries,
                crate::config::REST_BACKOFF,
                s.link.timeout,
            ))
        } else {
            Box::new(KafkaOnlyLink::new(
                s.link.name.clone(),
                s.link.prefix.clone(),
                origin.clone(),
                destination.clone(),
            ))
        };
        let journal_dir = journal_dir();
        let mut options = s.cutover.options.clone();
        options.cutover.journal_dir = journal_dir.clone();
        let (phase_tx, _) = tokio::sync::watch::channel(Phase::Plan);
        let ctx = Context {
            origin,
            destination,
            link,
            poll_interval: crate::config::DEFAULT_POLL_INTERVAL,
            default_wait: crate::config::DEFAULT_WAIT,
            progress: false,
            hooks: Arc::new(SimHooks::new(
                world.clone(),
                s.hooks.builtin_exclude,
                s.hooks.retries,
                s.hooks.latency,
            )),
            cutover: options,
            clock: Clock::Virtual {
                epoch_ms: SIM_EPOCH_MS,
                start: self.start,
            },
            phase_watch: Some(phase_tx),
        };
        self.journal_dir = journal_dir.display().to_string();
        let background = {
            let world = world.clone();
            let start = self.start;
            let events = s.background.clone();
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for (i, (at, event)) in events.into_iter().enumerate() {
                    tokio::time::sleep_until(start + at).await;
                    let outcome = apply(&mut world.lock(), &event);
                    match outcome {
                        Ok(text) => world.note(format!("(background) {text}")),
                        Err(e) => {
                            world.note(format!("(background) cannot apply {event:?}: {e}"));
                            errors.push(format!("background entry {}: {e}", i + 1));
                        }
                    }
                }
                errors
            })
        };
        let mut previous_end = Duration::ZERO;
        for (i, entry) in s.timeline.iter().enumerate() {
            let due = match entry.when {
                When::At(at) => at,
                When::After(after) => previous_end + after,
            };
            let now = self.now();
            if due < now {
                self.failures.push(format!(
                    "timeline entry {} is due at {} but the entry before it ran until {}; give it `after` instead of `at`",
                    i + 1,
                    clock(due),
                    clock(now)
                ));
            } else {
                tokio::time::sleep_until(self.start + due).await;
            }
            self.flush_events(&world);
            match &entry.what {
                What::Event(event) => {
                    let at = self.now();
                    let outcome = apply(&mut world.lock(), event);
                    match outcome {
                        Ok(text) => self.line(at, &text),
                        Err(e) => {
                            self.line(at, &format!("cannot apply {event:?}: {e}"));
                            self.failures.push(format!("timeline entry {}: {e}", i + 1));
                        }
                    }
                }
                What::Command {
                    args,
                    expect,
                    kill_at,
                } => {
                    self.command(i + 1, args, expect, *kill_at, &ctx, &world)
                        .await;
                }
            }
            previous_end = self.now();
        }
        tokio::time::sleep(s.end.after).await;
        self.flush_events(&world);
        driver.abort();
        if background.is_finished() {
            match background.await {
                Ok(errors) => self.failures.extend(errors),
                Err(e) => self
                    .failures
                    .push(format!("the background events stopped: {e}")),
            }
        } else {
            background.abort();
            self.failures.push(
                "some background entries fall after the end of the scenario and never ran".into(),
            );
        }
        drop(ctx);
        let _ = std::fs::remove_dir_all(&journal_dir);
        self.finish(Some(&world))
    }

    async fn command(
        &mut self,
        entry: usize,
        args: &[String],
        expect: &Expect,
        kill_at: Option<Phase>,
        ctx: &Context,
        world: &SharedWorld,
    ) {
        let at = self.now();
        self.line(
            at,
            &match kill_at {
                Some(p) => format!(
                    "$ cutover {}   (killed when it enters {})",
                    args.join(" "),
                    p.as_str()
                ),
                None => format!("$ cutover {}", args.join(" ")),
            },
        );
        let mut out: Vec<u8> = Vec::new();
        let mut killed = false;
        let (exit_code, report, error) = match Cli::try_parse_from(
            std::iter::once("cutover".to_string()).chain(args.iter().cloned()),
        ) {
            Err(e) => (exit::USAGE, None, Some(e.to_string())),
            Ok(parsed) => {
                let argv: Vec<String> = std::iter::once("cutover".to_string())
                    .chain(args.iter().cloned())
                    .collect();
                let run = async {
                    let prepared = cmd::prepare(&parsed, &argv)?;
                    cmd::execute(&prepared, ctx).await
                };
                let outcome = match (kill_at, &ctx.phase_watch) {
                    (Some(phase), Some(tx)) => {
                        let mut rx = tx.subscribe();
                        rx.mark_unchanged();
                        // Dropping the command's future mid-await is what SIGKILL does to the
                        // agent: no cleanup runs, the journal keeps what was synced.
                        tokio::select! {
                            biased;
                            _ = rx.wait_for(|p| *p == phase) => None,
                            outcome = run => Some(outcome),
                        }
                    }
                    _ => Some(run.await),
                };
                match outcome {
                    None => {
                        killed = true;
                        (KILLED, None, Some("killed (SIGKILL)".to_string()))
                    }
                    Some(Ok(o)) => {
                        if let Err(e) = write_report(parsed.format, &o.report, &mut out) {
                            self.failures.push(format!("entry {entry}: {e}"));
                        }
                        (o.exit, Some(o.report), None)
                    }
                    Some(Err(e)) => (e.exit_code(), None, Some(e.render())),
                }
            }
        };
        if kill_at.is_some() && !killed && expect.killed != Some(false) {
            self.failures.push(format!(
                "entry {entry}: the command finished before entering its kill-at phase"
            ));
        }
        let took = self.now() - at;
        self.flush_events(world);
        let mut text = String::from_utf8_lossy(&out).into_owned();
        if let Some(e) = &error {
            text.push_str(e);
        }
        if !self.journal_dir.is_empty() {
            text = text.replace(&self.journal_dir, "<journal-dir>");
        }
        for l in text.trim_end().lines() {
            let _ = writeln!(self.transcript, "    {l}");
        }
        self.line(
            self.now(),
            &format!("exit {exit_code} after {}", clock(took)),
        );
        let label = format!("entry {entry} (`cutover {}`)", args.join(" "));
        let mut problems = Vec::new();
        check_command(
            expect,
            exit_code,
            report.as_ref(),
            error.as_deref(),
            took,
            &mut problems,
        );
        if let Some(want) = expect.killed {
            if want != killed {
                problems.push(format!("killed is {killed}, expected {want}"));
            }
        }
        self.failures
            .extend(problems.into_iter().map(|p| format!("{label}: {p}")));
        self.steps.push(StepRecord {
            at_ms: at.as_millis() as u64,
            command: args.to_vec(),
            exit: exit_code,
            duration_ms: took.as_millis() as u64,
            report: report.as_ref().map(|r| {
                let value = match r {
                    Report::Verify(v) => serde_json::to_value(v),
                    Report::Audit(a) => serde_json::to_value(a),
                    Report::Plan(p) => serde_json::to_value(p),
                    Report::Cutover(c) => serde_json::to_value(c),
                };
                let mut value = value.unwrap_or_default();
                scrub_path(&mut value, &self.journal_dir);
                value
            }),
            error,
        });
    }

    fn finish(mut self, world: Option<&SharedWorld>) -> ScenarioResult {
        let mut apps = BTreeMap::new();
        if let Some(world) = world {
            let w = world.lock();
            for app in &w.apps {
                apps.insert(app.name.clone(), app.consumption());
            }
            for (name, expect) in &self.s.end.apps {
                if let Some(app) = w.apps.iter().find(|a| &a.name == name) {
                    check_app(app, expect, &mut self.failures);
                }
            }
            for app in &w.apps {
                let c = app.consumption();
                let _ = writeln!(
                    self.transcript,
                    "[{}] app {}: processed {}, duplicates {}, gaps {}, {}",
                    clock(Instant::now() - self.start),
                    app.name,
                    c.processed,
                    c.duplicates,
                    c.gaps,
                    match app.running_on {
                        Some(role) => format!("running on the {role}"),
                        None => "stopped".into(),
                    }
                );
            }
        }
        ScenarioResult {
            name: self.s.name.clone(),
            file: String::new(),
            passed: self.failures.is_empty(),
            failures: self.failures,
            virtual_ms: (Instant::now() - self.start).as_millis() as u64,
            steps: self.steps,
            apps,
            transcript: self.transcript,
        }
    }
}

fn check_app(app: &App, e: &AppExpect, failures: &mut Vec<String>) {
    let c = app.consumption();
    let name = &app.name;
    if let Some(d) = e.duplicates {
        if c.duplicates != d {
            failures.push(format!(
                "app {name}: {} duplicate(s), expected {d}",
                c.duplicates
            ));
        }
    }
    if let Some(g) = e.gaps {
        if c.gaps != g {
            failures.push(format!("app {name}: {} gap(s), expected {g}", c.gaps));
        }
    }
    if let Some(min) = e.min_processed {
        if c.processed < min {
            failures.push(format!(
                "app {name}: processed {} record(s), expected at least {min}",
                c.processed
            ));
        }
    }
    if let Some(side) = e.running_on {
        let role: Role = side.into();
        if app.running_on != Some(role) {
            failures.push(format!(
                "app {name}: expected to run on the {role}, it {}",
                match app.running_on {
                    Some(r) => format!("runs on the {r}"),
                    None => "is stopped".into(),
                }
            ));
        }
    }
}

fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn set(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

fn check_command(
    e: &Expect,
    exit_code: i32,
    report: Option<&Report>,
    error: Option<&str>,
    took: Duration,
    problems: &mut Vec<String>,
) {
    if let Some(want) = e.exit {
        if want != exit_code {
            problems.push(format!("exit {exit_code}, expected {want}"));
        }
    }
    if let Some(needle) = &e.error_contains {
        match error {
            Some(text) if text.contains(needle.as_str()) => {}
            Some(text) => problems.push(format!("the error does not contain {needle:?}: {text}")),
            None => problems.push(format!(
                "expected an error containing {needle:?}, the command succeeded"
            )),
        }
    }
    for (bound, text) in [(true, &e.min_duration), (false, &e.max_duration)] {
        let Some(text) = text else { continue };
        match crate::duration::parse(text) {
            Ok(d) if bound && took < d => {
                problems.push(format!("ran {}, expected at least {text}", clock(took)))
            }
            Ok(d) if !bound && took > d => {
                problems.push(format!("ran {}, expected at most {text}", clock(took)))
            }
            Ok(_) => {}
            Err(err) => problems.push(format!("invalid duration {text:?}: {err}")),
        }
    }
    let wants_verify = e.safe.is_some()
        || !e.verdicts.is_empty()
        || !e.partitions.is_empty()
        || !e.findings.is_empty();
    let wants_audit = e.audit_findings.is_some() || !e.classes.is_empty();
    let wants_cutover = e.outcome.is_some() || e.reason_contains.is_some();
    if wants_cutover && !matches!(report, Some(Report::Cutover(_)) | Some(Report::Plan(_))) {
        problems
            .push("cutover expectations given, but the command produced no cutover result".into());
    }
    match report {
        Some(Report::Verify(r)) => {
            if wants_audit {
                problems.push("audit expectations given for a verify command".into());
            }
            if let Some(safe) = e.safe {
                if r.safe != safe {
                    problems.push(format!("safe is {}, expected {safe}", r.safe));
                }
            }
            let group = |name: &str| r.groups.iter().find(|g| g.group.as_str() == name);
            for (g, want) in &e.verdicts {
                let Some(j) = group(g) else {
                    problems.push(format!("group {g} is not in the report"));
                    continue;
                };
                let got = set(j.partitions.iter().map(|p| p.verdict.as_str().to_string()));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "group {g}: verdicts {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
            for (key, want) in &e.partitions {
                let found = r.groups.iter().find_map(|g| {
                    g.partitions
                        .iter()
                        .find(|p| format!("{}/{}-{}", g.group, p.topic, p.partition) == *key)
                });
                match found {
                    None => problems.push(format!("partition {key} is not in the report")),
                    Some(p) if p.verdict.as_str() != want => {
                        problems.push(format!("{key}: {}, expected {want}", p.verdict.as_str()))
                    }
                    Some(_) => {}
                }
            }
            for (g, want) in &e.findings {
                let Some(j) = group(g) else {
                    problems.push(format!("group {g} is not in the report"));
                    continue;
                };
                let got = set(j.findings.iter().map(|f| name_of(&f.kind)));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "group {g}: findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
        }
        Some(Report::Audit(r)) => {
            if wants_verify {
                problems.push("verify expectations given for an audit command".into());
            }
            if let Some(want) = &e.audit_findings {
                let got = set(r.findings.iter().map(|f| name_of(&f.kind)));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "audit findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
            for (g, want) in &e.classes {
                match r.groups.iter().find(|x| x.group.as_str() == g) {
                    None => problems.push(format!("group {g} is not in the audit")),
                    Some(x) if name_of(&x.classification) != *want => problems.push(format!(
                        "group {g}: classified {}, expected {want}",
                        name_of(&x.classification)
                    )),
                    Some(_) => {}
                }
            }
        }
        Some(Report::Cutover(c)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a group command".into());
            }
            if let Some(want) = &e.outcome {
                if c.outcome.as_str() != want {
                    problems.push(format!(
                        "outcome {}, expected {want} (reason: {})",
                        c.outcome.as_str(),
                        c.reason
                    ));
                }
            }
            if let Some(needle) = &e.reason_contains {
                if !c.reason.contains(needle.as_str()) {
                    problems.push(format!(
                        "the reason does not contain {needle:?}: {}",
                        c.reason
                    ));
                }
            }
        }
        Some(Report::Plan(p)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a dry run".into());
            }
            if let Some(needle) = &e.reason_contains {
                match &p.refusal {
                    Some(r) if r.contains(needle.as_str()) => {}
                    other => problems.push(format!(
                        "the plan's refusal {other:?} does not contain {needle:?}"
                    )),
                }
            }
        }
        None => {
            if wants_verify || wants_audit {
                problems
                    .push("report expectations given, but the command produced no report".into());
            }
        }
    }
}

/// The link's group filters from the scenario's include and exclude lists.
fn group_filters(include: &[String], exclude: &[String]) -> String {
    let rule = |name: &str, effect| {
        let (name, pattern) = match name.strip_suffix('*') {
            Some(prefix) if !prefix.is_empty() => (prefix, Pattern::Prefixed),
            _ => (name, Pattern::Literal),
        };
        Rule::new(name, pattern, effect)
    };
    let filters = LinkFilters::new(
        include
            .iter()
            .map(|n| rule(n, Effect::Include))
            .chain(exclude.iter().map(|n| rule(n, Effect::Exclude)))
            .collect(),
    );
    filters.to_config(FilterConfig::Groups)
}

fn build_world(s: &Scenario) -> std::result::Result<World, String> {
    let mut link = LinkState::new(
        s.link.name.clone(),
        "sim-link-0001".into(),
        "sim-origin-cluster".into(),
        "origin.sim:9092",
    );
    let mut configs = vec![
        (
            SYNC_MS.to_string(),
            s.link.sync_interval.as_millis().to_string(),
        ),
        (SYNC_ENABLE.to_string(), s.link.sync_enabled.to_string()),
    ];
    if s.link.sync_enabled {
        configs.push((
            GROUP_FILTERS.to_string(),
            group_filters(&s.link.sync_groups, &s.link.exclude_groups),
        ));
    }
    if !s.link.prefix.is_empty() {
        configs.push((LINK_PREFIX.to_string(), s.link.prefix.clone()));
    }
    link.apply_at_creation(&configs).map_err(|r| r.message)?;
    let mut world = World::new(s.seed, link, s.link.rest, s.link.sync_phase);
    world.mirror_throughput = s.link.throughput;
    for t in &s.topics {
        let log = crate::sim::Log {
            start: t.log_start,
            end: t.records,
        };
        world
            .origin
            .topics
            .insert(t.name.clone(), vec![log; t.partitions as usize]);
        if t.produce_rate > 0.0 {
            world.add_producer(t.name.clone(), t.produce_rate);
        }
        if t.mirror {
            world.create_mirror(&t.name)?;
        }
    }
    for a in &s.apps {
        world.apps.push(App::new(
            a.name.clone(),
            GroupId::new(&a.group),
            a.topics.clone(),
            a.partitions.clone(),
            a.rate,
            a.commit_interval,
            a.auto_offset_reset,
        ));
    }
    for a in &s.apps {
        if let Some(side) = a.start_on {
            world.start_app(&a.name, side.into())?;
        }
    }
    Ok(world)
}

/// The mirror topic an event names: a mirror topic, or the source topic it mirrors.
fn mirror_topic(w: &World, topic: &str) -> std::result::Result<String, String> {
    if w.link.mirrors.contains_key(topic) {
        return Ok(topic.to_string());
    }
    w.link
        .mirror_of_source(topic)
        .map(|m| m.mirror_topic.clone())
        .ok_or_else(|| format!("topic {topic} has no mirror on the link"))
}

fn set_status(
    w: &mut World,
    topic: &str,
    status: MirrorStatus,
) -> std::result::Result<String, String> {
    let mirror = mirror_topic(w, topic)?;
    let now = w.now.as_millis() as i64;
    let m = w.link.mirrors.get_mut(&mirror).expect("found above");
    m.set_status(status);
    m.state_time_ms = now;
    Ok(mirror)
}

/// Applies one event to the world; returns the transcript line.
fn apply(w: &mut World, event: &Event) -> std::result::Result<String, String> {
    Ok(match event {
        Event::StartApp { app, on } => {
            let role: Role = (*on).into();
            w.start_app(app, role)?;
            format!("app {app} starts on the {role}")
        }
        Event::StopApp { app } => {
            w.stop_app(app, true)?;
            format!("app {app} stops (commits its offsets and leaves the group)")
        }
        Event::KillApp { app } => {
            w.stop_app(app, false)?;
            format!("app {app} is killed (no final commit)")
        }
        Event::StartProducer { topic } | Event::StopProducer { topic } => {
            let running = matches!(event, Event::StartProducer { .. });
            let p = w
                .producers
                .iter_mut()
                .find(|p| &p.topic == topic)
                .ok_or_else(|| format!("topic {topic} has no producer (give it a produce-rate)"))?;
            p.running = running;
            format!(
                "producer of {topic} {}",
                if running { "starts" } else { "stops" }
            )
        }
        Event::SetProduceRate { topic, rate } => {
            match w.producers.iter_mut().find(|p| &p.topic == topic) {
                Some(p) => p.rate = *rate,
                None => w.add_producer(topic.clone(), *rate),
            }
            format!("producer of {topic} now writes {rate} records/s")
        }
        Event::PauseMirror { topic } => {
            let m = set_status(w, topic, MirrorStatus::Paused)?;
            format!("mirror {m} is paused")
        }
        Event::ResumeMirror { topic } => {
            let m = set_status(w, topic, MirrorStatus::Active)?;
            format!("mirror {m} is resumed")
        }
        Event::StallMirror { topic } => {
            let m = mirror_topic(w, topic)?;
            w.link.faults.stalled_topics.insert(m.clone());
            format!("mirror {m} stalls (no copying; the link still says ACTIVE)")
        }
        Event::UnstallMirror { topic } => {
            let m = mirror_topic(w, topic)?;
            w.link.faults.stalled_topics.remove(&m);
            format!("mirror {m} copies again")
        }
        Event::FailMirror { topic, reason } => {
            let m = mirror_topic(w, topic)?;
            let reason = reason.clone().unwrap_or_else(|| "injected failure".into());
            let now = w.now.as_millis() as i64;
            let mirror = w.link.mirrors.get_mut(&m).expect("found above");
            mirror.fail("SOURCE_UNAVAILABLE", reason.clone());
            mirror.state_time_ms = now;
            format!("mirror {m} fails: {reason}")
        }
        Event::CreateMirror { topic } => {
            let m = w.create_mirror(topic)?;
            format!("mirror {m} of {topic} is created")
        }
        Event::SetMirrorThroughput { rate } => {
            w.mirror_throughput = *rate;
            match rate {
                Some(r) => format!("the link now copies {r} records/s per partition"),
                None => "the link now copies as fast as it fetches".into(),
            }
        }
        Event::SetLinkConfig { name, value } => {
            w.link
                .apply(&[(name.clone(), value.clone())])
                .map_err(|r| r.message)?;
            match value {
                Some(v) => format!("link config {name} = {v}"),
                None => format!("link config {name} reset to its default"),
            }
        }
        Event::ExcludeGroup { group } => {
            w.link.exclude_group(group).map_err(|r| r.message)?;
            format!("group {group} is excluded from the link's offset sync")
        }
        Event::StopOffsetSync {} => {
            w.link.faults.offset_sync_stopped = true;
            "the link's offset sync stops writing".into()
        }
        Event::StartOffsetSync {} => {
            w.link.faults.offset_sync_stopped = false;
            "the link's offset sync writes again".into()
        }
        Event::RestErrors {
            count,
            status,
            hold,
        } => {
            let hold = hold.as_deref().map(crate::duration::parse).transpose()?;
            w.link.rest_faults = RestFaults {
                remaining: *count,
                kind: if hold.is_some() {
                    RestFaultKind::Timeout
                } else {
                    RestFaultKind::Status
                },
                status: *status,
                timeout_ms: hold.map(|h| h.as_millis() as u64),
            };
            match hold {
                Some(h) => format!("the link's REST API holds the next {count} call(s) for {h:?}"),
                None => format!(
                    "the link's REST API answers the next {count} call(s) with HTTP {}",
                    status.unwrap_or(503)
                ),
            }
        }
        Event::Leaderless {
            on,
            topic,
            partition,
        }
        | Event::LeaderBack {
            on,
            topic,
            partition,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            let c = w.cluster_mut(role);
            if c.log(&tp).is_none() {
                return Err(format!("the {role} has no partition {tp}"));
            }
            if matches!(event, Event::Leaderless { .. }) {
                c.leaderless.insert(tp.clone());
                format!("{tp} on the {role} loses its leader")
            } else {
                c.leaderless.remove(&tp);
                format!("{tp} on the {role} has a leader again")
            }
        }
        Event::Unreachable { on } | Event::Reachable { on } => {
            let role: Role = (*on).into();
            let down = matches!(event, Event::Unreachable { .. });
            w.cluster_mut(role).unreachable = down;
            format!(
                "the {role} cluster is {}",
                if down {
                    "unreachable"
                } else {
                    "reachable again"
                }
            )
        }
        Event::DeleteRecords {
            on,
            topic,
            partition,
            before,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            w.delete_records(role, &tp, *before)?;
            format!("records of {tp} before {before} are deleted on the {role}")
        }
        Event::AddPartitions { topic, count } => {
            let logs = w
                .origin
                .topics
                .get_mut(topic)
                .ok_or_else(|| format!("the origin has no topic {topic}"))?;
            let total = logs.len() + *count as usize;
            logs.resize(total, crate::sim::Log::default());
            format!("topic {topic} on the origin grows to {total} partitions")
        }
        Event::HookFails { hook, count } => {
            if !["stop", "exclude", "restart", "rollback"].contains(&hook.as_str()) {
                return Err(format!(
                    "hook {hook:?} is not one of stop, exclude, restart, rollback"
                ));
            }
            w.hook_failures.insert(hook.clone(), *count);
            format!("the next {count} attempt(s) of the {hook} hook fail")
        }
        Event::Commit {
            on,
            group,
            topic,
            partition,
            offset,
        } => {
            let role: Role = (*on).into();
            let tp = TopicPartition::new(topic, *partition);
            w.set_committed(role, &GroupId::new(group), tp.clone(), Offset(*offset));
            format!("group {group} commits {offset} on {tp} on the {role}")
        }
    })
}

/// The virtual clock's epoch: 2026-01-01T00:00:00Z.
const SIM_EPOCH_MS: i64 = 1_767_225_600_000;

/// A fresh journal directory for one scenario run.
fn journal_dir() -> PathBuf {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("cutover-sim-{}-{n}", std::process::id()))
}

/// The exit code shown for a command killed mid-run (128 + SIGKILL).
const KILLED: i32 = 137;

/// Replaces the run's temporary journal directory in a JSON report.
fn scrub_path(v: &mut serde_json::Value, dir: &str) {
    if dir.is_empty() {
        return;
    }
    match v {
        serde_json::Value::String(s) if s.contains(dir) => *s = s.replace(dir, "<journal-dir>"),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| scrub_path(x, dir)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| scrub_path(x, dir)),
        _ => {}
    }
}
