//! Hook templates: the placeholders (`{group}`, `{cluster}`, `{topics}`, `{run_id}`,
//! `{link}`) of an argv, a URL, a header value or a JSON body, how the config checks them, and
//! how one run substitutes them.
//!
//! A value is substituted inside its one argument, percent-encoded in a URL, or as string
//! content in JSON: it never becomes text a shell or a JSON parser reads. This module runs
//! nothing and must not log.

use serde::Serialize;

use super::spec::HookKind;
use crate::model::{GroupId, Role};

/// The values a hook's placeholders and `CUTOVER_*` variables take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookContext {
    pub group: GroupId,
    pub topics: Vec<String>,
    pub run_id: String,
    pub link: String,
    /// The group's topics as named where it restarts, for the restart hook: the link's mirror
    /// topics, which carry the link's prefix when it has one. Empty: the same as `topics`.
    pub restart_topics: Vec<String>,
    /// The cluster the group restarts on: the destination, or the origin on the reverse path
    /// (`cutover group --to origin`). `{cluster}` of the restart and promote hooks.
    pub restart_on: Role,
}

/// The placeholders a hook's argv, URL, header values and body strings may hold.
pub(crate) const PLACEHOLDERS: &[&str] = &["group", "cluster", "topics", "run_id", "link"];

/// The variables cutover sets for every exec and shell hook; a hook's `env` cannot set them.
pub(crate) const HOOK_VARIABLES: &[&str] = &[
    "CUTOVER_GROUP",
    "CUTOVER_CLUSTER",
    "CUTOVER_TOPICS",
    "CUTOVER_RUN_ID",
    "CUTOVER_LINK",
    "CUTOVER_HOOK",
];

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into text and placeholders. A placeholder is `{name}` with a name of
/// letters, digits, `_` or `-`; `{{name}}` is the literal text `{name}`; every other brace is
/// literal, so JSON or shell braces in an argument need no escaping.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let bytes = template.as_bytes();
    let name_len = |from: usize| {
        bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count()
    };
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        // The indices below only ever stop on ASCII bytes, so every slice is on a char boundary.
        let escaped = bytes.get(i + 1) == Some(&b'{');
        let name_start = if escaped { i + 2 } else { i + 1 };
        let n = name_len(name_start);
        let close = name_start + n;
        let closed = if escaped {
            bytes.get(close..close + 2) == Some(b"}}".as_slice())
        } else {
            bytes.get(close) == Some(&b'}')
        };
        if n == 0 || !closed {
            i += 1;
            continue;
        }
        if text_start < i {
            out.push(Piece::Text(&template[text_start..i]));
        }
        if escaped {
            out.push(Piece::Text(&template[i + 1..close + 1]));
            i = close + 2;
        } else {
            out.push(Piece::Placeholder(&template[name_start..close]));
            i = close + 1;
        }
        text_start = i;
    }
    if text_start < bytes.len() {
        out.push(Piece::Text(&template[text_start..]));
    }
    out
}

/// The placeholders of a template that are not in [`PLACEHOLDERS`].
pub(crate) fn unknown_placeholders(template: &str) -> Vec<String> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) if !PLACEHOLDERS.contains(&name) => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// Whether a template holds any placeholder, known or not.
pub(crate) fn has_placeholder(template: &str) -> bool {
    pieces(template)
        .iter()
        .any(|p| matches!(p, Piece::Placeholder(_)))
}

/// The known placeholders written in a shell script as if they would be substituted (`{group}`,
/// not the shell's own `${group}`). They never are: a config holding one is refused, so an
/// operator does not believe a value reaches the script that way.
pub(crate) fn placeholders_in_shell_text(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_dollar = false;
    for piece in pieces(script) {
        match piece {
            Piece::Text(text) => after_dollar = text.ends_with('$'),
            Piece::Placeholder(name) => {
                if !after_dollar && PLACEHOLDERS.contains(&name) {
                    out.push(name.to_string());
                }
                after_dollar = false;
            }
        }
    }
    out
}

/// The template with every placeholder replaced by a harmless sample value, to check what the
/// template's own text makes of a URL or a header.
pub(crate) fn with_sample_values(template: &str) -> String {
    pieces(template)
        .into_iter()
        .map(|p| match p {
            Piece::Text(text) => text,
            Piece::Placeholder(_) => "x",
        })
        .collect()
}

/// The variable that carries a placeholder's value.
pub(crate) fn placeholder_variable(name: &str) -> String {
    format!("CUTOVER_{}", name.to_ascii_uppercase())
}

/// How a value is written into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// As it is: an argv element or a JSON string is one value, whatever it holds.
    Verbatim,
    /// Percent-encoded, every byte but RFC 3986's unreserved ones: a `/`, `?`, `#` or `&` in a
    /// group id cannot change which resource the URL names.
    Url,
}

/// The values of one hook run.
pub(super) struct Values<'a> {
    kind: HookKind,
    group: &'a str,
    topics: String,
    run_id: &'a str,
    link: &'a str,
    restart_on: Role,
}

impl<'a> Values<'a> {
    pub(super) fn new(kind: HookKind, ctx: &'a HookContext) -> Self {
        Values {
            kind,
            group: ctx.group.as_str(),
            topics: match kind {
                HookKind::Restart if !ctx.restart_topics.is_empty() => ctx.restart_topics.join(","),
                _ => ctx.topics.join(","),
            },
            run_id: &ctx.run_id,
            link: &ctx.link,
            restart_on: ctx.restart_on,
        }
    }

    fn cluster(&self) -> &'static str {
        let on = match self.kind.cluster() {
            Role::Origin => Role::Origin,
            Role::Destination => self.restart_on,
        };
        match on {
            Role::Origin => "origin",
            Role::Destination => "destination",
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "group" => Some(self.group),
            "cluster" => Some(self.cluster()),
            "topics" => Some(&self.topics),
            "run_id" => Some(self.run_id),
            "link" => Some(self.link),
            _ => None,
        }
    }

    /// The `CUTOVER_*` variables (see [`HOOK_VARIABLES`]).
    pub(super) fn variables(&self) -> [(&'static str, &str); 6] {
        [
            ("CUTOVER_GROUP", self.group),
            ("CUTOVER_CLUSTER", self.cluster()),
            ("CUTOVER_TOPICS", &self.topics),
            ("CUTOVER_RUN_ID", self.run_id),
            ("CUTOVER_LINK", self.link),
            ("CUTOVER_HOOK", self.kind.as_str()),
        ]
    }
}

/// Substitutes the placeholders of `template`. An unknown placeholder (which a loaded config
/// cannot hold) stays as written.
pub(super) fn substitute(template: &str, values: &Values<'_>, encoding: Encoding) -> String {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => match values.get(name) {
                Some(value) if encoding == Encoding::Url => out.push_str(&percent_encode(value)),
                Some(value) => out.push_str(value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Substitutes the placeholders in every string of a JSON body (not in its keys). The values
/// become string content, which `serde_json` escapes when the body is written.
pub(super) fn substitute_json(value: &serde_json::Value, values: &Values<'_>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(substitute(s, values, Encoding::Verbatim)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_json(item, values))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A JSON string literal: how `describe` quotes an argument, unambiguous whatever it holds.
pub(super) fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::testing::ctx;

    #[test]
    fn the_restart_hook_names_the_mirrors_it_reads_and_the_cluster_it_restarts_on() {
        let mut context = ctx("g");
        context.restart_topics = vec!["dst.orders".into(), "dst.payments".into()];
        context.restart_on = Role::Origin;
        let restart = Values::new(HookKind::Restart, &context);
        let stop = Values::new(HookKind::Stop, &context);
        let text = |v: &Values<'_>| substitute("{cluster} {topics}", v, Encoding::Verbatim);
        assert_eq!(text(&restart), "origin dst.orders,dst.payments");
        assert_eq!(text(&stop), "origin orders,payments");
        assert!(restart
            .variables()
            .contains(&("CUTOVER_TOPICS", "dst.orders,dst.payments")));
    }

    #[test]
    fn substitutes_known_placeholders_and_leaves_other_braces_alone() {
        let context = ctx("g");
        let stop = Values::new(HookKind::Stop, &context);
        let restart = Values::new(HookKind::Restart, &context);
        let cases = [
            ("deploy/{group}", "deploy/g"),
            (
                "{group}-{cluster}-{topics}-{run_id}-{link}",
                "g-origin-orders,payments-run-7-migration-link",
            ),
            ("{{group}}", "{group}"),
            (r#"{"a":{"b":1}}"#, r#"{"a":{"b":1}}"#),
            ("{a,b} {} { group } {group", "{a,b} {} { group } {group"),
            ("${group}", "$g"),
            ("{grop}", "{grop}"),
            ("é{group}ü", "égü"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                substitute(template, &stop, Encoding::Verbatim),
                expected,
                "{template}"
            );
        }
        assert_eq!(
            substitute("{cluster}", &restart, Encoding::Verbatim),
            "destination"
        );
        assert_eq!(
            unknown_placeholders("a {grop} {group} {x-1} {{y}} {z"),
            vec!["grop", "x-1"]
        );
        assert_eq!(
            placeholders_in_shell_text(r#"echo {group} "${group}" {{link}} {nope} {run_id}"#),
            vec!["group", "run_id"]
        );
        assert_eq!(
            percent_encode("a/b c?d&e#f%~._-"),
            "a%2Fb%20c%3Fd%26e%23f%25~._-"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
