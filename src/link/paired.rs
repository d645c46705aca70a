//! Bidirectional links with prefixes (issue 17, strategy A): producers move one by one, so
//! each cluster keeps a writable topic and mirrors the other's under a prefix, and consumers
//! read both by pattern. On the origin a group reads `orders` (mirrored forward as
//! `old.orders`) and `new.orders` (the reverse link's mirror of the destination's `orders`).
//! Moved, it reads `old.orders` and `orders` on the destination.
//!
//! The second pair is not the forward link's to mirror or to sync, but its offsets are the
//! same by construction: `new.orders` on the origin is a copy of `orders` on the destination.
//! [`PairedLink`] shows it to the agent as one more mirror of the forward link, origin topic
//! `new.orders` → destination topic `orders`, in state `STOPPED`: an ordinary writable topic
//! on the destination that the link never syncs, as after a promotion. So verify judges it by
//! the rule (committed ≤ the destination topic's end), the cutover writes its final offsets
//! itself (agent mode; link mode is refused, the sync never comes) and needs no exclusion for
//! it, and the restart hook's `{topics}` names `orders`. Unlike a promoted topic, the origin's
//! side may keep growing (the reverse link copies what producers write on the destination):
//! [`Link::paired_topics`] names these pairs so the cutover does not read that as a write to
//! the origin.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Link, LinkDescription, MirrorAction, MirrorActionResult, MirrorDescription};
use crate::error::Result;
use crate::model::MirrorState;

/// The forward link, with the reverse link's mirrors paired back to their sources.
pub struct PairedLink {
    forward: Box<dyn Link>,
    reverse: Box<dyn Link>,
    /// The origin topics of the pairs, as of the last `mirrors()`.
    paired: Mutex<BTreeSet<String>>,
}

impl PairedLink {
    pub fn new(forward: Box<dyn Link>, reverse: Box<dyn Link>) -> Self {
        PairedLink {
            forward,
            reverse,
            paired: Mutex::new(BTreeSet::new()),
        }
    }
}

#[async_trait]
impl Link for PairedLink {
    fn name(&self) -> &str {
        self.forward.name()
    }

    fn reports_status(&self) -> bool {
        self.forward.reports_status()
    }

    async fn describe(&self) -> Result<LinkDescription> {
        self.forward.describe().await
    }

    /// The forward link's mirrors, and the pairs. The reverse link only adds: when it cannot be
    /// read, the forward mirrors stand alone (topics only it pairs are then NOT_MIRRORED, a
    /// finding) rather than a forward cutover failing for it.
    async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
        let (forward, reverse) = tokio::join!(self.forward.mirrors(), self.reverse.mirrors());
        let mut mirrors = forward?;
        let reverse = reverse.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the reverse link's mirrors cannot be read: they are not paired");
            Vec::new()
        });
        // Names on each cluster the forward link already maps.
        let on_origin: BTreeSet<String> = mirrors.iter().map(|m| m.source_topic.clone()).collect();
        let on_destination: BTreeSet<String> =
            mirrors.iter().map(|m| m.mirror_topic.clone()).collect();
        let mut paired = BTreeSet::new();
        for r in reverse {
            // The forward link's own mirrors win: a reverse mirror of a promoted topic (the
            // standard migration's way back, `--to origin`) comes from a destination topic the
            // forward link already maps, and each name on each cluster maps one way only.
            if on_origin.contains(&r.mirror_topic)
                || on_destination.contains(&r.source_topic)
                || r.state != MirrorState::Active
            {
                continue;
            }
            paired.insert(r.mirror_topic.clone());
            mirrors.push(MirrorDescription {
                mirror_topic: r.source_topic,
                source_topic: r.mirror_topic,
                partitions: r.partitions,
                state: MirrorState::Stopped,
                lags: BTreeMap::new(),
                error: None,
            });
        }
        *self.paired.lock().unwrap_or_else(|p| p.into_inner()) = paired;
        Ok(mirrors)
    }

    fn paired_topics(&self) -> BTreeSet<String> {
        self.paired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn configs(&self) -> Result<BTreeMap<String, String>> {
        self.forward.configs().await
    }

    async fn alter_configs(&self, changes: &[(String, Option<String>)]) -> Result<()> {
        self.forward.alter_configs(changes).await
    }

    async fn alter_mirrors(
        &self,
        action: MirrorAction,
        topics: &[String],
    ) -> Result<Vec<MirrorActionResult>> {
        self.forward.alter_mirrors(action, topics).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link that only lists its mirrors (source → mirror, all ACTIVE).
    struct Listed(Vec<(&'static str, &'static str)>);

    #[async_trait]
    impl Link for Listed {
        fn name(&self) -> &str {
            "listed"
        }
        fn reports_status(&self) -> bool {
            true
        }
        async fn describe(&self) -> Result<LinkDescription> {
            Ok(LinkDescription {
                link_name: "listed".into(),
                source_cluster_id: None,
                mirror_topics: self.0.iter().map(|(_, m)| m.to_string()).collect(),
                state: None,
            })
        }
        async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
            Ok(self
                .0
                .iter()
                .map(|(source, mirror)| MirrorDescription {
                    mirror_topic: mirror.to_string(),
                    source_topic: source.to_string(),
                    partitions: 2,
                    state: MirrorState::Active,
                    lags: BTreeMap::new(),
                    error: None,
                })
                .collect())
        }
        async fn configs(&self) -> Result<BTreeMap<String, String>> {
            Ok(BTreeMap::new())
        }
        async fn alter_configs(&self, _: &[(String, Option<String>)]) -> Result<()> {
            Ok(())
        }
        async fn alter_mirrors(
            &self,
            _: MirrorAction,
            _: &[String],
        ) -> Result<Vec<MirrorActionResult>> {
            Ok(Vec::new())
        }
    }

    async fn pairs(
        forward: Vec<(&'static str, &'static str)>,
        reverse: Vec<(&'static str, &'static str)>,
    ) -> (Vec<(String, String, MirrorState)>, BTreeSet<String>) {
        let link = PairedLink::new(Box::new(Listed(forward)), Box::new(Listed(reverse)));
        let mirrors = link
            .mirrors()
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.source_topic, m.mirror_topic, m.state))
            .collect();
        (mirrors, link.paired_topics())
    }

    #[tokio::test]
    async fn a_reverse_mirror_pairs_back_to_its_source_unless_the_forward_link_maps_a_name() {
        // Bidirectional with prefixes: new.orders on the origin pairs with orders on the
        // destination, as a promoted (STOPPED) mirror the forward link never syncs.
        let (mirrors, paired) = pairs(
            vec![("orders", "old.orders")],
            vec![("orders", "new.orders")],
        )
        .await;
        assert_eq!(
            mirrors,
            [
                ("orders".into(), "old.orders".into(), MirrorState::Active),
                ("new.orders".into(), "orders".into(), MirrorState::Stopped),
            ]
        );
        assert_eq!(paired, BTreeSet::from(["new.orders".to_string()]));
        // The standard migration's way back: dst.orders comes from orders on the destination,
        // which the forward link already maps (the promoted mirror): no pair.
        let (mirrors, paired) =
            pairs(vec![("orders", "orders")], vec![("orders", "dst.orders")]).await;
        assert_eq!(mirrors.len(), 1);
        assert!(paired.is_empty());
    }
}
