//! Compile jobs (GO, RS, CS): a build is `PENDING` until a node of the function's own account (or
//! its pools) compiles it — never a volunteer of another account — and the node's answer is
//! checked (its job, the size, the hash, the package).

use std::time::Duration;

use canopy_shared::protocol::{CompileJob, DispatcherMessage, Resources};
use canopy_shared::Lang;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::fake_worker::{register_node, resources, zip_of, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp};
use crate::reliability::create;

/// A node that runs and compiles GO.
pub fn go_compiler() -> Resources {
    Resources {
        runtimes: vec![Lang::Go],
        compiles: vec![Lang::Go],
        ..resources(2048)
    }
}

/// A GO function with a build uploaded; returns (function, build).
pub async fn go_function(app: &TestApp, token: &str) -> (String, String) {
    let function = app.create_function_in(token, "Hello", "GO").await;
    let response = app
        .client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(zip_of(&[(
            "handler.go",
            b"package function\n\nimport \"canopy/handler\"\n\nfunc Handle(req handler.Request) (handler.Response, error) { return handler.Response{}, nil }\n",
        )]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let build = id_of(response).await;
    (function, build)
}

pub async fn build_view(app: &TestApp, token: &str, build: &str) -> Value {
    let response = app.get(&format!("/v1/build/{build}"), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

pub async fn expect_compile(worker: &mut FakeWorker) -> CompileJob {
    match worker.recv().await {
        Some(DispatcherMessage::Compile(job)) => job,
        other => panic!("expected compile, got {other:?}"),
    }
}

/// A tar holding the source and a (fake) compiled binary with the marker.
fn compiled_package() -> Vec<u8> {
    compiled_package_with(b"\x7fELF fake")
}

/// A tar holding the source and `binary` as the compiled function, with the marker.
pub fn compiled_package_with(binary: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("handler.go", &b"package function\n"[..]),
        (".canopy/function", binary),
        (".canopy/compiled", b""),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    }
    builder.into_inner().expect("tar")
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub async fn put_compiled(
    app: &TestApp,
    node_token: &str,
    build: &str,
    sha: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/v1/worker/compile/{build}?sha256={sha}")))
        .bearer_auth(node_token)
        .body(body)
        .send()
        .await
        .expect("sent")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_volunteer_of_another_account_never_gets_the_compile_job_the_owners_node_does(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (function, build) = go_function(&app, &alice.token).await;
    assert_eq!(
        build_view(&app, &alice.token, &build).await["status"],
        "PENDING"
    );
    // The function allows volunteers and bob's node volunteers: it may run alice's tasks, but
    // not compile what every other node will run.
    let response = app
        .post(
            &format!("/v1/function/{function}/capabilities"),
            Some(&alice.token),
            json!({"volunteers": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (bob_node, bob_token) = register_node(&app, &bob.token).await;
    let response = app
        .post(
            &format!("/v1/node/{bob_node}/volunteer"),
            Some(&bob.token),
            json!({"volunteer": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mut volunteer = FakeWorker::connect(&app, &bob_node, &bob_token, go_compiler()).await;
    assert!(
        volunteer.stays_quiet(Duration::from_millis(2500)).await,
        "a volunteer of another account was offered the compile job"
    );

    let (node, token) = register_node(&app, &alice.token).await;
    let mut own = FakeWorker::connect(&app, &node, &token, go_compiler()).await;
    let job = expect_compile(&mut own).await;
    assert_eq!(job.build_id, build);
    assert_eq!(job.lang, Lang::Go);
    // The node holding the job may fetch the source; the volunteer may not.
    let source = app
        .client
        .get(app.url(&format!("/v1/worker/artifact/{}", job.source_sha256)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(source.status(), StatusCode::OK);
    let refused = app
        .client
        .get(app.url(&format!("/v1/worker/artifact/{}", job.source_sha256)))
        .bearer_auth(&bob_token)
        .send()
        .await
        .expect("sent");
    assert_problem(refused, StatusCode::NOT_FOUND, "ARTIFACT_NOT_FOUND").await;
    assert!(volunteer.stays_quiet(Duration::from_millis(500)).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_compiled_package_makes_the_build_success_and_new_tasks_run_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let (function, build) = go_function(&app, &alice.token).await;
    let (node, token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, go_compiler()).await;
    let job = expect_compile(&mut worker).await;

    // Before it is compiled, a task runs the source package (compiled at cold start).
    worker.pull(1).await;
    create(&app, &alice.token, &function).await;
    let before = worker.expect_assign().await;
    assert_eq!(before.function.artifact_sha256, job.source_sha256);
    worker.respond(&before, 200, "text/plain", b"ok").await;

    let package = compiled_package();
    let sha = sha256(&package);
    let response = put_compiled(&app, &token, &build, &sha, package.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let view = build_view(&app, &alice.token, &build).await;
    assert_eq!(view["status"], "SUCCESS");
    assert_eq!(view["artifactSha256"], sha.as_str());

    worker.pull(1).await;
    create(&app, &alice.token, &function).await;
    let after = worker.expect_assign().await;
    assert_eq!(after.function.artifact_sha256, sha);
    assert_eq!(after.function.build_id, build);

    // The job is over: a second answer is refused.
    let again = put_compiled(&app, &token, &build, &sha, package).await;
    assert_problem(again, StatusCode::CONFLICT, "BUILD_NOT_PENDING").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_whose_node_went_away_is_offered_to_another_node_of_the_account(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let (_, build) = go_function(&app, &alice.token).await;
    let (first_node, first_token) = register_node(&app, &alice.token).await;
    let mut first = FakeWorker::connect(&app, &first_node, &first_token, go_compiler()).await;
    assert_eq!(expect_compile(&mut first).await.build_id, build);
    // A second node is not offered the job while the first holds it.
    let (second_node, second_token) = register_node(&app, &alice.token).await;
    let mut second = FakeWorker::connect(&app, &second_node, &second_token, go_compiler()).await;
    assert!(second.stays_quiet(Duration::from_millis(1500)).await);

    drop(first);
    assert_eq!(expect_compile(&mut second).await.build_id, build);
    // The job is the second node's now: the first may no longer answer it.
    let package = compiled_package();
    let sha = sha256(&package);
    let response = put_compiled(&app, &first_token, &build, &sha, package.clone()).await;
    assert_problem(response, StatusCode::FORBIDDEN, "NOT_YOUR_COMPILE_JOB").await;
    let response = put_compiled(&app, &second_token, &build, &sha, package).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_compile_shows_the_compiler_output_and_tasks_get_409(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let (function, build) = go_function(&app, &alice.token).await;
    let (node, token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, go_compiler()).await;
    expect_compile(&mut worker).await;

    let response = app
        .client
        .post(app.url(&format!("/v1/worker/compile/{build}/failure")))
        .bearer_auth(&token)
        .json(&json!({"log": "handler.go:3:2: undefined: nope"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let view = build_view(&app, &alice.token, &build).await;
    assert_eq!(view["status"], "FAILED");
    let log: Vec<String> = serde_json::from_value(view["log"].clone()).expect("log");
    assert!(
        log.iter()
            .any(|line| line == "handler.go:3:2: undefined: nope"),
        "{log:?}"
    );

    let task = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("sent");
    let problem = assert_problem(task, StatusCode::CONFLICT, "BUILD_FAILED").await;
    assert!(problem["detail"].as_str().unwrap_or("").contains(&build));
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_compile_answers_get_their_status_and_code(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.compiled_package_limit = 64 * 1024;
    })
    .await;
    let alice = app.signup("alice@example.com").await;
    let (_, build) = go_function(&app, &alice.token).await;
    let (node, token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, go_compiler()).await;
    expect_compile(&mut worker).await;
    let package = compiled_package();
    let sha = sha256(&package);

    // Another node of the same account does not hold the job.
    let (_, other_token) = register_node(&app, &alice.token).await;
    let response = put_compiled(&app, &other_token, &build, &sha, package.clone()).await;
    assert_problem(response, StatusCode::FORBIDDEN, "NOT_YOUR_COMPILE_JOB").await;

    let response = put_compiled(&app, &token, &build, "abc", package.clone()).await;
    assert_invalid_field(response, "sha256").await;

    let wrong = sha256(b"something else");
    let response = put_compiled(&app, &token, &build, &wrong, package.clone()).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "HASH_MISMATCH").await;

    let big = vec![0u8; 65 * 1024];
    let response = put_compiled(&app, &token, &build, &sha256(&big), big).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    let not_tar = b"not a package".to_vec();
    let response = put_compiled(&app, &token, &build, &sha256(&not_tar), not_tar).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "NOT_A_COMPILED_PACKAGE").await;

    let unknown = canopy_shared::format_id(canopy_shared::new_id());
    let response = put_compiled(&app, &token, &unknown, &sha, package.clone()).await;
    assert_problem(response, StatusCode::NOT_FOUND, "BUILD_NOT_FOUND").await;

    let response = app
        .client
        .put(app.url(&format!("/v1/worker/compile/{build}?sha256={sha}")))
        .body(package)
        .send()
        .await
        .expect("sent");
    assert_problem(response, StatusCode::UNAUTHORIZED, "NEEDS_NODE_TOKEN").await;

    // None of these ended the job.
    assert_eq!(
        build_view(&app, &alice.token, &build).await["status"],
        "PENDING"
    );
}
