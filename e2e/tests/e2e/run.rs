//! Functions run for real: PY and JS, query and body, binary bodies, exceptions, timeouts, warm starts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn python_function_gets_query_and_body_and_answers_byte_for_byte(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("py-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("runtimes/testdata/python"))
        .await;

    let response = platform
        .invoke(&function, "?mode=echo&name=Ada", br#"{"n": 42}"#)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.expect("json");
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["queryParams"]["name"], "Ada");
    assert_eq!(echoed["json"], json!({"n": 42}));
    assert_eq!(echoed["contentType"], "application/json");

    let response = platform.invoke(&function, "?mode=binary", b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let expected: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), expected);

    // The stored result replays the same bytes later.
    let list = platform.get_json("/v1/task/list").await;
    let binary_task = list[1]["id"].as_str().expect("id").to_owned();
    let replay = platform
        .client
        .get(platform.url(&format!("/v1/task/{binary_task}/result")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(replay.bytes().await.expect("bytes").to_vec(), expected);
}

#[sqlx::test(migrations = "../migrations")]
async fn node_function_runs_and_a_handler_exception_is_a_500_with_the_message(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("js-node").await;
    let function = platform
        .deploy("JS", &repo_root().join("runtimes/testdata/node"))
        .await;

    let response = platform
        .invoke(&function, "?mode=echo&name=Ada", br#"{"n": 1}"#)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.expect("json");
    assert_eq!(echoed["queryParams"]["name"], "Ada");
    assert_eq!(echoed["json"], json!({"n": 1}));

    let response = platform.invoke(&function, "?mode=raise", b"").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let task = response.headers()["x-canopy-task-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let body = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"]["kind"], "handler_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("boom")),
        "{body}"
    );

    // The worker survived the exception.
    assert_eq!(
        platform
            .invoke(&function, "?mode=string", b"")
            .await
            .text()
            .await
            .expect("text"),
        "plain string"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_timeout_kills_the_container_and_the_task_is_timed_out(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("slow-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("runtimes/testdata/python"))
        .await;
    // timeout is 10 s by default (the contract's minimum).
    let started = Instant::now();
    let response = platform
        .invoke(&function, "?mode=sleep&seconds=30", b"")
        .await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "TASK_TIMED_OUT");
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(25),
        "killed at the timeout: {elapsed:?}"
    );
    let containers = docker_ps(&format!("canopy.function={function}"));
    assert!(
        containers.is_empty(),
        "the timed-out container is gone: {containers:?}"
    );
    // A new container serves the next task.
    assert_eq!(
        platform
            .invoke(&function, "?mode=string", b"")
            .await
            .status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_second_task_is_a_warm_start(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("warm-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("examples/python-hello"))
        .await;

    let mut timings = Vec::new();
    for round in 0..4 {
        let started = Instant::now();
        let response = platform.invoke(&function, "?name=Ada", b"").await;
        let elapsed = started.elapsed();
        assert_eq!(response.status(), StatusCode::OK);
        let task = response.headers()["x-canopy-task-id"]
            .to_str()
            .expect("id")
            .to_owned();
        assert_eq!(response.text().await.expect("text"), "Hello, Ada!");
        let body = platform.get_json(&format!("/v1/task/{task}")).await;
        assert_eq!(body["timings"]["warm"], round > 0, "round {round}: {body}");
        timings.push((elapsed, body["timings"].clone()));
    }
    for (round, (elapsed, timing)) in timings.iter().enumerate() {
        eprintln!(
            "e2e round {round}: create→result {:.1} ms, worker timings {timing}",
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

fn docker_ps(label: &str) -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.ID}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn cancelling_a_running_task_kills_its_container(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("cancel-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("runtimes/testdata/python"))
        .await;
    let created = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}?mode=sleep&seconds=60")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    let task = created.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let started = Instant::now();
    while platform.get_json(&format!("/v1/task/{task}")).await["status"] != "running" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the task never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let node = platform.node("cancel-node").await["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    // `running` is reported when the worker takes the task; its container may still be starting.
    while docker_ps(&format!("canopy.worker={node}")).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no container runs the task"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = docker_ps(&format!("canopy.worker={node}"));

    let cancel = platform
        .client
        .post(platform.url(&format!("/v1/task/{task}/cancel")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(cancel.status(), StatusCode::OK);
    // The worker also keeps blank containers (which stay); the task's container is one of those
    // running now, and the only one that goes (idle expiry is minutes away).
    let cancelled_at = Instant::now();
    while running
        .iter()
        .all(|id| docker_ps(&format!("canopy.worker={node}")).contains(id))
    {
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(10),
            "the container outlived the cancel"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(body["status"], "cancelled");
    // The worker serves on.
    assert_eq!(
        platform
            .invoke(&function, "?mode=string", b"")
            .await
            .text()
            .await
            .expect("text"),
        "plain string"
    );
}
