//! Compile jobs at the edges: a compiled package past the account's storage quota fails its
//! build with the reason, and with two replicas a job at work on a node of one is not offered
//! again by the other.

use std::time::Duration;

use canopy_shared::protocol::DispatcherMessage;
use serde_json::json;
use sqlx::PgPool;

use crate::compiles::{
    build_view, compiled_package_with, expect_compile, go_compiler, go_function, put_compiled,
    sha256,
};
use crate::fake_worker::{register_node, FakeWorker};
use crate::helpers::TestApp;
use crate::quotas::{account_id, set_quota};
use crate::stats::admin_token;

/// A compiled package of about `bytes` that does not compress.
fn large_package(bytes: usize) -> Vec<u8> {
    let mut state: u32 = 3;
    let noise: Vec<u8> = (0..bytes)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    compiled_package_with(&noise)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_compiled_package_past_the_storage_quota_fails_the_build_saying_why(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let alice = app.signup("alice@example.com").await;
    let admin = admin_token(&app, &pool).await;
    let account = account_id(&app, &alice.token).await;
    set_quota(&app, &admin, &account, json!({"storageMb": 1})).await;
    // The source is a few hundred bytes: it fits.
    let (_, build) = go_function(&app, &alice.token).await;
    let (node, token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, go_compiler()).await;
    let job = expect_compile(&mut worker).await;
    assert_eq!(job.build_id, build);

    let package = large_package(3 * 1024 * 1024 / 2);
    let answered = put_compiled(&app, &token, &build, &sha256(&package), package).await;
    assert_eq!(answered.status(), reqwest::StatusCode::NO_CONTENT);
    let view = build_view(&app, &alice.token, &build).await;
    assert_eq!(view["status"], "FAILED", "{view}");
    let log = view["log"].to_string();
    assert!(
        log.contains("quota of 1 MB"),
        "the log names the quota: {log}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_at_work_on_another_replicas_node_is_not_offered_again(pool: PgPool) {
    let one = TestApp::spawn(pool.clone()).await;
    let two = TestApp::spawn(pool).await;
    let alice = one.signup("alice@example.com").await;
    let (near, near_token) = register_node(&one, &alice.token).await;
    let mut near_worker = FakeWorker::connect(&one, &near, &near_token, go_compiler()).await;
    let (_, build) = go_function(&one, &alice.token).await;
    let job = expect_compile(&mut near_worker).await;
    assert_eq!(job.build_id, build);

    // A node of the same account on the other replica: its replica's compile loop (every
    // second) sees the job held by a node it does not hold, which is still connected.
    let (far, far_token) = register_node(&one, &alice.token).await;
    let mut far_worker = FakeWorker::connect(&two, &far, &far_token, go_compiler()).await;
    let mut offered = false;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(3500);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(DispatcherMessage::Compile(_))) =
            tokio::time::timeout(Duration::from_millis(200), far_worker.recv()).await
        {
            offered = true;
            break;
        }
    }
    assert!(
        !offered,
        "the job was taken from a node still at work on it"
    );
    assert_eq!(
        build_view(&one, &alice.token, &build).await["status"],
        "PENDING"
    );
}
