//! Tags: create, list, edit, delete (which detaches), uniqueness and isolation.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn tags_are_created_listed_edited_and_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = app.create_tag(&user.token, "greencloud", "#00ff80").await;
    let plain = app
        .post("/v1/tag", Some(&user.token), json!({"name": "plain tag"}))
        .await;
    assert_eq!(plain.status(), StatusCode::CREATED);

    let list: Value = app
        .get("/v1/tag/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        list[0],
        json!({"id": id, "name": "greencloud", "color": "#00ff80"})
    );
    assert_eq!(list[1]["color"], Value::Null);

    let edit = json!({"name": "renamed", "color": "#abc"});
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/tag/{id}"),
            Some(&user.token),
            Some(edit),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let list: Value = app
        .get("/v1/tag/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        list[0],
        json!({"id": id, "name": "renamed", "color": "#abc"})
    );

    let response = app
        .send(
            Method::DELETE,
            &format!("/v1/tag/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let list: Vec<Value> = app
        .get("/v1/tag/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    let again = app
        .send(
            Method::DELETE,
            &format!("/v1/tag/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "TAG_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_a_tag_detaches_it_from_functions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let gone = app.create_tag(&user.token, "gone", "#000000").await;
    let kept = app.create_tag(&user.token, "kept", "#ffffff").await;
    let function = app
        .create_function(&user.token, "MyFunction", &[&gone, &kept])
        .await;

    let response = app
        .send(
            Method::DELETE,
            &format!("/v1/tag/{gone}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body: Value = app
        .get(&format!("/v1/function/{function}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["tags"],
        json!([{"id": kept, "name": "kept", "color": "#ffffff"}])
    );
    let by_tag: Vec<Value> = app
        .get(&format!("/v1/function/list?tag={gone}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(by_tag.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_duplicate_tag_name_is_a_409_and_renaming_onto_one_too(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    app.create_tag(&user.token, "same", "#00ff80").await;
    let response = app
        .post("/v1/tag", Some(&user.token), json!({"name": "same"}))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "TAG_EXISTS").await;

    let other = app.create_tag(&user.token, "other", "#00ff80").await;
    let rename = json!({"name": "same"});
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/tag/{other}"),
            Some(&user.token),
            Some(rename),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "TAG_EXISTS").await;

    // Another account may use the same name.
    let neighbour = app.signup("neighbour@example.com").await;
    app.create_tag(&neighbour.token, "same", "#00ff80").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn another_accounts_tags_are_invisible_and_untouchable(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let intruder = app.signup("intruder@example.com").await;
    let id = app.create_tag(&owner.token, "private", "#00ff80").await;

    let list: Vec<Value> = app
        .get("/v1/tag/list", &intruder.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(list.is_empty());
    let edit = json!({"name": "stolen"});
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/tag/{id}"),
            Some(&intruder.token),
            Some(edit),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "TAG_NOT_FOUND").await;
    let response = app
        .send(
            Method::DELETE,
            &format!("/v1/tag/{id}"),
            Some(&intruder.token),
            None,
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "TAG_NOT_FOUND").await;
    let by_tag: Vec<Value> = app
        .get(&format!("/v1/function/list?tag={id}"), &intruder.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(by_tag.is_empty());

    let list: Value = app
        .get("/v1/tag/list", &owner.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        list,
        json!([{"id": id, "name": "private", "color": "#00ff80"}])
    );
}
