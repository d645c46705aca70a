//! Witnesses of the link's offset-sync ticks, for the proof of an exclusion (agent mode).
//!
//! A tick is invisible by itself; its effect is. Other groups the link's filters include and
//! that run on the origin get their new offsets copied to the destination at every tick, so
//! when their destination offsets move, a tick has just passed. The machine uses that to end
//! the proof at the first tick after the exclusion rather than after a full interval
//! (`machine/agent.rs`); without witnesses it waits the interval.
//!
//! The witnesses are chosen once per run: up to [`MAX_WITNESSES`] groups, by name, that the
//! filters include, that have members on the origin, and that are not the group being cut
//! over. Each observation reads their committed offsets on the destination in one request, and
//! reduces each group to the sum of its offsets: enough to see a change, deterministic, small
//! enough to checkpoint. Nothing here is needed for safety: no witness, no early proof.
//!
//! What a witness cannot tell apart from a tick: someone resetting its offsets on the
//! destination by hand, at the moment the proof runs. A witness another cutover moves is
//! dropped once the filters exclude it (that cutover excludes it long before it writes).

use std::collections::BTreeMap;

use crate::kafka::{Cluster, GroupState};
use crate::link::filters::Filters;
use crate::model::GroupId;

/// How many other groups are watched for ticks, at most.
pub const MAX_WITNESSES: usize = 8;

/// Chooses the witnesses among the groups `filters` (the link's, read with the observation)
/// include; none when the origin cannot list its groups.
pub async fn choose(origin: &dyn Cluster, group: &GroupId, filters: &Filters) -> Vec<GroupId> {
    let Ok(listed) = origin.list_groups().await else {
        return Vec::new();
    };
    let mut witnesses: Vec<GroupId> = listed
        .groups
        .into_iter()
        .filter(|l| !matches!(l.state, GroupState::Empty | GroupState::Dead))
        .map(|l| l.group)
        .filter(|g| g != group && filters.includes(g.as_str()))
        .collect();
    witnesses.sort();
    witnesses.truncate(MAX_WITNESSES);
    witnesses
}

/// Each witness's committed offsets on the destination, summed. Only witnesses `filters` (the
/// link's, read with this observation) still include count: one excluded since (another
/// cutover moving it) changes its offsets by other means than a tick. A group whose offsets
/// could not be read is left out.
pub async fn read(
    destination: &dyn Cluster,
    witnesses: &[GroupId],
    filters: &Filters,
) -> BTreeMap<String, i64> {
    let synced: Vec<GroupId> = witnesses
        .iter()
        .filter(|g| filters.includes(g.as_str()))
        .cloned()
        .collect();
    if synced.is_empty() {
        return BTreeMap::new();
    }
    let Ok(committed) = destination.committed_offsets(&synced).await else {
        return BTreeMap::new();
    };
    committed
        .into_iter()
        .filter_map(|(g, offsets)| {
            let offsets = offsets.ok()?;
            let sum = offsets
                .values()
                .filter_map(|o| o.as_ref().ok())
                .fold(0i64, |acc, o| acc.wrapping_add(o.get()));
            Some((g.0, sum))
        })
        .collect()
}
