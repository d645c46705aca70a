//! The faults themselves, each injected into a running cutover and taken away again: a broker
//! restarted (`tests/lab/lab broker restart`) or frozen (SIGSTOP, then SIGCONT), the link's
//! REST API failing (the emulator's `faults/rest` knob), its offset sync or copy stalling (its
//! `faults` knob), a hook that hangs (a wrapper script around the world's own hook), the app
//! started again on the origin by someone else, and the agent SIGKILLed.

use std::path::PathBuf;
use std::time::Duration;

use cutover_lab::testkit::{lab, run_lab};
use serde_json::{json, Value};

use crate::world::{set_setting, toml_array, World};

/// A cluster of the lab, by the name `tests/lab/lab` knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Origin,
    Destination,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Origin => "origin",
            Side::Destination => "destination",
        }
    }
}

/// One fault of the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The cluster's only broker stopped cleanly (SIGTERM) and started again on the same data.
    BrokerRestarted(Side),
    /// The cluster's only broker frozen (SIGSTOP) for [`FREEZE`], longer than the agent's
    /// request timeout ([`REQUEST_TIMEOUT`]), then thawed.
    BrokerFrozen(Side),
    /// The link's REST API answers 503 to [`REST_FAILURES`] calls in a row: more than one
    /// request's retries.
    Rest503,
    /// The link's REST API holds [`REST_TIMEOUTS`] calls past the agent's timeout.
    RestTimeouts,
    /// The link's offset sync stops copying (link mode: the final offsets never come).
    SyncStopped,
    /// Every offset-sync tick reads the origin (and the filters) and writes [`SYNC_DELAY_MS`]
    /// later, so a tick under way when the exclusion is written still lands after it. Less
    /// than the 1 s interval: the agent's proof assumes a tick lands within one interval of
    /// its read (docs/commands.md); a later one is caught before the restart and rolled back,
    /// but one landing between the agent's offset write and the restart would rewind it.
    SyncSlow,
    /// The mirror stops copying the group's topic while REST still says ACTIVE.
    MirrorStalled,
    /// The stop hook hangs past its timeout on its first attempt (the retry works).
    StopHookHangs,
    /// The restart hook starts the app, then hangs past its timeout, every attempt (as a
    /// deployment tool waiting for a rollout that never reports).
    RestartHookHangs,
    /// Someone else starts the consumer on the origin again (the same deployment, scaled up).
    OriginRestartedBySomeoneElse,
    /// The agent SIGKILLed; then `cutover group --resume`.
    AgentKilled,
}

/// The agent's request timeout in the campaign (`[link] timeout`: one request to the link or
/// a cluster).
pub(crate) const REQUEST_TIMEOUT: &str = "3s";
/// How long a frozen broker stays frozen: past the request timeout.
pub(crate) const FREEZE: Duration = Duration::from_secs(5);
/// 503 answers in a row: four requests' worth of attempts (a request and its 3 retries).
pub(crate) const REST_FAILURES: u32 = 16;
/// Calls held past the timeout (5 s, the agent gives up at 3 s).
pub(crate) const REST_TIMEOUTS: u32 = 3;
/// How late a slow offset-sync tick writes what it read (the interval is 1 s).
pub(crate) const SYNC_DELAY_MS: u64 = 800;
/// How long a hook hangs: far past its timeout.
const HANG: &str = "120";
/// The hook timeout of the hook that hangs.
pub(crate) const HOOK_TIMEOUT: &str = "4s";

impl Fault {
    /// How the table names it.
    pub(crate) fn describe(self) -> String {
        match self {
            Fault::BrokerRestarted(side) => format!("{} broker stopped and restarted", side.name()),
            Fault::BrokerFrozen(side) => format!(
                "{} broker frozen (SIGSTOP) {} s, past the {REQUEST_TIMEOUT} request timeout",
                side.name(),
                FREEZE.as_secs()
            ),
            Fault::Rest503 => format!("link REST: {REST_FAILURES} × HTTP 503 in a row"),
            Fault::RestTimeouts => {
                format!("link REST: {REST_TIMEOUTS} calls held past the {REQUEST_TIMEOUT} timeout")
            }
            Fault::SyncStopped => "offset sync stalls (stopped)".into(),
            Fault::SyncSlow => format!(
                "offset sync stalls: each tick writes {} ms after it reads",
                SYNC_DELAY_MS
            ),
            Fault::MirrorStalled => "mirror copy stalls (REST still ACTIVE)".into(),
            Fault::StopHookHangs => {
                format!("stop hook hangs past its {HOOK_TIMEOUT} timeout (first attempt)")
            }
            Fault::RestartHookHangs => format!(
                "restart hook starts the app, then hangs past its {HOOK_TIMEOUT} timeout (every attempt)"
            ),
            Fault::OriginRestartedBySomeoneElse => "consumer restarted on the origin by someone else".into(),
            Fault::AgentKilled => "agent SIGKILLed, then `--resume`".into(),
        }
    }
}

/// The world's app as it is started again on the origin, by the rollback hook or by hand:
/// waiting up to 50 s for its partitions, not 30 s. A broker restarted while the app stopped
/// may have lost its LeaveGroup; the reloaded coordinator then lists the stopped member until
/// its 45 s session (librdkafka's default) runs out, and a classic rebalance waits for it. A
/// start that fails at 50 s still stops what it began within the rollback hook's 60 s.
pub(crate) fn on_origin_again(w: &World) -> cutover_lab::testkit::testapp::Instances {
    let mut apps = w.apps.clone();
    for app in &mut apps.apps {
        app.ready_timeout = Duration::from_secs(50);
    }
    apps
}

/// Sets the campaign's configuration on a fresh world: short timeouts, so that a fault that
/// has to be waited out costs seconds; and for the hook faults, the hanging hook.
pub(crate) fn configure(w: &World, fault: Fault, link_mode: bool) {
    set_setting(w, "link", "timeout", &json!(REQUEST_TIMEOUT).to_string());
    set_setting(w, "cutover", "stop-timeout", "\"10s\"");
    set_setting(w, "cutover", "mirror-timeout", "\"8s\"");
    set_setting(w, "cutover", "restart-timeout", "\"30s\"");
    set_setting(w, "hooks.stop", "timeout", "\"15s\"");
    set_setting(w, "hooks.restart", "timeout", "\"30s\"");
    // Starting the app again on the origin waits out any member of it that a restarted
    // coordinator still lists (its classic rebalance waits for it): up to the 45 s session.
    set_setting(w, "hooks.rollback", "timeout", "\"60s\"");
    set_setting(
        w,
        "hooks.rollback",
        "exec",
        &toml_array(&on_origin_again(w).start_argv(&lab().origin, "origin-again")),
    );
    if link_mode {
        crate::world::final_offsets(w, "link");
    }
    match fault {
        Fault::StopHookHangs => {
            // Hangs once, then runs the world's own stop hook.
            let script = hook_script(
                w,
                "stop-hangs-once.sh",
                &format!(
                "if [ -e \"$0.ran\" ]; then exec \"$@\"; fi\n: > \"$0.ran\"\nexec sleep {HANG}\n"
            ),
            );
            wrap_hook(w, "stop", &script, &w.apps.stop_argv());
        }
        Fault::RestartHookHangs => {
            // Starts the app (a later attempt finds it running and says so), then hangs.
            let script = hook_script(
                w,
                "restart-then-hang.sh",
                &format!("\"$@\"\nexec sleep {HANG}\n"),
            );
            wrap_hook(
                w,
                "restart",
                &script,
                &w.apps.start_argv(&lab().destination, "destination"),
            );
        }
        Fault::OriginRestartedBySomeoneElse => {
            // The stop is confirmed over 10 reads (2.5 s at the 250 ms poll), so that an app
            // started again right after the stop hook is seen doing so.
            set_setting(w, "cutover", "stable-reads", "10");
        }
        _ => {}
    }
}

fn hook_script(w: &World, name: &str, body: &str) -> PathBuf {
    let script = w.dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).expect("write the hook script");
    script
}

/// Replaces `[hooks.KIND] exec` with `sh SCRIPT ORIGINAL…` and sets the short hook timeout.
fn wrap_hook(w: &World, kind: &str, script: &std::path::Path, original: &[String]) {
    let mut argv = vec!["sh".to_string(), script.display().to_string()];
    argv.extend(original.iter().cloned());
    set_setting(w, &format!("hooks.{kind}"), "exec", &toml_array(&argv));
    set_setting(
        w,
        &format!("hooks.{kind}"),
        "timeout",
        &json!(HOOK_TIMEOUT).to_string(),
    );
}

/// A fault under way, to be taken away once the cutover has ended.
#[derive(Default)]
pub(crate) struct Injected {
    /// A broker restart running beside the cutover: how long it took.
    restart: Option<std::thread::JoinHandle<Duration>>,
    /// A frozen broker's pid, and the thread that thaws it after [`FREEZE`].
    frozen: Option<(u32, std::thread::JoinHandle<()>)>,
    /// What the injection said (the lab's restart line).
    pub(crate) note: Option<String>,
}

/// The pid of a cluster's main node, from `tests/lab/lab status --json`.
fn broker_pid(side: Side) -> u32 {
    let status: Value =
        serde_json::from_str(&run_lab(&["status", "--json"])).expect("lab status --json is JSON");
    status["clusters"][side.name()]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid for {} in {status:#}", side.name())) as u32
}

fn signal(sig: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill(1) runs")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// PUTs the emulator's REST fault knob.
async fn rest_faults(w: &World, faults: Value) {
    let r = w
        .sim
        .http
        .put(format!("{}/faults/rest", w.sim.sim.admin_url()))
        .json(&faults)
        .send()
        .await
        .expect("faults/rest");
    assert_eq!(r.status().as_u16(), 204, "faults/rest {faults}");
}

/// Starts the fault now, in the phase the cutover just entered. `agent` is the agent's pid.
pub(crate) async fn inject(w: &World, fault: Fault, agent: u32) -> Injected {
    let mut injected = Injected::default();
    match fault {
        Fault::BrokerRestarted(side) => {
            injected.restart = Some(std::thread::spawn(move || {
                let started = std::time::Instant::now();
                run_lab(&["broker", "restart", side.name()]);
                started.elapsed()
            }));
        }
        Fault::BrokerFrozen(side) => {
            let pid = broker_pid(side);
            signal("-STOP", pid);
            let thaw = std::thread::spawn(move || {
                std::thread::sleep(FREEZE);
                signal("-CONT", pid);
            });
            injected.frozen = Some((pid, thaw));
        }
        Fault::Rest503 => {
            rest_faults(
                w,
                json!({ "remaining": REST_FAILURES, "kind": "status", "status": 503 }),
            )
            .await
        }
        Fault::RestTimeouts => {
            rest_faults(
                w,
                json!({ "remaining": REST_TIMEOUTS, "kind": "timeout", "timeout_ms": 5000 }),
            )
            .await
        }
        Fault::SyncStopped => w.sim.faults(json!({ "offset_sync_stopped": true })).await,
        Fault::SyncSlow => {
            w.sim
                .faults(json!({ "offset_sync_delay_ms": SYNC_DELAY_MS }))
                .await
        }
        Fault::MirrorStalled => {
            let topics: Vec<&str> = w.topics.iter().map(|(t, _)| t.as_str()).collect();
            w.sim.faults(json!({ "stalled_topics": topics })).await
        }
        Fault::StopHookHangs | Fault::RestartHookHangs => {} // in the hook itself
        Fault::OriginRestartedBySomeoneElse => {
            // Someone else's restart of the same app on the origin (a stop first if it runs,
            // as a redeploy does), writing its own output file.
            use cutover_lab::testkit::testapp::{processes_with_arg, run_argv};
            let running = w
                .apps
                .apps
                .iter()
                .any(|a| !processes_with_arg(&a.pidfile.display().to_string()).is_empty());
            if running {
                run_argv(&w.apps.stop_argv());
            }
            let ran = run_argv(&w.apps.start_argv(&lab().origin, "someone-else"));
            injected.note = Some(format!(
                "someone else {} it on the origin: exit {:?}{}",
                if running { "restarted" } else { "started" },
                ran.code,
                if ran.code == Some(0) {
                    String::new()
                } else {
                    format!(": {}", ran.stderr.trim())
                }
            ));
        }
        Fault::AgentKilled => signal("-KILL", agent),
    }
    injected
}

impl Injected {
    /// Takes the fault away: waits for a restart to finish, thaws a frozen broker, clears the
    /// emulator's knobs.
    pub(crate) async fn clear(&mut self, w: &World) {
        if let Some(restart) = self.restart.take() {
            let took = restart.join().expect("the broker restart ran to its end");
            self.note = Some(format!(
                "the broker answered again {:.1} s after the SIGTERM",
                took.as_secs_f64()
            ));
        }
        if let Some((_, thaw)) = self.frozen.take() {
            thaw.join().expect("the thaw ran");
        }
        w.sim.faults(json!({})).await;
        rest_faults(w, json!({ "remaining": 0 })).await;
    }
}

impl Drop for Injected {
    /// A run that fails half-way never leaves a broker frozen for the tests after it.
    fn drop(&mut self) {
        if let Some((pid, _)) = self.frozen.take() {
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        if let Some(restart) = self.restart.take() {
            let _ = restart.join();
        }
    }
}
