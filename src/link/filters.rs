//! The cluster link's filter language: `consumer.offset.group.filters` and
//! `auto.create.mirror.topics.filters`.
//!
//! Both are JSON strings stored in link configs: `{"groupFilters": [...]}` and
//! `{"topicFilters": [...]}`, each entry `{"name", "patternType", "filterType"}`. A name is
//! matched when at least one filter matches it and none of the matching filters is `EXCLUDE`:
//! exclude wins, whatever the order or specificity. `"*"` with `LITERAL` matches everything.
//! No filter (or an empty string) matches nothing. Pattern and filter types are read
//! case-insensitively, as the link does (`docs/reference/cluster-linking.md` §2.2).
//!
//! This is the agent's reading of the filters (its exclusion step, `verify`'s "is this group
//! synced"). The link's side, in the simulator and the lab's emulator, has its own evaluator
//! (`crate::sim::link_model::filters`), written separately on purpose: a mistake here must show
//! up as a failing scenario or real-Kafka test, not be repeated by the link.

use serde::{Deserialize, Serialize};

/// How a filter's name is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatternType {
    Literal,
    Prefixed,
}

/// Whether a matching filter includes or excludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    Include,
    Exclude,
}

/// One filter entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub name: String,
    #[serde(rename = "patternType")]
    pub pattern_type: PatternType,
    #[serde(rename = "filterType")]
    pub filter_type: FilterType,
    /// Keys this version does not know, kept so that an edit writes another writer's entry
    /// back as it was read.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Filter {
    pub fn new(
        name: impl Into<String>,
        pattern_type: PatternType,
        filter_type: FilterType,
    ) -> Self {
        Filter {
            name: name.into(),
            pattern_type,
            filter_type,
            extra: serde_json::Map::new(),
        }
    }

    fn is_literal_exclusion_of(&self, name: &str) -> bool {
        self.name == name
            && self.pattern_type == PatternType::Literal
            && self.filter_type == FilterType::Exclude
    }

    pub fn matches(&self, candidate: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.name == "*" || self.name == candidate,
            PatternType::Prefixed => candidate.starts_with(&self.name),
        }
    }
}

/// Which of the two filter documents a value holds; it names the JSON key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `consumer.offset.group.filters`: `{"groupFilters": [...]}`.
    Group,
    /// `auto.create.mirror.topics.filters`: `{"topicFilters": [...]}`.
    Topic,
}

impl FilterKind {
    fn key(self) -> &'static str {
        match self {
            FilterKind::Group => "groupFilters",
            FilterKind::Topic => "topicFilters",
        }
    }
}

/// A parsed filter document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub filters: Vec<Filter>,
}

/// A filter document that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key} JSON: {reason}")]
pub struct FilterError {
    pub key: &'static str,
    pub reason: String,
}

impl Filters {
    /// Parses a link config value. An empty or blank value is no filters.
    pub fn parse(kind: FilterKind, value: &str) -> Result<Filters, FilterError> {
        let key = kind.key();
        let err = |reason: String| FilterError { key, reason };
        if value.trim().is_empty() {
            return Ok(Filters::default());
        }
        let doc: serde_json::Value = serde_json::from_str(value).map_err(|e| err(e.to_string()))?;
        let Some(entries) = doc.get(key) else {
            return Err(err(format!("missing the \"{key}\" array")));
        };
        let entries = entries
            .as_array()
            .ok_or_else(|| err(format!("\"{key}\" is not an array")))?;
        let filters = entries
            .iter()
            .enumerate()
            .map(|(i, e)| parse_entry(e).map_err(|reason| err(format!("entry {i}: {reason}"))))
            .collect::<Result<_, _>>()?;
        Ok(Filters { filters })
    }

    /// True when the link acts on `name`: some filter matches and no matching filter excludes.
    pub fn includes(&self, name: &str) -> bool {
        let mut matched = false;
        for f in self.filters.iter().filter(|f| f.matches(name)) {
            if f.filter_type == FilterType::Exclude {
                return false;
            }
            matched = true;
        }
        matched
    }

    /// Adds a LITERAL EXCLUDE for `name` (the way cutover excludes a group from the link's
    /// offset sync), unless one is already there. True when the filters changed.
    pub fn exclude_literally(&mut self, name: &str) -> bool {
        if self.filters.iter().any(|f| f.is_literal_exclusion_of(name)) {
            return false;
        }
        self.filters
            .push(Filter::new(name, PatternType::Literal, FilterType::Exclude));
        true
    }

    /// Removes every LITERAL EXCLUDE of `name`, keeping all other filters. True when the
    /// filters changed.
    pub fn remove_literal_exclusion(&mut self, name: &str) -> bool {
        let before = self.filters.len();
        self.filters.retain(|f| !f.is_literal_exclusion_of(name));
        self.filters.len() != before
    }

    /// True when a LITERAL EXCLUDE of `name` is among the filters.
    pub fn has_literal_exclusion(&self, name: &str) -> bool {
        self.filters.iter().any(|f| f.is_literal_exclusion_of(name))
    }

    /// Serialises back into the link config value.
    pub fn to_json(&self, kind: FilterKind) -> String {
        serde_json::json!({ kind.key(): self.filters }).to_string()
    }
}

/// A JSON value's type with its article, for a message (the value itself may be huge).
fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn parse_entry(entry: &serde_json::Value) -> Result<Filter, String> {
    if !entry.is_object() {
        return Err(format!(
            "an entry must be an object {{\"name\", \"patternType\", \"filterType\"}}, not {}",
            json_type(entry)
        ));
    }
    let field = |k: &str| -> Result<&str, String> {
        entry
            .get(k)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("\"{k}\" must be a string"))
    };
    let name = field("name")?.to_string();
    if name.is_empty() {
        return Err("\"name\" is empty".into());
    }
    let pattern_type = match field("patternType")?.to_ascii_uppercase().as_str() {
        "LITERAL" => PatternType::Literal,
        "PREFIXED" => PatternType::Prefixed,
        other => return Err(format!("patternType {other:?} is not LITERAL or PREFIXED")),
    };
    // The link's 2020 code defaulted a missing filterType to include. One of another type is
    // not taken for a missing one: read as an include, an exclusion would be lost.
    let filter_type = match entry.get("filterType") {
        None | Some(serde_json::Value::Null) => FilterType::Include,
        Some(serde_json::Value::String(t)) => match t.to_ascii_uppercase().as_str() {
            "INCLUDE" | "WHITELIST" => FilterType::Include,
            "EXCLUDE" | "BLACKLIST" => FilterType::Exclude,
            other => return Err(format!("filterType {other:?} is not INCLUDE or EXCLUDE")),
        },
        Some(other) => {
            return Err(format!(
                "\"filterType\" must be a string (INCLUDE or EXCLUDE), not {}",
                json_type(other)
            ))
        }
    };
    let extra = entry
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "patternType" | "filterType"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Filter {
        name,
        pattern_type,
        filter_type,
        extra,
    })
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(json: &str) -> Filters {
        Filters::parse(FilterKind::Group, json).expect("valid filters")
    }

    #[test]
    fn inclusion_follows_the_links_rules() {
        let all =
            r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
        let cases: &[(&str, &str, bool)] = &[
            (all, "anything", true),
            ("", "anything", false),
            (r#"{"groupFilters":[]}"#, "anything", false),
            (
                r#"{"groupFilters":[{"name":"pay-","patternType":"PREFIXED","filterType":"INCLUDE"}]}"#,
                "pay-eu",
                true,
            ),
            (
                r#"{"groupFilters":[{"name":"pay-","patternType":"PREFIXED","filterType":"INCLUDE"}]}"#,
                "orders",
                false,
            ),
            // A literal only matches the whole name.
            (
                r#"{"groupFilters":[{"name":"pay","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
                "pay-eu",
                false,
            ),
            // Exclude wins, before or after the include, however specific.
            (
                r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"g1","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#,
                "g1",
                false,
            ),
            (
                r#"{"groupFilters":[{"name":"g","patternType":"PREFIXED","filterType":"EXCLUDE"},{"name":"g1","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
                "g1",
                false,
            ),
            (
                r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"},{"name":"g1","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#,
                "g2",
                true,
            ),
            // Only excludes: nothing is included.
            (
                r#"{"groupFilters":[{"name":"g1","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#,
                "g2",
                false,
            ),
            // Types are case-insensitive; a missing filterType includes.
            (
                r#"{"groupFilters":[{"name":"g","patternType":"prefixed"}]}"#,
                "g9",
                true,
            ),
        ];
        for (json, name, expected) in cases {
            assert_eq!(
                groups(json).includes(name),
                *expected,
                "{name} under {json}"
            );
        }
    }

    #[test]
    fn bad_documents_are_rejected_with_the_reason() {
        let cases = [
            ("not json", "expected"),
            (
                r#"{"topicFilters":[]}"#,
                "missing the \"groupFilters\" array",
            ),
            (r#"{"groupFilters":{}}"#, "is not an array"),
            (
                r#"{"groupFilters":[{"name":"g","patternType":"REGEX","filterType":"INCLUDE"}]}"#,
                "REGEX",
            ),
            (
                r#"{"groupFilters":[{"name":"g","patternType":"LITERAL","filterType":"MAYBE"}]}"#,
                "MAYBE",
            ),
            (
                r#"{"groupFilters":[{"patternType":"LITERAL"}]}"#,
                "\"name\" must be a string",
            ),
            // Read as a missing filterType, this exclusion would have become an include.
            (
                r#"{"groupFilters":[{"name":"g","patternType":"LITERAL","filterType":1}]}"#,
                "entry 0: \"filterType\" must be a string (INCLUDE or EXCLUDE), not a number",
            ),
            (
                r#"{"groupFilters":[{"name":"*","patternType":"LITERAL"},"g"]}"#,
                "entry 1: an entry must be an object",
            ),
        ];
        for (json, reason) in cases {
            let err = Filters::parse(FilterKind::Group, json).expect_err(json);
            assert!(err.to_string().contains(reason), "{json}: {err}");
        }
    }

    #[test]
    fn filters_round_trip_through_the_config_value() {
        let f = Filters {
            filters: vec![
                Filter::new("*", PatternType::Literal, FilterType::Include),
                Filter::new("g1", PatternType::Literal, FilterType::Exclude),
            ],
        };
        let json = f.to_json(FilterKind::Group);
        assert_eq!(
            json,
            r#"{"groupFilters":[{"filterType":"INCLUDE","name":"*","patternType":"LITERAL"},{"filterType":"EXCLUDE","name":"g1","patternType":"LITERAL"}]}"#
        );
        assert_eq!(groups(&json), f);
    }

    #[test]
    fn keys_this_version_does_not_know_survive_a_round_trip() {
        let raw = r#"{"groupFilters":[{"name":"app-","patternType":"PREFIXED","filterType":"INCLUDE","owner":"team-a","since":3}]}"#;
        let mut f = groups(raw);
        assert!(f.exclude_literally("app-orders"));
        let json = f.to_json(FilterKind::Group);
        let back: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(back["groupFilters"][0]["owner"], "team-a");
        assert_eq!(back["groupFilters"][0]["since"], 3);
        assert_eq!(groups(&json), f);
    }

    #[test]
    fn a_literal_exclusion_is_added_once_and_removed_without_touching_the_rest() {
        let mut f = Filters {
            filters: vec![
                Filter::new("app-", PatternType::Prefixed, FilterType::Include),
                Filter::new("app-x", PatternType::Prefixed, FilterType::Exclude),
            ],
        };
        assert!(f.includes("app-1"));
        assert!(f.exclude_literally("app-1"));
        assert!(!f.exclude_literally("app-1"), "added once");
        assert!(!f.includes("app-1") && f.has_literal_exclusion("app-1"));
        assert_eq!(f.filters.len(), 3);
        assert!(f.remove_literal_exclusion("app-1"));
        assert!(!f.remove_literal_exclusion("app-1"));
        assert!(f.includes("app-1"));
        // The prefixed exclusion of someone else is kept.
        assert_eq!(f.filters.len(), 2);
        assert!(!f.includes("app-x1"));
    }
}
