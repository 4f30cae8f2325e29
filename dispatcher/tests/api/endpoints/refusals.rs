//! Bad input to the endpoint API: each class answers its status and code.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use super::publish;
use crate::fake_worker::deployed_function;
use crate::helpers::{assert_invalid_field, assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn every_bad_field_is_a_400_naming_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let foreign_tag = app.create_tag(&other.token, "theirs", "#fff").await;
    let path = format!("/v1/endpoint/{function}");
    for (body, field) in [
        (json!({"dailyLimit": -2}), "dailyLimit"),
        (json!({"dailyLimit": 1e12}), "dailyLimit"),
        (json!({"description": "x".repeat(257)}), "description"),
        (
            json!({"origin": ["https://ok.example", "example.com"]}),
            "origin[1]",
        ),
        (json!({"origin": "ftp://x"}), "origin[0]"),
        (json!({"ip": ["999.1.1.1"]}), "ip[0]"),
        (json!({"ip": ["10.0.0.1/8"]}), "ip[0]"),
        (
            json!({"timeLimit": {"from": "8:00", "to": "20:00", "timezone": "UTC"}}),
            "timeLimit.from",
        ),
        (
            json!({"timeLimit": {"from": "08:00", "to": "08:00", "timezone": "UTC"}}),
            "timeLimit.to",
        ),
        (
            json!({"timeLimit": {"from": "08:00", "to": "20:00", "timezone": "Mars/Olympus"}}),
            "timeLimit.timezone",
        ),
        (
            json!({"timeLimit": {"from": "08:00", "to": "20:00"}}),
            "timeLimit.timezone",
        ),
        (json!({"tag": [foreign_tag]}), "tag[0]"),
        (json!({"tag": ["not-an-id"]}), "tag"),
        (json!({"dailylimit": 3}), "dailylimit"),
    ] {
        let response = app.post(&path, Some(&user.token), body.clone()).await;
        assert_invalid_field(response, field).await;
    }
    let id = publish(&app, &user.token, &function, json!({})).await;
    let patch = app
        .send(
            Method::PATCH,
            &format!("/v1/endpoint/{id}"),
            Some(&user.token),
            Some(json!({"ip": ["nope"]})),
        )
        .await;
    assert_invalid_field(patch, "ip[0]").await;
    for query in ["page=0", "limit=0", "limit=1000", "functionId=xyz"] {
        let response = app
            .get(&format!("/v1/endpoint/list?{query}"), &user.token)
            .await;
        let field = query.split('=').next().expect("name");
        assert_invalid_field(response, field).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_bodies_and_ids_get_their_codes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let broken = app
        .client
        .post(app.url(&format!("/v1/endpoint/{function}")))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body("{\"dailyLimit\":")
        .send()
        .await
        .expect("sent");
    assert_problem(broken, StatusCode::BAD_REQUEST, "INVALID_JSON").await;
    let text = app
        .client
        .post(app.url(&format!("/v1/endpoint/{function}")))
        .bearer_auth(&user.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_problem(text, StatusCode::BAD_REQUEST, "UNSUPPORTED_CONTENT_TYPE").await;
    let bad_function = app
        .post("/v1/endpoint/xyz", Some(&user.token), json!({}))
        .await;
    assert_problem(bad_function, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let bad_id = app.get("/v1/endpoint/xyz", &user.token).await;
    assert_problem(bad_id, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
    let bad_call = app
        .client
        .post(app.url("/gc/xyz"))
        .send()
        .await
        .expect("sent");
    assert_problem(bad_call, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
    let bad_result = app
        .client
        .get(app.url("/gc/xyz/result"))
        .send()
        .await
        .expect("sent");
    assert_problem(bad_result, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;

    let id = publish(&app, &user.token, &function, json!({})).await;
    let huge = app
        .client
        .post(app.url(&format!("/gc/{id}")))
        .body(vec![b'x'; 7 * 1024 * 1024])
        .send()
        .await
        .expect("sent");
    assert_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    let bad_wait = app
        .client
        .get(app.url(&format!("/gc/{}/result?wait=x", "a".repeat(32))))
        .send()
        .await
        .expect("sent");
    assert_problem(bad_wait, StatusCode::BAD_REQUEST, "INVALID_QUERY").await;
}
