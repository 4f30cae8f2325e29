//! The nodes API: register (token shown once), list with live state, delete (closes the socket),
//! restore (new token), admin scope.

use std::time::{Duration, Instant};

use canopy_dispatcher::cli::CreateAdmin;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{open, register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn a_registered_node_is_listed_and_its_token_opens_the_gateway(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("volunteer@example.com").await;
    let (id, token) = register_node(&app, &user.token).await;
    assert!(token.starts_with("cnode_"));

    let list: Vec<Value> = app
        .get("/v1/node/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["hash"], id);
    assert_eq!(list[0]["description"], "test node");
    assert_eq!(list[0]["connected"], false);
    assert_eq!(list[0]["disabled"], false);
    assert!(list[0].get("token").is_none(), "the token is never listed");

    assert!(list[0].get("freeSlots").is_none(), "not connected here");

    let mut worker = FakeWorker::connect(&app, &id, &token, resources(1024)).await;
    worker.pull(3).await;
    let mut list: Vec<Value> = Vec::new();
    for _ in 0..50 {
        list = app
            .get("/v1/node/list", &user.token)
            .await
            .json()
            .await
            .expect("json");
        if list[0]["freeSlots"] == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(list[0]["connected"], true);
    assert_eq!(list[0]["available"], true);
    assert_eq!(list[0]["resources"]["memoryMb"], 1024);
    assert_eq!(list[0]["runningTasks"], 0);
    assert_eq!(list[0]["freeSlots"], 3, "the credits its worker granted");
}

#[sqlx::test(migrations = "../migrations")]
async fn node_ids_must_be_uuids_and_unique(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("volunteer@example.com").await;
    let response = app
        .post(
            "/v1/node/not-a-uuid",
            Some(&user.token),
            json!({"description": "x"}),
        )
        .await;
    assert_invalid_field(response, "hash").await;
    let (id, _) = register_node(&app, &user.token).await;
    let again = app
        .post(
            &format!("/v1/node/{id}"),
            Some(&user.token),
            json!({"description": "x"}),
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "NODE_EXISTS").await;
    let other = app.signup("other@example.com").await;
    let stolen = app
        .post(&format!("/v1/node/{id}"), Some(&other.token), json!({}))
        .await;
    assert_problem(stolen, StatusCode::CONFLICT, "NODE_EXISTS").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_a_node_closes_its_socket_within_a_second_and_revokes_the_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("volunteer@example.com").await;
    let (id, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &id, &token, resources(1024)).await;

    let started = Instant::now();
    let response = app
        .send(
            Method::DELETE,
            &format!("/v1/node/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        while worker.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the socket closes within a second");
    assert!(started.elapsed() < Duration::from_secs(1));

    assert_eq!(
        open(&app, &token).await.err(),
        Some(401),
        "the token is revoked"
    );
    let list: Vec<Value> = app
        .get("/v1/node/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["disabled"], true);
    assert_eq!(list[0]["available"], false);

    let restored = app
        .send(
            Method::PATCH,
            &format!("/v1/node/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    let body: Value = restored.json().await.expect("json");
    let new_token = body["token"].as_str().expect("new token").to_owned();
    assert_ne!(new_token, token);
    assert_eq!(
        open(&app, &token).await.err(),
        Some(401),
        "the old token stays revoked"
    );
    FakeWorker::connect(&app, &id, &new_token, resources(1024)).await;
    let again = app
        .send(
            Method::PATCH,
            &format!("/v1/node/{id}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "NODE_NOT_DELETED").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn users_see_their_nodes_and_admins_see_all(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (alice_node, _) = register_node(&app, &alice.token).await;
    register_node(&app, &bob.token).await;

    let list: Vec<Value> = app
        .get("/v1/node/list", &bob.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    let delete = app
        .send(
            Method::DELETE,
            &format!("/v1/node/{alice_node}"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_problem(delete, StatusCode::NOT_FOUND, "NODE_NOT_FOUND").await;

    let args = CreateAdmin {
        email: "root@example.com".into(),
        password: "Adm1n!pass".into(),
        name: "A".into(),
        surname: "B".into(),
    };
    canopy_dispatcher::admin::create_admin(&pool, &args)
        .await
        .expect("admin");
    let login: Value = app
        .login("root@example.com", "Adm1n!pass", None)
        .await
        .json()
        .await
        .expect("json");
    let admin = login["accessToken"].as_str().expect("token");
    let list: Vec<Value> = app
        .get("/v1/node/list", admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|node| node["owner"].is_string()));
    let delete = app
        .send(
            Method::DELETE,
            &format!("/v1/node/{alice_node}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}
