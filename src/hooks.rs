//! Hooks: how the agent stops, excludes, restarts and rolls back a group through the
//! operator's own tooling.
//!
//! The `Hooks` trait is the seam: the cutover driver asks for a hook by kind and gets a
//! report back; it never learns whether a process, an HTTP call or the simulator did the work.
//! What a hook did is never trusted: the driver verifies every effect by observing the
//! clusters.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{GroupId, Role};

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

/// Temporary: no hooks configured.
pub struct Unconfigured;

#[async_trait]
impl Hooks for Unconfigured {
    fn describe(&self, _kind: HookKind, _ctx: &HookContext) -> Option<String> {
        None
    }

    fn exclude_is_builtin(&self, _group: &GroupId) -> bool {
        true
    }

    async fn run(&self, kind: HookKind, _ctx: &HookContext) -> HookReport {
        HookReport {
            kind,
            description: String::new(),
            attempts: 0,
            ok: false,
            error: Some(format!("no {} hook is configured", kind.as_str())),
            exit_code: None,
            http_status: None,
            stdout: String::new(),
            stderr: String::new(),
            duration_ms: 0,
        }
    }
}
