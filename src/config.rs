//! Configuration: `cutover.toml` and `CUTOVER_*` environment variables, read and validated in
//! one place into a typed [`Config`].
//!
//! Nothing outside this module looks at the file or at a `CUTOVER_*` variable. Loading never
//! stops at the first mistake: every problem found is collected and returned together as
//! [`Error::ConfigProblems`] (exit code 2), so an operator fixes a config in one round. This
//! module performs no network I/O; it reads only the config file, a `.properties` file it names
//! and checks that each `ca-file` is readable. It must never log, print or `Debug`-format a
//! secret: values of secret-looking properties are masked ([`ClusterConfig::redacted`]); the
//! REST password and the hooks' `env-from` and `headers-env` values are [`Secret`]s.
//!
//! # The file
//!
//! ```toml
//! [origin]                      # librdkafka client properties, passed through unchanged
//! "bootstrap.servers" = "old-kafka:9092"
//! "security.protocol" = "SASL_SSL"
//! "sasl.mechanisms" = "PLAIN"
//! "sasl.username" = "svc-cutover"
//! "sasl.password-env" = "ORIGIN_PASSWORD"   # a secret is never written in the file: *-env names the variable
//! # properties-file = "origin.properties"    # or a Java client .properties file, as Kafka's own tools accept
//!
//! [destination]
//! "bootstrap.servers" = "new-kafka:9092"
//!
//! [link]
//! name = "migration-link"
//! rest-url = "https://new-kafka:8090/kafka/v3"   # absent: Kafka-only mode (mirror status unknown)
//! cluster-id = "lkc-1234"                         # optional: discovered from GET /clusters
//! username-env = "LINK_API_KEY"
//! password-env = "LINK_API_SECRET"
//! ca-file = "ca.pem"                              # optional extra CA for the REST endpoint
//! timeout = "10s"
//! retries = 3
//! prefix = ""                                     # cluster.link.prefix, for Kafka-only mode
//!
//! [defaults]
//! wait = "5m"          # default for --wait
//! poll-interval = "2s"
//!
//! [cutover]                     # how a cutover paces and bounds its phases
//! journal-dir = "cutover-journal"
//! sync-interval = "30s"         # only when the link cannot report consumer.offset.sync.ms
//! sync-timeout-factor = 3       # await sync gives up after 3 sync intervals (1 to 20)
//! stop-timeout = "2m"
//! mirror-timeout = "5m"
//! restart-timeout = "2m"
//! restart-window = "1m"
//! stable-reads = 2              # 2 to 10
//!
//! [hooks.stop]                  # the default hook of a kind: stop, exclude, restart, rollback
//! exec = ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
//! timeout = "60s"
//! retries = 2
//!
//! [hooks]
//! exclude = "link"              # the default: the built-in link action
//!
//! [groups."orders app".hooks.restart]   # replaces [hooks.restart] for this group only
//! http = { url = "https://deploy.example/groups/{group}/start", headers-env = { Authorization = "DEPLOY_TOKEN" } }
//! ```
//!
//! - `[origin]` and `[destination]` hold librdkafka properties. Quoted (`"bootstrap.servers"`)
//!   and unquoted (`bootstrap.servers`, which TOML reads as nested tables) keys are the same
//!   key. Strings, integers and booleans are accepted; a property whose key ends in `-env`
//!   takes its value from the environment variable it names. `properties-file` imports a Java
//!   client `.properties` file (see below); the section's own keys override the file's.
//! - `[link]`: only `name` is required. Without `rest-url` cutover runs Kafka-only: mirror topics
//!   are inferred from names (with `prefix`) and mirror status is unknown. `rest-url` is the
//!   base of Confluent's REST v3 API: `/kafka/v3` on Confluent Server (a standalone REST Proxy's
//!   `/v3` is accepted with a warning). `retries` is at most 10; the first retry waits 500 ms,
//!   doubling after.
//! - Durations are a whole number and a unit: `1500ms`, `10s`, `5m`, `1h`.
//! - `properties-file` and `ca-file` are relative to the TOML file's folder (to the working
//!   directory when they come from the environment). Paths inside librdkafka properties are
//!   passed unchanged, so they are relative to the working directory.
//! - `[cutover]`: `journal-dir` is relative to the TOML file's folder when set there (the
//!   default and `CUTOVER_JOURNAL_DIR` are relative to the working directory); every duration
//!   is more than zero.
//! - `[hooks.<kind>]` and `[groups."<group id>".hooks.<kind>]`: exactly one of `exec` (an argv
//!   array), `shell` (a script), `http` (a table: `method`, `url`, `headers`, `headers-env`,
//!   `body`, `expect-status`, `ca-file`) or, for exclude only, `builtin = "link"`; plus
//!   `timeout`, `retries` (0 to 10), `env` and `env-from` (exec and shell only). A group's hook
//!   replaces the default of its kind entirely. Placeholders (`{group}`, `{cluster}`,
//!   `{topics}`, `{run_id}`, `{link}`) are checked here; an unknown one is a problem, and so is
//!   a placeholder where a value would be read as code or choose what runs: an exec program,
//!   the script of `sh -c`, shell text, a URL's host. `hooks/template.rs` says how values are
//!   substituted and the README's Hooks section is the reference.
//! - Any other key is a problem (typo protection), named with its section.
//!
//! Without `--config`, `./cutover.toml` is read when it exists; otherwise the environment alone
//! configures cutover, and `eval "$(tests/lab/lab env)"` is enough to point it at the lab.
//!
//! # Environment
//!
//! Variables override the file. An empty variable counts as unset.
//!
//! | variable | sets |
//! | --- | --- |
//! | `CUTOVER_ORIGIN_BOOTSTRAP`, `CUTOVER_DESTINATION_BOOTSTRAP` | `bootstrap.servers` |
//! | `CUTOVER_ORIGIN_PROPERTIES_FILE`, `CUTOVER_DESTINATION_PROPERTIES_FILE` | `properties-file` |
//! | `CUTOVER_ORIGIN_<PROP>`, `CUTOVER_DESTINATION_<PROP>` | the librdkafka property `<PROP>` lower-cased with `_` as `.` (`CUTOVER_ORIGIN_SASL_USERNAME` is `sasl.username`) |
//! | `CUTOVER_LINK_NAME`, `CUTOVER_LINK_REST_URL`, `CUTOVER_LINK_CA_FILE`, `CUTOVER_LINK_TIMEOUT`, `CUTOVER_LINK_RETRIES`, `CUTOVER_LINK_PREFIX` | `[link]` `name`, `rest-url`, `ca-file`, `timeout`, `retries`, `prefix` |
//! | `CUTOVER_DESTINATION_CLUSTER_ID` | `[link]` `cluster-id` |
//! | `CUTOVER_LINK_USERNAME`, `CUTOVER_LINK_PASSWORD` | the REST credentials themselves (instead of `username-env`, `password-env`) |
//! | `CUTOVER_WAIT`, `CUTOVER_POLL_INTERVAL` | `[defaults]` `wait`, `poll-interval` |
//! | `CUTOVER_JOURNAL_DIR` | `[cutover]` `journal-dir` |
//!
//! `CUTOVER_ORIGIN_CLUSTER_ID`, `CUTOVER_LINK_ADMIN_URL`, `CUTOVER_LAB_*`, `CUTOVER_CONFIG` and
//! `CUTOVER_LOG` are not configuration and are ignored here.
//!
//! # Java `.properties` files
//!
//! Read as Java does (`key=value`, `key: value`, `key value`, `#`/`!` comments, a trailing `\`
//! continues a line, `\` escapes including `\uXXXX`), then translated to librdkafka:
//! `sasl.mechanism` becomes `sasl.mechanisms`; `sasl.jaas.config` with the Plain or Scram login
//! module becomes `sasl.username`/`sasl.password` (Kerberos and OAuth client-credentials
//! modules map to `sasl.kerberos.*`/`sasl.oauthbearer.*`); a PEM truststore becomes
//! `ssl.ca.location`; a PEM keystore becomes `ssl.certificate.location` and
//! `ssl.key.location`, a PKCS12 keystore stays `ssl.keystore.*`. JKS stores are a problem
//! (librdkafka cannot read them) unless the section sets the librdkafka replacement itself.
//! Java-only keys (serializers, `*.class`, `ssl.truststore.password`, ...) are dropped with a
//! warning naming the key; everything else passes through.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use crate::error::{Error, Result};
use crate::hooks::{
    hook_section, toml_key, HookAction, HookConfig, HookKind, HooksConfig, HttpHook,
    DEFAULT_HOOK_RETRIES, DEFAULT_HOOK_TIMEOUT, HOOK_VARIABLES, MAX_HOOK_RETRIES, PLACEHOLDERS,
};
use crate::link::RestLinkOptions;
use crate::model::{GroupId, Role};
use crate::secret::Secret;

/// The file read when no `--config` is given, if it exists in the working directory.
pub const DEFAULT_FILE: &str = "cutover.toml";

pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
const DEFAULT_REST_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REST_RETRIES: u32 = 3;
const MAX_REST_RETRIES: u32 = 10;
/// First pause between REST retries; `RestLinkOptions` doubles it each time.
pub(crate) const REST_BACKOFF: Duration = Duration::from_millis(500);

const SECTIONS: &[&str] = &[
    "origin",
    "destination",
    "link",
    "defaults",
    "cutover",
    "hooks",
    "groups",
];
const LINK_KEYS: &[&str] = &[
    "name",
    "rest-url",
    "cluster-id",
    "username-env",
    "password-env",
    "ca-file",
    "timeout",
    "retries",
    "prefix",
];
const DEFAULTS_KEYS: &[&str] = &["wait", "poll-interval"];
const CUTOVER_KEYS: &[&str] = &[
    "journal-dir",
    "sync-interval",
    "sync-timeout-factor",
    "stop-timeout",
    "mirror-timeout",
    "restart-timeout",
    "restart-window",
    "stable-reads",
];
const HOOKS_KEYS: &[&str] = &["stop", "exclude", "restart", "rollback"];
const HOOK_KEYS: &[&str] = &[
    "exec", "shell", "http", "builtin", "timeout", "retries", "env", "env-from",
];
const HOOK_ACTIONS: &[&str] = &["exec", "shell", "http", "builtin"];
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
const GROUP_KEYS: &[&str] = &["hooks"];
/// Programs whose `-c` argument is shell text: an exec hook must not put a placeholder there.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];

/// `[cutover] journal-dir` when unset: relative to the working directory.
pub(crate) const DEFAULT_JOURNAL_DIR: &str = "cutover-journal";
const DEFAULT_SYNC_TIMEOUT_FACTOR: u32 = 3;
const MAX_SYNC_TIMEOUT_FACTOR: u32 = 20;
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const DEFAULT_MIRROR_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_RESTART_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(60);
const DEFAULT_STABLE_READS: u32 = 2;
const MIN_STABLE_READS: u32 = 2;
const MAX_STABLE_READS: u32 = 10;

/// The environment as a map, so that loading is a function of its inputs (tests pass their
/// own). Build it with [`process_env`].
pub type Env = BTreeMap<String, String>;

/// The process environment, skipping variables whose name or value is not UTF-8.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The whole validated configuration.
#[derive(Clone)]
pub struct Config {
    pub origin: ClusterConfig,
    pub destination: ClusterConfig,
    pub link: LinkConfig,
    pub defaults: Defaults,
    pub cutover: CutoverSettings,
    pub hooks: HooksConfig,
}

/// One cluster's final librdkafka client properties (file, `.properties` import, `*-env`
/// indirection and environment overrides already applied). Values may be secrets: format it
/// with `{:?}` or [`ClusterConfig::redacted`], never by printing `properties`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    pub properties: BTreeMap<String, String>,
}

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
    /// Extra CA certificates (PEM) to trust for TLS.
    pub ca_file: Option<PathBuf>,
}

/// HTTP Basic credentials for the REST API.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Defaults for command-line options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Default for `--wait`.
    pub wait: Duration,
    /// Pause between two observations while waiting.
    pub poll_interval: Duration,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            wait: DEFAULT_WAIT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// How a cutover paces and bounds its phases (`[cutover]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverSettings {
    /// Where journals and locks live (`journal-dir`, `CUTOVER_JOURNAL_DIR`). A relative path in
    /// the file is relative to the file's folder; the default and the variable's value are
    /// relative to the working directory.
    pub journal_dir: PathBuf,
    /// The link's offset-sync interval, used only when the link cannot report
    /// `consumer.offset.sync.ms` (Kafka-only mode).
    pub sync_interval: Option<Duration>,
    /// Await sync gives up after this many sync intervals (1 to 20).
    pub sync_timeout_factor: u32,
    /// Bound on the stop phase: the group has no members and its offsets stopped moving.
    pub stop_timeout: Duration,
    /// Bound on waiting for the mirror to reach the group's committed offsets.
    pub mirror_timeout: Duration,
    /// Bound on waiting for the group to become active on the destination.
    pub restart_timeout: Duration,
    /// How long the restarted group's offsets are watched for a reset or a rewind.
    pub restart_window: Duration,
    /// Identical consecutive reads that make offsets "stopped moving" (2 to 10).
    pub stable_reads: u32,
}

impl Default for CutoverSettings {
    fn default() -> Self {
        CutoverSettings {
            journal_dir: PathBuf::from(DEFAULT_JOURNAL_DIR),
            sync_interval: None,
            sync_timeout_factor: DEFAULT_SYNC_TIMEOUT_FACTOR,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            mirror_timeout: DEFAULT_MIRROR_TIMEOUT,
            restart_timeout: DEFAULT_RESTART_TIMEOUT,
            restart_window: DEFAULT_RESTART_WINDOW,
            stable_reads: DEFAULT_STABLE_READS,
        }
    }
}

/// Whether a librdkafka property's value must never be shown. Conservative: any key naming a
/// password, secret, JAAS config, token, key or credential is masked (`ssl.key.pem`,
/// `sasl.kerberos.keytab` included), except `*.location` keys, which are file paths and are
/// what an operator needs to see when a file is not found.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with(".location") {
        return false;
    }
    const WORDS: &[&str] = &[
        "password",
        "secret",
        "jaas",
        "token",
        "key",
        "credential",
        "oauthbearer.config",
    ];
    WORDS.iter().any(|w| key.contains(w))
}

impl ClusterConfig {
    pub fn bootstrap_servers(&self) -> Option<&str> {
        self.properties.get("bootstrap.servers").map(String::as_str)
    }

    /// The properties with every secret-looking value replaced by `***` (see
    /// [`is_secret_property`]): safe for logs, journals and reports.
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_property(k) {
                    "***".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl LinkConfig {
    /// Bound on one request to the link; also a sensible bound on one Kafka request.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
            ca_file: rest.ca_file.clone(),
            timeout: self.timeout,
            retries: self.retries,
            backoff: REST_BACKOFF,
        })
    }
}

// `Debug` is written by hand for every type that holds configuration, so that a field added
// later cannot leak a secret through a derived impl: each one formats only masked views.

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("origin", &self.origin)
            .field("destination", &self.destination)
            .field("link", &self.link)
            .field("defaults", &self.defaults)
            .field("cutover", &self.cutover)
            .field("hooks", &self.hooks)
            .finish()
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("properties", &self.redacted())
            .finish()
    }
}

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

impl Config {
    /// Reads `path` (or `./cutover.toml` when `path` is `None` and that file exists; otherwise
    /// the environment alone), applies `env` over it and validates the result. Every problem is
    /// reported at once in [`Error::ConfigProblems`].
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Config> {
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = Path::new(DEFAULT_FILE);
                p.is_file().then(|| p.to_path_buf())
            }
        };
        match path {
            None => {
                tracing::debug!("no {DEFAULT_FILE}: configuring from the environment only");
                Config::from_sources(None, env)
            }
            Some(path) => {
                let text = fs::read_to_string(&path).map_err(|e| {
                    Error::ConfigProblems(vec![format!(
                        "cannot read the config file {}: {e}",
                        path.display()
                    )])
                })?;
                Config::from_sources(Some((&text, &path)), env)
            }
        }
    }

    /// Builds the config from a TOML text and the path it was read from (for messages and
    /// relative paths), or from the environment alone.
    pub fn from_sources(file: Option<(&str, &Path)>, env: &Env) -> Result<Config> {
        let mut problems = Problems::default();
        let (table, base_dir) = match file {
            None => (Table::new(), PathBuf::new()),
            Some((text, path)) => match text.parse::<Table>() {
                Ok(table) => (
                    table,
                    path.parent().map(Path::to_path_buf).unwrap_or_default(),
                ),
                Err(e) => {
                    let line = e
                        .span()
                        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                    let at = line.map(|l| format!(" line {l}:")).unwrap_or_default();
                    return Err(Error::ConfigProblems(vec![format!(
                        "{}:{at} {}",
                        path.display(),
                        e.message().trim_end()
                    )]));
                }
            },
        };

        let mut sections: BTreeMap<&str, &Table> = BTreeMap::new();
        for (key, value) in &table {
            if SECTIONS.contains(&key.as_str()) {
                match value.as_table() {
                    Some(t) => {
                        sections.insert(key, t);
                    }
                    None => problems.push(format!("`{key}` must be a section: write [{key}]")),
                }
            } else {
                problems.push(format!(
                    "unknown section or key `{key}` at the top of the file{}",
                    suggestion(key, SECTIONS)
                ));
            }
        }

        let origin = cluster_config(
            Role::Origin,
            sections.get("origin").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let destination = cluster_config(
            Role::Destination,
            sections.get("destination").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let link = link_config(sections.get("link").copied(), &base_dir, env, &mut problems);
        let defaults = defaults(sections.get("defaults").copied(), env, &mut problems);
        let cutover = cutover_settings(
            sections.get("cutover").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let hooks = hooks_config(
            sections.get("hooks").copied(),
            sections.get("groups").copied(),
            &base_dir,
            env,
            &mut problems,
        );

        if problems.0.is_empty() {
            Ok(Config {
                origin,
                destination,
                link,
                defaults,
                cutover,
                hooks,
            })
        } else {
            Err(Error::ConfigProblems(problems.0))
        }
    }

    pub fn cluster(&self, role: Role) -> &ClusterConfig {
        match role {
            Role::Origin => &self.origin,
            Role::Destination => &self.destination,
        }
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
}

/// A raw setting and where it came from (`[link] timeout`, `CUTOVER_LINK_TIMEOUT`), so that a
/// problem names the place to fix.
struct Setting {
    value: String,
    from: String,
    in_file: bool,
}

/// A TOML type name with its article: "an array", "a table".
fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

/// A non-empty environment variable.
fn env_value<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// The setting `key` of `section`, overridden by the variable `var`. Integers are accepted as
/// text (for `retries`); other non-string values are a problem.
fn setting(
    table: &Table,
    section: &str,
    key: &str,
    var: Option<&str>,
    env: &Env,
    problems: &mut Problems,
) -> Option<Setting> {
    if let Some(var) = var {
        if let Some(value) = env_value(env, var) {
            return Some(Setting {
                value: value.to_string(),
                from: var.to_string(),
                in_file: false,
            });
        }
    }
    let value = match table.get(key)? {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        other => {
            problems.push(format!(
                "{section} {key}: expected a string, found {}",
                a(other.type_str())
            ));
            return None;
        }
    };
    Some(Setting {
        value,
        from: format!("{section} {key}"),
        in_file: true,
    })
}

fn check_known_keys(section: &str, table: &Table, known: &[&str], problems: &mut Problems) {
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(format!(
                "unknown key `{key}` in {section}{}",
                suggestion(key, known)
            ));
        }
    }
}

/// `: did you mean `rest-url`?` for `rest_url`, else the list of known keys.
fn suggestion(key: &str, known: &[&str]) -> String {
    let normal = key.to_ascii_lowercase().replace(['_', '.', ' '], "-");
    match known.iter().find(|k| **k == normal) {
        Some(k) => format!(": did you mean `{k}`?"),
        None => format!(" (known: {})", known.join(", ")),
    }
}

/// The value of the variable a `*-env` setting names; a problem naming both when it is unset.
fn indirect(env: &Env, from: &str, var: &str, problems: &mut Problems) -> Option<String> {
    match env_value(env, var) {
        Some(v) => Some(v.to_string()),
        None => {
            problems.push(format!(
                "{from} names the environment variable {var}, which is not set"
            ));
            None
        }
    }
}

fn cluster_config(
    role: Role,
    section: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> ClusterConfig {
    let upper = role.to_string().to_uppercase();
    let env_prefix = format!("CUTOVER_{upper}_");
    let section_name = format!("[{role}]");

    // Environment overrides first: a property they set needs nothing from the file, not even
    // the variable a `*-env` key names.
    let mut explicit: BTreeMap<String, String> = BTreeMap::new();
    let mut set_by_var: BTreeMap<String, String> = BTreeMap::new();
    let mut env_file = None;
    for (name, value) in env {
        let Some(suffix) = name.strip_prefix(&env_prefix) else {
            continue;
        };
        if value.is_empty() || suffix.is_empty() {
            continue;
        }
        let property = match suffix {
            "BOOTSTRAP" => "bootstrap.servers".to_string(),
            "PROPERTIES_FILE" => {
                env_file = Some(Setting {
                    value: value.clone(),
                    from: name.clone(),
                    in_file: false,
                });
                continue;
            }
            // The lab exports the cluster ids; the destination's is the link's cluster-id
            // (read in `link_config`), the origin's is not configuration.
            "CLUSTER_ID" => continue,
            _ => suffix.to_lowercase().replace('_', "."),
        };
        if let Some(other) = set_by_var.get(&property) {
            if explicit.get(&property) != Some(value) {
                problems.push(format!(
                    "{other} and {name} both set {property} of the {role} cluster, to different values: unset one"
                ));
            }
            continue;
        }
        set_by_var.insert(property.clone(), name.clone());
        explicit.insert(property, value.clone());
    }

    // The section's own keys, quoted or nested, flattened to dotted keys.
    let mut file_setting = None;
    let mut from_toml: BTreeMap<String, String> = BTreeMap::new();
    if let Some(table) = section {
        let mut flat = Vec::new();
        for (key, value) in table {
            if key == "properties-file" {
                match value.as_str() {
                    Some(s) => {
                        file_setting = Some(Setting {
                            value: s.to_string(),
                            from: format!("{section_name} properties-file"),
                            in_file: true,
                        })
                    }
                    None => problems.push(format!(
                        "{section_name} properties-file: expected a string, found {}",
                        a(value.type_str())
                    )),
                }
                continue;
            }
            flatten(key.clone(), value, &section_name, &mut flat, problems);
        }
        for (key, value) in flat {
            if from_toml.contains_key(&key) {
                problems.push(format!(
                    "{section_name} sets \"{key}\" twice (quoted and as a nested table): keep one"
                ));
                continue;
            }
            from_toml.insert(key, value);
        }
    }
    for (key, value) in &from_toml {
        match key.strip_suffix("-env") {
            Some(property) => {
                if property.is_empty() {
                    problems.push(format!(
                        "{section_name} \"{key}\": a property name is missing before -env"
                    ));
                } else if from_toml.contains_key(property) {
                    problems.push(format!(
                        "{section_name} sets both \"{property}\" and \"{key}\": keep one"
                    ));
                } else if !set_by_var.contains_key(property) {
                    let from = format!("{section_name} \"{key}\"");
                    if let Some(v) = indirect(env, &from, value, problems) {
                        explicit.insert(property.to_string(), v);
                    }
                }
            }
            None => {
                if !set_by_var.contains_key(key) {
                    explicit.insert(key.clone(), value.clone());
                }
            }
        }
    }

    // The Java .properties import, under the explicit keys.
    let mut properties = BTreeMap::new();
    let file = match (env_file, file_setting) {
        (Some(s), _) | (None, Some(s)) => Some(s),
        (None, None) => None,
    };
    if let Some(setting) = file {
        let path = if setting.in_file {
            base_dir.join(&setting.value)
        } else {
            PathBuf::from(&setting.value)
        };
        match read_properties_file(&path) {
            Err(e) => problems.push(format!("{}: {}: {e}", setting.from, path.display())),
            Ok(java) => {
                let translated = translate_java(&java, &section_name);
                for key in &translated.dropped {
                    tracing::warn!(
                        "{section_name} {}: ignoring `{key}`, a Java client setting with no librdkafka meaning",
                        path.display()
                    );
                }
                for p in translated.problems {
                    if !p.unless_set.iter().any(|k| explicit.contains_key(*k)) {
                        problems.push(format!(
                            "{}: {}: {}",
                            setting.from,
                            path.display(),
                            p.message
                        ));
                    }
                }
                properties = translated.properties;
            }
        }
    }
    properties.extend(explicit);

    if properties
        .get("bootstrap.servers")
        .is_none_or(|s| s.trim().is_empty())
    {
        problems.push(format!(
            "the {role} cluster has no bootstrap.servers: set \"bootstrap.servers\" in {section_name} or CUTOVER_{upper}_BOOTSTRAP"
        ));
    }
    ClusterConfig { properties }
}

/// Flattens TOML's nested tables (`bootstrap.servers = "x"` unquoted) back into dotted keys.
fn flatten(
    key: String,
    value: &Value,
    section: &str,
    out: &mut Vec<(String, String)>,
    problems: &mut Problems,
) {
    match value {
        Value::String(s) => out.push((key, s.clone())),
        Value::Integer(i) => out.push((key, i.to_string())),
        Value::Float(f) => out.push((key, f.to_string())),
        Value::Boolean(b) => out.push((key, b.to_string())),
        Value::Table(table) => {
            for (k, v) in table {
                flatten(format!("{key}.{k}"), v, section, out, problems);
            }
        }
        Value::Array(_) | Value::Datetime(_) => problems.push(format!(
            "{section} \"{key}\": expected a string, number or boolean, found {} (librdkafka lists are comma-separated strings)",
            a(value.type_str())
        )),
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

fn credential(
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
    let Some(named) = setting(table, "[link]", &key, None, env, problems) else {
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

fn link_config(
    section: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> LinkConfig {
    let empty = Table::new();
    let table = section.unwrap_or(&empty);
    check_known_keys("[link]", table, LINK_KEYS, problems);
    let get = |key: &str, var: &str, problems: &mut Problems| {
        setting(table, "[link]", key, Some(var), env, problems)
    };

    let name = match get("name", "CUTOVER_LINK_NAME", problems) {
        Some(s) if !s.value.trim().is_empty() => s.value,
        _ => {
            problems.push("the link has no name: set name in [link] or CUTOVER_LINK_NAME");
            String::new()
        }
    };
    let url = get("rest-url", "CUTOVER_LINK_REST_URL", problems).and_then(|s| {
        check_rest_url(&s.value)
            .map_err(|e| problems.push(format!("{}: {e}", s.from)))
            .ok()
    });
    let cluster_id = get("cluster-id", "CUTOVER_DESTINATION_CLUSTER_ID", problems)
        .map(|s| s.value)
        .filter(|s| !s.trim().is_empty());

    let username = credential(table, "username", "CUTOVER_LINK_USERNAME", env, problems);
    let password = credential(table, "password", "CUTOVER_LINK_PASSWORD", env, problems);
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
                "the link's REST username is set ({from}) but no password: set password-env in [link] or CUTOVER_LINK_PASSWORD"
            ));
            None
        }
        (Credential::Absent, Credential::Present { from, .. }) => {
            problems.push(format!(
                "the link's REST password is set ({from}) but no username: set username-env in [link] or CUTOVER_LINK_USERNAME"
            ));
            None
        }
        _ => None,
    };

    let ca_file = get("ca-file", "CUTOVER_LINK_CA_FILE", problems).and_then(|s| {
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
    });
    let timeout = get("timeout", "CUTOVER_LINK_TIMEOUT", problems)
        .and_then(|s| positive_duration(&s, problems))
        .unwrap_or(DEFAULT_REST_TIMEOUT);
    let retries = get("retries", "CUTOVER_LINK_RETRIES", problems)
        .and_then(|s| bounded(&s, 0, MAX_REST_RETRIES, "a number of retries", problems))
        .unwrap_or(DEFAULT_REST_RETRIES);
    let prefix = get("prefix", "CUTOVER_LINK_PREFIX", problems)
        .map(|s| s.value)
        .unwrap_or_default();

    LinkConfig {
        name,
        rest: url.map(|url| RestConfig {
            url,
            cluster_id,
            credentials,
            ca_file,
        }),
        prefix,
        timeout,
        retries,
    }
}

fn defaults(section: Option<&Table>, env: &Env, problems: &mut Problems) -> Defaults {
    let empty = Table::new();
    let table = section.unwrap_or(&empty);
    check_known_keys("[defaults]", table, DEFAULTS_KEYS, problems);
    let wait = setting(
        table,
        "[defaults]",
        "wait",
        Some("CUTOVER_WAIT"),
        env,
        problems,
    )
    .and_then(|s| match crate::duration::parse(&s.value) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(format!("{}: {e}", s.from));
            None
        }
    })
    .unwrap_or(DEFAULT_WAIT);
    let poll_interval = setting(
        table,
        "[defaults]",
        "poll-interval",
        Some("CUTOVER_POLL_INTERVAL"),
        env,
        problems,
    )
    .and_then(|s| positive_duration(&s, problems))
    .unwrap_or(DEFAULT_POLL_INTERVAL);
    Defaults {
        wait,
        poll_interval,
    }
}

/// A whole number from `min` to `max`; a problem naming `what` otherwise.
fn bounded(s: &Setting, min: u32, max: u32, what: &str, problems: &mut Problems) -> Option<u32> {
    match s.value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(format!(
                "{}: \"{}\" is not {what} from {min} to {max}",
                s.from, s.value
            ));
            None
        }
    }
}

fn positive_duration(s: &Setting, problems: &mut Problems) -> Option<Duration> {
    match crate::duration::parse(&s.value) {
        Ok(d) if d.is_zero() => {
            problems.push(format!("{}: must be more than zero", s.from));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(format!("{}: {e}", s.from));
            None
        }
    }
}

fn cutover_settings(
    section: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> CutoverSettings {
    let empty = Table::new();
    let table = section.unwrap_or(&empty);
    check_known_keys("[cutover]", table, CUTOVER_KEYS, problems);
    let get = |key: &str, var: Option<&str>, problems: &mut Problems| {
        setting(table, "[cutover]", key, var, env, problems)
    };
    let duration = |key: &str, default: Duration, problems: &mut Problems| {
        get(key, None, problems)
            .and_then(|s| positive_duration(&s, problems))
            .unwrap_or(default)
    };
    let defaults = CutoverSettings::default();

    let journal_dir = match get("journal-dir", Some("CUTOVER_JOURNAL_DIR"), problems) {
        None => defaults.journal_dir,
        Some(s) if s.value.trim().is_empty() => {
            problems.push(format!("{}: the journal folder is empty", s.from));
            defaults.journal_dir
        }
        Some(s) if s.in_file => base_dir.join(&s.value),
        Some(s) => PathBuf::from(&s.value),
    };
    let sync_interval =
        get("sync-interval", None, problems).and_then(|s| positive_duration(&s, problems));
    let sync_timeout_factor = get("sync-timeout-factor", None, problems)
        .and_then(|s| bounded(&s, 1, MAX_SYNC_TIMEOUT_FACTOR, "a factor", problems))
        .unwrap_or(defaults.sync_timeout_factor);
    let stable_reads = get("stable-reads", None, problems)
        .and_then(|s| {
            bounded(
                &s,
                MIN_STABLE_READS,
                MAX_STABLE_READS,
                "a number of reads",
                problems,
            )
        })
        .unwrap_or(defaults.stable_reads);
    CutoverSettings {
        journal_dir,
        sync_interval,
        sync_timeout_factor,
        stop_timeout: duration("stop-timeout", defaults.stop_timeout, problems),
        mirror_timeout: duration("mirror-timeout", defaults.mirror_timeout, problems),
        restart_timeout: duration("restart-timeout", defaults.restart_timeout, problems),
        restart_window: duration("restart-window", defaults.restart_window, problems),
        stable_reads,
    }
}

// ---------------------------------------------------------------------------------------------
// Hooks

/// `[hooks]` (the default hook of each kind) and `[groups."<id>".hooks]` (per-group
/// overrides).
fn hooks_config(
    hooks: Option<&Table>,
    groups: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> HooksConfig {
    let mut config = HooksConfig::default();
    if let Some(table) = hooks {
        config.defaults = hook_set(table, None, base_dir, env, problems);
    }
    for (id, value) in groups.into_iter().flatten() {
        let section = format!("[groups.{}]", toml_key(id));
        if id.trim().is_empty() {
            problems.push(format!("{section}: a group id cannot be empty"));
            continue;
        }
        let Some(table) = value.as_table() else {
            problems.push(format!(
                "{section} must be a section: write {section} or [groups.{}.hooks.stop]",
                toml_key(id)
            ));
            continue;
        };
        check_known_keys(&section, table, GROUP_KEYS, problems);
        let Some(hooks) = table.get("hooks") else {
            continue;
        };
        let group = GroupId::new(id.clone());
        match hooks.as_table() {
            Some(hooks) => {
                let set = hook_set(hooks, Some(&group), base_dir, env, problems);
                if !set.is_empty() {
                    config.groups.insert(group, set);
                }
            }
            None => problems.push(format!(
                "{section} hooks: expected a table ([groups.{}.hooks.stop], ...), found {}",
                toml_key(id),
                a(hooks.type_str())
            )),
        }
    }
    config
}

/// The hooks of one `[hooks]` table, the defaults' (`group` is `None`) or a group's.
fn hook_set(
    table: &Table,
    group: Option<&GroupId>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> BTreeMap<HookKind, HookConfig> {
    let section = match group {
        None => "[hooks]".to_string(),
        Some(g) => format!("[groups.{}.hooks]", toml_key(g.as_str())),
    };
    check_known_keys(&section, table, HOOKS_KEYS, problems);
    let mut out = BTreeMap::new();
    for kind in [
        HookKind::Stop,
        HookKind::Exclude,
        HookKind::Restart,
        HookKind::Rollback,
    ] {
        let Some(value) = table.get(kind.as_str()) else {
            continue;
        };
        let key = hook_section(group, kind);
        let hook = match value {
            Value::Table(t) => hook_config(kind, t, &key, base_dir, env, problems),
            // The shorthand `[hooks] exclude = "link"`.
            Value::String(s) if kind == HookKind::Exclude && s == "link" => Some(HookConfig {
                key,
                action: HookAction::BuiltinLink,
                timeout: DEFAULT_HOOK_TIMEOUT,
                retries: 0,
                env: BTreeMap::new(),
                secret_env: BTreeMap::new(),
            }),
            Value::String(s) if kind == HookKind::Exclude => {
                problems.push(format!(
                    "{section} exclude: \"{s}\" is not a hook: write exclude = \"link\" for the built-in link action, or configure {key}"
                ));
                None
            }
            other => {
                problems.push(format!(
                    "{section} {}: expected a table ({key}), found {}",
                    kind.as_str(),
                    a(other.type_str())
                ));
                None
            }
        };
        if let Some(hook) = hook {
            out.insert(kind, hook);
        }
    }
    out
}

/// One hook's table. Every key is checked even when the action is already known to be bad,
/// so that one round of fixes is enough.
fn hook_config(
    kind: HookKind,
    table: &Table,
    key: &str,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> Option<HookConfig> {
    check_known_keys(key, table, HOOK_KEYS, problems);
    let choices = if kind == HookKind::Exclude {
        "exec, shell, http or builtin"
    } else {
        "exec, shell or http"
    };
    let present: Vec<&str> = HOOK_ACTIONS
        .iter()
        .copied()
        .filter(|k| table.contains_key(*k))
        .collect();
    let mut action = None;
    for name in &present {
        let value = &table[*name];
        let parsed = match *name {
            "exec" => exec_action(value, key, problems),
            "shell" => shell_action(value, key, problems),
            "http" => http_action(value, key, base_dir, env, problems),
            _ => builtin_action(kind, value, key, problems),
        };
        if present.len() == 1 {
            action = parsed;
        }
    }
    match present.as_slice() {
        [] => problems.push(format!("{key}: set one of {choices}")),
        [_] => {}
        many => problems.push(format!(
            "{key}: set only one of {choices} (found {})",
            many.join(" and ")
        )),
    }

    let is_process = present.iter().all(|k| matches!(*k, "exec" | "shell"));
    let is_builtin = present.contains(&"builtin");
    if is_builtin {
        for k in ["timeout", "retries", "env", "env-from"] {
            if table.contains_key(k) {
                problems.push(format!(
                    "{key} {k}: the built-in link action takes no {k} (the link's requests follow [link] timeout and retries): remove it"
                ));
            }
        }
    } else if !is_process {
        for k in ["env", "env-from"] {
            if table.contains_key(k) {
                problems.push(format!(
                    "{key} {k}: only exec and shell hooks get variables: an HTTP hook's secrets go in headers-env"
                ));
            }
        }
    }

    let timeout = setting(table, key, "timeout", None, env, problems)
        .and_then(|s| positive_duration(&s, problems))
        .unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let retries = setting(table, key, "retries", None, env, problems)
        .and_then(|s| bounded(&s, 0, MAX_HOOK_RETRIES, "a number of retries", problems))
        .unwrap_or(DEFAULT_HOOK_RETRIES);
    let mut plain_env = BTreeMap::new();
    for (name, value) in string_table(table, key, "env", problems) {
        let from = format!("{key} env.{}", toml_key(&name));
        if check_variable_name(&name, &from, problems) {
            plain_env.insert(name, value);
        }
    }
    let mut secret_env = BTreeMap::new();
    for (name, var) in string_table(table, key, "env-from", problems) {
        let from = format!("{key} env-from.{}", toml_key(&name));
        if !check_variable_name(&name, &from, problems) {
            continue;
        }
        if plain_env.contains_key(&name) {
            problems.push(format!(
                "{key} sets {name} in both env and env-from: keep one"
            ));
            continue;
        }
        if let Some(value) = indirect(env, &from, &var, problems) {
            secret_env.insert(name, Secret::new(value));
        }
    }

    let action = action?;
    let (timeout, retries) = if action == HookAction::BuiltinLink {
        (DEFAULT_HOOK_TIMEOUT, 0)
    } else {
        (timeout, retries)
    };
    Some(HookConfig {
        key: key.to_string(),
        action,
        timeout,
        retries,
        env: plain_env,
        secret_env,
    })
}

/// A table of strings (`env`, `env-from`, `headers`, `headers-env`): integers and booleans are
/// taken as text, anything else is a problem.
fn string_table(
    table: &Table,
    section: &str,
    key: &str,
    problems: &mut Problems,
) -> Vec<(String, String)> {
    let Some(value) = table.get(key) else {
        return Vec::new();
    };
    let Some(entries) = value.as_table() else {
        problems.push(format!(
            "{section} {key}: expected a table ({key} = {{ NAME = \"value\" }}), found {}",
            a(value.type_str())
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in entries {
        match value {
            Value::String(s) => out.push((name.clone(), s.clone())),
            Value::Integer(i) => out.push((name.clone(), i.to_string())),
            Value::Boolean(b) => out.push((name.clone(), b.to_string())),
            other => problems.push(format!(
                "{section} {key}.{}: expected a string, found {}",
                toml_key(name),
                a(other.type_str())
            )),
        }
    }
    out
}

/// Whether `name` can be a hook's variable; a problem otherwise.
fn check_variable_name(name: &str, from: &str, problems: &mut Problems) -> bool {
    if name.is_empty() || name.contains(['=', '\0']) {
        problems.push(format!(
            "{from}: not a variable name (empty, or holding = or NUL)"
        ));
        false
    } else if HOOK_VARIABLES.contains(&name) {
        problems.push(format!(
            "{from}: cutover sets {name} itself, for every hook"
        ));
        false
    } else {
        true
    }
}

/// A problem for each unknown placeholder of a template.
fn check_placeholders(text: &str, from: &str, problems: &mut Problems) {
    for name in crate::hooks::unknown_placeholders(text) {
        let known: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
        problems.push(format!(
            "{from}: unknown placeholder {{{name}}} (known: {}; write {{{{{name}}}}} for the text {{{name}}})",
            known.join(", ")
        ));
    }
}

fn exec_action(value: &Value, key: &str, problems: &mut Problems) -> Option<HookAction> {
    let items = match value {
        Value::Array(items) => items,
        Value::String(_) => {
            problems.push(format!(
                "{key} exec: expected an array, found a string: exec is an argv, not a command line; write exec = [\"program\", \"arg\", ...], or shell = \"...\" to ask for a shell"
            ));
            return None;
        }
        other => {
            problems.push(format!(
                "{key} exec: expected an array of strings, found {}",
                a(other.type_str())
            ));
            return None;
        }
    };
    if items.is_empty() {
        problems.push(format!(
            "{key} exec: the argv is empty: give at least the program, exec = [\"program\", \"arg\", ...]"
        ));
        return None;
    }
    let mut argv = Vec::new();
    let mut valid = true;
    for (i, item) in items.iter().enumerate() {
        let from = format!("{key} exec[{i}]");
        match item.as_str() {
            Some(arg) => {
                check_placeholders(arg, &from, problems);
                argv.push(arg.to_string());
            }
            None => {
                problems.push(format!(
                    "{from}: expected a string, found {}",
                    a(item.type_str())
                ));
                valid = false;
            }
        }
    }
    if let Some(program) = argv.first() {
        if program.trim().is_empty() {
            problems.push(format!("{key} exec[0]: the program is empty"));
            valid = false;
        } else if crate::hooks::has_placeholder(program) {
            problems.push(format!(
                "{key} exec[0]: the program cannot hold a placeholder: a group id must never choose what runs"
            ));
            valid = false;
        }
    }
    if let Some(i) = shell_script_index(&argv) {
        if crate::hooks::has_placeholder(&argv[i]) {
            problems.push(format!(
                "{key} exec[{i}]: a placeholder in the script of `{} -c` would be spliced into shell text: pass the value as an argument after the script (\"$1\"), or use shell = \"...\" with \"$CUTOVER_GROUP\"",
                argv[0]
            ));
            valid = false;
        }
    }
    valid.then_some(HookAction::Exec { argv })
}

/// The index of the script in an argv like `["bash", "-ec", "<script>", ...]`.
fn shell_script_index(argv: &[String]) -> Option<usize> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    if !SHELLS.contains(&name) {
        return None;
    }
    // busybox runs the applet named by its first argument.
    let start = if name == "busybox" { 2 } else { 1 };
    let mut saw_c = false;
    for (i, arg) in argv.iter().enumerate().skip(start) {
        match arg.strip_prefix('-') {
            Some(flags) if !flags.starts_with('-') && !flags.is_empty() => {
                saw_c |= flags.contains('c');
            }
            Some(_) => {}
            None => return saw_c.then_some(i),
        }
    }
    None
}

fn shell_action(value: &Value, key: &str, problems: &mut Problems) -> Option<HookAction> {
    let Some(script) = value.as_str() else {
        problems.push(format!(
            "{key} shell: expected a string (the script), found {}",
            a(value.type_str())
        ));
        return None;
    };
    if script.trim().is_empty() {
        problems.push(format!("{key} shell: the script is empty"));
        return None;
    }
    let spliced = crate::hooks::placeholders_in_shell_text(script);
    for name in &spliced {
        problems.push(format!(
            "{key} shell: {{{name}}} is not substituted in shell text (values reach a shell only as variables): write \"${}\"",
            crate::hooks::placeholder_variable(name)
        ));
    }
    spliced.is_empty().then(|| HookAction::Shell {
        script: script.to_string(),
    })
}

fn builtin_action(
    kind: HookKind,
    value: &Value,
    key: &str,
    problems: &mut Problems,
) -> Option<HookAction> {
    if kind != HookKind::Exclude {
        problems.push(format!(
            "{key} builtin: only the exclude hook has a built-in action (builtin = \"link\" in [hooks.exclude])"
        ));
        return None;
    }
    match value.as_str() {
        Some("link") => Some(HookAction::BuiltinLink),
        Some(other) => {
            problems.push(format!(
                "{key} builtin: \"{other}\" is not a built-in: the one built-in is \"link\""
            ));
            None
        }
        None => {
            problems.push(format!(
                "{key} builtin: expected the string \"link\", found {}",
                a(value.type_str())
            ));
            None
        }
    }
}

fn http_action(
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

// ---------------------------------------------------------------------------------------------
// Java .properties files

/// Reads a `.properties` file. Java reads them as ISO-8859-1; a file that is valid UTF-8 is
/// taken as UTF-8, which is what people write today.
fn read_properties_file(path: &Path) -> std::result::Result<BTreeMap<String, String>, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect());
    parse_properties(&text)
}

fn is_properties_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Parses the text of a Java `.properties` file as `java.util.Properties::load` does. Later
/// keys win. The error names the line, never a value.
pub fn parse_properties(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    let mut continuing = false;
    let mut start = 0;
    for (i, natural) in text.split('\n').enumerate() {
        let line = natural.trim_start_matches(is_properties_space);
        if !continuing {
            // Only the first line of a logical line can be blank or a comment.
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            start = i + 1;
        }
        let backslashes = line.chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        let (key, value) = split_property(&logical).map_err(|e| format!("line {start}: {e}"))?;
        out.insert(key, value);
        logical.clear();
    }
    if continuing {
        let (key, value) = split_property(&logical).map_err(|e| format!("line {start}: {e}"))?;
        out.insert(key, value);
    }
    Ok(out)
}

/// Splits a logical line into its unescaped key and value.
fn split_property(line: &str) -> std::result::Result<(String, String), String> {
    let chars: Vec<char> = line.chars().collect();
    let mut key_end = chars.len();
    let mut value_start = chars.len();
    let mut has_separator = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || is_properties_space(c) {
            key_end = i;
            value_start = i + 1;
            has_separator = c == '=' || c == ':';
            break;
        }
        i += 1;
    }
    let mut j = value_start.min(chars.len());
    while j < chars.len() && is_properties_space(chars[j]) {
        j += 1;
    }
    if !has_separator && j < chars.len() && (chars[j] == '=' || chars[j] == ':') {
        j += 1;
        while j < chars.len() && is_properties_space(chars[j]) {
            j += 1;
        }
    }
    let key = unescape(&chars[..key_end.min(chars.len())])?;
    if key.is_empty() {
        return Err("a property has an empty key".into());
    }
    Ok((key, unescape(&chars[j..])?))
}

fn unescape(chars: &[char]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u32> {
        let digits: String = chars.get(at..at + 4)?.iter().collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&escaped) = chars.get(i) else { break };
        i += 1;
        match escaped {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'u' => {
                let malformed = || "malformed \\uXXXX escape".to_string();
                let unit = hex4(i).ok_or_else(malformed)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    // A UTF-16 surrogate pair, written as two escapes.
                    let low = (chars.get(i) == Some(&'\\') && chars.get(i + 1) == Some(&'u'))
                        .then(|| hex4(i + 2))
                        .flatten()
                        .filter(|low| (0xDC00..0xE000).contains(low))
                        .ok_or_else(malformed)?;
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                out.push(char::from_u32(code).ok_or_else(malformed)?);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// A problem in an imported file that disappears when the section sets one of `unless_set`
/// itself (the librdkafka replacement the message asks for).
struct ImportProblem {
    message: String,
    unless_set: &'static [&'static str],
}

struct Translation {
    properties: BTreeMap<String, String>,
    /// Java-only keys, dropped (to be warned about by name, never by value).
    dropped: Vec<String>,
    problems: Vec<ImportProblem>,
}

/// Keys of the Java clients with no librdkafka meaning.
fn is_java_only(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "key.deserializer",
        "value.deserializer",
        "key.serializer",
        "value.serializer",
        "default.api.timeout.ms",
        "client.dns.lookup",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.provider",
        // Java cipher names (TLS_ECDHE_...) are not OpenSSL's (ECDHE-...).
        "ssl.cipher.suites",
        "ssl.truststore.password",
        "security.providers",
        "send.buffer.bytes",
        "receive.buffer.bytes",
    ];
    KEYS.contains(&key)
        || key.ends_with(".class")
        || key.ends_with(".classes")
        || key.starts_with("sasl.login.")
}

/// Translates Java client properties to librdkafka properties.
fn translate_java(java: &BTreeMap<String, String>, section: &str) -> Translation {
    let mut t = Translation {
        properties: BTreeMap::new(),
        dropped: Vec::new(),
        problems: Vec::new(),
    };
    for (key, value) in java {
        match key.as_str() {
            "sasl.mechanism" => {
                t.properties.insert("sasl.mechanisms".into(), value.clone());
            }
            "sasl.jaas.config" => match translate_jaas(value, section) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        t.properties.insert(k.into(), v);
                    }
                }
                Err(message) => t.problems.push(ImportProblem {
                    message,
                    unless_set: &[
                        "sasl.username",
                        "sasl.oauthbearer.method",
                        "sasl.oauthbearer.config",
                        "sasl.kerberos.principal",
                    ],
                }),
            },
            // Java writes "" for no hostname check; librdkafka writes "none".
            "ssl.endpoint.identification.algorithm" => {
                let v = if value.trim().is_empty() {
                    "none"
                } else {
                    value
                };
                t.properties.insert(key.clone(), v.into());
            }
            // The stores are translated together below.
            "ssl.truststore.location"
            | "ssl.truststore.type"
            | "ssl.truststore.certificates"
            | "ssl.keystore.location"
            | "ssl.keystore.type"
            | "ssl.keystore.password"
            | "ssl.keystore.key"
            | "ssl.keystore.certificate.chain" => {}
            k if is_java_only(k) => t.dropped.push(key.clone()),
            _ => {
                t.properties.insert(key.clone(), value.clone());
            }
        }
    }

    // Java's default store type is JKS.
    let store_type = |key: &str| {
        java.get(key)
            .map(|v| v.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "JKS".into())
    };
    let truststore_type = store_type("ssl.truststore.type");
    if let Some(location) = java.get("ssl.truststore.location") {
        if truststore_type == "PEM" {
            t.properties
                .insert("ssl.ca.location".into(), location.clone());
        } else {
            t.problems.push(ImportProblem {
                message: format!(
                    "ssl.truststore.location is a {truststore_type} truststore, which librdkafka cannot read: export its CA certificates to a PEM file (keytool -exportcert -rfc) and set \"ssl.ca.location\" in {section}"
                ),
                unless_set: &["ssl.ca.location", "ssl.ca.pem"],
            });
        }
    }
    if let Some(pem) = java.get("ssl.truststore.certificates") {
        t.properties.insert("ssl.ca.pem".into(), pem.clone());
    }

    let keystore_type = store_type("ssl.keystore.type");
    let keystore_password = java.contains_key("ssl.keystore.password");
    match java.get("ssl.keystore.location") {
        Some(location) if keystore_type == "PEM" => {
            // A Java PEM keystore is one file with the key and the chain; OpenSSL picks each
            // out of the same file. Its key's password is ssl.key.password in both clients.
            t.properties
                .insert("ssl.certificate.location".into(), location.clone());
            t.properties
                .insert("ssl.key.location".into(), location.clone());
            if keystore_password {
                t.dropped.push("ssl.keystore.password".into());
            }
        }
        Some(location) if keystore_type == "PKCS12" => {
            t.properties
                .insert("ssl.keystore.location".into(), location.clone());
            if let Some(password) = java.get("ssl.keystore.password") {
                t.properties
                    .insert("ssl.keystore.password".into(), password.clone());
            }
        }
        Some(_) => t.problems.push(ImportProblem {
            message: format!(
                "ssl.keystore.location is a {keystore_type} keystore, which librdkafka cannot read: convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12) and set \"ssl.keystore.location\" and \"ssl.keystore.password\" in {section}, or export PEM files and set \"ssl.certificate.location\" and \"ssl.key.location\""
            ),
            unless_set: &[
                "ssl.keystore.location",
                "ssl.certificate.location",
                "ssl.certificate.pem",
            ],
        }),
        None => {
            if keystore_password {
                t.dropped.push("ssl.keystore.password".into());
            }
        }
    }
    if let Some(pem) = java.get("ssl.keystore.key") {
        t.properties.insert("ssl.key.pem".into(), pem.clone());
    }
    if let Some(pem) = java.get("ssl.keystore.certificate.chain") {
        t.properties
            .insert("ssl.certificate.pem".into(), pem.clone());
    }
    t
}

/// Translates the first login module of a `sasl.jaas.config` to librdkafka properties. Errors
/// never quote the value (it holds the password).
fn translate_jaas(
    value: &str,
    section: &str,
) -> std::result::Result<Vec<(&'static str, String)>, String> {
    let (module, options) = parse_jaas(value)
        .map_err(|e| format!("sasl.jaas.config cannot be read ({e}): set the librdkafka sasl.* properties in {section} instead"))?;
    let class = module.rsplit('.').next().unwrap_or_default();
    let option = |name: &str| options.get(name).cloned();
    match class {
        "PlainLoginModule" | "ScramLoginModule" => match (option("username"), option("password")) {
            (Some(user), Some(password)) => Ok(vec![("sasl.username", user), ("sasl.password", password)]),
            _ => Err(format!(
                "sasl.jaas.config ({class}) needs both username and password: set \"sasl.username\" and \"sasl.password-env\" in {section} instead"
            )),
        },
        "Krb5LoginModule" => Ok([
            ("sasl.kerberos.principal", option("principal")),
            ("sasl.kerberos.keytab", option("keyTab")),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()),
        "OAuthBearerLoginModule" if options.contains_key("clientId") => {
            let mut out = vec![("sasl.oauthbearer.method", "oidc".to_string())];
            for (java_name, ours) in [
                ("clientId", "sasl.oauthbearer.client.id"),
                ("clientSecret", "sasl.oauthbearer.client.secret"),
                ("scope", "sasl.oauthbearer.scope"),
            ] {
                if let Some(v) = option(java_name) {
                    out.push((ours, v));
                }
            }
            let extensions: Vec<String> = options
                .iter()
                .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("extension_")?)))
                .collect();
            if !extensions.is_empty() {
                out.push(("sasl.oauthbearer.extensions", extensions.join(",")));
            }
            Ok(out)
        }
        _ => Err(format!(
            "sasl.jaas.config uses {module}, which cutover cannot translate to librdkafka: set the sasl.* properties in {section} instead"
        )),
    }
}

/// Parses `Module flag key="value" key=value;` (the first module only).
fn parse_jaas(text: &str) -> std::result::Result<(String, BTreeMap<String, String>), String> {
    let mut chars = text.chars().peekable();
    let mut tokens: Vec<String> = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None | Some(';') => break,
            Some('=') => tokens.push("=".into()),
            Some('"') => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quote is not closed".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(c) => s.push(c),
                            None => return Err("a quote is not closed".into()),
                        },
                        Some(c) => s.push(c),
                    }
                }
                // Quoted text is always a value; mark it so `=` inside cannot confuse us.
                tokens.push(format!("\"{s}"));
            }
            Some(c) => {
                let mut s = String::from(c);
                while chars
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !matches!(c, '=' | ';' | '"'))
                {
                    s.extend(chars.next());
                }
                tokens.push(s);
            }
        }
    }
    let mut tokens = tokens.into_iter();
    let module = tokens.next().ok_or("no login module")?;
    let _flag = tokens.next().ok_or("no control flag")?;
    let mut options = BTreeMap::new();
    let rest: Vec<String> = tokens.collect();
    for chunk in rest.chunks(3) {
        match chunk {
            [name, eq, value] if eq == "=" && !name.starts_with('"') => {
                let value = value.strip_prefix('"').unwrap_or(value);
                options.insert(name.clone(), value.to_string());
            }
            _ => return Err("an option is not name=value".into()),
        }
    }
    Ok((module, options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::testing::ctx;
    use crate::hooks::{
        ConfiguredHooks, HookAction, HookConfig, HookKind, Hooks, HttpHook,
        BUILTIN_EXCLUDE_DESCRIPTION,
    };

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The variables `tests/lab/lab env` prints, including those that are not configuration.
    fn lab_env() -> Env {
        env(&[
            ("CUTOVER_ORIGIN_BOOTSTRAP", "127.0.0.1:39001"),
            ("CUTOVER_DESTINATION_BOOTSTRAP", "127.0.0.1:39002"),
            ("CUTOVER_ORIGIN_CLUSTER_ID", "origin-id-Q"),
            ("CUTOVER_DESTINATION_CLUSTER_ID", "dest-id-Z"),
            ("CUTOVER_LINK_NAME", "cutover-lab"),
            ("CUTOVER_LINK_REST_URL", "http://127.0.0.1:39003/kafka/v3"),
            (
                "CUTOVER_LINK_ADMIN_URL",
                "http://127.0.0.1:39003/linksim/v1",
            ),
            ("CUTOVER_LAB_STATE", "/tmp/lab/.state"),
            ("CUTOVER_CONFIG", "ignored.toml"),
            ("CUTOVER_LOG", "info"),
        ])
    }

    fn from_toml(text: &str, env: &Env) -> Result<Config> {
        Config::from_sources(Some((text, Path::new("/nonexistent/cutover.toml"))), env)
    }

    fn problems(result: Result<Config>) -> Vec<String> {
        match result {
            Err(Error::ConfigProblems(p)) => p,
            Err(other) => panic!("expected config problems, got {other}"),
            Ok(c) => panic!("expected config problems, got {c:?}"),
        }
    }

    fn assert_problem(problems: &[String], needle: &str) {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem contains {needle:?} in {problems:#?}"
        );
    }

    /// A folder of its own under the system temp folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("cutover-config-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("the temp folder is writable");
            TempDir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, text).expect("the temp folder is writable");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_lab_variables_alone_give_a_complete_config() {
        let config = Config::from_sources(None, &lab_env()).expect("the lab env is enough");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([("bootstrap.servers".into(), "127.0.0.1:39001".into())]),
            "CUTOVER_ORIGIN_CLUSTER_ID must not become a property"
        );
        assert_eq!(
            config.destination.properties,
            BTreeMap::from([("bootstrap.servers".into(), "127.0.0.1:39002".into())])
        );
        assert_eq!(config.link.name, "cutover-lab");
        assert_eq!(config.link.prefix, "");
        let rest = config.link.rest_options().expect("rest-url is set");
        assert_eq!(rest.base_url, "http://127.0.0.1:39003/kafka/v3");
        assert_eq!(rest.link_name, "cutover-lab");
        assert_eq!(rest.cluster_id.as_deref(), Some("dest-id-Z"));
        assert!(rest.basic_auth.is_none());
        assert_eq!(rest.timeout, DEFAULT_REST_TIMEOUT);
        assert_eq!(rest.retries, DEFAULT_REST_RETRIES);
        assert_eq!(config.defaults, Defaults::default());
    }

    #[test]
    fn without_rest_url_the_link_is_kafka_only() {
        let mut e = lab_env();
        e.remove("CUTOVER_LINK_REST_URL");
        let config = Config::from_sources(None, &e).expect("valid");
        assert!(config.link.rest.is_none());
        assert!(config.link.rest_options().is_none());
    }

    const FULL: &str = r#"
        [origin]
        "bootstrap.servers" = "old-kafka:9092"
        "security.protocol" = "SASL_SSL"
        "sasl.mechanisms" = "PLAIN"
        "sasl.username" = "svc-cutover"
        "sasl.password-env" = "ORIGIN_PASSWORD"
        "socket.timeout.ms" = 30000
        "enable.ssl.certificate.verification" = true

        [destination]
        "bootstrap.servers" = "new-kafka:9092"

        [link]
        name = "migration-link"
        rest-url = "https://new-kafka:8090/kafka/v3/"
        cluster-id = "lkc-1"
        username-env = "LINK_API_KEY"
        password-env = "LINK_API_SECRET"
        timeout = "15s"
        retries = 5
        prefix = "old."

        [defaults]
        wait = "10m"
        poll-interval = "1500ms"
    "#;

    fn full_env() -> Env {
        env(&[
            ("ORIGIN_PASSWORD", "origin-pw-S3CRET"),
            ("LINK_API_KEY", "link-user"),
            ("LINK_API_SECRET", "link-pw-S3CRET"),
        ])
    }

    #[test]
    fn reads_every_setting_of_the_file() {
        let config = from_toml(FULL, &full_env()).expect("valid");
        let origin = &config.origin.properties;
        assert_eq!(origin["bootstrap.servers"], "old-kafka:9092");
        assert_eq!(origin["sasl.password"], "origin-pw-S3CRET");
        assert!(!origin.contains_key("sasl.password-env"));
        assert_eq!(origin["socket.timeout.ms"], "30000");
        assert_eq!(origin["enable.ssl.certificate.verification"], "true");
        let rest = config.link.rest_options().expect("rest");
        assert_eq!(rest.base_url, "https://new-kafka:8090/kafka/v3");
        assert_eq!(rest.cluster_id.as_deref(), Some("lkc-1"));
        assert_eq!(
            rest.basic_auth,
            Some(("link-user".into(), "link-pw-S3CRET".into()))
        );
        assert_eq!(rest.timeout, Duration::from_secs(15));
        assert_eq!(rest.retries, 5);
        assert_eq!(rest.backoff, REST_BACKOFF);
        assert_eq!(config.link.prefix, "old.");
        assert_eq!(config.defaults.wait, Duration::from_secs(600));
        assert_eq!(config.defaults.poll_interval, Duration::from_millis(1500));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut e = full_env();
        e.extend(env(&[
            ("CUTOVER_ORIGIN_BOOTSTRAP", "env-origin:9092"),
            ("CUTOVER_DESTINATION_SECURITY_PROTOCOL", "SSL"),
            // Overriding a *-env property: the variable it names need not be set.
            ("CUTOVER_ORIGIN_SASL_PASSWORD", "env-pw"),
            ("CUTOVER_LINK_NAME", "env-link"),
            ("CUTOVER_LINK_REST_URL", "http://other:8090/kafka/v3"),
            ("CUTOVER_DESTINATION_CLUSTER_ID", "env-cluster"),
            ("CUTOVER_LINK_USERNAME", "env-user"),
            ("CUTOVER_LINK_PASSWORD", "env-link-pw"),
            ("CUTOVER_LINK_TIMEOUT", "1m"),
            ("CUTOVER_LINK_RETRIES", "0"),
            ("CUTOVER_LINK_PREFIX", "p."),
            ("CUTOVER_WAIT", "1h"),
            ("CUTOVER_POLL_INTERVAL", "3s"),
            // Empty counts as unset.
            ("CUTOVER_DESTINATION_BOOTSTRAP", ""),
        ]));
        e.remove("ORIGIN_PASSWORD");
        let config = from_toml(FULL, &e).expect("valid");
        assert_eq!(
            config.origin.properties["bootstrap.servers"],
            "env-origin:9092"
        );
        assert_eq!(config.origin.properties["sasl.password"], "env-pw");
        assert_eq!(config.origin.properties["sasl.username"], "svc-cutover");
        assert_eq!(
            config.destination.properties["bootstrap.servers"],
            "new-kafka:9092"
        );
        assert_eq!(config.destination.properties["security.protocol"], "SSL");
        let rest = config.link.rest_options().expect("rest");
        assert_eq!(rest.link_name, "env-link");
        assert_eq!(rest.base_url, "http://other:8090/kafka/v3");
        assert_eq!(rest.cluster_id.as_deref(), Some("env-cluster"));
        assert_eq!(
            rest.basic_auth,
            Some(("env-user".into(), "env-link-pw".into()))
        );
        assert_eq!(rest.timeout, Duration::from_secs(60));
        assert_eq!(rest.retries, 0);
        assert_eq!(config.link.prefix, "p.");
        assert_eq!(config.defaults.wait, Duration::from_secs(3600));
        assert_eq!(config.defaults.poll_interval, Duration::from_secs(3));
    }

    #[test]
    fn generic_property_variables_map_to_dotted_names() {
        let mut e = lab_env();
        e.extend(env(&[
            ("CUTOVER_ORIGIN_SASL_USERNAME", "u"),
            ("CUTOVER_ORIGIN_SSL_CA_LOCATION", "/ca.pem"),
            ("CUTOVER_DESTINATION_CLIENT_ID", "me"),
        ]));
        let config = Config::from_sources(None, &e).expect("valid");
        assert_eq!(config.origin.properties["sasl.username"], "u");
        assert_eq!(config.origin.properties["ssl.ca.location"], "/ca.pem");
        assert_eq!(config.destination.properties["client.id"], "me");
    }

    #[test]
    fn bootstrap_and_bootstrap_servers_variables_must_agree() {
        let mut e = lab_env();
        e.insert(
            "CUTOVER_ORIGIN_BOOTSTRAP_SERVERS".into(),
            "elsewhere:9092".into(),
        );
        let p = problems(Config::from_sources(None, &e));
        assert_problem(
            &p,
            "CUTOVER_ORIGIN_BOOTSTRAP and CUTOVER_ORIGIN_BOOTSTRAP_SERVERS both set bootstrap.servers",
        );
    }

    #[test]
    fn nested_tables_flatten_to_dotted_keys() {
        let text = r#"
            [origin]
            bootstrap.servers = "a:9092"
            sasl.username = "u"
            sasl.password-env = "PW"
            "security.protocol" = "SASL_SSL"
            [origin.ssl]
            ca.location = "/ca.pem"

            [destination]
            bootstrap = { servers = "b:9092" }

            [link]
            name = "l"
        "#;
        let config = from_toml(text, &env(&[("PW", "pw")])).expect("valid");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([
                ("bootstrap.servers".into(), "a:9092".into()),
                ("sasl.password".into(), "pw".into()),
                ("sasl.username".into(), "u".into()),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("ssl.ca.location".into(), "/ca.pem".into()),
            ])
        );
        assert_eq!(config.destination.properties["bootstrap.servers"], "b:9092");
    }

    #[test]
    fn a_key_written_both_quoted_and_nested_is_a_problem() {
        let text = r#"
            [origin]
            "bootstrap.servers" = "a:9092"
            bootstrap.servers = "b:9092"
        "#;
        let p = problems(from_toml(text, &lab_env()));
        assert_problem(&p, "[origin] sets \"bootstrap.servers\" twice");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            unexpected = 1
            [origin]
            "sasl.password-env" = "NOT_SET_ANYWHERE"
            "sasl.username" = ["a"]
            [destination]
            [link]
            rest_url = "x"
            rest-url = "https://new-kafka:8090/v2"
            username-env = "LINK_USER"
            ca-file = "missing-ca.pem"
            timeout = "10"
            retries = 11
            [defaults]
            wait = "soon"
            poll-interval = "0s"
        "#;
        let e = env(&[("LINK_USER", "someone")]);
        let err = from_toml(text, &e).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let p = problems(Err(err));
        for needle in [
            "unknown section or key `unexpected` at the top of the file",
            "[origin] \"sasl.password-env\" names the environment variable NOT_SET_ANYWHERE, which is not set",
            "[origin] \"sasl.username\": expected a string, number or boolean, found an array",
            "the origin cluster has no bootstrap.servers: set \"bootstrap.servers\" in [origin] or CUTOVER_ORIGIN_BOOTSTRAP",
            "the destination cluster has no bootstrap.servers: set \"bootstrap.servers\" in [destination] or CUTOVER_DESTINATION_BOOTSTRAP",
            "the link has no name: set name in [link] or CUTOVER_LINK_NAME",
            "unknown key `rest_url` in [link]: did you mean `rest-url`?",
            "[link] rest-url: https://new-kafka:8090/v2 does not end in /kafka/v3",
            "e.g. https://new-kafka:8090/kafka/v3",
            "the link's REST username is set ([link] username-env) but no password",
            "[link] ca-file: cannot read /nonexistent/missing-ca.pem",
            "[link] timeout: \"10\" has no unit",
            "[link] retries: \"11\" is not a number of retries from 0 to 10",
            "[defaults] wait: \"soon\" is not a duration",
            "[defaults] poll-interval: must be more than zero",
        ] {
            assert_problem(&p, needle);
        }
        assert_eq!(p.len(), 14, "{p:#?}");
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
    fn env_indirection_reads_the_named_variable() {
        let text = r#"
            [origin]
            "bootstrap.servers-env" = "ORIGIN_BOOTSTRAP"
            "ssl.key.password-env" = "KEY_PW"
            [destination]
            "bootstrap.servers" = "b:9092"
            "sasl.password" = "inline"
            "sasl.password-env" = "ALSO"
            [link]
            name = "l"
        "#;
        let e = env(&[("ORIGIN_BOOTSTRAP", "a:9092"), ("ALSO", "x")]);
        let p = problems(from_toml(text, &e));
        assert_eq!(
            p,
            vec![
                "[origin] \"ssl.key.password-env\" names the environment variable KEY_PW, which is not set",
                "[destination] sets both \"sasl.password\" and \"sasl.password-env\": keep one",
            ]
        );
        let mut e = e;
        e.insert("KEY_PW".into(), "kpw".into());
        let text = text.replace("\"sasl.password\" = \"inline\"", "");
        let config = from_toml(&text, &e).expect("valid");
        assert_eq!(config.origin.properties["bootstrap.servers"], "a:9092");
        assert_eq!(config.origin.properties["ssl.key.password"], "kpw");
        assert_eq!(config.destination.properties["sasl.password"], "x");
    }

    #[test]
    fn parses_java_properties_syntax() {
        let text = concat!(
            "# a comment\n",
            "! another comment\n",
            "   \n",
            "a=1\n",
            "b: 2\n",
            "c 3\n",
            "  d   =   spaced value  \n",
            "e = one \\\n",
            "    two \\\n",
            "    three\n",
            "f=tab\\tnew\\nline\\\\ end\n",
            "key\\ with\\:colon\\=eq = v\n",
            "g=\\u00e9\\uD83D\\uDE00\n",
            "h=\n",
            "i\n",
            "j=x\\\\\n",
            "k=#not a comment\n",
            "l=first\\\n",
            "# continued, so not a comment\n",
            "a=last wins\r\n",
            "m = end\\",
        );
        let props = parse_properties(text).expect("parses");
        let expected: BTreeMap<String, String> = [
            ("a", "last wins"),
            ("b", "2"),
            ("c", "3"),
            ("d", "spaced value  "),
            ("e", "one two three"),
            ("f", "tab\tnew\nline\\ end"),
            ("key with:colon=eq", "v"),
            ("g", "é😀"),
            ("h", ""),
            ("i", ""),
            ("j", "x\\"),
            ("k", "#not a comment"),
            ("l", "first# continued, so not a comment"),
            ("m", "end"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(props, expected);
    }

    #[test]
    fn malformed_properties_name_the_line() {
        for (text, needle) in [
            ("a=1\nb=\\u12\n", "line 2: malformed \\uXXXX escape"),
            ("a=1\n\n=value\n", "line 3: a property has an empty key"),
            ("x=\\uD800\n", "line 1: malformed"),
        ] {
            let err = parse_properties(text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    fn translate(pairs: &[(&str, &str)]) -> Translation {
        let java = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        translate_java(&java, "[origin]")
    }

    /// Pairs of keys and values, as written in a test table.
    type Pairs = &'static [(&'static str, &'static str)];

    #[test]
    fn translates_java_client_properties_to_librdkafka() {
        let cases: &[(&str, Pairs, Pairs)] = &[
            (
                "plain jaas and mechanism",
                &[
                    ("bootstrap.servers", "b:9092"),
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="svc" password="p w\"x";"#,
                    ),
                ],
                &[
                    ("bootstrap.servers", "b:9092"),
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", "PLAIN"),
                    ("sasl.username", "svc"),
                    ("sasl.password", "p w\"x"),
                ],
            ),
            (
                "scram jaas, unquoted values",
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required\n username=svc password=pw ;",
                )],
                &[("sasl.username", "svc"), ("sasl.password", "pw")],
            ),
            (
                "kerberos jaas",
                &[(
                    "sasl.jaas.config",
                    r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k.keytab" principal="svc@REALM";"#,
                )],
                &[
                    ("sasl.kerberos.keytab", "/k.keytab"),
                    ("sasl.kerberos.principal", "svc@REALM"),
                ],
            ),
            (
                "oauth client credentials jaas",
                &[(
                    "sasl.jaas.config",
                    r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="id" clientSecret="s" scope="kafka" extension_logicalCluster="lkc-1";"#,
                )],
                &[
                    ("sasl.oauthbearer.method", "oidc"),
                    ("sasl.oauthbearer.client.id", "id"),
                    ("sasl.oauthbearer.client.secret", "s"),
                    ("sasl.oauthbearer.scope", "kafka"),
                    ("sasl.oauthbearer.extensions", "logicalCluster=lkc-1"),
                ],
            ),
            (
                "PEM truststore and keystore",
                &[
                    ("ssl.truststore.type", "pem"),
                    ("ssl.truststore.location", "/ca.pem"),
                    ("ssl.truststore.password", "unused"),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.location", "/client.pem"),
                    ("ssl.key.password", "kp"),
                    ("ssl.endpoint.identification.algorithm", ""),
                ],
                &[
                    ("ssl.ca.location", "/ca.pem"),
                    ("ssl.certificate.location", "/client.pem"),
                    ("ssl.key.location", "/client.pem"),
                    ("ssl.key.password", "kp"),
                    ("ssl.endpoint.identification.algorithm", "none"),
                ],
            ),
            (
                "PKCS12 keystore and inline PEM",
                &[
                    ("ssl.keystore.type", "PKCS12"),
                    ("ssl.keystore.location", "/client.p12"),
                    ("ssl.keystore.password", "ksp"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----"),
                ],
                &[
                    ("ssl.keystore.location", "/client.p12"),
                    ("ssl.keystore.password", "ksp"),
                    ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----"),
                ],
            ),
            (
                "java-only keys dropped",
                &[
                    ("client.id", "me"),
                    ("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"),
                    ("value.deserializer", "x"),
                    ("sasl.login.callback.handler.class", "x"),
                    ("interceptor.classes", "x"),
                    ("default.api.timeout.ms", "1"),
                ],
                &[("client.id", "me")],
            ),
        ];
        for (name, java, expected) in cases {
            let t = translate(java);
            let expected: BTreeMap<String, String> = expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(t.properties, expected, "{name}");
            assert!(
                t.problems.is_empty(),
                "{name}: {:?}",
                t.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
            );
        }
        let t = translate(&[
            ("key.deserializer", "x"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.truststore.password", "x"),
        ]);
        assert_eq!(
            t.dropped,
            vec!["key.deserializer", "ssl.truststore.password"]
        );
    }

    #[test]
    fn untranslatable_java_properties_are_problems_without_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("ssl.truststore.location", "/ts.jks"), ("ssl.truststore.password", "tspw")],
                "ssl.truststore.location is a JKS truststore, which librdkafka cannot read: export its CA certificates to a PEM file",
            ),
            (
                &[("ssl.keystore.location", "/ks.jks"), ("ssl.keystore.type", "JKS")],
                "ssl.keystore.location is a JKS keystore, which librdkafka cannot read: convert it to PKCS12",
            ),
            (
                &[("sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;")],
                "sasl.jaas.config uses software.amazon.msk.auth.iam.IAMLoginModule, which cutover cannot translate",
            ),
            (
                &[("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";")],
                "needs both username and password",
            ),
            (
                &[("sasl.jaas.config", "x.PlainLoginModule required password=\"tspw")],
                "sasl.jaas.config cannot be read (a quote is not closed)",
            ),
        ];
        for (java, needle) in cases {
            let t = translate(java);
            let messages: Vec<&String> = t.problems.iter().map(|p| &p.message).collect();
            assert!(
                messages.iter().any(|m| m.contains(needle)),
                "{needle}: {messages:?}"
            );
            assert!(messages.iter().all(|m| !m.contains("tspw")), "{messages:?}");
        }
    }

    #[test]
    fn imports_a_properties_file_beside_the_toml_file() {
        let dir = TempDir::new("import");
        dir.write(
            "origin.properties",
            concat!(
                "bootstrap.servers=file-origin:9092\n",
                "security.protocol=SASL_SSL\n",
                "sasl.mechanism=PLAIN\n",
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n",
                "    username=\"file-user\" password=\"file-pw\";\n",
                "ssl.truststore.location=/etc/ts.jks\n",
                "key.deserializer=org.apache.kafka.common.serialization.StringDeserializer\n",
                "client.id=from-file\n",
            ),
        );
        let toml_path = dir.write(
            "cutover.toml",
            r#"
                [origin]
                properties-file = "origin.properties"
                "client.id" = "from-toml"
                [destination]
                "bootstrap.servers" = "b:9092"
                [link]
                name = "l"
            "#,
        );
        // The JKS truststore is a problem until the section sets ssl.ca.location.
        let p = problems(Config::load(Some(&toml_path), &Env::new()));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_problem(&p, "[origin] properties-file: ");
        assert_problem(
            &p,
            "origin.properties: ssl.truststore.location is a JKS truststore",
        );

        let e = env(&[("CUTOVER_ORIGIN_SSL_CA_LOCATION", "/etc/ca.pem")]);
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([
                ("bootstrap.servers".into(), "file-origin:9092".into()),
                ("client.id".into(), "from-toml".into()),
                ("sasl.mechanisms".into(), "PLAIN".into()),
                ("sasl.password".into(), "file-pw".into()),
                ("sasl.username".into(), "file-user".into()),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("ssl.ca.location".into(), "/etc/ca.pem".into()),
            ])
        );
    }

    #[test]
    fn properties_file_from_the_environment_and_readable_ca_file() {
        let dir = TempDir::new("env-import");
        let props = dir.write("dest.properties", "bootstrap.servers=file-dest:9092\n");
        let ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
        let mut e = lab_env();
        e.remove("CUTOVER_DESTINATION_BOOTSTRAP");
        e.insert(
            "CUTOVER_DESTINATION_PROPERTIES_FILE".into(),
            props.display().to_string(),
        );
        e.insert("CUTOVER_LINK_CA_FILE".into(), ca.display().to_string());
        let config = Config::from_sources(None, &e).expect("valid");
        assert_eq!(
            config.destination.bootstrap_servers(),
            Some("file-dest:9092")
        );
        assert_eq!(config.link.rest_options().and_then(|r| r.ca_file), Some(ca));

        e.insert(
            "CUTOVER_ORIGIN_PROPERTIES_FILE".into(),
            "/nonexistent/o.properties".into(),
        );
        let p = problems(Config::from_sources(None, &e));
        assert_problem(
            &p,
            "CUTOVER_ORIGIN_PROPERTIES_FILE: /nonexistent/o.properties: cannot read",
        );
    }

    #[test]
    fn load_reports_an_unreadable_file_and_toml_syntax_with_its_line() {
        let p = problems(Config::load(
            Some(Path::new("/nonexistent/cutover.toml")),
            &lab_env(),
        ));
        assert_problem(&p, "cannot read the config file /nonexistent/cutover.toml");
        let p = problems(from_toml(
            "[link]\nname = \"l\"\nretries = = 3\n",
            &lab_env(),
        ));
        assert_problem(&p, "/nonexistent/cutover.toml: line 3:");
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

    #[test]
    fn debug_output_of_a_loaded_config_shows_no_secret() {
        let dir = TempDir::new("redaction");
        dir.write(
            "origin.properties",
            concat!(
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"jaas-pw-S3CRET\";\n",
                "ssl.keystore.type=PKCS12\n",
                "ssl.keystore.location=/client.p12\n",
                "ssl.keystore.password=keystore-pw-S3CRET\n",
            ),
        );
        let toml_path = dir.write("cutover.toml", &FULL.replace("[origin]", "[origin]\nproperties-file = \"origin.properties\"\n\"ssl.key.pem\" = \"private-key-S3CRET\"\n\"sasl.oauthbearer.client.secret\" = \"oauth-S3CRET\""));
        let mut e = full_env();
        e.insert(
            "CUTOVER_DESTINATION_SASL_PASSWORD".into(),
            "dest-pw-S3CRET".into(),
        );
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        assert_eq!(
            config.origin.properties["ssl.keystore.password"],
            "keystore-pw-S3CRET"
        );

        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(
            debug.contains("svc-cutover"),
            "non-secrets stay visible: {debug}"
        );
        assert!(debug.contains("/client.p12"), "paths stay visible: {debug}");
        assert!(debug.contains("***"));
        let rest = config.link.rest.as_ref().expect("rest");
        let credentials = rest.credentials.as_ref().expect("credentials");
        assert_eq!(format!("{}", credentials.password), "***");
        assert_eq!(credentials.password.expose(), "link-pw-S3CRET");
    }

    #[test]
    fn redacts_secret_looking_properties() {
        let cases = [
            ("sasl.password", true),
            ("SASL.PASSWORD", true),
            ("ssl.key.password", true),
            ("ssl.keystore.password", true),
            ("ssl.key.pem", true),
            ("sasl.jaas.config", true),
            ("sasl.oauthbearer.client.secret", true),
            ("sasl.oauthbearer.config", true),
            ("sasl.kerberos.keytab", true),
            ("some.token.value", true),
            ("ssl.key.location", false),
            ("ssl.keystore.location", false),
            ("ssl.ca.location", false),
            ("sasl.username", false),
            ("bootstrap.servers", false),
        ];
        for (key, secret) in cases {
            assert_eq!(is_secret_property(key), secret, "{key}");
        }
        let cluster = ClusterConfig {
            properties: BTreeMap::from([
                ("sasl.password".into(), "pw".into()),
                ("sasl.username".into(), "u".into()),
            ]),
        };
        assert_eq!(
            cluster.redacted(),
            BTreeMap::from([
                ("sasl.password".into(), "***".into()),
                ("sasl.username".into(), "u".into()),
            ])
        );
    }

    #[test]
    fn unknown_keys_name_their_section() {
        let text = r#"
            [link]
            name = "l"
            ca_file = "x"
            colour = "blue"
            [defaults]
            poll_interval = "2s"
            [hook]
        "#;
        let p = problems(from_toml(text, &lab_env()));
        assert_eq!(
            p,
            vec![
                "unknown section or key `hook` at the top of the file (known: origin, destination, link, defaults, cutover, hooks, groups)",
                "unknown key `ca_file` in [link]: did you mean `ca-file`?",
                "unknown key `colour` in [link] (known: name, rest-url, cluster-id, username-env, password-env, ca-file, timeout, retries, prefix)",
                "unknown key `poll_interval` in [defaults]: did you mean `poll-interval`?",
            ]
        );
    }

    #[test]
    fn cutover_settings_have_defaults_and_read_the_file() {
        let config = Config::from_sources(None, &lab_env()).expect("valid");
        assert_eq!(
            config.cutover,
            CutoverSettings {
                journal_dir: PathBuf::from("cutover-journal"),
                sync_interval: None,
                sync_timeout_factor: 3,
                stop_timeout: Duration::from_secs(120),
                mirror_timeout: Duration::from_secs(300),
                restart_timeout: Duration::from_secs(120),
                restart_window: Duration::from_secs(60),
                stable_reads: 2,
            }
        );
        let text = r#"
            [cutover]
            journal-dir = "journals"
            sync-interval = "10s"
            sync-timeout-factor = 5
            stop-timeout = "30s"
            mirror-timeout = "1m"
            restart-timeout = "45s"
            restart-window = "1500ms"
            stable-reads = 4
        "#;
        let file = Path::new("/etc/cutover/cutover.toml");
        let config = Config::from_sources(Some((text, file)), &lab_env()).expect("valid");
        assert_eq!(
            config.cutover,
            CutoverSettings {
                journal_dir: PathBuf::from("/etc/cutover/journals"),
                sync_interval: Some(Duration::from_secs(10)),
                sync_timeout_factor: 5,
                stop_timeout: Duration::from_secs(30),
                mirror_timeout: Duration::from_secs(60),
                restart_timeout: Duration::from_secs(45),
                restart_window: Duration::from_millis(1500),
                stable_reads: 4,
            }
        );
        // The variable wins, and is relative to the working directory.
        let mut e = lab_env();
        e.insert("CUTOVER_JOURNAL_DIR".into(), "j".into());
        let config = Config::from_sources(Some((text, file)), &e).expect("valid");
        assert_eq!(config.cutover.journal_dir, PathBuf::from("j"));
    }

    #[test]
    fn cutover_settings_out_of_bounds_are_problems() {
        let text = r#"
            [cutover]
            journal-dir = " "
            sync-interval = "0s"
            sync-timeout-factor = 21
            stop-timeout = "2"
            stable-reads = 1
            stable_reads = 3
        "#;
        let p = problems(from_toml(text, &lab_env()));
        assert_eq!(
            p,
            vec![
                "unknown key `stable_reads` in [cutover]: did you mean `stable-reads`?",
                "[cutover] journal-dir: the journal folder is empty",
                "[cutover] sync-interval: must be more than zero",
                "[cutover] sync-timeout-factor: \"21\" is not a factor from 1 to 20",
                "[cutover] stable-reads: \"1\" is not a number of reads from 2 to 10",
                "[cutover] stop-timeout: \"2\" has no unit: write a whole number and a unit: \"1500ms\", \"10s\", \"5m\" or \"1h\"",
            ]
        );
    }

    #[test]
    fn without_hooks_only_the_builtin_exclusion_is_configured() {
        let config = Config::from_sources(None, &lab_env()).expect("valid");
        let group = GroupId::new("g");
        assert_eq!(
            config
                .hooks
                .hook(HookKind::Exclude, &group)
                .map(|h| &h.action),
            Some(&HookAction::BuiltinLink)
        );
        for kind in [HookKind::Stop, HookKind::Restart, HookKind::Rollback] {
            assert!(config.hooks.hook(kind, &group).is_none(), "{kind:?}");
        }
    }

    #[test]
    fn reads_hooks_of_every_type_and_per_group_overrides() {
        let dir = TempDir::new("hooks");
        dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
        let toml_path = dir.write(
            "cutover.toml",
            r#"
            [origin]
            "bootstrap.servers" = "a:9092"
            [destination]
            "bootstrap.servers" = "b:9092"
            [link]
            name = "l"

            [hooks]
            exclude = "link"

            [hooks.stop]
            exec = ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
            timeout = "30s"
            retries = 1
            env = { KUBECONFIG = "/etc/kube/config", REPLICAS = 0 }
            env-from = { TOKEN = "STOP_TOKEN" }

            [hooks.restart]
            shell = 'kubectl --context "$CUTOVER_CLUSTER" scale "deploy/$CUTOVER_GROUP" --replicas=3'

            [hooks.rollback.http]
            method = "put"
            url = "https://deploy.example/groups/{group}/start?run={run_id}"
            headers = { "X-Cutover-Group" = "{group}" }
            headers-env = { Authorization = "DEPLOY_TOKEN" }
            body = { group = "{group}", topics = ["{topics}"], replicas = 3, nested = { on = true } }
            expect-status = 202
            ca-file = "ca.pem"

            [groups."orders app".hooks.stop]
            shell = "echo override"
            retries = 0

            [groups.payments.hooks]
            exclude = { exec = ["/usr/local/bin/exclude", "{group}"] }
            "#,
        );
        let e = env(&[
            ("STOP_TOKEN", "stop-S3CRET"),
            ("DEPLOY_TOKEN", "Bearer deploy-S3CRET"),
        ]);
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        let hooks = &config.hooks;
        assert_eq!(
            hooks.defaults[&HookKind::Stop],
            HookConfig {
                key: "[hooks.stop]".into(),
                action: HookAction::Exec {
                    argv: ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
                        .map(String::from)
                        .to_vec(),
                },
                timeout: Duration::from_secs(30),
                retries: 1,
                env: BTreeMap::from([
                    ("KUBECONFIG".into(), "/etc/kube/config".into()),
                    ("REPLICAS".into(), "0".into()),
                ]),
                secret_env: BTreeMap::from([("TOKEN".into(), Secret::new("stop-S3CRET"))]),
            }
        );
        let restart = &hooks.defaults[&HookKind::Restart];
        assert!(matches!(restart.action, HookAction::Shell { .. }));
        assert_eq!(restart.timeout, DEFAULT_HOOK_TIMEOUT);
        assert_eq!(restart.retries, DEFAULT_HOOK_RETRIES);
        assert_eq!(
            hooks.defaults[&HookKind::Rollback].action,
            HookAction::Http(HttpHook {
                method: "PUT".into(),
                url: "https://deploy.example/groups/{group}/start?run={run_id}".into(),
                headers: BTreeMap::from([("X-Cutover-Group".into(), "{group}".into())]),
                secret_headers: BTreeMap::from([(
                    "Authorization".into(),
                    Secret::new("Bearer deploy-S3CRET")
                )]),
                body: Some(serde_json::json!({
                    "group": "{group}",
                    "topics": ["{topics}"],
                    "replicas": 3,
                    "nested": { "on": true },
                })),
                expect_status: Some(202),
                ca_file: Some(dir.0.join("ca.pem")),
            })
        );
        assert_eq!(
            hooks.defaults[&HookKind::Exclude].action,
            HookAction::BuiltinLink
        );

        let orders = GroupId::new("orders app");
        let payments = GroupId::new("payments");
        let other = GroupId::new("other");
        let stop = hooks.hook(HookKind::Stop, &orders).expect("override");
        assert_eq!(stop.key, "[groups.\"orders app\".hooks.stop]");
        assert_eq!(stop.retries, 0);
        assert_eq!(
            hooks.hook(HookKind::Stop, &other).map(|h| h.key.as_str()),
            Some("[hooks.stop]")
        );
        assert_eq!(
            hooks
                .hook(HookKind::Restart, &orders)
                .map(|h| h.key.as_str()),
            Some("[hooks.restart]"),
            "an override replaces only its own kind"
        );
        assert!(matches!(
            hooks.hook(HookKind::Exclude, &payments).map(|h| &h.action),
            Some(HookAction::Exec { .. })
        ));
        assert_eq!(
            hooks.hook(HookKind::Exclude, &other).map(|h| &h.action),
            Some(&HookAction::BuiltinLink)
        );

        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(debug.contains("KUBECONFIG"), "{debug}");
    }

    #[test]
    fn the_readme_hooks_example_is_a_valid_config() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("### Hooks\n")
            .nth(1)
            .expect("the README has a Hooks section");
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the Hooks section has a TOML example");
        let e = env(&[
            ("STOP_HOOK_TOKEN", "t"),
            ("DEPLOY_TOKEN", "Bearer t"),
            ("CUTOVER_ORIGIN_BOOTSTRAP", "a:9092"),
            ("CUTOVER_DESTINATION_BOOTSTRAP", "b:9092"),
            ("CUTOVER_LINK_NAME", "l"),
        ]);
        let config = from_toml(example, &e).expect("the README's example is valid");
        let kinds: Vec<HookKind> = config.hooks.defaults.keys().copied().collect();
        assert_eq!(
            kinds,
            [HookKind::Stop, HookKind::Restart, HookKind::Rollback]
        );
        assert_eq!(config.hooks.groups.len(), 1);
    }

    #[test]
    fn hook_problems_are_reported_at_once_with_their_key_path() {
        let text = r#"
            [hooks]
            stop = "kubectl scale"
            colour = "blue"

            [hooks.exclude]
            builtin = "lnk"

            [hooks.restart]
            exec = []
            shel = "x"

            [hooks.rollback]
            exec = ["./rollback", "{grop}"]
            shell = "echo"
            timeout = "10"
            retries = 11
            env = { CUTOVER_GROUP = "x" }
            env-from = { TOKEN = "NOT_SET" }

            [groups."orders app".hooks.stop]
            builtin = "link"

            [groups."orders app".hooks.restart]
            shell = "echo {group}"

            [groups.g2.hooks.restart.http]
            url = "https://{group}.example/x"
            method = "POTS"
            headers-env = { Authorization = "UNSET_TOKEN" }
            expect-status = 700
            body = { a = { b = ["{grop}"] } }
            ca-file = "missing.pem"
            colour = 1

            [groups.g3.hooks.stop]
            exec = ["bash", "-ec", "echo {group}", "{group}"]

            [groups.g3.hooks.restart]
            exec = ["{group}"]

            [groups.g3.hooks.rollback]
            http = { url = "https://h/x" }
            env = { A = "b" }

            [groups.g4.hooks.stop]
            timeout = "5s"

            [groups.g4.hooks.exclude]
            builtin = "link"
            retries = 3

            [groups.g5]
            hook = 1
        "#;
        let err = from_toml(text, &lab_env()).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let p = problems(Err(err));
        let expected = [
            "[hooks] stop: expected a table ([hooks.stop]), found a string",
            "unknown key `colour` in [hooks] (known: stop, exclude, restart, rollback)",
            "[hooks.exclude] builtin: \"lnk\" is not a built-in: the one built-in is \"link\"",
            "unknown key `shel` in [hooks.restart] (known: exec, shell, http, builtin, timeout, retries, env, env-from)",
            "[hooks.restart] exec: the argv is empty: give at least the program",
            "[hooks.rollback] exec[1]: unknown placeholder {grop} (known: {group}, {cluster}, {topics}, {run_id}, {link}; write {{grop}} for the text {grop})",
            "[hooks.rollback]: set only one of exec, shell or http (found exec and shell)",
            "[hooks.rollback] timeout: \"10\" has no unit",
            "[hooks.rollback] retries: \"11\" is not a number of retries from 0 to 10",
            "[hooks.rollback] env.CUTOVER_GROUP: cutover sets CUTOVER_GROUP itself, for every hook",
            "[hooks.rollback] env-from.TOKEN names the environment variable NOT_SET, which is not set",
            "[groups.\"orders app\".hooks.stop] builtin: only the exclude hook has a built-in action",
            "[groups.\"orders app\".hooks.restart] shell: {group} is not substituted in shell text (values reach a shell only as variables): write \"$CUTOVER_GROUP\"",
            "unknown key `colour` in [groups.g2.hooks.restart.http]",
            "[groups.g2.hooks.restart.http] method: \"POTS\" is not an HTTP method",
            "[groups.g2.hooks.restart.http] url: https://{group}.example/x has a placeholder in its host",
            "[groups.g2.hooks.restart.http] headers-env.Authorization names the environment variable UNSET_TOKEN, which is not set",
            "[groups.g2.hooks.restart.http] body.a.b[0]: unknown placeholder {grop}",
            "[groups.g2.hooks.restart.http] expect-status: expected an HTTP status code from 100 to 599, found 700",
            "[groups.g2.hooks.restart.http] ca-file: cannot read /nonexistent/missing.pem",
            "[groups.g3.hooks.stop] exec[2]: a placeholder in the script of `bash -c` would be spliced into shell text",
            "[groups.g3.hooks.restart] exec[0]: the program cannot hold a placeholder",
            "[groups.g3.hooks.rollback] env: only exec and shell hooks get variables",
            "[groups.g4.hooks.stop]: set one of exec, shell or http",
            "[groups.g4.hooks.exclude] retries: the built-in link action takes no retries",
            "unknown key `hook` in [groups.g5] (known: hooks)",
        ];
        for needle in expected {
            assert_problem(&p, needle);
        }
        assert_eq!(p.len(), expected.len(), "{p:#?}");
    }

    fn config(text: &str) -> Config {
        let env: Env = [
            ("CUTOVER_ORIGIN_BOOTSTRAP", "a:9092"),
            ("CUTOVER_DESTINATION_BOOTSTRAP", "b:9092"),
            ("CUTOVER_LINK_NAME", "migration-link"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_sources(Some((text, Path::new("/nonexistent/cutover.toml"))), &env)
            .expect("a valid config")
    }

    #[tokio::test]
    async fn a_groups_own_hook_replaces_the_default_of_its_kind() {
        let config = config(
            r#"
            [hooks.stop]
            exec = ["/bin/echo", "default", "{group}"]

            [groups."orders app".hooks.stop]
            shell = 'printf "override %s" "$CUTOVER_GROUP"'

            [groups."orders app".hooks.exclude]
            exec = ["/bin/echo", "excluded"]
            "#,
        );
        let hooks = ConfiguredHooks::new(&config.hooks);
        let special = ctx("orders app");
        let other = ctx("billing");

        let report = hooks.run(HookKind::Stop, &special).await;
        assert_eq!(report.stdout, "override orders app");
        let report = hooks.run(HookKind::Stop, &other).await;
        assert_eq!(report.stdout, "default billing\n");
        assert_eq!(
            hooks.describe(HookKind::Stop, &other).as_deref(),
            Some(r#"["/bin/echo", "default", "billing"]"#)
        );

        // Exclusion: the built-in unless configured, and the built-in is not run as a hook.
        assert!(hooks.exclude_is_builtin(&other.group));
        assert!(!hooks.exclude_is_builtin(&special.group));
        assert_eq!(
            hooks.describe(HookKind::Exclude, &other).as_deref(),
            Some(BUILTIN_EXCLUDE_DESCRIPTION)
        );
        let report = hooks.run(HookKind::Exclude, &other).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 0);
        assert!(report
            .error
            .unwrap_or_default()
            .contains("is the built-in link action"),);
        let report = hooks.run(HookKind::Exclude, &special).await;
        assert_eq!(report.stdout, "excluded\n");

        // A kind with no hook: nothing to describe, and running it says which key to set.
        assert_eq!(hooks.describe(HookKind::Restart, &special), None);
        let report = hooks.run(HookKind::Restart, &special).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 0);
        assert_eq!(
            report.error.as_deref(),
            Some(
                r#"no restart hook is configured for group orders app: set [hooks.restart] (or [groups."orders app".hooks.restart] for this group alone) to exec, shell or http"#
            )
        );
    }
}
