//! Authentication failures: missing, expired, tampered tokens; refresh reuse; rate limits.

use base64::Engine;
use canopy_dispatcher::auth::jwt::TokenKeys;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp, JWT_SECRET, PASSWORD};

#[sqlx::test(migrations = "../migrations")]
async fn a_request_without_a_token_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .client
        .get(app.url("/v1/function/list"))
        .send()
        .await
        .expect("sent");
    assert_problem(response, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    let response = app
        .client
        .post(app.url("/v1/tag"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("sent");
    assert_problem(response, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_malformed_token_or_scheme_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for header in ["Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "garbage"] {
        let response = app
            .client
            .get(app.url("/v1/user"))
            .header("authorization", header)
            .send()
            .await
            .expect("sent");
        assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_bare_token_is_accepted_as_well_as_bearer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let response = app
        .client
        .get(app.url("/v1/user"))
        .header("authorization", &user.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_token_is_a_401_token_expired(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let me: Value = app
        .get("/v1/user", &user.token)
        .await
        .json()
        .await
        .expect("json");
    let account = canopy_shared::parse_id(me["id"].as_str().expect("id")).expect("an id");
    let expired = TokenKeys::new(JWT_SECRET.as_bytes(), -30)
        .issue(account, "user", canopy_shared::new_id())
        .expect("signed");
    assert_problem(
        app.get("/v1/user", &expired).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_tampered_token_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let parts: Vec<&str> = user.token.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("base64")).expect("claims");
    claims["role"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    assert_problem(
        app.get("/v1/user", &forged).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    )
    .await;

    let signed_elsewhere = TokenKeys::new(b"some-other-key-some-other-key-0123", 3600)
        .issue(canopy_shared::new_id(), "admin", canopy_shared::new_id())
        .expect("signed");
    assert_problem(
        app.get("/v1/user", &signed_elsewhere).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn refresh_rotates_and_reuse_revokes_the_whole_family(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;

    let first = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let pair: Value = first.json().await.expect("json");
    let second_refresh = pair["refreshToken"].as_str().expect("rotated").to_owned();
    assert_ne!(second_refresh, user.refresh_token);
    assert_eq!(pair["expiresIn"], 3600);
    assert_eq!(
        app.get("/v1/user", pair["accessToken"].as_str().expect("access"))
            .await
            .status(),
        StatusCode::OK
    );

    // The first token again: someone replayed it. The whole family dies.
    let reuse = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": user.refresh_token}),
        )
        .await;
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED").await;
    let after = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": second_refresh}),
        )
        .await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;

    // Another login (another family) is unaffected.
    let other: Value = app
        .login(&user.email, PASSWORD, None)
        .await
        .json()
        .await
        .expect("json");
    let response = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": other["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let unknown = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": "ab".repeat(256)}),
        )
        .await;
    assert_problem(unknown, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_credentials_are_a_401_and_do_not_reveal_which_part_was_wrong(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup("dev@example.com").await;
    let wrong_password = app.login("dev@example.com", "Wr0ng!pass", None).await;
    let body = assert_problem(
        wrong_password,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    let unknown_email = app.login("nobody@example.com", PASSWORD, None).await;
    let other = assert_problem(
        unknown_email,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(body["detail"], other["detail"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn brute_force_on_one_email_is_rate_limited_even_with_the_right_password(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup("victim@example.com").await;
    for attempt in 0..5 {
        let response = app
            .login("victim@example.com", &format!("Guess{attempt}!x"), None)
            .await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    let limited = app.login("victim@example.com", PASSWORD, None).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0);
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn many_failures_from_one_address_are_rate_limited_across_emails(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.auth.login_max_failures_per_addr = 3
    })
    .await;
    app.signup("real@example.com").await;
    for index in 0..3 {
        let response = app
            .login(&format!("guess{index}@example.com"), PASSWORD, None)
            .await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    let limited = app.login("real@example.com", PASSWORD, None).await;
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_successful_login_resets_the_email_counter(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup("dev@example.com").await;
    for _ in 0..4 {
        app.login("dev@example.com", "Wr0ng!pass", None).await;
    }
    assert_eq!(
        app.login("dev@example.com", PASSWORD, None).await.status(),
        StatusCode::OK
    );
    for _ in 0..4 {
        app.login("dev@example.com", "Wr0ng!pass", None).await;
    }
    assert_eq!(
        app.login("dev@example.com", PASSWORD, None).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_attacker_elsewhere_never_locks_the_owner_out_and_delays_grow(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup("victim@example.com").await;
    // The attacker's requests come from another loopback address.
    let attacker = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().expect("address")))
        .build()
        .expect("client");
    let guess = |password: String| {
        let request = attacker
            .post(app.url("/v1/auth/login"))
            .json(&serde_json::json!({"email": "victim@example.com", "password": password}));
        async move { request.send().await.expect("sent") }
    };
    for attempt in 0..5 {
        let response = guess(format!("Guess{attempt}!x")).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    // The attacker now waits; even the right password is refused from there for the moment.
    let limited = guess(PASSWORD.to_owned()).await;
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
    // The owner, from their own address, is not affected.
    let owner = app.login("victim@example.com", PASSWORD, None).await;
    assert_eq!(owner.status(), StatusCode::OK);
    // The delay is short and grows: after it, one more wrong guess costs 2 s.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = guess("Again!x1".to_owned()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    let limited = guess("Again!x2".to_owned()).await;
    assert_eq!(limited.headers()["retry-after"], "2");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
}
