//! Is promotion safe now? The pure judgement behind `cutover audit`, for `cutover promote` to
//! reuse: from what was read of the link's mirrors, the origin's ends at both edges of a
//! window, and the rule's judgement of every group, say whether promoting the mirrors may
//! begin, and if not, why.
//!
//! Promotion is safe when every mirror is active with zero measured lag on every partition,
//! no producer is still writing to a mirrored topic on the origin (origin ends sampled twice,
//! a window apart, did not move), and every group with offsets on a mirrored topic has either
//! moved to the destination or is stopped, synced and safe to start there. Anything else is a
//! finding with its reason. An unknown mirror status (no REST access to the link) is a
//! finding that does not block: the offsets were checked, the status could not be.
//!
//! Observations in, verdict out: no I/O, no clock. This module must not import an I/O module
//! (kafka, link, journal, hooks, config, report, sim); `audit` reads the clusters and the
//! link, calls [`judge`], and wraps the verdict in its report.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{GroupId, MirrorState, Offset};
use crate::rule::{FindingKind, GroupJudgement, Presence, Verdict};

mod stay;
mod writers;

pub use stay::ReversePath;
pub use writers::{writers, ProducerReading, Writer, WritersSeen};

/// What was read of one mirror topic of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorObservation {
    pub mirror_topic: String,
    pub source_topic: String,
    pub state: MirrorState,
    /// One per partition of the mirror, in partition order.
    pub partitions: Vec<MirrorPartitionObservation>,
}

/// What was read of one partition of a mirror. `Err` holds why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorPartitionObservation {
    pub partition: i32,
    /// The origin partition's end when the window opened.
    pub origin_end_before: Result<Offset, String>,
    /// The origin partition's end when the window closed.
    pub origin_end: Result<Offset, String>,
    /// The mirror partition's end, read just before `origin_end`.
    pub mirror_end: Result<Offset, String>,
    /// What the link itself reports (fetch-relative, informative only).
    pub reported_lag: Option<i64>,
}

/// Everything the judgement looks at.
#[derive(Debug, Clone)]
pub struct PromotionObservation<'a> {
    /// The link's name, for the findings.
    pub link: &'a str,
    /// True when mirror status comes from the link; false when it is unknown.
    pub reports_status: bool,
    /// How long the origin's ends were watched for movement.
    pub window_ms: u64,
    /// Every mirror topic of the link.
    pub mirrors: Vec<MirrorObservation>,
    /// The rule's judgement of the groups known on either cluster; those without an offset on
    /// a mirrored topic are left out of the verdict.
    pub groups: &'a [GroupJudgement],
    /// Cutover writes moved groups' final offsets itself (`final-offsets = "agent"`): a group
    /// still on the origin can follow after promotion.
    pub agent_moves_groups: bool,
    /// Groups declared to stay on the origin (`audit --stay`): judged by the way back
    /// (`reverse`) instead of by whether they can move.
    pub staying: &'a BTreeSet<GroupId>,
    /// The way back to the origin for them (read only when some group stays).
    pub reverse: &'a ReversePath,
}

/// One mirror topic in the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorAudit {
    pub mirror_topic: String,
    pub source_topic: String,
    pub status: String,
    pub partitions: Vec<MirrorPartitionAudit>,
    /// Largest measured lag (`None` when a partition could not be read).
    pub max_lag: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorPartitionAudit {
    pub partition: i32,
    pub origin_end: Option<Offset>,
    pub mirror_end: Option<Offset>,
    /// `origin_end − mirror_end`, as measured.
    pub mirror_lag: Option<i64>,
    /// What the link itself reports (fetch-relative, informative only).
    pub reported_lag: Option<i64>,
    pub error: Option<String>,
}

/// An origin partition whose end moved during the window: someone still produces there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginMovement {
    pub topic: String,
    pub partition: i32,
    pub before: Offset,
    pub after: Offset,
}

/// How a group stands before promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupClass {
    /// Running on the destination and not on the origin.
    Moved,
    /// Stopped on the origin, synced, and safe to start on the destination.
    SyncedAndSafe,
    /// Still on the origin (or stopped, not synced), with every committed offset on the
    /// mirror: cutover moves it after promotion, writing its final offsets itself
    /// (`final-offsets = "agent"`), so the link's offset sync ending with promotion does not
    /// matter to it.
    MovesAfterPromotion,
    /// Declared to stay on the origin (`audit --stay`), and a reverse link with a prefix will
    /// bring its topics back after promotion (`cutover group GROUP --to origin`).
    StaysOnOrigin,
    AtRisk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAudit {
    pub group: GroupId,
    pub classification: GroupClass,
    pub origin_state: Presence,
    pub destination_state: Presence,
    /// Why the group is at risk (empty otherwise).
    pub reasons: Vec<String>,
}

/// Audit-level findings. The names are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditFindingKind {
    MirrorLag,
    MirrorNotActive,
    MirrorUnreadable,
    MirrorStatusUnknown,
    OriginStillWritten,
    GroupAtRisk,
    NoMirrors,
    /// A group declared to stay on the origin has no way back after promotion (no reverse
    /// link, an unreadable one, one without a prefix), or runs on the destination.
    StayWithoutReversePath,
}

impl AuditFindingKind {
    /// Every audit finding, in the order of the enum.
    pub const ALL: [AuditFindingKind; 8] = [
        AuditFindingKind::MirrorLag,
        AuditFindingKind::MirrorNotActive,
        AuditFindingKind::MirrorUnreadable,
        AuditFindingKind::MirrorStatusUnknown,
        AuditFindingKind::OriginStillWritten,
        AuditFindingKind::GroupAtRisk,
        AuditFindingKind::NoMirrors,
        AuditFindingKind::StayWithoutReversePath,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    pub kind: AuditFindingKind,
    pub detail: String,
}

/// The verdict: whether promotion is safe now, with the figures and findings behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionJudgement {
    /// True only when the link has mirrors and no finding other than
    /// `MIRROR_STATUS_UNKNOWN` was made.
    pub safe: bool,
    /// In this order: no mirrors; per mirror, unreadable, lag, not active; status unknown;
    /// origin still written; per group, at risk.
    pub findings: Vec<AuditFinding>,
    pub mirrors: Vec<MirrorAudit>,
    pub origin_moving: Vec<OriginMovement>,
    /// The groups with an offset on a mirrored topic, in the order given.
    pub groups: Vec<GroupAudit>,
}

/// Judges whether promotion is safe.
pub fn judge(o: &PromotionObservation<'_>) -> PromotionJudgement {
    let mut findings = Vec::new();
    if o.mirrors.is_empty() {
        findings.push(AuditFinding {
            kind: AuditFindingKind::NoMirrors,
            detail: format!("link {} has no mirror topics", o.link),
        });
    }
    let mirrors = o
        .mirrors
        .iter()
        .map(|m| judge_mirror(m, o.reports_status, &mut findings))
        .collect();
    if !o.reports_status && !o.mirrors.is_empty() {
        findings.push(AuditFinding {
            kind: AuditFindingKind::MirrorStatusUnknown,
            detail: "no REST access to the link: mirror status was not checked (offsets were)"
                .into(),
        });
    }
    let origin_moving = origin_movements(&o.mirrors);
    if !origin_moving.is_empty() {
        let topics: BTreeSet<&str> = origin_moving.iter().map(|m| m.topic.as_str()).collect();
        findings.push(AuditFinding {
            kind: AuditFindingKind::OriginStillWritten,
            detail: format!(
                "origin ends moved within {} ms on {} partition(s) of {}: a producer still writes to the origin",
                o.window_ms,
                origin_moving.len(),
                topics.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let groups = o
        .groups
        .iter()
        .filter(|j| j.on_a_mirrored_topic())
        .map(|j| {
            if o.staying.contains(&j.group) {
                stay::judge_staying(j, o.reverse, &mut findings)
            } else {
                judge_group(j, o.agent_moves_groups, &mut findings)
            }
        })
        .collect();
    let safe = !o.mirrors.is_empty()
        && findings
            .iter()
            .all(|f| f.kind == AuditFindingKind::MirrorStatusUnknown);
    PromotionJudgement {
        safe,
        findings,
        mirrors,
        origin_moving,
        groups,
    }
}

/// One mirror's measured lags, and its findings: unreadable, lagging, not active.
fn judge_mirror(
    m: &MirrorObservation,
    reports_status: bool,
    findings: &mut Vec<AuditFinding>,
) -> MirrorAudit {
    let parts: Vec<MirrorPartitionAudit> = m
        .partitions
        .iter()
        .map(|p| {
            let error = [&p.origin_end, &p.mirror_end]
                .into_iter()
                .find_map(|r| r.as_ref().err().cloned());
            let origin_end = p.origin_end.as_ref().ok().copied();
            let mirror_end = p.mirror_end.as_ref().ok().copied();
            MirrorPartitionAudit {
                partition: p.partition,
                origin_end,
                mirror_end,
                mirror_lag: origin_end.zip(mirror_end).map(|(o, m)| o - m),
                reported_lag: p.reported_lag,
                error,
            }
        })
        .collect();
    let max_lag = if parts.iter().all(|p| p.mirror_lag.is_some()) {
        parts.iter().filter_map(|p| p.mirror_lag).max()
    } else {
        None
    };
    if let Some((partition, e)) = parts
        .iter()
        .find_map(|p| p.error.as_ref().map(|e| (p.partition, e)))
    {
        findings.push(AuditFinding {
            kind: AuditFindingKind::MirrorUnreadable,
            detail: format!("{} partition {partition}: {e}", m.mirror_topic),
        });
    }
    if let Some(lag) = max_lag.filter(|l| *l != 0) {
        let lagging = parts
            .iter()
            .filter(|p| p.mirror_lag.is_some_and(|l| l != 0))
            .count();
        findings.push(AuditFinding {
            kind: AuditFindingKind::MirrorLag,
            detail: format!(
                "{}: mirror lag up to {lag} on {lagging} partition(s)",
                m.mirror_topic
            ),
        });
    }
    if reports_status && !m.state.is_active() {
        findings.push(AuditFinding {
            kind: AuditFindingKind::MirrorNotActive,
            detail: format!("{} is {}", m.mirror_topic, m.state.as_str()),
        });
    }
    MirrorAudit {
        mirror_topic: m.mirror_topic.clone(),
        source_topic: m.source_topic.clone(),
        status: m.state.as_str().to_string(),
        partitions: parts,
        max_lag,
    }
}

/// The origin partitions whose end moved during the window, in partition order.
fn origin_movements(mirrors: &[MirrorObservation]) -> Vec<OriginMovement> {
    mirrors
        .iter()
        .flat_map(|m| {
            m.partitions
                .iter()
                .filter_map(|p| match (&p.origin_end_before, &p.origin_end) {
                    (Ok(before), Ok(after)) if after != before => Some(OriginMovement {
                        topic: m.source_topic.clone(),
                        partition: p.partition,
                        before: *before,
                        after: *after,
                    }),
                    _ => None,
                })
        })
        .collect()
}

/// A group's standing: moved, synced and safe, or at risk (with its finding).
fn judge_group(
    j: &GroupJudgement,
    agent_moves_groups: bool,
    findings: &mut Vec<AuditFinding>,
) -> GroupAudit {
    let classification =
        if j.destination_state == Presence::Active && j.origin_state != Presence::Active {
            GroupClass::Moved
        } else if j.safe {
            GroupClass::SyncedAndSafe
        } else if agent_moves_groups && moves_after_promotion(j) {
            GroupClass::MovesAfterPromotion
        } else {
            GroupClass::AtRisk
        };
    let mut reasons = Vec::new();
    if classification == GroupClass::AtRisk {
        reasons.extend(
            j.findings
                .iter()
                .filter(|f| f.blocking)
                .map(|f| f.detail.clone()),
        );
        let mut by_verdict: BTreeMap<Verdict, Vec<String>> = BTreeMap::new();
        for p in j.partitions.iter().filter(|p| p.verdict != Verdict::Safe) {
            by_verdict
                .entry(p.verdict)
                .or_default()
                .push(format!("{}-{}", p.topic, p.partition));
        }
        for (v, tps) in by_verdict {
            reasons.push(format!("{} on {}", v.as_str(), tps.join(", ")));
        }
        findings.push(AuditFinding {
            kind: AuditFindingKind::GroupAtRisk,
            detail: format!("{}: {}", j.group, reasons.join("; ")),
        });
    }
    GroupAudit {
        group: j.group.clone(),
        classification,
        origin_state: j.origin_state,
        destination_state: j.destination_state,
        reasons,
    }
}

/// A group the agent can move after promotion: not on the destination, every blocking
/// finding one its own cutover resolves (still on the origin, still synced by the link), and
/// every partition's offset on the mirror (`SAFE`, or `NOT_SYNCED`: the agent writes it).
fn moves_after_promotion(j: &GroupJudgement) -> bool {
    j.destination_state != Presence::Active
        && j.findings.iter().filter(|f| f.blocking).all(|f| {
            matches!(
                f.kind,
                FindingKind::GroupActiveOnOrigin | FindingKind::GroupNotExcluded
            )
        })
        && j.partitions
            .iter()
            .filter(|p| p.mirror_topic.is_some())
            .all(|p| matches!(p.verdict, Verdict::Safe | Verdict::NotSynced))
}

/// One origin partition's high watermark and last stable offset, as read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StableObservation {
    pub topic: String,
    pub partition: i32,
    pub end: Result<Offset, String>,
    pub last_stable: Result<Offset, String>,
}

/// An origin partition where a transaction is still open (or whose stability could not be
/// read): promoting now would cut the transaction in two, its end never mirrored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenTransaction {
    pub topic: String,
    pub partition: i32,
    pub last_stable: Option<Offset>,
    pub end: Option<Offset>,
    /// Why the partition blocks: an open transaction, or what could not be read.
    pub detail: String,
}

/// The partitions whose last stable offset is not their high watermark, in the order given.
pub fn open_transactions(partitions: &[StableObservation]) -> Vec<OpenTransaction> {
    partitions
        .iter()
        .filter_map(|p| {
            let detail = match (&p.last_stable, &p.end) {
                (Ok(lso), Ok(end)) if lso == end => return None,
                (Ok(lso), Ok(end)) => format!(
                    "a transaction is open: last stable offset {} below the high watermark {}",
                    lso.get(),
                    end.get()
                ),
                (Err(e), _) | (_, Err(e)) => format!("could not be read: {e}"),
            };
            Some(OpenTransaction {
                topic: p.topic.clone(),
                partition: p.partition,
                last_stable: p.last_stable.as_ref().ok().copied(),
                end: p.end.as_ref().ok().copied(),
                detail,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::rule::{Finding, FindingKind, GroupStatus, PartitionJudgement};

    /// A partition of `orders` whose origin end went from `before` to `after` during the
    /// window, with the mirror at `mirror`.
    fn partition(p: i32, before: i64, after: i64, mirror: i64) -> MirrorPartitionObservation {
        MirrorPartitionObservation {
            partition: p,
            origin_end_before: Ok(Offset(before)),
            origin_end: Ok(Offset(after)),
            mirror_end: Ok(Offset(mirror)),
            reported_lag: Some(0),
        }
    }

    fn mirror(
        state: MirrorState,
        partitions: Vec<MirrorPartitionObservation>,
    ) -> MirrorObservation {
        MirrorObservation {
            mirror_topic: "orders.mirror".into(),
            source_topic: "orders".into(),
            state,
            partitions,
        }
    }

    /// Two partitions, fully mirrored, origin ends still.
    fn caught_up() -> MirrorObservation {
        mirror(
            MirrorState::Active,
            vec![partition(0, 100, 100, 100), partition(1, 50, 50, 50)],
        )
    }

    /// A group with one partition on `orders` (or on an unmirrored topic).
    fn group(
        name: &str,
        origin: Presence,
        destination: Presence,
        verdict: Verdict,
        mirrored: bool,
    ) -> GroupJudgement {
        let findings = if origin == Presence::Active {
            vec![Finding {
                kind: FindingKind::GroupActiveOnOrigin,
                blocking: true,
                detail: "1 member(s) still consume on the origin: app@/10.0.0.1".into(),
            }]
        } else {
            Vec::new()
        };
        let safe = verdict == Verdict::Safe && findings.is_empty();
        GroupJudgement {
            group: GroupId::new(name),
            status: if safe {
                GroupStatus::Safe
            } else {
                GroupStatus::NotSafe
            },
            safe,
            origin_state: origin,
            destination_state: destination,
            origin_members: Vec::new(),
            destination_members: Vec::new(),
            findings,
            partitions: vec![PartitionJudgement {
                topic: (if mirrored { "orders" } else { "local" }).into(),
                partition: 0,
                mirror_topic: mirrored.then(|| "orders.mirror".into()),
                mirror_status: mirrored.then_some(Cow::Borrowed("ACTIVE")),
                origin_committed: Some(Offset(90)),
                destination_committed: Some(Offset(90)),
                origin_end: Some(Offset(100)),
                mirror_end: Some(Offset(100)),
                mirror_start: Some(Offset(0)),
                consumer_lag: Some(10),
                mirror_lag: Some(0),
                destination_lag: Some(10),
                verdict,
                notes: Vec::new(),
            }],
        }
    }

    fn moved() -> GroupJudgement {
        group(
            "billing",
            Presence::Empty,
            Presence::Active,
            Verdict::Safe,
            true,
        )
    }

    fn stopped_and_safe() -> GroupJudgement {
        group(
            "shipping",
            Presence::Empty,
            Presence::NotFound,
            Verdict::Safe,
            true,
        )
    }

    fn kinds(j: &PromotionJudgement) -> Vec<AuditFindingKind> {
        j.findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn promotion_verdicts_for_every_case() {
        use AuditFindingKind::*;
        struct Case {
            name: &'static str,
            reports_status: bool,
            mirrors: Vec<MirrorObservation>,
            groups: Vec<GroupJudgement>,
            safe: bool,
            findings: Vec<AuditFindingKind>,
        }
        let case = |name, mirrors, groups, safe, findings| Case {
            name,
            reports_status: true,
            mirrors,
            groups,
            safe,
            findings,
        };
        let cases = vec![
            case(
                "all good: caught up, still, every group moved or synced",
                vec![caught_up()],
                vec![moved(), stopped_and_safe()],
                true,
                vec![],
            ),
            case(
                "mirror lag above zero",
                vec![mirror(
                    MirrorState::Active,
                    vec![partition(0, 100, 100, 97), partition(1, 50, 50, 50)],
                )],
                vec![moved()],
                false,
                vec![MirrorLag],
            ),
            case(
                "a mirror ahead of the origin's read is a lag too (reads are not atomic)",
                vec![mirror(
                    MirrorState::Active,
                    vec![partition(0, 100, 100, 101)],
                )],
                vec![],
                false,
                vec![MirrorLag],
            ),
            case(
                "origin ends moved during the window",
                vec![mirror(
                    MirrorState::Active,
                    vec![partition(0, 100, 104, 104), partition(1, 50, 50, 50)],
                )],
                vec![moved()],
                false,
                vec![OriginStillWritten],
            ),
            case(
                "a group still consumes on the origin",
                vec![caught_up()],
                vec![
                    moved(),
                    group(
                        "audit",
                        Presence::Active,
                        Presence::NotFound,
                        Verdict::Safe,
                        true,
                    ),
                ],
                false,
                vec![GroupAtRisk],
            ),
            case(
                "a stopped group not synced yet",
                vec![caught_up()],
                vec![group(
                    "audit",
                    Presence::Empty,
                    Presence::NotFound,
                    Verdict::NotSynced,
                    true,
                )],
                false,
                vec![GroupAtRisk],
            ),
            case(
                "a group on no mirrored topic is none of promotion's business",
                vec![caught_up()],
                vec![group(
                    "local",
                    Presence::Active,
                    Presence::NotFound,
                    Verdict::NotMirrored,
                    false,
                )],
                true,
                vec![],
            ),
            case(
                "a paused mirror",
                vec![mirror(
                    MirrorState::Paused,
                    vec![partition(0, 100, 100, 100)],
                )],
                vec![],
                false,
                vec![MirrorNotActive],
            ),
            case(
                "an unreadable mirror end",
                vec![mirror(
                    MirrorState::Active,
                    vec![MirrorPartitionObservation {
                        mirror_end: Err("LEADER_NOT_AVAILABLE".into()),
                        ..partition(0, 100, 100, 100)
                    }],
                )],
                vec![],
                false,
                vec![MirrorUnreadable],
            ),
            case("no mirrors at all", vec![], vec![], false, vec![NoMirrors]),
            Case {
                reports_status: false,
                ..case(
                    "status unknown without REST: reported, not blocking",
                    vec![mirror(
                        MirrorState::Unknown,
                        vec![partition(0, 100, 100, 100)],
                    )],
                    vec![stopped_and_safe()],
                    true,
                    vec![MirrorStatusUnknown],
                )
            },
            case(
                "every finding in its order",
                vec![mirror(
                    MirrorState::Failed,
                    vec![
                        MirrorPartitionObservation {
                            origin_end: Err("not read".into()),
                            ..partition(0, 100, 100, 100)
                        },
                        partition(1, 50, 60, 55),
                    ],
                )],
                vec![group(
                    "audit",
                    Presence::Active,
                    Presence::NotFound,
                    Verdict::Safe,
                    true,
                )],
                false,
                vec![
                    MirrorUnreadable,
                    MirrorNotActive,
                    OriginStillWritten,
                    GroupAtRisk,
                ],
            ),
        ];
        for c in cases {
            let j = judge(&PromotionObservation {
                link: "link-1",
                reports_status: c.reports_status,
                window_ms: 5000,
                mirrors: c.mirrors,
                groups: &c.groups,
                agent_moves_groups: false,
                staying: &BTreeSet::new(),
                reverse: &ReversePath::NotConfigured,
            });
            assert_eq!(j.safe, c.safe, "{}: {j:?}", c.name);
            assert_eq!(kinds(&j), c.findings, "{}: {j:?}", c.name);
        }
    }

    #[test]
    fn lags_and_movements_are_measured_and_explained() {
        let j = judge(&PromotionObservation {
            link: "link-1",
            reports_status: true,
            window_ms: 5000,
            mirrors: vec![mirror(
                MirrorState::Active,
                vec![partition(0, 100, 104, 97), partition(1, 50, 50, 48)],
            )],
            groups: &[],
            agent_moves_groups: false,
            staying: &BTreeSet::new(),
            reverse: &ReversePath::NotConfigured,
        });
        let m = &j.mirrors[0];
        assert_eq!(
            m.partitions
                .iter()
                .map(|p| p.mirror_lag)
                .collect::<Vec<_>>(),
            [Some(7), Some(2)]
        );
        assert_eq!(m.max_lag, Some(7));
        assert_eq!(m.status, "ACTIVE");
        assert_eq!(
            j.findings[0].detail,
            "orders.mirror: mirror lag up to 7 on 2 partition(s)"
        );
        assert_eq!(
            j.origin_moving,
            [OriginMovement {
                topic: "orders".into(),
                partition: 0,
                before: Offset(100),
                after: Offset(104),
            }]
        );
        assert_eq!(
            j.findings[1].detail,
            "origin ends moved within 5000 ms on 1 partition(s) of orders: a producer still writes to the origin"
        );
    }

    #[test]
    fn an_unreadable_partition_has_no_lag_and_says_why() {
        let j = judge(&PromotionObservation {
            link: "link-1",
            reports_status: true,
            window_ms: 5000,
            mirrors: vec![mirror(
                MirrorState::Active,
                vec![
                    partition(0, 100, 100, 100),
                    MirrorPartitionObservation {
                        mirror_end: Err("not read".into()),
                        ..partition(1, 50, 50, 50)
                    },
                ],
            )],
            groups: &[],
            agent_moves_groups: false,
            staying: &BTreeSet::new(),
            reverse: &ReversePath::NotConfigured,
        });
        let m = &j.mirrors[0];
        assert_eq!(
            m.max_lag, None,
            "a lag that could not be measured is not zero"
        );
        assert_eq!(m.partitions[1].error.as_deref(), Some("not read"));
        assert_eq!(j.findings[0].detail, "orders.mirror partition 1: not read");
    }

    #[test]
    fn a_group_still_on_the_origin_moves_after_promotion_only_when_the_agent_writes_offsets() {
        let consuming = group(
            "ledger",
            Presence::Active,
            Presence::NotFound,
            Verdict::NotSynced,
            true,
        );
        let ahead = group(
            "risk",
            Presence::Active,
            Presence::NotFound,
            Verdict::BelowMirrorStart,
            true,
        );
        let groups = [consuming, ahead];
        let judged = |groups: &[GroupJudgement], agent_moves_groups| {
            let j = judge(&PromotionObservation {
                link: "link-1",
                reports_status: true,
                window_ms: 5000,
                mirrors: vec![caught_up()],
                groups,
                agent_moves_groups,
                staying: &BTreeSet::new(),
                reverse: &ReversePath::NotConfigured,
            });
            let classes: Vec<GroupClass> = j.groups.iter().map(|g| g.classification).collect();
            (j.safe, classes)
        };
        // The link's sync ends with promotion: a group it was to move is at risk.
        assert_eq!(
            judged(&groups, false),
            (false, vec![GroupClass::AtRisk, GroupClass::AtRisk])
        );
        // The agent writes final offsets itself: the group follows later; but records gone
        // from the mirror stay a risk whoever moves it.
        assert_eq!(
            judged(&groups, true),
            (
                false,
                vec![GroupClass::MovesAfterPromotion, GroupClass::AtRisk]
            )
        );
        // With only the group that can follow, promotion is safe.
        assert_eq!(
            judged(&groups[..1], true),
            (true, vec![GroupClass::MovesAfterPromotion])
        );
    }

    #[test]
    fn a_group_declared_to_stay_is_judged_by_the_way_back_not_by_whether_it_can_move() {
        // Running on the origin with offsets the link cannot sync after promotion: at risk
        // in link mode unless declared to stay.
        let billing = group(
            "billing",
            Presence::Active,
            Presence::NotFound,
            Verdict::NotSynced,
            true,
        );
        let staying: BTreeSet<GroupId> = [GroupId::new("billing")].into();
        let judged = |reverse: ReversePath| {
            let j = judge(&PromotionObservation {
                link: "link-1",
                reports_status: true,
                window_ms: 5000,
                mirrors: vec![caught_up()],
                groups: std::slice::from_ref(&billing),
                agent_moves_groups: false,
                staying: &staying,
                reverse: &reverse,
            });
            let finding = j.findings.first().map(|f| (f.kind, f.detail.clone()));
            (j.safe, j.groups[0].classification, finding)
        };
        let back = |prefix: &str| ReversePath::Link {
            name: "back".into(),
            prefix: prefix.into(),
        };
        assert_eq!(
            judged(back("dst.")),
            (true, GroupClass::StaysOnOrigin, None)
        );
        for (reverse, says) in [
            (ReversePath::NotConfigured, "no reverse link is configured"),
            (
                ReversePath::Unreadable("HTTP 401".into()),
                "the reverse link cannot be read: HTTP 401",
            ),
            (back(""), "the reverse link back has no cluster.link.prefix"),
        ] {
            let (safe, class, finding) = judged(reverse);
            assert!(!safe);
            assert_eq!(class, GroupClass::AtRisk);
            let (kind, detail) = finding.expect("a finding");
            assert_eq!(kind, AuditFindingKind::StayWithoutReversePath);
            assert!(detail.starts_with("billing: "), "{detail}");
            assert!(detail.contains(says), "{detail}");
        }
    }

    #[test]
    fn a_group_at_risk_says_which_findings_and_partitions() {
        let mut audit = group(
            "audit",
            Presence::Active,
            Presence::NotFound,
            Verdict::NotSynced,
            true,
        );
        audit.findings.push(Finding {
            kind: FindingKind::GroupNotExcluded,
            blocking: false,
            detail: "not blocking, not a reason".into(),
        });
        let groups = [moved(), stopped_and_safe(), audit];
        let j = judge(&PromotionObservation {
            link: "link-1",
            reports_status: true,
            window_ms: 5000,
            mirrors: vec![caught_up()],
            groups: &groups,
            agent_moves_groups: false,
            staying: &BTreeSet::new(),
            reverse: &ReversePath::NotConfigured,
        });
        let classes: Vec<(&str, GroupClass)> = j
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.classification))
            .collect();
        assert_eq!(
            classes,
            [
                ("billing", GroupClass::Moved),
                ("shipping", GroupClass::SyncedAndSafe),
                ("audit", GroupClass::AtRisk),
            ]
        );
        assert!(j.groups[0].reasons.is_empty() && j.groups[1].reasons.is_empty());
        assert_eq!(
            j.groups[2].reasons,
            [
                "1 member(s) still consume on the origin: app@/10.0.0.1",
                "NOT_SYNCED on orders-0",
            ]
        );
        assert_eq!(
            j.findings[0].detail,
            "audit: 1 member(s) still consume on the origin: app@/10.0.0.1; NOT_SYNCED on orders-0"
        );
    }

    #[test]
    fn a_partition_whose_last_stable_offset_lags_its_end_has_an_open_transaction() {
        let p = |partition, lso: Result<i64, &str>, end| StableObservation {
            topic: "orders".into(),
            partition,
            end: Ok(Offset(end)),
            last_stable: lso.map(Offset).map_err(String::from),
        };
        let open = open_transactions(&[
            p(0, Ok(100), 100),
            p(1, Ok(90), 100),
            p(2, Err("NOT_LEADER_OR_FOLLOWER"), 5),
        ]);
        assert_eq!(open.len(), 2, "{open:?}");
        assert_eq!(
            (open[0].partition, open[0].last_stable),
            (1, Some(Offset(90)))
        );
        assert!(open[0].detail.contains("transaction is open"));
        assert!(open[1].detail.contains("NOT_LEADER_OR_FOLLOWER"));
    }
}
