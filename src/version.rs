//! What `cutover --version` says: the tool's version and the Kafka client under it; and the
//! facts about a run that a change ticket needs (tool, operator, configuration digest).
//!
//! The long form (`--version`) names librdkafka's version and the features it was built with
//! (`builtin.features`: SSL, SASL mechanisms, compression codecs), which is what decides
//! whether a TLS or SASL setting can work at all. `-V` prints the short form.

/// `cutover 0.1.0`'s details: librdkafka's version and its built-in features.
pub fn long_version() -> String {
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    let features = rdkafka::ClientConfig::new()
        .create_native_config()
        .and_then(|c| c.get("builtin.features"))
        .unwrap_or_else(|e| format!("unknown ({e})"));
    format!(
        "{}\nlibrdkafka {librdkafka} (features: {features})\ntarget {}, {} build",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH.to_string() + "-" + std::env::consts::OS,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    )
}

/// `host:pid` of this agent, as journals record who drove a run.
pub fn agent() -> String {
    format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
        std::process::id()
    )
}

/// `user@host` of whoever runs cutover, from the environment and the kernel's host name.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// The SHA-256 of the effective configuration as its masked view shows it: secrets never
/// enter it (the configuration's `Debug` prints them masked), and two runs with the same
/// settings have the same digest.
pub fn config_digest(config: &crate::config::Config) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{config:?}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A run's facts for its journal: tool and librdkafka versions, operator, config digest.
pub fn evidence(config: &crate::config::Config) -> std::collections::BTreeMap<String, String> {
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    [
        (
            "tool",
            format!(
                "cutover {} (librdkafka {librdkafka})",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ("operator", operator()),
        ("config_sha256", config_digest(config)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Production clusters use Kerberos and OAUTHBEARER OIDC: a librdkafka built without them
    /// would accept those settings and fail only when it connects.
    #[test]
    fn librdkafka_is_built_with_every_authentication_operators_use() {
        let version = long_version();
        let features = version
            .split("features: ")
            .nth(1)
            .and_then(|f| f.split(')').next())
            .unwrap_or_default();
        let features: Vec<&str> = features.split(',').collect();
        for needed in [
            "ssl",
            "sasl_gssapi",
            "sasl_scram",
            "sasl_plain",
            "sasl_oauthbearer",
            "oidc",
            "http",
        ] {
            assert!(
                features.contains(&needed),
                "librdkafka lacks {needed}: {version}"
            );
        }
    }

    #[test]
    fn the_config_digest_holds_no_secret_and_follows_every_other_setting() {
        use std::path::Path;
        let load = |password: &str, poll: &str| {
            let text = format!(
                "[origin]\nbootstrap.servers = \"a:9092\"\nsasl.password = \"{password}\"\n[destination]\nbootstrap.servers = \"b:9092\"\n[link]\nname = \"l\"\n[defaults]\npoll-interval = \"{poll}\"\n"
            );
            crate::config::Config::from_sources(
                Some((&text, Path::new("/nonexistent/cutover.toml"))),
                &Default::default(),
            )
            .expect("a valid config")
        };
        let a = load("hunter2", "2s");
        assert!(!format!("{a:?}").contains("hunter2"), "the masked view");
        let digest = super::config_digest(&a);
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, super::config_digest(&load("other", "2s")));
        assert_ne!(digest, super::config_digest(&load("hunter2", "3s")));
    }

    #[test]
    fn the_long_version_names_librdkafka_and_its_features() {
        let v = super::long_version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(v.contains("librdkafka 2."), "{v}");
        // The vendored librdkafka is built with TLS and SASL: operators need both.
        assert!(v.contains("ssl") && v.contains("sasl"), "{v}");
    }
}
