//! Malformed requests: bad JSON, wrong content type, oversized bodies, unknown routes.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn malformed_json_is_a_400_invalid_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    for raw in [
        "{\"name\": ",
        "{'name': 'x'}",
        "not json",
        "",
        "{\"name\":\"A\",\"lang\":\"GO\",\"type\":\"DOCKER\"} trailing",
    ] {
        let response = app
            .client
            .post(app.url("/v1/function"))
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("sent");
        assert_problem(response, StatusCode::BAD_REQUEST, "INVALID_JSON").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_or_missing_content_type_is_a_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let body = json!({"name": "MyFunction", "lang": "GO", "type": "DOCKER"}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(app.url("/v1/function"))
            .bearer_auth(&user.token)
            .body(body.clone());
        if let Some(value) = content_type {
            request = request.header("content-type", value);
        }
        let response = request.send().await.expect("sent");
        assert_problem(
            response,
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_CONTENT_TYPE",
        )
        .await;
    }
    let with_charset = app
        .client
        .post(app.url("/v1/function"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(with_charset.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_body_over_one_mebibyte_is_a_413_and_the_server_keeps_serving(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let huge = format!(
        "{{\"name\":\"A\",\"description\":\"{}\",\"lang\":\"GO\",\"type\":\"DOCKER\"}}",
        "x".repeat(1024 * 1024)
    );
    let response = app
        .client
        .post(app.url("/v1/function"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("sent");
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    // Chunked, without Content-Length: still cut off at the cap.
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let response = app
        .client
        .post(app.url("/v1/tag"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("sent");
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    assert_eq!(
        app.get("/v1/function/list", &user.token).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_routes_and_malformed_ids_are_404_problems(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    assert_problem(
        app.get("/v1/nothing-here", &user.token).await,
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
    )
    .await;
    assert_problem(
        app.get("/v1/function/not-an-id", &user.token).await,
        StatusCode::NOT_FOUND,
        "FUNCTION_NOT_FOUND",
    )
    .await;
    let absent = canopy_shared::format_id(canopy_shared::new_id());
    assert_problem(
        app.get(&format!("/v1/function/{absent}"), &user.token)
            .await,
        StatusCode::NOT_FOUND,
        "FUNCTION_NOT_FOUND",
    )
    .await;
}
