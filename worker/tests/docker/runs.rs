//! Tasks on the executor: requests, answers, timeouts, crashes, the sandbox.

use std::process::Command;
use std::time::Duration;

use canopy_shared::protocol::Outcome;
use canopy_worker::executor::docker::ISOLATED_NETWORK;

use super::fixture::*;

#[tokio::test]
async fn a_query_and_body_reach_the_handler_and_a_warm_run_reuses_the_container() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let cold = f
        .run("t1", "POST", "mode=echo&x=1", br#"{"a": 1}"#, LONG)
        .await;
    let (status, content_type, body, error) = response(&cold);
    assert_eq!((status, error), (200, None));
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let echo: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "mode=echo&x=1");
    assert_eq!(echo["queryParams"]["x"], "1");
    assert_eq!(echo["json"]["a"], 1);
    assert_eq!(echo["contentType"], "application/json");
    assert!(!cold.timings.warm && cold.timings.init_ms > 0);
    let warm = f.run("t2", "GET", "mode=string", b"", LONG).await;
    assert_eq!(response(&warm).2, b"plain string");
    assert!(warm.timings.warm);
    assert_eq!(warm.timings.init_ms, 0);
    assert_eq!(
        f.containers().await.len(),
        1,
        "the warm run used the same container"
    );
    eprintln!(
        "timings: cold init_ms={} exec_ms={}; warm exec_ms={}",
        cold.timings.init_ms, cold.timings.exec_ms, warm.timings.exec_ms
    );
    f.cleanup().await;
}

#[tokio::test]
async fn a_binary_response_round_trips_byte_for_byte() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let result = f.run("t1", "GET", "mode=binary", b"", LONG).await;
    let (status, content_type, body, _) = response(&result);
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/octet-stream"));
    let expected: Vec<u8> = (0..16).flat_map(|_| 0..=255u8).collect();
    assert_eq!(body, expected);
    f.cleanup().await;
}

#[tokio::test]
async fn a_raising_handler_is_a_500_with_its_error_and_the_worker_goes_on() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let result = f.run("t1", "GET", "mode=raise", b"", LONG).await;
    let (status, _, body, error) = response(&result);
    assert_eq!(status, 500);
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("boom requested")),
        "{error:?}"
    );
    assert!(String::from_utf8_lossy(&body).contains("boom requested"));
    let after = f.run("t2", "GET", "mode=none", b"", LONG).await;
    assert_eq!(response(&after).0, 200);
    assert!(after.timings.warm, "the runner survived the exception");
    f.cleanup().await;
}

#[tokio::test]
async fn a_slow_handler_times_out_and_its_container_is_removed() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let result = f
        .run(
            "t1",
            "GET",
            "mode=sleep&seconds=30",
            b"",
            Duration::from_secs(2),
        )
        .await;
    assert!(
        matches!(result.outcome, Outcome::TimedOut { .. }),
        "{:?}",
        result.outcome
    );
    assert!(
        f.containers().await.is_empty(),
        "the timed-out container is gone"
    );
    assert!(f.executor.pool().warm_versions().is_empty());
    f.cleanup().await;
}

#[tokio::test]
async fn the_container_is_locked_down_without_egress() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let (_, _, body, _) = response(&f.run("t1", "GET", "mode=fs", b"", LONG).await);
    let fs: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        (fs["uid"].as_u64(), fs["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
    assert_eq!(fs["tmp"], true, "/tmp is writable");
    assert_eq!(fs["root"], false, "the root filesystem is read-only");
    assert_eq!(fs["app"], false, "the code is mounted read-only");
    let (_, _, body, _) = response(
        &f.run("t2", "GET", "mode=egress&host=1.1.1.1&port=80", b"", LONG)
            .await,
    );
    let egress: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(egress["connected"], false, "no route out: {egress}");
    f.cleanup().await;
}

#[tokio::test]
async fn a_container_cannot_open_connections_to_host_services() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("a host service");
    let port = listener.local_addr().expect("addr").port();
    let gateway = Command::new("docker")
        .args([
            "network",
            "inspect",
            ISOLATED_NETWORK,
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
        ])
        .output()
        .expect("docker network inspect");
    let gateway = String::from_utf8_lossy(&gateway.stdout).trim().to_owned();
    assert!(!gateway.is_empty(), "the network has a gateway");
    let query = format!("mode=egress&host={gateway}&port={port}");
    let (_, _, body, _) = response(&f.run("t1", "GET", &query, b"", LONG).await);
    let probe: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        probe["connected"], false,
        "host service reachable from a container: {probe}"
    );
    f.cleanup().await;
}

#[tokio::test]
async fn an_oom_kill_or_a_crash_is_the_functions_failure_and_not_retried() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let oom = f.run("t1", "GET", "mode=oom", b"", LONG).await;
    match &oom.outcome {
        Outcome::Failed { message, retryable } => {
            assert!(message.starts_with("OOM_KILLED"), "{message}");
            assert!(message.contains("256 MB"), "{message}");
            assert!(!retryable, "another node would run out of memory too");
        }
        other => panic!("expected an OOM failure, got {other:?}"),
    }
    let crash = f.run("t2", "GET", "mode=exit&code=7", b"", LONG).await;
    match &crash.outcome {
        Outcome::Failed { message, retryable } => {
            assert!(message.starts_with("FUNCTION_CRASHED"), "{message}");
            assert!(message.contains("code 7"), "{message}");
            assert!(!retryable);
        }
        other => panic!("expected a crash failure, got {other:?}"),
    }
    // Both containers are gone; the next task starts a fresh one and works.
    let after = f.run("t3", "GET", "mode=none", b"", LONG).await;
    assert_eq!(response(&after).0, 200);
    assert!(!after.timings.warm);
    f.cleanup().await;
}

#[tokio::test]
async fn processes_a_function_leaves_behind_do_not_outlive_its_task() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let forked = f.run("t1", "GET", "mode=fork", b"", LONG).await;
    assert_eq!(response(&forked).0, 200);
    let listed = f.run("t2", "GET", "mode=procs", b"", LONG).await;
    assert!(listed.timings.warm, "the same container answers");
    let (status, _, body, _) = response(&listed);
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "[]",
        "a stray process survived its task"
    );
    f.cleanup().await;
}
