//! Triggers against the real dispatcher: managing them and their refusals (`manage`), firing
//! with a scripted worker, exactly once across replicas, crashes and chains (`firing`).

mod firing;
mod manage;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{id_of, TestApp};

/// Creates a trigger `from → to` firing on `status` (0 = any end).
pub async fn chain(
    app: &TestApp,
    token: &str,
    from: &str,
    to: &str,
    status: i64,
    include: bool,
) -> String {
    let body =
        json!({"functionId": from, "nextId": to, "status": status, "includeResult": include});
    let response = app.post("/v1/trigger", Some(token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

/// Ends every live task of `function` with `http_status`, as a worker's result would (one
/// statement, like the report writer's batch).
pub async fn finish_all(app: &TestApp, function: &str, http_status: i32) -> u64 {
    let function = canopy_shared::parse_id(function).expect("id");
    sqlx::query(
        "UPDATE tasks SET status = 'succeeded', response_status = $2, response_content_type = 'text/plain',
                response_body = 'out', finished_at = now()
         WHERE function_id = $1 AND status IN ('queued', 'assigned', 'running')",
    )
    .bind(function)
    .bind(http_status)
    .execute(&app.pool)
    .await
    .expect("update")
    .rows_affected()
}

/// Tasks of `function`.
pub async fn tasks_of(app: &TestApp, function: &str) -> i64 {
    let function = canopy_shared::parse_id(function).expect("id");
    sqlx::query_scalar("SELECT count(*) FROM tasks WHERE function_id = $1")
        .bind(function)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// Waits (≤ 10 s) until `function` has `count` tasks.
pub async fn until_tasks(app: &TestApp, function: &str, count: i64) {
    for _ in 0..200 {
        if tasks_of(app, function).await >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{function} never had {count} tasks");
}

/// The trigger as `GET /v1/trigger/{id}` shows it.
pub async fn trigger(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/v1/trigger/{id}"), token)
        .await
        .json()
        .await
        .expect("json")
}
