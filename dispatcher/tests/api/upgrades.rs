//! The WebSocket upgrade, spoken byte by byte: refusals are problem documents with a code, and a
//! worker may send its first frame right behind the upgrade request.

use canopy_shared::protocol::{DispatcherMessage, Hello, WorkerMessage, PROTOCOL_VERSION};
use futures_util::StreamExt;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::fake_worker::{register_node, resources};
use crate::helpers::TestApp;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A request for `path`; `upgrade` adds the WebSocket headers, `key` the handshake key.
fn request(path: &str, token: Option<&str>, upgrade: bool, key: bool) -> String {
    let mut text = format!("GET {path} HTTP/1.1\r\nHost: canopy\r\n");
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if upgrade {
        text.push_str("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    } else {
        text.push_str("Connection: close\r\n");
    }
    if key {
        text.push_str(&format!("Sec-WebSocket-Key: {KEY}\r\n"));
    }
    text + "\r\n"
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Sends a refused upgrade; the status, the problem's code, and that the server closed.
async fn refusal(app: &TestApp, request: &str) -> (u16, String) {
    let mut stream = connect(app).await;
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await
    .expect("the server closes the connection after refusing")
    .expect("read");
    let response = String::from_utf8(response).expect("text");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().expect("status");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: Value = serde_json::from_str(body).expect("a problem document");
    (status, problem["code"].as_str().expect("code").to_owned())
}

#[sqlx::test(migrations = "../migrations")]
async fn refused_upgrades_are_problem_documents_with_a_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (_, token) = register_node(&app, &user.token).await;
    let connect_path = "/v1/worker/connect";
    let cases = [
        (
            request(connect_path, None, true, true),
            401,
            "NEEDS_NODE_TOKEN",
        ),
        (
            request(connect_path, Some("cnode_nothing"), true, true),
            401,
            "INVALID_NODE_TOKEN",
        ),
        (
            request(connect_path, Some(&user.token), true, true),
            401,
            "INVALID_NODE_TOKEN",
        ),
        (
            request(connect_path, Some(&token), true, false),
            400,
            "NOT_A_WEBSOCKET",
        ),
        (
            request(connect_path, Some(&token), false, false),
            400,
            "NOT_A_WEBSOCKET",
        ),
        (
            request("/v1/function/list", Some(&user.token), true, true),
            404,
            "ROUTE_NOT_FOUND",
        ),
    ];
    for (request, status, code) in cases {
        assert_eq!(
            refusal(&app, &request).await,
            (status, code.to_owned()),
            "{request}"
        );
    }
    // Nothing of that disturbed the API.
    let response = app.get("/v1/function/list", &user.token).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_first_frame_sent_behind_the_upgrade_request_is_read(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (node, token) = register_node(&app, &user.token).await;
    let hello = WorkerMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        node_id: node,
        version: "test".into(),
        resources: resources(1024),
        warm_functions: vec![],
        running: vec![],
    });
    let mut bytes = request("/v1/worker/connect", Some(&token), true, true).into_bytes();
    bytes.extend(masked_text(&serde_json::to_vec(&hello).expect("json")));
    let mut stream = connect(&app).await;
    stream.write_all(&bytes).await.expect("write");

    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("text").to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    // The accept value RFC 6455 gives for its sample key.
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );

    let mut socket = WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
    let Some(Ok(Message::Text(text))) = socket.next().await else {
        panic!("expected welcome");
    };
    let welcome: DispatcherMessage = serde_json::from_str(&text).expect("a message");
    assert!(
        matches!(welcome, DispatcherMessage::Welcome(_)),
        "{welcome:?}"
    );
}

/// A text frame as a client sends it (masked with zeros, which leaves the payload as it is).
fn masked_text(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}
