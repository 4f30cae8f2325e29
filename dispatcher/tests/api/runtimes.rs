//! A task whose language no connected node runs waits, saying which runtime is missing, and goes
//! to the first node that offers it.

use std::time::Duration;

use canopy_shared::protocol::Resources;
use canopy_shared::Lang;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{register_node, resources, zip_of, FakeWorker};
use crate::helpers::TestApp;
use crate::reliability::create;

#[sqlx::test(migrations = "../migrations")]
async fn a_task_waits_for_its_runtime_and_says_which_is_missing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Greeter", "RB").await;
    let built = app
        .client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(&user.token)
        .header("content-type", "application/zip")
        .body(zip_of(&[(
            "handler.rb",
            b"def handle(request)\n  'hi'\nend\n",
        )]))
        .send()
        .await
        .expect("sent");
    assert_eq!(built.status(), StatusCode::CREATED);

    // A node with Python and Node only.
    let (node, token) = register_node(&app, &user.token).await;
    let mut python = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    python.pull(1).await;
    let task = create(&app, &user.token, &function).await;
    assert!(python.stays_quiet(Duration::from_millis(500)).await);
    let view: Value = app
        .get(&format!("/v1/task/{task}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "queued");
    assert_eq!(
        view["pendingReason"], "no connected node offers runtime rb",
        "{view}"
    );

    let (ruby_node, ruby_token) = register_node(&app, &user.token).await;
    let ruby = Resources {
        runtimes: vec![Lang::Rb],
        ..resources(1024)
    };
    let mut ruby_worker = FakeWorker::connect(&app, &ruby_node, &ruby_token, ruby).await;
    ruby_worker.pull(1).await;
    let assignment = ruby_worker.expect_assign().await;
    assert_eq!(assignment.task_id, task);
    assert_eq!(assignment.function.lang, Lang::Rb);
}
