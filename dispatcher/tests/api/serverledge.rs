//! The Serverledge facade (`../shared/seeds/serverledge-api.txt`) against a scripted worker on a
//! real WebSocket: shapes and status codes of every endpoint, async poll, failures, drops, auth
//! and cross-account isolation.

use std::time::Duration;

use base64::Engine;
use canopy_shared::protocol::{
    decode_body, Assignment, Outcome, TaskResult, Timings, WorkerMessage,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{register_node, resources, FakeWorker};
use crate::helpers::TestApp;

const ISPRIME: &[u8] = b"def handler(params, context):\n    return {'IsPrime': True}\n";

/// A base64 tar holding `files`, as Serverledge's CLI sends `TarFunctionCode`.
fn tar_code(files: &[(&str, &[u8])]) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, *data).expect("file");
    }
    base64::engine::general_purpose::STANDARD.encode(builder.into_inner().expect("tar"))
}

fn isprime_create() -> Value {
    json!({"Name": "isprime", "Runtime": "python310", "MemoryMB": 128, "CPUDemand": 0.5,
           "Handler": "isprime.handler", "TarFunctionCode": tar_code(&[("isprime.py", ISPRIME)])})
}

/// A new API key of the account behind `token`.
async fn api_key(app: &TestApp, token: &str) -> String {
    let created = app
        .send(Method::POST, "/v1/user/apiKey", Some(token), None)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    created["key"].as_str().expect("key").to_owned()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Response {
    app.send(method, path, Some(key), body).await
}

/// Asserts a text/plain error with its status and `X-Canopy-Error-Code`; returns the text.
async fn assert_text_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "status for {code}");
    let headers = response.headers().clone();
    assert_eq!(headers["x-canopy-error-code"], code);
    assert!(headers["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    response.text().await.expect("text")
}

/// Answers an assignment as a runner does for a Serverledge handler.
async fn answer(worker: &mut FakeWorker, assignment: &Assignment, result: &str, output: &str) {
    let body = serde_json::to_vec(&json!({"Result": result, "Output": output})).expect("json");
    worker
        .respond(assignment, 200, "application/json", &body)
        .await;
}

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
    };
    worker.send(&WorkerMessage::Result(result)).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_a_text_error_with_a_code_and_nothing_is_created(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let key = api_key(&app, &user.token).await;
    let no_module = tar_code(&[("other.py", ISPRIME)]);
    let with = |patch: Value| {
        let mut body = isprime_create();
        for (name, value) in patch.as_object().expect("object") {
            body[name] = value.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"Runtime": "cobol"})),
            StatusCode::NOT_FOUND,
            "INVALID_RUNTIME",
        ),
        (
            with(json!({"Runtime": "custom", "CustomImage": "alpine"})),
            StatusCode::NOT_FOUND,
            "CUSTOM_IMAGE_NOT_SUPPORTED",
        ),
        (
            with(json!({"MemoryMB": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_MEMORY",
        ),
        (
            with(json!({"CPUDemand": 8.0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_CPU",
        ),
        (
            with(json!({"Handler": ""})),
            StatusCode::BAD_REQUEST,
            "HANDLER_MISSING",
        ),
        (
            with(json!({"Handler": "nodot"})),
            StatusCode::BAD_REQUEST,
            "INVALID_HANDLER",
        ),
        (
            with(json!({"TarFunctionCode": ""})),
            StatusCode::BAD_REQUEST,
            "CODE_MISSING",
        ),
        (
            with(json!({"TarFunctionCode": "%%%"})),
            StatusCode::BAD_REQUEST,
            "INVALID_CODE",
        ),
        (
            with(json!({"TarFunctionCode": "aGVsbG8="})),
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_ARCHIVE",
        ),
        (
            with(json!({"TarFunctionCode": no_module})),
            StatusCode::BAD_REQUEST,
            "ENTRY_POINT_MISSING",
        ),
        (
            with(json!({"Name": "bad name!"})),
            StatusCode::BAD_REQUEST,
            "INVALID_NAME",
        ),
        (
            with(json!({"MemoryMB": "lots"})),
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
        ),
        (json!([1, 2]), StatusCode::BAD_REQUEST, "INVALID_JSON"),
    ];
    for (body, status, code) in cases {
        let response = call(&app, Method::POST, "/create", &key, Some(body)).await;
        assert_text_error(response, status, code).await;
    }
    let broken = app
        .client
        .post(app.url("/create"))
        .bearer_auth(&key)
        .body("{\"Name\":")
        .send()
        .await
        .expect("sent");
    assert_text_error(broken, StatusCode::BAD_REQUEST, "INVALID_JSON").await;
    let names: Value = call(&app, Method::GET, "/function", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!([]), "nothing was created");

    assert_eq!(
        call(&app, Method::POST, "/create", &key, Some(isprime_create()))
            .await
            .status(),
        StatusCode::OK
    );
    let bad_params = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Params": [1]})),
    )
    .await;
    assert_text_error(bad_params, StatusCode::BAD_REQUEST, "INVALID_PARAMS").await;
    let bad_qos = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"QoSMaxRespT": "soon"})),
    )
    .await;
    assert_text_error(bad_qos, StatusCode::BAD_REQUEST, "INVALID_FIELD").await;
    let no_limit = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"QoSMaxRespT": -1, "Async": true})),
    )
    .await;
    assert_eq!(
        no_limit.status(),
        StatusCode::OK,
        "-1 (the CLI's default) means no limit"
    );
    let unknown = call(&app, Method::POST, "/invoke/nope", &key, Some(json!({}))).await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let unknown = call(
        &app,
        Method::POST,
        "/delete",
        &key,
        Some(json!({"Name": "nope"})),
    )
    .await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let unknown = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "nope", "Instances": 1})),
    )
    .await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let negative = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "isprime", "Instances": -1})),
    )
    .await;
    assert_text_error(negative, StatusCode::BAD_REQUEST, "INVALID_INSTANCES").await;
    let prewarmed = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "isprime", "Instances": 0})),
    )
    .await;
    assert_eq!(
        prewarmed.json::<Value>().await.expect("json"),
        json!({"Prewarmed": 0})
    );
    for req_id in ["isprime-98330239242748", "x"] {
        let response = call(&app, Method::GET, &format!("/poll/{req_id}"), &key, None).await;
        assert_text_error(response, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_go_in_bearer_or_basic_and_accounts_never_see_each_other(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let alice_key = api_key(&app, &alice.token).await;
    let bob_key = api_key(&app, &bob.token).await;

    let anonymous = app
        .client
        .get(app.url("/function"))
        .send()
        .await
        .expect("sent");
    assert!(anonymous.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .contains("Basic"));
    assert_text_error(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    let forged = call(
        &app,
        Method::GET,
        "/function",
        "canopy_0000000000000000000000000000000000000000",
        None,
    )
    .await;
    assert_text_error(forged, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    let created = app
        .client
        .post(app.url("/create"))
        .basic_auth(&alice_key, None::<&str>)
        .json(&isprime_create())
        .send()
        .await
        .expect("sent");
    assert_eq!(
        created.status(),
        StatusCode::OK,
        "the key as the Basic user name (KEY@host)"
    );
    let by_password = app
        .client
        .get(app.url("/function"))
        .basic_auth("serverledge", Some(&alice_key))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        by_password.json::<Value>().await.expect("json"),
        json!(["isprime"])
    );
    let by_token = call(&app, Method::GET, "/function", &alice.token, None).await;
    assert_eq!(
        by_token.json::<Value>().await.expect("json"),
        json!(["isprime"]),
        "an access token works too"
    );

    // Bob sees nothing of Alice's and can use the same name.
    let names: Value = call(&app, Method::GET, "/function", &bob_key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!([]));
    for (path, body) in [
        ("/invoke/isprime", json!({})),
        ("/delete", json!({"Name": "isprime"})),
        ("/prewarm", json!({"Function": "isprime"})),
    ] {
        let response = call(&app, Method::POST, path, &bob_key, Some(body)).await;
        assert_text_error(response, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    }
    let accepted: Value = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &alice_key,
        Some(json!({"Async": true})),
    )
    .await
    .json()
    .await
    .expect("json");
    let req_id = accepted["ReqId"].as_str().expect("ReqId");
    let peek = call(
        &app,
        Method::GET,
        &format!("/poll/{req_id}"),
        &bob_key,
        None,
    )
    .await;
    assert_text_error(peek, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    let mine = call(
        &app,
        Method::POST,
        "/create",
        &bob_key,
        Some(isprime_create()),
    )
    .await;
    assert_eq!(mine.status(), StatusCode::OK, "names are per account");

    // A revoked key stops working at once, even though it was just used.
    let keys: Value = app
        .get("/v1/user", &alice.token)
        .await
        .json()
        .await
        .expect("json");
    let key_id = keys["apiKeys"][0]["id"].as_str().expect("id");
    let revoked = app
        .send(
            Method::DELETE,
            &format!("/v1/user/apiKey/{key_id}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert!(revoked.status().is_success());
    let after = call(&app, Method::GET, "/function", &alice_key, None).await;
    assert_text_error(after, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}
