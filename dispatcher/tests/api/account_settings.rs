//! `/v1/user/flags` and the mailed password reset (POST confirm and GreenCloud's GET with a body).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{assert_invalid_field, assert_problem, TestApp, PASSWORD};

#[sqlx::test(migrations = "../migrations")]
async fn an_omitted_flag_keeps_its_value(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let flags: Value = app
        .get("/v1/user/flags", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        flags,
        json!({"bundleAutoRenewal": true, "lowQuotaNotification": true})
    );
    let set = app
        .send(
            Method::PUT,
            "/v1/user/flags",
            Some(&user.token),
            Some(json!({"lowQuotaNotification": false})),
        )
        .await;
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let flags: Value = app
        .get("/v1/user/flags", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        flags,
        json!({"bundleAutoRenewal": true, "lowQuotaNotification": false})
    );

    let unknown = app
        .send(
            Method::PUT,
            "/v1/user/flags",
            Some(&user.token),
            Some(json!({"autoBuy": true})),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let wrong_type = app
        .send(
            Method::PUT,
            "/v1/user/flags",
            Some(&user.token),
            Some(json!({"bundleAutoRenewal": "yes"})),
        )
        .await;
    assert_invalid_field(wrong_type, "bundleAutoRenewal").await;
    let anonymous = app
        .send(Method::PUT, "/v1/user/flags", None, Some(json!({})))
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

/// Asks for a reset, then replaces the mailed code (stored hashed) with `code`.
async fn reset_code(app: &TestApp, email: &str, code: &str) {
    let asked = app
        .post("/v1/user/resetPassword", None, json!({"email": email}))
        .await;
    assert_eq!(asked.status(), StatusCode::NO_CONTENT);
    let replaced = sqlx::query("UPDATE password_resets SET code_hash = $1")
        .bind(Sha256::digest(code.as_bytes()).to_vec())
        .execute(&app.pool)
        .await
        .expect("update");
    assert_eq!(replaced.rows_affected(), 1, "one pending code");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_mailed_code_resets_the_password_once_and_ends_every_login(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let nobody = app
        .post(
            "/v1/user/resetPassword",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(
        nobody.status(),
        StatusCode::NO_CONTENT,
        "no hint which emails exist"
    );
    let bad_email = app
        .post(
            "/v1/user/resetPassword",
            None,
            json!({"email": "not an email"}),
        )
        .await;
    assert_invalid_field(bad_email, "email").await;

    reset_code(&app, "dev@example.com", "first-code").await;
    let confirm = |body: Value| app.post("/v1/user/resetPassword/confirm", None, body);
    let wrong = confirm(json!({"code": "guess", "password": "N3w!password"})).await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "INVALID_RESET_CODE").await;
    let weak = confirm(json!({"code": "first-code", "password": "weak"})).await;
    assert_invalid_field(weak, "password").await;
    let done = confirm(json!({"code": "first-code", "password": "N3w!password"})).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    let again = confirm(json!({"code": "first-code", "password": "An0ther!pass"})).await;
    assert_problem(again, StatusCode::FORBIDDEN, "INVALID_RESET_CODE").await;

    assert_eq!(
        app.login("dev@example.com", PASSWORD, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("dev@example.com", "N3w!password", None)
            .await
            .status(),
        StatusCode::OK
    );
    let old_refresh = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_eq!(
        old_refresh.status(),
        StatusCode::UNAUTHORIZED,
        "every login ended"
    );

    // GreenCloud's form: GET with a JSON body.
    reset_code(&app, "dev@example.com", "second-code").await;
    let by_get = app
        .send(
            Method::GET,
            "/v1/user/resetPassword",
            None,
            Some(json!({"code": "second-code", "password": "Th1rd!pass"})),
        )
        .await;
    assert_eq!(by_get.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login("dev@example.com", "Th1rd!pass", None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deleted_account_is_gone_at_once_and_its_email_is_free(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = crate::fake_worker::deployed_function(&app, &user.token).await;
    let (node, node_token) = crate::fake_worker::register_node(&app, &user.token).await;
    let mut worker = crate::fake_worker::FakeWorker::connect(
        &app,
        &node,
        &node_token,
        crate::fake_worker::resources(1024),
    )
    .await;

    let wrong = app
        .send(
            Method::DELETE,
            "/v1/user",
            Some(&user.token),
            Some(json!({"password": "Wr0ng!pass"})),
        )
        .await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "INVALID_CURRENT_PASSWORD").await;
    let missing = app
        .send(
            Method::DELETE,
            "/v1/user",
            Some(&user.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let deleted = app
        .send(
            Method::DELETE,
            "/v1/user",
            Some(&user.token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let after = app
        .get(&format!("/v1/function/{function}"), &user.token)
        .await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_eq!(
        app.login("dev@example.com", PASSWORD, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(worker.recv().await, None, "its node's socket is closed");
    assert_eq!(
        app.register("dev@example.com").await.status(),
        StatusCode::CREATED,
        "the email is free again"
    );
    let fresh = app.login("dev@example.com", PASSWORD, None).await;
    let fresh: Value = fresh.json().await.expect("json");
    let token = fresh["accessToken"].as_str().expect("token");
    let listed: Value = app
        .get("/v1/function/list", token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed,
        json!([]),
        "nothing of the deleted account comes back"
    );
}
