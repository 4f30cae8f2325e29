//! Protocol abuse at the gateway: each bad connection is closed with a code; others carry on.

use canopy_shared::protocol::{DispatcherMessage, Hello, WorkerMessage, PROTOCOL_VERSION};
use futures_util::SinkExt;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::fake_worker::{open, register_node, resources, FakeWorker};
use crate::helpers::TestApp;

async fn refused_with(worker: &mut FakeWorker) -> String {
    match worker.recv().await {
        Some(DispatcherMessage::Error { code, .. }) => {
            assert!(
                worker.recv().await.is_none(),
                "the socket closes after the error"
            );
            code
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn missing_or_wrong_node_tokens_are_refused_before_the_upgrade(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(open(&app, "cnode_nothing").await.err(), Some(401));
    let user = app.signup("dev@example.com").await;
    assert_eq!(
        open(&app, &user.token).await.err(),
        Some(401),
        "an access token is not a node token"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_frames_unknown_types_and_wrong_hellos_close_only_that_connection(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (node, token) = register_node(&app, &user.token).await;
    let (other_node, other_token) = register_node(&app, &user.token).await;
    let mut healthy = FakeWorker::connect(&app, &other_node, &other_token, resources(1024)).await;

    let cases: Vec<(Message, &str)> = vec![
        (Message::text("{not json"), "MALFORMED_MESSAGE"),
        (Message::text(r#"{"type":"explode"}"#), "MALFORMED_MESSAGE"),
        (Message::binary(vec![1, 2, 3]), "BINARY_FRAME"),
        (
            Message::text(r#"{"type":"pull","credits":1}"#),
            "HELLO_EXPECTED",
        ),
    ];
    for (frame, code) in cases {
        let mut worker = FakeWorker {
            socket: open(&app, &token).await.expect("upgrade"),
        };
        worker.socket.send(frame).await.expect("send");
        assert_eq!(refused_with(&mut worker).await, code);
    }

    let mut wrong_node = FakeWorker {
        socket: open(&app, &token).await.expect("upgrade"),
    };
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        node_id: other_node.clone(),
        version: "t".into(),
        resources: resources(1),
        warm_functions: vec![],
        running: vec![],
    };
    wrong_node.send(&WorkerMessage::Hello(hello)).await;
    assert_eq!(refused_with(&mut wrong_node).await, "NODE_MISMATCH");

    let mut old_protocol = FakeWorker {
        socket: open(&app, &token).await.expect("upgrade"),
    };
    let hello = Hello {
        protocol: 99,
        node_id: node.clone(),
        version: "t".into(),
        resources: resources(1),
        warm_functions: vec![],
        running: vec![],
    };
    old_protocol.send(&WorkerMessage::Hello(hello)).await;
    assert_eq!(refused_with(&mut old_protocol).await, "PROTOCOL_MISMATCH");

    let mut connected = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    connected
        .socket
        .send(Message::text(
            r#"{"type":"started","taskId":"zz","attempt":1}"#,
        ))
        .await
        .expect("send");
    assert_eq!(refused_with(&mut connected).await, "MALFORMED_MESSAGE");

    // The healthy worker never noticed.
    healthy.pull(1).await;
    assert!(
        healthy
            .stays_quiet(std::time::Duration::from_millis(300))
            .await
    );
    let list: Vec<serde_json::Value> = app
        .get("/v1/node/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    let other = list
        .iter()
        .find(|n| n["hash"] == other_node)
        .expect("listed");
    assert_eq!(other["connected"], true);
}
