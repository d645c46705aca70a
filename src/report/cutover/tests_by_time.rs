//! A cutover onto a copy found by time (`--offsets-by-time`): the report states where the
//! group started on the copy and what it cost, in every format, instead of raw JSON.

use serde_json::json;

use super::*;
use crate::journal::{Journal, Record};
use crate::model::GroupId;

#[test]
fn a_move_by_time_is_reported_per_partition_with_what_it_read_again() {
    let dir = std::env::temp_dir().join(format!("cutover-report-by-time-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut journal, _) = Journal::open(&dir, &GroupId::new("clicks-app"), "run-1").unwrap();
    let records = [
        Record::Started {
            command: vec!["cutover".into(), "group".into(), "clicks-app".into()],
            agent: "host-a:1".into(),
            resumed: false,
            settings: json!({}),
        },
        Record::Intent {
            effect: "offsets:write".into(),
            detail: json!({ "description": "offsets:write" }),
        },
        Record::Outcome {
            effect: "offsets:write".into(),
            ok: true,
            detail: json!({
                "written": ["clicks-0=714"],
                "offsets_by_time": { "mode": "rewind", "partitions": [{
                    "topic": "clicks", "partition": 0, "committed": 714,
                    "last_time": 1_767_225_606_200_i64, "copy_topic": "clicks",
                    "start": 670, "read_twice": 4, "skipped": 0, "copy_differs": false
                }]}
            }),
        },
    ];
    for (i, r) in records.into_iter().enumerate() {
        journal.append(r, 1_000 + i as i64).unwrap();
    }
    let report = load(journal.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let by = report
        .offsets_by_time
        .as_ref()
        .expect("the translation is read");
    assert_eq!(by.partitions[0].translation.read_twice, 4);
    let line = "clicks-0 at 714 → clicks-0 from 670 (rewind: 4 record(s) read again)";
    assert!(text::table(std::slice::from_ref(&report)).contains(line));
    assert!(text::markdown(std::slice::from_ref(&report)).contains("read again"));
    let summary = report.timeline.iter().find_map(|r| match &r.event {
        Event::Outcome {
            effect, summary, ..
        } if effect == "offsets:write" => summary.clone(),
        _ => None,
    });
    assert_eq!(
        summary.as_deref(),
        Some("written clicks-0=714 (in the origin's offsets); by time, rewind: 4 record(s) read again")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
