//! What a hook is: its kind (stop, exclude, restart, rollback) and what it does (`exec`,
//! `shell`, `http` or the built-in link exclusion), with its bounds and variables, as
//! `config/hooks.rs` reads them from `[hooks]` and `[groups."<id>".hooks]`.
//!
//! Pure data and lookups: nothing here substitutes, runs or sends anything. Every secret a
//! spec holds is a [`Secret`], so that `Debug` of any of these types shows `***`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// A runbook stage's own hook (`kind = "hook"`: stop or start producers, …), defined in
    /// the runbook, not per group.
    Stage,
    /// Promote mirror topics through the operator's own tooling instead of the link's REST
    /// API (`[hooks.promote]`, link-wide, `{topics}` the topics); cutover still watches each
    /// mirror reach STOPPED.
    Promote,
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Stop => "stop",
            HookKind::Exclude => "exclude",
            HookKind::Restart => "restart",
            HookKind::Rollback => "rollback",
            HookKind::Stage => "stage",
            HookKind::Promote => "promote",
        }
    }

    /// The cluster the hook acts on.
    pub fn cluster(self) -> Role {
        match self {
            HookKind::Restart | HookKind::Promote => Role::Destination,
            HookKind::Stop | HookKind::Rollback | HookKind::Exclude | HookKind::Stage => {
                Role::Origin
            }
        }
    }
}

/// Bound on one attempt of a hook when its config sets no `timeout`.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries after a failed attempt when the config sets no `retries`.
pub const DEFAULT_HOOK_RETRIES: u32 = 2;
/// Most retries a config may ask for.
pub const MAX_HOOK_RETRIES: u32 = 10;

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
    pub(super) fn secrets(&self) -> impl Iterator<Item = &Secret> {
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
        return key.to_string();
    }
    // A basic string by hand: toml's own value writer may choose a multi-line string (`"""'"""`
    // for `'"`), which a table header cannot hold.
    let mut out = String::from("\"");
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
