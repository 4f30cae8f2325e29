//! One idle worker session: TCP from a chosen source address, the authenticated upgrade, `hello`
//! → `welcome`, then reading (which answers the dispatcher's pings) until the socket ends. No
//! `pull` is ever sent. Outcomes are counted in [`Stats`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canopy_shared::protocol::{
    DispatcherMessage, Hello, Resources, Welcome, WorkerMessage, PROTOCOL_VERSION,
};
use canopy_shared::Lang;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::setup::Node;

/// How long the dispatcher has to close a session after `goodbye`.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(60);

/// An established session's socket.
pub type Socket = WebSocketStream<TcpStream>;

/// Where the sessions connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `ws://host:port/v1/worker/connect`.
    pub url: String,
}

/// Why a session could not be established.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("socket: {0}")]
    Socket(std::io::Error),
    #[error("bind {0}: {1}")]
    Bind(IpAddr, std::io::Error),
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("upgrade: {0}")]
    Upgrade(tungstenite::Error),
    #[error("hello: {0}")]
    Hello(tungstenite::Error),
    #[error("refused with {code}: {message}")]
    Refused { code: String, message: String },
    #[error("no welcome: {0}")]
    NoWelcome(String),
    #[error("timed out")]
    TimedOut,
}

impl OpenError {
    /// A short key that groups failures of the same cause.
    pub fn kind(&self) -> String {
        match self {
            OpenError::Socket(e) => format!("socket: {:?}", e.kind()),
            OpenError::Bind(_, e) => format!("bind: {:?}", e.kind()),
            OpenError::Connect(e) => format!("connect: {:?}", e.kind()),
            OpenError::Upgrade(tungstenite::Error::Http(response)) => {
                format!("upgrade: HTTP {}", response.status())
            }
            OpenError::Upgrade(tungstenite::Error::Io(e)) => format!("upgrade: {:?}", e.kind()),
            OpenError::Upgrade(e) | OpenError::Hello(e) => format!("{e}"),
            OpenError::Refused { code, .. } => format!("refused: {code}"),
            OpenError::NoWelcome(why) => format!("no welcome: {why}"),
            OpenError::TimedOut => "timed out".to_owned(),
        }
    }
}

/// Counters shared by every session task.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions that got `welcome`.
    pub established: AtomicUsize,
    /// Attempts that never got `welcome`.
    pub failed: AtomicUsize,
    /// Established sessions that ended since.
    pub dropped: AtomicUsize,
    /// Pings received (each answered with a pong).
    pub pings: AtomicU64,
    /// The heartbeat interval the dispatcher announced, ms.
    pub heartbeat_interval_ms: AtomicU64,
    failures: Mutex<BTreeMap<String, usize>>,
    drops: Mutex<BTreeMap<String, usize>>,
}

impl Stats {
    /// Established and not ended.
    pub fn alive(&self) -> usize {
        self.established
            .load(Ordering::Relaxed)
            .saturating_sub(self.dropped.load(Ordering::Relaxed))
    }

    pub fn record_failure(&self, error: &OpenError) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut failures) = self.failures.lock() {
            *failures.entry(error.kind()).or_default() += 1;
        }
    }

    fn record_drop(&self, reason: String) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut drops) = self.drops.lock() {
            *drops.entry(reason).or_default() += 1;
        }
    }

    /// Failures by cause.
    pub fn failures(&self) -> BTreeMap<String, usize> {
        self.failures.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Ends of established sessions by cause.
    pub fn drops(&self) -> BTreeMap<String, usize> {
        self.drops.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Small buffers: one reader per session and tiny frames (the defaults are 128 KiB each).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

/// The `hello` of a minimal node that offers Python and one slot.
pub fn hello(node_id: &str) -> WorkerMessage {
    WorkerMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        node_id: node_id.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        resources: Resources {
            cpus: 1,
            memory_mb: 1024,
            arch: std::env::consts::ARCH.to_owned(),
            os: std::env::consts::OS.to_owned(),
            runtimes: vec![Lang::Py],
            max_concurrency: 1,
            allows_privileged: false,
            allows_egress: false,
            allows_custom_images: false,
            compiles: Vec::new(),
            energy: None,
        },
        warm_functions: Vec::new(),
        running: Vec::new(),
    })
}

/// Connects from `source`, upgrades with the node token, sends `hello` and waits for `welcome`.
pub async fn open(
    node: &Node,
    source: IpAddr,
    target: &Target,
) -> Result<(Socket, Welcome), OpenError> {
    let socket = TcpSocket::new_v4().map_err(OpenError::Socket)?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| OpenError::Bind(source, e))?;
    let stream = socket
        .connect(target.addr)
        .await
        .map_err(OpenError::Connect)?;
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(OpenError::Upgrade)?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", node.token))
        .map_err(|e| OpenError::NoWelcome(format!("the token is not a header value: {e}")))?;
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
            .await
            .map_err(OpenError::Upgrade)?;
    let hello = serde_json::to_string(&hello(&node.id))
        .map_err(|e| OpenError::NoWelcome(format!("hello does not encode: {e}")))?;
    socket
        .send(Message::text(hello))
        .await
        .map_err(OpenError::Hello)?;
    loop {
        let frame = match socket.next().await {
            None => return Err(OpenError::NoWelcome("the socket closed".to_owned())),
            Some(Err(error)) => return Err(OpenError::NoWelcome(error.to_string())),
            Some(Ok(frame)) => frame,
        };
        match frame {
            Message::Text(text) => {
                return match serde_json::from_str::<DispatcherMessage>(&text) {
                    Ok(DispatcherMessage::Welcome(welcome)) => Ok((socket, welcome)),
                    Ok(DispatcherMessage::Error { code, message }) => {
                        Err(OpenError::Refused { code, message })
                    }
                    Ok(_) => Err(OpenError::NoWelcome("another message first".to_owned())),
                    Err(e) => Err(OpenError::NoWelcome(format!("unreadable message: {e}"))),
                };
            }
            Message::Close(frame) => {
                let why = frame.map_or_else(String::new, |f| f.reason.to_string());
                return Err(OpenError::NoWelcome(format!("closed ({why})")));
            }
            Message::Binary(_) => {
                return Err(OpenError::NoWelcome("a binary frame".to_owned()));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Keeps an established session: reads until it ends (tungstenite answers pings while reading),
/// or says `goodbye` once `shutdown` is cancelled.
pub async fn hold(mut socket: Socket, stats: Arc<Stats>, shutdown: CancellationToken) {
    let reason = loop {
        let frame = tokio::select! {
            () = shutdown.cancelled() => break goodbye(&mut socket).await,
            frame = socket.next() => frame,
        };
        match frame {
            None => break "the socket ended".to_owned(),
            Some(Err(error)) => break format!("read error: {error}"),
            Some(Ok(Message::Ping(_))) => {
                stats.pings.fetch_add(1, Ordering::Relaxed);
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or_else(String::new, |f| f.reason.to_string());
                break format!("closed by the dispatcher ({why})");
            }
            Some(Ok(Message::Text(text))) => {
                if let Ok(DispatcherMessage::Error { code, .. }) =
                    serde_json::from_str::<DispatcherMessage>(&text)
                {
                    break format!("error message {code}");
                }
            }
            Some(Ok(_)) => {}
        }
    };
    stats.record_drop(reason);
}

/// Says `goodbye` like a draining worker and waits for the dispatcher to close the socket.
async fn goodbye(socket: &mut Socket) -> String {
    let message = WorkerMessage::Goodbye {
        reason: "benchmark over".to_owned(),
    };
    let Ok(text) = serde_json::to_string(&message) else {
        return "goodbye does not encode".to_owned();
    };
    if socket.send(Message::text(text)).await.is_err() {
        return "goodbye not sent".to_owned();
    }
    let closed = tokio::time::timeout(GOODBYE_TIMEOUT, async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    match closed {
        Ok(()) => "said goodbye".to_owned(),
        Err(_) => "said goodbye; not closed in time".to_owned(),
    }
}
