//! Waiters for task completion (`Prefer: wait`, `/result?wait=`), woken when a result lands.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;
use uuid::Uuid;

/// Task id → callers waiting for it to finish.
#[derive(Debug, Default)]
pub struct Completions {
    waiters: Mutex<HashMap<Uuid, Vec<oneshot::Sender<()>>>>,
}

impl Completions {
    /// A receiver that resolves when `task` finishes. Subscribe before re-reading the task, so a
    /// completion between the read and the wait is not missed.
    pub fn subscribe(&self, task: Uuid) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.entry(task).or_default().push(sender);
        }
        receiver
    }

    /// Wakes everyone waiting for `task`.
    pub fn complete(&self, task: Uuid) {
        let senders = self
            .waiters
            .lock()
            .ok()
            .and_then(|mut waiters| waiters.remove(&task));
        for sender in senders.into_iter().flatten() {
            let _ = sender.send(());
        }
    }

    /// Drops waiters that gave up (their receiver is gone).
    pub fn forget_abandoned(&self, task: Uuid) {
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(&task) {
                list.retain(|sender| !sender.is_closed());
                if list.is_empty() {
                    waiters.remove(&task);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_of_a_task_is_woken_and_others_are_not() {
        let completions = Completions::default();
        let task = canopy_shared::new_id();
        let other = canopy_shared::new_id();
        let first = completions.subscribe(task);
        let second = completions.subscribe(task);
        let mut unrelated = completions.subscribe(other);
        completions.complete(task);
        assert!(first.await.is_ok());
        assert!(second.await.is_ok());
        assert!(unrelated.try_recv().is_err());
    }
}
