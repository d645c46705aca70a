//! `ConfluentRestLink`: the `Link` trait over Confluent's REST v3 API. (Being written.)

use std::path::PathBuf;
use std::time::Duration;

/// How to reach the link's REST API.
#[derive(Clone)]
pub struct RestLinkOptions {
    /// The base URL, ending in `/kafka/v3`.
    pub base_url: String,
    pub link_name: String,
    /// The destination cluster's id; discovered with `GET /clusters` when `None`.
    pub cluster_id: Option<String>,
    /// HTTP Basic credentials (user, password).
    pub basic_auth: Option<(String, String)>,
    /// A PEM file with extra CA certificates to trust for TLS.
    pub ca_file: Option<PathBuf>,
    /// Bound on one HTTP request.
    pub timeout: Duration,
    /// Retries after a 5xx answer, a 429 or a timeout.
    pub retries: u32,
    /// First pause between retries (doubled each time).
    pub backoff: Duration,
}

pub struct ConfluentRestLink {
    #[allow(dead_code)]
    options: RestLinkOptions,
}
