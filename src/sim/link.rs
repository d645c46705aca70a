//! `SimLink`: the `Link` trait over the simulated link, answering as the Confluent REST client
//! does against the emulator.
//!
//! Each trait call is one REST request. Injected REST faults (`rest_errors` in a scenario, the
//! emulator's `rest_faults` knob) are taken from the same budget the emulator uses, and the
//! client's own retry policy decides what happens next: the same retryable statuses, the same
//! backoff, the same rule that a mirror action is re-sent only after an answer proving it was
//! not served, and the same errors once retries run out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;

use crate::error::{Error, Result};
use crate::link::rest::{answer_error, retry_delay, retryable_status, Repeat};
use crate::link::{
    Link, LinkDescription, MirrorAction, MirrorActionResult, MirrorDescription, ReportedLag,
};
use crate::model::Role;
use crate::model::{MirrorState, TopicPartition};
use crate::sim::link_model::{
    next_status, LinkState, PartitionLag, Refusal, RestFaultKind, CONFIGS,
};
use crate::sim::{SharedWorld, World};

/// Which of the world's links a [`SimLink`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Origin → destination.
    Forward,
    /// Destination → origin (`[reverse-link]`).
    Reverse,
}

impl Which {
    /// The cluster holding this link's source topics.
    fn source(self) -> Role {
        match self {
            Which::Forward => Role::Origin,
            Which::Reverse => Role::Destination,
        }
    }

    /// The link's state; the reverse link exists only when the scenario has one (checked
    /// when the link is opened).
    fn state(self, w: &World) -> &LinkState {
        match (self, &w.reverse) {
            (Which::Reverse, Some(r)) => &r.state,
            _ => &w.link,
        }
    }

    fn state_mut(self, w: &mut World) -> &mut LinkState {
        match (self, &mut w.reverse) {
            (Which::Reverse, Some(r)) => &mut r.state,
            _ => &mut w.link,
        }
    }
}

pub struct SimLink {
    name: String,
    which: Which,
    world: Arc<SharedWorld>,
    retries: u32,
    backoff: Duration,
    timeout: Duration,
}

impl SimLink {
    /// The forward link, or the reverse one (`None` when the world has none).
    pub fn new(
        world: Arc<SharedWorld>,
        which: Which,
        retries: u32,
        backoff: Duration,
        timeout: Duration,
    ) -> Option<SimLink> {
        let name = {
            let w = world.lock();
            if which == Which::Reverse && w.reverse.is_none() {
                return None;
            }
            which.state(&w).link_name.clone()
        };
        Some(SimLink {
            name,
            which,
            world,
            retries,
            backoff,
            timeout,
        })
    }

    /// One REST request: injected faults first, then `serve` on the world.
    async fn request<T>(
        &self,
        what: &str,
        repeat: Repeat,
        mut serve: impl FnMut(&mut World) -> std::result::Result<T, Refusal>,
    ) -> Result<T> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.world.latency().await;
            let retries_left = attempt <= self.retries;
            let fault = self
                .which
                .state_mut(&mut self.world.lock())
                .take_rest_fault();
            let Some(fault) = fault else {
                let mut world = self.world.lock();
                return serve(&mut world).map_err(|r| {
                    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
                    answer_error(
                        &self.name,
                        what,
                        status,
                        format!("{} (error code {})", r.message, r.error_code),
                        attempt,
                    )
                });
            };
            match fault.kind {
                RestFaultKind::Status => {
                    let status = StatusCode::from_u16(fault.status.unwrap_or(503))
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    if retries_left && retryable_status(status, repeat) {
                        let delay = retry_delay(self.backoff, attempt, None);
                        self.world.note(format!(
                            "the link answered {what} with HTTP {}; the client retries in {delay:?}",
                            status.as_u16()
                        ));
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let code = i32::from(status.as_u16()) * 100 + 3;
                    return Err(answer_error(
                        &self.name,
                        what,
                        status,
                        format!(
                            "Injected failure (cutover-linksim fault knob) (error code {code})"
                        ),
                        attempt,
                    ));
                }
                RestFaultKind::Timeout => {
                    let hold = Duration::from_millis(fault.timeout_ms.unwrap_or(60_000));
                    tokio::time::sleep(hold.min(self.timeout)).await;
                    if hold < self.timeout {
                        // The emulator answers 504 when the hold ends before the client gives up.
                        let status = StatusCode::GATEWAY_TIMEOUT;
                        if retries_left && retryable_status(status, repeat) {
                            tokio::time::sleep(retry_delay(self.backoff, attempt, None)).await;
                            continue;
                        }
                        return Err(answer_error(
                            &self.name,
                            what,
                            status,
                            "Injected timeout (cutover-linksim fault knob) (error code 50400)"
                                .into(),
                            attempt,
                        ));
                    }
                    // The client's own timeout: retried only when sending twice is harmless.
                    if retries_left && repeat == Repeat::Idempotent {
                        tokio::time::sleep(retry_delay(self.backoff, attempt, None)).await;
                        continue;
                    }
                    let mut detail = format!("no answer within {:?}", self.timeout);
                    if attempt > 1 {
                        detail.push_str(&format!(" (after {attempt} attempts)"));
                    }
                    if repeat == Repeat::Once {
                        detail.push_str("; the action may or may not have been applied: describe the mirrors before trying again");
                    }
                    return Err(Error::LinkUnreachable {
                        link: self.name.clone(),
                        what: what.to_string(),
                        detail,
                    });
                }
            }
        }
    }
}

fn describe_mirrors(world: &World, which: Which) -> Vec<MirrorDescription> {
    which
        .state(world)
        .mirrors
        .values()
        .map(|m| MirrorDescription {
            mirror_topic: m.mirror_topic.clone(),
            source_topic: m.source_topic.clone(),
            partitions: m.partitions,
            state: MirrorState::parse(m.status.as_str()),
            lags: m
                .lags
                .iter()
                .map(|(p, l)| {
                    (
                        *p,
                        ReportedLag {
                            lag: l.lag(),
                            last_source_fetch_offset: l.origin_end,
                        },
                    )
                })
                .collect(),
            error: m.failure.as_ref().map(|f| f.code.to_string()),
        })
        .collect()
}

/// Lag of a forward mirror measured now from both logs, as promote does.
pub(super) fn current_lags(world: &World, mirror_topic: &str) -> BTreeMap<i32, PartitionLag> {
    lags_now(world, Which::Forward, mirror_topic)
}

fn lags_now(world: &World, which: Which, mirror_topic: &str) -> BTreeMap<i32, PartitionLag> {
    let Some(m) = which.state(world).mirrors.get(mirror_topic) else {
        return BTreeMap::new();
    };
    let shift = if which == Which::Forward {
        world.copy_shift
    } else {
        0
    };
    let source = which.source();
    let mirrors = match source {
        Role::Origin => Role::Destination,
        Role::Destination => Role::Origin,
    };
    (0..m.partitions)
        .map(|p| {
            let end = |role, topic: &str| {
                world
                    .cluster(role)
                    .log(&TopicPartition::new(topic, p))
                    .map_or(0, |l| l.end)
            };
            (
                p,
                PartitionLag {
                    origin_end: end(source, &m.source_topic),
                    mirror_end: end(mirrors, &m.mirror_topic) + shift,
                },
            )
        })
        .collect()
}

#[async_trait]
impl Link for SimLink {
    fn name(&self) -> &str {
        &self.name
    }

    fn reports_status(&self) -> bool {
        true
    }

    async fn describe(&self) -> Result<LinkDescription> {
        self.request("describing the link", Repeat::Idempotent, |w| {
            let link = self.which.state(w);
            Ok(LinkDescription {
                link_name: link.link_name.clone(),
                source_cluster_id: Some(link.source_cluster_id.clone()),
                mirror_topics: link.mirrors.keys().cloned().collect(),
                state: Some("ACTIVE".into()),
            })
        })
        .await
    }

    async fn mirrors(&self) -> Result<Vec<MirrorDescription>> {
        self.request("listing the mirror topics", Repeat::Idempotent, |w| {
            Ok(describe_mirrors(w, self.which))
        })
        .await
    }

    async fn configs(&self) -> Result<BTreeMap<String, String>> {
        self.request("reading the link configs", Repeat::Idempotent, |w| {
            Ok(CONFIGS
                .iter()
                .map(|c| (c.name.to_string(), self.which.state(w).config(c.name)))
                .collect())
        })
        .await
    }

    async fn alter_configs(&self, changes: &[(String, Option<String>)]) -> Result<()> {
        self.request("changing the link configs", Repeat::Idempotent, |w| {
            self.which.state_mut(w).apply(changes)
        })
        .await
    }

    async fn alter_mirrors(
        &self,
        action: MirrorAction,
        topics: &[String],
    ) -> Result<Vec<MirrorActionResult>> {
        let what = format!("{action:?} of mirror topics").to_lowercase();
        self.request(&what, Repeat::Once, |w| {
            let which = self.which;
            let link = which.state(w).link_name.clone();
            let mut results = Vec::with_capacity(topics.len());
            for topic in topics {
                let lags = (action == MirrorAction::Promote).then(|| lags_now(w, which, topic));
                let outcome = match which.state(w).mirrors.get(topic) {
                    None => Err(Refusal::not_a_mirror(topic, &link)),
                    Some(m) => next_status(m.status, action, topic, &link, lags.as_ref()),
                };
                let error = match outcome {
                    Ok(next) => {
                        let now = w.now.as_millis() as i64;
                        if let Some(m) = which.state_mut(w).mirrors.get_mut(topic) {
                            m.set_status(next);
                            m.state_time_ms = now;
                        }
                        None
                    }
                    Err(refusal) => Some(refusal.message),
                };
                results.push(MirrorActionResult {
                    mirror_topic: topic.clone(),
                    error,
                });
            }
            Ok(results)
        })
        .await
    }
}
