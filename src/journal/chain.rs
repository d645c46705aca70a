//! Checking a journal's hash chain (`cutover report --verify`): whether every line is the one
//! its successor vouches for, and where the file was altered or cut when one is not.
//!
//! Each record's `prev` is the hash of the line before it ([`line_hash`]), the first record's
//! [`GENESIS`]. Walking the file line by line, a `prev` that does not match says the line before
//! it was altered, or lines were inserted or removed between them; sequence numbers (1, 2, 3…
//! in every file cutover writes) say which: a gap, a repeat, a step back. A file ending without
//! a line end was cut mid-line. Records missing at the end are known only where the journal's
//! own rules say how it must end: a kept run (`<group>.<run id>.jsonl`) always ends with its
//! finished record; the current journal of a run no agent drives (its lock free) that does not
//! end so was interrupted or cut, which the chain cannot tell apart, and the check says so.
//!
//! What the chain cannot see: the last line is vouched for by nothing after it (the check
//! prints its hash, the `head`, to keep elsewhere), and the chain has no key, so whoever
//! rewrites a whole journal can rewrite its chain too. Journals written before chains (format
//! version 1) have no `prev` and are reported as such, not as broken.
//!
//! Memory stays bounded: one line at a time, none longer than [`MAX_LINE_BYTES`], and at most
//! [`MAX_PROBLEMS`] problems kept per file (the rest are counted).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    file_stem, io_error, kept_name, line_hash, next_line, Entry, RawLine, Record, GENESIS,
    JOURNAL_VERSION, MAX_LINE_BYTES,
};
use crate::error::{Error, Result};
use crate::model::GroupId;

/// Problems kept per journal; any beyond are only counted.
pub const MAX_PROBLEMS: usize = 20;

/// What the check found of one journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainCheck {
    pub journal: String,
    pub verdict: Verdict,
    /// Complete lines that are journal records.
    pub records: u64,
    /// The first line carrying `prev` (1 unless the journal was begun before chains).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_from_line: Option<u64>,
    /// The hash of the last complete line: what a record appended next would carry, and what to
    /// keep elsewhere to vouch for the last line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    pub ending: Ending,
    /// Where the chain does not hold, in line order.
    pub problems: Vec<Problem>,
    /// Problems past the first [`MAX_PROBLEMS`], not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_problems: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The verdict on one journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every line is the one its successor vouches for.
    Intact,
    /// No record carries `prev`: written before chains; nothing to check.
    Unchained,
    /// No record at all.
    Empty,
    /// A line was altered, inserted, removed or reordered.
    Broken,
    /// The file was cut: it ends mid-line, or records are missing at its end.
    Cut,
}

impl Verdict {
    /// Whether the journal passes: nothing in it contradicts its chain.
    pub fn holds(self) -> bool {
        matches!(self, Verdict::Intact | Verdict::Unchained | Verdict::Empty)
    }
}

/// How the journal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// With a finished record: the run ended.
    Finished,
    /// An agent holds the journal's lock: it is still being written.
    InProgress,
    /// Without a finished record and no agent holds the lock: an interrupted run (to resume),
    /// or records cut from the end; the chain cannot tell which.
    Unfinished,
    /// A watch journal: it records pauses and resumes, with no finished record to expect.
    Open,
    /// Records are missing at the end: a kept run's journal always ends finished.
    RecordsMissing,
    /// The last line has no line end.
    MidLine,
    /// The file holds no record.
    Empty,
    /// The check stopped before the end (a line too long to read).
    Unchecked,
}

/// One place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The line (from 1) where it shows.
    pub line: u64,
    /// That line's sequence number, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The line is not a journal record.
    NotARecord,
    /// The line is longer than cutover ever writes; the check stops there.
    LineTooLong,
    /// A journal version no cutover writes, or a newer one than this cutover knows.
    ForeignVersion,
    /// The first line's `prev` is not the genesis value: lines before it were removed.
    NotFirst,
    /// `prev` is not the hash of the line before.
    PrevMismatch,
    /// A record without `prev` after chained ones, or of a version that always has one.
    PrevMissing,
    /// The sequence number skips: records were removed.
    SeqGap,
    /// The same sequence number twice: a record was duplicated.
    SeqRepeated,
    /// The sequence number goes back: records were reordered or inserted.
    SeqBackwards,
    /// The file ends mid-line.
    CutMidLine,
    /// Records are missing after the last line.
    RecordsMissing,
}

/// The fields of a line the chain needs, beside the full record (parsed apart so that the
/// journal's own [`Entry`] stays what every reader uses).
#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    prev: Option<String>,
}

/// Checks the chain of the journal at `path`. An error only when the file cannot be read or
/// holds no journal record at all ([`Error::NotAJournal`]); everything else is a verdict.
pub fn verify(path: &Path) -> Result<ChainCheck> {
    verify_bounded(path, MAX_LINE_BYTES)
}

/// [`verify`], with lines limited to `max` bytes.
pub(crate) fn verify_bounded(path: &Path, max: usize) -> Result<ChainCheck> {
    let file = File::open(path).map_err(|e| io_error("open", path, e))?;
    let mut reader = BufReader::new(file);
    let mut walk = Walk::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut ending = None;
    loop {
        let kind = next_line(&mut reader, &mut line, max).map_err(|e| io_error("read", path, e))?;
        number += 1;
        match kind {
            None => break,
            Some(RawLine::TooLong) => {
                walk.problem(
                    number,
                    None,
                    ProblemKind::LineTooLong,
                    format!("line {number} is longer than {max} bytes, more than cutover ever writes in a line; the check stops here"),
                );
                ending = Some(Ending::Unchecked);
                break;
            }
            Some(RawLine::Torn) => {
                if walk.records == 0 && number == 1 && !line.starts_with(b"{") {
                    return Err(not_a_journal(path, "its only line is not a journal record"));
                }
                walk.problem(
                    number,
                    None,
                    ProblemKind::CutMidLine,
                    format!("line {number} ends without a line end: the file was cut mid-line (or the agent was killed mid-write and its run not resumed since)"),
                );
                ending = Some(Ending::MidLine);
                break;
            }
            Some(RawLine::Complete) => walk.line(number, &line),
        }
    }
    if walk.records == 0 && walk.lines > 0 {
        return Err(not_a_journal(path, "none of its lines is a journal record"));
    }
    let ending = match ending {
        Some(e) => e,
        None => end_of(path, &walk),
    };
    if ending == Ending::RecordsMissing && walk.problems.len() < MAX_PROBLEMS {
        let (line, seq) = (walk.lines, walk.last.as_ref().map(|l| l.seq));
        walk.problem(
            line + 1,
            None,
            ProblemKind::RecordsMissing,
            format!(
                "records after line {line}{} are missing: a kept run's journal always ends with its finished record",
                seq.map(|s| format!(" (seq {s})")).unwrap_or_default()
            ),
        );
    }
    let verdict = if walk.problems.iter().any(|p| {
        !matches!(
            p.kind,
            ProblemKind::CutMidLine | ProblemKind::RecordsMissing
        )
    }) {
        Verdict::Broken
    } else if !walk.problems.is_empty() {
        Verdict::Cut
    } else if walk.records == 0 {
        Verdict::Empty
    } else if walk.chained_from.is_none() {
        Verdict::Unchained
    } else {
        Verdict::Intact
    };
    Ok(ChainCheck {
        journal: path.display().to_string(),
        verdict,
        records: walk.records,
        chained_from_line: walk.chained_from,
        head: walk.prev_hash,
        ending,
        problems: walk.problems,
        more_problems: walk.more_problems,
    })
}

fn not_a_journal(path: &Path, why: &str) -> Error {
    Error::NotAJournal {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

/// The last record read, for the ending.
struct Last {
    seq: u64,
    run_id: String,
    group: String,
    finished: bool,
}

/// The walk along the lines: what the next line must match.
#[derive(Default)]
struct Walk {
    lines: u64,
    records: u64,
    prev_hash: Option<String>,
    prev_seq: Option<u64>,
    chained_from: Option<u64>,
    last: Option<Last>,
    problems: Vec<Problem>,
    more_problems: u64,
}

impl Walk {
    fn problem(&mut self, line: u64, seq: Option<u64>, kind: ProblemKind, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                line,
                seq,
                kind,
                message,
            });
        } else {
            self.more_problems += 1;
        }
    }

    /// Checks one complete line (`bytes`, without its line end) against the one before.
    fn line(&mut self, n: u64, bytes: &[u8]) {
        self.lines = n;
        let hash = line_hash(bytes);
        let parsed = serde_json::from_slice::<Entry>(bytes)
            .and_then(|e| serde_json::from_slice::<Link>(bytes).map(|l| (e, l.prev)));
        match parsed {
            Err(e) => {
                self.problem(
                    n,
                    None,
                    ProblemKind::NotARecord,
                    format!("line {n} is not a journal record ({e}): it was altered"),
                );
                // Assume it held the next number, so the lines after it are judged on their own.
                self.prev_seq = self.prev_seq.map(|s| s + 1);
            }
            Ok((entry, prev)) => {
                self.records += 1;
                self.record(n, &entry, prev.as_deref());
                self.last = Some(Last {
                    seq: entry.seq,
                    finished: matches!(entry.record, Record::Finished { .. }),
                    run_id: entry.run_id,
                    group: entry.group,
                });
            }
        }
        self.prev_hash = Some(hash);
    }

    fn record(&mut self, n: u64, entry: &Entry, prev: Option<&str>) {
        let seq = Some(entry.seq);
        if entry.v == 0 || entry.v > JOURNAL_VERSION {
            self.problem(
                n,
                seq,
                ProblemKind::ForeignVersion,
                if entry.v == 0 {
                    format!("line {n} has journal version 0, which no cutover writes: it was altered")
                } else {
                    format!("line {n} has journal version {}; this cutover knows up to {JOURNAL_VERSION}: check it with a newer cutover", entry.v)
                },
            );
        }
        match prev {
            Some(prev) => {
                self.chained_from.get_or_insert(n);
                let expected = self.prev_hash.as_deref().unwrap_or(GENESIS);
                if prev != expected {
                    let (kind, message) = if n == 1 {
                        (ProblemKind::NotFirst, "line 1 does not carry the genesis value a journal's first record has: lines before it were removed".to_string())
                    } else {
                        (ProblemKind::PrevMismatch, format!("line {n} does not carry the hash of line {}: line {} was altered, or lines were inserted or removed between them", n - 1, n - 1))
                    };
                    self.problem(n, seq, kind, message);
                }
            }
            None if self.chained_from.is_some() || entry.v >= 2 => {
                self.problem(
                    n,
                    seq,
                    ProblemKind::PrevMissing,
                    format!("line {n} carries no hash of the line before, which every record of a chained journal carries: it was altered or inserted"),
                );
            }
            None => {}
        }
        self.sequence(n, entry.seq);
    }

    fn sequence(&mut self, n: u64, seq: u64) {
        let expected = self.prev_seq.map_or(1, |s| s.saturating_add(1));
        if seq != expected {
            let (kind, message) = match self.prev_seq {
                Some(before) if seq == before => (
                    ProblemKind::SeqRepeated,
                    format!("line {n} repeats sequence number {seq}: a record was duplicated"),
                ),
                Some(before) if seq < before => (
                    ProblemKind::SeqBackwards,
                    format!("line {n} has sequence number {seq} after {before}: records were reordered or inserted"),
                ),
                Some(before) => (
                    ProblemKind::SeqGap,
                    format!("line {n} has sequence number {seq} after {before}: {} record(s) were removed", seq - before - 1),
                ),
                None => (
                    ProblemKind::SeqGap,
                    format!("line {n} has sequence number {seq}, a journal starts at 1: records before it were removed"),
                ),
            };
            self.problem(n, Some(seq), kind, message);
        }
        self.prev_seq = Some(seq);
    }
}

/// How a journal whose last line is complete ends (see [`Ending`]).
fn end_of(path: &Path, walk: &Walk) -> Ending {
    let Some(last) = &walk.last else {
        return Ending::Empty;
    };
    if last.finished {
        return Ending::Finished;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stems = stems(&last.group);
    let kept = stems.iter().any(|stem| {
        name == kept_name(stem, &last.run_id, false) || name == kept_name(stem, &last.run_id, true)
    });
    if kept {
        return Ending::RecordsMissing;
    }
    if lock_is_held(path) {
        return Ending::InProgress;
    }
    if last.group.starts_with("watch:") {
        return Ending::Open;
    }
    Ending::Unfinished
}

/// The file stems a journal of records naming `group` may have: the group's, and for the
/// migration-wide journals (`runbook:night-1`) the name's.
fn stems(group: &str) -> Vec<String> {
    let mut out = vec![file_stem(&GroupId::new(group))];
    for kind in ["watch:", "promote:", "runbook:"] {
        if let Some(name) = group.strip_prefix(kind) {
            out.push(file_stem(&GroupId::new(name)));
        }
    }
    out
}

/// Whether an agent holds the journal's lock (`<journal>.lock`), tried without waiting and
/// without creating it; a shared try, released at once, so no agent is kept waiting.
fn lock_is_held(path: &Path) -> bool {
    let Ok(lock) = File::open(path.with_extension("lock")) else {
        return false;
    };
    matches!(
        lock.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

impl ChainCheck {
    /// One line for the operator: "intact (12 records)", or where it broke.
    pub fn summary(&self) -> String {
        let first = self.problems.first();
        let more = self.problems.len() as u64 + self.more_problems;
        let others = if more > 1 {
            format!(" (and {} more problem(s) after it)", more - 1)
        } else {
            String::new()
        };
        match self.verdict {
            Verdict::Intact => {
                let mut text = format!("intact ({} records)", self.records);
                if let Some(from) = self.chained_from_line.filter(|l| *l > 1) {
                    text.push_str(&format!(
                        "; chained from line {from} (the lines before it were written before chains)"
                    ));
                }
                match self.ending {
                    Ending::InProgress => text.push_str("; an agent holds its lock: still being written"),
                    Ending::Unfinished => text.push_str(&format!(
                        "; unfinished: no finished record and no agent holds its lock, so the run was interrupted (resume it) or records after line {} were cut; the chain cannot tell which",
                        self.records
                    )),
                    _ => {}
                }
                text
            }
            Verdict::Unchained => {
                format!("no chain (written before chains): {} records", self.records)
            }
            Verdict::Empty => "empty (no records)".into(),
            Verdict::Broken | Verdict::Cut => {
                let word = if self.verdict == Verdict::Cut {
                    "cut"
                } else {
                    "broken"
                };
                match first {
                    Some(p) => format!(
                        "{word} at line {}{}: {}{others}",
                        p.line,
                        p.seq.map(|s| format!(" (seq {s})")).unwrap_or_default(),
                        p.message
                    ),
                    None => word.into(),
                }
            }
        }
    }
}
