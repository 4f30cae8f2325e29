//! Waiters for task completion (`Prefer: wait`, `/result?wait=`). The replica that records a
//! result hands waiters its output directly; a notification from another replica asks them to
//! re-read it. A waiter that goes away (its client hung up) removes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::tasks::TaskOutput;

/// What a waiter is told when its task ends.
#[derive(Debug, Clone)]
pub enum Ended {
    /// The output, as just committed by this replica.
    Output(Arc<TaskOutput>),
    /// The task ended elsewhere (or may have): read it from the database.
    Reread,
}

type Waiters = HashMap<Uuid, Vec<(u64, oneshot::Sender<Ended>)>>;

/// Task id → callers waiting for it to finish.
#[derive(Debug, Default)]
pub struct Completions {
    waiters: Mutex<Waiters>,
    next: AtomicU64,
}

/// One waiter; dropping it (answered, timed out, or the request was dropped) unregisters it.
#[derive(Debug)]
pub struct Subscription<'a> {
    completions: &'a Completions,
    task: Uuid,
    id: u64,
    pub receiver: oneshot::Receiver<Ended>,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiters) = self.completions.waiters.lock() {
            if let Some(list) = waiters.get_mut(&self.task) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    waiters.remove(&self.task);
                }
            }
        }
    }
}

impl Completions {
    /// A waiter for `task`. Subscribe before reading the task, so an end between the read and
    /// the wait is not missed.
    pub fn subscribe(&self, task: Uuid) -> Subscription<'_> {
        let (sender, receiver) = oneshot::channel();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.entry(task).or_default().push((id, sender));
        }
        Subscription {
            completions: self,
            task,
            id,
            receiver,
        }
    }

    /// Whether anyone waits for `task` (so the output is worth keeping in memory).
    pub fn is_awaited(&self, task: Uuid) -> bool {
        self.waiters
            .lock()
            .map(|waiters| waiters.contains_key(&task))
            .unwrap_or(false)
    }

    /// Wakes everyone waiting for `task`.
    pub fn complete(&self, task: Uuid, ended: Ended) {
        let senders = self
            .waiters
            .lock()
            .ok()
            .and_then(|mut waiters| waiters.remove(&task));
        for (_, sender) in senders.into_iter().flatten() {
            let _ = sender.send(ended.clone());
        }
    }

    /// Tasks with waiters (a gauge, and the leak test).
    pub fn len(&self) -> usize {
        self.waiters
            .lock()
            .map(|waiters| waiters.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let mut first = completions.subscribe(task);
        let mut second = completions.subscribe(task);
        let mut unrelated = completions.subscribe(other);
        completions.complete(task, Ended::Reread);
        assert!(matches!((&mut first.receiver).await, Ok(Ended::Reread)));
        assert!(matches!((&mut second.receiver).await, Ok(Ended::Reread)));
        assert!(unrelated.receiver.try_recv().is_err());
    }

    #[test]
    fn a_waiter_that_goes_away_leaves_nothing_behind() {
        let completions = Completions::default();
        for _ in 0..1000 {
            let _waiter = completions.subscribe(canopy_shared::new_id());
        }
        let task = canopy_shared::new_id();
        let kept = completions.subscribe(task);
        let dropped = completions.subscribe(task);
        drop(dropped);
        assert_eq!(completions.len(), 1);
        drop(kept);
        assert!(completions.is_empty());
    }
}
