//! `ConfluentRestLink`: the [`Link`] trait over Confluent's REST v3 API (Confluent Platform's
//! embedded REST, the standalone REST Proxy, and Confluent Cloud).
//!
//! It is for reading a link (its description, mirror topics with their status and reported
//! lags, its configs) and for the few changes the agent makes (link configs in one batch, and
//! promote, failover, pause or resume of mirror topics). Every call goes to the destination
//! cluster, which owns the link. Paths and shapes follow `shared/reference/cluster-linking.md`
//! §1: colon actions (`mirrors:promote`, `configs:alter`) are literal path text, and a 200
//! answer to a mirror action can still carry per-topic errors, which are returned per topic.
//!
//! What it must not do:
//! - decide anything: it reports what the link says, and the link's lag figure is only
//!   informative (the agent measures offsets itself);
//! - repeat a mirror action that may already have been applied: a POST is retried only on an
//!   answer that proves it was not (503, 429) or a failed connection, never after a timeout;
//! - reveal the credentials: the password never reaches a log line, an error or `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::link::{Link, LinkDescription, MirrorAction, MirrorActionResult, MirrorDescription};

mod answer;
mod shapes;

use answer::{error_message, exchange, MAX_ANSWER_BYTES};
use shapes::{
    alter_configs_body, parse_alter_results, parse_cluster_ids, parse_collection, parse_configs,
    parse_link, parse_mirrors,
};

/// Longest pause between two retries, whatever the backoff and `Retry-After` say.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Most pages of one collection followed through `metadata.next`.
const MAX_PAGES: usize = 1000;

/// How to reach the link's REST API.
#[derive(Clone)]
pub struct RestLinkOptions {
    /// The base URL, ending in `/kafka/v3`.
    pub base_url: String,
    /// The link's name on the destination cluster.
    pub link_name: String,
    /// The destination cluster's id; discovered with `GET /clusters` when `None`.
    pub cluster_id: Option<String>,
    /// HTTP Basic credentials (user, password).
    pub basic_auth: Option<(String, String)>,
    /// A bearer token (`Authorization: Bearer …`), instead of Basic credentials.
    pub bearer_token: Option<String>,
    /// A client certificate for mutual TLS: PEM certificate chain and PEM private key.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// A PEM file with extra CA certificates to trust for TLS.
    pub ca_file: Option<PathBuf>,
    /// Bound on one HTTP request.
    pub timeout: Duration,
    /// Retries after a 5xx answer, a 429 or a timeout.
    pub retries: u32,
    /// First pause between retries (doubled each time).
    pub backoff: Duration,
}

impl fmt::Debug for RestLinkOptions {
    // Written by hand so that the password can never reach a log line or a panic message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestLinkOptions")
            .field("base_url", &self.base_url)
            .field("link_name", &self.link_name)
            .field("cluster_id", &self.cluster_id)
            .field(
                "basic_auth",
                &self
                    .basic_auth
                    .as_ref()
                    .map(|(user, _)| (user.as_str(), "<redacted>")),
            )
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("client_identity", &self.client_identity)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// A cluster link reached through Confluent's REST v3 API.
pub struct ConfluentRestLink {
    options: RestLinkOptions,
    client: reqwest::Client,
    /// The parsed base URL (no trailing slash, no credentials).
    base: Url,
    cluster_id: String,
    /// [`MAX_ANSWER_BYTES`]; smaller in tests.
    max_answer_bytes: usize,
}

impl fmt::Debug for ConfluentRestLink {
    // The reqwest client is left out: its `Debug` prints default headers, and the options'
    // own `Debug` redacts the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluentRestLink")
            .field("link_name", &self.options.link_name)
            .field("cluster_id", &self.cluster_id)
            .field("base", &self.base.as_str())
            .field("options", &self.options)
            .finish()
    }
}

/// The client certificate and key for mutual TLS with the REST endpoint, as one identity.
fn client_identity(cert: &Path, key: &Path, link: &str) -> Result<reqwest::Identity> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the client {what} {} for link {link}: {e}",
                path.display()
            ))
        })
    };
    let mut pem = read(key, "key")?;
    pem.push(b'\n');
    pem.extend(read(cert, "certificate")?);
    reqwest::Identity::from_pem(&pem).map_err(|e| {
        Error::Config(format!(
            "the client certificate {} and key {} for link {link} do not make a TLS identity (both PEM, the key unencrypted): {e}",
            cert.display(),
            key.display()
        ))
    })
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// GET and PUT: sending twice has the effect of sending once.
    Idempotent,
    /// A mirror action: a second send could act twice (or act on a changed state).
    Once,
}

impl ConfluentRestLink {
    /// Builds the HTTP client, discovers the destination cluster's id when it is not
    /// configured, and checks that the link exists on that cluster.
    pub async fn connect(options: RestLinkOptions) -> Result<Self> {
        let link = options.link_name.clone();
        let base = parse_base_url(&options.base_url, &link)?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // A REST API has no reason to redirect; following one would turn a POST into a
            // GET or carry the request somewhere the operator did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Config(format!(
                    "cannot read the CA file {} for link {link}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Config(format!(
                    "the CA file {} for link {link} is not valid PEM: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(Error::Config(format!(
                    "the CA file {} for link {link} holds no certificate",
                    path.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &options.client_identity {
            builder = builder.identity(client_identity(cert, key, &link)?);
        }
        let client = builder.build().map_err(|e| {
            Error::Config(format!(
                "cannot create the REST client for link {link}: {}",
                error_chain(&e)
            ))
        })?;
        let mut this = ConfluentRestLink {
            options,
            client,
            base,
            cluster_id: String::new(),
            max_answer_bytes: MAX_ANSWER_BYTES,
        };
        this.cluster_id = match this.options.cluster_id.clone() {
            Some(id) => id,
            None => this.discover_cluster_id().await?,
        };
        this.check_link_exists().await?;
        Ok(this)
    }

    /// The destination cluster's id (configured or discovered).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// `GET /clusters`: the endpoint must serve exactly one cluster, the destination.
    async fn discover_cluster_id(&self) -> Result<String> {
        let what = "a request to list its clusters (to find the destination cluster's id; set [link] cluster-id to skip this)";
        let url = self.url(&["clusters"]);
        let items = self.get_collection(url, what).await?;
        let ids = parse_cluster_ids(&items).map_err(|e| self.unreadable(what, e))?;
        match ids.as_slice() {
            [id] => {
                tracing::debug!(link = %self.options.link_name, cluster_id = %id, "discovered the destination cluster's id");
                Ok(id.clone())
            }
            [] => Err(Error::Config(format!(
                "the REST endpoint {} of link {} lists no cluster; set [link] cluster-id to the destination cluster's id",
                self.base, self.options.link_name
            ))),
            several => Err(Error::Config(format!(
                "the REST endpoint {} of link {} serves several clusters ({}); set [link] cluster-id to the destination cluster's id",
                self.base,
                self.options.link_name,
                several.join(", ")
            ))),
        }
    }

    async fn check_link_exists(&self) -> Result<()> {
        match self.describe().await {
            Ok(_) => Ok(()),
            Err(Error::LinkRefused {
                link,
                status: 404,
                message,
                ..
            }) => Err(Error::LinkRefused {
                what: format!("a request to describe it on cluster {}", self.cluster_id),
                status: 404,
                message: format!(
                    "there is no link {link} on cluster {} ({message})",
                    self.cluster_id
                ),
                link,
            }),
            Err(e) => Err(e),
        }
    }

    /// `{base}/{segments…}`, each segment percent-encoded on its own. A colon is not escaped
    /// in a path segment, so `mirrors:promote` and `configs:alter` go out as literal text.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL was checked to be http(s), which always has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `{base}/clusters/{cluster_id}/links/{link}/{tail…}`.
    fn link_url(&self, tail: &[&str]) -> Url {
        let mut segments = vec![
            "clusters",
            self.cluster_id.as_str(),
            "links",
            self.options.link_name.as_str(),
        ];
        segments.extend_from_slice(tail);
        self.url(&segments)
    }

    fn unreadable(&self, what: &str, detail: String) -> Error {
        Error::LinkUnreachable {
            link: self.options.link_name.clone(),
            what: what.to_string(),
            detail: format!("its answer cannot be read: {detail}"),
        }
    }

    /// A GET of a collection, following `metadata.next` to the end; returns every item.
    async fn get_collection(&self, first: Url, what: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut url = first;
        let mut read = 0;
        for _ in 0..MAX_PAGES {
            let body = self
                .send(Method::GET, url.clone(), None, what, Repeat::Idempotent)
                .await?;
            read += body.len();
            if read > self.max_answer_bytes {
                let whose = format!("the pages of the collection up to {} are", shown(&url));
                return Err(self.too_long(what, whose));
            }
            let page = parse_collection(&body).map_err(|e| self.unreadable(what, e))?;
            items.extend(page.data);
            match page.next {
                None => return Ok(items),
                Some(next) => url = self.same_origin(&next, what)?,
            }
        }
        Err(self.unreadable(
            what,
            format!("the collection has more than {MAX_PAGES} pages"),
        ))
    }

    /// An answer longer than cutover reads; `whose` names it with its URL ([`shown`]).
    fn too_long(&self, what: &str, whose: String) -> Error {
        let limit = self.max_answer_bytes;
        let limit = if limit.is_multiple_of(1 << 20) {
            format!("{} MiB", limit >> 20)
        } else {
            format!("{limit} bytes")
        };
        self.unreadable(
            what,
            format!(
                "{whose} longer than {limit}, the most cutover reads of one answer: check that [link] rest-url is the link's REST v3 API (ending in /kafka/v3) and that no proxy answers in its place"
            ),
        )
    }

    /// A `next` link is followed only on the configured origin: the credentials go with it.
    fn same_origin(&self, next: &str, what: &str) -> Result<Url> {
        let url = Url::parse(next).map_err(|e| {
            self.unreadable(what, format!("its next page {next:?} is not a URL: {e}"))
        })?;
        if url.origin() != self.base.origin() {
            return Err(self.unreadable(
                what,
                format!(
                    "its next page is on another server ({}), which cutover does not send the link's credentials to",
                    url.origin().ascii_serialization()
                ),
            ));
        }
        Ok(url)
    }

    /// Sends one request with bounded retries; returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
        repeat: Repeat,
    ) -> Result<Vec<u8>> {
        let link = &self.options.link_name;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), url.clone());
            if let Some((user, password)) = &self.options.basic_auth {
                // reqwest marks the header sensitive, so it is left out of its own logs.
                request = request.basic_auth(user, Some(password));
            } else if let Some(token) = &self.options.bearer_token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let retries_left = attempt <= self.options.retries;
            match exchange(request, self.max_answer_bytes).await {
                Ok(answer) if answer.status.is_success() => {
                    tracing::debug!(%link, %method, path = url.path(), status = answer.status.as_u16(), attempt, "link REST call answered");
                    if answer.too_long {
                        let whose = format!("the answer from {} is", shown(&url));
                        return Err(self.too_long(what, whose));
                    }
                    return Ok(answer.body);
                }
                Ok(answer) => {
                    if retries_left && retryable_status(answer.status, repeat) {
                        let delay = retry_delay(self.options.backoff, attempt, answer.retry_after);
                        tracing::warn!(%link, %method, path = url.path(), attempt, status = answer.status.as_u16(), delay_ms = delay.as_millis() as u64, "the link answered with a retryable status; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(self.status_error(what, answer.status, &answer.body, attempt));
                }
                Err(e) => {
                    if let Some(tls) = tls_failure(&e) {
                        return Err(Error::LinkTls {
                            link: link.clone(),
                            what: what.to_string(),
                            detail: tls,
                        });
                    }
                    if retries_left && retryable_failure(&e, repeat) {
                        let delay = retry_delay(self.options.backoff, attempt, None);
                        tracing::warn!(%link, %method, path = url.path(), attempt, error = %failure_detail(&e, self.options.timeout), delay_ms = delay.as_millis() as u64, "the link did not answer; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let mut detail = failure_detail(&e, self.options.timeout);
                    if attempt > 1 {
                        detail.push_str(&format!(" (after {attempt} attempts)"));
                    }
                    if repeat == Repeat::Once && !e.is_connect() {
                        detail.push_str(
                            "; the action may or may not have been applied: describe the mirrors before trying again",
                        );
                    }
                    return Err(Error::LinkUnreachable {
                        link: link.clone(),
                        what: what.to_string(),
                        detail,
                    });
                }
            }
        }
    }

    fn status_error(&self, what: &str, status: StatusCode, body: &[u8], attempts: u32) -> Error {
        answer_error(
            &self.options.link_name,
            what,
            status,
            error_message(status, body),
            attempts,
        )
    }
}

/// The error for a non-2xx answer: 5xx and 429 mean the link is not serving (exit 3), other
/// statuses are a refusal (exit 1).
pub(crate) fn answer_error(
    link: &str,
    what: &str,
    status: StatusCode,
    message: String,
    attempts: u32,
) -> Error {
    let link = link.to_string();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let mut detail = format!("HTTP {}: {message}", status.as_u16());
        if attempts > 1 {
            detail.push_str(&format!(" (after {attempts} attempts)"));
        }
        Error::LinkUnreachable {
            link,
            what: what.to_string(),
            detail,
        }
    } else {
        Error::LinkRefused {
            link,
            what: what.to_string(),
            status: status.as_u16(),
            message,
        }
    }
}

#[async_trait]
impl Link for ConfluentRestLink {
    fn name(&self) -> &str {
        &self.options.link_name
    }

    fn reports_status(&self) -> bool {
        true
    }

    async fn describe(&self) -> Result<LinkDescription> {
        let what = "a request to describe it";
        let body = self
            .send(
                Method::GET,
                self.link_url(&[]),
                None,
                what,
                Repeat::Idempotent,
            )
            .await?;
        parse_link(&body).map_err(|e| self.unreadable(what, e))
    }

    async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
        let what = "a request to list its mirror topics";
        let items = self
            .get_collection(self.link_url(&["mirrors"]), what)
            .await?;
        parse_mirrors(&items).map_err(|e| self.unreadable(what, e))
    }

    async fn configs(&self) -> Result<BTreeMap<String, String>> {
        let what = "a request to list its configs";
        let items = self
            .get_collection(self.link_url(&["configs"]), what)
            .await?;
        parse_configs(&items).map_err(|e| self.unreadable(what, e))
    }

    async fn alter_configs(&self, changes: &[(String, Option<String>)]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = changes.iter().map(|(n, _)| n.as_str()).collect();
        let what = format!("a request to change its configs {}", list(&names));
        // PUT, not POST: the spec'd method, and CP 8.x answers 405 to a POST here.
        self.send(
            Method::PUT,
            self.link_url(&["configs:alter"]),
            Some(&alter_configs_body(changes)),
            &what,
            Repeat::Idempotent,
        )
        .await?;
        Ok(())
    }

    async fn alter_mirrors(
        &self,
        action: MirrorAction,
        topics: &[String],
    ) -> Result<Vec<MirrorActionResult>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let what = format!(
            "a request to {} mirror topics {}",
            action_verb(action),
            list(&names)
        );
        let body = self
            .send(
                Method::POST,
                self.link_url(&[action.path()]),
                Some(&json!({ "mirror_topic_names": topics })),
                &what,
                Repeat::Once,
            )
            .await?;
        parse_alter_results(&body, topics).map_err(|e| self.unreadable(&what, e))
    }
}

/// A 503 or 429 says the request was not served, so even a mirror action can be sent again;
/// other 5xx answers (a 500, a gateway's 502 or 504) leave an action's outcome unknown.
pub(crate) fn retryable_status(status: StatusCode, repeat: Repeat) -> bool {
    match repeat {
        Repeat::Idempotent => status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
        Repeat::Once => {
            status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
        }
    }
}

/// A failed connection never reached the server; a timeout may have been served.
fn retryable_failure(e: &reqwest::Error, repeat: Repeat) -> bool {
    match repeat {
        Repeat::Idempotent => e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
        Repeat::Once => e.is_connect() && !e.is_timeout(),
    }
}

/// What failed in the TLS handshake (an untrusted or missing certificate, a refusal by the
/// server), if that is why `e` failed: rustls's error, somewhere in the causes.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(format!("TLS handshake failed: {tls}"));
        }
        // An io::Error's source() skips the error it wraps (its source's source): go into it.
        current = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// `backoff · 2^(attempt−1)`, at least what `Retry-After` asks, at most [`MAX_RETRY_DELAY`].
pub(crate) fn retry_delay(
    backoff: Duration,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    let exponential = backoff.saturating_mul(factor);
    exponential
        .max(retry_after.unwrap_or_default())
        .min(MAX_RETRY_DELAY)
}

/// A URL for an error message: without credentials, should a `next` link carry any.
fn shown(url: &Url) -> Url {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown
}

fn failure_detail(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {timeout:?}")
    } else {
        error_chain(e)
    }
}

/// The error and its causes, without the URL (the path is logged separately, and a URL is
/// where credentials would hide if someone put them there).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(re) if re.url().is_some() => {
                // `reqwest::Error`'s Display appends "for url (…)"; strip it.
                text.split(" for url (").next().unwrap_or(&text).to_string()
            }
            _ => text,
        };
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        current = err.source();
    }
    out
}

fn parse_base_url(base_url: &str, link: &str) -> Result<Url> {
    let url = Url::parse(base_url.trim()).map_err(|e| {
        Error::Config(format!(
            "the REST URL of link {link} ({base_url:?}) is not a URL: {e}"
        ))
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::Config(format!(
            "the REST URL of link {link} must start with https:// or http://, not {}://",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The URL is printed in errors; the password must not be.
        return Err(Error::Config(format!(
            "the REST URL of link {link} holds credentials; give them as [link] username-env and password-env instead"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the REST URL of link {link} must not have a query or fragment; it ends in /kafka/v3"
        )));
    }
    Ok(url)
}

fn action_verb(action: MirrorAction) -> &'static str {
    match action {
        MirrorAction::Promote => "promote",
        MirrorAction::Failover => "fail over",
        MirrorAction::Pause => "pause",
        MirrorAction::Resume => "resume",
    }
}

/// `a, b, c` or `a, b, c and 7 more`, so a large batch keeps error messages readable.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

#[cfg(test)]
mod bad_answers;

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    use super::shapes::tests::spec;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn options(base_url: &str) -> RestLinkOptions {
        RestLinkOptions {
            base_url: base_url.to_string(),
            link_name: "link-1".into(),
            cluster_id: Some("cluster-1".into()),
            basic_auth: Some(("api-key".into(), "s3cret-Pa55".into())),
            bearer_token: None,
            client_identity: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
            retries: 2,
            backoff: Duration::from_millis(10),
        }
    }

    #[test]
    fn error_messages_come_from_json_html_or_text() {
        let s = StatusCode::UNAUTHORIZED;
        assert_eq!(
            error_message(
                s,
                br#"{"error_code":40101,"message":"Authentication failed"}"#
            ),
            "Authentication failed (error code 40101)"
        );
        let spec = spec();
        let html = spec["cloud"]["paths"]["/kafka/v3/clusters/{cluster_id}/links"]["get"]
            ["responses"]["429"]["content"]["text/html"]["example"]["value"]
            .as_str()
            .expect("the spec has an HTML 429 example")
            .to_string();
        assert_eq!(
            error_message(StatusCode::TOO_MANY_REQUESTS, html.as_bytes()),
            "Error 429 Too Many Requests"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b""),
            "Bad Gateway".to_string()
        );
        assert_eq!(error_message(StatusCode::BAD_REQUEST, b" nope \n"), "nope");
    }

    #[test]
    fn debug_never_prints_the_password() {
        let o = options("https://pkc-1.example:443/kafka/v3");
        let text = format!("{o:?} {o:#?}");
        assert!(!text.contains("s3cret-Pa55"), "{text}");
        assert!(text.contains("api-key"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");

        let link = ConfluentRestLink {
            client: reqwest::Client::new(),
            base: parse_base_url(&o.base_url, &o.link_name).unwrap(),
            cluster_id: "cluster-1".into(),
            options: o,
            max_answer_bytes: MAX_ANSWER_BYTES,
        };
        let text = format!("{link:?} {link:#?}");
        assert!(!text.contains("s3cret-Pa55"), "{text}");
        assert!(text.contains("link-1"), "{text}");
    }

    #[test]
    fn colon_actions_stay_literal_in_the_url() {
        let o = options("http://127.0.0.1:1/kafka/v3/");
        let link = ConfluentRestLink {
            client: reqwest::Client::new(),
            base: parse_base_url(&o.base_url, &o.link_name).unwrap(),
            cluster_id: "cluster-1".into(),
            options: o,
            max_answer_bytes: MAX_ANSWER_BYTES,
        };
        assert_eq!(
            link.link_url(&[MirrorAction::Promote.path()]).as_str(),
            "http://127.0.0.1:1/kafka/v3/clusters/cluster-1/links/link-1/mirrors:promote"
        );
        assert_eq!(
            link.link_url(&["configs:alter"]).as_str(),
            "http://127.0.0.1:1/kafka/v3/clusters/cluster-1/links/link-1/configs:alter"
        );
    }

    #[test]
    fn base_urls_with_credentials_or_other_schemes_are_refused() {
        for bad in [
            "https://user:pw@host/kafka/v3",
            "ftp://host/kafka/v3",
            "not a url",
        ] {
            let err = parse_base_url(bad, "l").unwrap_err();
            assert_eq!(err.exit_code(), crate::error::exit::USAGE);
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let b = Duration::from_millis(100);
        assert_eq!(retry_delay(b, 1, None), Duration::from_millis(100));
        assert_eq!(retry_delay(b, 2, None), Duration::from_millis(200));
        assert_eq!(retry_delay(b, 3, None), Duration::from_millis(400));
        assert_eq!(
            retry_delay(b, 1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(retry_delay(b, 40, None), MAX_RETRY_DELAY);
    }

    #[test]
    fn mirror_actions_are_retried_only_on_answers_that_prove_they_were_not_served() {
        for (status, idempotent, once) in [
            (503, true, true),
            (429, true, true),
            (500, true, false),
            (502, true, false),
            (504, true, false),
            (400, false, false),
            (401, false, false),
            (404, false, false),
        ] {
            let s = StatusCode::from_u16(status).unwrap();
            assert_eq!(retryable_status(s, Repeat::Idempotent), idempotent, "{s}");
            assert_eq!(retryable_status(s, Repeat::Once), once, "{s}");
        }
    }

    /// A one-connection-per-request HTTP server that records each request's head and answers
    /// from `answer(request_line)`: enough to see the exact bytes cutover sends.
    async fn raw_server(
        answer: fn(&str) -> (u16, &'static str, &'static str),
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read the head, then as much body as Content-Length announces.
                    let (head, body_len) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            break (head, end + 4 + len);
                        }
                    };
                    while buf.len() < body_len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let request_line = head.lines().next().unwrap_or("").to_string();
                    log.lock().unwrap().push(head);
                    let (status, content_type, body) = answer(&request_line);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (format!("http://{addr}/kafka/v3"), seen)
    }

    #[tokio::test]
    async fn sends_colon_actions_literally_with_basic_auth_on_every_request() {
        let (base, seen) = raw_server(|line| {
            if line.contains("mirrors:pause") {
                (
                    200,
                    "application/json",
                    r#"{"kind":"KafkaPromoteMirror","data":[{"mirror_topic_name":"t1","error_code":null,"error_message":null,"mirror_lags":[]}]}"#,
                )
            } else {
                (
                    200,
                    "application/json",
                    r#"{"link_name":"link-1","topic_names":["t1"],"cluster_link_id":"x"}"#,
                )
            }
        })
        .await;
        let link = ConfluentRestLink::connect(options(&base)).await.unwrap();
        let results = link
            .alter_mirrors(MirrorAction::Pause, &["t1".to_string()])
            .await
            .unwrap();
        assert_eq!(results[0].error, None);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[1].starts_with(
                "POST /kafka/v3/clusters/cluster-1/links/link-1/mirrors:pause HTTP/1.1"
            ),
            "{seen:?}"
        );
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("api-key:s3cret-Pa55")
        );
        for head in &seen {
            let sent = head.lines().any(|l| {
                l.split_once(':').is_some_and(|(name, value)| {
                    name.eq_ignore_ascii_case("authorization") && value.trim() == expected
                })
            });
            assert!(sent, "{head}");
        }
    }

    #[tokio::test]
    async fn a_bearer_token_is_sent_on_every_request_instead_of_basic_credentials() {
        let (base, seen) = raw_server(|_| {
            (
                200,
                "application/json",
                r#"{"link_name":"link-1","topic_names":["t1"],"cluster_link_id":"x"}"#,
            )
        })
        .await;
        let mut options = options(&base);
        options.basic_auth = None;
        options.bearer_token = Some("tok-3f9a".into());
        let link = ConfluentRestLink::connect(options).await.unwrap();
        link.configs().await.ok();
        let seen = seen.lock().unwrap().clone();
        assert!(seen.len() >= 2, "{seen:?}");
        for head in &seen {
            let auth: Vec<&str> = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                .map(|(_, value)| value.trim())
                .collect();
            assert_eq!(auth, ["Bearer tok-3f9a"], "{head}");
        }
    }

    #[tokio::test]
    async fn an_html_429_is_retried_then_reported_with_its_title() {
        let (base, seen) = raw_server(|line| {
            if line.starts_with("GET /kafka/v3/clusters/cluster-1/links/link-1/configs ") {
                (
                    429,
                    "text/html",
                    "<html><head><title>Error 429 Too Many Requests</title></head></html>",
                )
            } else {
                (
                    200,
                    "application/json",
                    r#"{"link_name":"link-1","topic_names":[]}"#,
                )
            }
        })
        .await;
        let link = ConfluentRestLink::connect(options(&base)).await.unwrap();
        let err = link.configs().await.unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::UNREACHABLE);
        let text = err.to_string();
        assert!(
            text.contains("HTTP 429: Error 429 Too Many Requests (after 3 attempts)"),
            "{text}"
        );
        assert!(text.contains("link-1"), "{text}");
        // connect's describe, then the configs call and its two retries.
        assert_eq!(seen.lock().unwrap().len(), 4);
    }
}
