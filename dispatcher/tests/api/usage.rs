//! `GET /v1/metrics` and `GET /v1/function/{id}/metrics` after real tasks on a scripted worker.

use canopy_shared::protocol::{encode_body, Outcome, TaskResult, Timings, WorkerMessage};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, TestApp};
use crate::reliability::metric;

async fn run_task(app: &TestApp, token: &str, function: &str, worker: &mut FakeWorker, ok: bool) {
    let created = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    let assignment = worker.expect_assign().await;
    let (status, error) = if ok {
        (200, None)
    } else {
        (500, Some("boom".to_owned()))
    };
    let result = TaskResult {
        regrant: false,
        image_pin: None,
        task_id: assignment.task_id.clone(),
        attempt: assignment.attempt,
        outcome: Outcome::Response {
            status,
            content_type: Some("text/plain".into()),
            body: encode_body(b"x"),
            error,
        },
        timings: Timings {
            init_ms: 0,
            exec_ms: 250,
            warm: true,
        },
        usage: None,
    };
    worker.send(&WorkerMessage::Result(result)).await;
    worker.pull(1).await;
}

async fn metrics(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_the_callers_tasks_nodes_and_execution_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (node, node_token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    run_task(&app, &alice.token, &function, &mut worker, true).await;
    run_task(&app, &alice.token, &function, &mut worker, false).await;

    // Results are written in batches: wait until both are counted.
    let mut account = Value::Null;
    for _ in 0..50 {
        account = metrics(&app, &alice.token, "/v1/metrics").await;
        if account["completedTasks"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(account["completedTasks"], 2, "{account}");
    assert_eq!(account["todayTasks"], 2);
    assert_eq!(account["monthTasks"], 2);
    assert_eq!(account["pendingTasks"], 0);
    assert_eq!(account["successRate"], 0.5);
    assert_eq!(account["executionSeconds"], 0.5);
    assert_eq!(account["activeNodes"], 1);
    assert_eq!(account["pendingBuilds"], 0);
    // Prometheus carries the same names for the whole platform.
    assert_eq!(metric(&app, "canopy_today_tasks").await, 2);
    assert_eq!(metric(&app, "canopy_month_tasks").await, 2);
    assert_eq!(metric(&app, "canopy_pending_tasks").await, 0);

    let one = metrics(
        &app,
        &alice.token,
        &format!("/v1/function/{function}/metrics"),
    )
    .await;
    assert_eq!(
        (one["todayTasks"].clone(), one["successRate"].clone()),
        (2.into(), 0.5.into())
    );

    let bob = app.signup("bob@example.com").await;
    let nothing = metrics(&app, &bob.token, "/v1/metrics").await;
    assert_eq!(
        (
            nothing["todayTasks"].clone(),
            nothing["activeNodes"].clone()
        ),
        (0.into(), 0.into())
    );
    assert_eq!(nothing["successRate"], Value::Null, "no ended task yet");
    let foreign = app
        .get(&format!("/v1/function/{function}/metrics"), &bob.token)
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let anonymous = app
        .client
        .get(app.url("/v1/metrics"))
        .send()
        .await
        .expect("sent");
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}
