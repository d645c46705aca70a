//! The link emulator started in-process for one test, with a REST client for its API and its
//! fault knobs.

use std::time::{Duration, Instant};

use crate::linksim::{LinkSim, LinkSimOptions, TlsFiles};

use super::kafka::{no_broker_change, props};
use super::lab::{lab, Secure};
use super::support::unique;
use cutover::model::Role;

/// A link emulator started in-process for one test, with a REST client.
pub struct Sim {
    pub sim: LinkSim,
    /// A client of the emulator's API: in the secure lab it trusts the lab's CA and sends the
    /// emulator's Basic credentials.
    pub http: reqwest::Client,
    pub link: String,
    /// The Basic credentials the emulator requires, if any.
    pub basic_auth: Option<(String, String)>,
    /// Records each mirror partition starts into its source (0: offsets kept).
    pub copy_offset_shift: i64,
}

impl Sim {
    /// The `CUTOVER_*` variables that point the `cutover` binary at the lab's two clusters
    /// and this emulator (pass them to `Command::envs`).
    /// In the secure lab these are its SASL_SSL listeners, the agent's principal and the
    /// emulator's HTTPS URL and Basic credentials ([`super::Lab::agent_env`]).
    pub fn cutover_env(&self) -> Vec<(&'static str, String)> {
        let mut env = lab().agent_env();
        env.extend([
            ("CUTOVER_LINK_NAME", self.link.clone()),
            ("CUTOVER_LINK_REST_URL", self.sim.rest_url()),
            (
                "CUTOVER_DESTINATION_CLUSTER_ID",
                self.sim.cluster_id().to_string(),
            ),
        ]);
        if let Some((user, password)) = &self.basic_auth {
            env.retain(|(k, _)| !matches!(*k, "CUTOVER_LINK_USERNAME" | "CUTOVER_LINK_PASSWORD"));
            env.push(("CUTOVER_LINK_USERNAME", user.clone()));
            env.push(("CUTOVER_LINK_PASSWORD", password.clone()));
        }
        env
    }

    pub async fn start(configs: &[(&str, &str)]) -> Sim {
        Sim::start_with(configs, None).await
    }

    pub async fn start_with(configs: &[(&str, &str)], basic_auth: Option<(&str, &str)>) -> Sim {
        Sim::start_between(Role::Origin, configs, basic_auth, 0).await
    }

    /// A copy that does not keep offsets (a replicator's stand-in): each mirror partition
    /// starts `shift` records into its source, so offsets differ by `shift`; no offset sync.
    pub async fn start_replicator(shift: i64, configs: &[(&str, &str)]) -> Sim {
        Sim::start_between(Role::Origin, configs, None, shift).await
    }

    /// A link in the other direction (destination → origin), for the groups that stay on the
    /// origin: its sources are the lab's destination topics, its mirrors are on the origin
    /// (with `cluster.link.prefix` when `configs` sets one). Point the agent at it with
    /// [`Sim::reverse_env`].
    pub async fn start_reverse(configs: &[(&str, &str)]) -> Sim {
        Sim::start_between(Role::Destination, configs, None, 0).await
    }

    /// The `CUTOVER_REVERSE_LINK_*` variables that name this emulator as the reverse link
    /// (`[reverse-link]`), beside [`Sim::cutover_env`] of the forward one.
    pub fn reverse_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("CUTOVER_REVERSE_LINK_NAME", self.link.clone()),
            ("CUTOVER_REVERSE_LINK_REST_URL", self.sim.rest_url()),
            (
                "CUTOVER_ORIGIN_CLUSTER_ID",
                self.sim.cluster_id().to_string(),
            ),
        ];
        if let Some((user, password)) = &self.basic_auth {
            env.push(("CUTOVER_REVERSE_LINK_USERNAME", user.clone()));
            env.push(("CUTOVER_REVERSE_LINK_PASSWORD", password.clone()));
        }
        if let Some(s) = lab().secure.as_ref() {
            let path = |p: &std::path::PathBuf| p.display().to_string();
            env.push(("CUTOVER_REVERSE_LINK_CA_FILE", path(&s.ca)));
            env.push(("CUTOVER_REVERSE_LINK_CERT_FILE", path(&s.client_cert)));
            env.push(("CUTOVER_REVERSE_LINK_KEY_FILE", path(&s.client_key)));
        }
        env
    }

    /// An emulator whose source cluster is `sources` (the lab's origin for a forward link).
    async fn start_between(
        sources: Role,
        configs: &[(&str, &str)],
        basic_auth: Option<(&str, &str)>,
        copy_offset_shift: i64,
    ) -> Sim {
        // The emulator's clients bootstrap now: not while another test runs an extra origin
        // broker that it will kill (a client that learned of it may later pick it).
        let _no_broker_change = no_broker_change().await;
        let link = unique("link");
        let (from, to) = match sources {
            Role::Origin => (&lab().origin, &lab().destination),
            Role::Destination => (&lab().destination, &lab().origin),
        };
        let secure = lab().secure.as_ref();
        let basic_auth = basic_auth
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .or_else(|| secure.map(|s| (s.rest_user.clone(), s.rest_password.clone())));
        let options = LinkSimOptions {
            link_name: link.clone(),
            origin: props(from),
            destination: props(to),
            listen: "127.0.0.1:0".parse().expect("address"),
            basic_auth: basic_auth.clone(),
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            copy_offset_shift,
            tls: secure.map(|s| TlsFiles {
                cert_chain: s.server_cert.clone(),
                key: s.server_key.clone(),
                client_ca: Some(s.ca.clone()),
            }),
        };
        let sim = LinkSim::start(options).await.expect("emulator starts");
        Sim {
            sim,
            http: http_client(secure, basic_auth.as_ref()),
            link,
            basic_auth,
            copy_offset_shift,
        }
    }

    /// A client of the emulator's API that sends no credentials (in the secure lab it still
    /// trusts the lab's CA and presents the client certificate): for tests of refused requests.
    pub fn anonymous_http(&self) -> reqwest::Client {
        http_client(lab().secure.as_ref(), None)
    }

    /// `{rest}/clusters/{id}/links/{link}{path}`.
    pub fn link_url(&self, path: &str) -> String {
        format!(
            "{}/clusters/{}/links/{}{path}",
            self.sim.rest_url(),
            self.sim.cluster_id(),
            self.link
        )
    }

    pub async fn get(&self, url: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(url).send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Creates the mirror of `topic`. A 503 (the emulator's own call to a broker timed out, as
    /// happens on a loaded 2-core machine) is retried, as any client of the API would.
    pub async fn create_mirror(&self, topic: &str) {
        let _no_broker_change = no_broker_change().await;
        let mut attempt = 1;
        loop {
            let (status, body) = self
                .send(
                    reqwest::Method::POST,
                    &self.link_url("/mirrors"),
                    serde_json::json!({ "source_topic_name": topic }),
                )
                .await;
            if status == 503 && attempt < 3 {
                eprintln!("create mirror {topic}: attempt {attempt}: {body}; again");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            assert_eq!(status, 204, "create mirror {topic}: {body}");
            return;
        }
    }

    pub async fn mirror(&self, topic: &str) -> serde_json::Value {
        let (status, body) = self
            .get(&self.link_url(&format!(
                "/mirrors/{topic}?include_state_transition_errors=true"
            )))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn alter(&self, action: &str, topic: &str) -> serde_json::Value {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                &self.link_url(&format!("/mirrors:{action}")),
                serde_json::json!({ "mirror_topic_names": [topic] }),
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        body["data"][0].clone()
    }

    pub async fn faults(&self, faults: serde_json::Value) {
        let r = self
            .http
            .put(format!("{}/faults", self.sim.admin_url()))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert_eq!(r.status().as_u16(), 204);
    }

    pub async fn set_config(&self, name: &str, value: &str) {
        let (status, body) = self
            .send(
                reqwest::Method::PUT,
                &self.link_url(&format!("/configs/{name}")),
                serde_json::json!({ "value": value }),
            )
            .await;
        assert_eq!(status, 204, "{name}={value}: {body}");
    }

    /// How many offset-sync ticks the emulator has run (its admin status).
    pub async fn sync_ticks(&self) -> u64 {
        let (status, doc) = self.get(&format!("{}/status", self.sim.admin_url())).await;
        assert_eq!(status, 200, "{doc}");
        doc["offset_sync"]["ticks"].as_u64().unwrap_or(0)
    }

    /// Waits for the emulator's next offset-sync tick to start (up to `limit`).
    pub async fn wait_for_tick(&self, limit: Duration) {
        let before = self.sync_ticks().await;
        let deadline = Instant::now() + limit;
        while self.sync_ticks().await == before {
            assert!(
                Instant::now() < deadline,
                "no offset-sync tick in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the emulator reports the mirror caught up (lag 0 on every partition) and
    /// both clusters agree.
    pub async fn wait_caught_up(&self, topic: &str, partitions: i32) {
        use cutover::kafka::{Cluster, OffsetSpec, RdKafkaCluster};
        let origin = RdKafkaCluster::connect(
            cutover::model::Role::Origin,
            &props(&lab().origin),
            Duration::from_secs(10),
        )
        .unwrap();
        let dest = RdKafkaCluster::connect(
            cutover::model::Role::Destination,
            &props(&lab().destination),
            Duration::from_secs(10),
        )
        .unwrap();
        let tps: Vec<_> = (0..partitions)
            .map(|p| cutover::model::TopicPartition::new(topic, p))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = origin.list_offsets(&tps, OffsetSpec::Latest).await.unwrap();
            let d = dest.list_offsets(&tps, OffsetSpec::Latest).await.unwrap();
            // A shifted copy (a replicator's stand-in) ends `shift` records short.
            let d: std::collections::BTreeMap<_, _> = d
                .into_iter()
                .map(|(tp, r)| {
                    let shifted =
                        r.map(|e| cutover::model::Offset(e.get() + self.copy_offset_shift));
                    (tp, shifted)
                })
                .collect();
            let m = self.mirror(topic).await;
            // The link's own figures must have seen the origin's ends too: a refresh read
            // before the records landed reports lag 0 at offset 0 until the next one.
            let lags_zero = m["mirror_lags"].as_array().is_some_and(|l| {
                l.len() == tps.len()
                    && l.iter().all(|x| {
                        let tp = cutover::model::TopicPartition::new(
                            topic,
                            x["partition"].as_i64().unwrap_or(-1) as i32,
                        );
                        let end = o.get(&tp).and_then(|r| r.as_ref().ok()).map(|e| e.get());
                        x["lag"] == 0 && x["last_source_fetch_offset"].as_i64() == end
                    })
            });
            if o == d && lags_zero {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{topic} never caught up: origin {o:?} mirror {d:?} rest {m}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A client of the emulator: trusting the secure lab's CA, sending Basic credentials when the
/// emulator requires them.
fn http_client(secure: Option<&Secure>, basic_auth: Option<&(String, String)>) -> reqwest::Client {
    use base64::Engine as _;
    let mut builder = reqwest::Client::builder();
    if let Some(s) = secure {
        let pem = std::fs::read(&s.ca).expect("the secure lab's CA file is readable");
        let ca = reqwest::Certificate::from_pem(&pem).expect("the secure lab's CA is PEM");
        let mut identity = std::fs::read(&s.client_key).expect("the client key is readable");
        identity.extend(std::fs::read(&s.client_cert).expect("the client certificate is readable"));
        let identity =
            reqwest::Identity::from_pem(&identity).expect("the client certificate and key are PEM");
        builder = builder.add_root_certificate(ca).identity(identity);
    }
    if let Some((user, password)) = basic_auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
            .expect("Basic credentials make a header value");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    builder.build().expect("the HTTP client builds")
}
