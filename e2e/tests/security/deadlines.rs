//! A node that keeps renewing its lease cannot keep a task running past its timeout: the timeout
//! is a hard deadline the dispatcher enforces.

use std::time::{Duration, Instant};

use canopy_e2e::harness::docker_tests_enabled;
use canopy_shared::protocol::{DispatcherMessage, Heartbeat, WorkerMessage};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::node::ScriptedNode;
use crate::target::Target;

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_cannot_keep_a_task_running_past_its_timeout(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let flags = [
        "--heartbeat-interval-ms",
        "300",
        "--lease-ms",
        "1500",
        "--timeout-grace-s",
        "0",
    ];
    let target = Target::start(&pool, &flags).await;
    let capabilities = target
        .client
        .post(target.url(&format!("/v1/function/{}/capabilities", target.function)))
        .bearer_auth(&target.token)
        .json(&json!({"timeout": 10}))
        .send()
        .await
        .expect("sent");
    assert_eq!(capabilities.status(), StatusCode::NO_CONTENT);
    let (node, token) = target.register_node(&target.token).await;
    let mut worker = ScriptedNode::connect(&target.base, &node, &token).await;
    worker.send(&WorkerMessage::Pull { credits: 1 }).await;
    let task = target.submit().await;
    let attempt = match worker.recv(Duration::from_secs(10)).await {
        Some(DispatcherMessage::Assign(assignment)) => assignment.attempt,
        other => panic!("expected the task, got {other:?}"),
    };
    worker
        .send(&WorkerMessage::Started {
            task_id: task.clone(),
            attempt,
        })
        .await;

    // The node keeps saying the task runs, well past its 10 s timeout (the contract's minimum).
    let beat = WorkerMessage::Heartbeat(Heartbeat {
        free_memory_mb: 1024,
        cpu_busy_percent: 1,
        running: vec![task.clone()],
        warm_functions: vec![],
    });
    let started = Instant::now();
    let mut cancelled = false;
    while started.elapsed() < Duration::from_secs(16) && !cancelled {
        worker.send(&beat).await;
        if let Some(DispatcherMessage::Cancel { task_id, .. }) =
            worker.recv(Duration::from_millis(200)).await
        {
            cancelled = task_id == task;
        }
    }
    assert!(cancelled, "the node is told to stop the attempt");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(9) && elapsed < Duration::from_secs(14),
        "ended {elapsed:?} after start, for a 10 s timeout"
    );
    let view = target.task(&task).await;
    assert_eq!(
        (view["status"].as_str(), view["error"]["kind"].as_str()),
        (Some("timed_out"), Some("timeout")),
        "{view}"
    );
}
