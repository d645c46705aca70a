//! Kafka access: the `Cluster` trait and its rdkafka implementation.

mod client_log;
mod cluster;
mod ffi;
mod journal_store;
mod producers;
mod rdkafka_cluster;
mod records;
mod shifted;
mod side;
mod work_queue;

pub use client_log::ClientLog;
pub use cluster::{
    probe_both, Cluster, GroupDescription, GroupList, GroupListing, GroupMember, GroupOffsets,
    GroupPresence, GroupProtocol, GroupState, OffsetSpec, PartitionMetadata, PartitionResult,
    TopicMetadata,
};
pub use ffi::exit_process;
pub use journal_store::KafkaJournal;
pub use rdkafka_cluster::{
    RdKafkaCluster, DEFAULT_REQUEST_TIMEOUT, GROUPS_PER_DESCRIBE, GROUP_FETCHES_IN_FLIGHT,
    OFFSETS_PER_REQUEST, OFFSET_REQUESTS_IN_FLIGHT,
};
pub use records::RecordTime;
pub use shifted::{ShiftedCopy, Shifts};
pub use side::ClusterSide;
pub use work_queue::{consumer_group, KafkaWorkQueue};
