//! `cutover verify` and `cutover audit` as an operator runs them: the real binary, configured
//! only through `CUTOVER_*` variables, against the lab's two Kafka clusters and a link
//! emulator of the test's own.
//!
//! Where a scenario covers the same situation on the simulator, the test reads the scenario's
//! expectation and asserts the real clusters give the same exit code and verdicts, so the
//! simulator and the real adapters cannot drift apart unnoticed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use cutover::sim::scenario::{Expect, Scenario, What};

use cutover_lab::testkit::{commit_as_member, create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::{json, Value};

/// Runs the cutover binary against the lab and `sim`, returning (exit code, stdout, stderr).
async fn cutover(sim: &Sim, args: &[&str]) -> (i32, String, String) {
    cutover_with(sim, args, &[]).await
}

async fn cutover_with(sim: &Sim, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.cutover_env())
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run cutover");
    (
        out.status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            -100 - out.status.signal().unwrap_or(0)
        }),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn verify_json(sim: &Sim, group: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", group, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = cutover(sim, &args).await;
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}), exit {code}: {stdout}\nstderr: {stderr}")
    });
    (code, doc)
}

/// A link that syncs offsets of groups starting with `prefix` every second.
async fn syncing_sim(prefix: &str, exclude: Option<&str>) -> Sim {
    let mut filters =
        vec![json!({ "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" })];
    if let Some(g) = exclude {
        filters.push(json!({ "name": g, "patternType": "LITERAL", "filterType": "EXCLUDE" }));
    }
    let filters = json!({ "groupFilters": filters }).to_string();
    Sim::start(&[
        ("consumer.offset.sync.enable", "true"),
        ("consumer.offset.sync.ms", "1000"),
        ("consumer.offset.group.filters", &filters),
    ])
    .await
}

/// A topic with `records[p]` records in partition `p`, mirrored by a link that syncs offsets
/// every second and caught up, and a stopped group committed at `commits` on the origin.
/// Returns the link, the topic and the group.
async fn mirrored_group(
    label: &str,
    records: &[usize],
    commits: &[(i32, i64)],
    protocol: Protocol,
) -> (Sim, String, String) {
    let prefix = unique(label);
    let topic = format!("{prefix}-topic");
    let group = format!("{prefix}-group");
    let partitions = records.len() as i32;
    create_topic(&lab().origin, &topic, partitions).await;
    let counts: Vec<(i32, usize)> = records
        .iter()
        .enumerate()
        .map(|(p, n)| (p as i32, *n))
        .collect();
    produce(&lab().origin, &topic, &counts).await;
    let sim = syncing_sim(&prefix, None).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, partitions).await;
    commit_as_member(
        &lab().origin,
        &group,
        protocol,
        &topic,
        records.len(),
        commits,
    );
    (sim, topic, group)
}

/// A one-partition [`mirrored_group`] whose offset the link has synced (verify exits 0).
async fn synced_group(label: &str, records: usize, committed: i64) -> (Sim, String) {
    let (sim, _, group) =
        mirrored_group(label, &[records], &[(0, committed)], Protocol::Classic).await;
    let (code, doc) = verify_json(&sim, &group, &["--wait", "20s"]).await;
    assert_eq!(code, 0, "the group is synced and safe: {doc:#}");
    (sim, group)
}

/// What `file`'s timeline entry `entry` (1-based, a command) expects on the simulator.
fn scenario_expect(file: &str, entry: usize) -> Expect {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    match &s.timeline[entry - 1].what {
        What::Command { expect, .. } => (**expect).clone(),
        other => panic!("{file} entry {entry} is not a command: {other:?}"),
    }
}

/// The distinct verdicts of the first group of a verify report.
fn verdict_set(doc: &Value) -> BTreeSet<String> {
    doc["groups"][0]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["verdict"].as_str().expect("verdict").to_string())
        .collect()
}

/// Asserts a lab verify gives the exit code and verdict set the scenario expects for `group`.
fn assert_same_as_scenario(code: i32, doc: &Value, file: &str, entry: usize, group: &str) {
    let want = scenario_expect(file, entry);
    assert_eq!(
        Some(code),
        want.exit,
        "exit code differs from {file} entry {entry}"
    );
    let verdicts: BTreeSet<String> = want.verdicts[group].iter().cloned().collect();
    assert_eq!(
        verdict_set(doc),
        verdicts,
        "verdicts differ from {file} entry {entry}: {doc:#}"
    );
}

fn partition(doc: &Value, p: i64) -> &Value {
    doc["groups"][0]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .find(|x| x["partition"] == p)
        .unwrap_or_else(|| panic!("no partition {p} in {doc}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_group_behind_the_mirror_is_safe_with_exact_figures() {
    let (sim, topic, group) =
        mirrored_group("v-safe", &[10, 20], &[(0, 4), (1, 20)], Protocol::Consumer).await;

    let (code, doc) = verify_json(&sim, &group, &["--wait", "20s"]).await;

    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["groups"][0]["group"], json!(group));
    assert_eq!(doc["groups"][0]["safe"], true);
    let p0 = partition(&doc, 0);
    for (field, want) in [
        ("origin_committed", 4),
        ("destination_committed", 4),
        ("origin_end", 10),
        ("mirror_end", 10),
        ("consumer_lag", 6),
        ("mirror_lag", 0),
    ] {
        assert_eq!(p0[field], want, "{field} in {p0}");
    }
    assert_eq!(p0["verdict"], "SAFE");
    let p1 = partition(&doc, 1);
    assert_eq!(
        (
            p1["origin_committed"].clone(),
            p1["consumer_lag"].clone(),
            p1["verdict"].clone()
        ),
        (json!(20), json!(0), json!("SAFE"))
    );

    // The human table and Markdown say the same.
    let (code, table, _) = cutover(&sim, &["verify", &group]).await;
    assert_eq!(code, 0);
    assert!(
        table.contains("SAFE to start on the destination") && table.contains(&topic),
        "{table}"
    );
    let (code, md, _) = cutover(&sim, &["verify", &group, "--format", "markdown"]).await;
    assert_eq!(code, 0);
    assert!(
        md.starts_with("# cutover verify: SAFE") && md.contains("| topic | partition |"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_ahead_of_a_paused_mirror_is_refused_and_becomes_safe_after_resume() {
    let prefix = unique("v-ahead");
    let topic = format!("{prefix}-topic");
    let group = format!("{prefix}-group");
    create_topic(&lab().origin, &topic, 1).await;
    produce(&lab().origin, &topic, &[(0, 10)]).await;
    let sim = syncing_sim(&prefix, None).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 1).await;
    assert_eq!(sim.alter("pause", &topic).await["error_code"], Value::Null);
    produce(&lab().origin, &topic, &[(0, 15)]).await;
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &topic,
        1,
        &[(0, 22)],
    );

    let (code, doc) = verify_json(&sim, &group, &[]).await;
    assert_eq!(code, 1, "{doc:#}");
    assert_same_as_scenario(code, &doc, "paused-mirror.toml", 4, "ledger");
    let p0 = partition(&doc, 0);
    assert_eq!(p0["verdict"], "CONSUMER_AHEAD_OF_MIRROR", "{p0}");
    assert_eq!(
        (p0["mirror_end"].clone(), p0["mirror_lag"].clone()),
        (json!(10), json!(15))
    );

    assert_eq!(sim.alter("resume", &topic).await["error_code"], Value::Null);
    let t0 = Instant::now();
    let (code, doc) = verify_json(&sim, &group, &["--wait", "30s"]).await;
    assert_eq!(code, 0, "after resume: {doc:#}");
    assert_same_as_scenario(code, &doc, "paused-mirror.toml", 6, "ledger");
    assert_eq!(partition(&doc, 0)["verdict"], "SAFE");
    assert!(t0.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excluded_never_synced_group_is_not_synced() {
    let prefix = unique("v-excl");
    let topic = format!("{prefix}-topic");
    let group = format!("{prefix}-group");
    create_topic(&lab().origin, &topic, 1).await;
    produce(&lab().origin, &topic, &[(0, 5)]).await;
    let sim = syncing_sim(&prefix, Some(&group)).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 1).await;
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Consumer,
        &topic,
        1,
        &[(0, 3)],
    );
    tokio::time::sleep(Duration::from_millis(2500)).await; // two sync intervals

    let (code, doc) = verify_json(&sim, &group, &[]).await;
    assert_eq!(code, 1);
    assert_same_as_scenario(code, &doc, "excluded-never-synced.toml", 2, "reports");
    let p0 = partition(&doc, 0);
    assert_eq!(p0["verdict"], "NOT_SYNCED", "{p0}");
    assert_eq!(p0["destination_committed"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_without_a_mirror_is_not_mirrored() {
    let prefix = unique("v-unmirrored");
    let mirrored = format!("{prefix}-a");
    let plain = format!("{prefix}-b");
    let group = format!("{prefix}-group");
    create_topic(&lab().origin, &mirrored, 1).await;
    create_topic(&lab().origin, &plain, 1).await;
    produce(&lab().origin, &plain, &[(0, 4)]).await;
    let sim = syncing_sim(&prefix, None).await;
    sim.create_mirror(&mirrored).await;
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &plain,
        1,
        &[(0, 2)],
    );

    let (code, doc) = verify_json(&sim, &group, &[]).await;
    assert_eq!(code, 1);
    let p = &doc["groups"][0]["partitions"][0];
    assert_eq!(
        (p["topic"].clone(), p["verdict"].clone()),
        (json!(plain), json!("NOT_MIRRORED"))
    );
    assert_eq!(p["origin_end"], 4);
    let want = scenario_expect("unmirrored-topic.toml", 2);
    assert_eq!(Some(code), want.exit);
    assert_eq!(p["verdict"], json!(want.partitions["accounting/refunds-0"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_survives_the_link_answering_5xx_twice() {
    let (sim, group) = synced_group("v-5xx", 3, 3).await;

    sim.http
        .put(format!("{}/faults/rest", sim.sim.admin_url()))
        .json(&json!({ "remaining": 2, "kind": "status", "status": 503 }))
        .send()
        .await
        .unwrap();
    let (code, doc) = verify_json(&sim, &group, &[]).await;
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["groups"][0]["safe"], true);
    assert_same_as_scenario(code, &doc, "rest-errors.toml", 3, "indexer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_clusters_and_links_exit_3_and_bad_usage_exits_2() {
    let sim = Sim::start(&[]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("127.0.0.1:{closed}");

    let (code, _, stderr) = cutover_with(
        &sim,
        &["verify", "g"],
        &[
            ("CUTOVER_DESTINATION_BOOTSTRAP", &closed),
            ("CUTOVER_LINK_TIMEOUT", "2s"),
        ],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("destination") && stderr.contains("hint:"),
        "{stderr}"
    );

    let (code, _, stderr) = cutover_with(
        &sim,
        &["verify", "g"],
        &[
            (
                "CUTOVER_LINK_REST_URL",
                &format!("http://{closed}/kafka/v3"),
            ),
            ("CUTOVER_LINK_TIMEOUT", "2s"),
            ("CUTOVER_LINK_RETRIES", "0"),
        ],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(&sim.link), "{stderr}");

    let (code, _, stderr) =
        cutover_with(&sim, &["verify", "g"], &[("CUTOVER_ORIGIN_BOOTSTRAP", "")]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = cutover(&sim, &["verify", "g", "--wait", "soon"]).await;
    assert_eq!(code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_fails_while_the_origin_is_written_and_passes_once_writes_stop_and_lag_drains() {
    let (sim, topic, group) =
        mirrored_group("audit", &[10, 10], &[(0, 10), (1, 5)], Protocol::Consumer).await;

    // A producer keeps writing to the origin while the audit watches.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, topic) = (stop.clone(), topic.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                produce(&lab().origin, &topic, &[(0, 1)]).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (code, stdout, stderr) =
        cutover(&sim, &["audit", "--window", "2s", "--format", "json"]).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["promotion_safe"], false);
    let kinds: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"ORIGIN_STILL_WRITTEN"), "{kinds:?}");
    let want = scenario_expect("audit-producer-still-writing.toml", 1);
    assert_eq!(Some(code), want.exit);
    assert!(want
        .audit_findings
        .unwrap()
        .contains(&"ORIGIN_STILL_WRITTEN".to_string()));
    assert!(doc["origin_moving"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["topic"] == json!(topic)));

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    sim.wait_caught_up(&topic, 2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // the group's final offsets sync
    let (code, stdout, stderr) =
        cutover(&sim, &["audit", "--window", "1s", "--format", "json"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["promotion_safe"], true);
    let want = scenario_expect("audit-producer-still-writing.toml", 3);
    assert_eq!(Some(code), want.exit);
    assert_eq!(doc["findings"], json!(want.audit_findings.unwrap()));
    assert_eq!(doc["mirrors"][0]["mirror_topic"], json!(topic));
    assert_eq!(doc["mirrors"][0]["max_lag"], 0);
    let g = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == json!(group))
        .expect("the group is audited");
    assert_eq!(g["classification"], "synced_and_safe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rest_access_mirror_status_is_reported_unknown_and_offsets_still_decide() {
    let (sim, group) = synced_group("v-norest", 8, 8).await;

    let (code, stdout, stderr) = cutover_with(
        &sim,
        &["verify", &group, "--format", "json"],
        &[("CUTOVER_LINK_REST_URL", "")],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        doc["mirror_status_source"]
            .as_str()
            .unwrap()
            .starts_with("unknown"),
        "{doc}"
    );
    assert_eq!(partition(&doc, 0)["mirror_status"], "UNKNOWN");
    assert_eq!(partition(&doc, 0)["verdict"], "SAFE");
    let kinds: Vec<&str> = doc["groups"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"MIRROR_STATUS_UNKNOWN"), "{kinds:?}");
    assert_same_as_scenario(code, &doc, "kafka-only-link.toml", 2, "fraud");
    assert!(scenario_expect("kafka-only-link.toml", 2).findings["fraud"]
        .contains(&"MIRROR_STATUS_UNKNOWN".to_string()));

    let (_, table, _) =
        cutover_with(&sim, &["verify", &group], &[("CUTOVER_LINK_REST_URL", "")]).await;
    assert!(
        table.contains("mirror status") && table.contains("unknown"),
        "{table}"
    );
}

/// Runs `cutover verify g` against the lab's origin with extra librdkafka properties; returns
/// (exit code, stderr, how long it took).
fn verify_origin_with(properties: &[(&str, &str)]) -> (Option<i32>, String, Duration) {
    let dir = std::env::temp_dir().join(unique("verify-client-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!("[origin]\nbootstrap.servers = \"{}\"\n", lab().origin);
    for (k, v) in properties {
        text.push_str(&format!("{k} = \"{v}\"\n"));
    }
    text.push_str(&format!(
        "[destination]\nbootstrap.servers = \"{}\"\n[link]\nname = \"lab\"\n",
        lab().destination
    ));
    let config = dir.join("cutover.toml");
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("--config")
        .arg(&config)
        .args(["verify", "g"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(&dir)
        .output()
        .expect("run cutover");
    let took = started.elapsed();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    )
}

/// librdkafka properties, as a test gives them.
type Properties<'a> = &'a [(&'a str, &'a str)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_sasl_failures_are_named_with_the_broker_and_reason_within_seconds() {
    // The lab's listeners are plaintext: TLS and SASL clients fail against them the way a
    // wrong protocol, certificate or mechanism fails against a real cluster.
    // librdkafka words a TLS client meeting a plaintext listener either way, depending on
    // whether the broker answered the ClientHello or closed first (both seen on the lab).
    let cases: [(Properties, &[&str]); 2] = [
        (
            &[("security.protocol", "SSL")],
            &["SSL handshake failed", "in state SSL_HANDSHAKE"],
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "cutover"),
                ("sasl.password", "not-a-real-secret-42"),
            ],
            &["SASL PLAIN mechanism handshake failed"],
        ),
    ];
    for (properties, reasons) in cases {
        let (code, stderr, took) = verify_origin_with(properties);
        assert_eq!(code, Some(3), "{stderr}");
        assert!(
            stderr.contains(&lab().origin) && reasons.iter().any(|r| stderr.contains(r)),
            "{stderr}"
        );
        assert!(took < Duration::from_secs(5), "took {took:?}: {stderr}");
        assert!(
            !stderr.contains("not-a-real-secret-42"),
            "a secret leaked: {stderr}"
        );
    }
}
