//! `[origin]` and `[destination]`: one cluster's librdkafka client properties, from the
//! section's keys (quoted or as nested tables), `*-env` indirection, `CUTOVER_<ROLE>_*`
//! variables and an imported Java `.properties` file (read by `properties_file.rs`, translated
//! by `java_properties.rs`), in that order of precedence from highest.
//!
//! Values may be secrets: nothing here logs or formats a value; [`ClusterConfig::redacted`] and
//! its `Debug` mask every secret-looking property.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::java_properties::translate_java;
use super::load::Env;
use super::problems::{a, Problems};
use super::properties_file::read_properties_file;
use super::value::{indirect, Setting};
use crate::model::Role;

/// One cluster's final librdkafka client properties (file, `.properties` import, `*-env`
/// indirection and environment overrides already applied). Values may be secrets: format it
/// with `{:?}` or [`ClusterConfig::redacted`], never by printing `properties`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    pub properties: BTreeMap<String, String>,
}

/// Whether a librdkafka property's value must never be shown. Conservative: any key naming a
/// password, secret, JAAS config, token, key or credential is masked (`ssl.key.pem`,
/// `sasl.kerberos.keytab` included), except `*.location` keys, which are file paths and are
/// what an operator needs to see when a file is not found.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with(".location") {
        return false;
    }
    const WORDS: &[&str] = &[
        "password",
        "secret",
        "jaas",
        "token",
        "key",
        "credential",
        "oauthbearer.config",
    ];
    WORDS.iter().any(|w| key.contains(w))
}

impl ClusterConfig {
    pub fn bootstrap_servers(&self) -> Option<&str> {
        self.properties.get("bootstrap.servers").map(String::as_str)
    }

    /// The properties with every secret-looking value replaced by `***` (see
    /// [`is_secret_property`]): safe for logs, journals and reports.
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_property(k) {
                    "***".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

// `Debug` is written by hand: it formats only the masked view.

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("properties", &self.redacted())
            .finish()
    }
}

pub(super) fn cluster_config(
    role: Role,
    section: Option<&Table>,
    base_dir: &Path,
    env: &Env,
    problems: &mut Problems,
) -> ClusterConfig {
    let upper = role.to_string().to_uppercase();
    let env_prefix = format!("CUTOVER_{upper}_");
    let section_name = format!("[{role}]");

    // Environment overrides first: a property they set needs nothing from the file, not even
    // the variable a `*-env` key names.
    let mut explicit: BTreeMap<String, String> = BTreeMap::new();
    let mut set_by_var: BTreeMap<String, String> = BTreeMap::new();
    let mut env_file = None;
    for (name, value) in env {
        let Some(suffix) = name.strip_prefix(&env_prefix) else {
            continue;
        };
        if value.is_empty() || suffix.is_empty() {
            continue;
        }
        let property = match suffix {
            "BOOTSTRAP" => "bootstrap.servers".to_string(),
            "PROPERTIES_FILE" => {
                env_file = Some(Setting {
                    value: value.clone(),
                    from: name.clone(),
                    in_file: false,
                });
                continue;
            }
            // The lab exports the cluster ids; the destination's is the link's cluster-id
            // (read in `link_config`), the origin's is not configuration.
            "CLUSTER_ID" => continue,
            _ => suffix.to_lowercase().replace('_', "."),
        };
        if let Some(other) = set_by_var.get(&property) {
            if explicit.get(&property) != Some(value) {
                problems.push(format!(
                    "{other} and {name} both set {property} of the {role} cluster, to different values: unset one"
                ));
            }
            continue;
        }
        set_by_var.insert(property.clone(), name.clone());
        explicit.insert(property, value.clone());
    }

    // The section's own keys, quoted or nested, flattened to dotted keys.
    let mut file_setting = None;
    let mut from_toml: BTreeMap<String, String> = BTreeMap::new();
    if let Some(table) = section {
        let mut flat = Vec::new();
        for (key, value) in table {
            if key == "properties-file" {
                match value.as_str() {
                    Some(s) => {
                        file_setting = Some(Setting {
                            value: s.to_string(),
                            from: format!("{section_name} properties-file"),
                            in_file: true,
                        })
                    }
                    None => problems.push(format!(
                        "{section_name} properties-file: expected a string, found {}",
                        a(value.type_str())
                    )),
                }
                continue;
            }
            flatten(key.clone(), value, &section_name, &mut flat, problems);
        }
        for (key, value) in flat {
            if from_toml.contains_key(&key) {
                problems.push(format!(
                    "{section_name} sets \"{key}\" twice (quoted and as a nested table): keep one"
                ));
                continue;
            }
            from_toml.insert(key, value);
        }
    }
    for (key, value) in &from_toml {
        match key.strip_suffix("-env") {
            Some(property) => {
                if property.is_empty() {
                    problems.push(format!(
                        "{section_name} \"{key}\": a property name is missing before -env"
                    ));
                } else if from_toml.contains_key(property) {
                    problems.push(format!(
                        "{section_name} sets both \"{property}\" and \"{key}\": keep one"
                    ));
                } else if !set_by_var.contains_key(property) {
                    let from = format!("{section_name} \"{key}\"");
                    if let Some(v) = indirect(env, &from, value, problems) {
                        explicit.insert(property.to_string(), v);
                    }
                }
            }
            None => {
                if !set_by_var.contains_key(key) {
                    explicit.insert(key.clone(), value.clone());
                }
            }
        }
    }

    // The Java .properties import, under the explicit keys.
    let mut properties = BTreeMap::new();
    let file = match (env_file, file_setting) {
        (Some(s), _) | (None, Some(s)) => Some(s),
        (None, None) => None,
    };
    if let Some(setting) = file {
        let path = if setting.in_file {
            base_dir.join(&setting.value)
        } else {
            PathBuf::from(&setting.value)
        };
        match read_properties_file(&path) {
            Err(e) => problems.push(format!("{}: {}: {e}", setting.from, path.display())),
            Ok(java) => {
                let translated = translate_java(&java, &section_name);
                for key in &translated.dropped {
                    tracing::warn!(
                        "{section_name} {}: ignoring `{key}`, a Java client setting with no librdkafka meaning",
                        path.display()
                    );
                }
                for p in translated.problems {
                    if !p.unless_set.iter().any(|k| explicit.contains_key(*k)) {
                        problems.push(format!(
                            "{}: {}: {}",
                            setting.from,
                            path.display(),
                            p.message
                        ));
                    }
                }
                properties = translated.properties;
            }
        }
    }
    properties.extend(explicit);

    if properties
        .get("bootstrap.servers")
        .is_none_or(|s| s.trim().is_empty())
    {
        problems.push(format!(
            "the {role} cluster has no bootstrap.servers: set \"bootstrap.servers\" in {section_name} or CUTOVER_{upper}_BOOTSTRAP"
        ));
    }
    ClusterConfig { properties }
}

/// Flattens TOML's nested tables (`bootstrap.servers = "x"` unquoted) back into dotted keys.
fn flatten(
    key: String,
    value: &Value,
    section: &str,
    out: &mut Vec<(String, String)>,
    problems: &mut Problems,
) {
    match value {
        Value::String(s) => out.push((key, s.clone())),
        Value::Integer(i) => out.push((key, i.to_string())),
        Value::Float(f) => out.push((key, f.to_string())),
        Value::Boolean(b) => out.push((key, b.to_string())),
        Value::Table(table) => {
            for (k, v) in table {
                flatten(format!("{key}.{k}"), v, section, out, problems);
            }
        }
        Value::Array(_) | Value::Datetime(_) => problems.push(format!(
            "{section} \"{key}\": expected a string, number or boolean, found {} (librdkafka lists are comma-separated strings)",
            a(value.type_str())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_problem, env, from_toml, lab_env, problems, TempDir};
    use super::super::Config;
    use super::*;

    #[test]
    fn generic_property_variables_map_to_dotted_names() {
        let mut e = lab_env();
        e.extend(env(&[
            ("CUTOVER_ORIGIN_SASL_USERNAME", "u"),
            ("CUTOVER_ORIGIN_SSL_CA_LOCATION", "/ca.pem"),
            ("CUTOVER_DESTINATION_CLIENT_ID", "me"),
        ]));
        let config = Config::from_sources(None, &e).expect("valid");
        assert_eq!(config.origin.properties["sasl.username"], "u");
        assert_eq!(config.origin.properties["ssl.ca.location"], "/ca.pem");
        assert_eq!(config.destination.properties["client.id"], "me");
    }

    #[test]
    fn bootstrap_and_bootstrap_servers_variables_must_agree() {
        let mut e = lab_env();
        e.insert(
            "CUTOVER_ORIGIN_BOOTSTRAP_SERVERS".into(),
            "elsewhere:9092".into(),
        );
        let p = problems(Config::from_sources(None, &e));
        assert_problem(
            &p,
            "CUTOVER_ORIGIN_BOOTSTRAP and CUTOVER_ORIGIN_BOOTSTRAP_SERVERS both set bootstrap.servers",
        );
    }

    #[test]
    fn nested_tables_flatten_to_dotted_keys() {
        let text = r#"
            [origin]
            bootstrap.servers = "a:9092"
            sasl.username = "u"
            sasl.password-env = "PW"
            "security.protocol" = "SASL_SSL"
            [origin.ssl]
            ca.location = "/ca.pem"

            [destination]
            bootstrap = { servers = "b:9092" }

            [link]
            name = "l"
        "#;
        let config = from_toml(text, &env(&[("PW", "pw")])).expect("valid");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([
                ("bootstrap.servers".into(), "a:9092".into()),
                ("sasl.password".into(), "pw".into()),
                ("sasl.username".into(), "u".into()),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("ssl.ca.location".into(), "/ca.pem".into()),
            ])
        );
        assert_eq!(config.destination.properties["bootstrap.servers"], "b:9092");
    }

    #[test]
    fn a_key_written_both_quoted_and_nested_is_a_problem() {
        let text = r#"
            [origin]
            "bootstrap.servers" = "a:9092"
            bootstrap.servers = "b:9092"
        "#;
        let p = problems(from_toml(text, &lab_env()));
        assert_problem(&p, "[origin] sets \"bootstrap.servers\" twice");
    }

    #[test]
    fn env_indirection_reads_the_named_variable() {
        let text = r#"
            [origin]
            "bootstrap.servers-env" = "ORIGIN_BOOTSTRAP"
            "ssl.key.password-env" = "KEY_PW"
            [destination]
            "bootstrap.servers" = "b:9092"
            "sasl.password" = "inline"
            "sasl.password-env" = "ALSO"
            [link]
            name = "l"
        "#;
        let e = env(&[("ORIGIN_BOOTSTRAP", "a:9092"), ("ALSO", "x")]);
        let p = problems(from_toml(text, &e));
        assert_eq!(
            p,
            vec![
                "[origin] \"ssl.key.password-env\" names the environment variable KEY_PW, which is not set",
                "[destination] sets both \"sasl.password\" and \"sasl.password-env\": keep one",
            ]
        );
        let mut e = e;
        e.insert("KEY_PW".into(), "kpw".into());
        let text = text.replace("\"sasl.password\" = \"inline\"", "");
        let config = from_toml(&text, &e).expect("valid");
        assert_eq!(config.origin.properties["bootstrap.servers"], "a:9092");
        assert_eq!(config.origin.properties["ssl.key.password"], "kpw");
        assert_eq!(config.destination.properties["sasl.password"], "x");
    }

    #[test]
    fn imports_a_properties_file_beside_the_toml_file() {
        let dir = TempDir::new("import");
        dir.write(
            "origin.properties",
            concat!(
                "bootstrap.servers=file-origin:9092\n",
                "security.protocol=SASL_SSL\n",
                "sasl.mechanism=PLAIN\n",
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n",
                "    username=\"file-user\" password=\"file-pw\";\n",
                "ssl.truststore.location=/etc/ts.jks\n",
                "key.deserializer=org.apache.kafka.common.serialization.StringDeserializer\n",
                "client.id=from-file\n",
            ),
        );
        let toml_path = dir.write(
            "cutover.toml",
            r#"
                [origin]
                properties-file = "origin.properties"
                "client.id" = "from-toml"
                [destination]
                "bootstrap.servers" = "b:9092"
                [link]
                name = "l"
            "#,
        );
        // The JKS truststore is a problem until the section sets ssl.ca.location.
        let p = problems(Config::load(Some(&toml_path), &Env::new()));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_problem(&p, "[origin] properties-file: ");
        assert_problem(
            &p,
            "origin.properties: ssl.truststore.location is a JKS truststore",
        );

        let e = env(&[("CUTOVER_ORIGIN_SSL_CA_LOCATION", "/etc/ca.pem")]);
        let config = Config::load(Some(&toml_path), &e).expect("valid");
        assert_eq!(
            config.origin.properties,
            BTreeMap::from([
                ("bootstrap.servers".into(), "file-origin:9092".into()),
                ("client.id".into(), "from-toml".into()),
                ("sasl.mechanisms".into(), "PLAIN".into()),
                ("sasl.password".into(), "file-pw".into()),
                ("sasl.username".into(), "file-user".into()),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("ssl.ca.location".into(), "/etc/ca.pem".into()),
            ])
        );
    }

    #[test]
    fn properties_file_from_the_environment_and_readable_ca_file() {
        let dir = TempDir::new("env-import");
        let props = dir.write("dest.properties", "bootstrap.servers=file-dest:9092\n");
        let ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
        let mut e = lab_env();
        e.remove("CUTOVER_DESTINATION_BOOTSTRAP");
        e.insert(
            "CUTOVER_DESTINATION_PROPERTIES_FILE".into(),
            props.display().to_string(),
        );
        e.insert("CUTOVER_LINK_CA_FILE".into(), ca.display().to_string());
        let config = Config::from_sources(None, &e).expect("valid");
        assert_eq!(
            config.destination.bootstrap_servers(),
            Some("file-dest:9092")
        );
        assert_eq!(config.link.rest_options().and_then(|r| r.ca_file), Some(ca));

        e.insert(
            "CUTOVER_ORIGIN_PROPERTIES_FILE".into(),
            "/nonexistent/o.properties".into(),
        );
        let p = problems(Config::from_sources(None, &e));
        assert_problem(
            &p,
            "CUTOVER_ORIGIN_PROPERTIES_FILE: /nonexistent/o.properties: cannot read",
        );
    }

    #[test]
    fn redacts_secret_looking_properties() {
        let cases = [
            ("sasl.password", true),
            ("SASL.PASSWORD", true),
            ("ssl.key.password", true),
            ("ssl.keystore.password", true),
            ("ssl.key.pem", true),
            ("sasl.jaas.config", true),
            ("sasl.oauthbearer.client.secret", true),
            ("sasl.oauthbearer.config", true),
            ("sasl.kerberos.keytab", true),
            ("some.token.value", true),
            ("ssl.key.location", false),
            ("ssl.keystore.location", false),
            ("ssl.ca.location", false),
            ("sasl.username", false),
            ("bootstrap.servers", false),
        ];
        for (key, secret) in cases {
            assert_eq!(is_secret_property(key), secret, "{key}");
        }
        let cluster = ClusterConfig {
            properties: BTreeMap::from([
                ("sasl.password".into(), "pw".into()),
                ("sasl.username".into(), "u".into()),
            ]),
        };
        assert_eq!(
            cluster.redacted(),
            BTreeMap::from([
                ("sasl.password".into(), "***".into()),
                ("sasl.username".into(), "u".into()),
            ])
        );
    }
}
