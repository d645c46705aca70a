//! The clients one simulated command runs against, wired as [`Context::open`] wires them on
//! real clusters: the forward link (REST or Kafka-only), paired with the reverse link's
//! mirrors for the forward commands that read pairs, or the origin seen as the two sides of
//! the reverse link for a move back (`--to origin`), with its journals apart.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::time::Instant;

use crate::cmd::Context;
use crate::config::LinkConfig;
use crate::cutover::driver::Clock;
use crate::cutover::machine::Phase;
use crate::error::Result;
use crate::kafka::Cluster;
use crate::link::{KafkaOnlyLink, Link};
use crate::model::Role;
use crate::reverse::Reverse;
use crate::sim::link::Which;
use crate::sim::scenario::Scenario;
use crate::sim::{SharedWorld, SimCluster, SimHooks, SimLink};

/// What every command's [`Context`] is built from.
pub(super) struct Wiring<'s> {
    pub s: &'s Scenario,
    pub world: Arc<SharedWorld>,
    pub journal_dir: PathBuf,
    pub start: Instant,
    /// Told each phase a cutover enters (the timeline's `kill-at`).
    pub phase: Arc<tokio::sync::watch::Sender<Phase>>,
}

impl Wiring<'_> {
    fn cluster(&self, role: Role) -> Arc<dyn Cluster> {
        Arc::new(SimCluster::new(role, self.world.clone()))
    }

    fn sim_link(&self, which: Which) -> Option<SimLink> {
        let (retries, timeout) = match which {
            Which::Forward => (self.s.link.retries, self.s.link.timeout),
            Which::Reverse => (
                crate::config::DEFAULT_REST_RETRIES,
                crate::config::DEFAULT_REST_TIMEOUT,
            ),
        };
        SimLink::new(
            self.world.clone(),
            which,
            retries,
            crate::config::REST_BACKOFF,
            timeout,
        )
    }

    fn forward_link(&self) -> Box<dyn Link> {
        match self.sim_link(Which::Forward) {
            Some(link) if self.s.link.rest => Box::new(link),
            _ => Box::new(KafkaOnlyLink::new(
                self.s.link.name.clone(),
                self.s.link.prefix.clone(),
                self.cluster(Role::Origin),
                self.cluster(Role::Destination),
            )),
        }
    }

    /// The way back, when the scenario has a reverse link.
    fn reverse(&self) -> Option<Reverse> {
        let spec = self.s.reverse_link.as_ref()?;
        let world = self.world.clone();
        let (retries, timeout) = (
            crate::config::DEFAULT_REST_RETRIES,
            crate::config::DEFAULT_REST_TIMEOUT,
        );
        Some(Reverse {
            config: LinkConfig {
                name: spec.name.clone(),
                rest: None,
                prefix: spec.prefix.clone(),
                timeout,
                retries,
            },
            origin: self.cluster(Role::Origin),
            destination: self.cluster(Role::Destination),
            given: Some(Arc::new(move || {
                let link = SimLink::new(
                    world.clone(),
                    Which::Reverse,
                    retries,
                    crate::config::REST_BACKOFF,
                    timeout,
                )
                .expect("the world has a reverse link (checked when wired)");
                Box::new(link) as Box<dyn Link>
            })),
        })
    }

    /// The context of one command whose groups go on reading on `restart_on`.
    pub async fn context(&self, restart_on: Role, pair_reverse_mirrors: bool) -> Result<Context> {
        let reverse = self.reverse();
        let mut options = self.s.cutover.options.clone();
        options.cutover.journal_dir = self.journal_dir.clone();
        options.restart_on = restart_on;
        let route = crate::reverse::route(
            self.cluster(Role::Origin),
            self.cluster(Role::Destination),
            async { Ok(self.forward_link()) },
            reverse.as_ref(),
            restart_on,
            pair_reverse_mirrors,
            &mut options.cutover.journal_dir,
        )
        .await?;
        Ok(Context {
            origin: route.origin,
            destination: route.destination,
            link: route.link,
            reverse,
            poll_interval: crate::config::DEFAULT_POLL_INTERVAL,
            default_wait: crate::config::DEFAULT_WAIT,
            progress: false,
            hooks: Arc::new(SimHooks::new(
                self.world.clone(),
                self.s.hooks.builtin_exclude,
                self.s.hooks.promote_hook,
                self.s.hooks.retries,
                self.s.hooks.latency,
            )),
            cutover: options,
            clock: Clock::Virtual {
                epoch_ms: crate::sim::EPOCH_MS,
                start: self.start,
            },
            json_lines: false,
            phase_watch: Some(self.phase.clone()),
            work: None,
        })
    }
}
