//! A scripted worker over a real WebSocket, to test the gateway and the scheduler without Docker.

use std::time::Duration;

use canopy_shared::protocol::{
    encode_body, Assignment, DispatcherMessage, Hello, Outcome, Resources, TaskResult, Timings,
    WorkerMessage, PROTOCOL_VERSION,
};
use canopy_shared::Lang;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{id_of, TestApp};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct FakeWorker {
    pub socket: Socket,
}

/// A node offering PY and JS with this much memory.
pub fn resources(memory_mb: u32) -> Resources {
    Resources {
        cpus: 2,
        memory_mb,
        arch: "x86_64".into(),
        os: "linux".into(),
        runtimes: vec![Lang::Py, Lang::Js],
        max_concurrency: 4,
        allows_privileged: false,
        allows_egress: false,
        allows_custom_images: false,
        compiles: Vec::new(),
        energy: None,
    }
}

/// Registers a node for the user; returns (node id, node token).
pub async fn register_node(app: &TestApp, token: &str) -> (String, String) {
    let id = canopy_shared::format_id(canopy_shared::new_id());
    let response = app
        .post(
            &format!("/v1/node/{id}"),
            Some(token),
            json!({"description": "test node"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    (id, body["token"].as_str().expect("token").to_owned())
}

/// Opens the gateway socket with a node token; the HTTP status when the upgrade is refused.
pub async fn open(app: &TestApp, node_token: &str) -> Result<Socket, u16> {
    let url = format!(
        "{}/v1/worker/connect",
        app.address.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {node_token}").parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(error) => panic!("unexpected connect error: {error}"),
    }
}

impl FakeWorker {
    /// Connects, says hello and checks the welcome.
    pub async fn connect(
        app: &TestApp,
        node_id: &str,
        node_token: &str,
        resources: Resources,
    ) -> FakeWorker {
        Self::connect_running(app, node_id, node_token, resources, vec![]).await
    }

    /// Connects saying it still runs `running` (a worker coming back after a lost socket).
    pub async fn connect_running(
        app: &TestApp,
        node_id: &str,
        node_token: &str,
        resources: Resources,
        running: Vec<String>,
    ) -> FakeWorker {
        let socket = open(app, node_token)
            .await
            .expect("the upgrade is accepted");
        let mut worker = FakeWorker { socket };
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            node_id: node_id.to_owned(),
            version: "test".into(),
            resources,
            warm_functions: vec![],
            running,
        };
        worker.send(&WorkerMessage::Hello(hello)).await;
        match worker.recv().await {
            Some(DispatcherMessage::Welcome(welcome)) => assert!(welcome.heartbeat_interval_ms > 0),
            other => panic!("expected welcome, got {other:?}"),
        }
        worker
    }

    pub async fn send(&mut self, message: &WorkerMessage) {
        let text = serde_json::to_string(message).expect("encode");
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// The next protocol message (pings are answered by tungstenite); `None` when closed.
    /// Panics when none comes within 10 s (pings do not count), so a test never hangs.
    pub async fn recv(&mut self) -> Option<DispatcherMessage> {
        let next_message = async {
            loop {
                match self.socket.next().await?.ok()? {
                    Message::Text(text) => {
                        return Some(serde_json::from_str(&text).expect("a protocol message"))
                    }
                    Message::Close(_) => return None,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), next_message)
            .await
            .expect("a protocol message within 10 s")
    }

    /// Waits for an assignment.
    pub async fn expect_assign(&mut self) -> Assignment {
        match self.recv().await {
            Some(DispatcherMessage::Assign(assignment)) => *assignment,
            other => panic!("expected assign, got {other:?}"),
        }
    }

    /// Whether nothing arrives within `wait`.
    pub async fn stays_quiet(&mut self, wait: Duration) -> bool {
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return true,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(_) => return false,
            }
        }
    }

    pub async fn pull(&mut self, credits: u32) {
        self.send(&WorkerMessage::Pull { credits }).await;
    }

    /// Reports a response for an assignment.
    pub async fn respond(
        &mut self,
        assignment: &Assignment,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) {
        self.respond_and_regrant(assignment, status, content_type, body, false)
            .await;
    }

    /// Reports a response; with `regrant`, the result frame also offers the slot again.
    pub async fn respond_and_regrant(
        &mut self,
        assignment: &Assignment,
        status: u16,
        content_type: &str,
        body: &[u8],
        regrant: bool,
    ) {
        self.send(&WorkerMessage::Started {
            task_id: assignment.task_id.clone(),
            attempt: assignment.attempt,
        })
        .await;
        let result = TaskResult {
            regrant,
            image_pin: None,
            task_id: assignment.task_id.clone(),
            attempt: assignment.attempt,
            outcome: Outcome::Response {
                status,
                content_type: Some(content_type.to_owned()),
                body: encode_body(body),
                error: None,
            },
            timings: Timings {
                init_ms: 0,
                exec_ms: 1,
                warm: true,
            },
            usage: None,
        };
        self.send(&WorkerMessage::Result(result)).await;
    }
}

/// A function with a successful PY build; returns its id.
pub async fn deployed_function(app: &TestApp, token: &str) -> String {
    let function = app.create_function_in(token, "Echo", "PY").await;
    let response = app
        .client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(zip_of(&[(
            "handler.py",
            b"def handle(request):\n    return 'hi'\n",
        )]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await;
    function
}

/// A zip archive of `entries`.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        writer.write_all(data).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}
