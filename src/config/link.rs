//! `[link]`: the cluster link's name and prefix, and how to reach its REST v3 API (URL,
//! cluster id, Basic credentials, CA file, timeout, retries), turned into the options of
//! `ConfluentRestLink`. Without `rest-url` cutover runs Kafka-only.
//!
//! The password is a [`Secret`]; a URL carrying credentials is refused without being repeated.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Table;

use super::load::Env;
use super::problems::{check_known_keys, Problems};
use super::value::{bounded, env_value, indirect, positive_duration, setting};
use crate::link::RestLinkOptions;
use crate::secret::Secret;

pub(crate) const DEFAULT_REST_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_REST_RETRIES: u32 = 3;
const MAX_REST_RETRIES: u32 = 10;
/// First pause between REST retries; `RestLinkOptions` doubles it each time.
pub(crate) const REST_BACKOFF: Duration = Duration::from_millis(500);

const LINK_KEYS: &[&str] = &[
    "name",
    "rest-url",
    "cluster-id",
    "username-env",
    "password-env",
    "token-env",
    "cert-file",
    "key-file",
    "ca-file",
    "timeout",
    "retries",
    "prefix",
];

/// The cluster link.
#[derive(Clone)]
pub struct LinkConfig {
    pub name: String,
    /// How to reach the link's REST API; `None` is Kafka-only mode.
    pub rest: Option<RestConfig>,
    /// The link's `cluster.link.prefix` (empty when mirrors keep their source names).
    pub prefix: String,
    /// Bound on one request to the link (`[link] timeout`), in either mode.
    pub timeout: Duration,
    /// Retries of a REST request after a 5xx answer, a 429 or a timeout (at most 10).
    pub retries: u32,
}

/// The link's REST v3 API.
#[derive(Clone)]
pub struct RestConfig {
    /// The base URL without a trailing slash, ending in `/kafka/v3` (or `/v3`).
    pub url: String,
    /// The destination cluster's id; discovered with `GET /clusters` when `None`.
    pub cluster_id: Option<String>,
    pub credentials: Option<Credentials>,
    /// A bearer token (`token-env`), instead of Basic credentials.
    pub token: Option<Secret>,
    /// A client certificate and its key (PEM files) for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Extra CA certificates (PEM) to trust for TLS.
    pub ca_file: Option<PathBuf>,
}

/// HTTP Basic credentials for the REST API.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl LinkConfig {
    /// Bound on one request to the link; also a sensible bound on one Kafka request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The longest one REST write to the link takes with its retries, each attempt bounded by
    /// `timeout` and the pauses doubling from [`REST_BACKOFF`] (a server's longer
    /// `Retry-After` is not counted).
    pub fn longest_write(&self) -> Duration {
        let pauses: Duration = (0..self.retries)
            .map(|i| REST_BACKOFF * 2u32.saturating_pow(i))
            .sum();
        self.timeout * (self.retries + 1) + pauses
    }

    /// The options for `ConfluentRestLink`, or `None` in Kafka-only mode.
    pub fn rest_options(&self) -> Option<RestLinkOptions> {
        let rest = self.rest.as_ref()?;
        Some(RestLinkOptions {
            base_url: rest.url.clone(),
            link_name: self.name.clone(),
            cluster_id: rest.cluster_id.clone(),
            basic_auth: rest
                .credentials
                .as_ref()
                .map(|c| (c.username.clone(), c.password.expose().to_string())),
            bearer_token: rest.token.as_ref().map(|t| t.expose().to_string()),
            client_identity: rest.client_cert.clone(),
            ca_file: rest.ca_file.clone(),
            timeout: self.timeout,
            retries: self.retries,
            backoff: REST_BACKOFF,
        })
    }
}

// `Debug` is written by hand for every type that holds configuration, so that a field added
// later cannot leak a secret through a derived impl.

impl fmt::Debug for LinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkConfig")
            .field("name", &self.name)
            .field("rest", &self.rest)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestConfig")
            .field("url", &self.url)
            .field("cluster_id", &self.cluster_id)
            .field("credentials", &self.credentials)
            .field("token", &self.token)
            .field("client_cert", &self.client_cert)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// The state of one REST credential after reading.
enum Credential {
    Absent,
    /// Named but unreadable; already reported.
    Reported,
    Present {
        value: String,
        from: String,
    },
}

/// Which table a link is read from: `[link]` (origin → destination) or `[reverse-link]`
/// (destination → origin, for the groups that stay on the origin), with its variables.
pub(super) struct LinkSection {
    /// The table's name as messages show it.
    pub table: &'static str,
    /// The prefix of its `CUTOVER_*` variables.
    pub vars: &'static str,
    /// The variable of the REST cluster id (the cluster the link's mirrors are on).
    pub cluster_id_var: &'static str,
    /// How messages name the link.
    pub what: &'static str,
}

impl LinkSection {
    fn var(&self, name: &str) -> String {
        format!("{}{name}", self.vars)
    }
}

pub(super) const FORWARD: LinkSection = LinkSection {
    table: "[link]",
    vars: "CUTOVER_LINK_",
    cluster_id_var: "CUTOVER_DESTINATION_CLUSTER_ID",
    what: "the link",
};

pub(super) const REVERSE: LinkSection = LinkSection {
    table: "[reverse-link]",
    vars: "CUTOVER_REVERSE_LINK_",
    cluster_id_var: "CUTOVER_ORIGIN_CLUSTER_ID",
    what: "the reverse link",
};

fn credential(
    sec: &LinkSection,
    table: &Table,
    what: &str,
    var: &str,
    env: &Env,
    problems: &mut Problems,
) -> Credential {
    if let Some(value) = env_value(env, var) {
        return Credential::Present {
            value: value.to_string(),
            from: var.to_string(),
        };
    }
    let key = format!("{what}-env");
    let Some(named) = setting(table, sec.table, &key, None, env, problems) else {
        return Credential::Absent;
    };
    match indirect(env, &named.from, &named.value, problems) {
        Some(value) => Credential::Present {
            value,
            from: named.from,
        },
        None => Credential::Reported,
    }
}

/// Whether `[link] key` (or its section's) or the variable `var` names a value.
fn named(table: &Table, env: &Env, key: &str, var: &str) -> bool {
    table.contains_key(key) || env_value(env, var).is_some()
}

pub(super) fn link_config(
    sec: &LinkSection,
    section: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> LinkConfig {
    let empty = Table::new();
    let table = section.unwrap_or(&empty);
    check_known_keys(sec.table, table, LINK_KEYS, problems);
    let get = |key: &str, var: &str, problems: &mut Problems| {
        setting(table, sec.table, key, Some(var), env, problems)
    };

    let name = match get("name", &sec.var("NAME"), problems) {
        Some(s) if !s.value.trim().is_empty() => s.value,
        _ => {
            problems.push(format!(
                "{} has no name: set name in {} or {}NAME",
                sec.what, sec.table, sec.vars
            ));
            String::new()
        }
    };
    let url = get("rest-url", &sec.var("REST_URL"), problems).and_then(|s| {
        check_rest_url(&s.value)
            .map_err(|e| problems.push(format!("{}: {e}", s.from)))
            .ok()
    });
    let cluster_id = get("cluster-id", sec.cluster_id_var, problems)
        .map(|s| s.value)
        .filter(|s| !s.trim().is_empty());

    let username = credential(sec, table, "username", &sec.var("USERNAME"), env, problems);
    let password = credential(sec, table, "password", &sec.var("PASSWORD"), env, problems);
    let credentials = match (username, password) {
        (
            Credential::Present { value: user, .. },
            Credential::Present {
                value: password, ..
            },
        ) => Some(Credentials {
            username: user,
            password: Secret::new(password),
        }),
        (Credential::Present { from, .. }, Credential::Absent) => {
            problems.push(format!(
                "{what}'s REST username is set ({from}) but no password: set password-env in {table} or {vars}PASSWORD",
                what = sec.what, table = sec.table, vars = sec.vars
            ));
            None
        }
        (Credential::Absent, Credential::Present { from, .. }) => {
            problems.push(format!(
                "{what}'s REST password is set ({from}) but no username: set username-env in {table} or {vars}USERNAME",
                what = sec.what, table = sec.table, vars = sec.vars
            ));
            None
        }
        _ => None,
    };

    let token = match credential(sec, table, "token", &sec.var("TOKEN"), env, problems) {
        Credential::Present { value, from } => {
            if credentials.is_some() {
                problems.push(format!(
                    "{}'s REST API has both Basic credentials and a bearer token ({from}): keep one",
                    sec.what
                ));
            }
            Some(Secret::new(value))
        }
        Credential::Absent | Credential::Reported => None,
    };
    let file = |key: &str, var: &str, problems: &mut Problems| {
        get(key, var, problems).and_then(|s| {
            let path = if s.in_file {
                base_dir.join(&s.value)
            } else {
                PathBuf::from(&s.value)
            };
            match fs::File::open(&path) {
                Ok(_) => Some(path),
                Err(e) => {
                    problems.push(format!("{}: cannot read {}: {e}", s.from, path.display()));
                    None
                }
            }
        })
    };
    let ca_file = file("ca-file", &sec.var("CA_FILE"), problems);
    let cert_file = file("cert-file", &sec.var("CERT_FILE"), problems);
    let key_file = file("key-file", &sec.var("KEY_FILE"), problems);
    let client_cert = match (cert_file, key_file) {
        (Some(cert), Some(key)) => Some((cert, key)),
        // Only one of the two named (an unreadable one is reported already).
        _ if named(table, env, "cert-file", &sec.var("CERT_FILE"))
            != named(table, env, "key-file", &sec.var("KEY_FILE")) =>
        {
            problems.push(format!(
                "{what}'s REST client certificate needs both cert-file and key-file in {table} (or {vars}CERT_FILE and {vars}KEY_FILE)",
                what = sec.what, table = sec.table, vars = sec.vars
            ));
            None
        }
        _ => None,
    };
    let timeout = get("timeout", &sec.var("TIMEOUT"), problems)
        .and_then(|s| positive_duration(&s, problems))
        .unwrap_or(DEFAULT_REST_TIMEOUT);
    let retries = get("retries", &sec.var("RETRIES"), problems)
        .and_then(|s| bounded(&s, 0, MAX_REST_RETRIES, "a number of retries", problems))
        .unwrap_or(DEFAULT_REST_RETRIES);
    let prefix = get("prefix", &sec.var("PREFIX"), problems)
        .map(|s| s.value)
        .unwrap_or_default();

    LinkConfig {
        name,
        rest: url.map(|url| RestConfig {
            url,
            cluster_id,
            credentials,
            token,
            client_cert,
            ca_file,
        }),
        prefix,
        timeout,
        retries,
    }
}

/// Checks the REST base URL and returns it without a trailing slash. The message never
/// repeats a URL that carries credentials.
fn check_rest_url(raw: &str) -> std::result::Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err("the URL carries credentials: give them with username-env and password-env in [link] (or CUTOVER_LINK_USERNAME and CUTOVER_LINK_PASSWORD) instead".into());
    }
    let lower = url.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        "https://".len()
    } else if lower.starts_with("http://") {
        "http://".len()
    } else {
        return Err(format!("{raw} is not an http:// or https:// URL"));
    };
    if authority.is_empty() {
        return Err(format!("{raw} has no host"));
    }
    let base = &url[..scheme_len + authority.len()];
    let path = &url[base.len()..];
    if path.contains(['?', '#']) {
        return Err(format!(
            "{raw} has a query or fragment: give the API's base URL, ending in /kafka/v3"
        ));
    }
    if path.ends_with("/kafka/v3") {
        Ok(url.to_string())
    } else if path.ends_with("/v3") {
        tracing::warn!(
            "[link] rest-url {url} ends in /v3, not /kafka/v3: taking it for a standalone REST Proxy"
        );
        Ok(url.to_string())
    } else {
        Err(format!(
            "{raw} does not end in /kafka/v3: Confluent Server embeds the REST API under that path (e.g. {base}/kafka/v3); a standalone REST Proxy serves /v3"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_problem, env, from_toml, lab_env, problems};
    use super::super::Config;
    use super::*;

    #[test]
    fn a_reverse_link_is_read_from_its_own_table_and_variables_and_named_in_its_problems() {
        let config = Config::from_sources(None, &lab_env()).expect("valid");
        assert!(config.reverse_link.is_none(), "none unless named");

        let mut e = lab_env();
        e.insert("CUTOVER_REVERSE_LINK_NAME".into(), "back".into());
        e.insert(
            "CUTOVER_REVERSE_LINK_REST_URL".into(),
            "http://127.0.0.1:39004/kafka/v3".into(),
        );
        e.insert("CUTOVER_REVERSE_LINK_PREFIX".into(), "dst.".into());
        let config = Config::from_sources(None, &e).expect("valid");
        let reverse = config.reverse_link.expect("a reverse link");
        assert_eq!(reverse.name, "back");
        assert_eq!(reverse.prefix, "dst.");
        let rest = reverse.rest_options().expect("rest");
        assert_eq!(rest.base_url, "http://127.0.0.1:39004/kafka/v3");
        // Its mirrors are on the origin: the origin's cluster id, not the destination's.
        assert_eq!(rest.cluster_id.as_deref(), Some("origin-id-Q"));
        assert_eq!(
            config.link.name, "cutover-lab",
            "the forward link is untouched"
        );

        let file = "[reverse-link]\nrest-url = \"http://127.0.0.1:1/kafka/v3\"\nusername-env = \"U\"\ncolour = 1\n";
        let problems =
            match Config::from_sources(Some((file, Path::new("/etc/cutover.toml"))), &lab_env()) {
                Err(crate::error::Error::ConfigProblems(p)) => p,
                other => panic!("{other:?}"),
            };
        for expected in [
            "the reverse link has no name: set name in [reverse-link] or CUTOVER_REVERSE_LINK_NAME",
            "unknown key `colour` in [reverse-link]",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected:?} not in {problems:?}"
            );
        }
    }

    #[test]
    fn without_rest_url_the_link_is_kafka_only() {
        let mut e = lab_env();
        e.remove("CUTOVER_LINK_REST_URL");
        let config = Config::from_sources(None, &e).expect("valid");
        assert!(config.link.rest.is_none());
        assert!(config.link.rest_options().is_none());
    }

    #[test]
    fn credentials_need_both_halves_and_set_variables() {
        let base = lab_env();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("CUTOVER_LINK_PASSWORD", "pw")],
                "the link's REST password is set (CUTOVER_LINK_PASSWORD) but no username",
            ),
            (
                &[("CUTOVER_LINK_USERNAME", "u")],
                "the link's REST username is set (CUTOVER_LINK_USERNAME) but no password",
            ),
        ];
        for (extra, needle) in cases {
            let mut e = base.clone();
            e.extend(env(extra));
            assert_problem(&problems(Config::from_sources(None, &e)), needle);
        }
        // A named but unset variable is reported once, not also as a missing half.
        let text = "[link]\nusername-env = \"U\"\npassword-env = \"P\"\n";
        let p = problems(from_toml(
            text,
            &env(&[
                ("U", "u"),
                ("CUTOVER_ORIGIN_BOOTSTRAP", "a"),
                ("CUTOVER_DESTINATION_BOOTSTRAP", "b"),
                ("CUTOVER_LINK_NAME", "l"),
            ]),
        ));
        assert_eq!(
            p,
            vec!["[link] password-env names the environment variable P, which is not set"]
        );
    }

    #[test]
    fn a_bearer_token_or_a_client_certificate_authenticates_to_the_rest_api() {
        let dir = std::env::temp_dir().join(format!("cutover-link-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
        std::fs::write(&cert, "cert").unwrap();
        std::fs::write(&key, "key").unwrap();

        let mut e = lab_env();
        e.extend(env(&[
            ("CUTOVER_LINK_TOKEN", "tok-123"),
            ("CUTOVER_LINK_CERT_FILE", cert.to_str().unwrap()),
            ("CUTOVER_LINK_KEY_FILE", key.to_str().unwrap()),
        ]));
        let options = Config::from_sources(None, &e)
            .expect("valid")
            .link
            .rest_options()
            .expect("REST mode");
        assert_eq!(options.bearer_token.as_deref(), Some("tok-123"));
        assert_eq!(options.client_identity, Some((cert.clone(), key.clone())));
        assert!(options.basic_auth.is_none());
        assert!(!format!("{options:?}").contains("tok-123"));

        // Basic and bearer together, or half a client certificate, are refused.
        let mut both = e.clone();
        both.extend(env(&[
            ("CUTOVER_LINK_USERNAME", "u"),
            ("CUTOVER_LINK_PASSWORD", "p"),
        ]));
        assert_problem(
            &problems(Config::from_sources(None, &both)),
            "both Basic credentials and a bearer token (CUTOVER_LINK_TOKEN): keep one",
        );
        let mut half = e.clone();
        half.remove("CUTOVER_LINK_KEY_FILE");
        assert_problem(
            &problems(Config::from_sources(None, &half)),
            "needs both cert-file and key-file",
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn checks_rest_urls() {
        let cases: &[(&str, std::result::Result<&str, &str>)] = &[
            ("https://h:8090/kafka/v3", Ok("https://h:8090/kafka/v3")),
            ("HTTP://h/kafka/v3/", Ok("HTTP://h/kafka/v3")),
            ("http://proxy:8082/v3", Ok("http://proxy:8082/v3")),
            ("https://h:8090", Err("does not end in /kafka/v3: Confluent Server embeds the REST API under that path (e.g. https://h:8090/kafka/v3)")),
            ("https://h:8090/kafka", Err("does not end in /kafka/v3")),
            ("h:8090/kafka/v3", Err("is not an http:// or https:// URL")),
            ("ftp://h/kafka/v3", Err("is not an http:// or https:// URL")),
            ("https:///kafka/v3", Err("has no host")),
            ("https://h/kafka/v3?x=1", Err("has a query or fragment")),
            ("https://user:hunter2@h/kafka/v3", Err("the URL carries credentials")),
        ];
        for (url, expected) in cases {
            match (check_rest_url(url), expected) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want),
                (Err(got), Err(want)) => {
                    assert!(got.contains(want), "{url}: {got}");
                    assert!(!got.contains("hunter2"), "{got}");
                }
                (got, _) => panic!("{url}: unexpected {got:?}"),
            }
        }
    }
}
