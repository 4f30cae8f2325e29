//! Prewarm requests sent to workers on this replica, waiting for their `prewarmed` answers.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct Prewarms {
    waiting: Mutex<HashMap<Uuid, (Uuid, oneshot::Sender<u32>)>>,
}

impl Prewarms {
    /// Registers a request sent to `node`; the receiver gets its answer.
    pub fn expect(&self, request: Uuid, node: Uuid) -> oneshot::Receiver<u32> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(request, (node, sender));
        }
        receiver
    }

    /// Delivers `node`'s answer; false when no such request was sent to that node (late,
    /// forged or repeated answers are ignored).
    pub fn answer(&self, request: Uuid, node: Uuid, started: u32) -> bool {
        let Ok(mut waiting) = self.waiting.lock() else {
            return false;
        };
        match waiting.get(&request) {
            Some((asked, _)) if *asked == node => {}
            _ => return false,
        }
        waiting
            .remove(&request)
            .is_some_and(|(_, sender)| sender.send(started).is_ok())
    }

    /// Drops a request nobody answered in time.
    pub fn forget(&self, request: Uuid) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&request);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_asked_node_answers_and_only_once() {
        let prewarms = Prewarms::default();
        let (request, node, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let receiver = prewarms.expect(request, node);
        assert!(
            !prewarms.answer(request, other, 9),
            "another node cannot answer"
        );
        assert!(prewarms.answer(request, node, 2));
        assert!(
            !prewarms.answer(request, node, 3),
            "a second answer is ignored"
        );
        assert_eq!(receiver.await.ok(), Some(2));
        prewarms.forget(Uuid::new_v4());
    }
}
