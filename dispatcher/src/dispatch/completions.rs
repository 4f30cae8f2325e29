//! Waiters for task completion (`Prefer: wait`, `/result?wait=`). The replica whose worker
//! reports a result hands waiters its output directly, as soon as it arrives (before it is
//! written; until the write is done, reads of that task on this replica wait for it, so a
//! caller never reads an older state than it was told); a notification from another replica asks them to re-read it. A waiter
//! that goes away (its client hung up) removes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use uuid::Uuid;

use crate::db::tasks::TaskOutput;

/// What a waiter is told when its task ends.
#[derive(Debug, Clone)]
pub enum Ended {
    /// The output, as this replica's worker reported it.
    Output(Arc<TaskOutput>),
    /// The task ended elsewhere (or may have): read it from the database.
    Reread,
}

/// Longest a read waits for an early-delivered output's write.
const UNWRITTEN_WAIT: Duration = Duration::from_secs(2);

type Waiters = HashMap<Uuid, Vec<(u64, oneshot::Sender<Ended>)>>;

/// Task id → callers waiting for it to finish.
#[derive(Debug, Default)]
pub struct Completions {
    waiters: Mutex<Waiters>,
    /// Tasks whose output was handed to waiters and is not written yet.
    unwritten: Mutex<HashMap<Uuid, Arc<Notify>>>,
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

    /// Hands `output` to the waiters of `task` before it is written; reads of the task on this
    /// replica wait (`written`) until `settle` says the write is done.
    pub fn complete_early(&self, task: Uuid, output: TaskOutput) {
        if let Ok(mut unwritten) = self.unwritten.lock() {
            unwritten.entry(task).or_default();
        }
        self.complete(task, Ended::Output(Arc::new(output)));
    }

    /// Returns once an output of `task` handed out early is written (at once when there is
    /// none; after `UNWRITTEN_WAIT` at most, should the writer be stuck).
    pub async fn written(&self, task: Uuid) {
        let Some(notify) = self
            .unwritten
            .lock()
            .ok()
            .and_then(|unwritten| unwritten.get(&task).cloned())
        else {
            return;
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let still_unwritten = self
            .unwritten
            .lock()
            .map(|unwritten| unwritten.contains_key(&task))
            .unwrap_or(false);
        if still_unwritten {
            let _ = tokio::time::timeout(UNWRITTEN_WAIT, notified).await;
        }
    }

    /// The writes of `tasks` are done (or refused): the database speaks for them again.
    pub fn settle(&self, tasks: impl IntoIterator<Item = Uuid>) {
        let Ok(mut unwritten) = self.unwritten.lock() else {
            return;
        };
        if unwritten.is_empty() {
            return;
        }
        for task in tasks {
            if let Some(notify) = unwritten.remove(&task) {
                notify.notify_waiters();
            }
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

    #[tokio::test]
    async fn an_early_output_reaches_waiters_and_reads_wait_for_its_write() {
        let completions = Arc::new(Completions::default());
        let task = canopy_shared::new_id();
        let mut waiter = completions.subscribe(task);
        let output = TaskOutput {
            status: crate::tasks::TaskStatus::Succeeded,
            response_status: Some(200),
            response_content_type: None,
            response_body: Some(b"hi".to_vec()),
            error_kind: None,
            error_message: None,
            run: None,
        };
        completions.complete_early(task, output);
        match (&mut waiter.receiver).await {
            Ok(Ended::Output(output)) => {
                assert_eq!(output.response_body.as_deref(), Some(&b"hi"[..]))
            }
            other => panic!("expected the output, got {other:?}"),
        }
        let reader = {
            let completions = Arc::clone(&completions);
            tokio::spawn(async move { completions.written(task).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!reader.is_finished(), "a read must wait for the write");
        completions.settle([task]);
        tokio::time::timeout(Duration::from_millis(500), reader)
            .await
            .expect("the read goes on once written")
            .expect("no panic");
        // Nothing unwritten: no wait at all.
        tokio::time::timeout(Duration::from_millis(50), completions.written(task))
            .await
            .expect("no wait");
    }
}
