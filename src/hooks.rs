//! Hooks: how the agent stops, excludes, restarts and rolls back a group through the
//! operator's own tooling.
//!
//! The `Hooks` trait is the seam: the cutover driver asks for a hook by kind and gets a
//! report back; it never learns whether a process, an HTTP call or the simulator did the work.
//! What a hook did is never trusted: the driver verifies every effect by observing the
//! clusters.
//!
//! [`ConfiguredHooks`] runs the hooks of `cutover.toml` (parsed into [`HooksConfig`] by
//! `config.rs`): an argv (`exec`), a shell script (`shell`, only when the config asks for one)
//! or an HTTP request (`http`). Its security rules, which nothing here may weaken:
//!
//! - A value (group id, topics, run id, link) is never text a shell or a JSON parser reads.
//!   In an argv each placeholder is substituted inside its one argument and no shell runs; a
//!   shell script gets the values only as `CUTOVER_*` variables; a URL gets them
//!   percent-encoded; a JSON body gets them as string content, escaped by `serde_json`.
//! - Secrets (`env-from`, `headers-env` values) are replaced by `***` in everything a report
//!   carries: description, output and error.
//! - A hook is bounded: a timeout per attempt that kills the hook's whole process group, a
//!   bounded number of retries, and output capped in memory as it is read.
//!
//! It must not decide anything: the report says what happened, the driver decides what it
//! means. It never panics on anything a config or a hook's output can contain.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::model::{GroupId, Role};
use crate::secret::Secret;

/// The hooks of a cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// Stop the group on the origin.
    Stop,
    /// Exclude the group from the link's offset sync (when not the built-in link action).
    Exclude,
    /// Start the group on the destination.
    Restart,
    /// Start the group on the origin again, after a failure before the restart.
    Rollback,
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Stop => "stop",
            HookKind::Exclude => "exclude",
            HookKind::Restart => "restart",
            HookKind::Rollback => "rollback",
        }
    }

    /// The cluster the hook acts on.
    pub fn cluster(self) -> Role {
        match self {
            HookKind::Restart => Role::Destination,
            HookKind::Stop | HookKind::Rollback | HookKind::Exclude => Role::Origin,
        }
    }
}

/// The values a hook's placeholders and `CUTOVER_*` variables take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookContext {
    pub group: GroupId,
    pub topics: Vec<String>,
    pub run_id: String,
    pub link: String,
}

/// What running a hook did (output captured, size-capped and redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookReport {
    pub kind: HookKind,
    /// What ran, with placeholders substituted and secrets redacted (`argv`, or
    /// `METHOD url`).
    pub description: String,
    pub attempts: u32,
    pub ok: bool,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
    pub http_status: Option<u16>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

/// Runs hooks.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// What running `kind` for this context would do, substituted and redacted, for
    /// `--dry-run` and the journal; `None` when no hook of that kind is configured.
    fn describe(&self, kind: HookKind, ctx: &HookContext) -> Option<String>;

    /// True when the group's exclusion is the built-in link action (`exclude = "link"`), which
    /// the driver performs itself through the link's REST config API.
    fn exclude_is_builtin(&self, group: &GroupId) -> bool;

    /// Runs a hook, with its timeout and bounded retries.
    async fn run(&self, kind: HookKind, ctx: &HookContext) -> HookReport;
}

// ---------------------------------------------------------------------------------------------
// Configuration of the hooks (parsed and validated by `config.rs`)

/// The placeholders a hook's argv, URL, header values and body strings may hold.
pub(crate) const PLACEHOLDERS: &[&str] = &["group", "cluster", "topics", "run_id", "link"];

/// The variables cutover sets for every exec and shell hook; a hook's `env` cannot set them.
pub(crate) const HOOK_VARIABLES: &[&str] = &[
    "CUTOVER_GROUP",
    "CUTOVER_CLUSTER",
    "CUTOVER_TOPICS",
    "CUTOVER_RUN_ID",
    "CUTOVER_LINK",
    "CUTOVER_HOOK",
];

/// Bound on one attempt of a hook when its config sets no `timeout`.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries after a failed attempt when the config sets no `retries`.
pub const DEFAULT_HOOK_RETRIES: u32 = 2;
/// Most retries a config may ask for.
pub const MAX_HOOK_RETRIES: u32 = 10;
/// Pause before the first retry; it doubles before each next one, up to [`MAX_BACKOFF`].
pub(crate) const HOOK_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between two attempts: a group may be stopped while a hook is retried, so a
/// doubling that reaches minutes helps nobody.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Most bytes of stdout, and of stderr, a report keeps: the head and the tail, with a marker
/// saying how much was cut in between.
pub(crate) const OUTPUT_CAP: usize = 16 * 1024;
/// Room left under [`OUTPUT_CAP`] for the marker.
const MARKER_ROOM: usize = 64;
/// Bytes kept at each end of a longer output.
const KEEP_EACH_END: usize = (OUTPUT_CAP - MARKER_ROOM) / 2;
/// How long output is still read after the hook's process exited. A process the hook left
/// running in the background can hold the pipes open for ever; the report must not wait on it.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// How long reaping a killed process may take before the attempt gives up on it.
const REAP_GRACE: Duration = Duration::from_secs(5);
/// Most characters of a failed hook's output quoted in the report's error.
const ERROR_EXCERPT: usize = 400;

/// What `describe` says of the built-in exclusion.
pub(crate) const BUILTIN_EXCLUDE_DESCRIPTION: &str =
    "built-in: exclude the group in the link's consumer.offset.group.filters";

/// Every hook of a cutover: a default per kind (`[hooks.<kind>]`) and per-group overrides
/// (`[groups."<group id>".hooks.<kind>]`), which replace the default of their kind entirely.
///
/// With no exclude hook configured, the exclusion is the built-in link action; any other kind
/// with no hook configured has none (and running it fails, naming the key to set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HooksConfig {
    pub defaults: BTreeMap<HookKind, HookConfig>,
    pub groups: BTreeMap<GroupId, BTreeMap<HookKind, HookConfig>>,
}

/// One configured hook.
///
/// `Debug` is derived: every secret here is a [`Secret`], which prints `***`.
#[derive(Debug, Clone, PartialEq)]
pub struct HookConfig {
    /// The config section that sets it (`[hooks.stop]`, `[groups."orders".hooks.stop]`), so that
    /// a failure names the place to fix.
    pub key: String,
    pub action: HookAction,
    /// Bound on one attempt.
    pub timeout: Duration,
    /// Attempts after the first failed one (at most [`MAX_HOOK_RETRIES`]).
    pub retries: u32,
    /// Extra variables for exec and shell hooks (`env`), literal values.
    pub env: BTreeMap<String, String>,
    /// Extra variables whose values are secrets (`env-from`, read from cutover's environment
    /// when the config is loaded).
    pub secret_env: BTreeMap<String, Secret>,
}

/// What a hook does.
#[derive(Debug, Clone, PartialEq)]
pub enum HookAction {
    /// Run a program without a shell; each placeholder is substituted inside its one argument.
    Exec { argv: Vec<String> },
    /// Run `/bin/sh -c <script>`; the script text is never substituted, the values reach it only
    /// as `CUTOVER_*` variables.
    Shell { script: String },
    /// Send an HTTP request.
    Http(HttpHook),
    /// Exclude the group through the link's REST API: the driver does it itself (exclude only).
    BuiltinLink,
}

/// An HTTP hook.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpHook {
    /// An upper-case method name (`POST` when the config sets none).
    pub method: String,
    /// An `http://` or `https://` URL; placeholders (after the host only) are percent-encoded.
    pub url: String,
    /// Header values may hold placeholders, substituted verbatim (a value that is not valid in
    /// a header fails the attempt).
    pub headers: BTreeMap<String, String>,
    /// Headers whose values are secrets (`headers-env`).
    pub secret_headers: BTreeMap<String, Secret>,
    /// A JSON body; placeholders in its strings are substituted as string content.
    pub body: Option<serde_json::Value>,
    /// The one status that counts as success; `None` accepts any 2xx.
    pub expect_status: Option<u16>,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
}

/// Where the exclusion falls back to when no exclude hook is configured.
static BUILTIN_EXCLUDE: HookConfig = HookConfig {
    key: String::new(),
    action: HookAction::BuiltinLink,
    timeout: DEFAULT_HOOK_TIMEOUT,
    retries: 0,
    env: BTreeMap::new(),
    secret_env: BTreeMap::new(),
};

impl HooksConfig {
    /// The hook of `kind` for `group`: the group's own, else the default of its kind, else (for
    /// exclude) the built-in link action.
    pub fn hook(&self, kind: HookKind, group: &GroupId) -> Option<&HookConfig> {
        self.groups
            .get(group)
            .and_then(|hooks| hooks.get(&kind))
            .or_else(|| self.defaults.get(&kind))
            .or_else(|| (kind == HookKind::Exclude).then_some(&BUILTIN_EXCLUDE))
    }

    /// Every secret value of every hook.
    fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.defaults
            .values()
            .chain(self.groups.values().flat_map(|hooks| hooks.values()))
            .flat_map(|hook| {
                let headers = match &hook.action {
                    HookAction::Http(http) => Some(http.secret_headers.values()),
                    _ => None,
                };
                hook.secret_env
                    .values()
                    .chain(headers.into_iter().flatten())
            })
    }
}

/// The config section of a hook: `[hooks.stop]`, or `[groups."orders app".hooks.stop]`.
pub(crate) fn hook_section(group: Option<&GroupId>, kind: HookKind) -> String {
    match group {
        None => format!("[hooks.{}]", kind.as_str()),
        Some(group) => format!(
            "[groups.{}.hooks.{}]",
            toml_key(group.as_str()),
            kind.as_str()
        ),
    }
}

/// A TOML key as it must be written in a table header: bare when it can be, quoted otherwise.
pub(crate) fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into text and placeholders. A placeholder is `{name}` with a name of
/// letters, digits, `_` or `-`; `{{name}}` is the literal text `{name}`; every other brace is
/// literal, so JSON or shell braces in an argument need no escaping.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let bytes = template.as_bytes();
    let name_len = |from: usize| {
        bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count()
    };
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        // The indices below only ever stop on ASCII bytes, so every slice is on a char boundary.
        let escaped = bytes.get(i + 1) == Some(&b'{');
        let name_start = if escaped { i + 2 } else { i + 1 };
        let n = name_len(name_start);
        let close = name_start + n;
        let closed = if escaped {
            bytes.get(close..close + 2) == Some(b"}}".as_slice())
        } else {
            bytes.get(close) == Some(&b'}')
        };
        if n == 0 || !closed {
            i += 1;
            continue;
        }
        if text_start < i {
            out.push(Piece::Text(&template[text_start..i]));
        }
        if escaped {
            out.push(Piece::Text(&template[i + 1..close + 1]));
            i = close + 2;
        } else {
            out.push(Piece::Placeholder(&template[name_start..close]));
            i = close + 1;
        }
        text_start = i;
    }
    if text_start < bytes.len() {
        out.push(Piece::Text(&template[text_start..]));
    }
    out
}

/// The placeholders of a template that are not in [`PLACEHOLDERS`].
pub(crate) fn unknown_placeholders(template: &str) -> Vec<String> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) if !PLACEHOLDERS.contains(&name) => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// Whether a template holds any placeholder, known or not.
pub(crate) fn has_placeholder(template: &str) -> bool {
    pieces(template)
        .iter()
        .any(|p| matches!(p, Piece::Placeholder(_)))
}

/// The known placeholders written in a shell script as if they would be substituted (`{group}`,
/// not the shell's own `${group}`). They never are: a config holding one is refused, so an
/// operator does not believe a value reaches the script that way.
pub(crate) fn placeholders_in_shell_text(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_dollar = false;
    for piece in pieces(script) {
        match piece {
            Piece::Text(text) => after_dollar = text.ends_with('$'),
            Piece::Placeholder(name) => {
                if !after_dollar && PLACEHOLDERS.contains(&name) {
                    out.push(name.to_string());
                }
                after_dollar = false;
            }
        }
    }
    out
}

/// The template with every placeholder replaced by a harmless sample value, to check what the
/// template's own text makes of a URL or a header.
pub(crate) fn with_sample_values(template: &str) -> String {
    pieces(template)
        .into_iter()
        .map(|p| match p {
            Piece::Text(text) => text,
            Piece::Placeholder(_) => "x",
        })
        .collect()
}

/// The variable that carries a placeholder's value.
pub(crate) fn placeholder_variable(name: &str) -> String {
    format!("CUTOVER_{}", name.to_ascii_uppercase())
}

/// How a value is written into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// As it is: an argv element or a JSON string is one value, whatever it holds.
    Verbatim,
    /// Percent-encoded, every byte but RFC 3986's unreserved ones: a `/`, `?`, `#` or `&` in a
    /// group id cannot change which resource the URL names.
    Url,
}

/// The values of one hook run.
struct Values<'a> {
    kind: HookKind,
    group: &'a str,
    topics: String,
    run_id: &'a str,
    link: &'a str,
}

impl<'a> Values<'a> {
    fn new(kind: HookKind, ctx: &'a HookContext) -> Self {
        Values {
            kind,
            group: ctx.group.as_str(),
            topics: ctx.topics.join(","),
            run_id: &ctx.run_id,
            link: &ctx.link,
        }
    }

    fn cluster(&self) -> &'static str {
        match self.kind.cluster() {
            Role::Origin => "origin",
            Role::Destination => "destination",
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "group" => Some(self.group),
            "cluster" => Some(self.cluster()),
            "topics" => Some(&self.topics),
            "run_id" => Some(self.run_id),
            "link" => Some(self.link),
            _ => None,
        }
    }

    /// The `CUTOVER_*` variables (see [`HOOK_VARIABLES`]).
    fn variables(&self) -> [(&'static str, &str); 6] {
        [
            ("CUTOVER_GROUP", self.group),
            ("CUTOVER_CLUSTER", self.cluster()),
            ("CUTOVER_TOPICS", &self.topics),
            ("CUTOVER_RUN_ID", self.run_id),
            ("CUTOVER_LINK", self.link),
            ("CUTOVER_HOOK", self.kind.as_str()),
        ]
    }
}

/// Substitutes the placeholders of `template`. An unknown placeholder (which a loaded config
/// cannot hold) stays as written.
fn substitute(template: &str, values: &Values<'_>, encoding: Encoding) -> String {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => match values.get(name) {
                Some(value) if encoding == Encoding::Url => out.push_str(&percent_encode(value)),
                Some(value) => out.push_str(value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Substitutes the placeholders in every string of a JSON body (not in its keys). The values
/// become string content, which `serde_json` escapes when the body is written.
fn substitute_json(value: &serde_json::Value, values: &Values<'_>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(substitute(s, values, Encoding::Verbatim)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_json(item, values))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A JSON string literal: how `describe` quotes an argument, unambiguous whatever it holds.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// What a hook runs, substituted (not yet redacted).
fn describe_hook(hook: &HookConfig, values: &Values<'_>) -> String {
    match &hook.action {
        HookAction::Exec { argv } => {
            let args: Vec<String> = argv
                .iter()
                .map(|a| quoted(&substitute(a, values, Encoding::Verbatim)))
                .collect();
            format!("[{}]", args.join(", "))
        }
        HookAction::Shell { script } => format!("/bin/sh -c {}", quoted(script)),
        HookAction::Http(http) => {
            format!(
                "{} {}",
                http.method,
                substitute(&http.url, values, Encoding::Url)
            )
        }
        HookAction::BuiltinLink => BUILTIN_EXCLUDE_DESCRIPTION.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Running hooks

/// The hooks of a loaded config.
///
/// `describe` renders an exec hook as its substituted argv in JSON array syntax
/// (`["kubectl", "scale", "deploy/orders app"]`: one quoted string per argument, so an argument
/// holding a space or a quote is unambiguous), a shell hook as `/bin/sh -c "<script>"` (the
/// script JSON-quoted, not substituted), an HTTP hook as `METHOD url`, all with secrets
/// replaced by `***`.
pub struct ConfiguredHooks {
    config: HooksConfig,
    /// Every secret value of every hook, longest first, so that a secret holding another is
    /// replaced whole.
    secrets: Vec<String>,
    /// Pause before the first retry (tests shorten it).
    backoff: Duration,
}

/// Names the configured kinds only: an argv or a URL may hold, literally, a value that is also a
/// secret, and `Debug` has no way to redact it reliably once escaped.
impl fmt::Debug for ConfiguredHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = |hooks: &BTreeMap<HookKind, HookConfig>| -> Vec<&'static str> {
            hooks.keys().map(|k| k.as_str()).collect()
        };
        let groups: BTreeMap<&str, Vec<&'static str>> = self
            .config
            .groups
            .iter()
            .map(|(group, hooks)| (group.as_str(), kinds(hooks)))
            .collect();
        f.debug_struct("ConfiguredHooks")
            .field("defaults", &kinds(&self.config.defaults))
            .field("groups", &groups)
            .field("secrets", &self.secrets.len())
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Exit(i32),
    Signal(i32),
    TimedOut(Duration),
    Spawn {
        program: String,
        error: String,
    },
    Wait(String),
    Status {
        status: u16,
        expected: Option<u16>,
    },
    Unreachable(String),
    NoAnswer(Duration),
    /// The hook cannot be run as configured (a bad CA file, a header value a placeholder made
    /// invalid): trying again cannot help.
    Invalid(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        !matches!(self, Failure::Invalid(_))
    }

    /// A few words for the log line of a retry.
    fn summary(&self) -> String {
        match self {
            Failure::Exit(code) => format!("exit code {code}"),
            Failure::Signal(signal) => format!("killed by signal {signal}"),
            Failure::TimedOut(timeout) => format!("still running after {timeout:?}"),
            Failure::Spawn { error, .. } => format!("cannot start: {error}"),
            Failure::Wait(error) => format!("lost track of the process: {error}"),
            Failure::Status { status, .. } => format!("HTTP {status}"),
            Failure::Unreachable(error) => format!("no answer: {error}"),
            Failure::NoAnswer(timeout) => format!("no complete answer within {timeout:?}"),
            Failure::Invalid(error) => error.clone(),
        }
    }
}

/// One attempt's outcome, its output already capped and redacted.
#[derive(Debug, Default)]
struct Attempt {
    failure: Option<Failure>,
    exit_code: Option<i32>,
    http_status: Option<u16>,
    stdout: String,
    stderr: String,
}

impl Attempt {
    fn failed(failure: Failure) -> Self {
        Attempt {
            failure: Some(failure),
            ..Attempt::default()
        }
    }
}

impl ConfiguredHooks {
    /// The hooks of a loaded config. Every secret they hold is collected once, here, for
    /// redaction: as written, and as it reads once JSON-escaped (how descriptions quote
    /// arguments, and how a hook printing JSON would show it).
    pub fn new(hooks: &HooksConfig) -> ConfiguredHooks {
        let mut secrets = Vec::new();
        for secret in hooks.secrets().map(Secret::expose) {
            if secret.is_empty() {
                continue;
            }
            secrets.push(secret.to_string());
            let escaped = quoted(secret);
            let escaped = escaped
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or(&escaped);
            if escaped != secret {
                secrets.push(escaped.to_string());
            }
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        ConfiguredHooks {
            config: hooks.clone(),
            secrets,
            backoff: HOOK_BACKOFF,
        }
    }

    /// The same hooks with another first pause between attempts.
    #[cfg(test)]
    fn with_backoff(mut self, backoff: Duration) -> ConfiguredHooks {
        self.backoff = backoff;
        self
    }

    /// `text` with every secret replaced by `***`.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// The longest secret, in bytes: how far past a cut of the output a secret can reach.
    fn margin(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }

    fn pause_before_retry(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// A report for a run that attempted nothing.
    fn unattempted(kind: HookKind, description: String, error: String) -> HookReport {
        HookReport {
            kind,
            description,
            attempts: 0,
            ok: false,
            error: Some(error),
            exit_code: None,
            http_status: None,
            stdout: String::new(),
            stderr: String::new(),
            duration_ms: 0,
        }
    }

    async fn attempt(&self, hook: &HookConfig, values: &Values<'_>) -> Attempt {
        match &hook.action {
            HookAction::Exec { argv } => {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| substitute(a, values, Encoding::Verbatim))
                    .collect();
                self.process_attempt(hook, &argv, values).await
            }
            HookAction::Shell { script } => {
                let argv = ["/bin/sh".to_string(), "-c".to_string(), script.clone()];
                self.process_attempt(hook, &argv, values).await
            }
            HookAction::Http(http) => self.http_attempt(hook, http, values).await,
            HookAction::BuiltinLink => Attempt::failed(Failure::Invalid(
                "the built-in exclusion is not a hook to run".into(),
            )),
        }
    }

    async fn process_attempt(
        &self,
        hook: &HookConfig,
        argv: &[String],
        values: &Values<'_>,
    ) -> Attempt {
        let Some((program, args)) = argv.split_first() else {
            return Attempt::failed(Failure::Invalid("exec has an empty argv".into()));
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a timeout kills everything the hook started, and a Ctrl-C
            // meant for cutover does not reach the hook half-way through.
            .process_group(0)
            .kill_on_drop(true);
        // A hook sees exactly the CUTOVER_* variables of its contract: cutover's own
        // configuration variables can hold the link's password.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CUTOVER_") {
                command.env_remove(name);
            }
        }
        command.envs(&hook.env);
        command.envs(hook.secret_env.iter().map(|(k, v)| (k, v.expose())));
        command.envs(values.variables());

        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return Attempt::failed(Failure::Spawn {
                    program: program.clone(),
                    error: e.to_string(),
                })
            }
        };
        let stdout = Reader::start(child.stdout.take(), self.margin());
        let stderr = Reader::start(child.stderr.take(), self.margin());
        let mut group = ProcessGroup::new(child);

        let failure = match tokio::time::timeout(hook.timeout, group.wait()).await {
            Ok(Ok(status)) => exit_failure(status),
            Ok(Err(e)) => Some(Failure::Wait(e.to_string())),
            Err(_) => {
                group.kill();
                let _ = tokio::time::timeout(REAP_GRACE, group.wait()).await;
                Some(Failure::TimedOut(hook.timeout))
            }
        };
        let exit_code = match &failure {
            None => Some(0),
            Some(Failure::Exit(code)) => Some(*code),
            Some(_) => None,
        };
        Attempt {
            failure,
            exit_code,
            http_status: None,
            stdout: stdout.finish(&self.secrets).await,
            stderr: stderr.finish(&self.secrets).await,
        }
    }

    async fn http_attempt(
        &self,
        hook: &HookConfig,
        http: &HttpHook,
        values: &Values<'_>,
    ) -> Attempt {
        let request = match http_request(hook, http, values) {
            Ok(request) => request,
            Err(e) => return Attempt::failed(Failure::Invalid(e)),
        };
        let mut body = Capture::new(self.margin());
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
            stdout: body.render(&self.secrets),
            stderr: String::new(),
        }
    }

    /// The report's error: what failed, how often, what the hook said, and what to do.
    fn failure_message(
        &self,
        hook: &HookConfig,
        failure: &Failure,
        attempts: u32,
        last: &Attempt,
    ) -> String {
        let key = &hook.key;
        let tries = if attempts == 1 {
            "after 1 attempt".to_string()
        } else {
            format!("after {attempts} attempts")
        };
        let said = |label: &str, text: &str| -> String {
            let text = text.trim();
            if text.is_empty() {
                return String::new();
            }
            let count = text.chars().count();
            let excerpt: String = if count > ERROR_EXCERPT {
                let tail: String = text.chars().skip(count - ERROR_EXCERPT).collect();
                format!("…{tail}")
            } else {
                text.to_string()
            };
            format!("; {label}: {excerpt}")
        };
        let output = if last.stderr.trim().is_empty() {
            said("stdout", &last.stdout)
        } else {
            said("stderr", &last.stderr)
        };
        let message = match failure {
            Failure::Exit(code) => format!(
                "exit code {code} {tries}{output}; run the hook of {key} by hand to see why it fails, and fix it or what it acts on"
            ),
            Failure::Signal(signal) => format!(
                "killed by signal {signal} {tries}{output}; find what killed the hook of {key} (out of memory, an operator)"
            ),
            Failure::TimedOut(timeout) => format!(
                "still running after {timeout:?} {tries}, so its process group was killed{output}; raise timeout in {key} or make the hook finish sooner"
            ),
            Failure::Spawn { program, error } => format!(
                "cannot start {}: {error} ({tries}); check that {key} names an installed program (an absolute path or one in PATH)",
                quoted(program)
            ),
            Failure::Wait(error) => format!(
                "lost track of the hook's process: {error} ({tries}); check the machine's process limits"
            ),
            Failure::Status { status, expected } => {
                let expected = expected.map_or("2xx".to_string(), |e| e.to_string());
                format!(
                    "HTTP {status} (expected {expected}) {tries}{}; check the endpoint and the request of {key}",
                    said("answer", &last.stdout)
                )
            }
            Failure::Unreachable(error) => format!(
                "no answer: {error} ({tries}); check the url of {key} and that the endpoint is reachable from here"
            ),
            Failure::NoAnswer(timeout) => format!(
                "no complete answer within {timeout:?} {tries}; raise timeout in {key} or check the endpoint"
            ),
            Failure::Invalid(error) => format!("{error}; fix {key}"),
        };
        self.redact(&message)
    }
}

#[async_trait]
impl Hooks for ConfiguredHooks {
    fn describe(&self, kind: HookKind, ctx: &HookContext) -> Option<String> {
        let hook = self.config.hook(kind, &ctx.group)?;
        Some(self.redact(&describe_hook(hook, &Values::new(kind, ctx))))
    }

    fn exclude_is_builtin(&self, group: &GroupId) -> bool {
        self.config
            .hook(HookKind::Exclude, group)
            .is_some_and(|hook| hook.action == HookAction::BuiltinLink)
    }

    async fn run(&self, kind: HookKind, ctx: &HookContext) -> HookReport {
        let started = Instant::now();
        let values = Values::new(kind, ctx);
        let Some(hook) = self.config.hook(kind, &ctx.group) else {
            let group_key = hook_section(Some(&ctx.group), kind);
            return Self::unattempted(
                kind,
                "none".into(),
                self.redact(&format!(
                    "no {} hook is configured for group {}: set {} (or {group_key} for this group alone) to exec, shell or http",
                    kind.as_str(),
                    ctx.group,
                    hook_section(None, kind),
                )),
            );
        };
        let description = self.redact(&describe_hook(hook, &values));
        if hook.action == HookAction::BuiltinLink {
            return Self::unattempted(
                kind,
                description,
                format!(
                    "the exclusion of group {} is the built-in link action, which the driver performs itself through the link's REST API; to run a hook instead, configure exec, shell or http in {}",
                    self.redact(ctx.group.as_str()),
                    hook_section(None, kind)
                ),
            );
        }

        let max_attempts = hook.retries.min(MAX_HOOK_RETRIES) + 1;
        let mut attempts = 0;
        let last = loop {
            attempts += 1;
            let attempt = self.attempt(hook, &values).await;
            let failure = match &attempt.failure {
                Some(failure) if failure.retryable() && attempts < max_attempts => failure,
                _ => break attempt,
            };
            let pause = self.pause_before_retry(attempts);
            tracing::warn!(
                "the {} hook for group {} failed ({}, attempt {attempts} of {max_attempts}): retrying in {pause:?}",
                kind.as_str(),
                self.redact(ctx.group.as_str()),
                self.redact(&failure.summary()),
            );
            tokio::time::sleep(pause).await;
        };
        let error = last
            .failure
            .as_ref()
            .map(|failure| self.failure_message(hook, failure, attempts, &last));
        HookReport {
            kind,
            description,
            attempts,
            ok: last.failure.is_none(),
            error,
            exit_code: last.exit_code,
            http_status: last.http_status,
            stdout: last.stdout,
            stderr: last.stderr,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The failure an exit status means, if any.
fn exit_failure(status: ExitStatus) -> Option<Failure> {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => None,
        (Some(code), _) => Some(Failure::Exit(code)),
        (None, Some(signal)) => Some(Failure::Signal(signal)),
        (None, None) => Some(Failure::Wait(format!("unknown exit status {status}"))),
    }
}

/// A running hook whose whole process group is killed when it times out, or when the run is
/// dropped (cutover interrupted) before the hook exited.
struct ProcessGroup {
    child: tokio::process::Child,
    /// The group's id (the hook's pid, thanks to `process_group(0)`) while the hook has not
    /// been reaped. Once it has, the id may be reused by an unrelated group, so it is forgotten.
    pgid: Option<libc::pid_t>,
}

impl ProcessGroup {
    fn new(child: tokio::process::Child) -> Self {
        let pgid = child
            .id()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .filter(|id| *id > 0);
        ProcessGroup { child, pgid }
    }

    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        if status.is_ok() {
            self.pgid = None;
        }
        status
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) has no memory effects. `pgid` is positive (so `-pgid` never means
            // "every process" or "our own group"), and it names the hook's own group: the hook
            // leads it and has not been reaped, so the id cannot have been reused.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads one output stream of a hook into a [`Capture`], in a task of its own so that a
/// chatty hook never blocks on a full pipe while cutover waits for it to exit.
struct Reader {
    capture: Arc<Mutex<Capture>>,
    task: Option<JoinHandle<()>>,
}

impl Reader {
    fn start<R: AsyncRead + Unpin + Send + 'static>(stream: Option<R>, margin: usize) -> Reader {
        let capture = Arc::new(Mutex::new(Capture::new(margin)));
        let task = stream.map(|mut stream| {
            let capture = capture.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => lock(&capture).push(&buf[..n]),
                    }
                }
            })
        });
        Reader { capture, task }
    }

    /// The captured output, once the stream ended or [`PIPE_GRACE`] passed.
    async fn finish(mut self, secrets: &[String]) -> String {
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(PIPE_GRACE, &mut task).await.is_err() {
                task.abort();
                lock(&self.capture).still_open = true;
            }
        }
        let capture = lock(&self.capture);
        capture.render(secrets)
    }
}

/// Output bounded in memory as it arrives: the first and the last bytes, and a count.
///
/// Each end keeps `margin` bytes (the longest secret) more than it shows, so that a secret
/// crossing a cut is still seen whole, redacted whole, and never shown in part.
#[derive(Debug)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: usize,
    /// Bytes each end keeps.
    keep: usize,
    /// The stream was still open when reading stopped.
    still_open: bool,
}

impl Capture {
    fn new(margin: usize) -> Capture {
        Capture {
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
            keep: KEEP_EACH_END + margin,
            still_open: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len());
        let room = self.keep.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        if rest.len() >= self.keep {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.keep..]);
        } else {
            self.tail.extend(rest);
            let excess = self.tail.len().saturating_sub(self.keep);
            self.tail.drain(..excess);
        }
    }

    /// The output as text (invalid UTF-8 replaced), secrets redacted, cut to about
    /// [`OUTPUT_CAP`] bytes.
    fn render(&self, secrets: &[String]) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let dropped = self.total - self.head.len() - tail.len();
        let mut out = if dropped == 0 {
            let mut full = self.head.clone();
            full.extend_from_slice(&tail);
            let found = find_secrets(&full, secrets);
            let head_end = head_end(&full, &found);
            let tail_start = tail_start(&full, &found);
            if full.len() <= OUTPUT_CAP || head_end >= tail_start {
                redacted(&full, 0, full.len(), &found)
            } else {
                format!(
                    "{}{}{}",
                    redacted(&full, 0, head_end, &found),
                    cut_marker(tail_start - head_end),
                    redacted(&full, tail_start, full.len(), &found)
                )
            }
        } else {
            let head_found = find_secrets(&self.head, secrets);
            let tail_found = find_secrets(&tail, secrets);
            let head_end = head_end(&self.head, &head_found);
            let tail_start = tail_start(&tail, &tail_found);
            let cut = self.total - head_end - (tail.len() - tail_start);
            format!(
                "{}{}{}",
                redacted(&self.head, 0, head_end, &head_found),
                cut_marker(cut),
                redacted(&tail, tail_start, tail.len(), &tail_found)
            )
        };
        if self.still_open {
            out.push_str(&format!(
                "\n… still open {PIPE_GRACE:?} after the hook exited (a process it left running holds it): not read further …"
            ));
        }
        out
    }
}

fn cut_marker(bytes: usize) -> String {
    format!("\n… {bytes} bytes cut …\n")
}

/// Where each secret occurs in `buf`: sorted, non-overlapping `(start, end)` ranges, the
/// longest secret winning at a position (`secrets` is sorted longest first).
fn find_secrets(buf: &[u8], secrets: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    if secrets.is_empty() {
        return found;
    }
    let mut i = 0;
    'scan: while i < buf.len() {
        for secret in secrets {
            if buf[i..].starts_with(secret.as_bytes()) {
                found.push((i, i + secret.len()));
                i += secret.len();
                continue 'scan;
            }
        }
        i += 1;
    }
    found
}

/// Where the kept head of `buf` ends: after [`KEEP_EACH_END`] bytes, or after the secret that
/// crosses that point.
fn head_end(buf: &[u8], found: &[(usize, usize)]) -> usize {
    let mut end = KEEP_EACH_END.min(buf.len());
    for &(start, stop) in found {
        if start < end && end < stop {
            end = stop;
        }
    }
    end
}

/// Where the kept tail of `buf` starts: [`KEEP_EACH_END`] bytes before its end, or at the
/// secret that crosses that point.
fn tail_start(buf: &[u8], found: &[(usize, usize)]) -> usize {
    let mut begin = buf.len().saturating_sub(KEEP_EACH_END);
    for &(start, stop) in found {
        if start < begin && begin < stop {
            begin = start;
        }
    }
    begin
}

/// `buf[from..to]` as text with every secret found inside replaced by `***`.
fn redacted(buf: &[u8], from: usize, to: usize, found: &[(usize, usize)]) -> String {
    let mut out = Vec::with_capacity(to - from);
    let mut at = from;
    for &(start, stop) in found {
        if start < from || stop > to {
            continue;
        }
        out.extend_from_slice(&buf[at..start]);
        out.extend_from_slice(b"***");
        at = stop;
    }
    out.extend_from_slice(&buf[at..to]);
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds an HTTP hook's request: a client of its own (the hook's CA file and timeout), the
/// substituted URL, headers and body.
fn http_request(
    hook: &HookConfig,
    http: &HttpHook,
    values: &Values<'_>,
) -> Result<reqwest::RequestBuilder, String> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

    // The attempt's own timeout bounds the whole exchange (see `http_attempt`), so that a slow
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
    use super::*;
    use crate::config::{Config, Env};
    use std::path::Path;

    const SECRET: &str = "tok-S3CRET-x";

    fn ctx(group: &str) -> HookContext {
        HookContext {
            group: GroupId::new(group),
            topics: vec!["orders".into(), "payments".into()],
            run_id: "run-7".into(),
            link: "migration-link".into(),
        }
    }

    fn hook(action: HookAction) -> HookConfig {
        HookConfig {
            key: "[hooks.stop]".into(),
            action,
            timeout: Duration::from_secs(20),
            retries: 0,
            env: BTreeMap::new(),
            secret_env: BTreeMap::new(),
        }
    }

    fn exec(argv: &[&str]) -> HookAction {
        HookAction::Exec {
            argv: argv.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn shell(script: &str) -> HookAction {
        HookAction::Shell {
            script: script.into(),
        }
    }

    fn only(kind: HookKind, hook: HookConfig) -> ConfiguredHooks {
        let mut config = HooksConfig::default();
        config.defaults.insert(kind, hook);
        ConfiguredHooks::new(&config).with_backoff(Duration::from_millis(10))
    }

    /// A folder of its own under the system temp folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("cutover-hooks-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("the temp folder is writable");
            TempDir(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn substitutes_known_placeholders_and_leaves_other_braces_alone() {
        let context = ctx("g");
        let stop = Values::new(HookKind::Stop, &context);
        let restart = Values::new(HookKind::Restart, &context);
        let cases = [
            ("deploy/{group}", "deploy/g"),
            (
                "{group}-{cluster}-{topics}-{run_id}-{link}",
                "g-origin-orders,payments-run-7-migration-link",
            ),
            ("{{group}}", "{group}"),
            (r#"{"a":{"b":1}}"#, r#"{"a":{"b":1}}"#),
            ("{a,b} {} { group } {group", "{a,b} {} { group } {group"),
            ("${group}", "$g"),
            ("{grop}", "{grop}"),
            ("é{group}ü", "égü"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                substitute(template, &stop, Encoding::Verbatim),
                expected,
                "{template}"
            );
        }
        assert_eq!(
            substitute("{cluster}", &restart, Encoding::Verbatim),
            "destination"
        );
        assert_eq!(
            unknown_placeholders("a {grop} {group} {x-1} {{y}} {z"),
            vec!["grop", "x-1"]
        );
        assert_eq!(
            placeholders_in_shell_text(r#"echo {group} "${group}" {{link}} {nope} {run_id}"#),
            vec!["group", "run_id"]
        );
        assert_eq!(
            percent_encode("a/b c?d&e#f%~._-"),
            "a%2Fb%20c%3Fd%26e%23f%25~._-"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[tokio::test]
    async fn exec_keeps_each_substituted_value_inside_its_one_argument() {
        let dir = TempDir::new("argv");
        let marker = dir.path("pwned");
        let m = marker.display();
        let group =
            format!(r#"a b "c" 'd' $(touch {m}) `touch {m}`; touch {m} && \ * {{link}} {{group}}"#);
        // Prints its argument count, then each argument between <>.
        let script = r#"printf '%s\n' "$#"; for a in "$@"; do printf '<%s>\n' "$a"; done"#;
        let hooks = only(
            HookKind::Stop,
            hook(exec(&[
                "/bin/sh",
                "-c",
                script,
                "argv0",
                "{group}",
                "g={group};t={topics}",
                "{cluster}",
                "{run_id}",
                "{link}",
            ])),
        );
        let report = hooks.run(HookKind::Stop, &ctx(&group)).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.stdout,
            format!("5\n<{group}>\n<g={group};t=orders,payments>\n<origin>\n<run-7>\n<migration-link>\n")
        );
        assert!(!marker.exists(), "a value was run as shell code");
        assert_eq!(report.exit_code, Some(0));
        assert_eq!(report.attempts, 1);
        let description = hooks
            .describe(HookKind::Stop, &ctx(&group))
            .expect("configured");
        assert_eq!(description, report.description);
        assert!(
            description.starts_with(r#"["/bin/sh", "-c", "#)
                && description.contains(&format!(r#", "argv0", {}, "#, quoted(&group))),
            "{description}"
        );
    }

    #[tokio::test]
    async fn shell_hooks_get_values_only_as_variables() {
        let dir = TempDir::new("shell");
        let marker = dir.path("pwned");
        let group = format!("x; touch {m}; echo $(touch {m})", m = marker.display());
        let script = r#"printf '%s|%s|%s|%s|%s|%s|%s' "$CUTOVER_GROUP" "$CUTOVER_CLUSTER" "$CUTOVER_TOPICS" "$CUTOVER_RUN_ID" "$CUTOVER_LINK" "$CUTOVER_HOOK" "$EXTRA""#;
        let mut restart = hook(shell(script));
        restart.env.insert("EXTRA".into(), "extra value".into());
        let hooks = only(HookKind::Restart, restart);
        let report = hooks.run(HookKind::Restart, &ctx(&group)).await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.stdout,
            format!("{group}|destination|orders,payments|run-7|migration-link|restart|extra value")
        );
        assert!(!marker.exists(), "the group id was run as shell code");
        assert_eq!(
            hooks.describe(HookKind::Restart, &ctx(&group)),
            Some(format!("/bin/sh -c {}", quoted(script)))
        );

        // The script text itself is never substituted, even when a config built by hand holds
        // a placeholder there.
        let hooks = only(HookKind::Stop, hook(shell("printf '%s' '{group}'")));
        let report = hooks.run(HookKind::Stop, &ctx(&group)).await;
        assert_eq!(report.stdout, "{group}");
    }

    /// Whether a process no longer runs (gone, or a zombie waiting for a reaper the container
    /// may not have).
    fn is_gone(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn a_timeout_kills_the_hooks_whole_process_group() {
        let dir = TempDir::new("timeout");
        let pid_file = dir.path("pid");
        let mut stop = hook(shell(r#"sleep 30 & echo $! > "$PID_FILE"; wait"#));
        stop.timeout = Duration::from_millis(500);
        stop.env
            .insert("PID_FILE".into(), pid_file.display().to_string());
        let hooks = only(HookKind::Stop, stop);
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 1);
        assert_eq!(report.exit_code, None);
        let error = report.error.unwrap_or_default();
        assert!(
            error.starts_with("still running after 500ms after 1 attempt, so its process group was killed; raise timeout in [hooks.stop]"),
            "{error}"
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the hook wrote its child's pid")
            .trim()
            .parse()
            .expect("a pid");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !is_gone(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(is_gone(pid), "the hook's child {pid} outlived the timeout");
    }

    #[tokio::test]
    async fn failed_attempts_are_retried_up_to_the_configured_count() {
        let dir = TempDir::new("retries");
        let counter = dir.path("counter");
        let mut stop = hook(shell(
            r#"echo x >> "$COUNTER"; echo "boom $(wc -l < "$COUNTER")" >&2; exit 3"#,
        ));
        stop.retries = 2;
        stop.env
            .insert("COUNTER".into(), counter.display().to_string());
        let report = only(HookKind::Stop, stop.clone())
            .run(HookKind::Stop, &ctx("g"))
            .await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 3);
        assert_eq!(
            std::fs::read_to_string(&counter).unwrap().lines().count(),
            3
        );
        assert_eq!(report.exit_code, Some(3));
        assert_eq!(report.stderr, "boom 3\n");
        let error = report.error.unwrap_or_default();
        assert!(
            error.starts_with("exit code 3 after 3 attempts; stderr: boom 3; run the hook of [hooks.stop] by hand"),
            "{error}"
        );

        // Success ends the retries.
        let flag = dir.path("flag");
        let mut flaky = hook(shell(
            r#"if [ -e "$FLAG" ]; then echo done; else touch "$FLAG"; exit 1; fi"#,
        ));
        flaky.retries = 5;
        flaky.env.insert("FLAG".into(), flag.display().to_string());
        let report = only(HookKind::Stop, flaky)
            .run(HookKind::Stop, &ctx("g"))
            .await;
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.attempts, 2);
        assert_eq!(report.error, None);
        assert_eq!(report.stdout, "done\n");

        // A program that cannot start is retried too, and named.
        let mut missing = hook(exec(&["/nonexistent/deploy-tool", "{group}"]));
        missing.retries = 1;
        let report = only(HookKind::Stop, missing)
            .run(HookKind::Stop, &ctx("g"))
            .await;
        assert_eq!(report.attempts, 2);
        let error = report.error.unwrap_or_default();
        assert!(
            error.starts_with(r#"cannot start "/nonexistent/deploy-tool": "#)
                && error.contains(
                    "(after 2 attempts); check that [hooks.stop] names an installed program"
                ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn long_output_keeps_its_head_and_tail() {
        let hooks = only(
            HookKind::Stop,
            hook(shell(
                "printf START; yes | head -c 100000; printf END; echo small >&2",
            )),
        );
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(report.ok, "{:?}", report.error);
        assert!(report.stdout.len() <= OUTPUT_CAP, "{}", report.stdout.len());
        assert!(report.stdout.starts_with("STARTy\ny\n"));
        assert!(report.stdout.ends_with("y\ny\nEND"));
        let cut = 100_008 - 2 * KEEP_EACH_END;
        assert!(
            report.stdout.contains(&format!("\n… {cut} bytes cut …\n")),
            "{}",
            &report.stdout[KEEP_EACH_END - 10..KEEP_EACH_END + 40]
        );
        assert_eq!(report.stderr, "small\n");
    }

    #[test]
    fn a_secret_crossing_a_cut_is_never_shown_in_part() {
        let secret = "SECRET-0123456789";
        let secrets = vec![secret.to_string()];
        // Output that fits the buffers whole, and output long enough to be dropped in between.
        for total in [OUTPUT_CAP + 100, 200_000] {
            for at in [KEEP_EACH_END - 5, total - KEEP_EACH_END - 5] {
                let mut output = vec![b'x'; total];
                output[at..at + secret.len()].copy_from_slice(secret.as_bytes());
                let mut capture = Capture::new(secret.len());
                for chunk in output.chunks(1000) {
                    capture.push(chunk);
                }
                let text = capture.render(&secrets);
                assert!(text.contains("***"), "{total} {at}");
                for part in secret.as_bytes().windows(4) {
                    let part = std::str::from_utf8(part).unwrap();
                    assert!(!text.contains(part), "{total} {at}: {part} shown");
                }
                assert!(text.contains("bytes cut"));
            }
        }
        // Short output is kept whole, every secret redacted.
        let mut capture = Capture::new(secret.len());
        capture.push(format!("a {secret} b {secret}").as_bytes());
        assert_eq!(capture.render(&secrets), "a *** b ***");
    }

    #[tokio::test]
    async fn secrets_are_redacted_from_output_errors_and_descriptions() {
        let quoted_secret = r#"q"S3CRET\x"#;
        let other = format!("--other={quoted_secret}");
        let mut stop = hook(exec(&[
            "/bin/sh",
            "-c",
            r#"echo "token=$TOKEN"; echo "bad $TOKEN" >&2; exit 4"#,
            "sh",
            "--token=tok-S3CRET-x",
            &other,
        ]));
        stop.secret_env.insert("TOKEN".into(), Secret::new(SECRET));
        stop.secret_env
            .insert("QUOTED".into(), Secret::new(quoted_secret));
        let hooks = only(HookKind::Stop, stop);
        let report = hooks.run(HookKind::Stop, &ctx("g")).await;
        assert!(!report.ok);
        assert_eq!(report.stdout, "token=***\n", "the hook got its secret");
        assert_eq!(report.stderr, "bad ***\n");
        assert!(
            report
                .description
                .ends_with(r#""--token=***", "--other=***"]"#),
            "{}",
            report.description
        );
        let error = report.error.clone().unwrap_or_default();
        assert!(error.contains("stderr: bad ***"), "{error}");
        let everything = format!(
            "{} {:?} {:?} {:?}",
            serde_json::to_string(&report).unwrap(),
            hooks.describe(HookKind::Stop, &ctx("g")),
            hooks,
            report
        );
        assert!(!everything.contains("S3CRET"), "{everything}");
    }

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
