//! The report of `cutover verify`: the rule's judgement of each group, with where the figures
//! came from. Data only: `crate::verify` reads the clusters and assembles it, `report::tables`
//! lays it out.

use serde::Serialize;

use crate::rule::GroupJudgement;

use super::json::serialize_in_parallel;

/// The report of `cutover verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub link: String,
    /// Where mirror status comes from: the link's REST API, or nowhere (Kafka-only mode).
    pub mirror_status_source: &'static str,
    /// How log end offsets are read.
    pub offsets: &'static str,
    /// Every group may start on the destination now.
    pub safe: bool,
    /// Every group is safe to start or already moved: the exit code follows this.
    pub ok: bool,
    #[serde(serialize_with = "serialize_in_parallel")]
    pub groups: Vec<GroupJudgement>,
    /// Layout only (`--wide`): every column and every group's table in the terminal view.
    #[serde(skip)]
    pub wide: bool,
}
