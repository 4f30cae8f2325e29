//! Carbon-aware placement over real WebSockets: the greener of two workers gets the task (at
//! submit and from the queue), a renewable-only node above its threshold gets none, a deferred
//! task waits for the greener window its worker forecasts and still runs before its deadline, a
//! zone feed polled over HTTP gives a node its intensity, and bad input is refused by name.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use canopy_shared::carbon::IntensityPoint;
use canopy_shared::protocol::{DispatcherMessage, Energy, Resources, WorkerMessage};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, id_of, TestApp};
use crate::reliability::create;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

fn energy(intensity: Option<u32>) -> Energy {
    Energy {
        renewable: false,
        carbon_intensity: intensity,
        zone: None,
        renewable_only: false,
        renewable_threshold: None,
        forecast: Vec::new(),
    }
}

fn with_energy(energy: Energy) -> Resources {
    Resources {
        energy: Some(energy),
        ..resources(4096)
    }
}

async fn worker(app: &TestApp, token: &str, resources: Resources) -> FakeWorker {
    let (node, node_token) = register_node(app, token).await;
    FakeWorker::connect(app, &node, &node_token, resources).await
}

async fn task_view(app: &TestApp, token: &str, task: &str) -> Value {
    let response = app.get(&format!("/v1/task/{task}"), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn toggle_pause(app: &TestApp, token: &str, function: &str) {
    let path = format!("/v1/function/{function}/togglePause");
    let response = app.send(Method::POST, &path, Some(token), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_goes_to_the_greener_of_two_workers_and_records_its_intensity(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    // The dirty worker offers more credits: before carbon ranking it would have won.
    let mut dirty = worker(&app, &user.token, with_energy(energy(Some(400)))).await;
    let mut green = worker(&app, &user.token, with_energy(energy(Some(50)))).await;
    dirty.pull(4).await;
    green.pull(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let task = create(&app, &user.token, &function).await;
    let assignment = green.expect_assign().await;
    assert_eq!(assignment.task_id, task);
    green.respond(&assignment, 200, "text/plain", b"ok").await;
    // Green is out of credits: the next task falls back to the dirty worker.
    let next = create(&app, &user.token, &function).await;
    assert_eq!(dirty.expect_assign().await.task_id, next);

    let mut view = task_view(&app, &user.token, &task).await;
    for _ in 0..50 {
        if view["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        view = task_view(&app, &user.token, &task).await;
    }
    assert_eq!(view["status"], "succeeded");
    assert_eq!(view["carbon"]["intensity"], 50, "{view}");

    let nodes: Value = app
        .get("/v1/node/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    let mut intensities: Vec<u64> = nodes
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|node| node["carbonIntensity"].as_u64())
        .collect();
    intensities.sort_unstable();
    assert_eq!(intensities, [50, 400], "{nodes}");
}

#[sqlx::test(migrations = "../migrations")]
async fn queued_tasks_are_claimed_by_the_greener_worker_first(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let mut dirty = worker(&app, &user.token, with_energy(energy(Some(400)))).await;
    let mut green = worker(&app, &user.token, with_energy(energy(Some(50)))).await;
    // No credits yet: both tasks queue; the pause holds them until both workers have credits.
    let first = create(&app, &user.token, &function).await;
    let second = create(&app, &user.token, &function).await;
    toggle_pause(&app, &user.token, &function).await;
    dirty.pull(4).await;
    green.pull(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    toggle_pause(&app, &user.token, &function).await;
    assert_eq!(
        green.expect_assign().await.task_id,
        first,
        "the oldest to the greenest"
    );
    assert_eq!(dirty.expect_assign().await.task_id, second);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_renewable_only_node_above_its_threshold_gets_no_tasks_until_it_is_under(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let rule = Energy {
        renewable_only: true,
        renewable_threshold: Some(100),
        ..energy(Some(300))
    };
    let mut node = worker(&app, &user.token, with_energy(rule.clone())).await;
    node.pull(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let task = create(&app, &user.token, &function).await;
    assert!(node.stays_quiet(Duration::from_millis(1500)).await);
    let view = task_view(&app, &user.token, &task).await;
    assert_eq!(view["status"], "queued");
    let reason = view["pendingReason"].as_str().unwrap_or_default();
    assert!(reason.contains("only on renewable power"), "{reason}");

    // Its grid comes under the threshold: the queued task goes to it.
    let clean = Energy {
        carbon_intensity: Some(60),
        ..rule
    };
    node.send(&WorkerMessage::Energy(clean)).await;
    assert_eq!(node.expect_assign().await.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deferred_task_waits_for_the_greener_window_and_runs_before_its_deadline(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let start = now();
    let greener_at = start + 4;
    let forecast = vec![
        IntensityPoint {
            at: start - 60,
            intensity: 400,
        },
        IntensityPoint {
            at: greener_at,
            intensity: 40,
        },
        IntensityPoint {
            at: greener_at + 1800,
            intensity: 40,
        },
    ];
    let mut node = worker(
        &app,
        &user.token,
        with_energy(Energy {
            forecast,
            ..energy(None)
        }),
    )
    .await;
    node.pull(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Timeout 10 s + slack 30 s: with 60 s to finish it may start until 20 s from now.
    let response = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(&user.token)
        .header("prefer", "defer=60")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let task = id_of(response).await;
    let view = task_view(&app, &user.token, &task).await;
    assert_eq!(view["status"], "queued");
    let reason = view["pendingReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("waiting for a greener window until "),
        "{reason}"
    );
    assert!(view["carbon"]["deferUntil"].is_string(), "{view}");
    assert!(view["carbon"]["heldUntil"].is_string(), "{view}");

    let assignment = node.expect_assign().await;
    let assigned_at = now();
    assert_eq!(assignment.task_id, task);
    assert!(assigned_at >= greener_at, "held until the greener window");
    assert!(
        assigned_at <= start + 20,
        "started in time to meet its deadline"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deferred_task_with_no_greener_window_runs_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let mut node = worker(&app, &user.token, with_energy(energy(Some(200)))).await;
    node.pull(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = app
        .client
        .post(app.url(&format!("/v1/task/{function}")))
        .bearer_auth(&user.token)
        .header("prefer", "defer=3600")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let task = id_of(response).await;
    assert_eq!(node.expect_assign().await.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_zone_feed_polled_over_http_gives_a_node_its_intensity(pool: PgPool) {
    let feed = serve_once_per_request(format!(
        r#"{{"data":[{{"from":"{}","to":"{}","intensity":{{"forecast":20,"actual":null,"index":"very low"}}}}]}}"#,
        rfc3339(now() - 600),
        rfc3339(now() + 3600)
    ))
    .await;
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.carbon.feeds = vec![format!("GB-1={feed}").parse().expect("a feed")];
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let mut dirty = worker(&app, &user.token, with_energy(energy(Some(300)))).await;
    let zoned = Energy {
        zone: Some("GB-1".into()),
        ..energy(None)
    };
    let mut fed = worker(&app, &user.token, with_energy(zoned)).await;
    let client = reqwest::Client::new();
    assert_eq!(
        canopy_dispatcher::dispatch::feeds::poll_once(&app.state, &client).await,
        1
    );
    dirty.pull(4).await;
    fed.pull(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let task = create(&app, &user.token, &function).await;
    assert_eq!(fed.expect_assign().await.task_id, task);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_prefer_defer_is_400_invalid_prefer_defer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    for bad in ["defer=soon", "defer=0", "defer=172801", "defer"] {
        let response = app
            .client
            .post(app.url(&format!("/v1/task/{function}")))
            .bearer_auth(&user.token)
            .header("prefer", bad)
            .send()
            .await
            .expect("sent");
        assert_problem(response, StatusCode::BAD_REQUEST, "INVALID_PREFER_DEFER").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_energy_reports_close_the_socket_with_invalid_energy(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let (node, token) = register_node(&app, &user.token).await;
    let socket = crate::fake_worker::open(&app, &token)
        .await
        .expect("upgrade");
    let mut bad_hello = FakeWorker { socket };
    let hello = canopy_shared::protocol::Hello {
        protocol: canopy_shared::protocol::PROTOCOL_VERSION,
        node_id: node.clone(),
        version: "test".into(),
        resources: with_energy(energy(Some(90_000))),
        warm_functions: vec![],
        running: vec![],
    };
    bad_hello.send(&WorkerMessage::Hello(hello)).await;
    assert_eq!(refusal(&mut bad_hello).await, "INVALID_ENERGY");

    let mut connected = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    let bad_zone = Energy {
        zone: Some("GB 13; DROP".into()),
        ..energy(Some(10))
    };
    connected.send(&WorkerMessage::Energy(bad_zone)).await;
    assert_eq!(refusal(&mut connected).await, "INVALID_ENERGY");
}

async fn refusal(worker: &mut FakeWorker) -> String {
    loop {
        match worker.recv().await {
            Some(DispatcherMessage::Error { code, .. }) => return code,
            Some(DispatcherMessage::Welcome(_)) => continue,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A local HTTP server answering every request with `body` as JSON; returns its URL.
async fn serve_once_per_request(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/intensity")
}
