//! A minimal worker speaking the real protocol over a real WebSocket: `hello`, credits, and for
//! every `assign` an immediate `started` + `result` (200 `noop`) with the credit given back.
//! The arrival time of each `assign` frame is handed to a callback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use canopy_shared::protocol::{
    encode_body, DispatcherMessage, Heartbeat, Hello, Outcome, Resources, TaskResult, Timings,
    WorkerMessage, PROTOCOL_VERSION,
};
use canopy_shared::Lang;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Most assignments answered before the frames are flushed and their credits returned.
const MAX_BATCH: usize = 256;

/// Called with the task id and the instant its `assign` frame was read.
pub type OnAssign = Arc<dyn Fn(&str, Instant) + Send + Sync>;

/// How the fake worker presents itself.
#[derive(Debug, Clone)]
pub struct Identity {
    pub base: String,
    pub node_id: String,
    pub node_token: String,
    /// Credits granted at once (the dispatcher accepts 1–1024).
    pub max_concurrency: u32,
}

/// A connected fake worker.
pub struct FakeWorker {
    outbox: mpsc::UnboundedSender<Outgoing>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    assigned: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
}

enum Outgoing {
    Finish { task_id: String, attempt: u32 },
    Goodbye,
}

impl FakeWorker {
    /// Connects, says `hello`, waits for `welcome` and grants all its credits.
    pub async fn connect(identity: &Identity, on_assign: OnAssign) -> anyhow::Result<FakeWorker> {
        let url = format!(
            "ws://{}/v1/worker/connect",
            identity.base.trim_start_matches("http://")
        );
        let mut request = url.as_str().into_client_request()?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", identity.node_token))?;
        request.headers_mut().insert("authorization", bearer);
        let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .with_context(|| format!("while opening the worker WebSocket {url}"))?;
        let (mut sink, mut stream) = socket.split();
        send(&mut sink, &WorkerMessage::Hello(hello(identity))).await?;
        let heartbeat_ms = match tokio::time::timeout(Duration::from_secs(10), next(&mut stream))
            .await
            .context("no welcome within 10 s")??
        {
            Some(DispatcherMessage::Welcome(welcome)) => welcome.heartbeat_interval_ms,
            Some(DispatcherMessage::Error { code, message }) => {
                bail!("the dispatcher refused the hello: {code}: {message}")
            }
            other => bail!("expected welcome, got {other:?}"),
        };
        let credits = WorkerMessage::Pull {
            credits: identity.max_concurrency,
        };
        send(&mut sink, &credits).await?;
        let (outbox, rx) = mpsc::unbounded_channel();
        let failure = Arc::new(Mutex::new(None));
        let assigned = Arc::new(AtomicU64::new(0));
        let every = Duration::from_millis(heartbeat_ms.max(100));
        let writer = tokio::spawn(write_loop(sink, rx, every, failure.clone()));
        let reader = tokio::spawn(read_loop(
            stream,
            outbox.clone(),
            on_assign,
            assigned.clone(),
            failure.clone(),
        ));
        Ok(FakeWorker {
            outbox,
            reader,
            writer,
            assigned,
            failure,
        })
    }

    /// Assignments received so far.
    pub fn assigned(&self) -> u64 {
        self.assigned.load(Ordering::Relaxed)
    }

    /// Why the connection failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }

    /// Says `goodbye`, closes the socket and waits (30 s at most) for the dispatcher to close
    /// its side, so that it is done with this session before the caller stops it. Returns how
    /// long that took: the dispatcher reads a socket's messages in order, so this is also how
    /// far behind the worker's `started`/`result` messages it was.
    pub async fn stop(self) -> Option<Duration> {
        let asked = Instant::now();
        let _ = self.outbox.send(Outgoing::Goodbye);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.writer).await;
        let mut reader = self.reader;
        match tokio::time::timeout(Duration::from_secs(30), &mut reader).await {
            Ok(_) => Some(asked.elapsed()),
            Err(_) => {
                reader.abort();
                None
            }
        }
    }
}

fn hello(identity: &Identity) -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        node_id: identity.node_id.clone(),
        version: concat!("bench-", env!("CARGO_PKG_VERSION")).to_owned(),
        resources: Resources {
            cpus: 2,
            memory_mb: 4096,
            arch: std::env::consts::ARCH.to_owned(),
            os: std::env::consts::OS.to_owned(),
            runtimes: vec![Lang::Py, Lang::Js],
            max_concurrency: identity.max_concurrency,
            allows_privileged: false,
            allows_egress: false,
            allows_custom_images: false,
            compiles: Vec::new(),
            energy: None,
        },
        warm_functions: Vec::new(),
        running: Vec::new(),
    }
}

fn record_failure(failure: &Mutex<Option<String>>, reason: String) {
    if let Ok(mut slot) = failure.lock() {
        slot.get_or_insert(reason);
    }
}

async fn send(
    sink: &mut SplitSink<Socket, Message>,
    message: &WorkerMessage,
) -> anyhow::Result<()> {
    let text = serde_json::to_string(message)?;
    sink.send(Message::text(text))
        .await
        .context("while writing to the worker WebSocket")
}

/// The next protocol message; `None` when the socket closed.
async fn next(stream: &mut SplitStream<Socket>) -> anyhow::Result<Option<DispatcherMessage>> {
    while let Some(frame) = stream.next().await {
        match frame.context("while reading the worker WebSocket")? {
            Message::Text(text) => return Ok(Some(serde_json::from_str(text.as_str())?)),
            Message::Close(frame) => bail!("closed by the dispatcher: {frame:?}"),
            _ => continue,
        }
    }
    Ok(None)
}

async fn read_loop(
    mut stream: SplitStream<Socket>,
    outbox: mpsc::UnboundedSender<Outgoing>,
    on_assign: OnAssign,
    assigned: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
) {
    loop {
        match next(&mut stream).await {
            Ok(Some(DispatcherMessage::Assign(assignment))) => {
                on_assign(&assignment.task_id, Instant::now());
                assigned.fetch_add(1, Ordering::Relaxed);
                let finish = Outgoing::Finish {
                    task_id: assignment.task_id,
                    attempt: assignment.attempt,
                };
                if outbox.send(finish).is_err() {
                    return;
                }
            }
            Ok(Some(DispatcherMessage::Error { code, message })) => {
                record_failure(&failure, format!("dispatcher error {code}: {message}"));
            }
            Ok(Some(DispatcherMessage::Drain)) => {
                record_failure(&failure, "the dispatcher asked to drain".into());
            }
            Ok(Some(_)) => {}
            Ok(None) => return record_failure(&failure, "the socket closed".into()),
            Err(error) => return record_failure(&failure, format!("{error:#}")),
        }
    }
}

/// Writes `started` + `result` per finished assignment; the credits of a burst go back in one
/// `pull` once the queue is empty, then the frames are flushed together.
async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    heartbeat_every: Duration,
    failure: Arc<Mutex<Option<String>>>,
) {
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    loop {
        let first = tokio::select! {
            outgoing = rx.recv() => outgoing,
            _ = heartbeat.tick() => {
                let beat = WorkerMessage::Heartbeat(Heartbeat { free_memory_mb: 4096, cpu_busy_percent: 0, running: Vec::new(), warm_functions: Vec::new() });
                if let Err(error) = send(&mut sink, &beat).await {
                    return record_failure(&failure, format!("{error:#}"));
                }
                continue;
            }
        };
        let Some(first) = first else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(outgoing) => batch.push(outgoing),
                Err(_) => break,
            }
        }
        let mut credits = 0u32;
        for outgoing in batch {
            match outgoing {
                Outgoing::Finish { task_id, attempt } => {
                    if let Err(error) = feed_finish(&mut sink, task_id, attempt).await {
                        return record_failure(&failure, format!("{error:#}"));
                    }
                    credits += 1;
                }
                Outgoing::Goodbye => {
                    let goodbye = WorkerMessage::Goodbye {
                        reason: "benchmark done".into(),
                    };
                    let _ = send(&mut sink, &goodbye).await;
                    let _ = sink.close().await;
                    return;
                }
            }
        }
        let written = async {
            if credits > 0 {
                let pull = serde_json::to_string(&WorkerMessage::Pull { credits })?;
                sink.feed(Message::text(pull)).await?;
            }
            sink.flush().await?;
            anyhow::Ok(())
        };
        if let Err(error) = written.await {
            return record_failure(&failure, format!("{error:#}"));
        }
    }
}

async fn feed_finish(
    sink: &mut SplitSink<Socket, Message>,
    task_id: String,
    attempt: u32,
) -> anyhow::Result<()> {
    let started = WorkerMessage::Started {
        task_id: task_id.clone(),
        attempt,
    };
    sink.feed(Message::text(serde_json::to_string(&started)?))
        .await?;
    let result = WorkerMessage::Result(TaskResult {
        regrant: false,
        image_pin: None,
        task_id,
        attempt,
        outcome: Outcome::Response {
            status: 200,
            content_type: Some("text/plain".into()),
            body: encode_body(b"noop"),
            error: None,
        },
        timings: Timings {
            init_ms: 0,
            exec_ms: 0,
            warm: true,
        },
        usage: None,
    });
    sink.feed(Message::text(serde_json::to_string(&result)?))
        .await?;
    Ok(())
}
