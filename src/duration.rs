//! Durations as people write them (`cutover.toml`, `CUTOVER_*` variables, command-line options,
//! scenario files) and as progress text shows them.
//!
//! [`parse()`] reads one whole number and one unit, `ms`, `s`, `m` or `h` (`1500ms`, `10s`, `5m`,
//! `1h`), at most [`MAX`] (100 years); the `humantime` crate does the arithmetic and its
//! overflow check. humantime on its own reads more than that, and we refuse the rest on purpose
//! (the `parses_durations` test pins it): fractions (`1.5s`), days, weeks, months and years (`5d`, `2w`, `5M`, `1y`), and sums
//! (`1h 30m`). A unit that differs from minutes only by its case (`M` is months) would turn a
//! typo in a timeout into months of waiting, and one small grammar is easy to document and to
//! check by eye. [`format()`] is humantime's, cut to whole seconds (or whole milliseconds under a
//! second), for people to read: a two-part result such as `1m 30s` is not something [`parse()`]
//! reads back.
//!
//! It knows nothing of where a text came from: callers put the setting's name in front of the
//! error, which names the text and gives an example. It must not log.

use std::time::Duration;

/// How to write a duration, repeated in every error.
const HINT: &str = "write a whole number and a unit: \"1500ms\", \"10s\", \"5m\" or \"1h\"";

/// The units [`parse()`] accepts (humantime reads each the same way).
const UNITS: &[&str] = &["ms", "s", "m", "h"];

/// The longest duration [`parse()`] accepts: 100 years, far beyond any timeout or wait, and
/// short enough that its milliseconds, multiplied by a factor and added to a clock's, never
/// overflow (a sync interval of 2562047788015h overflowed the sync deadline's arithmetic).
pub const MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a duration written as a whole number and a unit: `1500ms`, `10s`, `5m`, `1h`.
/// Whitespace around the text and between the number and the unit is ignored.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let unit = s[digits..].trim();
    if digits == 0 {
        return Err(format!("\"{text}\" is not a duration: {HINT}"));
    }
    if unit.is_empty() {
        return Err(format!("\"{text}\" has no unit: {HINT}"));
    }
    if !UNITS.contains(&unit) {
        return Err(format!("\"{text}\" has an unknown unit \"{unit}\": {HINT}"));
    }
    let too_long = || {
        format!(
            "\"{text}\" is too long a duration: at most {}h (100 years)",
            MAX.as_secs() / 3600
        )
    };
    match humantime::parse_duration(s) {
        Ok(d) if d > MAX => Err(too_long()),
        Ok(d) => Ok(d),
        Err(humantime::DurationError::NumberOverflow) => Err(too_long()),
        // A whole number and one known unit leave humantime nothing else to refuse; should
        // that change, its words still name the text.
        Err(other) => Err(format!("\"{text}\" is not a duration ({other}): {HINT}")),
    }
}

/// A duration for people to read in progress and log text: whole seconds from one second up
/// (`4m 59s`, `1h 5m`), whole milliseconds below (`500ms`, `0s`).
pub fn format(duration: Duration) -> String {
    let shown = if duration >= Duration::from_secs(1) {
        Duration::from_secs(duration.as_secs())
    } else {
        Duration::from_millis(u64::from(duration.subsec_millis()))
    };
    humantime::format_duration(shown).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let good = [
            ("1500ms", Duration::from_millis(1500)),
            ("10s", Duration::from_secs(10)),
            (" 5m ", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("0s", Duration::ZERO),
            ("2 s", Duration::from_secs(2)),
        ];
        let good = good
            .into_iter()
            .chain([("876000h", MAX), ("3153600000000ms", MAX)]);
        for (text, expected) in good {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
        let bad = [
            ("", "is not a duration"),
            ("10", "has no unit"),
            ("-5s", "is not a duration"),
            ("1.5s", "unknown unit \".5s\""),
            ("5d", "unknown unit \"d\""),
            ("ms", "is not a duration"),
            ("99999999999999999999s", "too long"),
            ("9999999999999999999h", "too long"),
            // Read, but beyond what a deadline's arithmetic holds.
            (
                "2562047788015h",
                "too long a duration: at most 876000h (100 years)",
            ),
            ("876001h", "at most 876000h"),
        ];
        for (text, needle) in bad {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_what_humantime_alone_would_read() {
        for text in ["5M", "2w", "1y", "1h 30m", "1h30m", "5min", "10us"] {
            assert!(humantime::parse_duration(text).is_ok(), "{text}");
            let err = parse(text).unwrap_err();
            assert!(
                err.contains("unknown unit") && err.contains("\"5m\""),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn formats_for_people_in_whole_seconds_or_milliseconds() {
        let cases = [
            (Duration::from_millis(299_999), "4m 59s"),
            (Duration::from_nanos(299_999_873_012), "4m 59s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(90), "1m 30s"),
            (Duration::from_secs(3900), "1h 5m"),
            (Duration::from_millis(2500), "2s"),
            (Duration::from_micros(500_700), "500ms"),
            (Duration::ZERO, "0s"),
        ];
        for (duration, expected) in cases {
            assert_eq!(format(duration), expected, "{duration:?}");
        }
        for text in ["500ms", "10s", "5m", "1h"] {
            let d = parse(text).expect("valid");
            assert_eq!(parse(&format(d)), Ok(d), "{text}");
        }
    }
}
