//! Editing the link-wide `consumer.offset.group.filters` without losing anyone's change.
//!
//! The filters are one config value shared by every group of the link, and the link's REST API
//! has no compare-and-set: two agents doing read-modify-write at once can erase each other's
//! entry (seen: three cutovers at once on one link lost an exclusion to another agent's write
//! 32 ms later, and each such cutover ended in a rollback). Two defences, both here:
//!
//! - **A lock beside the journals.** Agents on one host serialize their edits of one link's
//!   filters on `<journal-dir>/<link>.filters.lock` (an OS lock, released if the agent dies).
//!   With a shared journal store, agents on every host also queue for a lease on
//!   `<link>:filters` in it ([`crate::journal::lease`]) and write only while they hold it.
//! - **A verified compare-and-set.** Read; add or remove only this agent's own entry; read
//!   again just before writing and start over if the value changed meanwhile; write; read back;
//!   start over from what was read back while this agent's change is missing from it.
//!
//! Entries written by others are written back as they were read, keys this version does not
//! know included ([`Filter`]'s `extra`). This module decides nothing about the group: the
//! caller says which change it wants.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::filters::{FilterKind, Filters};
use super::Link;
use crate::gather::Gathering;
use crate::journal::lease::Lease;
use crate::journal::SharedStore;

/// How the edits of one link's filters are kept apart among agents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial<'a> {
    /// The agents of this host: a lock file in this folder.
    pub host: Option<&'a Path>,
    /// The agents of every host: a lease in the shared journal store.
    pub hosts: Option<&'a SharedStore>,
}

/// The link config this module edits.
pub const GROUP_FILTERS: &str = "consumer.offset.group.filters";

/// How many read-modify-write rounds an edit tries before it gives up.
const ATTEMPTS: u32 = 5;
/// How long an edit waits for another local agent's edit of the same link to finish (with a
/// shared journal store, plus the longest that agent may wait for the hosts' lease and hold it).
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// The change an agent makes to the filters: only its own group's LITERAL EXCLUDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterChange<'a> {
    /// Exclude the group from the link's offset sync (if the filters include it).
    Exclude(&'a str),
    /// Remove the group's LITERAL EXCLUDE, keeping every other entry.
    Unexclude(&'a str),
}

impl FilterChange<'_> {
    /// Applies the change; true when the filters changed.
    fn apply(self, filters: &mut Filters) -> bool {
        match self {
            // A group the filters do not include needs no exclusion.
            FilterChange::Exclude(group) => {
                filters.includes(group) && filters.exclude_literally(group)
            }
            FilterChange::Unexclude(group) => filters.remove_literal_exclusion(group),
        }
    }

    /// True when `filters` show the change in effect.
    fn holds(self, filters: &Filters) -> bool {
        match self {
            FilterChange::Exclude(group) => !filters.includes(group),
            FilterChange::Unexclude(group) => !filters.has_literal_exclusion(group),
        }
    }
}

/// What an edit found and left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterEdit {
    /// The config value before this agent's change.
    pub before: String,
    /// The config value read back after it (equal to `before` when nothing had to change).
    pub after: String,
    /// Read-modify-write rounds it took (0 when nothing had to change).
    pub attempts: u32,
}

/// Makes `change` to the link's group filters, kept apart from other agents' edits as `serial`
/// says and verified by reading back. The error says what was seen, for the journal and the
/// operator.
pub async fn edit_group_filters(
    link: &dyn Link,
    serial: Serial<'_>,
    change: FilterChange<'_>,
) -> Result<FilterEdit, String> {
    edit_group_filters_together(link, serial, &[change])
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| Err("no answer for the filter edit".into()))
}

/// Makes every change in one verified read-modify-write (one write, when no other writer
/// interferes), with one answer per change in the order given. A change the filters cannot
/// take fails alone; the others are made.
pub async fn edit_group_filters_together(
    link: &dyn Link,
    serial: Serial<'_>,
    changes: &[FilterChange<'_>],
) -> Vec<Result<FilterEdit, String>> {
    let all_fail = |e: String| changes.iter().map(|_| Err(e.clone())).collect();
    // The local holder may first wait its turn for the hosts' lease, then hold it.
    let lock_wait = serial.hosts.map_or(LOCK_WAIT, |store| {
        LOCK_WAIT + store.filter_lease.wait + store.filter_lease.hold
    });
    let _lock = match serial.host {
        Some(dir) => match FiltersLock::take(dir, link.name(), lock_wait).await {
            Ok(lock) => Some(lock),
            Err(e) => return all_fail(e),
        },
        None => None,
    };
    let lease = match serial.hosts {
        Some(store) => {
            let key = SharedStore::filters_key(link.name());
            let mut said = String::new();
            let taken = Lease::acquire(store.replica.clone(), &key, store.filter_lease, |who| {
                if said != who {
                    tracing::info!("{who}");
                    said = who.to_string();
                }
            })
            .await;
            match taken {
                Ok(lease) => Some(lease),
                Err(e) => return all_fail(format!("{e} ({})", e.hint())),
            }
        }
        None => None,
    };
    let answers = edit_under(link, changes, lease.as_ref()).await;
    if let Some(lease) = lease {
        lease.release().await;
    }
    answers
}

/// [`edit_group_filters_together`] once the other agents are kept away; never writes after
/// `lease` (when given) could have expired.
async fn edit_under(
    link: &dyn Link,
    changes: &[FilterChange<'_>],
    lease: Option<&Lease>,
) -> Vec<Result<FilterEdit, String>> {
    let all_fail = |e: String| changes.iter().map(|_| Err(e.clone())).collect();
    let (mut raw, mut filters) = match read(link).await {
        Ok(read) => read,
        Err(e) => return all_fail(e),
    };
    let before = raw.clone();
    // Which changes can be made at all: one that neither applies nor holds fails alone.
    let mut answers: Vec<Option<Result<FilterEdit, String>>> = changes
        .iter()
        .map(|change| {
            let mut probe = filters.clone();
            (!change.apply(&mut probe) && !change.holds(&filters)).then(|| {
                Err(format!(
                    "the link's {GROUP_FILTERS} cannot be changed to {change:?}: {raw}"
                ))
            })
        })
        .collect();
    let wanted_changes: Vec<FilterChange<'_>> = changes
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.is_none())
        .map(|(c, _)| *c)
        .collect();
    let outcome = async {
        for attempt in 1..=ATTEMPTS {
            let mut wanted = filters.clone();
            let mut changed = false;
            for change in &wanted_changes {
                changed |= change.apply(&mut wanted);
            }
            if !changed {
                return Ok((raw, attempt - 1));
            }
            // Narrow the window in which another writer's change could be overwritten.
            let (latest, latest_filters) = read(link).await?;
            if latest != raw {
                (raw, filters) = (latest, latest_filters);
                continue;
            }
            if lease.is_some_and(|l| !l.may_write()) {
                return Err("this agent's lease on the link's filters ran too short to write them before it expires; nothing written".into());
            }
            let value = wanted.to_json(FilterKind::Group);
            link.alter_configs(&[(GROUP_FILTERS.to_string(), Some(value))])
                .await
                .map_err(|e| e.to_string())?;
            let (back, back_filters) = read(link).await?;
            if wanted_changes.iter().all(|c| c.holds(&back_filters)) {
                return Ok((back, attempt));
            }
            // Another writer's value replaced ours: make the changes again on top of theirs.
            tracing::info!(
                attempt,
                "the link's group filters changed under this edit; again"
            );
            (raw, filters) = (back, back_filters);
        }
        Err(format!(
            "the link's {GROUP_FILTERS}, read back after {ATTEMPTS} writes, still lack this agent's change (another writer keeps overwriting it, or the link does not take the write); last read: {raw}"
        ))
    }
    .await;
    for answer in answers.iter_mut().filter(|a| a.is_none()) {
        *answer = Some(match &outcome {
            Ok((after, attempts)) => Ok(FilterEdit {
                before: before.clone(),
                after: after.clone(),
                attempts: *attempts,
            }),
            Err(e) => Err(e.clone()),
        });
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err("not attempted".into())))
        .collect()
}

/// Coalesces the filter edits of cutovers running together in one process (a runbook's
/// stage): the edits asked for within [`GATHER`] of the first go to the link as one verified
/// read-modify-write, so a stage of a hundred groups writes the filters once, not a hundred
/// times. Each caller still gets its own answer and verifies its own effect.
#[derive(Debug, Default)]
pub struct SharedFilterEdits {
    pending: Gathering<PendingEdit>,
}

#[derive(Debug)]
struct PendingEdit {
    exclude: bool,
    group: String,
    reply: tokio::sync::oneshot::Sender<Result<FilterEdit, String>>,
}

/// How long the first edit of a batch waits for others to join it.
pub const GATHER: Duration = Duration::from_millis(500);

impl SharedFilterEdits {
    pub fn new() -> SharedFilterEdits {
        SharedFilterEdits::default()
    }

    /// Makes `change` together with the others asked for meanwhile.
    pub async fn edit(
        &self,
        link: &dyn Link,
        serial: Serial<'_>,
        change: FilterChange<'_>,
    ) -> Result<FilterEdit, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let (exclude, group) = match change {
            FilterChange::Exclude(g) => (true, g.to_string()),
            FilterChange::Unexclude(g) => (false, g.to_string()),
        };
        let leads = self.pending.ask(PendingEdit {
            exclude,
            group,
            reply,
        });
        if leads {
            // Dropped (interrupted) before it takes the batch, the leader empties it, so that
            // the others get an error instead of waiting for a leader that is gone, and the
            // next edit starts a batch of its own.
            let (batch, ()) = self.pending.take_after(tokio::time::sleep(GATHER)).await;
            let changes: Vec<FilterChange<'_>> = batch
                .iter()
                .map(|p| {
                    if p.exclude {
                        FilterChange::Exclude(&p.group)
                    } else {
                        FilterChange::Unexclude(&p.group)
                    }
                })
                .collect();
            tracing::debug!(edits = changes.len(), "one filter write for the batch");
            let results = edit_group_filters_together(link, serial, &changes).await;
            for (p, r) in batch.into_iter().zip(results) {
                let _ = p.reply.send(r);
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err("the batched filter edit this one joined was interrupted".into())
        })
    }
}

async fn read(link: &dyn Link) -> Result<(String, Filters), String> {
    let configs = link.configs().await.map_err(|e| e.to_string())?;
    let raw = configs.get(GROUP_FILTERS).cloned().unwrap_or_default();
    let filters = Filters::parse(FilterKind::Group, &raw).map_err(|e| e.to_string())?;
    Ok((raw, filters))
}

/// The lock that serializes one link's filter edits among the agents of one host.
struct FiltersLock {
    _file: File,
}

impl FiltersLock {
    async fn take(dir: &Path, link: &str, wait: Duration) -> Result<FiltersLock, String> {
        let path = lock_path(dir, link);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FiltersLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(format!(
                    "another agent held {} for {} s: its edit of the link's filters did not finish",
                    path.display(),
                    wait.as_secs()
                ))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(format!("cannot lock {}: {e}", path.display()))
                }
            }
        }
    }
}

/// `<dir>/<link>.filters.lock`, the link's name made safe for a file name.
fn lock_path(dir: &Path, link: &str) -> PathBuf {
    let name: String = link
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}.filters.lock"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::error::Result;
    use crate::link::{LinkDescription, MirrorAction, MirrorActionResult, MirrorDescription};

    /// A link that holds only its configs, and lets a test play another writer: `meddle` runs
    /// on the value before the n-th read (1-based) returns it.
    #[derive(Default)]
    struct ConfigsOnly {
        value: Mutex<String>,
        reads: Mutex<u32>,
        writes: Mutex<u32>,
        meddle: Mutex<BTreeMap<u32, String>>,
        /// Yield between calls, so that concurrent edits interleave.
        slow: bool,
    }

    #[async_trait]
    impl Link for ConfigsOnly {
        fn name(&self) -> &str {
            "link/one"
        }
        fn reports_status(&self) -> bool {
            true
        }
        async fn describe(&self) -> Result<LinkDescription> {
            unreachable!("filter edits only read and write configs")
        }
        async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
            unreachable!("filter edits only read and write configs")
        }
        async fn configs(&self) -> Result<BTreeMap<String, String>> {
            if self.slow {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let n = {
                let mut reads = self.reads.lock().unwrap();
                *reads += 1;
                *reads
            };
            if let Some(other) = self.meddle.lock().unwrap().remove(&n) {
                *self.value.lock().unwrap() = other;
            }
            let value = self.value.lock().unwrap().clone();
            Ok([(GROUP_FILTERS.to_string(), value)].into())
        }
        async fn alter_configs(&self, changes: &[(String, Option<String>)]) -> Result<()> {
            if self.slow {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            *self.writes.lock().unwrap() += 1;
            for (k, v) in changes {
                assert_eq!(k, GROUP_FILTERS);
                *self.value.lock().unwrap() = v.clone().unwrap_or_default();
            }
            Ok(())
        }
        async fn alter_mirrors(
            &self,
            _: MirrorAction,
            _: &[String],
        ) -> Result<Vec<MirrorActionResult>> {
            unreachable!("filter edits only read and write configs")
        }
    }

    const ALL: &str = r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE","note":"keep me"}]}"#;

    fn link(value: &str) -> ConfigsOnly {
        ConfigsOnly {
            value: Mutex::new(value.into()),
            ..ConfigsOnly::default()
        }
    }

    fn filters(link: &ConfigsOnly) -> Filters {
        Filters::parse(FilterKind::Group, &link.value.lock().unwrap()).expect("valid filters")
    }

    #[tokio::test]
    async fn an_exclusion_is_written_read_back_and_keeps_other_entries_as_they_were() {
        let l = link(ALL);
        let edit = edit_group_filters(&l, Serial::default(), FilterChange::Exclude("orders"))
            .await
            .expect("excluded");
        assert_eq!(edit.before, ALL);
        assert_eq!(edit.attempts, 1);
        let f = filters(&l);
        assert!(!f.includes("orders") && f.includes("billing"));
        assert!(edit.after.contains(r#""note":"keep me""#), "{}", edit.after);
        // Undone, it leaves the other entries as they were.
        let undo = edit_group_filters(&l, Serial::default(), FilterChange::Unexclude("orders"))
            .await
            .expect("unexcluded");
        assert_eq!(
            Filters::parse(FilterKind::Group, &undo.after).unwrap(),
            Filters::parse(FilterKind::Group, ALL).unwrap()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn edits_asked_for_together_are_one_write_and_each_gets_its_answer() {
        let l = Arc::new(link(ALL));
        let shared = Arc::new(SharedFilterEdits::new());
        let groups: Vec<String> = (0..50).map(|i| format!("g{i}")).collect();
        let edits = groups.iter().map(|g| {
            let (l, shared) = (l.clone(), shared.clone());
            async move {
                shared
                    .edit(l.as_ref(), Serial::default(), FilterChange::Exclude(g))
                    .await
            }
        });
        let answers = futures::future::join_all(edits).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(
            *l.writes.lock().unwrap(),
            1,
            "one write for fifty exclusions"
        );
        let f = filters(&l);
        assert!(groups.iter().all(|g| !f.includes(g)) && f.includes("billing"));
        // Undone together, also in one write, leaving the filters as they were.
        let undo = groups.iter().map(|g| {
            let (l, shared) = (l.clone(), shared.clone());
            async move {
                shared
                    .edit(l.as_ref(), Serial::default(), FilterChange::Unexclude(g))
                    .await
            }
        });
        assert!(futures::future::join_all(undo)
            .await
            .iter()
            .all(Result::is_ok));
        assert_eq!(*l.writes.lock().unwrap(), 2);
        assert_eq!(filters(&l), Filters::parse(FilterKind::Group, ALL).unwrap());
    }

    #[tokio::test]
    async fn a_group_the_filters_do_not_include_needs_no_write() {
        let only_billing = r#"{"groupFilters":[{"name":"billing","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
        let l = link(only_billing);
        let edit = edit_group_filters(&l, Serial::default(), FilterChange::Exclude("orders"))
            .await
            .expect("nothing to do");
        assert_eq!((edit.attempts, edit.after.as_str()), (0, only_billing));
    }

    #[tokio::test]
    async fn a_write_by_another_agent_before_ours_is_kept() {
        let l = link(ALL);
        // Between our first read and the read just before our write, another agent excludes
        // its own group.
        let theirs = r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"billing","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#;
        l.meddle.lock().unwrap().insert(2, theirs.into());
        edit_group_filters(&l, Serial::default(), FilterChange::Exclude("orders"))
            .await
            .expect("excluded");
        let f = filters(&l);
        assert!(!f.includes("orders"), "ours is there");
        assert!(!f.includes("billing"), "theirs is kept");
    }

    #[tokio::test]
    async fn an_exclusion_erased_by_another_agent_after_our_write_is_made_again() {
        let l = link(ALL);
        // Read 1: ours, read 2: just before the write, read 3: the read-back, which finds
        // another agent's value written over ours.
        let theirs = r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"billing","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#;
        l.meddle.lock().unwrap().insert(3, theirs.into());
        let edit = edit_group_filters(&l, Serial::default(), FilterChange::Exclude("orders"))
            .await
            .expect("excluded");
        assert_eq!(edit.attempts, 2, "one more round");
        let f = filters(&l);
        assert!(!f.includes("orders") && !f.includes("billing"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_agents_excluding_at_once_through_the_lock_lose_no_exclusion() {
        let dir = std::env::temp_dir().join(format!("cutover-filter-lock-{}", std::process::id()));
        let l = Arc::new(ConfigsOnly {
            slow: true,
            ..link(ALL)
        });
        let edits: Vec<_> = (0..10)
            .map(|i| {
                let (l, dir) = (l.clone(), dir.clone());
                tokio::spawn(async move {
                    let group = format!("group-{i}");
                    let serial = Serial {
                        host: Some(&dir),
                        hosts: None,
                    };
                    edit_group_filters(l.as_ref(), serial, FilterChange::Exclude(&group)).await
                })
            })
            .collect();
        for edit in edits {
            edit.await.expect("the task ran").expect("excluded");
        }
        let f = filters(&l);
        for i in 0..10 {
            assert!(!f.includes(&format!("group-{i}")), "group-{i} lost: {f:?}");
        }
        assert!(lock_path(&dir, "link/one").ends_with("link_one.filters.lock"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_hosts_excluding_at_once_through_the_lease_lose_no_exclusion() {
        // Every agent has its own journal folder (another host): only the lease keeps their
        // read-modify-writes apart, and the link is slow enough for them to overlap without it.
        let l = Arc::new(ConfigsOnly {
            slow: true,
            ..link(ALL)
        });
        let store = crate::journal::SharedStore {
            replica: Arc::new(crate::journal::lease::MemoryQueue::default()),
            filter_lease: crate::journal::lease::Bounds::for_writes(Duration::from_secs(5)),
        };
        let edits: Vec<_> = (0..10)
            .map(|i| {
                let (l, store) = (l.clone(), store.clone());
                tokio::spawn(async move {
                    let dir = std::env::temp_dir()
                        .join(format!("cutover-lease-{}-{i}", std::process::id()));
                    let group = format!("group-{i}");
                    let serial = Serial {
                        host: Some(&dir),
                        hosts: Some(&store),
                    };
                    let edit =
                        edit_group_filters(l.as_ref(), serial, FilterChange::Exclude(&group)).await;
                    let _ = std::fs::remove_dir_all(&dir);
                    edit
                })
            })
            .collect();
        for edit in edits {
            let edit = edit.await.expect("the task ran").expect("excluded");
            assert_eq!(edit.attempts, 1, "an edit had to start over: {edit:?}");
        }
        let f = filters(&l);
        for i in 0..10 {
            assert!(!f.includes(&format!("group-{i}")), "group-{i} lost: {f:?}");
        }
        let lines = store.replica.read("").unwrap();
        assert_eq!(lines.len(), 20, "a request and a release per edit");
    }
}
