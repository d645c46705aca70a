//! `[journal]`: where cutover journals are kept. `store = "file"` (the default): files under
//! `[cutover] journal-dir`, locked per group, for one operator on one host. `store = "kafka"`:
//! every record of a group's cutover is also committed, before the side effect it announces, to
//! a topic on one of the two clusters, by a transactional producer whose id is derived from the
//! link and the group, so an agent on another host can take the group over (fencing the first)
//! and resume it from the records there (`docs/journal-store.md`).

use toml::Table;

use super::load::Env;
use super::problems::{check_known_keys, Problems};
use super::value::{bounded, setting};
use crate::model::Role;

const JOURNAL_KEYS: &[&str] = &["store", "cluster", "topic", "partitions"];

/// The topic a Kafka journal store writes when `[journal] topic` is unset.
pub const DEFAULT_JOURNAL_TOPIC: &str = "cutover-journal";
const DEFAULT_PARTITIONS: u32 = 12;

/// The topic of a runbook's work items beside the journal topic `journal_topic` (the same
/// prefix, so one ACL covers both).
pub fn work_topic(journal_topic: &str) -> String {
    format!("{journal_topic}-work")
}
const MAX_PARTITIONS: u32 = 1000;

/// Where journals are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalStore {
    /// Files under `journal-dir` only.
    File,
    /// Files under `journal-dir` as this host's copy, and a topic as the truth shared by every
    /// agent.
    Kafka {
        /// The cluster holding the topic.
        cluster: Role,
        topic: String,
        /// Partitions the topic is created with (when cutover creates it).
        partitions: i32,
    },
}

/// `[journal]`, with `CUTOVER_JOURNAL_STORE`, `CUTOVER_JOURNAL_CLUSTER` and
/// `CUTOVER_JOURNAL_TOPIC` over the file.
pub(super) fn journal_store(
    section: Option<&Table>,
    env: &Env,
    problems: &mut Problems,
) -> JournalStore {
    let empty = Table::new();
    let table = section.unwrap_or(&empty);
    check_known_keys("[journal]", table, JOURNAL_KEYS, problems);
    let get = |key: &str, var: Option<&str>, problems: &mut Problems| {
        setting(table, "[journal]", key, var, env, problems)
    };
    let kafka = match get("store", Some("CUTOVER_JOURNAL_STORE"), problems) {
        None => false,
        Some(s) => match s.value.as_str() {
            "file" => false,
            "kafka" => true,
            other => {
                problems.push(format!(
                    "{}: the journal store is \"file\" (files under journal-dir) or \"kafka\" (a topic every agent shares), not {other:?}",
                    s.from
                ));
                false
            }
        },
    };
    let cluster = match get("cluster", Some("CUTOVER_JOURNAL_CLUSTER"), problems) {
        None => Role::Destination,
        Some(s) => match s.value.as_str() {
            "destination" => Role::Destination,
            "origin" => Role::Origin,
            other => {
                problems.push(format!(
                    "{}: the journal's cluster is \"destination\" or \"origin\", not {other:?}",
                    s.from
                ));
                Role::Destination
            }
        },
    };
    let topic = match get("topic", Some("CUTOVER_JOURNAL_TOPIC"), problems) {
        None => DEFAULT_JOURNAL_TOPIC.to_string(),
        Some(s) if !valid_topic(&s.value) => {
            problems.push(format!(
                "{}: {:?} is not a topic name (1 to 249 of ASCII letters, digits, '.', '_' and '-', not \".\" or \"..\")",
                s.from, s.value
            ));
            DEFAULT_JOURNAL_TOPIC.to_string()
        }
        Some(s) => s.value,
    };
    let partitions = get("partitions", None, problems)
        .and_then(|s| bounded(&s, 1, MAX_PARTITIONS, "a number of partitions", problems))
        .unwrap_or(DEFAULT_PARTITIONS);
    let configured = ["cluster", "topic", "partitions"]
        .iter()
        .any(|k| table.contains_key(*k));
    if !kafka && configured {
        problems.push(
            "[journal]: cluster, topic and partitions only apply with store = \"kafka\"; set it, or remove them".to_string(),
        );
    }
    if kafka {
        JournalStore::Kafka {
            cluster,
            topic,
            partitions: partitions as i32,
        }
    } else {
        JournalStore::File
    }
}

/// Kafka's rule for topic names.
fn valid_topic(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> (JournalStore, Vec<String>) {
        let table: Table = text.parse().unwrap();
        let env: Env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut problems = Problems::default();
        let store = journal_store(
            table.get("journal").and_then(|t| t.as_table()),
            &env,
            &mut problems,
        );
        (store, problems.0)
    }

    #[test]
    fn files_by_default_and_a_topic_on_the_destination_with_kafka() {
        assert_eq!(parse("", &[]), (JournalStore::File, vec![]));
        let (store, problems) = parse("[journal]\nstore = \"kafka\"\n", &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            store,
            JournalStore::Kafka {
                cluster: Role::Destination,
                topic: DEFAULT_JOURNAL_TOPIC.into(),
                partitions: 12
            }
        );
        let (store, _) = parse(
            "[journal]\nstore = \"file\"\n",
            &[
                ("CUTOVER_JOURNAL_STORE", "kafka"),
                ("CUTOVER_JOURNAL_CLUSTER", "origin"),
            ],
        );
        assert!(matches!(
            store,
            JournalStore::Kafka {
                cluster: Role::Origin,
                ..
            }
        ));
    }

    #[test]
    fn a_bad_store_topic_or_a_kafka_key_without_kafka_is_named() {
        let (_, problems) = parse(
            "[journal]\nstore = \"s3\"\ntopic = \"a b\"\npartitions = 0\nfsync = 1\n",
            &[],
        );
        let all = problems.join("\n");
        for needle in [
            "not \"s3\"",
            "\"a b\" is not a topic name",
            "\"0\" is not a number of partitions from 1 to 1000",
            "only apply with store = \"kafka\"",
            "fsync",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
    }
}
