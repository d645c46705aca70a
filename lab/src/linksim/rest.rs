//! The emulator's HTTP server: the Confluent REST v3 subset for one cluster link, and an
//! admin API for fault knobs that is not part of the emulated API.
//!
//! Paths, methods, status codes and JSON field names follow
//! `shared/reference/cluster-linking.md` §1 and the published OpenAPI schemas. Routing is done
//! by hand on path segments so that colon actions (`mirrors:promote`, `configs:alter`) are
//! literal segments, as Confluent's servers treat them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::linksim::ops;
use crate::linksim::Shared;
use cutover::sim::link_model::{
    config_spec, Faults, Mirror, MirrorStatus, Refusal, RestFaultKind, RestFaults, CONFIGS,
};

const API_PREFIX: &str = "/kafka/v3";
const ADMIN_PREFIX: &str = "/linksim/v1";

/// The single entry point: every request lands here.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = parse_query(uri.query().unwrap_or(""));
    if let Some(rest) = path.strip_prefix(ADMIN_PREFIX) {
        return admin(&shared, &method, rest, &body);
    }
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return error(
            404,
            404,
            format!("No such path {path}: the API is under {API_PREFIX}"),
        );
    };
    let fault = shared.lock().take_rest_fault();
    if let Some(fault) = fault {
        return injected(fault).await;
    }
    if !authorized(&shared, &headers) {
        return error(401, 40101, "Authentication failed".into());
    }
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match route(&shared, &method, &segments, &query, &body).await {
        Ok(response) => response,
        Err(refusal) => error(refusal.status, refusal.error_code, refusal.message),
    }
}

async fn injected(fault: RestFaults) -> Response {
    match fault.kind {
        RestFaultKind::Status => {
            let status = fault.status.unwrap_or(503);
            error(
                status,
                i32::from(status) * 100 + 3,
                "Injected failure (cutover-linksim fault knob)".into(),
            )
        }
        RestFaultKind::Timeout => {
            tokio::time::sleep(Duration::from_millis(fault.timeout_ms.unwrap_or(60_000))).await;
            error(
                504,
                50400,
                "Injected timeout (cutover-linksim fault knob)".into(),
            )
        }
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some((user, password)) = &shared.basic_auth else {
        return true;
    };
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    decoded == format!("{user}:{password}").as_bytes()
}

type Routed = Result<Response, Refusal>;

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &Bytes,
) -> Routed {
    let get = method == Method::GET;
    match segments {
        ["clusters"] if get => Ok(ok(json!({
            "kind": "KafkaClusterList",
            "metadata": { "self": shared.url("/clusters"), "next": null },
            "data": [cluster_json(shared)],
        }))),
        ["clusters", cid] if get => {
            check_cluster(shared, cid)?;
            Ok(ok(cluster_json(shared)))
        }
        ["clusters", cid, rest @ ..] => {
            check_cluster(shared, cid)?;
            links(shared, method, rest, query, body).await
        }
        _ if segments.first() == Some(&"clusters") => Err(not_allowed(method)),
        _ => Err(Refusal::not_found(format!(
            "No such resource /{}",
            segments.join("/")
        ))),
    }
}

async fn links(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &Bytes,
) -> Routed {
    let get = method == Method::GET;
    let validate_only = query.get("validate_only").is_some_and(|v| v == "true");
    match segments {
        ["links"] if get => {
            let link = link_json(shared);
            Ok(ok(json!({
                "kind": "KafkaLinkDataList",
                "metadata": { "self": shared.url(&format!("/clusters/{}/links", shared.cluster_id())), "next": null },
                "data": [link],
            })))
        }
        ["links"] if method == Method::POST => Err(Refusal::bad_request(
            "cutover-linksim serves the one link it was started with; start another emulator for another link".into(),
        )),
        ["links", "-", "mirrors"] if get => list_mirrors(shared, query),
        ["links", link, rest @ ..] => {
            check_link(shared, link)?;
            match rest {
                [] if get => Ok(ok(link_json(shared))),
                ["configs"] if get => Ok(ok(configs_json(shared))),
                ["configs:alter"] if method == Method::PUT => {
                    let req: AlterConfigs = parse_body(body)?;
                    let changes = req
                        .data
                        .into_iter()
                        .map(|c| match c.operation.as_deref().map(str::to_ascii_uppercase).as_deref() {
                            Some("DELETE") => Ok((c.name, None)),
                            None | Some("SET") => Ok((c.name, Some(c.value.unwrap_or_default()))),
                            Some(other) => Err(Refusal::bad_request(format!(
                                "Unknown operation '{other}' for config '{}': use SET or DELETE",
                                c.name
                            ))),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    alter(shared, &changes, validate_only)
                }
                ["configs", name] if get => {
                    let state = shared.lock();
                    config_spec(name).ok_or_else(|| {
                        Refusal::not_found(format!("Config '{name}' not found for link '{}'", state.link_name))
                    })?;
                    Ok(ok(config_json(shared, &state, name)))
                }
                ["configs", name] if method == Method::PUT => {
                    let req: UpdateConfig = parse_body(body)?;
                    alter(shared, &[(name.to_string(), Some(req.value))], false)
                }
                ["configs", name] if method == Method::DELETE => alter(shared, &[(name.to_string(), None)], false),
                ["mirrors"] if get => list_mirrors(shared, query),
                ["mirrors"] if method == Method::POST => {
                    let req: CreateMirror = parse_body(body)?;
                    let configs = req.configs.into_iter().filter_map(|c| c.value.map(|v| (c.name, v))).collect();
                    ops::create_mirror(shared, &req.source_topic_name, req.mirror_topic_name, req.replication_factor, configs, validate_only).await?;
                    Ok(StatusCode::NO_CONTENT.into_response())
                }
                ["mirrors", topic] if get => {
                    let state = shared.lock();
                    let mirror = state.mirrors.get(*topic).ok_or_else(|| Refusal::not_a_mirror(topic, &state.link_name))?;
                    let transitions = query.get("include_state_transition_errors").is_some_and(|v| v == "true");
                    Ok(ok(mirror_json(shared, &state.link_name, mirror, transitions)))
                }
                [action] if method == Method::POST => {
                    let action = match *action {
                        "mirrors:promote" => cutover::link::MirrorAction::Promote,
                        "mirrors:failover" => cutover::link::MirrorAction::Failover,
                        "mirrors:pause" => cutover::link::MirrorAction::Pause,
                        "mirrors:resume" => cutover::link::MirrorAction::Resume,
                        other => return Err(Refusal::not_found(format!("No such action '{other}'"))),
                    };
                    let req: AlterMirrors = parse_body(body)?;
                    let results = ops::alter_mirrors(shared, action, &req.mirror_topic_names, validate_only).await;
                    let state = shared.lock();
                    let data: Vec<Value> = results
                        .into_iter()
                        .map(|(topic, outcome)| {
                            let lags = state.mirrors.get(&topic).map(lags_json).unwrap_or_else(|| json!([]));
                            let (code, message) = match outcome {
                                Ok(()) => (Value::Null, Value::Null),
                                Err(r) => (json!(r.status), json!(r.message)),
                            };
                            json!({
                                "kind": "AlterMirrorsData",
                                "metadata": {
                                    "self": shared.url(&format!("/clusters/{}/links/{}/mirrors/{topic}", shared.cluster_id(), state.link_name)),
                                    "resource": resource_name(shared, &state.link_name),
                                },
                                "mirror_topic_name": topic,
                                "error_code": code,
                                "error_message": message,
                                "mirror_lags": lags,
                                "messages_truncated": null,
                                "partition_level_truncation_data": [],
                            })
                        })
                        .collect();
                    Ok(ok(json!({
                        "kind": "KafkaPromoteMirror",
                        "metadata": {
                            "self": shared.url(&format!("/clusters/{}/links/{}/mirrors", shared.cluster_id(), state.link_name)),
                            "resource_name": resource_name(shared, &state.link_name),
                        },
                        "data": data,
                    })))
                }
                _ => Err(not_allowed(method)),
            }
        }
        _ => Err(not_allowed(method)),
    }
}

fn alter(
    shared: &Arc<Shared>,
    changes: &[(String, Option<String>)],
    validate_only: bool,
) -> Routed {
    let mut state = shared.lock();
    if validate_only {
        state.validate(changes)?;
    } else {
        state.apply(changes)?;
        drop(state);
        shared.wake.notify_waiters();
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn list_mirrors(shared: &Arc<Shared>, query: &BTreeMap<String, String>) -> Routed {
    let wanted = match query.get("mirror_status") {
        None => None,
        Some(s) => Some(
            MirrorStatus::parse(s)
                .ok_or_else(|| Refusal::bad_request(format!("Unknown mirror_status '{s}'")))?,
        ),
    };
    let state = shared.lock();
    let data: Vec<Value> = state
        .mirrors
        .values()
        .filter(|m| wanted.is_none_or(|w| m.status == w))
        .map(|m| mirror_json(shared, &state.link_name, m, false))
        .collect();
    Ok(ok(json!({
        "kind": "KafkaMirrorDataList",
        "metadata": {
            "self": shared.url(&format!("/clusters/{}/links/{}/mirrors", shared.cluster_id(), state.link_name)),
            "next": null,
        },
        "data": data,
    })))
}

fn cluster_json(shared: &Shared) -> Value {
    let cid = shared.cluster_id();
    let rel = |p: &str| json!({ "related": shared.url(&format!("/clusters/{cid}{p}")) });
    json!({
        "kind": "KafkaCluster",
        "metadata": { "self": shared.url(&format!("/clusters/{cid}")), "resource_name": format!("crn:///kafka={cid}") },
        "cluster_id": cid,
        "controller": rel("/brokers/1"),
        "acls": rel("/acls"),
        "brokers": rel("/brokers"),
        "broker_configs": rel("/broker-configs"),
        "consumer_groups": rel("/consumer-groups"),
        "topics": rel("/topics"),
        "partition_reassignments": rel("/topics/-/partitions/-/reassignment"),
    })
}

fn link_json(shared: &Shared) -> Value {
    let state = shared.lock();
    let paused = state.config_bool(cutover::sim::link_model::LINK_PAUSED);
    json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": shared.url(&format!("/clusters/{}/links/{}", shared.cluster_id(), state.link_name)),
            "resource_name": resource_name(shared, &state.link_name),
        },
        "source_cluster_id": state.source_cluster_id,
        "destination_cluster_id": null,
        "link_name": state.link_name,
        "link_id": state.link_id,
        "cluster_link_id": state.link_id,
        "topic_names": state.mirrors.keys().collect::<Vec<_>>(),
        "link_state": if paused { "PAUSED" } else { "ACTIVE" },
        "link_error": "NO_ERROR",
        "link_error_message": null,
    })
}

fn configs_json(shared: &Shared) -> Value {
    let state = shared.lock();
    let data: Vec<Value> = CONFIGS
        .iter()
        .map(|c| config_json(shared, &state, c.name))
        .collect();
    json!({
        "kind": "KafkaLinkConfigDataList",
        "metadata": {
            "self": shared.url(&format!("/clusters/{}/links/{}/configs", shared.cluster_id(), state.link_name)),
            "next": null,
        },
        "data": data,
    })
}

fn config_json(shared: &Shared, state: &cutover::sim::link_model::LinkState, name: &str) -> Value {
    let spec = config_spec(name).expect("callers pass known config names");
    let set = state.is_set(name);
    json!({
        "kind": "KafkaLinkConfigData",
        "metadata": {
            "self": shared.url(&format!("/clusters/{}/links/{}/configs/{name}", shared.cluster_id(), state.link_name)),
            "resource_name": null,
        },
        "cluster_id": shared.cluster_id(),
        "link_name": state.link_name,
        "name": name,
        "value": state.config(name),
        "default": !set,
        "read_only": spec.read_only,
        "sensitive": false,
        "source": if set { "DYNAMIC_CLUSTER_LINK_CONFIG" } else { "DEFAULT_CONFIG" },
        "synonyms": spec.synonyms,
    })
}

fn lags_json(mirror: &Mirror) -> Value {
    mirror
        .lags
        .iter()
        .map(|(p, l)| json!({ "partition": p, "lag": l.lag(), "last_source_fetch_offset": l.origin_end }))
        .collect()
}

fn mirror_json(shared: &Shared, link: &str, mirror: &Mirror, transitions: bool) -> Value {
    let mut doc = json!({
        "kind": "KafkaMirrorData",
        "metadata": {
            "self": shared.url(&format!("/clusters/{}/links/{link}/mirrors/{}", shared.cluster_id(), mirror.mirror_topic)),
            "resource_name": resource_name(shared, link),
        },
        "link_name": link,
        "mirror_topic_name": mirror.mirror_topic,
        "source_topic_name": mirror.source_topic,
        "num_partitions": mirror.partitions,
        "mirror_lags": lags_json(mirror),
        "mirror_status": mirror.status.as_str(),
        "mirror_topic_error": mirror.failure.as_ref().map_or("NO_ERROR", |f| f.code),
        "state_time_ms": mirror.state_time_ms,
    });
    if transitions {
        doc["mirror_state_transition_errors"] = mirror
            .failure
            .iter()
            .map(|f| json!({ "error_code": f.code, "error_message": f.message }))
            .collect();
    }
    doc
}

fn resource_name(shared: &Shared, link: &str) -> String {
    format!("crn:///kafka={}/cluster-link={link}", shared.cluster_id())
}

fn check_cluster(shared: &Shared, cid: &str) -> Result<(), Refusal> {
    if cid == shared.cluster_id() {
        Ok(())
    } else {
        Err(Refusal::not_found(format!("Cluster {cid} not found")))
    }
}

fn check_link(shared: &Shared, link: &str) -> Result<(), Refusal> {
    let name = shared.lock().link_name.clone();
    if link == name {
        Ok(())
    } else {
        Err(Refusal {
            status: 404,
            error_code: 404,
            message: format!("Cluster link '{link}' does not exist"),
        })
    }
}

fn not_allowed(method: &Method) -> Refusal {
    Refusal {
        status: 405,
        error_code: 405,
        message: format!("HTTP {method} is not supported on this resource"),
    }
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error(status: u16, error_code: i32, message: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({ "error_code": error_code, "message": message })),
    )
        .into_response()
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal {
        status: 400,
        error_code: 400,
        message: format!("Invalid request body: {e}"),
    })
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Deserialize)]
struct UpdateConfig {
    value: String,
}

#[derive(Deserialize)]
struct AlterConfigs {
    data: Vec<AlterConfigEntry>,
}

#[derive(Deserialize)]
struct AlterConfigEntry {
    name: String,
    value: Option<String>,
    operation: Option<String>,
}

#[derive(Deserialize)]
struct CreateMirror {
    source_topic_name: String,
    mirror_topic_name: Option<String>,
    replication_factor: Option<i32>,
    #[serde(default)]
    configs: Vec<ConfigEntry>,
}

#[derive(Deserialize)]
struct ConfigEntry {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct AlterMirrors {
    mirror_topic_names: Vec<String>,
}

/// The admin API: `GET|PUT /linksim/v1/faults`, `PUT /linksim/v1/faults/rest`,
/// `GET /linksim/v1/status`. Never behind Basic auth or REST fault injection, so a test can
/// always reach it.
fn admin(shared: &Arc<Shared>, method: &Method, path: &str, body: &Bytes) -> Response {
    match (method.as_str(), path) {
        ("GET", "/faults") => ok(json!(shared.lock().faults)),
        ("PUT", "/faults") => match serde_json::from_slice::<Faults>(body) {
            Ok(faults) => {
                shared.lock().faults = faults;
                shared.wake.notify_waiters();
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => error(400, 400, format!("Invalid faults: {e}")),
        },
        ("PUT", "/faults/rest") => match serde_json::from_slice::<RestFaults>(body) {
            Ok(faults) => {
                shared.lock().rest_faults = faults;
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => error(400, 400, format!("Invalid REST faults: {e}")),
        },
        ("GET", "/status") => {
            let offset_sync = shared.sync_report().clone();
            let state = shared.lock();
            ok(json!({
                "link_name": state.link_name,
                "mirrors": state.mirrors,
                "offset_sync": offset_sync,
                "faults": state.faults,
                "rest_faults": state.rest_faults,
            }))
        }
        _ => error(
            404,
            404,
            format!("No admin resource {} {ADMIN_PREFIX}{path}", method),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_percent_decoded() {
        assert_eq!(percent_decode("configs%3Aalter"), "configs:alter");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%"), "end%");
        let q = parse_query("mirror_status=ACTIVE&validate_only=true&flag");
        assert_eq!(q["mirror_status"], "ACTIVE");
        assert_eq!(q["validate_only"], "true");
        assert_eq!(q["flag"], "");
    }
}
