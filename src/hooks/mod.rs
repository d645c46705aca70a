//! Hooks: how the agent stops, excludes, restarts and rolls back a group through the
//! operator's own tooling.
//!
//! The `Hooks` trait is the seam: the cutover driver asks for a hook by kind and gets a
//! report back; it never learns whether a process, an HTTP call or the simulator did the work.
//! What a hook did is never trusted: the driver verifies every effect by observing the
//! clusters.
//!
//! [`ConfiguredHooks`] runs the hooks of `cutover.toml` (parsed into [`HooksConfig`] by
//! `config/hooks.rs`): an argv (`exec`), a shell script (`shell`, only when the config asks for
//! one) or an HTTP request (`http`). Its security rules, which nothing here may weaken:
//!
//! - A value (group id, topics, run id, link) is never text a shell or a JSON parser reads.
//!   In an argv each placeholder is substituted inside its one argument and no shell runs; a
//!   shell script gets the values only as `CUTOVER_*` variables; a URL gets them
//!   percent-encoded; a JSON body gets them as string content, escaped by `serde_json`.
//! - Secrets (`env-from`, `headers-env` values) are replaced by `***` in everything a report
//!   carries: description, output and error. No exec or shell hook inherits a variable the
//!   configuration read a secret from (`*-env`, `env-from`, `headers-env`).
//! - A hook is bounded: a timeout per attempt that kills the hook's whole process group, a
//!   bounded number of retries, and output capped in memory as it is read.
//!
//! It must not decide anything: the report says what happened, the driver decides what it
//! means. It never panics on anything a config or a hook's output can contain. It does not
//! read the config: the config depends on this module's spec types, never the reverse.
//!
//! | file | concept |
//! | --- | --- |
//! | `spec.rs` | what a hook is: kind, exec/shell/http/built-in action, bounds, variables |
//! | `template.rs` | placeholders: checked for the config, substituted per argument per run |
//! | `runner.rs` | the `Hooks` trait and `ConfiguredHooks`: retries, backoff, the report |
//! | `attempt.rs` | one attempt's outcome and the report's error for a failure |
//! | `process.rs` | exec and shell hooks: spawning, environment, timeout, termination on interrupt |
//! | `http.rs` | HTTP hooks: the request, its client, the answer |
//! | `capture.rs` | bounded output capture and redaction of secrets |

mod attempt;
mod capture;
mod http;
mod process;
mod runner;
mod spec;
mod template;
#[cfg(test)]
pub(crate) mod testing;

pub use process::{terminate_interrupted, withhold_variable};
#[cfg(test)]
pub(crate) use runner::BUILTIN_EXCLUDE_DESCRIPTION;
pub use runner::{ConfiguredHooks, HookReport, Hooks};
pub(crate) use spec::{hook_section, toml_key};
pub use spec::{
    HookAction, HookConfig, HookKind, HooksConfig, HttpHook, DEFAULT_HOOK_RETRIES,
    DEFAULT_HOOK_TIMEOUT, MAX_HOOK_RETRIES,
};
pub use template::HookContext;
pub(crate) use template::{
    has_placeholder, placeholder_variable, placeholders_in_shell_text, unknown_placeholders,
    with_sample_values, HOOK_VARIABLES, PLACEHOLDERS,
};
