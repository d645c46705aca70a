//! Interrupting `cutover group` on the lab: killed (SIGKILL) in each phase, Ctrl-C in each
//! phase, SIGINT or SIGTERM while a hook runs (a hook that ignores SIGTERM, a second signal).
//! Each time the journal is left resumable and `--resume` reaches the same end as an
//! uninterrupted run, with every message processed exactly once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover::journal::{self, Record};
use serde_json::json;

use super::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_killed_in_each_phase_and_resumed_reaches_the_same_end_with_no_duplicate() {
    for phase in [
        "stopping",
        "awaiting_stop",
        "awaiting_sync",
        "excluding",
        "confirming_exclusion",
        "restarting",
        "awaiting_restart",
    ] {
        // A short phase can end before the kill lands; then the world is discarded (after
        // checking it anyway) and the kill is tried again, at most three times.
        let mut interrupted = false;
        for attempt in 1..=3 {
            let w = World::new(&format!("co-kill-{}", phase.replace('_', "-")), None).await;
            // The phases above are the link mode's (the simulator kills the agent mode in each
            // of its phases: group-agent-killed-in-each-phase.toml).
            final_offsets(&w, "link");
            // A sync tick that lands while the stop is being confirmed lets the agent pass
            // awaiting_sync in the same step: hold the link's offset sync until the kill.
            let hold_sync = phase == "awaiting_sync";
            if hold_sync {
                w.sim.faults(json!({ "offset_sync_stopped": true })).await;
            }
            let mut child = w
                .command(&["group", &w.group, "--format", "json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn cutover");
            let reached = wait_for_phase(&w.journal(), phase, Duration::from_secs(60));
            child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL
            child.wait().unwrap();
            if hold_sync {
                w.sim.faults(json!({ "offset_sync_stopped": false })).await;
            }
            let finished = journal::read(&w.journal()).unwrap().finished().is_some();
            if !reached || finished {
                eprintln!("{phase}: attempt {attempt}: the cutover ended before the kill landed");
                w.assert_exactly_once_of_more_than(0).await;
                continue;
            }
            interrupted = true;
            // A fresh start refuses (exit 5) and says how to continue.
            let out = w.command(&["group", &w.group]).output().unwrap();
            assert_eq!(out.status.code(), Some(5), "{phase}: {out:?}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
            let (code, doc, stderr) = w.group(&["--resume"]);
            assert_eq!(code, 0, "killed in {phase}, resumed: {doc:#}\n{stderr}");
            assert_eq!(outcome(&doc), "done");
            // The resumed run re-verified instead of re-running blindly: the restart hook
            // succeeded once at most, per the journal.
            let back = journal::read(&w.journal()).unwrap();
            assert!(
                successful_restarts(&back) <= 1,
                "{phase}: the restart hook ran twice"
            );
            w.assert_exactly_once().await;
            break;
        }
        assert!(
            interrupted,
            "{phase}: three cutovers ended before the kill landed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_each_agent_mode_phase_is_journaled_and_resume_reaches_the_same_end() {
    // The agent mode's phases that last long enough for a signal to land in them reliably;
    // the instant ones (the offset write and its read-back) are covered by the simulator.
    for phase in [
        "proving_exclusion",
        "stopping",
        "awaiting_stop",
        "restarting",
        "awaiting_restart",
    ] {
        let mut interrupted = false;
        for attempt in 1..=3 {
            let w = World::new(&format!("co-sigint-{}", phase.replace('_', "-")), None).await;
            let child = w
                .command(&["group", &w.group, "--format", "json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn cutover");
            let reached = wait_for_phase(&w.journal(), phase, Duration::from_secs(60));
            let sent = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .expect("kill(1) runs");
            assert!(sent.success());
            let out = child.wait_with_output().expect("cutover ends");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let back = journal::read(&w.journal()).unwrap();
            if !reached || out.status.code() != Some(130) {
                eprintln!("{phase}: attempt {attempt}: the cutover ended before SIGINT landed");
                w.assert_exactly_once_of_more_than(0).await;
                continue;
            }
            interrupted = true;
            assert!(
                stderr.contains("journaled the interruption"),
                "{phase}: {stderr}"
            );
            assert!(
                back.entries
                    .iter()
                    .any(|e| matches!(&e.record, Record::Note { message }
                    if message.starts_with("interrupted by SIGINT"))),
                "{phase}: no interruption in the journal"
            );
            let (code, doc, stderr) = w.group(&["--resume"]);
            assert_eq!(
                code, 0,
                "interrupted in {phase}, resumed: {doc:#}\n{stderr}"
            );
            assert_eq!(outcome(&doc), "done");
            w.assert_exactly_once().await;
            break;
        }
        assert!(
            interrupted,
            "{phase}: three cutovers ended before SIGINT landed"
        );
    }
}

/// Interrupts `cutover group` with `signal` while its first stop hook hangs (ignoring SIGTERM
/// when `stubborn`), and checks what an operator must be able to rely on: exit 130 with the
/// exact resume command, what was stopped said on stderr, the hook gone (SIGTERM, and SIGKILL
/// after the grace for a stubborn one), the interruption journaled, and `--resume` reaching the
/// same end as an uninterrupted run.
async fn interrupted_during_a_hook(label: &str, signal: &str, stubborn: bool, twice: bool) {
    let w = World::new(label, None).await;
    let script = w.dir.join("stop-slowly-once.sh");
    let trap = if stubborn { "trap '' TERM\n" } else { "" };
    std::fs::write(
        &script,
        format!("#!/bin/sh\nif [ -e \"$0.ran\" ]; then exec \"$@\"; fi\n: > \"$0.ran\"\n{trap}echo $$ > \"$0.pid\"\nexec sleep 120\n"),
    )
    .expect("write the hook");
    let mut stop = vec!["sh".to_string(), script.display().to_string()];
    stop.extend(w.apps.stop_argv());
    let config = std::fs::read_to_string(&w.config).expect("read the config");
    let original = format!("exec = {}", toml_array(&w.apps.stop_argv()));
    assert!(config.contains(&original), "{config}");
    let config = config.replacen(&original, &format!("exec = {}", toml_array(&stop)), 1);
    std::fs::write(&w.config, config).expect("write the config");

    let child = w
        .command(&["group", &w.group])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cutover group");
    let pid_file = PathBuf::from(format!("{}.pid", script.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let hook_pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the stop hook never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sent = Instant::now();
    let interrupt = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(interrupt.success());
    if twice {
        // The operator does not want to wait for the grace: a second signal kills at once.
        std::thread::sleep(Duration::from_millis(500));
        let again = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(again.success());
    }
    let out = child.wait_with_output().expect("cutover ends");
    let took = sent.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted (SIG{signal}): stopping `cutover group {}`",
            w.group
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("cutover group {} --resume", w.group)),
        "{stderr}"
    );
    // The hook did not outlive the agent: SIGTERM, then SIGKILL after the grace if need be.
    let how = if stubborn {
        ", then SIGKILL"
    } else {
        ", and it exited"
    };
    assert!(
        stderr.contains(&format!(
            "terminated the running hook's process group {hook_pid}: SIGTERM{how}"
        )),
        "{stderr}"
    );
    if stubborn && twice {
        assert!(
            stderr.contains(&format!("SIG{signal} again: killing the hooks now")),
            "{stderr}"
        );
        assert!(
            took < Duration::from_secs(4),
            "the grace was cut short: {took:?}"
        );
    } else if stubborn {
        assert!(
            took >= Duration::from_secs(5),
            "the grace was kept: {took:?}"
        );
    }
    assert!(
        !Path::new(&format!("/proc/{hook_pid}")).exists(),
        "the interrupted stop hook (pid {hook_pid}) is still there"
    );
    // The interruption is in the journal, which stays resumable.
    assert!(
        stderr.contains("journaled the interruption (phase stopping)"),
        "{stderr}"
    );
    let back = journal::read(&w.journal()).expect("the journal");
    assert!(
        back.entries.iter().any(|e| matches!(&e.record, Record::Note { message }
            if message.starts_with(&format!("interrupted by SIG{signal}; hook process group(s) [{hook_pid}] terminated")))),
        "{:#?}",
        back.entries.last()
    );
    let (code, doc, stderr) = w.group(&["--resume"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "done", "{doc:#}");
    w.assert_exactly_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_hook_terminates_it_exits_130_and_the_cutover_resumes_to_the_same_end() {
    interrupted_during_a_hook("co-int", "INT", false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_hook_that_ignores_it_kills_it_after_the_grace_and_resumes() {
    interrupted_during_a_hook("co-term", "TERM", true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_kills_a_hook_that_ignores_sigterm_at_once() {
    interrupted_during_a_hook("co-int2", "INT", true, true).await;
}
