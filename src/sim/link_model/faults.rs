//! The fault knobs a test or a scenario sets on the link: stalled mirrors, a throttle, a slow or
//! stopped offset sync, and failing REST calls.
//!
//! Data only. The lab's emulator sets them through its admin endpoint and the simulator from a
//! scenario's timeline; the link's REST clients never see them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Fault knobs, set through the emulator's admin endpoint; REST clients never see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Mirror topics whose copying is stopped while REST still says `ACTIVE` (lag frozen at
    /// its last value, as a real link's fetch-relative lag goes stale).
    pub stalled_topics: BTreeSet<String>,
    /// Copy at most this many records per second (all topics together).
    pub throttle_records_per_sec: Option<u32>,
    /// A slow offset sync: each tick reads the origin's offsets (and the filters) when it
    /// starts, and writes them this long later.
    pub offset_sync_delay_ms: u64,
    /// No offset-sync tick writes anything while set.
    pub offset_sync_stopped: bool,
}

/// How the next REST calls fail, set through the admin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestFaults {
    /// How many of the next calls to the emulated API fail.
    pub remaining: u32,
    /// `"status"`: answer with `status` (default 503); `"timeout"`: hold the call
    /// for `timeout_ms` (default 60000) and then answer 504.
    pub kind: RestFaultKind,
    pub status: Option<u16>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestFaultKind {
    #[default]
    Status,
    Timeout,
}
