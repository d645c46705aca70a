//! An HTTP hook's table (`http = { ... }`): method, URL, headers, `headers-env`, JSON body,
//! expected status and CA file, each checked. Placeholders may stand in a URL's path, query and
//! fragment, never in its scheme or host: a group id must not choose where a request goes.
//!
//! `headers-env` values are [`Secret`]s; a message never repeats them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use toml::Value;

use super::hooks::{check_placeholders, string_table};
use super::load::Env;
use super::problems::{a, check_known_keys, Problems};
use super::value::{indirect, setting};
use crate::hooks::{toml_key, HookAction, HttpHook};
use crate::secret::Secret;

const HTTP_KEYS: &[&str] = &[
    "method",
    "url",
    "headers",
    "headers-env",
    "body",
    "expect-status",
    "ca-file",
];
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub(super) fn http_action(
    value: &Value,
    key: &str,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> Option<HookAction> {
    let Some(table) = value.as_table() else {
        problems.push(format!(
            "{key} http: expected a table (http = {{ url = \"...\" }}), found {}",
            a(value.type_str())
        ));
        return None;
    };
    // `[hooks.stop.http]`: the table's own header, whether it was written inline or not.
    let section = format!("{}.http]", key.trim_end_matches(']'));
    check_known_keys(&section, table, HTTP_KEYS, problems);
    let mut valid = true;

    let method = match setting(table, &section, "method", None, env, problems) {
        None => "POST".to_string(),
        Some(s) => {
            let method = s.value.trim().to_ascii_uppercase();
            if !HTTP_METHODS.contains(&method.as_str()) {
                problems.push(format!(
                    "{}: \"{}\" is not an HTTP method (known: {})",
                    s.from,
                    s.value,
                    HTTP_METHODS.join(", ")
                ));
                valid = false;
            }
            method
        }
    };

    let url = match table.get("url") {
        None => {
            problems.push(format!("{section}: url is missing"));
            None
        }
        Some(Value::String(url)) => {
            let from = format!("{section} url");
            check_placeholders(url, &from, problems);
            match check_hook_url(url) {
                Ok(()) => Some(url.trim().to_string()),
                Err(e) => {
                    problems.push(format!("{from}: {e}"));
                    None
                }
            }
        }
        Some(other) => {
            problems.push(format!(
                "{section} url: expected a string, found {}",
                a(other.type_str())
            ));
            None
        }
    };

    let mut headers = BTreeMap::new();
    let mut seen = BTreeMap::new();
    for (name, value) in string_table(table, &section, "headers", problems) {
        let from = format!("{section} headers.{}", toml_key(&name));
        check_placeholders(&value, &from, problems);
        let name_ok = check_header_name(&name, &from, problems);
        if reqwest::header::HeaderValue::from_str(&crate::hooks::with_sample_values(&value))
            .is_err()
        {
            problems.push(format!(
                "{from}: the value is not valid in an HTTP header (it holds a control character)"
            ));
            valid = false;
        }
        if name_ok {
            seen.insert(name.to_ascii_lowercase(), from);
            headers.insert(name, value);
        } else {
            valid = false;
        }
    }
    let mut secret_headers = BTreeMap::new();
    for (name, var) in string_table(table, &section, "headers-env", problems) {
        let from = format!("{section} headers-env.{}", toml_key(&name));
        if !check_header_name(&name, &from, problems) {
            valid = false;
            continue;
        }
        if let Some(other) = seen.get(&name.to_ascii_lowercase()) {
            problems.push(format!("{from} and {other} set the same header: keep one"));
            valid = false;
            continue;
        }
        let Some(value) = indirect(env, &from, &var, problems) else {
            valid = false;
            continue;
        };
        // The message never repeats the value: it is a secret.
        if reqwest::header::HeaderValue::from_str(&value).is_err() {
            problems.push(format!(
                "{from}: the value of {var} is not valid in an HTTP header (it holds a control character or a line break)"
            ));
            valid = false;
            continue;
        }
        secret_headers.insert(name, Secret::new(value));
    }

    let body = match table.get("body") {
        None => None,
        Some(Value::Table(_)) => Some(toml_to_json(
            &table["body"],
            &format!("{section} body"),
            problems,
        )),
        Some(other) => {
            problems.push(format!(
                "{section} body: expected a table (sent as a JSON object), found {}",
                a(other.type_str())
            ));
            valid = false;
            None
        }
    };

    let expect_status = match table.get("expect-status") {
        None => None,
        Some(Value::Integer(code)) if (100..=599).contains(code) => u16::try_from(*code).ok(),
        Some(other) => {
            problems.push(format!(
                "{section} expect-status: expected an HTTP status code from 100 to 599, found {}",
                match other {
                    Value::Integer(i) => i.to_string(),
                    other => a(other.type_str()),
                }
            ));
            valid = false;
            None
        }
    };

    let ca_file = setting(table, &section, "ca-file", None, env, problems).and_then(|s| {
        let path = base_dir.join(&s.value);
        match fs::File::open(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                problems.push(format!("{}: cannot read {}: {e}", s.from, path.display()));
                valid = false;
                None
            }
        }
    });

    let url = url?;
    valid.then_some(HookAction::Http(HttpHook {
        method,
        url,
        headers,
        secret_headers,
        body,
        expect_status,
        ca_file,
    }))
}

fn check_header_name(name: &str, from: &str, problems: &mut Problems) -> bool {
    let ok = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
    if !ok {
        problems.push(format!("{from}: \"{name}\" is not an HTTP header name"));
    }
    ok
}

/// Checks an HTTP hook's URL template. Placeholders may stand in the path, the query and the
/// fragment, never in the scheme or the host: a group id must not choose where a request goes.
fn check_hook_url(raw: &str) -> std::result::Result<(), String> {
    let url = raw.trim();
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["https://", "http://"]
        .iter()
        .find_map(|scheme| lower.starts_with(scheme).then(|| &url[scheme.len()..]))
    else {
        return Err(format!("{raw} is not an http:// or https:// URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "the URL carries credentials: send them in a header from headers-env instead".into(),
        );
    }
    if crate::hooks::has_placeholder(authority) {
        return Err(format!(
            "{raw} has a placeholder in its host: placeholders may stand in the path or the query only"
        ));
    }
    if authority.is_empty() {
        return Err(format!("{raw} has no host"));
    }
    reqwest::Url::parse(&crate::hooks::with_sample_values(url))
        .map(|_| ())
        .map_err(|e| format!("{raw} is not a valid URL: {e}"))
}

/// A TOML body as JSON. Placeholders in its strings are checked here and substituted per run.
fn toml_to_json(value: &Value, from: &str, problems: &mut Problems) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::String(s) => {
            check_placeholders(s, from, problems);
            Json::String(s.clone())
        }
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => {
                problems.push(format!("{from}: {f} has no JSON form"));
                Json::Null
            }
        },
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| toml_to_json(item, &format!("{from}[{i}]"), problems))
                .collect(),
        ),
        Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| {
                    let json = toml_to_json(v, &format!("{from}.{}", toml_key(k)), problems);
                    (k.clone(), json)
                })
                .collect(),
        ),
    }
}
