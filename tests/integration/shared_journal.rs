//! A group's journal shared in Kafka (`[journal] store = "kafka"`, issue 18) on the lab, with
//! agents on "different hosts" (each its own journal folder, so nothing but the topic is
//! shared): an agent killed in each phase is resumed by another from the shared records; an
//! agent taking a group over fences the first, which stops at its next step (exit 5, naming
//! who took over); two agents started at once move the group exactly once. Every time, the
//! application's own tally shows every record processed exactly once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cutover::journal::{self, Record};
use cutover_lab::testkit::unique;
use serde_json::Value;

use super::world::*;

/// Shares the world's group journals in a topic of their own on the destination (named as
/// `docs/security.md`'s ACLs expect).
fn share(w: &World) {
    set_setting(w, "journal", "store", "\"kafka\"");
    let topic = format!("cutover-journal-{}", unique("sj"));
    set_setting(w, "journal", "topic", &format!("\"{topic}\""));
    set_setting(w, "journal", "partitions", "3");
}

/// Another host's configuration: the same, with a journal folder of its own.
fn host(w: &World, name: &str) -> (PathBuf, PathBuf) {
    let journal_dir = w.dir.join(name);
    let text = std::fs::read_to_string(&w.config).expect("read the config");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("journal-dir") {
                format!("journal-dir = \"{}\"", journal_dir.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = w.dir.join(format!("{name}.toml"));
    std::fs::write(&config, text + "\n").expect("write the config");
    (config, journal_dir)
}

fn on(config: &Path, w: &World, args: &[&str]) -> Command {
    cutover_command(config, &w.sim, args)
}

/// `cutover group --resume` on a host, which must finish the cutover.
fn resume_to_done(config: &Path, w: &World, what: &str) {
    let (code, doc, stderr) = run_json(&mut on(
        config,
        w,
        &["group", &w.group, "--resume", "--format", "json"],
    ));
    assert_eq!(code, 0, "{what}: {doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "done", "{what}");
}

/// The group's journal as a host keeps it.
fn journal_of(w: &World, dir: &Path) -> PathBuf {
    journal::path_for(dir, &cutover::model::GroupId::new(&w.group))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_host_resumes_a_cutover_killed_in_each_phase_from_the_shared_journal() {
    for phase in [
        "proving_exclusion",
        "stopping",
        "awaiting_stop",
        "restarting",
        "awaiting_restart",
    ] {
        let mut interrupted = false;
        for attempt in 1..=3 {
            let w = World::new(&format!("sj-kill-{}", phase.replace('_', "-")), None).await;
            share(&w);
            let (first, first_dir) = host(&w, "host-a");
            let (second, second_dir) = host(&w, "host-b");
            let log = w.dir.join("host-a.stderr");
            let mut child = on(&first, &w, &["group", &w.group, "--format", "json"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn cutover");
            let reached =
                wait_for_phase(&journal_of(&w, &first_dir), phase, Duration::from_secs(60));
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
            let back = journal::read(&journal_of(&w, &first_dir)).unwrap_or_else(|e| {
                panic!(
                    "{phase}: the first agent left no journal ({e}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
            let finished = back.finished().is_some();
            if !reached || finished {
                eprintln!("{phase}: attempt {attempt}: the cutover ended before the kill landed");
                w.assert_exactly_once_of_more_than(0).await;
                continue;
            }
            interrupted = true;
            // The other host knows the run from the shared records alone: a fresh start
            // refuses (exit 5) and says how to continue.
            let out = on(&second, &w, &["group", &w.group]).output().unwrap();
            assert_eq!(out.status.code(), Some(5), "{phase}: {out:?}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
            resume_to_done(
                &second,
                &w,
                &format!("killed in {phase}, resumed elsewhere"),
            );
            // The second host's journal is the whole run, both agents' records, one chain.
            let back = journal::read(&journal_of(&w, &second_dir)).unwrap();
            let starts: std::collections::BTreeSet<String> = back
                .entries
                .iter()
                .filter_map(|e| match &e.record {
                    Record::Started { resumed, .. } => Some(resumed.to_string()),
                    _ => None,
                })
                .collect();
            assert_eq!(starts.len(), 2, "{phase}: a start and a resume: {starts:?}");
            assert!(
                successful_restarts(&back) <= 1,
                "{phase}: the restart hook ran twice"
            );
            let chain = journal::chain::verify(&journal_of(&w, &second_dir)).unwrap();
            assert_eq!(
                chain.verdict,
                journal::chain::Verdict::Intact,
                "{phase}: {chain:?}"
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
async fn an_agent_taking_the_group_over_fences_the_first_which_stops_before_its_next_step() {
    // The first agent's stop hook takes 4 s: the second takes the group while it runs.
    let stop_after = |w: &World| {
        let mut argv = vec![
            "sh".to_string(),
            "-c".into(),
            r#"sleep 4; exec "$@""#.into(),
            "sh".into(),
        ];
        argv.extend(w.apps.stop_argv());
        argv
    };
    let w = World::new("sj-fence", None).await;
    let slow_stop = toml_array(&stop_after(&w));
    set_setting(&w, "hooks.stop", "exec", &slow_stop);
    share(&w);
    let (first, first_dir) = host(&w, "host-a");
    let (second, _) = host(&w, "host-b");
    let (third, _) = host(&w, "host-c");
    let child = on(&first, &w, &["group", &w.group, "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cutover");
    if !wait_for_phase(
        &journal_of(&w, &first_dir),
        "stopping",
        Duration::from_secs(60),
    ) {
        let mut child = child;
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "the first agent never began the stop: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    resume_to_done(&second, &w, "the second agent took over and finished");
    // The first agent's hook ended; its next record was refused: it stopped there.
    let out = child.wait_with_output().unwrap();
    let first_err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "the fenced agent: {first_err}");
    assert!(
        first_err.contains("was taken over by another agent (agent "),
        "it names who took over: {first_err}"
    );
    // A third host reports the run from the shared journal.
    let (code, report, stderr) = run_json(&mut on(
        &third,
        &w,
        &["report", &w.group, "--format", "json"],
    ));
    assert_eq!(code, 0, "{stderr}");
    let run = &report["cutovers"][0];
    assert_eq!(run["outcome"], Value::from("done"), "{report:#}");
    w.assert_exactly_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_started_at_once_move_the_group_exactly_once() {
    let w = World::new("sj-race", None).await;
    share(&w);
    let (first, _) = host(&w, "host-a");
    let (second, _) = host(&w, "host-b");
    let spawn = |config: &Path| {
        on(config, &w, &["group", &w.group, "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cutover")
    };
    let (a, b) = (spawn(&first), spawn(&second));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(5)],
        "exactly one proceeds:\n{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    w.assert_exactly_once().await;
}
