//! A journal shared through a [`Replica`] (`[journal] store = "kafka"`): the store's handle as a
//! cutover's settings carry it, and opening a journal whose file is this host's copy of the
//! shared records.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

/// The store group journals are shared through (`[journal] store = "kafka"`), as the
/// settings of a cutover carry it.
#[derive(Clone)]
pub struct SharedStore {
    pub replica: Arc<dyn Replica>,
    /// The lease that serializes edits of the link's filters across hosts.
    pub filter_lease: lease::Bounds,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedStore({})", self.replica.describe())
    }
}

impl SharedStore {
    /// The key of a group's journal: the link it moves through and the group, so that the
    /// moves of one group through two links (forward, and back to the origin) are apart.
    pub fn group_key(link: &str, group: &GroupId) -> String {
        format!("{link}/{group}")
    }

    /// The key of a runbook's journal: `runbook:` and its name (a link's name has no `:`, so
    /// this is never a group's key).
    pub fn runbook_key(name: &str) -> String {
        format!("runbook:{name}")
    }

    /// The key of the lease on a link's group filters: a link's name has no `:`, so this is
    /// never a group's key.
    pub fn filters_key(link: &str) -> String {
        format!("{link}:filters")
    }
}

impl Journal {
    /// Opens a journal shared through `replica` under `key`: the shared records are the truth,
    /// and the file under `dir` becomes this host's copy of them. With [`Take::IfFree`] and an
    /// unfinished run in the shared journal, nothing is taken (appending fails): the caller
    /// refuses, leaving that run to its agent. Otherwise this agent takes the subject, fencing
    /// any agent that wrote it, and reads it again. Returns whether records arrived between
    /// the two reads (another agent was starting the same run: it is fenced now, and its run
    /// is the one to continue).
    pub fn open_shared(
        dir: &Path,
        subject: &Subject,
        run_id: &str,
        replica: Arc<dyn Replica>,
        key: &str,
        take: Take,
    ) -> Result<(Journal, ReadBack, bool)> {
        let path = subject.path(dir);
        let (mut journal, local) = Journal::open_at(&path, subject, run_id)?;
        let before = replica.read(key)?;
        let current = replica::current_file(key, &before)?;
        let unfinished = current.last().is_some_and(|l| {
            serde_json::from_slice::<Entry>(l)
                .map_or(true, |e| !matches!(e.record, Record::Finished { .. }))
        });
        let (all, lines, taken, raced) = if take == Take::IfFree && unfinished {
            (before, current, false, false)
        } else {
            replica.fence(key)?;
            let after = replica.read(key)?;
            let raced = after.len() != before.len();
            let current = replica::current_file(key, &after)?;
            (after, current, true, raced)
        };
        journal.materialize(&local, &all, &lines, &replica, key)?;
        if let Ok(mut shared) = SHARED.lock() {
            shared.retain(|(p, _, _)| *p != journal.path);
            shared.push((journal.path.clone(), replica.clone(), key.to_string()));
        }
        journal.shared = Some(Shared {
            replica,
            key: key.to_string(),
            taken,
        });
        let back = read(&journal.path)?;
        Ok((journal, back, raced))
    }

    /// Makes the file hold exactly the shared current file (`lines`, out of `all` the shared
    /// lines). A file with records the shared journal lacks (written before the store was
    /// shared) is never overwritten; one holding an earlier run is kept beside it, as the file
    /// store keeps a finished run when the next one starts.
    fn materialize(
        &mut self,
        local: &ReadBack,
        all: &[Vec<u8>],
        lines: &[Vec<u8>],
        replica: &Arc<dyn Replica>,
        key: &str,
    ) -> Result<()> {
        let shared: std::collections::HashSet<String> = all.iter().map(|l| line_hash(l)).collect();
        let mut content = Vec::new();
        for l in lines {
            content.extend_from_slice(l);
            content.push(b'\n');
        }
        let existing = std::fs::read(&self.path).map_err(|e| io_error("read", &self.path, e))?;
        if existing == content {
            return Ok(());
        }
        let unknown = existing
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .any(|l| !shared.contains(&line_hash(l)));
        if unknown && local.torn_tail.is_none() {
            return Err(Error::Journal(format!(
                "{} holds records that the shared journal ({} under key {key}) does not: it was written before the journal was shared; report it with `cutover report {}` and move it aside, then run again",
                self.path.display(),
                replica.describe(),
                self.path.display()
            )));
        }
        let current_runs: std::collections::HashSet<String> = lines
            .iter()
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
            .map(|e| e.run_id)
            .collect();
        if let Some(run) = local.run_id().filter(|r| !current_runs.contains(*r)) {
            let kept = self.kept_path(run, false);
            std::fs::rename(&self.path, &kept).map_err(|e| io_error("keep", &self.path, e))?;
        }
        let copy = self.path.with_extension("jsonl.shared");
        std::fs::write(&copy, &content)
            .and_then(|_| File::open(&copy)?.sync_all())
            .map_err(|e| io_error("write", &copy, e))?;
        std::fs::rename(&copy, &self.path).map_err(|e| io_error("replace", &self.path, e))?;
        self.reopen()
    }

    /// [`Journal::open_shared`] on the runtime's blocking pool (it reads and takes the
    /// subject in the store), so that the other cutovers of a stage go on meanwhile.
    pub async fn open_shared_async(
        dir: PathBuf,
        subject: Subject,
        run_id: String,
        replica: Arc<dyn Replica>,
        key: String,
        take: Take,
    ) -> Result<(Journal, ReadBack, bool)> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Journal::open_shared(&dir, &subject, &run_id, replica, &key, take);
        }
        tokio::task::spawn_blocking(move || {
            Journal::open_shared(&dir, &subject, &run_id, replica, &key, take)
        })
        .await
        .map_err(|e| Error::Internal(format!("opening a shared journal stopped: {e}")))?
    }
}
