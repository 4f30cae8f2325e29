//! TOTP two-factor login: setup, login with and without the code, replay, and turning it off.

use canopy_dispatcher::auth::totp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp, TestUser, PASSWORD};

fn code(seed: &str, steps_from_now: i64) -> String {
    totp::code_at_step(
        seed,
        totp::step_of(chrono::Utc::now().timestamp()) + steps_from_now,
    )
    .expect("a code")
}

/// Turns 2FA on (consuming the current step) and returns the seed.
async fn enable(app: &TestApp, user: &TestUser) -> String {
    let started = app
        .send(Method::POST, "/v1/auth/2FA", Some(&user.token), None)
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let body: Value = started.json().await.expect("json");
    let seed = body["seed"].as_str().expect("seed").to_owned();
    assert_eq!(seed.len(), 32);
    assert!(body["otpauthUrl"]
        .as_str()
        .is_some_and(|url| url.starts_with("otpauth://totp/")));
    let verified = app
        .post(
            "/v1/auth/verify2FA",
            Some(&user.token),
            json!({"code": code(&seed, 0)}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    seed
}

#[sqlx::test(migrations = "../migrations")]
async fn login_requires_a_valid_unused_code_once_2fa_is_on(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let seed = enable(&app, &user).await;
    let me: Value = app
        .get("/v1/user", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["twofa"], true);

    assert_problem(
        app.login(&user.email, PASSWORD, None).await,
        StatusCode::UNAUTHORIZED,
        "TWOFA_REQUIRED",
    )
    .await;
    let wrong = if code(&seed, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_problem(
        app.login(&user.email, PASSWORD, Some(wrong)).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TWOFA",
    )
    .await;
    // The step used to turn 2FA on cannot be replayed; the next one is accepted once.
    assert_problem(
        app.login(&user.email, PASSWORD, Some(&code(&seed, 0)))
            .await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TWOFA",
    )
    .await;
    assert_eq!(
        app.login(&user.email, PASSWORD, Some(&code(&seed, 1)))
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.login(&user.email, PASSWORD, Some(&code(&seed, 1)))
            .await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TWOFA",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn setup_refuses_a_wrong_code_and_a_second_setup(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let early = app
        .post(
            "/v1/auth/verify2FA",
            Some(&user.token),
            json!({"code": "123456"}),
        )
        .await;
    assert_problem(early, StatusCode::CONFLICT, "TWOFA_NOT_STARTED").await;

    let started: Value = app
        .send(Method::POST, "/v1/auth/2FA", Some(&user.token), None)
        .await
        .json()
        .await
        .expect("json");
    let seed = started["seed"].as_str().expect("seed");
    let wrong = if code(seed, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = app
        .post(
            "/v1/auth/verify2FA",
            Some(&user.token),
            json!({"code": wrong}),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "INVALID_TWOFA").await;
    assert_eq!(
        app.login(&user.email, PASSWORD, None).await.status(),
        StatusCode::OK,
        "2FA is not on until verified"
    );

    let verified = app
        .post(
            "/v1/auth/verify2FA",
            Some(&user.token),
            json!({"code": code(seed, 0)}),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let again = app
        .send(Method::POST, "/v1/auth/2FA", Some(&user.token), None)
        .await;
    assert_problem(again, StatusCode::CONFLICT, "TWOFA_ALREADY_ENABLED").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn turning_2fa_off_needs_a_valid_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let seed = enable(&app, &user).await;
    let wrong = if code(&seed, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = app
        .send(
            Method::DELETE,
            "/v1/auth/2FA",
            Some(&user.token),
            Some(json!({"code": wrong})),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "INVALID_TWOFA").await;
    let off = app
        .send(
            Method::DELETE,
            "/v1/auth/2FA",
            Some(&user.token),
            Some(json!({"code": code(&seed, 1)})),
        )
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login(&user.email, PASSWORD, None).await.status(),
        StatusCode::OK
    );
    let again = app
        .send(
            Method::DELETE,
            "/v1/auth/2FA",
            Some(&user.token),
            Some(json!({"code": "123456"})),
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "TWOFA_NOT_ENABLED").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn guessing_2fa_codes_or_the_current_password_once_signed_in_is_slowed_down(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let seed = enable(&app, &user).await;
    // A stolen access token alone cannot brute-force the code that turns 2FA off.
    let wrong = || {
        app.send(
            Method::DELETE,
            "/v1/auth/2FA",
            Some(&user.token),
            Some(json!({"code": "000000"})),
        )
    };
    for _ in 0..5 {
        assert_problem(wrong().await, StatusCode::FORBIDDEN, "INVALID_TWOFA").await;
    }
    let limited = wrong().await;
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
    // The same counter covers the current password on a password change.
    let change = app
        .send(
            Method::PUT,
            "/v1/user/password",
            Some(&user.token),
            Some(json!({"currentPassword": PASSWORD, "password": "N3w!passw0rd", "twofa": code(&seed, 0)})),
        )
        .await;
    assert_problem(change, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
}
