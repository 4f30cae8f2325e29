//! `POST /v1/function/{id}/prewarm` and the facade's `/prewarm` against scripted workers: only
//! nodes that may run the function are asked, they may fetch its code, and their answers are
//! summed; bad input is refused.

use std::time::Duration;

use canopy_shared::protocol::{DispatcherMessage, WorkerMessage};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, TestApp};

/// The next message, which must be a prewarm: (request id, version key, instances, sha).
async fn expect_prewarm(worker: &mut FakeWorker) -> (String, String, u32, String) {
    match worker.recv().await {
        Some(DispatcherMessage::Prewarm {
            request_id,
            function,
            instances,
        }) => (
            request_id,
            function.version_key(),
            instances,
            function.artifact_sha256.clone(),
        ),
        other => panic!("expected prewarm, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn only_nodes_that_may_run_the_function_prewarm_it_and_may_fetch_its_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (node, token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    let (bob_node, bob_token) = register_node(&app, &bob.token).await;
    let mut stranger = FakeWorker::connect(&app, &bob_node, &bob_token, resources(1024)).await;

    let request = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/v1/function/{function}/prewarm")),
            alice.token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"instances": 3}))
                .send()
                .await
                .expect("sent")
        })
    };
    let (request_id, version, instances, sha) = expect_prewarm(&mut worker).await;
    assert!(version.starts_with(&function), "{version}");
    assert_eq!(instances, 3, "the only eligible node gets them all");
    let download = |token: &str| {
        app.client
            .get(app.url(&format!("/v1/worker/artifact/{sha}")))
            .bearer_auth(token.to_owned())
            .send()
    };
    assert_eq!(
        download(&token).await.expect("sent").status(),
        StatusCode::OK
    );
    assert_problem(
        download(&bob_token).await.expect("sent"),
        StatusCode::NOT_FOUND,
        "ARTIFACT_NOT_FOUND",
    )
    .await;
    assert!(
        stranger.stays_quiet(Duration::from_millis(300)).await,
        "another account's node is never asked"
    );
    // A forged answer (another node, or an unknown request) changes nothing.
    stranger
        .send(&WorkerMessage::Prewarmed {
            request_id: request_id.clone(),
            started: 30,
        })
        .await;
    worker
        .send(&WorkerMessage::Prewarmed {
            request_id,
            started: 2,
        })
        .await;
    let response = request.await.expect("joined");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"prewarmed": 2})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_prewarm_requests_are_refused_and_without_nodes_nothing_is_warm(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let path = format!("/v1/function/{function}/prewarm");

    let none = app
        .post(&path, Some(&alice.token), json!({"instances": 2}))
        .await;
    assert_eq!(
        none.json::<Value>().await.expect("json"),
        json!({"prewarmed": 0})
    );
    let too_many = app
        .post(&path, Some(&alice.token), json!({"instances": 33}))
        .await;
    assert_invalid_field(too_many, "instances").await;
    let negative = app
        .post(&path, Some(&alice.token), json!({"instances": -1}))
        .await;
    assert_eq!(negative.status(), StatusCode::BAD_REQUEST);
    let unknown = app
        .post(
            "/v1/function/00000000000000000000000000000000/prewarm",
            Some(&alice.token),
            json!({"instances": 1}),
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let bob = app.signup("bob@example.com").await;
    let foreign = app
        .post(&path, Some(&bob.token), json!({"instances": 1}))
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let paused = app
        .send(
            Method::POST,
            &format!("/v1/function/{function}/togglePause"),
            Some(&alice.token),
            None,
        )
        .await;
    assert!(paused.status().is_success());
    let refused = app
        .post(&path, Some(&alice.token), json!({"instances": 1}))
        .await;
    assert_problem(refused, StatusCode::CONFLICT, "FUNCTION_PAUSED").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_prewarm_on_one_replica_reaches_workers_connected_to_another(pool: PgPool) {
    let one = TestApp::spawn(pool.clone()).await;
    let two = TestApp::spawn(pool).await;
    let user = one.signup("dev@example.com").await;
    let function = deployed_function(&one, &user.token).await;
    // One worker on each replica; the request arrives on replica one.
    let (near, near_token) = register_node(&one, &user.token).await;
    let mut near_worker = FakeWorker::connect(&one, &near, &near_token, resources(1024)).await;
    let (far, far_token) = register_node(&one, &user.token).await;
    let mut far_worker = FakeWorker::connect(&two, &far, &far_token, resources(1024)).await;

    let request = {
        let (client, url, token) = (
            one.client.clone(),
            one.url(&format!("/v1/function/{function}/prewarm")),
            user.token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"instances": 4}))
                .send()
                .await
                .expect("sent")
        })
    };
    let (near_request, _, near_instances, _) = expect_prewarm(&mut near_worker).await;
    let (far_request, _, far_instances, sha) = expect_prewarm(&mut far_worker).await;
    assert_eq!((near_instances, far_instances), (2, 2), "spread over both");
    // The far node may fetch the code from its own replica.
    let download = two
        .client
        .get(two.url(&format!("/v1/worker/artifact/{sha}")))
        .bearer_auth(&far_token)
        .send()
        .await
        .expect("sent");
    assert_eq!(download.status(), StatusCode::OK);
    near_worker
        .send(&WorkerMessage::Prewarmed {
            request_id: near_request,
            started: 2,
        })
        .await;
    far_worker
        .send(&WorkerMessage::Prewarmed {
            request_id: far_request,
            started: 1,
        })
        .await;
    let response = request.await.expect("joined");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"prewarmed": 3}),
        "both answers are summed, the far one relayed by replica two"
    );
}
