//! The group commit remembers function snapshots; every change to a function (capabilities,
//! build, pause, delete) must still reach the next task.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, zip_of, FakeWorker};
use crate::helpers::{assert_problem, id_of, TestApp};

async fn create_task(
    app: &TestApp,
    token: &str,
    function: &str,
    _query: &str,
    body: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("sent")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_remembered_function_snapshot_never_outlives_a_change_to_the_function(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(4096)).await;
    worker.pull(8).await;

    // The first submission reads the function; the dispatcher remembers it.
    assert_eq!(
        create_task(&app, &user.token, &function, "", b"{}")
            .await
            .status(),
        StatusCode::CREATED
    );
    let first = worker.expect_assign().await;
    assert_eq!(first.function.capabilities.timeout, 10);

    // New capabilities: the next task carries them, not the remembered ones.
    let capabilities = format!("/v1/function/{function}/capabilities");
    let response = app
        .post(
            &capabilities,
            Some(&user.token),
            json!({"timeout": 30, "memSize": 512}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        create_task(&app, &user.token, &function, "", b"{}")
            .await
            .status(),
        StatusCode::CREATED
    );
    let second = worker.expect_assign().await;
    assert_eq!(
        (
            second.function.capabilities.timeout,
            second.function.capabilities.mem_size
        ),
        (30, 512)
    );

    // A new build: the next task runs it.
    let build = app
        .client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(&user.token)
        .header("content-type", "application/zip")
        .body(zip_of(&[(
            "handler.py",
            b"def handle(r):\n    return 'v2'\n",
        )]))
        .send()
        .await
        .expect("sent");
    assert_eq!(build.status(), StatusCode::CREATED);
    let build_id = id_of(build).await;
    assert_eq!(
        create_task(&app, &user.token, &function, "", b"{}")
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(worker.expect_assign().await.function.build_id, build_id);

    // Paused, then deleted: refused with the right code although the snapshot was remembered.
    let toggle = format!("/v1/function/{function}/togglePause");
    assert_eq!(
        app.send(Method::POST, &toggle, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        create_task(&app, &user.token, &function, "", b"{}").await,
        StatusCode::CONFLICT,
        "FUNCTION_PAUSED",
    )
    .await;
    assert_eq!(
        app.send(Method::POST, &toggle, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        create_task(&app, &user.token, &function, "", b"{}")
            .await
            .status(),
        StatusCode::CREATED
    );
    worker.expect_assign().await;
    let delete = app
        .send(
            Method::DELETE,
            &format!("/v1/function/{function}"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_problem(
        create_task(&app, &user.token, &function, "", b"{}").await,
        StatusCode::NOT_FOUND,
        "FUNCTION_NOT_FOUND",
    )
    .await;
}
