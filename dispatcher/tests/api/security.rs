//! Attacks on the worker gateway that must fail without costing the dispatcher memory.

use std::time::{Duration, Instant};

use canopy_shared::protocol::DispatcherMessage;
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::MaybeTlsStream;

use crate::fake_worker::{register_node, resources, FakeWorker};
use crate::helpers::TestApp;

/// Resident memory of this process (the dispatcher under test runs in it), KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_frame_announcing_more_than_the_limit_is_refused_before_its_payload_is_buffered(
    pool: PgPool,
) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.max_frame_bytes = 64 * 1024;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut attacker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    let before = resident_kib();

    // A masked text frame whose header claims 2^62 bytes, then as much payload as the socket
    // takes in three seconds (up to 256 MiB).
    let MaybeTlsStream::Plain(tcp) = attacker.socket.get_mut() else {
        panic!("the test socket is plain TCP");
    };
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    tcp.write_all(&header).await.expect("header sent");
    let junk = vec![b'x'; 1024 * 1024];
    let started = Instant::now();
    let mut sent_mib = 0;
    while sent_mib < 256 && started.elapsed() < Duration::from_secs(3) {
        match tokio::time::timeout(Duration::from_millis(500), tcp.write_all(&junk)).await {
            Ok(Ok(())) => sent_mib += 1,
            // The dispatcher stopped reading (or closed): it is not buffering any more.
            _ => break,
        }
    }

    let mut code = None;
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_secs(5), attacker.recv()).await
    {
        if let DispatcherMessage::Error { code: found, .. } = message {
            code = Some(found);
            break;
        }
    }
    assert_eq!(code.as_deref(), Some("MESSAGE_TOO_LARGE"));
    let grown_mib = resident_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 32,
        "the dispatcher grew by {grown_mib} MiB while {sent_mib} MiB were pushed at it"
    );

    // Everyone else is served as before.
    let (calm_node, calm_token) = register_node(&app, &user.token).await;
    let mut calm = FakeWorker::connect(&app, &calm_node, &calm_token, resources(1024)).await;
    calm.pull(1).await;
    assert!(calm.stays_quiet(Duration::from_millis(200)).await);
}
