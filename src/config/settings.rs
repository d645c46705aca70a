//! `[defaults]` (defaults for command-line options: `--wait`, the poll interval) and
//! `[cutover]` (how a cutover paces and bounds its phases: journal folder, sync interval and
//! timeout factor, phase timeouts, the restart window, stable reads), with their defaults and
//! bounds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Table;

use super::load::Env;
use super::problems::{check_known_keys, Problems};
use super::value::{bounded, positive_duration, setting};
use crate::model::FinalOffsets;

pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

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
    "final-offsets",
];

/// `[cutover] journal-dir` when unset: relative to the working directory.
pub const DEFAULT_JOURNAL_DIR: &str = "cutover-journal";
const DEFAULT_SYNC_TIMEOUT_FACTOR: u32 = 3;
const MAX_SYNC_TIMEOUT_FACTOR: u32 = 20;
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const DEFAULT_MIRROR_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_RESTART_TIMEOUT: Duration = Duration::from_secs(2 * 60);
const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(60);
const DEFAULT_STABLE_READS: u32 = 2;
const MIN_STABLE_READS: u32 = 2;
const MAX_STABLE_READS: u32 = 10;

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
    /// Who writes the final offsets on the destination: the agent, or the link's sync.
    pub final_offsets: FinalOffsets,
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
            // The agent writes them: the downtime does not wait for the link's sync tick.
            final_offsets: FinalOffsets::Agent,
        }
    }
}

pub(super) fn defaults(section: Option<&Table>, env: &Env, problems: &mut Problems) -> Defaults {
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

pub(super) fn cutover_settings(
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
    let final_offsets = match get("final-offsets", Some("CUTOVER_FINAL_OFFSETS"), problems) {
        None => defaults.final_offsets,
        Some(s) => match s.value.as_str() {
            "agent" => FinalOffsets::Agent,
            "link" => FinalOffsets::Link,
            other => {
                problems.push(format!(
                    "{}: final-offsets is \"agent\" (cutover writes them) or \"link\" (the link's offset sync does), not {other:?}",
                    s.from
                ));
                defaults.final_offsets
            }
        },
    };
    CutoverSettings {
        journal_dir,
        sync_interval,
        sync_timeout_factor,
        stop_timeout: duration("stop-timeout", defaults.stop_timeout, problems),
        mirror_timeout: duration("mirror-timeout", defaults.mirror_timeout, problems),
        restart_timeout: duration("restart-timeout", defaults.restart_timeout, problems),
        restart_window: duration("restart-window", defaults.restart_window, problems),
        stable_reads,
        final_offsets,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{from_toml, lab_env, problems};
    use super::super::Config;
    use super::*;

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
                final_offsets: FinalOffsets::Agent,
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
            final-offsets = "link"
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
                final_offsets: FinalOffsets::Link,
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
            final-offsets = "mirror"
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
                "[cutover] final-offsets: final-offsets is \"agent\" (cutover writes them) or \"link\" (the link's offset sync does), not \"mirror\"",
                "[cutover] stop-timeout: \"2\" has no unit: write a whole number and a unit: \"1500ms\", \"10s\", \"5m\" or \"1h\"",
            ]
        );
    }
}
