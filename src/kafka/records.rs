//! Reading records' timestamps: where a group stopped, in time. A copy that does not keep the
//! origin's offsets (a replicator's) is found again by time, so the agent needs the timestamp
//! of the last record a group processed: the record just before its committed offset.
//!
//! A short-lived consumer of its own (never joining a group, never committing) is assigned
//! every partition at its offset at once and polled until each has answered with its first
//! record there, or the bound passes; one fetch session for all partitions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset as RdOffset, TopicPartitionList};

use crate::kafka::cluster::PartitionResult;
use crate::model::{BrokerError, Offset, TopicPartition};

/// The first record at or after an offset: its offset (later than the one asked for when
/// compaction or retention removed that one) and its timestamp (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTime {
    pub offset: Offset,
    pub timestamp: i64,
}

fn error(name: &str, message: String) -> BrokerError {
    BrokerError {
        code: -1,
        name: name.into(),
        message,
    }
}

/// Blocking: run it off the async runtime. Ask only for offsets below each partition's end
/// (the caller knows the others have no record yet); a partition that did not answer within
/// `bound` gets an error.
pub(crate) fn record_times(
    base: &ClientConfig,
    at: &[(TopicPartition, Offset)],
    bound: Duration,
) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>, String> {
    let mut config = base.clone();
    config
        .set("group.id", format!("cutover-read-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // An offset retention removed reads from the log start: the record found says so.
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let mut list = TopicPartitionList::new();
    for (tp, offset) in at {
        list.add_partition_offset(&tp.topic, tp.partition, RdOffset::Offset(offset.get()))
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&list).map_err(|e| e.to_string())?;
    let mut answers: BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>> =
        BTreeMap::new();
    let deadline = Instant::now() + bound;
    while answers.len() < at.len() && Instant::now() < deadline {
        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let answer = match polled {
            Ok(m) => {
                let tp = TopicPartition::new(m.topic(), m.partition());
                let time = m.timestamp().to_millis().map(|timestamp| RecordTime {
                    offset: Offset(m.offset()),
                    timestamp,
                });
                match time {
                    Some(t) => (tp, Ok(Some(t))),
                    None => (
                        tp,
                        Err(error("NO_TIMESTAMP", "the record has no timestamp".into())),
                    ),
                }
            }
            Err(e) => return Err(e.to_string()),
        };
        answers.entry(answer.0).or_insert(answer.1);
    }
    for (tp, _) in at {
        answers.entry(tp.clone()).or_insert_with(|| {
            Err(error(
                "NO_ANSWER",
                format!("no record of {tp} was read within {}s", bound.as_secs()),
            ))
        });
    }
    Ok(answers)
}
