//! Create, read, list, patch, delete; cycles and every class of bad input.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{chain, trigger};
use crate::fake_worker::deployed_function;
use crate::helpers::{assert_invalid_field, assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn a_trigger_is_created_read_patched_listed_and_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (a, b) = (
        deployed_function(&app, &user.token).await,
        deployed_function(&app, &user.token).await,
    );
    let tag = app.create_tag(&user.token, "chain", "#abc").await;
    let created = app
        .post("/v1/trigger", Some(&user.token),
              json!({"functionId": a, "nextId": b, "includeResult": true, "status": 200, "tag": [tag], "description": "a then b"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = crate::helpers::id_of(created).await;
    let shown = trigger(&app, &user.token, &id).await;
    assert_eq!(shown["functionId"], a.as_str());
    assert_eq!(shown["nextId"], b.as_str());
    assert_eq!(shown["status"], 200);
    assert_eq!(shown["includeResult"], true);
    assert_eq!(shown["tags"][0]["name"], "chain");
    assert_eq!(shown["description"], "a then b");
    assert_eq!(shown["fired"], 0);

    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1/trigger/{id}"),
            Some(&user.token),
            Some(json!({"status": 0, "tag": []})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::NO_CONTENT);
    let shown = trigger(&app, &user.token, &id).await;
    assert_eq!(shown["status"], 0);
    assert_eq!(shown["includeResult"], true, "omitted: kept");
    assert_eq!(shown["tags"], json!([]));

    let c = deployed_function(&app, &user.token).await;
    let second = chain(&app, &user.token, &b, &c, 0, false).await;
    let listed: Value = app
        .get("/v1/trigger/list?limit=1&page=2", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["totalCount"], 2);
    assert_eq!(listed["results"][0]["id"], second.as_str());
    let by_body: Value = app
        .send(
            Method::GET,
            "/v1/trigger/list",
            Some(&user.token),
            Some(json!({"functionId": a})),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(by_body["totalCount"], 1);
    assert_eq!(by_body["results"][0]["id"], id.as_str());

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/v1/trigger/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/v1/trigger/{id}"), &user.token).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "TRIGGER_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn loops_of_triggers_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let a = deployed_function(&app, &user.token).await;
    let b = deployed_function(&app, &user.token).await;
    let c = deployed_function(&app, &user.token).await;
    let own = app
        .post(
            "/v1/trigger",
            Some(&user.token),
            json!({"functionId": a, "nextId": a, "includeResult": false}),
        )
        .await;
    assert_problem(own, StatusCode::CONFLICT, "TRIGGER_CYCLE").await;
    chain(&app, &user.token, &a, &b, 200, false).await;
    chain(&app, &user.token, &b, &c, 500, false).await;
    let back = app
        .post(
            "/v1/trigger",
            Some(&user.token),
            json!({"functionId": c, "nextId": a, "includeResult": false}),
        )
        .await;
    assert_problem(back, StatusCode::CONFLICT, "TRIGGER_CYCLE").await;
    // Fan-out and a diamond are fine.
    chain(&app, &user.token, &a, &c, 0, false).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_trigger_input_gets_its_status_and_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other = app.signup("other@example.com").await;
    let a = deployed_function(&app, &user.token).await;
    let b = deployed_function(&app, &user.token).await;
    let theirs = deployed_function(&app, &other.token).await;
    for (body, field) in [
        (json!({"functionId": a, "nextId": b}), "includeResult"),
        (json!({"functionId": a, "includeResult": true}), "nextId"),
        (
            json!({"functionId": a, "nextId": theirs, "includeResult": true}),
            "nextId",
        ),
        (
            json!({"functionId": "xyz", "nextId": b, "includeResult": true}),
            "functionId",
        ),
        (
            json!({"functionId": a, "nextId": b, "includeResult": true, "status": 99}),
            "status",
        ),
        (
            json!({"functionId": a, "nextId": b, "includeResult": true, "status": "200"}),
            "status",
        ),
        (
            json!({"functionId": a, "nextId": b, "includeResult": true, "tag": ["x"]}),
            "tag",
        ),
        (
            json!({"functionId": a, "nextId": b, "includeResult": true, "description": "\u{e9}"}),
            "description",
        ),
        (
            json!({"functionId": a, "nextId": b, "includeResult": "yes"}),
            "includeResult",
        ),
    ] {
        assert_invalid_field(
            app.post("/v1/trigger", Some(&user.token), body).await,
            field,
        )
        .await;
    }
    let id = super::chain(&app, &user.token, &a, &b, 200, false).await;
    let fixed = app
        .send(
            Method::PATCH,
            &format!("/v1/trigger/{id}"),
            Some(&user.token),
            Some(json!({"nextId": a})),
        )
        .await;
    assert_invalid_field(fixed, "nextId").await;
    for (method, path, body) in [
        (Method::GET, format!("/v1/trigger/{id}"), None),
        (Method::DELETE, format!("/v1/trigger/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/trigger/{id}"),
            Some(json!({"status": 0})),
        ),
        (Method::GET, "/v1/trigger/xyz".to_owned(), None),
    ] {
        let response = app.send(method, &path, Some(&other.token), body).await;
        assert_problem(response, StatusCode::NOT_FOUND, "TRIGGER_NOT_FOUND").await;
    }
    for query in ["page=0", "limit=1000", "functionId=nope"] {
        let field = query.split('=').next().expect("name");
        assert_invalid_field(
            app.get(&format!("/v1/trigger/list?{query}"), &user.token)
                .await,
            field,
        )
        .await;
    }
    let anonymous = app
        .send(Method::POST, "/v1/trigger", None, Some(json!({})))
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}
