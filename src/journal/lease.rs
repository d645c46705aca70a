//! A lease kept in a replica's log: mutual exclusion across hosts for an edit that no
//! fencing can stop, such as a read-modify-write of the link's group filters over REST.
//!
//! Fencing (a transactional id taken by another agent) stops a zombie's *journal records*, not
//! its HTTP request: an agent fenced between its read and its write of the filters would still
//! write. So the filters' editors queue instead, in the log itself: each appends a `request`
//! line under the lease's key and reads the key back; the log's order is the queue's order,
//! the same for every agent. The oldest request neither released nor expired holds the lease;
//! the others wait for its `release` line.
//!
//! An agent that dies holding the lease never releases it, so a request expires: a waiter
//! counts `hold` from the moment *it first read* the request (never from a timestamp another
//! host wrote, so clocks need not agree). The holder counts `hold` from before it appended the
//! request and begins a write only while at least the write's bound is left, so its write has
//! finished before any waiter can think the lease expired.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::replica::off_thread;
use super::Replica;
use crate::error::{Error, Result};

/// How often a waiter reads the queue again.
const POLL: Duration = Duration::from_millis(100);

/// One line of a lease's key.
#[derive(Serialize, Deserialize)]
struct LeaseLine {
    /// `request` or `release`.
    lease: String,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold_ms: Option<u64>,
}

/// How long a lease is held at most, and how long a write under it may take.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// A request older than this (as its waiter saw it) is expired.
    pub hold: Duration,
    /// The longest a write under the lease may take; the holder begins none with less left.
    pub write: Duration,
    /// How long an agent waits in the queue before it gives up.
    pub wait: Duration,
}

impl Bounds {
    /// A lease for writes that take at most `write`: held twice that plus a margin, waited
    /// for as long as two holders could keep it.
    pub fn for_writes(write: Duration) -> Bounds {
        let hold = write * 2 + Duration::from_secs(10);
        Bounds {
            hold,
            write,
            wait: hold * 3,
        }
    }
}

/// A lease this agent holds; released when [`Lease::release`]d (or, if the agent dies, when
/// its request expires).
pub struct Lease {
    replica: Arc<dyn Replica>,
    key: String,
    id: String,
    until: Instant,
    write: Duration,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({} {})", self.key, self.id)
    }
}

/// A request id no other agent or request of this one uses.
fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos:x}-{}",
        crate::version::agent(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn line(l: &LeaseLine) -> Vec<u8> {
    serde_json::to_vec(l).unwrap_or_default()
}

/// The requests not released, in the log's order: (id, agent, hold).
fn open_requests(key: &str, lines: &[Vec<u8>]) -> Result<Vec<(String, String, Duration)>> {
    let mut requests = Vec::new();
    let mut released = BTreeSet::new();
    for (i, raw) in lines.iter().enumerate() {
        let l: LeaseLine = serde_json::from_slice(raw).map_err(|e| {
            Error::Journal(format!(
                "record {} under {key} is not a lease record: {e}",
                i + 1
            ))
        })?;
        match l.lease.as_str() {
            "request" => requests.push((
                l.id,
                l.agent.unwrap_or_default(),
                Duration::from_millis(l.hold_ms.unwrap_or_default()),
            )),
            _ => {
                released.insert(l.id);
            }
        }
    }
    requests.retain(|(id, _, _)| !released.contains(id));
    Ok(requests)
}

impl Lease {
    /// Queues for the lease on `key` and returns once this agent holds it; `progress` is told
    /// who holds it meanwhile.
    pub async fn acquire(
        replica: Arc<dyn Replica>,
        key: &str,
        bounds: Bounds,
        mut progress: impl FnMut(&str),
    ) -> Result<Lease> {
        let give_up = Instant::now() + bounds.wait;
        let mut first_seen: HashMap<String, Instant> = HashMap::new();
        'request: loop {
            let id = request_id();
            let start = Instant::now();
            let request = line(&LeaseLine {
                lease: "request".into(),
                id: id.clone(),
                agent: Some(crate::version::agent()),
                hold_ms: Some(bounds.hold.as_millis() as u64),
            });
            let k = key.to_string();
            off_thread(&replica, move |r| r.append(&k, &request)).await?;
            let lease = Lease {
                replica: replica.clone(),
                key: key.to_string(),
                id: id.clone(),
                until: start + bounds.hold,
                write: bounds.write,
            };
            loop {
                let now = Instant::now();
                let k = key.to_string();
                let lines = off_thread(&replica, move |r| r.read(&k)).await?;
                let open = open_requests(key, &lines)?;
                let mut holder = None;
                for (other, agent, hold) in &open {
                    if *other == id {
                        break;
                    }
                    let seen = *first_seen.entry(other.clone()).or_insert(now);
                    if now < seen + *hold {
                        holder = Some(agent.clone());
                        break;
                    }
                }
                let queued = open.iter().any(|(other, _, _)| *other == id);
                let expired = match holder {
                    None if queued && lease.may_write() => return Ok(lease),
                    // Queued so long that this request could expire mid-write.
                    None if queued => true,
                    Some(agent) => {
                        progress(&format!("{key}: waiting for agent {agent}"));
                        false
                    }
                    None => {
                        progress(&format!("{key}: waiting for this request to be read"));
                        false
                    }
                };
                if expired && Instant::now() < give_up {
                    lease.release().await;
                    continue 'request;
                }
                if Instant::now() >= give_up {
                    let held = holder_text(&open, &id);
                    lease.release().await;
                    return Err(Error::SharedJournal {
                        store: replica.describe(),
                        detail: format!(
                            "the lease {key} was not free within {} s{held}",
                            bounds.wait.as_secs()
                        ),
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// Whether a write begun now finishes while this agent still holds the lease.
    pub fn may_write(&self) -> bool {
        self.until.saturating_duration_since(Instant::now()) >= self.write
    }

    /// Gives the lease up (a failure to say so only makes the others wait for it to expire).
    pub async fn release(self) {
        let release = line(&LeaseLine {
            lease: "release".into(),
            id: self.id.clone(),
            agent: None,
            hold_ms: None,
        });
        let key = self.key.clone();
        let released = off_thread(&self.replica, move |r| r.append(&key, &release)).await;
        if let Err(e) = released {
            tracing::warn!(key = %self.key, error = %e, "could not release the lease; it expires");
        }
    }
}

fn holder_text(open: &[(String, String, Duration)], mine: &str) -> String {
    match open.iter().find(|(id, _, _)| id != mine) {
        Some((_, agent, _)) => format!(" (held by agent {agent})"),
        None => String::new(),
    }
}

/// A lease's queue in memory, as the journal topic keeps one key's lines (for tests).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemoryQueue(std::sync::Mutex<Vec<Vec<u8>>>);

#[cfg(test)]
impl Replica for MemoryQueue {
    fn read(&self, _key: &str) -> Result<Vec<Vec<u8>>> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn fence(&self, _key: &str) -> Result<()> {
        Err(Error::Internal("a lease takes nothing".into()))
    }
    fn commit(&self, _key: &str, _line: &[u8]) -> Result<()> {
        Err(Error::Internal("a lease commits nothing".into()))
    }
    fn append(&self, _key: &str, line: &[u8]) -> Result<()> {
        self.0.lock().unwrap().push(line.to_vec());
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(hold_ms: u64, write_ms: u64) -> Bounds {
        Bounds {
            hold: Duration::from_millis(hold_ms),
            write: Duration::from_millis(write_ms),
            wait: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_dead_holders_request_expires_after_its_hold_as_the_waiter_counts_it() {
        let queue: Arc<dyn Replica> = Arc::new(MemoryQueue::default());
        // An agent that queued and died: its request is never released.
        let dead = Lease::acquire(queue.clone(), "k", bounds(400, 100), |_| {})
            .await
            .expect("free at first");
        std::mem::forget(dead);
        let began = Instant::now();
        let mut waited_for = Vec::new();
        let lease = Lease::acquire(queue.clone(), "k", bounds(400, 100), |who| {
            waited_for.push(who.to_string())
        })
        .await
        .expect("taken once the dead request expired");
        assert!(
            began.elapsed() >= Duration::from_millis(400),
            "{:?}",
            began.elapsed()
        );
        assert!(waited_for.iter().any(|w| w.contains("waiting for agent")));
        assert!(lease.may_write());
        lease.release().await;
    }

    #[tokio::test]
    async fn a_released_lease_goes_to_the_next_in_the_queue_at_once() {
        let queue: Arc<dyn Replica> = Arc::new(MemoryQueue::default());
        let first = Lease::acquire(queue.clone(), "k", bounds(60_000, 100), |_| {})
            .await
            .unwrap();
        let second = tokio::spawn({
            let queue = queue.clone();
            async move { Lease::acquire(queue, "k", bounds(60_000, 100), |_| {}).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "two agents held the lease");
        let released = Instant::now();
        first.release().await;
        let second = second.await.unwrap().unwrap();
        assert!(released.elapsed() < Duration::from_secs(1));
        second.release().await;
    }

    #[tokio::test]
    async fn a_holder_with_too_little_left_for_a_write_queues_again() {
        let queue: Arc<dyn Replica> = Arc::new(MemoryQueue::default());
        // A write bound above the hold: no request can ever be used.
        let short = Bounds {
            wait: Duration::from_millis(500),
            ..bounds(100, 200)
        };
        let err = Lease::acquire(queue.clone(), "k", short, |_| {})
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not free within"), "{err}");
        let open = open_requests("k", &queue.read("k").unwrap()).unwrap();
        assert!(open.is_empty(), "every request was released: {open:?}");
    }
}
