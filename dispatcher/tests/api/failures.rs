//! A function's own failures (out of memory, a crashed process, a response over the limit) end
//! the task at once with their kind; a worker-side failure is retried.

use canopy_shared::protocol::{Outcome, TaskResult, Timings, WorkerMessage};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::TestApp;
use crate::reliability::create;

async fn fail(worker: &mut FakeWorker, task: &str, attempt: u32, message: &str, retryable: bool) {
    worker
        .send(&WorkerMessage::Result(TaskResult {
            regrant: false,
            image_pin: None,
            task_id: task.to_owned(),
            attempt,
            outcome: Outcome::Failed {
                message: message.to_owned(),
                retryable,
            },
            timings: Timings::default(),
            usage: None,
        }))
        .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_functions_own_failures_are_final_with_their_kind(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(2048)).await;
    worker.pull(4).await;

    for (message, kind) in [
        (
            "OOM_KILLED: the function used more than its memory limit of 256 MB",
            "oom_killed",
        ),
        (
            "FUNCTION_CRASHED: the function's process exited with code 3",
            "function_crashed",
        ),
        (
            "RESPONSE_TOO_LARGE: the response body is larger than 10485760 bytes",
            "response_too_large",
        ),
    ] {
        let task = create(&app, &user.token, &function).await;
        let assignment = worker.expect_assign().await;
        assert_eq!(assignment.task_id, task);
        fail(&mut worker, &task, assignment.attempt, message, false).await;
        let result = app
            .get(&format!("/v1/task/{task}/result?wait=5"), &user.token)
            .await;
        assert_eq!(result.status(), StatusCode::BAD_GATEWAY);
        let view: Value = app
            .get(&format!("/v1/task/{task}"), &user.token)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(view["status"], "failed");
        assert_eq!(view["attempt"], 1, "not retried");
        assert_eq!(view["error"]["kind"], kind, "{view}");
        worker.pull(1).await;
    }
}
