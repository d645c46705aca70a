//! Strategy B of issue 17: a copy that does not keep the origin's offsets (a replicator's, here
//! the emulator's stand-in, five records short on every partition). `cutover group
//! --offsets-by-time rewind|skip` finds by time where a real consumer resumes on the copy, moves
//! it there, and the summary predicts, per partition, how many records it will read again
//! (rewind) or skip (skip). The application's own tally, with the copy's offsets read back in
//! the origin's, must show exactly those duplicates and gaps, and nothing else.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, tally, Instances, Partition};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::Value;

use crate::world::{cutover_command, run_json, write_config};

const PARTITIONS: i32 = 2;
/// How many records each copy partition starts into its source.
const SHIFT: i64 = 5;

/// `n` records for each partition.
fn each(n: usize) -> Vec<(i32, usize)> {
    (0..PARTITIONS).map(|p| (p, n)).collect()
}

/// A topic of 100 records a partition on the origin, and its copy `SHIFT` records short:
/// (topic, group name, the copy).
async fn replicated(label: &str) -> (String, String, Sim) {
    let name = unique(label);
    let topic = format!("{name}-topic");
    create_topic(&lab().origin, &topic, PARTITIONS).await;
    // Written in bursts: many records share a millisecond, so a timestamp names several. The
    // first ten come apart, so the records the copy leaves out (its first five) share no
    // timestamp with the last ones a group reads.
    produce(&lab().origin, &topic, &each(10)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    produce(&lab().origin, &topic, &each(90)).await;
    let copy = Sim::start_replicator(SHIFT, &[("consumer.offset.sync.enable", "false")]).await;
    copy.create_mirror(&topic).await;
    copy.wait_caught_up(&topic, PARTITIONS).await;
    (topic, format!("{name}-group"), copy)
}

/// Moves a consumer onto the shifted copy with `mode`; returns the summary and, per partition,
/// the duplicates and gaps the app's own tally shows across both clusters. `killed`: the agent
/// is SIGKILLed while the stop hook runs, and resumed.
async fn move_by_time(mode: &str, killed: bool) -> (Value, BTreeMap<i32, (u64, u64)>) {
    let (topic, group, copy) = replicated("replicated").await;

    let apps = Instances::new(&group, &[&topic], Protocol::Classic, 1);
    apps.start(&lab().origin, "origin");
    let first: BTreeMap<Partition, i64> =
        (0..PARTITIONS).map(|p| ((topic.clone(), p), 100)).collect();
    testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(30));
    let origin = testapp::lab_cluster(Role::Origin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while testapp::committed(&origin, &group).await != first {
        assert!(
            Instant::now() < deadline,
            "the app never committed what it read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = testapp::scratch_dir("replicated");
    // A slow stop hook when the agent is to be killed while it runs.
    let stop = if killed {
        let mut argv = vec![
            "sh".to_string(),
            "-c".into(),
            r#"sleep 2; exec "$@""#.into(),
            "sh".into(),
        ];
        argv.extend(apps.stop_argv());
        argv
    } else {
        apps.stop_argv()
    };
    let config = write_config(
        &dir,
        &stop,
        &apps.start_argv(&lab().destination, "copy"),
        &apps.start_argv(&lab().origin, "origin-again"),
    );
    let args = [
        "group",
        group.as_str(),
        "--offsets-by-time",
        mode,
        "--format",
        "json",
    ];
    let out = if killed {
        let journal =
            cutover::journal::path_for(&dir.join("journal"), &cutover::model::GroupId::new(&group));
        let mut child = cutover_command(&config, &copy, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn cutover");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&journal)
            .is_ok_and(|j| j.contains(r#""effect":"hook:stop""#))
        {
            assert!(Instant::now() < deadline, "the stop hook never began");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        // A resume without the mode would read the copy untranslated: refused, naming it.
        let plain = cutover_command(&config, &copy, &["group", group.as_str(), "--resume"])
            .output()
            .expect("run cutover");
        let said = String::from_utf8_lossy(&plain.stderr).into_owned();
        assert_eq!(plain.status.code(), Some(2), "{said}");
        assert!(
            said.contains(&format!("--offsets-by-time {mode} --resume")),
            "{said}"
        );
        let mut resume = args.to_vec();
        resume.push("--resume");
        run_json(&mut cutover_command(&config, &copy, &resume))
    } else {
        // The dry run shows where the group would start on the copy, changing nothing.
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        let (code, plan, stderr) = run_json(&mut cutover_command(&config, &copy, &dry));
        assert_eq!(code, 0, "the pre-check passes: {plan}\n{stderr}");
        let partitions = plan["offsets_by_time"]["partitions"].as_array().cloned();
        assert_eq!(
            partitions.map(|p| p.len()),
            Some(PARTITIONS as usize),
            "{plan}"
        );
        run_json(&mut cutover_command(&config, &copy, &args))
    };
    let (code, summary, stderr) = out;
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert_eq!(summary["outcome"], "done", "{summary}");

    // Records written after the move reach the app through the copy.
    produce(&lab().origin, &topic, &each(20)).await;
    copy.wait_caught_up(&topic, PARTITIONS).await;
    let expected: BTreeMap<Partition, i64> =
        (0..PARTITIONS).map(|p| ((topic.clone(), p), 120)).collect();
    // The copy's offsets, read back in the origin's.
    let read = || {
        let mut all = tally(&apps.outs("origin"));
        all.add_as(tally(&apps.outs("copy")), |tp, o| (tp.clone(), o + SHIFT));
        all
    };
    // Until the app has read up to the end (a skipped record never comes: wait for the last).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(0..PARTITIONS).all(|p| {
        read()
            .counts
            .get(&(topic.clone(), p))
            .is_some_and(|c| c.contains_key(&119))
    }) {
        assert!(
            Instant::now() < deadline,
            "the app never read the new records"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    apps.stop();
    let t = read();
    assert!(
        t.unexpected(&expected).is_empty(),
        "{:?}",
        t.unexpected(&expected)
    );
    let duplicates = t.duplicates();
    let gaps = t.gaps(&expected);
    let counted = (0..PARTITIONS)
        .map(|p| {
            let tp = (topic.clone(), p);
            let twice: u64 = duplicates
                .get(&tp)
                .map_or(0, |d| d.iter().map(|(_, n)| u64::from(n - 1)).sum());
            let missing = gaps.get(&tp).map_or(0, |g| g.len() as u64);
            (p, (twice, missing))
        })
        .collect();
    (summary, counted)
}

/// The summary's prediction per partition: (records read twice, records skipped).
fn predicted(summary: &Value) -> BTreeMap<i32, (u64, u64)> {
    summary["offsets_by_time"]["partitions"]
        .as_array()
        .unwrap_or_else(|| panic!("no translation in the summary: {summary}"))
        .iter()
        .map(|p| {
            assert_eq!(p["committed"], 100, "{p}");
            assert_eq!(p["copy_differs"], false, "{p}");
            let n = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k}: {p}"));
            (
                p["partition"].as_i64().unwrap() as i32,
                (n("read_twice"), n("skipped")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_reads_again_exactly_the_records_the_summary_predicted_and_skips_none() {
    let (summary, counted) = move_by_time("rewind", false).await;
    let predicted = predicted(&summary);
    assert_eq!(counted, predicted, "{summary}");
    assert!(
        predicted
            .values()
            .all(|(twice, skipped)| *twice >= 1 && *skipped == 0),
        "rewind reads at least the last processed record again: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_reads_nothing_twice_and_skips_exactly_what_the_summary_predicted() {
    let (summary, counted) = move_by_time("skip", false).await;
    let predicted = predicted(&summary);
    assert_eq!(counted, predicted, "{summary}");
    assert!(
        predicted.values().all(|(twice, _)| *twice == 0),
        "{summary}"
    );
}

/// A group stopped in the middle of a millisecond's records (its offsets committed there, as
/// a consumer stopped mid-burst leaves them): `skip` leaves out exactly the records of that
/// millisecond it had not read yet, as predicted, and reads every later record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_leaves_out_exactly_the_unread_records_of_the_last_timestamp() {
    use cutover_lab::testkit::{commit_as_member, read_all};
    let (topic, group, copy) = replicated("replicated-mid").await;
    // On each partition, stop between two records of the same millisecond (past the first ten).
    let records = read_all(&lab().origin, &topic, PARTITIONS);
    let stop_at: Vec<(i32, i64)> = (0..PARTITIONS)
        .map(|p| {
            let r = &records[&p];
            let at = (10..r.len() - 1)
                .rev()
                .find(|&i| r[i].timestamp == r[i + 1].timestamp)
                .expect("a millisecond with two records");
            (p, r[at].offset + 1)
        })
        .collect();
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &topic,
        PARTITIONS as usize,
        &stop_at,
    );

    let apps = Instances::new(&group, &[&topic], Protocol::Classic, 1);
    let dir = testapp::scratch_dir("replicated-mid");
    // The group has no process of its own on the origin: nothing to stop or start there.
    let nothing = vec!["true".to_string()];
    let config = write_config(
        &dir,
        &nothing,
        &apps.start_argv(&lab().destination, "copy"),
        &nothing,
    );
    let args = [
        "group",
        group.as_str(),
        "--offsets-by-time",
        "skip",
        "--format",
        "json",
    ];
    let (code, summary, stderr) = run_json(&mut cutover_command(&config, &copy, &args));
    assert_eq!(code, 0, "{summary}\n{stderr}");
    let skipped: BTreeMap<i32, i64> = summary["offsets_by_time"]["partitions"]
        .as_array()
        .unwrap_or_else(|| panic!("{summary}"))
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap() as i32,
                p["skipped"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(skipped.values().all(|n| *n >= 1), "{summary}");

    // Records written after the move come through the copy. The app reads the copy to its end
    // (120 − SHIFT records a partition): nothing twice, the predicted records left out right
    // after where the group stood, every later one once.
    produce(&lab().origin, &topic, &each(20)).await;
    copy.wait_caught_up(&topic, PARTITIONS).await;
    let last = 120 - SHIFT - 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(0..PARTITIONS).all(|p| {
        tally(&apps.outs("copy"))
            .counts
            .get(&(topic.clone(), p))
            .is_some_and(|c| c.contains_key(&last))
    }) {
        assert!(
            Instant::now() < deadline,
            "the app never read the copy to its end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    apps.stop();
    let t = tally(&apps.outs("copy"));
    assert!(t.duplicates().is_empty(), "{:?}", t.duplicates());
    for (p, from) in &stop_at {
        let read: Vec<i64> = t.counts[&(topic.clone(), *p)]
            .keys()
            .map(|o| o + SHIFT)
            .collect();
        let expected: Vec<i64> = (from + skipped[p]..120).collect();
        assert_eq!(read, expected, "partition {p}: {summary}");
    }
}

/// Killed while the stop hook runs, the cutover resumes only with the mode it began with, and
/// then reads again exactly what it predicted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_move_by_time_resumes_only_in_its_own_mode_and_keeps_its_prediction() {
    let (summary, counted) = move_by_time("rewind", true).await;
    assert_eq!(counted, predicted(&summary), "{summary}");
}
