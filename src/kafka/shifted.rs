//! A copy whose offsets are not the origin's (a replicator's), seen in the origin's offsets.
//!
//! A replicator copies records, not offsets: the record at origin offset `o` may sit at copy
//! offset `o − s`. Once the agent has found, by time, where a group resumes on each copy
//! partition (`translation.rs`), it knows that partition's shift `s = C − start`. Through this
//! view the copy answers in origin offsets, so the rule, `verify` and the phase machine judge
//! the move exactly as a mirror's (committed ≤ copy end, the written offsets read back, the
//! group resuming at or past them), and the agent's write of the final offsets lands at
//! `start` on the copy. Partitions without a shift are passed through unchanged.
//!
//! Log ends and starts take another shift: the true difference between a record's offsets on
//! the two sides (found from the records after the last processed timestamp), so the copy's
//! end in origin offsets is where its copying stands and its lag counts records not copied,
//! not the records a `skip` leaves out or a `rewind` reads again.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::cluster::{
    Cluster, GroupDescription, GroupList, GroupOffsets, OffsetSpec, PartitionResult, TopicMetadata,
};
use super::RecordTime;
use crate::error::Result;
use crate::model::{GroupId, Offset, Offsets, Role, TopicPartition};

/// The copy, with each copy partition's shift (origin offset − copy offset).
pub struct ShiftedCopy {
    inner: Arc<dyn Cluster>,
    shifts: RwLock<Shifts>,
}

/// Per copy partition: where the group's offsets map (`C − start`), and the true offset
/// difference of the records (for log ends and starts).
#[derive(Debug, Clone, Default)]
pub struct Shifts {
    pub offsets: BTreeMap<TopicPartition, i64>,
    pub records: BTreeMap<TopicPartition, i64>,
}

impl ShiftedCopy {
    pub fn new(inner: Arc<dyn Cluster>) -> Self {
        ShiftedCopy {
            inner,
            shifts: RwLock::new(Shifts::default()),
        }
    }

    /// The copy as it is, in its own offsets (for the reads that find the shifts).
    pub fn raw(&self) -> &dyn Cluster {
        self.inner.as_ref()
    }

    /// Replaces the shifts (by copy partition).
    pub fn set_shifts(&self, shifts: Shifts) {
        *self.shifts.write().unwrap_or_else(|p| p.into_inner()) = shifts;
    }

    /// A group's offset on the copy, in origin offsets.
    fn shift(&self, tp: &TopicPartition) -> i64 {
        let shifts = self.shifts.read().unwrap_or_else(|p| p.into_inner());
        shifts.offsets.get(tp).copied().unwrap_or(0)
    }

    /// A log end or start on the copy, in origin offsets.
    fn record_shift(&self, tp: &TopicPartition) -> i64 {
        let shifts = self.shifts.read().unwrap_or_else(|p| p.into_inner());
        shifts.records.get(tp).copied().unwrap_or(0)
    }

    fn to_origin(&self, tp: &TopicPartition, o: Offset) -> Offset {
        Offset(o.get() + self.shift(tp))
    }
}

#[async_trait]
impl Cluster for ShiftedCopy {
    fn role(&self) -> Role {
        self.inner.role()
    }

    async fn probe(&self) -> Result<()> {
        self.inner.probe().await
    }

    async fn cluster_id(&self) -> Result<Option<String>> {
        self.inner.cluster_id().await
    }

    async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
        self.inner.topics().await
    }

    async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
        let mut answers = self.inner.list_offsets(partitions, spec).await?;
        for (tp, answer) in answers.iter_mut() {
            if let Ok(o) = answer {
                *o = Offset(o.get() + self.record_shift(tp));
            }
        }
        Ok(answers)
    }

    async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<Offset>>>> {
        self.inner.offsets_for_times(at).await
    }

    async fn record_times(
        &self,
        at: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>> {
        self.inner.record_times(at).await
    }

    async fn committed_offsets(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
        let mut all = self.inner.committed_offsets(groups).await?;
        for offsets in all.values_mut().flatten() {
            for (tp, answer) in offsets.iter_mut() {
                if let Ok(o) = answer {
                    *o = self.to_origin(tp, *o);
                }
            }
        }
        Ok(all)
    }

    async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupDescription>> {
        self.inner.describe_groups(groups).await
    }

    async fn list_groups(&self) -> Result<GroupList> {
        self.inner.list_groups().await
    }

    /// Writes `offsets` (origin offsets) at their places on the copy.
    async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets> {
        let on_copy: Offsets = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), Offset(o.get() - self.shift(tp))))
            .collect();
        let mut answers = self.inner.commit_offsets(group, &on_copy).await?;
        if let Ok(written) = answers.as_mut() {
            for (tp, answer) in written.iter_mut() {
                if let Ok(o) = answer {
                    *o = self.to_origin(tp, *o);
                }
            }
        }
        Ok(answers)
    }
}
