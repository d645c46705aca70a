//! `cutover-linksim`: a cluster link emulator between two Apache Kafka clusters.
//!
//! Prints one line on stdout once it serves (`listening on http(s)://HOST:PORT/kafka/v3`), logs to
//! stderr, and stops on SIGINT or SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use clap::Parser;
use cutover_lab::linksim::{LinkSim, LinkSimOptions, TlsFiles};

#[derive(Debug, Parser)]
#[command(
    name = "cutover-linksim",
    version,
    about = "Emulates a Confluent cluster link between two Apache Kafka clusters: mirror topics with identical offsets, consumer-offset sync, and the REST v3 API"
)]
struct Args {
    /// bootstrap.servers of the origin (source) cluster.
    #[arg(long, env = "CUTOVER_ORIGIN_BOOTSTRAP")]
    origin_bootstrap: String,
    /// bootstrap.servers of the destination cluster (the one that owns the link).
    #[arg(long, env = "CUTOVER_DESTINATION_BOOTSTRAP")]
    destination_bootstrap: String,
    /// The link's name.
    #[arg(long, env = "CUTOVER_LINK_NAME", default_value = "cutover-link")]
    link_name: String,
    /// Address of the REST API (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A link config set at creation, e.g. consumer.offset.sync.ms=5000 (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
    configs: Vec<(String, String)>,
    /// An extra librdkafka property for the origin client (repeatable).
    #[arg(long = "origin-property", value_name = "KEY=VALUE", value_parser = key_value)]
    origin_properties: Vec<(String, String)>,
    /// An extra librdkafka property for the destination clients (repeatable).
    #[arg(long = "destination-property", value_name = "KEY=VALUE", value_parser = key_value)]
    destination_properties: Vec<(String, String)>,
    /// Require HTTP Basic auth on the REST API; the value is read from this environment
    /// variable as USER:PASSWORD (never from the command line, which other users can see).
    #[arg(long, value_name = "ENV_VAR")]
    basic_auth_env: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs
    /// --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require a client certificate issued by this PEM CA (mutual TLS); needs --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// Copy like a replicator, without keeping offsets: each mirror partition starts this
    /// many records into its source, so offsets differ by it (0: a cluster link, offsets kept).
    /// Such a copy syncs no consumer offsets.
    #[arg(long, value_name = "RECORDS", default_value_t = 0)]
    copy_offset_shift: i64,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn main() {
    let args = Args::parse();
    let filter = match args.verbose {
        0 => "warn,cutover_lab::linksim=info",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    std::process::exit(runtime.block_on(run(args)));
}

async fn run(args: Args) -> i32 {
    let basic_auth = match &args.basic_auth_env {
        None => None,
        Some(var) => match std::env::var(var).ok().and_then(|v| {
            v.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        }) {
            Some(creds) => Some(creds),
            None => {
                eprintln!("error: --basic-auth-env {var}: the variable must hold USER:PASSWORD");
                return 2;
            }
        },
    };
    let props = |bootstrap: &str, extra: &[(String, String)]| {
        let mut p = BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())]);
        p.extend(extra.iter().cloned());
        p
    };
    let options = LinkSimOptions {
        link_name: args.link_name.clone(),
        origin: props(&args.origin_bootstrap, &args.origin_properties),
        destination: props(&args.destination_bootstrap, &args.destination_properties),
        listen: args.listen,
        basic_auth,
        configs: args.configs.clone(),
        copy_offset_shift: args.copy_offset_shift,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert_chain), Some(key)) => Some(TlsFiles {
                cert_chain: cert_chain.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            }),
            _ => None,
        },
    };
    let sim = match LinkSim::start(options).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("{}", e.render());
            return e.exit_code();
        }
    };
    println!(
        "listening on {} (link {}, destination cluster {})",
        sim.rest_url(),
        sim.link_name(),
        sim.cluster_id()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install the SIGTERM handler: {e}");
            return 2;
        }
    };
    tokio::select! {
        _ = sim.wait() => 1,
        _ = tokio::signal::ctrl_c() => 0,
        _ = term.recv() => 0,
    }
}
