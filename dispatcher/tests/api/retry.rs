//! `POST /v1/task/{id}/retry`: an ended task's request runs again as a new task.

use canopy_shared::protocol::decode_body;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, id_of, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_task_sends_the_same_request_again_as_a_new_task(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/task/{function}?name=Ada")))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .header("x-trace", "abc")
        .body(r#"{"n":1}"#)
        .send()
        .await
        .expect("sent");
    let first = id_of(response).await;
    let assignment = worker.expect_assign().await;
    worker
        .respond(&assignment, 500, "text/plain", b"boom")
        .await;
    let ended = app
        .get(&format!("/v1/task/{first}/result?wait=5"), &user.token)
        .await;
    assert_eq!(ended.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let retried = app
        .post(
            &format!("/v1/task/{first}/retry"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    let second = id_of(retried).await;
    assert_ne!(second, first);
    worker.pull(1).await;
    let again = worker.expect_assign().await;
    assert_eq!(again.task_id, second);
    assert_eq!(again.request.query, "name=Ada");
    assert_eq!(
        decode_body(&again.request.body).ok(),
        Some(br#"{"n":1}"#.to_vec())
    );
    assert_eq!(
        again.request.content_type.as_deref(),
        Some("application/json")
    );
    assert!(again
        .request
        .headers
        .contains(&("x-trace".to_owned(), "abc".to_owned())));
}

#[sqlx::test(migrations = "../migrations")]
async fn only_an_ended_task_of_ones_own_can_be_retried(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let queued = id_of(
        app.post(
            &format!("/v1/task/{function}"),
            Some(&user.token),
            json!({}),
        )
        .await,
    )
    .await;
    let live = app
        .post(
            &format!("/v1/task/{queued}/retry"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_problem(live, StatusCode::CONFLICT, "TASK_NOT_FINISHED").await;

    let other = app.signup("other@example.com").await;
    let foreign = app
        .post(
            &format!("/v1/task/{queued}/retry"),
            Some(&other.token),
            json!({}),
        )
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "TASK_NOT_FOUND").await;
    let malformed = app
        .post("/v1/task/nope/retry", Some(&user.token), json!({}))
        .await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "TASK_NOT_FOUND").await;

    // Cancelled, then paused: the retry is refused as a new task would be.
    app.post(
        &format!("/v1/task/{queued}/cancel"),
        Some(&user.token),
        json!({}),
    )
    .await;
    app.post(
        &format!("/v1/function/{function}/togglePause"),
        Some(&user.token),
        json!({}),
    )
    .await;
    let paused = app
        .post(
            &format!("/v1/task/{queued}/retry"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_problem(paused, StatusCode::CONFLICT, "FUNCTION_PAUSED").await;
}
