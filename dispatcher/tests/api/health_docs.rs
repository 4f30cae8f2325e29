//! Health probes and the generated API reference.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn healthz_and_readyz_answer_while_the_database_is_up(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn readyz_fails_when_the_database_is_gone_but_healthz_does_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.pool.close().await;
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_problem(ready, StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE").await;
    let alive = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(alive.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_lists_every_endpoint_and_docs_render_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(spec["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let paths = spec["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/auth/register", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/apiKey", "post"),
        ("/v1/auth/2FA", "delete"),
        ("/v1/user/password", "put"),
        ("/v1/function", "post"),
        ("/v1/function/{id}", "patch"),
        ("/v1/function/list", "get"),
        ("/v1/function/{id}/togglePause", "post"),
        ("/v1/function/{id}/restore", "post"),
        ("/v1/function/{id}/capabilities", "post"),
        ("/v1/tag/{id}", "delete"),
        ("/healthz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    let docs = app.client.get(app.url("/docs")).send().await.expect("sent");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("/openapi.json"));
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_need_the_metrics_token_when_one_is_set(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.auth.metrics_token = Some(canopy_dispatcher::settings::Secret::new(
            "scrape-me-0123456789",
        ));
    })
    .await;
    let scrape = |token: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("sent") }
    };
    assert_problem(
        scrape(None).await,
        StatusCode::UNAUTHORIZED,
        "METRICS_TOKEN_REQUIRED",
    )
    .await;
    assert_problem(
        scrape(Some("guess")).await,
        StatusCode::UNAUTHORIZED,
        "METRICS_TOKEN_REQUIRED",
    )
    .await;
    let scraped = scrape(Some("scrape-me-0123456789")).await;
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.expect("text");
    assert!(text.contains("canopy_"), "{text}");
}
