//! `[hooks]` and `[groups."<group id>".hooks]`: parses each hook table into a
//! [`HookConfig`] (the spec types live in `crate::hooks`; this file only reads them), checking
//! every key, the one action (`exec`, `shell`, `http` via `http_hook.rs`, or `builtin`), the
//! bounds, the variables, and every placeholder: an unknown one is a problem, and so is one
//! where a value would be read as code or choose what runs (an exec program, the script of
//! `sh -c`, shell text).
//!
//! `env-from` values are [`Secret`]s, read from cutover's environment here.

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use super::http_hook::http_action;
use super::load::Env;
use super::problems::{a, check_known_keys, Problems};
use super::value::{bounded, indirect, positive_duration, setting};
use crate::hooks::{
    hook_section, toml_key, HookAction, HookConfig, HookKind, HooksConfig, DEFAULT_HOOK_RETRIES,
    DEFAULT_HOOK_TIMEOUT, HOOK_VARIABLES, MAX_HOOK_RETRIES, PLACEHOLDERS,
};
use crate::model::GroupId;
use crate::secret::Secret;

const HOOKS_KEYS: &[&str] = &["stop", "exclude", "restart", "rollback", "promote"];
const HOOK_KEYS: &[&str] = &[
    "exec", "shell", "http", "builtin", "timeout", "retries", "env", "env-from",
];
const HOOK_ACTIONS: &[&str] = &["exec", "shell", "http", "builtin"];
const GROUP_KEYS: &[&str] = &["hooks"];
/// Programs whose `-c` argument is shell text: an exec hook must not put a placeholder there.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];

/// `[hooks]` (the default hook of each kind) and `[groups."<id>".hooks]` (per-group
/// overrides).
pub(super) fn hooks_config(
    hooks: Option<&Table>,
    groups: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> HooksConfig {
    let mut config = HooksConfig::default();
    if let Some(table) = hooks {
        config.defaults = hook_set(table, None, base_dir, env, problems);
    }
    for (id, value) in groups.into_iter().flatten() {
        let section = format!("[groups.{}]", toml_key(id));
        if id.trim().is_empty() {
            problems.push(format!("{section}: a group id cannot be empty"));
            continue;
        }
        let Some(table) = value.as_table() else {
            problems.push(format!(
                "{section} must be a section: write {section} or [groups.{}.hooks.stop]",
                toml_key(id)
            ));
            continue;
        };
        check_known_keys(&section, table, GROUP_KEYS, problems);
        let Some(hooks) = table.get("hooks") else {
            continue;
        };
        let group = GroupId::new(id.clone());
        match hooks.as_table() {
            Some(hooks) => {
                let set = hook_set(hooks, Some(&group), base_dir, env, problems);
                if !set.is_empty() {
                    config.groups.insert(group, set);
                }
            }
            None => problems.push(format!(
                "{section} hooks: expected a table ([groups.{}.hooks.stop], ...), found {}",
                toml_key(id),
                a(hooks.type_str())
            )),
        }
    }
    config
}

/// The hooks of one `[hooks]` table, the defaults' (`group` is `None`) or a group's.
fn hook_set(
    table: &Table,
    group: Option<&GroupId>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> BTreeMap<HookKind, HookConfig> {
    let section = match group {
        None => "[hooks]".to_string(),
        Some(g) => format!("[groups.{}.hooks]", toml_key(g.as_str())),
    };
    check_known_keys(&section, table, HOOKS_KEYS, problems);
    if group.is_some() && table.contains_key("promote") {
        problems.push(format!(
            "{section} promote: promotion is link-wide, not a group's: set [hooks.promote]"
        ));
    }
    let mut out = BTreeMap::new();
    let link_wide = group.is_none().then_some(HookKind::Promote);
    for kind in [
        HookKind::Stop,
        HookKind::Exclude,
        HookKind::Restart,
        HookKind::Rollback,
    ]
    .into_iter()
    .chain(link_wide)
    {
        let Some(value) = table.get(kind.as_str()) else {
            continue;
        };
        let key = hook_section(group, kind);
        let hook = match value {
            Value::Table(t) => hook_config(kind, t, &key, base_dir, env, problems),
            // The shorthand `[hooks] exclude = "link"`.
            Value::String(s) if kind == HookKind::Exclude && s == "link" => Some(HookConfig {
                key,
                action: HookAction::BuiltinLink,
                timeout: DEFAULT_HOOK_TIMEOUT,
                retries: 0,
                env: BTreeMap::new(),
                secret_env: BTreeMap::new(),
            }),
            Value::String(s) if kind == HookKind::Exclude => {
                problems.push(format!(
                    "{section} exclude: \"{s}\" is not a hook: write exclude = \"link\" for the built-in link action, or configure {key}"
                ));
                None
            }
            other => {
                problems.push(format!(
                    "{section} {}: expected a table ({key}), found {}",
                    kind.as_str(),
                    a(other.type_str())
                ));
                None
            }
        };
        if let Some(hook) = hook {
            out.insert(kind, hook);
        }
    }
    out
}

/// A runbook stage's own hook table (`hook = { exec = [...] }`), checked as a config hook is:
/// `key` names it in the problems; `base_dir` is the runbook's folder; `env` gives `env-from`.
pub fn stage_hook(
    table: &Table,
    key: &str,
    base_dir: &Path,
    env: &Env,
) -> std::result::Result<HookConfig, Vec<String>> {
    let mut problems = Problems::default();
    let hook = hook_config(HookKind::Stage, table, key, base_dir, env, &mut problems);
    match hook {
        Some(hook) if problems.0.is_empty() => Ok(hook),
        _ => Err(problems.0),
    }
}

/// One hook's table. Every key is checked even when the action is already known to be bad,
/// so that one round of fixes is enough.
fn hook_config(
    kind: HookKind,
    table: &Table,
    key: &str,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> Option<HookConfig> {
    check_known_keys(key, table, HOOK_KEYS, problems);
    let choices = if kind == HookKind::Exclude {
        "exec, shell, http or builtin"
    } else {
        "exec, shell or http"
    };
    let present: Vec<&str> = HOOK_ACTIONS
        .iter()
        .copied()
        .filter(|k| table.contains_key(*k))
        .collect();
    let mut action = None;
    for name in &present {
        let value = &table[*name];
        let parsed = match *name {
            "exec" => exec_action(value, key, problems),
            "shell" => shell_action(value, key, problems),
            "http" => http_action(value, key, base_dir, env, problems),
            _ => builtin_action(kind, value, key, problems),
        };
        if present.len() == 1 {
            action = parsed;
        }
    }
    match present.as_slice() {
        [] => problems.push(format!("{key}: set one of {choices}")),
        [_] => {}
        many => problems.push(format!(
            "{key}: set only one of {choices} (found {})",
            many.join(" and ")
        )),
    }

    let is_process = present.iter().all(|k| matches!(*k, "exec" | "shell"));
    let is_builtin = present.contains(&"builtin");
    if is_builtin {
        for k in ["timeout", "retries", "env", "env-from"] {
            if table.contains_key(k) {
                problems.push(format!(
                    "{key} {k}: the built-in link action takes no {k} (the link's requests follow [link] timeout and retries): remove it"
                ));
            }
        }
    } else if !is_process {
        for k in ["env", "env-from"] {
            if table.contains_key(k) {
                problems.push(format!(
                    "{key} {k}: only exec and shell hooks get variables: an HTTP hook's secrets go in headers-env"
                ));
            }
        }
    }

    let timeout = setting(table, key, "timeout", None, env, problems)
        .and_then(|s| positive_duration(&s, problems))
        .unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let retries = setting(table, key, "retries", None, env, problems)
        .and_then(|s| bounded(&s, 0, MAX_HOOK_RETRIES, "a number of retries", problems))
        .unwrap_or(DEFAULT_HOOK_RETRIES);
    let mut plain_env = BTreeMap::new();
    for (name, value) in string_table(table, key, "env", problems) {
        let from = format!("{key} env.{}", toml_key(&name));
        if check_variable_name(&name, &from, problems) {
            plain_env.insert(name, value);
        }
    }
    let mut secret_env = BTreeMap::new();
    for (name, var) in string_table(table, key, "env-from", problems) {
        let from = format!("{key} env-from.{}", toml_key(&name));
        if !check_variable_name(&name, &from, problems) {
            continue;
        }
        if plain_env.contains_key(&name) {
            problems.push(format!(
                "{key} sets {name} in both env and env-from: keep one"
            ));
            continue;
        }
        if let Some(value) = indirect(env, &from, &var, problems) {
            secret_env.insert(name, Secret::new(value));
        }
    }

    let action = action?;
    let (timeout, retries) = if action == HookAction::BuiltinLink {
        (DEFAULT_HOOK_TIMEOUT, 0)
    } else {
        (timeout, retries)
    };
    Some(HookConfig {
        key: key.to_string(),
        action,
        timeout,
        retries,
        env: plain_env,
        secret_env,
    })
}

/// A table of strings (`env`, `env-from`, `headers`, `headers-env`): integers and booleans are
/// taken as text, anything else is a problem.
pub(super) fn string_table(
    table: &Table,
    section: &str,
    key: &str,
    problems: &mut Problems,
) -> Vec<(String, String)> {
    let Some(value) = table.get(key) else {
        return Vec::new();
    };
    let Some(entries) = value.as_table() else {
        problems.push(format!(
            "{section} {key}: expected a table ({key} = {{ NAME = \"value\" }}), found {}",
            a(value.type_str())
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in entries {
        match value {
            Value::String(s) => out.push((name.clone(), s.clone())),
            Value::Integer(i) => out.push((name.clone(), i.to_string())),
            Value::Boolean(b) => out.push((name.clone(), b.to_string())),
            other => problems.push(format!(
                "{section} {key}.{}: expected a string, found {}",
                toml_key(name),
                a(other.type_str())
            )),
        }
    }
    out
}

/// Whether `name` can be a hook's variable; a problem otherwise.
fn check_variable_name(name: &str, from: &str, problems: &mut Problems) -> bool {
    if name.is_empty() || name.contains(['=', '\0']) {
        problems.push(format!(
            "{from}: not a variable name (empty, or holding = or NUL)"
        ));
        false
    } else if HOOK_VARIABLES.contains(&name) {
        problems.push(format!(
            "{from}: cutover sets {name} itself, for every hook"
        ));
        false
    } else {
        true
    }
}

/// A problem for each unknown placeholder of a template.
pub(super) fn check_placeholders(text: &str, from: &str, problems: &mut Problems) {
    for name in crate::hooks::unknown_placeholders(text) {
        let known: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
        problems.push(format!(
            "{from}: unknown placeholder {{{name}}} (known: {}; write {{{{{name}}}}} for the text {{{name}}})",
            known.join(", ")
        ));
    }
}

fn exec_action(value: &Value, key: &str, problems: &mut Problems) -> Option<HookAction> {
    let items = match value {
        Value::Array(items) => items,
        Value::String(_) => {
            problems.push(format!(
                "{key} exec: expected an array, found a string: exec is an argv, not a command line; write exec = [\"program\", \"arg\", ...], or shell = \"...\" to ask for a shell"
            ));
            return None;
        }
        other => {
            problems.push(format!(
                "{key} exec: expected an array of strings, found {}",
                a(other.type_str())
            ));
            return None;
        }
    };
    if items.is_empty() {
        problems.push(format!(
            "{key} exec: the argv is empty: give at least the program, exec = [\"program\", \"arg\", ...]"
        ));
        return None;
    }
    let mut argv = Vec::new();
    let mut valid = true;
    for (i, item) in items.iter().enumerate() {
        let from = format!("{key} exec[{i}]");
        match item.as_str() {
            Some(arg) => {
                check_placeholders(arg, &from, problems);
                argv.push(arg.to_string());
            }
            None => {
                problems.push(format!(
                    "{from}: expected a string, found {}",
                    a(item.type_str())
                ));
                valid = false;
            }
        }
    }
    if let Some(program) = argv.first() {
        if program.trim().is_empty() {
            problems.push(format!("{key} exec[0]: the program is empty"));
            valid = false;
        } else if crate::hooks::has_placeholder(program) {
            problems.push(format!(
                "{key} exec[0]: the program cannot hold a placeholder: a group id must never choose what runs"
            ));
            valid = false;
        }
    }
    if let Some(i) = shell_script_index(&argv) {
        if crate::hooks::has_placeholder(&argv[i]) {
            problems.push(format!(
                "{key} exec[{i}]: a placeholder in the script of `{} -c` would be spliced into shell text: pass the value as an argument after the script (\"$1\"), or use shell = \"...\" with \"$CUTOVER_GROUP\"",
                argv[0]
            ));
            valid = false;
        }
    }
    valid.then_some(HookAction::Exec { argv })
}

/// The index of the script in an argv like `["bash", "-ec", "<script>", ...]`.
fn shell_script_index(argv: &[String]) -> Option<usize> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    if !SHELLS.contains(&name) {
        return None;
    }
    // busybox runs the applet named by its first argument.
    let start = if name == "busybox" { 2 } else { 1 };
    let mut saw_c = false;
    for (i, arg) in argv.iter().enumerate().skip(start) {
        match arg.strip_prefix('-') {
            Some(flags) if !flags.starts_with('-') && !flags.is_empty() => {
                saw_c |= flags.contains('c');
            }
            Some(_) => {}
            None => return saw_c.then_some(i),
        }
    }
    None
}

fn shell_action(value: &Value, key: &str, problems: &mut Problems) -> Option<HookAction> {
    let Some(script) = value.as_str() else {
        problems.push(format!(
            "{key} shell: expected a string (the script), found {}",
            a(value.type_str())
        ));
        return None;
    };
    if script.trim().is_empty() {
        problems.push(format!("{key} shell: the script is empty"));
        return None;
    }
    let spliced = crate::hooks::placeholders_in_shell_text(script);
    for name in &spliced {
        problems.push(format!(
            "{key} shell: {{{name}}} is not substituted in shell text (values reach a shell only as variables): write \"${}\"",
            crate::hooks::placeholder_variable(name)
        ));
    }
    spliced.is_empty().then(|| HookAction::Shell {
        script: script.to_string(),
    })
}

fn builtin_action(
    kind: HookKind,
    value: &Value,
    key: &str,
    problems: &mut Problems,
) -> Option<HookAction> {
    if kind != HookKind::Exclude {
        problems.push(format!(
            "{key} builtin: only the exclude hook has a built-in action (builtin = \"link\" in [hooks.exclude])"
        ));
        return None;
    }
    match value.as_str() {
        Some("link") => Some(HookAction::BuiltinLink),
        Some(other) => {
            problems.push(format!(
                "{key} builtin: \"{other}\" is not a built-in: the one built-in is \"link\""
            ));
            None
        }
        None => {
            problems.push(format!(
                "{key} builtin: expected the string \"link\", found {}",
                a(value.type_str())
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::time::Duration;

    use super::super::testing::{assert_problem, env, from_toml, lab_env, problems, TempDir};
    use super::super::{Config, Env};
    use super::*;
    use crate::hooks::testing::ctx;
    use crate::hooks::{ConfiguredHooks, Hooks, HttpHook, BUILTIN_EXCLUDE_DESCRIPTION};

    #[test]
    fn without_hooks_only_the_builtin_exclusion_is_configured() {
        let config = Config::from_sources(None, &lab_env()).expect("valid");
        let group = GroupId::new("g");
        assert_eq!(
            config
                .hooks
                .hook(HookKind::Exclude, &group)
                .map(|h| &h.action),
            Some(&HookAction::BuiltinLink)
        );
        for kind in [HookKind::Stop, HookKind::Restart, HookKind::Rollback] {
            assert!(config.hooks.hook(kind, &group).is_none(), "{kind:?}");
        }
    }

    #[test]
    fn reads_hooks_of_every_type_and_per_group_overrides() {
        let dir = TempDir::new("hooks");
        dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
        let toml_path = dir.write(
            "cutover.toml",
            r#"
            [origin]
            "bootstrap.servers" = "a:9092"
            [destination]
            "bootstrap.servers" = "b:9092"
            [link]
            name = "l"

            [hooks]
            exclude = "link"

            [hooks.stop]
            exec = ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
            timeout = "30s"
            retries = 1
            env = { KUBECONFIG = "/etc/kube/config", REPLICAS = 0 }
            env-from = { TOKEN = "STOP_TOKEN" }

            [hooks.restart]
            shell = 'kubectl --context "$CUTOVER_CLUSTER" scale "deploy/$CUTOVER_GROUP" --replicas=3'

            [hooks.rollback.http]
            method = "put"
            url = "https://deploy.example/groups/{group}/start?run={run_id}"
            headers = { "X-Cutover-Group" = "{group}" }
            headers-env = { Authorization = "DEPLOY_TOKEN" }
            body = { group = "{group}", topics = ["{topics}"], replicas = 3, nested = { on = true } }
            expect-status = 202
            ca-file = "ca.pem"

            [groups."orders app".hooks.stop]
            shell = "echo override"
            retries = 0

            [groups.payments.hooks]
            exclude = { exec = ["/usr/local/bin/exclude", "{group}"] }
            "#,
        );
        let e = env(&[
            ("STOP_TOKEN", "stop-S3CRET"),
            ("DEPLOY_TOKEN", "Bearer deploy-S3CRET"),
        ]);
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        let hooks = &config.hooks;
        assert_eq!(
            hooks.defaults[&HookKind::Stop],
            HookConfig {
                key: "[hooks.stop]".into(),
                action: HookAction::Exec {
                    argv: ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
                        .map(String::from)
                        .to_vec(),
                },
                timeout: Duration::from_secs(30),
                retries: 1,
                env: BTreeMap::from([
                    ("KUBECONFIG".into(), "/etc/kube/config".into()),
                    ("REPLICAS".into(), "0".into()),
                ]),
                secret_env: BTreeMap::from([("TOKEN".into(), Secret::new("stop-S3CRET"))]),
            }
        );
        let restart = &hooks.defaults[&HookKind::Restart];
        assert!(matches!(restart.action, HookAction::Shell { .. }));
        assert_eq!(restart.timeout, DEFAULT_HOOK_TIMEOUT);
        assert_eq!(restart.retries, DEFAULT_HOOK_RETRIES);
        assert_eq!(
            hooks.defaults[&HookKind::Rollback].action,
            HookAction::Http(HttpHook {
                method: "PUT".into(),
                url: "https://deploy.example/groups/{group}/start?run={run_id}".into(),
                headers: BTreeMap::from([("X-Cutover-Group".into(), "{group}".into())]),
                secret_headers: BTreeMap::from([(
                    "Authorization".into(),
                    Secret::new("Bearer deploy-S3CRET")
                )]),
                body: Some(serde_json::json!({
                    "group": "{group}",
                    "topics": ["{topics}"],
                    "replicas": 3,
                    "nested": { "on": true },
                })),
                expect_status: Some(202),
                ca_file: Some(dir.0.join("ca.pem")),
            })
        );
        assert_eq!(
            hooks.defaults[&HookKind::Exclude].action,
            HookAction::BuiltinLink
        );

        let orders = GroupId::new("orders app");
        let payments = GroupId::new("payments");
        let other = GroupId::new("other");
        let stop = hooks.hook(HookKind::Stop, &orders).expect("override");
        assert_eq!(stop.key, "[groups.\"orders app\".hooks.stop]");
        assert_eq!(stop.retries, 0);
        assert_eq!(
            hooks.hook(HookKind::Stop, &other).map(|h| h.key.as_str()),
            Some("[hooks.stop]")
        );
        assert_eq!(
            hooks
                .hook(HookKind::Restart, &orders)
                .map(|h| h.key.as_str()),
            Some("[hooks.restart]"),
            "an override replaces only its own kind"
        );
        assert!(matches!(
            hooks.hook(HookKind::Exclude, &payments).map(|h| &h.action),
            Some(HookAction::Exec { .. })
        ));
        assert_eq!(
            hooks.hook(HookKind::Exclude, &other).map(|h| &h.action),
            Some(&HookAction::BuiltinLink)
        );

        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(debug.contains("KUBECONFIG"), "{debug}");
    }

    #[test]
    fn the_documented_hooks_example_is_a_valid_config() {
        let doc = include_str!("../../docs/configuration.md");
        let section = doc
            .split("## Hooks\n")
            .nth(1)
            .expect("docs/configuration.md has a Hooks section");
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the Hooks section has a TOML example");
        let e = env(&[
            ("STOP_HOOK_TOKEN", "t"),
            ("DEPLOY_TOKEN", "Bearer t"),
            ("CUTOVER_ORIGIN_BOOTSTRAP", "a:9092"),
            ("CUTOVER_DESTINATION_BOOTSTRAP", "b:9092"),
            ("CUTOVER_LINK_NAME", "l"),
        ]);
        let config = from_toml(example, &e).expect("the documented example is valid");
        let kinds: Vec<HookKind> = config.hooks.defaults.keys().copied().collect();
        assert_eq!(
            kinds,
            [
                HookKind::Stop,
                HookKind::Restart,
                HookKind::Rollback,
                HookKind::Promote
            ]
        );
        assert_eq!(config.hooks.groups.len(), 1);
    }

    #[test]
    fn the_documented_full_configuration_is_a_valid_config() {
        let doc = include_str!("../../docs/configuration.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/configuration.md opens with a TOML example");
        let e = env(&[
            ("ORIGIN_PASSWORD", "S3CRET"),
            ("LINK_API_KEY", "key"),
            ("LINK_API_SECRET", "S3CRET"),
        ]);
        let config = from_toml(example, &e).expect("the documented configuration is valid");
        assert_eq!(config.link.name, "migration-link");
        assert_eq!(
            config.cutover.final_offsets,
            crate::model::FinalOffsets::Agent
        );
        assert_eq!(config.cutover.stable_reads, 2);
        assert!(!format!("{config:?}").contains("S3CRET"));
    }

    #[test]
    fn the_readme_configuration_example_is_a_valid_config() {
        let readme = include_str!("../../README.md");
        let example = readme
            .split("## Configuration\n")
            .nth(1)
            .and_then(|section| section.split("```toml\n").nth(1))
            .and_then(|rest| rest.split("```").next())
            .expect("the README's Configuration section has a TOML example");
        let e = env(&[("LINK_API_KEY", "key"), ("LINK_API_SECRET", "S3CRET")]);
        let config = from_toml(example, &e).expect("the README's example is valid");
        assert_eq!(config.link.name, "migration-link");
        assert!(
            config.link.rest_options().is_some(),
            "REST access configured"
        );
        let kinds: Vec<HookKind> = config.hooks.defaults.keys().copied().collect();
        assert_eq!(
            kinds,
            [HookKind::Stop, HookKind::Restart, HookKind::Rollback]
        );
        assert!(!format!("{config:?}").contains("S3CRET"));
    }

    #[test]
    fn hook_problems_are_reported_at_once_with_their_key_path() {
        let text = r#"
            [hooks]
            stop = "kubectl scale"
            colour = "blue"

            [hooks.exclude]
            builtin = "lnk"

            [hooks.restart]
            exec = []
            shel = "x"

            [hooks.rollback]
            exec = ["./rollback", "{grop}"]
            shell = "echo"
            timeout = "10"
            retries = 11
            env = { CUTOVER_GROUP = "x" }
            env-from = { TOKEN = "NOT_SET" }

            [groups."orders app".hooks.stop]
            builtin = "link"

            [groups."orders app".hooks.restart]
            shell = "echo {group}"

            [groups.g2.hooks.restart.http]
            url = "https://{group}.example/x"
            method = "POTS"
            headers-env = { Authorization = "UNSET_TOKEN" }
            expect-status = 700
            body = { a = { b = ["{grop}"] } }
            ca-file = "missing.pem"
            colour = 1

            [groups.g3.hooks.stop]
            exec = ["bash", "-ec", "echo {group}", "{group}"]

            [groups.g3.hooks.restart]
            exec = ["{group}"]

            [groups.g3.hooks.rollback]
            http = { url = "https://h/x" }
            env = { A = "b" }

            [groups.g4.hooks.stop]
            timeout = "5s"

            [groups.g4.hooks.exclude]
            builtin = "link"
            retries = 3

            [groups.g5]
            hook = 1
        "#;
        let err = from_toml(text, &lab_env()).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let p = problems(Err(err));
        let expected = [
            "[hooks] stop: expected a table ([hooks.stop]), found a string",
            "unknown key `colour` in [hooks] (known: stop, exclude, restart, rollback, promote)",
            "[hooks.exclude] builtin: \"lnk\" is not a built-in: the one built-in is \"link\"",
            "unknown key `shel` in [hooks.restart] (known: exec, shell, http, builtin, timeout, retries, env, env-from)",
            "[hooks.restart] exec: the argv is empty: give at least the program",
            "[hooks.rollback] exec[1]: unknown placeholder {grop} (known: {group}, {cluster}, {topics}, {run_id}, {link}; write {{grop}} for the text {grop})",
            "[hooks.rollback]: set only one of exec, shell or http (found exec and shell)",
            "[hooks.rollback] timeout: \"10\" has no unit",
            "[hooks.rollback] retries: \"11\" is not a number of retries from 0 to 10",
            "[hooks.rollback] env.CUTOVER_GROUP: cutover sets CUTOVER_GROUP itself, for every hook",
            "[hooks.rollback] env-from.TOKEN names the environment variable NOT_SET, which is not set",
            "[groups.\"orders app\".hooks.stop] builtin: only the exclude hook has a built-in action",
            "[groups.\"orders app\".hooks.restart] shell: {group} is not substituted in shell text (values reach a shell only as variables): write \"$CUTOVER_GROUP\"",
            "unknown key `colour` in [groups.g2.hooks.restart.http]",
            "[groups.g2.hooks.restart.http] method: \"POTS\" is not an HTTP method",
            "[groups.g2.hooks.restart.http] url: https://{group}.example/x has a placeholder in its host",
            "[groups.g2.hooks.restart.http] headers-env.Authorization names the environment variable UNSET_TOKEN, which is not set",
            "[groups.g2.hooks.restart.http] body.a.b[0]: unknown placeholder {grop}",
            "[groups.g2.hooks.restart.http] expect-status: expected an HTTP status code from 100 to 599, found 700",
            "[groups.g2.hooks.restart.http] ca-file: cannot read /nonexistent/missing.pem",
            "[groups.g3.hooks.stop] exec[2]: a placeholder in the script of `bash -c` would be spliced into shell text",
            "[groups.g3.hooks.restart] exec[0]: the program cannot hold a placeholder",
            "[groups.g3.hooks.rollback] env: only exec and shell hooks get variables",
            "[groups.g4.hooks.stop]: set one of exec, shell or http",
            "[groups.g4.hooks.exclude] retries: the built-in link action takes no retries",
            "unknown key `hook` in [groups.g5] (known: hooks)",
        ];
        for needle in expected {
            assert_problem(&p, needle);
        }
        assert_eq!(p.len(), expected.len(), "{p:#?}");
    }

    #[test]
    fn a_promote_hook_is_link_wide_and_refused_per_group() {
        let c = config(
            r#"
            [hooks.promote]
            exec = ["confluent", "kafka", "mirror", "promote", "{topics}", "--link", "{link}"]
            "#,
        );
        let any = GroupId::new("");
        assert!(matches!(
            c.hooks.hook(HookKind::Promote, &any).map(|h| &h.action),
            Some(HookAction::Exec { argv }) if argv[4] == "{topics}"
        ));
        let p = problems(from_toml(
            r#"
            [groups."orders".hooks.promote]
            exec = ["promote"]
            "#,
            &lab_env(),
        ));
        assert_problem(
            &p,
            "promotion is link-wide, not a group's: set [hooks.promote]",
        );
    }

    fn config(text: &str) -> Config {
        let env: Env = [
            ("CUTOVER_ORIGIN_BOOTSTRAP", "a:9092"),
            ("CUTOVER_DESTINATION_BOOTSTRAP", "b:9092"),
            ("CUTOVER_LINK_NAME", "migration-link"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_sources(Some((text, Path::new("/nonexistent/cutover.toml"))), &env)
            .expect("a valid config")
    }

    #[tokio::test]
    async fn a_groups_own_hook_replaces_the_default_of_its_kind() {
        let config = config(
            r#"
            [hooks.stop]
            exec = ["/bin/echo", "default", "{group}"]

            [groups."orders app".hooks.stop]
            shell = 'printf "override %s" "$CUTOVER_GROUP"'

            [groups."orders app".hooks.exclude]
            exec = ["/bin/echo", "excluded"]
            "#,
        );
        let hooks = ConfiguredHooks::new(&config.hooks);
        let special = ctx("orders app");
        let other = ctx("billing");

        let report = hooks.run(HookKind::Stop, &special).await;
        assert_eq!(report.stdout, "override orders app");
        let report = hooks.run(HookKind::Stop, &other).await;
        assert_eq!(report.stdout, "default billing\n");
        assert_eq!(
            hooks.describe(HookKind::Stop, &other).as_deref(),
            Some(r#"["/bin/echo", "default", "billing"]"#)
        );

        // Exclusion: the built-in unless configured, and the built-in is not run as a hook.
        assert!(hooks.exclude_is_builtin(&other.group));
        assert!(!hooks.exclude_is_builtin(&special.group));
        assert_eq!(
            hooks.describe(HookKind::Exclude, &other).as_deref(),
            Some(BUILTIN_EXCLUDE_DESCRIPTION)
        );
        let report = hooks.run(HookKind::Exclude, &other).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 0);
        assert!(report
            .error
            .unwrap_or_default()
            .contains("is the built-in link action"),);
        let report = hooks.run(HookKind::Exclude, &special).await;
        assert_eq!(report.stdout, "excluded\n");

        // A kind with no hook: nothing to describe, and running it says which key to set.
        assert_eq!(hooks.describe(HookKind::Restart, &special), None);
        let report = hooks.run(HookKind::Restart, &special).await;
        assert!(!report.ok);
        assert_eq!(report.attempts, 0);
        assert_eq!(
            report.error.as_deref(),
            Some(
                r#"no restart hook is configured for group orders app: set [hooks.restart] (or [groups."orders app".hooks.restart] for this group alone) to exec, shell or http"#
            )
        );
    }
}
