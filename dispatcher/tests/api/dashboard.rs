//! The dashboard's files: `/` leads to them, each has its content type, a strict CSP and an ETag.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_root_leads_to_the_dashboard(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let client = no_redirects();
    for path in ["/", "/dashboard"] {
        let response = client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        assert_eq!(header(&response, LOCATION), "/dashboard/");
    }
    let page = client
        .get(app.url("/dashboard/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    let html = page.text().await.expect("html");
    assert!(html.contains("<title>Canopy</title>"));
    // The CSP forbids inline scripts, so every script tag must load a file.
    for tag in html.split("<script").skip(1) {
        let open_tag = tag.split('>').next().unwrap_or_default();
        assert!(
            open_tag.contains("src="),
            "inline script: <script{open_tag}>"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn dashboard_files_carry_a_strict_csp_and_are_revalidated_by_etag(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let client = no_redirects();
    let script = client
        .get(app.url("/dashboard/js/main.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        header(&script, CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    let csp = header(&script, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header(&script, "x-content-type-options"), "nosniff");
    assert_eq!(header(&script, CACHE_CONTROL), "no-cache");
    let etag = header(&script, ETAG);
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");

    let again = client
        .get(app.url("/dashboard/js/main.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("body").is_empty());

    let css = client
        .get(app.url("/dashboard/app.css"))
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&css, CONTENT_TYPE), "text/css; charset=utf-8");
    assert_ne!(header(&css, ETAG), etag, "each file has its own ETag");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_dashboard_file_is_a_404_problem(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for path in [
        "/dashboard/nope.js",
        "/dashboard/../Cargo.toml",
        "/dashboard/js/",
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_problem(response, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_endpoints_the_dashboard_added_are_in_the_openapi_document(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let paths = spec["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/stats/overview", "get"),
        ("/v1/stats/nodes", "get"),
        ("/v1/task/search", "get"),
        ("/v1/auth/logout", "post"),
        ("/v1/admin/account/list", "get"),
        ("/v1/admin/account/{id}/disabled", "post"),
        ("/v1/admin/health", "get"),
    ] {
        let operation = paths.get(path).and_then(|item| item.get(method));
        assert!(operation.is_some(), "{method} {path} is documented");
        assert!(
            operation.is_some_and(|op| op["security"].is_array()),
            "{method} {path} says it needs a bearer token"
        );
    }
}
