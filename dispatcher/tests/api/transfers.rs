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

/// An upload whose body never finishes arriving: it holds an upload turn (and its share of the
/// transfer memory budget) until the upload timeout.
async fn slow_upload(app: &TestApp, token: &str, function: &str) -> tokio::net::TcpStream {
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/build/{function} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/zip\r\nContent-Length: 100000\r\n\r\npartial"
    );
    tokio::io::AsyncWriteExt::write_all(&mut slow, head.as_bytes())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow
}

/// A connected node asked to prewarm `function`: its node token, the package's hash (the node
/// may now download it), the worker and the pending prewarm call (abort it when done).
async fn prewarmed(
    app: &TestApp,
    user_token: &str,
    function: &str,
) -> (
    String,
    String,
    FakeWorker,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (node, token) = register_node(app, user_token).await;
    let mut worker = FakeWorker::connect(app, &node, &token, resources(1024)).await;
    let prewarm = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/v1/function/{function}/prewarm")),
            user_token.to_owned(),
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
    (token, sha, worker, prewarm)
}

async fn download(app: &TestApp, node_token: &str, sha: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/v1/worker/artifact/{sha}")))
        .bearer_auth(node_token)
        .send()
        .await
        .expect("sent")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_download_past_the_transfer_memory_budget_waits_then_gets_a_503(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        // An upload's working set is the whole budget.
        settings.dispatch.transfer_memory_mb = 8;
        settings.dispatch.busy_wait_s = 1;
        settings.dispatch.upload_timeout_s = 3;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Echo", "PY").await;
    let zip = zip_of(&[("handler.py", b"def handle(r):\n    return 1\n")]);
    let created = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (token, sha, _worker, prewarm) = prewarmed(&app, &user.token, &function).await;

    let slow = slow_upload(&app, &user.token, &function).await;
    let busy = download(&app, &token, &sha).await;
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_problem(
        busy,
        StatusCode::SERVICE_UNAVAILABLE,
        "TRANSFER_MEMORY_BUSY",
    )
    .await;

    // Once the slow uploader times out, the package downloads.
    timed_out(slow).await;
    let fine = download(&app, &token, &sha).await;
    assert_eq!(fine.status(), StatusCode::OK);
    let body = fine.bytes().await.expect("body");
    assert_eq!(hex::encode(Sha256::digest(&body)), sha);
    prewarm.abort();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_serverledge_create_the_budget_cannot_parse_is_a_413(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        // 1 MiB beyond an upload's working set: room to parse a body of 256 KiB.
        settings.dispatch.transfer_memory_mb = 9;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let key = crate::serverledge::api_key(&app, &user.token).await;
    let noise = noise(300 * 1024);
    let mut big = crate::serverledge::isprime_create();
    big["TarFunctionCode"] = json!(crate::serverledge::tar_code(&[
        ("isprime.py", crate::serverledge::ISPRIME),
        ("data.bin", &noise),
    ]));
    let refused = app
        .send(reqwest::Method::POST, "/create", Some(&key), Some(big))
        .await;
    let text = crate::serverledge::assert_text_error(
        refused,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert!(text.contains("262144"), "names the limit: {text}");
    let fine = app
        .send(
            reqwest::Method::POST,
            "/create",
            Some(&key),
            Some(crate::serverledge::isprime_create()),
        )
        .await;
    assert_eq!(fine.status(), StatusCode::OK, "a small function still fits");
}

/// Bytes that do not compress.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u32 = 7;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

/// Waits for the dispatcher to answer a `slow_upload` (its upload timeout ran out).
async fn timed_out(mut slow: tokio::net::TcpStream) {
    let mut answer = vec![0u8; 4096];
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
    )
    .await
    .expect("answered within the upload timeout")
    .expect("read");
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
    let slow = slow_upload(&app, &user.token, &function).await;
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
    timed_out(slow).await;
    let fine = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(fine.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_package_of_several_chunks_downloads_byte_for_byte(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Big", "PY").await;
    // ~3 MiB that does not compress: three download chunks and a partial one.
    let noise = noise(3 * 1024 * 1024 + 777);
    let zip = zip_of(&[
        ("handler.py", b"def handle(r): pass\n"),
        ("data.bin", &noise),
    ]);
    let created = upload(&app, &user.token, &function, zip.into()).await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let (token, sha, _worker, prewarm) = prewarmed(&app, &user.token, &function).await;
    let response = download(&app, &token, &sha).await;
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
