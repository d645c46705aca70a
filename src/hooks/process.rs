//! Exec and shell hooks as processes: spawned without a shell for `exec` (`/bin/sh -c` only
//! for `shell`), with exactly the `CUTOVER_*` variables of the hook contract and none of the
//! variables the configuration read secrets from ([`withhold_variable`]), in a process
//! group of their own that a timeout kills whole (SIGKILL). Dropping a running attempt (cutover
//! interrupted) sends the group SIGTERM and leaves it to [`terminate_interrupted`], which waits
//! a grace for it to exit and then sends SIGKILL: a hook never outlives an interrupted agent.
//!
//! The only unsafe code of cutover outside `kafka/ffi.rs` is here: `kill(2)` of the hook's
//! process group. Output is read by [`super::capture`]; this module decides nothing about
//! what a failure means.

use std::collections::BTreeSet;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::attempt::{Attempt, Failure};
use super::capture::{Reader, Redaction};
use super::spec::HookConfig;
use super::template::Values;

/// How long reaping a killed process may take before the attempt gives up on it.
const REAP_GRACE: Duration = Duration::from_secs(5);

/// The variables of cutover's environment no hook inherits (see [`withhold_variable`]).
static WITHHELD: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Keeps the variable `name` out of the environment of every exec and shell hook cutover runs
/// from now on. The configuration (`cutover.toml`, a runbook) calls it for every variable a
/// `*-env`, `env-from` or `headers-env` key names: its value is a secret (a cluster's or the
/// link's password, another hook's token), and a hook that inherited it could print it into
/// the journal. A hook that needs a secret is given it by its own `env-from`.
pub fn withhold_variable(name: &str) {
    WITHHELD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Runs `argv` once, bounded by the hook's timeout.
pub(super) async fn attempt(
    hook: &HookConfig,
    argv: &[String],
    values: &Values<'_>,
    redaction: &Redaction,
) -> Attempt {
    let Some((program, args)) = argv.split_first() else {
        return Attempt::failed(Failure::Invalid("exec has an empty argv".into()));
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout kills everything the hook started, and a Ctrl-C
        // meant for cutover does not reach the hook half-way through.
        .process_group(0)
        // Dropped (interrupted), the group gets SIGTERM and then SIGKILL: see ProcessGroup.
        .kill_on_drop(false);
    // A hook sees exactly the CUTOVER_* variables of its contract: cutover's own
    // configuration variables can hold the link's password. Nor does it inherit the variables
    // the configuration read secrets from.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CUTOVER_") {
            command.env_remove(name);
        }
    }
    for name in WITHHELD.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        command.env_remove(name);
    }
    command.envs(&hook.env);
    command.envs(hook.secret_env.iter().map(|(k, v)| (k, v.expose())));
    command.envs(values.variables());

    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Attempt::failed(Failure::Spawn {
                program: program.clone(),
                error: e.to_string(),
            })
        }
    };
    let stdout = Reader::start(child.stdout.take(), redaction.margin());
    let stderr = Reader::start(child.stderr.take(), redaction.margin());
    let mut group = ProcessGroup::new(child);

    let failure = match tokio::time::timeout(hook.timeout, group.wait()).await {
        Ok(Ok(status)) => exit_failure(status),
        Ok(Err(e)) => Some(Failure::Wait(e.to_string())),
        Err(_) => {
            group.kill();
            let _ = tokio::time::timeout(REAP_GRACE, group.wait()).await;
            Some(Failure::TimedOut(hook.timeout))
        }
    };
    let exit_code = match &failure {
        None => Some(0),
        Some(Failure::Exit(code)) => Some(*code),
        Some(_) => None,
    };
    Attempt {
        failure,
        exit_code,
        http_status: None,
        stdout: stdout.finish(redaction.secrets()).await,
        stderr: stderr.finish(redaction.secrets()).await,
    }
}

/// The failure an exit status means, if any.
fn exit_failure(status: ExitStatus) -> Option<Failure> {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => None,
        (Some(code), _) => Some(Failure::Exit(code)),
        (None, Some(signal)) => Some(Failure::Signal(signal)),
        (None, None) => Some(Failure::Wait(format!("unknown exit status {status}"))),
    }
}

/// A running hook whose whole process group is killed when it times out, or when the run is
/// dropped (cutover interrupted) before the hook exited.
struct ProcessGroup {
    /// `None` only once dropped into [`INTERRUPTED`].
    child: Option<tokio::process::Child>,
    /// The group's id (the hook's pid, thanks to `process_group(0)`) while the hook has not
    /// been reaped. Once it has, the id may be reused by an unrelated group, so it is forgotten.
    pgid: Option<libc::pid_t>,
}

impl ProcessGroup {
    fn new(child: tokio::process::Child) -> Self {
        let pgid = child
            .id()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .filter(|id| *id > 0);
        ProcessGroup {
            child: Some(child),
            pgid,
        }
    }

    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let Some(child) = self.child.as_mut() else {
            return Err(std::io::Error::other("the hook was already handed over"));
        };
        let status = child.wait().await;
        if status.is_ok() {
            self.pgid = None;
        }
        status
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) has no memory effects. `pgid` is positive (so `-pgid` never means
            // "every process" or "our own group"), and it names the hook's own group: the hook
            // leads it and has not been reaped, so the id cannot have been reused.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ProcessGroup {
    /// The run was dropped with the hook still running (cutover interrupted): ask the group
    /// to stop (SIGTERM) and leave it to [`terminate_interrupted`] to make sure it did.
    fn drop(&mut self) {
        if let (Some(pgid), Some(child)) = (self.pgid.take(), self.child.take()) {
            // SAFETY: as in `kill`.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
            if let Ok(mut groups) = INTERRUPTED.lock() {
                groups.push((pgid, child));
            }
        }
    }
}

/// Hooks whose run was dropped, sent SIGTERM, not yet seen gone: each group's id and its
/// leader, kept so that it is reaped here (a zombie leader would look alive).
static INTERRUPTED: std::sync::Mutex<Vec<(libc::pid_t, tokio::process::Child)>> =
    std::sync::Mutex::new(Vec::new());

/// Whether any process of the group is still alive, reaping its leader once it exited.
fn group_alive(pgid: libc::pid_t, leader: &mut tokio::process::Child) -> bool {
    let _ = leader.try_wait();
    // SAFETY: signal 0 only checks for existence; `pgid` is positive, as in `kill`. The
    // leader may have been reaped just now; the rest of its group keeps the id in use.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// After an interrupt: waits up to `grace` for the hooks sent SIGTERM to exit, then kills what
/// is left (SIGKILL), or at once when `hurry` resolves first (a second Ctrl-C). Returns the
/// groups that were terminated and whether any needed SIGKILL.
pub async fn terminate_interrupted(
    grace: Duration,
    hurry: impl std::future::Future<Output = ()>,
) -> (Vec<i32>, bool) {
    let mut groups: Vec<(libc::pid_t, tokio::process::Child)> = INTERRUPTED
        .lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default();
    if groups.is_empty() {
        return (Vec::new(), false);
    }
    let deadline = tokio::time::Instant::now() + grace;
    let mut hurry = std::pin::pin!(hurry);
    loop {
        let alive = groups
            .iter_mut()
            .fold(false, |any, (g, leader)| group_alive(*g, leader) || any);
        if !alive || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = &mut hurry => break,
        }
    }
    let mut killed = false;
    for (g, leader) in &mut groups {
        if group_alive(*g, leader) {
            killed = true;
            // SAFETY: as in `kill`; the group was alive a moment ago.
            unsafe {
                libc::kill(-*g, libc::SIGKILL);
            }
            let _ = tokio::time::timeout(REAP_GRACE, leader.wait()).await;
        }
    }
    (groups.iter().map(|(g, _)| *g).collect(), killed)
}

#[cfg(test)]
mod tests {
    use super::super::template::quoted;
    use super::*;
    use crate::hooks::testing::{ctx, exec, hook, only, shell, TempDir};
    use crate::hooks::{HookKind, Hooks};

    #[tokio::test]
    async fn exec_keeps_each_substituted_value_inside_its_one_argument() {
        let dir = TempDir::new("argv");
        let marker = dir.path("pwned");
        let m = marker.display();
        let group =
            format!(r#"a b "c" 'd' $(touch {m}) `touch {m}`; touch {m} && \ * {{link}} {{group}}"#);
        // Prints its argument count, then each argument between <>.
        let script = r#"printf '%s\n' "$#"; for a in "$@"; do printf '<%s>\n' "$a"; done"#;
        let hooks = only(
            HookKind::Stop,
            hook(exec(&[
                "/bin/sh",
                "-c",
                script,
                "argv0",
                "{group}",
                "g={group};t={topics}",
                "{cluster}",
                "{run_id}",
                "{link}",
            ])),
        );
        let report = hooks.run(HookKind::Stop, &ctx(&group)).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.stdout,
            format!("5\n<{group}>\n<g={group};t=orders,payments>\n<origin>\n<run-7>\n<migration-link>\n")
        );
        assert!(!marker.exists(), "a value was run as shell code");
        assert_eq!(report.exit_code, Some(0));
        assert_eq!(report.attempts, 1);
        let description = hooks
            .describe(HookKind::Stop, &ctx(&group))
            .expect("configured");
        assert_eq!(description, report.description);
        assert!(
            description.starts_with(r#"["/bin/sh", "-c", "#)
                && description.contains(&format!(r#", "argv0", {}, "#, quoted(&group))),
            "{description}"
        );
    }

    #[tokio::test]
    async fn shell_hooks_get_values_only_as_variables() {
        let dir = TempDir::new("shell");
        let marker = dir.path("pwned");
        let group = format!("x; touch {m}; echo $(touch {m})", m = marker.display());
        let script = r#"printf '%s|%s|%s|%s|%s|%s|%s' "$CUTOVER_GROUP" "$CUTOVER_CLUSTER" "$CUTOVER_TOPICS" "$CUTOVER_RUN_ID" "$CUTOVER_LINK" "$CUTOVER_HOOK" "$EXTRA""#;
        let mut restart = hook(shell(script));
        restart.env.insert("EXTRA".into(), "extra value".into());
        let hooks = only(HookKind::Restart, restart);
        let report = hooks.run(HookKind::Restart, &ctx(&group)).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.stdout,
            format!("{group}|destination|orders,payments|run-7|migration-link|restart|extra value")
        );
        assert!(!marker.exists(), "the group id was run as shell code");
        assert_eq!(
            hooks.describe(HookKind::Restart, &ctx(&group)),
            Some(format!("/bin/sh -c {}", quoted(script)))
        );

        // The script text itself is never substituted, even when a config built by hand holds
        // a placeholder there.
        let hooks = only(HookKind::Stop, hook(shell("printf '%s' '{group}'")));
        let report = hooks.run(HookKind::Stop, &ctx(&group)).await;
        assert_eq!(report.stdout, "{group}");
    }

    /// Whether a process no longer runs (gone, or a zombie waiting for a reaper the container
    /// may not have).
    fn is_gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn a_timeout_kills_the_hooks_whole_process_group() {
        let dir = TempDir::new("timeout");
        let pid_file = dir.path("pid");
        let mut stop = hook(shell(r#"sleep 30 & echo $! > "$PID_FILE"; wait"#));
        stop.timeout = Duration::from_millis(500);
        stop.env
            .insert("PID_FILE".into(), pid_file.display().to_string());
        let hooks = only(HookKind::Stop, stop);
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 1);
        assert_eq!(report.exit_code, None);
        let error = report.error.unwrap_or_default();
        assert!(
            error.starts_with("still running after 500ms after 1 attempt, so its process group was killed; raise timeout in [hooks.stop]"),
            "{error}"
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the hook wrote its child's pid")
            .trim()
            .parse()
            .expect("a pid");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !is_gone(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(is_gone(pid), "the hook's child {pid} outlived the timeout");
    }
}
