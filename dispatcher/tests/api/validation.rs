//! Every validation rule of the contract at its boundary: 400 VALIDATION_FAILED naming the field.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_invalid_field, TestApp};

fn function_body(changes: Value) -> Value {
    let mut body = json!({"name": "MyFunction", "description": "My function description", "lang": "GO", "type": "DOCKER"});
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (key, value) in changes {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn create_function_rejects_each_bad_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let cases = [
        (json!({"name": "My-Function"}), "name"),
        (json!({"name": "My Function"}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"description": "x".repeat(81)}), "description"),
        (json!({"description": "tab\there"}), "description"),
        (json!({"lang": "go"}), "lang"),
        (json!({"lang": "JAVA"}), "lang"),
        (json!({"type": "docker"}), "type"),
        (json!({"tag": ["not-an-id"]}), "tag"),
        (json!({"name": 5}), "name"),
        (json!({"extra": true}), "extra"),
    ];
    for (change, field) in cases {
        let response = app
            .post(
                "/v1/function",
                Some(&user.token),
                function_body(change.clone()),
            )
            .await;
        assert_invalid_field(response, field).await;
    }
    let missing = app
        .post(
            "/v1/function",
            Some(&user.token),
            json!({"name": "NoLang", "type": "DOCKER"}),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

    // The boundary that is allowed: exactly 80 characters.
    let ok = app
        .post(
            "/v1/function",
            Some(&user.token),
            function_body(json!({"description": "x".repeat(80)})),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let list: Vec<Value> = app
        .get("/v1/function/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1, "no refused request created anything");
}

#[sqlx::test(migrations = "../migrations")]
async fn edit_function_rejects_bad_fields(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = app.create_function(&user.token, "MyFunction", &[]).await;
    for (body, field) in [
        (json!({"name": "bad name!"}), "name"),
        (json!({"description": "y".repeat(81)}), "description"),
    ] {
        let response = app
            .send(
                Method::PATCH,
                &format!("/v1/function/{id}"),
                Some(&user.token),
                Some(body),
            )
            .await;
        assert_invalid_field(response, field).await;
    }
    let body: Value = app
        .get(&format!("/v1/function/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["name"], "MyFunction");
}

#[sqlx::test(migrations = "../migrations")]
async fn capabilities_reject_values_out_of_range(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = app.create_function(&user.token, "MyFunction", &[]).await;
    let path = format!("/v1/function/{id}/capabilities");
    let cases = [
        (json!({"timeout": 9}), "timeout"),
        (json!({"timeout": 121}), "timeout"),
        (json!({"timeout": -1}), "timeout"),
        (json!({"timeout": 10.5}), "timeout"),
        (json!({"cpuCount": 5}), "cpuCount"),
        (json!({"memSize": 2049}), "memSize"),
        (json!({"networkLatency": 60001}), "networkLatency"),
        (json!({"privileged": "yes"}), "privileged"),
    ];
    for (body, field) in cases {
        assert_invalid_field(app.post(&path, Some(&user.token), body).await, field).await;
    }
    let read: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["timeout"], 10, "refused changes changed nothing");
    assert_eq!(read["cpuCount"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn tags_reject_bad_names_and_colours(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let cases = [
        (json!({"name": "green", "color": "00ff80"}), "color"),
        (json!({"name": "green", "color": "#00gg80"}), "color"),
        (json!({"name": "green", "color": "green"}), "color"),
        (json!({"name": ""}), "name"),
        (json!({"name": "caf\u{e9}"}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
    ];
    for (body, field) in cases {
        assert_invalid_field(app.post("/v1/tag", Some(&user.token), body).await, field).await;
    }
    let id = app.create_tag(&user.token, "green", "#00ff80").await;
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/tag/{id}"),
            Some(&user.token),
            Some(json!({"color": "#12345"})),
        )
        .await;
    assert_invalid_field(response, "color").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn list_rejects_malformed_query_values(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    assert_invalid_field(
        app.get("/v1/function/list?tag=nope", &user.token).await,
        "tag",
    )
    .await;
    assert_invalid_field(
        app.get("/v1/function/list?limit=0", &user.token).await,
        "limit",
    )
    .await;
    assert_invalid_field(
        app.get("/v1/function/list?cursor=zz", &user.token).await,
        "cursor",
    )
    .await;
    let response = app.get("/v1/function/list?limit=abc", &user.token).await;
    crate::helpers::assert_problem(response, StatusCode::BAD_REQUEST, "INVALID_QUERY").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn register_rejects_weak_passwords_and_bad_emails(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let base = json!({"name": "Richard", "surname": "Smith", "email": "r@example.com", "password": "Secr3t!pass"});
    let cases = [
        ("password", json!("short1!")),
        ("password", json!("NoDigits!!")),
        ("password", json!("NoSymbol123")),
        ("email", json!("not-an-email")),
        ("surname", json!("Smith3")),
        ("surname", json!("x".repeat(21))),
        ("name", json!("")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value;
        assert_invalid_field(app.post("/v1/auth/register", None, body).await, field).await;
    }
}
