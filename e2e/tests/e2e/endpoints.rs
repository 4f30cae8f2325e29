//! Public endpoints with a real container: an anonymous caller starts a Python function through
//! `/gc/{id}` and reads its response with the token, within the endpoint's daily limit.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn an_anonymous_caller_runs_a_published_python_function(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let worker = platform.start_worker("public-node").await;
    let function = platform
        .deploy("PY", &repo_root().join("examples").join("python-hello"))
        .await;
    let published = platform
        .client
        .post(platform.url(&format!("/v1/endpoint/{function}")))
        .bearer_auth(&platform.token)
        .json(&json!({"description": "hello for everyone", "dailyLimit": 2}))
        .send()
        .await
        .expect("sent");
    assert_eq!(published.status(), StatusCode::CREATED);
    let endpoint = published.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // No credentials from here on: anyone with the URL.
    let anonymous = reqwest::Client::new();
    let called = anonymous
        .post(platform.url(&format!("/gc/{endpoint}?name=Ada")))
        .send()
        .await
        .expect("sent");
    assert_eq!(called.status(), StatusCode::CREATED);
    let token = called.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("token")
        .to_owned();
    let result = anonymous
        .get(platform.url(&format!("/gc/{token}/result?wait=60")))
        .send()
        .await
        .expect("sent");
    assert_eq!(result.status(), StatusCode::OK, "{}", worker.log_text());
    assert_eq!(result.text().await.expect("text"), "Hello, Ada!");

    let echoed = anonymous
        .post(platform.url(&format!("/gc/{endpoint}")))
        .header("content-type", "application/json")
        .body("{\"a\": 1}")
        .send()
        .await
        .expect("sent");
    let token = echoed.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("token")
        .to_owned();
    let result: Value = anonymous
        .get(platform.url(&format!("/gc/{token}/result?wait=60")))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(result, json!({"you sent": {"a": 1}}));

    let over = anonymous
        .post(platform.url(&format!("/gc/{endpoint}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let problem: Value = over.json().await.expect("json");
    assert_eq!(problem["code"], "DAILY_LIMIT_REACHED");
    let metrics = platform
        .get_json(&format!("/v1/endpoint/{endpoint}/metrics"))
        .await;
    assert_eq!(metrics["succeededTasks"], 2, "{metrics}");
    assert_eq!(metrics["todayCalls"], 2);
}
