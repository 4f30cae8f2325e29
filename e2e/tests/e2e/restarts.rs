//! Restarts: a dispatcher SIGKILLed with tasks queued and running finishes them after it comes
//! back; a PostgreSQL restart makes `/readyz` fail until the database is back, without a crash.

use std::time::{Duration, Instant};

use canopy_dispatcher::embedded_pg::EmbeddedPostgres;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root};
use canopy_e2e::procs::{database_url, developer_with_function, DispatcherProc, WorkerProc};

#[sqlx::test(migrations = "../migrations")]
async fn a_dispatcher_killed_mid_run_finishes_every_task_after_it_comes_back(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "canopy-restart-{}",
        canopy_shared::format_id(canopy_shared::new_id())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut dispatcher = DispatcherProc::start(&database_url(&pool), &dir, "dispatcher", &[]).await;
    let base = dispatcher.url();
    let (token, function) =
        developer_with_function(&base, &repo_root().join("examples/python-hello")).await;
    let mut worker = WorkerProc::start(&token, vec![base.clone()], &dir, "worker", 1500).await;

    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for index in 0..10 {
        let response = client
            .post(format!("{base}/v1/task/{function}?n={index}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        tasks.push(
            response.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // Kill it while some run and the rest wait.
    let running = || async {
        let states: Vec<String> = sqlx::query_scalar("SELECT status FROM tasks")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        states
            .iter()
            .filter(|s| s.as_str() == "running" || s.as_str() == "assigned")
            .count()
    };
    let started = Instant::now();
    while running().await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no task started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dispatcher.kill().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    dispatcher.restart().await;

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let succeeded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tasks WHERE status = 'succeeded'")
                .fetch_one(&pool)
                .await
                .expect("count");
        if succeeded == tasks.len() as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {succeeded} of {} tasks finished after the restart",
            tasks.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let result = client
        .get(format!("{base}/v1/task/{}/result", tasks[9]))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.text().await.expect("text"), "noop");
    worker.kill().await;
}

#[tokio::test]
async fn a_postgres_restart_fails_readyz_until_it_is_back_and_the_dispatcher_recovers() {
    if !docker_tests_enabled() {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "canopy-pgrestart-{}",
        canopy_shared::format_id(canopy_shared::new_id())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let postgres = EmbeddedPostgres::start(&dir.join("state"), None)
        .await
        .expect("a private PostgreSQL starts");
    let mut dispatcher = DispatcherProc::start(&postgres.url(), &dir, "dispatcher", &[]).await;
    let base = dispatcher.url();
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(status("/readyz").await, 200);

    postgres.stop().await.expect("PostgreSQL stops");
    let down = Instant::now();
    while status("/readyz").await != 503 {
        assert!(
            down.elapsed() < Duration::from_secs(10),
            "/readyz kept answering 200 without a database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status("/healthz").await, 200, "the process is alive");

    let postgres = EmbeddedPostgres::start(&dir.join("state"), None)
        .await
        .expect("PostgreSQL starts again");
    let up = Instant::now();
    while status("/readyz").await != 200 {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "/readyz did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The API works again on the same process.
    let body = serde_json::json!({"name": "Back", "surname": "Again", "email": "back@example.com", "password": "Secr3t!pass"});
    let registered = client
        .post(format!("{base}/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(registered.status(), StatusCode::CREATED);
    dispatcher.kill().await;
    postgres.stop().await.expect("PostgreSQL stops");
    let _ = std::fs::remove_dir_all(&dir);
}
