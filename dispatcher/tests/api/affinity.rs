//! Warm affinity: a task goes to a worker that holds its function version warm (as its `hello`
//! or latest heartbeat says) before one with more credits.

use canopy_shared::protocol::{Heartbeat, Hello, WorkerMessage, PROTOCOL_VERSION};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, open, register_node, resources, FakeWorker};
use crate::helpers::TestApp;
use crate::reliability::create;

/// A worker whose `hello` lists `warm` as warm function versions.
async fn connect_warm(app: &TestApp, user_token: &str, warm: Vec<String>) -> FakeWorker {
    let (node, token) = register_node(app, user_token).await;
    let socket = open(app, &token).await.expect("the upgrade is accepted");
    let mut worker = FakeWorker { socket };
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        node_id: node,
        version: "test".into(),
        resources: resources(4096),
        warm_functions: warm,
        running: vec![],
    };
    worker.send(&WorkerMessage::Hello(hello)).await;
    assert!(matches!(
        worker.recv().await,
        Some(canopy_shared::protocol::DispatcherMessage::Welcome(_))
    ));
    worker
}

async fn beat(worker: &mut FakeWorker, running: Vec<String>, warm: Vec<String>) {
    worker
        .send(&WorkerMessage::Heartbeat(Heartbeat {
            free_memory_mb: 4096,
            cpu_busy_percent: 0,
            running,
            warm_functions: warm,
        }))
        .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn tasks_go_to_the_worker_holding_their_function_warm(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let mut cold = connect_warm(&app, &user.token, vec![]).await;
    cold.pull(4).await;
    let first = create(&app, &user.token, &function).await;
    let assignment = cold.expect_assign().await;
    assert_eq!(assignment.task_id, first);
    let version = assignment.function.version_key();

    // The warm worker has fewer credits (2 against 3) and still gets the next tasks.
    let mut warm = connect_warm(&app, &user.token, vec![version.clone()]).await;
    warm.pull(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut on_warm = Vec::new();
    for _ in 0..2 {
        let task = create(&app, &user.token, &function).await;
        assert_eq!(warm.expect_assign().await.task_id, task);
        on_warm.push(task);
    }
    // Out of credits: the next one falls back to the cold worker.
    let fallback = create(&app, &user.token, &function).await;
    assert_eq!(cold.expect_assign().await.task_id, fallback);

    // Heartbeats move the warm container: the cold worker now holds it, the other no longer.
    beat(
        &mut cold,
        vec![first.clone(), fallback.clone()],
        vec![version],
    )
    .await;
    beat(&mut warm, on_warm.clone(), vec![]).await;
    warm.pull(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let task = create(&app, &user.token, &function).await;
    assert_eq!(cold.expect_assign().await.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_result_that_regrants_its_slot_takes_the_next_task_without_a_pull(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let mut worker = connect_warm(&app, &user.token, vec![]).await;
    worker.pull(1).await;
    let first = create(&app, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, first);

    // The result carries the credit: the next task is assigned with no `pull` in between.
    worker
        .respond_and_regrant(&assignment, 200, "text/plain", b"ok", true)
        .await;
    let second = create(&app, &user.token, &function).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, second);

    // A result without it leaves the node with no credit: the third task waits in the queue.
    worker
        .respond_and_regrant(&assignment, 200, "text/plain", b"ok", false)
        .await;
    let third = create(&app, &user.token, &function).await;
    assert!(
        worker
            .stays_quiet(std::time::Duration::from_millis(500))
            .await
    );
    worker.pull(1).await;
    assert_eq!(worker.expect_assign().await.task_id, third);
}
