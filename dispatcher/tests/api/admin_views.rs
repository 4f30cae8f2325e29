//! Admin-only views (every account, system health): admins read them, a normal account gets
//! 403 `ADMIN_REQUIRED` — the API refuses, not just the dashboard. And `POST /v1/auth/logout`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_invalid_field, assert_problem, TestApp};
use crate::stats::admin_token;

#[sqlx::test(migrations = "../migrations")]
async fn a_normal_account_is_refused_every_admin_view(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    for path in [
        "/v1/admin/account/list",
        "/v1/admin/health",
        "/v1/admin/pool/list",
    ] {
        let response = app.get(path, &user.token).await;
        assert_problem(response, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;
        let anonymous = app.client.get(app.url(path)).send().await.expect("sent");
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_lists_every_account_page_by_page_without_secrets(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let user = app.signup("dev@example.com").await;
    app.create_function_in(&user.token, "One", "PY").await;
    let admin = admin_token(&app, &pool).await;

    let all: Value = app
        .get("/v1/admin/account/list", &admin)
        .await
        .json()
        .await
        .expect("json");
    let results = all["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let dev = results
        .iter()
        .find(|account| account["email"] == "dev@example.com")
        .expect("the developer is listed");
    assert_eq!(dev["role"], "user");
    assert_eq!(dev["functions"], 1);
    assert_eq!(dev["activated"], true);
    assert_eq!(dev["twofa"], false);
    let text = all.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
    assert_eq!(all["next"], Value::Null);

    let first: Value = app
        .get("/v1/admin/account/list?limit=1", &admin)
        .await
        .json()
        .await
        .expect("json");
    let next = first["next"].as_str().expect("a second page");
    let second: Value = app
        .get(
            &format!("/v1/admin/account/list?limit=1&cursor={next}"),
            &admin,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(second["results"].as_array().expect("results").len(), 1);
    assert_ne!(second["results"][0]["id"], first["results"][0]["id"]);
    assert_eq!(second["next"], Value::Null);

    let bad = app.get("/v1/admin/account/list?limit=0", &admin).await;
    assert_invalid_field(bad, "limit").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_sees_the_database_replicas_and_sweeper_healthy(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let admin = admin_token(&app, &pool).await;
    let health: Value = app
        .get("/v1/admin/health", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(health["healthy"], true, "{health}");
    assert!(health["database"]["latencyMs"].as_f64().is_some());
    let replicas = health["replicas"].as_array().expect("replicas");
    assert_eq!(replicas.len(), 1, "this app's replica beats");
    assert_eq!(replicas[0]["live"], true);
    assert_eq!(health["queue"]["overdueLeases"], 0);
    assert_eq!(health["localConnections"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_ends_that_login_at_once_and_leaves_the_others(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other_login: Value = app
        .login("dev@example.com", crate::helpers::PASSWORD, None)
        .await
        .json()
        .await
        .expect("json");
    let other_token = other_login["accessToken"].as_str().expect("token");

    let out = app
        .send(Method::POST, "/v1/auth/logout", Some(&user.token), None)
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let refused = app.get("/v1/user", &user.token).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    let refresh = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(
        app.get("/v1/user", other_token).await.status(),
        StatusCode::OK
    );

    let anonymous = app.send(Method::POST, "/v1/auth/logout", None, None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

async fn set_disabled(
    app: &TestApp,
    token: &str,
    account: &str,
    disabled: bool,
) -> reqwest::Response {
    app.post(
        &format!("/v1/admin/account/{account}/disabled"),
        Some(token),
        json!({ "disabled": disabled }),
    )
    .await
}

async fn account_id(app: &TestApp, token: &str) -> String {
    let me: Value = app.get("/v1/user", token).await.json().await.expect("json");
    me["id"].as_str().expect("id").to_owned()
}

async fn key_exchange(app: &TestApp, key: &str) -> reqwest::Response {
    app.post("/v1/auth/apiKey", None, json!({ "key": key }))
        .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_disabled_account_is_signed_out_everywhere_until_enabled_again(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let user = app.signup("dev@example.com").await;
    let id = account_id(&app, &user.token).await;
    let made: Value = app
        .post("/v1/user/apiKey", Some(&user.token), json!({}))
        .await
        .json()
        .await
        .expect("json");
    let key = made["key"].as_str().expect("key").to_owned();
    let key_login: Value = key_exchange(&app, &key).await.json().await.expect("json");
    let key_token = key_login["accessToken"].as_str().expect("token").to_owned();
    let admin = admin_token(&app, &pool).await;

    assert_eq!(
        set_disabled(&app, &admin, &id, true).await.status(),
        StatusCode::NO_CONTENT
    );
    for token in [&user.token, &key_token] {
        let refused = app.get("/v1/user", token).await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    }
    let login = app
        .login("dev@example.com", crate::helpers::PASSWORD, None)
        .await;
    assert_problem(login, StatusCode::FORBIDDEN, "ACCOUNT_DISABLED").await;
    let refresh = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    assert_problem(
        key_exchange(&app, &key).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_API_KEY",
    )
    .await;
    let list: Value = app
        .get("/v1/admin/account/list", &admin)
        .await
        .json()
        .await
        .expect("json");
    let listed = list["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|account| account["id"] == id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(listed["disabled"], true);

    assert_eq!(
        set_disabled(&app, &admin, &id, false).await.status(),
        StatusCode::NO_CONTENT
    );
    let login = app
        .login("dev@example.com", crate::helpers::PASSWORD, None)
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(key_exchange(&app, &key).await.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn disabling_is_for_admins_never_oneself_and_names_a_real_account(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let user = app.signup("dev@example.com").await;
    let id = account_id(&app, &user.token).await;
    let refused = set_disabled(&app, &user.token, &id, true).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;

    let admin = admin_token(&app, &pool).await;
    let admin_id = account_id(&app, &admin).await;
    let myself = set_disabled(&app, &admin, &admin_id, true).await;
    assert_problem(myself, StatusCode::CONFLICT, "CANNOT_DISABLE_SELF").await;
    let unknown = set_disabled(&app, &admin, &"0".repeat(32), true).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND").await;
    let malformed = app
        .post(
            &format!("/v1/admin/account/{id}/disabled"),
            Some(&admin),
            json!({"disabled": "yes"}),
        )
        .await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get("/v1/user", &user.token).await.status(),
        StatusCode::OK
    );
}
