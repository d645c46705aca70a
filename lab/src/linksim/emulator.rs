//! The emulator as a whole: it connects to both clusters, creates the link's state, serves the
//! REST API and runs the copying, offset-sync and background tasks until dropped.
//!
//! [`Shared`] is what those tasks share: the link's state (the model from
//! `cutover::sim::link_model`) under one lock, the clients of both clusters, and the emulator's
//! own offset-sync record. Tasks take the lock briefly and never hold it across a Kafka call.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;

use cutover::error::{Error, Result};
use cutover::kafka::RdKafkaCluster;
use cutover::model::Role;
use cutover::sim::link_model::LinkState;

use super::sync::SyncReport;
use super::tls::{TlsFiles, TlsListener};
use super::{background, engine, rest, sync};

/// Everything the emulator needs to start.
#[derive(Debug, Clone)]
pub struct LinkSimOptions {
    pub link_name: String,
    /// librdkafka properties for the origin (source) cluster.
    pub origin: BTreeMap<String, String>,
    /// librdkafka properties for the destination cluster, which owns the link.
    pub destination: BTreeMap<String, String>,
    /// Where the REST API listens (loopback; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Optional HTTP Basic credentials required on the emulated API.
    pub basic_auth: Option<(String, String)>,
    /// Link configs set at creation, as `kafka-cluster-links --create --config` would.
    pub configs: Vec<(String, String)>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// A copy that does not keep offsets, as a replicator's: each mirror partition starts
    /// this many records into its source partition, so a record's offset on the mirror is its
    /// source offset minus this. 0 (a cluster link) keeps offsets. Not a link config: a real
    /// link always keeps offsets.
    pub copy_offset_shift: i64,
}

/// State shared by the REST server and the background tasks.
pub(crate) struct Shared {
    state: Mutex<LinkState>,
    /// What the offset sync did, for the admin status endpoint (the emulator's own record).
    sync: Mutex<SyncReport>,
    pub(crate) origin: RdKafkaCluster,
    pub(crate) destination: RdKafkaCluster,
    pub(crate) basic_auth: Option<(String, String)>,
    /// librdkafka properties of the destination, for short-lived producers.
    pub(crate) destination_properties: BTreeMap<String, String>,
    pub(crate) wake: tokio::sync::Notify,
    /// [`LinkSimOptions::copy_offset_shift`].
    pub(crate) shift: i64,
    base_url: String,
    cluster_id: String,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LinkState> {
        // A panic while holding the lock would already have ended the emulator's task; the
        // state itself is always left consistent between statements.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn sync_report(&self) -> MutexGuard<'_, SyncReport> {
        // As for the state: the report is consistent between statements.
        self.sync.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/kafka/v3{path}", self.base_url)
    }

    pub(crate) fn cluster_id(&self) -> &str {
        &self.cluster_id
    }
}

/// A running emulator. Dropping it stops every task and the server.
pub struct LinkSim {
    addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    cluster_id: String,
    link_name: String,
    tasks: Vec<JoinHandle<()>>,
}

impl LinkSim {
    /// Connects to both clusters, creates the link and starts serving.
    pub async fn start(options: LinkSimOptions) -> Result<LinkSim> {
        if options.copy_offset_shift < 0 {
            return Err(Error::Config(format!(
                "the copy's offset shift is {}: it must be 0 (offsets kept) or more",
                options.copy_offset_shift
            )));
        }
        let timeout = Duration::from_secs(10);
        let origin = RdKafkaCluster::connect(Role::Origin, &options.origin, timeout)?;
        let destination =
            RdKafkaCluster::connect(Role::Destination, &options.destination, timeout)?;
        let source_cluster_id = origin.cluster_id().await?;
        let cluster_id = destination.cluster_id().await?;
        let acceptor = match &options.tls {
            Some(files) => Some(files.acceptor().map_err(Error::Config)?),
            None => None,
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", options.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot read the listening address: {e}")))?;
        let bootstrap = options
            .origin
            .get("bootstrap.servers")
            .cloned()
            .unwrap_or_default();
        let mut link = LinkState::new(
            options.link_name.clone(),
            link_id(&options.link_name, &cluster_id),
            source_cluster_id,
            &bootstrap,
        );
        // Creation-time configs may set read-only keys such as the prefix.
        link.apply_at_creation(&options.configs)
            .map_err(|r| Error::Config(format!("link config: {}", r.message)))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(link),
            sync: Mutex::new(SyncReport::default()),
            origin,
            destination,
            basic_auth: options.basic_auth.clone(),
            destination_properties: options.destination.clone(),
            wake: tokio::sync::Notify::new(),
            shift: options.copy_offset_shift,
            base_url: format!("{scheme}://{addr}"),
            cluster_id: cluster_id.clone(),
        });
        let (engine, verifier) =
            engine::Engine::new(shared.clone(), &options.origin, &options.destination)
                .map_err(|e| Error::Config(format!("cannot create the mirroring clients: {e}")))?;
        let app_state = shared.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let shared = app_state.clone();
                async move { rest::handle(shared, method, uri, headers, body).await }
            },
        );
        let server = tokio::spawn(async move {
            let served = match acceptor {
                Some(acceptor) => {
                    let tcp = listener;
                    axum::serve(TlsListener { tcp, acceptor }, app).await
                }
                None => axum::serve(listener, app).await,
            };
            if let Err(e) = served {
                tracing::error!(error = %e, "the REST server stopped");
            }
        });
        let tasks = vec![
            server,
            verifier,
            tokio::spawn(engine.run()),
            tokio::spawn(sync::run(shared.clone())),
            tokio::spawn(background::run(shared)),
        ];
        Ok(LinkSim {
            addr,
            scheme,
            cluster_id,
            link_name: options.link_name,
            tasks,
        })
    }

    /// The REST base URL, ending in `/kafka/v3`.
    pub fn rest_url(&self) -> String {
        format!("{}://{}/kafka/v3", self.scheme, self.addr)
    }

    /// The admin base URL for fault knobs, ending in `/linksim/v1`.
    pub fn admin_url(&self) -> String {
        format!("{}://{}/linksim/v1", self.scheme, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The destination cluster's id (the cluster that owns the link).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn link_name(&self) -> &str {
        &self.link_name
    }

    /// Runs until the process is asked to stop.
    pub async fn wait(mut self) {
        if let Some(server) = self.tasks.first_mut() {
            let _ = server.await;
        }
    }
}

impl Drop for LinkSim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A stable link id derived from the names, so restarts keep it.
fn link_id(link: &str, cluster: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (link, cluster).hash(&mut h);
    let a = h.finish();
    "x".hash(&mut h);
    let b = h.finish();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}
