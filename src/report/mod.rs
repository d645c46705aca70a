//! Renderers: one report model, shown as a terminal table, JSON, Markdown or (for cutovers)
//! self-contained HTML. Renderers decide nothing; they only lay out what the report already
//! says.

pub mod cutover;
mod group;
mod tables;

pub use group::{cutover_summary_markdown, cutover_summary_text, plan_markdown, plan_text};
pub use tables::{audit_markdown, audit_table, verify_markdown, verify_table};

/// Pretty JSON of any report (which carries its own `schema_version`).
pub fn json<T: serde::Serialize>(report: &T) -> String {
    serde_json::to_string_pretty(report).expect("reports are plain data and always serialise")
}
