//! Firing: the next task gets the source's response, exactly once per source task across
//! replicas, after a crash between submission and bookkeeping, after a dead replica's claim,
//! and never deeper than the chain limit.

use std::time::Duration;

use canopy_dispatcher::triggers::{run_once, TriggerSettings};
use canopy_shared::protocol::decode_body;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{chain, finish_all, tasks_of, trigger, until_tasks};
use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{id_of, TestApp};

fn settings() -> TriggerSettings {
    TriggerSettings {
        max_depth: 10,
        poll_ms: 1000,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_next_task_gets_the_sources_response_and_its_lineage(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (a, b) = (
        deployed_function(&app, &user.token).await,
        deployed_function(&app, &user.token).await,
    );
    let on_200 = chain(&app, &user.token, &a, &b, 200, true).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(4).await;

    let source = id_of(
        app.post(&format!("/v1/task/{a}"), Some(&user.token), json!({"n": 1}))
            .await,
    )
    .await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, source);
    worker
        .respond(&assignment, 200, "application/json", b"{\"x\":1}")
        .await;

    let next = worker.expect_assign().await;
    assert_eq!(next.function.function_id, b);
    assert_eq!(decode_body(&next.request.body).expect("b64"), b"{\"x\":1}");
    assert_eq!(
        next.request.content_type.as_deref(),
        Some("application/json")
    );
    let header = |name: &str| {
        next.request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-canopy-parent-task"), Some(source.clone()));
    assert_eq!(header("x-canopy-trigger"), Some(on_200.clone()));
    assert_eq!(header("x-canopy-chain-depth").as_deref(), Some("1"));
    assert_eq!(
        header("x-canopy-parent-http-status").as_deref(),
        Some("200")
    );
    worker.respond(&next, 200, "text/plain", b"ok").await;
    // The firing is marked fired just after the next task's commit, which may be after its
    // assignment reached the worker: wait for it rather than race it.
    let mut fired = Value::Null;
    for _ in 0..50 {
        fired = trigger(&app, &user.token, &on_200).await["fired"].clone();
        if fired == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fired, 1);

    // A 500 does not fire a trigger on 200.
    id_of(
        app.post(&format!("/v1/task/{a}"), Some(&user.token), json!({}))
            .await,
    )
    .await;
    let failing = worker.expect_assign().await;
    worker.respond(&failing, 500, "text/plain", b"boom").await;
    assert!(
        worker.stays_quiet(Duration::from_millis(1500)).await,
        "no next task"
    );
    assert_eq!(tasks_of(&app, &b).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn each_source_task_fires_once_across_replicas_and_a_crash(pool: PgPool) {
    let first = TestApp::spawn(pool.clone()).await;
    let second = TestApp::spawn(pool).await;
    let user = first.signup("dev@example.com").await;
    let (a, b) = (
        deployed_function(&first, &user.token).await,
        deployed_function(&first, &user.token).await,
    );
    let id = chain(&first, &user.token, &a, &b, 0, false).await;
    for _ in 0..20 {
        id_of(
            first
                .post(&format!("/v1/task/{a}"), Some(&user.token), json!({}))
                .await,
        )
        .await;
    }
    assert_eq!(finish_all(&first, &a, 200).await, 20);
    // Both replicas' loops (woken by the notification) and two explicit passes race.
    let settings = settings();
    let (one, two) = tokio::join!(
        run_once(&first.state, &settings),
        run_once(&second.state, &settings)
    );
    one.expect("pass");
    two.expect("pass");
    until_tasks(&first, &b, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tasks_of(&first, &b).await,
        20,
        "one next task per source task"
    );
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT next_task_id) FROM trigger_firings WHERE state = 'fired'",
    )
    .fetch_one(&first.pool)
    .await
    .expect("count");
    assert_eq!(distinct, 20);

    // A replica that submitted a firing and died before recording it: the firing is pending
    // again, and submitting it again finds the task of the first submission.
    let (firing, task): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT id, next_task_id FROM trigger_firings LIMIT 1")
            .fetch_one(&first.pool)
            .await
            .expect("row");
    sqlx::query("UPDATE trigger_firings SET state = 'pending', next_task_id = NULL WHERE id = $1")
        .bind(firing)
        .execute(&first.pool)
        .await
        .expect("reset");
    run_once(&first.state, &settings).await.expect("pass");
    let again: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT next_task_id FROM trigger_firings WHERE id = $1")
            .bind(firing)
            .fetch_one(&first.pool)
            .await
            .expect("row");
    assert_eq!(again, Some(task), "the same task, not a second one");
    assert_eq!(tasks_of(&first, &b).await, 20);
    assert_eq!(trigger(&first, &user.token, &id).await["fired"], 20);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dead_replicas_claim_runs_out_and_the_firing_still_fires(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.triggers.poll_ms = 100).await;
    let user = app.signup("dev@example.com").await;
    let (a, b) = (
        deployed_function(&app, &user.token).await,
        deployed_function(&app, &user.token).await,
    );
    chain(&app, &user.token, &a, &b, 200, false).await;
    id_of(
        app.post(&format!("/v1/task/{a}"), Some(&user.token), json!({}))
            .await,
    )
    .await;
    // The firing is recorded with the final status, in one transaction; pretend a replica that
    // died right away had claimed it for a second.
    let mut tx = app.pool.begin().await.expect("tx");
    let function = canopy_shared::parse_id(&a).expect("id");
    sqlx::query("UPDATE tasks SET status = 'succeeded', response_status = 200, finished_at = now() WHERE function_id = $1")
        .bind(function)
        .execute(&mut *tx)
        .await
        .expect("finish");
    sqlx::query("UPDATE trigger_firings SET claimed_until = now() + interval '1 second'")
        .execute(&mut *tx)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(
        run_once(&app.state, &settings()).await.expect("pass"),
        0,
        "claimed elsewhere"
    );
    assert_eq!(tasks_of(&app, &b).await, 0);
    until_tasks(&app, &b, 1).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn chains_stop_at_the_depth_limit_and_paused_targets_are_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.triggers.max_depth = 1).await;
    let user = app.signup("dev@example.com").await;
    let a = deployed_function(&app, &user.token).await;
    let b = deployed_function(&app, &user.token).await;
    let c = deployed_function(&app, &user.token).await;
    chain(&app, &user.token, &a, &b, 0, false).await;
    let b_to_c = chain(&app, &user.token, &b, &c, 0, false).await;
    id_of(
        app.post(&format!("/v1/task/{a}"), Some(&user.token), json!({}))
            .await,
    )
    .await;
    finish_all(&app, &a, 200).await;
    until_tasks(&app, &b, 1).await;
    finish_all(&app, &b, 200).await;
    let limited = TriggerSettings {
        max_depth: 1,
        poll_ms: 1000,
    };
    for _ in 0..100 {
        run_once(&app.state, &limited).await.expect("pass");
        if trigger(&app, &user.token, &b_to_c).await["refused"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(trigger(&app, &user.token, &b_to_c).await["refused"], 1);
    assert_eq!(tasks_of(&app, &c).await, 0, "depth 2 > limit 1");
    let code: String =
        sqlx::query_scalar("SELECT error_code FROM trigger_firings WHERE state = 'refused'")
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!(code, "CHAIN_TOO_DEEP");

    // A paused next function: refused, not retried forever.
    let paused = app
        .send(
            reqwest::Method::POST,
            &format!("/v1/function/{c}/togglePause"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(paused.status(), StatusCode::NO_CONTENT);
    let d = deployed_function(&app, &user.token).await;
    let d_to_c = chain(&app, &user.token, &d, &c, 0, false).await;
    id_of(
        app.post(&format!("/v1/task/{d}"), Some(&user.token), json!({}))
            .await,
    )
    .await;
    finish_all(&app, &d, 200).await;
    for _ in 0..100 {
        if trigger(&app, &user.token, &d_to_c).await["refused"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(trigger(&app, &user.token, &d_to_c).await["refused"], 1);
}
