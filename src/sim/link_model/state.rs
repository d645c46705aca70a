//! The link as a whole: its identity, its configs with their validation, its mirror topics and
//! its fault knobs, and the rules that change them.
//!
//! Everything here is data plus the rules that change it (config validation, switching a
//! feature off clears its filters, the exclusion of a group). It performs no I/O: the
//! simulator changes it between steps of virtual time, and the lab's emulator reads and changes
//! it under one lock and does its Kafka calls outside it.

use std::collections::BTreeMap;

use super::configs::{
    config_spec, AUTO_CREATE_ENABLE, AUTO_CREATE_FILTERS, GROUP_FILTERS, LINK_PAUSED, LINK_PREFIX,
    SYNC_ENABLE, SYNC_MS, TOPIC_CONFIG_SYNC_MS,
};
use super::faults::{Faults, RestFaults};
use super::filters::{FilterConfig, LinkFilters};
use super::mirror::Mirror;
use super::refusal::Refusal;

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

    /// `consumer.offset.group.filters`, read with the link's own evaluator.
    pub fn group_filters(&self) -> Result<LinkFilters, String> {
        LinkFilters::parse(FilterConfig::Groups, &self.config(GROUP_FILTERS))
    }

    /// `auto.create.mirror.topics.filters`, read with the link's own evaluator.
    pub fn topic_filters(&self) -> Result<LinkFilters, String> {
        LinkFilters::parse(FilterConfig::Topics, &self.config(AUTO_CREATE_FILTERS))
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
                GROUP_FILTERS => LinkFilters::parse(FilterConfig::Groups, value).err(),
                AUTO_CREATE_FILTERS => LinkFilters::parse(FilterConfig::Topics, value).err(),
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
                Some(filters.to_config(FilterConfig::Groups)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::link_model::MirrorStatus;

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
}
