//! Attacks on the worker gateway that must fail without costing the dispatcher memory.

use std::time::{Duration, Instant};

use canopy_shared::protocol::{DispatcherMessage, Heartbeat, WorkerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::MaybeTlsStream;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::TestApp;
use crate::reliability::{create, metric};

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

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_cannot_keep_a_task_running_past_its_timeout(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.heartbeat_interval_ms = 300;
        settings.dispatch.lease_ms = 1500;
        settings.dispatch.timeout_grace_s = 0;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let caps = app
        .post(
            &format!("/v1/function/{function}/capabilities"),
            Some(&user.token),
            json!({"timeout": 10}),
        )
        .await;
    assert_eq!(caps.status(), StatusCode::NO_CONTENT);
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    worker.pull(1).await;
    let task = create(&app, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    worker
        .send(&WorkerMessage::Started {
            task_id: task.clone(),
            attempt: assignment.attempt,
        })
        .await;

    // The worker keeps saying the task runs, well past its 10 s timeout.
    let beat = WorkerMessage::Heartbeat(Heartbeat {
        free_memory_mb: 1024,
        cpu_busy_percent: 1,
        running: vec![task.clone()],
        warm_functions: vec![],
    });
    let started = Instant::now();
    let mut cancelled = false;
    while started.elapsed() < Duration::from_secs(14) && !cancelled {
        worker.send(&beat).await;
        if let Ok(Some(DispatcherMessage::Cancel { task_id, .. })) =
            tokio::time::timeout(Duration::from_millis(200), worker.recv()).await
        {
            cancelled = task_id == task;
        }
    }
    assert!(cancelled, "the worker is told to stop the attempt");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "not before its timeout"
    );
    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (body["status"].as_str(), body["error"]["kind"].as_str()),
        (Some("timed_out"), Some("timeout")),
        "{body}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn result_waits_that_end_or_are_abandoned_leave_no_waiter_behind(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    // Unknown tasks: answered at once.
    for _ in 0..500 {
        let id = canopy_shared::format_id(canopy_shared::new_id());
        let response = app
            .get(&format!("/v1/task/{id}/result?wait=30"), &user.token)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // A queued task (no worker): callers that hang up mid-wait. Their waits run to the end of
    // `wait` (actix finishes a handler whose client left) and must then be gone.
    let task = create(&app, &user.token, &function).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    for _ in 0..20 {
        let gone = impatient
            .get(app.url(&format!("/v1/task/{task}/result?wait=1")))
            .bearer_auth(&user.token)
            .send()
            .await;
        assert!(gone.is_err(), "the client gave up first");
    }
    let started = Instant::now();
    let mut waiting = metric(&app, "canopy_awaited_tasks").await;
    while waiting > 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waiting = metric(&app, "canopy_awaited_tasks").await;
    }
    assert_eq!(waiting, 0, "abandoned waits are forgotten");
}
