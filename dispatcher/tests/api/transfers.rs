//! Bounded transfers: uploads stream to disk (the size cap holds without a declared length),
//! uploads and downloads share a memory budget (503 past it), and a package larger than a
//! download chunk comes back byte for byte.

use std::time::Duration;

use canopy_shared::protocol::DispatcherMessage;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::fake_worker::{register_node, resources, zip_of, FakeWorker};
use crate::helpers::{assert_problem, TestApp};

async fn upload(
    app: &TestApp,
    token: &str,
    function: &str,
    body: reqwest::Body,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("sent")
}

/// A body sent in chunks without a Content-Length, so only streaming can see its size.
fn chunked(chunks: usize, chunk: usize) -> reqwest::Body {
    let parts = (0..chunks).map(move |_| Ok::<_, std::io::Error>(vec![0x1f_u8; chunk]));
    reqwest::Body::wrap_stream(futures_util::stream::iter(parts))
}

#[sqlx::test(migrations = "../migrations")]
async fn an_upload_without_a_length_past_the_cap_is_a_413_while_streaming(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.build_archive_limit = 256 * 1024;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Echo", "PY").await;
    let response = upload(&app, &user.token, &function, chunked(64, 16 * 1024)).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    let zip = zip_of(&[("handler.py", b"def handle(r):\n    return 1\n")]);
    let fine = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(fine.status(), StatusCode::CREATED, "under the cap is fine");
}

#[sqlx::test(migrations = "../migrations")]
async fn uploads_past_the_transfer_memory_budget_wait_then_get_a_503(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        // Room for two uploads at once, but memory for one.
        settings.dispatch.concurrent_builds = 2;
        settings.dispatch.transfer_memory_mb = 8;
        settings.dispatch.busy_wait_s = 1;
        settings.dispatch.upload_timeout_s = 3;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Slow", "PY").await;
    // A slow uploader holds the budget: its body never finishes arriving.
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/build/{function} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/zip\r\nContent-Length: 100000\r\n\r\npartial",
        user.token
    );
    tokio::io::AsyncWriteExt::write_all(&mut slow, head.as_bytes())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let zip = zip_of(&[("handler.py", b"def handle(r):\n    return 1\n")]);
    let busy = upload(&app, &user.token, &function, zip.clone().into()).await;
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_problem(
        busy,
        StatusCode::SERVICE_UNAVAILABLE,
        "TRANSFER_MEMORY_BUSY",
    )
    .await;

    // Once the slow uploader times out, its share is free again.
    let mut answer = vec![0u8; 4096];
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
    )
    .await
    .expect("answered within the upload timeout")
    .expect("read");
    let fine = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(fine.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_package_of_several_chunks_downloads_byte_for_byte(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Big", "PY").await;
    // ~3 MiB that does not compress: three download chunks and a partial one.
    let mut noise = Vec::with_capacity(3 * 1024 * 1024 + 777);
    let mut state: u32 = 7;
    while noise.len() < noise.capacity() {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        noise.push((state >> 24) as u8);
    }
    let zip = zip_of(&[
        ("handler.py", b"def handle(r): pass\n"),
        ("data.bin", &noise),
    ]);
    let created = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let (node, token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &token, resources(1024)).await;
    let prewarm = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/v1/function/{function}/prewarm")),
            user.token.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"instances": 1}))
                .send()
                .await
        })
    };
    let sha = match worker.recv().await {
        Some(DispatcherMessage::Prewarm { function, .. }) => function.artifact_sha256,
        other => panic!("expected prewarm, got {other:?}"),
    };
    let response = app
        .client
        .get(app.url(&format!("/v1/worker/artifact/{sha}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let announced = response.content_length().expect("a length");
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len() as u64, announced);
    assert!(body.len() > 3 * 1024 * 1024, "{} bytes", body.len());
    assert_eq!(hex::encode(Sha256::digest(&body)), sha);
    let mut archive = tar::Archive::new(body.as_ref());
    let mut data = archive
        .entries()
        .expect("entries")
        .map(|entry| entry.expect("entry"))
        .find(|entry| entry.path().expect("path").to_str() == Some("data.bin"))
        .expect("data.bin");
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut data, &mut unpacked).expect("read");
    assert!(unpacked == noise, "the file comes back unchanged");
    prewarm.abort();
}
