//! The tasks API against a scripted worker on a real WebSocket: create, assign, result replay,
//! `Prefer: wait`, pending reasons, pause, cancel, and re-queueing after a lost worker.

use std::time::Duration;

use canopy_shared::protocol::{decode_body, DispatcherMessage};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, id_of, TestApp};

async fn create_task(
    app: &TestApp,
    token: &str,
    function: &str,
    query: &str,
    body: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/task/{function}{query}")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("x-trace", "abc")
        .header("cookie", "secret=1")
        .body(body.to_vec())
        .send()
        .await
        .expect("sent")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_reaches_a_worker_and_its_result_is_replayed_byte_for_byte(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;

    let response = create_task(
        &app,
        &user.token,
        &function,
        "?name=Ada&x=1",
        br#"{"hello":"world"}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let task = id_of(response).await;

    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, task);
    assert_eq!(assignment.attempt, 1);
    assert_eq!(assignment.request.method, "POST");
    assert_eq!(assignment.request.query, "name=Ada&x=1");
    assert_eq!(
        decode_body(&assignment.request.body).ok(),
        Some(br#"{"hello":"world"}"#.to_vec())
    );
    assert_eq!(
        assignment.request.content_type.as_deref(),
        Some("application/json")
    );
    assert!(assignment
        .request
        .headers
        .contains(&("x-trace".to_owned(), "abc".to_owned())));
    assert!(!assignment
        .request
        .headers
        .iter()
        .any(|(name, _)| name == "cookie" || name == "authorization"));
    assert_eq!(assignment.function.function_id, function);
    assert_eq!(assignment.function.artifact_sha256.len(), 64);

    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    worker.respond(&assignment, 201, "image/png", &binary).await;

    let result = app
        .client
        .get(app.url(&format!("/v1/task/{task}/result?wait=5")))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.status(), StatusCode::CREATED);
    assert_eq!(result.headers()["content-type"], "image/png");
    assert_eq!(result.bytes().await.expect("body").to_vec(), binary);

    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["httpStatus"], 201);
    assert_eq!(body["node"], node);
    assert_eq!(body["progress"], 100);
    assert_eq!(body["timings"]["warm"], true);
    assert!(body["finished"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body.get("pendingReason").is_none());
    let list: Vec<Value> = app
        .get("/v1/task/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["status"], 201);
    assert_eq!(list[0]["state"], "succeeded");
    let function_body: Value = app
        .get(&format!("/v1/function/{function}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(function_body["metrics"]["completedTasks"], 1);
    assert_eq!(function_body["metrics"]["todaysTasks"], 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn prefer_wait_returns_the_functions_response_itself(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;

    let client = app.client.clone();
    let url = app.url(&format!("/v1/task/{function}"));
    let token = user.token.clone();
    let caller = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token)
            .header("prefer", "wait=10")
            .body("ping")
            .send()
            .await
            .expect("sent")
    });
    let assignment = worker.expect_assign().await;
    worker
        .respond(&assignment, 200, "text/plain", b"pong")
        .await;
    let response = caller.await.expect("joined");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["preference-applied"], "wait=10");
    assert_eq!(response.text().await.expect("text"), "pong");

    // Nobody answers: after the wait the caller gets 202 and the id.
    let response = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(&user.token)
        .header("prefer", "wait=1")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(id_of(response).await.len(), 32);
}

#[sqlx::test(migrations = "../migrations")]
async fn no_build_is_no_runner_and_a_paused_function_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let bare = app.create_function(&user.token, "Bare", &[]).await;
    assert_problem(
        create_task(&app, &user.token, &bare, "", b"{}").await,
        StatusCode::CONFLICT,
        "NO_RUNNER",
    )
    .await;
    let function = deployed_function(&app, &user.token).await;
    let toggle = app
        .send(
            Method::POST,
            &format!("/v1/function/{function}/togglePause"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(toggle.status(), StatusCode::NO_CONTENT);
    assert_problem(
        create_task(&app, &user.token, &function, "", b"{}").await,
        StatusCode::CONFLICT,
        "FUNCTION_PAUSED",
    )
    .await;
    let foreign = app.signup("other@example.com").await;
    assert_problem(
        create_task(&app, &foreign.token, &function, "", b"{}").await,
        StatusCode::NOT_FOUND,
        "FUNCTION_NOT_FOUND",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn queued_tasks_of_a_paused_function_are_held_then_run_after_unpause(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let task = id_of(create_task(&app, &user.token, &function, "", b"{}").await).await;
    let toggle = format!("/v1/function/{function}/togglePause");
    assert_eq!(
        app.send(Method::POST, &toggle, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    assert!(
        worker.stays_quiet(Duration::from_millis(1500)).await,
        "a paused function's task is held"
    );
    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "queued");
    assert!(
        body["pendingReason"]
            .as_str()
            .is_some_and(|reason| reason.contains("paused")),
        "{body}"
    );

    assert_eq!(
        app.send(Method::POST, &toggle, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_needing_more_memory_than_offered_waits_and_says_why(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let caps = app
        .post(
            &format!("/v1/function/{function}/capabilities"),
            Some(&user.token),
            json!({"memSize": 2048}),
        )
        .await;
    assert_eq!(caps.status(), StatusCode::NO_CONTENT);
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut small = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    small.pull(2).await;

    let task = id_of(create_task(&app, &user.token, &function, "", b"{}").await).await;
    assert!(
        small.stays_quiet(Duration::from_millis(1500)).await,
        "a 1024 MB worker gets no 2048 MB task"
    );
    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "queued");
    assert_eq!(
        body["pendingReason"],
        "no connected node has 2048 MB free for runtime py (most: 1024 MB)"
    );

    let (big_node, big_token) = register_node(&app, &user.token).await;
    let mut big = FakeWorker::connect(&app, &big_node, &big_token, resources(4096)).await;
    big.pull(1).await;
    assert_eq!(big.expect_assign().await.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn results_are_202_while_pending_and_cancel_reaches_the_worker(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let queued = id_of(create_task(&app, &user.token, &function, "", b"{}").await).await;
    let pending = app
        .get(&format!("/v1/task/{queued}/result"), &user.token)
        .await;
    assert_eq!(pending.status(), StatusCode::ACCEPTED);
    assert_eq!(pending.headers()["retry-after"], "1");
    let body: Value = app
        .get(&format!("/v1/task/{queued}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["pendingReason"],
        "no node of this account or its pools is connected (capability volunteers is off)"
    );

    let cancel = app
        .send(
            Method::POST,
            &format!("/v1/task/{queued}/cancel"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert_problem(
        app.get(&format!("/v1/task/{queued}/result"), &user.token)
            .await,
        StatusCode::CONFLICT,
        "TASK_CANCELLED",
    )
    .await;
    let again = app
        .send(
            Method::POST,
            &format!("/v1/task/{queued}/cancel"),
            Some(&user.token),
            None,
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "TASK_FINISHED").await;

    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    let running = id_of(create_task(&app, &user.token, &function, "", b"{}").await).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, running);
    let cancel = app
        .send(
            Method::POST,
            &format!("/v1/task/{running}/cancel"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    match worker.recv().await {
        Some(DispatcherMessage::Cancel { task_id, attempt }) => {
            assert_eq!((task_id, attempt), (running.clone(), 1))
        }
        other => panic!("expected cancel, got {other:?}"),
    }
    // A late result for the cancelled attempt changes nothing.
    worker
        .respond(&assignment, 200, "text/plain", b"too late")
        .await;
    let body: Value = app
        .get(&format!("/v1/task/{running}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "cancelled");
    let other = app.signup("other@example.com").await;
    let foreign = app
        .send(
            Method::POST,
            &format!("/v1/task/{running}/cancel"),
            Some(&other.token),
            None,
        )
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "TASK_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lost_workers_task_is_requeued_after_the_grace_period_and_runs_elsewhere(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.dispatch.disconnect_grace_s = 1).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut first = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    first.pull(1).await;
    let task = id_of(create_task(&app, &user.token, &function, "", b"{}").await).await;
    let lost = first.expect_assign().await;
    drop(first);

    let (other_node, other_token) = register_node(&app, &user.token).await;
    let mut second = FakeWorker::connect(&app, &other_node, &other_token, resources(1024)).await;
    second.pull(1).await;
    let retried = second.expect_assign().await;
    assert_eq!(retried.task_id, task);
    assert_eq!(
        retried.attempt, 2,
        "the new attempt is fenced from the old one"
    );
    second.respond(&retried, 200, "text/plain", b"second").await;

    // The first worker comes back with a result for attempt 1: refused.
    let mut back = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    back.respond(&lost, 200, "text/plain", b"stale").await;
    let result = app
        .client
        .get(app.url(&format!("/v1/task/{task}/result?wait=5")))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.text().await.expect("text"), "second");
    let body: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["attempt"], 2);
    assert_eq!(body["node"], other_node);
}
