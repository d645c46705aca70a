//! A simulated consumer application: one member of one group, and the record of every offset
//! it processed, from which duplicates and gaps are counted.
//!
//! An app names its topics as they are on the origin; where it runs decides which copy it
//! reads (`World::route`): the topic itself on the origin, its mirror (or the writable topic a
//! reverse mirror copies) on the destination, or the reverse link's mirror back on the origin.
//! Its positions and record are kept in the origin's offsets, so a copy whose offsets differ
//! is counted record by record, as the lab's applications count by record identity.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{GroupId, Role, TopicPartition};

/// Where a consumer starts when it has no valid committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoOffsetReset {
    Earliest,
    Latest,
    /// Fail instead of guessing (the consumer stays stopped).
    None,
}

/// A consumer application: one member of one group, consuming every partition of its topics
/// (or the partitions it is assigned) at a steady rate, committing on an interval and when it
/// stops cleanly, and recording every offset it processes so duplicates and gaps are counted.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub group: GroupId,
    /// Source topic names; on the destination the app reads their mirrors.
    pub topics: Vec<String>,
    /// Fixed partitions, or every partition of the topics at start.
    pub partitions: Option<Vec<i32>>,
    /// Records per second per partition.
    pub rate: f64,
    pub commit_interval: Duration,
    pub auto_offset_reset: AutoOffsetReset,
    /// The cluster the app runs on, if it runs.
    pub running_on: Option<Role>,
    /// Running on the origin, it reads the reverse link's mirrors (a group moved back).
    pub via_reverse: bool,
    /// Next offset to process, per source partition.
    pub(super) positions: BTreeMap<TopicPartition, i64>,
    pub(super) carry: BTreeMap<TopicPartition, f64>,
    pub(super) last_commit: Duration,
    /// Per source partition: how many times each offset was processed, from `first`.
    processed: BTreeMap<TopicPartition, Processed>,
    /// Why the app could not start, the last time it could not.
    pub start_error: Option<String>,
    /// `auto.offset.reset` applications: (partition, from, to).
    pub resets: Vec<(TopicPartition, Option<i64>, i64)>,
}

#[derive(Debug, Clone, Default)]
struct Processed {
    /// The offset the app was first positioned at on this partition.
    first: i64,
    counts: Vec<u32>,
}

/// Duplicates and gaps one app produced, counted from its processing record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Consumption {
    pub processed: u64,
    /// Processings beyond the first of an offset.
    pub duplicates: u64,
    /// Offsets between where the app first started and where it is now, never processed.
    pub gaps: u64,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        group: GroupId,
        topics: Vec<String>,
        partitions: Option<Vec<i32>>,
        rate: f64,
        commit_interval: Duration,
        auto_offset_reset: AutoOffsetReset,
    ) -> App {
        App {
            name,
            group,
            topics,
            partitions,
            rate,
            commit_interval,
            auto_offset_reset,
            running_on: None,
            via_reverse: false,
            positions: BTreeMap::new(),
            carry: BTreeMap::new(),
            last_commit: Duration::ZERO,
            processed: BTreeMap::new(),
            start_error: None,
            resets: Vec::new(),
        }
    }

    pub fn consumption(&self) -> Consumption {
        let mut c = Consumption::default();
        for (tp, p) in &self.processed {
            let position = self.positions.get(tp).copied().unwrap_or(p.first);
            for (i, &n) in p.counts.iter().enumerate() {
                c.processed += u64::from(n);
                c.duplicates += u64::from(n.saturating_sub(1));
                if n == 0 && p.first + (i as i64) < position {
                    c.gaps += 1;
                }
            }
            // Offsets skipped past the end of the record (a reset to the latest offset).
            let recorded_end = p.first + p.counts.len() as i64;
            c.gaps += (position - recorded_end).max(0) as u64;
        }
        c
    }

    /// The next offset to process on each source partition.
    pub fn positions(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.positions
    }

    pub(super) fn record(&mut self, tp: &TopicPartition, from: i64, to: i64) {
        let p = self.processed.entry(tp.clone()).or_insert(Processed {
            first: from,
            counts: Vec::new(),
        });
        if from < p.first {
            // Rewound below the first position: grow the record at the front.
            let grow = (p.first - from) as usize;
            let mut counts = vec![0; grow];
            counts.extend_from_slice(&p.counts);
            p.counts = counts;
            p.first = from;
        }
        let needed = (to - p.first) as usize;
        if p.counts.len() < needed {
            p.counts.resize(needed, 0);
        }
        for o in from..to {
            p.counts[(o - p.first) as usize] += 1;
        }
    }
}
