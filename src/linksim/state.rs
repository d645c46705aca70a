//! The emulated link's state: its configs, its mirror topics and the fault knobs.
//!
//! Everything here is data plus the rules that change it (config validation, mirror state
//! transitions). It performs no I/O: the REST layer, the mirroring engine and the offset
//! sync read and change it under one lock and do their Kafka calls outside it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::link::filters::{FilterKind, Filters};

/// `mirror_status` values the emulator uses (a subset of the REST API's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorStatus {
    Active,
    Failed,
    Paused,
    PendingStopped,
    Stopped,
}

impl MirrorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorStatus::Active => "ACTIVE",
            MirrorStatus::Failed => "FAILED",
            MirrorStatus::Paused => "PAUSED",
            MirrorStatus::PendingStopped => "PENDING_STOPPED",
            MirrorStatus::Stopped => "STOPPED",
        }
    }

    /// Parses a `mirror_status` query value; unknown values match nothing.
    pub fn parse(s: &str) -> Option<MirrorStatus> {
        match s.to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(MirrorStatus::Active),
            "FAILED" => Some(MirrorStatus::Failed),
            "PAUSED" => Some(MirrorStatus::Paused),
            "PENDING_STOPPED" => Some(MirrorStatus::PendingStopped),
            "STOPPED" => Some(MirrorStatus::Stopped),
            _ => None,
        }
    }
}

/// One partition's lag as the link last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PartitionLag {
    /// The origin's log end offset at the last look (`last_source_fetch_offset`).
    pub origin_end: i64,
    /// The mirror partition's log end offset at the last look.
    pub mirror_end: i64,
}

impl PartitionLag {
    pub fn lag(&self) -> i64 {
        self.origin_end - self.mirror_end
    }
}

/// One mirror topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    pub source_topic: String,
    pub mirror_topic: String,
    pub partitions: i32,
    pub status: MirrorStatus,
    pub state_time_ms: i64,
    /// Why the mirror failed (`mirror_topic_error` and the transition error message).
    pub failure: Option<MirrorFailure>,
    /// Per-partition lag, refreshed in the background (frozen while the topic is stalled).
    pub lags: BTreeMap<i32, PartitionLag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorFailure {
    /// A `mirror_topic_error` value of the REST API.
    pub code: &'static str,
    pub message: String,
}

impl Mirror {
    pub fn new(source_topic: String, mirror_topic: String, partitions: i32) -> Mirror {
        Mirror {
            source_topic,
            mirror_topic,
            partitions,
            status: MirrorStatus::Active,
            state_time_ms: now_ms(),
            failure: None,
            lags: (0..partitions)
                .map(|p| (p, PartitionLag::default()))
                .collect(),
        }
    }

    pub fn set_status(&mut self, status: MirrorStatus) {
        if self.status != status {
            self.status = status;
            self.state_time_ms = now_ms();
        }
    }

    pub fn fail(&mut self, code: &'static str, message: String) {
        if self.status == MirrorStatus::Failed {
            return; // keep the first reason
        }
        self.failure = Some(MirrorFailure { code, message });
        self.set_status(MirrorStatus::Failed);
    }

    /// Copying runs only for active mirrors (paused and stalled ones keep their position).
    pub fn copies(&self) -> bool {
        self.status == MirrorStatus::Active
    }
}

/// A link config the emulator knows: its default and whether it can be changed.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    pub name: &'static str,
    pub default: &'static str,
    pub read_only: bool,
    pub synonyms: &'static [&'static str],
}

pub const SYNC_ENABLE: &str = "consumer.offset.sync.enable";
pub const SYNC_MS: &str = "consumer.offset.sync.ms";
pub const GROUP_FILTERS: &str = "consumer.offset.group.filters";
pub const AUTO_CREATE_ENABLE: &str = "auto.create.mirror.topics.enable";
pub const AUTO_CREATE_FILTERS: &str = "auto.create.mirror.topics.filters";
pub const LINK_PREFIX: &str = "cluster.link.prefix";
pub const TOPIC_CONFIG_SYNC_MS: &str = "topic.config.sync.ms";
pub const LINK_PAUSED: &str = "cluster.link.paused";

/// The configs the emulator serves. Values are strings, as over REST.
pub const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "acl.filters",
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "acl.sync.enable",
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "acl.sync.ms",
        default: "5000",
        read_only: false,
        synonyms: &["asm"],
    },
    ConfigSpec {
        name: AUTO_CREATE_ENABLE,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: AUTO_CREATE_FILTERS,
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "bootstrap.servers",
        default: "",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: LINK_PAUSED,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: LINK_PREFIX,
        default: "",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: GROUP_FILTERS,
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: SYNC_ENABLE,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: SYNC_MS,
        default: "30000",
        read_only: false,
        synonyms: &["cosm"],
    },
    ConfigSpec {
        name: "link.mode",
        default: "DESTINATION",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: TOPIC_CONFIG_SYNC_MS,
        default: "5000",
        read_only: false,
        synonyms: &[],
    },
];

pub fn config_spec(name: &str) -> Option<&'static ConfigSpec> {
    CONFIGS.iter().find(|c| c.name == name)
}

/// Fault knobs, set through the emulator's admin endpoint; REST clients never see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Mirror topics whose copying is stopped while REST still says `ACTIVE` (lag frozen at
    /// its last value, as a real link's fetch-relative lag goes stale).
    pub stalled_topics: BTreeSet<String>,
    /// Copy at most this many records per second (all topics together).
    pub throttle_records_per_sec: Option<u32>,
    /// Extra delay before each offset-sync tick writes.
    pub offset_sync_delay_ms: u64,
    /// No offset-sync tick writes anything while set.
    pub offset_sync_stopped: bool,
}

/// How the next REST calls fail, set through the admin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestFaults {
    /// How many of the next calls to the emulated API fail.
    pub remaining: u32,
    /// `"status"`: answer with `status` (default 503); `"timeout"`: hold the call
    /// for `timeout_ms` (default 60000) and then answer 504.
    pub kind: RestFaultKind,
    pub status: Option<u16>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestFaultKind {
    #[default]
    Status,
    Timeout,
}

/// What the last offset-sync ticks did, for the admin status endpoint and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub ticks: u64,
    pub last_tick_ms: Option<i64>,
    /// Per group: the tick that last wrote its offsets, and the last error.
    pub groups: BTreeMap<String, GroupSyncReport>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupSyncReport {
    pub last_synced_tick: Option<u64>,
    pub last_synced_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// The whole link.
#[derive(Debug, Clone)]
pub struct LinkState {
    pub link_name: String,
    pub link_id: String,
    pub source_cluster_id: String,
    configs: BTreeMap<String, String>,
    pub mirrors: BTreeMap<String, Mirror>,
    pub faults: Faults,
    pub rest_faults: RestFaults,
    pub sync: SyncReport,
}

/// A config change refused, with the REST status and message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub error_code: i32,
    pub message: String,
}

impl Refusal {
    pub fn bad_request(message: String) -> Refusal {
        Refusal {
            status: 400,
            error_code: 40002,
            message,
        }
    }

    pub fn not_found(message: String) -> Refusal {
        Refusal {
            status: 404,
            error_code: 40403,
            message,
        }
    }
}

impl LinkState {
    pub fn new(
        link_name: String,
        link_id: String,
        source_cluster_id: String,
        origin_bootstrap: &str,
    ) -> LinkState {
        let mut configs = BTreeMap::new();
        configs.insert(
            "bootstrap.servers".to_string(),
            origin_bootstrap.to_string(),
        );
        LinkState {
            link_name,
            link_id,
            source_cluster_id,
            configs,
            mirrors: BTreeMap::new(),
            faults: Faults::default(),
            rest_faults: RestFaults::default(),
            sync: SyncReport::default(),
        }
    }

    /// A config's current value (its default when never set).
    pub fn config(&self, name: &str) -> String {
        self.configs
            .get(name)
            .cloned()
            .or_else(|| config_spec(name).map(|s| s.default.to_string()))
            .unwrap_or_default()
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.configs.contains_key(name)
    }

    pub fn config_bool(&self, name: &str) -> bool {
        self.config(name).eq_ignore_ascii_case("true")
    }

    pub fn config_ms(&self, name: &str) -> u64 {
        self.config(name).parse().unwrap_or(30_000)
    }

    pub fn group_filters(&self) -> Result<Filters, String> {
        Filters::parse(FilterKind::Group, &self.config(GROUP_FILTERS)).map_err(|e| e.to_string())
    }

    pub fn topic_filters(&self) -> Result<Filters, String> {
        Filters::parse(FilterKind::Topic, &self.config(AUTO_CREATE_FILTERS))
            .map_err(|e| e.to_string())
    }

    /// Checks a batch of changes (`None` resets to the default) without applying it.
    pub fn validate(&self, changes: &[(String, Option<String>)]) -> Result<(), Refusal> {
        for (name, value) in changes {
            let Some(spec) = config_spec(name) else {
                return Err(Refusal::bad_request(format!(
                    "Unknown cluster link config '{name}' for link '{}'",
                    self.link_name
                )));
            };
            if spec.read_only {
                return Err(Refusal::bad_request(format!(
                    "Cluster link config '{name}' is read-only"
                )));
            }
            let Some(value) = value else { continue };
            let invalid = |why: String| {
                Err(Refusal::bad_request(format!(
                    "Invalid value '{value}' for cluster link config '{name}': {why}"
                )))
            };
            let problem = match name.as_str() {
                SYNC_ENABLE | AUTO_CREATE_ENABLE | LINK_PAUSED | "acl.sync.enable"
                    if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") =>
                {
                    Some("expected true or false".to_string())
                }
                SYNC_MS | TOPIC_CONFIG_SYNC_MS | "acl.sync.ms"
                    if !value.parse::<u64>().is_ok_and(|v| v > 0) =>
                {
                    Some("expected a positive number of milliseconds".to_string())
                }
                GROUP_FILTERS => Filters::parse(FilterKind::Group, value)
                    .err()
                    .map(|e| e.to_string()),
                AUTO_CREATE_FILTERS => Filters::parse(FilterKind::Topic, value)
                    .err()
                    .map(|e| e.to_string()),
                _ => None,
            };
            if let Some(why) = problem {
                return invalid(why);
            }
        }
        Ok(())
    }

    /// Validates and applies a batch of changes atomically.
    ///
    /// As on Confluent's links, switching a feature off clears that feature's filters:
    /// `consumer.offset.sync.enable=false` clears `consumer.offset.group.filters`, and
    /// `auto.create.mirror.topics.enable=false` clears its topic filters. Re-enabling needs
    /// both keys written again, which is what a careful client must do.
    pub fn apply(&mut self, changes: &[(String, Option<String>)]) -> Result<(), Refusal> {
        self.validate(changes)?;
        for (name, value) in changes {
            match value {
                Some(v) => {
                    self.configs.insert(name.clone(), v.clone());
                }
                None => {
                    self.configs.remove(name);
                }
            }
        }
        for (enable, filters) in [
            (SYNC_ENABLE, GROUP_FILTERS),
            (AUTO_CREATE_ENABLE, AUTO_CREATE_FILTERS),
        ] {
            let switched_off =
                changes.iter().any(|(n, _)| n == enable) && !self.config_bool(enable);
            if switched_off {
                self.configs.remove(filters);
            }
        }
        Ok(())
    }

    /// Applies the configs given when the link is created, where read-only keys (the prefix)
    /// may still be set.
    pub fn apply_at_creation(&mut self, configs: &[(String, String)]) -> Result<(), Refusal> {
        let (fixed, editable): (Vec<_>, Vec<_>) = configs
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .partition(|(k, _)| config_spec(k).is_some_and(|s| s.read_only));
        self.apply(&editable)?;
        for (k, v) in fixed {
            if k == "bootstrap.servers" || k == "link.mode" {
                return Err(Refusal::bad_request(format!(
                    "'{k}' is set by the emulator"
                )));
            }
            self.configs.insert(k, v.unwrap_or_default());
        }
        Ok(())
    }

    /// Adds a LITERAL EXCLUDE for `group` to `consumer.offset.group.filters`.
    pub fn exclude_group(&mut self, group: &str) -> Result<(), Refusal> {
        let mut filters = self.group_filters().map_err(Refusal::bad_request)?;
        if filters.exclude_literally(group) {
            self.apply(&[(
                GROUP_FILTERS.to_string(),
                Some(filters.to_json(FilterKind::Group)),
            )])?;
        }
        Ok(())
    }

    /// The mirror topic name for a source topic: the link prefix plus the source name.
    pub fn mirror_name_for(&self, source_topic: &str) -> String {
        format!("{}{source_topic}", self.config(LINK_PREFIX))
    }

    /// The mirror whose source is `source_topic`, if any.
    pub fn mirror_of_source(&self, source_topic: &str) -> Option<&Mirror> {
        self.mirrors
            .values()
            .find(|m| m.source_topic == source_topic)
    }

    /// True when copying for `mirror_topic` should run now.
    pub fn copying(&self, mirror_topic: &str) -> bool {
        !self.config_bool(LINK_PAUSED)
            && !self.faults.stalled_topics.contains(mirror_topic)
            && self.mirrors.get(mirror_topic).is_some_and(Mirror::copies)
    }

    /// Takes one REST failure from the budget, if any is left.
    pub fn take_rest_fault(&mut self) -> Option<RestFaults> {
        if self.rest_faults.remaining == 0 {
            return None;
        }
        self.rest_faults.remaining -= 1;
        Some(self.rest_faults.clone())
    }
}

/// An action on mirror topics, as the REST API names them.
pub type Action = crate::link::MirrorAction;

/// The state a mirror in `status` moves to under `action`, or why the link refuses it.
///
/// Promote needs the lag measured now (`lags`); called without it, promote is only checked
/// against the mirror's state, which tells a caller whether measuring is worth it.
pub fn next_status(
    status: MirrorStatus,
    action: Action,
    topic: &str,
    link: &str,
    lags: Option<&BTreeMap<i32, PartitionLag>>,
) -> Result<MirrorStatus, Refusal> {
    if matches!(status, MirrorStatus::Stopped | MirrorStatus::PendingStopped) {
        return Err(Refusal::bad_request(format!(
            "Topic '{topic}' has already stopped its mirror from '{link}'"
        )));
    }
    match action {
        Action::Promote => {
            if status == MirrorStatus::Failed {
                return Err(Refusal::bad_request(format!(
                    "Topic '{topic}' cannot be promoted: its mirror has failed; use failover to stop it"
                )));
            }
            if let Some((p, lag)) = lags
                .into_iter()
                .flatten()
                .map(|(p, l)| (p, l.lag()))
                .find(|(_, lag)| *lag != 0)
            {
                return Err(Refusal::bad_request(format!(
                    "Topic '{topic}' cannot be promoted: mirror lag is {lag} on partition {p}; wait until the lag is zero, or use failover"
                )));
            }
            Ok(MirrorStatus::PendingStopped)
        }
        Action::Failover => Ok(MirrorStatus::PendingStopped),
        Action::Pause if status == MirrorStatus::Failed => Err(Refusal::bad_request(format!(
            "Topic '{topic}' has a failed mirror and cannot be paused"
        ))),
        Action::Pause => Ok(MirrorStatus::Paused),
        Action::Resume if status == MirrorStatus::Failed => Err(Refusal::bad_request(format!(
            "Topic '{topic}' has a failed mirror and cannot be resumed"
        ))),
        Action::Resume => Ok(MirrorStatus::Active),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> LinkState {
        LinkState::new("l".into(), "id".into(), "src".into(), "127.0.0.1:1")
    }

    fn set(name: &str, value: &str) -> (String, Option<String>) {
        (name.to_string(), Some(value.to_string()))
    }

    #[test]
    fn configs_default_until_set_and_reset_on_delete() {
        let mut l = link();
        assert_eq!(l.config(SYNC_MS), "30000");
        assert!(!l.is_set(SYNC_MS));
        l.apply(&[set(SYNC_MS, "1500")]).unwrap();
        assert_eq!(l.config(SYNC_MS), "1500");
        l.apply(&[(SYNC_MS.to_string(), None)]).unwrap();
        assert_eq!(l.config(SYNC_MS), "30000");
    }

    #[test]
    fn invalid_batches_change_nothing() {
        let mut l = link();
        let err = l
            .apply(&[set(SYNC_MS, "1000"), set(GROUP_FILTERS, "{not json")])
            .unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains(GROUP_FILTERS), "{}", err.message);
        assert_eq!(l.config(SYNC_MS), "30000", "the valid half was not applied");
        for bad in [
            set(SYNC_MS, "0"),
            set(SYNC_ENABLE, "yes"),
            set("no.such.config", "1"),
            set(LINK_PREFIX, "p."),
        ] {
            assert!(l.apply(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn disabling_offset_sync_clears_its_group_filters() {
        let mut l = link();
        let filters =
            r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
        l.apply(&[set(SYNC_ENABLE, "true"), set(GROUP_FILTERS, filters)])
            .unwrap();
        assert!(l.group_filters().unwrap().includes("g"));
        l.apply(&[set(SYNC_ENABLE, "false")]).unwrap();
        assert_eq!(l.config(GROUP_FILTERS), "");
        l.apply(&[set(SYNC_ENABLE, "true")]).unwrap();
        assert!(
            !l.group_filters().unwrap().includes("g"),
            "filters must be written again"
        );
    }

    #[test]
    fn stalled_paused_and_stopped_mirrors_do_not_copy() {
        let mut l = link();
        l.mirrors
            .insert("t".into(), Mirror::new("t".into(), "t".into(), 1));
        assert!(l.copying("t"));
        l.faults.stalled_topics.insert("t".into());
        assert!(!l.copying("t"));
        l.faults.stalled_topics.clear();
        l.mirrors
            .get_mut("t")
            .unwrap()
            .set_status(MirrorStatus::Paused);
        assert!(!l.copying("t"));
        l.mirrors
            .get_mut("t")
            .unwrap()
            .set_status(MirrorStatus::Active);
        l.apply(&[set(LINK_PAUSED, "true")]).unwrap();
        assert!(!l.copying("t"));
    }

    #[test]
    fn a_failed_mirror_keeps_its_first_reason() {
        let mut m = Mirror::new("t".into(), "t".into(), 1);
        m.fail("ILLEGAL_STATE", "first".into());
        m.fail("UNEXPECTED_TRUNCATION", "second".into());
        assert_eq!(m.status, MirrorStatus::Failed);
        assert_eq!(m.failure.as_ref().unwrap().message, "first");
    }
}
