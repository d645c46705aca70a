//! Running hooks: the [`Hooks`] trait (the seam the cutover driver calls, which the simulator
//! implements too) and [`ConfiguredHooks`], its implementation over the hooks of a loaded
//! config, with retries, backoff and redaction of everything a report carries.
//!
//! It must not decide anything: the report says what happened, the driver decides what it
//! means.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::attempt::{failure_message, Attempt, Failure};
use super::capture::Redaction;
use super::spec::{hook_section, HookAction, HookConfig, HookKind, HooksConfig, MAX_HOOK_RETRIES};
use super::template::{quoted, substitute, Encoding, HookContext, Values};
use super::{http, process};
use crate::model::GroupId;
use crate::secret::Secret;

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

    /// What a runbook stage's own hook would run, substituted and redacted.
    fn describe_stage(&self, hook: &HookConfig, ctx: &HookContext) -> String;

    /// Runs a runbook stage's own hook (`ctx.group` is empty), with its timeout and retries.
    async fn run_stage(&self, hook: &HookConfig, ctx: &HookContext) -> HookReport;
}

/// Pause before the first retry; it doubles before each next one, up to [`MAX_BACKOFF`].
const HOOK_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between two attempts: a group may be stopped while a hook is retried, so a
/// doubling that reaches minutes helps nobody.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What `describe` says of the built-in exclusion.
pub(crate) const BUILTIN_EXCLUDE_DESCRIPTION: &str =
    "built-in: exclude the group in the link's consumer.offset.group.filters";

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

/// The hooks of a loaded config.
///
/// `describe` renders an exec hook as its substituted argv in JSON array syntax
/// (`["kubectl", "scale", "deploy/orders app"]`: one quoted string per argument, so an argument
/// holding a space or a quote is unambiguous), a shell hook as `/bin/sh -c "<script>"` (the
/// script JSON-quoted, not substituted), an HTTP hook as `METHOD url`, all with secrets
/// replaced by `***`.
pub struct ConfiguredHooks {
    config: HooksConfig,
    /// Every secret value of every hook, to redact from everything a report carries.
    secrets: Redaction,
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

impl ConfiguredHooks {
    /// The hooks of a loaded config. Every secret they hold is collected once, here, for
    /// redaction: as written, and as it reads once JSON-escaped (how descriptions quote
    /// arguments, and how a hook printing JSON would show it).
    pub fn new(hooks: &HooksConfig) -> ConfiguredHooks {
        ConfiguredHooks {
            config: hooks.clone(),
            secrets: Redaction::new(hooks.secrets()),
            backoff: HOOK_BACKOFF,
        }
    }

    /// The same hooks with another first pause between attempts.
    #[cfg(test)]
    pub(crate) fn with_backoff(mut self, backoff: Duration) -> ConfiguredHooks {
        self.backoff = backoff;
        self
    }

    /// `text` with every secret replaced by `***`.
    fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
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

    async fn attempt(
        &self,
        hook: &HookConfig,
        values: &Values<'_>,
        secrets: &Redaction,
    ) -> Attempt {
        match &hook.action {
            HookAction::Exec { argv } => {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| substitute(a, values, Encoding::Verbatim))
                    .collect();
                process::attempt(hook, &argv, values, secrets).await
            }
            HookAction::Shell { script } => {
                let argv = ["/bin/sh".to_string(), "-c".to_string(), script.clone()];
                process::attempt(hook, &argv, values, secrets).await
            }
            HookAction::Http(http) => http::attempt(hook, http, values, secrets).await,
            HookAction::BuiltinLink => Attempt::failed(Failure::Invalid(
                "the built-in exclusion is not a hook to run".into(),
            )),
        }
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
        self.run_config(kind, hook, ctx, &values, &self.secrets, started)
            .await
    }

    fn describe_stage(&self, hook: &HookConfig, ctx: &HookContext) -> String {
        self.redact(&describe_hook(hook, &Values::new(HookKind::Stage, ctx)))
    }

    async fn run_stage(&self, hook: &HookConfig, ctx: &HookContext) -> HookReport {
        let started = Instant::now();
        let values = Values::new(HookKind::Stage, ctx);
        // The config's secrets and the stage's own (its env-from, its secret headers).
        let own: Vec<&Secret> = hook
            .secret_env
            .values()
            .chain(
                match &hook.action {
                    HookAction::Http(http) => Some(http.secret_headers.values()),
                    _ => None,
                }
                .into_iter()
                .flatten(),
            )
            .collect();
        let secrets = Redaction::new(self.config.secrets().chain(own.iter().copied()));
        self.run_config(HookKind::Stage, hook, ctx, &values, &secrets, started)
            .await
    }
}

impl ConfiguredHooks {
    /// Runs one configured hook with its retries; the report redacted.
    async fn run_config(
        &self,
        kind: HookKind,
        hook: &HookConfig,
        ctx: &HookContext,
        values: &Values<'_>,
        secrets: &Redaction,
        started: Instant,
    ) -> HookReport {
        let description = secrets.redact(&describe_hook(hook, values));
        if hook.action == HookAction::BuiltinLink {
            return Self::unattempted(
                kind,
                description,
                format!(
                    "the exclusion of group {} is the built-in link action, which the driver performs itself through the link's REST API; to run a hook instead, configure exec, shell or http in {}",
                    secrets.redact(ctx.group.as_str()),
                    hook_section(None, kind)
                ),
            );
        }

        let max_attempts = hook.retries.min(MAX_HOOK_RETRIES) + 1;
        let mut attempts = 0;
        let last = loop {
            attempts += 1;
            let attempt = self.attempt(hook, values, secrets).await;
            let failure = match &attempt.failure {
                Some(failure) if failure.retryable() && attempts < max_attempts => failure,
                _ => break attempt,
            };
            let pause = self.pause_before_retry(attempts);
            tracing::warn!(
                "the {} hook for group {} failed ({}, attempt {attempts} of {max_attempts}): retrying in {pause:?}",
                kind.as_str(),
                secrets.redact(ctx.group.as_str()),
                secrets.redact(&failure.summary()),
            );
            tokio::time::sleep(pause).await;
        };
        let error = last
            .failure
            .as_ref()
            .map(|failure| secrets.redact(&failure_message(hook, failure, attempts, &last)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::testing::{ctx, exec, hook, only, shell, TempDir, SECRET};
    use crate::secret::Secret;

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
}
