//! The link's own reading of its filter configs, `consumer.offset.group.filters` and
//! `auto.create.mirror.topics.filters`: which names the link acts on.
//!
//! A filter config is a JSON document, `{"groupFilters": [...]}` or `{"topicFilters": [...]}`;
//! each entry is `{"name", "patternType", "filterType"}`. A `LITERAL` pattern matches the
//! whole name (`"*"` matches every name), a `PREFIXED` one every name that starts with it.
//! The link acts on a name when some entry matches it and no matching entry is `EXCLUDE`:
//! exclusion wins whatever the order. No entry (or an empty config) selects nothing. Types are
//! read without regard to case, a missing `filterType` includes, and the old spellings
//! `WHITELIST` and `BLACKLIST` are still accepted, as Confluent's links do.
//!
//! This is deliberately written apart from the agent's `crate::link::filters` and shares no
//! code with it: the simulator and the lab's emulator judge the link's behaviour with this
//! evaluator, so a mistake in the agent's reading of the same filters shows up as a failing
//! scenario or real-Kafka test instead of being mirrored by the link. It must not import
//! anything from `crate::link`.

use serde_json::{json, Map, Value};

/// Which of the two filter configs a document is; it names the document's JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterConfig {
    /// `consumer.offset.group.filters`: `{"groupFilters": [...]}`.
    Groups,
    /// `auto.create.mirror.topics.filters`: `{"topicFilters": [...]}`.
    Topics,
}

impl FilterConfig {
    fn array(self) -> &'static str {
        match self {
            FilterConfig::Groups => "groupFilters",
            FilterConfig::Topics => "topicFilters",
        }
    }
}

/// How a rule's name is compared with a candidate (`patternType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Literal,
    Prefixed,
}

/// What a matching rule does (`filterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Include,
    Exclude,
}

/// One entry of a filter config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub pattern: Pattern,
    pub effect: Effect,
}

impl Rule {
    pub fn new(name: impl Into<String>, pattern: Pattern, effect: Effect) -> Rule {
        Rule {
            name: name.into(),
            pattern,
            effect,
        }
    }

    fn covers(&self, candidate: &str) -> bool {
        match self.pattern {
            Pattern::Literal if self.name == "*" => true,
            Pattern::Literal => candidate == self.name,
            Pattern::Prefixed => candidate
                .get(..self.name.len())
                .is_some_and(|head| head == self.name),
        }
    }

    fn to_value(&self) -> Value {
        // Written in the order the link's documentation lists the fields; serde_json sorts
        // object keys anyway unless its `preserve_order` feature is on.
        json!({
            "name": self.name,
            "patternType": match self.pattern {
                Pattern::Literal => "LITERAL",
                Pattern::Prefixed => "PREFIXED",
            },
            "filterType": match self.effect {
                Effect::Include => "INCLUDE",
                Effect::Exclude => "EXCLUDE",
            },
        })
    }
}

/// A filter config as the link reads it: its rules, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkFilters {
    rules: Vec<Rule>,
}

impl LinkFilters {
    pub fn new(rules: Vec<Rule>) -> LinkFilters {
        LinkFilters { rules }
    }

    /// Reads a config value; a blank value has no rules. The error says what is wrong, naming
    /// the document's array and the entry.
    pub fn parse(config: FilterConfig, text: &str) -> Result<LinkFilters, String> {
        let array = config.array();
        let fail = |why: String| format!("invalid {array} JSON: {why}");
        if text.chars().all(char::is_whitespace) {
            return Ok(LinkFilters::default());
        }
        let document: Value = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
        let entries = match document.as_object().and_then(|o| o.get(array)) {
            None => return Err(fail(format!("missing the \"{array}\" array"))),
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(fail(format!("\"{array}\" is not an array"))),
        };
        let mut rules = Vec::with_capacity(entries.len());
        for (n, entry) in entries.iter().enumerate() {
            let rule = read_rule(entry).map_err(|why| fail(format!("entry {n}: {why}")))?;
            rules.push(rule);
        }
        Ok(LinkFilters { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// True when there is no rule at all (so the link acts on nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True when the link acts on `name`: a rule covers it and no covering rule excludes it.
    pub fn includes(&self, name: &str) -> bool {
        let effects: Vec<Effect> = self
            .rules
            .iter()
            .filter(|r| r.covers(name))
            .map(|r| r.effect)
            .collect();
        !effects.is_empty() && !effects.contains(&Effect::Exclude)
    }

    /// Appends a `LITERAL` `EXCLUDE` of `name` unless that exact rule is already there; true
    /// when a rule was added.
    pub fn exclude_literally(&mut self, name: &str) -> bool {
        let rule = Rule::new(name, Pattern::Literal, Effect::Exclude);
        if self.rules.contains(&rule) {
            return false;
        }
        self.rules.push(rule);
        true
    }

    /// The config value for these rules, in canonical spelling (upper-case types, every
    /// `filterType` written out).
    pub fn to_config(&self, config: FilterConfig) -> String {
        let mut document = Map::new();
        document.insert(
            config.array().to_string(),
            Value::Array(self.rules.iter().map(Rule::to_value).collect()),
        );
        Value::Object(document).to_string()
    }
}

fn read_rule(entry: &Value) -> Result<Rule, String> {
    let Some(fields) = entry.as_object() else {
        return Err("not a JSON object".to_string());
    };
    let text = |key: &str| match fields.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("\"{key}\" must be a string")),
    };
    let name = match text("name")? {
        None => return Err("\"name\" must be a string".to_string()),
        Some("") => return Err("\"name\" is empty".to_string()),
        Some(name) => name,
    };
    let pattern = match text("patternType")? {
        None => return Err("\"patternType\" must be a string".to_string()),
        Some(t) if t.eq_ignore_ascii_case("LITERAL") => Pattern::Literal,
        Some(t) if t.eq_ignore_ascii_case("PREFIXED") => Pattern::Prefixed,
        Some(t) => return Err(format!("patternType {t:?} is not LITERAL or PREFIXED")),
    };
    let effect = match text("filterType")? {
        // Links created before filter types existed included by default.
        None => Effect::Include,
        Some(t)
            if ["INCLUDE", "WHITELIST"]
                .iter()
                .any(|k| t.eq_ignore_ascii_case(k)) =>
        {
            Effect::Include
        }
        Some(t)
            if ["EXCLUDE", "BLACKLIST"]
                .iter()
                .any(|k| t.eq_ignore_ascii_case(k)) =>
        {
            Effect::Exclude
        }
        Some(t) => return Err(format!("filterType {t:?} is not INCLUDE or EXCLUDE")),
    };
    Ok(Rule::new(name, pattern, effect))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, pattern: &str, filter: &str) -> String {
        format!(r#"{{"name":"{name}","patternType":"{pattern}","filterType":"{filter}"}}"#)
    }

    fn groups(entries: &[String]) -> LinkFilters {
        let text = format!(r#"{{"groupFilters":[{}]}}"#, entries.join(","));
        LinkFilters::parse(FilterConfig::Groups, &text).expect("a valid document")
    }

    #[test]
    fn a_name_is_included_when_a_rule_covers_it_and_none_excludes_it() {
        let everything = entry("*", "LITERAL", "INCLUDE");
        let cases: Vec<(Vec<String>, &str, bool)> = vec![
            (vec![everything.clone()], "payments", true),
            (vec![], "payments", false),
            (vec![entry("pay", "PREFIXED", "INCLUDE")], "payments", true),
            (vec![entry("pay", "PREFIXED", "INCLUDE")], "pa", false),
            (vec![entry("pay", "LITERAL", "INCLUDE")], "payments", false),
            (vec![entry("pay", "LITERAL", "INCLUDE")], "pay", true),
            // "*" is a wildcard only as a LITERAL; PREFIXED "*" is a plain prefix.
            (vec![entry("*", "PREFIXED", "INCLUDE")], "payments", false),
            (vec![entry("*", "PREFIXED", "INCLUDE")], "*payments", true),
            // Exclusion wins, written before or after, broader or narrower.
            (
                vec![everything.clone(), entry("payments", "LITERAL", "EXCLUDE")],
                "payments",
                false,
            ),
            (
                vec![entry("payments", "LITERAL", "EXCLUDE"), everything.clone()],
                "payments",
                false,
            ),
            (
                vec![
                    entry("pay", "PREFIXED", "EXCLUDE"),
                    entry("payments", "LITERAL", "INCLUDE"),
                ],
                "payments",
                false,
            ),
            (
                vec![everything.clone(), entry("payments", "LITERAL", "EXCLUDE")],
                "orders",
                true,
            ),
            (
                vec![everything, entry("*", "LITERAL", "EXCLUDE")],
                "orders",
                false,
            ),
            // Exclusions alone include nothing.
            (
                vec![entry("payments", "LITERAL", "EXCLUDE")],
                "orders",
                false,
            ),
            // Types in any case, and the old spellings.
            (vec![entry("pay", "prefixed", "include")], "payments", true),
            (
                vec![entry("pay", "Prefixed", "WHITELIST")],
                "payments",
                true,
            ),
            (
                vec![
                    entry("*", "LITERAL", "INCLUDE"),
                    entry("pay", "PREFIXED", "blacklist"),
                ],
                "payments",
                false,
            ),
        ];
        for (entries, name, expected) in &cases {
            assert_eq!(
                groups(entries).includes(name),
                *expected,
                "{name} under {entries:?}"
            );
        }
    }

    #[test]
    fn blank_configs_have_no_rules_and_include_nothing() {
        for blank in ["", "  ", "\n"] {
            let f = LinkFilters::parse(FilterConfig::Groups, blank).expect("blank is valid");
            assert!(f.is_empty() && !f.includes("g"), "{blank:?}");
        }
        let empty = LinkFilters::parse(FilterConfig::Topics, r#"{"topicFilters":[]}"#)
            .expect("an empty array is valid");
        assert!(empty.is_empty() && !empty.includes("t"));
    }

    #[test]
    fn a_missing_filter_type_includes() {
        let f = LinkFilters::parse(
            FilterConfig::Groups,
            r#"{"groupFilters":[{"name":"app-","patternType":"PREFIXED"}]}"#,
        )
        .expect("valid");
        assert_eq!(
            f.rules(),
            [Rule::new("app-", Pattern::Prefixed, Effect::Include)]
        );
        assert!(f.includes("app-1"));
    }

    #[test]
    fn malformed_configs_are_refused_with_the_reason() {
        let cases = [
            (FilterConfig::Groups, "{nope", "invalid groupFilters JSON"),
            (
                FilterConfig::Groups,
                "[]",
                "missing the \"groupFilters\" array",
            ),
            (
                FilterConfig::Groups,
                r#"{"topicFilters":[]}"#,
                "missing the \"groupFilters\" array",
            ),
            (
                FilterConfig::Topics,
                r#"{"groupFilters":[]}"#,
                "missing the \"topicFilters\" array",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":"*"}"#,
                "is not an array",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":["*"]}"#,
                "entry 0: not a JSON object",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"patternType":"LITERAL"}]}"#,
                "\"name\" must be a string",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"name":"","patternType":"LITERAL"}]}"#,
                "\"name\" is empty",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"name":"g"}]}"#,
                "\"patternType\" must be a string",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"name":"g","patternType":"MATCH"}]}"#,
                "MATCH",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"name":"g","patternType":"LITERAL"},{"name":"h","patternType":"LITERAL","filterType":"DENY"}]}"#,
                "entry 1: filterType \"DENY\"",
            ),
            (
                FilterConfig::Groups,
                r#"{"groupFilters":[{"name":"g","patternType":"LITERAL","filterType":1}]}"#,
                "\"filterType\" must be a string",
            ),
        ];
        for (config, text, reason) in cases {
            let why = LinkFilters::parse(config, text).expect_err(text);
            assert!(why.contains(reason), "{text}: {why}");
        }
    }

    #[test]
    fn the_config_value_is_written_in_canonical_form_and_reads_back_the_same() {
        let f = groups(&[
            entry("*", "literal", "whitelist"),
            entry("app-", "PREFIXED", "EXCLUDE"),
        ]);
        let text = f.to_config(FilterConfig::Groups);
        assert_eq!(
            text,
            r#"{"groupFilters":[{"filterType":"INCLUDE","name":"*","patternType":"LITERAL"},{"filterType":"EXCLUDE","name":"app-","patternType":"PREFIXED"}]}"#
        );
        assert_eq!(LinkFilters::parse(FilterConfig::Groups, &text), Ok(f));
        assert_eq!(
            LinkFilters::default().to_config(FilterConfig::Topics),
            r#"{"topicFilters":[]}"#
        );
    }

    #[test]
    fn a_literal_exclusion_is_added_once_and_keeps_every_other_rule() {
        let mut f = groups(&[
            entry("app-", "PREFIXED", "INCLUDE"),
            entry("app-1", "PREFIXED", "EXCLUDE"),
        ]);
        assert!(f.includes("app-2"));
        assert!(f.exclude_literally("app-2"));
        assert!(
            !f.exclude_literally("app-2"),
            "the same exclusion is not added twice"
        );
        assert!(!f.includes("app-2"));
        assert_eq!(f.rules().len(), 3);
        assert!(f.includes("app-3"));
        assert!(!f.includes("app-10"), "the prefixed exclusion still holds");
    }
}
