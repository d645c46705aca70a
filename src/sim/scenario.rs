//! Scenario files: the world, the timeline and the expected outcome (`scenarios/README.md`).
//!
//! Parsing is strict: an unknown key, a bad duration, an app naming a topic that does not
//! exist or a timeline entry with neither an action nor a command is an error naming the file,
//! the entry and what to write instead, never a silently ignored line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse as parse_duration;
use crate::error::{Error, Result};
use crate::sim::AutoOffsetReset;

mod bounds;

use bounds::{check_event, check_numbers, read_text};

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub tick: Duration,
    pub latency: Duration,
    pub link: LinkSpec,
    /// The link back from the destination to the origin, if the world has one.
    pub reverse_link: Option<ReverseLinkSpec>,
    pub topics: Vec<TopicSpec>,
    pub apps: Vec<AppSpec>,
    pub timeline: Vec<Entry>,
    /// Events at fixed times that happen whatever the timeline is doing (while a command
    /// runs, for instance).
    pub background: Vec<(Duration, Event)>,
    pub end: EndSpec,
    pub hooks: HooksSpec,
    pub cutover: CutoverSpec,
    /// The scenario file's folder: a runbook named by `run RUNBOOK` is found relative to it.
    pub dir: PathBuf,
}

/// How the agent's hooks act on the simulated apps.
#[derive(Debug, Clone)]
pub struct HooksSpec {
    /// True: the built-in link exclusion; false: an exclude hook.
    pub builtin_exclude: bool,
    /// True: `cutover promote` promotes through a hook (`[hooks.promote]`), not the REST API.
    pub promote_hook: bool,
    pub retries: u32,
    pub latency: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct RawHooks {
    exclude: String,
    promote: String,
    retries: u32,
    latency: String,
}

impl Default for RawHooks {
    fn default() -> Self {
        RawHooks {
            exclude: "link".into(),
            promote: "link".into(),
            retries: 2,
            latency: "1s".into(),
        }
    }
}

/// The agent's `[cutover]` settings.
#[derive(Debug, Clone)]
pub struct CutoverSpec {
    pub options: crate::cutover::driver::Options,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct RawCutover {
    sync_interval: Option<String>,
    sync_timeout_factor: u32,
    stop_timeout: String,
    mirror_timeout: String,
    restart_timeout: String,
    restart_window: String,
    stable_reads: u32,
    poll_interval: String,
    final_offsets: crate::model::FinalOffsets,
}

impl Default for RawCutover {
    fn default() -> Self {
        RawCutover {
            sync_interval: None,
            sync_timeout_factor: 3,
            stop_timeout: "2m".into(),
            mirror_timeout: "5m".into(),
            restart_timeout: "2m".into(),
            restart_window: "1m".into(),
            stable_reads: 2,
            poll_interval: "2s".into(),
            // As in cutover.toml.
            final_offsets: crate::config::CutoverSettings::default().final_offsets,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    seed: u64,
    tick: Option<String>,
    latency: Option<String>,
    #[serde(default)]
    link: RawLink,
    #[serde(rename = "reverse-link")]
    reverse_link: Option<RawReverseLink>,
    #[serde(default)]
    topics: Vec<TopicSpec>,
    #[serde(default)]
    apps: Vec<RawApp>,
    #[serde(default)]
    timeline: Vec<toml::Table>,
    #[serde(default)]
    background: Vec<toml::Table>,
    #[serde(default)]
    end: RawEnd,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    cutover: RawCutover,
}

/// The link and how the agent reaches it.
#[derive(Debug, Clone)]
pub struct LinkSpec {
    pub name: String,
    /// False: the agent has no REST access (Kafka-only link, mirror status unknown).
    pub rest: bool,
    pub prefix: String,
    pub sync_interval: Duration,
    /// When the first offset-sync tick falls; random (from the seed) when not given.
    pub sync_phase: Option<Duration>,
    /// Records per second per partition the link copies; unlimited when not given.
    pub throughput: Option<f64>,
    /// Group filters: `INCLUDE` entries; a trailing `*` makes a prefix filter.
    pub sync_groups: Vec<String>,
    /// Group filters: `EXCLUDE` entries.
    pub exclude_groups: Vec<String>,
    pub sync_enabled: bool,
    pub retries: u32,
    pub timeout: Duration,
    /// Origin offset − copy offset of each copied record (0: offsets kept; more: a
    /// replicator's stand-in, as the emulator's `--copy-offset-shift`).
    pub copy_offset_shift: i64,
}

/// The reverse link (destination → origin): it copies as fast as it fetches and keeps
/// offsets; the agent reaches it over REST.
#[derive(Debug, Clone)]
pub struct ReverseLinkSpec {
    pub name: String,
    pub prefix: String,
    pub sync_interval: Duration,
    pub sync_phase: Option<Duration>,
    pub sync_groups: Vec<String>,
    pub exclude_groups: Vec<String>,
    pub sync_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct RawReverseLink {
    name: String,
    prefix: String,
    sync_interval: String,
    sync_phase: Option<String>,
    sync_groups: Vec<String>,
    exclude_groups: Vec<String>,
    sync_enabled: bool,
}

impl Default for RawReverseLink {
    fn default() -> Self {
        RawReverseLink {
            name: "back".into(),
            prefix: String::new(),
            sync_interval: "30s".into(),
            sync_phase: None,
            sync_groups: vec!["*".into()],
            exclude_groups: Vec::new(),
            sync_enabled: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct RawLink {
    name: String,
    rest: bool,
    prefix: String,
    sync_interval: String,
    sync_phase: Option<String>,
    throughput: Option<f64>,
    sync_groups: Vec<String>,
    exclude_groups: Vec<String>,
    sync_enabled: bool,
    retries: u32,
    timeout: String,
    copy_offset_shift: i64,
}

impl Default for RawLink {
    fn default() -> Self {
        RawLink {
            name: "migration".into(),
            rest: true,
            prefix: String::new(),
            sync_interval: "30s".into(),
            sync_phase: None,
            throughput: None,
            sync_groups: vec!["*".into()],
            exclude_groups: Vec::new(),
            sync_enabled: true,
            retries: 3,
            timeout: "10s".into(),
            copy_offset_shift: 0,
        }
    }
}

/// A topic: the origin's, or one the destination writes itself (`on = "destination"`, a
/// bidirectional world's writable topic there).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TopicSpec {
    pub name: String,
    #[serde(default = "origin")]
    pub on: Side,
    pub partitions: u32,
    /// Records per second a producer writes, all partitions together (0: no producer).
    #[serde(default)]
    pub produce_rate: f64,
    /// Records already in each partition at the start.
    #[serde(default)]
    pub records: i64,
    /// The log start offset of each partition at the start (retention already deleted
    /// older records).
    #[serde(default)]
    pub log_start: i64,
    /// Whether the link mirrors the topic from the start (the reverse link, for a
    /// destination's topic).
    #[serde(default = "yes")]
    pub mirror: bool,
}

fn yes() -> bool {
    true
}

fn origin() -> Side {
    Side::Origin
}

/// A consumer application.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub name: String,
    pub group: String,
    pub topics: Vec<String>,
    pub partitions: Option<Vec<i32>>,
    pub rate: f64,
    pub commit_interval: Duration,
    pub auto_offset_reset: AutoOffsetReset,
    pub start_on: Option<Side>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawApp {
    name: String,
    group: Option<String>,
    topics: Vec<String>,
    partitions: Option<Vec<i32>>,
    #[serde(default = "default_rate")]
    rate: f64,
    #[serde(default = "default_commit_interval")]
    commit_interval: String,
    #[serde(default = "default_reset")]
    auto_offset_reset: AutoOffsetReset,
    start_on: Option<Side>,
}

fn default_rate() -> f64 {
    1000.0
}
fn default_commit_interval() -> String {
    "5s".into()
}
fn default_reset() -> AutoOffsetReset {
    AutoOffsetReset::Latest
}

/// A side of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Origin,
    Destination,
}

impl From<Side> for crate::model::Role {
    fn from(s: Side) -> Self {
        match s {
            Side::Origin => crate::model::Role::Origin,
            Side::Destination => crate::model::Role::Destination,
        }
    }
}

/// When a timeline entry happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At this virtual time since the start.
    At(Duration),
    /// This long after the previous entry finished (a command finishes when it exits).
    After(Duration),
}

/// One timeline entry: an event in the world, or a command of the agent.
#[derive(Debug, Clone)]
pub struct Entry {
    pub when: When,
    pub what: What,
}

#[derive(Debug, Clone)]
pub enum What {
    Event(Event),
    Command {
        /// Arguments after `cutover`.
        args: Vec<String>,
        expect: Box<Expect>,
        /// Kill the agent (drop it mid-await, as SIGKILL would) when its cutover enters this
        /// phase.
        kill_at: Option<crate::cutover::machine::Phase>,
    },
    /// Commands started at the same moment and run concurrently (`run-together`), each
    /// checked against the same expectations.
    Together {
        commands: Vec<Vec<String>>,
        expect: Box<Expect>,
    },
}

/// Events and faults. The names are the `do` values of the scenario format.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    StartApp {
        app: String,
        on: Side,
    },
    StopApp {
        app: String,
    },
    /// The app dies without committing.
    KillApp {
        app: String,
    },
    StartProducer {
        topic: String,
    },
    StopProducer {
        topic: String,
    },
    SetProduceRate {
        topic: String,
        rate: f64,
    },
    /// Promote a mirror through the link (as an operator would over REST): refused while
    /// any partition lags; the mirror is STOPPED at the next step.
    PromoteMirror {
        topic: String,
    },
    /// The topic's producer writes the promoted topic on the destination from now on.
    MoveProducer {
        topic: String,
    },
    /// Pause or resume through the link (as an operator would over REST).
    PauseMirror {
        topic: String,
    },
    ResumeMirror {
        topic: String,
    },
    /// The link stops copying while still reporting ACTIVE.
    StallMirror {
        topic: String,
    },
    UnstallMirror {
        topic: String,
    },
    FailMirror {
        topic: String,
        reason: Option<String>,
    },
    CreateMirror {
        topic: String,
    },
    /// The reverse link mirrors a destination topic back to the origin.
    CreateReverseMirror {
        topic: String,
    },
    SetMirrorThroughput {
        rate: Option<f64>,
    },
    SetLinkConfig {
        name: String,
        value: Option<String>,
    },
    /// Adds a LITERAL EXCLUDE for the group to the link's group filters.
    ExcludeGroup {
        group: String,
    },
    /// A slow link: each offset-sync tick writes `delay` after it read the origin's
    /// offsets; without `delay`, ticks write at once again.
    SlowOffsetSync {
        delay: Option<String>,
    },
    StopOffsetSync {},
    StartOffsetSync {},
    /// The next `count` REST calls to the link fail.
    RestErrors {
        count: u32,
        status: Option<u16>,
        /// Hold the call this long instead (then the emulator answers 504).
        hold: Option<String>,
    },
    Leaderless {
        on: Side,
        topic: String,
        partition: i32,
    },
    LeaderBack {
        on: Side,
        topic: String,
        partition: i32,
    },
    Unreachable {
        on: Side,
    },
    Reachable {
        on: Side,
    },
    DeleteRecords {
        on: Side,
        topic: String,
        partition: i32,
        before: i64,
    },
    AddPartitions {
        topic: String,
        count: u32,
    },
    Commit {
        on: Side,
        group: String,
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// The next `count` attempts of a hook (`stop`, `exclude`, `restart`, `rollback`) fail.
    HookFails {
        hook: String,
        count: u32,
    },
}

/// What a command must produce. Every field is optional; what is given must match exactly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expect {
    pub exit: Option<i32>,
    /// `verify`: the overall decision.
    pub safe: Option<bool>,
    /// `verify`: per group, the set of partition verdicts.
    #[serde(default)]
    pub verdicts: BTreeMap<String, Vec<String>>,
    /// `verify`: per `group/topic-partition`, the verdict.
    #[serde(default)]
    pub partitions: BTreeMap<String, String>,
    /// `verify`: per group, the set of finding kinds.
    #[serde(default)]
    pub findings: BTreeMap<String, Vec<String>>,
    /// `audit`: the set of audit finding kinds.
    pub audit_findings: Option<Vec<String>>,
    /// `audit`: per group, its classification.
    #[serde(default)]
    pub classes: BTreeMap<String, String>,
    /// The error message (on failure) contains this text.
    pub error_contains: Option<String>,
    /// `group`: how the cutover ended (`done`, `rolled_back`, `refused`, `needs_operator`).
    pub outcome: Option<String>,
    /// `group`: the reason it gives contains this text.
    pub reason_contains: Option<String>,
    /// The command was killed at its `kill-at` phase.
    pub killed: Option<bool>,
    /// The command ran at least / at most this long in virtual time.
    pub min_duration: Option<String>,
    pub max_duration: Option<String>,
    /// `group`: the group was down (stop hook begun → restart hook begun) at most this long.
    pub max_downtime: Option<String>,
    /// `group`: how the exclusion was proven starts with this (`observed`, `weak`, `not
    /// needed`).
    pub exclusion_proof: Option<String>,
    /// `watch`: the set of finding kinds (`MIRROR_STALLED`, …).
    pub watch_findings: Option<Vec<String>>,
    /// `promote`: how it ended (`promoted`, `refused`, `would_promote`, `nothing_to_do`,
    /// `failed`).
    pub promote_outcome: Option<String>,
    /// `run`: how the runbook ended (`done`, `partial`, `planned`).
    pub runbook_outcome: Option<String>,
    /// `run`: per stage, in order, its status (`done`, `failed`, `not_run`, …).
    pub stages: Option<Vec<String>>,
}

/// The end of the scenario: how long the world keeps running after the timeline, and what the
/// apps must have seen.
#[derive(Debug, Clone, Default)]
pub struct EndSpec {
    pub after: Duration,
    pub apps: BTreeMap<String, AppExpect>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEnd {
    after: Option<String>,
    #[serde(default)]
    apps: BTreeMap<String, AppExpect>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AppExpect {
    pub duplicates: Option<u64>,
    pub gaps: Option<u64>,
    pub min_processed: Option<u64>,
    pub running_on: Option<Side>,
    /// The app's duplicates and gaps are exactly what the last `group --offsets-by-time`
    /// summary of its group predicted (records read twice, records skipped).
    #[serde(default)]
    pub as_predicted: bool,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = read_text(path).map_err(|e| {
            Error::Scenario(vec![format!(
                "cannot read scenario {}: {e}",
                path.display()
            )])
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::parse(&text, &stem)
            .map(|s| Scenario { dir, ..s })
            .map_err(|e| match e {
                Error::Scenario(problems) => Error::Scenario(
                    problems
                        .into_iter()
                        .map(|p| format!("{}: {p}", path.display()))
                        .collect(),
                ),
                other => other,
            })
    }

    /// Parses a scenario; every problem found is reported at once.
    pub fn parse(text: &str, default_name: &str) -> Result<Scenario> {
        let raw: RawScenario =
            toml::from_str(text).map_err(|e| Error::Scenario(vec![e.to_string()]))?;
        let mut numbers = Vec::new();
        check_numbers(&raw, &mut numbers);
        let problems = std::cell::RefCell::new(numbers);
        let mut duration = |what: &str, s: &str| match parse_duration(s) {
            Ok(d) => d,
            Err(e) => {
                problems
                    .borrow_mut()
                    .push(format!("{what}: invalid duration {s:?}: {e}"));
                Duration::ZERO
            }
        };
        let tick = raw
            .tick
            .as_deref()
            .map_or(Duration::from_millis(100), |t| duration("tick", t));
        let latency = raw
            .latency
            .as_deref()
            .map_or(Duration::ZERO, |t| duration("latency", t));
        let link = LinkSpec {
            sync_interval: duration("link.sync-interval", &raw.link.sync_interval),
            sync_phase: raw
                .link
                .sync_phase
                .as_deref()
                .map(|p| duration("link.sync-phase", p)),
            timeout: duration("link.timeout", &raw.link.timeout),
            name: raw.link.name,
            rest: raw.link.rest,
            prefix: raw.link.prefix,
            throughput: raw.link.throughput,
            sync_groups: raw.link.sync_groups,
            exclude_groups: raw.link.exclude_groups,
            sync_enabled: raw.link.sync_enabled,
            retries: raw.link.retries,
            copy_offset_shift: raw.link.copy_offset_shift,
        };
        let reverse_link = raw.reverse_link.as_ref().map(|r| ReverseLinkSpec {
            name: r.name.clone(),
            prefix: r.prefix.clone(),
            sync_interval: duration("reverse-link.sync-interval", &r.sync_interval),
            sync_phase: r
                .sync_phase
                .as_deref()
                .map(|p| duration("reverse-link.sync-phase", p)),
            sync_groups: r.sync_groups.clone(),
            exclude_groups: r.exclude_groups.clone(),
            sync_enabled: r.sync_enabled,
        });
        let mut apps = Vec::new();
        for a in raw.apps {
            apps.push(AppSpec {
                group: a.group.clone().unwrap_or_else(|| a.name.clone()),
                commit_interval: duration(
                    &format!("app {}: commit-interval", a.name),
                    &a.commit_interval,
                ),
                name: a.name,
                topics: a.topics,
                partitions: a.partitions,
                rate: a.rate,
                auto_offset_reset: a.auto_offset_reset,
                start_on: a.start_on,
            });
        }
        let end_after = raw
            .end
            .after
            .as_deref()
            .map_or(Duration::ZERO, |a| duration("end.after", a));
        let hooks = HooksSpec {
            builtin_exclude: match raw.hooks.exclude.as_str() {
                "link" => true,
                "hook" => false,
                other => {
                    problems.borrow_mut().push(format!(
                        "hooks.exclude: {other:?} is neither \"link\" (the built-in action) nor \"hook\""
                    ));
                    true
                }
            },
            promote_hook: match raw.hooks.promote.as_str() {
                "link" => false,
                "hook" => true,
                other => {
                    problems.borrow_mut().push(format!(
                        "hooks.promote: {other:?} is neither \"link\" (the REST API) nor \"hook\""
                    ));
                    false
                }
            },
            retries: raw.hooks.retries,
            latency: duration("hooks.latency", &raw.hooks.latency),
        };
        let c = &raw.cutover;
        let cutover = CutoverSpec {
            options: crate::cutover::driver::Options {
                cutover: crate::config::CutoverSettings {
                    journal_dir: std::path::PathBuf::new(),
                    sync_interval: c
                        .sync_interval
                        .as_deref()
                        .map(|d| duration("cutover.sync-interval", d)),
                    sync_timeout_factor: c.sync_timeout_factor,
                    stop_timeout: duration("cutover.stop-timeout", &c.stop_timeout),
                    mirror_timeout: duration("cutover.mirror-timeout", &c.mirror_timeout),
                    restart_timeout: duration("cutover.restart-timeout", &c.restart_timeout),
                    restart_window: duration("cutover.restart-window", &c.restart_window),
                    stable_reads: c.stable_reads,
                    final_offsets: c.final_offsets,
                },
                poll_interval: duration("cutover.poll-interval", &c.poll_interval),
                evidence: [("tool".to_string(), "the simulator".to_string())].into(),
                restart_on: crate::model::Role::Destination,
                shared_journal: None,
            },
        };
        let mut timeline = Vec::new();
        for (i, table) in raw.timeline.into_iter().enumerate() {
            match parse_entry(table, &mut duration) {
                Ok(e) => timeline.push(e),
                Err(e) => problems
                    .borrow_mut()
                    .push(format!("timeline entry {}: {e}", i + 1)),
            }
        }
        let mut background = Vec::new();
        for (i, table) in raw.background.into_iter().enumerate() {
            match parse_entry(table, &mut duration) {
                Ok(Entry {
                    when: When::At(at),
                    what: What::Event(e),
                }) => background.push((at, e)),
                Ok(_) => problems.borrow_mut().push(format!(
                    "background entry {}: needs `at` and `do` (an event, not a command)",
                    i + 1
                )),
                Err(e) => problems
                    .borrow_mut()
                    .push(format!("background entry {}: {e}", i + 1)),
            }
        }
        let mut problems = problems.into_inner();
        if tick.is_zero() {
            problems.push("tick must be longer than 0".into());
        }
        if raw.link.copy_offset_shift < 0 {
            problems.push(format!(
                "link.copy-offset-shift is {}: it must be 0 (offsets kept) or more",
                raw.link.copy_offset_shift
            ));
        }
        // The names apps subscribe to, as the origin has them: its own topics and the reverse
        // link's mirrors of the destination's.
        let reverse_prefix = reverse_link.as_ref().map(|r| r.prefix.clone());
        let mut topics: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for t in &raw.topics {
            match (t.on, &reverse_prefix) {
                (Side::Origin, _) => {
                    topics.insert(t.name.clone());
                }
                (Side::Destination, Some(prefix)) if t.mirror => {
                    topics.insert(format!("{prefix}{}", t.name));
                }
                (Side::Destination, None) if t.mirror => problems.push(format!(
                    "topic {}: a destination topic is mirrored back by the reverse link, and the scenario has no [reverse-link] (or give it mirror = false)",
                    t.name
                )),
                (Side::Destination, _) => {}
            }
        }
        let mut apps_of_group: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &apps {
            *apps_of_group.entry(a.group.as_str()).or_default() += 1;
        }
        for a in &apps {
            for t in &a.topics {
                if !topics.contains(t.as_str()) {
                    problems.push(format!(
                        "app {}: topic {t} is not one of the scenario's origin [[topics]] (nor a reverse mirror of a destination topic)",
                        a.name
                    ));
                }
            }
        }
        for (group, n) in &apps_of_group {
            if *n > 1 {
                problems.push(format!(
                    "group {group}: more than one app uses it; the simulator runs one member per group"
                ));
            }
        }
        let app_names: std::collections::BTreeSet<&str> =
            apps.iter().map(|a| a.name.as_str()).collect();
        for name in raw.end.apps.keys() {
            if !app_names.contains(name.as_str()) {
                problems.push(format!("end.apps.{name}: no app has that name"));
            }
        }
        if !problems.is_empty() {
            problems.dedup();
            return Err(Error::Scenario(problems));
        }
        Ok(Scenario {
            name: raw.name.unwrap_or_else(|| default_name.to_string()),
            description: raw.description.unwrap_or_default(),
            seed: raw.seed,
            tick,
            latency,
            link,
            reverse_link,
            topics: raw.topics,
            apps,
            timeline,
            background,
            end: EndSpec {
                after: end_after,
                apps: raw.end.apps,
            },
            hooks,
            cutover,
            dir: PathBuf::new(),
        })
    }
}

fn parse_entry(
    mut table: toml::Table,
    duration: &mut impl FnMut(&str, &str) -> Duration,
) -> std::result::Result<Entry, String> {
    let text = |v: toml::Value, key: &str| match v {
        toml::Value::String(s) => Ok(s),
        other => Err(format!("{key} must be a duration string, not {other}")),
    };
    let when = match (table.remove("at"), table.remove("after")) {
        (Some(_), Some(_)) => return Err("give `at` or `after`, not both".into()),
        (Some(at), None) => When::At(duration("at", &text(at, "at")?)),
        (None, Some(after)) => When::After(duration("after", &text(after, "after")?)),
        (None, None) => When::After(Duration::ZERO),
    };
    let run = table.remove("run");
    let expect = table.remove("expect");
    if let Some(together) = table.remove("run-together") {
        if run.is_some() || table.contains_key("do") {
            return Err("give `run-together` alone, not with `run` or `do`".into());
        }
        if let Some(extra) = table.keys().next() {
            return Err(format!("unknown key {extra:?} beside `run-together`"));
        }
        let toml::Value::Array(list) = together else {
            return Err("run-together must be an array of command lines".into());
        };
        let commands = list
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
                other => Err(format!("run-together: {other} is not a command line")),
            })
            .collect::<std::result::Result<Vec<Vec<String>>, _>>()?;
        if commands.len() < 2 {
            return Err("run-together needs at least two command lines".into());
        }
        let expect = Box::new(match expect {
            None => Expect::default(),
            Some(v) => v.try_into().map_err(|e| format!("expect: {e}"))?,
        });
        return Ok(Entry {
            when,
            what: What::Together { commands, expect },
        });
    }
    let kill_at = match table.remove("kill-at") {
        None => None,
        Some(toml::Value::String(p)) => {
            Some(crate::cutover::machine::Phase::parse(&p).ok_or_else(|| {
                format!(
                    "kill-at: unknown phase {p:?} (one of {})",
                    crate::cutover::machine::Phase::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?)
        }
        Some(other) => return Err(format!("kill-at must be a phase name, not {other}")),
    };
    let what = match (run, table.contains_key("do")) {
        (Some(_), true) => return Err("give `do` (an event) or `run` (a command), not both".into()),
        (None, false) => {
            return Err("needs `do = \"...\"` (an event) or `run = \"...\"` (a command)".into())
        }
        (Some(run), false) => {
            let args = match run {
                toml::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                toml::Value::Array(a) => a
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        other => Err(format!("run: {other} is not a string")),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?,
                other => return Err(format!("run must be a string or an array, not {other}")),
            };
            if let Some(extra) = table.keys().next() {
                return Err(format!("unknown key {extra:?} beside `run`"));
            }
            let expect = Box::new(match expect {
                None => Expect::default(),
                Some(v) => v.try_into().map_err(|e| format!("expect: {e}"))?,
            });
            What::Command {
                args,
                expect,
                kill_at,
            }
        }
        (None, true) => {
            if kill_at.is_some() {
                return Err("`kill-at` belongs to a `run` entry".into());
            }
            if expect.is_some() {
                return Err("`expect` belongs to a `run` entry".into());
            }
            let event: Event = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| e.message().to_string())?;
            check_event(&event)?;
            What::Event(event)
        }
    };
    Ok(Entry { when, what })
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests;
