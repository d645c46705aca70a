//! `KafkaOnlyLink`: for operators who have Kafka credentials but no access to the link's REST
//! API. Mirror topics are inferred (a destination topic named like an origin topic, with the
//! link's prefix), mirror ends come from the destination's ListOffsets like everything else,
//! and mirror status is `UNKNOWN`, which every report says plainly. It cannot change the link.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::kafka::Cluster;
use crate::link::{Link, LinkDescription, MirrorAction, MirrorActionResult, MirrorDescription};
use crate::model::MirrorState;

pub struct KafkaOnlyLink {
    name: String,
    prefix: String,
    origin: Arc<dyn Cluster>,
    destination: Arc<dyn Cluster>,
}

impl KafkaOnlyLink {
    /// `prefix` is the link's `cluster.link.prefix` (empty when mirrors keep source names).
    pub fn new(
        name: String,
        prefix: String,
        origin: Arc<dyn Cluster>,
        destination: Arc<dyn Cluster>,
    ) -> Self {
        KafkaOnlyLink {
            name,
            prefix,
            origin,
            destination,
        }
    }

    fn needs_rest(&self, what: &str) -> Error {
        Error::Config(format!(
            "{what} needs the link's REST API, and no [link] rest-url is configured for link {}",
            self.name
        ))
    }
}

#[async_trait]
impl Link for KafkaOnlyLink {
    fn name(&self) -> &str {
        &self.name
    }

    fn reports_status(&self) -> bool {
        false
    }

    async fn describe(&self) -> Result<LinkDescription> {
        let mirror_topics = self
            .mirrors()
            .await?
            .into_iter()
            .map(|m| m.mirror_topic)
            .collect();
        Ok(LinkDescription {
            link_name: self.name.clone(),
            source_cluster_id: None,
            mirror_topics,
            state: None,
        })
    }

    async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
        let (origin, destination) =
            tokio::try_join!(self.origin.topics(), self.destination.topics())?;
        Ok(origin
            .keys()
            .filter(|t| !t.starts_with("__"))
            .filter_map(|source| {
                let mirror = destination.get(&format!("{}{source}", self.prefix))?;
                Some(MirrorDescription {
                    mirror_topic: mirror.name.clone(),
                    source_topic: source.clone(),
                    partitions: mirror.partition_count() as i32,
                    state: MirrorState::Unknown,
                    lags: BTreeMap::new(),
                    error: None,
                })
            })
            .collect())
    }

    async fn configs(&self) -> Result<BTreeMap<String, String>> {
        Err(self.needs_rest("reading link configs"))
    }

    async fn alter_configs(&self, _changes: &[(String, Option<String>)]) -> Result<()> {
        Err(self.needs_rest("changing link configs"))
    }

    async fn alter_mirrors(
        &self,
        action: MirrorAction,
        _topics: &[String],
    ) -> Result<Vec<MirrorActionResult>> {
        Err(self.needs_rest(&format!("{action:?} of mirror topics").to_lowercase()))
    }
}
