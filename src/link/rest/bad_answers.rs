//! Bad answers from the link's REST API: generated and mutated JSON (truncated, wrong types,
//! unknown fields, huge arrays) fed to the parsers, each giving the right value or an error
//! that says what is wrong, never a panic; and answers longer than cutover reads
//! ([`MAX_ANSWER_BYTES`]), refused without being held in memory.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::answer::MESSAGE_CHARS;
use super::*;
use crate::link::ReportedLag;
use crate::model::MirrorState;
use crate::proptest_support::{any_json, config, Floats};

/// Fields a version of the API may add: their names are not ours.
fn unknown_fields() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x_[a-z_]{0,10}", any_json(Floats::With), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

/// What a field holds, to generate a value of another type for it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    OptionalText,
    Int32,
    Int64,
    Texts,
    OptionalList,
}

fn fits(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Text => v.is_string(),
        Kind::OptionalText => v.is_string() || v.is_null(),
        Kind::Int32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Kind::Int64 => v.is_i64(),
        Kind::Texts => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        // An empty list of lags is a correct value; other arrays are judged item by item.
        Kind::OptionalList => v.is_null() || v.as_array().is_some_and(Vec::is_empty),
    }
}

/// Whether `v` is of a type `kind` does not accept (any array may hold lags: those are judged
/// one by one).
fn is_wrong(kind: Kind, v: &Value) -> bool {
    !(fits(kind, v) || (matches!(kind, Kind::OptionalList) && v.is_array()))
}

/// A value that `kind` does not accept.
fn wrong(kind: Kind) -> impl Strategy<Value = Value> {
    any_json(Floats::With).prop_filter("a value of another type", move |v| is_wrong(kind, v))
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,24}"
}

fn lag() -> impl Strategy<Value = (i32, i64, i64)> {
    (any::<i32>(), any::<i64>(), any::<i64>())
}

#[derive(Debug, Clone)]
struct Mirror {
    topic: String,
    source: String,
    partitions: i32,
    status: String,
    lags: Option<Vec<(i32, i64, i64)>>,
    error: Option<String>,
    extra: Map<String, Value>,
}

fn mirror() -> impl Strategy<Value = Mirror> {
    (
        name(),
        name(),
        any::<i32>(),
        prop_oneof![
            Just("ACTIVE".to_string()),
            Just("STOPPED".to_string()),
            any::<String>()
        ],
        prop::option::of(prop::collection::vec(lag(), 0..4)),
        prop::option::of(prop_oneof![Just("NO_ERROR".to_string()), any::<String>()]),
        unknown_fields(),
    )
        .prop_map(
            |(topic, source, partitions, status, lags, error, extra)| Mirror {
                topic,
                source,
                partitions,
                status,
                lags,
                error,
                extra,
            },
        )
}

impl Mirror {
    fn json(&self) -> Value {
        let mut v = self.extra.clone();
        v.insert("kind".into(), json!("KafkaMirrorData"));
        v.insert("mirror_topic_name".into(), json!(self.topic));
        v.insert("source_topic_name".into(), json!(self.source));
        v.insert("num_partitions".into(), json!(self.partitions));
        v.insert("mirror_status".into(), json!(self.status));
        v.insert(
            "mirror_lags".into(),
            match &self.lags {
                None => Value::Null,
                Some(lags) => lags
                    .iter()
                    .map(|(p, lag, offset)| {
                        json!({"partition": p, "lag": lag, "last_source_fetch_offset": offset})
                    })
                    .collect(),
            },
        );
        v.insert("mirror_topic_error".into(), json!(self.error));
        Value::Object(v)
    }
}

const MIRROR_FIELDS: &[(&str, Kind)] = &[
    ("mirror_topic_name", Kind::Text),
    ("source_topic_name", Kind::Text),
    ("num_partitions", Kind::Int32),
    ("mirror_status", Kind::Text),
    ("mirror_lags", Kind::OptionalList),
    ("mirror_topic_error", Kind::OptionalText),
];

const LAG_FIELDS: &[(&str, Kind)] = &[
    ("partition", Kind::Int32),
    ("lag", Kind::Int64),
    ("last_source_fetch_offset", Kind::Int64),
];

const LINK_FIELDS: &[(&str, Kind)] = &[
    ("link_name", Kind::Text),
    ("source_cluster_id", Kind::OptionalText),
    ("topic_names", Kind::Texts),
    ("link_state", Kind::OptionalText),
];

fn collection(items: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"kind": "KafkaMirrorDataList", "metadata": {"self": "x"}, "data": items}),
    )
    .expect("serializable")
}

/// Every strict prefix of a JSON object is not JSON: a truncated answer is never half read.
fn truncated(body: &[u8], at: usize) -> &[u8] {
    &body[..at % body.len()]
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn mirror_lists_with_unknown_fields_parse_to_what_the_link_said(
        mirrors in prop::collection::vec(mirror(), 0..5),
    ) {
        let page = parse_collection(&collection(mirrors.iter().map(Mirror::json).collect()))
            .expect("a valid list");
        prop_assert_eq!(page.next, None);
        let parsed = parse_mirrors(&page.data).expect("valid mirrors");
        prop_assert_eq!(parsed.len(), mirrors.len());
        for (m, p) in mirrors.iter().zip(&parsed) {
            prop_assert_eq!(&p.mirror_topic, &m.topic);
            prop_assert_eq!(&p.source_topic, &m.source);
            prop_assert_eq!(p.partitions, m.partitions);
            prop_assert_eq!(&p.state, &MirrorState::parse(&m.status));
            let lags: BTreeMap<i32, ReportedLag> = m
                .lags
                .iter()
                .flatten()
                .map(|&(p, lag, last_source_fetch_offset)| (p, ReportedLag { lag, last_source_fetch_offset }))
                .collect();
            prop_assert_eq!(&p.lags, &lags);
            let error = m.error.clone().filter(|e| !e.is_empty() && e != "NO_ERROR" && e != "NOT_SET");
            prop_assert_eq!(&p.error, &error);
        }
    }

    #[test]
    fn a_mirror_field_of_the_wrong_type_or_missing_is_an_error_naming_the_item(
        mirrors in prop::collection::vec(mirror(), 1..4),
        which in any::<prop::sample::Index>(),
        field in 0..MIRROR_FIELDS.len(),
        replacement in prop_oneof![Just(None), wrong(Kind::Text).prop_map(Some)],
        lag_field in 0..LAG_FIELDS.len(),
    ) {
        let (key, kind) = MIRROR_FIELDS[field];
        let i = which.index(mirrors.len());
        let mut items: Vec<Value> = mirrors.iter().map(Mirror::json).collect();
        let item = items[i].as_object_mut().expect("an object");
        let replacement = match replacement {
            Some(v) if is_wrong(kind, &v) => Some(v),
            Some(_) => Some(Value::Bool(true)),
            None => None,
        };
        // A missing optional field is a correct answer; a lag of the wrong type is not.
        let optional = matches!(kind, Kind::OptionalText | Kind::OptionalList);
        match replacement {
            None if optional => {
                item.remove(key);
                prop_assert!(parse_mirrors(&items).is_ok());
                let (lag_key, _) = LAG_FIELDS[lag_field];
                let mut bad_lag = json!({"partition": 0, "lag": 1, "last_source_fetch_offset": 2});
                bad_lag[lag_key] = json!("1");
                items[i]["mirror_lags"] = json!([bad_lag]);
            }
            None => {
                item.remove(key);
            }
            Some(v) => {
                item.insert(key.to_string(), v);
            }
        }
        let err = parse_mirrors(&items).expect_err("a bad item");
        prop_assert!(err.starts_with(&format!("item {i}")), "{}", err);
        let kind_named = ["missing field", "invalid type", "invalid value", "invalid length"]
            .iter()
            .any(|k| err.contains(k));
        prop_assert!(kind_named, "{}", err);
    }

    #[test]
    fn a_truncated_answer_is_an_error(
        mirrors in prop::collection::vec(mirror(), 1..4),
        at in any::<usize>(),
    ) {
        let body = collection(mirrors.iter().map(Mirror::json).collect());
        prop_assert!(parse_collection(truncated(&body, at)).is_err());
        let link = serde_json::to_vec(&json!({"link_name": "l", "topic_names": ["a", "b"]})).unwrap();
        prop_assert!(parse_link(truncated(&link, at)).is_err());
        let alter = serde_json::to_vec(&json!({"data": [{"mirror_topic_name": "a"}]})).unwrap();
        prop_assert!(parse_alter_results(truncated(&alter, at), &["a".into()]).is_err());
    }

    #[test]
    fn link_descriptions_parse_or_name_the_field(
        link_name in name(),
        source in prop::option::of(name()),
        topics in prop::collection::vec(name(), 0..5),
        state in prop::option::of(name()),
        extra in unknown_fields(),
        field in 0..LINK_FIELDS.len(),
        replacement in any_json(Floats::With),
    ) {
        let mut doc = extra;
        doc.insert("link_name".into(), json!(link_name));
        doc.insert("source_cluster_id".into(), json!(source));
        doc.insert("topic_names".into(), json!(topics));
        doc.insert("link_state".into(), json!(state));
        let parsed = parse_link(&serde_json::to_vec(&doc).unwrap()).expect("a valid link");
        prop_assert_eq!(parsed, LinkDescription {
            link_name, source_cluster_id: source, mirror_topics: topics, state,
        });

        let (key, kind) = LINK_FIELDS[field];
        doc.insert(key.to_string(), replacement.clone());
        let result = parse_link(&serde_json::to_vec(&doc).unwrap());
        if fits(kind, &replacement) {
            prop_assert!(result.is_ok());
        } else {
            let err = result.expect_err("a field of the wrong type");
            prop_assert!(err.contains("invalid type") && err.contains("line 1 column"), "{}", err);
        }
        doc.remove(key);
        let result = parse_link(&serde_json::to_vec(&doc).unwrap());
        if matches!(kind, Kind::OptionalText) {
            prop_assert!(result.is_ok());
        } else {
            let err = result.expect_err("a missing field");
            prop_assert!(err.starts_with(&format!("missing field `{key}` at line 1")), "{}", err);
        }
    }

    #[test]
    fn configs_and_action_results_parse_to_what_the_link_said(
        configs in prop::collection::btree_map(name(), prop::option::of(any::<String>()), 0..6),
        results in prop::collection::btree_map(name(), (prop::option::of(any::<i64>()), prop::option::of("[ a-z]{0,8}")), 1..6),
        missing in any::<prop::sample::Index>(),
        extra in unknown_fields(),
    ) {
        let items: Vec<Value> = configs
            .iter()
            .map(|(name, value)| {
                let mut item = extra.clone();
                item.insert("name".into(), json!(name));
                item.insert("value".into(), json!(value));
                item.insert("is_sensitive".into(), json!(value.is_none()));
                Value::Object(item)
            })
            .collect();
        let expected: BTreeMap<String, String> = configs
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        prop_assert_eq!(parse_configs(&items).expect("valid configs"), expected);

        let requested: Vec<String> = results.keys().cloned().collect();
        let left_out = &requested[missing.index(requested.len())];
        let data: Vec<Value> = results
            .iter()
            .filter(|(topic, _)| *topic != left_out)
            .map(|(topic, (code, message))| {
                json!({"mirror_topic_name": topic, "error_code": code, "error_message": message})
            })
            .collect();
        let body = serde_json::to_vec(&json!({"kind": "x", "data": data})).unwrap();
        let answered = parse_alter_results(&body, &requested).expect("valid results");
        prop_assert_eq!(answered.len(), requested.len());
        for r in &answered {
            let (code, message) = &results[&r.mirror_topic];
            let message = message.as_deref().filter(|m| !m.trim().is_empty());
            if &r.mirror_topic == left_out {
                prop_assert!(r.error.as_deref().is_some_and(|e| e.contains("has no result")));
            } else {
                // An error code or a message is never read as an acceptance.
                prop_assert_eq!(r.error.is_some(), code.is_some() || message.is_some());
            }
        }
    }

    #[test]
    fn any_bytes_give_a_value_or_an_error(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            any_json(Floats::With).prop_map(|v| serde_json::to_vec(&v).unwrap()),
            any_json(Floats::With).prop_map(|v| serde_json::to_vec(&json!({"data": [v], "metadata": {"next": null}})).unwrap()),
        ],
        status in 100u16..600,
    ) {
        if let Ok(page) = parse_collection(&body) {
            let _ = parse_mirrors(&page.data);
            let _ = parse_configs(&page.data);
            let _ = parse_cluster_ids(&page.data);
        }
        let _ = parse_link(&body);
        let _ = parse_alter_results(&body, &["a".into()]);
        let message = error_message(StatusCode::from_u16(status).unwrap(), &body);
        prop_assert!(message.chars().count() <= MESSAGE_CHARS + 40, "{}", message);
    }

    #[test]
    fn an_error_message_repeats_at_most_a_few_hundred_characters_of_the_answer(
        text in prop::string::string_regex("[^<]{0,40}").unwrap(),
        repeat in 0usize..2000,
        shape in 0..3,
    ) {
        let long = text.repeat(repeat);
        let body = match shape {
            0 => serde_json::to_vec(&json!({"error_code": 40401, "message": long})).unwrap(),
            1 => format!("<html><title>{long}</title></html>").into_bytes(),
            _ => long.clone().into_bytes(),
        };
        let message = error_message(StatusCode::NOT_FOUND, &body);
        prop_assert!(message.chars().count() <= MESSAGE_CHARS + 40, "{}", message.len());
        let shown = message.trim_end_matches(" (error code 40401)");
        let shown = shown.strip_suffix('…').unwrap_or(shown);
        // A JSON message is repeated as it is; a page's title and a text are trimmed.
        let answer = if shape == 0 { long.as_str() } else { long.trim() };
        if !answer.is_empty() {
            prop_assert!(answer.starts_with(shown), "{:?} is not the start of the answer", shown);
        }
    }
}

#[test]
fn huge_arrays_parse_in_one_pass() {
    let topics: Vec<String> = (0..200_000).map(|i| format!("topic-{i}")).collect();
    let body = serde_json::to_vec(&json!({"link_name": "l", "topic_names": topics})).unwrap();
    assert_eq!(parse_link(&body).unwrap().mirror_topics.len(), 200_000);
    let lags: Vec<Value> = (0..100_000)
        .map(|p| json!({"partition": p, "lag": 0, "last_source_fetch_offset": 7}))
        .collect();
    let item = json!({"mirror_topic_name": "t", "source_topic_name": "t", "num_partitions": 100_000,
        "mirror_status": "ACTIVE", "mirror_lags": lags});
    assert_eq!(parse_mirrors(&[item]).unwrap()[0].lags.len(), 100_000);
}

#[test]
fn a_wrong_type_in_the_middle_of_a_huge_array_names_its_item() {
    let mut items: Vec<Value> = (0..50_000)
        .map(|i| json!({"name": format!("c{i}"), "value": "v"}))
        .collect();
    items[31_337]["value"] = json!(7);
    let err = parse_configs(&items).unwrap_err();
    assert!(
        err.starts_with("item 31337 (c31337): invalid type: integer `7`"),
        "{err}"
    );
}

// The size of answers.

/// What the test server answers to one request (given its head): the raw bytes of the answer.
type Answerer = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// An HTTP server, one connection per request, answering with `answer(head)` and then holding
/// the connection open for a while (so that a client reading on cannot mistake the end of the
/// connection for the end of the body).
async fn serve(answer: Answerer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match sock.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let bytes = answer(&String::from_utf8_lossy(&head));
                let _ = sock.write_all(&bytes).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
        }
    });
    format!("http://{addr}/kafka/v3")
}

/// A 200 answer: `body` padded with spaces (still the same JSON) to `len` bytes, announced
/// with a content-length or sent chunked.
fn ok_answer(body: &Value, len: usize, announced: bool) -> Vec<u8> {
    let mut body = serde_json::to_vec(body).unwrap();
    body.resize(len.max(body.len()), b' ');
    if announced {
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend(body);
        out
    } else {
        let mut out =
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        for chunk in body.chunks(64 * 1024) {
            out.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
            out.extend(chunk);
            out.extend(b"\r\n");
        }
        out.extend(b"0\r\n\r\n");
        out
    }
}

/// A link on `base` as the config makes it (no retries), connected with the usual limit, which
/// is then set to `max_answer_bytes`. Connecting reads the link's description.
async fn connect(base: &str, max_answer_bytes: usize) -> Result<ConfluentRestLink> {
    let env = [
        ("CUTOVER_ORIGIN_BOOTSTRAP", "a:9092"),
        ("CUTOVER_DESTINATION_BOOTSTRAP", "b:9092"),
        ("CUTOVER_LINK_NAME", "link-1"),
        ("CUTOVER_LINK_REST_URL", base),
        ("CUTOVER_DESTINATION_CLUSTER_ID", "cluster-1"),
        ("CUTOVER_LINK_RETRIES", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = crate::config::Config::from_sources(None, &env).expect("a valid config");
    let options = config.link.rest_options().expect("a REST link");
    let mut link = ConfluentRestLink::connect(options).await?;
    link.max_answer_bytes = max_answer_bytes;
    Ok(link)
}

const MIB: usize = 1 << 20;

#[tokio::test]
async fn an_answer_longer_than_the_limit_is_refused_naming_the_url_and_the_limit() {
    let link_doc = json!({"link_name": "link-1", "topic_names": ["t"]});
    for announced in [true, false] {
        // Connecting reads 2 MiB under the usual limit; with 1 MiB, describing cannot.
        let doc = link_doc.clone();
        let base = serve(Arc::new(move |_: &str| ok_answer(&doc, 2 * MIB, announced))).await;
        let link = connect(&base, MIB)
            .await
            .expect("2 MiB is under the usual limit");
        let err = link.describe().await.unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::UNREACHABLE);
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "the answer from {base}/clusters/cluster-1/links/link-1 is longer than 1 MiB"
            )) && text.contains("[link] rest-url"),
            "{text}"
        );
        // At the limit exactly, the answer is read.
        let doc = link_doc.clone();
        let base = serve(Arc::new(move |_: &str| ok_answer(&doc, MIB, announced))).await;
        let link = connect(&base, MIB).await.unwrap();
        assert_eq!(link.describe().await.unwrap().mirror_topics, ["t"]);
    }
}

#[tokio::test]
async fn an_announced_length_beyond_the_limit_is_refused_before_reading_the_body() {
    // The server announces 1 TiB and sends nothing: reading would wait for the timeout.
    let base = serve(Arc::new(|_: &str| {
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 1099511627776\r\n\r\n{"
            .to_vec()
    }))
    .await;
    let text = connect(&base, MAX_ANSWER_BYTES)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("is longer than 64 MiB, the most cutover reads"),
        "{text}"
    );
}

#[tokio::test]
async fn the_pages_of_a_collection_are_bounded_together() {
    // Each page is under the limit; the third takes the collection over it.
    let base = serve(Arc::new(|head: &str| {
        let host = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("host").then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        let page: u32 = head
            .split_once("page=")
            .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
            .unwrap_or(0);
        let next = format!(
            "http://{host}/kafka/v3/clusters/cluster-1/links/link-1/configs?page={}",
            page + 1
        );
        if !head.contains("/configs") {
            return ok_answer(&json!({"link_name": "link-1", "topic_names": []}), 0, true);
        }
        let doc = json!({"data": [{"name": format!("c{page}"), "value": "v"}], "metadata": {"next": next}});
        ok_answer(&doc, 400 * 1024, false)
    }))
    .await;
    let link = connect(&base, MIB).await.unwrap();
    let text = link.configs().await.unwrap_err().to_string();
    assert!(
        text.contains(&format!(
            "the pages of the collection up to {base}/clusters/cluster-1/links/link-1/configs?page=2 are longer than 1 MiB"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_huge_error_answer_is_shown_short() {
    let base = serve(Arc::new(|head: &str| {
        if !head.contains("/configs") {
            return ok_answer(&json!({"link_name": "link-1", "topic_names": []}), 0, true);
        }
        let mut out = b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        let chunk = "boom ".repeat(10_000);
        for _ in 0..100 {
            out.extend(format!("{:x}\r\n{chunk}\r\n", chunk.len()).into_bytes());
        }
        out.extend(b"0\r\n\r\n");
        out
    }))
    .await;
    let link = connect(&base, MIB).await.unwrap();
    let text = link.configs().await.unwrap_err().to_string();
    assert!(text.contains("HTTP 500: boom boom"), "{text}");
    assert!(text.len() < 1000, "{} bytes: {text}", text.len());
}
