//! One attempt at running a hook: its outcome, why it failed, and the report's error for the
//! last failed one (what failed, how often, what the hook said, and what to do next).
//!
//! The message is not redacted here; the runner redacts everything it reports.

use std::time::Duration;

use super::spec::HookConfig;
use super::template::quoted;

/// Most characters of a failed hook's output quoted in the report's error.
const ERROR_EXCERPT: usize = 400;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
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
    pub(super) fn retryable(&self) -> bool {
        !matches!(self, Failure::Invalid(_))
    }

    /// A few words for the log line of a retry.
    pub(super) fn summary(&self) -> String {
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
pub(super) struct Attempt {
    pub(super) failure: Option<Failure>,
    pub(super) exit_code: Option<i32>,
    pub(super) http_status: Option<u16>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Attempt {
    pub(super) fn failed(failure: Failure) -> Self {
        Attempt {
            failure: Some(failure),
            ..Attempt::default()
        }
    }
}

/// The report's error: what failed, how often, what the hook said, and what to do.
pub(super) fn failure_message(
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
    match failure {
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
    }
}
