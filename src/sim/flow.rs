//! What a link does to the data, in either direction: copying records from its source
//! cluster's topics into its mirror topics, and each offset-sync tick's writes of committed
//! offsets. The world runs it for the forward link (origin → destination) and, when a scenario
//! has one, the reverse link (destination → origin).
//!
//! Mirrors keep their source's offsets, except on a copy with an offset shift (a replicator's
//! stand-in, as the emulator's `--copy-offset-shift`): there the record at source offset `o`
//! lands at `o − shift`, and the mirror starts `shift` records into its source. Record
//! timestamps are copied with the records.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{GroupId, Offset, TopicPartition};
use crate::sim::kafka::SimKafka;
use crate::sim::link_model::{LinkState, MirrorStatus, PartitionLag, SYNC_ENABLE};

/// What one offset-sync tick writes: per group, its offsets on the mirror topics.
pub(super) type SyncWrites = Vec<(GroupId, Vec<(TopicPartition, Offset)>)>;

/// How one link copies.
pub(super) struct Copying<'a> {
    /// Records per second per partition (`None`: as fast as it fetches).
    pub throughput: Option<f64>,
    /// Source offset − mirror offset of every copied record.
    pub shift: i64,
    /// Fractions of a record carried between steps, per mirror partition.
    pub carry: &'a mut BTreeMap<TopicPartition, f64>,
}

/// Where a new mirror partition starts: at its source's log start, or `shift` records in.
pub(super) fn mirror_start(source_start: i64, shift: i64) -> i64 {
    source_start.max(shift) - shift
}

/// One step of copying for every mirror of `link` that copies now. Returns the transcript's
/// lines (mirrors that failed).
pub(super) fn copy(
    link: &mut LinkState,
    from: &SimKafka,
    to: &mut SimKafka,
    how: Copying<'_>,
    dt: Duration,
    now_ms: i64,
) -> Vec<String> {
    let mut notes = Vec::new();
    // Promote and failover finish once nothing is in flight: at the next step here.
    for m in link.mirrors.values_mut() {
        if m.status == MirrorStatus::PendingStopped {
            m.set_status(MirrorStatus::Stopped);
            m.state_time_ms = now_ms;
        }
    }
    let mirror_topics: Vec<String> = link.mirrors.keys().cloned().collect();
    for mirror_topic in mirror_topics {
        let source = link.mirrors[&mirror_topic].source_topic.clone();
        let Some(source_logs) = from.topics.get(&source) else {
            continue;
        };
        if !link.copying(&mirror_topic) {
            continue;
        }
        // Partitions the source gained are added to the mirror, as the link does.
        if !to.topics.contains_key(&mirror_topic) {
            to.create_topic(&mirror_topic, Vec::new(), now_ms);
        }
        for (p, src) in source_logs.iter().enumerate() {
            if to.topics[&mirror_topic].len() <= p {
                to.grow_topic(&mirror_topic, p + 1, mirror_start(src.start, how.shift));
            }
        }
        let mut failure = None;
        let mut lags = BTreeMap::new();
        for (p, src) in source_logs.iter().enumerate() {
            let tp = TopicPartition::new(&mirror_topic, p as i32);
            let budget = match how.throughput {
                None => i64::MAX,
                Some(rate) => {
                    let carry = how.carry.entry(tp.clone()).or_default();
                    let total = *carry + rate * dt.as_secs_f64();
                    let n = total.floor();
                    *carry = total - n;
                    n as i64
                }
            };
            let dst = to.log(&tp).unwrap_or_default();
            // The next source offset to copy.
            let next = dst.end + how.shift;
            if src.start > next {
                failure = Some(format!(
                    "source partition {source}-{p} starts at {} but the mirror has copied up to {next}: records were deleted before they were copied",
                    src.start
                ));
                break;
            }
            let n = budget.min(src.end - next).max(0);
            if n > 0 {
                let source_tp = TopicPartition::new(&source, p as i32);
                to.copy_in(&tp, from.times(&source_tp), next, n, how.shift);
            }
            lags.insert(
                p as i32,
                PartitionLag {
                    origin_end: src.end,
                    mirror_end: next + n,
                },
            );
        }
        let partitions = source_logs.len() as i32;
        let m = link
            .mirrors
            .get_mut(&mirror_topic)
            .expect("mirror listed above");
        m.partitions = partitions;
        match failure {
            Some(reason) => {
                m.fail("SOURCE_UNAVAILABLE", reason.clone());
                m.state_time_ms = now_ms;
                notes.push(format!("mirror {mirror_topic} FAILED: {reason}"));
            }
            None => m.lags = lags,
        }
    }
    notes
}

/// What one offset-sync tick of `link` reads on its source cluster: the committed offsets of
/// every group its filters include, on the sources of its `ACTIVE` mirrors, as offsets on the
/// mirror topics (raw: never clamped to the mirror's end, never translated).
pub(super) fn sync_reads(link: &LinkState, from: &SimKafka) -> SyncWrites {
    if !link.config_bool(SYNC_ENABLE) || link.faults.offset_sync_stopped {
        return Vec::new();
    }
    let Ok(filters) = link.group_filters() else {
        return Vec::new();
    };
    // source topic → mirror topic, ACTIVE mirrors only.
    let mirrors: BTreeMap<&str, &str> = link
        .mirrors
        .values()
        .filter(|m| m.status == MirrorStatus::Active)
        .map(|m| (m.source_topic.as_str(), m.mirror_topic.as_str()))
        .collect();
    let mut writes: SyncWrites = Vec::new();
    for (group, g) in from.known_groups() {
        if !filters.includes(group.as_str()) {
            continue;
        }
        let offsets: Vec<(TopicPartition, Offset)> = g
            .committed
            .iter()
            .filter_map(|(tp, o)| {
                let mirror = mirrors.get(tp.topic.as_str())?;
                Some((TopicPartition::new(*mirror, tp.partition), *o))
            })
            .collect();
        if !offsets.is_empty() {
            writes.push((group.clone(), offsets));
        }
    }
    writes
}

/// One tick's writes on the mirrors' cluster, as its coordinator takes them: a group with
/// members refuses them (CONSUMER_GROUP_IN_USE). Returns the groups whose offsets changed.
pub(super) fn sync_write(to: &mut SimKafka, writes: SyncWrites) -> Vec<String> {
    let mut written = Vec::new();
    for (group, offsets) in writes {
        let d = to.group_mut(&group);
        if !d.members.is_empty() {
            continue; // CONSUMER_GROUP_IN_USE
        }
        let changed = offsets.iter().any(|(tp, o)| d.committed.get(tp) != Some(o));
        for (tp, o) in offsets {
            d.committed.insert(tp, o);
        }
        if changed {
            written.push(group.0);
        }
    }
    written
}
