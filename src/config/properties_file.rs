//! Reads a Java `.properties` file as `java.util.Properties::load` does: `key=value`,
//! `key: value`, `key value`, `#`/`!` comments, a trailing `\` continues a line, `\` escapes
//! including `\uXXXX`. What the keys mean is `java_properties.rs`'s business.
//!
//! Hand-written on purpose, not the `java-properties` crate (2.0.0): on the text of
//! `parses_java_properties_syntax` that crate refuses the whole file at a UTF-16 surrogate pair
//! (`\uD83D\uDE00`, how Java's own tools escape a character beyond U+FFFF), and drops the
//! last property without a word when the file ends in a continuation backslash (`m = end\`).
//! Unlike Java (and that crate), an empty key is a problem here. An error names the line,
//! never a value.

use std::collections::BTreeMap;
use std::path::Path;

use super::load::read_bounded;

/// Reads a `.properties` file. Java reads them as ISO-8859-1; a file that is valid UTF-8 is
/// taken as UTF-8, which is what people write today.
pub(super) fn read_properties_file(
    path: &Path,
) -> std::result::Result<BTreeMap<String, String>, String> {
    let bytes = read_bounded(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect());
    parse_properties(&text)
}

fn is_properties_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Parses the text of a Java `.properties` file as `java.util.Properties::load` does. Later
/// keys win. The error names the line, never a value.
pub(super) fn parse_properties(
    text: &str,
) -> std::result::Result<BTreeMap<String, String>, String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    let mut continuing = false;
    let mut start = 0;
    for (i, natural) in text.split('\n').enumerate() {
        let line = natural.trim_start_matches(is_properties_space);
        if !continuing {
            // Only the first line of a logical line can be blank or a comment.
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            start = i + 1;
        }
        let backslashes = line.chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        let (key, value) = split_property(&logical).map_err(|e| format!("line {start}: {e}"))?;
        out.insert(key, value);
        logical.clear();
    }
    if continuing {
        let (key, value) = split_property(&logical).map_err(|e| format!("line {start}: {e}"))?;
        out.insert(key, value);
    }
    Ok(out)
}

/// Splits a logical line into its unescaped key and value.
fn split_property(line: &str) -> std::result::Result<(String, String), String> {
    let chars: Vec<char> = line.chars().collect();
    let mut key_end = chars.len();
    let mut value_start = chars.len();
    let mut has_separator = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || is_properties_space(c) {
            key_end = i;
            value_start = i + 1;
            has_separator = c == '=' || c == ':';
            break;
        }
        i += 1;
    }
    let mut j = value_start.min(chars.len());
    while j < chars.len() && is_properties_space(chars[j]) {
        j += 1;
    }
    if !has_separator && j < chars.len() && (chars[j] == '=' || chars[j] == ':') {
        j += 1;
        while j < chars.len() && is_properties_space(chars[j]) {
            j += 1;
        }
    }
    let key = unescape(&chars[..key_end.min(chars.len())])?;
    if key.is_empty() {
        return Err("a property has an empty key".into());
    }
    Ok((key, unescape(&chars[j..])?))
}

fn unescape(chars: &[char]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    // Four hex digits exactly: `from_str_radix` alone would also take a sign (`\u+123`).
    let hex4 = |at: usize| -> Option<u32> {
        let digits = chars.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0, |n, c| Some(n * 16 + c.to_digit(16)?))
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&escaped) = chars.get(i) else { break };
        i += 1;
        match escaped {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'u' => {
                let malformed = || "malformed \\uXXXX escape".to_string();
                let unit = hex4(i).ok_or_else(malformed)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    // A UTF-16 surrogate pair, written as two escapes.
                    let low = (chars.get(i) == Some(&'\\') && chars.get(i + 1) == Some(&'u'))
                        .then(|| hex4(i + 2))
                        .flatten()
                        .filter(|low| (0xDC00..0xE000).contains(low))
                        .ok_or_else(malformed)?;
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                out.push(char::from_u32(code).ok_or_else(malformed)?);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_properties_syntax() {
        let text = concat!(
            "# a comment\n",
            "! another comment\n",
            "   \n",
            "a=1\n",
            "b: 2\n",
            "c 3\n",
            "  d   =   spaced value  \n",
            "e = one \\\n",
            "    two \\\n",
            "    three\n",
            "f=tab\\tnew\\nline\\\\ end\n",
            "key\\ with\\:colon\\=eq = v\n",
            "g=\\u00e9\\uD83D\\uDE00\n",
            "h=\n",
            "i\n",
            "j=x\\\\\n",
            "k=#not a comment\n",
            "l=first\\\n",
            "# continued, so not a comment\n",
            "a=last wins\r\n",
            "m = end\\",
        );
        let props = parse_properties(text).expect("parses");
        let expected: BTreeMap<String, String> = [
            ("a", "last wins"),
            ("b", "2"),
            ("c", "3"),
            ("d", "spaced value  "),
            ("e", "one two three"),
            ("f", "tab\tnew\nline\\ end"),
            ("key with:colon=eq", "v"),
            ("g", "é😀"),
            ("h", ""),
            ("i", ""),
            ("j", "x\\"),
            ("k", "#not a comment"),
            ("l", "first# continued, so not a comment"),
            ("m", "end"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(props, expected);
    }

    /// The two cases for which the `java-properties` crate is not used (see the module doc).
    #[test]
    fn reads_a_surrogate_pair_and_a_continuation_at_the_end_of_the_file() {
        let props = parse_properties("emoji=\\uD83D\\uDE00\nlast = end\\").expect("parses");
        assert_eq!(props["emoji"], "😀");
        assert_eq!(props["last"], "end");
    }

    #[test]
    fn malformed_properties_name_the_line() {
        for (text, needle) in [
            ("a=1\nb=\\u12\n", "line 2: malformed \\uXXXX escape"),
            ("a=1\n\n=value\n", "line 3: a property has an empty key"),
            ("x=\\uD800\n", "line 1: malformed"),
            // A sign is not a hex digit.
            ("x=\\u+123\n", "line 1: malformed \\uXXXX escape"),
        ] {
            let err = parse_properties(text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
