//! The mirroring engine: copies records from origin partitions to mirror partitions so that
//! every record keeps its offset, and proves it record by record.
//!
//! With a copy offset shift (`LinkSimOptions::copy_offset_shift`, a replicator's stand-in)
//! each mirror partition starts that many records into its source, and every check above holds
//! with the source offset minus the shift.
//!
//! One consumer reads every mirrored origin partition (assigned, never subscribed, never
//! committing); one idempotent producer writes the destination. A partition is assigned at
//! its mirror's end offset, which is also the next origin offset to copy because offsets are
//! identical. Each record is produced to the same partition with its key, value, headers and
//! timestamp, and its delivery report must carry the origin offset: anything else (a gap in the
//! origin log, a foreign write to the mirror topic) fails the mirror with the reason, visible
//! over REST. Paused and stalled partitions stay assigned but paused, keeping their position.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset as RdOffset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::linksim::Shared;
use cutover::kafka::{Cluster, OffsetSpec};
use cutover::model::TopicPartition;
use cutover::sim::link_model::MirrorStatus;

/// (mirror topic, partition): how in-flight deliveries are counted.
type MirrorPartition = (String, i32);

struct Assigned {
    mirror_topic: String,
    next_offset: i64,
    paused: bool,
}

struct Delivery {
    key: MirrorPartition,
    origin_offset: i64,
    future: DeliveryFuture,
}

pub(crate) struct Engine {
    shared: Arc<Shared>,
    consumer: StreamConsumer,
    producer: FutureProducer,
    /// By origin partition.
    assigned: BTreeMap<TopicPartition, Assigned>,
    in_flight: Arc<Mutex<BTreeMap<MirrorPartition, usize>>>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    tokens: f64,
    last_refill: Instant,
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        origin: &BTreeMap<String, String>,
        destination: &BTreeMap<String, String>,
    ) -> Result<(Engine, tokio::task::JoinHandle<()>), KafkaError> {
        let link = shared.lock().link_name.clone();
        let mut c = ClientConfig::new();
        for (k, v) in origin {
            c.set(k, v);
        }
        let consumer: StreamConsumer = c
            .set("group.id", format!("cutover-linksim-{link}"))
            .set("client.id", format!("cutover-linksim-{link}-fetcher"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("isolation.level", "read_uncommitted")
            .set("auto.offset.reset", "error")
            // Partitions a source gains must be fetchable within seconds, not the default 5 min.
            .set("topic.metadata.refresh.interval.ms", "2000")
            .create()?;
        let mut p = ClientConfig::new();
        for (k, v) in destination {
            p.set(k, v);
        }
        let producer: FutureProducer = p
            .set("client.id", format!("cutover-linksim-{link}-writer"))
            .set("enable.idempotence", "true")
            .set("topic.metadata.refresh.interval.ms", "2000")
            .set("linger.ms", "5")
            .set("message.max.bytes", "10485760")
            .create()?;
        let in_flight = Arc::new(Mutex::new(BTreeMap::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let verifier = tokio::spawn(verify(shared.clone(), rx, in_flight.clone()));
        Ok((
            Engine {
                shared,
                consumer,
                producer,
                assigned: BTreeMap::new(),
                in_flight,
                deliveries: tx,
                tokens: 0.0,
                last_refill: Instant::now(),
            },
            verifier,
        ))
    }

    pub(crate) async fn run(mut self) {
        let mut last_reconcile = Instant::now() - Duration::from_secs(1);
        loop {
            if last_reconcile.elapsed() >= Duration::from_millis(200) {
                self.reconcile().await;
                last_reconcile = Instant::now();
            }
            if self.assigned.values().all(|a| a.paused) {
                // Nothing to read: wait for a change (or the next reconcile).
                let _ =
                    tokio::time::timeout(Duration::from_millis(200), self.shared.wake.notified())
                        .await;
                continue;
            }
            match tokio::time::timeout(Duration::from_millis(100), self.consumer.recv()).await {
                Ok(Ok(message)) => {
                    let message = message.detach();
                    let tp = TopicPartition::new(message.topic(), message.partition());
                    self.copy(tp, &message).await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "origin fetch error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(_) => {}
            }
        }
    }

    /// Brings the consumer's assignment and pause state in line with the link's state.
    async fn reconcile(&mut self) {
        struct Want {
            source: String,
            mirror: String,
            partitions: i32,
            status: MirrorStatus,
            copying: bool,
        }
        let wants: Vec<Want> = {
            let state = self.shared.lock();
            state
                .mirrors
                .values()
                .map(|m| Want {
                    source: m.source_topic.clone(),
                    mirror: m.mirror_topic.clone(),
                    partitions: m.partitions,
                    status: m.status,
                    copying: state.copying(&m.mirror_topic),
                })
                .collect()
        };
        // Partitions to release: their mirror stopped, failed or is gone.
        let live: BTreeMap<TopicPartition, &Want> = wants
            .iter()
            .filter(|w| matches!(w.status, MirrorStatus::Active | MirrorStatus::Paused))
            .flat_map(|w| (0..w.partitions).map(move |p| (TopicPartition::new(&w.source, p), w)))
            .collect();
        let release: Vec<TopicPartition> = self
            .assigned
            .keys()
            .filter(|tp| !live.contains_key(*tp))
            .cloned()
            .collect();
        if !release.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for tp in &release {
                tpl.add_partition(&tp.topic, tp.partition);
                self.assigned.remove(tp);
            }
            if let Err(e) = self.consumer.incremental_unassign(&tpl) {
                tracing::warn!(error = %e, "cannot release origin partitions");
            }
        }
        // New partitions start at their mirror's end, which is the next origin offset.
        let new: Vec<(TopicPartition, &Want)> = live
            .iter()
            .filter(|(tp, _)| !self.assigned.contains_key(*tp))
            .map(|(tp, w)| (tp.clone(), *w))
            .collect();
        if !new.is_empty() {
            let mirror_tps: Vec<TopicPartition> = new
                .iter()
                .map(|(tp, w)| TopicPartition::new(&w.mirror, tp.partition))
                .collect();
            let origin_tps: Vec<TopicPartition> = new.iter().map(|(tp, _)| tp.clone()).collect();
            let starts = self
                .shared
                .origin
                .list_offsets(&origin_tps, OffsetSpec::Earliest)
                .await
                .unwrap_or_default();
            match self
                .shared
                .destination
                .list_offsets(&mirror_tps, OffsetSpec::Latest)
                .await
            {
                Ok(ends) => {
                    let mut tpl = TopicPartitionList::new();
                    for (tp, w) in &new {
                        let Some(Ok(end)) = ends.get(&TopicPartition::new(&w.mirror, tp.partition))
                        else {
                            continue; // not created yet, try on the next reconcile
                        };
                        // The next source offset to copy (offsets differ by the shift).
                        let next = end.get() + self.shared.shift;
                        if let Some(Ok(start)) = starts.get(tp) {
                            if start.get() > next {
                                let reason = format!(
                                    "origin partition {tp} now starts at offset {start} but the mirror ends at {end}: the records in between were deleted before they were copied"
                                );
                                fail(&self.shared, &w.mirror, "UNEXPECTED_TRUNCATION", reason);
                                continue;
                            }
                        }
                        tpl.add_partition(&tp.topic, tp.partition)
                            .set_offset(RdOffset::Offset(next))
                            .expect("a concrete offset is always accepted");
                        self.assigned.insert(
                            tp.clone(),
                            Assigned {
                                mirror_topic: w.mirror.clone(),
                                next_offset: next,
                                paused: false,
                            },
                        );
                    }
                    if tpl.count() > 0 {
                        if let Err(e) = self.consumer.incremental_assign(&tpl) {
                            tracing::warn!(error = %e, "cannot assign origin partitions");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read mirror ends"),
            }
        }
        // Pause or resume according to status, stalls and the link's pause.
        let mut pause = TopicPartitionList::new();
        let mut resume = TopicPartitionList::new();
        for (tp, a) in self.assigned.iter_mut() {
            let copying = live.get(tp).is_some_and(|w| w.copying);
            if copying && a.paused {
                resume.add_partition(&tp.topic, tp.partition);
                a.paused = false;
            } else if !copying && !a.paused {
                pause.add_partition(&tp.topic, tp.partition);
                a.paused = true;
            }
        }
        if pause.count() > 0 {
            let _ = self.consumer.pause(&pause);
        }
        if resume.count() > 0 {
            let _ = self.consumer.resume(&resume);
        }
        // Promote and failover finish once nothing of the topic is still in flight.
        let pending: Vec<&Want> = wants
            .iter()
            .filter(|w| w.status == MirrorStatus::PendingStopped)
            .collect();
        for w in pending {
            let busy = self
                .in_flight
                .lock()
                .expect("in-flight counts are never poisoned")
                .iter()
                .any(|((topic, _), n)| topic == &w.mirror && *n > 0);
            if !busy {
                if let Some(m) = self.shared.lock().mirrors.get_mut(&w.mirror) {
                    m.set_status(MirrorStatus::Stopped);
                }
                tracing::info!(mirror = %w.mirror, "mirror stopped");
            }
        }
    }

    async fn copy(&mut self, tp: TopicPartition, message: &OwnedMessage) {
        let Some(assigned) = self.assigned.get(&tp) else {
            return; // released since it was fetched
        };
        let (expected, mirror_topic) = (assigned.next_offset, assigned.mirror_topic.clone());
        let offset = message.offset();
        // A pause or stall applies from the very next record, even one already fetched: it
        // is put back (the partition is paused and rewound to it) instead of being copied or
        // skipped.
        if assigned.paused || !self.shared.lock().copying(&mirror_topic) {
            if offset == expected {
                self.hold(&tp, expected);
            }
            return;
        }
        if offset != expected {
            let reason = format!(
                "origin partition {tp} has no record at offset {expected} (the next one is at {offset}): transaction markers, compaction or deleted records leave gaps that cutover-linksim cannot reproduce with identical offsets"
            );
            fail(&self.shared, &mirror_topic, "ILLEGAL_STATE", reason);
            return;
        }
        self.throttle().await;
        let mut record = FutureRecord::<[u8], [u8]>::to(&mirror_topic).partition(tp.partition);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(value) = message.payload() {
            record = record.payload(value);
        }
        if let Some(headers) = message.headers() {
            record = record.headers(headers.clone());
        }
        if let Some(ts) = message.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        let future = loop {
            match self.producer.send_result(record) {
                Ok(future) => break future,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    fail(
                        &self.shared,
                        &mirror_topic,
                        "ILLEGAL_STATE",
                        format!("cannot produce to the mirror: {e}"),
                    );
                    return;
                }
            }
        };
        if let Some(assigned) = self.assigned.get_mut(&tp) {
            assigned.next_offset = offset + 1;
        }
        let key = (mirror_topic, tp.partition);
        *self
            .in_flight
            .lock()
            .expect("in-flight counts are never poisoned")
            .entry(key.clone())
            .or_default() += 1;
        let _ = self.deliveries.send(Delivery {
            key,
            origin_offset: offset,
            future,
        });
    }

    /// Pauses a partition and rewinds it to `offset`, the next record to copy.
    fn hold(&mut self, tp: &TopicPartition, offset: i64) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&tp.topic, tp.partition);
        if let Err(e) = self.consumer.pause(&tpl) {
            tracing::warn!(partition = %tp, error = %e, "cannot pause an origin partition");
        }
        if let Err(e) = self.consumer.seek(
            &tp.topic,
            tp.partition,
            RdOffset::Offset(offset),
            Duration::from_secs(5),
        ) {
            tracing::warn!(partition = %tp, error = %e, "cannot rewind an origin partition");
        }
        if let Some(a) = self.assigned.get_mut(tp) {
            a.paused = true;
        }
    }

    /// Token bucket for the throttle knob.
    async fn throttle(&mut self) {
        let Some(rate) = self
            .shared
            .lock()
            .faults
            .throttle_records_per_sec
            .filter(|r| *r > 0)
        else {
            return;
        };
        let rate = f64::from(rate);
        loop {
            let elapsed = self.last_refill.elapsed().as_secs_f64();
            self.last_refill = Instant::now();
            self.tokens = (self.tokens + elapsed * rate).min(rate.max(1.0));
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                return;
            }
            tokio::time::sleep(Duration::from_secs_f64((1.0 - self.tokens) / rate)).await;
        }
    }
}

/// Checks every delivery, in order: the record must land at its origin offset.
async fn verify(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    in_flight: Arc<Mutex<BTreeMap<MirrorPartition, usize>>>,
) {
    while let Some(d) = rx.recv().await {
        let (topic, partition) = &d.key;
        match d.future.await {
            Ok(Ok(delivery)) if delivery.offset == d.origin_offset - shared.shift => {}
            Ok(Ok(delivery)) => fail(
                &shared,
                topic,
                "ILLEGAL_STATE",
                format!(
                    "the record at origin offset {} of partition {partition} landed at mirror offset {}: something else wrote to the mirror topic (Apache Kafka cannot make it read-only)",
                    d.origin_offset, delivery.offset
                ),
            ),
            Ok(Err((e, _))) => fail(&shared, topic, "ILLEGAL_STATE", format!("producing to mirror partition {partition} failed: {e}")),
            Err(_) => fail(&shared, topic, "ILLEGAL_STATE", "the producer was closed".into()),
        }
        if let Some(n) = in_flight
            .lock()
            .expect("in-flight counts are never poisoned")
            .get_mut(&d.key)
        {
            *n = n.saturating_sub(1);
        }
    }
}

fn fail(shared: &Shared, mirror_topic: &str, code: &'static str, reason: String) {
    let mut state = shared.lock();
    if let Some(m) = state.mirrors.get_mut(mirror_topic) {
        if m.status != MirrorStatus::Failed {
            tracing::error!(mirror = mirror_topic, %reason, "mirror failed");
        }
        m.fail(code, reason);
    }
}
