//! DescribeProducers (API key 61, version 0, KIP-664), which librdkafka lacks: the request's
//! body and the answer's parsing. [`super::ffi::raw_request`] sends the body to a partition
//! leader over the client's own connection (vendor patch 0003); this file knows the bytes.
//!
//! Version 0 is a flexible version: arrays and strings are "compact" (their length + 1 as an
//! unsigned varint, 0 for null), and every structure ends with a tagged-field buffer. The
//! request's last (top-level) tag buffer is librdkafka's to write; the answer's are read and
//! skipped. Schemas: Apache Kafka's `DescribeProducersRequest.json` and
//! `DescribeProducersResponse.json` (clients/src/main/resources/common/message).
//!
//! No I/O: bytes in, values out; an answer that does not parse is an error saying where.

use std::collections::BTreeMap;

use crate::model::{ActiveProducer, Offset, TopicPartition};

pub(crate) const API_KEY: i16 = 61;
pub(crate) const VERSION: i16 = 0;

/// What a leader answered for one partition: its producers, or its error code and message.
pub(crate) type PartitionAnswer = Result<Vec<ActiveProducer>, (i16, Option<String>)>;

/// The request's body for `partitions` (all led by the broker it goes to), top-level tags
/// excluded.
pub(crate) fn request(partitions: &[TopicPartition]) -> Vec<u8> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    let mut out = Vec::new();
    put_len(&mut out, by_topic.len());
    for (topic, indexes) in by_topic {
        put_len(&mut out, topic.len());
        out.extend_from_slice(topic.as_bytes());
        put_len(&mut out, indexes.len());
        for p in indexes {
            out.extend_from_slice(&p.to_be_bytes());
        }
        out.push(0); // the topic's tags: none
    }
    out
}

/// The answer's body (past its header) as each partition's result.
pub(crate) fn answer(body: &[u8]) -> Result<BTreeMap<TopicPartition, PartitionAnswer>, String> {
    let mut r = Reader { bytes: body, at: 0 };
    let mut out = BTreeMap::new();
    r.i32("ThrottleTimeMs")?;
    for _ in 0..r.len("Topics")? {
        let topic = r.string("Name")?.unwrap_or_default();
        for _ in 0..r.len("Partitions")? {
            let partition = r.i32("PartitionIndex")?;
            let code = r.i16("ErrorCode")?;
            let message = r.string("ErrorMessage")?;
            let mut producers = Vec::new();
            for _ in 0..r.len("ActiveProducers")? {
                let producer_id = r.i64("ProducerId")?;
                let producer_epoch = r.i32("ProducerEpoch")?;
                let last_sequence = r.i32("LastSequence")?;
                let last_timestamp = r.i64("LastTimestamp")?;
                r.i32("CoordinatorEpoch")?;
                let txn_start = r.i64("CurrentTxnStartOffset")?;
                r.skip_tags()?;
                producers.push(ActiveProducer {
                    producer_id,
                    producer_epoch,
                    last_sequence,
                    last_timestamp,
                    open_transaction_from: Offset::from_raw(txn_start),
                });
            }
            r.skip_tags()?;
            let result = if code == 0 {
                Ok(producers)
            } else {
                Err((code, message))
            };
            out.insert(TopicPartition::new(topic.as_str(), partition), result);
        }
        r.skip_tags()?;
    }
    r.skip_tags()?;
    if r.at != body.len() {
        return Err(format!(
            "{} byte(s) left after the answer's end",
            body.len() - r.at
        ));
    }
    Ok(out)
}

/// A compact length: `n + 1` as an unsigned varint.
fn put_len(out: &mut Vec<u8>, n: usize) {
    let mut v = n as u64 + 1;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, field: &str) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "the answer ends inside {field} (byte {} of {})",
                self.at,
                self.bytes.len()
            ));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn i16(&mut self, field: &str) -> Result<i16, String> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, field: &str) -> Result<i32, String> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, field: &str) -> Result<i64, String> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn uvarint(&mut self, field: &str) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1, field)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("{field}: a varint longer than 64 bits"))
    }

    /// A compact array's length; a null array is empty.
    fn len(&mut self, field: &str) -> Result<usize, String> {
        let n = self.uvarint(field)?.saturating_sub(1);
        // Each element takes at least one byte: a longer count is a corrupt answer, refused
        // before anything is allocated for it.
        if n > (self.bytes.len() - self.at) as u64 {
            return Err(format!("{field}: {n} elements in a shorter answer"));
        }
        Ok(n as usize)
    }

    /// A compact nullable string.
    fn string(&mut self, field: &str) -> Result<Option<String>, String> {
        match self.uvarint(field)? {
            0 => Ok(None),
            n => {
                let bytes = self.take((n - 1) as usize, field)?;
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|_| format!("{field}: not UTF-8"))
            }
        }
    }

    fn skip_tags(&mut self) -> Result<(), String> {
        for _ in 0..self.uvarint("tagged fields")? {
            self.uvarint("a tag")?;
            let size = self.uvarint("a tag's size")?;
            self.take(size as usize, "a tagged field")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a broker writes it, built field by field.
    #[derive(Default)]
    struct Answer(Vec<u8>);

    impl Answer {
        fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn len(mut self, n: usize) -> Self {
            put_len(&mut self.0, n);
            self
        }
        fn string(self, s: &str) -> Self {
            let mut a = self.len(s.len());
            a.0.extend_from_slice(s.as_bytes());
            a
        }
        fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend_from_slice(b);
            self
        }
        fn producer(self, id: i64, seq: i32, ts: i64, txn: i64) -> Self {
            self.i64(id)
                .i32(3)
                .i32(seq)
                .i64(ts)
                .i32(-1)
                .i64(txn)
                .raw(&[0])
        }
    }

    #[test]
    fn the_request_groups_partitions_by_topic_in_compact_arrays() {
        let body = request(&[
            TopicPartition::new("b", 2),
            TopicPartition::new("a", 0),
            TopicPartition::new("b", 0),
        ]);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            3,                         // 2 topics
            2, b'a', 1 + 1, 0, 0, 0, 0, 0,       // "a" [0], no tags
            2, b'b', 2 + 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, // "b" [2, 0], no tags
        ];
        assert_eq!(body, want);
    }

    #[test]
    fn an_answer_gives_each_partitions_producers_or_its_error() {
        let body = Answer::default()
            .i32(0)
            .len(1)
            .string("orders")
            .len(2)
            // partition 0: two producers, the second in an open transaction from offset 40
            .i32(0)
            .i16(0)
            .raw(&[0])
            .len(2)
            .producer(4001, 56, 1_700_000_000_000, -1)
            .producer(4002, 9, 1_700_000_000_500, 40)
            .raw(&[0])
            // partition 1: not led here
            .i32(1)
            .i16(6)
            .string("not the leader")
            .len(0)
            .raw(&[0])
            .raw(&[0]) // the topic's tags
            .raw(&[1, 7, 2, 0xAA, 0xBB]) // one unknown top-level tag, skipped
            .0;
        let got = answer(&body).unwrap();
        let p0 = got[&TopicPartition::new("orders", 0)].as_ref().unwrap();
        assert_eq!(p0.len(), 2);
        assert_eq!(
            p0[0],
            ActiveProducer {
                producer_id: 4001,
                producer_epoch: 3,
                last_sequence: 56,
                last_timestamp: 1_700_000_000_000,
                open_transaction_from: None,
            }
        );
        assert_eq!(p0[1].open_transaction_from, Some(Offset(40)));
        assert_eq!(
            got[&TopicPartition::new("orders", 1)],
            Err((6, Some("not the leader".into())))
        );
    }

    #[test]
    fn a_cut_or_padded_answer_is_an_error_saying_where_never_a_panic() {
        let whole = Answer::default()
            .i32(0)
            .len(1)
            .string("t")
            .len(1)
            .i32(0)
            .i16(0)
            .raw(&[0])
            .len(1)
            .producer(1, 1, 1, -1)
            .raw(&[0, 0, 0])
            .0;
        assert!(answer(&whole).is_ok());
        for cut in 0..whole.len() {
            let err = answer(&whole[..cut]).unwrap_err();
            assert!(
                err.contains("ends inside") || err.contains("elements"),
                "{cut}: {err}"
            );
        }
        let mut padded = whole.clone();
        padded.push(0);
        assert_eq!(
            answer(&padded).unwrap_err(),
            "1 byte(s) left after the answer's end"
        );
        // A count far beyond the bytes left is refused before allocating anything.
        let huge = Answer::default()
            .i32(0)
            .raw(&[0xff, 0xff, 0xff, 0xff, 0x0f])
            .0;
        assert!(answer(&huge)
            .unwrap_err()
            .contains("elements in a shorter answer"));
    }
}
