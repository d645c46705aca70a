//! The simulator: an in-memory origin, destination and cluster link with producers and
//! consumer applications, on tokio's paused clock.
//!
//! A scenario file (`scenarios/*.toml`, format in `scenarios/README.md`) describes a world, a
//! timeline of events and faults, the agent's commands and the outcome expected. The agent runs
//! unchanged: its commands go through the same dispatch as on real clusters, reading the world
//! through [`SimCluster`] and [`SimLink`] (or the real [`KafkaOnlyLink`](crate::link::KafkaOnlyLink)
//! when the scenario gives the agent no REST access). A 30 s offset-sync interval costs no wall
//! time, and the same seed gives byte-identical output.

mod app;
mod cluster;
mod events;
mod expect;
mod flow;
mod hooks;
mod kafka;
mod link;
pub mod link_model;
mod runner;
pub mod scenario;
mod wiring;
mod world;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use app::{App, AutoOffsetReset, Consumption};
pub use cluster::SimCluster;
pub use hooks::SimHooks;
pub use kafka::{Log, SimGroup, SimKafka, Times};
pub use link::SimLink;
pub use runner::{run_file, run_scenario, verdict_line, ScenarioResult, StepRecord};
pub use world::{ReverseLink, World, EPOCH_MS};

/// The world shared by the simulated clusters, the link and the runner.
pub struct SharedWorld {
    world: Mutex<World>,
    /// Virtual time zero.
    start: tokio::time::Instant,
    /// How long each call to a simulated cluster or the link takes, in virtual time.
    latency: Duration,
}

impl SharedWorld {
    pub fn new(world: World, latency: Duration) -> SharedWorld {
        SharedWorld {
            world: Mutex::new(world),
            start: tokio::time::Instant::now(),
            latency,
        }
    }

    /// Puts a line in the scenario's transcript, stamped with the current virtual time.
    pub fn note(&self, what: String) {
        let at = tokio::time::Instant::now() - self.start;
        self.lock().events.push((at, what));
    }

    pub fn lock(&self) -> MutexGuard<'_, World> {
        // The world is only changed between statements that leave it consistent.
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn latency(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}
