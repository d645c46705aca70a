//! The domain vocabulary of `docs/design.md` §2 as types.
//!
//! Everything that crosses a module boundary speaks in these types: a partition is a
//! [`TopicPartition`], an offset is an [`Offset`], a partition's offsets are [`Offsets`], a
//! group is a [`GroupId`], a mirror's state is a [`MirrorState`]. The pure core (`rule`,
//! `promotion`, `cutover::machine`) takes its inputs in these types, so this module must not
//! import any I/O module (kafka, link, journal, hooks, config, report, sim). It holds data
//! only; it performs no I/O and makes no decisions.

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Which side of the link a cluster is on. Used in every message and report, so an operator
/// always knows which cluster a number or an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Origin,
    Destination,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Origin => "origin",
            Role::Destination => "destination",
        })
    }
}

/// A consumer group id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(pub String);

impl GroupId {
    pub fn new(id: impl Into<String>) -> Self {
        GroupId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A topic name. Shared, not copied: a verify of 100,000 partitions names the same few topics
/// in every partition of every group on both clusters and in every verdict, so a clone is a
/// reference count, not an allocation. Compares, orders and hashes as the name itself (so a
/// map keyed by `Topic` can be searched with a `&str`).
#[derive(Clone)]
pub struct Topic(Arc<str>);

impl Topic {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Topic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Topic {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Topic {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Topic {}

impl PartialOrd for Topic {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl Hash for Topic {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Topic {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Topic {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl From<&str> for Topic {
    fn from(name: &str) -> Self {
        Topic(Arc::from(name))
    }
}

impl From<&String> for Topic {
    fn from(name: &String) -> Self {
        Topic(Arc::from(name.as_str()))
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Self {
        Topic(Arc::from(name))
    }
}

impl From<&Topic> for Topic {
    fn from(topic: &Topic) -> Self {
        topic.clone()
    }
}

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Topic::from)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partition of one topic. Ordered by topic, then partition number, which is the order
/// every table, journal and report uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: Topic,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<Topic>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A Kafka offset: the position of a record in a partition, or a log end offset. Always
/// non-negative; Kafka's negative sentinels (−1 "none", −2 "earliest") never become an
/// `Offset`, they become `Option::None` or an explicit variant where they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Offset(pub i64);

impl Offset {
    /// Reads a raw offset as librdkafka reports it; negative values are sentinels, not offsets.
    pub fn from_raw(raw: i64) -> Option<Offset> {
        (raw >= 0).then_some(Offset(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The distance between two offsets (a lag): `end − committed`. Negative when the two were
/// read moments apart while the log or the group moved; never clamped, so it shows.
impl std::ops::Sub for Offset {
    type Output = i64;

    fn sub(self, rhs: Offset) -> i64 {
        self.0 - rhs.0
    }
}

/// One offset per partition (committed offsets, log ends, a snapshot), in partition order.
pub type Offsets = BTreeMap<TopicPartition, Offset>;

/// A producer a partition's leader keeps state for (DescribeProducers, KIP-664): an idempotent
/// or transactional producer that wrote to the partition within the broker's producer-id
/// expiration (`producer.id.expiration.ms`, a day by default). A producer without idempotence
/// has no producer id, and the broker keeps nothing of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub producer_epoch: i32,
    /// The sequence number of the last record it wrote to the partition (−1: none known).
    pub last_sequence: i32,
    /// The timestamp of its last record batch there, in ms since the epoch (−1: none known).
    pub last_timestamp: i64,
    /// Where its open transaction on the partition began, if one is open.
    pub open_transaction_from: Option<Offset>,
}

/// A mirror topic's state as the link reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorState {
    Active,
    Paused,
    Failed,
    PendingStopped,
    Stopped,
    /// A status this version does not know (the API's enum is extensible); never treated as
    /// active.
    Other(String),
    /// The link cannot be asked (no REST access): the status is not known.
    Unknown,
}

impl MirrorState {
    pub fn parse(s: &str) -> MirrorState {
        match s {
            "ACTIVE" => MirrorState::Active,
            "PAUSED" => MirrorState::Paused,
            "FAILED" => MirrorState::Failed,
            "PENDING_STOPPED" => MirrorState::PendingStopped,
            "STOPPED" => MirrorState::Stopped,
            other => MirrorState::Other(other.to_string()),
        }
    }

    /// Whether the mirror counts as active for promotion and reports: only `ACTIVE` does
    /// (not `UNKNOWN`, not a status this version does not know).
    pub fn is_active(&self) -> bool {
        matches!(self, MirrorState::Active)
    }

    /// The status name, borrowed for the statuses this version knows (no allocation: a
    /// cluster-wide report names one per partition).
    pub fn name(&self) -> Cow<'static, str> {
        match self.known_name() {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(self.as_str().to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MirrorState::Other(s) => s,
            known => known.known_name().unwrap_or("UNKNOWN"),
        }
    }

    /// The name of a status this version knows; `None` for [`MirrorState::Other`].
    fn known_name(&self) -> Option<&'static str> {
        Some(match self {
            MirrorState::Active => "ACTIVE",
            MirrorState::Paused => "PAUSED",
            MirrorState::Failed => "FAILED",
            MirrorState::PendingStopped => "PENDING_STOPPED",
            MirrorState::Stopped => "STOPPED",
            MirrorState::Unknown => "UNKNOWN",
            MirrorState::Other(_) => return None,
        })
    }
}

/// Where a cutover's time went, in wall-clock milliseconds since the epoch (and durations).
/// The phase machine fills it in; the journal and the reports carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    pub started_ms: Option<i64>,
    /// The stop hook began (its first run): the application's outage starts here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_begun_ms: Option<i64>,
    /// The group was seen stopped on the origin with steady offsets.
    pub stop_done_ms: Option<i64>,
    /// The destination had the final offsets.
    pub synced_ms: Option<i64>,
    /// The restart hook was about to run.
    pub restart_begun_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// stop hook begun → restart hook begun: the outage the application sees (journals of
    /// earlier versions measured it from stop done).
    pub downtime_ms: Option<i64>,
    /// stop done → synced: the wait for the link's offset sync.
    pub sync_wait_ms: Option<i64>,
    /// The stop hook returned successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_hook_done_ms: Option<i64>,
    /// The mirror's end reached the snapshot on every partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_reached_ms: Option<i64>,
    /// The agent's write of the final offsets returned (agent mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets_written_ms: Option<i64>,
    /// The restart hook returned successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_hook_done_ms: Option<i64>,
    /// The group was first seen committing on the destination past its final offsets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_commit_ms: Option<i64>,
}

/// Where a cutover's time went, part by part, in milliseconds: each from the point before
/// it. `None` where the run did not reach it (or an older journal did not record it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimingParts {
    /// stop hook begun → it returned.
    pub stop_hook_ms: Option<i64>,
    /// stop hook returned → the group seen stopped with steady offsets.
    pub stop_observed_ms: Option<i64>,
    /// The wait for the mirror's end to reach the snapshot everywhere: from the stop seen
    /// (agent mode) or the sync (link mode).
    pub mirror_wait_ms: Option<i64>,
    /// The final offsets onto the destination. Agent mode: mirror reached → written and read
    /// back, every partition SAFE. Link mode: seen stopped → the link's sync copied them.
    pub offsets_ms: Option<i64>,
    /// restart hook begun → it returned.
    pub restart_hook_ms: Option<i64>,
    /// restart hook begun → the group's first commit on the destination past the snapshot.
    pub first_commit_ms: Option<i64>,
}

impl TimingParts {
    /// The parts recorded, in order, each with its label (the same in the summary and the
    /// report).
    pub fn recorded(&self) -> Vec<(&'static str, i64)> {
        [
            ("stop hook", self.stop_hook_ms),
            ("stop observed", self.stop_observed_ms),
            ("mirror wait", self.mirror_wait_ms),
            ("offsets", self.offsets_ms),
            ("restart hook", self.restart_hook_ms),
            ("first commit on the destination", self.first_commit_ms),
        ]
        .into_iter()
        .filter_map(|(label, v)| Some((label, v?)))
        .collect()
    }
}

impl Timings {
    /// The parts of the cutover, from the points recorded.
    pub fn parts(&self) -> TimingParts {
        let between = |a: Option<i64>, b: Option<i64>| Some(b? - a?);
        let (stopped, mirrored, synced) =
            (self.stop_done_ms, self.mirror_reached_ms, self.synced_ms);
        let (mirror_wait_ms, offsets_ms) = match (stopped, mirrored, synced) {
            // Link mode: the sync is awaited first, then the mirror.
            (Some(s), Some(m), Some(y)) if y <= m => (Some(m - y), Some(y - s)),
            // Agent mode: the mirror first, then the agent's write and its read-back.
            _ => (between(stopped, mirrored), between(mirrored, synced)),
        };
        TimingParts {
            stop_hook_ms: between(self.stop_begun_ms, self.stop_hook_done_ms),
            stop_observed_ms: between(self.stop_hook_done_ms, self.stop_done_ms),
            mirror_wait_ms,
            offsets_ms,
            restart_hook_ms: between(self.restart_begun_ms, self.restart_hook_done_ms),
            first_commit_ms: between(self.restart_begun_ms, self.first_commit_ms),
        }
    }
}

/// Who writes a moved group's final offsets on the destination (`[cutover] final-offsets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalOffsets {
    /// The agent commits the snapshot itself (AlterConsumerGroupOffsets) once the group is
    /// stopped and excluded: the downtime does not depend on the link's sync interval.
    Agent,
    /// The link's offset sync copies them; the agent waits for it, then excludes the group.
    /// For credentials that cannot write offsets on the destination. This is `Default` for
    /// serde only: checkpoints written before the setting existed resume in this mode, the
    /// only one there was. The configuration's default is `Agent`.
    #[default]
    Link,
}

impl FinalOffsets {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalOffsets::Agent => "agent",
            FinalOffsets::Link => "link",
        }
    }
}

/// An error a broker (or librdkafka on its behalf) returned for one partition, one group or
/// one request, kept as data so one bad partition never hides the answers for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerError {
    /// librdkafka's error code (negative codes are client-side, positive ones are Kafka's).
    pub code: i32,
    /// The code's symbolic name, e.g. `LEADER_NOT_AVAILABLE` or `_TIMED_OUT`.
    pub name: String,
    /// Human-readable detail.
    pub message: String,
}

impl BrokerError {
    /// True for errors that describe a passing state of the cluster (leadership moving, a
    /// topic still being created, a timeout), where asking again shortly can succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self.code,
            3 // UNKNOWN_TOPIC_OR_PART: metadata not yet propagated
            | 5 // LEADER_NOT_AVAILABLE
            | 6 // NOT_LEADER_FOR_PARTITION
            | 7 // REQUEST_TIMED_OUT
            | 9 // REPLICA_NOT_AVAILABLE
            | 14 // COORDINATOR_LOAD_IN_PROGRESS: a fresh or restarted coordinator
            | 15 // COORDINATOR_NOT_AVAILABLE
            | 16 // NOT_COORDINATOR: the group's coordinator moved
            | 56 // KAFKA_STORAGE_ERROR
            | 74 // FENCED_LEADER_EPOCH
            | 75 // UNKNOWN_LEADER_EPOCH
            | 78 // OFFSET_NOT_AVAILABLE
            | -185 // _TIMED_OUT
            | -187 // _ALL_BROKERS_DOWN
            | -188 // _UNKNOWN_TOPIC: the client's metadata cache is older than the topic
            | -190 // _UNKNOWN_PARTITION: ... or than a partition added since
            | -195 // _TRANSPORT
        )
    }

    /// True for client-side errors that mean the cluster could not be reached at all
    /// (as opposed to a broker answering with an error).
    pub fn is_connectivity(&self) -> bool {
        matches!(
            self.code,
            -185 // _TIMED_OUT
            | -187 // _ALL_BROKERS_DOWN
            | -193 // _RESOLVE
            | -195 // _TRANSPORT
            | -169 // _AUTHENTICATION
            | -181 // _SSL
        )
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() || self.message == self.name {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl std::error::Error for BrokerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_raw_offsets_are_sentinels_not_offsets() {
        assert_eq!(Offset::from_raw(0), Some(Offset(0)));
        assert_eq!(Offset::from_raw(42), Some(Offset(42)));
        assert_eq!(Offset::from_raw(-1), None);
        assert_eq!(Offset::from_raw(-1001), None);
    }

    #[test]
    fn an_offset_serializes_as_the_plain_number_and_a_lag_may_be_negative() {
        assert_eq!(
            serde_json::to_string(&Offset(42)).expect("an offset serializes"),
            "42"
        );
        let back: Offset = serde_json::from_str("42").expect("a number deserializes");
        assert_eq!(back, Offset(42));
        assert_eq!(Offset(10) - Offset(7), 3);
        assert_eq!(Offset(7) - Offset(10), -3);
    }

    #[test]
    fn only_an_active_mirror_is_active() {
        assert!(MirrorState::parse("ACTIVE").is_active());
        for s in [
            "PAUSED",
            "FAILED",
            "PENDING_STOPPED",
            "STOPPED",
            "LINK_PAUSED",
        ] {
            assert!(!MirrorState::parse(s).is_active(), "{s}");
            assert_eq!(MirrorState::parse(s).as_str(), s);
        }
        assert!(!MirrorState::Unknown.is_active());
        assert_eq!(MirrorState::Unknown.name(), "UNKNOWN");
    }

    #[test]
    fn partitions_order_by_topic_then_number() {
        let mut v = [
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 10),
            TopicPartition::new("a", 2),
        ];
        v.sort();
        assert_eq!(
            v.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["a-2", "a-10", "b-0"]
        );
    }

    #[test]
    fn a_shared_topic_name_compares_orders_and_serializes_as_the_name() {
        let shared = Topic::from("orders");
        let copy = shared.clone();
        assert!(Arc::ptr_eq(&shared.0, &copy.0), "a clone shares the name");
        let mut names = [Topic::from("payments"), copy, Topic::from("orders-dlq")];
        names.sort();
        assert_eq!(
            names.map(|t| t.to_string()),
            ["orders", "orders-dlq", "payments"]
        );
        // Equal names from separate allocations are equal, and a map finds them by &str.
        let map = BTreeMap::from([(Topic::from("orders"), 1)]);
        assert_eq!(map.get("orders"), Some(&1));
        assert_eq!(Topic::from(String::from("orders")), shared);
        assert_eq!(
            serde_json::to_string(&shared).expect("a name serializes"),
            r#""orders""#
        );
        let back: Topic = serde_json::from_str(r#""orders""#).expect("a name deserializes");
        assert_eq!(back, shared);
    }
}
