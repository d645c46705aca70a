//! The report of `cutover audit`: whether promotion is safe now, the promotion verdict's
//! figures and findings (`crate::promotion`), and where they came from. Data only: `audit`
//! reads the clusters and assembles it, `report::tables` lays it out.

use serde::Serialize;

use crate::promotion::{AuditFinding, GroupAudit, MirrorAudit, OriginMovement};

use super::json::serialize_in_parallel;

/// The report of `cutover audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub schema_version: u32,
    pub link: String,
    pub mirror_status_source: &'static str,
    pub offsets: &'static str,
    pub window_ms: u64,
    pub promotion_safe: bool,
    pub findings: Vec<AuditFinding>,
    pub mirrors: Vec<MirrorAudit>,
    pub origin_moving: Vec<OriginMovement>,
    #[serde(serialize_with = "serialize_in_parallel")]
    pub groups: Vec<GroupAudit>,
}
