//! Words and numbers shared by the cutover report's renderers: times, durations, the
//! headline and the text of a timeline row. Plain text; each renderer escapes it for its
//! medium.

use super::{
    hook_summary, CutoverReport, Event, HookRun, ObservationPoint, Outcome, ReportTimings, Session,
    Summary, TimelineRow, UnfinishedEffect,
};
use crate::journal::PartitionSample;
use crate::model::Offset;

/// A wall-clock time as ISO 8601 UTC with milliseconds (`2023-11-14T22:13:20.000Z`).
pub(super) fn utc(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let ms = ts_ms.rem_euclid(1000);
    let (days, secs_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`, `1 h 02 min`.
pub(super) fn duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        format!("{sign}{ms} ms")
    } else if ms < 60_000 {
        format!("{sign}{}.{} s", ms / 1000, ms % 1000 / 100)
    } else if ms < 3_600_000 {
        format!("{sign}{} min {:02} s", ms / 60_000, ms % 60_000 / 1000)
    } else {
        format!(
            "{sign}{} h {:02} min",
            ms / 3_600_000,
            ms % 3_600_000 / 60_000
        )
    }
}

pub(crate) fn opt_duration(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_string(), duration)
}

pub(super) fn opt_utc(ts_ms: Option<i64>) -> String {
    ts_ms.map_or_else(|| "-".to_string(), utc)
}

pub(super) fn since_start(ms: i64) -> String {
    format!("+{}", duration(ms))
}

pub(super) fn opt_offset(v: Option<Offset>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The outcome in a few words.
pub(super) fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::RolledBack => "rolled back",
        Outcome::Refused => "refused",
        Outcome::NeedsOperator => "needs operator",
        Outcome::InProgress => "in progress / interrupted",
        Outcome::Unknown => "unknown outcome",
    }
}

/// How the cutover stands, in one line: `rolled back: <reason>`, `in progress / interrupted
/// at phase awaiting_sync`.
pub(super) fn headline(r: &CutoverReport) -> String {
    format!("{}{}", outcome_label(r.outcome), headline_detail(r))
}

/// The headline after the outcome's label: ` at phase awaiting_sync`, `: <reason>`.
pub(super) fn headline_detail(r: &CutoverReport) -> String {
    let mut out = String::new();
    if r.outcome == Outcome::InProgress {
        match &r.last_phase {
            Some(phase) => out.push_str(&format!(" at phase {phase}")),
            None => out.push_str(" before its first phase"),
        }
    }
    if let Some(reason) = &r.reason {
        out.push_str(": ");
        out.push_str(reason);
    }
    out
}

/// A timeline row's event and detail columns.
pub(super) fn event_columns(e: &Event) -> (String, String) {
    match e {
        Event::Started { agent, resumed } => (
            if *resumed { "resumed" } else { "started" }.to_string(),
            format!("agent {agent}"),
        ),
        Event::Phase { phase, .. } => (format!("phase {phase}"), String::new()),
        Event::Intent {
            effect,
            description,
        } => (
            format!("intent {effect}"),
            description.clone().unwrap_or_default(),
        ),
        Event::Outcome {
            effect,
            ok,
            summary,
        } => (
            format!("outcome {effect}: {}", if *ok { "ok" } else { "FAILED" }),
            summary.clone().unwrap_or_default(),
        ),
        Event::Note { message } => ("note".to_string(), message.clone()),
        Event::Finished { outcome, reason } => (
            format!("finished: {}", outcome_label(*outcome)),
            reason.clone().unwrap_or_default(),
        ),
    }
}

/// The duration column of a timeline row (phases only).
pub(super) fn event_duration(e: &Event) -> String {
    match e {
        Event::Phase {
            duration_ms: Some(ms),
            ..
        } => duration(*ms),
        _ => String::new(),
    }
}

/// The first characters of the torn tail, enough to recognise it.
pub(super) fn torn_tail_note(tail: &str) -> String {
    const SHOWN: usize = 120;
    let shown: String = tail.trim_end().chars().take(SHOWN).collect();
    let more = if tail.trim_end().chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    format!(
        "the journal's last line was torn (its agent was killed mid-write) and is ignored: {shown}{more}"
    )
}

/// The timings as (label, value) rows, durations first.
pub(super) fn timing_rows(t: &ReportTimings) -> Vec<(&'static str, String)> {
    let parts = t.times.parts();
    let mut rows = vec![
        ("downtime", opt_duration(t.times.downtime_ms)),
        ("sync wait", opt_duration(t.times.sync_wait_ms)),
    ];
    // The parts the run recorded (journals of earlier versions have none of them).
    rows.extend(
        parts
            .recorded()
            .into_iter()
            .map(|(label, v)| (label, opt_duration(Some(v)))),
    );
    rows.extend([
        ("total", opt_duration(t.total_ms)),
        ("started", opt_utc(t.times.started_ms)),
        ("stop begun", opt_utc(t.times.stop_begun_ms)),
        ("stop done", opt_utc(t.times.stop_done_ms)),
        ("synced", opt_utc(t.times.synced_ms)),
        ("restart begun", opt_utc(t.times.restart_begun_ms)),
        ("finished", opt_utc(t.times.finished_ms)),
    ]);
    rows
}

pub(super) const ESTIMATED_NOTE: &str =
    "times the run did not record are estimated from the journal's phase checkpoints";

pub(super) fn session_line(s: &Session) -> String {
    format!(
        "{} by agent {} at {}: {}",
        if s.resumed { "resumed" } else { "started" },
        s.agent,
        utc(s.ts_ms),
        s.command.join(" ")
    )
}

/// The run's evidence, from the first session that journaled it (a resume adds its own only if
/// the run's first agent was older): one `key value` line each, in a fixed order.
pub(super) fn evidence_rows(r: &CutoverReport) -> Vec<(String, String)> {
    let Some(e) = r
        .sessions
        .iter()
        .map(|s| &s.evidence)
        .find(|e| !e.is_empty())
    else {
        return Vec::new();
    };
    const ORDER: [(&str, &str); 6] = [
        ("tool", "tool"),
        ("operator", "operator"),
        ("config_sha256", "configuration (sha256, secrets excluded)"),
        ("link", "link"),
        ("origin_cluster_id", "origin cluster"),
        ("destination_cluster_id", "destination cluster"),
    ];
    ORDER
        .iter()
        .filter_map(|(key, label)| Some((label.to_string(), e.get(*key)?.clone())))
        .collect()
}

pub(super) const MOVES_HEADER: [&str; 3] = [
    "partition",
    "stopped at (origin)",
    "restarted from (destination)",
];

pub(super) fn move_row(m: &super::PartitionMove) -> [String; 3] {
    let n = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    [
        format!("{}-{}", m.topic, m.partition),
        n(m.stopped_at),
        n(m.restarted_from),
    ]
}

pub(super) fn unfinished_line(u: &UnfinishedEffect) -> String {
    let mut out = format!("{} announced at {} (seq {})", u.effect, utc(u.ts_ms), u.seq);
    if let Some(d) = &u.description {
        out.push_str(": ");
        out.push_str(d);
    }
    out
}

/// Introduces the effects announced without an outcome.
pub(super) fn unfinished_note(r: &CutoverReport) -> &'static str {
    if r.outcome == Outcome::InProgress {
        "effects announced without a recorded outcome (a resume re-verifies them by observing the clusters)"
    } else {
        "effects announced without a recorded outcome (the run ended without recording what they did)"
    }
}

pub(super) const TIMELINE_HEADER: [&str; 5] =
    ["time (UTC)", "since start", "event", "detail", "duration"];

pub(super) fn timeline_row(row: &TimelineRow) -> [String; 5] {
    let (event, detail) = event_columns(&row.event);
    [
        utc(row.ts_ms),
        since_start(row.since_start_ms),
        event,
        detail,
        event_duration(&row.event),
    ]
}

pub(super) const OFFSETS_HEADER: [&str; 6] = [
    "topic",
    "partition",
    "origin_committed",
    "destination_committed",
    "origin_end",
    "mirror_end",
];

pub(super) fn offsets_row(p: &PartitionSample) -> [String; 6] {
    [
        p.topic.clone(),
        p.partition.to_string(),
        opt_offset(p.origin_committed),
        opt_offset(p.destination_committed),
        opt_offset(p.origin_end),
        opt_offset(p.mirror_end),
    ]
}

pub(super) fn snapshot_line(o: &ObservationPoint) -> String {
    format!(
        "last observed at {} ({}) in phase {}; group {} on the origin, {} on the destination",
        utc(o.ts_ms),
        since_start(o.since_start_ms),
        o.phase,
        if o.origin_active {
            "active"
        } else {
            "not active"
        },
        if o.destination_active {
            "active"
        } else {
            "not active"
        },
    )
}

pub(super) fn hook_title(h: &HookRun) -> String {
    format!(
        "{} at {}: {}",
        h.effect,
        utc(h.ts_ms),
        if h.ok { "ok" } else { "FAILED" }
    )
}

pub(super) fn hook_facts(h: &HookRun) -> String {
    h.report
        .as_ref()
        .map_or_else(|| "no readable hook report".to_string(), hook_summary)
}

pub(super) const PERCENTILES_HEADER: [&str; 6] = ["", "cutovers", "p50", "p90", "p99", "max"];

pub(super) fn percentile_rows(s: &Summary) -> Vec<[String; 6]> {
    [("downtime", &s.downtime_ms), ("sync wait", &s.sync_wait_ms)]
        .into_iter()
        .map(|(name, p)| match p {
            Some(p) => [
                name.to_string(),
                p.count.to_string(),
                duration(p.p50),
                duration(p.p90),
                duration(p.p99),
                duration(p.max),
            ],
            None => [
                name.to_string(),
                "0".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
            ],
        })
        .collect()
}

pub(super) fn outcome_counts(s: &Summary) -> String {
    s.outcomes
        .iter()
        .map(|(o, n)| format!("{n} {}", outcome_label(*o)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub(super) const INDEX_HEADER: [&str; 6] =
    ["group", "run", "outcome", "downtime", "sync wait", "total"];

pub(super) fn index_row(r: &CutoverReport) -> [String; 6] {
    [
        r.group.clone(),
        r.run_id.clone(),
        headline(r),
        opt_duration(r.timings.times.downtime_ms),
        opt_duration(r.timings.times.sync_wait_ms),
        opt_duration(r.timings.total_ms),
    ]
}

/// Warnings about the journal itself: a torn tail, other runs, unreadable records.
pub(super) fn notices(r: &CutoverReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(tail) = &r.torn_tail {
        out.push(torn_tail_note(tail));
    }
    if !r.other_runs.is_empty() {
        out.push(format!(
            "the journal also holds earlier runs, not reported here: {}",
            r.other_runs.join(", ")
        ));
    }
    out.extend(r.problems.iter().cloned());
    out
}
