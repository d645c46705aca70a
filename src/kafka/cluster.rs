//! The `Cluster` trait: everything cutover reads from one Kafka cluster, and nothing else.
//!
//! The agent's evidence (committed offsets, log end offsets, group membership, partition
//! counts) all comes through this trait, so the decision core never touches rdkafka, and the
//! simulator can stand in for a real cluster behind the same seam. Implementations must batch:
//! a call names many partitions or groups and answers for each, keeping per-partition and
//! per-group errors as data instead of failing the whole call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;
use crate::kafka::RecordTime;
use crate::model::{ActiveProducer, BrokerError, GroupId, Offset, Offsets, Role, TopicPartition};

/// Which end of a partition's log to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetSpec {
    /// The log start offset: the oldest record still kept.
    Earliest,
    /// The log end offset (high watermark): the offset the next record will get.
    Latest,
    /// The last stable offset (ListOffsets with `read_committed`): below the first record of
    /// a transaction still open. Equal to `Latest` when no transaction is pending.
    LastStable,
}

/// An answer for one partition: a value, or the error the broker gave for that partition.
pub type PartitionResult<T> = std::result::Result<T, BrokerError>;

/// Every committed offset of one group, or the error that stopped the group's fetch
/// (for example `GROUP_AUTHORIZATION_FAILED`). An unknown group has no offsets and no error.
pub type GroupOffsets =
    std::result::Result<BTreeMap<TopicPartition, PartitionResult<Offset>>, BrokerError>;

/// One topic as the cluster's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicMetadata {
    pub name: String,
    pub partitions: Vec<PartitionMetadata>,
    /// Set when the broker could not describe the topic.
    pub error: Option<BrokerError>,
}

impl TopicMetadata {
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionMetadata {
    pub partition: i32,
    /// The leader's broker id, `None` while the partition has no leader.
    pub leader: Option<i32>,
    pub error: Option<BrokerError>,
}

/// Group state as the coordinator reports it. librdkafka maps states it does not know (and
/// some KIP-848 states) to `Unknown`, which is why activity is decided from members, never
/// from this field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupState {
    Unknown,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
    Empty,
}

/// The rebalance protocol a group uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupProtocol {
    Unknown,
    /// KIP-848, `group.protocol=consumer`.
    Consumer,
    /// The classic JoinGroup/SyncGroup protocol.
    Classic,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub group_instance_id: Option<String>,
    pub host: String,
    /// Partitions currently assigned to the member. Empty for classic groups whose members
    /// use a non-consumer protocol type, where the assignment is opaque to the broker.
    pub assignment: Vec<TopicPartition>,
    /// The target assignment (KIP-848 groups only).
    pub target_assignment: Option<Vec<TopicPartition>>,
}

/// What a cluster knows of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    pub group: GroupId,
    pub state: GroupState,
    pub protocol: GroupProtocol,
    pub simple: bool,
    pub partition_assignor: Option<String>,
    pub coordinator: Option<i32>,
    pub members: Vec<GroupMember>,
    /// The error the coordinator returned for this group, if any (`GROUP_ID_NOT_FOUND` for a
    /// group it does not know, under the KIP-848 describe API).
    pub error: Option<BrokerError>,
}

/// Whether a group is running somewhere: decided from its members, never from state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupPresence {
    /// At least one member is connected.
    Active,
    /// The group exists (it has committed offsets or metadata) but no member is connected.
    Empty,
    /// The coordinator does not know the group.
    NotFound,
}

impl GroupDescription {
    pub fn presence(&self) -> GroupPresence {
        if !self.members.is_empty() {
            return GroupPresence::Active;
        }
        let not_found = self
            .error
            .as_ref()
            .is_some_and(|e| e.name == "GROUP_ID_NOT_FOUND");
        // The classic DescribeGroups API answers an unknown group with state Dead and no
        // members; a group that still has offsets or metadata is never Dead.
        if not_found || self.state == GroupState::Dead {
            GroupPresence::NotFound
        } else {
            GroupPresence::Empty
        }
    }
}

/// One entry of a cluster-wide group listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupListing {
    pub group: GroupId,
    pub state: GroupState,
    pub protocol: GroupProtocol,
    pub simple: bool,
}

/// A cluster's group listing: the groups found, and the brokers that could not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupList {
    pub groups: Vec<GroupListing>,
    pub errors: Vec<BrokerError>,
}

/// Probes both clusters at once ([`Cluster::probe`]): the first that cannot be reached ends it.
pub async fn probe_both(origin: &dyn Cluster, destination: &dyn Cluster) -> Result<()> {
    tokio::try_join!(origin.probe(), destination.probe()).map(|_| ())
}

/// Every partition of `at` answered with an `UNSUPPORTED` error saying `why`: what a cluster
/// that cannot answer a call gives.
fn unsupported<K, T>(
    at: &[(TopicPartition, K)],
    why: &str,
) -> BTreeMap<TopicPartition, PartitionResult<T>> {
    at.iter()
        .map(|(tp, _)| {
            let error = BrokerError {
                code: -1,
                name: "UNSUPPORTED".into(),
                message: why.into(),
            };
            (tp.clone(), Err(error))
        })
        .collect()
}

/// Access to one Kafka cluster: reads, and the one write the agent makes (a moved group's
/// final offsets). See the module docs for the batching contract.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Which side of the link this cluster is.
    fn role(&self) -> Role;

    /// Checks the cluster answers at all, failing as soon as the client knows it cannot
    /// connect (and why) rather than at a request's timeout. Clusters that cannot tell (the
    /// simulator's) answer `Ok`.
    async fn probe(&self) -> Result<()> {
        Ok(())
    }

    /// The cluster's id, for the evidence of a cutover; `None` where it has none (the
    /// simulator).
    async fn cluster_id(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Every topic with its partitions, in one metadata request.
    async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>>;

    /// The earliest or latest offset of many partitions, batched. Every requested partition
    /// gets an entry: an offset, or the error its leader (or the client) gave for it.
    async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>>;

    /// For each partition, the offset of its first record whose timestamp is at or after the
    /// time given with it (milliseconds since the epoch; ListOffsets by timestamp), or `None`
    /// when no record is; batched like [`Cluster::list_offsets`]. Clusters that keep no
    /// timestamps answer every partition with an error (the default).
    async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<Offset>>>> {
        Ok(unsupported(
            at,
            "this cluster cannot look offsets up by time",
        ))
    }

    /// For each partition, its first record at or after the offset given with it: that
    /// record's offset and timestamp, or `None` when the partition has no record there yet.
    /// Clusters that keep no timestamps answer every partition with an error (the default).
    async fn record_times(
        &self,
        at: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>> {
        Ok(unsupported(at, "this cluster cannot read records"))
    }

    /// For each partition, the producers its leader keeps state for (DescribeProducers,
    /// KIP-664), one request per leader. Every requested partition gets an entry: its
    /// producers, or the error its leader (or the client) gave for it. Clusters that cannot
    /// tell answer every partition with an error (the default).
    async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Vec<ActiveProducer>>>> {
        let at: Vec<(TopicPartition, ())> = partitions.iter().map(|tp| (tp.clone(), ())).collect();
        Ok(unsupported(&at, "this cluster cannot describe producers"))
    }

    /// Every committed offset of each group, fetched concurrently. Partitions without a
    /// committed offset are absent.
    async fn committed_offsets(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupOffsets>>;

    /// State, protocol and members of each group.
    async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupDescription>>;

    /// Every group the cluster knows.
    async fn list_groups(&self) -> Result<GroupList>;

    /// Commits `offsets` for `group` through the admin API (AlterConsumerGroupOffsets), all
    /// partitions in one request, as a cluster link's offset sync does. The coordinator accepts
    /// it only while the group has no members; otherwise each partition answers with an error
    /// (`UNKNOWN_MEMBER_ID`), kept per partition like every other answer.
    async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(state: GroupState, members: usize, error: Option<&str>) -> GroupDescription {
        GroupDescription {
            group: GroupId::new("g"),
            state,
            protocol: GroupProtocol::Consumer,
            simple: false,
            partition_assignor: None,
            coordinator: Some(1),
            members: (0..members)
                .map(|i| GroupMember {
                    member_id: format!("m{i}"),
                    client_id: "app".into(),
                    group_instance_id: None,
                    host: "/127.0.0.1".into(),
                    assignment: vec![],
                    target_assignment: None,
                })
                .collect(),
            error: error.map(|name| BrokerError {
                code: 69,
                name: name.into(),
                message: String::new(),
            }),
        }
    }

    #[test]
    fn presence_is_decided_from_members_not_from_the_state_name() {
        // librdkafka reports some KIP-848 states as UNKNOWN: a member still means active.
        let cases = [
            (GroupState::Unknown, 1, None, GroupPresence::Active),
            (GroupState::Stable, 2, None, GroupPresence::Active),
            (
                GroupState::PreparingRebalance,
                1,
                None,
                GroupPresence::Active,
            ),
            (GroupState::Empty, 0, None, GroupPresence::Empty),
            (GroupState::Unknown, 0, None, GroupPresence::Empty),
            // A stable state with no members left (a stale read) is not active.
            (GroupState::Stable, 0, None, GroupPresence::Empty),
            (GroupState::Dead, 0, None, GroupPresence::NotFound),
            (
                GroupState::Unknown,
                0,
                Some("GROUP_ID_NOT_FOUND"),
                GroupPresence::NotFound,
            ),
            (
                GroupState::Unknown,
                0,
                Some("COORDINATOR_NOT_AVAILABLE"),
                GroupPresence::Empty,
            ),
        ];
        for (state, members, error, expected) in cases {
            assert_eq!(
                described(state, members, error).presence(),
                expected,
                "{state:?} with {members} members and error {error:?}"
            );
        }
    }
}
