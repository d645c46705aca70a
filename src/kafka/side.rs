//! One cluster seen as one side of a link whose two ends are on it: the reverse path.
//!
//! A group that stays on the origin after promotion goes on reading there, but from the mirrors
//! a reverse link (destination → origin) keeps of the promoted topics, named with the link's
//! prefix (`dst.orders` for `orders`). The group leaves `orders` and resumes on `dst.orders`
//! at the same offsets, on the same cluster. The agent proves that move exactly as it proves a
//! cutover between two clusters, by seeing the origin twice:
//!
//! - the **origin side** holds the group's offsets and members on every topic that is *not*
//!   one of the link's mirrors (what it read before the move);
//! - the **destination side** holds its offsets and members on the link's mirror topics (what
//!   it reads after).
//!
//! The origin side's log ends are read where the reverse link reads its sources: on the
//! destination, where the promoted topics are written now. So the mirror lag is the reverse
//! link's, and the consumer lag counts the records written on the destination that the group
//! has still to read.
//!
//! A member is placed by the partitions assigned to it. One with no assignment the broker can
//! read (still joining, or a classic member of a protocol other than `consumer`) counts on
//! both sides: the group is then running somewhere the agent cannot place, so it is neither
//! stopped on the origin side nor absent from the destination side, and every check that
//! depends on it waits or refuses rather than guess.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;

use super::cluster::{
    Cluster, GroupDescription, GroupList, GroupOffsets, OffsetSpec, PartitionResult, TopicMetadata,
};
use super::RecordTime;
use crate::error::Result;
use crate::model::{ActiveProducer, GroupId, Offset, Offsets, Role, TopicPartition};

/// One side of a cluster that holds both ends of a link (see the module docs).
pub struct ClusterSide {
    inner: Arc<dyn Cluster>,
    /// Where `list_offsets` goes: `inner`, or the reverse link's source cluster.
    ends: Arc<dyn Cluster>,
    side: Role,
    mirror_topics: BTreeSet<String>,
}

impl ClusterSide {
    /// `mirror_topics`: the link's mirror topics on this cluster.
    pub fn new(inner: Arc<dyn Cluster>, side: Role, mirror_topics: BTreeSet<String>) -> Self {
        ClusterSide {
            ends: inner.clone(),
            inner,
            side,
            mirror_topics,
        }
    }

    /// Reads log ends (and starts) from `cluster` instead: the origin side's, from the
    /// cluster the reverse link's source topics are on.
    pub fn with_log_ends_from(mut self, cluster: Arc<dyn Cluster>) -> Self {
        self.ends = cluster;
        self
    }

    fn on_this_side(&self, topic: &str) -> bool {
        self.mirror_topics.contains(topic) == (self.side == Role::Destination)
    }

    /// Whether a member with this assignment is seen on this side.
    fn places(&self, assigned: &[TopicPartition]) -> bool {
        assigned.is_empty() || assigned.iter().any(|tp| self.on_this_side(&tp.topic))
    }
}

#[async_trait]
impl Cluster for ClusterSide {
    fn role(&self) -> Role {
        self.side
    }

    async fn probe(&self) -> Result<()> {
        self.inner.probe().await
    }

    async fn cluster_id(&self) -> Result<Option<String>> {
        self.inner.cluster_id().await
    }

    async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
        let mut topics = self.inner.topics().await?;
        topics.retain(|name, _| self.on_this_side(name));
        Ok(topics)
    }

    async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
        self.ends.list_offsets(partitions, spec).await
    }

    async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<Offset>>>> {
        self.ends.offsets_for_times(at).await
    }

    async fn record_times(
        &self,
        at: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>> {
        self.inner.record_times(at).await
    }

    async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Vec<ActiveProducer>>>> {
        self.inner.describe_producers(partitions).await
    }

    async fn committed_offsets(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
        let mut all = self.inner.committed_offsets(groups).await?;
        for offsets in all.values_mut().flatten() {
            offsets.retain(|tp, _| self.on_this_side(&tp.topic));
        }
        Ok(all)
    }

    async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupDescription>> {
        let mut described = self.inner.describe_groups(groups).await?;
        for d in described.values_mut() {
            d.members.retain(|m| {
                let assigned: Vec<TopicPartition> = m
                    .assignment
                    .iter()
                    .chain(m.target_assignment.iter().flatten())
                    .cloned()
                    .collect();
                self.places(&assigned)
            });
        }
        Ok(described)
    }

    async fn list_groups(&self) -> Result<GroupList> {
        self.inner.list_groups().await
    }

    async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets> {
        self.inner.commit_offsets(group, offsets).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::{GroupMember, GroupPresence, GroupProtocol, GroupState, PartitionMetadata};

    /// A cluster with one group `g`: committed on `orders` and `dst.orders`, and the given
    /// members' assignments.
    struct OneGroup {
        members: Vec<Vec<TopicPartition>>,
    }

    #[async_trait]
    impl Cluster for OneGroup {
        fn role(&self) -> Role {
            Role::Origin
        }
        async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
            Ok(["orders", "dst.orders"]
                .into_iter()
                .map(|t| {
                    let meta = TopicMetadata {
                        name: t.into(),
                        partitions: vec![PartitionMetadata {
                            partition: 0,
                            leader: Some(1),
                            error: None,
                        }],
                        error: None,
                    };
                    (t.to_string(), meta)
                })
                .collect())
        }
        async fn list_offsets(
            &self,
            partitions: &[TopicPartition],
            _spec: OffsetSpec,
        ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
            Ok(partitions
                .iter()
                .map(|tp| (tp.clone(), Ok(Offset(9))))
                .collect())
        }
        async fn committed_offsets(
            &self,
            groups: &[GroupId],
        ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
            let offsets: BTreeMap<_, _> = [("orders", 5), ("dst.orders", 7)]
                .into_iter()
                .map(|(t, o)| (TopicPartition::new(t, 0), Ok(Offset(o))))
                .collect();
            Ok(groups
                .iter()
                .map(|g| (g.clone(), Ok(offsets.clone())))
                .collect())
        }
        async fn describe_groups(
            &self,
            groups: &[GroupId],
        ) -> Result<BTreeMap<GroupId, GroupDescription>> {
            let members: Vec<GroupMember> = self
                .members
                .iter()
                .enumerate()
                .map(|(i, assignment)| GroupMember {
                    member_id: format!("m{i}"),
                    client_id: "app".into(),
                    group_instance_id: None,
                    host: "/127.0.0.1".into(),
                    assignment: assignment.clone(),
                    target_assignment: None,
                })
                .collect();
            Ok(groups
                .iter()
                .map(|g| {
                    let d = GroupDescription {
                        group: g.clone(),
                        state: GroupState::Stable,
                        protocol: GroupProtocol::Classic,
                        simple: false,
                        partition_assignor: None,
                        coordinator: Some(1),
                        members: members.clone(),
                        error: None,
                    };
                    (g.clone(), d)
                })
                .collect())
        }
        async fn list_groups(&self) -> Result<GroupList> {
            Ok(GroupList {
                groups: vec![],
                errors: vec![],
            })
        }
        async fn commit_offsets(&self, _g: &GroupId, _o: &Offsets) -> Result<GroupOffsets> {
            Ok(Ok(BTreeMap::new()))
        }
    }

    fn sides(members: Vec<Vec<TopicPartition>>) -> (ClusterSide, ClusterSide) {
        let inner: Arc<dyn Cluster> = Arc::new(OneGroup { members });
        let mirrors: BTreeSet<String> = ["dst.orders".to_string()].into();
        (
            ClusterSide::new(inner.clone(), Role::Origin, mirrors.clone()),
            ClusterSide::new(inner, Role::Destination, mirrors),
        )
    }

    async fn presence(side: &ClusterSide) -> GroupPresence {
        let g = GroupId::new("g");
        side.describe_groups(std::slice::from_ref(&g))
            .await
            .unwrap()[&g]
            .presence()
    }

    #[tokio::test]
    async fn offsets_and_topics_split_between_the_sources_and_the_links_mirrors() {
        let (origin, destination) = sides(vec![]);
        let g = GroupId::new("g");
        let on = |side: &ClusterSide| {
            let side_offsets =
                futures::executor::block_on(side.committed_offsets(std::slice::from_ref(&g)));
            side_offsets.unwrap()[&g]
                .as_ref()
                .unwrap()
                .iter()
                .map(|(tp, o)| (tp.to_string(), o.as_ref().unwrap().get()))
                .collect::<Vec<_>>()
        };
        assert_eq!(on(&origin), vec![("orders-0".to_string(), 5)]);
        assert_eq!(on(&destination), vec![("dst.orders-0".to_string(), 7)]);
        let names = |t: BTreeMap<String, TopicMetadata>| t.into_keys().collect::<Vec<_>>();
        assert_eq!(names(origin.topics().await.unwrap()), ["orders"]);
        assert_eq!(names(destination.topics().await.unwrap()), ["dst.orders"]);
    }

    #[tokio::test]
    async fn a_member_counts_on_the_side_of_the_topics_assigned_to_it() {
        let reads = |t: &str| vec![TopicPartition::new(t, 0)];
        // Running on the sources only: stopped on the mirror side.
        let (origin, destination) = sides(vec![reads("orders")]);
        assert_eq!(presence(&origin).await, GroupPresence::Active);
        assert_eq!(presence(&destination).await, GroupPresence::Empty);
        // Restarted on the mirrors.
        let (origin, destination) = sides(vec![reads("dst.orders")]);
        assert_eq!(presence(&origin).await, GroupPresence::Empty);
        assert_eq!(presence(&destination).await, GroupPresence::Active);
        // A member the broker cannot place is running on both, so neither side looks free.
        let (origin, destination) = sides(vec![vec![]]);
        assert_eq!(presence(&origin).await, GroupPresence::Active);
        assert_eq!(presence(&destination).await, GroupPresence::Active);
    }
}
