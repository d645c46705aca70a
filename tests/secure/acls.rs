//! What only the secure lab shows: the agent's principal is refused what the ACLs do not
//! grant, with an error naming the ACL; wrong credentials are named as such; a Java client's
//! `.properties` with SCRAM and OAUTHBEARER JAAS lines reaches the clusters.

use std::path::Path;

use cutover_lab::testkit::{lab, unique, Sim};

/// `cutover ARGS` as the agent with `sim`'s environment, minus `without`, plus `env`.
async fn cutover(
    sim: &Sim,
    args: &[&str],
    without: &[&str],
    env: &[(&str, String)],
) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    for (k, v) in sim.cutover_env() {
        if !without.contains(&k) {
            cmd.env(k, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_binary_runs_against_the_secure_lab() {
    let secure = lab()
        .secure
        .as_ref()
        .expect("the secure test binary runs the secure lab");
    let env = lab().agent_env();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("CUTOVER_ORIGIN_BOOTSTRAP"),
        Some(secure.origin.as_str())
    );
    assert_eq!(get("CUTOVER_ORIGIN_SECURITY_PROTOCOL"), Some("SASL_SSL"));
    assert_eq!(
        get("CUTOVER_DESTINATION_SASL_MECHANISMS"),
        Some("OAUTHBEARER")
    );
    let sim = Sim::start(&[]).await;
    assert!(
        sim.sim.rest_url().starts_with("https://"),
        "{}",
        sim.sim.rest_url()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_acls_do_not_cover_is_refused_naming_the_acl_to_add() {
    let sim = Sim::start(&[]).await;
    // The secure lab denies the agent every operation on groups named denied-*.
    let group = unique("denied-orders");
    let (code, stdout, stderr) = cutover(&sim, &["verify", &group], &[], &[]).await;
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("Describe on Group \"{group}\" is not allowed")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "grant the agent's principal ALLOW Describe on Group \"{group}\""
        )),
        "{stderr}"
    );
    assert!(stderr.contains("docs/security.md"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_named_not_timed_out() {
    let sim = Sim::start(&[]).await;
    let started = std::time::Instant::now();
    let (code, _, stderr) = cutover(
        &sim,
        &["verify", "g"],
        &["CUTOVER_ORIGIN_SASL_PASSWORD"],
        &[("CUTOVER_ORIGIN_SASL_PASSWORD", "not-the-password".into())],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("origin"), "{stderr}");
    assert!(stderr.to_lowercase().contains("authentication"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{stderr}"
    );

    // The REST API without its credentials: 401, named, exit 3.
    let (code, _, stderr) = cutover(
        &sim,
        &["verify", "g"],
        &["CUTOVER_LINK_USERNAME", "CUTOVER_LINK_PASSWORD"],
        &[],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    assert!(stderr.contains("username-env"), "{stderr}");

    // Without the client certificate the REST endpoint asks for, or without the CA that
    // signed its own: named as TLS at the first attempt, with the settings to check.
    for (without, says) in [
        (
            &["CUTOVER_LINK_CERT_FILE", "CUTOVER_LINK_KEY_FILE"][..],
            "CertificateRequired",
        ),
        (&["CUTOVER_LINK_CA_FILE"][..], "invalid peer certificate"),
    ] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = cutover(&sim, &["verify", "g"], without, &[]).await;
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("TLS handshake failed"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            stderr.contains("ca-file") && stderr.contains("cert-file"),
            "{stderr}"
        );
        assert!(!stderr.contains("attempts"), "not retried: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{stderr}"
        );
    }
}

/// Writes `name` with `lines` into `dir`.
fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_properties_with_scram_and_oauthbearer_jaas_reach_the_secure_clusters() {
    let secure = lab().secure.as_ref().expect("the secure lab");
    let sim = Sim::start(&[]).await;
    let dir = std::env::temp_dir().join(unique("secure-properties"));
    std::fs::create_dir_all(&dir).unwrap();
    // A Java client's PEM keystore: the key and the certificate in one file.
    let mut keystore = std::fs::read_to_string(&secure.client_key).unwrap();
    keystore.push_str(&std::fs::read_to_string(&secure.client_cert).unwrap());
    let keystore = write(&dir, "client-keystore.pem", &[keystore]);
    let tls = |bootstrap: &str| {
        vec![
            format!("bootstrap.servers={bootstrap}"),
            "security.protocol=SASL_SSL".into(),
            "ssl.truststore.type=PEM".into(),
            format!("ssl.truststore.location={}", secure.ca.display()),
            "ssl.keystore.type=PEM".into(),
            format!("ssl.keystore.location={keystore}"),
        ]
    };
    let mut origin = tls(&secure.origin);
    origin.push("sasl.mechanism=SCRAM-SHA-512".into());
    origin.push(format!(
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  username=\"{}\" password=\"{}\";",
        secure.user, secure.password
    ));
    let mut destination = tls(&secure.destination);
    destination.push("sasl.mechanism=OAUTHBEARER".into());
    destination.push(format!(
        "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"{}\";",
        secure.user
    ));
    let origin = write(&dir, "origin.properties", &origin);
    let destination = write(&dir, "destination.properties", &destination);

    let agent_kafka =
        |k: &str| k.starts_with("CUTOVER_ORIGIN_") || k.starts_with("CUTOVER_DESTINATION_");
    let without: Vec<&str> = sim
        .cutover_env()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| agent_kafka(k) && *k != "CUTOVER_DESTINATION_CLUSTER_ID")
        .collect();
    let group = unique("props-group");
    let (code, stdout, stderr) = cutover(
        &sim,
        &["verify", &group, "--format", "json"],
        &without,
        &[
            ("CUTOVER_ORIGIN_PROPERTIES_FILE", origin),
            ("CUTOVER_DESTINATION_PROPERTIES_FILE", destination),
        ],
    )
    .await;
    // Both clusters answered: the group is unknown on both (exit 1, not safe), no error.
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["groups"][0]["group"], group.as_str(), "{doc:#}");
    assert!(!stderr.contains("error:"), "{stderr}");
    assert!(!stdout.contains(&secure.password) && !stderr.contains(&secure.password));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_the_acls_do_not_cover_is_named_with_the_acl_to_add() {
    use cutover_lab::testkit::{commit_as_member, create_topic, produce, Protocol};
    let sim = Sim::start(&[]).await;
    // The secure lab denies the agent every operation on topics named denied-*.
    let topic = unique("denied-payments");
    let group = unique("payments-app");
    create_topic(&lab().origin, &topic, 1).await;
    produce(&lab().origin, &topic, &[(0, 10)]).await;
    commit_as_member(
        &lab().origin,
        &group,
        Protocol::Classic,
        &topic,
        1,
        &[(0, 5)],
    );
    sim.create_mirror(&topic).await;
    // Kafka answers a principal without Describe on the group's topic with no offsets at all,
    // not with an error: verify must say so, not leave NOT SAFE unexplained.
    let (code, stdout, stderr) = cutover(&sim, &["verify", &group], &[], &[]).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(
        all.contains("NO_OFFSETS_VISIBLE") && all.contains("ALLOW Describe on each Topic"),
        "{all}"
    );
}
