//! Create, read, list (query and GreenCloud's JSON body on GET), patch, delete, metrics.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{call, publish, token_of};
use crate::fake_worker::deployed_function;
use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn an_endpoint_is_created_read_patched_listed_and_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let tag = app.create_tag(&user.token, "public", "#00ff80").await;
    let body = json!({"description": "My endpoint", "tag": [tag], "dailyLimit": 100,
        "origin": "https://app.example.com/", "ip": ["10.0.0.0/8", "::1"],
        "timeLimit": {"from": "08:00", "to": "20:00", "timezone": "Europe/Rome"}});
    let id = publish(&app, &user.token, &function, body).await;
    assert_eq!(
        &id[12..13],
        "4",
        "endpoint ids are random (v4), not time-ordered"
    );

    let shown: Value = app
        .get(&format!("/v1/endpoint/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["functionId"], function.as_str());
    assert_eq!(shown["description"], "My endpoint");
    assert_eq!(shown["tags"][0]["name"], "public");
    assert_eq!(shown["dailyLimit"], 100);
    assert_eq!(shown["origin"], json!(["https://app.example.com"]));
    assert_eq!(shown["ip"], json!(["10.0.0.0/8", "::1"]));
    assert_eq!(
        shown["timeLimit"],
        json!({"from": "08:00", "to": "20:00", "timezone": "Europe/Rome"})
    );
    assert_eq!(shown["url"], format!("/gc/{id}"));
    assert!(shown["createdAt"].as_str().expect("rfc3339").contains('T'));

    // PATCH keeps what it does not name; `timeLimit: null` removes the window.
    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1/endpoint/{id}"),
            Some(&user.token),
            Some(json!({"dailyLimit": -1, "timeLimit": null})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::NO_CONTENT);
    let shown: Value = app
        .get(&format!("/v1/endpoint/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["dailyLimit"], -1);
    assert_eq!(shown["timeLimit"], Value::Null);
    assert_eq!(shown["description"], "My endpoint");
    assert_eq!(shown["ip"], json!(["10.0.0.0/8", "::1"]));

    let second = publish(&app, &user.token, &function, json!({})).await;
    let listed: Value = app
        .get("/v1/endpoint/list?limit=1", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["totalCount"], 2);
    assert_eq!(listed["pageCount"], 2);
    assert_eq!(listed["results"][0]["id"], id.as_str());
    // GreenCloud documents the paging as a JSON body on GET.
    let by_body: Value = app
        .send(
            Method::GET,
            "/v1/endpoint/list",
            Some(&user.token),
            Some(json!({"page": 2, "limit": 1})),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(by_body["results"][0]["id"], second.as_str());
    let other = app.create_function(&user.token, "Other", &[]).await;
    let filtered: Value = app
        .get(
            &format!("/v1/endpoint/list?functionId={other}"),
            &user.token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(filtered["totalCount"], 0);

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/v1/endpoint/{second}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        call(&app, &second, "x").await,
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
    )
    .await;
    let again = app
        .send(
            Method::DELETE,
            &format!("/v1/endpoint/{second}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn another_accounts_endpoint_is_a_404_everywhere(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = deployed_function(&app, &owner.token).await;
    let id = publish(&app, &owner.token, &function, json!({})).await;
    for (method, path) in [
        (Method::GET, format!("/v1/endpoint/{id}")),
        (Method::GET, format!("/v1/endpoint/{id}/metrics")),
        (Method::DELETE, format!("/v1/endpoint/{id}")),
    ] {
        let response = app.send(method, &path, Some(&other.token), None).await;
        assert_problem(response, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
    }
    let patch = app
        .send(
            Method::PATCH,
            &format!("/v1/endpoint/{id}"),
            Some(&other.token),
            Some(json!({"dailyLimit": 1})),
        )
        .await;
    assert_problem(patch, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
    let publish_foreign = app
        .post(
            &format!("/v1/endpoint/{function}"),
            Some(&other.token),
            json!({}),
        )
        .await;
    assert_problem(publish_foreign, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let listed: Value = app
        .get("/v1/endpoint/list", &other.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["totalCount"], 0);
    let anonymous = app
        .send(Method::GET, &format!("/v1/endpoint/{id}"), None, None)
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_count_calls_and_their_tasks(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(&app, &user.token, &function, json!({"dailyLimit": 10})).await;
    for _ in 0..3 {
        token_of(call(&app, &id, "x").await).await;
    }
    let metrics: Value = app
        .get(&format!("/v1/endpoint/{id}/metrics"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(metrics["todayTasks"], 3);
    assert_eq!(metrics["weekTasks"], 3);
    assert_eq!(metrics["pendingTasks"], 3, "no worker: all queued");
    assert_eq!(metrics["todayCalls"], 3);
    assert_eq!(metrics["dailyLimit"], 10);
    assert_eq!(metrics["succeededTasks"], 0);
}
