//! Custom images over the API and a scripted worker: validation, no code needed, only nodes
//! that allow custom images get their tasks (and the pending reason says so), the pin a worker
//! reports is recorded once and sent with every later assignment, and an image change drops it.

use std::time::Duration;

use canopy_shared::image::ImagePin;
use canopy_shared::protocol::{encode_body, Outcome, TaskResult, Timings, WorkerMessage};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, id_of, TestApp};
use crate::reliability::create;

const PIN: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

async fn create_with_image(app: &TestApp, token: &str, image: &str) -> String {
    let body = json!({"name": "Custom", "lang": "PY", "type": "DOCKER", "image": image});
    let response = app.post("/v1/function", Some(token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

async fn function(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/v1/function/{id}"), token)
        .await
        .json()
        .await
        .expect("json")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_malformed_image_reference_is_a_400_on_the_image_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    for bad in ["", "Upper:1", "fn@sha256:abc", "fn:", "a b"] {
        let body = json!({"name": "Custom", "lang": "PY", "type": "DOCKER", "image": bad});
        let response = app.post("/v1/function", Some(&user.token), body).await;
        assert_invalid_field(response, "image").await;
    }
    let id = create_with_image(&app, &user.token, "team/echo:1").await;
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/function/{id}"),
            Some(&user.token),
            Some(json!({"image": "no//pe"})),
        )
        .await;
    assert_invalid_field(response, "image").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn only_a_node_that_allows_custom_images_gets_their_tasks_and_the_pin_sticks(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = create_with_image(&app, &user.token, "team/echo:1").await;
    assert_eq!(
        function(&app, &user.token, &id).await["image"],
        "team/echo:1"
    );

    // No code was uploaded: the task is accepted and waits for a node that allows the image.
    let (node, token) = register_node(&app, &user.token).await;
    let mut plain = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    plain.pull(1).await;
    let task = create(&app, &user.token, &id).await;
    assert!(plain.stays_quiet(Duration::from_millis(800)).await);
    let view: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "queued");
    assert_eq!(
        view["pendingReason"],
        "no connected node allows custom images"
    );

    let (node, token) = register_node(&app, &user.token).await;
    let mut allowing = resources(1024);
    allowing.allows_custom_images = true;
    let mut custom = FakeWorker::connect(&app, &node, &token, allowing).await;
    custom.pull(2).await;
    let assignment = custom.expect_assign().await;
    assert_eq!(assignment.task_id, task);
    let image = assignment
        .function
        .image
        .clone()
        .expect("the image is sent");
    assert_eq!((image.reference.as_str(), image.pin), ("team/echo:1", None));

    let result = TaskResult {
        task_id: assignment.task_id.clone(),
        attempt: assignment.attempt,
        outcome: Outcome::Response {
            status: 200,
            content_type: Some("text/plain".into()),
            body: encode_body(b"ok"),
            error: None,
        },
        timings: Timings::default(),
        usage: None,
        regrant: false,
        image_pin: Some(ImagePin {
            reference: "team/echo:1".into(),
            id: PIN.into(),
        }),
    };
    custom.send(&WorkerMessage::Result(result)).await;
    let answer = app
        .get(&format!("/v1/task/{task}/result?wait=5"), &user.token)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(function(&app, &user.token, &id).await["imagePin"], PIN);

    let next = create(&app, &user.token, &id).await;
    let assignment = custom.expect_assign().await;
    assert_eq!(assignment.task_id, next);
    let image = assignment.function.image.expect("image");
    assert_eq!(image.pin.as_deref(), Some(PIN), "later starts use the pin");

    // Naming another image drops the pin.
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/function/{id}"),
            Some(&user.token),
            Some(json!({"image": "team/echo:2"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let view = function(&app, &user.token, &id).await;
    assert_eq!(view["image"], "team/echo:2");
    assert!(view.get("imagePin").is_none(), "{view}");
}

#[sqlx::test(migrations = "../migrations")]
async fn serverledge_custom_runtime_creates_a_custom_image_function(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let key = crate::serverledge::api_key(&app, &user.token).await;
    let body = json!({"Name": "cpp", "Runtime": "custom", "CustomImage": "team/cpp:2",
                      "MemoryMB": 256, "CPUDemand": 1.0});
    let response = crate::serverledge::call(&app, Method::POST, "/create", &key, Some(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = app
        .get("/v1/function/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    let id = list[0]["id"].as_str().expect("id");
    let view = function(&app, &user.token, id).await;
    assert_eq!(view["image"], "team/cpp:2");
    assert_eq!(view["capabilities"]["memSize"], 256);
}
