//! Every JSON document the emulator serves is checked against Confluent's published REST v3
//! schemas (`docs/reference/confluent-rest-v3-links.json`, the platform and cloud specs):
//! each required field is present, and no field is one the specs do not define.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cutover_lab::testkit::{create_topic, lab, unique, Sim};
use serde_json::{json, Value};

/// Where the reference lives: `docs/reference/` in the repository, or `CUTOVER_REST_SPEC`.
fn spec() -> Value {
    let path = std::env::var_os("CUTOVER_REST_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../docs/reference/confluent-rest-v3-links.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the REST reference at {} ({e}); set CUTOVER_REST_SPEC to its path",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the reference is JSON")
}

/// Required fields (from the platform spec, which all servers implement) and allowed fields
/// (from both specs) of a schema, following `$ref` and `allOf`.
fn fields(spec: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>, Value) {
    let mut required = BTreeSet::new();
    let mut allowed = BTreeSet::new();
    let mut props = serde_json::Map::new();
    for (flavour, collect_required) in [("platform", true), ("cloud", false)] {
        let schemas = &spec[flavour]["components"]["schemas"];
        let mut stack = vec![schemas[name].clone()];
        while let Some(s) = stack.pop() {
            if let Some(r) = s["$ref"].as_str() {
                stack.push(schemas[r.rsplit('/').next().unwrap()].clone());
                continue;
            }
            for part in s["allOf"].as_array().into_iter().flatten() {
                stack.push(part.clone());
            }
            for (k, v) in s["properties"].as_object().into_iter().flatten() {
                allowed.insert(k.clone());
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for r in s["required"].as_array().into_iter().flatten() {
                // A field listed as required is defined even where `properties` omits it
                // (`default` of a link config).
                allowed.insert(r.as_str().unwrap().to_string());
                if collect_required {
                    required.insert(r.as_str().unwrap().to_string());
                }
            }
        }
    }
    (required, allowed, Value::Object(props))
}

/// Checks `doc` against schema `name`, recursing into referenced objects and arrays.
fn check(spec: &Value, doc: &Value, name: &str, at: &str) {
    let (required, allowed, props) = fields(spec, name);
    let obj = doc
        .as_object()
        .unwrap_or_else(|| panic!("{at}: expected an object for {name}, got {doc}"));
    let keys: BTreeSet<String> = obj.keys().cloned().collect();
    let missing: Vec<_> = required.difference(&keys).collect();
    assert!(
        missing.is_empty(),
        "{at} ({name}) lacks required fields {missing:?}: {doc}"
    );
    let unknown: Vec<_> = keys.difference(&allowed).collect();
    assert!(
        unknown.is_empty(),
        "{at} ({name}) has fields the reference does not define {unknown:?}: {doc}"
    );
    for (k, v) in obj {
        let p = &props[k];
        let target = p["$ref"].as_str().or_else(|| p["items"]["$ref"].as_str());
        let Some(target) = target.map(|r| r.rsplit('/').next().unwrap().to_string()) else {
            continue;
        };
        if k == "metadata" {
            // The spec's examples use `resource` where the schema says `resource_name`; both
            // appear in real responses. Only `self` is required.
            assert!(v["self"].is_string(), "{at}.metadata lacks self: {v}");
            continue;
        }
        match v {
            Value::Array(items) => {
                let item_schema = if spec["platform"]["components"]["schemas"][&target]["allOf"]
                    .is_array()
                    || spec["platform"]["components"]["schemas"][&target]["properties"].is_object()
                {
                    target.clone()
                } else {
                    let inner = &spec["cloud"]["components"]["schemas"][&target]["items"]["$ref"];
                    inner
                        .as_str()
                        .map(|r| r.rsplit('/').next().unwrap().to_string())
                        .unwrap_or(target.clone())
                };
                for (i, item) in items.iter().enumerate() {
                    if item.is_object() {
                        check(spec, item, &item_schema, &format!("{at}.{k}[{i}]"));
                    }
                }
            }
            Value::Object(_) => check(spec, v, &target, &format!("{at}.{k}")),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_uses_exactly_the_reference_field_names() {
    let spec = spec();
    let topic = unique("schema");
    create_topic(&lab().origin, &topic, 2).await;
    let sim = Sim::start(&[]).await;
    sim.create_mirror(&topic).await;
    let rest = sim.sim.rest_url();
    let cid = sim.sim.cluster_id().to_string();

    let docs: Vec<(&str, String)> = vec![
        ("ClusterDataList", format!("{rest}/clusters")),
        ("ClusterData", format!("{rest}/clusters/{cid}")),
        (
            "ListLinksResponseDataList",
            format!("{rest}/clusters/{cid}/links"),
        ),
        ("ListLinksResponseData", sim.link_url("")),
        ("ListLinkConfigsResponseDataList", sim.link_url("/configs")),
        (
            "ListLinkConfigsResponseData",
            sim.link_url("/configs/consumer.offset.sync.ms"),
        ),
        ("ListMirrorTopicsResponseDataList", sim.link_url("/mirrors")),
        (
            "ListMirrorTopicsResponseDataList",
            format!("{rest}/clusters/{cid}/links/-/mirrors"),
        ),
        (
            "ListMirrorTopicsResponseData",
            sim.link_url(&format!(
                "/mirrors/{topic}?include_state_transition_errors=true"
            )),
        ),
        ("Error", sim.link_url("/mirrors/no-such-topic")),
        ("Error", format!("{rest}/clusters/{cid}/links/no-such-link")),
    ];
    for (schema, url) in docs {
        let (_, doc) = sim.get(&url).await;
        check(&spec, &doc, schema, &url);
    }
    let (_, list) = sim.get(&sim.link_url("/configs")).await;
    assert!(!list["data"].as_array().unwrap().is_empty());
    let (_, mirror) = sim.get(&sim.link_url(&format!("/mirrors/{topic}"))).await;
    assert_eq!(mirror["mirror_lags"].as_array().unwrap().len(), 2);

    for action in ["pause", "resume", "promote", "failover"] {
        let (status, doc) = sim
            .send(
                reqwest::Method::POST,
                &sim.link_url(&format!("/mirrors:{action}")),
                json!({ "mirror_topic_names": [topic.clone(), "no-such-mirror"] }),
            )
            .await;
        assert_eq!(status, 200, "{action}: {doc}");
        check(&spec, &doc, "AlterMirrorStatusResponseDataList", action);
        assert_eq!(doc["data"][1]["error_code"], 404, "{action}: {doc}");
    }
    let (status, doc) = sim
        .send(
            reqwest::Method::PUT,
            &sim.link_url("/configs/consumer.offset.sync.ms"),
            json!({ "value": "-5" }),
        )
        .await;
    assert_eq!(status, 400);
    check(&spec, &doc, "Error", "bad config");
}
