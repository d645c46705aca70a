//! The clients a command runs against, wired from the configuration.
//!
//! A [`Context`] holds the two clusters, the link, the hooks and the settings a command needs.
//! [`Context::open`] builds the real one (rdkafka clients, the link's REST API or the
//! Kafka-only link); the simulator builds its own with simulated clusters and a virtual clock,
//! so the commands cannot tell the difference.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::cutover;
use crate::cutover::driver::Clock;
use crate::cutover::machine::Phase;
use crate::error::Result;
use crate::hooks::{ConfiguredHooks, Hooks};
use crate::kafka::{Cluster, RdKafkaCluster};
use crate::link::Link;
use crate::model::Role;
use crate::reverse::{open_link, Reverse};

/// The clusters, the link and the settings of one run.
pub struct Context {
    pub origin: Arc<dyn Cluster>,
    pub destination: Arc<dyn Cluster>,
    pub link: Box<dyn Link>,
    /// The way back to the origin (`[reverse-link]`), for `audit --stay` and a runbook's
    /// stages back to the origin; opened only when one needs it.
    pub reverse: Option<Reverse>,
    pub poll_interval: Duration,
    pub default_wait: Duration,
    /// Whether waits show progress on stderr (the simulator keeps its own transcript).
    pub progress: bool,
    pub hooks: Arc<dyn Hooks>,
    pub cutover: cutover::driver::Options,
    pub clock: Clock,
    /// `--format json`: commands that stream (`watch`) write a JSON line per event to stdout
    /// as it happens (the simulator keeps its own transcript).
    pub json_lines: bool,
    /// Told each phase a cutover enters (the simulator's `kill-at`).
    pub phase_watch: Option<Arc<tokio::sync::watch::Sender<Phase>>>,
    /// Where runbook stages spread their groups over agents (`[journal] store = "kafka"`, a
    /// runbook run).
    pub work: Option<Arc<dyn crate::runbook::spread::WorkQueue>>,
}

/// What a command shares with other agents through a shared journal store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Nothing: the command journals no cutover.
    Nothing,
    /// Group journals (`cutover group`).
    Journals,
    /// Group journals and work items (`cutover run`).
    JournalsAndWork,
}

impl Context {
    /// Loads the configuration (`config_file` and `CUTOVER_*` variables) and connects.
    /// `restart_on` is where the command's groups go on reading: the destination through
    /// `[link]`, or the origin through `[reverse-link]` (see [`crate::kafka::ClusterSide`]).
    /// `pair_reverse_mirrors`: a forward command also sees the reverse link's mirrors paired
    /// back to their sources (`link/paired.rs`), when a reverse link is configured.
    /// `sharing`: whether the command journals group cutovers (and spreads them over agents),
    /// so that a shared journal store (`[journal] store = "kafka"`) is opened (its topics
    /// created when missing).
    pub async fn open(
        config_file: Option<&Path>,
        restart_on: Role,
        pair_reverse_mirrors: bool,
        sharing: Sharing,
    ) -> Result<Context> {
        let env = crate::config::process_env();
        let config = Config::load(config_file, &env)?;
        tracing::debug!("configuration loaded");
        let timeout = config.link.timeout();
        let origin_client = Arc::new(RdKafkaCluster::connect(
            Role::Origin,
            &config.origin.properties,
            timeout,
        )?);
        let destination_client = Arc::new(RdKafkaCluster::connect(
            Role::Destination,
            &config.destination.properties,
            timeout,
        )?);
        let mut work: Option<Arc<dyn crate::runbook::spread::WorkQueue>> = None;
        let shared_journal = match (&config.journal, sharing) {
            (
                crate::config::JournalStore::Kafka {
                    cluster,
                    topic,
                    partitions,
                },
                Sharing::Journals | Sharing::JournalsAndWork,
            ) => {
                let client = match cluster {
                    Role::Origin => &origin_client,
                    Role::Destination => &destination_client,
                };
                let store =
                    crate::kafka::KafkaJournal::open(client, topic, *partitions, timeout).await?;
                if sharing == Sharing::JournalsAndWork {
                    let queue = crate::kafka::KafkaWorkQueue::open(
                        client,
                        &crate::config::work_topic(topic),
                        *partitions,
                        timeout,
                    )
                    .await?;
                    work = Some(Arc::new(queue));
                }
                Some(crate::journal::SharedStore {
                    replica: Arc::new(store),
                    filter_lease: crate::journal::lease::Bounds::for_writes(
                        config.link.longest_write(),
                    ),
                })
            }
            _ => None,
        };
        let origin: Arc<dyn Cluster> = origin_client;
        let destination: Arc<dyn Cluster> = destination_client;
        let mut journal_dir = config.cutover.journal_dir.clone();
        let reverse = config.reverse_link.clone().map(|config| Reverse {
            config,
            origin: origin.clone(),
            destination: destination.clone(),
            given: None,
        });
        let route = crate::reverse::route(
            origin.clone(),
            destination.clone(),
            open_link(&config.link, origin, destination),
            reverse.as_ref(),
            restart_on,
            pair_reverse_mirrors,
            &mut journal_dir,
        )
        .await?;
        let mut cutover_settings = config.cutover.clone();
        cutover_settings.journal_dir = journal_dir;
        Ok(Context {
            origin: route.origin,
            destination: route.destination,
            link: route.link,
            reverse,
            poll_interval: config.defaults.poll_interval,
            default_wait: config.defaults.wait,
            progress: true,
            hooks: Arc::new(ConfiguredHooks::new(&config.hooks)),
            cutover: cutover::driver::Options {
                cutover: cutover_settings,
                poll_interval: config.defaults.poll_interval,
                evidence: crate::version::evidence(&config),
                restart_on,
                shared_journal,
            },
            clock: Clock::System,
            json_lines: false,
            phase_watch: None,
            work,
        })
    }

    /// Both clusters answer, or the command fails as soon as librdkafka knows why (refused,
    /// unresolvable, TLS, authentication), naming the broker and the reason. Commands call it
    /// once their own arguments and configuration were found fit.
    pub async fn probe(&self) -> Result<()> {
        crate::kafka::probe_both(self.origin.as_ref(), self.destination.as_ref()).await
    }

    /// What the migration-wide commands run against.
    pub fn estate(&self) -> crate::estate::Estate<'_> {
        crate::estate::Estate {
            origin: self.origin.as_ref(),
            destination: self.destination.as_ref(),
            link: self.link.as_ref(),
            journal_dir: &self.cutover.cutover.journal_dir,
            clock: &self.clock,
            poll: self.poll_interval,
            progress: self.progress,
        }
    }

    /// The process exits right after the command: closing the Kafka clients would only make
    /// the operator wait (librdkafka's shutdown takes a few hundred milliseconds), and nothing
    /// is left to flush (cutover never produces or commits). The OS reclaims everything.
    pub fn leak_at_exit(self) -> &'static Context {
        Box::leak(Box::new(self))
    }
}
