//! `/v1/stats` (overview, node outcomes) and `/v1/task/search`: figures and filters scoped to
//! the caller (admins: everyone), with bad input refused by field.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp};

/// Logs in a new admin account; returns its access token.
pub async fn admin_token(app: &TestApp, pool: &PgPool) -> String {
    let args = canopy_dispatcher::cli::CreateAdmin {
        email: "root@example.com".into(),
        password: "Adm1n!pass".into(),
        name: "A".into(),
        surname: "B".into(),
    };
    canopy_dispatcher::admin::create_admin(pool, &args)
        .await
        .expect("admin");
    let login: Value = app
        .login("root@example.com", "Adm1n!pass", None)
        .await
        .json()
        .await
        .expect("json");
    login["accessToken"].as_str().expect("token").to_owned()
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("json")
}

fn total(overview: &Value, field: &str) -> i64 {
    overview["minutes"]
        .as_array()
        .expect("minutes")
        .iter()
        .map(|minute| minute[field].as_i64().expect("count"))
        .sum()
}

async fn task(app: &TestApp, token: &str, function: &str) -> String {
    let response = app
        .post(&format!("/v1/task/{function}"), Some(token), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_overview_counts_the_callers_tasks_and_nodes_and_admins_see_everyone(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    let done = task(&app, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    worker.respond(&assignment, 200, "text/plain", b"hi").await;
    let result = app
        .get(&format!("/v1/task/{done}/result?wait=5"), &user.token)
        .await;
    assert_eq!(result.status(), StatusCode::OK);
    // The figures are read from the database: wait until the result is written there too
    // (a task's GET does), not just handed to the waiting caller.
    assert_eq!(
        app.get(&format!("/v1/task/{done}"), &user.token)
            .await
            .status(),
        StatusCode::OK
    );

    let overview = json_of(&app, "/v1/stats/overview", &user.token).await;
    assert_eq!(overview["scope"], "account");
    assert_eq!(overview["windowMinutes"], 30);
    assert_eq!(overview["minutes"].as_array().expect("minutes").len(), 30);
    assert_eq!(total(&overview, "issued"), 1);
    assert_eq!(total(&overview, "assigned"), 1);
    assert_eq!(total(&overview, "succeeded"), 1);
    assert_eq!(total(&overview, "failed"), 0);
    assert_eq!(
        overview["live"],
        json!({"queued": 0, "assigned": 0, "running": 0})
    );
    assert_eq!(overview["queueWaitMs"]["samples"], 1);
    assert!(overview["queueWaitMs"]["p95"].as_f64().is_some());
    assert_eq!(overview["nodes"]["connected"], 1);
    assert_eq!(overview["nodes"]["idle"], 1);
    assert_eq!(overview["nodes"]["busy"], 0);
    assert_eq!(
        overview["capacity"],
        json!({"cpus": 2, "memoryMb": 1024, "slots": 4, "runningTasks": 0})
    );

    let outcomes = json_of(&app, "/v1/stats/nodes?minutes=60", &user.token).await;
    assert_eq!(
        outcomes,
        json!([{"hash": node, "succeeded": 1, "failed": 0, "failureRate": 0.0}])
    );

    // Another account sees none of it; an admin sees all of it.
    let other = app.signup("other@example.com").await;
    let theirs = json_of(&app, "/v1/stats/overview?minutes=5", &other.token).await;
    assert_eq!(theirs["minutes"].as_array().expect("minutes").len(), 5);
    assert_eq!(total(&theirs, "issued"), 0);
    assert_eq!(theirs["nodes"]["total"], 0);
    assert_eq!(
        json_of(&app, "/v1/stats/nodes", &other.token).await,
        json!([])
    );
    let admin = admin_token(&app, &pool).await;
    let everyone = json_of(&app, "/v1/stats/overview", &admin).await;
    assert_eq!(everyone["scope"], "all");
    assert_eq!(total(&everyone, "succeeded"), 1);
    assert_eq!(everyone["nodes"]["connected"], 1);

    // The task search finds it by node and state, with its function's name and outcome.
    let found = json_of(
        &app,
        &format!("/v1/task/search?node={node}&status=succeeded"),
        &user.token,
    )
    .await;
    assert_eq!(found["results"].as_array().expect("results").len(), 1);
    assert_eq!(found["results"][0]["id"], done);
    assert_eq!(found["results"][0]["functionName"], "Echo");
    assert_eq!(found["results"][0]["httpStatus"], 200);
    assert_eq!(found["next"], Value::Null);
}

#[sqlx::test(migrations = "../migrations")]
async fn stats_refuse_a_bad_window_and_anonymous_callers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    for path in [
        "/v1/stats/overview?minutes=0",
        "/v1/stats/nodes?minutes=1441",
    ] {
        assert_invalid_field(app.get(path, &user.token).await, "minutes").await;
    }
    let bad = app
        .get("/v1/stats/overview?minutes=many", &user.token)
        .await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "INVALID_QUERY").await;
    let anonymous = app
        .client
        .get(app.url("/v1/stats/overview"))
        .send()
        .await
        .expect("sent");
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_task_search_pages_newest_first_and_filters_by_state_function_and_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let first = task(&app, &user.token, &function).await;
    let second = task(&app, &user.token, &function).await;
    let third = task(&app, &user.token, &function).await;
    let cancel = app
        .post(
            &format!("/v1/task/{second}/cancel"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert!(cancel.status().is_success());

    let page = json_of(&app, "/v1/task/search?limit=2", &user.token).await;
    let ids: Vec<&str> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|task| task["id"].as_str())
        .collect();
    assert_eq!(ids, [third.as_str(), second.as_str()]);
    let next = page["next"].as_str().expect("a next page");
    let rest = json_of(
        &app,
        &format!("/v1/task/search?limit=2&cursor={next}"),
        &user.token,
    )
    .await;
    assert_eq!(rest["results"][0]["id"], first);
    assert_eq!(rest["next"], Value::Null);

    let cancelled = json_of(&app, "/v1/task/search?status=cancelled", &user.token).await;
    assert_eq!(cancelled["results"].as_array().expect("results").len(), 1);
    assert_eq!(cancelled["results"][0]["status"], "cancelled");
    let live = json_of(&app, "/v1/task/search?status=queued,running", &user.token).await;
    assert_eq!(live["results"].as_array().expect("results").len(), 2);
    let other_function = app.create_function_in(&user.token, "Other", "PY").await;
    let none = json_of(
        &app,
        &format!("/v1/task/search?functionId={other_function}"),
        &user.token,
    )
    .await;
    assert_eq!(none["results"], json!([]));
    let future = json_of(
        &app,
        "/v1/task/search?from=2999-01-01T00:00:00Z",
        &user.token,
    )
    .await;
    assert_eq!(future["results"], json!([]));
    let past = json_of(
        &app,
        "/v1/task/search?from=2020-01-01T00:00:00Z",
        &user.token,
    )
    .await;
    assert_eq!(past["results"].as_array().expect("results").len(), 3);

    let stranger = app.signup("other@example.com").await;
    let theirs = json_of(&app, "/v1/task/search", &stranger.token).await;
    assert_eq!(theirs["results"], json!([]));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_task_search_names_the_bad_filter(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let cases = [
        ("/v1/task/search?status=done", "status"),
        ("/v1/task/search?limit=0", "limit"),
        ("/v1/task/search?limit=201", "limit"),
        ("/v1/task/search?node=xyz", "node"),
        ("/v1/task/search?functionId=xyz", "functionId"),
        ("/v1/task/search?cursor=xyz", "cursor"),
        (
            "/v1/task/search?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "to",
        ),
    ];
    for (path, field) in cases {
        assert_invalid_field(app.get(path, &user.token).await, field).await;
    }
    let bad_time = app.get("/v1/task/search?from=yesterday", &user.token).await;
    assert_problem(bad_time, StatusCode::BAD_REQUEST, "INVALID_QUERY").await;
}
