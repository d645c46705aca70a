//! Reports built from journals written the way the cutover driver writes them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::format::utc;
use super::*;
use crate::hooks::{HookKind, HookReport};
use crate::journal::{Journal, PartitionSample, Record};
use crate::model::{GroupId, Offset, Timings};

/// 2023-11-14T22:13:20.000Z; every record is written at `T0 + offset`.
const T0: i64 = 1_700_000_000_000;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cutover-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Appends records (at `T0 + offset` ms) to the group's journal under `run_id`.
fn write(dir: &Path, group: &str, run_id: &str, records: Vec<(i64, Record)>) -> PathBuf {
    let (mut journal, _) = Journal::open(dir, &GroupId::new(group), run_id).unwrap();
    for (at, record) in records {
        journal.append(record, T0 + at).unwrap();
    }
    journal.path().to_path_buf()
}

fn started(resumed: bool) -> Record {
    Record::Started {
        command: vec!["cutover".into(), "group".into(), "billing".into()],
        agent: "host-a:4242".into(),
        resumed,
        settings: json!({}),
    }
}

fn phase(name: &str) -> Record {
    Record::Phase {
        phase: name.into(),
        state: json!({ "phase": name, "checkpoint": "opaque-state-marker" }),
    }
}

fn intent(effect: &str, description: &str) -> Record {
    Record::Intent {
        effect: effect.into(),
        detail: json!({ "description": description }),
    }
}

fn hook(kind: HookKind, ok: bool, stdout: &str, stderr: &str) -> Record {
    let report = HookReport {
        kind,
        description: format!("/usr/local/bin/app {} billing", kind.as_str()),
        attempts: 1,
        ok,
        error: (!ok).then(|| "exit code 3".to_string()),
        exit_code: Some(if ok { 0 } else { 3 }),
        http_status: None,
        stdout: stdout.into(),
        stderr: stderr.into(),
        duration_ms: 200,
    };
    Record::Outcome {
        effect: format!("hook:{}", kind.as_str()),
        ok,
        detail: serde_json::to_value(report).unwrap(),
    }
}

const FILTERS_BEFORE: &str =
    r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
const FILTERS_AFTER: &str = r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"billing","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#;

fn excluded() -> Record {
    Record::Outcome {
        effect: "exclude:link".into(),
        ok: true,
        detail: json!({ "filters_before": FILTERS_BEFORE, "filters_after": FILTERS_AFTER }),
    }
}

/// Two partitions of `orders`; partition 1 trails partition 0 by 10.
fn observation(phase: &str, oc: i64, dc: i64, oe: i64, me: i64) -> Record {
    let sample = |partition: i32, lag: i64| PartitionSample {
        topic: "orders".into(),
        partition,
        origin_committed: Some(Offset(oc - lag)),
        destination_committed: Some(Offset(dc - lag)),
        origin_end: Some(Offset(oe - lag)),
        mirror_end: Some(Offset(me - lag)),
    };
    Record::Observation {
        phase: phase.into(),
        origin_active: phase == "stopping",
        destination_active: phase == "awaiting_restart",
        partitions: vec![sample(0, 0), sample(1, 10)],
    }
}

fn note(message: &str) -> Record {
    Record::Note {
        message: message.into(),
    }
}

fn finished(outcome: &str, reason: Option<&str>, timings: Timings) -> Record {
    Record::Finished {
        outcome: outcome.into(),
        reason: reason.map(str::to_string),
        timings,
    }
}

/// A successful run up to (not including) the `finished` record. Stop done at +1 s (the
/// `awaiting_sync` checkpoint), synced at +4 s, restart begun at +4.5 s.
fn run_until_done(stop_stdout: &str) -> Vec<(i64, Record)> {
    vec![
        (0, started(false)),
        (0, phase("plan")),
        (100, phase("stopping")),
        (100, intent("hook:stop", "/usr/local/bin/app stop billing")),
        (300, hook(HookKind::Stop, true, stop_stdout, "")),
        (300, phase("awaiting_stop")),
        (500, observation("awaiting_stop", 90, 80, 100, 95)),
        (1000, observation("awaiting_stop", 100, 80, 100, 100)),
        (1000, phase("awaiting_sync")),
        (2500, observation("awaiting_sync", 100, 90, 110, 105)),
        (4000, observation("awaiting_sync", 100, 100, 120, 118)),
        (4000, phase("awaiting_mirror")),
        (4100, phase("excluding")),
        (4100, intent("exclude:link", "exclude billing from link-1")),
        (4200, excluded()),
        (4200, phase("confirming_exclusion")),
        (
            4300,
            observation("confirming_exclusion", 100, 100, 130, 130),
        ),
        (4500, phase("restarting")),
        (
            4500,
            intent("hook:restart", "/usr/local/bin/app restart billing"),
        ),
        (
            4800,
            hook(HookKind::Restart, true, "started on the destination", ""),
        ),
        (4800, phase("awaiting_restart")),
        (5500, observation("awaiting_restart", 100, 120, 140, 140)),
        (6000, phase("done")),
    ]
}

fn done_timings(downtime_ms: Option<i64>, sync_wait_ms: Option<i64>) -> Timings {
    Timings {
        started_ms: Some(T0),
        stop_begun_ms: Some(T0 + 100),
        stop_done_ms: Some(T0 + 1000),
        synced_ms: Some(T0 + 4000),
        restart_begun_ms: Some(T0 + 4500),
        finished_ms: Some(T0 + 6000),
        downtime_ms,
        sync_wait_ms,
        ..Timings::default()
    }
}

fn successful_run(name: &str) -> CutoverReport {
    let mut records = run_until_done("stopped billing-consumer");
    records.push((
        6000,
        finished("done", None, done_timings(Some(3500), Some(3000))),
    ));
    load(&write(&dir(name), "billing", "r1", records)).unwrap()
}

fn phase_duration(r: &CutoverReport, name: &str) -> Option<i64> {
    r.timeline.iter().find_map(|row| match &row.event {
        Event::Phase {
            phase, duration_ms, ..
        } if phase == name => *duration_ms,
        _ => None,
    })
}

#[test]
fn a_successful_run_reports_done_with_its_timings_hooks_filters_and_offsets() {
    let r = successful_run("done");
    assert_eq!(r.schema_version, 1);
    assert_eq!((r.group.as_str(), r.run_id.as_str()), ("billing", "r1"));
    assert_eq!(r.outcome, Outcome::Done);
    assert_eq!(r.last_phase.as_deref(), Some("done"));
    assert!(r.next_steps.is_empty());
    let t = &r.timings;
    assert_eq!(
        t.times.downtime_ms,
        Some(t.times.restart_begun_ms.unwrap() - t.times.stop_done_ms.unwrap())
    );
    assert_eq!(t.times.downtime_ms, Some(3500));
    assert_eq!(t.times.sync_wait_ms, Some(3000));
    assert_eq!(t.total_ms, Some(6000));
    assert!(!t.estimated);
    assert_eq!(phase_duration(&r, "awaiting_sync"), Some(3000));

    let hooks: Vec<(&str, bool)> = r.hooks.iter().map(|h| (h.effect.as_str(), h.ok)).collect();
    assert_eq!(hooks, [("hook:stop", true), ("hook:restart", true)]);
    let stop = r.hooks[0].report.as_ref().expect("the stop hook's report");
    assert_eq!(stop.stdout, "stopped billing-consumer");

    let filters = r.link_filters.as_ref().expect("the link action's filters");
    assert_eq!(filters.before.as_deref(), Some(FILTERS_BEFORE));
    assert_eq!(filters.after.as_deref(), Some(FILTERS_AFTER));
    assert_eq!(filters.restored, None);

    assert_eq!(r.observations.len(), 6);
    let last = r.final_offsets.as_ref().expect("a final snapshot");
    assert_eq!(Some(last), r.observations.last());
    assert_eq!(
        (last.ts_ms, last.partitions[0].destination_committed),
        (T0 + 5500, Some(Offset(120)))
    );
    assert!(r.unfinished_effects.is_empty() && r.torn_tail.is_none() && r.problems.is_empty());
}

#[test]
fn downtime_and_sync_wait_are_computed_when_the_run_did_not_record_them() {
    let mut records = run_until_done("");
    records.push((6000, finished("done", None, done_timings(None, None))));
    let r = load(&write(&dir("computed"), "billing", "r1", records)).unwrap();
    // Stop hook begun (+100 ms) → restart begun (+4.5 s).
    assert_eq!(r.timings.times.downtime_ms, Some(4400));
    assert_eq!(r.timings.times.sync_wait_ms, Some(3000));
    assert!(!r.timings.estimated);
}

#[test]
fn markdown_shows_the_outcome_timings_timeline_hooks_and_filters() {
    let r = successful_run("markdown");
    let md = markdown(std::slice::from_ref(&r));
    assert!(md.starts_with("# cutover report: group billing\n"), "{md}");
    assert!(md.contains("**DONE**"), "{md}");
    assert!(md.contains("| downtime | 3.5 s |"), "{md}");
    assert!(md.contains("| sync wait | 3.0 s |"), "{md}");
    assert!(
        md.contains("| 2023-11-14T22:13:21.000Z | +1.0 s | phase awaiting\\_sync |  | 3.0 s |"),
        "{md}"
    );
    assert!(
        md.contains("| 2023-11-14T22:13:20.300Z | +300 ms | outcome hook:stop: ok | exit 0, 1 attempt, 200 ms |  |"),
        "{md}"
    );
    assert!(
        md.contains("#### hook:stop at 2023-11-14T22:13:20.300Z: ok"),
        "{md}"
    );
    assert!(
        md.contains("```text\nstopped billing-consumer\n```"),
        "{md}"
    );
    assert!(
        md.contains(&format!("after:\n\n```json\n{FILTERS_AFTER}\n```")),
        "the filters as the link returned them: {md}"
    );
    assert!(md.contains("| orders | 1 | 90 | 110 | 130 | 130 |"), "{md}");
    assert!(
        !md.contains("opaque-state-marker"),
        "phase state is for JSON only"
    );
}

#[test]
fn a_rolled_back_run_reports_its_reason_and_the_rollback_hook() {
    let reason = "destination_committed never reached origin_committed on orders-0 within 90 s";
    let records = vec![
        (0, started(false)),
        (0, phase("plan")),
        (100, phase("stopping")),
        (100, intent("hook:stop", "/usr/local/bin/app stop billing")),
        (300, hook(HookKind::Stop, true, "", "")),
        (300, phase("awaiting_stop")),
        (1000, phase("awaiting_sync")),
        (1500, observation("awaiting_sync", 100, 80, 100, 100)),
        (1500, note("waiting for the link's offset sync")),
        (91_000, phase("rolling_back")),
        (
            91_000,
            intent("hook:rollback", "/usr/local/bin/app start billing"),
        ),
        (
            91_400,
            hook(HookKind::Rollback, true, "started on the origin", ""),
        ),
        (91_400, phase("rolled_back")),
        (
            91_500,
            finished(
                "rolled_back",
                Some(reason),
                Timings {
                    started_ms: Some(T0),
                    stop_done_ms: Some(T0 + 1000),
                    finished_ms: Some(T0 + 91_500),
                    ..Timings::default()
                },
            ),
        ),
    ];
    let r = load(&write(&dir("rolled-back"), "billing", "r1", records)).unwrap();
    assert_eq!(r.outcome, Outcome::RolledBack);
    assert_eq!(r.reason.as_deref(), Some(reason));
    assert!(r.next_steps.is_empty());
    let hooks: Vec<&str> = r.hooks.iter().map(|h| h.effect.as_str()).collect();
    assert_eq!(hooks, ["hook:stop", "hook:rollback"]);
    assert_eq!(
        r.timings.times.downtime_ms, None,
        "the group never restarted on the destination"
    );
    assert_eq!(
        r.timings.times.sync_wait_ms, None,
        "the offsets never synced"
    );
    assert_eq!(r.timings.total_ms, Some(91_500));
    assert_eq!(phase_duration(&r, "awaiting_sync"), Some(90_000));
    assert!(r.link_filters.is_none());

    let md = markdown(std::slice::from_ref(&r));
    assert!(
        md.contains("**ROLLED BACK**: destination\\_committed never reached"),
        "{md}"
    );
    assert!(
        md.contains("| note | waiting for the link's offset sync |"),
        "{md}"
    );
    let html = html(std::slice::from_ref(&r));
    assert!(html.contains("class=\"banner b-rolled_back\""), "{html}");
}

#[test]
fn an_interrupted_run_with_a_torn_tail_says_where_it_stopped_and_how_to_go_on() {
    let d = dir("interrupted");
    let mut records = run_until_done("");
    records.truncate(
        records
            .iter()
            .position(
                |(_, r)| matches!(r, Record::Outcome { effect, .. } if effect == "exclude:link"),
            )
            .unwrap(),
    );
    let path = write(&d, "billing", "r1", records);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(br#"{"v":1,"seq":15,"ts_ms":1700000004200,"run_id":"r1","gro"#)
        .unwrap();
    drop(file);

    let r = load(&path).unwrap();
    assert_eq!(r.outcome, Outcome::InProgress);
    assert_eq!(r.last_phase.as_deref(), Some("excluding"));
    assert_eq!(
        phase_duration(&r, "excluding"),
        None,
        "the phase never ended"
    );
    assert!(r.torn_tail.as_deref().unwrap().contains("\"seq\":15"));
    let pending: Vec<&str> = r
        .unfinished_effects
        .iter()
        .map(|u| u.effect.as_str())
        .collect();
    assert_eq!(pending, ["exclude:link"]);
    assert_eq!(
        r.next_steps,
        [
            "cutover group billing --resume",
            "cutover group billing --rollback"
        ]
    );
    assert!(r.timings.estimated);
    assert_eq!(r.timings.times.stop_done_ms, Some(T0 + 1000));
    assert_eq!(r.timings.times.sync_wait_ms, Some(3000));
    assert_eq!(
        (r.timings.times.downtime_ms, r.timings.total_ms),
        (None, None)
    );

    let md = markdown(std::slice::from_ref(&r));
    assert!(
        md.contains("**IN PROGRESS / INTERRUPTED** at phase excluding"),
        "{md}"
    );
    assert!(md.contains("- `cutover group billing --resume`"), "{md}");
    assert!(md.contains("- `cutover group billing --rollback`"), "{md}");
    assert!(md.contains("last line was torn"), "{md}");
    assert!(
        md.contains("exclude:link announced at 2023-11-14T22:13:24.100Z"),
        "{md}"
    );
    let text = table(std::slice::from_ref(&r));
    assert!(
        text.contains("IN PROGRESS / INTERRUPTED at phase excluding"),
        "{text}"
    );
    assert!(
        text.contains("next: cutover group billing --resume"),
        "{text}"
    );
}

#[test]
fn a_resumed_run_is_one_cutover_with_two_sessions_and_earlier_runs_named() {
    let d = dir("resumed");
    write(
        &d,
        "billing",
        "r0",
        vec![
            (-60_000, started(false)),
            (-60_000, phase("plan")),
            (-59_000, phase("refused")),
            (
                -59_000,
                finished(
                    "refused",
                    Some("group billing is active on the destination"),
                    Timings::default(),
                ),
            ),
        ],
    );
    let mut first = run_until_done("");
    first.truncate(9); // killed in awaiting_sync, after its checkpoint at +1 s
    write(&d, "billing", "r1", first);
    let path = write(
        &d,
        "billing",
        "r1",
        vec![
            (20_000, started(true)),
            (20_000, phase("awaiting_sync")),
            (20_500, observation("awaiting_sync", 100, 100, 120, 120)),
            (21_000, phase("awaiting_mirror")),
            (21_000, phase("excluding")),
            (
                21_000,
                intent("exclude:link", "exclude billing from link-1"),
            ),
            (21_200, excluded()),
            (21_500, phase("restarting")),
            (
                21_500,
                intent("hook:restart", "/usr/local/bin/app restart billing"),
            ),
            (21_800, hook(HookKind::Restart, true, "", "")),
            (22_000, phase("done")),
            (
                22_000,
                finished(
                    "done",
                    None,
                    Timings {
                        started_ms: Some(T0),
                        stop_begun_ms: None,
                        stop_done_ms: Some(T0 + 1000),
                        synced_ms: Some(T0 + 21_000),
                        restart_begun_ms: Some(T0 + 21_500),
                        finished_ms: Some(T0 + 22_000),
                        downtime_ms: Some(20_500),
                        sync_wait_ms: Some(20_000),
                        ..Timings::default()
                    },
                ),
            ),
        ],
    );

    let r = load(&path).unwrap();
    assert_eq!(r.run_id, "r1");
    assert_eq!(r.other_runs, ["r0"]);
    assert_eq!(r.outcome, Outcome::Done);
    let resumed: Vec<bool> = r.sessions.iter().map(|s| s.resumed).collect();
    assert_eq!(resumed, [false, true]);
    assert_eq!(
        r.timeline[0].since_start_ms, 0,
        "the run starts at r1's start"
    );
    assert!(
        !r.timeline.iter().any(|row| matches!(
            &row.event,
            Event::Finished {
                outcome: Outcome::Refused,
                ..
            }
        )),
        "r0's records stay out of r1's timeline"
    );
    assert_eq!(
        phase_duration(&r, "awaiting_sync"),
        Some(19_000),
        "the phase spans the agent's death"
    );
    assert!(r.unfinished_effects.is_empty());
    let hooks: Vec<&str> = r.hooks.iter().map(|h| h.effect.as_str()).collect();
    assert_eq!(hooks, ["hook:stop", "hook:restart"]);
    assert_eq!(r.timings.times.downtime_ms, Some(20_500));

    let md = markdown(std::slice::from_ref(&r));
    assert!(
        md.contains("- resumed by agent host-a:4242 at 2023-11-14T22:13:40.000Z"),
        "{md}"
    );
    assert!(md.contains("earlier runs, not reported here: r0"), "{md}");
}

#[test]
fn html_is_one_self_contained_page_with_a_chart_per_partition() {
    let r = successful_run("html");
    let page = html(std::slice::from_ref(&r));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    for external in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", "src=",
    ] {
        assert!(!page.contains(external), "{external} in {page}");
    }
    for href in page.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "an href leaves the page: {href}");
    }
    assert!(!page.contains("http://") && !page.contains("https://"));

    assert_eq!(page.matches("<svg").count(), 2, "one chart per partition");
    let phases = r
        .timeline
        .iter()
        .filter(|row| matches!(row.event, Event::Phase { .. }))
        .count();
    let first_chart = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    assert_eq!(first_chart.matches("class=\"phase\"").count(), phases);
    assert!(first_chart.contains(">awaiting_sync</text>"));
    for series in [
        "origin_committed",
        "destination_committed",
        "mirror_end",
        "origin_end",
    ] {
        assert!(
            first_chart.contains(&format!("<polyline class=\"{series}\"")),
            "{series} is drawn"
        );
        assert!(
            first_chart.contains(&format!(">{series}</text>")),
            "{series} in the legend"
        );
    }
    assert!(page.contains("class=\"banner b-done\""));
    assert!(page.contains("<th>downtime</th><td class=\"num\">3.5 s</td>"));
    assert!(page.contains("<td>phase awaiting_sync</td>"));
    assert!(page.contains("<pre>stopped billing-consumer</pre>"));
    assert!(page.contains(
        "<th>before</th><td><pre>{&quot;groupFilters&quot;:[{&quot;name&quot;:&quot;*&quot;"
    ));
    assert!(!page.contains("opaque-state-marker"));
}

#[test]
fn journal_text_is_escaped_in_html_markdown_and_terminal_output() {
    let group = "<script>alert('group')</script>";
    let mut records = run_until_done("");
    records[4] = (
        300,
        hook(
            HookKind::Stop,
            true,
            "<script>alert(1)</script>\n```\nfenced\n```",
            "</pre><img src=x onerror=alert(2)>\u{1b}[2J",
        ),
    );
    let r = load(&write(&dir("escape"), group, "r1", records)).unwrap();
    assert_eq!(r.group, group);

    let page = html(std::slice::from_ref(&r));
    assert!(!page.to_lowercase().contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("group &lt;script&gt;alert(&#39;group&#39;)&lt;/script&gt;"));
    assert!(page.contains("&lt;/pre&gt;&lt;img src=x"));

    let md = markdown(std::slice::from_ref(&r));
    assert!(
        md.starts_with("# cutover report: group \\<script\\>alert('group')\\</script\\>\n"),
        "{md}"
    );
    assert!(
        md.contains("````text\n<script>alert(1)</script>\n```\nfenced\n```\n````"),
        "hook output stays inside a longer fence: {md}"
    );

    let text = table(std::slice::from_ref(&r));
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}[2J"), "{text}");
}

#[test]
fn commands_quote_group_ids_for_the_shell() {
    assert_eq!(shell_word("billing-v2.prod"), "billing-v2.prod");
    assert_eq!(shell_word("my group"), "'my group'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    assert_eq!(shell_word(""), "''");
}

/// A finished run whose downtime is `downtime_ms` and sync wait a tenth of it.
fn done_with_downtime(d: &Path, group: &str, downtime_ms: i64) -> CutoverReport {
    let stop_done = 1000;
    let path = write(
        d,
        group,
        "r1",
        vec![
            (0, started(false)),
            (stop_done, phase("awaiting_sync")),
            (stop_done + downtime_ms, intent("hook:restart", "restart")),
            (
                stop_done + downtime_ms + 50,
                hook(HookKind::Restart, true, "", ""),
            ),
            (stop_done + downtime_ms + 100, phase("done")),
            (
                stop_done + downtime_ms + 100,
                finished(
                    "done",
                    None,
                    Timings {
                        started_ms: Some(T0),
                        stop_begun_ms: None,
                        stop_done_ms: Some(T0 + stop_done),
                        synced_ms: Some(T0 + stop_done + downtime_ms / 10),
                        restart_begun_ms: Some(T0 + stop_done + downtime_ms),
                        finished_ms: Some(T0 + stop_done + downtime_ms + 100),
                        downtime_ms: Some(downtime_ms),
                        sync_wait_ms: Some(downtime_ms / 10),
                        ..Timings::default()
                    },
                ),
            ),
        ],
    );
    load(&path).unwrap()
}

fn five_cutovers(name: &str) -> Vec<CutoverReport> {
    let d = dir(name);
    let mut reports: Vec<CutoverReport> = [("a", 1000), ("b", 2000), ("c", 9000)]
        .into_iter()
        .map(|(group, downtime)| done_with_downtime(&d, group, downtime))
        .collect();
    // Unfinished: its estimated downtime (50 s so far) must not count.
    let interrupted = write(
        &d,
        "d",
        "r1",
        vec![
            (0, started(false)),
            (1000, phase("awaiting_sync")),
            (51_000, intent("hook:restart", "restart")),
        ],
    );
    reports.push(load(&interrupted).unwrap());
    let rolled_back = write(
        &d,
        "e",
        "r1",
        vec![
            (0, started(false)),
            (
                500,
                finished("rolled_back", Some("stop hook failed"), Timings::default()),
            ),
        ],
    );
    reports.push(load(&rolled_back).unwrap());
    reports
}

#[test]
fn the_summary_counts_outcomes_and_takes_percentiles_over_finished_cutovers() {
    let reports = five_cutovers("summary");
    assert_eq!(reports[3].timings.times.downtime_ms, Some(50_000));
    let s = summary(&reports);
    assert_eq!(s.cutovers, 5);
    assert_eq!(
        s.outcomes.into_iter().collect::<Vec<_>>(),
        [
            (Outcome::Done, 3),
            (Outcome::RolledBack, 1),
            (Outcome::InProgress, 1)
        ]
    );
    let downtime = s
        .downtime_ms
        .expect("three finished cutovers had a downtime");
    assert_eq!(downtime.count, 3);
    assert!((2000..=2002).contains(&downtime.p50), "{downtime:?}");
    assert_eq!(
        (downtime.p90, downtime.p99, downtime.max),
        (9000, 9000, 9000)
    );
    let sync_wait = s
        .sync_wait_ms
        .expect("three finished cutovers had a sync wait");
    assert_eq!(
        (sync_wait.count, sync_wait.p50, sync_wait.max),
        (3, 200, 900)
    );
}

#[test]
fn several_reports_are_rendered_with_their_summary_first_in_documents_and_last_on_terminals() {
    let reports = five_cutovers("several");
    let md = markdown(&reports);
    assert!(md.starts_with("# cutover report: 5 cutovers\n\n## Summary\n\n5 cutovers: 3 done · 1 rolled back · 1 in progress / interrupted."), "{md}");
    assert!(
        md.contains("| downtime | 3 | 2.0 s | 9.0 s | 9.0 s | 9.0 s |"),
        "{md}"
    );
    assert_eq!(md.matches("\n## group ").count(), 5);

    let page = html(&reports);
    let summary_at = page.find("<h2>Summary</h2>").expect("a summary");
    assert!(summary_at < page.find("<section class=\"cutover\"").unwrap());
    assert!(page.contains("<a href=\"#cutover-4\">e</a>"));
    assert!(page.contains("id=\"cutover-4\""));

    let text = table(&reports);
    let summary_at = text.find("5 cutovers: 3 done").expect("a summary");
    assert!(
        summary_at > text.rfind("group e · run r1").unwrap(),
        "{text}"
    );
    let downtime_row = text
        .lines()
        .find(|l| l.starts_with("│ downtime"))
        .expect("a downtime row");
    let cells: Vec<&str> = downtime_row.split('│').map(str::trim).collect();
    assert_eq!(
        cells,
        ["", "downtime", "3", "2.0 s", "9.0 s", "9.0 s", "9.0 s", ""]
    );
}

#[test]
fn the_json_document_carries_schema_versions_reports_summary_and_phase_state() {
    let r = successful_run("json");
    let doc = json_document(std::slice::from_ref(&r));
    assert_eq!(doc["schema_version"], 1);
    let cutover = &doc["cutovers"][0];
    assert_eq!(cutover["schema_version"], 1);
    assert_eq!(cutover["outcome"], "done");
    assert_eq!(cutover["timings"]["downtime_ms"], 3500);
    assert_eq!(cutover["timeline"][1]["kind"], "phase");
    assert_eq!(
        cutover["timeline"][1]["state"]["checkpoint"],
        "opaque-state-marker"
    );
    assert_eq!(cutover["hooks"][0]["report"]["kind"], "stop");
    assert_eq!(cutover["final_offsets"]["partitions"][1]["mirror_end"], 130);
    assert_eq!(doc["summary"]["outcomes"]["done"], 1);
    assert_eq!(doc["summary"]["downtime_ms"]["max"], 3500);
}

#[test]
fn an_empty_journal_is_reported_not_refused() {
    let d = dir("empty");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("billing.jsonl");
    std::fs::write(&path, "").unwrap();
    let r = load(&path).unwrap();
    assert_eq!(
        (r.group.as_str(), r.outcome),
        ("billing", Outcome::InProgress)
    );
    assert_eq!(r.problems, ["the journal has no records"]);
    assert_eq!(r.timings, ReportTimings::default());
    assert!(r.next_steps.is_empty());
    assert!(markdown(&[r]).contains("the journal has no records"));
}

#[test]
fn a_failed_exclusion_shows_what_the_link_said_and_the_filters_restored() {
    let mut records = run_until_done("");
    records.truncate(14); // up to the exclude:link intent
    records.extend([
        (
            4200,
            Record::Outcome {
                effect: "exclude:link".into(),
                ok: false,
                detail: json!({ "filters_before": FILTERS_BEFORE, "status": 409 }),
            },
        ),
        (4200, phase("rolling_back")),
        (
            4200,
            intent("unexclude:link", "restore the filters of link-1"),
        ),
        (
            4300,
            Record::Outcome {
                effect: "unexclude:link".into(),
                ok: true,
                detail: json!({ "filters_restored": FILTERS_BEFORE }),
            },
        ),
        (
            4400,
            finished(
                "rolled_back",
                Some("the link refused the exclusion"),
                Timings::default(),
            ),
        ),
    ]);
    let r = load(&write(&dir("failed-exclusion"), "billing", "r1", records)).unwrap();
    let filters = r.link_filters.as_ref().expect("the link action's filters");
    assert_eq!(filters.before.as_deref(), Some(FILTERS_BEFORE));
    assert_eq!(filters.after, None, "the exclusion never took effect");
    assert_eq!(filters.restored.as_deref(), Some(FILTERS_BEFORE));
    let md = markdown(std::slice::from_ref(&r));
    assert!(
        md.contains(r#"| outcome exclude:link: FAILED | {"filters\_before":"#),
        "{md}"
    );
    assert!(md.contains("\"status\":409} |"), "{md}");
    assert!(
        md.contains(&format!("restored:\n\n```json\n{FILTERS_BEFORE}\n```")),
        "{md}"
    );
}

#[test]
fn a_group_is_read_back_from_its_journal_file_name() {
    for group in ["billing-v2.prod", "../etc/x y", ".hidden", "größe%"] {
        let path = crate::journal::path_for(Path::new("/j"), &GroupId::new(group));
        assert_eq!(group_from_file_name(&path), group);
    }
}

#[test]
fn times_are_iso_8601_utc() {
    assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(utc(T0 + 42), "2023-11-14T22:13:20.042Z");
    assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
}

#[test]
fn html_with_many_partitions_charts_their_sums_and_the_first_twelve() {
    let mut r = successful_run("html-wide");
    for o in &mut r.observations {
        let first = o.partitions[0].clone();
        o.partitions = (0..40)
            .map(|p| PartitionSample {
                partition: p,
                ..first.clone()
            })
            .collect();
    }
    let page = html(std::slice::from_ref(&r));
    assert_eq!(
        page.matches("<svg").count(),
        13,
        "the sums, then 12 partitions"
    );
    assert!(page.contains("all 40 partitions (sums)"));
    // The sums chart adds the partitions up: 40 times one partition's last origin end.
    let last = r.observations.last().unwrap().partitions[0]
        .origin_end
        .unwrap()
        .get();
    let sums = super::html::sums_for_test(&r.observations.last().unwrap().partitions);
    assert_eq!(sums.origin_end.map(Offset::get), Some(40 * last));
}

#[test]
fn the_terminal_report_keeps_durations_and_parts_on_one_line_and_the_times_on_the_next() {
    let mut r = successful_run("parts-line");
    r.timings.times.stop_hook_done_ms = Some(T0 + 400);
    r.timings.times.restart_hook_done_ms = Some(T0 + 4800);
    let text = table(std::slice::from_ref(&r));
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("downtime "))
        .expect("a durations line");
    let durations = lines[at];
    assert!(
        durations.contains("stop hook 300 ms")
            && durations.contains("restart hook 300 ms")
            && durations.contains("total "),
        "{durations}"
    );
    assert!(lines[at + 1].starts_with("started "), "{}", lines[at + 1]);
}
