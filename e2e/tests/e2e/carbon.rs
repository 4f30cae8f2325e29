//! Carbon end to end with real processes: `canopy-worker`s configured with `--carbon-intensity`
//! and a shipped grid trace (`--carbon-trace … --carbon-trace-replay`) report their intensity,
//! the dispatcher's node list shows it, tasks go to the greener worker, and a bad trace stops a
//! worker at start with the line at fault.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root};
use canopy_e2e::procs::{
    binary, database_url, developer_with_function, DispatcherProc, WorkerProc,
};

fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}",
        canopy_shared::format_id(canopy_shared::new_id())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[sqlx::test(migrations = "../migrations")]
async fn workers_report_their_grid_and_tasks_go_to_the_greener_one(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let dir = temp_dir("canopy-carbon");
    let dispatcher = DispatcherProc::start(&database_url(&pool), &dir, "dispatcher", &[]).await;
    let base = dispatcher.url();
    let (token, function) =
        developer_with_function(&base, &repo_root().join("examples/python-hello")).await;
    // North West England's first half hour of the shipped trace: 31 gCO2/kWh.
    let trace = repo_root().join("bench/carbon/traces/gb-north-west-england-2023-03-14.csv");
    let trace = trace.to_str().expect("a UTF-8 path");
    let dirty = WorkerProc::start_with(
        &token,
        vec![base.clone()],
        &dir,
        "dirty",
        0,
        &["--carbon-intensity", "400"],
    )
    .await;
    let green = WorkerProc::start_with(
        &token,
        vec![base.clone()],
        &dir,
        "green",
        0,
        &["--carbon-trace", trace, "--carbon-trace-replay"],
    )
    .await;
    let client = reqwest::Client::new();
    let mut intensities = Vec::new();
    for _ in 0..100 {
        let nodes: Value = client
            .get(format!("{base}/v1/node/list"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        intensities = nodes
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    // Connected and holding credits: a task submitted now may go to either.
                    .filter(|node| {
                        node["connected"] == true && node["freeSlots"].as_u64() > Some(0)
                    })
                    .filter_map(|node| node["carbonIntensity"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        intensities.sort_unstable();
        if intensities.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(intensities, [31, 400]);

    for index in 0..6 {
        let response = client
            .post(format!("{base}/v1/task/{function}?n={index}"))
            .bearer_auth(&token)
            .header("prefer", "wait=10")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        (green.executions().len(), dirty.executions().len()),
        (6, 0),
        "every task on the greener node, none on the dirtier"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_trace_stops_the_worker_at_start_naming_the_line(_pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let dir = temp_dir("canopy-carbon-bad");
    let trace = dir.join("trace.csv");
    std::fs::write(
        &trace,
        "from,forecast\n2023-03-14T00:00Z,31\nyesterday,40\n",
    )
    .expect("write");
    let output = tokio::process::Command::new(binary("canopy-worker"))
        .arg("--config")
        .arg(dir.join("none.toml"))
        .args([
            "run",
            "--executor",
            "noop",
            "--dispatcher",
            "http://127.0.0.1:9",
        ])
        .args(["--node-id", "00000000000000000000000000000001"])
        .arg("--carbon-trace")
        .arg(&trace)
        .env("CANOPY_WORKER_NODE_TOKEN", "cnode_x")
        .output()
        .await
        .expect("canopy-worker runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3: time \"yesterday\" is not RFC 3339"),
        "{stderr}"
    );
}
