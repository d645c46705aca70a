//! `cutover-linksim`: a cluster link between two real Apache Kafka clusters.
//!
//! Cluster Linking only runs inside Confluent Server and Confluent Cloud. This emulator gives
//! the agent, its tests and operators' rehearsals a link that behaves like one: mirror topics
//! with identical offsets, consumer-offset sync with the link's filters and interval, and the
//! Confluent REST v3 subset the agent uses, plus fault knobs on an admin path. Where the
//! reference leaves behaviour unconfirmed, it does what makes the agent's job hardest (see the
//! README's emulator section). It is a test fixture and a rehearsal tool, never part of a
//! production path.
//!
//! The link's rules (configs and their validation, filters, mirror states, promote's refusal)
//! are the model in `cutover::sim::link_model`, shared with the simulator; this module adds
//! what only a live emulator does: `engine` copies records, `sync` syncs group offsets,
//! `background` refreshes lags and follows the source topics, `ops` creates and changes
//! mirrors, `rest` serves the API and the fault knobs.

mod background;
mod emulator;
mod engine;
mod ops;
mod rest;
mod sync;
mod tls;

pub(crate) use emulator::Shared;
pub use emulator::{LinkSim, LinkSimOptions};
pub use tls::TlsFiles;
