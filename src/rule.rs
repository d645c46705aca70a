//! The rule: from offsets observed on both clusters, can a group start on the destination now
//! without re-reading or skipping a message?
//!
//! Pure functions of observations, nothing else: no I/O, no clock. Per partition the rule is
//! **consumer lag ≥ mirror lag**, i.e. `origin_committed ≤ mirror_end`: everything the group
//! has yet to read is already on the mirror. Equality is safe (the group resumes exactly at
//! the mirror's end and waits for new data). Around it: the committed offset must still exist
//! on the mirror (`≥ mirror log start`), the link must have copied it to the destination
//! (`destination_committed = origin_committed`), the topic must be mirrored by an active
//! mirror, and the group must not be running anywhere.
//!
//! One verdict per partition, the most urgent that applies, in this order:
//! `OFFSETS_UNAVAILABLE`, `NOT_MIRRORED`, `NO_COMMITTED_OFFSET`, `BELOW_MIRROR_START`,
//! `CONSUMER_AHEAD_OF_MIRROR`, `MIRROR_NOT_ACTIVE`, `NOT_SYNCED`, `SAFE`. Lags are reported as
//! measured, negative ones included (reads of two clusters are not atomic): never hidden.

use std::borrow::Cow;

use serde::Serialize;

use crate::model::{GroupId, MirrorState, Offset, Topic, TopicPartition};

/// A partition's verdict. The names are API: JSON output and exit codes depend on them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every record the group has yet to read is on the mirror and the destination has the
    /// group's exact offset.
    Safe,
    /// `origin_committed > mirror_end`: the destination would reset the group.
    ConsumerAheadOfMirror,
    /// `destination_committed ≠ origin_committed`: the link has not copied the final offset.
    NotSynced,
    /// No committed offset: a restart would apply `auto.offset.reset`.
    NoCommittedOffset,
    /// `origin_committed` is older than the mirror's log start: the records are gone.
    BelowMirrorStart,
    /// The topic (or this partition) is not mirrored by the link.
    NotMirrored,
    /// The mirror is paused, failed, stopped or in a state that is not `ACTIVE`.
    MirrorNotActive,
    /// An offset needed for the decision could not be read.
    OffsetsUnavailable,
    /// The group already consumes on the destination: excluded from the link's sync, not on
    /// the origin, and on the destination at or past the origin's committed offset (set on
    /// every partition of a group judged moved; see [`GroupStatus::Moved`]).
    Moved,
}

impl Verdict {
    /// Every verdict, in the order of the enum.
    pub const ALL: [Verdict; 9] = [
        Verdict::Safe,
        Verdict::ConsumerAheadOfMirror,
        Verdict::NotSynced,
        Verdict::NoCommittedOffset,
        Verdict::BelowMirrorStart,
        Verdict::NotMirrored,
        Verdict::MirrorNotActive,
        Verdict::OffsetsUnavailable,
        Verdict::Moved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "SAFE",
            Verdict::ConsumerAheadOfMirror => "CONSUMER_AHEAD_OF_MIRROR",
            Verdict::NotSynced => "NOT_SYNCED",
            Verdict::NoCommittedOffset => "NO_COMMITTED_OFFSET",
            Verdict::BelowMirrorStart => "BELOW_MIRROR_START",
            Verdict::NotMirrored => "NOT_MIRRORED",
            Verdict::MirrorNotActive => "MIRROR_NOT_ACTIVE",
            Verdict::OffsetsUnavailable => "OFFSETS_UNAVAILABLE",
            Verdict::Moved => "MOVED",
        }
    }
}

/// What is known of the mirror of a partition's topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorOf {
    pub mirror_topic: Topic,
    pub state: MirrorState,
    pub partitions: i32,
}

/// Everything observed for one partition of a group. `Err` holds why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionObservation {
    /// The partition on the origin (source topic name).
    pub tp: TopicPartition,
    pub mirror: Option<MirrorOf>,
    pub origin_committed: Result<Option<Offset>, String>,
    pub destination_committed: Result<Option<Offset>, String>,
    pub origin_end: Result<Offset, String>,
    /// `None` when the topic is not mirrored (nothing to read).
    pub mirror_end: Option<Result<Offset, String>>,
    pub mirror_start: Option<Result<Offset, String>>,
}

/// The judgement of one partition, with the figures behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionJudgement {
    pub topic: Topic,
    pub partition: i32,
    pub mirror_topic: Option<Topic>,
    pub mirror_status: Option<Cow<'static, str>>,
    pub origin_committed: Option<Offset>,
    pub destination_committed: Option<Offset>,
    pub origin_end: Option<Offset>,
    pub mirror_end: Option<Offset>,
    pub mirror_start: Option<Offset>,
    /// `origin_end − origin_committed`.
    pub consumer_lag: Option<i64>,
    /// `origin_end − mirror_end`.
    pub mirror_lag: Option<i64>,
    /// `mirror_end − destination_committed`: the group's lag on the destination, once it runs
    /// there.
    pub destination_lag: Option<i64>,
    pub verdict: Verdict,
    /// Why, in words, when the verdict is not plain `SAFE` (or `SAFE` with a caveat).
    /// Static text where it can be: a cluster-wide check judges 100,000 partitions.
    pub notes: Vec<Cow<'static, str>>,
}

/// Whether a group runs on a cluster: decided from members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Presence {
    Active,
    Empty,
    NotFound,
}

/// Group-level findings. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingKind {
    GroupActiveOnOrigin,
    GroupActiveOnDestination,
    GroupNotFound,
    /// The group exists on the origin but shows no committed offset: a principal without
    /// Describe on its topics is answered as if there were none.
    NoOffsetsVisible,
    GroupNotExcluded,
    OffsetsUnavailable,
    MirrorStatusUnknown,
    NegativeLag,
}

/// A group-level finding, with its detail and whether it forbids a restart now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub blocking: bool,
    pub detail: String,
}

/// Everything observed for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupObservation {
    pub group: GroupId,
    pub origin: Presence,
    pub destination: Presence,
    /// Members on each side (client ids and hosts), for the report.
    pub origin_members: Vec<String>,
    pub destination_members: Vec<String>,
    /// Whether the link's offset sync still includes the group (`None`: unknown).
    pub synced_by_link: Option<bool>,
    /// Why the group's committed offsets could not be listed at all, if they could not.
    pub offsets_error: Option<String>,
    pub partitions: Vec<PartitionObservation>,
}

/// Where a group stands, in one word. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupStatus {
    /// It may start on the destination now.
    Safe,
    /// It already runs on the destination: excluded from the link's offset sync, not on the
    /// origin, and on the destination at or past its origin offsets everywhere (members there,
    /// or commits past them). Nothing is left to do.
    Moved,
    /// Anything else: the findings and verdicts say why.
    NotSafe,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Safe => "SAFE",
            GroupStatus::Moved => "MOVED",
            GroupStatus::NotSafe => "NOT SAFE",
        }
    }

    /// Nothing stands in the way: safe to start, or already moved.
    pub fn is_ok(self) -> bool {
        matches!(self, GroupStatus::Safe | GroupStatus::Moved)
    }
}

/// The judgement of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupJudgement {
    pub group: GroupId,
    /// `SAFE`, `MOVED` or `NOT_SAFE`: what `verify`'s exit code follows.
    pub status: GroupStatus,
    /// True only when no finding blocks and every partition is `SAFE` (false for a moved
    /// group: it is not to be started again).
    pub safe: bool,
    pub origin_state: Presence,
    pub destination_state: Presence,
    pub origin_members: Vec<String>,
    pub destination_members: Vec<String>,
    pub findings: Vec<Finding>,
    pub partitions: Vec<PartitionJudgement>,
}

impl GroupJudgement {
    /// Whether the group has an offset on a topic the link mirrors: what makes a group part of
    /// a cluster-wide verify or audit.
    pub fn on_a_mirrored_topic(&self) -> bool {
        self.partitions.iter().any(|p| p.mirror_topic.is_some())
    }
}

/// Said on every partition of a promoted mirror.
pub const PROMOTED_NOTE: &str = "the mirror is promoted (STOPPED): the link no longer syncs offsets to it; `cutover group` with final-offsets = \"agent\" writes the group's final offsets itself";

fn ok_offset(r: &Result<Offset, String>) -> Option<Offset> {
    r.as_ref().ok().copied()
}

/// Judges one partition.
pub fn judge_partition(o: &PartitionObservation) -> PartitionJudgement {
    let origin_committed = o.origin_committed.as_ref().ok().copied().flatten();
    let destination_committed = o.destination_committed.as_ref().ok().copied().flatten();
    let origin_end = ok_offset(&o.origin_end);
    let mirror_end = o.mirror_end.as_ref().and_then(ok_offset);
    let mirror_start = o.mirror_start.as_ref().and_then(ok_offset);
    let consumer_lag = origin_end.zip(origin_committed).map(|(h, c)| h - c);
    let mirror_lag = origin_end.zip(mirror_end).map(|(h, m)| h - m);
    let mut notes = Vec::new();
    let verdict = decide(o, &mut notes);
    // A promoted topic is written on the destination: its "mirror lag" goes negative for good.
    let promoted = o
        .mirror
        .as_ref()
        .is_some_and(|m| m.state == MirrorState::Stopped);
    if consumer_lag.is_some_and(|l| l < 0) || (!promoted && mirror_lag.is_some_and(|l| l < 0)) {
        notes.push(Cow::from(
            "negative lag: the offsets were read moments apart while the log or the group moved; the verdict uses origin_committed ≤ mirror_end directly",
        ));
    }
    PartitionJudgement {
        topic: o.tp.topic.clone(),
        partition: o.tp.partition,
        mirror_topic: o.mirror.as_ref().map(|m| m.mirror_topic.clone()),
        mirror_status: o.mirror.as_ref().map(|m| m.state.name()),
        origin_committed,
        destination_committed,
        origin_end,
        mirror_end,
        mirror_start,
        consumer_lag,
        mirror_lag,
        destination_lag: mirror_end.zip(destination_committed).map(|(m, c)| m - c),
        verdict,
        notes,
    }
}

fn decide(o: &PartitionObservation, notes: &mut Vec<Cow<'static, str>>) -> Verdict {
    let Some(mirror) = &o.mirror else {
        notes.push(Cow::from(format!(
            "topic {} has no mirror on this link",
            o.tp.topic
        )));
        return Verdict::NotMirrored;
    };
    if o.tp.partition >= mirror.partitions {
        notes.push(Cow::from(format!(
            "the origin gained partition {} after the mirror {} was created with {} partitions; the link has not added it yet",
            o.tp.partition, mirror.mirror_topic, mirror.partitions
        )));
        return Verdict::NotMirrored;
    }
    let unreadable: Vec<String> = [
        ("origin committed offset", o.origin_committed.as_ref().err()),
        (
            "destination committed offset",
            o.destination_committed.as_ref().err(),
        ),
        ("origin end offset", o.origin_end.as_ref().err()),
        (
            "mirror end offset",
            o.mirror_end.as_ref().and_then(|r| r.as_ref().err()),
        ),
        (
            "mirror log start",
            o.mirror_start.as_ref().and_then(|r| r.as_ref().err()),
        ),
    ]
    .into_iter()
    .filter_map(|(what, e)| e.map(|e| format!("{what}: {e}")))
    .collect();
    let (
        Ok(origin_committed),
        Ok(destination_committed),
        Some(Ok(mirror_end)),
        Some(Ok(mirror_start)),
    ) = (
        &o.origin_committed,
        &o.destination_committed,
        &o.mirror_end,
        &o.mirror_start,
    )
    else {
        notes.extend(unreadable.into_iter().map(Cow::from));
        return Verdict::OffsetsUnavailable;
    };
    if !unreadable.is_empty() {
        notes.extend(unreadable.into_iter().map(Cow::from));
        return Verdict::OffsetsUnavailable;
    }
    let Some(c_o) = origin_committed else {
        if mirror_start == mirror_end && o.origin_end.as_ref().is_ok_and(|h| h == mirror_end) {
            notes.push(Cow::from(
                "no committed offset, but the partition holds no record: auto.offset.reset lands on the same offset either way",
            ));
            return if destination_committed.is_some() {
                notes.push(Cow::from(
                    "the destination has an offset the origin does not",
                ));
                Verdict::NotSynced
            } else {
                mirror_gate(mirror, notes, Verdict::Safe)
            };
        }
        notes.push(Cow::from(
            "the group has no committed offset here: a restart applies auto.offset.reset",
        ));
        return Verdict::NoCommittedOffset;
    };
    if c_o < mirror_start {
        notes.push(Cow::from(format!(
            "committed offset {c_o} is older than the mirror's log start {mirror_start}: those records are gone from the mirror"
        )));
        return Verdict::BelowMirrorStart;
    }
    if c_o > mirror_end {
        notes.push(Cow::from(format!(
            "committed offset {c_o} is beyond the mirror's end {mirror_end}: the mirror lacks {} record(s) the group already read past",
            c_o.get() - mirror_end.get()
        )));
        return Verdict::ConsumerAheadOfMirror;
    }
    let after_gate = mirror_gate(mirror, notes, Verdict::Safe);
    if after_gate != Verdict::Safe {
        return after_gate;
    }
    if destination_committed != &Some(*c_o) {
        notes.push(Cow::from(match destination_committed {
            None => "the destination has no committed offset for the group yet".to_string(),
            Some(c_d) if mirror.state == MirrorState::Stopped => {
                format!("destination has {c_d}, origin has {c_o}: the link will not sync a promoted topic")
            }
            Some(c_d) => format!("destination has {c_d}, origin has {c_o}: not synced yet"),
        }));
        return Verdict::NotSynced;
    }
    if c_o == mirror_end {
        notes.push(Cow::from(
            "equal to the mirror's end: safe, the group waits there for new records",
        ));
    }
    Verdict::Safe
}

/// A mirror that is not `ACTIVE` turns an otherwise acceptable verdict into
/// `MIRROR_NOT_ACTIVE`; an unknown status (no REST access) is let through with a note.
///
/// A promoted mirror (`STOPPED`) is let through too: it is an ordinary topic that holds the
/// origin's records at the origin's offsets, so a group may move onto it when its committed
/// offset is on it. The link no longer syncs it, so only a write of the final offsets on the
/// destination (cutover's own, `final-offsets = "agent"`) makes it `SAFE`; the origin must
/// not be written after the promotion (the cutover watches its end).
fn mirror_gate(mirror: &MirrorOf, notes: &mut Vec<Cow<'static, str>>, verdict: Verdict) -> Verdict {
    match &mirror.state {
        MirrorState::Active => verdict,
        // Said once per group (MIRROR_STATUS_UNKNOWN), not on every partition.
        MirrorState::Unknown => verdict,
        MirrorState::Stopped => {
            notes.push(Cow::from(PROMOTED_NOTE));
            verdict
        }
        other => {
            notes.push(Cow::from(format!(
                "mirror {} is {}",
                mirror.mirror_topic,
                other.as_str()
            )));
            Verdict::MirrorNotActive
        }
    }
}

/// A group already moved: not on the origin, not synced by the link (excluded, or every
/// topic promoted), and on the destination at or past the origin's committed offset on every
/// partition, with members there or commits past the origin's somewhere.
fn moved(o: &GroupObservation, partitions: &[PartitionJudgement], all_promoted: bool) -> bool {
    if partitions.is_empty()
        || o.origin == Presence::Active
        || !(o.synced_by_link == Some(false) || all_promoted)
    {
        return false;
    }
    let mut past = false;
    for p in partitions {
        match (p.origin_committed, p.destination_committed) {
            (Some(c_o), Some(c_d)) if c_d >= c_o => past |= c_d > c_o,
            _ => return false,
        }
    }
    o.destination == Presence::Active || past
}

/// Judges a group: its partitions, then the group-level findings.
pub fn judge_group(o: &GroupObservation) -> GroupJudgement {
    let partitions: Vec<PartitionJudgement> = o.partitions.iter().map(judge_partition).collect();
    let mut findings = Vec::new();
    let mut find = |kind, blocking, detail: String| {
        findings.push(Finding {
            kind,
            blocking,
            detail,
        })
    };
    if let Some(e) = &o.offsets_error {
        find(FindingKind::OffsetsUnavailable, true, e.clone());
    }
    if o.offsets_error.is_none()
        && o.origin == Presence::NotFound
        && o.partitions
            .iter()
            .all(|p| !matches!(p.origin_committed, Ok(Some(_))))
    {
        find(
            FindingKind::GroupNotFound,
            true,
            format!("group {} is unknown on the origin", o.group),
        );
    }
    if o.offsets_error.is_none() && o.origin != Presence::NotFound && o.partitions.is_empty() {
        find(
            FindingKind::NoOffsetsVisible,
            true,
            format!(
                "group {} exists on the origin but shows no committed offset: it has none yet, or the agent's principal lacks Describe on its topics, which the cluster answers as if there were none (grant ALLOW Describe on each Topic the group consumes; docs/security.md)",
                o.group
            ),
        );
    }
    if o.origin == Presence::Active {
        find(
            FindingKind::GroupActiveOnOrigin,
            true,
            format!(
                "{} member(s) still consume on the origin: {}",
                o.origin_members.len(),
                o.origin_members.join(", ")
            ),
        );
    }
    if o.destination == Presence::Active {
        find(
            FindingKind::GroupActiveOnDestination,
            true,
            format!(
                "{} member(s) already consume on the destination: {}",
                o.destination_members.len(),
                o.destination_members.join(", ")
            ),
        );
    }
    // The link syncs no offsets to a promoted topic, whatever its filters say.
    let all_promoted = !o.partitions.is_empty()
        && o.partitions.iter().all(|p| {
            p.mirror
                .as_ref()
                .is_some_and(|m| m.state == MirrorState::Stopped)
        });
    if o.synced_by_link == Some(true) && !all_promoted {
        find(
            FindingKind::GroupNotExcluded,
            false,
            "the link still syncs this group's offsets: exclude it before it commits on the destination".into(),
        );
    }
    if partitions
        .iter()
        .any(|p| p.mirror_status.as_deref() == Some("UNKNOWN"))
    {
        find(
            FindingKind::MirrorStatusUnknown,
            false,
            "mirror status is unknown (no REST access to the link): offsets were checked, the mirrors' state was not".into(),
        );
    }
    if partitions.iter().any(|p| {
        let promoted = p.mirror_status.as_deref() == Some(MirrorState::Stopped.as_str());
        p.consumer_lag.is_some_and(|l| l < 0) || (!promoted && p.mirror_lag.is_some_and(|l| l < 0))
    }) {
        find(
            FindingKind::NegativeLag,
            false,
            "some lag is negative because the clusters were read moments apart; run again for a settled view".into(),
        );
    }
    let mut partitions = partitions;
    if moved(o, &partitions, all_promoted) {
        for p in &mut partitions {
            p.verdict = Verdict::Moved;
            // The group's headline says it; nothing here needs attention.
            p.notes.clear();
        }
        findings.retain(|f| {
            !matches!(
                f.kind,
                FindingKind::GroupActiveOnDestination | FindingKind::NegativeLag
            )
        });
    }
    let safe = !partitions.is_empty()
        && partitions.iter().all(|p| p.verdict == Verdict::Safe)
        && !findings.iter().any(|f| f.blocking);
    let status = if safe {
        GroupStatus::Safe
    } else if partitions
        .first()
        .is_some_and(|p| p.verdict == Verdict::Moved)
    {
        GroupStatus::Moved
    } else {
        GroupStatus::NotSafe
    };
    GroupJudgement {
        group: o.group.clone(),
        status,
        safe,
        origin_state: o.origin,
        destination_state: o.destination,
        origin_members: o.origin_members.clone(),
        destination_members: o.destination_members.clone(),
        findings,
        partitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(partitions: i32) -> Option<MirrorOf> {
        Some(MirrorOf {
            mirror_topic: "t".into(),
            state: MirrorState::Active,
            partitions,
        })
    }

    /// A partition with: origin committed, destination committed, origin end, mirror end,
    /// mirror start (all present unless overridden).
    fn obs(
        c_o: Option<i64>,
        c_d: Option<i64>,
        h_o: i64,
        m: i64,
        start: i64,
    ) -> PartitionObservation {
        PartitionObservation {
            tp: TopicPartition::new("t", 0),
            mirror: active(1),
            origin_committed: Ok(c_o.map(Offset)),
            destination_committed: Ok(c_d.map(Offset)),
            origin_end: Ok(Offset(h_o)),
            mirror_end: Some(Ok(Offset(m))),
            mirror_start: Some(Ok(Offset(start))),
        }
    }

    #[test]
    fn verdicts_for_every_case() {
        let with_state = |state: MirrorState, o: PartitionObservation| PartitionObservation {
            mirror: Some(MirrorOf {
                mirror_topic: "t".into(),
                state,
                partitions: 1,
            }),
            ..o
        };
        let cases: Vec<(&str, PartitionObservation, Verdict)> = vec![
            (
                "behind the mirror, synced",
                obs(Some(5), Some(5), 10, 10, 0),
                Verdict::Safe,
            ),
            (
                "equal to the mirror end",
                obs(Some(10), Some(10), 12, 10, 0),
                Verdict::Safe,
            ),
            (
                "one past the mirror end",
                obs(Some(11), Some(11), 12, 10, 0),
                Verdict::ConsumerAheadOfMirror,
            ),
            (
                "ahead even when synced",
                obs(Some(12), Some(12), 12, 10, 0),
                Verdict::ConsumerAheadOfMirror,
            ),
            (
                "destination behind",
                obs(Some(5), Some(4), 10, 10, 0),
                Verdict::NotSynced,
            ),
            (
                "destination ahead",
                obs(Some(5), Some(6), 10, 10, 0),
                Verdict::NotSynced,
            ),
            (
                "never synced",
                obs(Some(5), None, 10, 10, 0),
                Verdict::NotSynced,
            ),
            (
                "no committed offset",
                obs(None, None, 10, 10, 0),
                Verdict::NoCommittedOffset,
            ),
            (
                "no commit, empty partition",
                obs(None, None, 0, 0, 0),
                Verdict::Safe,
            ),
            (
                "no commit, records all deleted",
                obs(None, None, 7, 7, 7),
                Verdict::Safe,
            ),
            (
                "no commit on origin, one on destination",
                obs(None, Some(3), 0, 0, 0),
                Verdict::NotSynced,
            ),
            (
                "below the mirror's log start",
                obs(Some(3), Some(3), 10, 10, 4),
                Verdict::BelowMirrorStart,
            ),
            (
                "at the mirror's log start",
                obs(Some(4), Some(4), 10, 10, 4),
                Verdict::Safe,
            ),
            (
                "committed zero, empty",
                obs(Some(0), Some(0), 0, 0, 0),
                Verdict::Safe,
            ),
            (
                "paused, behind",
                with_state(MirrorState::Paused, obs(Some(5), Some(5), 10, 10, 0)),
                Verdict::MirrorNotActive,
            ),
            (
                "paused, ahead",
                with_state(MirrorState::Paused, obs(Some(11), Some(11), 12, 10, 0)),
                Verdict::ConsumerAheadOfMirror,
            ),
            (
                "failed",
                with_state(MirrorState::Failed, obs(Some(5), Some(5), 10, 10, 0)),
                Verdict::MirrorNotActive,
            ),
            (
                "promoted (stopped), offsets written on the destination",
                with_state(MirrorState::Stopped, obs(Some(5), Some(5), 10, 10, 0)),
                Verdict::Safe,
            ),
            (
                "promoted (stopped), the link will not sync it",
                with_state(MirrorState::Stopped, obs(Some(5), Some(3), 10, 10, 0)),
                Verdict::NotSynced,
            ),
            (
                "promoted (stopped), group ahead of it",
                with_state(MirrorState::Stopped, obs(Some(11), Some(3), 12, 10, 0)),
                Verdict::ConsumerAheadOfMirror,
            ),
            (
                "promoting (pending_stopped)",
                with_state(
                    MirrorState::PendingStopped,
                    obs(Some(5), Some(5), 10, 10, 0),
                ),
                Verdict::MirrorNotActive,
            ),
            (
                "unknown future state",
                with_state(
                    MirrorState::Other("LINK_PAUSED".into()),
                    obs(Some(5), Some(5), 10, 10, 0),
                ),
                Verdict::MirrorNotActive,
            ),
            (
                "status unknown without REST",
                with_state(MirrorState::Unknown, obs(Some(5), Some(5), 10, 10, 0)),
                Verdict::Safe,
            ),
            (
                "not mirrored",
                PartitionObservation {
                    mirror: None,
                    mirror_end: None,
                    mirror_start: None,
                    ..obs(Some(5), None, 10, 0, 0)
                },
                Verdict::NotMirrored,
            ),
            (
                "partition gained after the mirror was created",
                PartitionObservation {
                    tp: TopicPartition::new("t", 3),
                    mirror: active(3),
                    ..obs(Some(5), Some(5), 10, 10, 0)
                },
                Verdict::NotMirrored,
            ),
            (
                "mirror end unreadable",
                PartitionObservation {
                    mirror_end: Some(Err("LEADER_NOT_AVAILABLE".into())),
                    ..obs(Some(5), Some(5), 10, 10, 0)
                },
                Verdict::OffsetsUnavailable,
            ),
            (
                "origin committed unreadable",
                PartitionObservation {
                    origin_committed: Err("COORDINATOR_NOT_AVAILABLE".into()),
                    ..obs(Some(5), Some(5), 10, 10, 0)
                },
                Verdict::OffsetsUnavailable,
            ),
            // Non-atomic reads: the origin end was read before the group's last commit.
            (
                "negative consumer lag",
                obs(Some(12), Some(12), 11, 12, 0),
                Verdict::Safe,
            ),
        ];
        for (name, o, expected) in cases {
            let j = judge_partition(&o);
            assert_eq!(j.verdict, expected, "{name}: {j:?}");
            if expected != Verdict::Safe || name.contains("equal") || name.contains("empty") {
                assert!(
                    !j.notes.is_empty(),
                    "{name}: a non-plain verdict explains itself"
                );
            }
        }
    }

    #[test]
    fn lags_are_reported_as_measured_negative_included() {
        let j = judge_partition(&obs(Some(12), Some(12), 11, 12, 0));
        assert_eq!(j.consumer_lag, Some(-1));
        assert_eq!(j.mirror_lag, Some(-1));
        assert!(j.notes.iter().any(|n| n.contains("negative lag")));
        let j = judge_partition(&obs(Some(5), Some(5), 10, 8, 0));
        assert_eq!((j.consumer_lag, j.mirror_lag), (Some(5), Some(2)));
    }

    #[test]
    fn the_rule_is_consumer_lag_at_least_mirror_lag() {
        // Exhaustive over a small grid: SAFE or NOT_SYNCED-free verdicts agree with the rule.
        for h in 0..6 {
            for m in 0..=h {
                for c in 0..=h {
                    let j = judge_partition(&obs(Some(c), Some(c), h, m, 0));
                    let rule_holds = (h - c) >= (h - m);
                    assert_eq!(
                        j.verdict == Verdict::Safe,
                        rule_holds,
                        "h={h} m={m} c={c}: {:?}",
                        j.verdict
                    );
                }
            }
        }
    }

    #[test]
    fn a_group_that_exists_but_shows_no_offset_is_named_not_left_unexplained() {
        // An existing group whose topics the principal may not describe: the cluster answers
        // with no offsets, not with an error.
        let g = judge_group(&group(Presence::Empty, Presence::NotFound, vec![]));
        assert!(!g.safe);
        let f = g
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::NoOffsetsVisible)
            .expect("the finding");
        assert!(
            f.blocking && f.detail.contains("ALLOW Describe on each Topic"),
            "{f:?}"
        );
        // An unknown group is GROUP_NOT_FOUND only; a group with offsets has neither.
        let g = judge_group(&group(Presence::NotFound, Presence::NotFound, vec![]));
        assert!(g
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::NoOffsetsVisible));
        let g = judge_group(&group(
            Presence::Empty,
            Presence::NotFound,
            vec![obs(Some(5), None, 10, 10, 0)],
        ));
        assert!(g
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::NoOffsetsVisible));
    }

    fn group(
        origin: Presence,
        destination: Presence,
        partitions: Vec<PartitionObservation>,
    ) -> GroupObservation {
        GroupObservation {
            group: GroupId::new("g"),
            origin,
            destination,
            origin_members: if origin == Presence::Active {
                vec!["app@/10.0.0.1".into()]
            } else {
                vec![]
            },
            destination_members: if destination == Presence::Active {
                vec!["app@/10.0.0.2".into()]
            } else {
                vec![]
            },
            synced_by_link: None,
            offsets_error: None,
            partitions,
        }
    }

    #[test]
    fn a_group_excluded_and_running_on_the_destination_past_its_origin_offsets_is_moved() {
        let excluded = |origin, destination, c_d: i64| GroupObservation {
            synced_by_link: Some(false),
            ..group(
                origin,
                destination,
                vec![obs(Some(5), Some(c_d), 10, 12, 0)],
            )
        };
        // Members on the destination, at the origin's offset: moved, lag there 12 − 5.
        let g = judge_group(&excluded(Presence::Empty, Presence::Active, 5));
        assert_eq!(g.status, GroupStatus::Moved, "{g:?}");
        assert!(!g.safe && g.findings.is_empty(), "{g:?}");
        assert_eq!(g.partitions[0].verdict, Verdict::Moved);
        assert_eq!(g.partitions[0].destination_lag, Some(7));
        // No members (between polls, or committing without membership), but past the origin.
        let g = judge_group(&excluded(Presence::Empty, Presence::Empty, 9));
        assert_eq!(g.status, GroupStatus::Moved, "{g:?}");
        // Stopped on both sides at the origin's offset: not moved, safe to start.
        let g = judge_group(&excluded(Presence::Empty, Presence::Empty, 5));
        assert_eq!(g.status, GroupStatus::Safe, "{g:?}");
        // Behind the origin on the destination (rewound, or never written): not moved.
        let g = judge_group(&excluded(Presence::Empty, Presence::Active, 3));
        assert_eq!(g.status, GroupStatus::NotSafe, "{g:?}");
        // Still on the origin, or still synced by the link (or unknown): not moved.
        let g = judge_group(&excluded(Presence::Active, Presence::Active, 9));
        assert_eq!(g.status, GroupStatus::NotSafe, "{g:?}");
        for synced in [Some(true), None] {
            let g = judge_group(&GroupObservation {
                synced_by_link: synced,
                ..excluded(Presence::Empty, Presence::Active, 9)
            });
            assert_eq!(g.status, GroupStatus::NotSafe, "{synced:?}: {g:?}");
        }
    }

    #[test]
    fn group_findings_and_safety() {
        let safe_p = || obs(Some(5), Some(5), 10, 10, 0);
        let g = judge_group(&group(Presence::Empty, Presence::NotFound, vec![safe_p()]));
        assert!(g.safe && g.findings.is_empty(), "{g:?}");

        let g = judge_group(&group(Presence::Active, Presence::NotFound, vec![safe_p()]));
        assert!(!g.safe);
        assert_eq!(g.findings[0].kind, FindingKind::GroupActiveOnOrigin);
        assert!(g.findings[0].detail.contains("app@/10.0.0.1"));

        let g = judge_group(&group(Presence::Empty, Presence::Active, vec![safe_p()]));
        assert!(!g.safe);
        assert_eq!(g.findings[0].kind, FindingKind::GroupActiveOnDestination);

        let g = judge_group(&group(Presence::NotFound, Presence::NotFound, vec![]));
        assert!(!g.safe);
        assert_eq!(g.findings[0].kind, FindingKind::GroupNotFound);

        // Still included in the link's sync: reported, not blocking for a read-only check.
        let mut o = group(Presence::Empty, Presence::NotFound, vec![safe_p()]);
        o.synced_by_link = Some(true);
        let g = judge_group(&o);
        assert!(g.safe);
        assert_eq!(g.findings[0].kind, FindingKind::GroupNotExcluded);
        assert!(!g.findings[0].blocking);

        // Offsets that could not be listed at all block, with the reason.
        let mut o = group(Presence::Empty, Presence::NotFound, vec![]);
        o.offsets_error = Some("GROUP_AUTHORIZATION_FAILED".into());
        let g = judge_group(&o);
        assert!(!g.safe);
        assert_eq!(g.findings[0].kind, FindingKind::OffsetsUnavailable);

        // One unsafe partition makes the group unsafe.
        let g = judge_group(&group(
            Presence::Empty,
            Presence::NotFound,
            vec![safe_p(), obs(Some(11), Some(11), 12, 10, 0)],
        ));
        assert!(!g.safe);
    }
}
