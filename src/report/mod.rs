//! Renderers: one report model, shown as a terminal table, JSON, Markdown or (for cutovers)
//! self-contained HTML. Renderers decide nothing; they only lay out what the report already
//! says.

pub mod cutover;
mod tables;

pub use tables::{audit_markdown, audit_table, verify_markdown, verify_table};

/// Pretty JSON of any report (which carries its own `schema_version`).
pub fn json<T: serde::Serialize>(report: &T) -> String {
    serde_json::to_string_pretty(report).expect("reports are plain data and always serialise")
}
