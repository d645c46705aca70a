//! Groups declared to stay on the origin (`cutover audit --stay GROUP…`). Promotion strands
//! them: their topics get no new records on the origin once the producers write on the
//! destination. A reverse link (destination → origin) brings the promoted topics back under
//! other names (its `cluster.link.prefix`), and `cutover group GROUP --to origin` moves each such
//! group onto them after promotion. So such a group is not at risk when that path exists; the
//! audit checks it instead: a reverse link is configured, can be read, and has a prefix (without
//! one its mirrors would need the names the origin's topics still hold).
//!
//! Pure, like its parent: observations in, verdict out.

use crate::rule::{GroupJudgement, Presence};

use super::{AuditFinding, AuditFindingKind, GroupAudit, GroupClass};

/// What the agent read of the way back to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// The configuration names no reverse link.
    NotConfigured,
    /// The reverse link could not be read (why).
    Unreadable(String),
    /// The reverse link, with its `cluster.link.prefix` (empty: none).
    Link { name: String, prefix: String },
}

impl ReversePath {
    /// Why this path cannot bring a staying group its topics back, if it cannot.
    fn problem(&self) -> Option<String> {
        match self {
            ReversePath::NotConfigured => Some(
                "no reverse link is configured to bring its topics back after promotion: create a link from the destination to the origin with a cluster.link.prefix and name it in [reverse-link]".into(),
            ),
            ReversePath::Unreadable(e) => Some(format!("the reverse link cannot be read: {e}")),
            ReversePath::Link { name, prefix } if prefix.is_empty() => Some(format!(
                "the reverse link {name} has no cluster.link.prefix: its mirrors would need the names the origin's topics hold"
            )),
            ReversePath::Link { .. } => None,
        }
    }
}

/// A group declared to stay: `STAYS_ON_ORIGIN` when the way back exists and the group is not
/// running on the destination; at risk (with the finding saying why) otherwise.
pub(super) fn judge_staying(
    j: &GroupJudgement,
    reverse: &ReversePath,
    findings: &mut Vec<AuditFinding>,
) -> GroupAudit {
    let mut reasons = Vec::new();
    if j.destination_state == Presence::Active {
        reasons.push("declared to stay on the origin, but it runs on the destination".to_string());
    }
    reasons.extend(reverse.problem());
    let classification = if reasons.is_empty() {
        GroupClass::StaysOnOrigin
    } else {
        findings.push(AuditFinding {
            kind: AuditFindingKind::StayWithoutReversePath,
            detail: format!("{}: {}", j.group, reasons.join("; ")),
        });
        GroupClass::AtRisk
    };
    GroupAudit {
        group: j.group.clone(),
        classification,
        origin_state: j.origin_state,
        destination_state: j.destination_state,
        reasons,
    }
}
