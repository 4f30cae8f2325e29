//! A live-task quota on a real Docker worker: while one task runs, the next is refused with 429
//! `NO_QUOTA_AVAILABLE`; once it has ended, the next one runs.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn a_live_task_quota_holds_while_a_task_runs_on_a_real_worker(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool.clone()).await;
    let _worker = platform.start_worker("quota-node").await;
    platform.wait_connected("quota-node", true).await;
    let code = platform.dir.join("sleepy");
    std::fs::create_dir_all(&code).expect("dir");
    std::fs::write(
        code.join("handler.py"),
        "import time\n\ndef handle(request):\n    time.sleep(float(request.query_params.get('s', '0')))\n    return 'done'\n",
    )
    .expect("handler");
    let function = platform.deploy("PY", &code).await;

    let admin = canopy_dispatcher::cli::CreateAdmin {
        email: "root@example.com".into(),
        password: "Adm1n!pass".into(),
        name: "A".into(),
        surname: "B".into(),
    };
    canopy_dispatcher::admin::create_admin(&pool, &admin)
        .await
        .expect("admin");
    let login: Value = platform
        .client
        .post(platform.url("/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": "Adm1n!pass"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let admin_token = login["accessToken"].as_str().expect("token");
    let account = platform.get_json("/v1/user").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let set = platform
        .client
        .put(platform.url(&format!("/v1/admin/account/{account}/quota")))
        .bearer_auth(admin_token)
        .json(&json!({"concurrentTasks": 1}))
        .send()
        .await
        .expect("sent");
    assert_eq!(set.status(), StatusCode::OK);

    let submit = |query: &'static str| {
        platform
            .client
            .post(platform.url(&format!("/v1/task/{function}{query}")))
            .bearer_auth(&platform.token)
            .send()
    };
    let running = submit("?s=3").await.expect("sent");
    assert_eq!(running.status(), StatusCode::CREATED);
    let running: Value = running.json().await.expect("json");
    let refused = submit("").await.expect("sent");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["code"], "NO_QUOTA_AVAILABLE");
    assert_eq!(problem["errors"][0]["field"], "concurrentTasks");

    let id = running["id"].as_str().expect("id");
    let result = platform
        .client
        .get(platform.url(&format!("/v1/task/{id}/result?wait=60")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(result.status(), StatusCode::OK);
    assert_eq!(result.text().await.expect("text"), "done");
    // Reading the task waits until its end is written, after which it no longer counts as live.
    assert_eq!(
        platform.get_json(&format!("/v1/task/{id}")).await["status"],
        "succeeded"
    );
    let next = platform.invoke(&function, "", b"").await;
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(next.text().await.expect("text"), "done");
}
