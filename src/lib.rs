//! cutover moves Kafka consumer groups from an origin cluster to a destination cluster that
//! mirrors it through a cluster link, without a duplicate or a skipped message, and proves it.
//!
//! The crate is a library with a thin binary (`src/main.rs`). See `docs/design.md` for the
//! vocabulary and the phases; the README's architecture section maps it onto these modules.

pub mod audit;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod cutover;
pub mod duration;
pub mod error;
pub mod estate;
mod gather;
pub mod hooks;
pub mod journal;
pub mod kafka;
pub mod lag;
pub mod link;
pub mod model;
mod parallel;
pub mod progress;
pub mod promote;
pub mod promotion;
#[cfg(test)]
pub(crate) mod proptest_support;
pub mod report;
pub mod reverse;
pub mod rule;
pub mod runbook;
pub mod secret;
pub mod sim;
pub mod translation;
pub mod verify;
pub mod version;
pub mod watch;
