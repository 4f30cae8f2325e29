//! Workers connected to this replica: their outbound channel, credits and what they run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use canopy_shared::matching::NodeOffer;
use canopy_shared::protocol::{DispatcherMessage, Resources};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Live state of one connection.
#[derive(Debug)]
struct SessionState {
    resources: Resources,
    credits: u32,
    latency_ms: Option<u32>,
    /// Task id → memory reserved for it, MB.
    running: HashMap<Uuid, u32>,
    /// What the worker said it runs in its last heartbeat; those leases are renewed.
    reported_running: Vec<Uuid>,
}

/// One connected worker.
#[derive(Debug)]
pub struct SessionHandle {
    pub node_id: Uuid,
    pub session_id: Uuid,
    outbound: mpsc::UnboundedSender<DispatcherMessage>,
    /// Cancelled to close the socket (node deleted, replaced by a newer connection).
    pub close: CancellationToken,
    state: Mutex<SessionState>,
}

/// Memory reserved for a task that asks for none (the worker's default container size).
pub const DEFAULT_TASK_MEMORY_MB: u32 = 256;

impl SessionHandle {
    pub fn new(
        node_id: Uuid,
        session_id: Uuid,
        resources: Resources,
        outbound: mpsc::UnboundedSender<DispatcherMessage>,
    ) -> Self {
        SessionHandle {
            node_id,
            session_id,
            outbound,
            close: CancellationToken::new(),
            state: Mutex::new(SessionState {
                resources,
                credits: 0,
                latency_ms: None,
                running: HashMap::new(),
                reported_running: Vec::new(),
            }),
        }
    }

    /// Queues a message for the socket; false when the connection is gone.
    pub fn send(&self, message: DispatcherMessage) -> bool {
        self.outbound.send(message).is_ok()
    }

    /// Adds credits from a `pull`, never beyond the node's concurrency minus what it runs.
    pub fn add_credits(&self, credits: u32) {
        if let Ok(mut state) = self.state.lock() {
            let room = state
                .resources
                .max_concurrency
                .saturating_sub(state.running.len() as u32);
            state.credits = state.credits.saturating_add(credits).min(room);
        }
    }

    pub fn credits(&self) -> u32 {
        self.state.lock().map(|state| state.credits).unwrap_or(0)
    }

    pub fn set_latency(&self, latency_ms: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.latency_ms = Some(latency_ms);
        }
    }

    pub fn latency_ms(&self) -> Option<u32> {
        self.state.lock().ok().and_then(|state| state.latency_ms)
    }

    /// What the node can take now, for the matching predicate.
    pub fn offer(&self) -> Option<NodeOffer> {
        let state = self.state.lock().ok()?;
        let reserved: u32 = state.running.values().sum();
        Some(NodeOffer {
            resources: state.resources.clone(),
            free_memory_mb: state.resources.memory_mb.saturating_sub(reserved),
            latency_ms: state.latency_ms,
            free_slots: state.credits,
        })
    }

    /// Books an assignment: one credit used, memory reserved.
    pub fn record_assignment(&self, task: Uuid, memory_mb: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.credits = state.credits.saturating_sub(1);
            state.running.insert(task, memory_mb);
        }
    }

    /// Records the tasks a heartbeat says are running.
    pub fn set_reported_running(&self, tasks: Vec<Uuid>) {
        if let Ok(mut state) = self.state.lock() {
            state.reported_running = tasks;
        }
    }

    /// Tasks whose leases this worker's heartbeats renew.
    pub fn reported_running(&self) -> Vec<Uuid> {
        self.state
            .lock()
            .map(|state| state.reported_running.clone())
            .unwrap_or_default()
    }

    /// Frees what a task held (result, cancel, retry).
    pub fn release(&self, task: Uuid) {
        if let Ok(mut state) = self.state.lock() {
            state.running.remove(&task);
        }
    }
}

/// Node id → its connection on this replica.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: RwLock<HashMap<Uuid, Arc<SessionHandle>>>,
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
                sessions.remove(&node_id);
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

    /// Every connection, for a scheduling pass.
    pub fn snapshot(&self) -> Vec<Arc<SessionHandle>> {
        self.sessions
            .read()
            .map(|sessions| sessions.values().cloned().collect())
            .unwrap_or_default()
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
