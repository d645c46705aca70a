//! The cutover journal: one JSON line per record, append-only, synced to disk before the
//! side effect it announces.
//!
//! Every record carries the format version (`v`), a sequence number, the wall-clock time and
//! the run. A cutover writes an `intent` before each side effect and an `outcome` after it, a
//! `phase` checkpoint (the phase machine's state) after every transition, `observation`s of
//! the offsets it based its decisions on, and `finished` at the end. `--resume` reads the
//! journal back and continues from the last checkpoint, re-verifying any intent that has no
//! outcome. A torn last line (the agent killed mid-write) is tolerated: it is reported and
//! cut off before the journal is appended to again.
//!
//! One current journal per group (`<dir>/<group>.jsonl`), guarded by an exclusive lock on
//! `<dir>/<group>.lock` that the operating system releases when the agent dies, so two agents
//! cannot drive the same group and a killed agent never leaves a stale lock behind. Earlier
//! runs are kept beside it: a finished run as `<group>.<run id>.jsonl` when the next one
//! starts, and a run refused at its plan (nothing changed) as `<group>.<run id>.refused.jsonl`,
//! leaving the previous run's journal current.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{GroupId, Offset, Timings};

/// The journal format version; readers refuse a newer one.
pub const JOURNAL_VERSION: u32 = 1;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub v: u32,
    pub seq: u64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub run_id: String,
    pub group: String,
    #[serde(flatten)]
    pub record: Record,
}

/// What a line records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A run began (or resumed).
    Started {
        command: Vec<String>,
        /// `host:pid` of the agent.
        agent: String,
        resumed: bool,
        /// Settings the run uses (deadlines, hooks with their substituted arguments); never
        /// secrets.
        settings: serde_json::Value,
    },
    /// The phase machine's state after a transition (a checkpoint `--resume` starts from).
    Phase {
        phase: String,
        state: serde_json::Value,
    },
    /// A side effect is about to happen.
    Intent {
        effect: String,
        detail: serde_json::Value,
    },
    /// What a side effect did.
    Outcome {
        effect: String,
        ok: bool,
        detail: serde_json::Value,
    },
    /// Offsets and membership the agent observed, for the report's chart.
    Observation {
        phase: String,
        origin_active: bool,
        destination_active: bool,
        partitions: Vec<PartitionSample>,
    },
    /// A note for the operator (a wait that started, a check that failed and will be retried).
    Note { message: String },
    /// The run ended.
    Finished {
        /// `done`, `rolled_back`, `refused` or `needs_operator`.
        outcome: String,
        reason: Option<String>,
        timings: Timings,
    },
}

/// One partition's offsets at one observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSample {
    pub topic: String,
    pub partition: i32,
    pub origin_committed: Option<Offset>,
    pub destination_committed: Option<Offset>,
    pub origin_end: Option<Offset>,
    pub mirror_end: Option<Offset>,
}

/// An open journal, holding the group's lock.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    run_id: String,
    group: String,
    /// Held for the journal's lifetime; the OS releases it if the process dies.
    _lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

/// A journal read back: its entries, and whether a torn last line was cut off.
#[derive(Debug, Clone)]
pub struct ReadBack {
    pub entries: Vec<Entry>,
    pub torn_tail: Option<String>,
}

impl ReadBack {
    /// The run's outcome, if it finished.
    pub fn finished(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.record, Record::Finished { .. }))
            .filter(|e| Some(*e) == self.entries.last())
    }

    pub fn run_id(&self) -> Option<&str> {
        self.entries.last().map(|e| e.run_id.as_str())
    }
}

/// A run this process is driving: where an interruption is journaled after the run itself
/// was dropped. A runbook drives several cutovers at once, so there may be several.
#[derive(Debug, Clone)]
struct ActiveRun {
    path: PathBuf,
    subject: Subject,
    run_id: String,
    phase: String,
}

static ACTIVE: std::sync::Mutex<Vec<ActiveRun>> = std::sync::Mutex::new(Vec::new());

/// Notes the group's run this process drives (`phase` is `None` once it finished).
pub fn set_active(dir: &Path, group: &GroupId, run_id: &str, phase: Option<&str>) {
    set_active_at(
        &path_for(dir, group),
        &Subject::Group(group.clone()),
        run_id,
        phase,
    );
}

/// Notes a run this process drives, by its journal (`phase` is `None` once it finished).
pub fn set_active_at(path: &Path, subject: &Subject, run_id: &str, phase: Option<&str>) {
    if let Ok(mut active) = ACTIVE.lock() {
        active.retain(|a| a.path != path);
        if let Some(phase) = phase {
            active.push(ActiveRun {
                path: path.to_path_buf(),
                subject: subject.clone(),
                run_id: run_id.to_string(),
                phase: phase.to_string(),
            });
        }
    }
}

/// After the runs were dropped by an interrupt (their locks released with them): appends
/// `message`, with the phase each was in, to each one's journal as a note. Returns each
/// journal and its phase.
pub fn record_interruption(message: &str) -> Vec<(PathBuf, String)> {
    let runs = ACTIVE
        .lock()
        .map(|mut a| std::mem::take(&mut *a))
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    runs.into_iter()
        .filter_map(|run| {
            let (mut journal, _) = Journal::open_at(&run.path, &run.subject, &run.run_id).ok()?;
            journal.continue_run(&run.run_id);
            journal
                .append(
                    Record::Note {
                        message: format!("{message} (in phase {})", run.phase),
                    },
                    now,
                )
                .ok()?;
            Some((journal.path().to_path_buf(), run.phase))
        })
        .collect()
}

/// What a journal is the record of: one group's cutover, or one of the migration-wide
/// commands (their journals live in a folder of their own under the journal directory, so no
/// group id can name the same file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Group(GroupId),
    /// `cutover watch --prioritise` on one link: the mirrors it paused.
    Watch {
        link: String,
    },
    /// `cutover promote` on one link.
    Promote {
        link: String,
    },
    /// `cutover run`: one runbook, by its name.
    Runbook {
        name: String,
    },
}

impl Subject {
    /// The journal's file under the journal directory.
    pub fn path(&self, dir: &Path) -> PathBuf {
        match self {
            Subject::Group(group) => path_for(dir, group),
            Subject::Watch { link } => dir.join("watch").join(stem(link)),
            Subject::Promote { link } => dir.join("promote").join(stem(link)),
            Subject::Runbook { name } => dir.join("runbook").join(stem(name)),
        }
    }

    /// The `group` field of its records: the group id, or the kind and name.
    fn record_name(&self) -> String {
        match self {
            Subject::Group(group) => group.to_string(),
            Subject::Watch { link } => format!("watch:{link}"),
            Subject::Promote { link } => format!("promote:{link}"),
            Subject::Runbook { name } => format!("runbook:{name}"),
        }
    }

    /// What it is, for an error: "group orders", "the runbook night-1".
    pub fn describe(&self) -> String {
        match self {
            Subject::Group(group) => format!("group {group}"),
            Subject::Watch { link } => format!("the watch of link {link}"),
            Subject::Promote { link } => format!("promotion on link {link}"),
            Subject::Runbook { name } => format!("the runbook {name}"),
        }
    }

    /// The command that continues it once no other agent runs it.
    pub fn resume_command(&self) -> String {
        match self {
            Subject::Group(group) => format!("cutover group {group} --resume"),
            Subject::Watch { .. } => "cutover watch --resume".into(),
            Subject::Promote { .. } => "cutover promote … (it re-checks every topic)".into(),
            Subject::Runbook { .. } => "cutover run RUNBOOK --resume".into(),
        }
    }
}

fn stem(name: &str) -> String {
    format!("{}.jsonl", file_stem(&GroupId::new(name)))
}

/// File names are group ids with anything outside `[A-Za-z0-9._-]` escaped, so any group id
/// maps to one file and never to a path outside the directory.
pub fn file_stem(group: &GroupId) -> String {
    let mut out = String::new();
    for b in group.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

pub fn path_for(dir: &Path, group: &GroupId) -> PathBuf {
    dir.join(format!("{}.jsonl", file_stem(group)))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Journal(format!("cannot {what} {}: {e}", path.display()))
}

impl Journal {
    /// Opens (creating) the group's journal and takes its lock. Fails with exit 5 when another
    /// agent holds the lock.
    pub fn open(dir: &Path, group: &GroupId, run_id: &str) -> Result<(Journal, ReadBack)> {
        let subject = Subject::Group(group.clone());
        Journal::open_at(&subject.path(dir), &subject, run_id)
    }

    /// Opens (creating) the journal of `subject` under the journal directory.
    pub fn open_subject(
        dir: &Path,
        subject: &Subject,
        run_id: &str,
    ) -> Result<(Journal, ReadBack)> {
        Journal::open_at(&subject.path(dir), subject, run_id)
    }

    fn open_at(path: &Path, subject: &Subject, run_id: &str) -> Result<(Journal, ReadBack)> {
        let path = path.to_path_buf();
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| io_error("create the journal directory", dir, e))?;
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error("open the lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    what: subject.describe(),
                    resume: subject.resume_command(),
                    lock: lock_path,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_error("lock", &lock_path, e));
            }
        }
        let back = if path.exists() {
            read(&path)?
        } else {
            ReadBack {
                entries: Vec::new(),
                torn_tail: None,
            }
        };
        if back.torn_tail.is_some() {
            // Cut the torn line off so the next record starts on a line of its own.
            truncate_after_last_newline(&path)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        let next_seq = back.entries.last().map_or(1, |e| e.seq + 1);
        Ok((
            Journal {
                path,
                file,
                next_seq,
                run_id: run_id.to_string(),
                group: subject.record_name(),
                _lock: lock,
            },
            back,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Uses the run id of a run being resumed.
    pub fn continue_run(&mut self, run_id: &str) {
        self.run_id = run_id.to_string();
    }

    /// Where a run's journal is kept once another run takes `<group>.jsonl`:
    /// `<group>.<run id>.jsonl`, or `<group>.<run id>.refused.jsonl` for a run refused at its
    /// plan (nothing changed).
    fn kept_path(&self, run: &str, refused: bool) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let safe_run: String = run
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let kind = if refused { ".refused" } else { "" };
        self.path
            .with_file_name(format!("{stem}.{safe_run}{kind}.jsonl"))
    }

    /// Moves a finished journal aside (`<group>.<run id>.jsonl`, kept for its report) and
    /// starts an empty one, keeping the lock. Returns where the old journal went.
    pub fn archive(&mut self, finished_run: &str) -> Result<PathBuf> {
        let archived = self.kept_path(finished_run, false);
        std::fs::rename(&self.path, &archived).map_err(|e| io_error("archive", &self.path, e))?;
        self.reopen()?;
        Ok(archived)
    }

    /// A run refused at its plan changed nothing: its journal goes aside as
    /// `<group>.<run id>.refused.jsonl`, and the previous run's journal, archived when this
    /// one started, becomes `<group>.jsonl` again, so a refusal never replaces a finished
    /// cutover's record. Returns where the refusal's journal went.
    pub fn set_refusal_aside(&mut self, previous: Option<&Path>) -> Result<PathBuf> {
        let aside = self.kept_path(&self.run_id.clone(), true);
        std::fs::rename(&self.path, &aside).map_err(|e| io_error("move", &self.path, e))?;
        if let Some(previous) = previous {
            std::fs::rename(previous, &self.path).map_err(|e| io_error("restore", previous, e))?;
        }
        self.reopen()?;
        Ok(aside)
    }

    fn reopen(&mut self) -> Result<()> {
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io_error("open", &self.path, e))?;
        self.next_seq = read(&self.path)?.entries.last().map_or(1, |e| e.seq + 1);
        Ok(())
    }

    /// Appends a record and syncs it to disk before returning.
    pub fn append(&mut self, record: Record, ts_ms: i64) -> Result<Entry> {
        let entry = Entry {
            v: JOURNAL_VERSION,
            seq: self.next_seq,
            ts_ms,
            run_id: self.run_id.clone(),
            group: self.group.clone(),
            record,
        };
        let mut line = serde_json::to_vec(&entry)
            .map_err(|e| Error::Journal(format!("cannot encode a journal record: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io_error("write", &self.path, e))?;
        self.next_seq += 1;
        Ok(entry)
    }
}

fn truncate_after_last_newline(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| io_error("read", path, e))?;
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_error("open", path, e))?;
    file.set_len(keep as u64)
        .and_then(|_| file.sync_data())
        .map_err(|e| io_error("truncate", path, e))
}

/// Reads a journal. A last line that does not parse (or lacks its newline) is the torn tail of
/// a killed write and is returned apart; a bad line before the last is an error naming it.
pub fn read(path: &Path) -> Result<ReadBack> {
    let file = File::open(path).map_err(|e| io_error("open", path, e))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut torn_tail = None;
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| io_error("read", path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        let complete = line.ends_with('\n');
        match serde_json::from_str::<Entry>(line.trim_end()) {
            Ok(entry) if complete => {
                if entry.v > JOURNAL_VERSION {
                    return Err(Error::Journal(format!(
                        "{} line {number} has journal version {}; this cutover reads up to {JOURNAL_VERSION}: use a newer cutover",
                        path.display(),
                        entry.v
                    )));
                }
                entries.push(entry);
            }
            result => {
                // Only the last line may be torn.
                let mut rest = String::new();
                let more = reader
                    .read_line(&mut rest)
                    .map_err(|e| io_error("read", path, e))?;
                if number == 1 && (more > 0 || complete) {
                    // Nothing here was ever a journal: say so, and advise nothing about groups.
                    return Err(Error::NotAJournal {
                        path: path.to_path_buf(),
                        why: match result {
                            Err(e) => format!("its first line is not a journal record ({e})"),
                            Ok(_) => "its first line has no line end".into(),
                        },
                    });
                }
                if more > 0 {
                    let why = match result {
                        Err(e) => e.to_string(),
                        Ok(_) => "no line end".into(),
                    };
                    return Err(Error::Journal(format!(
                        "{} line {number} is not a journal record ({why}); the journal is damaged: keep it for the investigation and roll the group back by hand",
                        path.display()
                    )));
                }
                torn_tail = Some(line.clone());
                break;
            }
        }
    }
    Ok(ReadBack { entries, torn_tail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cutover-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn note(m: &str) -> Record {
        Record::Note {
            message: m.to_string(),
        }
    }

    #[test]
    fn records_are_numbered_synced_and_read_back() {
        let d = dir("basic");
        let g = GroupId::new("billing");
        let (mut j, back) = Journal::open(&d, &g, "r1").unwrap();
        assert!(back.entries.is_empty());
        j.append(note("a"), 1).unwrap();
        j.append(note("b"), 2).unwrap();
        drop(j);
        let back = read(&path_for(&d, &g)).unwrap();
        assert_eq!(
            back.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(back.entries[1].record, note("b"));
        let (mut j, back) = Journal::open(&d, &g, "r1").unwrap();
        assert_eq!(back.entries.len(), 2);
        assert_eq!(j.append(note("c"), 3).unwrap().seq, 3);
    }

    #[test]
    fn a_torn_last_line_is_tolerated_and_cut_off() {
        let d = dir("torn");
        let g = GroupId::new("g");
        let (mut j, _) = Journal::open(&d, &g, "r").unwrap();
        j.append(note("kept"), 1).unwrap();
        drop(j);
        let path = path_for(&d, &g);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"v":1,"seq":2,"ts_ms":2,"run_id":"r","gro"#)
            .unwrap();
        drop(f);
        let back = read(&path).unwrap();
        assert_eq!(back.entries.len(), 1);
        assert!(back.torn_tail.is_some());
        let (mut j, back) = Journal::open(&d, &g, "r").unwrap();
        assert!(back.torn_tail.is_some());
        assert_eq!(j.append(note("next"), 3).unwrap().seq, 2);
        drop(j);
        let back = read(&path).unwrap();
        assert!(back.torn_tail.is_none());
        assert_eq!(back.entries.len(), 2);
    }

    #[test]
    fn a_damaged_line_before_the_last_is_an_error() {
        let d = dir("damaged");
        let g = GroupId::new("g");
        let path = {
            let (mut j, _) = Journal::open(&d, &g, "r").unwrap();
            j.append(note("one"), 1).unwrap();
            j.path().to_path_buf()
        };
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("garbage\n{\"also\": \"bad\"}\n");
        std::fs::write(&path, text).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2 is not a journal record"), "{err}");
    }

    #[test]
    fn a_file_that_never_was_a_journal_is_named_so_without_advice_about_groups() {
        let d = dir("not-a-journal");
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join("cutover.toml");
        std::fs::write(&path, "[cutover]\njournal-dir = \"j\"\n").unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(err, Error::NotAJournal { .. }), "{err:?}");
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let text = err.render();
        assert!(text.contains("is not a cutover journal"), "{text}");
        assert!(!text.contains("roll"), "no rollback advice: {text}");
    }

    #[test]
    fn a_refusal_goes_aside_and_the_last_finished_run_stays_current() {
        let d = dir("refusal");
        let g = GroupId::new("g");
        let (mut j, _) = Journal::open(&d, &g, "run-1").unwrap();
        j.append(note("the first run"), 1).unwrap();
        let archived = j.archive("run-1").unwrap();
        j.continue_run("run-2");
        j.append(note("refused at the plan"), 2).unwrap();
        let aside = j.set_refusal_aside(Some(&archived)).unwrap();
        assert_eq!(aside, d.join("g.run-2.refused.jsonl"));
        let current = read(&d.join("g.jsonl")).unwrap();
        assert_eq!(
            current.run_id(),
            Some("run-1"),
            "the finished run is current again"
        );
        assert!(!archived.exists());
        assert_eq!(read(&aside).unwrap().run_id(), Some("run-2"));
        // The journal stays usable: the next record follows the restored run's.
        let e = j.append(note("next"), 3).unwrap();
        assert_eq!(e.seq, 2);
    }

    #[test]
    fn a_second_agent_cannot_take_the_lock() {
        let d = dir("lock");
        let g = GroupId::new("g");
        let (_j, _) = Journal::open(&d, &g, "r").unwrap();
        let err = Journal::open(&d, &g, "r2").unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::error::exit::RESUME_NEEDED);
    }

    #[test]
    fn group_ids_map_to_safe_file_names() {
        assert_eq!(
            file_stem(&GroupId::new("billing-v2.prod")),
            "billing-v2.prod"
        );
        assert_eq!(file_stem(&GroupId::new("../etc/x y")), "%2E.%2Fetc%2Fx%20y");
        assert_eq!(file_stem(&GroupId::new(".hidden")), "%2Ehidden");
    }
}
