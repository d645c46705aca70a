//! The scenario tier: every file in `scenarios/` runs on the simulator and must pass; the same
//! seed must give the same output byte for byte; together the scenarios must cover every
//! verdict of `cutover verify` and every finding of `cutover audit`; the lab tests they name as
//! covering the same situation exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cutover::promotion::AuditFindingKind;
use cutover::rule::Verdict;
use cutover::sim::scenario::{Scenario, What};
use cutover::sim::{run_file, run_scenario, verdict_line};

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_passes() {
    let files = scenario_files();
    assert!(files.len() >= 12, "only {} scenarios", files.len());
    let mut failed = Vec::new();
    for f in &files {
        let result = run_file(f).unwrap_or_else(|e| panic!("{}: {}", f.display(), e.render()));
        if !result.passed {
            failed.push(format!("{}\n{}", result.transcript, verdict_line(&result)));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn the_same_seed_gives_byte_identical_output_and_another_seed_does_not() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/standard-migration.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let run = |text: &str| {
        let s = Scenario::parse(text, "standard-migration").unwrap();
        let r = run_scenario(&s).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        (r.transcript, json)
    };
    let first = run(&text);
    let second = run(&text);
    assert_eq!(first.0, second.0, "transcripts differ");
    assert_eq!(first.1, second.1, "JSON differs");
    let reseeded = run(&text.replace("seed = 7", "seed = 8"));
    assert_ne!(first.0, reseeded.0, "the seed changed nothing");
}

#[test]
fn the_scenarios_cover_every_verify_verdict_and_every_audit_finding() {
    let mut verdicts = BTreeSet::new();
    let mut findings = BTreeSet::new();
    for f in scenario_files() {
        let s = Scenario::load(&f).unwrap();
        for entry in &s.timeline {
            if let What::Command { expect, .. } = &entry.what {
                verdicts.extend(expect.verdicts.values().flatten().cloned());
                verdicts.extend(expect.partitions.values().cloned());
                findings.extend(expect.audit_findings.iter().flatten().cloned());
            }
        }
    }
    let missing_verdicts: Vec<&str> = Verdict::ALL
        .iter()
        .map(|v| v.as_str())
        .filter(|v| !verdicts.contains(*v))
        .collect();
    assert!(
        missing_verdicts.is_empty(),
        "no scenario expects {missing_verdicts:?}"
    );
    let missing_findings: Vec<String> = AuditFindingKind::ALL
        .iter()
        .map(|k| {
            serde_json::to_value(k)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|k| !findings.contains(k))
        .collect();
    assert!(
        missing_findings.is_empty(),
        "no scenario expects {missing_findings:?}"
    );
}

#[test]
fn a_wrong_expectation_fails_the_scenario_and_says_why() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unmirrored-topic.toml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        r#""accounting/refunds-0" = "NOT_MIRRORED""#,
        r#""accounting/refunds-0" = "SAFE""#,
    );
    let s = Scenario::parse(&text, "unmirrored-topic").unwrap();
    let r = run_scenario(&s).unwrap();
    assert!(!r.passed);
    assert_eq!(
        r.failures,
        ["entry 2 (`cutover verify accounting`): accounting/refunds-0: NOT_MIRRORED, expected SAFE"]
    );
}

/// A scenario that says a lab test covers the same situation names it as `module::test`, and
/// that test exists in this binary's sources, so the pointer cannot go stale when a test is
/// renamed or moved.
#[test]
fn the_lab_tests_that_scenarios_name_exist() {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let mut named = 0;
    for f in scenario_files() {
        let s = Scenario::load(&f).unwrap();
        let description = s
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let tests: Vec<(&str, &str)> = description
            .split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|quoted| quoted.split_once("::"))
            .collect();
        if description.contains("lab test") {
            assert!(
                !tests.is_empty(),
                "{}: it mentions a lab test without naming it as `module::test`",
                f.display()
            );
        }
        for (module, test) in tests {
            let path = modules.join(format!("{module}.rs"));
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: `{module}::{test}` names a module without a source file {} ({e})",
                    f.display(),
                    path.display()
                )
            });
            assert!(
                source.contains(&format!("fn {test}(")),
                "{}: `{module}::{test}` names a test that {} does not have",
                f.display(),
                path.display()
            );
            named += 1;
        }
    }
    assert!(named >= 5, "only {named} lab tests named by scenarios");
}
