//! A scenario's expectations checked against what happened: each command's exit code, report
//! and outcome, and each application's consumption (duplicates, gaps, where it runs).
//!
//! Pure judgement over the runner's records: it runs nothing and changes nothing. Every
//! expectation that does not hold becomes one failure line naming the entry and what differed.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::runner::clock;
use crate::cmd::Report;
use crate::model::Role;
use crate::sim::scenario::{AppExpect, Expect};
use crate::sim::App;

/// `predicted`: the (read twice, skipped) totals of the last `--offsets-by-time` cutover of the
/// app's group, if one ran.
pub(super) fn check_app(
    app: &App,
    e: &AppExpect,
    predicted: Option<(u64, u64)>,
    failures: &mut Vec<String>,
) {
    let c = app.consumption();
    let name = &app.name;
    if e.as_predicted {
        match predicted {
            None => failures.push(format!(
                "app {name}: as-predicted, but no `group --offsets-by-time` summary of group {} was found",
                app.group
            )),
            Some((twice, skipped)) if (c.duplicates, c.gaps) != (twice, skipped) => {
                failures.push(format!(
                    "app {name}: {} duplicate(s) and {} gap(s), but the summary predicted {twice} record(s) read twice and {skipped} skipped",
                    c.duplicates, c.gaps
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(d) = e.duplicates {
        if c.duplicates != d {
            failures.push(format!(
                "app {name}: {} duplicate(s), expected {d}",
                c.duplicates
            ));
        }
    }
    if let Some(g) = e.gaps {
        if c.gaps != g {
            failures.push(format!("app {name}: {} gap(s), expected {g}", c.gaps));
        }
    }
    if let Some(min) = e.min_processed {
        if c.processed < min {
            failures.push(format!(
                "app {name}: processed {} record(s), expected at least {min}",
                c.processed
            ));
        }
    }
    if let Some(side) = e.running_on {
        let role: Role = side.into();
        if app.running_on != Some(role) {
            failures.push(format!(
                "app {name}: expected to run on the {role}, it {}",
                match app.running_on {
                    Some(r) => format!("runs on the {r}"),
                    None => "is stopped".into(),
                }
            ));
        }
    }
}

fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn set(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

pub(super) fn check_command(
    e: &Expect,
    exit_code: i32,
    report: Option<&Report>,
    error: Option<&str>,
    took: Duration,
    problems: &mut Vec<String>,
) {
    if let Some(want) = e.exit {
        if want != exit_code {
            problems.push(format!("exit {exit_code}, expected {want}"));
        }
    }
    if let Some(needle) = &e.error_contains {
        match error {
            Some(text) if text.contains(needle.as_str()) => {}
            Some(text) => problems.push(format!("the error does not contain {needle:?}: {text}")),
            None => problems.push(format!(
                "expected an error containing {needle:?}, the command succeeded"
            )),
        }
    }
    for (bound, text) in [(true, &e.min_duration), (false, &e.max_duration)] {
        let Some(text) = text else { continue };
        match crate::duration::parse(text) {
            Ok(d) if bound && took < d => {
                problems.push(format!("ran {}, expected at least {text}", clock(took)))
            }
            Ok(d) if !bound && took > d => {
                problems.push(format!("ran {}, expected at most {text}", clock(took)))
            }
            Ok(_) => {}
            Err(err) => problems.push(format!("invalid duration {text:?}: {err}")),
        }
    }
    let wants_verify = e.safe.is_some()
        || !e.verdicts.is_empty()
        || !e.partitions.is_empty()
        || !e.findings.is_empty();
    let wants_audit = e.audit_findings.is_some() || !e.classes.is_empty();
    let wants_cutover = e.outcome.is_some()
        || e.reason_contains.is_some()
        || e.exclusion_proof.is_some()
        || (e.max_downtime.is_some() && !matches!(report, Some(Report::Runbook(_))));
    if wants_cutover && !matches!(report, Some(Report::Cutover(_)) | Some(Report::Plan(_))) {
        problems
            .push("cutover expectations given, but the command produced no cutover result".into());
    }
    match report {
        Some(Report::Verify(r)) => {
            if wants_audit {
                problems.push("audit expectations given for a verify command".into());
            }
            if let Some(safe) = e.safe {
                if r.safe != safe {
                    problems.push(format!("safe is {}, expected {safe}", r.safe));
                }
            }
            let group = |name: &str| r.groups.iter().find(|g| g.group.as_str() == name);
            for (g, want) in &e.verdicts {
                let Some(j) = group(g) else {
                    problems.push(format!("group {g} is not in the report"));
                    continue;
                };
                let got = set(j.partitions.iter().map(|p| p.verdict.as_str().to_string()));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "group {g}: verdicts {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
            for (key, want) in &e.partitions {
                let found = r.groups.iter().find_map(|g| {
                    g.partitions
                        .iter()
                        .find(|p| format!("{}/{}-{}", g.group, p.topic, p.partition) == *key)
                });
                match found {
                    None => problems.push(format!("partition {key} is not in the report")),
                    Some(p) if p.verdict.as_str() != want => {
                        problems.push(format!("{key}: {}, expected {want}", p.verdict.as_str()))
                    }
                    Some(_) => {}
                }
            }
            for (g, want) in &e.findings {
                let Some(j) = group(g) else {
                    problems.push(format!("group {g} is not in the report"));
                    continue;
                };
                let got = set(j.findings.iter().map(|f| name_of(&f.kind)));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "group {g}: findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
        }
        Some(Report::Audit(r)) => {
            if wants_verify {
                problems.push("verify expectations given for an audit command".into());
            }
            if let Some(want) = &e.audit_findings {
                let got = set(r.findings.iter().map(|f| name_of(&f.kind)));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "audit findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
            for (g, want) in &e.classes {
                match r.groups.iter().find(|x| x.group.as_str() == g) {
                    None => problems.push(format!("group {g} is not in the audit")),
                    Some(x) if name_of(&x.classification) != *want => problems.push(format!(
                        "group {g}: classified {}, expected {want}",
                        name_of(&x.classification)
                    )),
                    Some(_) => {}
                }
            }
        }
        Some(Report::Cutover(c)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a group command".into());
            }
            if let Some(want) = &e.outcome {
                if c.outcome.as_str() != want {
                    problems.push(format!(
                        "outcome {}, expected {want} (reason: {})",
                        c.outcome.as_str(),
                        c.reason
                    ));
                }
            }
            if let Some(needle) = &e.reason_contains {
                if !c.reason.contains(needle.as_str()) {
                    problems.push(format!(
                        "the reason does not contain {needle:?}: {}",
                        c.reason
                    ));
                }
            }
            if let Some(text) = &e.max_downtime {
                match (crate::duration::parse(text), c.timings.downtime_ms) {
                    (Err(err), _) => problems.push(format!("invalid duration {text:?}: {err}")),
                    (Ok(_), None) => {
                        problems.push(format!("no downtime was measured, expected at most {text}"))
                    }
                    (Ok(max), Some(ms))
                        if ms > i64::try_from(max.as_millis()).unwrap_or(i64::MAX) =>
                    {
                        problems.push(format!(
                            "the group was down {ms} ms, expected at most {text}"
                        ))
                    }
                    (Ok(_), Some(_)) => {}
                }
            }
            if let Some(want) = &e.exclusion_proof {
                match &c.exclusion_proof {
                    Some(proof) if proof.starts_with(want.as_str()) => {}
                    other => problems.push(format!(
                        "the exclusion's proof is {other:?}, expected one starting with {want:?}"
                    )),
                }
            }
        }
        Some(Report::Plan(p)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a dry run".into());
            }
            if let Some(needle) = &e.reason_contains {
                match &p.refusal {
                    Some(r) if r.contains(needle.as_str()) => {}
                    other => problems.push(format!(
                        "the plan's refusal {other:?} does not contain {needle:?}"
                    )),
                }
            }
        }
        Some(Report::Watch(w)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a watch".into());
            }
            if let Some(want) = &e.watch_findings {
                let got = set(w.findings.iter().map(|f| f.kind.to_string()));
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "watch findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
        }
        Some(Report::Promote(p)) => {
            if wants_verify {
                problems.push("verify expectations given for a promote command".into());
            }
            if let Some(want) = &e.audit_findings {
                let mut got = set(p.findings.iter().map(|f| name_of(&f.kind)));
                if !p.open_transactions.is_empty() {
                    got.insert("OPEN_TRANSACTION".into());
                }
                if got != set(want.iter().cloned()) {
                    problems.push(format!(
                        "promotion gate findings {got:?}, expected {:?}",
                        set(want.iter().cloned())
                    ));
                }
            }
            if let Some(want) = &e.promote_outcome {
                if name_of(&p.outcome) != *want {
                    problems.push(format!(
                        "promotion {}, expected {want}",
                        name_of(&p.outcome)
                    ));
                }
            }
        }
        Some(Report::Runbook(r)) => {
            if wants_verify || wants_audit {
                problems.push("verify or audit expectations given for a runbook".into());
            }
            if let Some(want) = &e.runbook_outcome {
                if name_of(&r.outcome) != *want {
                    problems.push(format!(
                        "runbook {}, expected {want} (next: {})",
                        name_of(&r.outcome),
                        r.next.as_deref().unwrap_or("-")
                    ));
                }
            }
            if let Some(want) = &e.stages {
                let got: Vec<String> = r.stages.iter().map(|s| name_of(&s.status)).collect();
                if &got != want {
                    problems.push(format!("stages {got:?}, expected {want:?}"));
                }
            }
            if let Some(text) = &e.max_downtime {
                let worst = r.groups.iter().filter_map(|g| g.downtime_ms).max();
                match (crate::duration::parse(text), worst) {
                    (Err(err), _) => problems.push(format!("invalid duration {text:?}: {err}")),
                    (Ok(_), None) => problems.push("no group's downtime was measured".into()),
                    (Ok(max), Some(ms)) if ms > max.as_millis() as i64 => {
                        problems.push(format!("a group was down {ms} ms, expected at most {text}"))
                    }
                    _ => {}
                }
            }
        }
        None => {
            if wants_verify || wants_audit {
                problems
                    .push("report expectations given, but the command produced no report".into());
            }
        }
    }
}

/// The (read twice, skipped) totals of the last cutover report of `group` that moved it by
/// time.
pub(super) fn predicted(reports: &[&serde_json::Value], group: &str) -> Option<(u64, u64)> {
    reports.iter().rev().find_map(|r| {
        if r.get("group").and_then(|g| g.as_str()) != Some(group) {
            return None;
        }
        let partitions = r.get("offsets_by_time")?.get("partitions")?.as_array()?;
        let sum = |key: &str| {
            partitions
                .iter()
                .filter_map(|p| p.get(key).and_then(serde_json::Value::as_u64))
                .sum::<u64>()
        };
        Some((sum("read_twice"), sum("skipped")))
    })
}
