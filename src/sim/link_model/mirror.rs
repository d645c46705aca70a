//! A mirror topic as the link keeps it: its status, its per-partition lag, why it failed, and
//! the rules of its state changes (promote refused while any partition lags).
//!
//! Plain data and pure functions: the simulator and the lab's emulator both change mirrors
//! through these rules, so they cannot disagree about what the link allows. No I/O here, and
//! nothing from the agent's side of the link except the names of the mirror actions.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::refusal::Refusal;

/// `mirror_status` values the emulator uses (a subset of the REST API's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorStatus {
    Active,
    Failed,
    Paused,
    PendingStopped,
    Stopped,
}

impl MirrorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorStatus::Active => "ACTIVE",
            MirrorStatus::Failed => "FAILED",
            MirrorStatus::Paused => "PAUSED",
            MirrorStatus::PendingStopped => "PENDING_STOPPED",
            MirrorStatus::Stopped => "STOPPED",
        }
    }

    /// Parses a `mirror_status` query value; unknown values match nothing.
    pub fn parse(s: &str) -> Option<MirrorStatus> {
        match s.to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(MirrorStatus::Active),
            "FAILED" => Some(MirrorStatus::Failed),
            "PAUSED" => Some(MirrorStatus::Paused),
            "PENDING_STOPPED" => Some(MirrorStatus::PendingStopped),
            "STOPPED" => Some(MirrorStatus::Stopped),
            _ => None,
        }
    }
}

/// One partition's lag as the link last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PartitionLag {
    /// The origin's log end offset at the last look (`last_source_fetch_offset`).
    pub origin_end: i64,
    /// The mirror partition's log end offset at the last look.
    pub mirror_end: i64,
}

impl PartitionLag {
    pub fn lag(&self) -> i64 {
        self.origin_end - self.mirror_end
    }
}

/// One mirror topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    pub source_topic: String,
    pub mirror_topic: String,
    pub partitions: i32,
    pub status: MirrorStatus,
    pub state_time_ms: i64,
    /// Why the mirror failed (`mirror_topic_error` and the transition error message).
    pub failure: Option<MirrorFailure>,
    /// Per-partition lag, refreshed in the background (frozen while the topic is stalled).
    pub lags: BTreeMap<i32, PartitionLag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorFailure {
    /// A `mirror_topic_error` value of the REST API.
    pub code: &'static str,
    pub message: String,
}

impl Mirror {
    pub fn new(source_topic: String, mirror_topic: String, partitions: i32) -> Mirror {
        Mirror {
            source_topic,
            mirror_topic,
            partitions,
            status: MirrorStatus::Active,
            state_time_ms: now_ms(),
            failure: None,
            lags: (0..partitions)
                .map(|p| (p, PartitionLag::default()))
                .collect(),
        }
    }

    pub fn set_status(&mut self, status: MirrorStatus) {
        if self.status != status {
            self.status = status;
            self.state_time_ms = now_ms();
        }
    }

    pub fn fail(&mut self, code: &'static str, message: String) {
        if self.status == MirrorStatus::Failed {
            return; // keep the first reason
        }
        self.failure = Some(MirrorFailure { code, message });
        self.set_status(MirrorStatus::Failed);
    }

    /// Copying runs only for active mirrors (paused and stalled ones keep their position).
    pub fn copies(&self) -> bool {
        self.status == MirrorStatus::Active
    }
}

/// An action on mirror topics, as the REST API names them.
pub type Action = crate::link::MirrorAction;

/// The state a mirror in `status` moves to under `action`, or why the link refuses it.
///
/// Promote needs the lag measured now (`lags`); called without it, promote is only checked
/// against the mirror's state, which tells a caller whether measuring is worth it.
pub fn next_status(
    status: MirrorStatus,
    action: Action,
    topic: &str,
    link: &str,
    lags: Option<&BTreeMap<i32, PartitionLag>>,
) -> Result<MirrorStatus, Refusal> {
    if matches!(status, MirrorStatus::Stopped | MirrorStatus::PendingStopped) {
        return Err(Refusal::bad_request(format!(
            "Topic '{topic}' has already stopped its mirror from '{link}'"
        )));
    }
    match action {
        Action::Promote => {
            if status == MirrorStatus::Failed {
                return Err(Refusal::bad_request(format!(
                    "Topic '{topic}' cannot be promoted: its mirror has failed; use failover to stop it"
                )));
            }
            if let Some((p, lag)) = lags
                .into_iter()
                .flatten()
                .map(|(p, l)| (p, l.lag()))
                .find(|(_, lag)| *lag != 0)
            {
                return Err(Refusal::bad_request(format!(
                    "Topic '{topic}' cannot be promoted: mirror lag is {lag} on partition {p}; wait until the lag is zero, or use failover"
                )));
            }
            Ok(MirrorStatus::PendingStopped)
        }
        Action::Failover => Ok(MirrorStatus::PendingStopped),
        Action::Pause if status == MirrorStatus::Failed => Err(Refusal::bad_request(format!(
            "Topic '{topic}' has a failed mirror and cannot be paused"
        ))),
        Action::Pause => Ok(MirrorStatus::Paused),
        Action::Resume if status == MirrorStatus::Failed => Err(Refusal::bad_request(format!(
            "Topic '{topic}' has a failed mirror and cannot be resumed"
        ))),
        Action::Resume => Ok(MirrorStatus::Active),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_mirror_keeps_its_first_reason() {
        let mut m = Mirror::new("t".into(), "t".into(), 1);
        m.fail("ILLEGAL_STATE", "first".into());
        m.fail("UNEXPECTED_TRUNCATION", "second".into());
        assert_eq!(m.status, MirrorStatus::Failed);
        assert_eq!(m.failure.as_ref().unwrap().message, "first");
    }
}
