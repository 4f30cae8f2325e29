//! Every limit of a public endpoint: daily (atomic across replicas), addresses, origins, time
//! window, pause, deployment, per-client and per-endpoint rates.

use chrono::{Timelike, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::{call, publish, token_of};
use crate::fake_worker::deployed_function;
use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn the_daily_limit_holds_across_replicas_under_concurrent_calls(pool: PgPool) {
    let first = TestApp::spawn(pool.clone()).await;
    let second = TestApp::spawn(pool).await;
    let user = first.signup("dev@example.com").await;
    let function = deployed_function(&first, &user.token).await;
    let id = publish(&first, &user.token, &function, json!({"dailyLimit": 5})).await;
    let calls = (0..20).map(|n| {
        let app = if n % 2 == 0 { &first } else { &second };
        call(app, &id, "x")
    });
    let responses = futures_util::future::join_all(calls).await;
    let mut accepted = 0;
    for response in responses {
        if response.status() == StatusCode::CREATED {
            accepted += 1;
            continue;
        }
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!(
            (1..=86_400).contains(&retry_after),
            "until the day ends: {retry_after}"
        );
        assert_problem(
            response,
            StatusCode::TOO_MANY_REQUESTS,
            "DAILY_LIMIT_REACHED",
        )
        .await;
    }
    assert_eq!(accepted, 5);
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&first.pool)
        .await
        .expect("count");
    assert_eq!(tasks, 5);

    let zero = publish(&first, &user.token, &function, json!({"dailyLimit": 0})).await;
    assert_problem(
        call(&first, &zero, "x").await,
        StatusCode::TOO_MANY_REQUESTS,
        "DAILY_LIMIT_REACHED",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn addresses_origins_and_time_windows_are_enforced(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;

    let elsewhere = publish(&app, &user.token, &function, json!({"ip": ["10.0.0.0/8"]})).await;
    assert_problem(
        call(&app, &elsewhere, "x").await,
        StatusCode::FORBIDDEN,
        "IP_NOT_ALLOWED",
    )
    .await;
    let here = publish(
        &app,
        &user.token,
        &function,
        json!({"ip": ["127.0.0.0/8", "::1"]}),
    )
    .await;
    token_of(call(&app, &here, "x").await).await;

    let origin = publish(
        &app,
        &user.token,
        &function,
        json!({"origin": ["https://app.example.com"]}),
    )
    .await;
    assert_problem(
        call(&app, &origin, "x").await,
        StatusCode::FORBIDDEN,
        "ORIGIN_NOT_ALLOWED",
    )
    .await;
    let foreign = app
        .client
        .post(app.url(&format!("/gc/{origin}")))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_problem(foreign, StatusCode::FORBIDDEN, "ORIGIN_NOT_ALLOWED").await;

    // A window that opens in two hours (UTC) refuses now and says when to come back.
    let hour = Utc::now().hour();
    let clock = |h: u32| format!("{:02}:00", h % 24);
    let closed = publish(
        &app,
        &user.token,
        &function,
        json!({"timeLimit": {"from": clock(hour + 2), "to": clock(hour + 3), "timezone": "UTC"}}),
    )
    .await;
    let refused = call(&app, &closed, "x").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((3600..=7200).contains(&retry_after), "{retry_after}");
    assert_problem(refused, StatusCode::FORBIDDEN, "OUTSIDE_TIME_LIMIT").await;
    let open = publish(
        &app,
        &user.token,
        &function,
        json!({"timeLimit": {"from": clock(hour + 23), "to": clock(hour + 1), "timezone": "UTC"}}),
    )
    .await;
    token_of(call(&app, &open, "x").await).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_paused_or_undeployed_function_answers_503(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(&app, &user.token, &function, json!({"dailyLimit": 1})).await;
    let toggle = app
        .send(
            Method::POST,
            &format!("/v1/function/{function}/togglePause"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(toggle.status(), StatusCode::NO_CONTENT);
    let paused = call(&app, &id, "x").await;
    assert!(paused.headers().contains_key("retry-after"));
    assert_problem(paused, StatusCode::SERVICE_UNAVAILABLE, "FUNCTION_PAUSED").await;
    app.send(
        Method::POST,
        &format!("/v1/function/{function}/togglePause"),
        Some(&user.token),
        None,
    )
    .await;
    token_of(call(&app, &id, "x").await).await;
    assert_problem(
        call(&app, &id, "x").await,
        StatusCode::TOO_MANY_REQUESTS,
        "DAILY_LIMIT_REACHED",
    )
    .await;

    let bare = app.create_function_in(&user.token, "Bare", "PY").await;
    let undeployed = publish(&app, &user.token, &bare, json!({"dailyLimit": 1})).await;
    assert_problem(
        call(&app, &undeployed, "x").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "NO_RUNNER",
    )
    .await;
    let metrics: serde_json::Value = app
        .get(&format!("/v1/endpoint/{undeployed}/metrics"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        metrics["todayCalls"], 0,
        "a refused call is given back to the daily limit"
    );

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/v1/function/{function}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        call(&app, &id, "x").await,
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn one_client_and_one_endpoint_are_rate_limited(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.endpoints.rate_per_client = 0.01;
        settings.endpoints.burst_per_client = 3.0;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(&app, &user.token, &function, json!({})).await;
    for _ in 0..3 {
        token_of(call(&app, &id, "x").await).await;
    }
    let limited = call(&app, &id, "x").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Even an unknown endpoint costs the client a call: probing ids is rate limited too.
    let probe = call(&app, &"2".repeat(32), "x").await;
    assert_problem(probe, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;

    let app = TestApp::spawn_with(app.pool.clone(), |settings| {
        settings.endpoints.rate_per_endpoint = 0.01;
        settings.endpoints.burst_per_endpoint = 2.0;
    })
    .await;
    for _ in 0..2 {
        token_of(call(&app, &id, "x").await).await;
    }
    assert_problem(
        call(&app, &id, "x").await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    )
    .await;
}
