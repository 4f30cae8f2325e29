//! Every language of the contract end to end: each `examples/<lang>-hello` deployed through the
//! dispatcher and run by a real worker in its runtime image, and compile errors reaching the build
//! (GO, RS, CS: compiled once by a compile job).

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

/// (lang, directory under examples/ and runtimes/testdata/).
const LANGS: [(&str, &str); 6] = [
    ("GO", "go"),
    ("PY", "python"),
    ("JS", "node"),
    ("CS", "csharp"),
    ("RB", "ruby"),
    ("RS", "rust"),
];

#[sqlx::test(migrations = "../migrations")]
async fn every_hello_example_greets_ada_and_echoes_json_on_a_real_worker(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("polyglot-node").await;
    for (lang, dir) in LANGS {
        let example = repo_root().join(format!("examples/{dir}-hello"));
        let function = platform.deploy(lang, &example).await;

        let response = platform.invoke(&function, "?name=Ada", b"").await;
        assert_eq!(response.status(), StatusCode::OK, "{lang}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8",
            "{lang}"
        );
        assert_eq!(
            response.text().await.expect("text"),
            "Hello, Ada!",
            "{lang}"
        );

        let response = platform
            .invoke(&function, "", br#"{"x": [1, "two"], "y": {"z": null}}"#)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{lang}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{lang}"
        );
        let echoed: Value = response.json().await.expect("json");
        assert_eq!(
            echoed,
            json!({"you sent": {"x": [1, "two"], "y": {"z": null}}}),
            "{lang}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_function_that_does_not_compile_fails_its_tasks_with_the_compiler_message(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let _worker = platform.start_worker("compile-node").await;
    let cases = [
        ("GO", "go", "handler.go:8:22: undefined: undefinedOnPurpose"),
        ("CS", "csharp", "Handler.cs(9,16): error CS0103"),
        ("RS", "rust", "handler.rs:6:20: error[E0425]"),
    ];
    for (lang, dir, compiler_says) in cases {
        let broken = repo_root().join(format!("runtimes/testdata/{dir}/broken"));
        let (function, build) = platform.deploy_build(lang, &broken).await;
        // Compiled once by a compile job: the build fails with the compiler's output and its
        // tasks are refused (a task sent before the job ends runs the source and compiles it).
        let failed = platform.wait_build(&build).await;
        assert_eq!(failed["status"], "FAILED", "{lang}: {failed}");
        assert!(
            failed["log"].to_string().contains(compiler_says),
            "{lang}: {failed}"
        );
        let response = platform.invoke(&function, "", b"").await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{lang}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["code"], "BUILD_FAILED", "{lang}: {problem}");
    }
}
