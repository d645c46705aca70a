//! The lab's own link emulator (started by `tests/lab/lab up`) is reachable at the address
//! `lab env` exports and mirrors between the lab's two clusters: what an operator rehearsing
//! with `eval "$(tests/lab/lab env)"` relies on.

use std::time::Duration;

use cutover_lab::testkit::{self, create_topic, lab, produce, read_all, unique};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_env_points_at_a_running_link_that_mirrors_origin_to_destination() {
    let env = &lab().env;
    let rest = &env["CUTOVER_LINK_REST_URL"];
    let link = &env["CUTOVER_LINK_NAME"];
    let cid = &env["CUTOVER_DESTINATION_CLUSTER_ID"];
    assert!(rest.ends_with("/kafka/v3"), "{rest}");
    let http = reqwest::Client::new();

    let clusters: Value = http
        .get(format!("{rest}/clusters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clusters["data"][0]["cluster_id"], json!(cid));
    let links: Value = http
        .get(format!("{rest}/clusters/{cid}/links"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(links["data"][0]["link_name"], json!(link));
    assert_eq!(
        links["data"][0]["source_cluster_id"],
        json!(env["CUTOVER_ORIGIN_CLUSTER_ID"])
    );
    let sync: Value = http
        .get(format!(
            "{rest}/clusters/{cid}/links/{link}/configs/consumer.offset.sync.enable"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sync["value"], "true", "the lab's link syncs offsets");

    let topic = unique("lab-link");
    create_topic(&lab().origin, &topic, 2).await;
    produce(&lab().origin, &topic, &[(0, 4), (1, 6)]).await;
    let created = http
        .post(format!("{rest}/clusters/{cid}/links/{link}/mirrors"))
        .json(&json!({ "source_topic_name": topic }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 204);
    testkit::wait_for(
        "the lab's mirror to catch up",
        Duration::from_secs(30),
        || {
            let m = read_all(&lab().destination, &topic, 2);
            (m[&0].len() == 4 && m[&1].len() == 6).then_some(())
        },
    );
    assert_eq!(
        read_all(&lab().origin, &topic, 2),
        read_all(&lab().destination, &topic, 2)
    );
}
