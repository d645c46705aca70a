//! Strategy A of issue 17: bidirectional links with prefixes, while producers move one by one.
//! Each cluster has a writable `orders` and mirrors the other's: `old.orders` on the
//! destination (the forward link), `new.orders` on the origin (the reverse link). A real
//! consumer reads both on the origin (`orders`, `new.orders`) while producers write on both
//! clusters; `cutover group` moves it to the destination, where it reads `old.orders` (its
//! offsets as the forward link syncs them, the final ones written by the agent) and `orders`
//! (its offsets taken from `new.orders` on the origin, identical by construction, written by the
//! agent). The app's own tally, each pair read as one topic, shows every record once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, Instances, Partition, Tally};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::json;

use crate::world::{cutover_command, run_json, write_config};

const PARTITIONS: i32 = 2;

/// Waits until `mirror` on one cluster holds every record of `source` on the other.
async fn wait_copied(from: Role, source: &str, to: Role, mirror: &str) {
    let (from, to) = (testapp::lab_cluster(from), testapp::lab_cluster(to));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = testapp::log_ends(&from, source, PARTITIONS).await;
        let m = testapp::log_ends(&to, mirror, PARTITIONS).await;
        let ends = |e: BTreeMap<Partition, i64>| e.into_values().collect::<Vec<_>>();
        if ends(s.clone()) == ends(m.clone()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{mirror} never caught up with {source}: {s:?} {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The app's output files read with each pair of topics as one: `origin` (written on the
/// origin's `orders`, read as `orders` there and `old.orders` on the destination) and
/// `destination` (written on the destination's `orders`).
fn tally_pairs(on_origin: &[PathBuf], on_destination: &[PathBuf], topic: &str) -> Tally {
    let mut all = Tally::default();
    for (files, names) in [
        (
            on_origin,
            [
                (topic.to_string(), "origin"),
                (format!("new.{topic}"), "destination"),
            ],
        ),
        (
            on_destination,
            [
                (format!("old.{topic}"), "origin"),
                (topic.to_string(), "destination"),
            ],
        ),
    ] {
        let files: Vec<PathBuf> = files.iter().filter(|f| f.exists()).cloned().collect();
        all.add_as(testapp::tally(&files), |(t, p), o| {
            let side = names
                .iter()
                .find(|(n, _)| n == t)
                .unwrap_or_else(|| panic!("the app read {t}"))
                .1;
            ((side.to_string(), *p), o)
        });
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_reading_both_prefixed_pairs_moves_with_every_record_once() {
    let name = unique("bidi");
    let topic = format!("{name}-orders");
    let group = format!("{name}-group");
    let each = |n: usize| -> Vec<(i32, usize)> { (0..PARTITIONS).map(|p| (p, n)).collect() };
    create_topic(&lab().origin, &topic, PARTITIONS).await;
    create_topic(&lab().destination, &topic, PARTITIONS).await;
    produce(&lab().origin, &topic, &each(50)).await;
    produce(&lab().destination, &topic, &each(40)).await;
    let filters = json!({ "groupFilters": [
        { "name": name, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let forward = Sim::start(&[
        ("cluster.link.prefix", "old."),
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await;
    let reverse = Sim::start_reverse(&[("cluster.link.prefix", "new.")]).await;
    forward.create_mirror(&topic).await;
    reverse.create_mirror(&topic).await;
    let (old, new) = (format!("old.{topic}"), format!("new.{topic}"));
    wait_copied(Role::Origin, &topic, Role::Destination, &old).await;
    wait_copied(Role::Destination, &topic, Role::Origin, &new).await;

    // The group reads both on the origin.
    let apps = Instances::new(&group, &[&topic, &new], Protocol::Classic, 1);
    apps.start(&lab().origin, "origin");
    let first: BTreeMap<Partition, i64> = (0..PARTITIONS)
        .flat_map(|p| [((topic.clone(), p), 50), ((new.clone(), p), 40)])
        .collect();
    testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(30));

    let mut restart = apps.start_argv(&lab().destination, "destination");
    let at = restart
        .iter()
        .position(|a| a == "--topic")
        .expect("--topic");
    restart.splice(at..at + 4, ["--topic".to_string(), "{topics}".to_string()]);
    let dir = testapp::scratch_dir("bidi");
    let config = write_config(
        &dir,
        &apps.stop_argv(),
        &restart,
        &apps.start_argv(&lab().origin, "origin-again"),
    );
    let run = |args: &[&str]| {
        run_json(cutover_command(&config, &forward, args).envs(reverse.reverse_env()))
    };

    // verify pairs the reverse link's mirror with its source: no topic is unmirrored.
    let (_, doc, stderr) = run(&["verify", &group, "--format", "json"]);
    let partitions = doc["groups"][0]["partitions"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc}\n{stderr}"));
    let mirror_of: BTreeMap<String, String> = partitions
        .iter()
        .map(|p| {
            (
                p["topic"].as_str().unwrap().to_string(),
                p["mirror_topic"].to_string(),
            )
        })
        .collect();
    assert_eq!(mirror_of[&topic], json!(old).to_string(), "{doc}");
    assert_eq!(mirror_of[&new], json!(topic).to_string(), "{doc}");
    assert!(!doc.to_string().contains("NOT_MIRRORED"), "{doc}");

    // Producers keep writing on both clusters through the move.
    produce(&lab().origin, &topic, &each(10)).await;
    produce(&lab().destination, &topic, &each(10)).await;
    let (code, doc, stderr) = run(&["group", &group, "--format", "json"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["outcome"], "done", "{doc}");
    produce(&lab().origin, &topic, &each(10)).await;
    produce(&lab().destination, &topic, &each(10)).await;
    wait_copied(Role::Origin, &topic, Role::Destination, &old).await;

    // On the destination it reads old.<topic> and <topic>; every record once, each pair as one.
    let destination = testapp::lab_cluster(Role::Destination);
    let members = testapp::members(&destination, &group).await;
    assert!(!members.is_empty(), "the group runs on the destination");
    let expected: BTreeMap<Partition, i64> = (0..PARTITIONS)
        .flat_map(|p| {
            [
                (("origin".to_string(), p), 70),
                (("destination".to_string(), p), 60),
            ]
        })
        .collect();
    let read = || tally_pairs(&apps.outs("origin"), &apps.outs("destination"), &topic);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read().gaps(&expected).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    apps.stop();
    let mut origin_again = apps.outs("origin");
    origin_again.extend(apps.outs("origin-again"));
    tally_pairs(&origin_again, &apps.outs("destination"), &topic).assert_exactly_once(&expected);
}
