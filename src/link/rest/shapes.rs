//! The link's REST answers as the agent reads them: their shapes (only the fields it uses),
//! their parsing into the link's descriptions with errors that name the item and the field,
//! and the one request body it builds (`configs:alter`). No I/O: the client
//! ([`super::ConfluentRestLink`]) fetches, this file reads.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::link::{LinkDescription, MirrorActionResult, MirrorDescription, ReportedLag};
use crate::model::MirrorState;

pub(super) fn alter_configs_body(changes: &[(String, Option<String>)]) -> Value {
    let data: Vec<Value> = changes
        .iter()
        .map(|(name, value)| match value {
            Some(value) => json!({ "name": name, "value": value }),
            None => json!({ "name": name, "operation": "DELETE" }),
        })
        .collect();
    json!({ "data": data })
}

// The answer shapes. Only the fields the agent uses are named; serde ignores the rest
// (`kind`, `metadata`, Cloud-only fields), and `Option` fields may be missing or null, since
// Cloud and Platform differ. A missing required field is an error naming the field.

pub(super) struct Page {
    pub(super) data: Vec<Value>,
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
struct CollectionJson {
    data: Vec<Value>,
    metadata: Option<CollectionMetadataJson>,
}

#[derive(Deserialize)]
struct CollectionMetadataJson {
    next: Option<String>,
}

#[derive(Deserialize)]
struct ClusterJson {
    cluster_id: String,
}

#[derive(Deserialize)]
struct LinkJson {
    link_name: String,
    source_cluster_id: Option<String>,
    topic_names: Vec<String>,
    link_state: Option<String>,
}

#[derive(Deserialize)]
struct MirrorJson {
    mirror_topic_name: String,
    source_topic_name: String,
    num_partitions: i32,
    mirror_status: String,
    mirror_lags: Option<Vec<MirrorLagJson>>,
    mirror_topic_error: Option<String>,
}

#[derive(Deserialize)]
struct MirrorLagJson {
    partition: i32,
    lag: i64,
    last_source_fetch_offset: i64,
}

#[derive(Deserialize)]
struct ConfigJson {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct AlterResultsJson {
    data: Vec<Value>,
}

#[derive(Deserialize)]
struct AlterResultJson {
    mirror_topic_name: String,
    error_code: Option<i64>,
    error_message: Option<String>,
}

pub(super) fn parse_collection(body: &[u8]) -> Result<Page, String> {
    let c: CollectionJson = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(Page {
        data: c.data,
        next: c
            .metadata
            .and_then(|m| m.next)
            .filter(|n| !n.trim().is_empty()),
    })
}

/// Deserializes one item of a collection; the error says which item (by `name_field` when it
/// is there) and which field.
pub(super) fn item<T: for<'de> Deserialize<'de>>(
    index: usize,
    value: &Value,
    name_field: &str,
) -> Result<T, String> {
    T::deserialize(value).map_err(|e| match value.get(name_field).and_then(Value::as_str) {
        Some(name) => format!("item {index} ({name}): {e}"),
        None => format!("item {index}: {e}"),
    })
}

pub(super) fn parse_cluster_ids(items: &[Value]) -> Result<Vec<String>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| item::<ClusterJson>(i, v, "cluster_id").map(|c| c.cluster_id))
        .collect()
}

pub(super) fn parse_link(body: &[u8]) -> Result<LinkDescription, String> {
    let link: LinkJson = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(LinkDescription {
        link_name: link.link_name,
        source_cluster_id: link.source_cluster_id,
        mirror_topics: link.topic_names,
        state: link.link_state,
    })
}

pub(super) fn parse_mirror(index: usize, value: &Value) -> Result<MirrorDescription, String> {
    let m: MirrorJson = item(index, value, "mirror_topic_name")?;
    let lags = m
        .mirror_lags
        .unwrap_or_default()
        .into_iter()
        .map(|l| {
            (
                l.partition,
                ReportedLag {
                    lag: l.lag,
                    last_source_fetch_offset: l.last_source_fetch_offset,
                },
            )
        })
        .collect();
    let error = m
        .mirror_topic_error
        .filter(|e| !e.is_empty() && e != "NO_ERROR" && e != "NOT_SET");
    Ok(MirrorDescription {
        mirror_topic: m.mirror_topic_name,
        source_topic: m.source_topic_name,
        partitions: m.num_partitions,
        state: MirrorState::parse(&m.mirror_status),
        lags,
        error,
    })
}

pub(super) fn parse_mirrors(items: &[Value]) -> Result<Vec<MirrorDescription>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_mirror(i, v))
        .collect()
}

pub(super) fn parse_configs(items: &[Value]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, v) in items.iter().enumerate() {
        let c: ConfigJson = item(i, v, "name")?;
        // A sensitive config (a JAAS line, a password) is answered with a null value; it has
        // no value the agent could read or compare, so it is left out rather than shown empty.
        if let Some(value) = c.value {
            out.insert(c.name, value);
        }
    }
    Ok(out)
}

/// One result per requested topic, in the order asked. A topic the answer leaves out gets an
/// error, so a caller never mistakes silence for success.
pub(super) fn parse_alter_results(
    body: &[u8],
    requested: &[String],
) -> Result<Vec<MirrorActionResult>, String> {
    let list: AlterResultsJson = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut answered: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (i, v) in list.data.iter().enumerate() {
        let r: AlterResultJson = item(i, v, "mirror_topic_name")?;
        let message = r.error_message.filter(|m| !m.trim().is_empty());
        // The spec pairs a non-null error_code with the message; a message without a code is
        // still a refusal, never an acceptance.
        let error = match (r.error_code, message) {
            (Some(code), Some(m)) => Some(format!("{m} (error code {code})")),
            (Some(code), None) => Some(format!("error code {code}")),
            (None, Some(m)) => Some(m),
            (None, None) => None,
        };
        answered.insert(r.mirror_topic_name, error);
    }
    Ok(requested
        .iter()
        .map(|topic| MirrorActionResult {
            mirror_topic: topic.clone(),
            error: match answered.get(topic) {
                Some(error) => error.clone(),
                None => Some(format!(
                    "the link's answer has no result for mirror topic {topic}"
                )),
            },
        })
        .collect())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Confluent's REST v3 specs for links (`docs/reference/`, where their source is named).
    pub(in crate::link::rest) fn spec() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/reference/confluent-rest-v3-links.json"
        );
        let text = std::fs::read_to_string(path).expect("the reference spec file is readable");
        serde_json::from_str(&text).expect("the reference spec is JSON")
    }

    /// The 200 example of `method` on `path` of the `flavour` ("cloud" or "platform") spec.
    fn example(flavour: &str, path: &str, method: &str, name: Option<&str>) -> Vec<u8> {
        let spec = spec();
        let prefix = if flavour == "cloud" { "/kafka/v3" } else { "" };
        let content = &spec[flavour]["paths"][format!("{prefix}{path}")][method]["responses"]
            ["200"]["content"]["application/json"];
        let value = match name {
            Some(n) => content["examples"][n]["value"].clone(),
            None => content["example"].clone(),
        };
        assert!(!value.is_null(), "no example for {flavour} {method} {path}");
        serde_json::to_vec(&value).expect("serializable")
    }

    #[test]
    fn parses_the_describe_mirror_example_of_both_specs() {
        for flavour in ["platform", "cloud"] {
            let body = example(
                flavour,
                "/clusters/{cluster_id}/links/{link_name}/mirrors/{mirror_topic_name}",
                "get",
                None,
            );
            let value: Value = serde_json::from_slice(&body).unwrap();
            let m = parse_mirror(0, &value).unwrap();
            assert_eq!(m.mirror_topic, "topic-1");
            assert_eq!(m.source_topic, "topic-1");
            assert_eq!(m.partitions, 3);
            assert_eq!(m.state, MirrorState::Active);
            assert_eq!(m.error, None);
            assert_eq!(
                m.lags[&2],
                ReportedLag {
                    lag: 40000,
                    last_source_fetch_offset: 12030
                }
            );
            assert_eq!(m.lags.len(), 3);
        }
    }

    #[test]
    fn parses_the_list_mirrors_example_with_unknown_fields() {
        let body = example(
            "platform",
            "/clusters/{cluster_id}/links/{link_name}/mirrors",
            "get",
            None,
        );
        let page = parse_collection(&body).unwrap();
        assert_eq!(page.next, None);
        let mirrors = parse_mirrors(&page.data).unwrap();
        let states: Vec<_> = mirrors
            .iter()
            .map(|m| (m.mirror_topic.as_str(), m.state.clone()))
            .collect();
        assert_eq!(
            states,
            [
                ("topic-1", MirrorState::Active),
                ("topic-2", MirrorState::Stopped)
            ]
        );
    }

    #[test]
    fn parses_the_promote_example_into_per_topic_results() {
        for flavour in ["platform", "cloud"] {
            let body = example(
                flavour,
                "/clusters/{cluster_id}/links/{link_name}/mirrors:promote",
                "post",
                None,
            );
            let asked = vec!["topic-sb".to_string(), "topic-2".to_string()];
            let results = parse_alter_results(&body, &asked).unwrap();
            assert_eq!(
                results,
                [
                    MirrorActionResult {
                        mirror_topic: "topic-sb".into(),
                        error: None
                    },
                    MirrorActionResult {
                        mirror_topic: "topic-2".into(),
                        error: Some(
                            "Topic 'topic-2' has already stopped its mirror from 'my-new-link-1' (error code 400)"
                                .into()
                        )
                    }
                ],
                "{flavour}"
            );
        }
    }

    #[test]
    fn a_topic_missing_from_an_action_answer_is_reported_as_an_error() {
        let body =
            br#"{"data":[{"mirror_topic_name":"a","error_code":null,"error_message":null}]}"#;
        let asked = vec!["a".to_string(), "b".to_string()];
        let results = parse_alter_results(body, &asked).unwrap();
        assert_eq!(results[0].error, None);
        assert!(results[1]
            .error
            .as_deref()
            .unwrap()
            .contains("no result for mirror topic b"));
    }

    #[test]
    fn parses_the_link_examples_with_and_without_link_state() {
        let body = example(
            "platform",
            "/clusters/{cluster_id}/links/{link_name}",
            "get",
            Some("link_at_destination_cluster"),
        );
        let link = parse_link(&body).unwrap();
        assert_eq!(
            link,
            LinkDescription {
                link_name: "my-new-link-1".into(),
                source_cluster_id: Some("src-cluster-id".into()),
                mirror_topics: vec!["topic-db-1".into(), "topic-db-2".into()],
                state: None,
            }
        );
        // The Cloud list example carries link_state, and a source-side link has no source id.
        let body = example("cloud", "/clusters/{cluster_id}/links", "get", None);
        let page = parse_collection(&body).unwrap();
        let links: Vec<LinkDescription> = page
            .data
            .iter()
            .map(|v| parse_link(&serde_json::to_vec(v).unwrap()).unwrap())
            .collect();
        assert_eq!(links[0].state.as_deref(), Some("ACTIVE"));
        assert_eq!(links[1].state.as_deref(), Some("UNAVAILABLE"));
        assert_eq!(links[2].source_cluster_id, None);
    }

    #[test]
    fn parses_the_configs_examples_of_both_specs() {
        for flavour in ["platform", "cloud"] {
            let body = example(
                flavour,
                "/clusters/{cluster_id}/links/{link_name}/configs",
                "get",
                None,
            );
            let configs = parse_configs(&parse_collection(&body).unwrap().data).unwrap();
            assert_eq!(
                configs,
                BTreeMap::from([
                    ("acl.sync.ms".to_string(), "5000".to_string()),
                    ("consumer.offset.sync.ms".to_string(), "3825940".to_string()),
                ])
            );
        }
    }

    #[test]
    fn a_missing_required_field_is_an_error_naming_it_and_the_item() {
        let items = vec![json!({
            "mirror_topic_name": "orders",
            "source_topic_name": "orders",
            "num_partitions": 3,
        })];
        let err = parse_mirrors(&items).unwrap_err();
        assert!(err.contains("item 0 (orders)"), "{err}");
        assert!(err.contains("mirror_status"), "{err}");
    }

    #[test]
    fn optional_mirror_fields_may_be_missing_or_null_and_errors_are_kept() {
        let items = vec![json!({
            "mirror_topic_name": "t", "source_topic_name": "t", "num_partitions": 1,
            "mirror_status": "SOURCE_UNAVAILABLE", "mirror_lags": null,
            "mirror_topic_error": "SOURCE_TOPIC_ID_CHANGED", "brand_new_field": {"x": 1},
        })];
        let m = &parse_mirrors(&items).unwrap()[0];
        assert!(m.lags.is_empty());
        assert_eq!(m.state, MirrorState::Other("SOURCE_UNAVAILABLE".into()));
        assert_eq!(m.error.as_deref(), Some("SOURCE_TOPIC_ID_CHANGED"));
        for none in ["NO_ERROR", "NOT_SET"] {
            let mut v = items[0].clone();
            v["mirror_topic_error"] = json!(none);
            assert_eq!(parse_mirrors(&[v]).unwrap()[0].error, None);
        }
    }

    #[test]
    fn a_sensitive_config_with_a_null_value_is_left_out() {
        let items = vec![
            json!({"name": "sasl.jaas.config", "value": null, "sensitive": true}),
            json!({"name": "acl.sync.ms", "value": "5000"}),
        ];
        let configs = parse_configs(&items).unwrap();
        assert_eq!(configs.keys().collect::<Vec<_>>(), ["acl.sync.ms"]);
    }

    #[test]
    fn alter_configs_body_sets_values_and_deletes_for_none() {
        let body = alter_configs_body(&[
            ("consumer.offset.sync.ms".into(), Some("1000".into())),
            ("acl.sync.ms".into(), None),
        ]);
        assert_eq!(
            body,
            json!({"data": [
                {"name": "consumer.offset.sync.ms", "value": "1000"},
                {"name": "acl.sync.ms", "operation": "DELETE"},
            ]})
        );
    }
}
