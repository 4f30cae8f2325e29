//! Workers connected to this replica, and the index of those with credits (where new tasks can
//! go at once).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::session::SessionHandle;

/// Node id → its connection on this replica, and the connections that hold credits.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: RwLock<HashMap<Uuid, Arc<SessionHandle>>>,
    ready: RwLock<HashMap<Uuid, Arc<SessionHandle>>>,
}

impl Registry {
    /// Registers a connection; an older connection of the same node is closed.
    pub fn insert(&self, handle: Arc<SessionHandle>) {
        let previous = self
            .sessions
            .write()
            .ok()
            .and_then(|mut sessions| sessions.insert(handle.node_id, handle));
        if let Some(previous) = previous {
            self.unready(&previous);
            previous.close.cancel();
        }
    }

    /// Removes the connection if it is still the registered one.
    pub fn remove(&self, node_id: Uuid, session_id: Uuid) {
        if let Ok(mut sessions) = self.sessions.write() {
            if sessions
                .get(&node_id)
                .is_some_and(|handle| handle.session_id == session_id)
            {
                if let Some(handle) = sessions.remove(&node_id) {
                    self.unready(&handle);
                }
            }
        }
    }

    pub fn get(&self, node_id: Uuid) -> Option<Arc<SessionHandle>> {
        self.sessions
            .read()
            .ok()
            .and_then(|sessions| sessions.get(&node_id).cloned())
    }

    pub fn len(&self) -> usize {
        self.sessions
            .read()
            .map(|sessions| sessions.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every connection (heartbeat bookkeeping).
    pub fn snapshot(&self) -> Vec<Arc<SessionHandle>> {
        self.sessions
            .read()
            .map(|sessions| sessions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Connections that had credits when last seen: where new tasks can go.
    pub fn ready(&self) -> Vec<Arc<SessionHandle>> {
        self.ready
            .read()
            .map(|ready| ready.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A `pull`: adds credits; returns whether they grew (a pull at the cap changes nothing).
    pub fn add_credits(&self, handle: &Arc<SessionHandle>, credits: u32) -> bool {
        let (held, grew) = handle.add_credits(credits);
        if held > 0 {
            self.mark_ready(handle);
        }
        grew
    }

    /// Undoes a reservation at submit whose task was never written (the commit failed, or the
    /// function changed): the credit comes back, and with it the connection's place among the
    /// ready ones (the reservation may have taken its last credit).
    pub fn unreserve(&self, handle: &Arc<SessionHandle>, task: Uuid) {
        if handle.unreserve(task) && handle.credits() > 0 {
            self.mark_ready(handle);
        }
    }

    /// Returns credits a claim took and did not use.
    pub fn give_back(&self, handle: &Arc<SessionHandle>, credits: u32) {
        if credits == 0 {
            return;
        }
        handle.return_credits(credits);
        self.mark_ready(handle);
    }

    /// Drops a connection from the ready index once it has no credits left.
    pub fn settle(&self, handle: &SessionHandle) {
        // Read the credits under the index's lock: a `pull` updates them before it takes the
        // lock, so it can never be undone by a settle that read stale credits.
        if let Ok(mut ready) = self.ready.write() {
            if handle.credits() == 0
                && ready
                    .get(&handle.node_id)
                    .is_some_and(|held| held.session_id == handle.session_id)
            {
                ready.remove(&handle.node_id);
            }
        }
    }

    /// Puts a connection among those with credits (unless it is closing).
    fn mark_ready(&self, handle: &Arc<SessionHandle>) {
        if handle.close.is_cancelled() {
            return;
        }
        if let Ok(mut ready) = self.ready.write() {
            ready
                .entry(handle.node_id)
                .or_insert_with(|| Arc::clone(handle));
        }
    }

    fn unready(&self, handle: &SessionHandle) {
        if let Ok(mut ready) = self.ready.write() {
            if ready
                .get(&handle.node_id)
                .is_some_and(|held| held.session_id == handle.session_id)
            {
                ready.remove(&handle.node_id);
            }
        }
    }

    /// Closes a node's socket (node deleted).
    pub fn disconnect(&self, node_id: Uuid) -> bool {
        match self.get(node_id) {
            Some(handle) => {
                handle.close.cancel();
                true
            }
            None => false,
        }
    }
}
