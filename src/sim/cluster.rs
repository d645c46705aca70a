//! `SimCluster`: the `Cluster` trait over the simulated world, for one side of the link.
//!
//! It answers like the real adapter does: every requested partition gets an offset or the
//! broker error a real cluster would give (`UNKNOWN_TOPIC_OR_PART`, `LEADER_NOT_AVAILABLE`),
//! groups are active when they have members, and an unreachable cluster fails the whole call
//! with the error the real adapter returns when no broker answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::kafka::{
    Cluster, GroupDescription, GroupList, GroupListing, GroupMember, GroupOffsets, GroupProtocol,
    GroupState, OffsetSpec, PartitionMetadata, PartitionResult, RecordTime, TopicMetadata,
};
use crate::model::{ActiveProducer, BrokerError, GroupId, Offset, Offsets, Role, TopicPartition};
use crate::sim::{SharedWorld, SimKafka, World};

pub struct SimCluster {
    role: Role,
    world: Arc<SharedWorld>,
}

impl SimCluster {
    pub fn new(role: Role, world: Arc<SharedWorld>) -> SimCluster {
        SimCluster { role, world }
    }

    /// Waits the configured call latency, then changes the cluster under the world's lock.
    async fn write<T>(&self, what: &'static str, f: impl FnOnce(&mut SimKafka) -> T) -> Result<T> {
        self.world.latency().await;
        let mut world = self.world.lock();
        let cluster = world.cluster_mut(self.role);
        if cluster.unreachable {
            return Err(Error::Unreachable {
                role: self.role,
                what,
                source: broker_error(-187, "_ALL_BROKERS_DOWN", "all broker connections are down"),
                client: None,
            });
        }
        Ok(f(cluster))
    }

    /// Waits the configured call latency, then reads the cluster under the world's lock.
    async fn read<T>(&self, what: &'static str, f: impl FnOnce(&SimKafka) -> T) -> Result<T> {
        self.read_world(what, |w| f(w.cluster(self.role))).await
    }

    /// As [`Self::read`], for answers that need the world (members' assignments).
    async fn read_world<T>(&self, what: &'static str, f: impl FnOnce(&World) -> T) -> Result<T> {
        self.world.latency().await;
        let world = self.world.lock();
        let cluster = world.cluster(self.role);
        if cluster.unreachable {
            return Err(Error::Unreachable {
                role: self.role,
                what,
                source: broker_error(-187, "_ALL_BROKERS_DOWN", "all broker connections are down"),
                client: None,
            });
        }
        Ok(f(&world))
    }
}

fn broker_error(code: i32, name: &str, message: &str) -> BrokerError {
    BrokerError {
        code,
        name: name.into(),
        message: message.into(),
    }
}

fn partition_error(cluster: &SimKafka, tp: &TopicPartition) -> Option<BrokerError> {
    if cluster.log(tp).is_none() {
        return Some(broker_error(
            3,
            "UNKNOWN_TOPIC_OR_PART",
            "This server does not host this topic-partition",
        ));
    }
    cluster.leaderless.contains(tp).then(|| {
        broker_error(
            5,
            "LEADER_NOT_AVAILABLE",
            "There is no leader for this topic-partition as we are in the middle of a leadership election",
        )
    })
}

#[async_trait]
impl Cluster for SimCluster {
    fn role(&self) -> Role {
        self.role
    }

    async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
        self.read("a metadata request", |c| {
            c.topics
                .iter()
                .map(|(name, logs)| {
                    let partitions = (0..logs.len() as i32)
                        .map(|p| {
                            let error = partition_error(c, &TopicPartition::new(name, p));
                            PartitionMetadata {
                                partition: p,
                                leader: error.is_none().then_some(1),
                                error,
                            }
                        })
                        .collect();
                    (
                        name.clone(),
                        TopicMetadata {
                            name: name.clone(),
                            partitions,
                            error: None,
                        },
                    )
                })
                .collect()
        })
        .await
    }

    async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Vec<ActiveProducer>>>> {
        self.read("a DescribeProducers request", |c| {
            partitions
                .iter()
                .map(|tp| {
                    let answer = match partition_error(c, tp) {
                        Some(e) => Err(e),
                        None => Ok(c.producers_of(tp)),
                    };
                    (tp.clone(), answer)
                })
                .collect()
        })
        .await
    }

    async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
        self.read("a ListOffsets request", |c| {
            partitions
                .iter()
                .map(|tp| {
                    // A partition without an error has a log (see `partition_error`).
                    let answer = match (partition_error(c, tp), c.log(tp)) {
                        (None, Some(log)) => Ok(Offset(match spec {
                            OffsetSpec::Earliest => log.start,
                            // The simulator models no transactions.
                            OffsetSpec::Latest | OffsetSpec::LastStable => log.end,
                        })),
                        (error, _) => Err(error.unwrap_or_else(|| {
                            broker_error(3, "UNKNOWN_TOPIC_OR_PART", "unknown partition")
                        })),
                    };
                    (tp.clone(), answer)
                })
                .collect()
        })
        .await
    }

    async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<Offset>>>> {
        self.read("a ListOffsets request by timestamp", |c| {
            at.iter()
                .map(|(tp, ts)| {
                    let answer = match partition_error(c, tp) {
                        Some(error) => Err(error),
                        None => Ok(c.offset_for_time(tp, *ts).map(Offset)),
                    };
                    (tp.clone(), answer)
                })
                .collect()
        })
        .await
    }

    async fn record_times(
        &self,
        at: &[(TopicPartition, Offset)],
    ) -> Result<BTreeMap<TopicPartition, PartitionResult<Option<RecordTime>>>> {
        self.read("a fetch of records", |c| {
            at.iter()
                .map(|(tp, o)| {
                    let answer = match partition_error(c, tp) {
                        Some(error) => Err(error),
                        None => Ok(c
                            .record_at_or_after(tp, o.get())
                            .map(|(offset, timestamp)| RecordTime {
                                offset: Offset(offset),
                                timestamp,
                            })),
                    };
                    (tp.clone(), answer)
                })
                .collect()
        })
        .await
    }

    async fn committed_offsets(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
        self.read("a ListConsumerGroupOffsets request", |c| {
            groups
                .iter()
                .map(|g| {
                    let offsets = c
                        .group(g)
                        .map(|g| {
                            g.committed
                                .iter()
                                .map(|(tp, o)| (tp.clone(), Ok(*o)))
                                .collect()
                        })
                        .unwrap_or_default();
                    (g.clone(), Ok(offsets))
                })
                .collect()
        })
        .await
    }

    async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupDescription>> {
        self.read_world("a DescribeConsumerGroups request", |w| {
            groups
                .iter()
                .map(|g| (g.clone(), describe(w, self.role, g)))
                .collect()
        })
        .await
    }

    async fn list_groups(&self) -> Result<GroupList> {
        self.read("a ListConsumerGroups request", |c| GroupList {
            groups: c
                .known_groups()
                .map(|(g, sg)| GroupListing {
                    group: g.clone(),
                    state: if sg.members.is_empty() {
                        GroupState::Empty
                    } else {
                        GroupState::Stable
                    },
                    protocol: GroupProtocol::Classic,
                    simple: false,
                })
                .collect(),
            errors: Vec::new(),
        })
        .await
    }

    async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets> {
        self.write("an AlterConsumerGroupOffsets request", |c| {
            // Partitions the cluster does not have are refused one by one; the rest are
            // written unless the group has members.
            let known: Offsets = offsets
                .iter()
                .filter(|(tp, _)| c.log(tp).is_some())
                .map(|(tp, o)| (tp.clone(), *o))
                .collect();
            let written = c.commit_as_admin(group, &known);
            Ok(offsets
                .iter()
                .map(|(tp, o)| {
                    let answer = if c.log(tp).is_none() {
                        Err(broker_error(
                            3,
                            "UNKNOWN_TOPIC_OR_PART",
                            "This server does not host this topic-partition",
                        ))
                    } else if written {
                        Ok(*o)
                    } else {
                        Err(broker_error(
                            25,
                            "UNKNOWN_MEMBER_ID",
                            "The coordinator is not aware of this member",
                        ))
                    };
                    (tp.clone(), answer)
                })
                .collect())
        })
        .await
    }
}

fn describe(w: &World, role: Role, group: &GroupId) -> GroupDescription {
    let known = w.cluster(role).group(group);
    let members: Vec<GroupMember> = known
        .map(|g| {
            g.members
                .iter()
                .map(|app| GroupMember {
                    member_id: format!("{app}-member"),
                    client_id: app.clone(),
                    group_instance_id: None,
                    host: "/sim".into(),
                    assignment: w.assignment(app),
                    target_assignment: None,
                })
                .collect()
        })
        .unwrap_or_default();
    let state = match known {
        None => GroupState::Dead,
        Some(_) if members.is_empty() => GroupState::Empty,
        Some(_) => GroupState::Stable,
    };
    GroupDescription {
        group: group.clone(),
        state,
        protocol: GroupProtocol::Classic,
        simple: false,
        partition_assignor: (!members.is_empty()).then(|| "range".to_string()),
        coordinator: Some(1),
        members,
        error: None,
    }
}
