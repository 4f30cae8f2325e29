//! The build API: upload code, see the build; bad archives are refused with codes.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::fake_worker::zip_of;
use crate::helpers::{assert_problem, id_of, TestApp};

async fn upload(app: &TestApp, token: &str, function: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/build/{function}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("sent")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_zip_with_a_handler_builds_and_is_listed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Echo", "PY").await;
    let response = upload(
        &app,
        &user.token,
        &function,
        zip_of(&[("handler.py", b"def handle(r):\n    return 1\n")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let build = id_of(response).await;

    let body: Value = app
        .get(&format!("/v1/build/{build}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "SUCCESS");
    assert_eq!(body["functionId"], function);
    assert_eq!(body["entryPoint"], "handler.py");
    assert_eq!(body["artifactSha256"].as_str().map(str::len), Some(64));
    let timeline: Vec<&str> = body["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(timeline, vec!["PENDING", "SUCCESS"]);
    assert!(body["log"].as_array().is_some_and(|log| !log.is_empty()));

    let list: Value = app
        .get(
            &format!("/v1/build/list?functionId={function}"),
            &user.token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["results"][0]["id"], build);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_archives_are_refused_with_specific_codes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Echo", "PY").await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"plain text, not an archive".to_vec(),
            "UNSUPPORTED_ARCHIVE",
        ),
        (
            zip_of(&[("handler.py", b""), ("../escape.py", b"")]),
            "UNSAFE_ARCHIVE",
        ),
        (
            zip_of(&[("handler.py", b""), ("/abs.py", b"")]),
            "UNSAFE_ARCHIVE",
        ),
        (zip_of(&[("main.py", b"")]), "ENTRY_POINT_MISSING"),
        (
            zip_of(&[("handler.py", b"x")])[..30].to_vec(),
            "CORRUPT_ARCHIVE",
        ),
    ];
    for (body, code) in cases {
        assert_problem(
            upload(&app, &user.token, &function, body).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    let go = app
        .post(
            "/v1/function",
            Some(&user.token),
            serde_json::json!({"name": "GoFn", "lang": "GO", "type": "DOCKER"}),
        )
        .await;
    let go = id_of(go).await;
    let response = upload(
        &app,
        &user.token,
        &go,
        zip_of(&[("main.go", b"package main")]),
    )
    .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "ENTRY_POINT_MISSING").await;
    let list: Value = app
        .get("/v1/build/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["totalCount"], 0, "refused uploads leave no build");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_archive_over_the_cap_is_a_413(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.build_archive_limit = 64 * 1024
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Echo", "PY").await;
    let big = zip_of(&[("handler.py", &vec![b'#'; 200 * 1024])]);
    let response = upload(&app, &user.token, &function, vec![0x1f; 100 * 1024]).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    // Compressed under the cap is fine.
    assert!(big.len() < 64 * 1024);
    assert_eq!(
        upload(&app, &user.token, &function, big).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn builds_of_another_account_are_invisible(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = app.create_function_in(&owner.token, "Echo", "PY").await;
    let build = id_of(
        upload(
            &app,
            &owner.token,
            &function,
            zip_of(&[("handler.py", b"")]),
        )
        .await,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/build/{build}"), &other.token).await,
        StatusCode::NOT_FOUND,
        "BUILD_NOT_FOUND",
    )
    .await;
    let response = upload(
        &app,
        &other.token,
        &function,
        zip_of(&[("handler.py", b"")]),
    )
    .await;
    assert_problem(response, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn uploads_beyond_the_concurrency_bound_wait_then_get_a_503(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.dispatch.concurrent_builds = 1;
        settings.dispatch.busy_wait_s = 1;
        settings.dispatch.upload_timeout_s = 3;
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let function = app.create_function_in(&user.token, "Slow", "PY").await;
    // A slow uploader holds the only turn: its body never finishes arriving.
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
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let zip = zip_of(&[("handler.py", b"def handle(r):\n    return 1\n")]);
    let busy = upload(&app, &user.token, &function, zip.clone()).await;
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_problem(busy, StatusCode::SERVICE_UNAVAILABLE, "BUILDS_BUSY").await;

    // The slow uploader runs out of time (408 UPLOAD_TIMEOUT): its turn is free again.
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut slow, &mut answer),
    )
    .await
    .expect("answered within the upload timeout")
    .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("UPLOAD_TIMEOUT"), "{answer}");
    assert_eq!(
        upload(&app, &user.token, &function, zip).await.status(),
        StatusCode::CREATED
    );
}
