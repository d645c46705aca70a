//! Java client properties to librdkafka properties, for a `.properties` file imported into
//! `[origin]` or `[destination]`: `sasl.mechanism` becomes `sasl.mechanisms`;
//! `sasl.jaas.config` with the Plain or Scram login module becomes
//! `sasl.username`/`sasl.password` (Kerberos and OAuth client-credentials modules map to
//! `sasl.kerberos.*`/`sasl.oauthbearer.*`); a PEM truststore becomes `ssl.ca.location`; a PEM
//! keystore becomes `ssl.certificate.location` and `ssl.key.location`, a PKCS12 keystore stays
//! `ssl.keystore.*`. JKS stores are a problem (librdkafka cannot read them) unless the section
//! sets the librdkafka replacement itself. Java-only keys (serializers, `*.class`,
//! `ssl.truststore.password`, ...) are dropped, to be warned about by name; everything else
//! passes through.
//!
//! Pure: no file, no environment, no log. A message never quotes a value (a JAAS config holds
//! the password).

use std::collections::BTreeMap;

/// A problem in an imported file that disappears when the section sets one of `unless_set`
/// itself (the librdkafka replacement the message asks for).
pub(super) struct ImportProblem {
    pub(super) message: String,
    pub(super) unless_set: &'static [&'static str],
}

pub(super) struct Translation {
    pub(super) properties: BTreeMap<String, String>,
    /// Java-only keys, dropped (to be warned about by name, never by value).
    pub(super) dropped: Vec<String>,
    pub(super) problems: Vec<ImportProblem>,
}

/// Keys of the Java clients with no librdkafka meaning.
fn is_java_only(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "key.deserializer",
        "value.deserializer",
        "key.serializer",
        "value.serializer",
        "default.api.timeout.ms",
        "client.dns.lookup",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.provider",
        // Java cipher names (TLS_ECDHE_...) are not OpenSSL's (ECDHE-...).
        "ssl.cipher.suites",
        "ssl.truststore.password",
        "security.providers",
        "send.buffer.bytes",
        "receive.buffer.bytes",
    ];
    KEYS.contains(&key)
        || key.ends_with(".class")
        || key.ends_with(".classes")
        || key.starts_with("sasl.login.")
}

/// Translates Java client properties to librdkafka properties.
pub(super) fn translate_java(java: &BTreeMap<String, String>, section: &str) -> Translation {
    let mut t = Translation {
        properties: BTreeMap::new(),
        dropped: Vec::new(),
        problems: Vec::new(),
    };
    for (key, value) in java {
        match key.as_str() {
            "sasl.mechanism" => {
                t.properties.insert("sasl.mechanisms".into(), value.clone());
            }
            "sasl.jaas.config" => match translate_jaas(value, section) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        t.properties.insert(k.into(), v);
                    }
                }
                Err(message) => t.problems.push(ImportProblem {
                    message,
                    unless_set: &[
                        "sasl.username",
                        "sasl.oauthbearer.method",
                        "sasl.oauthbearer.config",
                        "sasl.kerberos.principal",
                    ],
                }),
            },
            // Java writes "" for no hostname check; librdkafka writes "none".
            "ssl.endpoint.identification.algorithm" => {
                let v = if value.trim().is_empty() {
                    "none"
                } else {
                    value
                };
                t.properties.insert(key.clone(), v.into());
            }
            // The stores are translated together below.
            "ssl.truststore.location"
            | "ssl.truststore.type"
            | "ssl.truststore.certificates"
            | "ssl.keystore.location"
            | "ssl.keystore.type"
            | "ssl.keystore.password"
            | "ssl.keystore.key"
            | "ssl.keystore.certificate.chain" => {}
            k if is_java_only(k) => t.dropped.push(key.clone()),
            _ => {
                t.properties.insert(key.clone(), value.clone());
            }
        }
    }

    // Java's default store type is JKS.
    let store_type = |key: &str| {
        java.get(key)
            .map(|v| v.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "JKS".into())
    };
    let truststore_type = store_type("ssl.truststore.type");
    if let Some(location) = java.get("ssl.truststore.location") {
        if truststore_type == "PEM" {
            t.properties
                .insert("ssl.ca.location".into(), location.clone());
        } else {
            t.problems.push(ImportProblem {
                message: format!(
                    "ssl.truststore.location is a {truststore_type} truststore, which librdkafka cannot read: export its CA certificates to a PEM file (keytool -exportcert -rfc) and set \"ssl.ca.location\" in {section}"
                ),
                unless_set: &["ssl.ca.location", "ssl.ca.pem"],
            });
        }
    }
    if let Some(pem) = java.get("ssl.truststore.certificates") {
        t.properties.insert("ssl.ca.pem".into(), pem.clone());
    }

    let keystore_type = store_type("ssl.keystore.type");
    let keystore_password = java.contains_key("ssl.keystore.password");
    match java.get("ssl.keystore.location") {
        Some(location) if keystore_type == "PEM" => {
            // A Java PEM keystore is one file with the key and the chain; OpenSSL picks each
            // out of the same file. Its key's password is ssl.key.password in both clients.
            t.properties
                .insert("ssl.certificate.location".into(), location.clone());
            t.properties
                .insert("ssl.key.location".into(), location.clone());
            if keystore_password {
                t.dropped.push("ssl.keystore.password".into());
            }
        }
        Some(location) if keystore_type == "PKCS12" => {
            t.properties
                .insert("ssl.keystore.location".into(), location.clone());
            if let Some(password) = java.get("ssl.keystore.password") {
                t.properties
                    .insert("ssl.keystore.password".into(), password.clone());
            }
        }
        Some(_) => t.problems.push(ImportProblem {
            message: format!(
                "ssl.keystore.location is a {keystore_type} keystore, which librdkafka cannot read: convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12) and set \"ssl.keystore.location\" and \"ssl.keystore.password\" in {section}, or export PEM files and set \"ssl.certificate.location\" and \"ssl.key.location\""
            ),
            unless_set: &[
                "ssl.keystore.location",
                "ssl.certificate.location",
                "ssl.certificate.pem",
            ],
        }),
        None => {
            if keystore_password {
                t.dropped.push("ssl.keystore.password".into());
            }
        }
    }
    if let Some(pem) = java.get("ssl.keystore.key") {
        t.properties.insert("ssl.key.pem".into(), pem.clone());
    }
    if let Some(pem) = java.get("ssl.keystore.certificate.chain") {
        t.properties
            .insert("ssl.certificate.pem".into(), pem.clone());
    }
    t
}

/// Translates the first login module of a `sasl.jaas.config` to librdkafka properties. Errors
/// never quote the value (it holds the password).
fn translate_jaas(
    value: &str,
    section: &str,
) -> std::result::Result<Vec<(&'static str, String)>, String> {
    let (module, options) = parse_jaas(value)
        .map_err(|e| format!("sasl.jaas.config cannot be read ({e}): set the librdkafka sasl.* properties in {section} instead"))?;
    let class = module.rsplit('.').next().unwrap_or_default();
    let option = |name: &str| options.get(name).cloned();
    match class {
        "PlainLoginModule" | "ScramLoginModule" => match (option("username"), option("password")) {
            (Some(user), Some(password)) => Ok(vec![("sasl.username", user), ("sasl.password", password)]),
            _ => Err(format!(
                "sasl.jaas.config ({class}) needs both username and password: set \"sasl.username\" and \"sasl.password-env\" in {section} instead"
            )),
        },
        "Krb5LoginModule" => Ok([
            ("sasl.kerberos.principal", option("principal")),
            ("sasl.kerberos.keytab", option("keyTab")),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()),
        "OAuthBearerLoginModule" if options.contains_key("clientId") => {
            let mut out = vec![("sasl.oauthbearer.method", "oidc".to_string())];
            for (java_name, ours) in [
                ("clientId", "sasl.oauthbearer.client.id"),
                ("clientSecret", "sasl.oauthbearer.client.secret"),
                ("scope", "sasl.oauthbearer.scope"),
            ] {
                if let Some(v) = option(java_name) {
                    out.push((ours, v));
                }
            }
            let extensions: Vec<String> = options
                .iter()
                .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("extension_")?)))
                .collect();
            if !extensions.is_empty() {
                out.push(("sasl.oauthbearer.extensions", extensions.join(",")));
            }
            Ok(out)
        }
        // Kafka's unsecured JWTs (for tests and rehearsals): librdkafka builds the same token.
        "OAuthBearerLoginModule" => unsecured_jwt(&options).ok_or_else(|| format!(
            "sasl.jaas.config (OAuthBearerLoginModule) has neither clientId (OIDC) nor unsecuredLoginStringClaim_sub (an unsecured JWT): set the sasl.oauthbearer.* properties in {section} instead"
        )),
        _ => Err(format!(
            "sasl.jaas.config uses {module}, which cutover cannot translate to librdkafka: set the sasl.* properties in {section} instead"
        )),
    }
}

/// `OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice" …` as librdkafka's
/// unsecured-JWT settings (`sasl.oauthbearer.config`: principal, scope, lifeSeconds,
/// extensions), or `None` without a subject.
fn unsecured_jwt(options: &BTreeMap<String, String>) -> Option<Vec<(&'static str, String)>> {
    let principal_claim = options
        .get("unsecuredLoginPrincipalClaimName")
        .map_or("sub", String::as_str);
    let principal = options.get(&format!("unsecuredLoginStringClaim_{principal_claim}"))?;
    let mut config = vec![format!("principal={principal}")];
    if principal_claim != "sub" {
        config.push(format!("principalClaimName={principal_claim}"));
    }
    // Java writes a list claim with its separator first: ",read,write".
    if let Some(scope) = options.get("unsecuredLoginListClaim_scope") {
        let mut chars = scope.chars();
        if let Some(separator) = chars.next() {
            let items: Vec<&str> = chars
                .as_str()
                .split(separator)
                .filter(|s| !s.is_empty())
                .collect();
            config.push(format!("scope={}", items.join(",")));
        }
    }
    if let Some(life) = options.get("unsecuredLoginLifetimeSeconds") {
        config.push(format!("lifeSeconds={life}"));
    }
    for (k, v) in options {
        if let Some(name) = k.strip_prefix("unsecuredLoginExtension_") {
            config.push(format!("extension_{name}={v}"));
        }
    }
    Some(vec![
        ("enable.sasl.oauthbearer.unsecure.jwt", "true".to_string()),
        ("sasl.oauthbearer.config", config.join(" ")),
    ])
}

/// Parses `Module flag key="value" key=value;` (the first module only).
fn parse_jaas(text: &str) -> std::result::Result<(String, BTreeMap<String, String>), String> {
    let mut chars = text.chars().peekable();
    let mut tokens: Vec<String> = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None | Some(';') => break,
            Some('=') => tokens.push("=".into()),
            Some('"') => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quote is not closed".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(c) => s.push(c),
                            None => return Err("a quote is not closed".into()),
                        },
                        Some(c) => s.push(c),
                    }
                }
                // Quoted text is always a value; mark it so `=` inside cannot confuse us.
                tokens.push(format!("\"{s}"));
            }
            Some(c) => {
                let mut s = String::from(c);
                while chars
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !matches!(c, '=' | ';' | '"'))
                {
                    s.extend(chars.next());
                }
                tokens.push(s);
            }
        }
    }
    let mut tokens = tokens.into_iter();
    let module = tokens.next().ok_or("no login module")?;
    let _flag = tokens.next().ok_or("no control flag")?;
    let mut options = BTreeMap::new();
    let rest: Vec<String> = tokens.collect();
    for chunk in rest.chunks(3) {
        match chunk {
            [name, eq, value] if eq == "=" && !name.starts_with('"') => {
                let value = value.strip_prefix('"').unwrap_or(value);
                options.insert(name.clone(), value.to_string());
            }
            _ => return Err("an option is not name=value".into()),
        }
    }
    Ok((module, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(pairs: &[(&str, &str)]) -> Translation {
        let java = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        translate_java(&java, "[origin]")
    }

    /// Pairs of keys and values, as written in a test table.
    type Pairs = &'static [(&'static str, &'static str)];

    #[test]
    fn translates_java_client_properties_to_librdkafka() {
        let cases: &[(&str, Pairs, Pairs)] = &[
            (
                "plain jaas and mechanism",
                &[
                    ("bootstrap.servers", "b:9092"),
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="svc" password="p w\"x";"#,
                    ),
                ],
                &[
                    ("bootstrap.servers", "b:9092"),
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", "PLAIN"),
                    ("sasl.username", "svc"),
                    ("sasl.password", "p w\"x"),
                ],
            ),
            (
                "scram jaas, unquoted values",
                &[(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required\n username=svc password=pw ;",
                )],
                &[("sasl.username", "svc"), ("sasl.password", "pw")],
            ),
            (
                "kerberos jaas",
                &[(
                    "sasl.jaas.config",
                    r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k.keytab" principal="svc@REALM";"#,
                )],
                &[
                    ("sasl.kerberos.keytab", "/k.keytab"),
                    ("sasl.kerberos.principal", "svc@REALM"),
                ],
            ),
            (
                "oauth client credentials jaas",
                &[(
                    "sasl.jaas.config",
                    r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="id" clientSecret="s" scope="kafka" extension_logicalCluster="lkc-1";"#,
                )],
                &[
                    ("sasl.oauthbearer.method", "oidc"),
                    ("sasl.oauthbearer.client.id", "id"),
                    ("sasl.oauthbearer.client.secret", "s"),
                    ("sasl.oauthbearer.scope", "kafka"),
                    ("sasl.oauthbearer.extensions", "logicalCluster=lkc-1"),
                ],
            ),
            (
                "oauth unsecured jwt jaas (Kafka's test tokens)",
                &[(
                    "sasl.jaas.config",
                    r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice" unsecuredLoginListClaim_scope=",read,write" unsecuredLoginLifetimeSeconds="600" unsecuredLoginExtension_traceId="t1";"#,
                )],
                &[
                    ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
                    (
                        "sasl.oauthbearer.config",
                        "principal=alice scope=read,write lifeSeconds=600 extension_traceId=t1",
                    ),
                ],
            ),
            (
                "PEM truststore and keystore",
                &[
                    ("ssl.truststore.type", "pem"),
                    ("ssl.truststore.location", "/ca.pem"),
                    ("ssl.truststore.password", "unused"),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.location", "/client.pem"),
                    ("ssl.key.password", "kp"),
                    ("ssl.endpoint.identification.algorithm", ""),
                ],
                &[
                    ("ssl.ca.location", "/ca.pem"),
                    ("ssl.certificate.location", "/client.pem"),
                    ("ssl.key.location", "/client.pem"),
                    ("ssl.key.password", "kp"),
                    ("ssl.endpoint.identification.algorithm", "none"),
                ],
            ),
            (
                "PKCS12 keystore and inline PEM",
                &[
                    ("ssl.keystore.type", "PKCS12"),
                    ("ssl.keystore.location", "/client.p12"),
                    ("ssl.keystore.password", "ksp"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----"),
                ],
                &[
                    ("ssl.keystore.location", "/client.p12"),
                    ("ssl.keystore.password", "ksp"),
                    ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----"),
                ],
            ),
            (
                "java-only keys dropped",
                &[
                    ("client.id", "me"),
                    ("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"),
                    ("value.deserializer", "x"),
                    ("sasl.login.callback.handler.class", "x"),
                    ("interceptor.classes", "x"),
                    ("default.api.timeout.ms", "1"),
                ],
                &[("client.id", "me")],
            ),
        ];
        for (name, java, expected) in cases {
            let t = translate(java);
            let expected: BTreeMap<String, String> = expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(t.properties, expected, "{name}");
            assert!(
                t.problems.is_empty(),
                "{name}: {:?}",
                t.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
            );
        }
        let t = translate(&[
            ("key.deserializer", "x"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.truststore.password", "x"),
        ]);
        assert_eq!(
            t.dropped,
            vec!["key.deserializer", "ssl.truststore.password"]
        );
    }

    #[test]
    fn untranslatable_java_properties_are_problems_without_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("ssl.truststore.location", "/ts.jks"), ("ssl.truststore.password", "tspw")],
                "ssl.truststore.location is a JKS truststore, which librdkafka cannot read: export its CA certificates to a PEM file",
            ),
            (
                &[("ssl.keystore.location", "/ks.jks"), ("ssl.keystore.type", "JKS")],
                "ssl.keystore.location is a JKS keystore, which librdkafka cannot read: convert it to PKCS12",
            ),
            (
                &[("sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;")],
                "sasl.jaas.config uses software.amazon.msk.auth.iam.IAMLoginModule, which cutover cannot translate",
            ),
            (
                &[("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";")],
                "needs both username and password",
            ),
            (
                &[("sasl.jaas.config", "x.PlainLoginModule required password=\"tspw")],
                "sasl.jaas.config cannot be read (a quote is not closed)",
            ),
        ];
        for (java, needle) in cases {
            let t = translate(java);
            let messages: Vec<&String> = t.problems.iter().map(|p| &p.message).collect();
            assert!(
                messages.iter().any(|m| m.contains(needle)),
                "{needle}: {messages:?}"
            );
            assert!(messages.iter().all(|m| !m.contains("tspw")), "{messages:?}");
        }
    }
}
