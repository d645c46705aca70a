//! The journal's own tests: records written, read back, kept aside, locked, and chained.

use super::chain::{self, Ending, ProblemKind, Verdict};
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

// ---- The hash chain ----

/// A finished run's journal of `notes` notes between its start and its end, and its lines.
fn finished_journal(d: &Path, notes: usize) -> (PathBuf, Vec<Vec<u8>>) {
    let g = GroupId::new("g");
    let (mut j, _) = Journal::open(d, &g, "r").unwrap();
    j.append(
        Record::Started {
            command: vec!["group".into(), "g".into()],
            agent: "host:1".into(),
            resumed: false,
            settings: serde_json::json!({}),
        },
        1,
    )
    .unwrap();
    for i in 0..notes {
        j.append(note(&format!("note {i}")), 2 + i as i64).unwrap();
    }
    j.append(
        Record::Finished {
            outcome: "done".into(),
            reason: None,
            timings: Timings::default(),
        },
        100,
    )
    .unwrap();
    let path = j.path().to_path_buf();
    drop(j);
    let lines = lines_of(&path);
    (path, lines)
}

fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    std::fs::write(path, text).unwrap();
}

fn prev_of(line: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap();
    v["prev"]
        .as_str()
        .expect("a chained record has prev")
        .to_string()
}

#[test]
fn each_record_carries_the_hash_of_the_line_before_across_resumes_torn_tails_and_archives() {
    let d = dir("chain-written");
    let (path, lines) = finished_journal(&d, 2);
    assert_eq!(prev_of(&lines[0]), GENESIS);
    for k in 1..lines.len() {
        assert_eq!(
            prev_of(&lines[k]),
            line_hash(&lines[k - 1]),
            "line {}",
            k + 1
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(v["v"], JOURNAL_VERSION);
    // A torn write, then a resume: the torn line is cut and the chain goes on from the last
    // complete line.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(br#"{"v":2,"seq":5,"pr"#).unwrap();
    drop(f);
    let g = GroupId::new("g");
    let (mut j, back) = Journal::open(&d, &g, "r").unwrap();
    assert_eq!(back.head(), Some(line_hash(lines.last().unwrap()).as_str()));
    j.append(note("resumed"), 200).unwrap();
    let after = lines_of(&path);
    assert_eq!(after.len(), lines.len() + 1);
    assert_eq!(
        prev_of(&after[lines.len()]),
        line_hash(&lines[lines.len() - 1])
    );
    // The next run archives this one: its own file starts from the genesis value.
    let archived = j.archive("r").unwrap();
    j.continue_run("r2");
    j.append(note("a new run"), 300).unwrap();
    assert_eq!(prev_of(&lines_of(&path)[0]), GENESIS);
    j.append(
        Record::Finished {
            outcome: "refused".into(),
            reason: None,
            timings: Timings::default(),
        },
        301,
    )
    .unwrap();
    // Refused at its plan: the archived run is current again and the chain continues it.
    j.set_refusal_aside(Some(&archived)).unwrap();
    j.append(note("after the refusal"), 400).unwrap();
    let restored = lines_of(&path);
    let n = restored.len();
    assert_eq!(prev_of(&restored[n - 1]), line_hash(&restored[n - 2]));
    drop(j);
    for file in [&path, &d.join("g.r2.refused.jsonl")] {
        let check = chain::verify(file).unwrap();
        assert_eq!(
            check.verdict,
            Verdict::Intact,
            "{}: {check:?}",
            file.display()
        );
    }
}

#[test]
fn an_intact_journal_verifies_with_its_record_count_and_head() {
    let d = dir("chain-intact");
    let (path, lines) = finished_journal(&d, 3);
    let check = chain::verify(&path).unwrap();
    assert_eq!(check.verdict, Verdict::Intact, "{check:?}");
    assert_eq!(check.records, 5);
    assert_eq!(check.ending, Ending::Finished);
    assert_eq!(check.head, Some(line_hash(lines.last().unwrap())));
    assert_eq!(check.summary(), "intact (5 records)");
}

/// Verifies `lines` written over the journal at `path`: the check, and its first problem.
fn verify_altered(path: &Path, lines: &[Vec<u8>]) -> chain::ChainCheck {
    write_lines(path, lines);
    let check = chain::verify(path).unwrap();
    assert!(!check.verdict.holds(), "{check:?}");
    check
}

#[test]
fn an_altered_byte_in_line_k_is_reported_at_line_k_plus_1() {
    let d = dir("chain-altered");
    let (path, mut lines) = finished_journal(&d, 3);
    // Line 3 is `note 1`: make it `note 7`, still a valid record.
    let at = lines[2].windows(6).position(|w| w == b"note 1").unwrap() + 5;
    lines[2][at] = b'7';
    let check = verify_altered(&path, &lines);
    assert_eq!(check.verdict, Verdict::Broken);
    let first = &check.problems[0];
    assert_eq!(
        (first.line, first.seq, first.kind),
        (4, Some(4), ProblemKind::PrevMismatch)
    );
    assert_eq!(check.problems.len(), 1, "{check:?}");
    let summary = check.summary();
    assert!(
        summary.starts_with("broken at line 4 (seq 4): line 4 does not carry the hash of line 3: line 3 was altered"),
        "{summary}"
    );
}

#[test]
fn a_deleted_line_is_reported_where_it_was_with_the_gap_in_sequence() {
    let d = dir("chain-deleted");
    let (path, mut lines) = finished_journal(&d, 3);
    lines.remove(2);
    let check = verify_altered(&path, &lines);
    let kinds: Vec<_> = check.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(
        kinds,
        [(3, ProblemKind::PrevMismatch), (3, ProblemKind::SeqGap)]
    );
    assert!(
        check.problems[1]
            .message
            .contains("1 record(s) were removed"),
        "{check:?}"
    );
}

#[test]
fn the_first_line_removed_is_named_as_such() {
    let d = dir("chain-head-cut");
    let (path, mut lines) = finished_journal(&d, 1);
    lines.remove(0);
    let check = verify_altered(&path, &lines);
    assert_eq!(check.problems[0].kind, ProblemKind::NotFirst);
    assert_eq!(check.problems[0].line, 1);
    assert!(check.summary().contains("lines before it were removed"));
}

#[test]
fn two_swapped_lines_are_reported_at_the_first_of_them() {
    let d = dir("chain-swapped");
    let (path, mut lines) = finished_journal(&d, 3);
    lines.swap(1, 2);
    let check = verify_altered(&path, &lines);
    assert_eq!(check.verdict, Verdict::Broken);
    assert_eq!(check.problems[0].line, 2);
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.line == 3 && p.kind == ProblemKind::SeqBackwards),
        "{check:?}"
    );
}

#[test]
fn a_duplicated_line_is_reported_with_its_repeated_sequence_number() {
    let d = dir("chain-duplicated");
    let (path, mut lines) = finished_journal(&d, 3);
    lines.insert(2, lines[1].clone());
    let check = verify_altered(&path, &lines);
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.line == 3 && p.kind == ProblemKind::PrevMismatch),
        "{check:?}"
    );
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.line == 3 && p.kind == ProblemKind::SeqRepeated),
        "{check:?}"
    );
}

#[test]
fn a_journal_cut_mid_line_is_cut_and_names_the_line() {
    let d = dir("chain-truncated");
    let (path, _) = finished_journal(&d, 3);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let check = chain::verify(&path).unwrap();
    assert_eq!(check.verdict, Verdict::Cut, "{check:?}");
    assert_eq!(check.ending, Ending::MidLine);
    assert_eq!(check.records, 4);
    assert!(
        check
            .summary()
            .starts_with("cut at line 5: line 5 ends without a line end"),
        "{}",
        check.summary()
    );
}

#[test]
fn records_cut_at_a_line_end_are_known_missing_only_where_the_journal_must_end_finished() {
    let d = dir("chain-cut-at-end");
    let (path, mut lines) = finished_journal(&d, 2);
    lines.pop();
    write_lines(&path, &lines);
    // The current journal, no agent on it: interrupted or cut, and the check says it cannot
    // tell which.
    let check = chain::verify(&path).unwrap();
    assert_eq!(
        (check.verdict, check.ending),
        (Verdict::Intact, Ending::Unfinished)
    );
    assert!(
        check
            .summary()
            .contains("interrupted (resume it) or records after line 3 were cut"),
        "{}",
        check.summary()
    );
    // While an agent holds the lock, it is being written.
    let g = GroupId::new("g");
    let (j, _) = Journal::open(&d, &g, "r").unwrap();
    assert_eq!(chain::verify(&path).unwrap().ending, Ending::InProgress);
    drop(j);
    // A kept run always ends finished: records are missing.
    let kept = d.join("g.r.jsonl");
    write_lines(&kept, &lines);
    let check = chain::verify(&kept).unwrap();
    assert_eq!(
        (check.verdict, check.ending),
        (Verdict::Cut, Ending::RecordsMissing)
    );
    assert!(
        check
            .summary()
            .contains("records after line 3 (seq 3) are missing"),
        "{}",
        check.summary()
    );
}

#[test]
fn a_journal_written_before_chains_reads_reports_no_chain_and_is_chained_once_resumed() {
    let d = dir("chain-v1");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("g.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"v":1,"seq":1,"ts_ms":1,"run_id":"r","group":"g","type":"note","message":"a"}"#,
            "\n",
            r#"{"v":1,"seq":2,"ts_ms":2,"run_id":"r","group":"g","type":"note","message":"b"}"#,
            "\n"
        ),
    )
    .unwrap();
    assert_eq!(read(&path).unwrap().entries.len(), 2);
    let check = chain::verify(&path).unwrap();
    assert_eq!(check.verdict, Verdict::Unchained);
    assert!(check.verdict.holds());
    assert_eq!(
        check.summary(),
        "no chain (written before chains): 2 records"
    );
    let (mut j, _) = Journal::open(&d, &GroupId::new("g"), "r").unwrap();
    assert_eq!(j.append(note("c"), 3).unwrap().seq, 3);
    drop(j);
    let check = chain::verify(&path).unwrap();
    assert_eq!(check.verdict, Verdict::Intact, "{check:?}");
    assert_eq!(check.chained_from_line, Some(3));
    // An unchained line after chained ones is not an old journal: it was inserted.
    let mut lines = lines_of(&path);
    lines.push(lines[0].clone());
    let check = verify_altered(&path, &lines);
    assert_eq!(check.problems[0].kind, ProblemKind::PrevMissing);
    assert_eq!(check.problems[0].line, 4);
}

#[test]
fn a_foreign_version_is_refused_by_read_and_reported_by_the_check() {
    let d = dir("chain-version");
    let (path, lines) = finished_journal(&d, 1);
    for (v, says) in [
        ("0", "line 2 has journal version 0, which no cutover writes"),
        (
            "3",
            "line 2 has journal version 3; this cutover reads up to 2",
        ),
    ] {
        let text = String::from_utf8(lines[1].clone()).unwrap();
        let mut altered = lines.clone();
        altered[1] = text
            .replacen("\"v\":2", &format!("\"v\":{v}"), 1)
            .into_bytes();
        write_lines(&path, &altered);
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains(says) && err.contains(&path.display().to_string()),
            "{err}"
        );
        let check = chain::verify(&path).unwrap();
        assert_eq!(
            check.problems[0].kind,
            ProblemKind::ForeignVersion,
            "{check:?}"
        );
    }
}

#[test]
fn a_line_over_the_limit_is_refused_naming_the_file_and_line_without_reading_it_whole() {
    let d = dir("huge-line");
    let (path, lines) = finished_journal(&d, 1);
    let mut altered = lines.clone();
    altered.insert(1, vec![b'x'; 10_000]);
    write_lines(&path, &altered);
    let err = read_bounded(&path, 4096).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "{} line 2 is longer than 4096 bytes",
            path.display()
        )),
        "{err}"
    );
    let check = chain::verify_bounded(&path, 4096).unwrap();
    assert_eq!(check.problems[0].kind, ProblemKind::LineTooLong);
    assert_eq!(check.ending, Ending::Unchecked);
    // The real limit, just over it: refused.
    let mut huge = lines[0].clone();
    huge.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES + 1 - huge.len()));
    write_lines(&path, &[huge]);
    let err = read(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 1 is longer than 67108864 bytes"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_journal_is_not_called_broken() {
    let d = dir("chain-not-a-journal");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("cutover.toml");
    std::fs::write(&path, "[cutover]\njournal-dir = \"j\"\n").unwrap();
    let err = chain::verify(&path).unwrap_err();
    assert!(matches!(err, Error::NotAJournal { .. }), "{err:?}");
    let empty = d.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let check = chain::verify(&empty).unwrap();
    assert_eq!(
        (check.verdict, check.ending),
        (Verdict::Empty, Ending::Empty)
    );
}

#[test]
fn an_endless_line_is_read_no_further_than_the_limit() {
    // A reader that never ends nor sends a line end: the line is refused after `max + 1`
    // bytes, which is all that was held.
    let mut endless = std::io::BufReader::new(std::io::repeat(b'x'));
    let mut buf = Vec::new();
    let got = next_line(&mut endless, &mut buf, 1 << 20).unwrap();
    assert!(matches!(got, Some(RawLine::TooLong)));
    assert!(buf.capacity() <= 4 << 20, "held {} bytes", buf.capacity());
}
