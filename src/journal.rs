//! The cutover journal: one JSON line per record, append-only, synced to disk before the
//! side effect it announces.
//!
//! Every record carries the format version (`v`), a sequence number, the hash of the line
//! before it (`prev`), the wall-clock time and the run. A cutover writes an `intent` before
//! each side effect and an `outcome` after it, a `phase` checkpoint (the phase machine's state)
//! after every transition, `observation`s of the offsets it based its decisions on, and
//! `finished` at the end. `--resume` reads the journal back and continues from the last
//! checkpoint, re-verifying any intent that has no outcome. A torn last line (the agent killed
//! mid-write) is tolerated: it is reported and cut off before the journal is appended to again.
//!
//! One current journal per group (`<dir>/<group>.jsonl`), guarded by an exclusive lock on
//! `<dir>/<group>.lock` that the operating system releases when the agent dies, so two agents
//! cannot drive the same group and a killed agent never leaves a stale lock behind. Earlier
//! runs are kept beside it: a finished run as `<group>.<run id>.jsonl` when the next one
//! starts, and a run refused at its plan (nothing changed) as `<group>.<run id>.refused.jsonl`,
//! leaving the previous run's journal current.
//!
//! The records of a file form a hash chain (format version 2): `prev` is the SHA-256 (lower-case
//! hex) of the previous line's bytes, without its line end; the first record of a file has
//! [`GENESIS`] (64 zeros: every record already names its run and group, so the file's start
//! needs no identity of its own, and a fixed value shows at a glance that a line claims to be a
//! file's first). Altering, inserting, removing or reordering a line therefore breaks the chain
//! at the next line; [`chain::verify`] (`cutover report --verify`) says where. Journals written
//! before chains (version 1, no `prev`) still read; a resumed one continues with a chain from
//! its last line. No line may exceed [`MAX_LINE_BYTES`]: reading refuses a longer one, so a
//! damaged or hostile file cannot make a reader allocate without bound.

pub mod chain;
pub mod lease;
pub mod replica;
mod shared;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use replica::Replica;
pub use shared::SharedStore;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{GroupId, Offset, Timings};

/// The journal format version; readers refuse a newer one. Version 2 added `prev`, the hash
/// chain; version 1 records (no `prev`) still read.
pub const JOURNAL_VERSION: u32 = 2;

/// The `prev` of a file's first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest line a journal may hold, line end excluded (64 MiB: an observation of a group
/// over some 400,000 partitions). A longer line is refused when written and when read.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A line's link in the chain: the SHA-256, lower-case hex, of its bytes without the line end.
pub fn line_hash(line: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let digest = Sha256::digest(line);
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// One line of the journal (as read; its `prev` is checked by [`chain::verify`], not kept).
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
    /// The hash of the file's last line ([`GENESIS`] while it is empty): the next record's
    /// `prev`.
    prev: String,
    /// Held for the journal's lifetime; the OS releases it if the process dies.
    _lock: File,
    /// Where the journal is shared (`[journal] store = "kafka"`), if it is.
    shared: Option<Shared>,
}

/// The shared home of an open journal.
#[derive(Clone)]
struct Shared {
    replica: Arc<dyn Replica>,
    key: String,
    /// This agent took the subject: it may append.
    taken: bool,
}

/// How an agent opens a journal it shares with other agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A new run: the subject is taken only when no run is unfinished in the shared journal;
    /// otherwise it is read and left to its agent (the caller refuses, as it would on a file).
    IfFree,
    /// `--resume`, `--rollback`: the subject is taken from whichever agent holds it.
    Always,
}

/// A journal this process opened shared: its path, replica and key.
type SharedPath = (PathBuf, Arc<dyn Replica>, String);

/// The replicas of the journals this process opened, by path: an interrupt's note goes there
/// too.
static SHARED: std::sync::Mutex<Vec<SharedPath>> = std::sync::Mutex::new(Vec::new());

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
    /// The hash of the last complete line, if any.
    head: Option<String>,
}

impl ReadBack {
    /// The hash of the last complete line ([`line_hash`]): what the next record's `prev` is.
    pub fn head(&self) -> Option<&str> {
        self.head.as_deref()
    }

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
            if let Some((_, replica, key)) = SHARED
                .lock()
                .ok()?
                .iter()
                .find(|(p, _, _)| *p == run.path)
                .cloned()
            {
                journal.shared = Some(Shared {
                    replica,
                    key,
                    taken: true,
                });
            }
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
                head: None,
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
        let prev = back.head().unwrap_or(GENESIS).to_string();
        Ok((
            Journal {
                path,
                file,
                next_seq,
                run_id: run_id.to_string(),
                group: subject.record_name(),
                prev,
                _lock: lock,
                shared: None,
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
        self.path.with_file_name(kept_name(&stem, run, refused))
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
        let back = read(&self.path)?;
        self.next_seq = back.entries.last().map_or(1, |e| e.seq + 1);
        self.prev = back.head().unwrap_or(GENESIS).to_string();
        Ok(())
    }

    /// Appends a record, chained to the line before it, and syncs it to disk before returning.
    pub fn append(&mut self, record: Record, ts_ms: i64) -> Result<Entry> {
        let (entry, line, hash) = self.encode(record, ts_ms)?;
        if let Some(shared) = &self.shared {
            let committed = shared.replica.commit(&shared.key, &line);
            self.shared_outcome(committed)?;
        }
        self.write(entry, line, hash)
    }

    /// [`Journal::append`] for a cutover's driver: a shared journal's commit runs on the
    /// blocking pool, so that the other cutovers of a stage (futures of the same task) go on
    /// while it waits for the broker.
    pub async fn append_async(&mut self, record: Record, ts_ms: i64) -> Result<Entry> {
        let (entry, line, hash) = self.encode(record, ts_ms)?;
        if let Some(shared) = &self.shared {
            let (key, bytes) = (shared.key.clone(), line.clone());
            let committed =
                replica::off_thread(&shared.replica, move |r| r.commit(&key, &bytes)).await;
            self.shared_outcome(committed)?;
        }
        self.write(entry, line, hash)
    }

    /// The record as a line (without its line end), and its hash.
    fn encode(&self, record: Record, ts_ms: i64) -> Result<(Entry, Vec<u8>, String)> {
        let entry = Entry {
            v: JOURNAL_VERSION,
            seq: self.next_seq,
            ts_ms,
            run_id: self.run_id.clone(),
            group: self.group.clone(),
            record,
        };
        let line = serde_json::to_vec(&Written {
            v: entry.v,
            seq: entry.seq,
            prev: &self.prev,
            ts_ms: entry.ts_ms,
            run_id: &entry.run_id,
            group: &entry.group,
            record: &entry.record,
        })
        .map_err(|e| Error::Journal(format!("cannot encode a journal record: {e}")))?;
        if line.len() > MAX_LINE_BYTES {
            return Err(Error::Journal(format!(
                "a journal record of {} bytes for {} is over the limit of {MAX_LINE_BYTES} bytes a line; nothing was written",
                line.len(),
                self.path.display()
            )));
        }
        if self.shared.as_ref().is_some_and(|s| !s.taken) {
            return Err(Error::Internal(format!(
                "a record for {} was to be written to a shared journal this agent did not take",
                self.group
            )));
        }
        let hash = line_hash(&line);
        Ok((entry, line, hash))
    }

    /// What a shared commit's outcome means here: committed where every agent reads it before
    /// it is written to the file, so a fenced agent stops at this line, before the effect it
    /// would announce.
    fn shared_outcome(&self, committed: Result<()>) -> Result<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        committed.map_err(|e| match e {
            Error::Fenced { store, .. } => Error::Fenced {
                what: format!("the journal of {}", self.group),
                by: taker(shared, self.next_seq),
                store,
            },
            e => e,
        })
    }

    /// Writes the line to the file (fsynced) and moves the chain on.
    fn write(&mut self, entry: Entry, mut line: Vec<u8>, hash: String) -> Result<Entry> {
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io_error("write", &self.path, e))?;
        self.next_seq += 1;
        self.prev = hash;
        Ok(entry)
    }
}

/// Who took a shared journal from this agent: the agent of the first `started` record written
/// after this agent's last one.
fn taker(shared: &Shared, after_seq: u64) -> String {
    let started = shared.replica.read(&shared.key).ok().and_then(|lines| {
        lines
            .iter()
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
            .filter(|e| e.seq >= after_seq)
            .find_map(|e| match e.record {
                Record::Started { agent, .. } => Some(format!("agent {agent}, run {}", e.run_id)),
                _ => None,
            })
    });
    started.unwrap_or_else(|| "an agent whose first record is not in the shared journal yet".into())
}

/// A record as written: the entry with its link in the chain, `prev` right after the sequence
/// number.
#[derive(Serialize)]
struct Written<'a> {
    v: u32,
    seq: u64,
    prev: &'a str,
    ts_ms: i64,
    run_id: &'a str,
    group: &'a str,
    #[serde(flatten)]
    record: &'a Record,
}

/// The file name a run's journal is kept under once another run takes the current one:
/// `<stem>.<run id>.jsonl`, or `<stem>.<run id>.refused.jsonl`; the run id with anything but
/// ASCII letters, digits and `-` replaced by `_`.
pub fn kept_name(stem: &str, run: &str, refused: bool) -> String {
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
    format!("{stem}.{safe_run}{kind}.jsonl")
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

/// One line of a journal file as read, at most [`MAX_LINE_BYTES`] long.
pub(crate) enum RawLine {
    /// A line with its line end (not included).
    Complete,
    /// The file's last bytes, without a line end.
    Torn,
    /// A line longer than the limit; what was read of it is dropped.
    TooLong,
}

/// Reads the next line into `buf` (cleared first), reading at most `max + 1` bytes of it:
/// `None` at the end of the file.
pub(crate) fn next_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<RawLine>> {
    buf.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(RawLine::Complete));
    }
    if buf.len() > max {
        buf.clear();
        return Ok(Some(RawLine::TooLong));
    }
    Ok(Some(RawLine::Torn))
}

/// The error for a line over [`MAX_LINE_BYTES`] (or a test's smaller limit).
pub(crate) fn too_long(path: &Path, number: u64, max: usize) -> Error {
    Error::Journal(format!(
        "{} line {number} is longer than {max} bytes, more than cutover ever writes in a line; the file is damaged or not a journal: keep it for the investigation",
        path.display()
    ))
}

/// Reads a journal. A last line that does not parse (or lacks its newline) is the torn tail of
/// a killed write and is returned apart; a bad line before the last is an error naming it, and
/// so is a line longer than [`MAX_LINE_BYTES`] or one of a journal version this cutover does
/// not know.
pub fn read(path: &Path) -> Result<ReadBack> {
    read_bounded(path, MAX_LINE_BYTES)
}

/// [`read`], with lines limited to `max` bytes.
pub(crate) fn read_bounded(path: &Path, max: usize) -> Result<ReadBack> {
    let file = File::open(path).map_err(|e| io_error("open", path, e))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut torn_tail = None;
    let mut head = None;
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        let kind = next_line(&mut reader, &mut line, max).map_err(|e| io_error("read", path, e))?;
        let complete = match kind {
            None => break,
            Some(RawLine::TooLong) => return Err(too_long(path, number + 1, max)),
            Some(RawLine::Complete) => true,
            Some(RawLine::Torn) => false,
        };
        number += 1;
        match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) if complete => {
                if entry.v > JOURNAL_VERSION {
                    return Err(Error::Journal(format!(
                        "{} line {number} has journal version {}; this cutover reads up to {JOURNAL_VERSION}: use a newer cutover",
                        path.display(),
                        entry.v
                    )));
                }
                if entry.v == 0 {
                    return Err(Error::Journal(format!(
                        "{} line {number} has journal version 0, which no cutover writes; the journal is damaged: keep it for the investigation and roll the group back by hand",
                        path.display()
                    )));
                }
                head = Some(line_hash(&line));
                entries.push(entry);
            }
            result => {
                // Only the last line may be torn.
                let more = !reader
                    .fill_buf()
                    .map_err(|e| io_error("read", path, e))?
                    .is_empty();
                if number == 1 && (more || complete) {
                    // Nothing here was ever a journal: say so, and advise nothing about groups.
                    return Err(Error::NotAJournal {
                        path: path.to_path_buf(),
                        why: match result {
                            Err(e) => format!("its first line is not a journal record ({e})"),
                            Ok(_) => "its first line has no line end".into(),
                        },
                    });
                }
                if more {
                    let why = match result {
                        Err(e) => e.to_string(),
                        Ok(_) => "no line end".into(),
                    };
                    return Err(Error::Journal(format!(
                        "{} line {number} is not a journal record ({why}); the journal is damaged: keep it for the investigation and roll the group back by hand",
                        path.display()
                    )));
                }
                torn_tail = Some(String::from_utf8_lossy(&line).into_owned());
                break;
            }
        }
    }
    Ok(ReadBack {
        entries,
        torn_tail,
        head,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod shared_tests;
