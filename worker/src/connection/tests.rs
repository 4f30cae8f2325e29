//! The supervisor against a fake dispatcher socket on 127.0.0.1:0.

use std::sync::Mutex;

use canopy_shared::protocol::{
    encode_body, Assignment, DispatcherMessage, FunctionSpec, Outcome, TaskRequest, Timings,
    Welcome, WorkerMessage,
};
use canopy_shared::{Capabilities, Lang};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;

use super::*;

const TOKEN: &str = "node-token";
const WAIT: Duration = Duration::from_secs(5);

/// Answers after `delay`, or as cancelled.
struct FakeRunner {
    delay: Duration,
    ran: Mutex<Vec<String>>,
}

impl TaskRunner for FakeRunner {
    async fn run(&self, assignment: Assignment, cancel: CancellationToken) -> TaskResult {
        self.ran
            .lock()
            .expect("lock")
            .push(assignment.task_id.clone());
        let outcome = tokio::select! {
            _ = tokio::time::sleep(self.delay) => Outcome::Response {
                status: 200, content_type: None, body: encode_body(b"ok"), error: None,
            },
            _ = cancel.cancelled() => Outcome::Failed { message: "cancelled".into(), retryable: true },
        };
        TaskResult {
            regrant: false,
            image_pin: None,
            task_id: assignment.task_id,
            attempt: assignment.attempt,
            outcome,
            timings: Timings::default(),
            usage: None,
        }
    }

    fn warm_functions(&self) -> Vec<String> {
        vec!["f@warm".into()]
    }

    async fn prewarm(&self, _function: FunctionSpec, instances: u32) -> u32 {
        instances
    }
}

type ServerSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

struct FakeDispatcher {
    listener: TcpListener,
}

impl FakeDispatcher {
    async fn start() -> Self {
        FakeDispatcher {
            listener: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().expect("addr"))
    }

    /// Accepts the next upgrade; refuses it with 401 unless the node token is presented.
    async fn accept(&self) -> Option<ServerSocket> {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .ok()?
            .ok()?;
        #[allow(clippy::result_large_err)]
        let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if request.uri().path() == "/v1/worker/connect"
                && auth == Some(&format!("Bearer {TOKEN}"))
            {
                Ok(response)
            } else {
                let mut refusal = ErrorResponse::new(Some("{\"code\":\"UNAUTHORIZED\"}".into()));
                *refusal.status_mut() = StatusCode::UNAUTHORIZED;
                Err(refusal)
            }
        };
        tokio_tungstenite::accept_hdr_async(stream, check)
            .await
            .ok()
    }
}

async fn recv(socket: &mut ServerSocket) -> WorkerMessage {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time");
        match frame.expect("open").expect("readable") {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str()).expect("valid message")
            }
            _ => continue,
        }
    }
}

/// The next message that is not a heartbeat.
async fn recv_event(socket: &mut ServerSocket) -> WorkerMessage {
    loop {
        match recv(socket).await {
            WorkerMessage::Heartbeat(_) => continue,
            message => return message,
        }
    }
}

async fn send(socket: &mut ServerSocket, message: DispatcherMessage) {
    let text = serde_json::to_string(&message).expect("encodes");
    socket.send(Message::text(text)).await.expect("sent");
}

fn welcome() -> DispatcherMessage {
    DispatcherMessage::Welcome(Welcome {
        session_id: "s1".into(),
        heartbeat_interval_ms: 100,
        lease_ms: 30_000,
        max_frame_bytes: MAX_FRAME_BYTES,
    })
}

fn assign(task: &str) -> DispatcherMessage {
    DispatcherMessage::Assign(Box::new(Assignment {
        task_id: task.into(),
        attempt: 1,
        lease_ms: 30_000,
        function: FunctionSpec {
            function_id: "f".into(),
            build_id: "b".into(),
            lang: Lang::Py,
            artifact_sha256: "00".into(),
            artifact_size: 0,
            capabilities: Capabilities::default(),
            image: None,
        },
        request: TaskRequest {
            method: "GET".into(),
            query: String::new(),
            headers: vec![],
            content_type: None,
            body: String::new(),
        },
    }))
}

fn resources() -> Resources {
    Resources {
        cpus: 2,
        memory_mb: 1000,
        arch: "x86_64".into(),
        os: "linux".into(),
        runtimes: vec![Lang::Py],
        max_concurrency: 2,
        allows_privileged: false,
        allows_egress: false,
        allows_custom_images: false,
        compiles: Vec::new(),
        energy: None,
    }
}

struct Worker {
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start_worker(urls: Vec<String>, token: &str, delay: Duration) -> Worker {
    let runner = Arc::new(FakeRunner {
        delay,
        ran: Mutex::new(vec![]),
    });
    start_worker_with(urls, token, runner)
}

fn start_worker_with<R: TaskRunner>(urls: Vec<String>, token: &str, runner: Arc<R>) -> Worker {
    let settings = ConnectionSettings {
        dispatchers: urls,
        node_token: Secret::new(token),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(100)),
        unauthorized_retry: Duration::from_millis(100),
        welcome_timeout: WAIT,
    };
    let host = crate::host::HostSampler::new().sample();
    let (_host_tx, host_rx) = watch::channel(host);
    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new(
        settings,
        "node-1".into(),
        resources(),
        runner,
        host_rx,
        shutdown.clone(),
    );
    Worker {
        shutdown,
        handle: tokio::spawn(supervisor.run()),
    }
}

async fn handshake(socket: &mut ServerSocket) -> Hello {
    let WorkerMessage::Hello(hello) = recv(socket).await else {
        panic!("hello first")
    };
    send(socket, welcome()).await;
    hello
}

#[tokio::test]
async fn a_task_is_pulled_run_and_reported_then_its_slot_is_granted_again() {
    let dispatcher = FakeDispatcher::start().await;
    let worker = start_worker(vec![dispatcher.url()], TOKEN, Duration::from_millis(10));
    let mut socket = dispatcher
        .accept()
        .await
        .expect("upgrade with the node token");
    let hello = handshake(&mut socket).await;
    assert_eq!(
        (hello.protocol, hello.node_id.as_str()),
        (PROTOCOL_VERSION, "node-1")
    );
    assert_eq!(hello.resources, resources());
    assert_eq!(hello.warm_functions, ["f@warm"]);
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 2 }
    );
    send(&mut socket, assign("t1")).await;
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Started {
            task_id: "t1".into(),
            attempt: 1
        }
    );
    let WorkerMessage::Result(result) = recv_event(&mut socket).await else {
        panic!("result")
    };
    assert_eq!(result.task_id, "t1");
    assert!(matches!(
        result.outcome,
        Outcome::Response { status: 200, .. }
    ));
    assert!(
        result.regrant,
        "the slot comes back with the result, not in a pull after it"
    );
    let WorkerMessage::Heartbeat(beat) = recv(&mut socket).await else {
        panic!("heartbeat")
    };
    assert!(beat.running.is_empty() && beat.free_memory_mb <= 1000);
    worker.shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    worker.handle.await.expect("joined").expect("clean exit");
}

#[tokio::test]
async fn a_result_finished_during_an_outage_is_sent_on_the_new_connection() {
    let dispatcher = FakeDispatcher::start().await;
    let worker = start_worker(vec![dispatcher.url()], TOKEN, Duration::from_millis(300));
    let mut socket = dispatcher.accept().await.expect("first connection");
    handshake(&mut socket).await;
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 2 }
    );
    send(&mut socket, assign("t1")).await;
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Started { .. }
    ));
    drop(socket);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut socket = dispatcher.accept().await.expect("the worker reconnects");
    handshake(&mut socket).await;
    // The task kept running across the outage; its result comes on the new connection, and the
    // credits of the new session add up to the concurrency, whenever the task ended.
    let (mut credits, mut result) = (0, None);
    while credits < 2 || result.is_none() {
        match recv_event(&mut socket).await {
            WorkerMessage::Pull { credits: more } => credits += more,
            WorkerMessage::Result(done) => {
                credits += u32::from(done.regrant);
                result = Some(done);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(credits, 2);
    assert_eq!(result.map(|r| r.task_id).as_deref(), Some("t1"));
    worker.shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    worker.handle.await.expect("joined").expect("clean exit");
}

#[tokio::test]
async fn a_cancelled_task_sends_no_result_but_its_slot_comes_back() {
    let dispatcher = FakeDispatcher::start().await;
    let worker = start_worker(vec![dispatcher.url()], TOKEN, Duration::from_secs(30));
    let mut socket = dispatcher.accept().await.expect("connection");
    handshake(&mut socket).await;
    recv_event(&mut socket).await;
    send(&mut socket, assign("t1")).await;
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Started { .. }
    ));
    send(
        &mut socket,
        DispatcherMessage::Cancel {
            task_id: "t1".into(),
            attempt: 1,
        },
    )
    .await;
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 1 }
    );
    worker.shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    worker.handle.await.expect("joined").expect("clean exit");
}

#[tokio::test]
async fn shutdown_stops_pulling_waits_for_running_tasks_and_says_goodbye() {
    let dispatcher = FakeDispatcher::start().await;
    let worker = start_worker(vec![dispatcher.url()], TOKEN, Duration::from_millis(300));
    let mut socket = dispatcher.accept().await.expect("connection");
    handshake(&mut socket).await;
    recv_event(&mut socket).await;
    send(&mut socket, assign("t1")).await;
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Started { .. }
    ));
    worker.shutdown.cancel();
    let WorkerMessage::Result(result) = recv_event(&mut socket).await else {
        panic!("result first")
    };
    assert!(
        matches!(result.outcome, Outcome::Response { .. }),
        "the task finished normally"
    );
    assert!(
        matches!(recv_event(&mut socket).await, WorkerMessage::Goodbye { .. }),
        "no pull after shutdown"
    );
    worker.handle.await.expect("joined").expect("clean exit");
}

#[tokio::test]
async fn a_refused_token_is_retried_slowly_and_fail_over_reaches_the_next_dispatcher() {
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let dispatcher = FakeDispatcher::start().await;
    let worker = start_worker(vec![dead_url, dispatcher.url()], "revoked", Duration::ZERO);
    for _ in 0..2 {
        assert!(
            dispatcher.accept().await.is_none(),
            "401 without the right token"
        );
    }
    assert!(
        !worker.handle.is_finished(),
        "a revoked token is not a crash"
    );
    worker.shutdown.cancel();
    worker.handle.await.expect("joined").expect("clean exit");
}

mod carbon;
mod noop;

#[tokio::test]
async fn an_owner_pause_stops_pulling_refuses_assignments_and_hands_back_past_its_bound() {
    let dispatcher = FakeDispatcher::start().await;
    let (gate, gate_rx) = watch::channel(crate::volunteer::Gate::Open);
    let runner = Arc::new(FakeRunner {
        delay: Duration::from_secs(30),
        ran: Mutex::new(vec![]),
    });
    let settings = ConnectionSettings {
        dispatchers: vec![dispatcher.url()],
        node_token: Secret::new(TOKEN),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(100)),
        unauthorized_retry: Duration::from_millis(100),
        welcome_timeout: WAIT,
    };
    let (_host_tx, host_rx) = watch::channel(crate::host::HostSampler::new().sample());
    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new(
        settings,
        "node-1".into(),
        resources(),
        runner,
        host_rx,
        shutdown.clone(),
    )
    .with_owner_gate(gate_rx, Duration::from_millis(300));
    let handle = tokio::spawn(supervisor.run());
    let mut socket = dispatcher.accept().await.expect("upgrade");
    handshake(&mut socket).await;
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 2 }
    );
    send(&mut socket, assign("t1")).await;
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Started { .. }
    ));

    gate.send_replace(crate::volunteer::Gate::Paused("on battery".into()));
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::OwnerPaused {
            reason: "on battery".into()
        }
    );
    // An assignment that crossed the pause goes back at once.
    send(&mut socket, assign("t2")).await;
    let WorkerMessage::Result(refused) = recv_event(&mut socket).await else {
        panic!("a result for the refused assignment")
    };
    assert_eq!(refused.task_id, "t2");
    assert_eq!(
        refused.outcome,
        Outcome::Failed {
            message: "the owner paused this node".into(),
            retryable: true
        }
    );
    // Past the bound, the running task is handed back (retryable, with why).
    let WorkerMessage::Result(handed) = recv_event(&mut socket).await else {
        panic!("the handed-back result")
    };
    assert_eq!(handed.task_id, "t1");
    assert!(
        matches!(&handed.outcome, Outcome::Failed { message, retryable: true } if message.starts_with("handed back: the owner paused the node")),
        "{:?}",
        handed.outcome
    );

    gate.send_replace(crate::volunteer::Gate::Open);
    assert_eq!(recv_event(&mut socket).await, WorkerMessage::OwnerResumed);
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 2 }
    );
    shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    handle.await.expect("joins").expect("clean exit");
}
