//! `cutover report JOURNAL…`: a cutover's audit report, from its journal alone.
//!
//! Reads only the journals, never a cluster, so it works anywhere the journal files are: as a
//! terminal table, JSON, Markdown or one self-contained HTML page (several journals: with
//! downtime percentiles).

use std::path::PathBuf;

use crate::cli::Format;
use crate::error::{exit, Result};
use crate::report;

pub(super) fn run(journals: &[PathBuf], format: Format) -> Result<i32> {
    let reports = journals
        .iter()
        .map(|j| report::cutover::load(j))
        .collect::<Result<Vec<_>>>()?;
    let text = match format {
        Format::Table => report::cutover::table(&reports),
        Format::Markdown => report::cutover::markdown(&reports),
        Format::Html => report::cutover::html(&reports),
        Format::Json => report::cutover::json_document(&reports).to_string(),
    };
    super::output::print_text(&text)?;
    Ok(exit::OK)
}
