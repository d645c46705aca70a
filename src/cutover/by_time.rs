//! `cutover group --offsets-by-time rewind|skip`: a move onto a copy that does not keep the
//! origin's offsets (a replicator's). Before each look at the group, the agent finds by time
//! where the group would resume on each copy partition (`translation.rs`: the timestamp of the
//! last record it processed, ListOffsets by time on both sides) and gives the copy's view
//! ([`ShiftedCopy`]) each partition's shift, so the rest of the cutover runs unchanged in
//! origin offsets. The translation of the final offsets (where the group starts, how many
//! records it will read twice or skip) is journaled with their write and shown in the summary:
//! never silently.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::kafka::{Cluster, OffsetSpec, ShiftedCopy, Shifts};
use crate::link::Link;
use crate::model::{GroupId, Offset, TopicPartition};
use crate::translation::{self, ByTime as Reads, Mode, PartitionTranslation};

/// The mode and the copy's view it keeps up to date.
pub struct ByTime {
    pub mode: Mode,
    pub copy: Arc<ShiftedCopy>,
}

impl ByTime {
    /// Translates where the group stands on every origin partition with a copy, and sets the
    /// copy's shifts. `Err` names the partition that cannot be translated and why.
    pub async fn refresh(
        &self,
        origin: &dyn Cluster,
        link: &dyn Link,
        group: &GroupId,
    ) -> Result<Vec<PartitionTranslation>, String> {
        let copy_of: BTreeMap<String, String> = link
            .mirrors()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|m| (m.source_topic, m.mirror_topic))
            .collect();
        let committed = origin
            .committed_offsets(std::slice::from_ref(group))
            .await
            .map_err(|e| e.to_string())?;
        let committed: Vec<(TopicPartition, Offset)> = match committed.get(group) {
            Some(Ok(offsets)) => offsets
                .iter()
                .filter(|(tp, _)| copy_of.contains_key(tp.topic.as_str()))
                .filter_map(|(tp, o)| Some((tp.clone(), *o.as_ref().ok()?)))
                .collect(),
            Some(Err(e)) => return Err(format!("the group's offsets on the origin: {e}")),
            None => Vec::new(),
        };
        if let Some((tp, _)) = committed.iter().find(|(_, c)| c.get() == 0) {
            return Err(format!(
                "the group has processed nothing on {tp}: there is no last record to find on the copy by time; start it there by hand"
            ));
        }
        let copy_tp =
            |tp: &TopicPartition| TopicPartition::new(&copy_of[tp.topic.as_str()], tp.partition);
        let last: Vec<(TopicPartition, Offset)> = committed
            .iter()
            .map(|(tp, c)| (tp.clone(), Offset(c.get() - 1)))
            .collect();
        let times = origin
            .record_times(&last)
            .await
            .map_err(|e| e.to_string())?;
        let mut at_t = Vec::new();
        for (tp, _) in &committed {
            match times.get(tp) {
                Some(Ok(Some(r))) => at_t.push((tp.clone(), r.timestamp)),
                Some(Ok(None)) => return Err(format!("{tp}: no record before the group's offset")),
                Some(Err(e)) => return Err(format!("{tp}: the last processed record: {e}")),
                None => return Err(format!("{tp}: the last processed record was not read")),
            }
        }
        let after_t: Vec<(TopicPartition, i64)> =
            at_t.iter().map(|(tp, t)| (tp.clone(), t + 1)).collect();
        let on_copy = |v: &[(TopicPartition, i64)]| -> Vec<(TopicPartition, i64)> {
            v.iter().map(|(tp, t)| (copy_tp(tp), *t)).collect()
        };
        let tps: Vec<TopicPartition> = committed.iter().map(|(tp, _)| tp.clone()).collect();
        let copy_tps: Vec<TopicPartition> = tps.iter().map(copy_tp).collect();
        let raw = self.copy.raw();
        let read = |e: crate::error::Error| e.to_string();
        let (o_at, o_after, c_at, c_after, o_end, c_end) = tokio::try_join!(
            async { origin.offsets_for_times(&at_t).await.map_err(read) },
            async { origin.offsets_for_times(&after_t).await.map_err(read) },
            async { raw.offsets_for_times(&on_copy(&at_t)).await.map_err(read) },
            async {
                raw.offsets_for_times(&on_copy(&after_t))
                    .await
                    .map_err(read)
            },
            async {
                origin
                    .list_offsets(&tps, OffsetSpec::Latest)
                    .await
                    .map_err(read)
            },
            async {
                raw.list_offsets(&copy_tps, OffsetSpec::Latest)
                    .await
                    .map_err(read)
            },
        )?;
        let mut out = Vec::new();
        let mut shifts = Shifts::default();
        for ((tp, c), (_, t)) in committed.iter().zip(&at_t) {
            let ctp = copy_tp(tp);
            let reads = Reads {
                committed: *c,
                last_time: *t,
                origin_at: get(&o_at, tp, "offset by time")?,
                origin_after: get(&o_after, tp, "offset by time")?,
                origin_end: get(&o_end, tp, "log end")?,
                copy_at: get(&c_at, &ctp, "offset by time on the copy")?,
                copy_after: get(&c_after, &ctp, "offset by time on the copy")?,
                copy_end: get(&c_end, &ctp, "log end of the copy")?,
            };
            let translation = translation::translate(&reads, self.mode);
            shifts
                .offsets
                .insert(ctp.clone(), c.get() - translation.start.get());
            shifts.records.insert(
                ctp.clone(),
                translation::record_difference(&reads).unwrap_or(c.get() - translation.start.get()),
            );
            out.push(PartitionTranslation {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                committed: *c,
                last_time: *t,
                copy_topic: ctp.topic.to_string(),
                translation,
            });
        }
        self.copy.set_shifts(shifts);
        Ok(out)
    }
}

/// One partition's answer from a batched read, or why it is missing.
fn get<T: Copy, E: std::fmt::Display>(
    answers: &BTreeMap<TopicPartition, Result<T, E>>,
    tp: &TopicPartition,
    what: &str,
) -> Result<T, String> {
    match answers.get(tp) {
        Some(Ok(v)) => Ok(*v),
        Some(Err(e)) => Err(format!("{tp}: {what}: {e}")),
        None => Err(format!("{tp}: {what}: not read")),
    }
}
