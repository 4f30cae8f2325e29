//! The trust model with real workers and Docker (docs/security.md): another account's worker
//! never runs, or downloads the code of, a task it may not run; once its owner offers it as a
//! volunteer and the function opts in, it runs the function for real.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::harness::{docker_tests_enabled, repo_root, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn a_strangers_worker_runs_a_task_only_as_an_opted_in_volunteer(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let (stranger_token, stranger_key) = platform.another_account("stranger@example.com").await;
    let worker = platform
        .start_worker_with_key("stranger-node", &stranger_key)
        .await;
    let function = platform
        .deploy("PY", &repo_root().join("examples/python-hello"))
        .await;
    // The developer cannot see the stranger's node; wait until it is connected as its owner sees it.
    let node_list = || async {
        platform
            .client
            .get(platform.url("/v1/node/list"))
            .bearer_auth(&stranger_token)
            .send()
            .await
            .expect("sent")
            .json::<Value>()
            .await
            .expect("json")
    };
    for _ in 0..150 {
        if node_list().await[0]["connected"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(node_list().await[0]["connected"], true);

    // Not the stranger's task: it waits, and the stranger's worker never hears of it.
    let waiting = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}?name=Ada")))
        .bearer_auth(&platform.token)
        .header("prefer", "wait=2")
        .send()
        .await
        .expect("sent");
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    let task = waiting.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let view = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(view["status"], "queued");
    assert!(
        view["pendingReason"]
            .as_str()
            .is_some_and(|reason| reason.contains("volunteers is off")),
        "{view}"
    );
    assert!(
        !worker.log_text().contains(&task),
        "the stranger's worker heard of the task"
    );

    // Offered as a volunteer, and the function opts in: a new task runs on it for real.
    let hash = node_list().await[0]["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let offered = platform
        .client
        .post(platform.url(&format!("/v1/node/{hash}/volunteer")))
        .bearer_auth(&stranger_token)
        .json(&json!({"volunteer": true}))
        .send()
        .await
        .expect("sent");
    assert_eq!(offered.status(), StatusCode::NO_CONTENT);
    let opted_in = platform
        .client
        .post(platform.url(&format!("/v1/function/{function}/capabilities")))
        .bearer_auth(&platform.token)
        .json(&json!({"volunteers": true}))
        .send()
        .await
        .expect("sent");
    assert_eq!(opted_in.status(), StatusCode::NO_CONTENT);
    let response = platform.invoke(&function, "?name=Ada", b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("text"), "Hello, Ada!");
    // The task issued before the opt-in kept its snapshot: still waiting, never sent.
    let view = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(view["status"], "queued");
    assert!(!worker.log_text().contains(&task));
}
