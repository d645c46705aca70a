//! Who still writes to the origin, by producer id: the promotion gate's two readings of the
//! origin partitions' producers (DescribeProducers, KIP-664), at the start of its window and at
//! its end. A producer that wrote during the window shows as one the first reading lacks, or
//! whose last sequence, epoch or timestamp changed: no clock is compared, so a producer's clock
//! cannot hide it. A producer holding a transaction open is named too, whether or not it wrote.
//!
//! The brokers know only idempotent and transactional producers; a plain producer has no id,
//! and only the moving log ends (`origin_moving`) show it. Partitions whose producers could not
//! be read are listed with why, never guessed.
//!
//! Pure, like its parent: readings in, writers out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{ActiveProducer, TopicPartition};

/// One reading: each partition's producers, or why they could not be read.
pub type ProducerReading = BTreeMap<TopicPartition, Result<Vec<ActiveProducer>, String>>;

/// A producer seen writing to an origin partition during the window, or holding a
/// transaction open there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Writer {
    pub topic: String,
    pub partition: i32,
    pub producer_id: i64,
    pub producer_epoch: i32,
    /// Its last sequence number at the window's start (`None`: not known to the leader then).
    pub last_sequence_before: Option<i32>,
    pub last_sequence: i32,
    /// Its last batch's timestamp (ms since the epoch, the producer's clock).
    pub last_timestamp: i64,
    /// It wrote during the window.
    pub wrote: bool,
    /// Where its open transaction began, if one is open.
    pub open_transaction_from: Option<i64>,
}

impl Writer {
    /// `producer 4001 (epoch 0) on orders-2: wrote during the window (sequence 41 → 57)`.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.wrote {
            what.push(match self.last_sequence_before {
                Some(before) => format!(
                    "wrote during the window (sequence {before} → {})",
                    self.last_sequence
                ),
                None => format!(
                    "began writing during the window (sequence {})",
                    self.last_sequence
                ),
            });
        }
        if let Some(from) = self.open_transaction_from {
            what.push(format!("holds a transaction open from offset {from}"));
        }
        format!(
            "producer {} (epoch {}) on {}-{}: {}",
            self.producer_id,
            self.producer_epoch,
            self.topic,
            self.partition,
            what.join("; ")
        )
    }
}

/// What the two readings tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritersSeen {
    /// In partition, then producer id order.
    pub writers: Vec<Writer>,
    /// `topic-partition: why`, for each partition either reading could not tell.
    pub untold: Vec<String>,
}

/// Compares the readings at the window's start and end.
pub fn writers(before: &ProducerReading, after: &ProducerReading) -> WritersSeen {
    let mut seen = WritersSeen::default();
    for (tp, now) in after {
        let (now, was) = match (now, before.get(tp)) {
            (Ok(now), Some(Ok(was))) => (now, was),
            (Err(why), _) | (Ok(_), Some(Err(why))) => {
                seen.untold.push(format!("{tp}: {why}"));
                continue;
            }
            (Ok(_), None) => {
                seen.untold
                    .push(format!("{tp}: not read at the window's start"));
                continue;
            }
        };
        let mut here: Vec<Writer> = now
            .iter()
            .filter_map(|p| {
                let earlier = was.iter().find(|w| w.producer_id == p.producer_id);
                let wrote = earlier.is_none_or(|w| {
                    (w.producer_epoch, w.last_sequence, w.last_timestamp)
                        != (p.producer_epoch, p.last_sequence, p.last_timestamp)
                });
                (wrote || p.open_transaction_from.is_some()).then(|| Writer {
                    topic: tp.topic.as_str().to_string(),
                    partition: tp.partition,
                    producer_id: p.producer_id,
                    producer_epoch: p.producer_epoch,
                    last_sequence_before: earlier.map(|w| w.last_sequence),
                    last_sequence: p.last_sequence,
                    last_timestamp: p.last_timestamp,
                    wrote,
                    open_transaction_from: p.open_transaction_from.map(|o| o.get()),
                })
            })
            .collect();
        here.sort_by_key(|w| w.producer_id);
        seen.writers.extend(here);
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Offset;

    fn producer(id: i64, seq: i32, ts: i64) -> ActiveProducer {
        ActiveProducer {
            producer_id: id,
            producer_epoch: 0,
            last_sequence: seq,
            last_timestamp: ts,
            open_transaction_from: None,
        }
    }

    fn reading(rows: &[(i32, Result<Vec<ActiveProducer>, &str>)]) -> ProducerReading {
        rows.iter()
            .map(|(p, r)| {
                (
                    TopicPartition::new("orders", *p),
                    r.clone().map_err(str::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn a_producer_that_wrote_or_appeared_is_named_and_an_idle_one_is_not() {
        let before = reading(&[
            (0, Ok(vec![producer(7, 10, 1_000), producer(8, 3, 900)])),
            (1, Ok(vec![])),
        ]);
        let after = reading(&[
            (0, Ok(vec![producer(7, 25, 2_000), producer(8, 3, 900)])),
            (1, Ok(vec![producer(9, 0, 2_100)])),
        ]);
        let seen = writers(&before, &after);
        assert!(seen.untold.is_empty());
        let named: Vec<(i32, i64, Option<i32>)> = seen
            .writers
            .iter()
            .map(|w| (w.partition, w.producer_id, w.last_sequence_before))
            .collect();
        assert_eq!(named, vec![(0, 7, Some(10)), (1, 9, None)]);
        assert_eq!(
            seen.writers[0].describe(),
            "producer 7 (epoch 0) on orders-0: wrote during the window (sequence 10 → 25)"
        );
        assert_eq!(
            seen.writers[1].describe(),
            "producer 9 (epoch 0) on orders-1: began writing during the window (sequence 0)"
        );
    }

    #[test]
    fn a_new_epoch_counts_as_writing_and_an_open_transaction_is_named_even_when_idle() {
        let mut fenced = producer(7, 10, 1_000);
        fenced.producer_epoch = 1;
        let mut open = producer(8, 3, 900);
        open.open_transaction_from = Some(Offset(40));
        let before = reading(&[(0, Ok(vec![producer(7, 10, 1_000), open.clone()]))]);
        let after = reading(&[(0, Ok(vec![fenced, open]))]);
        let seen = writers(&before, &after);
        assert_eq!(seen.writers.len(), 2);
        assert!(seen.writers[0].wrote, "a new epoch is a new session");
        assert!(!seen.writers[1].wrote);
        assert_eq!(
            seen.writers[1].describe(),
            "producer 8 (epoch 0) on orders-0: holds a transaction open from offset 40"
        );
    }

    #[test]
    fn a_partition_either_reading_missed_is_untold_never_guessed_clean() {
        let before = reading(&[(0, Err("TOPIC_AUTHORIZATION_FAILED")), (1, Ok(vec![]))]);
        let after = reading(&[
            (0, Ok(vec![producer(7, 1, 1)])),
            (1, Err("_TIMED_OUT")),
            (2, Ok(vec![])),
        ]);
        let seen = writers(&before, &after);
        assert!(seen.writers.is_empty());
        assert_eq!(
            seen.untold,
            vec![
                "orders-0: TOPIC_AUTHORIZATION_FAILED",
                "orders-1: _TIMED_OUT",
                "orders-2: not read at the window's start"
            ]
        );
    }
}
