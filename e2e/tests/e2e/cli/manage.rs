//! Managing what exists with `canopy`: a function's edit, pause/resume, capabilities, delete and
//! restore; API keys created, rotated and revoked; tags; a node disabled and restored.

use serde_json::Value;
use sqlx::PgPool;

use super::User;
use canopy_e2e::harness::Platform;

#[sqlx::test(migrations = "../migrations")]
async fn functions_keys_tags_and_nodes_are_managed_from_the_cli(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "manage");
    user.login(&platform.api_key).await;
    let dir = platform.dir.join("managed");
    let init = user
        .run(&[
            "fn",
            "init",
            "--lang",
            "js",
            "--name",
            "Managed",
            dir.to_str().expect("utf-8"),
            "-q",
        ])
        .await;
    init.assert_ok();
    let function = init.stdout.trim().to_owned();
    assert!(dir.join("handler.js").exists());

    // Tags, then the function edited to carry one.
    let tag = user
        .run(&["tag", "create", "blue", "--color", "#0000ff", "-q"])
        .await;
    tag.assert_ok();
    let tag = tag.stdout.trim().to_owned();
    user.run(&["tag", "create", "blue"])
        .await
        .assert_error(1, "TAG_EXISTS");
    user.run(&["tag", "create", "red", "--color", "red"])
        .await
        .assert_error(1, "VALIDATION_FAILED");
    user.run_in(
        &dir,
        &[
            "fn",
            "edit",
            "--description",
            "managed from the CLI",
            "--tag",
            &tag,
        ],
        None,
    )
    .await
    .assert_ok();
    let shown: Value = user
        .run(&["fn", "get", &function, "-o", "json"])
        .await
        .json();
    assert_eq!(shown["description"], "managed from the CLI");
    assert_eq!(shown["tags"][0]["name"], "blue");
    let tagged = user.run(&["fn", "list", "--tag", &tag, "-q"]).await;
    assert_eq!(tagged.stdout.trim(), function);

    // Pause is idempotent and refuses tasks; resume lets them in again (NO_RUNNER: no code yet).
    for _ in 0..2 {
        user.run(&["fn", "pause", &function]).await.assert_ok();
    }
    let paused: Value = user
        .run(&["fn", "get", &function, "-o", "json"])
        .await
        .json();
    assert_eq!(paused["paused"], true);
    user.run(&["invoke", &function])
        .await
        .assert_error(1, "FUNCTION_PAUSED");
    user.run(&["fn", "resume", &function]).await.assert_ok();
    user.run(&["invoke", &function])
        .await
        .assert_error(1, "NO_RUNNER");

    let caps = user
        .run(&[
            "fn",
            "capabilities",
            &function,
            "--timeout",
            "30",
            "--mem",
            "256",
            "-o",
            "json",
        ])
        .await;
    caps.assert_ok();
    assert_eq!(caps.json()["timeout"], 30);
    assert_eq!(caps.json()["memSize"], 256);
    let refused = user
        .run(&["fn", "capabilities", &function, "--timeout", "5"])
        .await;
    refused.assert_error(1, "VALIDATION_FAILED");
    assert!(refused.stderr.contains("timeout:"), "{}", refused.stderr);

    let verified = user
        .run(&["fn", "verify", &function, "--quorum", "3", "-o", "json"])
        .await;
    verified.assert_ok();
    assert_eq!(
        verified.json(),
        serde_json::json!({"quorum": 3, "maxRuns": 6})
    );
    let refused = user
        .run(&["fn", "verify", &function, "--quorum", "1"])
        .await;
    refused.assert_error(1, "VALIDATION_FAILED");
    assert!(refused.stderr.contains("quorum:"), "{}", refused.stderr);

    user.run(&["fn", "rm", &function]).await.assert_ok();
    user.run(&["fn", "get", &function])
        .await
        .assert_error(1, "FUNCTION_NOT_FOUND");
    user.run(&["fn", "restore", &function]).await.assert_ok();
    user.run(&["fn", "get", &function]).await.assert_ok();
    user.run(&["tag", "rm", &tag]).await.assert_ok();
    assert_eq!(user.run(&["tag", "list", "-q"]).await.stdout.trim(), "");

    // A new key logs in; rotating it ends it at once; a revoked key is gone from the list.
    let key = user.run(&["key", "create", "--name", "ci", "-q"]).await;
    key.assert_ok();
    let secret = key.stdout.trim().to_owned();
    assert!(secret.starts_with("canopy_"), "{secret}");
    let other = User::new(&platform, "ci");
    other.login(&secret).await;
    let keys: Value = user.run(&["key", "list", "-o", "json"]).await.json();
    let ci = keys
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["name"] == "ci")
        .expect("listed");
    let ci_id = ci["id"].as_str().expect("id").to_owned();
    let rotated: Value = user
        .run(&["key", "rotate", &ci_id, "-o", "json"])
        .await
        .json();
    assert_ne!(rotated["key"], secret.as_str());
    other
        .run(&["login", "--url", &other.url, "--api-key", &secret])
        .await
        .assert_error(1, "INVALID_API_KEY");
    let new_id = rotated["id"].as_str().expect("id");
    user.run(&["key", "revoke", new_id]).await.assert_ok();
    user.run(&["key", "revoke", new_id])
        .await
        .assert_error(1, "API_KEY_NOT_FOUND");

    // A node registered through the API, disabled and restored with a new token.
    let hash = canopy_shared::format_id(canopy_shared::new_id());
    let registered = platform
        .client
        .post(platform.url(&format!("/v1/node/{hash}")))
        .bearer_auth(&platform.token)
        .json(&serde_json::json!({"description": "cli-managed"}))
        .send()
        .await
        .expect("registered");
    assert_eq!(registered.status(), reqwest::StatusCode::CREATED);
    user.run(&["node", "disable", &hash]).await.assert_ok();
    let nodes: Value = user.run(&["node", "list", "-o", "json"]).await.json();
    assert_eq!(nodes[0]["disabled"], true);
    let restored: Value = user
        .run(&["node", "restore", &hash, "-o", "json"])
        .await
        .json();
    assert!(restored["token"]
        .as_str()
        .expect("token")
        .starts_with("cnode_"));
    user.run(&["node", "restore", &hash])
        .await
        .assert_error(1, "NODE_NOT_DELETED");
}
