//! `cutover group` end to end on the lab (the world each test builds is in `world.rs`): every
//! group shape, refusals, the agent mode's proof and offset write, promotion, and journal
//! history. Each test ends by checking every message was processed exactly once.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cutover::journal::{self, Record};
use cutover::model::{GroupId, Role};
use cutover_lab::testkit::testapp::{self, tally, BackgroundProducer, Instances};
use cutover_lab::testkit::{lab, Protocol};
use serde_json::{json, Value};

use super::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_cut_over_while_its_producer_writes_and_every_message_is_processed_once() {
    let w = World::new("co-e2e", None).await;
    // The twin of group-cutover.toml: the link's offset sync writes the final offsets.
    final_offsets(&w, "link");
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "done", "{doc:#}");
    assert_same_as_scenario(code, &doc, "group-cutover.toml", 2);
    // The downtime is the measured stop → restart, and the sync wait is part of it.
    let downtime = doc["timings"]["downtime_ms"].as_i64().expect("downtime");
    let sync_wait = doc["timings"]["sync_wait_ms"].as_i64().expect("sync wait");
    assert!(sync_wait <= downtime && downtime < 30_000, "{doc:#}");
    // The app now runs on the destination and the link's filters exclude the group.
    let members = testapp::members(&testapp::lab_cluster(Role::Destination), &w.group).await;
    assert_eq!(members.len(), 1, "one member on the destination");
    let configs = w
        .sim
        .get(&w.sim.link_url("/configs/consumer.offset.group.filters"))
        .await
        .1;
    let filters = configs["value"].as_str().unwrap_or_default().to_string();
    assert!(
        filters.contains(&format!(r#""name":"{}""#, w.group)) && filters.contains("EXCLUDE"),
        "{filters}"
    );
    // Progress was shown on stderr while waiting: for the stop always, and for the sync
    // whenever there was a sync wait (a sync tick can copy the final offsets before the group
    // is seen stopped, and then there is nothing to wait for: sync_wait_ms is 0).
    assert!(stderr.contains("awaiting_stop: waiting for"), "{stderr}");
    if sync_wait > 0 {
        assert!(stderr.contains("awaiting_sync: waiting for"), "{stderr}");
    }

    // The report renders from the journal in every format.
    let journal = w.journal();
    for format in ["json", "markdown", "html", "table"] {
        let out = w
            .command(&["report", journal.to_str().unwrap(), "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "report --format {format}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&w.group), "{format}: {text}");
        if format == "html" {
            assert!(text.contains("<svg"), "the HTML report has its chart");
        }
    }
    w.assert_exactly_once().await;
}

/// The group's instance ids on a cluster, sorted (`None` for a dynamic member).
async fn instance_ids(role: Role, group: &str) -> Vec<Option<String>> {
    let mut ids: Vec<Option<String>> = testapp::members(&testapp::lab_cluster(role), group)
        .await
        .into_iter()
        .map(|m| m.group_instance_id)
        .collect();
    ids.sort();
    ids
}

/// Cuts over a group of this shape while its producers write: the cutover ends `done`, the
/// group has the same members on the destination as it had on the origin (none for a group
/// that commits without membership), and every message is processed exactly once.
async fn cuts_over_with_every_message_once(label: &str, shape: Shape) {
    let w = World::with_shape(label, shape.clone(), None).await;
    let members: Vec<Option<String>> = w.apps.apps.iter().map(|a| a.instance_id.clone()).collect();
    let members = if shape.assign { Vec::new() } else { members };
    assert_eq!(
        instance_ids(Role::Origin, &w.group).await,
        members,
        "the group's members on the origin before the cutover"
    );
    let (code, doc, stderr) = w.group(&[]);
    eprintln!("{label}: timings {}", doc["timings"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "done", "{doc:#}");
    let downtime = doc["timings"]["downtime_ms"].as_i64().expect("downtime");
    assert!(downtime < 30_000, "{doc:#}");
    assert_eq!(
        instance_ids(Role::Destination, &w.group).await,
        members,
        "the group's members on the destination after the cutover"
    );
    w.assert_exactly_once().await;
}

/// (a) One group on three topics, one of them of 16 partitions: the snapshot, the sync and
/// the restart cover every partition of every topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_on_three_topics_one_of_16_partitions_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("narrow", 1), ("medium", 3), ("wide", 16)],
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-topics", shape).await;
}

/// (b) Three instances of the app form the group; one hook stops them all, one starts them
/// all on the destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_three_members_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("topic", 6)],
        instances: 3,
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-members", shape).await;
}

/// (c) The KIP-848 consumer group protocol (`group.protocol=consumer`), two members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip_848_consumer_protocol_group_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("topic", 4)],
        instances: 2,
        protocol: Protocol::Consumer,
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-kip848", shape).await;
}

/// (d) Static members (`group.instance.id`, KIP-345) on the classic protocol: they leave the
/// group when stopped, and come back on the destination with the same instance ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_static_members_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("topic", 4)],
        instances: 2,
        static_members: true,
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-static", shape).await;
}

/// (d) Static members of a KIP-848 group. Stopped, they leave with epoch -2 and the
/// coordinator keeps them until `group.consumer.session.timeout.ms` (10 s in the lab): the
/// agent sees the group stopped only then, and that wait is part of the downtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kip_848_group_of_static_members_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("topic", 4)],
        instances: 2,
        protocol: Protocol::Consumer,
        static_members: true,
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-static-kip848", shape).await;
}

/// (e) A group that commits without membership: the app assigns itself every partition and
/// commits for the group, as stream processors do. The group never has members, so the agent
/// sees it stopped by its committed offsets holding still.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_commits_without_membership_is_cut_over_with_every_message_once() {
    let shape = Shape {
        topics: vec![("topic", 4)],
        assign: true,
        ..Shape::default()
    };
    cuts_over_with_every_message_once("co-assign", shape).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_on_a_paused_mirror_is_refused_up_front_and_nothing_changes() {
    let w = World::new("co-paused", None).await;
    for (topic, _) in &w.topics {
        assert_eq!(w.sim.alter("pause", topic).await["error_code"], Value::Null);
    }
    let before = w
        .sim
        .get(&w.sim.link_url("/configs/consumer.offset.group.filters"))
        .await
        .1;
    // The app reads ahead of the paused mirror; a paused mirror cannot catch up.
    let t0 = Instant::now();
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "refused", "{doc:#}");
    assert_same_as_scenario(code, &doc, "group-paused-mirror.toml", 2);
    let reason = doc["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("mirror {} is PAUSED", w.topics[0].0)),
        "{reason}"
    );
    // Refused at once, not at a deadline: the stop hook never ran, the filters are untouched.
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let members = testapp::members(&testapp::lab_cluster(Role::Origin), &w.group).await;
    assert_eq!(members.len(), 1, "still consuming on the origin");
    let after = w
        .sim
        .get(&w.sim.link_url("/configs/consumer.offset.group.filters"))
        .await
        .1;
    assert_eq!(before, after, "the link's filters are untouched");
    if let Ok(back) = journal::read(&w.journal()) {
        assert!(
            !back
                .entries
                .iter()
                .any(|e| matches!(&e.record, Record::Intent { .. })),
            "no side effect was even intended"
        );
    }
    for (topic, _) in &w.topics {
        assert_eq!(
            w.sim.alter("resume", topic).await["error_code"],
            Value::Null
        );
    }
    w.assert_exactly_once_of_more_than(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stop_hook_changes_nothing() {
    let w = World::new(
        "co-stopfail",
        Some(vec![
            "sh".into(),
            "-c".into(),
            "echo refusing >&2; exit 3".into(),
        ]),
    )
    .await;
    let before = w
        .sim
        .get(&w.sim.link_url("/configs/consumer.offset.group.filters"))
        .await
        .1;
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "rolled_back");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("the stop hook failed"),
        "{doc:#}"
    );
    assert_same_as_scenario(code, &doc, "group-stop-hook-fails.toml", 2);
    let after = w
        .sim
        .get(&w.sim.link_url("/configs/consumer.offset.group.filters"))
        .await
        .1;
    assert_eq!(
        before["value"], after["value"],
        "the link's filters are unchanged"
    );
    let members = testapp::members(&testapp::lab_cluster(Role::Origin), &w.group).await;
    assert_eq!(members.len(), 1, "the group still consumes on the origin");
    // The hook's output and attempts are in the journal.
    let back = journal::read(&w.journal()).unwrap();
    let outcome_detail = back
        .entries
        .iter()
        .find_map(|e| match &e.record {
            Record::Outcome { effect, detail, .. } if effect == "hook:stop" => Some(detail.clone()),
            _ => None,
        })
        .expect("the stop hook's outcome is journaled");
    assert_eq!(outcome_detail["attempts"], 2, "{outcome_detail:#}");
    assert!(outcome_detail["stderr"]
        .as_str()
        .unwrap()
        .contains("refusing"));
    w.assert_exactly_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_agent_mode_the_exclusion_is_proven_before_the_stop_and_the_agent_writes_the_final_offsets(
) {
    let w = World::new("co-agent", None).await;
    final_offsets(&w, "agent");
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(outcome(&doc), "done", "{doc:#}");
    assert_eq!(doc["final_offsets"], "agent", "{doc:#}");
    // The app kept committing while a full sync interval left its destination offsets alone.
    let proof = doc["exclusion_proof"].as_str().unwrap_or_default();
    assert!(proof.starts_with("observed"), "{proof}");
    // Where the outage went, part by part: the parts up to the offsets add up to no more than
    // the downtime, and the group was seen committing on the destination.
    let part = |name: &str| {
        doc["parts"][name]
            .as_i64()
            .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
    };
    let downtime = doc["timings"]["downtime_ms"].as_i64().expect("downtime");
    let before_restart = [
        "stop_hook_ms",
        "stop_observed_ms",
        "mirror_wait_ms",
        "offsets_ms",
    ]
    .map(part)
    .iter()
    .sum::<i64>();
    assert!(before_restart <= downtime, "{doc:#}");
    assert!(
        part("restart_hook_ms") > 0 && part("first_commit_ms") > 0,
        "{doc:#}"
    );
    // The journal shows the agent's own write, intent before outcome, and no wait for a sync.
    let back = journal::read(&w.journal()).unwrap();
    let effects: Vec<(String, bool)> = back
        .entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::Intent { effect, .. } if effect == "offsets:write" => {
                Some((effect.clone(), false))
            }
            Record::Outcome { effect, ok, .. } if effect == "offsets:write" => {
                Some((effect.clone(), *ok))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        effects,
        [
            ("offsets:write".to_string(), false),
            ("offsets:write".to_string(), true)
        ]
    );
    assert!(!stderr.contains("awaiting_sync"), "{stderr}");
    // The exclusion came before the stop: the stop hook's intent follows the exclusion's.
    let position = |name: &str| {
        back.entries
            .iter()
            .position(|e| matches!(&e.record, Record::Intent { effect, .. } if effect == name))
            .unwrap_or_else(|| panic!("no {name} intent"))
    };
    assert!(position("exclude:link") < position("hook:stop"));
    // verify now calls the group MOVED, as audit does, and exits 0.
    let out = w
        .command(&["verify", &w.group, "--format", "json"])
        .output()
        .expect("run cutover verify");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let g = &doc["groups"][0];
    assert_eq!(g["status"], "MOVED", "{doc:#}");
    let partitions = g["partitions"].as_array().expect("partitions");
    assert!(
        partitions
            .iter()
            .all(|p| p["verdict"] == "MOVED" && p["destination_lag"].as_i64().is_some()),
        "{doc:#}"
    );
    let out = w
        .command(&["audit", "--window", "1s", "--format", "json"])
        .output()
        .expect("run cutover audit");
    let audit: Value = serde_json::from_slice(&out.stdout).expect("audit JSON");
    let class = audit["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|a| a["group"] == w.group.as_str()))
        .map(|a| a["classification"].clone());
    assert_eq!(class, Some(json!("moved")), "{audit:#}");
    w.assert_exactly_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_tick_seen_on_another_synced_group_proves_the_exclusion_before_a_full_interval() {
    let w = World::new("co-tick", None).await;
    // A second group the link syncs keeps committing on the origin: it shows each tick.
    let witness = format!("{}-witness", w.group.trim_end_matches("-group"));
    let topic = w.topics[0].0.clone();
    let witness_app = Instances::new(&witness, &[topic.as_str()], Protocol::Classic, 1);
    witness_app.start(&lab().origin, "origin");
    let _stop_witness = StopOnDrop(witness_app.clone());
    // Ticks 10 s apart; the cutover starts 3 s after one, so the next comes about 5 s into
    // the proof: seen there, it proves the exclusion well before a full interval would.
    w.sim.set_config("consumer.offset.sync.ms", "10000").await;
    w.sim.wait_for_tick(Duration::from_secs(15)).await;
    w.sim.wait_for_tick(Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!((code, outcome(&doc)), (0, "done"), "{doc:#}\n{stderr}");
    let proof = doc["exclusion_proof"].as_str().unwrap_or_default();
    assert!(
        proof.starts_with(&format!("observed: a sync tick (seen on group {witness}")),
        "{proof}"
    );
    w.assert_exactly_once().await;
}

/// Stops an app when the test ends, passed or failed.
struct StopOnDrop(Instances);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.try_stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_promotion_the_agent_moves_a_group_onto_the_promoted_topic_and_link_mode_refuses() {
    let mut w = World::new("co-promoted", None).await;
    // The standard migration's step 6: the producer stops, the mirror drains, the topic is
    // promoted, and the producer moves to the destination.
    let sent_before: u64 = w.producers.drain(..).map(BackgroundProducer::stop).sum();
    let (topic, partitions) = w.topics[0].clone();
    w.sim.wait_caught_up(&topic, partitions).await;
    let promoted = w.sim.alter("promote", &topic).await;
    assert!(promoted["error_message"].is_null(), "{promoted}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.sim.mirror(&topic).await["mirror_status"] != "STOPPED" {
        assert!(Instant::now() < deadline, "the mirror never became STOPPED");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let on_destination = BackgroundProducer::start(
        &lab().destination,
        &topic,
        partitions,
        Duration::from_millis(20),
    );

    // verify judges the promoted partitions; it never calls them MIRROR_NOT_ACTIVE.
    let out = w
        .command(&["verify", &w.group, "--format", "json"])
        .output()
        .expect("run cutover verify");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    let verdicts: Vec<&str> = doc["groups"][0]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["verdict"].as_str().unwrap_or("?"))
        .collect();
    assert!(
        verdicts.iter().all(|v| ["SAFE", "NOT_SYNCED"].contains(v)),
        "{doc:#}"
    );

    // Link mode waits for a sync that never comes to a promoted topic: refused, nothing done.
    let (code, doc, stderr) = w.group(&["--final-offsets", "link"]);
    assert_eq!((code, outcome(&doc)), (1, "refused"), "{doc:#}\n{stderr}");
    let reason = doc["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("does not sync promoted topics"), "{reason}");

    // Agent mode needs no exclusion and writes the final offsets itself.
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!((code, outcome(&doc)), (0, "done"), "{doc:#}\n{stderr}");
    let proof = doc["exclusion_proof"].as_str().unwrap_or_default();
    assert!(
        proof.starts_with("not needed: every topic of the group is promoted"),
        "{proof}"
    );

    // Every record once: those written on the origin before the promotion and those written
    // on the destination after it.
    tokio::time::sleep(MIN_PRODUCING).await;
    let sent_after = on_destination.stop();
    assert!(
        sent_before > 0 && sent_after > 0,
        "{sent_before} then {sent_after}"
    );
    let destination = testapp::lab_cluster(Role::Destination);
    let expected = testapp::log_ends(&destination, &topic, partitions).await;
    testapp::wait_processed(&w.outputs(), &expected, Duration::from_secs(60));
    w.apps.stop();
    tally(&w.outputs()).assert_exactly_once(&expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journals_keep_history_a_refusal_never_replaces_a_finished_run_and_a_typo_leaves_nothing() {
    let w = World::new("co-history", None).await;
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!((code, outcome(&doc)), (0, "done"), "{doc:#}\n{stderr}");
    let done_run = doc["run_id"].as_str().expect("run id").to_string();

    // Again on the moved group: refused at the plan, nothing changed, and its journal goes
    // aside; the finished cutover stays the group's current journal.
    let (code, doc, stderr) = w.group(&[]);
    assert_eq!((code, outcome(&doc)), (1, "refused"), "{doc:#}\n{stderr}");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("already moved"),
        "{doc:#}"
    );
    let aside = PathBuf::from(doc["journal"].as_str().expect("journal"));
    assert!(
        aside.to_string_lossy().ends_with(".refused.jsonl") && aside.exists(),
        "{aside:?}"
    );
    let current = journal::read(&w.journal()).expect("the current journal");
    assert_eq!(current.run_id(), Some(done_run.as_str()));

    // `cutover report GROUP` finds that run through the configured journal folder.
    let out = w
        .command(&["report", &w.group, "--format", "json"])
        .output()
        .expect("run cutover report");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let run = &report["cutovers"][0];
    assert_eq!(
        (run["run_id"].as_str(), run["outcome"].as_str()),
        (Some(done_run.as_str()), Some("done")),
        "{report:#}"
    );
    // The evidence a change ticket needs, and where the group stopped and restarted.
    let evidence = &run["sessions"][0]["evidence"];
    for fact in [
        "tool",
        "operator",
        "config_sha256",
        "link",
        "origin_cluster_id",
        "destination_cluster_id",
    ] {
        assert!(
            evidence[fact].as_str().is_some_and(|v| !v.is_empty()),
            "{fact}: {evidence:#}"
        );
    }
    assert!(
        evidence["tool"]
            .as_str()
            .unwrap_or_default()
            .contains("librdkafka 2."),
        "{evidence:#}"
    );
    let moves = run["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 2, "{moves:#?}");
    for m in moves {
        assert!(
            m["stopped_at"].as_i64().is_some() && m["stopped_at"] == m["restarted_from"],
            "the agent restarted the group exactly where it stopped: {m}"
        );
    }

    // A typo'd group id: refused before any journal or lock exists for it.
    let typo = format!("{}-typo", w.group);
    let out = w
        .command(&["group", &typo, "--format", "json"])
        .output()
        .expect("run cutover group");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is unknown on the origin"), "{stderr}");
    let typo_journal = journal::path_for(&w.journal_dir, &GroupId::new(&typo));
    assert!(!typo_journal.exists() && !typo_journal.with_extension("lock").exists());
    w.assert_exactly_once().await;
}
