//! `canopy login`, contexts, env overrides, and bad input: each class exits non-zero with its code.

use sqlx::PgPool;
use tokio::process::Command;

use super::{cli_binary, User};
use canopy_e2e::harness::Platform;

#[sqlx::test(migrations = "../migrations")]
async fn login_with_a_key_or_a_password_then_whoami_context_and_logout(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "login");

    let login = user
        .run(&[
            "login",
            "--url",
            &user.url,
            "--api-key",
            &platform.api_key,
            "-o",
            "json",
        ])
        .await;
    login.assert_ok();
    assert_eq!(login.json()["email"], "dev@example.com");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(user.config_file())
            .expect("config written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the config holds secrets");
    }
    let whoami = user.run(&["whoami", "-o", "json"]).await;
    whoami.assert_ok();
    assert_eq!(whoami.json()["email"], "dev@example.com");
    let table = user.run(&["whoami", "-o", "table"]).await;
    assert!(
        table.stdout.contains("dev@example.com") && table.stdout.contains(&user.url),
        "{}",
        table.stdout
    );

    // Email and password from stdin, into a second context; `context use` switches back.
    let password = user
        .run_in(
            &user.home,
            &[
                "login",
                "--url",
                &user.url,
                "--email",
                "dev@example.com",
                "--password-stdin",
                "--name",
                "pw",
            ],
            Some(b"Secr3t!pass\n"),
        )
        .await;
    password.assert_ok();
    let contexts = user.run(&["context", "list", "-o", "json"]).await.json();
    let current: Vec<&str> = contexts
        .as_array()
        .expect("array")
        .iter()
        .filter(|context| context["current"] == true)
        .map(|context| context["name"].as_str().expect("name"))
        .collect();
    assert_eq!(current, vec!["pw"], "{contexts}");
    user.run(&["whoami"]).await.assert_ok();

    user.run(&["logout"]).await.assert_ok();
    user.run(&["whoami"]).await.assert_error(1, "NOT_LOGGED_IN");
    let names = user.run(&["context", "list", "-q"]).await;
    let host_and_port = user.url.trim_start_matches("http://");
    assert_eq!(names.stdout.trim(), host_and_port, "{}", names.stdout);

    // CANOPY_URL and CANOPY_TOKEN (an API key) need no config at all.
    let bare = User::new(&platform, "env");
    let mut command = Command::new(cli_binary());
    let output = command
        .args(["whoami", "-o", "json"])
        .env("HOME", &bare.home)
        .env("XDG_CONFIG_HOME", bare.home.join("config"))
        .env("CANOPY_URL", &platform.address)
        .env("CANOPY_TOKEN", &platform.api_key)
        .output()
        .await
        .expect("ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("dev@example.com"));
    assert!(!bare.config_file().exists(), "an env login writes nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_logins_and_bad_input_exit_non_zero_with_the_error_code(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "bad");

    user.run(&["whoami"]).await.assert_error(1, "NOT_LOGGED_IN");
    user.run(&[
        "login",
        "--url",
        &user.url,
        "--api-key",
        "canopy_0000000000000000000000000000000000000000",
    ])
    .await
    .assert_error(1, "INVALID_API_KEY");
    user.run_in(
        &user.home,
        &[
            "login",
            "--url",
            &user.url,
            "--email",
            "dev@example.com",
            "--password-stdin",
        ],
        Some(b"wrong-password1!\n"),
    )
    .await
    .assert_error(1, "INVALID_CREDENTIALS");
    assert!(
        !user.config_file().exists(),
        "a failed login stores nothing"
    );

    user.login(&platform.api_key).await;
    let unknown = "0000000000000000000000000000dead";
    user.run(&["fn", "get", unknown])
        .await
        .assert_error(1, "FUNCTION_NOT_FOUND");
    user.run(&["invoke", unknown, "-q", "a=1"])
        .await
        .assert_error(1, "FUNCTION_NOT_FOUND");
    user.run(&["task", "get", unknown])
        .await
        .assert_error(1, "TASK_NOT_FOUND");
    user.run(&["invoke", unknown, "-q", "novalue"])
        .await
        .assert_error(2, "INVALID_QUERY");
    user.run(&["fn", "get"])
        .await
        .assert_error(2, "NO_FUNCTION");
    // An id that would leave its path segment never reaches the API.
    user.run(&["fn", "get", "../user"])
        .await
        .assert_error(2, "INVALID_ID");
    user.run(&["context", "use", "nowhere"])
        .await
        .assert_error(2, "CONTEXT_NOT_FOUND");

    // The API's validation comes back with the field.
    let dir = platform.dir.join("bad-name");
    let init = user
        .run(&[
            "fn",
            "init",
            "--lang",
            "py",
            "--name",
            "bad name!",
            dir.to_str().expect("utf-8"),
        ])
        .await;
    init.assert_error(1, "VALIDATION_FAILED");
    assert!(init.stderr.contains("name:"), "{}", init.stderr);
    assert!(
        !dir.join(".canopy.toml").exists(),
        "nothing written for a refused function"
    );

    // A function without code has no runner; code without its entry point is refused.
    let dir = platform.dir.join("empty-fn");
    user.run(&[
        "fn",
        "init",
        "--lang",
        "py",
        "--name",
        "Empty",
        dir.to_str().expect("utf-8"),
    ])
    .await
    .assert_ok();
    user.run_in(&dir, &["invoke"], None)
        .await
        .assert_error(1, "NO_RUNNER");
    std::fs::rename(dir.join("handler.py"), dir.join("main.py")).expect("renamed");
    user.run_in(&dir, &["fn", "deploy"], None)
        .await
        .assert_error(1, "ENTRY_POINT_MISSING");
    let elsewhere = platform.dir.join("no-project");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    user.run_in(&elsewhere, &["fn", "deploy"], None)
        .await
        .assert_error(2, "NO_FUNCTION");
}
