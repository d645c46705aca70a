//! Runs scenarios: builds the world (`events.rs`), steps it on tokio's paused clock, plays the
//! timeline, runs the agent's commands through the command layer's own `prepare` and `execute`,
//! and has `expect.rs` check each outcome.
//!
//! Each scenario gets a fresh single-threaded runtime with a paused clock, so virtual time
//! only moves when every task waits, and the same seed gives the same transcript, byte for
//! byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;
use tokio::time::Instant;

use crate::cli::Cli;
use crate::cmd::{self, output::write_report, Report};
use crate::cutover::machine::Phase;
use crate::error::{exit, Error, Result};
use crate::sim::scenario::{Expect, Scenario, What, When};
use crate::sim::SharedWorld;

use super::events::{apply, build_world};
use super::expect::{check_app, check_command, predicted};
use super::wiring::Wiring;

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
pub(super) fn clock(d: Duration) -> String {
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
        let kept = kept_journal_dir(&s.name);
        let journal_dir = kept.clone().unwrap_or_else(journal_dir);
        let (phase_tx, _) = tokio::sync::watch::channel(Phase::Plan);
        let wiring = Wiring {
            s,
            world: world.clone(),
            journal_dir: journal_dir.clone(),
            start: self.start,
            phase: Arc::new(phase_tx),
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
                    self.command(i + 1, args, expect, *kill_at, &wiring, &world)
                        .await;
                }
                What::Together { commands, expect } => {
                    self.commands(i + 1, commands, expect, &wiring, &world)
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
        drop(wiring);
        if kept.is_none() {
            let _ = std::fs::remove_dir_all(&journal_dir);
        }
        self.finish(Some(&world))
    }

    async fn command(
        &mut self,
        entry: usize,
        args: &[String],
        expect: &Expect,
        kill_at: Option<Phase>,
        wiring: &Wiring<'_>,
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
        let ran = execute(&self.resolve_runbook(args), kill_at, wiring).await;
        self.record(entry, args, expect, kill_at, at, ran, world);
    }

    /// `run RUNBOOK …` with a relative runbook path: relative to the scenario's folder.
    fn resolve_runbook(&self, args: &[String]) -> Vec<String> {
        let mut args = args.to_vec();
        if let Some(i) = args.iter().position(|a| a == "run") {
            if let Some(path) = args
                .get_mut(i + 1)
                .filter(|p| Path::new(p.as_str()).is_relative())
            {
                *path = self.s.dir.join(path.as_str()).display().to_string();
            }
        }
        args
    }

    /// Runs several commands at once (`run-together`), each checked against `expect`.
    async fn commands(
        &mut self,
        entry: usize,
        commands: &[Vec<String>],
        expect: &Expect,
        wiring: &Wiring<'_>,
        world: &SharedWorld,
    ) {
        let at = self.now();
        for args in commands {
            self.line(at, &format!("$ cutover {}   (together)", args.join(" ")));
        }
        let ran =
            futures::future::join_all(commands.iter().map(|args| execute(args, None, wiring)))
                .await;
        for (args, ran) in commands.iter().zip(ran) {
            self.line(at, &format!("(together) cutover {}:", args.join(" ")));
            self.record(entry, args, expect, None, at, ran, world);
        }
    }

    /// Writes a command's output to the transcript and checks it against `expect`.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        entry: usize,
        args: &[String],
        expect: &Expect,
        kill_at: Option<Phase>,
        at: Duration,
        ran: Ran,
        world: &SharedWorld,
    ) {
        let Ran {
            exit: exit_code,
            report,
            error,
            out,
            killed,
            ended,
            problems: mut failures,
        } = ran;
        let entry_label = format!("entry {entry}");
        self.failures
            .extend(failures.drain(..).map(|f| format!("{entry_label}: {f}")));
        if kill_at.is_some() && !killed && expect.killed != Some(false) {
            self.failures.push(format!(
                "entry {entry}: the command finished before entering its kill-at phase"
            ));
        }
        let took = ended.saturating_duration_since(self.start + at);
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
            at + took,
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
                    Report::Watch(w) => serde_json::to_value(w),
                    Report::Promote(p) => serde_json::to_value(p),
                    Report::Runbook(r) => serde_json::to_value(r),
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
            let reports: Vec<&serde_json::Value> = self
                .steps
                .iter()
                .filter_map(|s| s.report.as_ref())
                .collect();
            for (name, expect) in &self.s.end.apps {
                if let Some(app) = w.apps.iter().find(|a| &a.name == name) {
                    let predicted = predicted(&reports, app.group.as_str());
                    check_app(app, expect, predicted, &mut self.failures);
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

/// What one command did.
struct Ran {
    exit: i32,
    report: Option<Report>,
    error: Option<String>,
    /// What it wrote on stdout.
    out: Vec<u8>,
    killed: bool,
    ended: Instant,
    /// Its output could not be written.
    problems: Vec<String>,
}

/// Runs one command (`args` after `cutover`) through the code an operator runs; with
/// `kill_at`, drops it when its cutover enters that phase, as SIGKILL would.
async fn execute(args: &[String], kill_at: Option<Phase>, wiring: &Wiring<'_>) -> Ran {
    let mut ran = Ran {
        exit: 0,
        report: None,
        error: None,
        out: Vec::new(),
        killed: false,
        ended: Instant::now(),
        problems: Vec::new(),
    };
    let argv: Vec<String> = std::iter::once("cutover".to_string())
        .chain(args.iter().cloned())
        .collect();
    let parsed = match Cli::try_parse_from(&argv) {
        Err(e) => {
            ran.exit = exit::USAGE;
            ran.error = Some(e.to_string());
            ran.ended = Instant::now();
            return ran;
        }
        Ok(parsed) => parsed,
    };
    let run = async {
        let prepared = cmd::prepare(&parsed, &argv)?;
        let ctx = wiring
            .context(prepared.restart_on(), prepared.pairs_reverse_mirrors())
            .await?;
        cmd::execute(&prepared, &ctx).await
    };
    let outcome = match (kill_at, Some(&wiring.phase)) {
        (Some(phase), Some(tx)) => {
            let mut rx = tx.subscribe();
            rx.mark_unchanged();
            // Dropping the command's future mid-await is what SIGKILL does to the agent: no
            // cleanup runs, the journal keeps what was synced.
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
            ran.killed = true;
            ran.exit = KILLED;
            ran.error = Some("killed (SIGKILL)".to_string());
        }
        Some(Ok(o)) => {
            if let Err(e) = write_report(parsed.format, &o.report, &mut ran.out) {
                ran.problems.push(e.to_string());
            }
            ran.exit = o.exit;
            ran.report = Some(o.report);
        }
        Some(Err(e)) => {
            ran.exit = e.exit_code();
            ran.error = Some(e.render());
        }
    }
    ran.ended = Instant::now();
    ran
}

/// A fresh journal directory for one scenario run.
fn journal_dir() -> PathBuf {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("cutover-sim-{}-{n}", std::process::id()))
}

/// With `CUTOVER_SCENARIO_JOURNALS=DIR`, a scenario's journals are kept in `DIR/<scenario name>`
/// (emptied when the scenario starts) instead of a temporary folder removed at its end, for
/// `cutover report` to read afterwards.
fn kept_journal_dir(scenario: &str) -> Option<PathBuf> {
    let root = PathBuf::from(std::env::var_os("CUTOVER_SCENARIO_JOURNALS")?);
    let dir = root.join(crate::journal::file_stem(&crate::model::GroupId::new(
        scenario,
    )));
    let _ = std::fs::remove_dir_all(&dir);
    Some(dir)
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
