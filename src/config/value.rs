//! One raw setting and where it came from: a key of a TOML table or a `CUTOVER_*` variable
//! that overrides it, read as text, a bounded whole number, a duration, or the value of the
//! variable a `*-env` key names. Every mistake becomes a problem naming the key or variable.

use std::time::Duration;

use toml::{Table, Value};

use super::load::Env;
use super::problems::{a, Problems};

/// A raw setting and where it came from (`[link] timeout`, `CUTOVER_LINK_TIMEOUT`), so that a
/// problem names the place to fix.
pub(super) struct Setting {
    pub(super) value: String,
    pub(super) from: String,
    pub(super) in_file: bool,
}

/// A non-empty environment variable.
pub(super) fn env_value<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// The setting `key` of `section`, overridden by the variable `var`. Integers are accepted as
/// text (for `retries`); other non-string values are a problem.
pub(super) fn setting(
    table: &Table,
    section: &str,
    key: &str,
    var: Option<&str>,
    env: &Env,
    problems: &mut Problems,
) -> Option<Setting> {
    if let Some(var) = var {
        if let Some(value) = env_value(env, var) {
            return Some(Setting {
                value: value.to_string(),
                from: var.to_string(),
                in_file: false,
            });
        }
    }
    let value = match table.get(key)? {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        other => {
            problems.push(format!(
                "{section} {key}: expected a string, found {}",
                a(other.type_str())
            ));
            return None;
        }
    };
    Some(Setting {
        value,
        from: format!("{section} {key}"),
        in_file: true,
    })
}

/// The value of the variable a `*-env` setting names; a problem naming both when it is unset.
/// Every `*-env`, `env-from` and `headers-env` key reads its variable here, so that no hook
/// inherits it: it holds a secret.
pub(super) fn indirect(
    env: &Env,
    from: &str,
    var: &str,
    problems: &mut Problems,
) -> Option<String> {
    crate::hooks::withhold_variable(var);
    match env_value(env, var) {
        Some(v) => Some(v.to_string()),
        None => {
            problems.push(format!(
                "{from} names the environment variable {var}, which is not set"
            ));
            None
        }
    }
}

/// A whole number from `min` to `max`; a problem naming `what` otherwise.
pub(super) fn bounded(
    s: &Setting,
    min: u32,
    max: u32,
    what: &str,
    problems: &mut Problems,
) -> Option<u32> {
    match s.value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(format!(
                "{}: \"{}\" is not {what} from {min} to {max}",
                s.from, s.value
            ));
            None
        }
    }
}

pub(super) fn positive_duration(s: &Setting, problems: &mut Problems) -> Option<Duration> {
    match crate::duration::parse(&s.value) {
        Ok(d) if d.is_zero() => {
            problems.push(format!("{}: must be more than zero", s.from));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(format!("{}: {e}", s.from));
            None
        }
    }
}
