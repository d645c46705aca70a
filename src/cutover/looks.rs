//! Looks shared by the cutovers of one stage: one `verify` read serves every cutover that asked
//! for a look while the previous read was under way.
//!
//! A look at one group reads much more than the group: the link's mirrors and their ends on
//! both clusters, the origin's topics, the link's configuration. A stage of a hundred cutovers,
//! each looking every poll interval, would repeat those reads a hundred times a poll, on the
//! clusters being migrated. Here at most one read is under way at a time; the cutovers that ask
//! meanwhile wait for the next one, which reads all their groups at once (one ListOffsets sweep
//! a cluster, their committed offsets and membership together, the link's configuration once).
//!
//! Freshness is kept: a look is always served by a read that began after it was asked for, so
//! a cutover that looks after its stop hook returned sees the clusters as they were after it.
//! What a group's judgement is does not depend on the other groups read with it (`verify`
//! judges each group from its own offsets, and reports a group's failed read in that group's
//! row). A read that fails as a whole is not shared: each cutover then looks on its own, so its
//! error is its own and it counts it as it always did.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::Result;
use crate::gather::Gathering;
use crate::link::filters::Filters;
use crate::model::GroupId;
use crate::report::VerifyReport;

use super::driver::Env;
use super::observe::read;

/// One read: the groups' report and the link's offset sync read with it.
type Read = Option<Arc<(VerifyReport, Option<Option<Filters>>)>>;

struct Asked {
    group: GroupId,
    reply: tokio::sync::oneshot::Sender<Read>,
}

/// The looks of one stage's cutovers, all against the same clusters and link.
#[derive(Default)]
pub struct SharedLooks {
    /// The looks asked for since the last read began; the first to ask leads the next read.
    asked: Gathering<Asked>,
    /// Held for the length of a read: one at a time.
    reading: tokio::sync::Mutex<()>,
}

impl SharedLooks {
    pub fn new() -> SharedLooks {
        SharedLooks::default()
    }

    /// A look at `group`: its judgement in a report of it alone, and the link's offset sync.
    pub(super) async fn look(
        &self,
        env: &Env<'_>,
        group: &GroupId,
    ) -> Result<(VerifyReport, Option<Option<Filters>>)> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let leads = self.asked.ask(Asked {
            group: group.clone(),
            reply,
        });
        if leads {
            // The others ask while the read before this one is under way. Interrupted while
            // it waits, the leader empties the batch: its askers then look on their own.
            let (batch, reading) = self.asked.take_after(self.reading.lock()).await;
            let groups: BTreeSet<GroupId> = batch.iter().map(|a| a.group.clone()).collect();
            let groups: Vec<GroupId> = groups.into_iter().collect();
            tracing::debug!(groups = groups.len(), "one look for the stage's cutovers");
            let read = read(env, &groups).await.ok().map(Arc::new);
            drop(reading);
            for a in batch {
                let _ = a.reply.send(read.clone());
            }
        }
        match answer.await.ok().flatten() {
            Some(read) => Ok((of_group(&read.0, group), read.1.clone())),
            None => read(env, std::slice::from_ref(group)).await,
        }
    }
}

/// `report` narrowed to `group`, as a read of it alone would have given it.
fn of_group(report: &VerifyReport, group: &GroupId) -> VerifyReport {
    let groups: Vec<_> = report
        .groups
        .iter()
        .filter(|g| &g.group == group)
        .cloned()
        .collect();
    VerifyReport {
        safe: !groups.is_empty() && groups.iter().all(|g| g.safe),
        ok: !groups.is_empty() && groups.iter().all(|g| g.status.is_ok()),
        groups,
        link: report.link.clone(),
        ..*report
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::cutover::driver::{Clock, Options};
    use crate::cutover::observe::observe;
    use crate::kafka::{
        Cluster, GroupDescription, GroupList, GroupOffsets, OffsetSpec, PartitionResult,
        TopicMetadata,
    };
    use crate::link::KafkaOnlyLink;
    use crate::model::{Offset, Offsets, Role, TopicPartition};
    use crate::sim::link_model::LinkState;
    use crate::sim::{Log, SharedWorld, SimCluster, SimHooks, World, EPOCH_MS};

    /// A simulated cluster that counts the committed-offset reads it answers.
    struct Counted {
        inner: SimCluster,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl Cluster for Counted {
        fn role(&self) -> Role {
            self.inner.role()
        }
        async fn topics(&self) -> Result<BTreeMap<String, TopicMetadata>> {
            self.inner.topics().await
        }
        async fn list_offsets(
            &self,
            partitions: &[TopicPartition],
            spec: OffsetSpec,
        ) -> Result<BTreeMap<TopicPartition, PartitionResult<Offset>>> {
            self.inner.list_offsets(partitions, spec).await
        }
        async fn committed_offsets(
            &self,
            groups: &[GroupId],
        ) -> Result<BTreeMap<GroupId, GroupOffsets>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.committed_offsets(groups).await
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
        async fn commit_offsets(&self, group: &GroupId, offsets: &Offsets) -> Result<GroupOffsets> {
            self.inner.commit_offsets(group, offsets).await
        }
    }

    /// Twenty groups on a mirrored topic, group `g<n>` at offset `n` on the origin.
    fn world(groups: i64) -> Arc<SharedWorld> {
        let link = LinkState::new("l".into(), "id".into(), "origin".into(), "sim");
        let mut w = World::new(1, link, false, None);
        w.origin
            .create_topic("t", vec![Log { start: 0, end: 100 }], EPOCH_MS);
        w.create_mirror("t").expect("mirror");
        for n in 0..groups {
            w.set_committed(
                Role::Origin,
                &GroupId::new(format!("g{n}")),
                TopicPartition::new("t", 0),
                Offset(n),
            );
        }
        Arc::new(SharedWorld::new(w, Duration::from_millis(5)))
    }

    #[tokio::test]
    async fn the_looks_asked_for_together_are_one_read_and_each_gets_its_own_group() {
        let world = world(20);
        let origin = Arc::new(Counted {
            inner: SimCluster::new(Role::Origin, world.clone()),
            reads: AtomicUsize::new(0),
        });
        let destination: Arc<dyn Cluster> =
            Arc::new(SimCluster::new(Role::Destination, world.clone()));
        let link = KafkaOnlyLink::new(
            "l".into(),
            String::new(),
            origin.clone(),
            destination.clone(),
        );
        let hooks = SimHooks::new(world.clone(), true, false, 0, Duration::ZERO);
        let options = Options {
            cutover: Default::default(),
            poll_interval: Duration::from_millis(500),
            evidence: BTreeMap::new(),
            restart_on: Role::Destination,
            shared_journal: None,
        };
        let looks = SharedLooks::new();
        let mut env = Env {
            origin: origin.as_ref(),
            destination: destination.as_ref(),
            link: &link,
            hooks: &hooks,
            options: &options,
            clock: Clock::System,
            progress: false,
            phase_watch: None,
            command: Vec::new(),
            filter_edits: None,
            looks: Some(&looks),
            by_time: None,
        };
        let groups: Vec<GroupId> = (0..20).map(|n| GroupId::new(format!("g{n}"))).collect();
        let seen = futures::future::join_all(groups.iter().map(|g| observe(&env, g))).await;
        for (n, o) in seen.into_iter().enumerate() {
            let (o, report) = o.expect("a look");
            assert_eq!(report.groups.len(), 1);
            assert_eq!(report.groups[0].group, groups[n]);
            assert_eq!(
                o.origin_committed.values().copied().collect::<Vec<_>>(),
                vec![Offset(n as i64)],
                "g{n} sees its own offsets"
            );
        }
        // The first look's read was under way when the other nineteen asked: they share the next.
        assert_eq!(origin.reads.load(Ordering::SeqCst), 2);

        // The same twenty looks, each on its own.
        env.looks = None;
        origin.reads.store(0, Ordering::SeqCst);
        futures::future::join_all(groups.iter().map(|g| observe(&env, g))).await;
        assert_eq!(origin.reads.load(Ordering::SeqCst), 20);

        // A read that fails as a whole is not shared: each look fails on its own, as alone.
        env.looks = Some(&looks);
        world.lock().cluster_mut(Role::Origin).unreachable = true;
        let seen = futures::future::join_all(groups.iter().map(|g| observe(&env, g))).await;
        for o in seen {
            let e = o.expect_err("the origin does not answer");
            assert!(matches!(e, crate::error::Error::Unreachable { .. }), "{e}");
        }
    }
}
