//! `cutover report GROUP` with a shared journal store (`[journal] store = "kafka"`): the
//! group's current journals (its move through the link and, when a reverse link is
//! configured, its move back to the origin), or with `runbook:<name>` a runbook's journal, are
//! read from the store, read-only, into a scratch
//! folder that the report reads like any journal folder, and that is removed afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{process_env, Config, JournalStore};
use crate::error::{Error, Result};
use crate::journal::{self, replica::current_file, Replica, SharedStore};
use crate::kafka::{KafkaJournal, RdKafkaCluster};
use crate::model::GroupId;

/// The journals fetched for the group ids among the arguments.
#[derive(Default)]
pub(super) struct Fetched {
    /// (argument, its journals in the scratch folder).
    found: Vec<(PathBuf, Vec<PathBuf>)>,
    scratch: Option<PathBuf>,
}

impl Fetched {
    /// The journal files standing for an argument: those fetched for a group id, or the
    /// argument itself.
    pub fn files_for(&self, arg: &Path) -> Vec<PathBuf> {
        self.found
            .iter()
            .find(|(a, _)| a == arg)
            .map_or_else(|| vec![arg.to_path_buf()], |(_, files)| files.clone())
    }
}

impl Drop for Fetched {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads the group ids' journals from the shared store, when the configuration names one;
/// arguments that are files or folders are left as they are.
pub(super) async fn fetch(args: &[PathBuf], config: Option<&Path>) -> Result<Fetched> {
    let groups: Vec<(&PathBuf, GroupId)> = args
        .iter()
        .filter_map(|a| Some((a, super::group_id_arg(a)?)))
        .collect();
    if groups.is_empty() {
        return Ok(Fetched::default());
    }
    let Ok(config) = Config::load(config, &process_env()) else {
        return Ok(Fetched::default());
    };
    let JournalStore::Kafka { cluster, topic, .. } = &config.journal else {
        return Ok(Fetched::default());
    };
    let timeout = config.link.timeout();
    let client = RdKafkaCluster::connect(*cluster, &config.cluster(*cluster).properties, timeout)?;
    let store: Arc<dyn Replica> = Arc::new(KafkaJournal::existing(&client, topic, timeout).await?);
    let scratch =
        std::env::temp_dir().join(format!("cutover-shared-journals-{}", std::process::id()));
    let mut fetched = Fetched {
        found: Vec::new(),
        scratch: Some(scratch.clone()),
    };
    let links: Vec<(String, PathBuf)> = std::iter::once((config.link.name.clone(), PathBuf::new()))
        .chain(config.reverse_link.iter().map(|r| {
            (
                r.name.clone(),
                PathBuf::from(crate::reverse::JOURNAL_SUBDIR),
            )
        }))
        .collect();
    for (i, (arg, group)) in groups.into_iter().enumerate() {
        let dir = scratch.join(i.to_string());
        // `runbook:<name>`: a runbook's journal (its key in the store); otherwise a group's,
        // through each link.
        let wanted: Vec<(String, PathBuf)> = match group.as_str().strip_prefix("runbook:") {
            Some(name) => vec![(
                SharedStore::runbook_key(name),
                journal::Subject::Runbook {
                    name: name.to_string(),
                }
                .path(&dir),
            )],
            None => links
                .iter()
                .map(|(link, sub)| {
                    (
                        SharedStore::group_key(link, &group),
                        journal::path_for(&dir.join(sub), &group),
                    )
                })
                .collect(),
        };
        let keys = wanted
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(" and ");
        let mut files = Vec::new();
        for (key, path) in wanted {
            let reader = store.clone();
            let read_key = key.clone();
            let lines = tokio::task::spawn_blocking(move || reader.read(&read_key))
                .await
                .map_err(|e| Error::Internal(format!("the journal reader stopped: {e}")))??;
            let lines = current_file(&key, &lines)?;
            if lines.is_empty() {
                continue;
            }
            let mut content = Vec::new();
            for l in &lines {
                content.extend_from_slice(l);
                content.push(b'\n');
            }
            std::fs::create_dir_all(path.parent().unwrap_or(&dir))
                .and_then(|_| std::fs::write(&path, content))
                .map_err(|e| Error::Journal(format!("cannot write {}: {e}", path.display())))?;
            files.push(path);
        }
        if files.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "no journal for {group} in the {} (keys {keys})",
                    store.describe(),
                ),
                hint: "check the group id and the link's name ([link] name): a group's shared journal is kept under <link>/<group>, a runbook's under runbook:<name> (`cutover report runbook:<name>`)".into(),
            });
        }
        fetched.found.push((arg.clone(), files));
    }
    Ok(fetched)
}
