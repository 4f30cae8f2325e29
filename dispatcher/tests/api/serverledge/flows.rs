//! What a working facade does: create, list, invoke (sync and async), poll, delete, failures and drops.

use std::time::Duration;

use canopy_shared::protocol::{
    decode_body, Assignment, Outcome, TaskResult, Timings, WorkerMessage,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{answer, api_key, assert_text_error, call, isprime_create};
use crate::fake_worker::{register_node, resources, FakeWorker};
use crate::helpers::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn a_function_is_created_listed_invoked_polled_and_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let key = api_key(&app, &user.token).await;

    let created = call(&app, Method::POST, "/create", &key, Some(isprime_create())).await;
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(
        created.json::<Value>().await.expect("json"),
        json!({"Created": "isprime"})
    );
    let again = call(&app, Method::POST, "/create", &key, Some(isprime_create())).await;
    assert_text_error(again, StatusCode::CONFLICT, "FUNCTION_EXISTS").await;
    let names: Value = call(&app, Method::GET, "/function", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!(["isprime"]));
    let plural: Value = call(&app, Method::GET, "/functions", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(plural, names, "the path upstream's docs and old CLI use");
    let listed: Value = app
        .get("/v1/function/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    let listed = listed.to_string();
    assert!(
        listed.contains("\"isprime\"") && listed.contains("\"py\""),
        "{listed}"
    );

    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(2).await;

    // Synchronous: the report, with Result as a JSON string and the worker's timings.
    let invoke = {
        let (app_url, key) = (app.url("/invoke/isprime"), key.clone());
        let client = app.client.clone();
        tokio::spawn(async move {
            client
                .post(app_url)
                .bearer_auth(key)
                .json(&json!({"Params": {"n": 7}, "ReturnOutput": true, "QoSClass": 2}))
                .send()
                .await
                .expect("sent")
        })
    };
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.function.capabilities.mem_size, 128);
    assert_eq!(assignment.function.capabilities.cpu_count, 1);
    let body: Value =
        serde_json::from_slice(&decode_body(&assignment.request.body).expect("b64")).expect("json");
    assert_eq!(body, json!({"Params": {"n": 7}, "ReturnOutput": true}));
    answer(
        &mut worker,
        &assignment,
        "{\"IsPrime\": true}",
        "checking 7\n",
    )
    .await;
    let response = invoke.await.expect("joined");
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.expect("json");
    assert_eq!(report["Success"], true);
    assert_eq!(report["Result"], "{\"IsPrime\": true}");
    assert_eq!(report["Output"], "checking 7\n");
    assert_eq!(report["IsWarmStart"], true);
    assert_eq!(report["Duration"], 0.001);
    assert!(report["ResponseTime"].as_f64().expect("seconds") > 0.0);
    assert_eq!(report["ExecutionNode"], node.as_str());

    // Asynchronous: a ReqId, 404 from /poll until the result, then the same report.
    let accepted: Value = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Params": {}, "Async": true})),
    )
    .await
    .json()
    .await
    .expect("json");
    let req_id = accepted["ReqId"].as_str().expect("ReqId").to_owned();
    assert!(req_id.starts_with("isprime-"), "{req_id}");
    let assignment = worker.expect_assign().await;
    let pending = call(&app, Method::GET, &format!("/poll/{req_id}"), &key, None).await;
    assert_text_error(pending, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    answer(&mut worker, &assignment, "42", "").await;
    let report = poll_until_done(&app, &key, &req_id).await;
    assert_eq!(
        (report["Success"].clone(), report["Result"].clone()),
        (json!(true), json!("42"))
    );

    let deleted = call(
        &app,
        Method::POST,
        "/delete",
        &key,
        Some(json!({"Name": "isprime"})),
    )
    .await;
    assert_eq!(
        deleted.json::<Value>().await.expect("json"),
        json!({"Deleted": "isprime"})
    );
    let gone = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Params": {}})),
    )
    .await;
    assert_text_error(gone, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let names: Value = call(&app, Method::GET, "/function", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!([]));
    let recreated = call(&app, Method::POST, "/create", &key, Some(isprime_create())).await;
    assert_eq!(
        recreated.status(),
        StatusCode::OK,
        "a deleted name is free again"
    );
}

async fn poll_until_done(app: &TestApp, key: &str, req_id: &str) -> Value {
    for _ in 0..100 {
        let response = call(app, Method::GET, &format!("/poll/{req_id}"), key, None).await;
        if response.status() == StatusCode::OK {
            return response.json().await.expect("json");
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{req_id} never completed");
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_report_the_error_and_unserved_requests_are_dropped_with_429(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let key = api_key(&app, &user.token).await;
    assert_eq!(
        call(&app, Method::POST, "/create", &key, Some(isprime_create()))
            .await
            .status(),
        StatusCode::OK
    );

    // No worker: a request that cannot start within QoSMaxRespT is Serverledge's drop.
    let dropped = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Params": {}, "QoSMaxRespT": 0.5})),
    )
    .await;
    let text = assert_text_error(dropped, StatusCode::TOO_MANY_REQUESTS, "OVERLOADED").await;
    assert!(
        text.starts_with("Not served because of excessive load"),
        "{text}"
    );
    let accepted: Value = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Async": true, "QoSMaxRespT": 0.5})),
    )
    .await
    .json()
    .await
    .expect("json");
    let report = poll_until_done(&app, &key, accepted["ReqId"].as_str().expect("ReqId")).await;
    assert_eq!(report["Success"], false);
    assert!(
        report["Error"]
            .as_str()
            .expect("error")
            .contains("deadline"),
        "{report}"
    );

    // A handler that raises: 500 with its message (sync), Success false with it (async).
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(2).await;
    let invoke = {
        let (url, key, client) = (app.url("/invoke/isprime"), key.clone(), app.client.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .body("")
                .send()
                .await
                .expect("sent")
        })
    };
    let assignment = worker.expect_assign().await;
    fail(&mut worker, &assignment, "ValueError: unlucky").await;
    let text = assert_text_error(
        invoke.await.expect("joined"),
        StatusCode::INTERNAL_SERVER_ERROR,
        "INVOCATION_FAILED",
    )
    .await;
    assert_eq!(text, "Invocation failed: ValueError: unlucky");
    let accepted: Value = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Async": true})),
    )
    .await
    .json()
    .await
    .expect("json");
    let assignment = worker.expect_assign().await;
    fail(&mut worker, &assignment, "ValueError: again").await;
    let report = poll_until_done(&app, &key, accepted["ReqId"].as_str().expect("ReqId")).await;
    assert_eq!(
        (report["Success"].clone(), report["Error"].clone()),
        (json!(false), json!("ValueError: again"))
    );
}

async fn fail(worker: &mut FakeWorker, assignment: &Assignment, message: &str) {
    let result = TaskResult {
        regrant: false,
        image_pin: None,
        task_id: assignment.task_id.clone(),
        attempt: assignment.attempt,
        outcome: Outcome::Response {
            status: 500,
            content_type: Some("text/plain; charset=utf-8".into()),
            body: canopy_shared::protocol::encode_body(format!("error: {message}").as_bytes()),
            error: Some(message.to_owned()),
        },
        timings: Timings {
            init_ms: 5,
            exec_ms: 1,
            warm: false,
        },
        usage: None,
    };
    worker.send(&WorkerMessage::Result(result)).await;
}
