//! What `cutover group --dry-run` reports: the steps a cutover would take, the settings it
//! would run with, the group's verdicts now, and whether it would be refused. Data only: the
//! dry run (`cutover::dry_run::plan`) assembles it and `report::group` lays it out.

use serde::Serialize;

use crate::cutover::machine::{Phase, Settings};
use crate::model::GroupId;

use super::verify::VerifyReport;

/// What `--dry-run` prints: the hooks that would run and the current verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub group: GroupId,
    pub steps: Vec<PlanStep>,
    pub sync_interval_ms: i64,
    pub sync_interval_source: String,
    pub settings: Settings,
    pub verify: VerifyReport,
    /// Why the cutover would be refused right now, if it would.
    pub refusal: Option<String>,
    /// `--offsets-by-time`: where the group would start on the copy now, and the cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets_by_time: Option<super::OffsetsByTime>,
}

/// One step of the plan: the phase, what it does, and how its effect is checked.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    pub phase: Phase,
    pub action: String,
    pub check: String,
}
