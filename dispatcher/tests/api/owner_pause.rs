//! A node paused by its owner's conditions (`ownerPaused`/`ownerResumed`), and the usage a
//! worker reports with a result (issue 15).

use std::time::Duration;

use canopy_shared::protocol::{encode_body, Outcome, TaskResult, Timings, Usage, WorkerMessage};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::TestApp;

async fn node_view(app: &TestApp, token: &str) -> Value {
    let list: Value = app
        .get("/v1/node/list", token)
        .await
        .json()
        .await
        .expect("json");
    list[0].clone()
}

async fn submit(app: &TestApp, token: &str, function: &str) -> String {
    let created = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn task_view(app: &TestApp, token: &str, task: &str) -> Value {
    app.get(&format!("/v1/task/{task}"), token)
        .await
        .json()
        .await
        .expect("json")
}

#[sqlx::test(migrations = "../migrations")]
async fn an_owner_paused_node_gets_nothing_and_its_frozen_attempt_does_not_time_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (node, node_token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(2).await;
    let running = submit(&app, &alice.token, &function).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.task_id, running);
    worker
        .send(&WorkerMessage::Started {
            task_id: running.clone(),
            attempt: 1,
        })
        .await;

    worker
        .send(&WorkerMessage::OwnerPaused {
            reason: "outside the active hours (Mon-Fri 09:00-17:00)".into(),
        })
        .await;
    let mut view = Value::Null;
    for _ in 0..50 {
        view = node_view(&app, &alice.token).await;
        if view["state"] == "paused by owner" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(view["state"], "paused by owner", "{view}");
    assert_eq!(
        view["pausedReason"],
        "outside the active hours (Mon-Fri 09:00-17:00)"
    );
    assert!(view["pausedSince"].is_string(), "{view}");

    // Its remaining credit is withdrawn: a new task waits.
    let waiting = submit(&app, &alice.token, &function).await;
    assert!(
        worker.stays_quiet(Duration::from_millis(700)).await,
        "nothing is assigned while paused"
    );

    // Long past its hard deadline (timeout + grace from assignment) while frozen: the sweeper
    // (every second) leaves it alone, and heartbeats keep its lease.
    sqlx::query("UPDATE tasks SET assigned_at = now() - interval '1 hour' WHERE id = $1")
        .bind(canopy_shared::parse_id(&running).expect("id"))
        .execute(&app.pool)
        .await
        .expect("backdated");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        task_view(&app, &alice.token, &running).await["status"],
        "running"
    );

    worker.send(&WorkerMessage::OwnerResumed).await;
    worker.pull(1).await;
    let next = worker.expect_assign().await;
    assert_eq!(
        next.task_id, waiting,
        "the waiting task goes out after the resume"
    );
    let view = node_view(&app, &alice.token).await;
    assert_eq!(view["state"], "online", "{view}");
    assert!(view.get("pausedReason").is_none(), "{view}");
    // Resumed, the frozen seconds count in its favour but an hour is still past the deadline.
    let mut status = Value::Null;
    for _ in 0..60 {
        status = task_view(&app, &alice.token, &running).await["status"].clone();
        if status == "timed_out" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "timed_out");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reconnecting_worker_starts_unpaused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let (node, node_token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker
        .send(&WorkerMessage::OwnerPaused {
            reason: "on battery".into(),
        })
        .await;
    for _ in 0..50 {
        if node_view(&app, &alice.token).await["state"] == "paused by owner" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(worker);
    let _again = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    let view = node_view(&app, &alice.token).await;
    assert_eq!(
        view["state"], "online",
        "a pause is announced per connection: {view}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn reported_usage_is_stored_returned_and_summed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (node, node_token) = register_node(&app, &alice.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    let mut tasks = Vec::new();
    // The second figure is not a usage (negative): it is dropped, not stored.
    for usage in [
        Usage {
            cpu_seconds: 1.5,
            energy_wh: 0.25,
        },
        Usage {
            cpu_seconds: -1.0,
            energy_wh: 1.0,
        },
    ] {
        let task = submit(&app, &alice.token, &function).await;
        let assignment = worker.expect_assign().await;
        let result = TaskResult {
            regrant: false,
            image_pin: None,
            task_id: assignment.task_id.clone(),
            attempt: assignment.attempt,
            outcome: Outcome::Response {
                status: 200,
                content_type: None,
                body: encode_body(b"ok"),
                error: None,
            },
            timings: Timings::default(),
            usage: Some(usage),
        };
        worker.send(&WorkerMessage::Result(result)).await;
        worker.pull(1).await;
        tasks.push(task);
    }
    let mut first = Value::Null;
    for _ in 0..50 {
        first = task_view(&app, &alice.token, &tasks[0]).await;
        let second = task_view(&app, &alice.token, &tasks[1]).await;
        if first["status"] == "succeeded" && second["status"] == "succeeded" {
            assert_eq!(second["cpuSeconds"], Value::Null, "{second}");
            assert_eq!(second["energyWh"], Value::Null, "{second}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(first["cpuSeconds"], 1.5, "{first}");
    assert_eq!(first["energyWh"], 0.25, "{first}");
    let account: Value = app
        .get("/v1/metrics", &alice.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            account["measuredTasks"].clone(),
            account["cpuSeconds"].clone(),
            account["energyWh"].clone()
        ),
        (1.into(), 1.5.into(), 0.25.into()),
        "{account}"
    );
    assert_eq!(account["nodeEnergy"][0]["hash"], node.as_str(), "{account}");
    assert_eq!(account["nodeEnergy"][0]["energyWh"], 0.25, "{account}");
    let one: Value = app
        .get(&format!("/v1/function/{function}/metrics"), &alice.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["energyWh"], 0.25, "{one}");
    let prometheus = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        prometheus.contains(&format!(
            "canopy_task_energy_wh_total{{function=\"{function}\"}} 0.25"
        )),
        "{prometheus}"
    );
    assert!(
        prometheus.contains(&format!(
            "canopy_task_cpu_seconds_total{{node=\"{node}\"}} 1.5"
        )),
        "{prometheus}"
    );
}
