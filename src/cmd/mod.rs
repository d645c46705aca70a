//! The command layer: one file per command, in the manner of mini-redis's `cmd/`.
//!
//! [`args`] turns a parsed command line into checked, typed values without touching anything
//! (pure); [`context`] wires the clients a command needs from the configuration; each command
//! file (`verify`, `audit`, `group`, `report`, `scenario`) runs one command and returns its
//! report and exit code; [`output`] writes reports to stdout; [`dispatch`] is the one place
//! that knows every command. The simulator drives the same [`args::prepare`] and
//! [`execute::execute`] against its own [`Context`], so a scenario runs the agent unchanged.
//!
//! Layering: `dispatch` → `scenario` → the simulator (`crate::sim`) → `execute` → the other
//! commands. Nothing below `scenario` imports it, so the simulator never calls back into the
//! command that started it. `promote`, `watch` and `run` have their grammar in `cli.rs` and are
//! refused by `args` until they are built.

pub mod args;
mod audit;
pub mod context;
mod dispatch;
pub mod execute;
mod group;
pub mod kit;
pub mod output;
mod promote;
mod report;
mod run;
mod scenario;
mod verify;
mod watch;

pub use args::{prepare, Prepared};
pub use context::Context;
pub use dispatch::run;
pub use execute::{execute, Outcome, Report};
