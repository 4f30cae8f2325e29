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
