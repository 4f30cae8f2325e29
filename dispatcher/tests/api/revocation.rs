//! Access tokens end with their login or API key: a password change, a reused refresh token and a
//! revoked or rotated key refuse the tokens they issued at once, not when those expire.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp, PASSWORD};

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get("/v1/user", token).await
}

/// An access token for an API key.
async fn exchange(app: &TestApp, key: String) -> String {
    let body: Value = app
        .post("/v1/auth/apiKey", None, json!({"key": key}))
        .await
        .json()
        .await
        .expect("json");
    body["accessToken"].as_str().expect("token").to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_password_change_ends_the_access_tokens_of_every_login(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other: Value = app
        .login(&user.email, PASSWORD, None)
        .await
        .json()
        .await
        .expect("json");
    let other_token = other["accessToken"].as_str().expect("token").to_owned();
    assert_eq!(me(&app, &other_token).await.status(), StatusCode::OK);

    let change = json!({"currentPassword": PASSWORD, "password": "N3w!password"});
    let changed = app
        .send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(change),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        me(&app, &other_token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
    assert_problem(
        me(&app, &user.token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;

    let fresh: Value = app
        .login(&user.email, "N3w!password", None)
        .await
        .json()
        .await
        .expect("json");
    let fresh_token = fresh["accessToken"].as_str().expect("token");
    assert_eq!(me(&app, fresh_token).await.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reused_refresh_token_ends_the_access_tokens_of_its_login(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let refresh = |token: &str| app.post("/v1/auth/refresh", None, json!({"refreshToken": token}));
    let rotated: Value = refresh(&user.refresh_token)
        .await
        .json()
        .await
        .expect("json");
    let rotated_token = rotated["accessToken"].as_str().expect("token").to_owned();
    assert_eq!(me(&app, &rotated_token).await.status(), StatusCode::OK);
    // The first refresh token again: someone copied it. The whole login ends.
    let reused = refresh(&user.refresh_token).await;
    assert_problem(reused, StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED").await;
    assert_problem(
        me(&app, &rotated_token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
    assert_problem(
        me(&app, &user.token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_or_rotated_api_key_ends_the_access_tokens_it_issued(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let create = || async {
        let body: Value = app
            .post("/v1/user/apiKey", Some(&user.token), json!({"name": "ci"}))
            .await
            .json()
            .await
            .expect("json");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["key"].as_str().expect("key").to_owned(),
        )
    };

    let (rotated_id, rotated_key) = create().await;
    let before_rotation = exchange(&app, rotated_key).await;
    let rotate = format!("/v1/user/apiKey/{rotated_id}/rotate");
    let rotation = app
        .send(Method::POST, &rotate, Some(&user.token), None)
        .await;
    assert_eq!(rotation.status(), StatusCode::CREATED);
    let new_key = rotation.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_problem(
        me(&app, &before_rotation).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
    let after_rotation = exchange(&app, new_key).await;
    assert_eq!(me(&app, &after_rotation).await.status(), StatusCode::OK);

    let (revoked_id, revoked_key) = create().await;
    let token = exchange(&app, revoked_key).await;
    assert_eq!(me(&app, &token).await.status(), StatusCode::OK);
    let revoke = format!("/v1/user/apiKey/{revoked_id}");
    assert_eq!(
        app.send(Method::DELETE, &revoke, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        me(&app, &token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
    // The other key's tokens and the login's token are untouched.
    assert_eq!(me(&app, &after_rotation).await.status(), StatusCode::OK);
    assert_eq!(me(&app, &user.token).await.status(), StatusCode::OK);
}
