//! Secrets never leak (issue 16, point 6). Every secret-bearing setting holds a known value
//! ([`SECRETS`]: inline in `cutover.toml`, through `*-env` variables, as `CUTOVER_*` variables,
//! in a Java `.properties` file, in hooks' `env-from` and `headers-env`, in a runbook's hooks);
//! then every command runs on the lab, succeeding and failing, dry and not, with `-v` and with
//! `CUTOVER_LOG=trace`: verify, audit, watch, group (a whole cutover with a real consumer),
//! promote, run (a runbook), report (every journal, every format), scenario. Its stdout and
//! stderr, every file under the journal folder and what every exec hook received (its
//! environment and argv) are scanned for each value, as written and base64-encoded (alone and
//! as HTTP Basic auth encodes it). A failure names the setting and where its value appeared.
//!
//! A hook is given its own `env-from` secret on purpose: that one variable, in that one hook's
//! environment, is the only place a value may (and must) appear. The hooks print their whole
//! environment too, so the journal's captured output must show `***` there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cutover::model::Role;
use cutover_lab::testkit::testapp::{self, Instances, Partition};
use cutover_lab::testkit::{create_topic, lab, produce, unique, Protocol, Sim};
use serde_json::json;

use super::world::toml_array;

/// Where a secret-bearing setting is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// A section of `cutover.toml`, by its header without brackets (`origin`, `hooks.stop`,
    /// `hooks.promote.http`): one of [`config_sections`].
    Config(&'static str),
    /// A table of the runbook (`dump`: the hook of the stage of that name; `notify.http`: the
    /// HTTP hook of stage `notify`): one of [`runbook_sections`].
    Runbook(&'static str),
    /// The Java `.properties` file of a cluster (`origin`, `destination`), which its section
    /// imports with `properties-file`.
    Properties(&'static str),
    /// Only cutover's environment: a `CUTOVER_*` variable (`var`).
    Environment,
}

/// One secret-bearing setting, set to a value no other setting holds.
#[derive(Debug, Clone, Copy)]
struct SecretSetting {
    /// What a failure calls it.
    name: &'static str,
    value: &'static str,
    at: At,
    /// The line written there: `{value}` stands for the secret, `{var}` for `var`.
    line: &'static str,
    /// The variable of cutover's environment that holds the value (a `*-env` key's variable,
    /// or the `CUTOVER_*` variable itself).
    var: Option<&'static str>,
    /// The hook (the label its exec argv gives the dump script) that gets the value on purpose,
    /// and the variable it gets it in (its own `env-from`).
    given_to: Option<(&'static str, &'static str)>,
    /// Commands fail with it set (the lab's plaintext clients, the link or the configuration
    /// refuse it): it is not in the configuration the lab runs with, but in one of its own
    /// beside it, in which a few commands run and must fail.
    breaks: bool,
}

const fn secret(
    name: &'static str,
    value: &'static str,
    at: At,
    line: &'static str,
    var: Option<&'static str>,
) -> SecretSetting {
    SecretSetting {
        name,
        value,
        at,
        line,
        var,
        given_to: None,
        breaks: false,
    }
}

impl SecretSetting {
    const fn given_to(self, hook: &'static str, variable: &'static str) -> SecretSetting {
        SecretSetting {
            given_to: Some((hook, variable)),
            ..self
        }
    }

    const fn breaks(self) -> SecretSetting {
        SecretSetting {
            breaks: true,
            ..self
        }
    }
}

/// The REST API's user: not a secret, but half of what Basic auth encodes.
const LINK_USER: &str = "svc-cutover-link";
/// The variable `[link] password-env` names: the emulator requires its value.
const LINK_PASSWORD_VAR: &str = "LINK_API_SECRET";

/// Every secret-bearing setting, one line each: a setting added later is one more row (a
/// `[link] token-env` is `secret("[link] token-env", "S3CR3T-…", At::Config("link"),
/// r#"token-env = "{var}""#, Some("LINK_API_TOKEN"))`, with `.breaks()` while the lab's
/// emulator takes only Basic auth).
#[rustfmt::skip]
const SECRETS: &[SecretSetting] = &[
    // [origin], [destination]: librdkafka properties, which the lab's plaintext listeners
    // ignore. Inline, through `*-env` (quoted and as a nested key), as CUTOVER_* variables.
    secret("[origin] sasl.password", "S3CR3T-origin-sasl-7f3a91", At::Config("origin"), r#""sasl.password" = "{value}""#, None),
    secret("[origin] ssl.key.pem", "S3CR3T-origin-keypem-19bd57", At::Config("origin"), r#""ssl.key.pem" = "{value}""#, None),
    secret("[origin] ssl.key.password-env", "S3CR3T-origin-sslkey-c4e802", At::Config("origin"), r#""ssl.key.password-env" = "{var}""#, Some("ORIGIN_SSL_KEY_PASSWORD")),
    secret("CUTOVER_ORIGIN_SSL_KEYSTORE_PASSWORD", "S3CR3T-origin-keystore-e61f04", At::Environment, "", Some("CUTOVER_ORIGIN_SSL_KEYSTORE_PASSWORD")),
    secret("[destination] sasl.oauthbearer.config-env (nested key)", "S3CR3T-dest-oauthcfg-a2d7f8", At::Config("destination"), r#"sasl.oauthbearer.config-env = "{var}""#, Some("DESTINATION_OAUTH_CONFIG")),
    secret("CUTOVER_DESTINATION_SSL_KEYSTORE_PASSWORD", "S3CR3T-dest-keystore-0b9e66", At::Environment, "", Some("CUTOVER_DESTINATION_SSL_KEYSTORE_PASSWORD")),
    // A Java client's .properties file: the JAAS line's password becomes sasl.password.
    secret("destination .properties sasl.jaas.config password", "S3CR3T-dest-jaas-3c81d0", At::Properties("destination"), r#"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="svc-cutover" password="{value}";"#, None),
    secret("destination .properties ssl.key.password", "S3CR3T-dest-sslkey-94f2b1", At::Properties("destination"), "ssl.key.password={value}", None),
    // [link]: the REST API's Basic auth password (the emulator requires it).
    secret("[link] password-env", "S3CR3T-link-basic-6e1c3a", At::Config("link"), r#"password-env = "{var}""#, Some(LINK_PASSWORD_VAR)),
    // [reverse-link]: the way back's Basic auth password (`--to origin`, bidirectional pairs).
    secret("[reverse-link] password-env", "S3CR3T-reverse-basic-5d2e87", At::Config("reverse-link"), r#"password-env = "{var}""#, Some("REVERSE_LINK_SECRET")),
    // Hooks: env-from (exec and shell) and headers-env (HTTP), in cutover.toml and a runbook.
    secret("[hooks.stop] env-from", "S3CR3T-stop-envfrom-d05a7e", At::Config("hooks.stop"), r#"env-from.STOP_TOKEN = "{var}""#, Some("STOP_HOOK_TOKEN")).given_to("stop", "STOP_TOKEN"),
    secret("[hooks.rollback] env-from", "S3CR3T-rollback-envfrom-58b3c2", At::Config("hooks.rollback"), r#"env-from.ROLLBACK_TOKEN = "{var}""#, Some("ROLLBACK_HOOK_TOKEN")),
    secret("[hooks.promote.http] headers-env", "S3CR3T-promote-header-f7e410", At::Config("hooks.promote.http"), r#"headers-env.Authorization = "{var}""#, Some("PROMOTE_TOKEN")),
    secret("runbook hook stage env-from", "S3CR3T-stage-envfrom-2b6d95", At::Runbook("dump"), r#"env-from.STAGE_TOKEN = "{var}""#, Some("STAGE_HOOK_TOKEN")).given_to("stage-dump", "STAGE_TOKEN"),
    secret("runbook HTTP hook stage headers-env", "S3CR3T-stage-header-7a4e19", At::Runbook("notify.http"), r#"headers-env.Authorization = "{var}""#, Some("NOTIFY_TOKEN")),
    // Refused: librdkafka takes no Java JAAS line (its error used to repeat the value); a JAAS
    // login module cutover cannot translate; a REST password the emulator does not accept.
    secret("[origin] sasl.jaas.config (inline)", "S3CR3T-origin-jaas-inline-88c2af", At::Config("origin"), r#""sasl.jaas.config" = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"svc\" password=\"{value}\";""#, None).breaks(),
    secret("origin .properties JAAS with an unknown login module", "S3CR3T-origin-jaas-vault-4d17e3", At::Properties("origin"), r#"sasl.jaas.config=com.example.VaultLoginModule required password="{value}";"#, None).breaks(),
    secret("CUTOVER_LINK_PASSWORD (not the emulator's)", "S3CR3T-link-var-wrong-c9a205", At::Environment, "", Some("CUTOVER_LINK_PASSWORD")).breaks(),
];

/// The value of the setting whose variable is `var`.
fn value_of(var: &str) -> &'static str {
    SECRETS
        .iter()
        .find(|s| s.var == Some(var))
        .unwrap_or_else(|| panic!("no secret setting uses {var}"))
        .value
}

/// What the configurations share: the lab's topic and group, the scripts and the folders.
struct Setup {
    dir: PathBuf,
    journal_dir: PathBuf,
    hook_dir: PathBuf,
    dump: PathBuf,
    topic: String,
    group: String,
    apps: Instances,
    /// The base URL of the HTTP hook's endpoint, which answers with the header it got.
    echo_url: String,
    /// `cutover-lab`'s variables for the lab and this test's emulator.
    lab_env: Vec<(&'static str, String)>,
}

/// The sections of `cutover.toml`, in order, with what they hold besides the secrets.
fn config_sections(s: &Setup) -> Vec<(&'static str, String)> {
    let hook = |label: &str, then: Vec<String>| {
        let mut argv = vec![
            s.dump.display().to_string(),
            label.to_string(),
            "{group}".into(),
            "{run_id}".into(),
            "{topics}".into(),
            "--".into(),
        ];
        argv.extend(then);
        format!("exec = {}\ntimeout = \"40s\"", toml_array(&argv))
    };
    vec![
        ("origin", String::new()),
        ("destination", String::new()),
        (
            "link",
            "username-env = \"LINK_API_KEY\"\ntimeout = \"3s\"\nretries = 0".into(),
        ),
        // The way back: the forward emulator under another name, with a password it refuses
        // (a reverse link only adds pairs; forward commands go on without it).
        (
            "reverse-link",
            format!(
                "name = \"back\"\nrest-url = {}\nusername-env = \"LINK_API_KEY\"\ntimeout = \"3s\"\nretries = 0",
                json!(s
                    .lab_env
                    .iter()
                    .find(|(k, _)| *k == "CUTOVER_LINK_REST_URL")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default())
            ),
        ),
        ("defaults", "poll-interval = \"250ms\"".into()),
        (
            "cutover",
            format!(
                "journal-dir = {}\nstop-timeout = \"30s\"\nmirror-timeout = \"20s\"\n\
                 restart-timeout = \"40s\"\nrestart-window = \"2s\"\nsync-timeout-factor = 4",
                json!(s.journal_dir.display().to_string())
            ),
        ),
        ("hooks.stop", hook("stop", s.apps.stop_argv())),
        (
            "hooks.restart",
            hook(
                "restart",
                s.apps.start_argv(&lab().destination, "destination"),
            ),
        ),
        (
            "hooks.rollback",
            hook("rollback", s.apps.start_argv(&lab().origin, "origin-again")),
        ),
        ("hooks.promote", "retries = 0\ntimeout = \"5s\"".into()),
        // Nothing listens there: the promotion fails at its hook.
        (
            "hooks.promote.http",
            "url = \"http://127.0.0.1:1/promote/{topics}\"".into(),
        ),
    ]
}

/// The runbook's tables, in order: a hook stage that dumps its environment, one that calls the
/// echoing endpoint, one that fails.
fn runbook_sections(s: &Setup) -> Vec<(&'static str, String)> {
    let dump = |label: &str, then: &[&str]| {
        let mut argv = vec![
            s.dump.display().to_string(),
            label.to_string(),
            "{topics}".into(),
            "{run_id}".into(),
            "{link}".into(),
            "--".into(),
        ];
        argv.extend(then.iter().map(|a| a.to_string()));
        toml_array(&argv)
    };
    let topics = toml_array(std::slice::from_ref(&s.topic));
    vec![
        (
            "dump",
            format!(
                "[[stage]]\nkind = \"hook\"\nname = \"dump\"\ntopics = {topics}\n\
                 [stage.hook]\nexec = {}\nretries = 0",
                dump("stage-dump", &[])
            ),
        ),
        (
            "notify.http",
            format!(
                "[[stage]]\nkind = \"hook\"\nname = \"notify\"\n[stage.hook]\nretries = 0\n\
                 [stage.hook.http]\nurl = \"{}/notify/{{run_id}}\"",
                s.echo_url
            ),
        ),
        (
            "fails",
            format!(
                "[[stage]]\nkind = \"hook\"\nname = \"fails\"\n\
                 [stage.hook]\nexec = {}\nretries = 0",
                dump("stage-fails", &["false"])
            ),
        ),
    ]
}

/// One configuration (a `cutover.toml`, a runbook, `.properties` files and the variables) that
/// holds some of the secrets.
struct Set {
    name: String,
    config: PathBuf,
    runbook: PathBuf,
    env: Vec<(String, String)>,
    /// The variables only the runbook names: set for `cutover run` alone (another command
    /// cannot know they hold secrets).
    runbook_env: Vec<(String, String)>,
    secrets: Vec<SecretSetting>,
}

fn line(s: &SecretSetting) -> String {
    s.line
        .replace("{value}", s.value)
        .replace("{var}", s.var.unwrap_or("{var}"))
}

/// Writes `secrets` into a configuration of their own, in `setup.dir/name`.
fn write_set(setup: &Setup, name: &str, secrets: Vec<SecretSetting>) -> Set {
    let dir = setup.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = config_sections(setup);
    let mut runbook = runbook_sections(setup);
    let mut properties: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut env = Vec::new();
    let mut runbook_env = Vec::new();
    for s in &secrets {
        let target = match s.at {
            At::Config(section) => Some((&mut config, section)),
            At::Runbook(section) => Some((&mut runbook, section)),
            At::Properties(role) => {
                properties.entry(role).or_default().push(line(s));
                None
            }
            At::Environment => None,
        };
        if let Some((sections, section)) = target {
            let (_, text) = sections
                .iter_mut()
                .find(|(id, _)| *id == section)
                .unwrap_or_else(|| panic!("{}: no section {section} in the test's files", s.name));
            text.push('\n');
            text.push_str(&line(s));
        }
        if let Some(var) = s.var {
            let vars = match s.at {
                At::Runbook(_) => &mut runbook_env,
                _ => &mut env,
            };
            vars.push((var.to_string(), s.value.to_string()));
        }
    }
    for (role, lines) in &properties {
        let path = dir.join(format!("{role}.properties"));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (_, text) = config.iter_mut().find(|(id, _)| id == role).unwrap();
        text.push_str(&format!(
            "\nproperties-file = {}",
            json!(path.display().to_string())
        ));
    }
    let config_text: String = config
        .iter()
        .map(|(section, text)| format!("[{section}]\n{text}\n\n"))
        .collect();
    let runbook_text: String = runbook
        .iter()
        .map(|(_, text)| format!("{text}\n\n"))
        .collect();
    let config_path = dir.join("cutover.toml");
    let runbook_path = dir.join("runbook.toml");
    std::fs::write(&config_path, config_text).unwrap();
    std::fs::write(&runbook_path, runbook_text).unwrap();
    env.push(("LINK_API_KEY".into(), LINK_USER.into()));
    Set {
        name: name.to_string(),
        config: config_path,
        runbook: runbook_path,
        env,
        runbook_env,
        secrets,
    }
}

/// How a command logs: `-v`, or `-v` and `CUTOVER_LOG=trace` (which wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Log {
    Verbose,
    Trace,
}
use Log::{Trace, Verbose};

/// One run of the `cutover` binary.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// How long one command may run (the cutover itself takes a few seconds).
const LIMIT: Duration = Duration::from_secs(90);

/// Everything cutover wrote or handed on, by where, to be scanned at the end.
struct Evidence<'a> {
    setup: &'a Setup,
    texts: Vec<(String, String)>,
    runs: usize,
}

impl Evidence<'_> {
    fn add(&mut self, place: String, text: String) {
        self.texts.push((place, text));
    }

    /// Runs `cutover -v ARGS…` with `set`'s configuration and variables; keeps its output.
    fn run(&mut self, set: &Set, log: Log, args: &[&str]) -> Ran {
        self.run_with(set, log, args, &[])
    }

    /// The same with `extra` variables.
    fn run_with(&mut self, set: &Set, log: Log, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let setup = self.setup;
        self.runs += 1;
        let n = self.runs;
        let out_dir = setup.dir.join("out");
        std::fs::create_dir_all(&out_dir).unwrap();
        let stdout_path = out_dir.join(format!("{n}.stdout"));
        let stderr_path = out_dir.join(format!("{n}.stderr"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
        cmd.arg("--config")
            .arg(&set.config)
            .arg("-v")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(setup.lab_env.iter().map(|(k, v)| (k, v)))
            .envs(set.env.iter().map(|(k, v)| (k, v)))
            .envs(
                set.runbook_env
                    .iter()
                    .filter(|_| args.contains(&"run"))
                    .map(|(k, v)| (k, v)),
            )
            .envs(extra.iter().copied())
            .current_dir(&setup.dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        if log == Trace {
            cmd.env("CUTOVER_LOG", "trace");
        }
        let what = format!(
            "`cutover -v {}` ({}{}{})",
            args.join(" "),
            set.name,
            if log == Trace {
                ", CUTOVER_LOG=trace"
            } else {
                ""
            },
            extra
                .iter()
                .map(|(k, v)| format!(", {k}={v}"))
                .collect::<String>()
        );
        let mut child = cmd.spawn().expect("run cutover");
        let deadline = Instant::now() + LIMIT;
        let status = tokio::task::block_in_place(|| loop {
            if let Some(status) = child.try_wait().expect("wait for cutover") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} ran longer than {LIMIT:?}:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        });
        let ran = Ran {
            code: status.code(),
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
        };
        eprintln!("secrets: {what}: exit {:?}", ran.code);
        self.add(format!("the stdout of {what}"), ran.stdout.clone());
        self.add(format!("the stderr of {what}"), ran.stderr.clone());
        ran
    }

    /// Every file under `dir`, as `what` (its path relative to `dir` appended).
    fn add_tree(&mut self, what: &str, dir: &Path) {
        for path in files_under(dir) {
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            self.add(format!("{what} {rel}"), read(&path));
        }
    }

    /// Every place a secret appeared, by setting and form.
    fn leaks(&self, secrets: &[SecretSetting]) -> Vec<String> {
        let mut found = Vec::new();
        for s in secrets {
            for (form, needle) in forms(s.value) {
                for (place, text) in &self.texts {
                    if let Some(at) = text.find(&needle) {
                        let start = floor_char(text, at.saturating_sub(80));
                        let end = floor_char(text, (at + needle.len() + 80).min(text.len()));
                        found.push(format!(
                            "{} ({form}) appeared in {place}: …{}…",
                            s.name,
                            &text[start..end]
                        ));
                    }
                }
            }
        }
        found
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A secret as it could appear: as written, base64-encoded (the part that does not depend on
/// what precedes it), and as HTTP Basic auth encodes it with the link's user.
fn forms(value: &str) -> Vec<(&'static str, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let whole = value.len() - value.len() % 3;
    vec![
        ("as written", value.to_string()),
        ("base64", b64.encode(&value.as_bytes()[..whole])),
        ("in Basic auth", b64.encode(format!("{LINK_USER}:{value}"))),
    ]
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The script every exec hook runs: it writes its environment and argv under `hook_dir`
/// (`LABEL.PID.env`, `LABEL.PID.argv`), prints its environment (cutover captures it into the
/// journal and must redact it), then runs what follows `--`.
fn write_dump_script(path: &Path, hook_dir: &Path) {
    let script = format!(
        r#"#!/bin/sh
label=$1
shift
f={dir}/$label.$$
env > "$f.env"
printf '%s\n' "$0" "$label" "$@" > "$f.argv"
env
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
if [ $# -gt 0 ]; then shift; fi
if [ $# -gt 0 ]; then exec "$@"; fi
"#,
        dir = hook_dir.display()
    );
    std::fs::write(path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An HTTP endpoint that answers every request with the Authorization header it got, as a
/// careless service might: the hook's captured answer must show it redacted. Returns its base
/// URL and the headers it got.
async fn echo_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let got = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let got = got.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            got.lock().unwrap().push(auth.clone());
            format!("{{\"you_sent\": \"{auth}\"}}")
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Stops the app however the test ends.
struct AppGuard(Instances);

impl Drop for AppGuard {
    fn drop(&mut self) {
        let _ = self.0.try_stop();
    }
}

/// The emulator (requiring the link's Basic credentials), a mirrored topic and a real consumer
/// group on the origin that has committed what it processed.
async fn lab_world(label: &str) -> (Sim, String, String, Instances) {
    let prefix = unique(label);
    let topic = format!("{prefix}-topic");
    let group = format!("{prefix}-group");
    let filters = json!({ "groupFilters": [
        { "name": prefix, "patternType": "PREFIXED", "filterType": "INCLUDE" }
    ] })
    .to_string();
    let password = value_of(LINK_PASSWORD_VAR);
    let mut sim = Sim::start_with(
        &[
            ("consumer.offset.sync.enable", "true"),
            ("consumer.offset.sync.ms", "1000"),
            ("consumer.offset.group.filters", &filters),
        ],
        Some((LINK_USER, password)),
    )
    .await;
    // The fixture's own REST client authenticates as cutover does.
    let mut headers = reqwest::header::HeaderMap::new();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{LINK_USER}:{password}"));
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {basic}").parse().unwrap(),
    );
    sim.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    create_topic(&lab().origin, &topic, 2).await;
    produce(&lab().origin, &topic, &[(0, 50), (1, 50)]).await;
    sim.create_mirror(&topic).await;
    sim.wait_caught_up(&topic, 2).await;

    let apps = Instances::new(&group, &[&topic], Protocol::Classic, 1);
    apps.start(&lab().origin, "origin");
    let first: BTreeMap<Partition, i64> = (0..2).map(|p| ((topic.clone(), p), 50)).collect();
    testapp::wait_processed(&apps.outs("origin"), &first, Duration::from_secs(30));
    let origin = testapp::lab_cluster(Role::Origin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while testapp::committed(&origin, &group).await != first {
        assert!(
            Instant::now() < deadline,
            "the app never committed {first:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (sim, topic, group, apps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_shows_a_secret_anywhere_or_hands_one_to_a_hook_that_did_not_ask() {
    let started = Instant::now();
    let (sim, topic, group, apps) = lab_world("secrets").await;
    let apps = AppGuard(apps);
    let (echo_url, echoed) = echo_endpoint().await;
    let dir = testapp::scratch_dir("secrets");
    let setup = Setup {
        journal_dir: dir.join("journal"),
        hook_dir: dir.join("hooks"),
        dump: dir.join("dump-hook.sh"),
        dir,
        topic,
        group,
        apps: apps.0.clone(),
        echo_url,
        // The link's credentials come from the configuration's username-env and password-env.
        lab_env: sim
            .cutover_env()
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "CUTOVER_LINK_USERNAME" | "CUTOVER_LINK_PASSWORD"))
            .collect(),
    };
    std::fs::create_dir_all(&setup.hook_dir).unwrap();
    write_dump_script(&setup.dump, &setup.hook_dir);
    let good = write_set(
        &setup,
        "lab",
        SECRETS.iter().filter(|s| !s.breaks).copied().collect(),
    );
    let (g, t) = (setup.group.as_str(), setup.topic.as_str());
    let runbook = good.runbook.display().to_string();
    let runbook = runbook.as_str();
    let mut ev = Evidence {
        setup: &setup,
        texts: Vec::new(),
        runs: 0,
    };

    // Read-only and dry runs, with -v and with CUTOVER_LOG=trace.
    for log in [Verbose, Trace] {
        for args in [
            vec!["verify", g],
            vec!["audit", "--window", "1s"],
            vec!["watch", t, "--deadline", "20s"],
            vec!["group", g, "--dry-run"],
            vec!["promote", t, "--dry-run", "--window", "1s"],
            vec!["run", runbook, "--dry-run"],
        ] {
            let ran = ev.run(&good, log, &args);
            assert!(
                matches!(ran.code, Some(0 | 1)),
                "{args:?} failed with the lab's secrets set:\n{}",
                ran.stderr
            );
        }
    }
    let traced = ev.texts.iter().any(|(_, text)| text.contains(" TRACE "));
    assert!(traced, "CUTOVER_LOG=trace showed no trace line");

    // The cutover itself: the stop and restart hooks run, the link excludes the group over
    // REST with the Basic credentials, the journal records every step.
    let ran = ev.run(&good, Trace, &["group", g]);
    assert_eq!(ran.code, Some(0), "the cutover failed:\n{}", ran.stderr);
    // Refused: the group is on the destination now; a group that does not exist.
    ev.run(&good, Verbose, &["group", g]);
    ev.run(&good, Trace, &["group", "no-such-group-secrets"]);
    // The promotion fails at its HTTP hook, which carries a secret header.
    let ran = ev.run(&good, Trace, &["promote", t, "--window", "1s"]);
    assert_ne!(ran.code, Some(0), "the promote hook cannot succeed");
    // A runbook: a hook given a secret, an HTTP hook whose endpoint echoes its secret header,
    // a hook that fails (exit 4: partly done).
    let ran = ev.run(&good, Trace, &["run", runbook]);
    assert_eq!(
        ran.code,
        Some(4),
        "the runbook's last stage fails:\n{}",
        ran.stderr
    );
    let notify = value_of("NOTIFY_TOKEN");
    assert!(
        echoed.lock().unwrap().iter().any(|h| h == notify),
        "the runbook's HTTP hook sent its secret header: {:?}",
        echoed.lock().unwrap()
    );

    // Every journal, in every format.
    let journals: Vec<PathBuf> = files_under(&setup.journal_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert!(
        journals.len() >= 2,
        "a cutover's and a runbook's journal: {journals:?}"
    );
    let journal_dir = setup.journal_dir.display().to_string();
    for (i, format) in ["table", "json", "markdown", "html"]
        .into_iter()
        .enumerate()
    {
        let log = if i % 2 == 0 { Trace } else { Verbose };
        for journal in &journals {
            let journal = journal.display().to_string();
            ev.run(&good, log, &["report", &journal, "--format", format]);
        }
        let ran = ev.run(&good, log, &["report", g, "--format", format]);
        assert_eq!(ran.code, Some(0), "report {g}: {}", ran.stderr);
        assert!(
            ran.stdout.contains(g),
            "the {format} report names the group"
        );
        ev.run(&good, log, &["report", &journal_dir, "--format", format]);
    }

    // The simulator, and the commands that read no configuration, with the secrets set.
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/group-stop-hook-fails.toml");
    let scenario = scenario.display().to_string();
    for log in [Verbose, Trace] {
        let ran = ev.run(&good, log, &["scenario", &scenario]);
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    }
    ev.run(&good, Verbose, &["completions", "bash"]);
    ev.run(&good, Verbose, &["man"]);

    // Failures with the lab's configuration: the REST API refuses connections, SASL against a
    // plaintext listener, a bad setting beside the secrets.
    let faults: [&[(&str, &str)]; 3] = [
        &[("CUTOVER_LINK_REST_URL", "http://127.0.0.1:1/kafka/v3")],
        &[
            ("CUTOVER_ORIGIN_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("CUTOVER_ORIGIN_SASL_MECHANISMS", "PLAIN"),
            ("CUTOVER_ORIGIN_SASL_USERNAME", "svc-cutover"),
        ],
        &[("CUTOVER_LINK_TIMEOUT", "soon")],
    ];
    for fault in faults {
        let v = ev.run_with(&good, Verbose, &["verify", g], fault);
        let dry = ["--format", "json", "group", g, "--dry-run"];
        let t = ev.run_with(&good, Trace, &dry, fault);
        assert!(
            v.code != Some(0) && t.code != Some(0),
            "{fault:?} must fail"
        );
    }
    // Each setting that breaks the configuration, beside all the others.
    for (i, s) in SECRETS.iter().enumerate().filter(|(_, s)| s.breaks) {
        let mut secrets = good.secrets.clone();
        secrets.push(*s);
        let set = write_set(&setup, &format!("breaks-{i}"), secrets);
        let runbook = set.runbook.display().to_string();
        let v = ev.run(&set, Verbose, &["verify", g]);
        let t = ev.run(
            &set,
            Trace,
            &["--format", "json", "run", &runbook, "--dry-run"],
        );
        assert!(
            v.code != Some(0) && t.code != Some(0),
            "{} does not break the configuration: make it a lab setting\n{}",
            s.name,
            v.stderr
        );
    }

    // What the hooks got: each one's own env-from secret, in its own variable, and no other.
    let mut given = BTreeSet::new();
    for path in files_under(&setup.hook_dir) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let label = file.split('.').next().unwrap_or_default().to_string();
        let mut text = read(&path);
        for s in SECRETS {
            if let Some((hook, var)) = s.given_to.filter(|(hook, _)| *hook == label) {
                let own = format!("{var}={}", s.value);
                if text.lines().any(|l| l == own) {
                    given.insert((hook, var));
                    text = text
                        .lines()
                        .filter(|l| *l != own)
                        .collect::<Vec<_>>()
                        .join("\n");
                }
            }
        }
        let what = if file.ends_with(".argv") {
            "argv"
        } else {
            "environment"
        };
        ev.add(format!("the {what} of hook `{label}` ({file})"), text);
    }
    let expected: BTreeSet<(&str, &str)> = SECRETS.iter().filter_map(|s| s.given_to).collect();
    assert_eq!(given, expected, "every hook got its own env-from secret");
    ev.add_tree("the journal file", &setup.journal_dir);
    let journals_text: String = files_under(&setup.journal_dir)
        .iter()
        .map(|p| read(p))
        .collect();
    assert!(
        journals_text.contains("STAGE_TOKEN=***"),
        "the journal holds the stage hook's printed environment, redacted"
    );

    let leaks = ev.leaks(SECRETS);
    assert!(
        leaks.is_empty(),
        "{} leak(s) in {} runs:\n{}",
        leaks.len(),
        ev.runs,
        leaks.join("\n\n")
    );
    eprintln!(
        "secrets: {} runs, {} texts scanned for {} secrets in {:?}",
        ev.runs,
        ev.texts.len(),
        SECRETS.len(),
        started.elapsed()
    );
}
