//! The boundary between tenants and nodes (docs/security.md): another account's worker never
//! hears of, downloads the code of, or answers for a task it was not given; once its owner
//! offers it as a volunteer and the function opts in, it runs the function for real.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, sign_up, Platform};
use canopy_shared::protocol::{
    encode_body, DispatcherMessage, Outcome, TaskResult, Timings, WorkerMessage,
};

use crate::node::ScriptedNode;
use crate::target::Target;

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

/// A result frame answering `task` with `body`, as a node would send it.
fn answer(task: &str, attempt: u32, body: &[u8]) -> WorkerMessage {
    WorkerMessage::Result(TaskResult {
        task_id: task.to_owned(),
        attempt,
        outcome: Outcome::Response {
            status: 200,
            content_type: Some("text/plain".into()),
            body: encode_body(body),
            error: None,
        },
        timings: Timings {
            init_ms: 1,
            exec_ms: 1,
            warm: true,
        },
        usage: None,
        regrant: false,
        image_pin: None,
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_strangers_node_can_neither_download_nor_answer_a_task_it_was_not_given(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    let (stranger_token, _) = sign_up(&target.client, &target.base, "stranger@example.com").await;
    let (stranger_id, stranger_node_token) = target.register_node(&stranger_token).await;
    let mut stranger =
        ScriptedNode::connect(&target.base, &stranger_id, &stranger_node_token).await;
    stranger.send(&WorkerMessage::Pull { credits: 4 }).await;

    // A forged result for a queued task: ignored, the task still waits for a real run.
    let task = target.submit().await;
    stranger.send(&answer(&task, 1, b"forged")).await;
    assert!(
        stranger
            .recv(Duration::from_millis(500))
            .await
            .is_none_or(|message| !matches!(message, DispatcherMessage::Assign(_))),
        "the stranger is not given the task"
    );
    assert_eq!(target.task(&task).await["status"], "queued");

    // The owner's node takes it; the stranger forges the same attempt while it runs.
    let (owner_id, owner_token) = target.register_node(&target.token).await;
    let mut owner = ScriptedNode::connect(&target.base, &owner_id, &owner_token).await;
    owner.send(&WorkerMessage::Pull { credits: 1 }).await;
    let assignment = match owner.recv(Duration::from_secs(10)).await {
        Some(DispatcherMessage::Assign(assignment)) => assignment,
        other => panic!("expected the task, got {other:?}"),
    };
    assert_eq!(assignment.task_id, task);
    stranger
        .send(&answer(&task, assignment.attempt, b"forged"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ne!(target.task(&task).await["status"], "succeeded");

    // The package: by hash, only for the node holding the assignment.
    let sha = &assignment.function.artifact_sha256;
    let download = |token: String| {
        target
            .client
            .get(target.url(&format!("/v1/worker/artifact/{sha}")))
            .bearer_auth(token)
            .send()
    };
    let refused = download(stranger_node_token.clone()).await.expect("sent");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let refused: Value = refused.json().await.expect("problem");
    assert_eq!(refused["code"], "ARTIFACT_NOT_FOUND");
    assert_eq!(
        download(owner_token).await.expect("sent").status(),
        StatusCode::OK
    );

    // The owner's node answers; the developer reads its answer, not the forgery.
    owner
        .send(&answer(&task, assignment.attempt, b"honest"))
        .await;
    let result = target
        .client
        .get(target.url(&format!("/v1/task/{task}/result?wait=10")))
        .bearer_auth(&target.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.status(), StatusCode::OK);
    assert_eq!(result.text().await.expect("text"), "honest");
}
