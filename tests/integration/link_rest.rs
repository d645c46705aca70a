//! `ConfluentRestLink` against the link emulator between the lab's two real Kafka clusters:
//! the REST calls the agent makes, per-topic errors inside 200 answers, retries on 503,
//! timeouts, wrong credentials, an unknown link, and cluster id discovery.
//!
//! Each test starts its own emulator (own link name, port and fault knobs) and uses unique
//! topic names, so tests run in parallel.

use std::time::{Duration, Instant};

use cutover::error::{exit, Error};
use cutover::link::{ConfluentRestLink, Link, MirrorAction, RestLinkOptions};
use cutover::model::MirrorState;
use cutover_lab::testkit::{self, create_topic, lab, unique, Sim};
use serde_json::json;

fn options(sim: &Sim) -> RestLinkOptions {
    RestLinkOptions {
        base_url: sim.sim.rest_url(),
        link_name: sim.link.clone(),
        cluster_id: Some(sim.sim.cluster_id().to_string()),
        basic_auth: None,
        bearer_token: None,
        client_identity: None,
        ca_file: None,
        timeout: Duration::from_secs(10),
        retries: 3,
        backoff: Duration::from_millis(50),
    }
}

async fn connect(sim: &Sim) -> ConfluentRestLink {
    ConfluentRestLink::connect(options(sim))
        .await
        .expect("connects to the emulator")
}

/// `PUT {admin}/faults/rest`: how the emulator's next REST answers fail.
async fn rest_faults(sim: &Sim, faults: serde_json::Value) {
    let r = sim
        .http
        .put(format!("{}/faults/rest", sim.sim.admin_url()))
        .json(&faults)
        .send()
        .await
        .expect("fault knob");
    assert_eq!(r.status().as_u16(), 204, "{faults}");
}

/// Polls the link's mirror list until `topic` has `want`.
async fn wait_state(link: &ConfluentRestLink, topic: &str, want: MirrorState) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mirrors = link.mirrors().await.expect("mirrors");
        let state = mirrors
            .iter()
            .find(|m| m.mirror_topic == topic)
            .map(|m| m.state.clone());
        if state.as_ref() == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} never reached {want:?}; last {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_the_link_lists_mirrors_and_round_trips_configs() {
    let topic = unique("rest-describe");
    create_topic(&lab().origin, &topic, 2).await;
    testkit::produce(&lab().origin, &topic, &[(0, 5), (1, 3)]).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 2).await;
    let link = connect(&sim).await;

    let d = link.describe().await.unwrap();
    assert_eq!(d.link_name, sim.link);
    assert_eq!(d.mirror_topics, vec![topic.clone()]);
    assert!(d.source_cluster_id.is_some_and(|id| !id.is_empty()));
    assert_eq!(d.state.as_deref(), Some("ACTIVE"));

    let mirrors = link.mirrors().await.unwrap();
    assert_eq!(mirrors.len(), 1);
    let m = &mirrors[0];
    assert_eq!(
        (
            m.mirror_topic.as_str(),
            m.source_topic.as_str(),
            m.partitions
        ),
        (topic.as_str(), topic.as_str(), 2)
    );
    assert_eq!(m.state, MirrorState::Active);
    assert_eq!(m.error, None);
    assert_eq!(
        m.lags
            .iter()
            .map(|(p, l)| (*p, l.lag, l.last_source_fetch_offset))
            .collect::<Vec<_>>(),
        [(0, 0, 5), (1, 0, 3)]
    );

    let before = link.configs().await.unwrap();
    assert_eq!(before["consumer.offset.sync.ms"], "30000");
    link.alter_configs(&[
        ("consumer.offset.sync.ms".into(), Some("12345".into())),
        ("acl.sync.ms".into(), Some("7000".into())),
    ])
    .await
    .unwrap();
    let after = link.configs().await.unwrap();
    assert_eq!(after["consumer.offset.sync.ms"], "12345");
    assert_eq!(after["acl.sync.ms"], "7000");

    link.alter_configs(&[("consumer.offset.sync.ms".into(), None)])
        .await
        .unwrap();
    let reset = link.configs().await.unwrap();
    assert_eq!(reset["consumer.offset.sync.ms"], "30000", "DELETE resets");
    assert_eq!(reset["acl.sync.ms"], "7000", "the other key is untouched");

    // A read-only config is refused with the link's own message.
    let err = link
        .alter_configs(&[("bootstrap.servers".into(), Some("elsewhere:9092".into()))])
        .await
        .unwrap_err();
    match &err {
        Error::LinkRefused { status, .. } => assert_eq!(*status, 400, "{err}"),
        other => panic!("expected LinkRefused, got {other}"),
    }
    assert!(err.to_string().contains("bootstrap.servers"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_shows_paused_then_resume_shows_active() {
    let topic = unique("rest-pause");
    create_topic(&lab().origin, &topic, 1).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    let link = connect(&sim).await;

    let paused = link
        .alter_mirrors(MirrorAction::Pause, std::slice::from_ref(&topic))
        .await
        .unwrap();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].mirror_topic, topic);
    assert_eq!(paused[0].error, None);
    wait_state(&link, &topic, MirrorState::Paused).await;

    let resumed = link
        .alter_mirrors(MirrorAction::Resume, std::slice::from_ref(&topic))
        .await
        .unwrap();
    assert_eq!(resumed[0].error, None);
    wait_state(&link, &topic, MirrorState::Active).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_of_a_lagging_mirror_returns_a_per_topic_error_while_the_call_succeeds() {
    let lagging = unique("rest-lagging");
    let ready = unique("rest-ready");
    create_topic(&lab().origin, &lagging, 2).await;
    create_topic(&lab().origin, &ready, 1).await;
    testkit::produce(&lab().origin, &lagging, &[(0, 4), (1, 4)]).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&lagging).await;
    sim.create_mirror(&ready).await;
    sim.wait_caught_up(&lagging, 2).await;
    sim.wait_caught_up(&ready, 1).await;
    sim.faults(json!({ "stalled_topics": [lagging] })).await;
    testkit::produce(&lab().origin, &lagging, &[(1, 6)]).await;
    let link = connect(&sim).await;

    let not_a_mirror = unique("rest-nothing");
    let results = link
        .alter_mirrors(
            MirrorAction::Promote,
            &[lagging.clone(), ready.clone(), not_a_mirror.clone()],
        )
        .await
        .expect("the call itself succeeds");
    let by_topic: Vec<_> = results
        .iter()
        .map(|r| (r.mirror_topic.as_str(), r.error.as_deref()))
        .collect();
    assert_eq!(by_topic.len(), 3, "{by_topic:?}");
    assert_eq!(by_topic[0].0, lagging);
    let refused = by_topic[0].1.expect("the lagging mirror is refused");
    assert!(
        refused.contains("mirror lag is 6 on partition 1") && refused.contains("(error code 400)"),
        "{refused}"
    );
    assert_eq!(by_topic[1], (ready.as_str(), None));
    assert_eq!(by_topic[2].0, not_a_mirror);
    assert!(by_topic[2].1.is_some(), "{by_topic:?}");

    // The refused mirror is still active; the accepted one stops.
    wait_state(&link, &ready, MirrorState::Stopped).await;
    let mirrors = link.mirrors().await.unwrap();
    let lagging_state = mirrors.iter().find(|m| m.mirror_topic == lagging).unwrap();
    assert_eq!(lagging_state.state, MirrorState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_503_answers_then_a_200_still_succeed_with_three_retries() {
    let topic = unique("rest-503");
    create_topic(&lab().origin, &topic, 1).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    let link = connect(&sim).await;

    rest_faults(
        &sim,
        json!({ "remaining": 2, "kind": "status", "status": 503 }),
    )
    .await;
    let mirrors = link.mirrors().await.expect("retried past two 503s");
    assert_eq!(mirrors[0].mirror_topic, topic);

    // A mirror action is retried on 503 too: the answer proves it was not served.
    rest_faults(
        &sim,
        json!({ "remaining": 2, "kind": "status", "status": 503 }),
    )
    .await;
    let paused = link
        .alter_mirrors(MirrorAction::Pause, std::slice::from_ref(&topic))
        .await
        .expect("retried past two 503s");
    assert_eq!(paused[0].error, None);

    // More failures than retries: unreachable, exit 3, with the status and attempts.
    rest_faults(
        &sim,
        json!({ "remaining": 4, "kind": "status", "status": 503 }),
    )
    .await;
    let err = link.configs().await.unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    assert!(matches!(err, Error::LinkUnreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&sim.link), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(text.contains("after 4 attempts"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_with_no_retries_left_is_unreachable_with_exit_3() {
    let sim = Sim::start(&[]).await;
    let link = ConfluentRestLink::connect(RestLinkOptions {
        timeout: Duration::from_millis(500),
        retries: 0,
        ..options(&sim)
    })
    .await
    .unwrap();
    rest_faults(
        &sim,
        json!({ "remaining": 1, "kind": "timeout", "timeout_ms": 5000 }),
    )
    .await;
    let t0 = Instant::now();
    let err = link.describe().await.unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    match &err {
        Error::LinkUnreachable { link, detail, .. } => {
            assert_eq!(link, &sim.link);
            assert!(detail.contains("no answer within 500ms"), "{detail}");
        }
        other => panic!("expected LinkUnreachable, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_mirror_action_is_not_sent_again_but_a_timed_out_read_is() {
    let topic = unique("rest-timeout-post");
    create_topic(&lab().origin, &topic, 1).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    let link = ConfluentRestLink::connect(RestLinkOptions {
        timeout: Duration::from_millis(500),
        ..options(&sim)
    })
    .await
    .unwrap();

    // With retries left, a read gets past one timeout.
    rest_faults(
        &sim,
        json!({ "remaining": 1, "kind": "timeout", "timeout_ms": 3000 }),
    )
    .await;
    link.describe().await.expect("a read is retried");

    // The same fault on a pause: no second send, so the error stands even though a retry
    // would have been answered.
    rest_faults(
        &sim,
        json!({ "remaining": 1, "kind": "timeout", "timeout_ms": 3000 }),
    )
    .await;
    let err = link
        .alter_mirrors(MirrorAction::Pause, std::slice::from_ref(&topic))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    let text = err.to_string();
    assert!(text.contains("may or may not have been applied"), "{text}");
    assert!(text.contains(&topic), "{text}");
    let mirrors = link.mirrors().await.unwrap();
    assert_eq!(
        mirrors[0].state,
        MirrorState::Active,
        "pause was never sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_basic_credentials_are_refused_with_401_and_right_ones_work() {
    let sim = Sim::start_with(&[], Some(("cutover", "right-password"))).await;
    let good = ConfluentRestLink::connect(RestLinkOptions {
        basic_auth: Some(("cutover".into(), "right-password".into())),
        ..options(&sim)
    })
    .await
    .expect("right credentials");
    assert_eq!(good.describe().await.unwrap().link_name, sim.link);

    let err = ConfluentRestLink::connect(RestLinkOptions {
        basic_auth: Some(("cutover".into(), "wrong-password".into())),
        ..options(&sim)
    })
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    match &err {
        Error::LinkRefused { status, .. } => assert_eq!(*status, 401),
        other => panic!("expected LinkRefused, got {other}"),
    }
    let text = err.render();
    assert!(!text.contains("wrong-password"), "{text}");
    assert!(
        text.contains("username-env"),
        "the hint names the keys: {text}"
    );

    let err = ConfluentRestLink::connect(RestLinkOptions {
        basic_auth: None,
        bearer_token: None,
        client_identity: None,
        ..options(&sim)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::LinkRefused { status: 401, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_link_name_fails_at_connect_naming_the_link_and_cluster() {
    let sim = Sim::start(&[]).await;
    let missing = unique("no-such-link");
    let err = ConfluentRestLink::connect(RestLinkOptions {
        link_name: missing.clone(),
        ..options(&sim)
    })
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    assert!(
        matches!(err, Error::LinkRefused { status: 404, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&missing), "{text}");
    assert!(text.contains(sim.sim.cluster_id()), "{text}");

    // A wrong cluster id is just as clear.
    let err = ConfluentRestLink::connect(RestLinkOptions {
        cluster_id: Some("not-the-cluster".into()),
        ..options(&sim)
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not-the-cluster"),
        "{}",
        err.render()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_the_destination_cluster_id_when_not_configured() {
    let sim = Sim::start(&[]).await;
    let link = ConfluentRestLink::connect(RestLinkOptions {
        cluster_id: None,
        ..options(&sim)
    })
    .await
    .expect("discovery");
    assert_eq!(link.cluster_id(), sim.sim.cluster_id());
    assert_eq!(link.describe().await.unwrap().link_name, sim.link);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_listening_is_unreachable() {
    // Bind then drop a listener: nothing answers on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = ConfluentRestLink::connect(RestLinkOptions {
        base_url: format!("http://127.0.0.1:{port}/kafka/v3"),
        link_name: "any".into(),
        cluster_id: Some("c".into()),
        basic_auth: Some(("u".into(), "hidden-pw".into())),
        bearer_token: None,
        client_identity: None,
        ca_file: None,
        timeout: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(10),
    })
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), exit::UNREACHABLE);
    assert!(matches!(err, Error::LinkUnreachable { .. }), "{err}");
    assert!(!err.render().contains("hidden-pw"));
}
