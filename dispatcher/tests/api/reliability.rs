//! Nothing lost, nothing stuck: leases, fencing, retries, idempotency and replicas sharing one
//! database, against scripted workers on real WebSockets.

use std::time::{Duration, Instant};

use canopy_shared::protocol::{
    DispatcherMessage, Heartbeat, Outcome, TaskResult, Timings, WorkerMessage,
};
use futures_util::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, id_of, TestApp};

pub(crate) async fn create(app: &TestApp, token: &str, function: &str) -> String {
    let response = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

pub(crate) async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
}

fn failed(task_id: &str, attempt: u32, retryable: bool) -> WorkerMessage {
    WorkerMessage::Result(TaskResult {
        regrant: false,
        image_pin: None,
        task_id: task_id.to_owned(),
        attempt,
        outcome: Outcome::Failed {
            message: "container could not start".into(),
            retryable,
        },
        timings: Timings::default(),
        usage: None,
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn heartbeats_keep_a_lease_and_a_silent_worker_loses_its_task(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.heartbeat_interval_ms = 300;
        settings.dispatch.lease_ms = 1500;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    worker.pull(2).await;
    let kept = create(&app, &user.token, &function).await;
    let kept_assignment = worker.expect_assign().await;
    let dropped = create(&app, &user.token, &function).await;
    let dropped_assignment = worker.expect_assign().await;
    assert_eq!(
        (
            kept_assignment.task_id.as_str(),
            dropped_assignment.task_id.as_str()
        ),
        (kept.as_str(), dropped.as_str())
    );

    // The worker reports only the first task as running, for longer than a lease.
    let beat = WorkerMessage::Heartbeat(Heartbeat {
        free_memory_mb: 1024,
        cpu_busy_percent: 1,
        running: vec![kept.clone()],
        warm_functions: vec![],
    });
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3000) {
        worker.send(&beat).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept_body: Value = app
        .get(&format!("/v1/task/{kept}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (kept_body["status"].as_str(), kept_body["attempt"].as_i64()),
        (Some("assigned"), Some(1)),
        "{kept_body}"
    );
    let dropped_body: Value = app
        .get(&format!("/v1/task/{dropped}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        dropped_body["attempt"], 2,
        "the unrenewed lease ran out: {dropped_body}"
    );
    assert!(metric(&app, "canopy_leases_expired_total").await >= 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_that_are_not_the_functions_fault_are_retried_then_fail(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.dispatch.max_attempts = 2).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    worker.pull(1).await;
    let task = create(&app, &user.token, &function).await;
    let first = worker.expect_assign().await;
    let failed_at = Instant::now();
    worker.send(&failed(&task, first.attempt, true)).await;
    worker.pull(1).await;
    let second = worker.expect_assign().await;
    assert_eq!(
        (second.task_id.as_str(), second.attempt),
        (task.as_str(), 2)
    );
    assert!(
        failed_at.elapsed() >= Duration::from_millis(400),
        "the retry waited for its backoff"
    );
    worker.send(&failed(&task, 2, true)).await;
    let body: Value = app
        .get(&format!("/v1/task/{task}/result?wait=5"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["code"], "TASK_FAILED");
    let task_body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(task_body["error"]["kind"], "worker_error");
    assert_eq!(metric(&app, "canopy_tasks_retried_total").await, 2);

    // A failure that is the function's (not retryable) is final at once.
    worker.pull(1).await;
    let other = create(&app, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    worker
        .send(&failed(&other, assignment.attempt, false))
        .await;
    let body: Value = app
        .get(&format!("/v1/task/{other}/result?wait=5"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["code"], "TASK_FAILED");
    let other_body: Value = app
        .get(&format!("/v1/task/{other}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            other_body["attempt"].as_i64(),
            other_body["error"]["kind"].as_str()
        ),
        (Some(1), Some("execution_failed"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn stale_messages_are_counted_and_change_nothing_while_foreign_ones_close_the_socket(
    pool: PgPool,
) {
    let app = TestApp::spawn_with(pool, |settings| settings.dispatch.disconnect_grace_s = 0).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let (other_node, other_token) = register_node(&app, &user.token).await;
    let mut first = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    first.pull(1).await;
    let task = create(&app, &user.token, &function).await;
    let old = first.expect_assign().await;
    drop(first);
    let mut second = FakeWorker::connect(&app, &other_node, &other_token, resources(1024)).await;
    second.pull(1).await;
    let current = second.expect_assign().await;
    assert_eq!(current.attempt, 2);

    let mut back = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    back.send(&WorkerMessage::Progress {
        task_id: task.clone(),
        attempt: old.attempt,
        percent: 50,
    })
    .await;
    back.respond(&old, 200, "text/plain", b"stale").await;
    assert!(
        back.stays_quiet(Duration::from_millis(500)).await,
        "stale messages do not close the socket"
    );
    let stale = metric(&app, "canopy_stale_messages_total").await;
    assert_eq!(stale, 3, "progress, started and result were fenced");
    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            body["status"].as_str(),
            body["progress"].as_i64(),
            body["node"].as_str()
        ),
        (Some("assigned"), Some(0), Some(other_node.as_str()))
    );

    // Claiming the current attempt from another node, or a task that does not exist, is forged.
    back.respond(&current, 200, "text/plain", b"forged").await;
    assert!(
        matches!(back.recv().await, Some(DispatcherMessage::Error { code, .. }) if code == "FOREIGN_TASK")
    );
    second.respond(&current, 200, "text/plain", b"real").await;
    let result = app
        .client
        .get(app.url(&format!("/v1/task/{task}/result?wait=5")))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.text().await.expect("text"), "real");
}

#[sqlx::test(migrations = "../migrations")]
async fn floods_and_oversized_messages_close_only_their_connection(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.worker_message_rate = 50;
        settings.dispatch.max_frame_bytes = 64 * 1024;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let (node, token) = register_node(&app, &user.token).await;
    let (calm_node, calm_token) = register_node(&app, &user.token).await;
    let mut calm = FakeWorker::connect(&app, &calm_node, &calm_token, resources(1024)).await;

    let mut flooder = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    for _ in 0..2000 {
        if flooder
            .socket
            .send(Message::text(r#"{"type":"pull","credits":1}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut code = None;
    while let Some(message) = flooder.recv().await {
        if let DispatcherMessage::Error { code: found, .. } = message {
            code = Some(found);
        }
    }
    assert_eq!(code.as_deref(), Some("FLOOD"));

    let mut big = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    let huge = format!(
        r#"{{"type":"goodbye","reason":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    big.socket.send(Message::text(huge)).await.expect("sent");
    assert!(
        matches!(big.recv().await, Some(DispatcherMessage::Error { code, .. }) if code == "MESSAGE_TOO_LARGE")
    );

    calm.pull(1).await;
    assert!(
        calm.stays_quiet(Duration::from_millis(300)).await,
        "the calm worker is still connected"
    );
    assert!(metric(&app, "canopy_protocol_violations_total").await >= 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_idempotency_key_returns_the_first_task_and_refuses_a_different_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let send = |key: &str, body: &'static str| {
        app.client
            .post(app.url(&format!("/v1/task/{function}?a=1")))
            .bearer_auth(&user.token)
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let first = send("order-42", "same").await.expect("sent");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = id_of(first).await;
    let again = send("order-42", "same").await.expect("sent");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(id_of(again).await, first);
    let different = send("order-42", "other body").await.expect("sent");
    assert_problem(
        different,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    let fresh = send("order-43", "same").await.expect("sent");
    assert_ne!(id_of(fresh).await, first);
    let list: Vec<Value> = app
        .get("/v1/task/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 2, "replays created nothing");
    let empty = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(&user.token)
        .header("idempotency-key", "")
        .send()
        .await
        .expect("sent");
    assert_problem(empty, StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn two_replicas_act_as_one_through_the_database(pool: PgPool) {
    let one = TestApp::spawn(pool.clone()).await;
    let two = TestApp::spawn(pool).await;
    let user = one.signup("dev@example.com").await;
    let function = deployed_function(&one, &user.token).await;
    let (node, token) = register_node(&one, &user.token).await;
    let mut worker = FakeWorker::connect(&one, &node, &token, resources(1024)).await;
    worker.pull(2).await;

    // Created on replica two, run by the worker on replica one; the caller on two is woken.
    let client = two.client.clone();
    let url = two.url(&format!("/v1/task/{function}"));
    let bearer = user.token.clone();
    let caller = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(bearer)
            .header("prefer", "wait=20")
            .body("hi")
            .send()
            .await
            .expect("sent")
    });
    let assignment = worker.expect_assign().await;
    worker
        .respond(&assignment, 200, "text/plain", b"from replica one")
        .await;
    let response = caller.await.expect("joined");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("text"), "from replica one");

    // A cancel on replica two reaches the worker on replica one.
    let task = create(&two, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, task);
    let cancel = two
        .send(
            Method::POST,
            &format!("/v1/task/{task}/cancel"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert!(
        matches!(worker.recv().await, Some(DispatcherMessage::Cancel { task_id, .. }) if task_id == task)
    );

    // Deleting the node on replica two closes its socket on replica one within a second.
    let started = Instant::now();
    let delete = two
        .send(
            Method::DELETE,
            &format!("/v1/node/{node}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    while let Some(message) = worker.recv().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still open after a second: {message:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_worker_back_without_its_tasks_loses_them_at_once_and_keeps_the_ones_it_reports(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    worker.pull(2).await;
    let kept = create(&app, &user.token, &function).await;
    worker.expect_assign().await;
    let forgotten = create(&app, &user.token, &function).await;
    worker.expect_assign().await;
    drop(worker);

    // Back well within the 10 s grace, still running only the first task.
    let started = Instant::now();
    let mut back =
        FakeWorker::connect_running(&app, &node, &token, resources(1024), vec![kept.clone()]).await;
    back.pull(1).await;
    let again = back.expect_assign().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "re-queued at hello, not after the grace"
    );
    assert_eq!(
        (again.task_id.as_str(), again.attempt),
        (forgotten.as_str(), 2)
    );
    let body: Value = app
        .get(&format!("/v1/task/{kept}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (body["status"].as_str(), body["attempt"].as_i64()),
        (Some("assigned"), Some(1))
    );
}
