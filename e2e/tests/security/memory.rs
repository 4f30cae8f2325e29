//! Memory attacks open to any account, measured on the dispatcher process itself.

use std::time::{Duration, Instant};

use canopy_e2e::harness::docker_tests_enabled;
use canopy_shared::protocol::{DispatcherMessage, WorkerMessage};
use futures_util::StreamExt;
use reqwest::StatusCode;
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;

use crate::node::ScriptedNode;
use crate::target::Target;

#[sqlx::test(migrations = "../migrations")]
async fn a_frame_announcing_2_62_bytes_is_refused_before_its_payload_is_buffered(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    let (node, token) = target.register_node(&target.token).await;
    let mut attacker = ScriptedNode::connect(&target.base, &node, &token).await;
    let before = target.dispatcher.resident_kib();

    // A masked text frame whose header claims 2^62 bytes, then as much payload as the socket
    // takes in three seconds (up to 512 MiB).
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    attacker
        .tcp()
        .write_all(&header)
        .await
        .expect("header sent");
    let junk = vec![b'x'; 1024 * 1024];
    let started = Instant::now();
    let mut sent_mib = 0;
    while sent_mib < 512 && started.elapsed() < Duration::from_secs(3) {
        match tokio::time::timeout(Duration::from_millis(500), attacker.tcp().write_all(&junk))
            .await
        {
            Ok(Ok(())) => sent_mib += 1,
            // The dispatcher stopped reading (or closed): it is not buffering any more.
            _ => break,
        }
    }
    let mut code = None;
    while let Some(message) = attacker.recv(Duration::from_secs(5)).await {
        if let DispatcherMessage::Error { code: found, .. } = message {
            code = Some(found);
            break;
        }
    }
    assert_eq!(code.as_deref(), Some("MESSAGE_TOO_LARGE"));
    let after = target.dispatcher.resident_kib();
    println!(
        "frame bomb: {sent_mib} MiB pushed after a 2^62-byte header; dispatcher RSS {} -> {} KiB",
        before, after
    );
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 32,
        "the dispatcher grew by {grown_mib} MiB while {sent_mib} MiB were pushed at it"
    );

    // An honest node is still served.
    let (honest, honest_token) = target.register_node(&target.token).await;
    let mut worker = ScriptedNode::connect(&target.base, &honest, &honest_token).await;
    worker.send(&WorkerMessage::Pull { credits: 1 }).await;
    let task = target.submit().await;
    match worker.recv(Duration::from_secs(10)).await {
        Some(DispatcherMessage::Assign(assignment)) => assert_eq!(assignment.task_id, task),
        other => panic!("expected the task, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn result_lookups_and_abandoned_waits_leave_no_memory_behind(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    let lookups = |count: usize| {
        let (client, base, token) = (
            target.client.clone(),
            target.base.clone(),
            target.token.clone(),
        );
        async move {
            let mut not_found = 0;
            let mut pending = futures_util::stream::iter((0..count).map(|_| {
                let id = canopy_shared::format_id(canopy_shared::new_id());
                client
                    .get(format!("{base}/v1/task/{id}/result?wait=30"))
                    .bearer_auth(&token)
                    .send()
            }))
            .buffer_unordered(32);
            while let Some(response) = pending.next().await {
                if response.expect("sent").status() == StatusCode::NOT_FOUND {
                    not_found += 1;
                }
            }
            not_found
        }
    };
    // Warm up the allocator and the connection pools, then measure.
    assert_eq!(lookups(2_000).await, 2_000);
    let before = target.dispatcher.resident_kib();
    assert_eq!(
        lookups(20_000).await,
        20_000,
        "unknown tasks are 404 at once"
    );

    // Callers that hang up while waiting for a queued task (no worker runs it).
    let task = target.submit().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .expect("client");
    for _ in 0..50 {
        let gone = impatient
            .get(target.url(&format!("/v1/task/{task}/result?wait=1")))
            .bearer_auth(&target.token)
            .send()
            .await;
        assert!(gone.is_err(), "the client gave up first");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = target.dispatcher.resident_kib();
    println!("10,000 lookups and 50 abandoned waits: dispatcher RSS {before} -> {after} KiB");
    let grown_kib = after.saturating_sub(before);
    assert!(
        grown_kib < 8 * 1024,
        "10,000 lookups and 50 abandoned waits grew the dispatcher by {grown_kib} KiB"
    );
    let metrics = target
        .client
        .get(target.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("canopy_awaited_tasks 0"),
        "no waiter is left: {metrics}"
    );
}
