//! The whole config: reads `cutover.toml` (or nothing) and the environment, hands each section
//! to its reader, and returns a [`Config`] or every problem found, together.
//!
//! Nothing outside `config/` looks at the file or at a `CUTOVER_*` variable. This file knows
//! the sections, not their keys.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use toml::Table;

use super::cluster::{cluster_config, ClusterConfig};
use super::hooks::hooks_config;
use super::link::{link_config, LinkConfig, FORWARD, REVERSE};
use super::problems::{suggestion, Problems};
use super::settings::{cutover_settings, defaults, CutoverSettings, Defaults};
use crate::error::{Error, Result};
use crate::hooks::HooksConfig;
use crate::model::Role;

/// The file read when no `--config` is given, if it exists in the working directory.
pub const DEFAULT_FILE: &str = "cutover.toml";

/// The longest file the config reads (`cutover.toml`, a `.properties` file it imports): far
/// more than any config holds, and small enough that a wrong path (a log, a device such as
/// `/dev/zero`) is refused at once instead of filling memory.
pub(super) const MAX_FILE_BYTES: u64 = 16 << 20;

/// The sections of the file.
const SECTIONS: &[&str] = &[
    "origin",
    "destination",
    "link",
    "reverse-link",
    "defaults",
    "cutover",
    "journal",
    "hooks",
    "groups",
];

/// The environment as a map, so that loading is a function of its inputs (tests pass their
/// own). Build it with [`process_env`].
pub type Env = BTreeMap<String, String>;

/// The process environment, skipping variables whose name or value is not UTF-8.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The whole validated configuration.
#[derive(Clone)]
pub struct Config {
    pub origin: ClusterConfig,
    pub destination: ClusterConfig,
    pub link: LinkConfig,
    /// The link from the destination back to the origin, for groups that stay on the origin
    /// after promotion (`cutover group --to origin`); `None` when the configuration names none.
    pub reverse_link: Option<LinkConfig>,
    pub defaults: Defaults,
    pub cutover: CutoverSettings,
    /// Where journals are kept (`[journal]`).
    pub journal: super::journal::JournalStore,
    pub hooks: HooksConfig,
}

// `Debug` is written by hand for every type that holds configuration, so that a field added
// later cannot leak a secret through a derived impl: each one formats only masked views.

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("origin", &self.origin)
            .field("destination", &self.destination)
            .field("link", &self.link)
            .field("reverse_link", &self.reverse_link)
            .field("defaults", &self.defaults)
            .field("cutover", &self.cutover)
            .field("journal", &self.journal)
            .field("hooks", &self.hooks)
            .finish()
    }
}

impl Config {
    /// Reads `path` (or `./cutover.toml` when `path` is `None` and that file exists; otherwise
    /// the environment alone), applies `env` over it and validates the result. Every problem is
    /// reported at once in [`Error::ConfigProblems`].
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Config> {
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = Path::new(DEFAULT_FILE);
                p.is_file().then(|| p.to_path_buf())
            }
        };
        match path {
            None => {
                tracing::debug!("no {DEFAULT_FILE}: configuring from the environment only");
                Config::from_sources(None, env)
            }
            Some(path) => {
                let text = read_text(&path).map_err(|e| {
                    Error::ConfigProblems(vec![format!(
                        "cannot read the config file {}: {e}",
                        path.display()
                    )])
                })?;
                Config::from_sources(Some((&text, &path)), env)
            }
        }
    }

    /// Builds the config from a TOML text and the path it was read from (for messages and
    /// relative paths), or from the environment alone.
    pub fn from_sources(file: Option<(&str, &Path)>, env: &Env) -> Result<Config> {
        let mut problems = Problems::default();
        let (table, base_dir) = match file {
            None => (Table::new(), PathBuf::new()),
            Some((text, path)) => match text.parse::<Table>() {
                Ok(table) => (
                    table,
                    path.parent().map(Path::to_path_buf).unwrap_or_default(),
                ),
                Err(e) => {
                    let line = e
                        .span()
                        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                    let at = line.map(|l| format!(" line {l}:")).unwrap_or_default();
                    return Err(Error::ConfigProblems(vec![format!(
                        "{}:{at} {}",
                        path.display(),
                        e.message().trim_end()
                    )]));
                }
            },
        };

        let mut sections: BTreeMap<&str, &Table> = BTreeMap::new();
        for (key, value) in &table {
            if SECTIONS.contains(&key.as_str()) {
                match value.as_table() {
                    Some(t) => {
                        sections.insert(key, t);
                    }
                    None => problems.push(format!("`{key}` must be a section: write [{key}]")),
                }
            } else {
                problems.push(format!(
                    "unknown section or key `{key}` at the top of the file{}",
                    suggestion(key, SECTIONS)
                ));
            }
        }

        let origin = cluster_config(
            Role::Origin,
            sections.get("origin").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let destination = cluster_config(
            Role::Destination,
            sections.get("destination").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let link = link_config(
            &FORWARD,
            sections.get("link").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let reverse_section = sections.get("reverse-link").copied();
        let reverse_link = (reverse_section.is_some()
            || env.keys().any(|k| k.starts_with(REVERSE.vars)))
        .then(|| link_config(&REVERSE, reverse_section, &base_dir, env, &mut problems));
        let defaults = defaults(sections.get("defaults").copied(), env, &mut problems);
        let cutover = cutover_settings(
            sections.get("cutover").copied(),
            &base_dir,
            env,
            &mut problems,
        );
        let journal =
            super::journal::journal_store(sections.get("journal").copied(), env, &mut problems);
        let hooks = hooks_config(
            sections.get("hooks").copied(),
            sections.get("groups").copied(),
            &base_dir,
            env,
            &mut problems,
        );

        if problems.0.is_empty() {
            Ok(Config {
                origin,
                destination,
                link,
                reverse_link,
                defaults,
                cutover,
                journal,
                hooks,
            })
        } else {
            Err(Error::ConfigProblems(problems.0))
        }
    }

    pub fn cluster(&self, role: Role) -> &ClusterConfig {
        match role {
            Role::Origin => &self.origin,
            Role::Destination => &self.destination,
        }
    }
}

/// A file's bytes, at most [`MAX_FILE_BYTES`] of them: a longer file is an error that says so.
pub(super) fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "it is longer than {} MiB, far more than a config holds: check the path",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// A UTF-8 text file, at most [`MAX_FILE_BYTES`] long.
fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_bounded(path)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is not UTF-8 text ({})", e.utf8_error()),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::link::{DEFAULT_REST_RETRIES, DEFAULT_REST_TIMEOUT, REST_BACKOFF};
    use super::super::testing::{assert_problem, env, from_toml, lab_env, problems, TempDir};
    use super::*;

    #[test]
    fn the_lab_variables_alone_give_a_complete_config() {
        let config = Config::from_sources(None, &lab_env()).expect("the lab env is enough");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([("bootstrap.servers".into(), "127.0.0.1:39001".into())]),
            "CUTOVER_ORIGIN_CLUSTER_ID must not become a property"
        );
        assert_eq!(
            config.destination.properties,
            BTreeMap::from([("bootstrap.servers".into(), "127.0.0.1:39002".into())])
        );
        assert_eq!(config.link.name, "cutover-lab");
        assert_eq!(config.link.prefix, "");
        let rest = config.link.rest_options().expect("rest-url is set");
        assert_eq!(rest.base_url, "http://127.0.0.1:39003/kafka/v3");
        assert_eq!(rest.link_name, "cutover-lab");
        assert_eq!(rest.cluster_id.as_deref(), Some("dest-id-Z"));
        assert!(rest.basic_auth.is_none());
        assert_eq!(rest.timeout, DEFAULT_REST_TIMEOUT);
        assert_eq!(rest.retries, DEFAULT_REST_RETRIES);
        assert_eq!(config.defaults, Defaults::default());
    }

    const FULL: &str = r#"
        [origin]
        "bootstrap.servers" = "old-kafka:9092"
        "security.protocol" = "SASL_SSL"
        "sasl.mechanisms" = "PLAIN"
        "sasl.username" = "svc-cutover"
        "sasl.password-env" = "ORIGIN_PASSWORD"
        "socket.timeout.ms" = 30000
        "enable.ssl.certificate.verification" = true

        [destination]
        "bootstrap.servers" = "new-kafka:9092"

        [link]
        name = "migration-link"
        rest-url = "https://new-kafka:8090/kafka/v3/"
        cluster-id = "lkc-1"
        username-env = "LINK_API_KEY"
        password-env = "LINK_API_SECRET"
        timeout = "15s"
        retries = 5
        prefix = "old."

        [defaults]
        wait = "10m"
        poll-interval = "1500ms"
    "#;

    fn full_env() -> Env {
        env(&[
            ("ORIGIN_PASSWORD", "origin-pw-S3CRET"),
            ("LINK_API_KEY", "link-user"),
            ("LINK_API_SECRET", "link-pw-S3CRET"),
        ])
    }

    #[test]
    fn reads_every_setting_of_the_file() {
        let config = from_toml(FULL, &full_env()).expect("valid");
        let origin = &config.origin.properties;
        assert_eq!(origin["bootstrap.servers"], "old-kafka:9092");
        assert_eq!(origin["sasl.password"], "origin-pw-S3CRET");
        assert!(!origin.contains_key("sasl.password-env"));
        assert_eq!(origin["socket.timeout.ms"], "30000");
        assert_eq!(origin["enable.ssl.certificate.verification"], "true");
        let rest = config.link.rest_options().expect("rest");
        assert_eq!(rest.base_url, "https://new-kafka:8090/kafka/v3");
        assert_eq!(rest.cluster_id.as_deref(), Some("lkc-1"));
        assert_eq!(
            rest.basic_auth,
            Some(("link-user".into(), "link-pw-S3CRET".into()))
        );
        assert_eq!(rest.timeout, Duration::from_secs(15));
        assert_eq!(rest.retries, 5);
        assert_eq!(rest.backoff, REST_BACKOFF);
        assert_eq!(config.link.prefix, "old.");
        assert_eq!(config.defaults.wait, Duration::from_secs(600));
        assert_eq!(config.defaults.poll_interval, Duration::from_millis(1500));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut e = full_env();
        e.extend(env(&[
            ("CUTOVER_ORIGIN_BOOTSTRAP", "env-origin:9092"),
            ("CUTOVER_DESTINATION_SECURITY_PROTOCOL", "SSL"),
            // Overriding a *-env property: the variable it names need not be set.
            ("CUTOVER_ORIGIN_SASL_PASSWORD", "env-pw"),
            ("CUTOVER_LINK_NAME", "env-link"),
            ("CUTOVER_LINK_REST_URL", "http://other:8090/kafka/v3"),
            ("CUTOVER_DESTINATION_CLUSTER_ID", "env-cluster"),
            ("CUTOVER_LINK_USERNAME", "env-user"),
            ("CUTOVER_LINK_PASSWORD", "env-link-pw"),
            ("CUTOVER_LINK_TIMEOUT", "1m"),
            ("CUTOVER_LINK_RETRIES", "0"),
            ("CUTOVER_LINK_PREFIX", "p."),
            ("CUTOVER_WAIT", "1h"),
            ("CUTOVER_POLL_INTERVAL", "3s"),
            // Empty counts as unset.
            ("CUTOVER_DESTINATION_BOOTSTRAP", ""),
        ]));
        e.remove("ORIGIN_PASSWORD");
        let config = from_toml(FULL, &e).expect("valid");
        assert_eq!(
            config.origin.properties["bootstrap.servers"],
            "env-origin:9092"
        );
        assert_eq!(config.origin.properties["sasl.password"], "env-pw");
        assert_eq!(config.origin.properties["sasl.username"], "svc-cutover");
        assert_eq!(
            config.destination.properties["bootstrap.servers"],
            "new-kafka:9092"
        );
        assert_eq!(config.destination.properties["security.protocol"], "SSL");
        let rest = config.link.rest_options().expect("rest");
        assert_eq!(rest.link_name, "env-link");
        assert_eq!(rest.base_url, "http://other:8090/kafka/v3");
        assert_eq!(rest.cluster_id.as_deref(), Some("env-cluster"));
        assert_eq!(
            rest.basic_auth,
            Some(("env-user".into(), "env-link-pw".into()))
        );
        assert_eq!(rest.timeout, Duration::from_secs(60));
        assert_eq!(rest.retries, 0);
        assert_eq!(config.link.prefix, "p.");
        assert_eq!(config.defaults.wait, Duration::from_secs(3600));
        assert_eq!(config.defaults.poll_interval, Duration::from_secs(3));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            unexpected = 1
            [origin]
            "sasl.password-env" = "NOT_SET_ANYWHERE"
            "sasl.username" = ["a"]
            [destination]
            [link]
            rest_url = "x"
            rest-url = "https://new-kafka:8090/v2"
            username-env = "LINK_USER"
            ca-file = "missing-ca.pem"
            timeout = "10"
            retries = 11
            [defaults]
            wait = "soon"
            poll-interval = "0s"
        "#;
        let e = env(&[("LINK_USER", "someone")]);
        let err = from_toml(text, &e).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        let p = problems(Err(err));
        for needle in [
            "unknown section or key `unexpected` at the top of the file",
            "[origin] \"sasl.password-env\" names the environment variable NOT_SET_ANYWHERE, which is not set",
            "[origin] \"sasl.username\": expected a string, number or boolean, found an array",
            "the origin cluster has no bootstrap.servers: set \"bootstrap.servers\" in [origin] or CUTOVER_ORIGIN_BOOTSTRAP",
            "the destination cluster has no bootstrap.servers: set \"bootstrap.servers\" in [destination] or CUTOVER_DESTINATION_BOOTSTRAP",
            "the link has no name: set name in [link] or CUTOVER_LINK_NAME",
            "unknown key `rest_url` in [link]: did you mean `rest-url`?",
            "[link] rest-url: https://new-kafka:8090/v2 does not end in /kafka/v3",
            "e.g. https://new-kafka:8090/kafka/v3",
            "the link's REST username is set ([link] username-env) but no password",
            "[link] ca-file: cannot read /nonexistent/missing-ca.pem",
            "[link] timeout: \"10\" has no unit",
            "[link] retries: \"11\" is not a number of retries from 0 to 10",
            "[defaults] wait: \"soon\" is not a duration",
            "[defaults] poll-interval: must be more than zero",
        ] {
            assert_problem(&p, needle);
        }
        assert_eq!(p.len(), 14, "{p:#?}");
    }

    #[test]
    fn load_reports_an_unreadable_file_and_toml_syntax_with_its_line() {
        let p = problems(Config::load(
            Some(Path::new("/nonexistent/cutover.toml")),
            &lab_env(),
        ));
        assert_problem(&p, "cannot read the config file /nonexistent/cutover.toml");
        let p = problems(from_toml(
            "[link]\nname = \"l\"\nretries = = 3\n",
            &lab_env(),
        ));
        assert_problem(&p, "/nonexistent/cutover.toml: line 3:");
    }

    #[test]
    fn debug_output_of_a_loaded_config_shows_no_secret() {
        let dir = TempDir::new("redaction");
        dir.write(
            "origin.properties",
            concat!(
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"jaas-pw-S3CRET\";\n",
                "ssl.keystore.type=PKCS12\n",
                "ssl.keystore.location=/client.p12\n",
                "ssl.keystore.password=keystore-pw-S3CRET\n",
            ),
        );
        let toml_path = dir.write("cutover.toml", &FULL.replace("[origin]", "[origin]\nproperties-file = \"origin.properties\"\n\"ssl.key.pem\" = \"private-key-S3CRET\"\n\"sasl.oauthbearer.client.secret\" = \"oauth-S3CRET\""));
        let mut e = full_env();
        e.insert(
            "CUTOVER_DESTINATION_SASL_PASSWORD".into(),
            "dest-pw-S3CRET".into(),
        );
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        assert_eq!(
            config.origin.properties["ssl.keystore.password"],
            "keystore-pw-S3CRET"
        );

        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("S3CRET"), "{debug}");
        assert!(
            debug.contains("svc-cutover"),
            "non-secrets stay visible: {debug}"
        );
        assert!(debug.contains("/client.p12"), "paths stay visible: {debug}");
        assert!(debug.contains("***"));
        let rest = config.link.rest.as_ref().expect("rest");
        let credentials = rest.credentials.as_ref().expect("credentials");
        assert_eq!(format!("{}", credentials.password), "***");
        assert_eq!(credentials.password.expose(), "link-pw-S3CRET");
    }

    #[test]
    fn unknown_keys_name_their_section() {
        let text = r#"
            [link]
            name = "l"
            ca_file = "x"
            colour = "blue"
            [defaults]
            poll_interval = "2s"
            [hook]
        "#;
        let p = problems(from_toml(text, &lab_env()));
        assert_eq!(
            p,
            vec![
                "unknown section or key `hook` at the top of the file (known: origin, destination, link, reverse-link, defaults, cutover, journal, hooks, groups)",
                "unknown key `ca_file` in [link]: did you mean `ca-file`?",
                "unknown key `colour` in [link] (known: name, rest-url, cluster-id, username-env, password-env, token-env, cert-file, key-file, ca-file, timeout, retries, prefix)",
                "unknown key `poll_interval` in [defaults]: did you mean `poll-interval`?",
            ]
        );
    }
}
