//! HTTP hooks: one request per attempt, with a client of its own (the hook's CA file, no
//! redirects), the URL's placeholders percent-encoded, header values and JSON body strings
//! substituted, `headers-env` values marked sensitive.
//!
//! The answer's body is captured like a process's stdout (bounded, redacted). This module
//! decides nothing about what a failure means.

use super::attempt::{Attempt, Failure};
use super::capture::{Capture, Redaction};
use super::spec::{HookConfig, HttpHook};
use super::template::{quoted, substitute, substitute_json, Encoding, Values};

/// Sends the request once; the hook's timeout bounds the whole exchange.
pub(super) async fn attempt(
    hook: &HookConfig,
    http: &HttpHook,
    values: &Values<'_>,
    redaction: &Redaction,
) -> Attempt {
    let request = match http_request(hook, http, values) {
        Ok(request) => request,
        Err(e) => return Attempt::failed(Failure::Invalid(e)),
    };
    let mut body = Capture::new(redaction.margin());
    let mut status = None;
    let exchange = async {
        let mut response = request.send().await?;
        status = Some(response.status());
        while let Some(chunk) = response.chunk().await? {
            body.push(&chunk);
        }
        Ok::<(), reqwest::Error>(())
    };
    let outcome = tokio::time::timeout(hook.timeout, exchange).await;
    let failure = match outcome {
        Err(_) => Some(Failure::NoAnswer(hook.timeout)),
        Ok(Err(e)) if e.is_builder() => Some(Failure::Invalid(format!(
            "cannot build the request: {}",
            error_chain(&e)
        ))),
        Ok(Err(e)) => match status {
            Some(s) => Some(Failure::Unreachable(format!(
                "HTTP {} then the answer broke off: {}",
                s.as_u16(),
                error_chain(&e)
            ))),
            None => Some(Failure::Unreachable(error_chain(&e))),
        },
        Ok(Ok(())) => match status {
            Some(s)
                if http
                    .expect_status
                    .map_or(s.is_success(), |e| s.as_u16() == e) =>
            {
                None
            }
            Some(s) => Some(Failure::Status {
                status: s.as_u16(),
                expected: http.expect_status,
            }),
            None => Some(Failure::Unreachable("no answer".into())),
        },
    };
    Attempt {
        failure,
        exit_code: None,
        http_status: status.map(|s| s.as_u16()),
        stdout: body.render(redaction.secrets()),
        stderr: String::new(),
    }
}

/// Builds an HTTP hook's request: a client of its own (the hook's CA file and timeout), the
/// substituted URL, headers and body.
fn http_request(
    hook: &HookConfig,
    http: &HttpHook,
    values: &Values<'_>,
) -> Result<reqwest::RequestBuilder, String> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

    // The attempt's own timeout bounds the whole exchange (see `attempt`), so that a slow
    // answer always reads as "no complete answer within …".
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(hook.timeout)
        // Following a redirect would turn a POST into a GET, or carry the request (and its
        // secret headers) somewhere the operator did not configure.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &http.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("the CA file {} is not valid PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot create the HTTP client: {}", error_chain(&e)))?;
    let method = reqwest::Method::from_bytes(http.method.as_bytes())
        .map_err(|_| format!("{} is not an HTTP method", quoted(&http.method)))?;
    let url = substitute(&http.url, values, Encoding::Url);
    let url = reqwest::Url::parse(&url).map_err(|e| format!("the URL {url} is not valid: {e}"))?;

    let mut headers = HeaderMap::new();
    for (name, value) in &http.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{} is not an HTTP header name", quoted(name)))?;
        let value = HeaderValue::from_str(&substitute(value, values, Encoding::Verbatim))
            .map_err(|_| {
                format!("the value of header {name} is not valid in HTTP once substituted (a value holds a control character)")
            })?;
        headers.insert(header, value);
    }
    for (name, secret) in &http.secret_headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{} is not an HTTP header name", quoted(name)))?;
        let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
            format!("the value of header {name} (from headers-env) is not valid in HTTP")
        })?;
        // reqwest and hyper leave sensitive values out of their own logs.
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let mut request = client.request(method, url);
    if let Some(body) = &http.body {
        let body = serde_json::to_vec(&substitute_json(body, values))
            .map_err(|e| format!("cannot write the body as JSON: {e}"))?;
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        request = request.body(body);
    }
    Ok(request.headers(headers))
}

/// A reqwest error and its causes, without the URL reqwest appends (the report names the URL
/// once, in its description).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let text = text.split(" for url (").next().unwrap_or(&text).to_string();
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        current = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::hooks::capture::lock;
    use crate::hooks::testing::{ctx, hook, only, SECRET};
    use crate::hooks::{HookAction, HookKind, Hooks};
    use crate::secret::Secret;

    /// What the test server saw of one request.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        target: String,
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    }

    /// An HTTP server on 127.0.0.1:0 that records every request and answers `status` with a
    /// body echoing the Authorization header it got (as a careless endpoint might).
    async fn http_server(status: u16) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let headers: BTreeMap<String, String> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect();
                let auth = headers.get("authorization").cloned().unwrap_or_default();
                lock(&log).push(Seen {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    headers,
                    body,
                });
                (
                    axum::http::StatusCode::from_u16(status).expect("a valid status"),
                    format!("you sent authorization {auth}"),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), seen)
    }

    fn http(url: String) -> HttpHook {
        HttpHook {
            method: "POST".into(),
            url,
            headers: BTreeMap::new(),
            secret_headers: BTreeMap::new(),
            body: None,
            expect_status: None,
            ca_file: None,
        }
    }

    #[tokio::test]
    async fn http_hooks_send_values_escaped_in_the_body_and_encoded_in_the_url() {
        let (base, seen) = http_server(200).await;
        let group = r#"he said "hi" \ a/b c?d&e#f {link}"#;
        let mut request = http(format!(
            "{base}/groups/{{group}}/stop?run={{run_id}}&c={{cluster}}"
        ));
        request
            .headers
            .insert("X-Cutover-Group".into(), "{group}".into());
        request.body = Some(serde_json::json!({
            "group": "{group}",
            "note": "g={group}",
            "list": ["{topics}"],
            "n": 3,
        }));
        let hooks = only(HookKind::Stop, hook(HookAction::Http(request)));
        let report = hooks.run(HookKind::Stop, &ctx(group)).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.http_status, Some(200));
        assert_eq!(report.attempts, 1);
        let encoded = "he%20said%20%22hi%22%20%5C%20a%2Fb%20c%3Fd%26e%23f%20%7Blink%7D";
        assert_eq!(
            report.description,
            format!("POST {base}/groups/{encoded}/stop?run=run-7&c=origin")
        );

        let seen = lock(&seen).clone();
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.target,
            format!("/groups/{encoded}/stop?run=run-7&c=origin")
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-cutover-group"], group);
        let body: serde_json::Value =
            serde_json::from_slice(&request.body).expect("the body is JSON");
        assert_eq!(
            body,
            serde_json::json!({
                "group": group,
                "note": format!("g={group}"),
                "list": ["orders,payments"],
                "n": 3,
            })
        );
    }

    #[tokio::test]
    async fn http_hooks_check_the_status_and_redact_secret_headers() {
        let (base, seen) = http_server(202).await;
        let mut request = http(format!("{base}/stop/{{group}}"));
        request.secret_headers.insert(
            "Authorization".into(),
            Secret::new(format!("Bearer {SECRET}")),
        );
        request.expect_status = Some(200);
        let mut strict = hook(HookAction::Http(request.clone()));
        strict.retries = 1;
        let hooks = only(HookKind::Stop, strict);
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 2);
        assert_eq!(report.http_status, Some(202));
        // The whole header value is the secret.
        assert_eq!(report.stdout, "you sent authorization ***");
        let error = report.error.clone().unwrap_or_default();
        assert!(
            error.starts_with("HTTP 202 (expected 200) after 2 attempts; answer: you sent authorization ***; check the endpoint"),
            "{error}"
        );
        assert!(!serde_json::to_string(&report).unwrap().contains("S3CRET"));
        {
            let seen = lock(&seen);
            assert_eq!(seen.len(), 2);
            assert_eq!(seen[0].headers["authorization"], format!("Bearer {SECRET}"));
        }

        // Without expect-status any 2xx is success.
        request.expect_status = None;
        let report = only(HookKind::Stop, hook(HookAction::Http(request)))
            .run(HookKind::Stop, &ctx("g"))
            .await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.attempts, 1);
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_retried_then_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut stop = hook(HookAction::Http(http(format!("http://{addr}/stop"))));
        stop.retries = 1;
        let report = only(HookKind::Stop, stop)
            .run(HookKind::Stop, &ctx("g"))
            .await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 2);
        assert_eq!(report.http_status, None);
        let error = report.error.unwrap_or_default();
        assert!(
            error.starts_with("no answer: ")
                && error.contains("(after 2 attempts); check the url of [hooks.stop]"),
            "{error}"
        );
    }
}
