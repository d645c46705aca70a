//! The one top-level error of cutover, its exit codes and its rendering for operators.
//!
//! A failed verification is *not* an error (it is a verdict, exit code 1). Errors are what
//! stops cutover from answering at all: bad usage or configuration, an unreachable cluster or
//! link, an interrupt, output that cannot be written, a bug. Each variant knows its exit code
//! (the README's table is the contract) and renders with a `hint:` line saying what to do
//! next. The categories must tell the truth: only the operator's own input is "bad usage".

use std::fmt::Write as _;

use crate::model::Role;

/// Exit codes are API: documented in the README and changed only with it.
pub mod exit {
    /// Safe, done.
    pub const OK: i32 = 0;
    /// Unsafe, refused or rolled back.
    pub const UNSAFE: i32 = 1;
    /// Bad usage or configuration.
    pub const USAGE: i32 = 2;
    /// A cluster or the link cannot be reached, or refuses the agent (an ACL, credentials, TLS).
    pub const UNREACHABLE: i32 = 3;
    /// A runbook finished only partly: the report says which stages, groups and topics are
    /// where, and what to run next.
    pub const PARTIAL: i32 = 4;
    /// A resume is needed, or another agent holds the lock.
    pub const RESUME_NEEDED: i32 = 5;
    /// The output (stdout, a report) could not be written.
    pub const OUTPUT: i32 = 6;
    /// A bug in cutover: an invariant did not hold.
    pub const INTERNAL: i32 = 7;
    /// Interrupted (Ctrl-C, SIGINT) during a command; a cutover's journal stays resumable.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command that reads files or prints help, asked for where only commands that run
    /// against the clusters can (inside a scenario).
    #[error("`cutover {command}` does not run inside a scenario")]
    NotInScenario {
        command: &'static str,
        hint: &'static str,
    },

    #[error("invalid configuration: {0}")]
    Config(String),

    /// A command-line argument that does not parse or does not fit the command.
    #[error("invalid argument: {message}")]
    Usage { message: String, hint: String },

    /// Standard output or a report file could not be written.
    #[error("cannot write {what}: {source}")]
    Output {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// An invariant of cutover's own code did not hold: a bug, never the operator's doing.
    #[error("internal error: {0}")]
    Internal(String),

    /// Ctrl-C (SIGINT) arrived while the command was running.
    #[error("interrupted during `cutover {command}`")]
    Interrupted { command: String, hint: String },

    #[error("cannot create a client for the {role} cluster: {message}")]
    ClientConfig { role: Role, message: String },

    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    ConfigProblems(Vec<String>),

    #[error("invalid scenario:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Scenario(Vec<String>),

    #[error("invalid runbook {}:\n{}", .path.display(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Runbook {
        path: std::path::PathBuf,
        problems: Vec<String>,
    },

    #[error("journal: {0}")]
    Journal(String),

    /// A request that does not fit the group's state (resume with nothing to resume, …).
    #[error("{message}")]
    State { message: String, hint: String },

    #[error("another cutover agent is driving {what} (it holds {})", .lock.display())]
    Locked {
        /// "group orders", "the runbook night-1".
        what: String,
        /// The command that continues it once no agent runs it.
        resume: String,
        lock: std::path::PathBuf,
    },

    /// Another agent took a journal this agent shares (`[journal] store = "kafka"`): this agent
    /// stopped before announcing (so before doing) anything more.
    #[error(
        "{what} was taken over by another agent ({by}): this agent stopped before its next step"
    )]
    Fenced {
        what: String,
        /// Who took it, as far as the shared journal tells.
        by: String,
        /// Where the shared journal is.
        store: String,
    },

    /// The shared journal store (`[journal] store = "kafka"`) did not take or give a record:
    /// the agent stopped before its next step, so nothing it had not journaled was done.
    #[error("the shared journal ({store}) failed: {detail}")]
    SharedJournal { store: String, detail: String },

    /// A file given as a journal is not one (its first line is not a journal record).
    #[error("{} is not a cutover journal: {why}", .path.display())]
    NotAJournal {
        path: std::path::PathBuf,
        why: String,
    },

    #[error("a cutover of group {group} was interrupted in phase {phase} ({})", .journal.display())]
    InProgress {
        group: String,
        /// `cutover group GROUP` (with `--to origin` on the way back).
        command: String,
        phase: String,
        journal: std::path::PathBuf,
    },

    /// An earlier run of a migration-wide command left something to finish first.
    #[error("{message} ({})", .journal.display())]
    Unfinished {
        message: String,
        journal: std::path::PathBuf,
        hint: String,
    },

    #[error("the link {link} did not answer {what}: {detail}")]
    LinkUnreachable {
        link: String,
        what: String,
        detail: String,
    },

    /// The TLS handshake with the link's REST endpoint failed: a certificate is untrusted,
    /// missing or refused. Sending again cannot help.
    #[error("the link {link} could not be reached over TLS for {what}: {detail}")]
    LinkTls {
        link: String,
        what: String,
        detail: String,
    },

    #[error("the link {link} refused {what}: HTTP {status}: {message}")]
    LinkRefused {
        link: String,
        what: String,
        status: u16,
        message: String,
    },

    /// The cluster's authorizer refused the agent's principal (a missing ACL).
    #[error("the {role} cluster refused {what}: {operation} on {resource} is not allowed for the agent's principal ({code})")]
    Denied {
        role: Role,
        what: &'static str,
        /// The ACL operation the request needs (`Describe`, `Read`, ...).
        operation: &'static str,
        /// The resource, as an operator names it in an ACL (`Group "orders"`, `Cluster`).
        resource: String,
        code: String,
    },

    #[error("the {role} cluster did not answer {what}: {source}{}", .client.as_ref().map(|c| format!("; librdkafka: {c}")).unwrap_or_default())]
    Unreachable {
        role: Role,
        what: &'static str,
        #[source]
        source: crate::model::BrokerError,
        /// librdkafka's last word on its connections (broker address and reason), if any.
        client: Option<String>,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotInScenario { .. }
            | Error::Usage { .. }
            | Error::Config(_)
            | Error::ConfigProblems(_)
            | Error::Scenario(_)
            | Error::Runbook { .. }
            | Error::Journal(_)
            | Error::State { .. }
            | Error::NotAJournal { .. }
            | Error::ClientConfig { .. } => exit::USAGE,
            Error::Locked { .. }
            | Error::InProgress { .. }
            | Error::Unfinished { .. }
            | Error::Fenced { .. }
            | Error::SharedJournal { .. } => exit::RESUME_NEEDED,
            Error::Unreachable { .. }
            | Error::Denied { .. }
            | Error::LinkUnreachable { .. }
            | Error::LinkTls { .. }
            | Error::LinkRefused { .. } => exit::UNREACHABLE,
            Error::Output { .. } => exit::OUTPUT,
            Error::Internal(_) => exit::INTERNAL,
            Error::Interrupted { .. } => exit::INTERRUPTED,
        }
    }

    /// What the operator should do next.
    pub fn hint(&self) -> String {
        match self {
            Error::NotInScenario { hint, .. } => (*hint).to_string(),
            Error::Usage { hint, .. } | Error::Interrupted { hint, .. } => hint.clone(),
            Error::Output { .. } => {
                "check that the output's destination (stdout, disk) has room and is writable, then run the command again".into()
            }
            Error::Internal(_) => {
                "this is a bug in cutover: please report it with the command, its output with -vv, and the journal if a cutover was running".into()
            }
            Error::Config(_) | Error::ConfigProblems(_) => {
                "fix the configuration (cutover.toml or CUTOVER_* variables) and run the command again".into()
            }
            Error::Runbook { .. } => {
                "fix the runbook (its format: docs/runbooks.md) and run it again; nothing was changed".into()
            }
            Error::Scenario(_) => {
                "fix the scenario file (its format is in scenarios/README.md) and run it again".into()
            }
            Error::State { hint, .. } | Error::Unfinished { hint, .. } => hint.clone(),
            Error::Journal(_) => {
                "check that the journal directory ([cutover] journal-dir, CUTOVER_JOURNAL_DIR) is writable and on a local disk".into()
            }
            Error::NotAJournal { .. } => {
                "give `cutover report` a journal (`<journal-dir>/<group>.jsonl`), a journal folder, or a group id".into()
            }
            Error::SharedJournal { .. } => {
                "the agent stopped before its next step (nothing it had not journaled was done); once the journal's cluster answers (and the agent may write its topic and transactional id, docs/journal-store.md), run the same command with --resume".into()
            }
            Error::Fenced { store, .. } => format!(
                "let the agent that took it finish: its records are in the {store} (`cutover report` shows them); nothing this agent had not journaled was done"
            ),
            Error::Locked { resume, .. } => format!(
                "wait for the other agent to finish, or check `cutover report` on its journal; once no agent runs, `{resume}` continues"
            ),
            Error::InProgress { command, .. } => format!(
                "continue it with `{command} --resume`, or undo it with `{command} --rollback`"
            ),
            Error::LinkUnreachable { .. } => {
                "check [link] rest-url (it ends in /kafka/v3) and that the REST endpoint is reachable from here".into()
            }
            Error::LinkTls { .. } => {
                "check the link's TLS settings: [link] ca-file must hold the CA that signed the REST endpoint's certificate, and an endpoint that asks for a client certificate needs cert-file and key-file (CUTOVER_LINK_CA_FILE, CUTOVER_LINK_CERT_FILE, CUTOVER_LINK_KEY_FILE)".into()
            }
            Error::LinkRefused { status: 401 | 403, .. } => {
                "check the link's REST credentials ([link] username-env / password-env) and their permissions".into()
            }
            Error::LinkRefused { .. } => "check [link] name and cluster-id against the destination cluster's links".into(),
            Error::ClientConfig { role, .. } => format!(
                "check the librdkafka properties of the [{role}] section (bootstrap.servers, security.protocol, sasl.*, ssl.*)"
            ),
            Error::Denied { role, operation, resource, .. } => format!(
                "grant the agent's principal ALLOW {operation} on {resource} on the {role} cluster (or on a PREFIXED or `*` name that covers it); docs/security.md lists every ACL cutover needs"
            ),
            Error::Unreachable { role, .. } => format!(
                "check that the {role} cluster's bootstrap.servers is right and reachable from here, and that the credentials allow Describe on its topics and groups"
            ),
        }
    }

    /// Renders the error, its cause chain and the hint, for stderr.
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let _ = write!(out, "\n  caused by: {cause}");
            source = cause.source();
        }
        let _ = write!(out, "\nhint: {}", self.hint());
        out
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BrokerError;

    #[test]
    fn a_refusal_by_the_authorizer_names_the_acl_to_add_and_exits_3() {
        let err = Error::Denied {
            role: Role::Destination,
            what: "a ListConsumerGroupOffsets request",
            operation: "Describe",
            resource: "Group \"orders\"".into(),
            code: "GROUP_AUTHORIZATION_FAILED".into(),
        };
        assert_eq!(err.exit_code(), exit::UNREACHABLE);
        let text = err.render();
        assert!(text.contains("the destination cluster refused a ListConsumerGroupOffsets request: Describe on Group \"orders\""), "{text}");
        assert!(text.contains("grant the agent's principal ALLOW Describe on Group \"orders\" on the destination cluster"), "{text}");
        assert!(text.contains("docs/security.md"), "{text}");
    }

    #[test]
    fn unreachable_renders_cause_and_hint_and_exits_3() {
        let err = Error::Unreachable {
            role: Role::Destination,
            what: "a metadata request",
            source: BrokerError {
                code: -185,
                name: "_TIMED_OUT".into(),
                message: "Local: Timed out".into(),
            },
            client: Some(
                "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused"
                    .into(),
            ),
        };
        assert_eq!(err.exit_code(), exit::UNREACHABLE);
        assert!(
            err.render().contains("; librdkafka: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused"),
            "{}",
            err.render()
        );
        let text = err.render();
        assert!(
            text.starts_with("error: the destination cluster did not answer a metadata request")
        );
        assert!(
            text.contains("caused by: _TIMED_OUT: Local: Timed out"),
            "{text}"
        );
        assert!(
            text.contains("\nhint: check that the destination cluster's bootstrap.servers"),
            "{text}"
        );
    }

    #[test]
    fn only_the_operators_input_is_bad_usage() {
        let usage = Error::Usage {
            message: "invalid duration \"abc\"".into(),
            hint: "see `cutover verify --help`".into(),
        };
        assert_eq!(usage.exit_code(), exit::USAGE);
        assert!(usage.render().contains("hint: see `cutover verify --help`"));
        let output = Error::Output {
            what: "the report".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(output.exit_code(), exit::OUTPUT);
        assert!(
            output.render().contains("caused by: disk full"),
            "{}",
            output.render()
        );
        let bug = Error::Internal("verify returned no result for group g".into());
        assert_eq!(bug.exit_code(), exit::INTERNAL);
        assert!(bug.hint().contains("bug in cutover"));
        let interrupted = Error::Interrupted {
            command: "group g".into(),
            hint: "continue it with `cutover group g --resume`".into(),
        };
        assert_eq!(interrupted.exit_code(), exit::INTERRUPTED);
    }

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(Error::Config("x".into()).exit_code(), exit::USAGE);
        let e = Error::ClientConfig {
            role: Role::Origin,
            message: "bad".into(),
        };
        assert_eq!(e.exit_code(), exit::USAGE);
        assert!(e.render().contains("[origin]"));
    }
}
