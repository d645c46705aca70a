//! What `cutover --version` says: the tool's version and the Kafka client under it.
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_long_version_names_librdkafka_and_its_features() {
        let v = super::long_version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(v.contains("librdkafka 2."), "{v}");
        // The vendored librdkafka is built with TLS and SASL: operators need both.
        assert!(v.contains("ssl") && v.contains("sasl"), "{v}");
    }
}
