//! `canopy fn init` → `fn deploy` → `invoke` of a Python function on a real Docker worker, task
//! wait/result, lists as JSON, and a failing task's exit status.

use serde_json::Value;
use sqlx::PgPool;

use super::User;
use canopy_e2e::harness::{docker_tests_enabled, Platform};

#[sqlx::test(migrations = "../migrations")]
async fn init_deploy_invoke_and_wait_for_a_python_function_on_a_real_worker(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "deploy");
    user.login(&platform.api_key).await;
    let dir = platform.dir.join("hello");
    let dir_arg = dir.to_str().expect("utf-8");

    let init = user
        .run(&[
            "fn", "init", "--lang", "py", "--name", "Hello", dir_arg, "-o", "json",
        ])
        .await;
    init.assert_ok();
    let function = init.json()["id"].as_str().expect("id").to_owned();
    assert!(dir.join("handler.py").exists() && dir.join(".canopyignore").exists());
    // Ignored files stay home: a 60 MB file would exceed the API's 50 MiB archive limit.
    std::fs::write(dir.join(".canopyignore"), "*.bin\n").expect("ignore file");
    std::fs::write(dir.join("weights.bin"), vec![7u8; 60 * 1024 * 1024]).expect("big file");

    let deploy = user
        .run_in(&dir, &["fn", "deploy", "-o", "json"], None)
        .await;
    deploy.assert_ok();
    let build = deploy.json();
    assert_eq!(build["status"], "SUCCESS", "{build}");
    assert_eq!(build["functionId"], function.as_str());
    assert_eq!(build["entryPoint"], "handler.py");

    let _worker = platform.start_worker("cli-node").await;
    let hello = user.run_in(&dir, &["invoke", "-q", "name=Ada"], None).await;
    hello.assert_ok();
    assert_eq!(hello.stdout, "Hello, Ada!\n");
    let echo = user
        .run(&["invoke", &function, "-d", r#"{"x": [1, "two"]}"#])
        .await;
    echo.assert_ok();
    let echoed: Value = serde_json::from_str(&echo.stdout).expect("json");
    assert_eq!(echoed, serde_json::json!({"you sent": {"x": [1, "two"]}}));

    let queued = user
        .run(&["invoke", &function, "-q", "name=Bob", "--async", "--quiet"])
        .await;
    queued.assert_ok();
    let task = queued.stdout.trim().to_owned();
    let waited = user.run(&["task", "wait", &task, "-o", "json"]).await;
    waited.assert_ok();
    assert_eq!(waited.json()["status"], "succeeded");
    assert_eq!(waited.json()["httpStatus"], 200);
    let result = user.run(&["task", "result", &task]).await;
    result.assert_ok();
    assert_eq!(result.stdout, "Hello, Bob!\n");

    let functions = user.run(&["fn", "list", "-o", "json"]).await;
    functions.assert_ok();
    assert!(functions
        .json()
        .as_array()
        .expect("array")
        .iter()
        .any(|f| f["id"] == function.as_str()));
    let tasks = user
        .run(&["task", "list", "--function", &function, "-q"])
        .await;
    tasks.assert_ok();
    assert_eq!(tasks.stdout.lines().count(), 3, "{}", tasks.stdout);
    let builds = user.run(&["fn", "builds", &function, "-o", "json"]).await;
    assert_eq!(builds.json().as_array().expect("array").len(), 1);
    let nodes = user.run(&["node", "list", "-o", "json"]).await;
    assert_eq!(nodes.json()[0]["description"], "cli-node");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_task_exits_3_from_invoke_wait_and_result(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "failing");
    user.login(&platform.api_key).await;
    let dir = platform.dir.join("failing");
    user.run(&[
        "fn",
        "init",
        "--lang",
        "py",
        "--name",
        "Failing",
        dir.to_str().expect("utf-8"),
    ])
    .await
    .assert_ok();
    std::fs::write(
        dir.join("handler.py"),
        "def handle(request):\n    raise ValueError('boom on purpose')\n",
    )
    .expect("handler");
    user.run_in(&dir, &["fn", "deploy"], None).await.assert_ok();
    let _worker = platform.start_worker("failing-node").await;

    let invoke = user.run_in(&dir, &["invoke"], None).await;
    invoke.assert_error(3, "TASK_FAILED");
    assert!(
        invoke.stderr.contains("boom on purpose"),
        "{}",
        invoke.stderr
    );

    let queued = user
        .run_in(&dir, &["invoke", "--async", "--quiet"], None)
        .await;
    queued.assert_ok();
    let task = queued.stdout.trim().to_owned();
    let waited = user.run(&["task", "wait", &task, "-o", "json"]).await;
    waited.assert_error(3, "TASK_FAILED");
    assert_eq!(waited.json()["status"], "failed");
    assert_eq!(waited.json()["error"]["kind"], "handler_error");
    user.run(&["task", "result", &task])
        .await
        .assert_error(3, "TASK_FAILED");
}
