//! Helpers the crate's property tests share across modules: the configuration they run with,
//! any JSON value, any TOML value around a module's own leaves, and the mutations of a TOML
//! file's lines (a line deleted, duplicated or given another value, a key added, the text cut
//! short or salted) with what a problem about each must name.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::Union;
use serde_json::Value;

/// Runs `cases` cases. A failure is kept as a plain unit test, not as a file beside the source.
pub(crate) fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Whether [`any_json`] generates floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Floats {
    With,
    Without,
}

/// Any JSON value, nested a few levels: null, booleans, integers (`i64` and `u64`), floats
/// when asked, text, arrays and objects.
pub(crate) fn any_json(floats: Floats) -> impl Strategy<Value = Value> {
    let mut leaves = vec![
        Just(Value::Null).boxed(),
        any::<bool>().prop_map(Value::Bool).boxed(),
        any::<i64>().prop_map(Value::from).boxed(),
        any::<u64>().prop_map(Value::from).boxed(),
        any::<String>().prop_map(Value::String).boxed(),
    ];
    if floats == Floats::With {
        leaves.push(any::<f64>().prop_map(Value::from).boxed());
    }
    Union::new(leaves).prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `s` as a TOML string.
pub(crate) fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Any TOML value as written after `key = `: one of `leaf`, or arrays and inline tables of
/// them nested a little.
pub(crate) fn toml_value(
    leaf: impl Strategy<Value = toml::Value> + 'static,
) -> impl Strategy<Value = String> {
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z-]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
    .prop_map(|v| v.to_string())
}

/// The byte offset of one of `text`'s characters, picked by `i`; `text` must not be empty.
pub(crate) fn char_boundary(text: &str, i: &Index) -> usize {
    let cuts: Vec<usize> = text.char_indices().map(|(c, _)| c).collect();
    cuts[i.index(cuts.len())]
}

/// One line of a TOML file that [`mutate`] changes: a table header or a `key = value` pair.
pub(crate) trait TomlLine: Clone {
    /// The line as written, without its line end.
    fn text(&self) -> String;

    /// What one of the problems about this line must name (nothing: it cannot be foretold).
    fn named(&self) -> Vec<String>;

    /// Gives a pair the value written `value`; a header stays as it is.
    fn set_value(&mut self, value: &str);

    /// What one of the problems must name once `lines[i]` is deleted.
    fn named_when_deleted(lines: &[Self], i: usize) -> Vec<String> {
        lines[i].named()
    }

    /// The pair `key = value` to insert after `lines[i]`, and what a problem must name.
    fn inserted(lines: &[Self], i: usize, key: &str, value: &str) -> (Self, Vec<String>);
}

pub(crate) fn render<L: TomlLine>(lines: &[L]) -> String {
    lines.iter().map(|l| l.text() + "\n").collect()
}

#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Delete(Index),
    Duplicate(Index),
    Replace(Index, String),
    Insert(Index, String, String),
    Truncate(Index),
    Salt(Index, String),
}

/// Any mutation; an added key matches the regex `key`, a new value is one of `value`'s.
pub(crate) fn mutation<S>(key: &'static str, value: fn() -> S) -> impl Strategy<Value = Mutation>
where
    S: Strategy<Value = String> + 'static,
{
    let index = any::<Index>;
    prop_oneof![
        index().prop_map(Mutation::Delete),
        index().prop_map(Mutation::Duplicate),
        (index(), value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (index(), key, value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        index().prop_map(Mutation::Truncate),
        (index(), "\\PC{1,3}|[\\[\\]=\"'{}\n#\\\\]").prop_map(|(i, s)| Mutation::Salt(i, s)),
    ]
}

/// Applies the mutation to `lines` (not empty): the text, and what one of its problems must
/// name (nothing for the text-level mutations, whose problems cannot be foretold).
pub(crate) fn mutate<L: TomlLine>(lines: &[L], m: &Mutation) -> (String, Vec<String>) {
    let mut lines = lines.to_vec();
    match m {
        Mutation::Delete(i) => {
            let i = i.index(lines.len());
            let named = L::named_when_deleted(&lines, i);
            lines.remove(i);
            (render(&lines), named)
        }
        Mutation::Duplicate(i) => {
            let i = i.index(lines.len());
            lines.insert(i + 1, lines[i].clone());
            let named = lines[i].named();
            (render(&lines), named)
        }
        Mutation::Replace(i, new) => {
            let i = i.index(lines.len());
            lines[i].set_value(new);
            let named = lines[i].named();
            (render(&lines), named)
        }
        Mutation::Insert(i, key, value) => {
            let i = i.index(lines.len());
            let (line, named) = L::inserted(&lines, i, key, value);
            lines.insert(i + 1, line);
            (render(&lines), named)
        }
        Mutation::Truncate(i) => {
            let text = render(&lines);
            let at = char_boundary(&text, i);
            (text[..at].to_string(), Vec::new())
        }
        Mutation::Salt(i, salt) => {
            let mut text = render(&lines);
            let at = char_boundary(&text, i);
            text.insert_str(at, salt);
            (text, Vec::new())
        }
    }
}
