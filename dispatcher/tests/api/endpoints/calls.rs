//! Public calls end to end with a scripted worker: the task the function gets, the result by
//! token, its expiry, the browser page that starts nothing, the form, CORS preflights.

use canopy_shared::protocol::decode_body;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{call, publish, token_of};
use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_problem, TestApp};

async fn task_count(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tasks")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_public_call_runs_the_function_and_its_token_reads_the_result(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(&app, &user.token, &function, json!({})).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;

    let response = app
        .client
        .post(app.url(&format!("/gc/{id}?name=Ada")))
        .header("content-type", "application/json")
        .header("cookie", "session=secret")
        .header("authorization", "Bearer not-for-the-function")
        .header("x-request-id", "r1")
        .body("{\"a\":1}")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let token = token_of(response).await;
    assert_eq!(location, format!("/gc/{token}/result"));

    let pending = app
        .client
        .get(app.url(&location))
        .send()
        .await
        .expect("sent");
    assert_eq!(pending.headers()["retry-after"], "1");
    assert_problem(pending, StatusCode::NOT_FOUND, "RESULT_PENDING").await;

    worker.pull(1).await;
    let assignment = worker.expect_assign().await;
    assert_eq!(assignment.request.method, "POST");
    assert_eq!(assignment.request.query, "name=Ada");
    assert_eq!(
        decode_body(&assignment.request.body).expect("b64"),
        b"{\"a\":1}"
    );
    let names: Vec<&str> = assignment
        .request
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(names.contains(&"x-request-id"), "{names:?}");
    assert!(
        !names.contains(&"cookie") && !names.contains(&"authorization"),
        "{names:?}"
    );
    worker
        .respond(&assignment, 201, "text/plain", b"Hello, Ada!")
        .await;

    let result = app
        .client
        .get(app.url(&format!("{location}?wait=5")))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        result.status(),
        StatusCode::CREATED,
        "the function's own status"
    );
    assert_eq!(result.headers()["content-type"], "text/plain");
    assert_eq!(result.headers()["x-content-type-options"], "nosniff");
    assert_eq!(result.text().await.expect("text"), "Hello, Ada!");

    // The owner sees the task like any other.
    let tasks: Value = app
        .get("/v1/task/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tasks.as_array().expect("array").len(), 1);
    let unknown = app
        .client
        .get(app.url(&format!("/gc/{}/result", "0".repeat(32))))
        .send()
        .await
        .expect("sent");
    assert_problem(unknown, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn after_its_ttl_a_result_needs_the_owners_token(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.endpoints.result_ttl_s = 0).await;
    let user = app.signup("dev@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(&app, &user.token, &function, json!({})).await;
    let (node, node_token) = register_node(&app, &user.token).await;
    let mut worker = FakeWorker::connect(&app, &node, &node_token, resources(1024)).await;
    worker.pull(1).await;
    let token = token_of(call(&app, &id, "x").await).await;
    let assignment = worker.expect_assign().await;
    worker
        .respond(&assignment, 200, "text/plain", b"done")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let path = format!("/gc/{token}/result?wait=5");
    let anonymous = app.send(Method::GET, &path, None, None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "RESULT_EXPIRED").await;
    let stranger = app.get(&path, &other.token).await;
    assert_problem(stranger, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    let owner = app.get(&path, &user.token).await;
    assert_eq!(owner.status(), StatusCode::OK);
    assert_eq!(owner.text().await.expect("text"), "done");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_browser_page_starts_nothing_and_its_form_starts_one_task(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(
        &app,
        &user.token,
        &function,
        json!({"origin": ["https://app.example.com"]}),
    )
    .await;
    for _ in 0..3 {
        let page = app
            .client
            .get(app.url(&format!("/gc/{id}?q=1")))
            .header("accept", "text/html")
            .send()
            .await
            .expect("sent");
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("form-action 'self'"));
        let html = page.text().await.expect("html");
        assert!(html.contains("<form method=\"post\""), "{html}");
        assert!(html.contains(&format!("action=\"/gc/{id}?q=")), "{html}");
    }
    assert_eq!(task_count(&app).await, 0, "loading the page ran nothing");

    // The page's form: same origin as the dispatcher, which the origin list need not name.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = no_redirect
        .post(app.url(&format!("/gc/{id}")))
        .header("origin", app.address.clone())
        .header("accept", "text/html,application/xhtml+xml")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("sent");
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let location = form.headers()["location"].to_str().expect("ascii");
    assert!(
        location.starts_with("/gc/") && location.ends_with("/result?wait=30"),
        "{location}"
    );
    assert_eq!(task_count(&app).await, 1);

    let missing = app
        .client
        .get(app.url(&format!("/gc/{}", "1".repeat(32))))
        .send()
        .await
        .expect("sent");
    assert_problem(missing, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn preflights_and_answers_name_only_listed_origins(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = publish(
        &app,
        &user.token,
        &function,
        json!({"origin": ["https://app.example.com"]}),
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url(&format!("/gc/{id}")))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.expect("sent");
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-headers"],
        "content-type"
    );
    let refused = preflight("https://evil.example").await.expect("sent");
    assert_problem(refused, StatusCode::FORBIDDEN, "ORIGIN_NOT_ALLOWED").await;

    let accepted = app
        .client
        .post(app.url(&format!("/gc/{id}")))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        accepted.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    token_of(accepted).await;
}
