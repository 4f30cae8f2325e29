//! The connection supervisor: keeps one WebSocket to a dispatcher (failing over between the
//! configured URLs with capped, jittered backoff), hands assignments to the task runner, and
//! delivers results — also those of tasks that finished while the socket was down.

mod owner;
mod session;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canopy_shared::protocol::{Hello, Resources, TaskResult, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::backoff::Backoff;
use crate::config::{connect_url, Secret};
use crate::executor::TaskRunner;
use crate::host::HostSnapshot;

/// The socket type of a dispatcher connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the supervisor connects and behaves.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Dispatcher base URLs, tried in order.
    pub dispatchers: Vec<String>,
    pub node_token: Secret,
    /// Time running tasks get to finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Delay between attempts while the dispatcher refuses the token (401).
    pub unauthorized_retry: Duration,
    /// How long to wait for `welcome` after `hello`.
    pub welcome_timeout: Duration,
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "the dispatcher refused the node token (401): the node was deleted or its token revoked"
    )]
    Unauthorized,
    #[error("{0}")]
    Failed(String),
}

/// Opens the WebSocket to `base` with the node token in the upgrade request.
pub async fn connect(base: &str, token: &Secret) -> Result<Socket, ConnectError> {
    let mut request = connect_url(base)
        .into_client_request()
        .map_err(|e| ConnectError::Failed(format!("bad dispatcher URL {base}: {e}")))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| ConnectError::Failed("the node token is not a valid header value".into()))?;
    request.headers_mut().insert("authorization", bearer);
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_FRAME_BYTES + 1024)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response))
            if response.status() == StatusCode::UNAUTHORIZED =>
        {
            Err(ConnectError::Unauthorized)
        }
        Err(error) => Err(ConnectError::Failed(format!("{base}: {error}"))),
    }
}

/// A task the supervisor is running.
struct Running {
    cancel: CancellationToken,
    /// Cancelled by the dispatcher: its result is not sent.
    discard: bool,
}

/// An attempt is `(task id, attempt)`.
type AttemptKey = (String, u32);

/// A finished attempt, reported by its task.
struct Finished {
    key: AttemptKey,
    result: TaskResult,
}

/// Owns the dispatcher connection and the running tasks (single owner: no locks).
pub struct Supervisor<R: TaskRunner> {
    settings: ConnectionSettings,
    node_id: String,
    resources: Resources,
    runner: Arc<R>,
    host: watch::Receiver<HostSnapshot>,
    shutdown: CancellationToken,
    running: HashMap<AttemptKey, Running>,
    finished_tx: mpsc::UnboundedSender<Finished>,
    finished_rx: mpsc::UnboundedReceiver<Finished>,
    /// Results written to a socket that died: sent again after the next `welcome`.
    unsent: VecDeque<TaskResult>,
    /// Set once shutdown was seen: no more credits.
    stopping_since: Option<Instant>,
    /// The volunteer's conditions: no credits and frozen tasks while closed.
    owner: owner::OwnerPause,
    /// The node's grid carbon intensity, and what was last reported of it.
    carbon: crate::carbon::CarbonConfig,
    reported_energy: Option<canopy_shared::protocol::Energy>,
}

/// How a session ended.
enum SessionEnd {
    /// Shutdown completed: goodbye sent (or nothing left to say).
    Done,
    /// The connection was lost or refused; reconnect.
    Lost(String),
}

impl<R: TaskRunner> Supervisor<R> {
    /// A supervisor that advertises `resources` as node `node_id`.
    pub fn new(
        settings: ConnectionSettings,
        node_id: String,
        resources: Resources,
        runner: Arc<R>,
        host: watch::Receiver<HostSnapshot>,
        shutdown: CancellationToken,
    ) -> Self {
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Supervisor {
            settings,
            node_id,
            resources,
            runner,
            host,
            shutdown,
            running: HashMap::new(),
            finished_tx,
            finished_rx,
            unsent: VecDeque::new(),
            stopping_since: None,
            owner: owner::OwnerPause::default(),
            carbon: crate::carbon::CarbonConfig::default(),
            reported_energy: None,
        }
    }

    /// Follows the owner's gate: while it is closed no task is pulled, the dispatcher is told
    /// (`ownerPaused`), and after `handback` running tasks are handed back.
    pub fn with_owner_gate(
        mut self,
        gate: watch::Receiver<crate::volunteer::Gate>,
        handback: Duration,
    ) -> Self {
        self.owner = owner::OwnerPause::new(gate, handback);
        self
    }

    /// Reports `carbon` in `hello` and, when it changes, in `energy` messages.
    pub fn with_carbon(mut self, carbon: crate::carbon::CarbonConfig) -> Self {
        self.carbon = carbon;
        self
    }

    /// The energy to report now if it changed since the last report.
    fn energy_update(&mut self) -> Option<canopy_shared::protocol::Energy> {
        let energy = self.carbon.energy(crate::carbon::unix_now());
        if energy == self.reported_energy {
            return None;
        }
        self.reported_energy.clone_from(&energy);
        energy
    }

    fn hello(&mut self) -> Hello {
        let mut resources = self.resources.clone();
        resources.energy = self.carbon.energy(crate::carbon::unix_now());
        self.reported_energy.clone_from(&resources.energy);
        Hello {
            protocol: PROTOCOL_VERSION,
            node_id: self.node_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            resources,
            warm_functions: self.runner.warm_functions(),
            running: self
                .running
                .keys()
                .map(|(task, _)| task.clone())
                .chain(self.unsent.iter().map(|result| result.task_id.clone()))
                .collect(),
        }
    }

    fn grace_deadline(&self) -> Option<Instant> {
        self.stopping_since
            .map(|since| since + self.settings.shutdown_grace)
    }

    /// Connects, serves, reconnects; returns after shutdown once running tasks are done (or
    /// the grace period is over).
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut backoff = self.settings.backoff.clone();
        let mut outage: Option<Instant> = None;
        let mut next = 0usize;
        let urls = self.settings.dispatchers.clone();
        anyhow::ensure!(!urls.is_empty(), "no dispatcher URL is configured");
        loop {
            if self.shutdown.is_cancelled() && self.stopping_since.is_none() {
                self.stopping_since = Some(Instant::now());
            }
            self.drain_finished_offline();
            if self.stopping_since.is_some() && self.running.is_empty() && self.unsent.is_empty() {
                return Ok(());
            }
            if self
                .grace_deadline()
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                self.cancel_all();
                warn!(
                    results = self.unsent.len(),
                    "shutdown: no dispatcher to take the last results"
                );
                return Ok(());
            }
            let url = &urls[next % urls.len()];
            let delay = match connect(url, &self.settings.node_token).await {
                Ok(socket) => {
                    if let Some(since) = outage.take() {
                        info!(dispatcher = %url, down_ms = since.elapsed().as_millis() as u64, "reconnected");
                    }
                    backoff.reset();
                    match self.session(socket).await {
                        SessionEnd::Done => return Ok(()),
                        SessionEnd::Lost(reason) => {
                            warn!(dispatcher = %url, %reason, "connection lost; reconnecting");
                            outage = Some(Instant::now());
                            next += 1;
                            backoff.next_delay()
                        }
                    }
                }
                Err(ConnectError::Unauthorized) => {
                    if outage.is_none() {
                        error!(dispatcher = %url, "the dispatcher refused this node's token (401): the node was deleted or its token revoked; run `canopy-worker register --force` to register again. Retrying slowly.");
                        outage = Some(Instant::now());
                    }
                    self.settings.unauthorized_retry
                }
                Err(ConnectError::Failed(reason)) => {
                    if outage.is_none() {
                        warn!(%reason, "cannot reach the dispatcher; retrying with backoff");
                        outage = Some(Instant::now());
                    }
                    next += 1;
                    backoff.next_delay()
                }
            };
            let wake = match self.grace_deadline() {
                Some(deadline) => deadline.min(Instant::now() + delay),
                None => Instant::now() + delay,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = self.shutdown.cancelled(), if self.stopping_since.is_none() => {}
            }
        }
    }

    /// While offline: collects finished tasks' results, to be sent after the next `welcome`.
    fn drain_finished_offline(&mut self) {
        while let Ok(finished) = self.finished_rx.try_recv() {
            if let Some(running) = self.running.remove(&finished.key) {
                if !running.discard {
                    self.unsent.push_back(finished.result);
                }
            }
        }
    }

    fn cancel_all(&mut self) {
        for running in self.running.values() {
            running.cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests;
