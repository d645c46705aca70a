//! One run of the campaign: a fresh world (a real consumer on a mirrored topic while producers
//! write), `cutover group` started, the fault injected as the journal shows the phase entered,
//! the agent's outcome, whether the group was left stopped and whether its journal says so, the
//! operator's next step when the agent hands over, and the app's own tally at the end.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cutover::journal::{self, Record};
use cutover_lab::testkit::lab;
use cutover_lab::testkit::testapp::{self, processes_with_arg};
use serde_json::Value;

use crate::inject::{configure, inject, Fault, Injected};
use crate::world::World;

/// Where in a cutover a fault is injected: the journal phase whose checkpoint triggers it
/// (`plan`: before the agent starts), and the link's mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub(crate) fault: Fault,
    pub(crate) phase: &'static str,
    /// `final-offsets = "link"`; otherwise the default, `agent`.
    pub(crate) link_mode: bool,
}

/// How one `cutover group` ended.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    /// `done`, `rolled_back`, `needs_operator`, `refused`; `error (exit N)`; `killed`.
    pub(crate) outcome: String,
    /// The summary's reason, or the error's message.
    pub(crate) reason: String,
    /// The error's `hint:` line, if it ended in an error.
    pub(crate) hint: Option<String>,
}

impl Ended {
    fn from_output(code: Option<i32>, stdout: &str) -> Ended {
        let doc: Value = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .or_else(|| serde_json::from_str(stdout).ok())
            .unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        if code.is_none() {
            return Ended {
                outcome: "killed".into(),
                reason: String::new(),
                hint: None,
            };
        }
        if let Some(error) = doc.get("error") {
            return Ended {
                outcome: format!("error (exit {})", code.unwrap_or(-1)),
                reason: text(&error["message"]),
                hint: Some(text(&error["hint"])),
            };
        }
        Ended {
            outcome: doc["outcome"].as_str().unwrap_or("no summary").to_string(),
            reason: text(&doc["reason"]),
            hint: None,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The row's number in the matrix.
    pub(crate) number: usize,
    pub(crate) case: Case,
    /// How the agent's run ended (with the fault).
    pub(crate) first: Option<Ended>,
    /// What the operator did after it, and how that ended.
    pub(crate) operator: Vec<(String, Ended)>,
    /// The group was left stopped after the agent's run, and what its journal says then.
    pub(crate) left_stopped: Option<String>,
    pub(crate) duplicates: u64,
    pub(crate) gaps: u64,
    pub(crate) unexpected: u64,
    pub(crate) note: Option<String>,
    /// Where the app ran once the run and the operator's steps were over.
    pub(crate) ends_on: &'static str,
    pub(crate) took: Duration,
    /// What makes this row fail.
    pub(crate) problems: Vec<String>,
}

impl Row {
    fn new(number: usize, case: Case) -> Row {
        Row {
            number,
            case,
            first: None,
            operator: Vec::new(),
            left_stopped: None,
            duplicates: 0,
            gaps: 0,
            unexpected: 0,
            note: None,
            ends_on: "—",
            took: Duration::ZERO,
            problems: Vec::new(),
        }
    }

    /// A run that panicked: the panic is the problem.
    pub(crate) fn panicked(number: usize, case: Case, why: String) -> Row {
        let mut row = Row::new(number, case);
        row.problems.push(format!("the run panicked: {why}"));
        row
    }

    /// How the run ended last: the operator's last step, else the agent's run.
    pub(crate) fn last(&self) -> Option<&Ended> {
        self.operator.last().map(|(_, e)| e).or(self.first.as_ref())
    }
}

/// What the journal shows, read as the cutover runs.
enum Seen {
    Phase,
    Finished,
    NotYet,
}

/// Watches the journal closely (every 10 ms) until it shows `phase` entered, the cutover
/// finished first, the agent exited, or `limit` passed.
fn watch_for(journal: &Path, phase: &str, agent: &mut Child, limit: Duration) -> Seen {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(back) = journal::read(journal) {
            for e in &back.entries {
                match &e.record {
                    Record::Phase { phase: p, .. } if p == phase => return Seen::Phase,
                    Record::Finished { .. } => return Seen::Finished,
                    _ => {}
                }
            }
        }
        if matches!(agent.try_wait(), Ok(Some(_))) {
            return Seen::Finished;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Seen::NotYet
}

/// Longest a cutover may run under a fault before the campaign calls it hung.
const AGENT_LIMIT: Duration = Duration::from_secs(150);

/// Waits for the agent to exit (up to [`AGENT_LIMIT`], then SIGKILL and say so).
fn wait_agent(mut agent: Child, out: &Path, problems: &mut Vec<String>) -> Ended {
    let deadline = Instant::now() + AGENT_LIMIT;
    let status = loop {
        match agent.try_wait().expect("wait for the agent") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                problems.push(format!("the agent was still running after {AGENT_LIMIT:?}"));
                let _ = agent.kill();
                break agent.wait().expect("wait for the agent");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let stdout = std::fs::read_to_string(out).unwrap_or_default();
    Ended::from_output(status.code(), &stdout)
}

/// Whether any instance of the app runs (on either cluster): a live `cutover-testapp run`
/// for one of its pidfiles.
fn app_running(w: &World) -> bool {
    w.apps
        .apps
        .iter()
        .any(|a| !processes_with_arg(&a.pidfile.display().to_string()).is_empty())
}

/// Where the app runs now: `origin`, `destination`, both, or nowhere (a live
/// `cutover-testapp run` for one of its pidfiles, and which bootstrap it was given).
fn app_runs_on(w: &World) -> &'static str {
    let on = |bootstrap: &str| {
        let there = processes_with_arg(bootstrap);
        w.apps.apps.iter().any(|a| {
            processes_with_arg(&a.pidfile.display().to_string())
                .iter()
                .any(|pid| there.contains(pid))
        })
    };
    match (on(&lab().origin), on(&lab().destination)) {
        (true, true) => "both clusters",
        (true, false) => "origin",
        (false, true) => "destination",
        (false, false) => "nowhere",
    }
}

/// Why a group the agent left stopped is accounted for, if its journal says so: unfinished
/// (resumable), or finished by handing over with the reason saying it is stopped.
fn journal_says_stopped(w: &World) -> Option<String> {
    let back = journal::read(&w.journal()).ok()?;
    match back.finished().map(|e| &e.record) {
        None => {
            let phase = back.entries.iter().rev().find_map(|e| match &e.record {
                Record::Phase { phase, .. } => Some(phase.clone()),
                _ => None,
            });
            Some(format!(
                "journal unfinished in {}: resumable",
                phase.as_deref().unwrap_or("plan")
            ))
        }
        Some(Record::Finished {
            outcome, reason, ..
        }) if outcome == "needs_operator"
            && reason.as_deref().is_some_and(|r| r.contains("stopped")) =>
        {
            Some("journal: needs_operator, the group is stopped".into())
        }
        _ => None,
    }
}

/// Runs `cutover group` with the fault injected at the case's phase, then what the operator
/// does after it, then counts what the app processed. A phase the cutover passed too fast to
/// catch is tried again on a new world, at most three times.
pub(crate) async fn run_case(number: usize, case: Case) -> Row {
    let started = Instant::now();
    let mut row = Row::new(number, case);
    for attempt in 1..=3 {
        let label = format!("fault-{number}");
        let mut w = World::new(&label, None).await;
        configure(&w, case.fault, case.link_mode);
        let out = w.dir.join("agent.stdout");
        let err = w.dir.join("agent.stderr");
        let mut injected = Injected::default();
        let mut reached = false;
        if case.phase == "plan" {
            injected = inject(&w, case.fault, 0).await;
            reached = true;
        }
        let mut agent = w
            .command(&["group", &w.group, "--format", "json"])
            .stdout(Stdio::from(
                std::fs::File::create(&out).expect("agent stdout"),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(&err).expect("agent stderr"),
            ))
            .spawn()
            .expect("spawn cutover group");
        if !reached {
            match watch_for(
                &w.journal(),
                case.phase,
                &mut agent,
                Duration::from_secs(60),
            ) {
                Seen::Phase => {
                    injected = inject(&w, case.fault, agent.id()).await;
                    reached = true;
                }
                Seen::Finished | Seen::NotYet => {}
            }
        }
        let first = wait_agent(agent, &out, &mut row.problems);
        injected.clear(&w).await;
        row.note = injected.note.take();
        if !reached {
            eprintln!(
                "case {number}: attempt {attempt}: the cutover ended ({}) before phase {}",
                first.outcome, case.phase
            );
            w.settle(0).await;
            row.problems.clear();
            continue;
        }
        if !app_running(&w) {
            let says = journal_says_stopped(&w);
            if says.is_none() {
                row.problems.push(format!(
                    "the group was left stopped ({}: {}) and its journal does not say so",
                    first.outcome, first.reason
                ));
            }
            row.left_stopped = Some(says.unwrap_or_else(|| "nothing says so".into()));
        }
        if first.outcome == "killed" && case.fault != Fault::AgentKilled {
            // Only the campaign kills the agent: any other signal is a crash.
            let stderr = std::fs::read_to_string(&err).unwrap_or_default();
            row.problems.push(format!(
                "the agent died by a signal: {}",
                stderr.lines().last().unwrap_or("(no stderr)")
            ));
        }
        row.first = Some(first.clone());
        operate(&w, &mut row).await;
        row.ends_on = app_runs_on(&w);
        let expected_on = match row.last().map(|e| e.outcome.as_str()) {
            Some("done") => "destination",
            _ => "origin",
        };
        if row.ends_on != expected_on {
            row.problems.push(format!(
                "the app runs on {} at the end, not on the {expected_on}",
                row.ends_on
            ));
        }
        let (tally, expected) = w.settle(50).await;
        row.duplicates = tally
            .duplicates()
            .values()
            .flatten()
            .map(|(_, n)| u64::from(*n - 1))
            .sum();
        row.gaps = tally.gaps(&expected).values().map(|g| g.len() as u64).sum();
        row.unexpected = tally
            .unexpected(&expected)
            .values()
            .map(|u| u.len() as u64)
            .sum();
        for (what, n) in [
            ("duplicate(s)", row.duplicates),
            ("gap(s)", row.gaps),
            ("unexpected record(s)", row.unexpected),
        ] {
            if n > 0 {
                row.problems.push(format!("{n} {what} in the app's tally"));
            }
        }
        match row.last().map(|e| e.outcome.as_str()) {
            Some("done" | "rolled_back") => {}
            other => row.problems.push(format!(
                "the run did not end done or rolled back: {other:?}\n(agent output in {})",
                w.dir.display()
            )),
        }
        row.took = started.elapsed();
        return row;
    }
    row.problems.push(format!(
        "three cutovers ended before phase {} was reached",
        case.phase
    ));
    row.took = started.elapsed();
    row
}

/// What an operator does when the agent hands over: an unfinished journal is resumed; a
/// finished hand-over is followed as its reason says. Each step's end is recorded; at most
/// three steps.
async fn operate(w: &World, row: &mut Row) {
    for _ in 0..3 {
        let Some(last) = row.last().cloned() else {
            return;
        };
        let unfinished = journal::read(&w.journal())
            .map(|b| b.finished().is_none())
            .unwrap_or(false);
        if unfinished {
            let (code, doc, stderr) = w.group(&["--resume"]);
            let mut ended = Ended::from_output(Some(code), &doc.to_string());
            if ended.outcome == "no summary" {
                ended.reason = stderr;
            }
            row.operator.push(("`--resume`".into(), ended));
            continue;
        }
        if last.outcome != "needs_operator" {
            return;
        }
        let says = |what: &str| last.reason.to_lowercase().contains(what);
        if says("start it on the destination by hand") {
            let step = start_by_hand(w, &lab().destination, "operator-destination");
            let verdict = verify(w);
            row.operator.push((
                format!("{step}; `cutover verify`: {verdict}"),
                Ended {
                    outcome: if verdict == "MOVED" {
                        "done".into()
                    } else {
                        format!("verify: {verdict}")
                    },
                    reason: String::new(),
                    hint: None,
                },
            ));
            return;
        }
        if says("start it on the origin by hand") {
            let step = start_by_hand(w, &lab().origin, "operator-origin");
            row.operator.push((
                step,
                Ended {
                    outcome: "rolled_back".into(),
                    reason: String::new(),
                    hint: None,
                },
            ));
            return;
        }
        row.problems.push(format!(
            "no operator step follows from the hand-over: {}",
            last.reason
        ));
        return;
    }
}

/// Starts the app by hand on `bootstrap`, as the hint says, unless it already runs.
fn start_by_hand(w: &World, bootstrap: &str, name: &str) -> String {
    if app_running(w) {
        return "found it already running".into();
    }
    let apps = if bootstrap == lab().origin {
        crate::inject::on_origin_again(w)
    } else {
        w.apps.clone()
    };
    let ran = testapp::run_argv(&apps.start_argv(bootstrap, name));
    if ran.code == Some(0) {
        "started it by hand".into()
    } else {
        format!("starting it by hand failed: {}", ran.stderr.trim())
    }
}

/// `cutover verify GROUP --format json`: the group's verdict (every partition's, when they
/// agree).
fn verify(w: &World) -> String {
    let out = w
        .command(&["verify", &w.group, "--format", "json"])
        .output()
        .expect("run cutover verify");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut verdicts: Vec<String> = doc["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["partitions"].as_array().cloned().unwrap_or_default())
        .map(|p| p["verdict"].as_str().unwrap_or("?").to_string())
        .collect();
    verdicts.sort();
    verdicts.dedup();
    if verdicts.is_empty() {
        format!("no verdict (exit {:?})", out.status.code())
    } else {
        verdicts.join(", ")
    }
}
