//! The Serverledge facade with real containers: upstream-shaped Python and Node functions
//! created, invoked (sync and async, with ReturnOutput) and failing, on a real Docker worker.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

/// `TarFunctionCode`: the folder's files in a base64 tar, as the Serverledge CLI sends it.
fn tar_code(dir: &Path) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", dir).expect("tar the folder");
    let tar = builder.into_inner().expect("tar");
    base64::engine::general_purpose::STANDARD.encode(tar)
}

async fn post(platform: &Platform, path: &str, body: Value) -> reqwest::Response {
    platform
        .client
        .post(platform.url(path))
        .bearer_auth(&platform.api_key)
        .json(&body)
        .send()
        .await
        .expect("sent")
}

async fn create(platform: &Platform, name: &str, runtime: &str, handler: &str, example: &str) {
    let code = tar_code(&repo_root().join("examples").join(example));
    let body = json!({"Name": name, "Runtime": runtime, "MemoryMB": 128, "Handler": handler,
                      "TarFunctionCode": code});
    let response = post(platform, "/create", body).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn upstream_python_and_node_functions_run_unchanged(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let worker = platform.start_worker("serverledge-node").await;
    create(
        &platform,
        "isprime",
        "python310",
        "isprime.handler",
        "serverledge-isprime",
    )
    .await;
    create(
        &platform,
        "sieve",
        "nodejs17ng",
        "sieve.js",
        "serverledge-sieve",
    )
    .await;

    let response = post(
        &platform,
        "/invoke/isprime",
        json!({"Params": {"n": 7919}, "ReturnOutput": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", worker.log_text());
    let report: Value = response.json().await.expect("json");
    assert_eq!(report["Success"], true);
    assert_eq!(
        serde_json::from_str::<Value>(report["Result"].as_str().expect("string")).expect("json"),
        json!({"IsPrime": true})
    );
    assert_eq!(report["Output"], "checking 7919\n");
    assert_eq!(
        report["IsWarmStart"], false,
        "the first call starts a container"
    );
    assert!(
        report["InitTime"].as_f64().expect("seconds") > 0.0,
        "{report}"
    );
    let warm: Value = post(&platform, "/invoke/isprime", json!({"Params": {"n": 8}}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(warm["IsWarmStart"], true, "{warm}");
    assert_eq!(warm["Result"], "{\"IsPrime\": false}");
    assert_eq!(warm["Output"], "", "output only with ReturnOutput");

    // The handler raises: 500 with its message; async, Success false with it.
    let failed = post(&platform, "/invoke/isprime", json!({"Params": {"n": -1}})).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = failed.text().await.expect("text");
    assert!(
        text.contains("ValueError: n must not be negative"),
        "{text}"
    );

    // Prewarmed: the first call of sieve starts warm.
    let prewarmed: Value = post(
        &platform,
        "/prewarm",
        json!({"Function": "sieve", "Instances": 1}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(prewarmed, json!({"Prewarmed": 1}), "{}", worker.log_text());

    let accepted: Value = post(
        &platform,
        "/invoke/sieve",
        json!({"Params": {"n": 100}, "Async": true, "ReturnOutput": true}),
    )
    .await
    .json()
    .await
    .expect("json");
    let req_id = accepted["ReqId"].as_str().expect("ReqId");
    let report = poll(&platform, req_id).await;
    assert_eq!(report["Success"], true, "{report}");
    assert_eq!(
        serde_json::from_str::<Value>(report["Result"].as_str().expect("string")).expect("json"),
        json!({"count": 25, "last": 97})
    );
    assert_eq!(report["Output"], "sieving up to 100\n");
    assert_eq!(report["IsWarmStart"], true, "prewarmed: {report}");
}

async fn poll(platform: &Platform, req_id: &str) -> Value {
    for _ in 0..300 {
        let response = platform
            .client
            .get(platform.url(&format!("/poll/{req_id}")))
            .basic_auth(&platform.api_key, None::<&str>)
            .send()
            .await
            .expect("sent");
        if response.status() == StatusCode::OK {
            return response.json().await.expect("json");
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{req_id} did not finish in 30 s");
}
