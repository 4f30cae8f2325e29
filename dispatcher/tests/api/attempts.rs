//! `GET /v1/task/{id}/attempts`: an attempt given up after a worker fault is kept with its node
//! and reason, followed by the current attempt.

use canopy_shared::protocol::{encode_body, Outcome, TaskResult, Timings, WorkerMessage};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, TestApp};
use crate::reliability::create;

fn result(task_id: &str, attempt: u32, outcome: Outcome) -> WorkerMessage {
    WorkerMessage::Result(TaskResult {
        regrant: false,
        image_pin: None,
        task_id: task_id.to_owned(),
        attempt,
        outcome,
        timings: Timings::default(),
        usage: None,
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_task_lists_the_given_up_attempt_then_the_current_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    worker.pull(1).await;
    let task = create(&app, &user.token, &function).await;
    let first = worker.expect_assign().await;
    let fault = Outcome::Failed {
        message: "container could not start".into(),
        retryable: true,
    };
    worker.send(&result(&task, first.attempt, fault)).await;
    worker.pull(1).await;
    let second = worker.expect_assign().await;
    assert_eq!(second.attempt, 2);
    let answer = Outcome::Response {
        status: 200,
        content_type: Some("text/plain".into()),
        body: encode_body(b"ok"),
        error: None,
    };
    worker.send(&result(&task, 2, answer)).await;
    let done = app
        .get(&format!("/v1/task/{task}/result?wait=5"), &user.token)
        .await;
    assert_eq!(done.status(), StatusCode::OK);

    let response = app
        .get(&format!("/v1/task/{task}/attempts"), &user.token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let attempts: Value = response.json().await.expect("json");
    let attempts = attempts.as_array().expect("an array");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["state"], "given_up");
    assert_eq!(attempts[0]["nodeId"], node.as_str());
    assert_eq!(attempts[0]["reason"], "container could not start");
    assert!(attempts[0]["assignedAt"].is_string(), "{:?}", attempts[0]);
    assert!(attempts[0]["endedAt"].is_string());
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[1]["state"], "succeeded");
    assert_eq!(attempts[1]["reason"], Value::Null);

    let bob = app.signup("bob@example.com").await;
    let foreign = app
        .get(&format!("/v1/task/{task}/attempts"), &bob.token)
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "TASK_NOT_FOUND").await;
    let malformed = app.get("/v1/task/nope/attempts", &user.token).await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "TASK_NOT_FOUND").await;
}
