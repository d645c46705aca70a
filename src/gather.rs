//! Requests of tasks running together gathered into batches: the first to ask leads its
//! batch, waits (a pause for others to join, or the end of the batch before it), then takes
//! every request asked meanwhile and serves them all at once. Used by a stage's shared looks
//! (`cutover/looks.rs`) and its shared filter edits (`link/filter_edit.rs`).
//!
//! A request carries its own reply channel; dropping a request unanswered is how its asker
//! learns that its batch is gone.

use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// Requests asked for since the last batch was taken.
#[derive(Debug)]
pub(crate) struct Gathering<T> {
    asked: Mutex<Vec<T>>,
}

impl<T> Default for Gathering<T> {
    fn default() -> Self {
        Gathering {
            asked: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Gathering<T> {
    /// Adds `request` to the next batch; true when it is the batch's first, whose asker then
    /// leads the batch with [`Gathering::take_after`].
    pub(crate) fn ask(&self, request: T) -> bool {
        let mut asked = self.asked();
        asked.push(request);
        asked.len() == 1
    }

    /// The leader's part: waits for `wait`, then takes the batch, and gives back both. If the
    /// leader is dropped during the wait (interrupted), the batch is emptied: its requests
    /// are dropped unanswered, and the next request leads a batch of its own instead of
    /// joining one that nobody leads.
    pub(crate) async fn take_after<W: Future>(&self, wait: W) -> (Vec<T>, W::Output) {
        let guard = EmptyOnDrop(self);
        let waited = wait.await;
        std::mem::forget(guard);
        (std::mem::take(&mut *self.asked()), waited)
    }

    /// The requests, even after a panic elsewhere held the lock: the list is only ever pushed
    /// to, taken or cleared, so it is whole.
    fn asked(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.asked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Empties the requests when dropped before the leader took them.
struct EmptyOnDrop<'a, T>(&'a Gathering<T>);

impl<T> Drop for EmptyOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.asked().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_asker_leads_and_takes_every_request_asked_during_its_wait() {
        let g: Gathering<u32> = Gathering::default();
        assert!(g.ask(1));
        assert!(!g.ask(2), "a second request joins the first's batch");
        let (batch, waited) = g
            .take_after(async {
                assert!(!g.ask(3), "asked during the wait: same batch");
                "waited"
            })
            .await;
        assert_eq!(batch, vec![1, 2, 3]);
        assert_eq!(waited, "waited");
        assert!(
            g.ask(4),
            "after the take, the next request leads a new batch"
        );
    }

    #[tokio::test]
    async fn a_leader_dropped_during_its_wait_empties_its_batch() {
        let g: Gathering<tokio::sync::oneshot::Sender<()>> = Gathering::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        assert!(g.ask(tx));
        let (tx2, rx2) = tokio::sync::oneshot::channel();
        assert!(!g.ask(tx2));
        {
            let wait = g.take_after(std::future::pending::<()>());
            // Polled once, then dropped: the leader was interrupted mid-wait.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(10), wait).await;
        }
        assert!(rx.await.is_err(), "the leader's own request was dropped");
        assert!(rx2.await.is_err(), "a joiner learns its batch is gone");
        let (tx3, _rx3) = tokio::sync::oneshot::channel();
        assert!(g.ask(tx3), "the next request leads a batch of its own");
    }
}
