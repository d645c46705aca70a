//! Cutting a group over onto promoted topics (the standard migration's step 6: producers move
//! topic by topic, then the remaining groups follow). Part of the pure machine: no clock, no
//! I/O, no import beyond the model and the rule.
//!
//! A promoted mirror (`STOPPED`) is an ordinary topic on the destination holding the origin's
//! records at the origin's offsets; the link no longer syncs group offsets to it. So:
//!
//! - `final-offsets = "link"` is refused up front: the sync it waits for never comes.
//! - `final-offsets = "agent"` writes the final offsets itself, as for any topic. The exclusion
//!   is proven on the topics the link still mirrors; when every topic is promoted there is
//!   nothing for the link to sync and no exclusion is needed.
//! - Offsets mean the same records on both sides only while nothing writes the origin after
//!   the promotion: the origin's end of each promoted partition is taken at the plan, and a
//!   write seen before the restart rolls back. A mirror promoted during the cutover rolls back
//!   too (run the cutover again: the plan then sees it).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{by_partition, offsets_text, Effect, Machine, Observation, Outcome, Phase};
use crate::model::{Offsets, TopicPartition};

/// The group's promoted topics at the plan, and their origin ends then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Promoted {
    topics: BTreeSet<String>,
    #[serde(with = "by_partition")]
    origin_end: Offsets,
    /// Every topic of the group is promoted.
    all: bool,
}

impl Promoted {
    pub(super) fn covers(&self, tp: &TopicPartition) -> bool {
        self.topics.contains(tp.topic.as_str())
    }
}

impl Machine {
    /// At the plan: refuses promoted topics in link mode; in agent mode records them, and
    /// starts the stop at once when every topic is promoted (nothing left to exclude).
    /// `None`: the plan goes on as for mirrors that are all `ACTIVE`.
    pub(super) fn plan_promoted(&mut self, now: i64, o: &Observation) -> Option<Vec<Effect>> {
        if o.promoted_topics.is_empty() {
            return None;
        }
        let topics = o
            .promoted_topics
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if !self.agent_writes() {
            return Some(self.finish(
                now,
                Phase::Refused,
                Outcome::Refused,
                format!(
                    "final-offsets = \"link\" waits for the link's offset sync, which does not sync promoted topics ({topics}); nothing was changed. Let cutover write the final offsets (final-offsets = \"agent\")"
                ),
            ));
        }
        let all = o
            .origin_committed
            .keys()
            .all(|tp| o.promoted_topics.contains(tp.topic.as_str()));
        let origin_end = o
            .origin_end
            .iter()
            .filter(|(tp, _)| o.promoted_topics.contains(tp.topic.as_str()))
            .map(|(tp, e)| (tp.clone(), *e))
            .collect();
        self.state.promoted = Some(Promoted {
            topics: o.promoted_topics.clone(),
            origin_end,
            all,
        });
        all.then(|| {
            self.state.exclusion_proof = Some(format!(
                "not needed: every topic of the group is promoted ({topics}); the link syncs no offsets to them"
            ));
            self.stop(now)
        })
    }

    /// Every topic of the group was promoted at the plan.
    pub(super) fn all_promoted(&self) -> bool {
        self.state.promoted.as_ref().is_some_and(|p| p.all)
    }

    /// Before the restart: a mirror promoted since the plan, or a promoted topic written on
    /// the origin, ends the cutover.
    pub(super) fn promotion_changed(&self, o: &Observation) -> Option<String> {
        let known = self.state.promoted.as_ref().map(|p| &p.topics);
        let newly: Vec<&str> = o
            .promoted_topics
            .iter()
            .filter(|t| known.is_none_or(|k| !k.contains(*t)))
            .map(String::as_str)
            .collect();
        if !newly.is_empty() {
            return Some(format!(
                "the mirror of {} was promoted during the cutover; run the cutover again (final-offsets = \"agent\" moves a group onto promoted topics)",
                newly.join(", ")
            ));
        }
        let promoted = self.state.promoted.as_ref()?;
        let written: Offsets = promoted
            .origin_end
            .iter()
            .filter_map(|(tp, before)| {
                let now = o.origin_end.get(tp)?;
                (now > before).then(|| (tp.clone(), *now))
            })
            .collect();
        (!written.is_empty()).then(|| {
            format!(
                "the origin of a promoted topic was written during the cutover (ends now {}; at the plan {}): its offsets no longer mean the same records as on the destination. Move its producers to the destination, then run the cutover again",
                offsets_text(&written),
                offsets_text(&promoted.origin_end)
            )
        })
    }
}
