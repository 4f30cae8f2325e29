//! Sign-up and activation, the account view, API keys, password change and admin creation.

use canopy_dispatcher::auth::secret;
use canopy_dispatcher::cli::CreateAdmin;
use canopy_dispatcher::db;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp, PASSWORD};

#[sqlx::test(migrations = "../migrations")]
async fn without_auto_activation_login_waits_for_the_activation_code(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.auth.auto_activate = false).await;
    let response = app.register("new@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["activated"], false);
    let account = canopy_shared::parse_id(body["id"].as_str().expect("id")).expect("an id");

    let early = app.login("new@example.com", PASSWORD, None).await;
    assert_problem(early, StatusCode::FORBIDDEN, "ACCOUNT_NOT_ACTIVATED").await;

    // The mailed code is random; plant a known one the way registration stores it.
    let mut conn = app.pool.acquire().await.expect("conn");
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    db::accounts::insert_activation_code(
        &mut conn,
        &secret::digest("known-code"),
        account,
        expires,
    )
    .await
    .expect("insert");

    let wrong = app
        .post("/v1/auth/activate", None, json!({"code": "wrong-code"}))
        .await;
    assert_invalid_field(wrong, "code").await;
    let right = app
        .post("/v1/auth/activate", None, json!({"code": "known-code"}))
        .await;
    assert_eq!(right.status(), StatusCode::OK);
    let again = app
        .post("/v1/auth/activate", None, json!({"code": "known-code"}))
        .await;
    assert_invalid_field(again, "code").await;
    assert_eq!(
        app.login("new@example.com", PASSWORD, None).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_email_can_register_once_whatever_its_case(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(
        app.register("dev@example.com").await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        app.register("dev@example.com").await,
        StatusCode::CONFLICT,
        "EMAIL_TAKEN",
    )
    .await;
    assert_problem(
        app.register("DEV@Example.com").await,
        StatusCode::CONFLICT,
        "EMAIL_TAKEN",
    )
    .await;
    assert_eq!(
        app.login("Dev@Example.COM", PASSWORD, None).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn api_keys_are_shown_once_exchanged_rotated_and_revoked(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;

    let created = app
        .send(Method::POST, "/v1/user/apiKey", Some(&user.token), None)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    let key = created["key"].as_str().expect("the key, once").to_owned();
    let key_id = created["id"].as_str().expect("id").to_owned();

    let me_text = app
        .get("/v1/user", &user.token)
        .await
        .text()
        .await
        .expect("text");
    assert!(!me_text.contains(&key), "GET /v1/user never shows a key");
    let me: Value = serde_json::from_str(&me_text).expect("json");
    assert_eq!(me["apiKeys"][0]["id"], key_id);
    assert!(key.starts_with(me["apiKeys"][0]["prefix"].as_str().expect("prefix")));

    let exchanged = app.post("/v1/auth/apiKey", None, json!({"key": key})).await;
    assert_eq!(exchanged.status(), StatusCode::OK);
    let exchanged: Value = exchanged.json().await.expect("json");
    assert!(exchanged.get("refreshToken").is_none());
    assert_eq!(
        app.get(
            "/v1/function/list",
            exchanged["accessToken"].as_str().expect("token")
        )
        .await
        .status(),
        StatusCode::OK
    );

    let rotated = app
        .send(
            Method::POST,
            &format!("/v1/user/apiKey/{key_id}/rotate"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    let rotated: Value = rotated.json().await.expect("json");
    let new_key = rotated["key"].as_str().expect("new key").to_owned();
    let old = app.post("/v1/auth/apiKey", None, json!({"key": key})).await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "INVALID_API_KEY").await;
    assert_eq!(
        app.post("/v1/auth/apiKey", None, json!({"key": new_key}))
            .await
            .status(),
        StatusCode::OK
    );

    let new_id = rotated["id"].as_str().expect("id");
    let revoke = app
        .send(
            Method::DELETE,
            &format!("/v1/user/apiKey/{new_id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let after = app
        .post("/v1/auth/apiKey", None, json!({"key": new_key}))
        .await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "INVALID_API_KEY").await;
    let keys: Vec<Value> = app
        .get("/v1/user/apiKey", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(keys.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn api_keys_are_named_and_private_to_their_account(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let other = app.signup("other@example.com").await;
    let response = app
        .post("/v1/user/apiKey", Some(&owner.token), json!({"name": "ci"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = id_of(response).await;
    let keys: Vec<Value> = app
        .get("/v1/user/apiKey", &owner.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(keys[0]["name"], "ci");

    let steal = app
        .send(
            Method::DELETE,
            &format!("/v1/user/apiKey/{id}"),
            Some(&other.token),
            None,
        )
        .await;
    assert_problem(steal, StatusCode::NOT_FOUND, "API_KEY_NOT_FOUND").await;
    let rotate = app
        .send(
            Method::POST,
            &format!("/v1/user/apiKey/{id}/rotate"),
            Some(&other.token),
            None,
        )
        .await;
    assert_problem(rotate, StatusCode::NOT_FOUND, "API_KEY_NOT_FOUND").await;
    let bad = app
        .post("/v1/user/apiKey", Some(&owner.token), json!({"name": ""}))
        .await;
    assert_invalid_field(bad, "name").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let change = |current: &str| json!({"currentPassword": current, "password": "N3w!password"});

    let wrong = app
        .send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(change("Wr0ng!pass")),
        )
        .await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "INVALID_CURRENT_PASSWORD").await;
    let weak = json!({"currentPassword": PASSWORD, "password": "weak"});
    assert_invalid_field(
        app.send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(weak),
        )
        .await,
        "password",
    )
    .await;
    let missing = json!({"password": "N3w!password"});
    let missing = app
        .send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(missing),
        )
        .await;
    assert_invalid_field(missing, "currentPassword").await;

    let ok = app
        .send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(change(PASSWORD)),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.login(&user.email, PASSWORD, None).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(
        app.login(&user.email, "N3w!password", None).await.status(),
        StatusCode::OK
    );
    let old_refresh = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_problem(
        old_refresh,
        StatusCode::UNAUTHORIZED,
        "INVALID_REFRESH_TOKEN",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn admin_create_makes_an_active_admin_and_promotes_an_existing_account(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let args = CreateAdmin {
        email: "root@example.com".to_owned(),
        password: "Adm1n!pass".to_owned(),
        name: "Admin".to_owned(),
        surname: "Canopy".to_owned(),
    };
    canopy_dispatcher::admin::create_admin(&pool, &args)
        .await
        .expect("created");
    let login: Value = app
        .login("root@example.com", "Adm1n!pass", None)
        .await
        .json()
        .await
        .expect("json");
    let me: Value = app
        .get("/v1/user", login["accessToken"].as_str().expect("token"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["role"], "admin");

    app.signup("plain@example.com").await;
    let promote = CreateAdmin {
        email: "plain@example.com".to_owned(),
        ..args
    };
    canopy_dispatcher::admin::create_admin(&pool, &promote)
        .await
        .expect("promoted");
    let login: Value = app
        .login("plain@example.com", "Adm1n!pass", None)
        .await
        .json()
        .await
        .expect("json");
    let me: Value = app
        .get("/v1/user", login["accessToken"].as_str().expect("token"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["role"], "admin");

    let weak = CreateAdmin {
        email: "weak@example.com".to_owned(),
        password: "weak".to_owned(),
        name: "A".to_owned(),
        surname: "B".to_owned(),
    };
    assert!(canopy_dispatcher::admin::create_admin(&pool, &weak)
        .await
        .is_err());
}
