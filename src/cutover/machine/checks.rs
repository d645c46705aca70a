//! What the machine checks in an observation against the snapshot: partitions not synced or
//! not mirrored yet, offsets moving past the snapshot, mirrors that left `ACTIVE`, verdicts no
//! wait can fix. Pure functions of the observation.

use super::Observation;
use crate::model::Offsets;
use crate::rule::Verdict;

pub(super) fn offsets_text(m: &Offsets) -> String {
    m.iter()
        .map(|(tp, o)| format!("{tp}={o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The snapshot's partitions whose final offset the destination does not have yet, each
/// described.
pub fn not_synced(snapshot: Option<&Offsets>, o: &Observation) -> Vec<String> {
    snapshot
        .into_iter()
        .flatten()
        .filter(|(tp, s)| o.destination_committed.get(*tp) != Some(*s))
        .map(|(tp, s)| {
            format!(
                "{tp}: destination {} ≠ {s}",
                o.destination_committed
                    .get(tp)
                    .map_or("none".into(), |c| c.to_string())
            )
        })
        .collect()
}

/// The snapshot's partitions whose final offset is beyond the mirror's end (the rule), each
/// described.
pub fn not_mirrored(snapshot: Option<&Offsets>, o: &Observation) -> Vec<String> {
    snapshot
        .into_iter()
        .flatten()
        .filter(|(tp, s)| o.mirror_end.get(*tp).is_none_or(|m| m < *s))
        .map(|(tp, s)| {
            format!(
                "{tp}: mirror end {} < {s}",
                o.mirror_end
                    .get(tp)
                    .map_or("unknown".into(), |m| m.to_string())
            )
        })
        .collect()
}

/// True when some partition of `snapshot` has a committed offset past it in `committed`: the
/// group consumes there, members or not (a group that commits without membership has none).
pub(super) fn advanced(snapshot: Option<&Offsets>, committed: &Offsets) -> bool {
    snapshot.is_some_and(|snapshot| {
        snapshot
            .iter()
            .any(|(tp, s)| committed.get(tp).is_some_and(|c| c > s))
    })
}

/// A mirror of the group's topics that is not `ACTIVE` any more: acted on at the next
/// observation (the link reports it at once), never left to a deadline.
pub(super) fn mirror_left_active(o: &Observation) -> Option<String> {
    if o.mirrors_not_active.is_empty() {
        return None;
    }
    let mirrors: Vec<String> = o
        .mirrors_not_active
        .iter()
        .map(|(mirror, status)| format!("{mirror} is {status}"))
        .collect();
    Some(format!(
        "a mirror of the group's topics left ACTIVE during the cutover ({})",
        mirrors.join(", ")
    ))
}

/// Verdicts that no wait can fix: the plan is refused before anything changes.
pub(super) fn hopeless(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::NotMirrored
            | Verdict::BelowMirrorStart
            | Verdict::NoCommittedOffset
            | Verdict::MirrorNotActive
            | Verdict::OffsetsUnavailable
    )
}

/// Before the snapshot (proving the exclusion, awaiting the stop): a mirror that left
/// `ACTIVE`, or the group started on the destination by someone else, ends the cutover.
pub(super) fn outside_change(o: &Observation) -> Option<String> {
    mirror_left_active(o).or_else(|| {
        o.destination_active.then(|| {
            "the group became active on the destination, started outside cutover".to_string()
        })
    })
}

/// The link's filters, read back after the exclusion, still include the group.
pub(super) fn still_included(o: &Observation) -> Option<String> {
    (o.excluded == Some(false)).then(|| {
        "the link's consumer.offset.group.filters, read back, still include the group".to_string()
    })
}
