//! The create→assign phase: clients post tasks without `Prefer: wait`; the fake worker reports
//! when each task's `assign` frame arrives. The 201's id and the frame's `taskId` are matched in
//! either order (an assignment may arrive before the HTTP response).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::http_load::{self, Target, TASK_BODY};
use crate::load::{self, Failure, Round, Sample, Window};

/// How long a client waits for the assignment of its task before counting a failure.
const ASSIGN_TIMEOUT: Duration = Duration::from_secs(10);

enum Slot {
    /// The 201 came first: its client waits here.
    Waiting(oneshot::Sender<Instant>),
    /// The assignment came first.
    Arrived(Instant),
}

/// Task id → whichever of the two events came first.
#[derive(Default)]
pub struct Tracker {
    slots: Mutex<HashMap<String, Slot>>,
}

/// What the client gets from [`Tracker::claim`].
pub enum Claim {
    Arrived(Instant),
    Pending(oneshot::Receiver<Instant>),
}

impl Tracker {
    /// The fake worker read the assignment of `task_id` at `at`.
    pub fn on_assign(&self, task_id: &str, at: Instant) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        match slots.remove(task_id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(at);
            }
            // A repeated assignment keeps the first arrival.
            Some(Slot::Arrived(first)) => {
                slots.insert(task_id.to_owned(), Slot::Arrived(first));
            }
            None => {
                slots.insert(task_id.to_owned(), Slot::Arrived(at));
            }
        }
    }

    /// The client has the id of its task: the arrival time, or a receiver for it.
    pub fn claim(&self, task_id: &str) -> Claim {
        let (tx, rx) = oneshot::channel();
        let Ok(mut slots) = self.slots.lock() else {
            return Claim::Pending(rx);
        };
        match slots.remove(task_id) {
            Some(Slot::Arrived(at)) => Claim::Arrived(at),
            _ => {
                slots.insert(task_id.to_owned(), Slot::Waiting(tx));
                Claim::Pending(rx)
            }
        }
    }

    fn forget(&self, task_id: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(task_id);
        }
    }

    /// Removes the assignments nobody claimed (tasks of earlier phases) and counts them.
    pub fn take_unmatched(&self) -> u64 {
        let Ok(mut slots) = self.slots.lock() else {
            return 0;
        };
        let before = slots.len();
        slots.retain(|_, slot| matches!(slot, Slot::Waiting(_)));
        (before - slots.len()) as u64
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// One round: `clients` closed loops of POST → 201 → the task's `assign` frame.
pub async fn create_assign_round(
    target: &Target,
    tracker: Arc<Tracker>,
    clients: usize,
    warmup: Duration,
    seconds: Duration,
) -> anyhow::Result<Round> {
    let client = http_load::client(target, clients)?;
    let url: Arc<str> = target.task_url().into();
    let window = Window::after(warmup, seconds);
    let op = move || {
        let (client, url, tracker) = (client.clone(), url.clone(), tracker.clone());
        async move { create_and_await_assign(&client, &url, &tracker).await }
    };
    Ok(load::run(clients, window, op).await)
}

async fn create_and_await_assign(
    client: &reqwest::Client,
    url: &str,
    tracker: &Tracker,
) -> Result<Sample, Failure> {
    let started = Instant::now();
    let response = client
        .post(url)
        .body(TASK_BODY)
        .send()
        .await
        .map_err(|error| http_load::transport_failure(&error))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| http_load::transport_failure(&error))?;
    let created_at = Instant::now();
    if status != StatusCode::CREATED {
        return Err(format!("http_{}", status.as_u16()));
    }
    let id = serde_json::from_slice::<Created>(&body)
        .map_err(|_| "unreadable_201_body".to_owned())?
        .id;
    let assigned_at = match tracker.claim(&id) {
        Claim::Arrived(at) => at,
        Claim::Pending(rx) => match tokio::time::timeout(ASSIGN_TIMEOUT, rx).await {
            Ok(Ok(at)) => at,
            _ => {
                tracker.forget(&id);
                return Err("assign_timeout".into());
            }
        },
    };
    Ok(Sample {
        started,
        finished: assigned_at,
        secondary: Some(created_at - started),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assignment_before_the_response_is_found_by_the_claim() {
        let tracker = Tracker::default();
        let at = Instant::now();
        tracker.on_assign("t1", at);
        assert!(matches!(tracker.claim("t1"), Claim::Arrived(found) if found == at));
        assert_eq!(tracker.take_unmatched(), 0);
    }

    #[test]
    fn a_claim_before_the_assignment_is_woken_by_it() {
        let tracker = Tracker::default();
        let Claim::Pending(mut rx) = tracker.claim("t2") else {
            panic!("nothing arrived yet");
        };
        let at = Instant::now();
        tracker.on_assign("t2", at);
        assert_eq!(rx.try_recv().ok(), Some(at));
    }

    #[test]
    fn unclaimed_assignments_are_counted_once() {
        let tracker = Tracker::default();
        tracker.on_assign("old1", Instant::now());
        tracker.on_assign("old2", Instant::now());
        let _waiting = tracker.claim("mine");
        assert_eq!(tracker.take_unmatched(), 2);
        assert_eq!(tracker.take_unmatched(), 0);
    }
}
