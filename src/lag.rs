//! Mirror lag over time: how far each mirror is behind its origin topic, how fast it drains,
//! when it will be done, and whether it stopped copying. The pure half of `cutover watch`.
//!
//! A [`Sample`] is one look at every watched partition (the origin's end and the mirror's
//! end, as measured, never the link's own fetch-relative figure). [`Tracker`] keeps the recent
//! samples and answers, per mirror topic: the lag now, the net drain rate over the last
//! [`RATE_WINDOW_MS`] (copying minus what producers add: negative when the mirror falls
//! further behind), an ETA at that rate, and how long a lagging partition's mirror end has
//! not moved (a stall, once past the tracker's `stall_after_ms`).
//!
//! No I/O, no clock: `at_ms` comes with each sample. This module imports only the model.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::model::{MirrorState, TopicPartition};

/// The span the drain rate is measured over.
pub const RATE_WINDOW_MS: i64 = 30_000;

/// One partition at one look: `None` where the end could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionEnds {
    pub origin_end: Option<i64>,
    pub mirror_end: Option<i64>,
}

impl PartitionEnds {
    /// `origin_end − mirror_end`, when both were read (never below zero).
    pub fn lag(&self) -> Option<i64> {
        Some((self.origin_end? - self.mirror_end?).max(0))
    }
}

/// One look at every watched partition, keyed by the mirror topic's partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    /// Each mirror topic's state at this look.
    pub states: BTreeMap<String, MirrorState>,
    pub partitions: BTreeMap<TopicPartition, PartitionEnds>,
}

/// One mirror topic, as the tracker sees it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicLag {
    pub mirror_topic: String,
    pub state: String,
    pub partitions: usize,
    /// Records the mirror is behind, over all partitions (`None` if a partition is unread).
    pub lag: Option<i64>,
    /// The largest partition lag.
    pub max_partition_lag: Option<i64>,
    /// Partitions with lag above zero.
    pub lagging_partitions: usize,
    /// Records copied per second over the rate window (mirror ends).
    pub copy_rate: Option<f64>,
    /// Net records per second the lag shrank over the rate window (negative: it grew).
    pub drain_rate: Option<f64>,
    /// Seconds until the lag is zero at the drain rate (`None`: not draining or unknown).
    pub eta_s: Option<u64>,
    /// Lagging partitions whose mirror end has not moved for at least `stall_after_ms`.
    pub stalled_partitions: Vec<i32>,
    /// The longest a lagging partition's mirror end has not moved, in milliseconds.
    pub still_for_ms: i64,
}

impl TopicLag {
    /// Drained to `until`: every partition read, none above it. A `STOPPED` (promoted) mirror
    /// has nothing left to copy.
    pub fn drained(&self, until: i64) -> bool {
        self.state == "STOPPED" || self.max_partition_lag.is_some_and(|m| m <= until)
    }
}

/// Recent samples, and when each lagging partition's mirror end last moved.
#[derive(Debug, Clone)]
pub struct Tracker {
    stall_after_ms: i64,
    samples: VecDeque<Sample>,
    /// Per partition: its mirror end, and since when it has had that value.
    still_since: BTreeMap<TopicPartition, (i64, i64)>,
}

impl Tracker {
    pub fn new(stall_after_ms: i64) -> Tracker {
        Tracker {
            stall_after_ms,
            samples: VecDeque::new(),
            still_since: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, sample: Sample) {
        for (tp, ends) in &sample.partitions {
            let Some(end) = ends.mirror_end else { continue };
            match self.still_since.get(tp) {
                Some((seen, _)) if *seen == end => {}
                _ => {
                    self.still_since.insert(tp.clone(), (end, sample.at_ms));
                }
            }
        }
        let horizon = sample.at_ms - RATE_WINDOW_MS;
        self.samples.push_back(sample);
        // Keep one sample at or before the window's start, so the rate spans the whole window.
        while self.samples.len() > 2 && self.samples[1].at_ms <= horizon {
            self.samples.pop_front();
        }
    }

    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// Every watched mirror topic now, in name order.
    pub fn topics(&self) -> Vec<TopicLag> {
        let Some(now) = self.samples.back() else {
            return Vec::new();
        };
        let first = self.samples.front().filter(|f| f.at_ms < now.at_ms);
        let mut by_topic: BTreeMap<&str, Vec<(&TopicPartition, &PartitionEnds)>> = BTreeMap::new();
        for (tp, ends) in &now.partitions {
            by_topic
                .entry(tp.topic.as_str())
                .or_default()
                .push((tp, ends));
        }
        by_topic
            .into_iter()
            .map(|(topic, parts)| self.topic(topic, &parts, now, first))
            .collect()
    }

    fn topic(
        &self,
        topic: &str,
        parts: &[(&TopicPartition, &PartitionEnds)],
        now: &Sample,
        first: Option<&Sample>,
    ) -> TopicLag {
        let lags: Option<Vec<i64>> = parts.iter().map(|(_, e)| e.lag()).collect();
        let lag = lags.as_ref().map(|l| l.iter().sum::<i64>());
        let sum_then = |f: fn(&PartitionEnds) -> Option<i64>| -> Option<i64> {
            let then = first?;
            parts
                .iter()
                .map(|(tp, _)| then.partitions.get(*tp).and_then(f))
                .sum()
        };
        let elapsed_s = first.map(|f| (now.at_ms - f.at_ms) as f64 / 1000.0);
        let mirror_now: Option<i64> = parts.iter().map(|(_, e)| e.mirror_end).sum();
        let copy_rate = match (elapsed_s, mirror_now, sum_then(|e| e.mirror_end)) {
            (Some(s), Some(now), Some(then)) => Some((now - then) as f64 / s),
            _ => None,
        };
        let drain_rate = match (elapsed_s, lag, sum_then(PartitionEnds::lag)) {
            (Some(s), Some(now), Some(then)) => Some((then - now) as f64 / s),
            _ => None,
        };
        let eta_s = match (lag, drain_rate) {
            (Some(0), _) => Some(0),
            (Some(lag), Some(rate)) if rate > 0.0 => Some((lag as f64 / rate).ceil() as u64),
            _ => None,
        };
        let mut stalled_partitions = Vec::new();
        let mut still_for_ms = 0;
        for (tp, ends) in parts {
            if ends.lag().unwrap_or(0) == 0 {
                continue;
            }
            let still = self
                .still_since
                .get(*tp)
                .map_or(0, |(_, since)| now.at_ms - since);
            still_for_ms = still_for_ms.max(still);
            if still >= self.stall_after_ms {
                stalled_partitions.push(tp.partition);
            }
        }
        TopicLag {
            mirror_topic: topic.to_string(),
            state: now
                .states
                .get(topic)
                .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
            partitions: parts.len(),
            lag,
            max_partition_lag: lags.as_ref().map(|l| l.iter().copied().max().unwrap_or(0)),
            lagging_partitions: parts.iter().filter(|(_, e)| e.lag() > Some(0)).count(),
            copy_rate,
            drain_rate,
            eta_s,
            stalled_partitions,
            still_for_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, ends: &[(i32, i64, i64)]) -> Sample {
        Sample {
            at_ms,
            states: [("orders".to_string(), MirrorState::Active)].into(),
            partitions: ends
                .iter()
                .map(|(p, origin, mirror)| {
                    (
                        TopicPartition::new("orders", *p),
                        PartitionEnds {
                            origin_end: Some(*origin),
                            mirror_end: Some(*mirror),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn lag_drain_rate_and_eta_come_from_measured_ends_over_the_window() {
        let mut t = Tracker::new(60_000);
        t.push(sample(0, &[(0, 1_000, 0), (1, 1_000, 500)]));
        t.push(sample(10_000, &[(0, 1_100, 300), (1, 1_100, 800)]));
        let [orders] = t.topics().try_into().expect("one topic");
        // Lag 1500 → 1100 in 10 s: 40 records/s net, 600 copied: 60/s.
        assert_eq!(orders.lag, Some(1_100));
        assert_eq!(orders.max_partition_lag, Some(800));
        assert_eq!(orders.lagging_partitions, 2);
        assert_eq!(orders.drain_rate, Some(40.0));
        assert_eq!(orders.copy_rate, Some(60.0));
        assert_eq!(orders.eta_s, Some(28));
        assert!(!orders.drained(0));
        assert!(orders.drained(800));
    }

    #[test]
    fn a_mirror_falling_further_behind_has_a_negative_rate_and_no_eta() {
        let mut t = Tracker::new(60_000);
        t.push(sample(0, &[(0, 100, 50)]));
        t.push(sample(5_000, &[(0, 200, 60)]));
        let [orders] = t.topics().try_into().expect("one topic");
        assert_eq!(orders.drain_rate, Some(-18.0));
        assert_eq!(orders.eta_s, None);
    }

    #[test]
    fn a_lagging_partition_whose_mirror_end_does_not_move_is_stalled_after_the_threshold() {
        let mut t = Tracker::new(20_000);
        t.push(sample(0, &[(0, 100, 50), (1, 10, 10)]));
        t.push(sample(10_000, &[(0, 100, 50), (1, 10, 10)]));
        assert!(t.topics()[0].stalled_partitions.is_empty());
        t.push(sample(20_000, &[(0, 100, 50), (1, 10, 10)]));
        let [orders] = t.topics().try_into().expect("one topic");
        // Partition 1 has no lag: an idle topic is not a stall.
        assert_eq!(orders.stalled_partitions, vec![0]);
        assert_eq!(orders.still_for_ms, 20_000);
        // It moves again: no longer stalled.
        t.push(sample(25_000, &[(0, 100, 60), (1, 10, 10)]));
        assert!(t.topics()[0].stalled_partitions.is_empty());
    }

    #[test]
    fn an_unread_partition_leaves_the_lag_unknown_and_never_drained() {
        let mut t = Tracker::new(60_000);
        let mut s = sample(0, &[(0, 0, 0)]);
        s.partitions
            .get_mut(&TopicPartition::new("orders", 0))
            .expect("partition 0")
            .mirror_end = None;
        t.push(s);
        let [orders] = t.topics().try_into().expect("one topic");
        assert_eq!(orders.lag, None);
        assert!(!orders.drained(0));
    }

    #[test]
    fn old_samples_leave_the_window_but_one_before_it_is_kept() {
        let mut t = Tracker::new(60_000);
        for i in 0..10 {
            t.push(sample(i * 10_000, &[(0, 1_000, i * 100)]));
        }
        // The rate spans 30 s at most: 300 copied in 30 s.
        assert_eq!(t.topics()[0].copy_rate, Some(10.0));
        assert!(t.samples.len() <= 5, "{}", t.samples.len());
    }
}
