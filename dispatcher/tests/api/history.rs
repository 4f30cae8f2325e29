//! Task history: list filters and their paging, the CSV export, retention.

use canopy_dispatcher::history::{retention_run_once, HistorySettings};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::fake_worker::deployed_function;
use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp};

async fn task(app: &TestApp, token: &str, function: &str) -> Uuid {
    let id = id_of(
        app.post(&format!("/v1/task/{function}"), Some(token), json!({}))
            .await,
    )
    .await;
    canopy_shared::parse_id(&id).expect("id")
}

/// Ends a task with a response, as a worker's result would.
async fn finish(app: &TestApp, id: Uuid, status: &str, http: i32, body: &[u8]) {
    sqlx::query(
        "UPDATE tasks SET status = $2, response_status = $3, response_content_type = 'text/plain',
                response_body = $4, finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(http)
    .bind(body)
    .execute(&app.pool)
    .await
    .expect("finish");
}

async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let list: Value = app
        .get(&format!("/v1/task/list?{query}"), token)
        .await
        .json()
        .await
        .expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_task_list_filters_by_function_status_and_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (a, b) = (
        deployed_function(&app, &user.token).await,
        deployed_function(&app, &user.token).await,
    );
    let ok = task(&app, &user.token, &a).await;
    let missing = task(&app, &user.token, &a).await;
    let queued = task(&app, &user.token, &b).await;
    finish(&app, ok, "succeeded", 200, b"fine").await;
    finish(&app, missing, "succeeded", 404, b"nope").await;
    sqlx::query("UPDATE tasks SET issued_at = now() - interval '3 days' WHERE id = $1")
        .bind(queued)
        .execute(&app.pool)
        .await
        .expect("age");
    let f = canopy_shared::format_id;
    assert_eq!(
        ids(&app, &user.token, &format!("functionId={a}")).await,
        [f(ok), f(missing)]
    );
    assert_eq!(ids(&app, &user.token, "status=404").await, [f(missing)]);
    assert_eq!(ids(&app, &user.token, "status=queued").await, [f(queued)]);
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).timestamp();
    assert_eq!(
        ids(&app, &user.token, &format!("until={two_days_ago}")).await,
        [f(queued)]
    );
    assert_eq!(
        ids(
            &app,
            &user.token,
            &format!("since={two_days_ago}&status=succeeded")
        )
        .await
        .len(),
        2
    );

    let page = app
        .get("/v1/task/list?limit=1&status=succeeded", &user.token)
        .await;
    let link = page.headers()["link"].to_str().expect("ascii").to_owned();
    assert!(
        link.contains("status=succeeded") && link.contains("cursor="),
        "{link}"
    );
    for (query, field) in [
        ("status=done", "status"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
    ] {
        assert_invalid_field(
            app.get(&format!("/v1/task/list?{query}"), &user.token)
                .await,
            field,
        )
        .await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_csv_export_streams_a_functions_tasks(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let first = task(&app, &user.token, &function).await;
    let second = task(&app, &user.token, &function).await;
    let pending = task(&app, &user.token, &function).await;
    finish(&app, first, "succeeded", 200, b"hello, world").await;
    finish(&app, second, "succeeded", 500, b"=cmd()").await;

    let response = app
        .get(
            &format!("/v1/task/{function}/csv?showPlain=true"),
            &user.token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    let text = response.text().await.expect("csv");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "ID,IssuedAt,Status,ContentType,Body");
    let f = canopy_shared::format_id;
    assert!(
        lines[1].starts_with(&f(first)) && lines[1].ends_with(",200,text/plain,\"hello, world\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(",500,text/plain,'=cmd()"),
        "a formula is defused: {}",
        lines[2]
    );
    assert!(
        lines[3].starts_with(&f(pending)) && lines[3].ends_with(",0,,"),
        "{}",
        lines[3]
    );
    assert_eq!(lines.len(), 5, "three rows and the final line break");

    let base64 = app
        .get(&format!("/v1/task/{function}/csv"), &user.token)
        .await
        .text()
        .await
        .expect("csv");
    assert!(base64.contains(",aGVsbG8sIHdvcmxk\r\n"), "{base64}");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let none = app
        .get(
            &format!("/v1/task/{function}/csv?dateSince={tomorrow}"),
            &user.token,
        )
        .await
        .text()
        .await
        .expect("csv");
    assert_eq!(none, "ID,IssuedAt,Status,ContentType,Body\r\n");

    let scheduled = app
        .post(
            "/v1/scheduled",
            Some(&user.token),
            json!({"functionId": function, "cron": "@daily", "timezone": "UTC"}),
        )
        .await;
    let schedule = id_of(scheduled).await;
    let tried = id_of(
        app.send(
            reqwest::Method::POST,
            &format!("/v1/scheduled/{schedule}/try"),
            Some(&user.token),
            None,
        )
        .await,
    )
    .await;
    let only = app
        .get(
            &format!("/v1/task/{function}/csv?scheduledId={schedule}"),
            &user.token,
        )
        .await
        .text()
        .await
        .expect("csv");
    assert_eq!(only.lines().count(), 2);
    assert!(only.contains(&tried));

    let foreign = app
        .get(&format!("/v1/task/{function}/csv"), &other.token)
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    for (query, field) in [
        ("dateSince=soon", "dateSince"),
        ("dateUntil=x", "dateUntil"),
        ("scheduledId=x", "scheduledId"),
    ] {
        let response = app
            .get(&format!("/v1/task/{function}/csv?{query}"), &user.token)
            .await;
        assert_invalid_field(response, field).await;
    }
    let unknown = app
        .get(&format!("/v1/task/{function}/csv?plain=1"), &user.token)
        .await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "INVALID_QUERY").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_deletes_old_finished_tasks_in_batches(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    // Task ids are UUIDv7: an id from three days ago is a task issued three days ago.
    let old_ms = (chrono::Utc::now() - chrono::Duration::days(3)).timestamp_millis() as u128;
    let mut old = Vec::new();
    for n in 0..5u128 {
        let id = task(&app, &user.token, &function).await;
        let aged = Uuid::from_u128((old_ms << 80) | (0x7 << 76) | n);
        sqlx::query("UPDATE tasks SET id = $2 WHERE id = $1")
            .bind(id)
            .bind(aged)
            .execute(&app.pool)
            .await
            .expect("age");
        old.push(aged);
    }
    for id in &old[..4] {
        finish(&app, *id, "succeeded", 200, b"x").await;
    }
    let recent = task(&app, &user.token, &function).await;
    finish(&app, recent, "succeeded", 200, b"x").await;
    let settings = HistorySettings {
        retention_days: 2,
        retention_batch: 3,
    };
    assert_eq!(
        retention_run_once(&app.state, &settings)
            .await
            .expect("sweep"),
        4
    );
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tasks ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    assert_eq!(
        left,
        [old[4], recent],
        "the old live task and the recent one stay"
    );
}
