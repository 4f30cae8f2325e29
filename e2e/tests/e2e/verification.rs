//! k-of-n verification with real workers and Docker (docs/security.md): a function asking for a
//! quorum of 2 runs each task on the volunteer nodes of two other accounts, and the answer they
//! agree on is the result; both votes are listed as agreeing and both nodes earn a point.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use canopy_e2e::harness::{docker_tests_enabled, repo_root, Platform};

/// The node list of the account of `token`, once its one node is connected.
async fn connected_node(platform: &Platform, token: &str) -> Value {
    for _ in 0..150 {
        let nodes: Value = platform
            .client
            .get(platform.url("/v1/node/list"))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if nodes[0]["connected"] == true {
            return nodes[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the node did not connect");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_runs_on_two_strangers_volunteer_nodes_and_their_agreed_answer_is_its_result(
    pool: PgPool,
) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let function = platform
        .deploy("PY", &repo_root().join("examples/python-hello"))
        .await;
    for (path, body) in [
        ("capabilities", json!({"volunteers": true})),
        ("verification", json!({"quorum": 2})),
    ] {
        let request = if path == "verification" {
            platform
                .client
                .put(platform.url(&format!("/v1/function/{function}/{path}")))
        } else {
            platform
                .client
                .post(platform.url(&format!("/v1/function/{function}/{path}")))
        };
        let response = request
            .bearer_auth(&platform.token)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let mut volunteers = Vec::new();
    for name in ["ana", "ben"] {
        let (token, key) = platform
            .another_account(&format!("{name}@example.com"))
            .await;
        let worker = platform.start_worker_with_key(name, &key).await;
        let node = connected_node(&platform, &token).await;
        let hash = node["hash"].as_str().expect("hash").to_owned();
        let offered = platform
            .client
            .post(platform.url(&format!("/v1/node/{hash}/volunteer")))
            .bearer_auth(&token)
            .json(&json!({"volunteer": true}))
            .send()
            .await
            .expect("sent");
        assert_eq!(offered.status(), StatusCode::NO_CONTENT);
        volunteers.push((token, hash, worker));
    }

    let response = platform.invoke(&function, "?name=Ada", b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    let task = response
        .headers()
        .get("x-canopy-task-id")
        .and_then(|value| value.to_str().ok())
        .expect("the task id header")
        .to_owned();
    assert_eq!(response.text().await.expect("text"), "Hello, Ada!");

    let votes = platform.get_json(&format!("/v1/task/{task}/votes")).await;
    let mut voters: Vec<(String, bool)> = votes["votes"]
        .as_array()
        .expect("votes")
        .iter()
        .map(|vote| {
            (
                vote["nodeId"].as_str().unwrap_or("").to_owned(),
                vote["agreed"] == true,
            )
        })
        .collect();
    voters.sort();
    let mut expected: Vec<(String, bool)> = volunteers
        .iter()
        .map(|(_, hash, _)| (hash.clone(), true))
        .collect();
    expected.sort();
    assert_eq!(voters, expected, "{votes}");
    // The votes name the nodes the dispatcher fenced each run to: both strangers ran it.
    for (token, _, _worker) in &volunteers {
        assert_eq!(connected_node(&platform, token).await["trustScore"], 1);
    }
}
