//! The reports: their data types (`VerifyReport`, `AuditReport`, `Plan`, `Summary`, and the
//! cutover report read back from a journal) and their renderers, one report model shown as a
//! terminal table, JSON, Markdown or (for cutovers) self-contained HTML. The commands fetch
//! and assemble the data elsewhere (`verify`, `audit`, `cutover::driver`); renderers decide
//! nothing, they only lay out what the report already says.

mod audit;
pub mod chain;
pub mod cutover;
pub(crate) mod group;
mod json;
mod plan;
pub mod promote;
pub mod runbook;
mod summary;
mod tables;
mod verify;
pub mod watch;

pub use audit::AuditReport;
pub use group::{cutover_summary_markdown, cutover_summary_text, plan_markdown, plan_text};
pub use json::{json, SCHEMA_VERSION};
pub use plan::{Plan, PlanStep};
pub use summary::{OffsetsByTime, Summary};
pub use tables::{audit_markdown, audit_table, verify_markdown, verify_table};
pub use verify::VerifyReport;
