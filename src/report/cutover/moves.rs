//! Where a group stopped on the origin and where it restarted on the destination, partition
//! by partition: the first thing a change ticket asks. Read from the journal alone: the
//! snapshot in the phase machine's last checkpoint, and the destination's committed offsets
//! the agent observed just before the restart.

use serde::Serialize;

use super::ObservationPoint;
use crate::journal::{Entry, Record};

/// One partition's move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionMove {
    pub topic: String,
    pub partition: i32,
    /// The group's final committed offset on the origin (the snapshot).
    pub stopped_at: Option<i64>,
    /// Its committed offset on the destination when the restart hook ran.
    pub restarted_from: Option<i64>,
}

/// The phases whose observations show the destination as the restart found it.
const BEFORE_RESTART: [&str; 2] = ["checking_offsets", "confirming_exclusion"];

pub(super) fn moves(entries: &[&Entry], observations: &[ObservationPoint]) -> Vec<PartitionMove> {
    let snapshot = entries.iter().rev().find_map(|e| match &e.record {
        Record::Phase { state, .. } => state.get("snapshot").and_then(|s| s.as_array()).cloned(),
        _ => None,
    });
    let Some(snapshot) = snapshot else {
        return Vec::new();
    };
    let before_restart = observations
        .iter()
        .rev()
        .find(|o| BEFORE_RESTART.contains(&o.phase.as_str()))
        .or_else(|| observations.iter().find(|o| o.phase == "awaiting_restart"));
    snapshot
        .iter()
        .filter_map(|row| {
            let topic = row.get("topic")?.as_str()?.to_string();
            let partition = i32::try_from(row.get("partition")?.as_i64()?).ok()?;
            let restarted_from = before_restart.and_then(|o| {
                o.partitions
                    .iter()
                    .find(|p| p.topic == topic && p.partition == partition)
                    .and_then(|p| p.destination_committed.map(|c| c.get()))
            });
            Some(PartitionMove {
                stopped_at: row.get("value").and_then(|v| v.as_i64()),
                restarted_from,
                topic,
                partition,
            })
        })
        .collect()
}
