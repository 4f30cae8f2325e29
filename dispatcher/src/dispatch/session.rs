//! One worker connected to this replica: its outbound channel, trust, credits, warm functions
//! and the attempts it holds.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use canopy_shared::carbon::{Forecast, IntensityPoint};
use canopy_shared::matching::{check, NodeOffer, NodeTrust, Requirements};
use canopy_shared::protocol::{DispatcherMessage, Energy, Resources};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::carbon::{unix_now, NodeEnergy};

/// Live state of one connection.
#[derive(Debug)]
struct SessionState {
    /// Whose tasks the node may run; nobody's until the connection is recorded.
    trust: NodeTrust,
    resources: Resources,
    credits: u32,
    latency_ms: Option<u32>,
    /// Task id → what the node holds for it.
    running: HashMap<Uuid, Held>,
    /// Tasks held whose results are votes (k-of-n verification): never delivered early.
    voting: HashSet<Uuid>,
    /// What the worker said it runs in its last heartbeat; those leases are renewed.
    reported_running: Vec<Uuid>,
    /// Function versions the worker holds warm (`functionId@buildId`), from `hello` and heartbeats.
    warm: Vec<String>,
    /// Its grid carbon intensity, now and ahead.
    energy: NodeEnergy,
}

/// A task the node holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Memory reserved for it, MB.
    memory_mb: u32,
    /// When it was given to the node.
    since: Instant,
}

/// Why the dispatcher closes a connection from outside its session loop.
#[derive(Debug, Clone)]
pub struct CloseReason {
    pub code: &'static str,
    pub message: String,
}

/// Messages on their way to one socket. Boxed because the channel allocates its first block of
/// 32 slots with the session: 32 pointers instead of 32 inline messages on every idle session.
pub type Outbound = mpsc::UnboundedSender<Box<DispatcherMessage>>;

/// One connected worker.
#[derive(Debug)]
pub struct SessionHandle {
    pub node_id: Uuid,
    pub session_id: Uuid,
    outbound: Outbound,
    /// Cancelled to close the socket (node deleted, replaced, or a protocol violation found
    /// after the fact).
    pub close: CancellationToken,
    refusal: Mutex<Option<CloseReason>>,
    state: Mutex<SessionState>,
}

/// Memory reserved for a task that asks for none (the worker's default container size).
pub const DEFAULT_TASK_MEMORY_MB: u32 = 256;

/// Memory a task reserves on its node, MB.
pub fn reserved_memory(mem_size: u32) -> u32 {
    if mem_size == 0 {
        DEFAULT_TASK_MEMORY_MB
    } else {
        mem_size
    }
}

impl SessionHandle {
    pub fn new(
        node_id: Uuid,
        session_id: Uuid,
        mut resources: Resources,
        outbound: Outbound,
    ) -> Self {
        let energy = NodeEnergy::from_report(resources.energy.take());
        SessionHandle {
            node_id,
            session_id,
            outbound,
            close: CancellationToken::new(),
            refusal: Mutex::new(None),
            state: Mutex::new(SessionState {
                trust: NodeTrust::default(),
                resources,
                credits: 0,
                latency_ms: None,
                running: HashMap::new(),
                voting: HashSet::new(),
                reported_running: Vec::new(),
                warm: Vec::new(),
                energy,
            }),
        }
    }

    /// Queues a message for the socket; false when the connection is gone.
    pub fn send(&self, message: DispatcherMessage) -> bool {
        self.outbound.send(Box::new(message)).is_ok()
    }

    /// Closes the connection with a protocol error (found by a batch writer, after the fact).
    pub fn refuse(&self, code: &'static str, message: String) {
        if let Ok(mut refusal) = self.refusal.lock() {
            refusal.get_or_insert(CloseReason { code, message });
        }
        self.close.cancel();
    }

    /// The protocol error that closed the connection, if one did.
    pub fn refusal(&self) -> Option<CloseReason> {
        self.refusal.lock().ok().and_then(|refusal| refusal.clone())
    }

    pub fn credits(&self) -> u32 {
        self.state.lock().map(|state| state.credits).unwrap_or(0)
    }

    pub fn set_latency(&self, latency_ms: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.latency_ms = Some(latency_ms);
        }
    }

    /// Sets whose tasks the node may run (at connection, and when its owner or a pool changes it).
    pub fn set_trust(&self, trust: NodeTrust) {
        if let Ok(mut state) = self.state.lock() {
            state.trust = trust;
        }
    }

    pub fn latency_ms(&self) -> Option<u32> {
        self.state.lock().ok().and_then(|state| state.latency_ms)
    }

    /// What the node can take now, for the matching predicate.
    pub fn offer(&self) -> Option<NodeOffer> {
        let state = self.state.lock().ok()?;
        Some(offer_of(&state))
    }

    /// Books a task if the node fits it now: one credit used, memory reserved.
    pub fn try_reserve(&self, task: Uuid, requirements: &Requirements) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.credits == 0 || check(requirements, &offer_of(&state)).is_err() {
            return false;
        }
        state.credits -= 1;
        let memory = reserved_memory(requirements.capabilities.mem_size);
        state.running.insert(
            task,
            Held {
                memory_mb: memory,
                since: Instant::now(),
            },
        );
        true
    }

    /// Takes up to `max` credits for a claim in the database, so no assignment at submit can
    /// spend them meanwhile; what the claim does not use goes back with `give_back`.
    pub fn take_credits(&self, max: u32) -> u32 {
        let Ok(mut state) = self.state.lock() else {
            return 0;
        };
        let taken = state.credits.min(max);
        state.credits -= taken;
        taken
    }

    /// Books a task the scheduler claimed with credits it took (it already checked the fit).
    pub fn record_claimed(&self, task: Uuid, memory_mb: u32, voting: bool) {
        if let Ok(mut state) = self.state.lock() {
            state.running.insert(
                task,
                Held {
                    memory_mb,
                    since: Instant::now(),
                },
            );
            if voting {
                state.voting.insert(task);
            }
        }
    }

    /// When the node was given `task`, if this connection holds it and its result may reach
    /// waiters before it is written (not a vote, which counts only once tallied).
    pub fn early_since(&self, task: Uuid) -> Option<Instant> {
        self.state
            .lock()
            .ok()
            .filter(|state| !state.voting.contains(&task))
            .and_then(|state| state.running.get(&task).map(|held| held.since))
    }

    /// Undoes a reservation whose task was never written: the credit comes back (use
    /// `Registry::unreserve`, which also puts the connection back among the ready ones).
    pub(super) fn unreserve(&self, task: Uuid) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let held = state.running.remove(&task).is_some();
        if held {
            state.credits = state.credits.saturating_add(1);
        }
        held
    }

    /// Whether this connection holds `task` (it was assigned here and has not ended).
    pub fn holds(&self, task: Uuid) -> bool {
        self.state
            .lock()
            .map(|state| state.running.contains_key(&task))
            .unwrap_or(false)
    }

    /// Returns credits a claim took and did not use.
    pub(super) fn return_credits(&self, credits: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.credits = state.credits.saturating_add(credits);
        }
    }

    /// Records the function versions the worker holds warm.
    pub fn set_warm(&self, versions: Vec<String>) {
        if let Ok(mut state) = self.state.lock() {
            state.warm = versions;
        }
    }

    /// Whether the worker holds this function version (`functionId@buildId`) warm.
    pub fn is_warm(&self, version: &str) -> bool {
        self.state
            .lock()
            .map(|state| state.warm.iter().any(|warm| warm == version))
            .unwrap_or(false)
    }

    /// An `energy` message: the node's new intensity and forecast.
    pub fn set_energy(&self, energy: Energy) {
        if let Ok(mut state) = self.state.lock() {
            state.energy = NodeEnergy::from_report(Some(energy));
        }
    }

    /// A polled feed for the node's zone (used only if the node reports no intensity itself).
    pub fn set_carbon_feed(&self, points: &[IntensityPoint]) {
        if let Ok(mut state) = self.state.lock() {
            state.energy.set_feed(points);
        }
    }

    /// The grid zone the node named.
    pub fn carbon_zone(&self) -> Option<String> {
        let state = self.state.lock().ok()?;
        state.energy.zone().map(str::to_owned)
    }

    /// Grid carbon intensity at the node now, gCO₂e/kWh.
    pub fn carbon_intensity(&self) -> Option<u32> {
        let state = self.state.lock().ok()?;
        state.energy.intensity_at(unix_now())
    }

    /// The node's intensity ahead (empty when unknown).
    pub fn carbon_forecast(&self) -> Forecast {
        self.state
            .lock()
            .map(|state| state.energy.forecast().clone())
            .unwrap_or_default()
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
            state.voting.remove(&task);
        }
    }

    /// Adds credits from a `pull`, never beyond the node's concurrency minus what it runs;
    /// returns the credits now held and whether they grew.
    pub(super) fn add_credits(&self, credits: u32) -> (u32, bool) {
        let Ok(mut state) = self.state.lock() else {
            return (0, false);
        };
        let room = state
            .resources
            .max_concurrency
            .saturating_sub(state.running.len() as u32);
        let before = state.credits;
        state.credits = state.credits.saturating_add(credits).min(room.max(before));
        (state.credits, state.credits > before)
    }
}

fn offer_of(state: &SessionState) -> NodeOffer {
    let reserved: u32 = state.running.values().map(|held| held.memory_mb).sum();
    let mut resources = state.resources.clone();
    resources.energy = state.energy.offered(unix_now());
    NodeOffer {
        trust: state.trust.clone(),
        resources,
        free_memory_mb: state.resources.memory_mb.saturating_sub(reserved),
        latency_ms: state.latency_ms,
        free_slots: state.credits,
    }
}
