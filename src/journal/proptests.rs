//! Property tests: a real journal (every kind of record, written by [`Journal::append`]),
//! mutated every way a disk, a crash or a hand can mutate it (a byte flipped, cut at any byte,
//! lines dropped, duplicated or swapped, a foreign version, a huge line), is fed to [`read`]
//! and to [`chain::verify`]. `read` gives exactly what a line-by-line reading of the file says
//! (the entries, and a torn last line apart) or an error naming the file and the line, never a
//! panic; the chain check never panics and finds every change before the last line.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

use super::chain::{self, Ending, ProblemKind, Verdict};
use super::*;
use crate::model::Timings;

/// The line limit the properties read with: above every line of the fixture, far below the
/// huge lines they insert.
const MAX: usize = 8192;

/// The largest version a record can carry and still parse.
const V_MAX: u64 = u32::MAX as u64;

/// A finished run's journal holding every kind of record.
fn fixture() -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| {
        let d = scratch().join("fixture");
        let _ = std::fs::remove_dir_all(&d);
        let (mut j, _) = Journal::open(&d, &GroupId::new("orders"), "run-1").unwrap();
        let records = [
            Record::Started {
                command: vec!["group".into(), "orders".into()],
                agent: "host:42".into(),
                resumed: false,
                settings: serde_json::json!({ "stop_deadline_ms": 60000, "hooks": ["stop"] }),
            },
            Record::Phase {
                phase: "excluding".into(),
                state: serde_json::json!({ "phase": "excluding", "since_ms": 5 }),
            },
            Record::Intent {
                effect: "stop_hook".into(),
                detail: serde_json::json!({ "argv": ["kubectl", "scale", "--replicas=0"] }),
            },
            Record::Outcome {
                effect: "stop_hook".into(),
                ok: true,
                detail: serde_json::json!({ "exit": 0, "output": "scaled \"orders\" ✓" }),
            },
            Record::Observation {
                phase: "stopping".into(),
                origin_active: false,
                destination_active: false,
                partitions: vec![PartitionSample {
                    topic: "orders".into(),
                    partition: 0,
                    origin_committed: Some(Offset(41)),
                    destination_committed: None,
                    origin_end: Some(Offset(42)),
                    mirror_end: Some(Offset(42)),
                }],
            },
            Record::Note {
                message: "waiting for the sync tick".into(),
            },
            Record::Finished {
                outcome: "done".into(),
                reason: Some("moved".into()),
                timings: Timings::default(),
            },
        ];
        for (i, r) in records.into_iter().enumerate() {
            j.append(r, 1_700_000_000_000 + i as i64).unwrap();
        }
        let text = std::fs::read(j.path()).unwrap();
        assert!(text.split(|b| *b == b'\n').all(|l| l.len() < MAX));
        text
    })
}

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("cutover-journal-proptests-{}", std::process::id()))
}

/// Writes `bytes` to a file of its own; removed when dropped.
struct Case(PathBuf);

impl Case {
    fn new(bytes: &[u8]) -> Case {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = scratch();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("case-{}.jsonl", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, bytes).unwrap();
        Case(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn lines(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// What reading `bytes` must give, found the plain way: split at line ends, parse each line.
/// `None`: an error.
fn expected(bytes: &[u8]) -> Option<(Vec<Entry>, bool)> {
    let mut all: Vec<(&[u8], bool)> = bytes.split(|b| *b == b'\n').map(|l| (l, true)).collect();
    let tail = all.pop().map_or(&[][..], |(l, _)| l);
    if !tail.is_empty() {
        all.push((tail, false));
    }
    if all.iter().any(|(l, _)| l.len() > MAX) {
        return None;
    }
    let mut entries = Vec::new();
    for (i, (line, complete)) in all.iter().enumerate() {
        match serde_json::from_slice::<Entry>(line) {
            Ok(e) if *complete => {
                if e.v == 0 || e.v > JOURNAL_VERSION {
                    return None;
                }
                entries.push(e);
            }
            _ => {
                let last = i + 1 == all.len();
                if !last || (i == 0 && *complete) {
                    return None;
                }
                return Some((entries, true));
            }
        }
    }
    Some((entries, false))
}

/// `read` of `bytes` is what [`expected`] says, or an error naming the file and a line.
fn read_is_correct(bytes: &[u8]) -> Result<(), TestCaseError> {
    let case = Case::new(bytes);
    let got = read_bounded(case.path(), MAX);
    match (got, expected(bytes)) {
        (Ok(back), Some((entries, torn))) => {
            prop_assert_eq!(back.entries, entries);
            prop_assert_eq!(back.torn_tail.is_some(), torn);
        }
        (Err(e), None) => {
            let text = e.to_string();
            prop_assert!(
                text.contains(&case.path().display().to_string()) && text.contains("line "),
                "the error names neither the file nor the line: {}",
                text
            );
        }
        (Ok(back), None) => prop_assert!(false, "read gave {:?}, expected an error", back),
        (Err(e), Some(_)) => prop_assert!(false, "read failed: {}", e),
    }
    Ok(())
}

/// The chain check of `bytes`; never a panic, an error only for a file with no record at all.
fn check(bytes: &[u8]) -> Result<Option<chain::ChainCheck>, TestCaseError> {
    let case = Case::new(bytes);
    match chain::verify_bounded(case.path(), MAX) {
        Ok(c) => {
            prop_assert!(c.problems.len() <= chain::MAX_PROBLEMS);
            // The summary renders whatever was found.
            prop_assert!(!c.summary().is_empty());
            Ok(Some(c))
        }
        Err(Error::NotAJournal { .. }) => Ok(None),
        Err(e) => {
            prop_assert!(false, "the check failed: {}", e);
            Ok(None)
        }
    }
}

#[derive(Debug, Clone)]
enum LineOp {
    Drop(Index),
    Duplicate(Index),
    Swap(Index, Index),
}

fn line_op() -> impl Strategy<Value = LineOp> {
    prop_oneof![
        any::<Index>().prop_map(LineOp::Drop),
        any::<Index>().prop_map(LineOp::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| LineOp::Swap(a, b)),
    ]
}

proptest! {
    #[test]
    fn a_flipped_byte_reads_correctly_or_fails_naming_the_line_and_breaks_the_chain_before_the_last_line(
        at in any::<Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = fixture().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        read_is_correct(&bytes)?;
        let last_line_starts = fixture()[..fixture().len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        if let Some(c) = check(&bytes)? {
            if i < last_line_starts || i == bytes.len() - 1 {
                prop_assert!(!c.verdict.holds(), "byte {} changed unseen: {:?}", i, c);
            }
        }
    }

    #[test]
    fn a_journal_cut_at_any_byte_reads_its_complete_lines_and_is_called_cut_mid_line(
        at in any::<Index>(),
    ) {
        let full = fixture();
        let cut = at.index(full.len() + 1);
        let bytes = &full[..cut];
        read_is_correct(bytes)?;
        let case = Case::new(bytes);
        let back = read_bounded(case.path(), MAX).unwrap();
        let complete = bytes.iter().filter(|b| **b == b'\n').count();
        let originals = read_bounded(Case::new(full).path(), MAX).unwrap().entries;
        prop_assert_eq!(&back.entries[..], &originals[..complete]);
        let c = check(bytes)?.expect("a cut journal is still a journal");
        let at_line_end = cut == 0 || full[cut - 1] == b'\n';
        let expected = match (cut, at_line_end) {
            (0, _) => (Verdict::Empty, Ending::Empty),
            (n, _) if n == full.len() => (Verdict::Intact, Ending::Finished),
            (_, true) => (Verdict::Intact, Ending::Unfinished),
            (_, false) => (Verdict::Cut, Ending::MidLine),
        };
        prop_assert_eq!((c.verdict, c.ending), expected);
        prop_assert_eq!(c.records, complete as u64);
    }

    #[test]
    fn lines_dropped_duplicated_or_swapped_read_as_they_stand_and_break_the_chain_where_they_moved(
        op in line_op(),
    ) {
        let original = lines(fixture());
        let entries = read_bounded(Case::new(fixture()).path(), MAX).unwrap().entries;
        let n = original.len();
        let (mut altered, mut order): (Vec<Vec<u8>>, Vec<usize>) = (original.clone(), (0..n).collect());
        // The first line (from 1) the change shows at, if any line after it vouches for it.
        let first = match op {
            LineOp::Drop(i) => {
                let i = i.index(n);
                altered.remove(i);
                order.remove(i);
                (i + 1 < n).then_some(i + 1)
            }
            LineOp::Duplicate(i) => {
                let i = i.index(n);
                altered.insert(i + 1, original[i].clone());
                order.insert(i + 1, i);
                Some(i + 2)
            }
            LineOp::Swap(a, b) => {
                let (a, b) = (a.index(n), b.index(n));
                let (a, b) = (a.min(b), a.max(b));
                altered.swap(a, b);
                order.swap(a, b);
                (a != b).then_some(a + 1)
            }
        };
        let bytes = join(&altered);
        read_is_correct(&bytes)?;
        let back = read_bounded(Case::new(&bytes).path(), MAX).unwrap();
        let reordered: Vec<Entry> = order.iter().map(|i| entries[*i].clone()).collect();
        prop_assert_eq!(back.entries, reordered);
        let c = check(&bytes)?.expect("still a journal");
        match first {
            Some(line) => {
                prop_assert_eq!(c.verdict, Verdict::Broken, "{:?}", c);
                prop_assert_eq!(c.problems[0].line, line as u64, "{:?}", c);
            }
            None => prop_assert!(c.verdict.holds(), "{:?}", c),
        }
    }

    #[test]
    fn a_foreign_version_reads_correctly_or_fails_naming_the_line(
        at in any::<Index>(),
        version in prop_oneof![
            any::<u64>().prop_map(|v| v.to_string()),
            (0u64..5).prop_map(|v| v.to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            Just("\"2\"".to_string()),
            Just("null".to_string()),
            Just("2.5".to_string()),
        ],
    ) {
        let mut altered = lines(fixture());
        let i = at.index(altered.len());
        let text = String::from_utf8(altered[i].clone()).unwrap();
        altered[i] = text.replacen("\"v\":2", &format!("\"v\":{version}"), 1).into_bytes();
        let bytes = join(&altered);
        read_is_correct(&bytes)?;
        if let Some(c) = check(&bytes)? {
            if version != "2" {
                prop_assert!(!c.verdict.holds() || i + 1 == altered.len(), "{:?}", c);
                if let Ok(v @ (0 | 3..=V_MAX)) = version.parse::<u64>() {
                    prop_assert!(
                        c.problems.iter().any(|p| p.line == i as u64 + 1 && p.kind == ProblemKind::ForeignVersion),
                        "version {} at line {}: {:?}", v, i + 1, c
                    );
                }
            }
        }
    }

    #[test]
    fn a_huge_line_is_refused_naming_it_without_reading_it_whole(
        at in any::<Index>(),
        len in (MAX + 1)..(MAX * 16),
        byte in any::<u8>().prop_filter("not a line end", |b| *b != b'\n'),
        ended in any::<bool>(),
    ) {
        let mut altered = lines(fixture());
        let i = at.index(altered.len() + 1);
        altered.insert(i, vec![byte; len]);
        let mut bytes = join(&altered);
        if !ended && i == altered.len() - 1 {
            bytes.pop();
        }
        read_is_correct(&bytes)?;
        let case = Case::new(&bytes);
        let err = read_bounded(case.path(), MAX).unwrap_err().to_string();
        prop_assert!(
            err.contains(&format!("line {} is longer than {MAX} bytes", i + 1)),
            "{}", err
        );
        let c = check(&bytes)?.expect("still a journal");
        prop_assert!(!c.verdict.holds());
        prop_assert!(c.problems.iter().any(|p| p.kind == ProblemKind::LineTooLong && p.line == i as u64 + 1), "{:?}", c);
    }
}
