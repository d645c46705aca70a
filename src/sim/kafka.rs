//! One simulated Kafka cluster: partitions as log start and end offsets with the timestamps
//! of their records, and groups with committed offsets and members.
//!
//! Only offsets and timestamps matter to the agent: a record has no key or value here. Records
//! appended in one step of the world share that step's timestamp, as records produced within
//! the same millisecond do, so a lookup by time meets the ties a real log has.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ActiveProducer, GroupId, Offsets, Role, TopicPartition};

/// One partition's log: only its offsets matter to the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Log {
    /// The log start offset (oldest record kept).
    pub start: i64,
    /// The log end offset (next offset to be written).
    pub end: i64,
}

/// A group as a cluster's coordinator knows it.
#[derive(Debug, Clone, Default)]
pub struct SimGroup {
    pub committed: Offsets,
    /// The apps connected as members (one member each).
    pub members: Vec<String>,
}

impl SimGroup {
    fn exists(&self) -> bool {
        !self.committed.is_empty() || !self.members.is_empty()
    }
}

/// One simulated Kafka cluster.
#[derive(Debug, Clone)]
pub struct SimKafka {
    pub role: Role,
    pub topics: BTreeMap<String, Vec<Log>>,
    pub groups: BTreeMap<GroupId, SimGroup>,
    /// Partitions without a leader: reads of their offsets fail with `LEADER_NOT_AVAILABLE`.
    pub leaderless: BTreeSet<TopicPartition>,
    /// While set, every call to the cluster fails as if no broker answered.
    pub unreachable: bool,
    /// The timestamps of each partition's records, beside `topics`.
    times: BTreeMap<String, Vec<Times>>,
    /// What each partition's leader keeps of the producers that wrote to it (every simulated
    /// producer is idempotent, as the Java client is by default), by producer id.
    producers: BTreeMap<TopicPartition, BTreeMap<i64, ActiveProducer>>,
}

impl SimKafka {
    pub fn new(role: Role) -> SimKafka {
        SimKafka {
            role,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            leaderless: BTreeSet::new(),
            unreachable: false,
            times: BTreeMap::new(),
            producers: BTreeMap::new(),
        }
    }

    pub fn log(&self, tp: &TopicPartition) -> Option<Log> {
        self.topics
            .get(tp.topic.as_str())?
            .get(usize::try_from(tp.partition).ok()?)
            .copied()
    }

    pub(super) fn log_mut(&mut self, tp: &TopicPartition) -> Option<&mut Log> {
        self.topics
            .get_mut(tp.topic.as_str())?
            .get_mut(usize::try_from(tp.partition).ok()?)
    }

    /// Groups the coordinator knows: with committed offsets or members.
    pub fn known_groups(&self) -> impl Iterator<Item = (&GroupId, &SimGroup)> {
        self.groups.iter().filter(|(_, g)| g.exists())
    }

    pub fn group(&self, group: &GroupId) -> Option<&SimGroup> {
        self.groups.get(group).filter(|g| g.exists())
    }

    pub(super) fn group_mut(&mut self, group: &GroupId) -> &mut SimGroup {
        self.groups.entry(group.clone()).or_default()
    }

    /// An admin offset commit (AlterConsumerGroupOffsets): refused while the group has
    /// members, as the coordinator does; otherwise every offset is written. Answers whether it
    /// was written (`false`: the group has members).
    pub fn commit_as_admin(&mut self, group: &GroupId, offsets: &Offsets) -> bool {
        let g = self.group_mut(group);
        if !g.members.is_empty() {
            return false;
        }
        for (tp, o) in offsets {
            g.committed.insert(tp.clone(), *o);
        }
        true
    }

    /// Creates a topic whose partitions already hold records (all stamped `at_ms`).
    pub fn create_topic(&mut self, name: &str, logs: Vec<Log>, at_ms: i64) {
        let times = logs
            .iter()
            .map(|l| {
                let mut t = Times::default();
                t.push(l.start, at_ms);
                t
            })
            .collect();
        self.times.insert(name.to_string(), times);
        self.topics.insert(name.to_string(), logs);
    }

    /// Adds partitions to a topic (empty ones, or starting at `start`).
    pub fn grow_topic(&mut self, name: &str, partitions: usize, start: i64) {
        let Some(logs) = self.topics.get_mut(name) else {
            return;
        };
        while logs.len() < partitions {
            logs.push(Log { start, end: start });
        }
        let times = self.times.entry(name.to_string()).or_default();
        times.resize_with(partitions, Times::default);
    }

    /// Appends `n` records stamped `at_ms` to a partition; false when there is no such
    /// partition.
    pub fn append(&mut self, topic: &str, partition: usize, n: i64, at_ms: i64) -> bool {
        let Some(log) = self
            .topics
            .get_mut(topic)
            .and_then(|l| l.get_mut(partition))
        else {
            return false;
        };
        let first = log.end;
        log.end += n;
        self.times_mut(topic, partition).push(first, at_ms);
        true
    }

    /// Appends one record written by producer `producer_id`, whose state the partition's
    /// leader then keeps (its last sequence and timestamp), as DescribeProducers reports it.
    pub fn append_by(&mut self, producer_id: i64, topic: &str, partition: usize, at_ms: i64) {
        if !self.append(topic, partition, 1, at_ms) {
            return;
        }
        let tp = TopicPartition::new(topic, partition as i32);
        let state = self
            .producers
            .entry(tp)
            .or_default()
            .entry(producer_id)
            .or_insert(ActiveProducer {
                producer_id,
                producer_epoch: 0,
                last_sequence: -1,
                last_timestamp: -1,
                open_transaction_from: None,
            });
        state.last_sequence += 1;
        state.last_timestamp = at_ms;
    }

    /// The producers a partition's leader keeps state for, by producer id.
    pub fn producers_of(&self, tp: &TopicPartition) -> Vec<ActiveProducer> {
        self.producers
            .get(tp)
            .map(|by_id| by_id.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A partition's timestamps, to write (a map lookup, no allocation, on every append).
    fn times_mut(&mut self, topic: &str, partition: usize) -> &mut Times {
        if !self.times.contains_key(topic) {
            self.times.insert(topic.to_string(), Vec::new());
        }
        let times = self.times.get_mut(topic).expect("inserted above");
        if times.len() <= partition {
            times.resize_with(partition + 1, Times::default);
        }
        &mut times[partition]
    }

    /// Copies `n` records of a source partition, from source offset `from`, to the end of
    /// mirror partition `tp` (at `from - shift`), with their timestamps.
    pub fn copy_in(
        &mut self,
        tp: &TopicPartition,
        source: Option<&Times>,
        from: i64,
        n: i64,
        shift: i64,
    ) {
        let Some(log) = self.log_mut(tp) else {
            return;
        };
        log.end += n;
        // `log_mut` found the partition: its number is not negative.
        let p = usize::try_from(tp.partition).expect("a partition that has a log");
        if let Some(source) = source {
            self.times_mut(tp.topic.as_str(), p)
                .copy_from(source, from, from + n, shift);
        }
    }

    /// The timestamps of one partition's records.
    pub fn times(&self, tp: &TopicPartition) -> Option<&Times> {
        self.times
            .get(tp.topic.as_str())?
            .get(usize::try_from(tp.partition).ok()?)
    }

    /// The first record at or after `offset` still in the log: its offset and timestamp.
    pub fn record_at_or_after(&self, tp: &TopicPartition, offset: i64) -> Option<(i64, i64)> {
        let log = self.log(tp)?;
        let at = offset.max(log.start);
        (at < log.end).then(|| (at, self.times(tp).and_then(|t| t.at(at)).unwrap_or(0)))
    }

    /// The first offset whose record's timestamp is at or after `at_ms` (ListOffsets by
    /// timestamp), `None` when no record is.
    pub fn offset_for_time(&self, tp: &TopicPartition, at_ms: i64) -> Option<i64> {
        let log = self.log(tp)?;
        let found = self.times(tp)?.first_at_or_after(at_ms)?.max(log.start);
        (found < log.end).then_some(found)
    }
}

/// The timestamps of one partition's records, as runs: each run is the first offset of a
/// stretch of records and their common timestamp (milliseconds since the epoch), in
/// ascending order of both.
#[derive(Debug, Clone, Default)]
pub struct Times(Vec<(i64, i64)>);

impl Times {
    /// Records from `offset` on are stamped `at_ms` (until a later run).
    pub fn push(&mut self, offset: i64, at_ms: i64) {
        match self.0.last() {
            Some(&(_, ts)) if ts == at_ms => {}
            _ => self.0.push((offset, at_ms)),
        }
    }

    /// The timestamp of the record at `offset`.
    pub fn at(&self, offset: i64) -> Option<i64> {
        let i = self.0.partition_point(|&(first, _)| first <= offset);
        i.checked_sub(1).map(|i| self.0[i].1)
    }

    /// The first offset stamped at or after `at_ms`, if a run is (it may be past the log's end).
    fn first_at_or_after(&self, at_ms: i64) -> Option<i64> {
        let i = self.0.partition_point(|&(_, ts)| ts < at_ms);
        self.0.get(i).map(|&(first, _)| first)
    }

    /// The stamps of source offsets `[from, to)` as they land at `from - shift` onwards on a
    /// copy.
    pub fn copy_from(&mut self, source: &Times, from: i64, to: i64, shift: i64) {
        let i = source.0.partition_point(|&(first, _)| first <= from);
        let start = i.saturating_sub(1);
        for &(first, ts) in &source.0[start..] {
            if first >= to {
                break;
            }
            self.push(first.max(from) - shift, ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_one_step_share_a_timestamp_and_lookups_meet_the_ties() {
        let mut c = SimKafka::new(Role::Origin);
        c.create_topic("t", vec![Log::default()], 1000);
        c.append("t", 0, 3, 2000); // offsets 0..3 at 2000
        c.append("t", 0, 2, 3000); // offsets 3..5 at 3000
        let tp = TopicPartition::new("t", 0);
        assert_eq!(c.record_at_or_after(&tp, 2), Some((2, 2000)));
        assert_eq!(c.record_at_or_after(&tp, 3), Some((3, 3000)));
        assert_eq!(c.record_at_or_after(&tp, 5), None);
        // ListOffsets by time: the first record at or after the time.
        assert_eq!(c.offset_for_time(&tp, 2000), Some(0));
        assert_eq!(c.offset_for_time(&tp, 2001), Some(3));
        assert_eq!(c.offset_for_time(&tp, 3001), None);
    }

    #[test]
    fn a_shifted_copy_keeps_each_records_timestamp_at_its_lower_offset() {
        let mut origin = SimKafka::new(Role::Origin);
        origin.create_topic("t", vec![Log::default()], 0);
        origin.append("t", 0, 10, 100);
        origin.append("t", 0, 10, 200);
        let mut copy = SimKafka::new(Role::Destination);
        copy.create_topic("t", vec![Log { start: 0, end: 0 }], 0);
        let tp = TopicPartition::new("t", 0);
        // The copy starts 5 records into its source: source 5..20 lands at 0..15.
        copy.copy_in(&tp, origin.times(&tp), 5, 15, 5);
        assert_eq!(copy.log(&tp), Some(Log { start: 0, end: 15 }));
        assert_eq!(copy.record_at_or_after(&tp, 4), Some((4, 100)));
        assert_eq!(copy.record_at_or_after(&tp, 5), Some((5, 200)));
        assert_eq!(copy.offset_for_time(&tp, 150), Some(5));
    }
}
