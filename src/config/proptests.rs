//! Generated and mutated `cutover.toml`: a valid config loads to the values written; a key
//! deleted, duplicated or given a wrong or random value, a key added, the text cut short or
//! salted with stray characters gives a config or problems naming the key or section (or the
//! line, for TOML syntax), never a panic. Plain tests cover the huge cases and the size cap.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::load::MAX_FILE_BYTES;
use super::testing::{env, from_toml, TempDir};
use super::{Config, Env};
use crate::error::Error;
use crate::hooks::{HookAction, HookKind};
use crate::model::FinalOffsets;
use crate::proptest_support::{config, mutate, mutation, quoted, render, toml_value, TomlLine};

/// One item of the file: a table header or a `key = value` line of a section.
#[derive(Debug, Clone)]
enum Item {
    Header(String),
    Pair {
        /// The section's header as problems name it (`[link]`, `[hooks.stop]`).
        section: String,
        key: String,
        value: String,
    },
}

impl Item {
    fn pair(section: &str, key: &str, value: String) -> Item {
        Item::Pair {
            section: format!("[{section}]"),
            key: key.to_string(),
            value,
        }
    }
}

/// A problem about an item names its key or section; a table's problems name its top table.
impl TomlLine for Item {
    fn text(&self) -> String {
        match self {
            Item::Header(h) => format!("[{h}]"),
            Item::Pair { key, value, .. } => format!("{} = {value}", crate::hooks::toml_key(key)),
        }
    }

    fn named(&self) -> Vec<String> {
        match self {
            Item::Header(h) => vec![h.split('.').next().unwrap_or(h).to_string()],
            Item::Pair { section, key, .. } => vec![section.clone(), key.clone()],
        }
    }

    fn set_value(&mut self, new: &str) {
        if let Item::Pair { value, .. } = self {
            *value = new.to_string();
        }
    }

    /// The keys of a deleted header fall into the section before it.
    fn named_when_deleted(items: &[Item], i: usize) -> Vec<String> {
        let mut named = items[i].named();
        if let Item::Header(_) = items[i] {
            for item in items[i + 1..].iter() {
                match item {
                    Item::Header(_) => break,
                    Item::Pair { key, .. } => named.push(key.clone()),
                }
            }
        }
        named
    }

    /// A key added goes into the section of the header before it, and is named by its first
    /// part.
    fn inserted(items: &[Item], i: usize, key: &str, value: &str) -> (Item, Vec<String>) {
        let section = items[..=i]
            .iter()
            .rev()
            .find_map(|it| match it {
                Item::Header(h) => Some(h.clone()),
                Item::Pair { .. } => None,
            })
            .unwrap_or_default();
        let first = key.split('.').next().unwrap_or(key).to_string();
        (Item::pair(&section, key, value.to_string()), vec![first])
    }
}

/// A duration as written, and its value.
fn duration(min: u64) -> impl Strategy<Value = (String, Duration)> {
    (
        min..100_000u64,
        prop::sample::select(vec!["ms", "s", "m", "h"]),
    )
        .prop_map(|(n, unit)| {
            let d = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                _ => Duration::from_secs(n * 3600),
            };
            (format!("{n}{unit}"), d)
        })
}

/// A number written as a TOML integer or as a string: both are read.
fn number(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = (String, u32)> {
    (range, any::<bool>()).prop_map(|(n, as_text)| {
        let text = if as_text {
            quoted(&n.to_string())
        } else {
            n.to_string()
        };
        (text, n)
    })
}

fn not_blank() -> impl Strategy<Value = String> {
    "\\PC{1,16}".prop_filter("not blank", |s| !s.trim().is_empty())
}

/// A librdkafka property value: text, a number or a boolean, and what it becomes.
fn property() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        any::<String>().prop_map(|s| (quoted(&s), s)),
        any::<i64>().prop_map(|i| (i.to_string(), i.to_string())),
        any::<bool>().prop_map(|b| (b.to_string(), b.to_string())),
    ]
}

/// A valid config, and what loading it must give.
#[derive(Debug, Clone)]
struct Valid {
    items: Vec<Item>,
    origin: BTreeMap<String, String>,
    destination: BTreeMap<String, String>,
    link_name: String,
    rest_url: Option<String>,
    timeout: Duration,
    retries: u32,
    prefix: String,
    wait: Duration,
    poll_interval: Duration,
    stop_timeout: Duration,
    sync_timeout_factor: u32,
    stable_reads: u32,
    final_offsets: FinalOffsets,
    stop_argv: Option<Vec<String>>,
    group_shell: Option<(String, String)>,
}

/// The variables the generated configs' `*-env` keys name.
fn valid_env() -> Env {
    env(&[
        ("ORIGIN_PW", "origin-pw"),
        ("LINK_USER", "link-user"),
        ("LINK_PW", "link-pw"),
    ])
}

fn valid() -> impl Strategy<Value = Valid> {
    let clusters = (
        "[a-z0-9.-]{1,16}:[0-9]{2,5}",
        "[a-z0-9.-]{1,16}:[0-9]{2,5}",
        prop::collection::btree_map(
            prop::sample::select(vec![
                "client.id",
                "socket.timeout.ms",
                "security.protocol",
                "sasl.username",
                "enable.ssl.certificate.verification",
            ]),
            property(),
            0..4,
        ),
        any::<bool>(),
    );
    let link = (
        not_blank(),
        prop::option::of((
            "[a-z0-9-]{1,12}(\\.[a-z]{2,5})?(:[0-9]{2,5})?",
            any::<bool>(),
            any::<bool>(),
        )),
        duration(1),
        number(0..=10),
        any::<String>(),
    );
    let settings = (
        duration(0),
        duration(1),
        duration(1),
        number(1..=20),
        number(2..=10),
        any::<bool>(),
    );
    let hooks = (
        prop::option::of(prop::collection::vec(
            prop_oneof![
                "[a-z/=.-]{0,12}",
                "[a-z/=-]{0,6}\\{group\\}[a-z-]{0,4}",
                "\\{\\{[a-z]{1,4}\\}\\}",
            ],
            0..4,
        )),
        prop::option::of(not_blank()),
    );
    (clusters, link, settings, hooks).prop_map(
        |(
            (origin_bootstrap, dest_bootstrap, props, with_password),
            (link_name, rest, (timeout_text, timeout), (retries_text, retries), prefix),
            (
                (wait_text, wait),
                (poll_text, poll_interval),
                (stop_text, stop_timeout),
                (factor_text, sync_timeout_factor),
                (reads_text, stable_reads),
                link_offsets,
            ),
            (stop_args, group),
        )| {
            let mut items = vec![Item::Header("origin".into())];
            let mut origin = BTreeMap::new();
            items.push(Item::pair(
                "origin",
                "bootstrap.servers",
                quoted(&origin_bootstrap),
            ));
            origin.insert("bootstrap.servers".to_string(), origin_bootstrap);
            for (key, (text, value)) in props {
                items.push(Item::pair("origin", key, text));
                origin.insert(key.to_string(), value);
            }
            if with_password {
                items.push(Item::pair(
                    "origin",
                    "sasl.password-env",
                    quoted("ORIGIN_PW"),
                ));
                origin.insert("sasl.password".into(), "origin-pw".into());
            }
            items.push(Item::Header("destination".into()));
            items.push(Item::pair(
                "destination",
                "bootstrap.servers",
                quoted(&dest_bootstrap),
            ));
            let destination = BTreeMap::from([("bootstrap.servers".to_string(), dest_bootstrap)]);

            items.push(Item::Header("link".into()));
            items.push(Item::pair("link", "name", quoted(&link_name)));
            let rest_url = rest.map(|(host, https, slash)| {
                let scheme = if https { "https" } else { "http" };
                let url = format!("{scheme}://{host}/kafka/v3");
                let written = if slash {
                    format!("{url}/")
                } else {
                    url.clone()
                };
                items.push(Item::pair("link", "rest-url", quoted(&written)));
                items.push(Item::pair("link", "username-env", quoted("LINK_USER")));
                items.push(Item::pair("link", "password-env", quoted("LINK_PW")));
                url
            });
            items.push(Item::pair("link", "timeout", quoted(&timeout_text)));
            items.push(Item::pair("link", "retries", retries_text));
            items.push(Item::pair("link", "prefix", quoted(&prefix)));

            items.push(Item::Header("defaults".into()));
            items.push(Item::pair("defaults", "wait", quoted(&wait_text)));
            items.push(Item::pair("defaults", "poll-interval", quoted(&poll_text)));

            items.push(Item::Header("cutover".into()));
            items.push(Item::pair("cutover", "stop-timeout", quoted(&stop_text)));
            items.push(Item::pair("cutover", "sync-timeout-factor", factor_text));
            items.push(Item::pair("cutover", "stable-reads", reads_text));
            let final_offsets = if link_offsets {
                FinalOffsets::Link
            } else {
                FinalOffsets::Agent
            };
            let written = if link_offsets { "link" } else { "agent" };
            items.push(Item::pair("cutover", "final-offsets", quoted(written)));

            items.push(Item::Header("hooks".into()));
            items.push(Item::pair("hooks", "exclude", quoted("link")));
            let stop_argv = stop_args.map(|args| {
                let mut argv = vec!["kubectl".to_string()];
                argv.extend(args);
                let list =
                    toml::Value::Array(argv.iter().cloned().map(toml::Value::String).collect());
                items.push(Item::Header("hooks.stop".into()));
                items.push(Item::pair("hooks.stop", "exec", list.to_string()));
                argv
            });
            let group_shell = group.map(|id| {
                let header = format!("groups.{}.hooks.restart", crate::hooks::toml_key(&id));
                let script = "systemctl start \"app@$CUTOVER_GROUP\"".to_string();
                items.push(Item::Header(header.clone()));
                items.push(Item::pair(&header, "shell", quoted(&script)));
                (id, script)
            });
            Valid {
                items,
                origin,
                destination,
                link_name,
                rest_url,
                timeout,
                retries,
                prefix,
                wait,
                poll_interval,
                stop_timeout,
                sync_timeout_factor,
                stable_reads,
                final_offsets,
                stop_argv,
                group_shell,
            }
        },
    )
}

/// Any TOML value, as written: text of every kind (durations, numbers and long text among
/// it), numbers, booleans, dates, arrays and inline tables.
fn any_value() -> impl Strategy<Value = String> {
    toml_value(prop_oneof![
        any::<String>().prop_map(toml::Value::String),
        "[0-9]{0,22} ?(ms|s|m|h|d|M|us|)".prop_map(toml::Value::String),
        "\\PC{0,4}".prop_map(toml::Value::String),
        (0usize..20_000).prop_map(|n| toml::Value::String("é".repeat(n))),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        Just(toml::Value::Datetime(
            "1979-05-27T07:32:00Z".parse().expect("a date")
        )),
    ])
}

/// A key to add: dotted, and a `*-env` key, among them.
const NEW_KEY: &str = "[a-z][a-z0-9_-]{0,10}(\\.[a-z]{1,6})?(-env)?";

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn a_valid_config_loads_to_the_values_written(v in valid()) {
        let text = render(&v.items);
        let c = match from_toml(&text, &valid_env()) {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        prop_assert_eq!(&c.origin.properties, &v.origin);
        prop_assert_eq!(&c.destination.properties, &v.destination);
        prop_assert_eq!(&c.link.name, &v.link_name);
        prop_assert_eq!(c.link.rest.as_ref().map(|r| r.url.clone()), v.rest_url.clone());
        if let Some(rest) = &c.link.rest {
            let credentials = rest.credentials.as_ref().expect("credentials");
            prop_assert_eq!(credentials.username.as_str(), "link-user");
            prop_assert_eq!(credentials.password.expose(), "link-pw");
        }
        prop_assert_eq!(c.link.timeout, v.timeout);
        prop_assert_eq!(c.link.retries, v.retries);
        prop_assert_eq!(&c.link.prefix, &v.prefix);
        prop_assert_eq!(c.defaults.wait, v.wait);
        prop_assert_eq!(c.defaults.poll_interval, v.poll_interval);
        prop_assert_eq!(c.cutover.stop_timeout, v.stop_timeout);
        prop_assert_eq!(c.cutover.sync_timeout_factor, v.sync_timeout_factor);
        prop_assert_eq!(c.cutover.stable_reads, v.stable_reads);
        prop_assert_eq!(c.cutover.final_offsets, v.final_offsets);
        prop_assert_eq!(
            c.hooks.defaults.get(&HookKind::Exclude).map(|h| &h.action),
            Some(&HookAction::BuiltinLink)
        );
        let stop = c.hooks.defaults.get(&HookKind::Stop).map(|h| h.action.clone());
        prop_assert_eq!(stop, v.stop_argv.clone().map(|argv| HookAction::Exec { argv }));
        let groups: Vec<(String, HookAction)> = c
            .hooks
            .groups
            .iter()
            .flat_map(|(g, set)| set.values().map(move |h| (g.as_str().to_string(), h.action.clone())))
            .collect();
        let expected: Vec<(String, HookAction)> = v
            .group_shell
            .iter()
            .map(|(g, script)| (g.clone(), HookAction::Shell { script: script.clone() }))
            .collect();
        prop_assert_eq!(groups, expected);
    }

    #[test]
    fn a_mutated_config_loads_or_names_what_is_wrong(v in valid(), m in mutation(NEW_KEY, any_value)) {
        let (text, named) = mutate(&v.items, &m);
        let problems = match from_toml(&text, &valid_env()) {
            Ok(_) => return Ok(()),
            Err(Error::ConfigProblems(p)) => p,
            Err(other) => return Err(TestCaseError::fail(format!("not config problems: {other}"))),
        };
        prop_assert!(!problems.is_empty());
        prop_assert!(problems.iter().all(|p| !p.trim().is_empty()));
        // TOML syntax: the one problem names the file and the line.
        if let [p] = problems.as_slice() {
            if let Some(rest) = p.strip_prefix("/nonexistent/cutover.toml:") {
                let line = rest.strip_prefix(" line ").and_then(|r| r.split(':').next()?.parse::<usize>().ok());
                prop_assert!(line.is_some_and(|l| l >= 1 && l <= text.lines().count() + 1), "{}", p);
                return Ok(());
            }
        }
        if !named.is_empty() {
            let names = problems.iter().any(|p| named.iter().any(|n| p.contains(n.as_str())));
            prop_assert!(names, "none of {:?} in {:#?}\n{}", named, problems, text);
        }
    }
}

/// Problems name a group's section as a header to write; it must be one TOML reads back.
#[test]
fn a_group_section_is_named_as_a_header_toml_reads() {
    // `'"` was written `"""'""""`, a multi-line string no header can hold.
    for id in [
        "'\"",
        "'",
        "a\"b",
        "x\\y",
        "tab\there",
        "new\nline",
        "\u{7f}\u{1}",
        "é ü",
        "ok-id",
    ] {
        let header = format!("[groups.{}.hooks.restart]", crate::hooks::toml_key(id));
        let table: toml::Table = format!("{header}\nshell = \"true\"\n")
            .parse()
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert!(
            table["groups"]
                .as_table()
                .is_some_and(|g| g.contains_key(id)),
            "{header}"
        );
    }
}

#[test]
fn huge_values_and_sections_load_in_one_pass() {
    let long = "x".repeat(1 << 20);
    let mut text =
        format!("[origin]\n\"bootstrap.servers\" = \"a:9092\"\n\"client.id\" = \"{long}\"\n");
    for i in 0..5_000 {
        text.push_str(&format!("\"p{i}.x\" = {i}\n"));
    }
    text.push_str("[destination]\n\"bootstrap.servers\" = \"b:9092\"\n[link]\nname = \"l\"\n");
    for i in 0..500 {
        text.push_str(&format!(
            "[groups.\"g{i}\".hooks.stop]\nexec = [\"stop\", \"{{group}}\"]\n"
        ));
    }
    let c = from_toml(&text, &valid_env()).expect("valid");
    assert_eq!(c.origin.properties["client.id"].len(), 1 << 20);
    assert_eq!(c.origin.properties.len(), 5_002);
    assert_eq!(c.hooks.groups.len(), 500);

    // Problems for every one of thousands of bad keys, each named.
    let mut text = String::from("[link]\nname = \"l\"\n");
    for i in 0..2_000 {
        text.push_str(&format!("k{i} = [1]\n"));
    }
    let problems = match from_toml(&text, &valid_env()) {
        Err(Error::ConfigProblems(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    };
    assert!(problems
        .iter()
        .any(|p| p.contains("unknown key `k1999` in [link]")));

    // Nesting deeper than TOML readers allow is a problem with its line, not a stack overflow.
    let deep = format!(
        "[link]\nname = {}1{}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let problems = match from_toml(&deep, &valid_env()) {
        Err(Error::ConfigProblems(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    };
    assert!(
        problems[0].starts_with("/nonexistent/cutover.toml: line 2:"),
        "{problems:?}"
    );
}

#[test]
fn a_file_longer_than_any_config_is_refused_without_reading_it_all() {
    let dir = TempDir::new("huge-config");
    let path = dir.0.join("cutover.toml");
    // Sparse: no disk is spent on it.
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(MAX_FILE_BYTES + 1))
        .expect("the temp folder is writable");
    for path in [path.as_path(), Path::new("/dev/zero")] {
        let err = Config::load(Some(path), &valid_env()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "cannot read the config file {}: it is longer than 16 MiB",
                path.display()
            )),
            "{text}"
        );
    }
    // So is a .properties file.
    let toml = dir.write(
        "c.toml",
        "[origin]\nproperties-file = \"/dev/zero\"\n\"bootstrap.servers\" = \"a:9092\"\n[destination]\n\"bootstrap.servers\" = \"b:9092\"\n[link]\nname = \"l\"\n",
    );
    let text = Config::load(Some(&toml), &valid_env())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("[origin] properties-file: /dev/zero: cannot read: it is longer than 16 MiB"),
        "{text}"
    );
    // A file that is not UTF-8 says so.
    let latin1 = dir.0.join("latin1.toml");
    std::fs::write(&latin1, b"[link]\nname = \"caf\xe9\"\n").expect("writable");
    let text = Config::load(Some(&latin1), &valid_env())
        .unwrap_err()
        .to_string();
    assert!(text.contains("it is not UTF-8 text"), "{text}");
}
