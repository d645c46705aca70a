//! At the plan: refuse a mirror whose lag cannot drain within `mirror-timeout`, before
//! anything changes (issue 13, point 4). Part of the pure machine: no clock, no I/O, no import
//! beyond the model and the rule.
//!
//! When some partition of the group's topics lags (origin end > mirror end), the plan takes a
//! second observation a moment later and measures how fast the mirror copies. A partition that
//! would need longer than `mirror-timeout` at that pace (or copied nothing at all) is refused:
//! the cutover would only stop the group and roll back at the deadline. The estimate ignores
//! what producers add meanwhile, so it refuses only what cannot work even in the best case.

use serde::{Deserialize, Serialize};

use super::{by_partition, Effect, Machine, Observation, Outcome, Phase};
use crate::model::{Offsets, TopicPartition};

/// How long the plan watches a lagging mirror copy, at least.
pub(super) const DRAIN_SAMPLE_MS: i64 = 2_000;

/// The first of the plan's two looks at a lagging mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DrainSample {
    at_ms: i64,
    #[serde(with = "by_partition")]
    mirror_end: Offsets,
}

/// The partitions whose mirror is behind the origin, with their lag.
fn lagging(o: &Observation) -> Vec<(TopicPartition, i64)> {
    o.origin_end
        .iter()
        .filter(|(tp, _)| !o.promoted_topics.contains(tp.topic.as_str()))
        .filter_map(|(tp, end)| {
            let m = o.mirror_end.get(tp)?;
            (end > m).then(|| (tp.clone(), end.get() - m.get()))
        })
        .collect()
}

impl Machine {
    /// `None`: the mirror is not behind, or it drains in time; the plan goes on. Otherwise the
    /// effects: a second look, or the refusal.
    pub(super) fn plan_drain(&mut self, now: i64, o: &Observation) -> Option<Vec<Effect>> {
        let behind = lagging(o);
        if behind.is_empty() {
            return None;
        }
        let Some(sample) = self.state.drain_sample.take() else {
            self.state.drain_sample = Some(DrainSample {
                at_ms: now,
                mirror_end: o.mirror_end.clone(),
            });
            let at = now + self.state.settings.poll_ms.max(DRAIN_SAMPLE_MS);
            return Some(vec![Effect::Observe { at_ms: at }]);
        };
        let elapsed = (now - sample.at_ms).max(1);
        let limit = self.state.settings.mirror_timeout_ms;
        let hopeless: Vec<String> = behind
            .iter()
            .filter_map(|(tp, lag)| {
                let before = sample.mirror_end.get(tp)?;
                let copied = o.mirror_end.get(tp)?.get() - before.get();
                let needs_ms = (copied > 0).then(|| lag.saturating_mul(elapsed) / copied);
                match needs_ms {
                    Some(ms) if ms <= limit => None,
                    Some(ms) => Some(format!(
                        "{tp}: {lag} record(s) behind, {copied} copied in {elapsed} ms (about {} s to catch up)",
                        ms / 1000
                    )),
                    None => Some(format!(
                        "{tp}: {lag} record(s) behind, nothing copied in {elapsed} ms"
                    )),
                }
            })
            .collect();
        if hopeless.is_empty() {
            return None;
        }
        Some(self.finish(
            now,
            Phase::Refused,
            Outcome::Refused,
            format!(
                "the mirror cannot catch up within mirror-timeout ({} s): {}; nothing was changed. Wait until it catches up (`cutover verify <group> --wait`), or raise [cutover] mirror-timeout",
                limit / 1000,
                hopeless.join("; ")
            ),
        ))
    }
}
