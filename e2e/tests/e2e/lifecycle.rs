//! Workers coming and going: restart and reconnect, deletion disconnects, memory fit.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn a_restarted_worker_reconnects_and_serves_again(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let mut worker = platform.start_worker("restart-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("examples/python-hello"))
        .await;
    assert_eq!(
        platform
            .invoke(&function, "?name=one", b"")
            .await
            .text()
            .await
            .expect("text"),
        "Hello, one!"
    );

    let status = worker.stop().await.expect("the worker exits after SIGTERM");
    assert!(
        status.success(),
        "a clean exit: {status:?}\n{}",
        worker.log_text()
    );
    platform.wait_connected("restart-node", false).await;

    let worker = worker.restart().await;
    platform.wait_connected("restart-node", true).await;
    let response = platform.invoke(&function, "?name=two", b"").await;
    if response.status() != StatusCode::OK {
        panic!(
            "the restarted worker did not serve the task\n{}\nworker log:\n{}",
            platform.explain_late(response).await,
            worker.log_text()
        );
    }
    assert_eq!(response.text().await.expect("text"), "Hello, two!");
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_the_node_disconnects_its_worker(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("doomed-node").await;
    platform.wait_connected("doomed-node", true).await;
    let hash = platform.node("doomed-node").await["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let response = platform
        .client
        .request(Method::DELETE, platform.url(&format!("/v1/node/{hash}")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let node = platform.node("doomed-node").await;
    assert_eq!(node["connected"], false);
    assert_eq!(node["disabled"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_needing_more_memory_than_the_worker_offers_waits_with_a_reason(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("small-node").await;
    platform.wait_connected("small-node", true).await;
    let function = platform
        .deploy("PY", &repo_root().join("examples/python-hello"))
        .await;
    let caps = platform
        .client
        .post(platform.url(&format!("/v1/function/{function}/capabilities")))
        .bearer_auth(&platform.token)
        .json(&json!({"memSize": 2048}))
        .send()
        .await
        .expect("sent");
    assert_eq!(caps.status(), StatusCode::NO_CONTENT);
    let created = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    let task = created.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The reason settles once the worker has advertised its runtime (its blank pool is up).
    let expected = "no connected node has 2048 MB free for runtime py (most: 1024 MB)";
    let mut body = serde_json::Value::Null;
    for _ in 0..75 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        body = platform.get_json(&format!("/v1/task/{task}")).await;
        assert_eq!(body["status"], "queued", "{body}");
        if body["pendingReason"] == expected {
            return;
        }
    }
    panic!("the pending reason never became {expected:?}: {body}");
}
