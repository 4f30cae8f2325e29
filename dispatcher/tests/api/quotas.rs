//! Quotas: admins set per-account limits on tasks per day, live tasks and stored code; past a
//! limit the API answers 429 `NO_QUOTA_AVAILABLE` naming the limit; the ledger counts each day.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, zip_of};
use crate::helpers::{assert_invalid_field, assert_problem, TestApp};
use crate::stats::admin_token;

pub async fn account_id(app: &TestApp, token: &str) -> String {
    let user: Value = app.get("/v1/user", token).await.json().await.expect("json");
    user["id"].as_str().expect("id").to_owned()
}

pub async fn set_quota(app: &TestApp, admin: &str, account: &str, body: Value) -> Value {
    let response = app
        .send(
            Method::PUT,
            &format!("/v1/admin/account/{account}/quota"),
            Some(admin),
            Some(body),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn submit(app: &TestApp, token: &str, function: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

async fn own_quota(app: &TestApp, token: &str) -> Value {
    let response = app.get("/v1/user/quota", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// Asserts a 429 `NO_QUOTA_AVAILABLE` naming `field`, with a `Retry-After`; returns its seconds.
async fn assert_no_quota(response: reqwest::Response, field: &str) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .expect("a Retry-After in seconds");
    let problem = assert_problem(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "NO_QUOTA_AVAILABLE",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    retry_after
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_sets_changes_and_clears_a_quota_and_the_account_sees_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;

    let quota = own_quota(&app, &alice.token).await;
    assert_eq!(quota["source"], "default");
    assert_eq!(quota["tasksPerDay"], Value::Null);
    assert_eq!(quota["usage"]["tasksToday"], 0);

    let set = set_quota(&app, &admin, &account, json!({"tasksPerDay": 3})).await;
    assert_eq!(set["tasksPerDay"], 3);
    assert_eq!(set["concurrentTasks"], Value::Null);
    assert_eq!(set["source"], "account");
    // An omitted limit keeps its value; null lifts it.
    let set = set_quota(&app, &admin, &account, json!({"concurrentTasks": 2})).await;
    assert_eq!(
        (set["tasksPerDay"].clone(), set["concurrentTasks"].clone()),
        (json!(3), json!(2))
    );
    let set = set_quota(&app, &admin, &account, json!({"tasksPerDay": null})).await;
    assert_eq!(
        (set["tasksPerDay"].clone(), set["concurrentTasks"].clone()),
        (Value::Null, json!(2))
    );
    assert_eq!(own_quota(&app, &alice.token).await["concurrentTasks"], 2);
    let read = app
        .get(&format!("/v1/admin/account/{account}/quota"), &admin)
        .await;
    assert_eq!(read.status(), StatusCode::OK);

    let path = format!("/v1/admin/account/{account}/quota");
    let cleared = app.send(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert_eq!(own_quota(&app, &alice.token).await["source"], "default");
    let again = app.send(Method::DELETE, &path, Some(&admin), None).await;
    assert_problem(again, StatusCode::NOT_FOUND, "QUOTA_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_quota_requests_get_their_status_and_code(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    let path = format!("/v1/admin/account/{account}/quota");
    let put = |token: String, path: String, body: Value| {
        let app = &app;
        async move { app.send(Method::PUT, &path, Some(&token), Some(body)).await }
    };

    let by_owner = put(alice.token.clone(), path.clone(), json!({"tasksPerDay": 9})).await;
    assert_problem(by_owner, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;
    let foreign = app.get(&path, &alice.token).await;
    assert_problem(foreign, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;
    let unknown = format!("/v1/admin/account/{}/quota", "0".repeat(32));
    let unknown = put(admin.clone(), unknown, json!({"tasksPerDay": 1})).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND").await;
    let malformed = put(
        admin.clone(),
        "/v1/admin/account/xyz/quota".into(),
        json!({}),
    )
    .await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND").await;
    for (body, field) in [
        (json!({"tasksPerDay": -1}), "tasksPerDay"),
        (json!({"concurrentTasks": "two"}), "concurrentTasks"),
        (json!({"storageMb": 2_000_000_000u32}), "storageMb"),
        (json!({"tasksPerDay": 1, "bundle": "gold"}), "bundle"),
    ] {
        assert_invalid_field(put(admin.clone(), path.clone(), body).await, field).await;
    }
    for days in ["0", "367", "many"] {
        let response = app
            .get(&format!("/v1/user/usage?days={days}"), &alice.token)
            .await;
        assert_invalid_field(response, "days").await;
    }
    // Nothing was changed by the refused requests.
    assert_eq!(own_quota(&app, &alice.token).await["source"], "default");
}

#[sqlx::test(migrations = "../migrations")]
async fn tasks_past_the_daily_quota_get_429_and_the_ledger_counts_the_day(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    let function = deployed_function(&app, &alice.token).await;
    set_quota(&app, &admin, &account, json!({"tasksPerDay": 2})).await;

    let keyed = |key: &'static str| {
        app.client
            .post(app.url(&format!("/v1/task/{function}")))
            .bearer_auth(&alice.token)
            .header("idempotency-key", key)
            .send()
    };
    let first = keyed("order-1").await.expect("sent");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    assert_eq!(
        submit(&app, &alice.token, &function).await.status(),
        StatusCode::CREATED
    );
    let retry_after =
        assert_no_quota(submit(&app, &alice.token, &function).await, "tasksPerDay").await;
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
    // A retried request that was admitted before still gets its task.
    let replay = keyed("order-1").await.expect("sent");
    assert!(replay.status().is_success(), "{}", replay.status());
    let replay: Value = replay.json().await.expect("json");
    assert_eq!(replay["id"], first["id"]);
    assert_no_quota(keyed("order-2").await.expect("sent"), "tasksPerDay").await;

    let quota = own_quota(&app, &alice.token).await;
    assert_eq!(quota["usage"]["tasksToday"], 2, "{quota}");
    assert_eq!(quota["usage"]["liveTasks"], 2, "{quota}");
    let ledger: Value = app
        .get("/v1/user/usage?days=7", &alice.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ledger["days"].as_array().map(Vec::len), Some(1), "{ledger}");
    assert_eq!(ledger["days"][0]["tasks"], 2);
    let as_admin = app
        .get(&format!("/v1/admin/account/{account}/usage"), &admin)
        .await;
    let as_admin: Value = as_admin.json().await.expect("json");
    assert_eq!(as_admin, ledger);

    set_quota(&app, &admin, &account, json!({"tasksPerDay": 3})).await;
    assert_eq!(
        submit(&app, &alice.token, &function).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_live_task_quota_frees_up_when_a_task_ends(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    let function = deployed_function(&app, &alice.token).await;
    set_quota(&app, &admin, &account, json!({"concurrentTasks": 1})).await;

    let queued = submit(&app, &alice.token, &function).await;
    assert_eq!(queued.status(), StatusCode::CREATED);
    let queued: Value = queued.json().await.expect("json");
    let retry_after = assert_no_quota(
        submit(&app, &alice.token, &function).await,
        "concurrentTasks",
    )
    .await;
    assert_eq!(retry_after, 1);
    let id = queued["id"].as_str().expect("id");
    let cancelled = app
        .post(
            &format!("/v1/task/{id}/cancel"),
            Some(&alice.token),
            json!({}),
        )
        .await;
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    assert_eq!(
        submit(&app, &alice.token, &function).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn two_replicas_racing_never_admit_past_the_quota(pool: PgPool) {
    let first = TestApp::spawn(pool.clone()).await;
    let second = TestApp::spawn(pool.clone()).await;
    let alice = first.signup("alice@example.com").await;
    let admin = admin_token(&first, &pool).await;
    let account = account_id(&first, &alice.token).await;
    let function = deployed_function(&first, &alice.token).await;
    set_quota(&first, &admin, &account, json!({"tasksPerDay": 5})).await;

    let calls = (0..24).map(|n| {
        let app = if n % 2 == 0 { &first } else { &second };
        submit(app, &alice.token, &function)
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(calls)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let admitted = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((admitted, refused), (5, 19), "{statuses:?}");
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(tasks, 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn code_past_the_storage_quota_is_refused_and_nothing_is_stored(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    let function = deployed_function(&app, &alice.token).await;
    let used = own_quota(&app, &alice.token).await["usage"]["storageBytes"].clone();
    assert!(used.as_i64().is_some_and(|bytes| bytes > 0), "{used}");

    set_quota(&app, &admin, &account, json!({"storageMb": 0})).await;
    let upload = |function: String| {
        app.client
            .post(app.url(&format!("/v1/build/{function}")))
            .bearer_auth(&alice.token)
            .header("content-type", "application/zip")
            .body(zip_of(&[(
                "handler.py",
                b"def handle(request):\n    return 'v2'\n",
            )]))
            .send()
    };
    let refused = upload(function.clone()).await.expect("sent");
    assert_eq!(assert_no_quota(refused, "storageMb").await, 86_400);
    let builds: i64 = sqlx::query_scalar("SELECT count(*) FROM builds")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(builds, 1, "the refused upload left no build");

    set_quota(&app, &admin, &account, json!({"storageMb": 1})).await;
    assert_eq!(
        upload(function).await.expect("sent").status(),
        StatusCode::CREATED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_default_quota_applies_until_an_admin_sets_one(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), |settings| {
        settings.quotas.default_tasks_per_day = Some(1);
    })
    .await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    let function = deployed_function(&app, &alice.token).await;
    assert_eq!(own_quota(&app, &alice.token).await["tasksPerDay"], 1);
    assert_eq!(
        submit(&app, &alice.token, &function).await.status(),
        StatusCode::CREATED
    );
    assert_no_quota(submit(&app, &alice.token, &function).await, "tasksPerDay").await;

    let own = set_quota(&app, &admin, &account, json!({"tasksPerDay": null})).await;
    assert_eq!(
        (own["tasksPerDay"].clone(), own["source"].clone()),
        (Value::Null, json!("account"))
    );
    assert_eq!(
        submit(&app, &alice.token, &function).await.status(),
        StatusCode::CREATED
    );
}
