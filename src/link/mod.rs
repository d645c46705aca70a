//! The cluster link as the agent sees it: the `Link` trait, its Confluent REST v3
//! implementation, a Kafka-only stand-in for operators without REST access, and the link's
//! filter language.
//!
//! The agent never trusts the link's own lag figure for a decision (it is fetch-relative and
//! goes stale); it reads mirror status, which topics are mirrors, and link configs here, and
//! measures offsets on both clusters itself through `Cluster`.

pub mod filter_edit;
pub mod filters;
mod kafka_only;
mod paired;
pub(crate) mod rest;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;
use crate::model::MirrorState;

pub use kafka_only::KafkaOnlyLink;
pub use paired::PairedLink;

/// The link config naming its mirrors' prefix (mirror name = prefix + source name).
pub const LINK_PREFIX: &str = "cluster.link.prefix";
pub use rest::{ConfluentRestLink, RestLinkOptions};

/// One partition's lag as the link reports it (informative: decisions use measured offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReportedLag {
    pub lag: i64,
    pub last_source_fetch_offset: i64,
}

/// One mirror topic of the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorDescription {
    pub mirror_topic: String,
    pub source_topic: String,
    pub partitions: i32,
    pub state: MirrorState,
    /// Per partition, when the link reports lags.
    pub lags: BTreeMap<i32, ReportedLag>,
    /// `mirror_topic_error`, when the link reports one other than `NO_ERROR`.
    pub error: Option<String>,
}

/// The link itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkDescription {
    pub link_name: String,
    pub source_cluster_id: Option<String>,
    pub mirror_topics: Vec<String>,
    /// `link_state` where the API reports it.
    pub state: Option<String>,
}

/// Actions on mirror topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorAction {
    Promote,
    Failover,
    Pause,
    Resume,
}

impl MirrorAction {
    pub fn path(self) -> &'static str {
        match self {
            MirrorAction::Promote => "mirrors:promote",
            MirrorAction::Failover => "mirrors:failover",
            MirrorAction::Pause => "mirrors:pause",
            MirrorAction::Resume => "mirrors:resume",
        }
    }
}

/// The outcome of an action for one topic (the API answers 200 with per-topic errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorActionResult {
    pub mirror_topic: String,
    /// `None` when the link accepted the action for this topic.
    pub error: Option<String>,
}

/// Read and change a cluster link. Implementations: [`ConfluentRestLink`] (Confluent REST
/// v3), [`KafkaOnlyLink`] (no REST access: mirrors inferred, status unknown).
#[async_trait]
pub trait Link: Send + Sync {
    /// The link's name.
    fn name(&self) -> &str;

    /// True when mirror status comes from the link; false when it is unknown.
    fn reports_status(&self) -> bool;

    async fn describe(&self) -> Result<LinkDescription>;

    /// Every mirror topic of the link.
    async fn mirrors(&self) -> Result<Vec<MirrorDescription>>;

    /// The link's configs (name → value).
    async fn configs(&self) -> Result<BTreeMap<String, String>>;

    /// Sets (`Some`) or resets (`None`) configs in one request.
    async fn alter_configs(&self, changes: &[(String, Option<String>)]) -> Result<()>;

    /// Origin topics that are not this link's mirrors' sources but pair with a destination
    /// topic by construction (a reverse link's mirrors, [`PairedLink`]), as of the last
    /// [`Link::mirrors`]: their origin side may grow while a group moves.
    fn paired_topics(&self) -> std::collections::BTreeSet<String> {
        std::collections::BTreeSet::new()
    }

    /// Promote, fail over, pause or resume mirror topics; one result per topic.
    async fn alter_mirrors(
        &self,
        action: MirrorAction,
        topics: &[String],
    ) -> Result<Vec<MirrorActionResult>>;
}
