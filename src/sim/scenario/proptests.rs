//! Generated and mutated scenario files: a valid scenario parses to what it says; a line
//! deleted, duplicated or given a wrong or random value, a key added, the text cut short or
//! salted gives a scenario or problems naming the key or the entry, never a panic; sizes the
//! simulator cannot hold are refused. Plain tests cover the huge cases and the file size cap.

use proptest::prelude::*;

use super::bounds::{MAX_PARTITIONS, MAX_RATE, MAX_RECORDS};
use super::*;
use crate::proptest_support::{config, mutate, mutation, quoted, render, toml_value, TomlLine};

/// One line of the file: a header, or `key = value` in a section problems name by `label`.
#[derive(Debug, Clone)]
enum Line {
    Header(String),
    Pair {
        label: String,
        key: String,
        value: String,
    },
}

fn pair(label: &str, key: &str, value: String) -> Line {
    Line::Pair {
        label: label.to_string(),
        key: key.to_string(),
        value,
    }
}

/// A problem about a pair names its section's label and its key; one about a header cannot
/// be foretold.
impl TomlLine for Line {
    fn text(&self) -> String {
        match self {
            Line::Header(h) => h.clone(),
            Line::Pair { key, value, .. } => format!("{key} = {value}"),
        }
    }

    fn named(&self) -> Vec<String> {
        match self {
            Line::Header(_) => Vec::new(),
            Line::Pair { label, key, .. } => [label, key]
                .into_iter()
                .filter(|w| !w.is_empty())
                .cloned()
                .collect(),
        }
    }

    fn set_value(&mut self, new: &str) {
        if let Line::Pair { value, .. } = self {
            *value = new.to_string();
        }
    }

    /// A key added is a top-level one, named as written.
    fn inserted(_: &[Line], _: usize, key: &str, value: &str) -> (Line, Vec<String>) {
        (pair("", key, value.to_string()), vec![key.to_string()])
    }
}

fn duration() -> impl Strategy<Value = (String, Duration)> {
    (1..10_000u64, prop::sample::select(vec!["ms", "s", "m"])).prop_map(|(n, unit)| {
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            _ => Duration::from_secs(n * 60),
        };
        (format!("{n}{unit}"), d)
    })
}

#[derive(Debug, Clone)]
struct Topic {
    partitions: u32,
    rate: u32,
    records: i64,
    log_start: i64,
}

#[derive(Debug, Clone)]
struct App {
    group: Option<String>,
    topics: Vec<prop::sample::Index>,
    rate: u32,
    start_on: Option<&'static str>,
}

#[derive(Debug, Clone)]
enum Step {
    Event(&'static str, prop::sample::Index, u32),
    Run(prop::sample::Index, i32),
}

/// A valid scenario, and what parsing it must give.
#[derive(Debug, Clone)]
struct Valid {
    lines: Vec<Line>,
    topics: Vec<(String, u32, i64)>,
    apps: Vec<(String, String)>,
    whens: Vec<When>,
    sync_interval: Duration,
}

fn valid() -> impl Strategy<Value = Valid> {
    let topic = (1..=4u32, 0..=100u32, 0..=1000i64, 0..=100i64).prop_map(
        |(partitions, rate, records, percent)| Topic {
            partitions,
            rate,
            records,
            log_start: records * percent / 100,
        },
    );
    let app = (
        prop::option::of("[a-z][a-z0-9-]{0,8}"),
        prop::collection::vec(any::<prop::sample::Index>(), 1..3),
        1..=500u32,
        prop::option::of(prop::sample::select(vec!["origin", "destination"])),
    )
        .prop_map(|(group, topics, rate, start_on)| App {
            group,
            topics,
            rate,
            start_on,
        });
    let step = prop_oneof![
        (
            prop::sample::select(vec![
                "stop_app",
                "kill_app",
                "pause_mirror",
                "set_produce_rate"
            ]),
            any::<prop::sample::Index>(),
            0..1000u32,
        )
            .prop_map(|(e, i, n)| Step::Event(e, i, n)),
        (any::<prop::sample::Index>(), 0..3i32).prop_map(|(i, exit)| Step::Run(i, exit)),
    ];
    (
        prop::collection::vec(topic, 1..4),
        prop::collection::vec(app, 1..4),
        prop::collection::vec((step, prop::option::of((any::<bool>(), duration()))), 0..5),
        duration(),
        any::<bool>(),
    )
        .prop_map(|(topics, apps, steps, (sync_text, sync_interval), rest)| {
            let mut lines = vec![
                pair("", "name", quoted("generated")),
                pair("", "seed", "7".into()),
                Line::Header("[link]".into()),
                pair("link", "sync-interval", quoted(&sync_text)),
                pair("link", "rest", rest.to_string()),
            ];
            let topic_names: Vec<String> = (0..topics.len()).map(|i| format!("t{i}")).collect();
            let mut parsed_topics = Vec::new();
            for (name, t) in topic_names.iter().zip(&topics) {
                let label = format!("topic {name}");
                lines.push(Line::Header("[[topics]]".into()));
                lines.push(pair(&label, "name", quoted(name)));
                lines.push(pair(&label, "partitions", t.partitions.to_string()));
                lines.push(pair(&label, "produce-rate", t.rate.to_string()));
                lines.push(pair(&label, "records", t.records.to_string()));
                lines.push(pair(&label, "log-start", t.log_start.to_string()));
                parsed_topics.push((name.clone(), t.partitions, t.records));
            }
            let mut parsed_apps = Vec::new();
            for (i, a) in apps.iter().enumerate() {
                let name = format!("a{i}");
                let label = format!("app {name}");
                // Groups are the app's own, so that no two apps share one.
                let group = a.group.as_ref().map(|g| format!("{g}-{i}"));
                lines.push(Line::Header("[[apps]]".into()));
                lines.push(pair(&label, "name", quoted(&name)));
                if let Some(g) = &group {
                    lines.push(pair(&label, "group", quoted(g)));
                }
                let subscribed: Vec<String> = a
                    .topics
                    .iter()
                    .map(|t| topic_names[t.index(topic_names.len())].clone())
                    .collect();
                let list =
                    toml::Value::Array(subscribed.into_iter().map(toml::Value::String).collect());
                lines.push(pair(&label, "topics", list.to_string()));
                lines.push(pair(&label, "rate", a.rate.to_string()));
                if let Some(side) = a.start_on {
                    lines.push(pair(&label, "start-on", quoted(side)));
                }
                parsed_apps.push((name.clone(), group.unwrap_or(name)));
            }
            let mut whens = Vec::new();
            for (n, (step, when)) in steps.iter().enumerate() {
                let label = format!("timeline entry {}", n + 1);
                lines.push(Line::Header("[[timeline]]".into()));
                whens.push(match when {
                    None => When::After(Duration::ZERO),
                    Some((at, (text, d))) => {
                        lines.push(pair(&label, if *at { "at" } else { "after" }, quoted(text)));
                        if *at {
                            When::At(*d)
                        } else {
                            When::After(*d)
                        }
                    }
                });
                match step {
                    Step::Event(event, i, n) => {
                        lines.push(pair(&label, "do", quoted(event)));
                        match *event {
                            "stop_app" | "kill_app" => {
                                let app = &parsed_apps[i.index(parsed_apps.len())].0;
                                lines.push(pair(&label, "app", quoted(app)));
                            }
                            _ => {
                                let topic = &topic_names[i.index(topic_names.len())];
                                lines.push(pair(&label, "topic", quoted(topic)));
                                if *event == "set_produce_rate" {
                                    lines.push(pair(&label, "rate", n.to_string()));
                                }
                            }
                        }
                    }
                    Step::Run(i, exit) => {
                        let app = &parsed_apps[i.index(parsed_apps.len())].0;
                        lines.push(pair(&label, "run", quoted(&format!("verify {app}"))));
                        lines.push(pair(&label, "expect", format!("{{ exit = {exit} }}")));
                    }
                }
            }
            Valid {
                lines,
                topics: parsed_topics,
                apps: parsed_apps,
                whens,
                sync_interval,
            }
        })
}

/// Any TOML value as written: among them the rates and sizes the simulator cannot hold.
fn any_value() -> impl Strategy<Value = String> {
    toml_value(prop_oneof![
        any::<String>().prop_map(toml::Value::String),
        "[0-9]{0,22} ?(ms|s|m|h|d|)".prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0),
            any::<f64>()
        ]
        .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        (0usize..10_000).prop_map(|n| toml::Value::String("ü".repeat(n))),
    ])
}

/// A key to add.
const NEW_KEY: &str = "[a-z][a-z0-9_-]{0,10}";

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn a_valid_scenario_parses_to_what_it_says(v in valid()) {
        let text = render(&v.lines);
        let s = match Scenario::parse(&text, "x") {
            Ok(s) => s,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        let topics: Vec<(String, u32, i64)> =
            s.topics.iter().map(|t| (t.name.clone(), t.partitions, t.records)).collect();
        prop_assert_eq!(topics, v.topics);
        let apps: Vec<(String, String)> =
            s.apps.iter().map(|a| (a.name.clone(), a.group.clone())).collect();
        prop_assert_eq!(apps, v.apps);
        let whens: Vec<When> = s.timeline.iter().map(|e| e.when).collect();
        prop_assert_eq!(whens, v.whens);
        prop_assert_eq!(s.link.sync_interval, v.sync_interval);
    }

    #[test]
    fn a_mutated_scenario_parses_or_names_what_is_wrong(v in valid(), m in mutation(NEW_KEY, any_value)) {
        let (text, words) = mutate(&v.lines, &m);
        let problems = match Scenario::parse(&text, "x") {
            Ok(s) => {
                // What was parsed is what the simulator can hold.
                for t in &s.topics {
                    prop_assert!((1..=MAX_PARTITIONS).contains(&t.partitions));
                    prop_assert!((0..=MAX_RECORDS).contains(&t.records));
                    prop_assert!((0.0..=MAX_RATE).contains(&t.produce_rate));
                }
                for a in &s.apps {
                    prop_assert!((0.0..=MAX_RATE).contains(&a.rate));
                }
                return Ok(());
            }
            Err(Error::Scenario(p)) => p,
            Err(other) => return Err(TestCaseError::fail(format!("not scenario problems: {other}"))),
        };
        prop_assert!(!problems.is_empty() && problems.iter().all(|p| !p.trim().is_empty()));
        // TOML syntax and types: the problem shows the line.
        if let [p] = problems.as_slice() {
            if p.starts_with("TOML parse error at line ") {
                return Ok(());
            }
        }
        if !words.is_empty() {
            let named = problems.iter().any(|p| words.iter().any(|w| p.contains(w.as_str())));
            prop_assert!(named, "none of {:?} in {:#?}\n{}", words, problems, text);
        }
    }
}

#[test]
fn sizes_and_rates_the_simulator_cannot_hold_are_problems() {
    let text = r#"
        [link]
        throughput = nan
        sync-interval = "600h"
        retries = 4294967295
        [hooks]
        retries = 11
        [cutover]
        sync-timeout-factor = 4294967295
        stable-reads = 0
        [[topics]]
        name = "big"
        partitions = 4294967295
        records = -1
        log-start = -5
        produce-rate = inf
        [[topics]]
        name = "deep"
        partitions = 1
        records = 9223372036854775807
        [[apps]]
        name = "a"
        topics = ["big"]
        rate = -1.0
        [[timeline]]
        do = "set_produce_rate"
        topic = "big"
        rate = nan
        [[timeline]]
        do = "add_partitions"
        topic = "big"
        count = 4294967295
        [[timeline]]
        do = "set_mirror_throughput"
        rate = 1e300
    "#;
    let err = Scenario::parse(text, "x").unwrap_err().to_string();
    for needle in [
        "topic big: 4294967295 partitions are more than the simulator holds (10000)",
        "topic big: records must be from 0 to 10000000, not -1",
        "topic big: log-start must be at least 0, not -5",
        "topic big: produce-rate: inf is not a rate from 0 to 1000000 records/s",
        "topic deep: records must be from 0 to 10000000, not 9223372036854775807",
        "app a: rate: -1.0 is not a rate",
        "link.throughput: NaN is not a rate",
        "link.sync-interval: \"600h\" is longer than the link's consumer.offset.sync.ms holds (2147483647ms)",
        "link.retries: 4294967295 is not from 0 to 10",
        "hooks.retries: 11 is not from 0 to 10",
        "cutover.sync-timeout-factor: 4294967295 is not from 1 to 20",
        "cutover.stable-reads: 0 is not from 2 to 10",
        "timeline entry 1: rate: NaN is not a rate",
        "timeline entry 2: count: 4294967295 partitions are more than the simulator holds",
        "timeline entry 3: rate: 1e300 is not a rate",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
    // A sync interval beyond what a deadline's arithmetic holds (it overflowed it) is refused.
    let err = Scenario::parse("[link]\nsync-interval = \"2562047788015h\"\n", "x")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("link.sync-interval: invalid duration \"2562047788015h\""),
        "{err}"
    );
}

#[test]
fn huge_scenarios_parse_in_one_pass() {
    let mut text = String::new();
    for i in 0..3_000 {
        text.push_str(&format!("[[topics]]\nname = \"t{i}\"\npartitions = 1\n"));
    }
    for i in 0..3_000 {
        text.push_str(&format!("[[apps]]\nname = \"a{i}\"\ntopics = [\"t{i}\"]\n"));
    }
    for i in 0..3_000 {
        text.push_str(&format!(
            "[[timeline]]\ndo = \"stop_app\"\napp = \"a{i}\"\n"
        ));
    }
    let s = Scenario::parse(&text, "x").expect("valid");
    assert_eq!(
        (s.topics.len(), s.apps.len(), s.timeline.len()),
        (3_000, 3_000, 3_000)
    );

    // Every app naming a missing topic and sharing one group is named, without going through
    // the apps once per app.
    let mut text = String::new();
    for i in 0..3_000 {
        text.push_str(&format!(
            "[[apps]]\nname = \"a{i}\"\ngroup = \"g\"\ntopics = [\"t\"]\n"
        ));
    }
    let err = Scenario::parse(&text, "x").unwrap_err().to_string();
    assert!(err.contains("app a2999: topic t is not one of the scenario's origin [[topics]]"));
    assert!(err.contains("group g: more than one app uses it"));
}

#[test]
fn a_file_longer_than_any_scenario_is_refused_without_reading_it_all() {
    let err = Scenario::load(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read scenario /dev/zero: it is longer than 16 MiB"),
        "{err}"
    );
}
