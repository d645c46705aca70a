//! Generated and mutated Java `.properties` text and JAAS lines: what Java would write (every
//! escape, `\uXXXX` and surrogate pairs, continuations, CRLF) reads back as written; a cut,
//! salted or arbitrary text gives properties or an error naming its line, never a panic; a
//! JAAS problem never repeats the password.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::java_properties::translate_java;
use super::properties_file::parse_properties;
use crate::proptest_support::{char_boundary, config};

/// One character as a `.properties` file may write it; `leading` escapes a space (a key's
/// spaces are always escaped, a value's only at its start).
fn escaped(c: char, in_key: bool, leading: bool, as_unicode: bool) -> String {
    match c {
        '\\' => "\\\\".into(),
        '\t' => "\\t".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\x0c' => "\\f".into(),
        ' ' if in_key || leading => "\\ ".into(),
        // A value's leading `=` or `:` would be read as the separator.
        '=' | ':' if in_key || leading => format!("\\{c}"),
        '#' | '!' if in_key && leading => format!("\\{c}"),
        c if c.is_control() || (as_unicode && !c.is_ascii()) => {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|u| format!("\\u{u:04X}"))
                .collect()
        }
        c => c.to_string(),
    }
}

/// The pieces of an escaped key or value; a continuation may go before any piece that does
/// not start with whitespace (the next line's leading whitespace is skipped).
fn pieces(text: &str, in_key: bool, as_unicode: bool) -> Vec<String> {
    text.chars()
        .enumerate()
        .map(|(i, c)| escaped(c, in_key, i == 0, as_unicode))
        .collect()
}

#[derive(Debug, Clone)]
struct Style {
    separator: &'static str,
    as_unicode: bool,
    crlf: bool,
    /// Where to break values with a continuation, as fractions of their length.
    breaks: Vec<prop::sample::Index>,
    indent: &'static str,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::sample::select(vec!["=", ":", " ", " = ", "\t:\t", "  "]),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        prop::sample::select(vec!["", " ", "\t  "]),
    )
        .prop_map(|(separator, as_unicode, crlf, breaks, indent)| Style {
            separator,
            as_unicode,
            crlf,
            breaks,
            indent,
        })
}

fn write(pairs: &[(String, String)], style: &Style) -> String {
    let newline = if style.crlf { "\r\n" } else { "\n" };
    let mut out = format!("# written by a test{newline}!{newline}{newline}");
    for (key, value) in pairs {
        let mut value_pieces = pieces(value, false, style.as_unicode);
        for b in &style.breaks {
            if value_pieces.is_empty() {
                break;
            }
            let at = b.index(value_pieces.len());
            if !value_pieces[at].starts_with([' ', '\t']) {
                value_pieces[at].insert_str(0, &format!("\\{newline}{}", style.indent));
            }
        }
        out.push_str(style.indent);
        out.extend(pieces(key, true, style.as_unicode));
        out.push_str(style.separator);
        out.extend(value_pieces);
        out.push_str(newline);
    }
    out
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9.]{0,20}", "\\PC{1,8}", any::<String>()]
        .prop_filter("a key", |k| !k.is_empty())
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,30}", "\\PC{0,12}", any::<String>()]
}

fn plain_module() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        "org.apache.kafka.common.security.scram.ScramLoginModule",
    ])
}

/// A JAAS option's value as written: quoted with escapes, or bare when it can be.
fn jaas_value(v: &str, quote: bool) -> String {
    let bare = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '=' | ';' | '"' | '\\'));
    if bare && !quote {
        v.to_string()
    } else {
        let mut out = String::from("\"");
        for c in v.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn what_java_writes_reads_back_as_written(
        pairs in prop::collection::vec((key(), value()), 0..8),
        style in style(),
    ) {
        let text = write(&pairs, &style);
        // Later keys win, as in Java.
        let expected: BTreeMap<String, String> = pairs.iter().cloned().collect();
        match parse_properties(&text) {
            Ok(read) => prop_assert_eq!(read, expected, "{:?}", text),
            Err(e) => return Err(TestCaseError::fail(format!("{e}: {text:?}"))),
        }
    }

    #[test]
    fn cut_or_salted_text_reads_or_names_its_line(
        pairs in prop::collection::vec((key(), value()), 1..6),
        style in style(),
        at in any::<prop::sample::Index>(),
        salt in prop_oneof![Just(String::new()), "\\\\u[0-9A-Fa-f]{0,3}", "\\\\uD8[0-9A-F]{2}(\\\\u[0-9A-F]{0,4})?", "[\\\\\\n\\r=: ]{1,3}", "\\PC{1,3}"],
        cut in any::<bool>(),
    ) {
        let text = write(&pairs, &style);
        let at = char_boundary(&text, &at);
        let mutated = if cut {
            format!("{}{salt}", &text[..at])
        } else {
            format!("{}{salt}{}", &text[..at], &text[at..])
        };
        if let Err(e) = parse_properties(&mutated) {
            let lines = mutated.split(['\n', '\r']).count();
            let line: Option<usize> = e.strip_prefix("line ").and_then(|r| r.split(':').next()?.parse().ok());
            prop_assert!(line.is_some_and(|l| (1..=lines).contains(&l)), "{}", e);
            prop_assert!(e.ends_with("malformed \\uXXXX escape") || e.ends_with("a property has an empty key"), "{}", e);
        }
    }

    #[test]
    fn any_text_is_properties_or_an_error(text in prop_oneof![any::<String>(), "[\\\\u0-9a-fA-F=:#! \\n\\r\\t]{0,60}"]) {
        let _ = parse_properties(&text);
        let java = BTreeMap::from([("sasl.jaas.config".to_string(), text)]);
        let _ = translate_java(&java, "[origin]");
    }

    #[test]
    fn a_plain_jaas_line_gives_its_username_and_password(
        module in plain_module(),
        flag in prop::sample::select(vec!["required", "requisite", "sufficient", "optional"]),
        username in "\\PC{1,12}",
        password in any::<String>().prop_map(|p| format!("S3CRET{p}")),
        extra in prop::collection::btree_map("[a-zA-Z_]{1,8}", "[ -~]{0,8}", 0..3),
        quote in any::<bool>(),
        spaces in prop::sample::select(vec![" ", "  ", "\n  ", "\t"]),
    ) {
        prop_assume!(!extra.contains_key("username") && !extra.contains_key("password"));
        let mut line = format!("{module}{spaces}{flag}");
        for (k, v) in &extra {
            line.push_str(&format!("{spaces}{k}={}", jaas_value(v, quote)));
        }
        line.push_str(&format!("{spaces}username={}{spaces}password = {};", jaas_value(&username, quote), jaas_value(&password, quote)));
        let java = BTreeMap::from([("sasl.jaas.config".to_string(), line.clone())]);
        let t = translate_java(&java, "[origin]");
        prop_assert!(t.problems.is_empty(), "{:?}", t.problems.iter().map(|p| &p.message).collect::<Vec<_>>());
        prop_assert_eq!(t.properties.get("sasl.username"), Some(&username));
        prop_assert_eq!(t.properties.get("sasl.password"), Some(&password));

        // Cut short anywhere after the module, a problem never repeats the password.
        for cut in line.char_indices().map(|(i, _)| i).filter(|i| *i > module.len()).step_by(3) {
            let java = BTreeMap::from([("sasl.jaas.config".to_string(), line[..cut].to_string())]);
            for p in translate_java(&java, "[origin]").problems {
                prop_assert!(p.message.starts_with("sasl.jaas.config"), "{}", p.message);
                prop_assert!(!p.message.contains("S3CRET"), "{}", p.message);
            }
        }
    }
}

#[test]
fn unbalanced_quotes_and_incomplete_escapes_are_problems() {
    for text in [
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u password=\"p\";",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\\",
    ] {
        let java = BTreeMap::from([("sasl.jaas.config".to_string(), text.to_string())]);
        let t = translate_java(&java, "[origin]");
        let messages: Vec<&str> = t.problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("a quote is not closed")),
            "{messages:?}"
        );
        assert!(!t.properties.contains_key("sasl.password"));
    }
    for (text, line) in [
        ("a=\\u", 1),
        ("a=1\nb=\\u00", 2),
        ("a=\\uD83D", 1),
        ("a=\\uD83Dx", 1),
        ("a=\\uD83D\\u0041", 1),
        ("a=\\uDE00", 1),
        ("a=\\uZZZZ", 1),
        ("a=\\u+123", 1),
        ("a=1\\\n  \\u12", 1),
    ] {
        let err = parse_properties(text).unwrap_err();
        assert_eq!(
            err,
            format!("line {line}: malformed \\uXXXX escape"),
            "{text:?}"
        );
    }
}

#[test]
fn huge_properties_text_reads_in_one_pass() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("key.{i} = value \\u00e9 {i}\n"));
    }
    // One logical line continued over 20,000 lines.
    text.push_str("long = ");
    for _ in 0..20_000 {
        text.push_str("part \\\n    ");
    }
    text.push_str("end\n");
    let read = parse_properties(&text).unwrap();
    assert_eq!(read.len(), 20_001);
    assert_eq!(read["key.19999"], "value é 19999");
    assert_eq!(read["long"].len(), "part ".len() * 20_000 + "end".len());
}
