//! Collecting config problems: loading never stops at the first mistake, every problem is
//! pushed here and returned together as `Error::ConfigProblems` (exit code 2), so that an
//! operator fixes a config in one round. Also the words shared by the messages: a TOML type
//! with its article, and the unknown-key check with its "did you mean" suggestion.
//!
//! A problem names the place to fix (`[link] timeout`, `CUTOVER_LINK_TIMEOUT`) and never quotes
//! a secret.

use toml::Table;

/// Every problem found so far, in the order found.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<String>);

impl Problems {
    pub(super) fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
}

/// A TOML type name with its article: "an array", "a table".
pub(super) fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

/// A problem for each key of `table` that is not in `known`, with a suggestion.
pub(super) fn check_known_keys(
    section: &str,
    table: &Table,
    known: &[&str],
    problems: &mut Problems,
) {
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(format!(
                "unknown key `{key}` in {section}{}",
                suggestion(key, known)
            ));
        }
    }
}

/// `: did you mean `rest-url`?` for `rest_url`, else the list of known keys.
pub(super) fn suggestion(key: &str, known: &[&str]) -> String {
    let normal = key.to_ascii_lowercase().replace(['_', '.', ' '], "-");
    match known.iter().find(|k| **k == normal) {
        Some(k) => format!(": did you mean `{k}`?"),
        None => format!(" (known: {})", known.join(", ")),
    }
}
