//! The result of `cutover group`: how one run of one group's cutover ended, what it stopped
//! at and what to run next. Data only: the driver (`cutover::driver`) assembles it and
//! `report::group` lays it out. (The aggregate over many journals is `report::cutover`'s.)

use std::path::PathBuf;

use serde::Serialize;

use crate::cutover::machine::{Outcome, Phase};
use crate::journal::PartitionSample;
use crate::model::{FinalOffsets, GroupId, TimingParts, Timings};

/// The result of `cutover group`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub group: GroupId,
    pub run_id: String,
    pub outcome: Outcome,
    pub phase: Phase,
    pub reason: String,
    /// Who wrote the final offsets on the destination: `agent` or `link`.
    pub final_offsets: FinalOffsets,
    /// How the exclusion was proven before the stop (`final-offsets = "agent"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusion_proof: Option<String>,
    pub timings: Timings,
    /// Where the time went, part by part (from `timings`).
    pub parts: TimingParts,
    /// The final offsets the group stopped at on the origin, if it got that far.
    pub snapshot: Vec<PartitionSample>,
    pub journal: PathBuf,
    /// What to run next, when anything.
    pub next: Option<String>,
    /// `--offsets-by-time`: the mode and, per partition, where the group starts on the copy
    /// and how many records it reads twice or skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets_by_time: Option<OffsetsByTime>,
    /// Where the group goes on reading: the destination, or the origin (`--to origin`).
    pub restart_on: crate::model::Role,
}

/// The translation of the final offsets onto a copy that does not keep offsets.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct OffsetsByTime {
    pub mode: crate::translation::Mode,
    pub partitions: Vec<crate::translation::PartitionTranslation>,
}
