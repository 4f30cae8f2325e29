//! A function attacking its worker through a real container: an answer larger than the
//! response limit, memory exhaustion, processes left behind after its response.

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform, Worker};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// Runs a task of the fixture function (`runtimes/testdata/python`) to its end: the task view
/// and the body `/result` answered.
async fn run_to_end(platform: &Platform, function: &str, query: &str) -> (Value, String) {
    let created = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}{query}")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    let task = created.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let result = platform
        .client
        .get(platform.url(&format!("/v1/task/{task}/result?wait=60")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    (platform.get_json(&format!("/v1/task/{task}")).await, result)
}

/// A platform with one real worker and the fixture function deployed; None without Docker.
async fn sandbox(pool: PgPool) -> Option<(Platform, Worker, String)> {
    if !docker_tests_enabled() {
        return None;
    }
    let platform = Platform::start(pool).await;
    let worker = platform.start_worker("sandbox-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("runtimes/testdata/python"))
        .await;
    Some((platform, worker, function))
}

/// The task failed as the function's fault (`code` in its message), on its first attempt: a
/// function's failure is not retried as a worker's.
fn assert_functions_failure(view: &Value, code: &str) {
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["attempt"], 1, "not retried: {view}");
    assert!(
        view["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains(code)),
        "{code}: {view}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_answer_over_the_limit_fails_its_task_and_the_worker_stays_online(pool: PgPool) {
    let Some((platform, _worker, function)) = sandbox(pool).await else {
        return;
    };
    // 12 MiB: above the 10 MiB response limit both sides share.
    let (view, _) = run_to_end(&platform, &function, "?mode=big&mb=12").await;
    assert_functions_failure(&view, "RESPONSE_TOO_LARGE");
    assert_eq!(platform.node("sandbox-node").await["connected"], true);
    let next = platform.invoke(&function, "?mode=string", b"").await;
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(next.text().await.expect("text"), "plain string");
}

#[sqlx::test(migrations = "../migrations")]
async fn memory_exhaustion_is_the_functions_failure_and_not_retried(pool: PgPool) {
    let Some((platform, _worker, function)) = sandbox(pool).await else {
        return;
    };
    let (view, _) = run_to_end(&platform, &function, "?mode=oom").await;
    assert_functions_failure(&view, "OOM_KILLED");
    let next = platform.invoke(&function, "?mode=string", b"").await;
    assert_eq!(next.status(), StatusCode::OK, "the worker goes on");
}

#[sqlx::test(migrations = "../migrations")]
async fn processes_a_function_leaves_behind_do_not_outlive_its_task(pool: PgPool) {
    let Some((platform, _worker, function)) = sandbox(pool).await else {
        return;
    };
    let (forked, _) = run_to_end(&platform, &function, "?mode=fork").await;
    assert_eq!(forked["status"], "succeeded", "{forked}");
    // The next task runs warm, in the same container: nothing but the runner is left.
    let (view, left) = run_to_end(&platform, &function, "?mode=procs").await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["timings"]["warm"], true, "the same container: {view}");
    let left: Value = serde_json::from_str(&left).expect("a JSON list");
    assert_eq!(left, serde_json::json!([]), "processes left behind: {left}");
}
